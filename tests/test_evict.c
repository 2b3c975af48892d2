/*
 * test_evict.c - budgets and eviction: both CLOCK policies, the KV, index
 * and entry budgets, synchronous eviction in stores, the background
 * reclaimer between its watermarks, per-token KV accounting of shared
 * prefixes, every value released exactly once, and stores that contend for
 * the room evictions make.
 */
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

static void seq(uint32_t *q, uint32_t id, size_t n)
{
	for (size_t i = 0; i < n; i++)
		q[i] = id * 1000 + (uint32_t)i;
}

/* Entries looked up between stores survive eviction; cold ones go. */
static void policy_keeps_hot(enum pce_policy policy)
{
	struct tcache t;
	struct pce_config cfg;
	uint32_t q[4];

	tcache_config(&t, &cfg);
	cfg.shards = 1;
	cfg.max_entries = 8;
	cfg.high_watermark_pct = cfg.low_watermark_pct = 100; /* only stores evict */
	cfg.policy = policy;
	tcache_open(&t, &cfg);
	for (uint32_t id = 0; id < 8; id++) {
		seq(q, id, 4);
		assert_int_equal(put(t.c, q, 4, id), 0);
	}
	for (uint32_t id = 8; id < 40; id++) {
		/* entries 0 and 1 are hot: looked up before every store */
		for (uint32_t hot = 0; hot < 2; hot++) {
			seq(q, hot, 4);
			for (int k = 0; k < (policy == PCE_POLICY_CLOCK_LFU ? 3 : 1); k++)
				assert_int_equal(match(t.c, q, 4, NULL), 4);
		}
		seq(q, id, 4);
		assert_int_equal(put(t.c, q, 4, id), 0);
		assert_true(stats_of(t.c).entries <= 8);
	}
	for (uint32_t hot = 0; hot < 2; hot++) {
		seq(q, hot, 4);
		assert_int_equal(match(t.c, q, 4, NULL), 4);
	}
	assert_int_equal(stats_of(t.c).removed[PCE_REASON_CAPACITY], 32);
	assert_int_equal(t.released, 0); /* released at the next pass */
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released_by[PCE_REASON_CAPACITY], 32);
	assert_audit(t.c);
	tcache_close(&t);
}

static void test_clock_lru_keeps_hot(void **state)
{
	(void)state;
	policy_keeps_hot(PCE_POLICY_CLOCK_LRU);
}

static void test_clock_lfu_keeps_hot(void **state)
{
	(void)state;
	policy_keeps_hot(PCE_POLICY_CLOCK_LFU);
}

/* LFU keeps the frequently used entry through a burst of one-off stores
 * that recency alone (LRU) would not survive. */
static void test_lfu_resists_scan(void **state)
{
	for (int p = 0; p < 2; p++) {
		struct tcache t;
		struct pce_config cfg;
		uint32_t q[3];

		tcache_config(&t, &cfg);
		cfg.shards = 1;
		cfg.max_entries = 4;
		cfg.policy = p ? PCE_POLICY_CLOCK_LFU : PCE_POLICY_CLOCK_LRU;
		tcache_open(&t, &cfg);
		seq(q, 1, 3);
		assert_int_equal(put(t.c, q, 3, 1), 0);
		for (int k = 0; k < 10; k++)
			match(t.c, q, 3, NULL);
		for (uint32_t id = 2; id < 12; id++) {
			seq(q, id, 3);
			assert_int_equal(put(t.c, q, 3, id), 0);
		}
		seq(q, 1, 3);
		assert_int_equal(match(t.c, q, 3, NULL), p ? 3 : 0);
		tcache_close(&t);
	}
	(void)state;
}

