/*
 * test_tools_analysis.c - what pce analyze and pce simulate compute,
 * against the independent results of reference.py (expected.h): hit
 * ratios, footprints, batch dedup, shared prefixes and namespaces, with and
 * without warmup, for every format; then the simulation's invariants and
 * the request tree on a hand-checked example.
 */
#include "tool_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "reqlog.h"
#include "simulate.h"

#include "expected.h"

static void check_analysis(const char *const *paths, size_t n, enum pce_trace_format format,
			   double warmup, size_t batch, const struct expected *e)
{
	struct pce_trace *tr = open_trace(paths, n, format);
	struct pce_analyze_opts o = {.warmup_fraction = warmup, .batch = batch};
	struct pce_analyze_result res;
	struct pce_shared_prefix top[1000];
	size_t n_top, n_ns;
	struct pce_replay_counts *ns;
	uint64_t sum = 0, depth_sum = 0;

	assert_int_equal(pce_analyze_run(tr, &o, &res), 0);
	assert_int_equal(res.window_start, e->window_start);
	assert_int_equal(res.window.requests, e->requests);
	assert_int_equal(res.window.tokens, e->tokens);
	assert_int_equal(res.window.hit_tokens, e->hit_tokens);
	assert_int_equal(res.window.ids, e->ids);
	assert_int_equal(res.window.hit_ids, e->hit_ids);
	assert_int_equal(res.cache.tokens, e->footprint);
	assert_int_equal(res.dedup.ids, e->dedup_ids);
	assert_int_equal(res.dedup.cached_ids, e->dedup_cached);
	assert_int_equal(res.dedup.shared_ids, e->dedup_shared);
	assert_int_equal(res.dedup.unique_ids, e->dedup_ids - e->dedup_cached - e->dedup_shared);

	/* Every maximal shared prefix: count and checksums, then the top 10. */
	assert_int_equal(pce_reqlog_shared(res.log, res.window_start, top, NELEM(top), &n_top),
			 0);
	assert_int_equal(n_top, e->n_shared);
	for (size_t i = 0; i < n_top; i++) {
		sum += top[i].requests;
		depth_sum += top[i].requests * top[i].ids;
	}
	assert_int_equal(sum, e->shared_count_sum);
	assert_int_equal(depth_sum, e->shared_depth_sum);
	for (size_t i = 0; i < e->n_top; i++) {
		assert_int_equal(top[i].requests, e->top[i].requests);
		assert_int_equal(top[i].ids, e->top[i].ids);
	}

	n_ns = pce_trace_ns_count(tr); /* complete only once the stream is read */
	ns = calloc(n_ns, sizeof(*ns));
	assert_non_null(ns);
	pce_reqlog_by_ns(res.log, res.window_start, ns, n_ns);
	for (size_t k = 0; k < e->n_ns; k++) {
		size_t i = 0;

		while (i < n_ns && strcmp(pce_trace_ns_name(tr, i), e->ns[k].name) != 0)
			i++;
		assert_true(i < n_ns);
		assert_int_equal(ns[i].requests, e->ns[k].requests);
		assert_int_equal(ns[i].tokens, e->ns[k].tokens);
		assert_int_equal(ns[i].hit_tokens, e->ns[k].hit_tokens);
	}
	free(ns);
	pce_analyze_free(&res);
	pce_trace_close(tr);
}

static void test_analyze_mooncake(void **state)
{
	const char *p = SLICE;
	(void)state;
	check_analysis(&p, 1, PCE_TRACE_AUTO, 0, 64, &mooncake_w0);
	check_analysis(&p, 1, PCE_TRACE_AUTO, 0.5, 64, &mooncake_w50);
}

static void test_analyze_kvtester(void **state)
{
	const char *p = KVTESTER;
	(void)state;
	check_analysis(&p, 1, PCE_TRACE_AUTO, 0, 64, &kvtester_w0);
	check_analysis(&p, 1, PCE_TRACE_AUTO, 0.5, 64, &kvtester_w50);
}

static void test_analyze_tokens(void **state)
{
	const char *p[] = {TOKENS_A, TOKENS_B};
	(void)state;
	check_analysis(p, 2, PCE_TRACE_AUTO, 0, 3, &tokens_w0);
}

static void test_analyze_text(void **state)
{
	const char *p = PROMPTS;
	(void)state;
	check_analysis(&p, 1, PCE_TRACE_TEXT, 0, 64, &text_w0);
}

/* The request tree on the example of reqlog.c's header comment:
 * A = [1 2 3 4], B = [1 2 3 9], C = [1 2 7], D = [1 2 3 4 5]. */
