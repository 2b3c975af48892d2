/*
 * mirror.c - what this node has published: its entries and their chunks,
 * so that a REMOVED event (which carries no tokens) knows what to retract
 * and a republish needs no walk of the cache.
 *
 *   chain:   entry id -> { ns, n, ids[n] }      (one per STORED event)
 *            chunk id -> { ns, refcount }       (entries holding it)
 *   held:    (chunk id, owner) -> { ns, index, parent id }   (a router's)
 *   ns:      namespace -> boot token seen       (heartbeats, publish.c)
 *
 * A chunk is published when its refcount goes 0 -> 1 and retracted when it
 * goes 1 -> 0.  Entries of a cache are prefix-closed per chunk chain (an
 * entry holding chunk i holds 1..i-1), so "still held" is prefix-closed
 * too, and retracting the freed chunks deepest first keeps what Redis shows
 * prefix-closed at every instant, even if the pipeline breaks midway.
 *
 * A router's holdings are a set per owner, prefix-closed like the router's
 * (an owner holding a chunk holds its parent).  A router tells what an
 * owner lost by a cut: a depth, and the tokens above it only when it has
 * them (pce_router_remove; not for clears, expiries and evictions).  The
 * mirror then forgets the owner's chunks from that depth on below the path
 * it knows, under every path when it knows none: for a clear that is
 * exact; for an expiry or eviction in the middle of a chain it may forget
 * chunks of other paths the owner still holds.  L2 then shows less than
 * the owner holds (a hint too short, never one too long) until the router
 * stores them again.
 *
 * The entries and chunks are fleet/chain.h's refcounted chains (wide keys:
 * chunk ids), the other tables fleet/table.h's.  Worker thread only (the
 * chain's _locked calls need no lock beyond that).
 */
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

/* The chain's entry record: the ids (c.keys, malloc'd) and the namespace. */
struct mirror_entry {
	struct pce__chain_entry c;
	uint64_t ns;
};

/* A chunk newly held: its payload is its namespace (pce__publish_all). */
static int hold_ns(void *ctx, const struct pce__chain_entry *e, size_t i, uint64_t *payload)
{
	(void)e;
	(void)i;
	*payload = *(const uint64_t *)ctx;
	return 0;
}

static void free_entry(struct pce__chain_entry *e)
{
	free((void *)e->keys);
	free(e);
}

void pce__mirror_init(struct pce__mirror *m)
{
	memset(m, 0, sizeof(*m));
	pce__chain_init(&m->chain, 1);
}

long pce__mirror_add(struct pce__mirror *m, uint64_t id, uint64_t ns, struct pce_chunk_id *ids,
		     size_t n, size_t *fresh)
{
	static const struct pce__chain_ops ops = { hold_ns, NULL };
	struct mirror_entry *e = malloc(sizeof(*e));
	long first;

	if (!e) {
		free(ids);
		return PCE_ENOMEM;
	}
	*e = (struct mirror_entry){ { id, n, ids }, ns };
	first = pce__chain_add_locked(&m->chain, &e->c, &ops, &ns);
	if (first < 0) {
		free_entry(&e->c);
		return PCE_ENOMEM;
	}
	/* (C2): the fresh chunks are a suffix. */
	for (size_t i = (size_t)first; i < n; i++)
		fresh[i - (size_t)first] = i;
	return (long)(n - (size_t)first);
}

size_t pce__mirror_len(struct pce__mirror *m, uint64_t id)
{
	const struct pce__chain_entry *e = pce__chain_find_locked(&m->chain, id);

	return e ? e->n : 0;
}

size_t pce__mirror_remove(struct pce__mirror *m, uint64_t id, uint64_t *ns,
			  struct pce_chunk_id *gone, size_t room)
{
	size_t first, ng = 0;
	struct mirror_entry *e =
		(struct mirror_entry *)pce__chain_remove_locked(&m->chain, id, &first, NULL);
	const struct pce_chunk_id *ids;

	if (!e)
		return 0;
	*ns = e->ns;
	ids = e->c.keys;
	/* (C2): the chunks gone are a suffix; deepest first. */
	for (size_t i = e->c.n; i-- > first && ng < room;)
		gone[ng++] = ids[i];
	free_entry(&e->c);
	return ng;
}

