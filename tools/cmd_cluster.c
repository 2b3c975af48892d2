/*
 * cmd_cluster.c - `pce cluster demo`: two processes share what they cache
 * through the cluster tier (pce/cluster.h) and one Redis.
 *
 * The demo cuts a trace in two: node A (process 1) stores the first part in
 * its cache, with a tier that publishes every whole chunk to Redis; node B
 * (process 2) starts with an empty cache and replays the rest as an engine
 * would (tiered lookup, then store), so it finds its own earlier requests
 * in L1 and A's prefixes through L2.  Both are this program, run again as
 * `pce cluster node` (exec of /proc/self/exe), so each has its own address
 * space, its own liburcu and its own connection: nothing is shared but
 * Redis.  The parent starts a private redis-server (unless --redis names
 * one), waits until A has published everything (pce_cluster_sync), runs B,
 * stops A (its cache's REMOVED events retract its chunks) and then the
 * server, each by PID.
 *
 * The parent also replays the same requests into one cache (A's part, then
 * B's), the answer a single node holding both parts would give.  With
 * chunks of one cache unit (block-id traces) and nothing evicted, B's best
 * of L1 and L2 equals it request by request; with larger chunks L2 reports
 * whole chunks only, so it can fall short by less than a chunk per request.
 *
 * `pce cluster node` protocol (stdout of the child): the storing node prints
 * "ready\n" once everything it stored is in Redis and then waits for its
 * standard input to close; the replaying node prints one JSON object with
 * its counts.  The cluster secret comes in the environment
 * (PCE_CLUSTER_SECRET, hex), not on the command line.
 *
 * Built only with libpce_cluster (PCE_BUILD_CLUSTER); otherwise the command
 * says so and exits with 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pce/pce.h>

#include "cli.h"
#include "commands.h"

#ifdef PCE_TOOL_CLUSTER

#include <pce/cluster.h>

#include "redis_server.h"
#include "replay.h"

static const char usage[] =
	"Usage: pce cluster demo [OPTION]... INPUT...\n"
	"\n"
	"Show the cluster tier at work: two processes, one Redis.  Node A stores the\n"
	"first part of the trace (--split) in its libpce cache, and its tier publishes\n"
	"each whole chunk to Redis; node B starts with an empty cache and replays the\n"
	"other requests (a tiered lookup, then a store), finding its own earlier\n"
	"requests in its cache (L1) and A's prefixes through Redis (L2).  Unless\n"
	"--redis names a server, a private redis-server is started on a free\n"
	"127.0.0.1 port and stopped at the end.\n"
	"\n"
	"Reported, over B's requests: the tokens asked; the tokens B's own cache\n"
	"matched (local); the tokens L2 found beyond them in A's cache (cross-node);\n"
	"the best of both; and what one cache holding both parts matches (a local\n"
	"replay of the same requests, done by this command).  With one cache unit\n"
	"per chunk (block-id traces) the best of both equals the local replay;\n"
	"larger chunks can fall short by less than a chunk per request.  Also the\n"
	"L2 lookups (answered, unavailable, partial) and their latency: the round\n"
	"trip seen by the tier's Redis thread and the whole tiered lookup seen by\n"
	"the caller (p50, p99, max).\n"
	"\n"
	"Options:\n"
	"  -f, --format FMT         tokens, mooncake, kvtester, text (default: detect)\n"
	"  -b, --block-size N       tokens per id of block-id inputs\n"
	"      --split F            share of the requests node A stores, 0 < F < 1\n"
	"                           (default 0.5)\n"
	"      --chunk N            cache units (ids) per chunk (default: 256 tokens'\n"
	"                           worth, at least one id: 1 for mooncake's 512-token\n"
	"                           blocks)\n"
	"      --redis HOST:PORT    use this Redis instead of starting one (the demo's\n"
	"                           keys carry a fresh prefix and expire)\n"
	"      --budget-us N        longest a tiered lookup waits for L2 (default 20000)\n"
	"      --json               print one JSON object\n"
	"  -h, --help               show this help\n"
	"\n"
	"JSON fields: command, inputs, redis {host, port, started}, split, chunk_ids,\n"
	"node_a {requests, tokens}, node_b {requests, tokens_asked, local_tokens,\n"
	"cross_node_tokens, best_tokens, l2_lookups, l2_hits, l2_unavailable,\n"
	"l2_partial, rtt_us {p50, p99, max}, lookup_us {p50, p99, max}},\n"
	"cross_node_hit_ratio, local_hit_ratio, best_hit_ratio, local_replay_tokens,\n"
	"local_replay_hit_ratio, matches_local_replay, pids {redis, node_a, node_b}.\n"
	"rtt_us: the Redis round trips of B's tier (p50 and p99 are upper bounds of\n"
	"power-of-two buckets); lookup_us: B's tiered lookups that asked L2, as the\n"
	"caller saw them.\n"
	"\n"
	"Exit status: 0 done; 1 a failure (Redis, a node, libpce); 2 bad usage or\n"
	"input, or pce built without the cluster tier.\n";

static const char node_usage[] =
	"Usage: pce cluster node --role store|replay --redis HOST:PORT --first K\n"
	"                        --chunk N --node-id N --key-prefix P [--budget-us N]\n"
	"                        [-f FMT] [-b N] INPUT...\n"
	"\n"
	"One node of 'pce cluster demo' (which runs it; see 'pce cluster demo\n"
	"--help').  store: store requests 0..K-1 with a tier, print \"ready\" once\n"
	"they are in Redis, and wait for standard input to close.  replay: replay\n"
	"requests K.. with tiered lookups and print one JSON object of counts.  The\n"
	"cluster secret is read from PCE_CLUSTER_SECRET (hex, at least 32 digits).\n";

#define SECRET_ENV "PCE_CLUSTER_SECRET"
#define SECRET_BYTES 32
#define SYNC_MS 60000  /* a node's wait for its publishes to reach Redis */
#define READY_MS 300000 /* the parent's wait for node A (a long trace) */

