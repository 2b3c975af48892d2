/*
 * shard.h - entry life cycle inside one shard, always under its writer lock:
 * link a new entry, unlink one (for any reason), evict, expire, clear a
 * namespace, collect unpinned zombies.  Every function here keeps the
 * cache's usage gauges and the shard's counters exact; none blocks on
 * anything but memory allocation.
 */
#ifndef PCE_SHARD_H
#define PCE_SHARD_H

#include "core.h"
#include "trie.h"

/* Usage deltas a change makes (signed). */
struct pce_delta {
	int64_t kv;
	int64_t index;
	int64_t entries;
	int64_t nodes;
	int64_t tokens;
};

/* Apply @d to the cache's gauges (atomic, any thread). */
void pce_usage_apply(struct pce_cache *c, const struct pce_delta *d);

/* An entry object for @ns/@n tokens, not yet linked; NULL if out of memory. */
struct pce_entry *pce_entry_new(uint64_t ns, size_t n, uint64_t value, uint64_t kv_bytes,
				uint64_t expires_at, uint32_t shard);
void pce_entry_free(struct pce_entry *e);

/*
 * pce_shard_link_locked - Bookkeeping for an entry that commit_insert just
 * published: CLOCK ring, expiry heap (with @grow from pce_heap_prepare),
 * gauges, the STORED event (@tokens for it).
 */
struct pce_heap_grow;
void pce_shard_link_locked(struct pce_cache *c, struct pce_shard *s, struct pce_entry *e,
			   struct pce_heap_grow *grow, const uint32_t *tokens);

/*
 * pce_shard_unlink_locked - @e is no longer reachable (its node was
 * unpublished, replaced or cleared): take it off the ring and the heap,
 * count it under @reason, emit REMOVED, mark it DEAD and park it on the
 * retire list, or on the zombie list while pinned.  Gauges are the caller's.
 */
void pce_shard_unlink_locked(struct pce_cache *c, struct pce_shard *s, struct pce_entry *e,
			     enum pce_reason reason);

/*
 * pce_shard_remove_locked - Remove @e from the trie and unlink it.
 * For PCE_REASON_CAPACITY, an entry that is pinned is left alone.
 * @d: NULL, or receives the usage delta the removal applied.
 * Return: 0; PCE_EBUSY pinned (capacity only); PCE_ENOMEM a merge could not
 * allocate (nothing changed).
 */
int pce_shard_remove_locked(struct pce_cache *c, struct pce_shard *s, struct pce_entry *e,
			    enum pce_reason reason, struct pce_delta *d);

/*
 * pce_shard_remove_prefix_locked - Remove every entry of @ns in @s that
 * starts with @q[0..@n) (reason PCE_REASON_REMOVED); *@removed receives
 * how many.  Return: 0 or PCE_ENOMEM (nothing changed).
 */
int pce_shard_remove_prefix_locked(struct pce_cache *c, struct pce_shard *s, uint64_t ns,
				   const uint32_t *q, size_t n, uint64_t *removed);

/* Remove every entry of @s whose TTL ended at or before @now. */
void pce_shard_expire_locked(struct pce_cache *c, struct pce_shard *s, uint64_t now);

/* Move zombies whose last pin was released to the retire list. */
void pce_shard_collect_zombies_locked(struct pce_shard *s);

/* Remove every entry of namespace @ns from @s (all namespaces if @all). */
uint64_t pce_shard_clear_locked(struct pce_cache *c, struct pce_shard *s, uint64_t ns, int all,
				enum pce_reason reason);

/* Has an eviction done enough?  Called before every hand move. */
typedef int (*pce_enough_fn)(struct pce_cache *c, void *ctx);

/*
 * pce_shard_sweep_locked - Move the CLOCK hand up to @steps times, evicting
 * victims (capacity), until @enough(c) holds.  With @force, an unpinned
 * entry under the hand is evicted even if it still has a second chance
 * (used once a full sweep found no victim).  Returns the number evicted;
 * adds the usage deltas of the evictions to *@freed (if not NULL); sets
 * *@nomem (if not NULL) when a victim stayed because its removal could not
 * allocate (a merge).
 */
uint64_t pce_shard_sweep_locked(struct pce_cache *c, struct pce_shard *s, uint64_t steps,
				int force, pce_enough_fn enough, void *ctx,
				struct pce_delta *freed, int *nomem);

#endif /* PCE_SHARD_H */
