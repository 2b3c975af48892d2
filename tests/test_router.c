/*
 * test_router.c - the router index (pce/router.h): every operation and
 * edge, then random operations against a reference model of holdings.
 */
#include "util.h"
#include "router_model.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct trouter {
	struct pce_router *r;
	uint64_t now;
	uint64_t events[2];
	uint64_t removed_by[PCE_REASON_COUNT];
	struct pce_event last;
};

static uint64_t tclock(void *ctx)
{
	return ((struct trouter *)ctx)->now;
}

static void tevent(void *ctx, const struct pce_event *ev)
{
	struct trouter *t = ctx;

	t->events[ev->kind]++;
	if (ev->kind == PCE_EVENT_REMOVED)
		t->removed_by[ev->reason]++;
	t->last = *ev;
	t->last.tokens = NULL;
}

static void trouter_config(struct trouter *t, struct pce_router_config *cfg)
{
	memset(t, 0, sizeof(*t));
	t->now = 1024; /* owner words keep expiry in units of 16 ns */
	pce_router_config_init(cfg);
	cfg->shards = 4;
	cfg->background_reclaim = 0;
	cfg->clock = tclock;
	cfg->clock_ctx = t;
	cfg->on_event = tevent;
	cfg->event_ctx = t;
}

static void trouter_open(struct trouter *t, struct pce_router_config *cfg)
{
	assert_int_equal(pce_router_create(cfg, &t->r), 0);
}

static void trouter_open_bs(struct trouter *t, uint32_t bs)
{
	struct pce_router_config cfg;

	trouter_config(t, &cfg);
	cfg.block_size = bs;
	trouter_open(t, &cfg);
}

static void raudit(struct pce_router *r)
{
	char msg[256];
	int rc = pce_router_audit(r, 0, msg, sizeof msg);

	if (rc)
		fail_msg("router audit: %s", msg);
}

static void trouter_close(struct trouter *t)
{
	raudit(t->r);
	pce_router_destroy(t->r);
}

static int add(struct pce_router *r, uint32_t owner, const uint32_t *q, size_t n, uint32_t tier)
{
	return pce_router_add(r, owner, 0, q, n, tier, NULL, NULL);
}

/* The match of @q with room for @k; returns the count. */
static size_t rmatch(struct pce_router *r, const uint32_t *q, size_t n, struct pce_overlap *out,
		     size_t k, size_t *left)
{
	size_t got = 99;

	assert_int_equal(pce_router_match(r, 0, q, n, 0, out, k, &got, left), 0);
	return got;
}

/* Tokens of @owner in @out[0..n), or 0. */
static size_t tokens_of(const struct pce_overlap *out, size_t n, uint32_t owner)
{
	for (size_t i = 0; i < n; i++)
		if (out[i].owner == owner)
			return out[i].tokens;
	return 0;
}

static const uint32_t A[] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint32_t B[] = {1, 2, 3, 4, 9, 9, 9, 9};
static const uint32_t C[] = {1, 2, 7, 7};

static void test_basic_longest_first(void **state)
{
	struct trouter t;
	struct pce_overlap out[8];
	size_t n, left;
	(void)state;

	trouter_open_bs(&t, 2);
	assert_int_equal(add(t.r, 10, A, 8, PCE_TIER_GPU), 0);
	assert_int_equal(add(t.r, 11, B, 8, PCE_TIER_GPU), 0);
	assert_int_equal(add(t.r, 12, C, 4, PCE_TIER_GPU), 0);
	assert_int_equal(add(t.r, 13, A, 2, PCE_TIER_GPU), 0);
	raudit(t.r);
	n = rmatch(t.r, A, 8, out, 8, &left);
	assert_int_equal(n, 4);
	assert_int_equal(left, 0);
	assert_int_equal(out[0].owner, 10);
	assert_int_equal(out[0].tokens, 8);
	assert_int_equal(out[1].owner, 11);
	assert_int_equal(out[1].tokens, 4);
	/* 12 and 13 both hold 2 tokens: owner id breaks the tie. */
	assert_int_equal(out[2].owner, 12);
	assert_int_equal(out[2].tokens, 2);
	assert_int_equal(out[3].owner, 13);
	assert_true(out[0].score == 8.0);
	/* A query leaving an edge inside a block rounds down to whole blocks. */
	{
		const uint32_t q[] = {1, 2, 3, 4, 5, 0};
		n = rmatch(t.r, q, 6, out, 8, NULL);
		assert_int_equal(n, 4);
		assert_int_equal(tokens_of(out, n, 10), 4);
		assert_int_equal(tokens_of(out, n, 11), 4);
	}
	/* A miss, another namespace, an empty query. */
	{
		const uint32_t q[] = {5, 5};
		assert_int_equal(rmatch(t.r, q, 2, out, 8, &left), 0);
		assert_int_equal(left, 0);
		assert_int_equal(pce_router_match(t.r, 7, A, 8, 0, out, 8, &n, NULL), 0);
		assert_int_equal(n, 0);
		assert_int_equal(pce_router_match(t.r, 0, NULL, 0, 0, out, 8, &n, NULL), 0);
		assert_int_equal(n, 0);
	}
	trouter_close(&t);
}

static void test_partial_block_not_held(void **state)
{
	struct trouter t;
	struct pce_overlap out[4];
	size_t nb = 9;
	(void)state;

	trouter_open_bs(&t, 4);
	assert_int_equal(pce_router_add(t.r, 1, 0, A, 3, 0, NULL, &nb), PCE_ESHORT);
	assert_int_equal(nb, 0);
	assert_int_equal(pce_router_add(t.r, 1, 0, A, 7, 0, NULL, &nb), 0);
	assert_int_equal(nb, 1); /* one whole block */
	assert_int_equal(rmatch(t.r, A, 8, out, 4, NULL), 1);
	assert_int_equal(out[0].tokens, 4);
	trouter_close(&t);
}

