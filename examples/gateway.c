/* gateway.c - the README's router example: a gateway in front of engine
 * workers records which worker holds which prompt blocks (from the engines'
 * KV events), then routes a request to the worker holding most of it. */
#include <pce/pce.h>
#include <stdio.h>

int main(void)
{
	struct pce_router_config cfg;
	struct pce_router *router;
	pce_router_config_init(&cfg); /* tier weights: GPU 1.0, CPU 0.8 */
	cfg.block_size = 4;           /* the engines' KV block, in tokens */
	if (pce_router_create(&cfg, &router) != 0)
		return 1;

	/* KV events: worker 3 cached the whole system prompt + question on
	 * GPU, worker 5 the system prompt on CPU, worker 9 evicted its copy. */
	const uint32_t sys[] = {128000, 882, 271, 3923, 374, 279, 6864, 315};
	const uint32_t chat[] = {128000, 882, 271, 3923, 374, 279, 6864, 315, 9822, 30, 11, 7};
	pce_router_add(router, /*owner=*/3, /*ns=*/0, chat, 12, PCE_TIER_GPU, NULL, NULL);
	pce_router_add(router, 5, 0, sys, 8, PCE_TIER_CPU, NULL, NULL);
	pce_router_add(router, 9, 0, sys, 8, PCE_TIER_GPU, NULL, NULL);
	pce_router_remove(router, 9, 0, sys, 4); /* from its first block on */

	/* A request arrives: who holds most of it?  One wait-free walk. */
	const uint32_t req[] = {128000, 882, 271, 3923, 374, 279, 6864, 315, 9822, 30, 11, 7, 42};
	struct pce_overlap best[4];
	size_t n, left;
	if (pce_router_match(router, 0, req, 13, 0, best, 4, &n, &left) == 0 && n > 0)
		for (size_t i = 0; i < n; i++)
			printf("worker %u holds %zu tokens (tier %u, score %.1f)\n",
			       best[i].owner, best[i].tokens, best[i].tier, best[i].score);
	pce_router_destroy(router);
	return n == 2 && best[0].owner == 3 ? 0 : 1;
}
