/* consumer.c - an out-of-tree C program built against installed libpce. */
#include <pce/pce.h>
#include <stdio.h>

int main(void)
{
	const uint32_t prompt[] = {1, 2, 3, 4};
	struct pce_config cfg;
	struct pce_cache *c;
	struct pce_match m;

	pce_config_init(&cfg);
	if (pce_cache_create(&cfg, &c) || pce_cache_store(c, 0, prompt, 4, 7, 0, NULL, NULL) ||
	    pce_cache_lookup(c, 0, prompt, 4, NULL, &m) || m.tokens != 4 || m.value != 7 ||
	    pce_cache_destroy(c)) {
		fprintf(stderr, "consumer.c: libpce %s misbehaved\n", pce_version_string());
		return 1;
	}
	printf("consumer.c: libpce %s ok\n", pce_version_string());
	return 0;
}
