/*
 * test_regressions.c - one named test per bug found in the core library by
 * the fuzzer, the stress program or the allocation-failure sweep.  Each
 * test's comment says what was wrong; the test fails on the broken code.
 */
#include "util.h"

/*
 * Storing over an entry that ends at the same node (an expired one, or a
 * replacement) published the new entry as the node's own hint before
 * raising the ancestors' hints; the raise saw the node already naming the
 * new entry and stopped there.  An ancestor kept a hint that expired
 * earlier, so once that hint expired, lookups ending at the ancestor
 * missed the new, live entry (and the audit reported I6).
 */
static void test_store_over_entry_raises_ancestor_hints(void **state)
{
	struct tcache t;
	struct pce_store_opts ttl50 = {0, 50}, ttl_long = {0, 12000000};
	struct pce_store_opts ttl1k = {0, 1000}, ttl2k = {0, 2000};
	struct pce_store_opts replace = {PCE_STORE_REPLACE, 5000};
	const uint32_t a[] = {9, 3, 1, 2, 4}, b[] = {9, 3, 1, 2, 1, 7, 1}, c[] = {9, 3, 1, 2};
	uint64_t v;
	(void)state;

	/* Over an expired entry. */
	tcache_open_default(&t);
	assert_int_equal(pce_cache_store(t.c, 0, a, 5, 1, 0, &ttl50, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, 0, b, 7, 2, 0, &ttl50, NULL), 0);
	/* c ends at the branch node above a and b: that node's hint is c. */
	assert_int_equal(pce_cache_store(t.c, 0, c, 4, 3, 0, &ttl_long, NULL), 0);
	t.now += 36000000; /* everything has expired */
	assert_int_equal(pce_cache_store(t.c, 0, a, 5, 4, 0, &ttl50, NULL), 0);
	assert_audit(t.c);
	assert_int_equal(match(t.c, c, 4, &v), 4);
	assert_int_equal(v, 4);
	tcache_close(&t);

	/* PCE_STORE_REPLACE of a live entry by one that lives longer. */
	tcache_open_default(&t);
	assert_int_equal(pce_cache_store(t.c, 0, a, 5, 1, 0, &ttl1k, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, 0, b, 7, 2, 0, &ttl2k, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, 0, a, 5, 3, 0, &replace, NULL), 0);
	assert_audit(t.c);
	t.now += 3000; /* b has expired, the replacement has not */
	assert_int_equal(match(t.c, c, 4, &v), 4);
	assert_int_equal(v, 3);
	tcache_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_over_entry_raises_ancestor_hints),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
