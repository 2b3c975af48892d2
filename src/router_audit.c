/*
 * router_audit.c - pce_router_audit(): check R1-R8 (router.c) on every
 * shard and the gauges, holding every shard lock (taken in index order,
 * kept to the end so the gauge sums see one state).  Matches keep running;
 * writers wait.
 */
#include <stdarg.h>
#include <string.h>

#include "expiry.h"
#include "router_core.h"
#include "trie.h"

struct audit {
	char *msg;
	size_t msg_len;
	int bad;
	uint64_t holdings, set_bytes, trie_bytes, nodes, tokens;
	uint32_t expiring;   /* nodes of the shard with an owner that expires */
};

static void fail(struct audit *a, const char *fmt, ...)
{
	va_list ap;

	if (a->bad++ || !a->msg || !a->msg_len)
		return;
	va_start(ap, fmt);
	vsnprintf(a->msg, a->msg_len, fmt, ap);
	va_end(ap);
}

#define CHECK(a, cond, ...)                        \
	do {                                       \
		if (!(cond))                       \
			fail((a), __VA_ARGS__);    \
	} while (0)

static void check_set(struct pce_router *r, struct audit *a, struct pce_shard *s,
		      struct pce_node *n)
{
	const struct pce_ctable *t = n->owners, *pt = n->parent->owners;
	struct pce_node *w;
	size_t i, live = 0;

	CHECK(a, t != NULL, "R1: node at depth %u has no owner set", n->depth);
	if (!t)
		return;
	pce_ctable_for_each(t, i, w) {
		uint64_t word = pce_ow_word(w);
		struct pce_node *pw;

		live++;
		CHECK(a, word & OW_TAG, "R1: owner word without its tag");
		if (!pt)
			continue; /* the parent is a root */
		pw = pce_ctable_find_rcu(pt, t->slot[i].key);
		CHECK(a, pw != NULL, "R2: owner %u holds depth %u but not its parent",
		      (unsigned)t->slot[i].key, n->depth);
		if (pw)
			CHECK(a, pce_ow_expires(word) <= pce_ow_expires(pce_ow_word(pw)),
			      "R3: owner %u expires later at depth %u than above",
			      (unsigned)t->slot[i].key, n->depth);
	}
	CHECK(a, live == t->live, "R4: set live count %u, %zu live slots", t->live, live);
	CHECK(a, live >= 1, "R1: node at depth %u is held by nobody", n->depth);
	a->holdings += live * pce_router_blocks(r, n);
	a->set_bytes += pce_ctable_size(t->log2cap);
	CHECK(a, pce_heap_key(&s->expiry, n) == pce_router_earliest(t),
	      "R8: node at depth %u keyed %llu in the expiry heap, its owners' earliest %llu",
	      n->depth, (unsigned long long)pce_heap_key(&s->expiry, n),
	      (unsigned long long)pce_router_earliest(t));
	a->expiring += pce_router_earliest(t) != PCE_NEVER;
}

/* (R8) The heap's shape: positions, order, one item per expiring node. */
static void check_heap(struct audit *a, struct pce_shard *s)
{
	const struct pce_heap *h = &s->expiry;

	CHECK(a, h->size == a->expiring, "R8: heap holds %u items, %u nodes expire", h->size,
	      a->expiring);
	for (uint32_t i = 0; i < h->size && !a->bad; i++) {
		CHECK(a, *pce_heap_pos(h, h->item[i].obj) == i + 1, "R8: heap position mismatch");
		if (i)
			CHECK(a, h->item[(i - 1) / 2].key <= h->item[i].key,
			      "R8: heap order broken at %u", i);
	}
	a->trie_bytes += pce_heap_bytes(h->cap);
}

static void check_tree(struct pce_router *r, struct audit *a, struct pce_shard *s,
		       struct pce_node *root)
{
	struct pce_node *n = pce__router_first_leaf_locked(root);

