/*
 * trace_text.c - the byte-level tokenizer of the text format.
 *
 * No vocabulary: text is first cut into words the way GPT-2-style
 * pre-tokenizers do (an optional leading space, then a run of letters, of
 * digits or of other symbols; or a run of whitespace), and each word into
 * pieces of at most 4 bytes.  A piece is its own token id: its bytes packed
 * little-endian into a uint32_t.  Text holds no NUL byte (the caller
 * refuses them), so the zero padding of a short piece is unambiguous and
 * the mapping piece -> id is injective: equal ids mean equal bytes, with no
 * hash.  Equal text prefixes give equal token prefixes (up to the word
 * being cut), which is all prefix caching needs.
 *
 * Counts are approximate: about one token per 3-4 bytes of English, close
 * to real BPE tokenizers but not equal to any of them.  Bytes >= 0x80
 * (UTF-8 sequences) count as letters.
 */
#include <string.h>

#include "trace_internal.h"

enum cls { SPACE, LETTER, DIGIT, SYMBOL };

static enum cls class_of(unsigned char b)
{
	if (b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v')
		return SPACE;
	if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b >= 0x80)
		return LETTER;
	if (b >= '0' && b <= '9')
		return DIGIT;
	return SYMBOL;
}

int trace_text_tokenize(struct trace_cursor *c, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, n = c->head.len;

	while (i < len) {
		size_t start = i, end;
		enum cls k = class_of(s[i]);

		if (k == SPACE && s[i] == ' ' && i + 1 < len && class_of(s[i + 1]) != SPACE) {
			/* " word": the space belongs to the word after it. */
			i++;
			k = class_of(s[i]);
		}
		end = i;
		while (end < len && class_of(s[end]) == k)
			end++;
		for (size_t p = start; p < end; p += 4) {
			uint32_t id = 0;

			if (n == c->ids_cap && trace_ids_reserve(&c->ids, &c->ids_cap, n + 1))
				return PCE_TRACE_ENOMEM;
			for (size_t b = 0; b < 4 && p + b < end; b++)
				id |= (uint32_t)s[p + b] << (8 * b);
			c->ids[n++] = id;
		}
		i = end;
	}
	c->head.len = n;
	return 0;
}

size_t trace_text_check(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;

	while (i < len) {
		unsigned char b = s[i];
		size_t more;

		if (b < 0x80) {
			if ((b < 0x20 && b != '\t' && b != '\r' && b != '\f') || b == 0x7f)
				return i;
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf)
			more = 1;
		else if (b >= 0xe0 && b <= 0xef)
			more = 2;
		else if (b >= 0xf0 && b <= 0xf4)
			more = 3;
		else
			return i;
		for (size_t k = 1; k <= more; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return i;
		}
		i += more + 1;
	}
	return len;
}
