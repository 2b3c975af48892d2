/*
 * pce/cache.h - libpce: a concurrent prefix cache for LLM inference.
 *
 * A pce_cache answers, from many threads at once, "what is the longest cached
 * prefix of these tokens, and where is its KV?", and keeps its memory within
 * byte budgets by itself.
 *
 * Model
 *   An entry is a token sequence (uint32_t ids) in a 64-bit namespace, plus an
 *   opaque 64-bit value (a pointer, a KV block id: libpce never reads it) and
 *   the KV bytes the entry holds.  Entries of different namespaces never match
 *   each other.  A lookup returns the longest prefix of the query that some
 *   live entry starts with, and that entry: the KV of any prefix of an entry is
 *   reusable.  Token sequences are compared exactly; no hash is ever trusted as
 *   identity.
 *
 * Threads
 *   Every function may be called from any thread, concurrently, except
 *   pce_cache_destroy(), which must be the last call on a cache.  Threads need
 *   no set-up: libpce uses liburcu's bulletproof flavour (urcu-bp), which
 *   registers each reading thread on first use and unregisters it when the
 *   thread exits.  Threads your program registers with liburcu itself, in any
 *   flavour (memb, qsbr, bp), may call libpce too, also from inside their own
 *   read-side sections.  libpce installs pthread_atfork handlers that call
 *   urcu_bp_before_fork() and its after-fork pair, so a program must not call
 *   those itself as well.
 *
 * fork()
 *   A child process (without exec) may create and use new caches normally.
 *   Every call on a cache it inherited from its parent returns PCE_EFORKED at
 *   once and changes nothing; pce_cache_destroy() of it returns PCE_EFORKED
 *   and frees nothing (the values, the reclaim thread and the locks are the
 *   parent's): the child's copy is simply abandoned.  fork() waits for a
 *   grace period in progress in the parent, which waits for the lookups in
 *   progress: a config.clock that blocks until after a fork would deadlock it.
 *
 * Progress
 *   pce_cache_lookup() is wait-free: no lock, no loop that waits for another
 *   thread (a pinned lookup chooses its entry at most 4 times), and no
 *   allocation (after a thread's first call).  It writes nothing shared
 *   except an entry's CLOCK reference bit or frequency counter (only when
 *   that changes), the pin, when asked for one, and the calling thread's
 *   statistics stripe.
 *   Stores, removals, prefix removals, touches and clears take one shard's
 *   writer lock at a time.  A store that must evict visits the other shards
 *   one at a time; if other stores take the room it made, it evicts again
 *   holding every shard's writer lock, so it always ends, and a refusal
 *   (PCE_ENOSPC) is exact.  pce_cache_evict() and pce_cache_set_budgets()
 *   also wait for an RCU grace period (they release values before they
 *   return).
 *
 * Values leave exactly once
 *   Each stored value is handed to config.on_release exactly once: after its
 *   entry is unreachable, after an RCU grace period, and after its last pin is
 *   released.  The call comes from the reclaim thread, from
 *   pce_cache_reclaim(), pce_cache_evict(), pce_cache_set_budgets() or
 *   pce_cache_destroy(); never from a lookup.
 *
 * Errors
 *   Functions that can fail return 0 or a negative PCE_E* code (pce/errors.h).
 *   Every function that takes a cache can also return PCE_EFORKED (above).
 *   libpce never aborts or exits on anything a caller can do.
 */
#ifndef PCE_CACHE_H
#define PCE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "pce/errors.h"
#include "pce/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest sequence a cache accepts, in tokens (PCE_E2BIG beyond). */
#define PCE_MAX_TOKENS ((size_t)1 << 28)
/* Largest pin table (config.max_pins). */
#define PCE_MAX_PINS (1u << 24)
/* Largest shard count (config.shards). */
#define PCE_MAX_SHARDS 4096u

