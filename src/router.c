/*
 * router.c - the router index (pce/router.h): life cycle, adds, removes,
 * clears, expiry and eviction of holdings, statistics.  The read path is
 * router_match.c; the audit router_audit.c.
 *
 * Layout.  A router is a cache core (core.h) created by pce__core_create()
 * with owner_sets shards: the same shards, writer locks, compressed tries
 * (trie.c), retire lists and reclaimer (reclaim.c).  A router trie has no
 * entries and no hints; the hint word of each non-root node holds its owner
 * set: a ctable keyed by owner id whose values are owner words (tier and
 * expiry, router_core.h).  Each shard's expiry heap (expiry.c) holds the
 * nodes with an owner that expires, keyed by the earliest such expiry; a
 * node's place in it is kept in its set's header (ctable.heap_idx).
 *
 *   add(o1, [a b c d]), add(o2, [a b x y]), add(o3, [a b])   block_size 2
 *     root -a-> (a b){o1,o2,o3} -+-c-> (c d){o1}
 *                                +-x-> (x y){o2}
 *   remove(o1, [a b c d]): o1 leaves (c d), which has no owner left and goes:
 *     root -a-> (a b){o1,o2,o3} ---x-> (x y){o2}
 *
 * Invariants (checked by pce_router_audit()):
 *   R1 Every non-root node has an owner set with at least one live owner;
 *      roots have none.  (A node nobody holds is unhung at once.)
 *   R2 Owner sets only shrink down a path: an owner live in a node's set
 *      is live in its parent's (prefix closure of holdings).
 *   R3 Expiry never rises down a path: an owner's expiry in a node is at
 *      most its expiry in the parent.
 *   R4 A set's live count is its number of live slots.
 *   R5 holdings = sum over nodes of live owners x blocks ending in the edge;
 *      owner_bytes = sum of set sizes; index_bytes = trie bytes (with the
 *      expiry heap) + owner_bytes; the core's node and token gauges match
 *      the tries.
 *   R6 Trie structure as in a cache (I1, I2, I5 of docs/design.md), but
 *      nodes are never merged: a node boundary is where holdings end or
 *      leave the path.
 *   R7 Node boundaries of holdings lie on whole blocks, except where two
 *      holdings diverge inside a block (then both hold that whole block).
 *   R8 A node is in its shard's expiry heap iff one of its owners expires,
 *      keyed by the earliest such expiry (I9's heap order and positions).
 *
 * Protocol.
 *   field                   written by (lock)                read by
 *   node.owners             writer (shard lock): release     match: acquire (RCU)
 *                           store of a fully built set
 *   set slot (owner word)   writer (shard lock): release     match: acquire (RCU)
 *                           store; add, retier/extend, tomb
 *   set.live                writer (shard lock), relaxed     match (relaxed), audit
 *   set.ref                 match (relaxed, when 0)          eviction hand (lock)
 *   set.heap_idx, heap      writer (shard lock): expiry.c's  writer, audit
 *                           pce_heap_* only, but for a set
 *                           replacing a node's set, which
 *                           takes the old one's heap_idx
 *   gauges, counters        writers, relaxed atomics         stats, budget
 *
 * Heap positions.  set.heap_idx shares its word with the set's retire link
 * (ctable.h): a set leaves the heap (drop_node: pce_heap_remove()) or hands
 * its position to the set replacing it (add_locked) before it is retired,
 * and a retired set's heap_idx is never read.  A heap item names the node,
 * the position lives in the node's set: a split's tail, which takes the
 * split node's set, takes its heap item too (pce_heap_moved()).  Items that
 * expire_locked() popped lie past the heap's end with PCE_NO_HEAP positions
 * until pushed back, so the removals they cause treat them as out of it.
 *
 * Ordering (what a concurrent match can see).  An add updates the sets of
 * the path top-down, then publishes new nodes (with their sets built);
 * removals go bottom-up (post-order).  So R2 holds at every instant for
 * the published state.  A match reads each set once; see router_match.c.
 * Expiry goes deepest first (expire_locked), which keeps R2 the same way.
 *
 * Budget.  index_bytes is reserved (atomic add, rolled back if over the
 * budget) before anything is published, as budget.c does for a cache;
 * budget.c's own reservation is not used because it checks the core's
 * three gauges (KV, trie index, entries) and applies node and token deltas
 * up front, while the router's budget counts owner sets beside the trie and
 * its commits apply the trie's deltas.  An
 * add that does not fit drops its lock and evicts (CLOCK over leaves, own
 * shard first), then tries again.  The reclaimer evicts from the high
 * watermark to the low one.  Retired memory is not counted (as in a cache).
 * Expiry heap growth is part of an add's reservation (index bytes, counted
 * with the trie's).  pce_router_set_budgets() stores new budgets under the
 * reclaimer's lock, takes every shard lock once (pce_budget_barrier(): the
 * reservations made under the old budget are done), then evicts down to
 * the new budget as an add would.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>


#include "alloc.h"
#include "budget.h"
#include "expiry.h"
#include "rcu.h"
#include "reclaim.h"
#include "retire.h"
#include "router_core.h"
#include "shard.h"
#include "thread.h"
#include "trie.h"

/* ---- walking a trie under its lock --------------------------------------- */

/* The first live child of @p, from slot @i of its table on, whose set
 * holds *@owner (any child if @owner is NULL), or NULL. */
static struct pce_node *child_from(const struct pce_node *p, size_t i, const uint32_t *owner)
{
	const struct pce_ctable *t = p->children;
	struct pce_node *c;

	for (; i < pce_ctable_cap(t); i++) {
		c = t->slot[i].node;
		if (c != NULL && c != PCE_CT_TOMB &&
		    (!owner || pce_ctable_find_rcu(c->owners, *owner)))
			return c;
	}
	return NULL;
}

/* The first node of a post-order below @n over the nodes holding *@owner
 * (all nodes if @owner is NULL; @n holds it): down the first such child
 * while there is one. */
