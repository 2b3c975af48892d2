/*
 * pce/router.h - libpce router index: for a prompt, which workers hold how
 * much of it, for every worker in one wait-free walk.
 *
 * An LLM gateway in front of W engine workers asks, per request, "for each
 * worker, how many leading tokens of this prompt does it already hold?" and
 * routes where reuse is longest.  A pce_router answers with one walk of one
 * token trie whose cost does not grow with W.
 *
 * Model
 *   An owner is a 32-bit worker id chosen by the caller.  A holding is an
 *   owner holding a token sequence of a 64-bit namespace, in whole blocks of
 *   config.block_size tokens, each block in one storage tier (pce/overlap.h).
 *   Holdings are prefix-closed: an owner that holds a sequence holds every
 *   whole-block prefix of it.  Sequences of different namespaces never match
 *   each other; tokens are compared exactly.
 *
 *   pce_router_add() records that an owner holds a sequence,
 *   pce_router_remove() that it no longer holds it from one block on (an
 *   engine evicted that block), pce_router_clear_owner() that it holds
 *   nothing (a worker died or dropped its cache).  pce_router_match() lists
 *   the owners holding the longest prefixes of a query, each with its
 *   longest one.
 *
 * Scores
 *   An owner's score for a query is its matched tokens x the weight of the
 *   tier of the last block it matched (config.tier_weight; a tier left at
 *   weight 0 scores 0).  A block has one tier per owner: the add that first
 *   records it sets it, and an add with PCE_ROUTER_ADD_RETIER sets it again.
 *
 * Approximate mode
 *   A gateway whose engines publish no KV events records, when it routes a
 *   request, add(owner, prompt) with a TTL: the holding expires on the
 *   monotonic clock (config.clock) unless re-added.  One global index budget
 *   (config.index_budget, not per owner; pce_router_set_budgets() changes
 *   it at run time) bounds the index's memory: above
 *   the high watermark the reclaimer evicts holdings (CLOCK over trie nodes:
 *   a match sets the reference of the nodes it reports from), and an add
 *   that would exceed the budget evicts synchronously first, so a burst of
 *   unique prompts never grows the index past its budget.
 *
 * Threads
 *   Every function may be called from any thread, concurrently, except
 *   pce_router_destroy(), which must be the last call.  Threads need no
 *   set-up (as for pce_cache, pce/cache.h).
 *
 * Progress
 *   pce_router_match() is wait-free: no lock, no retry loop, no allocation
 *   (after a thread's first call into libpce).  It writes nothing shared
 *   except a node's CLOCK reference bit (only when it changes) and the
 *   calling thread's statistics stripe.  Adds, removes and clears take one
 *   shard's writer lock at a time (all holdings of a namespace that share a
 *   first token live in one shard); pce_router_clear_owner() visits every
 *   shard in turn.
 *
 * Concurrent changes
 *   A match that runs while holdings change reports, for each owner it
 *   lists, a holding that owner had at some instant during the match (never
 *   more than it ever held), each owner once; an owner whose holding of the
 *   query changed during the match may be missing from the result, and the
 *   result may then hold fewer than k owners.
 *
 * fork()
 *   As for a cache (pce/cache.h): every call on a router created before a
 *   fork() of this process returns PCE_EFORKED at once and changes nothing;
 *   pce_router_destroy() of it abandons it.  Every function that takes a
 *   router can also return PCE_EFORKED.
 *
 * Errors
 *   Functions that can fail return 0 or a negative PCE_E* code (pce/errors.h).
 *   libpce never aborts or exits on anything a caller can do.
 */
#ifndef PCE_ROUTER_H
#define PCE_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "pce/cache.h"
#include "pce/errors.h"
#include "pce/overlap.h"
#include "pce/version.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pce_router;

/*
 * struct pce_router_config - Everything a router index is created from.
 * Start from pce_router_config_init(); pce_router_create() rejects an
 * invalid config with PCE_EINVAL and never substitutes a default silently.
 */
