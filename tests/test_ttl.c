/*
 * test_ttl.c - TTLs on the injectable clock: an expired entry is a miss at
 * once, is reclaimed in the background with reason TTL, does not block a
 * store of the same sequence, and does not hide other live entries.
 */
#include "util.h"

#include <stdlib.h>

static const uint32_t a5[] = {1, 2, 3, 4, 5};

static void test_expiry_is_immediate_miss(void **state)
{
	struct tcache t;
	struct pce_store_opts ttl = {0, 100, 0};
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(pce_cache_store(t.c, 0, a5, 5, 5, 0, &ttl, NULL), 0);
	t.now += 99;
	assert_int_equal(match(t.c, a5, 5, NULL), 5);
	t.now += 1;
	assert_int_equal(match(t.c, a5, 5, NULL), 0);
	assert_int_equal(stats_of(t.c).entries, 1); /* not reclaimed yet */
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(stats_of(t.c).entries, 0);
	assert_int_equal(stats_of(t.c).removed[PCE_REASON_TTL], 1);
	assert_int_equal(t.released_by[PCE_REASON_TTL], 1);
	assert_int_equal(t.last_value, 5);
	tcache_close(&t);
}

static void test_default_ttl_and_never(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_store_opts never = {0, PCE_NEVER, 0};
	const uint32_t b[] = {7, 8};
	(void)state;

	tcache_config(&t, &cfg);
	cfg.default_ttl_ns = 50;
	tcache_open(&t, &cfg);
	assert_int_equal(put(t.c, a5, 5, 5), 0);
	assert_int_equal(pce_cache_store(t.c, 0, b, 2, 2, 0, &never, NULL), 0);
	t.now += 1000000;
	assert_int_equal(match(t.c, a5, 5, NULL), 0);
	assert_int_equal(match(t.c, b, 2, NULL), 2);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(stats_of(t.c).entries, 1);
	assert_audit(t.c);
	tcache_close(&t);
}

/* The expired entry's subtree is dead: the lookup falls back to the
 * longest match that a live entry still gives (slow path). */
static void test_expired_falls_back_to_live_entries(void **state)
{
	struct tcache t;
	struct pce_store_opts short_ttl = {0, 10, 0};
	const uint32_t p3[] = {1, 2, 3}, side[] = {1, 2, 9}, q[] = {1, 2, 3, 4, 8};
	struct pce_lookup_opts whole = {PCE_LOOKUP_WHOLE, 0};
	struct pce_match m;
	uint64_t v;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(pce_cache_store(t.c, 0, a5, 5, 5, 0, &short_ttl, NULL), 0);
	assert_int_equal(put(t.c, p3, 3, 3), 0);
	assert_int_equal(put(t.c, side, 3, 9), 0);
	assert_int_equal(match(t.c, q, 5, &v), 4);
	assert_int_equal(v, 5);
	t.now += 10;
	assert_int_equal(match(t.c, q, 5, &v), 3); /* p3 is the longest live */
	assert_int_equal(v, 3);
	assert_int_equal(pce_cache_lookup(t.c, 0, q, 5, &whole, &m), 0);
	assert_int_equal(m.tokens, 3);
	assert_int_equal(pce_cache_remove(t.c, 0, p3, 3, NULL), 0);
	assert_int_equal(match(t.c, q, 5, &v), 2); /* only side extends [1 2] */
	assert_int_equal(v, 9);
	assert_int_equal(pce_cache_lookup(t.c, 0, q, 5, &whole, &m), 0);
	assert_int_equal(m.tokens, 0);
	assert_audit(t.c);
	tcache_close(&t);
}

static void test_store_over_expired_and_remove_expired(void **state)
{
	struct tcache t;
	struct pce_store_opts ttl = {0, 10, 0};
	struct pce_store_result r;
	uint64_t v;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(pce_cache_store(t.c, 0, a5, 5, 1, 0, &ttl, NULL), 0);
	t.now += 10;
	assert_int_equal(pce_cache_store(t.c, 0, a5, 5, 2, 0, NULL, &r), 0);
	assert_int_equal(r.replaced, 0); /* the old one had expired */
	assert_int_equal(r.existing_value, 0); /* ...so it is not reported */
	assert_int_equal(match(t.c, a5, 5, &v), 5);
	assert_int_equal(v, 2);
	assert_int_equal(pce_cache_store(t.c, 0, a5, 3, 3, 0, &ttl, NULL), 0);
	t.now += 10;
	assert_int_equal(pce_cache_remove(t.c, 0, a5, 3, NULL), PCE_ENOENT);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released_by[PCE_REASON_TTL], 2);
	assert_int_equal(stats_of(t.c).entries, 1);
	assert_audit(t.c);
	tcache_close(&t);
}

/* Hints follow expiries through inserts and removals (audit checks I6). */
static void test_hints_under_mixed_ttls(void **state)
{
	struct tcache t;
	uint32_t q[4] = {5, 6, 0, 0};
	unsigned seed = 7;
	(void)state;

	tcache_open_default(&t);
	for (int i = 0; i < 400; i++) {
		struct pce_store_opts o = {0, 1 + (uint64_t)(rand_r(&seed) % 1000), 0};
		q[2] = (uint32_t)(rand_r(&seed) % 8);
		q[3] = (uint32_t)(rand_r(&seed) % 8);
		size_t n = 2 + (size_t)(rand_r(&seed) % 3);
		if (rand_r(&seed) % 3)
			pce_cache_store(t.c, 0, q, n, (uint64_t)i, 0, &o, NULL);
		else
			pce_cache_remove(t.c, 0, q, n, NULL);
		if (i % 50 == 0) {
			t.now += 100;
			assert_int_equal(pce_cache_reclaim(t.c), 0);
		}
		assert_audit(t.c);
	}
	tcache_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expiry_is_immediate_miss),
		cmocka_unit_test(test_default_ttl_and_never),
		cmocka_unit_test(test_expired_falls_back_to_live_entries),
		cmocka_unit_test(test_store_over_expired_and_remove_expired),
		cmocka_unit_test(test_hints_under_mixed_ttls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