enum {
	OPT_SPLIT = CLI_OPT_FIRST_FREE,
	OPT_CHUNK,
	OPT_REDIS,
	OPT_BUDGET,
	OPT_ROLE,
	OPT_FIRST,
	OPT_NODE_ID,
	OPT_PREFIX
};

struct opts {
	struct cli_input in;
	const char *format, *block_size; /* as given, for the nodes' command lines */
	double split;
	uint64_t chunk;                  /* 0: the default */
	const char *redis;               /* HOST:PORT, NULL: start one */
	char host[256];
	uint16_t port;
	uint64_t budget_us;
	/* node mode */
	const char *role, *prefix;
	uint64_t first, node_id;
};

static int parse_redis(const char *cmd, struct opts *o, const char *s)
{
	const char *colon = strrchr(s, ':');
	uint64_t port;

	if (!colon || colon == s || (size_t)(colon - s) >= sizeof o->host)
		return cli_usage(cmd, "--redis: HOST:PORT expected, not '%s'", s);
	if (cli_count(cmd, "--redis port", colon + 1, 1, 65535, &port))
		return CLI_BADINPUT;
	memcpy(o->host, s, (size_t)(colon - s));
	o->host[colon - s] = '\0';
	o->port = (uint16_t)port;
	o->redis = s;
	return 0;
}

static int parse(const char *cmd, const char *help, int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'f'},
		{"block-size", required_argument, NULL, 'b'},
		{"split", required_argument, NULL, OPT_SPLIT},
		{"chunk", required_argument, NULL, OPT_CHUNK},
		{"redis", required_argument, NULL, OPT_REDIS},
		{"budget-us", required_argument, NULL, OPT_BUDGET},
		{"role", required_argument, NULL, OPT_ROLE},
		{"first", required_argument, NULL, OPT_FIRST},
		{"node-id", required_argument, NULL, OPT_NODE_ID},
		{"key-prefix", required_argument, NULL, OPT_PREFIX},
		{"json", no_argument, NULL, CLI_OPT_JSON},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	int opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":f:b:h", longopts, NULL)) != -1) {
		if (opt == 'f')
			o->format = optarg;
		if (opt == 'b')
			o->block_size = optarg;
		rc = cli_input_option(cmd, &o->in, opt, optarg);
		if (rc < 0)
			return -rc;
		if (rc)
			continue;
		switch (opt) {
		case OPT_SPLIT:
			if (cli_fraction(cmd, "--split", optarg, 0, 1, 1, &o->split))
				return CLI_BADINPUT;
			if (o->split <= 0)
				return cli_usage(cmd, "--split must be above 0");
			break;
		case OPT_CHUNK:
			if (cli_count(cmd, "--chunk", optarg, 1, 1u << 20, &o->chunk))
				return CLI_BADINPUT;
			break;
		case OPT_REDIS:
			if (parse_redis(cmd, o, optarg))
				return CLI_BADINPUT;
			break;
		case OPT_BUDGET:
			if (cli_count(cmd, "--budget-us", optarg, 1, 60000000, &o->budget_us))
				return CLI_BADINPUT;
			break;
		case OPT_ROLE:
			o->role = optarg;
			break;
		case OPT_FIRST:
			if (cli_count(cmd, "--first", optarg, 0, UINT64_MAX, &o->first))
				return CLI_BADINPUT;
			break;
		case OPT_NODE_ID:
			if (cli_count(cmd, "--node-id", optarg, 0, UINT32_MAX, &o->node_id))
				return CLI_BADINPUT;
			break;
		case OPT_PREFIX:
			o->prefix = optarg;
			break;
		default:
			rc = cli_other_option(cmd, opt, help, argv);
			return rc == CLI_OK ? -1 : rc;
		}
	}
	return 0;
}

