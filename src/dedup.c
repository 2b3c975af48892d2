/*
 * dedup.c - batch dedup analysis: how much of a batch is already cached,
 * how much repeats an earlier sequence of the same batch, how much is new.
 *
 * The batch side is a private single-shard cache with no reclaim thread and
 * no budget: each sequence is looked up in it, then stored.  The user's
 * cache is only read with PCE_LOOKUP_PEEK, which changes nothing.
 */
#include <string.h>

#include "core.h"

int pce_dedup_analyze(struct pce_cache *cache, const struct pce_seq *seqs, size_t n,
		      struct pce_dedup *out)
{
	const struct pce_lookup_opts peek = {PCE_LOOKUP_PEEK, 0};
	struct pce_config cfg;
	struct pce_cache *batch;
	int rc;

	if (!out)
		return PCE_EINVAL;
	memset(out, 0, sizeof(*out));
	if (cache && pce_cache_inherited(cache))
		return PCE_EFORKED;
	if (!seqs && n)
		return PCE_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!seqs[i].tokens && seqs[i].len)
			return PCE_EINVAL;
		if (seqs[i].len > PCE_MAX_TOKENS)
			return PCE_E2BIG;
	}
	pce_config_init(&cfg);
	cfg.shards = 1;
	cfg.max_pins = 1;
	cfg.background_reclaim = 0;
	if (cache) {
		cfg.block_size = cache->cfg.block_size;
		cfg.min_prefix_len = cache->cfg.min_prefix_len;
	}
	rc = pce_cache_create(&cfg, &batch);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct pce_seq *q = &seqs[i];
		struct pce_match in_cache = {0}, in_batch = {0};

		if (cache)
			pce_cache_lookup(cache, q->ns, q->tokens, q->len, &peek, &in_cache);
		pce_cache_lookup(batch, q->ns, q->tokens, q->len, &peek, &in_batch);
		out->sequences++;
		out->total_tokens += q->len;
		out->cached_tokens += in_cache.tokens;
		if (in_batch.tokens > in_cache.tokens)
			out->shared_tokens += in_batch.tokens - in_cache.tokens;
		if (q->len) {
			rc = pce_cache_store(batch, q->ns, q->tokens, q->len, i, 0, NULL, NULL);
			if (rc == PCE_EEXIST || rc == PCE_ESHORT)
				rc = 0; /* a repeat, or too short to ever match */
		}
	}
	pce_cache_destroy(batch);
	if (rc) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	out->unique_tokens = out->total_tokens - out->cached_tokens - out->shared_tokens;
	if (out->total_tokens)
		out->dedup_ratio = (double)(out->cached_tokens + out->shared_tokens) /
				   (double)out->total_tokens;
	return 0;
}
