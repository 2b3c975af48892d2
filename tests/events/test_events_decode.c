/*
 * test_events_decode.c - the KV-event decoder (events/wire_decode.c) and the
 * block maps (events/blockmap.c) on hand-made input, no sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "blockmap.h"
#include "mp.h"
#include "pce/events.h"
#include "wire.h"

/* ["BlockStored", hashes, parent, tokens, bs, lora_id, medium, lora_name] */
static void stored_array(struct mp *m, uint64_t h0, int nh, int has_parent, uint64_t parent,
			 uint32_t bs, const char *medium)
{
	mp_arr(m, 8);
	mp_str(m, "BlockStored");
	mp_arr(m, (uint32_t)nh);
	for (int i = 0; i < nh; i++)
		mp_uint(m, h0 + (uint64_t)i);
	if (has_parent)
		mp_uint(m, parent);
	else
		mp_nil(m);
	mp_arr(m, (uint32_t)nh * bs);
	for (uint32_t i = 0; i < (uint32_t)nh * bs; i++)
		mp_uint(m, 1000 + i);
	mp_uint(m, bs);
	mp_nil(m);
	if (medium)
		mp_str(m, medium);
	else
		mp_nil(m);
	mp_nil(m);
}

static void test_array_batch(void **state)
{
	struct pce_wire_batch b;
	struct mp m = {0};

	(void)state;
	pce_wire_batch_init(&b);
	mp_arr(&m, 3);
	mp_f64(&m, 1.5);
	mp_arr(&m, 3);
	stored_array(&m, UINT64_MAX - 1, 2, 0, 0, 4, "GPU");
	mp_arr(&m, 3); /* BlockRemoved as an array: hashes, medium, group_idx */
	mp_str(&m, "BlockRemoved");
	mp_arr(&m, 1);
	mp_uint(&m, UINT64_MAX - 1);
	mp_str(&m, "CPU");
	mp_arr(&m, 1);
	mp_str(&m, "AllBlocksCleared");
	mp_uint(&m, 3);
	assert_int_equal(pce_wire_decode(&b, m.p, m.n), 0);
	assert_true(b.ts == 1.5);
	assert_true(b.has_dp_rank);
	assert_int_equal(b.dp_rank, 3);
	assert_int_equal(b.n_ev, 3);
	assert_int_equal(b.malformed, 0);
	assert_int_equal(b.ev[0].kind, PCE_WIRE_STORED);
	assert_int_equal(b.ev[0].n_hashes, 2);
	assert_true(b.hashes[b.ev[0].hash0] == UINT64_MAX - 1);
	assert_true(b.hashes[b.ev[0].hash0 + 1] == UINT64_MAX);
	assert_int_equal(b.ev[0].n_tokens, 8);
	assert_int_equal(b.tokens[b.ev[0].tok0 + 7], 1007);
	assert_int_equal(b.ev[0].block_size, 4);
	assert_false(b.ev[0].has & PCE_WIRE_HAS_PARENT);
	assert_true(b.ev[0].has & PCE_WIRE_HAS_MEDIUM);
	assert_memory_equal(b.ev[0].medium.p, "GPU", 3);
	assert_int_equal(b.ev[1].kind, PCE_WIRE_REMOVED);
	assert_memory_equal(b.ev[1].medium.p, "CPU", 3);
	assert_int_equal(b.ev[2].kind, PCE_WIRE_CLEARED);
	pce_wire_batch_free(&b);
	free(m.p);
}

/* v0.9-era: [ts, events] with 6-element BlockStored arrays, 2-element removes. */
static void test_old_array_batch(void **state)
{
	struct pce_wire_batch b;
	struct mp m = {0};

	(void)state;
	pce_wire_batch_init(&b);
	mp_arr(&m, 2);
	mp_uint(&m, 7);
	mp_arr(&m, 2);
	mp_arr(&m, 6);
	mp_str(&m, "BlockStored");
	mp_arr(&m, 1);
	mp_int(&m, -5); /* a signed hash */
	mp_int(&m, -77);
	mp_arr(&m, 2);
	mp_uint(&m, 70000);
	mp_uint(&m, 4000000000u);
	mp_uint(&m, 2);
	mp_uint(&m, 9); /* lora_id */
	mp_arr(&m, 2);
	mp_str(&m, "BlockRemoved");
	mp_arr(&m, 1);
	mp_int(&m, -5);
	assert_int_equal(pce_wire_decode(&b, m.p, m.n), 0);
	assert_false(b.has_dp_rank);
	assert_int_equal(b.n_ev, 2);
	assert_true(b.hashes[0] == (uint64_t)-5);
	assert_true(b.ev[0].has & PCE_WIRE_HAS_PARENT);
	assert_true(b.ev[0].parent == (uint64_t)-77);
	assert_true(b.ev[0].has & PCE_WIRE_HAS_LORA_ID);
	assert_int_equal(b.ev[0].lora_id, 9);
	assert_false(b.ev[0].has & PCE_WIRE_HAS_MEDIUM);
	assert_int_equal(b.tokens[1], 4000000000u);
	assert_false(b.ev[1].has & PCE_WIRE_HAS_MEDIUM);
	pce_wire_batch_free(&b);
	free(m.p);
}