static void test_topk_small_output_and_k0(void **state)
{
	struct trouter t;
	struct pce_overlap out[16];
	size_t n, left;
	(void)state;

	trouter_open_bs(&t, 1);
	/* Owner i holds i + 1 tokens of A. */
	for (uint32_t i = 0; i < 8; i++)
		assert_int_equal(add(t.r, i, A, i + 1, PCE_TIER_GPU), 0);
	n = rmatch(t.r, A, 8, out, 3, &left);
	assert_int_equal(n, 3);
	assert_int_equal(left, 5);
	assert_int_equal(out[0].owner, 7);
	assert_int_equal(out[1].owner, 6);
	assert_int_equal(out[2].owner, 5);
	/* k = 0: nothing written, out may be NULL, everybody left out. */
	assert_int_equal(pce_router_match(t.r, 0, A, 8, 0, NULL, 0, &n, &left), 0);
	assert_int_equal(n, 0);
	assert_int_equal(left, 8);
	/* k >= W: everybody. */
	n = rmatch(t.r, A, 8, out, 16, &left);
	assert_int_equal(n, 8);
	assert_int_equal(left, 0);
	for (uint32_t i = 0; i < 8; i++)
		assert_int_equal(out[i].tokens, 8 - i);
	/* Shorter query: those holding more report the query's length. */
	n = rmatch(t.r, A, 3, out, 16, &left);
	assert_int_equal(n, 8);
	assert_int_equal(tokens_of(out, n, 7), 3);
	assert_int_equal(tokens_of(out, n, 2), 3);
	assert_int_equal(tokens_of(out, n, 0), 1);
	trouter_close(&t);
}

static void test_tiers_and_scores(void **state)
{
	struct trouter t;
	struct pce_router_config cfg;
	struct pce_router_add_opts retier = {PCE_ROUTER_ADD_RETIER, 0};
	struct pce_overlap out[8];
	size_t n;
	(void)state;

	trouter_config(&t, &cfg);
	cfg.tier_weight[PCE_TIER_DISK] = 0.5;
	trouter_open(&t, &cfg);
	/* Owner 1: first 4 tokens on GPU, the next 4 on CPU. */
	assert_int_equal(add(t.r, 1, A, 4, PCE_TIER_GPU), 0);
	assert_int_equal(add(t.r, 1, A, 8, PCE_TIER_CPU), 0);
	/* Owner 2 holds 6 tokens on GPU; owner 3 all 8 on REMOTE (weight 0). */
	assert_int_equal(add(t.r, 2, A, 6, PCE_TIER_GPU), 0);
	assert_int_equal(add(t.r, 3, A, 8, PCE_TIER_REMOTE), 0);
	n = rmatch(t.r, A, 8, out, 8, NULL);
	assert_int_equal(n, 3);
	/* 1: 8 x 0.8 = 6.4; 2: 6 x 1.0 = 6; 3: 8 x 0 = 0. */
	assert_int_equal(out[0].owner, 1);
	assert_int_equal(out[0].tier, PCE_TIER_CPU);
	assert_true(out[0].score > 6.39 && out[0].score < 6.41);
	assert_int_equal(out[1].owner, 2);
	assert_int_equal(out[2].owner, 3);
	assert_true(out[2].score == 0.0);
	/* The query ending in owner 1's GPU part reports GPU. */
	n = rmatch(t.r, A, 4, out, 8, NULL);
	for (size_t i = 0; i < n; i++)
		if (out[i].owner == 1)
			assert_int_equal(out[i].tier, PCE_TIER_GPU);
	/* Without RETIER a re-add keeps the tiers; with it, they move. */
	assert_int_equal(add(t.r, 1, A, 8, PCE_TIER_DISK), 0);
	n = rmatch(t.r, A, 8, out, 8, NULL);
	assert_int_equal(out[0].tier, PCE_TIER_CPU);
	assert_int_equal(pce_router_add(t.r, 1, 0, A, 8, PCE_TIER_DISK, &retier, NULL), 0);
	n = rmatch(t.r, A, 8, out, 8, NULL);
	assert_int_equal(tokens_of(out, n, 1), 8);
	for (size_t i = 0; i < n; i++)
		if (out[i].owner == 1) {
			assert_int_equal(out[i].tier, PCE_TIER_DISK);
			assert_true(out[i].score == 4.0);
		}
	trouter_close(&t);
}

