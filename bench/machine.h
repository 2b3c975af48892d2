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

/* Markdown table rows ("| key | value |"), the header included, with what
 * the rest of the machine did between @start and @end. */
void machine_describe(FILE *out, const struct machine_sample *start,
		      const struct machine_sample *end);

/* NULL if the build measures what users get (no assertions, no sanitizer);
 * else a sentence saying what is wrong with it. */
const char *machine_build_problem(void);

#endif /* BENCH_MACHINE_H */
