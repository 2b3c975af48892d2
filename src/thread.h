/*
 * thread.h - per-thread state: liburcu registration and the thread's
 * statistics stripe.
 *
 * A thread is registered with liburcu (memb) on its first call into libpce
 * and unregistered by a pthread key destructor when it exits, so callers
 * never register by hand.  Registration is per process, not per cache.
 *
 * Statistics stripes: lookups count into stripe[thread->stripe] of the cache
 * they use.  Up to PCE_STAT_STRIPES live threads get a stripe of their own
 * (ids are recycled at thread exit); beyond that, threads share stripes,
 * which stays correct because stripe counters are atomic adds.
 */
#ifndef PCE_THREAD_H
#define PCE_THREAD_H

#include <stdint.h>

#include "internal.h"

#define PCE_STAT_STRIPES 64u

struct pce_thread {
	int registered;
	uint32_t stripe;   /* < PCE_STAT_STRIPES */
	int stripe_owned;  /* 1: no other live thread uses this stripe */
	uint32_t pin_hint; /* where this thread's next pin-slot search starts */
};

extern __thread struct pce_thread pce__thread __attribute__((tls_model("initial-exec")));

/* Registers the calling thread; NULL if that failed (out of memory). */
struct pce_thread *pce__thread_register(void);

/* The calling thread's state, registering it first if needed. */
static inline struct pce_thread *pce_thread_enter(void)
{
	if (pce_likely(pce__thread.registered))
		return &pce__thread;
	return pce__thread_register();
}

#endif /* PCE_THREAD_H */
