/*
 * hist.h - log-bucket latency histogram: per thread, merged after a run.
 *
 * Values are raw ticks (timing.h).  Values below 16 have a bucket each;
 * above, every power of two is split into 16 buckets, so a bucket spans at
 * most 1/16 (6.25%) of its value.  Recording is two shifts and an add; no
 * sharing between threads, so no atomics.  The exact maximum and the sum
 * are kept beside the buckets.
 *
 * A percentile is reported as the upper bound of the bucket that holds it,
 * which never understates a latency by more than the bucket width and
 * never understates it at all.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 4
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_EXP 48 /* 2^48 ticks: days at any tick rate */
#define HIST_BUCKETS (HIST_SUB + (HIST_MAX_EXP - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t sum;
	uint64_t max;
	uint64_t bucket[HIST_BUCKETS];
};

static inline unsigned hist_index(uint64_t v)
{
	unsigned e;

	if (v < HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* e >= HIST_SUB_BITS */
	if (e >= HIST_MAX_EXP)
		return HIST_BUCKETS - 1;
	return HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB +
	       (unsigned)((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

static inline void hist_record(struct hist *h, uint64_t v)
{
	h->bucket[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

void hist_reset(struct hist *h);
/* Add @src into @dst. */
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at quantile @q in [0, 1] (bucket upper bound, capped at max);
 * 0 for an empty histogram. */
uint64_t hist_quantile(const struct hist *h, double q);
/* hist_quantile() of a histogram of ticks() differences, in ns. */
double hist_quantile_ns(const struct hist *h, double q);

#endif /* BENCH_HIST_H */
