/*
 * exp_throughput.c - throughput experiments: store (bulk load), lookup
 * with 1, 2 and 4 threads (with the memcmp control beside the indexes),
 * lookups beside a dedicated writer, and mixed read/write ratios.
 */
#include <stdio.h>
#include <stdlib.h>

#include "plot.h"
#include "series.h"

const unsigned thread_steps[THREAD_STEPS] = {1, 2, 4};

/* Goal: libpce lookups >= 2x rwlock-trie and >= 3x block-hash. */
static void goal_ratio(struct suite *s, const char *wl, const char *when,
		       const struct series *ser)
{
	static const double need[INDEX_COUNT] = {1, 2, 3};

	for (int k = 1; k < INDEX_COUNT; k++) {
		char goal[128], measured[64];
		double x = 1 / summarize(ser, k).ratio;

		snprintf(goal, sizeof(goal), "lookups >= %.0fx %s (%s, %s)", need[k],
			 index_all[k]->name, wl, when);
		snprintf(measured, sizeof(measured), "%.2fx", x);
		report_goal(s->rep, goal, measured, x >= need[k] ? "met" : "missed");
	}
}

void exp_load(struct suite *s, const struct workload *const *wls, size_t n)
{
	struct table *t;

	report_section(s->rep, "Store throughput",
		       "An empty index stores a workload's whole stored set, split over 1, 2 "
		       "or 4 threads (sequence i by thread i mod T); time to the last thread "
		       "done.  The same threads first load another index of the same kind and "
		       "destroy it, untimed, so that the timed load allocates from memory "
		       "their allocator already holds, whatever ran before (page faults of "
		       "fresh memory would otherwise land on whichever index runs after one "
		       "that freed little).  Cells: stores per second (ratio to libpce in the "
		       "same repetition).");
	t = report_table(s->rep, "Stores per second, bulk load",
			 "workload|index|1 thread|2 threads|4 threads|Mtokens/s, 1 thread");
	for (size_t w = 0; w < n; w++) {
		struct series ser[THREAD_STEPS];
		double tok[INDEX_COUNT][MAX_REPS];

		for (int i = 0; i < THREAD_STEPS; i++) {
			ser[i] = (struct series){.reps = s->p->reps};
			for (unsigned rep = 0; rep < s->p->reps; rep++) {
				for (int k = 0; k < INDEX_COUNT; k++) {
					double sps = 0, tps = 0;

					if (run_load(index_all[k], wls[w], thread_steps[i], s->cpus, &sps,
						     &tps))
						ser[i].errors++;
					ser[i].v[k][rep] = sps;
					if (i == 0)
						tok[k][rep] = tps;
				}
			}
		}
		for (int k = 0; k < INDEX_COUNT; k++) {
			char c[THREAD_STEPS][48], si[16];

			for (int i = 0; i < THREAD_STEPS; i++) {
				struct summary m = summarize(&ser[i], k);
				fmt_cell(c[i], sizeof(c[i]), &m);
				jl_series(s, "store", wls[w]->name, k, &m, "stores_per_s");
				jl_int(&s->jl, "threads", thread_steps[i]);
				jl_int(&s->jl, "errors", (uint64_t)ser[i].errors);
				jl_end(&s->jl);
			}
			table_row(t, "%s|%s|%s|%s|%s|%s", wls[w]->name, index_all[k]->name, c[0],
				  c[1], c[2], fmt_si(si, sizeof(si), median(tok[k], s->p->reps) / 1e6));
		}
	}
	table_done(t);
}

/* Lookups per second against threads, one line per contender. */
static void plot_threads(struct suite *s, const char *wl, const struct series *ser)
{
	double x[THREAD_STEPS], y[CONTENDERS][THREAD_STEPS];
	struct pce_svg_series lines[CONTENDERS];
	char title[96], file[64], caption[96];
	struct pce_svg_chart c = {.title = title, .x_label = "threads (2 CPUs)",
				  .y_label = "lookups per second", .log_y = 1,
				  .x_format = PCE_SVG_NUMBER, .y_format = PCE_SVG_SI,
				  .series = lines, .n_series = CONTENDERS,
				  .legend = PCE_SVG_BOTTOM_RIGHT};

	for (int i = 0; i < THREAD_STEPS; i++)
		x[i] = thread_steps[i];
	for (int k = 0; k < CONTENDERS; k++) {
		for (int i = 0; i < THREAD_STEPS; i++)
			y[k][i] = summarize(&ser[i], k).med;
		lines[k] = (struct pce_svg_series){contender_name(k), x, y[k], THREAD_STEPS};
	}
	snprintf(title, sizeof(title), "%s: lookup throughput against threads", wl);
	snprintf(file, sizeof(file), "lookup-threads-%s.svg", wl);
	snprintf(caption, sizeof(caption), "%s lookups per second against threads", wl);
	plot_write(s, file, &c, caption);
}

