/*
 * cache.c - the public cache object: create, destroy, store, remove, clear,
 * reclaim, statistics.  Lookups are in lookup.c.
 *
 * Writers (store, remove, clear) take one shard lock at a time: the shard
 * of (namespace, first token); clear and destroy visit every shard in turn;
 * a store's synchronous eviction drops its own shard's lock before it
 * visits others (budget.c).  Only pce_cache_audit(), a store that has gone
 * exclusive (B1 in budget.h) and the verdict of pce_cache_set_budgets() hold
 * several, all of them, taken in index order.  Evictions on demand and
 * budget changes run under the reclaimer's lock (reclaim.c), so they are
 * ordered with reclaim passes and each other.
 */
#include <string.h>

#include "alloc.h"
#include "budget.h"
#include "clock.h"
#include "expiry.h"
#include "lookup.h"
#include "pin.h"
#include "reclaim.h"
#include "shard.h"
#include "thread.h"
#include "trie.h"

static void free_cache(struct pce_cache *c)
{
	if (c->shard) {
		for (uint32_t i = 0; i <= c->shard_mask; i++) {
			pce_free(c->shard[i].roots);
			pce_free(c->shard[i].expiry.item);
			pthread_mutex_destroy(&c->shard[i].lock);
		}
	}
	pce_free(c->shard);
	pce_free(c->stripe);
	pce_pintable_fini(&c->pins);
	pthread_mutex_destroy(&c->reclaim_lock);
	pthread_mutex_destroy(&c->wake_lock);
	pce_free(c);
}

int pce_cache_create(const struct pce_config *cfg, struct pce_cache **out)
{
	return pce__core_create(cfg, NULL, NULL, out);
}

int pce__core_create(const struct pce_config *cfg,
		     void (*pass_fn)(struct pce_cache *c, void *ctx, uint64_t now), void *pass_ctx,
		     struct pce_cache **out)
{
	struct pce_cache *c;
	struct pce_budgets budgets;
	uint64_t pin_bytes = 0;
	size_t shard_bytes, stripe_bytes;
	int rc;

	if (!out)
		return PCE_EINVAL;
	*out = NULL;
	if (pce_config_error(cfg))
		return PCE_EINVAL;
	if (pce__process_init() != 0)
		return PCE_ENOMEM;
	c = pce_zalloc_aligned(sizeof(*c));
	if (!c)
		return PCE_ENOMEM;
	c->cfg = *cfg;
	c->fork_gen = pce__fork_gen;
	if (!c->cfg.clock)
		c->cfg.clock = pce__clock_monotonic;
	c->shard_mask = cfg->shards - 1;
	c->pass_fn = pass_fn;
	c->pass_ctx = pass_ctx;
	pce__budgets_of(cfg, &budgets);
	pce_budget_set(c, &budgets);
	pthread_mutex_init(&c->reclaim_lock, NULL);
	pthread_mutex_init(&c->wake_lock, NULL);

	shard_bytes = (size_t)cfg->shards * sizeof(struct pce_shard);
	stripe_bytes = PCE_STAT_STRIPES * sizeof(struct pce_stripe);
	c->shard = pce_zalloc_aligned(shard_bytes);
	c->stripe = pce_zalloc_aligned(stripe_bytes);
	rc = c->shard && c->stripe ? pce_pintable_init(&c->pins, cfg->max_pins, &pin_bytes)
				   : PCE_ENOMEM;
	if (c->shard) {
		for (uint32_t i = 0; i < cfg->shards; i++) {
			pthread_mutex_init(&c->shard[i].lock, NULL);
			c->shard[i].index = i;
			c->shard[i].owner_sets = pass_fn != NULL;
			c->shard[i].expiry.of_nodes = pass_fn != NULL;
		}
	}
	if (rc == 0 && cfg->background_reclaim)
		rc = pce_reclaim_start(c);
	if (rc) {
		free_cache(c);
		return rc;
	}
	c->fixed_bytes = sizeof(*c) + shard_bytes + stripe_bytes + pin_bytes;
	*out = c;
	return 0;
}