struct pce_router_config {
	uint32_t shards;        /* power of two in [1, PCE_MAX_SHARDS]; default 16 */
	uint32_t block_size;    /* tokens per block, >= 1; default 1 */
	/* Score weight of each tier: finite, >= 0.  Default: GPU 1.0, CPU 0.8,
	 * every other tier 0 (it scores 0 until the caller weighs it). */
	double tier_weight[PCE_TIERS];
	uint64_t index_budget;  /* bytes of the router's own memory; 0 = unlimited (default) */
	/* The reclaimer evicts when the index is above high% of its budget and
	 * stops at low%; adds never go above 100%.  0 < low <= high <= 100;
	 * default 90 / 80. */
	uint32_t high_watermark_pct;
	uint32_t low_watermark_pct;
	uint64_t default_ttl_ns;      /* TTL of adds with ttl_ns 0; 0 or PCE_NEVER = no
	                               * expiry (default 0) */
	uint64_t reclaim_interval_ns; /* background pass period, >= 100 us; default 10 ms */
	int background_reclaim;       /* 1 (default): a reclaim thread per router;
	                               * 0: the caller runs pce_router_reclaim() */
	pce_clock_fn clock;           /* NULL (default): CLOCK_MONOTONIC */
	void *clock_ctx;
	/* Holdings stored and removed, through the event seam of pce/cache.h:
	 * struct pce_event with owner and tier set (see pce_router_add() and
	 * pce_router_remove() for what each event says).  Called under the
	 * shard's writer lock; must be quick and must not call into the
	 * router.  NULL: no events. */
	pce_event_fn on_event;
	void *event_ctx;
};

/* pce_router_config_init - Fill @cfg with the documented defaults. */
PCE_API void pce_router_config_init(struct pce_router_config *cfg);

/*
 * pce_router_config_error - Why @cfg is invalid.
 * Return: NULL if @cfg is valid, else a static sentence naming the first bad
 * field.  pce_router_create() returns PCE_EINVAL exactly when this is
 * non-NULL.
 */
PCE_API const char *pce_router_config_error(const struct pce_router_config *cfg);

/*
 * pce_router_create - Create a router index.
 * @cfg: the configuration, copied; @out: receives the router.
 * Return: 0, PCE_EINVAL (NULL argument or invalid config), PCE_ENOMEM, or
 * PCE_ETHREAD (the reclaim thread could not start).
 */
PCE_API int pce_router_create(const struct pce_router_config *cfg, struct pce_router **out);

/*
 * pce_router_destroy - Free the router and everything it holds (no events).
 * Accepts NULL.  Must be the last call on the router; no other thread may
 * still be using it.
 */
PCE_API void pce_router_destroy(struct pce_router *r);

/* ---- holdings ------------------------------------------------------------ */

/* Set the tier of every block of the sequence, also of blocks the owner
 * already held (an engine moved them to another tier). */
#define PCE_ROUTER_ADD_RETIER (1u << 0)

struct pce_router_add_opts {
	unsigned flags;  /* PCE_ROUTER_ADD_* */
	uint64_t ttl_ns; /* 0: config.default_ttl_ns; PCE_NEVER: no expiry */
};

/*
 * pce_router_add - @owner holds @tokens[0..@len) of @ns, and so every
 * whole-block prefix of it, in @tier.
 * @len: rounded down to whole blocks (a partial last block is not held).
 * @opts: NULL for defaults.
 * @new_blocks: NULL, or receives the number of blocks the owner did not hold
 *   before (0 on error).
 *
 * Blocks the owner did not hold take @tier; blocks it held keep theirs
 * unless PCE_ROUTER_ADD_RETIER.  Every block of the sequence expires at the
 * later of its current expiry and now + TTL: a TTL is never shortened, and
 * an add without TTL makes the whole sequence permanent.  Takes the
 * writer lock of the sequence's shard.  If the index budget cannot hold the
 * new blocks, the add first evicts (CLOCK), in its own shard first.  When a
 * block became held or changed tier, one PCE_EVENT_STORED event is emitted:
 * ns, tokens and len (the rounded length) of the sequence, owner, tier.
 *
 * Return: 0 (also when nothing changed: the owner held it all); PCE_ENOSPC
 * the index budget cannot hold the new blocks even after evicting every
 * other holding (nothing changed); PCE_ESHORT @len is shorter than one
 * block; PCE_E2BIG @len > PCE_MAX_TOKENS; PCE_EINVAL NULL @r, NULL
 * @tokens, @tier >= PCE_TIERS or unknown flags; PCE_ENOMEM (nothing
 * changed).  After PCE_ENOSPC or PCE_ENOMEM, holdings the add evicted stay
 * evicted.
 */
PCE_API int pce_router_add(struct pce_router *r, uint32_t owner, uint64_t ns,
			   const uint32_t *tokens, size_t len, uint32_t tier,
			   const struct pce_router_add_opts *opts, size_t *new_blocks);

