/*
 * trace_internal.h - what the trace reader modules share (see trace.h):
 *
 *   trace.c          the API: inputs, format detection, the merge, namespaces
 *   trace_src.c      bytes and lines out of a plain or gzip file
 *   trace_json.c     checked field access on cJSON values, with messages
 *   trace_jsonl.c    JSON streamed from a source: JSONL lines, detection
 *   trace_lines.c    one tokens / mooncake / text line -> one request
 *   trace_text.c     the byte-level tokenizer of the text format
 *   trace_session.c  kvtester sessions: parse, flatten, compact, replay
 *
 * A cursor is one time-ordered stream (a JSONL or text file, or one
 * kvtester session) holding its next request, "the head"; the merge keeps
 * cursors in a heap ordered by (head time, cursor order).
 */
#ifndef PCE_TOOLS_TRACE_INTERNAL_H
#define PCE_TOOLS_TRACE_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "trace.h"

/* ---- errors and namespaces (trace.c) ------------------------------------ */

/* Record "FILE:LINE: message" (no ":LINE" when @line is 0) as the trace's
 * error and return @code. */
int trace_fail(struct pce_trace *tr, int code, const char *file, uint64_t line,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The number of namespace @name, registering it on first use.  Returns
 * PCE_TRACE_ENOMEM or 0 with *ns set. */
int trace_ns_get(struct pce_trace *tr, const char *name, size_t len, uint64_t *ns);

/* A named pipe has had no writer for a while: tell the user through the
 * trace's on_wait callback, if any. */
void trace_wait_notice(struct pce_trace *tr, const char *path);

/* ---- parse memory (trace_json.c) ------------------------------------------ */

/* Memory for the cJSON values of one parse at a time (trace_json.c). */
struct trace_arena {
	struct arena_chunk *chunks;
	size_t size;
};

/* Parses on this thread allocate from @a until trace_arena_leave(@a), which
 * invalidates every value they made. */
void trace_arena_enter(struct trace_arena *a);
void trace_arena_leave(struct trace_arena *a);
void trace_arena_free(struct trace_arena *a);

/* ---- sources (trace_src.c) ------------------------------------------------ */

struct trace_src {
	gzFile gz;          /* reads a duplicate of fd */
	int fd;             /* the stream, opened once; -1 when closed */
	off_t origin;       /* fd's offset at opening (-1: not seekable) */
	const char *path;   /* for messages; owned by the input */
	char *buf;          /* read buffer; a line is assembled in place */
	size_t cap, start, end;
	uint64_t off0;      /* stream offset of buf[0] */
	uint64_t line_no;   /* of the line last returned (or being parsed) */
	size_t line_max;    /* longest line (and largest whole file) accepted */
	uint64_t size;      /* a regular file's size, else 0 */
	int seekable;       /* a regular file: trace_src_rewind() works */
	int eof, bom_done;
};

/* Open @path once, for reading, gzip or not; a named pipe is waited for
 * (see trace_src.c).  Return: 0 or PCE_TRACE_EIO / ENOMEM. */
int trace_src_open(struct pce_trace *tr, struct trace_src *s, const char *path);
/* The same on descriptor @fd, which the source owns from now on (closed
 * even on failure). */
int trace_src_open_fd(struct pce_trace *tr, struct trace_src *s, const char *path, int fd);
/* Back to the first byte (regular files only; EIO for a pipe). */
int trace_src_rewind(struct pce_trace *tr, struct trace_src *s);
/* Make @n bytes available at buf[start..] without consuming them (fewer
 * at the end of the input).  Return: 0 or an error (line_max exceeded). */
int trace_src_peek(struct pce_trace *tr, struct trace_src *s, size_t n);
/* Read one more chunk after buf[end], keeping buf[start..end) (slid to the
 * front).  @held: bytes of line @line kept or consumed so far; more than
 * line_max is refused before reading.  Return: bytes read, 0 at the end,
 * or an error. */
int trace_src_more(struct pce_trace *tr, struct trace_src *s, uint64_t line, size_t held);
/* Next line without its "\n" (nor "\r\n"), NUL-terminated in place.
 * Return: 1, 0 at the end, or an error (truncated gzip, I/O, line too long). */
int trace_src_line(struct pce_trace *tr, struct trace_src *s, char **line, size_t *len);
/* The whole remaining content, NUL-terminated, in a malloc'd buffer. */
int trace_src_slurp(struct pce_trace *tr, struct trace_src *s, char **data, size_t *len);
/* Compressed bytes consumed so far (0 for a pipe). */
uint64_t trace_src_offset(const struct trace_src *s);
void trace_src_close(struct trace_src *s);

/* ---- cursors -------------------------------------------------------------- */

struct trace_session; /* trace_session.c */

struct trace_cursor {
	enum pce_trace_format format;
	size_t input;               /* index of the input it belongs to */
	uint64_t order;             /* merge tie-break: position among all cursors */
	uint64_t bytes;             /* its file's size, for the progress */
	int has_head;
	struct pce_trace_request head;
	uint32_t *ids;              /* the head's ids */
	size_t ids_cap;
	char *scratch;              /* JSONL: a captured value's text */
	size_t scratch_cap;
	/* line formats */
	struct trace_arena arena;   /* each JSON line is parsed in it */
	struct trace_src src;
	int src_open;
	int seen_t;                 /* last_t holds the previous head's time */
	double last_t;
	uint64_t ns;                /* mooncake: the file's namespace; text: the shared one */
	uint32_t block_size;
	/* kvtester */
	struct trace_session *session;
	size_t next;                /* next request of the session */
};

/* Make room for @n ids in *ids (capacity *cap).  Return: 0 or
 * PCE_TRACE_ENOMEM. */
int trace_ids_reserve(uint32_t **ids, size_t *cap, size_t n);

/* ---- checked JSON access (trace_json.c) ----------------------------------- */


/* Where a value sits, for messages: the file and line, or a JSON path. */
struct trace_where {
	const char *file;
	uint64_t line;     /* 0: use path */
	const char *path;  /* "requests[3]" or "" */
};

int trace_json_fail(struct pce_trace *tr, const struct trace_where *w, const char *field,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* @field of object @obj as an integer in [min, max]; @required 0 leaves
 * *out alone when the field is absent or null.  Return: 0 or EINPUT. */
int trace_json_uint(struct pce_trace *tr, const struct trace_where *w, const cJSON *obj,
		    const char *field, int required, uint64_t max, uint64_t *out);
/* @field as a finite number >= 0 (seconds, or what the caller scales). */
int trace_json_time(struct pce_trace *tr, const struct trace_where *w, const cJSON *obj,
		    const char *field, int required, double *out);
/* @field as an array of ids in [0, UINT32_MAX], written to (*ids)[at..),
 * growing the buffer; *len receives their number. */
int trace_json_ids(struct pce_trace *tr, const struct trace_where *w, const cJSON *obj,
		   const char *field, uint32_t **ids, size_t *cap, size_t at, size_t *len);
/* Parse @len bytes as one JSON value, with nothing after it but blanks.
 * On failure records "FILE:LINE:COL: invalid JSON ..." (LINE counted from
 * @first_line, in the text). */
int trace_json_parse(struct pce_trace *tr, const char *file, uint64_t first_line,
		     const char *text, size_t len, cJSON **out);
/* "a string", "an array"...: the type of @v for messages. */
const char *trace_json_type(const cJSON *v);

/* ---- line formats (trace_lines.c, trace_text.c) --------------------------- */

/* The fields of one JSONL format: @ids, an array streamed into the
 * cursor's ids; @values, other fields handed over as cJSON values. */
struct trace_jsonl_fields {
	const char *ids;
	const char *const *values;
	size_t n_values;         /* at most 31 */
};

/* Read the next non-blank line of c->src as one JSON object, consuming it:
 * its @f->ids array into c->ids (c->head.len of them; *has_ids 0 when it
 * is absent or null), and the first occurrence of each of @f->values into
 * *obj, an object made in c->arena (leave it with trace_arena_leave()).
 * c->src.line_no is the line's number.  Return: 1, 0 at the end of the
 * input, or an error. */
int trace_jsonl_next(struct pce_trace *tr, struct trace_cursor *c,
		     const struct trace_jsonl_fields *f, cJSON **obj, int *has_ids);
/* Peek at the JSON object starting @at bytes into s's unread bytes (on
 * line @line) for the first of @keys at its top level, without consuming
 * anything; the document may span lines.  *which: the key's index, or -1
 * if the object ends without any.  Return: 0 or an error (invalid JSON,
 * with line and column). */
int trace_jsonl_sniff(struct pce_trace *tr, struct trace_src *s, size_t at, uint64_t line,
		      const char *const *keys, size_t n, int *which);

/* The next request of a tokens or mooncake cursor into c->head.  Return:
 * 1, 0 at the end of the input, or an error. */
int trace_line_tokens(struct pce_trace *tr, struct trace_cursor *c);
int trace_line_mooncake(struct pce_trace *tr, struct trace_cursor *c);
/* Parse text @line (line number c->src.line_no) into c->head.  Return: 0
 * or an error. */
int trace_line_text(struct pce_trace *tr, struct trace_cursor *c, const char *line,
		    size_t len);

/* Cut @len bytes of text into tokens, appending to c->ids from c->head.len.
 * Return: 0 or ENOMEM. */
int trace_text_tokenize(struct trace_cursor *c, const char *text, size_t len);
/* The offset of the first byte of @text that is not valid UTF-8 or is a
 * control character other than tab, CR and form feed; @len if none. */
size_t trace_text_check(const char *text, size_t len);

/* ---- kvtester sessions (trace_session.c) ---------------------------------- */

/* Load one session file into its compact form: from @src (which it
 * closes) when not NULL, else from @path.  @tr only receives the error
 * message: this runs on loader threads, each with a trace of its own
 * (trace.c), and registers no namespace; the caller names it afterwards
 * with trace_session_set_ns(). */
int trace_session_load(struct pce_trace *tr, const char *path, struct trace_src *src,
		       uint32_t block_size, struct trace_session **out);
/* Whether the session declared "hash_id_scope": "global". */
int trace_session_global(const struct trace_session *s);
void trace_session_set_ns(struct trace_session *s, uint64_t ns);
size_t trace_session_requests(const struct trace_session *s);
/* Put request @i of @s in c->head.  Return: 0 or ENOMEM. */
int trace_session_fill(const struct trace_session *s, size_t i, struct trace_cursor *c);
uint32_t trace_session_block_size(const struct trace_session *s);
void trace_session_free(struct trace_session *s);

#endif /* PCE_TOOLS_TRACE_INTERNAL_H */
