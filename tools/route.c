/*
 * route.c - the passes behind `pce simulate --workers` (see route.h).
 *
 * One fleet per policy: W workers (replay.h caches), one router index, the
 * loads.  Pass 2 drives every fleet with the same request before reading
 * the next, so the input is decoded once and the router's match latencies
 * of the policies are measured interleaved, under the same conditions.
 *
 * From cache events to router holdings.  A worker's cache holds the
 * prefixes of its entries; the router must hold the same for that worker.
 * A cache event is emitted under the cache's writer lock and its consumer
 * must not call into the cache, so the callback only queues it; after the
 * worker's request is replayed the queue is applied:
 *   STORED   pce_router_add() of the entry's sequence (the tokens are
 *            copied, keyed by the entry's value, the request's index, which
 *            is unique in a fleet: a request is stored by one worker only);
 *   REMOVED  the entry's sequence, looked up (PCE_LOOKUP_PEEK) in the
 *            worker's cache as it is now: the match is the longest prefix
 *            some other entry still starts with, so the worker lost the
 *            blocks after it: pce_router_remove() of the block that follows
 *            the match cuts exactly those (PCE_ENOENT: an earlier remove of
 *            the same queue already cut them).
 * Lookups see the cache after the whole request, so the order in which one
 * request's events are applied does not change the router's final state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pce/router.h>

#include "route.h"
#include "simulate.h"

#define PROGRESS_EVERY 1024
#define RECLAIM_EVERY 1024

/* An entry a worker's cache holds, as its STORED event gave it. */
struct held {
	uint64_t value;
	uint64_t ns;
	size_t len;
	uint32_t tokens[];
};

/* A cache event waiting to reach the router. */
struct queued {
	struct held *stored;  /* STORED: the entry; NULL: REMOVED */
	uint64_t value;
};

struct fleet {
	const struct pce_route_opts *o;
	struct pce_route_point *pt;
	struct pce_router *router;
	struct pce_replay *workers;
	struct pce_overlap *out;       /* the match's listing, W places */
	/* entries held by the workers, by value: open addressing */
	struct held **map;
	size_t map_cap, map_n;
	struct queued *queue;
	size_t queue_n, queue_cap;
	int failed;                    /* the event callback ran out of memory */
	/* load: the last in_flight routed requests, and per worker */
	uint64_t *load;
	uint32_t *ring;
	uint64_t ring_pos, ring_n;
	uint32_t *lat;                 /* match ns of the counted requests */
	size_t n_lat, lat_cap;
	size_t n_routes, routes_cap;
};

void pce_route_opts_init(struct pce_route_opts *o)
{
	static const enum pce_route_policy all[] = {PCE_ROUTE_RR, PCE_ROUTE_PREFIX,
						    PCE_ROUTE_PREFIX_LOAD};

	memset(o, 0, sizeof(*o));
	o->workers = 16;
	o->eviction = PCE_POLICY_CLOCK_LRU;
	o->policies = all;
	o->n_policies = PCE_ROUTE_POLICIES;
	o->cache_threshold = 0.3;
	o->balance_abs = 64;
	o->balance_rel = 1.5;
	o->in_flight = 256;
}

const char *pce_route_policy_name(enum pce_route_policy p)
{
	switch (p) {
	case PCE_ROUTE_RR:
		return "rr";
	case PCE_ROUTE_PREFIX:
		return "prefix";
	default:
		return "prefix+load";
	}
}

double pce_route_busiest_share(const struct pce_route_point *pt)
{
	return pt->window.requests ? (double)pt->max_requests / (double)pt->window.requests : 0;
}

int pce_route_collapsed(const struct pce_route_point *pt, uint32_t workers)
{
	double share = pce_route_busiest_share(pt);

	return workers > 1 && share > 0.5 && share > 2.0 / workers;
}

static int fail(struct pce_route_result *res, int rc, const char *what)
{
	return pce_replay_fail(res->error, sizeof(res->error), rc, what);
}

/* ---- entries by value ---------------------------------------------------- */

static size_t slot(const struct fleet *f, uint64_t value)
{
	return (size_t)((value * 0x9e3779b97f4a7c15ull) >> 17) & (f->map_cap - 1);
}

