/*
 * trace.c - the trace reader's API (trace.h): inputs, format detection,
 * the time-ordered merge of cursors, namespaces, errors and progress.
 *
 * Detection peeks at the head of the stream it will read (trace_src.c:
 * every input is opened once, pipes included), up to the first key that
 * names a format in the first JSON object (which may span lines):
 *   "tokens"                         -> tokens
 *   "hash_ids"                       -> mooncake
 *   "requests"                       -> kvtester
 *   none of them, or invalid JSON    -> error: not a known format
 *   text (CSV, prompts...)           -> error: text is read only when asked
 *                                       for (--format text)
 *   anything else                    -> error: binary data
 * Text is never guessed: any line of text is a valid "prompt", so a file
 * that is not a trace at all (a CSV of request lengths, a log) would be
 * reported as a prefix-hit ratio instead of refused.
 * A directory is a set of kvtester sessions (*.json, *.json.gz), taken in
 * name order.  Standard input ("-") is read as a stream like any pipe.
 * Only when the caller will rewind (opts.rewindable) is a pipe first copied
 * to an unlinked temporary file in $TMPDIR (or /tmp), the one way to read
 * it twice; a copy that cannot be written (a full disk) is an I/O error
 * that says so.
 *
 * Time order.  Each input is read in file order.  An input whose arrival
 * times go backwards is still read in that order (the merge cannot sort
 * one stream), which moves requests between the warm-up and the counted
 * window: pce_trace_warning() reports the first place and how often.
 *
 * Merge.  A binary min-heap of cursors by (head time, order).  The cursor
 * whose head was emitted last is advanced lazily, at the next call, because
 * the caller still reads the head's ids until then.
 *
 * Namespaces.  Names map to numbers through an open-addressing table; the
 * numbers are dense (0, 1, 2...) so callers can index arrays by them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace_internal.h"

/* Bytes of a first line that is not JSON looked at to say what it is. */
#define DETECT_PEEK ((size_t)64 << 10)

struct input {
	char *path;
	struct trace_src src;     /* the stream, until a cursor or loader takes it */
	int src_open;
	enum pce_trace_format format;
	uint32_t block_size;      /* 0: differs between its sessions */
	size_t first;             /* its first cursor */
	/* line formats: arrival times that go backwards, in this reading */
	uint64_t backwards, backwards_line;
	double backwards_from, backwards_to;
};

struct pce_trace {
	struct pce_trace_opts opts;
	struct input *in;
	size_t n_in;
	struct trace_cursor *cur;
	size_t n_cur;
	struct trace_cursor **heap;
	size_t heap_len;
	int pending;              /* the top's head was emitted: advance it first */
	int failed;
	uint64_t emitted;
	uint64_t total_bytes;
	/* namespaces */
	char **ns_name;
	size_t n_ns, ns_cap;
	uint32_t *ns_slot;        /* index + 1, 0 = empty */
	size_t slot_mask;
	char err[1024];
	char warning[1024];
};

int trace_fail(struct pce_trace *tr, int code, const char *file, uint64_t line,
	       const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(tr->err, sizeof(tr->err), "%s:%llu: %s", file, (unsigned long long)line,
			 msg);
	else
		snprintf(tr->err, sizeof(tr->err), "%s: %s", file, msg);
	return code;
}

int trace_ids_reserve(uint32_t **ids, size_t *cap, size_t n)
{
	size_t c = *cap ? *cap : 256;
	uint32_t *p;

	if (n <= *cap)
		return 0;
	while (c < n)
		c *= 2;
	p = realloc(*ids, c * sizeof(*p));
	if (!p)
		return PCE_TRACE_ENOMEM;
	*ids = p;
	*cap = c;
	return 0;
}

/* ---- namespaces ---------------------------------------------------------- */

