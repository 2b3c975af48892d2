/*
 * test_tools_cli.c - the pce command as users run it: exit statuses, one
 * clear message per bad input, help and version, table and JSON output
 * (the fields the documentation promises), the SVG file, standard input.
 * Runs the built binary (PCE_TOOL) through sh, capturing stdout and stderr.
 */
#include "tool_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>
#include <pce/pce.h>

#include "expected.h"

static char out[1 << 20], err[1 << 16];

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, cap - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* Run shell command line @cmdline, capturing its stdout in out[] and its
 * stderr in err[]; return its exit status. */
static int run(const char *cmdline)
{
	char cmd[4096], o[300], e[300];
	int st;

	snprintf(o, sizeof(o), "%s/stdout", scratch_dir());
	snprintf(e, sizeof(e), "%s/stderr", scratch_dir());
	snprintf(cmd, sizeof(cmd), "%s >'%s' 2>'%s'", cmdline, o, e);
	st = system(cmd);
	slurp(o, out, sizeof(out));
	slurp(e, err, sizeof(err));
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Run "pce @args" (a shell command line); return its exit status. */
static int pce(const char *args)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "'%s' %s", PCE_TOOL, args);
	return run(cmd);
}

/* Run "pce @args" as a bash command line (@args holds no single quote), for
 * process substitution; return its exit status. */
static int pce_bash(const char *args)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "/bin/bash -c '\"%s\" %s'", PCE_TOOL, args);
	return run(cmd);
}

static size_t lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static double number(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		fail_msg("JSON field %s missing or not a number", key);
	return v->valuedouble;
}

static void test_help_and_version(void **state)
{
	static const char *const help[] = {"--help", "help", "help analyze", "analyze --help",
					   "simulate --help", "bench --help", "help simulate"};
	(void)state;

	assert_int_equal(pce("--version"), 0);
	assert_true(strncmp(out, "pce 0.1.0 (libpce ", 18) == 0);
	for (size_t i = 0; i < NELEM(help); i++) {
		assert_int_equal(pce(help[i]), 0);
		assert_true(strncmp(out, "Usage: pce ", 11) == 0);
		assert_non_null(strstr(out, "Exit status"));
		assert_string_equal(err, "");
	}
}

static void test_usage_errors(void **state)
{
	static const struct { const char *args, *message; } cases[] = {
		{"", "Usage: pce COMMAND"},
		{"frobnicate", "pce: unknown command 'frobnicate'"},
		{"help frobnicate", "pce: unknown command 'frobnicate'"},
		{"analyze", "pce analyze: no input given"},
		{"analyze --bogus " SLICE, "pce analyze: unknown option '--bogus'"},
		{"analyze -w", "pce analyze: -w needs a value"},
		{"analyze -w 1 " SLICE, "--warmup-fraction: '1' is not a number in [0, 1)"},
		{"analyze --format yaml " SLICE, "--format: 'yaml' is none of"},
		{"analyze --block-size 0 " SLICE, "--block-size: '0' is not an integer"},
		{"simulate -c 0 " SLICE, "--capacity: '0' is not an integer"},
		{"simulate -c 1k,x " SLICE, "--capacity: 'x' is not an integer"},
		{"simulate -p mru " SLICE, "--policy: 'mru' is neither lru nor lfu"},
		{"simulate -t 0 " SLICE, "--target: must be above 0"},
		{"simulate --routing rr " SLICE, "--routing: only with --workers"},
		{"simulate --in-flight 8 " SLICE, "--in-flight: only with --workers"},
		{"simulate --workers 4 " SLICE, "--workers: give each worker's --worker-capacity"},
		{"simulate --workers 0 --worker-capacity 1k " SLICE,
		 "--workers: '0' is not an integer"},
		{"simulate --workers 4 --worker-capacity 1k -c 1k " SLICE,
		 "--capacity: not with --workers"},
		{"simulate --workers 4 --worker-capacity 1k -p lru,lfu " SLICE,
		 "--policy: one policy with --workers"},
		{"simulate --workers 4 --worker-capacity 1k --routing rr,random " SLICE,
		 "--routing: 'random' is none of rr, prefix, prefix+load"},
		{"simulate --workers 4 --worker-capacity 1k --cache-threshold 1 " SLICE,
		 "--cache-threshold: '1' is not a number in [0, 1)"},
		{"simulate --workers 4 --worker-capacity 1k --balance-rel 0.5 " SLICE,
		 "--balance-rel: '0.5' is not a number in [1, "},
		{"bench extra", "pce bench: takes no input"},
	};
	(void)state;

	for (size_t i = 0; i < NELEM(cases); i++) {
		if (pce(cases[i].args) != 2 || !strstr(err, cases[i].message))
			fail_msg("pce %s: stderr \"%s\", expected \"%s\" and status 2",
				 cases[i].args, err, cases[i].message);
	}
}

