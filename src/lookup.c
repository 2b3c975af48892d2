/*
 * lookup.c - pce_cache_lookup(): the wait-free read path.
 *
 *   1. rcu_read_lock (a per-thread counter; no shared write).
 *   2. Walk the shard's trie (trie.c): one table probe and one edge compare
 *      per node, O(query length).
 *   3. Pick the entry: the hint of the node where the match ended (latest-
 *      expiring entry extending the match, I6), or with PCE_LOOKUP_WHOLE the
 *      deepest entry wholly inside the query.  If that entry has expired
 *      (or, WHOLE, a concurrent remove took it off its node), walk once
 *      more checking every node (trie_match_live).
 *   4. Round down to whole blocks; below min_prefix_len is a miss.
 *   5. Touch the entry's CLOCK state (only if it changes), pin it if asked.
 *      A pin fails on an entry a writer unlinked after the walk (O4): then
 *      choose again, up to PIN_TRIES choices in all (L1).
 *   6. rcu_read_unlock, then count into this thread's statistics stripe.
 *
 * No lock, no allocation (after the thread's first call), no loop that
 * waits for another thread: the walk is bounded by the query, each table
 * probe by the table size (T3), the pin-slot search by the table of pins,
 * and the choice is made at most PIN_TRIES times.  The clock is read only
 * when an entry has a TTL or a pin has a lease.
 *
 * (L1) A pin that finds its entry DEAD after a replace, remove or clear has
 * acquired the DEAD bit, which the writer set after publishing the
 * successor or unpublishing the entry (O7 in docs/design.md): the next walk
 * sees what matches now.  The retry is bounded, not a wait: a pinned lookup
 * still reports a miss if writers unlink each of its PIN_TRIES chosen
 * entries between its walk and its pin, or if it races a capacity eviction's
 * claim (DEAD comes before the victim leaves the trie).
 */
#include "clock.h"
#include "core.h"
#include "lookup.h"
#include "pin.h"
#include "rcu.h"
#include "thread.h"
#include "trie.h"

/* Choices a pinned lookup makes before it reports a miss (L1).  Each costs
 * a walk, and a retry happens only when a writer unlinked the chosen entry
 * within the last walk, so the bound is what keeps the lookup wait-free.
 * include/pce/cache.h and docs/design.md quote the number. */
#define PIN_TRIES 4

/* Owned stripe (this thread is its one writer): a plain read-modify-write.
 * Shared stripe (threads beyond the owned stripes, thread.h): an atomic add;
 * an owned stripe never gets one, since its owner's plain store would erase
 * it.  @order is the store's memory order: hits and hit_tokens are released
 * after lookups and query_tokens, and pce_cache_stats() acquires them first,
 * so a snapshot never shows more hits than lookups (free on x86; on a shared
 * stripe the later atomic adds continue the release sequence). */
static inline void stat_add(uint64_t *ctr, uint64_t v, int owned, int order)
{
	if (owned)
		__atomic_store_n(ctr, pce_load_relaxed(ctr) + v, order);
	else
		__atomic_fetch_add(ctr, v, order);
}

/* Matched tokens reported for a match of @depth: whole blocks, and none
 * below min_prefix_len. */
static inline size_t rounded(const struct pce_cache *c, size_t depth)
{
	size_t m = depth - depth % c->cfg.block_size;

	return m < c->cfg.min_prefix_len ? 0 : m;
}

/* The entry a lookup reports and how many tokens it matched; NULL: miss. */
static struct pce_entry *choose_rcu(const struct pce_cache *c, const struct pce_shard *s,
				    uint64_t ns, const uint32_t *q, size_t n, int whole,
				    uint64_t *now, size_t *depth)
{
	struct pce_walk w;
	struct pce_entry *e;

	pce_trie_walk_rcu(s, ns, q, n, &w);
	if (!w.end)
		return NULL;
	if (whole) {
		if (!w.last_entry)
			return NULL;
		e = pce_rcu_deref(w.last_entry->entry);
		*depth = w.last_entry->depth;
	} else {
		e = pce_rcu_deref(w.end->hint);
		*depth = w.depth;
	}
	if (e && pce_entry_live_at(c, e, now))
		return e;
	/* Expired, or (WHOLE) removed since the walk saw it: a shorter live
	 * entry may still qualify, so walk again checking every node. */
	return pce_trie_match_live_rcu(s, ns, q, n, whole, pce_now_once(c, now), depth);
}

