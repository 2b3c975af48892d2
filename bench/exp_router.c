/*
 * exp_router.c - the router index (pce/router.h) against its baselines
 * (route.h) on the real traces, Dynamo-style: the trace replayed over W
 * workers with spread placement.
 *
 * Event streams (route_stream.h): per request a match of the whole prompt
 * (top ROUTER_K here), the routed worker's add of the blocks it lacked,
 * and the removes of what its modelled cache (WORKER_CAPACITY blocks)
 * evicted.  The streams are built before anything is timed and every
 * index replays the same ones.
 *
 *   replay   one thread applies a stream in order, each call timed (TSC):
 *            requests/s and block events/s as the sums of the call times
 *            give them, p50/p99/p99.9 of match and add; the busy-loop
 *            control (exp_latency.c) replays the router's match times.
 *            pce-cache-ns matches only every (W/16)-th request (W lookups
 *            each; its adds and removes all run): its requests/s counts
 *            its mean match time once per request.
 *   sweep    at the largest W, open loop: one reader thread matches request
 *            i at t0 + i/rate, one writer thread applies its events at the
 *            same instant; latency counts from the scheduled instant.  The
 *            index first receives the events of the requests before the
 *            measured window, untimed.  Rates rise until p99 exceeds 1 ms or
 *            the reader falls behind.
 *   match    at W = 256, the index built from the whole stream, prompts cut
 *            to 1K tokens: matches/s per reader thread, 1 and 2 threads.
 *   memory   after each replay: index bytes per (owner, cached block), and
 *            the bytes that record owners (libpce: beyond the token trie).
 *   skew     the W = 256 stream's adds and removes (and, at its end, the
 *            removal of every holding, so that it can repeat) applied by 1
 *            and 2 threads, each owning the workers w mod threads; every
 *            add starts with the trace's shared first block, so all land in
 *            one shard: block events/s and per CPU second.
 *   budget   libpce's router alone: a burst of unique 1K-token prompts into
 *            an index budget; the largest index_bytes seen after each add.
 *
 * Every timed run that allocates follows an untimed one into an index
 * destroyed before it, on the same thread (as exp_trace.c's replay).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pce/router.h>

#include "machine.h"
#include "rng.h"
#include "route.h"
#include "route_stream.h"
#include "series.h"
#include "timing.h"

#define ROUTER_K 8            /* owners a gateway asks for */
#define MATCH_TOKENS 1024     /* prompt length of the match throughput run */
#define SKEW_W 256
#define SWEEP_P99_NS 1e6
#define BUDGET_BYTES (16u << 20)

static const uint32_t worker_counts[] = {16, 256, 1000, 7000};
#define NW (sizeof(worker_counts) / sizeof(worker_counts[0]))

const struct route_ops *const route_all[ROUTE_COUNT] = {&route_pce_ops, &route_pcens_ops,
							 &route_dynamo_ops};

/* ---- replay ---------------------------------------------------------------- */

struct replay_job {
	const struct route_ops *ops;
	const struct rtrace *t;
	const struct rstream *st;
	unsigned match_stride;
	uint32_t *best;         /* NULL, or per request: blocks of the best holding
	                         * (UINT32_MAX: not matched) */
	struct hist h[3];       /* by op kind */
	uint64_t matched_blocks;
	struct route_usage u;
	int errors, failed;
};

static void replay_fn(void *arg)
{
	struct replay_job *j = arg;
	const struct rstream *st = j->st;
	struct route_index *ix;
	struct route_hit hits[ROUTER_K];

	/* Untimed: the events alone, into an index destroyed at once. */
	if (j->ops->create(st->workers, ROUTER_BLOCK, &ix) != 0) {
		j->failed = 1;
		return;
	}
	rstream_apply_events(j->ops, ix, j->t, st, 0, st->n);
	j->ops->destroy(ix);
	if (j->ops->create(st->workers, ROUTER_BLOCK, &ix) != 0) {
		j->failed = 1;
		return;
	}
	for (int k = 0; k < 3; k++)
		hist_reset(&j->h[k]);
	j->matched_blocks = 0;
	j->errors = 0;
	for (size_t i = 0; i < st->n; i++) {
		const struct rop *op = &st->op[i];
		uint64_t t0;

		if (op->kind == OP_MATCH) {
			size_t n;

			if (op->req % j->match_stride)
				continue;
			t0 = ticks();
			n = j->ops->match(ix, &j->t->q[op->req], op->to, hits, ROUTER_K);
			hist_record(&j->h[OP_MATCH], ticks() - t0);
			j->matched_blocks += n ? hits[0].blocks : 0;
			if (j->best)
				j->best[op->req] = n ? hits[0].blocks : 0;
			continue;
		}
		t0 = ticks();
		j->errors += rstream_apply(j->ops, ix, j->t, op) != 0;
		hist_record(&j->h[op->kind], ticks() - t0);
	}
	j->ops->usage(ix, &j->u);
	j->ops->destroy(ix);
}

static double mean_ns(const struct hist *h)
{
	return h->count ? ticks_to_ns(h->sum) / (double)h->count : NAN;
}

