/*
 * router_quick.c - quick measurements of the router index (pce/router.h):
 *
 *   match   top-8 match latency (p50, p99, p99.9) with spread placement: W
 *           workers all hold a shared system prompt, each its own
 *           conversation below it; a query is one worker's conversation
 *           plus new tokens.  W = 16, 256, 1000, 7000.  Also the owner-set
 *           bytes per (owner, block).
 *   skew    add throughput when every add lands in one shard (all
 *           sequences share their first block, as chat traffic does), with
 *           1 and 2 writer threads: each thread adds a worker's 4-block
 *           sequence under the shared block and removes it again.
 *   expiry  a reclaim pass over an index of 2^20 holdings that all have a
 *           TTL (1 hour): the pass time when none has expired, and the
 *           trie and owner-set bytes; then the time of a clear_owner of
 *           one of its 4,096 owners (256 holdings).
 *
 * Usage: bench_router_quick [match|skew|expiry|all]   (default all)
 * Numbers, not verdicts: docs/benchmarks.md and bench/README.md.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pce/pce.h"
#include "rng.h"
#include "timing.h"

#define BS 16u
#define SYS_BLOCKS 4u   /* the shared system prompt */
#define CONV_BLOCKS 8u  /* each worker's own conversation below it */
#define QLEN ((SYS_BLOCKS + CONV_BLOCKS + 2) * BS)

