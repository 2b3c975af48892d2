/*
 * test_alloc_fail.c - the allocation-failure sweep (built with
 * PCE_FAULT_INJECTION).
 *
 * A representative scenario (create; stores that make a root, split an
 * edge, end at a split, grow a child table, open new namespaces; a touch;
 * a pinned lookup; removals that merge a child and a parent; a store that
 * pins its holder; a prefix removal that merges; a replacement of a pinned
 * entry; a batch analysis; pin releases; TTL expiry in a reclaim pass; a
 * namespace clear; stores that must evict under a budget, an eviction on
 * demand and a budget shrink; then a router index: create, adds that make
 * a root, split an edge, end at a split and grow owner sets, a remove that
 * splits an edge, a match, TTL expiry, an owner clear, adds that evict
 * under the index budget, destroy; destroy)
 * is a list of single API calls.  For every call i and every N, the
 * scenario is replayed from scratch with calls 0..i-1 succeeding, the N-th
 * allocation of call i made to fail (once, then again with every later
 * allocation failing too), until call i completes without reaching its
 * N-th allocation.  Each failed call must return PCE_ENOMEM, leave the
 * cache consistent (audit passes, gauges unchanged) and leak nothing (the
 * live block count is unchanged); the same call then succeeds without
 * faults, the rest of the scenario runs, and after destroy every block is
 * freed and every value was released exactly once.
 *
 * Calls marked "may absorb" are allowed to succeed although an allocation
 * failed: a reclaim pass that cannot merge leaves the expired entry for
 * the next pass, a removal keeps an oversized child table when it cannot
 * shrink it, an evicting store picks another victim.  A store that
 * evicts (and an eviction on demand, a budget shrink) may fail after its
 * evictions (they stay: cache.h), so for it
 * "nothing changed" is not checked, only consistency and, at the end, that
 * nothing leaked.  destroy, pin releases, touch and clear must not allocate.
 */
#include "util.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"

struct run {
	struct tcache t;
	struct pce_cache *budget; /* a second cache with max_entries = 2 */
	struct tcache bt;
	struct pce_pin pin;
	struct pce_pin holder_pin;
	struct pce_router *router;
	struct trouter_clock {
		uint64_t now;
	} rclock;
};

struct step {
	const char *name;
	int (*call)(struct run *r, int arg);
	int arg;
	int absorbs;  /* may succeed although an allocation failed */
	int evicts;   /* may change the cache (evict) before it fails */
	int no_alloc; /* must not allocate at all */
};

static const uint32_t A[] = {1, 2, 3, 4, 5, 6}, B[] = {1, 2, 3, 9, 9}, C[] = {1, 2};

static int create_main(struct run *r, int arg)
{
	struct pce_config cfg;
	int rc;

	(void)arg;
	tcache_config(&r->t, &cfg);
	cfg.shards = 2;
	rc = pce_cache_create(&cfg, &r->t.c);
	if (rc)
		assert_null(r->t.c);
	return rc;
}

static int store(struct run *r, uint64_t ns, const uint32_t *q, size_t n, uint64_t value,
		 uint64_t ttl, unsigned flags)
{
	struct pce_store_opts o = {flags, ttl, 0};
	return pce_cache_store(r->t.c, ns, q, n, value, 8, &o, NULL);
}

static int store_root(struct run *r, int arg)
{
	(void)arg;
	return store(r, 0, A, 6, 1, 100, 0); /* with a TTL: the expiry heap grows */
}

static int store_split_branch(struct run *r, int arg)
{
	(void)arg;
	return store(r, 0, B, 5, 2, 0, 0);
}

static int store_split_end(struct run *r, int arg)
{
	(void)arg;
	return store(r, 0, C, 2, 3, 0, 0);
}

static int store_namespace(struct run *r, int arg)
{
	const uint32_t q[] = {5, 5};
	return store(r, 100 + (uint64_t)arg, q, 2, 10 + (uint64_t)arg, 0, 0);
}

static int store_child(struct run *r, int arg)
{
	uint32_t q[7];

	memcpy(q, A, sizeof(A));
	q[6] = 100 + (uint32_t)arg; /* children of A's node: its table grows */
	return store(r, 0, q, 7, 20 + (uint64_t)arg, 0, 0);
}