/* The figures of one replay, per contender, over the repetitions. */
struct replay_fig {
	struct series rps, ops, m50, m99, m999, a50, a99, a999, mean;
	struct hist match_last; /* libpce's last match histogram, for the control */
	double bytes_per_hold[ROUTE_COUNT], owner_per_hold[ROUTE_COUNT];
	double depth[ROUTE_COUNT];  /* mean blocks of the best holding per match */
	uint64_t bytes[ROUTE_COUNT];
	int errors;
};

static unsigned stride_for(int k, uint32_t workers)
{
	return route_all[k] == &route_pcens_ops && workers > 16 ? workers / 16 : 1;
}

/* The contenders must agree on the best holding of every request they all
 * matched (@best: per contender, per request).  Returns the disagreements. */
static size_t cross_check(struct suite *s, const struct rtrace *t, const struct rstream *st,
			  uint32_t *const *best)
{
	size_t bad = 0, checked = 0;

	for (size_t i = 0; i < t->e.n; i++) {
		int all = 1;

		for (int k = 0; k < ROUTE_COUNT; k++)
			all &= best[k][i] != UINT32_MAX;
		if (!all)
			continue;
		checked++;
		for (int k = 1; k < ROUTE_COUNT; k++)
			bad += best[k][i] != best[0][i];
	}
	jl_begin(&s->jl, "router_cross_check");
	jl_str(&s->jl, "trace", t->name);
	jl_int(&s->jl, "workers", st->workers);
	jl_int(&s->jl, "matches", checked);
	jl_int(&s->jl, "disagreements", bad);
	jl_end(&s->jl);
	if (bad)
		fprintf(stderr, "pce_bench: %s, W = %u: the router indexes disagree on %zu of %zu "
			"matches\n", t->name, st->workers, bad, checked);
	return bad;
}

static void replay_series(struct suite *s, const struct rtrace *t, const struct rstream *st,
			  struct replay_fig *f)
{
	struct replay_job *j = malloc(sizeof(*j));
	uint32_t *best[ROUTE_COUNT] = {NULL};
	struct series *all[] = {&f->rps, &f->ops, &f->m50, &f->m99, &f->m999,
				&f->a50, &f->a99, &f->a999, &f->mean};

	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		all[i]->reps = s->p->reps;
	if (!j) {
		f->errors++;
		return;
	}
	for (unsigned rep = 0; rep < s->p->reps; rep++) {
		for (int k = 0; k < ROUTE_COUNT; k++) {
			double ev_ns, match_ns, blocks = (double)(st->add_blocks + st->remove_blocks);

			memset(j, 0, sizeof(*j));
			j->ops = route_all[k];
			j->t = t;
			j->st = st;
			j->match_stride = stride_for(k, st->workers);
			if (rep == 0 && (best[k] = malloc(t->e.n * sizeof(uint32_t))))
				memset(best[k], 0xff, t->e.n * sizeof(uint32_t));
			j->best = rep == 0 ? best[k] : NULL;
			if (run_on_thread(replay_fn, j) != 0 || j->failed) {
				f->errors++;
				continue;
			}
			f->errors += j->errors;
			ev_ns = ticks_to_ns(j->h[OP_ADD].sum + j->h[OP_REMOVE].sum);
			match_ns = mean_ns(&j->h[OP_MATCH]) * (double)t->e.n;
			f->rps.v[k][rep] = (double)t->e.n / ((ev_ns + match_ns) / 1e9);
			f->ops.v[k][rep] = ev_ns > 0 ? blocks / (ev_ns / 1e9) : NAN;
			f->m50.v[k][rep] = hist_quantile_ns(&j->h[OP_MATCH], 0.5);
			f->m99.v[k][rep] = hist_quantile_ns(&j->h[OP_MATCH], 0.99);
			f->m999.v[k][rep] = hist_quantile_ns(&j->h[OP_MATCH], 0.999);
			f->a50.v[k][rep] = hist_quantile_ns(&j->h[OP_ADD], 0.5);
			f->a99.v[k][rep] = hist_quantile_ns(&j->h[OP_ADD], 0.99);
			f->a999.v[k][rep] = hist_quantile_ns(&j->h[OP_ADD], 0.999);
			f->mean.v[k][rep] = mean_ns(&j->h[OP_MATCH]);
			f->bytes[k] = j->u.bytes;
			f->depth[k] = j->h[OP_MATCH].count
					      ? (double)j->matched_blocks / (double)j->h[OP_MATCH].count
					      : NAN;
			f->bytes_per_hold[k] = st->holdings ? (double)j->u.bytes / (double)st->holdings : NAN;
			f->owner_per_hold[k] =
				st->holdings ? (double)j->u.owner_bytes / (double)st->holdings : NAN;
			if (k == 0)
				f->match_last = j->h[OP_MATCH];
		}
		if (rep == 0) {
			int have = 1;

			for (int k = 0; k < ROUTE_COUNT; k++)
				have &= best[k] != NULL;
			if (have)
				f->errors += cross_check(s, t, st, best) != 0;
		}
	}
	for (int k = 0; k < ROUTE_COUNT; k++)
		free(best[k]);
	free(j);
}

/* "1.23 / 4.56 / 7.89": three latencies in microseconds. */
static const char *fmt_us3(char *buf, size_t len, double a, double b, double c)
{
	snprintf(buf, len, "%.2f / %.2f / %.2f", a / 1e3, b / 1e3, c / 1e3);
	return buf;
}

/* ---- open-loop sweep ------------------------------------------------------- */

