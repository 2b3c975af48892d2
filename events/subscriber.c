/*
 * events/subscriber.c - KV events from N engine endpoints into a router.
 *
 * One thread (sub_main) owns every ZMQ socket: per endpoint a SUB socket
 * (live batches) and, when the endpoint has one, a DEALER socket (replay).
 * It applies each batch under s->lock, which is also what status, stats and
 * export take: a reader sees the state between two batches, never inside
 * one.  pce__sub_paused() holds it across its caller's function, and
 * pce_subscriber_snapshot_write() writes the whole file in that function:
 * no batch is applied, and status and stats calls wait, during the file
 * I/O (events/sub_snapshot.c says why).  Nothing else is shared between
 * threads except s->stop (atomic).
 *
 * Per owner a block map (events/blockmap.h) from the engine's block hash to
 * the block: BlockStored under a known parent extends the parent's path and
 * is one pce_router_add() of the whole path (per namespace run);
 * BlockRemoved is a pce_router_remove() of the block's path, and the map
 * drops the block and every block below it (the router cut them too).
 *
 * Recovery (docs/events.md has the table): per endpoint, next is the next
 * sequence number to apply.  A live seq above next starts a replay request
 * for [next, ...) and buffers live batches (at most max_buffered) until the
 * replay's END marker; a replay that starts above next, ends short of the
 * buffer, times out or overflows the buffer has failed: the endpoint's
 * owners are cleared and DEGRADED.  A live seq at or below the last live
 * seq is a new engine life: its owners are cleared first.  An owner becomes
 * EXACT again only when an AllBlocksCleared is applied to it, or when a new
 * engine life was applied from sequence 0 without a loss.
 *
 * Observer (config.observe): apply_stored() shows it each BlockStored it
 * applies, before and after, on this thread under s->lock; its path is
 * built in s->seen, which applying leaves alone.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <xxhash.h>
#include <zmq.h>

#include "blockmap.h"
#include "pce/events.h"
#include "subscriber.h"
#include "wire.h"

#define POLL_MS 20
#define RECV_BURST 256
#define END_SEQ UINT64_MAX
#define BLOB_MAGIC "PCEVSUB2"

struct buffered {
	uint64_t seq;
	size_t len;
	uint8_t *p;
};

struct owner {
	uint32_t id, ep;
	int degraded;
	int has_seq;
	uint64_t last_seq;
	struct pce_blockmap map;
	struct pce_subscriber_counters c;
};

struct endpoint {
	char *pub, *replay, *topic;
	uint32_t owner;
	int by_rank;
	uint64_t base_ns;
	int64_t group;
	void *sub, *rep;
	int started;       /* a first batch (or resume) set next */
	uint64_t next;     /* next sequence number to apply */
	int have_live;
	uint64_t last_live;
	int has_seq;
	uint64_t last_seq;
	int recovering, lost_now;
	uint64_t round_start; /* next when the current replay was asked for */
	uint64_t deadline_ms;
	int lost;          /* owners first seen here start DEGRADED */
	struct buffered *buf;
	uint32_t head, nbuf, cap;
	uint32_t owners;
	struct pce_subscriber_counters c;
};

struct pce_subscriber {
	pthread_mutex_t lock;
	pthread_t thread;
	atomic_int stop;
	void *zctx;
	struct pce_router *router;
	uint32_t block_size, unknown_tier, max_buffered, replay_timeout_ms;
	struct endpoint *ep;
	size_t n_ep;
	struct owner *own;
	size_t n_own, cap_own;
	struct pce_intern intern;
	struct pce_wire_batch batch;
	zmq_pollitem_t *items; /* two per endpoint, for sub_main() */
	uint32_t *path;
	uint32_t path_cap;
	uint32_t *gone;   /* apply_removed()'s blocks to remove */
	uint32_t gone_cap;
	void *runs;       /* struct run_copy records, block_size tokens each */
	uint32_t n_runs, cap_runs;
	pce_subscriber_observe_fn observe;
	void *observe_ctx;
	uint32_t *seen;   /* the observed path (add_path() reuses path) */
	uint32_t seen_cap;
};

/* A namespace run removed: its namespace and its path's first block. */
struct run_copy {
	uint64_t ns;
	uint32_t tok[];
};

/* Bytes of one record, a multiple of 8 so that every record's ns is aligned. */
static size_t run_size(const struct pce_subscriber *s)
{
	return (sizeof(struct run_copy) + (size_t)s->block_size * 4 + 7) & ~(size_t)7;
}

static struct run_copy *run_at(struct pce_subscriber *s, uint32_t k)
{
	return (struct run_copy *)((char *)s->runs + (size_t)k * run_size(s));
}

/* Add 1 to counter @f of the endpoint and, when there is one, the owner. */
#define COUNT(ep, ow, f)            \
	do {                        \
		(ep)->c.f++;        \
		if (ow)             \
			(ow)->c.f++; \
	} while (0)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- owners ------------------------------------------------------------- */

static struct owner *owner_find(struct pce_subscriber *s, uint32_t id)
{
	for (size_t i = 0; i < s->n_own; i++)
		if (s->own[i].id == id)
			return &s->own[i];
	return NULL;
}

/* The owner @id of endpoint @e, created on first sight; NULL when it
 * belongs to another endpoint or memory ran out. */
static struct owner *owner_get(struct pce_subscriber *s, uint32_t e, uint32_t id)
{
	struct owner *o = owner_find(s, id);

	if (o)
		return o->ep == e ? o : NULL;
	if (s->n_own == s->cap_own) {
		size_t nc = s->cap_own ? s->cap_own * 2 : 8;
		void *p = realloc(s->own, nc * sizeof(*s->own));

		if (!p)
			return NULL;
		s->own = p;
		s->cap_own = nc;
	}
	o = &s->own[s->n_own++];
	memset(o, 0, sizeof(*o));
	o->id = id;
	o->ep = e;
	o->degraded = s->ep[e].lost;
	pce_bm_init(&o->map);
	s->ep[e].owners++;
	return o;
}

static int owner_state(const struct pce_subscriber *s, const struct owner *o)
{
	const struct endpoint *ep = &s->ep[o->ep];

	if (o->degraded)
		return PCE_EV_DEGRADED;
	/* a resumed endpoint is not known to continue until a live batch says so */
	if (ep->recovering || !ep->started || !ep->have_live)
		return PCE_EV_RECOVERING;
	return PCE_EV_EXACT;
}

