/*
 * test_threads.c - readers, writers and the background reclaimer together.
 *
 * Every value names the sequence it was stored with (seq_of), so a reader
 * can check each answer on its own: the matched tokens must be a prefix of
 * both the query and the returned entry.  Runs a fixed amount of work (no
 * timing assertion).  Threads are started before the cache exists, and
 * short-lived threads come and go, to exercise registration on first use and
 * unregistration at exit.  More threads than statistics stripes of their own
 * look up at once, and every lookup must be counted.
 */
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { SYS = 32, MAXLEN = SYS + 64, IDS = 4000, READS = 60000, WRITES = 15000 };

static void seq_of(uint32_t id, uint32_t *q, size_t *n)
{
	for (uint32_t i = 0; i < SYS; i++)
		q[i] = 500 + i % (id % 3 + 1); /* three system prompts */
	*n = SYS + 1 + id % 63;
	for (size_t i = SYS; i < *n; i++)
		q[i] = id * 7 + (uint32_t)i;
}

struct shared {
	struct pce_cache *c;
	pthread_barrier_t start;
	int go;
	unsigned long bad;
};

static void check_answer(struct shared *sh, const uint32_t *q, size_t n, const struct pce_match *m)
{
	uint32_t e[MAXLEN];
	size_t en;

	if (!m->tokens)
		return;
	seq_of((uint32_t)m->value, e, &en);
	if (m->tokens > n || m->tokens > en || en != m->entry_len ||
	    memcmp(e, q, m->tokens * sizeof(uint32_t)) != 0)
		__atomic_fetch_add(&sh->bad, 1, __ATOMIC_RELAXED);
}

