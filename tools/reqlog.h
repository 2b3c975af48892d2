/*
 * reqlog.h - what `pce analyze` learns from one replay through an
 * unlimited cache: per-request figures, kept compactly, and the questions
 * asked of them afterwards over any window [from, n) of requests: totals,
 * per-namespace totals, the distribution of reused-prefix lengths and the
 * most shared prefixes.
 *
 * Why keep per-request figures: the window (--warmup-fraction) is only
 * known once the number of requests is, at the end of a stream.  A request
 * costs 28 bytes here, whatever its length.
 */
#ifndef PCE_TOOLS_REQLOG_H
#define PCE_TOOLS_REQLOG_H

#include <stdint.h>

#include "replay.h"
#include "trace.h"

struct pce_reqlog;

/* A prefix and how many requests of the window start with it. */
struct pce_shared_prefix {
	uint64_t ns;
	uint64_t origin;    /* the first request that held it (index) */
	uint64_t ids;       /* its length in cache units */
	uint64_t tokens;    /* and in real tokens */
	uint64_t requests;  /* requests of the window that start with it */
};

/* Requests whose reused prefix is [min_tokens, max_tokens] long. */
struct pce_reuse_bucket {
	uint64_t min_tokens, max_tokens; /* {0, 0}: misses */
	uint64_t requests;
	uint64_t hit_tokens;
};

#define PCE_REUSE_BUCKETS 34 /* misses, then [2^k, 2^(k+1)) for k < 33 */

int pce_reqlog_create(struct pce_reqlog **out);

/*
 * pce_reqlog_add - Record request @r (which must be the next index:
 * 0, 1, 2...) and what it hit in an unlimited cache.
 * Return: 0, PCE_EINVAL (out of order, or more than 2^32 - 2 requests),
 * or PCE_ENOMEM.
 */
int pce_reqlog_add(struct pce_reqlog *a, const struct pce_trace_request *r,
		     const struct pce_replay_hit *hit);

uint64_t pce_reqlog_requests(const struct pce_reqlog *a);

/* Sums over requests [from, n). */
void pce_reqlog_totals(const struct pce_reqlog *a, uint64_t from,
			 struct pce_replay_counts *out);

/* Sums per namespace over [from, n): @out has @n_ns entries, indexed by
 * namespace number. */
void pce_reqlog_by_ns(const struct pce_reqlog *a, uint64_t from,
			struct pce_replay_counts *out, size_t n_ns);

/* Reused-prefix length distribution over [from, n), in PCE_REUSE_BUCKETS
 * buckets (empty ones included). */
void pce_reqlog_reuse(const struct pce_reqlog *a, uint64_t from,
			struct pce_reuse_bucket out[PCE_REUSE_BUCKETS]);

/*
 * pce_reqlog_shared - The @k prefixes that the most requests of
 * [from, n) start with, most shared first (ties: longer first).  Only
 * maximal prefixes count: each one ends where some of its requests part
 * ways, so a prefix and its extension shared by the same requests are one.
 * At least two requests share each.  *n_out receives how many were found.
 * Return: 0 or PCE_ENOMEM.
 */
int pce_reqlog_shared(const struct pce_reqlog *a, uint64_t from,
			struct pce_shared_prefix *out, size_t k, size_t *n_out);

void pce_reqlog_free(struct pce_reqlog *a);

#endif /* PCE_TOOLS_REQLOG_H */
