/*
 * util.c - helpers shared by the unit tests (see util.h).
 */
#include "util.h"

#include <stdio.h>
#include <string.h>

static uint64_t manual_clock(void *ctx)
{
	return ((struct tcache *)ctx)->now;
}

static void on_release(void *ctx, const struct pce_released *r)
{
	struct tcache *t = ctx;

	t->released++;
	t->released_by[r->reason]++;
	t->value_sum += r->value;
	t->last_value = r->value;
}

static void on_event(void *ctx, const struct pce_event *ev)
{
	((struct tcache *)ctx)->events[ev->kind]++;
}

void tcache_config(struct tcache *t, struct pce_config *cfg)
{
	memset(t, 0, sizeof(*t));
	t->now = 1000;
	pce_config_init(cfg);
	cfg->background_reclaim = 0;
	cfg->clock = manual_clock;
	cfg->clock_ctx = t;
	cfg->on_release = on_release;
	cfg->release_ctx = t;
	cfg->on_event = on_event;
	cfg->event_ctx = t;
}

void tcache_open(struct tcache *t, struct pce_config *cfg)
{
	assert_int_equal(pce_cache_create(cfg, &t->c), 0);
	assert_non_null(t->c);
}

void tcache_open_default(struct tcache *t)
{
	struct pce_config cfg;

	tcache_config(t, &cfg);
	tcache_open(t, &cfg);
}

void tcache_close(struct tcache *t)
{
	assert_audit(t->c);
	assert_int_equal(pce_cache_destroy(t->c), 0);
	t->c = NULL;
}

static void audit_with(struct pce_cache *c, unsigned flags)
{
	char msg[256];
	int rc = pce_cache_audit(c, flags, msg, sizeof(msg));

	if (rc)
		fprintf(stderr, "audit: %s\n", msg);
	assert_int_equal(rc, 0);
}

void assert_audit(struct pce_cache *c)
{
	audit_with(c, PCE_AUDIT_QUIESCENT);
}

void assert_audit_busy(struct pce_cache *c)
{
	audit_with(c, 0);
}

int put(struct pce_cache *c, const uint32_t *toks, size_t n, uint64_t value)
{
	return pce_cache_store(c, 0, toks, n, value, 0, NULL, NULL);
}

size_t match(struct pce_cache *c, const uint32_t *toks, size_t n, uint64_t *value)
{
	struct pce_match m;

	assert_int_equal(pce_cache_lookup(c, 0, toks, n, NULL, &m), 0);
	if (value)
		*value = m.value;
	return m.tokens;
}

struct pce_stats stats_of(struct pce_cache *c)
{
	struct pce_stats s;

	assert_int_equal(pce_cache_stats(c, &s), 0);
	return s;
}