/* Each class of bad input: status 2 and exactly one line naming the file
 * (and line). */
static void test_bad_input_status(void **state)
{
	const char *p0;
	char args[600];
	static const struct { const char *name, *text, *message; } cases[] = {
		{"json.jsonl", "{\"tokens\":[1]}\n{\"tokens\":[1\n", "json.jsonl:2: column 12: invalid JSON: the text ends"},
		{"type.jsonl", "{\"tokens\":{}}\n", "type.jsonl:1: tokens: expected an array"},
		{"neg.jsonl", "{\"tokens\":[-1]}\n", "neg.jsonl:1: tokens[0]: expected an integer"},
		{"big.jsonl", "{\"timestamp\":0,\"input_length\":5e9,\"hash_ids\":[]}\n",
		 "big.jsonl:1: input_length: expected an integer in [0, 4294967295]"},
		{"empty.jsonl", "", "empty.jsonl: empty file: no requests"},
		{"junk.bin", "\x01\x02\x03\xff\xfe binary", "junk.bin:1: binary data"},
		{"gz.jsonl.gz", "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x4b\x4c", "gz.jsonl.gz"},
	};
	(void)state;

	for (size_t i = 0; i < NELEM(cases); i++) {
		const char *p = scratch_file(cases[i].name, cases[i].text, strlen(cases[i].text));

		for (int cmd = 0; cmd < 2; cmd++) {
			snprintf(args, sizeof(args), "%s '%s'", cmd ? "simulate" : "analyze", p);
			if (pce(args) != 2 || !strstr(err, cases[i].message) || lines(err) != 1 ||
			    out[0])
				fail_msg("pce %s: status, stdout \"%s\" or stderr \"%s\" wrong (want "
					 "\"%s\")",
					 args, out, err, cases[i].message);
		}
	}
	p0 = scratch_file("none.json", "{\"requests\": []}", 16);
	snprintf(args, sizeof(args), "simulate '%s'", p0);
	assert_int_equal(pce(args), 2);
	assert_non_null(strstr(err, "none.json: no requests in the input"));
	assert_int_equal(pce("analyze no-such-file.jsonl"), 2);
	assert_string_equal(err, "pce analyze: no-such-file.jsonl: No such file or directory\n");
}

static void test_analyze_json(void **state)
{
	cJSON *o, *a;
	(void)state;

	assert_int_equal(pce("analyze --json " SLICE), 0);
	assert_string_equal(err, ""); /* no progress bar off a terminal */
	o = cJSON_Parse(out);
	assert_non_null(o);
	assert_true(number(o, "requests") == mooncake_w0.requests);
	assert_true(number(o, "total_requests") == mooncake_w0.requests);
	assert_true(number(o, "input_tokens") == mooncake_w0.tokens);
	assert_true(number(o, "hit_tokens") == mooncake_w0.hit_tokens);
	/* cJSON prints 15 significant digits */
	assert_true(fabs(number(o, "prefix_hit_ratio") -
			 (double)mooncake_w0.hit_tokens / (double)mooncake_w0.tokens) < 1e-13);
	assert_true(fabs(number(o, "block_hit_ratio") -
			 (double)mooncake_w0.hit_ids / (double)mooncake_w0.ids) < 1e-13);
	assert_true(number(o, "distinct_blocks") == mooncake_w0.footprint);
	a = cJSON_GetObjectItem(o, "shared_prefixes");
	assert_int_equal(cJSON_GetArraySize(a), 10);
	assert_true(number(cJSON_GetArrayItem(a, 0), "requests") == 1000);
	assert_true(number(cJSON_GetArrayItem(a, 0), "tokens") == 512);
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(o, "reused_prefix")));
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(o, "batch_dedup")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "namespaces")), 1);
	cJSON_Delete(o);

	assert_int_equal(pce("analyze --json -w 0.5 --batch 0 " SLICE), 0);
	o = cJSON_Parse(out);
	assert_true(number(o, "requests") == mooncake_w50.requests);
	assert_true(number(o, "warmup_requests") == mooncake_w50.window_start);
	assert_true(number(o, "hit_tokens") == mooncake_w50.hit_tokens);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "batch_dedup")));
	cJSON_Delete(o);
}