int pce_cache_destroy(struct pce_cache *c)
{
	if (!c)
		return 0;
	/* The parent's copy: its values, reclaim thread and condition
	 * variable are the parent's; freeing or signalling any of them here
	 * would act on the parent's behalf or hang.  Abandon it. */
	if (pce_cache_inherited(c))
		return PCE_EFORKED;
	pce_add_relaxed(&c->pins_forced, pce_pin_expire(&c->pins, pce_now(c)));
	if (pce_pin_live(&c->pins))
		return PCE_EBUSY;
	pce_reclaim_stop(c);
	for (uint32_t i = 0; i <= c->shard_mask; i++) {
		struct pce_shard *s = &c->shard[i];
		pthread_mutex_lock(&s->lock);
		pce_shard_clear_locked(c, s, 0, 1, PCE_REASON_DESTROYED);
		pce_shard_collect_zombies_locked(s);
		pthread_mutex_unlock(&s->lock);
	}
	pce_reclaim_free_retired(c);
	free_cache(c);
	return 0;
}

static int check_seq(const uint32_t *q, size_t n)
{
	if (!q || n == 0)
		return PCE_EINVAL;
	if (n > PCE_MAX_TOKENS)
		return PCE_E2BIG;
	return 0;
}

/* The prologue of the calls on one exact sequence (remove, remove_prefix,
 * touch): check the arguments, then lock the sequence's shard (*@s).
 * Return: 0 with the lock held, or the call's error. */
static int seq_lock(struct pce_cache *c, uint64_t ns, const uint32_t *q, size_t n,
		    struct pce_shard **s)
{
	int rc;

	if (!c)
		return PCE_EINVAL;
	if (pce_cache_inherited(c))
		return PCE_EFORKED;
	if ((rc = check_seq(q, n)) != 0)
		return rc;
	*s = pce_shard_of(c, ns, q[0]);
	pthread_mutex_lock(&(*s)->lock);
	return 0;
}

/* Rounds of prepare and reserve a store makes holding only its own shard's
 * lock before it goes exclusive (B1 in budget.h).  A second failed
 * reservation means that other stores took the room the first eviction
 * made. */
#define STORE_SHARED_ROUNDS 2

/* Prepare, reserve and if need be evict, until the store fits or cannot.
 * On 0, *ch and *grow are prepared and the delta is reserved.  Terminates:
 * at most STORE_SHARED_ROUNDS rounds, then rounds that each evict an entry
 * while no other store can reserve (B1).  A refusal for want of evictable
 * entries (PCE_ENOSPC) is only decided exclusively, so it is exact. */
static int store_prepare_locked(struct pce_cache *c, struct pce_shard *s, uint64_t ns,
				const uint32_t *q, size_t n, const struct pce_entry *e,
				unsigned flags, uint64_t *now, struct pce_trie_change *ch,
				struct pce_heap_grow *grow, uint64_t *existing_value)
{
	int exclusive = 0, rc;

	for (unsigned round = 1;; round++) {
		const struct pce_entry *old;
		struct pce_delta d;
		int64_t heap_bytes = 0;

		rc = pce_trie_prepare_insert(s, ns, q, n, ch);
		if (rc)
			break;
		old = ch->existing;
		if (old && !(flags & PCE_STORE_REPLACE) && pce_entry_live_at(c, old, now)) {
			*existing_value = old->value;
			pce_trie_abort(ch);
			rc = PCE_EEXIST;
			break;
		}
		if (e->expires_at != PCE_NEVER &&
		    (rc = pce_heap_prepare(&s->expiry, 1, grow, &heap_bytes)) != 0) {
			pce_trie_abort(ch);
			break;
		}
		d.kv = c->cfg.kv_mode == PCE_KV_DECLARED
			       ? (int64_t)e->kv_bytes - (old ? (int64_t)old->kv_bytes : 0)
			       : ch->tokens_delta * (int64_t)c->cfg.kv_bytes_per_token;
		d.index = ch->index_delta + heap_bytes + (old ? 0 : (int64_t)sizeof(*e));
		d.entries = old ? 0 : 1;
		d.nodes = ch->nodes_delta;
		d.tokens = ch->tokens_delta;
		if (!pce_budget_never_fits(c, &d) && pce_budget_reserve(c, &d) == 0)
			break;
		pce_trie_abort(ch);
		pce_heap_abort(grow);
		/* Evictions change the trie under the prepared change: redo it. */
		if (pce_budget_never_fits(c, &d)) {
			rc = PCE_ENOSPC;
			break;
		}
		if (!exclusive) {
			rc = round < STORE_SHARED_ROUNDS ? pce_budget_evict_sync(c, s, &d)
							 : PCE_ENOSPC;
			if (rc == 0)
				continue;
			if (rc != PCE_ENOSPC)
				break;
			/* The room was taken again, or none was found in
			 * passing: decide holding every shard lock (B1). */
			pce_budget_exclusive_begin(c, s);
			exclusive = 1;
		}
		if ((rc = pce_budget_evict_exclusive(c, s, &d)) != 0)
			break;
	}
	if (exclusive)
		pce_budget_exclusive_end(c, s);
	return rc;
}

