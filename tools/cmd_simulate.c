/*
 * cmd_simulate.c - `pce simulate`: options, then the hit-ratio curve of
 * simulate.c as a table or JSON, the recommendation, and the SVG chart.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "simulate.h"
#include "svg.h"

static const char usage[] =
	"Usage: pce simulate [OPTION]... INPUT...\n"
	"\n"
	"Replay a workload through real libpce caches of several capacities and\n"
	"eviction policies, print the prefix-hit ratio each one reaches, and recommend\n"
	"a size: the smallest capacity that reaches a chosen share of what an unlimited\n"
	"cache would hit, with the better policy at that size.\n"
	"\n"
	"INPUT and its formats are those of pce analyze (see 'pce analyze --help').\n"
	"The input is read several times, so a pipe (or standard input from one) is\n"
	"first copied to an unlinked temporary file in $TMPDIR (or /tmp).\n"
	"The input is read twice: once through an unlimited cache (the ceiling, and the\n"
	"footprint), then once through every (capacity, policy) cache at the same time.\n"
	"\n"
	"The caches.  Capacity counts distinct cached blocks (tokens, for token traces):\n"
	"a prefix shared by many requests is held, and counted, once, as in a paged KV\n"
	"cache.  In libpce terms: kv_mode PCE_KV_PER_TOKEN with kv_bytes_per_token 1\n"
	"and kv_budget = capacity (max_entries would count requests, whatever their\n"
	"length).  Each cache has one shard and no reclaim thread, so evictions happen\n"
	"inside the store that needs room, in the order of one global CLOCK hand: the\n"
	"same input gives the same curve on every run and machine.  Per request: one\n"
	"lookup, which marks the matched entry as used, then one store of the whole\n"
	"request.  libpce evicts whole entries (requests); a block is freed when no\n"
	"cached entry holds it any more.  A request larger than the whole capacity is\n"
	"not stored (reported as refused).\n"
	"  CLOCK-LRU  a reference bit and a second chance: approximates least recently\n"
	"             used\n"
	"  CLOCK-LFU  a 4-bit saturating use counter, aged by the clock hand\n"
	"\n"
	"Options:\n"
	"  -c, --capacity LIST      capacities in blocks (tokens, for token traces),\n"
	"                           comma-separated; k, M, G multiply by 10^3, 10^6,\n"
	"                           10^9 (default: 1-2-5 steps from a thousandth of the\n"
	"                           footprint up to the footprint, then 4 more between\n"
	"                           the recommended step and the one below it, read in\n"
	"                           a third pass)\n"
	"  -p, --policy LIST        lru, lfu, or both: lru,lfu (the default)\n"
	"  -t, --target F           the share of the unlimited hit ratio the\n"
	"                           recommended capacity must reach (0 < F <= 1,\n"
	"                           default 0.9)\n"
	"      --kv-bytes-per-token B\n"
	"                           also give each capacity in bytes of KV: B bytes per\n"
	"                           token (131072 for Llama-3-8B in 16-bit)\n"
	"      --svg FILE           write the curve as an SVG chart: one line per policy\n"
	"                           (the second dashed over the first), the unlimited-\n"
	"                           cache ceiling and the recommended capacity marked,\n"
	"                           the capacity in blocks, tokens and KV bytes as in\n"
	"                           the table\n"
	"  -f, --format FORMAT      as for pce analyze\n"
	"  -b, --block-size N       as for pce analyze\n"
	"  -w, --warmup-fraction F  count only the requests after the first F of them\n"
	"                           (every cache still sees them all)\n"
	"      --json               print one JSON object instead of tables\n"
	"      --no-progress        no progress bar\n"
	"  -h, --help               show this help\n"
	"\n"
	"Output: for each capacity, the token-weighted prefix-hit ratio of each policy,\n"
	"then the recommendation.  JSON fields: requests (counted), total_requests,\n"
	"warmup_requests, unlimited {hit_ratio, block_hit_ratio, distinct_blocks},\n"
	"curve [{policy, capacity_blocks, capacity_tokens, capacity_bytes, hit_ratio,\n"
	"block_hit_ratio, evictions, refused_stores}], recommendation {target_share,\n"
	"capacity_blocks, capacity_tokens, capacity_bytes, policy, hit_ratio,\n"
	"share_of_unlimited, other_policy, other_hit_ratio} or null with\n"
	"recommendation_note, inputs, seconds.  hit_ratio is token-weighted (0..1).\n"
	"capacity_tokens is null when the inputs' block sizes differ.  Names are\n"
	"written as for pce analyze; in the chart, control characters become U+FFFD too.\n"
	"\n"
	"Outputs are checked before the work: an --svg file that cannot be created\n"
	"or a closed standard output fails at once.  The chart is written before the\n"
	"tables; if it cannot be written, the tables still are.\n"
	"\n"
	"Exit status: 0 done; 1 internal failure, or an output that cannot be written;\n"
	"2 bad usage, an --svg file that cannot be created, or an input that cannot be\n"
	"read or is malformed.\n"
	"\n"
	"Examples:\n"
	"  pce simulate conversation_trace.jsonl --svg curve.svg\n"
	"  pce simulate --capacity 1k,10k,100k --policy lru conversation_trace.jsonl\n"
	"  pce simulate -w 0.5 --target 0.95 --kv-bytes-per-token 131072 weka/\n";

enum { OPT_SVG = CLI_OPT_FIRST_FREE, OPT_KV_BYTES };

struct sim {
	struct pce_trace *tr;
	struct pce_simulate_opts opts;
	struct pce_simulate_result res;
	struct pce_simulate_advice advice;
	uint64_t caps[PCE_SIMULATE_MAX_POINTS];
	enum pce_policy pol[2];
	uint64_t kv_bytes;        /* per token; 0: not given */
	uint32_t block_size;      /* tokens per id shared by all inputs; 0 if not */
	double seconds;
};

