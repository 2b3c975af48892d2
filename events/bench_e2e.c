/*
 * bench_e2e.c - libpce_events end to end over ZMQ on 127.0.0.1: a pce_cache
 * with a pce_publisher (its thread sends the batches), a pce_subscriber (its
 * thread decodes and applies them) and the router it feeds.
 *
 *   ingest     the producer stores E entries of 256 tokens (64 shared
 *              system prompts of 8 blocks, then 8 blocks of its own each;
 *              block size 16) as fast as the publisher's queue takes them;
 *              timed until the subscriber has applied the last batch:
 *              block events/s (blocks entered into the subscriber's map)
 *              of wall time, of the process's CPU time (all threads), and
 *              of the subscriber thread's CPU time (decode and apply: the
 *              newest thread at that point, read from /proc/self/task).
 *   snapshot   pce_subscriber_snapshot_write() of that router and
 *              subscriber, then pce_subscriber_snapshot_restore() into a
 *              new pair: seconds and tokens/s (tokens: the router's, the
 *              sum of its trie edges), the restored holdings checked; and
 *              the same file restored into a router alone (the router's
 *              share of the restore).
 *   restart    1000 entries are published between the write and the
 *              restore, 1000 after; once the subscriber has caught up, the batches applied
 *              before the snapshot and after the restore must add up to the
 *              batches published, and the holdings to the blocks published.
 *   latency    L times: one new entry of 4 blocks stored, then matched in
 *              the router (PEEK) until it is fully visible: the time from
 *              before the store to the first match that sees it, with the
 *              publisher's default batching (max_delay_ns 1 ms), then with
 *              pce_publisher_flush() right after each store.
 *
 * Usage: bench_events_e2e [entries (default 78000: 10M router tokens)]
 *                         [latency samples (default 2000)] [snapshot path]
 */
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pce/events.h"
#include "pce/snapshot.h"

#define BSZ 16
#define ENTRY 256
#define PREFIXES 64
#define PREFIX_TOKENS 128
#define OWNER 1
#define SEC 1000000000ull

static struct pce_publisher *pub;
static struct pce_cache *cache;
static char pub_addr[256], rep_addr[256];
static uint32_t next_tok = 1u << 20; /* unique tokens, above the prefixes' */

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_events_e2e: %s: %s\n", what, pce_strerror(rc));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

/* CPU nanoseconds of the process's newest thread (the highest TID; thread
 * ids grow in creation order while they do not wrap). */
static uint64_t newest_thread_cpu_ns(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long tid = 0;
	char p[64];
	unsigned long long ns = 0;
	FILE *f;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (atol(e->d_name) > tid)
			tid = atol(e->d_name);
	closedir(d);
	snprintf(p, sizeof(p), "/proc/self/task/%ld/schedstat", tid);
	f = fopen(p, "r");
	if (f) {
		if (fscanf(f, "%llu", &ns) != 1)
			ns = 0;
		fclose(f);
	}
	return ns;
}

static void store(const uint32_t *t, size_t len)
{
	int rc = pce_cache_store(cache, 0, t, len, 1, 0, NULL, NULL);

	if (rc && rc != PCE_EEXIST)
		die("store", rc);
}

/* Entry @i: system prompt i % PREFIXES, then ENTRY - PREFIX_TOKENS tokens of
 * its own.  The publisher's queue is kept below half full. */
static void store_entry(uint64_t i)
{
	uint32_t t[ENTRY];
	struct pce_publisher_stats ps;

	for (uint32_t k = 0; k < PREFIX_TOKENS; k++)
		t[k] = (uint32_t)(i % PREFIXES) * PREFIX_TOKENS + k;
	for (uint32_t k = PREFIX_TOKENS; k < ENTRY; k++)
		t[k] = next_tok++;
	for (;;) {
		pce_publisher_stats_get(pub, &ps);
		if (ps.queued < 32768)
			break;
		sched_yield();
	}
	store(t, ENTRY);
}

static struct pce_subscriber_endpoint endpoint = {.owner = OWNER};

static void sub_config(struct pce_subscriber_config *c, struct pce_router *r)
{
	endpoint.pub_addr = pub_addr;
	endpoint.replay_addr = rep_addr;
	pce_subscriber_config_init(c);
	c->router = r;
	c->block_size = BSZ;
	c->endpoints = &endpoint;
	c->n_endpoints = 1;
}

static void router_config(struct pce_router_config *rc)
{
	pce_router_config_init(rc);
	rc->block_size = BSZ;
}