static int lookup_pin(struct run *r, int arg)
{
	struct pce_lookup_opts o = {PCE_LOOKUP_PIN, 0};
	struct pce_match m;
	int rc;

	(void)arg;
	rc = pce_cache_lookup(r->t.c, 0, A, 6, &o, &m);
	if (rc == 0) {
		assert_int_equal(m.tokens, 6);
		r->pin = m.pin;
	}
	return rc;
}

static int remove_seq(struct run *r, const uint32_t *q, size_t n)
{
	return pce_cache_remove(r->t.c, 0, q, n, NULL);
}

static int remove_merge_child(struct run *r, int arg)
{
	(void)arg;
	return remove_seq(r, C, 2); /* (1 2)[C] -> (3) becomes (1 2 3) */
}

static int remove_merge_parent(struct run *r, int arg)
{
	(void)arg;
	return remove_seq(r, B, 5); /* (1 2 3) keeps one child: merged with it */
}

static int remove_child(struct run *r, int arg)
{
	uint32_t q[7];

	memcpy(q, A, sizeof(A));
	q[6] = 100 + (uint32_t)arg; /* A's table ends mostly empty: shrink */
	return remove_seq(r, q, 7);
}

static int touch(struct run *r, int arg)
{
	(void)arg;
	return pce_cache_touch(r->t.c, 0, A, 6, 300); /* raises A's TTL: heap, hints */
}

static const uint32_t D[] = {1, 2, 3, 4, 7, 7};

static int store_holder(struct run *r, int arg)
{
	struct pce_store_opts o = {PCE_STORE_PIN_HOLDER, 0, 0};
	struct pce_store_result res;
	int rc;

	(void)arg;
	rc = pce_cache_store(r->t.c, 0, D, 6, 60, 8, &o, &res);
	if (rc == 0) {
		assert_int_equal(res.holder_tokens, 4);
		r->holder_pin = res.holder_pin;
	} else {
		assert_int_equal(res.holder_pin.id, 0);
	}
	return rc;
}

static int remove_prefix(struct run *r, int arg)
{
	uint64_t n = 0;
	int rc;

	(void)arg;
	/* D's edge goes; the split node above it merges with A's side. */
	rc = pce_cache_remove_prefix(r->t.c, 0, D, 5, &n);
	assert_int_equal(n, rc == 0 ? 1 : 0);
	return rc;
}

static int holder_pin_release(struct run *r, int arg)
{
	(void)arg;
	return pce_pin_release(r->t.c, r->holder_pin);
}

static int replace_pinned(struct run *r, int arg)
{
	(void)arg;
	return store(r, 0, A, 6, 40, 200, PCE_STORE_REPLACE);
}

static int dedup(struct run *r, int arg)
{
	const uint32_t x[] = {1, 2, 3, 4, 7};
	struct pce_seq seqs[3] = {{0, A, 6}, {0, B, 5}, {0, x, 5}};
	struct pce_dedup d;

	(void)arg;
	return pce_dedup_analyze(r->t.c, seqs, 3, &d);
}

static int pin_release(struct run *r, int arg)
{
	(void)arg;
	return pce_pin_release(r->t.c, r->pin);
}

static int expire_and_reclaim(struct run *r, int arg)
{
	(void)arg;
	/* The replacement of A expires; its node keeps one child: merge. */
	r->t.now += 1000;
	return pce_cache_reclaim(r->t.c);
}

static int clear_namespace(struct run *r, int arg)
{
	uint64_t n;
	return pce_cache_clear_ns(r->t.c, 100 + (uint64_t)arg, &n);
}

static int create_budget(struct run *r, int arg)
{
	struct pce_config cfg;
	int rc;

	(void)arg;
	tcache_config(&r->bt, &cfg);
	cfg.shards = 1;
	cfg.max_entries = 2;
	rc = pce_cache_create(&cfg, &r->budget);
	if (rc)
		assert_null(r->budget);
	return rc;
}

static int store_budget(struct run *r, int arg)
{
	/* Siblings under one branch: the third store must evict one, which
	 * merges the branch node with the survivor. */
	const uint32_t q[] = {7, 7, 7, (uint32_t)arg};
	return pce_cache_store(r->budget, 0, q, 4, 50 + (uint64_t)arg, 0, NULL, NULL);
}

static int evict_budget(struct run *r, int arg)
{
	(void)arg;
	/* Either sibling's eviction merges the branch node with the other. */
	return pce_cache_evict(r->budget, PCE_EVICT_ENTRIES, 1, NULL);
}