static const char *policy_name(enum pce_policy p)
{
	return p == PCE_POLICY_CLOCK_LFU ? "CLOCK-LFU" : "CLOCK-LRU";
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int parse_capacities(struct sim *s, char *list)
{
	size_t n = 0;

	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == PCE_SIMULATE_MAX_POINTS / 2)
			return cli_usage("simulate", "--capacity: at most %d capacities",
					 PCE_SIMULATE_MAX_POINTS / 2);
		if (cli_count("simulate", "--capacity", tok, 1, (uint64_t)1 << 50, &s->caps[n]))
			return CLI_BADINPUT;
		n++;
	}
	if (!n)
		return cli_usage("simulate", "--capacity: no capacity given");
	qsort(s->caps, n, sizeof(*s->caps), by_value);
	s->opts.n_capacities = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || s->caps[i] != s->caps[i - 1])
			s->caps[s->opts.n_capacities++] = s->caps[i];
	}
	s->opts.capacities = s->caps;
	return 0;
}

static int parse_policies(struct sim *s, char *list)
{
	int seen[2] = {0, 0};

	s->opts.n_policies = 0;
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		enum pce_policy p;

		if (!strcasecmp(tok, "lru") || !strcasecmp(tok, "clock-lru"))
			p = PCE_POLICY_CLOCK_LRU;
		else if (!strcasecmp(tok, "lfu") || !strcasecmp(tok, "clock-lfu"))
			p = PCE_POLICY_CLOCK_LFU;
		else
			return cli_usage("simulate", "--policy: '%s' is neither lru nor lfu", tok);
		if (!seen[p]++)
			s->pol[s->opts.n_policies++] = p;
	}
	if (!s->opts.n_policies)
		return cli_usage("simulate", "--policy: no policy given");
	return 0;
}

static const char *unit(const struct sim *s)
{
	return s->block_size == 1 ? "tokens" : "blocks";
}

/* The point of @policy at capacity index @c. */
static const struct pce_simulate_point *point(const struct sim *s, size_t c, size_t p)
{
	return &s->res.points[c * s->opts.n_policies + p];
}