/* Largest kv_bytes one store may declare (PCE_EINVAL beyond): 1 TiB. */
#define PCE_MAX_KV_BYTES ((uint64_t)1 << 40)
/* Largest config.kv_bytes_per_token: 16 MiB. */
#define PCE_MAX_KV_PER_TOKEN ((uint64_t)1 << 24)

/* A ttl_ns or pin_lease_ns that means "never expires". */
#define PCE_NEVER UINT64_MAX

struct pce_cache;

/* A pin handle (pce_cache_lookup(), pce_cache_store()).  id 0 is never a
 * live pin. */
struct pce_pin {
	uint64_t id;
};

/* Eviction policy of the reclaimer. */
enum pce_policy {
	PCE_POLICY_CLOCK_LRU = 0, /* CLOCK with a reference bit (approximates LRU) */
	PCE_POLICY_CLOCK_LFU = 1  /* CLOCK with a 4-bit saturating, aging counter */
};

/* How an entry's KV bytes are counted against config.kv_budget. */
enum pce_kv_mode {
	/* Each entry holds the kv_bytes its store declared (opaque engines). */
	PCE_KV_DECLARED = 0,
	/* KV = distinct cached tokens x kv_bytes_per_token: a prefix shared by
	 * several entries is counted once (paged engines: vLLM, SGLang). */
	PCE_KV_PER_TOKEN = 1
};

/* Why an entry left the cache. */
enum pce_reason {
	PCE_REASON_CAPACITY = 0, /* evicted to keep a budget */
	PCE_REASON_TTL,          /* its TTL expired */
	PCE_REASON_REMOVED,      /* pce_cache_remove() or pce_cache_remove_prefix() */
	PCE_REASON_CLEARED,      /* pce_cache_clear() or pce_cache_clear_ns() */
	PCE_REASON_REPLACED,     /* a store with PCE_STORE_REPLACE took its place */
	PCE_REASON_DESTROYED,    /* pce_cache_destroy() */
	PCE_REASON_COUNT
};

/* A value leaving the cache; see config.on_release. */
struct pce_released {
	uint64_t ns;
	uint64_t value;
	uint64_t kv_bytes;
	size_t len; /* the entry's length in tokens */
	enum pce_reason reason;
	uint64_t id; /* the entry's id (see struct pce_event) */
};

/* What changed in the index; see config.on_event. */
enum pce_event_kind {
	PCE_EVENT_STORED = 0, /* an entry became visible to lookups */
	PCE_EVENT_REMOVED = 1 /* an entry stopped being visible to lookups */
};

struct pce_event {
	enum pce_event_kind kind;
	enum pce_reason reason;  /* PCE_EVENT_REMOVED only */
	uint64_t ns;
	uint64_t value;
	uint64_t kv_bytes;
	size_t len;
	const uint32_t *tokens;  /* PCE_EVENT_STORED: the stored tokens, valid for
	                          * the call only; PCE_EVENT_REMOVED: NULL */
	uint64_t id;             /* the entry's id: never 0, unique among the
	                          * entries a cache ever stores (a replacement is a
	                          * new entry with a new id); the REMOVED event and
	                          * the pce_released of an entry carry the id its
	                          * STORED event did, so a consumer can mirror the
	                          * index by id.  Ids are opaque (not ordered). */
	uint32_t owner;          /* router events (pce/router.h): the holding's owner;
	                          * 0 for a cache */
	uint32_t tier;           /* router events: the holding's tier; 0 for a cache */
};

/* Returns a monotonic time in nanoseconds.  A lookup calls it inside its RCU
 * read-side section (when an entry has a TTL or a pin takes a lease), so its
 * cost bounds the lookup's, wait-freedom included; stores and removes may
 * call it under a shard's writer lock.  It must be quick, must not block and
 * must not call into the cache. */
typedef uint64_t (*pce_clock_fn)(void *ctx);
/* Receives each value exactly once; must not block nor call into the cache. */
typedef void (*pce_release_fn)(void *ctx, const struct pce_released *released);
/* Called synchronously, under the writer lock of the entry's shard, by the
 * thread that changed the index.  Must be quick and must not call into the
 * cache.  This is the seam for KV-event streams and cluster tiers. */
