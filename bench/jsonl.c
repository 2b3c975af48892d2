/*
 * jsonl.c - the JSON-lines writer of jsonl.h.
 */
#include "jsonl.h"

#include <inttypes.h>
#include <math.h>
#include <time.h>

void jl_init(struct jsonl *j, FILE *out, const char *preset)
{
	time_t now = time(NULL);
	struct tm tm;

	j->out = out;
	j->preset = preset;
	gmtime_r(&now, &tm);
	strftime(j->run, sizeof(j->run), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void jl_begin(struct jsonl *j, const char *experiment)
{
	if (j->out)
		fprintf(j->out, "{\"preset\":\"%s\",\"run\":\"%s\",\"experiment\":\"%s\"", j->preset,
			j->run, experiment);
}

void jl_str(struct jsonl *j, const char *key, const char *value)
{
	if (j->out)
		fprintf(j->out, ",\"%s\":\"%s\"", key, value);
}

void jl_num(struct jsonl *j, const char *key, double value)
{
	if (!j->out)
		return;
	if (isfinite(value))
		fprintf(j->out, ",\"%s\":%.6g", key, value);
	else
		fprintf(j->out, ",\"%s\":null", key);
}

void jl_int(struct jsonl *j, const char *key, uint64_t value)
{
	if (j->out)
		fprintf(j->out, ",\"%s\":%" PRIu64, key, value);
}

void jl_end(struct jsonl *j)
{
	if (j->out) {
		fputs("}\n", j->out);
		fflush(j->out);
	}
}
