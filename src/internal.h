/*
 * internal.h - macros every libpce module uses: branch hints, assertion
 * levels, atomics with named orderings.
 *
 * Assertions never abort in a build a user ships: PCE_DEBUG=0 compiles them
 * out.  PCE_DEBUG>=1 (tests) turns PCE_ASSERT into a report and abort, which
 * is what a test wants; levels 2 and 3 add internal and expensive checks.
 */
#ifndef PCE_INTERNAL_H
#define PCE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pce/pce.h"

#ifndef PCE_DEBUG
#define PCE_DEBUG 0
#endif

#define pce_likely(x) __builtin_expect(!!(x), 1)
#define pce_unlikely(x) __builtin_expect(!!(x), 0)
#define pce_noinline __attribute__((noinline))
#define pce_unused __attribute__((unused))
#define PCE_CACHELINE 64
#define pce_cacheline_aligned __attribute__((aligned(PCE_CACHELINE)))

#define pce_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#if PCE_DEBUG >= 1
#define PCE_ASSERT(x)                                                                  \
	do {                                                                           \
		if (pce_unlikely(!(x))) {                                              \
			fprintf(stderr, "libpce: assertion failed: %s (%s:%d)\n", #x, \
				__FILE__, __LINE__);                                   \
			abort();                                                       \
		}                                                                      \
	} while (0)
#else
#define PCE_ASSERT(x) ((void)0)
#endif

/* Relaxed accesses: shared words with no ordering duty (statistics, CLOCK
 * bits).  Written as atomics so that TSan and the compiler see the sharing. */
#define pce_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define pce_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define pce_add_relaxed(p, v) ((void)__atomic_fetch_add((p), (v), __ATOMIC_RELAXED))
#define pce_sub_relaxed(p, v) ((void)__atomic_fetch_sub((p), (v), __ATOMIC_RELAXED))

/* Counters with one writer (the holder of a lock) and lock-free readers: a
 * plain read-modify-write published with a relaxed store, so no locked
 * instruction on the writer's path and no torn value for a reader. */
#define pce_add_owned(p, v) pce_store_relaxed((p), pce_load_relaxed(p) + (v))
#define pce_sub_owned(p, v) pce_store_relaxed((p), pce_load_relaxed(p) - (v))

#define pce_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define pce_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

#define PCE_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PCE_MAX(a, b) ((a) > (b) ? (a) : (b))

/* fmix64 from MurmurHash3: a bijective 64-bit mixer for bucketing and shard
 * selection.  Never used as identity: tokens are always compared exactly. */
static inline uint64_t pce_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

#endif /* PCE_INTERNAL_H */
