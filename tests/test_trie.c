/*
 * test_trie.c - trie structure: edge splits at every offset, merges on
 * remove, namespace roots, high fan-out, store-exists and replace, token and
 * value extremes, and a randomised comparison with a brute-force model.
 */
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const uint32_t ten[10] = {11, 12, 13, 14, 15, 16, 17, 18, 19, 20};

/* Store ten[0..k) (SPLIT_END at offset k) and remove it again. */
static void test_split_end_every_offset(void **state)
{
	struct tcache t;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, ten, 10, 1), 0);
	for (size_t k = 1; k < 10; k++) {
		uint64_t v = 0;
		assert_int_equal(put(t.c, ten, k, 100 + k), 0);
		assert_audit(t.c);
		assert_int_equal(stats_of(t.c).nodes, 3); /* root, head, tail */
		struct pce_lookup_opts whole = {PCE_LOOKUP_WHOLE, 0};
		struct pce_match m;
		assert_int_equal(pce_cache_lookup(t.c, 0, ten, k, &whole, &m), 0);
		assert_int_equal(m.tokens, k);
		assert_int_equal(m.value, 100 + k);
		assert_int_equal(match(t.c, ten, 10, &v), 10);
		assert_int_equal(v, 1);
		assert_int_equal(pce_cache_remove(t.c, 0, ten, k, &v), 0);
		assert_int_equal(v, 100 + k);
		assert_audit(t.c);
		assert_int_equal(stats_of(t.c).nodes, 2); /* merged back */
	}
	tcache_close(&t);
}

/* Store ten[0..k) ++ {99} (SPLIT_BRANCH at offset k) and remove it again. */
static void test_split_branch_every_offset(void **state)
{
	struct tcache t;
	uint32_t b[11];
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, ten, 10, 1), 0);
	for (size_t k = 1; k < 10; k++) {
		uint64_t v = 0;
		memcpy(b, ten, k * sizeof(uint32_t));
		b[k] = 99;
		assert_int_equal(put(t.c, b, k + 1, 200 + k), 0);
		assert_audit(t.c);
		assert_int_equal(stats_of(t.c).nodes, 4); /* root, head, tail, leaf */
		assert_int_equal(stats_of(t.c).tokens, 11);
		assert_int_equal(match(t.c, b, k + 1, &v), k + 1);
		assert_int_equal(v, 200 + k);
		assert_int_equal(match(t.c, ten, 10, &v), 10);
		assert_int_equal(v, 1);
		assert_int_equal(pce_cache_remove(t.c, 0, b, k + 1, NULL), 0);
		assert_audit(t.c);
		assert_int_equal(stats_of(t.c).nodes, 2);
		assert_int_equal(stats_of(t.c).tokens, 10);
	}
	tcache_close(&t);
}

/* Removing an entry in the middle of a chain merges its node away. */
static void test_merge_chain(void **state)
{
	struct tcache t;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, ten, 2, 2), 0);
	assert_int_equal(put(t.c, ten, 5, 5), 0);
	assert_int_equal(put(t.c, ten, 8, 8), 0);
	assert_int_equal(stats_of(t.c).nodes, 4);
	assert_int_equal(pce_cache_remove(t.c, 0, ten, 5, NULL), 0);
	assert_audit(t.c);
	assert_int_equal(stats_of(t.c).nodes, 3);
	assert_int_equal(pce_cache_remove(t.c, 0, ten, 2, NULL), 0);
	assert_audit(t.c);
	assert_int_equal(stats_of(t.c).nodes, 2);
	assert_int_equal(stats_of(t.c).tokens, 8);
	assert_int_equal(pce_cache_remove(t.c, 0, ten, 8, NULL), 0);
	assert_audit(t.c);
	assert_int_equal(stats_of(t.c).nodes, 0);
	assert_int_equal(stats_of(t.c).tokens, 0);
	assert_int_equal(stats_of(t.c).entries, 0);
	assert_int_equal(pce_cache_remove(t.c, 0, ten, 8, NULL), PCE_ENOENT);
	tcache_close(&t);
}

/* A leaf whose removal leaves its entry-less parent with one child: the
 * parent merges with that child. */
static void test_merge_parent(void **state)
{
	struct tcache t;
	const uint32_t a[] = {1, 2, 3, 4}, b[] = {1, 2, 5, 6}, c3[] = {1, 2, 7};
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a, 4, 1), 0);
	assert_int_equal(put(t.c, b, 4, 2), 0);
	assert_int_equal(stats_of(t.c).nodes, 4);
	assert_int_equal(pce_cache_remove(t.c, 0, b, 4, NULL), 0);
	assert_audit(t.c);
	assert_int_equal(stats_of(t.c).nodes, 2);
	/* With three children, removing one keeps the parent. */
	assert_int_equal(put(t.c, b, 4, 2), 0);
	assert_int_equal(put(t.c, c3, 3, 3), 0);
	assert_int_equal(pce_cache_remove(t.c, 0, b, 4, NULL), 0);
	assert_audit(t.c);
	assert_int_equal(stats_of(t.c).nodes, 4);
	tcache_close(&t);
}

