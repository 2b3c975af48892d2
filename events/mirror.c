/*
 * mirror.c - the publisher's copy of a cache's block set (invariants in
 * mirror.h; the refcounted chains are fleet/chain.c's).
 *
 * Hashes: block 0 is XXH3-64 of its tokens (4 bytes each, host order) with
 * the namespace's root as seed, root = XXH3-64(ns, seed); block i uses block
 * i-1's hash as seed.  So a hash names a whole prefix, namespace included,
 * and equal prefixes of different entries share their blocks.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "mirror.h"

struct hold_ctx {
	const uint32_t *tokens;
	size_t bs;
};

/* A block newly held: its payload is a copy of its tokens and its parent. */
static int hold(void *ctx, const struct pce__chain_entry *ce, size_t i, uint64_t *payload)
{
	const struct hold_ctx *h = ctx;
	const struct pce__entry *e = (const struct pce__entry *)ce;
	struct pce__block *b = malloc(sizeof(*b) + h->bs * sizeof(uint32_t));

	if (!b)
		return -1;
	b->has_parent = i > 0;
	b->parent = i ? e->hashes[i - 1] : 0;
	memcpy(b->tokens, h->tokens + i * h->bs, h->bs * sizeof(uint32_t));
	*payload = (uint64_t)(uintptr_t)b;
	return 0;
}

static void drop(uint64_t payload)
{
	free((void *)(uintptr_t)payload);
}

static void free_entry(struct pce__chain_entry *e)
{
	free(e);
}

void pce__mirror_init(struct pce__mirror *m, uint32_t block_size)
{
	pce__chain_init(&m->chain, 0);
	m->block_size = block_size;
}

void pce__mirror_destroy(struct pce__mirror *m)
{
	pce__chain_each_entry(&m->chain, free_entry);
	pce__chain_destroy(&m->chain, drop);
}

void pce__mirror_hash(uint64_t seed, uint64_t ns, const uint32_t *tokens, size_t nblocks,
		      uint32_t block_size, uint64_t *out)
{
	uint64_t h = XXH3_64bits_withSeed(&ns, sizeof(ns), seed);

	for (size_t i = 0; i < nblocks; i++) {
		h = XXH3_64bits_withSeed(tokens + i * block_size, block_size * sizeof(*tokens), h);
		out[i] = h;
	}
}

long pce__mirror_add_locked(struct pce__mirror *m, struct pce__entry *e, const uint32_t *tokens)
{
	static const struct pce__chain_ops ops = { hold, drop };
	struct hold_ctx h = { tokens, m->block_size };

	e->c.keys = e->hashes;
	return pce__chain_add_locked(&m->chain, &e->c, &ops, &h);
}

struct pce__entry *pce__mirror_remove_locked(struct pce__mirror *m, uint64_t id, size_t *first)
{
	return (struct pce__entry *)pce__chain_remove_locked(&m->chain, id, first, drop);
}

struct each_ctx {
	int (*fn)(void *ctx, const struct pce__entry *e, size_t first);
	void *ctx;
};

static int each(void *ctx, const struct pce__chain_entry *e, size_t first)
{
	const struct each_ctx *x = ctx;

	return x->fn(x->ctx, (const struct pce__entry *)e, first); /* e is its c */
}

int pce__mirror_each_chain_locked(struct pce__mirror *m,
				  int (*fn)(void *ctx, const struct pce__entry *e, size_t first),
				  void *ctx)
{
	struct each_ctx x = { fn, ctx };

	return pce__chain_each_locked(&m->chain, each, &x);
}