typedef void (*pce_event_fn)(void *ctx, const struct pce_event *event);

/*
 * struct pce_config - Everything a cache is created from.  Start from
 * pce_config_init(); pce_cache_create() rejects an invalid config with
 * PCE_EINVAL and never substitutes a default silently.
 */
struct pce_config {
	uint32_t shards;         /* power of two in [1, PCE_MAX_SHARDS]; default 16 */
	uint32_t min_prefix_len; /* matches shorter than this are misses; >= 1; default 1 */
	uint32_t block_size;     /* matches round down to whole blocks; >= 1; default 1 */
	uint32_t max_pins;       /* pins live at once, [1, PCE_MAX_PINS]; default 4096 */
	enum pce_policy policy;  /* default PCE_POLICY_CLOCK_LRU */
	enum pce_kv_mode kv_mode;       /* default PCE_KV_DECLARED */
	uint64_t kv_bytes_per_token;    /* in (0, PCE_MAX_KV_PER_TOKEN] in PCE_KV_PER_TOKEN
	                                 * mode, else 0 */
	uint64_t kv_budget;      /* bytes of KV; 0 = unlimited (default) */
	uint64_t index_budget;   /* bytes of libpce's own memory; 0 = unlimited (default) */
	uint64_t max_entries;    /* 0 = unlimited (default) */
	/* The reclaimer evicts when a budget is above high% and stops at low%;
	 * stores never go above 100%.  0 < low <= high <= 100; default 90 / 80. */
	uint32_t high_watermark_pct;
	uint32_t low_watermark_pct;
	uint64_t default_ttl_ns;       /* TTL of entries stored with ttl_ns 0; 0 or
	                                * PCE_NEVER = no expiry (default 0) */
	uint64_t default_pin_lease_ns; /* lease of pins taken with pin_lease_ns 0;
	                                * 0 or PCE_NEVER = no lease (default 0) */
	uint64_t reclaim_interval_ns;  /* background pass period, >= 100 us; default 10 ms */
	int background_reclaim;        /* 1 (default): a reclaim thread per cache;
	                                * 0: the caller runs pce_cache_reclaim() */
	pce_clock_fn clock;            /* NULL (default): CLOCK_MONOTONIC; runs inside
	                                * lookups (see pce_clock_fn) */
	void *clock_ctx;
	pce_release_fn on_release;     /* NULL: values are dropped silently */
	void *release_ctx;
	pce_event_fn on_event;         /* NULL: no events */
	void *event_ctx;
};

/* pce_config_init - Fill @cfg with the documented defaults. */
PCE_API void pce_config_init(struct pce_config *cfg);

/*
 * pce_config_error - Why @cfg is invalid.
 * Return: NULL if @cfg is valid, else a static sentence naming the first bad
 * field.  pce_cache_create() returns PCE_EINVAL exactly when this is non-NULL.
 */
PCE_API const char *pce_config_error(const struct pce_config *cfg);

/*
 * pce_cache_create - Create a cache.
 * @cfg: the configuration, copied; @out: receives the cache.
 * Return: 0, PCE_EINVAL (NULL argument or invalid config), PCE_ENOMEM, or
 * PCE_ETHREAD (the reclaim thread could not start).
 */
PCE_API int pce_cache_create(const struct pce_config *cfg, struct pce_cache **out);

/*
 * pce_cache_destroy - Release every value (reason PCE_REASON_DESTROYED) and
 * free the cache.  Accepts NULL.  Pins whose lease has expired are
 * force-released first.  Must be the last call on the cache; no other thread
 * may still be using it.
 * Return: 0; PCE_EBUSY if pins are still live (the cache is unchanged);
 * PCE_EFORKED the cache was created before a fork() of this process (nothing
 * is freed or released).
 */
PCE_API int pce_cache_destroy(struct pce_cache *cache);

/* ---- store ------------------------------------------------------------- */

