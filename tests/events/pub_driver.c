/*
 * pub_driver.c - drives a pce_cache wired to a pce_publisher for
 * check_publisher.py, which subscribes to it over real sockets and checks
 * the stream against vLLM's schema.
 *
 * Usage: pub_driver SCENARIO SEED   (random, replay, overflow)
 * Dialogue on stdin/stdout, one line each:
 *   -> PUB <endpoint> / REPLAY <endpoint> / BS <block size> / TOPIC <topic>
 *   <- GO                                (the subscriber is connected)
 *   -> LAST <last seq> SKIPPED <n> DROPS <n> RESYNCS <n>
 *   -> E <len> <tokens...>               each live entry, checked by lookup
 *   -> END
 *   <- C <len> <tokens...>               each published block's whole prefix
 *   <- Q
 *   -> CHECKED <n> BAD <n>               prefixes the cache does not hold
 * The live entries are tracked from the cache's own events (a wrapper
 * around pce_publisher_on_event()), and each must be found by an exact
 * lookup, so "the cache's block set" is checked through the cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pce/events.h"

struct live {
	uint64_t id;
	size_t len;
	uint32_t *tokens;
};

static struct live *lv;
static size_t nlv, caplv;
static struct pce_publisher *pub;

static void die(const char *what, int rc)
{
	fprintf(stderr, "pub_driver: %s: %s\n", what, pce_strerror(rc));
	exit(1);
}

/* Runs under the shard lock, like the publisher's own callback. */
static void on_event(void *ctx, const struct pce_event *ev)
{
	(void)ctx;
	if (ev->kind == PCE_EVENT_STORED) {
		if (nlv == caplv) {
			caplv = caplv ? caplv * 2 : 256;
			lv = realloc(lv, caplv * sizeof(*lv));
			if (!lv)
				abort();
		}
		lv[nlv].id = ev->id;
		lv[nlv].len = ev->len;
		lv[nlv].tokens = malloc(ev->len * sizeof(uint32_t));
		if (!lv[nlv].tokens)
			abort();
		memcpy(lv[nlv].tokens, ev->tokens, ev->len * sizeof(uint32_t));
		nlv++;
	} else {
		for (size_t i = 0; i < nlv; i++)
			if (lv[i].id == ev->id) {
				free(lv[i].tokens);
				lv[i] = lv[--nlv];
				break;
			}
	}
	pce_publisher_on_event(pub, ev);
}

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((rng_state >> 33) % n);
}

/* A sequence over few roots and a small vocabulary at first, so prefixes are
 * shared; later tokens span every msgpack integer width. */
static size_t gen(uint32_t *t)
{
	size_t len = 1 + rnd(40);

	t[0] = 1 + rnd(6);
	for (size_t i = 1; i < len; i++)
		t[i] = i < 12 ? 100 + rnd(2) : rnd(1u << (4 * (i & 7)));
	return len;
}

static void store(struct pce_cache *c, uint64_t ns, const uint32_t *t, size_t len)
{
	int rc = pce_cache_store(c, ns, t, len, 1, 64, NULL, NULL);

	if (rc && rc != PCE_EEXIST && rc != PCE_ENOSPC)
		die("store", rc);
}

static void run_random(struct pce_cache *c)
{
	uint32_t hist[64][64], t[64];
	size_t hlen[64] = { 0 };

	for (int op = 0; op < 3000; op++) {
		uint32_t r = rnd(100);
		size_t len;

		if (r < 60) {
			len = gen(t);
			store(c, 7, t, len);
			memcpy(hist[op % 64], t, len * sizeof(uint32_t));
			hlen[op % 64] = len;
		} else if (r < 80) {
			size_t h = rnd(64);

			if (hlen[h])
				pce_cache_remove(c, 7, hist[h], hlen[h], NULL);
		} else if (r < 88) {
			size_t h = rnd(64);

			if (hlen[h])
				pce_cache_remove_prefix(c, 7, hist[h], 1 + rnd((uint32_t)hlen[h]), NULL);
		} else if (r < 96) {
			pce_cache_evict(c, PCE_EVICT_ENTRIES, 1 + rnd(4), NULL);
		} else if (r < 97) {
			pce_cache_clear(c, NULL);
		} else {
			pce_cache_reclaim(c);
		}
	}
}

