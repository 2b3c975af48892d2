/*
 * trie.c - compressed radix trie over uint32_t tokens, RCU readers, one
 * writer per shard.
 *
 * Prior art: Morrison's PATRICIA; antirez/rax (edge splits and re-merges);
 * McKenney & Walpole, "What is RCU" (publish / read / retire).
 *
 * Node: {children, entry, hint, parent, depth, len, tokens[len]}.  A
 * namespace's root has an empty edge.  Children are keyed by the first
 * token of their edge (ctable.h).
 *
 * Insert cases (the sequence is S, the walk stopped at node N after pos
 * tokens, C is N's child whose edge starts with S[pos]):
 *   AT_NODE       S ends exactly at the end of N's edge: attach the entry.
 *   LEAF          N has no child for S[pos]: add leaf (S[pos..]).
 *   SPLIT_END     S ends k tokens into C's edge:
 *                     N -> (c0..ck-1)[E] -> (ck..)[C's entry, children]
 *   SPLIT_BRANCH  S leaves C's edge after k tokens:
 *                     N -> (c0..ck-1) -+-> (ck..)[C's entry, children]
 *                                      +-> (S[pos+k..])[E]
 *   NEW_ROOT      the namespace has no root in this shard yet.
 *
 * Remove a prefix Q: the walk stops at the node X whose edge Q ends in (or
 * at the end of); every entry starting with Q is in X's subtree.  X is
 * unhung from P as a leaf would be (LEAF, LEAF_MERGE_PARENT, LEAF_ROOT),
 * then its subtree is cleared like a namespace: one publication, so
 * readers see all of it or none, and only the merge allocates.
 *
 * Remove cases (E ends at node N, P = N's parent):
 *   DETACH             N keeps >= 2 children: N.entry = NULL.
 *   MERGE_CHILD        N has one child C: publish N+C as one node.
 *   LEAF               N is a leaf: delete it from P.
 *   LEAF_MERGE_PARENT  ...and P (no entry, not a root) keeps one child C2:
 *                      publish P+C2 as one node.
 *   LEAF_ROOT          ...and P is a root left empty: drop the root.
 * After every remove the trie again satisfies I3/I4: no node other than a
 * root lacks an entry unless it has at least two children.
 *
 * RCU protocol.  A published node's edge, depth and len never change.  Its
 * children, entry and hint pointers change only by one release store of a
 * fully built object.  A split or merge builds new nodes, publishes them by
 * replacing one slot of the parent's table (same key), and retires the old
 * nodes; readers still holding an old node see a consistent old view until
 * they leave their read-side section, after which the reclaimer frees it.
 * parent is read and written only under the shard lock.
 *
 * Hints (I6).  node.hint is the entry with the latest expires_at among the
 * node's own entry and its children's hints, so a reader that ends its walk
 * inside a node's subtree finds a live entry extending the match in O(1),
 * and knows that none exists when the hint has expired.  Inserting raises
 * hints along the path to the root and stops at the first ancestor that
 * already expires no earlier (O(1) when no TTLs are used); removing
 * recomputes the hints that pointed at the removed entry, bottom-up.  A
 * touch only raises an entry's expires_at (stored before the hints are
 * published), so raising the hints on its path restores I6 the same way.
 */
#include "trie.h"

#include <string.h>

#include "alloc.h"
#include "retire.h"

/* ---- readers -------------------------------------------------------------- */

/* One step of a walk: the child of @node whose edge continues q[pos..n), or
 * NULL; *k receives how many of its edge tokens match (at least one).
 * Under RCU or the shard lock. */
static inline struct pce_node *step_rcu(const struct pce_node *node, const uint32_t *q,
					size_t pos, size_t n, size_t *k)
{
	struct pce_ctable *t = pce_rcu_deref(node->children);
	struct pce_node *c = t ? pce_ctable_find_rcu(t, q[pos]) : NULL;

	if (c)
		*k = pce_common_prefix(c->tokens, q + pos, PCE_MIN((size_t)c->len, n - pos));
	return c;
}

