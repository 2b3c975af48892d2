/*
 * stress.c - torture test of libpce: READERS WRITERS SECONDS [options].
 *
 * Readers look up (with and without pins, WHOLE, PEEK) and run batch
 * analyses; writers store (some pinning their holder), replace, remove,
 * remove by prefix, touch, evict on demand, change the budgets, clear
 * namespaces and run reclaim passes, all while the cache's own reclaim thread evicts to the budgets
 * and drops expired entries.  A monitor samples the budgets and, every
 * --audit-ms, stops the workers and runs pce_cache_audit().  The seed is
 * printed; it fixes the key universe and every thread's choices (thread
 * interleavings are not replayable).  Exit status 1 on any violation.
 *
 * Prior art: liburcu's rcutorture and test_urcu_hash (readers, writers,
 * duration, a leak count that fails the run).
 *
 * Values.  Every store attempt mints a fresh 64-bit value v; the record of v
 * lives in ring[v % ring_size]:
 *
 *   field         written by                    meaning
 *   value         minting writer (release)      which value owns the record
 *   key, ttl, kv  minting writer, before store  what was stored
 *   state         the storing writer            PENDING -> STORED | FAILED
 *   stored_end    the storing writer            clock after store returned
 *   removed       on_event(REMOVED): CAS 0->seq  seq_clock when it left the index
 *   released      on_release: CAS 0 -> seq      seq_clock at release
 *   held          readers (atomic)              pins held with no lease
 *   lease_until   readers (atomic max)          deadline of abandoned pins
 *
 * Checked invariants (each a violation, counted and reported):
 *   V1  a lookup's match is a prefix of the query and of the entry it names,
 *       the entry's namespace, length and KV bytes are those stored;
 *   V2  that entry was stored (not a failed store) and had neither left the
 *       index (its REMOVED event) nor been released when the lookup began
 *       (event seq <= the reader's start seq); REMOVED comes once per entry;
 *   V3  a TTL entry is not returned by a lookup that began after its TTL
 *       ended (measured from the end of its store, or of the last touch of
 *       its key that returned 0);
 *   V4  on_release runs once per stored value, never for a failed store,
 *       never while a pin without lease or an unexpired lease holds it;
 *   V5  at the end: stored - released - live = 0, no live pin, nothing
 *       pinned or retired left, the library's counters agree, the audit
 *       passes (also every --audit-ms during the run), and after destroy
 *       every stored value was released;
 *   V6  --no-evict: every sequence whose store returned 0 or PCE_EEXIST is
 *       found, whole, by every later lookup;
 *   V7  sampled gauges stay within budget + what the concurrent writers can
 *       have reserved and not yet rolled back (I11); the worst overshoot is
 *       reported;
 *   V8  a returned error is one the call documents; statistics never show
 *       more hits than lookups;
 *   V10 a store's holder is a stored entry of the same namespace, of the
 *       length reported, that shares the tokens reported; a pinned holder
 *       is not released before its pin; an eviction on demand that
 *       returns 0 freed what was asked;
 *   V9  --anchors N: the first N keys are stored before the workers start
 *       and never removed; a lookup whose query starts with one matches at
 *       least its length, WHOLE or not, pinned or not (unless the pin table
 *       is full), whatever else is removed or replaced meanwhile.
 *
 * Record reuse.  A record is reused only when its value failed to store, or
 * was released before the start of every lookup in flight (readers publish
 * their start seq before they look up).  So a lookup that returns a value
 * whose record now holds another value is itself a violation (V2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pce/pce.h>

#define MAX_LEN 64        /* longest key */
#define MAX_QUERY 96      /* longest query */
#define MAX_WORKERS 256
#define HELD_PINS 8       /* pins a reader holds at once */

/* ---- options ------------------------------------------------------------ */

struct opts {
	unsigned readers, writers, seconds;
	uint64_t seed;
	uint32_t shards, keys, namespaces, alphabet;
	uint64_t kv_budget, index_budget, max_entries;
	unsigned ttl_pct, ttl_max_ms;
	unsigned pin_pct, lease_pct, lease_ms;
	unsigned remove_pct, replace_pct, clears_per_million, reclaim_per_mille;
	unsigned dedup_per_mille, engine_per_mille;
	uint32_t max_pins, block_size, min_prefix;
	int lfu, per_token, no_evict, keep_going;
	uint32_t anchors;
	unsigned audit_ms, churn_ms, ring_log2;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: stress READERS WRITERS SECONDS [options]\n"
		"  --seed N            random seed (default: from the clock; printed)\n"
		"  --shards N          cache shards (16)\n"
		"  --keys N            distinct sequences (20000)\n"
		"  --namespaces N      namespaces they are spread over (4)\n"
		"  --alphabet N        tokens drawn from [0,N) plus 0 and UINT32_MAX (6)\n"
		"  --kv-budget B       KV budget in bytes (0 = none)\n"
		"  --index-budget B    index budget in bytes (0 = none)\n"
		"  --max-entries N     entry budget (0 = none)\n"
		"  --ttl-pct P         stores with a TTL (0)\n"
		"  --ttl-max-ms N      longest TTL (50)\n"
		"  --pin-pct P         lookups that pin (20)\n"
		"  --lease-pct P       pins taken with a lease and abandoned (0)\n"
		"  --lease-ms N        that lease (5)\n"
		"  --remove-pct P      writer ops that remove (15)\n"
		"  --replace-pct P     stores with PCE_STORE_REPLACE (20)\n"
		"  --clears-per-million N  writer ops that clear a namespace (100)\n"
		"  --reclaim-per-mille N writer ops that run pce_cache_reclaim (2)\n"
		"  --dedup-per-mille N reader ops that run pce_dedup_analyze (2)\n"
		"  --engine-per-mille N writer ops that evict on demand, touch, remove by\n"
		"                      prefix or change the budgets; stores that pin their\n"
		"                      holder (5; 0 with --no-evict and --anchors)\n"
		"  --max-pins N        pin table size (4096)\n"
		"  --block-size N, --min-prefix N   (1, 1)\n"
		"  --lfu               CLOCK-LFU instead of CLOCK-LRU\n"
		"  --per-token B       PCE_KV_PER_TOKEN with B bytes per token\n"
		"  --no-evict          no budgets, TTL, removals or clears: check V6\n"
		"  --anchors N         keep the first N keys stored throughout (no budgets or\n"
		"                      clears): check V9\n"
		"  --keep-going        count violations for the whole run (to measure a\n"
		"                      rate) instead of stopping at the first\n"
		"  --audit-ms N        stop the workers and audit every N ms (1000; 0 = end only)\n"
		"  --churn-ms N        worker threads exit and are replaced every N ms (0)\n"
		"  --ring-log2 N       value records: 2^N (20)\n");
	exit(2);
}

static uint64_t num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || end == s)
		usage();
	return v;
}

