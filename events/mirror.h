/*
 * mirror.h - the publisher's copy of a cache's block set: chained block
 * hashes, a refcount per block, and per entry the blocks it covers.  The
 * refcounted chains are fleet/chain.h's (invariants C1-C4 there, units =
 * blocks); this module adds the hashes and each block's tokens.
 *
 * Invariants (beyond fleet/chain.h's):
 *   (M1) Every held block's payload is its struct pce__block, whose tokens
 *        are the block's and whose parent is the block before it (C3).
 * Not thread-safe: the publisher calls every function but pce__mirror_hash()
 * with its mutex held (the _locked suffix).
 */
#ifndef PCE_EVENTS_MIRROR_H
#define PCE_EVENTS_MIRROR_H

#include <stddef.h>
#include <stdint.h>

#include "chain.h"

struct pce__block {
	uint64_t parent;
	int has_parent;
	uint32_t tokens[];  /* block_size tokens */
};

struct pce__entry {
	struct pce__chain_entry c; /* c.keys: hashes */
	uint64_t hashes[];         /* chain order, root first */
};

struct pce__mirror {
	struct pce__chain chain; /* units: (hash, 0) -> a: struct pce__block * */
	uint32_t block_size;
};

void pce__mirror_init(struct pce__mirror *m, uint32_t block_size);
void pce__mirror_destroy(struct pce__mirror *m);

/* The chained hashes of @nblocks whole blocks of @tokens in @ns; needs no
 * lock (pure). */
void pce__mirror_hash(uint64_t seed, uint64_t ns, const uint32_t *tokens, size_t nblocks,
		      uint32_t block_size, uint64_t *out);

/*
 * pce__mirror_add_locked - Record entry @e (its id, nblocks (c.n) and hashes
 * filled, ownership passes to the mirror on success) over @tokens.
 * Return: the index of its first new block (e->c.n: none is new), or -1:
 * out of memory or @e->c.id already recorded (nothing changed, @e still the
 * caller's).
 */
long pce__mirror_add_locked(struct pce__mirror *m, struct pce__entry *e, const uint32_t *tokens);

/*
 * pce__mirror_remove_locked - Forget entry @id.
 * Return: its record (the caller frees it) with *@first set to the index of
 * the first block no entry covers any more, or NULL if @id is unknown.
 */
struct pce__entry *pce__mirror_remove_locked(struct pce__mirror *m, uint64_t id, size_t *first);

static inline const struct pce__block *pce__mirror_block_locked(const struct pce__mirror *m,
								uint64_t hash)
{
	return (const struct pce__block *)(uintptr_t)pce__chain_payload_locked(&m->chain, hash, 0);
}

/*
 * pce__mirror_each_chain_locked - Visit the whole block set as chains, each
 * block once, every block after its parent: @fn(@ctx, e, first) stands for
 * e->hashes[first..c.n), whose parent is e->hashes[first - 1] (none when
 * first is 0).  Stops at the first nonzero return and returns it.
 */
int pce__mirror_each_chain_locked(struct pce__mirror *m,
				  int (*fn)(void *ctx, const struct pce__entry *e, size_t first),
				  void *ctx);

#endif /* PCE_EVENTS_MIRROR_H */