static void test_remove_middle_block(void **state)
{
	struct trouter t;
	struct pce_overlap out[8];
	size_t n;
	(void)state;

	trouter_open_bs(&t, 2);
	assert_int_equal(add(t.r, 1, A, 8, 0), 0);
	assert_int_equal(add(t.r, 1, B, 8, 0), 0);
	assert_int_equal(add(t.r, 2, A, 8, 0), 0);
	/* Owner 1 loses A's block [4, 6) and everything after it on A. */
	assert_int_equal(pce_router_remove(t.r, 1, 0, A, 6), 0);
	assert_int_equal(t.last.kind, PCE_EVENT_REMOVED);
	assert_int_equal(t.last.owner, 1);
	assert_int_equal(t.last.len, 6);
	raudit(t.r);
	n = rmatch(t.r, A, 8, out, 8, NULL);
	assert_int_equal(tokens_of(out, n, 1), 4);
	assert_int_equal(tokens_of(out, n, 2), 8);
	/* B's blocks (leaving A's path at 4) stay. */
	n = rmatch(t.r, B, 8, out, 8, NULL);
	assert_int_equal(tokens_of(out, n, 1), 8);
	/* Again: nothing held there any more. */
	assert_int_equal(pce_router_remove(t.r, 1, 0, A, 6), PCE_ENOENT);
	assert_int_equal(pce_router_remove(t.r, 1, 0, A, 8), PCE_ENOENT);
	assert_int_equal(pce_router_remove(t.r, 3, 0, A, 2), PCE_ENOENT);
	/* Removing the first block of A takes all of owner 1's holdings there. */
	assert_int_equal(pce_router_remove(t.r, 1, 0, A, 2), 0);
	n = rmatch(t.r, B, 8, out, 8, NULL);
	assert_int_equal(n, 1); /* owner 2's A shares B's first 4 tokens */
	assert_int_equal(tokens_of(out, n, 2), 4);
	n = rmatch(t.r, A, 8, out, 8, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].owner, 2);
	/* The last owner goes: the index is empty. */
	assert_int_equal(pce_router_remove(t.r, 2, 0, A, 2), 0);
	{
		struct pce_router_stats st;
		assert_int_equal(pce_router_stats_get(t.r, &st), 0);
		assert_int_equal(st.holdings, 0);
		assert_int_equal(st.nodes, 0);
		assert_int_equal(st.owner_bytes, 0);
		assert_int_equal(st.removes, 3);
	}
	trouter_close(&t);
}

