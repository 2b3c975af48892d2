/*
 * ctable.c - writer side of the RCU open-addressing table (see ctable.h for
 * the layout, invariants T1-T3 and the protocol).
 */
#include "ctable.h"

#include <string.h>

#include "alloc.h"

/* (T3): at most 3/4 of the slots used, and always one empty slot. */
static size_t max_used(uint32_t log2cap)
{
	size_t cap = (size_t)1 << log2cap;
	return cap - (cap + 3) / 4;
}

static uint32_t log2cap_for(size_t want)
{
	uint32_t l = 1;
	while (max_used(l) < want)
		l++;
	return l;
}

struct pce_ctable *pce_ctable_new(size_t want, size_t *bytes)
{
	uint32_t l = log2cap_for(want);
	size_t size = pce_ctable_size(l);
	struct pce_ctable *t = pce_zalloc(size);

	if (!t)
		return NULL;
	t->log2cap = l;
	*bytes = size;
	return t;
}

/* The slot holding @key, or the empty slot where it would go. */
static size_t slot_for(const struct pce_ctable *t, uint64_t key)
{
	size_t mask = pce_ctable_cap(t) - 1;
	size_t i = pce_ctable_home(t, key);

	while (t->slot[i].node != NULL && t->slot[i].key != key)
		i = (i + 1) & mask;
	return i;
}

int pce_ctable_has_room(const struct pce_ctable *t, uint64_t key)
{
	size_t i = slot_for(t, key);

	if (t->slot[i].node == PCE_CT_TOMB)
		return 1; /* reuses its own tombstone: used does not grow */
	return t->used + 1 <= max_used(t->log2cap);
}

void pce_ctable_add_locked(struct pce_ctable *t, uint64_t key, struct pce_node *n)
{
	size_t i = slot_for(t, key);

	PCE_ASSERT(t->slot[i].node == NULL || t->slot[i].node == PCE_CT_TOMB);
	if (t->slot[i].node == NULL) {
		PCE_ASSERT(t->used + 1 <= max_used(t->log2cap));
		t->slot[i].key = key; /* (T1): before the first publication */
		t->used++;
	}
	pce_add_owned(&t->live, 1);
	pce_rcu_publish(t->slot[i].node, n);
}

void pce_ctable_replace_locked(struct pce_ctable *t, uint64_t key, struct pce_node *n)
{
	size_t i = slot_for(t, key);

	PCE_ASSERT(t->slot[i].node != NULL && t->slot[i].node != PCE_CT_TOMB);
	pce_rcu_publish(t->slot[i].node, n);
}

void pce_ctable_delete_locked(struct pce_ctable *t, uint64_t key)
{
	size_t i = slot_for(t, key);

	PCE_ASSERT(t->slot[i].node != NULL && t->slot[i].node != PCE_CT_TOMB);
	pce_rcu_publish(t->slot[i].node, PCE_CT_TOMB);
	pce_sub_owned(&t->live, 1);
}

struct pce_ctable *pce_ctable_rebuild(const struct pce_ctable *old, uint64_t key,
				      struct pce_node *n, size_t *bytes)
{
	size_t live = (old ? old->live : 0) + (n != NULL);
	/* Leave room to grow: a rebuild for every add would copy O(fan-out). */
	struct pce_ctable *t = pce_ctable_new(live * 2, bytes);
	struct pce_node *c;
	size_t i;

	if (!t)
		return NULL;
	pce_ctable_for_each(old, i, c) {
		size_t j = slot_for(t, old->slot[i].key);
		t->slot[j].key = old->slot[i].key;
		t->slot[j].node = c;
		t->used++;
		t->live++;
	}
	if (n) {
		size_t j = slot_for(t, key);
		t->slot[j].key = key;
		t->slot[j].node = n;
		t->used++;
		t->live++;
	}
	return t;
}

struct pce_node *pce_ctable_only_child(const struct pce_ctable *t)
{
	struct pce_node *c, *only = NULL;
	size_t i;

	if (!t || t->live != 1)
		return NULL;
	pce_ctable_for_each(t, i, c)
		only = c;
	return only;
}