struct sweep_run {
	const struct route_ops *ops;
	struct route_index *ix;
	const struct rtrace *t;
	const struct rstream *st;
	size_t lo, hi;             /* the measured requests */
	double period_ns;
	uint64_t t0;
	unsigned cpus;
	pthread_barrier_t gate;
	struct hist h;             /* from the scheduled instant */
	struct hist service;       /* from the call */
	uint64_t reader_end;
	int errors;
};

/* Sleep to 50 us before @when, then spin: a thread that spins all the
 * time loses its CPU on a shared machine for whole time slices, and a
 * sleep alone wakes late by more than the latencies measured. */
static void wait_until(uint64_t when)
{
	uint64_t now;

	while ((now = now_ns()) < when)
		if (when - now > 100000)
			sleep_ns(when - now - 50000);
}

static void *sweep_reader(void *arg)
{
	struct sweep_run *r = arg;
	struct route_hit hits[ROUTER_K];
	double tpn = timing_ticks_per_ns();

	runner_pin_self(0, r->cpus);
	pthread_barrier_wait(&r->gate);
	for (size_t i = r->lo; i < r->hi; i++) {
		uint64_t when = r->t0 + (uint64_t)((double)(i - r->lo) * r->period_ns), end, t0;
		const struct rop *op = &r->st->op[r->st->first[i]];

		wait_until(when);
		t0 = ticks();
		r->ops->match(r->ix, &r->t->q[op->req], op->to, hits, ROUTER_K);
		hist_record(&r->service, ticks() - t0);
		end = now_ns();
		hist_record(&r->h, (uint64_t)((double)(end - when) * tpn));
	}
	r->reader_end = now_ns();
	return NULL;
}

static void *sweep_writer(void *arg)
{
	struct sweep_run *r = arg;

	runner_pin_self(1, r->cpus);
	pthread_barrier_wait(&r->gate);
	for (size_t i = r->lo; i < r->hi; i++) {
		wait_until(r->t0 + (uint64_t)((double)(i - r->lo) * r->period_ns));
		r->errors += rstream_apply_events(r->ops, r->ix, r->t, r->st, r->st->first[i] + 1,
						  r->st->first[i + 1]);
	}
	return NULL;
}

static void preload_fn(void *arg)
{
	struct sweep_run *r = arg;

	r->errors += rstream_apply_events(r->ops, r->ix, r->t, r->st, 0, r->st->first[r->lo]);
}

/* One rate: p99 in ns from the scheduled instant and of the call alone,
 * achieved requests/s.  Return: 0 or -1. */
static int sweep_one(struct suite *s, const struct route_ops *ops, const struct rtrace *t,
		     const struct rstream *st, double rate, double *p99, double *p99_call,
		     double *achieved)
{
	struct sweep_run *r = calloc(1, sizeof(*r));
	size_t window = (size_t)(rate * (double)s->p->latency_ns / 1e9);
	pthread_t rd, wr;
	int rc = -1;

	if (!r)
		return -1;
	if (window > t->e.n / 2)
		window = t->e.n / 2;
	if (window < 100)
		window = t->e.n < 100 ? t->e.n : 100;
	*r = (struct sweep_run){.ops = ops, .t = t, .st = st, .lo = t->e.n - window, .hi = t->e.n,
				.period_ns = 1e9 / rate, .cpus = s->cpus};
	if (ops->create(st->workers, ROUTER_BLOCK, &r->ix) != 0) {
		free(r);
		return -1;
	}
	hist_reset(&r->h);
	hist_reset(&r->service);
	if (run_on_thread(preload_fn, r) != 0)
		goto out;
	pthread_barrier_init(&r->gate, NULL, 3);
	r->t0 = now_ns() + 20000000; /* both threads are waiting by then */
	if (pthread_create(&rd, NULL, sweep_reader, r) != 0)
		goto out_gate;
	if (pthread_create(&wr, NULL, sweep_writer, r) != 0) {
		pthread_barrier_wait(&r->gate);
		pthread_join(rd, NULL);
		goto out_gate;
	}
	pthread_barrier_wait(&r->gate);
	pthread_join(rd, NULL);
	pthread_join(wr, NULL);
	*p99 = hist_quantile_ns(&r->h, 0.99);
	*p99_call = hist_quantile_ns(&r->service, 0.99);
	*achieved = (double)window / ((double)(r->reader_end - r->t0) / 1e9);
	rc = r->errors ? -1 : 0;
out_gate:
	pthread_barrier_destroy(&r->gate);
out:
	ops->destroy(r->ix);
	free(r);
	return rc;
}

static void sweep(struct suite *s, const struct rtrace *t, const struct rstream *st,
		  struct table *tab)
{
	static const double steps[] = {1, 2, 5};

