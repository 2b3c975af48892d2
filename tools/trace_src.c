/*
 * trace_src.c - bytes and lines out of a file, gzip-compressed or not.
 *
 * zlib's gz* functions read both (a file without the gzip magic is passed
 * through), so every input format accepts .gz for free.  We read in large
 * chunks with gzread() and cut lines ourselves rather than with gzgets(),
 * which cannot report a line holding a NUL byte: binary junk must be seen
 * as such.
 *
 * Invariants: buf[start..end) holds bytes read but not yet returned; a
 * returned line lives in buf until the next call.  A line never exceeds
 * PCE_TRACE_MAX_LINE, so buf stays within that plus one chunk.
 *
 * A UTF-8 byte order mark at the start of a file is skipped.
 *
 * End of input.  gzread() reports the end of a complete stream and the end
 * of a truncated one alike; gzerror() tells them apart: Z_BUF_ERROR means
 * the file ended inside a gzip member.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace_internal.h"

#define CHUNK ((size_t)256 << 10)
/* A UTF-8 byte order mark, which some editors put first: skipped. */
#define BOM "\xef\xbb\xbf"

int trace_src_open(struct pce_trace *tr, struct trace_src *s, const char *path, int fd)
{
	memset(s, 0, sizeof(*s));
	s->path = path;
	if (fd >= 0) {
		int d = dup(fd);
		if (d < 0 || lseek(d, 0, SEEK_SET) < 0) {
			if (d >= 0)
				close(d);
			return trace_fail(tr, PCE_TRACE_EIO, path, 0, "%s", strerror(errno));
		}
		s->gz = gzdopen(d, "rb");
		if (!s->gz)
			close(d);
	} else {
		errno = 0;
		s->gz = gzopen(path, "rb");
	}
	if (!s->gz)
		return trace_fail(tr, errno ? PCE_TRACE_EIO : PCE_TRACE_ENOMEM, path, 0, "%s",
				  errno ? strerror(errno) : "out of memory");
	gzbuffer(s->gz, CHUNK);
	return 0;
}

/* Read one more chunk after buf[end].  @line: the line being read, for
 * messages (0 when reading a whole file).  Return: bytes read (0 at the
 * end) or an error. */
static int fill(struct pce_trace *tr, struct trace_src *s, uint64_t line)
{
	int n, zerr;
	const char *msg;

	if (s->eof)
		return 0;
	if (s->cap - s->end < CHUNK) {
		size_t cap = s->cap ? s->cap : CHUNK * 2;
		char *b;

		while (cap - s->end < CHUNK)
			cap *= 2;
		b = realloc(s->buf, cap + 1);
		if (!b)
			return trace_fail(tr, PCE_TRACE_ENOMEM, s->path, 0, "out of memory");
		s->buf = b;
		s->cap = cap;
	}
	n = gzread(s->gz, s->buf + s->end, (unsigned)CHUNK);
	if (n > 0) {
		s->end += (size_t)n;
		return n;
	}
	msg = gzerror(s->gz, &zerr);
	if (n < 0 || zerr != Z_OK) {
		if (zerr == Z_BUF_ERROR)
			return trace_fail(tr, PCE_TRACE_EINPUT, s->path, line,
					  "truncated gzip file: it ends in the middle of a "
					  "compressed stream");
		if (zerr == Z_DATA_ERROR)
			return trace_fail(tr, PCE_TRACE_EINPUT, s->path, line,
					  "corrupt gzip data (%s)", msg);
		if (zerr == Z_MEM_ERROR)
			return trace_fail(tr, PCE_TRACE_ENOMEM, s->path, 0, "out of memory");
		return trace_fail(tr, PCE_TRACE_EIO, s->path, line, "read error: %s",
				  zerr == Z_ERRNO ? strerror(errno) : msg);
	}
	s->eof = 1;
	return 0;
}

int trace_src_line(struct pce_trace *tr, struct trace_src *s, char **line, size_t *len)
{
	size_t scanned = 0;

	for (;;) {
		size_t unread = s->end - s->start - scanned;
		char *nl = unread ? memchr(s->buf + s->start + scanned, '\n', unread) : NULL;
		int rc;

		if (nl || (s->eof && s->end > s->start)) {
			size_t n = nl ? (size_t)(nl - (s->buf + s->start)) : s->end - s->start;

			*line = s->buf + s->start;
			s->start += n + (nl != NULL);
			if (s->line_no == 0 && n >= 3 && memcmp(*line, BOM, 3) == 0) {
				*line += 3;
				n -= 3;
			}
			if (n && (*line)[n - 1] == '\r')
				n--;
			(*line)[n] = '\0';
			*len = n;
			s->line_no++;
			return 1;
		}
		if (s->eof)
			return 0;
		scanned = s->end - s->start;
		if (scanned > PCE_TRACE_MAX_LINE)
			return trace_fail(tr, PCE_TRACE_EINPUT, s->path, s->line_no + 1,
					  "line longer than %zu MiB", PCE_TRACE_MAX_LINE >> 20);
		if (s->start > 0) {
			/* Slide the partial line to the front before reading on. */
			memmove(s->buf, s->buf + s->start, scanned);
			s->end = scanned;
			s->start = 0;
		}
		rc = fill(tr, s, s->line_no + 1);
		if (rc < 0)
			return rc;
	}
}

int trace_src_slurp(struct pce_trace *tr, struct trace_src *s, char **data, size_t *len)
{
	int rc;

	while ((rc = fill(tr, s, 0)) > 0) {
		if (s->end - s->start > PCE_TRACE_MAX_LINE)
			return trace_fail(tr, PCE_TRACE_EINPUT, s->path, 0, "larger than %zu MiB",
					  PCE_TRACE_MAX_LINE >> 20);
	}
	if (rc < 0)
		return rc;
	if (!s->buf) {
		s->buf = malloc(1);
		if (!s->buf)
			return trace_fail(tr, PCE_TRACE_ENOMEM, s->path, 0, "out of memory");
	}
	if (s->end - s->start >= 3 && memcmp(s->buf + s->start, BOM, 3) == 0)
		s->start += 3;
	/* Hand the buffer over; the source is spent. */
	memmove(s->buf, s->buf + s->start, s->end - s->start);
	*len = s->end - s->start;
	s->buf[*len] = '\0';
	*data = s->buf;
	s->buf = NULL;
	s->cap = s->start = s->end = 0;
	return 0;
}

uint64_t trace_src_offset(const struct trace_src *s)
{
	z_off_t off = s->gz ? gzoffset(s->gz) : 0;

	return off > 0 ? (uint64_t)off : 0;
}

void trace_src_close(struct trace_src *s)
{
	if (s->gz)
		gzclose_r(s->gz);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}