void pce_trie_walk_rcu(const struct pce_shard *s, uint64_t ns, const uint32_t *q, size_t n,
		       struct pce_walk *w)
{
	struct pce_node *node = pce_trie_root_rcu(s, ns);
	size_t pos = 0;

	w->end = NULL;
	w->depth = 0;
	w->last_entry = NULL;
	if (!node)
		return;
	while (pos < n) {
		size_t k;
		struct pce_node *c = step_rcu(node, q, pos, n, &k);

		if (!c)
			break;
		pos += k;
		if (k < c->len) { /* the match ends inside c's edge */
			w->end = c;
			w->depth = pos;
			return;
		}
		node = c;
		if (pce_rcu_deref(c->entry))
			w->last_entry = c;
	}
	if (pos > 0) {
		w->end = node;
		w->depth = pos;
	}
}

static int entry_live(const struct pce_entry *e, uint64_t now)
{
	return e && pce_load_relaxed(&e->expires_at) > now;
}

struct pce_entry *pce_trie_match_live_rcu(const struct pce_shard *s, uint64_t ns,
					  const uint32_t *q, size_t n, int whole, uint64_t now,
					  size_t *depth)
{
	struct pce_node *node = pce_trie_root_rcu(s, ns);
	struct pce_entry *best = NULL, *e;
	size_t pos = 0;

	*depth = 0;
	while (node && pos < n) {
		size_t k;
		struct pce_node *c = step_rcu(node, q, pos, n, &k);

		if (!c)
			break;
		pos += k;
		if (k < c->len) {
			/* Partial edge: any live entry below c extends pos tokens. */
			e = pce_rcu_deref(c->hint);
			if (!whole && entry_live(e, now)) {
				best = e;
				*depth = pos;
			}
			break;
		}
		/* c fully matched: its hint (its own entry, for whole) is a
		 * live entry extending exactly pos tokens of the query. */
		e = whole ? pce_rcu_deref(c->entry) : pce_rcu_deref(c->hint);
		if (entry_live(e, now)) {
			best = e;
			*depth = pos;
		}
		node = c;
	}
	return best;
}

struct pce_node *pce_trie_find_exact_locked(const struct pce_shard *s, uint64_t ns,
					    const uint32_t *q, size_t n)
{
	struct pce_node *node = pce_trie_root_rcu(s, ns);
	size_t pos = 0;

	while (node && pos < n) {
		struct pce_node *c = node->children ? pce_ctable_find_rcu(node->children, q[pos])
						    : NULL;
		if (!c || c->len > n - pos ||
		    memcmp(c->tokens, q + pos, c->len * sizeof(uint32_t)) != 0)
			return NULL;
		pos += c->len;
		node = c;
	}
	return pos == n ? node : NULL;
}

/* ---- node helpers (writer) ----------------------------------------------- */

/* A node with edge a[0..na) ++ b[0..nb), unpublished, all pointers NULL. */
static struct pce_node *node_new(const uint32_t *a, size_t na, const uint32_t *b, size_t nb,
				 uint32_t depth)
{
	struct pce_node *n = pce_alloc(pce_node_size(na + nb));

	if (!n)
		return NULL;
	n->children = NULL;
	n->entry = NULL;
	n->hint = NULL;
	n->parent = NULL;
	n->depth = depth;
	n->len = (uint32_t)(na + nb);
	if (na)
		memcpy(n->tokens, a, na * sizeof(uint32_t));
	if (nb)
		memcpy(n->tokens + na, b, nb * sizeof(uint32_t));
	return n;
}

static int is_root(const struct pce_node *n)
{
	return n->parent == NULL;
}

/* (I6) Raise hints from @n up to the root with @e, stopping at the first
 * node whose hint is another entry that expires no earlier than @e.  A
 * node already naming @e (a store over the node's own entry recomputed it)
 * says nothing about its ancestors, so the raise goes on past it. */