static uint64_t hash_name(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static int ns_grow(struct pce_trace *tr)
{
	size_t slots = tr->slot_mask ? 2 * (tr->slot_mask + 1) : 64;
	uint32_t *slot = calloc(slots, sizeof(*slot));

	if (!slot)
		return PCE_TRACE_ENOMEM;
	for (size_t i = 0; i < tr->n_ns; i++) {
		size_t k = hash_name(tr->ns_name[i], strlen(tr->ns_name[i])) & (slots - 1);
		while (slot[k])
			k = (k + 1) & (slots - 1);
		slot[k] = (uint32_t)i + 1;
	}
	free(tr->ns_slot);
	tr->ns_slot = slot;
	tr->slot_mask = slots - 1;
	return 0;
}

int trace_ns_get(struct pce_trace *tr, const char *name, size_t len, uint64_t *ns)
{
	size_t k;
	char *copy;

	if (tr->n_ns * 2 >= tr->slot_mask && ns_grow(tr))
		return trace_fail(tr, PCE_TRACE_ENOMEM, "pce", 0, "out of memory");
	for (k = hash_name(name, len) & tr->slot_mask; tr->ns_slot[k];
	     k = (k + 1) & tr->slot_mask) {
		const char *s = tr->ns_name[tr->ns_slot[k] - 1];
		if (strlen(s) == len && memcmp(s, name, len) == 0) {
			*ns = tr->ns_slot[k] - 1;
			return 0;
		}
	}
	if (tr->n_ns == tr->ns_cap) {
		size_t cap = tr->ns_cap ? 2 * tr->ns_cap : 16;
		char **p = realloc(tr->ns_name, cap * sizeof(*p));
		if (!p)
			return trace_fail(tr, PCE_TRACE_ENOMEM, "pce", 0, "out of memory");
		tr->ns_name = p;
		tr->ns_cap = cap;
	}
	copy = malloc(len + 1);
	if (!copy)
		return trace_fail(tr, PCE_TRACE_ENOMEM, "pce", 0, "out of memory");
	memcpy(copy, name, len);
	copy[len] = '\0';
	tr->ns_name[tr->n_ns] = copy;
	tr->ns_slot[k] = (uint32_t)tr->n_ns + 1;
	*ns = tr->n_ns++;
	return 0;
}

size_t pce_trace_ns_count(const struct pce_trace *tr)
{
	return tr->n_ns;
}

const char *pce_trace_ns_name(const struct pce_trace *tr, uint64_t ns)
{
	return ns < tr->n_ns ? tr->ns_name[ns] : "";
}

/* ---- formats --------------------------------------------------------------- */

static const char *const format_names[PCE_TRACE_FORMAT_COUNT] = {
	"auto", "tokens", "mooncake", "kvtester", "text"};

const char *pce_trace_format_name(enum pce_trace_format f)
{
	return (unsigned)f < PCE_TRACE_FORMAT_COUNT ? format_names[f] : "?";
}

int pce_trace_format_parse(const char *name)
{
	for (int f = 0; f < PCE_TRACE_FORMAT_COUNT; f++) {
		if (strcmp(name, format_names[f]) == 0)
			return f;
	}
	return -1;
}

static int blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	}
	return 1;
}

/* The first line, @text (its first @len bytes; @cut: there are more),
 * is not JSON: say what it is, and that it is not a trace. */
static int not_a_trace(struct pce_trace *tr, const struct input *in, uint64_t line,
		       const char *text, size_t len, int cut)
{
	size_t bad = trace_text_check(text, len);

	/* a UTF-8 sequence cut at the end of the peeked bytes is no fault */
	if (bad < len && !(cut && bad + 4 > len))
		return trace_fail(tr, PCE_TRACE_EINPUT, in->path, line,
				  "binary data: neither JSON nor text (formats: tokens, mooncake, "
				  "kvtester; text only with --format text)");
	if (text[0] != '[' && memchr(text, ',', len))
		return trace_fail(tr, PCE_TRACE_EINPUT, in->path, line,
				  "CSV or text, not a trace: a trace needs token ids or block ids "
				  "(formats: tokens, mooncake, kvtester); request lengths alone, as in "
				  "the Azure LLM traces, say nothing about shared prefixes.  To read "
				  "each line as a prompt, give --format text");
	return trace_fail(tr, PCE_TRACE_EINPUT, in->path, line,
			  "text, not a trace (formats: tokens, mooncake, kvtester).  To read "
			  "each line as a prompt, give --format text");
}

