/*
 * runner.c - threads, pinning, the start gate and the loops of runner.h.
 *
 * Start: every thread enters the index, pins itself, checks in at the gate
 * and waits; the main thread opens the gate once all have checked in, so no
 * thread starts its clock while another is still being created.
 *
 * Stop (timed runs): the main thread sleeps the run's duration, then sets
 * `stop` (release); threads poll it (acquire) every STOP_POLL operations,
 * so a run overshoots its duration by at most STOP_POLL operations per
 * thread, which each thread's own clock includes.
 */
#include "runner.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "timing.h"

#define STOP_POLL 16

/* Values of pool sequences: disjoint from the stored set's (its index). */
#define POOL_VALUE(p, i) ((1ULL << 63) | ((uint64_t)(p) << 40) | (uint64_t)(i))

struct thread_ctx;

struct gang {
	const struct run_cfg *cfg;
	void (*body)(struct thread_ctx *t);
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned ready;
	int go;
	int stop;
	/* run_load's warm-up: the index loaded first, and the barrier the
	 * threads meet at before and after thread 0 destroys it */
	struct bench_index *warm;
	pthread_barrier_t phase;
};

struct thread_ctx {
	struct gang *g;
	pthread_t tid;
	unsigned id;      /* pin slot and write pool; mixing threads first, then writers */
	int writer;
	uint64_t t0_ns;   /* when the thread's clock started (bodies may restart it) */
	uint64_t elapsed_ns;
	uint64_t cpu_ns;  /* CPU time the thread got while timed */
	uint64_t lookups, hits, matched, qtokens, writes, stored_tokens;
	int errors;
	struct hist *lat; /* [LAT_CLASSES], latency runs only */
};

unsigned runner_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	return (unsigned)CPU_COUNT(&set);
}

void runner_pin_self(unsigned slot, unsigned ncpus)
{
	cpu_set_t allowed, one;
	unsigned want = slot % ncpus, seen = 0;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return;
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &allowed))
			continue;
		if (seen++ == want) {
			CPU_SET(c, &one);
			pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
			return;
		}
	}
}

size_t lat_class_limit(unsigned c)
{
	return c + 1 < LAT_CLASSES ? (size_t)1024 << c : 0;
}

static unsigned lat_class(size_t len)
{
	unsigned c = 0;

	while (c + 1 < LAT_CLASSES && len > lat_class_limit(c))
		c++;
	return c;
}

/* One write by writer @p: see runner.h.  Returns 1 if a call failed. */
static int do_write(const struct run_cfg *cfg, unsigned p)
{
	const struct workload *wl = cfg->wl;
	size_t depth = wl->npool / 2, i = cfg->ws->next[p];
	const struct seq *s = &wl->pool[p][i % wl->npool];
	int failed = 0;

	if (cfg->write_mode == WRITE_RESTORE) {
		size_t j = (i + p * wl->nstored / WL_POOLS) % wl->nstored;
		s = &wl->stored[j];
		cfg->ws->next[p] = i + 1;
		return cfg->ops->store(cfg->ix, s->tok, s->len, j) < 0;
	}
	if (i >= depth) {
		const struct seq *old = &wl->pool[p][(i - depth) % wl->npool];
		failed = cfg->ops->remove(cfg->ix, old->tok, old->len) < 0;
	}
	if (cfg->ops->store(cfg->ix, s->tok, s->len, POOL_VALUE(p, i % wl->npool)) < 0)
		failed = 1;
	cfg->ws->next[p] = i + 1;
	return failed;
}

uint64_t runner_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int stopped(const struct thread_ctx *t)
{
	return __atomic_load_n(&t->g->stop, __ATOMIC_ACQUIRE);
}

static void mix_loop(struct thread_ctx *t)
{
	const struct run_cfg *cfg = t->g->cfg;
	const struct workload *wl = cfg->wl;
	const struct mirror *ctl = cfg->memcmp_ctl;
	size_t pos = (size_t)t->id * wl->nqueries / cfg->threads;
	struct rng r;

	rng_seed(&r, 0x5eed0000u + t->id);
	while (!stopped(t)) {
		for (int k = 0; k < STOP_POLL; k++) {
			const struct seq *q;
			uint64_t value = 0, t0 = 0;
			size_t m;

			if (cfg->write_permille && rng_below(&r, 1000) < cfg->write_permille) {
				t->errors += do_write(cfg, t->id);
				t->writes++;
				continue;
			}
			q = &wl->queries[pos];
			if (t->lat)
				t0 = ticks();
			if (ctl)
				m = mirror_memcmp(q->tok, ctl->tok[pos], ctl->bytes[pos]) == 0
					    ? ctl->bytes[pos] / sizeof(uint32_t)
					    : 0;
			else
				m = cfg->ops->lookup(cfg->ix, q->tok, q->len, &value);
			if (t->lat)
				hist_record(&t->lat[lat_class(q->len)], ticks() - t0);
			if (++pos == wl->nqueries)
				pos = 0;
			t->lookups++;
			t->qtokens += q->len;
			t->matched += m;
			t->hits += m > 0;
		}
	}
}