static int map_put(struct fleet *f, struct held *h)
{
	if (2 * (f->map_n + 1) > f->map_cap) {
		size_t cap = f->map_cap ? 2 * f->map_cap : 1024, old = f->map_cap;
		struct held **m = calloc(cap, sizeof(*m)), **prev = f->map;

		if (!m)
			return PCE_ENOMEM;
		f->map = m;
		f->map_cap = cap;
		for (size_t i = 0; i < old; i++) {
			if (prev[i]) {
				size_t j = slot(f, prev[i]->value);

				while (m[j])
					j = (j + 1) & (cap - 1);
				m[j] = prev[i];
			}
		}
		free(prev);
	}
	size_t j = slot(f, h->value);

	while (f->map[j])
		j = (j + 1) & (f->map_cap - 1);
	f->map[j] = h;
	f->map_n++;
	return 0;
}

/* Remove the entry of @value and return it (NULL if absent); the cluster
 * after it shifts back, so lookups need no tombstones. */
static struct held *map_take(struct fleet *f, uint64_t value)
{
	size_t mask = f->map_cap - 1, i, j;
	struct held *h;

	if (!f->map_cap)
		return NULL;
	for (i = slot(f, value); f->map[i] && f->map[i]->value != value; i = (i + 1) & mask)
		;
	h = f->map[i];
	if (!h)
		return NULL;
	f->map[i] = NULL;
	f->map_n--;
	for (j = (i + 1) & mask; f->map[j]; j = (j + 1) & mask) {
		size_t home = slot(f, f->map[j]->value);

		/* move it back if its home is not in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			f->map[i] = f->map[j];
			f->map[j] = NULL;
			i = j;
		}
	}
	return h;
}

/* ---- events -------------------------------------------------------------- */

static void on_event(void *ctx, const struct pce_event *ev)
{
	struct fleet *f = ctx;
	struct queued q = {NULL, ev->value};

	if (f->failed)
		return;
	if (f->queue_n == f->queue_cap) {
		size_t cap = f->queue_cap ? 2 * f->queue_cap : 64;
		struct queued *n = realloc(f->queue, cap * sizeof(*n));

		if (!n) {
			f->failed = 1;
			return;
		}
		f->queue = n;
		f->queue_cap = cap;
	}
	if (ev->kind == PCE_EVENT_STORED) {
		q.stored = malloc(sizeof(*q.stored) + ev->len * sizeof(uint32_t));
		if (!q.stored) {
			f->failed = 1;
			return;
		}
		q.stored->value = ev->value;
		q.stored->ns = ev->ns;
		q.stored->len = ev->len;
		memcpy(q.stored->tokens, ev->tokens, ev->len * sizeof(uint32_t));
	}
	f->queue[f->queue_n++] = q;
}

/* The queued events of worker @w, to the router (see the file comment). */
static int apply_events(struct fleet *f, uint32_t w)
{
	static const struct pce_lookup_opts peek = {.flags = PCE_LOOKUP_PEEK};
	int rc = f->failed ? PCE_ENOMEM : 0;
	size_t i;

	for (i = 0; i < f->queue_n && !rc; i++) {
		struct held *h = f->queue[i].stored;
		struct pce_match m;

		if (h) {
			f->queue[i].stored = NULL;
			rc = map_put(f, h);
			if (rc) {
				free(h);
				break;
			}
			rc = pce_router_add(f->router, w, h->ns, h->tokens, h->len, PCE_TIER_GPU,
					    NULL, NULL);
			f->pt->router_adds++;
			continue;
		}
		h = map_take(f, f->queue[i].value);
		if (!h) {
			rc = PCE_ECORRUPT; /* a removal without a store before it */
			break;
		}
		rc = pce_cache_lookup(f->workers[w].cache, h->ns, h->tokens, h->len, &peek, &m);
		if (!rc && m.tokens < h->len) {
			rc = pce_router_remove(f->router, w, h->ns, h->tokens, m.tokens + 1);
			if (rc == PCE_ENOENT)
				rc = 0;
			else if (!rc)
				f->pt->router_removes++;
		}
		free(h);
	}
	for (; i < f->queue_n; i++)
		free(f->queue[i].stored);
	f->queue_n = 0;
	f->failed = 0;
	return rc;
}

/* ---- policies ------------------------------------------------------------ */

/* Of the workers listed in @out[0..@n) (all W if @out is NULL), the least
 * loaded, the lowest id on a tie. */
static uint32_t least_loaded(const struct fleet *f, const struct pce_overlap *out, size_t n)
{
	uint32_t best = out ? out[0].owner : 0;

	if (!out)
		n = f->o->workers;
	for (size_t i = 1; i < n; i++) {
		uint32_t w = out ? out[i].owner : (uint32_t)i;

		if (f->load[w] < f->load[best] || (f->load[w] == f->load[best] && w < best))
			best = w;
	}
	return best;
}

/* prefix: of the workers holding the longest prefix (the first of the
 * listing, which is sorted by matched tokens, every tier weighing 1), the
 * least loaded; nobody: the least loaded of all. */
static uint32_t by_prefix(const struct fleet *f, size_t n)
{
	size_t tied = 1;

	if (!n)
		return least_loaded(f, NULL, 0);
	while (tied < n && f->out[tied].tokens == f->out[0].tokens)
		tied++;
	return least_loaded(f, f->out, tied);
}

/* The worker whose cache holds the fewest blocks (SGLang: the smallest
 * tree), then the least loaded, then the lowest id. */
static int smallest_cache(const struct fleet *f, uint32_t *out)
{
	uint64_t best_kv = UINT64_MAX;

	*out = 0;
	for (uint32_t w = 0; w < f->o->workers; w++) {
		struct pce_stats st;
		int rc = pce_cache_stats(f->workers[w].cache, &st);

		if (rc)
			return rc;
		if (st.kv_bytes < best_kv ||
		    (st.kv_bytes == best_kv && f->load[w] < f->load[*out])) {
			best_kv = st.kv_bytes;
			*out = w;
		}
	}
	return 0;
}

static int choose(struct fleet *f, const struct pce_trace_request *r, size_t n, uint32_t *w)
{
	const struct pce_route_opts *o = f->o;
	uint64_t max = 0, min = UINT64_MAX;

	switch (f->pt->policy) {
	case PCE_ROUTE_RR:
		*w = (uint32_t)(r->index % o->workers);
		return 0;
	case PCE_ROUTE_PREFIX:
		*w = by_prefix(f, n);
		return 0;
	default:
		break;
	}
	for (uint32_t i = 0; i < o->workers; i++) {
		max = f->load[i] > max ? f->load[i] : max;
		min = f->load[i] < min ? f->load[i] : min;
	}
	if (max - min > o->balance_abs && (double)max > (double)min * o->balance_rel) {
		f->pt->balanced++;
		*w = least_loaded(f, NULL, 0);
		return 0;
	}
	if (n && r->len && (double)f->out[0].tokens / (double)r->len > o->cache_threshold) {
		*w = by_prefix(f, n);
		return 0;
	}
	return smallest_cache(f, w);
}

/* Worker @w takes the request: it is in flight there until in_flight more
 * have been routed. */
static void take(struct fleet *f, uint32_t w)
{
	if (f->ring_n == f->o->in_flight)
		f->load[f->ring[f->ring_pos]]--;
	else
		f->ring_n++;
	f->ring[f->ring_pos] = w;
	f->load[w]++;
	f->ring_pos = (f->ring_pos + 1) % f->o->in_flight;
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *q;

	if (n < *cap)
		return 0;
	q = realloc(*p, (*cap ? 2 * *cap : 4096) * size);
	if (!q)
		return PCE_ENOMEM;
	*p = q;
	*cap = *cap ? 2 * *cap : 4096;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* How many workers a match lists. */
static size_t match_k(const struct fleet *f)
{
	return f->o->top_k && f->o->top_k < f->o->workers ? f->o->top_k : f->o->workers;
}

/* opts.verify: the router's listing @out[0..@n) against every worker's
 * cache. */
static int verify(struct fleet *f, const struct pce_trace_request *r, size_t n,
		  struct pce_route_result *res)
{
	static const struct pce_lookup_opts peek = {.flags = PCE_LOOKUP_PEEK};

	for (uint32_t w = 0; w < f->o->workers; w++) {
		size_t listed = 0;
		struct pce_match m;
		int rc;

		int found = 0;

		for (size_t i = 0; i < n; i++) {
			if (f->out[i].owner == w) {
				listed = f->out[i].tokens;
				found = 1;
			}
		}
		rc = pce_cache_lookup(f->workers[w].cache, r->ns, r->ids, r->len, &peek, &m);
		if (rc)
			return fail(res, rc, "pce_cache_lookup");
		/* a worker left out holds no more than the last one listed */
		if (!found && n == match_k(f) && m.tokens <= f->out[n - 1].tokens)
			continue;
		if (m.tokens != listed) {
			snprintf(res->error, sizeof(res->error),
				 "%s, request %llu: the router lists %zu units for worker %u, "
				 "its cache holds %zu", pce_route_policy_name(f->pt->policy),
				 (unsigned long long)r->index, listed, w, m.tokens);
			return PCE_TRACE_ECACHE;
		}
	}
	return 0;
}

/* One request through fleet @f. */
static int route(struct fleet *f, const struct pce_trace_request *r, int counted,
		 struct pce_route_result *res)
{
	struct pce_route_point *pt = f->pt;
	struct pce_replay_hit hit;
	size_t n = 0;
	uint64_t t0, t1;
	uint32_t w;
	int rc;

	t0 = now_ns();
	rc = pce_router_match(f->router, r->ns, r->ids, r->len, 0, f->out, match_k(f), &n, NULL);
	t1 = now_ns();
	if (rc)
		return fail(res, rc, "pce_router_match");
	if (f->o->verify && (rc = verify(f, r, n, res)) != 0)
		return rc;
	rc = choose(f, r, n, &w);
	if (rc)
		return fail(res, rc, "pce_cache_stats");
	take(f, w);
	rc = pce_replay_request(&f->workers[w], r, &hit);
	if (rc) {
		apply_events(f, w);
		return fail(res, rc, "replay");
	}
	rc = apply_events(f, w);
	if (rc)
		return fail(res, rc, "router");
	if (pt->routes) {
		if (grow((void **)&pt->routes, &f->routes_cap, f->n_routes, sizeof(*pt->routes)))
			return fail(res, PCE_ENOMEM, "routes");
		pt->routes[f->n_routes++] = w;
	}
	if (!counted)
		return 0;
	if (grow((void **)&f->lat, &f->lat_cap, f->n_lat, sizeof(*f->lat)))
		return fail(res, PCE_ENOMEM, "latencies");
	f->lat[f->n_lat++] = t1 - t0 > UINT32_MAX ? UINT32_MAX : (uint32_t)(t1 - t0);
	pce_replay_count(&pt->window, r, &hit);
	pt->requests[w]++;
	pt->tokens[w] += r->tokens;
	return 0;
}

static int fleet_init(struct fleet *f, const struct pce_route_opts *o, struct pce_route_point *pt,
		      struct pce_route_result *res)
{
	struct pce_router_config cfg;
	uint32_t W = o->workers;
	int rc;

	f->o = o;
	f->pt = pt;
	f->workers = calloc(W, sizeof(*f->workers));
	f->out = calloc(W, sizeof(*f->out));
	f->load = calloc(W, sizeof(*f->load));
	f->ring = calloc(o->in_flight, sizeof(*f->ring));
	pt->requests = calloc(W, sizeof(*pt->requests));
	pt->tokens = calloc(W, sizeof(*pt->tokens));
	if (!f->workers || !f->out || !f->load || !f->ring || !pt->requests || !pt->tokens)
		return fail(res, PCE_ENOMEM, "workers");
	if (o->record_routes) {
		pt->routes = malloc(4096 * sizeof(*pt->routes));
		if (!pt->routes)
			return fail(res, PCE_ENOMEM, "routes");
		f->routes_cap = 4096;
	}
	pce_router_config_init(&cfg);
	cfg.block_size = 1;             /* cache units: block ids, or tokens */
	cfg.background_reclaim = 0;     /* no thread: the same run every time */
	cfg.high_watermark_pct = 100;
	cfg.low_watermark_pct = 100;
	rc = pce_router_create(&cfg, &f->router);
	if (rc)
		return fail(res, rc, "pce_router_create");
	for (uint32_t w = 0; w < W; w++) {
		rc = pce_replay_init(&f->workers[w], o->capacity, o->eviction, on_event, f);
		if (rc)
			return fail(res, rc, "pce_cache_create");
	}
	return 0;
}

static int by_ns(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile @p of the sorted @v[0..@n). */
static uint64_t percentile(const uint32_t *v, size_t n, double p)
{
	size_t k = (size_t)(p * (double)n + 0.999999);

	return n ? v[k ? (k > n ? n : k) - 1 : 0] : 0;
}

/* The fleet's end: per-point figures, then everything freed. */
static void fleet_done(struct fleet *f)
{
	struct pce_route_point *pt = f->pt;

	if (!pt)
		return; /* never set up: an earlier fleet failed */
	if (f->n_lat) {
		qsort(f->lat, f->n_lat, sizeof(*f->lat), by_ns);
		pt->match_ns[0] = percentile(f->lat, f->n_lat, 0.50);
		pt->match_ns[1] = percentile(f->lat, f->n_lat, 0.99);
		pt->match_ns[2] = percentile(f->lat, f->n_lat, 0.999);
	}
	for (uint32_t w = 0; pt->requests && w < f->o->workers; w++) {
		if (pt->requests[w] > pt->max_requests) {
			pt->max_requests = pt->requests[w];
			pt->busiest = w;
		}
		if (pt->tokens[w] > pt->max_tokens)
			pt->max_tokens = pt->tokens[w];
	}
	for (uint32_t w = 0; f->workers && w < f->o->workers; w++) {
		struct pce_stats st;

		if (f->workers[w].cache && pce_cache_stats(f->workers[w].cache, &st) == 0)
			pt->evictions += st.removed[PCE_REASON_CAPACITY];
		pce_replay_destroy(&f->workers[w]);
	}
	pce_router_destroy(f->router);
	for (size_t i = 0; i < f->map_cap; i++)
		free(f->map[i]);
	for (size_t i = 0; i < f->queue_n; i++)
		free(f->queue[i].stored);
	free(f->map);
	free(f->queue);
	free(f->workers);
	free(f->out);
	free(f->load);
	free(f->ring);
	free(f->lat);
}

static const char *check(const struct pce_route_opts *o)
{
	int seen[PCE_ROUTE_POLICIES] = {0};

	if (o->workers < 1 || o->workers > PCE_ROUTE_MAX_WORKERS)
		return "workers out of range";
	if (!o->n_policies || o->n_policies > PCE_ROUTE_POLICIES)
		return "give 1 to 3 routing policies";
	for (size_t i = 0; i < o->n_policies; i++) {
		if ((unsigned)o->policies[i] >= PCE_ROUTE_POLICIES || seen[o->policies[i]]++)
			return "unknown or repeated routing policy";
	}
	if (!(o->cache_threshold >= 0 && o->cache_threshold < 1) || !(o->balance_rel >= 1) ||
	    !o->in_flight)
		return "bad prefix+load parameters";
	return NULL;
}

int pce_route_run(struct pce_trace *tr, const struct pce_route_opts *o,
		  struct pce_route_result *res)
{
	struct pce_simulate_opts so = {.warmup_fraction = o->warmup_fraction,
				       .progress = o->progress,
				       .ctx = o->ctx};
	struct pce_simulate_result ceiling;
	struct fleet fl[PCE_ROUTE_POLICIES];
	struct pce_trace_request r;
	const char *bad = check(o);
	double w1 = 1.0 / (1.0 + (double)o->n_policies);
	int rc = 0;

	memset(res, 0, sizeof(*res));
	memset(fl, 0, sizeof(fl));
	if (bad) {
		snprintf(res->error, sizeof(res->error), "%s", bad);
		return PCE_TRACE_EINPUT;
	}
	rc = pce_simulate_ceiling(tr, &so, &ceiling, w1);
	if (rc) {
		snprintf(res->error, sizeof(res->error), "%s", ceiling.error);
		return rc;
	}
	res->requests = ceiling.requests;
	res->window_start = ceiling.window_start;
	res->unlimited = ceiling.unlimited;
	res->n_points = o->n_policies;
	for (size_t p = 0; p < o->n_policies && !rc; p++) {
		res->points[p].policy = o->policies[p];
		rc = fleet_init(&fl[p], o, &res->points[p], res);
	}
	if (!rc)
		rc = pce_trace_rewind(tr);
	while (!rc && (rc = pce_trace_next(tr, &r)) == PCE_TRACE_REQUEST) {
		rc = 0;
		for (size_t p = 0; p < o->n_policies && !rc; p++) {
			rc = route(&fl[p], &r, r.index >= res->window_start, res);
			if (!rc && r.index % RECLAIM_EVERY == RECLAIM_EVERY - 1)
				pce_router_reclaim(fl[p].router);
		}
		if (o->progress && r.index % PROGRESS_EVERY == 0)
			o->progress(o->ctx, w1 + (1 - w1) * pce_trace_progress(tr));
	}
	for (size_t p = 0; p < o->n_policies; p++)
		fleet_done(&fl[p]);
	return rc;
}

void pce_route_free(struct pce_route_result *res)
{
	for (size_t p = 0; p < PCE_ROUTE_POLICIES; p++) {
		free(res->points[p].requests);
		free(res->points[p].tokens);
		free(res->points[p].routes);
		res->points[p].requests = res->points[p].tokens = NULL;
		res->points[p].routes = NULL;
	}
}
