/*
 * router_count.c - fixed amounts of the router index's work on the
 * Mooncake trace, for instruction counts under callgrind, which are
 * deterministic where timings on a shared machine are not:
 *
 *   count_matches  on the W = 256 index that the stream builds (the index of
 *                  pce_bench's match throughput run), N top-8 matches of the
 *                  requests in order, prompts cut to 1K tokens;
 *   count_events   the W = 256 stream's adds and removes, ending with every
 *                  holding removed, applied twice from one thread into a
 *                  fresh index (the writer-skew run's work: every add lands
 *                  in one shard).
 *
 * Usage: bench_router_count TRACES_DIR [N]   (N: matches, default 20000)
 *   valgrind --tool=callgrind --collect-atstart=no \
 *     --toggle-collect=count_matches --toggle-collect=count_events \
 *     build/bench/bench/bench_router_count TRACES_DIR
 *   callgrind_annotate --inclusive=yes callgrind.out.PID
 * Instructions per match: pce_router_match's inclusive count over its calls;
 * per block event: count_events' over the blocks printed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "route_stream.h"

#define W 256
#define K 8
#define MATCH_BLOCKS (1024 / ROUTER_BLOCK)

__attribute__((noinline)) size_t count_matches(struct route_index *ix, const struct rtrace *t,
					       size_t n);
__attribute__((noinline)) uint64_t count_events(struct route_index *ix, const struct rtrace *t,
						const struct rstream *st, int *errors);

/* Owners reported by @n matches of the requests of @t in order. */
size_t count_matches(struct route_index *ix, const struct rtrace *t, size_t n)
{
	struct route_hit hits[K];
	size_t owners = 0;

	for (size_t i = 0; i < n; i++) {
		const struct route_seq *q = &t->q[i % t->e.n];
		uint32_t nb = q->nblocks < MATCH_BLOCKS ? q->nblocks : MATCH_BLOCKS;

		owners += route_pce_ops.match(ix, q, nb, hits, K);
	}
	return owners;
}

/* Apply the events of @st; return the blocks they changed. */
uint64_t count_events(struct route_index *ix, const struct rtrace *t, const struct rstream *st,
		      int *errors)
{
	uint64_t blocks = 0;

	for (size_t i = 0; i < st->n; i++) {
		const struct rop *op = &st->op[i];

		if (op->kind == OP_MATCH)
			continue;
		*errors += rstream_apply(&route_pce_ops, ix, t, op) != 0;
		blocks += op->to - op->from;
	}
	return blocks;
}

int main(int argc, char **argv)
{
	struct rtrace t;
	struct rstream st;
	struct route_index *ix;
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 20000, owners;
	uint64_t blocks = 0;
	int errors = 0;

	if (argc < 2 || argc > 3 || n == 0) {
		fprintf(stderr, "usage: bench_router_count TRACES_DIR [MATCHES]\n");
		return 2;
	}
	if (rtrace_load_source(argv[1], &rtrace_sources[0], &t) != 0 ||
	    rstream_build(&t, W, WORKER_CAPACITY, 0, &st) != 0 ||
	    route_pce_ops.create(W, ROUTER_BLOCK, &ix) != 0)
		return 1;
	errors += rstream_apply_events(&route_pce_ops, ix, &t, &st, 0, st.n);
	owners = count_matches(ix, &t, n);
	route_pce_ops.destroy(ix);
	rstream_free(&st);
	if (rstream_build(&t, W, WORKER_CAPACITY, 1, &st) != 0 ||
	    route_pce_ops.create(W, ROUTER_BLOCK, &ix) != 0)
		return 1;
	for (int pass = 0; pass < 2; pass++)
		blocks += count_events(ix, &t, &st, &errors);
	route_pce_ops.destroy(ix);
	rstream_free(&st);
	rtrace_free(&t);
	printf("SUMMARY matches=%zu owners_reported=%zu block_events=%lu errors=%d\n", n, owners,
	       (unsigned long)blocks, errors);
	return errors != 0;
}
