/*
 * core.h - the objects every libpce module shares: trie nodes, entries,
 * shards and the cache.  The full invariant list (I1...) and the protocol
 * table live in docs/design.md; each field below carries its row as
 * "W: who writes (under which lock)  R: who reads (how)".
 *
 *   cache
 *    +- shard[0..S-1]            chosen by mix64(ns, first token) & (S-1)
 *    |   +- roots: ctable ns -> root node (edge of 0 tokens)
 *    |   |           +- children: ctable first token -> node (edge run) ...
 *    |   +- CLOCK ring of the shard's live entries, expiry heap, retire lists
 *    +- pin table, statistics stripes, reclaimer
 *
 * Example (I3, I4: no node without an entry has fewer than two children):
 *   store A=[7 9 4 2], then B=[7 9 5]          (x y) edge tokens, [] entry
 *     before:  root -7-> (7 9 4 2)[A]
 *     after:   root -7-> (7 9) -+-4-> (4 2)[A]       split at edge offset 2
 *                               +-5-> (5)[B]
 *   remove B:  root -7-> (7 9 4 2)[A]               merged back
 */
#ifndef PCE_CORE_H
#define PCE_CORE_H

#include <pthread.h>
#include <stdint.h>

#include "ctable.h"
#include "internal.h"
#include "thread.h"

struct pce_entry;

struct pce_node {
	struct pce_ctable *children; /* W: shard lock, release  R: RCU acquire; NULL = none */
	struct pce_entry *entry;     /* W: shard lock, release  R: RCU acquire; entry ending here */
	union {
		struct pce_entry *hint;     /* W: shard lock, release  R: RCU acquire;
		                             * latest-expiring entry of the subtree (I6);
		                             * unused on roots */
		struct pce_ctable *owners;  /* router tries (shard.owner_sets): the set of
		                             * owners holding this node's path (router.c,
		                             * R1-R6); W/R as hint; NULL on roots */
	};
	union {
		struct pce_node *parent;      /* W/R: shard lock; NULL on roots */
		struct pce_node *retire_next; /* once unlinked: retire list / clear worklist */
	};
	uint32_t depth;   /* immutable: tokens from the root to the end of this edge */
	uint32_t len;     /* immutable: edge length; 0 only on roots */
	uint32_t tokens[]; /* immutable */
};

static inline size_t pce_node_size(size_t len)
{
	return sizeof(struct pce_node) + len * sizeof(uint32_t);
}

/* Entry pin word: (pins << 1) | PCE_ENTRY_DEAD.  DEAD is set once, when the
 * entry is unlinked; a pin is only taken while DEAD is clear. */
#define PCE_ENTRY_DEAD 1ULL
#define PCE_ENTRY_PIN 2ULL

#define PCE_CLOCK_FREQ_MAX 15

struct pce_entry {
	/* immutable after publication */
	uint64_t value;
	uint64_t kv_bytes;
	uint64_t id;         /* unique in the cache, never 0 (set at link) */
	uint64_t ns;
	uint32_t len;
	uint32_t shard;
	/* monotonic ns; PCE_NEVER = no TTL.  W: creator, then only raised by
	 * pce_cache_touch() (shard lock, relaxed atomic store, before the
	 * hints naming it are published)  R: readers, relaxed atomic load;
	 * writers under the lock */
	uint64_t expires_at;
	/* CLOCK state.  W: readers set ref / raise freq (relaxed, only when
	 * it changes); the CLOCK hand clears / ages them (shard lock).  */
	uint8_t ref;
	uint8_t freq;
	uint8_t reason;      /* W: shard lock, at unlink; R: reclaimer */
	uint8_t pad_;
	uint32_t heap_idx;   /* W/R: shard lock; 1 + index in the expiry heap, or NO_HEAP */
	uint64_t pinword;    /* atomic: lookups add/sub PCE_ENTRY_PIN, pin release subs,
	                      * writers set DEAD (see pin.c) */
	struct pce_node *node; /* W/R: shard lock; the node this entry ends at */
	struct pce_entry *clk_prev, *clk_next; /* W/R: shard lock; CLOCK ring while live,
	                                        * clk_next = retire/zombie link after */
};

#define PCE_NO_HEAP 0u

/* Of two entries (either may be NULL), the one that expires later; @a on a
 * tie, so hints move only when they must (I6). */
static inline struct pce_entry *pce_entry_later(struct pce_entry *a, struct pce_entry *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return b->expires_at > a->expires_at ? b : a;
}

