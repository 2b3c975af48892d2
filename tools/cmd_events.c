/*
 * cmd_events.c - `pce events watch`: follow engines' KV events into a
 * router index (libpce_events) and print, live, what the index knows per
 * owner, and the hit ratio the router would have predicted.
 *
 * Threads: the subscriber's thread applies the events and calls observe()
 * (with the subscriber's lock held) for each BlockStored, before applying
 * it; observe() matches the request against the router and records it
 * under w->lock.  The main thread waits for the next interval or a signal
 * (SIGINT, SIGTERM, SIGUSR1 are blocked in every thread and taken with
 * sigtimedwait()), reads the subscriber's status (its lock) and the figures
 * (w->lock), never holding both, so the two locks are never nested the
 * other way round.
 *
 * Built only with libpce_events (PCE_TOOL_EVENTS); otherwise the command
 * says so and exits 2.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

#ifdef PCE_TOOL_EVENTS

#include <pthread.h>

#include <pce/events.h>
#include <pce/pce.h>


static const char usage[] =
	"Usage: pce events watch [OPTION]... ENDPOINT...\n"
	"\n"
	"Subscribe to the KV events of inference engines (vLLM's ZmqEventPublisher wire,\n"
	"SGLang's, or a libpce publisher), feed a libpce router index with them, and\n"
	"print every interval, per owner (worker): events applied per second, blocks\n"
	"held, state (EXACT: the index equals the engine; RECOVERING: a replay is under\n"
	"way; DEGRADED: events were lost), sequence gaps, engine restarts, failed\n"
	"recoveries ('lost'), events dropped, and the hit ratio the router would have\n"
	"predicted for recent requests.\n"
	"\n"
	"ENDPOINT is a comma-separated list of key=value:\n"
	"  pub=ADDR            the engine's PUB socket (required; a bare ADDR is pub)\n"
	"  replay=ADDR         its replay ROUTER socket (gaps are then asked for again)\n"
	"  owner=N             the owner (worker id) its events are for; default: the\n"
	"                      endpoint's position on the command line (0, 1, ...)\n"
	"  rank-base=N         owners by data-parallel rank: owner N + the batch's rank\n"
	"  topic=PREFIX        subscription prefix (default: every topic)\n"
	"  ns=N                base namespace (default 0)\n"
	"  group=N             KV-cache group followed (default 0)\n"
	"e.g. owner=3,pub=tcp://10.0.0.5:5557,replay=tcp://10.0.0.5:5558\n"
	"\n"
	"Hit ratio.  Each BlockStored on GPU (no medium, or \"GPU\") is taken as one\n"
	"request: its prompt is the parent block's path followed by the event's\n"
	"blocks (T tokens).  Before the event is applied, the router matches the\n"
	"prompt over all owners: H is the longest prefix some owner held (in any\n"
	"tier), O what the owner that stored it held.  hit = sum H / sum T, own =\n"
	"sum O / sum T, best = share of requests with O = H (the engine that got the\n"
	"request was one the router would have chosen), over the last --window\n"
	"requests (per owner: its last --window requests) and over the whole run.\n"
	"Events stored to other media (CPU offloading) are not requests.\n"
	"\n"
	"Options:\n"
	"  -b, --block-size N  tokens per KV block, as the engines' (default 16)\n"
	"  -i, --interval S    seconds between reports (default 1)\n"
	"  -d, --duration S    exit after S seconds (default: run until a signal)\n"
	"      --window N      requests in the sliding window (default 1000)\n"
	"      --snapshot FILE write the router and the subscriber's state to FILE at\n"
	"                      exit and on SIGUSR1, one consistent cut\n"
	"                      (pce_subscriber_snapshot_write); 'pce snapshot inspect'\n"
	"                      shows both, pce_subscriber_snapshot_restore() resumes\n"
	"      --json          one JSON object per line: each report (\"type\":\n"
	"                      \"interval\"), then the summary (\"type\": \"summary\")\n"
	"  -h, --help          show this help\n"
	"\n"
	"On a terminal the report refreshes in place; otherwise each report is printed\n"
	"as plain lines.  SIGINT and SIGTERM end the watch: the summary is printed and\n"
	"the snapshot written.\n"
	"\n"
	"Exit status: 0 done; 1 internal failure (memory, a snapshot that could not be\n"
	"written); 2 bad usage or an endpoint that cannot be connected.\n";

enum { OPT_WINDOW = CLI_OPT_FIRST_FREE, OPT_SNAPSHOT };

/* One request, as observe() recorded it. */
struct req {
	uint32_t tokens, hit, own;
	uint32_t best;
};

