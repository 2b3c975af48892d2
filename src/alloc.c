/*
 * alloc.c - allocation choke point: mimalloc or libc, chosen at build time
 * (PCE_ALLOCATOR).  See alloc.h.
 *
 * PCE_FAULT_INJECTION (a test build, never shipped) adds a counter to every
 * allocation so that a test can make the N-th one fail, and a count of live
 * blocks so that it can prove a failed call leaked nothing.  The counters
 * are relaxed atomics: the reclaim thread may free concurrently.
 */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifdef PCE_USE_MIMALLOC
#include <mimalloc.h>
#define raw_malloc(n) mi_malloc(n)
#define raw_aligned(n) mi_malloc_aligned((n), PCE_CACHELINE)
#define raw_free(p) mi_free(p)
#else
#define raw_malloc(n) malloc(n)
#define raw_free(p) free(p)
static void *raw_aligned(size_t n)
{
	void *p = NULL;
	return posix_memalign(&p, PCE_CACHELINE, n) == 0 ? p : NULL;
}
#endif

#ifdef PCE_FAULT_INJECTION
static uint64_t fault_seen;  /* allocations since the last pce__fault_arm() */
static uint64_t fault_nth;   /* the allocation to fail (1-based); 0 = none */
static int fault_sticky;     /* fail every allocation from the N-th on */
static uint64_t fault_fired; /* allocations failed since the last arm */
static void *fault_site;     /* caller of the last failed allocation */
static uint64_t live_blocks; /* allocated and not yet freed */

void pce__fault_arm(uint64_t nth, int sticky)
{
	pce_store_relaxed(&fault_seen, 0);
	pce_store_relaxed(&fault_fired, 0);
	pce_store_relaxed(&fault_sticky, sticky);
	pce_store_relaxed(&fault_nth, nth);
}

uint64_t pce__fault_seen(void)
{
	return pce_load_relaxed(&fault_seen);
}

uint64_t pce__fault_fired(void)
{
	return pce_load_relaxed(&fault_fired);
}

void *pce__fault_site(void)
{
	return pce_load_relaxed(&fault_site);
}

uint64_t pce__alloc_live(void)
{
	return pce_load_relaxed(&live_blocks);
}

/* Counts this allocation; returns 1 if it must fail. */
static int fault_hit(void *site)
{
	uint64_t nth = pce_load_relaxed(&fault_nth);
	uint64_t seen = __atomic_add_fetch(&fault_seen, 1, __ATOMIC_RELAXED);

	if (!nth || seen < nth || (seen > nth && !pce_load_relaxed(&fault_sticky)))
		return 0;
	pce_add_relaxed(&fault_fired, 1);
	pce_store_relaxed(&fault_site, site);
	return 1;
}

static void *counted(void *p)
{
	if (p)
		pce_add_relaxed(&live_blocks, 1);
	return p;
}

#define FAULT_HIT() fault_hit(__builtin_return_address(0))
#define COUNTED(p) counted(p)
#else
#define FAULT_HIT() 0
#define COUNTED(p) (p)
#endif

void *pce_alloc(size_t size)
{
	return FAULT_HIT() ? NULL : COUNTED(raw_malloc(size));
}

void *pce_zalloc(size_t size)
{
	void *p = FAULT_HIT() ? NULL : COUNTED(raw_malloc(size));
	if (p)
		memset(p, 0, size);
	return p;
}

void *pce_zalloc_aligned(size_t size)
{
	void *p = FAULT_HIT() ? NULL : COUNTED(raw_aligned(size));
	if (p)
		memset(p, 0, size);
	return p;
}

void pce_free(void *p)
{
#ifdef PCE_FAULT_INJECTION
	if (p)
		pce_sub_relaxed(&live_blocks, 1);
#endif
	raw_free(p);
}
