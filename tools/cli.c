/*
 * cli.c - what the pce subcommands share (see cli.h).
 *
 * Output discipline: results go to stdout (a table, or one JSON object
 * with --json); messages and the progress bar go to stderr, the bar only
 * when stderr is a terminal and the work has lasted a second, so pipes and
 * logs never see it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "utf8.h"

#define BAR_WIDTH 30
#define BAR_DELAY 1.0   /* seconds before the bar first shows */
#define BAR_PERIOD 0.1  /* seconds between redraws */

/* "pce CMD: message" on stderr, without the newline. */
__attribute__((format(printf, 2, 0)))
static void message(const char *cmd, const char *fmt, va_list ap)
{
	fprintf(stderr, "pce %s: ", cmd);
	vfprintf(stderr, fmt, ap);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	message(cmd, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	message(cmd, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'pce %s --help'.\n", cmd);
	return CLI_BADINPUT;
}

int cli_count(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max,
	      uint64_t *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end != s && *end) {
		static const char units[] = "kMGT";
		const char *u = strchr(units, *end);

		if (u && end[1] == '\0') {
			v *= pow(1000, (double)(u - units + 1));
			end++;
		}
	}
	if (end == s || *end || errno || !isfinite(v) || v != floor(v) || v < (double)min ||
	    v > (double)max)
		return cli_usage(cmd, "%s: '%s' is not an integer in [%llu, %llu] (k, M, G allowed)",
				 opt, s, (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)v;
	return 0;
}

int cli_fraction(const char *cmd, const char *opt, const char *s, double min, double max,
		 int max_open, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v < min || v > max ||
	    (max_open && v == max))
		return cli_usage(cmd, "%s: '%s' is not a number in [%g, %g%c", opt, s, min, max,
				 max_open ? ')' : ']');
	*out = v;
	return 0;
}

int cli_input_option(const char *cmd, struct cli_input *in, int opt, const char *arg)
{
	uint64_t v = 0;
	int f;

	switch (opt) {
	case 'f':
		f = pce_trace_format_parse(arg);
		if (f < 0)
			return -cli_usage(cmd, "--format: '%s' is none of auto, tokens, mooncake, "
					       "kvtester, text",
					  arg);
		in->trace.format = (enum pce_trace_format)f;
		return 1;
	case 'b':
		if (cli_count(cmd, "--block-size", arg, 1, 1u << 20, &v))
			return -CLI_BADINPUT;
		in->trace.block_size = (uint32_t)v;
		return 1;
	case 'w':
		if (cli_fraction(cmd, "--warmup-fraction", arg, 0, 1, 1, &in->warmup_fraction))
			return -CLI_BADINPUT;
		return 1;
	case CLI_OPT_JSON:
		in->json = 1;
		return 1;
	case CLI_OPT_NO_PROGRESS:
		in->progress = 0;
		return 1;
	default:
		return 0;
	}
}

int cli_other_option(const char *cmd, int opt, const char *usage, char **argv)
{
	if (opt == 'h') {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (opt == ':')
		return cli_usage(cmd, "%s needs a value", argv[optind - 1]);
	return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
}

/* ---- progress ----------------------------------------------------------- */

double cli_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress_start(struct cli_progress *p, const char *label, int allowed)
{
	p->label = label;
	p->allowed = allowed && isatty(STDERR_FILENO);
	p->drawn = 0;
	p->start = cli_seconds();
	p->last = 0;
}

void cli_progress_update(struct cli_progress *p, double fraction)
{
	double now;
	int fill;

	if (!p->allowed)
		return;
	now = cli_seconds();
	if (now - p->start < BAR_DELAY || now - p->last < BAR_PERIOD)
		return;
	p->last = now;
	fraction = fraction < 0 ? 0 : fraction > 1 ? 1 : fraction;
	fill = (int)(fraction * BAR_WIDTH + 0.5);
	fprintf(stderr, "\r%s [%.*s%*s] %3.0f%%  %.1f s\033[K", p->label, fill,
		"##############################", BAR_WIDTH - fill, "", fraction * 100,
		now - p->start);
	fflush(stderr);
	p->drawn = 1;
}

void cli_progress_done(struct cli_progress *p)
{
	if (p->drawn)
		fputs("\r\033[K", stderr);
	p->drawn = 0;
}

void cli_progress_cb(void *ctx, double fraction)
{
	cli_progress_update(ctx, fraction);
}

static void on_load(void *ctx, size_t done, size_t total)
{
	cli_progress_update(ctx, total ? (double)done / (double)total : 1);
}

/* ---- inputs ---------------------------------------------------------------- */

static void on_wait(void *ctx, const char *path)
{
	cli_progress_done(ctx);
	fprintf(stderr, "pce: %s: nothing to read yet: waiting for the pipe's writer\n", path);
}

/* The exit status for a PCE_TRACE_* error, after printing @detail (the
 * reader's or the engine's message). */
static int trace_failure(const char *cmd, int rc, const char *detail)
{
	cli_error(cmd, "%s", detail);
	return rc == PCE_TRACE_EINPUT || rc == PCE_TRACE_EIO ? CLI_BADINPUT : CLI_FAILURE;
}

int cli_pass_status(const char *cmd, struct pce_trace *tr, int rc, const char *error,
		    uint64_t requests)
{
	const char *warning;

	if (rc)
		return trace_failure(cmd, rc, error[0] ? error : pce_trace_error(tr));
	warning = pce_trace_warning(tr);
	if (warning[0])
		cli_error(cmd, "warning: %s", warning);
	if (requests == 0) {
		char name[1024];

		cli_error(cmd, "%s: no requests in the input",
			  cli_text(name, sizeof(name), pce_trace_input_path(tr, 0)));
		return CLI_BADINPUT;
	}
	return 0;
}

int cli_open(const char *cmd, struct cli_input *in, char **paths, int n,
	     struct cli_progress *p, struct pce_trace **out)
{
	const char *label = p->label;
	int rc;

	if (n == 0)
		return cli_usage(cmd, "no input given");
	in->trace.on_load = on_load;
	in->trace.on_wait = on_wait;
	in->trace.ctx = p;
	p->label = "loading sessions";
	rc = pce_trace_open(out, (const char *const *)paths, (size_t)n, &in->trace);
	p->label = label;
	if (rc) {
		rc = trace_failure(cmd, rc, *out ? pce_trace_error(*out) : "out of memory");
		pce_trace_close(*out);
		*out = NULL;
		return rc;
	}
	return 0;
}

uint32_t cli_block_size(const struct pce_trace *tr)
{
	uint32_t bs = 0;

	for (size_t i = 0; i < pce_trace_inputs(tr); i++) {
		uint32_t b = pce_trace_input_block_size(tr, i);

		if (b == 0 || (bs && b != bs))
			return 0;
		bs = b;
	}
	return bs;
}

int cli_has_text(const struct pce_trace *tr)
{
	for (size_t i = 0; i < pce_trace_inputs(tr); i++) {
		if (pce_trace_input_format(tr, i) == PCE_TRACE_TEXT)
			return 1;
	}
	return 0;
}

static void describe_one(const struct pce_trace *tr, size_t i, char *out, size_t n)
{
	enum pce_trace_format f = pce_trace_input_format(tr, i);
	uint32_t bs = pce_trace_input_block_size(tr, i);

	if (f == PCE_TRACE_TOKENS)
		snprintf(out, n, "tokens (one id per token)");
	else if (f == PCE_TRACE_TEXT)
		snprintf(out, n, "text (approximate tokens, built-in byte-level tokenizer)");
	else if (bs)
		snprintf(out, n, "%s, %u tokens per block id", pce_trace_format_name(f), bs);
	else
		snprintf(out, n, "%s, block sizes differ between sessions",
			 pce_trace_format_name(f));
}

void cli_describe_inputs(const struct pce_trace *tr, char *out, size_t n)
{
	size_t inputs = pce_trace_inputs(tr);

	if (inputs == 1) {
		describe_one(tr, 0, out, n);
		return;
	}
	for (size_t i = 1; i < inputs; i++) {
		if (pce_trace_input_format(tr, i) != pce_trace_input_format(tr, 0) ||
		    pce_trace_input_block_size(tr, i) != pce_trace_input_block_size(tr, 0)) {
			snprintf(out, n, "%zu inputs of several formats, merged by arrival time",
				 inputs);
			return;
		}
	}
	describe_one(tr, 0, out, n);
	snprintf(out + strlen(out), n - strlen(out), "; %zu inputs merged by arrival time",
		 inputs);
}

cJSON *cli_inputs_json(const struct pce_trace *tr)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && i < pce_trace_inputs(tr); i++) {
		cJSON *o = cJSON_CreateObject();

		cli_json_string(o, "path", pce_trace_input_path(tr, i));
		cli_json_string(o, "format", pce_trace_format_name(pce_trace_input_format(tr, i)));
		if (pce_trace_input_block_size(tr, i))
			cli_json_u64(o, "block_size", pce_trace_input_block_size(tr, i));
		else
			cJSON_AddNullToObject(o, "block_size");
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* ---- formatting ------------------------------------------------------------- */

const char *cli_group(uint64_t v, char *buf)
{
	char digits[24];
	int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v), k = 0;

	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			buf[k++] = ',';
		buf[k++] = digits[i];
	}
	buf[k] = '\0';
	return buf;
}