static void test_kv_budget_declared(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	uint32_t q[2];
	(void)state;

	tcache_config(&t, &cfg);
	cfg.kv_budget = 1000;
	tcache_open(&t, &cfg);
	for (uint32_t id = 0; id < 100; id++) {
		seq(q, id, 2);
		assert_int_equal(pce_cache_store(t.c, 0, q, 2, id, 100 + id % 7, NULL, NULL), 0);
		assert_true(stats_of(t.c).kv_bytes <= 1000);
	}
	seq(q, 500, 2);
	assert_int_equal(pce_cache_store(t.c, 0, q, 2, 1, 1001, NULL, NULL), PCE_ENOSPC);
	assert_int_equal(pce_cache_store(t.c, 0, q, 2, 1, 1000, NULL, NULL), 0);
	assert_int_equal(stats_of(t.c).entries, 1);
	assert_int_equal(stats_of(t.c).kv_bytes, 1000);
	assert_int_equal(pce_cache_store(t.c, 0, q, 2, 1, PCE_MAX_KV_BYTES + 1, NULL, NULL),
			 PCE_EINVAL);
	assert_audit(t.c);
	tcache_close(&t);
	assert_int_equal(t.released, 101);
}

static void test_index_budget(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	uint32_t q[64];
	(void)state;

	tcache_config(&t, &cfg);
	cfg.index_budget = 64 * 1024;
	tcache_open(&t, &cfg);
	for (uint32_t id = 0; id < 2000; id++) {
		seq(q, id, 64);
		assert_int_equal(put(t.c, q, 64, id), 0);
		assert_true(stats_of(t.c).index_bytes <= 64 * 1024);
	}
	assert_true(stats_of(t.c).removed[PCE_REASON_CAPACITY] > 1000);
	/* One entry bigger than the whole budget is refused and changes nothing. */
	uint64_t entries = stats_of(t.c).entries;
	static uint32_t big[20000];
	seq(big, 9999, 20000);
	assert_int_equal(put(t.c, big, 20000, 1), PCE_ENOSPC);
	assert_int_equal(stats_of(t.c).entries, entries);
	assert_audit(t.c);
	tcache_close(&t);
}

/* PCE_KV_PER_TOKEN: a shared prefix is counted once, and evicting an entry
 * frees only the tokens no other entry uses. */
static void test_per_token_accounting(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	uint32_t a[10], b[10];
	struct pce_store_result r;
	(void)state;

	tcache_config(&t, &cfg);
	cfg.kv_mode = PCE_KV_PER_TOKEN;
	cfg.kv_bytes_per_token = 100;
	tcache_open(&t, &cfg);
	seq(a, 1, 10);
	seq(b, 1, 10);
	b[6] = 77; /* shares 6 tokens with a */
	assert_int_equal(pce_cache_store(t.c, 0, a, 10, 1, 12345, NULL, &r), 0);
	assert_int_equal(r.new_tokens, 10);
	assert_int_equal(pce_cache_store(t.c, 0, b, 10, 2, 0, NULL, &r), 0);
	assert_int_equal(r.new_tokens, 4);
	assert_int_equal(stats_of(t.c).kv_bytes, 1400);
	assert_int_equal(pce_cache_store(t.c, 0, a, 6, 3, 0, NULL, &r), 0);
	assert_int_equal(r.new_tokens, 0);
	assert_int_equal(stats_of(t.c).kv_bytes, 1400);
	struct pce_match m;
	assert_int_equal(pce_cache_lookup(t.c, 0, a, 10, NULL, &m), 0);
	assert_int_equal(m.kv_bytes, 1000); /* an entry's KV: its length x 100 */
	assert_int_equal(pce_cache_remove(t.c, 0, a, 6, NULL), 0); /* interior entry */
	assert_int_equal(stats_of(t.c).kv_bytes, 1400);
	assert_int_equal(pce_cache_remove(t.c, 0, b, 10, NULL), 0);
	assert_int_equal(stats_of(t.c).kv_bytes, 1000);
	assert_audit(t.c);
	tcache_close(&t);
}

