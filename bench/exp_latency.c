/*
 * exp_latency.c - lookup latency percentiles, and the cost of a lookup
 * against the least work any exact matcher must do: memcmp of the matched
 * bytes (the memcmp control, mirror.h).
 *
 * Latency conditions (one lookup thread, every lookup timed with the TSC,
 * per-thread log-bucket histograms merged after the run; hist.h):
 *   alone      nothing else runs (the memcmp control too: its tail shows
 *              what the machine itself adds: interrupts, preemption)
 * The busy-loop control runs alone too: integer loops as long as libpce's
 * lookups alone on the workload (lengths drawn from its latency distribution
 * below p99), timed the same way on the same pinned CPU.  They touch no
 * memory, so their tail above p99 is the machine's alone: an operation meets
 * a timer interrupt or a preemption with a probability that depends only on
 * its length, whatever it does.
 *   writer     one writer thread stores and removes (runner.h WRITE_PAIRS)
 *   evicting   libpce only: a fresh cache whose entry budget equals the
 *              stored set, and a writer that stores the stored set over and
 *              over (WRITE_RESTORE), so the background reclaimer evicts
 *              (CLOCK sweeps under shard locks) and frees after grace
 *              periods the whole time.  This is the condition of the goal.
 * On 2 CPUs the lookup thread and the writer are pinned apart; the
 * reclaimer is not pinned and competes with both.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index_pce.h"
#include "machine.h"
#include "plot.h"
#include "rng.h"
#include "series.h"
#include "timing.h"

#define GOAL_P999_NS 5000.0
#define GOAL_MEMCMP_RATIO 3.0
/* Latency classes up to 8K tokens: <= 1K, 2K, 4K, 8K. */
#define CLASSES_LE_8K 4
/* The columns of both latency tables. */
#define LAT_COLUMNS                                                      \
	"workload|index|condition|query tokens|lookups|p50|p99|p99.9|max|" \
	"lookup thread on a CPU|background threads' CPU"

/* The latency curve of a workload: quantiles of each contender alone and
 * of libpce evicting. */
static const double curve_q[] = {0.5, 0.9, 0.99, 0.999, 0.9999};
#define CURVE_POINTS (sizeof(curve_q) / sizeof(curve_q[0]))
#define CURVE_LINES (CONTENDERS + 1)

struct curve {
	double y[CURVE_LINES][CURVE_POINTS];
	int have[CURVE_LINES];
};

static void curve_add(struct curve *cv, int line, const struct hist *h)
{
	if (!h->count)
		return;
	for (size_t i = 0; i < CURVE_POINTS; i++)
		cv->y[line][i] = hist_quantile_ns(h, curve_q[i]);
	cv->have[line] = 1;
}

static void plot_curve(struct suite *s, const char *wl, const struct curve *cv)
{
	double x[CURVE_POINTS];
	struct pce_svg_series lines[CURVE_LINES];
	char title[96], file[64], caption[96];
	size_t n = 0;
	struct pce_svg_chart c = {.title = title,
				  .subtitle = "x: nines of the quantile (1 = p90, 2 = p99, 3 = p99.9)",
				  .x_label = "quantile (nines)", .y_label = "lookup latency (ns)",
				  .log_y = 1, .x_format = PCE_SVG_NUMBER, .y_format = PCE_SVG_SI,
				  .series = lines, .legend = PCE_SVG_TOP_LEFT};

	for (size_t i = 0; i < CURVE_POINTS; i++)
		x[i] = -log10(1 - curve_q[i]);
	for (int k = 0; k < CURVE_LINES; k++)
		if (cv->have[k])
			lines[n++] = (struct pce_svg_series){
				k < CONTENDERS ? contender_name(k) : "libpce, evicting", x, cv->y[k],
				CURVE_POINTS};
	c.n_series = n;
	snprintf(title, sizeof(title), "%s: lookup latency quantiles, one lookup thread", wl);
	snprintf(file, sizeof(file), "latency-%s.svg", wl);
	snprintf(caption, sizeof(caption), "%s lookup latency quantiles", wl);
	if (n)
		plot_write(s, file, &c, caption);
}

static void merged(const struct hist *lat, unsigned upto, struct hist *out)
{
	hist_reset(out);
	for (unsigned c = 0; c < upto && c < LAT_CLASSES; c++)
		hist_merge(out, &lat[c]);
}

/* @ran: share of its wall time the lookup thread was on a CPU; @bg: CPUs'
 * worth of background work (run_measured); NAN: not known for this row. */
