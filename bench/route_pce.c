/*
 * route_pce.c - libpce's router index (pce/router.h) behind the benchmark
 * router interface (route.h): default configuration with the benchmark's
 * block size, no budget, no TTL; one call into the public API per
 * operation.  Matches report their owners' blocks; scores are not used.
 */
#include <stdlib.h>

#include <pce/router.h>

#include "route.h"

struct route_index {
	struct pce_router *r;
	uint32_t block_size;
};

/* The results of one match of the calling thread. */
#define MAX_K 64
static _Thread_local struct pce_overlap t_out[MAX_K];

static int create(uint32_t workers, uint32_t block_size, struct route_index **out)
{
	struct route_index *ix = malloc(sizeof(*ix));
	struct pce_router_config cfg;
	int rc;

	(void)workers;
	if (!ix)
		return PCE_ENOMEM;
	pce_router_config_init(&cfg);
	cfg.block_size = block_size;
	rc = pce_router_create(&cfg, &ix->r);
	if (rc) {
		free(ix);
		return rc;
	}
	ix->block_size = block_size;
	*out = ix;
	return 0;
}

static void destroy(struct route_index *ix)
{
	pce_router_destroy(ix->r);
	free(ix);
}

static size_t match(struct route_index *ix, const struct route_seq *q, uint32_t nblocks,
		    struct route_hit *out, size_t k)
{
	size_t n = 0;

	if (k > MAX_K)
		k = MAX_K;
	if (pce_router_match(ix->r, q->ns, q->tok, (size_t)nblocks * ix->block_size, 0, t_out, k,
			     &n, NULL) != 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		out[i] = (struct route_hit){t_out[i].owner,
					    (uint32_t)(t_out[i].tokens / ix->block_size)};
	return n;
}

static int add(struct route_index *ix, uint32_t owner, const struct route_seq *q, uint32_t from,
	       uint32_t to)
{
	(void)from;
	return pce_router_add(ix->r, owner, q->ns, q->tok, (size_t)to * ix->block_size,
			      PCE_TIER_GPU, NULL, NULL);
}

static int remove_blocks(struct route_index *ix, uint32_t owner, const struct route_seq *q,
			 uint32_t from, uint32_t to)
{
	(void)to;
	return pce_router_remove(ix->r, owner, q->ns, q->tok, (size_t)(from + 1) * ix->block_size);
}

static void usage(struct route_index *ix, struct route_usage *u)
{
	struct pce_router_stats st;

	pce_router_stats_get(ix->r, &st);
	u->bytes = st.index_bytes;
	u->owner_bytes = st.owner_bytes;
}

const struct route_ops route_pce_ops = {
	.name = "libpce-router",
	.create = create,
	.destroy = destroy,
	.match = match,
	.add = add,
	.remove = remove_blocks,
	.usage = usage,
};

