/*
 * cmd_bench.c - `pce bench`: the quick preset of the benchmark suite when
 * its program (pce_bench, bench/ in the source tree) is at hand, otherwise
 * a short built-in lookup and store throughput check of libpce.
 *
 * Finding the suite: $PCE_BENCH; else pce_bench in ../bench/ beside this
 * program (the build tree's layout); else pce_bench on the PATH.  It is
 * run with exec, so its output and exit status are the command's.
 *
 * The built-in check (synthetic, chat-like): 64 system prompts of 1,024
 * tokens; `entries` stored sequences, each a system prompt plus 256 tokens
 * of its own.  A lookup query is a stored sequence cut at a random point
 * plus 64 new tokens, so every lookup hits and walks about 1,100 tokens.
 *   1. store: one thread stores every entry into an empty cache;
 *   2. lookup: 1 thread, then N threads, look up for `seconds` each.
 * The cache is libpce's default configuration (16 shards, reclaim thread)
 * without a budget, so nothing is evicted.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pce/pce.h>

#include "cli.h"
#include "commands.h"

static const char usage[] =
	"Usage: pce bench [-- SUITE-OPTION...]\n"
	"       pce bench --builtin [OPTION]...\n"
	"\n"
	"Measure libpce's throughput on this machine.\n"
	"\n"
	"The first form runs the quick preset of the benchmark suite, pce_bench (bench/\n"
	"in the source tree: libpce against a rwlock trie and a block-hash index, with\n"
	"latency percentiles and memory; about two minutes), passing it SUITE-OPTIONs\n"
	"(see pce_bench --help).  It looks for the program in $PCE_BENCH, then beside\n"
	"this one in a build tree (../bench/pce_bench), then on the PATH.  If there is\n"
	"none, or with --builtin, it runs a short built-in check instead: a few seconds,\n"
	"to see that the library performs as expected here.\n"
	"\n"
	"Built-in check.  64 system prompts of 1,024 tokens; ENTRIES stored sequences,\n"
	"each a system prompt plus 256 tokens of its own.  A lookup query is a stored\n"
	"sequence cut at a random point plus 64 new tokens, so every lookup hits and\n"
	"walks about 1,100 tokens.  First one thread stores every entry into an empty\n"
	"cache (libpce defaults: 16 shards, a reclaim thread, no budget), then 1\n"
	"thread, and then THREADS threads, look up for SECONDS each.  Threads are not\n"
	"pinned; on a busy machine the figures are low and noisy (it says so).\n"
	"\n"
	"Options (each one selects the built-in check):\n"
	"      --builtin       run the built-in check even if the suite is at hand\n"
	"  -s, --seconds S     seconds per lookup run (default 1)\n"
	"  -t, --threads N     threads of the second lookup run (default: the number of\n"
	"                      online CPUs; 1 skips it)\n"
	"  -e, --entries N     stored sequences (default 20k)\n"
	"      --json          print one JSON object\n"
	"  -h, --help          show this help\n"
	"\n"
	"Output of the built-in check: stores per second, and lookups per second with\n"
	"the mean time of one lookup per thread and the tokens it matched.  JSON\n"
	"fields: entries, tokens_per_entry, store {ops, seconds, ops_per_second},\n"
	"lookup [{threads, ops, seconds, ops_per_second, tokens_per_lookup}].\n"
	"\n"
	"Exit status: that of pce_bench; for the built-in check 0 done, 1 a libpce\n"
	"failure, 2 bad usage.\n";

#define PROMPTS 64
#define PROMPT_TOKENS 1024
#define OWN_TOKENS 256
#define TAIL_TOKENS 64
#define ENTRY_TOKENS (PROMPT_TOKENS + OWN_TOKENS)
#define QUERIES 1024 /* pre-built queries per thread, used in turn */

enum { OPT_BUILTIN = CLI_OPT_FIRST_FREE };

struct worker {
	pthread_t thread;
	struct pce_cache *cache;
	uint32_t *queries;       /* QUERIES x (ENTRY_TOKENS + TAIL_TOKENS) */
	size_t *lens;
	const int *stop, *go;
	int *ready;
	uint64_t ops, tokens;
	int rc;
};

static uint64_t next_random(uint64_t *s)
{
	/* xorshift64* (Vigna): fast, and plenty for picking tokens. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Entry @i: system prompt i % PROMPTS, then its own tokens. */
static void entry_tokens(const uint32_t *prompts, uint64_t i, uint32_t *out)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL * (i + 1);

	memcpy(out, prompts + (i % PROMPTS) * PROMPT_TOKENS, PROMPT_TOKENS * sizeof(*out));
	for (size_t k = 0; k < OWN_TOKENS; k++)
		out[PROMPT_TOKENS + k] = (uint32_t)next_random(&s) & 0x7fffffffu; /* tails set bit 31 */
}