int pce_cache_lookup(struct pce_cache *c, uint64_t ns, const uint32_t *q, size_t n,
		     const struct pce_lookup_opts *opts, struct pce_match *out)
{
	unsigned flags = opts ? opts->flags : 0;
	struct pce_thread *t;
	struct pce_shard *s;
	struct pce_entry *e;
	size_t depth = 0, matched = 0;
	uint64_t now = 0;
	int rc = 0;

	if (!out)
		return PCE_EINVAL;
	*out = (struct pce_match){0};
	if (!c || (!q && n) ||
	    (flags & ~(unsigned)(PCE_LOOKUP_PIN | PCE_LOOKUP_WHOLE | PCE_LOOKUP_PEEK)) ||
	    ((flags & PCE_LOOKUP_PIN) && (flags & PCE_LOOKUP_PEEK)))
		return PCE_EINVAL;
	if (pce_cache_inherited(c))
		return PCE_EFORKED;
	if (n > PCE_MAX_TOKENS)
		return PCE_E2BIG;
	t = pce_thread_enter();
	if (!t)
		return PCE_ENOMEM;
	if (n == 0)
		goto count;

	s = pce_shard_of(c, ns, q[0]);
	pce_rcu_read_lock();
	for (unsigned tries = 1;; tries++) {
		e = choose_rcu(c, s, ns, q, n, flags & PCE_LOOKUP_WHOLE, &now, &depth);
		matched = e ? rounded(c, depth) : 0;
		if (!matched)
			break;
		if (!(flags & PCE_LOOKUP_PEEK))
			pce_clock_touch(e, c->cfg.policy);
		if (!(flags & PCE_LOOKUP_PIN))
			break;
		rc = pce_pin_take_rcu(&c->pins, e,
				      pce_deadline(c, opts->pin_lease_ns,
						   c->cfg.default_pin_lease_ns, &now),
				      &t->pin_hint, &out->pin.id);
		if (rc == 0)
			break;
		matched = 0; /* no pin, no hit */
		if (rc != PCE_ENOENT || tries == PIN_TRIES)
			break;
		rc = 0; /* unlinked after the walk: choose again (L1) */
	}
	if (rc == PCE_ENOENT)
		rc = 0; /* every choice was unlinked under our feet: a miss */
	if (matched) {
		out->tokens = matched;
		out->blocks = matched / c->cfg.block_size;
		out->value = e->value;
		out->entry_len = e->len;
		out->kv_bytes = e->kv_bytes;
	}
	pce_rcu_read_unlock();
count:
	if (!(flags & PCE_LOOKUP_PEEK)) {
		struct pce_stripe *st = &c->stripe[t->stripe];
		int owned = t->stripe_owned;

		stat_add(&st->lookups, 1, owned, __ATOMIC_RELAXED);
		stat_add(&st->query_tokens, n, owned, __ATOMIC_RELAXED);
		if (matched) {
			stat_add(&st->hits, 1, owned, __ATOMIC_RELEASE);
			stat_add(&st->hit_tokens, matched, owned, __ATOMIC_RELEASE);
			if (out->pin.id)
				stat_add(&st->pins, 1, owned, __ATOMIC_RELAXED);
		}
	}
	return rc;
}

struct pce_entry *pce__lookup_choose_rcu(const struct pce_cache *c, const struct pce_shard *s,
					 uint64_t ns, const uint32_t *q, size_t n, uint64_t *now,
					 size_t *matched)
{
	size_t depth = 0;
	struct pce_entry *e = choose_rcu(c, s, ns, q, n, 0, now, &depth);

	*matched = e ? rounded(c, depth) : 0;
	return *matched ? e : NULL;
}

int pce_pin_release(struct pce_cache *c, struct pce_pin pin)
{
	if (!c)
		return PCE_EINVAL;
	if (pce_cache_inherited(c))
		return PCE_EFORKED;
	return pce_pin_put(&c->pins, pin.id);
}
