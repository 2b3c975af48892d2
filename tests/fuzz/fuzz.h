/*
 * fuzz.h - what the differential fuzz targets share: reporting a difference
 * and reading the input.  Include it after defining FUZZ_NAME (the target's
 * name, a string literal); FAIL and CHECK name the op_index the target
 * defines.
 */
#ifndef PCE_FUZZ_H
#define PCE_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Report a difference and crash, so that libFuzzer keeps the input. */
#define FAIL(...)                                                              \
	do {                                                                   \
		fprintf(stderr, FUZZ_NAME ": op %u: ", op_index);              \
		fprintf(stderr, __VA_ARGS__);                                  \
		fputc('\n', stderr);                                           \
		abort();                                                       \
	} while (0)
#define CHECK(cond, ...)                  \
	do {                                  \
		if (!(cond))                  \
			FAIL(__VA_ARGS__);    \
	} while (0)

/* The input not read yet; past its end every byte reads as 0. */
struct input {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t u8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

#endif
