/*
 * test_cluster_router.c - gateways: tiers attached to router indexes, each
 * publishing the holdings of the workers (owners) it knows, against a real
 * redis-server.  Several gateways publish the same owners; a restart (new
 * epoch) of one leaves the others' view; a cleared owner's fields go; a
 * removed holding retracts its path only; a match merges local and L2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pce/router.h>

#include "node.h"

/* A gateway: a router index wired to a tier with node id @id. */
struct gateway {
	struct node n; /* n.tier only: chunk_key() needs it */
	struct pce_router *router;
};

static void gw_open(struct gateway *g, int port, uint32_t id)
{
	struct pce_cluster_config cfg;
	struct pce_router_config rc;

	node_config(&cfg, port, id);
	node_open(&g->n, &cfg, 0);
	pce_router_config_init(&rc);
	rc.background_reclaim = 0;
	rc.on_event = pce_cluster_on_event;
	rc.event_ctx = g->n.tier;
	assert_int_equal(pce_router_create(&rc, &g->router), 0);
	assert_int_equal(pce_cluster_attach_router(g->n.tier, g->router), 0);
	/* The worker connects in the background, and until it has, lookups
	 * skip L2 (UNAVAILABLE) by design: wait for it. */
	node_sync(&g->n);
}

/* Destroying the router sends no events: what the gateway published stays
 * in Redis, as after a crash, until its lease lapses or its keys expire. */
static void gw_close(struct gateway *g)
{
	pce_router_destroy(g->router);
	node_close(&g->n);
}

static void gw_add(struct gateway *g, uint32_t owner, const uint32_t *toks, size_t len)
{
	assert_int_equal(pce_router_add(g->router, owner, 0, toks, len, PCE_TIER_GPU, NULL, NULL),
			 0);
}

/* Tiered match from @g; returns @owner's depth (0 if absent) and its tier
 * in *@tier (NULL: not wanted). */
static size_t gw_depth_of(struct gateway *g, const uint32_t *toks, size_t len, uint32_t owner,
			  uint32_t *tier)
{
	struct pce_overlap o[8];
	struct pce_cluster_result r;

	assert_int_equal(pce_cluster_match(g->n.tier, 0, toks, len, 0, o, 8, &r), 0);
	assert_int_equal(r.flags & PCE_CLUSTER_UNAVAILABLE, 0);
	for (size_t i = 0; i < r.n_owners; i++) {
		if (i)
			assert_true(o[i - 1].tokens >= o[i].tokens);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(o[j].owner, o[i].owner);
		if (o[i].owner == owner) {
			if (tier)
				*tier = o[i].tier;
			return o[i].tokens;
		}
	}
	return 0;
}

static void test_two_gateways_overlapping_owners(void **state)
{
	struct redis_server *p = *state;
	struct gateway a, b, c;
	uint32_t q[12], tier = 99;
	char key[128];
	redisContext *raw = redis_client(p);

	seq(q, 12, 100);
	gw_open(&a, p->port, 1);
	gw_open(&b, p->port, 2);
	gw_open(&c, p->port, 3); /* knows nobody: asks L2 only */
	gw_add(&a, 5, q, 12);
	gw_add(&a, 6, q, 8);
	gw_add(&b, 5, q, 8);
	gw_add(&b, 7, q, 4);
	node_sync(&a.n);
	node_sync(&b.n);
	assert_int_equal(gw_depth_of(&c, q, 12, 5, &tier), 12);
	assert_int_equal(tier, PCE_TIER_REMOTE);
	assert_int_equal(gw_depth_of(&c, q, 12, 6, NULL), 8);
	assert_int_equal(gw_depth_of(&c, q, 12, 7, NULL), 4);
	/* Every gateway writes its own fields for owner 5. */
	chunk_key(&c.n, q, 0, key, sizeof(key));
	assert_int_equal(raw_int(raw, "HEXISTS %s 1/5", key), 1);
	assert_int_equal(raw_int(raw, "HEXISTS %s 2/5", key), 1);

	/* Gateway 1 restarts: a new epoch, knowing only owner 6 to 4 tokens.
	 * Gateway 2's view of owner 5 stays; gateway 1's old life is gone. */
	gw_close(&a);
	gw_open(&a, p->port, 1);
	gw_add(&a, 6, q, 4);
	node_sync(&a.n);
	assert_int_equal(gw_depth_of(&c, q, 12, 5, NULL), 8);
	assert_int_equal(gw_depth_of(&c, q, 12, 6, NULL), 4);
	assert_int_equal(gw_depth_of(&c, q, 12, 7, NULL), 4);
	/* Merged with the local answer: an owner known locally keeps its
	 * tier when L2 knows it no deeper, and is listed once. */
	assert_int_equal(gw_depth_of(&a, q, 12, 6, &tier), 4);
	assert_int_equal(tier, PCE_TIER_GPU);
	assert_int_equal(gw_depth_of(&a, q, 12, 5, &tier), 8);
	assert_int_equal(tier, PCE_TIER_REMOTE);

	/* Gateway 2 clears owner 5: its fields are retracted, the others
	 * stay. */
	assert_int_equal(pce_router_clear_owner(b.router, 5, NULL), 0);
	node_sync(&b.n);
	assert_int_equal(gw_depth_of(&c, q, 12, 5, NULL), 0);
	assert_int_equal(gw_depth_of(&c, q, 12, 7, NULL), 4);
	assert_int_equal(raw_int(raw, "HEXISTS %s 2/5", key), 0);
	assert_int_equal(raw_int(raw, "HEXISTS %s 2/7", key), 1);

	struct pce_cluster_stats st;
	assert_int_equal(pce_cluster_stats_get(b.n.tier, &st), 0);
	assert_int_equal(st.mirror_chunks, 1); /* owner 7's one chunk */
	redisFree(raw);
	gw_close(&a);
	gw_close(&b);
	gw_close(&c);
}

