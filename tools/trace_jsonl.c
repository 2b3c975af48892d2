/*
 * trace_jsonl.c - JSON read straight from a source, without holding the
 * text: one object per line for the tokens and mooncake formats, and the
 * first keys of a document for format detection.
 *
 * Why not cJSON on the line: a cJSON number is a node of about 64 bytes,
 * so a line of N token ids cost 100-130 bytes per id while parsing, on top
 * of the line itself.  Here the ids array is parsed as it is read, each id
 * going straight into the cursor's uint32_t array (4 bytes per id, plus the
 * array's doubling), and the line's bytes are consumed as they are parsed:
 * the source's buffer stays one chunk large however long the line is.  The
 * few other fields a format reads ("t", "ns", "timestamp", "input_length")
 * are short: their text is captured and handed to cJSON, so their meaning
 * and their messages (trace_json.c) are exactly cJSON's.  Every other value
 * is checked and skipped.
 *
 * Grammar: what cJSON 1.7 accepts, which is what the readers accepted
 * before: blanks are bytes 1..32; a number is the longest run of
 * [0-9+-eE.] that strtod() reads, starting with '-' or a digit; strings
 * need valid escapes (\u with surrogate pairs checked as cJSON does); at
 * most 1000 levels of nesting.  After the object only blanks " \t\r" may
 * follow on the line.  The first occurrence of a repeated key counts, as
 * with cJSON_GetObjectItemCaseSensitive().
 *
 * Limits are checked as they are reached: the line's length before each
 * read (trace_src_more()), the number of ids before each one is stored.
 *
 * Messages are those of trace_json_parse(): "column C: invalid JSON near
 * ...", "the text ends before the value is complete", "unexpected text
 * after the JSON value", and a NUL byte anywhere on the line wins over a
 * syntax error, as when the line was checked whole.
 *
 * Peek mode (detection) reads the same way but consumes nothing, so the
 * parser later reads the same bytes from the same stream; a document may
 * then span lines ('\n' is a blank), as a pretty-printed kvtester file does.
 */
#include <stdlib.h>
#include <string.h>

#include "trace_internal.h"

#define NESTING_LIMIT 1000 /* cJSON's CJSON_NESTING_LIMIT */
#define KEY_MAX 32         /* longer keys are none of ours */
#define EXCERPT 32
#define END (-1)           /* peekc(): end of the input */
#define ERR (-2)           /* peekc(): error, in r->rc */

struct rd {
	struct pce_trace *tr;
	struct trace_src *s;
	struct trace_cursor *c;  /* scratch space (NULL when peeking) */
	const char *p, *end;     /* unread bytes of s->buf */
	int peek;
	int rc;                  /* the error behind ERR */
	int depth;
	uint64_t line;           /* line of *p */
	uint64_t line_off;       /* stream offset of that line's first byte */
	const char *cap_from;    /* capturing a value's text since there */
	size_t cap_len;          /* captured so far, in c->scratch */
};

static uint64_t offset(const struct rd *r, const char *p)
{
	return r->s->off0 + (uint64_t)(p - r->s->buf);
}

static size_t column(const struct rd *r, const char *p)
{
	return (size_t)(offset(r, p) - r->line_off) + 1;
}

static int scratch_append(struct rd *r, const char *from, size_t n)
{
	struct trace_cursor *c = r->c;

	if (r->cap_len + n + 1 > c->scratch_cap) {
		size_t cap = c->scratch_cap ? c->scratch_cap : 256;
		char *b;

		while (cap < r->cap_len + n + 1)
			cap *= 2;
		b = realloc(c->scratch, cap);
		if (!b)
			return trace_fail(r->tr, PCE_TRACE_ENOMEM, r->s->path, 0, "out of memory");
		c->scratch = b;
		c->scratch_cap = cap;
	}
	memcpy(c->scratch + r->cap_len, from, n);
	r->cap_len += n;
	c->scratch[r->cap_len] = '\0';
	return 0;
}

/* Read on: everything from r->p on stays in the buffer; before it, only
 * what peek mode or a capture needs.  Return: the next byte, END or ERR. */
