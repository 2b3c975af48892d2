/*
 * expiry.h - per-shard binary min-heap of the entries that have a TTL,
 * ordered by expires_at, so the reclaimer finds expired entries in
 * O(log n) without scanning.  Entries without a TTL are not in it
 * (heap_idx == PCE_NO_HEAP).
 *
 * Invariant (I9): item[i]->heap_idx == i, and every item expires no earlier
 * than its parent item[(i-1)/2].
 * Protocol: everything under the shard lock; readers never look at it.
 * Growth is split like trie changes: pce_heap_prepare() allocates (may
 * fail), pce_heap_push() cannot fail.
 */
#ifndef PCE_EXPIRY_H
#define PCE_EXPIRY_H

#include "core.h"

struct pce_heap_grow {
	struct pce_entry **item;
	uint32_t cap;
};

/* Allocate a bigger array into *g if one more push would not fit.
 * *bytes receives the change in size.  Return: 0 or PCE_ENOMEM. */
int pce_heap_prepare(const struct pce_heap *h, struct pce_heap_grow *g, int64_t *bytes);
/* Drop what pce_heap_prepare() allocated. */
void pce_heap_abort(struct pce_heap_grow *g);
/* Push @e, installing *g first if prepare grew the array. */
void pce_heap_push(struct pce_heap *h, struct pce_heap_grow *g, struct pce_entry *e);
void pce_heap_remove(struct pce_heap *h, struct pce_entry *e);
/* @e (in the heap) now expires later: move it down, or out of the heap
 * if it no longer expires. */
void pce_heap_later(struct pce_heap *h, struct pce_entry *e);

static inline struct pce_entry *pce_heap_top(const struct pce_heap *h)
{
	return h->size ? h->item[0] : NULL;
}

static inline size_t pce_heap_bytes(uint32_t cap)
{
	return (size_t)cap * sizeof(struct pce_entry *);
}

#endif /* PCE_EXPIRY_H */
