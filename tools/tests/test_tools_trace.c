/*
 * test_tools_trace.c - the trace readers: every format on known inputs,
 * the merge order, namespaces, gzip, rewind, kvtester compaction, the text
 * tokenizer, and one test per class of bad input (each must give
 * PCE_TRACE_EINPUT or EIO with the file and line or JSON path, never a
 * crash).
 */
#include "tool_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "expected.h"

#define LENGTHS "tools/tests/data/lengths.csv"

/* Sums over a whole stream. */
struct sums {
	uint64_t requests, ids, tokens, id_sum;
	double last_t;
	int ordered;
};

static struct sums drain(struct pce_trace *tr)
{
	struct sums s = {.ordered = 1, .last_t = -1};
	struct pce_trace_request r;
	int rc;

	while ((rc = pce_trace_next(tr, &r)) == PCE_TRACE_REQUEST) {
		assert_int_equal(r.index, s.requests);
		s.requests++;
		s.ids += r.len;
		s.tokens += r.tokens;
		for (size_t i = 0; i < r.len; i++)
			s.id_sum += r.ids[i];
		s.ordered &= r.t >= s.last_t;
		s.last_t = r.t;
	}
	assert_int_equal(rc, PCE_TRACE_END);
	return s;
}

static void test_mooncake_slice(void **state)
{
	const char *p = SLICE;
	struct pce_trace *tr = open_trace(&p, 1, PCE_TRACE_AUTO);
	struct sums s = drain(tr);
	(void)state;

	assert_int_equal(pce_trace_input_format(tr, 0), PCE_TRACE_MOONCAKE);
	assert_int_equal(pce_trace_input_block_size(tr, 0), 512);
	assert_int_equal(s.requests, mooncake_w0.requests);
	assert_int_equal(s.ids, mooncake_w0.ids);
	assert_int_equal(s.tokens, mooncake_w0.tokens);
	assert_true(s.ordered);
	assert_int_equal(pce_trace_ns_count(tr), 1);
	assert_string_equal(pce_trace_ns_name(tr, 0), SLICE);
	assert_true(pce_trace_progress(tr) == 1.0);
	pce_trace_close(tr);
}

/* The same lines gzip-compressed read the same; forcing the format too. */
static void test_gzip_transparent(void **state)
{
	const char *p = SLICE;
	struct pce_trace *tr = open_trace(&p, 1, PCE_TRACE_AUTO);
	struct sums plain = drain(tr), gz;
	FILE *f = fopen(SLICE, "rb");
	char *buf = malloc(1 << 20);
	size_t n;
	(void)state;

	pce_trace_close(tr);
	assert_non_null(f);
	n = fread(buf, 1, 1 << 20, f);
	fclose(f);
	p = scratch_gzip("slice.jsonl.gz", buf, n, 0);
	tr = open_trace(&p, 1, PCE_TRACE_MOONCAKE);
	gz = drain(tr);
	assert_int_equal(gz.requests, plain.requests);
	assert_int_equal(gz.id_sum, plain.id_sum);
	assert_int_equal(gz.tokens, plain.tokens);
	pce_trace_close(tr);
	free(buf);
}

/* kvtester: sessions merged by relative time, sub-agents flattened, one
 * namespace per session, and rewind replays the same stream. */
static void test_kvtester_dir(void **state)
{
	const char *p = KVTESTER;
	struct pce_trace *tr = open_trace(&p, 1, PCE_TRACE_AUTO);
	struct sums a = drain(tr), b;
	(void)state;

	assert_int_equal(pce_trace_input_format(tr, 0), PCE_TRACE_KVTESTER);
	assert_int_equal(pce_trace_input_block_size(tr, 0), 64);
	assert_int_equal(a.requests, kvtester_w0.requests);
	assert_int_equal(a.ids, kvtester_w0.ids);
	assert_int_equal(a.tokens, kvtester_w0.tokens);
	assert_true(a.ordered);
	assert_int_equal(pce_trace_ns_count(tr), 4);
	assert_string_equal(pce_trace_ns_name(tr, 1), KVTESTER "/trace_0291.json.gz");
	assert_int_equal(pce_trace_rewind(tr), 0);
	b = drain(tr);
	assert_int_equal(b.requests, a.requests);
	assert_int_equal(b.id_sum, a.id_sum);
	pce_trace_close(tr);
}

/* Hash of one request's ids, for an order-independent comparison. */
static uint64_t ids_hash(const cJSON *ids)
{
	const cJSON *id;
	uint64_t h = 0;

	cJSON_ArrayForEach(id, ids)
		h = h * 1000003 + (uint64_t)id->valuedouble + 1;
	return h;
}

