/*
 * expiry.h - per-shard binary min-heap of the objects that expire, keyed by
 * their expiry, so the reclaimer finds what expired in O(log n) without
 * scanning.  One implementation, two kinds of item (chosen per shard by
 * heap.of_nodes):
 *   a cache's entries with a TTL, keyed by expires_at (I9);
 *   a router's trie nodes, keyed by the earliest expiry of their owners
 *   (router.c, R8).
 * An object's position word (entry.heap_idx; the owner set's heap_idx for
 * a router node) holds 1 + its index in the heap, or PCE_NO_HEAP (0) when
 * it is not in it.
 *
 * Invariant (I9): *pos(item[i].obj) == i + 1, and item[i].key >=
 * item[(i-1)/2].key.
 * Protocol: everything under the shard lock; readers never look at it.
 * Growth is split like trie changes: pce_heap_prepare() allocates (may
 * fail), pce_heap_push() cannot fail.
 */
#ifndef PCE_EXPIRY_H
#define PCE_EXPIRY_H

#include "core.h"

struct pce_heap_grow {
	struct pce_heap_item *item;
	uint32_t cap;
};

/* Allocate a bigger array into *g if @more pushes would not fit.  *bytes
 * receives the change in size.  Return: 0 or PCE_ENOMEM. */
int pce_heap_prepare(const struct pce_heap *h, uint32_t more, struct pce_heap_grow *g,
		     int64_t *bytes);
/* Drop what pce_heap_prepare() allocated. */
void pce_heap_abort(struct pce_heap_grow *g);
/* Install what pce_heap_prepare() grew into *g, if anything. */
void pce_heap_install(struct pce_heap *h, struct pce_heap_grow *g);
/* Push @obj (not in the heap) with @key, installing *g first if prepare
 * grew the array (@g may be NULL when there is room). */
void pce_heap_push(struct pce_heap *h, struct pce_heap_grow *g, void *obj, uint64_t key);
/* Take @obj out of the heap (no-op if it is not in it). */
void pce_heap_remove(struct pce_heap *h, void *obj);
/* @obj (in the heap) now has @key, in either direction; PCE_NEVER takes it
 * out of the heap. */
void pce_heap_rekey(struct pce_heap *h, void *obj, uint64_t key);
/* @obj replaced the object whose position word it took over (a router's
 * split tail takes the split node's owner set): the heap now names @obj. */
void pce_heap_moved(struct pce_heap *h, void *obj);
/* Move the top item to item[size - 1] and shrink the heap by one (as a
 * heapsort does): the popped items gather, latest first, past the heap. */
void pce_heap_pop(struct pce_heap *h);
/* The position word of @obj (see above). */
uint32_t *pce_heap_pos(const struct pce_heap *h, void *obj);

static inline const struct pce_heap_item *pce_heap_top(const struct pce_heap *h)
{
	return h->size ? &h->item[0] : NULL;
}

/* Key of @obj: its expiry in the heap, or PCE_NEVER if it is not in it. */
static inline uint64_t pce_heap_key(const struct pce_heap *h, void *obj)
{
	uint32_t p = *pce_heap_pos(h, obj);

	return p == PCE_NO_HEAP ? PCE_NEVER : h->item[p - 1].key;
}

static inline size_t pce_heap_bytes(uint32_t cap)
{
	return (size_t)cap * sizeof(struct pce_heap_item);
}

#endif /* PCE_EXPIRY_H */
