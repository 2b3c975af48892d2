/*
 * shard.c - entry life cycle inside one shard (see shard.h).
 *
 * Everything here runs under the shard's writer lock.  Gauges (cache->use)
 * are atomic because shards update them concurrently; the shard's own
 * counters are written under its lock with relaxed stores so that
 * pce_cache_stats() can read them without it.
 *
 * An entry leaves in one of two ways, decided here and only here:
 *   unpinned   DEAD set, pushed on the retire list; released after the
 *              next grace period (reclaim.c).
 *   pinned     DEAD set, parked on the zombie list; moved to the retire list
 *              by the first reclaim pass that finds its pin count at zero.
 * A capacity eviction claims the entry with CAS(pinword: 0 -> DEAD), so it
 * can never take a pinned entry.
 */
#include "shard.h"

#include "alloc.h"
#include "clock.h"
#include "expiry.h"
#include "retire.h"

void pce_usage_apply(struct pce_cache *c, const struct pce_delta *d)
{
	if (d->kv)
		pce_add_relaxed(&c->use.kv, (uint64_t)d->kv);
	if (d->index)
		pce_add_relaxed(&c->use.index, (uint64_t)d->index);
	if (d->entries)
		pce_add_relaxed(&c->use.entries, (uint64_t)d->entries);
	if (d->nodes)
		pce_add_relaxed(&c->use.nodes, (uint64_t)d->nodes);
	if (d->tokens)
		pce_add_relaxed(&c->use.tokens, (uint64_t)d->tokens);
}

struct pce_entry *pce_entry_new(uint64_t ns, size_t n, uint64_t value, uint64_t kv_bytes,
				uint64_t expires_at, uint32_t shard)
{
	struct pce_entry *e = pce_zalloc(sizeof(*e));

	if (!e)
		return NULL;
	e->value = value;
	e->kv_bytes = kv_bytes;
	e->expires_at = expires_at;
	e->ns = ns;
	e->len = (uint32_t)n;
	e->shard = shard;
	/* ref = freq = 0: a new entry earns its second chance by being looked
	 * up.  Starting referenced would make a sweep over a cache of fresh
	 * entries clear every bit and degrade to FIFO, and would let one-off
	 * stores (a scan) push out entries that are actually reused. */
	e->heap_idx = PCE_NO_HEAP;
	return e;
}

void pce_entry_free(struct pce_entry *e)
{
	pce_free(e);
}

static void emit(struct pce_cache *c, enum pce_event_kind kind, enum pce_reason reason,
		 const struct pce_entry *e, const uint32_t *tokens)
{
	struct pce_event ev = { 0 };

	if (!c->cfg.on_event)
		return;
	ev.kind = kind;
	ev.reason = reason;
	ev.ns = e->ns;
	ev.value = e->value;
	ev.kv_bytes = e->kv_bytes;
	ev.len = e->len;
	ev.tokens = tokens;
	ev.id = e->id;
	c->cfg.on_event(c->cfg.event_ctx, &ev);
}

/* Entry ids: the shard's sequence number above its index, so ids are unique
 * in the cache without a shared counter (2^52 stores per shard). */
#define ID_SHARD_BITS 12
#if (1u << ID_SHARD_BITS) < PCE_MAX_SHARDS
#error "entry ids need a bit per shard index bit"
#endif

void pce_shard_link_locked(struct pce_cache *c, struct pce_shard *s, struct pce_entry *e,
			   struct pce_heap_grow *grow, const uint32_t *tokens)
{
	e->id = ++s->last_id << ID_SHARD_BITS | s->index;
	pce_clock_insert(s, e);
	if (e->expires_at != PCE_NEVER)
		pce_heap_push(&s->expiry, grow, e, e->expires_at);
	pce_add_owned(&s->entries, 1);
	pce_add_owned(&s->ctr.stores, 1);
	emit(c, PCE_EVENT_STORED, PCE_REASON_COUNT, e, tokens);
}

void pce_shard_unlink_locked(struct pce_cache *c, struct pce_shard *s, struct pce_entry *e,
			     enum pce_reason reason)
{
	uint64_t old;

	pce_clock_remove(s, e);
	pce_heap_remove(&s->expiry, e);
	e->reason = (uint8_t)reason;
	pce_add_owned(&s->ctr.removed[reason], 1);
	emit(c, PCE_EVENT_REMOVED, reason, e, NULL);
	old = __atomic_fetch_or(&e->pinword, PCE_ENTRY_DEAD, __ATOMIC_ACQ_REL);
	if (pce_entry_pins(old) == 0) {
		pce_retire_entry(s, e);
	} else {
		e->clk_next = s->zombies;
		s->zombies = e;
		pce_add_owned(&s->zombie_count, 1);
	}
}

static int64_t kv_of_tokens(const struct pce_cache *c, int64_t tokens)
{
	return tokens * (int64_t)c->cfg.kv_bytes_per_token;
}

int pce_shard_remove_locked(struct pce_cache *c, struct pce_shard *s, struct pce_entry *e,
			    enum pce_reason reason, struct pce_delta *out)
{
	struct pce_trie_change ch;
	struct pce_delta d;
	int rc = pce_trie_prepare_remove(s, e, &ch);