	for (int k = 0; k < ROUTE_COUNT; k++) {
		double best = 0, best_p99 = NAN, best_call = NAN, rate = 0, p99 = 0, call = 0, got = 0;

		for (unsigned i = 0; i < 24; i++) {
			rate = 1000 * steps[i % 3] * pow(10, i / 3);
			if (sweep_one(s, route_all[k], t, st, rate, &p99, &call, &got) != 0)
				break;
			jl_begin(&s->jl, "router_sweep");
			jl_str(&s->jl, "trace", t->name);
			jl_str(&s->jl, "index", route_all[k]->name);
			jl_int(&s->jl, "workers", st->workers);
			jl_num(&s->jl, "offered_per_s", rate);
			jl_num(&s->jl, "achieved_per_s", got);
			jl_num(&s->jl, "match_p99_ns", p99);
			jl_num(&s->jl, "match_call_p99_ns", call);
			jl_int(&s->jl, "reader_threads", 1);
			jl_int(&s->jl, "writer_threads", 1);
			jl_end(&s->jl);
			if (p99 >= SWEEP_P99_NS || got < 0.95 * rate)
				break;
			best = rate;
			best_p99 = p99;
			best_call = call;
		}
		{
			char a[16], b[16], c[16];

			table_row(tab, "%s|%u|%s|%s|%.1f / %.1f|%s/s: p99 %.0f us (call %.1f us), %s/s "
				  "achieved", t->name, st->workers, route_all[k]->name,
				  best > 0 ? fmt_si(a, sizeof(a), best) : "below 1k", best_p99 / 1e3,
				  best_call / 1e3, fmt_si(b, sizeof(b), rate), p99 / 1e3, call / 1e3,
				  fmt_si(c, sizeof(c), got));
		}
	}
}

/* ---- match throughput ------------------------------------------------------ */

struct mt_run {
	const struct route_ops *ops;
	struct route_index *ix;
	const struct rtrace *t;
	unsigned threads, cpus;
	uint32_t max_blocks;       /* prompts cut to this many blocks */
	uint64_t duration_ns;
	pthread_barrier_t gate;
	double rate[2];            /* per thread */
};

/* What a thread of a run is started with: the run, and its slot. */
struct thread_arg {
	void *run;
	unsigned id;
};

static void *mt_main(void *arg)
{
	struct thread_arg *a = arg;
	struct mt_run *r = a->run;
	struct route_hit hits[ROUTER_K];
	uint64_t n = 0, t0, end;
	size_t i = a->id;

	runner_pin_self(a->id, r->cpus);
	pthread_barrier_wait(&r->gate);
	t0 = now_ns();
	end = t0 + r->duration_ns;
	do {
		for (int b = 0; b < 64; b++, n++, i = (i + r->threads) % r->t->e.n) {
			const struct route_seq *q = &r->t->q[i];
			uint32_t nb = q->nblocks < r->max_blocks ? q->nblocks : r->max_blocks;
			r->ops->match(r->ix, q, nb, hits, ROUTER_K);
		}
	} while (now_ns() < end);
	r->rate[a->id] = (double)n / ((double)(now_ns() - t0) / 1e9);
	return NULL;
}

/* Matches/s per thread, averaged over @threads threads.  Return: NAN on failure. */
static double mt_one(struct suite *s, struct mt_run *r, unsigned threads)
{
	pthread_t tid[2];
	struct thread_arg a[2];
	unsigned started = 0;

	r->threads = threads;
	pthread_barrier_init(&r->gate, NULL, threads);
	for (unsigned i = 0; i < threads; i++) {
		a[i] = (struct thread_arg){r, i};
		if (pthread_create(&tid[i], NULL, mt_main, &a[i]) != 0)
			break;
		started++;
	}
	(void)s;
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&r->gate);
	if (started < threads)
		return NAN;
	return threads == 1 ? r->rate[0] : (r->rate[0] + r->rate[1]) / 2;
}

struct build_job {
	const struct route_ops *ops;
	struct route_index *ix;
	const struct rtrace *t;
	const struct rstream *st;
	int errors;
};

static void build_fn(void *arg)
{
	struct build_job *b = arg;

	b->errors = rstream_apply_events(b->ops, b->ix, b->t, b->st, 0, b->st->n);
}

/* Matches/s per reader thread on the index @st builds, prompts cut to
 * @max_blocks, with 1 thread into @one and, if @two, 2 threads. */
static void match_throughput(struct suite *s, const struct rtrace *t, const struct rstream *st,
			     uint32_t max_blocks, struct series *one, struct series *two)
{
	struct route_index *ix[ROUTE_COUNT] = {NULL};

	memset(one, 0, sizeof(*one));
	one->reps = s->p->reps;
	if (two) {
		memset(two, 0, sizeof(*two));
		two->reps = s->p->reps;
	}
	for (int k = 0; k < ROUTE_COUNT; k++) {
		struct build_job b = {route_all[k], NULL, t, st, 0};

		if (route_all[k]->create(st->workers, ROUTER_BLOCK, &ix[k]) != 0)
			continue;
		b.ix = ix[k];
		if (run_on_thread(build_fn, &b) != 0 || b.errors)
			one->errors++;
	}
	for (unsigned rep = 0; rep < s->p->reps; rep++)
		for (int k = 0; k < ROUTE_COUNT; k++) {
			struct mt_run r = {.ops = route_all[k], .ix = ix[k], .t = t,
					   .cpus = s->cpus, .max_blocks = max_blocks,
					   .duration_ns = s->p->run_ns};
			if (!ix[k])
				continue;
			one->v[k][rep] = mt_one(s, &r, 1);
			if (two)
				two->v[k][rep] = s->cpus > 1 ? mt_one(s, &r, 2) : NAN;
		}
	for (int k = 0; k < ROUTE_COUNT; k++)
		if (ix[k])
			route_all[k]->destroy(ix[k]);
}