static void hint_raise(struct pce_node *n, struct pce_entry *e)
{
	for (; n && !is_root(n); n = n->parent) {
		struct pce_entry *h = n->hint;
		if (h && h != e && h->expires_at >= e->expires_at)
			return;
		pce_rcu_publish(n->hint, e);
	}
}

static struct pce_entry *hint_compute(const struct pce_node *n)
{
	struct pce_entry *best = n->entry;
	struct pce_node *c;
	size_t i;

	pce_ctable_for_each(n->children, i, c) {
		best = pce_entry_later(best, c->hint);
		if (best->expires_at == PCE_NEVER)
			break; /* nothing expires later */
	}
	return best;
}

void pce_trie_extended_locked(struct pce_entry *e)
{
	hint_raise(e->node, e);
}

/* (I6) @gone left the subtree of @n: recompute the hints that named it,
 * bottom-up.  A node whose hint is not @gone has ancestors whose hints are
 * not @gone either, since hints only come from children's hints. */
static void hint_forget(struct pce_node *n, const struct pce_entry *gone)
{
	if (!gone)
		return; /* a router trie: no hints */
	for (; n && !is_root(n); n = n->parent) {
		if (n->hint != gone)
			return;
		pce_rcu_publish(n->hint, hint_compute(n));
	}
}

/* @to takes over @from's children and entry (split tail, merged node). */
static void adopt(struct pce_node *to, struct pce_node *from)
{
	struct pce_node *c;
	size_t i;

	to->children = from->children;
	to->entry = from->entry;
	to->hint = from->hint;
	if (to->entry)
		to->entry->node = to;
	pce_ctable_for_each(from->children, i, c)
		c->parent = to;
}

/* Publish @n where @old was: in its parent's children, or the roots. */
static void replace_in_parent(struct pce_node *old, struct pce_node *n)
{
	n->parent = old->parent;
	pce_ctable_replace_locked(old->parent->children, old->tokens[0], n);
}

/* ---- insert ------------------------------------------------------------- */

/* A one- or two-child table for a new head node. */
static struct pce_ctable *table_of(struct pce_node *a, struct pce_node *b, size_t *bytes)
{
	struct pce_ctable *t = pce_ctable_new(b ? 2 : 1, bytes);

	if (!t)
		return NULL;
	pce_ctable_add_locked(t, a->tokens[0], a);
	if (b)
		pce_ctable_add_locked(t, b->tokens[0], b);
	return t;
}

static int prepare_new_root(struct pce_shard *s, uint64_t ns, const uint32_t *q, size_t n,
			    struct pce_trie_change *ch)
{
	size_t tbytes = 0, rbytes = 0;
	struct pce_node *root = node_new(NULL, 0, NULL, 0, 0);
	struct pce_node *leaf = node_new(q, n, NULL, 0, (uint32_t)n);

	ch->op = PCE_INS_NEW_ROOT;
	ch->n_head = root;
	ch->n_new = leaf;
	if (!root || !leaf)
		return PCE_ENOMEM;
	root->children = table_of(leaf, NULL, &tbytes);
	if (!root->children)
		return PCE_ENOMEM;
	if (!s->roots || !pce_ctable_has_room(s->roots, ns)) {
		ch->t_roots = pce_ctable_rebuild(s->roots, ns, root, &rbytes);
		if (!ch->t_roots)
			return PCE_ENOMEM;
		if (s->roots)
			rbytes -= pce_ctable_size(s->roots->log2cap);
	}
	ch->index_delta = (int64_t)(pce_node_size(0) + pce_node_size(n) + tbytes + rbytes);
	ch->tokens_delta = (int64_t)n;
	ch->nodes_delta = 2;
	return 0;
}

static int prepare_leaf(struct pce_node *node, const uint32_t *q, size_t pos, size_t n,
			struct pce_trie_change *ch)
{
	size_t tbytes = 0;
	struct pce_node *leaf = node_new(q + pos, n - pos, NULL, 0, (uint32_t)n);