int main(int argc, char **argv)
{
	struct pce_publisher_config pc;
	struct pce_config cc;
	struct pce_publisher_stats st;
	struct pce_cache *cache;
	char addr[256], line[1 << 16];
	const char *sc = argc > 1 ? argv[1] : "random";
	size_t checked = 0, bad = 0;
	int rc;

	rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
	pce_publisher_config_init(&pc);
	pc.block_size = 4;
	pc.topic = "kv";
	pc.data_parallel_rank = 3;
	pc.replay_endpoint = "tcp://127.0.0.1:*";
	pc.replay_batches = 100000;
	pc.max_batch_events = 16;
	if (!strcmp(sc, "replay")) {
		pc.replay_batches = 8;
		pc.max_batch_events = 1;
	} else if (!strcmp(sc, "overflow")) {
		/* The thread sends nothing until 1024 events or 60 s have
		 * passed, or a flush: the 5th event of a burst is refused. */
		pc.queue_events = 4;
		pc.max_batch_events = 1024;
		pc.max_delay_ns = 60ull * 1000000000u;
	}
	rc = pce_publisher_create(&pc, &pub);
	if (rc)
		die("publisher", rc);
	pce_config_init(&cc);
	cc.max_entries = 48;
	cc.background_reclaim = 0;
	cc.on_event = on_event;
	rc = pce_cache_create(&cc, &cache);
	if (rc)
		die("cache", rc);

	pce_publisher_endpoint(pub, addr, sizeof(addr));
	printf("PUB %s\n", addr);
	pce_publisher_replay_endpoint(pub, addr, sizeof(addr));
	printf("REPLAY %s\nBS %u\nTOPIC %s\nRANK %u\n", addr, pc.block_size, pc.topic,
	       pc.data_parallel_rank);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strncmp(line, "GO", 2))
		return 1;

	if (!strcmp(sc, "random")) {
		run_random(cache);
	} else {
		uint32_t t[8];
		int burst = !strcmp(sc, "overflow");

		for (uint32_t i = 0; i < 20; i++) {
			for (uint32_t k = 0; k < 8; k++)
				t[k] = i * 8 + k + 1;
			store(cache, 1, t, 4 + (i & 3));
			/* overflow: 3 sent, a burst of 12 (the 5th is refused),
			 * then 5 more sent one at a time */
			if (burst && (i < 3 || i >= 15) && pce_publisher_flush(pub, 60ull * 1000000000u))
				die("flush", PCE_ETIMEDOUT);
		}
		pce_cache_remove(cache, 1, (const uint32_t[]){ 1, 2, 3, 4 }, 4, NULL);
	}
	rc = pce_publisher_flush(pub, 60ull * 1000000000u);
	if (rc)
		die("flush", rc);
	pce_publisher_stats_get(pub, &st);
	printf("LAST %llu SKIPPED %llu DROPS %llu RESYNCS %llu\n",
	       (unsigned long long)st.next_seq - 1, (unsigned long long)st.skipped_seqs,
	       (unsigned long long)st.drops, (unsigned long long)st.resyncs);
	for (size_t i = 0; i < nlv; i++) {
		struct pce_lookup_opts lo = { .flags = PCE_LOOKUP_PEEK | PCE_LOOKUP_WHOLE };
		struct pce_match m;
		uint64_t ns = strcmp(sc, "random") ? 1 : 7;

		if (pce_cache_lookup(cache, ns, lv[i].tokens, lv[i].len, &lo, &m) ||
		    m.entry_len != lv[i].len || m.tokens != lv[i].len) {
			printf("LOSTENTRY\n");
			continue;
		}
		printf("E %zu", lv[i].len);
		for (size_t k = 0; k < lv[i].len; k++)
			printf(" %u", lv[i].tokens[k]);
		printf("\n");
	}
	printf("END\n");
	fflush(stdout);

	while (fgets(line, sizeof(line), stdin) && line[0] == 'C') {
		uint32_t t[64];
		size_t len, k = 0;
		char *s = line + 1, *e;
		struct pce_lookup_opts lo = { .flags = PCE_LOOKUP_PEEK };
		struct pce_match m;

		len = strtoul(s, &e, 10);
		for (s = e; k < len && k < 64; s = e)
			t[k++] = (uint32_t)strtoul(s, &e, 10);
		checked++;
		if (k != len || pce_cache_lookup(cache, strcmp(sc, "random") ? 1 : 7, t, len, &lo, &m) ||
		    m.tokens < len)
			bad++;
	}
	printf("CHECKED %zu BAD %zu\n", checked, bad);
	fflush(stdout);

	rc = pce_cache_destroy(cache);
	if (rc)
		die("cache destroy", rc);
	pce_publisher_destroy(pub);
	for (size_t i = 0; i < nlv; i++)
		free(lv[i].tokens);
	free(lv);
	return 0;
}