/* ---- writer skew ----------------------------------------------------------- */

struct skew_run {
	const struct route_ops *ops;
	struct route_index *ix;
	const struct rtrace *t;
	const struct rstream *st;
	unsigned threads, cpus;
	uint64_t duration_ns;
	pthread_barrier_t gate;
	uint64_t blocks[2], wall_ns[2], cpu_ns[2];
	int errors[2];
};

static void *skew_main(void *arg)
{
	struct thread_arg *a = arg;
	struct skew_run *r = a->run;
	const struct rstream *st = r->st;
	uint64_t t0, c0, blocks = 0;
	int errors = 0;

	runner_pin_self(a->id, r->cpus);
	pthread_barrier_wait(&r->gate);
	t0 = now_ns();
	c0 = runner_thread_cpu_ns();
	do {
		for (size_t i = 0; i < st->n; i++) {
			const struct rop *op = &st->op[i];
			if (op->kind == OP_MATCH || op->owner % r->threads != a->id)
				continue;
			errors += rstream_apply(r->ops, r->ix, r->t, op) != 0;
			blocks += op->to - op->from;
		}
	} while (now_ns() - t0 < r->duration_ns);
	r->wall_ns[a->id] = now_ns() - t0;
	r->cpu_ns[a->id] = runner_thread_cpu_ns() - c0;
	r->blocks[a->id] = blocks;
	r->errors[a->id] = errors;
	return NULL;
}

/* Block events/s, and per CPU second, with @threads threads on a fresh
 * index.  Return: 0 or -1. */
static int skew_one(struct suite *s, const struct route_ops *ops, const struct rtrace *t,
		    const struct rstream *st, unsigned threads, double *rate, double *per_cpu)
{
	struct skew_run r = {.ops = ops, .t = t, .st = st, .threads = threads, .cpus = s->cpus,
			     .duration_ns = s->p->run_ns};
	pthread_t tid[2];
	struct thread_arg a[2];
	unsigned started = 0;
	uint64_t blocks = 0, wall = 0, cpu = 0;

	if (ops->create(st->workers, ROUTER_BLOCK, &r.ix) != 0)
		return -1;
	pthread_barrier_init(&r.gate, NULL, threads);
	for (unsigned i = 0; i < threads; i++) {
		a[i] = (struct thread_arg){&r, i};
		if (pthread_create(&tid[i], NULL, skew_main, &a[i]) != 0)
			break;
		started++;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&r.gate);
	ops->destroy(r.ix);
	if (started < threads)
		return -1;
	for (unsigned i = 0; i < threads; i++) {
		blocks += r.blocks[i];
		wall = r.wall_ns[i] > wall ? r.wall_ns[i] : wall;
		cpu += r.cpu_ns[i];
		if (r.errors[i])
			return -1;
	}
	*rate = (double)blocks / ((double)wall / 1e9);
	*per_cpu = (double)blocks / ((double)cpu / 1e9);
	return 0;
}

/* ---- budget ---------------------------------------------------------------- */

struct budget_job {
	uint64_t budget, max_bytes, adds, refused;
	int failed;
};

static void budget_fn(void *arg)
{
	struct budget_job *j = arg;
	struct pce_router_config cfg;
	struct pce_router *r;
	struct pce_router_stats st;
	uint32_t tok[MATCH_TOKENS];
	struct rng g;
	/* Enough unique prompts for four budgets' worth of token trie. */
	uint64_t n = 4 * j->budget / (MATCH_TOKENS * sizeof(uint32_t));

	pce_router_config_init(&cfg);
	cfg.block_size = ROUTER_BLOCK;
	cfg.index_budget = j->budget;
	if (pce_router_create(&cfg, &r) != 0) {
		j->failed = 1;
		return;
	}
	rng_seed(&g, 20261206);
	for (uint64_t i = 0; i < n; i++) {
		int rc;

		for (size_t k = 0; k < MATCH_TOKENS; k++)
			tok[k] = (uint32_t)rng_below(&g, WL_VOCAB);
		rc = pce_router_add(r, (uint32_t)(i % SKEW_W), 0, tok, MATCH_TOKENS, PCE_TIER_GPU,
				    NULL, NULL);
		j->adds += rc == 0;
		j->refused += rc == PCE_ENOSPC;
		if (pce_router_stats_get(r, &st) == 0 && st.index_bytes > j->max_bytes)
			j->max_bytes = st.index_bytes;
	}
	pce_router_destroy(r);
}

/* ---- the experiment -------------------------------------------------------- */

struct goals {
	double p99_7000, ratio_b_7000, flat, mt1, ratio_a_256, events_per_core, owner_bytes;
	double overshoot;
};

static void goal_line(struct suite *s, const char *goal, int ok, double v, const char *unit)
{
	char measured[64], si[16];

	if (fabs(v) >= 1000)
		snprintf(measured, sizeof(measured), "%s%s", fmt_si(si, sizeof(si), v), unit);
	else
		snprintf(measured, sizeof(measured), "%.3g%s", v, unit);
	report_goal(s->rep, goal, measured, isnan(v) ? "not measured" : ok ? "met" : "missed");
}