static void parse(int argc, char **argv, struct opts *o)
{
	struct timespec ts;

	if (argc < 4)
		usage();
	clock_gettime(CLOCK_REALTIME, &ts);
	*o = (struct opts){
		.readers = (unsigned)num(argv[1]), .writers = (unsigned)num(argv[2]),
		.seconds = (unsigned)num(argv[3]),
		.seed = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 20,
		.shards = 16, .keys = 20000, .namespaces = 4, .alphabet = 6,
		.ttl_max_ms = 50, .pin_pct = 20, .lease_ms = 5, .remove_pct = 15,
		.replace_pct = 20, .clears_per_million = 100, .reclaim_per_mille = 2,
		.dedup_per_mille = 2, .engine_per_mille = 5, .max_pins = 4096, .block_size = 1, .min_prefix = 1,
		.audit_ms = 1000, .ring_log2 = 20,
	};
	for (int i = 4; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name, field)                      \
	if (!strcmp(a, name)) {               \
		if (!v)                       \
			usage();              \
		o->field = (__typeof__(o->field))num(v); \
		i++;                          \
		continue;                     \
	}
		OPT("--seed", seed)
		OPT("--shards", shards)
		OPT("--keys", keys)
		OPT("--namespaces", namespaces)
		OPT("--alphabet", alphabet)
		OPT("--kv-budget", kv_budget)
		OPT("--index-budget", index_budget)
		OPT("--max-entries", max_entries)
		OPT("--ttl-pct", ttl_pct)
		OPT("--ttl-max-ms", ttl_max_ms)
		OPT("--pin-pct", pin_pct)
		OPT("--lease-pct", lease_pct)
		OPT("--lease-ms", lease_ms)
		OPT("--remove-pct", remove_pct)
		OPT("--replace-pct", replace_pct)
		OPT("--clears-per-million", clears_per_million)
		OPT("--reclaim-per-mille", reclaim_per_mille)
		OPT("--dedup-per-mille", dedup_per_mille)
		OPT("--engine-per-mille", engine_per_mille)
		OPT("--max-pins", max_pins)
		OPT("--block-size", block_size)
		OPT("--min-prefix", min_prefix)
		OPT("--per-token", per_token)
		OPT("--audit-ms", audit_ms)
		OPT("--churn-ms", churn_ms)
		OPT("--ring-log2", ring_log2)
		OPT("--anchors", anchors)
#undef OPT
		if (!strcmp(a, "--lfu")) {
			o->lfu = 1;
			continue;
		}
		if (!strcmp(a, "--no-evict")) {
			o->no_evict = 1;
			continue;
		}
		if (!strcmp(a, "--keep-going")) {
			o->keep_going = 1;
			continue;
		}
		usage();
	}
	if (o->readers + o->writers == 0 || o->readers + o->writers > MAX_WORKERS ||
	    o->keys < 2 || o->namespaces == 0 || o->namespaces > o->keys || o->alphabet == 0 ||
	    o->ring_log2 < 10 || o->ring_log2 > 30 || o->block_size == 0 || o->min_prefix == 0)
		usage();
	if (o->no_evict) {
		o->kv_budget = o->index_budget = o->max_entries = 0;
		o->ttl_pct = o->lease_pct = o->remove_pct = o->clears_per_million = 0;
		o->engine_per_mille = 0;
	}
	if (o->anchors) {
		/* Nothing may take an anchor away but a removal, which skips them. */
		o->kv_budget = o->index_budget = o->max_entries = 0;
		o->clears_per_million = 0;
		o->engine_per_mille = 0; /* evictions and prefix removals take anchors */
		if (o->anchors > o->keys / 2)
			usage();
	}
}

/* ---- random numbers (splitmix64: tiny, good enough, seedable) ------------ */

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint32_t below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(((rnd(s) >> 32) * n) >> 32);
}

static int chance(uint64_t *s, unsigned pct)
{
	return below(s, 100) < pct;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the key universe ----------------------------------------------------- */

/* Keys grow from each other (a random prefix of an earlier key of the same
 * namespace plus a few tokens), so that stores split edges and removals
 * merge them.  No two keys are equal. */
struct keys {
	uint32_t n;
	uint32_t *len;
	uint64_t *ns;
	uint32_t *tok;       /* key i: tok[i * MAX_LEN ...] */
	uint32_t *anchor_of; /* the longest anchor key that is a prefix of key i, + 1 (0: none) */
};

static const uint32_t *key_tokens(const struct keys *k, uint32_t i)
{
	return k->tok + (size_t)i * MAX_LEN;
}

static uint32_t draw_token(uint64_t *s, uint32_t alphabet)
{
	uint32_t r = below(s, 64);

	if (r == 0)
		return UINT32_MAX;
	if (r == 1)
		return 0;
	return 1 + below(s, alphabet);
}

static uint64_t key_hash(uint64_t ns, const uint32_t *t, uint32_t n)
{
	uint64_t h = 1469598103934665603ULL ^ ns;

	for (uint32_t i = 0; i < n; i++)
		h = (h ^ t[i]) * 1099511628211ULL;
	return h ^ n;
}

static void keys_build(struct keys *k, const struct opts *o, uint64_t seed)
{
	size_t cap = 1;
	uint32_t *set;
	uint64_t s = seed;

	while (cap < 2 * (size_t)o->keys)
		cap <<= 1;
	set = calloc(cap, sizeof(*set)); /* key index + 1 */
	k->n = o->keys;
	k->len = calloc(o->keys, sizeof(*k->len));
	k->ns = calloc(o->keys, sizeof(*k->ns));
	k->tok = calloc((size_t)o->keys * MAX_LEN, sizeof(*k->tok));
	if (!set || !k->len || !k->ns || !k->tok) {
		fprintf(stderr, "stress: out of memory\n");
		exit(2);
	}
	for (uint32_t i = 0; i < o->keys; i++) {
		static const uint64_t ns_of[4] = {0, 1, UINT64_MAX, 0x8000000000000000ULL};
		uint32_t *t = k->tok + (size_t)i * MAX_LEN;

		k->ns[i] = o->namespaces <= 4 ? ns_of[i % o->namespaces] : i % o->namespaces;
		for (;;) {
			uint32_t n = 0, add;
			size_t h;
			int dup = 0;

			if (i >= o->namespaces && below(&s, 10) < 8) {
				/* grow from an earlier key of the same namespace */
				uint32_t j = i - o->namespaces * (1 + below(&s, i / o->namespaces));
				n = 1 + below(&s, k->len[j]);
				memcpy(t, key_tokens(k, j), n * sizeof(*t));
			}
			add = (n == 0 ? 1 : 0) + below(&s, 6);
			while (add-- && n < MAX_LEN)
				t[n++] = draw_token(&s, o->alphabet);
			h = key_hash(k->ns[i], t, n) & (cap - 1);
			for (; set[h]; h = (h + 1) & (cap - 1)) {
				uint32_t j = set[h] - 1;
				if (k->ns[j] == k->ns[i] && k->len[j] == n &&
				    !memcmp(key_tokens(k, j), t, n * sizeof(*t))) {
					dup = 1;
					break;
				}
			}
			if (dup)
				continue;
			k->len[i] = n;
			set[h] = i + 1;
			break;
		}
	}
	/* Anchors: which keys start with which.  The set still maps each key's
	 * (namespace, tokens) to its index. */
	k->anchor_of = calloc(o->keys, sizeof(*k->anchor_of));
	if (!k->anchor_of) {
		fprintf(stderr, "stress: out of memory\n");
		exit(2);
	}
	for (uint32_t i = 0; o->anchors && i < o->keys; i++) {
		const uint32_t *t = key_tokens(k, i);
		for (uint32_t n = 1; n <= k->len[i]; n++) {
			size_t h = key_hash(k->ns[i], t, n) & (cap - 1);
			for (; set[h]; h = (h + 1) & (cap - 1)) {
				uint32_t j = set[h] - 1;
				if (j < o->anchors && k->ns[j] == k->ns[i] && k->len[j] == n &&
				    !memcmp(key_tokens(k, j), t, n * sizeof(*t)))
					k->anchor_of[i] = j + 1;
			}
		}
	}
	free(set);
}

/* ---- value records -------------------------------------------------------- */

enum { ST_FREE = 0, ST_PENDING, ST_STORED, ST_FAILED };

struct vrec {
	uint64_t value;
	uint64_t removed;     /* seq of its REMOVED event; 0 = still visible */
	uint64_t released;    /* release seq; 0 = not released */
	uint64_t stored_end;  /* clock when the store returned; 0 = not yet */
	uint64_t ttl;         /* ns; 0 = none */
	uint64_t kv;
	uint64_t lease_until; /* abandoned leased pins: no release before this */
	uint32_t key;
	uint32_t state;
	uint32_t held;        /* pins without lease held by readers */
	uint32_t reason;      /* release reason */
};

/* ---- shared state --------------------------------------------------------- */

struct worker {
	pthread_t thread;
	int reader;
	uint64_t rng;
	uint64_t start_seq; /* published release seq at lookup start; 0 = idle */
	/* pins held: no lease (checked), and with a lease (abandoned) */
	struct pce_pin pin[HELD_PINS];
	uint64_t pin_value[HELD_PINS];
	unsigned npins;
	/* counters, summed at the end */
	uint64_t lookups, hits, pinned, enopins, dedups;
	uint64_t stores, stored, existed, nospace, tooshort, replaced, removes, removed, clears;
	uint64_t reclaims, abandoned, stale;
	uint64_t evicts, touches, prefix_removes, budget_changes, holders;
};

static struct {
	struct opts o;
	struct keys k;
	struct pce_cache *cache;
	struct vrec *ring;
	uint64_t ring_mask;
	struct worker w[MAX_WORKERS];
	unsigned nworkers;
	uint64_t mint;          /* last value minted */
	uint64_t seq_clock;     /* last seq given to a removal or a release */
	uint64_t released, released_by[PCE_REASON_COUNT];
	uint8_t *present;       /* --no-evict: key whose store returned */
	uint64_t *touched;      /* per key: no expiry before this (touches) */
	uint64_t anchors_stored;
	int stop, pause;
	unsigned running, paused;
	uint64_t violations;
	pthread_mutex_t report_lock;
	/* worst sampled overshoot, bytes / entries over the budget */
	uint64_t over_kv, over_index, over_entries;
	uint64_t max_kv_store; /* largest KV one store may reserve */
	uint64_t audits, samples;
	uint64_t t0;
} g;

/* Every shared word is accessed atomically, sequentially consistent: the
 * record-reuse argument below relies on one total order. */
#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

/* A record being taken over by a new value (no value has this bit). */
#define CLAIMING (1ULL << 63)

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

__attribute__((format(printf, 1, 2))) static void violation(const char *fmt, ...)
{
	va_list ap;
	uint64_t n = ADD(&g.violations, 1);

	if (n > 20)
		return;
	pthread_mutex_lock(&g.report_lock);
	fprintf(stderr, "VIOLATION [%.3fs] ", (double)(now_ns() - g.t0) / 1e9);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&g.report_lock);
}

