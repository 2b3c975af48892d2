/*
 * test_tools_output.c - the pieces the pce tool writes its output with:
 * strict UTF-8 decoding (utf8.c) and the SVG chart writer (svg.c), whose
 * documents must be well-formed XML whatever the strings they carry.
 */
#include "tool_test.h"

#include <math.h>
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

static char *svg_text(const struct pce_svg_chart *c, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*rc = pce_svg_write(f, c);
	fclose(f);
	return buf;
}

static void test_svg(void **state)
{
	const double x[] = {1e2, 1e3, 1e4}, y[] = {0.1, 0.25, 0.37};
	struct pce_svg_series s[] = {{"CLOCK-LRU <a&b>", x, y, 3}};
	struct pce_svg_line l = {0.374, "unlimited \"37.4%\"", PCE_SVG_HORIZONTAL};
	struct pce_svg_chart c = {.title = "t", .x_label = "capacity", .y_label = "hit ratio",
				  .log_x = 1, .x_format = PCE_SVG_SI,
				  .y_format = PCE_SVG_PERCENT, .series = s, .n_series = 1,
				  .lines = &l, .n_lines = 1};
	double bad[] = {0, 1, NAN};
	char *out;
	int rc;
	(void)state;

	out = svg_text(&c, &rc);
	assert_int_equal(rc, 0);
	assert_true(strncmp(out, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
	assert_non_null(strstr(out, "</svg>\n"));
	assert_non_null(strstr(out, "CLOCK-LRU &lt;a&amp;b&gt;"));   /* escaped */
	assert_non_null(strstr(out, "unlimited &quot;37.4%&quot;"));
	assert_non_null(strstr(out, ">10k</text>"));                 /* SI ticks */
	assert_non_null(strstr(out, ">30%</text>"));                 /* percent ticks */
	assert_non_null(strstr(out, "stroke-dasharray"));            /* the line */
	free(out);
	/* Invalid charts write nothing. */
	s[0].x = bad;                                                 /* 0 on a log axis */
	out = svg_text(&c, &rc);
	assert_int_equal(rc, PCE_SVG_EINVAL);
	assert_int_equal(strlen(out), 0);
	free(out);
	c.log_x = 0;
	s[0].n = 3;                                                   /* NaN */
	out = svg_text(&c, &rc);
	assert_int_equal(rc, PCE_SVG_EINVAL);
	free(out);
	s[0].n = 0;                                                   /* no point */
	out = svg_text(&c, &rc);
	assert_int_equal(rc, PCE_SVG_EINVAL);
	free(out);
	s[0] = (struct pce_svg_series){"one point", y, y, 1};        /* a degenerate range */
	c.y_fixed = 1;
	c.y_min = 0;
	c.y_max = 1;
	out = svg_text(&c, &rc);
	assert_int_equal(rc, 0);
	free(out);
	assert_int_equal(pce_svg_write(NULL, &c), PCE_SVG_EINVAL);
}

/* Every string reaches the document escaped: markup characters as
 * entities, controls and bytes that are not UTF-8 as U+FFFD, valid UTF-8
 * (and DEL-free ASCII) unchanged. */
static void test_svg_text(void **state)
{
	static const double x[] = {1, 2}, y[] = {0.1, 0.2};
	struct pce_svg_series s = {"s<1>\x01\x1f\x7f\xc2\x9f", x, y, 2};
	struct pce_svg_line line = {0.15, "a&b \"q\" \xff\xc0\xaf\xed\xa0\x80 \xef\xbf\xbe", PCE_SVG_HORIZONTAL};
	struct pce_svg_chart c = {.title = "caf\xc3\xa9 \xe2\x82\xac\tend",
				  .subtitle = "sub\\title\r\n",
				  .x_label = "x",
				  .y_label = "y",
				  .series = &s,
				  .n_series = 1,
				  .lines = &line,
				  .n_lines = 1};
	int rc;
	char *svg = svg_text(&c, &rc);
	(void)state;

	assert_int_equal(rc, 0);
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

/* A vertical line at an x, tick rows in other units, bytes in binary
 * units, and a legend that goes where it hides nothing. */
static void test_svg_marks(void **state)
{
	/* A curve falling from the top left; the ceiling's label takes the top
	 * right.  No title: the plot spans y = 20 to 500 - 56 - 2 rows of 16. */
	static const double x[] = {1, 10, 100, 1000}, y[] = {0.95, 0.95, 0.9, 0.5};
	struct pce_svg_series s[] = {{"lru", x, y, 4}, {"lfu", x, y, 4}};
	struct pce_svg_line l[] = {{0.95, "ceiling", PCE_SVG_HORIZONTAL},
				   {10, "chosen", PCE_SVG_VERTICAL}};
	struct pce_svg_ticks rows[] = {{"blocks", 1, PCE_SVG_SI},
				       {"tokens", 512, PCE_SVG_SI},
				       {"KV", 512.0 * 131072, PCE_SVG_BYTES}};
	struct pce_svg_chart c = {.x_label = "capacity", .y_label = "hit ratio", .log_x = 1,
				  .x_format = PCE_SVG_SI, .y_format = PCE_SVG_PERCENT,
				  .series = s, .n_series = 2, .lines = l, .n_lines = 2,
				  .x_rows = rows, .n_x_rows = 3, .legend = PCE_SVG_AUTO};
	int rc, vertical = 0;
	char *svg;
	(void)state;

	svg = svg_text(&c, &rc);
	assert_int_equal(rc, 0);
	/* 10 blocks = 5.12k tokens = 640 MiB; 1000 blocks = 62.5 GiB */
	assert_non_null(strstr(svg, ">5.12k</text>"));
	assert_non_null(strstr(svg, ">640 MiB</text>"));
	assert_non_null(strstr(svg, ">62.5 GiB</text>"));
	assert_non_null(strstr(svg, ">KV</text>"));
	assert_non_null(strstr(svg, ">chosen</text>"));
	/* the reference lines: one spans the plot from top to bottom */
	for (const char *p = svg; (p = strstr(p, "<line ")); p++) {
		double x1, y1, x2, y2;
		int end = 0;

		if (sscanf(p, "<line x1=\"%lf\" y1=\"%lf\" x2=\"%lf\" y2=\"%lf\" "
			      "stroke=\"#555555\"%n",
			   &x1, &y1, &x2, &y2, &end) == 4 &&
		    end && x1 == x2 && y1 == 20 && y2 == 412)
			vertical++;
	}
	assert_int_equal(vertical, 1);
	/* the second series dashed and narrower, its marker hollow */
	assert_non_null(strstr(svg, "stroke-width=\"2.0\" stroke-dasharray=\"9 5\" points="));
	assert_non_null(strstr(svg, "<path fill=\"#ffffff\" stroke-width=\"1.5\""));
	/* the legend (width 44 + 3 x 7.8, height 50): not top left (the
	 * curve), not top right (the label): bottom left */
	assert_non_null(strstr(svg, "<rect x=\"88.0\" y=\"352.0\" width=\"67.4\""));
	free(svg);
	c.legend = PCE_SVG_TOP_RIGHT; /* as asked */
	svg = svg_text(&c, &rc);
	assert_non_null(strstr(svg, "<rect x=\"698.6\" y=\"30.0\" width=\"67.4\""));
	free(svg);

	/* Invalid: a vertical line at 0 on a log axis, a scale of 0, a ninth
	 * line, a fourth row, an unknown corner. */
	c.legend = PCE_SVG_AUTO;
	l[1].at = 0;
	assert_int_equal(pce_svg_write(stdout, &c), PCE_SVG_EINVAL);
	l[1].at = 10;
	rows[1].scale = 0;
	assert_int_equal(pce_svg_write(stdout, &c), PCE_SVG_EINVAL);
	rows[1].scale = 512;
	c.n_lines = 9;
	assert_int_equal(pce_svg_write(stdout, &c), PCE_SVG_EINVAL);
	c.n_lines = 2;
	c.n_x_rows = 4;
	assert_int_equal(pce_svg_write(stdout, &c), PCE_SVG_EINVAL);
	c.n_x_rows = 3;
	c.legend = (enum pce_svg_corner)(PCE_SVG_AUTO + 1);
	assert_int_equal(pce_svg_write(stdout, &c), PCE_SVG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_decode),
		cmocka_unit_test(test_svg),
		cmocka_unit_test(test_svg_text),
		cmocka_unit_test(test_svg_marks),
	};

	return tool_test_main("output", tests, NELEM(tests));
}
