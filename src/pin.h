/*
 * pin.h - the pin table: per-pin records with a generation and a lease, so
 * that a pin can be released exactly once, from any thread, and an expired
 * lease can be force-released by the reclaimer without ever touching freed
 * memory.
 *
 * A pin is two counts kept in step: a slot of the table (ACTIVE, pointing at
 * the entry) and PCE_ENTRY_PIN in the entry's pinword.  The handle is
 * (generation << 24 | slot index); a handle whose generation no longer
 * matches its slot is stale (released twice, or after a forced release).
 *
 * Generations (G1): a slot's generation runs 1, 2, ..., PCE_PIN_GEN_MAX, 1,
 * ...: exactly the 40 bits the handle keeps, so every handle names its slot's
 * whole generation (a release always finds its pin), and never 0, so no
 * handle is 0 (id 0 means "no pin"), not even slot 0's.  A stale handle is
 * recognised unless its slot has since been reused a multiple of
 * PCE_PIN_GEN_MAX times (2^40 - 1: days at 10^7 pins per second on one slot).
 *
 * Slot states (tag = generation << 2 | state):
 *   FREE --claim (CAS)--> BUSY --fill, release store--> ACTIVE
 *   ACTIVE --release or force (CAS)--> BUSY --unpin entry, gen+1--> FREE
 * Only the thread that moved a slot to BUSY touches its entry/deadline.
 *
 * Invariant (I10): for every entry, pins(pinword) == number of ACTIVE slots
 * naming it, whenever no pin operation is in flight.
 */
#ifndef PCE_PIN_H
#define PCE_PIN_H

#include "core.h"

#define PCE_PIN_FREE 0u
#define PCE_PIN_ACTIVE 1u
#define PCE_PIN_BUSY 2u
#define PCE_PIN_INDEX_BITS 24
#define PCE_PIN_GEN_MAX ((1ULL << (64 - PCE_PIN_INDEX_BITS)) - 1)

static inline uint64_t pce_pin_tag(uint64_t gen, unsigned state)
{
	return gen << 2 | state;
}

/* The generation after @gen (G1). */
static inline uint64_t pce_pin_gen_next(uint64_t gen)
{
	return gen == PCE_PIN_GEN_MAX ? 1 : gen + 1;
}

int pce_pintable_init(struct pce_pintable *pt, uint32_t cap, uint64_t *bytes);
void pce_pintable_fini(struct pce_pintable *pt);

/*
 * pce_pin_take_rcu - Pin @e (found under RCU, so its memory is valid) until
 * @deadline.  Wait-free: at most cap claim attempts.
 * Return: 0 and *id; PCE_ENOPINS no free slot; PCE_ENOENT @e was unlinked
 * concurrently (it must not be handed out).
 */
int pce_pin_take_rcu(struct pce_pintable *pt, struct pce_entry *e, uint64_t deadline,
		     uint32_t *hint, uint64_t *id);

/* Release the pin @id.  Return: 0 or PCE_ESTALE. */
int pce_pin_put(struct pce_pintable *pt, uint64_t id);

/* Force-release every pin whose lease ended before @now; returns how many. */
uint64_t pce_pin_expire(struct pce_pintable *pt, uint64_t now);

/* Number of ACTIVE slots (a snapshot). */
uint64_t pce_pin_live(const struct pce_pintable *pt);

#endif /* PCE_PIN_H */