static void test_clear_owner_and_ns(void **state)
{
	struct trouter t;
	struct pce_overlap out[8];
	uint64_t removed;
	size_t n;
	(void)state;

	trouter_open_bs(&t, 2);
	assert_int_equal(add(t.r, 1, A, 8, 0), 0);
	assert_int_equal(add(t.r, 1, C, 4, 0), 0);
	assert_int_equal(pce_router_add(t.r, 1, 5, A, 8, 0, NULL, NULL), 0);
	assert_int_equal(add(t.r, 2, A, 4, 0), 0);
	assert_int_equal(pce_router_clear_owner(t.r, 1, &removed), 0);
	assert_int_equal(removed, 4 + 1 + 4); /* blocks: A, C's second, ns 5's A */
	assert_int_equal(t.removed_by[PCE_REASON_CLEARED], 2); /* one cut per namespace */
	raudit(t.r);
	n = rmatch(t.r, A, 8, out, 8, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].owner, 2);
	assert_int_equal(pce_router_match(t.r, 5, A, 8, 0, out, 8, &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_int_equal(pce_router_clear_owner(t.r, 1, &removed), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(add(t.r, 3, A, 8, 0), 0);
	assert_int_equal(pce_router_add(t.r, 3, 5, A, 8, 0, NULL, NULL), 0);
	assert_int_equal(pce_router_clear_ns(t.r, 0, &removed), 0);
	assert_int_equal(removed, 2 + 4);
	assert_int_equal(rmatch(t.r, A, 8, out, 8, NULL), 0);
	assert_int_equal(pce_router_match(t.r, 5, A, 8, 0, out, 8, &n, NULL), 0);
	assert_int_equal(n, 1);
	trouter_close(&t);
}

static void test_ttl(void **state)
{
	struct trouter t;
	struct pce_router_add_opts ttl = {0, 100};
	struct pce_router_add_opts longer = {0, 1000};
	struct pce_overlap out[8];
	struct pce_router_stats st;
	size_t n;
	(void)state;

	trouter_open_bs(&t, 1);
	assert_int_equal(pce_router_add(t.r, 1, 0, A, 8, 0, &ttl, NULL), 0);
	assert_int_equal(pce_router_add(t.r, 2, 0, A, 4, 0, &ttl, NULL), 0);
	/* Owner 2 extends its first 2 tokens. */
	assert_int_equal(pce_router_add(t.r, 2, 0, A, 2, 0, &longer, NULL), 0);
	t.now += 99;
	assert_int_equal(rmatch(t.r, A, 8, out, 8, NULL), 2);
	t.now += 1 + 16; /* words keep expiry in units of 16 ns, rounded up */
	n = rmatch(t.r, A, 8, out, 8, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].owner, 2);
	assert_int_equal(out[0].tokens, 2);
	assert_int_equal(pce_router_reclaim(t.r), 0);
	raudit(t.r);
	assert_int_equal(pce_router_stats_get(t.r, &st), 0);
	assert_int_equal(st.holdings, 2);
	assert_int_equal(st.removed[PCE_REASON_TTL], 8 + 2);
	assert_int_equal(t.removed_by[PCE_REASON_TTL], 2);
	t.now += 10000;
	assert_int_equal(rmatch(t.r, A, 8, out, 8, NULL), 0);
	assert_int_equal(pce_router_reclaim(t.r), 0);
	assert_int_equal(pce_router_stats_get(t.r, &st), 0);
	assert_int_equal(st.holdings, 0);
	assert_int_equal(st.nodes, 0);
	trouter_close(&t);
}

static void test_budget_burst(void **state)
{
	struct trouter t;
	struct pce_router_config cfg;
	struct pce_router_stats st;
	uint32_t q[64];
	(void)state;

	trouter_config(&t, &cfg);
	cfg.index_budget = 64 * 1024;
	cfg.block_size = 16;
	trouter_open(&t, &cfg);
	/* A burst of unique prompts, far beyond the budget. */
	for (uint32_t i = 0; i < 2000; i++) {
		for (uint32_t j = 0; j < 64; j++)
			q[j] = i * 64 + j;
		assert_int_equal(pce_router_add(t.r, i % 7, 0, q, 64, 0, NULL, NULL), 0);
		assert_int_equal(pce_router_stats_get(t.r, &st), 0);
		assert_true(st.index_bytes <= cfg.index_budget);
	}
	assert_true(st.removed[PCE_REASON_CAPACITY] > 0);
	raudit(t.r);
	/* The reclaimer brings it under the low watermark. */
	assert_int_equal(pce_router_reclaim(t.r), 0);
	assert_int_equal(pce_router_stats_get(t.r, &st), 0);
	assert_true(st.index_bytes <= cfg.index_budget);
	/* A sequence bigger than the whole budget is refused. */
	{
		static uint32_t big[1 << 16];
		assert_int_equal(pce_router_add(t.r, 1, 0, big, NELEM(big), 0, NULL, NULL),
				 PCE_ENOSPC);
		assert_int_equal(pce_router_stats_get(t.r, &st), 0);
		assert_int_equal(st.adds_refused, 1);
	}
	trouter_close(&t);
}

/* pce_router_set_budgets(): a shrink below the index evicts down to the
 * new budget before it returns, and adds then keep within it; raising the
 * budget or lifting it lets the index grow again; bad arguments change
 * nothing. */
static void test_set_budgets(void **state)
{
	struct trouter t;
	struct pce_router_config cfg;
	struct pce_router_stats st;
	struct pce_router_budgets b = {16 * 1024, 90, 80};
	uint32_t q[64];
	(void)state;

	trouter_config(&t, &cfg);
	cfg.block_size = 16;
	trouter_open(&t, &cfg);
	for (uint32_t i = 0; i < 400; i++) {
		for (uint32_t j = 0; j < 64; j++)
			q[j] = i * 64 + j;
		assert_int_equal(pce_router_add(t.r, i % 7, 0, q, 64, 0, NULL, NULL), 0);
	}
	assert_int_equal(pce_router_stats_get(t.r, &st), 0);
	assert_true(st.index_bytes > 4 * b.index_budget);
	assert_int_equal(st.index_budget, 0);

	assert_int_equal(pce_router_set_budgets(NULL, &b), PCE_EINVAL);
	assert_int_equal(pce_router_set_budgets(t.r, NULL), PCE_EINVAL);
	b.low_watermark_pct = 95; /* above high */
	assert_int_equal(pce_router_set_budgets(t.r, &b), PCE_EINVAL);
	b.low_watermark_pct = 80;
	b.high_watermark_pct = 101;
	assert_int_equal(pce_router_set_budgets(t.r, &b), PCE_EINVAL);
	b.high_watermark_pct = 90;
	assert_int_equal(pce_router_stats_get(t.r, &st), 0);
	assert_int_equal(st.index_budget, 0);
	assert_int_equal(st.removed[PCE_REASON_CAPACITY], 0);

	/* Shrink: evicted synchronously. */
	assert_int_equal(pce_router_set_budgets(t.r, &b), 0);
	assert_int_equal(pce_router_stats_get(t.r, &st), 0);
	assert_int_equal(st.index_budget, b.index_budget);
	assert_true(st.index_bytes <= b.index_budget);
	assert_true(st.removed[PCE_REASON_CAPACITY] > 0);
	assert_int_equal(t.removed_by[PCE_REASON_CAPACITY] > 0, 1);
	raudit(t.r);
	/* Adds keep within the new budget. */
	for (uint32_t i = 400; i < 600; i++) {
		for (uint32_t j = 0; j < 64; j++)
			q[j] = i * 64 + j;
		assert_int_equal(pce_router_add(t.r, i % 7, 0, q, 64, 0, NULL, NULL), 0);
		assert_int_equal(pce_router_stats_get(t.r, &st), 0);
		assert_true(st.index_bytes <= b.index_budget);
	}
	/* The reclaimer goes down to the new low watermark. */
	assert_int_equal(pce_router_reclaim(t.r), 0);
	assert_int_equal(pce_router_stats_get(t.r, &st), 0);
	assert_true(st.index_bytes <= b.index_budget / 100 * 90);
	raudit(t.r);

	/* Lifted: the index grows past the old budget without evicting. */
	b.index_budget = 0;
	assert_int_equal(pce_router_set_budgets(t.r, &b), 0);
	assert_int_equal(pce_router_stats_get(t.r, &st), 0);
	{
		uint64_t evicted = st.removed[PCE_REASON_CAPACITY];

		for (uint32_t i = 600; i < 800; i++) {
			for (uint32_t j = 0; j < 64; j++)
				q[j] = i * 64 + j;
			assert_int_equal(pce_router_add(t.r, i % 7, 0, q, 64, 0, NULL, NULL), 0);
		}
		assert_int_equal(pce_router_reclaim(t.r), 0);
		assert_int_equal(pce_router_stats_get(t.r, &st), 0);
		assert_true(st.index_bytes > 4 * 16 * 1024);
		assert_int_equal(st.removed[PCE_REASON_CAPACITY], evicted);
		assert_int_equal(st.index_budget, 0);
	}
	trouter_close(&t);
}

static void test_bad_arguments(void **state)
{
	struct trouter t;
	struct pce_router_config cfg;
	struct pce_router *r = (struct pce_router *)1;
	struct pce_overlap out[2];
	size_t n;
	char msg[64];
	(void)state;

	trouter_config(&t, &cfg);
	assert_int_equal(pce_router_create(NULL, &r), PCE_EINVAL);
	assert_int_equal(pce_router_create(&cfg, NULL), PCE_EINVAL);
	cfg.shards = 3;
	assert_non_null(pce_router_config_error(&cfg));
	assert_int_equal(pce_router_create(&cfg, &r), PCE_EINVAL);
	assert_null(r);
	trouter_config(&t, &cfg);
	cfg.tier_weight[2] = -1;
	assert_non_null(pce_router_config_error(&cfg));
	trouter_config(&t, &cfg);
	cfg.block_size = 0;
	assert_int_equal(pce_router_create(&cfg, &r), PCE_EINVAL);
	assert_null(pce_router_config_error(NULL) ? NULL : "x");
	trouter_open_bs(&t, 1);
	assert_int_equal(pce_router_add(NULL, 1, 0, A, 2, 0, NULL, NULL), PCE_EINVAL);
	assert_int_equal(pce_router_add(t.r, 1, 0, NULL, 2, 0, NULL, NULL), PCE_EINVAL);
	assert_int_equal(pce_router_add(t.r, 1, 0, A, 0, 0, NULL, NULL), PCE_ESHORT);
	assert_int_equal(pce_router_add(t.r, 1, 0, A, 2, PCE_TIERS, NULL, NULL), PCE_EINVAL);
	{
		struct pce_router_add_opts bad = {1u << 7, 0};
		assert_int_equal(pce_router_add(t.r, 1, 0, A, 2, 0, &bad, NULL), PCE_EINVAL);
	}
	assert_int_equal(pce_router_add(t.r, 1, 0, A, PCE_MAX_TOKENS + 1, 0, NULL, NULL),
			 PCE_E2BIG);
	assert_int_equal(pce_router_remove(NULL, 1, 0, A, 2), PCE_EINVAL);
	assert_int_equal(pce_router_remove(t.r, 1, 0, NULL, 2), PCE_EINVAL);
	assert_int_equal(pce_router_remove(t.r, 1, 0, A, 0), PCE_ESHORT);
	assert_int_equal(pce_router_remove(t.r, 1, 0, A, PCE_MAX_TOKENS + 1), PCE_E2BIG);
	assert_int_equal(pce_router_match(NULL, 0, A, 2, 0, out, 2, &n, NULL), PCE_EINVAL);
	assert_int_equal(pce_router_match(t.r, 0, A, 2, 0, out, 2, NULL, NULL), PCE_EINVAL);
	assert_int_equal(pce_router_match(t.r, 0, A, 2, 0, NULL, 2, &n, NULL), PCE_EINVAL);
	assert_int_equal(pce_router_match(t.r, 0, NULL, 2, 0, out, 2, &n, NULL), PCE_EINVAL);
	assert_int_equal(pce_router_match(t.r, 0, A, 2, 8, out, 2, &n, NULL), PCE_EINVAL);
	assert_int_equal(pce_router_match(t.r, 0, A, PCE_MAX_TOKENS + 1, 0, out, 2, &n, NULL),
			 PCE_E2BIG);
	assert_int_equal(pce_router_clear_owner(NULL, 1, NULL), PCE_EINVAL);
	assert_int_equal(pce_router_clear_ns(NULL, 1, NULL), PCE_EINVAL);
	assert_int_equal(pce_router_reclaim(NULL), PCE_EINVAL);
	assert_int_equal(pce_router_stats_get(NULL, NULL), PCE_EINVAL);
	assert_int_equal(pce_router_audit(NULL, 0, msg, sizeof msg), PCE_EINVAL);
	assert_int_equal(pce_router_audit(t.r, 1, msg, sizeof msg), PCE_EINVAL);
	pce_router_destroy(NULL);
	trouter_close(&t);
}

static void test_events_and_stats(void **state)
{
	struct trouter t;
	struct pce_overlap out[4];
	struct pce_router_stats st;
	size_t nb;
	(void)state;

	trouter_open_bs(&t, 2);
	assert_int_equal(pce_router_add(t.r, 4, 0, A, 8, PCE_TIER_CPU, NULL, &nb), 0);
	assert_int_equal(nb, 4);
	assert_int_equal(t.events[PCE_EVENT_STORED], 1);
	assert_int_equal(t.last.owner, 4);
	assert_int_equal(t.last.tier, PCE_TIER_CPU);
	assert_int_equal(t.last.len, 8);
	/* Nothing new: no event. */
	assert_int_equal(pce_router_add(t.r, 4, 0, A, 6, PCE_TIER_CPU, NULL, &nb), 0);
	assert_int_equal(nb, 0);
	assert_int_equal(t.events[PCE_EVENT_STORED], 1);
	assert_int_equal(pce_router_add(t.r, 5, 0, B, 8, 0, NULL, &nb), 0);
	assert_int_equal(nb, 4);
	assert_int_equal(rmatch(t.r, A, 8, out, 4, NULL), 2);
	assert_int_equal(pce_router_match(t.r, 0, A, 8, PCE_ROUTER_MATCH_PEEK, out, 4, &nb, NULL),
			 0);
	assert_int_equal(pce_router_stats_get(t.r, &st), 0);
	assert_int_equal(st.matches, 1);
	assert_int_equal(st.owners_reported, 2);
	assert_int_equal(st.adds, 3);
	assert_int_equal(st.holdings, 8);
	assert_int_equal(st.tokens, 12);
	assert_true(st.bytes_per_owner_block > 0);
	assert_int_equal(st.index_bytes, st.trie_bytes + st.owner_bytes);
	trouter_close(&t);
}

/* Many owners share the first block (spread placement): a top-k match
 * reports the deepest ones and counts the rest. */
static void test_spread_placement(void **state)
{
	struct trouter t;
	struct pce_overlap out[8];
	uint32_t q[8];
	size_t n, left;
	(void)state;

	trouter_open_bs(&t, 4);
	for (uint32_t w = 0; w < 3000; w++) {
		q[0] = 1, q[1] = 2, q[2] = 3, q[3] = 4;
		q[4] = 100 + w % 50, q[5] = q[6] = q[7] = w % 50;
		assert_int_equal(add(t.r, w, q, 8, 0), 0);
	}
	raudit(t.r);
	q[4] = 100 + 7, q[5] = q[6] = q[7] = 7;
	n = rmatch(t.r, q, 8, out, 8, &left);
	assert_int_equal(n, 8);
	assert_int_equal(left, 3000 - 8);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(out[i].tokens, 8);
		assert_int_equal(out[i].owner % 50, 7);
	}
	/* 60 hold 8 tokens; ask for 100: 40 more hold the first block. */
	{
		static struct pce_overlap big[100];
		n = rmatch(t.r, q, 8, big, 100, &left);
		assert_int_equal(n, 100);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(big[i].tokens, i < 60 ? 8 : 4);
	}
	trouter_close(&t);
}

