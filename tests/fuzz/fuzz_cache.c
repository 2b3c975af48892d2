/*
 * fuzz_cache.c - differential fuzzing of the cache API against a reference
 * model (libFuzzer target; tests/fuzz/replay.c replays it without libFuzzer).
 *
 * The input is decoded into a configuration and then a sequence of calls:
 * store (with the holder it reports, pinned or not), lookup (PIN, WHOLE,
 * PEEK, leases), pin release, remove, remove by prefix, touch, namespace
 * and whole clears, clock advances, reclaim passes, evictions on demand,
 * budget changes and batch analyses, plus calls with invalid arguments.
 * Each call runs on libpce and on the model below, and everything
 * observable is compared: return codes, matches, store results and
 * holders, events and entry ids, released values and their reasons,
 * statistics;
 * pce_cache_audit() runs after every call.  At the end the cache is
 * destroyed and every value must have been released exactly once.
 *
 * The model is deliberately naive: a flat array of entries (namespace,
 * tokens, value, KV bytes, expiry, pins, linked or not) and brute force over
 * it for every question.  Time is the harness's clock (config.clock); there
 * is no reclaim thread, so nothing happens outside the calls.
 *
 * Eviction.  Without budgets nothing is ever evicted, and the model predicts
 * every removal.  With a KV budget or max_entries (chosen by the input), the
 * model cannot predict CLOCK's choice of victims, so it follows the
 * library's PCE_REASON_CAPACITY events and checks each one: the victim was
 * linked and unpinned, a store evicts only when it did not fit, a reclaim
 * pass only above the high watermark and not below the low one; a store
 * that fails with PCE_ENOSPC could not fit with every unpinned entry gone
 * (or never could), and a store that succeeds leaves the budgets held.
 * An eviction on demand (and a budget change) is followed the same way:
 * each victim was linked and unpinned and the goal not yet met, and the
 * call reports success exactly when the goal was met.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pce/pce.h>

#define MAX_OPS 600
#define MAX_SEQ 40
#define MAX_EVENTS 4096
#define RECENT 16

#define FUZZ_NAME "fuzz_cache"
#include "fuzz.h"

static unsigned op_index;
static int trace; /* PCE_FUZZ_TRACE=1: print every call (to turn a crash into a test) */

static void trace_call(const char *what, uint64_t ns, const uint32_t *q, size_t n, int rc)
{
	if (!trace)
		return;
	fprintf(stderr, "#%u %s ns=%llu [", op_index, what, (unsigned long long)ns);
	for (size_t i = 0; q && i < n && i < 64; i++)
		fprintf(stderr, "%s%u", i ? " " : "", q[i]);
	fprintf(stderr, "] -> %s\n", pce_err_name(rc));
}

static size_t min_z(size_t a, size_t b)
{
	return a < b ? a : b;
}

