/*
 * events/blockmap.h - per owner, the engine's block hashes -> blocks; one
 * shared store of interned token blocks behind them.
 *
 * A block is (engine hash, parent block, namespace, media, tokens).  Its
 * tokens live in a struct pce_intern node keyed by (parent node, tokens):
 * owners that hold the same prefix share one node per block, so W owners
 * holding one prefix cost one copy of its tokens plus W map entries.  A node
 * holds a reference on its parent node; a map entry holds one on its node.
 *
 * Children: every entry links its children (first child, siblings) so that
 * removing a block can find the blocks below it (they leave with it).
 *
 * Threads: none of this is thread-safe; the subscriber calls it from its
 * thread with its lock held (events/subscriber.c).
 */
#ifndef PCE_EVENTS_BLOCKMAP_H
#define PCE_EVENTS_BLOCKMAP_H

#include <stddef.h>
#include <stdint.h>

#define PCE_BM_NONE UINT32_MAX

struct pce_intern_node {
	uint64_t key;     /* hash of (parent, tokens) */
	uint32_t parent;  /* node index, or PCE_BM_NONE */
	uint32_t ntok;
	uint32_t depth;   /* tokens from the root through this node */
	uint32_t refs;    /* map entries and child nodes; 0: slot free */
	uint32_t next;    /* hash chain, or the free list */
	uint32_t *tok;
};

struct pce_intern {
	struct pce_intern_node *node;
	uint32_t n, cap, free_head, live;
	uint32_t *bucket; /* chain heads */
	uint32_t nbucket; /* power of two */
	uint64_t token_bytes;
};

struct pce_bm_entry {
	uint64_t hash;    /* the engine's block hash key (events/wire.h) */
	uint64_t ns;
	uint32_t node;    /* interned tokens; PCE_BM_NONE: free slot */
	uint32_t parent;  /* entry index, or PCE_BM_NONE */
	uint32_t child, next, prev; /* first child; siblings */
	uint8_t media;    /* bit per tier the engine holds it in */
	uint8_t tier;     /* tier the router was told */
};

struct pce_blockmap {
	struct pce_bm_entry *e;
	uint32_t n, cap, free_head, live;
	uint32_t *slot;   /* open addressing, linear probing: entry index */
	uint32_t nslot;   /* power of two, 0 before the first insert */
};

void pce_intern_init(struct pce_intern *in);
void pce_intern_free(struct pce_intern *in);
/* Bytes of the interned store (nodes, chains, tokens). */
uint64_t pce_intern_bytes(const struct pce_intern *in);

void pce_bm_init(struct pce_blockmap *m);
/* Drop every entry (references on @in released) and free the map. */
void pce_bm_free(struct pce_blockmap *m, struct pce_intern *in);
/* Drop every entry, keep the map's memory. */
void pce_bm_clear(struct pce_blockmap *m, struct pce_intern *in);
uint64_t pce_bm_bytes(const struct pce_blockmap *m);

/* pce_bm_find - The entry of @hash, or PCE_BM_NONE. */
uint32_t pce_bm_find(const struct pce_blockmap *m, uint64_t hash);

/*
 * pce_bm_insert - A new entry for @hash (not in the map) under @parent
 * (an entry index or PCE_BM_NONE) holding @tok[0..@n).
 * Return: the entry index, or PCE_BM_NONE when out of memory.
 */
uint32_t pce_bm_insert(struct pce_blockmap *m, struct pce_intern *in, uint64_t hash,
		       uint32_t parent, uint64_t ns, const uint32_t *tok, uint32_t n,
		       uint8_t media, uint8_t tier);

/*
 * pce_bm_remove - Remove entry @i and every entry below it; @fn is called
 * for each, parents before children, before it is removed (the map is
 * still intact then).  Return: the number removed.
 */
uint32_t pce_bm_remove(struct pce_blockmap *m, struct pce_intern *in, uint32_t i,
		       void (*fn)(void *ctx, uint32_t i), void *ctx);

/*
 * pce_bm_path - The tokens from the root through entry @i into *@buf
 * (grown as needed; *@cap its capacity in tokens).
 * Return: the number of tokens, or 0 when out of memory.
 */
uint32_t pce_bm_path(const struct pce_blockmap *m, const struct pce_intern *in, uint32_t i,
		     uint32_t **buf, uint32_t *cap);

/* The tokens of entry @i's own block. */
const uint32_t *pce_bm_tokens(const struct pce_blockmap *m, const struct pce_intern *in,
			      uint32_t i, uint32_t *n);

#endif /* PCE_EVENTS_BLOCKMAP_H */
