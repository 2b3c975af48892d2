/*
 * trace_src.c - bytes and lines out of one input stream: a file, a named
 * pipe, a pipe from process substitution or standard input, gzip-compressed
 * or not.
 *
 * zlib's gz* functions read both (a stream without the gzip magic is passed
 * through), so every input format accepts .gz for free, pipes included:
 * gzdopen() reads its descriptor sequentially.  We read in large chunks
 * with gzread() and cut lines ourselves rather than with gzgets(), which
 * cannot report a line holding a NUL byte: binary junk must be seen as such.
 *
 * One stream, opened once.  A path is opened exactly once and everything
 * (format detection, then the parser) reads that descriptor: detection
 * only peeks at the buffer (trace_src_peek()), and the parser consumes the
 * same bytes afterwards.  Nothing is reopened by path, which is what makes
 * `pce analyze <(zcat trace.jsonl.gz)` work: /dev/fd/63 is a pipe that can
 * be read once only.
 *
 * Named pipes.  open() of a FIFO blocks until a writer opens the other end,
 * with no way to say anything meanwhile, so paths are opened O_NONBLOCK.
 * A pipe is then polled: if nothing is there within WAIT_NOTICE_MS the
 * trace says so (trace_wait_notice(): pce prints that it waits for the
 * pipe's writer, which has not come or not written yet: poll() cannot tell
 * which), then waits like any pipe reader.  Linux reports a FIFO whose
 * writer has not come yet as neither readable nor hung up, so this waits
 * for the writer rather than reading an empty stream.  O_NONBLOCK is then
 * cleared and reads block as usual.
 *
 * Invariants: buf[start..end) holds bytes read but not yet consumed, and
 * off0 is the stream offset of buf[0] (decompressed bytes after the byte
 * order mark).  A returned line lives in buf until the next call.  The
 * buffer only grows to hold one line (trace_src_line()) or a peeked head
 * (trace_src_peek()), both at most line_max plus one chunk: the length
 * check happens before each read, so an over-long line is refused after
 * line_max bytes, never read whole.
 *
 * A UTF-8 byte order mark at the start of a stream is skipped.
 *
 * End of input.  gzread() reports the end of a complete stream and the end
 * of a truncated one alike; gzerror() tells them apart: Z_BUF_ERROR means
 * the file ended inside a gzip member.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace_internal.h"

#define CHUNK ((size_t)256 << 10)
/* A UTF-8 byte order mark, which some editors put first: skipped. */
#define BOM "\xef\xbb\xbf"
/* How long a named pipe may stay silent before the trace says it waits. */
#define WAIT_NOTICE_MS 1000

static int io_fail(struct pce_trace *tr, const char *path, const char *what)
{
	return trace_fail(tr, errno == ENOMEM ? PCE_TRACE_ENOMEM : PCE_TRACE_EIO, path, 0, "%s%s",
			  what, strerror(errno));
}

/* Wait until the FIFO @fd has data or its writer has come and gone. */
static int wait_fifo(struct pce_trace *tr, const char *path, int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int timeout = WAIT_NOTICE_MS, n;

	while ((n = poll(&p, 1, timeout)) <= 0) {
		if (n < 0 && errno != EINTR)
			return io_fail(tr, path, "");
		if (n == 0 && timeout > 0) {
			trace_wait_notice(tr, path);
			timeout = -1;
		}
	}
	return 0;
}

/* gzip reading on a duplicate of s->fd, which the source keeps for
 * rewinding: gzrewind() refuses a stream after a data error. */
static int gz_open(struct pce_trace *tr, struct trace_src *s)
{
	int d = dup(s->fd);

	if (d < 0)
		return io_fail(tr, s->path, "");
	s->gz = gzdopen(d, "rb");
	if (!s->gz) {
		close(d);
		return trace_fail(tr, PCE_TRACE_ENOMEM, s->path, 0, "out of memory");
	}
	gzbuffer(s->gz, CHUNK);
	return 0;
}