static size_t max_z(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* ---- input decoding --------------------------------------------------------- */

static uint64_t u64(struct input *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | u8(in);
	return v;
}

/* Token ids: mostly a small alphabet (shared prefixes, splits, merges),
 * sometimes the extremes. */
static uint32_t token(struct input *in)
{
	uint8_t b = u8(in);

	if (b == 255)
		return UINT32_MAX;
	if (b == 254)
		return 0;
	if (b >= 240)
		return 0x80000000u + b;
	return 1 + b % 4;
}

/* A time span: small steps, the occasional big jump, and the extremes. */
static uint64_t span(struct input *in)
{
	uint8_t b = u8(in);

	switch (b >> 6) {
	case 0:
		return b;
	case 1:
		return (uint64_t)(b & 63) * 100;
	case 2:
		return (uint64_t)1 << ((b & 63) % 48);
	default:
		return b == 255 ? PCE_NEVER : b == 254 ? PCE_NEVER - 1 : (uint64_t)(b & 15) * 1000000;
	}
}

/* ---- the reference model ------------------------------------------------------ */

struct mentry {
	uint64_t ns;
	uint32_t tok[MAX_SEQ];
	size_t len;
	uint64_t value, kv, expires;
	uint64_t id;    /* from its STORED event */
	unsigned pins;  /* pins not released nor forced */
	int linked;     /* visible to lookups (even if expired) */
	int zombie;     /* unlinked while pinned, not yet collected */
	int released;   /* handed to on_release */
	enum pce_reason reason;
};

struct mpin {
	uint64_t id;
	size_t entry;
	uint64_t deadline;
	int active;
};

struct model {
	struct pce_config cfg;
	uint64_t now;
	struct mentry *e;
	size_t ne, cap;
	struct mpin pin[MAX_OPS];
	size_t npin;
	unsigned active_pins;
	struct pce_stats st; /* expected counters */
	/* usage a budget change left above its new budget (0: none) */
	uint64_t ceil_kv, ceil_entries;
};

static int budgeted(const struct model *m)
{
	return m->cfg.kv_budget || m->cfg.max_entries;
}

static int live(const struct model *m, const struct mentry *e)
{
	return e->linked && (e->expires == PCE_NEVER || e->expires > m->now);
}

static size_t lcp(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	size_t i = 0;

	while (i < na && i < nb && a[i] == b[i])
		i++;
	return i;
}

static int seq_eq(const struct mentry *e, uint64_t ns, const uint32_t *q, size_t n)
{
	return e->ns == ns && e->len == n && lcp(e->tok, e->len, q, n) == n;
}

/* The linked entry storing exactly @q in @ns, or -1. */
static long find_exact(const struct model *m, uint64_t ns, const uint32_t *q, size_t n)
{
	for (size_t i = 0; i < m->ne; i++)
		if (m->e[i].linked && seq_eq(&m->e[i], ns, q, n))
			return (long)i;
	return -1;
}

static long find_value(const struct model *m, uint64_t value)
{
	for (size_t i = 0; i < m->ne; i++)
		if (m->e[i].value == value)
			return (long)i;
	return -1;
}

static int cmp_seq(const struct mentry *a, const struct mentry *b)
{
	size_t k = lcp(a->tok, a->len, b->tok, b->len);

	if (a->ns != b->ns)
		return a->ns < b->ns ? -1 : 1;
	if (k < a->len && k < b->len)
		return a->tok[k] < b->tok[k] ? -1 : 1;
	return a->len < b->len ? -1 : a->len > b->len;
}

static const struct model *sort_model;

static int cmp_idx(const void *x, const void *y)
{
	return cmp_seq(&sort_model->e[*(const size_t *)x], &sort_model->e[*(const size_t *)y]);
}

/* Distinct cached tokens: the number of distinct (namespace, non-empty
 * prefix) pairs over linked entries.  In lexicographic order each sequence
 * adds exactly the tokens beyond its common prefix with its predecessor. */
static uint64_t distinct_tokens(const struct model *m)
{
	size_t *idx = malloc((m->ne + 1) * sizeof(*idx)), n = 0;
	uint64_t t = 0;

	for (size_t i = 0; i < m->ne; i++)
		if (m->e[i].linked)
			idx[n++] = i;
	sort_model = m;
	qsort(idx, n, sizeof(*idx), cmp_idx);
	for (size_t i = 0; i < n; i++) {
		const struct mentry *a = &m->e[idx[i]], *p = i ? &m->e[idx[i - 1]] : NULL;
		t += a->len - (p && p->ns == a->ns ? lcp(a->tok, a->len, p->tok, p->len) : 0);
	}
	free(idx);
	return t;
}

static uint64_t kv_total(const struct model *m)
{
	uint64_t kv = 0;

	if (m->cfg.kv_mode == PCE_KV_PER_TOKEN)
		return distinct_tokens(m) * m->cfg.kv_bytes_per_token;
	for (size_t i = 0; i < m->ne; i++)
		if (m->e[i].linked)
			kv += m->e[i].kv;
	return kv;
}

static uint64_t linked_count(const struct model *m)
{
	uint64_t n = 0;

	for (size_t i = 0; i < m->ne; i++)
		n += m->e[i].linked;
	return n;
}

static void unlink_entry(struct model *m, size_t i, enum pce_reason why)
{
	struct mentry *e = &m->e[i];

	e->linked = 0;
	e->reason = why;
	e->zombie = e->pins > 0;
	m->st.removed[why]++;
}

/* Append an entry (unlinked); returns its index. */
static size_t add_entry(struct model *m, uint64_t ns, const uint32_t *q, size_t n, uint64_t value,
			uint64_t kv, uint64_t expires)
{
	struct mentry *e;

	if (m->ne == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->e = realloc(m->e, m->cap * sizeof(*m->e));
		if (!m->e)
			abort();
	}
	e = &m->e[m->ne];
	memset(e, 0, sizeof(*e));
	e->ns = ns;
	memcpy(e->tok, q, n * sizeof(*q));
	e->len = n;
	e->value = value;
	e->kv = kv;
	e->expires = expires;
	return m->ne++;
}

static uint64_t expiry_of(const struct model *m, uint64_t ttl)
{
	if (ttl == 0)
		ttl = m->cfg.default_ttl_ns;
	if (ttl == 0 || ttl == PCE_NEVER)
		return PCE_NEVER;
	return m->now > PCE_NEVER - 1 - ttl ? PCE_NEVER - 1 : m->now + ttl;
}

static uint64_t deadline_of(const struct model *m, uint64_t lease)
{
	if (lease == 0)
		lease = m->cfg.default_pin_lease_ns;
	if (lease == 0 || lease == PCE_NEVER)
		return PCE_NEVER;
	return m->now > PCE_NEVER - lease ? PCE_NEVER - 1 : m->now + lease;
}

/* ---- what the harness saw the library do ------------------------------------ */

struct seen {
	struct pce_event ev[MAX_EVENTS];
	uint32_t ev_tok[MAX_EVENTS][MAX_SEQ];
	size_t nev;
	struct pce_released rel[MAX_EVENTS];
	size_t nrel;
};

static struct seen seen;
static uint64_t clock_now;

static uint64_t harness_clock(void *ctx)
{
	(void)ctx;
	return clock_now;
}

static void on_event(void *ctx, const struct pce_event *ev)
{
	(void)ctx;
	if (seen.nev == MAX_EVENTS)
		abort();
	seen.ev[seen.nev] = *ev;
	if (ev->tokens && ev->len <= MAX_SEQ)
		memcpy(seen.ev_tok[seen.nev], ev->tokens, ev->len * sizeof(uint32_t));
	seen.nev++;
}

static void on_release(void *ctx, const struct pce_released *r)
{
	(void)ctx;
	if (seen.nrel == MAX_EVENTS)
		abort();
	seen.rel[seen.nrel++] = *r;
}

/* The REMOVED event of the entry with @value, or -1. */
static long removal_event(uint64_t value)
{
	for (size_t i = 0; i < seen.nev; i++)
		if (seen.ev[i].kind == PCE_EVENT_REMOVED && seen.ev[i].value == value)
			return (long)i;
	return -1;
}

/* Every removal the model made during this call (entries linked when it
 * began, @was_linked[0..@n), and not now) has exactly one event, and there
 * are no others. */
static void check_removal_events(const struct model *m, const unsigned char *was_linked,
				 size_t n)
{
	size_t expected = 0, removed = 0;

	for (size_t i = 0; i < n; i++) {
		const struct mentry *e = &m->e[i];
		long k;

		if (!was_linked[i] || e->linked)
			continue;
		expected++;
		k = removal_event(e->value);
		CHECK(k >= 0, "no REMOVED event for value %llu", (unsigned long long)e->value);
		CHECK(seen.ev[k].reason == e->reason && seen.ev[k].ns == e->ns &&
			      seen.ev[k].len == e->len && seen.ev[k].kv_bytes == e->kv &&
			      seen.ev[k].id == e->id,
		      "REMOVED event of value %llu: reason %s, expected %s",
		      (unsigned long long)e->value, pce_reason_name(seen.ev[k].reason),
		      pce_reason_name(e->reason));
	}
	for (size_t i = 0; i < seen.nev; i++)
		removed += seen.ev[i].kind == PCE_EVENT_REMOVED;
	CHECK(removed == expected, "%zu REMOVED events, expected %zu", removed, expected);
}

/* Values that must be released now: unlinked, unpinned, not zombies. */
static void check_releases(struct model *m)
{
	size_t expected = 0;

	for (size_t i = 0; i < m->ne; i++) {
		struct mentry *e = &m->e[i];
		size_t k, hits = 0;

		if (e->linked || e->zombie || e->released)
			continue;
		expected++;
		for (k = 0; k < seen.nrel; k++) {
			if (seen.rel[k].value != e->value)
				continue;
			hits++;
			CHECK(seen.rel[k].reason == e->reason && seen.rel[k].ns == e->ns &&
				      seen.rel[k].len == e->len && seen.rel[k].kv_bytes == e->kv &&
				      seen.rel[k].id == e->id,
			      "release of value %llu: reason %s, expected %s",
			      (unsigned long long)e->value, pce_reason_name(seen.rel[k].reason),
			      pce_reason_name(e->reason));
		}
		CHECK(hits == 1, "value %llu released %zu times, expected once",
		      (unsigned long long)e->value, hits);
		e->released = 1;
		m->st.released++;
	}
	CHECK(seen.nrel == expected, "%zu values released, expected %zu", seen.nrel, expected);
}

static void check_no_releases(void)
{
	CHECK(seen.nrel == 0, "value %llu released outside a reclaim pass",
	      (unsigned long long)seen.rel[0].value);
}

/* ---- budgets: following the library's evictions ------------------------------ */

struct need {
	int64_t kv, entries;
};

static int over(uint64_t used, int64_t delta, uint64_t limit)
{
	return limit && delta > 0 && used + (uint64_t)delta > limit;
}

static int fits(const struct model *m, const struct need *d)
{
	return !over(kv_total(m), d->kv, m->cfg.kv_budget) &&
	       !over(linked_count(m), d->entries, m->cfg.max_entries);
}

static int never_fits(const struct model *m, const struct need *d)
{
	return (m->cfg.kv_budget && d->kv > 0 && (uint64_t)d->kv > m->cfg.kv_budget) ||
	       (m->cfg.max_entries && d->entries > 0 && (uint64_t)d->entries > m->cfg.max_entries);
}

static uint64_t pct(uint64_t budget, uint32_t p)
{
	return (uint64_t)((unsigned __int128)budget * p / 100);
}

static int over_high(const struct model *m)
{
	return (m->cfg.kv_budget && kv_total(m) > pct(m->cfg.kv_budget, m->cfg.high_watermark_pct)) ||
	       (m->cfg.max_entries &&
		linked_count(m) > pct(m->cfg.max_entries, m->cfg.high_watermark_pct));
}

static int below_low(const struct model *m)
{
	return !(m->cfg.kv_budget && kv_total(m) > pct(m->cfg.kv_budget, m->cfg.low_watermark_pct)) &&
	       !(m->cfg.max_entries &&
		 linked_count(m) > pct(m->cfg.max_entries, m->cfg.low_watermark_pct));
}

/* The change a store of @q makes in the current model state. */
static struct need store_need(const struct model *m, uint64_t ns, const uint32_t *q, size_t n,
			      uint64_t kv, long old)
{
	struct need d = {0, old < 0};

	if (m->cfg.kv_mode == PCE_KV_DECLARED) {
		d.kv = (int64_t)kv - (old >= 0 ? (int64_t)m->e[old].kv : 0);
	} else {
		size_t best = 0;
		for (size_t i = 0; i < m->ne; i++)
			if (m->e[i].linked && m->e[i].ns == ns)
				best = max_z(best, lcp(m->e[i].tok, m->e[i].len, q, n));
		d.kv = (int64_t)((n - best) * m->cfg.kv_bytes_per_token);
	}
	return d;
}

/*
 * Apply the CAPACITY evictions the library reported during this call, in
 * order, checking each.  @store_need: the store's need before any eviction
 * (NULL for a reclaim pass).  Returns the number applied.
 */
static uint64_t follow_evictions(struct model *m, const struct need *store_need_before)
{
	uint64_t n = 0;

	for (size_t k = 0; k < seen.nev; k++) {
		const struct pce_event *ev = &seen.ev[k];
		long i;

		if (ev->kind != PCE_EVENT_REMOVED || ev->reason != PCE_REASON_CAPACITY)
			continue;
		CHECK(budgeted(m), "capacity eviction without a budget");
		i = find_value(m, ev->value);
		CHECK(i >= 0 && m->e[i].linked, "evicted value %llu is not linked",
		      (unsigned long long)ev->value);
		CHECK(m->e[i].pins == 0, "evicted value %llu is pinned",
		      (unsigned long long)ev->value);
		if (store_need_before) {
			CHECK(n > 0 || !fits(m, store_need_before),
			      "a store evicted although it fitted");
		} else {
			CHECK(n > 0 || over_high(m), "reclaim evicted below the high watermark");
			CHECK(!below_low(m), "reclaim evicted below the low watermark");
		}
		unlink_entry(m, (size_t)i, PCE_REASON_CAPACITY);
		n++;
	}
	return n;
}

/* ---- comparing statistics ------------------------------------------------------ */

static void check_stats(struct pce_cache *c, struct model *m)
{
	struct pce_stats s;
	uint64_t zombies = 0;

	CHECK(pce_cache_stats(c, &s) == 0, "stats failed");
	for (size_t i = 0; i < m->ne; i++)
		zombies += m->e[i].zombie;
#define SAME(f) CHECK(s.f == m->st.f, "stats." #f " = %llu, expected %llu", \
		      (unsigned long long)s.f, (unsigned long long)m->st.f)
	SAME(lookups);
	SAME(hits);
	SAME(query_tokens);
	SAME(hit_tokens);
	SAME(stores);
	SAME(stores_existing);
	SAME(stores_refused);
	SAME(sync_evictions);
	SAME(pins);
	SAME(pins_forced);
	SAME(released);
	SAME(reclaim_passes);
	for (int r = 0; r < PCE_REASON_COUNT; r++)
		SAME(removed[r]);
#undef SAME
	CHECK(s.misses == s.lookups - s.hits, "stats.misses");
	CHECK(s.entries == linked_count(m), "stats.entries = %llu, expected %llu",
	      (unsigned long long)s.entries, (unsigned long long)linked_count(m));
	CHECK(s.tokens == distinct_tokens(m), "stats.tokens = %llu, expected %llu",
	      (unsigned long long)s.tokens, (unsigned long long)distinct_tokens(m));
	CHECK(s.kv_bytes == kv_total(m), "stats.kv_bytes = %llu, expected %llu",
	      (unsigned long long)s.kv_bytes, (unsigned long long)kv_total(m));
	CHECK(s.live_pins == m->active_pins, "stats.live_pins = %llu, expected %u",
	      (unsigned long long)s.live_pins, m->active_pins);
	CHECK(s.pinned_unlinked == zombies, "stats.pinned_unlinked = %llu, expected %llu",
	      (unsigned long long)s.pinned_unlinked, (unsigned long long)zombies);
	CHECK(!m->cfg.kv_budget || s.kv_bytes <= max_z(m->cfg.kv_budget, m->ceil_kv),
	      "KV bytes over budget");
	CHECK(!m->cfg.max_entries || s.entries <= max_z(m->cfg.max_entries, m->ceil_entries),
	      "entries over budget");
	CHECK(s.kv_budget == m->cfg.kv_budget && s.max_entries == m->cfg.max_entries,
	      "stats report other budgets");
}

