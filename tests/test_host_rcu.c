/*
 * test_host_rcu.c - host threads that use liburcu themselves call libpce.
 *
 * A server that embeds libpce may register its own threads with liburcu:
 * memb (the default flavour), qsbr, or bp (the flavour libpce uses).  Each
 * such thread, registered before its first libpce call and calling libpce
 * from inside its own read-side section too, stores, looks up, removes and
 * reclaims; the results must be exact, every removed value must be released
 * exactly once, and the host's own RCU must keep working.  Each flavour runs
 * beside a plain thread that looks up at the same time.
 */
#include "util.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>

#include <urcu/urcu-bp.h>
#include <urcu/urcu-memb.h>
#include <urcu/urcu-qsbr.h>

enum { N = 200, LEN = 6, ROUNDS = 20 };

struct flavour {
	void (*reg)(void);
	void (*unreg)(void);
	void (*lock)(void);
	void (*unlock)(void);
	void (*quiescent)(void); /* NULL: not qsbr */
	void (*sync)(void);
};

static void memb_unreg(void)
{
	urcu_memb_unregister_thread();
}

static void qsbr_lock(void)
{
	urcu_qsbr_read_lock();
}

static void qsbr_unlock(void)
{
	urcu_qsbr_read_unlock();
}

static void bp_unreg(void)
{
	urcu_bp_unregister_thread();
}

static const struct flavour memb = {urcu_memb_register_thread, memb_unreg, urcu_memb_read_lock,
				    urcu_memb_read_unlock, NULL, urcu_memb_synchronize_rcu};
static const struct flavour qsbr = {urcu_qsbr_register_thread, urcu_qsbr_unregister_thread,
				    qsbr_lock, qsbr_unlock, urcu_qsbr_quiescent_state,
				    urcu_qsbr_synchronize_rcu};
static const struct flavour bp = {urcu_bp_register_thread, bp_unreg, urcu_bp_read_lock,
				  urcu_bp_read_unlock, NULL, urcu_bp_synchronize_rcu};

struct host {
	const struct flavour *f;
	struct tcache *t;
	int stop;
	unsigned long bad;
	unsigned long side_lookups;
};

static void seq(uint32_t id, uint32_t *q)
{
	for (uint32_t i = 0; i < LEN; i++)
		q[i] = id * 16 + i + 1;
}

static void bad(struct host *h)
{
	__atomic_fetch_add(&h->bad, 1, __ATOMIC_RELAXED);
}

/* Stores N sequences, checks every lookup, removes the odd ones, reclaims;
 * ROUNDS times.  Runs in the host's thread. */
static void exercise(struct host *h)
{
	struct pce_cache *c = h->t->c;
	uint32_t q[LEN];

	for (int r = 0; r < ROUNDS; r++) {
		for (uint32_t id = 0; id < N; id++) {
			seq(id, q);
			if (pce_cache_store(c, 0, q, LEN, id + 1, 1, NULL, NULL) != 0)
				bad(h);
		}
		for (uint32_t id = 0; id < N; id++) {
			struct pce_match m;

			seq(id, q);
			h->f->lock(); /* the host's own section around the call */
			if (pce_cache_lookup(c, 0, q, LEN, NULL, &m) != 0 || m.tokens != LEN ||
			    m.value != id + 1)
				bad(h);
			h->f->unlock();
			if (id % 2 && pce_cache_remove(c, 0, q, LEN, NULL) != 0)
				bad(h);
		}
		if (pce_cache_reclaim(c) != 0)
			bad(h);
		for (uint32_t id = 0; id < N; id++) {
			uint64_t v = 0;

			seq(id, q);
			if (match(c, q, LEN, &v) != (id % 2 ? 0u : LEN))
				bad(h);
			if (id % 2 == 0 && pce_cache_remove(c, 0, q, LEN, NULL) != 0)
				bad(h);
		}
		if (h->f->quiescent)
			h->f->quiescent();
	}
	if (pce_cache_reclaim(c) != 0)
		bad(h);
}

static void *host_main(void *arg)
{
	struct host *h = arg;

	h->f->reg();
	/* Overlap with the plain thread for certain. */
	while (!__atomic_load_n(&h->side_lookups, __ATOMIC_RELAXED))
		sched_yield();
	exercise(h);
	h->f->unreg();
	h->f->sync(); /* the host's RCU still completes grace periods */
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A plain thread beside the host thread: lookups of entries that come and
 * go; any answer must be that sequence's own value. */
static void *side_main(void *arg)
{
	struct host *h = arg;
	uint32_t q[LEN];

	for (uint32_t i = 0; !__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE); i++) {
		struct pce_match m;

		seq(i % N, q);
		if (pce_cache_lookup(h->t->c, 0, q, LEN, NULL, &m) != 0 ||
		    (m.tokens && (m.tokens != LEN || m.value != i % N + 1)))
			bad(h);
		__atomic_fetch_add(&h->side_lookups, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void run(const struct flavour *f, int background)
{
	struct pce_config cfg;
	struct tcache t;
	struct host h = {f, &t, 0, 0, 0};
	pthread_t host, side;

	tcache_config(&t, &cfg);
	cfg.background_reclaim = background;
	tcache_open(&t, &cfg);
	assert_int_equal(pthread_create(&side, NULL, side_main, &h), 0);
	assert_int_equal(pthread_create(&host, NULL, host_main, &h), 0);
	pthread_join(host, NULL);
	pthread_join(side, NULL);
	assert_int_equal(h.bad, 0);
	assert_true(h.side_lookups > 0);
	/* Every value was removed, and each was released exactly once. */
	assert_int_equal(t.released, (uint64_t)N * ROUNDS);
	assert_int_equal(t.released_by[PCE_REASON_REMOVED], (uint64_t)N * ROUNDS);
	assert_int_equal(t.value_sum, (uint64_t)ROUNDS * N * (N + 1) / 2);
	assert_int_equal(stats_of(t.c).entries, 0);
	tcache_close(&t);
}

static void test_memb_thread(void **state)
{
	(void)state;
	run(&memb, 0);
	run(&memb, 1);
}

static void test_qsbr_thread(void **state)
{
	(void)state;
	run(&qsbr, 0);
	run(&qsbr, 1);
}

static void test_bp_thread(void **state)
{
	(void)state;
	run(&bp, 0);
	run(&bp, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memb_thread),
		cmocka_unit_test(test_qsbr_thread),
		cmocka_unit_test(test_bp_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