/* The store's holder: what a lookup of @q would report now (lookup.c), and
 * with PCE_STORE_PIN_HOLDER its pin.  Return: 0 or PCE_ENOPINS. */
static int holder_locked(struct pce_cache *c, struct pce_shard *s, uint64_t ns,
			 const uint32_t *q, size_t n, const struct pce_store_opts *opts,
			 uint64_t *now, struct pce_store_result *res)
{
	size_t matched;
	struct pce_entry *h = pce__lookup_choose_rcu(c, s, ns, q, n, now, &matched);
	int rc;

	if (!h)
		return 0;
	if (opts && (opts->flags & PCE_STORE_PIN_HOLDER)) {
		uint64_t deadline = pce_deadline(c, opts->pin_lease_ns,
						 c->cfg.default_pin_lease_ns, now);
		/* Under the shard lock the holder cannot be unlinked, so the
		 * only failure is a full table. */
		rc = pce_pin_take_rcu(&c->pins, h, deadline, &pce__thread.pin_hint,
				      &res->holder_pin.id);
		if (rc)
			return rc;
	}
	res->holder_tokens = matched;
	res->holder_len = h->len;
	res->holder_value = h->value;
	res->holder_id = h->id;
	return 0;
}

/* A failed store reports no holder and keeps no pin. */
static void holder_drop(struct pce_cache *c, struct pce_store_result *res)
{
	if (res->holder_pin.id)
		pce_pin_put(&c->pins, res->holder_pin.id);
	res->holder_pin.id = 0;
	res->holder_tokens = 0;
	res->holder_len = 0;
	res->holder_value = 0;
	res->holder_id = 0;
}

int pce_cache_store(struct pce_cache *c, uint64_t ns, const uint32_t *q, size_t n,
		    uint64_t value, uint64_t kv_bytes, const struct pce_store_opts *opts,
		    struct pce_store_result *res)
{
	unsigned flags = opts ? opts->flags : 0;
	struct pce_store_result dummy;
	struct pce_trie_change ch;
	struct pce_heap_grow grow = {NULL, 0};
	struct pce_entry *e, *old;
	struct pce_shard *s;
	uint64_t now = 0;
	int rc;

	int want_holder = res != NULL;

	if (!res)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	if (!c || (flags & ~(unsigned)(PCE_STORE_REPLACE | PCE_STORE_PIN_HOLDER)) ||
	    ((flags & PCE_STORE_PIN_HOLDER) && !want_holder))
		return PCE_EINVAL;
	if (pce_cache_inherited(c))
		return PCE_EFORKED;
	if ((rc = check_seq(q, n)) != 0)
		return rc;
	if (n < c->cfg.min_prefix_len)
		return PCE_ESHORT;
	if (c->cfg.kv_mode == PCE_KV_DECLARED ? kv_bytes > PCE_MAX_KV_BYTES : 0)
		return PCE_EINVAL;
	if (c->cfg.kv_mode == PCE_KV_PER_TOKEN)
		kv_bytes = n * c->cfg.kv_bytes_per_token;

