/*
 * publish.c - the write path of the cluster tier: publish on store,
 * retract on removal, heartbeats (registry, lease, boot token) and the
 * republish, all against the mirror (mirror.c).
 *
 * Commands (keys.c names the keys; every key of a batch shares one slot):
 *   publish   HSET chunk node/owner epoch; PEXPIRE chunk key_ttl (shallow first)
 *   retract   HDEL chunk node/owner                              (deepest first)
 *   heartbeat EVAL heartbeat_lua 2 registry boot node epoch lease ttl token
 * A chunk field names the publishing node and the owner it publishes for:
 * a node attached to a cache publishes for itself (owner = node id), one
 * attached to a router for each owner the router knows.
 * Writes are batched into pipelines of up to BATCH commands of one
 * namespace, in event order, so a retract never overtakes the publish it
 * undoes.  A reply that is an error (OOM under maxmemory noeviction, say)
 * is counted and the batch goes on; a lost connection counts the batch's
 * writes as errors, sets t->resync (the worker bumps the epoch and
 * republishes after reconnecting, since Redis may now hold chunks the
 * node no longer has) and leaves the rest of the ops to the mirror alone.
 *
 * Epochs: the registry value carries the node's epoch; a chunk field
 * counts only with the same epoch (script.c).  A new epoch therefore hides
 * every chunk of the node's previous life in O(1), without a SCAN.
 *
 * Worker thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cluster.h"

#define BATCH 512

enum { CMD_PUBLISH, CMD_EXPIRE, CMD_RETRACT };

struct batch {
	struct pce_cluster *t;
	uint64_t ns;
	size_t n;
	int down; /* the connection was lost: mirror only from now on */
	struct pce__cmd cmd[BATCH];
	int kind[BATCH];
	const char *argv[BATCH][4];
	size_t lens[BATCH][4];
	char key[BATCH][PCE__KEY_MAX];
	char field[BATCH][24];
};

static uint64_t random64(void)
{
	uint64_t r = 0;

	/* getrandom() without flags only fails before the pool is seeded
	 * or on EINTR; the clock then still makes collisions unlikely. */
	if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r ^= (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
	}
	return r;
}

void pce__publish_new_epoch(struct pce_cluster *t)
{
	do
		t->epoch = random64() >> 1; /* Lua reads the text; keep it short */
	while (t->epoch == 0);
	snprintf(t->epoch_str, sizeof(t->epoch_str), "%llu", (unsigned long long)t->epoch);
	PCE__SET(t, epoch, t->epoch);
}

static void count_lost(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->kind[i] == CMD_PUBLISH)
			PCE__ADD(b->t, publish_errors, 1);
		else if (b->kind[i] == CMD_RETRACT)
			PCE__ADD(b->t, retract_errors, 1);
	}
}

static int flush(struct batch *b)
{
	struct pce_cluster *t = b->t;
	redisReply *r[BATCH];
	int rc = 0;

	if (b->n == 0)
		return 0;
	if (b->down || !t->connected) {
		b->down = 1;
		t->resync = 1;
		count_lost(b);
		b->n = 0;
		return 0;
	}
	rc = pce__conn_run(&t->conn, pce__key_ns_slot(t->prefix, b->ns), b->cmd, b->n, r);
	if (rc) {
		b->down = 1;
		t->resync = 1;
		count_lost(b);
		b->n = 0;
		return PCE_EUNAVAIL;
	}
	for (size_t i = 0; i < b->n; i++) {
		int err = r[i]->type == REDIS_REPLY_ERROR;
		if (b->kind[i] == CMD_PUBLISH)
			PCE__ADD(t, published, !err), PCE__ADD(t, publish_errors, err);
		else if (b->kind[i] == CMD_RETRACT)
			PCE__ADD(t, retracted, !err), PCE__ADD(t, retract_errors, err);
		freeReplyObject(r[i]);
	}
	b->n = 0;
	return 0;
}

/* Appends one command on @ns's chunk @id, field "node/@owner"; flushes
 * first if the batch is full or of another namespace. */