/* Newer releases: maps, defaults omitted, keys in any order, unknown keys. */
static void test_map_batch(void **state)
{
	static const uint8_t digest[32] = {1, 2, 3};
	struct pce_wire_batch b;
	struct mp m = {0};
	uint8_t ek_at;

	(void)state;
	pce_wire_batch_init(&b);
	mp_map(&m, 3);
	mp_str(&m, "events");
	mp_arr(&m, 2);
	mp_map(&m, 12);
	mp_str(&m, "block_hashes");
	mp_arr(&m, 2);
	mp_bin(&m, digest, 32);
	mp_uint(&m, 5);
	mp_str(&m, "type");
	mp_str(&m, "BlockStored");
	mp_str(&m, "parent_block_hash");
	mp_nil(&m);
	mp_str(&m, "token_ids");
	mp_arr(&m, 2);
	mp_uint(&m, 1);
	mp_uint(&m, 2);
	mp_str(&m, "block_size");
	mp_uint(&m, 1);
	mp_str(&m, "lora_id");
	mp_nil(&m);
	mp_str(&m, "medium");
	mp_nil(&m);
	mp_str(&m, "lora_name");
	mp_str(&m, "adapter-a");
	mp_str(&m, "extra_keys");
	mp_arr(&m, 2);
	mp_nil(&m);
	ek_at = (uint8_t)m.n;
	mp_arr(&m, 1);
	mp_str(&m, "mm-hash");
	mp_str(&m, "group_idx");
	mp_uint(&m, 1);
	mp_str(&m, "kv_cache_spec_kind");
	mp_str(&m, "full");
	mp_str(&m, "a_future_field");
	mp_map(&m, 1);
	mp_str(&m, "x");
	mp_arr(&m, 2);
	mp_uint(&m, 1);
	mp_uint(&m, 2);
	mp_map(&m, 2);
	mp_str(&m, "type");
	mp_str(&m, "AllBlocksCleared");
	mp_str(&m, "whatever");
	mp_uint(&m, 1);
	mp_str(&m, "ts");
	mp_f64(&m, 2.0);
	mp_str(&m, "data_parallel_rank");
	mp_uint(&m, 2);
	assert_int_equal(pce_wire_decode(&b, m.p, m.n), 0);
	assert_int_equal(b.n_ev, 2);
	assert_int_equal(b.dp_rank, 2);
	assert_true(b.hashes[0] == pce_wire_hash_bytes(digest, 32));
	assert_true(b.hashes[1] == 5);
	assert_true(b.ev[0].has & PCE_WIRE_HAS_LORA_NAME);
	assert_memory_equal(b.ev[0].lora_name.p, "adapter-a", 9);
	assert_true(b.ev[0].has & PCE_WIRE_HAS_EXTRA_KEYS);
	assert_null(b.extra[b.ev[0].extra0].p);
	assert_ptr_equal(b.extra[b.ev[0].extra0 + 1].p, m.p + ek_at);
	assert_int_equal(b.extra[b.ev[0].extra0 + 1].len, 1 + 8);
	assert_true(b.ev[0].has & PCE_WIRE_HAS_GROUP);
	assert_int_equal(b.ev[0].group_idx, 1);
	assert_int_equal(b.ev[1].kind, PCE_WIRE_CLEARED);
	pce_wire_batch_free(&b);
	free(m.p);
}

