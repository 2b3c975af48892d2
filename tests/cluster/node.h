/*
 * node.h - one "node" of the cluster tests: a cache (L1) wired to a tier
 * (L2) on a test Redis, plus raw-Redis helpers the tests check with.
 */
#ifndef PCE_TEST_CLUSTER_NODE_H
#define PCE_TEST_CLUSTER_NODE_H

#include <stdint.h>

#include <hiredis/hiredis.h>
#include <pce/cluster.h>

#include "redis_server.h"

/* Chunk size of the tests: small, so entries are short. */
#define CHUNK 4u

struct node {
	struct pce_cluster *tier;
	struct pce_cache *cache; /* NULL for a tier fed by hand (node_event) */
};

/* The tests' tier config: @port, @id, CHUNK tokens, a generous budget
 * (sanitizer builds are slow; bounds are asserted, not speed). */
void node_config(struct pce_cluster_config *cfg, int port, uint32_t id);
/* Creates a tier from @cfg and, if @with_cache, a cache wired to it. */
void node_open(struct node *n, const struct pce_cluster_config *cfg, int with_cache);
/* node_config() + node_open() with a cache: the usual node. */
void node_start(struct node *n, int port, uint32_t id);
void node_close(struct node *n);
/* Stores @toks in namespace 0 of the node's cache. */
void node_store(struct node *n, const uint32_t *toks, size_t len);
/* A STORED event straight into the tier, as a cache would send (no cache). */
void node_event(struct node *n, uint64_t id, const uint32_t *toks, size_t len);
/* Tiered lookup in namespace 0; returns the depth (tokens) L2 gives
 * @owner, 0 if absent; @flags receives the result's flags. */
size_t node_depth_of(struct node *n, const uint32_t *toks, size_t len, uint32_t owner,
		     unsigned *flags);
/* Asserts pce_cluster_sync() within 10 s. */
void node_sync(struct node *n);

/* cmocka setup/teardown: one redis-server on a free port in *state. */
int redis_setup(void **state);
int redis_teardown(void **state);

/* Raw helpers on the server. */
/* A plain hiredis connection to @p (1 s timeouts); NULL on error. */
redisContext *redis_client(const struct redis_server *p);
long long raw_int(redisContext *c, const char *fmt, ...);
void raw_ok(redisContext *c, const char *fmt, ...);
/* The key of chunk @i (0-based) of @toks in namespace 0. */
void chunk_key(struct node *n, const uint32_t *toks, size_t i, char *key, size_t keylen);
/* t[i] = base + i. */
void seq(uint32_t *t, size_t n, uint32_t base);
uint64_t now_us(void);
void sleep_ms(long ms);

#endif
