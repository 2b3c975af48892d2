/*
 * route_dynamo.c - baseline: the router index of NVIDIA Dynamo's KV router
 * (its ConcurrentRadixTree, lib/kv-router), written in plain C for the
 * benchmark.
 *
 * A radix tree whose edges are blocks: a node's children are keyed by the
 * hash of the next block's tokens (the local block hash), every node has a
 * pthread reader-writer lock and the set of workers that hold it, and each
 * worker has a table from the chained hash of a block (the sequence block
 * hash the engines send in their events) to its node, behind a lock of its
 * own, which is how stores find their parent and removes their blocks.
 *
 *   match   read-locks hand over hand down the query's blocks; at each node
 *           it visits every worker of the node's set and records the depth
 *           (a worker's score is the deepest node that lists it), then picks
 *           the k best: O(depth x W) when W workers share the prefix, as in
 *           Dynamo (find_matches).
 *   add     finds the parent through the worker's table, then write-locks
 *           hand over hand, creating the children it lacks, adding the
 *           worker to each node's set.
 *   remove  takes the worker out of each block's node (parent, then node,
 *           write-locked) and frees a node left with no worker and no child
 *           (Dynamo drops such subtrees).
 *
 * Node protocol
 *   field     written by                          read by
 *   kids      writers under the node's write lock readers under its read lock
 *   workers   idem                                idem
 *   parent    creator, never changed              writers (a node with
 *             a child or a holder is never freed, so a writer that reaches
 *             a node through its worker's table may lock its parent)
 *   A node is unlinked under its parent's write lock, then write-locked once
 *   (every reader inside it has left: readers enter a child only while
 *   holding its parent's read lock) and freed.
 *
 * Events of one worker are applied by one thread at a time (Dynamo routes
 * each worker's events to one thread); any number of threads match.
 * Sets and tables are open addressing with linear probing and backward-
 * shift deletion; bytes are counted as allocated.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "route_topk.h"

#define NO_WORKER UINT32_MAX

/* ---- a set of worker ids ------------------------------------------------- */

struct wset {
	uint32_t *slot; /* NO_WORKER: free */
	uint32_t n, cap;
};

/* ---- a map from a 64-bit hash (never 0) to a pointer ----------------------- */

struct hslot {
	uint64_t key; /* 0: free */
	void *val;
};

struct hmap {
	struct hslot *slot;
	uint32_t n, cap;
};

struct rnode {
	pthread_rwlock_t lock;
	struct rnode *parent;
	uint64_t local;
	struct hmap kids;
	struct wset workers;
};

struct worker_table {
	pthread_rwlock_t lock;
	struct hmap blocks; /* chained block hash -> struct rnode */
};

struct route_index {
	struct rnode root;
	struct worker_table *tables;
	uint32_t nworkers;
	atomic_uint_least64_t bytes;
};

static uint64_t key_of(uint64_t h)
{
	return h ? h : 1;
}

static uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	return x;
}

static void count(struct route_index *ix, int64_t delta)
{
	atomic_fetch_add_explicit(&ix->bytes, (uint64_t)delta, memory_order_relaxed);
}

/* Return: 0 or -1 (out of memory). */
static int wset_grow(struct route_index *ix, struct wset *s)
{
	uint32_t cap = s->cap ? 2 * s->cap : 4;
	uint32_t *slot = malloc(cap * sizeof(*slot));

	if (!slot)
		return -1;
	memset(slot, 0xff, cap * sizeof(*slot));
	for (uint32_t i = 0; i < s->cap; i++) {
		uint32_t w = s->slot[i], j;
		if (w == NO_WORKER)
			continue;
		for (j = mix32(w) & (cap - 1); slot[j] != NO_WORKER; j = (j + 1) & (cap - 1))
			;
		slot[j] = w;
	}
	free(s->slot);
	count(ix, (int64_t)(cap - s->cap) * (int64_t)sizeof(*slot));
	s->slot = slot;
	s->cap = cap;
	return 0;
}

static int wset_add(struct route_index *ix, struct wset *s, uint32_t w)
{
	uint32_t j;

	if (4 * (s->n + 1) > 3 * s->cap && wset_grow(ix, s) != 0)
		return -1;
	for (j = mix32(w) & (s->cap - 1); s->slot[j] != NO_WORKER; j = (j + 1) & (s->cap - 1))
		if (s->slot[j] == w)
			return 0;
	s->slot[j] = w;
	s->n++;
	return 0;
}

static void wset_del(struct wset *s, uint32_t w)
{
	uint32_t mask = s->cap - 1, j, k;

	if (!s->cap)
		return;
	for (j = mix32(w) & mask; s->slot[j] != w; j = (j + 1) & mask)
		if (s->slot[j] == NO_WORKER)
			return;
	/* Backward shift: move later members of the run into the hole when
	 * their home is not between the hole and them. */
	for (k = (j + 1) & mask; s->slot[k] != NO_WORKER; k = (k + 1) & mask) {
		uint32_t home = mix32(s->slot[k]) & mask;
		if (((k - home) & mask) >= ((k - j) & mask)) {
			s->slot[j] = s->slot[k];
			j = k;
		}
	}
	s->slot[j] = NO_WORKER;
	s->n--;
}

