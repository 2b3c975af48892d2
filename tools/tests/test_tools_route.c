/*
 * test_tools_route.c - what pce simulate --workers computes (route.c):
 * which worker each policy sends each request of hand-made traces to and
 * what it hits, worked out by hand in the comments; that the router index
 * always lists, for every worker, exactly the prefix its cache holds (the
 * engine's verify mode, over evictions); and the collapse of prefix routing
 * on the Mooncake slice, whose requests all share their first block.
 */
#include "tool_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

/* Six requests of one namespace, block size 1 (token ids). */
static const char six[] = "{\"tokens\":[1,2,3,4],\"ns\":\"a\"}\n"
			  "{\"tokens\":[1,2,3,5],\"ns\":\"a\"}\n"
			  "{\"tokens\":[6,7],\"ns\":\"a\"}\n"
			  "{\"tokens\":[1,2,3,4,8],\"ns\":\"a\"}\n"
			  "{\"tokens\":[6,7,9],\"ns\":\"a\"}\n"
			  "{\"tokens\":[1,20,21],\"ns\":\"a\"}\n";

static void run(const char *text, struct pce_route_opts *o, struct pce_route_result *res)
{
	const char *p = scratch_file("route.jsonl", text, strlen(text));
	struct pce_trace *tr = open_trace(&p, 1, PCE_TRACE_TOKENS);
	int rc;

	o->record_routes = 1;
	o->verify = 1;
	rc = pce_route_run(tr, o, res);
	if (rc)
		fail_msg("pce_route_run: %d %s", rc, res->error);
	pce_trace_close(tr);
}

static void expect(const struct pce_route_point *pt, enum pce_route_policy policy,
		   const uint32_t *routes, size_t n, uint64_t hit_tokens, uint64_t tokens)
{
	assert_int_equal(pt->policy, policy);
	for (size_t i = 0; i < n; i++) {
		if (pt->routes[i] != routes[i])
			fail_msg("%s: request %zu went to worker %u, not %u",
				 pce_route_policy_name(policy), i, pt->routes[i], routes[i]);
	}
	assert_int_equal(pt->window.requests, n);
	assert_int_equal(pt->window.hit_tokens, hit_tokens);
	assert_int_equal(pt->window.tokens, tokens);
}

/*
 * Two workers with room for everything; prefix+load with a cache threshold
 * of 0.5 and a balance threshold of 1 (rel 1.5).  Tokens: 4+4+2+5+3+3 = 21.
 *   rr           0 1 0 1 0 1.  Hits: r3 on worker 1 ([1,2,3,5]): 3; r4 on
 *                worker 0 ([6,7]): 2; r5 on worker 1: 1.  6 tokens.
 *   prefix       r0 nobody holds anything: least loaded, lowest: 0; r1
 *                worker 0 holds [1,2,3]: 0; r2 nobody: worker 1 (load 0
 *                against 2); r3 worker 0 holds [1,2,3,4]: 0; r4 worker 1
 *                holds [6,7]: 1; r5 worker 0 holds [1]: 0.  Hits 3+4+2+1.
 *   prefix+load  r0 balanced, no match: the smallest cache (both empty),
 *                then least loaded: 0; r1 loads 1/0, not imbalanced
 *                (1 - 0 is not > 1), 3 of 4 > 0.5: 0; r2 loads 2/0:
 *                imbalanced: worker 1; r3 loads 2/1, 4 of 5: 0; r4 loads
 *                3/1: imbalanced: worker 1 (hits [6,7]); r5 loads 3/2,
 *                worker 0 holds 1 of 3, not > 0.5: the smallest cache,
 *                worker 1 (3 blocks against 6), no hit.  Hits 3+4+2.
 */
