/*
 * trace_lines.c - one line of a tokens, mooncake or text input -> one
 * request (the cursor's head).  tokens and mooncake lines are read
 * straight from the source (trace_jsonl.c), which skips blank lines; text
 * lines come whole from the caller, which skips them.
 *
 * Checks, each with its own message (trace_json.c words them):
 *   tokens    "tokens": array of integers in [0, 2^32); "t": time >= 0;
 *             "ns": a string, or an integer in [0, 2^53].
 *   mooncake  "hash_ids": array of integers in [0, 2^32); "input_length":
 *             integer; "timestamp": milliseconds >= 0; and the ids must
 *             be exactly the blocks of input_length tokens, the last one
 *             possibly partial: ceil(input_length / block_size) ids.  A
 *             mismatch almost always means a wrong --block-size, so it is an
 *             error rather than a guess.
 *   text      UTF-8 without NUL or control characters other than tab, CR
 *             and form feed, on every line: a bad byte is refused with its
 *             line and column, never read as a token.
 */
#include <stdio.h>
#include <string.h>

#include "trace_internal.h"

/* Largest integer a JSON number (a double) holds exactly. */
#define MAX_EXACT_INT ((uint64_t)1 << 53)

/* Drop the line's values. */
static void done(struct trace_cursor *c)
{
	trace_arena_leave(&c->arena);
}

static int namespace_of(struct pce_trace *tr, const struct trace_where *w, const cJSON *o,
			uint64_t *ns)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "ns");
	char num[24];
	uint64_t n;
	int rc;

	if (!v || cJSON_IsNull(v))
		return trace_ns_get(tr, "", 0, ns);
	if (cJSON_IsString(v))
		return trace_ns_get(tr, v->valuestring, strlen(v->valuestring), ns);
	if (!cJSON_IsNumber(v))
		return trace_json_fail(tr, w, "ns", "expected a string or an integer, got %s",
				       trace_json_type(v));
	rc = trace_json_uint(tr, w, o, "ns", 1, MAX_EXACT_INT, &n);
	if (rc)
		return rc;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)n);
	return trace_ns_get(tr, num, strlen(num), ns);
}

int trace_line_tokens(struct pce_trace *tr, struct trace_cursor *c)
{
	static const char *const values[] = {"t", "ns"};
	static const struct trace_jsonl_fields f = {"tokens", values, 2};
	struct pce_trace_request *h = &c->head;
	struct trace_where w;
	int has_ids, rc;
	cJSON *o;

	rc = trace_jsonl_next(tr, c, &f, &o, &has_ids);
	if (rc <= 0)
		return rc;
	w = (struct trace_where){c->src.path, c->src.line_no, ""};
	rc = has_ids ? 0 : trace_json_fail(tr, &w, "tokens", "missing");
	h->t = 0;
	h->block_size = 1;
	if (!rc)
		rc = trace_json_time(tr, &w, o, "t", 0, &h->t);
	if (!rc)
		rc = namespace_of(tr, &w, o, &h->ns);
	done(c);
	h->ids = c->ids;
	h->tokens = h->len;
	return rc ? rc : 1;
}

int trace_line_mooncake(struct pce_trace *tr, struct trace_cursor *c)
{
	static const char *const values[] = {"input_length", "timestamp"};
	static const struct trace_jsonl_fields f = {"hash_ids", values, 2};
	struct pce_trace_request *h = &c->head;
	uint64_t input_length = 0, blocks;
	double ms = 0;
	struct trace_where w;
	int has_ids, rc;
	cJSON *o;

	rc = trace_jsonl_next(tr, c, &f, &o, &has_ids);
	if (rc <= 0)
		return rc;
	w = (struct trace_where){c->src.path, c->src.line_no, ""};
	rc = has_ids ? 0 : trace_json_fail(tr, &w, "hash_ids", "missing");
	if (!rc)
		rc = trace_json_uint(tr, &w, o, "input_length", 1, PCE_TRACE_MAX_TOKENS,
				     &input_length);
	if (!rc)
		rc = trace_json_time(tr, &w, o, "timestamp", 0, &ms);
	done(c);
	if (rc)
		return rc;
	blocks = (input_length + c->block_size - 1) / c->block_size;
	if (blocks != h->len)
		return trace_fail(tr, PCE_TRACE_EINPUT, w.file, w.line,
				  "input_length %llu is %llu blocks of %u tokens, but hash_ids has "
				  "%zu ids (wrong --block-size?)",
				  (unsigned long long)input_length, (unsigned long long)blocks,
				  c->block_size, h->len);
	h->ns = c->ns;
	h->t = ms / 1000.0;
	h->ids = c->ids;
	h->tokens = input_length;
	h->block_size = c->block_size;
	return 1;
}

int trace_line_text(struct pce_trace *tr, struct trace_cursor *c, const char *line,
		    size_t len)
{
	struct pce_trace_request *h = &c->head;
	const char *nul = memchr(line, '\0', len);
	size_t bad;

	if (nul)
		return trace_fail(tr, PCE_TRACE_EINPUT, c->src.path, c->src.line_no,
				  "column %zu: a NUL byte: binary data, not text",
				  (size_t)(nul - line) + 1);
	bad = trace_text_check(line, len);
	if (bad < len)
		return trace_fail(tr, PCE_TRACE_EINPUT, c->src.path, c->src.line_no,
				  "column %zu: byte 0x%02x: not UTF-8 text (invalid UTF-8 or a "
				  "control character)",
				  bad + 1, (unsigned char)line[bad]);
	h->len = 0;
	if (trace_text_tokenize(c, line, len))
		return trace_fail(tr, PCE_TRACE_ENOMEM, c->src.path, c->src.line_no,
				  "out of memory");
	if (h->len > PCE_TRACE_MAX_IDS)
		return trace_fail(tr, PCE_TRACE_EINPUT, c->src.path, c->src.line_no,
				  "more than %zu tokens (the libpce limit)", PCE_TRACE_MAX_IDS);
	h->ns = c->ns;
	h->t = 0;
	h->ids = c->ids;
	h->tokens = h->len;
	h->block_size = 1;
	return 0;
}
