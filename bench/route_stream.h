/*
 * route_stream.h - the real traces as router event streams (exp_router.c,
 * router_count.c): Dynamo-style, each trace replayed over W workers with
 * spread placement.
 *
 * Each block id of a request becomes ROUTER_BLOCK pseudo-tokens
 * (trace_tokens.h; equal ids give equal runs), whole blocks only.  Request
 * i goes to worker i mod W (spread placement: under it every worker holds
 * the prompts' shared first block).  Per request the stream has a match of
 * the whole prompt, then the worker's add of the blocks it did not hold,
 * then the removes of what its cache evicted.  A worker's cache is a model,
 * not a pce_cache (7,000 of those would measure the model): a FIFO of the
 * prompts it served, at most a capacity of distinct blocks, evicting its
 * oldest prompts' blocks that no newer prompt of it shares (prefix-closed,
 * so they are a suffix of the evicted prompt: one remove of blocks [j, n)).
 * Streams are built before anything is timed; every index replays the same.
 */
#ifndef BENCH_ROUTE_STREAM_H
#define BENCH_ROUTE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "route.h"
#include "trace_tokens.h"

#define ROUTER_BLOCK 64       /* tokens per block id */
#define WORKER_CAPACITY 256   /* blocks per worker cache */

struct rtrace {
	const char *name;
	struct expanded e;
	struct route_seq *q;
	uint64_t *hashes;
	uint64_t blocks;
};

struct trace_src {
	const char *name;
	const char *path;
	int full_only;
};

/* The traces the router experiments replay, by name and path under the
 * traces directory; full_only: in the full preset only. */
#define RTRACE_SOURCES 2
extern const struct trace_src rtrace_sources[RTRACE_SOURCES];

/* Load @src from the traces directory @dir into @t.  Return: 0 or -1;
 * rtrace_free() in both cases. */
int rtrace_load_source(const char *dir, const struct trace_src *src, struct rtrace *t);
void rtrace_free(struct rtrace *t);

enum op_kind { OP_MATCH, OP_ADD, OP_REMOVE };

struct rop {
	uint32_t kind, owner, req, from, to;
};

struct rstream {
	uint32_t workers;
	struct rop *op;
	size_t n, cap;
	size_t *first;         /* per request: its first op; [nreq] = n */
	uint64_t add_blocks, remove_blocks;
	uint64_t holdings;     /* (owner, block) pairs held at the end */
};

/* The stream of @t over @workers workers whose caches hold @capacity
 * blocks; @drain: end with every holding removed.  Return: 0 or -1 (out of
 * memory); rstream_free() in both cases. */
int rstream_build(const struct rtrace *t, uint32_t workers, uint64_t capacity, int drain,
		  struct rstream *st);
void rstream_free(struct rstream *st);

/* Apply the add or remove @op to @ix.  Return: 0 or the index's error. */
int rstream_apply(const struct route_ops *ops, struct route_index *ix, const struct rtrace *t,
		  const struct rop *op);
/* Apply the events (not the matches) of ops [lo, hi).  Return: errors. */
int rstream_apply_events(const struct route_ops *ops, struct route_index *ix,
			 const struct rtrace *t, const struct rstream *st, size_t lo, size_t hi);

#endif /* BENCH_ROUTE_STREAM_H */