/* ---- latency samples ---- */

struct samples {
	double *v;
	size_t n, cap;
};

static int samples_add(struct samples *s, double us)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		double *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = us;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The @q quantile (nearest rank) of @s, sorted by the first call. */
static double samples_quantile(struct samples *s, double q)
{
	size_t i;

	if (!s->n)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	i = (size_t)ceil(q * (double)s->n);
	return s->v[i ? i - 1 : 0];
}

/* ---- one node (pce cluster node) ---- */

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The secret from the environment; its length, 0 if absent or malformed. */
static size_t secret_from_env(unsigned char *out, size_t max)
{
	const char *s = getenv(SECRET_ENV);
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[0] && s[1] && n < max; s += 2, n++) {
		int hi = hexval(s[0]), lo = hexval(s[1]);

		if (hi < 0 || lo < 0)
			return 0;
		out[n] = (unsigned char)(hi << 4 | lo);
	}
	return s[0] ? 0 : n;
}

struct node {
	const char *cmd;
	struct opts *o;
	struct pce_cluster *tier;
	struct pce_replay rp;
	struct pce_trace *tr;
	/* replay counts */
	uint64_t requests, tokens, local, cross, best;
	struct samples lookup_us;
};

static int node_fail(struct node *n, int rc, const char *what)
{
	cli_error(n->cmd, "%s: %s", what, pce_strerror(rc));
	return CLI_FAILURE;
}

static int node_setup(struct node *n, unsigned char *secret, size_t secret_len)
{
	struct pce_cluster_config cc;
	const char *err;
	int rc;

	pce_cluster_config_init(&cc);
	cc.host = n->o->host;
	cc.port = n->o->port;
	cc.key_prefix = n->o->prefix;
	cc.node_id = (uint32_t)n->o->node_id;
	cc.secret = secret;
	cc.secret_len = secret_len;
	cc.chunk_tokens = (uint32_t)n->o->chunk;
	cc.budget_us = (uint32_t)n->o->budget_us;
	/* A request of a long trace may have many chunks: ask about them all,
	 * so that a depth is never a lower bound for want of asking. */
	cc.max_lookup_chunks = 1u << 16;
	err = pce_cluster_config_error(&cc);
	if (err) {
		cli_error(n->cmd, "%s", err);
		return CLI_BADINPUT;
	}
	rc = pce_cluster_create(&cc, &n->tier);
	if (rc)
		return node_fail(n, rc, "cluster tier");
	rc = pce_replay_init(&n->rp, 0, PCE_POLICY_CLOCK_LRU, pce_cluster_on_event, n->tier);
	if (rc)
		return node_fail(n, rc, "cache");
	rc = pce_cluster_attach_cache(n->tier, n->rp.cache);
	if (rc)
		return node_fail(n, rc, "attach");
	return 0;
}

/* A storing node: requests [0, first), then "ready" and a wait for EOF. */
static int node_store(struct node *n)
{
	struct pce_trace_request r;
	struct pce_replay_hit hit;
	char buf[64];
	int rc;

	while ((rc = pce_trace_next(n->tr, &r)) == PCE_TRACE_REQUEST && r.index < n->o->first) {
		rc = pce_replay_request(&n->rp, &r, &hit);
		if (rc)
			return node_fail(n, rc, "store");
	}
	if (rc < 0)
		return cli_pass_status(n->cmd, n->tr, rc, "", 1);
	rc = pce_cluster_sync(n->tier, SYNC_MS);
	if (rc)
		return node_fail(n, rc, "publish to Redis");
	printf("ready\n");
	if (fflush(stdout))
		return CLI_FAILURE;
	while (read(0, buf, sizeof buf) > 0)
		;
	return CLI_OK;
}

