/*
 * test_cluster_fault.c - the cluster tier while Redis fails: never
 * started, SIGKILLed under 4 lookup threads, SIGSTOPped, busy in DEBUG
 * SLEEP, and a soak of random SIGKILLs and SIGSTOPs.  Each test asserts
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
#include <time.h>
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

/* A node with the tests' lookup budget and short I/O timeouts. */
static void open_bounded(struct node *n, int port, uint32_t id)
{
	struct pce_cluster_config cfg;

	node_config(&cfg, port, id);
	cfg.budget_us = BUDGET_US;
	cfg.io_timeout_ms = 200;
	cfg.connect_timeout_ms = 200;
	node_open(n, &cfg, 1);
}

/* A (node 1, bounded) holding every entry, and C (node 3) whose budget is
 * long, for the checks after a recovery. */
static void open_pair(struct node *a, struct node *c, int port)
{
	open_bounded(a, port, 1);
	node_start(c, port, 3);
	for (int e = 0; e < ENTRIES; e++)
		node_store(a, q[e], LEN);
}

/* Starts @p (extra redis-server @args, or NULL), opens A and C on it and
 * waits until both are connected and A published. */
static void start_pair(struct redis_server *p, const char *const *args, struct node *a,
		       struct node *c)
{
	fill();
	assert_int_equal(redis_server_start(p, 0, args, NULL, 0), 0);
	open_pair(a, c, p->port);
	node_sync(a);
	node_sync(c);
}

/* After a recovery: once C is synced, L2 gives it A's whole entries. */
static void assert_l2_has_all(struct node *c)
{
	node_sync(c);
	for (int e = 0; e < ENTRIES; e++)
		assert_int_equal(node_depth_of(c, q[e], LEN + CHUNK, 1, NULL), LEN);
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
	struct redis_server p = {0};
	struct node a, c;
	struct pce_cluster_result r;
	int port = redis_server_free_port();
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
	assert_int_equal(redis_server_start(&p, port, NULL, NULL, 0), 0);
	node_sync(&a);
	assert_l2_has_all(&c);
	assert_int_equal(pce_cluster_stats_get(a.tier, &st), 0);
	assert_int_equal(st.connects, 1);
	assert_int_equal(st.republishes, 0); /* the first publish is no republish */
	node_close(&c);
	node_close(&a);
	redis_server_stop(&p);
}

static void test_sigkill_under_four_threads(void **state)
{
	struct redis_server p = {0};
	struct node a, c;
	struct looper l[4];
	volatile int stop = 0;
	struct pce_cluster_stats st;
	(void)state;

	start_pair(&p, NULL, &a, &c);
	assert_int_equal(node_depth_of(&c, q[0], LEN + CHUNK, 1, NULL), LEN);

	run_loopers(&a, l, &stop);
	sleep_ms(100);
	redis_server_signal(&p, SIGKILL);
	sleep_ms(300);
	assert_int_equal(redis_server_start(&p, p.port, NULL, NULL, 0), 0);
	node_sync(&a);
	sleep_ms(50);
	join_loopers(l, &stop);

	/* Redis lost everything; A noticed (boot token) and republished. */
	assert_int_equal(pce_cluster_stats_get(a.tier, &st), 0);
	assert_true(st.republishes >= 1);
	assert_true(st.breaker_opens >= 1);
	assert_l2_has_all(&c);
	node_close(&c);
	node_close(&a);
	redis_server_stop(&p);
}

static void test_sigstop_sigcont(void **state)
{
	struct redis_server p = {0};
	struct node a, c;
	struct looper l[4];
	volatile int stop = 0;
	struct pce_cluster_stats st;
	(void)state;

	start_pair(&p, NULL, &a, &c);

	run_loopers(&a, l, &stop);
	sleep_ms(100);
	redis_server_signal(&p, SIGSTOP);
	sleep_ms(400);
	redis_server_signal(&p, SIGCONT);
	node_sync(&a);
	sleep_ms(50);
	join_loopers(l, &stop);

	/* Redis kept its data: no republish. */
	assert_int_equal(pce_cluster_stats_get(a.tier, &st), 0);
	assert_int_equal(st.republishes, 0);
	assert_l2_has_all(&c);
	node_close(&c);
	node_close(&a);
	redis_server_stop(&p);
}

/*
 * DEBUG SLEEP: the server stops answering for a while (a slow command,
 * say).  Lookups that need L2 answer UNAVAILABLE within their bound while
 * it sleeps; afterwards L2 answers again, with no republish (Redis kept its
 * data).
 */