static void writer_loop(struct thread_ctx *t)
{
	const struct run_cfg *cfg = t->g->cfg;

	while (!stopped(t)) {
		for (int k = 0; k < STOP_POLL; k++)
			t->errors += do_write(cfg, t->id);
		t->writes += STOP_POLL;
	}
}

static void timed_body(struct thread_ctx *t)
{
	if (t->writer)
		writer_loop(t);
	else
		mix_loop(t);
}

void load_all(const struct index_ops *ops, struct bench_index *ix, void *arg)
{
	const struct workload *wl = arg;

	for (size_t i = 0; i < wl->nstored; i++)
		ops->store(ix, wl->stored[i].tok, wl->stored[i].len, i);
}

/* This thread's share of the stored set into @ix. */
static void load_share(struct thread_ctx *t, struct bench_index *ix)
{
	const struct run_cfg *cfg = t->g->cfg;
	const struct workload *wl = cfg->wl;

	for (size_t i = t->id; i < wl->nstored; i += cfg->threads) {
		const struct seq *s = &wl->stored[i];
		t->errors += cfg->ops->store(ix, s->tok, s->len, i) < 0;
		t->writes++;
		t->stored_tokens += s->len;
	}
}

/* The same threads load the warm-up index, destroy it and only then load
 * the timed index, from memory their allocator now holds. */
static void load_body(struct thread_ctx *t)
{
	struct gang *g = t->g;

	load_share(t, g->warm);
	pthread_barrier_wait(&g->phase);
	if (t->id == 0)
		g->cfg->ops->destroy(g->warm);
	pthread_barrier_wait(&g->phase);
	t->writes = t->stored_tokens = 0;
	t->t0_ns = now_ns();
	load_share(t, g->cfg->ix);
}

static void *thread_main(void *arg)
{
	struct thread_ctx *t = arg;
	struct gang *g = t->g;
	uint64_t cpu0;

	if (g->cfg->ops)
		g->cfg->ops->thread_enter(g->cfg->ix);
	if (g->cfg->pin_cpus)
		runner_pin_self(t->id, g->cfg->pin_cpus);
	pthread_mutex_lock(&g->lock);
	g->ready++;
	pthread_cond_broadcast(&g->cond);
	while (!g->go)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	t->t0_ns = now_ns();
	cpu0 = runner_thread_cpu_ns();
	if (!stopped(t))
		g->body(t);
	t->elapsed_ns = now_ns() - t->t0_ns;
	t->cpu_ns = runner_thread_cpu_ns() - cpu0;
	if (g->cfg->ops)
		g->cfg->ops->thread_leave(g->cfg->ix);
	return NULL;
}

/* Start @n threads on @body, open the gate, stop them after @duration_ns
 * (0: let them finish), join.  Return: 0, or -1 if a thread could not
 * start (the others were stopped at the gate). */
static int gang_run(struct gang *g, struct thread_ctx *t, unsigned n, uint64_t duration_ns)
{
	unsigned started = 0;

	while (started < n && pthread_create(&t[started].tid, NULL, thread_main, &t[started]) == 0)
		started++;
	if (started < n)
		__atomic_store_n(&g->stop, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&g->lock);
	while (g->ready < started)
		pthread_cond_wait(&g->cond, &g->lock);
	g->go = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	if (started == n && duration_ns) {
		const struct run_cfg *cfg = g->cfg;

		if (cfg->monitor) {
			uint64_t end = now_ns() + duration_ns;
			do {
				cfg->monitor(cfg->monitor_ctx);
				sleep_ns(cfg->monitor_ns);
			} while (now_ns() < end);
		} else {
			sleep_ns(duration_ns);
		}
		__atomic_store_n(&g->stop, 1, __ATOMIC_RELEASE);
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i].tid, NULL);
	return started == n ? 0 : -1;
}

static void gang_init(struct gang *g, const struct run_cfg *cfg,
		      void (*body)(struct thread_ctx *t))
{
	memset(g, 0, sizeof(*g));
	g->cfg = cfg;
	g->body = body;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
}

static void gang_fini(struct gang *g)
{
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
}