static struct pce_node *first_leaf(struct pce_node *n, const uint32_t *owner)
{
	struct pce_node *c;

	while (n->children && (c = child_from(n, 0, owner)) != NULL)
		n = c;
	return n;
}

/* The slot after that of @key, a child of @t visited since: its slot keeps
 * the key (live, or a tombstone once the child is unhung: T1 of ctable.h). */
static size_t slot_after(const struct pce_ctable *t, uint64_t key)
{
	size_t mask = pce_ctable_cap(t) - 1;
	size_t i = pce_ctable_home(t, key);

	while (t->slot[i].key != key || t->slot[i].node == NULL)
		i = (i + 1) & mask;
	return i + 1;
}

struct pce_node *pce__router_first_leaf_locked(struct pce_node *n)
{
	return first_leaf(n, NULL);
}

struct pce_node *pce__router_post_next_locked(struct pce_node *n, const struct pce_node *top)
{
	struct pce_node *p, *sib;

	if (n == top)
		return NULL;
	p = n->parent;
	sib = p->children ? child_from(p, slot_after(p->children, n->tokens[0]), NULL) : NULL;
	return sib ? first_leaf(sib, NULL) : p;
}

/* ---- events and accounting ----------------------------------------------- */

static void emit(struct pce_router *r, enum pce_event_kind kind, enum pce_reason reason,
		 uint64_t ns, const uint32_t *tokens, size_t len, uint32_t owner, uint32_t tier)
{
	struct pce_event ev = { 0 };

	if (!r->cfg.on_event)
		return;
	ev.kind = kind;
	ev.reason = reason;
	ev.ns = ns;
	ev.len = len;
	ev.tokens = tokens;
	ev.owner = owner;
	ev.tier = tier;
	r->cfg.on_event(r->cfg.event_ctx, &ev);
}

static uint64_t set_bytes(const struct pce_ctable *t)
{
	return t ? pce_ctable_size(t->log2cap) : 0;
}

static void gauge_add(uint64_t *g, int64_t d)
{
	if (d)
		pce_add_relaxed(g, (uint64_t)d);
}

/* Apply a committed trie change and @heap_delta bytes of expiry heap
 * growth to the core's gauges (node, token and trie index bytes). */
static void trie_usage_apply(struct pce_router *r, const struct pce_trie_change *ch,
			     int64_t heap_delta)
{
	struct pce_delta d = { 0 };

	d.index = ch->index_delta + heap_delta;
	d.nodes = ch->nodes_delta;
	d.tokens = ch->tokens_delta;
	pce_usage_apply(r->core, &d);
}

/* Reserve @bytes of index (rolled back if over the budget).  0 or PCE_ENOSPC. */
static int reserve(struct pce_router *r, int64_t bytes)
{
	uint64_t now, budget = pce_load_relaxed(&r->budget);

	if (bytes <= 0 || budget == 0) {
		gauge_add(&r->index_bytes, bytes);
		return 0;
	}
	now = __atomic_add_fetch(&r->index_bytes, (uint64_t)bytes, __ATOMIC_RELAXED);
	if (now <= budget)
		return 0;
	pce_sub_relaxed(&r->index_bytes, (uint64_t)bytes);
	return PCE_ENOSPC;
}

/* What a clear of nodes (trie.c's clear_subtree) gives back, and how. */
struct drop_ctx {
	struct pce_router *r;
	enum pce_reason reason;
	uint64_t ns;
	uint32_t cut_start;  /* nodes starting at this depth are cut points (events) */
	uint64_t holdings;   /* (owner, block) pairs dropped */
	uint64_t set_bytes;  /* owner-set bytes dropped */
};

static void drop_node(struct pce_shard *s, struct pce_node *n, void *arg)
{
	struct drop_ctx *x = arg;
	struct pce_ctable *t = n->owners;
	struct pce_router *r = x->r;
	uint64_t blocks;
	struct pce_node *w;
	size_t i;

	if (!t)
		return; /* a root */
	blocks = pce_router_blocks(r, n);
	x->holdings += (uint64_t)t->live * blocks;
	x->set_bytes += set_bytes(t);
	if (r->cfg.on_event && t->live && n->depth - n->len == x->cut_start) {
		uint32_t bs = r->cfg.block_size;
		size_t first_end = ((size_t)(n->depth - n->len) / bs + 1) * bs;

		pce_ctable_for_each(t, i, w)
			emit(r, PCE_EVENT_REMOVED, x->reason, x->ns, NULL, first_end,
			     (uint32_t)t->slot[i].key, pce_ow_tier(pce_ow_word(w)));
	}
	pce_heap_remove(&s->expiry, n); /* its position word lives in t */
	pce_retire_table(s, t);
}

/* Apply what a clear dropped to the gauges and counters. */
static void drop_apply(struct pce_router *r, const struct drop_ctx *x,
		       const struct pce_trie_freed *freed)
{
	struct pce_delta d = { 0 };

	d.index = freed->index_delta;
	d.nodes = freed->nodes_delta;
	d.tokens = freed->tokens_delta;
	pce_usage_apply(r->core, &d);
	pce_sub_relaxed(&r->index_bytes, x->set_bytes + (uint64_t)-freed->index_delta);
	pce_sub_relaxed(&r->owner_bytes, x->set_bytes);
	pce_sub_relaxed(&r->holdings, x->holdings);
	pce_add_relaxed(&r->removed[x->reason], x->holdings);
}

/* (R8) An owner of @n went from expiry @old to @new (PCE_NEVER for one
 * that joined or left): keep @n's heap key the earliest of its owners.
 * Pushing needs the room prepared (pce_heap_prepare, installed). */
static void expiry_changed_locked(struct pce_shard *s, struct pce_node *n, uint64_t old,
				  uint64_t new)
{
	uint64_t key = pce_heap_key(&s->expiry, n);

	if (new < key && key == PCE_NEVER)
		pce_heap_push(&s->expiry, NULL, n, new);
	else if (new < key)
		pce_heap_rekey(&s->expiry, n, new);
	else if (old == key && new != old)
		pce_heap_rekey(&s->expiry, n, pce_router_earliest(n->owners));
}

