/*
 * audit.c - pce_cache_audit(): checks every invariant of docs/design.md
 * against the live structure.
 *
 * Locking: takes every shard lock in index order and holds them all until
 * the end, so the global gauges can be compared with the sum of the shards.
 * (The only other code that waits for a shard lock while holding one, a
 * store gone exclusive (B1 in budget.h) and the verdict of
 * pce_cache_set_budgets(), takes them in the same order, so this cannot
 * deadlock.)  Lookups keep running, and pins
 * are taken and released without any lock, so pin counts (I10) are only
 * checked when the caller promises quiescence (PCE_AUDIT_QUIESCENT).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "expiry.h"
#include "pin.h"
#include "trie.h"

struct audit {
	struct pce_cache *c;
	char *msg;
	size_t msg_len;
	int failed;
	int nomem; /* the walk stopped for lack of memory: not a finding */
	/* sums over all shards */
	uint64_t entries, nodes, tokens, index, kv, ring;
	/* DFS stack */
	struct pce_node **stack;
	size_t depth, cap;
	/* pinned entries, from the pin table, sorted */
	struct pce_entry **pinned;
	size_t npinned;
};

__attribute__((format(printf, 2, 3))) static int fail(struct audit *a, const char *fmt, ...)
{
	va_list ap;

	if (!a->failed && a->msg && a->msg_len) {
		va_start(ap, fmt);
		vsnprintf(a->msg, a->msg_len, fmt, ap);
		va_end(ap);
	}
	a->failed = 1;
	return 0;
}

#define CHECK(a, cond, ...) ((cond) ? 1 : fail((a), __VA_ARGS__))

static int push(struct audit *a, struct pce_node *n)
{
	if (a->depth == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		struct pce_node **s = pce_alloc(cap * sizeof(*s));
		if (!s) {
			a->nomem = 1;
			return fail(a, "audit: out of memory");
		}
		if (a->depth)
			memcpy(s, a->stack, a->depth * sizeof(*s));
		pce_free(a->stack);
		a->stack = s;
		a->cap = cap;
	}
	a->stack[a->depth++] = n;
	return 1;
}

/* (T1-T3) table structure; returns its live count. */
static size_t check_table(struct audit *a, const struct pce_ctable *t)
{
	size_t used = 0, live = 0, cap = pce_ctable_cap(t);

	for (size_t i = 0; i < cap; i++) {
		struct pce_node *n = t->slot[i].node;
		if (!n)
			continue;
		used++;
		live += n != PCE_CT_TOMB;
		for (size_t j = i + 1; j < cap; j++)
			if (t->slot[j].node && t->slot[j].key == t->slot[i].key)
				fail(a, "T2: key %llu in two slots", (unsigned long long)t->slot[i].key);
		if (n != PCE_CT_TOMB)
			CHECK(a, pce_ctable_find_rcu(t, t->slot[i].key) == n,
			      "T3: key %llu unreachable by probing", (unsigned long long)t->slot[i].key);
	}
	CHECK(a, used == t->used && live == t->live, "T3: table counts %u/%u, found %zu/%zu",
	      t->used, t->live, used, live);
	CHECK(a, used < cap, "T3: table has no empty slot");
	a->index += pce_ctable_size(t->log2cap);
	return live;
}

/* ACTIVE pin slots naming @e (a->pinned is sorted). */
static int pinned_count(const struct audit *a, const struct pce_entry *e)
{
	size_t lo = 0, hi = a->npinned;
	int n = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((uintptr_t)a->pinned[mid] < (uintptr_t)e)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo < a->npinned && a->pinned[lo++] == e)
		n++;
	return n;
}

static void check_entry(struct audit *a, struct pce_shard *s, struct pce_node *n, uint64_t ns)
{
	struct pce_entry *e = n->entry;
	uint64_t pw = pce_load_relaxed(&e->pinword);

	CHECK(a, e->node == n, "I5: entry's node pointer is wrong");
	CHECK(a, e->len == n->depth, "I5: entry length %u at depth %u", e->len, n->depth);
	CHECK(a, e->ns == ns, "I5: entry of namespace %llu under root %llu",
	      (unsigned long long)e->ns, (unsigned long long)ns);
	CHECK(a, e->shard == s->index, "I7: entry of shard %u in shard %u", e->shard, s->index);
	CHECK(a, !(pw & PCE_ENTRY_DEAD), "I5: a reachable entry is DEAD");
	CHECK(a, e->clk_next && e->clk_prev, "I8: live entry not in the CLOCK ring");
	CHECK(a, (e->expires_at == PCE_NEVER) == (e->heap_idx == PCE_NO_HEAP),
	      "I9: entry with%s TTL %s the expiry heap", e->expires_at == PCE_NEVER ? "out" : "",
	      e->heap_idx == PCE_NO_HEAP ? "missing from" : "in");
	if (a->pinned)
		CHECK(a, pce_entry_pins(pw) == (uint64_t)pinned_count(a, e),
		      "I10: entry pin count %llu, pin table has %d",
		      (unsigned long long)pce_entry_pins(pw), pinned_count(a, e));
	a->entries++;
	a->kv += e->kv_bytes;
	a->index += sizeof(*e);
}

