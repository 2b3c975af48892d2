/*
 * wire_encode.c - vLLM's KV-event batch, encoded with msgpack-c (see
 * wire_encode.h for the schema and the version it follows).
 *
 * msgpack-c's packers choose the shortest encoding of every integer, as
 * msgspec does, so a batch is byte-for-byte what vLLM would send for the
 * same events (block hashes >= 2^63 are uint64, below that positive fixint
 * or uint8..uint64 as small as fits).  sbuffer's writer returns -1 when it
 * cannot grow; every pack call's result is checked through ok().
 */
#include <stdlib.h>
#include <string.h>

#include "wire_encode.h"

void pce__wire_init(struct pce__wire *w, int hash_bytes, const char *medium)
{
	msgpack_sbuffer_init(&w->body);
	msgpack_packer_init(&w->pk, &w->body, msgpack_sbuffer_write);
	w->nevents = 0;
	w->hash_bytes = hash_bytes;
	w->medium = medium;
	w->medium_len = strlen(medium);
}

void pce__wire_destroy(struct pce__wire *w)
{
	msgpack_sbuffer_destroy(&w->body);
}

void pce__wire_reset(struct pce__wire *w)
{
	w->body.size = 0;
	w->nevents = 0;
}

static int str(msgpack_packer *pk, const char *s, size_t len)
{
	return msgpack_pack_str(pk, len) || msgpack_pack_str_body(pk, s, len);
}

#define KEY(pk, lit) str(pk, lit, sizeof(lit) - 1)

static int hash(struct pce__wire *w, uint64_t h)
{
	unsigned char be[8];

	if (!w->hash_bytes)
		return msgpack_pack_uint64(&w->pk, h);
	for (int i = 0; i < 8; i++)
		be[i] = (unsigned char)(h >> (56 - 8 * i));
	return msgpack_pack_bin(&w->pk, 8) || msgpack_pack_bin_body(&w->pk, be, 8);
}

static int hashes(struct pce__wire *w, const uint64_t *h, size_t n)
{
	if (msgpack_pack_array(&w->pk, n))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (hash(w, h[i]))
			return -1;
	return 0;
}

static int ok(struct pce__wire *w, int failed)
{
	if (failed)
		return -1;
	w->nevents++;
	return 0;
}

/* A uint32 array in msgpack-c's own shortest forms (positive fixint, uint8,
 * uint16, uint32), written straight into the buffer: token arrays are most
 * of a batch, and a pack call per token costs a buffer check each. */
static int uint32_array(struct pce__wire *w, const uint32_t *v, size_t n)
{
	msgpack_sbuffer *sb = &w->body;
	unsigned char *o;

	if (msgpack_pack_array(&w->pk, n))
		return -1;
	if (sb->alloc - sb->size < n * 5) {
		size_t alloc = sb->alloc * 2 > sb->size + n * 5 ? sb->alloc * 2 : sb->size + n * 5;
		char *d = realloc(sb->data, alloc);

		if (!d)
			return -1;
		sb->data = d;
		sb->alloc = alloc;
	}
	o = (unsigned char *)sb->data + sb->size;
	for (size_t i = 0; i < n; i++) {
		uint32_t x = v[i];

		if (x < 128) {
			*o++ = (unsigned char)x;
		} else if (x < 256) {
			*o++ = 0xcc;
			*o++ = (unsigned char)x;
		} else if (x < 65536) {
			*o++ = 0xcd;
			*o++ = (unsigned char)(x >> 8);
			*o++ = (unsigned char)x;
		} else {
			*o++ = 0xce;
			*o++ = (unsigned char)(x >> 24);
			*o++ = (unsigned char)(x >> 16);
			*o++ = (unsigned char)(x >> 8);
			*o++ = (unsigned char)x;
		}
	}
	sb->size = (size_t)(o - (unsigned char *)sb->data);
	return 0;
}

int pce__wire_block_stored(struct pce__wire *w, const uint64_t *h, size_t n,
			   const uint64_t *parent, const uint32_t *tokens, size_t ntokens,
			   uint32_t block_size)
{
	msgpack_packer *pk = &w->pk;
	int r = msgpack_pack_map(pk, 8) || KEY(pk, "type") || KEY(pk, "BlockStored") ||
		KEY(pk, "block_hashes") || hashes(w, h, n) || KEY(pk, "parent_block_hash") ||
		(parent ? hash(w, *parent) : msgpack_pack_nil(pk)) || KEY(pk, "token_ids") ||
		uint32_array(w, tokens, ntokens);

	r = r || KEY(pk, "block_size") || msgpack_pack_uint32(pk, block_size) ||
	    KEY(pk, "lora_id") || msgpack_pack_nil(pk) || KEY(pk, "medium") ||
	    str(pk, w->medium, w->medium_len) || KEY(pk, "lora_name") || msgpack_pack_nil(pk);
	return ok(w, r);
}

int pce__wire_block_removed(struct pce__wire *w, const uint64_t *h, size_t n)
{
	msgpack_packer *pk = &w->pk;

	return ok(w, msgpack_pack_map(pk, 3) || KEY(pk, "type") || KEY(pk, "BlockRemoved") ||
			     KEY(pk, "block_hashes") || hashes(w, h, n) || KEY(pk, "medium") ||
			     str(pk, w->medium, w->medium_len));
}

int pce__wire_all_cleared(struct pce__wire *w)
{
	msgpack_packer *pk = &w->pk;

	return ok(w, msgpack_pack_map(pk, 1) || KEY(pk, "type") || KEY(pk, "AllBlocksCleared"));
}

int pce__wire_finish(struct pce__wire *w, double ts, uint32_t rank, char **out, size_t *len)
{
	msgpack_sbuffer head;
	msgpack_packer hp;
	char *buf = NULL;
	int r;

	/* [ts, [events...], rank]: the header before the body, the rank after. */
	msgpack_sbuffer_init(&head);
	msgpack_packer_init(&hp, &head, msgpack_sbuffer_write);
	r = msgpack_pack_array(&hp, 3) || msgpack_pack_double(&hp, ts) ||
	    msgpack_pack_array(&hp, w->nevents);
	if (!r) {
		size_t hl = head.size;

		r = msgpack_pack_uint32(&hp, rank); /* appended to head, moved below */
		if (!r)
			buf = malloc(head.size + w->body.size);
		if (buf) {
			memcpy(buf, head.data, hl);
			memcpy(buf + hl, w->body.data, w->body.size);
			memcpy(buf + hl + w->body.size, head.data + hl, head.size - hl);
			*out = buf;
			*len = head.size + w->body.size;
		}
	}
	msgpack_sbuffer_destroy(&head);
	pce__wire_reset(w);
	return buf ? 0 : -1;
}