static struct vrec *rec_of(uint64_t v)
{
	return &g.ring[v & g.ring_mask];
}

/*
 * The oldest release seq a lookup in flight may still compare against.  The
 * clock is read before the readers' starts: a reader whose start this scan
 * misses published it after the read, so its lookup began after every
 * release this bound admits, and may not return any of those values.
 */
static uint64_t oldest_start(void)
{
	uint64_t m = LOAD(&g.seq_clock);

	for (unsigned i = 0; i < g.nworkers; i++) {
		uint64_t s = LOAD(&g.w[i].start_seq);
		if (s && s < m)
			m = s;
	}
	return m;
}

/* A fresh value whose record is free, failed, or released before every
 * lookup in flight began.  Values are never reused, so claiming a record by
 * CAS on its value cannot suffer ABA. */
static uint64_t mint(uint32_t key, uint64_t ttl, uint64_t kv)
{
	for (;;) {
		uint64_t v = ADD(&g.mint, 1);
		struct vrec *r = rec_of(v);
		uint64_t old = LOAD(&r->value);
		uint32_t st = LOAD(&r->state);

		if (old & CLAIMING)
			continue;
		if (old) {
			uint64_t rel = LOAD(&r->released);
			if (st == ST_PENDING || (st == ST_STORED && (!rel || rel >= oldest_start())))
				continue; /* still in use: skip this value */
		}
		if (!__atomic_compare_exchange_n(&r->value, &old, v | CLAIMING, 0,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			continue;
		STORE(&r->key, key);
		STORE(&r->ttl, ttl);
		STORE(&r->kv, kv);
		STORE(&r->stored_end, 0);
		STORE(&r->removed, 0);
		STORE(&r->released, 0);
		STORE(&r->lease_until, 0);
		STORE(&r->held, 0);
		STORE(&r->state, ST_PENDING);
		STORE(&r->value, v);
		return v;
	}
}

static uint64_t kv_of(uint32_t key, uint64_t declared)
{
	return g.o.per_token ? (uint64_t)g.k.len[key] * g.o.per_token : declared;
}

/* ---- callbacks ------------------------------------------------------------ */

/* Under the shard lock of the entry: it just became invisible to lookups. */
static void on_event(void *ctx, const struct pce_event *ev)
{
	struct vrec *r = rec_of(ev->value);
	uint64_t zero = 0;

	(void)ctx;
	if (ev->kind != PCE_EVENT_REMOVED)
		return;
	if (LOAD(&r->value) != ev->value) {
		violation("V2: REMOVED event for value %" PRIu64 ", which is not stored", ev->value);
		return;
	}
	if (!__atomic_compare_exchange_n(&r->removed, &zero, ADD(&g.seq_clock, 1), 0,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		violation("V2: two REMOVED events for value %" PRIu64, ev->value);
}

static void on_release(void *ctx, const struct pce_released *rel)
{
	struct vrec *r = rec_of(rel->value);
	uint64_t zero = 0, seq, lease;
	uint32_t st;

	(void)ctx;
	if (LOAD(&r->value) != rel->value) {
		violation("V4: released value %" PRIu64 " was never stored (or released twice)",
			  rel->value);
		return;
	}
	st = LOAD(&r->state);
	if (st == ST_FAILED)
		violation("V4: released value %" PRIu64 " whose store failed", rel->value);
	seq = ADD(&g.seq_clock, 1);
	if (!__atomic_compare_exchange_n(&r->released, &zero, seq, 0, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST)) {
		violation("V4: value %" PRIu64 " released twice (reasons %s, %s)", rel->value,
			  pce_reason_name((enum pce_reason)LOAD(&r->reason)),
			  pce_reason_name(rel->reason));
		return;
	}
	STORE(&r->reason, (uint32_t)rel->reason);
	if (LOAD(&r->held))
		violation("V4: value %" PRIu64 " released (%s) while pinned without lease",
			  rel->value, pce_reason_name(rel->reason));
	lease = LOAD(&r->lease_until);
	if (lease && now_ns() < lease)
		violation("V4: value %" PRIu64 " released (%s) before its pin lease ended",
			  rel->value, pce_reason_name(rel->reason));
	{
		uint32_t key = LOAD(&r->key);
		if (rel->ns != g.k.ns[key] || rel->len != g.k.len[key] ||
		    rel->kv_bytes != kv_of(key, LOAD(&r->kv)))
			violation("V4: release of %" PRIu64 " names ns %" PRIu64 " len %zu kv %" PRIu64
				  ", stored ns %" PRIu64 " len %u",
				  rel->value, rel->ns, rel->len, rel->kv_bytes, g.k.ns[key],
				  g.k.len[key]);
	}
	if ((unsigned)rel->reason >= PCE_REASON_COUNT) {
		violation("V4: release reason %d", (int)rel->reason);
		return;
	}
	if ((rel->reason == PCE_REASON_CAPACITY && !g.o.kv_budget && !g.o.index_budget &&
	     !g.o.max_entries && !g.o.engine_per_mille) ||
	    (rel->reason == PCE_REASON_TTL && !g.o.ttl_pct) ||
	    (rel->reason == PCE_REASON_CLEARED && !g.o.clears_per_million) ||
	    (rel->reason == PCE_REASON_REMOVED && !g.o.remove_pct && !g.o.engine_per_mille) ||
	    (LOAD(&r->key) < g.o.anchors && rel->reason != PCE_REASON_REPLACED &&
	     rel->reason != PCE_REASON_DESTROYED))
		violation("V4: value %" PRIu64 " released for reason %s, which this run cannot cause",
			  rel->value, pce_reason_name(rel->reason));
	ADD(&g.released, 1);
	ADD(&g.released_by[rel->reason], 1);
}

/* ---- pausing for audits ----------------------------------------------------- */

static void maybe_pause(void)
{
	if (!LOAD(&g.pause))
		return;
	ADD(&g.paused, 1);
	while (LOAD(&g.pause))
		usleep(100);
	__atomic_sub_fetch(&g.paused, 1, __ATOMIC_SEQ_CST);
}

static int audit_now(const char *when)
{
	char msg[256];
	int rc;

	/* The workers are paused, but the reclaim thread force-releases
	 * expired leases whenever it likes: pin counts are exact only without
	 * leases. */
	rc = pce_cache_audit(g.cache, g.o.lease_pct ? 0 : PCE_AUDIT_QUIESCENT, msg, sizeof msg);
	ADD(&g.audits, 1);
	if (rc)
		violation("V5: audit (%s) failed: %s (%s)", when, pce_err_name(rc), msg);
	return rc;
}

/* ---- readers -------------------------------------------------------------- */

static size_t make_query(struct worker *w, uint32_t *q, uint32_t *key, uint64_t *ns)
{
	uint32_t k = below(&w->rng, g.k.n);
	uint32_t len = g.k.len[k];
	size_t n = len;

	*key = k;
	*ns = g.k.ns[k];
	memcpy(q, key_tokens(&g.k, k), len * sizeof(*q));
	switch (below(&w->rng, 4)) {
	case 0: /* exact */
		break;
	case 1: /* truncated */
		n = 1 + below(&w->rng, len);
		break;
	case 2: { /* extended with random tokens */
		uint32_t add = 1 + below(&w->rng, 8);
		while (add-- && n < MAX_QUERY)
			q[n++] = draw_token(&w->rng, g.o.alphabet);
		break;
	}
	default: { /* a prefix, then another key of the namespace */
		uint32_t j = below(&w->rng, g.k.n);
		n = 1 + below(&w->rng, len);
		for (uint32_t i = 0; i < g.k.len[j] && n < MAX_QUERY; i++)
			q[n++] = key_tokens(&g.k, j)[i];
		break;
	}
	}
	return n;
}

/* V1-V3 for a hit on @m of query @q[0..@n) in @ns, begun at @start_seq and
 * @start_ns.  Returns the value's record, or NULL after a violation. */
static struct vrec *check_hit(const struct pce_match *m, uint64_t ns, const uint32_t *q,
			      size_t n, unsigned flags, uint64_t start_seq, uint64_t start_ns)
{
	struct vrec *r = rec_of(m->value);
	uint64_t rel, gone, end, ttl;
	uint32_t key, st;
	const uint32_t *et;

	if (LOAD(&r->value) != m->value || m->value > LOAD(&g.mint)) {
		violation("V2: lookup returned value %" PRIu64 ", unknown or released before the "
			  "lookup began", m->value);
		return NULL;
	}
	key = LOAD(&r->key);
	st = LOAD(&r->state);
	rel = LOAD(&r->released);
	gone = LOAD(&r->removed);
	end = LOAD(&r->stored_end);
	ttl = LOAD(&r->ttl);
	if (LOAD(&r->value) != m->value) {
		violation("V2: value %" PRIu64 "'s record was reused during the lookup", m->value);
		return NULL;
	}
	if (st == ST_FAILED)
		violation("V2: lookup returned value %" PRIu64 " whose store failed", m->value);
	if (gone && gone <= start_seq)
		violation("V2: lookup returned value %" PRIu64 ", which left the index (seq %" PRIu64
			  ") before the lookup began (seq %" PRIu64 ")",
			  m->value, gone, start_seq);
	if (rel && rel <= start_seq)
		violation("V2: lookup returned value %" PRIu64 " released (seq %" PRIu64
			  ") before it began (seq %" PRIu64 ")",
			  m->value, rel, start_seq);
	if (ttl && end && start_ns >= end + ttl && start_ns >= LOAD(&g.touched[key]))
		violation("V3: lookup returned value %" PRIu64 " %.3f ms after its TTL ended",
			  m->value, (double)(start_ns - end - ttl) / 1e6);
	et = key_tokens(&g.k, key);
	if (g.k.ns[key] != ns || m->entry_len != g.k.len[key] || m->tokens > n ||
	    m->tokens > m->entry_len || memcmp(q, et, m->tokens * sizeof(*q)) != 0 ||
	    m->kv_bytes != kv_of(key, LOAD(&r->kv)) || m->tokens % g.o.block_size ||
	    m->blocks != m->tokens / g.o.block_size || m->tokens < g.o.min_prefix) {
		violation("V1: lookup of %zu tokens in ns %" PRIu64 " matched %zu tokens of value %"
			  PRIu64 " (entry_len %zu, kv %" PRIu64 "), stored as ns %" PRIu64
			  " len %u",
			  n, ns, m->tokens, m->value, m->entry_len, m->kv_bytes, g.k.ns[key],
			  g.k.len[key]);
		return NULL;
	}
	if ((flags & PCE_LOOKUP_WHOLE) &&
	    (m->entry_len > n || memcmp(q, et, m->entry_len * sizeof(*q)) != 0 ||
	     m->tokens != m->entry_len - m->entry_len % g.o.block_size))
		violation("V1: WHOLE lookup matched value %" PRIu64 ", which is not wholly a "
			  "prefix of the query", m->value);
	return r;
}

static void release_pin(struct worker *w, unsigned i)
{
	struct vrec *r = rec_of(w->pin_value[i]);
	int rc;

	/* Still ours and pinned: it cannot have been released. */
	if (LOAD(&r->released))
		violation("V4: pinned value %" PRIu64 " was released before its pin", w->pin_value[i]);
	__atomic_sub_fetch(&r->held, 1, __ATOMIC_SEQ_CST);
	rc = pce_pin_release(g.cache, w->pin[i]);
	if (rc != 0)
		violation("V8: releasing a pin without lease returned %s", pce_err_name(rc));
	if (pce_pin_release(g.cache, w->pin[i]) != PCE_ESTALE)
		violation("V8: releasing a pin twice did not return PCE_ESTALE");
	w->pin[i] = w->pin[w->npins - 1];
	w->pin_value[i] = w->pin_value[w->npins - 1];
	w->npins--;
}

static void reader_op(struct worker *w)
{
	uint32_t q[MAX_QUERY];
	struct pce_lookup_opts lo = {0, 0};
	struct pce_match m;
	uint64_t ns, start_seq, start_ns;
	uint32_t key;
	size_t n;
	int rc, leased = 0, known;

	if (g.o.dedup_per_mille && below(&w->rng, 1000) < g.o.dedup_per_mille) {
		struct pce_seq seqs[8];
		uint32_t buf[8][MAX_QUERY];
		struct pce_dedup d;

		for (int i = 0; i < 8; i++) {
			seqs[i].len = make_query(w, buf[i], &key, &seqs[i].ns);
			seqs[i].tokens = buf[i];
		}
		rc = pce_dedup_analyze(g.cache, seqs, 8, &d);
		if (rc != 0)
			violation("V8: pce_dedup_analyze returned %s", pce_err_name(rc));
		else if (d.sequences != 8 ||
			 d.cached_tokens + d.shared_tokens + d.unique_tokens != d.total_tokens)
			violation("V1: dedup analysis does not add up");
		w->dedups++;
		return;
	}
	if (w->npins && (w->npins == HELD_PINS || chance(&w->rng, 10)))
		release_pin(w, below(&w->rng, w->npins));

	n = make_query(w, q, &key, &ns);
	known = g.o.no_evict && LOAD(&g.present[key]) && chance(&w->rng, 50);
	if (known) { /* V6: a sequence whose store returned */
		n = g.k.len[key];
		memcpy(q, key_tokens(&g.k, key), n * sizeof(*q));
	}
	switch (below(&w->rng, 8)) {
	case 0:
		lo.flags = PCE_LOOKUP_WHOLE;
		break;
	case 1:
		lo.flags = PCE_LOOKUP_PEEK;
		break;
	default:
		break;
	}
	if (!known && chance(&w->rng, g.o.pin_pct)) {
		lo.flags = (lo.flags & PCE_LOOKUP_WHOLE) | PCE_LOOKUP_PIN;
		lo.pin_lease_ns = PCE_NEVER;
		if (chance(&w->rng, g.o.lease_pct)) {
			leased = 1;
			lo.pin_lease_ns = (uint64_t)g.o.lease_ms * 1000000u;
		}
	}
	/* Publish the start before looking up: records released after this
	 * point are not reused while this lookup can return them (mint()). */
	start_seq = LOAD(&g.seq_clock);
	STORE(&w->start_seq, start_seq ? start_seq : 1);
	start_ns = now_ns();
	rc = pce_cache_lookup(g.cache, ns, q, n, &lo, &m);
	w->lookups++;
	if (rc == PCE_ENOPINS) {
		w->enopins++;
		if (m.tokens || m.pin.id)
			violation("V8: PCE_ENOPINS with a hit reported");
	} else if (rc != 0) {
		violation("V8: lookup returned %s", pce_err_name(rc));
	} else if (m.tokens) {
		struct vrec *r = check_hit(&m, ns, q, n, lo.flags, start_seq, start_ns);
		w->hits++;
		if (r && m.pin.id) {
			w->pinned++;
			/* (A leased pin may already have been forced: this thread
			 * can be descheduled for longer than the lease.) */
			if (!leased && LOAD(&r->released))
				violation("V4: value %" PRIu64 " was pinned after its release", m.value);
			if (leased) {
				/* Abandoned: the reclaimer must force it after the lease. */
				uint64_t until = start_ns + lo.pin_lease_ns, cur = LOAD(&r->lease_until);
				while (cur < until && !__atomic_compare_exchange_n(
							      &r->lease_until, &cur, until, 0,
							      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
					;
				w->abandoned++;
			} else {
				ADD(&r->held, 1);
				w->pin[w->npins] = m.pin;
				w->pin_value[w->npins++] = m.value;
			}
		} else if (m.pin.id && !leased) {
			pce_pin_release(g.cache, m.pin); /* after a reported violation */
		}
	} else if (m.pin.id) {
		violation("V8: a miss carries a pin");
	}
	if (g.o.anchors && rc == 0 && g.k.anchor_of[key]) {
		/* V9, pinned or not (PCE_ENOPINS is a documented miss). */
		uint32_t a = g.k.anchor_of[key] - 1, alen = g.k.len[a];
		size_t want = alen - alen % g.o.block_size;
		if (want < g.o.min_prefix)
			want = 0;
		if (alen <= n && !memcmp(q, key_tokens(&g.k, a), alen * sizeof(*q)) &&
		    m.tokens < want)
			violation("V9: lookup%s%s of %zu tokens matched %zu, but anchor key %u "
				  "(%u tokens) is a prefix of the query",
				  lo.flags & PCE_LOOKUP_WHOLE ? " (WHOLE)" : "",
				  lo.flags & PCE_LOOKUP_PIN ? " (PIN)" : "", n, m.tokens, a, alen);
	}
	if (known) {
		size_t want = n - n % g.o.block_size;
		if (want < g.o.min_prefix)
			want = 0;
		if (rc != 0 || m.tokens != want ||
		    (want && (lo.flags & PCE_LOOKUP_WHOLE) && m.entry_len != n))
			violation("V6: stored sequence (key %u, %zu tokens) not found: matched %zu",
				  key, n, m.tokens);
	}
	STORE(&w->start_seq, 0);
}

/* ---- writers -------------------------------------------------------------- */

/* V10 for the holder a store of @key reported; releases its pin. */
static void check_holder(struct worker *w, uint32_t key, const struct pce_store_result *res,
			 int pinned)
{
	struct vrec *h = rec_of(res->holder_value);
	uint32_t hk;
	int rc;

	if (!res->holder_tokens) {
		if (res->holder_pin.id)
			violation("V10: a pin without a holder");
		return;
	}
	w->holders++;
	if (pinned)
		ADD(&h->held, 1);
	if (LOAD(&h->value) != res->holder_value) {
		/* Unpinned, it may be gone and its record reused. */
		if (pinned)
			violation("V10: pinned holder %" PRIu64 " is not a live value",
				  res->holder_value);
	} else {
		hk = LOAD(&h->key);
		if (LOAD(&h->state) == ST_FAILED || g.k.ns[hk] != g.k.ns[key] ||
		    res->holder_len != g.k.len[hk] || res->holder_tokens > res->holder_len ||
		    res->holder_tokens > g.k.len[key] ||
		    memcmp(key_tokens(&g.k, key), key_tokens(&g.k, hk),
			   res->holder_tokens * sizeof(uint32_t)) != 0)
			violation("V10: holder %" PRIu64 " (key %u) of a store of key %u: %zu tokens, "
				  "len %zu", res->holder_value, hk, key, res->holder_tokens,
				  res->holder_len);
		if (pinned && LOAD(&h->released))
			violation("V10: pinned holder %" PRIu64 " was released", res->holder_value);
	}
	if (!pinned)
		return;
	__atomic_sub_fetch(&h->held, 1, __ATOMIC_SEQ_CST);
	rc = pce_pin_release(g.cache, res->holder_pin);
	if (rc)
		violation("V8: releasing a holder pin returned %s", pce_err_name(rc));
}

/* Raise @p to at least @v. */
static void raise_to(uint64_t *p, uint64_t v)
{
	uint64_t old = LOAD(p);

	while (old < v && !__atomic_compare_exchange_n(p, &old, v, 0, __ATOMIC_SEQ_CST,
						       __ATOMIC_SEQ_CST))
		;
}

/* Evict on demand, touch, remove by prefix, change the budgets. */
static void writer_engine_op(struct worker *w)
{
	uint32_t key = below(&w->rng, g.k.n);
	const uint32_t *kt = key_tokens(&g.k, key);
	int rc;

	switch (below(&w->rng, 4)) {
	case 0: {
		enum pce_evict_unit unit = (enum pce_evict_unit)below(&w->rng, 3);
		uint64_t amount = 1 + below(&w->rng, unit == PCE_EVICT_KV_BYTES ? 20000 : 32), got;
		struct pce_evicted f;

		rc = pce_cache_evict(g.cache, unit, amount, &f);
		w->evicts++;
		got = unit == PCE_EVICT_KV_BYTES ? f.kv_bytes
		      : unit == PCE_EVICT_TOKENS ? f.tokens
						 : f.entries;
		if ((rc == 0 && got < amount) || (rc != 0 && rc != PCE_ENOSPC))
			violation("V10: evict %" PRIu64 " of unit %d: %s, freed %" PRIu64, amount,
				  (int)unit, pce_err_name(rc), got);
		break;
	}
	case 1: {
		/* 0 takes the default TTL, none here: never expires. */
		uint64_t ttl = chance(&w->rng, 20) ? 0 : 1000000u * (1 + below(&w->rng, 50));

		rc = pce_cache_touch(g.cache, g.k.ns[key], kt, g.k.len[key], ttl);
		w->touches++;
		if (rc == 0)
			raise_to(&g.touched[key], ttl ? now_ns() + ttl : UINT64_MAX);
		else if (rc != PCE_ENOENT)
			violation("V8: touch returned %s", pce_err_name(rc));
		break;
	}
	case 2: {
		uint64_t n;

		rc = pce_cache_remove_prefix(g.cache, g.k.ns[key], kt, 1 + below(&w->rng, g.k.len[key]),
					     &n);
		w->prefix_removes++;
		if (rc)
			violation("V8: remove_prefix returned %s", pce_err_name(rc));
		break;
	}
	default: {
		/* Between the configured budgets and half of them, so V7's bound
		 * (the configured budgets) still holds. */
		unsigned half = chance(&w->rng, 50);
		struct pce_budgets b = {g.o.kv_budget >> half, g.o.index_budget >> half,
					g.o.max_entries >> half, 90, 80};

		if (!g.o.kv_budget && !g.o.index_budget && !g.o.max_entries)
			break;
		rc = pce_cache_set_budgets(g.cache, &b);
		w->budget_changes++;
		if (rc != 0 && rc != PCE_EBUSY)
			violation("V8: set_budgets returned %s", pce_err_name(rc));
		break;
	}
	}
}

static void writer_store(struct worker *w)
{
	uint32_t key = below(&w->rng, g.k.n);
	uint64_t ttl = 0, kv = 1 + below(&w->rng, 4096), v;
	struct pce_store_opts so = {0, PCE_NEVER, 0};
	struct pce_store_result res;
	struct vrec *r;
	int rc;

	if (key >= g.o.anchors && chance(&w->rng, g.o.ttl_pct)) {
		ttl = 1000000u * (1 + below(&w->rng, g.o.ttl_max_ms));
		so.ttl_ns = ttl;
	}
	if (chance(&w->rng, g.o.replace_pct))
		so.flags = PCE_STORE_REPLACE;
	if (below(&w->rng, 1000) < g.o.engine_per_mille * 20) {
		so.flags |= PCE_STORE_PIN_HOLDER;
		so.pin_lease_ns = PCE_NEVER;
	}
	v = mint(key, ttl, kv);
	r = rec_of(v);
	rc = pce_cache_store(g.cache, g.k.ns[key], key_tokens(&g.k, key), g.k.len[key], v, kv,
			     &so, &res);
	w->stores++;
	if (rc == 0 || rc == PCE_EEXIST)
		check_holder(w, key, &res, so.flags & PCE_STORE_PIN_HOLDER);
	if (rc == 0) {
		STORE(&r->stored_end, now_ns());
		STORE(&r->state, ST_STORED);
		w->stored++;
		if (res.replaced) {
			struct vrec *o = rec_of(res.existing_value);
			w->replaced++;
			if (!(so.flags & PCE_STORE_REPLACE))
				violation("V8: store without PCE_STORE_REPLACE replaced an entry");
			if (LOAD(&o->value) == res.existing_value && LOAD(&o->key) != key)
				violation("V1: store of key %u replaced value %" PRIu64 " of key %u",
					  key, res.existing_value, LOAD(&o->key));
		}
		if (g.o.no_evict)
			STORE(&g.present[key], 1);
		return;
	}
	STORE(&r->state, ST_FAILED);
	if (LOAD(&r->released))
		violation("V4: value %" PRIu64 " of a failed store (%s) was released", v,
			  pce_err_name(rc));
	if (rc == PCE_EEXIST) {
		struct vrec *o = rec_of(res.existing_value);
		w->existed++;
		if (so.flags & PCE_STORE_REPLACE)
			violation("V8: PCE_STORE_REPLACE store returned PCE_EEXIST");
		if (LOAD(&o->value) == res.existing_value && LOAD(&o->key) != key)
			violation("V1: PCE_EEXIST for key %u names value %" PRIu64 " of key %u", key,
				  res.existing_value, LOAD(&o->key));
		if (g.o.no_evict)
			STORE(&g.present[key], 1);
	} else if (rc == PCE_ESHORT && g.k.len[key] < g.o.min_prefix) {
		w->tooshort++;
	} else if (rc == PCE_ENOPINS && (so.flags & PCE_STORE_PIN_HOLDER)) {
		w->enopins++;
	} else if (rc == PCE_ENOSPC) {
		w->nospace++;
		if (!g.o.kv_budget && !g.o.index_budget && !g.o.max_entries)
			violation("V8: PCE_ENOSPC without a budget");
	} else {
		violation("V8: store returned %s", pce_err_name(rc));
	}
}

static void writer_op(struct worker *w)
{
	uint32_t r = below(&w->rng, 1000000);

	if (r < g.o.clears_per_million) {
		uint64_t removed;
		int rc = pce_cache_clear_ns(g.cache, g.k.ns[below(&w->rng, g.k.n)], &removed);
		if (rc)
			violation("V8: clear_ns returned %s", pce_err_name(rc));
		w->clears++;
	} else if (r < g.o.clears_per_million + 1000 * g.o.reclaim_per_mille) {
		int rc = pce_cache_reclaim(g.cache);
		if (rc)
			violation("V8: reclaim returned %s", pce_err_name(rc));
		w->reclaims++;
	} else if (below(&w->rng, 1000) < g.o.engine_per_mille) {
		writer_engine_op(w);
	} else if (below(&w->rng, 100) < g.o.remove_pct) {
		uint32_t key = g.o.anchors + below(&w->rng, g.k.n - g.o.anchors);
		uint64_t v = 0;
		int rc = pce_cache_remove(g.cache, g.k.ns[key], key_tokens(&g.k, key),
					  g.k.len[key], &v);
		w->removes++;
		if (rc == 0) {
			struct vrec *o = rec_of(v);
			w->removed++;
			if (LOAD(&o->value) != v || LOAD(&o->key) != key ||
			    LOAD(&o->state) == ST_FAILED)
				violation("V1: remove of key %u returned value %" PRIu64
					  ", not a value stored under it",
					  key, v);
		} else if (rc != PCE_ENOENT) {
			violation("V8: remove returned %s", pce_err_name(rc));
		}
	} else {
		writer_store(w);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t until = g.o.churn_ms ? now_ns() + (uint64_t)g.o.churn_ms * 1000000u : UINT64_MAX;

	while (!LOAD(&g.stop) && now_ns() < until) {
		for (int i = 0; i < 32; i++) {
			if (w->reader)
				reader_op(w);
			else
				writer_op(w);
		}
		maybe_pause();
	}
	__atomic_sub_fetch(&g.running, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void spawn(struct worker *w)
{
	ADD(&g.running, 1);
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		fprintf(stderr, "stress: pthread_create failed\n");
		exit(2);
	}
}

/* ---- monitor -------------------------------------------------------------- */

static uint64_t over(uint64_t used, uint64_t budget)
{
	return budget && used > budget ? used - budget : 0;
}

static void sample(void)
{
	struct pce_stats st;

	if (pce_cache_stats(g.cache, &st) != 0) {
		violation("V8: pce_cache_stats failed");
		return;
	}
	g.samples++;
	if (st.hits > st.lookups || st.misses > st.lookups)
		violation("V8: statistics: %" PRIu64 " hits, %" PRIu64 " misses of %" PRIu64
			  " lookups", st.hits, st.misses, st.lookups);
	g.over_kv = max_u64(g.over_kv, over(st.kv_bytes, g.o.kv_budget));
	g.over_index = max_u64(g.over_index, over(st.index_bytes, g.o.index_budget));
	g.over_entries = max_u64(g.over_entries, over(st.entries, g.o.max_entries));
	/* (I11) A gauge can exceed its budget only by reservations that are
	 * being rolled back: at most one per writer in flight. */
	if (over(st.kv_bytes, g.o.kv_budget) > (uint64_t)g.o.writers * g.max_kv_store)
		violation("V7: KV bytes %" PRIu64 " over budget %" PRIu64 " by more than %u stores",
			  st.kv_bytes, g.o.kv_budget, g.o.writers);
	if (over(st.entries, g.o.max_entries) > g.o.writers)
		violation("V7: %" PRIu64 " entries over budget %" PRIu64 " by more than %u", st.entries,
			  g.o.max_entries, g.o.writers);
}

static void pause_workers(void)
{
	STORE(&g.pause, 1);
	while (LOAD(&g.paused) < LOAD(&g.running))
		usleep(100);
}

static void resume_workers(void)
{
	STORE(&g.pause, 0);
	while (LOAD(&g.paused))
		usleep(50);
}

/* ---- end of run ------------------------------------------------------------ */

static void final_checks(void)
{
	struct pce_stats st;
	uint64_t stored = g.anchors_stored, removed = 0, lingering = 0;
	int rc;

	for (unsigned i = 0; i < g.nworkers; i++) {
		while (g.w[i].npins)
			release_pin(&g.w[i], 0);
		stored += g.w[i].stored;
	}
	/* Abandoned pins end with their lease; the first pass forces them,
	 * collects their zombies and releases everything retired. */
	usleep(2 * 1000 * (g.o.lease_ms + 1));
	pce_cache_reclaim(g.cache);
	pce_cache_reclaim(g.cache);
	/* With the background thread, a pass may still be finishing. */
	for (int i = 0; i < 1000; i++) {
		pce_cache_stats(g.cache, &st);
		if (!st.retired_bytes && !st.pinned_unlinked)
			break;
		usleep(1000);
		pce_cache_reclaim(g.cache);
	}
	pce_cache_stats(g.cache, &st);
	for (int r = 0; r < PCE_REASON_COUNT; r++)
		removed += st.removed[r];
	if (st.live_pins)
		violation("V5: %" PRIu64 " pins live at the end", st.live_pins);
	if (st.pinned_unlinked || st.retired_bytes)
		violation("V5: %" PRIu64 " pinned unlinked entries, %" PRIu64 " retired bytes left",
			  st.pinned_unlinked, st.retired_bytes);
	if (stored - LOAD(&g.released) != st.entries)
		violation("V5: stored %" PRIu64 " - released %" PRIu64 " != live %" PRIu64, stored,
			  LOAD(&g.released), st.entries);
	if (st.stores != stored || st.released != LOAD(&g.released) || removed != st.released)
		violation("V5: library counts stores %" PRIu64 " released %" PRIu64 " removed %" PRIu64
			  ", observed stores %" PRIu64 " released %" PRIu64,
			  st.stores, st.released, removed, stored, LOAD(&g.released));
	for (int r = 0; r < PCE_REASON_COUNT; r++)
		if (st.removed[r] != LOAD(&g.released_by[r]))
			violation("V5: %s: library removed %" PRIu64 ", released %" PRIu64,
				  pce_reason_name((enum pce_reason)r), st.removed[r],
				  LOAD(&g.released_by[r]));
	audit_now("end");
	if (g.o.no_evict) {
		for (uint32_t k = 0; k < g.k.n; k++) {
			struct pce_match m;
			struct pce_lookup_opts whole = {PCE_LOOKUP_WHOLE, 0};
			if (!g.present[k] || g.k.len[k] < g.o.min_prefix)
				continue;
			rc = pce_cache_lookup(g.cache, g.k.ns[k], key_tokens(&g.k, k), g.k.len[k],
					      &whole, &m);
			if (rc || m.entry_len != g.k.len[k])
				violation("V6: key %u not found at the end", k);
		}
	}
	rc = pce_cache_destroy(g.cache);
	if (rc)
		violation("V5: destroy returned %s", pce_err_name(rc));
	if (LOAD(&g.released) != stored)
		violation("V5: after destroy, released %" PRIu64 " of %" PRIu64 " stored values",
			  LOAD(&g.released), stored);
	for (uint64_t i = 0; i <= g.ring_mask; i++)
		if (g.ring[i].value && g.ring[i].state == ST_STORED && !g.ring[i].released)
			lingering++;
	if (lingering)
		violation("V5: %" PRIu64 " stored values never released", lingering);
}

static void summary(double secs)
{
	struct worker t = {0};

	for (unsigned i = 0; i < g.nworkers; i++) {
		struct worker *w = &g.w[i];
		t.lookups += w->lookups, t.hits += w->hits, t.pinned += w->pinned;
		t.enopins += w->enopins, t.dedups += w->dedups, t.stores += w->stores;
		t.stored += w->stored, t.existed += w->existed, t.nospace += w->nospace;
		t.tooshort += w->tooshort;
		t.replaced += w->replaced, t.removes += w->removes, t.removed += w->removed;
		t.clears += w->clears, t.reclaims += w->reclaims, t.abandoned += w->abandoned;
	}
	printf("SUMMARY seed=%" PRIu64 " readers=%u writers=%u seconds=%.1f lookups=%" PRIu64
	       " hits=%" PRIu64 " pinned=%" PRIu64 " abandoned_pins=%" PRIu64 " enopins=%" PRIu64
	       " dedups=%" PRIu64 " stores=%" PRIu64 " stored=%" PRIu64 " existed=%" PRIu64
	       " nospace=%" PRIu64 " tooshort=%" PRIu64 " replaced=%" PRIu64 " removes=%" PRIu64 " removed=%" PRIu64
	       " clears=%" PRIu64 " reclaims=%" PRIu64 " audits=%" PRIu64 " samples=%" PRIu64
	       " released=%" PRIu64,
	       g.o.seed, g.o.readers, g.o.writers, secs, t.lookups, t.hits, t.pinned, t.abandoned,
	       t.enopins, t.dedups, t.stores, t.stored, t.existed, t.nospace, t.tooshort, t.replaced, t.removes,
	       t.removed, t.clears, t.reclaims, g.audits, g.samples, g.released);
	for (int r = 0; r < PCE_REASON_COUNT; r++)
		printf(" %s=%" PRIu64, pce_reason_name((enum pce_reason)r), g.released_by[r]);
	printf(" over_kv=%" PRIu64 " over_index=%" PRIu64 " over_entries=%" PRIu64
	       " violations=%" PRIu64 "\n",
	       g.over_kv, g.over_index, g.over_entries, g.violations);
}

/* The engine operations (--engine-per-mille), on a line of their own. */
static void engine_summary(void)
{
	struct worker t = {0};

	for (unsigned i = 0; i < g.nworkers; i++) {
		struct worker *w = &g.w[i];
		t.evicts += w->evicts, t.touches += w->touches;
		t.prefix_removes += w->prefix_removes, t.budget_changes += w->budget_changes;
		t.holders += w->holders;
	}
	printf("ENGINE evicts=%" PRIu64 " touches=%" PRIu64 " prefix_removes=%" PRIu64
	       " budget_changes=%" PRIu64 " holders=%" PRIu64 "\n",
	       t.evicts, t.touches, t.prefix_removes, t.budget_changes, t.holders);
}

int main(int argc, char **argv)
{
	struct pce_config cfg;
	uint64_t end, next_audit, next_respawn;
	int rc;

	parse(argc, argv, &g.o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("stress: seed %" PRIu64 " (replay the key universe and choices with --seed)\n",
	       g.o.seed);
	pthread_mutex_init(&g.report_lock, NULL);
	keys_build(&g.k, &g.o, g.o.seed);
	g.ring_mask = ((uint64_t)1 << g.o.ring_log2) - 1;
	g.ring = calloc(g.ring_mask + 1, sizeof(*g.ring));
	g.present = calloc(g.k.n, 1);
	g.touched = calloc(g.k.n, sizeof(*g.touched));
	if (!g.ring || !g.present || !g.touched) {
		fprintf(stderr, "stress: out of memory\n");
		return 2;
	}
	g.max_kv_store = g.o.per_token ? (uint64_t)MAX_LEN * g.o.per_token : 4096;

	pce_config_init(&cfg);
	cfg.shards = g.o.shards;
	cfg.kv_budget = g.o.kv_budget;
	cfg.index_budget = g.o.index_budget;
	cfg.max_entries = g.o.max_entries;
	cfg.max_pins = g.o.max_pins;
	cfg.block_size = g.o.block_size;
	cfg.min_prefix_len = g.o.min_prefix;
	cfg.policy = g.o.lfu ? PCE_POLICY_CLOCK_LFU : PCE_POLICY_CLOCK_LRU;
	if (g.o.per_token) {
		cfg.kv_mode = PCE_KV_PER_TOKEN;
		cfg.kv_bytes_per_token = g.o.per_token;
	}
	cfg.reclaim_interval_ns = 1000000; /* 1 ms: many passes, many races */
	cfg.on_release = on_release;
	cfg.on_event = on_event;
	rc = pce_cache_create(&cfg, &g.cache);
	if (rc) {
		fprintf(stderr, "stress: pce_cache_create: %s (%s)\n", pce_strerror(rc),
			pce_config_error(&cfg) ? pce_config_error(&cfg) : "");
		return 2;
	}

	for (uint32_t k = 0; k < g.o.anchors; k++) {
		uint64_t v = mint(k, 0, 1);
		rc = pce_cache_store(g.cache, g.k.ns[k], key_tokens(&g.k, k), g.k.len[k], v, 1, NULL,
				     NULL);
		STORE(&rec_of(v)->state, rc == 0 ? ST_STORED : ST_FAILED);
		g.anchors_stored += rc == 0;
		if (rc != 0 && rc != PCE_ESHORT)
			violation("V8: storing anchor %u returned %s", k, pce_err_name(rc));
	}
	g.t0 = now_ns();
	g.nworkers = g.o.readers + g.o.writers;
	for (unsigned i = 0; i < g.nworkers; i++) {
		struct worker *w = &g.w[i];
		w->reader = i < g.o.readers;
		w->rng = g.o.seed * 0x9E3779B97F4A7C15ULL + i + 1;
		spawn(w);
	}
	end = g.t0 + (uint64_t)g.o.seconds * 1000000000u;
	next_audit = g.o.audit_ms ? g.t0 + (uint64_t)g.o.audit_ms * 1000000u : UINT64_MAX;
	next_respawn = g.t0 + 1000000u;
	for (uint64_t t = now_ns(); t < end && (g.o.keep_going || LOAD(&g.violations) == 0);
	     t = now_ns()) {
		sample();
		if (t >= next_audit) {
			pause_workers();
			audit_now("periodic");
			resume_workers();
			next_audit = now_ns() + (uint64_t)g.o.audit_ms * 1000000u;
		}
		if (g.o.churn_ms && t >= next_respawn) {
			/* Replace workers that exited: new threads, same state. */
			for (unsigned i = 0; i < g.nworkers; i++) {
				if (pthread_tryjoin_np(g.w[i].thread, NULL) == 0)
					spawn(&g.w[i]);
			}
			next_respawn = t + 1000000u;
		}
		usleep(200);
	}
	STORE(&g.stop, 1);
	for (unsigned i = 0; i < g.nworkers; i++)
		pthread_join(g.w[i].thread, NULL);
	sample();
	final_checks();
	summary((double)(now_ns() - g.t0) / 1e9);
	engine_summary();
	if (g.violations) {
		fprintf(stderr, "stress: FAILED with %" PRIu64 " violations (seed %" PRIu64 ")\n",
			g.violations, g.o.seed);
		return 1;
	}
	printf("stress: passed\n");
	return 0;
}
