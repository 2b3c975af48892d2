/*
 * thread.c - liburcu registration on first use, unregistration at thread
 * exit, and statistics-stripe ids.  See thread.h.
 *
 * Locking: stripe ids are handed out under stripe_lock (first use and thread
 * exit only; never on a lookup's fast path).
 */
#include "thread.h"

#include <pthread.h>

#include "rcu.h"

__thread struct pce_thread pce__thread __attribute__((tls_model("initial-exec")));

#ifdef PCE_TSAN
char pce__rcu_gp_token;
#endif

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static int key_error;

static pthread_mutex_t stripe_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t stripes_used; /* bit i: stripe i owned by a live thread */
static uint32_t stripe_next;  /* round robin once all are owned */

_Static_assert(PCE_STAT_STRIPES == 64, "stripes_used is a 64-bit mask");

static void stripe_take(struct pce_thread *t)
{
	pthread_mutex_lock(&stripe_lock);
	t->stripe_owned = ~stripes_used != 0;
	if (t->stripe_owned) {
		t->stripe = (uint32_t)__builtin_ctzll(~stripes_used);
		stripes_used |= 1ULL << t->stripe;
	} else {
		t->stripe = stripe_next++ % PCE_STAT_STRIPES;
	}
	pthread_mutex_unlock(&stripe_lock);
}

static void stripe_give_back(const struct pce_thread *t)
{
	if (!t->stripe_owned)
		return;
	pthread_mutex_lock(&stripe_lock);
	stripes_used &= ~(1ULL << t->stripe);
	pthread_mutex_unlock(&stripe_lock);
}

static void thread_exit(void *arg)
{
	struct pce_thread *t = arg;

	if (!t->registered)
		return;
	urcu_memb_unregister_thread();
	stripe_give_back(t);
	t->registered = 0;
}

static void key_create(void)
{
	key_error = pthread_key_create(&exit_key, thread_exit);
}

struct pce_thread *pce__thread_register(void)
{
	struct pce_thread *t = &pce__thread;

	pthread_once(&key_once, key_create);
	/* Without the key's destructor the thread would stay in liburcu's
	 * registry after exit, so refuse rather than register. */
	if (key_error || pthread_setspecific(exit_key, t) != 0)
		return NULL;
	urcu_memb_register_thread();
	stripe_take(t);
	t->pin_hint = t->stripe * 61u;
	t->registered = 1;
	return t;
}