	ch->op = PCE_INS_LEAF;
	ch->n_new = leaf;
	if (!leaf)
		return PCE_ENOMEM;
	if (!node->children || !pce_ctable_has_room(node->children, q[pos])) {
		ch->t_new = pce_ctable_rebuild(node->children, q[pos], leaf, &tbytes);
		if (!ch->t_new)
			return PCE_ENOMEM;
		if (node->children)
			tbytes -= pce_ctable_size(node->children->log2cap);
	}
	ch->index_delta = (int64_t)(pce_node_size(n - pos) + tbytes);
	ch->tokens_delta = (int64_t)(n - pos);
	ch->nodes_delta = 1;
	return 0;
}

static int prepare_split(struct pce_node *c, size_t k, const uint32_t *q, size_t pos, size_t n,
			 struct pce_trie_change *ch)
{
	uint32_t head_depth = c->depth - c->len + (uint32_t)k;
	size_t tbytes = 0;

	ch->child = c;
	ch->op = pos + k == n ? PCE_INS_SPLIT_END : PCE_INS_SPLIT_BRANCH;
	ch->n_head = node_new(c->tokens, k, NULL, 0, head_depth);
	ch->n_tail = node_new(c->tokens + k, c->len - k, NULL, 0, c->depth);
	if (!ch->n_head || !ch->n_tail)
		return PCE_ENOMEM;
	if (ch->op == PCE_INS_SPLIT_BRANCH) {
		ch->n_new = node_new(q + pos + k, n - pos - k, NULL, 0, (uint32_t)n);
		if (!ch->n_new)
			return PCE_ENOMEM;
	}
	ch->n_head->children = table_of(ch->n_tail, ch->n_new, &tbytes);
	if (!ch->n_head->children)
		return PCE_ENOMEM;
	ch->index_delta = (int64_t)(pce_node_size(k) + pce_node_size(c->len - k) + tbytes) -
			  (int64_t)pce_node_size(c->len);
	ch->nodes_delta = 1;
	if (ch->n_new) {
		ch->index_delta += (int64_t)pce_node_size(n - pos - k);
		ch->tokens_delta = (int64_t)(n - pos - k);
		ch->nodes_delta = 2;
	}
	return 0;
}

int pce_trie_prepare_insert(struct pce_shard *s, uint64_t ns, const uint32_t *q, size_t n,
			    struct pce_trie_change *ch)
{
	struct pce_node *node = pce_trie_root_rcu(s, ns);
	size_t pos = 0;
	int rc;

	memset(ch, 0, sizeof(*ch));
	ch->ns = ns;
	if (!node) {
		rc = prepare_new_root(s, ns, q, n, ch);
		goto out;
	}
	for (;;) {
		struct pce_node *c;
		size_t k;

		ch->node = node;
		if (pos == n) {
			ch->op = PCE_INS_AT_NODE;
			ch->existing = node->entry;
			return 0;
		}
		c = step_rcu(node, q, pos, n, &k);
		if (!c) {
			rc = prepare_leaf(node, q, pos, n, ch);
			goto out;
		}
		if (k < c->len) {
			rc = prepare_split(c, k, q, pos, n, ch);
			goto out;
		}
		pos += k;
		node = c;
	}
out:
	if (rc)
		pce_trie_abort(ch);
	return rc;
}

void pce_trie_commit_insert(struct pce_shard *s, struct pce_trie_change *ch,
			    struct pce_entry *e)
{
	struct pce_node *node = ch->node, *at;