static void test_analyze_table(void **state)
{
	(void)state;
	assert_int_equal(pce("analyze " SLICE), 0);
	assert_non_null(strstr(out, "pce analyze: " SLICE));
	assert_non_null(strstr(out, "mooncake, 512 tokens per block id"));
	assert_non_null(strstr(out, "13,732,944"));   /* input tokens */
	assert_non_null(strstr(out, "21.57%"));       /* 2,962,776 / 13,732,944 */
	assert_non_null(strstr(out, "Most shared prefixes"));
	assert_int_equal(pce("analyze --format text " PROMPTS), 0);
	assert_non_null(strstr(out, "token counts of text inputs are approximate"));
	assert_int_equal(pce("analyze " KVTESTER), 0);
	assert_non_null(strstr(out, "Namespaces: 4"));
	/* standard input */
	assert_int_equal(pce("analyze --json - < " SLICE), 0);
	assert_non_null(strstr(out, "\"requests\":\t1000,"));
}

static void test_simulate(void **state)
{
	char args[512], svg[4096];
	cJSON *o, *curve, *rec;
	(void)state;

	assert_int_equal(pce("simulate --json -c 1k,100k -w 0.5 " SLICE), 0);
	o = cJSON_Parse(out);
	assert_non_null(o);
	curve = cJSON_GetObjectItem(o, "curve");
	assert_int_equal(cJSON_GetArraySize(curve), 4);
	for (int i = 0; i < 4; i++) {
		cJSON *p = cJSON_GetArrayItem(curve, i);

		assert_string_equal(cJSON_GetObjectItem(p, "policy")->valuestring,
				    i % 2 ? "CLOCK-LFU" : "CLOCK-LRU");
		assert_true(number(p, "capacity_blocks") == (i < 2 ? 1000 : 100000));
		assert_true(number(p, "capacity_tokens") == (i < 2 ? 512000 : 51200000));
		assert_true(number(p, "hit_ratio") >= 0 && number(p, "hit_ratio") <= 1);
	}
	/* 100k blocks hold the whole slice: the unlimited ratio, recommended. */
	assert_true(fabs(number(cJSON_GetArrayItem(curve, 2), "hit_ratio") -
			 (double)mooncake_w50.hit_tokens / (double)mooncake_w50.tokens) < 1e-13);
	rec = cJSON_GetObjectItem(o, "recommendation");
	assert_true(cJSON_IsObject(rec));
	assert_true(number(rec, "capacity_blocks") == 100000);
	assert_true(number(rec, "share_of_unlimited") >= 0.9);
	assert_true(cJSON_IsString(cJSON_GetObjectItem(rec, "policy")));
	assert_true(number(o, "requests") == mooncake_w50.requests);
	cJSON_Delete(o);

	snprintf(args, sizeof(args), "simulate --svg '%s/curve.svg' " SLICE, scratch_dir());
	assert_int_equal(pce(args), 0);
	assert_non_null(strstr(out, "<- recommended"));
	assert_non_null(strstr(out, "Recommendation: "));
	snprintf(args, sizeof(args), "%s/curve.svg", scratch_dir());
	slurp(args, svg, sizeof(svg));
	assert_true(strncmp(svg, "<svg ", 5) == 0);

	/* KV bytes: capacity x 512 tokens x bytes per token, in binary units. */
	assert_int_equal(pce("simulate --json -c 20k --kv-bytes-per-token 131072 " SLICE), 0);
	o = cJSON_Parse(out);
	assert_true(number(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "curve"), 0),
			   "capacity_bytes") == 20000.0 * 512 * 131072);
	cJSON_Delete(o);
	assert_int_equal(pce("simulate -c 20k --kv-bytes-per-token 131072 " SLICE), 0);
	assert_non_null(strstr(out, "1.2 TiB of KV"));

	/* Out of reach: say so instead of recommending. */
	assert_int_equal(pce("simulate -c 10,20 -p lru " SLICE), 0);
	assert_non_null(strstr(out, "No capacity simulated reaches 90%"));
}

