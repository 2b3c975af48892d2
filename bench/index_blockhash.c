/*
 * index_blockhash.c - baseline: the design most inference engines use
 * (vLLM's automatic prefix caching).  A sequence is cut into 16-token
 * blocks; block i is keyed by a chained hash, XXH3-128(key of block i-1 ||
 * tokens of block i), so one key stands for the whole prefix up to and
 * including its block.  The keys live in liburcu's lock-free resizable hash
 * table (rculfhash, memb flavour); lookups hash the query block by block
 * and probe the table until the first miss, under rcu_read_lock.
 *
 * Like the engines, it trusts the 128-bit hash as the prefix's identity
 * (libpce compares tokens exactly), caches whole blocks only, and shares a
 * block between the sequences that contain it with a reference count.
 *
 * Block protocol
 *   field   written by                          read by
 *   key     creator, before cds_lfht_add_unique anyone under RCU
 *   value   creator, idem (the block's stand-in KV id: the value of the
 *           sequence that first stored it)      lookups under RCU
 *   refs    stores: CAS from > 0 to +1; removes: atomic -1.  0 is final:
 *           the remover that reaches 0 deletes the node (cds_lfht_del) and
 *           frees it after a grace period (call_rcu); a store that meets a
 *           block at 0 adds a new one instead.
 *
 * Every call happens in a thread registered with urcu-memb (thread_enter).
 */
#include <stdlib.h>
#include <string.h>
#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>
#include <xxhash.h>

#include "index.h"
#include "runner.h"

#define BLOCK_TOKENS 16

struct block {
	struct cds_lfht_node lnode;
	XXH128_hash_t key;
	uint64_t value;
	uint32_t refs;
	struct rcu_head rcu;
};

struct bench_index {
	struct cds_lfht *ht;
	unsigned long buckets; /* at creation; AUTO_RESIZE may add more */
};

/* Key of the block @tok[0..16) that follows the block keyed @parent. */
static XXH128_hash_t chain_key(XXH128_hash_t parent, const uint32_t *tok)
{
	unsigned char buf[sizeof(parent) + BLOCK_TOKENS * sizeof(uint32_t)];

	memcpy(buf, &parent, sizeof(parent));
	memcpy(buf + sizeof(parent), tok, BLOCK_TOKENS * sizeof(uint32_t));
	return XXH3_128bits(buf, sizeof(buf));
}

static int match(struct cds_lfht_node *node, const void *key)
{
	const struct block *b = caa_container_of(node, struct block, lnode);

	return XXH128_isEqual(b->key, *(const XXH128_hash_t *)key);
}

/* Under RCU. */
static struct block *find(struct bench_index *ix, XXH128_hash_t key)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;

	cds_lfht_lookup(ix->ht, (unsigned long)key.low64, match, &key, &iter);
	node = cds_lfht_iter_get_node(&iter);
	return node ? caa_container_of(node, struct block, lnode) : NULL;
}