/* A remove under a node with many children: the walk enters only the
 * children holding the owner, and the parent's children table shrinks while
 * the owner's branches are unhung one by one, so the scan of its children
 * resumes in a rebuilt table and must pass none of the owner's branches. */
static void test_remove_many_branches(void **state)
{
	struct trouter t;
	struct pce_overlap out[8];
	struct pce_router_stats st;
	uint32_t q[4];
	size_t n;
	(void)state;

	trouter_open_bs(&t, 2);
	q[0] = 1, q[1] = 2;
	for (uint32_t b = 0; b < 200; b++) {
		q[2] = 1000 + b, q[3] = b;
		assert_int_equal(add(t.r, b % 20 == 7 ? 2 : 1, q, 4, PCE_TIER_GPU), 0);
	}
	raudit(t.r);
	assert_int_equal(pce_router_remove(t.r, 1, 0, q, 2), 0);
	raudit(t.r);
	for (uint32_t b = 0; b < 200; b++) {
		q[2] = 1000 + b, q[3] = b;
		n = rmatch(t.r, q, 4, out, 8, NULL);
		assert_int_equal(n, 1);
		assert_int_equal(out[0].owner, 2);
		assert_int_equal(out[0].tokens, b % 20 == 7 ? 4 : 2);
	}
	assert_int_equal(pce_router_stats_get(t.r, &st), 0);
	assert_int_equal(st.holdings, 1 + 10);
	assert_int_equal(st.nodes, 1 + 1 + 10); /* root, the shared block, 10 branches */
	trouter_close(&t);
}

