/*
 * events/blockmap.c - per-owner block maps over one interned token store.
 * Invariants and threading: events/blockmap.h.
 *
 * Interned nodes: chained hashing on key = mix(parent index, tokens);
 * equality compares parent index and tokens exactly, so the key is only a
 * bucket choice.  A node's slot is reused (free list) only once its refs
 * reach 0; it then releases its parent's reference.
 *
 * Map: linear probing on the engine hash; removal shifts later entries of
 * the run back (no tombstones), so a lookup stops at the first empty slot.
 */
#include <stdlib.h>
#include <string.h>

#include "blockmap.h"

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static uint64_t node_key(uint32_t parent, const uint32_t *tok, uint32_t n)
{
	uint64_t h = mix64(parent + 0x9e3779b97f4a7c15ull);

	for (uint32_t i = 0; i < n; i++)
		h = (h ^ tok[i]) * 0x100000001b3ull;
	return mix64(h ^ n);
}

void pce_intern_init(struct pce_intern *in)
{
	memset(in, 0, sizeof(*in));
	in->free_head = PCE_BM_NONE;
}

void pce_intern_free(struct pce_intern *in)
{
	for (uint32_t i = 0; i < in->n; i++)
		if (in->node[i].refs)
			free(in->node[i].tok);
	free(in->node);
	free(in->bucket);
	pce_intern_init(in);
}

uint64_t pce_intern_bytes(const struct pce_intern *in)
{
	return (uint64_t)in->cap * sizeof(*in->node) + (uint64_t)in->nbucket * sizeof(uint32_t) +
	       in->token_bytes;
}

static int intern_rehash(struct pce_intern *in, uint32_t nb)
{
	uint32_t *b = malloc((size_t)nb * sizeof(*b));

	if (!b)
		return -1;
	for (uint32_t i = 0; i < nb; i++)
		b[i] = PCE_BM_NONE;
	for (uint32_t i = 0; i < in->n; i++) {
		struct pce_intern_node *x = &in->node[i];

		if (!x->refs)
			continue;
		x->next = b[x->key & (nb - 1)];
		b[x->key & (nb - 1)] = i;
	}
	free(in->bucket);
	in->bucket = b;
	in->nbucket = nb;
	return 0;
}

static void intern_put(struct pce_intern *in, uint32_t i)
{
	while (i != PCE_BM_NONE) {
		struct pce_intern_node *x = &in->node[i];
		uint32_t *pp, parent;

		if (--x->refs)
			return;
		for (pp = &in->bucket[x->key & (in->nbucket - 1)]; *pp != i; pp = &in->node[*pp].next)
			;
		*pp = x->next;
		in->token_bytes -= (uint64_t)x->ntok * sizeof(uint32_t);
		free(x->tok);
		x->tok = NULL;
		parent = x->parent;
		x->next = in->free_head;
		in->free_head = i;
		in->live--;
		i = parent; /* release the reference this node held on its parent */
	}
}

/* The node of (@parent, @tok[0..@n)), with one more reference; PCE_BM_NONE on ENOMEM. */
static uint32_t intern_get(struct pce_intern *in, uint32_t parent, const uint32_t *tok,
			   uint32_t n)
{
	uint64_t key = node_key(parent, tok, n);
	struct pce_intern_node *x;
	uint32_t i;

	if (in->nbucket)
		for (i = in->bucket[key & (in->nbucket - 1)]; i != PCE_BM_NONE; i = x->next) {
			x = &in->node[i];
			if (x->key == key && x->parent == parent && x->ntok == n &&
			    !memcmp(x->tok, tok, (size_t)n * sizeof(*tok))) {
				x->refs++;
				return i;
			}
		}
	if (in->live + 1 > in->nbucket / 2 &&
	    intern_rehash(in, in->nbucket ? in->nbucket * 2 : 64))
		return PCE_BM_NONE;
	if (in->free_head != PCE_BM_NONE) {
		i = in->free_head;
		in->free_head = in->node[i].next;
	} else {
		if (in->n == in->cap) {
			uint32_t nc = in->cap ? in->cap * 2 : 64;
			void *p = realloc(in->node, (size_t)nc * sizeof(*in->node));

			if (!p)
				return PCE_BM_NONE;
			in->node = p;
			in->cap = nc;
		}
		i = in->n++;
	}
	x = &in->node[i];
	x->tok = malloc((size_t)(n ? n : 1) * sizeof(*tok));
	if (!x->tok) {
		x->refs = 0;
		x->next = in->free_head;
		in->free_head = i;
		return PCE_BM_NONE;
	}
	memcpy(x->tok, tok, (size_t)n * sizeof(*tok));
	x->key = key;
	x->parent = parent;
	x->ntok = n;
	x->depth = n + (parent == PCE_BM_NONE ? 0 : in->node[parent].depth);
	x->refs = 1;
	if (parent != PCE_BM_NONE)
		in->node[parent].refs++;
	x->next = in->bucket[key & (in->nbucket - 1)];
	in->bucket[key & (in->nbucket - 1)] = i;
	in->live++;
	in->token_bytes += (uint64_t)n * sizeof(uint32_t);
	return i;
}

