/*
 * mirror.c - the publisher's copy of a cache's block set (invariants in
 * mirror.h).
 *
 * Hashes: block 0 is XXH3-64 of its tokens (4 bytes each, host order) with
 * the namespace's root as seed, root = XXH3-64(ns, seed); block i uses block
 * i-1's hash as seed.  So a hash names a whole prefix, namespace included,
 * and equal prefixes of different entries share their blocks.
 *
 * The two maps key on 64-bit values that are already well mixed (hashes) or
 * not (entry ids: a shard index in the low bits), so slots are chosen from a
 * multiplicative mix of the key.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "mirror.h"

/* ---- map ------------------------------------------------------------------ */

static size_t slot_of(const struct pce__map *map, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (size_t)key & map->mask;
}

static void *map_get(const struct pce__map *map, uint64_t key)
{
	if (!map->count)
		return NULL;
	for (size_t i = slot_of(map, key);; i = (i + 1) & map->mask) {
		if (!map->slots[i].val)
			return NULL;
		if (map->slots[i].key == key)
			return map->slots[i].val;
	}
}

static int map_grow(struct pce__map *map)
{
	size_t cap = map->slots ? (map->mask + 1) * 2 : 64;
	struct pce__map_slot *old = map->slots;
	size_t oldcap = old ? map->mask + 1 : 0;
	struct pce__map_slot *s = calloc(cap, sizeof(*s));

	if (!s)
		return -1;
	map->slots = s;
	map->mask = cap - 1;
	for (size_t j = 0; j < oldcap; j++) {
		size_t i;

		if (!old[j].val)
			continue;
		for (i = slot_of(map, old[j].key); s[i].val; i = (i + 1) & map->mask)
			;
		s[i] = old[j];
	}
	free(old);
	return 0;
}

/* @key must not be present.  Return: 0 or -1 (out of memory). */
static int map_put(struct pce__map *map, uint64_t key, void *val)
{
	size_t i;

	if ((!map->slots || (map->count + 1) * 2 > map->mask + 1) && map_grow(map))
		return -1;
	for (i = slot_of(map, key); map->slots[i].val; i = (i + 1) & map->mask)
		;
	map->slots[i].key = key;
	map->slots[i].val = val;
	map->count++;
	return 0;
}

/* Remove @key (present) and shift the following run back over the hole. */
static void map_del(struct pce__map *map, uint64_t key)
{
	size_t i = slot_of(map, key), j;

	while (map->slots[i].key != key || !map->slots[i].val)
		i = (i + 1) & map->mask;
	for (j = (i + 1) & map->mask; map->slots[j].val; j = (j + 1) & map->mask) {
		size_t home = slot_of(map, map->slots[j].key);

		/* Move j into the hole i unless its home lies in (i, j]. */
		if (((j - home) & map->mask) >= ((j - i) & map->mask)) {
			map->slots[i] = map->slots[j];
			i = j;
		}
	}
	map->slots[i].val = NULL;
	map->count--;
}

static void map_free(struct pce__map *map)
{
	for (size_t i = 0; map->slots && i <= map->mask; i++)
		free(map->slots[i].val);
	free(map->slots);
	memset(map, 0, sizeof(*map));
}

/* ---- mirror --------------------------------------------------------------- */

void pce__mirror_init(struct pce__mirror *m, uint32_t block_size)
{
	memset(m, 0, sizeof(*m));
	m->block_size = block_size;
}

void pce__mirror_destroy(struct pce__mirror *m)
{
	map_free(&m->blocks);
	map_free(&m->entries);
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
		struct pce__block *b = map_get(&m->blocks, hashes[i]);

		if (--b->refs == 0) {
			map_del(&m->blocks, hashes[i]);
			free(b);
		}
	}
}

long pce__mirror_add_locked(struct pce__mirror *m, struct pce__entry *e, const uint32_t *tokens)
{
	size_t bs = m->block_size, first = e->nblocks;

	if (map_get(&m->entries, e->id))
		return -1;
	for (size_t i = 0; i < e->nblocks; i++) {
		struct pce__block *b = map_get(&m->blocks, e->hashes[i]);

		if (b) {
			b->refs++;
			continue;
		}
		b = malloc(sizeof(*b) + bs * sizeof(uint32_t));
		if (!b || map_put(&m->blocks, e->hashes[i], b)) {
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
	if (map_put(&m->entries, e->id, e)) {
		unref(m, e->hashes, 0, e->nblocks);
		return -1;
	}
	return (long)first;
}

struct pce__entry *pce__mirror_remove_locked(struct pce__mirror *m, uint64_t id, size_t *first)
{
	struct pce__entry *e = map_get(&m->entries, id);

	if (!e)
		return NULL;
	map_del(&m->entries, id);
	/* (M2): the blocks freed are a suffix; the first one freed starts it. */
	*first = e->nblocks;
	for (size_t i = 0; i < e->nblocks; i++) {
		struct pce__block *b = map_get(&m->blocks, e->hashes[i]);

		if (--b->refs == 0) {
			map_del(&m->blocks, e->hashes[i]);
			free(b);
			if (*first == e->nblocks)
				*first = i;
		}
	}
	return e;
}

const struct pce__block *pce__mirror_block_locked(const struct pce__mirror *m, uint64_t hash)
{
	return map_get(&m->blocks, hash);
}

int pce__mirror_each_chain_locked(struct pce__mirror *m,
				  int (*fn)(void *ctx, const struct pce__entry *e, size_t first),
				  void *ctx)
{
	const struct pce__map *em = &m->entries;
	uint32_t mark = ++m->mark;

	for (size_t s = 0; em->slots && s <= em->mask; s++) {
		const struct pce__entry *e = em->slots[s].val;
		size_t first;
		int r;

		if (!e)
			continue;
		/* Visited blocks are a prefix of the chain (M2, M3). */
		for (first = e->nblocks; first > 0; first--) {
			struct pce__block *b = map_get(&m->blocks, e->hashes[first - 1]);

			if (b->mark == mark)
				break;
		}
		if (first == e->nblocks)
			continue;
		for (size_t i = first; i < e->nblocks; i++) {
			struct pce__block *b = map_get(&m->blocks, e->hashes[i]);

			b->mark = mark;
		}
		r = fn(ctx, e, first);
		if (r)
			return r;
	}
	return 0;
}
