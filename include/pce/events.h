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
 * Sections: common, decoder, subscriber, publisher.  This library is
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
 * struct pce_sub_endpoint - One engine (one data-parallel rank) to follow.
 * Strings are copied by pce_sub_create().
 */
struct pce_sub_endpoint {
	const char *pub_addr;    /* the engine's PUB socket, e.g. "tcp://10.0.0.5:5557" */
	const char *replay_addr; /* its replay ROUTER socket; NULL: none */
	const char *topic;       /* subscription prefix; NULL or "": every topic */
	uint32_t owner;          /* the owner, or the base with owner_by_rank */
	int owner_by_rank;       /* 1: owner = owner + the batch's data_parallel_rank */
	uint64_t base_ns;        /* root namespace before LoRA (see above) */
	int64_t group_idx;       /* KV-cache group followed; events of others are
	                          * ignored (counted); default 0 */
	int resume;              /* 1: resume_seq was the last sequence applied
	                          * (restored with pce_sub_config.import_blob) */
	uint64_t resume_seq;
};

/* Why events were not applied (pce_sub_counters.dropped[]). */
enum pce_sub_drop {
	PCE_SUB_DROP_MALFORMED = 0,   /* unreadable message, batch or event */
	PCE_SUB_DROP_UNKNOWN_TAG,     /* an event type this library does not know */
	PCE_SUB_DROP_UNKNOWN_PARENT,  /* BlockStored under a parent not held */
	PCE_SUB_DROP_UNKNOWN_HASH,    /* BlockRemoved of a block not held */
	PCE_SUB_DROP_ROUTER,          /* the router refused an add (budget, memory) */
	PCE_SUB_DROP_COUNT
};

struct pce_sub_config {
	struct pce_router *router;   /* fed; must outlive the subscriber */
	uint32_t block_size;         /* the router's config.block_size: events
	                              * of another block size are malformed */
	const struct pce_sub_endpoint *endpoints;
	size_t n_endpoints;          /* >= 1 */
	uint32_t unknown_medium_tier; /* tier of a medium other than GPU, CPU,
	                               * DISK, REMOTE (counted); default REMOTE */
	uint32_t max_buffered;       /* live batches held during a replay;
	                              * default 10000 (vLLM's replay buffer) */
	uint32_t replay_timeout_ms;  /* a replay that is silent this long has
	                              * failed; default 3000 */
	const void *import_blob;     /* NULL, or pce_sub_export()'s block maps */
	size_t import_len;
};

/* pce_sub_config_init - The documented defaults, no router, no endpoints. */
PCE_API void pce_sub_config_init(struct pce_sub_config *cfg);

/*
 * pce_sub_create - Start a subscriber: one thread that owns every ZMQ
 * socket and applies what it receives to cfg->router.
 * Return: 0; PCE_EINVAL (NULL, no endpoint, no address, an owner given
 * twice, a bad tier or a malformed import blob); PCE_EZMQ (a socket could
 * not be created or connected); PCE_ENOMEM; PCE_ETHREAD.
 */
PCE_API int pce_sub_create(const struct pce_sub_config *cfg, struct pce_subscriber **out);

/* pce_sub_destroy - Stop the thread, close the sockets, free.  Accepts NULL.
 * The router keeps what was applied. */
PCE_API void pce_sub_destroy(struct pce_subscriber *s);

struct pce_sub_counters {
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
	uint64_t dropped[PCE_SUB_DROP_COUNT];
};

struct pce_sub_endpoint_status {
	int state;               /* enum pce_ev_state */
	int has_seq;             /* a sequence number was applied */
	uint64_t last_seq;       /* the last applied */
	uint32_t owners;         /* owners seen on it */
	struct pce_sub_counters c;
};

struct pce_sub_owner_status {
	uint32_t owner;
	uint32_t endpoint;       /* index in the config */
	int state;               /* enum pce_ev_state */
	uint64_t blocks;         /* blocks held (map entries) */
	int has_seq;
	uint64_t last_seq;       /* last sequence applied to this owner */
	struct pce_sub_counters c;
};

struct pce_sub_stats {
	struct pce_sub_counters c; /* every endpoint */
	uint64_t owners;
	uint64_t blocks;           /* (owner, block) map entries */
	uint64_t interned_blocks;  /* distinct token blocks stored */
	uint64_t map_bytes;        /* bytes of every owner's map */
	uint64_t token_bytes;      /* bytes of the interned token store */
	double bytes_per_owner_block; /* (map + token bytes) / blocks */
};

/* Status and statistics: consistent snapshots (taken between batches). */
PCE_API int pce_sub_stats_get(struct pce_subscriber *s, struct pce_sub_stats *out);
/* Return: 0, PCE_EINVAL, PCE_ENOENT (no such endpoint / owner not seen). */
PCE_API int pce_sub_endpoint_status(struct pce_subscriber *s, size_t endpoint,
				    struct pce_sub_endpoint_status *out);
PCE_API int pce_sub_owner_status(struct pce_subscriber *s, uint32_t owner,
				 struct pce_sub_owner_status *out);

/*
 * pce_sub_export - The block maps of every owner, and each endpoint's last
 * applied sequence number, as one byte string (docs/events.md, "Export"),
 * taken between two batches.  *@blob is malloc'd; free() it.
 * Return: 0, PCE_EINVAL, PCE_ENOMEM.
 */
PCE_API int pce_sub_export(struct pce_subscriber *s, void **blob, size_t *len);

/*
 * pce_sub_blob_seq - Endpoint @endpoint's last applied sequence number as
 * recorded in @blob.  Return: 0; PCE_ENOENT none recorded; PCE_EINVAL the
 * blob is malformed.
 */
PCE_API int pce_sub_blob_seq(const void *blob, size_t len, size_t endpoint, uint64_t *seq);

#ifdef __cplusplus
}
#endif

#endif /* PCE_EVENTS_H */
