/*
 * fuzz_trace.c - libFuzzer target for every trace parser (tools/fuzz/
 * replays it without libFuzzer in ordinary builds).
 *
 * Input: one byte choosing the format (auto, tokens, mooncake, kvtester,
 * text; its top bit sets --block-size 64), then a file's bytes.  The file
 * goes to an in-memory file (memfd) opened by its /proc path, so the real
 * path is exercised: gzip detection and inflation, line cutting, format
 * detection, each parser, kvtester flattening and compaction, the merge.
 * Every request is replayed through an unlimited cache and a request log,
 * and the stream is rewound and read again.  Checked: no crash, no
 * sanitizer report; a failure is PCE_TRACE_EINPUT with a message that
 * starts with the file's path; requests are well-formed; the second
 * reading equals the first.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "replay.h"
#include "reqlog.h"
#include "trace.h"

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "fuzz_trace: %s failed (%s:%d)\n", #cond, \
				__FILE__, __LINE__);                             \
			abort();                                                 \
		}                                                                \
	} while (0)

struct pass {
	int rc;
	uint64_t requests, ids, tokens, hit_ids;
};

static struct pass read_all(struct pce_trace *tr)
{
	struct pass p = {0};
	struct pce_replay rp;
	struct pce_reqlog *log;
	struct pce_trace_request r;

	CHECK(pce_replay_init(&rp, 0, PCE_POLICY_CLOCK_LRU, NULL, NULL) == 0);
	CHECK(pce_reqlog_create(&log) == 0);
	while ((p.rc = pce_trace_next(tr, &r)) == PCE_TRACE_REQUEST) {
		struct pce_replay_hit hit;

		CHECK(r.index == p.requests);
		CHECK(r.len <= PCE_TRACE_MAX_IDS && (r.len == 0 || r.ids));
		CHECK(r.block_size >= 1);
		CHECK(r.t >= 0);
		CHECK(pce_trace_ns_name(tr, r.ns) != NULL);
		CHECK(pce_replay_request(&rp, &r, &hit) == 0);
		CHECK(hit.ids <= r.len && hit.tokens <= r.tokens);
		CHECK(pce_reqlog_add(log, &r, &hit) == 0);
		p.requests++;
		p.ids += r.len;
		p.tokens += r.tokens;
		p.hit_ids += hit.ids;
	}
	if (p.requests) {
		struct pce_shared_prefix top[4];
		size_t n;

		CHECK(pce_reqlog_shared(log, p.requests / 2, top, 4, &n) == 0);
		for (size_t i = 0; i < n; i++)
			CHECK(top[i].requests >= 2 && top[i].ids >= 1);
	}
	pce_reqlog_free(log);
	pce_replay_destroy(&rp);
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pce_trace_opts o = {0};
	struct pce_trace *tr;
	struct pass a, b;
	char path[64];
	const char *p = path;
	int fd, rc;

	if (size < 1)
		return 0;
	o.format = (enum pce_trace_format)((data[0] & 0x7f) % PCE_TRACE_FORMAT_COUNT);
	o.block_size = data[0] & 0x80 ? 64 : 0;
	fd = memfd_create("fuzz_trace", 0);
	CHECK(fd >= 0);
	CHECK(write(fd, data + 1, size - 1) == (ssize_t)(size - 1));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = pce_trace_open(&tr, &p, 1, &o);
	CHECK(tr != NULL);
	if (rc == 0) {
		a = read_all(tr);
		CHECK(pce_trace_rewind(tr) == 0);
		b = read_all(tr);
		CHECK(a.rc == b.rc && a.requests == b.requests && a.ids == b.ids &&
		      a.tokens == b.tokens && a.hit_ids == b.hit_ids);
		rc = a.rc;
	}
	if (rc != 0) {
		/* Only bad input fails, and it says where. */
		CHECK(rc == PCE_TRACE_EINPUT);
		CHECK(strncmp(pce_trace_error(tr), path, strlen(path)) == 0);
	}
	pce_trace_close(tr);
	close(fd);
	return 0;
}
