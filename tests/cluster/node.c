/*
 * node.c - test nodes: cache + tier on a test Redis (node.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "node.h"

static const char secret[] = "pce-test-cluster-secret-0123456789";

void node_config(struct pce_cluster_config *cfg, int port, uint32_t id)
{
	pce_cluster_config_init(cfg);
	cfg->port = (uint16_t)port;
	cfg->node_id = id;
	cfg->secret = secret;
	cfg->secret_len = sizeof(secret) - 1;
	cfg->chunk_tokens = CHUNK;
	cfg->budget_us = 2000000;
	cfg->io_timeout_ms = 1000;
	cfg->connect_timeout_ms = 500;
	cfg->backoff_min_ms = 5;
	cfg->backoff_max_ms = 50;
}

void node_open(struct node *n, const struct pce_cluster_config *cfg, int with_cache)
{
	memset(n, 0, sizeof(*n));
	assert_int_equal(pce_cluster_create(cfg, &n->tier), 0);
	if (!with_cache)
		return;
	struct pce_config cc;
	pce_config_init(&cc);
	cc.background_reclaim = 0;
	cc.on_event = pce_cluster_on_event;
	cc.event_ctx = n->tier;
	assert_int_equal(pce_cache_create(&cc, &n->cache), 0);
	assert_int_equal(pce_cluster_attach_cache(n->tier, n->cache), 0);
}

void node_start(struct node *n, int port, uint32_t id)
{
	struct pce_cluster_config cfg;

	node_config(&cfg, port, id);
	node_open(n, &cfg, 1);
}

void node_close(struct node *n)
{
	if (n->cache)
		assert_int_equal(pce_cache_destroy(n->cache), 0);
	pce_cluster_destroy(n->tier);
	memset(n, 0, sizeof(*n));
}

void node_store(struct node *n, const uint32_t *toks, size_t len)
{
	assert_int_equal(pce_cache_store(n->cache, 0, toks, len, 1, 0, NULL, NULL), 0);
}

void node_event(struct node *n, uint64_t id, const uint32_t *toks, size_t len)
{
	struct pce_event ev = {.kind = PCE_EVENT_STORED, .ns = 0, .len = len, .tokens = toks,
			       .id = id};
	pce_cluster_on_event(n->tier, &ev);
}

size_t node_depth_of(struct node *n, const uint32_t *toks, size_t len, uint32_t owner,
		     unsigned *flags)
{
	struct pce_overlap o[8];
	struct pce_cluster_result r;

	assert_int_equal(pce_cluster_lookup(n->tier, 0, toks, len, NULL, o, 8, &r), 0);
	if (flags)
		*flags = r.flags;
	for (size_t i = 0; i < r.n_owners; i++) {
		assert_int_equal(o[i].tier, PCE_TIER_REMOTE);
		if (i)
			assert_true(o[i - 1].tokens >= o[i].tokens);
		if (o[i].owner == owner)
			return o[i].tokens;
	}
	return 0;
}

void node_sync(struct node *n)
{
	assert_int_equal(pce_cluster_sync(n->tier, 10000), 0);
}

int redis_setup(void **state)
{
	struct redis_server *p = calloc(1, sizeof(*p));

	if (!p || redis_server_start(p, 0, NULL, NULL, 0)) {
		free(p);
		return -1;
	}
	*state = p;
	return 0;
}

int redis_teardown(void **state)
{
	struct redis_server *p = *state;

	redis_server_stop(p);
	free(p);
	return 0;
}

static redisReply *raw(redisContext *c, const char *fmt, va_list ap)
{
	redisReply *r = redisvCommand(c, fmt, ap);
	assert_non_null(r);
	if (r->type == REDIS_REPLY_ERROR)
		fprintf(stderr, "raw: %s\n", r->str);
	return r;
}

redisContext *redis_client(const struct redis_server *p)
{
	struct timeval tv = {1, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", p->port, tv);

	if (c && !c->err && redisSetTimeout(c, tv) == REDIS_OK)
		return c;
	if (c)
		redisFree(c);
	return NULL;
}

long long raw_int(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = raw(c, fmt, ap);
	va_end(ap);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	long long v = r->integer;
	freeReplyObject(r);
	return v;
}

void raw_ok(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = raw(c, fmt, ap);
	va_end(ap);
	assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
	freeReplyObject(r);
}

void chunk_key(struct node *n, const uint32_t *toks, size_t i, char *key, size_t keylen)
{
	struct pce_chunk_id ids[64];

	assert_true(i < 64);
	assert_int_equal(pce_cluster_chunk_ids(n->tier, 0, toks, i + 1, ids), 0);
	snprintf(key, keylen, "pce:{%016llx}:c:%016llx%016llx", 0ull,
		 (unsigned long long)ids[i].hi, (unsigned long long)ids[i].lo);
}

void seq(uint32_t *t, size_t n, uint32_t base)
{
	for (size_t i = 0; i < n; i++)
		t[i] = base + (uint32_t)i;
}

uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}
