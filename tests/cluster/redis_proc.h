/*
 * redis_proc.h - redis-server processes for the cluster tier's tests.
 *
 * Each server is started by the test on a free 127.0.0.1 port (probed by
 * binding port 0), with no persistence (--save '' --appendonly no), in its
 * own temporary directory, and stopped by PID.  The child asks the kernel
 * to kill it when the test process dies (PR_SET_PDEATHSIG), so a crashed
 * test leaves no server behind.  Never a fixed port, never a system service.
 */
#ifndef PCE_TEST_REDIS_PROC_H
#define PCE_TEST_REDIS_PROC_H

#include <sys/types.h>

#include <hiredis/hiredis.h>

struct redis_proc {
	pid_t pid;  /* 0: not running */
	int port;
	char dir[64];
};

/* A port nothing listens on right now. */
int redis_free_port(void);
/* A port p with p and p + 10000 (a cluster node's bus port) both free. */
int redis_free_cluster_port(void);
/* Starts redis-server on @port (0: a free one) with the extra arguments
 * @extra (NULL-terminated, may be NULL) and waits until it answers PING.
 * 0 on success. */
int redis_start(struct redis_proc *p, int port, const char *const *extra);
/* Sends @sig to the server (SIGKILL, SIGSTOP, SIGCONT...); reaps it if the
 * signal kills. */
void redis_signal(struct redis_proc *p, int sig);
/* SIGTERM, wait for the exit, remove the directory (and a cluster node's
 * nodes.conf).  Accepts a stopped or already dead server. */
void redis_stop(struct redis_proc *p);
/* A plain hiredis connection to the server (1 s timeouts); NULL on error. */
redisContext *redis_client(const struct redis_proc *p);

#endif
