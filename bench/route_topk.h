/*
 * route_topk.h - keeping the k deepest of a stream of (owner, blocks)
 * results, for the router baselines that score every worker.
 */
#ifndef BENCH_ROUTE_TOPK_H
#define BENCH_ROUTE_TOPK_H

#include <stddef.h>

#include "route.h"

/* Offer (@owner, @blocks) to @out[0..*n), kept deepest first, at most @k
 * long: insertion, O(k) per accepted result, O(1) per rejected one. */
static inline void route_topk_offer(struct route_hit *out, size_t *n, size_t k, uint32_t owner,
				    uint32_t blocks)
{
	size_t j;

	if (blocks == 0 || (*n == k && (k == 0 || out[k - 1].blocks >= blocks)))
		return;
	j = *n < k ? (*n)++ : k - 1;
	for (; j > 0 && out[j - 1].blocks < blocks; j--)
		out[j] = out[j - 1];
	out[j] = (struct route_hit){owner, blocks};
}

#endif /* BENCH_ROUTE_TOPK_H */
