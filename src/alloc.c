/*
 * alloc.c - allocation choke point: mimalloc or libc, chosen at build time
 * (PCE_ALLOCATOR).  See alloc.h.
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

void *pce_alloc(size_t size)
{
	return raw_malloc(size);
}

void *pce_zalloc(size_t size)
{
	void *p = raw_malloc(size);
	if (p)
		memset(p, 0, size);
	return p;
}

void *pce_zalloc_aligned(size_t size)
{
	void *p = raw_aligned(size);
	if (p)
		memset(p, 0, size);
	return p;
}

void pce_free(void *p)
{
	raw_free(p);
}
