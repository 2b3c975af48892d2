/*
 * serve.c - a serving process in miniature: several worker threads take
 * requests (one of a few long system prompts plus a user turn), look up the
 * longest cached prefix with a pin, "prefill" the rest, store the full
 * prompt, release the pin.  A byte budget keeps the cache bounded while the
 * background reclaimer evicts.  Prints what each thread saw and the cache's
 * statistics.
 *
 * usage: serve [THREADS [REQUESTS_PER_THREAD]]
 */
#define _POSIX_C_SOURCE 200809L
#include <pce/pce.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { SYSTEM_PROMPTS = 4, SYSTEM_LEN = 1000, TURN_MAX = 400, USERS = 500 };

struct worker {
	struct pce_cache *cache;
	int id;
	long requests;
	uint64_t prompt_tokens, reused_tokens;
};

/* Request r of user u: system prompt (u % 4), then the user's turns so far. */
static size_t build_prompt(uint32_t *buf, unsigned user, unsigned turn)
{
	size_t n = 0;
	for (unsigned i = 0; i < SYSTEM_LEN; i++)
		buf[n++] = 1000 + (user % SYSTEM_PROMPTS) * 7919 + i;
	for (unsigned t = 0; t <= turn; t++)
		for (unsigned i = 0; i < 50 + (user * 31 + t * 17) % 100; i++)
			buf[n++] = 100000 + user * 1000 + t * 100 + i;
	return n;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	static __thread uint32_t prompt[SYSTEM_LEN + 8 * 150];
	unsigned seed = (unsigned)w->id * 2654435761u;

	for (long r = 0; r < w->requests; r++) {
		unsigned user = (unsigned)rand_r(&seed) % USERS, turn = (unsigned)rand_r(&seed) % 8;
		size_t n = build_prompt(prompt, user, turn);
		struct pce_lookup_opts pin = {PCE_LOOKUP_PIN, 0};
		struct pce_match m;

		if (pce_cache_lookup(w->cache, 0, prompt, n, &pin, &m) != 0)
			continue;
		w->prompt_tokens += n;
		w->reused_tokens += m.tokens;
		/* Prefill prompt[m.tokens..n) here; its KV gets a handle. */
		int rc = pce_cache_store(w->cache, 0, prompt, n, (uint64_t)user << 8 | turn,
					 (uint64_t)n * 131072, NULL, NULL);
		/* PCE_EEXIST: another worker stored it first; PCE_ENOSPC: the
		 * budget is momentarily full of pinned entries.  Either way
		 * this KV is not kept, which a real server would free here. */
		if (rc != 0 && rc != PCE_EEXIST && rc != PCE_ENOSPC)
			fprintf(stderr, "worker %d: store: %s\n", w->id, pce_strerror(rc));
		if (m.pin.id)
			pce_pin_release(w->cache, m.pin);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 4;
	long requests = argc > 2 ? atol(argv[2]) : 20000;
	struct pce_config cfg;
	struct pce_cache *cache;
	struct pce_stats s;
	struct timespec t0, t1;

	if (threads < 1 || threads > 256 || requests < 1) {
		fprintf(stderr, "usage: %s [THREADS 1..256 [REQUESTS_PER_THREAD]]\n", argv[0]);
		return 2;
	}
	pce_config_init(&cfg);
	cfg.kv_budget = 32ull << 30; /* 32 GiB of KV at 128 KiB per token */
	int rc = pce_cache_create(&cfg, &cache);
	if (rc) {
		fprintf(stderr, "create: %s\n", pce_strerror(rc));
		return 1;
	}
	struct worker *w = calloc((size_t)threads, sizeof(*w));
	pthread_t *tid = calloc((size_t)threads, sizeof(*tid));
	if (!w || !tid)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){cache, i, requests, 0, 0};
		pthread_create(&tid[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	printf("libpce %s: %d threads x %ld requests in %.2f s\n", pce_version_string(), threads,
	       requests, secs);
	for (int i = 0; i < threads; i++)
		printf("  thread %d: reused %.1f%% of %" PRIu64 " prompt tokens\n", i,
		       100.0 * (double)w[i].reused_tokens / (double)w[i].prompt_tokens,
		       w[i].prompt_tokens);
	pce_cache_stats(cache, &s);
	printf("lookups %" PRIu64 " (hits %" PRIu64 ", %.1f%% of query tokens)  stores %" PRIu64
	       " (%" PRIu64 " already cached, %" PRIu64 " refused for lack of room)\n",
	       s.lookups, s.hits, 100.0 * (double)s.hit_tokens / (double)s.query_tokens, s.stores,
	       s.stores_existing, s.stores_refused);
	printf("entries %" PRIu64 "  nodes %" PRIu64 "  distinct tokens %" PRIu64
	       "  KV %.2f of %.2f GiB  index %.1f MiB\n",
	       s.entries, s.nodes, s.tokens, (double)s.kv_bytes / (1 << 30),
	       (double)s.kv_budget / (1 << 30), (double)s.index_bytes / (1 << 20));
	printf("evicted %" PRIu64 " (capacity; %" PRIu64 " by stores)  values released %" PRIu64
	       "  reclaim passes %" PRIu64 "\n",
	       s.removed[PCE_REASON_CAPACITY], s.sync_evictions, s.released, s.reclaim_passes);
	rc = pce_cache_destroy(cache);
	free(w);
	free(tid);
	return rc == 0 ? 0 : 1;
}