static int refill(struct rd *r)
{
	struct trace_src *s = r->s;
	size_t off, held;
	int rc;

	if (r->cap_from) {
		rc = scratch_append(r, r->cap_from, (size_t)(r->p - r->cap_from));
		if (rc)
			return r->rc = rc, ERR;
	}
	off = (size_t)(r->p - (s->buf + s->start));
	if (!r->peek) {
		s->start += off;
		off = 0;
	}
	held = r->peek ? s->end - s->start : (size_t)(offset(r, r->p) - r->line_off);
	rc = trace_src_more(r->tr, s, r->line, held);
	r->p = s->buf + s->start + off;
	r->end = s->buf + s->end;
	if (r->cap_from)
		r->cap_from = r->p;
	if (rc < 0)
		return r->rc = rc, ERR;
	return r->p < r->end ? (unsigned char)*r->p : END;
}

static inline int peekc(struct rd *r)
{
	return r->p < r->end ? (unsigned char)*r->p : refill(r);
}

static void newline(struct rd *r)
{
	r->p++;
	r->line++;
	r->line_off = offset(r, r->p);
}

/* Skip blanks; return the next byte, not consumed. */
static int blanks(struct rd *r)
{
	for (;;) {
		int c = peekc(r);

		if (c == '\n' && r->peek)
			newline(r);
		else if (c > 0 && c <= 32 && c != '\n')
			r->p++;
		else
			return c;
	}
}

static int fail(struct rd *r, size_t col, const char *msg)
{
	return trace_fail(r->tr, PCE_TRACE_EINPUT, r->s->path, r->line, "column %zu: %s", col,
			  msg);
}

/* A NUL byte from r->p to the end of the line, if any: its column. */
static size_t nul_ahead(struct rd *r)
{
	for (;;) {
		int c = peekc(r);

		if (c == 0)
			return column(r, r->p);
		if (c < 0 || c == '\n')
			return 0;
		r->p++;
	}
}

/* The value is not what the grammar allows at r->p: say where, and why.
 * @what: "invalid JSON near" or "unexpected text after the JSON value:". */
