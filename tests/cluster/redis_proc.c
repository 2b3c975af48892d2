/*
 * redis_proc.c - redis-server processes for the tests (redis_proc.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_proc.h"

/* Binds 127.0.0.1:@port (0: any); the bound port, or -1. */
static int probe(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	port = -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int redis_free_port(void)
{
	return probe(0);
}

int redis_free_cluster_port(void)
{
	static unsigned calls; /* successive calls probe different ports */

	for (int i = 0; i < 1000; i++) {
		unsigned r = (unsigned)getpid() * 7919u + (calls++) * 104729u + (unsigned)time(NULL);
		int p = 20000 + (int)(r % 25000u);
		if (probe(p) == p && probe(p + 10000) == p + 10000)
			return p;
	}
	return -1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

redisContext *redis_client(const struct redis_proc *p)
{
	struct timeval tv = {1, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", p->port, tv);

	if (c && !c->err && redisSetTimeout(c, tv) == REDIS_OK)
		return c;
	if (c)
		redisFree(c);
	return NULL;
}

/* 1 if the server on p->port answers and is p->pid (not some other
 * process that holds the port). */
static int answers(const struct redis_proc *p)
{
	redisContext *c = redis_client(p);
	redisReply *r;
	int ok = 0;

	if (!c)
		return 0;
	r = redisCommand(c, "INFO server");
	if (r && r->type == REDIS_REPLY_STRING) {
		const char *pid = strstr(r->str, "process_id:");
		ok = pid && atol(pid + 11) == (long)p->pid;
	}
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return ok;
}

int redis_start(struct redis_proc *p, int port, const char *const *extra)
{
	char portstr[16];
	const char *argv[48];
	int argc = 0;

	p->pid = 0;
	p->port = port ? port : redis_free_port();
	if (p->port <= 0)
		return -1;
	if (!p->dir[0]) {
		snprintf(p->dir, sizeof(p->dir), "/tmp/pce-redis-XXXXXX");
		if (!mkdtemp(p->dir))
			return -1;
	}
	snprintf(portstr, sizeof(portstr), "%d", p->port);
	argv[argc++] = "redis-server";
	argv[argc++] = "--port";
	argv[argc++] = portstr;
	argv[argc++] = "--bind";
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "--save";
	argv[argc++] = "";
	argv[argc++] = "--appendonly";
	argv[argc++] = "no";
	argv[argc++] = "--dir";
	argv[argc++] = p->dir;
	argv[argc++] = "--logfile";
	argv[argc++] = "";
	argv[argc++] = "--loglevel";
	argv[argc++] = "warning";
	for (int i = 0; extra && extra[i] && argc < 46; i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;

	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			close(null);
		}
		execvp("redis-server", (char *const *)argv);
		_exit(127);
	}
	p->pid = pid;
	for (int i = 0; i < 500; i++) {
		int st;
		if (answers(p))
			return 0;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			p->pid = 0;
			return -1;
		}
		sleep_ms(10);
	}
	redis_stop(p);
	return -1;
}

void redis_signal(struct redis_proc *p, int sig)
{
	if (!p->pid)
		return;
	kill(p->pid, sig);
	if (sig == SIGKILL) {
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
}

void redis_stop(struct redis_proc *p)
{
	if (p->pid) {
		kill(p->pid, SIGCONT);
		kill(p->pid, SIGTERM);
		for (int i = 0; i < 300; i++) {
			if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
				p->pid = 0;
				break;
			}
			sleep_ms(10);
		}
		if (p->pid) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
			p->pid = 0;
		}
	}
	/* Nothing is persisted; a cluster node leaves its nodes.conf. */
	if (p->dir[0]) {
		char conf[96];
		snprintf(conf, sizeof(conf), "%s/nodes.conf", p->dir);
		unlink(conf);
		if (rmdir(p->dir) == 0)
			p->dir[0] = '\0';
	}
}
