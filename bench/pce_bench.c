/*
 * pce_bench.c - the benchmark suite of libpce: presets, options, the
 * workloads loaded into every index, and the order of the experiments.
 *
 *   pce_bench [--preset quick|full] [--json FILE] [--markdown FILE]
 *             [--svg-dir DIR] [--traces DIR] [--only LIST] [--workloads LIST]
 *             [--commit ID]
 *
 * Human tables go to stdout as the experiments finish; one JSON line per
 * measurement goes to --json; --markdown rewrites the report (normally
 * docs/benchmarks.md, by scripts/bench.sh).  Timing goals are reported,
 * never enforced: the exit status is 0 unless the suite could not run.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "machine.h"
#include "timing.h"

static const struct preset presets[] = {
	{.name = "quick", .scale = 0.25, .reps = 3, .run_ns = 200000000,
	 .latency_ns = 500000000, .evict_ns = 1000000000, .mixed_everywhere = 0,
	 .claude_code = 0, .trace_share = 0.1},
	{.name = "full", .scale = 1.0, .reps = 5, .run_ns = 500000000,
	 .latency_ns = 2000000000, .evict_ns = 3000000000u, .mixed_everywhere = 1,
	 .claude_code = 1, .trace_share = 1.0},
};

#define EXPERIMENTS "store,memory,lookup,writer,mixed,latency,memcmp,evict,engine,skew,trace,router"
/* The experiments on the synthetic workloads (trace and router read traces). */
static const char *const workload_experiments[] = {"store", "memory", "lookup", "writer",
						   "mixed", "latency", "memcmp", "evict",
						   "engine", "skew", NULL};
#define MAIN_WORKLOADS "sysprompt,multiturn,unique,long"
#define SEED 20261128u
#define CHECK_QUERIES 1000

/* ---- helpers of bench.h ---------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int goal_workload(const char *name)
{
	return strcmp(name, "sysprompt") == 0 || strcmp(name, "multiturn") == 0;
}

double median(double *v, unsigned n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

const char *fmt_si(char *buf, size_t len, double v)
{
	static const char suffix[] = " kMGT";
	int i = 0;

	while (fabs(v) >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	if (fabs(v) >= 100 || i == 0)
		snprintf(buf, len, "%.0f%.*s", v, i ? 1 : 0, suffix + i);
	else
		snprintf(buf, len, "%.*f%c", fabs(v) >= 10 ? 1 : 2, v, suffix[i]);
	return buf;
}

const char *contender_name(int k)
{
	return k < INDEX_COUNT ? index_all[k]->name : "memcmp";
}

/* ---- workloads in every index ---------------------------------------------- */

/* The tokens an index matches for each of the first n queries of wl. */
struct stream_matches {
	const struct workload *wl;
	size_t n;
	size_t *matched;
};

static void match_fn(const struct index_ops *ops, struct bench_index *ix, void *arg)
{
	struct stream_matches *sm = arg;

	for (size_t i = 0; i < sm->n; i++) {
		uint64_t v;
		sm->matched[i] = ops->lookup(ix, sm->wl->queries[i].tok, sm->wl->queries[i].len, &v);
	}
}

/* The indexes must agree: libpce and the trie on every match, block-hash on
 * the match rounded down to 16-token blocks.  Returns the disagreements. */
static size_t cross_check(struct suite *s, struct wl_set *set)
{
	static size_t matched[INDEX_COUNT][CHECK_QUERIES];
	size_t bad = 0, n = set->wl.nqueries < CHECK_QUERIES ? set->wl.nqueries : CHECK_QUERIES;

	for (int k = 0; k < INDEX_COUNT; k++) {
		struct stream_matches sm = {&set->wl, n, matched[k]};
		index_run_on_thread(index_all[k], set->ix[k], match_fn, &sm);
	}
	for (size_t i = 0; i < n; i++)
		bad += matched[1][i] != matched[0][i] || matched[2][i] != matched[0][i] / 16 * 16;
	jl_begin(&s->jl, "cross_check");
	jl_str(&s->jl, "workload", set->wl.name);
	jl_int(&s->jl, "queries", n);
	jl_int(&s->jl, "disagreements", bad);
	jl_end(&s->jl);
	if (bad)
		fprintf(stderr, "pce_bench: %s: the indexes disagree on %zu of %zu matches\n",
			set->wl.name, bad, n);
	return bad;
}