/* The head of in->src, peeked, never consumed: the parser reads it next. */
static int detect(struct pce_trace *tr, struct input *in, enum pce_trace_format *out)
{
	static const char *const keys[] = {"tokens", "hash_ids", "requests"};
	static const enum pce_trace_format formats[] = {PCE_TRACE_TOKENS, PCE_TRACE_MOONCAKE,
							PCE_TRACE_KVTESTER};
	struct trace_src *s = &in->src;
	uint64_t line = 1;
	size_t at = 0, len;
	const char *head, *nl;
	int rc, which;

	for (;; at++) {
		char ch;

		if (at == s->end - s->start) {
			rc = trace_src_peek(tr, s, at + 1);
			if (rc)
				return rc;
			if (at == s->end - s->start)
				return trace_fail(tr, PCE_TRACE_EINPUT, in->path, 0,
						  "empty file: no requests");
		}
		ch = s->buf[s->start + at];
		if (ch == '\n')
			line++;
		else if (ch != ' ' && ch != '\t' && ch != '\r')
			break;
	}
	if (s->buf[s->start + at] == '{') {
		rc = trace_jsonl_sniff(tr, s, at, line, keys, 3, &which);
		if (rc)
			return rc;
		if (which < 0)
			return trace_fail(tr, PCE_TRACE_EINPUT, in->path, line,
					  "a JSON object with none of the keys \"tokens\", "
					  "\"hash_ids\", \"requests\": not a known format (see "
					  "--format)");
		*out = formats[which];
		return 0;
	}
	rc = trace_src_peek(tr, s, at + DETECT_PEEK);
	if (rc)
		return rc;
	head = s->buf + s->start + at;
	len = s->end - s->start - at;
	nl = memchr(head, '\n', len);
	len = nl ? (size_t)(nl - head) : len;
	if (len && head[len - 1] == '\r')
		len--;
	return not_a_trace(tr, in, line, head, len, nl == NULL && !s->eof);
}

/* ---- inputs ----------------------------------------------------------------- */

/* Replace in->src, a pipe, by a copy in an unlinked temporary file, which
 * can be rewound.  Bounded by the temporary directory's free space. */
static int spool(struct pce_trace *tr, struct input *in)
{
	const char *dir = getenv("TMPDIR");
	char name[4096], buf[1 << 16];
	ssize_t n;
	int out, rc;

	snprintf(name, sizeof(name), "%s/pce-XXXXXX", dir && *dir ? dir : "/tmp");
	out = mkostemp(name, O_CLOEXEC);
	if (out < 0)
		return trace_fail(tr, PCE_TRACE_EIO, in->path, 0,
				  "cannot create a temporary file in %s to read this pipe twice: %s",
				  dir && *dir ? dir : "/tmp", strerror(errno));
	unlink(name);
	while ((n = read(in->src.fd, buf, sizeof(buf))) != 0) {
		ssize_t w = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(out);
			return trace_fail(tr, PCE_TRACE_EIO, in->path, 0, "read error: %s",
					  strerror(errno));
		}
		while (w < n) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				close(out);
				return trace_fail(tr, PCE_TRACE_EIO, in->path, 0,
						  "cannot keep a copy of this pipe, needed to read "
						  "it twice, in %s: %s (give a file instead)",
						  dir && *dir ? dir : "/tmp", strerror(errno));
			}
			w += k;
		}
	}
	trace_src_close(&in->src);
	if (lseek(out, 0, SEEK_SET) < 0) {
		close(out);
		in->src_open = 0;
		return trace_fail(tr, PCE_TRACE_EIO, in->path, 0, "%s", strerror(errno));
	}
	rc = trace_src_open_fd(tr, &in->src, in->path, out);
	in->src_open = rc == 0;
	return rc;
}

