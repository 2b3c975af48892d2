/*
 * mirror.h - the memcmp control: for every lookup of a workload's query
 * stream, the bytes an exact matcher must at least compare (libpce's match)
 * and a copy of them elsewhere in memory to compare with.  The runner
 * (runner.h) runs it in place of an index: same stream, same threads, same
 * clock, memcmp() through a volatile function pointer (gcc folds memcmp of
 * visible buffers otherwise).
 *
 * Copies are made once per distinct query array (lookups that continue the
 * same sequence share one), as long as the longest match made in it.
 */
#ifndef BENCH_MIRROR_H
#define BENCH_MIRROR_H

#include <stddef.h>
#include <stdint.h>

#include "workload.h"

struct mirror {
	const uint32_t **tok;  /* per query: a separate copy of its matched tokens */
	uint32_t *bytes;       /* per query: matched tokens x 4 */
	uint32_t **copies;     /* owned */
	size_t ncopies;
};

/* @matched[i]: tokens libpce matches for wl->queries[i].  Return: 0 or -1. */
int mirror_build(struct mirror *m, const struct workload *wl, const size_t *matched);

/*
 * mirror_filter - The queries of @wl with at least @min_len tokens and a
 * match, in stream order: a view @out of @wl (its arrays, not a copy of the
 * tokens) and the matching view @mout of @m; free both with
 * mirror_view_free().  Return: 0 or -1.
 */
int mirror_filter(const struct workload *wl, const struct mirror *m, size_t min_len,
		  struct workload *out, struct mirror *mout);
void mirror_view_free(struct workload *view, struct mirror *mview);

void mirror_free(struct mirror *m);

/* memcmp() that the compiler cannot fold or elide. */
extern int (*volatile mirror_memcmp)(const void *, const void *, size_t);

#endif /* BENCH_MIRROR_H */