static int shrink_budget(struct run *r, int arg)
{
	struct pce_budgets b = {0, 0, 1, 90, 80};

	(void)arg;
	return pce_cache_set_budgets(r->budget, &b);
}

static int audit(struct run *r, int arg)
{
	(void)arg;
	return pce_cache_audit(r->t.c, PCE_AUDIT_QUIESCENT, NULL, 0);
}

static int destroy_budget(struct run *r, int arg)
{
	int rc = pce_cache_destroy(r->budget);

	(void)arg;
	if (rc == 0)
		r->budget = NULL;
	return rc;
}

/* ---- the router index ---- */

static uint64_t router_clock(void *ctx)
{
	return ((struct trouter_clock *)ctx)->now;
}

static int router_create(struct run *r, int arg)
{
	struct pce_router_config cfg;

	(void)arg;
	pce_router_config_init(&cfg);
	cfg.shards = 2;
	cfg.block_size = 2;
	cfg.background_reclaim = 0;
	cfg.clock = router_clock;
	cfg.clock_ctx = &r->rclock;
	cfg.index_budget = 4096;
	r->rclock.now = 1024;
	return pce_router_create(&cfg, &r->router);
}

static const uint32_t RA[] = {1, 2, 3, 4, 5, 6, 7, 8}, RB[] = {1, 2, 3, 4, 9, 9};
static const uint32_t RC[] = {1, 2, 3, 4, 9, 9, 8, 8, 8, 8};

static int router_add(struct run *r, int arg)
{
	struct pce_router_add_opts ttl = {0, 100};

	switch (arg) {
	case 0: /* a new root, with a TTL */
		return pce_router_add(r->router, 1, 0, RA, 8, PCE_TIER_GPU, &ttl, NULL);
	case 1: /* split, branch */
		return pce_router_add(r->router, 2, 0, RB, 6, PCE_TIER_CPU, NULL, NULL);
	case 2: /* split, ends there, the owner already held the node */
		return pce_router_add(r->router, 1, 0, RA, 2, PCE_TIER_GPU, NULL, NULL);
	case 8: { /* a leaf of two blocks, expiring after the expiry step */
		struct pce_router_add_opts later = {0, 100000};

		return pce_router_add(r->router, 8, 0, RC, 10, PCE_TIER_GPU, &later, NULL);
	}
	default: /* owners join the sets of a path: they grow */
		return pce_router_add(r->router, (uint32_t)arg, 0, RA, 6, PCE_TIER_GPU, NULL,
				      NULL);
	}
}

static int router_remove_split(struct run *r, int arg)
{
	(void)arg;
	/* Owner 8 keeps RC[0..8): its leaf (8 8 8 8) is split after 2, and
	 * both halves are in the expiry heap. */
	return pce_router_remove(r->router, 8, 0, RC, 10);
}

static int router_match(struct run *r, int arg)
{
	struct pce_overlap out[16];
	size_t n;

	(void)arg;
	return pce_router_match(r->router, 0, RA, 8, 0, out, 16, &n, NULL);
}

static int router_expire(struct run *r, int arg)
{
	(void)arg;
	r->rclock.now += 1000;
	return pce_router_reclaim(r->router);
}

static int router_clear_owner(struct run *r, int arg)
{
	return pce_router_clear_owner(r->router, (uint32_t)arg, NULL);
}

static int router_burst(struct run *r, int arg)
{
	uint32_t q[128];

	/* Unique prompts beyond the index budget: adds evict. */
	for (uint32_t j = 0; j < 128; j++)
		q[j] = 1000 + (uint32_t)arg * 128 + j;
	return pce_router_add(r->router, (uint32_t)arg, 0, q, 128, PCE_TIER_GPU, NULL, NULL);
}

/* The bursts did evict (else they would not test the evicting adds). */
static int router_evicted(struct run *r, int arg)
{
	struct pce_router_stats s;

	(void)arg;
	assert_int_equal(pce_router_stats_get(r->router, &s), 0);
	return s.removed[PCE_REASON_CAPACITY] > 0 && s.index_bytes <= 4096 ? 0 : PCE_ECORRUPT;
}

static int router_destroy(struct run *r, int arg)
{
	(void)arg;
	pce_router_destroy(r->router);
	r->router = NULL;
	return 0;
}

static int destroy_main(struct run *r, int arg)
{
	int rc = pce_cache_destroy(r->t.c);

	(void)arg;
	if (rc == 0)
		r->t.c = NULL;
	return rc;
}

