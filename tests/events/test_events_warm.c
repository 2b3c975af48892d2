/*
 * test_events_warm.c - libpce_events end to end over real sockets on
 * 127.0.0.1: a pce_cache with a pce_publisher, read back by a pce_subscriber
 * feeding a router.
 *
 *   agreement     100k random operations with evictions (a small budget):
 *                 the router's holdings of the owner equal the cache's
 *                 block set (every live entry's whole blocks match, and the
 *                 holding count is the publisher's block count), audited;
 *   warm restart  snapshot, subscriber and router destroyed, the publisher
 *                 goes on, both restored from the file: the replay fills
 *                 the time down, nothing lost, no batch applied twice;
 *   window short  the same with a replay ring shorter than the time down:
 *                 the owner is cleared and DEGRADED, never EXACT;
 *   refusals      truncated, bit-flipped and section-less files, and
 *                 mismatched configs: an error, and nothing created.
 *
 * The cache is the reference model: the live entries are tracked from its
 * own events, and no batch is in flight when a check runs (the publisher is
 * flushed and the subscriber has applied its last sequence number).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <pce/events.h>
#include <pce/snapshot.h>

#define BS 4
#define OWNER 3
#define SEC 1000000000ull
#define WAIT_MS 60000

/* ---- the engine side: a cache, its publisher, its live entries ---------- */

struct live {
	uint64_t id;
	size_t len;
	uint32_t *tokens;
};

static struct live *lv;
static size_t nlv, caplv;
static struct pce_publisher *pub;
static struct pce_cache *cache;
static char pub_addr[256], rep_addr[256], snap_path[256];

/* Under the cache's shard lock (its reclaimer is off: one writer thread). */
static void on_event(void *ctx, const struct pce_event *ev)
{
	(void)ctx;
	if (ev->kind == PCE_EVENT_STORED) {
		if (nlv == caplv) {
			caplv = caplv ? caplv * 2 : 256;
			lv = realloc(lv, caplv * sizeof(*lv));
			assert_non_null(lv);
		}
		lv[nlv].id = ev->id;
		lv[nlv].len = ev->len;
		lv[nlv].tokens = malloc(ev->len * sizeof(uint32_t));
		assert_non_null(lv[nlv].tokens);
		memcpy(lv[nlv].tokens, ev->tokens, ev->len * sizeof(uint32_t));
		nlv++;
	} else {
		for (size_t i = 0; i < nlv; i++)
			if (lv[i].id == ev->id) {
				free(lv[i].tokens);
				lv[i] = lv[--nlv];
				break;
			}
	}
	pce_publisher_on_event(pub, ev);
}

static void engine_start(uint32_t replay_batches)
{
	struct pce_publisher_config pc;
	struct pce_config cc;

	pce_publisher_config_init(&pc);
	pc.block_size = BS;
	pc.replay_endpoint = "tcp://127.0.0.1:*";
	pc.replay_batches = replay_batches;
	pc.max_batch_events = 64;
	assert_int_equal(pce_publisher_create(&pc, &pub), 0);
	assert_int_equal(pce_publisher_endpoint(pub, pub_addr, sizeof(pub_addr)), 0);
	assert_int_equal(pce_publisher_replay_endpoint(pub, rep_addr, sizeof(rep_addr)), 0);
	pce_config_init(&cc);
	cc.shards = 4;
	cc.block_size = BS;
	cc.background_reclaim = 0;
	cc.kv_budget = 64 * 3000; /* ~3000 tokens: stores evict */
	cc.on_event = on_event;
	assert_int_equal(pce_cache_create(&cc, &cache), 0);
}

static void engine_stop(void)
{
	pce_cache_destroy(cache);
	assert_int_equal(pce_publisher_destroy(pub), 0);
	for (size_t i = 0; i < nlv; i++)
		free(lv[i].tokens);
	free(lv);
	lv = NULL;
	nlv = caplv = 0;
}

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((rng_state >> 33) % n);
}

