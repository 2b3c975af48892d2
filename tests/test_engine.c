/*
 * test_engine.c - what an inference engine needs beyond store and lookup:
 * evicting on demand, budgets changed at run time, the holder a store
 * reports (and pins), removing by prefix, entry ids in events and
 * releases, and touching an entry's TTL and CLOCK reference.
 */
#include "util.h"

#include <pthread.h>
#include <string.h>

static void seq(uint32_t *q, uint32_t id, size_t n)
{
	for (size_t i = 0; i < n; i++)
		q[i] = id * 1000 + (uint32_t)i;
}

static struct pce_store_opts with_ttl(uint64_t ttl)
{
	struct pce_store_opts o = {0, ttl, 0};
	return o;
}

/* ---- pce_cache_evict --------------------------------------------------- */

/* CLOCK order: entries looked up since the hand passed keep their second
 * chance; the values are released before the call returns. */
static void test_evict_entries_clock_order(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_evicted f;
	uint32_t q[4];
	(void)state;

	tcache_config(&t, &cfg);
	cfg.shards = 1;
	tcache_open(&t, &cfg);
	for (uint32_t id = 0; id < 8; id++) {
		seq(q, id, 4);
		assert_int_equal(put(t.c, q, 4, id), 0);
	}
	for (uint32_t id = 0; id < 2; id++) {
		seq(q, id, 4);
		assert_int_equal(match(t.c, q, 4, NULL), 4);
	}
	assert_int_equal(pce_cache_evict(t.c, PCE_EVICT_ENTRIES, 3, &f), 0);
	assert_int_equal(f.entries, 3);
	assert_int_equal(f.tokens, 12);
	assert_true(f.index_bytes > 0);
	assert_int_equal(t.released_by[PCE_REASON_CAPACITY], 3); /* already released */
	assert_int_equal(t.value_sum, 2 + 3 + 4);                  /* the cold ones */
	assert_int_equal(stats_of(t.c).entries, 5);
	assert_audit(t.c);
	tcache_close(&t);
}

/* Watermarks do not matter: nothing is over any budget here. */
static void test_evict_below_watermarks(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_evicted f;
	uint32_t q[4];
	(void)state;

	tcache_config(&t, &cfg);
	cfg.max_entries = 1000;
	cfg.kv_budget = 1u << 20;
	tcache_open(&t, &cfg);
	for (uint32_t id = 0; id < 20; id++) {
		seq(q, id, 4);
		assert_int_equal(pce_cache_store(t.c, 0, q, 4, id, 100, NULL, NULL), 0);
	}
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(stats_of(t.c).entries, 20);
	assert_int_equal(pce_cache_evict(t.c, PCE_EVICT_KV_BYTES, 250, &f), 0);
	assert_int_equal(f.kv_bytes, 300); /* whole entries: 3 x 100 */
	assert_int_equal(f.entries, 3);
	assert_int_equal(stats_of(t.c).kv_bytes, 1700);
	assert_int_equal(t.released, 3);
	assert_audit(t.c);
	tcache_close(&t);
}

/* PER_TOKEN: an entry whose tokens a longer entry shares frees no KV; the
 * eviction goes on until the tokens asked for are free. */
static void test_evict_tokens_per_token(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_evicted f;
	const uint32_t longer[] = {1, 2, 3, 4, 5, 6}, inner[] = {1, 2, 3};
	(void)state;

	tcache_config(&t, &cfg);
	cfg.shards = 1;
	cfg.kv_mode = PCE_KV_PER_TOKEN;
	cfg.kv_bytes_per_token = 10;
	tcache_open(&t, &cfg);
	assert_int_equal(put(t.c, inner, 3, 1), 0);  /* first under the hand */
	assert_int_equal(put(t.c, longer, 6, 2), 0);
	assert_int_equal(stats_of(t.c).tokens, 6);
	assert_int_equal(pce_cache_evict(t.c, PCE_EVICT_TOKENS, 1, &f), 0);
	/* the inner entry went first and freed nothing of the KV */
	assert_int_equal(f.entries, 2);
	assert_int_equal(f.tokens, 6);
	assert_int_equal(f.kv_bytes, 60);
	assert_int_equal(stats_of(t.c).kv_bytes, 0);
	assert_audit(t.c);
	tcache_close(&t);
}

/* Asking for more than exists evicts everything unpinned: PCE_ENOSPC with
 * what was freed; the pinned entry stays. */
static void test_evict_more_than_exists(void **state)
{
	struct tcache t;
	struct pce_evicted f;
	struct pce_lookup_opts pin = {PCE_LOOKUP_PIN, 0};
	struct pce_match m;
	uint32_t q[4];
	(void)state;

	tcache_open_default(&t);
	for (uint32_t id = 0; id < 5; id++) {
		seq(q, id, 4);
		assert_int_equal(put(t.c, q, 4, id), 0);
	}
	seq(q, 3, 4);
	assert_int_equal(pce_cache_lookup(t.c, 0, q, 4, &pin, &m), 0);
	assert_int_not_equal(m.pin.id, 0);
	assert_int_equal(pce_cache_evict(t.c, PCE_EVICT_ENTRIES, 100, &f), PCE_ENOSPC);
	assert_int_equal(f.entries, 4);
	assert_int_equal(stats_of(t.c).entries, 1);
	assert_int_equal(match(t.c, q, 4, NULL), 4);
	assert_int_equal(pce_cache_evict(t.c, PCE_EVICT_TOKENS, 1, &f), PCE_ENOSPC);
	assert_int_equal(f.entries, 0);
	assert_int_equal(pce_pin_release(t.c, m.pin), 0);
	assert_int_equal(pce_cache_evict(t.c, PCE_EVICT_TOKENS, 1, &f), 0);
	assert_int_equal(f.tokens, 4);
	assert_int_equal(t.released, 5);
	assert_audit(t.c);
	tcache_close(&t);
}