/* The compact form rebuilds every request's ids exactly: compare with the
 * JSON read directly (cJSON here), sub-agents included. */
static void test_kvtester_compaction(void **state)
{
	const char *p = KVTESTER "/trace_0291.json.gz";
	struct pce_trace *tr = open_trace(&p, 1, PCE_TRACE_KVTESTER);
	struct pce_trace_request r;
	gzFile gz = gzopen(p, "rb");
	char *text = malloc(1 << 20);
	int n = gzread(gz, text, 1 << 20);
	uint64_t want_sum = 0, got_sum = 0, want_n = 0, got_n = 0, subagents = 0;
	cJSON *root, *req, *x;
	(void)state;

	gzclose(gz);
	assert_true(n > 0);
	root = cJSON_ParseWithLength(text, (size_t)n);
	assert_non_null(root);
	cJSON_ArrayForEach(req, cJSON_GetObjectItem(root, "requests")) {
		cJSON *list = cJSON_GetObjectItem(req, "requests");

		if (!list) {
			want_sum += ids_hash(cJSON_GetObjectItem(req, "hash_ids"));
			want_n++;
			continue;
		}
		subagents++;
		cJSON_ArrayForEach(x, list) {
			want_sum += ids_hash(cJSON_GetObjectItem(x, "hash_ids"));
			want_n++;
		}
	}
	assert_int_equal(subagents, 2);
	while (pce_trace_next(tr, &r) == PCE_TRACE_REQUEST) {
		uint64_t h = 0;

		for (size_t i = 0; i < r.len; i++)
			h = h * 1000003 + r.ids[i] + 1;
		got_sum += h;
		got_n++;
		assert_int_equal(r.block_size, 64);
		assert_int_equal(r.len, r.tokens / 64);
	}
	assert_int_equal(got_n, want_n);
	assert_true(got_sum == want_sum);
	cJSON_Delete(root);
	free(text);
	pce_trace_close(tr);
}

/* tokens: two files merged by "t"; namespaces by name; blank lines and
 * empty requests. */
static void test_tokens_merge(void **state)
{
	const char *p[] = {TOKENS_A, TOKENS_B};
	struct pce_trace *tr = open_trace(p, 2, PCE_TRACE_AUTO);
	struct pce_trace_request r;
	size_t i = 0;
	(void)state;

	while (pce_trace_next(tr, &r) == PCE_TRACE_REQUEST) {
		assert_true(i < NELEM(tokens_order));
		assert_string_equal(pce_trace_ns_name(tr, r.ns), tokens_order[i].ns);
		assert_int_equal(r.len, tokens_order[i].len);
		assert_int_equal(r.tokens, r.len);
		i++;
	}
	assert_int_equal(i, NELEM(tokens_order));
	pce_trace_close(tr);
}

/* text: the tokenizer packs pieces of up to 4 bytes; reference.py computed
 * the first prompt's tokens with its own implementation. */
static void test_text_tokens(void **state)
{
	const char *p = PROMPTS;
	struct pce_trace *tr = open_trace(&p, 1, PCE_TRACE_TEXT);
	struct pce_trace_request r;
	struct sums s;
	(void)state;

	assert_int_equal(pce_trace_input_format(tr, 0), PCE_TRACE_TEXT);
	assert_int_equal(pce_trace_next(tr, &r), PCE_TRACE_REQUEST);
	assert_int_equal(r.len, NELEM(text_first));
	assert_memory_equal(r.ids, text_first, sizeof(text_first));
	assert_int_equal(pce_trace_rewind(tr), 0);
	s = drain(tr);
	assert_int_equal(s.requests, text_w0.requests);
	assert_int_equal(s.ids, text_w0.ids);
	pce_trace_close(tr);
}

/* Standard input is detected and read like a file (here it is one, so it
 * can rewind). */
static void test_stdin(void **state)
{
	const char *line = "{\"tokens\":[5,6,7]}\n{\"tokens\":[5,6]}\n";
	const char *dash = "-";
	struct pce_trace *tr;
	struct sums s;
	FILE *in;
	(void)state;

	in = freopen(scratch_file("stdin.jsonl", line, strlen(line)), "r", stdin);
	assert_non_null(in);
	tr = open_trace(&dash, 1, PCE_TRACE_AUTO);
	assert_string_equal(pce_trace_input_path(tr, 0), "<stdin>");
	s = drain(tr);
	assert_int_equal(s.requests, 2);
	assert_int_equal(pce_trace_rewind(tr), 0);
	s = drain(tr);
	assert_int_equal(s.ids, 5);
	pce_trace_close(tr);
}