static void test_clear_owner_many_branches(void **state)
{
	struct trouter t;
	uint64_t removed;
	uint32_t q[4];
	(void)state;

	trouter_open_bs(&t, 2);
	q[0] = 1, q[1] = 2;
	for (uint32_t b = 0; b < 200; b++) {
		q[2] = 1000 + b, q[3] = b;
		assert_int_equal(add(t.r, b % 20 == 7 ? 2 : 1, q, 4, PCE_TIER_GPU), 0);
	}
	assert_int_equal(pce_router_clear_owner(t.r, 1, &removed), 0);
	raudit(t.r);
	assert_int_equal(removed, 190 + 1);
	trouter_close(&t);
}

/* A query through more nodes than the match keeps on its stack (128): the
 * climb walks again for the shallower ones. */
static void test_deep_path_rewalk(void **state)
{
	struct trouter t;
	static uint32_t q[300];
	static struct pce_overlap out[300];
	size_t n, left;
	(void)state;

	trouter_open_bs(&t, 1);
	for (uint32_t i = 0; i < 300; i++)
		q[i] = i * 7 + 1;
	/* Owner i holds i + 1 tokens: 300 nodes, each a change point. */
	for (uint32_t i = 0; i < 300; i++)
		assert_int_equal(add(t.r, i, q, i + 1, PCE_TIER_GPU), 0);
	raudit(t.r);
	n = rmatch(t.r, q, 300, out, 300, &left);
	assert_int_equal(n, 300);
	assert_int_equal(left, 0);
	for (uint32_t i = 0; i < 300; i++) {
		assert_int_equal(out[i].owner, 299 - i);
		assert_int_equal(out[i].tokens, 300 - i);
	}
	/* A top-k that stops inside the ring, and one just beyond it. */
	assert_int_equal(rmatch(t.r, q, 300, out, 5, &left), 5);
	assert_int_equal(left, 295);
	assert_int_equal(out[4].tokens, 296);
	assert_int_equal(rmatch(t.r, q, 300, out, 130, NULL), 130);
	assert_int_equal(out[129].tokens, 171);
	trouter_close(&t);
}

/* ---- reference model (router_model.h) ----------------------------------- */

/* Holdings at every depth of two branches, with expiries that rise and
 * fall down the paths (a node due before its children, and after them),
 * splits of expiring nodes, a re-add that extends, a removal that splits:
 * after each step of the clock a reclaim pass drops exactly what the
 * model says has expired (checked by match, the holdings gauge and the
 * audit, which checks every node's key in the expiry heap, R8). */
