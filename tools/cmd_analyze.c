/*
 * cmd_analyze.c - `pce analyze`: options, then the report of analyze.c's
 * pass as tables or one JSON object.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "cli.h"
#include "commands.h"

static const char usage[] =
	"Usage: pce analyze [OPTION]... INPUT...\n"
	"\n"
	"Measure how much of a workload is a shared prefix: replay it once, in arrival\n"
	"order, through an unlimited libpce cache (a lookup, then a store, per request)\n"
	"and report what a prefix cache of unbounded size would reuse.\n"
	"\n"
	"INPUT is a file or a pipe (gzip-compressed or not; <(zcat f.gz) works), a\n"
	"directory of kvtester sessions, or - for standard input.  Each is opened once\n"
	"and read as a stream.  Several inputs are merged by arrival time; an input\n"
	"whose times go backwards is read in file order, with a warning.  Formats are\n"
	"detected from the first JSON object of each input (or forced with --format);\n"
	"text is read only with --format text, and input that is none of these (a CSV\n"
	"of request lengths, say) is refused:\n"
	"  tokens     JSONL: {\"tokens\":[1,2,...], \"ns\":\"tenant-7\", \"t\":12.5}.  \"ns\" (a\n"
	"             namespace: prefixes never match across namespaces) and \"t\"\n"
	"             (arrival time in seconds) are optional\n"
	"  mooncake   JSONL: {\"timestamp\":ms, \"input_length\":n, \"hash_ids\":[...]}, one\n"
	"             chained id per block of 512 tokens, the last block partial\n"
	"             (Mooncake FAST'25 traces); each file is one namespace\n"
	"  kvtester   a kv-cache-tester session (.json, .json.gz) or a directory of them\n"
	"             (Claude Code traces): 64-token blocks, ids local to each session,\n"
	"             sub-agent requests nested.  Each session is a namespace; sessions\n"
	"             have no shared clock and are merged as if all started at t = 0\n"
	"  text       (--format text only) one prompt per line, UTF-8, cut into\n"
	"             approximate tokens by a built-in byte-level tokenizer (about one\n"
	"             token per 3-4 bytes of English)\n"
	"Block-id traces are replayed at block granularity (one cache token per block\n"
	"id) and weighted by real tokens, so a 145-million-token trace takes seconds.\n"
	"Memory follows the distinct prefixes, not the input's size: the cache holds\n"
	"each one once, the report keeps 28 bytes per request, and kvtester sessions\n"
	"(all of which start at t = 0, so all are read first) are kept as their\n"
	"distinct ids.  A JSONL line's ids are parsed as they are read, 4 bytes per id;\n"
	"a line over 1 GiB is refused.\n"
	"\n"
	"Options:\n"
	"  -f, --format FORMAT      auto (default: tokens, mooncake or kvtester), tokens,\n"
	"                           mooncake, kvtester, text\n"
	"  -b, --block-size N       tokens per block id (default: mooncake 512,\n"
	"                           kvtester the session's \"block_size\")\n"
	"  -w, --warmup-fraction F  count only the requests after the first F of them;\n"
	"                           those only fill the cache (0 <= F < 1, default 0;\n"
	"                           published trace studies use 0.5)\n"
	"      --batch N            requests per batch of the batch dedup analysis\n"
	"                           (default 64; 0 turns it off)\n"
	"  -n, --top N              rows of the shared-prefix and namespace tables\n"
	"                           (default 10)\n"
	"      --json               print one JSON object instead of tables\n"
	"      --no-progress        no progress bar (it only shows on a terminal, for\n"
	"                           work longer than a second)\n"
	"  -h, --help               show this help\n"
	"\n"
	"Report:\n"
	"  prefix-hit ratio  hit tokens / input tokens.  A request's hit is the longest\n"
	"                    prefix some earlier request of its namespace started with,\n"
	"                    in whole blocks, counted in real tokens (a partial last\n"
	"                    block at its size)\n"
	"  block-hit ratio   the same, counted in blocks\n"
	"  distinct blocks   the footprint: a cache this large never evicts\n"
	"  batch dedup       per batch of consecutive requests (pce_dedup_analyze): the\n"
	"                    blocks already cached by earlier batches, and those shared\n"
	"                    only with an earlier request of the same batch\n"
	"  reused prefix     how many requests reused a prefix of which length\n"
	"  shared prefixes   the prefixes most requests start with; each one ends where\n"
	"                    some of its requests part ways.  Reused tokens: its length\n"
	"                    times the requests that found it cached (all but the first)\n"
	"  namespaces        the same figures per namespace, largest first\n"
	"\n"
	"JSON fields: requests (counted), total_requests, warmup_requests,\n"
	"input_tokens, hit_tokens, prefix_hit_ratio (0..1), blocks, hit_blocks,\n"
	"block_hit_ratio, distinct_blocks, batch_dedup, reused_prefix, shared_prefixes,\n"
	"namespaces, inputs, approximate_tokens, seconds.  For token traces a block is\n"
	"one token.  Names of files and namespaces are bytes and JSON is UTF-8: a byte\n"
	"that is not part of valid UTF-8 is written as U+FFFD, a control character as\n"
	"\\u00XX.  The tables print both as \\xNN.\n"
	"\n"
	"Exit status: 0 done; 1 internal failure (out of memory, libpce error) or an\n"
	"output that cannot be written (standard output is checked first); 2 bad usage,\n"
	"or an input that cannot be read or is malformed (the message names the file\n"
	"and line).\n"
	"\n"
	"Examples:\n"
	"  pce analyze conversation_trace.jsonl\n"
	"  pce analyze --warmup-fraction 0.5 --json conversation_trace.jsonl\n"
	"  pce analyze weka_claude_code/\n"
	"  pce analyze --format text prompts.txt\n";

enum { OPT_BATCH = CLI_OPT_FIRST_FREE };

struct report {
	struct pce_trace *tr;
	struct pce_analyze_result res;
	struct pce_analyze_opts opts;
	size_t top;
	double seconds;
	int blocks;               /* ids are blocks, not tokens: cli_block_size() != 1 */
	struct pce_shared_prefix *shared;
	size_t n_shared;
	struct pce_replay_counts *ns;
	size_t *ns_order;         /* namespaces by input tokens, largest first */
	size_t n_ns;
};

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