/* (I1-I7) one namespace trie. */
static void check_trie(struct audit *a, struct pce_shard *s, uint64_t ns, struct pce_node *root)
{
	CHECK(a, root->len == 0 && root->depth == 0 && !root->parent && !root->entry,
	      "I4: malformed root of namespace %llu", (unsigned long long)ns);
	CHECK(a, root->children && root->children->live >= 1, "I4: empty root of namespace %llu",
	      (unsigned long long)ns);
	a->depth = 0;
	if (!push(a, root))
		return;
	while (a->depth && !a->failed) {
		struct pce_node *n = a->stack[--a->depth], *c;
		struct pce_entry *best = n->entry;
		size_t i, live = 0;

		a->nodes++;
		a->tokens += n->len;
		a->index += pce_node_bytes(n);
		if (n->entry)
			check_entry(a, s, n, ns);
		if (n->children) {
			live = check_table(a, n->children);
			CHECK(a, live >= 1, "I2: a node keeps a table without children");
		}
		if (n != root) {
			CHECK(a, n->len >= 1, "I1: empty edge below the root");
			CHECK(a, n->entry || live >= 2, "I3: node without entry has %zu children", live);
		}
		pce_ctable_for_each(n->children, i, c) {
			CHECK(a, n->children->slot[i].key == c->tokens[0],
			      "I2: child keyed %llu starts with %u",
			      (unsigned long long)n->children->slot[i].key, c->tokens[0]);
			CHECK(a, c->parent == n, "I2: wrong parent pointer");
			CHECK(a, c->depth == n->depth + c->len, "I1: depth %u != %u + %u", c->depth,
			      n->depth, c->len);
			if (n == root)
				CHECK(a, pce_shard_of(a->c, ns, c->tokens[0]) == s,
				      "I7: first token %u of namespace %llu in the wrong shard",
				      c->tokens[0], (unsigned long long)ns);
			best = pce_entry_later(best, c->hint);
			if (!push(a, c))
				return;
		}
		if (n != root)
			CHECK(a, n->hint && best && n->hint->expires_at == best->expires_at,
			      "I6: hint does not expire last in its subtree");
	}
	/* (I6) hints point into the own subtree: checked as the hint being the
	 * own entry or some child's hint. */
}

static void check_hint_sources(struct audit *a, struct pce_node *root)
{
	a->depth = 0;
	if (!push(a, root))
		return;
	while (a->depth && !a->failed) {
		struct pce_node *n = a->stack[--a->depth], *c;
		int found = n == root || n->hint == n->entry;
		size_t i;

		pce_ctable_for_each(n->children, i, c) {
			found |= n->hint == c->hint;
			if (!push(a, c))
				return;
		}
		CHECK(a, found, "I6: hint is neither the node's entry nor a child's hint");
	}
}

/* (I8, I9) ring and heap of one shard. */
static void check_ring_and_heap(struct audit *a, struct pce_shard *s)
{
	uint64_t ring = 0, ttl = 0;
	struct pce_entry *e = s->hand;

	if (e) {
		do {
			CHECK(a, e->node && e->node->entry == e, "I8: ring holds an unlinked entry");
			CHECK(a, e->clk_next->clk_prev == e, "I8: ring links broken");
			ttl += e->expires_at != PCE_NEVER;
			ring++;
			e = e->clk_next;
		} while (e != s->hand && !a->failed && ring <= a->entries + 1);
	}
	CHECK(a, ring == s->entries, "I8: ring has %llu entries, shard counts %llu",
	      (unsigned long long)ring, (unsigned long long)s->entries);
	a->ring += ring;
	CHECK(a, s->expiry.size == ttl, "I9: heap holds %u of %llu TTL entries", s->expiry.size,
	      (unsigned long long)ttl);
	for (uint32_t i = 0; i < s->expiry.size; i++) {
		const struct pce_entry *he = s->expiry.item[i].obj;

		CHECK(a, he->heap_idx == i + 1, "I9: heap index mismatch");
		CHECK(a, s->expiry.item[i].key == he->expires_at, "I9: heap key is not expires_at");
		if (i)
			CHECK(a, s->expiry.item[(i - 1) / 2].key <= s->expiry.item[i].key,
			      "I9: heap order broken at %u", i);
	}
	a->index += pce_heap_bytes(s->expiry.cap);
	for (e = s->zombies; e; e = e->clk_next) {
		uint64_t pw = pce_load_relaxed(&e->pinword);
		CHECK(a, pw & PCE_ENTRY_DEAD, "I5: zombie not DEAD");
		if (a->pinned)
			CHECK(a, pce_entry_pins(pw) == (uint64_t)pinned_count(a, e),
			      "I10: zombie pin count %llu, pin table has %d",
			      (unsigned long long)pce_entry_pins(pw), pinned_count(a, e));
	}
}

