/*
 * ctable.h - RCU open-addressing table from a 64-bit key to a trie node.
 *
 * One type serves two jobs: a node's children (key = first token of the
 * child's edge) and a shard's namespace roots (key = namespace).
 *
 * Layout: a header, then 2^log2cap slots of {key, node}.  Linear probing
 * from pce_ctable_home(key).
 *
 *   slot.node == NULL          empty: ends every probe
 *   slot.node == PCE_CT_TOMB   deleted; slot.key stays, so the slot keeps its key
 *   slot.node == a node        live
 *
 * Invariants
 *   (T1) A slot's key is written once, before its node is first published,
 *        and never changes for the table's lifetime.
 *   (T2) A key occupies at most one slot of a table.
 *   (T3) used (live + tombstones) <= max_used(cap) < cap, so every probe
 *        meets an empty slot: lookups terminate in at most cap probes.
 *
 * Protocol
 *   field           written by (lock)                 read by
 *   log2cap         creator, before publication       anyone under RCU
 *   slot.key        writer (shard lock), before the   anyone under RCU, after an
 *                   slot's first node store (T1)      acquire load of slot.node
 *   slot.node       writer (shard lock): release      anyone under RCU: acquire
 *                   store of EMPTY->node, node->node
 *                   (same key), node->TOMB, TOMB->node
 *   used            writer (shard lock)               writer only
 *   live            writer (shard lock), relaxed      writer; readers (relaxed) that
 *                   store                             only want a count (router)
 *   ref             readers (relaxed, only when it    the router's CLOCK hand
 *                   changes); the hand (shard lock)   (owner sets only)
 *
 * A full table is never grown in place: the writer builds a bigger table,
 * publishes it with one pointer store in its owner, and retires the old one.
 */
#ifndef PCE_CTABLE_H
#define PCE_CTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "rcu.h"

struct pce_node;

#define PCE_CT_TOMB ((struct pce_node *)(uintptr_t)1)

struct pce_ctslot {
	uint64_t key;
	struct pce_node *node;
};

struct pce_ctable {
	union {
		struct pce_ctable *retire_next; /* retire list link (writer only) */
		uint32_t heap_idx;  /* a live owner set: its node's position in the
		                     * shard's expiry heap (expiry.h; shard lock);
		                     * out of the heap or handed on before the set
		                     * is retired, which overwrites it (router.c) */
	};
	uint32_t log2cap;               /* immutable */
	uint32_t used;                  /* live + tombstones (writer only) */
	uint32_t live;                  /* see the protocol table */
	uint32_t ref;                   /* owner sets: CLOCK reference; else 0 */
	struct pce_ctslot slot[];
};

static inline size_t pce_ctable_cap(const struct pce_ctable *t)
{
	return (size_t)1 << t->log2cap;
}

/* Bytes of a table of 2^log2cap slots (what index accounting counts). */
static inline size_t pce_ctable_size(uint32_t log2cap)
{
	return sizeof(struct pce_ctable) + ((size_t)1 << log2cap) * sizeof(struct pce_ctslot);
}

/* Fibonacci hashing: token ids and namespaces are often small, dense
 * integers, which a multiplicative hash spreads over the table. */
static inline size_t pce_ctable_home(const struct pce_ctable *t, uint64_t key)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> (64 - t->log2cap));
}

/*
 * pce_ctable_probe_rcu - What the slot of @key holds: a live node,
 * PCE_CT_TOMB (the key was deleted from this table instance: by T1 a
 * tombstone keeps its key), or NULL (the key never was in it).  Under RCU
 * or the owner's lock.  Wait-free: at most cap probes (T3), no writes.
 */
static inline struct pce_node *pce_ctable_probe_rcu(const struct pce_ctable *t, uint64_t key)
{
	size_t mask = pce_ctable_cap(t) - 1;
	size_t i = pce_ctable_home(t, key);

	for (size_t probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
		struct pce_node *n = pce_rcu_deref(t->slot[i].node);
		if (n == NULL || t->slot[i].key == key)
			return n;
	}
	return NULL;
}

/* Live keys of @t, as its writer last stored the count (relaxed). */
static inline size_t pce_ctable_live_rcu(const struct pce_ctable *t)
{
	return pce_load_relaxed(&t->live);
}

/*
 * pce_ctable_find_rcu - The live node stored under @key, or NULL.
 * Call under rcu_read_lock (or the owner's shard lock).  Wait-free: at most
 * cap probes (T3), no writes.
 */
static inline struct pce_node *pce_ctable_find_rcu(const struct pce_ctable *t, uint64_t key)
{
	struct pce_node *n = pce_ctable_probe_rcu(t, key);

	return n == PCE_CT_TOMB ? NULL : n;
}

/* Iterate the live nodes of @t (writer side, or a reader that tolerates a
 * concurrent view). */
#define pce_ctable_for_each(t, i, n)                                                  \
	for ((i) = 0; (t) != NULL && (i) < pce_ctable_cap(t); (i)++)                     \
		if (((n) = pce_rcu_deref((t)->slot[(i)].node)) != NULL && (n) != PCE_CT_TOMB)

/* Writer side (shard lock held). */

/* A new table with room for @want live keys, empty; NULL if out of memory.
 * *bytes receives its size. */
struct pce_ctable *pce_ctable_new(size_t want, size_t *bytes);

/* Can @key be added without rebuilding (T3 kept)? */
int pce_ctable_has_room(const struct pce_ctable *t, uint64_t key);

/* Publish @n under @key, which must not be live.  Requires has_room. */
void pce_ctable_add_locked(struct pce_ctable *t, uint64_t key, struct pce_node *n);

/* Replace the live node under @key by @n (one release store). */
void pce_ctable_replace_locked(struct pce_ctable *t, uint64_t key, struct pce_node *n);

/* Turn the live slot of @key into a tombstone. */
void pce_ctable_delete_locked(struct pce_ctable *t, uint64_t key);

/* A new table holding the live slots of @old (may be NULL) plus @key -> @n
 * (@n NULL: nothing added), sized for them; NULL if out of memory.
 * Not published: the caller publishes it and retires @old. */
struct pce_ctable *pce_ctable_rebuild(const struct pce_ctable *old, uint64_t key,
				      struct pce_node *n, size_t *bytes);

/* The only live node of @t, or NULL if @t does not hold exactly one. */
struct pce_node *pce_ctable_only_child(const struct pce_ctable *t);

#endif /* PCE_CTABLE_H */
