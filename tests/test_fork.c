/*
 * test_fork.c - fork() without exec: the child uses fresh caches fully and
 * gets PCE_EFORKED at once on every call on a cache it inherited.
 *
 * At the fork, the parent has a cache whose background reclaim thread waits
 * on its condition variable, a thread looping lookups, a thread stopped
 * inside a lookup's read-side section (in the cache's clock, which lookups
 * of entries with a TTL read there), and a thread stopped inside a store's
 * shard lock (in the on_event callback, which runs under it).  The child must
 * not hang: the parent waits for it with a deadline, kills it and fails if it
 * is late.
 *
 * fork() itself waits for a grace period in progress (liburcu-bp holds its
 * grace-period lock across the fork), and a grace period waits for the
 * stopped reader, which resumes only after the fork: so the parent's reclaim
 * thread must not start one before the fork: its interval is an hour, and
 * without budgets no store wakes it.
 *
 * ThreadSanitizer cannot start threads in the child of a multi-threaded
 * process (its runtime refuses; see docs/reliability.md), so under TSan the
 * child's fresh caches run without a reclaim thread and the child starts no
 * thread; everything else is the same.
 */
#include "util.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

enum { N = 300, LEN = 5, CHILD_DEADLINE_S = 60 };

/* Gates that park one thread inside a callback until released. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int inside;
	int open;
};

static struct gate in_clock = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
static struct gate in_event = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
static __thread int park_here;
static int stop_looping;
static uint64_t parent_released;

static void gate_park(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->inside = 1;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void gate_wait_inside(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	while (!g->inside)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static uint64_t parking_clock(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	if (park_here) {
		park_here = 0;
		gate_park(&in_clock);
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void parking_event(void *ctx, const struct pce_event *ev)
{
	(void)ctx;
	(void)ev;
	if (park_here) {
		park_here = 0;
		gate_park(&in_event);
	}
}

static void count_release(void *ctx, const struct pce_released *r)
{
	(void)r;
	__atomic_fetch_add((uint64_t *)ctx, 1, __ATOMIC_RELAXED);
}

static void seq(uint32_t id, uint32_t *q)
{
	for (uint32_t i = 0; i < LEN; i++)
		q[i] = id * 8 + i + 1;
}

static struct pce_cache *parent_cache;

/* Looks up in a loop until told to stop. */
static void *looper(void *arg)
{
	uint32_t q[LEN];

	(void)arg;
	for (uint32_t i = 0; !__atomic_load_n(&stop_looping, __ATOMIC_RELAXED); i++) {
		struct pce_match m;

		seq(i % N, q);
		pce_cache_lookup(parent_cache, 0, q, LEN, NULL, &m);
	}
	return NULL;
}

/* Parks inside a lookup's read-side section (the entry has a TTL, so the
 * lookup reads the clock there). */
static void *reader_parked(void *arg)
{
	uint32_t q[LEN];
	struct pce_match m;

	(void)arg;
	seq(N, q);
	park_here = 1;
	pce_cache_lookup(parent_cache, 0, q, LEN, NULL, &m);
	return NULL;
}

/* Parks inside a store, holding its shard's lock (on_event runs there). */
static void *writer_parked(void *arg)
{
	uint32_t q[LEN];

	(void)arg;
	seq(N + 1, q);
	park_here = 1;
	pce_cache_store(parent_cache, 0, q, LEN, 7, 1, NULL, NULL);
	return NULL;
}

/* ---- in the child ----------------------------------------------------------- */

/* Each inherited call must fail at once with PCE_EFORKED; 0 if so, else the
 * number (1-based) of the first call that did not. */
