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

#endif /* PCE_ALLOC_H */