const char *cli_si(double v, char *buf)
{
	static const char *const suffix[] = {"", "k", "M", "G", "T", "P"};
	int i = 0;

	while (fabs(v) >= 1000 && i < 5) {
		v /= 1000;
		i++;
	}
	snprintf(buf, 16, "%.*f%s", i == 0 || v >= 100 || v == floor(v) ? 0 : 1, v, suffix[i]);
	return buf;
}

const char *cli_bytes(double v, char *buf)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	int i = 0;

	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(buf, 16, "%.*f %s", i == 0 || v >= 100 ? 0 : 1, v, unit[i]);
	return buf;
}

const char *cli_text(char *out, size_t n, const char *s)
{
	size_t len = strlen(s), k = 0;

	for (size_t i = 0, step; i < len; i += step) {
		uint32_t cp = 0;
		size_t need;

		step = pce_utf8_decode(s + i, len - i, &cp);
		if (step && cp >= 0x20 && !(cp >= 0x7f && cp <= 0x9f)) {
			if (k + step >= n)
				break;
			memcpy(out + k, s + i, step);
			k += step;
			continue;
		}
		step = step ? step : 1;
		need = 4 * step;
		if (k + need >= n)
			break;
		for (size_t b = 0; b < step; b++)
			k += (size_t)snprintf(out + k, n - k, "\\x%02x", (unsigned char)s[i + b]);
	}
	out[k] = '\0';
	return out;
}