	s = pce_shard_of(c, ns, q[0]);
	e = pce_entry_new(ns, n, value, kv_bytes,
			  pce_deadline(c, opts ? opts->ttl_ns : 0, c->cfg.default_ttl_ns, &now),
			  s->index);
	if (!e)
		return PCE_ENOMEM;
	pthread_mutex_lock(&s->lock);
	/* The holder is found, and pinned, before any eviction of this store
	 * can take it. */
	rc = want_holder ? holder_locked(c, s, ns, q, n, opts, &now, res) : 0;
	if (rc == 0)
		rc = store_prepare_locked(c, s, ns, q, n, e, flags, &now, &ch, &grow,
					  &res->existing_value);
	if (rc) {
		if (rc == PCE_EEXIST)
			pce_add_owned(&s->ctr.stores_existing, 1);
		else if (rc == PCE_ENOSPC)
			pce_add_owned(&s->ctr.stores_refused, 1);
		pthread_mutex_unlock(&s->lock);
		pce_entry_free(e);
		if (rc != PCE_EEXIST)
			holder_drop(c, res);
		return rc;
	}
	old = ch.existing;
	pce_trie_commit_insert(s, &ch, e);
	if (old) {
		/* An expired entry is gone already as far as lookups know. */
		enum pce_reason why = pce_entry_live_at(c, old, &now) ? PCE_REASON_REPLACED
								      : PCE_REASON_TTL;
		res->replaced = why == PCE_REASON_REPLACED;
		if (res->replaced) {
			res->existing_value = old->value;
			pce_add_owned(&s->ctr.stores_existing, 1);
		}
		old->node = NULL;
		pce_sub_owned(&s->entries, 1);
		pce_shard_unlink_locked(c, s, old, why);
	}
	pce_shard_link_locked(c, s, e, &grow, q);
	res->new_tokens = (size_t)ch.tokens_delta;
	pthread_mutex_unlock(&s->lock);
	if (pce_budget_over_high(c))
		pce_reclaim_wake(c);
	return 0;
}