/* --workers on the Mooncake slice, whose requests all share block 0:
 * prefix routing sends all of them to one worker, and with small workers
 * hits less than round robin; the table says so, the JSON has every figure,
 * the chart marks the collapsed policy. */
static void test_simulate_workers(void **state)
{
	static char svg[1 << 16];
	char args[1200], path[512];
	cJSON *o, *routing, *w;
	(void)state;

	assert_int_equal(pce("simulate --workers 8 --worker-capacity 500 " SLICE), 0);
	assert_non_null(strstr(out, "  workers     8, each a CLOCK-LRU cache of 500 blocks (256k "
				    "tokens)\n"));
	assert_non_null(strstr(out, "\n  prefix          "));
	assert_non_null(strstr(out, "      8.00      8.00       0 (100.0%)"));
	assert_non_null(strstr(out, "\nWarning: prefix collapsed: it sent 100.0% of the requests "
				    "to worker 0 (fair share 12.5%), and hits less than rr ("));
	assert_null(strstr(out, "Warning: rr"));
	assert_null(strstr(out, "Warning: prefix+load"));

	assert_int_equal(pce("simulate --json --workers 8 --worker-capacity 500 -w 0.5 "
			     "--routing prefix,rr --kv-bytes-per-token 2 " SLICE),
			 0);
	o = cJSON_Parse(out);
	assert_non_null(o);
	assert_true(number(o, "requests") == 500);
	assert_true(number(o, "total_requests") == 1000);
	w = cJSON_GetObjectItem(o, "workers");
	assert_true(number(w, "count") == 8);
	assert_true(number(w, "capacity_blocks") == 500);
	assert_true(number(w, "capacity_tokens") == 256000);
	assert_true(number(w, "capacity_bytes") == 512000);
	assert_string_equal(cJSON_GetObjectItem(w, "eviction_policy")->valuestring, "CLOCK-LRU");
	assert_true(number(cJSON_GetObjectItem(o, "prefix_load"), "balance_abs") == 64);
	routing = cJSON_GetObjectItem(o, "routing");
	assert_int_equal(cJSON_GetArraySize(routing), 2);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(routing, 0), "policy")->valuestring,
			    "prefix");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(routing, 0), "collapsed")));
	assert_true(number(cJSON_GetArrayItem(routing, 0), "busiest_share") == 1);
	assert_true(number(cJSON_GetArrayItem(routing, 0), "requests_max_over_mean") == 8);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(routing, 1), "collapsed")));
	/* rr: 500 counted requests over 8 workers, 63 at most */
	assert_true(number(cJSON_GetArrayItem(routing, 1), "requests_max_over_mean") == 63 * 8 / 500.0);
	assert_int_equal(
		cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(routing, 1), "worker_requests")),
		8);
	assert_true(number(cJSON_GetObjectItem(cJSON_GetArrayItem(routing, 1), "match_ns"), "p50") > 0);
	cJSON_Delete(o);

	snprintf(path, sizeof(path), "%s/routes.svg", scratch_dir());
	snprintf(args, sizeof(args), "simulate --workers 8 --worker-capacity 500 --svg '%s' " SLICE,
		 path);
	assert_int_equal(pce(args), 0);
	slurp(path, svg, sizeof(svg));
	assert_true(strncmp(svg, "<svg ", 5) == 0);
	assert_non_null(strstr(svg, ">prefix (collapsed)</text>"));
	assert_non_null(strstr(svg, ">fair share: 12.5%</text>"));
}

/* Names are bytes, JSON and XML are UTF-8 text: a file name with control
 * characters, DEL, a byte that is not UTF-8, a quote and a backslash (it
 * is also the namespace of a mooncake file) still gives JSON and SVG that
 * strict parsers accept, with U+FFFD for the byte JSON cannot carry and for
 * everything XML cannot.  Python decodes strictly and rejects raw control
 * characters in JSON strings; expat rejects them in XML.  The tables show
 * such bytes as \xNN, never raw. */