static void add(struct batch *b, uint64_t ns, const struct pce_chunk_id *id, uint32_t owner,
		int kind)
{
	struct pce_cluster *t = b->t;

	if (b->n == BATCH || (b->n && b->ns != ns))
		flush(b);
	b->ns = ns;
	size_t i = b->n++;
	size_t kl = pce__key_chunk(b->key[i], t->prefix, ns, id);
	const char **a = b->argv[i];
	size_t *l = b->lens[i];
	b->kind[i] = kind;
	switch (kind) {
	case CMD_PUBLISH:
		a[0] = "HSET", l[0] = 4;
		a[3] = t->epoch_str, l[3] = strlen(t->epoch_str);
		b->cmd[i].argc = 4;
		break;
	case CMD_EXPIRE:
		a[0] = "PEXPIRE", l[0] = 7;
		a[2] = t->ttl_str, l[2] = strlen(t->ttl_str);
		b->cmd[i].argc = 3;
		break;
	default:
		a[0] = "HDEL", l[0] = 4;
		b->cmd[i].argc = 3;
		break;
	}
	a[1] = b->key[i], l[1] = kl;
	if (kind != CMD_EXPIRE) {
		l[2] = (size_t)snprintf(b->field[i], sizeof(b->field[i]), "%s/%u", t->node_str, owner);
		a[2] = b->field[i];
	}
	b->cmd[i].argv = a;
	b->cmd[i].argvlen = l;
}

static void publish_chunk(struct batch *b, uint64_t ns, const struct pce_chunk_id *id,
			  uint32_t owner)
{
	add(b, ns, id, owner, CMD_PUBLISH);
	add(b, ns, id, 0, CMD_EXPIRE);
}

/* Heartbeat of one namespace.  *@lost set if its boot token changed. */
static int heartbeat_ns(struct pce_cluster *t, struct pce__tslot *ns, int *lost)
{
	char reg[PCE__KEY_MAX], boot[PCE__KEY_MAX], token[24];
	const char *argv[10];
	size_t lens[10];
	struct pce__cmd cmd = {10, argv, lens};
	redisReply *r;
	uint64_t cand;
	int rc;

	if (!t->connected)
		return 0;
	do
		cand = random64() >> 1;
	while (cand == 0);
	argv[0] = "EVAL", lens[0] = 4;
	argv[1] = pce__heartbeat_lua, lens[1] = strlen(pce__heartbeat_lua);
	argv[2] = "2", lens[2] = 1;
	lens[3] = pce__key_registry(reg, t->prefix, ns->k0), argv[3] = reg;
	lens[4] = pce__key_boot(boot, t->prefix, ns->k0), argv[4] = boot;
	argv[5] = t->node_str, lens[5] = strlen(t->node_str);
	argv[6] = t->epoch_str, lens[6] = strlen(t->epoch_str);
	argv[7] = t->lease_str, lens[7] = strlen(t->lease_str);
	argv[8] = t->ttl_str, lens[8] = strlen(t->ttl_str);
	lens[9] = (size_t)snprintf(token, sizeof(token), "%llu", (unsigned long long)cand);
	argv[9] = token;
	rc = pce__conn_run(&t->conn, pce__key_ns_slot(t->prefix, ns->k0), &cmd, 1, &r);
	if (rc)
		return PCE_EUNAVAIL;
	if (r->type == REDIS_REPLY_STRING) {
		uint64_t seen = strtoull(r->str, NULL, 10);
		if (ns->a && ns->a != seen)
			*lost = 1;
		ns->a = seen;
	}
	/* An error reply (OOM refuses a writing script) leaves the lease
	 * to run on; the next heartbeat tries again. */
	freeReplyObject(r);
	return 0;
}

int pce__publish_heartbeat(struct pce_cluster *t, int *lost_data)
{
	struct pce__table *ns = &t->mirror.ns;

	for (size_t i = 0; i < ns->cap; i++)
		if (ns->s[i].used && heartbeat_ns(t, &ns->s[i], lost_data))
			return PCE_EUNAVAIL;
	return 0;
}

/* The namespace's slot in the ns table; a namespace seen for the first
 * time is registered before its first chunk goes out, so the chunk is
 * visible as soon as it lands. */
static int ns_seen(struct pce_cluster *t, struct batch *b, uint64_t ns)
{
	struct pce__tslot *s = pce__table_find(&t->mirror.ns, ns, 0);
	int lost = 0;

	if (s)
		return 0;
	if (flush(b))
		return PCE_EUNAVAIL;
	if (!(s = pce__table_get(&t->mirror.ns, ns, 0)))
		return PCE_ENOMEM;
	if (!b->down && heartbeat_ns(t, s, &lost)) {
		b->down = 1;
		t->resync = 1;
		return PCE_EUNAVAIL;
	}
	return 0;
}

static void mirror_gauges(struct pce_cluster *t)
{
	PCE__SET(t, mirror_entries, t->mirror.chain.entries.len);
	PCE__SET(t, mirror_chunks, t->mirror.chain.units.len + t->mirror.held.len);
}

/* A router's holding: publish the chunks the owner did not hold, or
 * retract, deepest first, those it lost. */
