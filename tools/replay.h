/*
 * replay.h - a libpce cache set up for a deterministic trace replay, as
 * `pce analyze` and `pce simulate` use it, and what it hit.
 *
 * Set-up (replay.c says why each field is so):
 *   capacity in cache units (block ids, or tokens for token traces): the
 *   budget counts distinct cached ids, a prefix shared by many entries
 *   once, like a paged KV cache (PCE_KV_PER_TOKEN, 1 byte per id);
 *   one shard, no reclaim thread: evictions happen inside the store that
 *   needs room, in the order of one global CLOCK; watermarks at 100%.
 * Per request: one lookup (it sets the matched entry's reference bit or
 * frequency, as an engine's lookup would), then one store of the whole
 * request with its index as the value.
 */
#ifndef PCE_TOOLS_REPLAY_H
#define PCE_TOOLS_REPLAY_H

#include <stdint.h>

#include <pce/pce.h>

#include "trace.h"

/* Sums over requests.  "ids" are cache units; "tokens" real tokens. */
struct pce_replay_counts {
	uint64_t requests;
	uint64_t tokens;
	uint64_t hit_tokens;
	uint64_t ids;
	uint64_t hit_ids;
};

struct pce_replay {
	struct pce_cache *cache;
	uint64_t replayed;          /* requests since the last reclaim pass */
	uint64_t refused;           /* stores refused: one request larger than the capacity */
};

/* What one request found. */
struct pce_replay_hit {
	size_t ids;          /* matched ids */
	uint64_t tokens;     /* the same in real tokens */
	uint64_t source;     /* the request whose entry matched (its index); valid if ids > 0 */
	int duplicate;       /* the request was already stored whole */
};

/*
 * pce_replay_init - Create the cache.  @capacity in cache units, 0 for
 * unlimited.  @on_event, @event_ctx: config.on_event and its context
 * (NULL: no events).  Return: 0 or a libpce error.
 */
int pce_replay_init(struct pce_replay *rp, uint64_t capacity, enum pce_policy policy,
		    pce_event_fn on_event, void *event_ctx);

/*
 * pce_replay_request - Look @r up, then store it.  A store refused for
 * lack of room (the request alone exceeds the capacity) is counted in
 * rp->refused, not an error.  Return: 0 or a libpce error.
 */
int pce_replay_request(struct pce_replay *rp, const struct pce_trace_request *r,
		       struct pce_replay_hit *hit);

/* Add one request and what it hit to @c. */
void pce_replay_count(struct pce_replay_counts *c, const struct pce_trace_request *r,
		      const struct pce_replay_hit *hit);

/* Index of the first counted request of @n replayed with @warmup_fraction
 * (the first ones only warm the cache): floor(fraction x n). */
uint64_t pce_replay_window_start(uint64_t n, double warmup_fraction);

/* Token- and id-weighted hit ratios of @c (0 when empty). */
double pce_replay_token_ratio(const struct pce_replay_counts *c);
double pce_replay_id_ratio(const struct pce_replay_counts *c);

/* A libpce error @rc of a pass over a trace: "@what: libpce's message" in
 * @err (@n bytes), and the PCE_TRACE_* code to return (PCE_TRACE_ENOMEM,
 * else PCE_TRACE_ECACHE). */
int pce_replay_fail(char *err, size_t n, int rc, const char *what);

/* Free the cache.  Accepts a replay whose init failed. */
void pce_replay_destroy(struct pce_replay *rp);

#endif /* PCE_TOOLS_REPLAY_H */
