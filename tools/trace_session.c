/*
 * trace_session.c - kvtester sessions (the Claude Code trace format of
 * callanjfox/kv-cache-tester): load one session file, flatten its
 * sub-agents, and keep it compact until the merge emits its requests.
 *
 * Flattening.  A sub-agent {"type": "subagent", "t", "requests": [...]}
 * runs inside its parent; its requests' "t" are relative to its own start,
 * so a request's time is the sum of the t's on its path.  Requests are
 * emitted by (time, position in the file): a stable sort.  Sub-agents use
 * their parent's ids (the README of the format), so a whole file is one id
 * scope, and nesting is limited to MAX_DEPTH levels.
 *
 * Compaction (the memory rule of trace.h).  Requests are replayed, in
 * emission order, through a private single-shard libpce cache: a lookup
 * gives the longest prefix the request shares with an earlier request of
 * the session, and which one (the entry's value is its index).  We keep
 *   req[i] = {t, tokens, len, ref, ref_len, own ids = ids[ref_len..len)}
 * so the session costs its distinct ids plus 40 bytes a request, and
 *   ids(i)[0..ref_len) = ids(ref)[0..ref_len)
 * rebuilds a request (fill(): each step copies the own ids of one request
 * in the chain i -> ref -> ref's ref..., back to front).  Since the cache
 * compares ids exactly, this holds for any input, chained ids or not.
 *
 * Checks per request: "t" a time >= 0; "in" an integer; "hash_ids" ids in
 * [0, 2^32) covering the whole blocks of "in": len = floor(in / block_size).
 */
#include <stdlib.h>
#include <string.h>

#include <pce/pce.h>

#include "trace_internal.h"

#define MAX_DEPTH 16
#define NO_REF UINT32_MAX

struct sreq {
	double t;
	uint64_t tokens;
	uint64_t off;     /* first own id in pool */
	uint32_t len;
	uint32_t ref;     /* NO_REF, or an earlier request sharing ids[0..ref_len) */
	uint32_t ref_len;
};

struct trace_session {
	uint64_t ns;
	int global;       /* "hash_id_scope": "global": ids shared with other sessions */
	uint32_t block_size;
	size_t n;
	struct sreq *req;
	uint32_t *pool;   /* own ids of every request, in order */
	size_t pool_len;
};

/* A request as found in the file, before sorting. */
struct item {
	double t;
	size_t seq;       /* position in the file */
	uint64_t tokens;
	size_t off, len;  /* its ids in the loader's raw buffer */
};

struct loader {
	struct pce_trace *tr;
	struct trace_arena arena;  /* the file's JSON values */
	const char *path;
	uint32_t block_size;
	struct item *item;
	size_t n, cap;
	uint32_t *raw;    /* every id of the file, in file order */
	size_t raw_len, raw_cap;
};

static int add_request(struct loader *L, const cJSON *r, const char *path, double base)
{
	struct trace_where w = {L->path, 0, path};
	struct item it = {0};
	int rc;

	if (L->n == UINT32_MAX - 1)
		return trace_json_fail(L->tr, &w, NULL, "more than %u requests in one session",
				       UINT32_MAX - 1);
	rc = trace_json_time(L->tr, &w, r, "t", 1, &it.t);
	if (!rc)
		rc = trace_json_uint(L->tr, &w, r, "in", 1, PCE_TRACE_MAX_TOKENS, &it.tokens);
	if (!rc)
		rc = trace_json_ids(L->tr, &w, r, "hash_ids", &L->raw, &L->raw_cap, L->raw_len,
				    &it.len);
	if (rc)
		return rc;
	if (it.len != it.tokens / L->block_size)
		return trace_json_fail(L->tr, &w, NULL,
				       "\"in\" is %llu tokens, %llu whole blocks of %u, but "
				       "hash_ids has %zu ids (wrong --block-size?)",
				       (unsigned long long)it.tokens,
				       (unsigned long long)(it.tokens / L->block_size), L->block_size,
				       it.len);
	it.t += base;
	it.seq = L->n;
	it.off = L->raw_len;
	L->raw_len += it.len;
	if (L->n == L->cap) {
		size_t cap = L->cap ? 2 * L->cap : 64;
		struct item *p = realloc(L->item, cap * sizeof(*p));

		if (!p)
			return trace_fail(L->tr, PCE_TRACE_ENOMEM, L->path, 0, "out of memory");
		L->item = p;
		L->cap = cap;
	}
	L->item[L->n++] = it;
	return 0;
}