static void run_trace(struct suite *s, const struct rtrace *t, struct goals *g)
{
	struct table *tr, *tm, *tsw;
	struct rstream st;
	int first = strcmp(t->name, "mooncake") == 0;

	tr = report_table(s->rep, "Replay, 1 thread (match, then the routed worker's events)",
			  "trace|W|index|requests/s|block events/s|match us p50 / p99 / p99.9|"
			  "match p99 ratio|blocks matched, mean|add us p50 / p99 / p99.9");
	tm = report_table(s->rep, "Index memory after the replay",
			  "trace|W|index|(owner, block) holdings|index bytes|bytes per holding|"
			  "owner bytes per holding");
	for (size_t wi = 0; wi < NW; wi++) {
		uint32_t W = worker_counts[wi];
		struct replay_fig *f = malloc(sizeof(*f));

		if (!f || rstream_build(t, W, WORKER_CAPACITY, 0, &st) != 0) {
			free(f);
			rstream_free(&st);
			continue;
		}
		replay_series(s, t, &st, f);
		for (int k = 0; k < ROUTE_COUNT; k++) {
			struct summary rps = summarize(&f->rps, k), ops = summarize(&f->ops, k);
			struct summary m50 = summarize(&f->m50, k), m99 = summarize(&f->m99, k);
			struct summary m999 = summarize(&f->m999, k), a50 = summarize(&f->a50, k);
			struct summary a99 = summarize(&f->a99, k), a999 = summarize(&f->a999, k);
			struct summary mean = summarize(&f->mean, k);
			char c1[16], c2[16], l1[64], l2[64], bb[16], hh[16];

			table_row(tr, "%s|%u|%s|%s|%s|%s|%.2fx|%.1f|%s", t->name, W, route_all[k]->name,
				  fmt_si(c1, sizeof(c1), rps.med), fmt_si(c2, sizeof(c2), ops.med),
				  fmt_us3(l1, sizeof(l1), m50.med, m99.med, m999.med), m99.ratio,
				  f->depth[k],
				  fmt_us3(l2, sizeof(l2), a50.med, a99.med, a999.med));
			table_row(tm, "%s|%u|%s|%s|%s|%.1f|%.1f", t->name, W, route_all[k]->name,
				  fmt_si(hh, sizeof(hh), (double)st.holdings),
				  fmt_si(bb, sizeof(bb), (double)f->bytes[k]), f->bytes_per_hold[k],
				  f->owner_per_hold[k]);
			jl_begin(&s->jl, "router_replay");
			jl_str(&s->jl, "trace", t->name);
			jl_str(&s->jl, "index", route_all[k]->name);
			jl_int(&s->jl, "workers", W);
			jl_int(&s->jl, "requests", t->e.n);
			jl_int(&s->jl, "reader_threads", 1);
			jl_int(&s->jl, "writer_threads", 0);
			jl_int(&s->jl, "match_every", stride_for(k, W));
			jl_num(&s->jl, "requests_per_s", rps.med);
			jl_num(&s->jl, "block_events_per_s", ops.med);
			jl_num(&s->jl, "match_p50_ns", m50.med);
			jl_num(&s->jl, "match_p99_ns", m99.med);
			jl_num(&s->jl, "match_p999_ns", m999.med);
			jl_num(&s->jl, "match_mean_ns", mean.med);
			jl_num(&s->jl, "mean_matched_blocks", f->depth[k]);
			jl_num(&s->jl, "match_p99_ratio_to_router", m99.ratio);
			jl_num(&s->jl, "add_p50_ns", a50.med);
			jl_num(&s->jl, "add_p99_ns", a99.med);
			jl_num(&s->jl, "add_p999_ns", a999.med);
			jl_int(&s->jl, "holdings", st.holdings);
			jl_int(&s->jl, "index_bytes", f->bytes[k]);
			jl_num(&s->jl, "bytes_per_holding", f->bytes_per_hold[k]);
			jl_num(&s->jl, "owner_bytes_per_holding", f->owner_per_hold[k]);
			jl_int(&s->jl, "add_blocks", st.add_blocks);
			jl_int(&s->jl, "remove_blocks", st.remove_blocks);
			jl_int(&s->jl, "errors", (uint64_t)f->errors);
			jl_end(&s->jl);
			if (first && k == 0 && W == 7000) {
				g->p99_7000 = m99.med;
			}
			if (first && route_all[k] == &route_dynamo_ops && W == 7000)
				g->ratio_b_7000 = m99.ratio;
			if (first && k == 0 && (isnan(g->owner_bytes) || f->owner_per_hold[0] > g->owner_bytes))
				g->owner_bytes = f->owner_per_hold[0];
		}
		if (first && W == worker_counts[NW - 1]) {
			struct hist h;

			/* The machine's share of the tail: busy loops as long as
			 * the router's matches. */
			if (spin_control(s, &f->match_last, &h) == 0) {
				report_text(s->rep,
					    "Busy-loop control at W = %u: integer loops as long as "
					    "libpce-router's matches (its distribution below p99), "
					    "alone on a pinned CPU: p99 %.2f us, p99.9 %.2f us "
					    "(the router: p99 %.2f us, p99.9 %.2f us).",
					    W, hist_quantile_ns(&h, 0.99) / 1e3,
					    hist_quantile_ns(&h, 0.999) / 1e3,
					    hist_quantile_ns(&f->match_last, 0.99) / 1e3,
					    hist_quantile_ns(&f->match_last, 0.999) / 1e3);
				jl_begin(&s->jl, "router_busy_loop_control");
				jl_int(&s->jl, "workers", W);
				jl_num(&s->jl, "p99_ns", hist_quantile_ns(&h, 0.99));
				jl_num(&s->jl, "p999_ns", hist_quantile_ns(&h, 0.999));
				jl_end(&s->jl);
			}
		}
		if (first && W == worker_counts[NW - 1]) {
			tsw = report_table(s->rep,
					   "Rate sweep, open loop: 1 reader thread (matches), 1 writer "
					   "thread (events)",
					   "trace|W|index|highest rate with p99 match < 1 ms|p99 us there, "
					   "from schedule / call alone|first rate missed");
			sweep(s, t, &st, tsw);
			table_done(tsw);
		}
		if (first && W == SKEW_W) {
			struct series one, two;
			struct table *tt = report_table(
				s->rep, "Matches per second per reader thread, W = 256, prompts cut to 1K tokens",
				"trace|index|1 thread|2 threads, per thread");

			match_throughput(s, t, &st, MATCH_TOKENS / ROUTER_BLOCK, &one, &two);
			for (int k = 0; k < ROUTE_COUNT; k++) {
				struct summary a = summarize(&one, k), b = summarize(&two, k);
				char c1[48], c2[48];

				table_row(tt, "%s|%s|%s|%s", t->name, route_all[k]->name,
					  fmt_cell(c1, sizeof(c1), &a), fmt_cell(c2, sizeof(c2), &b));
				jl_begin(&s->jl, "router_match_throughput");
				jl_str(&s->jl, "trace", t->name);
				jl_str(&s->jl, "index", route_all[k]->name);
				jl_int(&s->jl, "workers", W);
				jl_num(&s->jl, "matches_per_s_per_thread_1", a.med);
				jl_num(&s->jl, "matches_per_s_per_thread_2", b.med);
				jl_num(&s->jl, "ratio_to_router_1", a.ratio);
				jl_end(&s->jl);
				if (k == 0)
					g->mt1 = a.med;
				if (route_all[k] == &route_pcens_ops)
					g->ratio_a_256 = 1 / a.ratio;
			}
			table_done(tt);
		}
		rstream_free(&st);
		free(f);
	}
	table_done(tr);
	table_done(tm);
}