/* Worker @w's conversation: the shared prompt, then tokens of its own. */
static void conversation(uint32_t w, uint32_t *q)
{
	for (uint32_t i = 0; i < QLEN; i++)
		q[i] = i < SYS_BLOCKS * BS ? 7 + i : 100000 + w * 1000 + i;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void bench_match(uint32_t workers)
{
	struct pce_router_config cfg;
	struct pce_router *r;
	struct pce_router_stats st;
	struct pce_overlap out[8];
	uint32_t q[QLEN];
	enum { N = 200000 };
	static uint64_t lat[N];
	double tpn;
	struct rng g;

	rng_seed(&g, 1);
	pce_router_config_init(&cfg);
	cfg.block_size = BS;
	cfg.background_reclaim = 0;
	if (pce_router_create(&cfg, &r) != 0)
		exit(1);
	for (uint32_t w = 0; w < workers; w++) {
		conversation(w, q);
		if (pce_router_add(r, w, 0, q, (SYS_BLOCKS + CONV_BLOCKS) * BS, PCE_TIER_GPU, NULL,
				   NULL) != 0)
			exit(1);
	}
	timing_calibrate();
	tpn = timing_ticks_per_ns();
	for (int i = 0; i < N; i++) {
		size_t n, left;
		uint64_t t0;

		conversation((uint32_t)rng_below(&g, workers), q);
		t0 = ticks();
		pce_router_match(r, 0, q, QLEN, 0, out, 8, &n, &left);
		lat[i] = ticks() - t0;
		if (n == 0 || out[0].tokens != (SYS_BLOCKS + CONV_BLOCKS) * BS)
			exit(2);
	}
	qsort(lat, N, sizeof(lat[0]), cmp_u64);
	pce_router_stats_get(r, &st);
	printf("match  W=%-5u top-8  p50 %7.0f ns  p99 %7.0f ns  p99.9 %7.0f ns  "
	       "owner bytes/(owner,block) %.1f\n",
	       workers, lat[N / 2] / tpn, lat[N * 99 / 100] / tpn, lat[N * 999 / 1000] / tpn,
	       st.bytes_per_owner_block);
	pce_router_destroy(r);
}

struct writer {
	struct pce_router *r;
	uint32_t first_owner;
	uint64_t blocks;
	uint64_t ns_spent;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint32_t q[(SYS_BLOCKS + 4) * BS];
	uint64_t t0 = now_ns();
	size_t len = (SYS_BLOCKS + 4) * BS;

	for (uint32_t i = 0; i < 200000; i++) {
		uint32_t owner = w->first_owner + i % 256;
		size_t nb = 0;

		for (uint32_t j = 0; j < len; j++)
			q[j] = j < SYS_BLOCKS * BS ? 7 + j : 100000 + (i % 4096) * 1000 + j;
		if (pce_router_add(w->r, owner, 0, q, len, PCE_TIER_GPU, NULL, &nb) != 0)
			exit(3);
		w->blocks += nb;
		if (pce_router_remove(w->r, owner, 0, q, (SYS_BLOCKS + 1) * BS) == 0)
			w->blocks += 4; /* the removed blocks */
	}
	w->ns_spent = now_ns() - t0;
	return NULL;
}

static void bench_skew(int threads)
{
	struct pce_router_config cfg;
	struct pce_router *r;
	struct writer w[2];
	pthread_t th[2];
	uint64_t blocks = 0, ns = 0;

	pce_router_config_init(&cfg);
	cfg.block_size = BS;
	if (pce_router_create(&cfg, &r) != 0)
		exit(1);
	for (int i = 0; i < threads; i++) {
		w[i] = (struct writer){r, (uint32_t)i * 1000, 0, 0};
		pthread_create(&th[i], NULL, writer_main, &w[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		blocks += w[i].blocks;
		ns = w[i].ns_spent > ns ? w[i].ns_spent : ns;
	}
	printf("skew   %d writer thread(s), one shard: %.2f M block events/s in all "
	       "(%.2f M/s per thread)\n",
	       threads, blocks * 1e3 / ns, blocks * 1e3 / ns / threads);
	pce_router_destroy(r);
}

/* 4096 owners, each holding 16 sequences of 16 blocks of 4 tokens, every
 * sequence under a first token of its own: 2^20 holdings, 2^16 leaves. */
static void bench_expiry(void)
{
	struct pce_router_config cfg;
	struct pce_router_add_opts opts = {0, 3600ull * 1000000000ull};
	struct pce_router_stats st;
	struct pce_router *r;
	uint32_t q[64];
	enum { PASSES = 21 };
	uint64_t t[PASSES], t0, removed = 0;

	pce_router_config_init(&cfg);
	cfg.block_size = 4;
	cfg.background_reclaim = 0;
	if (pce_router_create(&cfg, &r) != 0)
		exit(1);
	for (uint32_t o = 0; o < 4096; o++)
		for (uint32_t k = 0; k < 16; k++) {
			for (uint32_t j = 0; j < 64; j++)
				q[j] = (o * 16 + k) * 64 + j;
			if (pce_router_add(r, o, 0, q, 64, PCE_TIER_GPU, &opts, NULL) != 0)
				exit(1);
		}
	for (int i = 0; i < PASSES; i++) {
		t0 = now_ns();
		pce_router_reclaim(r);
		t[i] = now_ns() - t0;
	}
	qsort(t, PASSES, sizeof(t[0]), cmp_u64);
	pce_router_stats_get(r, &st);
	printf("expiry %llu holdings with a TTL, none expired: reclaim pass p50 %.1f us "
	       "(min %.1f us); %llu nodes, trie bytes/node %.1f, "
	       "owner bytes/(owner,block) %.1f\n",
	       (unsigned long long)st.holdings, t[PASSES / 2] / 1e3, t[0] / 1e3,
	       (unsigned long long)st.nodes, (double)st.trie_bytes / (double)st.nodes,
	       st.bytes_per_owner_block);
	t0 = now_ns();
	if (pce_router_clear_owner(r, 7, &removed) != 0)
		exit(1);
	printf("clear_owner of 1 of 4096 owners (%llu holdings): %.1f us\n",
	       (unsigned long long)removed, (now_ns() - t0) / 1e3);
	pce_router_destroy(r);
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "all";

	if (!strcmp(what, "match") || !strcmp(what, "all"))
		for (uint32_t w = 16; w <= 7000;
		     w = w == 16 ? 256 : w == 256 ? 1000 : w == 1000 ? 7000 : 7001)
			bench_match(w);
	if (!strcmp(what, "skew") || !strcmp(what, "all")) {
		bench_skew(1);
		bench_skew(2);
	}
	if (!strcmp(what, "expiry") || !strcmp(what, "all"))
		bench_expiry();
	return 0;
}
