/*
 * reclaim.c - the reclaimer (see reclaim.h).
 *
 * Grace periods.  Writers never free: they push unlinked nodes, tables and
 * entries on their shard's retire lists under the shard lock.  A pass takes
 * every shard's lists (each under its lock), calls synchronize_rcu once for
 * the whole batch, and only then frees them.  An object unlinked before the
 * take was unreachable before the grace period began, so no reader can hold
 * it afterwards (RCU's guarantee).  One grace period per pass amortises its
 * cost (tens of microseconds) over every object retired in the interval.
 *
 * Release.  Entries on the lists are unlinked and unpinned (zombies join
 * only at zero pins, shard.c), so each entry freed here is handed to
 * on_release exactly once, with the reason recorded when it was unlinked.
 *
 * Wake-ups.  The thread sleeps reclaim_interval_ns on a condition variable.
 * A store that crosses a high watermark sets `wake` (atomic exchange; only
 * the first setter takes wake_lock to signal), so a busy writer pays one
 * atomic per store at most.
 */
#include "reclaim.h"

#include <errno.h>
#include <time.h>

#include "alloc.h"
#include "budget.h"
#include "pin.h"
#include "rcu.h"
#include "shard.h"

/* Move @s's retire lists to its taken lists: O(1) under the shard lock. */
static int take(struct pce_shard *s)
{
	pthread_mutex_lock(&s->lock);
	s->taken_nodes = s->retired_nodes;
	s->taken_tables = s->retired_tables;
	s->taken_entries = s->retired_entries;
	s->retired_nodes = NULL;
	s->retired_tables = NULL;
	s->retired_entries = NULL;
	pthread_mutex_unlock(&s->lock);
	return s->taken_nodes || s->taken_tables || s->taken_entries;
}

/* Free @s's taken lists; a grace period has passed since take(). */
static uint64_t release(struct pce_cache *c, struct pce_shard *s)
{
	uint64_t released = 0, bytes = 0;

	while (s->taken_nodes) {
		struct pce_node *n = s->taken_nodes;
		s->taken_nodes = n->retire_next;
		bytes += pce_node_size(n->len);
		pce_free(n);
	}
	while (s->taken_tables) {
		struct pce_ctable *t = s->taken_tables;
		s->taken_tables = t->retire_next;
		bytes += pce_ctable_size(t->log2cap);
		pce_free(t);
	}
	while (s->taken_entries) {
		struct pce_entry *e = s->taken_entries;
		s->taken_entries = e->clk_next;
		if (c->cfg.on_release) {
			struct pce_released r = {e->ns, e->value, e->kv_bytes, e->len,
						 (enum pce_reason)e->reason, e->id};
			c->cfg.on_release(c->cfg.release_ctx, &r);
		}
		released++;
		bytes += sizeof(*e);
		pce_free(e);
	}
	pce_sub_relaxed(&s->retired_bytes, bytes);
	return released;
}

/* reclaim_lock held. */
static void free_retired(struct pce_cache *c)
{
	uint64_t released = 0;
	int any = 0;

	for (uint32_t i = 0; i <= c->shard_mask; i++)
		any |= take(&c->shard[i]);
	if (!any)
		return;
	pce_rcu_synchronize();
	for (uint32_t i = 0; i <= c->shard_mask; i++)
		released += release(c, &c->shard[i]);
	pce_add_owned(&c->released, released);
}

void pce_reclaim_free_retired(struct pce_cache *c)
{
	pthread_mutex_lock(&c->reclaim_lock);
	free_retired(c);
	pthread_mutex_unlock(&c->reclaim_lock);
}

int pce_reclaim_run(struct pce_cache *c, int (*fn)(struct pce_cache *c, void *ctx), void *ctx)
{
	int rc;

	pthread_mutex_lock(&c->reclaim_lock);
	rc = fn(c, ctx);
	free_retired(c);
	pthread_mutex_unlock(&c->reclaim_lock);
	return rc;
}

void pce_reclaim_pass(struct pce_cache *c, int evict)
{
	uint64_t now, forced;

	pthread_mutex_lock(&c->reclaim_lock);
	now = pce_now(c);
	forced = pce_pin_expire(&c->pins, now);
	if (forced)
		pce_add_relaxed(&c->pins_forced, forced);
	for (uint32_t i = 0; i <= c->shard_mask; i++) {
		struct pce_shard *s = &c->shard[i];
		pthread_mutex_lock(&s->lock);
		pce_shard_expire_locked(c, s, now);
		pce_shard_collect_zombies_locked(s);
		pthread_mutex_unlock(&s->lock);
	}
	if (c->pass_fn)
		c->pass_fn(c, c->pass_ctx, now);
	if (evict)
		pce_budget_evict_to_low(c);
	free_retired(c);
	pce_add_owned(&c->reclaim_passes, 1);
	pthread_mutex_unlock(&c->reclaim_lock);
}

void pce_reclaim_wake(struct pce_cache *c)
{
	if (!c->thread_started || __atomic_exchange_n(&c->wake, 1, __ATOMIC_ACQ_REL))
		return;
	pthread_mutex_lock(&c->wake_lock);
	pthread_cond_signal(&c->wake_cond);
	pthread_mutex_unlock(&c->wake_lock);
}

static void deadline_after(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ns += (uint64_t)ts->tv_nsec;
	ts->tv_sec += (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
}

static void *reclaim_main(void *arg)
{
	struct pce_cache *c = arg;

	for (;;) {
		struct timespec ts;

		pthread_mutex_lock(&c->wake_lock);
		deadline_after(&ts, c->cfg.reclaim_interval_ns);
		while (!c->stop && !pce_load_acquire(&c->wake)) {
			if (pthread_cond_timedwait(&c->wake_cond, &c->wake_lock, &ts) == ETIMEDOUT)
				break;
		}
		if (c->stop) {
			pthread_mutex_unlock(&c->wake_lock);
			return NULL;
		}
		pthread_mutex_unlock(&c->wake_lock);
		__atomic_store_n(&c->wake, 0, __ATOMIC_RELEASE);
		pce_reclaim_pass(c, 1);
	}
}

int pce_reclaim_start(struct pce_cache *c)
{
	pthread_condattr_t attr;
	int rc;

	if (pthread_condattr_init(&attr) != 0)
		return PCE_ETHREAD;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&c->wake_cond, &attr);
	pthread_condattr_destroy(&attr);
	if (rc != 0)
		return PCE_ETHREAD;
	if (pthread_create(&c->thread, NULL, reclaim_main, c) != 0) {
		pthread_cond_destroy(&c->wake_cond);
		return PCE_ETHREAD;
	}
	c->thread_started = 1;
	return 0;
}

void pce_reclaim_stop(struct pce_cache *c)
{
	if (!c->thread_started)
		return;
	pthread_mutex_lock(&c->wake_lock);
	c->stop = 1;
	pthread_cond_signal(&c->wake_cond);
	pthread_mutex_unlock(&c->wake_lock);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->wake_cond);
	c->thread_started = 0;
}