/*
 * pce_router_remove - @owner no longer holds @tokens[0..@len) of @ns from
 * the block that ends at @len on: it loses that block and every block of
 * every holding that extends @tokens[0..@len); it keeps the shorter prefix
 * @tokens[0..@len - block_size) and its holdings that leave the path
 * before @len.
 * @len: rounded down to whole blocks.
 *
 * Takes the writer lock of the sequence's shard.  Allocates only when the
 * kept prefix ends inside a trie edge (the edge is split there; the split
 * is not refused for the budget: the reclaimer evicts any excess).  Emits
 * one PCE_EVENT_REMOVED event (reason PCE_REASON_REMOVED, ns, tokens, len
 * as rounded, owner, tier of the removed block).
 *
 * Return: 0; PCE_ENOENT the owner did not hold the block that ends at @len
 * (nothing changed); PCE_ESHORT @len is shorter than one block;
 * PCE_E2BIG; PCE_EINVAL NULL @r or NULL @tokens; PCE_ENOMEM the split
 * could not allocate (nothing changed).
 */
PCE_API int pce_router_remove(struct pce_router *r, uint32_t owner, uint64_t ns,
			      const uint32_t *tokens, size_t len);

/*
 * pce_router_clear_owner - @owner holds nothing any more, in any namespace.
 * pce_router_clear_ns - Nobody holds anything of namespace @ns any more.
 * @removed: NULL, or receives the number of (owner, block) holdings removed.
 *
 * Never allocate.  clear_owner takes every shard's writer lock in turn and
 * walks only the nodes @owner holds (a node's children are skipped when
 * they do not hold it): its cost is the namespaces' top-level nodes plus,
 * for each node the owner holds, its children, not the size of the index
 * (but not O(holdings) either: the top level and the children of shared
 * nodes are scanned).  Each emits one PCE_EVENT_REMOVED event per holding cut at a
 * trie node (reason PCE_REASON_CLEARED; tokens NULL; len the depth, in
 * tokens, of the first block the owner lost on that path; owner; tier).
 * Return: 0 or PCE_EINVAL (NULL @r).
 */
PCE_API int pce_router_clear_owner(struct pce_router *r, uint32_t owner, uint64_t *removed);
PCE_API int pce_router_clear_ns(struct pce_router *r, uint64_t ns, uint64_t *removed);

/* ---- match -------------------------------------------------------------- */

/* No side effects: no statistics, no CLOCK reference. */
#define PCE_ROUTER_MATCH_PEEK (1u << 0)

/*
 * pce_router_match - The owners that hold the longest prefixes of
 * @tokens[0..@len) in @ns, each with its longest one, best first.
 * @out: receives up to @k results (may be NULL when @k is 0).
 * @n_out: receives the number written.
 * @left_out: NULL, or receives the number of owners holding at least one
 *   block of the query that were not reported (see below).
 *
 * Selection, then order.  The @k owners reported are those with the most
 * matched tokens (an owner's matched tokens: the longest whole-block prefix
 * of the query it holds and that has not expired).  When several owners tie
 * at the cut (more owners hold exactly that many tokens than places are
 * left), which of them are reported is unspecified.  The reported owners
 * are then sorted by score, highest first; ties by matched tokens, longest
 * first, then by owner id, lowest first.  So a tier weight reorders the
 * owners reported but never makes a shorter holding displace a longer one
 * from the result: choosing by score among all holders would need every
 * holder of the shared first block, which is what this call avoids.
 *
 * Cost: O(@len + k') for the walk down and the climb back, where k' is the
 * number of owners reported plus, at each trie node the climb passes that
 * adds owners, the owners already reported (at most @k each): so O(@len +
 * @k) when the reported owners come from few depths, O(@len + @k x depth
 * changes) at worst; a full listing (@k >= owners) costs O(@len + owners
 * listed).  Never O(@len x W).  Wait-free (see the file comment).
 *
 * *@left_out counts the holders of the query's first block, as the index
 * counted them during the match, minus those reported; holdings that have
 * expired but that the reclaimer has not dropped yet are counted.
 *
 * Return: 0 (also when nothing matched: *@n_out is 0); PCE_EINVAL NULL @r
 * or @n_out, NULL @out with @k > 0, NULL @tokens with @len > 0, or unknown
 * flags; PCE_E2BIG @len > PCE_MAX_TOKENS; PCE_ENOMEM the calling thread's
 * first call could not register it.
 */
