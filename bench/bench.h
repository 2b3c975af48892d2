/*
 * bench.h - what the experiments of pce_bench share: the preset, the
 * output channels, the workloads loaded into every index, and small
 * statistics and formatting helpers.
 *
 * Every experiment runs libpce and the baselines in the same process run,
 * interleaved repetition by repetition (rep 1: libpce, rwlock-trie,
 * block-hash; rep 2: ...), and reports medians over repetitions.  A ratio
 * to libpce is the median of the per-repetition ratios, so that drift of a
 * shared machine between repetitions cancels out.
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "jsonl.h"
#include "mirror.h"
#include "report.h"
#include "runner.h"
#include "workload.h"

#define MAX_REPS 15

struct preset {
	const char *name;
	double scale;          /* workload sizes (workload.h) */
	unsigned reps;         /* repetitions of every timed run, <= MAX_REPS */
	uint64_t run_ns;       /* one throughput run */
	uint64_t latency_ns;   /* one latency run */
	uint64_t evict_ns;     /* one eviction run */
	int mixed_everywhere;  /* read/write mixes on every workload and thread
	                        * count; else sysprompt and multiturn, 2 threads */
	int claude_code;       /* replay the Claude Code sessions too */
	double trace_share;    /* share of Mooncake replayed token by token */
};

struct suite {
	const struct preset *p;
	struct jsonl jl;
	struct report *rep;
	unsigned cpus;         /* threads are pinned round robin over them */
	double cpu_scaling;    /* machine_cpu_scaling() at the start */
	const char *svg_dir;   /* NULL: no plots */
	const char *svg_rel;   /* the plots' directory relative to the Markdown */
};

/* Contenders: the indexes of index_all[], then the memcmp control. */
#define MEMCMP_CTL INDEX_COUNT
#define CONTENDERS (INDEX_COUNT + 1)
const char *contender_name(int k);

/* A workload with its stored set loaded into every index of index_all[],
 * and the memcmp control of its query stream. */
struct wl_set {
	struct workload wl;
	struct bench_index *ix[INDEX_COUNT];
	struct writer_state ws[INDEX_COUNT];
	struct mirror mirror;
};

/* Is @name one of the workloads the goals are measured on (sysprompt,
 * multiturn)? */
int goal_workload(const char *name);
/* Median of @v[0..n) (sorts @v); NaN if n == 0. */
double median(double *v, unsigned n);
/* "548k", "1.07M", "12.3": three significant digits with a k/M/G suffix. */
const char *fmt_si(char *buf, size_t len, double v);

/* Thread counts of the throughput experiments (more than the machine's
 * CPUs shows oversubscription). */
#define THREAD_STEPS 3
extern const unsigned thread_steps[THREAD_STEPS];

/* exp_throughput.c */
void exp_load(struct suite *s, const struct workload *const *wls, size_t n);
void exp_lookup(struct suite *s, struct wl_set *const *sets, size_t n);
void exp_writer(struct suite *s, struct wl_set *const *sets, size_t n);
void exp_mixed(struct suite *s, struct wl_set *const *sets, size_t n);
/* exp_latency.c */
void exp_latency(struct suite *s, struct wl_set *const *sets, size_t n);
void exp_memcmp(struct suite *s, struct wl_set *const *sets, size_t n);
/* The busy-loop control: integer loops as long as the operations of @ops
 * (their distribution below p99), timed on a pinned thread for a latency
 * run's length, into @h.  Return: 0 or -1 (the thread could not start). */
int spin_control(const struct suite *s, const struct hist *ops, struct hist *h);
/* exp_memory.c */
void exp_memory(struct suite *s, struct wl_set *const *sets, size_t n);
/* exp_evict.c */
void exp_evict(struct suite *s, const struct workload *wl);
/* exp_engine.c: touch vs PCE_STORE_REPLACE, pce_cache_evict() per entry. */
void exp_engine(struct suite *s, const struct workload *wl);
/* exp_trace.c: the real traces under @dir (../shared/data/traces). */
void exp_trace(struct suite *s, const char *dir);
/* exp_router.c: the router index and its baselines on the real traces
 * under @dir. */
void exp_router(struct suite *s, const char *dir);
/* exp_skew.c: entries per shard for each of @wls; store throughput with 1
 * and 2 threads on wls[0] (skewed) and wls[1] (spread). */
void exp_skew(struct suite *s, const struct workload *const *wls, size_t n);
/* Shards of the caches whose entries per shard are shown: the default. */
#define BENCH_SHARDS 16
/* A table row and a JSON line of entries per shard: total, shards used,
 * largest share, the counts in decreasing order (sorts @counts). */
void shard_row(struct suite *s, struct table *t, const char *name, uint64_t *counts, int n);

#endif /* BENCH_BENCH_H */
