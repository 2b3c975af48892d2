/*
 * budget.h - holding the three budgets (KV bytes, index bytes, entries).
 *
 * Hard limit: a store reserves its whole delta on the atomic gauges before
 * it publishes anything and rolls back if a budget would be exceeded, so the
 * gauges never exceed a budget except for a reservation that is rolled back
 * at once, or usage a shrink of the budget could not evict (pinned): stores
 * that would add to a gauge above its budget are refused, so it never rises
 * (I11).  Soft limits: above the high watermark the reclaimer is
 * woken and evicts down to the low watermark.  A store that finds no room
 * evicts synchronously: first in its own shard, whose lock it holds, then,
 * having dropped that lock, in the other shards one at a time.  No thread
 * ever waits for a shard lock while holding another.
 *
 * The budgets in force live in cache->lim, relaxed atomics: set at create,
 * changed by pce_cache_set_budgets().  A reservation reads them under its
 * shard lock, so once a setter has taken and dropped every shard lock after
 * storing new budgets, every later reservation checks the new ones.
 */
#ifndef PCE_BUDGET_H
#define PCE_BUDGET_H

#include "shard.h"

/* Put @b in force (relaxed stores; the caller orders them, see above). */
void pce_budget_set(struct pce_cache *c, const struct pce_budgets *b);

/* Apply @d if every budget still holds afterwards.  Return: 0 or PCE_ENOSPC
 * (nothing applied). */
int pce_budget_reserve(struct pce_cache *c, const struct pce_delta *d);

/* Is @d larger than a whole budget (so no eviction can ever make room)? */
int pce_budget_never_fits(const struct pce_cache *c, const struct pce_delta *d);

/* Evict (capacity) until @d would fit.  @s is the caller's locked shard; the
 * lock may be dropped and re-taken, so the caller must re-examine the shard.
 * Return: 0 if something was evicted or @d fits now (try again), PCE_ENOSPC
 * if nothing is evictable and @d does not fit, PCE_ENOMEM if nothing could
 * be evicted because a removal could not allocate. */
int pce_budget_evict_sync(struct pce_cache *c, struct pce_shard *s, const struct pce_delta *d);

/* Is any gauge above its high watermark? */
int pce_budget_over_high(const struct pce_cache *c);

/* Reclaimer: if above a high watermark, evict down to the low watermarks
 * (a bounded amount of work per call).  reclaim_lock held. */
void pce_budget_evict_to_low(struct pce_cache *c);

/* Is every gauge within its budget?  (A pce_enough_fn.) */
int pce_budget_within(struct pce_cache *c, void *unused);

/* Evict until @enough(c, ctx) holds, whatever the watermarks: the
 * reclaimer's CLOCK rounds first, then, if a whole round was not enough,
 * every unpinned entry shard by shard.  Adds the gauge drops to *@freed
 * (may be NULL).  reclaim_lock held.
 * Return: 0, PCE_ENOSPC (the rest is pinned) or PCE_ENOMEM (a victim's
 * removal could not allocate). */
int pce_budget_evict_until(struct pce_cache *c, pce_enough_fn enough, void *ctx,
			   struct pce_delta *freed);

#endif /* PCE_BUDGET_H */