static int session_name(const char *name)
{
	size_t n = strlen(name);

	return (n > 5 && strcmp(name + n - 5, ".json") == 0) ||
	       (n > 8 && strcmp(name + n - 8, ".json.gz") == 0);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A cursor for @path (a file of @in), weighed in the progress by its size. */
static int add_cursor(struct pce_trace *tr, struct input *in, const char *path)
{
	struct trace_cursor *c;
	struct stat st;

	if (in->src_open)
		st.st_size = (off_t)in->src.size;
	else if (stat(path, &st))
		return trace_fail(tr, PCE_TRACE_EIO, path, 0, "%s", strerror(errno));
	c = realloc(tr->cur, (tr->n_cur + 1) * sizeof(*c));
	if (!c)
		return trace_fail(tr, PCE_TRACE_ENOMEM, in->path, 0, "out of memory");
	tr->cur = c;
	c = &tr->cur[tr->n_cur];
	memset(c, 0, sizeof(*c));
	c->src.fd = -1;
	c->format = in->format;
	c->input = (size_t)(in - tr->in);
	c->order = tr->n_cur++;
	c->bytes = (uint64_t)st.st_size;
	tr->total_bytes += c->bytes;
	return 0;
}

/* ---- kvtester sessions: loaded in parallel --------------------------------
 *
 * Parsing JSON is most of the cost of a kvtester input, and sessions are
 * independent, so loader threads take session files in order from a shared
 * counter.  Each thread reports errors into a trace of its own; afterwards
 * the main thread keeps the error of the first failing file (every file
 * before it was taken before it, so this does not depend on timing) and
 * names the namespaces in file order, so results never depend on which
 * thread loaded what. */

#define MAX_LOADERS 8

struct job {
	const char *path;
	struct trace_src *src;  /* the input's stream, or NULL: open path */
	size_t cursor;
	int rc;
	char *err;
};

struct loaders {
	struct pce_trace *tr;
	struct job *job;
	size_t n;
	size_t next;            /* atomic: next job to take */
	int stop;               /* atomic: a job failed */
	pthread_mutex_t lock;   /* serialises on_load */
	size_t done;
};

static void *load_sessions(void *arg)
{
	struct loaders *L = arg;
	struct pce_trace *sink = calloc(1, sizeof(*sink));

	while (!__atomic_load_n(&L->stop, __ATOMIC_RELAXED)) {
		size_t j = __atomic_fetch_add(&L->next, 1, __ATOMIC_RELAXED);
		struct job *job;

		if (j >= L->n)
			break;
		job = &L->job[j];
		job->rc = sink ? trace_session_load(sink, job->path, job->src, L->tr->opts.block_size,
						    &L->tr->cur[job->cursor].session)
			       : PCE_TRACE_ENOMEM;
		if (job->rc) {
			job->err = strdup(sink ? sink->err : "out of memory");
			__atomic_store_n(&L->stop, 1, __ATOMIC_RELAXED);
		}
		pthread_mutex_lock(&L->lock);
		L->done++;
		if (L->tr->opts.on_load)
			L->tr->opts.on_load(L->tr->opts.ctx, L->done, L->n);
		pthread_mutex_unlock(&L->lock);
	}
	free(sink);
	return NULL;
}

static int run_loaders(struct pce_trace *tr, struct job *job, size_t n)
{
	struct loaders L = {.tr = tr, .job = job, .n = n};
	pthread_t thread[MAX_LOADERS];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t threads = cpus > 1 ? (size_t)cpus : 1, started = 0;
	int rc = 0;

	threads = threads < MAX_LOADERS ? threads : MAX_LOADERS;
	threads = threads < n ? threads : n;
	pthread_mutex_init(&L.lock, NULL);
	/* The calling thread is one of the loaders. */
	for (size_t i = 1; i < threads; i++) {
		if (pthread_create(&thread[started], NULL, load_sessions, &L) == 0)
			started++;
	}
	load_sessions(&L);
	for (size_t i = 0; i < started; i++)
		pthread_join(thread[i], NULL);
	pthread_mutex_destroy(&L.lock);
	for (size_t j = 0; j < n && !rc; j++) {
		if (job[j].rc) {
			rc = job[j].rc;
			snprintf(tr->err, sizeof(tr->err), "%s", job[j].err ? job[j].err : "out of memory");
		}
	}
	return rc;
}

/* Namespaces and block sizes of the loaded sessions, in file order. */
static int name_sessions(struct pce_trace *tr, const struct job *job, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		struct trace_cursor *c = &tr->cur[job[j].cursor];
		struct input *in = &tr->in[c->input];
		const char *name = trace_session_global(c->session) ? "(global ids)" : job[j].path;
		uint32_t bs = trace_session_block_size(c->session);
		uint64_t ns;
		int rc = trace_ns_get(tr, name, strlen(name), &ns);

		if (rc)
			return rc;
		trace_session_set_ns(c->session, ns);
		in->block_size = job[j].cursor == in->first || in->block_size == bs ? bs : 0;
	}
	return 0;
}

