/*
 * bench_decode.c - KV-event ingestion rate: block events per second of CPU
 * time, decoded and applied to a router, from a pre-encoded stream (no
 * sockets), and decoded only.
 *
 * The stream: W owners (one endpoint each); 64 shared system prompts of 8
 * blocks; each owner grows up to 32 conversations from them, 4 blocks per
 * BlockStored, and evicts a conversation's own blocks leaf-first with
 * BlockRemoved once it passes 40 blocks.  Block size 16.  A block event is
 * one block hash of a BlockStored or BlockRemoved.
 *
 * Usage: bench_events_decode [batches (default 200000)] [owners (default 8)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/events/mp.h"
#include "pce/events.h"
#include "subscriber.h"
#include "wire.h"

#define BSZ 16
#define PREFIXES 64
#define PREFIX_BLOCKS 8
#define CONVS 32
#define MAX_BLOCKS 48

struct conv {
	uint64_t h[MAX_BLOCKS];
	int n;
};

struct msg {
	size_t off, len;
	uint32_t ep;
	uint64_t seq;
};

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void put_stored(struct mp *m, const uint64_t *h, int n, int has_parent, uint64_t parent,
		       uint32_t tok0)
{
	mp_map(m, 8);
	mp_str(m, "type");
	mp_str(m, "BlockStored");
	mp_str(m, "block_hashes");
	mp_arr(m, (uint32_t)n);
	for (int i = 0; i < n; i++)
		mp_uint(m, h[i]);
	mp_str(m, "parent_block_hash");
	if (has_parent)
		mp_uint(m, parent);
	else
		mp_nil(m);
	mp_str(m, "token_ids");
	mp_arr(m, (uint32_t)(n * BSZ));
	for (int i = 0; i < n * BSZ; i++)
		mp_uint(m, tok0 + (uint32_t)i);
	mp_str(m, "block_size");
	mp_uint(m, BSZ);
	mp_str(m, "lora_id");
	mp_nil(m);
	mp_str(m, "medium");
	mp_str(m, "GPU");
	mp_str(m, "lora_name");
	mp_nil(m);
}

int main(int argc, char **argv)
{
	long batches = argc > 1 ? atol(argv[1]) : 200000;
	int owners = argc > 2 ? atoi(argv[2]) : 8;
	struct conv(*conv)[CONVS] = calloc((size_t)owners, sizeof(*conv));
	uint64_t *seq = calloc((size_t)owners, sizeof(*seq)), next_hash = 1ull << 40;
	struct msg *msgs = calloc((size_t)batches, sizeof(*msgs));
	struct pce_subscriber_endpoint *ep = calloc((size_t)owners, sizeof(*ep));
	uint64_t block_events = 0;
	struct mp m = {0};
	struct pce_router_config rc;
	struct pce_router *r;
	struct pce_subscriber_config sc;
	struct pce_subscriber *s;
	struct pce_subscriber_stats st;
	struct pce_wire_batch b;
	double t0, t_dec, t_app;

	if (!conv || !seq || !msgs || !ep || owners < 1 || batches < 1)
		return 2;
	/* the stream */
	for (long i = 0; i < batches; i++) {
		int o = (int)(rnd() % (uint64_t)owners);
		struct conv *c = &conv[o][rnd() % CONVS];

		msgs[i].off = m.n;
		msgs[i].ep = (uint32_t)o;
		msgs[i].seq = seq[o]++;
		mp_arr(&m, 3);
		mp_f64(&m, (double)i);
		mp_arr(&m, 1);
		if (c->n + 4 > 40) {
			/* evict the conversation's own blocks, deepest first */
			mp_map(&m, 3);
			mp_str(&m, "type");
			mp_str(&m, "BlockRemoved");
			mp_str(&m, "block_hashes");
			mp_arr(&m, (uint32_t)(c->n - PREFIX_BLOCKS));
			for (int k = c->n - 1; k >= PREFIX_BLOCKS; k--)
				mp_uint(&m, c->h[k]);
			mp_str(&m, "medium");
			mp_str(&m, "GPU");
			block_events += (uint64_t)(c->n - PREFIX_BLOCKS);
			c->n = PREFIX_BLOCKS;
		} else if (c->n == 0) {
			/* a shared system prompt: the same hashes on every owner */
			uint64_t p = rnd() % PREFIXES;

			for (int k = 0; k < PREFIX_BLOCKS; k++)
				c->h[k] = p * 64 + (uint64_t)k + 1;
			put_stored(&m, c->h, PREFIX_BLOCKS, 0, 0, (uint32_t)p * 1000);
			c->n = PREFIX_BLOCKS;
			block_events += PREFIX_BLOCKS;
		} else {
			for (int k = 0; k < 4; k++)
				c->h[c->n + k] = next_hash++;
			put_stored(&m, c->h + c->n, 4, 1, c->h[c->n - 1],
				   (uint32_t)(next_hash & 0xffffff) * 64);
			c->n += 4;
			block_events += 4;
		}
		mp_uint(&m, 0);
		msgs[i].len = m.n - msgs[i].off;
	}
	/* decode only */
	pce_wire_batch_init(&b);
	t0 = cpu_s();
	for (long i = 0; i < batches; i++)
		if (pce_wire_decode(&b, m.p + msgs[i].off, msgs[i].len))
			return 1;
	t_dec = cpu_s() - t0;
	pce_wire_batch_free(&b);
	/* decode and apply */
	pce_router_config_init(&rc);
	rc.block_size = BSZ;
	/* the router's reclaim thread frees what removes unlinked, on its own
	 * core, as in a deployment: the figure is the feeding thread's CPU */
	if (pce_router_create(&rc, &r))
		return 1;
	for (int o = 0; o < owners; o++) {
		ep[o].pub_addr = "tcp://127.0.0.1:1"; /* never connects: fed directly */
		ep[o].owner = (uint32_t)o;
	}
	pce_subscriber_config_init(&sc);
	sc.router = r;
	sc.block_size = BSZ;
	sc.endpoints = ep;
	sc.n_endpoints = (size_t)owners;
	if (pce_subscriber_create(&sc, &s))
		return 1;
	t0 = cpu_s();
	for (long i = 0; i < batches; i++)
		pce__sub_feed(s, msgs[i].ep, msgs[i].seq, m.p + msgs[i].off, msgs[i].len);
	t_app = cpu_s() - t0;
	pce_subscriber_stats_get(s, &st);
	printf("batches %ld owners %d block_events %llu stream_bytes %zu\n", batches, owners,
	       (unsigned long long)block_events, m.n);
	printf("decode:        %.2f M block events/s per core (%.3f s CPU)\n",
	       (double)block_events / t_dec / 1e6, t_dec);
	printf("decode+apply:  %.2f M block events/s per core (%.3f s CPU)\n",
	       (double)block_events / t_app / 1e6, t_app);
	printf("held: %llu (owner, block) entries, %llu interned blocks, %.1f bytes per (owner, "
	       "block) (map %llu B + tokens %llu B)\n",
	       (unsigned long long)st.blocks, (unsigned long long)st.interned_blocks,
	       st.bytes_per_owner_block, (unsigned long long)st.map_bytes,
	       (unsigned long long)st.token_bytes);
	printf("dropped: malformed %llu unknown_parent %llu unknown_hash %llu router %llu\n",
	       (unsigned long long)st.c.dropped[PCE_SUBSCRIBER_DROP_MALFORMED],
	       (unsigned long long)st.c.dropped[PCE_SUBSCRIBER_DROP_UNKNOWN_PARENT],
	       (unsigned long long)st.c.dropped[PCE_SUBSCRIBER_DROP_UNKNOWN_HASH],
	       (unsigned long long)st.c.dropped[PCE_SUBSCRIBER_DROP_ROUTER]);
	pce_subscriber_destroy(s);
	pce_router_destroy(r);
	free(m.p);
	free(conv);
	free(seq);
	free(msgs);
	free(ep);
	return 0;
}