/* Replace an entry that stores exactly this sequence instead of failing with
 * PCE_EEXIST; the old value leaves with PCE_REASON_REPLACED. */
#define PCE_STORE_REPLACE (1u << 0)

/* Pin the holder (see struct pce_store_result), as PCE_LOOKUP_PIN would. */
#define PCE_STORE_PIN_HOLDER (1u << 1)

struct pce_store_opts {
	unsigned flags;        /* PCE_STORE_* */
	uint64_t ttl_ns;       /* 0: config.default_ttl_ns; PCE_NEVER: no expiry */
	uint64_t pin_lease_ns; /* PCE_STORE_PIN_HOLDER: 0: config.default_pin_lease_ns;
	                        * PCE_NEVER: no lease */
};

struct pce_store_result {
	uint64_t existing_value; /* PCE_EEXIST or replaced: the entry's value before */
	int replaced;            /* 1 if an entry was replaced */
	size_t new_tokens;       /* tokens the cache did not hold before (0 on error) */
	/* The holder: the live entry that held the longest prefix of the stored
	 * sequence just before the store, chosen as pce_cache_lookup() of the
	 * sequence would have chosen it (the latest-expiring live entry
	 * extending the longest match; whole blocks; nothing below
	 * min_prefix_len).  Reported on success and with PCE_EEXIST; zero
	 * otherwise. */
	size_t holder_tokens;    /* tokens of the stored sequence it holds; 0: no holder */
	size_t holder_len;       /* its length in tokens */
	uint64_t holder_value;
	uint64_t holder_id;
	struct pce_pin holder_pin; /* with PCE_STORE_PIN_HOLDER and a holder; else {0} */
};

/*
 * pce_cache_store - Store @tokens[0..@len) in namespace @ns with @value.
 * @kv_bytes: KV bytes the entry holds (PCE_KV_DECLARED), at most
 *   PCE_MAX_KV_BYTES; ignored in PCE_KV_PER_TOKEN mode, where the entry holds
 *   len x kv_bytes_per_token.
 * @opts: NULL for defaults.  @result: NULL, or receives details.
 *
 * A store that would break a budget while the reclaimer lags evicts
 * synchronously, in its own shard first, then in the others one at a time;
 * if concurrent stores take the room it made, it evicts again holding every
 * shard's writer lock (only lookups run meanwhile).  The tokens are copied.
 *
 * The holder (result->holder_*) lets an engine that prefilled a prompt
 * concurrently with another free its duplicate KV and use the holder's.
 * It is computed only when @result is not NULL.  Without
 * PCE_STORE_PIN_HOLDER it is a snapshot, like an unpinned lookup: it may
 * leave the cache at any time after (even by this store's own eviction).
 * With it, the holder is pinned (lease opts->pin_lease_ns) before anything
 * is evicted, so its value stays valid until the pin is released; the pin is
 * kept with PCE_EEXIST and dropped on every other error.  Finding the
 * holder touches no statistics and no CLOCK state.
 *
 * Return: 0 stored (or replaced); PCE_EEXIST an entry already stores this
 * sequence (result->existing_value tells its value; nothing changed);
 * PCE_ENOPINS PCE_STORE_PIN_HOLDER found a holder and the pin table is full
 * (nothing stored);
 * PCE_ENOSPC a budget cannot hold the entry: it is larger than the budget, or
 * everything evictable is pinned (nothing stored); PCE_ESHORT @len is below
 * min_prefix_len; PCE_E2BIG @len > PCE_MAX_TOKENS; PCE_EINVAL NULL @cache,
 * NULL @tokens, @len 0, unknown flags or @kv_bytes > PCE_MAX_KV_BYTES;
 * PCE_ENOMEM (nothing stored).  After PCE_ENOSPC or PCE_ENOMEM, entries the
 * store evicted to make room stay evicted.
 */
PCE_API int pce_cache_store(struct pce_cache *cache, uint64_t ns, const uint32_t *tokens,
			    size_t len, uint64_t value, uint64_t kv_bytes,
			    const struct pce_store_opts *opts, struct pce_store_result *result);

