/*
 * util.h - helpers shared by the unit tests: a cache with a manual clock, a
 * recorder of released values, and an audit that fails the test.
 */
#ifndef PCE_TEST_UTIL_H
#define PCE_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pce/pce.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Everything a test observes about one cache. */
struct tcache {
	struct pce_cache *c;
	uint64_t now;             /* the cache's clock, in ns */
	uint64_t released;        /* on_release calls */
	uint64_t released_by[PCE_REASON_COUNT];
	uint64_t value_sum;       /* sum of released values */
	uint64_t last_value;
	uint64_t events[2];       /* on_event calls by kind */
};

/* Fills @cfg with defaults for tests: manual clock, no reclaim thread. */
void tcache_config(struct tcache *t, struct pce_config *cfg);
/* Creates t->c from @cfg (asserting success). */
void tcache_open(struct tcache *t, struct pce_config *cfg);
/* Default config + open. */
void tcache_open_default(struct tcache *t);
/* Destroys t->c (asserting success). */
void tcache_close(struct tcache *t);

/* Asserts that pce_cache_audit() passes, printing its message if not:
 * quiescent (pin counts exact), or while other threads use the cache. */
void assert_audit(struct pce_cache *c);
void assert_audit_busy(struct pce_cache *c);

/* Store/lookup shorthands (namespace 0 unless given). */
int put(struct pce_cache *c, const uint32_t *toks, size_t n, uint64_t value);
size_t match(struct pce_cache *c, const uint32_t *toks, size_t n, uint64_t *value);

struct pce_stats stats_of(struct pce_cache *c);

#endif