static void test_odd_names(void **state)
{
	static const char trace[] =
		"{\"timestamp\": 0, \"input_length\": 1024, \"hash_ids\": [1, 2]}\n"
		"{\"timestamp\": 1, \"input_length\": 1536, \"hash_ids\": [1, 2, 3]}\n"
		"{\"timestamp\": 2, \"input_length\": 1024, \"hash_ids\": [1, 4]}\n";
	static const char json_names[] =
		"/usr/bin/python3 -c 'import json, sys; "
		"d = json.loads(open(sys.argv[1], \"rb\").read().decode(\"utf-8\")); "
		"print(ascii([i[\"path\"] for i in d[\"inputs\"]] + "
		"[n[\"name\"] for n in d.get(\"namespaces\", [])]))'";
	static const char svg_text[] =
		"/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; "
		"print(ascii(\"\".join(E.parse(sys.argv[1]).getroot().itertext())))'";
	/* the name as Python's ascii() shows it after JSON and after XML */
	static const char in_json[] = "odd\\x01\\x7f\\ufffd\"\\\\.jsonl'";
	static const char in_svg[] = "odd\\ufffd\\ufffd\\ufffd\"\\\\.jsonl:";
	char path[512], args[2048], result[600];
	(void)state;

	snprintf(path, sizeof(path), "%s",
		 scratch_file("odd\x01\x7f\xff\"\\.jsonl", trace, sizeof(trace) - 1));
	for (int cmd = 0; cmd < 2; cmd++) {
		snprintf(args, sizeof(args), "%s --json '%s'", cmd ? "simulate" : "analyze", path);
		assert_int_equal(pce(args), 0);
		snprintf(result, sizeof(result), "%s",
			 scratch_file("result.json", out, strlen(out)));
		snprintf(args, sizeof(args), "%s '%s'", json_names, result);
		if (run(args) != 0)
			fail_msg("invalid JSON from pce %s: %s", cmd ? "simulate" : "analyze", err);
		/* analyze: the input and its namespace; simulate: the input */
		assert_non_null(strstr(out, in_json));
		if (!cmd)
			assert_non_null(strstr(strstr(out, in_json) + 1, in_json));
	}
	/* Tables: the name with \xNN for what a terminal would act on (the
	 * input's path, then the namespace's), and no control byte at all. */
	for (int cmd = 0; cmd < 2; cmd++) {
		snprintf(args, sizeof(args), "%s '%s'", cmd ? "simulate" : "analyze", path);
		assert_int_equal(pce(args), 0);
		assert_non_null(strstr(out, "odd\\x01\\x7f\\xff\"\\.jsonl\n"));
		if (!cmd)
			assert_non_null(strstr(out, "odd\\x01\\x7f\\xff\"\\.jsonl\n  "));
		for (const char *p = out; *p; p++)
			assert_true((unsigned char)*p >= 0x20 || *p == '\n');
	}
	snprintf(result, sizeof(result), "%s/chart.svg", scratch_dir());
	snprintf(args, sizeof(args), "simulate --svg '%s' '%s'", result, path);
	assert_int_equal(pce(args), 0);
	snprintf(args, sizeof(args), "%s '%s'", svg_text, result);
	if (run(args) != 0)
		fail_msg("invalid SVG: %s", err);
	assert_non_null(strstr(out, in_svg));
}

/* Does @path exist? */
static int exists(const char *path)
{
	FILE *f = fopen(path, "rb");

	if (f)
		fclose(f);
	return f != NULL;
}

/* Outputs are checked before the work: an --svg path that cannot be
 * written, or a closed standard output, fails at once (the malformed input
 * is never read), with one message; a run that fails leaves no file it
 * created and an old chart intact; a chart that cannot be written in the
 * end does not cost the tables. */
