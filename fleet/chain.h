/*
 * fleet/chain.h - refcounted chains of units, shared by the fleet libraries:
 * libpce_events' publisher mirror (units: blocks, 64-bit hashes) and
 * libpce_cluster's mirror of what it published (units: chunks, 128-bit ids).
 *
 * An entry (a cache entry the caller was told of) covers a chain of units,
 * root first, each unit's key naming its whole prefix (a chained hash).
 * Units are refcounted by the entries covering them; the caller learns
 * which units an add newly holds (refs 0 -> 1) and a remove frees
 * (1 -> 0), and keeps one 64-bit payload per held unit (a block's tokens
 * and parent; a chunk's namespace).
 *
 *   entries: (entry id, 0) -> a: struct pce__chain_entry * (caller's record)
 *   units:   unit key      -> a: payload, b: refs (bit 31: the walk's mark)
 *
 * Invariants:
 *   (C1) A unit is in units iff its refs > 0, and refs is the number of
 *        recorded entries whose chains contain it (< 2^31: an add that
 *        would reach it fails).
 *   (C2) An entry covering unit i covers units 0..i-1, so along a chain
 *        refs never increase: the units one add newly holds, and the units
 *        one remove frees, are a suffix of its chain.
 *   (C3) A unit's parent is the unit before it in every chain holding it
 *        (a key fixes its whole prefix, up to hash collisions).
 *   (C4) Outside pce__chain_each_locked() no unit carries the mark bit.
 *
 * Locking: none inside.  The caller serialises every call on one chain set
 * (the publisher's mutex, hence the _locked suffix; the cluster tier's
 * worker thread, which is the only thread touching its mirror).  Payload
 * callbacks run inside the call, under the same exclusion.
 */
#ifndef PCE_FLEET_CHAIN_H
#define PCE_FLEET_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "table.h"

/* The head of a caller's entry record; the set keeps a pointer to it. */
struct pce__chain_entry {
	uint64_t id;
	size_t n;         /* units in the chain */
	const void *keys; /* n keys, root first: uint64_t each, or two if wide */
};

struct pce__chain {
	struct pce__table entries;
	struct pce__table units;
	int wide; /* 0: a key is one uint64_t (k1 = 0); 1: two (k0, k1) */
};

struct pce__chain_ops {
	/* Unit @i of @e is newly held: set *@payload.  Return: 0, or -1 (out
	 * of memory: the add is undone). */
	int (*hold)(void *ctx, const struct pce__chain_entry *e, size_t i, uint64_t *payload);
	/* A unit is freed (refs 1 -> 0, or an undone hold): release @payload.
	 * NULL when payloads own nothing. */
	void (*drop)(uint64_t payload);
};

void pce__chain_init(struct pce__chain *c, int wide);
/* Free the tables, dropping every unit's payload (not the entry records:
 * see pce__chain_each_entry). */
void pce__chain_destroy(struct pce__chain *c, void (*drop)(uint64_t payload));

/*
 * pce__chain_add_locked - Record @e (the set keeps the pointer).
 * Return: the index of its first newly held unit (e->n: none), or -1: out
 * of memory, a refcount limit, or @e->id already recorded (nothing changed).
 */
long pce__chain_add_locked(struct pce__chain *c, struct pce__chain_entry *e,
			   const struct pce__chain_ops *ops, void *ctx);

/*
 * pce__chain_remove_locked - Forget entry @id.
 * Return: its record (the caller's again) with *@first set to the index of
 * the first unit no entry covers any more (units first..n-1 were dropped),
 * or NULL if @id is unknown.
 */
struct pce__chain_entry *pce__chain_remove_locked(struct pce__chain *c, uint64_t id,
						  size_t *first, void (*drop)(uint64_t payload));

/* pce__chain_find_locked - Entry @id's record, or NULL. */
struct pce__chain_entry *pce__chain_find_locked(const struct pce__chain *c, uint64_t id);

/* pce__chain_payload_locked - The payload of held unit (@k0, @k1), or 0. */
static inline uint64_t pce__chain_payload_locked(const struct pce__chain *c, uint64_t k0,
						 uint64_t k1)
{
	const struct pce__tslot *s = pce__table_find(&c->units, k0, k1);

	return s ? s->a : 0;
}

/*
 * pce__chain_each_locked - Visit the held units as chains, each unit once,
 * every unit after its parent: @fn(@ctx, e, first) stands for units
 * first..e->n-1 of e, whose parent is unit first - 1 (none when first is
 * 0).  Stops at the first nonzero return and returns it.  @fn must not
 * add or remove entries (the walk's marks are in the units' refcounts).
 */
int pce__chain_each_locked(struct pce__chain *c,
			   int (*fn)(void *ctx, const struct pce__chain_entry *e, size_t first),
			   void *ctx);

/* pce__chain_each_entry - Call @fn on every entry record (to free them
 * before pce__chain_destroy). */
void pce__chain_each_entry(struct pce__chain *c, void (*fn)(struct pce__chain_entry *e));

#endif /* PCE_FLEET_CHAIN_H */
