/*
 * expiry.c - the per-shard expiry heap (see expiry.h, invariant I9).
 */
#include "expiry.h"

#include <string.h>

#include "alloc.h"

static void put(struct pce_heap *h, uint32_t i, struct pce_entry *e)
{
	h->item[i] = e;
	e->heap_idx = i;
}

static void sift_up(struct pce_heap *h, uint32_t i)
{
	struct pce_entry *e = h->item[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (h->item[parent]->expires_at <= e->expires_at)
			break;
		put(h, i, h->item[parent]);
		i = parent;
	}
	put(h, i, e);
}

static void sift_down(struct pce_heap *h, uint32_t i)
{
	struct pce_entry *e = h->item[i];

	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= h->size)
			break;
		if (c + 1 < h->size && h->item[c + 1]->expires_at < h->item[c]->expires_at)
			c++;
		if (e->expires_at <= h->item[c]->expires_at)
			break;
		put(h, i, h->item[c]);
		i = c;
	}
	put(h, i, e);
}

int pce_heap_prepare(const struct pce_heap *h, struct pce_heap_grow *g, int64_t *bytes)
{
	g->item = NULL;
	g->cap = 0;
	*bytes = 0;
	if (h->size < h->cap)
		return 0;
	g->cap = h->cap ? h->cap * 2 : 16;
	g->item = pce_alloc(pce_heap_bytes(g->cap));
	if (!g->item)
		return PCE_ENOMEM;
	*bytes = (int64_t)pce_heap_bytes(g->cap) - (int64_t)pce_heap_bytes(h->cap);
	return 0;
}

void pce_heap_abort(struct pce_heap_grow *g)
{
	pce_free(g->item);
	g->item = NULL;
}

void pce_heap_push(struct pce_heap *h, struct pce_heap_grow *g, struct pce_entry *e)
{
	if (g && g->item) {
		if (h->size)
			memcpy(g->item, h->item, pce_heap_bytes(h->size));
		pce_free(h->item);
		h->item = g->item;
		h->cap = g->cap;
		g->item = NULL;
	}
	PCE_ASSERT(h->size < h->cap);
	h->item[h->size] = e;
	e->heap_idx = h->size++;
	sift_up(h, e->heap_idx);
}

void pce_heap_later(struct pce_heap *h, struct pce_entry *e)
{
	if (e->expires_at == PCE_NEVER)
		pce_heap_remove(h, e);
	else
		sift_down(h, e->heap_idx);
}

void pce_heap_remove(struct pce_heap *h, struct pce_entry *e)
{
	uint32_t i = e->heap_idx;
	struct pce_entry *last;

	if (i == PCE_NO_HEAP)
		return;
	e->heap_idx = PCE_NO_HEAP;
	last = h->item[--h->size];
	if (i == h->size)
		return;
	put(h, i, last);
	sift_up(h, i);
	sift_down(h, last->heap_idx);
}