struct sums {
	uint64_t requests, tokens, hit, own, best;
};

/* The last cap requests and their sums. */
struct ring {
	struct req *r;
	size_t cap, head, n;
	struct sums sum;
};

struct row {
	uint32_t owner;
	struct sums total;
	struct ring win;
};

struct watch {
	pthread_mutex_t lock;  /* rows, totals, windows, match buffer */
	struct pce_router *router;
	size_t window;
	struct row *rows;      /* in order of first sight */
	size_t n_rows, cap_rows;
	struct ring win;
	struct sums total;
	struct pce_overlap *match;
	size_t match_cap;
	int oom;               /* a request could not be recorded */
};

static void sums_add(struct sums *s, const struct req *r, int sign)
{
	s->requests += (uint64_t)sign;
	s->tokens += (uint64_t)(sign * (int64_t)r->tokens);
	s->hit += (uint64_t)(sign * (int64_t)r->hit);
	s->own += (uint64_t)(sign * (int64_t)r->own);
	s->best += (uint64_t)(sign * (int64_t)r->best);
}

static int ring_push(struct ring *g, size_t cap, const struct req *r)
{
	if (!g->r) {
		g->r = calloc(cap, sizeof(*g->r));
		if (!g->r)
			return -1;
		g->cap = cap;
	}
	if (g->n == g->cap) {
		sums_add(&g->sum, &g->r[g->head], -1);
		g->head = (g->head + 1) % g->cap;
		g->n--;
	}
	g->r[(g->head + g->n) % g->cap] = *r;
	g->n++;
	sums_add(&g->sum, r, 1);
	return 0;
}

/* The row of @owner, added on first sight; NULL when memory ran out.
 * Called with w->lock held (or before the subscriber starts). */
static struct row *row_get(struct watch *w, uint32_t owner)
{
	for (size_t i = 0; i < w->n_rows; i++)
		if (w->rows[i].owner == owner)
			return &w->rows[i];
	if (w->n_rows == w->cap_rows) {
		size_t nc = w->cap_rows ? 2 * w->cap_rows : 8;
		void *p = realloc(w->rows, nc * sizeof(*w->rows));

		if (!p)
			return NULL;
		w->rows = p;
		w->cap_rows = nc;
	}
	memset(&w->rows[w->n_rows], 0, sizeof(w->rows[0]));
	w->rows[w->n_rows].owner = owner;
	return &w->rows[w->n_rows++];
}

/* The subscriber's observer: a BlockStored on GPU is a request (see usage). */
static void observe(void *ctx, const struct pce_subscriber_stored *ev)
{
	struct watch *w = ctx;
	struct req r = {0};
	struct row *row;
	size_t n = 0;

	if (ev->applied || ev->tier != PCE_TIER_GPU || ev->len > UINT32_MAX)
		return;
	pthread_mutex_lock(&w->lock);
	row = row_get(w, ev->owner);
	if (row && w->match_cap < w->n_rows) {
		void *p = realloc(w->match, w->n_rows * 2 * sizeof(*w->match));

		if (p) {
			w->match = p;
			w->match_cap = w->n_rows * 2;
		}
	}
	/* every owner that holds any of it: the best one, and this one */
	if (!row || w->match_cap < w->n_rows ||
	    pce_router_match(w->router, ev->ns, ev->tokens, ev->len, PCE_ROUTER_MATCH_PEEK,
			     w->match, w->match_cap, &n, NULL)) {
		w->oom = 1;
		pthread_mutex_unlock(&w->lock);
		return;
	}
	r.tokens = (uint32_t)ev->len;
	for (size_t i = 0; i < n; i++) {
		if (w->match[i].tokens > r.hit)
			r.hit = (uint32_t)w->match[i].tokens;
		if (w->match[i].owner == ev->owner)
			r.own = (uint32_t)w->match[i].tokens;
	}
	r.best = r.own == r.hit;
	sums_add(&w->total, &r, 1);
	sums_add(&row->total, &r, 1);
	if (ring_push(&w->win, w->window, &r) || ring_push(&row->win, w->window, &r))
		w->oom = 1;
	pthread_mutex_unlock(&w->lock);
}