/* ---- sequences ------------------------------------------------------------------ */

struct seqbuf {
	uint32_t t[MAX_SEQ];
	size_t n;
};

static struct seqbuf recent[RECENT];
static unsigned nrecent;

static void remember(const uint32_t *q, size_t n)
{
	struct seqbuf *r = &recent[nrecent++ % RECENT];

	r->n = min_z(n, MAX_SEQ);
	memcpy(r->t, q, r->n * sizeof(*q));
}

/* A sequence: new, or a prefix, extension or copy of a recent one. */
static size_t make_seq(struct input *in, uint32_t *q)
{
	uint8_t b = u8(in);
	size_t n = 0;

	if (nrecent && (b & 3)) {
		const struct seqbuf *r = &recent[u8(in) % min_z(nrecent, RECENT)];
		memcpy(q, r->t, r->n * sizeof(*q));
		n = r->n;
		if ((b & 3) == 1)
			n = u8(in) % (n + 1); /* a prefix */
		else if ((b & 3) == 2)
			for (unsigned k = 1 + (b >> 5) % 4; k-- && n < MAX_SEQ;)
				q[n++] = token(in); /* an extension */
	} else {
		n = (b >> 2) % 12;
		for (size_t i = 0; i < n; i++)
			q[i] = token(in);
	}
	remember(q, n);
	return n;
}

static uint64_t namespace(struct input *in)
{
	static const uint64_t ns[4] = {0, 1, UINT64_MAX, 7};
	return ns[u8(in) & 3];
}

/* ---- operations ------------------------------------------------------------------- */

struct harness {
	struct pce_cache *c;
	struct model m;
	uint64_t next_value, value_mask;
	unsigned char *was_linked; /* which entries were linked when the call began */
	size_t nwas;
};

static void begin_call(struct harness *h)
{
	seen.nev = 0;
	seen.nrel = 0;
	h->was_linked = realloc(h->was_linked, h->m.ne + 1);
	h->nwas = h->m.ne;
	for (size_t i = 0; i < h->m.ne; i++)
		h->was_linked[i] = (unsigned char)h->m.e[i].linked;
}

static size_t model_match(const struct model *m, uint64_t ns, const uint32_t *q, size_t n,
			  int whole, long *pick, size_t *npick);

static int picked(const long *pick, size_t npick, size_t i)
{
	for (size_t k = 0; k < npick; k++)
		if (pick[k] == (long)i)
			return 1;
	return 0;
}

