/*
 * conn.c - the tier's Redis connections: hiredis' blocking API with a
 * connect timeout and a socket timeout on every reply, pipelined batches,
 * and Redis Cluster redirections.
 *
 * hiredis 0.14 has no cluster client.  A batch here always targets one
 * slot (every key of a namespace shares a hash tag, keys.c), so following
 * redirections is simple: a MOVED reply names the slot's new owner, which
 * goes into the slot map, and the whole batch is resent there; ASK sends
 * the batch once to the named node with ASKING before each command, and
 * leaves the map alone (the slot is migrating).  The commands of a batch
 * are idempotent (HSET, HDEL, PEXPIRE, reads), so a resend is harmless.
 * A connection error or timeout closes that connection and returns
 * PCE_EUNAVAIL; the worker opens its breaker (worker.c).
 *
 * Used by the worker thread only (hiredis contexts are not shared).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

/* Redirections followed per batch before giving up (a slot moving while
 * we chase it). */
#define MAX_REDIRECTS 5

uint16_t pce__slot_of(const char *key, size_t len)
{
	size_t s, e;

	/* The hash tag: the bytes between the first '{' and the next '}',
	 * if that is not empty (Redis Cluster's rule). */
	for (s = 0; s < len && key[s] != '{'; s++)
		;
	if (s < len) {
		for (e = s + 1; e < len && key[e] != '}'; e++)
			;
		if (e < len && e > s + 1) {
			key += s + 1;
			len = e - s - 1;
		}
	}
	uint16_t crc = 0;
	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)((unsigned char)key[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
	}
	return crc & 16383;
}

static struct timeval tv_ms(uint32_t ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	return tv;
}

void pce__conn_init(struct pce__conn *c, const char *host, int port, uint32_t connect_ms,
		    uint32_t io_ms, uint64_t *redirects)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->node[0].host, sizeof(c->node[0].host), "%s", host);
	c->node[0].port = port;
	c->nodes = 1;
	c->connect_tv = tv_ms(connect_ms);
	c->io_tv = tv_ms(io_ms);
	c->redirects = redirects;
}

static void node_close(struct pce__conn *c, int i)
{
	if (c->node[i].c)
		redisFree(c->node[i].c);
	c->node[i].c = NULL;
}

void pce__conn_close(struct pce__conn *c)
{
	for (int i = 0; i < c->nodes; i++)
		node_close(c, i);
}

static int node_open(struct pce__conn *c, int i)
{
	if (c->node[i].c)
		return 0;
	redisContext *rc = redisConnectWithTimeout(c->node[i].host, c->node[i].port, c->connect_tv);
	if (!rc)
		return PCE_ENOMEM;
	if (rc->err || redisSetTimeout(rc, c->io_tv) != REDIS_OK) {
		redisFree(rc);
		return PCE_EUNAVAIL;
	}
	c->node[i].c = rc;
	return 0;
}

int pce__conn_open(struct pce__conn *c)
{
	return node_open(c, 0);
}

/* Index of host:port in the node table, added if new; -1 if full. */
static int node_find(struct pce__conn *c, const char *host, int port)
{
	for (int i = 0; i < c->nodes; i++)
		if (c->node[i].port == port && strcmp(c->node[i].host, host) == 0)
			return i;
	if (c->nodes == PCE__CONN_NODES)
		return -1;
	int i = c->nodes++;
	snprintf(c->node[i].host, sizeof(c->node[i].host), "%s", host);
	c->node[i].port = port;
	c->node[i].c = NULL;
	return i;
}

/* "MOVED <slot> <host>:<port>" or "ASK ...": the target node's index, or
 * -1 if @r is no redirection (or names no usable node). */
static int redirection(struct pce__conn *c, const redisReply *r, int *ask)
{
	char host[64];
	unsigned slot;
	int port;

	if (r->type != REDIS_REPLY_ERROR)
		return -1;
	if (strncmp(r->str, "MOVED ", 6) == 0)
		*ask = 0;
	else if (strncmp(r->str, "ASK ", 4) == 0)
		*ask = 1;
	else
		return -1;
	const char *p = strchr(r->str, ' ') + 1;
	const char *colon = strrchr(p, ':');
	if (!colon || sscanf(p, "%u %63[^ ]", &slot, host) != 2 || slot > 16383)
		return -1;
	/* host holds "ip:port"; cut at the last colon (IPv6 has several). */
	char *hc = strrchr(host, ':');
	if (!hc)
		return -1;
	*hc = '\0';
	port = atoi(colon + 1);
	/* An empty host means "the address you reached me at" (Redis 7). */
	int i = node_find(c, host[0] ? host : c->node[0].host, port);
	if (i >= 0 && !*ask)
		c->slot_node[slot] = (uint8_t)i;
	return i;
}

static void free_replies(redisReply **r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i])
			freeReplyObject(r[i]);
		r[i] = NULL;
	}
}

/* One attempt on node @i; ASKING before each command if @ask. */
static int run_on(struct pce__conn *c, int i, const struct pce__cmd *cmds, size_t n,
		  redisReply **replies, int ask)
{
	static const char asking[] = "ASKING";
	const char *av[1] = {asking};
	size_t al[1] = {sizeof(asking) - 1};
	int rc = node_open(c, i);
	redisContext *ctx = c->node[i].c;

	if (rc)
		return rc;
	for (size_t k = 0; k < n; k++) {
		if ((ask && redisAppendCommandArgv(ctx, 1, av, al) != REDIS_OK) ||
		    redisAppendCommandArgv(ctx, cmds[k].argc, cmds[k].argv, cmds[k].argvlen) !=
			    REDIS_OK)
			goto broken;
	}
	for (size_t k = 0; k < n; k++) {
		void *r;
		if (ask) {
			if (redisGetReply(ctx, &r) != REDIS_OK)
				goto broken;
			freeReplyObject(r);
		}
		if (redisGetReply(ctx, &r) != REDIS_OK)
			goto broken;
		replies[k] = r;
	}
	return 0;
broken:
	free_replies(replies, n);
	node_close(c, i);
	return PCE_EUNAVAIL;
}

int pce__conn_run(struct pce__conn *c, uint16_t slot, const struct pce__cmd *cmds, size_t n,
		  redisReply **replies)
{
	int node = c->slot_node[slot & 16383], ask = 0;

	memset(replies, 0, n * sizeof(*replies));
	for (int tries = 0; tries <= MAX_REDIRECTS; tries++) {
		int rc = run_on(c, node, cmds, n, replies, ask);
		if (rc)
			return rc;
		int target = -1;
		for (size_t k = 0; k < n && target < 0; k++)
			target = redirection(c, replies[k], &ask);
		if (target < 0)
			return 0;
		__atomic_fetch_add(c->redirects, 1, __ATOMIC_RELAXED);
		free_replies(replies, n);
		node = target;
	}
	return PCE_EUNAVAIL;
}
