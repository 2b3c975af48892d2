/*
 * trace_tokens.h - the real traces expanded to tokens.
 *
 * The traces give each request as a list of block ids (Mooncake: one id per
 * 512 real tokens; Claude Code: per 64).  An index that compares tokens
 * needs tokens: each block id becomes a run of pseudo-tokens drawn from the
 * id and its namespace alone, so that equal ids give equal runs and the
 * trace's sharing is kept token for token.
 */
#ifndef BENCH_TRACE_TOKENS_H
#define BENCH_TRACE_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include <trace.h>

#include "arena.h"
#include "workload.h"

struct expanded {
	struct arena arena;
	struct seq *req;       /* the requests, in arrival order */
	uint64_t *ns;          /* the namespace of each */
	size_t n, cap;
	uint64_t tokens;
};

/* Token @j of the run that stands for block id @id of namespace @ns. */
uint32_t trace_block_token(uint64_t ns, uint32_t id, uint32_t j);

/*
 * trace_expand - The first @limit requests of @tr (from its start) of the
 * namespaces that @ns_every samples (those whose hash is a multiple of it:
 * 1 keeps all), each block id expanded to @per_id tokens.  @whole_blocks: every id gives
 * @per_id tokens; else the last id is cut to the request's real length
 * (when @per_id is the trace's block size).  Requests that expand to
 * nothing are left out.
 * Return: 0 or -1 (out of memory, or the trace could not be rewound);
 * trace_expanded_free() in both cases.
 */
int trace_expand(struct pce_trace *tr, size_t limit, uint64_t ns_every, uint32_t per_id,
		 int whole_blocks, struct expanded *e);
void trace_expanded_free(struct expanded *e);

#endif /* BENCH_TRACE_TOKENS_H */