/* The holder a successful store (or PCE_EEXIST) reports is what a lookup
 * would have returned before it (@held tokens, one of @pick); pinned, it
 * joins the model's pins. */
static void check_holder(struct model *m, const struct pce_store_result *res, size_t held,
			 const long *pick, size_t npick, int pin_holder, uint64_t lease)
{
	long i;

	CHECK(res->holder_tokens == held, "holder of %zu tokens, expected %zu", res->holder_tokens,
	      held);
	if (!held) {
		CHECK(res->holder_pin.id == 0, "a pin without a holder");
		return;
	}
	i = find_value(m, res->holder_value);
	CHECK(i >= 0 && picked(pick, npick, (size_t)i), "holder %llu is not the entry a lookup "
	      "returns", (unsigned long long)res->holder_value);
	CHECK(res->holder_len == m->e[i].len && res->holder_id == m->e[i].id,
	      "holder length or id wrong");
	if (!pin_holder) {
		CHECK(res->holder_pin.id == 0, "an unasked holder pin");
		return;
	}
	CHECK(res->holder_pin.id != 0, "holder not pinned");
	{
		struct mpin *p = &m->pin[m->npin++];
		p->id = res->holder_pin.id;
		p->entry = (size_t)i;
		p->deadline = deadline_of(m, lease);
		p->active = 1;
		m->e[i].pins++;
		m->active_pins++;
	}
}

static void op_store(struct harness *h, struct input *in)
{
	struct model *m = &h->m;
	uint32_t q[MAX_SEQ];
	uint8_t b = u8(in);
	uint64_t ns = namespace(in), value = h->next_value++ ^ h->value_mask;
	uint64_t kv_arg = b & 0x80 ? u64(in) % (PCE_MAX_KV_BYTES + 2) : u8(in), kv = kv_arg;
	size_t n = make_seq(in, q), len = n;
	struct pce_store_opts so = {b & 1 ? PCE_STORE_REPLACE : 0, (b & 6) ? span(in) : 0, 0};
	struct pce_store_result res;
	const uint32_t *tokens = q;
	struct need before = {0, 0};
	long old, *pick = malloc((m->ne + 1) * sizeof(*pick));
	size_t npick = 0, held;
	int rc, want = 0, pin_holder = (b & 0x18) == 0x10;

	if (pin_holder) {
		so.flags |= PCE_STORE_PIN_HOLDER;
		so.pin_lease_ns = u8(in) & 1 ? span(in) : 0;
	}
	if ((b & 0x18) == 0x18) {
		if (b & 0x20)
			so.flags |= 4; /* unknown flag */
		else if (b & 0x40)
			len = PCE_MAX_TOKENS + 1 + u8(in); /* never read */
		else
			tokens = NULL;
	}
	begin_call(h);
	old = find_exact(m, ns, q, n);
	if (m->cfg.kv_mode == PCE_KV_PER_TOKEN)
		kv = n * m->cfg.kv_bytes_per_token;
	before = store_need(m, ns, q, n, kv, old);
	held = n ? model_match(m, ns, q, n, 0, pick, &npick) : 0;
	rc = pce_cache_store(h->c, ns, tokens, len, value, kv_arg, &so, &res);
	if (trace)
		fprintf(stderr, "   store value=%llu kv=%llu flags=%u ttl=%llu now=%llu\n",
			(unsigned long long)value, (unsigned long long)kv_arg, so.flags,
			(unsigned long long)so.ttl_ns, (unsigned long long)m->now);
	trace_call("store", ns, q, n, rc);
	check_no_releases();

	if (so.flags & ~(unsigned)(PCE_STORE_REPLACE | PCE_STORE_PIN_HOLDER))
		want = PCE_EINVAL;
	else if (!tokens || len == 0)
		want = PCE_EINVAL;
	else if (len > PCE_MAX_TOKENS)
		want = PCE_E2BIG;
	else if (len < m->cfg.min_prefix_len)
		want = PCE_ESHORT;
	else if (m->cfg.kv_mode == PCE_KV_DECLARED && kv > PCE_MAX_KV_BYTES)
		want = PCE_EINVAL;
	if (!want && pin_holder && held && m->active_pins == m->cfg.max_pins)
		want = PCE_ENOPINS;
	if (want) {
		CHECK(rc == want, "store: %s, expected %s", pce_err_name(rc), pce_err_name(want));
		CHECK(seen.nev == 0, "a refused store emitted events");
		CHECK(res.holder_tokens == 0 && res.holder_pin.id == 0, "a refused store's holder");
		free(pick);
		return;
	}
	if (old >= 0 && !(so.flags & PCE_STORE_REPLACE) && live(m, &m->e[old])) {
		CHECK(rc == PCE_EEXIST, "store: %s, expected PCE_EEXIST", pce_err_name(rc));
		CHECK(res.existing_value == m->e[old].value, "PCE_EEXIST names value %llu",
		      (unsigned long long)res.existing_value);
		CHECK(seen.nev == 0, "PCE_EEXIST emitted events");
		m->st.stores_existing++;
		check_holder(m, &res, held, pick, npick, pin_holder, so.pin_lease_ns);
		free(pick);
		return;
	}
	m->st.sync_evictions += follow_evictions(m, &before);
	old = find_exact(m, ns, q, n);
	{
		struct need d = store_need(m, ns, q, n, kv, old);
		int all_pinned = 1;

		for (size_t i = 0; i < m->ne; i++)
			if (m->e[i].linked && m->e[i].pins == 0 &&
			    !(pin_holder && held && picked(pick, npick, i)))
				all_pinned = 0; /* (the holder was pinned by the store) */
		if (rc == PCE_ENOSPC) {
			CHECK(budgeted(m), "PCE_ENOSPC without a budget");
			CHECK(never_fits(m, &d) || (!fits(m, &d) && all_pinned),
			      "PCE_ENOSPC although the store could fit");
			CHECK(res.holder_tokens == 0 && res.holder_pin.id == 0,
			      "a refused store's holder");
			m->st.stores_refused++;
			check_removal_events(m, h->was_linked, h->nwas);
			free(pick);
			return;
		}
		CHECK(rc == 0, "store: %s, expected 0", pce_err_name(rc));
		CHECK(fits(m, &d), "store succeeded beyond a budget");
	}
	/* Before the replaced entry is unlinked: the holder pin may hold it. */
	check_holder(m, &res, held, pick, npick, pin_holder, so.pin_lease_ns);
	{
		uint64_t tokens_before = distinct_tokens(m);
		size_t i = add_entry(m, ns, q, n, value, kv, expiry_of(m, so.ttl_ns));
		int replaced = old >= 0 && live(m, &m->e[old]);

		if (old >= 0)
			unlink_entry(m, (size_t)old, replaced ? PCE_REASON_REPLACED : PCE_REASON_TTL);
		m->e[i].linked = 1;
		m->st.stores++;
		m->st.stores_existing += replaced;
		CHECK(res.replaced == replaced, "store: replaced = %d, expected %d", res.replaced,
		      replaced);
		CHECK(!replaced || res.existing_value == m->e[old].value,
		      "replaced value %llu, expected %llu", (unsigned long long)res.existing_value,
		      (unsigned long long)m->e[old].value);
		CHECK(res.new_tokens == distinct_tokens(m) - tokens_before,
		      "store: new_tokens = %zu, expected %llu", res.new_tokens,
		      (unsigned long long)(distinct_tokens(m) - tokens_before));
	}
	check_removal_events(m, h->was_linked, h->nwas);
	{
		size_t stored = 0;
		for (size_t k = 0; k < seen.nev; k++) {
			const struct pce_event *ev = &seen.ev[k];
			if (ev->kind != PCE_EVENT_STORED)
				continue;
			stored++;
			CHECK(ev->ns == ns && ev->value == value && ev->len == n && ev->kv_bytes == kv &&
				      !memcmp(seen.ev_tok[k], q, n * sizeof(*q)),
			      "STORED event does not describe the store");
			CHECK(ev->id != 0, "entry id 0");
			for (size_t j = 0; j + 1 < m->ne; j++)
				CHECK(m->e[j].id != ev->id, "entry id %llu given twice",
				      (unsigned long long)ev->id);
			m->e[m->ne - 1].id = ev->id;
		}
		CHECK(stored == 1, "%zu STORED events", stored);
	}
	free(pick);
}

