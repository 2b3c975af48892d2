/*
 * redis_server.c - a private redis-server process (see redis_server.h).
 *
 * Readiness is a raw "PING" on a TCP socket, so the tool needs no Redis
 * client library of its own: the cluster tier owns hiredis.
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

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int redis_server_ping(int port, int timeout_ms)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct pollfd p;
	char buf[16];
	size_t got = 0;
	double end = now_ms() + timeout_ms;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok = 0;

	if (fd < 0)
		return 0;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    write(fd, "PING\r\n", 6) != 6)
		goto out;
	p.fd = fd;
	p.events = POLLIN;
	while (got < 7) {
		int left = (int)(end - now_ms());
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			goto out;
		r = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			goto out;
		got += (size_t)r;
	}
	ok = memcmp(buf, "+PONG\r\n", 7) == 0;
out:
	close(fd);
	return ok;
}

/* Start one server on @port; 0 when it answers, -1 if it exited or
 * stayed silent (it is then stopped). */
static int try_start(struct redis_server *s, int port, char *err, size_t n)
{
	char portstr[16];
	pid_t parent = getpid(), pid;
	double end;

	snprintf(portstr, sizeof portstr, "%d", port);
	pid = fork();
	if (pid < 0) {
		snprintf(err, n, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/* Only async-signal-safe calls until exec. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("redis-server", "redis-server", "--port", portstr, "--bind", "127.0.0.1",
		       "--save", "", "--appendonly", "no", "--dir", s->dir, "--daemonize", "no",
		       (char *)NULL);
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
		if (redis_server_ping(port, 200))
			return 0;
	}
	snprintf(err, n, "redis-server on port %d did not answer PING within 10 s", port);
	redis_server_signal(s, SIGKILL);
	return -1;
}

int redis_server_start(struct redis_server *s, char *err, size_t n)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof s->dir, "/tmp/pce-redis-XXXXXX");
	if (!mkdtemp(s->dir)) {
		snprintf(err, n, "mkdtemp: %s", strerror(errno));
		s->dir[0] = '\0';
		return -1;
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		int port = free_port();

		if (port < 0) {
			snprintf(err, n, "no free 127.0.0.1 port: %s", strerror(errno));
			break;
		}
		if (try_start(s, port, err, n) == 0)
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
		rmdir(s->dir);
		s->dir[0] = '\0';
	}
}
