/*
 * machine.h - a description of the machine and build a run measured, for
 * the report: CPU, memory, kernel, load, compiler, libpce build switches.
 */
#ifndef BENCH_MACHINE_H
#define BENCH_MACHINE_H

#include <stdio.h>

/* CPU time of the machine and of this process at one instant. */
struct machine_sample {
	double wall;     /* seconds, monotonic */
	double busy;     /* seconds of all CPUs not idle (steal excluded) */
	double steal;    /* seconds the hypervisor ran something else */
	double self;     /* this process's user + system seconds */
	double load;     /* 1-minute load average, or -1 */
};

void machine_sample(struct machine_sample *m);

/* This process's user + system seconds so far. */
double machine_process_cpu_s(void);

/*
 * machine_cpu_scaling - How much more work 2 threads pinned to 2 CPUs do
 * than 1: a dependent integer loop (no memory traffic), median of 3 runs
 * of 0.2 s each.  About 2 on two free cores; a shared or throttled machine
 * shows less, and so will every multi-threaded figure measured on it.
 */
double machine_cpu_scaling(void);

/* Markdown table rows ("| key | value |"), the header included, with what
 * the rest of the machine did between @start and @end. */
void machine_describe(FILE *out, const struct machine_sample *start,
		      const struct machine_sample *end);

/* @scaling_start and @scaling_end: machine_cpu_scaling() at both ends. */
void machine_describe_scaling(FILE *out, double scaling_start, double scaling_end);

/* NULL if the build measures what users get (no assertions, no sanitizer);
 * else a sentence saying what is wrong with it. */
const char *machine_build_problem(void);

#endif /* BENCH_MACHINE_H */
