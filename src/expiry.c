/*
 * expiry.c - the per-shard expiry heap (see expiry.h, invariant I9).
 */
#include "expiry.h"

#include <string.h>

#include "alloc.h"

uint32_t *pce_heap_pos(const struct pce_heap *h, void *obj)
{
	if (h->of_nodes)
		return &((struct pce_node *)obj)->owners->heap_idx;
	return &((struct pce_entry *)obj)->heap_idx;
}

static void put(struct pce_heap *h, uint32_t i, struct pce_heap_item it)
{
	h->item[i] = it;
	*pce_heap_pos(h, it.obj) = i + 1;
}

static void sift_up(struct pce_heap *h, uint32_t i)
{
	struct pce_heap_item it = h->item[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (h->item[parent].key <= it.key)
			break;
		put(h, i, h->item[parent]);
		i = parent;
	}
	put(h, i, it);
}

static void sift_down(struct pce_heap *h, uint32_t i)
{
	struct pce_heap_item it = h->item[i];

	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= h->size)
			break;
		if (c + 1 < h->size && h->item[c + 1].key < h->item[c].key)
			c++;
		if (it.key <= h->item[c].key)
			break;
		put(h, i, h->item[c]);
		i = c;
	}
	put(h, i, it);
}

int pce_heap_prepare(const struct pce_heap *h, uint32_t more, struct pce_heap_grow *g,
		     int64_t *bytes)
{
	uint64_t want = (uint64_t)h->size + more;

	g->item = NULL;
	g->cap = 0;
	*bytes = 0;
	if (want <= h->cap)
		return 0;
	if (want > UINT32_MAX / 2)
		return PCE_ENOMEM;
	g->cap = h->cap ? h->cap * 2 : 16;
	while (g->cap < want)
		g->cap *= 2;
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

void pce_heap_install(struct pce_heap *h, struct pce_heap_grow *g)
{
	if (!g->item)
		return;
	if (h->size)
		memcpy(g->item, h->item, pce_heap_bytes(h->size));
	pce_free(h->item);
	h->item = g->item;
	h->cap = g->cap;
	g->item = NULL;
}

void pce_heap_push(struct pce_heap *h, struct pce_heap_grow *g, void *obj, uint64_t key)
{
	if (g)
		pce_heap_install(h, g);
	PCE_ASSERT(h->size < h->cap);
	h->item[h->size].key = key;
	h->item[h->size].obj = obj;
	sift_up(h, h->size++);
}

void pce_heap_rekey(struct pce_heap *h, void *obj, uint64_t key)
{
	uint32_t p = *pce_heap_pos(h, obj);

	if (p == PCE_NO_HEAP)
		return;
	if (key == PCE_NEVER) {
		pce_heap_remove(h, obj);
		return;
	}
	h->item[p - 1].key = key;
	sift_up(h, p - 1);
	sift_down(h, *pce_heap_pos(h, obj) - 1);
}

void pce_heap_moved(struct pce_heap *h, void *obj)
{
	uint32_t p = *pce_heap_pos(h, obj);

	if (p != PCE_NO_HEAP)
		h->item[p - 1].obj = obj;
}

void pce_heap_remove(struct pce_heap *h, void *obj)
{
	uint32_t *pos = pce_heap_pos(h, obj), i = *pos - 1;
	struct pce_heap_item last;

	if (*pos == PCE_NO_HEAP)
		return;
	*pos = PCE_NO_HEAP;
	last = h->item[--h->size];
	if (i == h->size)
		return;
	put(h, i, last);
	sift_up(h, i);
	sift_down(h, *pce_heap_pos(h, last.obj) - 1);
}

void pce_heap_pop(struct pce_heap *h)
{
	struct pce_heap_item top = h->item[0];

	*pce_heap_pos(h, top.obj) = PCE_NO_HEAP;
	h->item[0] = h->item[--h->size];
	if (h->size)
		sift_down(h, 0);
	h->item[h->size] = top;
}
