/*
 * tier.c - the cluster tier's API (pce/cluster.h): configuration, life
 * cycle, the cache's event seam, the tiered lookup, sync and statistics.
 *
 * Callers and the worker (worker.c) meet only under tier->mu:
 *   field                    written by                 read by
 *   wq, wq_len, enqueued     on_event (mu)              worker (mu)
 *   processed, ready         worker (mu)                sync (mu)
 *   lq, lreq.state/rc/ans    lookup (mu), worker (mu)   both (mu)
 *   cache, router            attach (atomic release)    lookup, match (acquire)
 *   st.*                     anyone, relaxed atomics    stats_get
 * Everything else in struct pce_cluster is the worker's, or fixed at
 * create.
 *
 * pce_cluster_on_event() runs under the cache's shard lock: it hashes the
 * entry's whole chunks (the tokens are valid only for the call), allocates
 * one op and appends it under mu.  It never waits for I/O.
 *
 * A router's events (no entry id) carry an owner: a STORED one is hashed
 * like a cache's; a REMOVED one becomes a cut (the first chunk lost, and
 * the path above it when the event has tokens) that mirror.c resolves.
 *
 * A tiered lookup (a cache's, or a router's match) answers from L1 first.  Only when L1's match is shorter
 * than the query's whole chunks does it ask L2: it hashes the chunks,
 * enqueues a request and waits on tier->done until budget_us has passed.
 * While the breaker is open it does not wait at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "pce/router.h"

void pce_cluster_config_init(struct pce_cluster_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = "127.0.0.1";
	cfg->port = 6379;
	cfg->key_prefix = "pce";
	cfg->hash = PCE_CLUSTER_XXH3_128;
	cfg->chunk_tokens = 256;
	cfg->budget_us = 1000;
	cfg->connect_timeout_ms = 100;
	cfg->io_timeout_ms = 100;
	cfg->lease_ms = 10000;
	cfg->key_ttl_ms = 600000;
	cfg->backoff_min_ms = 10;
	cfg->backoff_max_ms = 1000;
	cfg->max_lookup_chunks = 512;
	cfg->script_budget = 65536;
	cfg->queue_limit = 65536;
}

const char *pce_cluster_config_error(const struct pce_cluster_config *cfg)
{
	if (!cfg)
		return "config is NULL";
	if (!cfg->host || !cfg->host[0] || strlen(cfg->host) >= sizeof(((struct pce_cluster *)0)->host))
		return "host must be a non-empty string shorter than 64 bytes";
	if (cfg->port == 0)
		return "port must be non-zero";
	if (!cfg->key_prefix || !cfg->key_prefix[0] || strlen(cfg->key_prefix) > 32 ||
	    strpbrk(cfg->key_prefix, "{}"))
		return "key_prefix must be 1..32 bytes without braces";
	if (!cfg->secret || cfg->secret_len < PCE_CLUSTER_MIN_SECRET)
		return "secret must hold at least PCE_CLUSTER_MIN_SECRET bytes";
	if (cfg->hash != PCE_CLUSTER_XXH3_128 && cfg->hash != PCE_CLUSTER_SHA256_128)
		return "hash must be PCE_CLUSTER_XXH3_128 or PCE_CLUSTER_SHA256_128";
#ifndef PCE_CLUSTER_HAVE_CRYPTO
	if (cfg->hash == PCE_CLUSTER_SHA256_128)
		return "hash PCE_CLUSTER_SHA256_128 needs a build with libcrypto";
#endif
	if (cfg->hash == PCE_CLUSTER_SHA256_128 && cfg->secret_len > 64)
		return "secret of PCE_CLUSTER_SHA256_128 must be at most 64 bytes";
	if (cfg->chunk_tokens == 0 || cfg->chunk_tokens > (1u << 20))
		return "chunk_tokens must be in [1, 2^20]";
	if (cfg->connect_timeout_ms == 0 || cfg->io_timeout_ms == 0)
		return "connect_timeout_ms and io_timeout_ms must be non-zero";
	if (cfg->lease_ms < 30 || cfg->key_ttl_ms < 30)
		return "lease_ms and key_ttl_ms must be at least 30";
	if (cfg->backoff_min_ms == 0 || cfg->backoff_max_ms < cfg->backoff_min_ms)
		return "backoff_min_ms must be non-zero and at most backoff_max_ms";
	if (cfg->max_lookup_chunks == 0 || cfg->script_budget == 0 || cfg->queue_limit == 0)
		return "max_lookup_chunks, script_budget and queue_limit must be non-zero";
	if (cfg->flags & ~PCE_CLUSTER_NO_SCRIPT)
		return "flags has unknown bits";
	return NULL;
}

int pce_cluster_create(const struct pce_cluster_config *cfg, struct pce_cluster **out)
{
	struct pce_cluster *t;
	pthread_condattr_t ca;
	int rc;

	if (!out || pce_cluster_config_error(cfg))
		return PCE_EINVAL;
	*out = NULL;
	if (!(t = calloc(1, sizeof(*t))))
		return PCE_ENOMEM;
	pce__mirror_init(&t->mirror);
	t->cfg = *cfg;
	strcpy(t->host, cfg->host);
	strcpy(t->prefix, cfg->key_prefix);
	t->cfg.host = t->host;
	t->cfg.key_prefix = t->prefix;
	t->cfg.secret = NULL; /* only the derived hasher is kept */
	if ((rc = pce__hasher_init(&t->hasher, cfg->hash, cfg->secret, cfg->secret_len)))
		goto out_free;
	snprintf(t->node_str, sizeof(t->node_str), "%u", cfg->node_id);
	snprintf(t->lease_str, sizeof(t->lease_str), "%u", cfg->lease_ms);
	snprintf(t->ttl_str, sizeof(t->ttl_str), "%u", cfg->key_ttl_ms);
	pce__publish_new_epoch(t);
	pce__conn_init(&t->conn, t->host, cfg->port, cfg->connect_timeout_ms, cfg->io_timeout_ms,
		       &t->st.redirects);
	rc = PCE_ENOMEM;
	if (pthread_mutex_init(&t->mu, NULL))
		goto out_free;
	/* Callers wait with CLOCK_MONOTONIC deadlines. */
	if (pthread_condattr_init(&ca))
		goto out_mu;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) || pthread_cond_init(&t->work, &ca)) {
		pthread_condattr_destroy(&ca);
		goto out_mu;
	}
	if (pthread_cond_init(&t->done, &ca)) {
		pthread_condattr_destroy(&ca);
		goto out_work;
	}
	pthread_condattr_destroy(&ca);
	if ((rc = pce__worker_start(t)))
		goto out_done;
	*out = t;
	return 0;

