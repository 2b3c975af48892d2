/*
 * simulate.c - the passes behind `pce simulate` (see simulate.h).
 *
 * Pass 2 drives every cache with the same request before reading the
 * next, so each cache sees exactly the stream an engine would, and the
 * input is decoded once for all of them.  The caches are independent and
 * single-threaded (replay.h), so the curve is the same on every run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reqlog.h"
#include "simulate.h"

#define PROGRESS_EVERY 1024
/* Caches of the default sweep (about 11 capacities x 2 policies), to weigh
 * pass 1 in the progress before the sweep is known. */
#define DEFAULT_POINTS 22
#define REFINE_STEPS 4

static int fail(struct pce_simulate_result *res, int rc, const char *what)
{
	snprintf(res->error, sizeof(res->error), "%s: %s", what, pce_strerror(rc));
	return rc == PCE_ENOMEM ? PCE_TRACE_ENOMEM : PCE_TRACE_ECACHE;
}

size_t pce_simulate_default_capacities(uint64_t footprint, uint64_t *out, size_t max)
{
	static const uint64_t mult[] = {1, 2, 5};
	uint64_t lo = footprint / 1000 ? footprint / 1000 : 1, decade = 1;
	size_t n = 0;
	int k = 0;

	/* Start at the largest 1-2-5 step <= lo. */
	while (mult[(k + 1) % 3] * (k == 2 ? decade * 10 : decade) <= lo) {
		decade = k == 2 ? decade * 10 : decade;
		k = (k + 1) % 3;
	}
	while (n < max) {
		out[n++] = mult[k] * decade;
		if (mult[k] * decade >= footprint)
			break;
		decade = k == 2 ? decade * 10 : decade;
		k = (k + 1) % 3;
	}
	return n;
}

/* Pass 1: the unlimited cache. */
static int ceiling(struct pce_trace *tr, const struct pce_simulate_opts *o,
		   struct pce_simulate_result *res, double weight)
{
	struct pce_reqlog *log;
	struct pce_replay rp;
	struct pce_trace_request r;
	struct pce_stats st;
	int rc = pce_reqlog_create(&log);

	if (rc)
		return fail(res, rc, "request log");
	rc = pce_replay_init(&rp, 0, PCE_POLICY_CLOCK_LRU);
	if (rc) {
		pce_reqlog_free(log);
		return fail(res, rc, "pce_cache_create");
	}
	while ((rc = pce_trace_next(tr, &r)) == PCE_TRACE_REQUEST) {
		struct pce_replay_hit hit;

		rc = pce_replay_request(&rp, &r, &hit);
		if (!rc)
			rc = pce_reqlog_add(log, &r, &hit);
		if (rc) {
			rc = fail(res, rc, "unlimited replay");
			break;
		}
		if (o->progress && r.index % PROGRESS_EVERY == 0)
			o->progress(o->ctx, weight * pce_trace_progress(tr));
	}
	if (!rc) {
		res->requests = pce_reqlog_requests(log);
		res->window_start = pce_replay_window_start(res->requests, o->warmup_fraction);
		pce_reqlog_totals(log, res->window_start, &res->unlimited);
		pce_cache_stats(rp.cache, &st);
		res->footprint = st.tokens;
	}
	pce_replay_destroy(&rp);
	pce_reqlog_free(log);
	return rc;
}

/* Pass 2: every (capacity, policy) cache, in lockstep. */
static int curve(struct pce_trace *tr, const struct pce_simulate_opts *o,
		 struct pce_simulate_result *res, struct pce_simulate_point *pt, size_t n,
		 double done, double weight)
{
	struct pce_replay *rp = calloc(n, sizeof(*rp));
	struct pce_trace_request r;
	int rc = 0;

	if (!rp)
		return fail(res, PCE_ENOMEM, "caches");
	for (size_t i = 0; i < n && !rc; i++) {
		rc = pce_replay_init(&rp[i], pt[i].capacity, pt[i].policy);
		if (rc)
			rc = fail(res, rc, "pce_cache_create");
	}
	if (!rc)
		rc = pce_trace_rewind(tr);
	while (!rc && (rc = pce_trace_next(tr, &r)) == PCE_TRACE_REQUEST) {
		rc = 0;
		for (size_t i = 0; i < n; i++) {
			struct pce_replay_hit hit;
			int err = pce_replay_request(&rp[i], &r, &hit);

			if (err) {
				rc = fail(res, err, "replay");
				break;
			}
			if (r.index >= res->window_start)
				pce_replay_count(&pt[i].window, &r, &hit);
		}
		if (o->progress && r.index % PROGRESS_EVERY == 0)
			o->progress(o->ctx, done + weight * pce_trace_progress(tr));
	}
	for (size_t i = 0; i < n; i++) {
		struct pce_stats st;

		if (!rp[i].cache)
			continue;
		if (!rc && pce_cache_stats(rp[i].cache, &st) == 0)
			pt[i].evictions = st.removed[PCE_REASON_CAPACITY];
		pt[i].refused = rp[i].refused;
		pce_replay_destroy(&rp[i]);
	}
	free(rp);
	return rc;
}

/* Capacity, then the policies' order in the options. */
static int by_capacity(const void *a, const void *b, void *opts)
{
	const struct pce_simulate_point *x = a, *y = b;
	const struct pce_simulate_opts *o = opts;
	size_t px = 0, py = 0;

	if (x->capacity != y->capacity)
		return x->capacity < y->capacity ? -1 : 1;
	while (px < o->n_policies && o->policies[px] != x->policy)
		px++;
	while (py < o->n_policies && o->policies[py] != y->policy)
		py++;
	return (px > py) - (px < py);
}

