/*
 * jsonl.h - one JSON object per line, one line per measurement.
 *
 * Every line starts with the fields common to the run ("preset", "run":
 * the start time in ISO 8601 UTC), then "experiment", then the fields the
 * experiment adds.  Keys and string values are written as given: callers
 * pass identifiers and names without quotes, backslashes or control
 * characters.  Numbers that are not finite are written as null.
 */
#ifndef BENCH_JSONL_H
#define BENCH_JSONL_H

#include <stdint.h>
#include <stdio.h>

struct jsonl {
	FILE *out;          /* NULL: lines are dropped */
	const char *preset;
	char run[32];
};

/* @out may be NULL. */
void jl_init(struct jsonl *j, FILE *out, const char *preset);
void jl_begin(struct jsonl *j, const char *experiment);
void jl_str(struct jsonl *j, const char *key, const char *value);
void jl_num(struct jsonl *j, const char *key, double value);
void jl_int(struct jsonl *j, const char *key, uint64_t value);
void jl_end(struct jsonl *j);

#endif /* BENCH_JSONL_H */