/* Cursors and jobs for the sessions of a kvtester input (a file, or every
 * session file of a directory). */
static int add_sessions(struct pce_trace *tr, struct input *in, char **files, size_t n_files,
			struct job **jobs, size_t *n_jobs)
{
	struct job *j = realloc(*jobs, (*n_jobs + n_files) * sizeof(*j));

	if (!j)
		return trace_fail(tr, PCE_TRACE_ENOMEM, in->path, 0, "out of memory");
	*jobs = j;
	for (size_t i = 0; i < n_files; i++) {
		const char *path = files ? files[i] : in->path;
		int rc = add_cursor(tr, in, path);

		if (rc)
			return rc;
		j[(*n_jobs)++] = (struct job){path, files ? NULL : &in->src, tr->n_cur - 1, 0, NULL};
	}
	return 0;
}

/* A directory's session files, sorted by name. */
static int list_dir(struct pce_trace *tr, const char *path, char ***out, size_t *n)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char **files = NULL;
	size_t cap = 0;

	*n = 0;
	if (!d)
		return trace_fail(tr, PCE_TRACE_EIO, path, 0, "%s", strerror(errno));
	while ((e = readdir(d))) {
		size_t len = strlen(path) + strlen(e->d_name) + 2;
		char *f;

		if (!session_name(e->d_name))
			continue;
		if (*n == cap) {
			char **p = realloc(files, (cap = cap ? 2 * cap : 64) * sizeof(*p));
			if (!p)
				goto nomem;
			files = p;
		}
		f = malloc(len);
		if (!f)
			goto nomem;
		snprintf(f, len, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/",
			 e->d_name);
		files[(*n)++] = f;
	}
	closedir(d);
	if (*n)
		qsort(files, *n, sizeof(*files), by_name);
	*out = files;
	if (*n == 0)
		return trace_fail(tr, PCE_TRACE_EINPUT, path, 0,
				  "no session files (*.json, *.json.gz) in this directory");
	return 0;
nomem:
	closedir(d);
	*out = files;
	return trace_fail(tr, PCE_TRACE_ENOMEM, path, 0, "out of memory");
}

static int open_input(struct pce_trace *tr, struct input *in, int is_dir)
{
	enum pce_trace_format f = tr->opts.format;
	int rc;

	if (is_dir && f != PCE_TRACE_AUTO && f != PCE_TRACE_KVTESTER)
		return trace_fail(tr, PCE_TRACE_EINPUT, in->path, 0,
				  "a directory, but only kvtester inputs are directories");
	if (is_dir)
		f = PCE_TRACE_KVTESTER;
	if (f == PCE_TRACE_AUTO) {
		rc = detect(tr, in, &f);
		if (rc)
			return rc;
	}
	in->format = f;
	if ((f == PCE_TRACE_TOKENS || f == PCE_TRACE_TEXT) && tr->opts.block_size > 1)
		return trace_fail(tr, PCE_TRACE_EINPUT, in->path, 0,
				  "--block-size applies to block-id traces (mooncake, kvtester); "
				  "%s ids are tokens",
				  pce_trace_format_name(f));
	return 0;
}