static void test_debug_sleep(void **state)
{
	static const char *const args[] = {"--enable-debug-command", "yes", NULL};
	struct redis_server p = {0};
	struct node a, c, d;
	struct looper l[4];
	volatile int stop = 0;
	struct pce_cluster_stats st;
	struct pce_cluster_result r;
	redisReply *reply;
	int done = 0, unavailable = 0, calls = 0;
	(void)state;

	start_pair(&p, args, &a, &c);
	redisContext *raw = redis_client(&p);
	assert_non_null(raw);
	open_bounded(&d, p.port, 4); /* D: an empty L1 */
	node_sync(&d);
	assert_int_equal(node_depth_of(&c, q[0], LEN + CHUNK, 1, NULL), LEN);

	run_loopers(&a, l, &stop);
	/* Sent, not waited for: the reply comes when the sleep ends. */
	redisAppendCommand(raw, "DEBUG SLEEP 0.8");
	while (!done)
		assert_int_equal(redisBufferWrite(raw, &done), REDIS_OK);
	sleep_ms(50);
	for (uint64_t t_end = now_us() + 300000; now_us() < t_end; calls++) {
		uint64_t t0 = now_us();
		assert_int_equal(pce_cluster_lookup(d.tier, 0, q[calls % ENTRIES], LEN + CHUNK, NULL,
						    NULL, 0, &r),
				 0);
		assert_true(now_us() - t0 <= BOUND_US);
		assert_int_equal(r.local.tokens, 0);
		unavailable += (r.flags & PCE_CLUSTER_UNAVAILABLE) != 0;
	}
	assert_int_equal(unavailable, calls); /* the server slept all along */
	struct timeval tv = {5, 0};
	redisSetTimeout(raw, tv);
	assert_int_equal(redisGetReply(raw, (void **)&reply), REDIS_OK);
	freeReplyObject(reply);
	node_sync(&a);
	sleep_ms(50);
	join_loopers(l, &stop);

	assert_int_equal(pce_cluster_stats_get(a.tier, &st), 0);
	assert_int_equal(st.republishes, 0);
	assert_l2_has_all(&c);
	assert_int_equal(pce_cluster_stats_get(d.tier, &st), 0);
	assert_true(st.l2_unavailable >= (uint64_t)calls);
	redisFree(raw);
	node_close(&d);
	node_close(&c);
	node_close(&a);
	redis_server_stop(&p);
}

/* ---- soak ---------------------------------------------------------------- */

/* Resident set size of this process, in bytes (0 if unknown). */
static uint64_t rss_bytes(void)
{
	unsigned long long size, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%llu %llu", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return (uint64_t)rss * 4096u;
}

struct soaker {
	struct node *n;
	int storer;                /* 1: stores and lookups on A; 0: lookups on C */
	volatile int *stop;
	unsigned seed;
	uint64_t calls, worst_us, wrong, unavailable;
	pthread_t th;
};

/* On A: re-stores (a replacement: REMOVED and STORED events) and looks up
 * its entries; the local answer is always the whole entry.  On D (empty
 * L1): asks L2, which may be unavailable but never names an owner other
 * than A nor a depth beyond what A stored. */
static void *soak(void *arg)
{
	struct soaker *s = arg;
	struct pce_overlap o[4];
	struct pce_cluster_result r;

	while (!__atomic_load_n(s->stop, __ATOMIC_RELAXED)) {
		int e = (int)(rand_r(&s->seed) % ENTRIES), rc;
		uint64_t t0 = now_us();
		if (s->storer && rand_r(&s->seed) % 4 == 0) {
			struct pce_store_opts so = {.flags = PCE_STORE_REPLACE};
			rc = pce_cache_store(s->n->cache, 0, q[e], LEN, 1, 0, &so, NULL);
			s->wrong += rc != 0;
			/* A store rate the worker keeps up with on a loaded machine:
			 * beyond queue_limit events are dropped (counted), and the
			 * mirror no longer matches the cache. */
			sleep_ms(1);
		} else {
			rc = pce_cluster_lookup(s->n->tier, 0, q[e], LEN + CHUNK, NULL, o, 4, &r);
			if (rc)
				s->wrong++;
			else if (s->storer)
				s->wrong += r.local.tokens != LEN || r.local.value != 1;
			else
				for (size_t i = 0; i < r.n_owners; i++)
					s->wrong += o[i].owner != 1 || o[i].tokens > LEN;
			if (!rc && (r.flags & PCE_CLUSTER_UNAVAILABLE))
				s->unavailable++;
			s->calls++;
		}
		uint64_t dt = now_us() - t0;
		if (dt > s->worst_us)
			s->worst_us = dt;
	}
	return NULL;
}