static void test_evict_edges(void **state)
{
	struct tcache t;
	struct pce_evicted f;
	const uint32_t q[] = {1, 2};
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(pce_cache_evict(NULL, PCE_EVICT_ENTRIES, 1, &f), PCE_EINVAL);
	assert_int_equal(pce_cache_evict(t.c, (enum pce_evict_unit)7, 1, &f), PCE_EINVAL);
	/* an empty cache: nothing to free */
	assert_int_equal(pce_cache_evict(t.c, PCE_EVICT_ENTRIES, 1, &f), PCE_ENOSPC);
	assert_int_equal(put(t.c, q, 2, 1), 0);
	assert_int_equal(pce_cache_evict(t.c, PCE_EVICT_ENTRIES, 0, &f), 0);
	assert_int_equal(f.entries, 0);
	assert_int_equal(pce_cache_evict(t.c, PCE_EVICT_ENTRIES, 1, NULL), 0);
	assert_int_equal(stats_of(t.c).entries, 0);
	tcache_close(&t);
}

/* ---- pce_cache_set_budgets --------------------------------------------- */

static struct pce_budgets budgets(uint64_t kv, uint64_t index, uint64_t entries)
{
	struct pce_budgets b = {kv, index, entries, 90, 80};
	return b;
}

static void test_budgets_shrink_evicts(void **state)
{
	struct tcache t;
	struct pce_budgets b = budgets(0, 0, 4);
	uint32_t q[4];
	(void)state;

	tcache_open_default(&t);
	for (uint32_t id = 0; id < 10; id++) {
		seq(q, id, 4);
		assert_int_equal(put(t.c, q, 4, id), 0);
	}
	assert_int_equal(pce_cache_set_budgets(t.c, &b), 0);
	assert_int_equal(stats_of(t.c).entries, 4);
	assert_int_equal(stats_of(t.c).max_entries, 4);
	assert_int_equal(t.released_by[PCE_REASON_CAPACITY], 6);
	/* in force for stores: the fifth evicts */
	seq(q, 10, 4);
	assert_int_equal(put(t.c, q, 4, 10), 0);
	assert_int_equal(stats_of(t.c).entries, 4);
	assert_audit(t.c);
	tcache_close(&t);
}

/* Pinned entries keep usage above a shrunk budget: PCE_EBUSY, the budget
 * is in force anyway, stores are refused, usage never rises (I11). */
static void test_budgets_shrink_pinned(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_budgets b = budgets(0, 0, 2);
	struct pce_lookup_opts pin = {PCE_LOOKUP_PIN, 0};
	struct pce_match m[4];
	uint32_t q[4];
	(void)state;

	tcache_config(&t, &cfg);
	cfg.shards = 1;
	tcache_open(&t, &cfg);
	for (uint32_t id = 0; id < 4; id++) {
		seq(q, id, 4);
		assert_int_equal(put(t.c, q, 4, id), 0);
		assert_int_equal(pce_cache_lookup(t.c, 0, q, 4, &pin, &m[id]), 0);
	}
	assert_int_equal(pce_cache_set_budgets(t.c, &b), PCE_EBUSY);
	assert_int_equal(stats_of(t.c).max_entries, 2);
	assert_int_equal(stats_of(t.c).entries, 4);
	assert_audit(t.c);
	seq(q, 9, 4);
	assert_int_equal(put(t.c, q, 4, 9), PCE_ENOSPC);
	assert_int_equal(stats_of(t.c).entries, 4);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pce_pin_release(t.c, m[i].pin), 0);
	assert_int_equal(put(t.c, q, 4, 9), 0); /* evicts the 3 unpinned */
	assert_int_equal(stats_of(t.c).entries, 2);
	assert_int_equal(pce_pin_release(t.c, m[3].pin), 0);
	assert_audit(t.c);
	tcache_close(&t);
}