void pce_bm_init(struct pce_blockmap *m)
{
	memset(m, 0, sizeof(*m));
	m->free_head = PCE_BM_NONE;
}

void pce_bm_clear(struct pce_blockmap *m, struct pce_intern *in)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (m->e[i].node != PCE_BM_NONE)
			intern_put(in, m->e[i].node);
	m->n = 0;
	m->live = 0;
	m->free_head = PCE_BM_NONE;
	for (uint32_t i = 0; i < m->nslot; i++)
		m->slot[i] = PCE_BM_NONE;
}

void pce_bm_free(struct pce_blockmap *m, struct pce_intern *in)
{
	pce_bm_clear(m, in);
	free(m->e);
	free(m->slot);
	pce_bm_init(m);
}

uint64_t pce_bm_bytes(const struct pce_blockmap *m)
{
	return (uint64_t)m->cap * sizeof(*m->e) + (uint64_t)m->nslot * sizeof(uint32_t);
}

uint32_t pce_bm_find(const struct pce_blockmap *m, uint64_t hash)
{
	uint32_t mask = m->nslot - 1;

	if (!m->nslot)
		return PCE_BM_NONE;
	for (uint32_t s = (uint32_t)mix64(hash) & mask;; s = (s + 1) & mask) {
		uint32_t i = m->slot[s];

		if (i == PCE_BM_NONE || m->e[i].hash == hash)
			return i;
	}
}

static int map_regrow(struct pce_blockmap *m, uint32_t ns)
{
	uint32_t *sl = malloc((size_t)ns * sizeof(*sl));

	if (!sl)
		return -1;
	for (uint32_t i = 0; i < ns; i++)
		sl[i] = PCE_BM_NONE;
	for (uint32_t i = 0; i < m->n; i++) {
		uint32_t s;

		if (m->e[i].node == PCE_BM_NONE)
			continue;
		for (s = (uint32_t)mix64(m->e[i].hash) & (ns - 1); sl[s] != PCE_BM_NONE;
		     s = (s + 1) & (ns - 1))
			;
		sl[s] = i;
	}
	free(m->slot);
	m->slot = sl;
	m->nslot = ns;
	return 0;
}

uint32_t pce_bm_insert(struct pce_blockmap *m, struct pce_intern *in, uint64_t hash,
		       uint32_t parent, uint64_t ns, const uint32_t *tok, uint32_t n,
		       uint8_t media, uint8_t tier)
{
	struct pce_bm_entry *e;
	uint32_t i, node, s;

	/* load factor <= 1/2 keeps probe runs short */
	if ((m->live + 1) * 2 > m->nslot && map_regrow(m, m->nslot ? m->nslot * 2 : 64))
		return PCE_BM_NONE;
	if (m->free_head == PCE_BM_NONE && m->n == m->cap) {
		uint32_t nc = m->cap ? m->cap * 2 : 64;
		void *p = realloc(m->e, (size_t)nc * sizeof(*m->e));

		if (!p)
			return PCE_BM_NONE;
		m->e = p;
		m->cap = nc;
	}
	node = intern_get(in, parent == PCE_BM_NONE ? PCE_BM_NONE : m->e[parent].node, tok, n);
	if (node == PCE_BM_NONE)
		return PCE_BM_NONE;
	if (m->free_head != PCE_BM_NONE) {
		i = m->free_head;
		m->free_head = m->e[i].next;
	} else {
		i = m->n++;
	}
	e = &m->e[i];
	e->hash = hash;
	e->ns = ns;
	e->node = node;
	e->parent = parent;
	e->child = PCE_BM_NONE;
	e->prev = PCE_BM_NONE;
	e->media = media;
	e->tier = tier;
	if (parent != PCE_BM_NONE) {
		e->next = m->e[parent].child;
		if (e->next != PCE_BM_NONE)
			m->e[e->next].prev = i;
		m->e[parent].child = i;
	} else {
		e->next = PCE_BM_NONE;
	}
	for (s = (uint32_t)mix64(hash) & (m->nslot - 1); m->slot[s] != PCE_BM_NONE;
	     s = (s + 1) & (m->nslot - 1))
		;
	m->slot[s] = i;
	m->live++;
	return i;
}