/* The owner holds nothing, in the router and in its map. */
static void owner_clear(struct pce_subscriber *s, struct owner *o)
{
	pce_router_clear_owner(s->router, o->id, NULL);
	o->c.blocks_removed += o->map.live;
	s->ep[o->ep].c.blocks_removed += o->map.live;
	pce_bm_clear(&o->map, &s->intern);
}

/* ---- applying events -------------------------------------------------------- */

static void degrade(struct owner *o)
{
	o->degraded = 1;
}

static uint32_t tier_of(struct pce_subscriber *s, struct endpoint *ep, struct owner *o,
			const struct pce_wire_event *e)
{
	static const char *names[] = {"GPU", "CPU", "DISK", "REMOTE"};

	/* vLLM's default medium is the GPU (MEDIUM_GPU); nil means it. */
	if (!(e->has & PCE_WIRE_HAS_MEDIUM))
		return PCE_TIER_GPU;
	for (uint32_t t = 0; t < 4; t++)
		if (e->medium.len == strlen(names[t]) &&
		    !strncasecmp((const char *)e->medium.p, names[t], e->medium.len))
			return t;
	COUNT(ep, o, unknown_medium);
	return s->unknown_tier;
}

static uint32_t best_tier(uint8_t media)
{
	return (uint32_t)__builtin_ctz(media);
}

/* pce_router_add() of entry @i's path in namespace @ns; 0 or -1 (counted). */
static int add_path(struct pce_subscriber *s, struct endpoint *ep, struct owner *o, uint32_t i,
		    uint64_t ns, uint32_t tier, unsigned flags)
{
	struct pce_router_add_opts opts = {.flags = flags, .ttl_ns = 0};
	uint32_t n = pce_bm_path(&o->map, &s->intern, i, &s->path, &s->path_cap);

	if (!n || pce_router_add(s->router, o->id, ns, s->path, n, tier, &opts, NULL)) {
		COUNT(ep, o, dropped[PCE_SUBSCRIBER_DROP_ROUTER]);
		degrade(o);
		return -1;
	}
	return 0;
}

/*
 * retier - Entry @i's best medium changed: tell the router, without
 * changing the tier of its ancestors (PCE_ROUTER_ADD_RETIER sets the whole
 * path, so each ancestor whose tier differs from the one just set is set
 * back, climbing until the namespace changes).
 */
static void retier(struct pce_subscriber *s, struct endpoint *ep, struct owner *o, uint32_t i)
{
	struct pce_bm_entry *e = &o->map.e[i];
	uint32_t cur = best_tier(e->media);
	uint64_t ns = e->ns;

	e->tier = (uint8_t)cur;
	if (add_path(s, ep, o, i, ns, cur, PCE_ROUTER_ADD_RETIER))
		return;
	for (uint32_t a = e->parent; a != PCE_BM_NONE; a = o->map.e[a].parent) {
		if (o->map.e[a].ns != ns)
			break;
		if (o->map.e[a].tier != cur) {
			cur = o->map.e[a].tier;
			if (add_path(s, ep, o, a, ns, cur, PCE_ROUTER_ADD_RETIER))
				return;
		}
	}
}

/*
 * observe_path - The path the observer is shown: entry @parent's path, then
 * the event's blocks.  Return: its length, or 0 when memory ran out (the
 * event is then not observed).
 */
static size_t observe_path(struct pce_subscriber *s, struct owner *o, uint32_t parent,
			   const struct pce_wire_event *e, size_t *first)
{
	size_t n = 0, add = (size_t)e->n_hashes * e->block_size;

	if (parent != PCE_BM_NONE &&
	    !(n = pce_bm_path(&o->map, &s->intern, parent, &s->seen, &s->seen_cap)))
		return 0;
	if (n + add > s->seen_cap) {
		void *p;

		if (n + add > UINT32_MAX || !(p = realloc(s->seen, (n + add) * sizeof(*s->seen))))
			return 0;
		s->seen = p;
		s->seen_cap = (uint32_t)(n + add);
	}
	memcpy(s->seen + n, s->batch.tokens + e->tok0, add * sizeof(*s->seen));
	*first = n;
	return n + add;
}

static void apply_stored(struct pce_subscriber *s, struct endpoint *ep, struct owner *o,
			 const struct pce_wire_event *e)
{
	struct pce_subscriber_stored seen = {0};
	const struct pce_wire_batch *b = &s->batch;
	uint32_t tier, parent = PCE_BM_NONE, pend = PCE_BM_NONE;
	uint8_t bit;
	uint64_t ns;

	if (e->block_size != s->block_size) {
		COUNT(ep, o, dropped[PCE_SUBSCRIBER_DROP_MALFORMED]);
		degrade(o);
		return;
	}
	tier = tier_of(s, ep, o, e);
	bit = (uint8_t)(1u << tier);
	if (e->has & PCE_WIRE_HAS_PARENT) {
		parent = pce_bm_find(&o->map, e->parent);
		if (parent == PCE_BM_NONE) {
			/* never guessed: the engine holds a path we cannot see */
			COUNT(ep, o, dropped[PCE_SUBSCRIBER_DROP_UNKNOWN_PARENT]);
			degrade(o);
			return;
		}
		ns = o->map.e[parent].ns;
	} else if (e->has & PCE_WIRE_HAS_LORA_NAME) {
		ns = pce_ev_ns_lora(ep->base_ns, (const char *)e->lora_name.p, e->lora_name.len);
	} else if (e->has & PCE_WIRE_HAS_LORA_ID) {
		ns = pce_ev_ns_lora_id(ep->base_ns, e->lora_id);
	} else {
		ns = ep->base_ns;
	}
	if (s->observe && e->n_hashes) {
		seen = (struct pce_subscriber_stored){.owner = o->id, .tier = tier, .ns = ns};
		seen.len = observe_path(s, o, parent, e, &seen.first);
		seen.tokens = s->seen;
		if (seen.len)
			s->observe(s->observe_ctx, &seen);
	}
	for (uint32_t k = 0; k < e->n_hashes; k++) {
		uint64_t h = b->hashes[e->hash0 + k], bns = ns;
		const uint32_t *tok = b->tokens + e->tok0 + (size_t)k * e->block_size;
		uint32_t i;

		if ((e->has & PCE_WIRE_HAS_EXTRA_KEYS) && b->extra[e->extra0 + k].p)
			bns = pce_ev_ns_extra(ns, b->extra[e->extra0 + k].p, b->extra[e->extra0 + k].len);
		/* a namespace run ends: its deepest new block's path goes in */
		if (pend != PCE_BM_NONE && bns != o->map.e[pend].ns) {
			add_path(s, ep, o, pend, o->map.e[pend].ns, tier, 0);
			pend = PCE_BM_NONE;
		}
		i = pce_bm_find(&o->map, h);
		if (i != PCE_BM_NONE) {
			/* known block: now (also) in this medium */
			struct pce_bm_entry *x = &o->map.e[i];

			if (!(x->media & bit)) {
				x->media |= bit;
				if (best_tier(x->media) != x->tier)
					retier(s, ep, o, i);
			}
			parent = i;
			ns = o->map.e[i].ns;
			continue;
		}
		i = pce_bm_insert(&o->map, &s->intern, h, parent, bns, tok, e->block_size, bit,
				  (uint8_t)tier);
		if (i == PCE_BM_NONE) {
			COUNT(ep, o, dropped[PCE_SUBSCRIBER_DROP_ROUTER]);
			degrade(o);
			break;
		}
		COUNT(ep, o, blocks_stored);
		pend = parent = i;
		ns = bns;
	}
	if (pend != PCE_BM_NONE)
		add_path(s, ep, o, pend, o->map.e[pend].ns, tier, 0);
	if (seen.len) {
		seen.applied = 1;
		s->observe(s->observe_ctx, &seen);
	}
}

