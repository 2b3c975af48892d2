/*
 * cluster_quick.c - bench_cluster: the cluster tier (pce/cluster.h) against
 * a private redis-server (tools/redis_server.c, a free 127.0.0.1 port).
 *
 * Experiments (docs/cluster.md, "Benchmarks"):
 *   clients   tiered lookups/s and p50/p99 through L2 with 1, 2 and 4 client
 *             processes (this binary run again with --client), each with an
 *             empty cache and its own tier, asking for prompts of 4K tokens
 *             one owner published;
 *   length    per prompt length (1K, 4K, 16K, 32K tokens): Redis' own time
 *             per lookup (INFO commandstats usec_per_call of EVALSHA) and
 *             the round trips per lookup (EVALSHA calls; INFO stats
 *             total_commands_processed also counts the commands the
 *             script runs inside Redis, one per chunk read);
 *   publish   chunks published per second (store, then pce_cluster_sync);
 *   local     local lookups/s (L1 covers the query, L2 not asked) through a
 *             tier against pce_cache_lookup() on a cache without one,
 *             interleaved rounds, the median ratio;
 *   down      Redis SIGKILLed: local lookups/s through the tier, and the
 *             p99/max of tiered lookups that would ask L2 (budget 1 ms).
 * Latencies are whole pce_cluster_lookup() calls as the caller sees them.
 * Output: one line per figure, "key value" (keys name the experiment).
 * Never part of the test command.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <pce/cluster.h>
#include <pce/pce.h>

#include "redis_server.h"
#include "timing.h"

#define CLIENT_PROMPTS 256
#define CLIENT_TOKENS 4096
#define CLIENT_NS 1
#define MAX_SAMPLES (1u << 22)

static const unsigned char secret[32] = "bench_cluster secret, 32 bytes.";

/* Token t of prompt p of namespace ns: distinct everywhere. */
static void prompt(uint64_t ns, uint32_t p, uint32_t *out, size_t len)
{
	for (size_t t = 0; t < len; t++) {
		uint64_t x = (ns << 48) ^ ((uint64_t)p << 24) ^ t;

		x = (x ^ (x >> 31)) * 0x9e3779b97f4a7c15ull;
		out[t] = (uint32_t)(x ^ (x >> 29));
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static uint64_t quantile(uint64_t *v, size_t n, double q)
{
	size_t i = (size_t)ceil(q * (double)n);

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[i ? i - 1 : 0];
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_cluster: %s: %s\n", what, rc ? pce_strerror(rc) : strerror(errno));
	exit(1);
}

struct node {
	struct pce_cluster *tier;
	struct pce_cache *cache;
};

static void node_open(struct node *n, int port, uint32_t id, uint32_t budget_us)
{
	struct pce_cluster_config cc;
	struct pce_config cfg;
	int rc;

	pce_cluster_config_init(&cc);
	cc.port = (uint16_t)port;
	cc.node_id = id;
	cc.secret = secret;
	cc.secret_len = sizeof secret;
	cc.budget_us = budget_us;
	if ((rc = pce_cluster_create(&cc, &n->tier)))
		die("pce_cluster_create", rc);
	pce_config_init(&cfg);
	cfg.on_event = pce_cluster_on_event;
	cfg.event_ctx = n->tier;
	if ((rc = pce_cache_create(&cfg, &n->cache)))
		die("pce_cache_create", rc);
	if ((rc = pce_cluster_attach_cache(n->tier, n->cache)))
		die("pce_cluster_attach_cache", rc);
	pce_cluster_sync(n->tier, 5000); /* a dead Redis is a measured case */
}

static void node_close(struct node *n)
{
	pce_cache_destroy(n->cache);
	pce_cluster_destroy(n->tier);
}

static void store(struct node *n, uint64_t ns, uint32_t prompts, size_t len)
{
	uint32_t *tok = malloc(len * sizeof(*tok));

	if (!tok)
		die("malloc", PCE_ENOMEM);
	for (uint32_t p = 0; p < prompts; p++) {
		int rc;

		prompt(ns, p, tok, len);
		rc = pce_cache_store(n->cache, ns, tok, len, p, 0, NULL, NULL);
		if (rc && rc != PCE_EEXIST)
			die("pce_cache_store", rc);
	}
	free(tok);
}

struct run {
	uint64_t ops, unavailable, hits;
	double seconds;
	uint64_t *lat;
	size_t n_lat;
};

/* Tiered lookups of prompts [0, prompts) of @ns for @seconds. */
static void lookups(struct node *n, uint64_t ns, uint32_t prompts, size_t len, double seconds,
		    struct run *r)
{
	uint32_t *tok = malloc((size_t)prompts * len * sizeof(*tok));
	struct pce_overlap own[4];
	struct pce_cluster_result res;
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);

	memset(r, 0, sizeof(*r));
	r->lat = malloc(MAX_SAMPLES * sizeof(*r->lat));
	if (!tok || !r->lat)
		die("malloc", PCE_ENOMEM);
	for (uint32_t p = 0; p < prompts; p++)
		prompt(ns, p, tok + (size_t)p * len, len);
	for (uint64_t t = start; t < end; r->ops++) {
		uint64_t t0 = now_ns();
		int rc = pce_cluster_lookup(n->tier, ns, tok + (r->ops % prompts) * len, len, NULL,
					    own, 4, &res);

		if (rc)
			die("pce_cluster_lookup", rc);
		t = now_ns();
		if (r->n_lat < MAX_SAMPLES)
			r->lat[r->n_lat++] = t - t0;
		r->unavailable += !!(res.flags & PCE_CLUSTER_UNAVAILABLE);
		r->hits += res.n_owners > 0;
	}
	r->seconds = (double)(now_ns() - start) / 1e9;
	free(tok);
}

/* --client PORT ID SECONDS: one client process of the "clients" run. */
static int client(int port, uint32_t id, double seconds)
{
	struct node n;
	struct run r;

	node_open(&n, port, id, 1000000);
	lookups(&n, CLIENT_NS, CLIENT_PROMPTS, CLIENT_TOKENS, seconds, &r);
	printf("%llu %llu %llu %.6f %llu %llu\n", (unsigned long long)r.ops,
	       (unsigned long long)r.unavailable, (unsigned long long)r.hits, r.seconds,
	       (unsigned long long)quantile(r.lat, r.n_lat, 0.5),
	       (unsigned long long)quantile(r.lat, r.n_lat, 0.99));
	free(r.lat);
	node_close(&n);
	return 0;
}

static void exp_clients(int port, double seconds)
{
	static const int counts[] = {1, 2, 4};

	for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
		FILE *out[4];
		double ops_s = 0;
		uint64_t p50 = 0, p99 = 0, unav = 0, hits = 0, ops = 0;
		char cmd[512];

		for (int i = 0; i < counts[c]; i++) {
			snprintf(cmd, sizeof cmd, "/proc/%ld/exe --client %d %d %.3f",
				 (long)getpid(), port, 100 + i, seconds);
			out[i] = popen(cmd, "r");
			if (!out[i])
				die("popen", 0);
		}
		for (int i = 0; i < counts[c]; i++) {
			unsigned long long o, u, h, a, b;
			double s;

			if (fscanf(out[i], "%llu %llu %llu %lf %llu %llu", &o, &u, &h, &s, &a, &b) != 6)
				die("client output", 0);
			pclose(out[i]);
			ops += o;
			unav += u;
			hits += h;
			ops_s += (double)o / s;
			p50 = a > p50 ? a : p50; /* the slowest client's */
			p99 = b > p99 ? b : p99;
		}
		printf("clients.%d.lookups_per_s %.0f\n", counts[c], ops_s);
		printf("clients.%d.p50_us %.1f\n", counts[c], (double)p50 / 1e3);
		printf("clients.%d.p99_us %.1f\n", counts[c], (double)p99 / 1e3);
		printf("clients.%d.hit_fraction %.4f\n", counts[c], ops ? (double)hits / (double)ops : 0);
		printf("clients.%d.unavailable %llu\n", counts[c], (unsigned long long)unav);
		fflush(stdout);
	}
}