PCE_API int pce_router_match(struct pce_router *r, uint64_t ns, const uint32_t *tokens,
			     size_t len, unsigned flags, struct pce_overlap *out, size_t k,
			     size_t *n_out, size_t *left_out);

/* ---- reclaim, budgets, statistics, audit -------------------------------- */

/* The index budget and watermarks pce_router_set_budgets() puts in force;
 * the fields mean what the config fields of the same names mean. */
struct pce_router_budgets {
	uint64_t index_budget;       /* 0: unlimited */
	uint32_t high_watermark_pct; /* 0 < low <= high <= 100 */
	uint32_t low_watermark_pct;
};

/*
 * pce_router_set_budgets - Change the index budget and its watermarks at
 * run time.
 *
 * Every add that reserves after this call has begun its eviction checks the
 * new budget (an add that reserved before holds its shard lock, and the
 * call takes every shard lock once before evicting).  If the index is above
 * a new, smaller budget, the call evicts synchronously (CLOCK over leaves,
 * as an add that needs room does) down to it; the reclaimer then evicts
 * down to the low watermark if the index is above the high one.  Unlinked
 * memory is freed after a grace period before the call returns.  Statistics
 * report the budget in force.  Blocks on shard locks and a grace period:
 * never call it from inside an RCU read-side section or an on_event
 * callback.  Since 0.1.
 * Return: 0, PCE_EINVAL (NULL argument, watermarks out of range) or
 * PCE_EFORKED.
 */
PCE_API int pce_router_set_budgets(struct pce_router *r, const struct pce_router_budgets *b);

/*
 * pce_router_reclaim - Run one reclaim pass in the calling thread: drop
 * expired holdings, evict down to the low watermark if above the high one,
 * wait for an RCU grace period and free what was unlinked.  Safe with or
 * without the background thread.
 * Return: 0 or PCE_EINVAL.
 */
PCE_API int pce_router_reclaim(struct pce_router *r);

struct pce_router_stats {
	/* monotonic counters */
	uint64_t matches;         /* matches without PCE_ROUTER_MATCH_PEEK */
	uint64_t owners_reported; /* sum of their *n_out */
	uint64_t adds;            /* successful adds */
	uint64_t adds_refused;    /* adds that failed with PCE_ENOSPC */
	uint64_t removes;         /* successful removes */
	uint64_t removed[PCE_REASON_COUNT]; /* (owner, block) holdings that left, by
	                                     * reason: REMOVED, CLEARED, TTL
	                                     * (expirations), CAPACITY (evictions) */
	uint64_t reclaim_passes;
	/* gauges */
	uint64_t holdings;        /* (owner, block) pairs held */
	uint64_t nodes;           /* trie nodes */
	uint64_t tokens;          /* distinct tokens in the trie (sum of edge lengths) */
	uint64_t trie_bytes;      /* bytes of trie nodes, child tables and expiry heaps */
	uint64_t owner_bytes;     /* bytes of owner sets */
	uint64_t index_bytes;     /* trie_bytes + owner_bytes: what the budget counts */
	uint64_t retired_bytes;   /* unlinked memory waiting for a grace period */
	uint64_t fixed_bytes;     /* shards, allocated at create */
	double bytes_per_owner_block; /* owner_bytes / holdings (0 without holdings):
	                               * index bytes per (owner, block) beyond the
	                               * shared token trie */
	/* limits in force */
	uint64_t index_budget;
	uint32_t shards;
};

/*
 * pce_router_stats_get - Snapshot of the statistics.  Takes no writer lock; the
 * fields are each exact but read at slightly different instants.
 * Return: 0 or PCE_EINVAL.
 */
PCE_API int pce_router_stats_get(struct pce_router *r, struct pce_router_stats *out);

/*
 * pce_router_audit - Check every invariant of the router index
 * (docs/design.md, R1...): trie structure, owner sets only shrinking down
 * a path, expiry never rising down a path, owner-set counts, the holdings,
 * node, token and byte gauges.  Takes every shard lock in turn (holding all
 * of them at the end), so it stalls writers; matches keep running.  Meant
 * for tests and debug builds.
 * @msg: NULL, or receives the first violation.
 * Return: 0, PCE_ECORRUPT, or PCE_EINVAL (NULL @r or @flags not 0).
 */
PCE_API int pce_router_audit(struct pce_router *r, unsigned flags, char *msg, size_t msg_len);

#ifdef __cplusplus
}
#endif

#endif /* PCE_ROUTER_H */