static void test_outputs_first(void **state)
{
	char bad[512], args[1200], svg[512], old[64];
	(void)state;

	snprintf(bad, sizeof(bad), "%s", scratch_file("bad.jsonl", "{\"tokens\":[1\n", 13));
	snprintf(args, sizeof(args), "simulate --svg /no/such/dir/x.svg '%s'", bad);
	assert_int_equal(pce(args), 2);
	assert_string_equal(err, "pce simulate: --svg: cannot create /no/such/dir/x.svg: No such "
				 "file or directory\n");
	snprintf(args, sizeof(args), "simulate --svg '%s' '%s'", scratch_dir(), bad);
	assert_int_equal(pce(args), 2);
	assert_non_null(strstr(err, "cannot write"));
	assert_non_null(strstr(err, "Is a directory"));
	assert_int_equal(lines(err), 1);

	snprintf(args, sizeof(args), "{ '%s' analyze '%s' >&-; }", PCE_TOOL, bad);
	assert_int_equal(run(args), 1);
	assert_string_equal(err, "pce analyze: standard output is closed\n");
	snprintf(args, sizeof(args), "{ '%s' simulate '%s' >&-; }", PCE_TOOL, bad);
	assert_int_equal(run(args), 1);
	assert_string_equal(err, "pce simulate: standard output is closed\n");

	/* The input fails: a new chart file is removed, an old one kept. */
	snprintf(svg, sizeof(svg), "%s/new.svg", scratch_dir());
	snprintf(args, sizeof(args), "simulate --svg '%s' '%s'", svg, bad);
	assert_int_equal(pce(args), 2);
	assert_non_null(strstr(err, "bad.jsonl:1"));
	assert_false(exists(svg));
	snprintf(svg, sizeof(svg), "%s", scratch_file("old.svg", "old chart", 9));
	snprintf(args, sizeof(args), "simulate --svg '%s' '%s'", svg, bad);
	assert_int_equal(pce(args), 2);
	slurp(svg, old, sizeof(old));
	assert_string_equal(old, "old chart");

	/* A full disk: the tables still come, then the message, status 1. */
	assert_int_equal(pce("simulate --svg /dev/full " SLICE), 1);
	assert_non_null(strstr(out, "Recommendation: "));
	assert_string_equal(err, "pce simulate: --svg: cannot write /dev/full: No space left on "
				 "device\n");
}

/* The chart marks the recommended capacity, shows the capacity in the
 * table's units (blocks, tokens, KV bytes), and keeps the second policy's
 * line visible (dashed, over the first) and named when the two coincide. */
static void test_chart(void **state)
{
	static const char requests[] =
		"{\"t\": 0.0, \"tokens\": [1, 2, 3, 4, 5, 6, 7, 8, 20, 21, 22]}\n"
		"{\"t\": 1.5, \"tokens\": [1, 2, 3, 4, 5, 6, 7, 8, 30, 31]}\n"
		"{\"t\": 2.0, \"tokens\": [1, 2, 3, 4, 5, 6, 7, 8, 20, 21, 22, 40, 41, 42]}\n";
	static char svg[1 << 16];
	char path[512], args[1200], input[512];
	(void)state;

	snprintf(path, sizeof(path), "%s/chart.svg", scratch_dir());
	snprintf(args, sizeof(args), "simulate --kv-bytes-per-token 131072 --svg '%s' " SLICE,
		 path);
	assert_int_equal(pce(args), 0);
	assert_non_null(strstr(out, "Recommendation: 14,000 blocks"));
	slurp(path, svg, sizeof(svg));
	assert_non_null(strstr(svg, ">recommended: 14k blocks, CLOCK-LRU 20.2%</text>"));
	/* tick rows: names, then 10k blocks = 5.12M tokens = 625 GiB of KV */
	assert_non_null(strstr(svg, ">blocks</text>"));
	assert_non_null(strstr(svg, ">tokens</text>"));
	assert_non_null(strstr(svg, ">KV</text>"));
	assert_non_null(strstr(svg, ">10k</text>"));
	assert_non_null(strstr(svg, ">5.12M</text>"));
	assert_non_null(strstr(svg, ">625 GiB</text>"));
	assert_non_null(strstr(svg, "stroke-dasharray=\"9 5\" points=")); /* CLOCK-LFU */

	snprintf(input, sizeof(input), "%s",
		 scratch_file("same.jsonl", requests, sizeof(requests) - 1));
	snprintf(args, sizeof(args), "simulate -c 10,20 --svg '%s' '%s'", path, input);
	assert_int_equal(pce(args), 0);
	slurp(path, svg, sizeof(svg));
	assert_non_null(strstr(svg, ">CLOCK-LFU (same as CLOCK-LRU)</text>"));
	assert_non_null(strstr(svg, ">recommended: 20 tokens, CLOCK-LRU"));
	assert_null(strstr(svg, ">KV</text>"));     /* no --kv-bytes-per-token */
	assert_null(strstr(svg, ">tokens</text>")); /* tokens are the unit */
}

