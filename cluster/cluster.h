/*
 * cluster.h - internal interfaces between the modules of the cluster tier
 * (pce/cluster.h).  One module, one job:
 *   chunk.c   chained chunk ids (XXH3-128 or SHA-256/128, keyed by the
 *             cluster secret)
 *   keys.c    the key schema: "{ns}"-tagged names of every key
 *   conn.c    hiredis connections, timeouts, the CRC16 slot map, MOVED/ASK
 *   script.c  the Lua scripts and the lookup scan (script and fallback)
 *   mirror.c  what this node published: entries -> chunks, refcounts
 *   publish.c the write path: publish, retract, heartbeat, republish
 *   worker.c  the L2 thread: queues, breaker, timers
 *   tier.c    the API: config, events, tiered lookup, stats
 * Everything named pce__ here is used by one thread at a time unless its
 * comment says otherwise; the worker owns conn, mirror and publish state.
 */
#ifndef PCE_CLUSTER_INTERNAL_H
#define PCE_CLUSTER_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "pce/cluster.h"
#include "chain.h"

#if defined(__GNUC__)
#define PCE__HIDDEN __attribute__((visibility("hidden")))
#else
#define PCE__HIDDEN
#endif

/* ---- chunk.c ------------------------------------------------------------- */

struct pce__hasher {
	enum pce_cluster_hash kind;
	unsigned char secret[192]; /* XXH3: derived secret; SHA: the raw secret (<= 64) */
	size_t secret_len;
};

/* 0, or PCE_EINVAL (SHA-256/128 in a build without libcrypto). */
PCE__HIDDEN int pce__hasher_init(struct pce__hasher *h, enum pce_cluster_hash kind,
				 const void *secret, size_t len);
/* ids[i] = id of chunk i of @tokens (n chunks of @chunk tokens each). */
PCE__HIDDEN void pce__chunk_chain(const struct pce__hasher *h, uint64_t ns, const uint32_t *tokens,
				  size_t n, size_t chunk, struct pce_chunk_id *ids);

/* ---- keys.c -------------------------------------------------------------- */

/* Longest key: prefix (32) + ":{" + 16 hex + "}:c:" + 32 hex + NUL. */
#define PCE__KEY_MAX 96

PCE__HIDDEN size_t pce__key_chunk(char *buf, const char *prefix, uint64_t ns,
				  const struct pce_chunk_id *id);
PCE__HIDDEN size_t pce__key_registry(char *buf, const char *prefix, uint64_t ns);
PCE__HIDDEN size_t pce__key_boot(char *buf, const char *prefix, uint64_t ns);
/* Redis Cluster slot of every key of @ns. */
PCE__HIDDEN uint16_t pce__key_ns_slot(const char *prefix, uint64_t ns);

/* ---- conn.c -------------------------------------------------------------- */

/* CRC16/XMODEM of @key's hash tag (or the whole key), mod 16384: Redis
 * Cluster's key slot. */
PCE__HIDDEN uint16_t pce__slot_of(const char *key, size_t len);

#define PCE__CONN_NODES 32

struct pce__cmd {
	int argc;
	const char **argv;
	const size_t *argvlen;
};

struct pce__conn {
	struct {
		char host[64];
		int port;
		redisContext *c;
	} node[PCE__CONN_NODES];
	int nodes;                   /* node[0] is the configured server */
	uint8_t slot_node[16384];    /* slot -> node index; refreshed by MOVED */
	struct timeval connect_tv, io_tv;
	uint64_t *redirects;         /* counter of MOVED/ASK followed (atomic) */
};

PCE__HIDDEN void pce__conn_init(struct pce__conn *c, const char *host, int port,
				uint32_t connect_ms, uint32_t io_ms, uint64_t *redirects);
/* Connects node[0] (the server).  0 or PCE_EUNAVAIL. */
PCE__HIDDEN int pce__conn_open(struct pce__conn *c);
PCE__HIDDEN void pce__conn_close(struct pce__conn *c);
/*
 * pce__conn_run - Send @n commands, all on keys of @slot, in one pipeline
 * and read their replies into @replies (the caller frees them with
 * freeReplyObject).  Follows MOVED (updating the slot map) and ASK,
 * resending the whole batch.  Return: 0 (replies may be error replies);
 * PCE_EUNAVAIL a connection failed or timed out (it is closed, no replies
 * are left); PCE_ENOMEM.
 */
PCE__HIDDEN int pce__conn_run(struct pce__conn *c, uint16_t slot, const struct pce__cmd *cmds,
			      size_t n, redisReply **replies);

/* ---- script.c ------------------------------------------------------------ */

extern const char pce__lookup_lua[];
extern const char pce__heartbeat_lua[];