struct remove_ctx {
	struct pce_subscriber *s;
	struct endpoint *ep;
	struct owner *o;
	uint32_t root;
	int root_starts_run;
};

/*
 * One router remove per namespace run: the removed block's, and each
 * descendant that starts a namespace of its own (the others are below a
 * removed path in the same namespace: the router cut them already).
 *
 * A block that starts a run in namespace X (its extra keys derived X) was
 * added with its whole path, so X also holds copies of its ancestors'
 * blocks.  Removing it records (X, first block); once no block of the
 * owner is left in X, the copies are cut from the first block on
 * (remove_copies()).
 */
static void on_remove(void *ctx, uint32_t i)
{
	struct remove_ctx *r = ctx;
	struct pce_subscriber *s = r->s;
	struct pce_blockmap *m = &r->o->map;
	uint32_t p = m->e[i].parent, n;
	int starts_run = i == r->root ? r->root_starts_run : m->e[p].ns != m->e[i].ns;

	if (i != r->root && !starts_run)
		return;
	n = pce_bm_path(m, &s->intern, i, &s->path, &s->path_cap);
	if (!n) {
		COUNT(r->ep, r->o, dropped[PCE_SUBSCRIBER_DROP_ROUTER]);
		degrade(r->o);
		return;
	}
	/* PCE_ENOENT: the router no longer had it (its budget evicted it) */
	pce_router_remove(s->router, r->o->id, m->e[i].ns, s->path, n);
	if (starts_run && n > s->block_size) {
		struct run_copy *c;

		if (s->n_runs == s->cap_runs) {
			uint32_t nc = s->cap_runs ? s->cap_runs * 2 : 8;
			void *q = realloc(s->runs, (size_t)nc * run_size(s));

			if (!q) {
				COUNT(r->ep, r->o, dropped[PCE_SUBSCRIBER_DROP_ROUTER]);
				degrade(r->o);
				return;
			}
			s->runs = q;
			s->cap_runs = nc;
		}
		c = run_at(s, s->n_runs++);
		c->ns = m->e[i].ns;
		memcpy(c->tok, s->path, s->block_size * sizeof(uint32_t));
	}
}

/* The runs recorded by on_remove() whose namespace the owner no longer
 * holds any block of: cut their copies. */
static void remove_copies(struct pce_subscriber *s, struct owner *o)
{
	for (uint32_t k = 0; k < s->n_runs; k++) {
		struct run_copy *c = run_at(s, k);
		int left = 0;

		/* a scan of the owner's map, only when a run was removed */
		for (uint32_t i = 0; i < o->map.n && !left; i++)
			left = o->map.e[i].node != PCE_BM_NONE && o->map.e[i].ns == c->ns;
		if (!left)
			pce_router_remove(s->router, o->id, c->ns, c->tok, s->block_size);
	}
	s->n_runs = 0;
}

/*
 * apply_removed - The blocks leave the medium; a block in no medium left
 * leaves the map with every block below it.  An engine lists a subtree's
 * blocks deepest first, so the blocks are first collected and then taken
 * from the last: the shallowest goes first and takes the deeper ones with
 * it, one router remove instead of one per block.
 */
static void apply_removed(struct pce_subscriber *s, struct endpoint *ep, struct owner *o,
			  const struct pce_wire_event *e)
{
	uint8_t bit = (uint8_t)(1u << tier_of(s, ep, o, e));
	struct remove_ctx r = {s, ep, o, 0, 0};
	uint32_t n_gone = 0;

	if (e->n_hashes > s->gone_cap) {
		void *p = realloc(s->gone, (size_t)e->n_hashes * sizeof(*s->gone));

		if (!p) {
			COUNT(ep, o, dropped[PCE_SUBSCRIBER_DROP_ROUTER]);
			degrade(o);
			return;
		}
		s->gone = p;
		s->gone_cap = e->n_hashes;
	}
	for (uint32_t k = 0; k < e->n_hashes; k++) {
		uint32_t i = pce_bm_find(&o->map, s->batch.hashes[e->hash0 + k]);
		struct pce_bm_entry *x;

		if (i == PCE_BM_NONE || !(o->map.e[i].media & bit)) {
			COUNT(ep, o, dropped[PCE_SUBSCRIBER_DROP_UNKNOWN_HASH]);
			continue;
		}
		x = &o->map.e[i];
		x->media &= (uint8_t)~bit;
		if (!x->media)
			s->gone[n_gone++] = i;
		else if (best_tier(x->media) != x->tier)
			retier(s, ep, o, i); /* still held in another medium */
	}
	while (n_gone) {
		uint32_t i = s->gone[--n_gone], n;
		struct pce_bm_entry *x = &o->map.e[i];

		if (x->node == PCE_BM_NONE)
			continue; /* went with a block above it */
		r.root = i;
		r.root_starts_run = x->parent != PCE_BM_NONE && o->map.e[x->parent].ns != x->ns;
		n = pce_bm_remove(&o->map, &s->intern, i, on_remove, &r);
		o->c.blocks_removed += n;
		ep->c.blocks_removed += n;
		if (s->n_runs)
			remove_copies(s, o);
	}
}

/* ---- batches and sequence numbers ------------------------------------------ */

/* Every owner of @ep that is known: degrade (and clear) them. */
/*
 * set_owners - Every owner of @ep (and those first seen there later)
 * becomes DEGRADED when @degraded, known again otherwise; @clear empties
 * them first.  A loss degrades (clearing when what they hold may be
 * wrong); a new engine life applied from 0 clears and knows them again.
 */
