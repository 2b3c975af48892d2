/*
 * workload.c - generators of the synthetic workloads (see workload.h).
 *
 * Every sequence is materialised once as a contiguous token array in the
 * workload's arena, which it frees as a whole.  A stored
 * entry and the lookup that continues it share one array: the entry is its
 * first len tokens, the lookup all of them.  Sizes scale linearly with the
 * preset's scale factor (counts of entries, conversations and pool
 * sequences; never lengths).
 */
#include "workload.h"

#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* The chat-template header every chat sequence starts with. */
static const uint32_t template_header[] = {128000, 128006, 9125, 128007};
#define TEMPLATE_LEN (sizeof(template_header) / sizeof(template_header[0]))

const char *const workload_names[] = {"sysprompt", "multiturn", "unique", "long",
				      "sysprompt-notemplate", NULL};

static void fill_random(struct rng *r, uint32_t *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		t[i] = (uint32_t)rng_below(r, WL_VOCAB);
}

/* A new array: @head[0..nhead) followed by @extra random tokens. */
static uint32_t *extend(struct workload *w, struct rng *r, const uint32_t *head, size_t nhead,
			size_t extra)
{
	uint32_t *t = arena_alloc(&w->arena, nhead + extra);

	if (t) {
		if (nhead)
			memcpy(t, head, nhead * sizeof(uint32_t));
		fill_random(r, t + nhead, extra);
	}
	return t;
}

/* @n shared prefixes ("prompts", "contexts") of lengths [lo, hi], the
 * template header first if @with_template. */
static int make_prefixes(struct workload *w, struct rng *r, struct seq *out, size_t n,
			 uint32_t lo, uint32_t hi, int with_template)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t len = (uint32_t)rng_range(r, lo, hi);
		size_t head = with_template ? TEMPLATE_LEN : 0;
		uint32_t *t = extend(w, r, template_header, head, len - head);
		if (!t)
			return -2;
		out[i] = (struct seq){t, len};
	}
	return 0;
}

static int alloc_sets(struct workload *w, size_t nstored, size_t nqueries, size_t npool)
{
	w->nstored = nstored;
	w->nqueries = nqueries;
	w->npool = npool;
	w->stored = calloc(nstored, sizeof(struct seq));
	w->queries = calloc(nqueries, sizeof(struct seq));
	for (int p = 0; p < WL_POOLS; p++)
		w->pool[p] = calloc(npool, sizeof(struct seq));
	for (int p = 0; p < WL_POOLS; p++)
		if (!w->pool[p])
			return -2;
	return w->stored && w->queries ? 0 : -2;
}

static size_t scaled(double scale, size_t n)
{
	size_t v = (size_t)(scale * (double)n);
	return v ? v : 1;
}

/* The shape shared by sysprompt and long: entries are a Zipf-popular
 * prefix plus a tail; lookups continue an entry (probability @p_continue)
 * or put a new tail on a prefix. */
struct prefix_tail {
	size_t prefixes;
	uint32_t prefix_lo, prefix_hi;
	size_t entries;
	uint32_t tail_lo, tail_hi;
	uint32_t ext_lo, ext_hi;
	double p_continue;
	size_t fresh;      /* new-tail lookups to materialise */
	size_t queries;
	size_t pool;
	int with_template;
};

/* A new tail on a Zipf-drawn one of @prefix: a new-tail lookup or a pool
 * sequence. */
static int new_tail(struct workload *w, struct rng *r, const struct prefix_tail *pt,
		    const struct seq *prefix, const struct zipf *z, struct seq *out)
{
	const struct seq *p = &prefix[zipf_draw(z, r)];
	uint32_t tail = (uint32_t)rng_range(r, pt->tail_lo, pt->tail_hi);
	uint32_t *t = extend(w, r, p->tok, p->len, tail);

	if (!t)
		return -2;
	*out = (struct seq){t, p->len + tail};
	return 0;
}

