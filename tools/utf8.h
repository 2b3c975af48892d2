/*
 * utf8.h - strict UTF-8 decoding, one code point at a time, for the
 * writers whose formats require valid UTF-8 (JSON, XML) but whose strings
 * need not be: file names and namespace names are arbitrary bytes.
 */
#ifndef PCE_TOOLS_UTF8_H
#define PCE_TOOLS_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* U+FFFD, what the writers put in place of a byte they cannot carry. */
#define PCE_UTF8_REPLACEMENT "\xef\xbf\xbd"

/*
 * pce_utf8_decode - Decode the code point at the start of @s (@n > 0 bytes).
 * Return: its length in bytes (1 to 4), with *@cp set; or 0 if @s does not
 * start with a valid sequence: a stray continuation byte, a truncated
 * sequence, an overlong form, a surrogate or a value above U+10FFFF.  The
 * caller then handles one byte and decodes again from the next.
 */
size_t pce_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Whether all @n bytes of @s are valid UTF-8. */
int pce_utf8_valid(const char *s, size_t n);

#endif /* PCE_TOOLS_UTF8_H */
