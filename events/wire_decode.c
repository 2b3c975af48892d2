/*
 * events/wire_decode.c - msgpack KVEventBatch -> struct pce_wire_batch.
 *
 * A cursor over the payload with a bounds check before every read: no
 * msgpack object tree, no allocation beyond the batch's reused arrays.  A
 * claimed array, map, string or bin length is checked against the bytes
 * left before anything is reserved for it (every element takes at least
 * one byte), so a small frame that claims 2^32 elements costs nothing.
 * Nesting is bounded (PCE_WIRE_MAX_DEPTH) when a value is skipped, so a
 * frame of nested arrays cannot exhaust the stack.  An event is parsed in
 * one pass; only a bad or unknown one is walked again, from its start, to
 * find where it ends.
 *
 * Event layouts accepted (vLLM's msgspec structs, tag=True, omit_defaults):
 *   BlockStored:  block_hashes, parent_block_hash, token_ids, block_size,
 *                 lora_id, medium, lora_name, extra_keys, group_idx, ...
 *   BlockRemoved: block_hashes, medium, group_idx, ...
 *   AllBlocksCleared: (no fields)
 * as an array [tag, field...] (array_like releases; a shorter array is an
 * older release: the missing fields are absent) or a map {"type": tag,
 * name: value...} in any order (newer releases; defaults omitted).  Keys
 * and trailing elements this decoder does not know are skipped.
 */
#include <stdlib.h>
#include <string.h>

#include "pce/errors.h"
#include "wire.h"

#define PCE_WIRE_MAX_DEPTH 32

struct cur {
	const uint8_t *p, *end;
};

/* A decoded scalar: what one msgpack value was, when it was a scalar. */
enum vtype { V_NIL, V_BOOL, V_UINT, V_INT, V_FLOAT, V_STR, V_BIN, V_ARRAY, V_MAP, V_EXT };

struct val {
	enum vtype t;
	uint64_t u;   /* V_UINT, V_BOOL; V_INT as two's complement */
	double f;
	const uint8_t *s; /* V_STR, V_BIN */
	uint32_t n;   /* bytes of STR/BIN, elements of ARRAY/MAP */
};

static int need(const struct cur *c, size_t n)
{
	return (size_t)(c->end - c->p) >= n;
}

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * next - Read one value's header at @c into @v and move past it; for
 * strings and bins past their bytes too, for arrays and maps only past the
 * header (the elements follow).  0, or -1 if the bytes cannot be a value.
 */