static int open_stream(struct pce_trace *tr, struct input *in)
{
	struct trace_cursor *c;
	int rc = add_cursor(tr, in, in->path);

	if (rc)
		return rc;
	c = &tr->cur[tr->n_cur - 1];
	/* The cursor reads on from where detection peeked. */
	c->src = in->src;
	c->src_open = 1;
	in->src_open = 0;
	in->block_size = 1;
	if (in->format == PCE_TRACE_MOONCAKE) {
		in->block_size = tr->opts.block_size ? tr->opts.block_size : 512;
		rc = trace_ns_get(tr, in->path, strlen(in->path), &c->ns);
	} else if (in->format == PCE_TRACE_TEXT) {
		rc = trace_ns_get(tr, "", 0, &c->ns);
	}
	c->block_size = in->block_size;
	return rc;
}

/* ---- cursors and the merge ------------------------------------------------ */

static int advance(struct pce_trace *tr, struct trace_cursor *c)
{
	struct input *in = &tr->in[c->input];
	char *line;
	size_t len;
	int rc;

	c->has_head = 0;
	if (c->session) {
		if (c->next == trace_session_requests(c->session))
			return 0;
		if (trace_session_fill(c->session, c->next++, c))
			return trace_fail(tr, PCE_TRACE_ENOMEM, in->path, 0, "out of memory");
		c->has_head = 1;
		return 0;
	}
	if (c->format == PCE_TRACE_TOKENS) {
		rc = trace_line_tokens(tr, c);
	} else if (c->format == PCE_TRACE_MOONCAKE) {
		rc = trace_line_mooncake(tr, c);
	} else {
		while ((rc = trace_src_line(tr, &c->src, &line, &len)) == 1 && blank(line, len))
			;
		if (rc == 1 && (rc = trace_line_text(tr, c, line, len)) == 0)
			rc = 1;
	}
	if (rc <= 0)
		return rc;
	c->has_head = 1;
	if (c->seen_t && c->head.t < c->last_t) {
		if (in->backwards++ == 0) {
			in->backwards_line = c->src.line_no;
			in->backwards_from = c->last_t;
			in->backwards_to = c->head.t;
		}
	}
	c->seen_t = 1;
	c->last_t = c->head.t;
	return 0;
}

static int before(const struct trace_cursor *a, const struct trace_cursor *b)
{
	if (a->head.t != b->head.t)
		return a->head.t < b->head.t;
	return a->order < b->order;
}

static void sift_down(struct pce_trace *tr, size_t i)
{
	struct trace_cursor **h = tr->heap;

	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < tr->heap_len && before(h[l], h[m]))
			m = l;
		if (l + 1 < tr->heap_len && before(h[l + 1], h[m]))
			m = l + 1;
		if (m == i)
			return;
		struct trace_cursor *t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Advance every cursor to its first request and heapify. */
static int prime(struct pce_trace *tr)
{
	tr->heap_len = 0;
	tr->pending = 0;
	tr->emitted = 0;
	tr->failed = 0;
	for (size_t i = 0; i < tr->n_in; i++)
		tr->in[i].backwards = 0;
	for (size_t i = 0; i < tr->n_cur; i++) {
		int rc = advance(tr, &tr->cur[i]);

		if (rc)
			return rc;
		if (tr->cur[i].has_head)
			tr->heap[tr->heap_len++] = &tr->cur[i];
	}
	for (size_t i = tr->heap_len / 2; i-- > 0;)
		sift_down(tr, i);
	return 0;
}

int pce_trace_next(struct pce_trace *tr, struct pce_trace_request *req)
{
	int rc;

	if (tr->failed)
		return PCE_TRACE_EINPUT;
	if (tr->pending) {
		tr->pending = 0;
		rc = advance(tr, tr->heap[0]);
		if (rc) {
			tr->failed = 1;
			return rc;
		}
		if (!tr->heap[0]->has_head)
			tr->heap[0] = tr->heap[--tr->heap_len];
		sift_down(tr, 0);
	}
	if (tr->heap_len == 0)
		return PCE_TRACE_END;
	*req = tr->heap[0]->head;
	req->index = tr->emitted++;
	tr->pending = 1;
	return PCE_TRACE_REQUEST;
}

