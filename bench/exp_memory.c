/*
 * exp_memory.c - index memory per distinct cached token and per entry,
 * right after each workload's stored set is loaded, by each index's own
 * accounting of the bytes it asked for (allocator rounding not included):
 *   libpce        pce_stats.index_bytes (nodes, child tables, entries)
 *   rwlock-trie   nodes and child arrays
 *   block-hash    blocks, plus the bucket table at its initial size
 * Distinct tokens are the trie's edge tokens (block-hash: cached blocks x
 * 16); entries are the stored sequences.
 */
#include <math.h>
#include <stdio.h>

#include "bench.h"

#define GOAL_BYTES_PER_TOKEN 8.0

static void usage_fn(const struct index_ops *ops, struct bench_index *ix, void *arg)
{
	ops->usage(ix, arg);
}

void exp_memory(struct suite *s, struct wl_set *const *sets, size_t n)
{
	struct table *t;

	report_section(s->rep, "Memory",
		       "Index memory right after the stored set is loaded, as each index "
		       "counts the bytes it asks the allocator for (rounding not included): "
		       "libpce's pce_stats.index_bytes (nodes, child tables, entries; not "
		       "the fixed shards and pin table), the rwlock trie's nodes and child "
		       "arrays, block-hash's blocks and its bucket table at creation size.  "
		       "A token id alone takes 4 bytes.");
	t = report_table(s->rep, "Index memory",
			 "workload|index|entries|distinct tokens|MiB|bytes per distinct "
			 "token|bytes per entry|ratio to libpce");
	for (size_t w = 0; w < n; w++) {
		double libpce_bytes = 0;

		for (int k = 0; k < INDEX_COUNT; k++) {
			struct index_usage u = {0, 0, 0};
			double per_tok, per_entry;

			index_run_on_thread(index_all[k], sets[w]->ix[k], usage_fn, &u);
			if (k == 0)
				libpce_bytes = (double)u.bytes;
			per_tok = u.tokens ? (double)u.bytes / (double)u.tokens : NAN;
			per_entry = (double)u.bytes / (double)sets[w]->wl.nstored;
			jl_begin(&s->jl, "memory");
			jl_str(&s->jl, "workload", sets[w]->wl.name);
			jl_str(&s->jl, "index", index_all[k]->name);
			jl_int(&s->jl, "entries", sets[w]->wl.nstored);
			jl_int(&s->jl, "distinct_tokens", u.tokens);
			jl_int(&s->jl, "index_bytes", u.bytes);
			jl_num(&s->jl, "bytes_per_token", per_tok);
			jl_num(&s->jl, "bytes_per_entry", per_entry);
			jl_num(&s->jl, "ratio_to_libpce", (double)u.bytes / libpce_bytes);
			jl_end(&s->jl);
			table_row(t, "%s|%s|%zu|%lu|%.1f|%.2f|%.0f|%.2fx", sets[w]->wl.name,
				  index_all[k]->name, sets[w]->wl.nstored, (unsigned long)u.tokens,
				  (double)u.bytes / 1048576.0, per_tok, per_entry,
				  (double)u.bytes / libpce_bytes);
			if (k == 0 && goal_workload(sets[w]->wl.name)) {
				char goal[96], measured[64];
				snprintf(goal, sizeof(goal), "<= 8 index bytes per distinct token (%s)",
					 sets[w]->wl.name);
				snprintf(measured, sizeof(measured), "%.2f B/token", per_tok);
				report_goal(s->rep, goal, measured,
					    per_tok <= GOAL_BYTES_PER_TOKEN ? "met" : "missed");
			}
		}
	}
	table_done(t);
}