static void print_advice(const struct sim *s)
{
	const struct pce_simulate_advice *a = &s->advice;
	double ceiling = pce_replay_token_ratio(&s->res.unlimited);
	char g[32], si[16];

	printf("\n");
	if (s->res.unlimited.hit_tokens == 0) {
		printf("No recommendation: the input has no prefix reuse at all, so a prefix cache "
		       "would not help.\n");
		return;
	}
	if (!a->found) {
		const struct pce_simulate_point *last = &s->res.points[s->res.n_points - 1];

		printf("No capacity simulated reaches %.0f%% of the unlimited hit ratio (%.2f%%); "
		       "the largest, %s %s, reaches %.2f%%.\nTry larger capacities (--capacity).\n",
		       100 * a->target, 100 * ceiling, cli_group(last->capacity, g), unit(s),
		       100 * pce_replay_token_ratio(&last->window));
		return;
	}
	printf("Recommendation: %s %s", cli_group(a->best->capacity, g), unit(s));
	if (s->block_size > 1)
		printf(" (%s tokens)", cli_si((double)a->best->capacity * s->block_size, si));
	if (s->kv_bytes && s->block_size) {
		char b[16];
		printf(", %s of KV",
		       cli_bytes((double)a->best->capacity * s->block_size * (double)s->kv_bytes, b));
	}
	printf(" with %s: %.2f%% token hit ratio, %.1f%% of the unlimited %.2f%% (target %.0f%%).\n",
	       policy_name(a->best->policy), 100 * pce_replay_token_ratio(&a->best->window),
	       100 * pce_replay_token_ratio(&a->best->window) / ceiling, 100 * ceiling,
	       100 * a->target);
	if (a->other && a->other->window.hit_tokens == a->best->window.hit_tokens)
		printf("%s does as well at that size.\n", policy_name(a->other->policy));
	else if (a->other)
		printf("%s at that size: %.2f%%.\n", policy_name(a->other->policy),
		       100 * pce_replay_token_ratio(&a->other->window));
	if (!s->opts.capacities)
		printf("(The smallest such capacity simulated; --capacity sets the grid.)\n");
	else
		printf("(The smallest such capacity of those given.)\n");
}

static void print_tables(const struct sim *s)
{
	const struct pce_simulate_result *r = &s->res;
	size_t n_caps = r->n_points / s->opts.n_policies;
	char g1[32], g2[32], g3[32], desc[256], path[1024];
	uint64_t refused = 0;

	cli_describe_inputs(s->tr, desc, sizeof(desc));
	printf("pce simulate: %s%s\n", cli_text(path, sizeof(path), pce_trace_input_path(s->tr, 0)),
	       pce_trace_inputs(s->tr) > 1 ? " ..." : "");
	printf("  input       %s\n", desc);
	if (r->window_start)
		printf("  requests    %s, of which the last %s are counted (--warmup-fraction %g)\n",
		       cli_group(r->requests, g1), cli_group(r->requests - r->window_start, g2),
		       s->opts.warmup_fraction);
	else
		printf("  requests    %s\n", cli_group(r->requests, g1));
	printf("  unlimited   %.2f%% token hit ratio", 100 * pce_replay_token_ratio(&r->unlimited));
	if (s->block_size != 1)
		printf(" (%.2f%% of blocks)", 100 * pce_replay_id_ratio(&r->unlimited));
	printf(", footprint %s %s\n", cli_group(r->footprint, g3), unit(s));
	printf("  time        %.2f s\n", s->seconds);
	if (cli_has_text(s->tr))
		printf("  note        token counts of text inputs are approximate\n");

	printf("\nToken-weighted prefix-hit ratio by capacity (capacity = distinct cached %s)\n",
	       unit(s));
	printf("  %14s", unit(s));
	if (s->block_size > 1)
		printf(" %10s", "tokens");
	if (s->kv_bytes && s->block_size)
		printf(" %10s", "KV");
	for (size_t p = 0; p < s->opts.n_policies; p++)
		printf(" %11s", policy_name(s->pol[p]));
	printf("\n");
	for (size_t c = 0; c < n_caps; c++) {
		const struct pce_simulate_point *first = point(s, c, 0);

		printf("  %14s", cli_group(first->capacity, g1));
		if (s->block_size > 1)
			printf(" %10s", cli_si((double)first->capacity * s->block_size, g2));
		if (s->kv_bytes && s->block_size)
			printf(" %10s",
			       cli_bytes((double)first->capacity * s->block_size * (double)s->kv_bytes,
					 g2));
		for (size_t p = 0; p < s->opts.n_policies; p++) {
			const struct pce_simulate_point *q = point(s, c, p);

			printf(" %10.2f%%", 100 * pce_replay_token_ratio(&q->window));
			refused += q->refused;
		}
		if (s->advice.found && s->advice.best->capacity == first->capacity)
			printf("   <- recommended");
		printf("\n");
	}
	printf("  %14s", "unlimited");
	if (s->block_size > 1)
		printf(" %10s", "");
	if (s->kv_bytes && s->block_size)
		printf(" %10s", "");
	for (size_t p = 0; p < s->opts.n_policies; p++)
		printf(" %10.2f%%", 100 * pce_replay_token_ratio(&r->unlimited));
	printf("\n");
	if (refused) {
		printf("  Some requests were larger than a whole capacity and were not stored:\n");
		for (size_t c = 0; c < n_caps; c++) {
			if (point(s, c, 0)->refused)
				printf("    %s at %s %s\n", cli_group(point(s, c, 0)->refused, g1),
				       cli_group(point(s, c, 0)->capacity, g2), unit(s));
		}
	}
	print_advice(s);
}

