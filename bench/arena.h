/*
 * arena.h - token arrays allocated in large chunks and freed all at once:
 * the storage of the generated workloads and of expanded traces.  An
 * array never moves once allocated.
 */
#ifndef BENCH_ARENA_H
#define BENCH_ARENA_H

#include <stddef.h>
#include <stdint.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
};

/* Room for @n tokens; NULL if out of memory. */
uint32_t *arena_alloc(struct arena *a, size_t n);
/* Frees every array; the arena is empty and usable again. */
void arena_free(struct arena *a);

#endif /* BENCH_ARENA_H */
