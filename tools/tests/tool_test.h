/*
 * tool_test.h - what the tests of the pce tool share: the expected results
 * of tools/tests/reference.py (expected.h), scratch files, and readers.
 * The tests run from the source tree's root (main() changes to it), so the
 * paths in expected.h, relative to it, name the same namespaces the
 * readers register.
 */
#ifndef PCE_TOOL_TEST_H
#define PCE_TOOL_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "trace.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define SLICE "data/mooncake_conversation_1000.jsonl"
#define KVTESTER "tools/tests/data/kvtester"
#define TOKENS_A "tools/tests/data/tokens_a.jsonl"
#define TOKENS_B "tools/tests/data/tokens_b.jsonl"
#define PROMPTS "tools/tests/data/prompts.txt"

/* One dataset analysed by reference.py for one warmup fraction. */
struct expected {
	uint64_t requests, window_start;
	uint64_t tokens, hit_tokens;
	uint64_t ids, hit_ids, footprint;
	uint64_t dedup_ids, dedup_cached, dedup_shared;
	uint64_t n_shared, shared_count_sum, shared_depth_sum;
	size_t n_top;
	struct { uint64_t requests, ids; } top[10];
	size_t n_ns;
	struct { const char *name; uint64_t requests, tokens, hit_tokens; } ns[8];
};

/* chdir to the source tree (PCE_SOURCE_DIR), then run @tests. */
int tool_test_main(const char *name, const struct CMUnitTest *tests, size_t n);

/* A fresh scratch directory, and a file in it with @len bytes of @data;
 * returns its path (static storage, valid until the next call). */
const char *scratch_dir(void);
const char *scratch_file(const char *name, const void *data, size_t len);
/* The same, gzip-compressed (truncated to @keep bytes if @keep > 0). */
const char *scratch_gzip(const char *name, const void *data, size_t len, size_t keep);

/* Open @n paths with @format, asserting success. */
struct pce_trace *open_trace(const char *const *paths, size_t n, enum pce_trace_format format);
/* Open, expecting failure @code at open or at some pce_trace_next() call;
 * asserts the message starts with @path and contains @needle. */
void expect_trace_error(const char *path, enum pce_trace_format format, int code,
			const char *needle);

#endif /* PCE_TOOL_TEST_H */