static int cmp_ptr(const void *x, const void *y)
{
	uintptr_t p = (uintptr_t) * (void *const *)x, q = (uintptr_t) * (void *const *)y;
	return p < q ? -1 : p > q;
}

static void collect_pins(struct audit *a)
{
	struct pce_pintable *pt = &a->c->pins;

	a->pinned = pce_alloc((size_t)pt->cap * sizeof(*a->pinned) + 1);
	if (!a->pinned) {
		/* I10 was asked for and cannot be checked: say so. */
		a->nomem = 1;
		fail(a, "audit: out of memory");
		return;
	}
	for (uint32_t i = 0; i < pt->cap; i++) {
		uint64_t tag = pce_load_acquire(&pt->slot[i].tag);
		if ((tag & 3) == PCE_PIN_ACTIVE)
			a->pinned[a->npinned++] = pt->slot[i].entry;
	}
	qsort(a->pinned, a->npinned, sizeof(*a->pinned), cmp_ptr);
}

/* (I11) @used is within its budget, or within what a shrink that could not
 * evict below the budget left. */
static int within(uint64_t used, const uint64_t *budget, const uint64_t *ceil)
{
	uint64_t b = pce_load_relaxed(budget);

	return !b || used <= PCE_MAX(b, pce_load_relaxed(ceil));
}

int pce_cache_audit(struct pce_cache *c, unsigned flags, char *msg, size_t msg_len)
{
	struct audit a;
	uint64_t kv;

	if (!c || (flags & ~(unsigned)PCE_AUDIT_QUIESCENT))
		return PCE_EINVAL;
	if (pce_cache_inherited(c))
		return PCE_EFORKED;
	memset(&a, 0, sizeof(a));
	a.c = c;
	a.msg = msg;
	a.msg_len = msg_len;
	if (msg && msg_len)
		msg[0] = '\0';
	for (uint32_t i = 0; i <= c->shard_mask; i++)
		pthread_mutex_lock(&c->shard[i].lock);
	if (flags & PCE_AUDIT_QUIESCENT)
		collect_pins(&a);
	for (uint32_t i = 0; i <= c->shard_mask && !a.failed; i++) {
		struct pce_shard *s = &c->shard[i];
		struct pce_node *root;
		size_t j;

		if (s->roots)
			check_table(&a, s->roots);
		pce_ctable_for_each(s->roots, j, root) {
			check_trie(&a, s, s->roots->slot[j].key, root);
			check_hint_sources(&a, root);
		}
		check_ring_and_heap(&a, s);
	}
	kv = c->cfg.kv_mode == PCE_KV_DECLARED ? a.kv : a.tokens * c->cfg.kv_bytes_per_token;
	if (!a.failed) {
		CHECK(&a, a.entries == c->use.entries && a.ring == a.entries,
		      "I11: %llu entries in tries, %llu in rings, gauge %llu",
		      (unsigned long long)a.entries, (unsigned long long)a.ring,
		      (unsigned long long)c->use.entries);
		CHECK(&a, a.nodes == c->use.nodes, "I11: %llu nodes, gauge %llu",
		      (unsigned long long)a.nodes, (unsigned long long)c->use.nodes);
		CHECK(&a, a.tokens == c->use.tokens, "I11: %llu tokens, gauge %llu",
		      (unsigned long long)a.tokens, (unsigned long long)c->use.tokens);
		CHECK(&a, a.index == c->use.index, "I11: %llu index bytes, gauge %llu",
		      (unsigned long long)a.index, (unsigned long long)c->use.index);
		CHECK(&a, kv == c->use.kv, "I11: %llu KV bytes, gauge %llu", (unsigned long long)kv,
		      (unsigned long long)c->use.kv);
		CHECK(&a, within(c->use.kv, &c->lim.kv, &c->lim.ceil_kv),
		      "I11: KV bytes over budget");
		CHECK(&a, within(c->use.index, &c->lim.index, &c->lim.ceil_index),
		      "I11: index bytes over budget");
		CHECK(&a, within(c->use.entries, &c->lim.entries, &c->lim.ceil_entries),
		      "I11: entries over budget");
	}
	for (uint32_t i = c->shard_mask + 1; i-- > 0;)
		pthread_mutex_unlock(&c->shard[i].lock);
	pce_free(a.stack);
	pce_free(a.pinned);
	return a.nomem ? PCE_ENOMEM : a.failed ? PCE_ECORRUPT : 0;
}
