/*
 * rcu.h - every RCU primitive libpce uses, in one place.
 *
 * Flavour: liburcu's bulletproof flavour (urcu-bp).  It keeps a reader
 * registry of its own, apart from memb's and qsbr's, so a host thread that
 * registered itself with liburcu (any flavour) calls libpce like any other
 * thread; it registers a thread on the thread's first read-side section and
 * unregisters it at thread exit by itself; and it has fork hooks that prune
 * the child's registry down to the forking thread (thread.c installs them).
 * Its read side costs about 2 ns more per section than memb's, through the
 * same shared-library calls (bench/rcu_flavour.c, docs/build.md).
 *
 * Publication and dereference use C11 acquire/release atomics instead of
 * liburcu's rcu_assign_pointer()/rcu_dereference(): on x86 they compile to
 * the same plain moves, and ThreadSanitizer understands them (it cannot see
 * liburcu 0.13's asm barriers).  Under TSan, every read-side unlock releases
 * and every grace period acquires a shared token, which tells TSan that all
 * reads made before a grace period happen before the frees after it.
 *
 * Reclamation never uses call_rcu: the reclaimer waits for a grace period
 * itself (reclaim.c), so no liburcu worker thread exists and nothing is left
 * pending at exit.
 *
 * Licence note: building with PCE_URCU_LGPL_INLINE (-D_LGPL_SOURCE) inlines
 * LGPL-2.1 code from liburcu into libpce; the default build calls liburcu's
 * shared library instead.
 */
#ifndef PCE_RCU_H
#define PCE_RCU_H

#include <urcu/urcu-bp.h>

#include "internal.h"

#if defined(__SANITIZE_THREAD__)
#define PCE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PCE_TSAN 1
#endif
#endif

#ifdef PCE_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char pce__rcu_gp_token;
#define PCE_TSAN_RELEASE(a) __tsan_release(a)
#define PCE_TSAN_ACQUIRE(a) __tsan_acquire(a)
#else
#define PCE_TSAN_RELEASE(a) ((void)0)
#define PCE_TSAN_ACQUIRE(a) ((void)0)
#endif

static inline void pce_rcu_read_lock(void)
{
	urcu_bp_read_lock();
}

static inline void pce_rcu_read_unlock(void)
{
	PCE_TSAN_RELEASE(&pce__rcu_gp_token);
	urcu_bp_read_unlock();
}

/* Waits until every read-side section that began before the call has ended.
 * Must not be called inside a read-side section. */
static inline void pce_rcu_synchronize(void)
{
	urcu_bp_synchronize_rcu();
	PCE_TSAN_ACQUIRE(&pce__rcu_gp_token);
}

/* Publish a fully initialised object to readers. */
#define pce_rcu_publish(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
/* Read a published pointer inside a read-side section. */
#define pce_rcu_deref(p) __atomic_load_n(&(p), __ATOMIC_ACQUIRE)

#endif /* PCE_RCU_H */
