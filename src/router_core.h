/*
 * router_core.h - the router index's objects, shared by its modules:
 * router.c (life cycle and writers), router_match.c (the wait-free read
 * path) and router_audit.c.  Layout, invariants R1-R8 and the protocol
 * table are in router.c and docs/design.md.
 *
 * A router is a cache core (core.h: shards, writer locks, tries, retire
 * lists, reclaimer) whose tries carry, on every non-root node, the set of
 * owners holding the node's path: a ctable (ctable.h) keyed by owner id,
 * whose "node" word is an owner word (below) instead of a pointer.
 *
 * Locks.  Everything here but match's reads (RCU, router_match.c) and the
 * relaxed gauges, counters and set.ref is under the node's shard lock.  A
 * set's heap_idx (the node's expiry heap position, expiry.h) shares its
 * word with the set's retire link: it is written by expiry.c's pce_heap_*
 * under the shard lock, handed to a replacing set before the old one is
 * retired, and dead once the set is retired (router.c, "Heap positions").
 */
#ifndef PCE_ROUTER_CORE_H
#define PCE_ROUTER_CORE_H

#include "core.h"
#include "pce/router.h"

#if UINTPTR_MAX != UINT64_MAX
#error "owner words are stored in pointer-sized ctable slots"
#endif

/*
 * Owner word: (expiry code << 4) | 8 | tier.  Bit 3 keeps every word apart
 * from the ctable's NULL (empty) and PCE_CT_TOMB (1).  The expiry code is
 * the holding's expiry in units of 16 ns, rounded up (a holding may live up
 * to 15 ns longer than asked), or OW_NEVER.
 */
#define OW_NEVER (UINT64_MAX >> 4)
#define OW_TAG 8u

static inline uint64_t pce_ow_make(uint32_t tier, uint64_t expires_at)
{
	uint64_t code = expires_at == PCE_NEVER ? OW_NEVER
						: PCE_MIN((expires_at >> 4) + ((expires_at & 15) != 0),
							  OW_NEVER - 1);
	return code << 4 | OW_TAG | tier;
}

static inline uint32_t pce_ow_tier(uint64_t w)
{
	return (uint32_t)(w & 7);
}

static inline uint64_t pce_ow_expires(uint64_t w)
{
	uint64_t code = w >> 4;
	return code == OW_NEVER ? PCE_NEVER : code << 4;
}

static inline struct pce_node *pce_ow_ptr(uint64_t w)
{
	return (struct pce_node *)(uintptr_t)w;
}

static inline uint64_t pce_ow_word(const struct pce_node *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* Is @p (what a probe returned) an owner word, not empty nor a tombstone? */
static inline int pce_ow_is_word(const struct pce_node *p)
{
	return p != NULL && p != PCE_CT_TOMB;
}

/* The earliest expiry among the owners of set @t, or PCE_NEVER: the key of
 * its node in the shard's expiry heap (R8). */
static inline uint64_t pce_router_earliest(const struct pce_ctable *t)
{
	uint64_t min = PCE_NEVER;
	struct pce_node *w;
	size_t i;

	pce_ctable_for_each(t, i, w)
		min = PCE_MIN(min, pce_ow_expires(pce_ow_word(w)));
	return min;
}

/* Match statistics, one cache line per stripe (thread.h). */
struct pce_router_stripe {
	uint64_t matches;
	uint64_t owners_reported;
} pce_cacheline_aligned;

struct pce_router {
	/* read-mostly */
	struct pce_router_config cfg;
	struct pce_cache *core;          /* shards, tries, retire lists, reclaimer */
	struct pce_router_stripe *stripe; /* [PCE_STAT_STRIPES] */
	uint64_t budget, high, low;      /* index bytes; 0: unlimited.  W: create, then
	                                  * pce_router_set_budgets() (reclaim_lock),
	                                  * relaxed  R: relaxed, reservations under
	                                  * their shard lock */
	uint32_t has_ttl;                /* relaxed: set once an add had a TTL */
	/* gauges (relaxed atomics; W: shard locks) */
	uint64_t index_bytes pce_cacheline_aligned; /* trie + owner sets: the budget's */
	uint64_t owner_bytes;
	uint64_t holdings;
	/* counters (relaxed atomics) */
	uint64_t adds, adds_refused, removes;
	uint64_t removed[PCE_REASON_COUNT];
};

/* Blocks whose last token lies in @n's edge: a path's blocks, counted once
 * each over its nodes, even where a node ends inside a block. */
static inline uint64_t pce_router_blocks(const struct pce_router *r, const struct pce_node *n)
{
	uint32_t bs = r->cfg.block_size;
	return n->depth / bs - (n->depth - n->len) / bs;
}

/* Walking a trie under its shard lock, without recursion or memory:
 * parents are writer-side pointers, and a child's place in its parent's
 * table is found again by probing for its first token. */
struct pce_node *pce__router_first_leaf_locked(struct pce_node *n);
/* The node after @n in post-order within the subtree of @top, or NULL. */
struct pce_node *pce__router_post_next_locked(struct pce_node *n, const struct pce_node *top);

#endif /* PCE_ROUTER_CORE_H */
