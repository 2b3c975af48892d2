/*
 * publisher.c - a pce_cache's block set on vLLM's KV-event wire (the
 * format and the loss policy are in pce/events.h and docs/events.md).
 *
 * Two sides:
 *   writers   pce_publisher_on_event(), in the cache's writer thread under
 *             its shard lock: hash the entry's blocks (no lock), then under
 *             p->mu update the mirror (mirror.h) and queue one wire event
 *             (a struct rec) for the blocks it adds or frees.  No I/O; a
 *             write to an eventfd when the queue becomes non-empty or
 *             reaches a full batch.
 *   thread    run(): owns both sockets, the wire encoder and the replay
 *             ring; takes the whole queue under p->mu, encodes and sends
 *             outside it, numbering batches from 0.
 *
 *   field                 written by (lock)            read by
 *   mirror, queue, lost   writers, thread (mu)         writers, thread (mu)
 *   enq, done, st.*       writers, thread (mu)         flush, stats (mu)
 *   next_seq, ring, wire  thread                       thread
 *
 * (P1) Batches go out in the order their events were queued, and the queue
 *      order is the order of the mirror's updates (both under mu), so the
 *      stream replays the mirror's history.
 * (P2) A refused event sets `lost`; while it is set nothing more is queued.
 *      The next take, under mu, discards the queue and encodes
 *      AllBlocksCleared plus the whole mirror: the same state the discarded
 *      events would have led to.  One sequence number is skipped first.
 * (P3) Writers hold mu only for map updates and a queue append; the thread
 *      holds it for the take (and, after a loss, for encoding the mirror).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "pce/events.h"
#include "mirror.h"
#include "wire_encode.h"

#define ADDR_MAX 256

enum rec_kind { REC_STORED, REC_REMOVED };

/* One queued wire event. */
struct rec {
	struct rec *next;
	enum rec_kind kind;
	int has_parent;
	uint64_t parent;
	size_t n;          /* hashes, in wire order */
	uint32_t *tokens;  /* REC_STORED: n * block_size tokens, after hashes */
	uint64_t hashes[];
};

struct ring_slot {
	uint64_t seq;
	char *buf;
	size_t len;
};

struct pce_publisher {
	struct pce_publisher_config cfg; /* strings point into the copies below */
	char *endpoint, *replay_endpoint, *topic, *medium;
	char pub_addr[ADDR_MAX], replay_addr[ADDR_MAX];
	void *zctx, *pub, *router;
	int efd;
	pthread_t thread;

	pthread_mutex_t mu;
	pthread_cond_t sent;   /* done advanced */
	struct pce__mirror mirror;
	struct rec *head, **tail;
	uint64_t queued;
	uint64_t enq;          /* events ever queued */
	uint64_t done;         /* of those, sent or discarded by a resync */
	int lost;              /* a resync is owed (P2) */
	int stopping;
	unsigned flushers;
	struct pce_publisher_stats st;

	/* publisher thread only */
	uint64_t next_seq;
	struct ring_slot *ring;
	size_t ring_head, ring_count;
	struct pce__wire wire;
};

void pce_publisher_config_init(struct pce_publisher_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->endpoint = "tcp://127.0.0.1:*";
	cfg->topic = "";
	cfg->medium = "GPU";
	cfg->block_size = 16;
	cfg->replay_batches = 10000;
	cfg->max_batch_events = 1024;
	cfg->max_delay_ns = 1000000;
	cfg->queue_events = 65536;
	cfg->sndhwm = 100000;
	cfg->linger_ms = 1000;
	cfg->hash = PCE_PUB_HASH_INT;
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void wake(struct pce_publisher *p)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is saturated, the thread is awake anyway. */
	if (write(p->efd, &one, sizeof(one)) < 0)
		return;
}

/* ---- writers ---------------------------------------------------------------- */

/* Queue @r (NULL: its allocation failed).  Return: 1 if the thread needs a
 * wake-up. */
static int enqueue_locked(struct pce_publisher *p, struct rec *r)
{
	if (p->lost) {
		free(r); /* the owed resync covers it (P2) */
		return 0;
	}
	if (!r || p->queued >= p->cfg.queue_events) {
		free(r);
		p->st.drops++;
		p->lost = 1;
		return 1;
	}
	r->next = NULL;
	*p->tail = r;
	p->tail = &r->next;
	p->queued++;
	p->enq++;
	return p->queued == 1 || p->queued == p->cfg.max_batch_events;
}