static void json_capacity(cJSON *o, const struct sim *s, uint64_t capacity)
{
	cli_json_u64(o, "capacity_blocks", capacity);
	if (s->block_size)
		cli_json_u64(o, "capacity_tokens", capacity * s->block_size);
	else
		cJSON_AddNullToObject(o, "capacity_tokens");
	if (s->block_size && s->kv_bytes)
		cJSON_AddNumberToObject(o, "capacity_bytes",
					(double)capacity * s->block_size * (double)s->kv_bytes);
	else
		cJSON_AddNullToObject(o, "capacity_bytes");
}

static cJSON *json_report(const struct sim *s)
{
	const struct pce_simulate_result *r = &s->res;
	const struct pce_simulate_advice *a = &s->advice;
	cJSON *o = cJSON_CreateObject(), *u, *curve;

	cli_json_string(o, "command", "simulate");
	cli_json_string(o, "version", pce_version_string());
	cJSON_AddItemToObject(o, "inputs", cli_inputs_json(s->tr));
	cJSON_AddBoolToObject(o, "approximate_tokens", cli_has_text(s->tr));
	cli_json_u64(o, "requests", r->requests - r->window_start);
	cli_json_u64(o, "total_requests", r->requests);
	cJSON_AddNumberToObject(o, "warmup_fraction", s->opts.warmup_fraction);
	cli_json_u64(o, "warmup_requests", r->window_start);
	u = cJSON_AddObjectToObject(o, "unlimited");
	cJSON_AddNumberToObject(u, "hit_ratio", pce_replay_token_ratio(&r->unlimited));
	cJSON_AddNumberToObject(u, "block_hit_ratio", pce_replay_id_ratio(&r->unlimited));
	cli_json_u64(u, "input_tokens", r->unlimited.tokens);
	cli_json_u64(u, "hit_tokens", r->unlimited.hit_tokens);
	cli_json_u64(u, "distinct_blocks", r->footprint);
	curve = cJSON_AddArrayToObject(o, "curve");
	for (size_t i = 0; i < r->n_points; i++) {
		const struct pce_simulate_point *q = &r->points[i];
		cJSON *e = cJSON_CreateObject();

		cli_json_string(e, "policy", policy_name(q->policy));
		json_capacity(e, s, q->capacity);
		cJSON_AddNumberToObject(e, "hit_ratio", pce_replay_token_ratio(&q->window));
		cJSON_AddNumberToObject(e, "block_hit_ratio", pce_replay_id_ratio(&q->window));
		cli_json_u64(e, "hit_tokens", q->window.hit_tokens);
		cli_json_u64(e, "evictions", q->evictions);
		cli_json_u64(e, "refused_stores", q->refused);
		cJSON_AddItemToArray(curve, e);
	}
	if (a->found) {
		cJSON *rec = cJSON_AddObjectToObject(o, "recommendation");
		double best = pce_replay_token_ratio(&a->best->window);

		cJSON_AddNumberToObject(rec, "target_share", a->target);
		json_capacity(rec, s, a->best->capacity);
		cli_json_string(rec, "policy", policy_name(a->best->policy));
		cJSON_AddNumberToObject(rec, "hit_ratio", best);
		cJSON_AddNumberToObject(rec, "share_of_unlimited",
					best / pce_replay_token_ratio(&r->unlimited));
		if (a->other) {
			cli_json_string(rec, "other_policy", policy_name(a->other->policy));
			cJSON_AddNumberToObject(rec, "other_hit_ratio",
						pce_replay_token_ratio(&a->other->window));
		}
		cJSON_AddNullToObject(o, "recommendation_note");
	} else {
		cJSON_AddNullToObject(o, "recommendation");
		cli_json_string(o, "recommendation_note",
				r->unlimited.hit_tokens == 0 ? "the input has no prefix reuse"
							     : "no simulated capacity reaches the target");
	}
	cJSON_AddNumberToObject(o, "seconds", s->seconds);
	return o;
}

