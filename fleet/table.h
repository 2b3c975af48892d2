/*
 * fleet/table.h - one open-addressing hash table over 128-bit keys, shared
 * by the fleet libraries (fleet/chain.c's refcounted chains, under both
 * mirrors; libpce_cluster's router holdings and namespaces).
 *
 * Keys are (k0, k1); a 64-bit key is stored as (key, 0).  Each slot carries
 * a 64-bit value a and a 32-bit value b that the table never interprets (a
 * pointer, a namespace; a refcount, a flag).
 *
 * Invariants:
 *   (T1) cap is 0 or a power of two, and len <= cap / 2 after every insert.
 *   (T2) Linear probing without tombstones: a used slot lies in the probe
 *        run that starts at its home slot (mix(k0, k1) & (cap - 1)), with
 *        no unused slot between home and it.  Deletion shifts later members
 *        of the run back over the hole, so (T2) holds after it.
 *   (T3) A key is in at most one used slot.
 * Slot pointers stay valid until the next pce__table_get() (which may
 * grow) or pce__table_del() (which may move slots).
 *
 * Locking: none.  The caller serialises every call on one table (the
 * publisher's mutex; the cluster tier's worker thread).
 */
#ifndef PCE_FLEET_TABLE_H
#define PCE_FLEET_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* 32 bytes: two slots a cache line. */
struct pce__tslot {
	uint64_t k0, k1, a;
	uint32_t b;
	uint32_t used;
};

struct pce__table {
	struct pce__tslot *s;
	size_t cap, len; /* cap: 0 or a power of two */
};

/* pce__table_hash - The table's 64-bit mix of (@k0, @k1), also for callers
 * that fold a third part into a key (an owner into a chunk id).  Folding
 * the halves first costs one multiply per key, not two; keys that collide
 * under the fold ((a, b) and (b, a)) only share a home slot. */
static inline uint64_t pce__table_hash(uint64_t k0, uint64_t k1)
{
	uint64_t h = k0 ^ k1;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

/* pce__table_find - The slot of (@k0, @k1), or NULL.  Inline: it is the
 * publisher's per-block hot path. */
static inline struct pce__tslot *pce__table_find(const struct pce__table *t, uint64_t k0,
						 uint64_t k1)
{
	if (!t->len)
		return NULL;
	for (size_t i = pce__table_hash(k0, k1) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct pce__tslot *s = &t->s[i];

		if (!s->used)
			return NULL;
		if (s->k0 == k0 && s->k1 == k1)
			return s;
	}
}

/* pce__table_get - The slot of (@k0, @k1), inserted (a = b = 0) if absent.
 * Return: the slot, or NULL when out of memory (the table unchanged). */
struct pce__tslot *pce__table_get(struct pce__table *t, uint64_t k0, uint64_t k1);

/* pce__table_put - Insert (@k0, @k1), known absent: saves get's search.
 * Return: the slot (a = b = 0), or NULL when out of memory. */
struct pce__tslot *pce__table_put(struct pce__table *t, uint64_t k0, uint64_t k1);

/* pce__table_del - Remove the used slot @slot (from find, get or put). */
void pce__table_del(struct pce__table *t, struct pce__tslot *slot);

/* pce__table_free - Free the slots (not what a or b may point to); the
 * table is then empty and usable. */
void pce__table_free(struct pce__table *t);

#endif /* PCE_FLEET_TABLE_H */
