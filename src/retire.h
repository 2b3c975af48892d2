/*
 * retire.h - pushing unlinked objects onto their shard's retire lists.
 *
 * Called with the shard lock held, after the object was unpublished.  The
 * reclaimer takes the lists under the same lock, waits for a grace period,
 * and only then frees (reclaim.c).  retired_bytes is a gauge the statistics
 * read without the lock.
 */
#ifndef PCE_RETIRE_H
#define PCE_RETIRE_H

#include "core.h"

static inline void pce_retired_bytes_add(struct pce_shard *s, size_t bytes)
{
	pce_add_relaxed(&s->retired_bytes, bytes);
}

static inline void pce_retire_node(struct pce_shard *s, struct pce_node *n)
{
	n->retire_next = s->retired_nodes;
	s->retired_nodes = n;
	pce_retired_bytes_add(s, pce_node_size(n->len));
}

static inline void pce_retire_table(struct pce_shard *s, struct pce_ctable *t)
{
	if (!t)
		return;
	t->retire_next = s->retired_tables;
	s->retired_tables = t;
	pce_retired_bytes_add(s, pce_ctable_size(t->log2cap));
}

static inline void pce_retire_entry(struct pce_shard *s, struct pce_entry *e)
{
	e->clk_next = s->retired_entries;
	s->retired_entries = e;
	pce_retired_bytes_add(s, sizeof(*e));
}

#endif /* PCE_RETIRE_H */
