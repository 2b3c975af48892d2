/*
 * test_tools_cluster.c - `pce cluster demo`: two processes and a Redis.
 *
 * Runs the built binary (PCE_TOOL), which starts its own redis-server on a
 * free 127.0.0.1 port (or is given one this test started, on a free port)
 * and stops it and its nodes by PID.  Checks the JSON: node B finds node
 * A's prefixes through Redis (cross-node ratio > 0), and its best of L1
 * and L2 equals what one cache replaying the same requests finds, exactly
 * with one id per chunk, within a chunk per request with larger chunks.
 * Every lookup gets a budget of seconds, so a slow (sanitized, shared)
 * machine cannot turn an answer into "unavailable": the test checks what is
 * found, never how fast.
 */
#include "tool_test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "redis_server.h"

#define BUDGET "--budget-us 10000000"

static char out[1 << 16];

/* Run "pce @args", stdout into out[] (stderr stays the test's); return
 * the exit status. */
static int pce(const char *args)
{
	char cmd[4096];
	FILE *f;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' %s", PCE_TOOL, args);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	st = pclose(f);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static double number(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		fail_msg("JSON field %s missing or not a number", key);
	return v->valuedouble;
}

static const cJSON *object(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsObject(v))
		fail_msg("JSON field %s missing or not an object", key);
	return v;
}

/* Every process the demo started is gone (stopped and reaped). */
static void assert_stopped(const cJSON *o, int redis_started)
{
	static const char *const keys[] = {"redis", "node_a", "node_b"};
	const cJSON *p = object(o, "pids");

	for (size_t i = redis_started ? 0 : 1; i < NELEM(keys); i++) {
		pid_t pid = (pid_t)number(p, keys[i]);

		assert_true(pid > 0);
		assert_int_equal(kill(pid, 0), -1);
		assert_int_equal(errno, ESRCH);
	}
}

static void test_mooncake_matches_local_replay(void **state)
{
	cJSON *o;
	const cJSON *b;
	(void)state;

	assert_int_equal(pce("cluster demo --json " BUDGET " " SLICE), 0);
	o = cJSON_Parse(out);
	assert_non_null(o);
	b = object(o, "node_b");
	assert_true(number(o, "chunk_ids") == 1); /* 512-token blocks: one id per chunk */
	assert_true(number(object(o, "node_a"), "requests") == 500);
	assert_true(number(b, "requests") == 500);
	assert_true(number(b, "l2_lookups") > 0);
	assert_true(number(b, "l2_hits") > 0);
	assert_true(number(b, "l2_unavailable") == 0);
	assert_true(number(b, "l2_partial") == 0);
	assert_true(number(o, "cross_node_hit_ratio") > 0);
	/* One id per chunk, nothing evicted: L1 or L2 finds exactly what one
	 * cache holding both parts finds. */
	assert_true(number(b, "best_tokens") == number(o, "local_replay_tokens"));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "matches_local_replay")));
	assert_true(number(b, "best_tokens") ==
		    number(b, "local_tokens") + number(b, "cross_node_tokens"));
	assert_true(number(b, "tokens_asked") > number(b, "best_tokens"));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(object(o, "redis"), "started")));
	assert_stopped(o, 1);
	cJSON_Delete(o);
}

/* A token trace: 40 requests over 4 shared prefixes of 100 tokens, each
 * with its own tail of 1 to 37 tokens. */
static const char *token_trace(void)
{
	static char buf[1 << 15];
	size_t n = 0;

	for (int r = 0; r < 40; r++) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{\"tokens\":[");
		for (int t = 0; t < 100; t++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%d,", 1000 * (r % 4) + t);
		for (int t = 0; t <= r % 37; t++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%d", t ? "," : "",
					      500000 + 100 * r + t);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "]}\n");
	}
	return scratch_file("shared.jsonl", buf, n);
}

