/*
 * exp_skew.c - writer skew.  libpce shards by (namespace, first token): a
 * workload whose sequences all start with the same chat-template header
 * lands in one shard, and its writers serialise on that shard's lock.
 * Shows the entries per shard after loading each workload into a default
 * cache (16 shards), and bulk-store throughput with 1 and 2 threads on a
 * skewed workload and on the same workload without the header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "index_pce.h"


static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

void shard_row(struct suite *s, struct table *t, const char *name, uint64_t *counts, int n)
{
	uint64_t total = 0;
	int used = 0;
	char list[256] = "";
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		total += counts[i];
		used += counts[i] > 0;
	}
	jl_begin(&s->jl, "shard_entries");
	jl_str(&s->jl, "workload", name);
	for (int i = 0; i < n; i++) {
		char key[16];
		snprintf(key, sizeof(key), "shard%d", i);
		jl_int(&s->jl, key, counts[i]);
	}
	jl_end(&s->jl);
	qsort(counts, (size_t)n, sizeof(*counts), cmp_desc);
	for (int i = 0; i < n && counts[i] && off < sizeof(list) - 24; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%lu", i ? " " : "",
					(unsigned long)counts[i]);
	table_row(t, "%s|%lu|%d of %d|%.1f%%|%s", name, (unsigned long)total, used, n,
		  total ? 100.0 * (double)counts[0] / (double)total : 0, list);
}

void exp_skew(struct suite *s, const struct workload *const *wls, size_t n)
{
	struct table *t, *tt;
	double rate[2][2][MAX_REPS];

	report_section(s->rep, "Writer skew",
		       "libpce picks a shard from (namespace, first token).  Every chat "
		       "workload here starts with the same 4-token template header, so all "
		       "its entries share one shard, and concurrent stores queue on that "
		       "shard's lock.  'sysprompt-notemplate' is sysprompt without the "
		       "header (its 48 prompts start with different tokens).");
	t = report_table(s->rep, "Entries per shard (16 shards)",
			 "workload|entries|shards used|largest shard|entries per shard");
	for (size_t w = 0; w < n; w++) {
		struct pce_config cfg;
		struct bench_index *ix;
		uint64_t counts[BENCH_SHARDS];

		pce_config_init(&cfg);
		cfg.shards = BENCH_SHARDS;
		if (index_pce_create_cfg(&cfg, &ix) != 0)
			continue;
		index_run_on_thread(&index_pce_ops, ix, load_all, (void *)wls[w]);
		pce_cache_shard_entries(index_pce_cache(ix), counts, BENCH_SHARDS);
		shard_row(s, t, wls[w]->name, counts, BENCH_SHARDS);
		index_pce_ops.destroy(ix);
	}
	table_done(t);
	if (n < 2)
		return;
	for (unsigned rep = 0; rep < s->p->reps; rep++) {
		for (int w = 0; w < 2; w++) {
			for (unsigned th = 1; th <= 2; th++) {
				double sps = 0, tps;

				run_load(&index_pce_ops, wls[w], th, s->cpus, &sps, &tps);
				rate[w][th - 1][rep] = sps;
			}
		}
	}
	tt = report_table(s->rep, "libpce bulk-store throughput, skewed and spread",
			  "workload|1 thread stores/s|2 threads stores/s|2T / 1T");
	for (int w = 0; w < 2; w++) {
		double one = median(rate[w][0], s->p->reps), two = median(rate[w][1], s->p->reps);
		char si[2][16];

		jl_begin(&s->jl, "store_skew");
		jl_str(&s->jl, "workload", wls[w]->name);
		jl_num(&s->jl, "stores_per_s_1thread", one);
		jl_num(&s->jl, "stores_per_s_2threads", two);
		jl_num(&s->jl, "scaling", two / one);
		jl_int(&s->jl, "reps", s->p->reps);
		jl_end(&s->jl);
		table_row(tt, "%s|%s|%s|%.2f", wls[w]->name, fmt_si(si[0], sizeof(si[0]), one),
			  fmt_si(si[1], sizeof(si[1]), two), two / one);
	}
	table_done(tt);
}
