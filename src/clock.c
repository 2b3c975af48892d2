/*
 * clock.c - CLOCK ring and hand (see clock.h, invariant I8).
 */
#include "clock.h"

void pce_clock_insert(struct pce_shard *s, struct pce_entry *e)
{
	struct pce_entry *h = s->hand;

	if (!h) {
		e->clk_prev = e->clk_next = e;
		s->hand = e;
		return;
	}
	/* Just behind the hand: the last entry the hand will reach. */
	e->clk_next = h;
	e->clk_prev = h->clk_prev;
	h->clk_prev->clk_next = e;
	h->clk_prev = e;
}

void pce_clock_remove(struct pce_shard *s, struct pce_entry *e)
{
	if (e->clk_next == e) {
		s->hand = NULL;
	} else {
		if (s->hand == e)
			s->hand = e->clk_next;
		e->clk_prev->clk_next = e->clk_next;
		e->clk_next->clk_prev = e->clk_prev;
	}
	e->clk_prev = e->clk_next = NULL;
}

struct pce_entry *pce_clock_advance(struct pce_shard *s, enum pce_policy policy)
{
	struct pce_entry *e = s->hand;

	if (!e)
		return NULL;
	s->hand = e->clk_next;
	if (pce_entry_pins(pce_load_relaxed(&e->pinword)))
		return NULL;
	if (policy == PCE_POLICY_CLOCK_LRU) {
		if (pce_load_relaxed(&e->ref)) {
			pce_store_relaxed(&e->ref, 0);
			return NULL;
		}
	} else {
		uint8_t f = pce_load_relaxed(&e->freq);
		if (f) {
			pce_store_relaxed(&e->freq, (uint8_t)(f - 1));
			return NULL;
		}
	}
	return e;
}
