/*
 * series.c - interleaved repetitions and their summaries (series.h).
 */
#include "series.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct summary summarize(const struct series *s, int k)
{
	double tmp[MAX_REPS], ratio[MAX_REPS], wt[MAX_REPS];
	struct summary out;

	out.min = INFINITY;
	out.max = 0;
	for (unsigned r = 0; r < s->reps; r++) {
		tmp[r] = s->v[k][r];
		wt[r] = s->w[k][r];
		ratio[r] = s->v[0][r] > 0 ? s->v[k][r] / s->v[0][r] : NAN;
		out.min = fmin(out.min, tmp[r]);
		out.max = fmax(out.max, tmp[r]);
	}
	out.med = median(tmp, s->reps);
	out.ratio = median(ratio, s->reps);
	out.w_med = median(wt, s->reps);
	return out;
}

void run_series(struct suite *s, struct wl_set *set, const struct run_cfg *base,
		enum metric metric, int with_memcmp, struct series *out)
{
	int ncont = with_memcmp ? CONTENDERS : INDEX_COUNT;

	memset(out, 0, sizeof(*out));
	out->reps = s->p->reps;
	for (unsigned rep = 0; rep < out->reps; rep++) {
		for (int k = 0; k < ncont; k++) {
			struct run_cfg cfg = *base;
			struct run_result *r = &out->last[k];

			cfg.ops = k < INDEX_COUNT ? index_all[k] : NULL;
			cfg.ix = k < INDEX_COUNT ? set->ix[k] : NULL;
			cfg.ws = &set->ws[k < INDEX_COUNT ? k : 0];
			cfg.memcmp_ctl = k == MEMCMP_CTL ? &set->mirror : NULL;
			cfg.wl = &set->wl;
			cfg.pin_cpus = s->cpus;
			if (run_timed(&cfg, r) != 0) {
				out->errors++;
				continue;
			}
			out->errors += r->errors;
			out->v[k][rep] = metric == LOOKUPS ? r->lookups_per_s
							   : r->lookups_per_s + r->writes_per_s;
			out->w[k][rep] = r->writes_per_s + r->writer_ops_per_s;
		}
	}
}

void jl_series(struct suite *s, const char *exp, const char *wl, int k,
	       const struct summary *m, const char *metric)
{
	char key[64];

	jl_begin(&s->jl, exp);
	jl_str(&s->jl, "workload", wl);
	jl_str(&s->jl, "index", contender_name(k));
	jl_num(&s->jl, metric, m->med);
	snprintf(key, sizeof(key), "%s_min", metric);
	jl_num(&s->jl, key, m->min);
	snprintf(key, sizeof(key), "%s_max", metric);
	jl_num(&s->jl, key, m->max);
	jl_int(&s->jl, "reps", s->p->reps);
	jl_num(&s->jl, "ratio_to_libpce", m->ratio);
}

const char *fmt_cell(char *buf, size_t len, const struct summary *m)
{
	char si[16];

	snprintf(buf, len, "%s (%.2fx)", fmt_si(si, sizeof(si), m->med), m->ratio);
	return buf;
}