	CHECK(a, root->owners == NULL, "R1: a root has an owner set");
	CHECK(a, root->children && root->children->live > 0, "R6: a root without children");
	a->nodes++;
	a->trie_bytes += pce_node_bytes(root);
	for (; n && !a->bad; n = pce__router_post_next_locked(n, root)) {
		struct pce_node *c;
		size_t i, kids = 0;

		if (n->children) {
			a->trie_bytes += pce_ctable_size(n->children->log2cap);
			pce_ctable_for_each(n->children, i, c) {
				kids++;
				CHECK(a, c->parent == n, "R6: wrong parent pointer");
				CHECK(a, c->len > 0 && c->tokens[0] == n->children->slot[i].key,
				      "R6: child keyed by another token");
				CHECK(a, c->depth == n->depth + c->len, "R6: depth is not parent + len");
			}
			CHECK(a, kids == n->children->live, "R6: child table live count");
			CHECK(a, kids > 0, "R6: an empty child table");
		}
		if (n == root)
			break;
		a->nodes++;
		a->tokens += n->len;
		a->trie_bytes += pce_node_bytes(n);
		check_set(r, a, s, n);
	}
}

int pce_router_audit(struct pce_router *r, unsigned flags, char *msg, size_t msg_len)
{
	struct audit a;
	struct pce_cache *c;
	uint32_t i;

	if (!r || flags)
		return PCE_EINVAL;
	if (pce_cache_inherited(r->core))
		return PCE_EFORKED;
	memset(&a, 0, sizeof(a));
	a.msg = msg;
	a.msg_len = msg_len;
	if (msg && msg_len)
		msg[0] = '\0';
	c = r->core;
	for (i = 0; i <= c->shard_mask; i++) {
		struct pce_shard *s = &c->shard[i];
		struct pce_node *root;
		size_t j;

		pthread_mutex_lock(&s->lock);
		if (s->roots) {
			a.trie_bytes += pce_ctable_size(s->roots->log2cap);
			pce_ctable_for_each(s->roots, j, root) {
				struct pce_node *top;
				size_t k;

				pce_ctable_for_each(root->children, k, top)
					CHECK(&a, pce_shard_of(c, s->roots->slot[j].key,
							       top->tokens[0]) == s,
					      "R6: a holding in the wrong shard");
				check_tree(r, &a, s, root);
			}
		}
		check_heap(&a, s);
		a.expiring = 0;
	}
	CHECK(&a, a.holdings == pce_load_relaxed(&r->holdings),
	      "R5: holdings gauge %llu, counted %llu",
	      (unsigned long long)pce_load_relaxed(&r->holdings), (unsigned long long)a.holdings);
	CHECK(&a, a.set_bytes == pce_load_relaxed(&r->owner_bytes),
	      "R5: owner_bytes gauge %llu, counted %llu",
	      (unsigned long long)pce_load_relaxed(&r->owner_bytes),
	      (unsigned long long)a.set_bytes);
	CHECK(&a, a.trie_bytes == pce_load_relaxed(&c->use.index),
	      "R5: trie bytes gauge %llu, counted %llu",
	      (unsigned long long)pce_load_relaxed(&c->use.index), (unsigned long long)a.trie_bytes);
	CHECK(&a, a.trie_bytes + a.set_bytes == pce_load_relaxed(&r->index_bytes),
	      "R5: index_bytes is not trie + owner bytes");
	CHECK(&a, a.nodes == pce_load_relaxed(&c->use.nodes), "R5: node gauge");
	CHECK(&a, a.tokens == pce_load_relaxed(&c->use.tokens), "R5: token gauge");
	CHECK(&a, !pce_load_relaxed(&r->budget) ||
			  pce_load_relaxed(&r->index_bytes) <= pce_load_relaxed(&r->budget),
	      "R5: index above its budget");
	for (i = c->shard_mask + 1; i-- > 0;)
		pthread_mutex_unlock(&c->shard[i].lock);
	return a.bad ? PCE_ECORRUPT : 0;
}
