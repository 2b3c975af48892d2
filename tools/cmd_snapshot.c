/*
 * cmd_snapshot.c - `pce snapshot`: look at libpce snapshot files
 * (pce/snapshot.h) without loading them.
 *
 * `pce snapshot inspect FILE` reads the whole file and checks it as a
 * restore would (every checksum, the tries' structure, the totals), then
 * prints what it holds: kind, format version, block size and shards of the
 * index written, sizes, counts and the caller sections.  Writing snapshots
 * belongs to the programs that own an index (a cache in an engine, a router
 * in a gateway), so the tool only reads them (`pce events watch --snapshot`
 * is such a program).
 *
 * A caller section holding a subscriber's state (pce_subscriber_export(),
 * recognised by its content, whatever its name) is shown too: per endpoint,
 * the last sequence number applied, the owners and their blocks.  That
 * needs libpce_events (PCE_TOOL_EVENTS); without it such a section is
 * listed like any other.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pce/pce.h>
#ifdef PCE_TOOL_EVENTS
#include <pce/events.h>
#endif

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
	"A section holding a KV-event subscriber's state (written by 'pce events watch\n"
	"--snapshot') also shows, per endpoint, the last sequence number applied, its\n"
	"owners and the blocks they hold.  A refused file is reported with the reason.\n"
	"\n"
	"Options:\n"
	"      --json          print one JSON object: file, intact (true/false), error\n"
	"                      (when refused), kind (\"cache\"/\"router\"), version,\n"
	"                      block_size, shards, written_at_ns, file_bytes,\n"
	"                      index_bytes, namespaces, nodes, tokens, records,\n"
	"                      sections [{name, bytes, and for a subscriber's state\n"
	"                      subscriber: [{endpoint, last_seq (null: none), owners,\n"
	"                      blocks}]}]\n"
	"  -h, --help          show this help\n"
	"\n"
	"Exit status: 0 the file is intact; 1 internal failure; 2 bad usage, a file\n"
	"that cannot be read, or a file that a restore would refuse.\n";

#define MAX_LISTED 256

/* A subscriber's endpoint as its exported state records it. */
struct sub_endpoint {
	int has_seq;
	uint64_t last_seq, owners, blocks;
};

struct listing {
	size_t n;
	char name[MAX_LISTED][PCE_SNAPSHOT_NAME_MAX + 1];
	size_t bytes[MAX_LISTED];
	struct sub_endpoint *sub[MAX_LISTED]; /* NULL: not a subscriber's state */
	size_t n_sub[MAX_LISTED];
};

#ifdef PCE_TOOL_EVENTS
/* The endpoints of @data if it is a subscriber's state; 0, or -1 when out
 * of memory. */
static int read_subscriber(struct listing *l, size_t k, const void *data, size_t len)
{
	struct pce_subscriber_blob_endpoint e;
	size_t n = 0;

	while (pce_subscriber_blob_endpoint(data, len, n, &e) == 0)
		n++;
	if (!n)
		return 0;
	l->sub[k] = calloc(n, sizeof(*l->sub[k]));
	if (!l->sub[k])
		return -1;
	for (size_t i = 0; i < n; i++) {
		pce_subscriber_blob_endpoint(data, len, i, &e);
		l->sub[k][i] = (struct sub_endpoint){e.has_seq, e.last_seq, e.owners, e.blocks};
	}
	l->n_sub[k] = n;
	return 0;
}
#endif

static int list_section(void *ctx, const char *name, const void *data, size_t len)
{
	struct listing *l = ctx;

	(void)data;
	if (l->n < MAX_LISTED) {
		snprintf(l->name[l->n], sizeof l->name[0], "%s", name);
		l->bytes[l->n] = len;
		l->sub[l->n] = NULL;
#ifdef PCE_TOOL_EVENTS
		if (read_subscriber(l, l->n, data, len))
			return PCE_ENOMEM;
#endif
	}
	l->n++;
	return 0;
}

static void free_listing(struct listing *l)
{
	for (size_t i = 0; i < l->n && i < MAX_LISTED; i++)
		free(l->sub[i]);
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
		if (l->sub[i]) {
			cJSON *eps = cJSON_AddArrayToObject(s, "subscriber");

			for (size_t k = 0; eps && k < l->n_sub[i]; k++) {
				const struct sub_endpoint *e = &l->sub[i][k];
				cJSON *x = cJSON_CreateObject();

				if (!x)
					break;
				cli_json_u64(x, "endpoint", k);
				if (e->has_seq)
					cli_json_u64(x, "last_seq", e->last_seq);
				else
					cJSON_AddNullToObject(x, "last_seq");
				cli_json_u64(x, "owners", e->owners);
				cli_json_u64(x, "blocks", e->blocks);
				cJSON_AddItemToArray(eps, x);
			}
		}
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
	for (size_t i = 0; i < l->n && i < MAX_LISTED; i++) {
		printf("  %-40s %s%s\n", cli_text(name, sizeof name, l->name[i]),
		       cli_bytes((double)l->bytes[i], a), l->sub[i] ? ", a subscriber's state:" : "");
		for (size_t k = 0; l->sub[i] && k < l->n_sub[i]; k++) {
			const struct sub_endpoint *e = &l->sub[i][k];

			if (e->has_seq)
				snprintf(b, sizeof b, "%llu", (unsigned long long)e->last_seq);
			else
				snprintf(b, sizeof b, "none");
			printf("    endpoint %-4zu last seq %-12s %s owners, %s blocks\n", k, b,
			       cli_group(e->owners, a), cli_group(e->blocks, c));
		}
	}
	printf("checksums   ok\n");
}

static int report(const char *path, const struct pce_snapshot_info *info,
		  const struct listing *l, int rc, int json)
{
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
		int st = print_json(path, info, l, rc);
		return st ? st : rc ? CLI_BADINPUT : CLI_OK;
	}
	if (rc) {
		cli_error("snapshot", "%s: refused: %s", path, info->error);
		return CLI_BADINPUT;
	}
	print_table(path, info, l);
	return cli_flush("snapshot");
}

int cmd_snapshot(int argc, char **argv)
{
	static const struct option longopts[] = {{"json", no_argument, NULL, CLI_OPT_JSON},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	static struct listing l;
	struct pce_snapshot_info info;
	int opt, json = 0, rc, st;
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
	st = report(path, &info, &l, rc, json);
	free_listing(&l);
	return st;
}
