/*
 * trie.h - the compressed radix trie of one shard: readers' walk, writers'
 * insert, remove (with merge) and clear.  See trie.c for the algorithms and
 * docs/design.md for invariants I1-I8.
 *
 * Writers work in two steps so that a failure changes nothing:
 *   prepare  (shard lock)  walks, allocates every new node and table, and
 *                          reports the byte / token / node deltas;
 *   commit   (shard lock)  publishes; cannot fail;  or
 *   abort                  frees what prepare allocated.
 * Between prepare and commit the shard must not change.
 */
#ifndef PCE_TRIE_H
#define PCE_TRIE_H

#include <string.h>

#include "core.h"

/* What a reader's walk found. */
struct pce_walk {
	struct pce_node *end;        /* every entry below it extends the match; NULL: miss */
	size_t depth;                /* tokens matched */
	struct pce_node *last_entry; /* deepest fully matched node with an entry, or NULL */
};

/* Length of the common prefix of a[0..m) and b[0..m). */
static inline size_t pce_common_prefix(const uint32_t *a, const uint32_t *b, size_t m)
{
	size_t i = 0;

	/* Most edges match whole: let the libc memcmp (vectorised) prove it. */
	if (memcmp(a, b, m * sizeof(uint32_t)) == 0)
		return m;
	for (; i + 2 <= m; i += 2) {
		uint64_t x, y;
		memcpy(&x, a + i, sizeof x);
		memcpy(&y, b + i, sizeof y);
		if (x != y)
			return i + ((uint32_t)x == (uint32_t)y);
	}
	return i; /* m odd: the mismatch is the last token */
}

/* The root of @ns in @s, or NULL.  Under RCU or the shard lock. */
static inline struct pce_node *pce_trie_root_rcu(const struct pce_shard *s, uint64_t ns)
{
	struct pce_ctable *roots = pce_rcu_deref(s->roots);
	return roots ? pce_ctable_find_rcu(roots, ns) : NULL;
}

/*
 * pce_trie_walk_rcu - Follow @q[0..@n) down the trie of @ns.  Under RCU.
 * Wait-free: one ctable probe sequence and one edge compare per node.
 */
void pce_trie_walk_rcu(const struct pce_shard *s, uint64_t ns, const uint32_t *q, size_t n,
		       struct pce_walk *w);

/*
 * pce_trie_match_live_rcu - The slow path of a lookup when the fast path's
 * entry has expired: walks again, checking expiry against @now at every
 * node, and returns the entry of the longest live match (its depth in
 * *depth), or NULL.  @whole: only entries wholly a prefix of @q.
 */
struct pce_entry *pce_trie_match_live_rcu(const struct pce_shard *s, uint64_t ns,
					  const uint32_t *q, size_t n, int whole, uint64_t now,
					  size_t *depth);

/* Node where exactly @q ends (edge boundary), or NULL.  Shard lock held. */
struct pce_node *pce_trie_find_exact_locked(const struct pce_shard *s, uint64_t ns,
					    const uint32_t *q, size_t n);

enum pce_trie_op {
	PCE_TRIE_NONE = 0,
	PCE_INS_AT_NODE,      /* the sequence ends at an existing node */
	PCE_INS_LEAF,         /* a new leaf under an existing node */
	PCE_INS_SPLIT_END,    /* split an edge; the sequence ends at the split */
	PCE_INS_SPLIT_BRANCH, /* split an edge and hang a new leaf at the split */
	PCE_INS_NEW_ROOT,     /* first entry of the namespace in this shard */
	PCE_REM_DETACH,       /* node keeps >= 2 children: only the entry goes */
	PCE_REM_MERGE_CHILD,  /* node has one child: merge them */
	PCE_REM_LEAF,         /* leaf goes; parent keeps >= 2 children or an entry */
	PCE_REM_LEAF_MERGE_PARENT, /* leaf goes; parent is left with one child: merge */
	PCE_REM_LEAF_ROOT     /* leaf goes with its namespace root */
};