static void set_owners(struct pce_subscriber *s, struct endpoint *ep, int clear, int degraded)
{
	uint32_t e = (uint32_t)(ep - s->ep);

	for (size_t i = 0; i < s->n_own; i++)
		if (s->own[i].ep == e) {
			if (clear)
				owner_clear(s, &s->own[i]);
			s->own[i].degraded = degraded;
		}
	ep->lost = degraded;
}

static void lose(struct pce_subscriber *s, struct endpoint *ep, int clear)
{
	set_owners(s, ep, clear, 1);
}

static void apply_batch(struct pce_subscriber *s, struct endpoint *ep, uint64_t seq,
			const void *p, size_t len, int replayed)
{
	uint32_t e = (uint32_t)(ep - s->ep), id = ep->owner;
	struct pce_wire_batch *b = &s->batch;
	struct owner *o = NULL;
	int rc = pce_wire_decode(b, p, len);

	ep->has_seq = 1;
	ep->last_seq = seq;
	if (!rc && ep->by_rank && b->has_dp_rank) {
		if (b->dp_rank < 0 || (uint64_t)b->dp_rank > UINT32_MAX - (uint64_t)ep->owner)
			rc = PCE_EEVBATCH;
		else
			id = ep->owner + (uint32_t)b->dp_rank;
	}
	if (!rc && !(o = owner_get(s, e, id)))
		rc = PCE_EEVBATCH;
	if (rc) {
		/* what the batch said is lost: every owner it may be for */
		COUNT(ep, o, dropped[PCE_SUBSCRIBER_DROP_MALFORMED]);
		lose(s, ep, 0);
		return;
	}
	COUNT(ep, o, batches);
	if (replayed)
		COUNT(ep, o, replayed);
	ep->c.dropped[PCE_SUBSCRIBER_DROP_MALFORMED] += b->malformed;
	o->c.dropped[PCE_SUBSCRIBER_DROP_MALFORMED] += b->malformed;
	ep->c.dropped[PCE_SUBSCRIBER_DROP_UNKNOWN_TAG] += b->unknown_tag;
	o->c.dropped[PCE_SUBSCRIBER_DROP_UNKNOWN_TAG] += b->unknown_tag;
	if (b->malformed)
		degrade(o);
	for (uint32_t k = 0; k < b->n_ev; k++) {
		const struct pce_wire_event *ev = &b->ev[k];

		if ((ev->has & PCE_WIRE_HAS_GROUP) && ev->group_idx != ep->group) {
			COUNT(ep, o, other_group);
			continue;
		}
		COUNT(ep, o, events);
		switch (ev->kind) {
		case PCE_WIRE_STORED:
			apply_stored(s, ep, o, ev);
			break;
		case PCE_WIRE_REMOVED:
			apply_removed(s, ep, o, ev);
			break;
		case PCE_WIRE_CLEARED:
			owner_clear(s, o);
			COUNT(ep, o, clears);
			/* both sides hold nothing: known again */
			o->degraded = 0;
			break;
		}
	}
	o->has_seq = 1;
	o->last_seq = seq;
}

static void replay_reset(struct pce_subscriber *s, struct endpoint *ep)
{
	int zero = 0;

	if (!ep->rep)
		return;
	/* a new socket: replies to an abandoned request never arrive */
	zmq_close(ep->rep);
	ep->rep = zmq_socket(s->zctx, ZMQ_DEALER);
	if (ep->rep && (zmq_setsockopt(ep->rep, ZMQ_LINGER, &zero, sizeof(zero)) ||
			zmq_connect(ep->rep, ep->replay))) {
		zmq_close(ep->rep);
		ep->rep = NULL;
	}
}

static void buf_drop_head(struct endpoint *ep)
{
	free(ep->buf[ep->head].p);
	ep->head = (ep->head + 1) % ep->cap;
	ep->nbuf--;
}

static void start_recovery(struct pce_subscriber *s, struct endpoint *ep, uint64_t from)
{
	uint8_t req[8];

	for (int i = 0; i < 8; i++)
		req[i] = (uint8_t)(from >> (56 - 8 * i));
	if (!ep->recovering)
		ep->lost_now = 0;
	ep->next = from;
	ep->round_start = from;
	ep->recovering = 1;
	ep->deadline_ms = now_ms() + s->replay_timeout_ms;
	if (!ep->rep || zmq_send(ep->rep, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) != 0 ||
	    zmq_send(ep->rep, req, 8, ZMQ_DONTWAIT) != 8)
		ep->deadline_ms = 0; /* no replay: the first check gives up */
}

/*
 * apply_next - Apply batch @seq (at or above next) and move next past it.
 * A hole before it is a failed recovery: the endpoint's owners are lost,
 * and cleared when @clear.
 */
static void apply_next(struct pce_subscriber *s, struct endpoint *ep, uint64_t seq,
		       const void *p, size_t len, int replayed, int clear)
{
	if (seq > ep->next) {
		ep->c.recoveries_failed++;
		lose(s, ep, clear);
		ep->lost_now = 1;
	}
	apply_batch(s, ep, seq, p, len, replayed);
	ep->next = seq + 1;
}

/*
 * finish_recovery - A replay round ended (@end: its END marker; else a
 * timeout or a full buffer): apply what is buffered, in order.  A hole left
 * before a buffered batch is asked for again after an END that made
 * progress (the engine served the replay before it published the hole's
 * batches); otherwise it is a loss.
 */
static void finish_recovery(struct pce_subscriber *s, struct endpoint *ep, int end)
{
	while (ep->nbuf) {
		struct buffered *b = &ep->buf[ep->head];

		if (b->seq > ep->next && end && ep->next != ep->round_start) {
			start_recovery(s, ep, ep->next);
			return;
		}
		if (b->seq >= ep->next)
			apply_next(s, ep, b->seq, b->p, b->len, 0, !ep->lost_now);
		buf_drop_head(ep);
	}
	ep->recovering = 0;
}

static void give_up(struct pce_subscriber *s, struct endpoint *ep)
{
	finish_recovery(s, ep, 0);
	replay_reset(s, ep);
}