cJSON *cli_json_string(cJSON *obj, const char *key, const char *s)
{
	size_t n = strlen(s), k = 0;
	cJSON *item;
	char *copy;

	if (pce_utf8_valid(s, n))
		return cJSON_AddStringToObject(obj, key, s);
	copy = malloc(3 * n + 1); /* at worst, U+FFFD (3 bytes) for every byte */
	if (!copy)
		return NULL;
	for (size_t i = 0, len; i < n; i += len) {
		uint32_t cp;

		len = pce_utf8_decode(s + i, n - i, &cp);
		if (len) {
			memcpy(copy + k, s + i, len);
			k += len;
		} else {
			memcpy(copy + k, PCE_UTF8_REPLACEMENT, 3);
			k += 3;
			len = 1;
		}
	}
	copy[k] = '\0';
	item = cJSON_AddStringToObject(obj, key, copy);
	free(copy);
	return item;
}

cJSON *cli_json_u64(cJSON *obj, const char *key, uint64_t v)
{
	return cJSON_AddNumberToObject(obj, key, (double)v);
}

/* ---- outputs ---------------------------------------------------------------- */

int cli_stdout_check(const char *cmd)
{
	int fl = fcntl(STDOUT_FILENO, F_GETFL);

	if (fl >= 0 && (fl & O_ACCMODE) != O_RDONLY)
		return CLI_OK;
	cli_error(cmd, "standard output is %s", fl < 0 ? "closed" : "not open for writing");
	return CLI_FAILURE;
}

