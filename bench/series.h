/*
 * series.h - one configuration run on every contender (the indexes, and
 * the memcmp control where it applies), s->p->reps times, interleaved
 * repetition by repetition, and the summaries the tables and JSON lines
 * are made of.
 */
#ifndef BENCH_SERIES_H
#define BENCH_SERIES_H

#include "bench.h"

struct series {
	double v[CONTENDERS][MAX_REPS]; /* the headline metric */
	double w[CONTENDERS][MAX_REPS]; /* writes per second beside it */
	struct run_result last[CONTENDERS];
	unsigned reps;
	int errors;
};

struct summary {
	double med, min, max;
	double ratio; /* median over repetitions of v[k] / v[libpce] */
	double w_med;
};

enum metric { LOOKUPS, ALL_OPS };

/* Run @base (its ops, ix, wl, ws and memcmp_ctl are filled in per
 * contender) on @set; with @with_memcmp the memcmp control runs too. */
void run_series(struct suite *s, struct wl_set *set, const struct run_cfg *base,
		enum metric metric, int with_memcmp, struct series *out);

struct summary summarize(const struct series *s, int k);

/* Starts a JSON line with the fields every throughput line has; the
 * caller adds its own and calls jl_end(). */
void jl_series(struct suite *s, const char *exp, const char *wl, int k,
	       const struct summary *m, const char *metric);

/* "548k (0.91x)": a rate and its ratio to libpce. */
const char *fmt_cell(char *buf, size_t len, const struct summary *m);

#endif /* BENCH_SERIES_H */