/* Pipes as users make them: process substitution (a /dev/fd path that can
 * be opened once), gzip through a pipe, standard input from a pipe; for
 * simulate too, which reads its input several times. */
static void test_pipes(void **state)
{
	static const char *const cases[] = {
		"analyze --json <(cat " SLICE ")",
		"analyze --json <(gzip -c < " SLICE ")",
		"analyze --json - < <(gzip -c < " SLICE ")",
		"analyze --json --format mooncake <(cat " SLICE ")",
	};
	char want[4096];
	cJSON *o;
	(void)state;

	for (size_t i = 0; i < NELEM(cases); i++) {
		if (pce_bash(cases[i]) != 0)
			fail_msg("pce %s: stderr \"%s\"", cases[i], err);
		o = cJSON_Parse(out);
		assert_non_null(o);
		assert_true(number(o, "requests") == mooncake_w0.requests);
		assert_true(number(o, "input_tokens") == mooncake_w0.tokens);
		assert_true(number(o, "hit_tokens") == mooncake_w0.hit_tokens);
		cJSON_Delete(o);
	}
	/* simulate: the same curve as from the file */
	assert_int_equal(pce("simulate -c 1k,100k -w 0.5 " SLICE), 0);
	assert_non_null(strstr(out, "Token-weighted"));
	snprintf(want, sizeof(want), "%.4000s", strstr(out, "Token-weighted"));
	assert_int_equal(pce_bash("simulate -c 1k,100k -w 0.5 <(gzip -c < " SLICE ")"), 0);
	assert_non_null(strstr(out, "Token-weighted"));
	assert_string_equal(strstr(out, "Token-weighted"), want);
	assert_int_equal(pce_bash("simulate -c 1k,100k -w 0.5 - < <(cat " SLICE ")"), 0);
	assert_non_null(strstr(out, "Token-weighted"));
	assert_string_equal(strstr(out, "Token-weighted"), want);
}

/* Data without prefixes is refused, with the input-error status: a CSV of
 * request lengths (the Azure LLM traces' format) is no trace, and text is
 * read only when asked for. */
static void test_not_a_trace(void **state)
{
	(void)state;
	assert_int_equal(pce("analyze tools/tests/data/lengths.csv"), 2);
	assert_non_null(strstr(err, "pce analyze: tools/tests/data/lengths.csv:1: CSV or text, "
				    "not a trace"));
	assert_int_equal(lines(err), 1);
	assert_string_equal(out, "");
	assert_int_equal(pce("simulate " PROMPTS), 2);
	assert_non_null(strstr(err, "give --format text"));
	assert_int_equal(pce("analyze --format text tools/tests/data/lengths.csv"), 0);
}

/* Time going backwards: one warning, with the line and the count. */
static void test_time_warning(void **state)
{
	const char text[] = "{\"tokens\":[1,2],\"t\":5}\n{\"tokens\":[1,3],\"t\":1}\n"
			    "{\"tokens\":[1,4],\"t\":0}\n";
	char args[600];
	const char *p = scratch_file("late.jsonl", text, sizeof(text) - 1);
	(void)state;

	for (int cmd = 0; cmd < 2; cmd++) {
		snprintf(args, sizeof(args), "%s -w 0.5 '%s'", cmd ? "simulate" : "analyze", p);
		assert_int_equal(pce(args), 0);
		assert_int_equal(lines(err), 1);
		assert_non_null(strstr(err, "warning: "));
		assert_non_null(strstr(err, "late.jsonl:2: arrival time goes backwards (1 s after "
					    "5 s), 2 times in this input"));
	}
}