/* Take a reference unless the block is dying (refs reached 0). */
static int try_ref(struct block *b)
{
	uint32_t r = __atomic_load_n(&b->refs, __ATOMIC_RELAXED);

	while (r > 0) {
		if (__atomic_compare_exchange_n(&b->refs, &r, r + 1, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return 1;
	}
	return 0;
}

static void free_block(struct rcu_head *head)
{
	free(caa_container_of(head, struct block, rcu));
}

/* One bucket per expected block (a power of two), and the flags liburcu's
 * own hash-table tests use: AUTO_RESIZE with ACCOUNTING (resizes follow the
 * node count).  Without ACCOUNTING the table resizes on chain lengths, and
 * loads and lookups measured 2-4x slower and erratic here. */
static int create(uint64_t size_hint, struct bench_index **out)
{
	struct bench_index *ix = malloc(sizeof(*ix));
	unsigned long buckets = 1024;

	if (!ix)
		return -1;
	while (buckets < size_hint / BLOCK_TOKENS)
		buckets *= 2;
	ix->buckets = buckets;
	ix->ht = cds_lfht_new_flavor(buckets, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
				     &urcu_memb_flavor, NULL);
	if (!ix->ht) {
		free(ix);
		return -1;
	}
	*out = ix;
	return 0;
}

static void thread_enter(struct bench_index *ix)
{
	(void)ix;
	urcu_memb_register_thread();
}

static void thread_leave(struct bench_index *ix)
{
	(void)ix;
	urcu_memb_unregister_thread();
}

static size_t lookup(struct bench_index *ix, const uint32_t *q, size_t n, uint64_t *value)
{
	XXH128_hash_t key = {0, 0};
	const struct block *last = NULL;
	size_t i;

	urcu_memb_read_lock();
	for (i = 0; i + BLOCK_TOKENS <= n; i += BLOCK_TOKENS) {
		const struct block *b;

		key = chain_key(key, q + i);
		b = find(ix, key);
		if (!b)
			break;
		last = b;
	}
	if (last)
		*value = last->value;
	urcu_memb_read_unlock();
	return last ? i : 0;
}

/* Drop one reference to each of the first @nblocks blocks of @q. */
static void unref_blocks(struct bench_index *ix, const uint32_t *q, size_t nblocks)
{
	XXH128_hash_t key = {0, 0};

	for (size_t i = 0; i < nblocks; i++) {
		struct block *b;

		key = chain_key(key, q + i * BLOCK_TOKENS);
		b = find(ix, key);
		if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0 &&
		    cds_lfht_del(ix->ht, &b->lnode) == 0)
			urcu_memb_call_rcu(&b->rcu, free_block);
	}
}

/* Take a reference on the block keyed @key, adding it if absent.
 * Return: 0, or -1 out of memory. */
static int ref_or_add(struct bench_index *ix, XXH128_hash_t key, uint64_t value)
{
	struct block *fresh = NULL;

	for (;;) {
		struct block *b = find(ix, key);
		struct cds_lfht_node *got;

		if (b && try_ref(b))
			break;
		if (!fresh) {
			fresh = malloc(sizeof(*fresh));
			if (!fresh)
				return -1;
			cds_lfht_node_init(&fresh->lnode);
			fresh->key = key;
			fresh->value = value;
			fresh->refs = 1;
		}
		got = cds_lfht_add_unique(ix->ht, (unsigned long)key.low64, match, &key,
					  &fresh->lnode);
		if (got == &fresh->lnode)
			return 0;
		/* Another store added it first; unless it is already dying, share
		 * it.  A dying block leaves the table at once: try again. */
		if (try_ref(caa_container_of(got, struct block, lnode)))
			break;
	}
	free(fresh);
	return 0;
}

static int store(struct bench_index *ix, const uint32_t *q, size_t n, uint64_t value)
{
	XXH128_hash_t key = {0, 0};
	size_t nblocks = n / BLOCK_TOKENS, i;
	int rc = 0;

	urcu_memb_read_lock();
	for (i = 0; i < nblocks; i++) {
		key = chain_key(key, q + i * BLOCK_TOKENS);
		if ((rc = ref_or_add(ix, key, value)) != 0) {
			unref_blocks(ix, q, i);
			break;
		}
	}
	urcu_memb_read_unlock();
	return rc;
}

static int remove_seq(struct bench_index *ix, const uint32_t *q, size_t n)
{
	urcu_memb_read_lock();
	unref_blocks(ix, q, n / BLOCK_TOKENS);
	urcu_memb_read_unlock();
	return 0;
}

static void usage(struct bench_index *ix, struct index_usage *u)
{
	long before, after;
	unsigned long count;

	urcu_memb_read_lock();
	cds_lfht_count_nodes(ix->ht, &before, &count, &after);
	urcu_memb_read_unlock();
	u->entries = count;
	u->tokens = count * BLOCK_TOKENS;
	/* Blocks, and the bucket table at its size at creation: a lower bound
	 * if AUTO_RESIZE grew it. */
	u->bytes = count * sizeof(struct block) + sizeof(*ix) +
		   ix->buckets * sizeof(struct cds_lfht_node);
}

/* Unlink and release every block.  On a thread of its own: the caller may
 * be registered with liburcu already (index.h). */
static void delete_all(void *arg)
{
	struct bench_index *ix = arg;
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;

	urcu_memb_register_thread();
	urcu_memb_read_lock();
	cds_lfht_for_each(ix->ht, &iter, node) {
		if (cds_lfht_del(ix->ht, node) == 0)
			urcu_memb_call_rcu(&caa_container_of(node, struct block, lnode)->rcu,
					   free_block);
	}
	urcu_memb_read_unlock();
	urcu_memb_unregister_thread();
}

/* No other thread is using the index. */
static void destroy(struct bench_index *ix)
{
	run_on_thread(delete_all, ix);
	urcu_memb_barrier();
	cds_lfht_destroy(ix->ht, NULL);
	free(ix);
}

const struct index_ops index_blockhash_ops = {
	.name = "block-hash",
	.create = create,
	.destroy = destroy,
	.thread_enter = thread_enter,
	.thread_leave = thread_leave,
	.lookup = lookup,
	.store = store,
	.remove = remove_seq,
	.usage = usage,
};