/*
 * Soak: PCE_SOAK_SECONDS (60 in release builds, 30 under sanitizers) of 4
 * threads storing and looking up while the server is SIGKILLed (and
 * restarted) or SIGSTOPped (and continued) every 5-10 s.  Every call
 * returns within its bound and no answer is wrong; the counters add up;
 * the mirror holds what the cache holds and the process's RSS ends within
 * a bound of where it was after the first fault; then, with Redis back, a
 * republish makes L2 answer again.
 */
static void test_soak(void **state)
{
	struct redis_server p = {0};
	struct node a, c, d;
	struct soaker s[4];
	volatile int stop = 0;
	struct pce_cluster_stats sa, sd;
	unsigned seed = (unsigned)time(NULL);
	int kills = 0, stops = 0;
	uint64_t rss0 = 0, calls_a = 0, calls_d = 0;
	(void)state;

	printf("soak: %d s, seed %u\n", PCE_SOAK_SECONDS, seed);
	start_pair(&p, NULL, &a, &c);
	open_bounded(&d, p.port, 4); /* D: an empty L1 */
	node_sync(&d);
	for (int i = 0; i < 4; i++) {
		s[i] = (struct soaker){.n = i < 2 ? &a : &d, .storer = i < 2, .stop = &stop,
				       .seed = seed + (unsigned)i};
		assert_int_equal(pthread_create(&s[i].th, NULL, soak, &s[i]), 0);
	}
	for (uint64_t t_end = now_us() + PCE_SOAK_SECONDS * 1000000ull;;) {
		long wait = 5000 + (long)(rand_r(&seed) % 5001);
		if (now_us() + (uint64_t)wait * 1000 > t_end)
			break;
		sleep_ms(wait);
		if (rand_r(&seed) % 2) {
			redis_server_signal(&p, SIGKILL);
			sleep_ms(200 + rand_r(&seed) % 300);
			assert_int_equal(redis_server_start(&p, p.port, NULL, NULL, 0), 0);
			kills++;
		} else {
			redis_server_signal(&p, SIGSTOP);
			sleep_ms(200 + rand_r(&seed) % 300);
			redis_server_signal(&p, SIGCONT);
			stops++;
		}
		if (!rss0)
			rss0 = rss_bytes(); /* warm: queues, tables and pools grown */
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(s[i].th, NULL), 0);
		printf("thread %d: %llu calls (%llu unavailable), worst %llu us\n", i,
		       (unsigned long long)s[i].calls, (unsigned long long)s[i].unavailable,
		       (unsigned long long)s[i].worst_us);
		assert_true(s[i].calls > 0);
		assert_int_equal(s[i].wrong, 0);
		assert_true(s[i].worst_us <= BOUND_US);
		*(i < 2 ? &calls_a : &calls_d) += s[i].calls;
	}
	printf("soak: %d kills, %d stops; rss %llu -> %llu KiB\n", kills, stops,
	       (unsigned long long)rss0 / 1024, (unsigned long long)rss_bytes() / 1024);
#ifndef PCE_SOAK_SANITIZED
	/* Under sanitizers the allocators keep freed memory in quarantine
	 * (ASan) or shadow (TSan): RSS says nothing there, ASan's leak check
	 * at exit does. */
	if (rss0)
		assert_true(rss_bytes() <= rss0 + (32u << 20));
#endif

	/* Redis is back: A republishes, L2 answers in full. */
	node_sync(&a);
	assert_l2_has_all(&c);
	assert_int_equal(pce_cluster_stats_get(a.tier, &sa), 0);
	assert_int_equal(pce_cluster_stats_get(d.tier, &sd), 0);
	/* Counters add up. */
	assert_int_equal(sa.lookups, calls_a);
	assert_int_equal(sd.lookups, calls_d);
	for (int i = 0; i < 2; i++) {
		const struct pce_cluster_stats *x = i ? &sd : &sa;
		assert_int_equal(x->lookups, x->local + x->l2_lookups);
		assert_true(x->l2_hits + x->l2_unavailable <= x->l2_lookups);
		assert_int_equal(x->events_dropped, 0);
		assert_true(x->connected);
	}
	assert_int_equal(sa.mirror_entries, ENTRIES);
	assert_int_equal(sa.mirror_chunks, ENTRIES * (LEN / CHUNK));
	if (kills)
		assert_true(sa.republishes >= 1);
	assert_true(sa.breaker_opens >= (uint64_t)(kills ? 1 : 0));
	node_close(&d);
	node_close(&c);
	node_close(&a);
	redis_server_stop(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_never_started_then_started),
		cmocka_unit_test(test_sigkill_under_four_threads),
		cmocka_unit_test(test_sigstop_sigcont),
		cmocka_unit_test(test_debug_sleep),
		cmocka_unit_test(test_soak),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
