/*
 * budget.c - reservations, synchronous eviction and the reclaimer's
 * eviction rounds (see budget.h, invariant I11).
 *
 * The reclaimer visits shards round robin and sweeps about 1/32 of a
 * shard's ring per visit, so each visit is a short lock hold and every
 * entry of every shard is examined at the same rate whatever the shard
 * sizes (sharding by first token can put nearly everything in one shard).
 */
#include "budget.h"

#include "clock.h"

uint64_t pce_budget_share(uint64_t budget, uint32_t pct)
{
	return (uint64_t)((unsigned __int128)budget * pct / 100);
}

void pce_budget_barrier(struct pce_cache *c)
{
	for (uint32_t i = 0; i <= c->shard_mask; i++) {
		pthread_mutex_lock(&c->shard[i].lock);
		pthread_mutex_unlock(&c->shard[i].lock);
	}
}

void pce_budget_set(struct pce_cache *c, const struct pce_budgets *b)
{
	struct pce_limits *l = &c->lim;

	pce_store_relaxed(&l->kv, b->kv_budget);
	pce_store_relaxed(&l->index, b->index_budget);
	pce_store_relaxed(&l->entries, b->max_entries);
	pce_store_relaxed(&l->kv_high, pce_budget_share(b->kv_budget, b->high_watermark_pct));
	pce_store_relaxed(&l->kv_low, pce_budget_share(b->kv_budget, b->low_watermark_pct));
	pce_store_relaxed(&l->index_high, pce_budget_share(b->index_budget, b->high_watermark_pct));
	pce_store_relaxed(&l->index_low, pce_budget_share(b->index_budget, b->low_watermark_pct));
	pce_store_relaxed(&l->entries_high,
			  pce_budget_share(b->max_entries, b->high_watermark_pct));
	pce_store_relaxed(&l->entries_low, pce_budget_share(b->max_entries, b->low_watermark_pct));
}

static int over(uint64_t used, int64_t delta, uint64_t limit)
{
	return limit && delta > 0 && used > limit;
}

/* Is @used above a budget @limit (0: none)? */
static int above(uint64_t used, const uint64_t *limit)
{
	uint64_t l = pce_load_relaxed(limit);

	return l && used > l;
}

int pce_budget_reserve(struct pce_cache *c, const struct pce_delta *d)
{
	struct pce_delta undo = {-d->kv, -d->index, -d->entries, -d->nodes, -d->tokens};
	uint64_t kv, index, entries;

	kv = __atomic_add_fetch(&c->use.kv, (uint64_t)d->kv, __ATOMIC_RELAXED);
	index = __atomic_add_fetch(&c->use.index, (uint64_t)d->index, __ATOMIC_RELAXED);
	entries = __atomic_add_fetch(&c->use.entries, (uint64_t)d->entries, __ATOMIC_RELAXED);
	pce_add_relaxed(&c->use.nodes, (uint64_t)d->nodes);
	pce_add_relaxed(&c->use.tokens, (uint64_t)d->tokens);
	if (over(kv, d->kv, pce_load_relaxed(&c->lim.kv)) ||
	    over(index, d->index, pce_load_relaxed(&c->lim.index)) ||
	    over(entries, d->entries, pce_load_relaxed(&c->lim.entries))) {
		pce_usage_apply(c, &undo);
		return PCE_ENOSPC;
	}
	return 0;
}

int pce_budget_never_fits(const struct pce_cache *c, const struct pce_delta *d)
{
	return over((uint64_t)PCE_MAX(d->kv, 0), d->kv, pce_load_relaxed(&c->lim.kv)) ||
	       over((uint64_t)PCE_MAX(d->index, 0), d->index, pce_load_relaxed(&c->lim.index)) ||
	       over((uint64_t)PCE_MAX(d->entries, 0), d->entries,
		    pce_load_relaxed(&c->lim.entries));
}

static int fits(struct pce_cache *c, void *arg)
{
	const struct pce_delta *d = arg;

	return !over(pce_load_relaxed(&c->use.kv) + (uint64_t)d->kv, d->kv,
		     pce_load_relaxed(&c->lim.kv)) &&
	       !over(pce_load_relaxed(&c->use.index) + (uint64_t)d->index, d->index,
		     pce_load_relaxed(&c->lim.index)) &&
	       !over(pce_load_relaxed(&c->use.entries) + (uint64_t)d->entries, d->entries,
		     pce_load_relaxed(&c->lim.entries));
}

/* Evict in one locked shard: a CLOCK sweep that gives every entry its
 * second chance, then, if that was not enough, any unpinned entry. */
static uint64_t sweep_until_fits(struct pce_cache *c, struct pce_shard *s,
				 const struct pce_delta *d, int *nomem)
{
	uint64_t n = s->entries;
	uint64_t steps = c->cfg.policy == PCE_POLICY_CLOCK_LFU ? (PCE_CLOCK_FREQ_MAX + 1) * n
							       : 2 * n;
	uint64_t evicted = pce_shard_sweep_locked(c, s, steps + 1, 0, fits, (void *)d, NULL,
						  nomem);

	if (!fits(c, (void *)d))
		evicted += pce_shard_sweep_locked(c, s, s->entries, 1, fits, (void *)d, NULL,
						  nomem);
	pce_add_owned(&s->ctr.sync_evictions, evicted);
	return evicted;
}

/* Nothing evicted and no room: out of memory if a victim could not be
 * removed for lack of it (not every evictable entry was pinned). */
static int no_room(int nomem)
{
	return nomem ? PCE_ENOMEM : PCE_ENOSPC;
}