struct pce_trie_change {
	/* outputs of prepare */
	enum pce_trie_op op;
	int64_t index_delta;        /* bytes allocated minus bytes unlinked by commit */
	int64_t tokens_delta;       /* distinct tokens added (> 0) or dropped (< 0) */
	int64_t nodes_delta;
	struct pce_entry *existing; /* insert: the entry already storing the sequence */
	/* private to trie.c */
	struct pce_node *node;      /* node the change happens at / below */
	struct pce_node *child;     /* split: the edge being split; merge: the child */
	struct pce_node *n_new;     /* new leaf / root leaf / merged node */
	struct pce_node *n_head;    /* split: upper half; new root */
	struct pce_node *n_tail;    /* split: copy of the lower half */
	struct pce_ctable *t_new;   /* replacement table of the changed node */
	struct pce_ctable *t_roots; /* replacement roots table */
	int drop_table;             /* remove: the parent loses its last child */
	uint64_t ns;
};

int pce_trie_prepare_insert(struct pce_shard *s, uint64_t ns, const uint32_t *q, size_t n,
			    struct pce_trie_change *ch);
/* Publishes @e (len, expires_at set) at the prepared place; with
 * ch->existing, @e replaces it (the caller unlinks the old entry).  @e NULL
 * (a router trie): publishes the prepared nodes only, with the owner sets
 * the caller put on ch->n_head (a split's head) and ch->n_new; a split's
 * tail takes over the split node's set. */
void pce_trie_commit_insert(struct pce_shard *s, struct pce_trie_change *ch,
			    struct pce_entry *e);

int pce_trie_prepare_remove(struct pce_shard *s, struct pce_entry *e,
			    struct pce_trie_change *ch);
/* Unlinks the entry prepared for; it stays valid for readers until a grace
 * period has passed. */
void pce_trie_commit_remove(struct pce_shard *s, struct pce_trie_change *ch,
			    struct pce_entry *e);

void pce_trie_abort(struct pce_trie_change *ch);

/* Called by the clears for each node of the cleared trie, before it is
 * retired (its entry, if any, still attached). */
typedef void (*pce_trie_node_fn)(struct pce_shard *s, struct pce_node *n, void *ctx);

/* Index bytes, tokens and nodes a clear changed (added to; <= 0). */
struct pce_trie_freed {
	int64_t index_delta;
	int64_t tokens_delta;
	int64_t nodes_delta;
};

/*
 * pce_trie_clear_locked - Unlink the whole trie of namespace root @root
 * (found under @ns) from @s, retire its nodes and tables, and hand each entry
 * to @fn.  Adds what it frees to *@freed.  Never allocates.
 */
void pce_trie_clear_locked(struct pce_shard *s, uint64_t ns, struct pce_node *root,
			   pce_trie_node_fn fn, void *ctx, struct pce_trie_freed *freed);

/*
 * pce_trie_prepare_remove_prefix - Prepare to remove the subtree of every
 * entry of @ns starting with @q[0..@n) (@n >= 1).  ch->op is PCE_TRIE_NONE
 * if there is none (nothing to commit).  The deltas cover the node it hangs
 * from, not the subtree.  Return: 0 or PCE_ENOMEM (a merge; nothing changed).
 */
int pce_trie_prepare_remove_prefix(struct pce_shard *s, uint64_t ns, const uint32_t *q,
				   size_t n, struct pce_trie_change *ch);
/*
 * pce_trie_prepare_unhang - Prepare to remove node @n (not a root) of the
 * trie of @ns with its whole subtree, as remove_prefix does; commit with
 * pce_trie_commit_remove_prefix().  In a router trie (s->owner_sets) nodes
 * are never merged, so this never fails: only shrinking the parent's table
 * allocates, and a failed shrink keeps the bigger table.
 */
int pce_trie_prepare_unhang(struct pce_shard *s, uint64_t ns, struct pce_node *n,
			    struct pce_trie_change *ch);

/* Unpublish the prepared subtree in one store, then clear it as
 * pce_trie_clear_locked() does.  Never allocates. */
void pce_trie_commit_remove_prefix(struct pce_shard *s, struct pce_trie_change *ch,
				   pce_trie_node_fn fn, void *ctx, struct pce_trie_freed *freed);

/* @e's expires_at was raised (pce_cache_touch): restore I6 on its path by
 * raising the hints, each with a release store.  Shard lock held. */
void pce_trie_extended_locked(struct pce_entry *e);

/* Byte size of @n as index accounting counts it. */
static inline size_t pce_node_bytes(const struct pce_node *n)
{
	return pce_node_size(n->len);
}

#endif /* PCE_TRIE_H */
