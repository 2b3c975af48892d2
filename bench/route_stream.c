/*
 * route_stream.c - the real traces as router event streams (route_stream.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <trace.h>
#include <xxhash.h>

#include "rng.h"
#include "route_stream.h"

/* ---- traces as block sequences -------------------------------------------- */

static int rtrace_load(struct pce_trace *tr, const char *name, uint64_t ns_every,
		       struct rtrace *t)
{
	uint64_t *h;

	memset(t, 0, sizeof(*t));
	t->name = name;
	if (trace_expand(tr, SIZE_MAX, ns_every, ROUTER_BLOCK, 1, &t->e) != 0 || t->e.n == 0)
		return -1;
	t->blocks = t->e.tokens / ROUTER_BLOCK;
	t->q = calloc(t->e.n, sizeof(*t->q));
	t->hashes = malloc(2 * t->blocks * sizeof(uint64_t));
	if (!t->q || !t->hashes)
		return -1;
	h = t->hashes;
	for (size_t i = 0; i < t->e.n; i++) {
		struct route_seq *q = &t->q[i];
		uint64_t *local = h, *chain = h + t->e.req[i].len / ROUTER_BLOCK;

		q->ns = t->e.ns[i];
		q->tok = t->e.req[i].tok;
		q->nblocks = t->e.req[i].len / ROUTER_BLOCK;
		for (uint32_t b = 0; b < q->nblocks; b++) {
			local[b] = XXH3_64bits_withSeed(q->tok + (size_t)b * ROUTER_BLOCK,
							ROUTER_BLOCK * sizeof(uint32_t), b ? 0 : q->ns);
			chain[b] = b ? XXH3_64bits_withSeed(&local[b], sizeof(local[b]), chain[b - 1])
				     : local[0];
		}
		q->local = local;
		q->chain = chain;
		h += 2 * q->nblocks;
	}
	return 0;
}

void rtrace_free(struct rtrace *t)
{
	trace_expanded_free(&t->e);
	free(t->q);
	free(t->hashes);
	memset(t, 0, sizeof(*t));
}

/* ---- event streams --------------------------------------------------------- */

/* The worker caches' model: (owner, chained block hash) -> prompts of the
 * owner holding that block; open addressing, backward-shift deletion. */
struct hold {
	uint64_t key;
	uint32_t owner, count; /* count 0: free */
};

struct model {
	struct hold *slot;
	size_t mask;
	size_t *next, *head, *tail; /* per worker FIFO of requests, SIZE_MAX: none */
	uint64_t *held;             /* distinct blocks per worker */
};

static size_t hold_home(const struct model *m, uint32_t owner, uint64_t key)
{
	uint64_t x = key ^ (uint64_t)owner * 0x9E3779B97F4A7C15ULL;

	return (size_t)splitmix64(&x) & m->mask;
}

static struct hold *hold_find(struct model *m, uint32_t owner, uint64_t key)
{
	size_t j;

	for (j = hold_home(m, owner, key); m->slot[j].count; j = (j + 1) & m->mask)
		if (m->slot[j].key == key && m->slot[j].owner == owner)
			break;
	return &m->slot[j];
}

static void hold_del(struct model *m, struct hold *h)
{
	size_t j = (size_t)(h - m->slot), k;

	for (k = (j + 1) & m->mask; m->slot[k].count; k = (k + 1) & m->mask) {
		size_t home = hold_home(m, m->slot[k].owner, m->slot[k].key);
		if (((k - home) & m->mask) >= ((k - j) & m->mask)) {
			m->slot[j] = m->slot[k];
			j = k;
		}
	}
	m->slot[j].count = 0;
}

static int push(struct rstream *st, struct rop op)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 65536;
		struct rop *p = realloc(st->op, cap * sizeof(*p));
		if (!p)
			return -1;
		st->op = p;
		st->cap = cap;
	}
	st->op[st->n++] = op;
	return 0;
}

/* The oldest prompt of worker @w leaves its cache.  Return: 0 or -1. */
static int evict_oldest(const struct rtrace *t, struct model *m, struct rstream *st, uint32_t w)
{
	size_t r = m->head[w];
	const struct route_seq *q = &t->q[r];
	uint32_t j = q->nblocks;

	m->head[w] = m->next[r];
	if (m->head[w] == SIZE_MAX)
		m->tail[w] = SIZE_MAX;
	for (uint32_t b = q->nblocks; b-- > 0;) {
		struct hold *h = hold_find(m, w, q->chain[b]);
		if (h->count && --h->count == 0) {
			hold_del(m, h);
			m->held[w]--;
			j = b;
		}
	}
	if (j == q->nblocks)
		return 0;
	st->remove_blocks += q->nblocks - j;
	return push(st, (struct rop){OP_REMOVE, w, (uint32_t)r, j, q->nblocks});
}