static inline uint64_t pce_entry_pins(uint64_t pinword)
{
	return pinword >> 1;
}

/* Per-shard expiry heap: a binary min-heap on key (expiry.c).  A cache's
 * items are entries (key: expires_at); a router's are trie nodes (key: the
 * earliest expiry of the node's owners, router.c). */
struct pce_heap_item {
	uint64_t key;
	void *obj;
};

struct pce_heap {
	struct pce_heap_item *item;
	uint32_t size;
	uint32_t cap;
	uint32_t of_nodes;  /* immutable: the items are router nodes */
};

/* Monotonic per-shard counters.  W: shard lock, relaxed atomic adds
 * R: pce_cache_stats(), relaxed loads, no lock. */
struct pce_shard_counters {
	uint64_t stores;
	uint64_t stores_existing;
	uint64_t stores_refused;
	uint64_t removed[PCE_REASON_COUNT];
	uint64_t sync_evictions;
};

struct pce_shard {
	/* The only field lookups read, on a line of its own: writers write
	 * the lock's line on every acquire, and would otherwise cost every
	 * lookup of the shard a cache miss. */
	struct pce_ctable *roots;    /* W: lock, release  R: RCU acquire; may be NULL */
	pthread_mutex_t lock pce_cacheline_aligned; /* the writer lock: serialises every
	                                             * change to the shard */
	struct pce_entry *hand;      /* W/R: lock; CLOCK hand, NULL when no entry */
	struct pce_heap expiry;      /* W/R: lock */
	/* Unlinked objects waiting for a grace period.  W: lock (push); the
	 * reclaimer takes the lists whole under the lock. */
	struct pce_node *retired_nodes;
	struct pce_ctable *retired_tables;
	struct pce_entry *retired_entries;
	/* The lists as the reclaimer took them, freed after its grace period.
	 * W/R: the cache's reclaim_lock. */
	struct pce_node *taken_nodes;
	struct pce_ctable *taken_tables;
	struct pce_entry *taken_entries;
	struct pce_entry *zombies;   /* unlinked entries still pinned (W/R: lock) */
	uint64_t retired_bytes;      /* atomic: retire adds, the reclaimer subtracts */
	uint64_t zombie_count;       /* W: lock; R: relaxed */
	uint64_t entries;            /* W: lock; R: relaxed (gauge) */
	uint64_t last_id;            /* W/R: lock; sequence of the shard's entry ids */
	uint32_t index;              /* immutable */
	/* immutable: 1 in a router index, whose nodes carry owner sets instead
	 * of entries and hints, and are never merged (router.c) */
	uint32_t owner_sets;
	struct pce_shard_counters ctr;
} pce_cacheline_aligned;

/* Lookup statistics, one cache line per stripe (thread.h). */
struct pce_stripe {
	uint64_t lookups;
	uint64_t hits;
	uint64_t query_tokens;
	uint64_t hit_tokens;
	uint64_t pins;
} pce_cacheline_aligned;

/* Pin table (pin.c). */
struct pce_pin_slot {
	uint64_t tag;                /* atomic: generation << 2 | state */
	struct pce_entry *entry;     /* W: the slot's owner while BUSY */
	uint64_t deadline;           /* W: owner while BUSY (relaxed); R: reclaimer (relaxed);
	                              * PCE_NEVER = no lease */
	uint64_t pad_;
};

struct pce_pintable {
	struct pce_pin_slot *slot;
	uint32_t cap;
};

/* Gauges every shard updates: one cache line, apart from read-mostly data. */
struct pce_usage {
	uint64_t kv;      /* KV bytes held */
	uint64_t index;   /* index bytes reachable */
	uint64_t entries;
	uint64_t nodes;
	uint64_t tokens;  /* sum of edge lengths */
} pce_cacheline_aligned;

/* The budgets in force and their watermarks (0: no budget).  The budget
 * fields of cfg are only the values at create.  W: create, then
 * pce_cache_set_budgets() under reclaim_lock, relaxed atomic stores
 * R: anyone, relaxed atomic loads (budget.c).  ceil_*: what a shrink that
 * could not evict below the new budget left (0: none), so that the audit
 * can check I11 (usage never rises while above a budget). */
struct pce_limits {
	uint64_t kv, index, entries;
	uint64_t kv_high, kv_low;
	uint64_t index_high, index_low;
	uint64_t entries_high, entries_low;
	uint64_t ceil_kv, ceil_index, ceil_entries;
};