static int next(struct cur *c, struct val *v)
{
	uint8_t b;
	int n = 0;

	if (!need(c, 1))
		return -1;
	b = *c->p++;
	if (b <= 0x7f) {
		v->t = V_UINT;
		v->u = b;
		return 0;
	}
	if (b >= 0xe0) {
		v->t = V_INT;
		v->u = (uint64_t)(int64_t)(int8_t)b;
		return 0;
	}
	if ((b & 0xf0) == 0x80 || (b & 0xf0) == 0x90) {
		v->t = (b & 0xf0) == 0x80 ? V_MAP : V_ARRAY;
		v->n = b & 0x0f;
		goto container;
	}
	if ((b & 0xe0) == 0xa0) {
		v->t = V_STR;
		v->n = b & 0x1f;
		goto bytes;
	}
	switch (b) {
	case 0xc0: v->t = V_NIL; return 0;
	case 0xc2: case 0xc3: v->t = V_BOOL; v->u = b & 1; return 0;
	case 0xcc: n = 1; goto uint;
	case 0xcd: n = 2; goto uint;
	case 0xce: n = 4; goto uint;
	case 0xcf: n = 8; goto uint;
	case 0xd0: n = 1; goto sint;
	case 0xd1: n = 2; goto sint;
	case 0xd2: n = 4; goto sint;
	case 0xd3: n = 8; goto sint;
	case 0xca:
		if (!need(c, 4))
			return -1;
		{
			uint32_t w = (uint32_t)be(c->p, 4);
			float f;

			memcpy(&f, &w, 4);
			v->f = f;
		}
		c->p += 4;
		v->t = V_FLOAT;
		return 0;
	case 0xcb:
		if (!need(c, 8))
			return -1;
		{
			uint64_t w = be(c->p, 8);

			memcpy(&v->f, &w, 8);
		}
		c->p += 8;
		v->t = V_FLOAT;
		return 0;
	case 0xd9: v->t = V_STR; n = 1; goto len;
	case 0xda: v->t = V_STR; n = 2; goto len;
	case 0xdb: v->t = V_STR; n = 4; goto len;
	case 0xc4: v->t = V_BIN; n = 1; goto len;
	case 0xc5: v->t = V_BIN; n = 2; goto len;
	case 0xc6: v->t = V_BIN; n = 4; goto len;
	case 0xdc: v->t = V_ARRAY; n = 2; goto clen;
	case 0xdd: v->t = V_ARRAY; n = 4; goto clen;
	case 0xde: v->t = V_MAP; n = 2; goto clen;
	case 0xdf: v->t = V_MAP; n = 4; goto clen;
	/* ext: fixext 1..16, ext 8/16/32: skipped as an opaque value */
	case 0xd4: v->n = 2; goto ext_fixed;
	case 0xd5: v->n = 3; goto ext_fixed;
	case 0xd6: v->n = 5; goto ext_fixed;
	case 0xd7: v->n = 9; goto ext_fixed;
	case 0xd8: v->n = 17; goto ext_fixed;
	case 0xc7: n = 1; goto ext_len;
	case 0xc8: n = 2; goto ext_len;
	case 0xc9: n = 4; goto ext_len;
	default: return -1; /* 0xc1: never used */
	}
uint:
	if (!need(c, (size_t)n))
		return -1;
	v->t = V_UINT;
	v->u = be(c->p, n);
	c->p += n;
	return 0;
sint:
	if (!need(c, (size_t)n))
		return -1;
	v->t = V_INT;
	v->u = be(c->p, n);
	if (n < 8 && (v->u >> (8 * n - 1)))
		v->u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
	c->p += n;
	return 0;
len:
	if (!need(c, (size_t)n))
		return -1;
	v->n = (uint32_t)be(c->p, n);
	c->p += n;
bytes:
	if (!need(c, v->n))
		return -1;
	v->s = c->p;
	c->p += v->n;
	return 0;
clen:
	if (!need(c, (size_t)n))
		return -1;
	v->n = (uint32_t)be(c->p, n);
	c->p += n;
container:
	/* Every element takes at least one byte (two per map pair). */
	if (!need(c, (size_t)v->n * (v->t == V_MAP ? 2 : 1)))
		return -1;
	return 0;
ext_len:
	if (!need(c, (size_t)n))
		return -1;
	v->n = (uint32_t)be(c->p, n) + 1; /* + the type byte */
	c->p += n;
	if (!need(c, v->n))
		return -1;
	c->p += v->n;
	v->t = V_EXT;
	return 0;
ext_fixed:
	if (!need(c, v->n))
		return -1;
	c->p += v->n;
	v->t = V_EXT;
	return 0;
}

/* skip - Move past one whole value (its elements too). */
static int skip(struct cur *c, int depth)
{
	struct val v;
	uint64_t n;

	if (depth > PCE_WIRE_MAX_DEPTH || next(c, &v))
		return -1;
	if (v.t != V_ARRAY && v.t != V_MAP)
		return 0;
	n = (uint64_t)v.n * (v.t == V_MAP ? 2 : 1);
	for (uint64_t i = 0; i < n; i++)
		if (skip(c, depth + 1))
			return -1;
	return 0;
}

static int str_is(const struct val *v, const char *s)
{
	size_t n = strlen(s);

	return v->t == V_STR && v->n == n && !memcmp(v->s, s, n);
}

