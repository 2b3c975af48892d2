/*
 * test_tools_output.c - the pieces the pce tool writes its output with:
 * strict UTF-8 decoding (utf8.c) and the SVG chart writer (svg.c), whose
 * documents must be well-formed XML whatever the strings they carry.
 */
#include "tool_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"
#include "utf8.h"

/* Every boundary of RFC 3629's table, valid and not. */
static void test_utf8_decode(void **state)
{
	static const struct { const char *s; size_t len; uint32_t cp; } cases[] = {
		{"A", 1, 0x41},
		{"\x7f", 1, 0x7f},
		{"\xc2\x80", 2, 0x80},
		{"\xdf\xbf", 2, 0x7ff},
		{"\xe0\xa0\x80", 3, 0x800},
		{"\xed\x9f\xbf", 3, 0xd7ff},
		{"\xee\x80\x80", 3, 0xe000},
		{"\xef\xbf\xbd", 3, 0xfffd},
		{"\xf0\x90\x80\x80", 4, 0x10000},
		{"\xf4\x8f\xbf\xbf", 4, 0x10ffff},
		/* invalid: length 0 */
		{"\x80", 0, 0},             /* a continuation byte first */
		{"\xbf", 0, 0},
		{"\xc0\xaf", 0, 0},         /* overlong '/' */
		{"\xc1\xbf", 0, 0},
		{"\xc2", 0, 0},             /* truncated */
		{"\xc2" "A", 0, 0},         /* not a continuation */
		{"\xe0\x9f\xbf", 0, 0},     /* overlong U+07FF */
		{"\xed\xa0\x80", 0, 0},     /* surrogate U+D800 */
		{"\xed\xbf\xbf", 0, 0},     /* surrogate U+DFFF */
		{"\xe1\x80", 0, 0},         /* truncated */
		{"\xf0\x8f\xbf\xbf", 0, 0}, /* overlong U+FFFF */
		{"\xf4\x90\x80\x80", 0, 0}, /* U+110000 */
		{"\xf5\x80\x80\x80", 0, 0},
		{"\xf8\x88\x80\x80\x80", 0, 0},
		{"\xfe", 0, 0},
		{"\xff", 0, 0},
	};
	(void)state;

	for (size_t i = 0; i < NELEM(cases); i++) {
		uint32_t cp = 0;
		size_t len = pce_utf8_decode(cases[i].s, strlen(cases[i].s), &cp);

		if (len != cases[i].len || (len && cp != cases[i].cp))
			fail_msg("case %zu: length %zu, U+%04X", i, len, cp);
	}
	/* @n bounds the read: a valid sequence cut short is invalid. */
	assert_int_equal(pce_utf8_decode("\xe2\x82\xac", 2, &(uint32_t){0}), 0);
	assert_true(pce_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
	assert_false(pce_utf8_valid("caf\xc3\xa9\xff", 6));
	assert_true(pce_utf8_valid("", 0));
}

/* Write @c into a string (freed by the caller). */
static char *chart(const struct pce_svg_chart *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(pce_svg_write(f, c), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* Every string reaches the document escaped: markup characters as
 * entities, controls and bytes that are not UTF-8 as U+FFFD, valid UTF-8
 * (and DEL-free ASCII) unchanged. */
static void test_svg_text(void **state)
{
	static const double x[] = {1, 2}, y[] = {0.1, 0.2};
	struct pce_svg_series s = {"s<1>\x01\x1f\x7f\xc2\x9f", x, y, 2};
	struct pce_svg_line line = {0.15, "a&b \"q\" \xff\xc0\xaf\xed\xa0\x80 \xef\xbf\xbe"};
	struct pce_svg_chart c = {.title = "caf\xc3\xa9 \xe2\x82\xac\tend",
				  .subtitle = "sub\\title\r\n",
				  .x_label = "x",
				  .y_label = "y",
				  .series = &s,
				  .n_series = 1,
				  .lines = &line,
				  .n_lines = 1};
	char *svg = chart(&c);
	(void)state;

	assert_true(pce_utf8_valid(svg, strlen(svg)));
	for (const unsigned char *p = (const unsigned char *)svg; *p; p++)
		assert_true(*p >= 0x20 || *p == '\n');
	assert_non_null(strstr(svg, ">caf\xc3\xa9 \xe2\x82\xac\xef\xbf\xbd" "end</text>"));
	assert_non_null(strstr(svg, ">sub\\title\xef\xbf\xbd\xef\xbf\xbd</text>"));
	assert_non_null(strstr(svg, ">s&lt;1&gt;\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
				    "\xef\xbf\xbd</text>"));
	/* one U+FFFD per byte of an invalid sequence (1 + 2 + 3 here), and one
	 * for the non-character U+FFFE */
	assert_non_null(strstr(svg, ">a&amp;b &quot;q&quot; \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
				    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd</text>"));
	free(svg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_decode),
		cmocka_unit_test(test_svg_text),
	};

	return tool_test_main("output", tests, NELEM(tests));
}