/* Evicting an entry that others extend drops the entry, not their nodes. */
static void test_evict_interior_keeps_extenders(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	uint32_t a[6], q[6];
	(void)state;

	tcache_config(&t, &cfg);
	cfg.shards = 1;
	cfg.max_entries = 2;
	tcache_open(&t, &cfg);
	seq(a, 3, 6);
	assert_int_equal(put(t.c, a, 3, 3), 0);
	assert_int_equal(put(t.c, a, 6, 6), 0);
	match(t.c, a, 6, NULL); /* the extender is hot */
	seq(q, 4, 3);
	assert_int_equal(put(t.c, q, 3, 4), 0);
	assert_int_equal(match(t.c, a, 6, NULL), 6);
	struct pce_lookup_opts whole = {PCE_LOOKUP_WHOLE, 0};
	struct pce_match m;
	assert_int_equal(pce_cache_lookup(t.c, 0, a, 4, &whole, &m), 0);
	assert_int_equal(m.tokens, 0); /* the 3-token entry is gone */
	assert_audit(t.c);
	tcache_close(&t);
}

/* A reclaim pass evicts only above the high watermark, and then down to
 * the low one exactly. */
static void test_reclaim_between_watermarks(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	uint32_t q[3];
	(void)state;

	tcache_config(&t, &cfg);
	cfg.max_entries = 1000;
	cfg.high_watermark_pct = 50;
	cfg.low_watermark_pct = 25;
	tcache_open(&t, &cfg);
	for (uint32_t id = 0; id < 500; id++) {
		seq(q, id, 3);
		assert_int_equal(put(t.c, q, 3, id), 0);
	}
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(stats_of(t.c).entries, 500); /* at high: nothing to do */
	seq(q, 500, 3);
	assert_int_equal(put(t.c, q, 3, 500), 0);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(stats_of(t.c).entries, 250);
	assert_int_equal(stats_of(t.c).sync_evictions, 0);
	assert_audit(t.c);
	tcache_close(&t);
}

/* The background thread keeps a budget at or below its high watermark
 * without any store having to evict. */