static int by_tokens(const void *x, const void *y, void *counts)
{
	const struct pce_replay_counts *ns = counts;
	const struct pce_replay_counts *a = &ns[*(const size_t *)x], *b = &ns[*(const size_t *)y];

	if (a->tokens != b->tokens)
		return a->tokens > b->tokens ? -1 : 1;
	return *(const size_t *)x < *(const size_t *)y ? -1 : 1;
}

/* Everything the report needs beyond the pass's own result. */
static int prepare(struct report *r)
{
	r->n_ns = pce_trace_ns_count(r->tr);
	r->shared = calloc(r->top ? r->top : 1, sizeof(*r->shared));
	r->ns = calloc(r->n_ns ? r->n_ns : 1, sizeof(*r->ns));
	r->ns_order = calloc(r->n_ns ? r->n_ns : 1, sizeof(*r->ns_order));
	if (!r->shared || !r->ns || !r->ns_order)
		return -1;
	if (r->top && pce_reqlog_shared(r->res.log, r->res.window_start, r->shared, r->top,
					&r->n_shared))
		return -1;
	pce_reqlog_by_ns(r->res.log, r->res.window_start, r->ns, r->n_ns);
	for (size_t i = 0; i < r->n_ns; i++)
		r->ns_order[i] = i;
	qsort_r(r->ns_order, r->n_ns, sizeof(*r->ns_order), by_tokens, r->ns);
	r->blocks = cli_block_size(r->tr) != 1;
	return 0;
}

/* Prefill tokens a cache saves on @s: every counted request that starts
 * with it, but the first to hold it, finds it cached. */
static uint64_t reused(const struct report *r, const struct pce_shared_prefix *s)
{
	return s->tokens * (s->requests - (s->origin >= r->res.window_start));
}

/* A namespace name for a table cell of @width: long paths keep their end. */
static void cell(char *out, size_t n, const char *name, size_t width)
{
	char text[1024];
	size_t len = strlen(cli_text(text, sizeof(text), name));

	if (!*name)
		snprintf(out, n, "(default)");
	else if (len <= width)
		snprintf(out, n, "%.*s", (int)width, text);
	else
		snprintf(out, n, "...%.*s", (int)width - 3, text + len - (width - 3));
}