/* pce_router_remove() cuts one path: the chunk of the removed block and
 * its extensions go, another path of the owner that shares the first chunk
 * stays. */
static void test_remove_retracts_its_path(void **state)
{
	struct redis_server *p = *state;
	struct gateway a, c;
	uint32_t q[12], r[12];

	seq(q, 12, 200);
	seq(r, 12, 200);
	r[5] = 999; /* shares chunk 0 with q, then diverges */
	gw_open(&a, p->port, 1);
	gw_open(&c, p->port, 3);
	gw_add(&a, 5, q, 12);
	gw_add(&a, 5, r, 12);
	node_sync(&a.n);
	assert_int_equal(gw_depth_of(&c, q, 12, 5, NULL), 12);
	assert_int_equal(gw_depth_of(&c, r, 12, 5, NULL), 12);
	/* The owner keeps q[0..7): chunk 1 of q (tokens 4..7) and chunk 2 go. */
	assert_int_equal(pce_router_remove(a.router, 5, 0, q, 8), 0);
	node_sync(&a.n);
	assert_int_equal(gw_depth_of(&c, q, 12, 5, NULL), 4);
	assert_int_equal(gw_depth_of(&c, r, 12, 5, NULL), 12);
	struct pce_cluster_stats st;
	assert_int_equal(pce_cluster_stats_get(a.n.tier, &st), 0);
	assert_int_equal(st.mirror_chunks, 3);
	gw_close(&a);
	gw_close(&c);
}

static void test_one_index_per_tier(void **state)
{
	struct redis_server *p = *state;
	struct gateway a;
	struct pce_cache *cache;
	struct pce_config cc;
	struct pce_cluster_result res;
	uint32_t q[4] = {1, 2, 3, 4};

	gw_open(&a, p->port, 1);
	pce_config_init(&cc);
	assert_int_equal(pce_cache_create(&cc, &cache), 0);
	assert_int_equal(pce_cluster_attach_cache(a.n.tier, cache), PCE_EINVAL);
	assert_int_equal(pce_cluster_attach_router(a.n.tier, a.router), PCE_EINVAL);
	/* No cache attached: the cache's lookup refuses. */
	assert_int_equal(pce_cluster_lookup(a.n.tier, 0, q, 4, NULL, NULL, 0, &res), PCE_EINVAL);
	assert_int_equal(pce_cluster_match(a.n.tier, 0, q, 4, 0, NULL, 0, &res), 0);
	assert_int_equal(pce_cluster_match(NULL, 0, q, 4, 0, NULL, 0, &res), PCE_EINVAL);
	assert_int_equal(pce_cache_destroy(cache), 0);
	gw_close(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_gateways_overlapping_owners, redis_setup,
						redis_teardown),
		cmocka_unit_test_setup_teardown(test_remove_retracts_its_path, redis_setup,
						redis_teardown),
		cmocka_unit_test_setup_teardown(test_one_index_per_tier, redis_setup,
						redis_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
