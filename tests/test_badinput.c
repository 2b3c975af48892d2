/*
 * test_badinput.c - every kind of bad input a caller can give: each call
 * returns its documented error, never crashes or aborts, and leaves the
 * cache consistent (the audit passes afterwards).  docs/reliability.md has
 * the table of inputs and results.
 */
#include "util.h"

#include <pthread.h>
#include <string.h>

static const uint32_t seq3[] = {1, 2, 3};

/* A cache with something in it, to show that bad calls change nothing. */
static void open_filled(struct tcache *t, struct pce_config *cfg)
{
	tcache_open(t, cfg);
	assert_int_equal(put(t->c, seq3, 3, 33), 0);
}

static void assert_unchanged(struct tcache *t)
{
	uint64_t v;

	assert_audit(t->c);
	assert_int_equal(stats_of(t->c).entries, 1);
	assert_int_equal(match(t->c, seq3, 3, &v), 3);
	assert_int_equal(v, 33);
}

static void test_null_pointers(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_cache *c = (struct pce_cache *)&t; /* must not be touched */
	struct pce_match m;
	struct pce_stats st;
	struct pce_dedup d;
	struct pce_seq bad = {0, NULL, 2};
	uint64_t counts[1];
	(void)state;

	/* Config and life cycle. */
	pce_config_init(NULL);
	assert_non_null(pce_config_error(NULL));
	assert_int_equal(pce_cache_create(NULL, &c), PCE_EINVAL);
	assert_null(c);
	tcache_config(&t, &cfg);
	assert_int_equal(pce_cache_create(&cfg, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_destroy(NULL), 0);

	/* A NULL cache. */
	assert_int_equal(pce_cache_store(NULL, 0, seq3, 3, 1, 0, NULL, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_lookup(NULL, 0, seq3, 3, NULL, &m), PCE_EINVAL);
	assert_int_equal(m.tokens, 0);
	assert_int_equal(pce_cache_remove(NULL, 0, seq3, 3, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_clear(NULL, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_clear_ns(NULL, 0, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_reclaim(NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_stats(NULL, &st), PCE_EINVAL);
	assert_int_equal(pce_cache_shard_entries(NULL, counts, 1), PCE_EINVAL);
	assert_int_equal(pce_cache_audit(NULL, 0, NULL, 0), PCE_EINVAL);
	assert_int_equal(pce_pin_release(NULL, (struct pce_pin){1}), PCE_EINVAL);

	/* NULL arguments of a real cache. */
	open_filled(&t, &cfg);
	assert_int_equal(pce_cache_store(t.c, 0, NULL, 3, 1, 0, NULL, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_lookup(t.c, 0, NULL, 3, NULL, &m), PCE_EINVAL);
	assert_int_equal(pce_cache_lookup(t.c, 0, seq3, 3, NULL, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_remove(t.c, 0, NULL, 3, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_stats(t.c, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_shard_entries(t.c, NULL, 1), PCE_EINVAL);
	assert_int_equal(pce_cache_shard_entries(t.c, NULL, 0), 16); /* just the count */
	assert_int_equal(pce_cache_audit(t.c, 0, NULL, 0), 0);
	assert_int_equal(pce_dedup_analyze(t.c, NULL, 1, &d), PCE_EINVAL);
	assert_int_equal(pce_dedup_analyze(t.c, &bad, 1, &d), PCE_EINVAL);
	assert_int_equal(pce_dedup_analyze(t.c, &bad, 1, NULL), PCE_EINVAL);
	assert_int_equal(pce_dedup_analyze(NULL, NULL, 0, &d), 0);
	assert_int_equal(d.sequences, 0);
	/* NULL options and results are defaults. */
	assert_int_equal(pce_cache_store(t.c, 0, seq3, 2, 22, 0, NULL, NULL), 0);
	assert_int_equal(pce_cache_remove(t.c, 0, seq3, 2, NULL), 0);
	assert_int_equal(pce_cache_clear_ns(t.c, 5, NULL), 0);
	assert_unchanged(&t);
	tcache_close(&t);
}

static void test_zero_length(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_match m;
	struct pce_dedup d;
	struct pce_seq empty[2] = {{0, NULL, 0}, {0, seq3, 0}};
	(void)state;

	tcache_config(&t, &cfg);
	open_filled(&t, &cfg);
	assert_int_equal(pce_cache_store(t.c, 0, seq3, 0, 1, 0, NULL, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_remove(t.c, 0, seq3, 0, NULL), PCE_EINVAL);
	/* A lookup of nothing is a miss, with or without a pointer. */
	assert_int_equal(pce_cache_lookup(t.c, 0, seq3, 0, NULL, &m), 0);
	assert_int_equal(m.tokens, 0);
	assert_int_equal(pce_cache_lookup(t.c, 0, NULL, 0, NULL, &m), 0);
	assert_int_equal(m.tokens, 0);
	assert_int_equal(pce_dedup_analyze(t.c, empty, 2, &d), 0);
	assert_int_equal(d.sequences, 2);
	assert_int_equal(d.total_tokens, 0);
	assert_true(d.dedup_ratio == 0.0);
	assert_unchanged(&t);
	tcache_close(&t);
}

static void test_lengths_near_size_max(void **state)
{
	static const size_t lens[] = {PCE_MAX_TOKENS + 1, SIZE_MAX / 4, SIZE_MAX - 1, SIZE_MAX};
	struct tcache t;
	struct pce_config cfg;
	struct pce_match m;
	struct pce_dedup d;
	(void)state;

	tcache_config(&t, &cfg);
	open_filled(&t, &cfg);
	/* The buffer is three tokens long: the length must be refused before
	 * anything reads the tokens (ASan would see it otherwise). */
	for (size_t i = 0; i < NELEM(lens); i++) {
		struct pce_seq s = {0, seq3, lens[i]};
		assert_int_equal(pce_cache_store(t.c, 0, seq3, lens[i], 1, 0, NULL, NULL), PCE_E2BIG);
		assert_int_equal(pce_cache_lookup(t.c, 0, seq3, lens[i], NULL, &m), PCE_E2BIG);
		assert_int_equal(m.tokens, 0);
		assert_int_equal(pce_cache_remove(t.c, 0, seq3, lens[i], NULL), PCE_E2BIG);
		assert_int_equal(pce_dedup_analyze(t.c, &s, 1, &d), PCE_E2BIG);
		assert_int_equal(pce_dedup_analyze(t.c, &s, SIZE_MAX, &d), PCE_E2BIG);
	}
	assert_unchanged(&t);
	tcache_close(&t);
}

/* One invalid field at a time: pce_config_error names it, create refuses. */
#define BAD(name, stmt)                            \
	static void name(struct pce_config *cfg)   \
	{                                          \
		stmt;                              \
	}
BAD(shards0, cfg->shards = 0)
BAD(shards3, cfg->shards = 3)
BAD(shards_big, cfg->shards = PCE_MAX_SHARDS * 2)
BAD(min_prefix0, cfg->min_prefix_len = 0)
BAD(min_prefix_big, cfg->min_prefix_len = (uint32_t)PCE_MAX_TOKENS + 1)
BAD(block0, cfg->block_size = 0)
BAD(block_big, cfg->block_size = (uint32_t)PCE_MAX_TOKENS + 1)
BAD(pins0, cfg->max_pins = 0)
BAD(pins_big, cfg->max_pins = PCE_MAX_PINS + 1)
BAD(policy, cfg->policy = (enum pce_policy)2)
BAD(policy_neg, cfg->policy = (enum pce_policy)-1)
BAD(kv_mode, cfg->kv_mode = (enum pce_kv_mode)7)
BAD(per_token_declared, cfg->kv_bytes_per_token = 8)
BAD(per_token0, cfg->kv_mode = PCE_KV_PER_TOKEN)
BAD(per_token_big,
    (cfg->kv_mode = PCE_KV_PER_TOKEN, cfg->kv_bytes_per_token = PCE_MAX_KV_PER_TOKEN + 1))
BAD(high0, cfg->high_watermark_pct = 0)
BAD(high101, cfg->high_watermark_pct = 101)
BAD(low0, cfg->low_watermark_pct = 0)
BAD(low_above_high, (cfg->high_watermark_pct = 50, cfg->low_watermark_pct = 51))
BAD(interval_short, cfg->reclaim_interval_ns = 99999)
BAD(interval_long, cfg->reclaim_interval_ns = 3600ULL * 1000000000u + 1)
BAD(background2, cfg->background_reclaim = 2)
BAD(background_neg, cfg->background_reclaim = -1)
#undef BAD

static const struct bad_field {
	const char *field;
	void (*set)(struct pce_config *cfg);
} bad_fields[] = {
	{"shards", shards0},
	{"shards", shards3},
	{"shards", shards_big},
	{"min_prefix_len", min_prefix0},
	{"min_prefix_len", min_prefix_big},
	{"block_size", block0},
	{"block_size", block_big},
	{"max_pins", pins0},
	{"max_pins", pins_big},
	{"policy", policy},
	{"policy", policy_neg},
	{"kv_mode", kv_mode},
	{"kv_bytes_per_token", per_token_declared},
	{"kv_bytes_per_token", per_token0},
	{"kv_bytes_per_token", per_token_big},
	{"high_watermark_pct", high0},
	{"high_watermark_pct", high101},
	{"low_watermark_pct", low0},
	{"low_watermark_pct", low_above_high},
	{"reclaim_interval_ns", interval_short},
	{"reclaim_interval_ns", interval_long},
	{"background_reclaim", background2},
	{"background_reclaim", background_neg},
};

static void test_invalid_config_fields(void **state)
{
	(void)state;

	for (size_t i = 0; i < NELEM(bad_fields); i++) {
		struct pce_config cfg;
		struct pce_cache *c = (struct pce_cache *)&cfg;
		const char *why;

		pce_config_init(&cfg);
		assert_null(pce_config_error(&cfg));
		bad_fields[i].set(&cfg);
		why = pce_config_error(&cfg);
		assert_non_null(why);
		if (!strstr(why, bad_fields[i].field))
			fail_msg("config error \"%s\" does not name %s", why, bad_fields[i].field);
		assert_int_equal(pce_cache_create(&cfg, &c), PCE_EINVAL);
		assert_null(c);
	}
}

/* The boundaries themselves are valid. */
static void test_config_boundaries_accepted(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	(void)state;

	tcache_config(&t, &cfg);
	cfg.shards = PCE_MAX_SHARDS;
	cfg.min_prefix_len = (uint32_t)PCE_MAX_TOKENS;
	cfg.block_size = (uint32_t)PCE_MAX_TOKENS;
	cfg.max_pins = 1;
	cfg.kv_mode = PCE_KV_PER_TOKEN;
	cfg.kv_bytes_per_token = PCE_MAX_KV_PER_TOKEN;
	cfg.high_watermark_pct = 100;
	cfg.low_watermark_pct = 100;
	cfg.reclaim_interval_ns = 100000;
	cfg.kv_budget = UINT64_MAX;
	cfg.index_budget = UINT64_MAX;
	cfg.max_entries = UINT64_MAX;
	cfg.default_ttl_ns = PCE_NEVER - 1;
	cfg.default_pin_lease_ns = PCE_NEVER - 1;
	tcache_open(&t, &cfg);
	/* Everything is shorter than min_prefix_len.  (No audit: it holds
	 * every shard lock at once, and ThreadSanitizer's deadlock detector
	 * gives up beyond 64 locks held by one thread.) */
	assert_int_equal(put(t.c, seq3, 3, 1), PCE_ESHORT);
	assert_int_equal(stats_of(t.c).entries, 0);
	assert_int_equal(pce_cache_destroy(t.c), 0);

	tcache_config(&t, &cfg);
	cfg.shards = 1;
	cfg.reclaim_interval_ns = 3600ULL * 1000000000u;
	cfg.background_reclaim = 1;
	tcache_open(&t, &cfg);
	tcache_close(&t);
}

static void test_extreme_tokens_values_namespaces(void **state)
{
	const uint32_t a[] = {0, UINT32_MAX, 0}, b[] = {0, UINT32_MAX, UINT32_MAX},
		       c[] = {UINT32_MAX}, z[] = {0};
	struct tcache t;
	struct pce_match m;
	uint64_t v;
	(void)state;

	tcache_open_default(&t);
	assert_int_equal(pce_cache_store(t.c, 0, a, 3, 0, 0, NULL, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, 0, b, 3, UINT64_MAX, 0, NULL, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, UINT64_MAX, a, 3, 7, 0, NULL, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, UINT64_MAX, c, 1, UINT64_MAX - 1, 0, NULL, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, 0, z, 1, 1, PCE_MAX_KV_BYTES, NULL, NULL), 0);
	assert_audit(t.c);

	assert_int_equal(match(t.c, a, 3, &v), 3);
	assert_int_equal(v, 0);
	assert_int_equal(match(t.c, b, 3, &v), 3);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(pce_cache_lookup(t.c, UINT64_MAX, a, 3, NULL, &m), 0);
	assert_int_equal(m.tokens, 3);
	assert_int_equal(m.value, 7);
	assert_int_equal(pce_cache_lookup(t.c, UINT64_MAX, b, 3, NULL, &m), 0);
	assert_int_equal(m.tokens, 2); /* a in this namespace shares [0 MAX] */
	assert_int_equal(pce_cache_lookup(t.c, UINT64_MAX, c, 1, NULL, &m), 0);
	assert_int_equal(m.value, UINT64_MAX - 1);
	assert_int_equal(pce_cache_lookup(t.c, 1, a, 3, NULL, &m), 0);
	assert_int_equal(m.tokens, 0); /* namespaces never match each other */

	/* Removal returns the extreme values; release reports them. */
	assert_int_equal(pce_cache_remove(t.c, 0, b, 3, &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(pce_cache_remove(t.c, 0, a, 3, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released, 2);
	assert_int_equal(t.value_sum, UINT64_MAX); /* 0 + UINT64_MAX */
	assert_int_equal(match(t.c, a, 3, NULL), 1); /* z = [0] remains */
	assert_audit(t.c);
	tcache_close(&t);
}

static void test_bad_flags_and_kv(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_store_opts unknown = {1u << 5, 0, 0};
	struct pce_lookup_opts lo;
	struct pce_match m;
	(void)state;

	tcache_config(&t, &cfg);
	open_filled(&t, &cfg);
	assert_int_equal(pce_cache_store(t.c, 0, seq3, 2, 1, 0, &unknown, NULL), PCE_EINVAL);
	assert_int_equal(pce_cache_store(t.c, 0, seq3, 2, 1, PCE_MAX_KV_BYTES + 1, NULL, NULL),
			 PCE_EINVAL);
	assert_int_equal(pce_cache_store(t.c, 0, seq3, 2, 1, UINT64_MAX, NULL, NULL), PCE_EINVAL);
	lo = (struct pce_lookup_opts){1u << 7, 0};
	assert_int_equal(pce_cache_lookup(t.c, 0, seq3, 3, &lo, &m), PCE_EINVAL);
	lo = (struct pce_lookup_opts){PCE_LOOKUP_PIN | PCE_LOOKUP_PEEK, 0};
	assert_int_equal(pce_cache_lookup(t.c, 0, seq3, 3, &lo, &m), PCE_EINVAL);
	assert_int_equal(m.pin.id, 0);
	assert_int_equal(pce_cache_audit(t.c, 1u << 9, NULL, 0), PCE_EINVAL);
	assert_int_equal(stats_of(t.c).lookups, 0); /* refused lookups are not counted */
	assert_unchanged(&t);
	tcache_close(&t);

	/* In PCE_KV_PER_TOKEN mode the declared KV bytes are ignored. */
	tcache_config(&t, &cfg);
	cfg.kv_mode = PCE_KV_PER_TOKEN;
	cfg.kv_bytes_per_token = 2;
	tcache_open(&t, &cfg);
	assert_int_equal(pce_cache_store(t.c, 0, seq3, 3, 1, UINT64_MAX, NULL, NULL), 0);
	assert_int_equal(stats_of(t.c).kv_bytes, 6);
	tcache_close(&t);
}

static void test_short_sequences_and_blocks(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	const uint32_t five[] = {1, 2, 3, 4, 5};
	struct pce_match m;
	(void)state;

	tcache_config(&t, &cfg);
	cfg.min_prefix_len = 4;
	cfg.block_size = 2;
	tcache_open(&t, &cfg);
	assert_int_equal(put(t.c, five, 3, 1), PCE_ESHORT);
	assert_int_equal(put(t.c, five, 5, 5), 0);
	/* 3 tokens round down to 2 < min_prefix_len: a miss. */
	assert_int_equal(pce_cache_lookup(t.c, 0, five, 3, NULL, &m), 0);
	assert_int_equal(m.tokens, 0);
	assert_int_equal(pce_cache_lookup(t.c, 0, five, 5, NULL, &m), 0);
	assert_int_equal(m.tokens, 4);
	assert_int_equal(m.blocks, 2);
	assert_int_equal(m.entry_len, 5);
	assert_audit(t.c);
	tcache_close(&t);
}

/* Saturating TTL and lease arithmetic, with the clock near its end. */
static void test_huge_ttl_and_lease(void **state)
{
	struct tcache t;
	struct pce_store_opts ttl = {0, PCE_NEVER - 1, 0};
	struct pce_lookup_opts lo = {PCE_LOOKUP_PIN, PCE_NEVER - 1};
	struct pce_match m;
	(void)state;

	tcache_open_default(&t);
	t.now = UINT64_MAX - 10;
	assert_int_equal(pce_cache_store(t.c, 0, seq3, 3, 1, 0, &ttl, NULL), 0);
	assert_int_equal(pce_cache_lookup(t.c, 0, seq3, 3, &lo, &m), 0);
	assert_int_equal(m.tokens, 3);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(stats_of(t.c).entries, 1);
	assert_int_equal(stats_of(t.c).live_pins, 1);
	assert_int_equal(pce_pin_release(t.c, m.pin), 0);
	assert_audit(t.c);
	tcache_close(&t);
}

static void test_pin_released_twice(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_lookup_opts pin = {PCE_LOOKUP_PIN, 0}, lease = {PCE_LOOKUP_PIN, 100};
	struct pce_match m, l;
	(void)state;

	tcache_config(&t, &cfg);
	open_filled(&t, &cfg);
	assert_int_equal(pce_cache_lookup(t.c, 0, seq3, 3, &pin, &m), 0);
	assert_int_not_equal(m.pin.id, 0);
	assert_int_equal(pce_pin_release(t.c, m.pin), 0);
	assert_int_equal(pce_pin_release(t.c, m.pin), PCE_ESTALE);
	assert_int_equal(pce_pin_release(t.c, m.pin), PCE_ESTALE);
	/* The slot is reused: the old handle still names nothing. */
	assert_int_equal(pce_cache_lookup(t.c, 0, seq3, 3, &pin, &l), 0);
	assert_int_equal(pce_pin_release(t.c, m.pin), PCE_ESTALE);
	assert_int_equal(stats_of(t.c).live_pins, 1);
	assert_int_equal(pce_pin_release(t.c, l.pin), 0);
	/* Handles that never existed. */
	assert_int_equal(pce_pin_release(t.c, (struct pce_pin){0}), PCE_ESTALE);
	assert_int_equal(pce_pin_release(t.c, (struct pce_pin){UINT64_MAX}), PCE_ESTALE);
	assert_int_equal(pce_pin_release(t.c, (struct pce_pin){(1ULL << 24) - 1}), PCE_ESTALE);
	/* Released by force after its lease, then by its holder. */
	assert_int_equal(pce_cache_lookup(t.c, 0, seq3, 3, &lease, &l), 0);
	t.now += 100;
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(stats_of(t.c).pins_forced, 1);
	assert_int_equal(pce_pin_release(t.c, l.pin), PCE_ESTALE);
	assert_int_equal(stats_of(t.c).live_pins, 0);
	assert_unchanged(&t);
	tcache_close(&t);
}

static void test_destroy_with_live_pins(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_lookup_opts pin = {PCE_LOOKUP_PIN, 0}, lease = {PCE_LOOKUP_PIN, 50};
	struct pce_match m, l;
	(void)state;

	tcache_config(&t, &cfg);
	open_filled(&t, &cfg);
	assert_int_equal(pce_cache_lookup(t.c, 0, seq3, 3, &pin, &m), 0);
	assert_int_equal(pce_cache_lookup(t.c, 0, seq3, 2, &lease, &l), 0);
	assert_int_equal(pce_cache_destroy(t.c), PCE_EBUSY);
	assert_int_equal(t.released, 0);
	/* Unchanged and usable; even the pinned entry can be removed. */
	assert_unchanged(&t);
	assert_int_equal(pce_cache_remove(t.c, 0, seq3, 3, NULL), 0);
	assert_int_equal(pce_cache_destroy(t.c), PCE_EBUSY);
	assert_int_equal(pce_cache_reclaim(t.c), 0);
	assert_int_equal(t.released, 0); /* still pinned */
	assert_int_equal(pce_pin_release(t.c, m.pin), 0);
	/* The leased pin is forced by destroy once its lease has passed. */
	t.now += 50;
	assert_int_equal(pce_cache_destroy(t.c), 0);
	assert_int_equal(t.released, 1);
	assert_int_equal(t.released_by[PCE_REASON_REMOVED], 1);
}

/* ---- threads ------------------------------------------------------------- */

struct early {
	pthread_barrier_t ready;
	struct pce_cache *c;
	int rc;
};

static void *early_thread(void *arg)
{
	struct early *e = arg;
	struct pce_match m;

	pthread_barrier_wait(&e->ready); /* the cache does not exist yet */
	pthread_barrier_wait(&e->ready); /* now it does */
	e->rc = pce_cache_lookup(e->c, 0, seq3, 3, NULL, &m);
	if (e->rc == 0 && m.value != 33)
		e->rc = -1;
	return NULL;
}

static void test_thread_created_before_cache(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct early e = {.rc = 1};
	pthread_t th;
	(void)state;

	pthread_barrier_init(&e.ready, NULL, 2);
	assert_int_equal(pthread_create(&th, NULL, early_thread, &e), 0);
	pthread_barrier_wait(&e.ready);
	tcache_config(&t, &cfg);
	open_filled(&t, &cfg);
	e.c = t.c;
	pthread_barrier_wait(&e.ready);
	pthread_join(th, NULL);
	pthread_barrier_destroy(&e.ready);
	assert_int_equal(e.rc, 0);
	assert_unchanged(&t);
	tcache_close(&t);
}

#define SHORT_THREADS 200

struct brief {
	struct pce_cache *c;
	uint32_t id;
	struct pce_pin pin;
	int rc;
};

/* Registers (first call), pins, stores, and exits with the pin held. */
static void *brief_thread(void *arg)
{
	struct brief *b = arg;
	struct pce_lookup_opts pin = {PCE_LOOKUP_PIN, 0};
	struct pce_match m;
	uint32_t q[2] = {1, 1000 + b->id};

	b->rc = pce_cache_lookup(b->c, 0, seq3, 3, &pin, &m);
	if (b->rc == 0 && m.tokens != 3)
		b->rc = -1;
	b->pin = m.pin;
	if (b->rc == 0)
		b->rc = pce_cache_store(b->c, 0, q, 2, b->id, 0, NULL, NULL);
	return NULL;
}

/* More threads than statistics stripes come and go while the cache lives;
 * pins they took outlive them. */
static void test_threads_exit_mid_run(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	static struct brief b[SHORT_THREADS];
	(void)state;

	tcache_config(&t, &cfg);
	cfg.max_pins = SHORT_THREADS;
	open_filled(&t, &cfg);
	for (uint32_t round = 0; round < 4; round++) {
		pthread_t th[SHORT_THREADS / 4];
		for (uint32_t i = 0; i < SHORT_THREADS / 4; i++) {
			struct brief *x = &b[round * (SHORT_THREADS / 4) + i];
			x->c = t.c;
			x->id = round * (SHORT_THREADS / 4) + i;
			assert_int_equal(pthread_create(&th[i], NULL, brief_thread, x), 0);
		}
		for (uint32_t i = 0; i < SHORT_THREADS / 4; i++)
			pthread_join(th[i], NULL);
	}
	for (uint32_t i = 0; i < SHORT_THREADS; i++)
		assert_int_equal(b[i].rc, 0);
	assert_int_equal(stats_of(t.c).lookups, SHORT_THREADS);
	assert_int_equal(stats_of(t.c).hits, SHORT_THREADS);
	assert_int_equal(stats_of(t.c).live_pins, SHORT_THREADS);
	assert_int_equal(stats_of(t.c).entries, SHORT_THREADS + 1);
	assert_audit(t.c);
	for (uint32_t i = 0; i < SHORT_THREADS; i++)
		assert_int_equal(pce_pin_release(t.c, b[i].pin), 0);
	assert_int_equal(stats_of(t.c).live_pins, 0);
	tcache_close(&t);
}

/* ---- budgets --------------------------------------------------------------- */

static void test_budget_smaller_than_one_entry(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	const uint32_t other[] = {9, 9};
	(void)state;

	/* KV budget below the entry's declared bytes. */
	tcache_config(&t, &cfg);
	cfg.kv_budget = 10;
	tcache_open(&t, &cfg);
	assert_int_equal(pce_cache_store(t.c, 0, seq3, 3, 1, 11, NULL, NULL), PCE_ENOSPC);
	assert_int_equal(pce_cache_store(t.c, 0, seq3, 3, 1, 10, NULL, NULL), 0);
	assert_int_equal(pce_cache_store(t.c, 0, other, 2, 2, 10, NULL, NULL), 0); /* evicts */
	assert_int_equal(stats_of(t.c).entries, 1);
	assert_int_equal(stats_of(t.c).stores_refused, 1);
	assert_audit(t.c);
	tcache_close(&t);

	/* KV per token: one token is already too much. */
	tcache_config(&t, &cfg);
	cfg.kv_mode = PCE_KV_PER_TOKEN;
	cfg.kv_bytes_per_token = 16;
	cfg.kv_budget = 15;
	tcache_open(&t, &cfg);
	assert_int_equal(pce_cache_store(t.c, 0, seq3, 1, 1, 0, NULL, NULL), PCE_ENOSPC);
	assert_int_equal(stats_of(t.c).entries, 0);
	assert_audit(t.c);
	tcache_close(&t);

	/* An index budget smaller than the memory of one entry. */
	tcache_config(&t, &cfg);
	cfg.index_budget = 1;
	tcache_open(&t, &cfg);
	assert_int_equal(put(t.c, seq3, 3, 1), PCE_ENOSPC);
	assert_int_equal(stats_of(t.c).index_bytes, 0);
	assert_audit(t.c);
	tcache_close(&t);

	/* One entry at most: every store evicts the last. */
	tcache_config(&t, &cfg);
	cfg.max_entries = 1;
	tcache_open(&t, &cfg);
	assert_int_equal(put(t.c, seq3, 3, 1), 0);
	assert_int_equal(put(t.c, other, 2, 2), 0);
	assert_int_equal(stats_of(t.c).entries, 1);
	assert_int_equal(match(t.c, other, 2, NULL), 2);
	assert_audit(t.c);
	tcache_close(&t);
}

/* Everything evictable pinned: the store is refused, nothing is lost. */
static void test_budget_full_of_pins(void **state)
{
	struct tcache t;
	struct pce_config cfg;
	struct pce_lookup_opts pin = {PCE_LOOKUP_PIN, 0};
	struct pce_match m;
	const uint32_t other[] = {9, 9};
	(void)state;

	tcache_config(&t, &cfg);
	cfg.max_entries = 1;
	open_filled(&t, &cfg);
	assert_int_equal(pce_cache_lookup(t.c, 0, seq3, 3, &pin, &m), 0);
	assert_int_equal(put(t.c, other, 2, 2), PCE_ENOSPC);
	assert_unchanged(&t);
	assert_int_equal(pce_pin_release(t.c, m.pin), 0);
	assert_int_equal(put(t.c, other, 2, 2), 0);
	tcache_close(&t);
}

static void test_error_names_of_any_int(void **state)
{
	static const int codes[] = {0, 1, -1, -29999, -30799, -30899, INT32_MIN, INT32_MAX};
	(void)state;

	for (size_t i = 0; i < NELEM(codes); i++) {
		assert_non_null(pce_strerror(codes[i]));
		assert_non_null(pce_err_name(codes[i]));
	}
	assert_string_equal(pce_err_name(-30899), "PCE_EUNKNOWN");
	assert_string_equal(pce_err_name(PCE_EFORKED), "PCE_EFORKED");
	assert_string_equal(pce_strerror(12345), "unknown error");
	assert_string_equal(pce_reason_name(PCE_REASON_COUNT), "unknown");
	assert_string_equal(pce_reason_name((enum pce_reason)-1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_pointers),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_lengths_near_size_max),
		cmocka_unit_test(test_invalid_config_fields),
		cmocka_unit_test(test_config_boundaries_accepted),
		cmocka_unit_test(test_extreme_tokens_values_namespaces),
		cmocka_unit_test(test_bad_flags_and_kv),
		cmocka_unit_test(test_short_sequences_and_blocks),
		cmocka_unit_test(test_huge_ttl_and_lease),
		cmocka_unit_test(test_pin_released_twice),
		cmocka_unit_test(test_destroy_with_live_pins),
		cmocka_unit_test(test_thread_created_before_cache),
		cmocka_unit_test(test_threads_exit_mid_run),
		cmocka_unit_test(test_budget_smaller_than_one_entry),
		cmocka_unit_test(test_budget_full_of_pins),
		cmocka_unit_test(test_error_names_of_any_int),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