static void apply_router(struct pce_cluster *t, struct batch *b, struct pce__op *op)
{
	if (op->stored) {
		if (ns_seen(t, b, op->ns) == PCE_ENOMEM) {
			PCE__ADD(t, publish_errors, op->n);
			return;
		}
		size_t *fresh = malloc(op->n * sizeof(*fresh)), nf = 0;
		int failed = !fresh;

		if (fresh)
			nf = pce__mirror_hold(&t->mirror, op->ns, op->owner, op->ids, op->n, fresh,
					      &failed);
		if (failed)
			PCE__ADD(t, publish_errors, 1); /* the deeper chunks stay unpublished */
		for (size_t i = 0; i < nf; i++)
			publish_chunk(b, op->ns, &op->ids[fresh[i]], op->owner);
		free(fresh);
		return;
	}
	struct pce_chunk_id *gone;
	long ng = pce__mirror_release(&t->mirror, op->ns, op->owner, op->level, op->ids, op->n,
				      &gone);
	if (ng < 0)
		PCE__ADD(t, retract_errors, 1); /* left to the key TTL */
	for (long i = 0; i < ng; i++)
		add(b, op->ns, &gone[i], op->owner, CMD_RETRACT);
	free(gone);
}

static void apply(struct pce_cluster *t, struct batch *b, struct pce__op *op)
{
	if (op->router) {
		apply_router(t, b, op);
		return;
	}
	if (op->stored) {
		struct pce_chunk_id *ids = op->ids;
		size_t *fresh = malloc(op->n * sizeof(*fresh));
		long nf = PCE_ENOMEM;

		op->ids = NULL; /* the mirror owns (or frees) them */
		if (fresh && ns_seen(t, b, op->ns) != PCE_ENOMEM)
			nf = pce__mirror_add(&t->mirror, op->id, op->ns, ids, op->n, fresh);
		else
			free(ids);
		if (nf < 0)
			PCE__ADD(t, publish_errors, op->n);
		for (long i = 0; i < nf; i++)
			publish_chunk(b, op->ns, &ids[fresh[i]], t->cfg.node_id);
		free(fresh);
		return;
	}
	size_t room = pce__mirror_len(&t->mirror, op->id);
	struct pce_chunk_id *gone = room ? malloc(room * sizeof(*gone)) : NULL;
	uint64_t ns = 0;
	size_t ng = pce__mirror_remove(&t->mirror, op->id, &ns, gone, gone ? room : 0);

	if (room && !gone)
		PCE__ADD(t, retract_errors, room); /* left to the key TTL */
	for (size_t i = 0; i < ng; i++)
		add(b, ns, &gone[i], t->cfg.node_id, CMD_RETRACT);
	free(gone);
}

void pce__op_free(struct pce__op *op)
{
	free(op->ids);
	free(op);
}

static struct batch *batch_new(struct pce_cluster *t)
{
	struct batch *b = malloc(sizeof(*b));

	if (b) {
		b->t = t;
		b->n = 0;
		b->down = !t->connected;
	}
	return b;
}

int pce__publish_ops(struct pce_cluster *t, struct pce__op *ops)
{
	struct batch *b = batch_new(t);
	int down;

	while (ops) {
		struct pce__op *next = ops->next;
		if (b)
			apply(t, b, ops);
		else
			PCE__ADD(t, events_dropped, 1);
		pce__op_free(ops);
		ops = next;
	}
	if (!b)
		return 0;
	flush(b);
	mirror_gauges(t);
	down = b->down && t->connected;
	free(b);
	return down ? PCE_EUNAVAIL : 0;
}

int pce__publish_all(struct pce_cluster *t)
{
	struct pce__table *ns = &t->mirror.ns, *hd = &t->mirror.held;
	struct pce__table *ch = &t->mirror.chain.units; /* a: the chunk's namespace */
	struct batch *b = batch_new(t);
	int down;

	if (!b)
		return 0; /* the next refresh tries again */
	for (size_t i = 0; i < ns->cap && !b->down; i++) {
		if (!ns->s[i].used)
			continue;
		for (size_t j = 0; j < ch->cap && !b->down; j++) {
			if (!ch->s[j].used || ch->s[j].a != ns->s[i].k0)
				continue;
			struct pce_chunk_id id = {ch->s[j].k0, ch->s[j].k1};
			publish_chunk(b, ns->s[i].k0, &id, t->cfg.node_id);
		}
		for (size_t j = 0; j < hd->cap && !b->down; j++) {
			const struct pce__held *h = (const struct pce__held *)(uintptr_t)hd->s[j].a;
			if (hd->s[j].used && h->ns == ns->s[i].k0)
				publish_chunk(b, h->ns, &h->id, h->owner);
		}
	}
	flush(b);
	down = b->down && t->connected;
	free(b);
	return down ? PCE_EUNAVAIL : 0;
}