/* Bad events are counted and skipped; the rest of the batch is kept. */
static void test_bad_events_skipped(void **state)
{
	struct pce_wire_batch b;
	struct mp m = {0};

	(void)state;
	pce_wire_batch_init(&b);
	mp_arr(&m, 2);
	mp_f64(&m, 0);
	mp_arr(&m, 6);
	mp_arr(&m, 2); /* unknown tag */
	mp_str(&m, "BlockMoved");
	mp_uint(&m, 1);
	mp_map(&m, 1); /* a map without "type" */
	mp_str(&m, "block_hashes");
	mp_arr(&m, 0);
	mp_arr(&m, 5); /* 3 tokens for 2 blocks of 2 */
	mp_str(&m, "BlockStored");
	mp_arr(&m, 2);
	mp_uint(&m, 1);
	mp_uint(&m, 2);
	mp_nil(&m);
	mp_arr(&m, 3);
	mp_uint(&m, 1);
	mp_uint(&m, 2);
	mp_uint(&m, 3);
	mp_uint(&m, 2);
	mp_arr(&m, 5); /* a token that is not a uint32 */
	mp_str(&m, "BlockStored");
	mp_arr(&m, 1);
	mp_uint(&m, 1);
	mp_nil(&m);
	mp_arr(&m, 1);
	mp_int(&m, -1);
	mp_uint(&m, 1);
	mp_uint(&m, 42); /* not an event at all */
	stored_array(&m, 10, 1, 1, 9, 2, NULL);
	assert_int_equal(pce_wire_decode(&b, m.p, m.n), 0);
	assert_int_equal(b.unknown_tag, 1);
	assert_int_equal(b.malformed, 4);
	assert_int_equal(b.n_ev, 1);
	assert_int_equal(b.ev[0].n_hashes, 1);
	assert_true(b.hashes[b.ev[0].hash0] == 10);
	assert_int_equal(b.ev[0].n_tokens, 2);
	assert_int_equal(b.tokens[b.ev[0].tok0], 1000);
	pce_wire_batch_free(&b);
	free(m.p);
}

/* Unreadable batches: never a crash, nothing half-decoded. */
static void test_bad_batches(void **state)
{
	struct pce_wire_batch b;
	struct mp m = {0}, ok = {0};
	uint8_t deep[200];

	(void)state;
	pce_wire_batch_init(&b);
	/* claims 2^32 - 1 events in a few bytes */
	mp_arr(&m, 2);
	mp_f64(&m, 0);
	mp_byte(&m, 0xdd);
	mp_be(&m, 0xffffffffu, 4);
	mp_arr(&m, 0);
	assert_int_equal(pce_wire_decode(&b, m.p, m.n), PCE_EEVBATCH);
	assert_int_equal(b.n_ev, 0);
	/* a huge token array inside an event: the batch cannot be read */
	m.n = 0;
	mp_arr(&m, 2);
	mp_f64(&m, 0);
	mp_arr(&m, 1);
	mp_arr(&m, 4);
	mp_str(&m, "BlockStored");
	mp_arr(&m, 0);
	mp_nil(&m);
	mp_byte(&m, 0xdd);
	mp_be(&m, 0x7fffffffu, 4);
	assert_int_equal(pce_wire_decode(&b, m.p, m.n), PCE_EEVBATCH);
	/* every truncation of a good batch, and trailing bytes */
	mp_arr(&ok, 3);
	mp_f64(&ok, 1);
	mp_arr(&ok, 2);
	stored_array(&ok, 1, 3, 0, 0, 2, "GPU");
	stored_array(&ok, 4, 1, 1, 3, 2, "CPU");
	mp_uint(&ok, 0);
	for (size_t n = 0; n < ok.n; n++)
		assert_int_equal(pce_wire_decode(&b, ok.p, n), PCE_EEVBATCH);
	assert_int_equal(pce_wire_decode(&b, ok.p, ok.n), 0);
	assert_int_equal(b.n_ev, 2);
	mp_byte(&ok, 0);
	assert_int_equal(pce_wire_decode(&b, ok.p, ok.n), PCE_EEVBATCH);
	/* nesting deeper than the decoder follows */
	for (size_t i = 0; i < sizeof(deep); i++)
		deep[i] = 0x91;
	assert_int_equal(pce_wire_decode(&b, deep, sizeof(deep)), PCE_EEVBATCH);
	/* not a batch */
	assert_int_equal(pce_wire_decode(&b, "\xc1", 1), PCE_EEVBATCH);
	assert_int_equal(pce_wire_decode(&b, "", 0), PCE_EEVBATCH);
	assert_int_equal(pce_wire_decode(&b, NULL, 0), PCE_EEVBATCH);
	pce_wire_batch_free(&b);
	free(m.p);
	free(ok.p);
}