static void *lookup_loop(void *arg)
{
	struct worker *w = arg;
	struct pce_match m;
	size_t q = 0;

	/* The start gate: the clock starts once every thread is here. */
	__atomic_add_fetch(w->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(w->go, __ATOMIC_ACQUIRE))
		sched_yield();
	do {
		const uint32_t *tokens = w->queries + q * (ENTRY_TOKENS + TAIL_TOKENS);
		int rc = pce_cache_lookup(w->cache, 0, tokens, w->lens[q], NULL, &m);

		if (rc) {
			w->rc = rc;
			break;
		}
		w->ops++;
		w->tokens += m.tokens;
		q = (q + 1) % QUERIES;
	} while (!__atomic_load_n(w->stop, __ATOMIC_RELAXED));
	return NULL;
}

/* Lookups from @n threads for @seconds; fills ops and seconds. */
static int lookup_run(struct pce_cache *cache, const uint32_t *prompts, uint64_t entries,
		      int n, double seconds, uint64_t *ops, uint64_t *tokens, double *elapsed)
{
	struct worker *w = calloc((size_t)n, sizeof(*w));
	int stop = 0, go = 0, ready = 0, rc = 0, started = 0;
	double t0;

	if (!w)
		return PCE_ENOMEM;
	for (int i = 0; i < n && !rc; i++) {
		uint64_t s = 12345 + (uint64_t)i;

		w[i].cache = cache;
		w[i].stop = &stop;
		w[i].go = &go;
		w[i].ready = &ready;
		w[i].queries = malloc(QUERIES * (ENTRY_TOKENS + TAIL_TOKENS) * sizeof(uint32_t));
		w[i].lens = malloc(QUERIES * sizeof(size_t));
		if (!w[i].queries || !w[i].lens) {
			rc = PCE_ENOMEM;
			break;
		}
		for (size_t q = 0; q < QUERIES; q++) {
			uint32_t *t = w[i].queries + q * (ENTRY_TOKENS + TAIL_TOKENS);
			size_t cut = PROMPT_TOKENS + next_random(&s) % (OWN_TOKENS + 1);

			entry_tokens(prompts, next_random(&s) % entries, t);
			for (size_t k = 0; k < TAIL_TOKENS; k++)
				t[cut + k] = (uint32_t)next_random(&s) | 1u << 31;
			w[i].lens[q] = cut + TAIL_TOKENS;
		}
	}
	for (int i = 0; i < n && !rc; i++) {
		if (pthread_create(&w[i].thread, NULL, lookup_loop, &w[i]) != 0)
			rc = PCE_ETHREAD;
		else
			started++;
	}
	while (__atomic_load_n(&ready, __ATOMIC_ACQUIRE) < started)
		usleep(1000);
	t0 = cli_seconds();
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	while (!rc && cli_seconds() - t0 < seconds)
		usleep(10000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	*ops = *tokens = 0;
	for (int i = 0; i < started; i++) {
		pthread_join(w[i].thread, NULL);
		*ops += w[i].ops;
		*tokens += w[i].tokens;
		rc = rc ? rc : w[i].rc;
	}
	*elapsed = cli_seconds() - t0;
	for (int i = 0; i < n; i++) {
		free(w[i].queries);
		free(w[i].lens);
	}
	free(w);
	return rc;
}

/* Exec the suite's quick preset with @argc/@argv (the SUITE-OPTIONs);
 * returns only if there is no suite to run. */
static int run_suite(int argc, char **argv)
{
	char self[PATH_MAX], sibling[PATH_MAX + 32];
	const char *env = getenv("PCE_BENCH"), *prog = NULL;
	char **args = calloc((size_t)argc + 4, sizeof(*args));
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (!args)
		return -1;
	if (env && *env) {
		prog = env;
	} else if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(sibling, sizeof(sibling), "%s/../bench/pce_bench", self);
			if (access(sibling, X_OK) == 0)
				prog = sibling;
		}
	}
	args[0] = "pce_bench";
	args[1] = "--preset";
	args[2] = "quick";
	memcpy(args + 3, argv, (size_t)argc * sizeof(*argv));
	fflush(stdout);
	if (prog)
		execv(prog, args);
	else
		execvp("pce_bench", args);
	if (prog) {
		cli_error("bench", "cannot run %s: %s", prog, strerror(errno));
		free(args);
		return CLI_FAILURE;
	}
	free(args);
	return -1;
}

