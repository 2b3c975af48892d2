/*
 * test_events_sub.c - the subscriber against tests/events/publisher.py
 * (vLLM's wire, real ZMQ sockets on 127.0.0.1): a simulated engine per
 * owner produces the events and, through tests/router_model.h, the
 * holdings the router must end with.
 *
 * Every wait is for a condition, with a generous deadline (a loaded
 * machine is slow, never wrong).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../router_model.h"
#include "pce/events.h"

extern char **environ;

#define BS 2
#define WAIT_MS 60000

/* ---- the publisher process ------------------------------------------------ */

struct pub {
	pid_t pid;
	FILE *in, *out;
	int pub_port, rep_port;
	uint64_t next_seq;
};

static void pub_start(struct pub *p, const char *const *extra)
{
	int to[2], from[2];
	const char *argv[24] = {"/usr/bin/python3", PUBLISHER_PY};
	int n = 2;
	posix_spawn_file_actions_t fa;
	char line[128];

	for (; extra && *extra && n < 22; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(from), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, to[0], 0);
	posix_spawn_file_actions_adddup2(&fa, from[1], 1);
	posix_spawn_file_actions_addclose(&fa, to[1]);
	posix_spawn_file_actions_addclose(&fa, from[0]);
	assert_int_equal(posix_spawn(&p->pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(to[0]);
	close(from[1]);
	p->in = fdopen(to[1], "w");
	p->out = fdopen(from[0], "r");
	assert_non_null(p->in);
	assert_non_null(p->out);
	assert_non_null(fgets(line, sizeof(line), p->out));
	assert_int_equal(sscanf(line, "ports %d %d", &p->pub_port, &p->rep_port), 2);
	p->next_seq = 0;
}

/* Send one command line; wait for its "ok". */
static void pub_cmd(struct pub *p, const char *json)
{
	char line[128];
	unsigned long long seq;

	assert_true(fprintf(p->in, "%s\n", json) > 0);
	assert_int_equal(fflush(p->in), 0);
	assert_non_null(fgets(line, sizeof(line), p->out));
	assert_int_equal(sscanf(line, "ok %llu", &seq), 1);
	p->next_seq = seq;
}

static void pub_stop(struct pub *p)
{
	int st;

	fprintf(p->in, "{\"op\": \"quit\"}\n");
	fclose(p->in);
	fclose(p->out);
	if (waitpid(p->pid, &st, WNOHANG) == 0) {
		/* it exits on quit; a stuck one is stopped by its pid */
		for (int i = 0; i < 5000 && waitpid(p->pid, &st, WNOHANG) == 0; i++)
			usleep(1000);
		if (kill(p->pid, 0) == 0) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
		}
	}
}

static void addr(char *buf, size_t n, int port)
{
	snprintf(buf, n, "tcp://127.0.0.1:%d", port);
}

/* ---- waiting ------------------------------------------------------------- */

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Endpoint @e has applied @seq and settled (not RECOVERING). */
static int settled(struct pce_subscriber *s, size_t e, uint64_t seq)
{
	struct pce_subscriber_endpoint_status st;

	assert_int_equal(pce_subscriber_endpoint_status(s, e, &st), 0);
	return st.has_seq && st.last_seq == seq && st.state != PCE_EV_RECOVERING;
}

static void wait_settled(struct pce_subscriber *s, size_t e, uint64_t seq)
{
	uint64_t end = ms_now() + WAIT_MS;

	while (!settled(s, e, seq)) {
		if (ms_now() > end)
			fail_msg("endpoint %zu never applied seq %llu", e, (unsigned long long)seq);
		usleep(2000);
	}
}

/* Empty batches until the subscriber has one: the PUB connection is up
 * (a PUB drops what it sends before a subscriber joins). */
static void pub_handshake(struct pub *p, struct pce_subscriber *s, size_t e)
{
	uint64_t end = ms_now() + WAIT_MS;
	struct pce_subscriber_endpoint_status st, st0;

	assert_int_equal(pce_subscriber_endpoint_status(s, e, &st0), 0);
	for (;;) {
		pub_cmd(p, "{\"op\": \"batch\", \"events\": []}");
		usleep(5000);
		assert_int_equal(pce_subscriber_endpoint_status(s, e, &st), 0);
		if (st.has_seq && (!st0.has_seq || st.last_seq != st0.last_seq))
			break;
		if (ms_now() > end)
			fail_msg("the subscriber never received a batch");
	}
	wait_settled(s, e, p->next_seq - 1);
}

/* ---- a simulated engine per owner ------------------------------------------ */

struct eblk {
	uint64_t h, ns;
	int parent, live;
	uint32_t len;
	uint32_t tok[RM_MAXLEN];
};

struct engine {
	uint32_t owner;
	int old; /* v0.9 encoding: no lora_name, no extra_keys */
	struct eblk b[256];
	int n;
};

static struct rm_model model;

static uint64_t mix(uint64_t h)
{
	h ^= h >> 31;
	h *= 0x9e3779b97f4a7c15ull;
	return (h ^ h >> 29) & ((1ull << 62) - 1);
}

struct json {
	char s[1 << 16];
	size_t n;
};

static void js(struct json *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	j->n += (size_t)vsnprintf(j->s + j->n, sizeof(j->s) - j->n, fmt, ap);
	va_end(ap);
	assert_true(j->n < sizeof(j->s));
}

/* The msgpack bytes of extra_keys entry ["img"]: what the namespace hashes. */
static const uint8_t img_entry[] = {0x91, 0xa3, 'i', 'm', 'g'};

/* A BlockStored of 1..3 new blocks under a random live block (or a root). */
static void gen_store(struct engine *g, struct json *j)
{
	int parent = -1, k = 1 + rand() % 3;
	uint64_t ph = 0, ns = 0;
	uint32_t depth = 0;
	int lora = rand() % 5 == 0, extra_at = rand() % 6 == 0 ? rand() % k : -1;
	int prev, idx[3], nb = 0;

	if (g->n && rand() % 4) {
		int c = rand() % g->n;

		if (g->b[c].live && g->b[c].len + BS <= RM_MAXLEN) {
			parent = c;
			ph = g->b[c].h;
			ns = g->b[c].ns;
			depth = g->b[c].len;
		}
	}
	if (g->old)
		lora = 0, extra_at = -1;
	if (parent < 0 && lora)
		ns = pce_ev_ns_lora(0, "a", 1);
	if ((uint32_t)k > (RM_MAXLEN - depth) / BS)
		k = (int)((RM_MAXLEN - depth) / BS);
	if (k <= 0 || g->n + k > 256)
		return;
	js(j, "%s{\"t\": \"S\", \"p\": ", j->s[j->n - 1] == '[' ? "" : ", ");
	if (parent < 0)
		js(j, "null");
	else
		js(j, "%llu", (unsigned long long)ph);
	js(j, ", \"bs\": %d, \"medium\": \"GPU\", \"lora\": %s, \"h\": [", BS,
	   parent < 0 && lora ? "\"a\"" : "null");
	prev = parent;
	for (int i = 0; i < k; i++) {
		struct eblk *b = &g->b[g->n];
		const struct eblk *pb = prev >= 0 ? &g->b[prev] : NULL;

		b->len = (pb ? pb->len : 0) + BS;
		if (pb)
			memcpy(b->tok, pb->tok, pb->len * sizeof(uint32_t));
		b->tok[b->len - 2] = 1 + (uint32_t)(rand() % 3);
		b->tok[b->len - 1] = 1 + (uint32_t)(rand() % 3);
		b->parent = prev;
		b->ns = pb ? pb->ns : ns;
		if (i == extra_at)
			b->ns = pce_ev_ns_extra(b->ns, img_entry, sizeof(img_entry));
		b->h = mix((pb ? pb->h : 0) * 31 + b->tok[b->len - 2] * 7 + b->tok[b->len - 1] +
			   (b->ns == pce_ev_ns_lora(0, "a", 1)) * 1000 + (i == extra_at) * 77);
		b->live = 1;
		js(j, "%s%llu", i ? ", " : "", (unsigned long long)b->h);
		idx[nb++] = g->n;
		prev = g->n;
		/* same hash, same block: an engine re-storing a live block */
		for (int x = 0; x < g->n; x++)
			if (g->b[x].live && g->b[x].h == b->h) {
				prev = x;
				idx[nb - 1] = -1;
				memcpy(b, &g->b[x], sizeof(*b)); /* for the token list below */
				b->live = 0;
				break;
			}
		if (idx[nb - 1] < 0) {
			/* keep the tokens for the list, then forget the slot */
			idx[nb - 1] = -(g->n + 2);
		}
		g->n++;
	}
	js(j, "], \"tok\": [");
	for (int i = 0; i < nb; i++) {
		const struct eblk *b = &g->b[idx[i] >= 0 ? idx[i] : -idx[i] - 2];

		js(j, "%s%u, %u", i ? ", " : "", b->tok[b->len - 2], b->tok[b->len - 1]);
	}
	js(j, "], \"extra\": ");
	if (extra_at < 0) {
		js(j, "null}");
	} else {
		js(j, "[");
		for (int i = 0; i < k; i++)
			js(j, "%s%s", i ? ", " : "", i == extra_at ? "[\"img\"]" : "null");
		js(j, "]}");
	}
	for (int i = 0; i < nb; i++)
		if (idx[i] >= 0)
			assert_int_equal(rm_add(&model, g->owner, g->b[idx[i]].ns,
						g->b[idx[i]].tok, g->b[idx[i]].len, PCE_TIER_GPU,
						PCE_NEVER, 0),
					 0);
}

/* Is @d below @a? */
static int below(const struct engine *g, int d, int a)
{
	for (; d >= 0; d = g->b[d].parent)
		if (d == a)
			return 1;
	return 0;
}

static int ns_held(const struct engine *g, uint64_t ns)
{
	for (int i = 0; i < g->n; i++)
		if (g->b[i].live && g->b[i].ns == ns)
			return 1;
	return 0;
}

/* A BlockRemoved: usually the deepest blocks first, as an engine evicts;
 * sometimes a block with live children (they leave with it). */
static void gen_remove(struct engine *g, struct json *j)
{
	int c = g->n ? rand() % g->n : -1;
	int cascade = rand() % 4 == 0;
	int starts[256], ns_n = 0;

	if (c < 0 || !g->b[c].live)
		return;
	js(j, "%s{\"t\": \"R\", \"medium\": \"GPU\", \"h\": [", j->s[j->n - 1] == '[' ? "" : ", ");
	if (cascade) {
		js(j, "%llu", (unsigned long long)g->b[c].h);
	} else {
		int first = 1;

		for (int i = g->n - 1; i >= 0; i--)
			if (g->b[i].live && below(g, i, c)) {
				js(j, "%s%llu", first ? "" : ", ", (unsigned long long)g->b[i].h);
				first = 0;
			}
	}
	js(j, "]}");
	/* the model: each run start below c, then c's own path */
	for (int i = 0; i < g->n; i++)
		if (g->b[i].live && below(g, i, c) &&
		    (i == c || g->b[g->b[i].parent].ns != g->b[i].ns))
			rm_remove(&model, g->owner, g->b[i].ns, g->b[i].tok, g->b[i].len);
	for (int i = 0; i < g->n; i++)
		if (g->b[i].live && below(g, i, c) && g->b[i].parent >= 0 &&
		    g->b[g->b[i].parent].ns != g->b[i].ns)
			starts[ns_n++] = i;
	for (int i = 0; i < g->n; i++)
		if (below(g, i, c))
			g->b[i].live = 0;
	/* a namespace run gone: its copies of the ancestors go when nothing is left in it */
	for (int k = 0; k < ns_n; k++) {
		const struct eblk *b = &g->b[starts[k]];

		if (!ns_held(g, b->ns))
			rm_remove(&model, g->owner, b->ns, b->tok, BS);
	}
}

static void gen_clear(struct engine *g, struct json *j)
{
	js(j, "%s{\"t\": \"C\"}", j->s[j->n - 1] == '[' ? "" : ", ");
	for (int i = 0; i < g->n; i++)
		g->b[i].live = 0;
	g->n = 0;
	rm_drop(&model, 1, g->owner, 0, 0);
}

/* One random batch of 1..4 events; returns the JSON command. */
static const char *gen_batch(struct engine *g, int drop, int allow_clear)
{
	static struct json j;
	int k = 1 + rand() % 4;

	j.n = 0;
	js(&j, "{\"op\": \"batch\", \"drop\": %s, \"events\": [", drop ? "true" : "false");
	for (int i = 0; i < k; i++) {
		int op = rand() % 100;

		if (g->n >= 200 || (allow_clear && op < 2))
			gen_clear(g, &j);
		else if (op < 65)
			gen_store(g, &j);
		else
			gen_remove(g, &j);
	}
	js(&j, "]}");
	return j.s;
}

/* ---- checking the router against the model --------------------------------- */

static const double weights[PCE_TIERS] = {1, 2, 3, 4, 5, 6, 7, 8};

static void check_router(struct pce_router *r, const struct engine *g, int n_eng)
{
	struct pce_router_stats st;

	/* every held path, every path an engine ever had, and random ones */
	for (int e = 0; e < n_eng; e++)
		for (int i = 0; i < g[e].n; i++) {
			const struct eblk *b = &g[e].b[i];
			uint64_t nss[2] = {b->ns, 0};

			for (int k = 0; k < 2; k++) {
				struct pce_overlap out[RM_OWNERS + 1];
				size_t n;
				const char *why;

				assert_int_equal(pce_router_match(r, nss[k], b->tok, b->len,
								  PCE_ROUTER_MATCH_PEEK, out,
								  RM_OWNERS + 1, &n, NULL),
						 0);
				why = rm_check(&model, nss[k], b->tok, b->len, 0, weights, out, n,
					       RM_OWNERS + 1);
				if (why) {
					size_t best[RM_OWNERS];
					uint32_t tier[RM_OWNERS];

					rm_match(&model, nss[k], b->tok, b->len, 0, best, tier);
					for (size_t x = 0; x < n; x++)
						print_message("router: owner %u tokens %zu\n",
							      out[x].owner, out[x].tokens);
					for (int x = 0; x < RM_OWNERS; x++)
						if (best[x])
							print_message("model: owner %d tokens %zu\n", x,
								      best[x]);
					fail_msg("engine %d block %d (len %u, ns %d): %s", e, i,
						 b->len, k, why);
				}
			}
		}
	assert_int_equal(pce_router_stats_get(r, &st), 0);
	assert_int_equal(st.holdings, model.n);
}

static struct pce_router *new_router(void)
{
	struct pce_router_config cfg;
	struct pce_router *r;

	pce_router_config_init(&cfg);
	cfg.block_size = BS;
	cfg.shards = 2;
	cfg.background_reclaim = 0;
	memcpy(cfg.tier_weight, weights, sizeof(weights));
	assert_int_equal(pce_router_create(&cfg, &r), 0);
	return r;
}

static uint32_t cfg_max_buffered, cfg_timeout_ms; /* 0: the defaults */
static pce_subscriber_observe_fn cfg_observe;      /* NULL: none */
static void *cfg_observe_ctx;

static struct pce_subscriber *new_sub(struct pce_router *r, struct pub *p, int n,
				      const void *blob, size_t blob_len)
{
	static char pubs[8][64], reps[8][64];
	struct pce_subscriber_endpoint ep[8];
	struct pce_subscriber_config cfg;
	struct pce_subscriber *s;

	memset(ep, 0, sizeof(ep));
	for (int i = 0; i < n; i++) {
		addr(pubs[i], sizeof(pubs[i]), p[i].pub_port);
		addr(reps[i], sizeof(reps[i]), p[i].rep_port);
		ep[i].pub_addr = pubs[i];
		ep[i].replay_addr = p[i].rep_port ? reps[i] : NULL;
		ep[i].topic = "kv";
		ep[i].owner = (uint32_t)i;
		if (blob) {
			ep[i].resume = pce_subscriber_blob_seq(blob, blob_len, (size_t)i,
							&ep[i].resume_seq) == 0;
		}
	}
	pce_subscriber_config_init(&cfg);
	cfg.router = r;
	cfg.block_size = BS;
	cfg.endpoints = ep;
	cfg.n_endpoints = (size_t)n;
	cfg.import_blob = blob;
	cfg.import_len = blob_len;
	if (cfg_max_buffered)
		cfg.max_buffered = cfg_max_buffered;
	if (cfg_timeout_ms)
		cfg.replay_timeout_ms = cfg_timeout_ms;
	cfg.observe = cfg_observe;
	cfg.observe_ctx = cfg_observe_ctx;
	assert_int_equal(pce_subscriber_create(&cfg, &s), 0);
	return s;
}

/* One publisher (@extra: its arguments) and a subscriber of it into @r,
 * handshaken: the subscriber receives what is published next. */
static struct pce_subscriber *start_one(struct pce_router *r, struct pub *p,
					const char *const *extra)
{
	struct pce_subscriber *s;

	pub_start(p, extra);
	s = new_sub(r, p, 1, NULL, 0);
	pub_handshake(p, s, 0);
	return s;
}

#define owner_is(s, owner, state) owner_is_(s, owner, state, __LINE__)

static void owner_is_(struct pce_subscriber *s, uint32_t owner, int state, int line)
{
	struct pce_subscriber_owner_status st;

	assert_int_equal(pce_subscriber_owner_status(s, owner, &st), 0);
	if (st.state != state)
		fail_msg("line %d: owner %u is %s, expected %s (dropped: malformed %llu, tag %llu, "
			 "parent %llu, hash %llu, router %llu; gaps %llu, failed %llu)",
			 line, owner, pce_ev_state_name(st.state), pce_ev_state_name(state),
			 (unsigned long long)st.c.dropped[0], (unsigned long long)st.c.dropped[1],
			 (unsigned long long)st.c.dropped[2], (unsigned long long)st.c.dropped[3],
			 (unsigned long long)st.c.dropped[4], (unsigned long long)st.c.gaps,
			 (unsigned long long)st.c.recoveries_failed);
}

static struct engine eng[3];

static void reset(void)
{
	memset(&model, 0, sizeof(model));
	model.bs = BS;
	memset(eng, 0, sizeof(eng));
	for (uint32_t i = 0; i < 3; i++)
		eng[i].owner = i;
	eng[2].old = 1;
}

/* @n batches of engine 0, none lost and no AllBlocksCleared, applied by @s. */
static void feed(struct pub *p, struct pce_subscriber *s, int n)
{
	for (int i = 0; i < n; i++)
		pub_cmd(p, gen_batch(&eng[0], 0, 0));
	wait_settled(s, 0, p->next_seq - 1);
}

/* ---- tests ------------------------------------------------------------------ */

/* Three engines in three encodings: the router ends equal to the model. */
static void test_scripted(void **state)
{
	const char *a0[] = {"--batch", "array", "--events", "map", "--hash", "int", NULL};
	const char *a1[] = {"--batch", "map", "--events", "array", "--hash", "bytes",
			    "--replay-topic", "0", NULL};
	const char *a2[] = {"--events", "old", "--hash", "signed", NULL};
	struct pub p[3];
	struct pce_router *r = new_router();
	struct pce_subscriber *s;
	struct pce_subscriber_stats st;

	(void)state;
	srand(11);
	reset();
	pub_start(&p[0], a0);
	pub_start(&p[1], a1);
	pub_start(&p[2], a2);
	s = new_sub(r, p, 3, NULL, 0);
	for (int e = 0; e < 3; e++)
		pub_handshake(&p[e], s, (size_t)e);
	for (int i = 0; i < 150; i++)
		for (int e = 0; e < 3; e++)
			pub_cmd(&p[e], gen_batch(&eng[e], 0, 1));
	for (int e = 0; e < 3; e++) {
		wait_settled(s, (size_t)e, p[e].next_seq - 1);
		owner_is(s, (uint32_t)e, PCE_EV_EXACT);
	}
	check_router(r, eng, 3);
	assert_int_equal(pce_subscriber_stats_get(s, &st), 0);
	assert_int_equal(st.c.dropped[PCE_SUBSCRIBER_DROP_MALFORMED], 0);
	assert_int_equal(st.c.dropped[PCE_SUBSCRIBER_DROP_UNKNOWN_PARENT], 0);
	assert_int_equal(st.c.recoveries_failed, 0);
	assert_true(st.c.blocks_stored > 100);
	assert_true(st.c.blocks_removed > 10);
	pce_subscriber_destroy(s);
	for (int e = 0; e < 3; e++)
		pub_stop(&p[e]);
	pce_router_destroy(r);
}

/* Lost messages come back through the replay socket: still EXACT. */
static void test_dropped_recovered(void **state)
{
	struct pub p;
	struct pce_router *r = new_router();
	struct pce_subscriber *s;
	struct pce_subscriber_endpoint_status st;

	(void)state;
	srand(12);
	reset();
	s = start_one(r, &p, NULL);
	for (int i = 0; i < 200; i++)
		pub_cmd(&p, gen_batch(&eng[0], rand() % 10 == 0, 1));
	pub_cmd(&p, gen_batch(&eng[0], 0, 0)); /* the last one arrives */
	wait_settled(s, 0, p.next_seq - 1);
	owner_is(s, 0, PCE_EV_EXACT);
	assert_int_equal(pce_subscriber_endpoint_status(s, 0, &st), 0);
	assert_true(st.c.gaps >= 1);
	assert_true(st.c.replayed >= 1);
	assert_int_equal(st.c.recoveries_failed, 0);
	check_router(r, eng, 1);
	pce_subscriber_destroy(s);
	pub_stop(&p);
	pce_router_destroy(r);
}

/* An engine restart (sequence back to 0) clears the owner first; a new
 * life whose first batches were lost is recovered from 0. */
static void test_restart(void **state)
{
	struct pub p;
	struct pce_router *r = new_router();
	struct pce_subscriber *s;
	struct pce_subscriber_endpoint_status st;

	(void)state;
	srand(13);
	reset();
	s = start_one(r, &p, NULL);
	for (int round = 0; round < 2; round++) {
		feed(&p, s, 60);
		check_router(r, eng, 1);
		/* the engine restarts empty */
		pub_cmd(&p, "{\"op\": \"restart\"}");
		memset(&eng[0], 0, sizeof(eng[0]));
		rm_drop(&model, 1, 0, 0, 0);
		/* round 1: its first two batches are lost */
		for (int i = 0; i < 30; i++)
			pub_cmd(&p, gen_batch(&eng[0], round == 1 && i < 2, 0));
		wait_settled(s, 0, p.next_seq - 1);
		owner_is(s, 0, PCE_EV_EXACT);
		check_router(r, eng, 1);
	}
	assert_int_equal(pce_subscriber_endpoint_status(s, 0, &st), 0);
	assert_int_equal(st.c.restarts, 2);
	assert_int_equal(st.c.recoveries_failed, 0);
	pce_subscriber_destroy(s);
	pub_stop(&p);
	pce_router_destroy(r);
}

/* A replay window too short: the owner is cleared and DEGRADED until an
 * AllBlocksCleared; it is never reported EXACT meanwhile. */
static void test_window_too_short(void **state)
{
	struct pub p;
	struct pce_router *r = new_router();
	struct pce_subscriber *s;
	struct pce_subscriber_endpoint_status st;
	struct pce_router_stats rs;

	(void)state;
	srand(14);
	reset();
	s = start_one(r, &p, NULL);
	feed(&p, s, 40);
	owner_is(s, 0, PCE_EV_EXACT);
	/* five lost, and the engine's buffer keeps only the last two */
	for (int i = 0; i < 5; i++)
		pub_cmd(&p, gen_batch(&eng[0], 1, 0));
	pub_cmd(&p, "{\"op\": \"trim\", \"keep\": 2}");
	pub_cmd(&p, gen_batch(&eng[0], 0, 0));
	wait_settled(s, 0, p.next_seq - 1);
	owner_is(s, 0, PCE_EV_DEGRADED);
	assert_int_equal(pce_subscriber_endpoint_status(s, 0, &st), 0);
	assert_int_equal(st.state, PCE_EV_DEGRADED);
	assert_int_equal(st.c.recoveries_failed, 1);
	/* cleared, then only what the window still had: less than the engine */
	assert_int_equal(pce_router_stats_get(r, &rs), 0);
	assert_true(rs.holdings < model.n);
	/* more events do not make it EXACT */
	feed(&p, s, 10);
	owner_is(s, 0, PCE_EV_DEGRADED);
	/* an AllBlocksCleared does */
	{
		struct json j = {.n = 0};

		js(&j, "{\"op\": \"batch\", \"events\": [");
		gen_clear(&eng[0], &j);
		js(&j, "]}");
		pub_cmd(&p, j.s);
	}
	feed(&p, s, 20);
	owner_is(s, 0, PCE_EV_EXACT);
	check_router(r, eng, 1);
	pce_subscriber_destroy(s);
	pub_stop(&p);
	pce_router_destroy(r);
}

/* A replay that never answers: it times out, or the live batches overflow
 * the buffer first; either way the owner is cleared and DEGRADED, and
 * every batch after the hole is applied. */
static void test_replay_silent(void **state)
{
	const char *a[] = {"--replay-silent", NULL};
	struct pub p;
	struct pce_router *r = new_router();
	struct pce_subscriber *s;
	struct pce_subscriber_endpoint_status st;
	struct pce_subscriber_owner_status os;

	(void)state;
	for (int overflow = 0; overflow < 2; overflow++) {
		srand(18);
		reset();
		cfg_max_buffered = overflow ? 3 : 0;
		cfg_timeout_ms = overflow ? 600000 : 300;
		pub_start(&p, a);
		s = new_sub(r, &p, 1, NULL, 0);
		/* a first batch at seq 0 settles without a replay */
		pub_cmd(&p, "{\"op\": \"batch\", \"events\": []}");
		pub_handshake(&p, s, 0);
		pub_cmd(&p, gen_batch(&eng[0], 1, 0)); /* lost */
		/* after the hole: a store of a new root block */
		pub_cmd(&p, "{\"op\": \"batch\", \"events\": [{\"t\": \"S\", \"h\": [9], "
			    "\"p\": null, \"tok\": [7, 7], \"bs\": 2}]}");
		for (int i = 0; i < (overflow ? 4 : 0); i++)
			pub_cmd(&p, "{\"op\": \"batch\", \"events\": []}");
		wait_settled(s, 0, p.next_seq - 1);
		assert_int_equal(pce_subscriber_endpoint_status(s, 0, &st), 0);
		assert_int_equal(st.state, PCE_EV_DEGRADED);
		/* 2 when the subscriber joined after seq 0 and the replay of
		 * [0, first) failed as well */
		assert_in_range(st.c.recoveries_failed, 1, 2);
		assert_int_equal(pce_subscriber_owner_status(s, 0, &os), 0);
		assert_int_equal(os.blocks, 1); /* the block stored after the hole */
		pce_subscriber_destroy(s);
		pub_stop(&p);
		pce_router_clear_owner(r, 0, NULL);
	}
	cfg_max_buffered = 0;
	cfg_timeout_ms = 0;
	pce_router_destroy(r);
}

/* No replay socket: a gap is a loss at once. */
static void test_no_replay(void **state)
{
	struct pub p;
	struct pce_router *r = new_router();
	struct pce_subscriber *s;

	(void)state;
	srand(15);
	reset();
	pub_start(&p, NULL);
	p.rep_port = 0;
	s = new_sub(r, &p, 1, NULL, 0);
	pub_cmd(&p, "{\"op\": \"batch\", \"events\": []}");
	/* the first batch seen is not seq 0 (or it is, if the PUB was quick):
	 * either way, after a dropped batch the owner is DEGRADED */
	pub_handshake(&p, s, 0);
	pub_cmd(&p, gen_batch(&eng[0], 1, 0));
	pub_cmd(&p, gen_batch(&eng[0], 0, 0));
	wait_settled(s, 0, p.next_seq - 1);
	owner_is(s, 0, PCE_EV_DEGRADED);
	pce_subscriber_destroy(s);
	pub_stop(&p);
	pce_router_destroy(r);
}

/* Malformed input of every kind is counted and skipped; nothing else is lost. */
static void test_malformed(void **state)
{
	static const char *bad[] = {
		"{\"op\": \"raw\", \"frames\": [\"6b76\"]}",                         /* 1 frame */
		"{\"op\": \"raw\", \"frames\": [\"6b76\", \"00\", \"90\"]}",         /* 1-byte seq */
		"{\"op\": \"raw\", \"frames\": [\"6b76\", \"0000000000000000\", \"90\", \"90\", \"90\"]}",
	};
	static const char *bad_payloads[] = {
		"c1",                               /* not msgpack */
		"92cb0000000000000000ddffffffff",   /* claims 2^32 - 1 events */
		"93cb00000000000000009194ab426c6f636b53746f72656490c0dd7fffffff", /* huge tokens */
		"93cb0000000000000000",             /* truncated */
		"2a",                               /* not a batch */
	};
	struct pub p;
	struct pce_router *r = new_router();
	struct pce_subscriber *s;
	struct pce_subscriber_endpoint_status st;
	char cmd[256];

	(void)state;
	srand(16);
	reset();
	s = start_one(r, &p, NULL);
	for (int i = 0; i < 20; i++) {
		pub_cmd(&p, gen_batch(&eng[0], 0, 0));
		if (i < 3)
			pub_cmd(&p, bad[i]);
		if (i < 5) {
			snprintf(cmd, sizeof(cmd), "{\"op\": \"rawbatch\", \"payload\": \"%s\"}",
				 bad_payloads[i]);
			pub_cmd(&p, cmd);
		}
		/* an event type no release has: skipped, counted, harmless */
		pub_cmd(&p, "{\"op\": \"batch\", \"events\": [{\"t\": \"X\"}]}");
	}
	wait_settled(s, 0, p.next_seq - 1);
	assert_int_equal(pce_subscriber_endpoint_status(s, 0, &st), 0);
	assert_int_equal(st.c.dropped[PCE_SUBSCRIBER_DROP_MALFORMED], 3 + 5);
	assert_int_equal(st.c.dropped[PCE_SUBSCRIBER_DROP_UNKNOWN_TAG], 20);
	/* what the lost batches said is unknown */
	owner_is(s, 0, PCE_EV_DEGRADED);
	/* every good batch was applied */
	check_router(r, eng, 1);
	pce_subscriber_destroy(s);
	pub_stop(&p);
	pce_router_destroy(r);
}

/* Owner by data-parallel rank; an unknown medium takes the configured tier. */
static void test_rank_owner(void **state)
{
	const char *a[] = {"--rank", "3", NULL};
	struct pub p;
	struct pce_router *r = new_router();
	struct pce_subscriber_endpoint ep = {0};
	struct pce_subscriber_config cfg;
	struct pce_subscriber *s;
	struct pce_subscriber_owner_status os;
	struct pce_overlap out[2];
	char pa[64], ra[64];
	uint32_t q[2] = {5, 6};
	size_t n;

	(void)state;
	pub_start(&p, a);
	addr(pa, sizeof(pa), p.pub_port);
	addr(ra, sizeof(ra), p.rep_port);
	ep.pub_addr = pa;
	ep.replay_addr = ra;
	ep.owner = 2;
	ep.owner_by_rank = 1;
	pce_subscriber_config_init(&cfg);
	cfg.router = r;
	cfg.block_size = BS;
	cfg.endpoints = &ep;
	cfg.n_endpoints = 1;
	cfg.unknown_medium_tier = 6;
	assert_int_equal(pce_subscriber_create(&cfg, &s), 0);
	pub_handshake(&p, s, 0);
	pub_cmd(&p, "{\"op\": \"batch\", \"events\": [{\"t\": \"S\", \"h\": [1], \"p\": null, "
		    "\"tok\": [5, 6], \"bs\": 2, \"medium\": \"NVME\"}]}");
	wait_settled(s, 0, p.next_seq - 1);
	assert_int_equal(pce_subscriber_owner_status(s, 5, &os), 0);
	assert_int_equal(os.state, PCE_EV_EXACT);
	assert_int_equal(os.blocks, 1);
	assert_int_equal(os.c.unknown_medium, 1);
	assert_int_equal(pce_router_match(r, 0, q, 2, 0, out, 2, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].owner, 5);
	assert_int_equal(out[0].tier, 6);
	assert_int_equal(pce_subscriber_owner_status(s, 2, &os), PCE_ENOENT);
	pce_subscriber_destroy(s);
	pub_stop(&p);
	pce_router_destroy(r);
}

/* A new subscriber from an export resumes at last + 1: what it missed
 * while down comes from the replay, nothing twice. */
static void test_resume(void **state)
{
	struct pub p;
	struct pce_router *r = new_router();
	struct pce_subscriber *s;
	struct pce_subscriber_endpoint_status st;
	struct pce_subscriber_owner_status os;
	struct pce_subscriber_blob_endpoint be;
	void *blob;
	size_t len;
	uint64_t seq;

	(void)state;
	srand(17);
	reset();
	s = start_one(r, &p, NULL);
	feed(&p, s, 50);
	assert_int_equal(pce_subscriber_owner_status(s, 0, &os), 0);
	assert_int_equal(pce_subscriber_export(s, &blob, &len), 0);
	pce_subscriber_destroy(s);
	assert_int_equal(pce_subscriber_blob_seq(blob, len, 0, &seq), 0);
	assert_int_equal(seq, p.next_seq - 1);
	assert_int_equal(pce_subscriber_blob_seq(blob, len, 1, &seq), PCE_ENOENT);
	assert_int_equal(pce_subscriber_blob_endpoint(blob, len, 0, &be), 0);
	assert_true(be.has_seq);
	assert_int_equal(be.last_seq, p.next_seq - 1);
	assert_int_equal(be.owners, 1);
	assert_int_equal(be.blocks, os.blocks);
	assert_int_equal(pce_subscriber_blob_endpoint(blob, len, 1, &be), PCE_ENOENT);
	assert_int_equal(pce_subscriber_blob_endpoint(blob, len - 1, 0, &be), PCE_EINVAL);
	/* a flipped bit is refused */
	((uint8_t *)blob)[len / 2] ^= 1;
	assert_int_equal(pce_subscriber_blob_endpoint(blob, len, 0, &be), PCE_EINVAL);
	{
		struct pce_subscriber_endpoint ep = {.pub_addr = "tcp://127.0.0.1:1"};
		struct pce_subscriber_config cfg;
		struct pce_subscriber *x;

		pce_subscriber_config_init(&cfg);
		cfg.router = r;
		cfg.block_size = BS;
		cfg.endpoints = &ep;
		cfg.n_endpoints = 1;
		cfg.import_blob = blob;
		cfg.import_len = len;
		assert_int_equal(pce_subscriber_create(&cfg, &x), PCE_EINVAL);
	}
	((uint8_t *)blob)[len / 2] ^= 1;
	/* while nobody listens */
	for (int i = 0; i < 30; i++)
		pub_cmd(&p, gen_batch(&eng[0], 0, 0));
	s = new_sub(r, &p, 1, blob, len);
	free(blob);
	/* not EXACT before the engine is heard from again */
	owner_is(s, 0, PCE_EV_RECOVERING);
	pub_handshake(&p, s, 0);
	feed(&p, s, 30);
	owner_is(s, 0, PCE_EV_EXACT);
	assert_int_equal(pce_subscriber_endpoint_status(s, 0, &st), 0);
	assert_int_equal(st.c.recoveries_failed, 0);
	assert_int_equal(st.c.dropped[PCE_SUBSCRIBER_DROP_UNKNOWN_PARENT], 0);
	assert_int_equal(st.c.dropped[PCE_SUBSCRIBER_DROP_UNKNOWN_HASH], 0);
	check_router(r, eng, 1);
	pce_subscriber_destroy(s);
	pub_stop(&p);
	pce_router_destroy(r);
}

/* What the observer saw: each call, and the owner's holding of the path
 * in the router at that moment. */
struct seen {
	struct pce_router *r;
	int n;
	struct pce_subscriber_stored ev[8];
	uint32_t tok[8][8];
	size_t held[8];
};

static void observe(void *ctx, const struct pce_subscriber_stored *ev)
{
	struct seen *x = ctx;
	struct pce_overlap out[2];
	size_t n;

	if (x->n == 8 || ev->len > 8)
		return;
	x->ev[x->n] = *ev;
	memcpy(x->tok[x->n], ev->tokens, ev->len * sizeof(uint32_t));
	x->held[x->n] = 0;
	if (pce_router_match(x->r, ev->ns, ev->tokens, ev->len, PCE_ROUTER_MATCH_PEEK, out, 2,
			     &n, NULL) == 0 && n)
		x->held[x->n] = out[0].tokens;
	x->n++;
}

/* The observer sees each applied BlockStored before and after it changes
 * the router: the parent's path, then the event's blocks. */
static void test_observer(void **state)
{
	static const uint32_t want[] = {1, 2, 3, 4, 5, 6, 7, 8};
	static const struct { int applied; size_t len, first, held; uint32_t tier; } calls[] = {
		{0, 4, 0, 0, PCE_TIER_GPU}, {1, 4, 0, 4, PCE_TIER_GPU},
		{0, 6, 4, 4, PCE_TIER_GPU}, {1, 6, 4, 6, PCE_TIER_GPU},
		{0, 8, 6, 6, PCE_TIER_CPU}, {1, 8, 6, 8, PCE_TIER_CPU}};
	static struct seen x;
	struct pub p;
	struct pce_subscriber *s;

	(void)state;
	memset(&x, 0, sizeof(x));
	x.r = new_router();
	pub_start(&p, NULL);
	cfg_observe = observe;
	cfg_observe_ctx = &x;
	s = new_sub(x.r, &p, 1, NULL, 0);
	cfg_observe = NULL;
	cfg_observe_ctx = NULL;
	pub_handshake(&p, s, 0);
	pub_cmd(&p, "{\"op\": \"batch\", \"events\": [{\"t\": \"S\", \"h\": [1, 2], \"p\": null, "
		    "\"tok\": [1, 2, 3, 4], \"bs\": 2}]}");
	/* an unknown parent is not applied, so not observed */
	pub_cmd(&p, "{\"op\": \"batch\", \"events\": [{\"t\": \"S\", \"h\": [3], \"p\": 2, "
		    "\"tok\": [5, 6], \"bs\": 2}, {\"t\": \"S\", \"h\": [9], \"p\": 77, "
		    "\"tok\": [9, 9], \"bs\": 2}, {\"t\": \"S\", \"h\": [4], \"p\": 3, "
		    "\"tok\": [7, 8], \"bs\": 2, \"medium\": \"CPU\"}]}");
	wait_settled(s, 0, p.next_seq - 1);
	/* wait_settled() took the subscriber's lock after the last call */
	assert_int_equal(x.n, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(x.ev[i].applied, calls[i].applied);
		assert_int_equal(x.ev[i].owner, 0);
		assert_int_equal(x.ev[i].ns, 0);
		assert_int_equal(x.ev[i].len, calls[i].len);
		assert_int_equal(x.ev[i].first, calls[i].first);
		assert_int_equal(x.ev[i].tier, calls[i].tier);
		assert_memory_equal(x.tok[i], want, calls[i].len * sizeof(uint32_t));
		assert_int_equal(x.held[i], calls[i].held);
	}
	pce_subscriber_destroy(s);
	pub_stop(&p);
	pce_router_destroy(x.r);
}

static void test_bad_config(void **state)
{
	struct pce_router *r = new_router();
	struct pce_subscriber_endpoint ep[2] = {{.pub_addr = "tcp://127.0.0.1:1"},
					 {.pub_addr = "tcp://127.0.0.1:2"}};
	struct pce_subscriber_config cfg;
	struct pce_subscriber *s;

	(void)state;
	pce_subscriber_config_init(&cfg);
	assert_int_equal(pce_subscriber_create(&cfg, &s), PCE_EINVAL); /* no router */
	cfg.router = r;
	cfg.block_size = BS;
	cfg.endpoints = ep;
	cfg.n_endpoints = 2;
	assert_int_equal(pce_subscriber_create(&cfg, &s), PCE_EINVAL); /* owner 0 twice */
	ep[1].owner = 1;
	ep[1].pub_addr = "nonsense://x";
	assert_int_equal(pce_subscriber_create(&cfg, &s), PCE_EZMQ);
	ep[1].pub_addr = "tcp://127.0.0.1:2";
	assert_int_equal(pce_subscriber_create(&cfg, &s), 0);
	assert_int_equal(pce_subscriber_endpoint_status(s, 2, &(struct pce_subscriber_endpoint_status){0}),
			 PCE_ENOENT);
	pce_subscriber_destroy(s);
	pce_subscriber_destroy(NULL);
	pce_router_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_config),     cmocka_unit_test(test_scripted),
		cmocka_unit_test(test_dropped_recovered), cmocka_unit_test(test_restart),
		cmocka_unit_test(test_window_too_short), cmocka_unit_test(test_replay_silent),
		cmocka_unit_test(test_no_replay),
		cmocka_unit_test(test_malformed),      cmocka_unit_test(test_rank_owner),
		cmocka_unit_test(test_resume),         cmocka_unit_test(test_observer),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