/* Grow one of the batch's arrays to hold @want elements. */
static int grow(void **arr, uint32_t *cap, uint32_t want, size_t elem)
{
	uint32_t nc = *cap ? *cap : 16;
	void *p;

	if (want <= *cap)
		return 0;
	while (nc < want)
		nc = nc > UINT32_MAX / 2 ? want : nc * 2;
	p = realloc(*arr, (size_t)nc * elem);
	if (!p)
		return PCE_ENOMEM;
	*arr = p;
	*cap = nc;
	return 0;
}

/* Field ids, in BlockStored's declaration order. */
enum field {
	F_HASHES, F_PARENT, F_TOKENS, F_BLOCK_SIZE, F_LORA_ID, F_MEDIUM, F_LORA_NAME,
	F_EXTRA_KEYS, F_GROUP, F_UNKNOWN
};

static const enum field stored_order[] = {F_HASHES, F_PARENT, F_TOKENS, F_BLOCK_SIZE, F_LORA_ID,
					  F_MEDIUM, F_LORA_NAME, F_EXTRA_KEYS, F_GROUP};
static const enum field removed_order[] = {F_HASHES, F_MEDIUM, F_GROUP};

/* The field string @k names.  Once per key of every map-encoded event: the
 * names' lengths are stored, not measured (a strlen() per name tried was 4%
 * of decoding). */
static enum field field_of(const struct val *k)
{
#define NAME(s, f) {s, sizeof(s) - 1, f}
	static const struct {
		const char *name;
		uint32_t len;
		enum field f;
	} names[] = {
		NAME("block_hashes", F_HASHES), NAME("parent_block_hash", F_PARENT),
		NAME("token_ids", F_TOKENS), NAME("block_size", F_BLOCK_SIZE),
		NAME("lora_id", F_LORA_ID), NAME("medium", F_MEDIUM),
		NAME("lora_name", F_LORA_NAME), NAME("extra_keys", F_EXTRA_KEYS),
		NAME("group_idx", F_GROUP),
	};
#undef NAME

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (k->n == names[i].len && !memcmp(k->s, names[i].name, names[i].len))
			return names[i].f;
	return F_UNKNOWN;
}

/* A block hash: an integer or bytes.  0 or -1. */
static int read_hash(struct cur *c, uint64_t *out)
{
	struct val v;

	if (next(c, &v))
		return -1;
	if (v.t == V_UINT || v.t == V_INT)
		*out = v.u;
	else if (v.t == V_BIN || v.t == V_STR)
		*out = pce_wire_hash_bytes(v.s, v.n);
	else
		return -1;
	return 0;
}

/* An optional integer: nil leaves the flag clear.  0 or -1. */
static int read_opt_int(struct cur *c, int64_t *out, uint32_t *has, uint32_t flag)
{
	struct val v;

	if (next(c, &v))
		return -1;
	if (v.t == V_NIL)
		return 0;
	if (v.t != V_UINT && v.t != V_INT)
		return -1;
	*out = (int64_t)v.u;
	*has |= flag;
	return 0;
}

static int read_opt_str(struct cur *c, struct pce_wire_span *out, uint32_t *has, uint32_t flag)
{
	struct val v;

	if (next(c, &v))
		return -1;
	if (v.t == V_NIL)
		return 0;
	if (v.t != V_STR)
		return -1;
	out->p = v.s;
	out->len = v.n;
	*has |= flag;
	return 0;
}

/*
 * read_field - Decode field @f of event @e at @c.  -1 malformed, PCE_ENOMEM,
 * or 0.  Array fields append to the batch's arrays; the event records where.
 */
static int read_field(struct pce_wire_batch *b, struct pce_wire_event *e, struct cur *c,
		      enum field f)
{
	struct val v;
	int rc;

