/*
 * lookup.h - the lookup's entry choice, for writers that must report what a
 * lookup would have found (a store's holder, cache.c).
 */
#ifndef PCE_LOOKUP_H
#define PCE_LOOKUP_H

#include "core.h"

/*
 * pce__lookup_choose_rcu - The entry pce_cache_lookup() of @q[0..@n) in
 * @ns would report (without PCE_LOOKUP_WHOLE), or NULL for a miss; *@matched
 * receives the tokens it would report.  No side effect.  Under RCU or
 * @s's lock.  @now: the call's clock cache (see pce_now_once()).
 */
struct pce_entry *pce__lookup_choose_rcu(const struct pce_cache *c, const struct pce_shard *s,
					 uint64_t ns, const uint32_t *q, size_t n, uint64_t *now,
					 size_t *matched);

#endif /* PCE_LOOKUP_H */