/* The tokens of @r that node B found: its own cache's match, and the
 * deepest other owner's. */
static int node_replay_one(struct node *n, const struct pce_trace_request *r)
{
	struct pce_overlap owners[8];
	struct pce_cluster_result res;
	struct pce_replay_hit hit;
	uint64_t local, remote = 0;
	double t0 = cli_seconds();
	int rc;

	rc = pce_cluster_lookup(n->tier, r->ns, r->ids, r->len, NULL, owners, 8, &res);
	if (rc)
		return node_fail(n, rc, "tiered lookup");
	if (!(res.flags & PCE_CLUSTER_LOCAL) && samples_add(&n->lookup_us, (cli_seconds() - t0) * 1e6))
		return node_fail(n, PCE_ENOMEM, "latency samples");
	local = pce_trace_tokens_for(r, res.local.tokens);
	if (res.n_owners)
		remote = pce_trace_tokens_for(r, owners[0].tokens);
	n->requests++;
	n->tokens += r->tokens;
	n->local += local;
	n->cross += remote > local ? remote - local : 0;
	n->best += remote > local ? remote : local;
	/* Store as an engine would once it has computed the request. */
	rc = pce_replay_request(&n->rp, r, &hit);
	return rc ? node_fail(n, rc, "store") : 0;
}

static void json_pcts(cJSON *o, const char *key, double p50, double p99, double max)
{
	cJSON *p = cJSON_AddObjectToObject(o, key);

	if (!p)
		return;
	cJSON_AddNumberToObject(p, "p50", p50);
	cJSON_AddNumberToObject(p, "p99", p99);
	cJSON_AddNumberToObject(p, "max", max);
}

static int node_replay(struct node *n)
{
	struct pce_trace_request r;
	struct pce_cluster_stats st;
	cJSON *o;
	int rc;

	/* Registered before the first lookup, so that the first one asks. */
	rc = pce_cluster_sync(n->tier, SYNC_MS);
	if (rc)
		return node_fail(n, rc, "connect to Redis");
	while ((rc = pce_trace_next(n->tr, &r)) == PCE_TRACE_REQUEST) {
		if (r.index >= n->o->first && (rc = node_replay_one(n, &r)))
			return rc;
	}
	if (rc < 0)
		return cli_pass_status(n->cmd, n->tr, rc, "", 1);
	pce_cluster_stats_get(n->tier, &st);
	o = cJSON_CreateObject();
	if (!o)
		return node_fail(n, PCE_ENOMEM, "output");
	cli_json_u64(o, "requests", n->requests);
	cli_json_u64(o, "tokens_asked", n->tokens);
	cli_json_u64(o, "local_tokens", n->local);
	cli_json_u64(o, "cross_node_tokens", n->cross);
	cli_json_u64(o, "best_tokens", n->best);
	cli_json_u64(o, "l2_lookups", st.l2_lookups);
	cli_json_u64(o, "l2_hits", st.l2_hits);
	cli_json_u64(o, "l2_unavailable", st.l2_unavailable);
	cli_json_u64(o, "l2_partial", st.l2_partial);
	json_pcts(o, "rtt_us", (double)st.rtt_p50_us, (double)st.rtt_p99_us,
		  (double)st.rtt_max_us);
	json_pcts(o, "lookup_us", samples_quantile(&n->lookup_us, 0.5),
		  samples_quantile(&n->lookup_us, 0.99), samples_quantile(&n->lookup_us, 1));
	return cli_print_json(n->cmd, o);
}

