/*
 * mirror.c - the publisher's copy of a cache's block set (invariants in
 * mirror.h).
 *
 * Hashes: block 0 is XXH3-64 of its tokens (4 bytes each, host order) with
 * the namespace's root as seed, root = XXH3-64(ns, seed); block i uses block
 * i-1's hash as seed.  So a hash names a whole prefix, namespace included,
 * and equal prefixes of different entries share their blocks.
 *
 * Both maps are fleet/table.h tables keyed (key, 0), their values pointers.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "mirror.h"

/* The tables hold pointers in a (fleet/table.h). */
static void *get(const struct pce__table *t, uint64_t key)
{
	const struct pce__tslot *s = pce__table_find(t, key, 0);

	return s ? (void *)(uintptr_t)s->a : NULL;
}

/* @key must not be present.  Return: 0 or -1 (out of memory). */
static int put(struct pce__table *t, uint64_t key, void *val)
{
	struct pce__tslot *s = pce__table_put(t, key, 0);

	if (!s)
		return -1;
	s->a = (uint64_t)(uintptr_t)val;
	return 0;
}

static void del(struct pce__table *t, uint64_t key)
{
	pce__table_del(t, pce__table_find(t, key, 0));
}

/* Free the table and every pointer it holds. */
static void free_all(struct pce__table *t)
{
	for (size_t i = 0; i < t->cap; i++)
		if (t->s[i].used)
			free((void *)(uintptr_t)t->s[i].a);
	pce__table_free(t);
}

/* ---- mirror --------------------------------------------------------------- */

void pce__mirror_init(struct pce__mirror *m, uint32_t block_size)
{
	memset(m, 0, sizeof(*m));
	m->block_size = block_size;
}

void pce__mirror_destroy(struct pce__mirror *m)
{
	free_all(&m->blocks);
	free_all(&m->entries);
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

/* Drop one reference of blocks hashes[from..to), freeing those that reach 0. */
static void unref(struct pce__mirror *m, const uint64_t *hashes, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		struct pce__block *b = get(&m->blocks, hashes[i]);

		if (--b->refs == 0) {
			del(&m->blocks, hashes[i]);
			free(b);
		}
	}
}

long pce__mirror_add_locked(struct pce__mirror *m, struct pce__entry *e, const uint32_t *tokens)
{
	size_t bs = m->block_size, first = e->nblocks;

	if (get(&m->entries, e->id))
		return -1;
	for (size_t i = 0; i < e->nblocks; i++) {
		struct pce__block *b = get(&m->blocks, e->hashes[i]);

		if (b) {
			b->refs++;
			continue;
		}
		b = malloc(sizeof(*b) + bs * sizeof(uint32_t));
		if (!b || put(&m->blocks, e->hashes[i], b)) {
			free(b);
			unref(m, e->hashes, 0, i);
			return -1;
		}
		b->hash = e->hashes[i];
		b->has_parent = i > 0;
		b->parent = i ? e->hashes[i - 1] : 0;
		b->refs = 1;
		b->mark = 0;
		memcpy(b->tokens, tokens + i * bs, bs * sizeof(uint32_t));
		if (first == e->nblocks)
			first = i;
	}
	if (put(&m->entries, e->id, e)) {
		unref(m, e->hashes, 0, e->nblocks);
		return -1;
	}
	return (long)first;
}

struct pce__entry *pce__mirror_remove_locked(struct pce__mirror *m, uint64_t id, size_t *first)
{
	struct pce__entry *e = get(&m->entries, id);

	if (!e)
		return NULL;
	del(&m->entries, id);
	/* (M2): the blocks freed are a suffix; the first one freed starts it. */
	*first = e->nblocks;
	for (size_t i = 0; i < e->nblocks; i++) {
		struct pce__block *b = get(&m->blocks, e->hashes[i]);

		if (--b->refs == 0) {
			del(&m->blocks, e->hashes[i]);
			free(b);
			if (*first == e->nblocks)
				*first = i;
		}
	}
	return e;
}

const struct pce__block *pce__mirror_block_locked(const struct pce__mirror *m, uint64_t hash)
{
	return get(&m->blocks, hash);
}

int pce__mirror_each_chain_locked(struct pce__mirror *m,
				  int (*fn)(void *ctx, const struct pce__entry *e, size_t first),
				  void *ctx)
{
	const struct pce__table *em = &m->entries;
	uint32_t mark = ++m->mark;

	for (size_t s = 0; s < em->cap; s++) {
		const struct pce__entry *e = (const struct pce__entry *)(uintptr_t)em->s[s].a;
		size_t first;
		int r;

		if (!em->s[s].used)
			continue;
		/* Visited blocks are a prefix of the chain (M2, M3). */
		for (first = e->nblocks; first > 0; first--) {
			struct pce__block *b = get(&m->blocks, e->hashes[first - 1]);

			if (b->mark == mark)
				break;
		}
		if (first == e->nblocks)
			continue;
		for (size_t i = first; i < e->nblocks; i++) {
			struct pce__block *b = get(&m->blocks, e->hashes[i]);

			b->mark = mark;
		}
		r = fn(ctx, e, first);
		if (r)
			return r;
	}
	return 0;
}
