/*
 * fuzz_router.c - differential fuzzing of the router index (pce/router.h)
 * against the reference model of tests/router_model.h (libFuzzer target;
 * tests/fuzz/replay.c replays it without libFuzzer).
 *
 * The input is decoded into a configuration (block size, shards, tier
 * weights) and a sequence of calls: adds (tiers, TTLs, PCE_ROUTER_ADD_RETIER),
 * removes, owner and namespace clears, clock advances, reclaim passes,
 * matches with every k, and calls with invalid arguments.  Each call runs on
 * the router and the model; return codes, every match and the holdings
 * gauge are compared, and pce_router_audit() runs after every change.  No
 * budget: the model cannot predict CLOCK's victims (test_router.c and the
 * OOM sweep cover eviction).  Time is the harness's clock, multiples of
 * 16 ns (the owner words' unit), and there is no reclaim thread.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pce/pce.h>

#include "../router_model.h"

#define MAX_OPS 400

#define FUZZ_NAME "fuzz_router"
#include "fuzz.h"

static unsigned op_index;
static uint64_t clock_now;
static struct rm_model model;

static uint64_t fclock(void *ctx)
{
	(void)ctx;
	return clock_now;
}

/* Holdings in (owner, block) pairs, from the model. */
static uint64_t model_holdings(void)
{
	return model.n;
}

static void audit(struct pce_router *r)
{
	char msg[256];
	struct pce_router_stats st;

	if (pce_router_audit(r, 0, msg, sizeof msg) != 0)
		FAIL("audit: %s", msg);
	CHECK(pce_router_stats_get(r, &st) == 0, "stats");
	CHECK(st.holdings == model_holdings(), "holdings %llu, model %llu",
	      (unsigned long long)st.holdings, (unsigned long long)model_holdings());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct pce_router_config cfg;
	struct pce_router *r;
	unsigned c = u8(&in);

	pce_router_config_init(&cfg);
	cfg.block_size = 1 + c % 3;
	cfg.shards = 1u << ((c >> 2) % 3);
	cfg.background_reclaim = 0;
	cfg.clock = fclock;
	for (unsigned t = 0; t < PCE_TIERS; t++)
		cfg.tier_weight[t] = (double)(u8(&in) % 4) / 2.0;
	clock_now = 1024;
	memset(&model, 0, sizeof(model));
	model.bs = cfg.block_size;
	op_index = 0;
	if (pce_router_create(&cfg, &r) != 0)
		abort();
	while (in.n && op_index < MAX_OPS) {
		unsigned op = u8(&in) % 16, owner = u8(&in) % RM_OWNERS;
		uint64_t ns = u8(&in) % 2;
		uint32_t q[RM_MAXLEN];
		size_t len = u8(&in) % (RM_MAXLEN + 1);
		int rc;

		for (size_t i = 0; i < len; i++)
			q[i] = u8(&in) % 3;
		op_index++;
		switch (op) {
		case 0: case 1: case 2: case 3: case 4: case 5: {
			unsigned f = u8(&in);
			uint32_t tier = f % 4;
			uint64_t ttl = (f >> 2) % 3 == 0 ? 16 * (uint64_t)(1 + (f >> 4)) : PCE_NEVER;
			struct pce_router_add_opts o = {(f >> 3) % 4 == 0 ? PCE_ROUTER_ADD_RETIER : 0u,
							 ttl};

			rc = pce_router_add(r, owner, ns, q, len, tier, &o, NULL);
			CHECK(rc == (len < cfg.block_size ? PCE_ESHORT : 0), "add: %s",
			      pce_err_name(rc));
			if (rc == 0 && rm_add(&model, owner, ns, q, len, tier,
					      ttl == PCE_NEVER ? PCE_NEVER : clock_now + ttl,
					      o.flags != 0) != 0)
				goto out; /* the model is full: stop here */
			audit(r);
			break;
		}
		case 6: case 7: case 8:
			rc = pce_router_remove(r, owner, ns, q, len);
			CHECK(rc == (len < cfg.block_size ? PCE_ESHORT
							 : rm_remove(&model, owner, ns, q, len)),
			      "remove: %s", pce_err_name(rc));
			audit(r);
			break;
		case 9: {
			uint64_t removed;

			CHECK(pce_router_clear_owner(r, owner, &removed) == 0, "clear_owner");
			CHECK(removed == rm_drop(&model, 1, owner, 0, 0), "clear_owner count");
			audit(r);
			break;
		}
		case 10: {
			uint64_t removed;

			CHECK(pce_router_clear_ns(r, ns, &removed) == 0, "clear_ns");
			CHECK(removed == rm_drop(&model, 0, 0, ns, 0), "clear_ns count");
			audit(r);
			break;
		}
		case 11:
			clock_now += 16 * (uint64_t)(u8(&in) % 8);
			break;
		case 12:
			CHECK(pce_router_reclaim(r) == 0, "reclaim");
			rm_drop(&model, -1, 0, 0, clock_now);
			audit(r);
			break;
		case 13: {
			/* Invalid arguments change nothing. */
			size_t n;
			struct pce_overlap o1[1];

			CHECK(pce_router_add(r, owner, ns, q, len, PCE_TIERS, NULL, NULL) ==
				      PCE_EINVAL, "bad tier");
			CHECK(pce_router_match(r, ns, q, len, 1u << 9, o1, 1, &n, NULL) == PCE_EINVAL,
			      "bad flags");
			CHECK(pce_router_remove(r, owner, ns, NULL, len) == PCE_EINVAL, "NULL tokens");
			break;
		}
		default: {
			struct pce_overlap out[RM_OWNERS + 1];
			size_t k = u8(&in) % (RM_OWNERS + 2), n, left;
			const char *why;

			rc = pce_router_match(r, ns, len ? q : NULL, len, 0, out, k, &n, &left);
			CHECK(rc == 0, "match: %s", pce_err_name(rc));
			why = rm_check(&model, ns, q, len, clock_now, cfg.tier_weight, out, n, k);
			CHECK(!why, "match: %s", why);
			break;
		}
		}
	}
out:
	audit(r);
	pce_router_destroy(r);
	return 0;
}