/* Until the subscriber has applied the publisher's last batch, settled.
 * While it has none, one more entry is stored (a PUB drops what it sends
 * before the subscriber joins; the first batch it sees starts a replay). */
static void wait_caught_up(struct pce_subscriber *s, uint64_t *entries)
{
	uint64_t end = now_ns() + 120 * SEC;

	for (;;) {
		struct pce_subscriber_endpoint_status st;
		struct pce_publisher_stats ps;
		int rc = pce_publisher_flush(pub, 60 * SEC);

		if (rc)
			die("flush", rc);
		pce_publisher_stats_get(pub, &ps);
		pce_subscriber_endpoint_status(s, 0, &st);
		if (ps.next_seq && st.has_seq && st.last_seq == ps.next_seq - 1 &&
		    st.state == PCE_EV_EXACT)
			return;
		if (now_ns() > end) {
			fprintf(stderr, "bench_events_e2e: the subscriber never caught up\n");
			exit(1);
		}
		if (!st.has_seq)
			store_entry((*entries)++);
		usleep(1000);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void latency(struct pce_router *r, int n, int flush)
{
	uint64_t *lat = malloc((size_t)n * sizeof(*lat));
	uint32_t t[4 * BSZ];

	if (!lat)
		die("latency", PCE_ENOMEM);
	for (int i = 0; i < n; i++) {
		struct pce_overlap o;
		size_t got;
		uint64_t t0;

		for (uint32_t k = 0; k < 4 * BSZ; k++)
			t[k] = next_tok++;
		t0 = now_ns();
		store(t, 4 * BSZ);
		if (flush)
			pce_publisher_flush(pub, 10 * SEC);
		for (;;) {
			if (pce_router_match(r, 0, t, 4 * BSZ, PCE_ROUTER_MATCH_PEEK, &o, 1, &got,
					     NULL))
				die("match", PCE_EINVAL);
			if (got && o.tokens == 4 * BSZ)
				break;
			sched_yield();
		}
		lat[i] = now_ns() - t0;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
	printf("latency %-9s n=%d  p50 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us\n",
	       flush ? "flushed" : "batched", n, lat[n / 2] / 1e3, lat[(size_t)(n * 0.99)] / 1e3,
	       lat[(size_t)(n * 0.999)] / 1e3, lat[n - 1] / 1e3);
	free(lat);
}

int main(int argc, char **argv)
{
	uint64_t n_entries = argc > 1 ? strtoull(argv[1], NULL, 10) : 78000;
	int n_lat = argc > 2 ? atoi(argv[2]) : 2000;
	const char *path = argc > 3 ? argv[3] : "/tmp/bench_events_e2e.snap";
	struct pce_publisher_config pc;
	struct pce_config cc;
	struct pce_router_config rc;
	struct pce_subscriber_config sc;
	struct pce_router *r, *r2;
	struct pce_subscriber *s, *s2;
	struct pce_subscriber_endpoint_status st, st2;
	struct pce_subscriber_stats ss;
	struct pce_router_stats rs, rs2;
	struct pce_publisher_stats ps;
	uint64_t entries = 0, t0, before, sub_ns;
	double c0, wall, cpu;
	struct stat sb;
	int rcode;

	pce_publisher_config_init(&pc);
	pc.block_size = BSZ;
	pc.replay_endpoint = "tcp://127.0.0.1:*";
	if ((rcode = pce_publisher_create(&pc, &pub)))
		die("publisher", rcode);
	pce_publisher_endpoint(pub, pub_addr, sizeof(pub_addr));
	pce_publisher_replay_endpoint(pub, rep_addr, sizeof(rep_addr));
	pce_config_init(&cc);
	cc.block_size = BSZ;
	cc.on_event = pce_publisher_on_event;
	cc.event_ctx = pub;
	if ((rcode = pce_cache_create(&cc, &cache)))
		die("cache", rcode);
	router_config(&rc);
	if ((rcode = pce_router_create(&rc, &r)))
		die("router", rcode);
	sub_config(&sc, r);
	if ((rcode = pce_subscriber_create(&sc, &s)))
		die("subscriber", rcode);
	wait_caught_up(s, &entries);

	/* ingest */
	pce_subscriber_stats_get(s, &ss);
	before = ss.c.blocks_stored;
	t0 = now_ns();
	c0 = cpu_s();
	sub_ns = newest_thread_cpu_ns();
	while (entries < n_entries)
		store_entry(entries++);
	wait_caught_up(s, &entries);
	wall = (double)(now_ns() - t0) / 1e9;
	cpu = cpu_s() - c0;
	sub_ns = newest_thread_cpu_ns() - sub_ns;
	pce_subscriber_stats_get(s, &ss);
	pce_router_stats_get(r, &rs);
	pce_publisher_stats_get(pub, &ps);
	printf("ingest    %llu block events in %.3f s wall, %.3f s CPU (all threads), %.3f s "
	       "CPU (subscriber thread): %.2f M/s wall, %.2f M per CPU second (all), %.2f M per "
	       "subscriber CPU second; router tokens %llu, holdings %llu\n",
	       (unsigned long long)(ss.c.blocks_stored - before), wall, cpu, sub_ns / 1e9,
	       (double)(ss.c.blocks_stored - before) / wall / 1e6,
	       (double)(ss.c.blocks_stored - before) / cpu / 1e6,
	       (double)(ss.c.blocks_stored - before) / (sub_ns / 1e9) / 1e6,
	       (unsigned long long)rs.tokens, (unsigned long long)rs.holdings);
	if (rs.holdings != ps.blocks || ps.drops)
		die("ingest: holdings differ from the published blocks", PCE_ECORRUPT);

	/* snapshot write and restore */
	t0 = now_ns();
	if ((rcode = pce_subscriber_snapshot_write(s, path)))
		die("snapshot write", rcode);
	wall = (double)(now_ns() - t0) / 1e9;
	stat(path, &sb);
	printf("snapshot  write   %.3f s, %.2f M tokens/s, file %.1f MB\n", wall,
	       (double)rs.tokens / wall / 1e6, (double)sb.st_size / 1e6);
	pce_subscriber_endpoint_status(s, 0, &st);
	pce_subscriber_destroy(s);
	/* published while nobody listens: the restored subscriber replays it */
	for (int i = 0; i < 1000; i++)
		store_entry(entries++);
	if ((rcode = pce_publisher_flush(pub, 60 * SEC)))
		die("flush", rcode);
	sub_config(&sc, NULL);
	t0 = now_ns();
	if ((rcode = pce_subscriber_snapshot_restore(&rc, path, &sc, &r2, &s2)))
		die("snapshot restore", rcode);
	wall = (double)(now_ns() - t0) / 1e9;
	pce_router_stats_get(r2, &rs2);
	printf("snapshot  restore %.3f s, %.2f M tokens/s (router and subscriber; goal <= 1 s "
	       "for 10M tokens)\n", wall, (double)rs2.tokens / wall / 1e6);
	if (rs2.holdings != rs.holdings || rs2.tokens != rs.tokens ||
	    pce_router_audit(r2, 0, NULL, 0))
		die("restore: the router differs", PCE_ECORRUPT);
	pce_router_destroy(r);
	/* the router's share: the same file restored into a router alone */
	t0 = now_ns();
	if ((rcode = pce_router_snapshot_restore(&rc, path, NULL, NULL, &r)))
		die("router restore", rcode);
	printf("snapshot  restore of the router alone %.3f s\n", (double)(now_ns() - t0) / 1e9);
	pce_router_destroy(r);
	r = r2;
	s = s2;

	/* the restart: the 1000 entries published while it was down, more after */
	for (int i = 0; i < 1000; i++)
		store_entry(entries++);
	wait_caught_up(s, &entries);
	pce_subscriber_endpoint_status(s, 0, &st2);
	pce_publisher_stats_get(pub, &ps);
	pce_router_stats_get(r, &rs);
	printf("restart   batches applied %llu before + %llu after (%llu replayed) = %llu, "
	       "published %llu; holdings %llu, published blocks %llu; lost %lld, "
	       "applied twice %lld\n",
	       (unsigned long long)st.c.batches, (unsigned long long)st2.c.batches,
	       (unsigned long long)st2.c.replayed,
	       (unsigned long long)(st.c.batches + st2.c.batches), (unsigned long long)ps.next_seq,
	       (unsigned long long)rs.holdings, (unsigned long long)ps.blocks,
	       st.c.batches + st2.c.batches < ps.next_seq
		       ? (long long)(ps.next_seq - st.c.batches - st2.c.batches) : 0,
	       st.c.batches + st2.c.batches > ps.next_seq
		       ? (long long)(st.c.batches + st2.c.batches - ps.next_seq) : 0);

	if (n_lat > 0) {
		latency(r, n_lat, 0);
		latency(r, n_lat, 1);
	}
	pce_subscriber_destroy(s);
	pce_router_destroy(r);
	pce_cache_destroy(cache);
	pce_publisher_destroy(pub);
	unlink(path);
	return 0;
}