static redisContext *admin(int port)
{
	struct timeval tv = {2, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

	if (!c || c->err)
		die("redis connect", 0);
	redisSetTimeout(c, tv);
	return c;
}

/* The number after @field in the line of INFO @section that starts with
 * @line (-1 if absent). */
static double info_field(redisContext *c, const char *section, const char *line,
			 const char *field)
{
	redisReply *r = redisCommand(c, "INFO %s", section);
	const char *p, *q;
	double v = -1;

	if (r && r->type == REDIS_REPLY_STRING && (p = strstr(r->str, line)) &&
	    (q = strstr(p, field)) && !memchr(p, '\n', (size_t)(q - p)))
		v = strtod(q + strlen(field), NULL);
	freeReplyObject(r);
	return v;
}

static void exp_length(struct node *owner, struct node *asker, int port, double seconds)
{
	static const size_t lens[] = {1024, 4096, 16384, 32768};
	redisContext *c = admin(port);

	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		uint64_t ns = 10 + i;
		struct run r;
		double before, after, calls, usec;

		store(owner, ns, 64, lens[i]);
		pce_cluster_sync(owner->tier, 60000);
		freeReplyObject(redisCommand(c, "CONFIG RESETSTAT"));
		before = info_field(c, "stats", "total_commands_processed:", ":");
		lookups(asker, ns, 64, lens[i], seconds, &r);
		after = info_field(c, "stats", "total_commands_processed:", ":");
		calls = info_field(c, "commandstats", "cmdstat_evalsha:", "calls=");
		usec = info_field(c, "commandstats", "cmdstat_evalsha:", "usec_per_call=");
		/* after - before counts the first INFO itself once, and every
		 * command the script runs inside Redis (redis.call): not round
		 * trips, which are the EVALSHA calls. */
		printf("length.%zu.lookups_per_s %.0f\n", lens[i], (double)r.ops / r.seconds);
		printf("length.%zu.p50_us %.1f\n", lens[i],
		       (double)quantile(r.lat, r.n_lat, 0.5) / 1e3);
		printf("length.%zu.p99_us %.1f\n", lens[i],
		       (double)quantile(r.lat, r.n_lat, 0.99) / 1e3);
		printf("length.%zu.evalsha_per_lookup %.3f\n", lens[i], calls / (double)r.ops);
		printf("length.%zu.server_usec_per_lookup %.2f\n", lens[i], usec);
		printf("length.%zu.server_commands_per_lookup %.3f\n", lens[i],
		       (after - before - 1) / (double)r.ops);
		printf("length.%zu.hit_fraction %.4f\n", lens[i], (double)r.hits / (double)r.ops);
		fflush(stdout);
		free(r.lat);
	}
	redisFree(c);
}

