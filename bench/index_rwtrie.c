/*
 * index_rwtrie.c - baseline: the naive concurrent prefix index.  A
 * compressed (radix) trie over tokens behind one pthread_rwlock: lookups
 * take the read lock, stores and removes the write lock.
 *
 * Node: {kids, nkids, cap, rep, value, has_entry, len, tokens[len]}.  The
 * children are a sorted array of (first token, node), searched by
 * bisection.  The root has an empty edge.
 *
 * Invariants (write lock held, or read lock for reading)
 *   (R1) Siblings' edges start with distinct tokens; kids[] is sorted by them.
 *   (R2) Every node but the root has an entry in its subtree, and rep is
 *        the value of one of them: a lookup that ends anywhere in a node's
 *        edge reports rep, the value of a sequence that extends the match
 *        (libpce's semantics).
 * It does what a straightforward implementation does and no more: splits on
 * insert, deletes empty leaves on remove, never merges a lone child back
 * into its parent.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"

struct rw_kid {
	uint32_t first;
	struct rw_node *node;
};

struct rw_node {
	struct rw_kid *kids;
	uint32_t nkids, cap;
	uint64_t rep;   /* (R2) */
	uint64_t value; /* the entry ending here, if has_entry */
	int has_entry;
	uint32_t len;
	uint32_t tokens[];
};

struct bench_index {
	pthread_rwlock_t lock;
	struct rw_node *root;
	uint64_t bytes, entries, tokens; /* write lock */
	struct rw_node **path;           /* remove's walk, write lock */
	size_t path_cap;
};

static size_t node_bytes(uint32_t len)
{
	return sizeof(struct rw_node) + (size_t)len * sizeof(uint32_t);
}

/* Length of the common prefix of a[0..m) and b[0..m): a plain compare, with
 * memcmp proving whole edges equal first (most edges match whole). */
static size_t common_prefix(const uint32_t *a, const uint32_t *b, size_t m)
{
	size_t i = 0;

	if (memcmp(a, b, m * sizeof(uint32_t)) == 0)
		return m;
	while (i < m && a[i] == b[i])
		i++;
	return i;
}

static struct rw_node *node_new(struct bench_index *ix, const uint32_t *tok, uint32_t len)
{
	struct rw_node *n = calloc(1, node_bytes(len));

	if (!n)
		return NULL;
	n->len = len;
	if (len)
		memcpy(n->tokens, tok, (size_t)len * sizeof(uint32_t));
	ix->bytes += node_bytes(len);
	ix->tokens += len;
	return n;
}

static void node_free(struct bench_index *ix, struct rw_node *n)
{
	ix->bytes -= node_bytes(n->len) + (size_t)n->cap * sizeof(struct rw_kid);
	ix->tokens -= n->len;
	free(n->kids);
	free(n);
}