/* 0 is unlimited; growing lets refused stores in; watermarks are checked. */
static void test_budgets_grow_and_zero(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_budgets b = budgets(0, 0, 0);
	uint32_t q[4];
	(void)state;

	tcache_config(&t, &cfg);
	cfg.kv_budget = 100;
	cfg.high_watermark_pct = cfg.low_watermark_pct = 100;
	tcache_open(&t, &cfg);
	seq(q, 0, 4);
	assert_int_equal(pce_cache_store(t.c, 0, q, 4, 0, 300, NULL, NULL), PCE_ENOSPC);
	b.kv_budget = 1000;
	assert_int_equal(pce_cache_set_budgets(t.c, &b), 0);
	assert_int_equal(pce_cache_store(t.c, 0, q, 4, 0, 300, NULL, NULL), 0);
	assert_int_equal(stats_of(t.c).kv_budget, 1000);
	b.kv_budget = 0;
	assert_int_equal(pce_cache_set_budgets(t.c, &b), 0);
	for (uint32_t id = 1; id < 50; id++) {
		seq(q, id, 4);
		assert_int_equal(pce_cache_store(t.c, 0, q, 4, id, 1000, NULL, NULL), 0);
	}
	assert_int_equal(stats_of(t.c).kv_budget, 0);
	assert_int_equal(stats_of(t.c).entries, 50);
	/* invalid watermarks: refused, nothing changed */
	b = budgets(1, 1, 1);
	b.high_watermark_pct = 0;
	assert_int_equal(pce_cache_set_budgets(t.c, &b), PCE_EINVAL);
	b.high_watermark_pct = 101;
	assert_int_equal(pce_cache_set_budgets(t.c, &b), PCE_EINVAL);
	b.high_watermark_pct = 50;
	b.low_watermark_pct = 60;
	assert_int_equal(pce_cache_set_budgets(t.c, &b), PCE_EINVAL);
	assert_int_equal(pce_cache_set_budgets(t.c, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_set_budgets(NULL, &b), PCE_EINVAL);
	assert_int_equal(stats_of(t.c).entries, 50);
	assert_int_equal(stats_of(t.c).max_entries, 0);
	assert_audit(t.c);
	tcache_close(&t);
}

/* New watermarks steer the reclaimer; a KV shrink in PER_TOKEN mode. */
static void test_budgets_watermarks_per_token(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_budgets b = budgets(1000, 0, 0);
	uint32_t q[10];
	(void)state;

	tcache_config(&t, &cfg);
	cfg.kv_mode = PCE_KV_PER_TOKEN;
	cfg.kv_bytes_per_token = 1;
	tcache_open(&t, &cfg);
	for (uint32_t id = 0; id < 60; id++) {
		seq(q, id, 10);
		assert_int_equal(put(t.c, q, 10, id), 0);
	}
	b.high_watermark_pct = 50;
	b.low_watermark_pct = 25;
	assert_int_equal(pce_cache_set_budgets(t.c, &b), 0);
	assert_true(stats_of(t.c).kv_bytes <= 1000);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_true(stats_of(t.c).kv_bytes <= 250);
	assert_audit(t.c);
	tcache_close(&t);
}

/* Shrinking while stores run: once the call returns 0, the gauge is within
 * the new budget but for reservations being rolled back (one per storing
 * thread), and stays so (I11 under a concurrent shrink). */
#define SHRINK_WRITERS 2

struct shrinker {
	struct pce_cache *c;
	int stop;
	uint32_t id;
};

static void *shrink_writer(void *arg)
{
	struct shrinker *x = arg;
	uint32_t q[4];

	for (uint32_t i = 0; !__atomic_load_n(&x->stop, __ATOMIC_ACQUIRE); i++) {
		int rc;
		seq(q, x->id * 100000 + i % 5000, 4);
		rc = pce_cache_store(x->c, 0, q, 4, i, 0, NULL, NULL);
		assert_true(rc == 0 || rc == PCE_EEXIST || rc == PCE_ENOSPC);
	}
	return NULL;
}

static void test_budgets_shrink_concurrent(void **state)
{
	struct pce_config cfg;
	struct shrinker x[SHRINK_WRITERS];
	pthread_t th[SHRINK_WRITERS];
	struct pce_cache *c;
	(void)state;

	pce_config_init(&cfg);
	cfg.max_entries = 4000;
	cfg.shards = 4;
	assert_int_equal(pce_cache_create(&cfg, &c), 0);
	for (uint32_t i = 0; i < SHRINK_WRITERS; i++) {
		x[i] = (struct shrinker){c, 0, i + 1};
		assert_int_equal(pthread_create(&th[i], NULL, shrink_writer, &x[i]), 0);
	}
	for (int round = 0; round < 40; round++) {
		struct pce_budgets b = budgets(0, 0, round % 2 ? 4000 : 100);
		assert_int_equal(pce_cache_set_budgets(c, &b), 0);
		for (int k = 0; k < 50; k++)
			assert_true(stats_of(c).entries <= b.max_entries + SHRINK_WRITERS);
	}
	for (uint32_t i = 0; i < SHRINK_WRITERS; i++) {
		__atomic_store_n(&x[i].stop, 1, __ATOMIC_RELEASE);
		pthread_join(th[i], NULL);
	}
	assert_audit(c);
	assert_int_equal(pce_cache_destroy(c), 0);
}

/* ---- the store's holder ------------------------------------------------- */

struct idlog {
	uint64_t stored[64], removed[64], released[64];
	enum pce_reason why[64];
	int nstored, nremoved, nreleased;
};

static void log_event(void *ctx, const struct pce_event *ev)
{
	struct idlog *l = ctx;

	if (ev->kind == PCE_EVENT_STORED) {
		l->stored[l->nstored++] = ev->id;
	} else {
		l->why[l->nremoved] = ev->reason;
		l->removed[l->nremoved++] = ev->id;
	}
}

static void log_release(void *ctx, const struct pce_released *r)
{
	struct idlog *l = ctx;

	l->released[l->nreleased++] = r->id;
}

static void open_logged(struct tcache *t, struct pce_config *cfg, struct idlog *l)
{
	memset(l, 0, sizeof(*l));
	cfg->on_event = log_event;
	cfg->event_ctx = l;
	cfg->on_release = log_release;
	cfg->release_ctx = l;
	tcache_open(t, cfg);
}

static void test_holder_reported(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct idlog l;
	struct pce_store_result r;
	const uint32_t a[] = {1, 2, 3, 4, 5, 6, 7, 8}, b[] = {1, 2, 3, 4, 9, 9};
	const uint32_t other[] = {5, 5};
	(void)state;

	tcache_config(&t, &cfg);
	open_logged(&t, &cfg, &l);
	assert_int_equal(pce_cache_store(t.c, 0, other, 2, 5, 0, NULL, &r), 0);
	assert_int_equal(r.holder_tokens, 0); /* empty: no holder */
	assert_int_equal(r.holder_pin.id, 0);
	assert_int_equal(pce_cache_store(t.c, 0, a, 8, 11, 0, NULL, &r), 0);
	assert_int_equal(r.holder_tokens, 0);
	assert_int_equal(pce_cache_store(t.c, 0, b, 6, 22, 0, NULL, &r), 0);
	assert_int_equal(r.holder_tokens, 4);
	assert_int_equal(r.holder_len, 8);
	assert_int_equal(r.holder_value, 11);
	assert_int_equal(r.holder_id, l.stored[1]);
	assert_int_equal(r.new_tokens, 2);
	assert_int_equal(r.holder_pin.id, 0);
	/* another namespace holds nothing */
	assert_int_equal(pce_cache_store(t.c, 7, b, 6, 33, 0, NULL, &r), 0);
	assert_int_equal(r.holder_tokens, 0);
	/* the exact sequence: PCE_EEXIST, the holder covers it all */
	assert_int_equal(pce_cache_store(t.c, 0, a, 8, 44, 0, NULL, &r), PCE_EEXIST);
	assert_int_equal(r.holder_tokens, 8);
	assert_int_equal(r.holder_value, 11);
	assert_int_equal(r.existing_value, 11);
	assert_int_equal(stats_of(t.c).lookups, 0); /* no side effect */
	assert_audit(t.c);
	tcache_close(&t);
}

/* Same choice as a lookup: whole blocks, min_prefix_len, latest expiry,
 * live entries only. */
static void test_holder_choice_as_lookup(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_store_result r;
	struct pce_store_opts ttl10 = with_ttl(10), ttl90 = with_ttl(90);
	const uint32_t x[] = {1, 2, 3, 4, 5, 6, 7, 8}, y[] = {1, 2, 3, 4, 5, 6, 8, 8};
	const uint32_t s[] = {1, 2, 3, 4, 5, 6, 9, 9}, u[] = {1, 2, 3, 4, 5, 7, 7, 7};
	(void)state;

	tcache_config(&t, &cfg);
	cfg.block_size = 4;
	cfg.min_prefix_len = 4;
	tcache_open(&t, &cfg);
	assert_int_equal(pce_cache_store(t.c, 0, x, 8, 1, 0, &ttl10, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, 0, y, 8, 2, 0, &ttl90, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, 0, s, 8, 3, 0, NULL, &r), 0);
	assert_int_equal(r.holder_tokens, 4); /* 6 matched, one whole block */
	assert_int_equal(r.holder_value, 2);  /* expires last */
	t.now += 200;                         /* both expired */
	assert_int_equal(pce_cache_store(t.c, 0, u, 8, 4, 0, NULL, &r), 0);
	assert_int_equal(r.holder_tokens, 4);
	assert_int_equal(r.holder_value, 3);  /* the live one */
	assert_audit(t.c);
	tcache_close(&t);
}

/* A pinned holder outlives its removal; its value is released after the
 * pin.  With PCE_EEXIST the pin is kept. */
static void test_holder_pinned(void **state)
{
	struct tcache t;
	struct pce_store_result r, r2;
	struct pce_store_opts pinh = {PCE_STORE_PIN_HOLDER, 0, 0};
	const uint32_t a[] = {1, 2, 3, 4}, b[] = {1, 2, 3, 9};
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a, 4, 7), 0);
	assert_int_equal(pce_cache_store(t.c, 0, b, 4, 8, 0, &pinh, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_store(t.c, 0, b, 4, 8, 0, &pinh, &r), 0);
	assert_int_equal(r.holder_tokens, 3);
	assert_int_not_equal(r.holder_pin.id, 0);
	assert_int_equal(stats_of(t.c).live_pins, 1);
	assert_int_equal(pce_cache_remove(t.c, 0, a, 4, NULL), 0);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released, 0); /* still pinned */
	assert_int_equal(pce_cache_store(t.c, 0, b, 4, 9, 0, &pinh, &r2), PCE_EEXIST);
	assert_int_equal(r2.holder_tokens, 4);
	assert_int_equal(r2.holder_value, 8);
	assert_int_not_equal(r2.holder_pin.id, 0);
	assert_audit(t.c);
	assert_int_equal(pce_pin_release(t.c, r.holder_pin), 0);
	assert_int_equal(pce_pin_release(t.c, r2.holder_pin), 0);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released, 1);
	assert_int_equal(t.last_value, 7);
	tcache_close(&t);
}