/* Exact removal only: a prefix or extension of a stored sequence is no
 * entry. */
static void test_remove_exact_only(void **state)
{
	struct tcache t;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, ten, 6, 6), 0);
	assert_int_equal(pce_cache_remove(t.c, 0, ten, 5, NULL), PCE_ENOENT);
	assert_int_equal(pce_cache_remove(t.c, 0, ten, 7, NULL), PCE_ENOENT);
	assert_int_equal(pce_cache_remove(t.c, 1, ten, 6, NULL), PCE_ENOENT);
	assert_int_equal(stats_of(t.c).entries, 1);
	tcache_close(&t);
}

static void test_namespaces_isolated(void **state)
{
	struct tcache t;
	struct pce_match m;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(pce_cache_store(t.c, 7, ten, 10, 70, 0, NULL, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, 8, ten, 4, 80, 0, NULL, NULL), 0);
	assert_int_equal(pce_cache_lookup(t.c, 7, ten, 10, NULL, &m), 0);
	assert_int_equal(m.tokens, 10);
	assert_int_equal(m.value, 70);
	assert_int_equal(pce_cache_lookup(t.c, 8, ten, 10, NULL, &m), 0);
	assert_int_equal(m.tokens, 4);
	assert_int_equal(m.value, 80);
	assert_int_equal(pce_cache_lookup(t.c, 9, ten, 10, NULL, &m), 0);
	assert_int_equal(m.tokens, 0);
	/* The same sequence in two namespaces is two entries. */
	assert_int_equal(pce_cache_store(t.c, 8, ten, 10, 81, 0, NULL, NULL), 0);
	assert_int_equal(stats_of(t.c).entries, 3);
	assert_audit(t.c);
	tcache_close(&t);
}

/* Thousands of continuations after one shared prefix. */
static void test_high_fanout(void **state)
{
	enum { FAN = 5000, PREFIX = 64 };
	struct tcache t;
	uint32_t q[PREFIX + 2];
	uint64_t v;
	(void)state;

	tcache_open_default(&t);
	for (uint32_t i = 0; i < PREFIX; i++)
		q[i] = 1000 + i;
	for (uint32_t i = 0; i < FAN; i++) {
		q[PREFIX] = i * 7919u; /* spread, non-sequential keys */
		q[PREFIX + 1] = i;
		assert_int_equal(put(t.c, q, PREFIX + 2, i), 0);
	}
	assert_audit(t.c);
	for (uint32_t i = 0; i < FAN; i++) {
		q[PREFIX] = i * 7919u;
		q[PREFIX + 1] = i;
		assert_int_equal(match(t.c, q, PREFIX + 2, &v), PREFIX + 2);
		assert_int_equal(v, i);
	}
	uint64_t index_full = stats_of(t.c).index_bytes;
	for (uint32_t i = 0; i < FAN; i += 1) {
		if (i % 100 == 0)
			continue;
		q[PREFIX] = i * 7919u;
		q[PREFIX + 1] = i;
		assert_int_equal(pce_cache_remove(t.c, 0, q, PREFIX + 2, NULL), 0);
	}
	assert_audit(t.c);
	assert_int_equal(stats_of(t.c).entries, FAN / 100);
	/* The child table shrank with its children. */
	assert_true(stats_of(t.c).index_bytes < index_full / 20);
	q[PREFIX] = 300 * 7919u;
	q[PREFIX + 1] = 300;
	assert_int_equal(match(t.c, q, PREFIX + 2, &v), PREFIX + 2);
	assert_int_equal(v, 300);
	tcache_close(&t);
}

static void test_store_existing_and_replace(void **state)
{
	struct tcache t;
	struct pce_store_result r;
	struct pce_store_opts replace = {PCE_STORE_REPLACE, 0, 0};
	uint64_t v;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(pce_cache_store(t.c, 0, ten, 5, 50, 0, NULL, &r), 0);
	assert_int_equal(r.new_tokens, 5);
	assert_int_equal(r.replaced, 0);
	assert_int_equal(pce_cache_store(t.c, 0, ten, 5, 51, 0, NULL, &r), PCE_EEXIST);
	assert_int_equal(r.existing_value, 50);
	assert_int_equal(match(t.c, ten, 5, &v), 5);
	assert_int_equal(v, 50);
	assert_int_equal(pce_cache_store(t.c, 0, ten, 5, 52, 0, &replace, &r), 0);
	assert_int_equal(r.replaced, 1);
	assert_int_equal(r.existing_value, 50);
	assert_int_equal(r.new_tokens, 0);
	assert_int_equal(match(t.c, ten, 5, &v), 5);
	assert_int_equal(v, 52);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released_by[PCE_REASON_REPLACED], 1);
	assert_int_equal(t.last_value, 50);
	struct pce_stats s = stats_of(t.c);
	assert_int_equal(s.stores, 2);
	assert_int_equal(s.stores_existing, 2);
	assert_int_equal(s.entries, 1);
	assert_audit(t.c);
	tcache_close(&t);
	assert_int_equal(t.released, 2);
}