static void test_namespaces(void **state)
{
	(void)state;
	assert_true(pce_ev_ns_lora(1, "a", 1) != pce_ev_ns_lora(1, "b", 1));
	assert_true(pce_ev_ns_lora(1, "a", 1) != pce_ev_ns_lora(2, "a", 1));
	assert_true(pce_ev_ns_lora(1, "a", 1) != pce_ev_ns_extra(1, "a", 1));
	assert_true(pce_ev_ns_lora_id(1, 3) != pce_ev_ns_lora_id(1, 4));
	/* the documented derivation, computed by hand for ns 0, name "" */
	{
		uint64_t h = 0xcbf29ce484222325ull;

		for (int i = 0; i < 8; i++)
			h = (h ^ 0) * 0x100000001b3ull;
		h = (h ^ 'L') * 0x100000001b3ull;
		h ^= h >> 33;
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 33;
		assert_true(pce_ev_ns_lora(0, "", 0) == h);
	}
	assert_string_equal(pce_ev_state_name(PCE_EV_DEGRADED), "DEGRADED");
	assert_string_equal(pce_ev_state_name(9), "?");
}

/* Owners holding one prefix share its interned tokens; removal cascades. */
static void test_blockmap(void **state)
{
	struct pce_intern in;
	struct pce_blockmap m[3];
	uint32_t tok[4] = {1, 2, 3, 4}, *path = NULL, cap = 0, idx[3][8];

	(void)state;
	pce_intern_init(&in);
	for (int o = 0; o < 3; o++) {
		pce_bm_init(&m[o]);
		for (int k = 0; k < 8; k++) {
			tok[0] = (uint32_t)k;
			idx[o][k] = pce_bm_insert(&m[o], &in, 100 + (uint64_t)k,
						  k ? idx[o][k - 1] : PCE_BM_NONE, 0, tok, 4, 1, 0);
			assert_int_not_equal(idx[o][k], PCE_BM_NONE);
		}
	}
	assert_int_equal(in.live, 8); /* one copy for three owners */
	assert_int_equal(pce_bm_path(&m[1], &in, idx[1][7], &path, &cap), 32);
	assert_int_equal(path[28], 7);
	assert_int_equal(path[0], 0);
	assert_int_equal(pce_bm_find(&m[2], 105), idx[2][5]);
	assert_int_equal(pce_bm_find(&m[2], 999), PCE_BM_NONE);
	/* removing block 5 of owner 0 takes 5, 6, 7 */
	assert_int_equal(pce_bm_remove(&m[0], &in, idx[0][5], NULL, NULL), 3);
	assert_int_equal(m[0].live, 5);
	assert_int_equal(pce_bm_find(&m[0], 106), PCE_BM_NONE);
	assert_int_not_equal(pce_bm_find(&m[0], 104), PCE_BM_NONE);
	assert_int_equal(in.live, 8); /* the others still hold them */
	pce_bm_free(&m[1], &in);
	pce_bm_free(&m[2], &in);
	assert_int_equal(in.live, 5);
	/* many entries: the probe table grows and deletes shift back */
	for (uint64_t h = 1000; h < 3000; h++) {
		tok[0] = (uint32_t)h;
		assert_int_not_equal(pce_bm_insert(&m[0], &in, h * 0x9e3779b97f4a7c15ull,
						   PCE_BM_NONE, 0, tok, 4, 1, 0),
				     PCE_BM_NONE);
	}
	for (uint64_t h = 1000; h < 3000; h += 2)
		pce_bm_remove(&m[0], &in, pce_bm_find(&m[0], h * 0x9e3779b97f4a7c15ull), NULL,
			      NULL);
	for (uint64_t h = 1000; h < 3000; h++)
		assert_int_equal(pce_bm_find(&m[0], h * 0x9e3779b97f4a7c15ull) == PCE_BM_NONE,
				 h % 2 == 0);
	pce_bm_free(&m[0], &in);
	assert_int_equal(in.live, 0);
	assert_int_equal(in.token_bytes, 0);
	pce_intern_free(&in);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_array_batch),      cmocka_unit_test(test_old_array_batch),
		cmocka_unit_test(test_map_batch),        cmocka_unit_test(test_bad_events_skipped),
		cmocka_unit_test(test_bad_batches),      cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_blockmap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
