/*
 * pce/events.h - libpce_events: KV events on vLLM's wire (ZMQ + msgpack).
 *
 * A separate library (pce_events, pkg-config libzmq and msgpack, libxxhash)
 * built on libpce's public API; libpce itself never depends on it.
 * docs/events.md describes the wire format and the choices below.
 */
#ifndef PCE_EVENTS_H
#define PCE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "pce/cache.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== publisher ==========================================================
 *
 * A pce_cache used inside an engine announces its block set the way vLLM's
 * ZmqEventPublisher does, so consumers of vLLM's KV events (vLLM's own
 * subscriber example, Dynamo, llm-d) read it unchanged:
 *
 *   PUB   multipart [topic, seq (8-byte big-endian, from 0), payload]
 *   payload  msgpack [ts, [event...], data_parallel_rank]
 *   event    {"type": "BlockStored", "block_hashes", "parent_block_hash",
 *             "token_ids", "block_size", "lora_id", "medium", "lora_name"}
 *            {"type": "BlockRemoved", "block_hashes", "medium"}
 *            {"type": "AllBlocksCleared"}
 *   ROUTER   (optional) a request ["", start (8-byte big-endian)] from a
 *            DEALER gets ["", topic, seq, payload] for every buffered batch
 *            with seq >= start, then ["", "", ff ff ff ff ff ff ff ff, ""].
 *
 * Blocks.  An entry of n tokens covers floor(n / block_size) whole blocks;
 * a partial last block is not published.  Block i's hash is
 * XXH3-64(tokens of block i, seed = hash of block i-1), block 0's seed being
 * XXH3-64(namespace, seed = config.hash_seed), so equal prefixes in one
 * namespace share blocks and namespaces never do.  A block is published
 * (BlockStored) when the first entry covering it appears and removed
 * (BlockRemoved, deepest block first) when the last one leaves: the stream
 * mirrors the cache's set of whole blocks exactly.
 *
 * Threads.  pce_publisher_on_event() runs in the cache's writer (under its
 * shard lock): it hashes the blocks, updates the publisher's block mirror
 * and queues the wire event, under one publisher mutex, without blocking on
 * I/O.  One publisher thread owns the sockets: it encodes, numbers and sends
 * the batches, keeps the replay ring and answers replay requests.
 *
 * Loss.  If the queue is full (the thread cannot keep up), the event is not
 * queued, but the mirror stays exact.  The thread then skips one sequence
 * number (every subscriber sees a gap that no replay can fill) and sends
 * AllBlocksCleared followed by the whole current block set, so a consumer
 * that resets on AllBlocksCleared is exact again.  stats.drops counts the
 * events lost, stats.resyncs the resets.
 */

struct pce_publisher;

/* How block hashes travel. */
enum pce_pub_hash {
	PCE_PUB_HASH_INT = 0,  /* msgpack integers (uint64), vLLM's default */
	PCE_PUB_HASH_BYTES = 1 /* msgpack bin of the 8 hash bytes, big-endian */
};

struct pce_publisher_config {
	const char *endpoint;        /* PUB address to bind; default "tcp://127.0.0.1:*"
	                              * (a free port: see pce_publisher_endpoint()) */
	const char *replay_endpoint; /* ROUTER address to bind; NULL (default): no replay */
	const char *topic;           /* first frame of every message; default "" */
	const char *medium;          /* BlockStored/BlockRemoved "medium"; default "GPU" */
	uint32_t data_parallel_rank; /* the payload's third field; default 0 */
	uint32_t block_size;         /* tokens per block, >= 1; default 16 */
	uint32_t replay_batches;     /* batches kept for replay, >= 1; default 10000 */
	uint32_t max_batch_events;   /* events per batch, >= 1; default 1024 */
	uint64_t max_delay_ns;       /* longest wait before a partial batch goes out;
	                              * default 1 ms (rounded up to whole ms) */
	uint32_t queue_events;       /* bound of the queue, >= 1; default 65536 */
	int sndhwm;                  /* ZMQ_SNDHWM of the PUB socket; default 100000 */
	int linger_ms;               /* ZMQ_LINGER at destroy, >= 0; default 1000 */
	enum pce_pub_hash hash;      /* default PCE_PUB_HASH_INT */
	uint64_t hash_seed;          /* enters every root hash; default 0 */
};