int cli_output_open(const char *cmd, struct cli_output *o, const char *opt, const char *path)
{
	/* O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of
	 * blocking; it is cleared at once, so writes block as usual. */
	int flags = O_WRONLY | O_CLOEXEC | O_NONBLOCK;

	o->opt = opt;
	o->path = path;
	o->created = 1;
	o->fd = open(path, flags | O_CREAT | O_EXCL, 0666);
	if (o->fd < 0 && errno == EEXIST) {
		o->created = 0;
		o->fd = open(path, flags);
	}
	if (o->fd < 0) {
		cli_error(cmd, "%s: cannot %s %s: %s", opt, o->created ? "create" : "write", path,
			  strerror(errno));
		return CLI_BADINPUT;
	}
	fcntl(o->fd, F_SETFL, fcntl(o->fd, F_GETFL) & ~O_NONBLOCK);
	return 0;
}

FILE *cli_output_begin(const char *cmd, struct cli_output *o)
{
	struct stat st;
	FILE *f = NULL;

	if (fstat(o->fd, &st) == 0 && S_ISREG(st.st_mode) && ftruncate(o->fd, 0) != 0)
		cli_error(cmd, "%s: cannot write %s: %s", o->opt, o->path, strerror(errno));
	else if (!(f = fdopen(o->fd, "w")))
		cli_error(cmd, "%s: cannot write %s: %s", o->opt, o->path, strerror(errno));
	if (!f)
		close(o->fd);
	o->fd = -1;
	return f;
}

int cli_output_end(const char *cmd, struct cli_output *o, FILE *f, int failed)
{
	struct stat st;
	int regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
	int closed = fclose(f) == 0; /* it flushes: its errno says why writes fail */

	if (closed && !failed)
		return CLI_OK;
	cli_error(cmd, "%s: cannot write %s%s%s", o->opt, o->path, closed ? "" : ": ",
		  closed ? "" : strerror(errno));
	if (regular)
		unlink(o->path);
	return CLI_FAILURE;
}

void cli_output_discard(struct cli_output *o)
{
	if (o->fd < 0)
		return;
	close(o->fd);
	o->fd = -1;
	if (o->created)
		unlink(o->path);
}

int cli_flush(const char *cmd)
{
	/* ferror: a printf that failed before the last flush (a full disk,
	 * a closed pipe) would otherwise go unreported. */
	if (fflush(stdout) == 0 && !ferror(stdout))
		return CLI_OK;
	cli_error(cmd, "cannot write the output: %s", strerror(errno));
	return CLI_FAILURE;
}

static int print_json(const char *cmd, cJSON *root, int formatted)
{
	char *text = !root ? NULL : formatted ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
	int rc;

	if (!text) {
		cli_error(cmd, "out of memory");
		rc = CLI_FAILURE;
	} else {
		puts(text);
		rc = cli_flush(cmd);
	}
	cJSON_free(text);
	cJSON_Delete(root);
	return rc;
}

int cli_print_json(const char *cmd, cJSON *root)
{
	return print_json(cmd, root, 1);
}

int cli_print_json_line(const char *cmd, cJSON *root)
{
	return print_json(cmd, root, 0);
}
