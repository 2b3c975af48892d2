/*
 * pce/events.h - libpce_events: KV events in vLLM's wire format, into a
 * router index (subscriber) and out of an engine's cache (publisher).
 *
 * Engines announce what their prefix caches hold with KV events: vLLM's
 * ZmqEventPublisher (SGLang publishes the same format) sends on a ZMQ PUB
 * socket multipart messages [topic, seq (8 bytes big-endian), payload
 * (msgpack KVEventBatch)] with the events BlockStored, BlockRemoved and
 * AllBlocksCleared, and answers replay requests on a ROUTER socket.
 * docs/events.md describes the wire as accepted, the namespace derivation,
 * the recovery state machine and every statistic.
 *
 * Sections: common, subscriber, warm restart, publisher.  This library is
 * separate from libpce (it links libzmq and msgpack-c) and uses libpce's
 * public API only.
 */
#ifndef PCE_EVENTS_H
#define PCE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "pce/errors.h"
#include "pce/router.h"
#include "pce/version.h"
#include "pce/cache.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== common ============================================================= */

/*
 * What the index knows about one owner (or one endpoint):
 *   EXACT       its holdings in the router equal the engine's as of the
 *               last sequence number applied;
 *   RECOVERING  events were missed and a replay is under way (or no batch
 *               has arrived yet): holdings may lag;
 *   DEGRADED    events were lost for good (or could not be applied):
 *               holdings may be missing (or, after a malformed batch,
 *               stale) until the engine's view is known again.
 */
enum pce_ev_state {
	PCE_EV_EXACT = 0,
	PCE_EV_RECOVERING = 1,
	PCE_EV_DEGRADED = 2,
};

/* pce_ev_state_name - "EXACT", "RECOVERING", "DEGRADED", or "?". */
PCE_API const char *pce_ev_state_name(int state);

/*
 * Namespaces (docs/events.md, "Namespaces").  A gateway computes the same
 * to query the router:
 *   root  = pce_ev_ns_lora(base, lora_name)  when the event has lora_name,
 *           pce_ev_ns_lora_id(base, lora_id) when it has only lora_id,
 *           base                             otherwise;
 *   block = pce_ev_ns_extra(parent's, entry) when the block's extra_keys
 *           entry is not nil (entry: its msgpack bytes as the engine sent
 *           them), else the parent block's namespace (root for the first).
 * Each is FNV-1a 64 over (8 bytes little-endian @ns, one tag byte 'L', 'I'
 * or 'X', then the name, lora_id as 8 bytes little-endian, or the entry),
 * finished by h ^= h >> 33; h *= 0xff51afd7ed558ccd; h ^= h >> 33.
 */
PCE_API uint64_t pce_ev_ns_lora(uint64_t ns, const char *lora_name, size_t len);
PCE_API uint64_t pce_ev_ns_lora_id(uint64_t ns, int64_t lora_id);
PCE_API uint64_t pce_ev_ns_extra(uint64_t ns, const void *entry, size_t len);

/* ==== subscriber ========================================================= */

struct pce_subscriber;

/*
 * struct pce_subscriber_endpoint - One engine (one data-parallel rank) to follow.
 * Strings are copied by pce_subscriber_create().
 */
struct pce_subscriber_endpoint {
	const char *pub_addr;    /* the engine's PUB socket, e.g. "tcp://10.0.0.5:5557" */
	const char *replay_addr; /* its replay ROUTER socket; NULL: none */
	const char *topic;       /* subscription prefix; NULL or "": every topic */
	uint32_t owner;          /* the owner, or the base with owner_by_rank */
	int owner_by_rank;       /* 1: owner = owner + the batch's data_parallel_rank */
	uint64_t base_ns;        /* root namespace before LoRA (see above) */
	int64_t group_idx;       /* KV-cache group followed; events of others are
	                          * ignored (counted); default 0 */
	int resume;              /* 1: resume_seq was the last sequence applied
	                          * (restored with pce_subscriber_config.import_blob) */
	uint64_t resume_seq;
};

/* Why events were not applied (pce_subscriber_counters.dropped[]). */
enum pce_subscriber_drop {
	PCE_SUBSCRIBER_DROP_MALFORMED = 0,   /* unreadable message, batch or event */
	PCE_SUBSCRIBER_DROP_UNKNOWN_TAG,     /* an event type this library does not know */
	PCE_SUBSCRIBER_DROP_UNKNOWN_PARENT,  /* BlockStored under a parent not held */
	PCE_SUBSCRIBER_DROP_UNKNOWN_HASH,    /* BlockRemoved of a block not held */
	PCE_SUBSCRIBER_DROP_ROUTER,          /* the router refused an add (budget, memory) */
	PCE_SUBSCRIBER_DROP_COUNT
};

/*
 * struct pce_subscriber_stored - A BlockStored about to be applied (or just
 * applied) to an owner, as an observer sees it: the event's blocks under
 * its parent, as one path from the root.
 */