static void print_tables(const struct report *r)
{
	const struct pce_analyze_result *res = &r->res;
	const struct pce_replay_counts *w = &res->window;
	struct pce_reuse_bucket b[PCE_REUSE_BUCKETS];
	char g1[32], g2[32], g3[32], g4[32], desc[256], path[1024];
	uint64_t counted = res->requests - res->window_start;
	uint64_t cum = 0;

	cli_describe_inputs(r->tr, desc, sizeof(desc));
	printf("pce analyze: %s%s\n", cli_text(path, sizeof(path), pce_trace_input_path(r->tr, 0)),
	       pce_trace_inputs(r->tr) > 1 ? " ..." : "");
	printf("  input      %s\n", desc);
	if (res->window_start)
		printf("  requests   %s, of which the last %s are counted (warmup: the first %s, "
		       "--warmup-fraction %g)\n",
		       cli_group(res->requests, g1), cli_group(counted, g2),
		       cli_group(res->window_start, g3), r->opts.warmup_fraction);
	else
		printf("  requests   %s\n", cli_group(res->requests, g1));
	printf("  time       %.2f s\n", r->seconds);
	if (cli_has_text(r->tr))
		printf("  note       token counts of text inputs are approximate "
		       "(built-in byte-level tokenizer)\n");

	printf("\nPrefix reuse with an unlimited cache (arrival order; lookup, then store)\n");
	printf("  %-18s %16s %16s %9s\n", "", "total", "prefix hits", "ratio");
	printf("  %-18s %16s %16s %8.2f%%   prefix-hit ratio (token-weighted)\n", "input tokens",
	       cli_group(w->tokens, g1), cli_group(w->hit_tokens, g2),
	       100 * ratio(w->hit_tokens, w->tokens));
	if (r->blocks)
		printf("  %-18s %16s %16s %8.2f%%   block-hit ratio\n", "blocks",
		       cli_group(w->ids, g1), cli_group(w->hit_ids, g2),
		       100 * ratio(w->hit_ids, w->ids));
	printf("  %-18s %16s   (footprint: a cache this large never evicts)\n",
	       r->blocks ? "distinct blocks" : "distinct tokens", cli_group(res->cache.tokens, g1));

	if (res->dedup.batches) {
		const struct pce_analyze_dedup *d = &res->dedup;

		printf("\nBatch dedup (pce_dedup_analyze; %s batch%s of %zu requests)\n",
		       cli_group(d->batches, g1), d->batches == 1 ? "" : "es", r->opts.batch);
		printf("  already cached        %7.2f%% of %s\n", 100 * ratio(d->cached_ids, d->ids),
		       r->blocks ? "blocks" : "tokens");
		printf("  shared in the batch   %7.2f%%   with an earlier request of the same batch\n",
		       100 * ratio(d->shared_ids, d->ids));
		printf("  dedup ratio           %7.2f%%   cached + shared\n",
		       100 * ratio(d->cached_ids + d->shared_ids, d->ids));
	}

	pce_reqlog_reuse(res->log, res->window_start, b);
	if (counted) { /* the buckets share the counted requests out */
		printf("\nReused prefix per request\n");
		printf("  %-25s %12s %9s %11s %12s\n", "prefix-hit tokens", "requests", "share",
		       "cumulative", "hit tokens");
		for (int i = 0; i < PCE_REUSE_BUCKETS; i++) {
			char range[64];

			if (!b[i].requests)
				continue;
			cum += b[i].requests;
			if (i == 0)
				snprintf(range, sizeof(range), "0 (miss)");
			else
				snprintf(range, sizeof(range), "%s - %s", cli_group(b[i].min_tokens, g1),
					 cli_group(b[i].max_tokens, g2));
			printf("  %-25s %12s %8.1f%% %10.1f%% %11.1f%%\n", range,
			       cli_group(b[i].requests, g3), 100 * ratio(b[i].requests, counted),
			       100 * ratio(cum, counted), 100 * ratio(b[i].hit_tokens, w->hit_tokens));
		}
	}

	if (r->n_shared) {
		printf("\nMost shared prefixes (each ends where some of its requests part ways)\n");
		printf("  %14s", "tokens");
		if (r->blocks)
			printf(" %12s", "blocks");
		printf(" %12s %9s %16s%s\n", "requests", "share", "reused tokens",
		       r->n_ns > 1 ? "   namespace" : "");
		for (size_t i = 0; i < r->n_shared; i++) {
			const struct pce_shared_prefix *s = &r->shared[i];
			char name[48];

			cell(name, sizeof(name), pce_trace_ns_name(r->tr, s->ns), 40);
			printf("  %14s", cli_group(s->tokens, g1));
			if (r->blocks)
				printf(" %12s", cli_group(s->ids, g2));
			printf(" %12s %8.1f%% %16s%s%s\n", cli_group(s->requests, g3),
			       100 * ratio(s->requests, counted), cli_group(reused(r, s), g4),
			       r->n_ns > 1 ? "   " : "", r->n_ns > 1 ? name : "");
		}
	}

	if (r->n_ns > 1) {
		size_t rows = r->n_ns < r->top ? r->n_ns : r->top;

		if (rows < r->n_ns)
			printf("\nNamespaces: %s (the %zu largest by input tokens)\n",
			       cli_group(r->n_ns, g1), rows);
		else
			printf("\nNamespaces: %s (largest first)\n", cli_group(r->n_ns, g1));
		printf("  %-40s %10s %16s %9s\n", "namespace", "requests", "input tokens",
		       "hit ratio");
		for (size_t i = 0; i < rows; i++) {
			const struct pce_replay_counts *c = &r->ns[r->ns_order[i]];
			char name[48];

			cell(name, sizeof(name), pce_trace_ns_name(r->tr, r->ns_order[i]), 40);
			if (!c->tokens)
				break; /* the rest have no counted request either */
			printf("  %-40s %10s %16s %8.2f%%\n", name, cli_group(c->requests, g1),
			       cli_group(c->tokens, g2), 100 * pce_replay_token_ratio(c));
		}
	}
}