/* A full pin table refuses the store (nothing stored); a failed store
 * keeps no pin. */
static void test_holder_pin_failures(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_store_result r;
	struct pce_store_opts pinh = {PCE_STORE_PIN_HOLDER, 0, PCE_NEVER};
	struct pce_lookup_opts pin = {PCE_LOOKUP_PIN, 0};
	struct pce_match m;
	const uint32_t a[] = {1, 2, 3}, b[] = {1, 2, 4}, c[] = {7, 7};
	(void)state;

	tcache_config(&t, &cfg);
	cfg.max_pins = 1;
	cfg.max_entries = 1;
	cfg.shards = 1;
	tcache_open(&t, &cfg);
	assert_int_equal(put(t.c, a, 3, 1), 0);
	assert_int_equal(pce_cache_lookup(t.c, 0, a, 3, &pin, &m), 0);
	assert_int_not_equal(m.pin.id, 0);
	assert_int_equal(pce_cache_store(t.c, 0, b, 3, 2, 0, &pinh, &r), PCE_ENOPINS);
	assert_int_equal(r.holder_tokens, 0);
	assert_int_equal(stats_of(t.c).entries, 1);
	/* no holder: nothing to pin, the store goes ahead (and is refused by
	 * the budget: the only entry is pinned) */
	assert_int_equal(pce_cache_store(t.c, 0, c, 2, 3, 0, &pinh, &r), PCE_ENOSPC);
	assert_int_equal(r.holder_pin.id, 0);
	assert_int_equal(pce_pin_release(t.c, m.pin), 0);
	assert_int_equal(stats_of(t.c).live_pins, 0);
	assert_audit(t.c);
	tcache_close(&t);
}

