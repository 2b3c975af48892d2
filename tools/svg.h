/*
 * svg.h - small, self-contained SVG line charts: several named series,
 * axes with ticks and labels, optional logarithmic axes, dashed horizontal
 * reference lines and a legend.  The file needs no fonts, scripts or
 * stylesheets: any browser or image viewer shows it.  Strings may hold any
 * bytes: the document is well-formed XML 1.0 whatever they are (markup
 * characters become entities; control characters, U+FFFE, U+FFFF and bytes
 * that are not valid UTF-8 become U+FFFD).
 *
 * Series stay apart where they coincide: each has its own marker, and each
 * after the first is drawn narrower and dashed over the ones before, which
 * show through around it and between its dashes.
 *
 * Example: hit ratio against capacity, one line per policy, the ceiling
 * dashed, the chosen capacity marked, capacity also in tokens under the
 * block counts.
 *
 *	const double cap[] = {1e3, 1e4, 1e5}, lru[] = {.05, .21, .37};
 *	struct pce_svg_series s[] = {{"CLOCK-LRU", cap, lru, 3}};
 *	struct pce_svg_line marks[] = {{.374, "unlimited 37.4%"},
 *				       {1e5, "recommended", PCE_SVG_VERTICAL}};
 *	struct pce_svg_ticks rows[] = {{"blocks", 1, PCE_SVG_SI},
 *				       {"tokens", 512, PCE_SVG_SI}};
 *	struct pce_svg_chart c = {
 *		.title = "Prefix-hit ratio", .x_label = "capacity",
 *		.y_label = "token hit ratio", .log_x = 1,
 *		.x_format = PCE_SVG_SI, .y_format = PCE_SVG_PERCENT,
 *		.x_rows = rows, .n_x_rows = 2,
 *		.series = s, .n_series = 1, .lines = marks, .n_lines = 2};
 *	pce_svg_write(file, &c);
 */
#ifndef PCE_TOOLS_SVG_H
#define PCE_TOOLS_SVG_H

#include <stddef.h>
#include <stdio.h>

/* How tick labels and tooltips show values. */
enum pce_svg_format {
	PCE_SVG_NUMBER = 0, /* 0.25, 12, 1500 */
	PCE_SVG_SI,         /* 1.5k, 12M, 3G */
	PCE_SVG_PERCENT,    /* values in 0..1 shown as 25% */
	PCE_SVG_BYTES       /* 512 B, 64 MiB, 1.25 GiB (binary units) */
};

/* Where the legend goes.  PCE_SVG_AUTO: where it hides the least of the
 * series and of the line labels, of the four corners and half-way down
 * the left and the right edge (the first in that order on a tie). */
enum pce_svg_corner {
	PCE_SVG_TOP_LEFT = 0,
	PCE_SVG_TOP_RIGHT,
	PCE_SVG_BOTTOM_LEFT,
	PCE_SVG_BOTTOM_RIGHT,
	PCE_SVG_AUTO
};

struct pce_svg_series {
	const char *name;
	const double *x, *y; /* n points, finite (> 0 on a log axis) */
	size_t n;
};

enum pce_svg_direction { PCE_SVG_HORIZONTAL = 0, PCE_SVG_VERTICAL };

/* A dashed line across the plot.  Horizontal: at y = @at, labelled above
 * its right end.  Vertical: at x = @at, labelled beside its foot, on the
 * side with more room. */
struct pce_svg_line {
	double at;
	const char *label;   /* may be NULL */
	enum pce_svg_direction direction;
};

/* A row of x tick labels: each tick's value times @scale, in @format, the
 * row named by @name at its left. */
struct pce_svg_ticks {
	const char *name;    /* may be NULL */
	double scale;        /* finite, > 0 */
	enum pce_svg_format format;
};

struct pce_svg_chart {
	const char *title;            /* may be NULL */
	const char *subtitle;         /* smaller, under the title; may be NULL */
	const char *x_label, *y_label;
	int log_x, log_y;
	enum pce_svg_format x_format, y_format;
	/* y range: with y_fixed, exactly [y_min, y_max]; otherwise from the
	 * data and the lines, starting at 0 on a linear axis whose values are
	 * all >= 0, rounded out to ticks. */
	int y_fixed;
	double y_min, y_max;
	const struct pce_svg_series *series;
	size_t n_series;              /* at most 8 (the palette) */
	const struct pce_svg_line *lines;
	size_t n_lines;               /* at most 8 */
	/* Rows of x tick labels, one under another (at most 3), to show the
	 * same axis in several units; none: one row in x_format. */
	const struct pce_svg_ticks *x_rows;
	size_t n_x_rows;
	enum pce_svg_corner legend;
	unsigned width, height;       /* pixels; 0: 800 x 500 */
};

/* Return codes of pce_svg_write(). */
enum {
	PCE_SVG_EINVAL = -1, /* no point at all, too many series, lines or rows, a
	                      * non-finite value, a value <= 0 on a log axis, a
	                      * bad scale or a bad range */
	PCE_SVG_EIO = -2     /* writing @out failed */
};

/*
 * pce_svg_write - Write chart @c as one SVG document to @out.
 * Return: 0, PCE_SVG_EINVAL (nothing written) or PCE_SVG_EIO.
 */
int pce_svg_write(FILE *out, const struct pce_svg_chart *c);

#endif /* PCE_TOOLS_SVG_H */
