/*
 * reqlog.c - per-request figures of an unlimited-cache replay and what
 * pce analyze asks of them (see reqlog.h).
 *
 * The request tree.  In an unlimited cache, request r's lookup matches h
 * ids and names a stored request e that starts with those h ids.  Hanging
 * r under e at depth h, and walking up while h <= depth(e) (e's own first
 * depth(e) ids are its parent's: so are r's first h), makes every request's
 * parent the *first* request that held the shared prefix, and gives
 *   (T1) depth(r) > depth(parent(r)) whenever parent(r) has a parent;
 *   (T2) every descendant of a child c of p starts with p's first
 *        depth(c) ids (by T1 and induction).
 * So the requests that start with (p, L), the first L ids of p, are p and
 * the subtrees of p's children of depth >= L: counting them takes one
 * bottom-up pass for subtree sizes and one sort of the children by (parent,
 * depth).
 *   (W3) A prefix is listed when it is maximal for the requests of the
 *        window that start with it: no longer prefix has the same ones.
 *        Candidates are (p, depth of a child of p): one id further, the
 *        children of exactly that depth part ways with p and each other
 *        (two of them going on alike would have matched each other).
 *        With a window, requests outside it do not count, so a candidate
 *        whose counted requests all go one way is dropped (see the loop).
 * No token is stored and no hash is trusted: the tree comes from the
 * cache's exact matches.
 *
 *   ids:  A = [1 2 3 4]   B = [1 2 3 9]   C = [1 2 7]   D = [1 2 3 4 5]
 *   tree: A -+- B (depth 3)      prefixes: (A,3) [1 2 3]   A B D    3 requests
 *            +- C (depth 2)                (A,2) [1 2]     A B C D  4
 *            +- D (depth 4)                (A,4) [1 2 3 4] A D      2
 *
 * The walk up is O(depth of the tree) per request in the worst case; in
 * chat-like traces a request usually extends the one it matched, and the
 * walk stops at once.
 */
#include <stdlib.h>
#include <string.h>

#include <pce/pce.h>

#include "reqlog.h"

#define NO_PARENT UINT32_MAX

struct rec {
	uint32_t parent;     /* NO_PARENT, or the first request holding its prefix */
	uint32_t depth;      /* ids shared with the parent (the hit) */
	uint32_t len;        /* ids */
	uint32_t ns;
	uint32_t tokens;
	uint32_t hit_tokens;
	uint32_t block_size;
};

struct pce_reqlog {
	struct rec *rec;
	size_t n, cap;
};

int pce_reqlog_create(struct pce_reqlog **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : PCE_ENOMEM;
}

int pce_reqlog_add(struct pce_reqlog *a, const struct pce_trace_request *r,
		     const struct pce_replay_hit *hit)
{
	struct rec *q;

	if (r->index != a->n || a->n >= NO_PARENT - 1 || r->len > UINT32_MAX ||
	    r->tokens > UINT32_MAX || r->ns > UINT32_MAX || (hit->ids && hit->source >= a->n))
		return PCE_EINVAL;
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 4096;
		struct rec *p = realloc(a->rec, cap * sizeof(*p));

		if (!p)
			return PCE_ENOMEM;
		a->rec = p;
		a->cap = cap;
	}
	q = &a->rec[a->n++];
	q->parent = NO_PARENT;
	q->depth = (uint32_t)hit->ids;
	q->len = (uint32_t)r->len;
	q->ns = (uint32_t)r->ns;
	q->tokens = (uint32_t)r->tokens;
	q->hit_tokens = (uint32_t)hit->tokens;
	q->block_size = r->block_size;
	if (hit->ids) {
		uint32_t e = (uint32_t)hit->source;

		while (a->rec[e].parent != NO_PARENT && hit->ids <= a->rec[e].depth)
			e = a->rec[e].parent;
		q->parent = e;
	}
	return 0;
}

uint64_t pce_reqlog_requests(const struct pce_reqlog *a)
{
	return a->n;
}

static void add(struct pce_replay_counts *c, const struct rec *q)
{
	c->requests++;
	c->tokens += q->tokens;
	c->hit_tokens += q->hit_tokens;
	c->ids += q->len;
	c->hit_ids += q->depth;
}

void pce_reqlog_totals(const struct pce_reqlog *a, uint64_t from,
			 struct pce_replay_counts *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = from; i < a->n; i++)
		add(out, &a->rec[i]);
}

void pce_reqlog_by_ns(const struct pce_reqlog *a, uint64_t from,
			struct pce_replay_counts *out, size_t n_ns)
{
	memset(out, 0, n_ns * sizeof(*out));
	for (size_t i = from; i < a->n; i++) {
		if (a->rec[i].ns < n_ns)
			add(&out[a->rec[i].ns], &a->rec[i]);
	}
}