static void test_bench(void **state)
{
	cJSON *o;
	(void)state;

	assert_int_equal(pce("bench --json -s 0.05 -e 500 -t 2"), 0);
	o = cJSON_Parse(out);
	assert_non_null(o);
	assert_true(number(o, "entries") == 500);
	assert_true(number(cJSON_GetObjectItem(o, "store"), "ops") == 500);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "lookup")), 2);
	assert_true(number(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "lookup"), 0), "ops") > 0);
	cJSON_Delete(o);
	/* Without options it hands over to the suite's quick preset (here a
	 * stand-in that shows its arguments). */
	setenv("PCE_BENCH", "/bin/echo", 1);
	assert_int_equal(pce("bench -- --only store"), 0);
	assert_string_equal(out, "--preset quick --only store\n");
	setenv("PCE_BENCH", "/no/such/pce_bench", 1);
	assert_int_equal(pce("bench"), 1);
	assert_non_null(strstr(err, "pce bench: cannot run /no/such/pce_bench"));
	unsetenv("PCE_BENCH");
}

/* pce snapshot inspect: an intact file (table and JSON), a truncated one. */
static void test_snapshot_inspect(void **state)
{
	struct pce_config cfg;
	struct pce_cache *c;
	uint32_t q[4] = { 1, 2, 3, 4 };
	struct pce_snapshot_section sec = { "events.seq", "12345", 5 };
	char path[300], bad[300], args[700];
	cJSON *o;
	FILE *f, *g;
	int ch;
	(void)state;

	snprintf(path, sizeof path, "%s/c.snap", scratch_dir());
	snprintf(bad, sizeof bad, "%s/bad.snap", scratch_dir());
	pce_config_init(&cfg);
	cfg.background_reclaim = 0;
	cfg.shards = 2;
	assert_int_equal(pce_cache_create(&cfg, &c), 0);
	assert_int_equal(pce_cache_store(c, 0, q, 4, 1, 0, NULL, NULL), 0);
	assert_int_equal(pce_cache_store(c, 0, q, 2, 2, 0, NULL, NULL), 0);
	assert_int_equal(pce_cache_snapshot_write(c, path, &sec, 1), 0);
	assert_int_equal(pce_cache_destroy(c), 0);

	snprintf(args, sizeof args, "snapshot inspect '%s'", path);
	assert_int_equal(pce(args), 0);
	assert_non_null(strstr(out, "cache index, format version 1"));
	assert_non_null(strstr(out, "2 entries"));
	assert_non_null(strstr(out, "events.seq"));
	snprintf(args, sizeof args, "snapshot inspect --json '%s'", path);
	assert_int_equal(pce(args), 0);
	o = cJSON_Parse(out);
	assert_non_null(o);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "intact")));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind")), "cache");
	assert_true(number(o, "records") == 2);
	assert_true(number(o, "shards") == 2);
	assert_true(number(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "sections"), 0), "bytes") == 5);
	cJSON_Delete(o);

	f = fopen(path, "rb");
	g = fopen(bad, "wb");
	for (int i = 0; i < 60 && (ch = fgetc(f)) != EOF; i++)
		fputc(ch, g);
	fclose(f);
	fclose(g);
	snprintf(args, sizeof args, "snapshot inspect '%s'", bad);
	assert_int_equal(pce(args), 2);
	assert_non_null(strstr(err, "refused: truncated"));
	snprintf(args, sizeof args, "snapshot inspect --json '%s'", bad);
	assert_int_equal(pce(args), 2);
	o = cJSON_Parse(out);
	assert_non_null(o);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "intact")));
	assert_non_null(cJSON_GetObjectItem(o, "error"));
	cJSON_Delete(o);
	assert_int_equal(pce("snapshot inspect /no/such/file"), 2);
	assert_int_equal(pce("snapshot frobnicate x"), 2);
	assert_int_equal(pce("snapshot inspect"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_bad_input_status),
		cmocka_unit_test(test_analyze_json),
		cmocka_unit_test(test_analyze_table),
		cmocka_unit_test(test_simulate),
		cmocka_unit_test(test_simulate_workers),
		cmocka_unit_test(test_odd_names),
		cmocka_unit_test(test_outputs_first),
		cmocka_unit_test(test_chart),
		cmocka_unit_test(test_pipes),
		cmocka_unit_test(test_not_a_trace),
		cmocka_unit_test(test_time_warning),
		cmocka_unit_test(test_bench),
		cmocka_unit_test(test_snapshot_inspect),
	};

	return tool_test_main("cli", tests, NELEM(tests));
}