static void test_background_reclaimer(void **state)
{
	struct pce_cache *c;
	struct pce_config cfg;
	uint32_t q[3];
	(void)state;

	pce_config_init(&cfg);
	cfg.max_entries = 1000;
	cfg.high_watermark_pct = 50;
	cfg.low_watermark_pct = 25;
	cfg.reclaim_interval_ns = 1000000;
	assert_int_equal(pce_cache_create(&cfg, &c), 0);
	for (uint32_t id = 0; id < 900; id++) {
		seq(q, id, 3);
		assert_int_equal(pce_cache_store(c, 0, q, 3, id, 0, NULL, NULL), 0);
	}
	/* Wait for the reclaimer to finish a pass that evicted (up to 30 s: a
	 * behaviour, not a timing goal).  Its evictions show in the gauges
	 * before the pass ends (it still waits for a grace period), and
	 * reclaim_passes counts finished passes. */
	for (int i = 0; i < 3000; i++) {
		struct pce_stats w = stats_of(c);
		if (w.entries <= 500 && w.reclaim_passes > 0)
			break;
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	struct pce_stats s = stats_of(c);
	assert_true(s.entries <= 500);
	assert_true(s.removed[PCE_REASON_CAPACITY] >= 400);
	assert_int_equal(s.sync_evictions, 0);
	assert_true(s.reclaim_passes > 0);
	assert_audit(c);
	assert_int_equal(pce_cache_destroy(c), 0);
}

/* Every value stored leaves through on_release exactly once. */
static void test_release_exactly_once(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	unsigned seed = 99;
	uint64_t stored = 0, stored_sum = 0;
	uint32_t q[4];
	(void)state;

	tcache_config(&t, &cfg);
	cfg.max_entries = 50;
	tcache_open(&t, &cfg);
	for (int i = 0; i < 5000; i++) {
		uint32_t id = (uint32_t)rand_r(&seed) % 200;
		struct pce_store_opts o = {rand_r(&seed) % 2 ? PCE_STORE_REPLACE : 0,
					   rand_r(&seed) % 3 ? 0 : 5, 0};
		seq(q, id, 1 + id % 4);
		switch (rand_r(&seed) % 4) {
		case 0:
		case 1:
			if (pce_cache_store(t.c, id % 3, q, 1 + id % 4, (uint64_t)i, 0, &o, NULL) ==
			    0) {
				stored++;
				stored_sum += (uint64_t)i;
			}
			break;
		case 2:
			pce_cache_remove(t.c, id % 3, q, 1 + id % 4, NULL);
			break;
		default:
			if (i % 500 == 0)
				pce_cache_clear_ns(t.c, id % 3, NULL);
			t.now += 2;
			pce_cache_reclaim(t.c);
		}
	}
	assert_audit(t.c);
	tcache_close(&t);
	assert_int_equal(t.released, stored);
	assert_int_equal(t.value_sum, stored_sum);
}

enum { CONTENDERS = 8, CONTENDED_STORES = 20000 };

struct contender {
	struct pce_cache *c;
	pthread_barrier_t *start;
	uint32_t id;
	unsigned long failed;
	int last_rc;
};

static void *contend(void *arg)
{
	struct contender *x = arg;

	pthread_barrier_wait(x->start);
	for (uint32_t i = 0; i < CONTENDED_STORES; i++) {
		const uint32_t q[] = {x->id, i, i + 1};
		int rc = pce_cache_store(x->c, i % 4, q, 3, 1, 0, NULL, NULL);
		if (rc) {
			x->failed++;
			x->last_rc = rc;
		}
	}
	return NULL;
}

/*
 * Writers on every shard storing into a full budget: each store evicts, and
 * the others can take the room it made before it reserves.  Every store
 * must still end, and succeed, since nothing is pinned and each entry fits
 * alone (a store whose room keeps being taken finishes holding every shard
 * lock: B1 in src/budget.h).  Stores used to retry without bound while the
 * room was taken, and to fail with PCE_ENOSPC when their sweep of the shards
 * found nothing to evict because the few entries had moved to shards it had
 * already swept (1 or 2 of 160,000 stores, in each of 6 runs out of 6).
 */
static void test_contended_stores_all_fit(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct contender x[CONTENDERS];
	pthread_t th[CONTENDERS];
	pthread_barrier_t start;
	struct pce_stats st;
	(void)state;

	tcache_config(&t, &cfg);
	cfg.shards = 4;
	cfg.max_entries = 2;
	cfg.high_watermark_pct = cfg.low_watermark_pct = 100; /* only stores evict */
	cfg.on_event = NULL; /* the recorder counts for one thread at a time */
	tcache_open(&t, &cfg);
	pthread_barrier_init(&start, NULL, CONTENDERS);
	for (uint32_t i = 0; i < CONTENDERS; i++) {
		x[i] = (struct contender){t.c, &start, i + 1, 0, 0};
		assert_int_equal(pthread_create(&th[i], NULL, contend, &x[i]), 0);
	}
	for (uint32_t i = 0; i < CONTENDERS; i++) {
		pthread_join(th[i], NULL);
		if (x[i].failed)
			fail_msg("writer %u: %lu stores failed, the last with %s", i, x[i].failed,
				 pce_err_name(x[i].last_rc));
	}
	pthread_barrier_destroy(&start);
	st = stats_of(t.c);
	assert_int_equal(st.stores, CONTENDERS * CONTENDED_STORES);
	assert_int_equal(st.stores_refused, 0);
	assert_true(st.entries <= 2);
	assert_int_equal(st.removed[PCE_REASON_CAPACITY], st.stores - st.entries);
	assert_audit(t.c);
	tcache_close(&t);
	assert_int_equal(t.released, CONTENDERS * CONTENDED_STORES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock_lru_keeps_hot),
		cmocka_unit_test(test_clock_lfu_keeps_hot),
		cmocka_unit_test(test_lfu_resists_scan),
		cmocka_unit_test(test_kv_budget_declared),
		cmocka_unit_test(test_index_budget),
		cmocka_unit_test(test_per_token_accounting),
		cmocka_unit_test(test_evict_interior_keeps_extenders),
		cmocka_unit_test(test_reclaim_between_watermarks),
		cmocka_unit_test(test_background_reclaimer),
		cmocka_unit_test(test_release_exactly_once),
		cmocka_unit_test(test_contended_stores_all_fit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
