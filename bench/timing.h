/*
 * timing.h - clocks for the benchmarks.
 *
 * Wall time: CLOCK_MONOTONIC.  Per-operation latency: the TSC on x86-64
 * (constant and invariant on every machine this suite targets; a read costs
 * a few nanoseconds, where clock_gettime() costs 15-25 ns in a VM), converted
 * to nanoseconds with a rate calibrated against CLOCK_MONOTONIC at start-up.
 * Elsewhere the latency clock falls back to CLOCK_MONOTONIC.
 */
#ifndef BENCH_TIMING_H
#define BENCH_TIMING_H

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__)
#include <x86intrin.h>
static inline uint64_t ticks(void)
{
	return __rdtsc();
}
#else
static inline uint64_t ticks(void)
{
	return now_ns();
}
#endif

/* Measures the tick rate (about 50 ms); call once before ticks_to_ns(). */
void timing_calibrate(void);
/* Ticks per nanosecond, as calibrated. */
double timing_ticks_per_ns(void);

static inline double ticks_to_ns(uint64_t t)
{
	return (double)t / timing_ticks_per_ns();
}

/* Sleep @ns nanoseconds (restarting after signals). */
void sleep_ns(uint64_t ns);

#endif /* BENCH_TIMING_H */
