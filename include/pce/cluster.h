/*
 * pce/cluster.h - the cluster tier (L2): "which node holds this prefix",
 * shared across processes and machines through Redis.
 *
 * A tier sits beside one pce_cache (L1, in this process).  It mirrors what
 * the cache stores into Redis as chained chunk ids (see docs/cluster.md):
 * every whole chunk of chunk_tokens tokens of a stored entry becomes a Redis
 * hash field "node_id/node_id -> epoch" (publisher/owner); other nodes'
 * tiers look a prompt's chunk ids up in one round trip and learn, per
 * owner, how many leading chunks it holds.  L1 stays authoritative: L2 is a hint that may be stale (a node may
 * have evicted since), never a source of a wrong local answer.
 *
 * Wiring: create the tier, then create the cache with
 *     cfg.on_event = pce_cluster_on_event; cfg.event_ctx = tier;
 * and hand the cache to pce_cluster_attach_cache() for tiered lookups.  The
 * tier must outlive the cache (destroy the cache first: its REMOVED events
 * retract what the node published).
 *
 * A gateway wires a router index (pce/router.h) the same way, with
 * pce_cluster_attach_router() and pce_cluster_match(): the node then
 * publishes, for every owner (worker) its router knows, the chunks the
 * owner holds, as fields "node/owner"; several gateways that know the same
 * workers each publish their own fields (own epoch, lease, boot token), and
 * a lookup gives each owner the deepest depth any live gateway published.
 * A tier serves one index: a cache or a router.
 *
 * Failure model: all Redis I/O runs on one worker thread per tier (hiredis'
 * blocking API with connect and socket timeouts).  A caller of
 * pce_cluster_lookup() waits at most budget_us for L2 and then goes on with
 * L1 alone; a local answer is computed first and is never lost or delayed
 * beyond that budget.  A circuit breaker with exponential backoff stops
 * callers from waiting at all while Redis is unreachable.
 *
 * Thread safety: every function may be called from any thread, except that
 * pce_cluster_destroy() must be the last call.  pce_cluster_on_event() only
 * hashes, allocates one request and appends it under the tier's mutex (it
 * runs under the cache's shard lock or the router's lock).  No thread holds
 * that mutex across Redis I/O or while calling into the cache or router, so
 * the order index lock -> tier mutex cannot invert.  Unlike
 * pce_cache_lookup(), a tiered lookup that asks L2 is not wait-free: it
 * allocates a request and waits on a condition variable, at most budget_us.
 */
#ifndef PCE_CLUSTER_H
#define PCE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "pce/cache.h"
#include "pce/errors.h"
#include "pce/overlap.h"
#include "pce/router.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pce_cluster;

/* How chunk ids are computed; every node of a cluster must use the same. */
enum pce_cluster_hash {
	PCE_CLUSTER_XXH3_128 = 0,  /* XXH3-128 with a secret derived from the cluster secret */
	PCE_CLUSTER_SHA256_128 = 1 /* SHA-256(secret || ...) truncated to 128 bits (libcrypto) */
};

/* Lookups read Redis with one pipelined HGETALL batch instead of the Lua
 * script (for servers where scripting is disabled). */
#define PCE_CLUSTER_NO_SCRIPT (1u << 0)

/* Smallest accepted cluster secret, in bytes. */
#define PCE_CLUSTER_MIN_SECRET 16u

struct pce_cluster_config {
	const char *host;         /* Redis (or one Redis Cluster node); default "127.0.0.1"; copied */
	uint16_t port;            /* default 6379 */
	const char *key_prefix;   /* prefix of every key; default "pce"; copied; <= 32 bytes */
	uint32_t node_id;         /* this node's id (the owner others see); default 0 */
	const void *secret;       /* cluster secret, >= PCE_CLUSTER_MIN_SECRET bytes; copied; required */
	size_t secret_len;
	enum pce_cluster_hash hash;     /* default PCE_CLUSTER_XXH3_128 */
	uint32_t chunk_tokens;          /* tokens per chunk, a multiple of the cache's
	                                 * block_size; default 256 */
	uint32_t budget_us;             /* longest a lookup waits for L2; default 1000 */
	uint32_t connect_timeout_ms;    /* default 100 */
	uint32_t io_timeout_ms;         /* socket timeout of every reply; default 100 */
	uint32_t lease_ms;              /* a node unseen this long vanishes; default 10000 */
	uint32_t key_ttl_ms;            /* TTL of every key, refreshed at a third; default 600000 */
	uint32_t backoff_min_ms;        /* breaker: first wait before a reconnect; default 10 */
	uint32_t backoff_max_ms;        /* breaker: doubling stops here; default 1000 */
	uint32_t max_lookup_chunks;     /* chunks a lookup asks about at most; default 512 */
	uint32_t script_budget;         /* hash fields the lookup script reads at most
	                                 * before it answers PARTIAL; default 65536 */
	uint32_t queue_limit;           /* events waiting for the worker; beyond, they are
	                                 * dropped and counted; default 65536 */
	unsigned flags;                 /* PCE_CLUSTER_* */
};