int rstream_build(const struct rtrace *t, uint32_t workers, uint64_t capacity, int drain,
		  struct rstream *st)
{
	struct model m;
	size_t slots = 4;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	memset(&m, 0, sizeof(m));
	st->workers = workers;
	while (slots < 2 * t->blocks)
		slots *= 2;
	m.mask = slots - 1;
	m.slot = calloc(slots, sizeof(*m.slot));
	m.next = malloc(t->e.n * sizeof(size_t));
	m.head = malloc(workers * sizeof(size_t));
	m.tail = malloc(workers * sizeof(size_t));
	m.held = calloc(workers, sizeof(uint64_t));
	st->first = malloc((t->e.n + 1) * sizeof(size_t));
	if (!m.slot || !m.next || !m.head || !m.tail || !m.held || !st->first)
		goto out;
	memset(m.head, 0xff, workers * sizeof(size_t));
	memset(m.tail, 0xff, workers * sizeof(size_t));
	for (size_t i = 0; i < t->e.n; i++) {
		const struct route_seq *q = &t->q[i];
		uint32_t w = (uint32_t)(i % workers), from = q->nblocks;

		st->first[i] = st->n;
		if (push(st, (struct rop){OP_MATCH, 0, (uint32_t)i, 0, q->nblocks}) != 0)
			goto out;
		for (uint32_t b = 0; b < q->nblocks; b++) {
			struct hold *h = hold_find(&m, w, q->chain[b]);
			if (!h->count) {
				*h = (struct hold){q->chain[b], w, 0};
				m.held[w]++;
				if (from == q->nblocks)
					from = b;
			}
			h->count++;
		}
		m.next[i] = SIZE_MAX;
		if (m.tail[w] == SIZE_MAX)
			m.head[w] = i;
		else
			m.next[m.tail[w]] = i;
		m.tail[w] = i;
		if (from < q->nblocks) {
			st->add_blocks += q->nblocks - from;
			if (push(st, (struct rop){OP_ADD, w, (uint32_t)i, from, q->nblocks}) != 0)
				goto out;
		}
		while (m.held[w] > capacity && m.head[w] != i)
			if (evict_oldest(t, &m, st, w) != 0)
				goto out;
	}
	for (uint32_t w = 0; drain && w < workers; w++)
		while (m.head[w] != SIZE_MAX)
			if (evict_oldest(t, &m, st, w) != 0)
				goto out;
	st->first[t->e.n] = st->n;
	for (uint32_t w = 0; w < workers; w++)
		st->holdings += m.held[w];
	rc = 0;
out:
	free(m.slot);
	free(m.next);
	free(m.head);
	free(m.tail);
	free(m.held);
	return rc;
}

void rstream_free(struct rstream *st)
{
	free(st->op);
	free(st->first);
	memset(st, 0, sizeof(*st));
}

int rstream_apply(const struct route_ops *ops, struct route_index *ix, const struct rtrace *t,
		  const struct rop *op)
{
	if (op->kind == OP_ADD)
		return ops->add(ix, op->owner, &t->q[op->req], op->from, op->to);
	return ops->remove(ix, op->owner, &t->q[op->req], op->from, op->to);
}

int rstream_apply_events(const struct route_ops *ops, struct route_index *ix,
			 const struct rtrace *t, const struct rstream *st, size_t lo, size_t hi)
{
	int errors = 0;

	for (size_t i = lo; i < hi; i++)
		if (st->op[i].kind != OP_MATCH)
			errors += rstream_apply(ops, ix, t, &st->op[i]) != 0;
	return errors;
}

const struct trace_src rtrace_sources[RTRACE_SOURCES] = {
	{"mooncake", "mooncake_conversation/conversation_trace.jsonl", 0},
	{"claude-code", "weka_claude_code", 1},
};

/* Claude Code prompts are long: the replay samples whole sessions
 * (namespaces) for about this many blocks. */
#define MAX_TRACE_BLOCKS 500000

int rtrace_load_source(const char *dir, const struct trace_src *src, struct rtrace *t)
{
	char path[1024];
	const char *paths[1] = {path};
	struct pce_trace_opts opts;
	struct pce_trace *tr = NULL;
	struct pce_trace_request r;
	uint64_t blocks = 0;
	int rc;

	memset(&opts, 0, sizeof(opts));
	snprintf(path, sizeof(path), "%s/%s", dir, src->path);
	if (pce_trace_open(&tr, paths, 1, &opts) != 0) {
		fprintf(stderr, "pce_bench: %s: %s\n", path, tr ? pce_trace_error(tr) : "cannot open");
		pce_trace_close(tr);
		return -1;
	}
	while (pce_trace_next(tr, &r) == PCE_TRACE_REQUEST)
		blocks += r.len;
	rc = rtrace_load(tr, src->name, (blocks + MAX_TRACE_BLOCKS - 1) / MAX_TRACE_BLOCKS, t);
	pce_trace_close(tr);
	return rc;
}