	switch (f) {
	case F_HASHES:
		if (next(c, &v) || v.t != V_ARRAY || e->n_hashes)
			return -1;
		if ((rc = grow((void **)&b->hashes, &b->cap_hashes, b->n_hashes + v.n,
			       sizeof(*b->hashes))))
			return rc;
		e->hash0 = b->n_hashes;
		for (uint32_t i = 0; i < v.n; i++)
			if (read_hash(c, &b->hashes[b->n_hashes + i]))
				return -1;
		e->n_hashes = v.n;
		b->n_hashes += v.n;
		return 0;
	case F_PARENT:
		if (!need(c, 1))
			return -1;
		if (*c->p == 0xc0) {
			c->p++;
			return 0;
		}
		if (read_hash(c, &e->parent))
			return -1;
		e->has |= PCE_WIRE_HAS_PARENT;
		return 0;
	case F_TOKENS:
		if (next(c, &v) || v.t != V_ARRAY || e->n_tokens ||
		    b->n_tokens + (uint64_t)v.n > PCE_WIRE_MAX_TOKENS)
			return -1;
		if ((rc = grow((void **)&b->tokens, &b->cap_tokens, b->n_tokens + v.n,
			       sizeof(*b->tokens))))
			return rc;
		e->tok0 = b->n_tokens;
		for (uint32_t i = 0; i < v.n; i++) {
			struct val t;

			/* token ids are fixints, uint16 or uint32: read them inline */
			if (need(c, 1) && *c->p <= 0x7f) {
				b->tokens[b->n_tokens + i] = *c->p++;
				continue;
			}
			if (need(c, 3) && *c->p == 0xcd) {
				b->tokens[b->n_tokens + i] = (uint32_t)c->p[1] << 8 | c->p[2];
				c->p += 3;
				continue;
			}
			if (need(c, 5) && *c->p == 0xce) {
				b->tokens[b->n_tokens + i] = (uint32_t)be(c->p + 1, 4);
				c->p += 5;
				continue;
			}
			if (next(c, &t) || t.t != V_UINT || t.u > UINT32_MAX)
				return -1;
			b->tokens[b->n_tokens + i] = (uint32_t)t.u;
		}
		e->n_tokens = v.n;
		b->n_tokens += v.n;
		return 0;
	case F_BLOCK_SIZE:
		if (next(c, &v) || v.t != V_UINT || v.u == 0 || v.u > UINT32_MAX)
			return -1;
		e->block_size = (uint32_t)v.u;
		return 0;
	case F_LORA_ID:
		return read_opt_int(c, &e->lora_id, &e->has, PCE_WIRE_HAS_LORA_ID);
	case F_MEDIUM:
		return read_opt_str(c, &e->medium, &e->has, PCE_WIRE_HAS_MEDIUM);
	case F_LORA_NAME:
		return read_opt_str(c, &e->lora_name, &e->has, PCE_WIRE_HAS_LORA_NAME);
	case F_GROUP:
		return read_opt_int(c, &e->group_idx, &e->has, PCE_WIRE_HAS_GROUP);
	case F_EXTRA_KEYS:
		if (next(c, &v))
			return -1;
		if (v.t == V_NIL)
			return 0;
		if (v.t != V_ARRAY || (e->has & PCE_WIRE_HAS_EXTRA_KEYS))
			return -1;
		if ((rc = grow((void **)&b->extra, &b->cap_extra, b->n_extra + v.n,
			       sizeof(*b->extra))))
			return rc;
		e->extra0 = b->n_extra;
		for (uint32_t i = 0; i < v.n; i++) {
			struct pce_wire_span *s = &b->extra[b->n_extra + i];
			const uint8_t *at = c->p;

			if (skip(c, 1))
				return -1;
			s->p = *at == 0xc0 ? NULL : at;
			s->len = (uint32_t)(c->p - at);
		}
		/* one entry per block: finish() checks the count against n_hashes */
		e->has |= PCE_WIRE_HAS_EXTRA_KEYS;
		b->n_extra += v.n;
		return 0;
	case F_UNKNOWN:
		break;
	}
	return skip(c, 1);
}