/* ---- the command line ------------------------------------------------------ */

struct target {
	struct pce_subscriber_endpoint ep;
	char *text;     /* the copy ep's strings point into */
	int has_owner;
};

static int parse_u64(const char *cmd, const char *spec, const char *key, const char *v,
		     uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v, &end, 10);
	if (!*v || *end || errno || x > max || *v == '-')
		return cli_usage(cmd, "endpoint '%s': %s='%s' is not an integer in [0, %llu]",
				 spec, key, v, (unsigned long long)max);
	*out = x;
	return 0;
}

static int parse_target(const char *cmd, const char *spec, size_t pos, struct target *t)
{
	char *save = NULL, *part;
	uint64_t v;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	t->text = strdup(spec);
	if (!t->text) {
		cli_error(cmd, "out of memory");
		return CLI_FAILURE;
	}
	t->ep.owner = (uint32_t)pos;
	for (part = strtok_r(t->text, ",", &save); part && !rc; part = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(part, '='), *scheme = strstr(part, "://");
		const char *key = part, *val;

		if (!eq || (scheme && scheme < eq)) {
			key = "pub";
			val = part;
		} else {
			*eq = '\0';
			val = eq + 1;
		}
		if (!strcmp(key, "pub")) {
			t->ep.pub_addr = val;
		} else if (!strcmp(key, "replay")) {
			t->ep.replay_addr = val;
		} else if (!strcmp(key, "topic")) {
			t->ep.topic = val;
		} else if (!strcmp(key, "owner") || !strcmp(key, "rank-base")) {
			if (t->has_owner)
				return cli_usage(cmd, "endpoint '%s': owner and rank-base given "
						      "together or twice", spec);
			rc = parse_u64(cmd, spec, key, val, UINT32_MAX, &v);
			t->ep.owner = (uint32_t)v;
			t->ep.owner_by_rank = key[0] == 'r';
			t->has_owner = 1;
		} else if (!strcmp(key, "ns")) {
			rc = parse_u64(cmd, spec, key, val, UINT64_MAX, &t->ep.base_ns);
		} else if (!strcmp(key, "group")) {
			rc = parse_u64(cmd, spec, key, val, INT64_MAX, &v);
			t->ep.group_idx = (int64_t)v;
		} else {
			return cli_usage(cmd, "endpoint '%s': unknown key '%s' (pub, replay, owner, "
					      "rank-base, topic, ns, group)", spec, key);
		}
	}
	if (rc)
		return rc;
	if (!t->ep.pub_addr || !*t->ep.pub_addr)
		return cli_usage(cmd, "endpoint '%s': no pub=ADDR", spec);
	return 0;
}

/* Seconds as a positive number of at most a year. */
static int parse_seconds(const char *opt, const char *s, double min, double *out)
{
	return cli_fraction("events", opt, s, min, 365 * 86400.0, 0, out);
}

/* ---- reports --------------------------------------------------------------- */

struct report_row {
	struct row r;
	int status; /* pce_subscriber_owner_status()'s return */
	struct pce_subscriber_owner_status st;
	double events_per_s;
};

struct report {
	int summary;
	double t;           /* seconds since the start */
	struct report_row *rows;
	size_t n_rows;
	struct pce_subscriber_endpoint_status *eps;
	size_t n_eps;
	struct sums total, win;
	uint64_t holdings;
	unsigned snapshots, snapshot_failures;
	int oom;
};

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : NAN;
}

static uint64_t dropped(const struct pce_subscriber_counters *c)
{
	uint64_t n = 0;

	for (int i = 0; i < PCE_SUBSCRIBER_DROP_COUNT; i++)
		n += c->dropped[i];
	return n;
}

static void json_ratio(cJSON *o, const char *key, uint64_t a, uint64_t b)
{
	if (b)
		cJSON_AddNumberToObject(o, key, ratio(a, b));
	else
		cJSON_AddNullToObject(o, key);
}

