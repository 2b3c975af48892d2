/*
 * thread.c - per-thread set-up on first use, clean-up at thread exit,
 * statistics-stripe ids, and the fork() handlers.  See thread.h.
 *
 * Locking: stripe ids are handed out under stripe_lock (first use and thread
 * exit only; never on a lookup's fast path).  The fork handlers take
 * stripe_lock, then liburcu-bp's grace-period and registry locks (inside
 * urcu_bp_before_fork()); nothing takes them in the other order.
 */
#include "thread.h"

#include <pthread.h>

#include "rcu.h"

__thread struct pce_thread pce__thread __attribute__((tls_model("initial-exec")));
uint32_t pce__fork_gen;

#ifdef PCE_TSAN
char pce__rcu_gp_token;
#endif

static pthread_once_t process_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static int process_error;

static pthread_mutex_t stripe_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t stripes_used; /* bit i: owned stripe i taken by a live thread */
static uint32_t stripe_next;  /* round robin over the shared stripes */

_Static_assert(PCE_STAT_OWNED_STRIPES == 64, "stripes_used is a 64-bit mask");

static void stripe_take(struct pce_thread *t)
{
	pthread_mutex_lock(&stripe_lock);
	t->stripe_owned = ~stripes_used != 0;
	if (t->stripe_owned) {
		t->stripe = (uint32_t)__builtin_ctzll(~stripes_used);
		stripes_used |= 1ULL << t->stripe;
	} else {
		t->stripe = PCE_STAT_OWNED_STRIPES + stripe_next++ % PCE_STAT_SHARED_STRIPES;
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
	stripe_give_back(t);
	t->registered = 0;
}

/* Before fork(): no thread may be inside stripe_lock or liburcu-bp's
 * registry, so that the child finds both consistent. */
static void fork_prepare(void)
{
	pthread_mutex_lock(&stripe_lock);
	urcu_bp_before_fork();
}

static void fork_parent(void)
{
	urcu_bp_after_fork_parent();
	pthread_mutex_unlock(&stripe_lock);
}

/* In the child only the forking thread exists: liburcu-bp drops the other
 * readers, the other threads' stripes are free, and every cache created so
 * far belongs to the parent. */
static void fork_child(void)
{
	const struct pce_thread *t = &pce__thread;

	urcu_bp_after_fork_child();
	stripes_used = t->registered && t->stripe_owned ? 1ULL << t->stripe : 0;
	pce__fork_gen++;
	pthread_mutex_unlock(&stripe_lock);
}

static void process_setup(void)
{
	process_error = pthread_key_create(&exit_key, thread_exit) != 0 ||
			pthread_atfork(fork_prepare, fork_parent, fork_child) != 0;
}

int pce__process_init(void)
{
	pthread_once(&process_once, process_setup);
	return process_error ? PCE_ENOMEM : 0;
}

struct pce_thread *pce__thread_register(void)
{
	struct pce_thread *t = &pce__thread;

	/* Without the key's destructor the thread's stripe would stay taken
	 * after it exits, so refuse rather than set up. */
	if (pce__process_init() != 0 || pthread_setspecific(exit_key, t) != 0)
		return NULL;
	stripe_take(t);
	t->pin_hint = t->stripe * 61u;
	t->registered = 1;
	return t;
}