/* Few roots and a small vocabulary first, so that prefixes are shared. */
static size_t gen(uint32_t *t)
{
	size_t len = 1 + rnd(40);

	t[0] = 1 + rnd(8);
	for (size_t i = 1; i < len; i++)
		t[i] = i < 10 ? 100 + rnd(3) : rnd(1u << 20);
	return len;
}

static uint32_t hist[64][64];
static size_t hlen[64];

/* @n random operations; the publisher is flushed every 1000, so that its
 * queue never overflows (an overflow is a resync, tested elsewhere). */
static void run_ops(int n)
{
	uint32_t t[64];

	for (int op = 0; op < n; op++) {
		uint32_t r = rnd(1000);
		size_t len, h = rnd(64);
		int rc;

		if (r < 700) {
			len = gen(t);
			rc = pce_cache_store(cache, 0, t, len, 1, 64 * len, NULL, NULL);
			assert_true(rc == 0 || rc == PCE_EEXIST);
			memcpy(hist[h], t, len * sizeof(uint32_t));
			hlen[h] = len;
		} else if (r < 850) {
			if (hlen[h])
				pce_cache_remove(cache, 0, hist[h], hlen[h], NULL);
		} else if (r < 920) {
			if (hlen[h])
				pce_cache_remove_prefix(cache, 0, hist[h], 1 + rnd((uint32_t)hlen[h]),
							NULL);
		} else if (r < 999) {
			pce_cache_evict(cache, PCE_EVICT_ENTRIES, 1 + rnd(4), NULL);
		} else {
			pce_cache_clear(cache, NULL);
		}
		if (op % 1000 == 999)
			assert_int_equal(pce_publisher_flush(pub, 30 * SEC), 0);
	}
	assert_int_equal(pce_publisher_flush(pub, 30 * SEC), 0);
}

/* ---- the router side ---------------------------------------------------- */

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void router_config(struct pce_router_config *rc)
{
	pce_router_config_init(rc);
	rc->shards = 4;
	rc->block_size = BS;
	rc->background_reclaim = 0;
}

static struct pce_subscriber_endpoint endpoint = {.owner = OWNER};

static void sub_config(struct pce_subscriber_config *c, struct pce_router *r)
{
	endpoint.pub_addr = pub_addr;
	endpoint.replay_addr = rep_addr;
	pce_subscriber_config_init(c);
	c->router = r;
	c->block_size = BS;
	c->endpoints = &endpoint;
	c->n_endpoints = 1;
	c->replay_timeout_ms = 10000;
}

static uint64_t pub_next_seq(void)
{
	struct pce_publisher_stats ps;

	assert_int_equal(pce_publisher_stats_get(pub, &ps), 0);
	assert_int_equal(ps.drops, 0);
	return ps.next_seq;
}

/*
 * Wait until the subscriber has applied the publisher's last batch and is
 * not recovering.  A PUB drops what it sends before a subscriber joins, and
 * a subscriber learns of a gap only from a later live batch: while it lags,
 * store one more entry (the cache stays the reference) and flush.
 */
static void wait_caught_up(struct pce_subscriber *s)
{
	uint64_t end = ms_now() + WAIT_MS, probed = 0;
	uint32_t t[64];

	for (;;) {
		struct pce_subscriber_endpoint_status st;
		uint64_t next = pub_next_seq();

		assert_int_equal(pce_subscriber_endpoint_status(s, 0, &st), 0);
		if (next && st.has_seq && st.last_seq == next - 1 && st.state != PCE_EV_RECOVERING)
			return;
		if (ms_now() > end)
			fail_msg("the subscriber never caught up (seq %llu of %llu)",
				 (unsigned long long)st.last_seq, (unsigned long long)next);
		/* Probe batches wake a subscriber that has not joined yet (a SUB
		 * socket misses what is sent before it has connected), one per
		 * 100 ms: faster probes would outrun a short replay ring before a
		 * slow join and leave the owner DEGRADED before the test begins. */
		if ((!st.has_seq && ms_now() >= probed + 100) || (st.has_seq && ms_now() % 8 == 0)) {
			size_t len = gen(t);

			probed = ms_now();
			pce_cache_store(cache, 0, t, len, 1, 64 * len, NULL, NULL);
			assert_int_equal(pce_publisher_flush(pub, 30 * SEC), 0);
		}
		usleep(5000);
	}
}