/* The memcmp control of @set's stream, from libpce's matches. */
static int set_mirror(struct wl_set *set)
{
	struct stream_matches sm = {&set->wl, set->wl.nqueries,
				    calloc(set->wl.nqueries, sizeof(size_t))};
	int rc = -1;

	if (sm.matched && index_run_on_thread(index_all[0], set->ix[0], match_fn, &sm) == 0)
		rc = mirror_build(&set->mirror, &set->wl, sm.matched);
	free(sm.matched);
	return rc;
}

static struct wl_set *set_new(struct suite *s, const char *name)
{
	struct wl_set *set = calloc(1, sizeof(*set));
	int k;

	if (!set || workload_make(name, s->p->scale, SEED, &set->wl) != 0) {
		free(set);
		return NULL;
	}
	for (k = 0; k < INDEX_COUNT; k++) {
		if (index_all[k]->create(set->wl.distinct, &set->ix[k]) != 0)
			break;
		index_run_on_thread(index_all[k], set->ix[k], load_all, &set->wl);
	}
	if (k < INDEX_COUNT || set_mirror(set) != 0) {
		while (k-- > 0)
			index_all[k]->destroy(set->ix[k]);
		workload_free(&set->wl);
		free(set);
		return NULL;
	}
	cross_check(s, set);
	return set;
}

static void set_free(struct wl_set *set)
{
	if (!set)
		return;
	for (int k = 0; k < INDEX_COUNT; k++)
		index_all[k]->destroy(set->ix[k]);
	mirror_free(&set->mirror);
	workload_free(&set->wl);
	free(set);
}

/* ---- options --------------------------------------------------------------- */

struct options {
	const struct preset *preset;
	struct preset custom;   /* the preset with --scale / --reps applied */
	const char *json, *markdown, *svg_dir, *traces, *commit;
	char only[256];
	char workloads[256];
	char args[512];         /* the command line, for the report */
};

/* Is @name in the comma-separated @list? */
static int listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/* Does @only list an experiment that runs on the synthetic workloads?  If
 * not, they are not built (nor loaded into every index and checked). */
static int needs_workloads(const char *only)
{
	for (size_t i = 0; workload_experiments[i]; i++)
		if (listed(only, workload_experiments[i]))
			return 1;
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pce_bench [--preset quick|full] [--json FILE] [--markdown FILE]\n"
		"                 [--svg-dir DIR] [--traces DIR] [--only LIST] [--workloads LIST]\n"
		"                 [--commit ID]\n"
		"  --only       experiments, comma-separated, from\n"
		"               " EXPERIMENTS "\n"
		"  --workloads  from " MAIN_WORKLOADS "\n"
		"  --scale X    workload sizes (overrides the preset's; smoke tests)\n"
		"  --reps N     repetitions of every timed run (1..15)\n"
		"  --traces     the shared traces directory (mooncake_conversation/,\n"
		"               weka_claude_code/); without it, no trace experiments\n"
		"Tables go to stdout, one JSON line per measurement to --json, the report\n"
		"to --markdown (plots in --svg-dir, linked relative to the report).\n");
}

static int parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"preset", required_argument, NULL, 'p'},  {"json", required_argument, NULL, 'j'},
		{"markdown", required_argument, NULL, 'm'}, {"svg-dir", required_argument, NULL, 's'},
		{"only", required_argument, NULL, 'o'},    {"workloads", required_argument, NULL, 'w'},
		{"commit", required_argument, NULL, 'c'},  {"traces", required_argument, NULL, 't'},
		{"scale", required_argument, NULL, 'x'},   {"reps", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	double scale = 0;
	long reps = 0;
	int c;

	memset(o, 0, sizeof(*o));
	o->preset = &presets[0];
	snprintf(o->only, sizeof(o->only), "%s", EXPERIMENTS);
	snprintf(o->workloads, sizeof(o->workloads), "%s", MAIN_WORKLOADS);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->preset = NULL;
			for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
				if (strcmp(optarg, presets[i].name) == 0)
					o->preset = &presets[i];
			if (!o->preset) {
				fprintf(stderr, "pce_bench: unknown preset '%s'\n", optarg);
				return -1;
			}
			break;
		case 'j': o->json = optarg; break;
		case 'm': o->markdown = optarg; break;
		case 's': o->svg_dir = optarg; break;
		case 'c': o->commit = optarg; break;
		case 't': o->traces = optarg; break;
		case 'x': scale = strtod(optarg, NULL); break;
		case 'r': reps = strtol(optarg, NULL, 10); break;
		case 'o': snprintf(o->only, sizeof(o->only), "%s", optarg); break;
		case 'w': snprintf(o->workloads, sizeof(o->workloads), "%s", optarg); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc || scale < 0 || scale > 100 || reps < 0 || reps > MAX_REPS) {
		usage(stderr);
		return -1;
	}
	for (int i = 1; i < argc; i++) {
		size_t used = strlen(o->args);
		snprintf(o->args + used, sizeof(o->args) - used, " %s", argv[i]);
	}
	o->custom = *o->preset;
	if (scale > 0)
		o->custom.scale = scale;
	if (reps > 0)
		o->custom.reps = (unsigned)reps;
	o->preset = &o->custom;
	return 0;
}