static int add_requests(struct loader *L, const cJSON *list, const char *path, double base,
			int depth)
{
	struct trace_where w = {L->path, 0, path};
	const cJSON *r;
	size_t i = 0;
	int rc = 0;

	if (!cJSON_IsArray(list))
		return trace_json_fail(L->tr, &w, NULL, "expected an array of requests, got %s",
				       trace_json_type(list));
	cJSON_ArrayForEach(r, list) {
		/* At most MAX_DEPTH levels of "requests[N]." fit. */
		char at[512];
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(r, "type");

		if (snprintf(at, sizeof(at), "%s[%zu]", path, i++) >= (int)sizeof(at))
			return trace_json_fail(L->tr, &w, NULL, "nested too deep");
		w.path = at;
		if (!cJSON_IsObject(r))
			return trace_json_fail(L->tr, &w, NULL, "expected an object, got %s",
					       trace_json_type(r));
		if (cJSON_IsString(type) && strcmp(type->valuestring, "subagent") == 0) {
			char inner[sizeof(at)];
			double t;

			if (depth == MAX_DEPTH)
				return trace_json_fail(L->tr, &w, NULL,
						       "sub-agents nested deeper than %d levels",
						       MAX_DEPTH);
			rc = trace_json_time(L->tr, &w, r, "t", 1, &t);
			if (rc)
				return rc;
			if (snprintf(inner, sizeof(inner), "%s.requests", at) >= (int)sizeof(inner))
				return trace_json_fail(L->tr, &w, NULL, "nested too deep");
			rc = add_requests(L, cJSON_GetObjectItemCaseSensitive(r, "requests"), inner,
					  base + t, depth + 1);
		} else {
			rc = add_request(L, r, at, base);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int by_time(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int header(struct loader *L, const cJSON *root, uint32_t forced, int *global)
{
	struct trace_where w = {L->path, 0, ""};
	const cJSON *scope = cJSON_GetObjectItemCaseSensitive(root, "hash_id_scope");
	uint64_t bs = 64;
	int rc;

	if (!cJSON_IsObject(root))
		return trace_json_fail(L->tr, &w, NULL, "expected a JSON object, got %s",
				       trace_json_type(root));
	rc = trace_json_uint(L->tr, &w, root, "block_size", 0, 1u << 20, &bs);
	if (rc)
		return rc;
	if (bs == 0)
		return trace_json_fail(L->tr, &w, "block_size", "must be at least 1");
	L->block_size = forced ? forced : (uint32_t)bs;
	*global = 0;
	if (!scope || cJSON_IsNull(scope) ||
	    (cJSON_IsString(scope) && strcmp(scope->valuestring, "local") == 0))
		return 0;
	if (cJSON_IsString(scope) && strcmp(scope->valuestring, "global") == 0) {
		*global = 1;
		return 0;
	}
	return trace_json_fail(L->tr, &w, "hash_id_scope", "expected \"local\" or \"global\"");
}

/* Replay the sorted items through a private cache to find what each one
 * shares with an earlier one; fill s->req and s->pool. */
static int compact(struct loader *L, struct trace_session *s)
{
	const struct pce_lookup_opts peek = {PCE_LOOKUP_PEEK, 0};
	struct pce_config cfg;
	struct pce_cache *cache;
	int rc;

	s->req = malloc((L->n ? L->n : 1) * sizeof(*s->req));
	s->pool = malloc((L->raw_len ? L->raw_len : 1) * sizeof(*s->pool));
	if (!s->req || !s->pool)
		return trace_fail(L->tr, PCE_TRACE_ENOMEM, L->path, 0, "out of memory");
	pce_config_init(&cfg);
	cfg.shards = 1;
	cfg.max_pins = 1;
	cfg.background_reclaim = 0;
	rc = pce_cache_create(&cfg, &cache);
	if (rc)
		return trace_fail(L->tr, PCE_TRACE_ECACHE, L->path, 0, "libpce: %s",
				  pce_strerror(rc));
	for (size_t i = 0; i < L->n; i++) {
		const struct item *it = &L->item[i];
		const uint32_t *ids = L->raw ? L->raw + it->off : NULL; /* no id at all */
		struct sreq *q = &s->req[i];
		struct pce_match m = {0};
		struct pce_store_result res;

		q->t = it->t;
		q->tokens = it->tokens;
		q->len = (uint32_t)it->len;
		q->ref = NO_REF;
		q->ref_len = 0;
		if (it->len) {
			rc = pce_cache_lookup(cache, 0, ids, it->len, &peek, &m);
			if (!rc)
				rc = pce_cache_store(cache, 0, ids, it->len, i, 0, NULL, &res);
			if (rc == PCE_EEXIST) {
				m.tokens = it->len;
				m.value = res.existing_value;
				rc = 0;
			}
			if (rc) {
				pce_cache_destroy(cache);
				return trace_fail(L->tr, rc == PCE_ENOMEM ? PCE_TRACE_ENOMEM
									  : PCE_TRACE_ECACHE,
						  L->path, 0, "libpce: %s", pce_strerror(rc));
			}
			if (m.tokens) {
				q->ref = (uint32_t)m.value;
				q->ref_len = (uint32_t)m.tokens;
			}
		}
		q->off = s->pool_len;
		if (it->len > q->ref_len)
			memcpy(s->pool + s->pool_len, ids + q->ref_len,
			       (it->len - q->ref_len) * sizeof(*ids));
		s->pool_len += it->len - q->ref_len;
		/* Split nodes retire; free them as we go (no other thread). */
		if ((i & 1023) == 1023)
			pce_cache_reclaim(cache);
	}
	pce_cache_destroy(cache);
	s->n = L->n;
	/* Give back what sharing saved. */
	if (s->pool_len) {
		uint32_t *p = realloc(s->pool, s->pool_len * sizeof(*p));
		if (p)
			s->pool = p;
	}
	return 0;
}

int trace_session_load(struct pce_trace *tr, const char *path, struct trace_src *src,
		       uint32_t block_size, struct trace_session **out)
{
	struct loader L = {.tr = tr, .path = path};
	struct trace_session *s = calloc(1, sizeof(*s));
	struct trace_src own;
	cJSON *root = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!s) {
		if (src)
			trace_src_close(src);
		return trace_fail(tr, PCE_TRACE_ENOMEM, path, 0, "out of memory");
	}
	rc = src ? 0 : trace_src_open(tr, &own, path);
	if (!rc) {
		src = src ? src : &own;
		rc = trace_src_slurp(tr, src, &text, &len);
		trace_src_close(src);
	}
	if (!rc && len == 0)
		rc = trace_fail(tr, PCE_TRACE_EINPUT, path, 0, "empty file");
	trace_arena_enter(&L.arena);
	if (!rc)
		rc = trace_json_parse(tr, path, 1, text, len, &root);
	free(text);
	if (!rc)
		rc = header(&L, root, block_size, &s->global);
	if (!rc) {
		struct trace_where w = {path, 0, ""};
		const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(root, "requests");

		rc = reqs ? add_requests(&L, reqs, "requests", 0, 0)
			  : trace_json_fail(tr, &w, "requests", "missing");
	}
	trace_arena_leave(&L.arena);
	trace_arena_free(&L.arena);
	if (!rc) {
		if (L.n > 1)
			qsort(L.item, L.n, sizeof(*L.item), by_time);
		s->block_size = L.block_size;
		rc = compact(&L, s);
	}
	free(L.item);
	free(L.raw);
	if (rc) {
		trace_session_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

size_t trace_session_requests(const struct trace_session *s)
{
	return s->n;
}

uint32_t trace_session_block_size(const struct trace_session *s)
{
	return s->block_size;
}

int trace_session_global(const struct trace_session *s)
{
	return s->global;
}

void trace_session_set_ns(struct trace_session *s, uint64_t ns)
{
	s->ns = ns;
}

int trace_session_fill(const struct trace_session *s, size_t i, struct trace_cursor *c)
{
	const struct sreq *q = &s->req[i];
	struct pce_trace_request *h = &c->head;
	size_t n = q->len;

	if (trace_ids_reserve(&c->ids, &c->ids_cap, n ? n : 1))
		return PCE_TRACE_ENOMEM;
	/* Walk i -> ref -> ...: each request supplies ids[ref_len..n). */
	for (const struct sreq *r = q; n > 0; r = &s->req[r->ref]) {
		if (n > r->ref_len) {
			memcpy(c->ids + r->ref_len, s->pool + r->off,
			       (n - r->ref_len) * sizeof(*c->ids));
			n = r->ref_len;
		}
		if (r->ref == NO_REF)
			break;
	}
	h->ns = s->ns;
	h->t = q->t;
	h->ids = c->ids;
	h->len = q->len;
	h->tokens = q->tokens;
	h->block_size = s->block_size;
	return 0;
}

void trace_session_free(struct trace_session *s)
{
	if (!s)
		return;
	free(s->req);
	free(s->pool);
	free(s);
}