#define BAD(name, text, format, code, needle)                                         \
	expect_trace_error(scratch_file(name, text, sizeof(text) - 1), format, code, needle)

/* A byte order mark and leading blanks do not hide the format. */
static void test_bom_and_blanks(void **state)
{
	const char tokens[] = "\xef\xbb\xbf  {\"tokens\":[1,2]}\n\t{\"tokens\":[1,3]}\n";
	const char session[] = "\xef\xbb\xbf{\"requests\":[{\"t\":0,\"in\":64,\"hash_ids\":[1]}]}";
	const char *p = scratch_file("bom.jsonl", tokens, sizeof(tokens) - 1);
	struct pce_trace *tr = open_trace(&p, 1, PCE_TRACE_AUTO);
	struct sums s = drain(tr);
	(void)state;

	assert_int_equal(pce_trace_input_format(tr, 0), PCE_TRACE_TOKENS);
	assert_int_equal(s.requests, 2);
	pce_trace_close(tr);
	p = scratch_file("bom.json", session, sizeof(session) - 1);
	tr = open_trace(&p, 1, PCE_TRACE_AUTO);
	s = drain(tr);
	assert_int_equal(pce_trace_input_format(tr, 0), PCE_TRACE_KVTESTER);
	assert_int_equal(s.requests, 1);
	pce_trace_close(tr);
}

static void test_bad_json(void **state)
{
	(void)state;
	BAD("a.jsonl", "{\"tokens\":[1,2]}\n{\"tokens\":[1,2}\n", PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
	    ":2: column 15: invalid JSON");
	BAD("b.jsonl", "{\"tokens\":[1,2]}\n{\"tokens\":[1,2]} x\n", PCE_TRACE_AUTO,
	    PCE_TRACE_EINPUT, ":2: column 18: unexpected text after the JSON value");
	BAD("c.jsonl", "{\"tokens\":[1,2]}\n{\"tokens\":[1,\n", PCE_TRACE_AUTO,
	    PCE_TRACE_EINPUT, ":2: column 13: invalid JSON: the text ends before");
	BAD("d.jsonl", "{\"tokens\":[1,2]}\n[1,2]\n", PCE_TRACE_TOKENS, PCE_TRACE_EINPUT,
	    ":2: expected a JSON object, got an array");
	BAD("e.jsonl", "{\"tokens\":[1,2]}\n{\"tok\0ens\":[1]}\n", PCE_TRACE_AUTO,
	    PCE_TRACE_EINPUT, ":2: column 6: a NUL byte");
	BAD("f.json", "{\"block_size\": 64,\n \"requests\": [\n  {\"t\": 0, \"in\": 64,\n",
	    PCE_TRACE_AUTO, PCE_TRACE_EINPUT, ":3: column");
	BAD("g.jsonl", "{\"x\":1}\n", PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
	    ":1: a JSON object with none of the keys");
}

static void test_bad_types(void **state)
{
	(void)state;
	BAD("a.jsonl", "{\"tokens\":[1]}\n{\"tokens\":\"abc\"}\n", PCE_TRACE_AUTO,
	    PCE_TRACE_EINPUT, ":2: tokens: expected an array of integers, got a string");
	BAD("b.jsonl", "{\"tokens\":[1, 2.5]}\n", PCE_TRACE_TOKENS, PCE_TRACE_EINPUT,
	    ":1: tokens[1]: expected an integer in [0, 4294967295], got 2.5");
	BAD("c.jsonl", "{\"tokens\":[1], \"ns\": [1]}\n", PCE_TRACE_TOKENS, PCE_TRACE_EINPUT,
	    ":1: ns: expected a string or an integer, got an array");
	BAD("d.jsonl", "{\"tokens\":[1], \"t\": \"soon\"}\n", PCE_TRACE_TOKENS, PCE_TRACE_EINPUT,
	    ":1: t: expected a time >= 0, got a string");
	BAD("e.jsonl", "{\"timestamp\":0,\"input_length\":\"12\",\"hash_ids\":[1]}\n",
	    PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
	    ":1: input_length: expected an integer in [0, 4294967295], got a string");
	BAD("f.jsonl", "{\"timestamp\":0,\"input_length\":12}\n", PCE_TRACE_MOONCAKE,
	    PCE_TRACE_EINPUT, ":1: hash_ids: missing");
	BAD("g.json", "{\"requests\":[{\"t\":0,\"in\":\"64\",\"hash_ids\":[1]}]}",
	    PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
	    ": requests[0].in: expected an integer in [0, 4294967295], got a string");
	BAD("h.json",
	    "{\"requests\":[{\"t\":0,\"in\":64,\"hash_ids\":[1]},"
	    "{\"type\":\"subagent\",\"t\":3,\"requests\":[{\"t\":1,\"in\":64,\"hash_ids\":[true]}]}]}",
	    PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
	    ": requests[1].requests[0].hash_ids[0]: expected an integer in [0, 4294967295], got a "
	    "boolean");
	BAD("i.json", "{\"requests\": 5}", PCE_TRACE_KVTESTER, PCE_TRACE_EINPUT,
	    ": requests: expected an array of requests, got a number");
	BAD("j.json", "{\"requests\": [], \"hash_id_scope\": \"galactic\"}", PCE_TRACE_KVTESTER,
	    PCE_TRACE_EINPUT, ": hash_id_scope: expected \"local\" or \"global\"");
}