/* The model's answer to a lookup: matched tokens (0: miss) and the indexes
 * of the acceptable entries (latest expiry among those the match extends). */
static size_t model_match(const struct model *m, uint64_t ns, const uint32_t *q, size_t n,
			  int whole, long *pick, size_t *npick)
{
	size_t best = 0, matched;
	uint64_t latest = 0;

	*npick = 0;
	for (size_t i = 0; i < m->ne; i++) {
		const struct mentry *e = &m->e[i];
		size_t k;
		if (!live(m, e) || e->ns != ns)
			continue;
		k = lcp(e->tok, e->len, q, n);
		if (whole && k < e->len)
			continue;
		best = max_z(best, k);
	}
	if (best == 0)
		return 0;
	for (size_t i = 0; i < m->ne; i++) {
		const struct mentry *e = &m->e[i];
		size_t k;
		if (!live(m, e) || e->ns != ns)
			continue;
		k = lcp(e->tok, e->len, q, n);
		if (k != best || (whole && k < e->len))
			continue;
		if (*npick == 0 || e->expires > latest) {
			*npick = 0;
			latest = e->expires;
		}
		if (e->expires == latest)
			pick[(*npick)++] = (long)i;
	}
	matched = best - best % m->cfg.block_size;
	return matched < m->cfg.min_prefix_len ? 0 : matched;
}

static void op_lookup(struct harness *h, struct input *in)
{
	struct model *m = &h->m;
	uint32_t q[MAX_SEQ];
	uint8_t b = u8(in);
	uint64_t ns = namespace(in);
	size_t n = make_seq(in, q), len = n, npick = 0, want_tokens;
	struct pce_lookup_opts lo = {0, 0};
	struct pce_match out;
	const uint32_t *tokens = q;
	long *pick = malloc((m->ne + 1) * sizeof(*pick));
	int rc, want = 0, whole;

	lo.flags = (b & 1 ? PCE_LOOKUP_PIN : 0) | (b & 2 ? PCE_LOOKUP_WHOLE : 0) |
		   ((b & 0x1c) == 0x1c ? PCE_LOOKUP_PEEK : 0);
	if (lo.flags & PCE_LOOKUP_PIN)
		lo.pin_lease_ns = b & 0x20 ? span(in) : 0;
	if ((b & 0xc0) == 0xc0) {
		uint8_t bad = u8(in) % 4;
		if (bad == 0)
			lo.flags |= 8;
		else if (bad == 1)
			len = PCE_MAX_TOKENS + 1;
		else if (bad == 2)
			tokens = n ? NULL : tokens;
		else
			lo.flags |= PCE_LOOKUP_PIN | PCE_LOOKUP_PEEK;
	}
	begin_call(h);
	rc = pce_cache_lookup(h->c, ns, tokens, len, &lo, &out);
	trace_call("lookup", ns, q, n, rc);
	if (trace)
		fprintf(stderr, "   flags=%u lease=%llu -> tokens=%zu value=%llu pin=%llu\n",
			lo.flags, (unsigned long long)lo.pin_lease_ns, out.tokens,
			(unsigned long long)out.value, (unsigned long long)out.pin.id);
	check_no_releases();
	CHECK(seen.nev == 0, "a lookup emitted events");
	whole = !!(lo.flags & PCE_LOOKUP_WHOLE);
	if ((lo.flags & ~7u) || (!tokens && len) ||
	    ((lo.flags & PCE_LOOKUP_PIN) && (lo.flags & PCE_LOOKUP_PEEK)))
		want = PCE_EINVAL;
	else if (len > PCE_MAX_TOKENS)
		want = PCE_E2BIG;
	if (want) {
		CHECK(rc == want, "lookup: %s, expected %s", pce_err_name(rc), pce_err_name(want));
		CHECK(out.tokens == 0 && out.pin.id == 0, "a refused lookup reports a match");
		free(pick);
		return;
	}
	want_tokens = model_match(m, ns, q, n, whole, pick, &npick);
	if (want_tokens && (lo.flags & PCE_LOOKUP_PIN) && m->active_pins == m->cfg.max_pins) {
		CHECK(rc == PCE_ENOPINS, "lookup with a full pin table: %s", pce_err_name(rc));
		want_tokens = 0;
	} else {
		CHECK(rc == 0, "lookup: %s", pce_err_name(rc));
	}
	CHECK(out.tokens == want_tokens, "lookup matched %zu tokens, expected %zu", out.tokens,
	      want_tokens);
	if (!(lo.flags & PCE_LOOKUP_PEEK)) {
		m->st.lookups++;
		m->st.query_tokens += n;
		m->st.hits += want_tokens > 0;
		m->st.hit_tokens += want_tokens;
	}
	if (want_tokens) {
		long i = find_value(m, out.value);
		size_t k;
		for (k = 0; k < npick && pick[k] != i; k++)
			;
		CHECK(i >= 0 && k < npick, "lookup returned value %llu, not the latest-expiring "
		      "entry the match extends", (unsigned long long)out.value);
		CHECK(out.entry_len == m->e[i].len && out.kv_bytes == m->e[i].kv &&
			      out.blocks == out.tokens / m->cfg.block_size,
		      "lookup: entry_len/kv_bytes/blocks wrong");
		if (lo.flags & PCE_LOOKUP_PIN) {
			struct mpin *p = &m->pin[m->npin++];
			CHECK(out.pin.id != 0, "a pinned hit without a pin");
			p->id = out.pin.id;
			p->entry = (size_t)i;
			p->deadline = deadline_of(m, lo.pin_lease_ns);
			p->active = 1;
			m->e[i].pins++;
			m->active_pins++;
			m->st.pins++;
		} else {
			CHECK(out.pin.id == 0, "an unpinned lookup returned a pin");
		}
	} else {
		CHECK(out.pin.id == 0 && out.value == 0 && out.entry_len == 0,
		      "a miss carries a pin or an entry");
	}
	free(pick);
}

static void release_model_pin(struct model *m, struct mpin *p)
{
	p->active = 0;
	m->e[p->entry].pins--;
	m->active_pins--;
}