static void emit(struct suite *s, struct table *t, const char *wl, const char *index,
		 const char *cond, const char *cls, const struct hist *h, double ran, double bg)
{
	double p50 = hist_quantile_ns(h, 0.50), p99 = hist_quantile_ns(h, 0.99);
	double p999 = hist_quantile_ns(h, 0.999);
	char ran_cell[16] = "", bg_cell[16] = "";

	if (!isnan(ran))
		snprintf(ran_cell, sizeof(ran_cell), "%.0f%%", ran * 100);
	if (!isnan(bg))
		snprintf(bg_cell, sizeof(bg_cell), "%.0f%%", (bg > 0 ? bg : 0) * 100);
	jl_begin(&s->jl, "latency");
	jl_str(&s->jl, "workload", wl);
	jl_str(&s->jl, "index", index);
	jl_str(&s->jl, "condition", cond);
	jl_str(&s->jl, "query_tokens", cls);
	jl_int(&s->jl, "lookups", h->count);
	jl_num(&s->jl, "p50_ns", p50);
	jl_num(&s->jl, "p99_ns", p99);
	jl_num(&s->jl, "p999_ns", p999);
	jl_num(&s->jl, "max_ns", ticks_to_ns(h->max));
	jl_num(&s->jl, "mean_ns", h->count ? ticks_to_ns(h->sum) / (double)h->count : 0);
	if (!isnan(ran))
		jl_num(&s->jl, "lookup_thread_ran", ran);
	if (!isnan(bg))
		jl_num(&s->jl, "background_cpus", bg);
	jl_end(&s->jl);
	if (h->count)
		table_row(t, "%s|%s|%s|%s|%lu|%.0f|%.0f|%.0f|%.0f|%s|%s", wl, index, cond, cls,
			  (unsigned long)h->count, p50, p99, p999, ticks_to_ns(h->max), ran_cell,
			  bg_cell);
}

static const char *class_name(unsigned c, char *buf, size_t len)
{
	if (lat_class_limit(c))
		snprintf(buf, len, "<= %zuK", lat_class_limit(c) / 1024);
	else
		snprintf(buf, len, "> %zuK", lat_class_limit(c - 1) / 1024);
	return buf;
}

/* The busy-loop control (file comment). */
#define SPIN_OPS 4096 /* operation lengths drawn from libpce's distribution */
#define SPIN_UPTO 0.99 /* ... below its p99: the tail is what is measured */

struct spin_job {
	uint64_t iters[SPIN_OPS]; /* loop iterations of each timed operation */
	uint64_t duration_ns;     /* how long to repeat them */
	unsigned cpus;            /* pin to CPU slot 0 of these, as the lookup thread */
	struct hist *h;
};

