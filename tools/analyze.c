/*
 * analyze.c - the pass behind `pce analyze` (see analyze.h).
 *
 * With batch analysis on, requests are copied into a batch (the trace's
 * buffers only live until its next request), the batch is measured with
 * pce_dedup_analyze() against the cache as it stands, then replayed one
 * request at a time.  The dedup figures of every batch are kept (four
 * numbers a batch) because the window is only known at the end.
 */
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "replay.h"

#define PROGRESS_EVERY 4096

struct batch {
	struct pce_trace_request *req;
	struct pce_seq *seq;
	size_t n, cap;
	uint32_t *pool;        /* the requests' ids, back to back */
	size_t pool_len, pool_cap;
};

struct batch_dedup {
	uint64_t first;        /* index of the batch's first request */
	uint64_t ids, cached, shared;
};

struct pass {
	struct pce_trace *tr;
	const struct pce_analyze_opts *o;
	struct pce_analyze_result *res;
	struct pce_replay rp;
	struct batch b;
	struct batch_dedup *bd;
	size_t n_bd, bd_cap;
};

static int fail(struct pass *p, int rc, const char *what)
{
	return pce_replay_fail(p->res->error, sizeof(p->res->error), rc, what);
}

static int replay_one(struct pass *p, const struct pce_trace_request *r)
{
	struct pce_replay_hit hit;
	int rc = pce_replay_request(&p->rp, r, &hit);

	if (rc)
		return fail(p, rc, "replay");
	rc = pce_reqlog_add(p->res->log, r, &hit);
	if (rc)
		return fail(p, rc, "request log");
	if (p->o->progress && r->index % PROGRESS_EVERY == 0)
		p->o->progress(p->o->ctx, pce_trace_progress(p->tr));
	return 0;
}

static int batch_add(struct pass *p, const struct pce_trace_request *r)
{
	struct batch *b = &p->b;

	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		struct pce_trace_request *q = realloc(b->req, cap * sizeof(*q));
		struct pce_seq *s;

		if (!q)
			return fail(p, PCE_ENOMEM, "batch");
		b->req = q;
		s = realloc(b->seq, cap * sizeof(*s));
		if (!s)
			return fail(p, PCE_ENOMEM, "batch");
		b->seq = s;
		b->cap = cap;
	}
	if (b->pool_len + r->len > b->pool_cap) {
		size_t cap = b->pool_cap ? b->pool_cap : 4096;
		uint32_t *q;

		while (cap < b->pool_len + r->len)
			cap *= 2;
		q = realloc(b->pool, cap * sizeof(*q));
		if (!q)
			return fail(p, PCE_ENOMEM, "batch");
		b->pool = q;
		b->pool_cap = cap;
	}
	if (r->len) /* an empty request may have no ids buffer at all */
		memcpy(b->pool + b->pool_len, r->ids, r->len * sizeof(*r->ids));
	b->req[b->n] = *r;
	/* ids are pointed at the pool in flush, once it has stopped moving */
	b->req[b->n].ids = NULL;
	b->pool_len += r->len;
	b->n++;
	return 0;
}

static int batch_flush(struct pass *p)
{
	struct batch *b = &p->b;
	struct pce_dedup d;
	size_t off = 0;
	int rc;

	if (b->n == 0)
		return 0;
	for (size_t i = 0; i < b->n; i++) {
		b->req[i].ids = b->pool ? b->pool + off : NULL; /* NULL: only empty requests */
		b->seq[i] = (struct pce_seq){b->req[i].ns, b->req[i].ids, b->req[i].len};
		off += b->req[i].len;
	}
	rc = pce_dedup_analyze(p->rp.cache, b->seq, b->n, &d);
	if (rc)
		return fail(p, rc, "pce_dedup_analyze");
	if (p->n_bd == p->bd_cap) {
		size_t cap = p->bd_cap ? 2 * p->bd_cap : 256;
		struct batch_dedup *q = realloc(p->bd, cap * sizeof(*q));

		if (!q)
			return fail(p, PCE_ENOMEM, "batch");
		p->bd = q;
		p->bd_cap = cap;
	}
	p->bd[p->n_bd++] = (struct batch_dedup){b->req[0].index, d.total_tokens, d.cached_tokens,
						 d.shared_tokens};
	for (size_t i = 0; i < b->n; i++) {
		rc = replay_one(p, &b->req[i]);
		if (rc)
			return rc;
	}
	b->n = 0;
	b->pool_len = 0;
	return 0;
}

static int run(struct pass *p)
{
	struct pce_trace_request r;
	int rc;

	while ((rc = pce_trace_next(p->tr, &r)) == PCE_TRACE_REQUEST) {
		if (!p->o->batch) {
			rc = replay_one(p, &r);
		} else {
			rc = batch_add(p, &r);
			if (!rc && p->b.n == p->o->batch)
				rc = batch_flush(p);
		}
		if (rc)
			return rc;
	}
	if (rc)
		return rc;
	return batch_flush(p);
}

int pce_analyze_run(struct pce_trace *tr, const struct pce_analyze_opts *o,
		    struct pce_analyze_result *res)
{
	struct pass p = {.tr = tr, .o = o, .res = res};
	int rc;

	memset(res, 0, sizeof(*res));
	rc = pce_reqlog_create(&res->log);
	if (rc)
		return fail(&p, rc, "request log");
	rc = pce_replay_init(&p.rp, 0, PCE_POLICY_CLOCK_LRU, NULL, NULL);
	if (rc)
		return fail(&p, rc, "pce_cache_create");
	rc = run(&p);
	if (!rc) {
		res->requests = pce_reqlog_requests(res->log);
		res->window_start = pce_replay_window_start(res->requests, o->warmup_fraction);
		pce_reqlog_totals(res->log, res->window_start, &res->window);
		for (size_t i = 0; i < p.n_bd; i++) {
			if (p.bd[i].first < res->window_start)
				continue;
			res->dedup.batches++;
			res->dedup.ids += p.bd[i].ids;
			res->dedup.cached_ids += p.bd[i].cached;
			res->dedup.shared_ids += p.bd[i].shared;
		}
		res->dedup.unique_ids =
			res->dedup.ids - res->dedup.cached_ids - res->dedup.shared_ids;
		pce_cache_reclaim(p.rp.cache);
		pce_cache_stats(p.rp.cache, &res->cache);
	}
	pce_replay_destroy(&p.rp);
	free(p.b.req);
	free(p.b.seq);
	free(p.b.pool);
	free(p.bd);
	return rc;
}

void pce_analyze_free(struct pce_analyze_result *res)
{
	pce_reqlog_free(res->log);
	res->log = NULL;
}