static int cmd_node(int argc, char **argv)
{
	static const char cmd[] = "cluster node";
	unsigned char secret[64];
	size_t secret_len = secret_from_env(secret, sizeof secret);
	struct opts o = {.budget_us = 20000};
	struct node n = {.cmd = cmd, .o = &o};
	struct cli_progress bar;
	int rc = parse(cmd, node_usage, argc, argv, &o);

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (!o.role || (strcmp(o.role, "store") && strcmp(o.role, "replay")))
		return cli_usage(cmd, "--role store or --role replay expected");
	if (!o.redis || !o.prefix || !o.chunk)
		return cli_usage(cmd, "--redis, --key-prefix and --chunk are required");
	if (secret_len < PCE_CLUSTER_MIN_SECRET)
		return cli_usage(cmd, "%s must hold at least %u bytes in hex", SECRET_ENV,
				 PCE_CLUSTER_MIN_SECRET);
	cli_progress_start(&bar, cmd, 0);
	rc = cli_open(cmd, &o.in, argv + optind, argc - optind, &bar, &n.tr);
	if (!rc)
		rc = node_setup(&n, secret, secret_len);
	if (!rc)
		rc = strcmp(o.role, "store") ? node_replay(&n) : node_store(&n);
	/* The cache first: its REMOVED events retract what the node published. */
	pce_replay_destroy(&n.rp);
	pce_cluster_destroy(n.tier);
	pce_trace_close(n.tr);
	free(n.lookup_us.v);
	return rc;
}

/* ---- the demo (pce cluster demo) ---- */

struct child {
	pid_t pid;
	int in, out; /* our ends of its stdin and stdout; -1: closed */
};

/* Start "pce cluster node ARGS" with pipes on its stdin and stdout. */
static int spawn(const char *cmd, char **args, struct child *c)
{
	int in[2], out[2];

	c->pid = 0;
	c->in = c->out = -1;
	if (pipe2(in, O_CLOEXEC))
		goto fail;
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		goto fail;
	}
	fflush(NULL);
	c->pid = fork();
	if (c->pid == 0) {
		/* Only async-signal-safe calls until exec. */
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv("/proc/self/exe", args);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (c->pid < 0) {
		close(in[1]);
		close(out[0]);
		c->pid = 0;
		goto fail;
	}
	c->in = in[1];
	c->out = out[0];
	return 0;
fail:
	cli_error(cmd, "cannot start a node: %s", strerror(errno));
	return CLI_FAILURE;
}

/* Read the child's stdout until EOF, or until a line equal to @line if
 * @line, at most @timeout_ms.  Return: 0, or -1 (timeout, EOF first). */
static int read_child(struct child *c, char *buf, size_t n, const char *line, int timeout_ms)
{
	struct pollfd p = {.fd = c->out, .events = POLLIN};
	double end = cli_seconds() + timeout_ms / 1e3;
	size_t got = 0;

	for (;;) {
		int left = (int)((end - cli_seconds()) * 1e3);
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -1;
		r = read(c->out, buf + got, n - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		buf[got] = '\0';
		if ((line && strstr(buf, line)) || got == n - 1)
			return line ? 0 : -1;
	}
	buf[got] = '\0';
	return line ? -1 : 0;
}

/* Close the child's pipes, wait for it (SIGKILL after @timeout_ms).
 * Return: its exit status, or -1 if it died of a signal. */
static int reap(struct child *c, int timeout_ms)
{
	double end = cli_seconds() + timeout_ms / 1e3;
	int st = 0;

	if (c->in >= 0)
		close(c->in);
	if (c->out >= 0)
		close(c->out);
	c->in = c->out = -1;
	if (c->pid <= 0)
		return -1;
	while (waitpid(c->pid, &st, WNOHANG) == 0) {
		if (cli_seconds() > end) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &st, 0);
			break;
		}
		usleep(2000);
	}
	c->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct demo {
	struct opts o;
	struct pce_trace *tr;
	uint64_t n;                   /* requests of the trace */
	uint64_t a_tokens;            /* tokens of A's part */
	uint64_t replay_tokens;       /* B's part's tokens matched by one cache */
	uint32_t block_size;
	struct redis_server server;
	pid_t pids[3];
	cJSON *b;                     /* node B's counts */
};

/* Count the requests, then replay all into one cache: what a single node
 * holding A's part would find for B's. */