static cJSON *json_sums(const struct sums *s)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cli_json_u64(o, "requests", s->requests);
	cli_json_u64(o, "tokens", s->tokens);
	cli_json_u64(o, "hit_tokens", s->hit);
	cli_json_u64(o, "own_tokens", s->own);
	cli_json_u64(o, "best", s->best);
	json_ratio(o, "hit_ratio", s->hit, s->tokens);
	json_ratio(o, "own_ratio", s->own, s->tokens);
	json_ratio(o, "best_ratio", s->best, s->requests);
	return o;
}

static int print_json(const struct report *rp, const struct target *tg)
{
	cJSON *o = cJSON_CreateObject(), *arr;

	if (!o)
		return cli_print_json_line("events", NULL); /* says: out of memory */
	cli_json_string(o, "type", rp->summary ? "summary" : "interval");
	cJSON_AddNumberToObject(o, "t", rp->t);
	cli_json_u64(o, "holdings", rp->holdings);
	cJSON_AddItemToObject(o, "window", json_sums(&rp->win));
	cJSON_AddItemToObject(o, "total", json_sums(&rp->total));
	cli_json_u64(o, "snapshots", rp->snapshots);
	cli_json_u64(o, "snapshot_failures", rp->snapshot_failures);
	cJSON_AddBoolToObject(o, "incomplete", rp->oom);
	arr = cJSON_AddArrayToObject(o, "owners");
	for (size_t i = 0; arr && i < rp->n_rows; i++) {
		const struct report_row *r = &rp->rows[i];
		cJSON *x = cJSON_CreateObject();

		if (!x)
			break;
		cli_json_u64(x, "owner", r->r.owner);
		if (r->status == 0) {
			cli_json_u64(x, "endpoint", r->st.endpoint);
			cli_json_string(x, "state", pce_ev_state_name(r->st.state));
			cli_json_u64(x, "events", r->st.c.events);
			cJSON_AddNumberToObject(x, "events_per_s", r->events_per_s);
			cli_json_u64(x, "blocks", r->st.blocks);
			if (r->st.has_seq)
				cli_json_u64(x, "last_seq", r->st.last_seq);
			else
				cJSON_AddNullToObject(x, "last_seq");
			cli_json_u64(x, "gaps", r->st.c.gaps);
			cli_json_u64(x, "restarts", r->st.c.restarts);
			cli_json_u64(x, "recoveries_failed", r->st.c.recoveries_failed);
			cli_json_u64(x, "dropped", dropped(&r->st.c));
			cli_json_u64(x, "clears", r->st.c.clears);
		}
		cJSON_AddItemToObject(x, "window", json_sums(&r->r.win.sum));
		cJSON_AddItemToObject(x, "total", json_sums(&r->r.total));
		cJSON_AddItemToArray(arr, x);
	}
	arr = cJSON_AddArrayToObject(o, "endpoints");
	for (size_t i = 0; arr && i < rp->n_eps; i++) {
		const struct pce_subscriber_endpoint_status *e = &rp->eps[i];
		cJSON *x = cJSON_CreateObject();

		if (!x)
			break;
		cli_json_u64(x, "endpoint", i);
		cli_json_string(x, "pub", tg[i].ep.pub_addr);
		cli_json_string(x, "state", pce_ev_state_name(e->state));
		if (e->has_seq)
			cli_json_u64(x, "last_seq", e->last_seq);
		else
			cJSON_AddNullToObject(x, "last_seq");
		cli_json_u64(x, "owners", e->owners);
		cli_json_u64(x, "batches", e->c.batches);
		cli_json_u64(x, "replayed", e->c.replayed);
		cli_json_u64(x, "gaps", e->c.gaps);
		cli_json_u64(x, "restarts", e->c.restarts);
		cli_json_u64(x, "recoveries_failed", e->c.recoveries_failed);
		cli_json_u64(x, "dropped", dropped(&e->c));
		cJSON_AddItemToArray(arr, x);
	}
	return cli_print_json_line("events", o);
}

static const char *pct(double v, char *buf)
{
	if (isnan(v))
		snprintf(buf, 16, "-");
	else
		snprintf(buf, 16, "%.1f%%", 100 * v);
	return buf;
}