void pce_reqlog_reuse(const struct pce_reqlog *a, uint64_t from,
			struct pce_reuse_bucket out[PCE_REUSE_BUCKETS])
{
	memset(out, 0, PCE_REUSE_BUCKETS * sizeof(*out));
	for (int b = 1; b < PCE_REUSE_BUCKETS; b++) {
		out[b].min_tokens = (uint64_t)1 << (b - 1);
		out[b].max_tokens = ((uint64_t)1 << b) - 1;
	}
	for (size_t i = from; i < a->n; i++) {
		uint32_t h = a->rec[i].hit_tokens;
		int b = h ? 64 - __builtin_clzll(h) : 0; /* 1 + floor(log2 h) */

		out[b].requests++;
		out[b].hit_tokens += h;
	}
}

/* A child edge of the tree: request `child` hangs under `parent` at
 * `depth`; `sub` requests of the window are in its subtree. */
struct edge {
	uint32_t parent, depth;
	uint64_t sub;
};

static int by_parent_depth(const void *x, const void *y)
{
	const struct edge *a = x, *b = y;

	if (a->parent != b->parent)
		return a->parent < b->parent ? -1 : 1;
	return a->depth > b->depth ? -1 : a->depth < b->depth;
}

/* Ranking: more requests first, then longer, then older. */
static int better(const struct pce_shared_prefix *a, const struct pce_shared_prefix *b)
{
	if (a->requests != b->requests)
		return a->requests > b->requests;
	if (a->ids != b->ids)
		return a->ids > b->ids;
	return a->origin < b->origin;
}

/* Keep out[0..*n) the best @k, sorted (insertion: k is small). */
static void offer(struct pce_shared_prefix *out, size_t k, size_t *n,
		  const struct pce_shared_prefix *p)
{
	size_t i;

	if (*n == k && !better(p, &out[k - 1]))
		return;
	i = *n < k ? (*n)++ : k - 1;
	while (i > 0 && better(p, &out[i - 1])) {
		out[i] = out[i - 1];
		i--;
	}
	out[i] = *p;
}

int pce_reqlog_shared(const struct pce_reqlog *a, uint64_t from,
			struct pce_shared_prefix *out, size_t k, size_t *n_out)
{
	uint64_t *sub = calloc(a->n ? a->n : 1, sizeof(*sub));
	struct edge *e = malloc((a->n ? a->n : 1) * sizeof(*e));
	size_t n_e = 0;

	*n_out = 0;
	if (!sub || !e) {
		free(sub);
		free(e);
		return PCE_ENOMEM;
	}
	/* Children come after their parents: one backward pass sums subtrees. */
	for (size_t i = a->n; i-- > 0;) {
		const struct rec *q = &a->rec[i];

		sub[i] += i >= from;
		if (q->parent != NO_PARENT) {
			sub[q->parent] += sub[i];
			e[n_e++] = (struct edge){q->parent, q->depth, sub[i]};
		}
	}
	qsort(e, n_e, sizeof(*e), by_parent_depth);
	for (size_t i = 0; i < n_e && k > 0;) {
		uint32_t p = e[i].parent;
		uint64_t sharing = p >= from;
		int deeper = 0;

		/* Children of p, deepest first: each distinct depth closes a
		 * prefix (W3).  It is the same, for the window, as a longer one
		 * when its requests of the window all go on one way: the way
		 * of the deeper children of p (it adds none to a deeper prefix
		 * already listed), or the way of one child c at this depth
		 * (then (c, its first child's depth) has them all). */
		while (i < n_e && e[i].parent == p) {
			uint32_t depth = e[i].depth;
			const struct rec *o = &a->rec[p];
			struct pce_shared_prefix sp;
			uint64_t added = 0, widest = 0;

			while (i < n_e && e[i].parent == p && e[i].depth == depth) {
				added += e[i].sub;
				widest = e[i].sub > widest ? e[i].sub : widest;
				i++;
			}
			sharing += added;
			if (sharing < 2 || (deeper && !added) || widest == sharing)
				continue;
			deeper = 1;
			sp.ns = o->ns;
			sp.origin = p;
			sp.ids = depth;
			sp.tokens = (uint64_t)depth * o->block_size < o->tokens
					    ? (uint64_t)depth * o->block_size
					    : o->tokens;
			sp.requests = sharing;
			offer(out, k, n_out, &sp);
		}
	}
	free(sub);
	free(e);
	return 0;
}

void pce_reqlog_free(struct pce_reqlog *a)
{
	if (!a)
		return;
	free(a->rec);
	free(a);
}
