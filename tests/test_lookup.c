/*
 * test_lookup.c - lookup semantics: longest prefix some entry starts with,
 * PCE_LOOKUP_WHOLE, min_prefix_len, block rounding, PCE_LOOKUP_PEEK,
 * statistics, empty and foreign queries.
 */
#include "util.h"

static const uint32_t a5[] = {1, 2, 3, 4, 5};

static struct pce_match look(struct pce_cache *c, const uint32_t *q, size_t n, unsigned flags)
{
	struct pce_lookup_opts o = {flags, 0};
	struct pce_match m;

	assert_int_equal(pce_cache_lookup(c, 0, q, n, &o, &m), 0);
	return m;
}

static void test_longest_prefix(void **state)
{
	struct tcache t;
	const uint32_t diverge[] = {1, 2, 3, 9}, longer[] = {1, 2, 3, 4, 5, 6, 7}, other[] = {2, 1};
	struct pce_match m;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a5, 5, 55), 0);
	m = look(t.c, diverge, 4, 0);
	assert_int_equal(m.tokens, 3);
	assert_int_equal(m.blocks, 3);
	assert_int_equal(m.value, 55);
	assert_int_equal(m.entry_len, 5);
	m = look(t.c, longer, 7, 0);
	assert_int_equal(m.tokens, 5);
	m = look(t.c, a5, 2, 0); /* the query ends inside the edge */
	assert_int_equal(m.tokens, 2);
	assert_int_equal(m.entry_len, 5);
	m = look(t.c, other, 2, 0);
	assert_int_equal(m.tokens, 0);
	assert_int_equal(m.value, 0);
	tcache_close(&t);
}

static void test_whole_flag(void **state)
{
	struct tcache t;
	const uint32_t q[] = {1, 2, 3, 4, 9};
	struct pce_match m;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a5, 5, 55), 0);
	assert_int_equal(put(t.c, a5, 2, 22), 0);
	m = look(t.c, q, 5, 0);
	assert_int_equal(m.tokens, 4);
	assert_int_equal(m.value, 55);
	m = look(t.c, q, 5, PCE_LOOKUP_WHOLE);
	assert_int_equal(m.tokens, 2);
	assert_int_equal(m.value, 22);
	assert_int_equal(m.entry_len, 2);
	m = look(t.c, a5, 1, PCE_LOOKUP_WHOLE);
	assert_int_equal(m.tokens, 0);
	m = look(t.c, a5, 5, PCE_LOOKUP_WHOLE);
	assert_int_equal(m.tokens, 5);
	assert_int_equal(m.value, 55);
	tcache_close(&t);
}

static void test_min_prefix_len(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	const uint32_t q[] = {1, 2, 9};
	(void)state;

	tcache_config(&t, &cfg);
	cfg.min_prefix_len = 3;
	tcache_open(&t, &cfg);
	assert_int_equal(put(t.c, a5, 2, 1), PCE_ESHORT);
	assert_int_equal(put(t.c, a5, 5, 55), 0);
	assert_int_equal(look(t.c, q, 3, 0).tokens, 0); /* 2 < 3 */
	assert_int_equal(look(t.c, a5, 3, 0).tokens, 3);
	struct pce_stats s = stats_of(t.c);
	assert_int_equal(s.lookups, 2);
	assert_int_equal(s.hits, 1);
	assert_int_equal(s.misses, 1);
	tcache_close(&t);
}

static void test_block_rounding(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	uint32_t q[16];
	struct pce_match m;
	(void)state;

	tcache_config(&t, &cfg);
	cfg.block_size = 4;
	tcache_open(&t, &cfg);
	for (uint32_t i = 0; i < 16; i++)
		q[i] = i;
	assert_int_equal(put(t.c, q, 10, 10), 0);
	m = look(t.c, q, 16, 0);
	assert_int_equal(m.tokens, 8);
	assert_int_equal(m.blocks, 2);
	assert_int_equal(m.entry_len, 10);
	m = look(t.c, q, 7, 0);
	assert_int_equal(m.tokens, 4);
	assert_int_equal(m.blocks, 1);
	m = look(t.c, q, 3, 0); /* less than one block */
	assert_int_equal(m.tokens, 0);
	m = look(t.c, q, 16, PCE_LOOKUP_WHOLE); /* entry of 10 -> 8 */
	assert_int_equal(m.tokens, 8);
	assert_int_equal(stats_of(t.c).hit_tokens, 8 + 4 + 8);
	tcache_close(&t);
}