/* @svg_dir as the report links it: relative to the directory of @markdown
 * when inside it (docs/bench from docs/benchmarks.md: "bench"). */
static const char *relative_to_markdown(const char *svg_dir, const char *markdown)
{
	const char *slash = markdown ? strrchr(markdown, '/') : NULL;
	size_t n = slash ? (size_t)(slash - markdown) : 0;

	if (!svg_dir || !slash)
		return svg_dir;
	if (strncmp(svg_dir, markdown, n) == 0 && svg_dir[n] == '/')
		return svg_dir + n + 1;
	return svg_dir;
}

/* ---- the report's fixed text ----------------------------------------------- */

static void preamble(FILE *out, const struct options *o, struct wl_set *const *sets, size_t n,
		     const struct machine_sample *start, const struct machine_sample *end,
		     double scaling_start, double scaling_end)
{
	time_t now = time(NULL);
	char date[64];

	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	fprintf(out,
		"# Benchmarks\n\n"
		"Generated by `scripts/bench.sh` (`pce_bench%s`) on %s%s%s%s; do not edit "
		"by hand.  `scripts/bench.sh quick` takes about two minutes, "
		"`scripts/bench.sh full` about twenty minutes.%s%s%s\n\n",
		o->args, date, o->commit ? " at commit `" : "", o->commit ? o->commit : "",
		o->commit ? "`" : "",
		o->json ? "  Machine-readable results, one JSON line per measurement: `" : "",
		o->json ? o->json : "", o->json ? "`." : "");
	fprintf(out,
		"Every figure comes from one process run in which libpce and the baselines "
		"run the same workloads on the same threads, interleaved repetition by "
		"repetition (%u repetition(s); medians reported).  A ratio `(0.50x)` is the "
		"result divided by libpce's in the same repetition (median over "
		"repetitions): absolute times on a shared 2-CPU virtual machine drift from "
		"run to run, ratios much less.  Goals are benchmark targets, not tests.\n\n",
		o->preset->reps);
	fprintf(out, "## Machine\n\n");
	machine_describe(out, start, end);
	machine_describe_scaling(out, scaling_start, scaling_end);
	if (n == 0)
		return; /* no experiment ran on the synthetic workloads and their indexes */
	fprintf(out, "\n## Indexes\n\n"
		     "- **libpce**: this library, default configuration (16 shards, background "
		     "reclaimer every 10 ms, no budget), one namespace, lookups without pins.\n"
		     "- **rwlock-trie**: the naive concurrent index: one compressed trie (sorted "
		     "child arrays, memcmp edge compares like libpce's) behind one "
		     "`pthread_rwlock`.\n"
		     "- **block-hash**: what most engines do (vLLM's prefix caching): 16-token "
		     "blocks keyed by a chained XXH3-128 hash (parent key and block tokens), in "
		     "liburcu's `rculfhash` (memb flavour, RCU lookups, AUTO_RESIZE and "
		     "ACCOUNTING, pre-sized to one bucket per block); a lookup hashes the query "
		     "block by block until the first miss; blocks are shared and "
		     "reference-counted.  It trusts the hash as identity and sees whole blocks "
		     "only.\n"
		     "- **memcmp**: `memcmp()` of the matched bytes through a volatile function "
		     "pointer: the physical limit of an exact match.\n\n"
		     "The indexes are checked against each other on the first %d queries of "
		     "every workload before anything is timed (libpce and the trie must match "
		     "the same number of tokens, block-hash that number rounded down to 16).\n\n",
		CHECK_QUERIES);
	fprintf(out, "## Workloads\n\nScale %.2f of the full sizes; seed %u.\n\n",
		o->preset->scale, SEED);
	fprintf(out, "| workload | what | stored sequences | stored tokens | distinct tokens | "
		     "lookups in the stream |\n|---|---|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "| %s | %s | %zu | %lu | %lu | %zu |\n", sets[i]->wl.name,
			sets[i]->wl.about, sets[i]->wl.nstored, (unsigned long)sets[i]->wl.tokens,
			(unsigned long)sets[i]->wl.distinct, sets[i]->wl.nqueries);
	fprintf(out, "\nToken ids are uniform over a 128,000-token vocabulary; every chat "
		     "workload starts with the same 4-token chat-template header.  Writes use "
		     "pools of sequences outside the stored set.\n\n");
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	struct options o;
	struct suite s;
	struct wl_set *sets[8];
	size_t nsets = 0;
	FILE *json = NULL;
	struct machine_sample start, end;
	int rc = 0;

	machine_sample(&start);
	if (parse(argc, argv, &o) != 0)
		return 2;
	if (machine_build_problem())
		fprintf(stderr, "pce_bench: warning: %s\n", machine_build_problem());
	if (o.json && !(json = fopen(o.json, "w"))) {
		perror(o.json);
		return 1;
	}
	memset(&s, 0, sizeof(s));
	s.p = o.preset;
	s.cpus = runner_cpus();
	s.rep = report_new();
	s.svg_dir = o.svg_dir;
	s.svg_rel = relative_to_markdown(o.svg_dir, o.markdown);
	jl_init(&s.jl, json, o.preset->name);
	if (!s.rep)
		return 1;
	timing_calibrate();
	s.cpu_scaling = machine_cpu_scaling();
	printf("pce_bench: preset %s, %u CPUs, tick rate %.3f GHz, CPU scaling probe %.2fx\n",
	       o.preset->name, s.cpus, timing_ticks_per_ns(), s.cpu_scaling);
	jl_begin(&s.jl, "machine");
	jl_int(&s.jl, "cpus", s.cpus);
	jl_num(&s.jl, "cpu_scaling_probe", s.cpu_scaling);
	jl_end(&s.jl);

	for (size_t i = 0; needs_workloads(o.only) && workload_names[i] && nsets < 8; i++) {
		if (!listed(o.workloads, workload_names[i]))
			continue;
		if (!(sets[nsets] = set_new(&s, workload_names[i]))) {
			fprintf(stderr, "pce_bench: cannot build workload %s\n", workload_names[i]);
			rc = 1;
			goto out;
		}
		nsets++;
	}
	if (listed(o.only, "store")) {
		const struct workload *wls[8];
		for (size_t i = 0; i < nsets; i++)
			wls[i] = &sets[i]->wl;
		exp_load(&s, wls, nsets);
	}
	if (listed(o.only, "memory"))
		exp_memory(&s, sets, nsets);
	if (listed(o.only, "lookup"))
		exp_lookup(&s, sets, nsets);
	if (listed(o.only, "writer"))
		exp_writer(&s, sets, nsets);
	if (listed(o.only, "mixed"))
		exp_mixed(&s, sets, nsets);
	if (listed(o.only, "latency"))
		exp_latency(&s, sets, nsets);
	if (listed(o.only, "memcmp"))
		exp_memcmp(&s, sets, nsets);
	if (listed(o.only, "evict") && nsets)
		exp_evict(&s, &sets[0]->wl);
	if (listed(o.only, "engine") && nsets)
		exp_engine(&s, &sets[0]->wl);
	if (listed(o.only, "skew")) {
		struct workload spread;
		const struct workload *wls[8];
		size_t n = 0;

		for (size_t i = 0; i < nsets; i++)
			if (strcmp(sets[i]->wl.name, "sysprompt") == 0)
				wls[n++] = &sets[i]->wl;
		if (n && workload_make("sysprompt-notemplate", o.preset->scale, SEED, &spread) == 0) {
			wls[n++] = &spread;
			for (size_t i = 0; i < nsets; i++)
				if (strcmp(sets[i]->wl.name, "sysprompt") != 0)
					wls[n++] = &sets[i]->wl;
			exp_skew(&s, wls, n);
			workload_free(&spread);
		}
	}
	if (listed(o.only, "trace") && o.traces)
		exp_trace(&s, o.traces);
	if (listed(o.only, "router") && o.traces)
		exp_router(&s, o.traces);
	if (o.markdown) {
		FILE *md = fopen(o.markdown, "w");
		if (!md) {
			perror(o.markdown);
			rc = 1;
			goto out;
		}
		double scaling_end = machine_cpu_scaling();

		machine_sample(&end);
		preamble(md, &o, sets, nsets, &start, &end, s.cpu_scaling, scaling_end);
		if (report_write_markdown(s.rep, md, NULL) != 0 || fclose(md) != 0) {
			fprintf(stderr, "pce_bench: cannot write %s\n", o.markdown);
			rc = 1;
		}
	}
out:
	for (size_t i = 0; i < nsets; i++)
		set_free(sets[i]);
	report_free(s.rep);
	if (json)
		fclose(json);
	return rc;
}