static void test_holder_pin_dropped_on_enospc(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_store_result r;
	struct pce_store_opts pinh = {PCE_STORE_PIN_HOLDER, 0, 0};
	const uint32_t a[] = {1, 2, 3}, b[] = {1, 2, 4};
	(void)state;

	tcache_config(&t, &cfg);
	cfg.max_entries = 1;
	tcache_open(&t, &cfg);
	assert_int_equal(put(t.c, a, 3, 1), 0);
	/* the holder is the only evictable entry, and the store pinned it */
	assert_int_equal(pce_cache_store(t.c, 0, b, 3, 2, 0, &pinh, &r), PCE_ENOSPC);
	assert_int_equal(r.holder_tokens, 0);
	assert_int_equal(r.holder_pin.id, 0);
	assert_int_equal(stats_of(t.c).live_pins, 0);
	assert_int_equal(match(t.c, a, 3, NULL), 3);
	/* without the pin the store evicts its own holder */
	assert_int_equal(pce_cache_store(t.c, 0, b, 3, 2, 0, NULL, &r), 0);
	assert_int_equal(r.holder_tokens, 2);
	assert_int_equal(r.holder_value, 1);
	assert_int_equal(match(t.c, b, 3, NULL), 3);
	assert_audit(t.c);
	tcache_close(&t);
}

/* ---- pce_cache_remove_prefix -------------------------------------------- */

/*   root -1-> (1 2) -+-3-> (3 4) -+-5-> (5)[A]
 *                    |            +-6-> (6)[B]
 *                    +-7-> (7)[C]
 * remove_prefix [1 2 3] ends inside edge (3 4): A and B go, (1 2) merges
 * with (7). */