static void test_tokens_chunks(void **state)
{
	char args[512];
	const char *trace = token_trace();
	cJSON *o;
	const cJSON *b;
	(void)state;

	/* One token per chunk: exact. */
	snprintf(args, sizeof args, "cluster demo --json --chunk 1 " BUDGET " '%s'", trace);
	assert_int_equal(pce(args), 0);
	o = cJSON_Parse(out);
	assert_non_null(o);
	b = object(o, "node_b");
	assert_true(number(o, "cross_node_hit_ratio") > 0);
	assert_true(number(b, "best_tokens") == number(o, "local_replay_tokens"));
	assert_stopped(o, 1);
	cJSON_Delete(o);

	/* 16 tokens per chunk: L2 reports whole chunks (96 of the 100 shared
	 * tokens), L1 whole cache blocks, so B's best can fall short of one
	 * cache's answer, by less than a chunk per request. */
	snprintf(args, sizeof args, "cluster demo --json --chunk 16 " BUDGET " '%s'", trace);
	assert_int_equal(pce(args), 0);
	o = cJSON_Parse(out);
	assert_non_null(o);
	b = object(o, "node_b");
	assert_true(number(o, "cross_node_hit_ratio") > 0);
	assert_true(number(b, "best_tokens") <= number(o, "local_replay_tokens"));
	assert_true(number(o, "local_replay_tokens") - number(b, "best_tokens") <
		    16 * number(b, "requests"));
	assert_stopped(o, 1);
	cJSON_Delete(o);
}

/* --redis: a server this test started; the demo leaves it running. */
static void test_given_redis(void **state)
{
	struct redis_server s = {0};
	char args[512], e[256];
	cJSON *o;
	(void)state;

	if (redis_server_start(&s, 0, NULL, e, sizeof e))
		fail_msg("%s", e);
	snprintf(args, sizeof args, "cluster demo --json --redis 127.0.0.1:%d " BUDGET " " SLICE,
		 s.port);
	assert_int_equal(pce(args), 0);
	o = cJSON_Parse(out);
	assert_non_null(o);
	assert_true(number(o, "cross_node_hit_ratio") > 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "matches_local_replay")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(object(o, "redis"), "started")));
	assert_true(number(object(o, "redis"), "port") == s.port);
	assert_stopped(o, 0);
	assert_true(redis_server_ping(s.port, 1000));
	cJSON_Delete(o);
	redis_server_stop(&s);
}

/* The helper's readiness check: a server already on the port answers PING
 * but is not the helper's child, so a start on that port fails (the child
 * cannot bind) instead of taking the foreign server for its own. */
static void test_foreign_server_not_trusted(void **state)
{
	struct redis_server s = {0}, t = {0};
	char e[256];
	(void)state;

	if (redis_server_start(&s, 0, NULL, e, sizeof e))
		fail_msg("%s", e);
	assert_int_equal(redis_server_start(&t, s.port, NULL, e, sizeof e), -1);
	assert_int_equal(t.pid, 0);
	assert_int_equal(t.dir[0], '\0');
	assert_true(redis_server_ping(s.port, 1000));
	redis_server_stop(&s);
	assert_false(redis_server_ping(s.port, 200));
}

static void test_usage(void **state)
{
	(void)state;
	assert_int_equal(pce("cluster demo --redis nowhere " SLICE " 2>/dev/null"), 2);
	assert_int_equal(pce("cluster demo --split 1 " SLICE " 2>/dev/null"), 2);
	assert_int_equal(pce("cluster demo 2>/dev/null"), 2);
	assert_int_equal(pce("cluster 2>/dev/null"), 2);
	assert_int_equal(pce("cluster demo --help"), 0);
	assert_non_null(strstr(out, "cross_node_hit_ratio"));
	/* A node without its secret refuses to start. */
	assert_int_equal(pce("cluster node --role store --redis 127.0.0.1:1 --chunk 1 "
			     "--key-prefix x " SLICE " 2>/dev/null"),
			 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mooncake_matches_local_replay),
		cmocka_unit_test(test_tokens_chunks),
		cmocka_unit_test(test_given_redis),
		cmocka_unit_test(test_foreign_server_not_trusted),
		cmocka_unit_test(test_usage),
	};

	return tool_test_main("cluster", tests, NELEM(tests));
}