/* The text report into @f; returns the number of lines. */
static int print_text(FILE *f, const struct report *rp)
{
	char a[32], b[32], c[32], d[32];
	int lines = 2;

	fprintf(f, "%s %.1f s: %zu owner%s, %s router holdings, hit %s of %s tokens "
		   "(last %s requests)%s\n",
		rp->summary ? "summary after" : "t =", rp->t, rp->n_rows, rp->n_rows == 1 ? "" : "s",
		cli_group(rp->holdings, a), pct(ratio(rp->win.hit, rp->win.tokens), b),
		cli_group(rp->win.tokens, c), cli_group(rp->win.requests, d),
		rp->oom ? " (some requests not counted: out of memory)" : "");
	fprintf(f, "  %10s %4s %-10s %9s %10s %5s %8s %5s %6s %8s %7s %7s %7s\n", "owner", "ep",
		"state", "events/s", "blocks", "gaps", "restarts", "lost", "drops", "requests",
		"hit", "own", "best");
	for (size_t i = 0; i < rp->n_rows; i++) {
		const struct report_row *r = &rp->rows[i];
		const struct sums *s = &r->r.win.sum;
		char h[16], o[16], bst[16];

		if (r->status)
			continue;
		fprintf(f, "  %10u %4u %-10s %9.1f %10s %5llu %8llu %5llu %6llu %8llu %7s %7s %7s\n",
			r->r.owner, r->st.endpoint, pce_ev_state_name(r->st.state), r->events_per_s,
			cli_group(r->st.blocks, a), (unsigned long long)r->st.c.gaps,
			(unsigned long long)r->st.c.restarts,
			(unsigned long long)r->st.c.recoveries_failed,
			(unsigned long long)dropped(&r->st.c), (unsigned long long)s->requests,
			pct(ratio(s->hit, s->tokens), h), pct(ratio(s->own, s->tokens), o),
			pct(ratio(s->best, s->requests), bst));
		lines++;
	}
	if (rp->snapshots || rp->snapshot_failures) {
		fprintf(f, "  snapshots written: %u%s\n", rp->snapshots,
			rp->snapshot_failures ? " (some failed: see above)" : "");
		lines++;
	}
	return lines;
}

/* ---- the watch --------------------------------------------------------------- */

struct run {
	struct watch w;
	struct pce_subscriber *sub;
	struct target *tg;
	size_t n_tg;
	uint64_t *prev_events; /* per row, at the last report */
	size_t cap_prev;
	double start, last;
	int json, tty, lines;
	const char *snapshot;
	unsigned snapshots, snapshot_failures;
};

/* Router and subscriber state to the snapshot file.  The two are read one
 * after the other; the subscriber's state is read again after the router's
 * and the write is repeated (a few times at most) until both reads agree, so
 * that no batch was applied in between. */
static int write_snapshot(struct run *r)
{
	int rc = pce_subscriber_snapshot_write(r->sub, r->snapshot);

	if (rc) {
		cli_error("events", "--snapshot: cannot write %s: %s", r->snapshot,
			  rc < 0 && -rc < 4096 ? strerror(-rc) : pce_strerror(rc));
		r->snapshot_failures++;
		return CLI_FAILURE;
	}
	r->snapshots++;
	return CLI_OK;
}