/* One node's contiguous depth, in chunks. */
struct pce__depth {
	uint32_t node;
	uint32_t chunks;
};

struct pce__lookup_answer {
	struct pce__depth *d; /* malloc'd, n entries */
	size_t n;
	int partial;
};

/* Parses the lookup script's reply.  0, PCE_ENOMEM or PCE_EINVAL (not a
 * reply of the script). */
PCE__HIDDEN int pce__lookup_parse(const redisReply *r, struct pce__lookup_answer *out);
/* The fallback: the scan of the script, in C, over the replies of TIME,
 * HGETALL registry and HGETALL of each of @n chunk keys. */
PCE__HIDDEN int pce__lookup_scan(const redisReply *time, const redisReply *reg,
				 redisReply *const *chunks, size_t n, uint32_t budget,
				 struct pce__lookup_answer *out);
/* Runs lookup @q against Redis (worker thread): EVALSHA, reloading the
 * script on NOSCRIPT, or the fallback batch.  0 (q->ans filled);
 * PCE_EUNAVAIL the connection was lost; PCE_EINVAL Redis refused or sent
 * an unexpected reply (the connection stays); PCE_ENOMEM. */
struct pce_cluster;
struct pce__lreq;
PCE__HIDDEN int pce__script_lookup(struct pce_cluster *t, struct pce__lreq *q);

/* ---- mirror.c ------------------------------------------------------------ */

/* What this node published: a cache's entries (chain: fleet/chain.h), or
 * a router's holdings (held). */
struct pce__mirror {
	struct pce__chain chain;   /* entries -> chunks (id.lo, id.hi), payload: namespace */
	struct pce__table held;    /* (id.lo ^ mix(owner), id.hi) -> a: struct pce__held * */
	struct pce__table ns;      /* (ns, 0) -> a: boot token seen (0: none), b: 1 */
};

/* One chunk an owner holds in a router index, as this node published it. */
struct pce__held {
	struct pce_chunk_id id, parent; /* parent: chunk index - 1 (zero at index 0) */
	uint64_t ns;
	uint32_t owner, index;
};

/*
 * pce__mirror_add - Record entry @id (@n chunk ids, ownership of @ids
 * passes to the mirror).  @fresh receives the indices (shallow first) of
 * the chunks no other entry held.  Return: number of fresh chunks, or
 * PCE_ENOMEM (nothing recorded; @ids freed).
 */
PCE__HIDDEN long pce__mirror_add(struct pce__mirror *m, uint64_t id, uint64_t ns,
				 struct pce_chunk_id *ids, size_t n, size_t *fresh);
/*
 * pce__mirror_remove - Forget entry @id.  @gone (room for the entry's
 * chunk count, see pce__mirror_len) receives the chunks no entry holds any
 * more, deepest first, and *@ns the namespace.  Return: their number (0 for
 * an unknown id).
 */
PCE__HIDDEN size_t pce__mirror_remove(struct pce__mirror *m, uint64_t id, uint64_t *ns,
				      struct pce_chunk_id *gone, size_t room);
PCE__HIDDEN size_t pce__mirror_len(struct pce__mirror *m, uint64_t id);
/*
 * pce__mirror_hold - @owner holds chunks 0..@n-1 (@ids) of a chain of @ns.
 * @fresh receives the indices (shallow first) of those it did not hold.
 * Return: their number; *@failed is set if some could not be recorded (out
 * of memory: the deeper chunks are left out, so the set stays a prefix).
 */
PCE__HIDDEN size_t pce__mirror_hold(struct pce__mirror *m, uint64_t ns, uint32_t owner,
				    const struct pce_chunk_id *ids, size_t n, size_t *fresh,
				    int *failed);
/*
 * pce__mirror_release - @owner lost, in @ns, its chunks from index @level
 * on, below the path @path[0..@npath) (@npath <= @level + 1; 0: every
 * path).  Return: the number of chunks forgotten, their ids in *@gone
 * (malloc'd, deepest first; the caller frees it), or PCE_ENOMEM (nothing
 * forgotten).
 */
PCE__HIDDEN long pce__mirror_release(struct pce__mirror *m, uint64_t ns, uint32_t owner,
				     uint32_t level, const struct pce_chunk_id *path, size_t npath,
				     struct pce_chunk_id **gone);
PCE__HIDDEN void pce__mirror_init(struct pce__mirror *m);
PCE__HIDDEN void pce__mirror_free(struct pce__mirror *m);

/* ---- the tier (tier.c, worker.c, publish.c) ------------------------------ */

