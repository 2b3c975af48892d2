/*
 * fleet/table.c - open addressing over 128-bit keys (invariants and locking
 * in table.h).
 *
 * The home slot comes from a multiplicative mix of the key: keys are either
 * well mixed already (block hashes, chunk ids) or not at all (entry ids,
 * with a shard index in the low bits).  Growth doubles at 1/2 load, which
 * keeps probe runs short (a miss, every insert's search, costs ~2.5 probes
 * at 1/2, ~8.5 at 3/4); deletion is backward shift, so lookups never step
 * over tombstones.
 */
#include <stdlib.h>
#include <string.h>

#include "table.h"

static int grow(struct pce__table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 16, mask = cap - 1;
	struct pce__tslot *s = calloc(cap, sizeof(*s));

	if (!s)
		return -1;
	for (size_t i = 0; i < t->cap; i++) {
		size_t j;

		if (!t->s[i].used)
			continue;
		for (j = pce__table_hash(t->s[i].k0, t->s[i].k1) & mask; s[j].used; j = (j + 1) & mask)
			;
		s[j] = t->s[i];
	}
	free(t->s);
	t->s = s;
	t->cap = cap;
	return 0;
}

struct pce__tslot *pce__table_put(struct pce__table *t, uint64_t k0, uint64_t k1)
{
	size_t i;

	if ((t->len + 1) * 2 > t->cap && grow(t))
		return NULL;
	for (i = pce__table_hash(k0, k1) & (t->cap - 1); t->s[i].used; i = (i + 1) & (t->cap - 1))
		;
	t->s[i] = (struct pce__tslot){.k0 = k0, .k1 = k1, .used = 1};
	t->len++;
	return &t->s[i];
}

struct pce__tslot *pce__table_get(struct pce__table *t, uint64_t k0, uint64_t k1)
{
	struct pce__tslot *s = pce__table_find(t, k0, k1);

	return s ? s : pce__table_put(t, k0, k1);
}

void pce__table_del(struct pce__table *t, struct pce__tslot *slot)
{
	size_t mask = t->cap - 1, i = (size_t)(slot - t->s);

	/* Backward shift: pull later members of the probe run into the hole
	 * unless their home lies in (i, j]. */
	for (size_t j = (i + 1) & mask; t->s[j].used; j = (j + 1) & mask) {
		size_t home = pce__table_hash(t->s[j].k0, t->s[j].k1) & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->s[i] = t->s[j];
			i = j;
		}
	}
	t->s[i].used = 0;
	t->len--;
}

void pce__table_free(struct pce__table *t)
{
	free(t->s);
	memset(t, 0, sizeof(*t));
}