static uint64_t spin(uint64_t iters, uint64_t x)
{
	for (uint64_t i = 0; i < iters; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x;
}

static void spin_main(void *arg)
{
	struct spin_job *j = arg;
	uint64_t end, x = 1;
	volatile uint64_t sink;

	if (j->cpus)
		runner_pin_self(0, j->cpus);
	end = now_ns() + j->duration_ns;
	while (now_ns() < end) {
		for (size_t i = 0; i < SPIN_OPS; i++) {
			uint64_t t0 = ticks();
			x = spin(j->iters[i], x);
			hist_record(j->h, ticks() - t0);
		}
	}
	sink = x;
	(void)sink;
}

/* Nanoseconds of one loop iteration on this CPU. */
static double spin_ns_per_iter(void)
{
	const uint64_t probe = 1000000;
	uint64_t t0 = ticks(), x = spin(probe, 1), dt = ticks() - t0;
	volatile uint64_t sink = x;

	(void)sink;
	return ticks_to_ns(dt) / (double)probe;
}

/* Time busy loops as long as libpce's lookups (@lookups: its histogram
 * alone; lengths stratified over its quantiles below SPIN_UPTO, shuffled)
 * for the latency run's length, on their own pinned thread, into @h.
 * -1 if the thread cannot start. */
int spin_control(const struct suite *s, const struct hist *lookups, struct hist *h)
{
	struct spin_job *j = malloc(sizeof(*j));
	double per_iter = spin_ns_per_iter();
	struct rng r;
	int err;

	if (!j)
		return -1;
	*j = (struct spin_job){.duration_ns = s->p->latency_ns, .cpus = s->cpus, .h = h};
	for (size_t i = 0; i < SPIN_OPS; i++) {
		double ns = hist_quantile_ns(lookups, ((double)i + 0.5) / SPIN_OPS * SPIN_UPTO);
		j->iters[i] = per_iter > 0 ? (uint64_t)(ns / per_iter) : 0;
	}
	rng_seed(&r, 20261128);
	for (size_t i = SPIN_OPS - 1; i > 0; i--) {
		size_t k = (size_t)rng_below(&r, i + 1);
		uint64_t tmp = j->iters[i];
		j->iters[i] = j->iters[k];
		j->iters[k] = tmp;
	}
	hist_reset(h);
	err = run_on_thread(spin_main, j);
	free(j);
	return err;
}

/* What the reclaimer did during an evicting run: per second, and the CPU
 * share of the process's threads other than the lookup thread and the
 * writer (the reclaimer, and the main thread, which sleeps). */
struct reclaimer_rates {
	double passes, evictions;
	double other_cpu;  /* CPUs' worth */
	double lookup_ran; /* share of its wall time the lookup thread ran */
};

/* run_timed(), and the CPUs' worth of work done meanwhile by the process's
 * other threads (a reclaimer, a call_rcu worker; the main thread sleeps)
 * into *background. */
static int run_measured(const struct run_cfg *cfg, struct run_result *r, double *background)
{
	double cpu0 = machine_process_cpu_s(), cpu1;
	int err = run_timed(cfg, r);

	cpu1 = machine_process_cpu_s();
	*background = (cpu1 - cpu0 - r->mix_cpu_s - r->writer_cpu_s) /
		      ((double)cfg->duration_ns / 1e9);
	return err;
}

/* Condition "evicting" on @wl: see the file comment. */
static int run_evicting(struct suite *s, const struct workload *wl, struct hist *lat,
			struct run_result *r, struct reclaimer_rates *rr)
{
	struct pce_stats before, after;
	struct pce_config cfg;
	struct bench_index *ix;
	struct writer_state ws = {{0}};
	struct run_cfg rc = {.ops = &index_pce_ops, .wl = wl, .ws = &ws, .threads = 1,
			     .writers = 1, .write_mode = WRITE_RESTORE,
			     .duration_ns = s->p->latency_ns, .lat = lat, .pin_cpus = s->cpus};
	int err;

	memset(rr, 0, sizeof(*rr));
	pce_config_init(&cfg);
	cfg.max_entries = wl->nstored;
	if (index_pce_create_cfg(&cfg, &ix) != 0)
		return -1;
	rc.ix = ix;
	err = index_run_on_thread(&index_pce_ops, ix, load_all, (void *)wl);
	pce_cache_stats(index_pce_cache(ix), &before);
	if (!err)
		err = run_measured(&rc, r, &rr->other_cpu);
	pce_cache_stats(index_pce_cache(ix), &after);
	rr->lookup_ran = r->mix_wall_s > 0 ? r->mix_cpu_s / r->mix_wall_s : 0;
	rr->passes = (double)(after.reclaim_passes - before.reclaim_passes) /
		     ((double)s->p->latency_ns / 1e9);
	rr->evictions = (double)(after.removed[PCE_REASON_CAPACITY] -
				 before.removed[PCE_REASON_CAPACITY] -
				 (after.sync_evictions - before.sync_evictions)) /
			((double)s->p->latency_ns / 1e9);
	index_pce_ops.destroy(ix);
	return err;
}

void exp_latency(struct suite *s, struct wl_set *const *sets, size_t n)
{
	struct hist *lat = calloc(LAT_CLASSES, sizeof(struct hist)), h, le8k;
	struct table *t, *tc;
	double worst = 0, worst_ctl = 0, worst_spin = 0;
	char worst_wl[64] = "", passes[1024] = "";
	size_t plen = 0;

	if (!lat)
		return;
	report_section(s->rep, "Lookup latency",
		       "One lookup thread, every lookup timed (TSC); percentiles are upper "
		       "bounds of log buckets 1/16 of a power of two wide.  Conditions: "
		       "alone; beside a writer storing and removing; and, for libpce, "
		       "evicting: the entry budget equals the stored set and a writer "
		       "re-stores it without end, so the background reclaimer evicts and "
		       "frees all the time.  The memcmp control (alone) shows what the "
		       "machine adds to any operation of that length: timer interrupts and "
		       "preemption on a shared 2-CPU virtual machine; the busy-loop control "
		       "(alone) repeats integer loops as long as libpce's lookups alone "
		       "(lengths drawn from their distribution below p99), touching no "
		       "memory: its tail is what the machine adds to operations of those "
		       "lengths.  'lookup thread on a "
		       "CPU' is its CPU time over its wall time (the rest it was preempted); "
		       "'background threads' CPU' is the CPU time of the process's threads "
		       "other than the lookup thread and the writer, in % of one CPU: "
		       "libpce's reclaimer, block-hash's call_rcu worker.  Times in "
		       "nanoseconds.");
	t = report_table(s->rep, "Lookup latency (ns), all query lengths", LAT_COLUMNS);
	tc = report_table(s->rep, "libpce lookup latency (ns) by query length, evicting",
			  LAT_COLUMNS);
	for (size_t w = 0; w < n; w++) {
		const char *wl = sets[w]->wl.name;
		struct reclaimer_rates rr;
		struct curve cv;
		double bg, spin_p999 = 0;
		struct hist pce_alone;
		struct run_result r;

		memset(&cv, 0, sizeof(cv));
		pce_alone.count = 0;
		for (int cond = 0; cond < 2; cond++) {
			for (int k = 0; k < CONTENDERS; k++) {
				struct run_cfg cfg = {.wl = &sets[w]->wl, .threads = 1,
						      .writers = (unsigned)cond,
						      .duration_ns = s->p->latency_ns, .lat = lat,
						      .pin_cpus = s->cpus};

				if (k == MEMCMP_CTL && cond)
					continue;
				if (k < INDEX_COUNT) {
					cfg.ops = index_all[k];
					cfg.ix = sets[w]->ix[k];
					cfg.ws = &sets[w]->ws[k];
				} else {
					cfg.memcmp_ctl = &sets[w]->mirror;
				}
				if (run_measured(&cfg, &r, &bg) != 0)
					continue;
				merged(lat, LAT_CLASSES, &h);
				emit(s, t, wl, contender_name(k), cond ? "writer" : "alone", "all",
				     &h, r.mix_wall_s > 0 ? r.mix_cpu_s / r.mix_wall_s : NAN, bg);
				if (!cond)
					curve_add(&cv, k, &h);
				if (!cond && k == 0)
					pce_alone = h;
				if (k == MEMCMP_CTL) {
					merged(lat, CLASSES_LE_8K, &le8k);
					if (le8k.count && hist_quantile_ns(&le8k, 0.999) > worst_ctl)
						worst_ctl = hist_quantile_ns(&le8k, 0.999);
				}
			}
		}
		if (pce_alone.count && spin_control(s, &pce_alone, &h) == 0) {
			emit(s, t, wl, "busy loop", "alone", "-", &h, NAN, NAN);
			spin_p999 = hist_quantile_ns(&h, 0.999);
		}
		if (run_evicting(s, &sets[w]->wl, lat, &r, &rr) != 0) {
			plot_curve(s, wl, &cv);
			continue;
		}
		merged(lat, LAT_CLASSES, &h);
		emit(s, t, wl, "libpce", "evicting", "all", &h, rr.lookup_ran, rr.other_cpu);
		jl_begin(&s->jl, "latency_reclaimer");
		jl_str(&s->jl, "workload", wl);
		jl_num(&s->jl, "reclaim_passes_per_s", rr.passes);
		jl_num(&s->jl, "reclaimer_evictions_per_s", rr.evictions);
		jl_num(&s->jl, "other_threads_cpu", rr.other_cpu);
		jl_num(&s->jl, "lookup_thread_ran", rr.lookup_ran);
		jl_end(&s->jl);
		if (plen < sizeof(passes) - 128)
			plen += (size_t)snprintf(passes + plen, sizeof(passes) - plen,
						 "%s%s: %.0f passes/s, %.0f%% of a CPU, lookup thread "
						 "ran %.0f%% of the time",
						 plen ? "; " : "", wl, rr.passes, rr.other_cpu * 100,
						 rr.lookup_ran * 100);
		curve_add(&cv, CONTENDERS, &h);
		plot_curve(s, wl, &cv);
		for (unsigned c = 0; c < LAT_CLASSES; c++) {
			char cls[32];
			emit(s, tc, wl, "libpce", "evicting", class_name(c, cls, sizeof(cls)),
			     &lat[c], NAN, NAN);
		}
		merged(lat, CLASSES_LE_8K, &le8k);
		if (le8k.count)
			emit(s, tc, wl, "libpce", "evicting", "<= 8K (all of them)", &le8k, NAN, NAN);
		if (le8k.count && hist_quantile_ns(&le8k, 0.999) > worst) {
			worst = hist_quantile_ns(&le8k, 0.999);
			worst_spin = spin_p999;
			snprintf(worst_wl, sizeof(worst_wl), "%s", wl);
		}
	}
	table_done(t);
	table_done(tc);
	if (plen)
		report_text(s->rep,
			    "The reclaimer during the evicting runs (its CPU share is the "
			    "process's CPU time beyond the lookup and writer threads'): %s.  On "
			    "2 CPUs held by the lookup thread and the writer, the reclaimer's "
			    "CPU time is taken from one of them, and the lookup thread waits "
			    "out the reclaimer's time slices.  Each pass also waits for one RCU "
			    "grace period, which liburcu's bp flavour gets with "
			    "sys_membarrier: an interrupt on every CPU running a thread of the "
			    "process.",
			    passes);
	{
		char measured[192];
		snprintf(measured, sizeof(measured),
			 "worst p99.9 %.0f ns (%s); alone, memcmp control: %.0f ns, busy loops as "
			 "long as libpce's lookups (%s): %.0f ns",
			 worst, worst_wl, worst_ctl, worst_wl, worst_spin);
		report_goal(s->rep, "p99.9 lookup < 5 us, prompts <= 8K, writer + reclaimer",
			    measured, worst < GOAL_P999_NS ? "met" : "missed");
	}
	free(lat);
}

void exp_memcmp(struct suite *s, struct wl_set *const *sets, size_t n)
{
	struct table *t;
	double worst = 0;
	char worst_wl[64] = "";

	report_section(s->rep, "Lookup against memcmp of the matched bytes",
		       "The lookups of each workload's stream with at least 1,024 query tokens "
		       "and a match, from one pinned thread, against the memcmp control on "
		       "the same queries: memcmp() of the bytes libpce matched with a "
		       "separate copy of them, through a volatile function pointer.  Same "
		       "stream, thread and clock: memcmp is the least work any exact matcher "
		       "must do.  block-hash compares no tokens; it hashes them.  The control "
		       "reads one private copy per query sequence, a trie one shared copy of "
		       "each prefix: where many lookups share long prefixes (long), the "
		       "trie's copy stays in cache and a lookup can beat the control.");
	t = report_table(s->rep, "Lookup cost against memcmp, 1 thread, queries >= 1K tokens",
			 "workload|index|lookups/s|ns per lookup|matched tokens per lookup|ns per "
			 "matched token|time / memcmp time");
	for (size_t w = 0; w < n; w++) {
		struct wl_set view = *sets[w];
		struct run_cfg cfg = {.threads = 1, .duration_ns = s->p->run_ns};
		struct summary ctl;
		struct series ser;

		if (mirror_filter(&sets[w]->wl, &sets[w]->mirror, 1024, &view.wl, &view.mirror) != 0)
			continue;
		if (view.wl.nqueries == 0) {
			mirror_view_free(&view.wl, &view.mirror);
			continue;
		}
		run_series(s, &view, &cfg, LOOKUPS, 1, &ser);
		ctl = summarize(&ser, MEMCMP_CTL);
		for (int k = 0; k < CONTENDERS; k++) {
			struct summary m = summarize(&ser, k);
			const struct run_result *last = &ser.last[k];
			double matched =
				last->lookups ? (double)last->matched_tokens / (double)last->lookups : 0;
			double ns = 1e9 / m.med;
			/* libpce's ratio to memcmp: time per lookup over time per
			 * memcmp, per repetition. */
			double x = ctl.ratio / m.ratio;

			jl_series(s, "memcmp_limit", sets[w]->wl.name, k, &m, "lookups_per_s");
			jl_int(&s->jl, "threads", 1);
			jl_int(&s->jl, "min_query_tokens", 1024);
			jl_num(&s->jl, "ns_per_lookup", ns);
			jl_num(&s->jl, "matched_tokens_per_lookup", matched);
			jl_num(&s->jl, "ns_per_matched_token", ns / matched);
			jl_num(&s->jl, "time_over_memcmp", x);
			jl_end(&s->jl);
			table_row(t, "%s|%s|%.0f|%.0f|%.0f|%.3f|%.2f", sets[w]->wl.name,
				  contender_name(k), m.med, ns, matched, ns / matched, x);
			if (k == 0 && x > worst) {
				worst = x;
				snprintf(worst_wl, sizeof(worst_wl), "%s", sets[w]->wl.name);
			}
		}
		mirror_view_free(&view.wl, &view.mirror);
	}
	table_done(t);
	{
		char measured[96];
		snprintf(measured, sizeof(measured), "worst %.2fx memcmp (%s)", worst, worst_wl);
		report_goal(s->rep, "lookup within 3x of memcmp of the matched bytes, >= 1K tokens",
			    measured, worst <= GOAL_MEMCMP_RATIO ? "met" : "missed");
	}
}