/* A write event waiting for the worker. */
struct pce__op {
	struct pce__op *next;
	int stored;             /* 1: publish; 0: retract */
	int router;             /* a router's holding (owner), not a cache entry (id) */
	uint64_t id, ns;
	uint32_t owner;         /* router: the holding's owner */
	uint32_t level;         /* router retract: index of the first chunk lost */
	size_t n;               /* chunk ids in ids: stored, the entry's or holding's
	                         * chunks; router retract, the path above the cut */
	struct pce_chunk_id *ids;
};

enum { LREQ_QUEUED, LREQ_RUNNING, LREQ_DONE, LREQ_ABANDONED };

/* A lookup waiting for the worker; freed by the caller, or by the worker
 * if the caller gave up while it ran (ABANDONED). */
struct pce__lreq {
	struct pce__lreq *next;
	int state;              /* LREQ_*, under tier->mu */
	int rc;                 /* 0 or PCE_EUNAVAIL */
	uint64_t ns;
	size_t n;
	struct pce__lookup_answer ans;
	struct pce_chunk_id ids[];
};

#define PCE__RTT_BUCKETS 32

struct pce__counters {
	uint64_t lookups, local, l2_lookups, l2_hits, l2_partial, l2_unavailable;
	uint64_t published, publish_errors, retracted, retract_errors, events_dropped;
	uint64_t breaker_opens, connects, republishes, redirects, script_loads;
	uint64_t mirror_entries, mirror_chunks, epoch;
	uint64_t rtt[PCE__RTT_BUCKETS]; /* bucket i: round trips below 2^i us */
	uint64_t rtt_max_us;
	int connected;
};

struct pce_cluster {
	struct pce_cluster_config cfg; /* host, key_prefix point at own copies */
	char host[64];
	char prefix[33];
	struct pce__hasher hasher;
	struct pce_cache *cache;       /* atomic: attach vs lookups */
	struct pce_router *router;     /* atomic: attach vs matches */
	void *attached;                /* atomic: the cache or router attached first */

	/* Shared between callers and the worker (mu). */
	pthread_mutex_t mu;
	pthread_cond_t work;           /* the worker waits for requests */
	pthread_cond_t done;           /* callers wait for answers */
	struct pce__op *wq_head, *wq_tail;
	size_t wq_len;
	struct pce__lreq *lq_head, *lq_tail;
	uint64_t enqueued, processed;  /* write events: sync waits for processed */
	int ready;                     /* connected, registered, nothing to resync */
	int stop;
	pthread_t thread;

	/* Counters: relaxed atomics, any thread. */
	struct pce__counters st;

	/* Worker-only state. */
	struct pce__conn conn;
	struct pce__mirror mirror;
	char sha[41];                  /* the lookup script's SHA1, "" until loaded */
	uint64_t epoch;
	char node_str[12], epoch_str[24], lease_str[12], ttl_str[12];
	int connected;
	int resync;                    /* writes were lost, or Redis lost data */
	int breaker_open;
	uint32_t backoff_ms;
	uint64_t next_connect_ms, next_heartbeat_ms, next_refresh_ms;
};

#define PCE__ADD(tier, field, v) __atomic_fetch_add(&(tier)->st.field, (v), __ATOMIC_RELAXED)
#define PCE__SET(tier, field, v) __atomic_store_n(&(tier)->st.field, (v), __ATOMIC_RELAXED)

/* worker.c */
PCE__HIDDEN int pce__worker_start(struct pce_cluster *t);
PCE__HIDDEN void pce__worker_stop(struct pce_cluster *t);
PCE__HIDDEN uint64_t pce__now_ms(void);
/* *@ts = CLOCK_MONOTONIC now + @us: the deadline of a timed wait on the
 * tier's condition variables (created with CLOCK_MONOTONIC). */
PCE__HIDDEN void pce__deadline_after_us(struct timespec *ts, uint64_t us);

/* publish.c: worker thread only.  Each returns 0 or PCE_EUNAVAIL (the
 * connection was lost: the caller opens the breaker); with t->connected 0
 * they only update the mirror and set t->resync. */
/* Applies @ops (a list, freed) to the mirror and Redis, in order. */
PCE__HIDDEN int pce__publish_ops(struct pce_cluster *t, struct pce__op *ops);
/* Registers the node (epoch, lease) in every namespace it published in;
 * sets *@lost_data if a boot token changed (Redis lost its data). */
PCE__HIDDEN int pce__publish_heartbeat(struct pce_cluster *t, int *lost_data);
/* Writes every chunk of the mirror again (HSET + PEXPIRE): republish after
 * a new epoch, and the periodic TTL refresh. */
PCE__HIDDEN int pce__publish_all(struct pce_cluster *t);
/* A new random epoch (never 0) and its text. */
PCE__HIDDEN void pce__publish_new_epoch(struct pce_cluster *t);
PCE__HIDDEN void pce__op_free(struct pce__op *op);

#endif /* PCE_CLUSTER_INTERNAL_H */
