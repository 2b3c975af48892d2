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

#include "analyze.h"
#include "simulate.h"

#define PROGRESS_EVERY 1024
/* Caches of the default sweep (about 11 capacities x 2 policies), to weigh
 * pass 1 in the progress before the sweep is known. */
#define DEFAULT_POINTS 22
#define REFINE_STEPS 4

static int fail(struct pce_simulate_result *res, int rc, const char *what)
{
	return pce_replay_fail(res->error, sizeof(res->error), rc, what);
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

/* Pass 1 reports its progress as a share of all the work. */
struct weighted {
	const struct pce_simulate_opts *o;
	double weight;
};

static void weighted_progress(void *ctx, double fraction)
{
	const struct weighted *w = ctx;

	w->o->progress(w->o->ctx, w->weight * fraction);
}

int pce_simulate_ceiling(struct pce_trace *tr, const struct pce_simulate_opts *o,
			 struct pce_simulate_result *res, double weight)
{
	struct weighted w = {o, weight};
	struct pce_analyze_opts ao = {.warmup_fraction = o->warmup_fraction,
				      .progress = o->progress ? weighted_progress : NULL,
				      .ctx = &w};
	struct pce_analyze_result a;
	int rc = pce_analyze_run(tr, &ao, &a);

	if (rc) {
		snprintf(res->error, sizeof(res->error), "%s", a.error); /* "": the trace's */
	} else {
		res->requests = a.requests;
		res->window_start = a.window_start;
		res->unlimited = a.window;
		res->footprint = a.cache.tokens;
	}
	pce_analyze_free(&a);
	return rc;
}

/* The points of @n_caps capacities, each with every policy in the
 * options' order: the layout of pce_simulate_result.points. */
static void grid(struct pce_simulate_point *pt, const uint64_t *caps, size_t n_caps,
		 const struct pce_simulate_opts *o)
{
	for (size_t c = 0; c < n_caps; c++) {
		for (size_t p = 0; p < o->n_policies; p++) {
			pt[c * o->n_policies + p].capacity = caps[c];
			pt[c * o->n_policies + p].policy = o->policies[p];
		}
	}
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
		rc = pce_replay_init(&rp[i], pt[i].capacity, pt[i].policy, NULL, NULL);
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
	grid(pt, caps, n_caps, o);
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
	rc = pce_simulate_ceiling(tr, o, res, w1);
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
	grid(res->points, caps, n_caps, o);
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