	if (rc) {
		pce_trie_abort(&ch);
		return rc;
	}
	if (reason == PCE_REASON_CAPACITY) {
		uint64_t unpinned = 0;
		if (!__atomic_compare_exchange_n(&e->pinword, &unpinned, PCE_ENTRY_DEAD, 0,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			pce_trie_abort(&ch);
			return PCE_EBUSY;
		}
	}
	pce_trie_commit_remove(s, &ch, e);
	d.kv = c->cfg.kv_mode == PCE_KV_DECLARED ? -(int64_t)e->kv_bytes
						 : kv_of_tokens(c, ch.tokens_delta);
	d.index = ch.index_delta - (int64_t)sizeof(*e);
	d.entries = -1;
	d.nodes = ch.nodes_delta;
	d.tokens = ch.tokens_delta;
	pce_usage_apply(c, &d);
	if (out)
		*out = d;
	pce_sub_owned(&s->entries, 1);
	pce_shard_unlink_locked(c, s, e, reason);
	return 0;
}

void pce_shard_expire_locked(struct pce_cache *c, struct pce_shard *s, uint64_t now)
{
	const struct pce_heap_item *it;

	if (s->owner_sets)
		return; /* a router's heap holds nodes: router.c expires them */
	/* A merge that cannot allocate leaves the entry for the next pass;
	 * lookups already treat it as a miss. */
	while ((it = pce_heap_top(&s->expiry)) && it->key <= now)
		if (pce_shard_remove_locked(c, s, it->obj, PCE_REASON_TTL, NULL) != 0)
			break;
}

void pce_shard_collect_zombies_locked(struct pce_shard *s)
{
	struct pce_entry **pp = &s->zombies;

	while (*pp) {
		struct pce_entry *e = *pp;
		if (pce_entry_pins(pce_load_acquire(&e->pinword)) == 0) {
			*pp = e->clk_next;
			pce_sub_owned(&s->zombie_count, 1);
			pce_retire_entry(s, e);
		} else {
			pp = &e->clk_next;
		}
	}
}

struct clear_ctx {
	struct pce_cache *c;
	enum pce_reason reason;
	uint64_t entries;
	uint64_t kv;
};

static void clear_entry(struct pce_shard *s, struct pce_node *n, void *arg)
{
	struct clear_ctx *x = arg;
	struct pce_entry *e = n->entry;

	if (!e)
		return;
	e->node = NULL;
	x->entries++;
	x->kv += e->kv_bytes;
	pce_sub_owned(&s->entries, 1);
	pce_shard_unlink_locked(x->c, s, e, x->reason);
}

/* Gauges after a clear of @x's entries and of what *@freed counts (the
 * cleared nodes, tables and tokens, plus any other change of the trie). */
static void apply_cleared(struct pce_cache *c, const struct clear_ctx *x,
			  const struct pce_trie_freed *freed)
{
	struct pce_delta d;

	d.kv = c->cfg.kv_mode == PCE_KV_DECLARED ? -(int64_t)x->kv
						 : kv_of_tokens(c, freed->tokens_delta);
	d.index = freed->index_delta - (int64_t)(x->entries * sizeof(struct pce_entry));
	d.entries = -(int64_t)x->entries;
	d.nodes = freed->nodes_delta;
	d.tokens = freed->tokens_delta;
	pce_usage_apply(c, &d);
}

uint64_t pce_shard_clear_locked(struct pce_cache *c, struct pce_shard *s, uint64_t ns, int all,
				enum pce_reason reason)
{
	struct clear_ctx x = {c, reason, 0, 0};
	struct pce_trie_freed freed = {0, 0, 0};
	struct pce_node *root;
	size_t i;

	if (!s->roots)
		return 0;
	if (all) {
		pce_ctable_for_each(s->roots, i, root)
			pce_trie_clear_locked(s, s->roots->slot[i].key, root, clear_entry, &x,
					      &freed);
	} else if ((root = pce_ctable_find_rcu(s->roots, ns))) {
		pce_trie_clear_locked(s, ns, root, clear_entry, &x, &freed);
	}
	apply_cleared(c, &x, &freed);
	return x.entries;
}

int pce_shard_remove_prefix_locked(struct pce_cache *c, struct pce_shard *s, uint64_t ns,
				   const uint32_t *q, size_t n, uint64_t *removed)
{
	struct clear_ctx x = {c, PCE_REASON_REMOVED, 0, 0};
	struct pce_trie_change ch;
	struct pce_trie_freed freed;
	int rc = pce_trie_prepare_remove_prefix(s, ns, q, n, &ch);

	*removed = 0;
	if (rc || ch.op == PCE_TRIE_NONE) {
		pce_trie_abort(&ch);
		return rc;
	}
	freed.index_delta = ch.index_delta;
	freed.tokens_delta = ch.tokens_delta;
	freed.nodes_delta = ch.nodes_delta;
	pce_trie_commit_remove_prefix(s, &ch, clear_entry, &x, &freed);
	apply_cleared(c, &x, &freed);
	*removed = x.entries;
	return 0;
}

/* The entry under the hand if it is unpinned, second chance or not. */
static struct pce_entry *force_victim(struct pce_shard *s)
{
	struct pce_entry *e = s->hand;

	s->hand = e->clk_next;
	return pce_entry_pins(pce_load_relaxed(&e->pinword)) ? NULL : e;
}

uint64_t pce_shard_sweep_locked(struct pce_cache *c, struct pce_shard *s, uint64_t steps,
				int force, pce_enough_fn enough, void *ctx,
				struct pce_delta *freed, int *nomem)
{
	uint64_t evicted = 0;

	while (steps-- && s->hand && !enough(c, ctx)) {
		struct pce_entry *e = force ? force_victim(s) : pce_clock_advance(s, c->cfg.policy);
		struct pce_delta d;
		int rc;

		if (!e)
			continue;
		rc = pce_shard_remove_locked(c, s, e, PCE_REASON_CAPACITY, &d);
		if (rc == 0) {
			evicted++;
			if (freed) {
				freed->kv += d.kv;
				freed->index += d.index;
				freed->entries += d.entries;
				freed->nodes += d.nodes;
				freed->tokens += d.tokens;
			}
		} else if (rc == PCE_ENOMEM && nomem) {
			*nomem = 1;
		}
	}
	return evicted;
}
