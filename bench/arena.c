/*
 * arena.c - chunked token storage (arena.h).
 */
#include "arena.h"

#include <stdlib.h>

#define ARENA_CHUNK_TOKENS ((size_t)1 << 24) /* 64 MiB */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	uint32_t tok[];
};

uint32_t *arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;

	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK_TOKENS ? n : ARENA_CHUNK_TOKENS;
		c = malloc(sizeof(*c) + cap * sizeof(uint32_t));
		if (!c)
			return NULL;
		c->next = a->head;
		c->used = 0;
		c->cap = cap;
		a->head = c;
	}
	c->used += n;
	return c->tok + c->used - n;
}

void arena_free(struct arena *a)
{
	while (a->head) {
		struct arena_chunk *c = a->head;
		a->head = c->next;
		free(c);
	}
}