int pce_cache_remove(struct pce_cache *c, uint64_t ns, const uint32_t *q, size_t n,
		     uint64_t *value)
{
	struct pce_shard *s;
	struct pce_node *node;
	struct pce_entry *e;
	uint64_t now = 0;
	int rc;

	if ((rc = seq_lock(c, ns, q, n, &s)) != 0)
		return rc;
	node = pce_trie_find_exact_locked(s, ns, q, n);
	e = node ? node->entry : NULL;
	if (!e) {
		rc = PCE_ENOENT;
	} else if (!pce_entry_live_at(c, e, &now)) {
		/* Expired entries are misses: reclaim it, report it absent. */
		rc = pce_shard_remove_locked(c, s, e, PCE_REASON_TTL, NULL);
		rc = rc ? rc : PCE_ENOENT;
	} else {
		if (value)
			*value = e->value;
		rc = pce_shard_remove_locked(c, s, e, PCE_REASON_REMOVED, NULL);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int clear(struct pce_cache *c, uint64_t ns, int all, uint64_t *removed)
{
	uint64_t n = 0;

	if (!c)
		return PCE_EINVAL;
	if (pce_cache_inherited(c))
		return PCE_EFORKED;
	for (uint32_t i = 0; i <= c->shard_mask; i++) {
		struct pce_shard *s = &c->shard[i];
		pthread_mutex_lock(&s->lock);
		n += pce_shard_clear_locked(c, s, ns, all, PCE_REASON_CLEARED);
		pthread_mutex_unlock(&s->lock);
	}
	if (removed)
		*removed = n;
	return 0;
}

int pce_cache_clear_ns(struct pce_cache *c, uint64_t ns, uint64_t *removed)
{
	return clear(c, ns, 0, removed);
}

int pce_cache_clear(struct pce_cache *c, uint64_t *removed)
{
	return clear(c, 0, 1, removed);
}

int pce_cache_reclaim(struct pce_cache *c)
{
	if (!c)
		return PCE_EINVAL;
	if (pce_cache_inherited(c))
		return PCE_EFORKED;
	pce_reclaim_pass(c, 1);
	return 0;
}

int pce_cache_remove_prefix(struct pce_cache *c, uint64_t ns, const uint32_t *q, size_t n,
			    uint64_t *removed)
{
	struct pce_shard *s;
	uint64_t count = 0;
	int rc;

	if (removed)
		*removed = 0;
	if ((rc = seq_lock(c, ns, q, n, &s)) != 0)
		return rc;
	rc = pce_shard_remove_prefix_locked(c, s, ns, q, n, &count);
	pthread_mutex_unlock(&s->lock);
	if (removed)
		*removed = count;
	return rc;
}

int pce_cache_touch(struct pce_cache *c, uint64_t ns, const uint32_t *q, size_t n,
		    uint64_t ttl_ns)
{
	struct pce_shard *s;
	struct pce_node *node;
	struct pce_entry *e;
	uint64_t now = 0, at;
	int rc;

	if ((rc = seq_lock(c, ns, q, n, &s)) != 0)
		return rc;
	node = pce_trie_find_exact_locked(s, ns, q, n);
	e = node ? node->entry : NULL;
	if (!e || !pce_entry_live_at(c, e, &now)) {
		pthread_mutex_unlock(&s->lock);
		return PCE_ENOENT;
	}
	pce_clock_touch(e, c->cfg.policy);
	at = pce_deadline(c, ttl_ns, c->cfg.default_ttl_ns, &now);
	if (at > e->expires_at) {
		/* Extension only: the new value before the hints that name
		 * it are published, so a reader that finds it through a
		 * new hint sees it (I6). */
		pce_store_relaxed(&e->expires_at, at);
		pce_heap_rekey(&s->expiry, e, at);
		pce_trie_extended_locked(e);
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* pce_cache_evict()'s goal: @amount of @unit freed so far. */
struct evict_goal {
	enum pce_evict_unit unit;
	uint64_t amount;
	struct pce_delta freed; /* gauge drops: <= 0 */
};

static uint64_t freed_of(const struct evict_goal *g)
{
	int64_t v = g->unit == PCE_EVICT_KV_BYTES ? g->freed.kv
		    : g->unit == PCE_EVICT_TOKENS ? g->freed.tokens
						  : g->freed.entries;
	return v < 0 ? (uint64_t)-v : 0;
}

static int goal_met(struct pce_cache *c, void *ctx)
{
	(void)c;
	return freed_of(ctx) >= ((struct evict_goal *)ctx)->amount;
}

static int evict_run(struct pce_cache *c, void *ctx)
{
	struct evict_goal *g = ctx;

	return pce_budget_evict_until(c, goal_met, g, &g->freed);
}

int pce_cache_evict(struct pce_cache *c, enum pce_evict_unit unit, uint64_t amount,
		    struct pce_evicted *freed)
{
	struct evict_goal g = {unit, amount, {0, 0, 0, 0, 0}};
	int rc = 0;

	if (freed)
		memset(freed, 0, sizeof(*freed));
	if (!c || (unit != PCE_EVICT_KV_BYTES && unit != PCE_EVICT_TOKENS &&
		   unit != PCE_EVICT_ENTRIES))
		return PCE_EINVAL;
	if (pce_cache_inherited(c))
		return PCE_EFORKED;
	if (amount)
		rc = pce_reclaim_run(c, evict_run, &g);
	if (freed) {
		freed->entries = (uint64_t)-g.freed.entries;
		freed->kv_bytes = (uint64_t)-g.freed.kv;
		freed->tokens = (uint64_t)-g.freed.tokens;
		freed->index_bytes = (uint64_t)-g.freed.index;
	}
	return rc;
}

/* Under reclaim_lock: put the budgets in force, let every reservation made
 * under the old ones finish, evict down to the new ones. */
static int budgets_run(struct pce_cache *c, void *ctx)
{
	struct pce_limits *l = &c->lim;
	int rc, within;

	pce_budget_set(c, ctx);
	/* A reservation reads the budgets under its shard lock: once each
	 * lock has been taken after the stores above, none still works with
	 * the old ones, and the usage read below includes all they added. */
	pce_budget_barrier(c);
	rc = pce_budget_evict_until(c, pce_budget_within, NULL, NULL);
	/* The verdict under every shard lock (in index order, as the audit
	 * takes them): no reservation is in flight, so one being rolled back
	 * cannot pass for usage.  Stores are refused while a gauge is above its
	 * budget, so usage left above one never rises again (I11; the audit
	 * checks the ceiling). */
	for (uint32_t i = 0; i <= c->shard_mask; i++)
		pthread_mutex_lock(&c->shard[i].lock);
	within = pce_budget_within(c, NULL);
	pce_store_relaxed(&l->ceil_kv, within ? 0 : pce_load_relaxed(&c->use.kv));
	pce_store_relaxed(&l->ceil_index, within ? 0 : pce_load_relaxed(&c->use.index));
	pce_store_relaxed(&l->ceil_entries, within ? 0 : pce_load_relaxed(&c->use.entries));
	for (uint32_t i = c->shard_mask + 1; i-- > 0;)
		pthread_mutex_unlock(&c->shard[i].lock);
	return within ? 0 : rc == PCE_ENOMEM ? PCE_ENOMEM : PCE_EBUSY;
}

int pce_cache_set_budgets(struct pce_cache *c, const struct pce_budgets *b)
{
	int rc;

	if (!c || !b || pce__budgets_error(b))
		return PCE_EINVAL;
	if (pce_cache_inherited(c))
		return PCE_EFORKED;
	rc = pce_reclaim_run(c, budgets_run, (void *)b);
	if (pce_budget_over_high(c))
		pce_reclaim_wake(c);
	return rc;
}

int pce_cache_stats(struct pce_cache *c, struct pce_stats *out)
{
	if (!c || !out)
		return PCE_EINVAL;
	memset(out, 0, sizeof(*out));
	if (pce_cache_inherited(c))
		return PCE_EFORKED;
	for (uint32_t i = 0; i < PCE_STAT_STRIPES; i++) {
		const struct pce_stripe *st = &c->stripe[i];
		/* Hits first, with acquire: the lookups counted after them
		 * include every lookup those hits belong to (lookup.c). */
		out->hits += pce_load_acquire(&st->hits);
		out->hit_tokens += pce_load_acquire(&st->hit_tokens);
		out->lookups += pce_load_relaxed(&st->lookups);
		out->query_tokens += pce_load_relaxed(&st->query_tokens);
		out->pins += pce_load_relaxed(&st->pins);
	}
	out->misses = out->lookups - out->hits;
	for (uint32_t i = 0; i <= c->shard_mask; i++) {
		struct pce_shard *s = &c->shard[i];
		out->stores += pce_load_relaxed(&s->ctr.stores);
		out->stores_existing += pce_load_relaxed(&s->ctr.stores_existing);
		out->stores_refused += pce_load_relaxed(&s->ctr.stores_refused);
		out->sync_evictions += pce_load_relaxed(&s->ctr.sync_evictions);
		for (int r = 0; r < PCE_REASON_COUNT; r++)
			out->removed[r] += pce_load_relaxed(&s->ctr.removed[r]);
		out->retired_bytes += pce_load_relaxed(&s->retired_bytes);
		out->pinned_unlinked += pce_load_relaxed(&s->zombie_count);
	}
	out->pins_forced = pce_load_relaxed(&c->pins_forced);
	out->released = pce_load_relaxed(&c->released);
	out->reclaim_passes = pce_load_relaxed(&c->reclaim_passes);
	out->entries = pce_load_relaxed(&c->use.entries);
	out->nodes = pce_load_relaxed(&c->use.nodes);
	out->tokens = pce_load_relaxed(&c->use.tokens);
	out->kv_bytes = pce_load_relaxed(&c->use.kv);
	out->index_bytes = pce_load_relaxed(&c->use.index);
	out->fixed_bytes = c->fixed_bytes;
	out->live_pins = pce_pin_live(&c->pins);
	out->kv_budget = pce_load_relaxed(&c->lim.kv);
	out->index_budget = pce_load_relaxed(&c->lim.index);
	out->max_entries = pce_load_relaxed(&c->lim.entries);
	out->shards = c->shard_mask + 1;
	return 0;
}

int pce_cache_shard_entries(struct pce_cache *c, uint64_t *counts, size_t n)
{
	if (!c || (!counts && n))
		return PCE_EINVAL;
	if (pce_cache_inherited(c))
		return PCE_EFORKED;
	for (size_t i = 0; i < n && i <= c->shard_mask; i++)
		counts[i] = pce_load_relaxed(&c->shard[i].entries);
	return (int)(c->shard_mask + 1);
}
