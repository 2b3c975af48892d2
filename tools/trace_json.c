/*
 * trace_json.c - checked access to cJSON values, with one precise message
 * per way a value can be wrong.
 *
 * cJSON keeps every number as a double, so an id or a length is accepted
 * only if that double is finite, integral and inside the caller's range;
 * nothing is truncated or wrapped silently.  Messages name the file, then
 * the line (JSONL) or the JSON path (a kvtester session), then the field:
 *   conv.jsonl:7: hash_ids[3]: expected an integer in [0, 4294967295], got -1
 *   s/trace_0001.json.gz: requests[2].in: expected an integer ..., got a string
 *
 * Allocation.  cJSON allocates every value on its own and frees each one in
 * cJSON_Delete(): for a 440 MB trace, about 100 million malloc/free pairs,
 * a good third of the time it takes to read it.  Values parsed between
 * trace_arena_enter() and trace_arena_leave() on a thread take their
 * memory from that arena instead (a bump allocator); cJSON_Delete() of them
 * frees nothing, and leaving releases it all at once.  Rules: a value parsed
 * inside is neither used nor deleted after leaving; nothing else calls
 * cJSON on that thread in between.  cJSON's hooks are process-wide, so they
 * are installed once and pass through to malloc and free on every thread
 * that is not inside an arena.  The hooks also note a failed allocation,
 * so that trace_json_parse() reports running out of memory as such, not as
 * the invalid JSON cJSON's failure would otherwise suggest.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_internal.h"

#define ARENA_CHUNK ((size_t)1 << 20)

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

static _Thread_local struct trace_arena *current;
/* An allocation of cJSON failed on this thread since the parse began: its
 * parse fails like on invalid JSON, which it must not be reported as. */
static _Thread_local int alloc_failed;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void *arena_malloc(size_t n)
{
	struct trace_arena *a = current;
	struct arena_chunk *c;

	if (!a) {
		void *p = malloc(n);

		alloc_failed |= p == NULL;
		return p;
	}
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	c = a->chunks;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (!c) {
			alloc_failed = 1;
			return NULL;
		}
		c->next = a->chunks;
		c->used = 0;
		c->cap = cap;
		a->chunks = c;
		a->size += cap;
	}
	c->used += n;
	return (char *)c->data + c->used - n;
}

static void arena_free(void *p)
{
	if (!current)
		free(p);
}

static void install_hooks(void)
{
	cJSON_Hooks hooks = {arena_malloc, arena_free};

	cJSON_InitHooks(&hooks);
}

void trace_arena_enter(struct trace_arena *a)
{
	pthread_once(&hooks_once, install_hooks);
	current = a;
}

void trace_arena_leave(struct trace_arena *a)
{
	struct arena_chunk *c = a->chunks;

	current = NULL;
	if (!c)
		return;
	/* Keep one chunk as large as this parse needed, for the next one. */
	if (c->next) {
		size_t size = a->size;

		trace_arena_free(a);
		c = malloc(sizeof(*c) + size);
		if (!c)
			return;
		c->next = NULL;
		c->cap = size;
		a->chunks = c;
		a->size = size;
	}
	c->used = 0;
}

void trace_arena_free(struct trace_arena *a)
{
	while (a->chunks) {
		struct arena_chunk *next = a->chunks->next;

		free(a->chunks);
		a->chunks = next;
	}
	a->size = 0;
}

const char *trace_json_type(const cJSON *v)
{
	if (!v || cJSON_IsNull(v))
		return "null";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "an invalid value";
}

int trace_json_fail(struct pce_trace *tr, const struct trace_where *w, const char *field,
		    const char *fmt, ...)
{
	char what[256], name[160];
	va_list ap;
	const char *path = w->path ? w->path : "";

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(name, sizeof(name), "%s%s%s", path, *path && field && *field != '[' ? "." : "",
		 field ? field : "");
	if (*name)
		return trace_fail(tr, PCE_TRACE_EINPUT, w->file, w->line, "%s: %s", name, what);
	return trace_fail(tr, PCE_TRACE_EINPUT, w->file, w->line, "%s", what);
}

/* "got -1", "got 2.5", "got a string" */
static void describe(const cJSON *v, char *out, size_t n)
{
	if (cJSON_IsNumber(v))
		snprintf(out, n, "got %.17g", v->valuedouble);
	else
		snprintf(out, n, "got %s", trace_json_type(v));
}

static int check_uint(struct pce_trace *tr, const struct trace_where *w, const char *field,
		      const cJSON *v, uint64_t max, uint64_t *out)
{
	char got[64];
	double d;

	if (cJSON_IsNumber(v)) {
		d = v->valuedouble;
		if (isfinite(d) && d >= 0 && d <= (double)max && floor(d) == d) {
			*out = (uint64_t)d;
			return 0;
		}
	}
	describe(v, got, sizeof(got));
	return trace_json_fail(tr, w, field, "expected an integer in [0, %llu], %s",
			       (unsigned long long)max, got);
}