/* ---- lookup ------------------------------------------------------------ */

/* Pin the matched entry: it is neither evicted nor freed until the pin is
 * released with pce_pin_release() or its lease expires. */
#define PCE_LOOKUP_PIN (1u << 0)
/* Match only entries that are wholly a prefix of the query. */
#define PCE_LOOKUP_WHOLE (1u << 1)
/* No side effects at all: no statistics, no reference bit; not with PIN. */
#define PCE_LOOKUP_PEEK (1u << 2)

struct pce_lookup_opts {
	unsigned flags;        /* PCE_LOOKUP_* */
	uint64_t pin_lease_ns; /* 0: config.default_pin_lease_ns; PCE_NEVER: no lease */
};

struct pce_match {
	size_t tokens;      /* matched tokens, rounded down to whole blocks; 0 = miss */
	size_t blocks;      /* tokens / block_size */
	uint64_t value;     /* the matched entry's value (hits only) */
	size_t entry_len;   /* the matched entry's length in tokens (>= tokens) */
	uint64_t kv_bytes;  /* the matched entry's KV bytes */
	struct pce_pin pin; /* the pin, with PCE_LOOKUP_PIN on a hit; else {0} */
};

/*
 * pce_cache_lookup - Longest cached prefix of @tokens[0..@len) in @ns.
 * @opts: NULL for defaults.  @out: receives the match; out->tokens == 0 is a
 * miss.  Wait-free (see the file comment).  Without PCE_LOOKUP_WHOLE the match
 * is the longest prefix of the query that some live entry starts with, and
 * the entry returned is the one of those with the latest expiry; with it, the
 * longest live entry that is wholly a prefix of the query.  A match shorter
 * than min_prefix_len is a miss.
 *
 * With PCE_LOOKUP_PIN, the entry is pinned before the lookup returns.  If a
 * concurrent store (PCE_STORE_REPLACE), remove or clear takes the chosen
 * entry out of the index between the choice and the pin, the lookup chooses
 * again and pins what matches then (the replacement, or a shorter entry),
 * up to 4 choices in all.  So a pinned lookup reports a miss (or a shorter
 * match) although an entry matched throughout only if the entries of 4
 * choices in a row leave that way, each in that short window, or if the
 * chosen entry is being evicted for capacity at that instant (an eviction
 * claims its victim just before taking it out of the index).
 *
 * Return: 0 (hit or miss); PCE_ENOPINS the pin table is full (reported as a
 * miss in @out); PCE_EINVAL NULL @cache/@out, NULL @tokens with @len > 0, or
 * bad flags; PCE_E2BIG @len > PCE_MAX_TOKENS; PCE_ENOMEM the calling thread's
 * first call could not set it up (pthread_setspecific failed).
 */
PCE_API int pce_cache_lookup(struct pce_cache *cache, uint64_t ns, const uint32_t *tokens,
			     size_t len, const struct pce_lookup_opts *opts,
			     struct pce_match *out);

/*
 * pce_pin_release - Release a pin taken by pce_cache_lookup().  Any thread
 * may release any pin; each pin exactly once.
 * Return: 0; PCE_ESTALE the pin was already released, force-released after
 * its lease, or never existed (harmless: nothing changes); PCE_EINVAL NULL
 * @cache.
 */
PCE_API int pce_pin_release(struct pce_cache *cache, struct pce_pin pin);

/* ---- remove, clear, reclaim ------------------------------------------- */

/*
 * pce_cache_remove - Remove the entry that stores exactly @tokens in @ns.
 * Entries it is a prefix of stay.  A pinned entry is unlinked at once and
 * its value released after its last pin.  @value: NULL, or receives its value.
 * Return: 0, PCE_ENOENT, PCE_EINVAL, PCE_E2BIG, or PCE_ENOMEM (a node merge
 * could not allocate; nothing changed).
 */
