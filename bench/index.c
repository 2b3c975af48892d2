/*
 * index.c - what the three indexes of index.h share: the list of them, and
 * one-off work on a fresh entered thread.
 */
#include "index.h"

#include "runner.h"

const struct index_ops *const index_all[INDEX_COUNT] = {&index_pce_ops, &index_rwtrie_ops,
							&index_blockhash_ops};

struct entered {
	const struct index_ops *ops;
	struct bench_index *ix;
	void (*fn)(const struct index_ops *ops, struct bench_index *ix, void *arg);
	void *arg;
};

static void entered_main(void *arg)
{
	struct entered *e = arg;

	e->ops->thread_enter(e->ix);
	e->fn(e->ops, e->ix, e->arg);
	e->ops->thread_leave(e->ix);
}

int index_run_on_thread(const struct index_ops *ops, struct bench_index *ix,
			void (*fn)(const struct index_ops *ops, struct bench_index *ix, void *arg),
			void *arg)
{
	struct entered e = {ops, ix, fn, arg};

	return run_on_thread(entered_main, &e);
}
