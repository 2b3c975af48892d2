/*
 * machine.h - a description of the machine and build a run measured, for
 * the report: CPU, memory, kernel, load, compiler, libpce build switches.
 */
#ifndef BENCH_MACHINE_H
#define BENCH_MACHINE_H

#include <stdio.h>

/* Markdown table rows ("| key | value |"), the header included.  @load_start
 * and @load_end are the 1-minute load averages at both ends of the run. */
void machine_describe(FILE *out, double load_start, double load_end);

/* 1-minute load average, or -1. */
double machine_load(void);

/* NULL if the build measures what users get (no assertions, no sanitizer);
 * else a sentence saying what is wrong with it. */
const char *machine_build_problem(void);

#endif /* BENCH_MACHINE_H */