struct pce_subscriber_stored {
	int applied;             /* 0: before the router and the map change; 1: after */
	uint32_t owner;
	uint32_t tier;           /* the event's medium as a tier (PCE_TIER_*) */
	uint64_t ns;             /* namespace of the event's first block (an
	                          * extra_keys entry may start another below it) */
	const uint32_t *tokens;  /* the parent block's path, then the event's blocks */
	size_t len;              /* tokens of that path, whole blocks */
	size_t first;            /* tokens[first] is the event's first token
	                          * (first = the parent path's length) */
};

/*
 * pce_subscriber_observe_fn - Called on the subscriber's thread, with its
 * lock held, twice per BlockStored that is applied (a BlockStored refused
 * for its block size or an unknown parent is not seen): before, then after.
 * @ev and its tokens are valid for the call only.  It must be quick, may
 * call pce_router_match() on the router, and must not call pce_subscriber_*
 * functions (they take the lock).
 */
typedef void (*pce_subscriber_observe_fn)(void *ctx, const struct pce_subscriber_stored *ev);

struct pce_subscriber_config {
	struct pce_router *router;   /* fed; must outlive the subscriber */
	uint32_t block_size;         /* the router's config.block_size: events
	                              * of another block size are malformed */
	const struct pce_subscriber_endpoint *endpoints;
	size_t n_endpoints;          /* >= 1 */
	uint32_t unknown_medium_tier; /* tier of a medium other than GPU, CPU,
	                               * DISK, REMOTE (counted); default REMOTE */
	uint32_t max_buffered;       /* live batches held during a replay;
	                              * default 10000 (vLLM's replay buffer) */
	uint32_t replay_timeout_ms;  /* a replay that is silent this long has
	                              * failed; default 3000 */
	const void *import_blob;     /* NULL, or pce_subscriber_export()'s block maps */
	size_t import_len;
	pce_subscriber_observe_fn observe; /* NULL (default): none */
	void *observe_ctx;
};

/* pce_subscriber_config_init - The documented defaults, no router, no endpoints. */
PCE_API void pce_subscriber_config_init(struct pce_subscriber_config *cfg);

/*
 * pce_subscriber_create - Start a subscriber: one thread that owns every ZMQ
 * socket and applies what it receives to cfg->router.
 * Return: 0; PCE_EINVAL (NULL, no endpoint, no address, an owner given
 * twice, a bad tier or a malformed import blob); PCE_EZMQ (a socket could
 * not be created or connected); PCE_ENOMEM; PCE_ETHREAD.
 */
PCE_API int pce_subscriber_create(const struct pce_subscriber_config *cfg,
				  struct pce_subscriber **out);

/* pce_subscriber_destroy - Stop the thread, close the sockets, free.  Accepts NULL.
 * The router keeps what was applied. */
PCE_API void pce_subscriber_destroy(struct pce_subscriber *s);

struct pce_subscriber_counters {
	uint64_t batches;        /* batches applied (live and replayed) */
	uint64_t replayed;       /* of which from a replay */
	uint64_t events;         /* events applied */
	uint64_t blocks_stored;  /* blocks entered into a map */
	uint64_t blocks_removed; /* blocks that left a map (removes, cascades) */
	uint64_t clears;         /* AllBlocksCleared applied */
	uint64_t gaps;           /* sequence gaps seen */
	uint64_t restarts;       /* sequences that went backwards */
	uint64_t recoveries_failed; /* gaps a replay could not cover */
	uint64_t other_group;    /* events of another KV-cache group, ignored */
	uint64_t unknown_medium; /* blocks stored with an unknown medium */
	uint64_t dropped[PCE_SUBSCRIBER_DROP_COUNT];
};

struct pce_subscriber_endpoint_status {
	int state;               /* enum pce_ev_state */
	int has_seq;             /* a sequence number was applied */
	uint64_t last_seq;       /* the last applied */
	uint32_t owners;         /* owners seen on it */
	struct pce_subscriber_counters c;
};

struct pce_subscriber_owner_status {
	uint32_t owner;
	uint32_t endpoint;       /* index in the config */
	int state;               /* enum pce_ev_state */
	uint64_t blocks;         /* blocks held (map entries) */
	int has_seq;
	uint64_t last_seq;       /* last sequence applied to this owner */
	struct pce_subscriber_counters c;
};

struct pce_subscriber_stats {
	struct pce_subscriber_counters c; /* every endpoint */
	uint64_t owners;
	uint64_t blocks;           /* (owner, block) map entries */
	uint64_t interned_blocks;  /* distinct token blocks stored */
	uint64_t map_bytes;        /* bytes of every owner's map */
	uint64_t token_bytes;      /* bytes of the interned token store */
	double bytes_per_owner_block; /* (map + token bytes) / blocks */
};

/* Status and statistics: consistent snapshots (taken between batches). */
PCE_API int pce_subscriber_stats_get(struct pce_subscriber *s, struct pce_subscriber_stats *out);
/* Return: 0, PCE_EINVAL, PCE_ENOENT (no such endpoint / owner not seen). */
PCE_API int pce_subscriber_endpoint_status(struct pce_subscriber *s, size_t endpoint,
				    struct pce_subscriber_endpoint_status *out);