static const struct step scenario[] = {
	{"create", create_main, 0, 0, 0, 0},
	{"store: new root, TTL", store_root, 0, 0, 0, 0},
	{"store: split, branch", store_split_branch, 0, 0, 0, 0},
	{"store: split, ends there", store_split_end, 0, 0, 0, 0},
	{"store: namespace 100", store_namespace, 0, 0, 0, 0},
	{"store: namespace 101", store_namespace, 1, 0, 0, 0},
	{"store: namespace 102", store_namespace, 2, 0, 0, 0},
	{"store: child 0", store_child, 0, 0, 0, 0},
	{"store: child 1", store_child, 1, 0, 0, 0},
	{"store: child 2", store_child, 2, 0, 0, 0},
	{"store: child 3", store_child, 3, 0, 0, 0},
	{"store: child 4", store_child, 4, 0, 0, 0},
	{"store: child 5", store_child, 5, 0, 0, 0},
	{"touch", touch, 0, 0, 0, 1},
	{"lookup with pin", lookup_pin, 0, 0, 0, 0},
	{"remove: merge with child", remove_merge_child, 0, 0, 0, 0},
	{"remove: merge parent", remove_merge_parent, 0, 0, 0, 0},
	{"remove: child 0", remove_child, 0, 1, 0, 0},
	{"remove: child 1", remove_child, 1, 1, 0, 0},
	{"remove: child 2", remove_child, 2, 1, 0, 0},
	{"remove: child 3", remove_child, 3, 1, 0, 0},
	{"remove: child 4", remove_child, 4, 1, 0, 0},
	{"store: pin the holder", store_holder, 0, 0, 0, 0},
	{"remove prefix: merge", remove_prefix, 0, 0, 0, 0},
	{"replace a pinned entry", replace_pinned, 0, 0, 0, 0},
	{"batch analysis", dedup, 0, 0, 0, 0},
	{"pin release", pin_release, 0, 0, 0, 1},
	{"holder pin release", holder_pin_release, 0, 0, 0, 1},
	{"expire + reclaim", expire_and_reclaim, 0, 1, 0, 0},
	{"clear namespace", clear_namespace, 1, 0, 0, 1},
	{"create with budget", create_budget, 0, 0, 0, 0},
	{"budget: store 1", store_budget, 1, 0, 0, 0},
	{"budget: store 2", store_budget, 2, 0, 0, 0},
	{"budget: store 3, evicts", store_budget, 3, 1, 1, 0},
	{"budget: evict one", evict_budget, 0, 1, 1, 0},
	{"budget: store 4", store_budget, 4, 0, 0, 0},
	{"budget: shrink, evicts", shrink_budget, 0, 1, 1, 0},
	{"audit", audit, 0, 1, 0, 0},
	{"destroy with budget", destroy_budget, 0, 0, 0, 1},
	{"router: create", router_create, 0, 0, 0, 0},
	{"router: add, new root, TTL", router_add, 0, 0, 0, 0},
	{"router: add, split, branch", router_add, 1, 0, 0, 0},
	{"router: add, split, ends", router_add, 2, 0, 0, 0},
	{"router: owner 3 joins", router_add, 3, 0, 0, 0},
	{"router: owner 4 joins", router_add, 4, 0, 0, 0},
	{"router: owner 5 joins", router_add, 5, 0, 0, 0},
	{"router: owner 6 joins", router_add, 6, 0, 0, 0},
	{"router: owner 7 joins", router_add, 7, 0, 0, 0},
	{"router: add, two-block leaf", router_add, 8, 0, 0, 0},
	{"router: remove, split", router_remove_split, 0, 0, 0, 0},
	{"router: match", router_match, 0, 0, 0, 1},
	{"router: expire + reclaim", router_expire, 0, 0, 0, 1},
	{"router: clear owner", router_clear_owner, 4, 0, 0, 1},
	{"router: burst 0", router_burst, 0, 0, 1, 0},
	{"router: burst 1", router_burst, 1, 0, 1, 0},
	{"router: burst 2", router_burst, 2, 0, 1, 0},
	{"router: burst 3", router_burst, 3, 0, 1, 0},
	{"router: burst 4", router_burst, 4, 0, 1, 0},
	{"router: burst 5", router_burst, 5, 0, 1, 0},
	{"router: bursts evicted", router_evicted, 0, 0, 0, 1},
	{"router: destroy", router_destroy, 0, 0, 0, 1},
	{"destroy", destroy_main, 0, 0, 0, 1},
};