	switch (ch->op) {
	case PCE_INS_AT_NODE:
		at = node;
		if (!e)
			break;
		e->node = at;
		pce_rcu_publish(at->entry, e);
		if (ch->existing)
			hint_forget(at, ch->existing);
		hint_raise(at, e);
		break;
	case PCE_INS_LEAF:
		at = ch->n_new;
		at->parent = node;
		if (e) {
			at->entry = e;
			at->hint = e;
			e->node = at;
		}
		if (ch->t_new) {
			struct pce_ctable *old = node->children;
			pce_rcu_publish(node->children, ch->t_new);
			pce_retire_table(s, old);
		} else {
			pce_ctable_add_locked(node->children, at->tokens[0], at);
		}
		if (e)
			hint_raise(node, e);
		break;
	case PCE_INS_SPLIT_END:
	case PCE_INS_SPLIT_BRANCH: {
		struct pce_node *c = ch->child, *head = ch->n_head, *tail = ch->n_tail;

		adopt(tail, c);
		tail->parent = head;
		at = ch->op == PCE_INS_SPLIT_END ? head : ch->n_new;
		if (ch->op == PCE_INS_SPLIT_BRANCH)
			at->parent = head;
		if (e) {
			at->entry = e;
			if (at != head)
				at->hint = e;
			e->node = at;
			head->hint = pce_entry_later(tail->hint, e);
		}
		/* Without an entry (a router trie) head and the new leaf carry
		 * the owner sets their preparer gave them. */
		replace_in_parent(c, head);
		pce_retire_node(s, c);
		if (e)
			hint_raise(node, e);
		break;
	}
	case PCE_INS_NEW_ROOT:
		at = ch->n_new;
		at->parent = ch->n_head;
		if (e) {
			at->entry = e;
			at->hint = e;
			e->node = at;
		}
		if (ch->t_roots) {
			struct pce_ctable *old = s->roots;
			pce_rcu_publish(s->roots, ch->t_roots);
			pce_retire_table(s, old);
		} else {
			pce_ctable_add_locked(s->roots, ch->ns, ch->n_head);
		}
		break;
	default:
		PCE_ASSERT(0);
	}
}

/* ---- remove ------------------------------------------------------------- */

/* A node that is @a's edge followed by @b's (b the only child of a). */
static struct pce_node *merged(const struct pce_node *a, const struct pce_node *b)
{
	return node_new(a->tokens, a->len, b->tokens, b->len, b->depth);
}

/* Shrink a table that removals left mostly empty, when memory allows: a
 * failed shrink only keeps the bigger table, so it is not an error. */
static struct pce_ctable *maybe_shrunk(const struct pce_ctable *t, uint64_t gone_key,
				       size_t *bytes)
{
	struct pce_ctable *n;
	size_t cap = pce_ctable_cap(t);

	if (cap <= 4 || (t->live - 1) * 8 >= cap)
		return NULL;
	n = pce_ctable_rebuild(t, 0, NULL, bytes);
	if (n)
		pce_ctable_delete_locked(n, gone_key);
	return n;
}

static int prepare_unhang(const struct pce_shard *s, struct pce_node *n,
			  struct pce_trie_change *ch);

int pce_trie_prepare_remove(struct pce_shard *s, struct pce_entry *e,
			    struct pce_trie_change *ch)
{
	struct pce_node *n = e->node, *c = NULL;
	size_t live = n->children ? n->children->live : 0;

	(void)s;
	memset(ch, 0, sizeof(*ch));
	ch->node = n;
	ch->ns = e->ns;
	if (live >= 2) {
		ch->op = PCE_REM_DETACH;
		return 0;
	}
	if (live == 1) {
		c = pce_ctable_only_child(n->children);
		ch->op = PCE_REM_MERGE_CHILD;
		ch->child = c;
		ch->n_new = merged(n, c);
		if (!ch->n_new)
			return PCE_ENOMEM;
		ch->index_delta = (int64_t)pce_node_size(n->len + c->len) -
				  (int64_t)(pce_node_bytes(n) + pce_node_bytes(c) +
					    pce_ctable_size(n->children->log2cap));
		ch->nodes_delta = -1;
		return 0;
	}
	/* n is a leaf. */
	ch->tokens_delta = -(int64_t)n->len;
	ch->index_delta = -(int64_t)pce_node_bytes(n);
	ch->nodes_delta = -1;
	return prepare_unhang(s, n, ch);
}

