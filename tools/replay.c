/*
 * replay.c - a libpce cache set up for deterministic trace replay (see
 * replay.h).
 *
 * Why each setting:
 *   kv_mode PCE_KV_PER_TOKEN, kv_bytes_per_token 1, kv_budget = capacity:
 *       the budget then counts distinct cached ids, the unit engines size
 *       their KV pool in (vLLM, SGLang count pages, not requests).  With
 *       max_entries it would count requests, whatever their length.
 *   shards 1: synchronous eviction starts in the storing shard; with one
 *       shard every eviction follows one global CLOCK hand, as a single
 *       engine's cache would, instead of favouring whichever shard stores.
 *   background_reclaim 0: no thread, no timing: the same input gives the
 *       same evictions on every run and machine.
 *   watermarks 100/100: a reclaim pass never evicts below the budget, so
 *       pce_cache_reclaim() here only frees retired memory.
 * Retired nodes (edge splits, evictions) wait for a grace period; a reclaim
 * pass every RECLAIM_EVERY requests frees them, so memory stays that of the
 * live trie.
 */
#include <stdio.h>
#include <string.h>

#include "replay.h"

#define RECLAIM_EVERY 1024

int pce_replay_init(struct pce_replay *rp, uint64_t capacity, enum pce_policy policy,
		    pce_event_fn on_event, void *event_ctx)
{
	struct pce_config cfg;

	memset(rp, 0, sizeof(*rp));
	pce_config_init(&cfg);
	cfg.shards = 1;
	cfg.max_pins = 1;
	cfg.background_reclaim = 0;
	cfg.high_watermark_pct = 100;
	cfg.low_watermark_pct = 100;
	cfg.policy = policy;
	cfg.kv_mode = PCE_KV_PER_TOKEN;
	cfg.kv_bytes_per_token = 1;
	cfg.kv_budget = capacity;
	cfg.on_event = on_event;
	cfg.event_ctx = event_ctx;
	return pce_cache_create(&cfg, &rp->cache);
}

int pce_replay_request(struct pce_replay *rp, const struct pce_trace_request *r,
		       struct pce_replay_hit *hit)
{
	struct pce_store_result res;
	struct pce_match m;
	int rc;

	memset(hit, 0, sizeof(*hit));
	if (r->len == 0)
		return 0;
	rc = pce_cache_lookup(rp->cache, r->ns, r->ids, r->len, NULL, &m);
	if (rc)
		return rc;
	hit->ids = m.tokens;
	hit->tokens = pce_trace_tokens_for(r, m.tokens);
	hit->source = m.value;
	rc = pce_cache_store(rp->cache, r->ns, r->ids, r->len, r->index, 0, NULL, &res);
	if (rc == PCE_EEXIST) {
		hit->duplicate = 1;
		rc = 0;
	} else if (rc == PCE_ENOSPC) {
		rp->refused++;
		rc = 0;
	}
	if (++rp->replayed == RECLAIM_EVERY) {
		rp->replayed = 0;
		pce_cache_reclaim(rp->cache);
	}
	return rc;
}

void pce_replay_count(struct pce_replay_counts *c, const struct pce_trace_request *r,
		      const struct pce_replay_hit *hit)
{
	c->requests++;
	c->tokens += r->tokens;
	c->hit_tokens += hit->tokens;
	c->ids += r->len;
	c->hit_ids += hit->ids;
}

uint64_t pce_replay_window_start(uint64_t n, double warmup_fraction)
{
	uint64_t w = (uint64_t)(warmup_fraction * (double)n);

	return w < n ? w : n;
}

double pce_replay_token_ratio(const struct pce_replay_counts *c)
{
	return c->tokens ? (double)c->hit_tokens / (double)c->tokens : 0;
}

double pce_replay_id_ratio(const struct pce_replay_counts *c)
{
	return c->ids ? (double)c->hit_ids / (double)c->ids : 0;
}

int pce_replay_fail(char *err, size_t n, int rc, const char *what)
{
	snprintf(err, n, "%s: %s", what, pce_strerror(rc));
	return rc == PCE_ENOMEM ? PCE_TRACE_ENOMEM : PCE_TRACE_ECACHE;
}

void pce_replay_destroy(struct pce_replay *rp)
{
	pce_cache_destroy(rp->cache);
	rp->cache = NULL;
}
