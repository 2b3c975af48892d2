/*
 * rcu_flavour.c - liburcu's memb and bulletproof (bp) flavours, side by
 * side, on the two costs libpce pays: the read-side section every lookup
 * opens, and the grace period every reclaim pass waits for.
 *
 * Read side: each thread opens a section, loads a published pointer with
 * acquire (as pce_rcu_deref() does) and closes the section, in a loop;
 * 1 thread, then 2 threads pinned to CPUs 0 and 1.  Reported as ns per
 * section (per thread) and sections per second (all threads).
 * Grace period: one thread calls synchronize_rcu in a loop, alone and while
 * 2 reader threads loop as above; reported as us per grace period.
 *
 * Both flavours are called through liburcu's shared libraries, as libpce
 * calls them (no _LGPL_SOURCE).  Each flavour registers its readers its own
 * way: memb by hand, bp on the first read_lock.  This is the measurement
 * behind libpce's choice of flavour (docs/build.md, "liburcu flavour").
 *
 * Usage: bench_rcu_flavour [REPETITIONS]   (default 5; medians)
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include <urcu/urcu-bp.h>
#include <urcu/urcu-memb.h>

#include "timing.h"

#define SECTIONS 20000000
#define GRACE_PERIODS 2000
#define MAX_REPS 15

struct flavour {
	const char *name;
	void (*reg)(void);
	void (*unreg)(void);
	void (*lock)(void);
	void (*unlock)(void);
	void (*sync)(void);
};

static void memb_unreg(void)
{
	urcu_memb_unregister_thread();
}

static void bp_unreg(void)
{
	urcu_bp_unregister_thread();
}

static const struct flavour flavours[] = {
	{"memb", urcu_memb_register_thread, memb_unreg, urcu_memb_read_lock,
	 urcu_memb_read_unlock, urcu_memb_synchronize_rcu},
	{"bp", urcu_bp_register_thread, bp_unreg, urcu_bp_read_lock, urcu_bp_read_unlock,
	 urcu_bp_synchronize_rcu},
};

static int published = 42;
static int *gp = &published;
static int stop;
static pthread_barrier_t start;

struct reader {
	const struct flavour *f;
	int cpu;
	long sections; /* 0: until stop */
	double ns;     /* per section */
	long sum;
};

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t t0, t1;
	long i, sum = 0;

	pin(r->cpu);
	r->f->reg();
	pthread_barrier_wait(&start);
	t0 = now_ns();
	for (i = 0; r->sections ? i < r->sections : !__atomic_load_n(&stop, __ATOMIC_RELAXED);
	     i++) {
		r->f->lock();
		sum += *__atomic_load_n(&gp, __ATOMIC_ACQUIRE);
		r->f->unlock();
	}
	t1 = now_ns();
	r->f->unreg();
	r->ns = (double)(t1 - t0) / (double)(i ? i : 1);
	r->sum = sum;
	return NULL;
}

/* ns per section with @n threads (each runs SECTIONS); <0 on failure. */
static double read_side(const struct flavour *f, int n)
{
	struct reader r[2];
	pthread_t th[2];
	double worst = 0;

	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		r[i] = (struct reader){f, i, SECTIONS, 0, 0};
		if (pthread_create(&th[i], NULL, reader_main, &r[i]) != 0)
			return -1;
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (r[i].sum != 42L * SECTIONS)
			return -1;
		worst = r[i].ns > worst ? r[i].ns : worst;
	}
	pthread_barrier_destroy(&start);
	return worst;
}

/* us per synchronize_rcu with @n looping readers; <0 on failure. */
static double grace_period(const struct flavour *f, int n)
{
	struct reader r[2];
	pthread_t th[2];
	uint64_t t0, t1;

	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	pthread_barrier_init(&start, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++) {
		r[i] = (struct reader){f, i, 0, 0, 0};
		if (pthread_create(&th[i], NULL, reader_main, &r[i]) != 0)
			return -1;
	}
	pthread_barrier_wait(&start);
	t0 = now_ns();
	for (int i = 0; i < GRACE_PERIODS; i++)
		f->sync();
	t1 = now_ns();
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	return (double)(t1 - t0) / GRACE_PERIODS / 1e3;
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
	enum { R1, R2, G0, G2, NCOL };
	static const char *const col[NCOL] = {
		"read side, 1 thread", "read side, 2 threads", "grace period, no reader",
		"grace period, 2 readers"};
	double v[2][NCOL][MAX_REPS];
	int reps = argc > 1 ? atoi(argv[1]) : 5;

	if (reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "usage: bench_rcu_flavour [REPETITIONS 1..%d]\n", MAX_REPS);
		return 2;
	}
	for (int r = 0; r < reps; r++) { /* interleaved, so drift hits both */
		for (int f = 0; f < 2; f++) {
			v[f][R1][r] = read_side(&flavours[f], 1);
			v[f][R2][r] = read_side(&flavours[f], 2);
			v[f][G0][r] = grace_period(&flavours[f], 0);
			v[f][G2][r] = grace_period(&flavours[f], 2);
			for (int k = 0; k < NCOL; k++) {
				if (v[f][k][r] < 0) {
					fprintf(stderr, "bench_rcu_flavour: a run failed\n");
					return 1;
				}
			}
		}
	}
	printf("liburcu flavours, shared libraries, medians of %d runs\n", reps);
	printf("  %-26s %10s %10s\n", "", flavours[0].name, flavours[1].name);
	for (int k = 0; k < NCOL; k++) {
		double m[2] = {median(v[0][k], reps), median(v[1][k], reps)};

		printf("  %-26s %10.2f %10.2f   %s\n", col[k], m[0], m[1],
		       k <= R2 ? "ns per section" : "us per grace period");
		if (k == R2)
			printf("  %-26s %10.1f %10.1f   M sections/s\n", "2 threads together",
			       2e3 / m[0], 2e3 / m[1]);
	}
	return 0;
}