/* The parent side of taking @n (a leaf, or a whole subtree) out of its
 * parent p: p's table loses n, and p goes too (a root left empty) or merges
 * with its remaining child (I3).  Adds p's side to ch's deltas, not n's. */
static int prepare_unhang(const struct pce_shard *s, struct pce_node *n,
			  struct pce_trie_change *ch)
{
	struct pce_node *p = n->parent, *c = NULL;

	ch->node = n;
	if (is_root(p) && p->children->live == 1) {
		ch->op = PCE_REM_LEAF_ROOT;
		ch->index_delta -= (int64_t)(pce_node_size(0) + pce_ctable_size(p->children->log2cap));
		ch->nodes_delta -= 1;
		return 0;
	}
	/* A router trie keeps p: its owner set differs from its child's. */
	if (!s->owner_sets && !is_root(p) && !p->entry && p->children->live == 2) {
		struct pce_node *x;
		size_t i;

		pce_ctable_for_each(p->children, i, x)
			if (x != n)
				c = x;
		ch->op = PCE_REM_LEAF_MERGE_PARENT;
		ch->child = c;
		ch->n_new = merged(p, c);
		if (!ch->n_new)
			return PCE_ENOMEM;
		ch->index_delta += (int64_t)pce_node_size(p->len + c->len) -
				   (int64_t)(pce_node_bytes(p) + pce_node_bytes(c) +
					     pce_ctable_size(p->children->log2cap));
		ch->nodes_delta -= 2 - 1;
		return 0;
	}
	ch->op = PCE_REM_LEAF;
	if (p->children->live == 1) {
		/* p keeps its entry and loses its last child: a node without
		 * children has no table (I2). */
		ch->drop_table = 1;
		ch->index_delta -= (int64_t)pce_ctable_size(p->children->log2cap);
	} else {
		size_t bytes = 0;
		ch->t_new = maybe_shrunk(p->children, n->tokens[0], &bytes);
		if (ch->t_new)
			ch->index_delta += (int64_t)bytes -
					   (int64_t)pce_ctable_size(p->children->log2cap);
	}
	return 0;
}

/* Unpublish ch->node (prepared by prepare_unhang) from its parent, which
 * goes or merges as prepared, and forget @gone, the subtree's hint, in the
 * hints above.  ch->node itself is the caller's to retire. */
static void commit_unhang(struct pce_shard *s, struct pce_trie_change *ch,
			  const struct pce_entry *gone)
{
	struct pce_node *n = ch->node, *p = n->parent, *m = ch->n_new;

	switch (ch->op) {
	case PCE_REM_LEAF:
		if (ch->t_new || ch->drop_table) {
			struct pce_ctable *old = p->children;
			pce_rcu_publish(p->children, ch->t_new);
			pce_retire_table(s, old);
		} else {
			pce_ctable_delete_locked(p->children, n->tokens[0]);
		}
		hint_forget(p, gone);
		break;
	case PCE_REM_LEAF_MERGE_PARENT: {
		struct pce_node *pp = p->parent;

		/* Readers reach n only through p, which m replaces whole. */
		adopt(m, ch->child);
		replace_in_parent(p, m);
		pce_retire_node(s, p);
		pce_retire_node(s, ch->child);
		pce_retire_table(s, p->children);
		hint_forget(pp, gone);
		break;
	}
	case PCE_REM_LEAF_ROOT:
		pce_ctable_delete_locked(s->roots, ch->ns);
		pce_retire_table(s, p->children);
		pce_retire_node(s, p);
		break;
	default:
		PCE_ASSERT(0);
	}
}

void pce_trie_commit_remove(struct pce_shard *s, struct pce_trie_change *ch,
			    struct pce_entry *e)
{
	struct pce_node *n = ch->node, *p = n->parent, *m = ch->n_new;