static int local_replay(const char *cmd, struct demo *d)
{
	struct pce_trace_request r;
	struct pce_replay rp;
	struct pce_replay_hit hit;
	int rc, err;

	while ((rc = pce_trace_next(d->tr, &r)) == PCE_TRACE_REQUEST)
		d->n++;
	rc = cli_pass_status(cmd, d->tr, rc, "", d->n);
	if (rc)
		return rc;
	if (d->n < 2) {
		cli_error(cmd, "the input holds one request: nothing to split");
		return CLI_BADINPUT;
	}
	d->o.first = (uint64_t)floor(d->o.split * (double)d->n);
	if (!d->o.first)
		d->o.first = 1;
	if (pce_trace_rewind(d->tr))
		return cli_pass_status(cmd, d->tr, PCE_TRACE_EIO, "", 0);
	err = pce_replay_init(&rp, 0, PCE_POLICY_CLOCK_LRU, NULL, NULL);
	while (!err && (rc = pce_trace_next(d->tr, &r)) == PCE_TRACE_REQUEST) {
		err = pce_replay_request(&rp, &r, &hit);
		if (r.index < d->o.first)
			d->a_tokens += r.tokens;
		else
			d->replay_tokens += hit.ids ? hit.tokens : 0;
	}
	pce_replay_destroy(&rp);
	if (err) {
		cli_error(cmd, "local replay: %s", pce_strerror(err));
		return CLI_FAILURE;
	}
	return cli_pass_status(cmd, d->tr, rc, "", d->n);
}

/* The command line of node @role (argv for execv, in @store). */
static char **node_args(struct demo *d, char **argv_in, int nin, const char *role,
			const char *node_id, const char *prefix, char num[3][32], char redis[300],
			char **store, size_t max)
{
	size_t k = 0;

	snprintf(num[0], 32, "%llu", (unsigned long long)d->o.first);
	snprintf(num[1], 32, "%llu", (unsigned long long)d->o.chunk);
	snprintf(num[2], 32, "%llu", (unsigned long long)d->o.budget_us);
	snprintf(redis, 300, "%s:%u", d->o.host, d->o.port);
	store[k++] = "pce";
	store[k++] = "cluster";
	store[k++] = "node";
	store[k++] = "--role";
	store[k++] = (char *)role;
	store[k++] = "--redis";
	store[k++] = redis;
	store[k++] = "--first";
	store[k++] = num[0];
	store[k++] = "--chunk";
	store[k++] = num[1];
	store[k++] = "--budget-us";
	store[k++] = num[2];
	store[k++] = "--node-id";
	store[k++] = (char *)node_id;
	store[k++] = "--key-prefix";
	store[k++] = (char *)prefix;
	if (d->o.format) {
		store[k++] = "-f";
		store[k++] = (char *)d->o.format;
	}
	if (d->o.block_size) {
		store[k++] = "-b";
		store[k++] = (char *)d->o.block_size;
	}
	store[k++] = "--";
	for (int i = 0; i < nin && k + 1 < max; i++)
		store[k++] = argv_in[i];
	store[k] = NULL;
	return store;
}

static int set_secret(const char *cmd)
{
	unsigned char s[SECRET_BYTES];
	char hex[2 * SECRET_BYTES + 1];
	FILE *f = fopen("/dev/urandom", "rb");
	size_t got = f ? fread(s, 1, sizeof s, f) : 0;

	if (f)
		fclose(f);
	if (got != sizeof s) {
		cli_error(cmd, "cannot read /dev/urandom for the cluster secret");
		return CLI_FAILURE;
	}
	for (size_t i = 0; i < sizeof s; i++)
		snprintf(hex + 2 * i, 3, "%02x", s[i]);
	if (setenv(SECRET_ENV, hex, 1)) {
		cli_error(cmd, "setenv: %s", strerror(errno));
		return CLI_FAILURE;
	}
	return 0;
}

