/*
 * route.h - the one interface every router index of the benchmark suite
 * implements: "which workers hold how much of this prompt", so that
 * libpce's router index and its baselines replay the same event streams
 * on the same threads and the same clock (exp_router.c).
 *
 *   libpce-router  pce_router (pce/router.h)                 route_pce.c
 *   pce-cache-ns   pce_cache, one namespace per worker, W lookups per
 *                  match                                      route_pcens.c
 *   dynamo-radix   a radix tree over chained block hashes with a reader-
 *                  writer lock and a worker set per node     route_dynamo.c
 *
 * Sequences arrive in whole blocks with their block hashes computed once,
 * before anything is timed, as an engine's KV events carry them: the
 * hash-keyed baseline is not charged for hashing, libpce compares tokens.
 *
 * Holdings are prefix-closed per worker: add() says a worker now also holds
 * blocks [from, to) of a sequence whose blocks [0, from) it held already;
 * remove() that it no longer holds blocks [from, to) of a sequence, and no
 * block of it beyond (an engine evicted them).  match() returns the k
 * workers with the most leading blocks of the query, longest first (ties in
 * any order).
 *
 * Threads: any thread may call any function concurrently, except create and
 * destroy; no set-up per thread.
 */
#ifndef BENCH_ROUTE_H
#define BENCH_ROUTE_H

#include <stddef.h>
#include <stdint.h>

struct route_index;

struct route_seq {
	uint64_t ns;
	const uint32_t *tok;   /* nblocks x block_size tokens */
	const uint64_t *local; /* per block: hash of its tokens (block 0: and ns) */
	const uint64_t *chain; /* per block: hash of the blocks up to it */
	uint32_t nblocks;
};

struct route_hit {
	uint32_t owner;
	uint32_t blocks;       /* leading blocks of the query it holds */
};

struct route_usage {
	uint64_t bytes;        /* everything the index allocated */
	uint64_t owner_bytes;  /* of which: what records owners (the whole index
	                        * where the index has no shared token store) */
};

struct route_ops {
	const char *name;
	/* Return: 0 or a negative error. */
	int (*create)(uint32_t workers, uint32_t block_size, struct route_index **out);
	void (*destroy)(struct route_index *ix);
	/* Return: results written to @out, at most @k; 0 on a miss. */
	size_t (*match)(struct route_index *ix, const struct route_seq *q, uint32_t nblocks,
			struct route_hit *out, size_t k);
	/* Return: 0 or a negative error. */
	int (*add)(struct route_index *ix, uint32_t owner, const struct route_seq *q,
		   uint32_t from, uint32_t to);
	int (*remove)(struct route_index *ix, uint32_t owner, const struct route_seq *q,
		      uint32_t from, uint32_t to);
	/* With no concurrent writer. */
	void (*usage)(struct route_index *ix, struct route_usage *u);
};

extern const struct route_ops route_pce_ops;
extern const struct route_ops route_pcens_ops;
extern const struct route_ops route_dynamo_ops;

#define ROUTE_COUNT 3
/* libpce's router first: every other result is reported as a ratio to it. */
extern const struct route_ops *const route_all[ROUTE_COUNT];

#endif /* BENCH_ROUTE_H */