	switch (ch->op) {
	case PCE_REM_DETACH:
		pce_rcu_publish(n->entry, NULL);
		hint_forget(n, e);
		break;
	case PCE_REM_MERGE_CHILD:
		adopt(m, ch->child);
		replace_in_parent(n, m);
		pce_retire_node(s, n);
		pce_retire_node(s, ch->child);
		pce_retire_table(s, n->children);
		hint_forget(p, e);
		break;
	default:
		commit_unhang(s, ch, e);
		pce_retire_node(s, n);
		break;
	}
	e->node = NULL;
}

int pce_trie_prepare_remove_prefix(struct pce_shard *s, uint64_t ns, const uint32_t *q,
				   size_t n, struct pce_trie_change *ch)
{
	struct pce_node *node = pce_trie_root_rcu(s, ns);
	size_t pos = 0;

	memset(ch, 0, sizeof(*ch));
	ch->ns = ns;
	while (node) {
		size_t k, want;
		struct pce_node *c = step_rcu(node, q, pos, n, &k);

		if (!c)
			return 0;
		want = PCE_MIN((size_t)c->len, n - pos);
		if (k < want)
			return 0; /* q leaves the trie: nothing starts with it */
		if (pos + k == n) /* q ends inside or at the end of c's edge */
			return prepare_unhang(s, c, ch);
		pos += k;
		node = c;
	}
	return 0;
}

static void clear_subtree(struct pce_shard *s, struct pce_node *top, pce_trie_node_fn fn,
			  void *ctx, struct pce_trie_freed *freed);

int pce_trie_prepare_unhang(struct pce_shard *s, uint64_t ns, struct pce_node *n,
			    struct pce_trie_change *ch)
{
	memset(ch, 0, sizeof(*ch));
	ch->ns = ns;
	return prepare_unhang(s, n, ch);
}

void pce_trie_commit_remove_prefix(struct pce_shard *s, struct pce_trie_change *ch,
				   pce_trie_node_fn fn, void *ctx, struct pce_trie_freed *freed)
{
	struct pce_node *top = ch->node;

	commit_unhang(s, ch, s->owner_sets ? NULL : top->hint);
	clear_subtree(s, top, fn, ctx, freed);
}

void pce_trie_abort(struct pce_trie_change *ch)
{
	if (ch->n_head)
		pce_free(ch->n_head->children);
	pce_free(ch->n_head);
	pce_free(ch->n_tail);
	pce_free(ch->n_new);
	pce_free(ch->t_new);
	pce_free(ch->t_roots);
	memset(ch, 0, sizeof(*ch));
}

/* ---- clear -------------------------------------------------------------- */

/* Retire @top (already unpublished) and everything below it, handing each
 * entry to @fn.  Worklist threaded through retire_next (the nodes are being
 * retired anyway), so clearing a deep trie needs neither recursion nor
 * memory.  @fn sees each node before it is retired. */
static void clear_subtree(struct pce_shard *s, struct pce_node *top, pce_trie_node_fn fn,
			  void *ctx, struct pce_trie_freed *freed)
{
	struct pce_node *work = top;

	top->retire_next = NULL;
	while (work) {
		struct pce_node *n = work, *c;
		size_t i;

		work = n->retire_next;
		pce_ctable_for_each(n->children, i, c) {
			c->retire_next = work;
			work = c;
		}
		fn(s, n, ctx);
		freed->index_delta -= (int64_t)pce_node_bytes(n);
		freed->tokens_delta -= n->len;
		freed->nodes_delta -= 1;
		if (n->children) {
			freed->index_delta -= (int64_t)pce_ctable_size(n->children->log2cap);
			pce_retire_table(s, n->children);
		}
		pce_retire_node(s, n);
	}
}

void pce_trie_clear_locked(struct pce_shard *s, uint64_t ns, struct pce_node *root,
			   pce_trie_node_fn fn, void *ctx, struct pce_trie_freed *freed)
{
	pce_ctable_delete_locked(s->roots, ns);
	clear_subtree(s, root, fn, ctx, freed);
}