static void op_pin_release(struct harness *h, struct input *in)
{
	struct model *m = &h->m;
	uint8_t b = u8(in);
	struct mpin *p = NULL;
	struct pce_pin pin;
	int rc;

	if (m->npin && b < 240) {
		p = &m->pin[b % m->npin];
		pin.id = p->id;
	} else {
		pin.id = b == 255 ? 0 : u64(in);
		for (size_t i = 0; i < m->npin; i++)
			if (m->pin[i].active && m->pin[i].id == pin.id)
				return; /* a guess that names a live pin is not a bad id */
	}
	begin_call(h);
	rc = pce_pin_release(h->c, pin);
	if (trace)
		fprintf(stderr, "#%u pin_release %llu -> %s\n", op_index,
			(unsigned long long)pin.id, pce_err_name(rc));
	check_no_releases();
	CHECK(seen.nev == 0, "a pin release emitted events");
	if (p && p->active) {
		CHECK(rc == 0, "releasing a live pin: %s", pce_err_name(rc));
		release_model_pin(m, p);
	} else {
		CHECK(rc == PCE_ESTALE, "releasing a stale pin: %s", pce_err_name(rc));
	}
}

static void op_remove(struct harness *h, struct input *in)
{
	struct model *m = &h->m;
	uint32_t q[MAX_SEQ];
	uint64_t ns = namespace(in), value = 0xdead;
	size_t n = make_seq(in, q);
	long i;
	int rc, want;

	begin_call(h);
	i = find_exact(m, ns, q, n);
	rc = pce_cache_remove(h->c, ns, n ? q : NULL, n, &value);
	trace_call("remove", ns, q, n, rc);
	check_no_releases();
	if (n == 0) {
		want = PCE_EINVAL;
	} else if (i < 0) {
		want = PCE_ENOENT;
	} else if (!live(m, &m->e[i])) {
		want = PCE_ENOENT;
		unlink_entry(m, (size_t)i, PCE_REASON_TTL);
	} else {
		want = 0;
		CHECK(value == m->e[i].value, "remove returned value %llu, expected %llu",
		      (unsigned long long)value, (unsigned long long)m->e[i].value);
		unlink_entry(m, (size_t)i, PCE_REASON_REMOVED);
	}
	CHECK(rc == want, "remove: %s, expected %s", pce_err_name(rc), pce_err_name(want));
	check_removal_events(m, h->was_linked, h->nwas);
}

static void op_clear(struct harness *h, struct input *in)
{
	struct model *m = &h->m;
	uint8_t b = u8(in);
	uint64_t ns = namespace(in), removed = 0xdead, want = 0;
	int rc;

	begin_call(h);
	rc = b & 1 ? pce_cache_clear(h->c, &removed) : pce_cache_clear_ns(h->c, ns, &removed);
	trace_call(b & 1 ? "clear" : "clear_ns", ns, NULL, 0, rc);
	check_no_releases();
	CHECK(rc == 0, "clear: %s", pce_err_name(rc));
	for (size_t i = 0; i < m->ne; i++) {
		if (m->e[i].linked && ((b & 1) || m->e[i].ns == ns)) {
			unlink_entry(m, i, PCE_REASON_CLEARED);
			want++;
		}
	}
	CHECK(removed == want, "clear removed %llu, expected %llu", (unsigned long long)removed,
	      (unsigned long long)want);
	check_removal_events(m, h->was_linked, h->nwas);
}

/* One reclaim pass: forced leases, TTL expiry, zombies, eviction, release. */
static void model_reclaim(struct model *m, int evictions_follow)
{
	for (size_t k = 0; k < m->npin; k++) {
		struct mpin *p = &m->pin[k];
		if (p->active && p->deadline <= m->now) {
			release_model_pin(m, p);
			m->st.pins_forced++;
		}
	}
	for (size_t i = 0; i < m->ne; i++) {
		struct mentry *e = &m->e[i];
		if (e->linked && e->expires != PCE_NEVER && e->expires <= m->now)
			unlink_entry(m, i, PCE_REASON_TTL);
	}
	for (size_t i = 0; i < m->ne; i++)
		if (m->e[i].zombie && m->e[i].pins == 0)
			m->e[i].zombie = 0;
	if (evictions_follow)
		follow_evictions(m, NULL);
}

static void op_reclaim(struct harness *h)
{
	int rc;

	begin_call(h);
	rc = pce_cache_reclaim(h->c);
	trace_call("reclaim", 0, NULL, 0, rc);
	CHECK(rc == 0, "reclaim: %s", pce_err_name(rc));
	model_reclaim(&h->m, 1);
	check_removal_events(&h->m, h->was_linked, h->nwas);
	check_releases(&h->m);
	h->m.st.reclaim_passes++;
}

static void op_dedup(struct harness *h, struct input *in)
{
	struct model *m = &h->m;
	uint32_t q[4][MAX_SEQ];
	struct pce_seq seqs[4];
	struct pce_dedup d;
	uint8_t b = u8(in);
	size_t n = b % 5;
	struct pce_cache *cache = b & 8 ? NULL : h->c;
	uint64_t cached = 0, shared = 0, total = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		seqs[i].ns = namespace(in);
		seqs[i].len = make_seq(in, q[i]);
		seqs[i].tokens = q[i];
	}
	begin_call(h);
	rc = pce_dedup_analyze(cache, n ? seqs : NULL, n, &d);
	trace_call(cache ? "dedup (cache)" : "dedup", 0, NULL, 0, rc);
	check_no_releases();
	CHECK(seen.nev == 0, "batch analysis emitted events");
	CHECK(rc == 0, "dedup: %s", pce_err_name(rc));
	/* The batch side is the longest prefix shared with an earlier sequence
	 * of the batch, rounded like a lookup in @cache (or in a default one). */
	size_t min_prefix = cache ? m->cfg.min_prefix_len : 1;
	size_t block = cache ? m->cfg.block_size : 1;

	for (size_t i = 0; i < n; i++) {
		size_t in_cache = 0, in_batch = 0, np;

		total += seqs[i].len;
		if (cache) {
			long *all = malloc((m->ne + 1) * sizeof(*all));
			in_cache = model_match(m, seqs[i].ns, q[i], seqs[i].len, 0, all, &np);
			free(all);
		}
		for (size_t j = 0; j < i; j++)
			if (seqs[j].ns == seqs[i].ns)
				in_batch = max_z(in_batch, lcp(q[j], seqs[j].len, q[i], seqs[i].len));
		in_batch -= in_batch % block;
		if (in_batch < min_prefix)
			in_batch = 0;
		cached += in_cache;
		shared += in_batch > in_cache ? in_batch - in_cache : 0;
	}
	CHECK(d.sequences == n && d.total_tokens == total && d.cached_tokens == cached &&
		      d.shared_tokens == shared && d.unique_tokens == total - cached - shared,
	      "dedup: %llu/%llu/%llu/%llu, expected %zu/%llu/%llu/%llu",
	      (unsigned long long)d.total_tokens, (unsigned long long)d.cached_tokens,
	      (unsigned long long)d.shared_tokens, (unsigned long long)d.unique_tokens,
	      n, (unsigned long long)total, (unsigned long long)cached, (unsigned long long)shared);
	CHECK(d.dedup_ratio == (total ? (double)(cached + shared) / (double)total : 0.0),
	      "dedup ratio");
}

