/*
 * cmd_snapshot.c - `pce snapshot`: look at libpce snapshot files
 * (pce/snapshot.h) without loading them.
 *
 * `pce snapshot inspect FILE` reads the whole file and checks it as a
 * restore would (every checksum, the tries' structure, the totals), then
 * prints what it holds: kind, format version, block size and shards of the
 * index written, sizes, counts and the caller sections.  Writing snapshots
 * belongs to the programs that own an index (a cache in an engine, a router
 * in a gateway), so the tool only reads them.
 */
#include <getopt.h>
#include <string.h>
#include <time.h>

#include <pce/pce.h>

#include "cli.h"
#include "commands.h"

static const char usage[] =
	"Usage: pce snapshot inspect [--json] FILE\n"
	"\n"
	"Check a libpce snapshot file (a cache or router index written by\n"
	"pce_cache_snapshot_write() or pce_router_snapshot_write()) as a restore would\n"
	"- every checksum, the structure of the index, the totals - without loading\n"
	"it, and print what it holds: kind, format version, the block size and shard\n"
	"count of the index written, when it was written, its size, the namespaces,\n"
	"trie nodes and tokens, the records (cache entries, or router owner records:\n"
	"an owner holding a trie node's path), and each caller section's name and size.\n"
	"A refused file is reported with the reason.\n"
	"\n"
	"Options:\n"
	"      --json          print one JSON object: file, intact (true/false), error\n"
	"                      (when refused), kind (\"cache\"/\"router\"), version,\n"
	"                      block_size, shards, written_at_ns, file_bytes,\n"
	"                      index_bytes, namespaces, nodes, tokens, records,\n"
	"                      sections [{name, bytes}]\n"
	"  -h, --help          show this help\n"
	"\n"
	"Exit status: 0 the file is intact; 1 internal failure; 2 bad usage, a file\n"
	"that cannot be read, or a file that a restore would refuse.\n";

#define MAX_LISTED 256

struct listing {
	size_t n;
	char name[MAX_LISTED][PCE_SNAPSHOT_NAME_MAX + 1];
	size_t bytes[MAX_LISTED];
};

static int list_section(void *ctx, const char *name, const void *data, size_t len)
{
	struct listing *l = ctx;

	(void)data;
	if (l->n < MAX_LISTED) {
		snprintf(l->name[l->n], sizeof l->name[0], "%s", name);
		l->bytes[l->n] = len;
	}
	l->n++;
	return 0;
}

static const char *kind_name(uint32_t kind)
{
	return kind == PCE_SNAPSHOT_CACHE ? "cache" : kind == PCE_SNAPSHOT_ROUTER ? "router" : "unknown";
}

static int print_json(const char *path, const struct pce_snapshot_info *in,
		      const struct listing *l, int rc)
{
	cJSON *o = cJSON_CreateObject(), *arr;

	if (!o)
		return CLI_FAILURE;
	cli_json_string(o, "command", "snapshot inspect");
	cli_json_string(o, "file", path);
	cJSON_AddBoolToObject(o, "intact", rc == 0);
	if (rc)
		cli_json_string(o, "error", in->error[0] ? in->error : pce_strerror(rc));
	cli_json_string(o, "kind", kind_name(in->kind));
	cli_json_u64(o, "version", in->version);
	cli_json_u64(o, "block_size", in->block_size);
	cli_json_u64(o, "shards", in->shards);
	cli_json_u64(o, "written_at_ns", in->written_at_ns);
	cli_json_u64(o, "file_bytes", in->file_bytes);
	cli_json_u64(o, "index_bytes", in->index_bytes);
	cli_json_u64(o, "namespaces", in->namespaces);
	cli_json_u64(o, "nodes", in->nodes);
	cli_json_u64(o, "tokens", in->tokens);
	cli_json_u64(o, "records", in->records);
	arr = cJSON_AddArrayToObject(o, "sections");
	for (size_t i = 0; arr && i < l->n && i < MAX_LISTED; i++) {
		cJSON *s = cJSON_CreateObject();
		if (!s)
			break;
		cli_json_string(s, "name", l->name[i]);
		cli_json_u64(s, "bytes", l->bytes[i]);
		cJSON_AddItemToArray(arr, s);
	}
	rc = cli_print_json("snapshot", o);
	return rc;
}

static void print_table(const char *path, const struct pce_snapshot_info *in,
			const struct listing *l)
{
	char name[512], a[32], b[32], c[32], when[64] = "?";
	time_t secs = (time_t)(in->written_at_ns / 1000000000u);
	struct tm tm;

	if (gmtime_r(&secs, &tm))
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("file        %s\n", cli_text(name, sizeof name, path));
	printf("kind        %s index, format version %u\n", kind_name(in->kind), in->version);
	printf("index       block size %u, %u shards, written %s\n", in->block_size, in->shards,
	       when);
	printf("size        %s (index %s, caller sections %s)\n", cli_bytes((double)in->file_bytes, a),
	       cli_bytes((double)in->index_bytes, b), cli_bytes((double)in->section_bytes, c));
	printf("contents    %s namespace tries, %s nodes, %s tokens, ", cli_group(in->namespaces, a),
	       cli_group(in->nodes, b), cli_group(in->tokens, c));
	printf("%s %s\n", cli_group(in->records, a),
	       in->kind == PCE_SNAPSHOT_CACHE ? "entries" : "owner records");
	printf("sections    %llu\n", (unsigned long long)in->sections);
	for (size_t i = 0; i < l->n && i < MAX_LISTED; i++)
		printf("  %-40s %s\n", cli_text(name, sizeof name, l->name[i]),
		       cli_bytes((double)l->bytes[i], a));
	printf("checksums   ok\n");
}

int cmd_snapshot(int argc, char **argv)
{
	static const struct option longopts[] = {{"json", no_argument, NULL, CLI_OPT_JSON},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	static struct listing l;
	struct pce_snapshot_info info;
	int opt, json = 0, rc;
	const char *path;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(usage, stdout);
		return cli_flush("snapshot");
	}
	if (argc < 2 || strcmp(argv[1], "inspect") != 0)
		return cli_usage("snapshot", argc < 2 ? "missing subcommand (inspect)"
						      : "unknown subcommand '%s'", argv[1]);
	argc--;
	argv++;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case CLI_OPT_JSON:
			json = 1;
			break;
		default:
			return cli_other_option("snapshot", opt, usage, argv);
		}
	}
	if (optind != argc - 1)
		return cli_usage("snapshot", optind == argc ? "missing FILE" : "one FILE only");
	path = argv[optind];
	if (cli_stdout_check("snapshot"))
		return CLI_FAILURE;
	l.n = 0;
	rc = pce_snapshot_inspect(path, &info, list_section, &l);
	if (rc == PCE_ENOMEM) {
		cli_error("snapshot", "out of memory");
		return CLI_FAILURE;
	}
	if (rc && rc != PCE_EBADSNAP) {
		cli_error("snapshot", "%s: %s", path, rc < 0 && -rc < 4096 ? strerror(-rc)
									: pce_strerror(rc));
		return CLI_BADINPUT;
	}
	if (json) {
		int st = print_json(path, &info, &l, rc);
		return st ? st : rc ? CLI_BADINPUT : CLI_OK;
	}
	if (rc) {
		cli_error("snapshot", "%s: refused: %s", path, info.error);
		return CLI_BADINPUT;
	}
	print_table(path, &info, &l);
	return cli_flush("snapshot");
}
