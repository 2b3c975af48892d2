/*
 * thread.h - per-thread and per-process state: the calling thread's
 * statistics stripe and pin hint, and what fork() must reset.
 *
 * A thread is set up on its first call into libpce that needs it (a
 * lookup): it gets a statistics stripe and a pin hint, and a pthread key
 * destructor gives the stripe back when the thread exits.  liburcu-bp
 * registers the thread on its first read-side section and unregisters it at
 * exit by itself (rcu.h), so callers never register by hand, and a thread
 * the host registered with liburcu's memb, qsbr or bp flavour is no
 * different.
 *
 * Statistics stripes: lookups count into stripe[thread->stripe] of the cache
 * they use.  Each of the first PCE_STAT_OWNED_STRIPES stripes has exactly
 * one writer, the live thread that owns it (ids are recycled at thread exit,
 * under stripe_lock, which orders the old owner's last add before the new
 * owner's first), and it adds with a plain load and store: no locked
 * instruction on the lookup path.  Threads beyond them share the
 * PCE_STAT_SHARED_STRIPES stripes that follow, round robin, and add with
 * atomic read-modify-writes.  No stripe has both kinds of writer: an owner's
 * plain store would erase a concurrent atomic add.
 *
 * fork(): pthread_atfork handlers, installed once by the first
 * pce_cache_create(), take stripe_lock and liburcu-bp's locks before the
 * fork and release them after it in both processes.  In the child,
 * liburcu-bp forgets every reader but the forking thread (a parent thread
 * caught inside a read-side section would otherwise block every grace period
 * forever), the stripe map keeps only the forking thread's stripe, and
 * pce__fork_gen is bumped.  A cache records the generation it was created
 * in; every call on a cache of another generation returns PCE_EFORKED before
 * it touches anything (core.h): its locks, reclaim thread and readers belong
 * to the parent.  Caches created in the child work fully.
 */
#ifndef PCE_THREAD_H
#define PCE_THREAD_H

#include <stdint.h>

#include "internal.h"

#define PCE_STAT_OWNED_STRIPES 64u
#define PCE_STAT_SHARED_STRIPES 8u
#define PCE_STAT_STRIPES (PCE_STAT_OWNED_STRIPES + PCE_STAT_SHARED_STRIPES)

struct pce_thread {
	int registered;
	uint32_t stripe;   /* < PCE_STAT_STRIPES */
	int stripe_owned;  /* 1: stripe < PCE_STAT_OWNED_STRIPES, this thread its one writer */
	uint32_t pin_hint; /* where this thread's next pin-slot search starts */
};

extern __thread struct pce_thread pce__thread __attribute__((tls_model("initial-exec")));

/* Bumped in a fork() child; written only there, before the child's first
 * instruction after fork(), so readers need no ordering. */
extern uint32_t pce__fork_gen;

/* Installs the process-wide hooks (thread-exit key, fork handlers) once.
 * Return: 0, or PCE_ENOMEM if they could not be installed. */
int pce__process_init(void);

/* Sets up the calling thread; NULL if that failed (out of memory). */
struct pce_thread *pce__thread_register(void);

/* The calling thread's state, setting it up first if needed. */
static inline struct pce_thread *pce_thread_enter(void)
{
	if (pce_likely(pce__thread.registered))
		return &pce__thread;
	return pce__thread_register();
}

#endif /* PCE_THREAD_H */