static cJSON *json_report(const struct report *r)
{
	const struct pce_analyze_result *res = &r->res;
	const struct pce_replay_counts *w = &res->window;
	struct pce_reuse_bucket b[PCE_REUSE_BUCKETS];
	cJSON *o = cJSON_CreateObject(), *a;

	cli_json_string(o, "command", "analyze");
	cli_json_string(o, "version", pce_version_string());
	cJSON_AddItemToObject(o, "inputs", cli_inputs_json(r->tr));
	cJSON_AddBoolToObject(o, "approximate_tokens", cli_has_text(r->tr));
	cli_json_u64(o, "requests", w->requests);
	cli_json_u64(o, "total_requests", res->requests);
	cJSON_AddNumberToObject(o, "warmup_fraction", r->opts.warmup_fraction);
	cli_json_u64(o, "warmup_requests", res->window_start);
	cli_json_u64(o, "input_tokens", w->tokens);
	cli_json_u64(o, "hit_tokens", w->hit_tokens);
	cJSON_AddNumberToObject(o, "prefix_hit_ratio", pce_replay_token_ratio(w));
	cli_json_u64(o, "blocks", w->ids);
	cli_json_u64(o, "hit_blocks", w->hit_ids);
	cJSON_AddNumberToObject(o, "block_hit_ratio", pce_replay_id_ratio(w));
	cli_json_u64(o, "distinct_blocks", res->cache.tokens);
	if (r->opts.batch) {
		const struct pce_analyze_dedup *d = &res->dedup;
		cJSON *bd = cJSON_AddObjectToObject(o, "batch_dedup");

		cli_json_u64(bd, "batch_size", r->opts.batch);
		cli_json_u64(bd, "batches", d->batches);
		cli_json_u64(bd, "blocks", d->ids);
		cli_json_u64(bd, "cached_blocks", d->cached_ids);
		cli_json_u64(bd, "shared_blocks", d->shared_ids);
		cli_json_u64(bd, "unique_blocks", d->unique_ids);
		cJSON_AddNumberToObject(bd, "dedup_ratio",
					ratio(d->cached_ids + d->shared_ids, d->ids));
		cJSON_AddNumberToObject(bd, "in_batch_ratio", ratio(d->shared_ids, d->ids));
	} else {
		cJSON_AddNullToObject(o, "batch_dedup");
	}
	pce_reqlog_reuse(res->log, res->window_start, b);
	a = cJSON_AddArrayToObject(o, "reused_prefix");
	for (int i = 0; i < PCE_REUSE_BUCKETS; i++) {
		cJSON *e;

		if (!b[i].requests)
			continue;
		e = cJSON_CreateObject();
		cli_json_u64(e, "min_tokens", b[i].min_tokens);
		cli_json_u64(e, "max_tokens", b[i].max_tokens);
		cli_json_u64(e, "requests", b[i].requests);
		cli_json_u64(e, "hit_tokens", b[i].hit_tokens);
		cJSON_AddItemToArray(a, e);
	}
	a = cJSON_AddArrayToObject(o, "shared_prefixes");
	for (size_t i = 0; i < r->n_shared; i++) {
		const struct pce_shared_prefix *s = &r->shared[i];
		cJSON *e = cJSON_CreateObject();

		cli_json_u64(e, "tokens", s->tokens);
		cli_json_u64(e, "blocks", s->ids);
		cli_json_u64(e, "requests", s->requests);
		cJSON_AddNumberToObject(e, "share", ratio(s->requests, w->requests));
		cli_json_u64(e, "reused_tokens", reused(r, s));
		cli_json_string(e, "namespace", pce_trace_ns_name(r->tr, s->ns));
		cli_json_u64(e, "first_request", s->origin);
		cJSON_AddItemToArray(a, e);
	}
	a = cJSON_AddArrayToObject(o, "namespaces");
	for (size_t i = 0; i < r->n_ns; i++) {
		const struct pce_replay_counts *c = &r->ns[r->ns_order[i]];
		cJSON *e = cJSON_CreateObject();

		cli_json_string(e, "name", pce_trace_ns_name(r->tr, r->ns_order[i]));
		cli_json_u64(e, "requests", c->requests);
		cli_json_u64(e, "input_tokens", c->tokens);
		cli_json_u64(e, "hit_tokens", c->hit_tokens);
		if (c->tokens)
			cJSON_AddNumberToObject(e, "prefix_hit_ratio", pce_replay_token_ratio(c));
		else /* no counted request: no ratio */
			cJSON_AddNullToObject(e, "prefix_hit_ratio");
		cJSON_AddItemToArray(a, e);
	}
	cJSON_AddNumberToObject(o, "seconds", r->seconds);
	return o;
}

