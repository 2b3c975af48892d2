/*
 * workload.h - the synthetic workloads, generated deterministically from a
 * seed, and the token arrays they are made of.
 *
 *   sysprompt   48 system prompts of 500-2,000 tokens with Zipf(1)
 *               popularity, each entry one of them plus a user suffix of
 *               50-500 tokens.  80% of lookups continue a stored entry (its
 *               tokens plus 50-200 new ones), 20% put a new suffix on a
 *               known prompt.
 *   multiturn   conversations of 2-12 turns on 8 system prompts of 200-1,000
 *               tokens; turn k is turn k-1 plus 100-600 new tokens.  Turns
 *               1..T-1 are stored; a lookup is turn k >= 2 (it matches turn
 *               k-1 whole).
 *   unique      random sequences of 500-2,000 tokens sharing nothing, not
 *               even a first token.  Half the lookups repeat a stored
 *               sequence, half are new (misses).
 *   long        16 shared contexts of 6K-24K tokens (agents, RAG) with
 *               Zipf(1) popularity plus a tail of 500-4,000 tokens.  70% of
 *               lookups continue a stored entry by 100-1,000 tokens, 30% put
 *               a new tail on a known context.
 *
 * Token ids are uniform in [0, 128000) (a Llama-3-sized vocabulary).  Every
 * sequence but those of `unique` starts with the same 4-token chat-template
 * header, as real chat traffic does; `sysprompt-notemplate` is sysprompt
 * without it, for the writer-skew experiment.
 *
 * Writes use pools of sequences that are not in the stored set: pool p
 * belongs to the one thread that writes with it (WL_POOLS at most).
 */
#ifndef BENCH_WORKLOAD_H
#define BENCH_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"

#define WL_POOLS 8
/* Token ids are drawn from [0, WL_VOCAB) (see above). */
#define WL_VOCAB 128000u

struct seq {
	const uint32_t *tok;
	uint32_t len;
};

struct workload {
	const char *name;
	const char *about;      /* one line for the report */
	struct seq *stored;     /* the stored set, loaded before every run */
	size_t nstored;
	struct seq *queries;    /* lookups in stream order, popularity applied */
	size_t nqueries;
	struct seq *pool[WL_POOLS];
	size_t npool;           /* sequences per pool */
	uint64_t tokens;        /* tokens in the stored set (with repeats) */
	uint64_t distinct;      /* distinct tokens of the stored set (trie edges) */
	struct arena arena;
};

/* Names of the synthetic workloads, NULL-terminated. */
extern const char *const workload_names[];

/*
 * workload_make - Generate the workload @name at @scale (1.0 = the full
 * preset's sizes) from @seed.
 * Return: 0, -1 unknown name, -2 out of memory.
 */
int workload_make(const char *name, double scale, uint64_t seed, struct workload *w);

void workload_free(struct workload *w);

#endif /* BENCH_WORKLOAD_H */
