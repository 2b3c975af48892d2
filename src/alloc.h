/*
 * alloc.h - the one allocation choke point of libpce.
 *
 * Every byte libpce allocates goes through pce_alloc()/pce_free().  The
 * default build maps them to mimalloc; sanitizer and valgrind builds map them
 * to libc (PCE_ALLOCATOR=libc), because those tools cannot see mimalloc's
 * blocks.  Never hand a pce_alloc() block to free() or the reverse.
 * Accounting (index bytes) is done by the callers with the sizes they asked
 * for, so it does not depend on the allocator's rounding.
 */
#ifndef PCE_ALLOC_H
#define PCE_ALLOC_H

#include <stddef.h>

/* Returns NULL when out of memory; never aborts. */
void *pce_alloc(size_t size);
/* Zero-filled pce_alloc(). */
void *pce_zalloc(size_t size);
/* Zero-filled and cache-line aligned (shards, statistics stripes). */
void *pce_zalloc_aligned(size_t size);
/* Accepts NULL. */
void pce_free(void *p);

#ifdef PCE_FAULT_INJECTION
#include <stdint.h>
/*
 * Test-only control of allocation failures (built with PCE_FAULT_INJECTION,
 * tests/test_alloc_fail.c); not part of any installed header.
 * pce__fault_arm - Restart the count: the @nth allocation from now fails
 *   (and every later one if @sticky); @nth 0 disarms.
 * pce__fault_seen - Allocations attempted since the last arm.
 * pce__fault_fired - Allocations failed since the last arm.
 * pce__fault_site - Return address of the caller of the last failed one.
 * pce__alloc_live - Blocks allocated and not yet freed, over the process.
 */
void pce__fault_arm(uint64_t nth, int sticky);
uint64_t pce__fault_seen(void);
uint64_t pce__fault_fired(void);
void *pce__fault_site(void);
uint64_t pce__alloc_live(void);
#endif

#endif /* PCE_ALLOC_H */