static void test_peek_has_no_side_effects(void **state)
{
	struct tcache t;
	struct pce_lookup_opts bad = {PCE_LOOKUP_PEEK | PCE_LOOKUP_PIN, 0};
	struct pce_match m;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a5, 5, 55), 0);
	assert_int_equal(look(t.c, a5, 5, PCE_LOOKUP_PEEK).tokens, 5);
	assert_int_equal(stats_of(t.c).lookups, 0);
	assert_int_equal(pce_cache_lookup(t.c, 0, a5, 5, &bad, &m), PCE_EINVAL);
	assert_int_equal(m.tokens, 0);
	tcache_close(&t);
}

static void test_stats_counters(void **state)
{
	struct tcache t;
	const uint32_t miss[] = {9, 9};
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a5, 5, 55), 0);
	look(t.c, a5, 5, 0);
	look(t.c, a5, 3, 0);
	look(t.c, miss, 2, 0);
	struct pce_stats s = stats_of(t.c);
	assert_int_equal(s.lookups, 3);
	assert_int_equal(s.hits, 2);
	assert_int_equal(s.misses, 1);
	assert_int_equal(s.query_tokens, 10);
	assert_int_equal(s.hit_tokens, 8);
	assert_int_equal(s.stores, 1);
	assert_int_equal(s.entries, 1);
	assert_int_equal(s.tokens, 5);
	assert_true(s.index_bytes > 0);
	assert_true(s.fixed_bytes > 0);
	assert_int_equal(s.shards, 16);
	tcache_close(&t);
}

static void test_empty_and_bad_queries(void **state)
{
	struct tcache t;
	struct pce_match m;
	struct pce_lookup_opts unknown = {1u << 20, 0};
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a5, 5, 55), 0);
	assert_int_equal(pce_cache_lookup(t.c, 0, NULL, 0, NULL, &m), 0);
	assert_int_equal(m.tokens, 0);
	assert_int_equal(pce_cache_lookup(t.c, 0, a5, 0, NULL, &m), 0);
	assert_int_equal(m.tokens, 0);
	assert_int_equal(pce_cache_lookup(t.c, 0, NULL, 3, NULL, &m), PCE_EINVAL);
	assert_int_equal(pce_cache_lookup(NULL, 0, a5, 3, NULL, &m), PCE_EINVAL);
	assert_int_equal(pce_cache_lookup(t.c, 0, a5, 3, NULL, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_lookup(t.c, 0, a5, 3, &unknown, &m), PCE_EINVAL);
	assert_int_equal(pce_cache_lookup(t.c, 0, a5, PCE_MAX_TOKENS + 1, NULL, &m), PCE_E2BIG);
	assert_int_equal(pce_cache_lookup(t.c, 0, a5, SIZE_MAX, NULL, &m), PCE_E2BIG);
	tcache_close(&t);
}

/* Among several entries extending the match, the lookup returns the one
 * that expires last (the hint), and a hit on it refers to it only. */
static void test_entry_choice_is_latest_expiry(void **state)
{
	struct tcache t;
	const uint32_t b[] = {1, 2, 3, 7}, c[] = {1, 2, 8}, q[] = {1, 2, 9};
	struct pce_store_opts ttl10 = {0, 10, 0}, ttl90 = {0, 90, 0}, ttl50 = {0, 50, 0};
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(pce_cache_store(t.c, 0, a5, 5, 1, 0, &ttl10, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, 0, b, 4, 2, 0, &ttl90, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, 0, c, 3, 3, 0, &ttl50, NULL), 0);
	assert_int_equal(look(t.c, q, 3, 0).value, 2);
	assert_int_equal(pce_cache_remove(t.c, 0, b, 4, NULL), 0);
	assert_audit(t.c);
	assert_int_equal(look(t.c, q, 3, 0).value, 3);
	tcache_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_longest_prefix),
		cmocka_unit_test(test_whole_flag),
		cmocka_unit_test(test_min_prefix_len),
		cmocka_unit_test(test_block_rounding),
		cmocka_unit_test(test_peek_has_no_side_effects),
		cmocka_unit_test(test_stats_counters),
		cmocka_unit_test(test_empty_and_bad_queries),
		cmocka_unit_test(test_entry_choice_is_latest_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
