/*
 * test_cluster.c - the cluster tier against a real redis-server: golden
 * hash vectors, publish/lookup with several owners, holes, epochs, leases,
 * key TTLs, retract order under a killed connection, NOSCRIPT, OOM, the
 * scripting-free fallback.  Each test starts its own server (redis_server.h).
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cluster.h"
#include "node.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- no server needed ---------------------------------------------------- */

static void test_golden_vectors(void **state)
{
	static const uint32_t toks[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct pce_cluster_config cfg;
	struct pce_cluster *t;
	struct pce_chunk_id id[2], other[2];
	(void)state;

	/* No server: the tier only hashes here.  These values pin the id
	 * format: every node of a cluster, whatever its build, must agree. */
	node_config(&cfg, redis_server_free_port(), 1);
	assert_int_equal(pce_cluster_create(&cfg, &t), 0);
	assert_int_equal(pce_cluster_chunk_ids(t, 0, toks, 2, id), 0);
	assert_int_equal(id[0].hi, 0xb538387dd52a8a39ull);
	assert_int_equal(id[0].lo, 0x94fea0cff8626c79ull);
	assert_int_equal(id[1].hi, 0x1863c64d2c416a6dull);
	assert_int_equal(id[1].lo, 0xd2b94495caa43ca5ull);
	/* Chained: chunk 2's id depends on chunk 1's tokens. */
	static const uint32_t toks2[8] = {9, 2, 3, 4, 5, 6, 7, 8};
	assert_int_equal(pce_cluster_chunk_ids(t, 0, toks2, 2, other), 0);
	assert_true(other[1].lo != id[1].lo || other[1].hi != id[1].hi);
	/* Namespaced. */
	assert_int_equal(pce_cluster_chunk_ids(t, 7, toks, 1, other), 0);
	assert_true(other[0].lo != id[0].lo || other[0].hi != id[0].hi);
	pce_cluster_destroy(t);

	cfg.hash = PCE_CLUSTER_SHA256_128;
	assert_int_equal(pce_cluster_create(&cfg, &t), 0);
	/* Also computed independently: sha256(secret + pack('<Q', 0))[:16]
	 * as the root, then sha256(secret + prev + pack('<4I', *chunk))[:16]
	 * (Python's hashlib), read as two little-endian words lo, hi. */
	assert_int_equal(pce_cluster_chunk_ids(t, 0, toks, 2, id), 0);
	assert_int_equal(id[0].hi, 0x42e7af99e3e9bd53ull);
	assert_int_equal(id[0].lo, 0xfe04feeee3a46682ull);
	assert_int_equal(id[1].hi, 0xf0e21736c2b93ea6ull);
	assert_int_equal(id[1].lo, 0xde5c5842044d7538ull);
	pce_cluster_destroy(t);
}

static void test_key_schema_and_slots(void **state)
{
	char k[PCE__KEY_MAX];
	struct pce_chunk_id id = {0x1122334455667788ull, 0x99aabbccddeeff00ull};
	(void)state;

	/* Redis Cluster's own examples. */
	assert_int_equal(pce__slot_of("foo", 3), 12182);
	assert_int_equal(pce__slot_of("123456789", 9), 0x31C3 & 16383);
	assert_int_equal(pce__slot_of("{user1000}.following", 20),
			 pce__slot_of("{user1000}.followers", 20));
	assert_int_equal(pce__slot_of("foo{}{bar}", 10), pce__slot_of("foo{}{bar}", 10));
	assert_int_equal(pce__slot_of("foo{{bar}}zap", 13), pce__slot_of("{bar", 4));
	pce__key_chunk(k, "pce", 0x2a, &id);
	assert_string_equal(k, "pce:{000000000000002a}:c:99aabbccddeeff001122334455667788");
	pce__key_registry(k, "pce", 0x2a);
	assert_string_equal(k, "pce:{000000000000002a}:r");
	pce__key_boot(k, "pce", 0x2a);
	assert_string_equal(k, "pce:{000000000000002a}:b");
	assert_int_equal(pce__key_ns_slot("pce", 0x2a), pce__slot_of("000000000000002a", 16));
}

static void test_config_errors(void **state)
{
	struct pce_cluster_config cfg;
	struct pce_cluster *t;
	(void)state;

	node_config(&cfg, 1, 1);
	assert_null(pce_cluster_config_error(&cfg));
	cfg.secret_len = 3;
	assert_non_null(pce_cluster_config_error(&cfg));
	assert_int_equal(pce_cluster_create(&cfg, &t), PCE_EINVAL);
	node_config(&cfg, 1, 1);
	cfg.key_prefix = "a{b";
	assert_int_equal(pce_cluster_create(&cfg, &t), PCE_EINVAL);
	node_config(&cfg, 1, 1);
	cfg.chunk_tokens = 0;
	assert_int_equal(pce_cluster_create(&cfg, &t), PCE_EINVAL);
	assert_int_equal(pce_cluster_create(NULL, &t), PCE_EINVAL);
	assert_int_equal(pce_cluster_lookup(NULL, 0, NULL, 0, NULL, NULL, 0, NULL), PCE_EINVAL);
	pce_cluster_destroy(NULL);
}

/* ---- one server per test ------------------------------------------------- */

static void test_publish_lookup_two_owners(void **state)
{
	struct redis_server *p = *state;
	struct pce_cluster_config cfg;
	struct node a, b, c, f;
	uint32_t q[16], other[16];
	unsigned flags;

	seq(q, 16, 100);
	seq(other, 16, 500);
	node_start(&a, p->port, 1);
	node_start(&b, p->port, 2);
	node_start(&c, p->port, 3);
	node_config(&cfg, p->port, 4);
	cfg.flags = PCE_CLUSTER_NO_SCRIPT;
	node_open(&f, &cfg, 1);
	/* Connected before the stores: writes made while a tier is not
	 * connected count as lost (the first connect republishes them). */
	node_sync(&a);
	node_sync(&b);

	node_store(&a, q, 12); /* 3 chunks */
	node_store(&b, q, 8);  /* 2 chunks */
	node_store(&b, q, 3);  /* no whole chunk: not published */
	node_sync(&a);
	node_sync(&b);
	node_sync(&c);
	node_sync(&f);

	/* The script and its C twin agree. */
	struct node *askers[] = {&c, &f};
	for (size_t i = 0; i < NELEM(askers); i++) {
		assert_int_equal(node_depth_of(askers[i], q, 16, 1, &flags), 12);
		assert_int_equal(flags, 0);
		assert_int_equal(node_depth_of(askers[i], q, 16, 2, NULL), 8);
		assert_int_equal(node_depth_of(askers[i], q, 7, 1, NULL), 4);
		assert_int_equal(node_depth_of(askers[i], other, 16, 1, &flags), 0);
		assert_int_equal(flags, 0);
	}
	/* A node never sees itself through L2; a local hit covering every
	 * whole chunk does not ask L2 at all. */
	assert_int_equal(node_depth_of(&a, q, 16, 1, NULL), 0);
	assert_int_equal(node_depth_of(&a, q, 16, 2, NULL), 8);
	node_depth_of(&a, q, 14, 2, &flags);
	assert_int_equal(flags, PCE_CLUSTER_LOCAL);

	struct pce_cluster_stats st;
	assert_int_equal(pce_cluster_stats_get(a.tier, &st), 0);
	assert_int_equal(st.mirror_entries, 1);
	assert_int_equal(st.mirror_chunks, 3);
	assert_int_equal(st.published, 3);
	assert_int_equal(st.publish_errors, 0);
	assert_int_equal(st.connected, 1);
	assert_int_equal(pce_cluster_stats_get(c.tier, &st), 0);
	assert_int_equal(st.l2_lookups, 4);
	assert_int_equal(st.l2_hits, 3);
	assert_int_equal(st.l2_unavailable, 0);
	assert_true(st.rtt_p50_us > 0 && st.rtt_p50_us <= st.rtt_p99_us);

	/* Removal retracts: B's chunks leave, A's stay. */
	uint64_t removed;
	assert_int_equal(pce_cache_clear(b.cache, &removed), 0);
	node_sync(&b);
	assert_int_equal(node_depth_of(&c, q, 16, 2, NULL), 0);
	assert_int_equal(node_depth_of(&c, q, 16, 1, NULL), 12);
	assert_int_equal(pce_cluster_stats_get(b.tier, &st), 0);
	assert_int_equal(st.retracted, 2);
	assert_int_equal(st.mirror_chunks, 0);

	node_close(&f);
	node_close(&c);
	node_close(&b);
	node_close(&a);
}

/* The chunk cap and the script's work budget both mark an answer PARTIAL
 * (depths are then lower bounds); without owners[] the counts still come. */
static void test_partial_answers(void **state)
{
	struct redis_server *p = *state;
	struct pce_cluster_config cfg;
	struct node a, capped, budgeted;
	struct pce_cluster_result r;
	uint32_t q[16];
	unsigned flags;

	seq(q, 16, 800);
	node_start(&a, p->port, 1);
	node_config(&cfg, p->port, 3);
	cfg.max_lookup_chunks = 2;
	node_open(&capped, &cfg, 1);
	node_config(&cfg, p->port, 4);
	cfg.script_budget = 1;
	node_open(&budgeted, &cfg, 1);
	node_sync(&a);
	node_store(&a, q, 16);
	node_sync(&a);
	node_sync(&capped);
	node_sync(&budgeted);

	assert_int_equal(node_depth_of(&capped, q, 16, 1, &flags), 8);
	assert_int_equal(flags, PCE_CLUSTER_PARTIAL);
	assert_int_equal(pce_cluster_lookup(capped.tier, 0, q, 16, NULL, NULL, 0, &r), 0);
	assert_int_equal(r.flags, PCE_CLUSTER_PARTIAL);
	assert_int_equal(r.n_owners, 0);
	assert_int_equal(r.total_owners, 1);
	/* Not partial when the query has no more chunks than the cap. */
	assert_int_equal(node_depth_of(&capped, q, 8, 1, &flags), 8);
	assert_int_equal(flags, 0);

	assert_int_equal(node_depth_of(&budgeted, q, 16, 1, &flags), 8);
	assert_int_equal(flags, PCE_CLUSTER_PARTIAL);
	struct pce_cluster_stats st;
	assert_int_equal(pce_cluster_stats_get(budgeted.tier, &st), 0);
	assert_int_equal(st.l2_partial, 1);

	node_close(&budgeted);
	node_close(&capped);
	node_close(&a);
}

static void test_hole_stops_the_scan(void **state)
{
	struct redis_server *p = *state;
	struct node a, c;
	uint32_t q[16];
	char key[128];
	redisContext *raw = redis_client(p);

	seq(q, 16, 7);
	node_start(&a, p->port, 1);
	node_start(&c, p->port, 3);
	node_store(&a, q, 16);
	node_sync(&a);
	node_sync(&c);
	assert_int_equal(node_depth_of(&c, q, 16, 1, NULL), 16);
	/* Chunk 2 goes missing: chunks 3 and 4 do not count. */
	chunk_key(&a, q, 1, key, sizeof(key));
	assert_int_equal(raw_int(raw, "HDEL %s 1/1", key), 1);
	assert_int_equal(node_depth_of(&c, q, 16, 1, NULL), 4);
	/* A hole in chunk 1: nothing. */
	chunk_key(&a, q, 0, key, sizeof(key));
	assert_int_equal(raw_int(raw, "HDEL %s 1/1", key), 1);
	assert_int_equal(node_depth_of(&c, q, 16, 1, NULL), 0);
	redisFree(raw);
	node_close(&c);
	node_close(&a);
}

static void test_new_epoch_hides_old_life(void **state)
{
	struct redis_server *p = *state;
	struct pce_cluster_config cfg;
	struct node a1, a2, c;
	uint32_t q[8], r[8];

	seq(q, 8, 1000);
	seq(r, 8, 2000);
	node_start(&c, p->port, 3);
	node_config(&cfg, p->port, 1);
	node_open(&a1, &cfg, 0);
	node_event(&a1, 1, q, 8);
	node_sync(&a1);
	node_sync(&c);
	assert_int_equal(node_depth_of(&c, q, 8, 1, NULL), 8);
	/* A crash: the entries stay, and the lease (10 s) has not lapsed. */
	pce_cluster_destroy(a1.tier);
	assert_int_equal(node_depth_of(&c, q, 8, 1, NULL), 8);
	/* The restarted node registers a new epoch with its first publish
	 * in the namespace: the old life is hidden at once. */
	node_open(&a2, &cfg, 0);
	node_event(&a2, 1, r, 8);
	node_sync(&a2);
	assert_int_equal(node_depth_of(&c, q, 8, 1, NULL), 0);
	assert_int_equal(node_depth_of(&c, r, 8, 1, NULL), 8);
	node_close(&a2);
	node_close(&c);
}

/*
 * Two publishing nodes (gateways 9 and 10, written by hand) publish the same
 * owner 5 at different depths: a lookup gives the owner once, at the
 * deepest live publisher's depth; one publisher's new epoch leaves the
 * other's view of the owner; its retract removes the owner.  Script and
 * fallback agree; a malformed field is ignored.
 */
static void test_publishers_collapse_per_owner(void **state)
{
	struct redis_server *p = *state;
	struct pce_cluster_config cfg;
	struct node c[2];
	uint32_t q[12];
	char key[3][128];
	redisContext *raw = redis_client(p);

	seq(q, 12, 5000);
	for (int s = 0; s < 2; s++) {
		node_config(&cfg, p->port, 3);
		cfg.flags = s ? PCE_CLUSTER_NO_SCRIPT : 0;
		node_open(&c[s], &cfg, 1);
		node_sync(&c[s]);
	}
	raw_ok(raw, "HSET pce:{%016llx}:r 9 77:%lld 10 88:%lld", 0ull, 1ll << 50, 1ll << 50);
	for (size_t i = 0; i < 3; i++) {
		chunk_key(&c[0], q, i, key[i], sizeof(key[i]));
		raw_ok(raw, "HSET %s 9/5 77 junk 77", key[i]);
		if (i == 0)
			raw_ok(raw, "HSET %s 10/5 88 10/6 88", key[i]);
	}
	for (int s = 0; s < 2; s++) {
		assert_int_equal(node_depth_of(&c[s], q, 12, 5, NULL), 12);
		assert_int_equal(node_depth_of(&c[s], q, 12, 6, NULL), 4);
	}
	struct pce_overlap o[4];
	struct pce_cluster_result r;
	assert_int_equal(pce_cluster_lookup(c[0].tier, 0, q, 12, NULL, o, 4, &r), 0);
	assert_int_equal(r.total_owners, 2);
	/* Gateway 9 restarts (new epoch): gateway 10's view of owner 5 stays. */
	raw_ok(raw, "HSET pce:{%016llx}:r 9 78:%lld", 0ull, 1ll << 50);
	for (int s = 0; s < 2; s++)
		assert_int_equal(node_depth_of(&c[s], q, 12, 5, NULL), 4);
	/* Gateway 10 retracts owner 5: nobody publishes it any more. */
	assert_int_equal(raw_int(raw, "HDEL %s 10/5", key[0]), 1);
	for (int s = 0; s < 2; s++) {
		assert_int_equal(node_depth_of(&c[s], q, 12, 5, NULL), 0);
		assert_int_equal(node_depth_of(&c[s], q, 12, 6, NULL), 4);
	}
	redisFree(raw);
	node_close(&c[0]);
	node_close(&c[1]);
}

static void test_lease_lapse(void **state)
{
	struct redis_server *p = *state;
	struct node c;
	uint32_t q[8];
	char key[128];
	redisContext *raw = redis_client(p);

	seq(q, 8, 3000);
	node_start(&c, p->port, 3);
	node_sync(&c);
	/* Another node (9, epoch 77) written by hand, with a 300 ms lease on
	 * the server's clock. */
	redisReply *tr = redisCommand(raw, "TIME");
	long long now_ms = atoll(tr->element[0]->str) * 1000 + atoll(tr->element[1]->str) / 1000;
	freeReplyObject(tr);
	raw_ok(raw, "HSET pce:{%016llx}:r 9 77:%lld", 0ull, now_ms + 300);
	for (size_t i = 0; i < 2; i++) {
		chunk_key(&c, q, i, key, sizeof(key));
		raw_ok(raw, "HSET %s 9/9 77", key);
	}
	assert_int_equal(node_depth_of(&c, q, 8, 9, NULL), 8);
	sleep_ms(400);
	assert_int_equal(node_depth_of(&c, q, 8, 9, NULL), 0);
	/* A registry epoch that differs from the chunks' hides them too. */
	raw_ok(raw, "HSET pce:{%016llx}:r 9 78:%lld", 0ull, now_ms + 100000);
	assert_int_equal(node_depth_of(&c, q, 8, 9, NULL), 0);
	redisFree(raw);
	node_close(&c);
}

static void test_key_ttl(void **state)
{
	struct redis_server *p = *state;
	struct pce_cluster_config cfg;
	struct node a;
	uint32_t q[4];
	char key[128];
	redisContext *raw = redis_client(p);

	seq(q, 4, 4000);
	node_config(&cfg, p->port, 1);
	cfg.key_ttl_ms = 300;
	cfg.lease_ms = 300;
	node_open(&a, &cfg, 0);
	node_event(&a, 1, q, 4);
	node_sync(&a);
	chunk_key(&a, q, 0, key, sizeof(key));
	long long ttl = raw_int(raw, "PTTL %s", key);
	assert_true(ttl > 0 && ttl <= 300);
	/* A live node refreshes its keys (every ttl / 3). */
	sleep_ms(700);
	assert_int_equal(raw_int(raw, "EXISTS %s", key), 1);
	assert_int_equal(raw_int(raw, "EXISTS pce:{%016llx}:r", 0ull), 1);
	/* A dead one's keys expire. */
	pce_cluster_destroy(a.tier);
	sleep_ms(500);
	assert_int_equal(raw_int(raw, "EXISTS %s", key), 0);
	assert_int_equal(raw_int(raw, "EXISTS pce:{%016llx}:r", 0ull), 0);
	redisFree(raw);
}

struct killer {
	int port;
	struct pce_cluster *tier;
	volatile int stop;
	int kills;
	pthread_t th;
};

/* Once the tier's first retracts have landed, kills every other client's
 * connection, every millisecond. */
static void *kill_loop(void *arg)
{
	struct killer *k = arg;
	struct redis_server p = {.port = k->port};
	redisContext *raw = redis_client(&p);
	struct pce_cluster_stats st;
	uint64_t t0 = now_us();

	do
		assert_int_equal(pce_cluster_stats_get(k->tier, &st), 0);
	while (st.retracted == 0 && now_us() - t0 < 5000000);
	while (raw && !__atomic_load_n(&k->stop, __ATOMIC_RELAXED)) {
		redisReply *r = redisCommand(raw, "CLIENT KILL TYPE normal SKIPME yes");
		if (!r)
			break;
		k->kills += r->type == REDIS_REPLY_INTEGER && r->integer > 0;
		freeReplyObject(r);
		sleep_ms(1);
	}
	if (raw)
		redisFree(raw);
	return NULL;
}

/* Retracts go deepest first: wherever a killed connection cuts them off,
 * what Redis shows of each entry stays a prefix. */
static void test_retract_order_with_killed_connection(void **state)
{
	/* 7 chunks: the worker's pipelines (512 commands) end inside an
	 * entry, so a kill between two of them cuts that entry. */
	enum { ENTRIES = 2000, CHUNKS = 7 };
	struct redis_server *p = *state;
	struct node a, c;
	static uint32_t q[ENTRIES][CHUNKS * CHUNK];
	redisContext *raw;
	struct killer k = {.port = p->port};
	uint64_t removed;

	for (size_t e = 0; e < ENTRIES; e++)
		seq(q[e], CHUNKS * CHUNK, (uint32_t)(e * 1000 + 1));
	node_start(&a, p->port, 1);
	node_start(&c, p->port, 3);
	for (size_t e = 0; e < ENTRIES; e++)
		node_store(&a, q[e], CHUNKS * CHUNK);
	node_sync(&a);
	node_sync(&c);
	assert_int_equal(node_depth_of(&c, q[0], CHUNKS * CHUNK, 1, NULL), CHUNKS * CHUNK);

	k.tier = a.tier;
	assert_int_equal(pthread_create(&k.th, NULL, kill_loop, &k), 0);
	assert_int_equal(pce_cache_clear(a.cache, &removed), 0);
	assert_int_equal(removed, ENTRIES);
	sleep_ms(100);
	__atomic_store_n(&k.stop, 1, __ATOMIC_RELAXED);
	assert_int_equal(pthread_join(k.th, NULL), 0);
	raw = redis_client(p); /* after the kills */
	assert_non_null(raw);

	/* Which chunks still carry node 1, one pipeline per entry. */
	size_t cut = 0, whole = 0;
	for (size_t e = 0; e < ENTRIES; e++) {
		size_t present = 0;
		int gap = 0;
		for (size_t i = 0; i < CHUNKS; i++) {
			char key[128];
			chunk_key(&a, q[e], i, key, sizeof(key));
			redisAppendCommand(raw, "HEXISTS %s 1/1", key);
		}
		for (size_t i = 0; i < CHUNKS; i++) {
			redisReply *r;
			assert_int_equal(redisGetReply(raw, (void **)&r), REDIS_OK);
			assert_int_equal(r->type, REDIS_REPLY_INTEGER);
			if (r->integer) {
				assert_false(gap); /* prefix-closed */
				present++;
			} else {
				gap = 1;
			}
			freeReplyObject(r);
		}
		cut += present > 0 && present < CHUNKS;
		whole += present == CHUNKS;
	}
	printf("kills %d; entries cut midway %zu, untouched %zu\n", k.kills, cut, whole);
	/* After the reconnect, nothing of A's is visible: retracted, or
	 * hidden by the new epoch of the resync. */
	node_sync(&a);
	for (size_t e = 0; e < ENTRIES; e += 97)
		assert_int_equal(node_depth_of(&c, q[e], CHUNKS * CHUNK, 1, NULL), 0);
	struct pce_cluster_stats st;
	assert_int_equal(pce_cluster_stats_get(a.tier, &st), 0);
	assert_int_equal(st.retracted + st.retract_errors, ENTRIES * CHUNKS);
	assert_int_equal(st.mirror_chunks, 0);
	redisFree(raw);
	node_close(&c);
	node_close(&a);
}

static void test_noscript_reload(void **state)
{
	struct redis_server *p = *state;
	struct node a, c;
	uint32_t q[8];
	redisContext *raw = redis_client(p);
	struct pce_cluster_stats st;

	seq(q, 8, 5000);
	node_start(&a, p->port, 1);
	node_start(&c, p->port, 3);
	node_store(&a, q, 8);
	node_sync(&a);
	node_sync(&c);
	assert_int_equal(node_depth_of(&c, q, 8, 1, NULL), 8);
	assert_int_equal(pce_cluster_stats_get(c.tier, &st), 0);
	assert_int_equal(st.script_loads, 1);
	raw_ok(raw, "SCRIPT FLUSH");
	assert_int_equal(node_depth_of(&c, q, 8, 1, NULL), 8);
	assert_int_equal(pce_cluster_stats_get(c.tier, &st), 0);
	assert_int_equal(st.script_loads, 2);
	assert_int_equal(st.l2_unavailable, 0);
	assert_int_equal(st.breaker_opens, 0);
	redisFree(raw);
	node_close(&c);
	node_close(&a);
}

static void test_oom_publish_errors_lookups_answer(void **state)
{
	struct redis_server *p = *state;
	struct node a, c;
	uint32_t q[8], r[64];
	redisContext *raw = redis_client(p);
	static char big[64 * 1024];
	struct pce_cluster_stats st;
	unsigned flags;

	seq(q, 8, 6000);
	seq(r, 64, 7000);
	node_start(&a, p->port, 1);
	node_start(&c, p->port, 3);
	node_store(&a, q, 8);
	node_sync(&a);
	node_sync(&c);
	assert_int_equal(node_depth_of(&c, q, 8, 1, NULL), 8);

	/* Fill the server up to its limit. */
	memset(big, 'x', sizeof(big));
	raw_ok(raw, "CONFIG SET maxmemory-policy noeviction");
	raw_ok(raw, "CONFIG SET maxmemory 4mb");
	/* Big values first, then small ones: a refused big command frees
	 * its own argument, which leaves room for small writes. */
	for (size_t size = sizeof(big); size >= 64; size /= 8) {
		for (int i = 0; i < 100000; i++) {
			redisReply *x = redisCommand(raw, "SET fill:%d:%d %b", (int)size, i, big, size);
			assert_non_null(x);
			int oom = x->type == REDIS_REPLY_ERROR;
			freeReplyObject(x);
			if (oom)
				break;
		}
	}
	node_store(&a, r, 64);
	node_sync(&a);
	assert_int_equal(pce_cluster_stats_get(a.tier, &st), 0);
	assert_true(st.publish_errors > 0);
	assert_int_equal(st.connected, 1);
	/* The read-only script still runs. */
	assert_int_equal(node_depth_of(&c, q, 8, 1, &flags), 8);
	assert_int_equal(flags, 0);
	redisFree(raw);
	node_close(&c);
	node_close(&a);
}

/* ---- Redis Cluster: MOVED and ASK --------------------------------------- */

static void cluster_node(struct redis_server *p)
{
	static const char *const args[] = {"--cluster-enabled", "yes",
					   "--cluster-config-file", "nodes.conf",
					   "--cluster-node-timeout", "2000", NULL};
	int port = redis_server_free_cluster_port();

	assert_true(port > 0);
	assert_int_equal(redis_server_start(p, port, args, NULL, 0), 0);
}

static void node_id_of(redisContext *c, char *id)
{
	redisReply *r = redisCommand(c, "CLUSTER MYID");
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	snprintf(id, 64, "%s", r->str);
	freeReplyObject(r);
}

static int cluster_ok(redisContext *c)
{
	redisReply *r = redisCommand(c, "CLUSTER INFO");
	int ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok");
	if (r)
		freeReplyObject(r);
	return ok;
}

/* 1 if @c's view of the cluster has node @id as a connected master. */
static int knows_master(redisContext *c, const char *id)
{
	redisReply *r = redisCommand(c, "CLUSTER NODES");
	int ok = 0;

	if (r && r->type == REDIS_REPLY_STRING) {
		const char *line = strstr(r->str, id);
		const char *end = line ? strchr(line, '\n') : NULL;
		if (line && end) {
			char buf[512];
			snprintf(buf, sizeof(buf), "%.*s", (int)(end - line), line);
			ok = strstr(buf, "master") && !strstr(buf, "handshake") &&
			     strstr(buf, " connected");
		}
	}
	if (r)
		freeReplyObject(r);
	return ok;
}

/* Two masters: X holds every slot but namespace 0's, which Y holds.  The
 * tiers know only X: their first batch is answered MOVED.  Then the slot
 * migrates from Y to X while lookups go on: ASK during the move, MOVED
 * after it. */
static void test_moved_and_ask(void **state)
{
	struct redis_server x = {0}, y = {0};
	struct node a, c;
	struct pce_cluster_stats st;
	uint32_t q[8];
	char xid[64], yid[64];
	unsigned flags;
	uint16_t slot = pce__key_ns_slot("pce", 0);
	(void)state;

	cluster_node(&x);
	cluster_node(&y);
	redisContext *rx = redis_client(&x), *ry = redis_client(&y);
	node_id_of(rx, xid);
	node_id_of(ry, yid);
	if (slot > 0)
		raw_ok(rx, "CLUSTER ADDSLOTSRANGE 0 %d", slot - 1);
	if (slot < 16383)
		raw_ok(rx, "CLUSTER ADDSLOTSRANGE %d 16383", slot + 1);
	raw_ok(ry, "CLUSTER ADDSLOTS %d", slot);
	raw_ok(rx, "CLUSTER MEET 127.0.0.1 %d", y.port);
#define READY (cluster_ok(rx) && cluster_ok(ry) && knows_master(rx, yid) && knows_master(ry, xid))
	for (int i = 0; i < 1000 && !READY; i++)
		sleep_ms(10);
	assert_true(READY);
#undef READY

	seq(q, 8, 9000);
	node_start(&a, x.port, 1);
	node_start(&c, x.port, 3);
	node_sync(&a);
	node_store(&a, q, 8);
	node_sync(&a);
	node_sync(&c);
	assert_int_equal(node_depth_of(&c, q, 8, 1, &flags), 8);
	assert_int_equal(flags, 0);
	assert_int_equal(pce_cluster_stats_get(a.tier, &st), 0);
	assert_true(st.redirects >= 1);
	assert_int_equal(st.publish_errors, 0);
	assert_int_equal(pce_cluster_stats_get(c.tier, &st), 0);
	assert_true(st.redirects >= 1);
	uint64_t before = st.redirects;
	/* Y has the keys now. */
	assert_true(raw_int(ry, "CLUSTER COUNTKEYSINSLOT %d", slot) >= 3);

	/* Migration, step 1: both sides marked.  Y still holds every key,
	 * so it serves the lookup itself. */
	raw_ok(rx, "CLUSTER SETSLOT %d IMPORTING %s", slot, yid);
	raw_ok(ry, "CLUSTER SETSLOT %d MIGRATING %s", slot, xid);
	assert_int_equal(node_depth_of(&c, q, 8, 1, &flags), 8);
	/* Step 2: every key moves to X.  Y answers ASK (the keys are gone,
	 * the slot is still its own): the tier asks X with ASKING. */
	redisReply *keys = redisCommand(ry, "CLUSTER GETKEYSINSLOT %d 1000", slot);
	assert_non_null(keys);
	for (size_t i = 0; i < keys->elements; i++)
		raw_ok(ry, "MIGRATE 127.0.0.1 %d %s 0 5000", x.port, keys->element[i]->str);
	freeReplyObject(keys);
	assert_int_equal(node_depth_of(&c, q, 8, 1, &flags), 8);
	assert_int_equal(flags, 0);
	assert_int_equal(pce_cluster_stats_get(c.tier, &st), 0);
	assert_true(st.redirects > before);
	before = st.redirects;
	/* Step 3: the slot is X's (Y learns it over the bus, and, with no
	 * slot left, turns into X's replica); Y answers MOVED to X, or ASK
	 * until it has learnt. */
	raw_ok(rx, "CLUSTER SETSLOT %d NODE %s", slot, xid);
	assert_int_equal(node_depth_of(&c, q, 8, 1, &flags), 8);
	assert_int_equal(flags, 0);
	assert_int_equal(pce_cluster_stats_get(c.tier, &st), 0);
	assert_true(st.redirects > before);
	assert_int_equal(st.l2_unavailable, 0);

	redisFree(rx);
	redisFree(ry);
	node_close(&c);
	node_close(&a);
	redis_server_stop(&x);
	redis_server_stop(&y);
}

/* ---- three masters, a slot migration under load -------------------------- */

/* redis-cli --cluster create over @n nodes, masters only; 0 on success. */
static int cluster_create(struct redis_server *p, int n)
{
	char addr[3][32];
	const char *argv[10] = {"redis-cli", "--cluster", "create"};
	int argc = 3, st;
	pid_t pid;

	for (int i = 0; i < n; i++) {
		snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", p[i].port);
		argv[argc++] = addr[i];
	}
	argv[argc++] = "--cluster-yes";
	argv[argc] = NULL;
	if ((pid = fork()) == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* The index of the node in @c[0..n) that serves namespace 0's slot. */
static int slot_owner(redisContext **c, int n)
{
	for (int i = 0; i < n; i++) {
		redisReply *r = redisCommand(c[i], "EXISTS pce:{%016llx}:r", 0ull);
		int mine = r && r->type == REDIS_REPLY_INTEGER;
		if (r)
			freeReplyObject(r);
		if (mine)
			return i;
	}
	return -1;
}

#define MIG_BASE 16  /* entries stored before the migration */
#define MIG_MAX 4096 /* entries stored in all */

struct mig_run {
	struct node *a, *c;
	uint32_t (*toks)[8];
	int stored;          /* entries of a, in toks order (publisher, atomic) */
	int stop;            /* atomic */
	uint64_t answers, correct, unavailable, partial, wrong;
};

static void mig_entry(uint32_t *t, int i)
{
	for (int j = 0; j < 8; j++)
		t[j] = 100000u + (uint32_t)i * 8u + (uint32_t)j;
}

static void *mig_publisher(void *arg)
{
	struct mig_run *m = arg;

	while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
		int i = __atomic_load_n(&m->stored, __ATOMIC_RELAXED);
		if (i == MIG_MAX)
			break;
		node_store(m->a, m->toks[i], 8);
		__atomic_store_n(&m->stored, i + 1, __ATOMIC_RELEASE);
		sleep_ms(2);
	}
	return NULL;
}

/* Every answer is right or flagged: owner 1 only, never deeper than the 8
 * tokens it stored; an entry published before the migration, unflagged,
 * at its full depth.  Counted, not asserted (cmocka asserts in the main
 * thread only). */
static void *mig_looker(void *arg)
{
	struct mig_run *m = arg;
	struct pce_overlap o[4];
	struct pce_cluster_result r;

	for (unsigned k = 0; !__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE); k++) {
		int n = __atomic_load_n(&m->stored, __ATOMIC_ACQUIRE);
		int i = (int)(k % (unsigned)n);
		m->answers++;
		if (pce_cluster_lookup(m->c->tier, 0, m->toks[i], 8, NULL, o, 4, &r)) {
			m->wrong++;
			continue;
		}
		if (r.flags & PCE_CLUSTER_UNAVAILABLE) {
			m->unavailable++;
			continue;
		}
		int bad = 0;
		for (size_t j = 0; j < r.n_owners; j++)
			bad |= o[j].owner != 1 || o[j].tokens > 8;
		if (!bad && (r.flags & PCE_CLUSTER_PARTIAL)) {
			m->partial++;
			continue;
		}
		if (i < MIG_BASE)
			bad |= r.n_owners != 1 || o[0].tokens != 8;
		m->wrong += bad;
		m->correct += !bad;
	}
	return NULL;
}

/*
 * Three masters made by redis-cli --cluster create.  The tiers know a node
 * that does not serve namespace 0 (MOVED at once).  Namespace 0's slot then
 * migrates to another master, key by key, while one thread stores entries
 * (publishes) and another looks entries up: every answer is right or
 * flagged, redirections are counted, and afterwards every entry stored
 * before the migration answers in full.
 */
static void test_three_masters_migration_under_load(void **state)
{
	struct redis_server p[3] = {{0}};
	redisContext *rc[3];
	char id[3][64];
	struct node a, c;
	struct pce_cluster_stats sa, sc;
	struct mig_run m = {0};
	pthread_t pub, look;
	uint16_t slot = pce__key_ns_slot("pce", 0);
	(void)state;

	for (int i = 0; i < 3; i++)
		cluster_node(&p[i]);
	assert_int_equal(cluster_create(p, 3), 0);
	for (int i = 0; i < 3; i++) {
		assert_non_null(rc[i] = redis_client(&p[i]));
		node_id_of(rc[i], id[i]);
	}
#define READY (cluster_ok(rc[0]) && cluster_ok(rc[1]) && cluster_ok(rc[2]))
	for (int i = 0; i < 1000 && !READY; i++)
		sleep_ms(10);
	assert_true(READY);
#undef READY
	int src = slot_owner(rc, 3), dst = (src + 1) % 3, other = (src + 2) % 3;
	assert_true(src >= 0);

	assert_non_null(m.toks = calloc(MIG_MAX, sizeof(*m.toks)));
	for (int i = 0; i < MIG_MAX; i++)
		mig_entry(m.toks[i], i);
	node_start(&a, p[other].port, 1);
	node_start(&c, p[other].port, 3);
	for (int i = 0; i < MIG_BASE; i++)
		node_store(&a, m.toks[i], 8);
	node_sync(&a);
	node_sync(&c);
	m.a = &a;
	m.c = &c;
	m.stored = MIG_BASE;
	assert_int_equal(pthread_create(&pub, NULL, mig_publisher, &m), 0);
	assert_int_equal(pthread_create(&look, NULL, mig_looker, &m), 0);
	sleep_ms(100);

	/* The migration, as redis-cli --cluster reshard does it. */
	raw_ok(rc[dst], "CLUSTER SETSLOT %d IMPORTING %s", slot, id[src]);
	raw_ok(rc[src], "CLUSTER SETSLOT %d MIGRATING %s", slot, id[dst]);
	for (;;) {
		redisReply *keys = redisCommand(rc[src], "CLUSTER GETKEYSINSLOT %d 10", slot);
		assert_non_null(keys);
		size_t n = keys->elements;
		for (size_t i = 0; i < n; i++)
			raw_ok(rc[src], "MIGRATE 127.0.0.1 %d %s 0 5000 REPLACE", p[dst].port,
			       keys->element[i]->str);
		freeReplyObject(keys);
		if (n == 0)
			break;
		sleep_ms(5);
	}
	for (int i = 0; i < 3; i++)
		raw_ok(rc[i], "CLUSTER SETSLOT %d NODE %s", slot, id[dst]);
	sleep_ms(200);
	__atomic_store_n(&m.stop, 1, __ATOMIC_RELEASE);
	pthread_join(pub, NULL);
	pthread_join(look, NULL);

	node_sync(&a);
	assert_int_equal(raw_int(rc[src], "CLUSTER COUNTKEYSINSLOT %d", slot), 0);
	assert_true(raw_int(rc[dst], "CLUSTER COUNTKEYSINSLOT %d", slot) >= 3);
	for (int i = 0; i < MIG_BASE; i++) {
		unsigned flags;
		assert_int_equal(node_depth_of(&c, m.toks[i], 8, 1, &flags), 8);
		assert_int_equal(flags, 0);
	}
	assert_int_equal(pce_cluster_stats_get(a.tier, &sa), 0);
	assert_int_equal(pce_cluster_stats_get(c.tier, &sc), 0);
	assert_true(sa.redirects >= 1);
	assert_true(sc.redirects >= 1);
	printf("stored %d, answers %llu: correct %llu, unavailable %llu, partial %llu, "
	       "wrong %llu; redirects %llu + %llu\n",
	       m.stored, (unsigned long long)m.answers, (unsigned long long)m.correct,
	       (unsigned long long)m.unavailable, (unsigned long long)m.partial,
	       (unsigned long long)m.wrong,
	       (unsigned long long)sa.redirects, (unsigned long long)sc.redirects);
	assert_int_equal(m.wrong, 0);
	assert_true(m.correct > 0);
	free(m.toks);
	for (int i = 0; i < 3; i++)
		redisFree(rc[i]);
	node_close(&c);
	node_close(&a);
	for (int i = 0; i < 3; i++)
		redis_server_stop(&p[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_vectors),
		cmocka_unit_test(test_key_schema_and_slots),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test_setup_teardown(test_publish_lookup_two_owners, redis_setup,
						redis_teardown),
		cmocka_unit_test_setup_teardown(test_partial_answers, redis_setup, redis_teardown),
		cmocka_unit_test_setup_teardown(test_hole_stops_the_scan, redis_setup,
						redis_teardown),
		cmocka_unit_test_setup_teardown(test_new_epoch_hides_old_life, redis_setup,
						redis_teardown),
		cmocka_unit_test_setup_teardown(test_publishers_collapse_per_owner, redis_setup,
						redis_teardown),
		cmocka_unit_test_setup_teardown(test_lease_lapse, redis_setup, redis_teardown),
		cmocka_unit_test_setup_teardown(test_key_ttl, redis_setup, redis_teardown),
		cmocka_unit_test_setup_teardown(test_retract_order_with_killed_connection, redis_setup,
						redis_teardown),
		cmocka_unit_test_setup_teardown(test_noscript_reload, redis_setup, redis_teardown),
		cmocka_unit_test_setup_teardown(test_oom_publish_errors_lookups_answer, redis_setup,
						redis_teardown),
		cmocka_unit_test(test_moved_and_ask),
		cmocka_unit_test(test_three_masters_migration_under_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