/* The router's holdings of OWNER are the cache's block set. */
static void check_agree(struct pce_router *r)
{
	struct pce_publisher_stats ps;
	struct pce_router_stats rs;
	char msg[256];
	size_t whole = 0;

	assert_int_equal(pce_router_audit(r, 0, msg, sizeof(msg)), 0);
	for (size_t i = 0; i < nlv; i++) {
		struct pce_overlap o[4];
		size_t n, want = lv[i].len / BS * BS;

		assert_int_equal(pce_router_match(r, 0, lv[i].tokens, lv[i].len,
						  PCE_ROUTER_MATCH_PEEK, o, 4, &n, NULL), 0);
		if (!want) {
			assert_int_equal(n, 0);
			continue;
		}
		whole++;
		assert_int_equal(n, 1);
		assert_int_equal(o[0].owner, OWNER);
		assert_int_equal(o[0].tokens, want);
	}
	/* every live entry's blocks are held, and nothing else: the holdings
	 * are as many as the distinct blocks the cache publishes */
	assert_int_equal(pce_publisher_stats_get(pub, &ps), 0);
	assert_int_equal(pce_router_stats_get(r, &rs), 0);
	assert_int_equal(rs.holdings, ps.blocks);
	assert_true(whole > 0);
}

static void owner_state_is(struct pce_subscriber *s, int state)
{
	struct pce_subscriber_owner_status os;

	assert_int_equal(pce_subscriber_owner_status(s, OWNER, &os), 0);
	assert_int_equal(os.state, state);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_agreement(void **state)
{
	struct pce_router_config rc;
	struct pce_subscriber_config c;
	struct pce_subscriber_endpoint_status st;
	struct pce_router *r;
	struct pce_subscriber *s;
	struct pce_stats cs;

	(void)state;
	rng_state = 1;
	engine_start(10000);
	router_config(&rc);
	assert_int_equal(pce_router_create(&rc, &r), 0);
	sub_config(&c, r);
	assert_int_equal(pce_subscriber_create(&c, &s), 0);
	wait_caught_up(s);
	run_ops(100000);
	wait_caught_up(s);
	owner_state_is(s, PCE_EV_EXACT);
	check_agree(r);
	assert_int_equal(pce_cache_stats(cache, &cs), 0);
	assert_true(cs.removed[PCE_REASON_CAPACITY] > 1000); /* the budget was felt */
	assert_int_equal(pce_subscriber_endpoint_status(s, 0, &st), 0);
	assert_int_equal(st.c.recoveries_failed, 0);
	for (int k = 0; k < PCE_SUBSCRIBER_DROP_COUNT; k++)
		assert_int_equal(st.c.dropped[k], 0);
	pce_subscriber_destroy(s);
	pce_router_destroy(r);
	engine_stop();
}

/*
 * Snapshot with @ops_down operations published while nobody listens, then
 * restore.  Returns the restored pair.
 */
static void down_and_back(int ops_down, struct pce_router **r, struct pce_subscriber **s,
			  uint64_t *batches_before)
{
	struct pce_router_config rc;
	struct pce_subscriber_config c;
	struct pce_subscriber_endpoint_status st;

	router_config(&rc);
	assert_int_equal(pce_router_create(&rc, r), 0);
	sub_config(&c, *r);
	assert_int_equal(pce_subscriber_create(&c, s), 0);
	wait_caught_up(*s);
	run_ops(3000);
	wait_caught_up(*s);
	check_agree(*r);
	assert_int_equal(pce_subscriber_snapshot_write(*s, snap_path), 0);
	assert_int_equal(pce_subscriber_endpoint_status(*s, 0, &st), 0);
	/* the publisher was idle since the subscriber caught up: the file
	 * records every batch counted here */
	*batches_before = st.c.batches;
	assert_int_equal(st.last_seq, pub_next_seq() - 1);
	pce_subscriber_destroy(*s);
	pce_router_destroy(*r);
	*s = NULL;
	*r = NULL;
	run_ops(ops_down);
	sub_config(&c, NULL);
	assert_int_equal(pce_subscriber_snapshot_restore(&rc, snap_path, &c, r, s), 0);
	assert_non_null(*r);
	assert_non_null(*s);
	/* not EXACT before the engine is heard from again */
	owner_state_is(*s, PCE_EV_RECOVERING);
}

static void test_warm_restart(void **state)
{
	struct pce_subscriber_endpoint_status st;
	struct pce_router_stats rs0, rs1;
	struct pce_router *r;
	struct pce_subscriber *s;
	uint64_t before;

	(void)state;
	rng_state = 2;
	engine_start(10000);
	down_and_back(2000, &r, &s, &before);
	wait_caught_up(s);
	run_ops(1000);
	wait_caught_up(s);
	owner_state_is(s, PCE_EV_EXACT);
	check_agree(r);
	assert_int_equal(pce_subscriber_endpoint_status(s, 0, &st), 0);
	/* every batch published applied exactly once, across the restart */
	assert_int_equal(before + st.c.batches, pub_next_seq());
	assert_true(st.c.replayed > 0);
	assert_int_equal(st.c.gaps, 1);
	assert_int_equal(st.c.restarts, 0);
	assert_int_equal(st.c.recoveries_failed, 0);
	for (int k = 0; k < PCE_SUBSCRIBER_DROP_COUNT; k++)
		assert_int_equal(st.c.dropped[k], 0);
	/* the restored subscriber is the router's only feeder: once it is
	 * destroyed, what the publisher sends changes nothing */
	pce_subscriber_destroy(s);
	assert_int_equal(pce_router_stats_get(r, &rs0), 0);
	run_ops(300);
	usleep(200000);
	assert_int_equal(pce_router_stats_get(r, &rs1), 0);
	assert_int_equal(rs1.adds, rs0.adds);
	assert_int_equal(rs1.removes, rs0.removes);
	pce_router_destroy(r);
	engine_stop();
	unlink(snap_path);
}

static void test_window_short(void **state)
{
	struct pce_subscriber_endpoint_status st;
	struct pce_router_stats rs;
	struct pce_router *r;
	struct pce_subscriber *s;
	uint64_t before;

	(void)state;
	rng_state = 3;
	engine_start(4); /* the ring keeps 4 batches: far fewer than the time down */
	down_and_back(2000, &r, &s, &before);
	wait_caught_up(s);
	owner_state_is(s, PCE_EV_DEGRADED);
	assert_int_equal(pce_subscriber_endpoint_status(s, 0, &st), 0);
	assert_int_equal(st.c.recoveries_failed, 1);
	assert_true(st.c.blocks_removed > 0); /* the restored holdings were cleared */
	/* it stays DEGRADED while events come (until an AllBlocksCleared) */
	run_ops(200);
	wait_caught_up(s);
	owner_state_is(s, PCE_EV_DEGRADED);
	assert_int_equal(pce_router_stats_get(r, &rs), 0);
	assert_int_equal(pce_router_audit(r, 0, NULL, 0), 0);
	pce_subscriber_destroy(s);
	pce_router_destroy(r);
	engine_stop();
	unlink(snap_path);
}

static void copy_file(const char *from, const char *to, long len, long flip)
{
	FILE *f = fopen(from, "rb"), *g = fopen(to, "wb");
	int ch;

	assert_non_null(f);
	assert_non_null(g);
	for (long i = 0; (ch = fgetc(f)) != EOF && (len < 0 || i < len); i++)
		fputc(i == flip ? ch ^ 0x10 : ch, g);
	fclose(f);
	fclose(g);
}

static void refused(const char *path, const struct pce_router_config *rc,
		    const struct pce_subscriber_config *c, int want)
{
	struct pce_router *r = (void *)1;
	struct pce_subscriber *s = (void *)1;

	assert_int_equal(pce_subscriber_snapshot_restore(rc, path, c, &r, &s), want);
	assert_null(r);
	assert_null(s);
}

static void test_refusals(void **state)
{
	struct pce_router_config rc;
	struct pce_subscriber_config c;
	struct pce_subscriber_endpoint two[2];
	struct pce_router *r;
	struct pce_subscriber *s;
	char bad[300];
	long size;
	FILE *f;

	(void)state;
	rng_state = 4;
	engine_start(10000);
	router_config(&rc);
	assert_int_equal(pce_router_create(&rc, &r), 0);
	sub_config(&c, r);
	assert_int_equal(pce_subscriber_create(&c, &s), 0);
	wait_caught_up(s);
	run_ops(500);
	wait_caught_up(s);
	assert_int_equal(pce_subscriber_snapshot_write(NULL, snap_path), PCE_EINVAL);
	assert_int_equal(pce_subscriber_snapshot_write(s, NULL), PCE_EINVAL);
	assert_int_equal(pce_subscriber_snapshot_write(s, snap_path), 0);
	snprintf(bad, sizeof(bad), "%s.bad", snap_path);
	f = fopen(snap_path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);

	sub_config(&c, NULL);
	copy_file(snap_path, bad, size / 2, -1);
	refused(bad, &rc, &c, PCE_EBADSNAP);
	copy_file(snap_path, bad, size - 1, -1);
	refused(bad, &rc, &c, PCE_EBADSNAP);
	for (long at = 40; at < size; at += size / 7) {
		copy_file(snap_path, bad, -1, at);
		refused(bad, &rc, &c, PCE_EBADSNAP);
	}
	/* a router snapshot without the subscriber's section */
	assert_int_equal(pce_router_snapshot_write(r, bad, NULL, 0), 0);
	refused(bad, &rc, &c, PCE_EBADSNAP);
	refused("/nonexistent/x.snap", &rc, &c, PCE_ENOENT);
	/* configs that do not fit the file or the call */
	memcpy(&two[0], &endpoint, sizeof(endpoint));
	memcpy(&two[1], &endpoint, sizeof(endpoint));
	two[1].owner = OWNER + 1;
	c.endpoints = two;
	c.n_endpoints = 2;
	refused(snap_path, &rc, &c, PCE_EINVAL);
	sub_config(&c, r);
	refused(snap_path, &rc, &c, PCE_EINVAL); /* router set */
	sub_config(&c, NULL);
	c.block_size = BS * 2;
	refused(snap_path, &rc, &c, PCE_EINVAL);
	refused(NULL, &rc, &c, PCE_EINVAL);
	/* and the file itself is restored */
	sub_config(&c, NULL);
	pce_subscriber_destroy(s);
	pce_router_destroy(r);
	assert_int_equal(pce_subscriber_snapshot_restore(&rc, snap_path, &c, &r, &s), 0);
	check_agree(r);
	pce_subscriber_destroy(s);
	pce_router_destroy(r);
	engine_stop();
	unlink(bad);
	unlink(snap_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agreement),
		cmocka_unit_test(test_warm_restart),
		cmocka_unit_test(test_window_short),
		cmocka_unit_test(test_refusals),
	};
	const char *tmp = getenv("TMPDIR");

	snprintf(snap_path, sizeof(snap_path), "%s/pce-warm-%d.snap", tmp ? tmp : "/tmp",
		 (int)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
