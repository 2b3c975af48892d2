/*
 * tool_test.c - helpers of the pce tool's tests (see tool_test.h).
 */
#include "tool_test.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

static char dir[256];
static char path[512];

int tool_test_main(const char *name, const struct CMUnitTest *tests, size_t n)
{
	if (chdir(PCE_SOURCE_DIR) != 0) {
		perror(PCE_SOURCE_DIR);
		return 1;
	}
	return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void remove_scratch(void)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *scratch_dir(void)
{
	if (!dir[0]) {
		const char *tmp = getenv("TMPDIR");

		snprintf(dir, sizeof(dir), "%s/pce-tool-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		assert_non_null(mkdtemp(dir));
		atexit(remove_scratch);
	}
	return dir;
}

const char *scratch_file(const char *name, const void *data, size_t len)
{
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", scratch_dir(), name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

const char *scratch_gzip(const char *name, const void *data, size_t len, size_t keep)
{
	uLongf n = compressBound((uLong)len) + 32;
	unsigned char *buf = malloc(n);
	z_stream z = {0};

	assert_non_null(buf);
	/* windowBits 31: a gzip wrapper, as gzip(1) writes */
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)len;
	z.next_out = buf;
	z.avail_out = (uInt)n;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	n = z.total_out;
	deflateEnd(&z);
	scratch_file(name, buf, keep && keep < n ? keep : n);
	free(buf);
	return path;
}

struct pce_trace *open_trace(const char *const *paths, size_t n, enum pce_trace_format format)
{
	struct pce_trace_opts o = {.format = format};
	struct pce_trace *tr;
	int rc = pce_trace_open(&tr, paths, n, &o);

	if (rc)
		fail_msg("open: %s", pce_trace_error(tr));
	return tr;
}

void expect_trace_error(const char *file, enum pce_trace_format format, int code,
			const char *needle)
{
	struct pce_trace_opts o = {.format = format};
	struct pce_trace_request r;
	struct pce_trace *tr;
	int rc = pce_trace_open(&tr, &file, 1, &o);

	while (rc == 0 && (rc = pce_trace_next(tr, &r)) == PCE_TRACE_REQUEST)
		rc = 0;
	if (rc != code || !strstr(pce_trace_error(tr), needle))
		fail_msg("%s: got %d \"%s\", expected %d with \"%s\"", file, rc,
			 pce_trace_error(tr), code, needle);
	/* Every message starts with the file's name. */
	assert_true(strncmp(pce_trace_error(tr), file, strlen(file)) == 0);
	pce_trace_close(tr);
}
