/*
 * analyze.h - the pass behind `pce analyze`: replay a trace once, in
 * arrival order, through an unlimited libpce cache (lookup, then store, per
 * request), and measure how much of it is a shared prefix.
 *
 * Batch dedup: requests are also cut into consecutive batches of `batch`
 * requests (as an engine would schedule them together), and before a batch
 * is replayed pce_dedup_analyze() splits its ids into those already cached
 * (by earlier batches), those shared with an earlier request of the same
 * batch, and new ones.  Counted over the batches that start inside the
 * window, in cache units (ids).
 */
#ifndef PCE_TOOLS_ANALYZE_H
#define PCE_TOOLS_ANALYZE_H

#include <stdint.h>

#include <pce/pce.h>

#include "reqlog.h"
#include "trace.h"

struct pce_analyze_opts {
	double warmup_fraction;   /* [0, 1): the first requests only warm the cache */
	size_t batch;             /* requests per dedup batch; 0: no batch analysis */
	/* Called every few thousand requests; may be NULL. */
	void (*progress)(void *ctx, double fraction);
	void *ctx;
};

struct pce_analyze_dedup {
	uint64_t batches;
	uint64_t ids;            /* all ids of those batches */
	uint64_t cached_ids;     /* matched in the cache before the batch */
	uint64_t shared_ids;     /* beyond that, shared with an earlier request of the batch */
	uint64_t unique_ids;
};

struct pce_analyze_result {
	struct pce_reqlog *log;       /* every request; owned, see pce_analyze_free() */
	uint64_t requests;
	uint64_t window_start;        /* first counted request */
	struct pce_replay_counts window;
	struct pce_analyze_dedup dedup;
	struct pce_stats cache;       /* the unlimited cache at the end */
	char error[256];              /* a libpce failure, when the return says so */
};

/*
 * pce_analyze_run - Replay @tr from its current position to its end.
 * Return: 0; a PCE_TRACE_* error of the trace (see pce_trace_error()); or
 * PCE_TRACE_ECACHE / PCE_TRACE_ENOMEM with res->error set.
 */
int pce_analyze_run(struct pce_trace *tr, const struct pce_analyze_opts *o,
		    struct pce_analyze_result *res);

void pce_analyze_free(struct pce_analyze_result *res);

#endif /* PCE_TOOLS_ANALYZE_H */
