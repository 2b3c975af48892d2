/*
 * pce.c - the pce command: dispatch to a subcommand, top-level help and
 * version.
 */
#include <stdio.h>
#include <string.h>

#include <pce/pce.h>

#include "cli.h"
#include "commands.h"

static const char usage[] =
	"Usage: pce COMMAND [OPTION]... [INPUT]...\n"
	"\n"
	"pce measures how much of an LLM workload is a shared prompt prefix, and what a\n"
	"prefix cache of a given size and eviction policy would save.  It replays the\n"
	"workload through libpce itself, so what it predicts is what the library does.\n"
	"\n"
	"Commands:\n"
	"  analyze INPUT...    prefix reuse with an unlimited cache: token- and\n"
	"                      block-weighted hit ratios, batch dedup, the most shared\n"
	"                      prefixes, per-namespace figures\n"
	"  simulate INPUT...   hit ratio by capacity and policy (CLOCK-LRU, CLOCK-LFU)\n"
	"                      through real libpce caches, and the capacity to provision;\n"
	"                      with --workers, what cache-aware routing over W workers\n"
	"                      buys, through a libpce router index\n"
	"  bench               libpce's throughput on this machine: the quick preset of\n"
	"                      the benchmark suite, or a short built-in check\n"
	"  events watch ENDPOINT...\n"
	"                      subscribe to engines' KV events (vLLM's wire) into a\n"
	"                      router index and print, live, per worker: events/s,\n"
	"                      blocks held, state, and the hit ratio the router\n"
	"                      would predict\n"
	"  snapshot inspect FILE\n"
	"                      check a libpce snapshot file (a cache or router index)\n"
	"                      and print what it holds\n"
	"  cluster demo INPUT...\n"
	"                      two processes share a cache through Redis (the cluster\n"
	"                      tier): node B finds node A's prefixes; needs pce built\n"
	"                      with the cluster tier\n"
	"  help [COMMAND]      this text, or the manual of COMMAND\n"
	"\n"
	"Options:\n"
	"  -h, --help          show this help\n"
	"  -V, --version       show the versions of pce and of the libpce it runs on\n"
	"\n"
	"Inputs: tokens (JSONL of token ids), mooncake (Mooncake block-hash traces),\n"
	"kvtester (Claude Code session traces, one file per session), text (one prompt\n"
	"per line); gzip-compressed files are read as they are.  See 'pce analyze\n"
	"--help'.\n"
	"\n"
	"Exit status: 0 done; 1 internal failure; 2 bad usage, or an input that cannot\n"
	"be read or is malformed.\n"
	"\n"
	"Examples:\n"
	"  pce analyze data/mooncake_conversation_1000.jsonl\n"
	"  pce simulate data/mooncake_conversation_1000.jsonl --svg hit-ratio.svg\n"
	"  pce events watch owner=0,pub=tcp://10.0.0.5:5557,replay=tcp://10.0.0.5:5558\n";

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{"analyze", cmd_analyze},
	{"simulate", cmd_simulate},
	{"bench", cmd_bench},
	{"events", cmd_events},
	{"snapshot", cmd_snapshot},
	{"cluster", cmd_cluster},
};

static int find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(name, commands[i].name) == 0)
			return (int)i;
	}
	return -1;
}

static int unknown(const char *name)
{
	fprintf(stderr, "pce: unknown command '%s'\nTry 'pce --help'.\n", name);
	return CLI_BADINPUT;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	int i;

	if (!cmd || !strcmp(cmd, "-h") || !strcmp(cmd, "--help") ||
	    (!strcmp(cmd, "help") && argc == 2)) {
		fputs(usage, cmd ? stdout : stderr);
		return cmd ? CLI_OK : CLI_BADINPUT;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("pce %s (libpce %s)\n", PCE_VERSION_STRING, pce_version_string());
		return CLI_OK;
	}
	if (!strcmp(cmd, "help")) {
		char *help[] = {argv[2], "--help", NULL};

		i = find(argv[2]);
		return i < 0 ? unknown(argv[2]) : commands[i].run(2, help);
	}
	i = find(cmd);
	return i < 0 ? unknown(cmd) : commands[i].run(argc - 1, argv + 1);
}
