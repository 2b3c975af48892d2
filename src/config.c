/*
 * config.c - defaults and validation of struct pce_config.
 *
 * Every field is checked; an invalid config is refused with a sentence
 * naming the field, never repaired silently.  The budget fields are checked
 * by the one function pce_cache_set_budgets() uses too.
 */
#include <string.h>
#include <time.h>

#include "core.h"

uint64_t pce__clock_monotonic(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void pce_config_init(struct pce_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->shards = 16;
	cfg->min_prefix_len = 1;
	cfg->block_size = 1;
	cfg->max_pins = 4096;
	cfg->policy = PCE_POLICY_CLOCK_LRU;
	cfg->kv_mode = PCE_KV_DECLARED;
	cfg->high_watermark_pct = 90;
	cfg->low_watermark_pct = 80;
	cfg->reclaim_interval_ns = 10 * 1000 * 1000;
	cfg->background_reclaim = 1;
}

const char *pce__budgets_error(const struct pce_budgets *b)
{
	/* Any budget is valid (0: unlimited); only the watermarks can be wrong. */
	if (b->high_watermark_pct == 0 || b->high_watermark_pct > 100)
		return "high_watermark_pct must be in [1, 100]";
	if (b->low_watermark_pct == 0 || b->low_watermark_pct > b->high_watermark_pct)
		return "low_watermark_pct must be in [1, high_watermark_pct]";
	return NULL;
}

void pce__budgets_of(const struct pce_config *cfg, struct pce_budgets *b)
{
	b->kv_budget = cfg->kv_budget;
	b->index_budget = cfg->index_budget;
	b->max_entries = cfg->max_entries;
	b->high_watermark_pct = cfg->high_watermark_pct;
	b->low_watermark_pct = cfg->low_watermark_pct;
}

const char *pce_config_error(const struct pce_config *cfg)
{
	struct pce_budgets b;
	const char *err;

	if (!cfg)
		return "config is NULL";
	pce__budgets_of(cfg, &b);
	if (cfg->shards == 0 || cfg->shards > PCE_MAX_SHARDS || (cfg->shards & (cfg->shards - 1)))
		return "shards must be a power of two in [1, PCE_MAX_SHARDS]";
	if (cfg->min_prefix_len == 0)
		return "min_prefix_len must be at least 1";
	if (cfg->min_prefix_len > PCE_MAX_TOKENS)
		return "min_prefix_len must be at most PCE_MAX_TOKENS";
	if (cfg->block_size == 0 || cfg->block_size > PCE_MAX_TOKENS)
		return "block_size must be in [1, PCE_MAX_TOKENS]";
	if (cfg->max_pins == 0 || cfg->max_pins > PCE_MAX_PINS)
		return "max_pins must be in [1, PCE_MAX_PINS]";
	if (cfg->policy != PCE_POLICY_CLOCK_LRU && cfg->policy != PCE_POLICY_CLOCK_LFU)
		return "policy must be PCE_POLICY_CLOCK_LRU or PCE_POLICY_CLOCK_LFU";
	if (cfg->kv_mode == PCE_KV_DECLARED) {
		if (cfg->kv_bytes_per_token != 0)
			return "kv_bytes_per_token must be 0 in PCE_KV_DECLARED mode";
	} else if (cfg->kv_mode == PCE_KV_PER_TOKEN) {
		if (cfg->kv_bytes_per_token == 0)
			return "kv_bytes_per_token must be > 0 in PCE_KV_PER_TOKEN mode";
		if (cfg->kv_bytes_per_token > PCE_MAX_KV_PER_TOKEN)
			return "kv_bytes_per_token must be at most PCE_MAX_KV_PER_TOKEN";
	} else {
		return "kv_mode must be PCE_KV_DECLARED or PCE_KV_PER_TOKEN";
	}
	if ((err = pce__budgets_error(&b)) != NULL)
		return err;
	if (cfg->reclaim_interval_ns < 100 * 1000 || cfg->reclaim_interval_ns > 3600ULL * 1000000000u)
		return "reclaim_interval_ns must be in [100 us, 1 h]";
	if (cfg->background_reclaim != 0 && cfg->background_reclaim != 1)
		return "background_reclaim must be 0 or 1";
	return NULL;
}
