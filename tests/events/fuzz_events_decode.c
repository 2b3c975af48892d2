/*
 * fuzz_events_decode.c - libFuzzer target for the KV-event decoder
 * (events/wire_decode.c): any bytes decode or are refused, never crash, and
 * what decodes is consistent: every event's hashes, tokens and extra-key
 * spans lie inside the batch's arrays and inside the input.  Decoding twice
 * into the same batch (reused arrays) gives the same result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pce/errors.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct pce_wire_batch *b, const uint8_t *data, size_t size)
{
	for (uint32_t i = 0; i < b->n_ev; i++) {
		const struct pce_wire_event *e = &b->ev[i];

		if (e->kind > PCE_WIRE_CLEARED || e->hash0 + (uint64_t)e->n_hashes > b->n_hashes ||
		    e->tok0 + (uint64_t)e->n_tokens > b->n_tokens)
			abort();
		if (e->kind == PCE_WIRE_STORED &&
		    (uint64_t)e->n_hashes * e->block_size != e->n_tokens)
			abort();
		if (e->has & PCE_WIRE_HAS_EXTRA_KEYS) {
			if (e->extra0 + (uint64_t)e->n_hashes > b->n_extra)
				abort();
			for (uint32_t k = 0; k < e->n_hashes; k++) {
				const struct pce_wire_span *s = &b->extra[e->extra0 + k];

				if (s->p && (s->p < data || s->p + s->len > data + size))
					abort();
			}
		}
		if ((e->has & PCE_WIRE_HAS_MEDIUM) &&
		    (e->medium.p < data || e->medium.p + e->medium.len > data + size))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pce_wire_batch b;
	uint32_t n_ev, n_tok, n_hash;
	int rc = pce_wire_decode(&b, data, size);

	if (rc != 0 && rc != PCE_EEVBATCH && rc != PCE_ENOMEM)
		abort();
	if (rc)
		return b.n_ev ? abort(), 0 : 0;
	check(&b, data, size);
	n_ev = b.n_ev;
	n_tok = b.n_tokens;
	n_hash = b.n_hashes;
	if (pce_wire_decode(&b, data, size) != 0 || b.n_ev != n_ev || b.n_tokens != n_tok ||
	    b.n_hashes != n_hash)
		abort();
	return 0;
}