out_done:
	pthread_cond_destroy(&t->done);
out_work:
	pthread_cond_destroy(&t->work);
out_mu:
	pthread_mutex_destroy(&t->mu);
out_free:
	free(t);
	return rc;
}

void pce_cluster_destroy(struct pce_cluster *t)
{
	if (!t)
		return;
	pce__worker_stop(t);
	pce__mirror_free(&t->mirror);
	pthread_cond_destroy(&t->done);
	pthread_cond_destroy(&t->work);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

void pce_cluster_on_event(void *ctx, const struct pce_event *ev)
{
	struct pce_cluster *t = ctx;
	size_t n, hashed;
	uint32_t level = 0;
	struct pce__op *op;
	int router;

	if (!t || !ev)
		return;
	n = ev->len / t->cfg.chunk_tokens;
	/* A router's events carry no entry id (a cache's never 0): they tell
	 * what an owner holds, or from which depth it lost it. */
	router = ev->id == 0;
	if (ev->kind == PCE_EVENT_STORED || !router) {
		if (n == 0)
			return; /* no whole chunk: never published */
		hashed = ev->kind == PCE_EVENT_STORED ? n : 0;
	} else {
		if (ev->len == 0)
			return;
		/* The chunk holding the removed block's last token (chunk_tokens
		 * is a multiple of the block size): it and its extensions go;
		 * the path above it is known when the event has tokens. */
		level = (uint32_t)((ev->len - 1) / t->cfg.chunk_tokens);
		hashed = ev->tokens ? (n < (size_t)level + 1 ? n : (size_t)level + 1) : 0;
	}
	if (!(op = calloc(1, sizeof(*op)))) {
		PCE__ADD(t, events_dropped, 1);
		return;
	}
	op->stored = ev->kind == PCE_EVENT_STORED;
	op->router = router;
	op->id = ev->id;
	op->ns = ev->ns;
	op->owner = ev->owner;
	op->level = level;
	if (hashed) {
		if (!ev->tokens || !(op->ids = malloc(hashed * sizeof(*op->ids)))) {
			free(op);
			PCE__ADD(t, events_dropped, 1);
			return;
		}
		op->n = hashed;
		pce__chunk_chain(&t->hasher, ev->ns, ev->tokens, hashed, t->cfg.chunk_tokens,
				 op->ids);
	}
	pthread_mutex_lock(&t->mu);
	if (t->wq_len >= t->cfg.queue_limit) {
		pthread_mutex_unlock(&t->mu);
		pce__op_free(op);
		PCE__ADD(t, events_dropped, 1);
		return;
	}
	if (t->wq_tail)
		t->wq_tail->next = op;
	else
		t->wq_head = op;
	t->wq_tail = op;
	t->wq_len++;
	t->enqueued++;
	pthread_cond_signal(&t->work);
	pthread_mutex_unlock(&t->mu);
}

/* A tier serves one index: the first attach wins. */
static int attach(struct pce_cluster *t, void *index)
{
	void *none = NULL;

	return __atomic_compare_exchange_n(&t->attached, &none, index, 0, __ATOMIC_ACQ_REL,
					   __ATOMIC_RELAXED)
		       ? 0
		       : PCE_EINVAL;
}

int pce_cluster_attach_cache(struct pce_cluster *t, struct pce_cache *cache)
{
	if (!t || !cache || attach(t, cache))
		return PCE_EINVAL;
	__atomic_store_n(&t->cache, cache, __ATOMIC_RELEASE);
	return 0;
}

int pce_cluster_attach_router(struct pce_cluster *t, struct pce_router *router)
{
	if (!t || !router || attach(t, router))
		return PCE_EINVAL;
	__atomic_store_n(&t->router, router, __ATOMIC_RELEASE);
	return 0;
}

/* Asks the worker; waits until the answer or the budget.  Return: the
 * request (DONE, the caller frees it), or NULL (no answer in time). */
static struct pce__lreq *ask_l2(struct pce_cluster *t, struct pce__lreq *q)
{
	struct timespec dl;

	pce__deadline_after_us(&dl, t->cfg.budget_us);
	pthread_mutex_lock(&t->mu);
	if (t->lq_tail)
		t->lq_tail->next = q;
	else
		t->lq_head = q;
	t->lq_tail = q;
	pthread_cond_signal(&t->work);
	while (q->state != LREQ_DONE) {
		if (pthread_cond_timedwait(&t->done, &t->mu, &dl) == 0 || q->state == LREQ_DONE)
			continue;
		/* Budget spent: take the request back, or leave it to the
		 * worker if it is already on the wire. */
		if (q->state == LREQ_QUEUED) {
			struct pce__lreq **pp = &t->lq_head, *prev = NULL;
			while (*pp != q) {
				prev = *pp;
				pp = &(*pp)->next;
			}
			*pp = q->next;
			if (t->lq_tail == q)
				t->lq_tail = prev;
			free(q);
		} else {
			q->state = LREQ_ABANDONED;
		}
		q = NULL;
		break;
	}
	pthread_mutex_unlock(&t->mu);
	return q;
}

static int deeper_first(const void *a, const void *b)
{
	const struct pce_overlap *x = a, *y = b;

	if (x->tokens != y->tokens)
		return x->tokens < y->tokens ? 1 : -1;
	return x->owner < y->owner ? -1 : x->owner > y->owner;
}

/* Keeps @d's owner among @owners[0..out->n_owners) at @tok tokens: a
 * deeper answer replaces a shallower one of the same owner; a new owner
 * takes a free place, or the shallowest kept if it is deeper. */
static void merge_owner(struct pce_overlap *owners, size_t max_owners,
			struct pce_cluster_result *out, uint32_t owner, size_t tok)
{
	struct pce_overlap *o = NULL;

	for (size_t j = 0; j < out->n_owners; j++)
		if (owners[j].owner == owner)
			o = &owners[j];
	if (o) {
		if (o->tokens >= tok)
			return;
	} else {
		out->total_owners++;
		if (out->n_owners < max_owners) {
			o = &owners[out->n_owners++];
		} else if (max_owners) {
			o = &owners[0];
			for (size_t j = 1; j < max_owners; j++)
				if (owners[j].tokens < o->tokens)
					o = &owners[j];
			if (o->tokens >= tok)
				return;
		} else {
			return;
		}
	}
	o->owner = owner;
	o->tier = PCE_TIER_REMOTE;
	o->tokens = tok;
	o->score = (double)tok;
}

/*
 * L2's half of a tiered lookup, for a cache's and a router's: asks L2 when
 * @local_tokens (the local answer's depth) is shorter than the query's
 * whole chunks, and merges its owners into @owners[0..out->n_owners), which
 * hold the local answer's owners (@skip_self: none; this node's own fields
 * are left out, L1 answers for them).  Sets out->flags; counts.
 */
static void ask_owners(struct pce_cluster *t, uint64_t ns, const uint32_t *tokens, size_t len,
		       size_t local_tokens, int skip_self, struct pce_overlap *owners,
		       size_t max_owners, struct pce_cluster_result *out)
{
	struct pce__lreq *q;
	size_t whole, n, deepest = 0;

	PCE__ADD(t, lookups, 1);
	whole = len / t->cfg.chunk_tokens;
	if (whole == 0 || local_tokens >= whole * t->cfg.chunk_tokens) {
		out->flags = PCE_CLUSTER_LOCAL;
		PCE__ADD(t, local, 1);
		return;
	}
	PCE__ADD(t, l2_lookups, 1);
	if (!__atomic_load_n(&t->st.connected, __ATOMIC_RELAXED)) {
		out->flags = PCE_CLUSTER_UNAVAILABLE;
		PCE__ADD(t, l2_unavailable, 1);
		return;
	}
	n = whole < t->cfg.max_lookup_chunks ? whole : t->cfg.max_lookup_chunks;
	if (!(q = calloc(1, sizeof(*q) + n * sizeof(q->ids[0])))) {
		out->flags = PCE_CLUSTER_UNAVAILABLE;
		PCE__ADD(t, l2_unavailable, 1);
		return;
	}
	q->ns = ns;
	q->n = n;
	pce__chunk_chain(&t->hasher, ns, tokens, n, t->cfg.chunk_tokens, q->ids);
	if (!(q = ask_l2(t, q)) || q->rc) {
		out->flags = PCE_CLUSTER_UNAVAILABLE;
		PCE__ADD(t, l2_unavailable, 1);
		if (q)
			free(q->ans.d), free(q);
		return;
	}
	for (size_t i = 0; i < q->ans.n; i++) {
		const struct pce__depth *d = &q->ans.d[i];
		if ((skip_self && d->node == t->cfg.node_id) || d->chunks == 0)
			continue;
		if (d->chunks > deepest)
			deepest = d->chunks;
		merge_owner(owners, max_owners, out, d->node, (size_t)d->chunks * t->cfg.chunk_tokens);
	}
	if (out->n_owners > 1) /* owners may be NULL: qsort wants an array */
		qsort(owners, out->n_owners, sizeof(*owners), deeper_first);
	/* Cut by the chunk cap: an owner that held every chunk asked about
	 * may hold more. */
	if (q->ans.partial || (n < whole && deepest == n))
		out->flags |= PCE_CLUSTER_PARTIAL;
	if (out->flags & PCE_CLUSTER_PARTIAL)
		PCE__ADD(t, l2_partial, 1);
	if (deepest)
		PCE__ADD(t, l2_hits, 1);
	free(q->ans.d);
	free(q);
}

int pce_cluster_lookup(struct pce_cluster *t, uint64_t ns, const uint32_t *tokens, size_t len,
		       const struct pce_lookup_opts *opts, struct pce_overlap *owners,
		       size_t max_owners, struct pce_cluster_result *out)
{
	struct pce_cache *cache;
	int rc;

	if (!t || !out || (max_owners && !owners))
		return PCE_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!(cache = __atomic_load_n(&t->cache, __ATOMIC_ACQUIRE)))
		return PCE_EINVAL;
	rc = pce_cache_lookup(cache, ns, tokens, len, opts, &out->local);
	if (rc && rc != PCE_ENOPINS)
		return rc;
	ask_owners(t, ns, tokens, len, out->local.tokens, 1, owners, max_owners, out);
	return rc;
}