static void exp_publish(int port)
{
	struct node n;
	struct pce_cluster_stats st;
	uint64_t t0;
	double s;

	node_open(&n, port, 50, 1000);
	t0 = now_ns();
	store(&n, 30, 2048, 4096); /* 2,048 x 16 chunks of 256 tokens */
	if (pce_cluster_sync(n.tier, 120000))
		die("pce_cluster_sync", PCE_ETIMEDOUT);
	s = (double)(now_ns() - t0) / 1e9;
	pce_cluster_stats_get(n.tier, &st);
	printf("publish.chunks %llu\n", (unsigned long long)st.published);
	printf("publish.errors %llu\n", (unsigned long long)st.publish_errors);
	printf("publish.chunks_per_s %.0f\n", (double)st.published / s);
	fflush(stdout);
	node_close(&n);
}

/* Local lookups/s: @n's own prompts of ns 40 (L1 covers them), through
 * the tier, or through pce_cache_lookup() of @plain. */
static double local_rate(struct pce_cluster *tier, struct pce_cache *plain, double seconds)
{
	enum { P = 256, L = 4096 };
	static uint32_t tok[P * L];
	static int made;
	struct pce_cluster_result res;
	struct pce_match m;
	uint64_t ops = 0, start = now_ns(), end = start + (uint64_t)(seconds * 1e9);

	if (!made) {
		for (uint32_t p = 0; p < P; p++)
			prompt(40, p, tok + (size_t)p * L, L);
		made = 1;
	}
	while (now_ns() < end) {
		for (int k = 0; k < 256; k++, ops++) {
			const uint32_t *q = tok + (ops % P) * L;
			int rc = tier ? pce_cluster_lookup(tier, 40, q, L, NULL, NULL, 0, &res)
				      : pce_cache_lookup(plain, 40, q, L, NULL, &m);

			if (rc || (tier ? !(res.flags & PCE_CLUSTER_LOCAL) : m.tokens != L))
				die("local lookup", rc);
		}
	}
	return (double)ops / ((double)(now_ns() - start) / 1e9);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Interleaved rounds, tier / plain; prints the median ratio. */
static void exp_local(const char *label, struct node *n, struct pce_cache *plain, int rounds)
{
	double ratio[32], with = 0, without = 0;

	for (int i = 0; i < rounds; i++) {
		double a = local_rate(n->tier, NULL, 0.2), b = local_rate(NULL, plain, 0.2);

		ratio[i] = a / b;
		with += a;
		without += b;
	}
	qsort(ratio, (size_t)rounds, sizeof(*ratio), cmp_double);
	printf("%s.with_tier_lookups_per_s %.0f\n", label, with / rounds);
	printf("%s.without_tier_lookups_per_s %.0f\n", label, without / rounds);
	printf("%s.ratio_median %.4f\n", label, ratio[rounds / 2]);
	fflush(stdout);
}

static void exp_down(struct redis_server *s, struct node *n, struct pce_cache *plain,
		     double seconds)
{
	struct node miss;
	struct run r;

	node_open(&miss, s->port, 60, 1000); /* the default budget */
	redis_server_signal(s, SIGKILL);
	exp_local("down.local", n, plain, 7);
	lookups(&miss, 1, 64, 4096, seconds, &r);
	printf("down.tiered.lookups_per_s %.0f\n", (double)r.ops / r.seconds);
	printf("down.tiered.unavailable_fraction %.4f\n", (double)r.unavailable / (double)r.ops);
	printf("down.tiered.p99_us %.1f\n", (double)quantile(r.lat, r.n_lat, 0.99) / 1e3);
	printf("down.tiered.max_us %.1f\n", (double)r.lat[r.n_lat - 1] / 1e3);
	printf("down.budget_us 1000\n");
	fflush(stdout);
	free(r.lat);
	node_close(&miss);
}

int main(int argc, char **argv)
{
	struct redis_server s = {0};
	struct node owner, asker, local;
	struct pce_cache *plain;
	struct pce_config cfg;
	double seconds = 2;
	char err[256];
	int rc;

	if (argc == 5 && !strcmp(argv[1], "--client"))
		return client(atoi(argv[2]), (uint32_t)atoi(argv[3]), atof(argv[4]));
	if (argc == 3 && !strcmp(argv[1], "--seconds"))
		seconds = atof(argv[2]);
	else if (argc != 1) {
		fprintf(stderr, "Usage: bench_cluster [--seconds S]   (S per timed run, default 2)\n");
		return 2;
	}
	if (redis_server_start(&s, 0, NULL, err, sizeof err)) {
		fprintf(stderr, "bench_cluster: %s\n", err);
		return 1;
	}
	printf("redis.port %d\n", s.port);
	node_open(&owner, s.port, 1, 1000000);
	store(&owner, CLIENT_NS, CLIENT_PROMPTS, CLIENT_TOKENS);
	if ((rc = pce_cluster_sync(owner.tier, 60000)))
		die("pce_cluster_sync", rc);
	exp_clients(s.port, seconds);
	node_open(&asker, s.port, 2, 1000000);
	exp_length(&owner, &asker, s.port, seconds);
	exp_publish(s.port);

	/* Local lookups, with and without the tier, then with Redis down. */
	node_open(&local, s.port, 3, 1000);
	pce_config_init(&cfg);
	if ((rc = pce_cache_create(&cfg, &plain)))
		die("pce_cache_create", rc);
	{
		enum { P = 256, L = 4096 };
		uint32_t *tok = malloc(L * sizeof(*tok));

		if (!tok)
			die("malloc", PCE_ENOMEM);
		for (uint32_t p = 0; p < P; p++) {
			prompt(40, p, tok, L);
			if (pce_cache_store(local.cache, 40, tok, L, p, 0, NULL, NULL) ||
			    pce_cache_store(plain, 40, tok, L, p, 0, NULL, NULL))
				die("store", 0);
		}
		free(tok);
	}
	pce_cluster_sync(local.tier, 60000);
	exp_local("up.local", &local, plain, 7);
	exp_down(&s, &local, plain, seconds);

	node_close(&local);
	node_close(&asker);
	node_close(&owner);
	pce_cache_destroy(plain);
	redis_server_stop(&s);
	return 0;
}
