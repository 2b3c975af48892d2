/*
 * redis_server.h - a private redis-server process for `pce cluster demo`
 * and the cluster benchmarks.
 *
 * The server listens on a free 127.0.0.1 port (probed by binding port 0),
 * keeps no data on disk (--save '' --appendonly no) and works in its own
 * temporary directory.  It is stopped by its PID; the kernel kills it if
 * the process that started it dies first (PR_SET_PDEATHSIG), so a crash
 * leaves no server behind.  Never a fixed port, never a system service.
 */
#ifndef PCE_TOOLS_REDIS_SERVER_H
#define PCE_TOOLS_REDIS_SERVER_H

#include <sys/types.h>

struct redis_server {
	pid_t pid; /* 0: not running */
	int port;
	char dir[64];
};

/*
 * redis_server_start - Start redis-server (found on PATH) and wait until it
 * answers PING (at most 10 s).  A port taken between the probe and the
 * server's bind is retried with another one.
 * Return: 0; -1 after a message in @err (@n bytes).
 */
int redis_server_start(struct redis_server *s, char *err, size_t n);

/* redis_server_signal - Send @sig to the server (SIGKILL, SIGSTOP,
 * SIGCONT...); a signal that ends it reaps it. */
void redis_server_signal(struct redis_server *s, int sig);

/* redis_server_stop - SIGTERM, wait for the exit (SIGKILL after 5 s), remove
 * the directory.  Accepts a server that never started or already died. */
void redis_server_stop(struct redis_server *s);

/* redis_server_ping - 1 if a Redis on 127.0.0.1:@port answers PING within
 * @timeout_ms, else 0. */
int redis_server_ping(int port, int timeout_ms);

#endif /* PCE_TOOLS_REDIS_SERVER_H */