static int make_prefix_tail(struct workload *w, struct rng *r, const struct prefix_tail *pt)
{
	struct seq *prefix = calloc(pt->prefixes, sizeof(*prefix));
	struct seq *cont = calloc(pt->entries, sizeof(*cont));
	struct seq *fresh = calloc(pt->fresh, sizeof(*fresh));
	char *used = calloc(pt->prefixes, 1);
	struct zipf z = {NULL, 0};
	int rc = -2;

	if (!prefix || !cont || !fresh || !used || zipf_init(&z, pt->prefixes, 1.0) != 0 ||
	    alloc_sets(w, pt->entries, pt->queries, pt->pool) != 0 ||
	    make_prefixes(w, r, prefix, pt->prefixes, pt->prefix_lo, pt->prefix_hi,
			  pt->with_template) != 0)
		goto out;
	for (size_t i = 0; i < pt->entries; i++) {
		size_t pi = zipf_draw(&z, r);
		const struct seq *p = &prefix[pi];
		uint32_t tail = (uint32_t)rng_range(r, pt->tail_lo, pt->tail_hi);
		uint32_t ext = (uint32_t)rng_range(r, pt->ext_lo, pt->ext_hi);
		uint32_t *t = extend(w, r, p->tok, p->len, tail + ext);
		if (!t)
			goto out;
		if (!used[pi]) {
			used[pi] = 1;
			w->distinct += p->len;
		}
		w->stored[i] = (struct seq){t, p->len + tail};
		cont[i] = (struct seq){t, p->len + tail + ext};
		w->tokens += p->len + tail;
		w->distinct += tail;
	}
	for (size_t i = 0; i < pt->fresh; i++)
		if (new_tail(w, r, pt, prefix, &z, &fresh[i]) != 0)
			goto out;
	for (size_t i = 0; i < pt->queries; i++)
		w->queries[i] = rng_unit(r) < pt->p_continue ? cont[rng_below(r, pt->entries)]
							      : fresh[rng_below(r, pt->fresh)];
	for (int p = 0; p < WL_POOLS; p++)
		for (size_t i = 0; i < pt->pool; i++)
			if (new_tail(w, r, pt, prefix, &z, &w->pool[p][i]) != 0)
				goto out;
	rc = 0;
out:
	zipf_fini(&z);
	free(prefix);
	free(cont);
	free(fresh);
	free(used);
	return rc;
}

static int make_sysprompt(struct workload *w, struct rng *r, double scale, int with_template)
{
	const struct prefix_tail pt = {
		.prefixes = 48, .prefix_lo = 500, .prefix_hi = 2000,
		.entries = scaled(scale, 16000), .tail_lo = 50, .tail_hi = 500,
		.ext_lo = 50, .ext_hi = 200, .p_continue = 0.8,
		.fresh = scaled(scale, 4000), .queries = scaled(scale, 200000),
		.pool = scaled(scale, 512), .with_template = with_template,
	};

	w->about = with_template
		? "48 system prompts (500-2,000 tokens, Zipf 1) + user suffix 50-500; "
		  "80% of lookups continue an entry, 20% new suffix"
		: "sysprompt without the 4-token chat-template header";
	return make_prefix_tail(w, r, &pt);
}

static int make_long(struct workload *w, struct rng *r, double scale)
{
	const struct prefix_tail pt = {
		.prefixes = 16, .prefix_lo = 6000, .prefix_hi = 24000,
		.entries = scaled(scale, 512), .tail_lo = 500, .tail_hi = 4000,
		.ext_lo = 100, .ext_hi = 1000, .p_continue = 0.7,
		.fresh = scaled(scale, 128), .queries = scaled(scale, 20000),
		.pool = scaled(scale, 48), .with_template = 1,
	};

	w->about = "16 shared contexts (6K-24K tokens, Zipf 1) + tail 500-4,000; "
		   "70% of lookups continue an entry by 100-1,000, 30% new tail";
	return make_prefix_tail(w, r, &pt);
}

/* A conversation of @turns turns on @sys: one array holding the last turn,
 * the turn lengths in @len[0..turns). */
static uint32_t *make_conversation(struct workload *w, struct rng *r, const struct seq *sys,
				   uint32_t turns, uint32_t *len)
{
	uint32_t total = sys->len;
	uint32_t *t;

	for (uint32_t k = 0; k < turns; k++) {
		total += (uint32_t)rng_range(r, 100, 600);
		len[k] = total;
	}
	t = extend(w, r, sys->tok, sys->len, total - sys->len);
	return t;
}

