/*
 * test_pins.c - pins: never evicted nor freed while held, released exactly
 * once, leases force-released by the reclaimer, destroy refused while pins
 * live, a full pin table reported, slot generations wrapping within the
 * handle (white box: src/pin.h).
 */
#include "util.h"

#include "pin.h"

static const uint32_t a5[] = {1, 2, 3, 4, 5};

static struct pce_pin pin(struct pce_cache *c, const uint32_t *q, size_t n, uint64_t lease)
{
	struct pce_lookup_opts o = {PCE_LOOKUP_PIN, lease};
	struct pce_match m;

	assert_int_equal(pce_cache_lookup(c, 0, q, n, &o, &m), 0);
	assert_true(m.tokens > 0);
	assert_true(m.pin.id != 0);
	return m.pin;
}

static void test_release_exactly_once(void **state)
{
	struct tcache t;
	struct pce_pin p;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a5, 5, 5), 0);
	p = pin(t.c, a5, 5, 0);
	assert_int_equal(stats_of(t.c).live_pins, 1);
	assert_int_equal(stats_of(t.c).pins, 1);
	assert_audit(t.c);
	assert_int_equal(pce_pin_release(t.c, p), 0);
	assert_int_equal(pce_pin_release(t.c, p), PCE_ESTALE);
	assert_int_equal(pce_pin_release(t.c, (struct pce_pin){0}), PCE_ESTALE);
	assert_int_equal(pce_pin_release(t.c, (struct pce_pin){UINT64_MAX}), PCE_ESTALE);
	assert_int_equal(pce_pin_release(NULL, p), PCE_EINVAL);
	assert_int_equal(stats_of(t.c).live_pins, 0);
	assert_audit(t.c);
	tcache_close(&t);
}

/* A removed entry's value is released only after its last pin. */
static void test_removed_while_pinned(void **state)
{
	struct tcache t;
	struct pce_pin p1, p2;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a5, 5, 5), 0);
	p1 = pin(t.c, a5, 5, 0);
	p2 = pin(t.c, a5, 3, 0);
	assert_int_equal(pce_cache_remove(t.c, 0, a5, 5, NULL), 0);
	assert_int_equal(match(t.c, a5, 5, NULL), 0);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released, 0);
	assert_int_equal(stats_of(t.c).pinned_unlinked, 1);
	assert_audit(t.c);
	assert_int_equal(pce_pin_release(t.c, p1), 0);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released, 0);
	assert_int_equal(pce_pin_release(t.c, p2), 0);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released, 1);
	assert_int_equal(t.released_by[PCE_REASON_REMOVED], 1);
	assert_int_equal(stats_of(t.c).pinned_unlinked, 0);
	tcache_close(&t);
	assert_int_equal(t.released, 1);
}

static void test_pinned_never_evicted(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	const uint32_t b[] = {9, 9}, c2[] = {8, 8};
	struct pce_pin p;
	(void)state;

	tcache_config(&t, &cfg);
	cfg.max_entries = 1;
	tcache_open(&t, &cfg);
	assert_int_equal(put(t.c, a5, 5, 5), 0);
	p = pin(t.c, a5, 5, 0);
	assert_int_equal(put(t.c, b, 2, 2), PCE_ENOSPC);
	assert_int_equal(stats_of(t.c).stores_refused, 1);
	assert_int_equal(match(t.c, a5, 5, NULL), 5);
	assert_int_equal(pce_pin_release(t.c, p), 0);
	assert_int_equal(put(t.c, b, 2, 2), 0); /* now a5 can go */
	assert_int_equal(match(t.c, a5, 5, NULL), 0);
	assert_int_equal(stats_of(t.c).removed[PCE_REASON_CAPACITY], 1);
	assert_int_equal(stats_of(t.c).sync_evictions, 1);
	p = pin(t.c, b, 2, 0);
	assert_int_equal(put(t.c, c2, 2, 3), PCE_ENOSPC);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(match(t.c, b, 2, NULL), 2);
	assert_int_equal(pce_pin_release(t.c, p), 0);
	assert_audit(t.c);
	tcache_close(&t);
}

static void test_lease_force_release(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_pin leased, explicit_lease, forever;
	(void)state;

	tcache_config(&t, &cfg);
	cfg.default_pin_lease_ns = 100;
	tcache_open(&t, &cfg);
	assert_int_equal(put(t.c, a5, 5, 5), 0);
	leased = pin(t.c, a5, 5, 0);
	explicit_lease = pin(t.c, a5, 5, 1000);
	forever = pin(t.c, a5, 5, PCE_NEVER);
	t.now += 99;
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(stats_of(t.c).live_pins, 3);
	t.now += 1;
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(stats_of(t.c).live_pins, 2);
	assert_int_equal(stats_of(t.c).pins_forced, 1);
	assert_int_equal(pce_pin_release(t.c, leased), PCE_ESTALE);
	t.now += 1000;
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(stats_of(t.c).pins_forced, 2);
	assert_int_equal(pce_pin_release(t.c, explicit_lease), PCE_ESTALE);
	assert_audit(t.c);
	/* destroy refuses while a pin without lease is live */
	assert_int_equal(pce_cache_destroy(t.c), PCE_EBUSY);
	assert_int_equal(match(t.c, a5, 5, NULL), 5);
	assert_int_equal(pce_pin_release(t.c, forever), 0);
	tcache_close(&t);
}

/* A lease whose deadline lands on the clock's last value is still a lease
 * (PCE_NEVER as a deadline would mean none). */
