/*
 * cmd_simulate.c - `pce simulate`: options, then the hit-ratio curve of
 * simulate.c as a table or JSON, the recommendation, and the SVG chart;
 * with --workers, the routing policies of route.c instead: hit ratio, load
 * balance and router match latency per policy, the collapses called out,
 * and the requests per worker as a chart.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "route.h"
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
	"Routing (--workers W): what would a cache-aware router buy?  The input is\n"
	"replayed over W simulated workers, each a libpce cache of --worker-capacity\n"
	"blocks (tokens, for token traces) set up as above, whose store and evict\n"
	"events feed one libpce router index (pce/router.h), as a gateway fed by its\n"
	"engines' KV events.  Per request the router lists the workers holding the\n"
	"longest prefixes of the request (one timed pce_router_match), the routing\n"
	"policy picks a worker, and that worker's cache replays the request (lookup,\n"
	"then store).\n"
	"Each policy has its own workers and router; all see the same requests.\n"
	"  rr           request i goes to worker i mod W\n"
	"  prefix       the worker holding the longest prefix of the request; ties\n"
	"               (also: no worker holds any of it) go to the least loaded of\n"
	"               them, then to the lowest worker number\n"
	"  prefix+load  SGLang's cache-aware rule: if the loads are imbalanced\n"
	"               (max - min > --balance-abs and max > --balance-rel x min),\n"
	"               the least loaded worker; otherwise prefix's choice if it\n"
	"               holds more than --cache-threshold of the request's blocks,\n"
	"               else the worker whose cache holds the fewest blocks (ties:\n"
	"               least loaded, then lowest number)\n"
	"A worker's load is its requests in flight.  A trace has no service times,\n"
	"so a request counts as in flight until --in-flight more requests have been\n"
	"routed.  A policy that sends more than half of the requests, and more than\n"
	"twice the fair share, to one worker has collapsed: a warning says so (on\n"
	"chat traces whose requests all share a first block, prefix does).\n"
	"      --workers W          simulate routing over W workers (1 to 65536)\n"
	"      --worker-capacity C  each worker's cache, in blocks (tokens, for token\n"
	"                           traces); required with --workers\n"
	"      --routing LIST       rr, prefix, prefix+load, comma-separated (default:\n"
	"                           all three)\n"
	"      --cache-threshold F  prefix+load: 0 <= F < 1 (default 0.3)\n"
	"      --balance-abs N      prefix+load: default 64\n"
	"      --balance-rel F      prefix+load: F >= 1 (default 1.5)\n"
	"      --in-flight N        requests in flight at once (default 256)\n"
	"      --top-k K            the match lists the K workers holding the longest\n"
	"                           prefixes, as a gateway would ask (default: every\n"
	"                           worker holding any, so that ties are decided by the\n"
	"                           rules above; with K, a tie among more than K\n"
	"                           workers is decided by which ones the router lists)\n"
	"With --workers, --policy names the workers' one eviction policy (default lru),\n"
	"--kv-bytes-per-token also gives a worker's capacity in bytes, and --capacity\n"
	"and --target do not apply.  Output: per policy, the token-weighted hit ratio\n"
	"of the routed workers' caches; the busiest worker's requests and prompt tokens\n"
	"over the mean (1.00: perfect balance); the busiest worker and its share of\n"
	"the requests; the router's match latency, p50, p99 and p99.9 (this\n"
	"machine's, not part of the results' determinism).  JSON fields: requests,\n"
	"total_requests, warmup_fraction, warmup_requests, unlimited, workers {count,\n"
	"capacity_blocks, capacity_tokens, capacity_bytes, eviction_policy},\n"
	"in_flight, prefix_load {cache_threshold, balance_abs, balance_rel}, top_k\n"
	"(null: every worker), routing\n"
	"[{policy, hit_ratio, block_hit_ratio, hit_tokens, requests_max_over_mean,\n"
	"tokens_max_over_mean, busiest_worker, busiest_share, collapsed,\n"
	"balanced_requests, evictions, router_adds, router_removes, match_ns {p50,\n"
	"p99, p999}, worker_requests, worker_tokens}], inputs, seconds.  --svg draws\n"
	"each policy's share of the requests per worker, busiest first.\n"
	"\n"
	"Exit status: 0 done; 1 internal failure, or an output that cannot be written;\n"
	"2 bad usage, an --svg file that cannot be created, or an input that cannot be\n"
	"read or is malformed.\n"
	"\n"
	"Examples:\n"
	"  pce simulate conversation_trace.jsonl --svg curve.svg\n"
	"  pce simulate --capacity 1k,10k,100k --policy lru conversation_trace.jsonl\n"
	"  pce simulate -w 0.5 --target 0.95 --kv-bytes-per-token 131072 weka/\n"
	"  pce simulate --workers 16 --worker-capacity 20k conversation_trace.jsonl\n";

enum {
	OPT_SVG = CLI_OPT_FIRST_FREE,
	OPT_KV_BYTES,
	OPT_WORKERS, /* the options after it need it (routing_opt) */
	OPT_WORKER_CAPACITY,
	OPT_ROUTING,
	OPT_CACHE_THRESHOLD,
	OPT_BALANCE_ABS,
	OPT_BALANCE_REL,
	OPT_IN_FLIGHT,
	OPT_TOP_K
};

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
	/* --workers */
	struct pce_route_opts ro;
	struct pce_route_result routes;
	enum pce_route_policy routing[PCE_ROUTE_POLICIES];
	const char *routing_opt;  /* the first routing-only option given, if any */
	const char *sweep_opt;    /* the first capacity-sweep option given, if any */
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