static void *reader(void *arg)
{
	struct shared *sh = arg;
	unsigned seed = (unsigned)(uintptr_t)&seed;
	uint32_t q[MAXLEN];
	size_t n;

	pthread_barrier_wait(&sh->start);
	for (int i = 0; i < READS; i++) {
		struct pce_lookup_opts o = {(i % 4 == 0) ? PCE_LOOKUP_PIN : 0, 0};
		struct pce_match m;
		seq_of((uint32_t)rand_r(&seed) % IDS, q, &n);
		n -= (size_t)rand_r(&seed) % 8;
		if (pce_cache_lookup(sh->c, 0, q, n, &o, &m) == 0) {
			check_answer(sh, q, n, &m);
			if (m.pin.id && pce_pin_release(sh->c, m.pin) != 0)
				__atomic_fetch_add(&sh->bad, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static void *writer(void *arg)
{
	struct shared *sh = arg;
	unsigned seed = (unsigned)(uintptr_t)&seed;
	uint32_t q[MAXLEN];
	size_t n;

	pthread_barrier_wait(&sh->start);
	for (int i = 0; i < WRITES; i++) {
		uint32_t id = (uint32_t)rand_r(&seed) % IDS;
		seq_of(id, q, &n);
		if (rand_r(&seed) % 4)
			pce_cache_store(sh->c, 0, q, n, id, 100, NULL, NULL);
		else
			pce_cache_remove(sh->c, 0, q, n, NULL);
	}
	return NULL;
}

/* A thread that lives for a handful of lookups. */
static void *short_lived(void *arg)
{
	struct shared *sh = arg;
	uint32_t q[MAXLEN];
	size_t n;

	for (uint32_t id = 0; id < 20; id++) {
		struct pce_match m;
		seq_of(id, q, &n);
		if (pce_cache_lookup(sh->c, 0, q, n, NULL, &m) == 0)
			check_answer(sh, q, n, &m);
	}
	return NULL;
}

static void test_readers_writers_reclaimer(void **state)
{
	enum { R = 3, W = 2 };
	struct shared sh;
	struct pce_config cfg;
	pthread_t r[R], w[W];
	struct pce_stats s;
	(void)state;

	memset(&sh, 0, sizeof(sh));
	/* Threads exist before the cache does. */
	pthread_barrier_init(&sh.start, NULL, R + W + 1);
	for (int i = 0; i < R; i++)
		pthread_create(&r[i], NULL, reader, &sh);
	for (int i = 0; i < W; i++)
		pthread_create(&w[i], NULL, writer, &sh);

	pce_config_init(&cfg);
	cfg.shards = 4;
	cfg.max_entries = IDS / 4;
	cfg.kv_budget = 100 * IDS / 3;
	cfg.reclaim_interval_ns = 1000000;
	cfg.max_pins = 64;
	assert_int_equal(pce_cache_create(&cfg, &sh.c), 0);
	pthread_barrier_wait(&sh.start);

	for (int round = 0; round < 40; round++) {
		pthread_t t;
		pthread_create(&t, NULL, short_lived, &sh);
		pthread_join(t, NULL);
		if (round % 10 == 0)
			assert_audit_busy(sh.c);
	}
	for (int i = 0; i < R; i++)
		pthread_join(r[i], NULL);
	for (int i = 0; i < W; i++)
		pthread_join(w[i], NULL);

	assert_int_equal(sh.bad, 0);
	assert_audit(sh.c);
	assert_int_equal(pce_cache_stats(sh.c, &s), 0);
	assert_true(s.entries <= IDS / 4);
	assert_true(s.kv_bytes <= 100 * IDS / 3);
	assert_int_equal(s.live_pins, 0);
	assert_int_equal(s.lookups, (uint64_t)R * READS + 40 * 20);
	assert_true(s.removed[PCE_REASON_CAPACITY] > 0);
	assert_int_equal(pce_cache_destroy(sh.c), 0);
	pthread_barrier_destroy(&sh.start);
}

/* ---- statistics with more threads than owned stripes ------------------- */

enum { CROWD = 136, CROWD_LOOKUPS = 60000 };

struct crowd {
	struct pce_cache *c;
	pthread_barrier_t all_in;
	int done;
	unsigned long bad;
};

static const uint32_t crowd_hit[4] = {11, 12, 13, 14};
static const uint32_t crowd_miss[2] = {99, 98};

static void *crowd_member(void *arg)
{
	struct crowd *cr = arg;
	struct pce_match m;

	/* The first lookup takes a stripe; all threads are alive together. */
	if (pce_cache_lookup(cr->c, 0, crowd_hit, 4, NULL, &m) != 0 || m.tokens != 4)
		__atomic_fetch_add(&cr->bad, 1, __ATOMIC_RELAXED);
	pthread_barrier_wait(&cr->all_in);
	for (int i = 0; i < CROWD_LOOKUPS; i++) {
		int hit = i % 2 == 0;

		if (pce_cache_lookup(cr->c, 0, hit ? crowd_hit : crowd_miss, hit ? 4 : 2, NULL,
				     &m) != 0 ||
		    m.tokens != (hit ? 4u : 0u))
			__atomic_fetch_add(&cr->bad, 1, __ATOMIC_RELAXED);
	}
	__atomic_fetch_add(&cr->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* More live threads than statistics stripes of their own: none of their
 * lookups may be lost, and no snapshot may show more hits than lookups
 * (misses would wrap). */
static void test_stats_more_threads_than_stripes(void **state)
{
	const uint64_t per = 1 + CROWD_LOOKUPS, hits = 1 + CROWD_LOOKUPS / 2;
	struct crowd cr;
	struct pce_config cfg;
	struct pce_stats s;
	pthread_t th[CROWD];
	(void)state;

	memset(&cr, 0, sizeof(cr));
	pce_config_init(&cfg);
	cfg.background_reclaim = 0;
	assert_int_equal(pce_cache_create(&cfg, &cr.c), 0);
	assert_int_equal(pce_cache_store(cr.c, 0, crowd_hit, 4, 1, 1, NULL, NULL), 0);
	pthread_barrier_init(&cr.all_in, NULL, CROWD);
	for (int i = 0; i < CROWD; i++)
		assert_int_equal(pthread_create(&th[i], NULL, crowd_member, &cr), 0);
	while (__atomic_load_n(&cr.done, __ATOMIC_ACQUIRE) < CROWD) {
		assert_int_equal(pce_cache_stats(cr.c, &s), 0);
		assert_true(s.hits <= s.lookups);
		assert_true(s.hit_tokens <= s.query_tokens);
		assert_true(s.lookups <= CROWD * per);
	}
	for (int i = 0; i < CROWD; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(cr.bad, 0);
	s = stats_of(cr.c);
	assert_int_equal(s.lookups, CROWD * per);
	assert_int_equal(s.hits, CROWD * hits);
	assert_int_equal(s.misses, CROWD * (per - hits));
	assert_int_equal(s.hit_tokens, CROWD * hits * 4);
	assert_int_equal(s.query_tokens, CROWD * (hits * 4 + (per - hits) * 2));
	assert_int_equal(pce_cache_destroy(cr.c), 0);
	pthread_barrier_destroy(&cr.all_in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readers_writers_reclaimer),
		cmocka_unit_test(test_stats_more_threads_than_stripes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
