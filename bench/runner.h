/*
 * runner.h - timed runs of one index on one workload from several threads.
 *
 * A run starts `threads` mixing threads and `writers` dedicated writer
 * threads, releases them together from a barrier, lets them work for the
 * run's duration and joins them.  Each thread measures its own elapsed time
 * and counts its own operations; throughputs are sums of per-thread rates.
 *
 *   mixing thread i   lookups of the query stream from offset i*n/threads,
 *                     each op being a write with probability write_permille;
 *                     writes use pool i
 *   writer j          writes only, as fast as it can, with pool threads+j
 *
 * A write (WRITE_PAIRS) stores the next sequence of its pool and, once half
 * the pool is stored, first removes the one stored npool/2 writes earlier:
 * the index stays the same size however long the run.  WRITE_RESTORE
 * instead stores the stored set over and over (writer p from its own
 * offset), never removing: under a budget, every write of an evicted
 * sequence makes the cache evict another.  The positions live in the
 * caller's writer_state (one per index), so successive runs on an index
 * continue where the last one stopped.
 *
 * With memcmp_ctl set (and ops NULL), the run measures the memcmp control
 * (mirror.h) instead of an index: each lookup becomes memcmp() of the
 * query's matched bytes with their copy; no writes.
 *
 * Threads are pinned round robin to the CPUs (pin_cpus > 0), mixing threads
 * first.  In a latency run (cfg.lat), each lookup is timed with the TSC and
 * recorded in the thread's histogram for its query-length class.
 */
#ifndef BENCH_RUNNER_H
#define BENCH_RUNNER_H

#include "hist.h"
#include "index.h"
#include "mirror.h"
#include "workload.h"

#define RUN_MAX_THREADS WL_POOLS
/* Query-length classes: <= 1K, 2K, 4K, 8K, 16K, 32K tokens, and more. */
#define LAT_CLASSES 7

struct writer_state {
	size_t next[WL_POOLS]; /* writes made with each pool */
};

enum write_mode {
	WRITE_PAIRS = 0,
	WRITE_RESTORE
};

struct run_cfg {
	const struct index_ops *ops;   /* NULL with memcmp_ctl */
	const struct mirror *memcmp_ctl;
	struct bench_index *ix;
	const struct workload *wl;
	struct writer_state *ws;
	unsigned threads;        /* mixing threads */
	unsigned write_permille; /* per op of a mixing thread */
	unsigned writers;        /* dedicated writers */
	enum write_mode write_mode;
	uint64_t duration_ns;
	/* Latency runs: receives the mixing threads' histograms merged, one
	 * per query-length class ([LAT_CLASSES], reset by the run); NULL: no
	 * timing of single lookups. */
	struct hist *lat;
	unsigned pin_cpus;       /* CPUs to pin to; 0: no pinning */
	/* Timed runs: the main thread calls monitor(monitor_ctx) every
	 * monitor_ns while the run lasts (NULL: it just sleeps). */
	void (*monitor)(void *ctx);
	void *monitor_ctx;
	uint64_t monitor_ns;
};

struct run_result {
	double lookups_per_s;    /* mixing threads */
	double writes_per_s;     /* mixing threads */
	double writer_ops_per_s; /* dedicated writers */
	uint64_t lookups, hits, matched_tokens, query_tokens;
	double mix_cpu_s;        /* CPU time the mixing threads got */
	double writer_cpu_s;     /* CPU time the dedicated writers got */
	double mix_wall_s;       /* the mixing threads' summed wall time */
	int errors;              /* index calls that failed */
};

/* Upper bound, in tokens, of latency class @c (0 for the last, unbounded). */
size_t lat_class_limit(unsigned c);

/* Return: 0, or -1 if a thread could not start (nothing measured). */
int run_timed(const struct run_cfg *cfg, struct run_result *res);

/* Store @wl's whole stored set (a struct workload *) into @ix, sequence i
 * with value i, from the calling thread: an index_run_on_thread() job. */
void load_all(const struct index_ops *ops, struct bench_index *ix, void *wl);

/* Store @wl's whole stored set from @threads threads (sequence i by thread
 * i % threads) into a fresh index of @ops, timed, and destroy it.  The same
 * threads first load another fresh index and destroy it, untimed, so that
 * the timed load allocates from memory the threads' allocator already
 * holds, whatever ran before.  Return: 0 or -1 (the rates untouched). */
int run_load(const struct index_ops *ops, const struct workload *wl, unsigned threads,
	     unsigned pin_cpus, double *stores_per_s, double *tokens_per_s);

/* Run @fn(@arg) on a new thread and wait for it: work that must not
 * register the calling thread with liburcu (index.h).  Return: 0 or -1. */
int run_on_thread(void (*fn)(void *arg), void *arg);

/* Pin the calling thread to the (@slot mod @ncpus)-th CPU it may use. */
void runner_pin_self(unsigned slot, unsigned ncpus);

/* CPU time of the calling thread, ns. */
uint64_t runner_thread_cpu_ns(void);

/* Number of CPUs this process may run on. */
unsigned runner_cpus(void);

#endif /* BENCH_RUNNER_H */