static int hmap_grow(struct route_index *ix, struct hmap *m)
{
	uint32_t cap = m->cap ? 2 * m->cap : 4;
	struct hslot *slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -1;
	for (uint32_t i = 0; i < m->cap; i++) {
		uint32_t j;
		if (!m->slot[i].key)
			continue;
		for (j = (uint32_t)m->slot[i].key & (cap - 1); slot[j].key; j = (j + 1) & (cap - 1))
			;
		slot[j] = m->slot[i];
	}
	free(m->slot);
	count(ix, (int64_t)(cap - m->cap) * (int64_t)sizeof(*slot));
	m->slot = slot;
	m->cap = cap;
	return 0;
}

static void *hmap_get(const struct hmap *m, uint64_t key)
{
	uint32_t mask = m->cap - 1;

	if (!m->cap)
		return NULL;
	for (uint32_t j = (uint32_t)key & mask; m->slot[j].key; j = (j + 1) & mask)
		if (m->slot[j].key == key)
			return m->slot[j].val;
	return NULL;
}

/* @key must not be in @m.  Return: 0 or -1. */
static int hmap_put(struct route_index *ix, struct hmap *m, uint64_t key, void *val)
{
	uint32_t j;

	if (4 * (m->n + 1) > 3 * m->cap && hmap_grow(ix, m) != 0)
		return -1;
	for (j = (uint32_t)key & (m->cap - 1); m->slot[j].key; j = (j + 1) & (m->cap - 1))
		;
	m->slot[j] = (struct hslot){key, val};
	m->n++;
	return 0;
}

static void hmap_del(struct hmap *m, uint64_t key)
{
	uint32_t mask = m->cap - 1, j, k;

	if (!m->cap)
		return;
	for (j = (uint32_t)key & mask; m->slot[j].key != key; j = (j + 1) & mask)
		if (!m->slot[j].key)
			return;
	for (k = (j + 1) & mask; m->slot[k].key; k = (k + 1) & mask) {
		uint32_t home = (uint32_t)m->slot[k].key & mask;
		if (((k - home) & mask) >= ((k - j) & mask)) {
			m->slot[j] = m->slot[k];
			j = k;
		}
	}
	m->slot[j].key = 0;
	m->n--;
}

/* ---- the tree ------------------------------------------------------------- */

static void node_free(struct route_index *ix, struct rnode *n)
{
	count(ix, -(int64_t)(sizeof(*n) + n->kids.cap * sizeof(struct hslot) +
			     n->workers.cap * sizeof(uint32_t)));
	pthread_rwlock_destroy(&n->lock);
	free(n->kids.slot);
	free(n->workers.slot);
	free(n);
}

static void subtree_free(struct route_index *ix, struct rnode *n)
{
	for (uint32_t i = 0; i < n->kids.cap; i++)
		if (n->kids.slot[i].key)
			subtree_free(ix, n->kids.slot[i].val);
	node_free(ix, n);
}

static int create(uint32_t workers, uint32_t block_size, struct route_index **out)
{
	struct route_index *ix = calloc(1, sizeof(*ix));

	(void)block_size;
	if (!ix || !(ix->tables = calloc(workers, sizeof(*ix->tables)))) {
		free(ix);
		return -1;
	}
	ix->nworkers = workers;
	pthread_rwlock_init(&ix->root.lock, NULL);
	for (uint32_t w = 0; w < workers; w++)
		pthread_rwlock_init(&ix->tables[w].lock, NULL);
	atomic_init(&ix->bytes, sizeof(*ix) + workers * sizeof(*ix->tables));
	*out = ix;
	return 0;
}

static void destroy(struct route_index *ix)
{
	for (uint32_t i = 0; i < ix->root.kids.cap; i++)
		if (ix->root.kids.slot[i].key)
			subtree_free(ix, ix->root.kids.slot[i].val);
	free(ix->root.kids.slot);
	free(ix->root.workers.slot);
	pthread_rwlock_destroy(&ix->root.lock);
	for (uint32_t w = 0; w < ix->nworkers; w++) {
		free(ix->tables[w].blocks.slot);
		pthread_rwlock_destroy(&ix->tables[w].lock);
	}
	free(ix->tables);
	free(ix);
}

/* The calling thread's scores: depth per worker, and the candidates (the
 * holders of the query's first block), grown to the index's worker count. */
static _Thread_local uint32_t *t_score, *t_cand;
static _Thread_local uint32_t t_cap;