/* pce_cluster_config_init - Fill @cfg with the documented defaults. */
PCE_API void pce_cluster_config_init(struct pce_cluster_config *cfg);

/* pce_cluster_config_error - NULL if @cfg is valid, else a static sentence
 * naming the first bad field.  pce_cluster_create() returns PCE_EINVAL
 * exactly when this is non-NULL. */
PCE_API const char *pce_cluster_config_error(const struct pce_cluster_config *cfg);

/*
 * pce_cluster_create - Create a tier and start its worker thread.  Does not
 * wait for Redis: an unreachable server only opens the breaker, and the
 * worker keeps reconnecting with backoff.  Each tier gets a fresh epoch, so
 * whatever an earlier process with the same node_id published is hidden at
 * once when this tier registers.
 * Return: 0, PCE_EINVAL, PCE_ENOMEM, PCE_ETHREAD.
 */
PCE_API int pce_cluster_create(const struct pce_cluster_config *cfg, struct pce_cluster **out);

/*
 * pce_cluster_destroy - Stop the worker and free the tier.  Writes still
 * queued are sent first while the connection works (each reply bounded by
 * io_timeout_ms).  Accepts NULL.  The node's registration is left to its
 * lease, so a cache destroyed before (whose REMOVED events retracted its
 * chunks) leaves nothing behind.
 */
PCE_API void pce_cluster_destroy(struct pce_cluster *tier);

/*
 * pce_cluster_on_event - The on_event callback of the cache or router
 * (event_ctx = the tier).  A cache's STORED: hashes the entry's whole
 * chunks and queues their publish; REMOVED: queues the retract of the
 * chunks no other entry of the node holds, deepest first.  A router's: see
 * pce_cluster_attach_router().  Never blocks on I/O; drops (and counts)
 * events beyond queue_limit.
 */
PCE_API void pce_cluster_on_event(void *tier, const struct pce_event *event);

/*
 * pce_cluster_attach_cache - The cache pce_cluster_lookup() asks first.
 * Return: 0; PCE_EINVAL (NULL argument, or a cache or router already
 * attached).
 */
PCE_API int pce_cluster_attach_cache(struct pce_cluster *tier, struct pce_cache *cache);

/*
 * pce_cluster_attach_router - The router index pce_cluster_match() asks
 * first.  The router is created with on_event = pce_cluster_on_event and
 * event_ctx = the tier; its block_size must divide chunk_tokens.  What the
 * tier publishes follows the router's events: STORED publishes the owner's
 * new whole chunks; a REMOVED event with tokens (pce_router_remove)
 * retracts the chunk of the removed block and its extensions on that path;
 * one without tokens (clears, expiries, evictions) retracts the owner's
 * chunks of the namespace from that depth on, on every path (exact for a
 * clear; after an expiry or eviction mid-chain L2 may show the owner
 * holding less than it does until the router stores it again).
 * Return: 0; PCE_EINVAL (NULL argument, or a cache or router already
 * attached).
 */
PCE_API int pce_cluster_attach_router(struct pce_cluster *tier, struct pce_router *router);

/* Flags of a tiered lookup. */
#define PCE_CLUSTER_LOCAL (1u << 0)       /* L1 covered every whole chunk: L2 not asked */
#define PCE_CLUSTER_PARTIAL (1u << 1)     /* L2 stopped early (work budget or chunk cap):
                                           * depths are lower bounds */
#define PCE_CLUSTER_UNAVAILABLE (1u << 2) /* L2 was asked but did not answer within the
                                           * budget, or the breaker is open */

struct pce_cluster_result {
	struct pce_match local; /* L1's answer (pce_cache_lookup) */
	unsigned flags;         /* PCE_CLUSTER_* */
	size_t n_owners;        /* owners written (at most max_owners) */
	size_t total_owners;    /* owners L2 reported (may exceed n_owners) */
};

/*
 * pce_cluster_lookup - Tiered lookup: L1 first, then L2.
 * @opts: passed to pce_cache_lookup() (NULL for defaults).
 * @owners: receives up to @max_owners other nodes (never this node: L1
 * answers for it), deepest first: owner = node id, tokens = leading tokens
 * of the query it holds (whole chunks), tier = PCE_TIER_REMOTE, score =
 * tokens.  L2 is asked only when L1's match is shorter than the query's
 * whole chunks; the wait is bounded by budget_us.
 * Return: 0 (an unavailable L2 is a flag, not an error); pce_cache_lookup()'s
 * errors; PCE_EINVAL (NULL tier/out, no cache attached, NULL @owners with
 * @max_owners > 0).
 */
