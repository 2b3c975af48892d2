/*
 * pin.c - pin table (see pin.h for states, handles and invariant I10).
 *
 * Entry side.  A lookup found the entry under RCU and adds PCE_ENTRY_PIN to
 * its pinword with one fetch_add.  If DEAD was already set, the entry has
 * been unlinked: the lookup takes the increment back and reports the race.
 * Writers decide an entry's fate only while holding the shard lock: an
 * eviction CASes pinword 0 -> DEAD (so a pinned entry is never evicted), a
 * removal sets DEAD and parks a still-pinned entry on the shard's zombie
 * list, which the reclaimer frees once its pins are gone.  A lookup's
 * transient increment on a DEAD entry happens inside its read-side section,
 * and the entry is freed only after a grace period, so it never touches
 * freed memory.
 */
#include "pin.h"

#include "alloc.h"

int pce_pintable_init(struct pce_pintable *pt, uint32_t cap, uint64_t *bytes)
{
	size_t size = (size_t)cap * sizeof(struct pce_pin_slot);

	pt->slot = pce_zalloc_aligned(size);
	if (!pt->slot)
		return PCE_ENOMEM;
	pt->cap = cap;
	for (uint32_t i = 0; i < cap; i++)
		pt->slot[i].tag = pce_pin_tag(1, PCE_PIN_FREE); /* G1: never generation 0 */
	*bytes = size;
	return 0;
}

void pce_pintable_fini(struct pce_pintable *pt)
{
	pce_free(pt->slot);
	pt->slot = NULL;
}

int pce_pin_take_rcu(struct pce_pintable *pt, struct pce_entry *e, uint64_t deadline,
		     uint32_t *hint, uint64_t *id)
{
	uint32_t i = *hint % pt->cap;

	for (uint32_t probes = 0; probes < pt->cap; probes++, i = i + 1 == pt->cap ? 0 : i + 1) {
		struct pce_pin_slot *s = &pt->slot[i];
		uint64_t tag = pce_load_relaxed(&s->tag);

		if ((tag & 3) != PCE_PIN_FREE ||
		    !__atomic_compare_exchange_n(&s->tag, &tag, tag | PCE_PIN_BUSY, 0,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		if (__atomic_fetch_add(&e->pinword, PCE_ENTRY_PIN, __ATOMIC_ACQ_REL) &
		    PCE_ENTRY_DEAD) {
			__atomic_fetch_sub(&e->pinword, PCE_ENTRY_PIN, __ATOMIC_RELEASE);
			pce_store_release(&s->tag, tag);
			return PCE_ENOENT;
		}
		s->entry = e;
		pce_store_relaxed(&s->deadline, deadline);
		pce_store_release(&s->tag, (tag & ~3ULL) | PCE_PIN_ACTIVE);
		*hint = i + 1;
		*id = (tag >> 2) << PCE_PIN_INDEX_BITS | i;
		return 0;
	}
	return PCE_ENOPINS;
}

/* Move an ACTIVE slot with tag @tag to BUSY, drop its entry pin, free it. */
static int slot_release(struct pce_pin_slot *s, uint64_t tag)
{
	uint64_t gen = tag >> 2;

	if (!__atomic_compare_exchange_n(&s->tag, &tag, pce_pin_tag(gen, PCE_PIN_BUSY), 0,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return PCE_ESTALE;
	/* Last touch of the entry: once unpinned, the reclaimer may free it. */
	__atomic_fetch_sub(&s->entry->pinword, PCE_ENTRY_PIN, __ATOMIC_RELEASE);
	s->entry = NULL;
	pce_store_release(&s->tag, pce_pin_tag(pce_pin_gen_next(gen), PCE_PIN_FREE));
	return 0;
}

int pce_pin_put(struct pce_pintable *pt, uint64_t id)
{
	uint64_t i = id & ((1u << PCE_PIN_INDEX_BITS) - 1);
	uint64_t gen = id >> PCE_PIN_INDEX_BITS;

	if (id == 0 || i >= pt->cap)
		return PCE_ESTALE;
	return slot_release(&pt->slot[i], pce_pin_tag(gen, PCE_PIN_ACTIVE));
}

uint64_t pce_pin_expire(struct pce_pintable *pt, uint64_t now)
{
	uint64_t forced = 0;

	for (uint32_t i = 0; i < pt->cap; i++) {
		struct pce_pin_slot *s = &pt->slot[i];
		uint64_t tag = pce_load_acquire(&s->tag);

		/* The deadline may already belong to a newer pin of the slot;
		 * then the generation in tag is old and the CAS fails. */
		if ((tag & 3) == PCE_PIN_ACTIVE && pce_load_relaxed(&s->deadline) <= now &&
		    slot_release(s, tag) == 0)
			forced++;
	}
	return forced;
}

uint64_t pce_pin_live(const struct pce_pintable *pt)
{
	uint64_t live = 0;

	for (uint32_t i = 0; i < pt->cap; i++)
		live += (pce_load_relaxed(&pt->slot[i].tag) & 3) == PCE_PIN_ACTIVE;
	return live;
}