static void test_lease_at_end_of_clock(void **state)
{
	struct tcache t;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a5, 5, 5), 0);
	t.now = UINT64_MAX - 10;
	pin(t.c, a5, 5, 10);
	t.now = UINT64_MAX - 1;
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(stats_of(t.c).pins_forced, 1);
	assert_int_equal(stats_of(t.c).live_pins, 0);
	tcache_close(&t);
}

/* destroy force-releases pins whose lease has expired, then proceeds. */
static void test_destroy_with_expired_lease(void **state)
{
	struct tcache t;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a5, 5, 5), 0);
	pin(t.c, a5, 5, 10);
	t.now += 10;
	tcache_close(&t);
	assert_int_equal(t.released, 1);
}

static void test_pin_table_full(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_lookup_opts o = {PCE_LOOKUP_PIN, 0};
	struct pce_pin p[3];
	struct pce_match m;
	(void)state;

	tcache_config(&t, &cfg);
	cfg.max_pins = 3;
	tcache_open(&t, &cfg);
	assert_int_equal(put(t.c, a5, 5, 5), 0);
	for (int i = 0; i < 3; i++)
		p[i] = pin(t.c, a5, 5, 0);
	assert_int_equal(pce_cache_lookup(t.c, 0, a5, 5, &o, &m), PCE_ENOPINS);
	assert_int_equal(m.tokens, 0);
	assert_int_equal(m.pin.id, 0);
	assert_int_equal(pce_pin_release(t.c, p[1]), 0);
	p[1] = pin(t.c, a5, 5, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pce_pin_release(t.c, p[i]), 0);
	tcache_close(&t);
}

/* A pin on an entry that a replace then unlinks keeps the old value. */
static void test_pin_survives_replace(void **state)
{
	struct tcache t;
	struct pce_store_opts replace = {PCE_STORE_REPLACE, 0, 0};
	struct pce_pin p;
	uint64_t v;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a5, 5, 5), 0);
	p = pin(t.c, a5, 5, 0);
	assert_int_equal(pce_cache_store(t.c, 0, a5, 5, 6, 0, &replace, NULL), 0);
	assert_int_equal(match(t.c, a5, 5, &v), 5);
	assert_int_equal(v, 6);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released, 0);
	assert_int_equal(pce_pin_release(t.c, p), 0);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released_by[PCE_REASON_REPLACED], 1);
	assert_int_equal(t.last_value, 5);
	tcache_close(&t);
}

/*
 * A handle keeps 40 bits of its slot's generation (pin.h, G1).  Generations
 * used to run on past 2^40 - 1: slot 0 then handed out id 0 (a hit reported
 * as a miss, the entry pinned for good, destroy PCE_EBUSY for ever) and the
 * other slots handles whose release failed with PCE_ESTALE, leaking the pin.
 * Instead of 2^40 pins per slot, the test starts each slot's generation just
 * below the wrap (slot i at PCE_PIN_GEN_MAX - i, before any pin is taken).
 */
static void test_generation_wraps_within_handle(void **state)
{
	enum { CAP = 4 };
	const uint64_t index_mask = (1ULL << PCE_PIN_INDEX_BITS) - 1;
	struct tcache t;
	struct pce_config cfg;
	struct pce_pin p[CAP], first[CAP];
	uint64_t gen[CAP];
	(void)state;

	tcache_config(&t, &cfg);
	cfg.max_pins = CAP;
	tcache_open(&t, &cfg);
	assert_int_equal(put(t.c, a5, 5, 5), 0);
	for (uint32_t i = 0; i < CAP; i++) {
		gen[i] = PCE_PIN_GEN_MAX - i;
		t.c->pins.slot[i].tag = pce_pin_tag(gen[i], PCE_PIN_FREE);
	}
	/* Each round holds every slot at once, wherever the search starts,
	 * so CAP + 1 rounds take every slot across the wrap. */
	for (int round = 0; round <= CAP; round++) {
		for (int k = 0; k < CAP; k++) {
			uint64_t i;

			p[k] = pin(t.c, a5, 5, 0);
			i = p[k].id & index_mask;
			assert_true(i < CAP);
			assert_int_equal(p[k].id >> PCE_PIN_INDEX_BITS, gen[i]);
			gen[i] = gen[i] == PCE_PIN_GEN_MAX ? 1 : gen[i] + 1;
			if (round == 0)
				first[k] = p[k];
		}
		assert_int_equal(stats_of(t.c).live_pins, CAP);
		assert_audit(t.c);
		for (int k = 0; k < CAP; k++)
			assert_int_equal(pce_pin_release(t.c, p[k]), 0);
		for (int k = 0; k < CAP; k++)
			assert_int_equal(pce_pin_release(t.c, p[k]), PCE_ESTALE);
		assert_int_equal(stats_of(t.c).live_pins, 0);
	}
	for (uint32_t i = 0; i < CAP; i++)
		assert_true(gen[i] >= 1 && gen[i] <= CAP + 1); /* every slot wrapped */
	for (int k = 0; k < CAP; k++) /* handles from before the wrap stay stale */
		assert_int_equal(pce_pin_release(t.c, first[k]), PCE_ESTALE);
	assert_int_equal(stats_of(t.c).pins, (CAP + 1) * CAP);
	tcache_close(&t); /* destroy: no pin left behind */
	assert_int_equal(t.released, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release_exactly_once),
		cmocka_unit_test(test_removed_while_pinned),
		cmocka_unit_test(test_pinned_never_evicted),
		cmocka_unit_test(test_lease_force_release),
		cmocka_unit_test(test_lease_at_end_of_clock),
		cmocka_unit_test(test_destroy_with_expired_lease),
		cmocka_unit_test(test_pin_table_full),
		cmocka_unit_test(test_pin_survives_replace),
		cmocka_unit_test(test_generation_wraps_within_handle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