static void test_shared_example(void **state)
{
	const char text[] = "{\"tokens\":[1,2,3,4]}\n{\"tokens\":[1,2,3,9]}\n"
			    "{\"tokens\":[1,2,7]}\n{\"tokens\":[1,2,3,4,5]}\n";
	const char *p = scratch_file("abcd.jsonl", text, sizeof(text) - 1);
	struct pce_trace *tr = open_trace(&p, 1, PCE_TRACE_TOKENS);
	struct pce_analyze_opts o = {0};
	struct pce_analyze_result res;
	struct pce_shared_prefix top[8];
	size_t n;
	(void)state;

	assert_int_equal(pce_analyze_run(tr, &o, &res), 0);
	assert_int_equal(pce_reqlog_shared(res.log, 0, top, 8, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(top[0].ids, 2);    /* [1 2]: A B C D */
	assert_int_equal(top[0].requests, 4);
	assert_int_equal(top[1].ids, 3);    /* [1 2 3]: A B D */
	assert_int_equal(top[1].requests, 3);
	assert_int_equal(top[2].ids, 4);    /* [1 2 3 4]: A D */
	assert_int_equal(top[2].requests, 2);
	assert_int_equal(top[0].origin, 0); /* all first held by A */
	assert_int_equal(top[2].origin, 0);
	/* Only the window counts: without A, [1 2 3 4] is D's alone. */
	assert_int_equal(pce_reqlog_shared(res.log, 1, top, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(top[0].requests, 3);
	assert_int_equal(top[1].requests, 2);
	assert_int_equal(top[1].ids, 3);
	pce_analyze_free(&res);
	pce_trace_close(tr);
}

static void test_reuse_buckets(void **state)
{
	const char *p = SLICE;
	struct pce_trace *tr = open_trace(&p, 1, PCE_TRACE_AUTO);
	struct pce_analyze_opts o = {0};
	struct pce_analyze_result res;
	struct pce_reuse_bucket b[PCE_REUSE_BUCKETS];
	uint64_t requests = 0, hits = 0;
	(void)state;

	assert_int_equal(pce_analyze_run(tr, &o, &res), 0);
	pce_reqlog_reuse(res.log, 0, b);
	assert_int_equal(b[0].min_tokens, 0);
	assert_int_equal(b[10].min_tokens, 512);
	assert_int_equal(b[10].max_tokens, 1023);
	for (int i = 0; i < PCE_REUSE_BUCKETS; i++) {
		requests += b[i].requests;
		hits += b[i].hit_tokens;
		if (i && b[i].requests)
			assert_true(b[i].hit_tokens >= b[i].requests * b[i].min_tokens);
	}
	assert_int_equal(requests, mooncake_w0.requests);
	assert_int_equal(hits, mooncake_w0.hit_tokens);
	assert_int_equal(b[0].requests, 1); /* only the very first request misses */
	pce_analyze_free(&res);
	pce_trace_close(tr);
}

static void run_simulation(const uint64_t *caps, size_t n_caps, double warmup, double target,
			   struct pce_simulate_result *res)
{
	const char *p = SLICE;
	const enum pce_policy pol[] = {PCE_POLICY_CLOCK_LRU, PCE_POLICY_CLOCK_LFU};
	struct pce_trace *tr = open_trace(&p, 1, PCE_TRACE_AUTO);
	struct pce_simulate_opts o = {.capacities = caps, .n_capacities = n_caps,
				      .policies = pol, .n_policies = 2,
				      .warmup_fraction = warmup, .target = target};

	assert_int_equal(pce_simulate_run(tr, &o, res), 0);
	pce_trace_close(tr);
}

/* A cache at least as large as the footprint never evicts and equals the
 * unlimited cache; a smaller one evicts and hits less; the unlimited pass
 * equals pce analyze; two runs give the same curve. */
static void test_simulate_invariants(void **state)
{
	const uint64_t caps[] = {100, 2000, 21514, 1000000};
	struct pce_simulate_result a, b;
	(void)state;

	run_simulation(caps, NELEM(caps), 0, 0.9, &a);
	assert_int_equal(a.footprint, mooncake_w0.footprint);
	assert_int_equal(a.unlimited.hit_tokens, mooncake_w0.hit_tokens);
	assert_int_equal(a.n_points, 8);
	for (size_t i = 0; i < a.n_points; i++) {
		const struct pce_simulate_point *q = &a.points[i];

		assert_int_equal(q->policy, i % 2 ? PCE_POLICY_CLOCK_LFU : PCE_POLICY_CLOCK_LRU);
		assert_int_equal(q->window.requests, mooncake_w0.requests);
		assert_int_equal(q->window.tokens, mooncake_w0.tokens);
		if (q->capacity >= a.footprint) {
			assert_int_equal(q->window.hit_tokens, mooncake_w0.hit_tokens);
			assert_int_equal(q->evictions, 0);
		} else {
			assert_true(q->window.hit_tokens < mooncake_w0.hit_tokens);
			assert_true(q->evictions > 0);
		}
	}
	/* Requests above 100 blocks cannot be stored in a 100-block cache. */
	assert_true(a.points[0].refused > 0);
	assert_int_equal(a.points[2].refused, 0);
	run_simulation(caps, NELEM(caps), 0, 0.9, &b);
	for (size_t i = 0; i < a.n_points; i++) {
		assert_int_equal(a.points[i].window.hit_tokens, b.points[i].window.hit_tokens);
		assert_int_equal(a.points[i].evictions, b.points[i].evictions);
	}
	pce_simulate_free(&b);
	/* The warmup only changes what is counted. */
	run_simulation(caps, NELEM(caps), 0.5, 0, &b);
	assert_int_equal(b.window_start, mooncake_w50.window_start);
	assert_int_equal(b.unlimited.hit_tokens, mooncake_w50.hit_tokens);
	assert_int_equal(b.points[7].window.hit_tokens, mooncake_w50.hit_tokens);
	pce_simulate_free(&a);
	pce_simulate_free(&b);
}

static void test_simulate_default_sweep(void **state)
{
	struct pce_simulate_result r;
	uint64_t caps[64];
	size_t n;
	(void)state;

	n = pce_simulate_default_capacities(182790, caps, 64);
	assert_int_equal(n, 11);
	assert_int_equal(caps[0], 100);
	assert_int_equal(caps[1], 200);
	assert_int_equal(caps[2], 500);
	assert_int_equal(caps[10], 200000);
	n = pce_simulate_default_capacities(1, caps, 64);
	assert_int_equal(n, 1);
	assert_int_equal(caps[0], 1);
	n = pce_simulate_default_capacities(5000, caps, 64);
	assert_int_equal(caps[0], 5);
	assert_int_equal(caps[n - 1], 5000);
	run_simulation(NULL, 0, 0, 0, &r);
	n = pce_simulate_default_capacities(r.footprint, caps, 64);
	assert_int_equal(r.n_points, 2 * n);
	assert_int_equal(r.points[r.n_points - 1].window.hit_tokens, mooncake_w0.hit_tokens);
	pce_simulate_free(&r);
	/* With a target, a third pass adds 4 capacities below the first step
	 * reaching it (10k misses 90% of the slice's ceiling, 20k reaches it). */
	run_simulation(NULL, 0, 0, 0.9, &r);
	assert_int_equal(r.n_points, 2 * (n + 4));
	for (size_t i = 0; i + 1 < r.n_points; i++) {
		assert_true(r.points[i].capacity <= r.points[i + 1].capacity);
		assert_int_equal(r.points[i].policy, i % 2 ? PCE_POLICY_CLOCK_LFU
							  : PCE_POLICY_CLOCK_LRU);
	}
	for (size_t i = 0, k = 0; i < r.n_points; i += 2) {
		static const uint64_t added[] = {12000, 14000, 16000, 18000};

		if (r.points[i].capacity > 10000 && r.points[i].capacity < 20000)
			assert_int_equal(r.points[i].capacity, added[k++]);
	}
	pce_simulate_free(&r);
}

static void test_simulate_advice(void **state)
{
	struct pce_simulate_point p[4] = {
		{PCE_POLICY_CLOCK_LRU, 10, {1, 100, 10, 10, 1}, 0, 0},
		{PCE_POLICY_CLOCK_LFU, 10, {1, 100, 20, 10, 2}, 0, 0},
		{PCE_POLICY_CLOCK_LRU, 20, {1, 100, 45, 10, 4}, 0, 0},
		{PCE_POLICY_CLOCK_LFU, 20, {1, 100, 40, 10, 4}, 0, 0}};
	struct pce_simulate_result r = {.unlimited = {1, 100, 50, 10, 5}, .points = p,
					.n_points = 4};
	struct pce_simulate_advice a;
	(void)state;

	pce_simulate_advise(&r, 0.9, &a);  /* 45 >= 0.9 x 50 at 20, with LRU */
	assert_true(a.found);
	assert_ptr_equal(a.best, &p[2]);
	assert_ptr_equal(a.other, &p[3]);
	pce_simulate_advise(&r, 0.4, &a);  /* 20 >= 0.4 x 50 at 10, with LFU */
	assert_ptr_equal(a.best, &p[1]);
	pce_simulate_advise(&r, 0.95, &a); /* 47.5: out of reach */
	assert_false(a.found);
	r.unlimited.hit_tokens = 0;        /* nothing to gain */
	pce_simulate_advise(&r, 0.1, &a);
	assert_false(a.found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_analyze_mooncake),
		cmocka_unit_test(test_analyze_kvtester),
		cmocka_unit_test(test_analyze_tokens),
		cmocka_unit_test(test_analyze_text),
		cmocka_unit_test(test_shared_example),
		cmocka_unit_test(test_reuse_buckets),
		cmocka_unit_test(test_simulate_invariants),
		cmocka_unit_test(test_simulate_default_sweep),
		cmocka_unit_test(test_simulate_advice),
	};

	return tool_test_main("analysis", tests, NELEM(tests));
}