/* Run node A, then node B; B's counts into d->b. */
static int run_nodes(const char *cmd, struct demo *d, char **inputs, int nin)
{
	char num[2][3][32], redis[2][300], prefix[48], out[1 << 16];
	char *args[2][40 + 256];
	struct child a, b;
	int rc, st;

	if (nin > 256)
		return cli_usage(cmd, "at most 256 inputs");
	/* A fresh key prefix: runs sharing a Redis never see each other. */
	snprintf(prefix, sizeof prefix, "pcedemo%ld.%ld", (long)getpid(), (long)time(NULL));
	node_args(d, inputs, nin, "store", "1", prefix, num[0], redis[0], args[0], 296);
	node_args(d, inputs, nin, "replay", "2", prefix, num[1], redis[1], args[1], 296);
	rc = spawn(cmd, args[0], &a);
	if (rc)
		return rc;
	d->pids[1] = a.pid;
	if (read_child(&a, out, sizeof out, "ready\n", READY_MS)) {
		st = reap(&a, 5000);
		cli_error(cmd, "node A (pid %ld) failed to store its part (exit %d)",
			  (long)d->pids[1], st);
		return CLI_FAILURE;
	}
	rc = spawn(cmd, args[1], &b);
	if (rc) {
		reap(&a, 5000);
		return rc;
	}
	d->pids[2] = b.pid;
	rc = read_child(&b, out, sizeof out, NULL, READY_MS);
	st = reap(&b, 5000);
	/* Closing A's stdin tells it to stop: it retracts what it published. */
	if (reap(&a, 30000) != 0)
		cli_error(cmd, "node A (pid %ld) did not stop cleanly", (long)d->pids[1]);
	if (rc || st != 0) {
		cli_error(cmd, "node B (pid %ld) failed (exit %d)", (long)d->pids[2], st);
		return CLI_FAILURE;
	}
	d->b = cJSON_Parse(out);
	if (!d->b) {
		cli_error(cmd, "node B printed no JSON object");
		return CLI_FAILURE;
	}
	return 0;
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

static int report_json(struct demo *d)
{
	cJSON *o = cJSON_CreateObject(), *r, *a, *p;
	double asked = num(d->b, "tokens_asked");

	if (!o)
		return CLI_FAILURE;
	cli_json_string(o, "command", "cluster demo");
	cJSON_AddItemToObject(o, "inputs", cli_inputs_json(d->tr));
	r = cJSON_AddObjectToObject(o, "redis");
	if (r) {
		cli_json_string(r, "host", d->o.host);
		cli_json_u64(r, "port", d->o.port);
		cJSON_AddBoolToObject(r, "started", !d->o.redis);
	}
	cJSON_AddNumberToObject(o, "split", d->o.split);
	cli_json_u64(o, "chunk_ids", d->o.chunk);
	a = cJSON_AddObjectToObject(o, "node_a");
	if (a) {
		cli_json_u64(a, "requests", d->o.first);
		cli_json_u64(a, "tokens", d->a_tokens);
	}
	cJSON_AddItemToObject(o, "node_b", d->b);
	cJSON_AddNumberToObject(o, "cross_node_hit_ratio",
				ratio(num(d->b, "cross_node_tokens"), asked));
	cJSON_AddNumberToObject(o, "local_hit_ratio", ratio(num(d->b, "local_tokens"), asked));
	cJSON_AddNumberToObject(o, "best_hit_ratio", ratio(num(d->b, "best_tokens"), asked));
	cli_json_u64(o, "local_replay_tokens", d->replay_tokens);
	cJSON_AddNumberToObject(o, "local_replay_hit_ratio", ratio((double)d->replay_tokens, asked));
	cJSON_AddBoolToObject(o, "matches_local_replay",
			      num(d->b, "best_tokens") == (double)d->replay_tokens);
	p = cJSON_AddObjectToObject(o, "pids");
	if (p) {
		cli_json_u64(p, "redis", (uint64_t)d->pids[0]);
		cli_json_u64(p, "node_a", (uint64_t)d->pids[1]);
		cli_json_u64(p, "node_b", (uint64_t)d->pids[2]);
	}
	d->b = NULL; /* owned by o now */
	return cli_print_json("cluster", o);
}

static void pct_line(const char *label, const cJSON *b, const char *key, int bounds)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(b, key);

	printf("%-22s p50 %.0f us, p99 %.0f us, max %.0f us%s\n", label, num(p, "p50"),
	       num(p, "p99"), num(p, "max"), bounds ? " (p50, p99: bucket upper bounds)" : "");
}