static void test_remove_prefix_splits_edge(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct idlog l;
	uint64_t n = 99, v;
	const uint32_t a[] = {1, 2, 3, 4, 5}, b[] = {1, 2, 3, 4, 6}, c[] = {1, 2, 7};
	const uint32_t d[] = {9}, p[] = {1, 2, 3};
	(void)state;

	tcache_config(&t, &cfg);
	open_logged(&t, &cfg, &l);
	assert_int_equal(put(t.c, a, 5, 1), 0);
	assert_int_equal(put(t.c, b, 5, 2), 0);
	assert_int_equal(put(t.c, c, 3, 3), 0);
	assert_int_equal(put(t.c, d, 1, 4), 0);
	assert_int_equal(pce_cache_remove_prefix(t.c, 0, p, 3, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(l.nremoved, 2);
	assert_int_equal(l.why[0], PCE_REASON_REMOVED);
	assert_int_equal(l.why[1], PCE_REASON_REMOVED);
	assert_true((l.removed[0] == l.stored[0] && l.removed[1] == l.stored[1]) ||
		    (l.removed[0] == l.stored[1] && l.removed[1] == l.stored[0]));
	assert_int_equal(match(t.c, a, 5, &v), 2);
	assert_int_equal(v, 3);
	assert_int_equal(match(t.c, c, 3, NULL), 3);
	assert_int_equal(stats_of(t.c).entries, 2);
	assert_int_equal(stats_of(t.c).removed[PCE_REASON_REMOVED], 2);
	assert_audit(t.c);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(l.nreleased, 2);
	tcache_close(&t);
}

/* The prefix is itself an entry; a prefix that leaves the trie, or runs
 * past it, removes nothing; the last entry of a namespace takes its root. */
static void test_remove_prefix_cases(void **state)
{
	struct tcache t;
	uint64_t n;
	const uint32_t a[] = {1, 2}, b[] = {1, 2, 3}, c[] = {1, 5};
	const uint32_t miss1[] = {1, 2, 4}, miss2[] = {1, 2, 3, 4}, miss3[] = {8};
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a, 2, 1), 0);
	assert_int_equal(put(t.c, b, 3, 2), 0);
	assert_int_equal(put(t.c, c, 2, 3), 0);
	assert_int_equal(pce_cache_remove_prefix(t.c, 0, miss1, 3, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(pce_cache_remove_prefix(t.c, 0, miss2, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(pce_cache_remove_prefix(t.c, 0, miss3, 1, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(pce_cache_remove_prefix(t.c, 1, a, 2, &n), 0); /* other ns */
	assert_int_equal(n, 0);
	assert_int_equal(pce_cache_remove_prefix(t.c, 0, a, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(match(t.c, b, 3, NULL), 1); /* [1 5] shares the 1 */
	assert_audit(t.c);
	assert_int_equal(pce_cache_remove_prefix(t.c, 0, a, 1, NULL), 0);
	assert_int_equal(stats_of(t.c).entries, 0);
	assert_int_equal(stats_of(t.c).nodes, 0);
	assert_audit(t.c);
	assert_int_equal(put(t.c, b, 3, 4), 0);
	assert_int_equal(match(t.c, b, 3, NULL), 3);
	assert_int_equal(pce_cache_remove_prefix(NULL, 0, a, 1, &n), PCE_EINVAL);
	assert_int_equal(pce_cache_remove_prefix(t.c, 0, a, 0, &n), PCE_EINVAL);
	assert_int_equal(pce_cache_remove_prefix(t.c, 0, NULL, 1, &n), PCE_EINVAL);
	assert_int_equal(pce_cache_remove_prefix(t.c, 0, a, PCE_MAX_TOKENS + 1, &n), PCE_E2BIG);
	tcache_close(&t);
}

/* Namespaces stay apart; pinned entries are unlinked and released after
 * their pin; PER_TOKEN KV follows the tokens. */
static void test_remove_prefix_pins_namespaces(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_lookup_opts pin = {PCE_LOOKUP_PIN, 0};
	struct pce_match m, pinned;
	uint64_t n;
	const uint32_t a[] = {1, 2, 3, 4}, b[] = {1, 2, 3, 5}, p[] = {1, 2};
	(void)state;

	tcache_config(&t, &cfg);
	cfg.kv_mode = PCE_KV_PER_TOKEN;
	cfg.kv_bytes_per_token = 3;
	tcache_open(&t, &cfg);
	for (uint64_t ns = 1; ns <= 2; ns++) {
		assert_int_equal(pce_cache_store(t.c, ns, a, 4, ns * 10, 0, NULL, NULL), 0);
		assert_int_equal(pce_cache_store(t.c, ns, b, 4, ns * 10 + 1, 0, NULL, NULL), 0);
	}
	assert_int_equal(pce_cache_lookup(t.c, 1, a, 4, &pin, &pinned), 0);
	assert_int_not_equal(pinned.pin.id, 0);
	assert_int_equal(pce_cache_remove_prefix(t.c, 1, p, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(stats_of(t.c).pinned_unlinked, 1);
	assert_int_equal(stats_of(t.c).kv_bytes, 5 * 3);
	assert_int_equal(pce_cache_lookup(t.c, 2, a, 4, NULL, &m), 0);
	assert_int_equal(m.tokens, 4);
	assert_int_equal(pce_cache_lookup(t.c, 1, a, 4, NULL, &m), 0);
	assert_int_equal(m.tokens, 0);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released, 1); /* the unpinned one */
	assert_audit(t.c);
	assert_int_equal(pce_pin_release(t.c, pinned.pin), 0);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released, 2);
	assert_int_equal(t.last_value, 10);
	tcache_close(&t);
}

/* ---- entry ids ------------------------------------------------------------ */

static void test_ids_in_events_and_releases(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct idlog l;
	struct pce_store_opts replace = {PCE_STORE_REPLACE, 0, 0};
	uint32_t q[3];
	(void)state;

	tcache_config(&t, &cfg);
	cfg.shards = 4;
	open_logged(&t, &cfg, &l);
	for (uint32_t id = 0; id < 20; id++) {
		seq(q, id, 3);
		assert_int_equal(put(t.c, q, 3, id), 0);
	}
	seq(q, 0, 3);
	assert_int_equal(pce_cache_store(t.c, 0, q, 3, 100, 0, &replace, NULL), 0);
	assert_int_equal(l.nstored, 21);
	for (int i = 0; i < l.nstored; i++) {
		assert_int_not_equal(l.stored[i], 0);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(l.stored[i], l.stored[j]);
	}
	assert_int_equal(l.nremoved, 1); /* the replaced entry, by its id */
	assert_int_equal(l.removed[0], l.stored[0]);
	assert_int_equal(pce_cache_clear(t.c, NULL), 0);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(l.nremoved, 21);
	assert_int_equal(l.nreleased, 21);
	for (int i = 0; i < l.nstored; i++) {
		int in_removed = 0, in_released = 0;
		for (int j = 0; j < 21; j++) {
			in_removed += l.removed[j] == l.stored[i];
			in_released += l.released[j] == l.stored[i];
		}
		assert_int_equal(in_removed, 1);
		assert_int_equal(in_released, 1);
	}
	tcache_close(&t);
}

/* ---- pce_cache_touch ------------------------------------------------------ */

static void test_touch_extends_ttl(void **state)
{
	struct tcache t;
	struct pce_store_opts ttl = with_ttl(100);
	const uint32_t a[] = {1, 2, 3};
	(void)state;

	tcache_open_default(&t); /* now = 1000 */
	assert_int_equal(pce_cache_store(t.c, 0, a, 3, 1, 0, &ttl, NULL), 0);
	t.now = 1050;
	assert_int_equal(pce_cache_touch(t.c, 0, a, 3, 200), 0); /* expires 1250 */
	t.now = 1200;
	assert_int_equal(match(t.c, a, 3, NULL), 3);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(stats_of(t.c).entries, 1);
	assert_int_equal(pce_cache_touch(t.c, 0, a, 3, 10), 0); /* never shortens */
	t.now = 1249;
	assert_int_equal(match(t.c, a, 3, NULL), 3);
	assert_audit(t.c);
	t.now = 1250;
	assert_int_equal(match(t.c, a, 3, NULL), 0);
	assert_int_equal(pce_cache_touch(t.c, 0, a, 3, 1000), PCE_ENOENT); /* expired */
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released_by[PCE_REASON_TTL], 1);
	tcache_close(&t);
}

/* ttl 0 takes the default; PCE_NEVER (or a default of 0) takes the entry
 * out of the expiry heap (I9). */
static void test_touch_never(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_store_opts ttl = with_ttl(100);
	const uint32_t a[] = {1, 2, 3}, b[] = {1, 2, 4};
	(void)state;

	tcache_config(&t, &cfg);
	cfg.default_ttl_ns = 500;
	tcache_open(&t, &cfg);
	assert_int_equal(pce_cache_store(t.c, 0, a, 3, 1, 0, &ttl, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, 0, b, 3, 2, 0, &ttl, NULL), 0);
	assert_int_equal(pce_cache_touch(t.c, 0, a, 3, 0), 0);        /* 1500 */
	assert_int_equal(pce_cache_touch(t.c, 0, b, 3, PCE_NEVER), 0); /* never */
	assert_audit(t.c);
	t.now = 1400;
	assert_int_equal(match(t.c, a, 3, NULL), 3);
	t.now = 1000000;
	assert_int_equal(match(t.c, a, 3, NULL), 2); /* b still shares [1 2] */
	assert_int_equal(match(t.c, b, 3, NULL), 3);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(stats_of(t.c).entries, 1);
	assert_audit(t.c);
	tcache_close(&t);
}

static void test_touch_enoent(void **state)
{
	struct tcache t;
	const uint32_t a[] = {1, 2, 3}, pre[] = {1, 2}, longer[] = {1, 2, 3, 4};
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(put(t.c, a, 3, 1), 0);
	assert_int_equal(pce_cache_touch(t.c, 0, pre, 2, 0), PCE_ENOENT);
	assert_int_equal(pce_cache_touch(t.c, 0, longer, 4, 0), PCE_ENOENT);
	assert_int_equal(pce_cache_touch(t.c, 3, a, 3, 0), PCE_ENOENT);
	assert_int_equal(pce_cache_touch(NULL, 0, a, 3, 0), PCE_EINVAL);
	assert_int_equal(pce_cache_touch(t.c, 0, NULL, 3, 0), PCE_EINVAL);
	assert_int_equal(pce_cache_touch(t.c, 0, a, 0, 0), PCE_EINVAL);
	assert_int_equal(pce_cache_touch(t.c, 0, a, PCE_MAX_TOKENS + 1, 0), PCE_E2BIG);
	assert_int_equal(pce_cache_touch(t.c, 0, a, 3, 0), 0);
	tcache_close(&t);
}

/* A touch is a reference: the hand gives the entry its second chance. */
static void test_touch_sets_reference(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	uint32_t q[4];
	(void)state;

	tcache_config(&t, &cfg);
	cfg.shards = 1;
	tcache_open(&t, &cfg);
	for (uint32_t id = 0; id < 3; id++) {
		seq(q, id, 4);
		assert_int_equal(put(t.c, q, 4, id), 0);
	}
	seq(q, 0, 4);
	assert_int_equal(pce_cache_touch(t.c, 0, q, 4, 0), 0);
	assert_int_equal(pce_cache_evict(t.c, PCE_EVICT_ENTRIES, 1, NULL), 0);
	assert_int_equal(match(t.c, q, 4, NULL), 4);
	assert_int_equal(t.last_value, 1);
	assert_int_equal(stats_of(t.c).lookups, 1); /* the touch is no lookup */
	tcache_close(&t);
}

/* Hints (I6): a lookup ending above two entries reports the one that
 * expires last, also after a touch changed which one that is. */
static void test_touch_moves_hint(void **state)
{
	struct tcache t;
	struct pce_store_opts ttl10 = with_ttl(10), ttl50 = with_ttl(50);
	const uint32_t a[] = {1, 2, 3, 5, 6}, b[] = {1, 2, 4}, q[] = {1, 2, 9};
	uint64_t v;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(pce_cache_store(t.c, 0, a, 5, 1, 0, &ttl10, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, 0, b, 3, 2, 0, &ttl50, NULL), 0);
	assert_int_equal(match(t.c, q, 3, &v), 2);
	assert_int_equal(v, 2);
	assert_int_equal(pce_cache_touch(t.c, 0, a, 5, 100), 0);
	assert_int_equal(match(t.c, q, 3, &v), 2);
	assert_int_equal(v, 1);
	assert_audit(t.c);
	t.now += 60; /* b expired: a alone, without the slow path */
	assert_int_equal(match(t.c, q, 3, &v), 2);
	assert_int_equal(v, 1);
	tcache_close(&t);
}

/* Touch racing expiry: a clock that runs, a reclaimer that expires, readers
 * that look up.  After a touch succeeds, the entry is live until at least
 * (clock before the touch) + ttl, whatever the reclaimer did meanwhile. */
#define RACE_KEYS 8
#define RACE_ROUNDS 20000

struct race {
	struct pce_cache *c;
	uint64_t now;
	int stop;
	uint64_t touched, checked;
};

static uint64_t race_clock(void *ctx)
{
	return __atomic_load_n(&((struct race *)ctx)->now, __ATOMIC_ACQUIRE);
}

static void *race_toucher(void *arg)
{
	struct race *r = arg;
	uint32_t q[3];

	for (int i = 0; i < RACE_ROUNDS; i++) {
		uint32_t key = (uint32_t)i % RACE_KEYS;
		uint64_t ttl = 1 + (uint64_t)(i % 7) * 3, start, end;
		struct pce_store_opts o = {0, ttl, 0};
		struct pce_match m;

		seq(q, key, 3);
		start = race_clock(r);
		if (pce_cache_touch(r->c, 0, q, 3, ttl) != 0) {
			/* expired or reclaimed: store it again */
			int rc = pce_cache_store(r->c, 0, q, 3, key, 0, &o, NULL);
			assert_true(rc == 0 || rc == PCE_EEXIST);
			continue;
		}
		r->touched++;
		assert_int_equal(pce_cache_lookup(r->c, 0, q, 3, NULL, &m), 0);
		end = race_clock(r);
		if (end < start + ttl) {
			assert_int_equal(m.tokens, 3);
			r->checked++;
		}
	}
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *race_clock_and_reclaim(void *arg)
{
	struct race *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		__atomic_add_fetch(&r->now, 1, __ATOMIC_RELEASE);
		assert_int_equal(pce_cache_reclaim(r->c), 0);
	}
	return NULL;
}

static void test_touch_racing_expiry(void **state)
{
	struct race r = {NULL, 1000, 0, 0, 0};
	struct pce_config cfg;
	pthread_t a, b;
	(void)state;

	pce_config_init(&cfg);
	cfg.background_reclaim = 0;
	cfg.clock = race_clock;
	cfg.clock_ctx = &r;
	assert_int_equal(pce_cache_create(&cfg, &r.c), 0);
	assert_int_equal(pthread_create(&a, NULL, race_toucher, &r), 0);
	assert_int_equal(pthread_create(&b, NULL, race_clock_and_reclaim, &r), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert_true(r.touched > 0);
	assert_true(r.checked > 0);
	assert_audit(r.c);
	assert_int_equal(pce_cache_destroy(r.c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evict_entries_clock_order),
		cmocka_unit_test(test_evict_below_watermarks),
		cmocka_unit_test(test_evict_tokens_per_token),
		cmocka_unit_test(test_evict_more_than_exists),
		cmocka_unit_test(test_evict_edges),
		cmocka_unit_test(test_budgets_shrink_evicts),
		cmocka_unit_test(test_budgets_shrink_pinned),
		cmocka_unit_test(test_budgets_grow_and_zero),
		cmocka_unit_test(test_budgets_watermarks_per_token),
		cmocka_unit_test(test_budgets_shrink_concurrent),
		cmocka_unit_test(test_holder_reported),
		cmocka_unit_test(test_holder_choice_as_lookup),
		cmocka_unit_test(test_holder_pinned),
		cmocka_unit_test(test_holder_pin_failures),
		cmocka_unit_test(test_holder_pin_dropped_on_enospc),
		cmocka_unit_test(test_remove_prefix_splits_edge),
		cmocka_unit_test(test_remove_prefix_cases),
		cmocka_unit_test(test_remove_prefix_pins_namespaces),
		cmocka_unit_test(test_ids_in_events_and_releases),
		cmocka_unit_test(test_touch_extends_ttl),
		cmocka_unit_test(test_touch_never),
		cmocka_unit_test(test_touch_enoent),
		cmocka_unit_test(test_touch_sets_reference),
		cmocka_unit_test(test_touch_moves_hint),
		cmocka_unit_test(test_touch_racing_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