/* Unhang @n (whose set just became empty, or a victim) with its subtree. */
static void unhang_locked(struct pce_router *r, struct pce_shard *s, uint64_t ns,
			  struct pce_node *n, enum pce_reason reason)
{
	struct drop_ctx x = { r, reason, ns, n->depth - n->len, 0, 0 };
	struct pce_trie_change ch;
	struct pce_trie_freed freed;

	/* Never fails in a router trie (no merges), see trie.h. */
	(void)pce_trie_prepare_unhang(s, ns, n, &ch);
	freed.index_delta = ch.index_delta;
	freed.tokens_delta = ch.tokens_delta;
	freed.nodes_delta = ch.nodes_delta;
	pce_trie_commit_remove_prefix(s, &ch, drop_node, &x, &freed);
	drop_apply(r, &x, &freed);
}

/* Take @owner out of @n's set (it is live there); unhang @n if it emptied
 * (post-order callers: its children are gone already, R2). */
static void owner_out_locked(struct pce_router *r, struct pce_shard *s, uint64_t ns,
			     struct pce_node *n, uint32_t owner, enum pce_reason reason)
{
	uint64_t blocks = pce_router_blocks(r, n);
	uint64_t old = pce_ow_expires(pce_ow_word(pce_ctable_find_rcu(n->owners, owner)));

	pce_ctable_delete_locked(n->owners, owner);
	pce_sub_relaxed(&r->holdings, blocks);
	pce_add_relaxed(&r->removed[reason], blocks);
	if (n->owners->live == 0)
		unhang_locked(r, s, ns, n, reason);
	else
		expiry_changed_locked(s, n, old, PCE_NEVER);
}

/* ---- add ----------------------------------------------------------------- */

struct add_req {
	uint32_t owner, tier;
	uint64_t ns;
	const uint32_t *q;
	size_t n;
	uint64_t expires_at;
	int retier;
	/* outputs */
	int64_t need;        /* index bytes the add needed (PCE_ENOSPC) */
	uint64_t new_blocks;
	int changed;
};

/* The word @owner gets in a set where it had @old (0: not held). */
static uint64_t word_for(const struct add_req *a, uint64_t old)
{
	uint32_t tier = old && !a->retier ? pce_ow_tier(old) : a->tier;
	uint64_t exp = old ? PCE_MAX(pce_ow_expires(old), a->expires_at) : a->expires_at;

	return pce_ow_make(tier, exp);
}

/* The non-root nodes from the root of @ns down to @last (under the lock). */
static struct pce_node *path_next(struct pce_node *node, const uint32_t *q, size_t *pos)
{
	struct pce_node *c = pce_ctable_find_rcu(node->children, q[*pos]);

	*pos += c->len;
	return c;
}

/* A new set: @old's live owners (may be NULL) plus @owner -> @w, or with
 * @owner's word set to @w if it is there. */
static struct pce_ctable *set_with(const struct pce_ctable *old, uint32_t owner, uint64_t w,
				   size_t *bytes)
{
	struct pce_node *cur = old ? pce_ctable_find_rcu(old, owner) : NULL;
	struct pce_ctable *t = pce_ctable_rebuild(old, owner, cur ? NULL : pce_ow_ptr(w), bytes);

	if (t && cur)
		pce_ctable_replace_locked(t, owner, pce_ow_ptr(w));
	return t;
}