static void op_touch(struct harness *h, struct input *in)
{
	struct model *m = &h->m;
	uint32_t q[MAX_SEQ];
	uint64_t ns = namespace(in), ttl = span(in);
	size_t n = make_seq(in, q);
	long i;
	int rc, want;

	begin_call(h);
	i = find_exact(m, ns, q, n);
	rc = pce_cache_touch(h->c, ns, n ? q : NULL, n, ttl);
	trace_call("touch", ns, q, n, rc);
	check_no_releases();
	CHECK(seen.nev == 0, "a touch emitted events");
	want = n == 0 ? PCE_EINVAL : i < 0 || !live(m, &m->e[i]) ? PCE_ENOENT : 0;
	CHECK(rc == want, "touch: %s, expected %s", pce_err_name(rc), pce_err_name(want));
	if (want == 0) {
		uint64_t at = expiry_of(m, ttl);
		if (at > m->e[i].expires)
			m->e[i].expires = at;
	}
}

static void op_remove_prefix(struct harness *h, struct input *in)
{
	struct model *m = &h->m;
	uint32_t q[MAX_SEQ];
	uint64_t ns = namespace(in), removed = 0xdead, want = 0;
	size_t n = make_seq(in, q);
	int rc;

	begin_call(h);
	rc = pce_cache_remove_prefix(h->c, ns, n ? q : NULL, n, &removed);
	trace_call("remove_prefix", ns, q, n, rc);
	check_no_releases();
	if (n == 0) {
		CHECK(rc == PCE_EINVAL, "remove_prefix of nothing: %s", pce_err_name(rc));
		CHECK(seen.nev == 0, "a refused remove_prefix emitted events");
		return;
	}
	CHECK(rc == 0, "remove_prefix: %s", pce_err_name(rc));
	for (size_t i = 0; i < m->ne; i++) {
		struct mentry *e = &m->e[i];
		if (e->linked && e->ns == ns && e->len >= n && lcp(e->tok, e->len, q, n) == n) {
			unlink_entry(m, i, PCE_REASON_REMOVED);
			want++;
		}
	}
	CHECK(removed == want, "remove_prefix removed %llu, expected %llu",
	      (unsigned long long)removed, (unsigned long long)want);
	check_removal_events(m, h->was_linked, h->nwas);
}

/* What the model freed since @e0/@kv0/@t0 entries/KV/tokens, by @unit. */
static uint64_t freed_by(const struct model *m, int unit, uint64_t e0, uint64_t kv0, uint64_t t0)
{
	return unit == PCE_EVICT_KV_BYTES ? kv0 - kv_total(m)
	       : unit == PCE_EVICT_TOKENS ? t0 - distinct_tokens(m)
					  : e0 - linked_count(m);
}

static int all_linked_pinned(const struct model *m)
{
	for (size_t i = 0; i < m->ne; i++)
		if (m->e[i].linked && m->e[i].pins == 0)
			return 0;
	return 1;
}

static int within_budgets(const struct model *m)
{
	return !(m->cfg.kv_budget && kv_total(m) > m->cfg.kv_budget) &&
	       !(m->cfg.max_entries && linked_count(m) > m->cfg.max_entries);
}

/* Follow the CAPACITY evictions of an eviction on demand (@unit, @amount)
 * or, with @unit < 0, of a budget change: each victim linked and unpinned,
 * each taken while the goal was not met. */
static void follow_demand(struct model *m, int unit, uint64_t amount, uint64_t e0, uint64_t kv0,
			  uint64_t t0)
{
	for (size_t k = 0; k < seen.nev; k++) {
		const struct pce_event *ev = &seen.ev[k];
		long i = find_value(m, ev->value);

		CHECK(ev->kind == PCE_EVENT_REMOVED && ev->reason == PCE_REASON_CAPACITY,
		      "an eviction emitted a %s event", ev->kind ? "REMOVED" : "STORED");
		CHECK(i >= 0 && m->e[i].linked && m->e[i].pins == 0,
		      "evicted value %llu is not linked or is pinned", (unsigned long long)ev->value);
		CHECK(unit < 0 ? !within_budgets(m) : freed_by(m, unit, e0, kv0, t0) < amount,
		      "evicted after the goal was met");
		unlink_entry(m, (size_t)i, PCE_REASON_CAPACITY);
	}
}

static void op_evict(struct harness *h, struct input *in)
{
	struct model *m = &h->m;
	uint8_t b = u8(in);
	int unit = b % 4; /* 3: not a unit */
	uint64_t amount = unit == PCE_EVICT_KV_BYTES ? (uint64_t)u8(in) * 4 : u8(in) % 8;
	uint64_t e0 = linked_count(m), kv0 = kv_total(m), t0 = distinct_tokens(m), got;
	struct pce_evicted f;
	int rc, want;

	begin_call(h);
	rc = pce_cache_evict(h->c, (enum pce_evict_unit)unit, amount, &f);
	if (trace)
		fprintf(stderr, "#%u evict unit=%d amount=%llu -> %s\n", op_index, unit,
			(unsigned long long)amount, pce_err_name(rc));
	if (unit == 3) {
		CHECK(rc == PCE_EINVAL, "evict with a bad unit: %s", pce_err_name(rc));
		CHECK(seen.nev == 0, "a refused eviction emitted events");
		check_no_releases();
		return;
	}
	follow_demand(m, unit, amount, e0, kv0, t0);
	got = freed_by(m, unit, e0, kv0, t0);
	want = got >= amount ? 0 : PCE_ENOSPC;
	CHECK(rc == want, "evict: %s, expected %s", pce_err_name(rc), pce_err_name(want));
	CHECK(want == 0 || all_linked_pinned(m), "PCE_ENOSPC with unpinned entries left");
	CHECK(f.entries == e0 - linked_count(m) && f.kv_bytes == kv0 - kv_total(m) &&
		      f.tokens == t0 - distinct_tokens(m),
	      "evict reports %llu entries, %llu KV bytes, %llu tokens",
	      (unsigned long long)f.entries, (unsigned long long)f.kv_bytes,
	      (unsigned long long)f.tokens);
	check_removal_events(m, h->was_linked, h->nwas);
	if (amount)
		check_releases(m);
	else
		check_no_releases();
}

static void op_set_budgets(struct harness *h, struct input *in)
{
	struct model *m = &h->m;
	uint8_t b = u8(in);
	struct pce_budgets nb = {0, 0, 0, 1 + u8(in) % 100, 0};
	int rc, want;

	nb.low_watermark_pct = b & 4 ? 1 + u8(in) % nb.high_watermark_pct : nb.high_watermark_pct;
	if (b & 1)
		nb.kv_budget = 1 + (uint64_t)u8(in) * 8;
	if (b & 2)
		nb.max_entries = 1 + u8(in) % 16;
	if ((b & 0x18) == 0x18)
		nb.low_watermark_pct = nb.high_watermark_pct + 1; /* invalid */
	begin_call(h);
	rc = pce_cache_set_budgets(h->c, &nb);
	if (trace)
		fprintf(stderr, "#%u set_budgets kv=%llu entries=%llu high=%u low=%u -> %s\n",
			op_index, (unsigned long long)nb.kv_budget,
			(unsigned long long)nb.max_entries, nb.high_watermark_pct,
			nb.low_watermark_pct, pce_err_name(rc));
	if (nb.low_watermark_pct > nb.high_watermark_pct) {
		CHECK(rc == PCE_EINVAL, "set_budgets with bad watermarks: %s", pce_err_name(rc));
		CHECK(seen.nev == 0, "a refused budget change emitted events");
		check_no_releases();
		return;
	}
	m->cfg.kv_budget = nb.kv_budget;
	m->cfg.max_entries = nb.max_entries;
	m->cfg.high_watermark_pct = nb.high_watermark_pct;
	m->cfg.low_watermark_pct = nb.low_watermark_pct;
	follow_demand(m, -1, 0, 0, 0, 0);
	want = within_budgets(m) ? 0 : PCE_EBUSY;
	CHECK(rc == want, "set_budgets: %s, expected %s", pce_err_name(rc), pce_err_name(want));
	CHECK(want == 0 || all_linked_pinned(m), "PCE_EBUSY with unpinned entries left");
	m->ceil_kv = want ? kv_total(m) : 0;
	m->ceil_entries = want ? linked_count(m) : 0;
	check_removal_events(m, h->was_linked, h->nwas);
	check_releases(m);
}

