/*
 * exp_trace.c - the real traces (../shared/data/traces/README.md), read
 * with pcetools (tools/trace.h):
 *
 *   hit ratio  CLOCK-LRU and CLOCK-LFU against capacity, by pcetools'
 *              simulate passes (tools/simulate.h: a real libpce cache, one
 *              shard, no reclaim thread, the budget counting distinct cached
 *              block ids) at block granularity: one trie token per block id,
 *              hits weighted by the real tokens of the blocks.  Beside them,
 *              the reference figures of the traces' README (leaf-first LRU
 *              over trie nodes, a different policy).
 *   shards     entries per shard of a default 16-shard cache that stores
 *              every request (block granularity, the trace's namespaces).
 *   replay     Mooncake at token granularity: each block id becomes a run of
 *              512 pseudo-tokens drawn from the id alone (same id, same run;
 *              the partial last block cut to its true length), which keeps
 *              the trace's sharing token for token.  Each index replays the
 *              requests in arrival order, one lookup then one store per
 *              request, on one thread.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simulate.h>
#include <trace.h>

#include "index_pce.h"
#include "plot.h"
#include "series.h"
#include "timing.h"
#include "trace_tokens.h"

struct trace_def {
	const char *name;
	const char *path;      /* under the traces directory */
	int full_only;         /* too long for the quick preset */
	/* README reference, token hit ratio over all requests, leaf-first LRU */
	double ref_capacity[3];
	double ref_ratio[3];
	double ref_unlimited;
};

static const struct trace_def traces[] = {
	{"mooncake", "mooncake_conversation/conversation_trace.jsonl", 0,
	 {1e3, 1e4, 1e5}, {0.045, 0.216, 0.371}, 0.374},
	{"claude-code", "weka_claude_code", 1, {1e3, 1e4, 1e5}, {0.012, 0.084, 0.454}, 0.963},
};

static int open_trace(const char *dir, const struct trace_def *td, struct pce_trace **tr)
{
	char path[1024];
	const char *paths[1] = {path};
	struct pce_trace_opts opts;
	int rc;

	memset(&opts, 0, sizeof(opts));
	snprintf(path, sizeof(path), "%s/%s", dir, td->path);
	rc = pce_trace_open(tr, paths, 1, &opts);
	if (rc != 0) {
		fprintf(stderr, "pce_bench: %s: %s\n", path, *tr ? pce_trace_error(*tr) : "cannot open");
		pce_trace_close(*tr);
		*tr = NULL;
	}
	return rc;
}

/* ---- hit ratio against capacity ------------------------------------------- */

struct simulate_job {
	struct pce_trace *tr;
	struct pce_simulate_result res;
	int rc;
	double secs;
};

static void simulate_fn(void *arg)
{
	static const enum pce_policy policies[] = {PCE_POLICY_CLOCK_LRU, PCE_POLICY_CLOCK_LFU};
	struct simulate_job *j = arg;
	struct pce_simulate_opts o;
	uint64_t t0 = now_ns();

	memset(&o, 0, sizeof(o));
	o.policies = policies;
	o.n_policies = 2;
	j->rc = pce_simulate_run(j->tr, &o, &j->res);
	j->secs = (double)(now_ns() - t0) / 1e9;
}

static const char *ref_for(const struct trace_def *td, uint64_t capacity, char *buf, size_t len)
{
	for (int i = 0; i < 3; i++)
		if ((double)capacity == td->ref_capacity[i]) {
			snprintf(buf, len, "%.1f%%", td->ref_ratio[i] * 100);
			return buf;
		}
	return "";
}

static void hit_ratio(struct suite *s, const struct trace_def *td, struct pce_trace *tr,
		      struct table *t, uint64_t *footprint)
{
	struct simulate_job j = {.tr = tr};
	double *x, *y[2];
	size_t np = 0;