PCE_API int pce_cache_remove(struct pce_cache *cache, uint64_t ns, const uint32_t *tokens,
			     size_t len, uint64_t *value);

/*
 * pce_cache_clear_ns - Remove every entry of namespace @ns.
 * pce_cache_clear - Remove every entry.
 * @removed: NULL, or receives the number of entries removed.
 * Return: 0 or PCE_EINVAL.
 */
PCE_API int pce_cache_clear_ns(struct pce_cache *cache, uint64_t ns, uint64_t *removed);
PCE_API int pce_cache_clear(struct pce_cache *cache, uint64_t *removed);

/*
 * pce_cache_reclaim - Run one reclaim pass in the calling thread: force-release
 * expired pin leases, drop expired entries, evict down to the low watermarks,
 * wait for an RCU grace period and release the values that became free (the
 * on_release calls happen in this thread).  Safe with or without the
 * background thread.
 * Return: 0 or PCE_EINVAL.
 */
PCE_API int pce_cache_reclaim(struct pce_cache *cache);

/* ---- engine integration: evict on demand, budgets, touch --------------- */

/* What pce_cache_evict() counts towards @amount. */
enum pce_evict_unit {
	PCE_EVICT_KV_BYTES = 0, /* KV bytes, as config.kv_mode counts them */
	PCE_EVICT_TOKENS = 1,   /* distinct cached tokens (stats.tokens) */
	PCE_EVICT_ENTRIES = 2
};

/* What an eviction freed: the drop of the usage gauges its removals made. */
struct pce_evicted {
	uint64_t entries;
	uint64_t kv_bytes;
	uint64_t tokens;
	uint64_t index_bytes;
};

/*
 * pce_cache_evict - Evict unpinned entries now, whatever the watermarks say,
 * until @amount of @unit is freed.
 * @freed: NULL, or receives what was freed (every unit, also on error).
 *
 * Victims are chosen as the reclaimer chooses them: the CLOCK hands of the
 * shards in turn, each entry getting its second chance; if a whole round
 * left too little, any unpinned entry.  An eviction frees what no other entry
 * shares: evicting an entry that a longer one extends frees its entry and
 * (PCE_KV_DECLARED) its KV bytes but no tokens; so it may take more entries
 * than @amount suggests.  Then, before returning, it waits for a grace period
 * and hands the evicted values to config.on_release in the calling thread
 * (or a reclaim pass that took them first has), so the caller may reuse their
 * KV at once.  Values retired by others in the meantime are released with
 * them.  Blocks on shard locks and a grace period: never call it from an
 * on_release or on_event callback.  @amount 0 evicts nothing.
 *
 * Return: 0 at least @amount freed; PCE_ENOSPC less could be freed (what is
 * left is pinned; *@freed says how much was); PCE_ENOMEM less was freed
 * because a victim's removal could not allocate (a node merge); PCE_EINVAL
 * NULL @cache or unknown @unit.
 */
PCE_API int pce_cache_evict(struct pce_cache *cache, enum pce_evict_unit unit, uint64_t amount,
			    struct pce_evicted *freed);

/* Budgets that pce_cache_set_budgets() puts in force; the fields mean what
 * the config fields of the same names mean (0: unlimited). */
struct pce_budgets {
	uint64_t kv_budget;
	uint64_t index_budget;
	uint64_t max_entries;
	uint32_t high_watermark_pct; /* 0 < low <= high <= 100 */
	uint32_t low_watermark_pct;
};