static void test_ttl_many_depths(void **state)
{
	static struct rm_model m;
	static const uint32_t D[RM_MAXLEN] = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const uint32_t E[RM_MAXLEN] = {5, 6, 7, 8, 9, 20, 21, 22, 23, 24, 25, 26};
	struct pce_router_config cfg;
	struct pce_router_stats st;
	struct trouter t;
	double w[PCE_TIERS];
	(void)state;

	trouter_config(&t, &cfg);
	cfg.block_size = 1;
	for (uint32_t i = 0; i < PCE_TIERS; i++)
		w[i] = cfg.tier_weight[i];
	trouter_open(&t, &cfg);
	memset(&m, 0, sizeof(m));
	m.bs = 1;
	for (uint32_t o = 0; o < RM_OWNERS; o++) {
		/* Longest first on D (one node, then split by the shorter
		 * adds), shortest first on E (a node per add). */
		for (uint32_t k = 0; k < 2; k++) {
			const uint32_t *q = k ? E : D;
			size_t len = k ? 2 + o * 2 : RM_MAXLEN - o * 2;
			uint64_t ttl = 16 * (uint64_t)(1 + (o * 7 + k * 3) % 11) * 4;
			struct pce_router_add_opts opt = {0, o == 5 && k ? PCE_NEVER : ttl};

			assert_int_equal(pce_router_add(t.r, o, 0, q, len, o % PCE_TIERS, &opt, NULL), 0);
			assert_int_equal(rm_add(&m, o, 0, q, len, o % PCE_TIERS,
						opt.ttl_ns == PCE_NEVER ? PCE_NEVER : t.now + ttl, 0),
					 0);
		}
	}
	raudit(t.r);
	for (int step = 0; step < 48; step++) {
		if (step == 10) {
			/* Owner 2 re-adds part of D for longer: its expiry rises on
			 * that path only. */
			struct pce_router_add_opts longer = {0, 16 * 200};

			assert_int_equal(pce_router_add(t.r, 2, 0, D, 5, 0, &longer, NULL), 0);
			assert_int_equal(rm_add(&m, 2, 0, D, 5, 0, t.now + 16 * 200, 0), 0);
		}
		if (step == 12) {
			/* Owner 5 drops D from token 3 on, inside an expiring edge. */
			int rc = pce_router_remove(t.r, 5, 0, D, 3);

			assert_int_equal(rc, rm_remove(&m, 5, 0, D, 3));
		}
		t.now += 16;
		assert_int_equal(pce_router_reclaim(t.r), 0);
		rm_drop(&m, -1, 0, 0, t.now);
		raudit(t.r);
		assert_int_equal(pce_router_stats_get(t.r, &st), 0);
		assert_int_equal(st.holdings, m.n);
		for (int k = 0; k < 2; k++) {
			struct pce_overlap out[RM_OWNERS];
			size_t n;
			const char *why;

			assert_int_equal(pce_router_match(t.r, 0, k ? E : D, RM_MAXLEN, 0, out,
							  RM_OWNERS, &n, NULL),
					 0);
			why = rm_check(&m, 0, k ? E : D, RM_MAXLEN, t.now, w, out, n, RM_OWNERS);
			if (why)
				fail_msg("step %d: %s", step, why);
		}
	}
	/* What is left never expires, or was extended past the clock. */
	assert_true(m.n > 0);
	t.now += 16 * 400;
	assert_int_equal(pce_router_reclaim(t.r), 0);
	rm_drop(&m, -1, 0, 0, t.now);
	assert_int_equal(pce_router_stats_get(t.r, &st), 0);
	assert_int_equal(st.holdings, m.n);
	/* Owner 5's E had no TTL, but the removal of D[0..3) took E's
	 * prefixes from 3 tokens on (they share 5). */
	assert_int_equal(st.holdings, 2);
	trouter_close(&t);
}

static void rand_seq(uint32_t *q, size_t *len)
{
	*len = 1 + (size_t)(rand() % RM_MAXLEN);
	for (size_t i = 0; i < *len; i++)
		q[i] = (uint32_t)(rand() % 3);
}

static void test_reference_model(void **state)
{
	static struct rm_model m;
	(void)state;

	for (uint32_t bs = 1; bs <= 3; bs++) {
		struct trouter t;
		struct pce_router_config cfg;

		srand(1234 + bs);
		trouter_config(&t, &cfg);
		cfg.block_size = bs;
		cfg.shards = 2;
		for (int i = 0; i < (int)PCE_TIERS; i++)
			cfg.tier_weight[i] = 1.0 + i;
		trouter_open(&t, &cfg);
		memset(&m, 0, sizeof(m));
		m.bs = bs;
		for (int step = 0; step < 6000; step++) {
			uint32_t q[RM_MAXLEN], owner = (uint32_t)(rand() % RM_OWNERS);
			size_t len;
			int op = rand() % 100;

			rand_seq(q, &len);
			if (op < 40) {
				uint32_t tier = (uint32_t)(rand() % 4);
				int retier = rand() % 4 == 0;
				uint64_t ttl = rand() % 3 == 0 ? 16 * (uint64_t)(1 + rand() % 20) : PCE_NEVER;
				struct pce_router_add_opts o = {retier ? PCE_ROUTER_ADD_RETIER : 0, ttl};
				int rc = pce_router_add(t.r, owner, 0, q, len, tier, &o, NULL);

				assert_int_equal(rc, len < bs ? PCE_ESHORT : 0);
				if (rc == 0)
					assert_int_equal(rm_add(&m, owner, 0, q, len, tier,
								ttl == PCE_NEVER ? PCE_NEVER
										 : t.now + ttl,
								retier),
							 0);
			} else if (op < 60) {
				int rc = pce_router_remove(t.r, owner, 0, q, len);

				if (len < bs)
					assert_int_equal(rc, PCE_ESHORT);
				else
					assert_int_equal(rc, rm_remove(&m, owner, 0, q, len));
			} else if (op < 62) {
				assert_int_equal(pce_router_clear_owner(t.r, owner, NULL), 0);
				rm_drop(&m, 1, owner, 0, 0);
			} else if (op < 67) {
				t.now += 16 * (uint64_t)(rand() % 8);
			} else if (op < 70) {
				struct pce_router_stats st;

				assert_int_equal(pce_router_reclaim(t.r), 0);
				rm_drop(&m, -1, 0, 0, t.now);
				raudit(t.r);
				assert_int_equal(pce_router_stats_get(t.r, &st), 0);
				assert_int_equal(st.holdings, m.n);
			} else {
				struct pce_overlap out[RM_OWNERS + 1];
				size_t n, k = 1 + (size_t)(rand() % (RM_OWNERS + 1));
				const char *why;

				assert_int_equal(pce_router_match(t.r, 0, q, len, 0, out, k, &n, NULL),
						 0);
				why = rm_check(&m, 0, q, len, t.now, cfg.tier_weight, out, n, k);
				if (why)
					fail_msg("bs %u step %d: %s", bs, step, why);
			}
		}
		raudit(t.r);
		trouter_close(&t);
	}
}

