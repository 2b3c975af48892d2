/*
 * trace.h - streaming readers for request traces: one merged, time-ordered
 * stream of requests out of any number of files and directories.
 *
 * Formats (pce_trace_format):
 *   tokens    JSONL, one request per line: {"tokens":[...]} with optional
 *             "ns" (namespace: string or integer) and "t" (arrival, seconds).
 *   mooncake  JSONL: {"timestamp": ms, "input_length": n, "hash_ids": [...]},
 *             chained block ids (an id names its block and every block
 *             before it), 512 tokens per block unless told otherwise; the
 *             last block may be partial.
 *   kvtester  one JSON object per session file (.json or .json.gz), or a
 *             directory of them: {"block_size", "hash_id_scope", "requests":
 *             [{"t", "in", "hash_ids"}, {"type": "subagent", "t",
 *             "requests": [...]}]}; only whole blocks carry an id.
 *   text      one prompt per line, cut into approximate tokens by a
 *             byte-level tokenizer (trace_text.c).  Never detected: only
 *             when asked for (opts.format), since any line is a "prompt".
 * Any input may be gzip-compressed; "-" is standard input.  Every input is
 * opened once and read as a stream (pipes, named pipes and /dev/fd paths
 * work as files do); see trace.c for rewinding pipes.
 *
 * A request is a sequence of uint32_t ids (token ids for tokens and text,
 * block ids for mooncake and kvtester) in a namespace, with its weight in
 * real tokens: tokens_for(m) below converts m matched ids back to tokens.
 *
 * Order.  Each input is a stream in its own order; several streams are
 * merged by arrival time (ties: the order inputs were given, then file
 * order).  Requests without a time are at t = 0, so inputs without times
 * are simply concatenated.  The sessions of a kvtester directory have no
 * shared clock: like the kv-cache-tester tools, they are merged as if all
 * started at t = 0, a sub-agent's request at the sub-agent's t plus its own.
 *
 * Namespaces.  Mooncake ids are global to their file: each mooncake input
 * is one namespace.  kvtester ids are local to their session file (sub-
 * agents share their parent's ids): each session is one namespace, unless
 * it declares "hash_id_scope": "global".  tokens requests name theirs
 * ("ns"); text shares one.  Namespaces are numbered from 0 in order of
 * first appearance; pce_trace_ns_name() names them.
 *
 * Memory.  tokens and mooncake lines are parsed as they are read: their
 * ids array goes straight into the request's uint32_t array, and the line's
 * text is not kept (trace_jsonl.c).  Text lines are held whole.  A kvtester
 * session must be complete before the merge can start (every session begins
 * at t = 0), so each session file is parsed once (on up to 8 threads, one
 * file each) and kept in a compact form: per request its time, its weight
 * and only the ids it does not share with an earlier request of its
 * session (found exactly, with a private libpce cache, never by trusting
 * the ids to be chained).  That is proportional to the session's distinct
 * prefixes, not to its raw size.
 *
 * Errors.  Bad input never crashes or aborts: pce_trace_open() and
 * pce_trace_next() return PCE_TRACE_EINPUT and pce_trace_error() says
 * "FILE:LINE: what is wrong" (kvtester files, usually one line, are located
 * by JSON path instead: "FILE: requests[3].in: ...").
 */
#ifndef PCE_TOOLS_TRACE_H
#define PCE_TOOLS_TRACE_H

#include <stddef.h>
#include <stdint.h>

enum pce_trace_format {
	PCE_TRACE_AUTO = 0, /* detect each input from its content */
	PCE_TRACE_TOKENS,
	PCE_TRACE_MOONCAKE,
	PCE_TRACE_KVTESTER,
	PCE_TRACE_TEXT,
	PCE_TRACE_FORMAT_COUNT
};

/* Return codes of pce_trace_open(), pce_trace_next(), pce_trace_rewind(). */
enum {
	PCE_TRACE_END = 0,       /* pce_trace_next(): no more requests */
	PCE_TRACE_REQUEST = 1,   /* pce_trace_next(): *req is filled */
	PCE_TRACE_EINPUT = -1,   /* malformed input; see pce_trace_error() */
	PCE_TRACE_EIO = -2,      /* a file cannot be opened or read */
	PCE_TRACE_ENOMEM = -3,
	PCE_TRACE_ECACHE = -4    /* libpce failed; see pce_trace_error() */
};

/* Longest request, in ids (the libpce limit). */
#define PCE_TRACE_MAX_IDS ((size_t)1 << 28)
/* Largest weight of one request, in tokens. */
#define PCE_TRACE_MAX_TOKENS ((uint64_t)UINT32_MAX)
/* Longest line of a JSONL or text input, and largest kvtester session
 * (opts.max_line lowers it).  Refused as soon as it is exceeded. */
#define PCE_TRACE_MAX_LINE ((size_t)1 << 30)