PCE_API int pce_subscriber_owner_status(struct pce_subscriber *s, uint32_t owner,
				 struct pce_subscriber_owner_status *out);

/*
 * pce_subscriber_export - The block maps of every owner, and each endpoint's last
 * applied sequence number, as one byte string (docs/events.md, "Export"),
 * taken between two batches.  *@blob is malloc'd; free() it.
 * Return: 0, PCE_EINVAL, PCE_ENOMEM.
 */
PCE_API int pce_subscriber_export(struct pce_subscriber *s, void **blob, size_t *len);

/*
 * pce_subscriber_blob_seq - Endpoint @endpoint's last applied sequence number as
 * recorded in @blob.  Return: 0; PCE_ENOENT none recorded; PCE_EINVAL the
 * blob is malformed.
 */
PCE_API int pce_subscriber_blob_seq(const void *blob, size_t len, size_t endpoint, uint64_t *seq);
/* What @blob records of one endpoint (pce_subscriber_blob_endpoint()). */
struct pce_subscriber_blob_endpoint {
	int has_seq;             /* a sequence number was applied */
	uint64_t last_seq;       /* the last applied (0 without one) */
	uint32_t owners;         /* owners of the endpoint in the blob */
	uint64_t blocks;         /* blocks they hold (map entries) */
};

/*
 * pce_subscriber_blob_endpoint - Endpoint @endpoint as recorded in @blob.
 * Return: 0; PCE_ENOENT @blob has fewer endpoints; PCE_EINVAL the blob is
 * malformed (bad magic, checksum or structure) or @out is NULL.
 */
PCE_API int pce_subscriber_blob_endpoint(const void *blob, size_t len, size_t endpoint,
					 struct pce_subscriber_blob_endpoint *out);

/* ==== warm restart ========================================================
 *
 * One snapshot file (pce/snapshot.h: versioned, checksummed, written to a
 * temporary file, fsynced and renamed) holds the router index and, as the
 * caller section PCE_SUBSCRIBER_SECTION, the subscriber's export blob: its
 * block maps and each endpoint's last applied sequence number.  Both are
 * taken while the subscriber applies no batch, so the file's holdings are
 * the ones its maps and sequence numbers describe (docs/events.md,
 * "Snapshot and warm restart", states what else may change the router
 * meanwhile).  A restore rebuilds both and resumes each endpoint from its
 * recorded sequence number through the engine's replay.
 */

/* Name of the caller section that holds the subscriber's export blob. */
#define PCE_SUBSCRIBER_SECTION "pce.events.subscriber"

/*
 * pce_subscriber_snapshot_write - Write @s's router and @s's state to @path.
 * The subscriber's thread applies no batch from before the router is copied
 * until the file is renamed into place (batches keep arriving in the
 * sockets' queues and are applied after).  Status and stats calls wait
 * meanwhile.
 * Return: 0; PCE_EINVAL NULL argument; PCE_ENOMEM; an error of
 * pce_router_snapshot_write() (I/O: -errno).  On error @path is unchanged.
 */
PCE_API int pce_subscriber_snapshot_write(struct pce_subscriber *s, const char *path);

/*
 * pce_subscriber_snapshot_restore - A new router from @rcfg filled from
 * @path, and a new subscriber from @cfg feeding it, resumed from the file.
 * @cfg: as for pce_subscriber_create(), with router NULL (the restored one is
 *   used) and no import_blob (the file's is); its endpoints must be those the
 *   file was written with, in the same order.  Each endpoint whose sequence
 *   number the file records resumes from it (its resume and resume_seq are
 *   taken from the file); the others start as pce_subscriber_create() does.
 * @router, @sub: receive both, or NULL both on error: nothing is
 *   half-created (the router is destroyed if the subscriber cannot start).
 * Return: 0; PCE_EBADSNAP the file is not a router snapshot, is truncated
 * or corrupt, or has no (or a malformed) PCE_SUBSCRIBER_SECTION; PCE_EINVAL
 * NULL argument, @cfg.router or @cfg.import_blob set, @rcfg.block_size
 * other than @cfg.block_size or the file's, or endpoints other than the
 * file's in number; any other error of pce_router_snapshot_restore() or
 * pce_subscriber_create().
 */
PCE_API int pce_subscriber_snapshot_restore(const struct pce_router_config *rcfg,
					    const char *path,
					    const struct pce_subscriber_config *cfg,
					    struct pce_router **router,
					    struct pce_subscriber **sub);

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
 * Return: 0; PCE_EINVAL NULL argument or invalid field; PCE_EZMQ an
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

/* pce_publisher_stats_get - Snapshot of the counters.  Return: 0 or PCE_EINVAL. */
PCE_API int pce_publisher_stats_get(struct pce_publisher *pub, struct pce_publisher_stats *out);

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
