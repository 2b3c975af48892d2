/*
 * router.c - the stress binary's router mode: `stress router READERS
 * WRITERS SECONDS [--seed N] [--shards N]`.
 *
 * Writers add, remove and clear the holdings of owners of their own (owner
 * o belongs to writer o % WRITERS), along a few query paths that share
 * prefixes (a two-token alphabet per block), so splits, shared sets and
 * removals below other owners' holdings happen all the time.  Each writer
 * keeps the model of its owners' holdings and, for every (owner, path),
 * the owner's matched blocks in a history ring: before a call, the ring
 * gets max(before, after) (what a match racing the call may see); after
 * it, the new value.
 *
 * Readers match a random path (all owners, or a top-k) and check each
 * reported owner against the history between a generation read before the
 * match and one read after: it is reported with at most the most it held
 * at some instant during the match, a whole number of blocks, at least one
 * block, each owner once, best first.  At the end, with the
 * writers stopped, every match must equal the model exactly, and the audit
 * must pass.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pce/pce.h"

int stress_router_main(int argc, char **argv);

#define BS 2u
#define PATHS 8u
#define BLOCKS 8u
#define PLEN (BLOCKS * BS)
#define OWNERS_PER_WRITER 24u
#define MAX_OWNERS (OWNERS_PER_WRITER * 8u)
#define HIST 16u

static uint32_t path[PATHS][PLEN];
static uint32_t lcp[PATHS][PATHS]; /* common prefix of two paths, in blocks */

struct owner_state {
	uint32_t held[PATHS];        /* writer only: blocks held along each path */
	uint64_t gen[PATHS];         /* atomic: history generation */
	uint32_t hist[PATHS][HIST];  /* atomic: matched blocks at each generation */
};

static struct {
	struct pce_router *r;
	uint32_t writers, owners;
	int stop;
	uint64_t violations, matches, checked, ops;
	struct owner_state own[MAX_OWNERS];
} g;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void violation(const char *what, uint32_t owner, uint32_t p, size_t got, uint32_t allowed)
{
	if (__atomic_fetch_add(&g.violations, 1, __ATOMIC_RELAXED) < 10)
		fprintf(stderr, "router stress: %s: owner %u path %u reported %zu tokens, "
			"allowed %u blocks\n", what, owner, p, got, allowed);
}

/* Blocks @o matches of path @p, from the model. */
static uint32_t matched(const struct owner_state *o, uint32_t p)
{
	uint32_t best = 0;

	for (uint32_t q = 0; q < PATHS; q++) {
		uint32_t m = o->held[q] < lcp[p][q] ? o->held[q] : lcp[p][q];
		best = m > best ? m : best;
	}
	return best;
}

static void publish(struct owner_state *o, uint32_t p, uint32_t v)
{
	uint64_t gen = __atomic_load_n(&o->gen[p], __ATOMIC_RELAXED) + 1;

	__atomic_store_n(&o->hist[p][gen % HIST], v, __ATOMIC_RELAXED);
	__atomic_store_n(&o->gen[p], gen, __ATOMIC_RELEASE);
}

/* Apply one change of @owner's holdings: @after is the model afterwards. */
static void change(uint32_t owner, const uint32_t after[PATHS], int (*call)(void *), void *arg,
		   int expect)
{
	struct owner_state *o = &g.own[owner];
	uint32_t before[PATHS], now[PATHS];
	struct owner_state next = *o;
	int rc;

	memcpy(next.held, after, sizeof(next.held));
	for (uint32_t p = 0; p < PATHS; p++) {
		before[p] = matched(o, p);
		now[p] = matched(&next, p);
		publish(o, p, before[p] > now[p] ? before[p] : now[p]);
	}
	rc = call(arg);
	if (rc != expect) {
		__atomic_fetch_add(&g.violations, 1, __ATOMIC_RELAXED);
		fprintf(stderr, "router stress: owner %u: %s, expected %s\n", owner,
			pce_err_name(rc), pce_err_name(expect));
	}
	memcpy(o->held, after, sizeof(o->held));
	for (uint32_t p = 0; p < PATHS; p++)
		publish(o, p, now[p]);
}

struct op {
	uint32_t owner, p, blocks;
};