static int make_multiturn(struct workload *w, struct rng *r, double scale)
{
	const size_t nsys = 8, convs = scaled(scale, 2000), pool = scaled(scale, 512);
	const size_t queries = scaled(scale, 200000);
	struct seq sys[8];
	char sys_used[8] = {0};
	struct seq *asked = NULL;
	struct zipf z = {NULL, 0};
	uint32_t len[12];
	size_t nstored = 0, nasked = 0;
	int rc = -2;

	w->about = "conversations of 2-12 turns on 8 system prompts (200-1,000 tokens, "
		   "Zipf 1); turn k = turn k-1 + 100-600 tokens; lookups of turn k match "
		   "turn k-1";
	/* At most 11 stored turns and 11 lookups per conversation. */
	if (zipf_init(&z, nsys, 1.0) != 0 || alloc_sets(w, convs * 11, queries, pool) != 0 ||
	    !(asked = calloc(convs * 11, sizeof(*asked))) ||
	    make_prefixes(w, r, sys, nsys, 200, 1000, 1) != 0)
		goto out;
	for (size_t c = 0; c < convs; c++) {
		uint32_t turns = (uint32_t)rng_range(r, 2, 12);
		size_t si = zipf_draw(&z, r);
		const struct seq *s = &sys[si];
		uint32_t *t = make_conversation(w, r, s, turns, len);
		if (!t)
			goto out;
		w->distinct += len[turns - 2] - s->len;
		if (!sys_used[si]) {
			sys_used[si] = 1;
			w->distinct += s->len;
		}
		for (uint32_t k = 0; k + 1 < turns; k++) {
			w->stored[nstored++] = (struct seq){t, len[k]};
			w->tokens += len[k];
			asked[nasked++] = (struct seq){t, len[k + 1]};
		}
	}
	w->nstored = nstored;
	for (size_t i = 0; i < queries; i++)
		w->queries[i] = asked[rng_below(r, nasked)];
	for (int p = 0; p < WL_POOLS; p++) {
		for (size_t i = 0; i < pool; i++) {
			uint32_t turns = (uint32_t)rng_range(r, 1, 3);
			uint32_t *t = make_conversation(w, r, &sys[zipf_draw(&z, r)], turns, len);
			if (!t)
				goto out;
			w->pool[p][i] = (struct seq){t, len[turns - 1]};
		}
	}
	rc = 0;
out:
	zipf_fini(&z);
	free(asked);
	return rc;
}

static int make_unique(struct workload *w, struct rng *r, double scale)
{
	const size_t entries = scaled(scale, 8000), fresh = scaled(scale, 8000);
	const size_t queries = scaled(scale, 200000), pool = scaled(scale, 512);
	struct seq *miss = calloc(fresh, sizeof(*miss));
	int rc = -2;

	w->about = "random sequences of 500-2,000 tokens sharing nothing; half the lookups "
		   "repeat a stored one, half are new";
	if (!miss || alloc_sets(w, entries, queries, pool) != 0)
		goto out;
	for (size_t i = 0; i < entries + fresh; i++) {
		uint32_t len = (uint32_t)rng_range(r, 500, 2000);
		uint32_t *t = extend(w, r, NULL, 0, len);
		if (!t)
			goto out;
		if (i < entries) {
			w->stored[i] = (struct seq){t, len};
			w->tokens += len;
			w->distinct += len;
		} else {
			miss[i - entries] = (struct seq){t, len};
		}
	}
	for (size_t i = 0; i < queries; i++)
		w->queries[i] = rng_below(r, 2) ? w->stored[rng_below(r, entries)]
						: miss[rng_below(r, fresh)];
	for (int p = 0; p < WL_POOLS; p++) {
		for (size_t i = 0; i < pool; i++) {
			uint32_t len = (uint32_t)rng_range(r, 500, 2000);
			uint32_t *t = extend(w, r, NULL, 0, len);
			if (!t)
				goto out;
			w->pool[p][i] = (struct seq){t, len};
		}
	}
	rc = 0;
out:
	free(miss);
	return rc;
}

int workload_make(const char *name, double scale, uint64_t seed, struct workload *w)
{
	struct rng r;
	int rc;

	memset(w, 0, sizeof(*w));
	rng_seed(&r, seed);
	if (strcmp(name, "sysprompt") == 0)
		rc = make_sysprompt(w, &r, scale, 1);
	else if (strcmp(name, "sysprompt-notemplate") == 0)
		rc = make_sysprompt(w, &r, scale, 0);
	else if (strcmp(name, "multiturn") == 0)
		rc = make_multiturn(w, &r, scale);
	else if (strcmp(name, "unique") == 0)
		rc = make_unique(w, &r, scale);
	else if (strcmp(name, "long") == 0)
		rc = make_long(w, &r, scale);
	else
		return -1;
	for (int i = 0; workload_names[i]; i++)
		if (strcmp(name, workload_names[i]) == 0)
			w->name = workload_names[i];
	if (rc)
		workload_free(w);
	return rc;
}

void workload_free(struct workload *w)
{
	arena_free(&w->arena);
	free(w->stored);
	free(w->queries);
	for (int p = 0; p < WL_POOLS; p++)
		free(w->pool[p]);
	memset(w, 0, sizeof(*w));
}
