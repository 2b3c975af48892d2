/*
 * cli.h - what the pce subcommands share: exit statuses, messages, option
 * values, opening the inputs, the progress bar, number formatting and
 * JSON output.
 */
#ifndef PCE_TOOLS_CLI_H
#define PCE_TOOLS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "trace.h"

/* Exit statuses of every command. */
enum {
	CLI_OK = 0,
	CLI_FAILURE = 1, /* out of memory, libpce or output failure */
	CLI_BADINPUT = 2 /* bad usage, unreadable or malformed input */
};

/* "pce CMD: message" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Usage error: the message, then "Try 'pce CMD --help'."; returns
 * CLI_BADINPUT. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Option values.  Each returns 0, or a usage error naming @opt. */
/* An integer in [min, max]; accepts 1000, 1e3, 1k, 2.5M, 1G (k/M/G = 10^3/6/9). */
int cli_count(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max,
	      uint64_t *out);
/* A number in [min, max] (max_open: in [min, max)). */
int cli_fraction(const char *cmd, const char *opt, const char *s, double min, double max,
		 int max_open, double *out);

/* Option codes of the long options without a short form that several
 * commands share; a command numbers its own from CLI_OPT_FIRST_FREE. */
enum { CLI_OPT_JSON = 256, CLI_OPT_NO_PROGRESS, CLI_OPT_FIRST_FREE };

/* The options every trace-reading command takes. */
struct cli_input {
	struct pce_trace_opts trace;
	double warmup_fraction;  /* -w: count only the requests after this share */
	int progress;            /* the bar is allowed (stderr is a terminal, no --no-progress) */
	int json;
};

/* Handle -f/--format, -b/--block-size, -w/--warmup-fraction, --json and
 * --no-progress.  Return: 1 if @opt was one of them, 0 if not,
 * -CLI_BADINPUT after a usage message. */
int cli_input_option(const char *cmd, struct cli_input *in, int opt, const char *arg);

/* The last case of every command's option switch: -h prints @usage and
 * returns CLI_OK; a missing value (':') or an unknown option is a usage
 * error (CLI_BADINPUT).  @argv and optind as getopt_long left them. */
int cli_other_option(const char *cmd, int opt, const char *usage, char **argv);

/* The progress bar: drawn on stderr, only once the work has run for a
 * second and only if allowed; cleared when done. */
struct cli_progress {
	const char *label;
	int allowed, drawn;
	double start, last;
};

void cli_progress_start(struct cli_progress *p, const char *label, int allowed);
void cli_progress_update(struct cli_progress *p, double fraction);
void cli_progress_done(struct cli_progress *p);
/* Callback shape of the engines (ctx: a struct cli_progress). */
void cli_progress_cb(void *ctx, double fraction);

/* Open the inputs; on failure print the reader's message and return the
 * exit status (CLI_BADINPUT for bad input, CLI_FAILURE otherwise). */
int cli_open(const char *cmd, struct cli_input *in, char **paths, int n,
	     struct cli_progress *p, struct pce_trace **out);
/* After an engine's pass over @tr that returned @rc, with @error its own
 * message ("" when the failure is the trace's) and @requests read: 0 if
 * there is something to report, else the exit status, after a message
 * (the failure, or an input without requests).  The trace's warning, if
 * any, is printed here, once per command. */
int cli_pass_status(const char *cmd, struct pce_trace *tr, int rc, const char *error,
		    uint64_t requests);

/* Tokens per id shared by every input, 0 if they differ. */
uint32_t cli_block_size(const struct pce_trace *tr);
/* "mooncake, 512 tokens per block id" for one input, or a summary. */
void cli_describe_inputs(const struct pce_trace *tr, char *out, size_t n);
/* Whether any input is text (token counts are then approximate). */
int cli_has_text(const struct pce_trace *tr);
/* The inputs as a JSON array. */
cJSON *cli_inputs_json(const struct pce_trace *tr);

/* 144793823 -> "144,793,823" in @buf (at least 32 bytes). */
const char *cli_group(uint64_t v, char *buf);
/* 25600000 -> "25.6M" in @buf (at least 16 bytes). */
const char *cli_si(double v, char *buf);
/* Bytes in binary units: 335544320000 -> "312.5 GiB" (@buf: 16 bytes). */
const char *cli_bytes(double v, char *buf);
double cli_seconds(void);

/* Outputs are checked before the work, so that one that cannot be written
 * fails at once instead of after a long run, and a late write failure of
 * one output does not cost the others. */
/* Whether standard output can be written.  Return: CLI_OK, or CLI_FAILURE
 * after a message. */
int cli_stdout_check(const char *cmd);

/* An output file named by option @opt (--svg FILE). */
struct cli_output {
	const char *opt, *path;
	int fd;
	int created;  /* by cli_output_open: removed again if never written */
};

/* Create @path, or open it for writing if it exists (its content stays
 * until cli_output_begin()); a FIFO without a reader is refused rather
 * than waited for.  Return: 0, or CLI_BADINPUT after a message. */
int cli_output_open(const char *cmd, struct cli_output *o, const char *opt, const char *path);
/* The file, emptied, as a stream to write to; NULL after a message (the
 * file is then closed). */
FILE *cli_output_begin(const char *cmd, struct cli_output *o);
/* Close @f, from cli_output_begin(); @failed: the writer reported an
 * error.  A regular file that could not be written whole is removed.
 * Return: CLI_OK, or CLI_FAILURE after a message. */
int cli_output_end(const char *cmd, struct cli_output *o, FILE *f, int failed);
/* Close the file unwritten (the work failed): removed if it was created. */
void cli_output_discard(struct cli_output *o);

/* Flush the results on stdout; if any of them could not be written, say
 * so.  Return: the exit status (CLI_OK or CLI_FAILURE). */
int cli_flush(const char *cmd);
/* Print @root as JSON on stdout, then free it.  Return: the exit status. */
int cli_print_json(const char *cmd, cJSON *root);
/* The same on one line (a record of a JSON Lines stream). */
int cli_print_json_line(const char *cmd, cJSON *root);
/* Name @s (of a file, of a namespace) as the tables and messages print
 * it, in @out (@n > 0 bytes, truncated if need be): each control
 * character (C0, DEL, C1) and each byte that is not valid UTF-8 as the
 * four characters \xNN, so that no name can move a terminal's cursor or
 * change its colours.  Returns @out. */
const char *cli_text(char *out, size_t n, const char *s);
/* Add string @s as member @key of @obj.  JSON text must be UTF-8, and
 * names (of files, of namespaces) are arbitrary bytes: each byte that is
 * not part of a valid UTF-8 sequence becomes U+FFFD; control characters
 * are escaped (\u00XX) by cJSON.  Every string of the JSON output goes
 * through here.  Return: the new member, NULL when out of memory. */
cJSON *cli_json_string(cJSON *obj, const char *key, const char *s);
/* A cJSON number that is exact for integers up to 2^53. */
cJSON *cli_json_u64(cJSON *obj, const char *key, uint64_t v);

#endif /* PCE_TOOLS_CLI_H */
