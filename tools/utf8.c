/*
 * utf8.c - strict UTF-8 decoding (see utf8.h).
 *
 * Valid sequences are those of RFC 3629, section 4:
 *
 *   first byte   then                          code points
 *   00..7F       -                             U+0000..U+007F
 *   C2..DF       80..BF                        U+0080..U+07FF
 *   E0           A0..BF  80..BF                U+0800..U+0FFF   (no overlong form)
 *   E1..EC EE EF 80..BF  80..BF                U+1000..U+FFFF   (but D800..DFFF)
 *   ED           80..9F  80..BF                U+D000..U+D7FF   (no surrogate)
 *   F0           90..BF  80..BF  80..BF        U+10000..U+3FFFF
 *   F1..F3       80..BF  80..BF  80..BF        U+40000..U+FFFFF
 *   F4           80..8F  80..BF  80..BF        U+100000..U+10FFFF
 *
 * Only the second byte's range depends on the first; the others are
 * always 80..BF.
 */
#include "utf8.h"

size_t pce_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *b = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;
	uint32_t v;

	if (b[0] < 0x80) {
		*cp = b[0];
		return 1;
	}
	if (b[0] >= 0xc2 && b[0] <= 0xdf) {
		len = 2;
		v = b[0] & 0x1f;
	} else if (b[0] >= 0xe0 && b[0] <= 0xef) {
		len = 3;
		v = b[0] & 0x0f;
		lo = b[0] == 0xe0 ? 0xa0 : 0x80;
		hi = b[0] == 0xed ? 0x9f : 0xbf;
	} else if (b[0] >= 0xf0 && b[0] <= 0xf4) {
		len = 4;
		v = b[0] & 0x07;
		lo = b[0] == 0xf0 ? 0x90 : 0x80;
		hi = b[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (n < len || b[1] < lo || b[1] > hi)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((b[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (b[i] & 0x3f);
	}
	*cp = v;
	return len;
}

int pce_utf8_valid(const char *s, size_t n)
{
	uint32_t cp;

	for (size_t i = 0, k; i < n; i += k) {
		k = pce_utf8_decode(s + i, n - i, &cp);
		if (!k)
			return 0;
	}
	return 1;
}