static void test_token_and_value_extremes(void **state)
{
	struct tcache t;
	const uint32_t a[] = {0, UINT32_MAX, 0, UINT32_MAX}, b[] = {UINT32_MAX, 0};
	uint64_t v;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a, 4, UINT64_MAX), 0);
	assert_int_equal(put(t.c, b, 2, 0), 0);
	assert_int_equal(put(t.c, a, 2, 7), 0);
	assert_int_equal(match(t.c, a, 4, &v), 4);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(match(t.c, b, 2, &v), 2);
	assert_int_equal(v, 0);
	assert_audit(t.c);
	tcache_close(&t);
	assert_int_equal(t.value_sum, UINT64_MAX + 7); /* wraps: 6 */
}

/* ---- randomised comparison with a brute-force model ------------------- */

enum { MODEL_MAX = 64, SEQ_MAX = 12 };

struct model {
	size_t n;
	struct {
		uint64_t ns;
		uint32_t tok[SEQ_MAX];
		size_t len;
		uint64_t value;
	} e[MODEL_MAX];
};

static size_t common(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	size_t i = 0;
	while (i < na && i < nb && a[i] == b[i])
		i++;
	return i;
}

static int model_find(const struct model *m, uint64_t ns, const uint32_t *q, size_t n)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].ns == ns && m->e[i].len == n && common(m->e[i].tok, n, q, n) == n)
			return (int)i;
	return -1;
}

/* Longest prefix of q that some entry starts with. */
static size_t model_match(const struct model *m, uint64_t ns, const uint32_t *q, size_t n)
{
	size_t best = 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].ns == ns) {
			size_t k = common(m->e[i].tok, m->e[i].len, q, n);
			best = k > best ? k : best;
		}
	return best;
}

static void random_seq(uint32_t *q, size_t *n, unsigned *seed)
{
	*n = 1 + (size_t)rand_r(seed) % SEQ_MAX;
	for (size_t i = 0; i < *n; i++)
		q[i] = (uint32_t)rand_r(seed) % 3; /* tiny alphabet: many shared prefixes */
}

static void test_random_against_model(void **state)
{
	struct tcache t;
	struct model m = {0};
	unsigned seed = 12345;
	(void)state;

	tcache_open_default(&t);
	for (int step = 0; step < 20000; step++) {
		uint32_t q[SEQ_MAX];
		size_t n;
		uint64_t ns = (uint64_t)rand_r(&seed) % 2, v;
		int op = rand_r(&seed) % 10, i;

		random_seq(q, &n, &seed);
		i = model_find(&m, ns, q, n);
		if (op < 4) {
			int rc = pce_cache_store(t.c, ns, q, n, (uint64_t)step, 0, NULL, NULL);
			if (i >= 0) {
				assert_int_equal(rc, PCE_EEXIST);
			} else if (m.n < MODEL_MAX) {
				assert_int_equal(rc, 0);
				m.e[m.n].ns = ns;
				memcpy(m.e[m.n].tok, q, n * sizeof(uint32_t));
				m.e[m.n].len = n;
				m.e[m.n].value = (uint64_t)step;
				m.n++;
			} else {
				assert_int_equal(pce_cache_remove(t.c, ns, q, n, NULL), 0);
			}
		} else if (op < 6) {
			int rc = pce_cache_remove(t.c, ns, q, n, &v);
			if (i < 0) {
				assert_int_equal(rc, PCE_ENOENT);
			} else {
				assert_int_equal(rc, 0);
				assert_int_equal(v, m.e[i].value);
				m.e[i] = m.e[--m.n];
			}
		} else {
			struct pce_match r;
			assert_int_equal(pce_cache_lookup(t.c, ns, q, n, NULL, &r), 0);
			assert_int_equal(r.tokens, model_match(&m, ns, q, n));
			if (r.tokens) {
				/* The entry returned really extends the match. */
				int found = 0;
				for (size_t j = 0; j < m.n; j++)
					if (m.e[j].ns == ns && m.e[j].value == r.value &&
					    m.e[j].len == r.entry_len &&
					    common(m.e[j].tok, m.e[j].len, q, n) >= r.tokens)
						found = 1;
				assert_true(found);
			}
		}
		if (step % 500 == 0) {
			assert_audit(t.c);
			assert_int_equal(stats_of(t.c).entries, m.n);
			assert_int_equal(pce_cache_reclaim(t.c), 0);
		}
	}
	tcache_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_end_every_offset),
		cmocka_unit_test(test_split_branch_every_offset),
		cmocka_unit_test(test_merge_chain),
		cmocka_unit_test(test_merge_parent),
		cmocka_unit_test(test_remove_exact_only),
		cmocka_unit_test(test_namespaces_isolated),
		cmocka_unit_test(test_high_fanout),
		cmocka_unit_test(test_store_existing_and_replace),
		cmocka_unit_test(test_token_and_value_extremes),
		cmocka_unit_test(test_random_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
