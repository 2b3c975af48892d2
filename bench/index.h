/*
 * index.h - the one interface every prefix index of the benchmark suite
 * implements, so that libpce and the baselines run in the same harness, on
 * the same threads, the same queries and the same clock.
 *
 *   libpce        the library under test (index_pce.c)
 *   rwlock-trie   a compressed trie behind one pthread_rwlock (index_rwtrie.c)
 *   block-hash    vLLM-style chained 16-token block hashes, XXH3-128 keys, in
 *                 liburcu's rculfhash with RCU lookups (index_blockhash.c)
 *
 * Semantics shared by all three: lookup returns the length of the longest
 * cached prefix of the query (block-hash: rounded down to whole 16-token
 * blocks, the only granularity it can see) and a value standing for the KV
 * of that prefix.  Store adds one sequence, remove takes away one sequence
 * stored earlier.  Values are unique per live sequence.
 *
 * Threads: every call on an index is made from a thread that called
 * thread_enter() on it first and will call thread_leave() before it exits;
 * no thread calls into two indexes (block-hash registers its threads with
 * liburcu's memb flavour, which libpce also does on its own, and liburcu
 * forbids registering a thread twice).  The main thread only creates and
 * destroys indexes and is entered on none (libpce may have registered it:
 * pcetools' trace readers look up in a private libpce cache), so create
 * and destroy must not need an entered thread; index_run_on_thread() does
 * one-off work (loading, checks) on a fresh one.
 */
#ifndef BENCH_INDEX_H
#define BENCH_INDEX_H

#include <stddef.h>
#include <stdint.h>

struct bench_index;

/* What an index holds, by its own accounting (bytes it asked to allocate). */
struct index_usage {
	uint64_t bytes;   /* index memory */
	uint64_t entries; /* sequences stored (block-hash: blocks) */
	uint64_t tokens;  /* distinct cached tokens */
};

struct index_ops {
	const char *name;
	/* @size_hint: distinct tokens the index will about hold (block-hash
	 * sizes its table from it, as a user of rculfhash would). */
	int (*create)(uint64_t size_hint, struct bench_index **out);
	void (*destroy)(struct bench_index *ix);
	void (*thread_enter)(struct bench_index *ix);
	void (*thread_leave)(struct bench_index *ix);
	/* Matched tokens (0: miss); *value receives the match's value. */
	size_t (*lookup)(struct bench_index *ix, const uint32_t *tok, size_t n, uint64_t *value);
	/* 0 stored, 1 already stored, negative on error. */
	int (*store)(struct bench_index *ix, const uint32_t *tok, size_t n, uint64_t value);
	/* 0 removed, 1 not stored, negative on error. */
	int (*remove)(struct bench_index *ix, const uint32_t *tok, size_t n);
	/* Called from an entered thread, with no concurrent writer. */
	void (*usage)(struct bench_index *ix, struct index_usage *u);
};

extern const struct index_ops index_pce_ops;
extern const struct index_ops index_rwtrie_ops;
extern const struct index_ops index_blockhash_ops;

#define INDEX_COUNT 3
/* libpce first: every other result is reported as a ratio to it. */
extern const struct index_ops *const index_all[INDEX_COUNT];

/* Run @fn(@ix, @arg) on a new thread entered on @ix; returns when it did.
 * Return: 0, or -1 if the thread could not start. */
int index_run_on_thread(const struct index_ops *ops, struct bench_index *ix,
			void (*fn)(const struct index_ops *ops, struct bench_index *ix, void *arg),
			void *arg);

#endif /* BENCH_INDEX_H */