static int do_add(void *arg)
{
	struct op *x = arg;
	return pce_router_add(g.r, x->owner, 0, path[x->p], x->blocks * BS, PCE_TIER_GPU, NULL,
			       NULL);
}

static int do_remove(void *arg)
{
	struct op *x = arg;
	return pce_router_remove(g.r, x->owner, 0, path[x->p], x->blocks * BS);
}

static int do_clear(void *arg)
{
	struct op *x = arg;
	return pce_router_clear_owner(g.r, x->owner, NULL);
}

static void *writer_main(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	uint64_t s = 0x9E3779B97F4A7C15ull * (id + 1);

	while (!__atomic_load_n(&g.stop, __ATOMIC_ACQUIRE)) {
		struct op x;
		struct owner_state *o;
		uint32_t after[PATHS];
		uint64_t dice = rnd(&s) % 100;

		x.owner = id + g.writers * (uint32_t)(rnd(&s) % OWNERS_PER_WRITER);
		x.p = (uint32_t)(rnd(&s) % PATHS);
		x.blocks = 1 + (uint32_t)(rnd(&s) % BLOCKS);
		o = &g.own[x.owner];
		memcpy(after, o->held, sizeof(after));
		if (dice < 55) {
			if (after[x.p] < x.blocks)
				after[x.p] = x.blocks;
			change(x.owner, after, do_add, &x, 0);
		} else if (dice < 98) {
			int held = matched(o, x.p) >= x.blocks;

			for (uint32_t q = 0; held && q < PATHS; q++)
				if (lcp[x.p][q] >= x.blocks && after[q] >= x.blocks)
					after[q] = x.blocks - 1;
			change(x.owner, after, do_remove, &x, held ? 0 : PCE_ENOENT);
		} else {
			memset(after, 0, sizeof(after));
			change(x.owner, after, do_clear, &x, 0);
		}
		__atomic_fetch_add(&g.ops, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* The most @owner matched of path @p between generations @g0 and @g1, or
 * UINT32_MAX if the ring was overwritten meanwhile. */
static uint32_t allowed(uint32_t owner, uint32_t p, uint64_t g0, uint64_t g1)
{
	struct owner_state *o = &g.own[owner];
	uint32_t most = 0;

	if (g1 - g0 >= HIST - 1)
		return UINT32_MAX;
	for (uint64_t x = g0; x <= g1; x++) {
		uint32_t v = __atomic_load_n(&o->hist[p][x % HIST], __ATOMIC_RELAXED);
		most = v > most ? v : most;
	}
	if (__atomic_load_n(&o->gen[p], __ATOMIC_ACQUIRE) - g0 >= HIST - 1)
		return UINT32_MAX;
	return most;
}

static void *reader_main(void *arg)
{
	uint64_t s = 0xD1B54A32D192ED03ull * ((uintptr_t)arg + 1);
	static __thread uint64_t g0[MAX_OWNERS], g1[MAX_OWNERS];
	struct pce_overlap out[MAX_OWNERS];

	while (!__atomic_load_n(&g.stop, __ATOMIC_ACQUIRE)) {
		uint32_t p = (uint32_t)(rnd(&s) % PATHS);
		size_t k = rnd(&s) % 2 ? g.owners : 1 + rnd(&s) % 4, n;

		for (uint32_t o = 0; o < g.owners; o++)
			g0[o] = __atomic_load_n(&g.own[o].gen[p], __ATOMIC_ACQUIRE);
		if (pce_router_match(g.r, 0, path[p], PLEN, 0, out, k, &n, NULL) != 0)
			violation("match failed", 0, p, 0, 0);
		for (uint32_t o = 0; o < g.owners; o++)
			g1[o] = __atomic_load_n(&g.own[o].gen[p], __ATOMIC_ACQUIRE);
		for (size_t i = 0; i < n; i++) {
			uint32_t o = out[i].owner;
			uint32_t most;

			if (o >= g.owners || out[i].tokens == 0 || out[i].tokens % BS) {
				violation("bad owner or length", o, p, out[i].tokens, 0);
				continue;
			}
			for (size_t j = 0; j < i; j++)
				if (out[j].owner == o)
					violation("reported twice", o, p, out[i].tokens, 0);
			if (i > 0 && out[i - 1].score < out[i].score)
				violation("not best first", o, p, out[i].tokens, 0);
			most = allowed(o, p, g0[o], g1[o]);
			if (most == UINT32_MAX)
				continue;
			__atomic_fetch_add(&g.checked, 1, __ATOMIC_RELAXED);
			if (out[i].tokens > (size_t)most * BS)
				violation("more than it held during the match", o, p, out[i].tokens,
					  most);
		}
		__atomic_fetch_add(&g.matches, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Quiescent: every match equals the model, and the audit passes. */
static void final_checks(void)
{
	struct pce_overlap out[MAX_OWNERS];
	char msg[256];

	for (uint32_t p = 0; p < PATHS; p++) {
		size_t n, want = 0;

		pce_router_match(g.r, 0, path[p], PLEN, 0, out, MAX_OWNERS, &n, NULL);
		for (uint32_t o = 0; o < g.owners; o++) {
			uint32_t m = matched(&g.own[o], p);
			size_t got = 0;

			want += m > 0;
			for (size_t i = 0; i < n; i++)
				if (out[i].owner == o)
					got = out[i].tokens;
			if (got != (size_t)m * BS)
				violation("final match differs from the model", o, p, got, m);
		}
		if (n != want)
			violation("final match count", 0, p, n, (uint32_t)want);
	}
	if (pce_router_audit(g.r, 0, msg, sizeof msg) != 0) {
		g.violations++;
		fprintf(stderr, "router stress: audit: %s\n", msg);
	}
}

int stress_router_main(int argc, char **argv)
{
	struct pce_router_config cfg;
	uint32_t readers, shards = 4;
	uint64_t seed = (uint64_t)time(NULL), s;
	double secs;
	pthread_t th[64];
	uint32_t nth = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: stress router READERS WRITERS SECONDS [--seed N] "
				"[--shards N]\n");
		return 2;
	}
	readers = (uint32_t)strtoul(argv[1], NULL, 10);
	g.writers = (uint32_t)strtoul(argv[2], NULL, 10);
	secs = strtod(argv[3], NULL);
	for (int i = 4; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--shards"))
			shards = (uint32_t)strtoul(argv[i + 1], NULL, 10);
	}
	if (g.writers < 1 || g.writers > 8 || readers + g.writers > 64) {
		fprintf(stderr, "stress router: 1..8 writers, 64 threads at most\n");
		return 2;
	}
	printf("stress router: seed %" PRIu64 "\n", seed);
	s = seed | 1;
	for (uint32_t p = 0; p < PATHS; p++)
		for (uint32_t t = 0; t < PLEN; t++)
			path[p][t] = (uint32_t)(rnd(&s) % 2);
	for (uint32_t p = 0; p < PATHS; p++)
		for (uint32_t q = 0; q < PATHS; q++) {
			uint32_t b = 0;
			while (b < BLOCKS && !memcmp(path[p] + b * BS, path[q] + b * BS,
						     BS * sizeof(uint32_t)))
				b++;
			lcp[p][q] = b;
		}
	g.owners = g.writers * OWNERS_PER_WRITER;
	pce_router_config_init(&cfg);
	cfg.shards = shards;
	cfg.block_size = BS;
	if (pce_router_create(&cfg, &g.r) != 0)
		return 1;
	for (uint32_t i = 0; i < g.writers; i++)
		pthread_create(&th[nth++], NULL, writer_main, (void *)(uintptr_t)i);
	for (uint32_t i = 0; i < readers; i++)
		pthread_create(&th[nth++], NULL, reader_main, (void *)(uintptr_t)i);
	{
		struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
		nanosleep(&ts, NULL);
	}
	__atomic_store_n(&g.stop, 1, __ATOMIC_RELEASE);
	for (uint32_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	final_checks();
	printf("stress router: %" PRIu64 " writer ops, %" PRIu64 " matches, %" PRIu64
	       " owners checked against the history, %" PRIu64 " violations\n",
	       g.ops, g.matches, g.checked, g.violations);
	pce_router_destroy(g.r);
	return g.violations ? 1 : 0;
}
