/*
 * script.c - the lookup: a read-only Lua script run with EVALSHA (one round
 * trip whatever the prompt's length), its C twin over a pipelined batch for
 * servers without scripting, and the heartbeat script.
 *
 * The scan (both versions).  Input: the registry of the namespace and the
 * query's chunk keys in prefix order.  A chunk field "node/owner" says that
 * publishing node `node` saw `owner` hold the chunk.  A node is live if its
 * registry value's lease deadline has not passed on the server's clock
 * (TIME); a field counts only if it carries its node's current epoch (an
 * older epoch is a previous life of the node, hidden at once).  Walking the
 * chunks in order, a field stays in the running while every chunk so far
 * has it; its depth is the last chunk that did.  The scan stops at the
 * first chunk no field still running is in (early exit), so a hole in a
 * chain ends the depth there: a linear scan, not a binary search, which
 * would report wrong depths past a missing middle chunk.  Last, the fields
 * of one owner (one per live node publishing it) collapse to the deepest.
 * The work budget counts hash fields read; past it, the answer is marked
 * partial and depths are lower bounds.
 *
 * Reply of the script: { partial, owner_1, depth_1, owner_2, depth_2, ... }.
 *
 * NOSCRIPT (a restarted server, SCRIPT FLUSH, a failover or a redirection
 * to a node that never saw the script) is answered with EVAL of the body,
 * which runs the lookup and caches the script on the node that answered.
 * Worker thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

const char pce__lookup_lua[] =
	"#!lua flags=no-writes\n"
	"local budget = tonumber(ARGV[1])\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local live = {}\n"
	"local reg = redis.call('HGETALL', KEYS[1])\n"
	"for i = 1, #reg, 2 do\n"
	"  local e, d = string.match(reg[i + 1], '^(%d+):(%d+)$')\n"
	"  if e and tonumber(d) >= now then live[reg[i]] = e end\n"
	"end\n"
	"local running, depth, read, partial = nil, {}, 0, 0\n"
	"for k = 2, #KEYS do\n"
	"  local h = redis.call('HGETALL', KEYS[k])\n"
	"  read = read + #h / 2\n"
	"  local nxt, any = {}, false\n"
	"  for i = 1, #h, 2 do\n"
	"    local f = h[i]\n"
	"    local node = string.match(f, '^(%d+)/%d+$')\n"
	"    if node and live[node] == h[i + 1] and (running == nil or running[f]) then\n"
	"      nxt[f] = true; depth[f] = k - 1; any = true\n"
	"    end\n"
	"  end\n"
	"  if not any then break end\n"
	"  running = nxt\n"
	"  if read > budget and k < #KEYS then partial = 1; break end\n"
	"end\n"
	"local best = {}\n"
	"for f, d in pairs(depth) do\n"
	"  local o = string.match(f, '/(%d+)$')\n"
	"  if (best[o] or 0) < d then best[o] = d end\n"
	"end\n"
	"local out = {partial}\n"
	"for o, d in pairs(best) do out[#out + 1] = o; out[#out + 1] = d end\n"
	"return out\n";

/* KEYS: registry, boot.  ARGV: node, epoch, lease_ms, key_ttl_ms, candidate
 * boot token.  Registers the node for lease_ms of the server's clock and
 * returns the boot token, setting it first if the key is missing. */
const char pce__heartbeat_lua[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"redis.call('HSET', KEYS[1], ARGV[1],\n"
	"           ARGV[2] .. ':' .. string.format('%d', now + tonumber(ARGV[3])))\n"
	"redis.call('PEXPIRE', KEYS[1], ARGV[4])\n"
	"local b = redis.call('GET', KEYS[2])\n"
	"if not b then redis.call('SET', KEYS[2], ARGV[5]); b = ARGV[5] end\n"
	"return b\n";

int pce__lookup_parse(const redisReply *r, struct pce__lookup_answer *out)
{
	memset(out, 0, sizeof(*out));
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->elements % 2 != 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER)
		return PCE_EINVAL;
	out->partial = r->element[0]->integer != 0;
	size_t n = r->elements / 2;
	if (n == 0)
		return 0;
	out->d = malloc(n * sizeof(*out->d));
	if (!out->d)
		return PCE_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const redisReply *node = r->element[1 + 2 * i], *depth = r->element[2 + 2 * i];
		if (node->type != REDIS_REPLY_STRING || depth->type != REDIS_REPLY_INTEGER)
			continue;
		out->d[out->n].node = (uint32_t)strtoul(node->str, NULL, 10);
		out->d[out->n].chunks = (uint32_t)depth->integer;
		out->n++;
	}
	return 0;
}

/* Registry value "epoch:deadline": the epoch's text into @epoch (up to the
 * colon) and the deadline; 0 if malformed. */
