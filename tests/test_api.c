/*
 * test_api.c - the API's edges: config validation, error strings, version,
 * NULL and out-of-range arguments, clear, events, statistics per shard, and
 * batch dedup analysis.
 */
#include "util.h"

#include <string.h>

/* Each mutation makes an otherwise valid config invalid. */
static void test_config_validation(void **state)
{
	struct pce_config cfg, bad;
	struct pce_cache *c = (struct pce_cache *)&cfg;
	(void)state;

	pce_config_init(&cfg);
	assert_null(pce_config_error(&cfg));
	assert_non_null(pce_config_error(NULL));
	assert_int_equal(pce_cache_create(NULL, &c), PCE_EINVAL);
	assert_null(c);
	assert_int_equal(pce_cache_create(&cfg, NULL), PCE_EINVAL);

#define EXPECT_INVALID(stmt)                                              \
	do {                                                              \
		bad = cfg;                                                \
		stmt;                                                     \
		assert_non_null(pce_config_error(&bad));                  \
		assert_int_equal(pce_cache_create(&bad, &c), PCE_EINVAL); \
		assert_null(c);                                           \
	} while (0)
	EXPECT_INVALID(bad.shards = 0);
	EXPECT_INVALID(bad.shards = 3);
	EXPECT_INVALID(bad.shards = PCE_MAX_SHARDS * 2);
	EXPECT_INVALID(bad.min_prefix_len = 0);
	EXPECT_INVALID(bad.min_prefix_len = (uint32_t)PCE_MAX_TOKENS + 1);
	EXPECT_INVALID(bad.block_size = 0);
	EXPECT_INVALID(bad.max_pins = 0);
	EXPECT_INVALID(bad.max_pins = PCE_MAX_PINS + 1);
	EXPECT_INVALID(bad.policy = (enum pce_policy)7);
	EXPECT_INVALID(bad.kv_mode = (enum pce_kv_mode)7);
	EXPECT_INVALID(bad.kv_bytes_per_token = 4);
	EXPECT_INVALID((bad.kv_mode = PCE_KV_PER_TOKEN, bad.kv_bytes_per_token = 0));
	EXPECT_INVALID((bad.kv_mode = PCE_KV_PER_TOKEN,
			bad.kv_bytes_per_token = PCE_MAX_KV_PER_TOKEN + 1));
	EXPECT_INVALID(bad.high_watermark_pct = 0);
	EXPECT_INVALID(bad.high_watermark_pct = 101);
	EXPECT_INVALID(bad.low_watermark_pct = 0);
	EXPECT_INVALID(bad.low_watermark_pct = bad.high_watermark_pct + 1);
	EXPECT_INVALID(bad.reclaim_interval_ns = 1);
	EXPECT_INVALID(bad.background_reclaim = 2);
#undef EXPECT_INVALID
	/* The edges of the valid ranges. */
	bad = cfg;
	bad.shards = PCE_MAX_SHARDS;
	bad.max_pins = 1;
	bad.high_watermark_pct = bad.low_watermark_pct = 100;
	bad.kv_mode = PCE_KV_PER_TOKEN;
	bad.kv_bytes_per_token = PCE_MAX_KV_PER_TOKEN;
	assert_null(pce_config_error(&bad));
	assert_int_equal(pce_cache_create(&bad, &c), 0);
	assert_int_equal(pce_cache_destroy(c), 0);
	pce_config_init(NULL); /* accepted, does nothing */
}

static void test_error_strings(void **state)
{
	const int codes[] = {PCE_EINVAL, PCE_ENOMEM, PCE_EEXIST, PCE_ENOENT, PCE_EBUSY, PCE_ENOSPC,
			     PCE_ESTALE, PCE_E2BIG, PCE_ESHORT, PCE_ENOPINS, PCE_ECORRUPT,
			     PCE_ETHREAD, PCE_EFORKED, PCE_EBADSNAP, PCE_EIO,
			     PCE_EEVBATCH, PCE_EZMQ, PCE_ETIMEDOUT, PCE_EUNAVAIL};
	(void)state;

	assert_string_equal(pce_err_name(PCE_OK), "PCE_OK");
	assert_string_equal(pce_strerror(PCE_OK), "success");
	for (size_t i = 0; i < NELEM(codes); i++) {
		assert_true(codes[i] < 0);
		assert_string_not_equal(pce_strerror(codes[i]), "unknown error");
		assert_string_not_equal(pce_err_name(codes[i]), "PCE_EUNKNOWN");
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(codes[i], codes[j]);
	}
	assert_string_equal(pce_err_name(PCE_ENOSPC), "PCE_ENOSPC");
	assert_string_equal(pce_strerror(12345), "unknown error");
	assert_string_equal(pce_err_name(-99999), "PCE_EUNKNOWN");
	assert_string_equal(pce_reason_name(PCE_REASON_TTL), "ttl");
	assert_string_equal(pce_reason_name((enum pce_reason)99), "unknown");
}

