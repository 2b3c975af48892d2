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
 * having dropped that lock, in the other shards one at a time.
 *
 * (B1) Between such an eviction and the store's next reservation, other
 * stores may take the room it made, any number of times, and a sweep of one
 * shard at a time may find nothing while the evictable entries move to
 * shards already swept.  So when its second reservation fails, or a sweep
 * finds nothing, a store goes exclusive: it takes every shard lock, in index
 * order, and evicts and reserves holding them all.  Every store reserves
 * under its shard's lock, so no one can take that room, and every further
 * round evicts an entry while none is added, or ends the store: it
 * terminates, and its PCE_ENOSPC is exact (every entry left is pinned).  A
 * thread waits for a shard lock while holding another only in index order
 * (exclusive stores, the audit), so the locks cannot deadlock.
 *
 * The budgets in force live in cache->lim, relaxed atomics: set at create,
 * changed by pce_cache_set_budgets().  A reservation reads them under its
 * shard lock, so once a setter has taken and dropped every shard lock after
 * storing new budgets, every later reservation checks the new ones.
 */
#ifndef PCE_BUDGET_H
#define PCE_BUDGET_H

#include "shard.h"

/* @pct percent of @budget (a watermark), without overflow. */
uint64_t pce_budget_share(uint64_t budget, uint32_t pct);

/* Take and drop every shard lock once: after new budgets were stored, every
 * reservation made under the old ones has finished (see above). */
void pce_budget_barrier(struct pce_cache *c);

/* Put @b in force (relaxed stores; the caller orders them, see above). */
void pce_budget_set(struct pce_cache *c, const struct pce_budgets *b);

/* Apply @d if every budget still holds afterwards.  Return: 0 or PCE_ENOSPC
 * (nothing applied). */
int pce_budget_reserve(struct pce_cache *c, const struct pce_delta *d);

/* Is @d larger than a whole budget (so no eviction can ever make room)? */
int pce_budget_never_fits(const struct pce_cache *c, const struct pce_delta *d);

/* Evict (capacity) until @d would fit.  @s is the caller's locked shard; the
 * lock may be dropped and re-taken, so the caller must re-examine the shard.
 * Return: 0 if something was evicted or @d fitted at some point (try again),
 * PCE_ENOSPC if no shard held an evictable entry when it was swept and @d
 * never fitted, PCE_ENOMEM if nothing could be evicted because a removal
 * could not allocate. */
int pce_budget_evict_sync(struct pce_cache *c, struct pce_shard *s, const struct pce_delta *d);

/* B1: the caller holds @s; on return it holds every shard lock. */
void pce_budget_exclusive_begin(struct pce_cache *c, struct pce_shard *s);
/* pce_budget_evict_sync() for a caller holding every shard lock; no lock is
 * dropped, and PCE_ENOSPC means nothing evictable is left. */
int pce_budget_evict_exclusive(struct pce_cache *c, struct pce_shard *s,
			       const struct pce_delta *d);
/* B1: release every shard lock but @s's. */
void pce_budget_exclusive_end(struct pce_cache *c, struct pce_shard *s);

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