static void test_bad_numbers(void **state)
{
	(void)state;
	BAD("a.jsonl", "{\"tokens\":[1,2,-3]}\n", PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
	    ":1: tokens[2]: expected an integer in [0, 4294967295], got -3");
	BAD("b.jsonl", "{\"tokens\":[4294967296]}\n", PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
	    ":1: tokens[0]: expected an integer in [0, 4294967295], got 4294967296");
	BAD("c.jsonl", "{\"timestamp\":0,\"input_length\":1e12,\"hash_ids\":[1]}\n",
	    PCE_TRACE_AUTO, PCE_TRACE_EINPUT, ":1: input_length: expected an integer");
	BAD("d.jsonl", "{\"timestamp\":0,\"input_length\":1000,\"hash_ids\":[1]}\n",
	    PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
	    ":1: input_length 1000 is 2 blocks of 512 tokens, but hash_ids has 1 ids (wrong "
	    "--block-size?)");
	BAD("e.jsonl", "{\"timestamp\":-5,\"input_length\":10,\"hash_ids\":[1]}\n",
	    PCE_TRACE_AUTO, PCE_TRACE_EINPUT, ":1: timestamp: expected a time >= 0, got -5");
	BAD("f.jsonl", "{\"tokens\":[1],\"t\":1e999}\n", PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
	    ":1: t: expected a time >= 0");
	BAD("g.json", "{\"requests\":[{\"t\":0,\"in\":100,\"hash_ids\":[1,2]}]}",
	    PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
	    ": requests[0]: \"in\" is 100 tokens, 1 whole blocks of 64, but hash_ids has 2 ids");
	BAD("h.json", "{\"block_size\": 0, \"requests\": []}", PCE_TRACE_KVTESTER,
	    PCE_TRACE_EINPUT, ": block_size: must be at least 1");
}

static void test_bad_nesting(void **state)
{
	char text[2048] = "{\"requests\":[";
	(void)state;

	for (int i = 0; i < 20; i++)
		strcat(text, "{\"type\":\"subagent\",\"t\":1,\"requests\":[");
	for (int i = 0; i < 20; i++)
		strcat(text, "]}");
	strcat(text, "]}");
	expect_trace_error(scratch_file("deep.json", text, strlen(text)), PCE_TRACE_AUTO,
			   PCE_TRACE_EINPUT, "sub-agents nested deeper than 16 levels");
}

static void test_empty_inputs(void **state)
{
	char dir[512];
	(void)state;

	expect_trace_error(scratch_file("empty.jsonl", "", 0), PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
			   ": empty file: no requests");
	BAD("blank.jsonl", "\n  \n\t\n", PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
	    ": empty file: no requests");
	expect_trace_error(scratch_file("empty.json", "", 0), PCE_TRACE_KVTESTER,
			   PCE_TRACE_EINPUT, ": empty file");
	snprintf(dir, sizeof(dir), "%s/no-sessions", scratch_dir());
	assert_int_equal(mkdir(dir, 0700), 0);
	expect_trace_error(dir, PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
			   ": no session files (*.json, *.json.gz) in this directory");
	expect_trace_error("no/such/file.jsonl", PCE_TRACE_AUTO, PCE_TRACE_EIO,
			   ": No such file or directory");
}