int pce_cluster_match(struct pce_cluster *t, uint64_t ns, const uint32_t *tokens, size_t len,
		      unsigned flags, struct pce_overlap *owners, size_t max_owners,
		      struct pce_cluster_result *out)
{
	struct pce_router *router;
	size_t n = 0, left = 0;
	int rc;

	if (!t || !out || (max_owners && !owners))
		return PCE_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!(router = __atomic_load_n(&t->router, __ATOMIC_ACQUIRE)))
		return PCE_EINVAL;
	rc = pce_router_match(router, ns, tokens, len, flags, owners, max_owners, &n, &left);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (owners[i].tokens > out->local.tokens)
			out->local.tokens = owners[i].tokens;
	out->n_owners = n;
	out->total_owners = n + left;
	ask_owners(t, ns, tokens, len, out->local.tokens, 0, owners, max_owners, out);
	return 0;
}

int pce_cluster_sync(struct pce_cluster *t, uint32_t timeout_ms)
{
	struct timespec dl;
	int rc = 0;

	if (!t)
		return PCE_EINVAL;
	pce__deadline_after_us(&dl, (uint64_t)timeout_ms * 1000);
	pthread_mutex_lock(&t->mu);
	uint64_t target = t->enqueued;
	while (!(t->ready && t->processed >= target)) {
		pthread_cond_signal(&t->work);
		if (pthread_cond_timedwait(&t->done, &t->mu, &dl)) {
			rc = t->ready && t->processed >= target ? 0 : PCE_ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int pce_cluster_chunk_ids(struct pce_cluster *t, uint64_t ns, const uint32_t *tokens, size_t n,
			  struct pce_chunk_id *ids)
{
	if (!t || (n && (!tokens || !ids)))
		return PCE_EINVAL;
	pce__chunk_chain(&t->hasher, ns, tokens, n, t->cfg.chunk_tokens, ids);
	return 0;
}

/* Upper bound (us) of the bucket holding the @p-th permille round trip. */
static uint64_t rtt_pct(const uint64_t *b, uint64_t total, unsigned permille)
{
	uint64_t want = (total * permille + 999) / 1000, seen = 0;

	for (unsigned i = 0; i < PCE__RTT_BUCKETS; i++) {
		seen += b[i];
		if (seen >= want && seen)
			return 1ull << i;
	}
	return 0;
}

int pce_cluster_stats_get(struct pce_cluster *t, struct pce_cluster_stats *out)
{
	uint64_t b[PCE__RTT_BUCKETS], total = 0;

	if (!t || !out)
		return PCE_EINVAL;
	memset(out, 0, sizeof(*out));
#define LD(f) __atomic_load_n(&t->st.f, __ATOMIC_RELAXED)
	out->lookups = LD(lookups);
	out->local = LD(local);
	out->l2_lookups = LD(l2_lookups);
	out->l2_hits = LD(l2_hits);
	out->l2_partial = LD(l2_partial);
	out->l2_unavailable = LD(l2_unavailable);
	out->published = LD(published);
	out->publish_errors = LD(publish_errors);
	out->retracted = LD(retracted);
	out->retract_errors = LD(retract_errors);
	out->events_dropped = LD(events_dropped);
	out->breaker_opens = LD(breaker_opens);
	out->connects = LD(connects);
	out->republishes = LD(republishes);
	out->redirects = LD(redirects);
	out->script_loads = LD(script_loads);
	out->mirror_entries = LD(mirror_entries);
	out->mirror_chunks = LD(mirror_chunks);
	out->rtt_max_us = LD(rtt_max_us);
	out->connected = LD(connected);
	out->epoch = LD(epoch);
	for (unsigned i = 0; i < PCE__RTT_BUCKETS; i++)
		total += b[i] = LD(rtt[i]);
#undef LD
	out->rtt_p50_us = rtt_pct(b, total, 500);
	out->rtt_p99_us = rtt_pct(b, total, 990);
	return 0;
}