/*
 * pce_cache_set_budgets - Change the budgets and watermarks at run time.
 *
 * The new values are in force for every store that reserves after this call
 * has begun its eviction (a store that reserved before it holds its shard
 * lock, and the call waits for every shard lock once before evicting).  If a
 * budget shrank below the usage, the call evicts synchronously, as
 * pce_cache_evict() does, down to the new budgets, then releases the values
 * in the calling thread.  Statistics report the budgets in force.
 *
 * Hard budgets (I11) under a shrink: while the call runs, usage may be above
 * the new budget (it was within the old one).  After it returns 0, no gauge
 * exceeds its budget.  After PCE_EBUSY a gauge may stay above its budget,
 * but never rises: every store that would add to it is refused (PCE_ENOSPC
 * after evicting what it can) until removals bring it below the budget.
 *
 * Return: 0 usage is within the new budgets; PCE_EBUSY it is not, once
 * every unpinned entry is evicted (pinned entries, or index memory an empty
 * shard keeps: its root table and expiry heap); PCE_ENOMEM a victim's
 * removal could not allocate; PCE_EINVAL NULL argument or watermarks that
 * pce_config_error() would refuse (nothing changed).  The new budgets are
 * in force after every code but PCE_EINVAL.
 */
PCE_API int pce_cache_set_budgets(struct pce_cache *cache, const struct pce_budgets *budgets);

/*
 * pce_cache_touch - For the live entry that stores exactly @tokens[0..@len)
 * in @ns: set its CLOCK reference as a hit would, and extend its TTL to
 * max(current expiry, now + @ttl_ns), without storing anything.
 * @ttl_ns: 0: config.default_ttl_ns; PCE_NEVER (or a default of 0): never
 *   expires.  A TTL is never shortened.
 *
 * Takes the entry's shard lock.  Safe with concurrent lookups: a lookup sees
 * the old or the new expiry, and one that started after the call returned
 * sees the new one.  A touch that races the entry's expiry either extends it
 * (the entry was still live under the shard lock) or reports PCE_ENOENT.
 *
 * Return: 0; PCE_ENOENT no live entry stores exactly this sequence;
 * PCE_EINVAL NULL @cache, NULL @tokens or @len 0; PCE_E2BIG.
 */
PCE_API int pce_cache_touch(struct pce_cache *cache, uint64_t ns, const uint32_t *tokens,
			    size_t len, uint64_t ttl_ns);

/*
 * pce_cache_remove_prefix - Remove every entry of @ns that starts with
 * @tokens[0..@len) (including one that stores exactly it), for instance a
 * retracted document or an unloaded adapter.
 *
 * All such entries share their first token, so they live in one shard: the
 * removal is one change under its lock, and a lookup sees all of them or
 * none.  Each one leaves with a PCE_EVENT_REMOVED event, reason
 * PCE_REASON_REMOVED (expired entries not yet reclaimed included).  Pinned
 * entries are unlinked at once, their values released after their last
 * pin, as with pce_cache_remove().  The subtree is cleared without
 * allocating; only re-merging the node it hung from may allocate one node.
 * @removed: NULL, or receives the number of entries removed.
 *
 * Return: 0 (also when nothing matched: *@removed is 0); PCE_EINVAL NULL
 * @cache, NULL @tokens or @len 0; PCE_E2BIG; PCE_ENOMEM the merge could not
 * allocate (nothing changed).
 */
PCE_API int pce_cache_remove_prefix(struct pce_cache *cache, uint64_t ns,
				    const uint32_t *tokens, size_t len, uint64_t *removed);

/* ---- statistics -------------------------------------------------------- */

struct pce_stats {
	/* monotonic counters */
	uint64_t lookups;          /* lookups without PCE_LOOKUP_PEEK */
	uint64_t hits;
	uint64_t misses;
	uint64_t query_tokens;     /* sum of lookup lengths */
	uint64_t hit_tokens;       /* sum of matched tokens */
	uint64_t stores;           /* entries stored (including replacements) */
	uint64_t stores_existing;  /* stores that found the sequence stored (PCE_EEXIST or replaced) */
	uint64_t stores_refused;   /* stores that failed with PCE_ENOSPC */
	uint64_t removed[PCE_REASON_COUNT]; /* entries that left the index, by reason */
	uint64_t sync_evictions;   /* capacity evictions done by stores, not the reclaimer */
	uint64_t pins;             /* pins taken by lookups */
	uint64_t pins_forced;      /* pins force-released after their lease */
	uint64_t released;         /* values handed to on_release */
	uint64_t reclaim_passes;
	/* gauges */
	uint64_t entries;          /* entries visible to lookups */
	uint64_t nodes;            /* trie nodes */
	uint64_t tokens;           /* distinct cached tokens (sum of edge lengths) */
	uint64_t kv_bytes;         /* KV bytes held, as config.kv_mode counts them */
	uint64_t index_bytes;      /* libpce memory reachable from the index */
	uint64_t retired_bytes;    /* unlinked memory waiting for a grace period */
	uint64_t fixed_bytes;      /* shards and pin table, allocated at create */
	uint64_t pinned_unlinked;  /* removed entries still held by pins */
	uint64_t live_pins;
	/* limits in force (the config's, or pce_cache_set_budgets()'s) */
	uint64_t kv_budget;
	uint64_t index_budget;
	uint64_t max_entries;
	uint32_t shards;
};