/* The event is consistent: what the subscriber relies on. */
static int finish(const struct pce_wire_batch *b, const struct pce_wire_event *e)
{
	if (e->kind != PCE_WIRE_STORED)
		return 0;
	if (!e->n_hashes || !e->block_size ||
	    (uint64_t)e->n_hashes * e->block_size != e->n_tokens)
		return -1;
	if ((e->has & PCE_WIRE_HAS_EXTRA_KEYS) && b->n_extra - e->extra0 != e->n_hashes)
		return -1;
	return 0;
}

static int kind_of(const struct val *tag)
{
	if (str_is(tag, "BlockStored"))
		return PCE_WIRE_STORED;
	if (str_is(tag, "BlockRemoved"))
		return PCE_WIRE_REMOVED;
	if (str_is(tag, "AllBlocksCleared"))
		return PCE_WIRE_CLEARED;
	return -1;
}

/*
 * read_event - One event at @c.  Returns 0 (kept in b->ev), 1 (skipped:
 * counted in b->malformed or b->unknown_tag, cursor after the event),
 * -1 (the bytes end inside it: the batch is unreadable) or PCE_ENOMEM.
 */
static int read_event(struct pce_wire_batch *b, struct cur *c)
{
	struct cur start = *c;
	struct pce_wire_event e;
	struct val v, tag;
	uint32_t hashes = b->n_hashes, tokens = b->n_tokens, extra = b->n_extra;
	int kind, rc = -1;

	memset(&e, 0, sizeof(e));
	if (next(c, &v) || (v.t != V_ARRAY && v.t != V_MAP) || v.n == 0)
		goto bad;
	if (v.t == V_ARRAY) {
		const enum field *order;
		uint32_t n_order;

		if (next(c, &tag) || tag.t != V_STR)
			goto bad;
		if ((kind = kind_of(&tag)) < 0)
			goto unknown;
		e.kind = (uint32_t)kind;
		order = kind == PCE_WIRE_STORED ? stored_order : removed_order;
		n_order = kind == PCE_WIRE_STORED ? 9 : kind == PCE_WIRE_REMOVED ? 3 : 0;
		for (uint32_t i = 1; i < v.n; i++)
			if ((rc = read_field(b, &e, c, i - 1 < n_order ? order[i - 1] : F_UNKNOWN)))
				goto bad;
	} else {
		int have_tag = 0;

		/* The tag may come anywhere: find it first. */
		struct cur scan = *c;

		for (uint32_t i = 0; i < v.n; i++) {
			struct val k;

			if (next(&scan, &k))
				goto bad;
			if (str_is(&k, "type")) {
				if (next(&scan, &tag) || tag.t != V_STR)
					goto bad;
				have_tag = 1;
				break;
			}
			if (skip(&scan, 1))
				goto bad;
		}
		if (!have_tag)
			goto bad;
		if ((kind = kind_of(&tag)) < 0)
			goto unknown;
		e.kind = (uint32_t)kind;
		for (uint32_t i = 0; i < v.n; i++) {
			struct val k;
			enum field f;

			if (next(c, &k))
				goto bad;
			f = k.t == V_STR && !str_is(&k, "type") ? field_of(&k) : F_UNKNOWN;
			if (kind == PCE_WIRE_REMOVED && f != F_HASHES && f != F_MEDIUM && f != F_GROUP)
				f = F_UNKNOWN;
			if (kind == PCE_WIRE_CLEARED)
				f = F_UNKNOWN;
			if ((rc = read_field(b, &e, c, f)))
				goto bad;
		}
	}
	if (finish(b, &e))
		goto bad;
	if ((rc = grow((void **)&b->ev, &b->cap_ev, b->n_ev + 1, sizeof(*b->ev))))
		goto bad;
	b->ev[b->n_ev++] = e;
	return 0;
	/* A skipped event: move past it from its start (the bytes must still
	 * hold one whole value, or the batch is unreadable). */
unknown:
	*c = start;
	if (skip(c, 1))
		return -1;
	b->unknown_tag++;
	return 1;
bad:
	b->n_hashes = hashes;
	b->n_tokens = tokens;
	b->n_extra = extra;
	if (rc == PCE_ENOMEM)
		return PCE_ENOMEM;
	*c = start;
	if (skip(c, 1))
		return -1;
	b->malformed++;
	return 1;
}

