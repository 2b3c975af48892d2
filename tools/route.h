/*
 * route.h - the passes behind `pce simulate --workers`: a trace replayed
 * over W simulated workers behind one router index, once per routing
 * policy, and what each policy buys.
 *
 * Each worker is a libpce cache set up as replay.h says (capacity in
 * cache units, one shard, no reclaim thread).  Its store and evict events
 * (config.on_event) feed one pce_router (pce/router.h) per policy, as a
 * gateway fed by its engines' KV events would be: a STORED entry is an
 * add of its sequence by the worker; a removed entry is a remove of the
 * blocks of it that no other entry of that worker still starts with.  So
 * the router holds, for each worker, exactly the prefixes its cache holds.
 *
 * Per request: one pce_router_match(), timed, listing the top_k workers
 * holding the longest prefixes of the request (by default all of them,
 * k = W, so that ties are decided by the rules below and not by the
 * router's cut; a gateway asks for a few, and the match then costs less
 * where many workers share a prefix); the policy picks a worker; that
 * worker's cache replays the request (lookup, then store), and its events
 * reach the router before the next request.
 *
 * Policies:
 *   rr           request i goes to worker i mod W.
 *   prefix       the worker holding the longest prefix of the request;
 *                ties (also: nobody holds any of it) go to the least
 *                loaded of the tied workers, then the lowest id.
 *   prefix+load  SGLang's cache-aware policy: if the loads are imbalanced
 *                (max - min > balance_abs and max > balance_rel x min),
 *                the least loaded worker (lowest id on a tie); otherwise
 *                the worker prefix would pick, if it holds more than
 *                cache_threshold of the request's blocks, else the worker
 *                whose cache holds the fewest blocks (then least loaded,
 *                then lowest id).
 * Load: requests in flight.  A trace gives arrival times but no service
 * times, so a request is taken to be in flight on its worker until
 * in_flight more requests have been routed (the last in_flight requests
 * are the ones in flight): the load a gateway would see with in_flight
 * requests outstanding.
 */
#ifndef PCE_TOOLS_ROUTE_H
#define PCE_TOOLS_ROUTE_H

#include <stdint.h>

#include <pce/pce.h>

#include "replay.h"
#include "trace.h"

enum pce_route_policy {
	PCE_ROUTE_RR = 0,
	PCE_ROUTE_PREFIX,
	PCE_ROUTE_PREFIX_LOAD,
	PCE_ROUTE_POLICIES
};

#define PCE_ROUTE_MAX_WORKERS 65536u

struct pce_route_opts {
	uint32_t workers;                 /* W, in [1, PCE_ROUTE_MAX_WORKERS] */
	uint64_t capacity;                /* per worker, cache units (as pce_replay_init) */
	enum pce_policy eviction;         /* the workers' eviction policy */
	const enum pce_route_policy *policies;
	size_t n_policies;                /* 1 to PCE_ROUTE_POLICIES, each once */
	double warmup_fraction;
	/* prefix+load (defaults: SGLang's router, 0.3, 64, 1.5) */
	double cache_threshold;           /* share of the request's blocks, [0, 1) */
	uint64_t balance_abs;
	double balance_rel;               /* >= 1 */
	uint64_t in_flight;               /* requests in flight at once, >= 1 */
	/* Workers the match lists (pce_router_match's k); 0 or >= W: all.
	 * With fewer, when more workers than that tie at the longest prefix,
	 * which of them the policy sees is the router's choice. */
	uint32_t top_k;
	int record_routes;                /* keep the worker of every request */
	/* Before each request, check that the router lists, for every
	 * worker, the prefix its cache holds (a lookup per worker): the run
	 * fails with PCE_TRACE_ECACHE at the first difference. */
	int verify;
	/* Called every few thousand requests with the fraction of all the
	 * work done; may be NULL. */
	void (*progress)(void *ctx, double fraction);
	void *ctx;
};

/* Defaults of the options above, the policies all three. */
void pce_route_opts_init(struct pce_route_opts *o);

/* What one policy did.  Counted over the window (the requests after the
 * warm-up), except routes and the events. */
struct pce_route_point {
	enum pce_route_policy policy;
	struct pce_replay_counts window;  /* what the routed workers' caches hit */
	uint64_t *requests, *tokens;      /* per worker: requests, prompt tokens */
	uint64_t max_requests, max_tokens;
	uint32_t busiest;                 /* worker with the most requests (lowest id on a tie) */
	uint64_t balanced;                /* prefix+load: requests routed by load */
	uint64_t evictions;               /* entries the workers evicted */
	uint64_t router_adds, router_removes;
	uint64_t match_ns[3];             /* router match latency: p50, p99, p99.9 */
	uint32_t *routes;                 /* record_routes: worker of request i, all requests */
};

struct pce_route_result {
	uint64_t requests;
	uint64_t window_start;
	struct pce_replay_counts unlimited;  /* one unlimited cache: the ceiling */
	struct pce_route_point points[PCE_ROUTE_POLICIES]; /* in the options' order */
	size_t n_points;
	char error[256];
};

/*
 * pce_route_run - Pass 1 (the unlimited ceiling, as pce simulate's) then
 * one pass per policy over @tr (which must be at its start).
 * Return: 0, a PCE_TRACE_* error of the trace, or PCE_TRACE_ECACHE /
 * PCE_TRACE_ENOMEM / PCE_TRACE_EINPUT (bad options) with res->error set.
 */
int pce_route_run(struct pce_trace *tr, const struct pce_route_opts *o,
		  struct pce_route_result *res);

/* "rr", "prefix", "prefix+load". */
const char *pce_route_policy_name(enum pce_route_policy p);

/* The share of @pt's counted requests its busiest worker received (0 when
 * none were counted). */
double pce_route_busiest_share(const struct pce_route_point *pt);

/* Whether @pt collapsed: its busiest worker received more than half of the
 * counted requests and more than twice its fair share (1/W). */
int pce_route_collapsed(const struct pce_route_point *pt, uint32_t workers);

void pce_route_free(struct pce_route_result *res);

#endif /* PCE_TOOLS_ROUTE_H */