struct pce_publisher_stats {
	uint64_t batches;         /* batches sent on the PUB socket */
	uint64_t events;          /* wire events sent (resync events included) */
	uint64_t bytes;           /* payload bytes sent */
	uint64_t drops;           /* events the full queue refused */
	uint64_t resyncs;         /* AllBlocksCleared + block set re-sends */
	uint64_t skipped_seqs;    /* sequence numbers left out to show a loss */
	uint64_t replay_requests; /* valid replay requests answered */
	uint64_t replay_bad;      /* malformed replay requests ignored */
	uint64_t replayed;        /* batches sent in replay answers */
	uint64_t next_seq;        /* the sequence number the next batch gets */
	uint64_t queued;          /* events waiting in the queue now */
	uint64_t blocks;          /* distinct blocks published now */
	uint64_t entries;         /* entries covering at least one block now */
};

/* pce_publisher_config_init - Fill @cfg with the documented defaults. */
PCE_API void pce_publisher_config_init(struct pce_publisher_config *cfg);

/*
 * pce_publisher_create - Bind the sockets and start the publisher thread.
 * @cfg is copied (strings included).  Sequence numbers start at 0.
 * Return: 0; PCE_EINVAL NULL argument or invalid field; PCE_EENDPOINT an
 * endpoint ZMQ could not bind (malformed, or the address is in use);
 * PCE_ENOMEM (memory, or file descriptors for ZMQ's context and sockets);
 * PCE_ETHREAD.
 */
PCE_API int pce_publisher_create(const struct pce_publisher_config *cfg,
				 struct pce_publisher **out);

/*
 * pce_publisher_endpoint - The bound PUB address ("tcp://127.0.0.1:41234")
 * pce_publisher_replay_endpoint - The bound ROUTER address ("" without one)
 * Copies it NUL-terminated into @buf.
 * Return: 0; PCE_EINVAL NULL argument or @len too small.
 */
PCE_API int pce_publisher_endpoint(struct pce_publisher *pub, char *buf, size_t len);
PCE_API int pce_publisher_replay_endpoint(struct pce_publisher *pub, char *buf, size_t len);

/*
 * pce_publisher_on_event - A pce_event_fn: set config.on_event to it and
 * config.event_ctx to the publisher.  Never blocks on I/O; takes the
 * publisher's mutex (shared with other shards' writers and, briefly, the
 * publisher thread).  Meant for a pce_cache's events (a router's owners
 * and tiers are not told apart).  An allocation failure counts in
 * stats.drops: for a queued event it resyncs like a full queue; for the
 * mirror's record of an entry, that entry's blocks stay unpublished
 * (docs/events.md).  The publisher must outlive the cache.
 */
PCE_API void pce_publisher_on_event(void *ctx, const struct pce_event *event);

/*
 * pce_publisher_flush - Wait until every event queued before the call is
 * sent (and a pending resync done), without waiting for max_delay_ns.
 * Return: 0; PCE_ETIMEDOUT not done within @timeout_ns; PCE_EINVAL NULL @pub.
 */
PCE_API int pce_publisher_flush(struct pce_publisher *pub, uint64_t timeout_ns);

/* pce_publisher_stats - Snapshot of the counters.  Return: 0 or PCE_EINVAL. */
PCE_API int pce_publisher_stats(struct pce_publisher *pub, struct pce_publisher_stats *out);

/*
 * pce_publisher_destroy - Send what is queued, stop the thread, close the
 * sockets (pending messages get up to config.linger_ms) and free.  Accepts
 * NULL.  No cache may still call pce_publisher_on_event() with it.
 * Return: 0.
 */
PCE_API int pce_publisher_destroy(struct pce_publisher *pub);

#ifdef __cplusplus
}
#endif

#endif /* PCE_EVENTS_H */
