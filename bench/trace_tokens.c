/*
 * trace_tokens.c - the real traces expanded to tokens (trace_tokens.h).
 */
#include "trace_tokens.h"

#include <stdlib.h>
#include <string.h>

#include "rng.h"

uint32_t trace_block_token(uint64_t ns, uint32_t id, uint32_t j)
{
	uint64_t x = ns * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)id << 32 | j);

	return (uint32_t)(splitmix64(&x) % WL_VOCAB);
}

/* Room for one more request.  Return: 0 or -1. */
static int grow(struct expanded *e)
{
	size_t cap = e->cap ? 2 * e->cap : 4096;
	struct seq *q;
	uint64_t *ns;

	if (e->n < e->cap)
		return 0;
	if (!(q = realloc(e->req, cap * sizeof(*q))))
		return -1;
	e->req = q;
	if (!(ns = realloc(e->ns, cap * sizeof(*ns))))
		return -1;
	e->ns = ns;
	e->cap = cap;
	return 0;
}

/* Is namespace @ns one of those @every samples? */
static int sampled(uint64_t ns, uint64_t every)
{
	uint64_t x = ns;

	return every <= 1 || splitmix64(&x) % every == 0;
}

int trace_expand(struct pce_trace *tr, size_t limit, uint64_t ns_every, uint32_t per_id,
		 int whole_blocks, struct expanded *e)
{
	struct pce_trace_request r;
	int rc;

	memset(e, 0, sizeof(*e));
	if (pce_trace_rewind(tr) != 0)
		return -1;
	while (e->n < limit && (rc = pce_trace_next(tr, &r)) == PCE_TRACE_REQUEST) {
		uint64_t whole = (uint64_t)r.len * per_id;
		uint64_t n = whole_blocks || r.tokens >= whole ? whole : r.tokens;
		uint32_t *t;

		if (n == 0 || !sampled(r.ns, ns_every))
			continue;
		if (grow(e) != 0 || !(t = arena_alloc(&e->arena, n)))
			return -1;
		for (uint64_t k = 0; k < n; k++)
			t[k] = trace_block_token(r.ns, r.ids[k / per_id], (uint32_t)(k % per_id));
		e->ns[e->n] = r.ns;
		e->req[e->n++] = (struct seq){t, (uint32_t)n};
		e->tokens += n;
	}
	return 0;
}

void trace_expanded_free(struct expanded *e)
{
	arena_free(&e->arena);
	free(e->req);
	free(e->ns);
	memset(e, 0, sizeof(*e));
}