static void test_policies(void **state)
{
	static const uint32_t rr[] = {0, 1, 0, 1, 0, 1}, prefix[] = {0, 0, 1, 0, 1, 0},
			      load[] = {0, 0, 1, 0, 1, 1};
	struct pce_route_opts o;
	struct pce_route_result res;

	(void)state;
	pce_route_opts_init(&o);
	o.workers = 2;
	o.capacity = 100;
	o.cache_threshold = 0.5;
	o.balance_abs = 1;
	run(six, &o, &res);
	assert_int_equal(res.n_points, 3);
	expect(&res.points[0], PCE_ROUTE_RR, rr, 6, 6, 21);
	expect(&res.points[1], PCE_ROUTE_PREFIX, prefix, 6, 10, 21);
	expect(&res.points[2], PCE_ROUTE_PREFIX_LOAD, load, 6, 9, 21);
	assert_int_equal(res.points[2].balanced, 2);
	assert_int_equal(res.points[1].requests[0], 4);
	assert_int_equal(res.points[1].requests[1], 2);
	assert_int_equal(res.points[1].max_requests, 4);
	assert_int_equal(res.points[1].busiest, 0);
	assert_int_equal(res.points[1].tokens[0], 16);
	assert_int_equal(res.points[1].max_tokens, 16);
	/* prefix's 4 of 6 is more than half, but not twice the fair share */
	assert_false(pce_route_collapsed(&res.points[1], 2));
	assert_int_equal(res.unlimited.hit_tokens, 3 + 4 + 2 + 1);
	pce_route_free(&res);
}

/*
 * The load counts only the requests in flight.  Three workers, prefix,
 * four requests nobody shares, so every choice is a tie decided by load.
 * One in flight: r0 worker 0; r1 worker 1 (0 has r0); r2 worker 0 (only
 * r1, on 1, is in flight); r3 worker 1.  256 in flight: 0, 1, 2, then 0.
 */
static void test_in_flight(void **state)
{
	static const char text[] = "{\"tokens\":[1],\"ns\":\"a\"}\n"
				   "{\"tokens\":[2],\"ns\":\"a\"}\n"
				   "{\"tokens\":[3],\"ns\":\"a\"}\n"
				   "{\"tokens\":[4],\"ns\":\"a\"}\n";
	static const enum pce_route_policy prefix = PCE_ROUTE_PREFIX;
	static const uint32_t one[] = {0, 1, 0, 1}, many[] = {0, 1, 2, 0};
	struct pce_route_opts o;
	struct pce_route_result res;

	(void)state;
	pce_route_opts_init(&o);
	o.workers = 3;
	o.capacity = 100;
	o.in_flight = 1;
	o.policies = &prefix;
	o.n_policies = 1;
	run(text, &o, &res);
	expect(&res.points[0], PCE_ROUTE_PREFIX, one, 4, 0, 4);
	pce_route_free(&res);
	o.in_flight = 256;
	run(text, &o, &res);
	expect(&res.points[0], PCE_ROUTE_PREFIX, many, 4, 0, 4);
	pce_route_free(&res);
}

/*
 * Evictions reach the router as removes that keep what other entries
 * still hold.  One worker of 6 blocks: r0 [1,2,3,4]; r1 [1,2,5] (5
 * blocks); r2 [7,8] needs 7: an entry is evicted, and whichever it is,
 * the router must then list what the cache holds (verify mode checks it
 * before every request); r3 and r4 probe both paths.
 */
static void test_evictions(void **state)
{
	static const char text[] = "{\"tokens\":[1,2,3,4],\"ns\":\"a\"}\n"
				   "{\"tokens\":[1,2,5],\"ns\":\"a\"}\n"
				   "{\"tokens\":[7,8],\"ns\":\"a\"}\n"
				   "{\"tokens\":[1,2,3,4,9],\"ns\":\"a\"}\n"
				   "{\"tokens\":[1,2,5,9],\"ns\":\"a\"}\n"
				   "{\"tokens\":[7,8,9],\"ns\":\"a\"}\n";
	struct pce_route_opts o;
	struct pce_route_result res;

	(void)state;
	pce_route_opts_init(&o);
	o.workers = 1;
	o.capacity = 6;
	run(text, &o, &res);
	for (size_t p = 0; p < res.n_points; p++) {
		assert_true(res.points[p].evictions > 0);
		assert_true(res.points[p].router_removes > 0);
		assert_int_equal(res.points[p].window.requests, 6);
	}
	pce_route_free(&res);
}