int cmd_bench(int argc, char **argv)
{
	static const struct option longopts[] = {{"builtin", no_argument, NULL, OPT_BUILTIN},
						 {"seconds", required_argument, NULL, 's'},
						 {"threads", required_argument, NULL, 't'},
						 {"entries", required_argument, NULL, 'e'},
						 {"json", no_argument, NULL, CLI_OPT_JSON},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t threads = cpus > 0 ? (uint64_t)cpus : 1, entries = 20000;
	double seconds = 1, t_store = 0;
	uint32_t *prompts = NULL, *tok = NULL;
	struct pce_cache *cache = NULL;
	struct pce_config cfg;
	uint64_t s = 42, ops[2] = {0, 0}, toks[2] = {0, 0};
	double el[2] = {0, 0}, load;
	int opt, json = 0, rc, runs, builtin = 0;
	char g1[32], g2[32];

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":s:t:e:h", longopts, NULL)) != -1) {
		builtin = 1;
		switch (opt) {
		case OPT_BUILTIN:
			break;
		case 's':
			if (cli_fraction("bench", "--seconds", optarg, 0.01, 600, 0, &seconds))
				return CLI_BADINPUT;
			break;
		case 't':
			if (cli_count("bench", "--threads", optarg, 1, 1024, &threads))
				return CLI_BADINPUT;
			break;
		case 'e':
			if (cli_count("bench", "--entries", optarg, 1, 10000000, &entries))
				return CLI_BADINPUT;
			break;
		case CLI_OPT_JSON:
			json = 1;
			break;
		default:
			return cli_other_option("bench", opt, usage, argv);
		}
	}
	if (optind < argc && (builtin || strcmp(argv[optind - 1], "--") != 0))
		return cli_usage("bench", "takes no input ('%s'); pass options to the suite "
					  "after --",
				 argv[optind]);
	if (!builtin) {
		rc = run_suite(argc - optind, argv + optind);
		if (rc >= 0)
			return rc;
		fprintf(stderr, "pce bench: the benchmark suite (pce_bench) is not at hand: "
				"running the built-in check\n");
	}
	rc = cli_stdout_check("bench");
	if (rc)
		return rc;
	runs = threads > 1 ? 2 : 1;

	prompts = malloc(PROMPTS * PROMPT_TOKENS * sizeof(*prompts));
	tok = malloc(ENTRY_TOKENS * sizeof(*tok));
	pce_config_init(&cfg);
	rc = prompts && tok ? pce_cache_create(&cfg, &cache) : PCE_ENOMEM;
	if (rc)
		goto out;
	for (size_t i = 0; i < PROMPTS * PROMPT_TOKENS; i++)
		prompts[i] = (uint32_t)next_random(&s);
	t_store = cli_seconds();
	for (uint64_t i = 0; i < entries && !rc; i++) {
		entry_tokens(prompts, i, tok);
		rc = pce_cache_store(cache, 0, tok, ENTRY_TOKENS, i, 0, NULL, NULL);
	}
	t_store = cli_seconds() - t_store;
	for (int r = 0; r < runs && !rc; r++)
		rc = lookup_run(cache, prompts, entries, r ? (int)threads : 1, seconds, &ops[r],
				&toks[r], &el[r]);
out:
	pce_cache_destroy(cache);
	free(prompts);
	free(tok);
	if (rc) {
		cli_error("bench", "libpce: %s", pce_strerror(rc));
		return CLI_FAILURE;
	}
	if (json) {
		cJSON *o = cJSON_CreateObject(), *st, *lk;

		cli_json_string(o, "command", "bench");
		cli_json_string(o, "version", pce_version_string());
		cli_json_u64(o, "entries", entries);
		cli_json_u64(o, "tokens_per_entry", ENTRY_TOKENS);
		st = cJSON_AddObjectToObject(o, "store");
		cli_json_u64(st, "ops", entries);
		cJSON_AddNumberToObject(st, "seconds", t_store);
		cJSON_AddNumberToObject(st, "ops_per_second", (double)entries / t_store);
		lk = cJSON_AddArrayToObject(o, "lookup");
		for (int r = 0; r < runs; r++) {
			cJSON *e = cJSON_CreateObject();

			cli_json_u64(e, "threads", r ? threads : 1);
			cli_json_u64(e, "ops", ops[r]);
			cJSON_AddNumberToObject(e, "seconds", el[r]);
			cJSON_AddNumberToObject(e, "ops_per_second", (double)ops[r] / el[r]);
			cJSON_AddNumberToObject(e, "tokens_per_lookup",
						ops[r] ? (double)toks[r] / (double)ops[r] : 0);
			cJSON_AddItemToArray(lk, e);
		}
		return cli_print_json("bench", o);
	}
	printf("pce bench: libpce %s, %ld online CPUs (a quick check, not the benchmark suite)\n",
	       pce_version_string(), cpus);
	if (getloadavg(&load, 1) == 1 && load > (double)cpus)
		printf("  note: the machine is busy (load %.1f on %ld CPUs): expect low and noisy "
		       "figures\n",
		       load, cpus);
	printf("  store    1 thread    %12s stores/s   %8.2f us each  (%s entries of %d tokens)\n",
	       cli_group((uint64_t)((double)entries / t_store), g1), 1e6 * t_store / (double)entries,
	       cli_group(entries, g2), ENTRY_TOKENS);
	for (int r = 0; r < runs; r++) {
		uint64_t n = r ? threads : 1;

		printf("  lookup   %2llu thread%s  %12s lookups/s  %8.0f ns each per thread  "
		       "(%.0f tokens matched)\n",
		       (unsigned long long)n, n > 1 ? "s" : " ",
		       cli_group((uint64_t)((double)ops[r] / el[r]), g1),
		       ops[r] ? 1e9 * el[r] * (double)n / (double)ops[r] : 0,
		       ops[r] ? (double)toks[r] / (double)ops[r] : 0);
	}
	return cli_flush("bench");
}