static struct rec *rec_new(enum rec_kind kind, size_t n, size_t ntokens)
{
	struct rec *r = malloc(sizeof(*r) + n * sizeof(uint64_t) + ntokens * sizeof(uint32_t));

	if (r) {
		r->kind = kind;
		r->n = n;
		r->tokens = (uint32_t *)(r->hashes + n);
	}
	return r;
}

static int on_stored_locked(struct pce_publisher *p, struct pce__entry *e,
			    const uint32_t *tokens)
{
	size_t bs = p->cfg.block_size;
	long first = pce__mirror_add_locked(&p->mirror, e, tokens);
	size_t n;
	struct rec *r;

	if (first < 0) {
		/* Out of memory: the entry is not mirrored (docs/events.md). */
		free(e);
		p->st.drops++;
		return 0;
	}
	n = e->c.n - (size_t)first;
	if (!n || p->lost)
		return 0;
	r = rec_new(REC_STORED, n, n * bs);
	if (r) {
		r->has_parent = first > 0;
		r->parent = first > 0 ? e->hashes[first - 1] : 0;
		memcpy(r->hashes, e->hashes + first, n * sizeof(uint64_t));
		memcpy(r->tokens, tokens + (size_t)first * bs, n * bs * sizeof(uint32_t));
	}
	return enqueue_locked(p, r);
}

static int on_removed_locked(struct pce_publisher *p, uint64_t id, struct pce__entry **out)
{
	size_t first, n;
	struct pce__entry *e = pce__mirror_remove_locked(&p->mirror, id, &first);
	struct rec *r;

	*out = e;
	if (!e)
		return 0; /* covered no whole block */
	n = e->c.n - first;
	if (!n || p->lost)
		return 0;
	r = rec_new(REC_REMOVED, n, 0);
	if (r) /* deepest first, as vLLM frees a request's blocks */
		for (size_t i = 0; i < n; i++)
			r->hashes[i] = e->hashes[e->c.n - 1 - i];
	return enqueue_locked(p, r);
}

void pce_publisher_on_event(void *ctx, const struct pce_event *ev)
{
	struct pce_publisher *p = ctx;
	struct pce__entry *e = NULL;
	int kick;

	if (!p || !ev)
		return;
	if (ev->kind == PCE_EVENT_STORED) {
		size_t nb = ev->tokens ? ev->len / p->cfg.block_size : 0;

		if (!nb)
			return;
		e = malloc(sizeof(*e) + nb * sizeof(uint64_t));
		if (e) {
			e->c.id = ev->id;
			e->c.n = nb;
			pce__mirror_hash(p->cfg.hash_seed, ev->ns, ev->tokens, nb,
					 p->cfg.block_size, e->hashes);
		}
		pthread_mutex_lock(&p->mu);
		if (e) {
			kick = on_stored_locked(p, e, ev->tokens);
		} else {
			p->st.drops++;
			kick = 0;
		}
		pthread_mutex_unlock(&p->mu);
	} else if (ev->kind == PCE_EVENT_REMOVED) {
		pthread_mutex_lock(&p->mu);
		kick = on_removed_locked(p, ev->id, &e);
		pthread_mutex_unlock(&p->mu);
		free(e);
	} else {
		return;
	}
	if (kick)
		wake(p);
}

/* ---- publisher thread: sending and replay --------------------------------------- */