void exp_lookup(struct suite *s, struct wl_set *const *sets, size_t n)
{
	struct series (*ser)[THREAD_STEPS] = calloc(n, sizeof(*ser));
	struct table *t;

	report_section(s->rep, "Lookup throughput",
		       "Threads look up the workload's query stream (each from its own "
		       "offset) for a fixed time; no writes.  Threads are pinned round robin "
		       "to the CPUs: 4 threads on 2 CPUs are oversubscribed.  The memcmp row "
		       "runs the same stream on the same threads, each lookup replaced by "
		       "memcmp() of the bytes libpce matched: the ceiling of any exact "
		       "matcher, and of its scaling on this machine.  Cells: lookups per "
		       "second (ratio to libpce).");
	t = report_table(s->rep, "Lookups per second",
			 "workload|index|1 thread|2 threads|4 threads|2T/1T|hit ratio|matched "
			 "tokens per lookup");
	for (size_t w = 0; ser && w < n; w++) {
		for (int i = 0; i < THREAD_STEPS; i++) {
			struct run_cfg cfg = {.threads = thread_steps[i],
					      .duration_ns = s->p->run_ns};
			run_series(s, sets[w], &cfg, LOOKUPS, 1, &ser[w][i]);
		}
		for (int k = 0; k < CONTENDERS; k++) {
			const struct run_result *last = &ser[w][0].last[k];
			double lookups = last->lookups ? (double)last->lookups : 1;
			double hit = (double)last->hits / lookups;
			double matched = (double)last->matched_tokens / lookups;
			struct summary m[THREAD_STEPS];
			char c[THREAD_STEPS][48];

			for (int i = 0; i < THREAD_STEPS; i++) {
				m[i] = summarize(&ser[w][i], k);
				fmt_cell(c[i], sizeof(c[i]), &m[i]);
				jl_series(s, "lookup", sets[w]->wl.name, k, &m[i], "lookups_per_s");
				jl_int(&s->jl, "threads", thread_steps[i]);
				jl_num(&s->jl, "hit_ratio", hit);
				jl_num(&s->jl, "matched_tokens_per_lookup", matched);
				jl_num(&s->jl, "query_tokens_per_lookup",
				       (double)last->query_tokens / lookups);
				jl_int(&s->jl, "errors", (uint64_t)ser[w][i].errors);
				jl_end(&s->jl);
			}
			table_row(t, "%s|%s|%s|%s|%s|%.2f|%.3f|%.0f", sets[w]->wl.name,
				  contender_name(k), c[0], c[1], c[2], m[1].med / m[0].med, hit,
				  matched);
		}
	}
	table_done(t);
	for (size_t w = 0; ser && w < n; w++)
		plot_threads(s, sets[w]->wl.name, ser[w]);
	for (size_t w = 0; ser && w < n; w++) {
		double one = summarize(&ser[w][0], 0).med, two = summarize(&ser[w][1], 0).med;
		double ctl = summarize(&ser[w][1], MEMCMP_CTL).med /
			     summarize(&ser[w][0], MEMCMP_CTL).med;
		char goal[96], measured[96];

		if (goal_workload(sets[w]->wl.name)) {
			goal_ratio(s, sets[w]->wl.name, "1 thread", &ser[w][0]);
			goal_ratio(s, sets[w]->wl.name, "2 threads", &ser[w][1]);
		}
		snprintf(goal, sizeof(goal), "read throughput at 2 threads >= 1.8x 1 thread (%s)",
			 sets[w]->wl.name);
		snprintf(measured, sizeof(measured), "%.2fx (memcmp control %.2fx, CPU probe %.2fx)",
			 two / one, ctl, s->cpu_scaling);
		report_goal(s->rep, goal, measured, two / one >= 1.8 ? "met" : "missed");
	}
	free(ser);
}