struct pce_trace_opts {
	enum pce_trace_format format; /* PCE_TRACE_AUTO: detect per input */
	/* Tokens per id.  0: the format's own (mooncake 512, kvtester the
	 * file's "block_size", tokens and text 1).  tokens and text accept
	 * only 1: their ids are tokens. */
	uint32_t block_size;
	/* Called while pce_trace_open() loads kvtester sessions, after each
	 * file, from the loader threads but one call at a time; may be NULL. */
	void (*on_load)(void *ctx, size_t files_done, size_t files_total);
	/* Called from pce_trace_open() when a pipe has had nothing to read
	 * for a second (its writer has not come, or not written yet); the
	 * open then waits for it.  May be NULL. */
	void (*on_wait)(void *ctx, const char *path);
	void *ctx;
	/* The caller will call pce_trace_rewind(): pipes are then copied to
	 * a temporary file as they are opened (the one way to read them
	 * twice).  0: pipes are read once, as a stream, and cannot rewind. */
	int rewindable;
	/* Longest line (and largest kvtester session file) accepted, in
	 * bytes; 0: PCE_TRACE_MAX_LINE. */
	size_t max_line;
};

struct pce_trace_request {
	uint64_t ns;          /* namespace number, see pce_trace_ns_name() */
	double t;             /* arrival time, seconds */
	const uint32_t *ids;  /* valid until the next call on the trace */
	size_t len;           /* ids; may be 0 */
	uint64_t tokens;      /* the request's real size in tokens */
	uint32_t block_size;  /* tokens per id */
	uint64_t index;       /* 0, 1, 2...: position in the merged stream */
};

/* Real tokens of the first @matched ids of @r: a partial last block counts
 * at its true size. */
static inline uint64_t pce_trace_tokens_for(const struct pce_trace_request *r, size_t matched)
{
	uint64_t t = (uint64_t)matched * r->block_size;

	return t < r->tokens ? t : r->tokens;
}

struct pce_trace;

/*
 * pce_trace_open - Open @n inputs (files, pipes, directories of kvtester
 * sessions, or "-" for standard input) as one merged stream.  Each input is
 * opened once; formats are detected now (from the head of that stream),
 * and kvtester sessions loaded.
 * Return: 0, PCE_TRACE_EINPUT, PCE_TRACE_EIO, PCE_TRACE_ENOMEM or
 * PCE_TRACE_ECACHE.  On failure *out is still set (unless ENOMEM left it
 * NULL) so that pce_trace_error() can be read; close it as usual.
 */
int pce_trace_open(struct pce_trace **out, const char *const *paths, size_t n,
		   const struct pce_trace_opts *opts);

/*
 * pce_trace_next - The next request in arrival order.
 * Return: PCE_TRACE_REQUEST, PCE_TRACE_END, or an error (the stream is
 * then finished).
 */
int pce_trace_next(struct pce_trace *tr, struct pce_trace_request *req);

/*
 * pce_trace_rewind - Start the stream again from its first request (files
 * are read again from their start).  A pipe can rewind only if the trace
 * was opened with opts.rewindable (it was then copied); else PCE_TRACE_EIO.
 * Namespace numbers stay the same.  Return: 0 or an error as
 * pce_trace_open().
 */
int pce_trace_rewind(struct pce_trace *tr);

/* A warning about the stream read so far (since the last rewind), "" if
 * none: an input whose arrival times go backwards, with the first line
 * where they do and how many times ("FILE:LINE: ...").  Valid until the
 * next call. */
const char *pce_trace_warning(struct pce_trace *tr);

/* "FILE:LINE: message" for the last error; "" if none. */
const char *pce_trace_error(const struct pce_trace *tr);

/* Fraction of the input consumed, 0..1 (compressed bytes read; kvtester
 * sessions count as their requests are emitted). */
double pce_trace_progress(const struct pce_trace *tr);

/* Inputs as opened: their count, each one's path, format, and tokens per id
 * (0 for a kvtester directory whose sessions differ). */
size_t pce_trace_inputs(const struct pce_trace *tr);
const char *pce_trace_input_path(const struct pce_trace *tr, size_t i);
enum pce_trace_format pce_trace_input_format(const struct pce_trace *tr, size_t i);
uint32_t pce_trace_input_block_size(const struct pce_trace *tr, size_t i);

/* Namespaces seen so far, and the name of one ("" for the default). */
size_t pce_trace_ns_count(const struct pce_trace *tr);
const char *pce_trace_ns_name(const struct pce_trace *tr, uint64_t ns);

/* Accepts NULL. */
void pce_trace_close(struct pce_trace *tr);

/* "tokens", "mooncake", "kvtester", "text" ("auto" for PCE_TRACE_AUTO). */
const char *pce_trace_format_name(enum pce_trace_format f);
/* Inverse of pce_trace_format_name(); -1 if @name is none of them. */
int pce_trace_format_parse(const char *name);

#endif /* PCE_TOOLS_TRACE_H */