static int reg_value(const char *s, size_t *epoch_len, unsigned long long *deadline)
{
	const char *colon = strchr(s, ':');
	char *end;

	if (!colon || colon == s)
		return 0;
	*epoch_len = (size_t)(colon - s);
	*deadline = strtoull(colon + 1, &end, 10);
	return *end == '\0';
}

static const redisReply *find_field(const redisReply *h, const char *field)
{
	for (size_t i = 0; i + 1 < h->elements; i += 2)
		if (strcmp(h->element[i]->str, field) == 0)
			return h->element[i + 1];
	return NULL;
}

static int is_hash(const redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2)
		return 0;
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type != REDIS_REPLY_STRING)
			return 0;
	return 1;
}

/* Splits chunk field "node/owner": the node's text (into @node, NUL-ended)
 * and the owner.  0 if malformed. */
static int split_field(const redisReply *f, char *node, size_t room, uint32_t *owner)
{
	const char *slash = memchr(f->str, '/', f->len);
	char *end;

	if (!slash || slash == f->str || (size_t)(slash - f->str) >= room)
		return 0;
	memcpy(node, f->str, (size_t)(slash - f->str));
	node[slash - f->str] = '\0';
	*owner = (uint32_t)strtoul(slash + 1, &end, 10);
	return end != slash + 1 && *end == '\0';
}

static int owner_deeper_first(const void *a, const void *b)
{
	const struct pce__depth *x = a, *y = b;

	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->chunks > y->chunks ? -1 : x->chunks < y->chunks;
}

int pce__lookup_scan(const redisReply *time, const redisReply *reg, redisReply *const *chunks,
		     size_t n, uint32_t budget, struct pce__lookup_answer *out)
{
	const redisReply **field;
	size_t cand, read, kept;

	memset(out, 0, sizeof(*out));
	if (time->type != REDIS_REPLY_ARRAY || time->elements != 2 || !is_hash(reg))
		return PCE_EINVAL;
	unsigned long long now = strtoull(time->element[0]->str, NULL, 10) * 1000 +
				 strtoull(time->element[1]->str, NULL, 10) / 1000;
	/* Candidates: the fields of chunk 1 whose node is live with that
	 * epoch; each keeps running while every chunk has it with the same
	 * value.  out->d[i].node holds the owner; field[i] the field. */
	if (n == 0 || !is_hash(chunks[0]))
		return 0;
	cand = chunks[0]->elements / 2;
	out->d = calloc(cand ? cand : 1, sizeof(*out->d));
	field = calloc(cand ? cand : 1, sizeof(*field));
	if (!out->d || !field) {
		free(out->d);
		free(field);
		out->d = NULL;
		return PCE_ENOMEM;
	}
	for (size_t i = 0; i < cand; i++) {
		const redisReply *f = chunks[0]->element[2 * i], *v = chunks[0]->element[2 * i + 1];
		const redisReply *rv;
		unsigned long long deadline;
		char node[16];
		uint32_t owner;
		size_t el;
		if (!split_field(f, node, sizeof(node), &owner) || !(rv = find_field(reg, node)) ||
		    !reg_value(rv->str, &el, &deadline) || deadline < now || el != v->len ||
		    memcmp(rv->str, v->str, el) != 0)
			continue;
		field[out->n] = f;
		out->d[out->n].node = owner;
		out->d[out->n].chunks = 1;
		out->n++;
	}
	read = cand;
	for (size_t k = 1; k < n; k++) {
		if (read > budget) {
			out->partial = 1;
			break;
		}
		if (!is_hash(chunks[k]))
			break;
		read += chunks[k]->elements / 2;
		int any = 0;
		for (size_t i = 0; i < out->n; i++) {
			if (out->d[i].chunks != k)
				continue;
			const redisReply *v = find_field(chunks[k], field[i]->str);
			const redisReply *first = find_field(chunks[0], field[i]->str);
			/* The epoch checked at chunk 1 is the registry's. */
			if (v && first && v->len == first->len && memcmp(v->str, first->str, v->len) == 0) {
				out->d[i].chunks++;
				any = 1;
			}
		}
		if (!any)
			break;
	}
	free(field);
	/* One depth per owner: the deepest of its publishers. */
	if (out->n > 1)
		qsort(out->d, out->n, sizeof(*out->d), owner_deeper_first);
	kept = 0;
	for (size_t i = 0; i < out->n; i++)
		if (kept == 0 || out->d[kept - 1].node != out->d[i].node)
			out->d[kept++] = out->d[i];
	out->n = kept;
	return 0;
}

static int load_script(struct pce_cluster *t, uint16_t slot)
{
	const char *argv[] = {"SCRIPT", "LOAD", pce__lookup_lua};
	const size_t lens[] = {6, 4, sizeof(pce__lookup_lua) - 1};
	struct pce__cmd cmd = {3, argv, lens};
	redisReply *r;
	int rc = pce__conn_run(&t->conn, slot, &cmd, 1, &r);

	if (rc)
		return rc;
	if (r->type == REDIS_REPLY_STRING && r->len == 40) {
		memcpy(t->sha, r->str, 40);
		t->sha[40] = '\0';
		PCE__ADD(t, script_loads, 1);
	} else {
		rc = PCE_EINVAL; /* scripting refused: this lookup is unavailable */
	}
	freeReplyObject(r);
	return rc;
}

