/*
 * fleet/chain.c - refcounted chains of units (invariants and locking in
 * chain.h).
 */
#include <string.h>

#include "chain.h"

#define MARK 0x80000000u /* bit 31 of a unit's b: visited by the walk */
#define REFS (MARK - 1)

static void key_at(const struct pce__chain *c, const struct pce__chain_entry *e, size_t i,
		   uint64_t k[2])
{
	const char *p = e->keys;

	if (c->wide) {
		memcpy(k, p + i * 2 * sizeof(uint64_t), 2 * sizeof(uint64_t));
	} else {
		memcpy(k, p + i * sizeof(uint64_t), sizeof(uint64_t));
		k[1] = 0;
	}
}

static struct pce__tslot *unit(const struct pce__chain *c, const struct pce__chain_entry *e,
			       size_t i)
{
	uint64_t k[2];

	key_at(c, e, i, k);
	return pce__table_find(&c->units, k[0], k[1]);
}

void pce__chain_init(struct pce__chain *c, int wide)
{
	memset(c, 0, sizeof(*c));
	c->wide = wide;
}

void pce__chain_destroy(struct pce__chain *c, void (*drop)(uint64_t payload))
{
	if (drop)
		for (size_t i = 0; i < c->units.cap; i++)
			if (c->units.s[i].used)
				drop(c->units.s[i].a);
	pce__table_free(&c->units);
	pce__table_free(&c->entries);
}

/* Drop one reference of units from..to-1 of @e; (C2): those freed are a
 * suffix.  Return: the index of the first one freed (@to: none). */
static size_t unref(struct pce__chain *c, const struct pce__chain_entry *e, size_t from,
		    size_t to, void (*drop)(uint64_t payload))
{
	size_t first = to;

	for (size_t i = from; i < to; i++) {
		struct pce__tslot *s = unit(c, e, i);

		if (--s->b == 0) {
			if (drop)
				drop(s->a);
			pce__table_del(&c->units, s);
			if (first == to)
				first = i;
		}
	}
	return first;
}

long pce__chain_add_locked(struct pce__chain *c, struct pce__chain_entry *e,
			   const struct pce__chain_ops *ops, void *ctx)
{
	size_t first = e->n;
	struct pce__tslot *es;

	if (pce__table_find(&c->entries, e->id, 0))
		return -1;
	for (size_t i = 0; i < e->n; i++) {
		uint64_t k[2];
		struct pce__tslot *s;

		key_at(c, e, i, k);
		s = pce__table_find(&c->units, k[0], k[1]);
		if (s && s->b < REFS) {
			s->b++;
			continue;
		}
		if (s || !(s = pce__table_put(&c->units, k[0], k[1])))
			goto undo;
		if (ops->hold(ctx, e, i, &s->a)) {
			pce__table_del(&c->units, s);
			goto undo;
		}
		s->b = 1;
		if (first == e->n)
			first = i;
		continue;
undo:
		unref(c, e, 0, i, ops->drop);
		return -1;
	}
	if (!(es = pce__table_put(&c->entries, e->id, 0))) {
		unref(c, e, 0, e->n, ops->drop);
		return -1;
	}
	es->a = (uint64_t)(uintptr_t)e;
	return (long)first;
}

struct pce__chain_entry *pce__chain_find_locked(const struct pce__chain *c, uint64_t id)
{
	const struct pce__tslot *s = pce__table_find(&c->entries, id, 0);

	return s ? (struct pce__chain_entry *)(uintptr_t)s->a : NULL;
}

struct pce__chain_entry *pce__chain_remove_locked(struct pce__chain *c, uint64_t id,
						  size_t *first, void (*drop)(uint64_t payload))
{
	struct pce__tslot *es = pce__table_find(&c->entries, id, 0);
	struct pce__chain_entry *e;

	if (!es)
		return NULL;
	e = (struct pce__chain_entry *)(uintptr_t)es->a;
	pce__table_del(&c->entries, es);
	*first = unref(c, e, 0, e->n, drop);
	return e;
}

int pce__chain_each_locked(struct pce__chain *c,
			   int (*fn)(void *ctx, const struct pce__chain_entry *e, size_t first),
			   void *ctx)
{
	const struct pce__table *em = &c->entries;
	int r = 0;

	for (size_t s = 0; s < em->cap && !r; s++) {
		const struct pce__chain_entry *e;
		size_t first;

		if (!em->s[s].used)
			continue;
		e = (const struct pce__chain_entry *)(uintptr_t)em->s[s].a;
		/* Visited units are a prefix of the chain (C2, C3). */
		for (first = e->n; first > 0; first--)
			if (unit(c, e, first - 1)->b & MARK)
				break;
		if (first == e->n)
			continue;
		for (size_t i = first; i < e->n; i++)
			unit(c, e, i)->b |= MARK;
		r = fn(ctx, e, first);
	}
	/* (C4) */
	for (size_t i = 0; i < c->units.cap; i++)
		c->units.s[i].b &= REFS;
	return r;
}

void pce__chain_each_entry(struct pce__chain *c, void (*fn)(struct pce__chain_entry *e))
{
	for (size_t i = 0; i < c->entries.cap; i++)
		if (c->entries.s[i].used)
			fn((struct pce__chain_entry *)(uintptr_t)c->entries.s[i].a);
}
