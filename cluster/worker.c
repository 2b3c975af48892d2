/*
 * worker.c - the L2 thread of a tier: the only thread that talks to Redis.
 *
 * Queues (under tier->mu):
 *   lq  lookups: a caller enqueues, waits on tier->done at most budget_us,
 *       then gives up: a request still QUEUED is unlinked and freed by the
 *       caller; one RUNNING is marked ABANDONED and freed by the worker.
 *   wq  write events from pce_cluster_on_event(), bounded by queue_limit.
 * The worker serves lookups first (a caller is waiting), then writes in
 * event order, then timers.  It drops tier->mu around every Redis call, so
 * callers never wait on I/O: they wait on a condition variable with a
 * deadline.  (hiredis is not instrumented for TSan; every hand-off between
 * threads goes through mu.)
 *
 * Breaker.  A failed connect or a lost connection (error, EOF, socket
 * timeout) closes the connection and opens the breaker: t->st.connected is
 * 0, callers skip L2 at once (flag UNAVAILABLE) and the worker retries after
 * a backoff doubling from backoff_min_ms to backoff_max_ms.  After a
 * connect it loads the script, heartbeats every namespace (detecting a
 * Redis that lost its data by its boot token) and, if writes were lost or
 * Redis lost data, takes a new epoch, registers it and republishes the
 * mirror.  Only then is the tier "ready" (pce_cluster_sync).
 *
 * A lookup that finds its connection dead reconnects once at once and
 * retries: the usual case is an idle connection to a restarted server.
 *
 * Timers: heartbeat every lease_ms / 3; TTL refresh (republish without a
 * new epoch) every key_ttl_ms / 3.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"

uint64_t pce__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void pce__deadline_after_us(struct timespec *ts, uint64_t us)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(us / 1000000);
	ts->tv_nsec += (long)(us % 1000000) * 1000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Unlocked: closes the connection and opens the breaker.  The backoff
 * starts over after a working connection was lost and doubles while
 * connects keep failing. */
static void went_down(struct pce_cluster *t)
{
	pce__conn_close(&t->conn);
	if (t->connected)
		t->backoff_ms = t->cfg.backoff_min_ms;
	else if (t->backoff_ms < t->cfg.backoff_max_ms / 2)
		t->backoff_ms *= 2;
	else
		t->backoff_ms = t->cfg.backoff_max_ms;
	if (!t->breaker_open)
		PCE__ADD(t, breaker_opens, 1);
	t->breaker_open = 1;
	t->connected = 0;
	PCE__SET(t, connected, 0);
	t->next_connect_ms = pce__now_ms() + t->backoff_ms;
}

/* Unlocked: after a heartbeat, if Redis lost its data (@lost) or writes
 * were lost (t->resync), a new epoch is registered first, hiding the old
 * life's chunks at once, then the mirror is republished.  0 or
 * PCE_EUNAVAIL. */
static int resync(struct pce_cluster *t, int lost)
{
	int again = 0;

	if (!lost && !t->resync)
		return 0;
	/* The first connect's publish is no republish. */
	if (__atomic_load_n(&t->st.connects, __ATOMIC_RELAXED))
		PCE__ADD(t, republishes, 1);
	pce__publish_new_epoch(t);
	t->resync = 0;
	if (pce__publish_heartbeat(t, &again) || pce__publish_all(t) || t->resync)
		return PCE_EUNAVAIL;
	return 0;
}

static void timers_from(struct pce_cluster *t, uint64_t now, int heartbeat, int refresh)
{
	if (heartbeat)
		t->next_heartbeat_ms = now + t->cfg.lease_ms / 3;
	if (refresh)
		t->next_refresh_ms = now + t->cfg.key_ttl_ms / 3;
}

/* Unlocked: connect, register, resync; on any failure the breaker stays
 * open. */
static void try_connect(struct pce_cluster *t)
{
	int lost = 0;

	if (pce__conn_open(&t->conn)) {
		went_down(t);
		return;
	}
	t->connected = 1;
	if (pce__publish_heartbeat(t, &lost) || resync(t, lost)) {
		went_down(t);
		return;
	}
	t->breaker_open = 0;
	PCE__ADD(t, connects, 1);
	PCE__SET(t, connected, 1);
	timers_from(t, pce__now_ms(), 1, 1);
}