/*
 * The Mooncake slice: every request starts with block 0.  prefix sends
 * them all to the worker that took the first one, and with small workers
 * hits less than round robin; rr and prefix+load spread them.  Verify mode
 * checks the router against the caches before every request, through
 * thousands of evictions.
 */
static void test_collapse(void **state)
{
	struct pce_trace *tr = open_trace((const char *[]){SLICE}, 1, PCE_TRACE_AUTO);
	struct pce_route_opts o;
	struct pce_route_result res;
	const struct pce_route_point *rr, *prefix, *load;

	(void)state;
	pce_route_opts_init(&o);
	o.workers = 8;
	o.capacity = 500;
	o.verify = 1;
	assert_int_equal(pce_route_run(tr, &o, &res), 0);
	rr = &res.points[0];
	prefix = &res.points[1];
	load = &res.points[2];
	assert_int_equal(prefix->max_requests, 1000);
	assert_int_equal(prefix->busiest, 0);
	assert_true(pce_route_collapsed(prefix, 8));
	assert_false(pce_route_collapsed(rr, 8));
	assert_false(pce_route_collapsed(load, 8));
	assert_int_equal(rr->max_requests, 125);
	assert_true(prefix->window.hit_tokens < rr->window.hit_tokens);
	assert_true(load->window.hit_tokens > rr->window.hit_tokens);
	assert_true(prefix->evictions > 0 && prefix->router_removes > 0);
	pce_route_free(&res);
	pce_trace_close(tr);
}

/* A gateway asks for a few workers: with the top 2 of 8, the router's
 * listing still agrees with the caches (verify mode: every worker left out
 * holds no more than the last one listed), and prefix still collapses. */
static void test_top_k(void **state)
{
	struct pce_trace *tr = open_trace((const char *[]){SLICE}, 1, PCE_TRACE_AUTO);
	struct pce_route_opts o;
	struct pce_route_result res;

	(void)state;
	pce_route_opts_init(&o);
	o.workers = 8;
	o.capacity = 500;
	o.top_k = 2;
	o.verify = 1;
	assert_int_equal(pce_route_run(tr, &o, &res), 0);
	assert_int_equal(res.points[1].max_requests, 1000);
	assert_false(pce_route_collapsed(&res.points[2], 8));
	pce_route_free(&res);
	pce_trace_close(tr);
}

static void test_bad_options(void **state)
{
	static const enum pce_route_policy twice[] = {PCE_ROUTE_RR, PCE_ROUTE_RR};
	struct pce_trace *tr = open_trace((const char *[]){SLICE}, 1, PCE_TRACE_AUTO);
	struct pce_route_opts o;
	struct pce_route_result res;

	(void)state;
	pce_route_opts_init(&o);
	o.capacity = 10;
	o.policies = twice;
	o.n_policies = 2;
	assert_int_equal(pce_route_run(tr, &o, &res), PCE_TRACE_EINPUT);
	assert_string_equal(res.error, "unknown or repeated routing policy");
	pce_route_opts_init(&o);
	o.workers = 0;
	assert_int_equal(pce_route_run(tr, &o, &res), PCE_TRACE_EINPUT);
	pce_route_free(&res);
	pce_trace_close(tr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policies),  cmocka_unit_test(test_in_flight),
		cmocka_unit_test(test_evictions), cmocka_unit_test(test_collapse),
		cmocka_unit_test(test_top_k),     cmocka_unit_test(test_bad_options),
	};

	return tool_test_main("test_tools_route", tests, NELEM(tests));
}