void exp_writer(struct suite *s, struct wl_set *const *sets, size_t n)
{
	struct table *t;

	report_section(s->rep, "Lookups beside a concurrent writer",
		       "1 or 2 lookup threads, plus one writer thread that stores and "
		       "removes as fast as it can (each write stores a pool sequence and "
		       "removes the one it stored npool/2 writes before, so the index keeps "
		       "its size).  Cells: lookups per second (ratio to libpce), and the "
		       "writer's writes per second: glibc's rwlock prefers readers, so with "
		       "2 readers on 2 CPUs the rwlock trie's writer starves.");
	t = report_table(s->rep, "Lookups per second with one writer",
			 "workload|index|1 reader|writes/s|2 readers|writes/s");
	for (size_t w = 0; w < n; w++) {
		struct series ser[2];

		for (unsigned readers = 1; readers <= 2; readers++) {
			struct run_cfg cfg = {.threads = readers, .writers = 1,
					      .duration_ns = s->p->run_ns};
			run_series(s, sets[w], &cfg, LOOKUPS, 0, &ser[readers - 1]);
		}
		for (int k = 0; k < INDEX_COUNT; k++) {
			char c[2][48], wr[2][16];

			for (int i = 0; i < 2; i++) {
				struct summary m = summarize(&ser[i], k);
				fmt_cell(c[i], sizeof(c[i]), &m);
				fmt_si(wr[i], sizeof(wr[i]), m.w_med);
				jl_series(s, "lookup_with_writer", sets[w]->wl.name, k, &m,
					  "lookups_per_s");
				jl_int(&s->jl, "threads", (uint64_t)i + 1);
				jl_int(&s->jl, "writers", 1);
				jl_num(&s->jl, "writes_per_s", m.w_med);
				jl_int(&s->jl, "errors", (uint64_t)ser[i].errors);
				jl_end(&s->jl);
			}
			table_row(t, "%s|%s|%s|%s|%s|%s", sets[w]->wl.name, index_all[k]->name,
				  c[0], wr[0], c[1], wr[1]);
		}
		if (goal_workload(sets[w]->wl.name)) {
			goal_ratio(s, sets[w]->wl.name, "1 reader + writer", &ser[0]);
			goal_ratio(s, sets[w]->wl.name, "2 readers + writer", &ser[1]);
		}
	}
	table_done(t);
}

static const unsigned write_permille[] = {10, 100, 500};

void exp_mixed(struct suite *s, struct wl_set *const *sets, size_t n)
{
	struct table *t;

	report_section(s->rep, "Mixed read/write ratios",
		       "Every thread draws each operation: a write (as in the writer "
		       "experiment: store one pool sequence, remove an older one) with the "
		       "given probability, else a lookup.  Cells: operations per second, "
		       "lookups and writes together (ratio to libpce).  100/0 is the lookup "
		       "experiment.");
	t = report_table(s->rep, "Operations per second, reads/writes",
			 "workload|index|threads|99/1|90/10|50/50");
	for (size_t w = 0; w < n; w++) {
		if (!s->p->mixed_everywhere && !goal_workload(sets[w]->wl.name))
			continue;
		for (int i = 0; i < THREAD_STEPS; i++) {
			struct series ser[3];

			if (!s->p->mixed_everywhere && thread_steps[i] != 2)
				continue;
			for (int j = 0; j < 3; j++) {
				struct run_cfg cfg = {.threads = thread_steps[i],
						      .write_permille = write_permille[j],
						      .duration_ns = s->p->run_ns};
				run_series(s, sets[w], &cfg, ALL_OPS, 0, &ser[j]);
			}
			for (int k = 0; k < INDEX_COUNT; k++) {
				char c[3][48];

				for (int j = 0; j < 3; j++) {
					struct summary m = summarize(&ser[j], k);
					fmt_cell(c[j], sizeof(c[j]), &m);
					jl_series(s, "mixed", sets[w]->wl.name, k, &m, "ops_per_s");
					jl_int(&s->jl, "threads", thread_steps[i]);
					jl_num(&s->jl, "write_pct", write_permille[j] / 10.0);
					jl_num(&s->jl, "writes_per_s", m.w_med);
					jl_int(&s->jl, "errors", (uint64_t)ser[j].errors);
					jl_end(&s->jl);
				}
				table_row(t, "%s|%s|%u|%s|%s|%s", sets[w]->wl.name,
					  index_all[k]->name, thread_steps[i], c[0], c[1], c[2]);
			}
		}
	}
	table_done(t);
}
