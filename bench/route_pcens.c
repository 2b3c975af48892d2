/*
 * route_pcens.c - baseline: what libpce offered a gateway before its
 * router index.  One pce_cache, one namespace per worker (the worker's
 * holdings stored as entries of its namespace); a match looks the query up
 * in every worker's namespace: W wait-free walks per request.
 *
 *   add     stores the sequence's first `to` blocks in the worker's
 *           namespace (its shorter prefixes match through it)
 *   remove  pce_cache_remove_prefix() of the first `from + 1` blocks: the
 *           entries that hold the evicted block go, the shorter prefix
 *           stays held by the worker's other entries
 */
#include <stdlib.h>

#include <pce/pce.h>

#include "route.h"
#include "route_topk.h"
#include "rng.h"

struct route_index {
	struct pce_cache *cache;
	uint32_t workers, block_size;
};

/* The namespace of worker @owner for the query namespace @ns. */
static uint64_t worker_ns(uint64_t ns, uint32_t owner)
{
	uint64_t x = ns ^ (uint64_t)owner << 32;

	return splitmix64(&x);
}

static int create(uint32_t workers, uint32_t block_size, struct route_index **out)
{
	struct route_index *ix = malloc(sizeof(*ix));
	struct pce_config cfg;
	int rc;

	if (!ix)
		return PCE_ENOMEM;
	pce_config_init(&cfg);
	rc = pce_cache_create(&cfg, &ix->cache);
	if (rc) {
		free(ix);
		return rc;
	}
	ix->workers = workers;
	ix->block_size = block_size;
	*out = ix;
	return 0;
}

static void destroy(struct route_index *ix)
{
	pce_cache_destroy(ix->cache);
	free(ix);
}

static size_t match(struct route_index *ix, const struct route_seq *q, uint32_t nblocks,
		    struct route_hit *out, size_t k)
{
	size_t n = 0, len = (size_t)nblocks * ix->block_size;

	for (uint32_t w = 0; w < ix->workers; w++) {
		struct pce_match m;

		if (pce_cache_lookup(ix->cache, worker_ns(q->ns, w), q->tok, len, NULL, &m) == 0)
			route_topk_offer(out, &n, k, w, (uint32_t)(m.tokens / ix->block_size));
	}
	return n;
}

static int add(struct route_index *ix, uint32_t owner, const struct route_seq *q, uint32_t from,
	       uint32_t to)
{
	int rc;

	(void)from;
	rc = pce_cache_store(ix->cache, worker_ns(q->ns, owner), q->tok,
			     (size_t)to * ix->block_size, owner, 0, NULL, NULL);
	return rc == PCE_EEXIST ? 0 : rc;
}

static int remove_blocks(struct route_index *ix, uint32_t owner, const struct route_seq *q,
			 uint32_t from, uint32_t to)
{
	(void)to;
	return pce_cache_remove_prefix(ix->cache, worker_ns(q->ns, owner), q->tok,
				       (size_t)(from + 1) * ix->block_size, NULL);
}

static void usage(struct route_index *ix, struct route_usage *u)
{
	struct pce_stats st;

	pce_cache_stats(ix->cache, &st);
	u->bytes = st.index_bytes;
	u->owner_bytes = st.index_bytes;
}

const struct route_ops route_pcens_ops = {
	.name = "pce-cache-ns",
	.create = create,
	.destroy = destroy,
	.match = match,
	.add = add,
	.remove = remove_blocks,
	.usage = usage,
};