static int buffer_live(struct pce_subscriber *s, struct endpoint *ep, uint64_t seq,
		       const void *p, size_t len)
{
	struct buffered *b;

	if (ep->nbuf == s->max_buffered)
		return -1;
	if (ep->nbuf == ep->cap) {
		uint32_t nc = ep->cap ? ep->cap * 2 : 64;
		struct buffered *nb;

		if (nc > s->max_buffered)
			nc = s->max_buffered;
		nb = malloc((size_t)nc * sizeof(*nb));
		if (!nb)
			return -1;
		for (uint32_t i = 0; i < ep->nbuf; i++)
			nb[i] = ep->buf[(ep->head + i) % ep->cap];
		free(ep->buf);
		ep->buf = nb;
		ep->cap = nc;
		ep->head = 0;
	}
	b = &ep->buf[(ep->head + ep->nbuf) % ep->cap];
	b->p = malloc(len ? len : 1);
	if (!b->p)
		return -1;
	memcpy(b->p, p, len);
	b->len = len;
	b->seq = seq;
	ep->nbuf++;
	return 0;
}

/* A live batch in sequence order (restarts already handled). */
static void take_live(struct pce_subscriber *s, struct endpoint *ep, uint64_t seq, const void *p,
		      size_t len)
{
	if (!ep->started) {
		/*
		 * The start of an engine life: the owners hold nothing (cleared)
		 * and will equal the engine once [0, seq] is applied: EXACT at
		 * once from 0, RECOVERING through a replay of [0, seq) otherwise,
		 * DEGRADED only if that replay fails.
		 */
		ep->started = 1;
		ep->next = 0;
		set_owners(s, ep, 1, 0);
		if (seq != 0) {
			ep->c.gaps++;
			start_recovery(s, ep, 0);
		}
	}
	if (!ep->recovering) {
		if (seq < ep->next)
			return; /* a replay applied it already */
		if (seq == ep->next) {
			apply_next(s, ep, seq, p, len, 0, 0);
			return;
		}
		ep->c.gaps++;
		start_recovery(s, ep, ep->next);
	}
	if (buffer_live(s, ep, seq, p, len)) {
		/* the buffer is full (or memory is): the replay has failed, and
		 * what lies between the buffer and this batch is lost too */
		give_up(s, ep);
		if (seq >= ep->next)
			apply_next(s, ep, seq, p, len, 0, 1);
	}
}

static void on_live(struct pce_subscriber *s, struct endpoint *ep, uint64_t seq, const void *p,
		    size_t len)
{
	int restart = ep->have_live ? seq <= ep->last_live : ep->started && seq < ep->next;

	ep->have_live = 1;
	ep->last_live = seq;
	if (restart) {
		/* a new engine life: what the old one held is gone */
		ep->c.restarts++;
		while (ep->nbuf)
			buf_drop_head(ep);
		if (ep->recovering) {
			ep->recovering = 0;
			replay_reset(s, ep);
		}
		ep->started = 0;
	}
	take_live(s, ep, seq, p, len);
}

static void on_replay(struct pce_subscriber *s, struct endpoint *ep, uint64_t seq, const void *p,
		      size_t len)
{
	if (!ep->recovering)
		return; /* a reply to a request already settled */
	ep->deadline_ms = now_ms() + s->replay_timeout_ms;
	if (seq == END_SEQ) {
		finish_recovery(s, ep, 1);
		return;
	}
	/* above next: the engine's replay buffer no longer reaches back to it */
	if (seq >= ep->next)
		apply_next(s, ep, seq, p, len, 1, !ep->lost_now);
}

/* ---- the thread ------------------------------------------------------------ */

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

#define MAX_FRAMES 4

/* Receive one multipart message; frames beyond MAX_FRAMES are counted in *n
 * and discarded.  0, or -1 when nothing was waiting. */
static int recv_msg(void *sock, zmq_msg_t *f, int *n)
{
	int more = 1;

	*n = 0;
	while (more) {
		zmq_msg_t tmp, *m = *n < MAX_FRAMES ? &f[*n] : &tmp;

		zmq_msg_init(m);
		if (zmq_msg_recv(m, sock, *n ? 0 : ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(m);
			return *n ? 0 : -1;
		}
		more = zmq_msg_more(m);
		if (m == &tmp)
			zmq_msg_close(m);
		(*n)++;
	}
	return 0;
}

static void close_frames(zmq_msg_t *f, int n)
{
	for (int i = 0; i < n && i < MAX_FRAMES; i++)
		zmq_msg_close(&f[i]);
}

static void handle(struct pce_subscriber *s, struct endpoint *ep, int replay, zmq_msg_t *f,
		   int n)
{
	int seqf = replay ? n - 2 : 1;

	/* live: [topic, seq, payload]; replay: ["", (topic,) seq, payload] */
	if ((replay ? (n != 3 && n != 4) || zmq_msg_size(&f[0]) != 0 : n != 3) ||
	    zmq_msg_size(&f[seqf]) != 8) {
		ep->c.dropped[PCE_SUBSCRIBER_DROP_MALFORMED]++;
		return;
	}
	if (replay)
		on_replay(s, ep, be64(zmq_msg_data(&f[seqf])), zmq_msg_data(&f[seqf + 1]),
			  zmq_msg_size(&f[seqf + 1]));
	else
		on_live(s, ep, be64(zmq_msg_data(&f[1])), zmq_msg_data(&f[2]), zmq_msg_size(&f[2]));
}

static void *sub_main(void *arg)
{
	struct pce_subscriber *s = arg;
	zmq_pollitem_t *items = s->items;

	while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
		int n = 0;

		for (size_t i = 0; i < s->n_ep; i++) {
			items[n++] = (zmq_pollitem_t){.socket = s->ep[i].sub, .events = ZMQ_POLLIN};
			if (s->ep[i].rep)
				items[n++] = (zmq_pollitem_t){.socket = s->ep[i].rep,
							      .events = ZMQ_POLLIN};
		}
		zmq_poll(items, n, POLL_MS);
		for (size_t i = 0; i < s->n_ep; i++) {
			struct endpoint *ep = &s->ep[i];

			for (int r = 0; r < 2; r++) {
				for (int k = 0; k < RECV_BURST; k++) {
					zmq_msg_t f[MAX_FRAMES];
					void *sock = r ? ep->rep : ep->sub;
					int nf;

					if (!sock || recv_msg(sock, f, &nf))
						break;
					pthread_mutex_lock(&s->lock);
					handle(s, ep, r, f, nf);
					pthread_mutex_unlock(&s->lock);
					close_frames(f, nf);
				}
			}
			pthread_mutex_lock(&s->lock);
			if (ep->recovering && now_ms() >= ep->deadline_ms)
				give_up(s, ep);
			pthread_mutex_unlock(&s->lock);
		}
	}
	return NULL;
}