static int cfg_valid(const struct run_cfg *cfg)
{
	unsigned n = cfg->threads + cfg->writers;

	if (n == 0 || n > RUN_MAX_THREADS)
		return 0;
	/* The memcmp control only looks up. */
	return cfg->ops || (cfg->memcmp_ctl && !cfg->writers && !cfg->write_permille);
}

int run_timed(const struct run_cfg *cfg, struct run_result *res)
{
	unsigned n = cfg->threads + cfg->writers;
	struct thread_ctx *t = calloc(n ? n : 1, sizeof(*t));
	struct gang g;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	gang_init(&g, cfg, timed_body);
	if (!t || !cfg_valid(cfg))
		goto out;
	for (unsigned i = 0; i < n; i++) {
		t[i].g = &g;
		t[i].id = i;
		t[i].writer = i >= cfg->threads;
		if (cfg->lat && !t[i].writer &&
		    !(t[i].lat = calloc(LAT_CLASSES, sizeof(struct hist))))
			goto out;
	}
	if (gang_run(&g, t, n, cfg->duration_ns) != 0)
		goto out;
	for (unsigned c = 0; cfg->lat && c < LAT_CLASSES; c++)
		hist_reset(&cfg->lat[c]);
	for (unsigned i = 0; i < n; i++) {
		double s = (double)t[i].elapsed_ns / 1e9;
		if (t[i].writer) {
			res->writer_ops_per_s += (double)t[i].writes / s;
			res->writer_cpu_s += (double)t[i].cpu_ns / 1e9;
		} else {
			res->mix_cpu_s += (double)t[i].cpu_ns / 1e9;
			res->mix_wall_s += s;
			res->lookups += t[i].lookups;
			res->lookups_per_s += (double)t[i].lookups / s;
			res->writes_per_s += (double)t[i].writes / s;
			res->hits += t[i].hits;
			res->matched_tokens += t[i].matched;
			res->query_tokens += t[i].qtokens;
			for (unsigned c = 0; t[i].lat && c < LAT_CLASSES; c++)
				hist_merge(&cfg->lat[c], &t[i].lat[c]);
		}
		res->errors += t[i].errors;
	}
	rc = 0;
out:
	for (unsigned i = 0; t && i < n; i++)
		free(t[i].lat);
	free(t);
	gang_fini(&g);
	return rc;
}

int run_load(const struct index_ops *ops, const struct workload *wl, unsigned threads,
	     unsigned pin_cpus, double *stores_per_s, double *tokens_per_s)
{
	struct run_cfg cfg = {.ops = ops, .wl = wl, .threads = threads, .pin_cpus = pin_cpus};
	struct thread_ctx *t = calloc(threads ? threads : 1, sizeof(*t));
	struct gang g;
	uint64_t max_ns = 1, stores = 0, tokens = 0;
	int rc = -1;

	gang_init(&g, &cfg, load_body);
	if (!t || threads == 0 || threads > RUN_MAX_THREADS ||
	    ops->create(wl->distinct, &cfg.ix) != 0)
		goto out;
	if (ops->create(wl->distinct, &g.warm) != 0)
		goto out_ix;
	pthread_barrier_init(&g.phase, NULL, threads);
	for (unsigned i = 0; i < threads; i++) {
		t[i].g = &g;
		t[i].id = i;
	}
	rc = gang_run(&g, t, threads, 0);
	pthread_barrier_destroy(&g.phase);
	/* Unless no thread ran the body, thread 0 destroyed the warm-up index. */
	if (rc != 0) {
		ops->destroy(g.warm);
		goto out_ix;
	}
	rc = -1;
	/* The load is done when its slowest thread is. */
	for (unsigned i = 0; i < threads; i++) {
		if (t[i].elapsed_ns > max_ns)
			max_ns = t[i].elapsed_ns;
		stores += t[i].writes;
		tokens += t[i].stored_tokens;
		if (t[i].errors)
			goto out_ix;
	}
	*stores_per_s = (double)stores * 1e9 / (double)max_ns;
	*tokens_per_s = (double)tokens * 1e9 / (double)max_ns;
	rc = 0;
out_ix:
	ops->destroy(cfg.ix);
out:
	free(t);
	gang_fini(&g);
	return rc;
}

struct one_off {
	void (*fn)(void *arg);
	void *arg;
};

static void *one_off_main(void *arg)
{
	struct one_off *o = arg;

	o->fn(o->arg);
	return NULL;
}

int run_on_thread(void (*fn)(void *arg), void *arg)
{
	struct one_off o = {fn, arg};
	pthread_t tid;

	if (pthread_create(&tid, NULL, one_off_main, &o) != 0)
		return -1;
	pthread_join(tid, NULL);
	return 0;
}