static int read_events(struct pce_wire_batch *b, struct cur *c)
{
	struct val v;

	if (next(c, &v) || v.t != V_ARRAY || v.n > PCE_WIRE_MAX_EVENTS)
		return -1;
	for (uint32_t i = 0; i < v.n; i++) {
		int rc = read_event(b, c);

		if (rc < 0)
			return rc;
	}
	return 0;
}

static int read_ts(struct cur *c, double *ts)
{
	struct val v;

	if (next(c, &v))
		return -1;
	if (v.t == V_FLOAT)
		*ts = v.f;
	else if (v.t == V_UINT)
		*ts = (double)v.u;
	else if (v.t == V_INT)
		*ts = (double)(int64_t)v.u;
	else
		return -1;
	return 0;
}

static int read_rank(struct pce_wire_batch *b, struct cur *c)
{
	uint32_t has = 0;

	if (read_opt_int(c, &b->dp_rank, &has, 1))
		return -1;
	b->has_dp_rank = has != 0;
	return 0;
}

int pce_wire_decode(struct pce_wire_batch *b, const void *p, size_t len)
{
	struct cur c = {p, (const uint8_t *)p + len};
	struct val v;
	int rc = -1, have_ts = 0, have_events = 0;

	b->n_ev = b->n_hashes = b->n_tokens = b->n_extra = 0;
	b->malformed = b->unknown_tag = 0;
	b->ts = 0;
	b->dp_rank = 0;
	b->has_dp_rank = 0;
	if (!p || next(&c, &v))
		goto bad;
	if (v.t == V_ARRAY) {
		if (v.n < 2)
			goto bad;
		if (read_ts(&c, &b->ts) || (rc = read_events(b, &c)))
			goto bad;
		if (v.n >= 3 && (rc = read_rank(b, &c)))
			goto bad;
		for (uint32_t i = 3; i < v.n; i++)
			if (skip(&c, 1))
				goto bad;
	} else if (v.t == V_MAP) {
		for (uint32_t i = 0; i < v.n; i++) {
			struct val k;

			if (next(&c, &k))
				goto bad;
			if (str_is(&k, "ts") && !have_ts) {
				if (read_ts(&c, &b->ts))
					goto bad;
				have_ts = 1;
			} else if (str_is(&k, "events") && !have_events) {
				if ((rc = read_events(b, &c)))
					goto bad;
				have_events = 1;
			} else if (str_is(&k, "data_parallel_rank")) {
				if ((rc = read_rank(b, &c)))
					goto bad;
			} else if (skip(&c, 1)) {
				goto bad;
			}
		}
		if (!have_ts || !have_events)
			goto bad;
	} else {
		goto bad;
	}
	if (c.p != c.end)
		goto bad;
	return 0;
bad:
	b->n_ev = b->n_hashes = b->n_tokens = b->n_extra = 0;
	return rc == PCE_ENOMEM ? PCE_ENOMEM : PCE_EEVBATCH;
}

void pce_wire_batch_init(struct pce_wire_batch *b)
{
	memset(b, 0, sizeof(*b));
}

void pce_wire_batch_free(struct pce_wire_batch *b)
{
	free(b->ev);
	free(b->hashes);
	free(b->tokens);
	free(b->extra);
	memset(b, 0, sizeof(*b));
}

/*
 * A bytes hash is a digest (vLLM: sha256), so its bits are already mixed;
 * FNV-1a over every byte, then a final avalanche, keeps hashes that differ
 * anywhere apart, whatever their length.
 */
uint64_t pce_wire_hash_bytes(const void *p, size_t len)
{
	const uint8_t *s = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}
