/*
 * events/wire.h - vLLM's KV-event batch as plain C: what the decoder
 * (wire_decode.c) produces and what an encoder consumes.
 *
 * One ZMQ message of an engine's PUB socket is [topic, seq, payload]: seq is
 * 8 bytes big-endian, payload is one msgpack KVEventBatch.  This header
 * knows nothing of ZMQ: pce_wire_decode() turns one payload into a struct
 * pce_wire_batch, so the subscriber, the fuzz target and the benchmarks
 * all drive the same code.
 *
 * Ownership
 *   A batch owns three growable arrays (events, hashes, tokens, extra-key
 *   spans) that are reused from one decode to the next: decode into the
 *   same batch again and again, pce_wire_batch_free() once.  Strings
 *   (medium, lora_name) and extra-key spans point into the payload that was
 *   decoded: they are valid while that payload is.
 *
 * Block hashes
 *   vLLM sends a block hash as a msgpack integer (uint64, or int64 when the
 *   engine's hash is signed) or as bytes (32-byte sha256).  Both become a
 *   uint64_t key: an integer is its 64-bit two's complement value, bytes are
 *   pce_wire_hash_bytes() of them.  The key only names a block within one
 *   owner's map; it is never an identity across owners.
 */
#ifndef PCE_EVENTS_WIRE_H
#define PCE_EVENTS_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum pce_wire_kind {
	PCE_WIRE_STORED = 0,  /* BlockStored */
	PCE_WIRE_REMOVED = 1, /* BlockRemoved */
	PCE_WIRE_CLEARED = 2, /* AllBlocksCleared */
};

/* Which optional fields an event carried (a nil value counts as absent). */
#define PCE_WIRE_HAS_PARENT     (1u << 0)
#define PCE_WIRE_HAS_LORA_ID    (1u << 1)
#define PCE_WIRE_HAS_MEDIUM     (1u << 2)
#define PCE_WIRE_HAS_LORA_NAME  (1u << 3)
#define PCE_WIRE_HAS_EXTRA_KEYS (1u << 4)
#define PCE_WIRE_HAS_GROUP      (1u << 5)

/* A byte range of the decoded payload (a string, or one msgpack value). */
struct pce_wire_span {
	const uint8_t *p; /* NULL when absent */
	uint32_t len;
};

/*
 * struct pce_wire_event - One event.  Fields a kind does not have are 0.
 * @hash0, @n_hashes: block_hashes are batch->hashes[hash0 .. hash0 + n).
 * @tok0, @n_tokens: token_ids are batch->tokens[tok0 .. tok0 + n)
 *   (STORED only; n_tokens == n_hashes * block_size, checked).
 * @extra0: extra_keys are batch->extra[extra0 .. extra0 + n_hashes), one
 *   per block, each the raw msgpack bytes of that block's entry, p NULL
 *   when the entry is nil (only with PCE_WIRE_HAS_EXTRA_KEYS).
 */
struct pce_wire_event {
	uint32_t kind;  /* enum pce_wire_kind */
	uint32_t has;   /* PCE_WIRE_HAS_* */
	uint32_t hash0, n_hashes;
	uint32_t tok0, n_tokens;
	uint32_t extra0;
	uint32_t block_size;
	uint64_t parent;          /* key of parent_block_hash */
	int64_t lora_id;
	int64_t group_idx;
	struct pce_wire_span medium;    /* e.g. "GPU", "CPU" */
	struct pce_wire_span lora_name;
};

/*
 * struct pce_wire_batch - One decoded KVEventBatch.
 * Events the decoder could not read are not in @ev: @malformed counts
 * them, @unknown_tag counts events of a type it does not know (skipped).
 */
struct pce_wire_batch {
	double ts;
	int64_t dp_rank;      /* data_parallel_rank, valid when has_dp_rank */
	int has_dp_rank;
	uint32_t n_ev;
	uint32_t malformed;   /* events dropped: unreadable or inconsistent */
	uint32_t unknown_tag; /* events dropped: a type this decoder does not know */
	struct pce_wire_event *ev;
	uint64_t *hashes;
	uint32_t *tokens;
	struct pce_wire_span *extra;
	/* private: array sizes used and allocated */
	uint32_t n_hashes, n_tokens, n_extra;
	uint32_t cap_ev, cap_hashes, cap_tokens, cap_extra;
};

/* Limits the decoder enforces (a larger batch is malformed). */
#define PCE_WIRE_MAX_EVENTS  (1u << 20)
#define PCE_WIRE_MAX_TOKENS  (1u << 26)

void pce_wire_batch_init(struct pce_wire_batch *b);
void pce_wire_batch_free(struct pce_wire_batch *b);

/*
 * pce_wire_decode - Decode one msgpack KVEventBatch of @len bytes at @p
 * into @b (its previous contents are discarded).
 *
 * Accepts the batch as an array [ts, events(, data_parallel_rank)] or a map
 * {"ts", "events", "data_parallel_rank"}; each event as an array whose
 * first element is its tag ("BlockStored", ...) followed by the fields in
 * declaration order, or a map with a "type" key; fields missing at the end
 * of an array or from a map take their defaults, fields beyond the known
 * ones are skipped.  An event that cannot be read is counted in
 * b->malformed and skipped; the others are kept.
 *
 * Return: 0; PCE_EEVBATCH the batch itself is unreadable (not msgpack, not
 * a batch, trailing bytes, limits exceeded): b->n_ev is then 0;
 * PCE_ENOMEM.
 */
int pce_wire_decode(struct pce_wire_batch *b, const void *p, size_t len);

/* pce_wire_hash_bytes - The uint64 key of a bytes block hash. */
uint64_t pce_wire_hash_bytes(const void *p, size_t len);

#endif /* PCE_EVENTS_WIRE_H */