static void op_audit(struct harness *h)
{
	char msg[256];
	int rc = pce_cache_audit(h->c, PCE_AUDIT_QUIESCENT, msg, sizeof msg);

	CHECK(rc == 0, "audit: %s", msg);
}

/* Destroy: EBUSY while a pin with a live lease remains, then release them
 * all; every value must leave exactly once. */
static void finish(struct harness *h)
{
	struct model *m = &h->m;
	int rc;

	begin_call(h);
	rc = pce_cache_destroy(h->c);
	for (size_t k = 0; k < m->npin; k++) {
		struct mpin *p = &m->pin[k];
		if (p->active && p->deadline <= m->now) {
			release_model_pin(m, p);
			m->st.pins_forced++;
		}
	}
	if (m->active_pins) {
		CHECK(rc == PCE_EBUSY, "destroy with live pins: %s", pce_err_name(rc));
		check_no_releases();
		CHECK(seen.nev == 0, "a refused destroy emitted events");
		for (size_t k = 0; k < m->npin; k++) {
			struct mpin *p = &m->pin[k];
			if (p->active) {
				CHECK(pce_pin_release(h->c, (struct pce_pin){p->id}) == 0,
				      "releasing a pin before destroy");
				release_model_pin(m, p);
			}
		}
		op_audit(h);
		check_stats(h->c, m);
		begin_call(h);
		rc = pce_cache_destroy(h->c);
	}
	CHECK(rc == 0, "destroy: %s", pce_err_name(rc));
	for (size_t i = 0; i < m->ne; i++) {
		if (m->e[i].linked)
			unlink_entry(m, i, PCE_REASON_DESTROYED);
		m->e[i].zombie = 0;
	}
	check_removal_events(m, h->was_linked, h->nwas);
	check_releases(m);
	for (size_t i = 0; i < m->ne; i++)
		CHECK(m->e[i].released, "value %llu never released",
		      (unsigned long long)m->e[i].value);
}

static void configure(struct pce_config *cfg, struct input *in, struct harness *h)
{
	uint8_t b0 = u8(in), b1 = u8(in), b2 = u8(in), b3 = u8(in);
	static const uint64_t ttl[4] = {0, 50, PCE_NEVER, 1000};

	pce_config_init(cfg);
	cfg->background_reclaim = 0;
	cfg->clock = harness_clock;
	cfg->on_event = on_event;
	cfg->on_release = on_release;
	cfg->shards = 1u << (b0 & 3);
	cfg->policy = b0 & 4 ? PCE_POLICY_CLOCK_LFU : PCE_POLICY_CLOCK_LRU;
	if (b0 & 8) {
		cfg->kv_mode = PCE_KV_PER_TOKEN;
		cfg->kv_bytes_per_token = 1 + (b0 >> 4);
	}
	cfg->min_prefix_len = 1 + (b1 & 3) / 2 * ((b1 >> 2) & 3);
	cfg->block_size = 1 + ((b1 >> 4) & 3) / 2 * ((b1 >> 6) & 3);
	cfg->max_pins = 1 + (b2 & 7);
	cfg->default_ttl_ns = ttl[(b2 >> 3) & 3];
	cfg->default_pin_lease_ns = ttl[(b2 >> 5) & 3];
	h->value_mask = b2 & 0x80 ? UINT64_MAX : 0;
	if (b3 & 1)
		cfg->kv_budget = 1 + (uint64_t)u8(in) * 8;
	if (b3 & 2)
		cfg->max_entries = 1 + u8(in) % 16;
	if (b3 & 3) {
		cfg->high_watermark_pct = 1 + u8(in) % 100;
		cfg->low_watermark_pct = 1 + u8(in) % cfg->high_watermark_pct;
	}
	clock_now = b3 & 4 ? (uint64_t)1 << 40 : b3 & 8 ? 0 : 1000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct harness h;
	int rc;

	memset(&h, 0, sizeof(h));
	trace = getenv("PCE_FUZZ_TRACE") != NULL;
	nrecent = 0;
	op_index = 0;
	configure(&h.m.cfg, &in, &h);
	h.m.now = clock_now;
	rc = pce_cache_create(&h.m.cfg, &h.c);
	if (trace)
		fprintf(stderr, "config: shards=%u policy=%d kv_mode=%d per_token=%llu min_prefix=%u "
			"block=%u max_pins=%u ttl=%llu lease=%llu kv_budget=%llu max_entries=%llu "
			"high=%u low=%u now=%llu\n",
			h.m.cfg.shards, h.m.cfg.policy, h.m.cfg.kv_mode,
			(unsigned long long)h.m.cfg.kv_bytes_per_token, h.m.cfg.min_prefix_len,
			h.m.cfg.block_size, h.m.cfg.max_pins, (unsigned long long)h.m.cfg.default_ttl_ns,
			(unsigned long long)h.m.cfg.default_pin_lease_ns,
			(unsigned long long)h.m.cfg.kv_budget, (unsigned long long)h.m.cfg.max_entries,
			h.m.cfg.high_watermark_pct, h.m.cfg.low_watermark_pct,
			(unsigned long long)clock_now);
	CHECK(rc == 0, "create: %s", pce_err_name(rc));
	while (in.n && op_index < MAX_OPS) {
		uint8_t op = u8(&in);

		op_index++;
		switch (op % 16) {
		case 0: case 1: case 2: case 3: case 4:
			op_store(&h, &in);
			break;
		case 5: case 6: case 7: case 8:
			op_lookup(&h, &in);
			break;
		case 9:
			op_pin_release(&h, &in);
			break;
		case 10: case 11:
			op_remove(&h, &in);
			break;
		case 12:
			clock_now += span(&in) % ((uint64_t)1 << 40);
			h.m.now = clock_now;
			if (trace)
				fprintf(stderr, "#%u clock = %llu\n", op_index,
					(unsigned long long)clock_now);
			break;
		case 13:
			op_reclaim(&h);
			break;
		case 14:
			if (op & 0x80)
				op_clear(&h, &in);
			else
				op_dedup(&h, &in);
			break;
		default:
			/* the engine calls share the last slot with reclaim passes */
			switch ((op >> 4) % 5) {
			case 0:
				op_reclaim(&h);
				break;
			case 1:
				op_touch(&h, &in);
				break;
			case 2:
				op_remove_prefix(&h, &in);
				break;
			case 3:
				op_evict(&h, &in);
				break;
			default:
				op_set_budgets(&h, &in);
				break;
			}
			break;
		}
		op_audit(&h);
		check_stats(h.c, &h.m);
	}
	op_index++;
	finish(&h);
	free(h.m.e);
	free(h.was_linked);
	return 0;
}
