/*
 * test_cluster_fault.c - the cluster tier while Redis fails: never
 * started, SIGKILLed under 4 lookup threads, SIGSTOPped.  Each test asserts
 * that every call returns within a generous bound (speed is bench/'s job),
 * that every local answer is right, and how L2 comes back.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "node.h"

/* Budget of these tests' lookups: the default. */
#define BUDGET_US 1000u
/* What a call may take, asserted: the budget plus scheduling noise of a
 * loaded 2-core machine under sanitizers.  Far below any I/O timeout or
 * backoff, so a call that waited for Redis would fail it. */
#define BOUND_US (BUDGET_US + 400000u)

#define ENTRIES 32
#define LEN (4 * CHUNK)

static uint32_t q[ENTRIES][LEN + CHUNK];

static void fill(void)
{
	for (uint32_t e = 0; e < ENTRIES; e++)
		for (uint32_t i = 0; i < LEN + CHUNK; i++)
			q[e][i] = e * 10000 + i + 1;
}

static void open_pair(struct node *a, struct node *c, int port)
{
	struct pce_cluster_config cfg;

	node_config(&cfg, port, 1);
	cfg.budget_us = BUDGET_US;
	cfg.io_timeout_ms = 200;
	cfg.connect_timeout_ms = 200;
	node_open(a, &cfg, 1);
	node_config(&cfg, port, 3);
	node_open(c, &cfg, 1);
	for (int e = 0; e < ENTRIES; e++)
		node_store(a, q[e], LEN);
}

struct looper {
	struct node *n;
	volatile int *stop;
	uint64_t calls, worst_us, wrong;
	pthread_t th;
};

/* Lookups one chunk longer than what A holds: A's L1 answers LEN tokens
 * and L2 is asked for the rest. */
static void *loop(void *arg)
{
	struct looper *l = arg;
	struct pce_overlap o[4];
	struct pce_cluster_result r;

	for (unsigned i = 0; !__atomic_load_n(l->stop, __ATOMIC_RELAXED); i++) {
		uint64_t t0 = now_us();
		int rc = pce_cluster_lookup(l->n->tier, 0, q[i % ENTRIES], LEN + CHUNK, NULL, o, 4,
					    &r);
		uint64_t dt = now_us() - t0;
		if (dt > l->worst_us)
			l->worst_us = dt;
		if (rc || r.local.tokens != LEN || r.local.value != 1)
			l->wrong++;
		l->calls++;
	}
	return NULL;
}

static void run_loopers(struct node *a, struct looper *l, volatile int *stop)
{
	for (int i = 0; i < 4; i++) {
		l[i] = (struct looper){.n = a, .stop = stop};
		assert_int_equal(pthread_create(&l[i].th, NULL, loop, &l[i]), 0);
	}
}

static void join_loopers(struct looper *l, volatile int *stop)
{
	__atomic_store_n(stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(l[i].th, NULL), 0);
		printf("thread %d: %llu calls, worst %llu us\n", i, (unsigned long long)l[i].calls,
		       (unsigned long long)l[i].worst_us);
		assert_true(l[i].calls > 0);
		assert_int_equal(l[i].wrong, 0);
		assert_true(l[i].worst_us <= BOUND_US);
	}
}

static void test_never_started_then_started(void **state)
{
	struct redis_proc p = {0};
	struct node a, c;
	struct pce_cluster_result r;
	int port = redis_free_port();
	(void)state;

	fill();
	open_pair(&a, &c, port);
	for (int i = 0; i < 50; i++) {
		uint64_t t0 = now_us();
		assert_int_equal(pce_cluster_lookup(a.tier, 0, q[i % ENTRIES], LEN + CHUNK, NULL,
						    NULL, 0, &r),
				 0);
		assert_true(now_us() - t0 <= BOUND_US);
		assert_int_equal(r.local.tokens, LEN);
		assert_int_equal(r.flags, PCE_CLUSTER_UNAVAILABLE);
	}
	assert_int_equal(pce_cluster_sync(a.tier, 50), PCE_ETIMEDOUT);
	struct pce_cluster_stats st;
	assert_int_equal(pce_cluster_stats_get(a.tier, &st), 0);
	assert_int_equal(st.connected, 0);
	assert_true(st.breaker_opens >= 1);
	assert_int_equal(st.mirror_entries, ENTRIES);

	/* A later start: the tier connects and publishes what L1 holds. */
	assert_int_equal(redis_start(&p, port, NULL), 0);
	node_sync(&a);
	node_sync(&c);
	for (int e = 0; e < ENTRIES; e++)
		assert_int_equal(node_depth_of(&c, q[e], LEN + CHUNK, 1, NULL), LEN);
	assert_int_equal(pce_cluster_stats_get(a.tier, &st), 0);
	assert_int_equal(st.connects, 1);
	assert_int_equal(st.republishes, 0); /* the first publish is no republish */
	node_close(&c);
	node_close(&a);
	redis_stop(&p);
}

static void test_sigkill_under_four_threads(void **state)
{
	struct redis_proc p = {0};
	struct node a, c;
	struct looper l[4];
	volatile int stop = 0;
	struct pce_cluster_stats st;
	(void)state;

	fill();
	assert_int_equal(redis_start(&p, 0, NULL), 0);
	open_pair(&a, &c, p.port);
	node_sync(&a);
	node_sync(&c);
	assert_int_equal(node_depth_of(&c, q[0], LEN + CHUNK, 1, NULL), LEN);

	run_loopers(&a, l, &stop);
	sleep_ms(100);
	redis_signal(&p, SIGKILL);
	sleep_ms(300);
	assert_int_equal(redis_start(&p, p.port, NULL), 0);
	node_sync(&a);
	sleep_ms(50);
	join_loopers(l, &stop);

	/* Redis lost everything; A noticed (boot token) and republished. */
	assert_int_equal(pce_cluster_stats_get(a.tier, &st), 0);
	assert_true(st.republishes >= 1);
	assert_true(st.breaker_opens >= 1);
	node_sync(&c);
	for (int e = 0; e < ENTRIES; e++)
		assert_int_equal(node_depth_of(&c, q[e], LEN + CHUNK, 1, NULL), LEN);
	node_close(&c);
	node_close(&a);
	redis_stop(&p);
}

static void test_sigstop_sigcont(void **state)
{
	struct redis_proc p = {0};
	struct node a, c;
	struct looper l[4];
	volatile int stop = 0;
	struct pce_cluster_stats st;
	(void)state;

	fill();
	assert_int_equal(redis_start(&p, 0, NULL), 0);
	open_pair(&a, &c, p.port);
	node_sync(&a);
	node_sync(&c);

	run_loopers(&a, l, &stop);
	sleep_ms(100);
	redis_signal(&p, SIGSTOP);
	sleep_ms(400);
	redis_signal(&p, SIGCONT);
	node_sync(&a);
	sleep_ms(50);
	join_loopers(l, &stop);

	/* Redis kept its data: no republish. */
	assert_int_equal(pce_cluster_stats_get(a.tier, &st), 0);
	assert_int_equal(st.republishes, 0);
	node_sync(&c);
	for (int e = 0; e < ENTRIES; e++)
		assert_int_equal(node_depth_of(&c, q[e], LEN + CHUNK, 1, NULL), LEN);
	node_close(&c);
	node_close(&a);
	redis_stop(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_never_started_then_started),
		cmocka_unit_test(test_sigkill_under_four_threads),
		cmocka_unit_test(test_sigstop_sigcont),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