/* Top-k match time against W with the index's content fixed: caches
 * without a limit, so that every prompt replayed is held by some worker
 * whatever W, and matches of whole prompts. */
static void flat(struct suite *s, const struct rtrace *t, struct goals *g)
{
	static const uint32_t ws[2] = {16, 7000};
	struct series ser[2];
	struct table *tf;

	for (int i = 0; i < 2; i++) {
		struct rstream st;

		if (rstream_build(t, ws[i], UINT64_MAX, 0, &st) == 0)
			match_throughput(s, t, &st, UINT32_MAX, &ser[i], NULL);
		else
			memset(&ser[i], 0, sizeof(ser[i]));
		rstream_free(&st);
	}
	tf = report_table(s->rep,
			  "Top-8 match time against W, every prompt held (no cache limit), whole "
			  "prompts, 1 thread",
			  "trace|index|ns per match, W = 16|ns per match, W = 7000|W = 7000 / W = 16");
	for (int k = 0; k < ROUTE_COUNT; k++) {
		double r[MAX_REPS], a[MAX_REPS], b[MAX_REPS];
		unsigned n = 0;

		for (unsigned rep = 0; rep < s->p->reps; rep++) {
			if (!(ser[0].v[k][rep] > 0) || !(ser[1].v[k][rep] > 0))
				continue;
			a[n] = 1e9 / ser[0].v[k][rep];
			b[n] = 1e9 / ser[1].v[k][rep];
			r[n] = b[n] / a[n];
			n++;
		}
		double ra = median(r, n), ma = median(a, n), mb = median(b, n);
		table_row(tf, "%s|%s|%.0f|%.0f|%.2fx", t->name, route_all[k]->name, ma, mb, ra);
		jl_begin(&s->jl, "router_flat");
		jl_str(&s->jl, "trace", t->name);
		jl_str(&s->jl, "index", route_all[k]->name);
		jl_num(&s->jl, "match_ns_w16", ma);
		jl_num(&s->jl, "match_ns_w7000", mb);
		jl_num(&s->jl, "ratio", ra);
		jl_end(&s->jl);
		if (k == 0)
			g->flat = ra;
	}
	table_done(tf);
}

