/*
 * fuzz_snapshot.c - arbitrary bytes as a snapshot file (pce/snapshot.h):
 * inspect, then restore as a cache and as a router.  libpce must refuse
 * (PCE_EBADSNAP, or an error of the index it builds) and never crash, leak
 * or abort; a restore that succeeds must give an index that passes its
 * audit.  libFuzzer target; tests/fuzz/replay.c replays it without
 * libFuzzer.
 *
 * Input: one mode byte, then the file.  Mode bit 0 set: the fuzzer first
 * recomputes every checksum the file's own layout points at, so mutations
 * reach the structure checks behind the CRCs instead of stopping at them.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pce/pce.h>

#include "../../src/crc32c.h"

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Header: CRC at 44 of bytes 0..44; sections: 24-byte header (name_len at
 * 4, payload_len at 8), name, payload, CRC of all three. */
static void fix_checksums(uint8_t *p, size_t n)
{
	size_t off = 48;

	if (n < 48)
		return;
	wr32(p + 44, pce__crc32c(0, p, 44));
	while (n - off >= 28) {
		uint64_t name = rd32(p + off + 4);
		uint64_t len = rd32(p + off + 8) | (uint64_t)rd32(p + off + 12) << 32;
		uint64_t whole = 24 + name + len;

		if (name > n || len > n || whole + 4 > n - off)
			return;
		wr32(p + off + whole, pce__crc32c(0, p + off, (size_t)whole));
		off += (size_t)whole + 4;
	}
}

static int count_section(void *ctx, const char *name, const void *data, size_t len)
{
	(void)name;
	(void)data;
	(void)len;
	return ++*(int *)ctx > 3 ? -1 : 0; /* refuse the 4th section */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pce_snapshot_info info;
	struct pce_config cfg;
	struct pce_router_config rcfg;
	struct pce_cache *c;
	struct pce_router *r;
	uint8_t *copy;
	char path[64];
	int fd, rc, seen = 0;

	if (size < 1)
		return 0;
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	if (data[0] & 1)
		fix_checksums(copy, size - 1);
	fd = memfd_create("snap", MFD_CLOEXEC);
	if (fd < 0 || write(fd, copy, size - 1) != (ssize_t)(size - 1))
		abort();
	free(copy);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

	rc = pce_snapshot_inspect(path, &info, count_section, &seen);
	if (rc != 0 && rc != PCE_EBADSNAP && rc != -1)
		abort();
	if (rc == PCE_EBADSNAP && info.error[0] == '\0')
		abort(); /* a refusal always says why */

	pce_config_init(&cfg);
	cfg.background_reclaim = 0;
	cfg.shards = 2;
	cfg.block_size = info.block_size && info.block_size <= 64 ? info.block_size : 1;
	seen = 0;
	rc = pce_cache_snapshot_restore(&cfg, path, count_section, &seen, &c);
	if (rc == 0) {
		if (pce_cache_audit(c, PCE_AUDIT_QUIESCENT, NULL, 0) != 0)
			abort();
		if (pce_cache_destroy(c) != 0)
			abort();
	} else if (c != NULL) {
		abort();
	}

	pce_router_config_init(&rcfg);
	rcfg.background_reclaim = 0;
	rcfg.shards = 2;
	rcfg.block_size = cfg.block_size;
	seen = 0;
	rc = pce_router_snapshot_restore(&rcfg, path, count_section, &seen, &r);
	if (rc == 0) {
		if (pce_router_audit(r, 0, NULL, 0) != 0)
			abort();
		pce_router_destroy(r);
	} else if (r != NULL) {
		abort();
	}
	close(fd);
	return 0;
}
