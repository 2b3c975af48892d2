/*
 * shard_contention.c - what a writer in the same shard costs a lookup.
 *
 * One pinned thread looks up a short stored sequence, so that a lookup is
 * little more than its fixed path (shard, namespace root, one node), first
 * alone and then while a thread pinned to another CPU stores and removes
 * other sequences of the same shard as fast as it can.  Any cache line the
 * lookup reads and the writer writes shows up here as time per lookup; in
 * pce_bench's long workloads it is lost in the walk.  This is the
 * measurement behind struct pce_shard keeping `roots` off the lock's line.
 *
 * Usage: bench_shard_contention [REPETITIONS]   (default 5; medians)
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "pce/pce.h"
#include "timing.h"

#define LOOKUPS 20000000
#define MAX_REPS 15

static struct pce_cache *cache;
static int stop;

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *writer_main(void *arg)
{
	uint64_t *ops = arg;

	pin(1);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint32_t q[2] = {7, (uint32_t)(*ops % 1000)};

		if (pce_cache_store(cache, 0, q, 2, *ops, 1, NULL, NULL) != 0 ||
		    pce_cache_remove(cache, 0, q, 2, NULL) != 0)
			break;
		++*ops;
	}
	return NULL;
}

/* ns per lookup; with @writer, its store+remove pairs per second into
 * *@rate.  Negative if a call failed. */
static double run(int writer, double *rate)
{
	const uint32_t q[4] = {5, 6, 7, 8};
	struct pce_match m;
	uint64_t ops = 0, t0, t1;
	pthread_t th;

	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	if (writer && pthread_create(&th, NULL, writer_main, &ops) != 0)
		return -1;
	t0 = now_ns();
	for (int i = 0; i < LOOKUPS; i++)
		if (pce_cache_lookup(cache, 0, q, 4, NULL, &m) != 0 || m.tokens != 4)
			break;
	t1 = now_ns();
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	if (writer) {
		pthread_join(th, NULL);
		*rate = (double)ops / ((double)(t1 - t0) / 1e9);
	}
	return m.tokens == 4 ? (double)(t1 - t0) / LOOKUPS : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	const uint32_t q[4] = {5, 6, 7, 8};
	double alone[MAX_REPS], busy[MAX_REPS], rate[MAX_REPS];
	int reps = argc > 1 ? atoi(argv[1]) : 5;
	struct pce_config cfg;

	if (reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "usage: bench_shard_contention [REPETITIONS 1..%d]\n", MAX_REPS);
		return 2;
	}
	pce_config_init(&cfg);
	cfg.shards = 1; /* the writer's sequences share the lookup's shard */
	if (pce_cache_create(&cfg, &cache) != 0 ||
	    pce_cache_store(cache, 0, q, 4, 1, 1, NULL, NULL) != 0) {
		fprintf(stderr, "bench_shard_contention: cannot set up the cache\n");
		return 1;
	}
	pin(0);
	for (int r = 0; r < reps; r++) { /* interleaved, so drift hits both */
		alone[r] = run(0, NULL);
		busy[r] = run(1, &rate[r]);
		if (alone[r] < 0 || busy[r] < 0) {
			fprintf(stderr, "bench_shard_contention: a libpce call failed\n");
			return 1;
		}
	}
	printf("lookup of 4 tokens, 1 shard, medians of %d runs of %d lookups\n", reps,
	       LOOKUPS);
	printf("  alone                 %6.1f ns per lookup\n", median(alone, reps));
	printf("  beside a writer       %6.1f ns per lookup, writer %.2fM store+remove/s\n",
	       median(busy, reps), median(rate, reps) / 1e6);
	return pce_cache_destroy(cache) == 0 ? 0 : 1;
}