/* Whether the two policies hit the same tokens at every capacity. */
static int policies_coincide(const struct sim *s, size_t n_caps)
{
	for (size_t c = 0; c < n_caps; c++) {
		if (point(s, c, 0)->window.hit_tokens != point(s, c, 1)->window.hit_tokens)
			return 0;
	}
	return 1;
}

/* The chart: one line per policy, the unlimited ceiling and the
 * recommended capacity marked, the capacity axis in the units of the
 * table (blocks, tokens, KV bytes). */
static int write_svg(const struct sim *s, struct cli_output *o)
{
	const struct pce_simulate_result *r = &s->res;
	const struct pce_simulate_advice *a = &s->advice;
	size_t n_caps = r->n_points / s->opts.n_policies, n_rows = 0;
	double *x = calloc(n_caps, sizeof(*x)), *y = calloc(r->n_points, sizeof(*y));
	struct pce_svg_series series[2];
	char names[2][64], label[96], rec[96], xlabel[96], subtitle[320], desc[256], g[32];
	struct pce_svg_line lines[2];
	struct pce_svg_ticks rows[3];
	struct pce_svg_chart chart;
	const char *path, *base;
	FILE *f;
	int rc;

	if (!x || !y) {
		free(x);
		free(y);
		cli_output_discard(o);
		cli_error("simulate", "out of memory");
		return CLI_FAILURE;
	}
	for (size_t c = 0; c < n_caps; c++) {
		x[c] = (double)point(s, c, 0)->capacity;
		for (size_t p = 0; p < s->opts.n_policies; p++)
			y[p * n_caps + c] = pce_replay_token_ratio(&point(s, c, p)->window);
	}
	for (size_t p = 0; p < s->opts.n_policies; p++) {
		snprintf(names[p], sizeof(names[p]), "%s", policy_name(s->pol[p]));
		series[p] = (struct pce_svg_series){names[p], x, y + p * n_caps, n_caps};
	}
	/* The second line is drawn dashed over the first; say why only one
	 * seems to be there. */
	if (s->opts.n_policies == 2 && policies_coincide(s, n_caps))
		snprintf(names[1], sizeof(names[1]), "%s (same as %s)", policy_name(s->pol[1]),
			 policy_name(s->pol[0]));
	snprintf(label, sizeof(label), "unlimited cache: %.1f%%",
		 100 * pce_replay_token_ratio(&r->unlimited));
	lines[0] = (struct pce_svg_line){pce_replay_token_ratio(&r->unlimited), label,
					 PCE_SVG_HORIZONTAL};
	if (a->found) {
		snprintf(rec, sizeof(rec), "recommended: %s %s, %s %.1f%%",
			 cli_si((double)a->best->capacity, g), unit(s), policy_name(a->best->policy),
			 100 * pce_replay_token_ratio(&a->best->window));
		lines[1] = (struct pce_svg_line){(double)a->best->capacity, rec, PCE_SVG_VERTICAL};
	}
	if (s->block_size > 1 || (s->block_size && s->kv_bytes)) {
		rows[n_rows++] = (struct pce_svg_ticks){unit(s), 1, PCE_SVG_SI};
		if (s->block_size > 1)
			rows[n_rows++] = (struct pce_svg_ticks){"tokens", s->block_size, PCE_SVG_SI};
		if (s->kv_bytes)
			rows[n_rows++] = (struct pce_svg_ticks){
				"KV", (double)s->block_size * (double)s->kv_bytes, PCE_SVG_BYTES};
	}
	if (s->block_size > 1)
		snprintf(xlabel, sizeof(xlabel), "capacity (distinct blocks of %u tokens)",
			 s->block_size);
	else
		snprintf(xlabel, sizeof(xlabel), "capacity (distinct %s)", unit(s));
	cli_describe_inputs(s->tr, desc, sizeof(desc));
	path = pce_trace_input_path(s->tr, 0);
	base = strrchr(path, '/');
	snprintf(subtitle, sizeof(subtitle), "%s%s: %s; %s requests counted",
		 base && base[1] ? base + 1 : path, pce_trace_inputs(s->tr) > 1 ? " ..." : "", desc,
		 cli_group(r->requests - r->window_start, g));
	chart = (struct pce_svg_chart){
		.title = "Prefix-hit ratio by cache capacity (libpce)",
		.subtitle = subtitle,
		.x_label = xlabel,
		.y_label = "token-weighted prefix-hit ratio",
		.log_x = n_caps > 1 && x[n_caps - 1] / x[0] >= 10,
		.x_format = PCE_SVG_SI,
		.y_format = PCE_SVG_PERCENT,
		.series = series,
		.n_series = s->opts.n_policies,
		.lines = lines,
		.n_lines = a->found ? 2 : 1,
		.x_rows = rows,
		.n_x_rows = n_rows,
		.legend = PCE_SVG_AUTO};
	f = cli_output_begin("simulate", o);
	rc = f ? cli_output_end("simulate", o, f, pce_svg_write(f, &chart) != 0) : CLI_FAILURE;
	free(x);
	free(y);
	return rc;
}