static void test_version(void **state)
{
	(void)state;
	assert_int_equal(pce_version_number(), PCE_VERSION_NUMBER);
	assert_string_equal(pce_version_string(), PCE_VERSION_STRING);
	assert_int_equal(PCE_VERSION_NUMBER,
			 PCE_VERSION_MAJOR * 10000 + PCE_VERSION_MINOR * 100 + PCE_VERSION_PATCH);
}

static void test_null_and_range_arguments(void **state)
{
	struct tcache t;
	const uint32_t q[] = {1, 2};
	struct pce_store_opts unknown = {1u << 9, 0, 0};
	struct pce_stats s;
	uint64_t counts[4];
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(pce_cache_store(NULL, 0, q, 2, 0, 0, NULL, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_store(t.c, 0, NULL, 2, 0, 0, NULL, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_store(t.c, 0, q, 0, 0, 0, NULL, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_store(t.c, 0, q, 2, 0, 0, &unknown, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_store(t.c, 0, q, SIZE_MAX, 0, 0, NULL, NULL), PCE_E2BIG);
	assert_int_equal(pce_cache_store(t.c, 0, q, PCE_MAX_TOKENS + 1, 0, 0, NULL, NULL),
			 PCE_E2BIG);
	assert_int_equal(pce_cache_remove(NULL, 0, q, 2, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_remove(t.c, 0, NULL, 2, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_remove(t.c, 0, q, SIZE_MAX, NULL), PCE_E2BIG);
	assert_int_equal(pce_cache_clear(NULL, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_clear_ns(NULL, 0, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_reclaim(NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_stats(NULL, &s), PCE_EINVAL);
	assert_int_equal(pce_cache_stats(t.c, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_shard_entries(NULL, counts, 4), PCE_EINVAL);
	assert_int_equal(pce_cache_shard_entries(t.c, NULL, 4), PCE_EINVAL);
	assert_int_equal(pce_cache_audit(NULL, 0, NULL, 0), PCE_EINVAL);
	assert_int_equal(pce_cache_audit(t.c, 1u << 7, NULL, 0), PCE_EINVAL);
	assert_int_equal(pce_cache_destroy(NULL), 0);
	assert_int_equal(stats_of(t.c).entries, 0);
	tcache_close(&t);
}

static void test_clear(void **state)
{
	struct tcache t;
	uint32_t q[3];
	uint64_t removed = 0;
	(void)state;

	tcache_open_default(&t);
	for (uint32_t i = 0; i < 30; i++) {
		q[0] = i % 5;
		q[1] = i;
		q[2] = 7;
		assert_int_equal(pce_cache_store(t.c, i % 3, q, 3 - (i % 2), i, 0, NULL, NULL), 0);
	}
	assert_int_equal(pce_cache_clear_ns(t.c, 1, &removed), 0);
	assert_int_equal(removed, 10);
	assert_int_equal(stats_of(t.c).entries, 20);
	assert_audit(t.c);
	assert_int_equal(pce_cache_clear_ns(t.c, 1, &removed), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(pce_cache_clear(t.c, &removed), 0);
	assert_int_equal(removed, 20);
	struct pce_stats s = stats_of(t.c);
	assert_int_equal(s.entries, 0);
	assert_int_equal(s.nodes, 0);
	assert_int_equal(s.tokens, 0);
	assert_int_equal(s.removed[PCE_REASON_CLEARED], 30);
	assert_audit(t.c);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released_by[PCE_REASON_CLEARED], 30);
	assert_int_equal(stats_of(t.c).retired_bytes, 0);
	/* The cache is usable after a clear. */
	assert_int_equal(put(t.c, q, 3, 1), 0);
	assert_int_equal(match(t.c, q, 3, NULL), 3);
	tcache_close(&t);
}

static void test_events_and_shard_entries(void **state)
{
	struct tcache t;
	struct pce_store_opts replace = {PCE_STORE_REPLACE, 0, 0};
	uint32_t q[2];
	uint64_t counts[16], sum = 0;
	(void)state;

	tcache_open_default(&t);
	for (uint32_t i = 0; i < 64; i++) {
		q[0] = i;
		q[1] = i;
		assert_int_equal(put(t.c, q, 2, i), 0);
	}
	assert_int_equal(pce_cache_store(t.c, 0, q, 2, 1, 0, &replace, NULL), 0);
	assert_int_equal(pce_cache_remove(t.c, 0, q, 2, NULL), 0);
	assert_int_equal(t.events[PCE_EVENT_STORED], 65);
	assert_int_equal(t.events[PCE_EVENT_REMOVED], 2);
	assert_int_equal(pce_cache_shard_entries(t.c, counts, NELEM(counts)), 16);
	for (size_t i = 0; i < NELEM(counts); i++)
		sum += counts[i];
	assert_int_equal(sum, 63);
	tcache_close(&t);
	assert_int_equal(t.events[PCE_EVENT_REMOVED], 65);
}

static void test_dedup_analysis(void **state)
{
	struct tcache t;
	const uint32_t sys[] = {1, 2, 3, 4}, u1[] = {1, 2, 3, 4, 5, 6}, u2[] = {1, 2, 3, 4, 7, 8},
		       other[] = {9, 9, 9};
	struct pce_seq batch[] = {{0, u1, 6}, {0, u2, 6}, {0, other, 3}, {1, u1, 6}, {0, u1, 6}};
	struct pce_dedup d;
	(void)state;

	/* Without a cache: u2 shares 4 tokens with u1, the repeat of u1 all 6. */
	assert_int_equal(pce_dedup_analyze(NULL, batch, NELEM(batch), &d), 0);
	assert_int_equal(d.sequences, 5);
	assert_int_equal(d.total_tokens, 27);
	assert_int_equal(d.cached_tokens, 0);
	assert_int_equal(d.shared_tokens, 10);
	assert_int_equal(d.unique_tokens, 17);
	assert_true(d.dedup_ratio > 10.0 / 27 - 1e-9 && d.dedup_ratio < 10.0 / 27 + 1e-9);

	/* With a cache holding the system prompt: cached first, then shared. */
	tcache_open_default(&t);
	assert_int_equal(put(t.c, sys, 4, 1), 0);
	assert_int_equal(pce_dedup_analyze(t.c, batch, NELEM(batch), &d), 0);
	assert_int_equal(d.cached_tokens, 4 + 4 + 4);
	assert_int_equal(d.shared_tokens, 0 + 0 + 0 + 0 + 2);
	assert_int_equal(d.unique_tokens, 27 - 12 - 2);
	assert_int_equal(stats_of(t.c).lookups, 0); /* the cache was not touched */
	assert_int_equal(stats_of(t.c).entries, 1);

	assert_int_equal(pce_dedup_analyze(t.c, NULL, 0, &d), 0);
	assert_int_equal(d.total_tokens, 0);
	assert_true(d.dedup_ratio == 0.0);
	assert_int_equal(pce_dedup_analyze(t.c, NULL, 1, &d), PCE_EINVAL);
	assert_int_equal(pce_dedup_analyze(t.c, batch, 1, NULL), PCE_EINVAL);
	struct pce_seq bad = {0, NULL, 3}, huge = {0, u1, SIZE_MAX};
	assert_int_equal(pce_dedup_analyze(t.c, &bad, 1, &d), PCE_EINVAL);
	assert_int_equal(pce_dedup_analyze(t.c, &huge, 1, &d), PCE_E2BIG);
	tcache_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_validation),
		cmocka_unit_test(test_error_strings),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_null_and_range_arguments),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_events_and_shard_entries),
		cmocka_unit_test(test_dedup_analysis),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