/* Unlocked: the periodic heartbeat, and the TTL refresh when due. */
static void tick(struct pce_cluster *t, int refresh)
{
	int lost = 0;
	int rc = pce__publish_heartbeat(t, &lost);

	if (!rc && lost)
		rc = resync(t, lost);
	else if (!rc && refresh)
		rc = pce__publish_all(t);
	if (rc || t->resync)
		went_down(t);
	timers_from(t, pce__now_ms(), 1, refresh);
}

static void rtt_record(struct pce_cluster *t, uint64_t us)
{
	unsigned b = 0;

	while (b + 1 < PCE__RTT_BUCKETS && (1ull << b) <= us)
		b++;
	PCE__ADD(t, rtt[b], 1);
	uint64_t max = __atomic_load_n(&t->st.rtt_max_us, __ATOMIC_RELAXED);
	if (us > max)
		PCE__SET(t, rtt_max_us, us);
}

/* Locked: publishes the worker's state to pce_cluster_sync() and wakes
 * every caller waiting on tier->done. */
static void set_ready(struct pce_cluster *t)
{
	t->ready = t->connected && !t->resync;
	pthread_cond_broadcast(&t->done);
}

/* Locked on entry and exit. */
static void serve_lookup(struct pce_cluster *t)
{
	struct pce__lreq *q = t->lq_head;

	t->lq_head = q->next;
	if (!t->lq_head)
		t->lq_tail = NULL;
	q->state = LREQ_RUNNING;
	pthread_mutex_unlock(&t->mu);

	int rc = PCE_EUNAVAIL;
	for (int attempt = 0; attempt < 2 && t->connected; attempt++) {
		uint64_t t0 = now_us();
		rc = pce__script_lookup(t, q);
		if (rc != PCE_EUNAVAIL) {
			rtt_record(t, now_us() - t0);
			break;
		}
		/* A connection that died while idle (a server restarted
		 * since the last request) fails the first request on it:
		 * reconnect once at once; if that fails too, the breaker
		 * stays open with its backoff. */
		went_down(t);
		if (attempt == 0)
			try_connect(t);
	}
	pthread_mutex_lock(&t->mu);
	q->rc = rc;
	if (q->state == LREQ_ABANDONED) {
		free(q->ans.d);
		free(q);
	} else {
		q->state = LREQ_DONE;
	}
	set_ready(t);
}

static void *worker_main(void *arg)
{
	struct pce_cluster *t = arg;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		uint64_t now = pce__now_ms();

		if (t->lq_head) {
			serve_lookup(t);
			continue;
		}
		if (t->wq_head) {
			struct pce__op *ops = t->wq_head;
			size_t n = t->wq_len;
			t->wq_head = t->wq_tail = NULL;
			t->wq_len = 0;
			pthread_mutex_unlock(&t->mu);
			if (pce__publish_ops(t, ops))
				went_down(t);
			pthread_mutex_lock(&t->mu);
			t->processed += n;
			set_ready(t);
			continue;
		}
		if (t->stop)
			break;
		if (!t->connected && now >= t->next_connect_ms) {
			pthread_mutex_unlock(&t->mu);
			try_connect(t);
			pthread_mutex_lock(&t->mu);
			set_ready(t);
			continue;
		}
		if (t->connected && (now >= t->next_heartbeat_ms || now >= t->next_refresh_ms)) {
			pthread_mutex_unlock(&t->mu);
			tick(t, now >= t->next_refresh_ms);
			pthread_mutex_lock(&t->mu);
			set_ready(t);
			continue;
		}
		uint64_t wake = t->connected ? (t->next_heartbeat_ms < t->next_refresh_ms
							? t->next_heartbeat_ms
							: t->next_refresh_ms)
					     : t->next_connect_ms;
		struct timespec ts;
		pce__deadline_after_us(&ts, (wake > now ? wake - now : 0) * 1000);
		pthread_cond_timedwait(&t->work, &t->mu, &ts);
	}
	pthread_mutex_unlock(&t->mu);
	pce__conn_close(&t->conn);
	return NULL;
}

int pce__worker_start(struct pce_cluster *t)
{
	t->backoff_ms = t->cfg.backoff_min_ms;
	t->next_connect_ms = 0;
	return pthread_create(&t->thread, NULL, worker_main, t) ? PCE_ETHREAD : 0;
}

void pce__worker_stop(struct pce_cluster *t)
{
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_signal(&t->work);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
}