int cmd_simulate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"capacity", required_argument, NULL, 'c'},
		{"policy", required_argument, NULL, 'p'},
		{"target", required_argument, NULL, 't'},
		{"kv-bytes-per-token", required_argument, NULL, OPT_KV_BYTES},
		{"svg", required_argument, NULL, OPT_SVG},
		{"format", required_argument, NULL, 'f'},
		{"block-size", required_argument, NULL, 'b'},
		{"warmup-fraction", required_argument, NULL, 'w'},
		{"json", no_argument, NULL, CLI_OPT_JSON},
		{"no-progress", no_argument, NULL, CLI_OPT_NO_PROGRESS},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct cli_input in = {.progress = 1};
	struct sim s = {.opts.target = 0.9};
	struct cli_output chart = {.fd = -1};
	struct cli_progress bar;
	const char *svg = NULL;
	int opt, rc, svg_rc;

	s.pol[0] = PCE_POLICY_CLOCK_LRU;
	s.pol[1] = PCE_POLICY_CLOCK_LFU;
	s.opts.policies = s.pol;
	s.opts.n_policies = 2;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:p:t:f:b:w:h", longopts, NULL)) != -1) {
		rc = cli_input_option("simulate", &in, opt, optarg);
		if (rc < 0)
			return -rc;
		if (rc)
			continue;
		switch (opt) {
		case 'c':
			if (parse_capacities(&s, optarg))
				return CLI_BADINPUT;
			break;
		case 'p':
			if (parse_policies(&s, optarg))
				return CLI_BADINPUT;
			break;
		case 't':
			if (cli_fraction("simulate", "--target", optarg, 0, 1, 0, &s.opts.target))
				return CLI_BADINPUT;
			if (s.opts.target == 0)
				return cli_usage("simulate", "--target: must be above 0");
			break;
		case OPT_KV_BYTES:
			if (cli_count("simulate", "--kv-bytes-per-token", optarg, 1, (uint64_t)1 << 30,
				      &s.kv_bytes))
				return CLI_BADINPUT;
			break;
		case OPT_SVG:
			svg = optarg;
			break;
		default:
			return cli_other_option("simulate", opt, usage, argv);
		}
	}
	rc = cli_stdout_check("simulate");
	if (!rc && svg)
		rc = cli_output_open("simulate", &chart, "--svg", svg);
	if (rc)
		return rc;
	s.opts.warmup_fraction = in.warmup_fraction;
	s.seconds = cli_seconds();
	cli_progress_start(&bar, "simulate", in.progress);
	in.trace.rewindable = 1; /* every pass reads the input again */
	rc = cli_open("simulate", &in, argv + optind, argc - optind, &bar, &s.tr);
	if (rc)
		goto out;
	s.block_size = cli_block_size(s.tr);
	s.opts.progress = cli_progress_cb;
	s.opts.ctx = &bar;
	rc = pce_simulate_run(s.tr, &s.opts, &s.res);
	cli_progress_done(&bar);
	s.seconds = cli_seconds() - s.seconds;
	rc = cli_pass_status("simulate", s.tr, rc, s.res.error, s.res.requests);
	if (rc)
		goto out;
	pce_simulate_advise(&s.res, s.opts.target, &s.advice);
	/* The chart first: written through /dev/stdout, it would come before
	 * the tables rather than truncate them.  Its failure keeps the tables. */
	svg_rc = svg ? write_svg(&s, &chart) : CLI_OK;
	if (in.json) {
		rc = cli_print_json("simulate", json_report(&s));
	} else {
		print_tables(&s);
		rc = cli_flush("simulate");
	}
	rc = rc ? rc : svg_rc;
out:
	cli_output_discard(&chart);
	cli_progress_done(&bar);
	pce_simulate_free(&s.res);
	pce_trace_close(s.tr);
	return rc;
}
