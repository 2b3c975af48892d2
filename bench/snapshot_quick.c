/*
 * snapshot_quick.c - write and restore rates of snapshots (pce/snapshot.h).
 *
 *   cache   ENTRIES entries, each one of 64 system prompts of 1,024 tokens
 *           plus OWN tokens of its own (defaults 10,000 x 1,000: about 10M
 *           distinct cached tokens), 16 shards, no TTL.  Writes a snapshot,
 *           then restores it into a new cache (same config), ROUNDS times.
 *   router  the same sequences as holdings of 64 owners (entry i held by
 *           owner i % 64, tier i % 2), block size 16.
 *
 * Each round reports seconds and cached tokens per second (distinct tokens
 * of the index: pce_stats.tokens / pce_router_stats.tokens) for the write
 * (fsync and rename included) and for the restore (file read, checks and
 * rebuild included), and the file size.  The page cache is warm: the
 * restore reads a file just written.
 *
 * Usage: bench_snapshot [DIR [ENTRIES [OWN [ROUNDS]]]]  (default /tmp 10000 1000 3)
 * Numbers, not verdicts: docs/benchmarks.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pce/pce.h"
#include "timing.h"

#define PROMPTS 64
#define PROMPT_TOKENS 1024

static void entry(uint32_t i, uint32_t own, uint32_t *q)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL * (i + 1);

	for (uint32_t k = 0; k < PROMPT_TOKENS; k++)
		q[k] = (i % PROMPTS) * PROMPT_TOKENS + k;
	for (uint32_t k = 0; k < own; k++) {
		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		q[PROMPT_TOKENS + k] = (uint32_t)(s * 2685821657736338717ULL) | 0x80000000u;
	}
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_snapshot: %s: %s\n", what, pce_strerror(rc));
	exit(1);
}

static double file_mib(const char *path)
{
	struct stat st;
	return stat(path, &st) ? 0 : (double)st.st_size / (1 << 20);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	uint32_t n = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 10000;
	uint32_t own = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 1000;
	int rounds = argc > 4 ? atoi(argv[4]) : 3;
	uint32_t *q = malloc((PROMPT_TOKENS + own) * sizeof(*q));
	char path[4096];
	struct pce_config cfg;
	struct pce_router_config rcfg;
	struct pce_cache *c, *c2;
	struct pce_router *r, *r2;
	struct pce_stats st;
	struct pce_router_stats rs;
	int rc;

	snprintf(path, sizeof path, "%s/bench-snapshot.snap", dir);
	pce_config_init(&cfg);
	pce_router_config_init(&rcfg);
	rcfg.block_size = 16;
	if ((rc = pce_cache_create(&cfg, &c)) || (rc = pce_router_create(&rcfg, &r)))
		die("create", rc);
	for (uint32_t i = 0; i < n; i++) {
		entry(i, own, q);
		if ((rc = pce_cache_store(c, 0, q, PROMPT_TOKENS + own, i, 0, NULL, NULL)))
			die("store", rc);
		if ((rc = pce_router_add(r, i % PROMPTS, 0, q, PROMPT_TOKENS + own, i % 2, NULL,
					 NULL)))
			die("add", rc);
	}
	pce_cache_stats(c, &st);
	pce_router_stats_get(r, &rs);
	printf("cache: %u entries, %llu distinct tokens; router: %llu holdings, %llu tokens\n", n,
	       (unsigned long long)st.tokens, (unsigned long long)rs.holdings,
	       (unsigned long long)rs.tokens);
	printf("%-7s %5s %9s %12s %9s %12s %8s\n", "index", "round", "write s", "write tok/s",
	       "restore s", "restore tok/s", "file MiB");
	for (int k = 0; k < rounds; k++) {
		uint64_t t0 = now_ns(), t1, t2;

		if ((rc = pce_cache_snapshot_write(c, path, NULL, 0)))
			die("cache write", rc);
		t1 = now_ns();
		if ((rc = pce_cache_snapshot_restore(&cfg, path, NULL, NULL, &c2)))
			die("cache restore", rc);
		t2 = now_ns();
		printf("%-7s %5d %9.3f %12.3g %9.3f %12.3g %8.1f\n", "cache", k, (t1 - t0) / 1e9,
		       st.tokens / ((t1 - t0) / 1e9), (t2 - t1) / 1e9, st.tokens / ((t2 - t1) / 1e9),
		       file_mib(path));
		pce_cache_destroy(c2);
		t0 = now_ns();
		if ((rc = pce_router_snapshot_write(r, path, NULL, 0)))
			die("router write", rc);
		t1 = now_ns();
		if ((rc = pce_router_snapshot_restore(&rcfg, path, NULL, NULL, &r2)))
			die("router restore", rc);
		t2 = now_ns();
		printf("%-7s %5d %9.3f %12.3g %9.3f %12.3g %8.1f\n", "router", k, (t1 - t0) / 1e9,
		       rs.tokens / ((t1 - t0) / 1e9), (t2 - t1) / 1e9, rs.tokens / ((t2 - t1) / 1e9),
		       file_mib(path));
		pce_router_destroy(r2);
	}
	unlink(path);
	pce_cache_destroy(c);
	pce_router_destroy(r);
	free(q);
	return 0;
}