int trace_json_uint(struct pce_trace *tr, const struct trace_where *w, const cJSON *obj,
		    const char *field, int required, uint64_t max, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);

	if (!v || cJSON_IsNull(v))
		return required ? trace_json_fail(tr, w, field, "missing") : 0;
	return check_uint(tr, w, field, v, max, out);
}

int trace_json_time(struct pce_trace *tr, const struct trace_where *w, const cJSON *obj,
		    const char *field, int required, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
	char got[64];

	if (!v || cJSON_IsNull(v))
		return required ? trace_json_fail(tr, w, field, "missing") : 0;
	if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0) {
		*out = v->valuedouble;
		return 0;
	}
	describe(v, got, sizeof(got));
	return trace_json_fail(tr, w, field, "expected a time >= 0, %s", got);
}

int trace_json_ids(struct pce_trace *tr, const struct trace_where *w, const cJSON *obj,
		   const char *field, uint32_t **ids, size_t *cap, size_t at, size_t *len)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, field);
	const cJSON *v;
	size_t n = 0;

	if (!arr || cJSON_IsNull(arr))
		return trace_json_fail(tr, w, field, "missing");
	if (!cJSON_IsArray(arr))
		return trace_json_fail(tr, w, field, "expected an array of integers, got %s",
				       trace_json_type(arr));
	cJSON_ArrayForEach(v, arr) {
		uint64_t id;

		if (n == PCE_TRACE_MAX_IDS)
			return trace_json_fail(tr, w, field, "more than %zu ids (the libpce limit)",
					       PCE_TRACE_MAX_IDS);
		if (at + n == *cap && trace_ids_reserve(ids, cap, at + n + 1))
			return trace_fail(tr, PCE_TRACE_ENOMEM, w->file, w->line, "out of memory");
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > UINT32_MAX ||
		    floor(v->valuedouble) != v->valuedouble) {
			char name[48];

			snprintf(name, sizeof(name), "%s[%zu]", field, n);
			return check_uint(tr, w, name, v, UINT32_MAX, &id);
		}
		(*ids)[at + n++] = (uint32_t)v->valuedouble;
	}
	*len = n;
	return 0;
}

/* The line (counted from @line, the first of @text) and the column of
 * @at, a byte of @text. */
static uint64_t locate(const char *text, const char *at, uint64_t line, size_t *col)
{
	const char *line_start = text;

	for (const char *p = text; p < at; p++) {
		if (*p == '\n') {
			line++;
			line_start = p + 1;
		}
	}
	*col = (size_t)(at - line_start) + 1;
	return line;
}

int trace_json_parse(struct pce_trace *tr, const char *file, uint64_t first_line,
		     const char *text, size_t len, cJSON **out)
{
	const char *end = NULL, *p;
	uint64_t line;
	char excerpt[32];
	size_t k = 0, col;
	int trailing = 0;
	cJSON *v;

	p = memchr(text, '\0', len);
	if (p) {
		line = locate(text, p, first_line, &col);
		return trace_fail(tr, PCE_TRACE_EINPUT, file, line,
				  "column %zu: a NUL byte: binary data, not JSON", col);
	}
	alloc_failed = 0;
	v = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!v && alloc_failed)
		return trace_fail(tr, PCE_TRACE_ENOMEM, file, first_line, "out of memory");
	if (v) {
		while ((size_t)(end - text) < len && strchr(" \t\r\n", *end))
			end++;
		if ((size_t)(end - text) == len) {
			*out = v;
			return 0;
		}
		cJSON_Delete(v);
		trailing = 1;
	}
	/* cJSON points at the offending byte; at the end of the text it
	 * points at the last byte. */
	if (!end || end < text || (size_t)(end - text) >= len)
		end = len ? text + len - 1 : text;
	line = locate(text, end, first_line, &col);
	for (p = end; p < text + len && k < sizeof(excerpt) - 1 && *p != '\n'; p++)
		excerpt[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	excerpt[k] = '\0';
	if (trailing)
		return trace_fail(tr, PCE_TRACE_EINPUT, file, line,
				  "column %zu: unexpected text after the JSON value: \"%s\"", col,
				  excerpt);
	if (len == 0 || (size_t)(end - text) == len - 1)
		return trace_fail(tr, PCE_TRACE_EINPUT, file, line,
				  "column %zu: invalid JSON: the text ends before the value is "
				  "complete (truncated?)",
				  col);
	return trace_fail(tr, PCE_TRACE_EINPUT, file, line, "column %zu: invalid JSON near \"%s\"",
			  col, excerpt);
}