static void skew(struct suite *s, const struct rtrace *t, struct goals *g)
{
	static const int contenders[] = {0, 2};
	struct rstream st;
	struct table *ts;

	if (rstream_build(t, SKEW_W, WORKER_CAPACITY, 1, &st) != 0) {
		rstream_free(&st);
		return;
	}
	ts = report_table(s->rep,
			  "Writer skew: the W = 256 stream's events, every add in one shard",
			  "index|event threads|block events/s|block events per CPU second");
	for (size_t c = 0; c < 2; c++) {
		int k = contenders[c];

		for (unsigned threads = 1; threads <= 2 && threads <= s->cpus; threads++) {
			double rate[MAX_REPS], per[MAX_REPS];
			unsigned ok = 0;
			char c1[16], c2[16];

			for (unsigned rep = 0; rep < s->p->reps; rep++)
				if (skew_one(s, route_all[k], t, &st, threads, &rate[ok], &per[ok]) == 0)
					ok++;
			double rm = median(rate, ok), pm = median(per, ok);
			table_row(ts, "%s|%u|%s|%s", route_all[k]->name, threads,
				  fmt_si(c1, sizeof(c1), rm), fmt_si(c2, sizeof(c2), pm));
			jl_begin(&s->jl, "router_writer_skew");
			jl_str(&s->jl, "trace", t->name);
			jl_str(&s->jl, "index", route_all[k]->name);
			jl_int(&s->jl, "threads", threads);
			jl_num(&s->jl, "block_events_per_s", rm);
			jl_num(&s->jl, "block_events_per_cpu_s", pm);
			jl_end(&s->jl);
			if (k == 0 && threads == 1)
				g->events_per_core = pm;
		}
	}
	table_done(ts);
	rstream_free(&st);
}

void exp_router(struct suite *s, const char *dir)
{
	struct goals g = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
	struct budget_job bj = {.budget = BUDGET_BYTES};
	struct rtrace t;
	int have_mooncake = 0;

	report_section(s->rep, "Router index",
		       "libpce's router index (pce/router.h) against pce-cache-ns (libpce's "
		       "pce_cache, one namespace per worker, W lookups per match) and "
		       "dynamo-radix (a plain C model of Dynamo's concurrent radix tree: "
		       "nodes keyed by block hashes, a pthread rwlock and a worker set per "
		       "node, a table per worker from sequence block hash to node).  Each "
		       "trace block id is expanded to 64 pseudo-tokens (equal ids, equal "
		       "tokens); request i goes to worker i mod W (spread placement), whose "
		       "cache (a FIFO of the prompts it served, 256 blocks) yields the "
		       "events: per request a top-8 match of the whole prompt, then the "
		       "worker's add of the blocks it lacked, then removes of what it "
		       "evicted.  Block hashes are computed before timing (engines send them "
		       "in their events); libpce compares tokens.  pce-cache-ns matches "
		       "every (W/16)-th request only; its requests/s count its mean match "
		       "once per request.  See bench/README.md, \"Router index\".");
	for (size_t i = 0; i < RTRACE_SOURCES; i++) {
		if (rtrace_sources[i].full_only && !s->p->claude_code)
			continue;
		if (rtrace_load_source(dir, &rtrace_sources[i], &t) != 0) {
			rtrace_free(&t);
			continue;
		}
		report_text(s->rep, "%s: %zu requests, %lu blocks of %d tokens.", t.name, t.e.n,
			    (unsigned long)t.blocks, ROUTER_BLOCK);
		run_trace(s, &t, &g);
		if (i == 0) {
			flat(s, &t, &g);
			skew(s, &t, &g);
			have_mooncake = 1;
		}
		rtrace_free(&t);
	}
	if (run_on_thread(budget_fn, &bj) == 0 && !bj.failed) {
		g.overshoot = ((double)bj.max_bytes / (double)bj.budget - 1) * 100;
		report_text(s->rep,
			    "Budget: %lu unique 1K-token prompts added from one thread into a "
			    "%lu MiB index budget (reclaimer in the background): largest "
			    "index_bytes after an add %.3f MiB (%+.2f%%), %lu adds refused "
			    "(PCE_ENOSPC).",
			    (unsigned long)(bj.adds + bj.refused), (unsigned long)(bj.budget >> 20),
			    (double)bj.max_bytes / 1048576.0, g.overshoot, (unsigned long)bj.refused);
		jl_begin(&s->jl, "router_budget");
		jl_int(&s->jl, "budget_bytes", bj.budget);
		jl_int(&s->jl, "max_index_bytes", bj.max_bytes);
		jl_num(&s->jl, "overshoot_pct", g.overshoot);
		jl_int(&s->jl, "adds", bj.adds);
		jl_int(&s->jl, "refused", bj.refused);
		jl_end(&s->jl);
	}
	if (!have_mooncake)
		return;
	goal_line(s, "router: top-8 match p99 <= 10 us at W = 7,000, spread placement",
		  g.p99_7000 <= 10000, g.p99_7000 / 1e3, " us");
	goal_line(s, "router: top-8 match p99 >= 5x lower than dynamo-radix at W = 7,000",
		  g.ratio_b_7000 >= 5, g.ratio_b_7000, "x");
	goal_line(s, "router: top-8 match time at W = 7,000 within 1.5x of W = 16",
		  g.flat <= 1.5, g.flat, "x");
	goal_line(s, "router: >= 1M matches/s per reader thread, W = 256, 1K-token prompts",
		  g.mt1 >= 1e6, g.mt1, " /s");
	goal_line(s, "router: >= 50x pce-cache-ns matches/s at W = 256", g.ratio_a_256 >= 50,
		  g.ratio_a_256, "x");
	goal_line(s, "router: >= 10M block events/s per core, all adds in one shard",
		  g.events_per_core >= 1e7, g.events_per_core, " /s");
	goal_line(s, "router: <= 16 index bytes per (owner, block) beyond the token trie",
		  g.owner_bytes <= 16, g.owner_bytes, " B");
	goal_line(s, "router: index budget overshoot <= 2% under a unique-prompt burst",
		  g.overshoot <= 2, g.overshoot, "%");
}
