/*
 * events/ns.c - the namespace derivation of pce/events.h, the one place it
 * is computed (the subscriber and gateways call the same functions).
 */
#include <string.h>

#include "pce/events.h"

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t derive(uint64_t ns, char tag, const void *p, size_t n)
{
	uint8_t le[8];
	uint64_t h = 0xcbf29ce484222325ull;

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(ns >> (8 * i));
	h = fnv(h, le, 8);
	h = fnv(h, &tag, 1);
	h = fnv(h, p, n);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

uint64_t pce_ev_ns_lora(uint64_t ns, const char *lora_name, size_t len)
{
	return derive(ns, 'L', lora_name ? lora_name : "", lora_name ? len : 0);
}

uint64_t pce_ev_ns_lora_id(uint64_t ns, int64_t lora_id)
{
	uint8_t le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)((uint64_t)lora_id >> (8 * i));
	return derive(ns, 'I', le, 8);
}

uint64_t pce_ev_ns_extra(uint64_t ns, const void *entry, size_t len)
{
	return derive(ns, 'X', entry ? entry : "", entry ? len : 0);
}

const char *pce_ev_state_name(int state)
{
	switch (state) {
	case PCE_EV_EXACT: return "EXACT";
	case PCE_EV_RECOVERING: return "RECOVERING";
	case PCE_EV_DEGRADED: return "DEGRADED";
	}
	return "?";
}