/* The held table's key of (@id, @owner): one table for every owner. */
static uint64_t held_k0(const struct pce_chunk_id *id, uint32_t owner)
{
	return id->lo ^ pce__table_hash(owner, 0x68656c64u);
}

static struct pce__held *held_find(struct pce__mirror *m, const struct pce_chunk_id *id,
				   uint32_t owner)
{
	struct pce__tslot *s = pce__table_find(&m->held, held_k0(id, owner), id->hi);

	return s ? (struct pce__held *)(uintptr_t)s->a : NULL;
}

size_t pce__mirror_hold(struct pce__mirror *m, uint64_t ns, uint32_t owner,
			const struct pce_chunk_id *ids, size_t n, size_t *fresh, int *failed)
{
	size_t nf = 0;

	for (size_t i = 0; i < n; i++) {
		struct pce__tslot *s;
		struct pce__held *h;

		if (held_find(m, &ids[i], owner))
			continue;
		if (!(h = malloc(sizeof(*h))) ||
		    !(s = pce__table_get(&m->held, held_k0(&ids[i], owner), ids[i].hi))) {
			free(h);
			*failed = 1;
			break;
		}
		h->id = ids[i];
		h->parent = i ? ids[i - 1] : (struct pce_chunk_id){0, 0};
		h->ns = ns;
		h->owner = owner;
		h->index = (uint32_t)i;
		s->a = (uint64_t)(uintptr_t)h;
		fresh[nf++] = i;
	}
	return nf;
}

/* Whether @h lies below @path[0..@npath): its ancestor at index npath - 1
 * is the path's last chunk.  A broken parent chain (not expected: the set
 * is prefix-closed) counts as below, so the chunk is forgotten rather than
 * left published. */
static int below(struct pce__mirror *m, const struct pce__held *h,
		 const struct pce_chunk_id *path, size_t npath)
{
	if (npath == 0)
		return 1;
	while (h && h->index > npath - 1)
		h = held_find(m, &h->parent, h->owner);
	return !h || (h->id.lo == path[npath - 1].lo && h->id.hi == path[npath - 1].hi);
}

static int deeper_held_first(const void *a, const void *b)
{
	const struct pce__held *x = *(struct pce__held *const *)a, *y = *(struct pce__held *const *)b;

	return x->index < y->index ? 1 : x->index > y->index ? -1 : 0;
}

long pce__mirror_release(struct pce__mirror *m, uint64_t ns, uint32_t owner, uint32_t level,
			 const struct pce_chunk_id *path, size_t npath, struct pce_chunk_id **gone)
{
	struct pce__held **hit;
	size_t n = 0;

	*gone = NULL;
	if (m->held.len == 0)
		return 0;
	/* Collect first: deciding "below" walks parents, which must all
	 * still be there. */
	if (!(hit = malloc(m->held.len * sizeof(*hit))))
		return PCE_ENOMEM;
	for (size_t i = 0; i < m->held.cap; i++) {
		struct pce__held *h = (struct pce__held *)(uintptr_t)m->held.s[i].a;
		if (m->held.s[i].used && h->owner == owner && h->ns == ns && h->index >= level &&
		    below(m, h, path, npath))
			hit[n++] = h;
	}
	if (n && !(*gone = malloc(n * sizeof(**gone)))) {
		free(hit);
		return PCE_ENOMEM;
	}
	qsort(hit, n, sizeof(*hit), deeper_held_first);
	for (size_t i = 0; i < n; i++) {
		(*gone)[i] = hit[i]->id;
		pce__table_del(&m->held, pce__table_find(&m->held, held_k0(&hit[i]->id, owner),
							 hit[i]->id.hi));
		free(hit[i]);
	}
	free(hit);
	return (long)n;
}

void pce__mirror_free(struct pce__mirror *m)
{
	pce__chain_each_entry(&m->chain, free_entry);
	pce__chain_destroy(&m->chain, NULL);
	for (size_t i = 0; i < m->held.cap; i++)
		if (m->held.s[i].used)
			free((void *)(uintptr_t)m->held.s[i].a);
	pce__table_free(&m->held);
	pce__table_free(&m->ns);
}
