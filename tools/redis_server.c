/*
 * redis_server.c - a private redis-server process (see redis_server.h).
 *
 * Readiness is a raw "INFO server" on a TCP socket, whose process_id must
 * be the child's PID, so the helper needs no Redis client library of its
 * own (the cluster tier owns hiredis) and never mistakes a foreign server
 * for its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_server.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Binds 127.0.0.1:@port (0: any); the bound port, or -1. */
static int probe(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	port = -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int redis_server_free_port(void)
{
	return probe(0);
}

int redis_server_free_cluster_port(void)
{
	static unsigned calls; /* successive calls probe different ports */

	/* Below 45000, so that the bus port (+10000) exists. */
	for (int i = 0; i < 1000; i++) {
		unsigned r = (unsigned)getpid() * 7919u + (calls++) * 104729u + (unsigned)time(NULL);
		int p = 20000 + (int)(r % 25000u);

		if (probe(p) == p && probe(p + 10000) == p + 10000)
			return p;
	}
	return -1;
}

/* Whether @buf (@got bytes, NUL-terminated) holds a whole reply: a status
 * or error line, or a bulk string "$<len>\r\n<len bytes>\r\n". */
static int whole(const char *buf, size_t got)
{
	const char *eol = strstr(buf, "\r\n");
	long len;

	if (!eol)
		return 0;
	if (buf[0] != '$')
		return 1;
	len = atol(buf + 1);
	return len < 0 || got >= (size_t)(eol - buf) + 2 + (size_t)len + 2;
}

/* Send the inline command @req to 127.0.0.1:@port and read one reply into
 * @buf (@size bytes, NUL-terminated) within @timeout_ms.  Return: 1 if a
 * whole reply (or a full buffer) arrived, else 0. */
static int ask(int port, const char *req, char *buf, size_t size, int timeout_ms)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct pollfd p;
	size_t got = 0, len = strlen(req);
	double end = now_ms() + timeout_ms;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok = 0;

	buf[0] = '\0';
	if (fd < 0)
		return 0;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    write(fd, req, len) != (ssize_t)len)
		goto out;
	p.fd = fd;
	p.events = POLLIN;
	while (!(ok = whole(buf, got)) && got < size - 1) {
		int left = (int)(end - now_ms());
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			goto out;
		r = read(fd, buf + got, size - 1 - got);
		if (r <= 0)
			goto out;
		got += (size_t)r;
		buf[got] = '\0';
	}
	ok = 1;
out:
	close(fd);
	return ok;
}

int redis_server_ping(int port, int timeout_ms)
{
	char buf[16];

	return ask(port, "PING\r\n", buf, sizeof buf, timeout_ms) && !strcmp(buf, "+PONG\r\n");
}

/* 1 if the server answering on @port within @timeout_ms is process @pid. */
static int answers_as(int port, pid_t pid, int timeout_ms)
{
	char buf[8192];
	const char *id;

	if (!ask(port, "INFO server\r\n", buf, sizeof buf, timeout_ms))
		return 0;
	id = strstr(buf, "\r\nprocess_id:");
	return id && atol(id + 13) == (long)pid;
}

/* Start one server on @port; 0 when it answers as itself, -1 if it exited
 * or stayed silent (it is then killed). */
static int try_start(struct redis_server *s, int port, const char *const *extra, char *err,
		     size_t n)
{
	const char *argv[64] = {"redis-server", "--port", NULL, "--bind", "127.0.0.1",
				"--save", "", "--appendonly", "no", "--dir", s->dir,
				"--daemonize", "no", "--logfile", "", "--loglevel", "warning"};
	int argc = 17;
	char portstr[16];
	pid_t parent = getpid(), pid;
	double end;

	snprintf(portstr, sizeof portstr, "%d", port);
	argv[2] = portstr;
	for (int i = 0; extra && extra[i]; i++) {
		if (argc >= 63) {
			snprintf(err, n, "too many redis-server arguments");
			return -1;
		}
		argv[argc++] = extra[i];
	}
	argv[argc] = NULL;
	pid = fork();
	if (pid < 0) {
		snprintf(err, n, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/* Only async-signal-safe calls until exec.  stderr stays: it
		 * says why a server could not start. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
		}
		execvp("redis-server", (char *const *)argv);
		_exit(127);
	}
	s->pid = pid;
	s->port = port;
	for (end = now_ms() + 10000; now_ms() < end; sleep_ms(10)) {
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			s->pid = 0;
			snprintf(err, n, "redis-server on port %d exited (%s)", port,
				 WIFEXITED(st) && WEXITSTATUS(st) == 127
					 ? "is redis-server installed?"
					 : "port taken?");
			return -1;
		}
		if (answers_as(port, pid, 200))
			return 0;
	}
	snprintf(err, n, "redis-server on port %d did not answer within 10 s", port);
	redis_server_signal(s, SIGKILL);
	return -1;
}

int redis_server_start(struct redis_server *s, int port, const char *const *extra, char *err,
		       size_t n)
{
	char none[1];

	if (!err) {
		err = none;
		n = sizeof none;
	}
	s->pid = 0;
	if (!s->dir[0]) {
		snprintf(s->dir, sizeof s->dir, "/tmp/pce-redis-XXXXXX");
		if (!mkdtemp(s->dir)) {
			snprintf(err, n, "mkdtemp: %s", strerror(errno));
			s->dir[0] = '\0';
			return -1;
		}
	}
	/* A given port is tried once; a probed one may be taken before the
	 * server binds it, so another is probed then. */
	for (int attempt = 0; attempt < (port ? 1 : 3); attempt++) {
		int p = port ? port : probe(0);

		if (p < 0) {
			snprintf(err, n, "no free 127.0.0.1 port: %s", strerror(errno));
			break;
		}
		if (try_start(s, p, extra, err, n) == 0)
			return 0;
	}
	redis_server_stop(s);
	return -1;
}
void redis_server_signal(struct redis_server *s, int sig)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, sig);
	if (sig == SIGKILL || sig == SIGTERM) {
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
		s->pid = 0;
	}
}

void redis_server_stop(struct redis_server *s)
{
	if (s->pid > 0) {
		double end = now_ms() + 5000;

		kill(s->pid, SIGCONT); /* a stopped server cannot exit */
		kill(s->pid, SIGTERM);
		while (waitpid(s->pid, NULL, WNOHANG) == 0) {
			if (now_ms() > end) {
				kill(s->pid, SIGKILL);
				waitpid(s->pid, NULL, 0);
				break;
			}
			sleep_ms(5);
		}
		s->pid = 0;
	}
	if (s->dir[0]) {
		char path[128];

		/* No save point is configured, but a client may still have
		 * asked for a SAVE: remove what the server may have left. */
		snprintf(path, sizeof path, "%s/dump.rdb", s->dir);
		unlink(path);
		/* A cluster node keeps its nodes.conf. */
		snprintf(path, sizeof path, "%s/nodes.conf", s->dir);
		unlink(path);
		rmdir(s->dir);
		s->dir[0] = '\0';
	}
}