static void test_bad_gzip(void **state)
{
	const char line[] = "{\"tokens\":[1,2,3,4,5,6,7,8,9,10,11,12]}\n";
	char *text = malloc(200 * (sizeof(line) - 1));
	const char junk[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage garbage garbage";
	(void)state;

	for (int i = 0; i < 200; i++)
		memcpy(text + i * (sizeof(line) - 1), line, sizeof(line) - 1);
	expect_trace_error(scratch_gzip("t.jsonl.gz", text, 200 * (sizeof(line) - 1), 40),
			   PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
			   "truncated gzip file: it ends in the middle of a compressed stream");
	expect_trace_error(scratch_gzip("t.json.gz", text, 200 * (sizeof(line) - 1), 40),
			   PCE_TRACE_KVTESTER, PCE_TRACE_EINPUT, "truncated gzip file");
	BAD("j.jsonl.gz", junk, PCE_TRACE_AUTO, PCE_TRACE_EINPUT, "corrupt gzip data");
	free(text);
}

static void test_binary_junk(void **state)
{
	unsigned char junk[4096];
	uint64_t s = 7;
	(void)state;

	for (size_t i = 0; i < sizeof(junk); i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		junk[i] = (unsigned char)(s >> 56);
	}
	junk[0] = 0x01; /* not the gzip magic */
	expect_trace_error(scratch_file("junk.bin", junk, sizeof(junk)), PCE_TRACE_AUTO,
			   PCE_TRACE_EINPUT, ":1: binary data: neither JSON nor text");
	junk[0] = 'x';
	junk[1] = '\0';
	expect_trace_error(scratch_file("junk.txt", junk, sizeof(junk)), PCE_TRACE_TEXT,
			   PCE_TRACE_EINPUT, ":1: column 2: a NUL byte: binary data, not text");
	expect_trace_error(scratch_file("junk.jsonl", junk, sizeof(junk)), PCE_TRACE_TOKENS,
			   PCE_TRACE_EINPUT, ":1: column 2: a NUL byte");
}

/* Text is read only when asked for: a file of prompts, a CSV of request
 * lengths (the Azure LLM traces' format, which has no ids at all) or a
 * line of brackets is refused by detection, saying what it looks like,
 * instead of being measured as prompts. */
static void test_text_needs_format(void **state)
{
	const char *p = LENGTHS;
	struct pce_trace *tr;
	(void)state;

	expect_trace_error(PROMPTS, PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
			   ":1: text, not a trace (formats: tokens, mooncake, kvtester).  To read "
			   "each line as a prompt, give --format text");
	expect_trace_error(LENGTHS, PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
			   ":1: CSV or text, not a trace: a trace needs token ids or block ids");
	BAD("brackets.txt", "\n[[[ not json ]]]\n", PCE_TRACE_AUTO, PCE_TRACE_EINPUT,
	    ":2: text, not a trace");
	BAD("array.jsonl", "[1,2,3]\n", PCE_TRACE_AUTO, PCE_TRACE_EINPUT, ":1: text, not a trace");
	/* asked for, it is read */
	tr = open_trace(&p, 1, PCE_TRACE_TEXT);
	assert_int_equal(drain(tr).requests, 5);
	pce_trace_close(tr);
}

/* Invalid UTF-8 or a control byte is refused on any line of a text input,
 * with its line and column, as detection refused it on the first. */
static void test_text_checked_on_every_line(void **state)
{
	(void)state;
	BAD("late.txt", "a first prompt\nanother one\nbad \xff byte\n", PCE_TRACE_TEXT,
	    PCE_TRACE_EINPUT, ":3: column 5: byte 0xff: not UTF-8 text");
	BAD("cut.txt", "ok\ncut \xc3\n", PCE_TRACE_TEXT, PCE_TRACE_EINPUT,
	    ":2: column 5: byte 0xc3: not UTF-8 text");
	BAD("bell.txt", "ok\nring \x07\n", PCE_TRACE_TEXT, PCE_TRACE_EINPUT,
	    ":2: column 6: byte 0x07");
	BAD("first.txt", "\xff\xfe junk\n", PCE_TRACE_AUTO, PCE_TRACE_EINPUT, ":1: binary data");
}

/* Arrival times that go backwards are read in file order, and reported:
 * the first place and the count, once per reading. */
static void test_time_backwards(void **state)
{
	const char text[] = "{\"tokens\":[1],\"t\":1}\n{\"tokens\":[2],\"t\":2}\n"
			    "{\"tokens\":[3],\"t\":0.5}\n{\"tokens\":[4],\"t\":3}\n"
			    "{\"tokens\":[5],\"t\":0.25}\n";
	const char *p = scratch_file("backwards.jsonl", text, sizeof(text) - 1);
	const char *ok = TOKENS_A;
	struct pce_trace *tr = open_trace(&p, 1, PCE_TRACE_AUTO);
	struct pce_trace_request r;
	uint32_t first[5];
	size_t n = 0;
	(void)state;

	while (pce_trace_next(tr, &r) == PCE_TRACE_REQUEST)
		first[n++] = r.ids[0];
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(first[i], i + 1); /* file order */
	assert_non_null(strstr(pce_trace_warning(tr),
			       "backwards.jsonl:3: arrival time goes backwards (0.5 s after 2 s), "
			       "2 times in this input"));
	assert_int_equal(pce_trace_rewind(tr), 0);
	assert_int_equal(drain(tr).requests, 5);
	assert_non_null(strstr(pce_trace_warning(tr), "2 times"));
	pce_trace_close(tr);
	tr = open_trace(&ok, 1, PCE_TRACE_AUTO);
	drain(tr);
	assert_string_equal(pce_trace_warning(tr), "");
	pce_trace_close(tr);
}

/* Fields other than the ids are cJSON's reading; the ids are read
 * straight from the stream with the same grammar. */
static void test_jsonl_grammar(void **state)
{
	const char text[] =
		"{\"x\":{\"a\":[1,{\"b\":\"\\u00e9\\ud83d\\ude00\"}],\"c\":null}, "
		"\"tok\\u0065ns\":[1e2, 2.0, -0, 007 ,4294967295],\"t\":1.5,\"ns\":\"n\\u0041\"}\r\n"
		"{\"tokens\":[7],\"tokens\":[8,9],\"ns\":12}\n"
		"\t{ \"tokens\" : [ ] }  \n";
	const char *p = scratch_file("grammar.jsonl", text, sizeof(text) - 1);
	struct pce_trace *tr = open_trace(&p, 1, PCE_TRACE_AUTO);
	struct pce_trace_request r;
	static const uint32_t want[] = {100, 2, 0, 7, 4294967295u};
	(void)state;

	assert_int_equal(pce_trace_next(tr, &r), PCE_TRACE_REQUEST);
	assert_int_equal(r.len, 5);
	assert_memory_equal(r.ids, want, sizeof(want));
	assert_true(r.t == 1.5);
	assert_string_equal(pce_trace_ns_name(tr, r.ns), "nA");
	assert_int_equal(pce_trace_next(tr, &r), PCE_TRACE_REQUEST);
	assert_int_equal(r.len, 1); /* the first "tokens" counts, as in cJSON */
	assert_int_equal(r.ids[0], 7);
	assert_string_equal(pce_trace_ns_name(tr, r.ns), "12");
	assert_int_equal(pce_trace_next(tr, &r), PCE_TRACE_REQUEST);
	assert_int_equal(r.len, 0);
	assert_int_equal(pce_trace_next(tr, &r), PCE_TRACE_END);
	pce_trace_close(tr);
	BAD("comma.jsonl", "{\"tokens\":[1,]}\n", PCE_TRACE_TOKENS, PCE_TRACE_EINPUT,
	    ":1: column 14: invalid JSON near \"]}\"");
	BAD("space.jsonl", "{\"tokens\":[1 2]}\n", PCE_TRACE_TOKENS, PCE_TRACE_EINPUT,
	    ":1: column 14: invalid JSON near \"2]}\"");
	BAD("plus.jsonl", "{\"tokens\":[1+2]}\n", PCE_TRACE_TOKENS, PCE_TRACE_EINPUT,
	    ":1: column 13: invalid JSON near \"+2]}\"");
	BAD("escape.jsonl", "{\"tokens\":[1],\"x\":\"\\q\"}\n", PCE_TRACE_TOKENS,
	    PCE_TRACE_EINPUT, ":1: column 21: invalid JSON");
	BAD("surrogate.jsonl", "{\"tokens\":[1],\"x\":\"\\udc00\"}\n", PCE_TRACE_TOKENS,
	    PCE_TRACE_EINPUT, ":1: column");
	BAD("nul.jsonl", "{\"tokens\":[1,x]}\0\n", PCE_TRACE_TOKENS, PCE_TRACE_EINPUT,
	    ":1: column 17: a NUL byte");
	BAD("null.jsonl", "{\"tokens\":null}\n", PCE_TRACE_TOKENS, PCE_TRACE_EINPUT,
	    ":1: tokens: missing");
	/* a number cut by the end of the input */
	BAD("eof.jsonl", "{\"tokens\":[1]}\n{\"tokens\":[1,23", PCE_TRACE_TOKENS,
	    PCE_TRACE_EINPUT, ":2: column 15: invalid JSON: the text ends before");
}

/* ---- pipes ------------------------------------------------------------- */

/* A child process that writes @len bytes of @data to @path (opened for
 * writing, so it waits for the reader), then exits. */
static pid_t writer(const char *path, const char *data, size_t len)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_WRONLY);

		if (fd < 0 || write(fd, data, len) != (ssize_t)len)
			_exit(1);
		_exit(0);
	}
	return pid;
}

