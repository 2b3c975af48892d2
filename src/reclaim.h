/*
 * reclaim.h - the reclaimer: one pass = expire pin leases, expire TTLs,
 * collect unpinned zombies, evict to the watermarks, wait for a grace
 * period, free what was retired and hand released values to on_release.
 * Runs on the cache's background thread, or in the caller of
 * pce_cache_reclaim(); passes are serialised by reclaim_lock.
 */
#ifndef PCE_RECLAIM_H
#define PCE_RECLAIM_H

#include "core.h"

/* One pass.  @evict: also evict to the low watermarks. */
void pce_reclaim_pass(struct pce_cache *c, int evict);

/* Free everything retired so far (waits for a grace period); no eviction.
 * Used by destroy after everything was unlinked. */
void pce_reclaim_free_retired(struct pce_cache *c);

/* Run @fn (evictions) under reclaim_lock, then free what was retired,
 * releasing the values in the calling thread; returns @fn's result.
 * pce_cache_evict() and pce_cache_set_budgets() use it. */
int pce_reclaim_run(struct pce_cache *c, int (*fn)(struct pce_cache *c, void *ctx), void *ctx);

/* Wake the background thread early (cheap when already woken). */
void pce_reclaim_wake(struct pce_cache *c);

int pce_reclaim_start(struct pce_cache *c);
void pce_reclaim_stop(struct pce_cache *c);

#endif /* PCE_RECLAIM_H */