int pce_trace_open(struct pce_trace **out, const char *const *paths, size_t n,
		   const struct pce_trace_opts *opts)
{
	struct pce_trace *tr = calloc(1, sizeof(*tr));
	struct job *jobs = NULL;
	size_t n_jobs = 0;
	char ***dir_files = NULL;
	size_t *dir_n = NULL;
	int rc = 0;

	*out = tr;
	if (!tr)
		return PCE_TRACE_ENOMEM;
	if (opts)
		tr->opts = *opts;
	tr->in = calloc(n ? n : 1, sizeof(*tr->in));
	dir_files = calloc(n ? n : 1, sizeof(*dir_files));
	dir_n = calloc(n ? n : 1, sizeof(*dir_n));
	if (!tr->in || !dir_files || !dir_n) {
		rc = trace_fail(tr, PCE_TRACE_ENOMEM, "pce", 0, "out of memory");
		goto out;
	}
	if ((unsigned)tr->opts.format >= PCE_TRACE_FORMAT_COUNT) {
		rc = trace_fail(tr, PCE_TRACE_EINPUT, "pce", 0, "unknown format");
		goto out;
	}
	/* Pass 1: every input exists and has a format. */
	for (size_t i = 0; i < n && !rc; i++) {
		struct input *in = &tr->in[tr->n_in++];
		struct stat st;
		int is_dir = 0;

		in->src.fd = -1;
		in->path = strdup(strcmp(paths[i], "-") == 0 ? "<stdin>" : paths[i]);
		if (!in->path) {
			rc = trace_fail(tr, PCE_TRACE_ENOMEM, "pce", 0, "out of memory");
			break;
		}
		if (strcmp(paths[i], "-") == 0) {
			int fd = dup(STDIN_FILENO);

			rc = fd < 0 ? trace_fail(tr, PCE_TRACE_EIO, in->path, 0, "%s", strerror(errno))
				    : trace_src_open_fd(tr, &in->src, in->path, fd);
			in->src_open = rc == 0;
		} else if (stat(paths[i], &st) != 0) {
			rc = trace_fail(tr, PCE_TRACE_EIO, paths[i], 0, "%s", strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			is_dir = 1;
			rc = list_dir(tr, paths[i], &dir_files[i], &dir_n[i]);
		} else {
			rc = trace_src_open(tr, &in->src, in->path);
			in->src_open = rc == 0;
		}
		if (!rc && in->src_open && tr->opts.rewindable && !in->src.seekable)
			rc = spool(tr, in);
		if (!rc && in->src_open && tr->opts.max_line)
			in->src.line_max = tr->opts.max_line;
		if (!rc)
			rc = open_input(tr, in, is_dir);
	}
	/* Pass 2: cursors, then kvtester sessions are loaded. */
	for (size_t i = 0; i < tr->n_in && !rc; i++) {
		struct input *in = &tr->in[i];

		in->first = tr->n_cur;
		if (in->format == PCE_TRACE_KVTESTER)
			rc = add_sessions(tr, in, dir_files[i], dir_files[i] ? dir_n[i] : 1, &jobs,
					  &n_jobs);
		else
			rc = open_stream(tr, in);
	}
	if (!rc && n_jobs)
		rc = run_loaders(tr, jobs, n_jobs);
	if (!rc)
		rc = name_sessions(tr, jobs, n_jobs);
	if (!rc) {
		tr->heap = malloc((tr->n_cur ? tr->n_cur : 1) * sizeof(*tr->heap));
		rc = tr->heap ? prime(tr)
			      : trace_fail(tr, PCE_TRACE_ENOMEM, "pce", 0, "out of memory");
	}
out:
	for (size_t j = 0; j < n_jobs; j++)
		free(jobs[j].err);
	free(jobs);
	for (size_t i = 0; dir_files && i < n; i++) {
		for (size_t k = 0; k < dir_n[i]; k++)
			free(dir_files[i][k]);
		free(dir_files[i]);
	}
	free(dir_files);
	free(dir_n);
	if (rc)
		tr->failed = 1;
	return rc;
}

int pce_trace_rewind(struct pce_trace *tr)
{
	for (size_t i = 0; i < tr->n_cur; i++) {
		struct trace_cursor *c = &tr->cur[i];
		int rc = c->src_open ? trace_src_rewind(tr, &c->src) : 0;

		if (rc)
			return rc;
		c->next = 0;
		c->has_head = 0;
		c->seen_t = 0;
	}
	tr->err[0] = '\0';
	if (!tr->heap)
		return trace_fail(tr, PCE_TRACE_EINPUT, "pce", 0, "the trace failed to open");
	return prime(tr);
}

void trace_wait_notice(struct pce_trace *tr, const char *path)
{
	if (tr->opts.on_wait)
		tr->opts.on_wait(tr->opts.ctx, path);
}

const char *pce_trace_warning(struct pce_trace *tr)
{
	size_t more = 0;
	const struct input *first = NULL;

	for (size_t i = 0; i < tr->n_in; i++) {
		if (tr->in[i].backwards && !first)
			first = &tr->in[i];
		else if (tr->in[i].backwards)
			more++;
	}
	tr->warning[0] = '\0';
	if (first)
		snprintf(tr->warning, sizeof(tr->warning),
			 "%s:%llu: arrival time goes backwards (%.17g s after %.17g s), %llu "
			 "time%s in this input%s: requests are taken in file order, not sorted, "
			 "so the warm-up share and the merge with other inputs follow the file",
			 first->path, (unsigned long long)first->backwards_line,
			 first->backwards_to, first->backwards_from,
			 (unsigned long long)first->backwards, first->backwards == 1 ? "" : "s",
			 more ? " (and in other inputs)" : "");
	return tr->warning;
}

const char *pce_trace_error(const struct pce_trace *tr)
{
	return tr ? tr->err : "out of memory";
}

double pce_trace_progress(const struct pce_trace *tr)
{
	uint64_t done = 0;

	if (!tr->total_bytes)
		return 1.0;
	for (size_t i = 0; i < tr->n_cur; i++) {
		const struct trace_cursor *c = &tr->cur[i];

		if (c->session) {
			size_t n = trace_session_requests(c->session);
			done += n ? (uint64_t)((double)c->bytes * (double)c->next / (double)n)
				  : c->bytes;
		} else if (c->src_open) {
			done += c->has_head ? trace_src_offset(&c->src) : c->bytes;
		}
	}
	return done >= tr->total_bytes ? 1.0 : (double)done / (double)tr->total_bytes;
}

size_t pce_trace_inputs(const struct pce_trace *tr)
{
	return tr->n_in;
}

const char *pce_trace_input_path(const struct pce_trace *tr, size_t i)
{
	return i < tr->n_in ? tr->in[i].path : "";
}

enum pce_trace_format pce_trace_input_format(const struct pce_trace *tr, size_t i)
{
	return i < tr->n_in ? tr->in[i].format : PCE_TRACE_AUTO;
}

uint32_t pce_trace_input_block_size(const struct pce_trace *tr, size_t i)
{
	return i < tr->n_in ? tr->in[i].block_size : 0;
}

void pce_trace_close(struct pce_trace *tr)
{
	if (!tr)
		return;
	for (size_t i = 0; i < tr->n_cur; i++) {
		struct trace_cursor *c = &tr->cur[i];

		if (c->src_open)
			trace_src_close(&c->src);
		trace_session_free(c->session);
		trace_arena_free(&c->arena);
		free(c->ids);
		free(c->scratch);
	}
	for (size_t i = 0; i < tr->n_in; i++) {
		if (tr->in[i].src_open)
			trace_src_close(&tr->in[i].src);
		free(tr->in[i].path);
	}
	for (size_t i = 0; i < tr->n_ns; i++)
		free(tr->ns_name[i]);
	free(tr->ns_name);
	free(tr->ns_slot);
	free(tr->in);
	free(tr->cur);
	free(tr->heap);
	free(tr);
}