/* Index of the first kid whose first token is >= @tok. */
static uint32_t kid_pos(const struct rw_node *n, uint32_t tok)
{
	uint32_t lo = 0, hi = n->nkids;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (n->kids[mid].first < tok)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct rw_node *kid_find(const struct rw_node *n, uint32_t tok)
{
	uint32_t i = kid_pos(n, tok);

	return i < n->nkids && n->kids[i].first == tok ? n->kids[i].node : NULL;
}

static int kid_add(struct bench_index *ix, struct rw_node *n, struct rw_node *kid)
{
	uint32_t i = kid_pos(n, kid->tokens[0]);

	if (n->nkids == n->cap) {
		uint32_t cap = n->cap ? n->cap * 2 : 2;
		struct rw_kid *k = realloc(n->kids, cap * sizeof(*k));
		if (!k)
			return -1;
		ix->bytes += (size_t)(cap - n->cap) * sizeof(*k);
		n->kids = k;
		n->cap = cap;
	}
	memmove(n->kids + i + 1, n->kids + i, (n->nkids - i) * sizeof(*n->kids));
	n->kids[i] = (struct rw_kid){kid->tokens[0], kid};
	n->nkids++;
	return 0;
}

static void kid_del(struct rw_node *n, uint32_t tok)
{
	uint32_t i = kid_pos(n, tok);

	memmove(n->kids + i, n->kids + i + 1, (n->nkids - i - 1) * sizeof(*n->kids));
	n->nkids--;
}

static int create(uint64_t size_hint, struct bench_index **out)
{
	struct bench_index *ix = calloc(1, sizeof(*ix));

	(void)size_hint;
	if (!ix)
		return -1;
	pthread_rwlock_init(&ix->lock, NULL);
	ix->root = node_new(ix, NULL, 0);
	if (!ix->root) {
		free(ix);
		return -1;
	}
	*out = ix;
	return 0;
}

static void free_subtree(struct bench_index *ix, struct rw_node *n)
{
	for (uint32_t i = 0; i < n->nkids; i++)
		free_subtree(ix, n->kids[i].node);
	node_free(ix, n);
}

static void destroy(struct bench_index *ix)
{
	free_subtree(ix, ix->root);
	pthread_rwlock_destroy(&ix->lock);
	free(ix->path);
	free(ix);
}

static void thread_nop(struct bench_index *ix)
{
	(void)ix;
}

static size_t lookup(struct bench_index *ix, const uint32_t *q, size_t n, uint64_t *value)
{
	const struct rw_node *node, *end = NULL;
	size_t pos = 0;

	pthread_rwlock_rdlock(&ix->lock);
	node = ix->root;
	while (pos < n) {
		const struct rw_node *c = kid_find(node, q[pos]);
		size_t k;

		if (!c)
			break;
		k = common_prefix(c->tokens, q + pos, c->len < n - pos ? c->len : n - pos);
		pos += k;
		end = c;
		if (k < c->len)
			break;
		node = c;
	}
	if (end)
		*value = end->rep;
	pthread_rwlock_unlock(&ix->lock);
	return end ? pos : 0;
}

/* Write lock held.  Split @c after @k tokens: @c keeps its tail and moves
 * under a new head node that takes @c's place in @parent. */
static struct rw_node *split(struct bench_index *ix, struct rw_node *parent, struct rw_node *c,
			     uint32_t k)
{
	struct rw_node *head = node_new(ix, c->tokens, k);
	struct rw_node *tail = node_new(ix, c->tokens + k, c->len - k);

	if (!head || !tail || kid_add(ix, head, tail) != 0) {
		if (head)
			node_free(ix, head);
		if (tail)
			node_free(ix, tail);
		return NULL;
	}
	tail->kids = c->kids;
	tail->nkids = c->nkids;
	tail->cap = c->cap;
	tail->rep = c->rep;
	tail->value = c->value;
	tail->has_entry = c->has_entry;
	head->rep = c->rep;
	parent->kids[kid_pos(parent, c->tokens[0])].node = head;
	c->kids = NULL;
	c->cap = 0;
	node_free(ix, c);
	return head;
}

static int store_locked(struct bench_index *ix, const uint32_t *q, size_t n, uint64_t value)
{
	struct rw_node *node = ix->root, *c, *leaf;
	size_t pos = 0;

	for (;;) {
		size_t k;

		if (pos == n) {
			if (node->has_entry)
				return 1;
			node->has_entry = 1;
			node->value = value;
			ix->entries++;
			return 0;
		}
		c = kid_find(node, q[pos]);
		if (!c)
			break;
		k = common_prefix(c->tokens, q + pos, c->len < n - pos ? c->len : n - pos);
		if (k < c->len) {
			c = split(ix, node, c, (uint32_t)k);
			if (!c)
				return -1;
		}
		node = c;
		pos += k;
	}
	leaf = node_new(ix, q + pos, (uint32_t)(n - pos));
	if (!leaf)
		return -1;
	if (kid_add(ix, node, leaf) != 0) {
		node_free(ix, leaf);
		return -1;
	}
	leaf->has_entry = 1;
	leaf->value = leaf->rep = value;
	ix->entries++;
	return 0;
}

static int store(struct bench_index *ix, const uint32_t *q, size_t n, uint64_t value)
{
	int rc;

	pthread_rwlock_wrlock(&ix->lock);
	rc = store_locked(ix, q, n, value);
	pthread_rwlock_unlock(&ix->lock);
	return rc;
}

/* The rep of @n recomputed from its entry and its children (R2). */
static uint64_t rep_of(const struct rw_node *n)
{
	return n->has_entry ? n->value : n->kids[0].node->rep;
}

static int remove_locked(struct bench_index *ix, const uint32_t *q, size_t n)
{
	struct rw_node *node = ix->root;
	size_t pos = 0, depth = 0;
	uint64_t gone;

	while (pos < n) {
		struct rw_node *c = kid_find(node, q[pos]);

		if (!c || c->len > n - pos || memcmp(c->tokens, q + pos, c->len * sizeof(uint32_t)))
			return 1;
		if (depth == ix->path_cap) {
			size_t cap = ix->path_cap ? 2 * ix->path_cap : 64;
			struct rw_node **p = realloc(ix->path, cap * sizeof(*p));
			if (!p)
				return -1;
			ix->path = p;
			ix->path_cap = cap;
		}
		ix->path[depth++] = c;
		pos += c->len;
		node = c;
	}
	if (depth == 0 || !node->has_entry)
		return 1;
	gone = node->value;
	node->has_entry = 0;
	ix->entries--;
	/* Delete the empty leaves bottom-up, then repair the reps that named
	 * the removed entry (R2). */
	while (depth > 0 && !ix->path[depth - 1]->has_entry && ix->path[depth - 1]->nkids == 0) {
		struct rw_node *leaf = ix->path[--depth];
		struct rw_node *parent = depth ? ix->path[depth - 1] : ix->root;
		kid_del(parent, leaf->tokens[0]);
		node_free(ix, leaf);
	}
	while (depth > 0 && ix->path[depth - 1]->rep == gone) {
		struct rw_node *p = ix->path[--depth];
		p->rep = rep_of(p);
	}
	return 0;
}

static int remove_seq(struct bench_index *ix, const uint32_t *q, size_t n)
{
	int rc;

	pthread_rwlock_wrlock(&ix->lock);
	rc = remove_locked(ix, q, n);
	pthread_rwlock_unlock(&ix->lock);
	return rc;
}

static void usage(struct bench_index *ix, struct index_usage *u)
{
	pthread_rwlock_rdlock(&ix->lock);
	u->bytes = ix->bytes + sizeof(*ix);
	u->entries = ix->entries;
	u->tokens = ix->tokens;
	pthread_rwlock_unlock(&ix->lock);
}

const struct index_ops index_rwtrie_ops = {
	.name = "rwlock-trie",
	.create = create,
	.destroy = destroy,
	.thread_enter = thread_nop,
	.thread_leave = thread_nop,
	.lookup = lookup,
	.store = store,
	.remove = remove_seq,
	.usage = usage,
};