static int child_inherited(struct pce_cache *c)
{
	uint32_t q[LEN];
	uint64_t v, counts[4];
	struct pce_match m;
	struct pce_stats s;
	struct pce_dedup d;
	struct pce_seq one;
	struct pce_pin pin = {1};
	struct pce_evicted freed;
	struct pce_budgets b = {0, 0, 0, 90, 80};
	char msg[64];
	int rc[16], k = 0;

	seq(1, q);
	one = (struct pce_seq){0, q, LEN};
	rc[k++] = pce_cache_store(c, 0, q, LEN, 1, 1, NULL, NULL);
	rc[k++] = pce_cache_lookup(c, 0, q, LEN, NULL, &m);
	rc[k++] = pce_pin_release(c, pin);
	rc[k++] = pce_cache_remove(c, 0, q, LEN, &v);
	rc[k++] = pce_cache_clear_ns(c, 0, &v);
	rc[k++] = pce_cache_clear(c, &v);
	rc[k++] = pce_cache_reclaim(c);
	rc[k++] = pce_cache_stats(c, &s);
	rc[k++] = pce_cache_shard_entries(c, counts, 4);
	rc[k++] = pce_dedup_analyze(c, &one, 1, &d);
	rc[k++] = pce_cache_audit(c, 0, msg, sizeof(msg));
	rc[k++] = pce_cache_evict(c, PCE_EVICT_ENTRIES, 1, &freed);
	rc[k++] = pce_cache_set_budgets(c, &b);
	rc[k++] = pce_cache_touch(c, 0, q, LEN, 0);
	rc[k++] = pce_cache_remove_prefix(c, 0, q, 1, &v);
	/* Frees nothing and releases no value of the parent's. */
	rc[k++] = pce_cache_destroy(c);
	for (int i = 0; i < k; i++)
		if (rc[i] != PCE_EFORKED)
			return 1 + i;
	return 0;
}

/* A fresh cache: stores, lookups, removals with grace periods, eviction by
 * the reclaim thread (not under TSan), destroy; every value released once.
 * 0 if all went as expected, else a code naming the step. */
static int child_fresh(void)
{
	uint64_t released = 0;
	struct pce_config cfg;
	struct pce_cache *c;
	struct pce_stats s;
	uint32_t q[LEN];

	pce_config_init(&cfg);
	cfg.background_reclaim = !UNDER_TSAN;
	cfg.reclaim_interval_ns = 1000000;
	cfg.on_release = count_release;
	cfg.release_ctx = &released;
	if (pce_cache_create(&cfg, &c) != 0)
		return 20;
	for (uint32_t id = 0; id < N; id++) {
		seq(id, q);
		if (pce_cache_store(c, 0, q, LEN, id + 1, 1, NULL, NULL) != 0)
			return 21;
	}
	for (uint32_t id = 0; id < N; id++) {
		uint64_t v = 0;

		seq(id, q);
		if (match(c, q, LEN, &v) != LEN || v != id + 1)
			return 22;
		if (id % 2 && pce_cache_remove(c, 0, q, LEN, NULL) != 0)
			return 23;
	}
	if (pce_cache_reclaim(c) != 0) /* a grace period in the child */
		return 24;
	if (__atomic_load_n(&released, __ATOMIC_RELAXED) != N / 2)
		return 25;
	if (pce_cache_stats(c, &s) != 0 || s.entries != N - N / 2 || s.lookups != N)
		return 26;
	if (pce_cache_audit(c, PCE_AUDIT_QUIESCENT, NULL, 0) != 0)
		return 27;
	if (pce_cache_destroy(c) != 0 || released != N)
		return 28;
	return 0;
}

/* The reclaim thread of a fresh cache evicts to the watermarks by itself. */
static int child_fresh_evicting(void)
{
	uint64_t released = 0;
	struct pce_config cfg;
	struct pce_cache *c;
	uint32_t q[LEN];

	if (UNDER_TSAN)
		return 0;
	pce_config_init(&cfg);
	cfg.max_entries = N / 4;
	cfg.reclaim_interval_ns = 1000000;
	cfg.on_release = count_release;
	cfg.release_ctx = &released;
	if (pce_cache_create(&cfg, &c) != 0)
		return 30;
	for (uint32_t id = 0; id < N; id++) {
		seq(id, q);
		if (pce_cache_store(c, 0, q, LEN, id + 1, 1, NULL, NULL) != 0)
			return 31;
	}
	/* Wait (no deadline here: the parent has one) for the reclaim thread
	 * to have freed what the stores' synchronous evictions unlinked. */
	while (__atomic_load_n(&released, __ATOMIC_RELAXED) + N / 4 < N)
		usleep(1000);
	if (pce_cache_destroy(c) != 0 || released != N)
		return 32;
	return 0;
}