struct pce_cache {
	/* read-mostly */
	struct pce_config cfg;
	uint32_t shard_mask;
	uint32_t fork_gen;              /* pce__fork_gen at creation (thread.h) */
	struct pce_limits lim;
	uint64_t fixed_bytes;
	struct pce_shard *shard;
	struct pce_stripe *stripe;      /* [PCE_STAT_STRIPES] */
	struct pce_pintable pins;

	struct pce_usage use;

	/* reclaimer (reclaim.c) */
	pthread_mutex_t reclaim_lock;   /* serialises reclaim passes */
	pthread_mutex_t wake_lock;
	pthread_cond_t wake_cond;
	int wake;                       /* W: anyone (atomic); R: reclaimer */
	int stop;                       /* W: destroy, under wake_lock */
	int thread_started;
	pthread_t thread;
	uint32_t evict_cursor;          /* W/R: reclaim_lock; next shard to sweep */
	uint64_t released;              /* W: reclaim_lock; R: relaxed */
	uint64_t reclaim_passes;        /* W: reclaim_lock; R: relaxed */
	uint64_t pins_forced;           /* relaxed atomic */
	/* A router index built on this core: its part of every reclaim pass
	 * (expiry and eviction of holdings), under reclaim_lock, before the
	 * retired objects are freed.  NULL for a cache.  Immutable. */
	void (*pass_fn)(struct pce_cache *c, void *ctx, uint64_t now);
	void *pass_ctx;
};

/*
 * pce__core_create - pce_cache_create() for an index built on the cache's
 * shards, locks, retire lists and reclaimer: with @pass_fn (a router
 * index, router.c) the shards' tries carry owner sets and every reclaim
 * pass calls @pass_fn.  @pass_fn NULL: a cache.
 */
int pce__core_create(const struct pce_config *cfg,
		     void (*pass_fn)(struct pce_cache *c, void *ctx, uint64_t now), void *pass_ctx,
		     struct pce_cache **out);

/* Why @b is invalid (NULL: valid); pce_config_error() and
 * pce_cache_set_budgets() share it (config.c). */
const char *pce__budgets_error(const struct pce_budgets *b);
/* The budget fields of @cfg. */
void pce__budgets_of(const struct pce_config *cfg, struct pce_budgets *b);

/* The default clock: CLOCK_MONOTONIC in nanoseconds (config.c). */
uint64_t pce__clock_monotonic(void *ctx);

static inline uint64_t pce_now(const struct pce_cache *c)
{
	return c->cfg.clock(c->cfg.clock_ctx);
}

/* The clock read at most once per call: *@now is 0 until the first read
 * (a clock that reads 0 is merely read again).  Calls without TTLs or
 * leases never read it. */
static inline uint64_t pce_now_once(const struct pce_cache *c, uint64_t *now)
{
	if (*now == 0)
		*now = pce_now(c);
	return *now;
}

/* The instant @d ns from now, for a TTL or a pin lease: @d 0 takes @dflt
 * (the config's default); 0 or PCE_NEVER there means PCE_NEVER.  A finite
 * deadline saturates at PCE_NEVER - 1, since PCE_NEVER means "never". */
static inline uint64_t pce_deadline(const struct pce_cache *c, uint64_t d, uint64_t dflt,
				    uint64_t *now)
{
	if (d == 0)
		d = dflt;
	if (d == 0 || d == PCE_NEVER)
		return PCE_NEVER;
	return pce_now_once(c, now) >= PCE_NEVER - d ? PCE_NEVER - 1 : *now + d;
}

/* Is @e live (not expired) at the call's instant? */
static inline int pce_entry_live_at(const struct pce_cache *c, const struct pce_entry *e,
				    uint64_t *now)
{
	uint64_t at = pce_load_relaxed(&e->expires_at);

	return at == PCE_NEVER || at > pce_now_once(c, now);
}

/* Was @c created before a fork() of this process, i.e. is it the parent's
 * (thread.h)?  Every public call on a cache checks this before anything
 * else and returns PCE_EFORKED: nothing of the parent's copy may be used. */
static inline int pce_cache_inherited(const struct pce_cache *c)
{
	return pce_unlikely(c->fork_gen != pce__fork_gen);
}

static inline struct pce_shard *pce_shard_of(const struct pce_cache *c, uint64_t ns,
					     uint32_t first_token)
{
	return &c->shard[pce_mix64(ns ^ ((uint64_t)first_token << 32 | first_token)) &
			 c->shard_mask];
}

#endif /* PCE_CORE_H */