	memset(&j.res, 0, sizeof(j.res));
	if (run_on_thread(simulate_fn, &j) != 0 || j.rc != 0) {
		fprintf(stderr, "pce_bench: %s: simulate failed: %s\n", td->name, j.res.error);
		pce_simulate_free(&j.res);
		return;
	}
	*footprint = j.res.footprint;
	x = calloc(j.res.n_points, sizeof(double));
	y[0] = calloc(j.res.n_points, sizeof(double));
	y[1] = calloc(j.res.n_points, sizeof(double));
	for (size_t i = 0; x && y[0] && y[1] && i + 1 < j.res.n_points; i += 2) {
		const struct pce_simulate_point *lru = &j.res.points[i], *lfu = &j.res.points[i + 1];
		double rl = pce_replay_token_ratio(&lru->window);
		double rf = pce_replay_token_ratio(&lfu->window);
		char ref[16], si[16];

		for (int p = 0; p < 2; p++) {
			const struct pce_simulate_point *pt = p ? lfu : lru;
			jl_begin(&s->jl, "trace_hit_ratio");
			jl_str(&s->jl, "trace", td->name);
			jl_str(&s->jl, "policy", p ? "clock-lfu" : "clock-lru");
			jl_int(&s->jl, "capacity_blocks", pt->capacity);
			jl_num(&s->jl, "token_hit_ratio", pce_replay_token_ratio(&pt->window));
			jl_num(&s->jl, "block_hit_ratio", pce_replay_id_ratio(&pt->window));
			jl_int(&s->jl, "evictions", pt->evictions);
			jl_end(&s->jl);
		}
		table_row(t, "%s|%s|%.1f%%|%.1f%%|%s", td->name,
			  fmt_si(si, sizeof(si), (double)lru->capacity), rl * 100, rf * 100,
			  ref_for(td, lru->capacity, ref, sizeof(ref)));
		x[np] = (double)lru->capacity;
		y[0][np] = rl;
		y[1][np] = rf;
		np++;
	}
	{
		double unlimited = pce_replay_token_ratio(&j.res.unlimited);
		char label[64], sub[160], file[64], caption[128];
		struct pce_svg_series ser[3] = {{"CLOCK-LRU", x, y[0], np},
						{"CLOCK-LFU", x, y[1], np},
						{"leaf-first LRU (traces README)", td->ref_capacity,
						 td->ref_ratio, 3}};
		struct pce_svg_line ceil = {unlimited, label, PCE_SVG_HORIZONTAL};
		struct pce_svg_chart c = {.title = sub, .x_label = "capacity (block ids)",
					  .y_label = "token hit ratio", .log_x = 1,
					  .x_format = PCE_SVG_SI, .y_format = PCE_SVG_PERCENT,
					  .series = ser, .n_series = 3, .lines = &ceil, .n_lines = 1,
					  .legend = PCE_SVG_TOP_LEFT};

		table_row(t, "%s|unlimited|%.1f%%|%.1f%%|%.1f%%", td->name, unlimited * 100,
			  unlimited * 100, td->ref_unlimited * 100);
		jl_begin(&s->jl, "trace_hit_ratio");
		jl_str(&s->jl, "trace", td->name);
		jl_str(&s->jl, "policy", "unlimited");
		jl_num(&s->jl, "token_hit_ratio", unlimited);
		jl_int(&s->jl, "requests", j.res.requests);
		jl_int(&s->jl, "footprint_blocks", j.res.footprint);
		jl_num(&s->jl, "seconds", j.secs);
		jl_end(&s->jl);
		snprintf(label, sizeof(label), "unlimited %.1f%%", unlimited * 100);
		snprintf(sub, sizeof(sub), "%s: token hit ratio against capacity", td->name);
		snprintf(file, sizeof(file), "hit-ratio-%s.svg", td->name);
		snprintf(caption, sizeof(caption), "%s hit ratio against capacity", td->name);
		if (np)
			plot_write(s, file, &c, caption);
	}
	free(x);
	free(y[0]);
	free(y[1]);
	pce_simulate_free(&j.res);
}