/*
 * pce_cache_stats - Snapshot of the statistics.  Takes no writer lock; the
 * fields are each exact but read at slightly different instants.
 * Return: 0 or PCE_EINVAL.
 */
PCE_API int pce_cache_stats(struct pce_cache *cache, struct pce_stats *out);

/*
 * pce_cache_shard_entries - Entries per shard: writes min(@n, shards) counts.
 * Return: the number of shards, or PCE_EINVAL.
 */
PCE_API int pce_cache_shard_entries(struct pce_cache *cache, uint64_t *counts, size_t n);

/* Human-readable name of a reason ("capacity", "ttl", ...). */
PCE_API const char *pce_reason_name(enum pce_reason reason);

/* ---- batch dedup analysis ---------------------------------------------- */

struct pce_seq {
	uint64_t ns;
	const uint32_t *tokens;
	size_t len;
};

struct pce_dedup {
	uint64_t sequences;
	uint64_t total_tokens;
	uint64_t cached_tokens; /* matched in the cache (0 without one) */
	uint64_t shared_tokens; /* beyond that, a prefix of an earlier sequence of the batch */
	uint64_t unique_tokens; /* the rest */
	double dedup_ratio;     /* (cached + shared) / total; 0 for an empty batch */
};

/*
 * pce_dedup_analyze - How much of a batch is already cached or shared.
 * Sequences are taken in order; each one's cached tokens are its match in
 * @cache (NULL: none), its shared tokens the further tokens it shares with
 * an earlier sequence of the batch.  With a cache, its min_prefix_len and
 * block_size apply.  The cache is not changed in any way (no statistics, no
 * reference bits).
 * Return: 0, PCE_EINVAL (NULL @out, NULL @seqs with @n > 0, a NULL tokens
 * with len > 0), PCE_E2BIG, or PCE_ENOMEM.
 */
PCE_API int pce_dedup_analyze(struct pce_cache *cache, const struct pce_seq *seqs, size_t n,
			      struct pce_dedup *out);

/* ---- audit -------------------------------------------------------------- */

/* The caller guarantees that no lookup and no pin release runs during the
 * audit, so pin counts can be checked exactly. */
#define PCE_AUDIT_QUIESCENT (1u << 0)

/*
 * pce_cache_audit - Check every invariant of docs/design.md: node and edge
 * structure, merged chains, hints, shard membership, the CLOCK ring and the
 * expiry heap, byte, token and entry accounting, and with
 * PCE_AUDIT_QUIESCENT pin counts.  Takes every shard lock in turn (holding
 * all of them at the end), so it stalls writers; lookups keep running.
 * Meant for tests and debug builds.
 * @flags: PCE_AUDIT_*.  @msg: NULL, or receives the first violation.
 * Return: 0, PCE_ECORRUPT, PCE_ENOMEM (no memory for the walk: nothing was
 * concluded), or PCE_EINVAL (NULL @cache or unknown flags).
 */
PCE_API int pce_cache_audit(struct pce_cache *cache, unsigned flags, char *msg,
			    size_t msg_len);

#ifdef __cplusplus
}
#endif

#endif /* PCE_CACHE_H */
