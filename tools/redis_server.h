/*
 * redis_server.h - a private redis-server process: for `pce cluster demo`,
 * the cluster benchmark and the cluster tier's tests.
 *
 * The server listens on a free 127.0.0.1 port (probed by binding, with the
 * cluster bus port when asked), keeps no data on disk (--save ''
 * --appendonly no) and works in its own temporary directory.  It counts as
 * ready only when the process answering on the port reports the PID this
 * helper started, so a foreign server that holds the port is never taken
 * for it.  It is stopped by its PID; the kernel kills it if the process
 * that started it dies first (PR_SET_PDEATHSIG), so a crash leaves no
 * server behind.  Never a fixed port, never a system service.
 */
#ifndef PCE_TOOLS_REDIS_SERVER_H
#define PCE_TOOLS_REDIS_SERVER_H

#include <stddef.h>
#include <sys/types.h>

struct redis_server {
	pid_t pid; /* 0: not running */
	int port;
	char dir[64]; /* "": none yet */
};

/* redis_server_free_port - A 127.0.0.1 port nothing listens on now, or -1. */
int redis_server_free_port(void);

/* redis_server_free_cluster_port - A port p with p and p + 10000 (a cluster
 * node's bus port) both free, or -1. */
int redis_server_free_cluster_port(void);

/*
 * redis_server_start - Start redis-server (found on PATH) on @port (0: a
 * free one) with the extra arguments @extra (NULL-terminated, may be NULL)
 * and wait until it answers as itself (at most 10 s).  With @port 0, a port
 * taken between the probe and the server's bind is retried with another.
 * @s is zeroed, or a server ended by redis_server_signal(): its directory
 * is then reused (a restart on the same port and directory).
 * Return: 0; -1 after a message in @err (@n bytes; @err may be NULL).
 */
int redis_server_start(struct redis_server *s, int port, const char *const *extra, char *err,
		       size_t n);

/* redis_server_signal - Send @sig to the server (SIGKILL, SIGSTOP,
 * SIGCONT...); a signal that ends it reaps it.  The directory stays. */
void redis_server_signal(struct redis_server *s, int sig);

/* redis_server_stop - SIGTERM, wait for the exit (SIGKILL after 5 s), remove
 * the directory.  Accepts a server that never started or already died. */
void redis_server_stop(struct redis_server *s);

/* redis_server_ping - 1 if a Redis on 127.0.0.1:@port answers PING within
 * @timeout_ms, else 0. */
int redis_server_ping(int port, int timeout_ms);

#endif /* PCE_TOOLS_REDIS_SERVER_H */