static int add_locked(struct pce_router *r, struct pce_shard *s, struct add_req *a)
{
	struct pce_trie_change ch;
	struct pce_ctable **fresh = NULL, *head_set = NULL, *leaf_set = NULL;
	struct pce_node *root, *node, *last;
	struct pce_heap_grow grow = { NULL, 0 };
	int ttl = a->expires_at != PCE_NEVER;
	uint64_t word_exp = pce_ow_expires(word_for(a, 0));
	size_t pos, nfresh = 0, i;
	uint32_t more = 0;      /* nodes that may enter the expiry heap */
	int64_t set_delta = 0, heap_delta = 0;
	int rc;

	rc = pce_trie_prepare_insert(s, a->ns, a->q, a->n, &ch);
	if (rc)
		return rc;
	root = ch.op == PCE_INS_NEW_ROOT ? NULL : pce_trie_root_rcu(s, a->ns);
	last = ch.op == PCE_INS_NEW_ROOT ? NULL : ch.node;

	/* Count the existing sets the owner joins that need a bigger table,
	 * and the nodes a TTL may bring into the expiry heap. */
	for (node = root, pos = 0; node && node != last;) {
		node = path_next(node, a->q, &pos);
		if (!pce_ctable_find_rcu(node->owners, a->owner) &&
		    !pce_ctable_has_room(node->owners, a->owner))
			nfresh++;
		more += ttl && pce_heap_key(&s->expiry, node) == PCE_NEVER;
	}
	if (nfresh) {
		fresh = pce_zalloc(nfresh * sizeof(*fresh));
		rc = fresh ? 0 : PCE_ENOMEM;
	}
	for (node = root, pos = 0, i = 0; !rc && node && node != last;) {
		size_t bytes;

		node = path_next(node, a->q, &pos);
		if (pce_ctable_find_rcu(node->owners, a->owner) ||
		    pce_ctable_has_room(node->owners, a->owner))
			continue;
		fresh[i] = set_with(node->owners, a->owner, word_for(a, 0), &bytes);
		if (!fresh[i++]) {
			rc = PCE_ENOMEM;
			break;
		}
		set_delta += (int64_t)bytes - (int64_t)set_bytes(node->owners);
	}
	if (!rc && (ch.op == PCE_INS_SPLIT_END || ch.op == PCE_INS_SPLIT_BRANCH)) {
		const struct pce_ctable *cs = ch.child->owners;
		struct pce_node *cur = pce_ctable_find_rcu(cs, a->owner);
		size_t bytes;

		head_set = set_with(cs, a->owner, word_for(a, cur ? pce_ow_word(cur) : 0), &bytes);
		rc = head_set ? 0 : PCE_ENOMEM;
		set_delta += (int64_t)bytes;
		more += ttl || pce_heap_key(&s->expiry, ch.child) != PCE_NEVER;
	}
	if (!rc && (ch.op == PCE_INS_LEAF || ch.op == PCE_INS_NEW_ROOT ||
		    ch.op == PCE_INS_SPLIT_BRANCH)) {
		size_t bytes;

		leaf_set = set_with(NULL, a->owner, word_for(a, 0), &bytes);
		rc = leaf_set ? 0 : PCE_ENOMEM;
		set_delta += (int64_t)bytes;
		more += ttl;
	}
	if (!rc && more)
		rc = pce_heap_prepare(&s->expiry, more, &grow, &heap_delta);
	a->need = ch.index_delta + set_delta + heap_delta;
	if (!rc)
		rc = reserve(r, a->need);
	if (rc) {
		for (i = 0; i < nfresh && fresh; i++)
			pce_free(fresh[i]);
		pce_free(fresh);
		pce_free(head_set);
		pce_free(leaf_set);
		pce_heap_abort(&grow);
		pce_trie_abort(&ch);
		return rc;
	}
	pce_heap_install(&s->expiry, &grow);

	/* Commit: existing sets top-down (R2 for every reader), then the new
	 * nodes with their sets built. */
	for (node = root, pos = 0, i = 0; node && node != last;) {
		struct pce_node *cur;

		node = path_next(node, a->q, &pos);
		cur = pce_ctable_find_rcu(node->owners, a->owner);
		if (cur) {
			uint64_t w = word_for(a, pce_ow_word(cur));
			if (w != pce_ow_word(cur)) {
				a->changed |= pce_ow_tier(w) != pce_ow_tier(pce_ow_word(cur));
				pce_ctable_replace_locked(node->owners, a->owner, pce_ow_ptr(w));
				expiry_changed_locked(s, node, pce_ow_expires(pce_ow_word(cur)),
						      pce_ow_expires(w));
			}
			continue;
		}
		if (pce_ctable_has_room(node->owners, a->owner)) {
			pce_ctable_add_locked(node->owners, a->owner, pce_ow_ptr(word_for(a, 0)));
		} else {
			struct pce_ctable *old = node->owners;
			fresh[i]->heap_idx = old->heap_idx;
			pce_rcu_publish(node->owners, fresh[i++]);
			pce_retire_table(s, old);
		}
		expiry_changed_locked(s, node, PCE_NEVER, word_exp);
		a->new_blocks += pce_router_blocks(r, node);
	}
	pce_free(fresh);
	if (head_set) {
		ch.n_head->owners = head_set;
		/* The head's blocks were the split node's: new to the owner only
		 * if it did not hold that node. */
		if (!pce_ctable_find_rcu(ch.child->owners, a->owner))
			a->new_blocks += pce_router_blocks(r, ch.n_head);
	}
	if (leaf_set) {
		ch.n_new->owners = leaf_set;
		a->new_blocks += pce_router_blocks(r, ch.n_new);
	}
	pce_trie_commit_insert(s, &ch, NULL);
	/* (R8) A split's tail took the split node's set, and so its place in
	 * the heap; the head and the new leaf enter it if they expire. */
	if (head_set) {
		uint64_t key = pce_router_earliest(head_set);

		pce_heap_moved(&s->expiry, ch.n_tail);
		if (key != PCE_NEVER)
			pce_heap_push(&s->expiry, NULL, ch.n_head, key);
	}
	if (leaf_set && ttl)
		pce_heap_push(&s->expiry, NULL, ch.n_new, word_exp);
	trie_usage_apply(r, &ch, heap_delta);
	gauge_add(&r->owner_bytes, set_delta);
	gauge_add(&r->holdings, (int64_t)a->new_blocks);
	a->changed |= a->new_blocks > 0;
	if (a->changed)
		emit(r, PCE_EVENT_STORED, PCE_REASON_CAPACITY, a->ns, a->q, a->n, a->owner,
		     a->tier);
	return 0;
}

/* ---- eviction ------------------------------------------------------------ */

/*
 * CLOCK over leaves: a post-order sweep of a shard's tries; a leaf whose
 * set a match referenced since the last sweep loses its reference, else it
 * is evicted with all its owners (a leaf: no holding extends it).  Parents
 * left as leaves are met later in the same sweep.  With @force the
 * references are ignored.  Stops once index_bytes <= @goal.
 */
static void sweep_locked(struct pce_router *r, struct pce_shard *s, uint64_t goal, int force)
{
	struct pce_node *root;
	size_t i;

	if (!s->roots)
		return;
	pce_ctable_for_each(s->roots, i, root) {
		uint64_t ns = s->roots->slot[i].key;
		struct pce_node *n = pce__router_first_leaf_locked(root), *next;

		for (; n && n != root; n = next) {
			if (pce_load_relaxed(&r->index_bytes) <= goal)
				return;
			next = pce__router_post_next_locked(n, root);
			if (n->children && n->children->live)
				continue;
			if (!force && pce_load_relaxed(&n->owners->ref)) {
				pce_store_relaxed(&n->owners->ref, 0);
				continue;
			}
			/* The namespace's last leaf takes its root along; next is
			 * then the root, which ends the walk. */
			unhang_locked(r, s, ns, n, PCE_REASON_CAPACITY);
		}
	}
}

/* Evict until index_bytes <= @goal: two CLOCK rounds over every shard
 * (starting at @first), then without second chances.  Takes one shard lock
 * at a time.  Return: 1 if the goal was met. */