static int report(struct run *r, int summary)
{
	struct report rp = {.summary = summary};
	struct pce_router_stats rs;
	double now = cli_seconds(), dt;
	int rc = CLI_OK;

	pthread_mutex_lock(&r->w.lock);
	rp.n_rows = r->w.n_rows;
	rp.rows = calloc(rp.n_rows ? rp.n_rows : 1, sizeof(*rp.rows));
	if (rp.rows)
		for (size_t i = 0; i < rp.n_rows; i++)
			rp.rows[i].r = r->w.rows[i];
	rp.total = r->w.total;
	rp.win = r->w.win.sum;
	rp.oom = r->w.oom;
	pthread_mutex_unlock(&r->w.lock);
	rp.eps = calloc(r->n_tg, sizeof(*rp.eps));
	if (rp.rows && rp.eps && rp.n_rows > r->cap_prev) {
		uint64_t *p = realloc(r->prev_events, rp.n_rows * sizeof(*p));

		if (p) {
			memset(p + r->cap_prev, 0, (rp.n_rows - r->cap_prev) * sizeof(*p));
			r->prev_events = p;
			r->cap_prev = rp.n_rows;
		}
	}
	if (!rp.rows || !rp.eps || rp.n_rows > r->cap_prev) {
		cli_error("events", "out of memory");
		free(rp.rows);
		free(rp.eps);
		return CLI_FAILURE;
	}
	rp.t = now - r->start;
	dt = summary ? rp.t : now - r->last;
	for (size_t i = 0; i < rp.n_rows; i++) {
		struct report_row *x = &rp.rows[i];
		/* the window's ring belongs to the observer: only its sums are read */
		x->r.win.r = NULL;
		x->status = pce_subscriber_owner_status(r->sub, x->r.owner, &x->st);
		if (x->status)
			continue;
		x->events_per_s = dt > 0 ? (double)(x->st.c.events -
						    (summary ? 0 : r->prev_events[i])) / dt : 0;
		r->prev_events[i] = x->st.c.events;
	}
	rp.n_eps = r->n_tg;
	for (size_t i = 0; i < rp.n_eps; i++)
		pce_subscriber_endpoint_status(r->sub, i, &rp.eps[i]);
	if (pce_router_stats_get(r->w.router, &rs) == 0)
		rp.holdings = rs.holdings;
	rp.snapshots = r->snapshots;
	rp.snapshot_failures = r->snapshot_failures;
	r->last = now;
	if (r->json) {
		rc = print_json(&rp, r->tg);
	} else if (r->tty && !summary) {
		/* in place: back over the previous report, then clear below */
		if (r->lines)
			printf("\033[%dA\033[J", r->lines);
		r->lines = print_text(stdout, &rp);
		rc = cli_flush("events");
	} else {
		if (r->tty && r->lines)
			printf("\033[%dA\033[J", r->lines);
		print_text(stdout, &rp);
		rc = cli_flush("events");
	}
	free(rp.rows);
	free(rp.eps);
	return rc;
}

/* Wait until @deadline (cli_seconds()) or a signal of @set; the signal, or 0. */
static int wait_until(const sigset_t *set, double deadline)
{
	double left = deadline - cli_seconds();
	struct timespec ts;
	int sig;

	if (left <= 0)
		return 0;
	ts.tv_sec = (time_t)left;
	ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
	sig = sigtimedwait(set, NULL, &ts);
	return sig < 0 ? 0 : sig;
}

