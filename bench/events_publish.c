/*
 * events_publish.c - what publishing KV events costs a cache's writers.
 *
 * Usage: events_publish [ENTRIES] [LEN] [ROUNDS]
 * Stores ENTRIES sequences of LEN tokens (block size 16, shared 64-token
 * prefixes over 64 roots), then removes them, ROUNDS times, alternating a
 * cache without on_event and one wired to a pce_publisher (PUB bound to a
 * free 127.0.0.1 port, nobody subscribed, so the thread encodes and hands
 * every batch to ZMQ).  Prints ns per store and per remove of both, their
 * difference (the on_event cost), and the events/s the publisher thread
 * sent, drops included in its statistics.  Numbers go to docs/events.md.
 */
#include <stdio.h>
#include <stdlib.h>

#include "pce/events.h"
#include "timing.h"

static double now(void)
{
	return (double)now_ns() / 1e9;
}

static void run(int publish, uint32_t *toks, size_t n, size_t len, double *st, double *rm,
		struct pce_publisher_stats *ps, double *pub_s)
{
	struct pce_publisher_config pc;
	struct pce_publisher *pub = NULL;
	struct pce_config cc;
	struct pce_cache *c;
	double t0, t1, t2;

	pce_config_init(&cc);
	cc.background_reclaim = 0;
	if (publish) {
		pce_publisher_config_init(&pc);
		pc.queue_events = 1u << 20;
		if (pce_publisher_create(&pc, &pub))
			exit(1);
		cc.on_event = pce_publisher_on_event;
		cc.event_ctx = pub;
	}
	if (pce_cache_create(&cc, &c))
		exit(1);
	t0 = now();
	for (size_t i = 0; i < n; i++)
		pce_cache_store(c, 1, toks + i * len, len, i, 0, NULL, NULL);
	t1 = now();
	for (size_t i = 0; i < n; i++)
		pce_cache_remove(c, 1, toks + i * len, len, NULL);
	t2 = now();
	*st += (t1 - t0) * 1e9 / (double)n;
	*rm += (t2 - t1) * 1e9 / (double)n;
	if (publish) {
		pce_publisher_flush(pub, 60ull * 1000000000u);
		*pub_s += now() - t0;
		pce_publisher_stats_get(pub, ps);
	}
	pce_cache_destroy(c);
	pce_publisher_destroy(pub);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	size_t len = argc > 2 ? strtoul(argv[2], NULL, 10) : 256;
	int rounds = argc > 3 ? atoi(argv[3]) : 5;
	uint32_t *toks = malloc(n * len * sizeof(uint32_t));
	double st[2] = { 0 }, rm[2] = { 0 }, pub_s = 0;
	uint64_t events = 0, drops = 0, bytes = 0;

	if (!toks || len < 64)
		return 1;
	srand(1);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < len; k++)
			toks[i * len + k] = k < 64 ? (uint32_t)(i % 64) * 64 + (uint32_t)k
						   : (uint32_t)rand();
	for (int r = 0; r < rounds; r++)
		for (int publish = 0; publish < 2; publish++) {
			struct pce_publisher_stats ps;

			run(publish, toks, n, len, &st[publish], &rm[publish], &ps, &pub_s);
			if (publish) {
				events += ps.events;
				drops += ps.drops;
				bytes += ps.bytes;
			}
		}
	printf("entries %zu x %zu tokens, block 16, %d rounds (means)\n", n, len, rounds);
	printf("store  ns: plain %.0f  published %.0f  on_event cost %.0f\n", st[0] / rounds,
	       st[1] / rounds, (st[1] - st[0]) / rounds);
	printf("remove ns: plain %.0f  published %.0f  on_event cost %.0f\n", rm[0] / rounds,
	       rm[1] / rounds, (rm[1] - rm[0]) / rounds);
	printf("published %.0f events/s (%.0f blocks/s, %.1f MB/s), drops %llu\n",
	       (double)events / pub_s, (double)events * (double)(len / 16 - 4) / pub_s,
	       (double)bytes / pub_s / 1e6, (unsigned long long)drops);
	free(toks);
	return 0;
}
