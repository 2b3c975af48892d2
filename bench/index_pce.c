/*
 * index_pce.c - libpce behind the benchmark index interface (index.h).
 *
 * A thin shim: one call into the public API per operation, namespace 0,
 * default lookup options (no pin).  libpce registers each calling thread with
 * liburcu itself, so thread_enter/leave have nothing to do.
 */
#include "index_pce.h"

#include <stdlib.h>

struct bench_index {
	struct pce_cache *cache;
};

int index_pce_create_cfg(const struct pce_config *cfg, struct bench_index **out)
{
	struct bench_index *ix = malloc(sizeof(*ix));
	int rc;

	if (!ix)
		return PCE_ENOMEM;
	rc = pce_cache_create(cfg, &ix->cache);
	if (rc) {
		free(ix);
		return rc;
	}
	*out = ix;
	return 0;
}

struct pce_cache *index_pce_cache(struct bench_index *ix)
{
	return ix->cache;
}

static int create(uint64_t size_hint, struct bench_index **out)
{
	struct pce_config cfg;

	(void)size_hint;
	pce_config_init(&cfg);
	return index_pce_create_cfg(&cfg, out);
}

static void destroy(struct bench_index *ix)
{
	pce_cache_destroy(ix->cache);
	free(ix);
}

static void thread_nop(struct bench_index *ix)
{
	(void)ix;
}

static size_t lookup(struct bench_index *ix, const uint32_t *tok, size_t n, uint64_t *value)
{
	struct pce_match m;

	if (pce_cache_lookup(ix->cache, 0, tok, n, NULL, &m) != 0)
		return 0;
	*value = m.value;
	return m.tokens;
}

static int store(struct bench_index *ix, const uint32_t *tok, size_t n, uint64_t value)
{
	int rc = pce_cache_store(ix->cache, 0, tok, n, value, n * (uint64_t)BENCH_KV_BYTES_PER_TOKEN,
				 NULL, NULL);

	return rc == PCE_EEXIST ? 1 : rc;
}

static int remove_seq(struct bench_index *ix, const uint32_t *tok, size_t n)
{
	int rc = pce_cache_remove(ix->cache, 0, tok, n, NULL);

	return rc == PCE_ENOENT ? 1 : rc;
}

static void usage(struct bench_index *ix, struct index_usage *u)
{
	struct pce_stats st;

	pce_cache_stats(ix->cache, &st);
	u->bytes = st.index_bytes;
	u->entries = st.entries;
	u->tokens = st.tokens;
}

const struct index_ops index_pce_ops = {
	.name = "libpce",
	.create = create,
	.destroy = destroy,
	.thread_enter = thread_nop,
	.thread_leave = thread_nop,
	.lookup = lookup,
	.store = store,
	.remove = remove_seq,
	.usage = usage,
};