static int watch(struct run *r, struct pce_subscriber_config *cfg, double interval,
		 double duration)
{
	double next, end;
	sigset_t set;
	int rc, st = CLI_OK;

	cfg->observe = observe;
	cfg->observe_ctx = &r->w;
	rc = pce_subscriber_create(cfg, &r->sub);
	if (rc) {
		cli_error("events", "cannot subscribe: %s", pce_strerror(rc));
		return rc == PCE_EZMQ || rc == PCE_EINVAL ? CLI_BADINPUT : CLI_FAILURE;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	r->start = r->last = cli_seconds();
	next = r->start + interval;
	end = duration > 0 ? r->start + duration : INFINITY;
	for (;;) {
		int sig = wait_until(&set, next < end ? next : end);
		double now = cli_seconds();

		if (sig == SIGINT || sig == SIGTERM || now >= end)
			break;
		if (sig == SIGUSR1 && r->snapshot)
			write_snapshot(r);
		if (now >= next) {
			if ((st = report(r, 0)))
				break;
			next += interval;
			if (next < now)
				next = now + interval;
		}
	}
	if (r->snapshot && write_snapshot(r) && !st)
		st = CLI_FAILURE;
	rc = report(r, 1);
	pce_subscriber_destroy(r->sub);
	return st ? st : rc;
}

int cmd_events(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"block-size", required_argument, NULL, 'b'},
		{"interval", required_argument, NULL, 'i'},
		{"duration", required_argument, NULL, 'd'},
		{"window", required_argument, NULL, OPT_WINDOW},
		{"snapshot", required_argument, NULL, OPT_SNAPSHOT},
		{"json", no_argument, NULL, CLI_OPT_JSON},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct run r = {0};
	struct pce_router_config rcfg;
	struct pce_subscriber_config cfg;
	struct pce_subscriber_endpoint *eps = NULL;
	double interval = 1, duration = 0;
	uint64_t block_size = 16, window = 1000;
	sigset_t set;
	int opt, st = CLI_OK;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(usage, stdout);
		return cli_flush("events");
	}
	if (argc < 2 || strcmp(argv[1], "watch") != 0)
		return cli_usage("events", argc < 2 ? "missing subcommand (watch)"
						    : "unknown subcommand '%s'", argv[1]);
	argc--;
	argv++;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":b:i:d:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			if (cli_count("events", "--block-size", optarg, 1, 1u << 20, &block_size))
				return CLI_BADINPUT;
			break;
		case 'i':
			if (parse_seconds("--interval", optarg, 0.01, &interval))
				return CLI_BADINPUT;
			break;
		case 'd':
			if (parse_seconds("--duration", optarg, 0, &duration))
				return CLI_BADINPUT;
			break;
		case OPT_WINDOW:
			if (cli_count("events", "--window", optarg, 1, 1u << 24, &window))
				return CLI_BADINPUT;
			break;
		case OPT_SNAPSHOT:
			r.snapshot = optarg;
			break;
		case CLI_OPT_JSON:
			r.json = 1;
			break;
		default:
			return cli_other_option("events", opt, usage, argv);
		}
	}
	if (optind == argc)
		return cli_usage("events", "no ENDPOINT given");
	if (cli_stdout_check("events"))
		return CLI_FAILURE;
	r.n_tg = (size_t)(argc - optind);
	r.tg = calloc(r.n_tg, sizeof(*r.tg));
	eps = calloc(r.n_tg, sizeof(*eps));
	if (!r.tg || !eps) {
		cli_error("events", "out of memory");
		st = CLI_FAILURE;
		goto out;
	}
	for (size_t i = 0; i < r.n_tg; i++) {
		if ((st = parse_target("events", argv[optind + (int)i], i, &r.tg[i])))
			goto out;
		for (size_t j = 0; j < i; j++)
			if (!r.tg[i].ep.owner_by_rank && !r.tg[j].ep.owner_by_rank &&
			    r.tg[i].ep.owner == r.tg[j].ep.owner) {
				st = cli_usage("events", "owner %u is given to two endpoints",
					       r.tg[i].ep.owner);
				goto out;
			}
		eps[i] = r.tg[i].ep;
	}
	/* Every thread started from here on inherits the mask: the signals
	 * reach sigtimedwait() only. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_mutex_init(&r.w.lock, NULL);
	r.w.window = (size_t)window;
	for (size_t i = 0; i < r.n_tg; i++)
		if (!eps[i].owner_by_rank && !row_get(&r.w, eps[i].owner)) {
			cli_error("events", "out of memory");
			st = CLI_FAILURE;
			goto out_lock;
		}
	pce_router_config_init(&rcfg);
	rcfg.block_size = (uint32_t)block_size;
	if ((st = pce_router_create(&rcfg, &r.w.router))) {
		cli_error("events", "cannot create the router: %s", pce_strerror(st));
		st = CLI_FAILURE;
		goto out_lock;
	}
	pce_subscriber_config_init(&cfg);
	cfg.router = r.w.router;
	cfg.block_size = (uint32_t)block_size;
	cfg.endpoints = eps;
	cfg.n_endpoints = r.n_tg;
	r.tty = !r.json && isatty(STDOUT_FILENO);
	st = watch(&r, &cfg, interval, duration);
	pce_router_destroy(r.w.router);
out_lock:
	for (size_t i = 0; i < r.w.n_rows; i++)
		free(r.w.rows[i].win.r);
	free(r.w.rows);
	free(r.w.win.r);
	free(r.w.match);
	pthread_mutex_destroy(&r.w.lock);
out:
	for (size_t i = 0; r.tg && i < r.n_tg; i++)
		free(r.tg[i].text);
	free(r.tg);
	free(eps);
	free(r.prev_events);
	return st;
}

#else /* !PCE_TOOL_EVENTS */

int cmd_events(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("events", "not built: this pce was configured without libpce_events "
			    "(-DPCE_BUILD_EVENTS=OFF)");
	return CLI_BADINPUT;
}

#endif /* PCE_TOOL_EVENTS */