int cmd_analyze(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'f'},
		{"block-size", required_argument, NULL, 'b'},
		{"warmup-fraction", required_argument, NULL, 'w'},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"top", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, CLI_OPT_JSON},
		{"no-progress", no_argument, NULL, CLI_OPT_NO_PROGRESS},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct cli_input in = {.progress = 1};
	struct report r = {.top = 10, .opts = {.batch = 64}};
	struct cli_progress bar;
	uint64_t v;
	int opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":f:b:w:n:h", longopts, NULL)) != -1) {
		rc = cli_input_option("analyze", &in, opt, optarg);
		if (rc < 0)
			return -rc;
		if (rc)
			continue;
		switch (opt) {
		case OPT_BATCH:
			if (cli_count("analyze", "--batch", optarg, 0, 1u << 20, &v))
				return CLI_BADINPUT;
			r.opts.batch = (size_t)v;
			break;
		case 'n':
			if (cli_count("analyze", "--top", optarg, 0, 100000, &v))
				return CLI_BADINPUT;
			r.top = (size_t)v;
			break;
		default:
			return cli_other_option("analyze", opt, usage, argv);
		}
	}
	rc = cli_stdout_check("analyze");
	if (rc)
		return rc;
	r.opts.warmup_fraction = in.warmup_fraction;
	r.seconds = cli_seconds();
	cli_progress_start(&bar, "analyze", in.progress);
	rc = cli_open("analyze", &in, argv + optind, argc - optind, &bar, &r.tr);
	if (rc)
		goto out;
	r.opts.progress = cli_progress_cb;
	r.opts.ctx = &bar;
	rc = pce_analyze_run(r.tr, &r.opts, &r.res);
	cli_progress_done(&bar);
	r.seconds = cli_seconds() - r.seconds;
	rc = cli_pass_status("analyze", r.tr, rc, r.res.error, r.res.requests);
	if (rc)
		goto out;
	if (prepare(&r)) {
		cli_error("analyze", "out of memory");
		rc = CLI_FAILURE;
		goto out;
	}
	if (in.json) {
		rc = cli_print_json("analyze", json_report(&r));
	} else {
		print_tables(&r);
		rc = cli_flush("analyze");
	}
out:
	cli_progress_done(&bar);
	pce_analyze_free(&r.res);
	pce_trace_close(r.tr);
	free(r.shared);
	free(r.ns);
	free(r.ns_order);
	return rc;
}