/* Evict in @s, then in the other shards in turn, until @d fits.  Shared
 * mode: the caller holds @s only, and @s is unlocked while the others are
 * swept one at a time (waiting for a second shard lock while holding one
 * could deadlock two stores evicting from each other's shards).  Exclusive
 * mode: the caller holds every shard lock. */
static int evict(struct pce_cache *c, struct pce_shard *s, const struct pce_delta *d,
		 int exclusive)
{
	int nomem = 0, room = 0;
	int drop = !exclusive && c->shard_mask;
	uint64_t evicted = sweep_until_fits(c, s, d, &nomem);

	if (fits(c, (void *)d))
		return 0;
	if (drop)
		pthread_mutex_unlock(&s->lock);
	for (uint32_t i = 1; i <= c->shard_mask && !(room = fits(c, (void *)d)); i++) {
		struct pce_shard *o = &c->shard[(s->index + i) & c->shard_mask];
		if (!exclusive)
			pthread_mutex_lock(&o->lock);
		evicted += sweep_until_fits(c, o, d, &nomem);
		if (!exclusive)
			pthread_mutex_unlock(&o->lock);
	}
	if (drop)
		pthread_mutex_lock(&s->lock);
	/* Room made by others (the reclaimer, a remove) counts as progress,
	 * even if another store has taken it again since. */
	return evicted || room || fits(c, (void *)d) ? 0 : no_room(nomem);
}

int pce_budget_evict_sync(struct pce_cache *c, struct pce_shard *s, const struct pce_delta *d)
{
	return evict(c, s, d, 0);
}

void pce_budget_exclusive_begin(struct pce_cache *c, struct pce_shard *s)
{
	/* Index order, as pce_cache_audit() takes them: the only order in
	 * which a thread ever holds two shard locks. */
	pthread_mutex_unlock(&s->lock);
	for (uint32_t i = 0; i <= c->shard_mask; i++)
		pthread_mutex_lock(&c->shard[i].lock);
}

int pce_budget_evict_exclusive(struct pce_cache *c, struct pce_shard *s,
			       const struct pce_delta *d)
{
	return evict(c, s, d, 1);
}

void pce_budget_exclusive_end(struct pce_cache *c, struct pce_shard *s)
{
	for (uint32_t i = 0; i <= c->shard_mask; i++) {
		if (&c->shard[i] != s)
			pthread_mutex_unlock(&c->shard[i].lock);
	}
}

int pce_budget_over_high(const struct pce_cache *c)
{
	const struct pce_limits *l = &c->lim;

	return above(pce_load_relaxed(&c->use.kv), &l->kv_high) ||
	       above(pce_load_relaxed(&c->use.index), &l->index_high) ||
	       above(pce_load_relaxed(&c->use.entries), &l->entries_high);
}

/* A gauge above its low watermark counts only if the budget has one (a
 * budget of 0 has neither). */
static int above_low(uint64_t used, const uint64_t *high, const uint64_t *low)
{
	return pce_load_relaxed(high) && used > pce_load_relaxed(low);
}

static int below_low(struct pce_cache *c, void *unused)
{
	const struct pce_limits *l = &c->lim;

	(void)unused;
	return !above_low(pce_load_relaxed(&c->use.kv), &l->kv_high, &l->kv_low) &&
	       !above_low(pce_load_relaxed(&c->use.index), &l->index_high, &l->index_low) &&
	       !above_low(pce_load_relaxed(&c->use.entries), &l->entries_high, &l->entries_low);
}

int pce_budget_within(struct pce_cache *c, void *unused)
{
	const struct pce_limits *l = &c->lim;

	(void)unused;
	return !above(pce_load_relaxed(&c->use.kv), &l->kv) &&
	       !above(pce_load_relaxed(&c->use.index), &l->index) &&
	       !above(pce_load_relaxed(&c->use.entries), &l->entries);
}

/* The reclaimer's rounds: shards in turn from evict_cursor, about 1/32 of a
 * shard's ring per visit, at most @work hand moves in all, until @enough. */
static void rounds(struct pce_cache *c, uint64_t work, pce_enough_fn enough, void *ctx,
		   struct pce_delta *freed, int *nomem)
{
	while (work && !enough(c, ctx)) {
		struct pce_shard *s = &c->shard[c->evict_cursor++ & c->shard_mask];
		uint64_t steps;

		pthread_mutex_lock(&s->lock);
		steps = PCE_MIN(PCE_MAX(s->entries / 32, 8), work);
		pce_shard_sweep_locked(c, s, steps, 0, enough, ctx, freed, nomem);
		pthread_mutex_unlock(&s->lock);
		work -= steps;
	}
}

/* Enough hand moves to age every entry to a victim: what is left after
 * them is pinned (or was stored meanwhile). */
static uint64_t full_round(const struct pce_cache *c)
{
	return (PCE_CLOCK_FREQ_MAX + 2) * pce_load_relaxed(&c->use.entries) + c->shard_mask + 1;
}

void pce_budget_evict_to_low(struct pce_cache *c)
{
	if (pce_budget_over_high(c))
		rounds(c, full_round(c), below_low, NULL, NULL, NULL);
}

int pce_budget_evict_until(struct pce_cache *c, pce_enough_fn enough, void *ctx,
			   struct pce_delta *freed)
{
	int nomem = 0;

	rounds(c, full_round(c), enough, ctx, freed, &nomem);
	/* A whole round was not enough: every unpinned entry is fair game. */
	for (uint32_t i = 0; i <= c->shard_mask && !enough(c, ctx); i++) {
		struct pce_shard *s = &c->shard[i];

		pthread_mutex_lock(&s->lock);
		pce_shard_sweep_locked(c, s, s->entries, 1, enough, ctx, freed, &nomem);
		pthread_mutex_unlock(&s->lock);
	}
	return enough(c, ctx) ? 0 : no_room(nomem);
}
