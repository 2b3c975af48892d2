/*
 * simulate.h - the passes behind `pce simulate`: the hit-ratio curve of a
 * trace for several capacities and eviction policies, each a real libpce
 * cache (replay.h), and the capacity to recommend.
 *
 * Pass 1 replays the trace through an unlimited cache (pce analyze's pass,
 * analyze.h, without its batch analysis): the ceiling any capacity can
 * reach, the number of requests (hence the window), and the footprint
 * (distinct ids, the capacity at which nothing is ever evicted).
 * Pass 2 rewinds the trace and replays it through every (capacity, policy)
 * cache at once, request by request, so the input is read twice whatever
 * the number of caches (three times when a default sweep is refined).
 */
#ifndef PCE_TOOLS_SIMULATE_H
#define PCE_TOOLS_SIMULATE_H

#include <stdint.h>

#include <pce/pce.h>

#include "replay.h"
#include "trace.h"

#define PCE_SIMULATE_MAX_POINTS 256

struct pce_simulate_opts {
	const uint64_t *capacities;   /* cache units, ascending; NULL: a default sweep */
	size_t n_capacities;
	const enum pce_policy *policies;
	size_t n_policies;
	double warmup_fraction;
	/* With the default sweep: the share of the unlimited hit ratio the
	 * recommendation is for (see pce_simulate_advise()); a third pass
	 * then adds 4 capacities between the smallest capacity reaching it
	 * and the step below.  0: no third pass. */
	double target;
	/* Called every few thousand requests with the fraction of all the
	 * work done; may be NULL. */
	void (*progress)(void *ctx, double fraction);
	void *ctx;
};

struct pce_simulate_point {
	enum pce_policy policy;
	uint64_t capacity;            /* cache units */
	struct pce_replay_counts window;
	uint64_t refused;             /* requests larger than the capacity, not stored */
	uint64_t evictions;
};

struct pce_simulate_result {
	uint64_t requests;
	uint64_t window_start;
	struct pce_replay_counts unlimited;  /* window counts at unlimited capacity */
	uint64_t footprint;                  /* distinct ids */
	struct pce_simulate_point *points;   /* by capacity, then policy as given */
	size_t n_points;
	char error[256];
};

struct pce_simulate_advice {
	int found;                    /* 0: no capacity simulated reaches the target */
	double target;                /* the share of the unlimited hit ratio asked for */
	const struct pce_simulate_point *best;  /* found: the smallest capacity reaching
	                                         * it, with its better policy */
	const struct pce_simulate_point *other; /* the other policy at that capacity, or NULL */
};

/*
 * pce_simulate_run - Both passes over @tr (which must be at its start).
 * Return: 0, a PCE_TRACE_* error of the trace, or PCE_TRACE_ECACHE /
 * PCE_TRACE_ENOMEM / PCE_TRACE_EINPUT (bad options) with res->error set.
 */
int pce_simulate_run(struct pce_trace *tr, const struct pce_simulate_opts *o,
		     struct pce_simulate_result *res);

/*
 * pce_simulate_ceiling - Pass 1 alone: replay @tr from its current position
 * through an unlimited cache (pce analyze's pass without the batch
 * analysis), with @o's warm-up and progress (reported as @weight of all the
 * work).  Sets res->requests, window_start, unlimited and footprint.
 * Return: as pce_simulate_run().
 */
int pce_simulate_ceiling(struct pce_trace *tr, const struct pce_simulate_opts *o,
			 struct pce_simulate_result *res, double weight);

/*
 * pce_simulate_default_capacities - The default sweep for @footprint:
 * 1-2-5 steps from about footprint / 1000 up to the first step >= footprint.
 * Writes at most @max values; returns how many.
 */
size_t pce_simulate_default_capacities(uint64_t footprint, uint64_t *out, size_t max);

/*
 * pce_simulate_advise - The smallest capacity whose better policy reaches
 * @target (0..1] of the unlimited token hit ratio.  When the trace has no
 * prefix reuse at all, found = 0.
 */
void pce_simulate_advise(const struct pce_simulate_result *res, double target,
			 struct pce_simulate_advice *out);

void pce_simulate_free(struct pce_simulate_result *res);

#endif /* PCE_TOOLS_SIMULATE_H */