static int bad_text(struct rd *r, const char *what)
{
	char excerpt[EXCERPT], msg[EXCERPT + 64];
	size_t k = 0, col, nul;
	int c = peekc(r);

	if (c == ERR)
		return r->rc;
	if (c == END || (c == '\n' && !r->peek)) {
		/* cJSON points at the last byte of the text */
		col = column(r, r->p) > 1 ? column(r, r->p) - 1 : 1;
		return fail(r, col, "invalid JSON: the text ends before the value is complete "
				    "(truncated?)");
	}
	col = column(r, r->p);
	while (r->end - r->p < EXCERPT && !r->s->eof && refill(r) >= 0)
		;
	if (r->rc)
		return r->rc;
	for (const char *p = r->p; p < r->end && k < EXCERPT - 1 && *p != '\n'; p++)
		excerpt[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	excerpt[k] = '\0';
	nul = nul_ahead(r);
	if (r->rc)
		return r->rc;
	if (nul)
		return fail(r, nul, "a NUL byte: binary data, not JSON");
	snprintf(msg, sizeof(msg), "%s \"%s\"", what, excerpt);
	return fail(r, col, msg);
}

static int syntax(struct rd *r)
{
	return bad_text(r, "invalid JSON near");
}

static int literal(struct rd *r, const char *word)
{
	for (; *word; word++) {
		if (peekc(r) != (unsigned char)*word)
			return syntax(r);
		r->p++;
	}
	return 0;
}

/* cJSON's parse_hex4(): 0 for anything but 4 hex digits. */
static unsigned hex4(struct rd *r, int *ok)
{
	unsigned h = 0, bad = 0;

	for (int i = 0; i < 4; i++) {
		int c = peekc(r);

		if (c < 0 || c == '"' || c == '\\' || c == '\n') {
			*ok = 0;
			return 0;
		}
		r->p++;
		if (c >= '0' && c <= '9')
			h = h * 16 + (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			h = h * 16 + (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			h = h * 16 + (unsigned)(c - 'A' + 10);
		else
			bad = 1;
	}
	*ok = 1;
	return bad ? 0 : h;
}

/* A string at r->p ('"').  @key (KEY_MAX bytes) receives it decoded when
 * it is short and plain ASCII, else "" (none of our keys). */
static int string(struct rd *r, char *key)
{
	size_t k = 0;
	int plain = key != NULL;

	r->p++;
	for (;;) {
		int c = peekc(r), ok;
		unsigned u;
	int rc;

		if (c == ERR)
			return r->rc;
		if (c == END || (c == '\n' && !r->peek))
			return syntax(r);
		if (c == 0)
			return fail(r, column(r, r->p), "a NUL byte: binary data, not JSON");
		if (c == '"') {
			r->p++;
			break;
		}
		if (c == '\n') {
			newline(r);
			plain = 0;
			continue;
		}
		r->p++;
		if (c == '\\') {
			c = peekc(r);
			if (c < 0 || !strchr("\"\\/bfnrtu", c))
				return syntax(r);
			r->p++;
			if (c == 'u') {
				u = hex4(r, &ok);
				if (!ok || (u >= 0xdc00 && u <= 0xdfff))
					return syntax(r);
				if (u >= 0xd800 && u <= 0xdbff) {
					rc = literal(r, "\\u");
					if (rc)
						return rc;
					u = hex4(r, &ok);
					if (!ok || u < 0xdc00 || u > 0xdfff)
						return syntax(r);
					plain = 0;
				}
				c = (int)u;
			} else if (c != '"' && c != '\\' && c != '/') {
				plain = 0;
			}
			if (c == 0 || c >= 0x80)
				plain = 0;
		}
		if (plain && k < KEY_MAX - 1)
			key[k++] = (char)c;
		else
			plain = 0;
	}
	if (key)
		key[plain ? k : 0] = '\0';
	return 0;
}

static int is_num(int c)
{
	return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'e' || c == 'E' || c == '.';
}

/* A number at r->p; *out its value.  cJSON's reading: the longest run of
 * number characters, of which strtod() takes what it can; what it leaves
 * is read as what follows (and is then a syntax error). */
static int number(struct rd *r, double *out)
{
	char small[64], *run = small;
	size_t n = 0;
	uint64_t v = 0;
	int digits = 1;
	char *e;

	for (;;) {
		int c;

		if (r->p + n == r->end) {
			if (refill(r) == ERR)
				return r->rc;
			if (r->p + n == r->end) /* the end of the input */
				break;
		}
		c = (unsigned char)r->p[n];
		if (!is_num(c))
			break;
		digits &= c >= '0' && c <= '9';
		if (digits)
			v = v * 10 + (uint64_t)(c - '0');
		n++;
	}
	if (digits && n > 0 && n <= 15) {
		*out = (double)v;
		r->p += n;
		return 0;
	}
	if (n >= sizeof(small)) {
		run = malloc(n + 1); /* a long run is rare */
		if (!run)
			return trace_fail(r->tr, PCE_TRACE_ENOMEM, r->s->path, r->line,
					  "out of memory");
	}
	memcpy(run, r->p, n);
	run[n] = '\0';
	*out = strtod(run, &e);
	n = (size_t)(e - run);
	if (run != small)
		free(run);
	if (n == 0)
		return syntax(r);
	r->p += n;
	return 0;
}

static int object(struct rd *r, int (*field)(struct rd *, const char *, void *), void *ctx);

static int value(struct rd *r)
{
	int c = blanks(r);
	double d;

	switch (c) {
	case '{':
		return object(r, NULL, NULL);
	case '[':
		if (r->depth >= NESTING_LIMIT)
			return syntax(r);
		r->depth++;
		r->p++;
		c = blanks(r);
		if (c == ']') {
			r->p++;
			r->depth--;
			return 0;
		}
		for (;;) {
			int rc = value(r);

			if (rc)
				return rc;
			c = blanks(r);
			if (c == ']')
				break;
			if (c != ',')
				return c == ERR ? r->rc : syntax(r);
			r->p++;
		}
		r->p++;
		r->depth--;
		return 0;
	case '"':
		return string(r, NULL);
	case 't':
		return literal(r, "true");
	case 'f':
		return literal(r, "false");
	case 'n':
		return literal(r, "null");
	case ERR:
		return r->rc;
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return number(r, &d);
		return syntax(r);
	}
}

/* An object at r->p ('{'); @field, if given, is called on each key with
 * r->p at its value (blanks skipped), and must read the value. */
static int object(struct rd *r, int (*field)(struct rd *, const char *, void *), void *ctx)
{
	char key[KEY_MAX];
	int c, rc;

	if (r->depth >= NESTING_LIMIT)
		return syntax(r);
	r->depth++;
	r->p++;
	c = blanks(r);
	if (c == '}') {
		r->p++;
		r->depth--;
		return 0;
	}
	for (;;) {
		if (c != '"')
			return c == ERR ? r->rc : syntax(r);
		rc = string(r, key);
		if (rc)
			return rc;
		c = blanks(r);
		if (c != ':')
			return c == ERR ? r->rc : syntax(r);
		r->p++;
		blanks(r);
		rc = field ? field(r, key, ctx) : value(r);
		if (rc)
			return rc;
		c = blanks(r);
		if (c == '}')
			break;
		if (c != ',')
			return c == ERR ? r->rc : syntax(r);
		r->p++;
		c = blanks(r);
	}
	r->p++;
	r->depth--;
	return 0;
}

/* "a string", "an array"...: the type of the value starting with @c. */
static const char *type_of(int c)
{
	switch (c) {
	case '"':
		return "a string";
	case '{':
		return "an object";
	case '[':
		return "an array";
	case 't':
	case 'f':
		return "a boolean";
	case 'n':
		return "null";
	default:
		return "a number";
	}
}

/* ---- one line of a JSONL format ----------------------------------------- */

struct line {
	const struct trace_jsonl_fields *f;
	cJSON *obj;
	int *has_ids;
	unsigned seen;           /* bit k: values[k]; bit 31: ids */
};

static int ids(struct rd *r, const char *name)
{
	struct trace_cursor *c = r->c;
	struct trace_where w = {r->s->path, r->line, ""};
	size_t n = 0;
	int ch = peekc(r), rc;

	if (ch != '[') {
		rc = value(r);
		if (rc)
			return rc;
		return trace_json_fail(r->tr, &w, name, "expected an array of integers, got %s",
				       type_of(ch));
	}
	r->depth++;
	r->p++;
	ch = blanks(r);
	while (ch != ']') {
		double d;

		if (ch == ERR)
			return r->rc;
		if (n == PCE_TRACE_MAX_IDS)
			return trace_json_fail(r->tr, &w, name, "more than %zu ids (the libpce limit)",
					       PCE_TRACE_MAX_IDS);
		if (ch == '-' || (ch >= '0' && ch <= '9')) {
			rc = number(r, &d);
			if (rc)
				return rc;
		} else {
			rc = value(r);
			d = -1;
		}
		if (rc)
			return rc;
		if (n == c->ids_cap && trace_ids_reserve(&c->ids, &c->ids_cap, n + 1))
			return trace_fail(r->tr, PCE_TRACE_ENOMEM, r->s->path, r->line,
					  "out of memory");
		if (!(d >= 0 && d <= UINT32_MAX && (double)(uint32_t)d == d)) {
			char field[KEY_MAX + 24], got[40];

			snprintf(field, sizeof(field), "%s[%zu]", name, n);
			if (ch == '-' || (ch >= '0' && ch <= '9'))
				snprintf(got, sizeof(got), "%.17g", d);
			else
				snprintf(got, sizeof(got), "%s", type_of(ch));
			return trace_json_fail(r->tr, &w, field,
					       "expected an integer in [0, %u], got %s",
					       UINT32_MAX, got);
		}
		c->ids[n++] = (uint32_t)d;
		ch = blanks(r);
		if (ch == ']')
			break;
		if (ch != ',')
			return ch == ERR ? r->rc : syntax(r);
		r->p++;
		ch = blanks(r);
		if (ch == ']')
			return syntax(r);
	}
	r->p++;
	r->depth--;
	c->head.len = n;
	return 0;
}

/* A value whose text is captured, then parsed by cJSON into the line's
 * object under @name. */
static int captured(struct rd *r, struct line *l, const char *name)
{
	size_t col = column(r, r->p);
	cJSON *v = NULL;
	int rc;

	r->cap_len = 0;
	r->cap_from = r->p;
	rc = value(r);
	if (!rc)
		rc = scratch_append(r, r->cap_from, (size_t)(r->p - r->cap_from));
	r->cap_from = NULL;
	if (rc)
		return rc;
	rc = trace_json_parse(r->tr, r->s->path, r->line, r->c->scratch, r->cap_len, &v);
	if (rc == PCE_TRACE_EINPUT) /* checked above: cJSON disagrees, say where */
		return fail(r, col, "invalid JSON value");
	if (rc)
		return rc;
	if (!cJSON_AddItemToObject(l->obj, name, v))
		return trace_fail(r->tr, PCE_TRACE_ENOMEM, r->s->path, r->line, "out of memory");
	return 0;
}

static int line_field(struct rd *r, const char *key, void *ctx)
{
	struct line *l = ctx;
	int ch;

	if (!(l->seen & 1u << 31) && strcmp(key, l->f->ids) == 0) {
		l->seen |= 1u << 31;
		ch = peekc(r);
		if (ch == 'n') /* null: as if absent */
			return value(r);
		*l->has_ids = 1;
		return ids(r, l->f->ids);
	}
	for (size_t k = 0; k < l->f->n_values; k++) {
		if (!(l->seen & 1u << k) && strcmp(key, l->f->values[k]) == 0) {
			l->seen |= 1u << k;
			return captured(r, l, l->f->values[k]);
		}
	}
	return value(r);
}

static void rd_init(struct rd *r, struct pce_trace *tr, struct trace_src *s, size_t at)
{
	memset(r, 0, sizeof(*r));
	r->tr = tr;
	r->s = s;
	r->p = s->buf + s->start + at;
	r->end = s->buf + s->end;
	r->line = s->line_no + 1;
	r->line_off = s->off0 + s->start;
}

static int read_line(struct rd *r, struct line *l)
{
	int ch = blanks(r), rc;

	if (ch == ERR)
		return r->rc;
	if (ch != '{') {
		rc = value(r);
		if (rc)
			return rc;
	} else {
		rc = object(r, line_field, l);
		if (rc)
			return rc;
	}
	for (;;) {
		int c = peekc(r);

		if (c == ' ' || c == '\t' || c == '\r') {
			r->p++;
			continue;
		}
		if (c == ERR)
			return r->rc;
		if (c != '\n' && c != END)
			return bad_text(r, "unexpected text after the JSON value:");
		if (c == '\n')
			r->p++;
		break;
	}
	if (ch != '{')
		return trace_fail(r->tr, PCE_TRACE_EINPUT, r->s->path, r->line,
				  "expected a JSON object, got %s", type_of(ch));
	return 0;
}

int trace_jsonl_next(struct pce_trace *tr, struct trace_cursor *c,
		     const struct trace_jsonl_fields *f, cJSON **obj, int *has_ids)
{
	struct trace_src *s = &c->src;
	struct line l = {.f = f, .has_ids = has_ids};
	struct rd r;
	int rc;

	rd_init(&r, tr, s, 0);
	r.c = c;
	*has_ids = 0;
	c->head.len = 0;
	/* blank lines */
	for (;;) {
		int ch = peekc(&r);

		if (ch == ' ' || ch == '\t' || ch == '\r') {
			r.p++;
		} else if (ch == '\n') {
			newline(&r);
		} else if (ch == END || ch == ERR) {
			s->start = (size_t)(r.p - s->buf);
			return ch == END ? 0 : r.rc;
		} else {
			break;
		}
	}
	/* the line starts here */
	s->start = (size_t)(r.p - s->buf);
	s->line_no = r.line;
	r.line_off = offset(&r, r.p);
	trace_arena_enter(&c->arena);
	l.obj = cJSON_CreateObject();
	rc = l.obj ? read_line(&r, &l)
		   : trace_fail(tr, PCE_TRACE_ENOMEM, s->path, r.line, "out of memory");
	s->start = (size_t)(r.p - s->buf);
	if (rc) {
		trace_arena_leave(&c->arena);
		return rc;
	}
	*obj = l.obj;
	return 1;
}

/* ---- detection ---------------------------------------------------------- */

struct sniff {
	const char *const *keys;
	size_t n;
	int which;
};

static int sniff_field(struct rd *r, const char *key, void *ctx)
{
	struct sniff *sn = ctx;

	if (r->depth == 1 && sn->which < 0) {
		for (size_t k = 0; k < sn->n; k++) {
			if (strcmp(key, sn->keys[k]) == 0) {
				sn->which = (int)k;
				return 1; /* found: stop reading */
			}
		}
	}
	return value(r);
}

int trace_jsonl_sniff(struct pce_trace *tr, struct trace_src *s, size_t at, uint64_t line,
		      const char *const *keys, size_t n, int *which)
{
	struct sniff sn = {keys, n, -1};
	struct rd r;
	int rc;

	rd_init(&r, tr, s, at);
	r.peek = 1;
	r.line = line;
	/* the line starts at @at: find its start for the columns */
	while (r.p > s->buf + s->start && r.p[-1] != '\n')
		r.p--;
	r.line_off = offset(&r, r.p);
	r.p = s->buf + s->start + at;
	rc = object(&r, sniff_field, &sn);
	*which = sn.which;
	return rc == 1 ? 0 : rc;
}