static int evict_to(struct pce_router *r, uint64_t goal, uint32_t first)
{
	uint32_t shards = r->core->shard_mask + 1;

	for (int round = 0; round < 3; round++) {
		for (uint32_t k = 0; k < shards; k++) {
			struct pce_shard *s = &r->core->shard[(first + k) & r->core->shard_mask];

			if (pce_load_relaxed(&r->index_bytes) <= goal)
				return 1;
			pthread_mutex_lock(&s->lock);
			sweep_locked(r, s, goal, round == 2);
			pthread_mutex_unlock(&s->lock);
		}
	}
	return pce_load_relaxed(&r->index_bytes) <= goal;
}

/* ---- expiry -------------------------------------------------------------- */

/* The namespace of @n's trie: up to its root, then the roots table's key
 * for it.  O(depth + the shard's namespaces); expiry needs it only for an
 * event and when a trie loses its last holding. */
static uint64_t ns_of_locked(const struct pce_shard *s, const struct pce_node *n)
{
	struct pce_node *root;
	size_t i;

	while (n->owners)
		n = n->parent;
	pce_ctable_for_each(s->roots, i, root)
		if (root == n)
			break;
	return s->roots->slot[i].key;
}

/* Drop the holdings of @n expired at @now.  Return: @n's new heap key (the
 * earliest expiry left, > @now), or PCE_NEVER if @n went. */
static uint64_t expire_node_locked(struct pce_router *r, struct pce_shard *s, struct pce_node *n,
				   uint64_t now)
{
	struct pce_ctable *t = n->owners;
	struct pce_node *p = n->parent, *w;
	size_t j;

	pce_ctable_for_each(t, j, w) {
		uint64_t word = pce_ow_word(w), ns = 0;
		uint32_t owner = (uint32_t)t->slot[j].key;
		struct pce_node *pw;
		int last, cut;

		if (pce_ow_expires(word) > now)
			continue;
		/* One event per cut point: the parent is a root, or keeps the
		 * owner (its expiry is later, R3). */
		pw = p->owners ? pce_ctable_find_rcu(p->owners, owner) : NULL;
		cut = !p->owners || (pw && pce_ow_expires(pce_ow_word(pw)) > now);
		last = t->live == 1;
		if ((cut && r->cfg.on_event) || last)
			ns = ns_of_locked(s, n);
		if (cut) {
			uint32_t bs = r->cfg.block_size;
			emit(r, PCE_EVENT_REMOVED, PCE_REASON_TTL, ns, NULL,
			     ((size_t)(n->depth - n->len) / bs + 1) * bs, owner, pce_ow_tier(word));
		}
		owner_out_locked(r, s, ns, n, owner, PCE_REASON_TTL);
		if (last)
			return PCE_NEVER; /* n is gone (with the root, if it was the last) */
	}
	return pce_router_earliest(t);
}

static int deeper_first(const void *a, const void *b)
{
	const struct pce_node *x = ((const struct pce_heap_item *)a)->obj;
	const struct pce_node *y = ((const struct pce_heap_item *)b)->obj;

	return (x->depth < y->depth) - (x->depth > y->depth);
}

/*
 * Drop every holding of @s expired at @now (R8: exactly the nodes keyed
 * <= @now in the heap hold one).  The due nodes are popped to the end of
 * the heap's array, then handled deepest first, so that an owner leaves a
 * node's children before the node (R2 for every reader: by R3 an owner
 * expired in a node is expired in every node below it that it holds, and
 * those are due too).  A node whose last owner expires is a leaf by then.
 * Survivors go back into the heap with their new key; the pushes fill the
 * array from below, never past the item being read.  O(due x log n).
 */
static void expire_locked(struct pce_router *r, struct pce_shard *s, uint64_t now)
{
	struct pce_heap *h = &s->expiry;
	const struct pce_heap_item *top;
	struct pce_heap_item *it;
	uint32_t due = 0;

	while ((top = pce_heap_top(h)) && top->key <= now) {
		pce_heap_pop(h);
		due++;
	}
	if (!due)
		return;
	it = h->item + h->size;
	qsort(it, due, sizeof(*it), deeper_first);
	for (uint32_t j = 0; j < due; j++)
		it[j].key = expire_node_locked(r, s, it[j].obj, now);
	/* Unhangs only shrank the heap: it[] is still past its end. */
	for (uint32_t j = 0; j < due; j++) {
		struct pce_heap_item back = it[j];

		if (back.key != PCE_NEVER)
			pce_heap_push(h, NULL, back.obj, back.key);
	}
}

/* The router's part of a reclaim pass (core.h pass_fn). */
static void router_pass(struct pce_cache *c, void *ctx, uint64_t now)
{
	struct pce_router *r = ctx;
	uint64_t high = pce_load_relaxed(&r->high);

	if (pce_load_relaxed(&r->has_ttl)) {
		for (uint32_t i = 0; i <= c->shard_mask; i++) {
			struct pce_shard *s = &c->shard[i];
			pthread_mutex_lock(&s->lock);
			expire_locked(r, s, now);
			pthread_mutex_unlock(&s->lock);
		}
	}
	if (pce_load_relaxed(&r->budget) && pce_load_relaxed(&r->index_bytes) > high)
		evict_to(r, pce_load_relaxed(&r->low), 0);
}

/* ---- life cycle ---------------------------------------------------------- */

/* Put a budget and its watermarks in force (relaxed stores; set_budgets
 * orders them with the reservations). */
static void budgets_put(struct pce_router *r, uint64_t budget, uint32_t high_pct,
			uint32_t low_pct)
{
	pce_store_relaxed(&r->budget, budget);
	pce_store_relaxed(&r->high, pce_budget_share(budget, high_pct));
	pce_store_relaxed(&r->low, pce_budget_share(budget, low_pct));
}

void pce_router_config_init(struct pce_router_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->shards = 16;
	cfg->block_size = 1;
	cfg->tier_weight[PCE_TIER_GPU] = 1.0;
	cfg->tier_weight[PCE_TIER_CPU] = 0.8;
	cfg->high_watermark_pct = 90;
	cfg->low_watermark_pct = 80;
	cfg->reclaim_interval_ns = 10 * 1000 * 1000;
	cfg->background_reclaim = 1;
}