int trace_src_open_fd(struct pce_trace *tr, struct trace_src *s, const char *path, int fd)
{
	struct stat st;
	int flags, rc;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->path = path;
	s->line_max = PCE_TRACE_MAX_LINE;
	/* Never NULL while open: the parsers point into it from the start. */
	s->buf = malloc(2 * CHUNK + 1);
	s->cap = 2 * CHUNK;
	if (!s->buf)
		rc = trace_fail(tr, PCE_TRACE_ENOMEM, path, 0, "out of memory");
	else if (fstat(fd, &st) != 0)
		rc = io_fail(tr, path, "");
	else if (S_ISDIR(st.st_mode))
		rc = trace_fail(tr, PCE_TRACE_EIO, path, 0, "a directory, not a file");
	else if (S_ISFIFO(st.st_mode) && wait_fifo(tr, path, fd))
		rc = PCE_TRACE_EIO;
	else if ((flags = fcntl(fd, F_GETFL)) < 0 ||
		 ((flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0))
		rc = io_fail(tr, path, "");
	else
		rc = 0;
	if (!rc) {
		s->origin = S_ISREG(st.st_mode) ? lseek(fd, 0, SEEK_CUR) : -1;
		s->seekable = s->origin >= 0;
		s->size = s->seekable && st.st_size > s->origin ? (uint64_t)(st.st_size - s->origin)
								: 0;
		rc = gz_open(tr, s);
	}
	if (rc)
		trace_src_close(s);
	return rc;
}

int trace_src_open(struct pce_trace *tr, struct trace_src *s, const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		memset(s, 0, sizeof(*s));
		s->fd = -1;
		return io_fail(tr, path, "");
	}
	return trace_src_open_fd(tr, s, path, fd);
}

int trace_src_rewind(struct pce_trace *tr, struct trace_src *s)
{
	if (!s->seekable)
		return trace_fail(tr, PCE_TRACE_EIO, s->path, 0,
				  "cannot read this input twice: it is a pipe, not a file");
	gzclose_r(s->gz);
	s->gz = NULL;
	if (lseek(s->fd, s->origin, SEEK_SET) < 0)
		return io_fail(tr, s->path, "");
	s->start = s->end = 0;
	s->off0 = 0;
	s->line_no = 0;
	s->eof = 0;
	s->bom_done = 0;
	return gz_open(tr, s);
}

/* Read one more chunk after buf[end], first sliding buf[start..end) to the
 * front.  @line: the line being read, for messages (0 when reading a whole
 * file).  Return: bytes read (0 at the end) or an error. */
static int fill(struct pce_trace *tr, struct trace_src *s, uint64_t line)
{
	int n, zerr;
	const char *msg;

	if (s->eof)
		return 0;
	if (s->start > 0) {
		memmove(s->buf, s->buf + s->start, s->end - s->start);
		s->off0 += s->start;
		s->end -= s->start;
		s->start = 0;
	}
	if (s->cap - s->end < CHUNK) {
		/* Doubling, but never past what the longest line needs. */
		size_t cap = s->cap, most = s->line_max + 2 * CHUNK;
		char *b;

		while (cap - s->end < CHUNK)
			cap *= 2;
		if (cap > most && s->end + CHUNK <= most)
			cap = most;
		b = realloc(s->buf, cap + 1);
		if (!b)
			return trace_fail(tr, PCE_TRACE_ENOMEM, s->path, 0, "out of memory");
		s->buf = b;
		s->cap = cap;
	}
	n = gzread(s->gz, s->buf + s->end, (unsigned)CHUNK);
	if (n > 0) {
		s->end += (size_t)n;
		if (!s->bom_done && s->end >= 3) {
			s->bom_done = 1;
			if (s->off0 == 0 && memcmp(s->buf, BOM, 3) == 0) {
				memmove(s->buf, s->buf + 3, s->end - 3);
				s->end -= 3;
			}
		}
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

static int too_long(struct pce_trace *tr, const struct trace_src *s, uint64_t line)
{
	return trace_fail(tr, PCE_TRACE_EINPUT, s->path, line, "line longer than %zu MiB",
			  s->line_max >> 20);
}

int trace_src_more(struct pce_trace *tr, struct trace_src *s, uint64_t line, size_t held)
{
	if (held > s->line_max)
		return too_long(tr, s, line);
	return fill(tr, s, line);
}

int trace_src_peek(struct pce_trace *tr, struct trace_src *s, size_t n)
{
	while (s->end - s->start < n && !s->eof) {
		int rc = trace_src_more(tr, s, s->line_no + 1, s->end - s->start);

		if (rc < 0)
			return rc;
	}
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
			if (n > s->line_max)
				return too_long(tr, s, s->line_no + 1);
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
		rc = trace_src_more(tr, s, s->line_no + 1, scanned);
		if (rc < 0)
			return rc;
	}
}

int trace_src_slurp(struct pce_trace *tr, struct trace_src *s, char **data, size_t *len)
{
	int rc;

	while ((rc = fill(tr, s, 0)) > 0) {
		if (s->end - s->start > s->line_max)
			return trace_fail(tr, PCE_TRACE_EINPUT, s->path, 0, "larger than %zu MiB",
					  s->line_max >> 20);
	}
	if (rc < 0)
		return rc;
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
	z_off_t off = s->gz && s->seekable ? gzoffset(s->gz) : 0;

	return off > 0 ? (uint64_t)off : 0;
}

void trace_src_close(struct trace_src *s)
{
	if (s->gz)
		gzclose_r(s->gz);
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}