/* Take entry @i out of the probe table (backward-shift deletion). */
static void slot_delete(struct pce_blockmap *m, uint32_t i)
{
	uint32_t mask = m->nslot - 1, s, j;

	for (s = (uint32_t)mix64(m->e[i].hash) & mask; m->slot[s] != i; s = (s + 1) & mask)
		;
	for (j = (s + 1) & mask; m->slot[j] != PCE_BM_NONE; j = (j + 1) & mask) {
		uint32_t home = (uint32_t)mix64(m->e[m->slot[j]].hash) & mask;

		/* move slot j back to s when its home is not in (s, j] */
		if (((j - home) & mask) >= ((j - s) & mask)) {
			m->slot[s] = m->slot[j];
			s = j;
		}
	}
	m->slot[s] = PCE_BM_NONE;
}

static void entry_release(struct pce_blockmap *m, struct pce_intern *in, uint32_t i)
{
	struct pce_bm_entry *e = &m->e[i];

	slot_delete(m, i);
	intern_put(in, e->node);
	e->node = PCE_BM_NONE;
	e->next = m->free_head;
	m->free_head = i;
	m->live--;
}

uint32_t pce_bm_remove(struct pce_blockmap *m, struct pce_intern *in, uint32_t i,
		       void (*fn)(void *ctx, uint32_t i), void *ctx)
{
	struct pce_bm_entry *e = &m->e[i];
	uint32_t removed = 0, c = i;

	/* unlink @i from its parent's children */
	if (e->prev != PCE_BM_NONE)
		m->e[e->prev].next = e->next;
	else if (e->parent != PCE_BM_NONE)
		m->e[e->parent].child = e->next;
	if (e->next != PCE_BM_NONE)
		m->e[e->next].prev = e->prev;
	e->next = PCE_BM_NONE;
	e->prev = PCE_BM_NONE;
	e->parent = PCE_BM_NONE;
	/*
	 * Pre-order walk without a stack: descend to children first; a leaf is
	 * released and the walk continues at its sibling or climbs back.
	 */
	if (fn)
		fn(ctx, c);
	for (;;) {
		struct pce_bm_entry *x = &m->e[c];
		uint32_t up;

		if (x->child != PCE_BM_NONE) {
			c = x->child;
			if (fn)
				fn(ctx, c);
			continue;
		}
		/* leaf: release it; its parent's child list advances */
		up = x->parent;
		if (up != PCE_BM_NONE) {
			m->e[up].child = x->next;
			if (x->next != PCE_BM_NONE)
				m->e[x->next].prev = PCE_BM_NONE;
		}
		entry_release(m, in, c);
		removed++;
		if (c == i)
			return removed;
		c = up;
	}
}

uint32_t pce_bm_path(const struct pce_blockmap *m, const struct pce_intern *in, uint32_t i,
		     uint32_t **buf, uint32_t *cap)
{
	uint32_t node = m->e[i].node, depth = in->node[node].depth;

	if (depth > *cap) {
		uint32_t nc = *cap ? *cap : 256;
		void *p;

		while (nc < depth)
			nc *= 2;
		p = realloc(*buf, (size_t)nc * sizeof(**buf));
		if (!p)
			return 0;
		*buf = p;
		*cap = nc;
	}
	for (uint32_t end = depth; node != PCE_BM_NONE; node = in->node[node].parent) {
		const struct pce_intern_node *x = &in->node[node];

		end -= x->ntok;
		memcpy(*buf + end, x->tok, (size_t)x->ntok * sizeof(uint32_t));
	}
	return depth;
}

const uint32_t *pce_bm_tokens(const struct pce_blockmap *m, const struct pce_intern *in,
			      uint32_t i, uint32_t *n)
{
	const struct pce_intern_node *x = &in->node[m->e[i].node];

	*n = x->ntok;
	return x->tok;
}