/* EVALSHA sha nkeys registry chunk_1 .. chunk_n budget (argv[2..] filled
 * by the caller).  The SHA1 comes from one SCRIPT LOAD; a NOSCRIPT reply
 * (a flushed or restarted server, or a node reached by MOVED or ASK that
 * never ran the script) is answered by sending the body with EVAL, which
 * also caches it on the node that answered, wherever that is. */
static int lookup_eval(struct pce_cluster *t, struct pce__lreq *q, const char **argv,
		       size_t *lens, uint16_t slot)
{
	struct pce__cmd cmd = {(int)(q->n + 5), argv, lens};
	int rc = t->sha[0] ? 0 : load_script(t, slot);

	if (rc)
		return rc;
	for (int attempt = 0; attempt < 2; attempt++) {
		redisReply *r;

		argv[0] = attempt ? "EVAL" : "EVALSHA";
		lens[0] = strlen(argv[0]);
		argv[1] = attempt ? pce__lookup_lua : t->sha;
		lens[1] = attempt ? sizeof(pce__lookup_lua) - 1 : 40;
		if (attempt)
			PCE__ADD(t, script_loads, 1);
		if ((rc = pce__conn_run(&t->conn, slot, &cmd, 1, &r)) != 0)
			return rc;
		if (!attempt && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
			freeReplyObject(r);
			continue;
		}
		rc = pce__lookup_parse(r, &q->ans);
		freeReplyObject(r);
		return rc;
	}
	return PCE_EINVAL;
}

/* TIME; HGETALL registry; HGETALL chunk_i ...: one pipelined batch. */
static int lookup_batch(struct pce_cluster *t, struct pce__lreq *q, const char **argv,
			size_t *lens, uint16_t slot)
{
	static const char *time_argv[] = {"TIME"};
	static const size_t time_len[] = {4};
	size_t n = q->n + 2;
	struct pce__cmd *cmds = malloc(n * sizeof(*cmds));
	const char **hg = malloc(2 * (q->n + 1) * sizeof(*hg));
	size_t *hl = malloc(2 * (q->n + 1) * sizeof(*hl));
	redisReply **r = calloc(n, sizeof(*r));
	int rc = PCE_ENOMEM;

	if (!cmds || !hg || !hl || !r)
		goto out;
	cmds[0] = (struct pce__cmd){1, time_argv, time_len};
	for (size_t i = 0; i <= q->n; i++) {
		hg[2 * i] = "HGETALL";
		hl[2 * i] = 7;
		hg[2 * i + 1] = argv[3 + i];
		hl[2 * i + 1] = lens[3 + i];
		cmds[1 + i] = (struct pce__cmd){2, &hg[2 * i], &hl[2 * i]};
	}
	if ((rc = pce__conn_run(&t->conn, slot, cmds, n, r)) != 0)
		goto out;
	rc = pce__lookup_scan(r[0], r[1], r + 2, q->n, t->cfg.script_budget, &q->ans);
	for (size_t i = 0; i < n; i++)
		freeReplyObject(r[i]);
out:
	free(cmds);
	free(hg);
	free(hl);
	free(r);
	return rc;
}

int pce__script_lookup(struct pce_cluster *t, struct pce__lreq *q)
{
	size_t argc = q->n + 5;
	char(*keys)[PCE__KEY_MAX] = malloc((q->n + 1) * sizeof(*keys));
	const char **argv = malloc(argc * sizeof(*argv));
	size_t *lens = malloc(argc * sizeof(*lens));
	uint16_t slot = pce__key_ns_slot(t->prefix, q->ns);
	char nkeys[24], budget[24];
	int rc = PCE_ENOMEM;

	if (!keys || !argv || !lens)
		goto out;
	lens[2] = (size_t)snprintf(nkeys, sizeof(nkeys), "%zu", q->n + 1);
	argv[2] = nkeys;
	lens[argc - 1] = (size_t)snprintf(budget, sizeof(budget), "%u", t->cfg.script_budget);
	argv[argc - 1] = budget;
	for (size_t i = 0; i <= q->n; i++) {
		lens[3 + i] = i ? pce__key_chunk(keys[i], t->prefix, q->ns, &q->ids[i - 1])
				: pce__key_registry(keys[0], t->prefix, q->ns);
		argv[3 + i] = keys[i];
	}
	if (t->cfg.flags & PCE_CLUSTER_NO_SCRIPT)
		rc = lookup_batch(t, q, argv, lens, slot);
	else
		rc = lookup_eval(t, q, argv, lens, slot);
out:
	free(keys);
	free(argv);
	free(lens);
	return rc;
}