/* ---- entries per shard ---------------------------------------------------- */

struct shard_job {
	struct pce_trace *tr;
	uint64_t counts[BENCH_SHARDS];
	uint64_t requests;
	int rc;
};

static void shard_fn(void *arg)
{
	struct shard_job *j = arg;
	struct pce_config cfg;
	struct pce_cache *c;
	struct pce_trace_request r;
	int rc;

	pce_config_init(&cfg);
	cfg.shards = BENCH_SHARDS;
	j->rc = pce_cache_create(&cfg, &c);
	if (j->rc)
		return;
	while ((rc = pce_trace_next(j->tr, &r)) == PCE_TRACE_REQUEST) {
		if (r.len)
			pce_cache_store(c, r.ns, r.ids, r.len, r.index, 0, NULL, NULL);
		j->requests++;
	}
	j->rc = rc;
	pce_cache_shard_entries(c, j->counts, BENCH_SHARDS);
	pce_cache_destroy(c);
}

static void shards(struct suite *s, const struct trace_def *td, struct pce_trace *tr,
		   struct table *t)
{
	struct shard_job j = {.tr = tr};

	if (pce_trace_rewind(tr) != 0 || run_on_thread(shard_fn, &j) != 0 || j.rc != 0)
		return;
	shard_row(s, t, td->name, j.counts, BENCH_SHARDS);
}

/* ---- token-level replay --------------------------------------------------- */

struct replay_job {
	int k;                 /* the index */
	const struct expanded *e;
	uint64_t hint;         /* create()'s size hint */
	int failed;
	/* the timed pass */
	double secs;
	uint64_t hit_tokens;
	int errors;
};

/* Replay j->e into a fresh index, lookup then store per request, and
 * destroy it. */
static void replay_pass(struct replay_job *j)
{
	const struct index_ops *ops = index_all[j->k];
	struct bench_index *ix;
	uint64_t t0;

	j->hit_tokens = 0;
	j->errors = 0;
	if (ops->create(j->hint, &ix) != 0) {
		j->failed = 1;
		return;
	}
	ops->thread_enter(ix);
	t0 = now_ns();
	for (size_t i = 0; i < j->e->n; i++) {
		const struct seq *q = &j->e->req[i];
		uint64_t v;

		j->hit_tokens += ops->lookup(ix, q->tok, q->len, &v);
		j->errors += ops->store(ix, q->tok, q->len, i) < 0;
	}
	j->secs = (double)(now_ns() - t0) / 1e9;
	ops->thread_leave(ix);
	ops->destroy(ix);
}

/* An untimed pass, then the timed one, on the same thread: the timed pass
 * allocates from memory this thread's allocator already holds (as the
 * store experiment does), whatever ran before. */
static void replay_fn(void *arg)
{
	struct replay_job *j = arg;

	replay_pass(j);
	if (!j->failed)
		replay_pass(j);
}

