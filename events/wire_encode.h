/*
 * wire_encode.h - vLLM's KV-event batch, encoded with msgpack-c.
 *
 * The encoding matches vLLM's msgspec structs (vllm/distributed/kv_events.py,
 * vLLM v0.26.0 and later: maps since vLLM PR #42892): KVEventBatch is array_like, [ts, events,
 * data_parallel_rank]; events are tagged maps, "type" first, then the fields
 * in declaration order, fields whose value equals their default left out
 * (omit_defaults): BlockStored's event_version (1), extra_keys, group_idx,
 * kv_cache_spec_*, locality and ownership never appear; lora_id, medium and
 * lora_name have no default and always appear (lora ones nil).
 *
 * A pce__wire builds one batch: events are appended to a body buffer, and
 * pce__wire_finish() prefixes the batch header (the array length needs the
 * event count) and appends the rank.  Not thread-safe: one owner.
 */
#ifndef PCE_EVENTS_WIRE_ENCODE_H
#define PCE_EVENTS_WIRE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct pce__wire {
	msgpack_sbuffer body; /* the events of the batch being built */
	msgpack_packer pk;    /* writes into body */
	size_t nevents;
	int hash_bytes;       /* PCE_PUB_HASH_BYTES */
	const char *medium;
	size_t medium_len;
};

void pce__wire_init(struct pce__wire *w, int hash_bytes, const char *medium);
void pce__wire_destroy(struct pce__wire *w);

/* Append one event.  @hashes[0..@n) in the order they go on the wire;
 * @parent NULL for nil.  Return: 0 or -1 (out of memory: the batch is
 * unusable, call pce__wire_reset()). */
int pce__wire_block_stored(struct pce__wire *w, const uint64_t *hashes, size_t n,
			   const uint64_t *parent, const uint32_t *tokens, size_t ntokens,
			   uint32_t block_size);
int pce__wire_block_removed(struct pce__wire *w, const uint64_t *hashes, size_t n);
int pce__wire_all_cleared(struct pce__wire *w);

/*
 * pce__wire_finish - Encode the batch [@ts, events, @rank] into a new
 * buffer *@out of *@len bytes (free() it) and empty the body.
 * Return: 0 or -1 (out of memory; the body is emptied too).
 */
int pce__wire_finish(struct pce__wire *w, double ts, uint32_t rank, char **out, size_t *len);

/* pce__wire_reset - Drop the events appended since the last finish. */
void pce__wire_reset(struct pce__wire *w);

#endif /* PCE_EVENTS_WIRE_ENCODE_H */
