/*
 * mp.h - a tiny msgpack writer for the events tests and the benchmark:
 * hand-made batches, byte by byte, independent of the decoder under test.
 */
#ifndef PCE_TEST_MP_H
#define PCE_TEST_MP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mp {
	uint8_t *p;
	size_t n, cap;
};

static inline void mp_raw(struct mp *m, const void *p, size_t n)
{
	if (m->n + n > m->cap) {
		m->cap = (m->n + n) * 2 + 64;
		m->p = realloc(m->p, m->cap);
		if (!m->p)
			abort();
	}
	memcpy(m->p + m->n, p, n);
	m->n += n;
}

static inline void mp_byte(struct mp *m, uint8_t b)
{
	mp_raw(m, &b, 1);
}

static inline void mp_be(struct mp *m, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		mp_byte(m, (uint8_t)(v >> (8 * i)));
}

static inline void mp_uint(struct mp *m, uint64_t v)
{
	if (v <= 0x7f)
		mp_byte(m, (uint8_t)v);
	else if (v <= 0xffff) {
		mp_byte(m, 0xcd);
		mp_be(m, v, 2);
	} else if (v <= 0xffffffffu) {
		mp_byte(m, 0xce);
		mp_be(m, v, 4);
	} else {
		mp_byte(m, 0xcf);
		mp_be(m, v, 8);
	}
}

static inline void mp_int(struct mp *m, int64_t v)
{
	if (v >= 0) {
		mp_uint(m, (uint64_t)v);
	} else if (v >= -32) {
		mp_byte(m, (uint8_t)v);
	} else {
		mp_byte(m, 0xd3);
		mp_be(m, (uint64_t)v, 8);
	}
}

static inline void mp_nil(struct mp *m)
{
	mp_byte(m, 0xc0);
}

static inline void mp_f64(struct mp *m, double d)
{
	uint64_t w;

	memcpy(&w, &d, 8);
	mp_byte(m, 0xcb);
	mp_be(m, w, 8);
}

static inline void mp_str(struct mp *m, const char *s)
{
	size_t n = strlen(s);

	if (n < 32) {
		mp_byte(m, (uint8_t)(0xa0 | n));
	} else {
		mp_byte(m, 0xd9);
		mp_byte(m, (uint8_t)n);
	}
	mp_raw(m, s, n);
}

static inline void mp_bin(struct mp *m, const void *p, size_t n)
{
	mp_byte(m, 0xc4);
	mp_byte(m, (uint8_t)n);
	mp_raw(m, p, n);
}

static inline void mp_arr(struct mp *m, uint32_t n)
{
	if (n < 16) {
		mp_byte(m, (uint8_t)(0x90 | n));
	} else {
		mp_byte(m, 0xdd);
		mp_be(m, n, 4);
	}
}

static inline void mp_map(struct mp *m, uint32_t n)
{
	if (n < 16) {
		mp_byte(m, (uint8_t)(0x80 | n));
	} else {
		mp_byte(m, 0xdf);
		mp_be(m, n, 4);
	}
}

#endif /* PCE_TEST_MP_H */