PCE_API int pce_cluster_lookup(struct pce_cluster *tier, uint64_t ns, const uint32_t *tokens,
			       size_t len, const struct pce_lookup_opts *opts,
			       struct pce_overlap *owners, size_t max_owners,
			       struct pce_cluster_result *out);

/*
 * pce_cluster_match - Tiered match of a gateway: pce_router_match() of the
 * attached router first, then L2, merged.
 * @flags: passed to pce_router_match().
 * @owners: receives up to @max_owners owners, deepest first, each once:
 * the local answer's (tier and score as the router gave them) and L2's
 * (tokens: whole chunks, tier = PCE_TIER_REMOTE, score = tokens); an owner
 * both know takes the deeper answer.  L2 is asked only when the deepest
 * local owner holds less than the query's whole chunks (else flag
 * PCE_CLUSTER_LOCAL); the wait is bounded by budget_us.
 * @out: local.tokens = the deepest local owner's tokens (the other fields
 * of local are 0); n_owners; total_owners = owners known (the router's
 * count of holders of the first block, plus L2's owners it did not list);
 * flags as for pce_cluster_lookup().
 * Return: 0; pce_router_match()'s errors; PCE_EINVAL (NULL tier/out, no
 * router attached, NULL @owners with @max_owners > 0).
 */
PCE_API int pce_cluster_match(struct pce_cluster *tier, uint64_t ns, const uint32_t *tokens,
			      size_t len, unsigned flags, struct pce_overlap *owners,
			      size_t max_owners, struct pce_cluster_result *out);

/*
 * pce_cluster_sync - Wait until the worker is connected, has registered,
 * and has sent every event queued before this call.
 * Return: 0; PCE_ETIMEDOUT after @timeout_ms; PCE_EINVAL.
 */
PCE_API int pce_cluster_sync(struct pce_cluster *tier, uint32_t timeout_ms);

/* A 128-bit chunk id. */
struct pce_chunk_id {
	uint64_t lo, hi;
};

/*
 * pce_cluster_chunk_ids - The chained ids of the first @n whole chunks of
 * @tokens (which must hold n * chunk_tokens tokens) in namespace @ns, as the
 * tier publishes and looks them up.
 * Return: 0; PCE_EINVAL.
 */
PCE_API int pce_cluster_chunk_ids(struct pce_cluster *tier, uint64_t ns, const uint32_t *tokens,
				  size_t n, struct pce_chunk_id *ids);

struct pce_cluster_stats {
	uint64_t lookups;          /* pce_cluster_lookup() and pce_cluster_match() calls */
	uint64_t local;            /* ... answered by L1 alone (PCE_CLUSTER_LOCAL) */
	uint64_t l2_lookups;       /* ... that asked L2 */
	uint64_t l2_hits;          /* ... where L2 named at least one other owner */
	uint64_t l2_partial;       /* ... flagged PCE_CLUSTER_PARTIAL */
	uint64_t l2_unavailable;   /* ... flagged PCE_CLUSTER_UNAVAILABLE */
	uint64_t published;        /* chunk fields written */
	uint64_t publish_errors;   /* chunk writes Redis refused or that were lost */
	uint64_t retracted;        /* chunk fields deleted */
	uint64_t retract_errors;
	uint64_t events_dropped;   /* events beyond queue_limit */
	uint64_t breaker_opens;    /* connection losses or failed connects */
	uint64_t connects;         /* successful connects */
	uint64_t republishes;      /* full republishes (Redis lost its data, or writes were lost) */
	uint64_t redirects;        /* MOVED/ASK replies followed */
	uint64_t script_loads;     /* SCRIPT LOAD after NOSCRIPT (or at connect) */
	uint64_t mirror_entries;   /* entries of this node the tier mirrors */
	uint64_t mirror_chunks;    /* chunk fields of this node: distinct chunks of its
	                            * cache, or (chunk, owner) pairs of its router */
	uint64_t rtt_p50_us;       /* L2 lookup round trips (worker side), upper */
	uint64_t rtt_p99_us;       /* bounds of power-of-two buckets */
	uint64_t rtt_max_us;
	int connected;             /* 1 while the worker holds a working connection */
	uint64_t epoch;            /* this node's current epoch */
};

/* pce_cluster_stats_get - A snapshot of the counters.  Return: 0; PCE_EINVAL. */
PCE_API int pce_cluster_stats_get(struct pce_cluster *tier, struct pce_cluster_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* PCE_CLUSTER_H */