/* The head both reports (capacity sweep and routing) open with. */
static void print_head(const struct sim *s, uint64_t requests, uint64_t window_start,
		       double warmup_fraction)
{
	char g1[32], g2[32], desc[256], path[1024];

	cli_describe_inputs(s->tr, desc, sizeof(desc));
	printf("pce simulate: %s%s\n", cli_text(path, sizeof(path), pce_trace_input_path(s->tr, 0)),
	       pce_trace_inputs(s->tr) > 1 ? " ..." : "");
	printf("  input       %s\n", desc);
	if (window_start)
		printf("  requests    %s, of which the last %s are counted (--warmup-fraction %g)\n",
		       cli_group(requests, g1), cli_group(requests - window_start, g2),
		       warmup_fraction);
	else
		printf("  requests    %s\n", cli_group(requests, g1));
}

static void print_tables(const struct sim *s)
{
	const struct pce_simulate_result *r = &s->res;
	size_t n_caps = r->n_points / s->opts.n_policies;
	char g1[32], g2[32], g3[32];
	uint64_t refused = 0;

	print_head(s, r->requests, r->window_start, s->opts.warmup_fraction);
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

/*
 * The fields both JSON reports open with; returns the "unlimited" object
 * so the capacity sweep can add its footprint to it.
 */
static cJSON *json_head(cJSON *o, const struct sim *s, uint64_t requests, uint64_t window_start,
			double warmup_fraction, const struct pce_replay_counts *unlimited)
{
	cJSON *u;

	cli_json_string(o, "command", "simulate");
	cli_json_string(o, "version", pce_version_string());
	cJSON_AddItemToObject(o, "inputs", cli_inputs_json(s->tr));
	cJSON_AddBoolToObject(o, "approximate_tokens", cli_has_text(s->tr));
	cli_json_u64(o, "requests", requests - window_start);
	cli_json_u64(o, "total_requests", requests);
	cJSON_AddNumberToObject(o, "warmup_fraction", warmup_fraction);
	cli_json_u64(o, "warmup_requests", window_start);
	u = cJSON_AddObjectToObject(o, "unlimited");
	cJSON_AddNumberToObject(u, "hit_ratio", pce_replay_token_ratio(unlimited));
	cJSON_AddNumberToObject(u, "block_hit_ratio", pce_replay_id_ratio(unlimited));
	cli_json_u64(u, "input_tokens", unlimited->tokens);
	cli_json_u64(u, "hit_tokens", unlimited->hit_tokens);
	return u;
}

static cJSON *json_report(const struct sim *s)
{
	const struct pce_simulate_result *r = &s->res;
	const struct pce_simulate_advice *a = &s->advice;
	cJSON *o = cJSON_CreateObject(), *u, *curve;

	u = json_head(o, s, r->requests, r->window_start, s->opts.warmup_fraction, &r->unlimited);
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

/* A chart's subtitle: the input (its first file's name), and how many
 * requests the chart counts.  Return: the subtitle's length (snprintf's). */
static size_t chart_subtitle(const struct sim *s, uint64_t counted, char *out, size_t n)
{
	const char *path = pce_trace_input_path(s->tr, 0), *base = strrchr(path, '/');
	char desc[256], g[32];
	int len;

	cli_describe_inputs(s->tr, desc, sizeof(desc));
	len = snprintf(out, n, "%s%s: %s; %s requests counted", base && base[1] ? base + 1 : path,
		       pce_trace_inputs(s->tr) > 1 ? " ..." : "", desc, cli_group(counted, g));
	return len < 0 ? 0 : (size_t)len;
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
	char names[2][64], label[96], rec[96], xlabel[96], subtitle[320], g[32];
	struct pce_svg_line lines[2];
	struct pce_svg_ticks rows[3];
	struct pce_svg_chart chart;
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
	chart_subtitle(s, r->requests - r->window_start, subtitle, sizeof(subtitle));
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

/* ---- --workers: routing ------------------------------------------------- */

static int parse_routing(struct sim *s, char *list)
{
	int seen[PCE_ROUTE_POLICIES] = {0};

	s->ro.n_policies = 0;
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		enum pce_route_policy p;

		if (!strcasecmp(tok, "rr") || !strcasecmp(tok, "round-robin"))
			p = PCE_ROUTE_RR;
		else if (!strcasecmp(tok, "prefix"))
			p = PCE_ROUTE_PREFIX;
		else if (!strcasecmp(tok, "prefix+load"))
			p = PCE_ROUTE_PREFIX_LOAD;
		else
			return cli_usage("simulate",
					 "--routing: '%s' is none of rr, prefix, prefix+load", tok);
		if (!seen[p]++)
			s->routing[s->ro.n_policies++] = p;
	}
	if (!s->ro.n_policies)
		return cli_usage("simulate", "--routing: no policy given");
	return 0;
}

/* The busiest worker's share over the mean (1: perfect balance). */
static double over_mean(const struct sim *s, uint64_t max, uint64_t total)
{
	return total ? (double)max * s->ro.workers / (double)total : 0;
}

static const struct pce_route_point *route_point(const struct sim *s, enum pce_route_policy p)
{
	for (size_t i = 0; i < s->routes.n_points; i++) {
		if (s->routes.points[i].policy == p)
			return &s->routes.points[i];
	}
	return NULL;
}

static void print_routes(const struct sim *s)
{
	const struct pce_route_result *r = &s->routes;
	const struct pce_route_point *rr = route_point(s, PCE_ROUTE_RR);
	char g1[32], g2[32];

	print_head(s, r->requests, r->window_start, s->ro.warmup_fraction);
	printf("  unlimited   %.2f%% token hit ratio (one cache of unlimited capacity)\n",
	       100 * pce_replay_token_ratio(&r->unlimited));
	printf("  workers     %s, each a %s cache of %s %s", cli_group(s->ro.workers, g1),
	       policy_name(s->ro.eviction), cli_group(s->ro.capacity, g2), unit(s));
	if (s->block_size > 1)
		printf(" (%s tokens)", cli_si((double)s->ro.capacity * s->block_size, g1));
	if (s->kv_bytes && s->block_size)
		printf(", %s of KV",
		       cli_bytes((double)s->ro.capacity * s->block_size * (double)s->kv_bytes, g1));
	printf("\n  load        %s requests in flight\n", cli_group(s->ro.in_flight, g1));
	if (s->ro.top_k && s->ro.top_k < s->ro.workers)
		printf("  match       the %s workers holding the longest prefixes (--top-k)\n",
		       cli_group(s->ro.top_k, g1));
	else
		printf("  match       every worker holding a prefix of the request\n");
	if (route_point(s, PCE_ROUTE_PREFIX_LOAD))
		printf("  prefix+load cache threshold %g, balance abs %s, rel %g\n",
		       s->ro.cache_threshold, cli_group(s->ro.balance_abs, g1), s->ro.balance_rel);
	printf("  time        %.2f s\n", s->seconds);
	if (cli_has_text(s->tr))
		printf("  note        token counts of text inputs are approximate\n");

	printf("\nRouting over %s workers (load: busiest worker over the mean; match: the\n"
	       "router's pce_router_match latency)\n", cli_group(s->ro.workers, g1));
	printf("  %-12s %9s %9s %9s %16s %27s\n", "policy", "hit ratio", "requests", "tokens",
	       "busiest worker", "match us p50 / p99 / p99.9");
	for (size_t i = 0; i < r->n_points; i++) {
		const struct pce_route_point *pt = &r->points[i];
		char busiest[32];

		snprintf(busiest, sizeof(busiest), "%u (%.1f%%)", pt->busiest,
			 100 * pce_route_busiest_share(pt));
		printf("  %-12s %8.2f%% %9.2f %9.2f %16s %8.2f / %6.2f / %7.2f\n",
		       pce_route_policy_name(pt->policy), 100 * pce_replay_token_ratio(&pt->window),
		       over_mean(s, pt->max_requests, pt->window.requests),
		       over_mean(s, pt->max_tokens, pt->window.tokens), busiest,
		       pt->match_ns[0] / 1e3, pt->match_ns[1] / 1e3, pt->match_ns[2] / 1e3);
	}
	printf("  %-12s %8.2f%%\n", "unlimited", 100 * pce_replay_token_ratio(&r->unlimited));
	for (size_t i = 0; i < r->n_points; i++) {
		const struct pce_route_point *pt = &r->points[i];

		if (!pce_route_collapsed(pt, s->ro.workers))
			continue;
		printf("\nWarning: %s collapsed: it sent %.1f%% of the requests to worker %u (fair "
		       "share %.1f%%)", pce_route_policy_name(pt->policy),
		       100 * pce_route_busiest_share(pt), pt->busiest, 100.0 / s->ro.workers);
		if (rr && pt != rr &&
		    pce_replay_token_ratio(&pt->window) < pce_replay_token_ratio(&rr->window))
			printf(", and hits less than rr (%.2f%% against %.2f%%)",
			       100 * pce_replay_token_ratio(&pt->window),
			       100 * pce_replay_token_ratio(&rr->window));
		printf(".\n");
	}
}

static cJSON *json_routes(const struct sim *s)
{
	const struct pce_route_result *r = &s->routes;
	cJSON *o = cJSON_CreateObject(), *w, *pl, *arr;

	json_head(o, s, r->requests, r->window_start, s->ro.warmup_fraction, &r->unlimited);
	w = cJSON_AddObjectToObject(o, "workers");
	cli_json_u64(w, "count", s->ro.workers);
	json_capacity(w, s, s->ro.capacity);
	cli_json_string(w, "eviction_policy", policy_name(s->ro.eviction));
	pl = cJSON_AddObjectToObject(o, "prefix_load");
	cJSON_AddNumberToObject(pl, "cache_threshold", s->ro.cache_threshold);
	cli_json_u64(pl, "balance_abs", s->ro.balance_abs);
	cJSON_AddNumberToObject(pl, "balance_rel", s->ro.balance_rel);
	cli_json_u64(o, "in_flight", s->ro.in_flight);
	if (s->ro.top_k && s->ro.top_k < s->ro.workers)
		cli_json_u64(o, "top_k", s->ro.top_k);
	else
		cJSON_AddNullToObject(o, "top_k");
	arr = cJSON_AddArrayToObject(o, "routing");
	for (size_t i = 0; i < r->n_points; i++) {
		const struct pce_route_point *pt = &r->points[i];
		cJSON *e = cJSON_CreateObject(), *m, *wr, *wt;

		cli_json_string(e, "policy", pce_route_policy_name(pt->policy));
		cJSON_AddNumberToObject(e, "hit_ratio", pce_replay_token_ratio(&pt->window));
		cJSON_AddNumberToObject(e, "block_hit_ratio", pce_replay_id_ratio(&pt->window));
		cli_json_u64(e, "hit_tokens", pt->window.hit_tokens);
		cJSON_AddNumberToObject(e, "requests_max_over_mean",
					over_mean(s, pt->max_requests, pt->window.requests));
		cJSON_AddNumberToObject(e, "tokens_max_over_mean",
					over_mean(s, pt->max_tokens, pt->window.tokens));
		cli_json_u64(e, "busiest_worker", pt->busiest);
		cJSON_AddNumberToObject(e, "busiest_share", pce_route_busiest_share(pt));
		cJSON_AddBoolToObject(e, "collapsed", pce_route_collapsed(pt, s->ro.workers));
		cli_json_u64(e, "balanced_requests", pt->balanced);
		cli_json_u64(e, "evictions", pt->evictions);
		cli_json_u64(e, "router_adds", pt->router_adds);
		cli_json_u64(e, "router_removes", pt->router_removes);
		m = cJSON_AddObjectToObject(e, "match_ns");
		cli_json_u64(m, "p50", pt->match_ns[0]);
		cli_json_u64(m, "p99", pt->match_ns[1]);
		cli_json_u64(m, "p999", pt->match_ns[2]);
		wr = cJSON_AddArrayToObject(e, "worker_requests");
		wt = cJSON_AddArrayToObject(e, "worker_tokens");
		for (uint32_t k = 0; k < s->ro.workers; k++) {
			cJSON_AddItemToArray(wr, cJSON_CreateNumber((double)pt->requests[k]));
			cJSON_AddItemToArray(wt, cJSON_CreateNumber((double)pt->tokens[k]));
		}
		cJSON_AddItemToArray(arr, e);
	}
	cJSON_AddNumberToObject(o, "seconds", s->seconds);
	return o;
}

static int by_count_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x > y ? -1 : x < y;
}

/* The chart: per policy, each worker's share of the counted requests,
 * busiest first, against the fair share. */
static int write_route_svg(const struct sim *s, struct cli_output *o)
{
	const struct pce_route_result *r = &s->routes;
	uint32_t W = s->ro.workers;
	double *x = calloc(W, sizeof(*x)), *y = calloc((size_t)W * r->n_points, sizeof(*y));
	struct pce_svg_series series[PCE_ROUTE_POLICIES];
	char names[PCE_ROUTE_POLICIES][64], fair[64], subtitle[320];
	struct pce_svg_line line;
	struct pce_svg_chart chart;
	size_t len;
	FILE *f;
	int rc;

	if (!x || !y) {
		free(x);
		free(y);
		cli_output_discard(o);
		cli_error("simulate", "out of memory");
		return CLI_FAILURE;
	}
	for (uint32_t k = 0; k < W; k++)
		x[k] = k + 1;
	for (size_t i = 0; i < r->n_points; i++) {
		const struct pce_route_point *pt = &r->points[i];
		double *yi = y + i * W;

		for (uint32_t k = 0; k < W; k++)
			yi[k] = pt->window.requests
					? (double)pt->requests[k] / (double)pt->window.requests
					: 0;
		qsort(yi, W, sizeof(*yi), by_count_desc);
		snprintf(names[i], sizeof(names[i]), "%s%s", pce_route_policy_name(pt->policy),
			 pce_route_collapsed(pt, W) ? " (collapsed)" : "");
		series[i] = (struct pce_svg_series){names[i], x, yi, W};
	}
	snprintf(fair, sizeof(fair), "fair share: %.1f%%", 100.0 / W);
	line = (struct pce_svg_line){1.0 / W, fair, PCE_SVG_HORIZONTAL};
	len = chart_subtitle(s, r->requests - r->window_start, subtitle, sizeof(subtitle));
	if (len < sizeof(subtitle))
		snprintf(subtitle + len, sizeof(subtitle) - len, ", %u workers", W);
	chart = (struct pce_svg_chart){
		.title = "Requests per worker by routing policy (libpce router)",
		.subtitle = subtitle,
		.x_label = "workers, busiest first",
		.y_label = "share of the counted requests",
		.x_format = PCE_SVG_NUMBER,
		.y_format = PCE_SVG_PERCENT,
		.y_fixed = 1, /* shares: 0 to 100%, not rounded out past it */
		.y_min = 0,
		.y_max = 1,
		.series = series,
		.n_series = r->n_points,
		.lines = &line,
		.n_lines = 1,
		.legend = PCE_SVG_AUTO};
	f = cli_output_begin("simulate", o);
	rc = f ? cli_output_end("simulate", o, f, pce_svg_write(f, &chart) != 0) : CLI_FAILURE;
	free(x);
	free(y);
	return rc;
}

/* --workers: run the routing passes over the opened trace and report. */
static int simulate_routes(struct sim *s, struct cli_input *in, struct cli_progress *bar,
			   const char *svg, struct cli_output *chart)
{
	int rc, svg_rc;

	s->ro.warmup_fraction = in->warmup_fraction;
	s->ro.progress = cli_progress_cb;
	s->ro.ctx = bar;
	rc = pce_route_run(s->tr, &s->ro, &s->routes);
	cli_progress_done(bar);
	s->seconds = cli_seconds() - s->seconds;
	rc = cli_pass_status("simulate", s->tr, rc, s->routes.error, s->routes.requests);
	if (rc)
		return rc;
	svg_rc = svg ? write_route_svg(s, chart) : CLI_OK;
	if (in->json) {
		rc = cli_print_json("simulate", json_routes(s));
	} else {
		print_routes(s);
		rc = cli_flush("simulate");
	}
	return rc ? rc : svg_rc;
}

int cmd_simulate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"capacity", required_argument, NULL, 'c'},
		{"policy", required_argument, NULL, 'p'},
		{"target", required_argument, NULL, 't'},
		{"kv-bytes-per-token", required_argument, NULL, OPT_KV_BYTES},
		{"svg", required_argument, NULL, OPT_SVG},
		{"workers", required_argument, NULL, OPT_WORKERS},
		{"worker-capacity", required_argument, NULL, OPT_WORKER_CAPACITY},
		{"routing", required_argument, NULL, OPT_ROUTING},
		{"cache-threshold", required_argument, NULL, OPT_CACHE_THRESHOLD},
		{"balance-abs", required_argument, NULL, OPT_BALANCE_ABS},
		{"balance-rel", required_argument, NULL, OPT_BALANCE_REL},
		{"in-flight", required_argument, NULL, OPT_IN_FLIGHT},
		{"top-k", required_argument, NULL, OPT_TOP_K},
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
	const char *svg = NULL, *policy_opt = NULL;
	uint64_t v;
	int opt, li = 0, rc, svg_rc;

	pce_route_opts_init(&s.ro);
	s.ro.workers = 0; /* not routing until --workers */
	s.ro.policies = s.routing;
	for (size_t i = 0; i < s.ro.n_policies; i++)
		s.routing[i] = (enum pce_route_policy)i;
	s.pol[0] = PCE_POLICY_CLOCK_LRU;
	s.pol[1] = PCE_POLICY_CLOCK_LFU;
	s.opts.policies = s.pol;
	s.opts.n_policies = 2;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:p:t:f:b:w:h", longopts, &li)) != -1) {
		/* The options after --workers in the enum only mean something
		 * with it: remember the first one given, for the usage error. */
		if (opt > OPT_WORKERS && opt <= OPT_TOP_K && !s.routing_opt)
			s.routing_opt = longopts[li].name;
		rc = cli_input_option("simulate", &in, opt, optarg);
		if (rc < 0)
			return -rc;
		if (rc)
			continue;
		switch (opt) {
		case 'c':
			s.sweep_opt = s.sweep_opt ? s.sweep_opt : "--capacity";
			if (parse_capacities(&s, optarg))
				return CLI_BADINPUT;
			break;
		case 'p':
			policy_opt = optarg;
			if (parse_policies(&s, optarg))
				return CLI_BADINPUT;
			break;
		case 't':
			s.sweep_opt = s.sweep_opt ? s.sweep_opt : "--target";
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
		case OPT_WORKERS:
			if (cli_count("simulate", "--workers", optarg, 1, PCE_ROUTE_MAX_WORKERS, &v))
				return CLI_BADINPUT;
			s.ro.workers = (uint32_t)v;
			break;
		case OPT_WORKER_CAPACITY:
			if (cli_count("simulate", "--worker-capacity", optarg, 1, (uint64_t)1 << 50,
				      &s.ro.capacity))
				return CLI_BADINPUT;
			break;
		case OPT_ROUTING:
			if (parse_routing(&s, optarg))
				return CLI_BADINPUT;
			break;
		case OPT_CACHE_THRESHOLD:
			if (cli_fraction("simulate", "--cache-threshold", optarg, 0, 1, 1,
					 &s.ro.cache_threshold))
				return CLI_BADINPUT;
			break;
		case OPT_BALANCE_ABS:
			if (cli_count("simulate", "--balance-abs", optarg, 0, (uint64_t)1 << 40,
				      &s.ro.balance_abs))
				return CLI_BADINPUT;
			break;
		case OPT_BALANCE_REL:
			if (cli_fraction("simulate", "--balance-rel", optarg, 1, 1e9, 0,
					 &s.ro.balance_rel))
				return CLI_BADINPUT;
			break;
		case OPT_IN_FLIGHT:
			if (cli_count("simulate", "--in-flight", optarg, 1, (uint64_t)1 << 24,
				      &s.ro.in_flight))
				return CLI_BADINPUT;
			break;
		case OPT_TOP_K:
			if (cli_count("simulate", "--top-k", optarg, 1, PCE_ROUTE_MAX_WORKERS, &v))
				return CLI_BADINPUT;
			s.ro.top_k = (uint32_t)v;
			break;
		default:
			return cli_other_option("simulate", opt, usage, argv);
		}
	}
	if (!s.ro.workers && s.routing_opt)
		return cli_usage("simulate", "--%s: only with --workers", s.routing_opt);
	if (s.ro.workers && s.sweep_opt)
		return cli_usage("simulate", "%s: not with --workers", s.sweep_opt);
	if (s.ro.workers && !s.ro.capacity)
		return cli_usage("simulate", "--workers: give each worker's --worker-capacity");
	if (s.ro.workers && policy_opt && s.opts.n_policies != 1)
		return cli_usage("simulate", "--policy: one policy with --workers");
	s.ro.eviction = s.pol[0];
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
	if (s.ro.workers) {
		rc = simulate_routes(&s, &in, &bar, svg, &chart);
		goto out;
	}
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
	pce_route_free(&s.routes);
	pce_trace_close(s.tr);
	return rc;
}