/* Matches run while owners are added, removed and cleared: every owner
 * reported holds at most what it ever held, and the index stays sound. */
struct race {
	struct pce_router *r;
	int stop;
	uint64_t matches;
	uint64_t bad;
};

static void *race_reader(void *arg)
{
	struct race *x = arg;
	struct pce_overlap out[64];
	size_t n;

	while (!__atomic_load_n(&x->stop, __ATOMIC_ACQUIRE)) {
		if (pce_router_match(x->r, 0, A, 8, 0, out, 64, &n, NULL) != 0)
			x->bad++;
		for (size_t i = 0; i < n; i++) {
			/* Owner o only ever holds up to (o % 8) + 1 tokens of A. */
			x->bad += out[i].tokens > out[i].owner % 8 + 1;
			for (size_t j = 0; j < i; j++)
				x->bad += out[j].owner == out[i].owner;
		}
		__atomic_add_fetch(&x->matches, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_clear_and_ttl_race_matches(void **state)
{
	struct pce_router_config cfg;
	struct race x = {0};
	struct pce_router_add_opts ttl = {0, 1000};
	pthread_t th;
	char msg[256];
	(void)state;

	pce_router_config_init(&cfg);
	cfg.shards = 2;
	cfg.reclaim_interval_ns = 100 * 1000; /* the reclaimer expires holdings */
	assert_int_equal(pce_router_create(&cfg, &x.r), 0);
	assert_int_equal(pthread_create(&th, NULL, race_reader, &x), 0);
	for (int round = 0;
	     round < 300 || __atomic_load_n(&x.matches, __ATOMIC_RELAXED) < 100; round++) {
		for (uint32_t o = 0; o < 48; o++)
			assert_int_equal(pce_router_add(x.r, o, 0, A, o % 8 + 1, 0,
							o % 3 ? NULL : &ttl, NULL),
					 0);
		for (uint32_t o = 0; o < 48; o += 5)
			(void)pce_router_remove(x.r, o, 0, A, o % 8 + 1);
		if (round % 3 == 0)
			assert_int_equal(pce_router_clear_owner(x.r, (uint32_t)round % 48, NULL), 0);
		if (round % 7 == 0)
			assert_int_equal(pce_router_clear_ns(x.r, 0, NULL), 0);
	}
	__atomic_store_n(&x.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	if (pce_router_audit(x.r, 0, msg, sizeof msg))
		fail_msg("audit: %s", msg);
	assert_true(x.matches > 0);
	assert_int_equal(x.bad, 0);
	pce_router_destroy(x.r);
}

/* Matches run while the reclaimer expires holdings at every depth of A
 * (each owner's TTL differs, and re-adds extend some): every owner is
 * reported once, with at most what it ever held, and the index stays
 * sound (R8 included). */
static void test_ttl_expiry_races_matches(void **state)
{
	struct pce_router_config cfg;
	struct race x = {0};
	pthread_t th;
	char msg[256];
	(void)state;

	pce_router_config_init(&cfg);
	cfg.shards = 2;
	cfg.reclaim_interval_ns = 100 * 1000;
	assert_int_equal(pce_router_create(&cfg, &x.r), 0);
	assert_int_equal(pthread_create(&th, NULL, race_reader, &x), 0);
	for (int round = 0;
	     round < 400 || __atomic_load_n(&x.matches, __ATOMIC_RELAXED) < 100; round++) {
		for (uint32_t o = 0; o < 48; o++) {
			struct pce_router_add_opts ttl = {0, 1000 * (uint64_t)(1 + (o + round) % 50)};

			assert_int_equal(pce_router_add(x.r, o, 0, A, o % 8 + 1, 0, &ttl, NULL), 0);
		}
	}
	__atomic_store_n(&x.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	if (pce_router_audit(x.r, 0, msg, sizeof msg))
		fail_msg("audit: %s", msg);
	assert_true(x.matches > 0);
	assert_int_equal(x.bad, 0);
	pce_router_destroy(x.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_longest_first),
		cmocka_unit_test(test_partial_block_not_held),
		cmocka_unit_test(test_topk_small_output_and_k0),
		cmocka_unit_test(test_tiers_and_scores),
		cmocka_unit_test(test_remove_middle_block),
		cmocka_unit_test(test_clear_owner_and_ns),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_ttl_many_depths),
		cmocka_unit_test(test_budget_burst),
		cmocka_unit_test(test_set_budgets),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_events_and_stats),
		cmocka_unit_test(test_spread_placement),
		cmocka_unit_test(test_deep_path_rewalk),
		cmocka_unit_test(test_remove_many_branches),
		cmocka_unit_test(test_clear_owner_many_branches),
		cmocka_unit_test(test_reference_model),
		cmocka_unit_test(test_clear_and_ttl_race_matches),
		cmocka_unit_test(test_ttl_expiry_races_matches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