static void reap(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static const char *fifo(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", scratch_dir(), name);
	assert_int_equal(mkfifo(path, 0600), 0);
	return path;
}

/* A named pipe written by another process is detected and read from the
 * one stream (it cannot be opened twice); it cannot rewind unless the
 * caller asked for a copy. */
static void test_named_pipe(void **state)
{
	const char text[] = "{\"tokens\":[5,6,7],\"t\":1}\n{\"tokens\":[5,6],\"t\":2}\n";
	struct pce_trace_opts o = {.format = PCE_TRACE_AUTO};
	const char *p = fifo("trace.fifo");
	struct pce_trace *tr;
	pid_t pid = writer(p, text, sizeof(text) - 1);
	struct sums s;
	(void)state;

	assert_int_equal(pce_trace_open(&tr, &p, 1, &o), 0);
	assert_int_equal(pce_trace_input_format(tr, 0), PCE_TRACE_TOKENS);
	s = drain(tr);
	assert_int_equal(s.requests, 2);
	assert_int_equal(s.ids, 5);
	assert_int_equal(pce_trace_rewind(tr), PCE_TRACE_EIO);
	assert_non_null(strstr(pce_trace_error(tr), "cannot read this input twice"));
	pce_trace_close(tr);
	reap(pid);
	/* with a copy, it reads twice */
	o.rewindable = 1;
	pid = writer(p, text, sizeof(text) - 1);
	assert_int_equal(pce_trace_open(&tr, &p, 1, &o), 0);
	assert_int_equal(drain(tr).requests, 2);
	assert_int_equal(pce_trace_rewind(tr), 0);
	assert_int_equal(drain(tr).ids, 5);
	pce_trace_close(tr);
	reap(pid);
}

struct waited {
	const char *path;
	int calls;
	pid_t pid;
};

static void on_wait(void *ctx, const char *path)
{
	struct waited *w = ctx;
	static const char text[] = "{\"tokens\":[1,2]}\n";

	assert_string_equal(path, w->path);
	w->calls++;
	w->pid = writer(w->path, text, sizeof(text) - 1);
}

/* A named pipe without a writer neither hangs in open() nor reads as
 * empty: the trace says it waits (on_wait), then reads what the writer,
 * which comes later, sends. */
static void test_fifo_without_writer(void **state)
{
	struct waited w = {fifo("late.fifo"), 0, 0};
	struct pce_trace_opts o = {.format = PCE_TRACE_AUTO, .on_wait = on_wait, .ctx = &w};
	struct pce_trace *tr;
	(void)state;

	assert_int_equal(pce_trace_open(&tr, &w.path, 1, &o), 0);
	assert_int_equal(w.calls, 1);
	assert_int_equal(drain(tr).ids, 2);
	pce_trace_close(tr);
	reap(w.pid);
}

/* gzip through a pipe: detected and inflated from the stream. */
static void test_gzip_pipe(void **state)
{
	const char *p = SLICE, *gz;
	struct pce_trace *tr = open_trace(&p, 1, PCE_TRACE_AUTO);
	struct sums plain = drain(tr), piped;
	FILE *f = fopen(SLICE, "rb");
	char *buf = malloc(1 << 20), *zipped = malloc(1 << 20);
	size_t n, zn;
	pid_t pid;
	(void)state;

	pce_trace_close(tr);
	assert_non_null(f);
	n = fread(buf, 1, 1 << 20, f);
	fclose(f);
	gz = scratch_gzip("pipe.jsonl.gz", buf, n, 0);
	f = fopen(gz, "rb");
	zn = fread(zipped, 1, 1 << 20, f);
	fclose(f);
	p = fifo("gzip.fifo");
	pid = writer(p, zipped, zn);
	tr = open_trace(&p, 1, PCE_TRACE_AUTO);
	assert_int_equal(pce_trace_input_format(tr, 0), PCE_TRACE_MOONCAKE);
	piped = drain(tr);
	assert_int_equal(piped.requests, plain.requests);
	assert_int_equal(piped.id_sum, plain.id_sum);
	assert_int_equal(piped.tokens, plain.tokens);
	pce_trace_close(tr);
	reap(pid);
	free(buf);
	free(zipped);
}

/* A line longer than the limit is refused once the limit is passed, not
 * after reading it whole: here the writer would write forever, and the
 * reader stops it (the writer sees the pipe close) having taken little
 * more than the limit. */
static void test_long_line_from_pipe(void **state)
{
	struct pce_trace_opts o = {.format = PCE_TRACE_AUTO, .max_line = 1 << 20};
	struct pce_trace_request r;
	struct pce_trace *tr;
	char path[64], chunk[4096];
	const char *p = path;
	unsigned long long written = 0;
	int data[2], count[2], rc, st;
	pid_t pid;
	(void)state;

	assert_int_equal(pipe(data), 0);
	assert_int_equal(pipe(count), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(data[0]);
		close(count[0]);
		signal(SIGPIPE, SIG_IGN);
		memcpy(chunk, "{\"tokens\":[", 11);
		if (write(data[1], chunk, 11) != 11)
			_exit(1);
		for (size_t i = 0; i < sizeof(chunk); i += 2)
			memcpy(chunk + i, "1,", 2);
		for (;;) {
			ssize_t k = write(data[1], chunk, sizeof(chunk));

			if (k < 0 && errno == EPIPE)
				break;
			if (k < 0)
				_exit(1);
			written += (unsigned long long)k;
		}
		if (write(count[1], &written, sizeof(written)) != sizeof(written))
			_exit(1);
		_exit(0);
	}
	close(data[1]);
	close(count[1]);
	snprintf(path, sizeof(path), "/dev/fd/%d", data[0]);
	rc = pce_trace_open(&tr, &p, 1, &o);
	while (rc == 0 && (rc = pce_trace_next(tr, &r)) == PCE_TRACE_REQUEST)
		rc = 0;
	assert_int_equal(rc, PCE_TRACE_EINPUT);
	assert_non_null(strstr(pce_trace_error(tr), ":1: line longer than 1 MiB"));
	pce_trace_close(tr);
	close(data[0]);
	assert_int_equal(read(count[0], &written, sizeof(written)), (ssize_t)sizeof(written));
	close(count[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the limit, a read chunk and the pipe's buffer, never the stream */
	assert_true(written < 8 << 20);
}

/* Options that cannot apply are refused, not ignored. */
static void test_block_size_option(void **state)
{
	struct pce_trace_opts o = {.format = PCE_TRACE_AUTO, .block_size = 16};
	struct pce_trace *tr;
	const char *p = TOKENS_A;
	(void)state;

	assert_int_equal(pce_trace_open(&tr, &p, 1, &o), PCE_TRACE_EINPUT);
	assert_non_null(strstr(pce_trace_error(tr), "--block-size applies to block-id traces"));
	pce_trace_close(tr);
	/* A wrong block size on a mooncake trace shows at the first line. */
	p = SLICE;
	o.block_size = 256;
	assert_int_equal(pce_trace_open(&tr, &p, 1, &o), PCE_TRACE_EINPUT);
	assert_non_null(strstr(pce_trace_error(tr), ":1: input_length 6758 is 27 blocks of 256"));
	pce_trace_close(tr);
	o.format = PCE_TRACE_MOONCAKE;
	o.block_size = 0;
	p = KVTESTER;
	assert_int_equal(pce_trace_open(&tr, &p, 1, &o), PCE_TRACE_EINPUT);
	assert_non_null(strstr(pce_trace_error(tr), "only kvtester inputs are directories"));
	pce_trace_close(tr);
}

static void test_format_names(void **state)
{
	(void)state;
	for (int f = 0; f < PCE_TRACE_FORMAT_COUNT; f++)
		assert_int_equal(pce_trace_format_parse(pce_trace_format_name(f)), f);
	assert_int_equal(pce_trace_format_parse("json"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mooncake_slice),
		cmocka_unit_test(test_gzip_transparent),
		cmocka_unit_test(test_kvtester_dir),
		cmocka_unit_test(test_kvtester_compaction),
		cmocka_unit_test(test_tokens_merge),
		cmocka_unit_test(test_text_tokens),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_bom_and_blanks),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_bad_types),
		cmocka_unit_test(test_bad_numbers),
		cmocka_unit_test(test_bad_nesting),
		cmocka_unit_test(test_empty_inputs),
		cmocka_unit_test(test_bad_gzip),
		cmocka_unit_test(test_binary_junk),
		cmocka_unit_test(test_block_size_option),
		cmocka_unit_test(test_format_names),
		cmocka_unit_test(test_text_needs_format),
		cmocka_unit_test(test_text_checked_on_every_line),
		cmocka_unit_test(test_time_backwards),
		cmocka_unit_test(test_jsonl_grammar),
		cmocka_unit_test(test_named_pipe),
		cmocka_unit_test(test_fifo_without_writer),
		cmocka_unit_test(test_gzip_pipe),
		cmocka_unit_test(test_long_line_from_pipe),
	};

	return tool_test_main("trace", tests, NELEM(tests));
}