static size_t match(struct route_index *ix, const struct route_seq *q, uint32_t nblocks,
		    struct route_hit *out, size_t k)
{
	struct rnode *node = &ix->root, *child;
	uint32_t ncand = 0, depth;
	size_t n = 0;

	if (t_cap < ix->nworkers) {
		free(t_score);
		free(t_cand);
		t_score = calloc(ix->nworkers, sizeof(*t_score));
		t_cand = malloc(ix->nworkers * sizeof(*t_cand));
		if (!t_score || !t_cand) {
			t_cap = 0;
			return 0;
		}
		t_cap = ix->nworkers;
	}
	pthread_rwlock_rdlock(&node->lock);
	for (depth = 0; depth < nblocks; depth++) {
		child = hmap_get(&node->kids, key_of(q->local[depth]));
		if (!child)
			break;
		pthread_rwlock_rdlock(&child->lock);
		pthread_rwlock_unlock(&node->lock);
		node = child;
		for (uint32_t i = 0; i < node->workers.cap; i++) {
			uint32_t w = node->workers.slot[i];
			if (w == NO_WORKER)
				continue;
			if (depth == 0)
				t_cand[ncand++] = w;
			t_score[w] = depth + 1;
		}
	}
	pthread_rwlock_unlock(&node->lock);
	for (uint32_t c = 0; c < ncand; c++) {
		uint32_t w = t_cand[c];

		route_topk_offer(out, &n, k, w, t_score[w]);
		t_score[w] = 0;
	}
	return n;
}

static int add(struct route_index *ix, uint32_t owner, const struct route_seq *q, uint32_t from,
	       uint32_t to)
{
	struct worker_table *wt = &ix->tables[owner];
	struct rnode *node = &ix->root, *child;
	int rc = 0;

	if (from > 0) {
		pthread_rwlock_rdlock(&wt->lock);
		node = hmap_get(&wt->blocks, key_of(q->chain[from - 1]));
		pthread_rwlock_unlock(&wt->lock);
		if (!node)
			return -1;
	}
	pthread_rwlock_wrlock(&node->lock);
	for (uint32_t i = from; i < to && rc == 0; i++) {
		uint64_t key = key_of(q->local[i]);

		child = hmap_get(&node->kids, key);
		if (!child) {
			if (!(child = calloc(1, sizeof(*child)))) {
				rc = -1;
				break;
			}
			pthread_rwlock_init(&child->lock, NULL);
			child->parent = node;
			child->local = key;
			count(ix, sizeof(*child));
			if (hmap_put(ix, &node->kids, key, child) != 0) {
				node_free(ix, child);
				rc = -1;
				break;
			}
		}
		pthread_rwlock_wrlock(&child->lock);
		pthread_rwlock_unlock(&node->lock);
		node = child;
		rc = wset_add(ix, &node->workers, owner);
		pthread_rwlock_wrlock(&wt->lock);
		if (rc == 0 && !hmap_get(&wt->blocks, key_of(q->chain[i])))
			rc = hmap_put(ix, &wt->blocks, key_of(q->chain[i]), node);
		pthread_rwlock_unlock(&wt->lock);
	}
	pthread_rwlock_unlock(&node->lock);
	return rc;
}

static int remove_blocks(struct route_index *ix, uint32_t owner, const struct route_seq *q,
			 uint32_t from, uint32_t to)
{
	struct worker_table *wt = &ix->tables[owner];

	/* Deepest first: a node loses its holder before its parent does. */
	for (uint32_t i = to; i-- > from;) {
		uint64_t key = key_of(q->chain[i]);
		struct rnode *node, *parent;

		pthread_rwlock_wrlock(&wt->lock);
		node = hmap_get(&wt->blocks, key);
		hmap_del(&wt->blocks, key);
		pthread_rwlock_unlock(&wt->lock);
		if (!node)
			continue;
		parent = node->parent;
		pthread_rwlock_wrlock(&parent->lock);
		pthread_rwlock_wrlock(&node->lock);
		wset_del(&node->workers, owner);
		if (node->workers.n == 0 && node->kids.n == 0) {
			hmap_del(&parent->kids, node->local);
			pthread_rwlock_unlock(&node->lock);
			pthread_rwlock_unlock(&parent->lock);
			/* Unlinked: wait out the readers inside, then free. */
			pthread_rwlock_wrlock(&node->lock);
			pthread_rwlock_unlock(&node->lock);
			node_free(ix, node);
			continue;
		}
		pthread_rwlock_unlock(&node->lock);
		pthread_rwlock_unlock(&parent->lock);
	}
	return 0;
}

static void usage(struct route_index *ix, struct route_usage *u)
{
	u->bytes = atomic_load(&ix->bytes);
	u->owner_bytes = u->bytes;
}

const struct route_ops route_dynamo_ops = {
	.name = "dynamo-radix",
	.create = create,
	.destroy = destroy,
	.match = match,
	.add = add,
	.remove = remove_blocks,
	.usage = usage,
};