/* The cache config the core is created from: the shared fields, checked by
 * pce_config_error() as a cache's are. */
static void core_config(const struct pce_router_config *rc, struct pce_config *cc)
{
	pce_config_init(cc);
	cc->shards = rc->shards;
	cc->block_size = rc->block_size;
	cc->high_watermark_pct = rc->high_watermark_pct;
	cc->low_watermark_pct = rc->low_watermark_pct;
	cc->reclaim_interval_ns = rc->reclaim_interval_ns;
	cc->background_reclaim = rc->background_reclaim;
	cc->clock = rc->clock;
	cc->clock_ctx = rc->clock_ctx;
}

const char *pce_router_config_error(const struct pce_router_config *cfg)
{
	struct pce_config cc;
	const char *err;

	if (!cfg)
		return "config is NULL";
	core_config(cfg, &cc);
	err = pce_config_error(&cc);
	if (err)
		return err;
	for (uint32_t t = 0; t < PCE_TIERS; t++)
		if (!isfinite(cfg->tier_weight[t]) || cfg->tier_weight[t] < 0)
			return "tier_weight must be finite and >= 0";
	return NULL;
}

int pce_router_create(const struct pce_router_config *cfg, struct pce_router **out)
{
	struct pce_router *r;
	struct pce_config cc;
	int rc;

	if (!out)
		return PCE_EINVAL;
	*out = NULL;
	if (pce_router_config_error(cfg))
		return PCE_EINVAL;
	r = pce_zalloc_aligned(sizeof(*r));
	if (!r)
		return PCE_ENOMEM;
	r->cfg = *cfg;
	budgets_put(r, cfg->index_budget, cfg->high_watermark_pct, cfg->low_watermark_pct);
	r->stripe = pce_zalloc_aligned(PCE_STAT_STRIPES * sizeof(struct pce_router_stripe));
	if (!r->stripe) {
		pce_free(r);
		return PCE_ENOMEM;
	}
	core_config(cfg, &cc);
	/* The reclaim thread starts once r->core is set: its passes use it. */
	cc.background_reclaim = 0;
	rc = pce__core_create(&cc, router_pass, r, &r->core);
	if (rc == 0 && cfg->background_reclaim) {
		r->core->cfg.background_reclaim = 1;
		rc = pce_reclaim_start(r->core);
		if (rc)
			(void)pce_cache_destroy(r->core);
	}
	if (rc) {
		pce_free(r->stripe);
		pce_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void pce_router_destroy(struct pce_router *r)
{
	struct pce_cache *c;

	if (!r)
		return;
	c = r->core;
	if (pce_cache_inherited(c))
		return; /* the parent's: abandoned, as pce_cache_destroy() does */
	pce_reclaim_stop(c);
	for (uint32_t i = 0; i <= c->shard_mask; i++) {
		struct pce_shard *s = &c->shard[i];
		struct pce_node *root;
		size_t j;

		pthread_mutex_lock(&s->lock);
		if (s->roots) {
			struct drop_ctx x = { r, PCE_REASON_DESTROYED, 0, UINT32_MAX, 0, 0 };
			struct pce_trie_freed freed = { 0, 0, 0 };

			pce_ctable_for_each(s->roots, j, root)
				pce_trie_clear_locked(s, s->roots->slot[j].key, root, drop_node, &x,
						      &freed);
			drop_apply(r, &x, &freed);
		}
		pthread_mutex_unlock(&s->lock);
	}
	/* No entries, no pins: the core's destroy frees what is left. */
	(void)pce_cache_destroy(c);
	pce_free(r->stripe);
	pce_free(r);
}

/* ---- holdings ------------------------------------------------------------ */

/* Evict-and-retry rounds an add makes before it reports PCE_ENOSPC. */
#define ADD_ATTEMPTS 8

static int check_seq(const struct pce_router *r, const uint32_t *q, size_t *n)
{
	if (!q)
		return PCE_EINVAL;
	if (*n > PCE_MAX_TOKENS)
		return PCE_E2BIG;
	*n -= *n % r->cfg.block_size;
	return *n == 0 ? PCE_ESHORT : 0;
}

int pce_router_add(struct pce_router *r, uint32_t owner, uint64_t ns, const uint32_t *tokens,
		   size_t len, uint32_t tier, const struct pce_router_add_opts *opts,
		   size_t *new_blocks)
{
	struct add_req a = { 0 };
	uint64_t ttl, now = 0, budget;
	struct pce_shard *s;
	int rc;

	if (new_blocks)
		*new_blocks = 0;
	if (!r || tier >= PCE_TIERS || (opts && (opts->flags & ~PCE_ROUTER_ADD_RETIER)))
		return PCE_EINVAL;
	if (pce_cache_inherited(r->core))
		return PCE_EFORKED;
	rc = check_seq(r, tokens, &len);
	if (rc)
		return rc;
	ttl = opts ? opts->ttl_ns : 0;
	a.owner = owner;
	a.tier = tier;
	a.ns = ns;
	a.q = tokens;
	a.n = len;
	a.retier = opts && (opts->flags & PCE_ROUTER_ADD_RETIER);
	a.expires_at = pce_deadline(r->core, ttl, r->cfg.default_ttl_ns, &now);
	if (a.expires_at != PCE_NEVER && !pce_load_relaxed(&r->has_ttl))
		pce_store_relaxed(&r->has_ttl, 1);
	s = pce_shard_of(r->core, ns, tokens[0]);
	for (int attempt = 0;; attempt++) {
		pthread_mutex_lock(&s->lock);
		rc = add_locked(r, s, &a);
		pthread_mutex_unlock(&s->lock);
		if (rc != PCE_ENOSPC)
			break;
		/* Make room (the add's own shard first), then try again; give
		 * up when it can never fit, when eviction cannot make room, or
		 * when other adders keep taking the room made. */
		budget = pce_load_relaxed(&r->budget);
		if (a.need > (int64_t)budget || attempt == ADD_ATTEMPTS ||
		    !evict_to(r, budget - (uint64_t)a.need, s->index)) {
			pce_add_relaxed(&r->adds_refused, 1);
			return PCE_ENOSPC;
		}
	}
	if (rc == 0) {
		pce_add_relaxed(&r->adds, 1);
		if (new_blocks)
			*new_blocks = a.new_blocks;
	}
	return rc;
}

/*
 * Split the node whose edge holds position @cut of @q (strictly inside it)
 * so that a node ends at @cut: the head takes a copy of the node's set,
 * the tail keeps the set.  Holdings do not change (the blocks of the edge
 * are shared out between head and tail; so is the node's place in the
 * expiry heap: the tail keeps it, the head joins with the same key).  The
 * split is not refused for the budget (a removal must not fail on it); the
 * reclaimer evicts the excess.
 * Return: 0 or PCE_ENOMEM (nothing changed); *@tail: the node after @cut.
 */
static int split_at_locked(struct pce_router *r, struct pce_shard *s, uint64_t ns,
			   const uint32_t *q, size_t cut, struct pce_node **tail)
{
	struct pce_trie_change ch;
	struct pce_ctable *set;
	struct pce_heap_grow grow = { NULL, 0 };
	uint64_t key;
	int64_t heap_delta = 0;
	size_t bytes;
	int rc = pce_trie_prepare_insert(s, ns, q, cut, &ch);

	if (rc)
		return rc;
	PCE_ASSERT(ch.op == PCE_INS_SPLIT_END);
	key = pce_heap_key(&s->expiry, ch.child);
	set = pce_ctable_rebuild(ch.child->owners, 0, NULL, &bytes);
	if (!set || (key != PCE_NEVER && pce_heap_prepare(&s->expiry, 1, &grow, &heap_delta))) {
		pce_free(set);
		pce_trie_abort(&ch);
		return PCE_ENOMEM;
	}
	ch.n_head->owners = set;
	*tail = ch.n_tail;
	pce_trie_commit_insert(s, &ch, NULL);
	pce_heap_moved(&s->expiry, ch.n_tail);
	if (key != PCE_NEVER)
		pce_heap_push(&s->expiry, &grow, ch.n_head, key);
	trie_usage_apply(r, &ch, heap_delta);
	gauge_add(&r->owner_bytes, (int64_t)bytes);
	gauge_add(&r->index_bytes, ch.index_delta + heap_delta + (int64_t)bytes);
	return 0;
}

/*
 * Take @owner out of its nodes below @top, bottom-up (R2 for every reader),
 * and out of @top itself unless it is a root; with @cut_events, one event
 * per node hung from the root (a cut point).  By R2 the owner's nodes form
 * subtrees from @top, so the walk enters only children that hold the owner.
 * A node left without owners is unhung, which may replace its parent's
 * children table by a smaller one in another slot order (the gone key kept
 * as a tombstone): the parent's scan then starts over, passing the children
 * visited (they no longer hold the owner) at a probe each.  The new table is
 * allocated before the old one is retired, so the two never share an address.
 */
static void owner_out_below_locked(struct pce_router *r, struct pce_shard *s, uint64_t ns,
				   struct pce_node *top, uint32_t owner, enum pce_reason reason,
				   int cut_events)
{
	int top_is_root = top->owners == NULL;
	struct pce_node *n = first_leaf(top, &owner), *p, *sib;

	while (n != top || !top_is_root) {
		uint64_t key = n->tokens[0];
		struct pce_ctable *t;
		int gone_with_root;

		p = n->parent;
		t = p->children;
		if (cut_events && p == top && top_is_root) {
			struct pce_node *w = pce_ctable_find_rcu(n->owners, owner);

			emit(r, PCE_EVENT_REMOVED, reason, ns, NULL, r->cfg.block_size, owner,
			     pce_ow_tier(pce_ow_word(w)));
		}
		/* The root's last child takes the root along when it goes. */
		gone_with_root = p == top && top_is_root && t->live == 1 && n->owners->live == 1;
		owner_out_locked(r, s, ns, n, owner, reason);
		if (n == top || gone_with_root)
			return;
		/* n may be gone; p stays (it holds the owner, or is a root with
		 * other children, and a router trie never merges nodes). */
		sib = NULL;
		if (p->children)
			sib = child_from(p, p->children == t ? slot_after(t, key) : 0, &owner);
		n = sib ? first_leaf(sib, &owner) : p;
	}
}

int pce_router_remove(struct pce_router *r, uint32_t owner, uint64_t ns, const uint32_t *tokens,
		      size_t len)
{
	struct pce_node *node, *x = NULL;
	struct pce_node *w;
	struct pce_shard *s;
	size_t pos = 0;
	uint32_t tier;
	int rc;

	if (!r)
		return PCE_EINVAL;
	if (pce_cache_inherited(r->core))
		return PCE_EFORKED;
	rc = check_seq(r, tokens, &len);
	if (rc)
		return rc;
	s = pce_shard_of(r->core, ns, tokens[0]);
	pthread_mutex_lock(&s->lock);
	node = pce_trie_root_rcu(s, ns);
	/* x: the node whose edge @len ends in or at the end of. */
	while (node && pos < len) {
		struct pce_node *c = node->children ? pce_ctable_find_rcu(node->children, tokens[pos])
						    : NULL;
		size_t want;

		if (!c)
			break;
		want = PCE_MIN((size_t)c->len, len - pos);
		if (pce_common_prefix(c->tokens, tokens + pos, want) < want)
			break;
		pos += want;
		if (pos == len)
			x = c;
		node = c;
	}
	w = x ? pce_ctable_find_rcu(x->owners, owner) : NULL;
	if (!w) {
		pthread_mutex_unlock(&s->lock);
		return PCE_ENOENT;
	}
	tier = pce_ow_tier(pce_ow_word(w));
	/* The owner keeps tokens[0..len - block_size): if that ends inside
	 * x's edge, x is split there first. */
	if (len - r->cfg.block_size > (size_t)(x->depth - x->len)) {
		rc = split_at_locked(r, s, ns, tokens, len - r->cfg.block_size, &x);
		if (rc) {
			pthread_mutex_unlock(&s->lock);
			return rc;
		}
	}
	emit(r, PCE_EVENT_REMOVED, PCE_REASON_REMOVED, ns, tokens, len, owner, tier);
	owner_out_below_locked(r, s, ns, x, owner, PCE_REASON_REMOVED, 0);
	pthread_mutex_unlock(&s->lock);
	pce_add_relaxed(&r->removes, 1);
	return 0;
}

static int clear(struct pce_router *r, int by_owner, uint32_t owner, uint64_t ns,
		 uint64_t *removed)
{
	uint64_t before[2];

	if (removed)
		*removed = 0;
	if (!r)
		return PCE_EINVAL;
	if (pce_cache_inherited(r->core))
		return PCE_EFORKED;
	before[0] = pce_load_relaxed(&r->removed[PCE_REASON_CLEARED]);
	for (uint32_t i = 0; i <= r->core->shard_mask; i++) {
		struct pce_shard *s = &r->core->shard[i];
		struct pce_node *root;
		size_t j;

		pthread_mutex_lock(&s->lock);
		if (!s->roots) {
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		if (!by_owner) {
			root = pce_ctable_find_rcu(s->roots, ns);
			if (root) {
				struct drop_ctx x = { r, PCE_REASON_CLEARED, ns, 0, 0, 0 };
				struct pce_trie_freed freed = { 0, 0, 0 };

				pce_trie_clear_locked(s, ns, root, drop_node, &x, &freed);
				drop_apply(r, &x, &freed);
			}
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		pce_ctable_for_each(s->roots, j, root)
			owner_out_below_locked(r, s, s->roots->slot[j].key, root, owner,
					       PCE_REASON_CLEARED, 1);
		pthread_mutex_unlock(&s->lock);
	}
	before[1] = pce_load_relaxed(&r->removed[PCE_REASON_CLEARED]);
	if (removed)
		*removed = before[1] - before[0];
	return 0;
}

int pce_router_clear_owner(struct pce_router *r, uint32_t owner, uint64_t *removed)
{
	return clear(r, 1, owner, 0, removed);
}

int pce_router_clear_ns(struct pce_router *r, uint64_t ns, uint64_t *removed)
{
	return clear(r, 0, 0, ns, removed);
}

int pce_router_reclaim(struct pce_router *r)
{
	if (!r)
		return PCE_EINVAL;
	if (pce_cache_inherited(r->core))
		return PCE_EFORKED;
	pce_reclaim_pass(r->core, 0);
	return 0;
}

/* Under reclaim_lock: the new budget in force, then every reservation made
 * under the old one done, then eviction down to it. */
struct budgets_req {
	struct pce_router *r;
	const struct pce_router_budgets *b;
};

static int budgets_run(struct pce_cache *c, void *ctx)
{
	const struct budgets_req *q = ctx;
	struct pce_router *r = q->r;

	budgets_put(r, q->b->index_budget, q->b->high_watermark_pct, q->b->low_watermark_pct);
	pce_budget_barrier(c);
	if (q->b->index_budget)
		evict_to(r, q->b->index_budget, 0);
	return 0;
}

int pce_router_set_budgets(struct pce_router *r, const struct pce_router_budgets *b)
{
	struct pce_budgets check = { 0 };
	struct budgets_req q = { r, b };
	uint64_t high;
	int rc;

	if (!r || !b)
		return PCE_EINVAL;
	check.index_budget = b->index_budget;
	check.high_watermark_pct = b->high_watermark_pct;
	check.low_watermark_pct = b->low_watermark_pct;
	if (pce__budgets_error(&check))
		return PCE_EINVAL;
	if (pce_cache_inherited(r->core))
		return PCE_EFORKED;
	rc = pce_reclaim_run(r->core, budgets_run, &q);
	high = pce_load_relaxed(&r->high);
	if (b->index_budget && pce_load_relaxed(&r->index_bytes) > high)
		pce_reclaim_wake(r->core);
	return rc;
}

int pce_router_stats_get(struct pce_router *r, struct pce_router_stats *out)
{
	struct pce_cache *c;

	if (!r || !out)
		return PCE_EINVAL;
	c = r->core;
	if (pce_cache_inherited(c))
		return PCE_EFORKED;
	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < PCE_STAT_STRIPES; i++) {
		out->matches += pce_load_relaxed(&r->stripe[i].matches);
		out->owners_reported += pce_load_relaxed(&r->stripe[i].owners_reported);
	}
	out->adds = pce_load_relaxed(&r->adds);
	out->adds_refused = pce_load_relaxed(&r->adds_refused);
	out->removes = pce_load_relaxed(&r->removes);
	for (int i = 0; i < PCE_REASON_COUNT; i++)
		out->removed[i] = pce_load_relaxed(&r->removed[i]);
	out->reclaim_passes = pce_load_relaxed(&c->reclaim_passes);
	out->holdings = pce_load_relaxed(&r->holdings);
	out->nodes = pce_load_relaxed(&c->use.nodes);
	out->tokens = pce_load_relaxed(&c->use.tokens);
	out->trie_bytes = pce_load_relaxed(&c->use.index);
	out->owner_bytes = pce_load_relaxed(&r->owner_bytes);
	out->index_bytes = pce_load_relaxed(&r->index_bytes);
	for (uint32_t i = 0; i <= c->shard_mask; i++)
		out->retired_bytes += pce_load_relaxed(&c->shard[i].retired_bytes);
	out->fixed_bytes = c->fixed_bytes + sizeof(*r) +
			   PCE_STAT_STRIPES * sizeof(struct pce_router_stripe);
	out->bytes_per_owner_block =
		out->holdings ? (double)out->owner_bytes / (double)out->holdings : 0.0;
	out->index_budget = pce_load_relaxed(&r->budget);
	out->shards = c->shard_mask + 1;
	return 0;
}