/* Pass 3 (default sweep only): REFINE_STEPS more capacities evenly between
 * the recommended one and the step below it, so that the recommendation is
 * not up to 2.5 times too large for want of a finer grid. */
static int refine(struct pce_trace *tr, const struct pce_simulate_opts *o,
		  struct pce_simulate_result *res, double done, double weight)
{
	struct pce_simulate_advice a;
	struct pce_simulate_point *pt, *all;
	uint64_t lo, hi, caps[REFINE_STEPS];
	size_t n_caps = 0, n, first;
	int rc;

	pce_simulate_advise(res, o->target, &a);
	/* the first point of the recommended capacity, and the one before */
	first = a.found ? (size_t)(a.best - res->points) / o->n_policies * o->n_policies : 0;
	if (first == 0)
		return 0;
	hi = a.best->capacity;
	lo = res->points[first - 1].capacity;
	for (int k = 1; k <= REFINE_STEPS; k++) {
		uint64_t c = lo + (hi - lo) * (uint64_t)k / (REFINE_STEPS + 1);

		if (c > lo && c < hi && (n_caps == 0 || c > caps[n_caps - 1]))
			caps[n_caps++] = c;
	}
	if (!n_caps)
		return 0;
	n = n_caps * o->n_policies;
	all = realloc(res->points, (res->n_points + n) * sizeof(*all));
	if (!all)
		return fail(res, PCE_ENOMEM, "curve");
	res->points = all;
	pt = all + res->n_points;
	memset(pt, 0, n * sizeof(*pt));
	for (size_t c = 0; c < n_caps; c++) {
		for (size_t p = 0; p < o->n_policies; p++) {
			pt[c * o->n_policies + p].capacity = caps[c];
			pt[c * o->n_policies + p].policy = o->policies[p];
		}
	}
	rc = curve(tr, o, res, pt, n, done, weight);
	if (rc)
		return rc;
	res->n_points += n;
	qsort_r(res->points, res->n_points, sizeof(*res->points), by_capacity, (void *)o);
	return 0;
}

int pce_simulate_run(struct pce_trace *tr, const struct pce_simulate_opts *o,
		     struct pce_simulate_result *res)
{
	uint64_t defaults[64];
	const uint64_t *caps = o->capacities;
	size_t n_caps = o->n_capacities;
	double w1;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!o->n_policies || (caps && !n_caps) ||
	    n_caps * o->n_policies > PCE_SIMULATE_MAX_POINTS) {
		snprintf(res->error, sizeof(res->error),
			 "give 1 to %d (capacity, policy) pairs", PCE_SIMULATE_MAX_POINTS);
		return PCE_TRACE_EINPUT;
	}
	/* Pass 1 decodes the input like each cache of pass 2 does; count it
	 * as one cache's share of the work. */
	w1 = 1.0 / (1.0 + (double)(caps ? n_caps * o->n_policies : DEFAULT_POINTS));
	rc = ceiling(tr, o, res, w1);
	if (rc)
		return rc;
	if (!caps) {
		n_caps = pce_simulate_default_capacities(res->footprint ? res->footprint : 1,
							 defaults, 64);
		caps = defaults;
	}
	res->n_points = n_caps * o->n_policies;
	res->points = calloc(res->n_points, sizeof(*res->points));
	if (!res->points)
		return fail(res, PCE_ENOMEM, "curve");
	for (size_t c = 0; c < n_caps; c++) {
		for (size_t p = 0; p < o->n_policies; p++) {
			res->points[c * o->n_policies + p].capacity = caps[c];
			res->points[c * o->n_policies + p].policy = o->policies[p];
		}
	}
	if (!o->capacities && o->target > 0) {
		/* Pass 3 refines the sweep; weigh it like a third of pass 2. */
		rc = curve(tr, o, res, res->points, res->n_points, w1, 0.75 * (1 - w1));
		return rc ? rc : refine(tr, o, res, w1 + 0.75 * (1 - w1), 0.25 * (1 - w1));
	}
	return curve(tr, o, res, res->points, res->n_points, w1, 1 - w1);
}

void pce_simulate_advise(const struct pce_simulate_result *res, double target,
			 struct pce_simulate_advice *out)
{
	double goal = target * pce_replay_token_ratio(&res->unlimited);

	memset(out, 0, sizeof(*out));
	out->target = target;
	if (res->unlimited.hit_tokens == 0)
		return;
	for (size_t i = 0; i < res->n_points;) {
		const struct pce_simulate_point *best = &res->points[i], *other = NULL;
		size_t j = i;

		/* points of one capacity are adjacent */
		for (; j < res->n_points && res->points[j].capacity == best->capacity; j++) {
			const struct pce_simulate_point *q = &res->points[j];

			if (pce_replay_token_ratio(&q->window) > pce_replay_token_ratio(&best->window))
				best = q;
		}
		for (size_t k = i; k < j; k++) {
			if (&res->points[k] != best)
				other = &res->points[k];
		}
		if (pce_replay_token_ratio(&best->window) >= goal) {
			out->found = 1;
			out->best = best;
			out->other = other;
			return;
		}
		i = j;
	}
}

void pce_simulate_free(struct pce_simulate_result *res)
{
	free(res->points);
	res->points = NULL;
	res->n_points = 0;
}