#define NSTEPS (sizeof(scenario) / sizeof(scenario[0]))

/* What the scenario does without faults. */
static int expect_rc[NSTEPS];
static uint64_t expect_released, expect_value_sum;
static uint64_t live_baseline;

/* Distinct allocation sites that were made to fail. */
static void *sites[64];
static unsigned nsites, failures;

static void note_site(void *site)
{
	for (unsigned i = 0; i < nsites; i++)
		if (sites[i] == site)
			return;
	if (nsites < 64)
		sites[nsites++] = site;
}

struct gauges {
	uint64_t entries, nodes, tokens, kv, index, live_pins, pinned_unlinked;
	uint64_t r_holdings, r_nodes, r_tokens, r_index, r_owner;
};

static void router_gauges(struct pce_router *router, struct gauges *g)
{
	struct pce_router_stats s;

	if (!router)
		return;
	assert_int_equal(pce_router_stats_get(router, &s), 0);
	g->r_holdings = s.holdings;
	g->r_nodes = s.nodes;
	g->r_tokens = s.tokens;
	g->r_index = s.index_bytes;
	g->r_owner = s.owner_bytes;
}

static struct gauges gauges_of(struct pce_cache *c)
{
	struct pce_stats s;
	struct gauges g = {0};

	if (!c)
		return g;
	assert_int_equal(pce_cache_stats(c, &s), 0);
	g.entries = s.entries;
	g.nodes = s.nodes;
	g.tokens = s.tokens;
	g.kv = s.kv_bytes;
	g.index = s.index_bytes;
	g.live_pins = s.live_pins;
	g.pinned_unlinked = s.pinned_unlinked;
	return g;
}

static void audit_caches(struct run *r)
{
	if (r->t.c)
		assert_audit(r->t.c);
	if (r->budget)
		assert_audit(r->budget);
	if (r->router) {
		char msg[256];
		if (pce_router_audit(r->router, 0, msg, sizeof msg))
			fail_msg("router audit: %s", msg);
	}
}

static void run_step(struct run *r, size_t i)
{
	int rc = scenario[i].call(r, scenario[i].arg);

	if (rc != expect_rc[i])
		fprintf(stderr, "step %zu (%s): %s, expected %s\n", i, scenario[i].name,
			pce_err_name(rc), pce_err_name(expect_rc[i]));
	assert_int_equal(rc, expect_rc[i]);
}

/* Replays the scenario with the @nth allocation of step @i failing (and
 * every later one if @sticky).  Returns 0 once step @i no longer reaches
 * its @nth allocation. */
static int run_faulted(size_t i, uint64_t nth, int sticky)
{
	struct run r;
	struct gauges before, after;
	uint64_t live_before, fired;
	int rc;

	memset(&r, 0, sizeof(r));
	for (size_t k = 0; k < i; k++)
		run_step(&r, k);
	before = gauges_of(r.t.c);
	router_gauges(r.router, &before);
	live_before = pce__alloc_live();
	pce__fault_arm(nth, sticky);
	rc = scenario[i].call(&r, scenario[i].arg);
	fired = pce__fault_fired();
	pce__fault_arm(0, 0);
	if (fired) {
		failures++;
		note_site(pce__fault_site());
		if (scenario[i].no_alloc)
			fail_msg("step %zu (%s) allocated", i, scenario[i].name);
		if (rc == PCE_ENOMEM && scenario[i].evicts) {
			audit_caches(&r);
			run_step(&r, i);
		} else if (rc == PCE_ENOMEM) {
			/* Failed cleanly: nothing changed, nothing leaked. */
			if (pce__alloc_live() != live_before)
				fail_msg("step %zu (%s), allocation %llu%s failing: PCE_ENOMEM but "
					 "%lld blocks more", i, scenario[i].name,
					 (unsigned long long)nth, sticky ? "+" : "",
					 (long long)(pce__alloc_live() - live_before));
			after = gauges_of(r.t.c);
			router_gauges(r.router, &after);
			assert_memory_equal(&before, &after, sizeof(before));
			audit_caches(&r);
			run_step(&r, i); /* and the next attempt succeeds */
		} else if (!(scenario[i].absorbs && rc == expect_rc[i])) {
			fail_msg("step %zu (%s), allocation %llu%s failing: %s, expected PCE_ENOMEM",
				 i, scenario[i].name, (unsigned long long)nth, sticky ? "+" : "",
				 pce_err_name(rc));
		} else {
			audit_caches(&r);
		}
	} else {
		assert_int_equal(rc, expect_rc[i]);
	}
	for (size_t k = i + 1; k < NSTEPS; k++) {
		audit_caches(&r);
		run_step(&r, k);
	}
	/* Everything freed; every stored value released exactly once. */
	if (pce__alloc_live() != live_baseline)
		fail_msg("step %zu (%s), allocation %llu%s failing: %lld blocks leaked", i,
			 scenario[i].name, (unsigned long long)nth, sticky ? "+" : "",
			 (long long)(pce__alloc_live() - live_baseline));
	assert_int_equal(r.t.released + r.bt.released, expect_released);
	assert_int_equal(r.t.value_sum + r.bt.value_sum, expect_value_sum);
	return fired != 0;
}