int pce__sub_feed(struct pce_subscriber *s, size_t endpoint, uint64_t seq, const void *payload,
		  size_t len)
{
	if (!s || endpoint >= s->n_ep || (!payload && len))
		return PCE_EINVAL;
	pthread_mutex_lock(&s->lock);
	on_live(s, &s->ep[endpoint], seq, payload, len);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* ---- export / import -------------------------------------------------------- */

struct wbuf {
	uint8_t *p;
	size_t n, cap;
	int oom;
};

static void put(struct wbuf *w, const void *p, size_t n)
{
	if (w->oom)
		return;
	if (w->n + n > w->cap) {
		size_t nc = w->cap ? w->cap : 4096;
		void *q;

		while (nc < w->n + n)
			nc *= 2;
		q = realloc(w->p, nc);
		if (!q) {
			w->oom = 1;
			return;
		}
		w->p = q;
		w->cap = nc;
	}
	memcpy(w->p + w->n, p, n);
	w->n += n;
}

static void put_u(struct wbuf *w, uint64_t v, int bytes)
{
	uint8_t le[8];

	for (int i = 0; i < bytes; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	put(w, le, (size_t)bytes);
}

/* XXH3-64: the blob can be hundreds of MB, checked at every export and
 * import (with the subscriber's lock held at export). */
static uint64_t blob_sum(const uint8_t *p, size_t n)
{
	return XXH3_64bits(p, n);
}

/* The export blob of the state as it is; the caller holds s->lock. */
static int export_locked(struct pce_subscriber *s, void **blob, size_t *len)
{
	struct wbuf w = {0};
	uint32_t *ord = NULL;

	put(&w, BLOB_MAGIC, 8);
	put_u(&w, s->block_size, 4);
	put_u(&w, s->n_ep, 4);
	for (size_t i = 0; i < s->n_ep; i++) {
		put_u(&w, (uint64_t)s->ep[i].has_seq, 1);
		put_u(&w, s->ep[i].last_seq, 8);
	}
	put_u(&w, s->n_own, 4);
	for (size_t k = 0; k < s->n_own && !w.oom; k++) {
		struct owner *o = &s->own[k];
		struct pce_blockmap *m = &o->map;
		uint32_t next_ord = 0;

		put_u(&w, o->id, 4);
		put_u(&w, o->ep, 4);
		put_u(&w, (uint64_t)o->degraded, 1);
		put_u(&w, m->live, 4);
		free(ord);
		ord = malloc(((size_t)m->n + 1) * sizeof(*ord));
		if (!ord) {
			w.oom = 1;
			break;
		}
		/* pre-order from each root: a parent is written before its children */
		for (uint32_t r = 0; r < m->n; r++) {
			uint32_t c = r;

			if (m->e[r].node == PCE_BM_NONE || m->e[r].parent != PCE_BM_NONE)
				continue;
			for (;;) {
				struct pce_bm_entry *x = &m->e[c];
				uint32_t ntok;
				const uint32_t *tok = pce_bm_tokens(m, &s->intern, c, &ntok);

				ord[c] = next_ord++;
				put_u(&w, x->hash, 8);
				put_u(&w, x->ns, 8);
				put_u(&w, x->parent == PCE_BM_NONE ? UINT32_MAX : ord[x->parent], 4);
				put_u(&w, x->media, 1);
				put_u(&w, x->tier, 1);
				for (uint32_t t = 0; t < ntok; t++)
					put_u(&w, tok[t], 4);
				if (x->child != PCE_BM_NONE) {
					c = x->child;
					continue;
				}
				while (c != r && m->e[c].next == PCE_BM_NONE)
					c = m->e[c].parent;
				if (c == r)
					break;
				c = m->e[c].next;
			}
		}
	}
	free(ord);
	if (!w.oom)
		put_u(&w, blob_sum(w.p, w.n), 8);
	if (w.oom) {
		free(w.p);
		return PCE_ENOMEM;
	}
	*blob = w.p;
	*len = w.n;
	return 0;
}

int pce_subscriber_export(struct pce_subscriber *s, void **blob, size_t *len)
{
	int rc;

	if (!s || !blob || !len)
		return PCE_EINVAL;
	pthread_mutex_lock(&s->lock);
	rc = export_locked(s, blob, len);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int pce__sub_paused(struct pce_subscriber *s, pce__sub_paused_fn fn, void *ctx)
{
	void *blob;
	size_t len;
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = export_locked(s, &blob, &len);
	if (!rc) {
		rc = fn(ctx, s->router, blob, len);
		free(blob);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

struct rbuf {
	const uint8_t *p, *end;
};

static int get_u(struct rbuf *r, uint64_t *v, int bytes)
{
	if (r->end - r->p < bytes)
		return -1;
	*v = 0;
	for (int i = bytes - 1; i >= 0; i--)
		*v = *v << 8 | r->p[i];
	r->p += bytes;
	return 0;
}

static int blob_open(const void *blob, size_t len, struct rbuf *r, uint64_t *bs, uint64_t *n_ep)
{
	uint64_t sum;

	if (!blob || len < 24 || memcmp(blob, BLOB_MAGIC, 8))
		return -1;
	r->p = (const uint8_t *)blob + len - 8;
	r->end = r->p + 8;
	get_u(r, &sum, 8);
	if (sum != blob_sum(blob, len - 8))
		return -1;
	r->p = (const uint8_t *)blob + 8;
	r->end = (const uint8_t *)blob + len - 8;
	return get_u(r, bs, 4) || get_u(r, n_ep, 4) ? -1 : 0;
}

int pce_subscriber_blob_endpoint(const void *blob, size_t len, size_t endpoint,
				 struct pce_subscriber_blob_endpoint *out)
{
	struct rbuf r;
	uint64_t bs, n_ep, has = 0, n_own;

	if (!out || blob_open(blob, len, &r, &bs, &n_ep) || bs == 0 ||
	    (uint64_t)(r.end - r.p) / 9 < n_ep)
		return PCE_EINVAL;
	if (endpoint >= n_ep)
		return PCE_ENOENT;
	memset(out, 0, sizeof(*out));
	r.p += endpoint * 9;
	get_u(&r, &has, 1);
	get_u(&r, &out->last_seq, 8);
	out->has_seq = has != 0;
	r.p += (n_ep - endpoint - 1) * 9;
	if (get_u(&r, &n_own, 4))
		return PCE_EINVAL;
	/* each owner: id, endpoint, degraded, entries, then fixed-size entries */
	for (uint64_t k = 0; k < n_own; k++) {
		uint64_t id, e, deg, n, entry = 22 + 4 * bs;

		if (get_u(&r, &id, 4) || get_u(&r, &e, 4) || get_u(&r, &deg, 1) ||
		    get_u(&r, &n, 4) || e >= n_ep || (uint64_t)(r.end - r.p) / entry < n)
			return PCE_EINVAL;
		r.p += n * entry;
		if (e == endpoint) {
			out->owners++;
			out->blocks += n;
		}
	}
	return r.p == r.end ? 0 : PCE_EINVAL;
}

int pce_subscriber_blob_seq(const void *blob, size_t len, size_t endpoint, uint64_t *seq)
{
	struct pce_subscriber_blob_endpoint e;
	int rc;

	if (!seq)
		return PCE_EINVAL;
	rc = pce_subscriber_blob_endpoint(blob, len, endpoint, &e);
	if (rc)
		return rc;
	if (!e.has_seq)
		return PCE_ENOENT;
	*seq = e.last_seq;
	return 0;
}

int pce__sub_blob_resume(const void *blob, size_t len, struct pce_subscriber_endpoint *eps,
			 size_t n)
{
	struct rbuf r;
	uint64_t bs, n_ep, has, seq;

	/* the header only: the import verifies the checksum (once, not twice) */
	if (!blob || len < 24 || memcmp(blob, BLOB_MAGIC, 8))
		return PCE_EBADSNAP;
	r.p = (const uint8_t *)blob + 8;
	r.end = (const uint8_t *)blob + len - 8;
	if (get_u(&r, &bs, 4) || get_u(&r, &n_ep, 4))
		return PCE_EBADSNAP;
	if (n_ep != n)
		return PCE_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (get_u(&r, &has, 1) || get_u(&r, &seq, 8))
			return PCE_EBADSNAP;
		if (has) {
			eps[i].resume = 1;
			eps[i].resume_seq = seq;
		}
	}
	return 0;
}

/* Rebuild the maps of @blob (the router is not touched: it is restored
 * with its own snapshot).  0 or PCE_EINVAL / PCE_ENOMEM. */
static int import_blob(struct pce_subscriber *s, const void *blob, size_t len)
{
	struct rbuf r;
	uint64_t bs, n_ep, n_own;
	uint32_t *idx = NULL;
	uint32_t *tok = NULL;
	int rc = PCE_EINVAL;

	if (blob_open(blob, len, &r, &bs, &n_ep) || bs != s->block_size || n_ep != s->n_ep)
		return PCE_EINVAL;
	r.p += n_ep * 9;
	if (r.p > r.end || get_u(&r, &n_own, 4))
		return PCE_EINVAL;
	tok = malloc((size_t)s->block_size * sizeof(*tok));
	if (!tok)
		return PCE_ENOMEM;
	for (uint64_t k = 0; k < n_own; k++) {
		uint64_t id, e, deg, n;
		struct owner *o;

		if (get_u(&r, &id, 4) || get_u(&r, &e, 4) || get_u(&r, &deg, 1) ||
		    get_u(&r, &n, 4) || e >= s->n_ep)
			goto out;
		if ((uint64_t)(r.end - r.p) / (22 + 4 * (uint64_t)s->block_size) < n)
			goto out;
		o = owner_get(s, (uint32_t)e, (uint32_t)id);
		if (!o || o->map.live) {
			rc = o ? PCE_EINVAL : PCE_ENOMEM;
			goto out;
		}
		o->degraded = deg != 0;
		free(idx);
		idx = malloc((size_t)(n ? n : 1) * sizeof(*idx));
		if (!idx) {
			rc = PCE_ENOMEM;
			goto out;
		}
		for (uint64_t j = 0; j < n; j++) {
			/* the entry count was checked against the bytes left */
			uint64_t h = 0, ns = 0, par = 0, media = 0, tier = 0;
			uint32_t parent;

			get_u(&r, &h, 8);
			get_u(&r, &ns, 8);
			get_u(&r, &par, 4);
			get_u(&r, &media, 1);
			get_u(&r, &tier, 1);
			/* one load per token (the bytes were counted above) */
			for (uint32_t t = 0; t < s->block_size; t++, r.p += 4)
				tok[t] = (uint32_t)r.p[0] | (uint32_t)r.p[1] << 8 |
					 (uint32_t)r.p[2] << 16 | (uint32_t)r.p[3] << 24;
			if ((par != UINT32_MAX && par >= j) || !media || tier >= PCE_TIERS ||
			    pce_bm_find(&o->map, h) != PCE_BM_NONE)
				goto out;
			parent = par == UINT32_MAX ? PCE_BM_NONE : idx[par];
			idx[j] = pce_bm_insert(&o->map, &s->intern, h, parent, ns, tok,
					       s->block_size, (uint8_t)media, (uint8_t)tier);
			if (idx[j] == PCE_BM_NONE) {
				rc = PCE_ENOMEM;
				goto out;
			}
		}
	}
	rc = r.p == r.end ? 0 : PCE_EINVAL;
out:
	free(idx);
	free(tok);
	return rc;
}

/* ---- create / destroy / status --------------------------------------------- */

void pce_subscriber_config_init(struct pce_subscriber_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->block_size = 1;
	cfg->unknown_medium_tier = PCE_TIER_REMOTE;
	cfg->max_buffered = 10000;
	cfg->replay_timeout_ms = 3000;
}

static void free_sub(struct pce_subscriber *s)
{
	for (size_t i = 0; i < s->n_ep; i++) {
		struct endpoint *ep = &s->ep[i];

		while (ep->nbuf)
			buf_drop_head(ep);
		free(ep->buf);
		if (ep->sub)
			zmq_close(ep->sub);
		if (ep->rep)
			zmq_close(ep->rep);
		free(ep->pub);
		free(ep->replay);
		free(ep->topic);
	}
	for (size_t i = 0; i < s->n_own; i++)
		pce_bm_free(&s->own[i].map, &s->intern);
	free(s->own);
	free(s->ep);
	free(s->items);
	pce_intern_free(&s->intern);
	pce_wire_batch_free(&s->batch);
	free(s->path);
	free(s->runs);
	free(s->gone);
	free(s->seen);
	if (s->zctx)
		zmq_ctx_term(s->zctx);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int open_endpoint(struct pce_subscriber *s, struct endpoint *ep,
			 const struct pce_subscriber_endpoint *c)
{
	int zero = 0, hwm = 100000;
	const char *topic = c->topic ? c->topic : "";

	ep->pub = strdup(c->pub_addr);
	ep->topic = strdup(topic);
	ep->replay = c->replay_addr ? strdup(c->replay_addr) : NULL;
	if (!ep->pub || !ep->topic || (c->replay_addr && !ep->replay))
		return PCE_ENOMEM;
	ep->owner = c->owner;
	ep->by_rank = c->owner_by_rank != 0;
	ep->base_ns = c->base_ns;
	ep->group = c->group_idx;
	if (c->resume) {
		ep->started = 1;
		ep->next = c->resume_seq + 1;
		ep->has_seq = 1;
		ep->last_seq = c->resume_seq;
	}
	ep->sub = zmq_socket(s->zctx, ZMQ_SUB);
	if (!ep->sub || zmq_setsockopt(ep->sub, ZMQ_LINGER, &zero, sizeof(zero)) ||
	    zmq_setsockopt(ep->sub, ZMQ_RCVHWM, &hwm, sizeof(hwm)) ||
	    zmq_setsockopt(ep->sub, ZMQ_SUBSCRIBE, topic, strlen(topic)) ||
	    zmq_connect(ep->sub, ep->pub))
		return PCE_EZMQ;
	if (ep->replay) {
		ep->rep = zmq_socket(s->zctx, ZMQ_DEALER);
		if (!ep->rep || zmq_setsockopt(ep->rep, ZMQ_LINGER, &zero, sizeof(zero)) ||
		    zmq_connect(ep->rep, ep->replay))
			return PCE_EZMQ;
	}
	return 0;
}

int pce_subscriber_create(const struct pce_subscriber_config *cfg, struct pce_subscriber **out)
{
	struct pce_subscriber *s;
	int rc;

	if (!cfg || !out || !cfg->router || !cfg->endpoints || !cfg->n_endpoints ||
	    cfg->n_endpoints > UINT32_MAX || !cfg->block_size ||
	    cfg->unknown_medium_tier >= PCE_TIERS || !cfg->max_buffered)
		return PCE_EINVAL;
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		const struct pce_subscriber_endpoint *a = &cfg->endpoints[i];

		if (!a->pub_addr)
			return PCE_EINVAL;
		for (size_t j = 0; j < i; j++) {
			const struct pce_subscriber_endpoint *b = &cfg->endpoints[j];

			if (!a->owner_by_rank && !b->owner_by_rank && a->owner == b->owner)
				return PCE_EINVAL;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return PCE_ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pce_intern_init(&s->intern);
	pce_wire_batch_init(&s->batch);
	s->router = cfg->router;
	s->block_size = cfg->block_size;
	s->unknown_tier = cfg->unknown_medium_tier;
	s->max_buffered = cfg->max_buffered;
	s->replay_timeout_ms = cfg->replay_timeout_ms;
	s->observe = cfg->observe;
	s->observe_ctx = cfg->observe_ctx;
	s->ep = calloc(cfg->n_endpoints, sizeof(*s->ep));
	s->items = calloc(2 * cfg->n_endpoints, sizeof(*s->items));
	s->zctx = zmq_ctx_new();
	if (!s->ep || !s->items || !s->zctx) {
		rc = s->ep && s->items ? PCE_EZMQ : PCE_ENOMEM;
		goto fail;
	}
	s->n_ep = cfg->n_endpoints;
	for (size_t i = 0; i < s->n_ep; i++) {
		const struct pce_subscriber_endpoint *c = &cfg->endpoints[i];

		if ((rc = open_endpoint(s, &s->ep[i], c)))
			goto fail;
		if (!c->owner_by_rank && !owner_get(s, (uint32_t)i, c->owner)) {
			rc = PCE_ENOMEM;
			goto fail;
		}
	}
	if (cfg->import_blob && (rc = import_blob(s, cfg->import_blob, cfg->import_len)))
		goto fail;
	if (pthread_create(&s->thread, NULL, sub_main, s)) {
		rc = PCE_ETHREAD;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	free_sub(s);
	return rc;
}

void pce_subscriber_destroy(struct pce_subscriber *s)
{
	if (!s)
		return;
	atomic_store_explicit(&s->stop, 1, memory_order_release);
	pthread_join(s->thread, NULL);
	free_sub(s);
}

static void add_counters(struct pce_subscriber_counters *a, const struct pce_subscriber_counters *b)
{
	uint64_t *x = (uint64_t *)a;
	const uint64_t *y = (const uint64_t *)b;

	for (size_t i = 0; i < sizeof(*a) / sizeof(uint64_t); i++)
		x[i] += y[i];
}

int pce_subscriber_stats_get(struct pce_subscriber *s, struct pce_subscriber_stats *out)
{
	if (!s || !out)
		return PCE_EINVAL;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_ep; i++)
		add_counters(&out->c, &s->ep[i].c);
	out->owners = s->n_own;
	for (size_t i = 0; i < s->n_own; i++) {
		out->blocks += s->own[i].map.live;
		out->map_bytes += pce_bm_bytes(&s->own[i].map);
	}
	out->interned_blocks = s->intern.live;
	out->token_bytes = pce_intern_bytes(&s->intern);
	pthread_mutex_unlock(&s->lock);
	if (out->blocks)
		out->bytes_per_owner_block =
			(double)(out->map_bytes + out->token_bytes) / (double)out->blocks;
	return 0;
}

int pce_subscriber_endpoint_status(struct pce_subscriber *s, size_t endpoint,
			    struct pce_subscriber_endpoint_status *out)
{
	const struct endpoint *ep;

	if (!s || !out)
		return PCE_EINVAL;
	if (endpoint >= s->n_ep)
		return PCE_ENOENT;
	ep = &s->ep[endpoint];
	pthread_mutex_lock(&s->lock);
	out->state = ep->recovering || !ep->started || !ep->have_live ? PCE_EV_RECOVERING
								      : PCE_EV_EXACT;
	for (size_t i = 0; i < s->n_own; i++)
		if (s->own[i].ep == endpoint && s->own[i].degraded)
			out->state = PCE_EV_DEGRADED;
	out->has_seq = ep->has_seq;
	out->last_seq = ep->last_seq;
	out->owners = ep->owners;
	out->c = ep->c;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int pce_subscriber_owner_status(struct pce_subscriber *s, uint32_t owner,
			 struct pce_subscriber_owner_status *out)
{
	const struct owner *o;
	int rc = 0;

	if (!s || !out)
		return PCE_EINVAL;
	pthread_mutex_lock(&s->lock);
	o = owner_find(s, owner);
	if (o) {
		out->owner = o->id;
		out->endpoint = o->ep;
		out->state = owner_state(s, o);
		out->blocks = o->map.live;
		out->has_seq = o->has_seq;
		out->last_seq = o->last_seq;
		out->c = o->c;
		/* sequence events are the endpoint's */
		out->c.gaps = s->ep[o->ep].c.gaps;
		out->c.restarts = s->ep[o->ep].c.restarts;
		out->c.recoveries_failed = s->ep[o->ep].c.recoveries_failed;
	} else {
		rc = PCE_ENOENT;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