static int report_table(struct demo *d)
{
	char desc[512], g[5][32];
	double asked = num(d->b, "tokens_asked");
	const cJSON *b = d->b;

	cli_describe_inputs(d->tr, desc, sizeof desc);
	printf("input                  %s\n", desc);
	printf("redis                  %s:%u (%s)\n", d->o.host, d->o.port,
	       d->o.redis ? "given" : "started for the demo, stopped");
	printf("chunk                  %llu ids\n", (unsigned long long)d->o.chunk);
	printf("node A stored          %s requests, %s tokens\n", cli_group(d->o.first, g[0]),
	       cli_group(d->a_tokens, g[1]));
	printf("node B replayed        %s requests, %s tokens asked\n",
	       cli_group((uint64_t)num(b, "requests"), g[0]), cli_group((uint64_t)asked, g[1]));
	printf("  local (own L1)       %s tokens  %.2f%%\n",
	       cli_group((uint64_t)num(b, "local_tokens"), g[2]),
	       100 * ratio(num(b, "local_tokens"), asked));
	printf("  cross-node (L2)      %s tokens  %.2f%%  beyond local, held by node A\n",
	       cli_group((uint64_t)num(b, "cross_node_tokens"), g[3]),
	       100 * ratio(num(b, "cross_node_tokens"), asked));
	printf("  best of both         %s tokens  %.2f%%\n",
	       cli_group((uint64_t)num(b, "best_tokens"), g[4]),
	       100 * ratio(num(b, "best_tokens"), asked));
	printf("one cache, same reqs   %s tokens  %.2f%%  (%s)\n",
	       cli_group(d->replay_tokens, g[0]), 100 * ratio((double)d->replay_tokens, asked),
	       num(b, "best_tokens") == (double)d->replay_tokens ? "equal" : "differs");
	printf("L2 lookups             %s: %s named node A, %s unavailable, %s partial\n",
	       cli_group((uint64_t)num(b, "l2_lookups"), g[0]),
	       cli_group((uint64_t)num(b, "l2_hits"), g[1]),
	       cli_group((uint64_t)num(b, "l2_unavailable"), g[2]),
	       cli_group((uint64_t)num(b, "l2_partial"), g[3]));
	pct_line("L2 round trip", b, "rtt_us", 1);
	pct_line("tiered lookup", b, "lookup_us", 0);
	return cli_flush("cluster");
}

static int cmd_demo(int argc, char **argv)
{
	static const char cmd[] = "cluster demo";
	struct demo d = {.o = {.split = 0.5, .budget_us = 20000}};
	struct cli_progress bar;
	char err[256];
	int rc = parse(cmd, usage, argc, argv, &d.o);

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (d.o.role || d.o.prefix || d.o.first || d.o.node_id)
		return cli_usage(cmd, "--role, --first, --node-id and --key-prefix are for "
				      "'pce cluster node'");
	rc = cli_stdout_check(cmd);
	if (rc)
		return rc;
	d.o.in.trace.rewindable = 1;
	cli_progress_start(&bar, cmd, 0);
	rc = cli_open(cmd, &d.o.in, argv + optind, argc - optind, &bar, &d.tr);
	if (rc)
		goto out;
	d.block_size = cli_block_size(d.tr);
	if (!d.o.chunk)
		d.o.chunk = d.block_size >= 256 || !d.block_size ? 1 : 256 / d.block_size;
	rc = local_replay(cmd, &d);
	if (rc)
		goto out;
	rc = set_secret(cmd);
	if (rc)
		goto out;
	if (!d.o.redis) {
		if (redis_server_start(&d.server, 0, NULL, err, sizeof err)) {
			cli_error(cmd, "%s", err);
			rc = CLI_FAILURE;
			goto out;
		}
		snprintf(d.o.host, sizeof d.o.host, "127.0.0.1");
		d.o.port = (uint16_t)d.server.port;
		d.pids[0] = d.server.pid;
	}
	rc = run_nodes(cmd, &d, argv + optind, argc - optind);
	if (!rc)
		rc = d.o.in.json ? report_json(&d) : report_table(&d);
out:
	redis_server_stop(&d.server);
	cJSON_Delete(d.b);
	pce_trace_close(d.tr);
	return rc;
}

static const char cluster_usage[] =
	"Usage: pce cluster demo [OPTION]... INPUT...\n"
	"       pce cluster node ...   (one node of the demo)\n"
	"\n"
	"See 'pce cluster demo --help'.\n";

int cmd_cluster(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "demo"))
		return cmd_demo(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "node"))
		return cmd_node(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(cluster_usage, stdout);
		return CLI_OK;
	}
	fputs(cluster_usage, stderr);
	return CLI_BADINPUT;
}

#else /* !PCE_TOOL_CLUSTER */

int cmd_cluster(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("cluster", "not built: this pce was configured with PCE_BUILD_CLUSTER=OFF "
			     "(the cluster tier needs hiredis and xxHash)");
	return CLI_BADINPUT;
}

#endif /* PCE_TOOL_CLUSTER */
