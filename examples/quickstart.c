/* quickstart.c - the README's example: store a prompt's KV handle, then
 * find the longest cached prefix of a new prompt and pin it while its KV is
 * in use. */
#include <pce/pce.h>
#include <stdio.h>

int main(void)
{
	struct pce_config cfg;
	struct pce_cache *cache;
	pce_config_init(&cfg);
	cfg.kv_budget = 64ull << 30; /* 64 GiB of KV, as declared per entry */
	if (pce_cache_create(&cfg, &cache) != 0)
		return 1;

	/* After prefilling a prompt, remember where its KV lives. */
	const uint32_t prompt[] = {128000, 882, 271, 3923, 374, 279, 6864, 315, 9822, 30};
	uint64_t kv_handle = 0x1000; /* e.g. the first KV block id */
	int rc = pce_cache_store(cache, /*ns=*/7, prompt, 10, kv_handle,
				 /*kv_bytes=*/10 * 131072, NULL, NULL);
	if (rc != 0 && rc != PCE_EEXIST)
		fprintf(stderr, "store: %s\n", pce_strerror(rc));

	/* A new request shares the first 6 tokens. */
	const uint32_t next[] = {128000, 882, 271, 3923, 374, 279, 1888, 11};
	struct pce_lookup_opts pin = {PCE_LOOKUP_PIN, 0};
	struct pce_match m;
	if (pce_cache_lookup(cache, 7, next, 8, &pin, &m) == 0 && m.tokens > 0) {
		printf("reuse %zu of 8 tokens from KV %#llx\n", m.tokens,
		       (unsigned long long)m.value);
		/* ... prefill only next[m.tokens..] ... */
		pce_pin_release(cache, m.pin);
	}
	return pce_cache_destroy(cache) == 0 ? 0 : 1;
}