static int child_main(struct pce_cache *inherited)
{
	int rc = child_inherited(inherited);

	if (rc)
		return rc;
	if ((rc = child_fresh()) != 0)
		return rc;
	if ((rc = child_fresh_evicting()) != 0)
		return rc;
	return child_fresh(); /* again, after the first fresh cache's destroy */
}

/* ---- in the parent ---------------------------------------------------------- */

/* Waits for @pid at most CHILD_DEADLINE_S; kills it if late.  Returns its
 * exit status, or -1 if it hung or did not exit normally. */
static int wait_child(pid_t pid)
{
	for (int i = 0; i < CHILD_DEADLINE_S * 100; i++) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		usleep(10000);
	}
	print_error("child still running after %d s: hung; killing it\n", CHILD_DEADLINE_S);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void test_fork_with_threads_inside(void **state)
{
	struct pce_config cfg;
	struct pce_stats s;
	pthread_t loop, rd, wr;
	uint32_t q[LEN];
	pid_t pid;
	int status;
	(void)state;

	if (UNDER_TSAN)
		print_message("under TSan the child starts no thread (TSan cannot start "
			      "threads after a multi-threaded fork)\n");
	pce_config_init(&cfg);
	cfg.clock = parking_clock;
	cfg.on_event = parking_event;
	cfg.on_release = count_release;
	cfg.release_ctx = &parent_released;
	cfg.reclaim_interval_ns = 3600ull * 1000000000u;
	assert_int_equal(pce_cache_create(&cfg, &parent_cache), 0);
	for (uint32_t id = 0; id <= N; id++) {
		struct pce_store_opts ttl = {0, 3600ull * 1000000000u, 0};

		seq(id, q);
		assert_int_equal(pce_cache_store(parent_cache, 0, q, LEN, id + 1, 1,
						 id == N ? &ttl : NULL, NULL),
				 0);
	}
	assert_int_equal(pthread_create(&loop, NULL, looper, NULL), 0);
	assert_int_equal(pthread_create(&rd, NULL, reader_parked, NULL), 0);
	assert_int_equal(pthread_create(&wr, NULL, writer_parked, NULL), 0);
	gate_wait_inside(&in_clock);
	gate_wait_inside(&in_event);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_main(parent_cache));
	status = wait_child(pid);

	gate_open(&in_clock);
	gate_open(&in_event);
	__atomic_store_n(&stop_looping, 1, __ATOMIC_RELAXED);
	pthread_join(loop, NULL);
	pthread_join(rd, NULL);
	pthread_join(wr, NULL);
	assert_int_equal(status, 0);

	/* The parent's cache is untouched by the child's calls. */
	assert_int_equal(pce_cache_stats(parent_cache, &s), 0);
	assert_int_equal(s.entries, N + 2);
	assert_int_equal(pce_cache_audit(parent_cache, PCE_AUDIT_QUIESCENT, NULL, 0), 0);
	assert_int_equal(pce_cache_destroy(parent_cache), 0);
	assert_int_equal(parent_released, N + 2);
}

/* A child of a child: caches of every earlier generation are refused, the
 * grandchild's own cache works. */
static void test_fork_twice(void **state)
{
	struct pce_config cfg;
	struct pce_cache *c;
	pid_t pid;
	(void)state;

	pce_config_init(&cfg);
	cfg.background_reclaim = 0;
	assert_int_equal(pce_cache_create(&cfg, &c), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pce_cache *mine;
		pid_t grandchild;
		int rc;

		if (pce_cache_create(&cfg, &mine) != 0)
			_exit(40);
		grandchild = fork();
		if (grandchild < 0)
			_exit(41);
		if (grandchild == 0) {
			if (pce_cache_reclaim(c) != PCE_EFORKED ||
			    pce_cache_reclaim(mine) != PCE_EFORKED)
				_exit(42);
			_exit(child_fresh());
		}
		rc = wait_child(grandchild);
		if (rc != 0)
			_exit(rc < 0 ? 43 : rc);
		if (pce_cache_reclaim(c) != PCE_EFORKED || pce_cache_destroy(mine) != 0)
			_exit(44);
		_exit(0);
	}
	assert_int_equal(wait_child(pid), 0);
	assert_int_equal(pce_cache_reclaim(c), 0);
	assert_int_equal(pce_cache_destroy(c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fork_with_threads_inside),
		cmocka_unit_test(test_fork_twice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