static void sweep(int sticky)
{
	struct run r;
	uint64_t total = 0;

	memset(&r, 0, sizeof(r));
	live_baseline = pce__alloc_live();
	for (size_t i = 0; i < NSTEPS; i++)
		expect_rc[i] = scenario[i].call(&r, scenario[i].arg);
	for (size_t i = 0; i < NSTEPS; i++)
		assert_int_equal(expect_rc[i], 0);
	expect_released = r.t.released + r.bt.released;
	expect_value_sum = r.t.value_sum + r.bt.value_sum;
	assert_int_equal(pce__alloc_live(), live_baseline);

	for (size_t i = 0; i < NSTEPS; i++) {
		uint64_t nth = 1;
		while (run_faulted(i, nth, sticky))
			nth++;
		total += nth - 1;
		if (!sticky)
			printf("  %-28s %llu allocation(s)\n", scenario[i].name,
			       (unsigned long long)(nth - 1));
	}
	printf("sweep (%s): %llu failure points, %u distinct allocation sites\n",
	       sticky ? "every allocation from the N-th on fails" : "the N-th allocation fails",
	       (unsigned long long)total, nsites);
	assert_true(total > 0);
}

/*
 * A store under a budget whose evictions could not allocate (every victim
 * needed a node merge) reported PCE_ENOSPC, which promises that the entry
 * is too big or everything evictable is pinned; nothing was pinned, memory
 * had run out.  It now reports PCE_ENOMEM.
 */
static void test_regression_evicting_store_out_of_memory_is_enomem(void **state)
{
	struct run r;
	(void)state;

	memset(&r, 0, sizeof(r));
	assert_int_equal(create_budget(&r, 0), 0);
	assert_int_equal(store_budget(&r, 1), 0);
	assert_int_equal(store_budget(&r, 2), 0);
	/* Allocations: the entry, the leaf, then the evictions' merges. */
	pce__fault_arm(3, 1);
	assert_int_equal(store_budget(&r, 3), PCE_ENOMEM);
	pce__fault_arm(0, 0);
	assert_audit(r.budget);
	assert_int_equal(store_budget(&r, 3), 0);
	assert_int_equal(destroy_budget(&r, 0), 0);
}

/*
 * The audit reported PCE_ECORRUPT when it could not allocate its own DFS
 * stack: a false report of corruption.  It now reports PCE_ENOMEM.
 */
static void test_regression_audit_out_of_memory_is_enomem(void **state)
{
	struct run r;
	int rc;
	(void)state;

	memset(&r, 0, sizeof(r));
	assert_int_equal(create_main(&r, 0), 0);
	assert_int_equal(store_root(&r, 0), 0);
	pce__fault_arm(1, 1);
	rc = audit(&r, 0);
	pce__fault_arm(0, 0);
	assert_int_equal(rc, PCE_ENOMEM);
	assert_int_equal(audit(&r, 0), 0);
	assert_int_equal(destroy_main(&r, 0), 0);
}

static void test_sweep_single_failure(void **state)
{
	(void)state;
	sweep(0);
}

static void test_sweep_persistent_failure(void **state)
{
	(void)state;
	sweep(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regression_evicting_store_out_of_memory_is_enomem),
		cmocka_unit_test(test_regression_audit_out_of_memory_is_enomem),
		cmocka_unit_test(test_sweep_single_failure),
		cmocka_unit_test(test_sweep_persistent_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