static void replay(struct suite *s, const struct trace_def *td, struct pce_trace *tr,
		   uint64_t footprint, size_t requests)
{
	size_t limit = (size_t)ceil(s->p->trace_share * (double)requests);
	struct series ser = {.reps = s->p->reps};
	double hit[INDEX_COUNT] = {0};
	struct expanded e;
	struct table *t;

	if (trace_expand(tr, limit, 1, 512, 0, &e) != 0 || e.n == 0) {
		trace_expanded_free(&e);
		return;
	}
	for (unsigned rep = 0; rep < ser.reps; rep++) {
		for (int k = 0; k < INDEX_COUNT; k++) {
			/* Expected distinct tokens: the footprint's share of the
			 * requests replayed. */
			struct replay_job j = {
				.k = k, .e = &e,
				.hint = (uint64_t)((double)footprint * 512 * (double)e.n /
						   (double)requests)};

			if (run_on_thread(replay_fn, &j) != 0 || j.failed) {
				ser.errors++;
				continue;
			}
			ser.v[k][rep] = (double)e.n / j.secs;
			ser.errors += j.errors;
			hit[k] = (double)j.hit_tokens / (double)e.tokens;
		}
	}
	t = report_table(s->rep, "Mooncake replayed token by token: requests per second, 1 thread",
			 "trace|index|requests|tokens|requests/s|Mtokens/s|token hit ratio");
	for (int k = 0; k < INDEX_COUNT; k++) {
		struct summary m = summarize(&ser, k);
		char c[48], si[16];

		jl_series(s, "trace_replay", td->name, k, &m, "requests_per_s");
		jl_int(&s->jl, "requests", e.n);
		jl_int(&s->jl, "tokens", e.tokens);
		jl_num(&s->jl, "token_hit_ratio", hit[k]);
		jl_int(&s->jl, "errors", (uint64_t)ser.errors);
		jl_end(&s->jl);
		table_row(t, "%s|%s|%zu|%lu|%s|%s|%.1f%%", td->name, index_all[k]->name, e.n,
			  (unsigned long)e.tokens, fmt_cell(c, sizeof(c), &m),
			  fmt_si(si, sizeof(si), m.med * (double)e.tokens / (double)e.n / 1e6),
			  hit[k] * 100);
	}
	table_done(t);
	trace_expanded_free(&e);
}

void exp_trace(struct suite *s, const char *dir)
{
	struct table *th, *ts;
	struct pce_trace *tr[2] = {NULL, NULL};
	uint64_t footprint[2] = {0, 0};
	size_t ntraces = sizeof(traces) / sizeof(traces[0]);

	report_section(s->rep, "Real traces",
		       "Mooncake conversation (Kimi, 1 hour, 12,031 requests, 512-token "
		       "chained block ids) and, in the full preset, the Claude Code sessions "
		       "(WEKA capture, 710 sessions, 64-token block ids, one namespace per "
		       "session), from ../shared/data/traces (see its README for sources and "
		       "licences).  Hit ratios are simulated at block granularity (one trie "
		       "token per block id, hits weighted by real tokens) by pcetools' "
		       "simulate passes on a real libpce cache whose budget counts distinct "
		       "cached block ids; the README's reference column is a different "
		       "policy (leaf-first LRU over trie nodes) on the same traces.");
	th = report_table(s->rep, "Token hit ratio against capacity (all requests)",
			  "trace|capacity (block ids)|CLOCK-LRU|CLOCK-LFU|leaf-first LRU, README");
	ts = report_table(s->rep, "Entries per shard (16 shards), one entry per request",
			  "trace|entries|shards used|largest shard|entries per shard");
	for (size_t i = 0; i < ntraces; i++) {
		if (traces[i].full_only && !s->p->claude_code)
			continue;
		if (open_trace(dir, &traces[i], &tr[i]) != 0)
			continue;
		hit_ratio(s, &traces[i], tr[i], th, &footprint[i]);
		shards(s, &traces[i], tr[i], ts);
	}
	table_done(th);
	table_done(ts);
	if (tr[0]) {
		struct pce_trace_request r;
		size_t requests = 0;

		if (pce_trace_rewind(tr[0]) == 0)
			while (pce_trace_next(tr[0], &r) == PCE_TRACE_REQUEST)
				requests++;
		report_text(s->rep,
			    "Replay: the first %.0f%% of Mooncake's requests, each block id "
			    "expanded to its 512 tokens (the last block cut to the request's "
			    "length), replayed in arrival order by each index, one lookup and "
			    "one store per request, one thread; each timed replay follows an "
			    "untimed one on the same thread into an index destroyed before it "
			    "(see store throughput).",
			    s->p->trace_share * 100);
		replay(s, &traces[0], tr[0], footprint[0], requests);
	}
	for (size_t i = 0; i < ntraces; i++)
		pce_trace_close(tr[i]);
}