static void send_batch(struct pce_publisher *p, char *buf, size_t len, size_t nevents)
{
	uint64_t seq = p->next_seq++;
	unsigned char be[8];
	struct ring_slot *s;

	for (int i = 0; i < 8; i++)
		be[i] = (unsigned char)(seq >> (56 - 8 * i));
	/* PUB never blocks: past the high-water mark ZMQ drops the message,
	 * which subscribers see as a gap that the replay ring can fill. */
	zmq_send(p->pub, p->topic, strlen(p->topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(p->pub, be, 8, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(p->pub, buf, len, ZMQ_DONTWAIT);

	if (!p->router) { /* nothing to replay to */
		free(buf);
		goto count;
	}
	if (p->ring_count == p->cfg.replay_batches) {
		s = &p->ring[p->ring_head];
		free(s->buf);
		p->ring_head = (p->ring_head + 1) % p->cfg.replay_batches;
		p->ring_count--;
	}
	s = &p->ring[(p->ring_head + p->ring_count) % p->cfg.replay_batches];
	s->seq = seq;
	s->buf = buf;
	s->len = len;
	p->ring_count++;
count:
	pthread_mutex_lock(&p->mu);
	p->st.batches++;
	p->st.events += nevents;
	p->st.bytes += len;
	p->st.next_seq = p->next_seq;
	pthread_mutex_unlock(&p->mu);
}

/* Finish the batch being built and send it.  Return: 0 or -1 (no memory:
 * its events are lost). */
static int flush_wire(struct pce_publisher *p)
{
	size_t nev = p->wire.nevents, len;
	char *buf;

	if (!nev)
		return 0;
	if (pce__wire_finish(&p->wire, (double)now_ns(CLOCK_REALTIME) / 1e9,
			     p->cfg.data_parallel_rank, &buf, &len))
		return -1;
	send_batch(p, buf, len, nev);
	return 0;
}

static int encode_rec(struct pce_publisher *p, const struct rec *r)
{
	if (r->kind == REC_REMOVED)
		return pce__wire_block_removed(&p->wire, r->hashes, r->n);
	return pce__wire_block_stored(&p->wire, r->hashes, r->n, r->has_parent ? &r->parent : NULL,
				      r->tokens, r->n * p->cfg.block_size, p->cfg.block_size);
}

/* Finished batches of a resync, sent after mu is released. */
struct resync {
	struct pce_publisher *p;
	struct ring_slot *out; /* seq unused */
	size_t *nev;
	size_t n, cap;
	uint32_t *tokens;      /* scratch: one chain's tokens */
	size_t tcap;
};

static int resync_cut(struct resync *rs)
{
	struct pce__wire *w = &rs->p->wire;
	size_t nev = w->nevents;

	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		struct ring_slot *o = realloc(rs->out, cap * sizeof(*o));
		size_t *ne = o ? realloc(rs->nev, cap * sizeof(*ne)) : NULL;

		if (o)
			rs->out = o;
		if (!ne)
			return -1;
		rs->nev = ne;
		rs->cap = cap;
	}
	if (pce__wire_finish(w, (double)now_ns(CLOCK_REALTIME) / 1e9,
			     rs->p->cfg.data_parallel_rank, &rs->out[rs->n].buf, &rs->out[rs->n].len))
		return -1;
	rs->nev[rs->n++] = nev;
	return 0;
}

static int resync_chain(void *ctx, const struct pce__entry *e, size_t first)
{
	struct resync *rs = ctx;
	struct pce_publisher *p = rs->p;
	size_t bs = p->cfg.block_size, n = e->c.n - first;

	if (n * bs > rs->tcap) {
		uint32_t *t = realloc(rs->tokens, n * bs * sizeof(*t));

		if (!t)
			return -1;
		rs->tokens = t;
		rs->tcap = n * bs;
	}
	for (size_t i = 0; i < n; i++)
		memcpy(rs->tokens + i * bs,
		       pce__mirror_block_locked(&p->mirror, e->hashes[first + i])->tokens,
		       bs * sizeof(uint32_t));
	if (pce__wire_block_stored(&p->wire, e->hashes + first, n,
				   first ? &e->hashes[first - 1] : NULL, rs->tokens, n * bs, bs))
		return -1;
	return p->wire.nevents >= p->cfg.max_batch_events ? resync_cut(rs) : 0;
}

static void resync_free(struct resync *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->out[i].buf);
	free(rs->out);
	free(rs->nev);
	free(rs->tokens);
}

/* Take the queue; after a loss, encode the resync (P2).  Return: 0 or -1
 * (a resync could not be encoded: it stays owed). */
static int drain(struct pce_publisher *p)
{
	struct rec *list, *r;
	struct resync rs = { .p = p };
	uint64_t upto;
	int resync, failed = 0;

	pthread_mutex_lock(&p->mu);
	list = p->head;
	p->head = NULL;
	p->tail = &p->head;
	p->queued = 0;
	upto = p->enq;
	resync = p->lost;
	if (resync) {
		pce__wire_reset(&p->wire);
		if (pce__wire_all_cleared(&p->wire) ||
		    pce__mirror_each_chain_locked(&p->mirror, resync_chain, &rs) ||
		    (p->wire.nevents && resync_cut(&rs))) {
			pce__wire_reset(&p->wire);
			resync_free(&rs);
			failed = 1;
		} else {
			p->lost = 0;
			p->st.resyncs++;
			p->st.skipped_seqs++;
		}
	}
	pthread_mutex_unlock(&p->mu);

	if (resync && !failed) {
		p->next_seq++; /* the gap no replay can fill */
		for (size_t i = 0; i < rs.n; i++) {
			send_batch(p, rs.out[i].buf, rs.out[i].len, rs.nev[i]);
			rs.out[i].buf = NULL; /* the ring owns it */
		}
		resync_free(&rs);
	}
	for (r = list; r; r = list) {
		list = r->next;
		if (!resync) {
			if (encode_rec(p, r))
				failed = 2;
			else if (p->wire.nevents >= p->cfg.max_batch_events && flush_wire(p))
				failed = 2;
		}
		free(r);
	}
	if (!resync && flush_wire(p))
		failed = 2;

	pthread_mutex_lock(&p->mu);
	if (failed == 2) { /* events lost in encoding: resync (P2) */
		pce__wire_reset(&p->wire);
		p->st.drops++;
		p->lost = 1;
	}
	if (failed != 1)
		p->done = upto;
	p->st.next_seq = p->next_seq;
	pthread_cond_broadcast(&p->sent);
	pthread_mutex_unlock(&p->mu);
	return failed == 1 ? -1 : 0;
}

/* Answer one replay request, if one is waiting: vLLM's framing, topic
 * included (pce/events.h). */
static void serve_replay(struct pce_publisher *p)
{
	zmq_msg_t f[3];
	int nf = 0, more = 1, bad = 0;
	uint64_t start = 0;
	static const unsigned char end_seq[8] = { 0xff, 0xff, 0xff, 0xff,
						  0xff, 0xff, 0xff, 0xff };

	while (more) {
		zmq_msg_t m;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, p->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			if (nf == 0)
				return; /* nothing waiting */
			bad = 1;
			break;
		}
		more = zmq_msg_more(&m);
		if (nf < 3)
			f[nf] = m;
		else
			zmq_msg_close(&m);
		nf++;
	}
	if (bad || nf != 3 || zmq_msg_size(&f[2]) != 8) {
		pthread_mutex_lock(&p->mu);
		p->st.replay_bad++;
		pthread_mutex_unlock(&p->mu);
	} else {
		const unsigned char *b = zmq_msg_data(&f[2]);
		const void *id = zmq_msg_data(&f[0]);
		size_t idlen = zmq_msg_size(&f[0]), sent = 0;

		for (int i = 0; i < 8; i++)
			start = start << 8 | b[i];
		for (size_t i = 0; i < p->ring_count; i++) {
			const struct ring_slot *s = &p->ring[(p->ring_head + i) % p->cfg.replay_batches];
			unsigned char be[8];

			if (s->seq < start)
				continue;
			for (int k = 0; k < 8; k++)
				be[k] = (unsigned char)(s->seq >> (56 - 8 * k));
			zmq_send(p->router, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT);
			zmq_send(p->router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
			zmq_send(p->router, p->topic, strlen(p->topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
			zmq_send(p->router, be, 8, ZMQ_SNDMORE | ZMQ_DONTWAIT);
			zmq_send(p->router, s->buf, s->len, ZMQ_DONTWAIT);
			sent++;
		}
		zmq_send(p->router, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT);
		zmq_send(p->router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
		zmq_send(p->router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
		zmq_send(p->router, end_seq, 8, ZMQ_SNDMORE | ZMQ_DONTWAIT);
		zmq_send(p->router, "", 0, ZMQ_DONTWAIT);
		pthread_mutex_lock(&p->mu);
		p->st.replay_requests++;
		p->st.replayed += sent;
		pthread_mutex_unlock(&p->mu);
	}
	for (int i = 0; i < nf && i < 3; i++)
		zmq_msg_close(&f[i]);
}

static void *run(void *arg)
{
	struct pce_publisher *p = arg;
	zmq_pollitem_t items[2] = { { .fd = p->efd, .events = ZMQ_POLLIN },
				    { .socket = p->router, .events = ZMQ_POLLIN } };
	int nitems = p->router ? 2 : 1;
	uint64_t pending_since = 0, delay = p->cfg.max_delay_ns;
	int backoff = 0;

	for (;;) {
		uint64_t n, now;
		int urgent, stop, lost;
		long timeout;

		pthread_mutex_lock(&p->mu);
		n = p->queued;
		lost = p->lost;
		stop = p->stopping;
		urgent = stop || p->flushers || lost || n >= p->cfg.max_batch_events;
		pthread_mutex_unlock(&p->mu);
		if (stop && !n && !lost)
			break;
		now = now_ns(CLOCK_MONOTONIC);
		if (backoff) {
			timeout = 10; /* a resync found no memory: retry soon, not at once */
		} else if (urgent) {
			timeout = 0;
		} else if (!n) {
			pending_since = 0;
			timeout = -1;
		} else {
			if (!pending_since)
				pending_since = now;
			timeout = now - pending_since >= delay
					  ? 0
					  : (long)((delay - (now - pending_since) + 999999) / 1000000);
		}
		if (zmq_poll(items, nitems, timeout) > 0 && (items[0].revents & ZMQ_POLLIN)) {
			uint64_t v;

			if (read(p->efd, &v, sizeof(v)) < 0)
				v = 0; /* EAGAIN: another read took it */
		}
		if (p->router) /* every request waiting, between batches */
			for (int i = 0; i < 64; i++) {
				int ev = 0;
				size_t sz = sizeof(ev);

				if (zmq_getsockopt(p->router, ZMQ_EVENTS, &ev, &sz) ||
				    !(ev & ZMQ_POLLIN))
					break;
				serve_replay(p);
			}
		now = now_ns(CLOCK_MONOTONIC);
		if (urgent || backoff || (n && now - pending_since >= delay)) {
			backoff = drain(p) != 0;
			pending_since = 0;
		}
	}
	return NULL;
}

/* ---- life cycle --------------------------------------------------------------------- */

static char *dup_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int bind_socket(void *zctx, int type, const char *addr, int hwm, char *bound, void **out)
{
	void *s = zmq_socket(zctx, type);
	size_t len = ADDR_MAX;
	int zero = 0;

	if (!s)
		return PCE_ENOMEM; /* out of memory or of file descriptors */
	/* Until destroy sets the configured linger, a failed create closes at once. */
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	if ((hwm && zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm))) || zmq_bind(s, addr) ||
	    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, bound, &len)) {
		zmq_close(s);
		return PCE_EZMQ;
	}
	*out = s;
	return 0;
}

static void free_pub(struct pce_publisher *p)
{
	for (struct rec *r = p->head, *next; r; r = next) {
		next = r->next;
		free(r);
	}
	for (size_t i = 0; p->ring && i < p->ring_count; i++)
		free(p->ring[(p->ring_head + i) % p->cfg.replay_batches].buf);
	free(p->ring);
	pce__wire_destroy(&p->wire);
	pce__mirror_destroy(&p->mirror);
	if (p->efd >= 0)
		close(p->efd);
	free(p->endpoint);
	free(p->replay_endpoint);
	free(p->topic);
	free(p->medium);
	pthread_cond_destroy(&p->sent);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static void close_sockets(struct pce_publisher *p, int linger)
{
	if (p->pub) {
		zmq_setsockopt(p->pub, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_close(p->pub);
	}
	if (p->router) {
		zmq_setsockopt(p->router, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_close(p->router);
	}
	if (p->zctx)
		zmq_ctx_term(p->zctx);
}

int pce_publisher_create(const struct pce_publisher_config *cfg, struct pce_publisher **out)
{
	struct pce_publisher *p;
	int rc;

	if (!cfg || !out || !cfg->endpoint || !cfg->topic || !cfg->medium || !cfg->block_size ||
	    !cfg->replay_batches || !cfg->max_batch_events || !cfg->queue_events ||
	    cfg->sndhwm < 0 || cfg->linger_ms < 0 ||
	    (cfg->hash != PCE_PUB_HASH_INT && cfg->hash != PCE_PUB_HASH_BYTES))
		return PCE_EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return PCE_ENOMEM;
	p->efd = -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->sent, NULL);
	p->cfg = *cfg;
	p->tail = &p->head;
	pce__mirror_init(&p->mirror, cfg->block_size);
	p->endpoint = dup_str(cfg->endpoint);
	p->replay_endpoint = dup_str(cfg->replay_endpoint);
	p->topic = dup_str(cfg->topic);
	p->medium = dup_str(cfg->medium);
	p->ring = calloc(cfg->replay_batches, sizeof(*p->ring));
	pce__wire_init(&p->wire, cfg->hash == PCE_PUB_HASH_BYTES, cfg->medium);
	if (!p->endpoint || !p->topic || !p->medium || !p->ring ||
	    (cfg->replay_endpoint && !p->replay_endpoint)) {
		free_pub(p);
		return PCE_ENOMEM;
	}
	p->cfg.endpoint = p->endpoint;
	p->cfg.replay_endpoint = p->replay_endpoint;
	p->cfg.topic = p->topic;
	p->cfg.medium = p->medium;
	p->wire.medium = p->medium;

	rc = PCE_ENOMEM; /* no context or eventfd: memory or file descriptors */
	p->zctx = zmq_ctx_new();
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->zctx && p->efd >= 0)
		rc = bind_socket(p->zctx, ZMQ_PUB, p->endpoint, cfg->sndhwm, p->pub_addr, &p->pub);
	if (!rc && p->replay_endpoint)
		rc = bind_socket(p->zctx, ZMQ_ROUTER, p->replay_endpoint, 0, p->replay_addr,
				 &p->router);
	if (!rc && pthread_create(&p->thread, NULL, run, p))
		rc = PCE_ETHREAD;
	if (rc) {
		close_sockets(p, 0);
		free_pub(p);
		return rc;
	}
	*out = p;
	return 0;
}

static int copy_addr(const char *addr, char *buf, size_t len)
{
	size_t n = strlen(addr);

	if (!buf || len <= n)
		return PCE_EINVAL;
	memcpy(buf, addr, n + 1);
	return 0;
}

int pce_publisher_endpoint(struct pce_publisher *pub, char *buf, size_t len)
{
	return pub ? copy_addr(pub->pub_addr, buf, len) : PCE_EINVAL;
}

int pce_publisher_replay_endpoint(struct pce_publisher *pub, char *buf, size_t len)
{
	return pub ? copy_addr(pub->replay_addr, buf, len) : PCE_EINVAL;
}

int pce_publisher_flush(struct pce_publisher *pub, uint64_t timeout_ns)
{
	struct timespec dl;
	uint64_t target, t;
	int rc = 0;

	if (!pub)
		return PCE_EINVAL;
	t = now_ns(CLOCK_REALTIME) + (timeout_ns > (uint64_t)1 << 62 ? (uint64_t)1 << 62 : timeout_ns);
	dl.tv_sec = (time_t)(t / 1000000000u);
	dl.tv_nsec = (long)(t % 1000000000u);
	pthread_mutex_lock(&pub->mu);
	target = pub->enq;
	pub->flushers++;
	pthread_mutex_unlock(&pub->mu);
	wake(pub);
	pthread_mutex_lock(&pub->mu);
	while (pub->done < target || pub->lost)
		if (pthread_cond_timedwait(&pub->sent, &pub->mu, &dl) == ETIMEDOUT) {
			rc = pub->done < target || pub->lost ? PCE_ETIMEDOUT : 0;
			break;
		}
	pub->flushers--;
	pthread_mutex_unlock(&pub->mu);
	return rc;
}

int pce_publisher_stats_get(struct pce_publisher *pub, struct pce_publisher_stats *out)
{
	if (!pub || !out)
		return PCE_EINVAL;
	pthread_mutex_lock(&pub->mu);
	*out = pub->st;
	out->queued = pub->queued;
	out->blocks = pub->mirror.chain.units.len;
	out->entries = pub->mirror.chain.entries.len;
	pthread_mutex_unlock(&pub->mu);
	return 0;
}

int pce_publisher_destroy(struct pce_publisher *pub)
{
	if (!pub)
		return 0;
	pthread_mutex_lock(&pub->mu);
	pub->stopping = 1;
	pthread_mutex_unlock(&pub->mu);
	wake(pub);
	pthread_join(pub->thread, NULL);
	close_sockets(pub, pub->cfg.linger_ms);
	free_pub(pub);
	return 0;
}
