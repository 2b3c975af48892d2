/*
 * clock.h - the CLOCK ring of a shard: every live entry of the shard, in a
 * circular doubly linked list, and the hand that sweeps it.
 *
 * New entries go just behind the hand, so they are examined last.  The hand
 * gives each entry a second chance: CLOCK-LRU clears a set reference bit,
 * CLOCK-LFU ages a 4-bit frequency counter by one; an entry is a victim when
 * its bit is clear / counter is zero and it is not pinned.
 *
 * Invariant (I8): the ring holds exactly the shard's live entries; hand is
 * NULL iff the ring is empty.
 * Protocol: links and hand under the shard lock.  ref/freq are written by
 * lookups too (relaxed stores, only when the value changes): a lost update
 * costs one second chance, never correctness.
 */
#ifndef PCE_CLOCK_H
#define PCE_CLOCK_H

#include "core.h"

void pce_clock_insert(struct pce_shard *s, struct pce_entry *e);
void pce_clock_remove(struct pce_shard *s, struct pce_entry *e);

/*
 * pce_clock_advance - Examine the entry under the hand and move the hand on.
 * Return: the entry if it is a victim (unpinned, no second chance left), or
 * NULL after giving it its second chance or skipping it because it is pinned.
 */
struct pce_entry *pce_clock_advance(struct pce_shard *s, enum pce_policy policy);

/* A lookup touched @e (lookup.c): the only write a lookup makes to an entry. */
static inline void pce_clock_touch(struct pce_entry *e, enum pce_policy policy)
{
	if (policy == PCE_POLICY_CLOCK_LRU) {
		if (!pce_load_relaxed(&e->ref))
			pce_store_relaxed(&e->ref, 1);
	} else {
		uint8_t f = pce_load_relaxed(&e->freq);
		if (f < PCE_CLOCK_FREQ_MAX)
			pce_store_relaxed(&e->freq, (uint8_t)(f + 1));
	}
}

#endif /* PCE_CLOCK_H */
