/*
 * svg.h - small, self-contained SVG line charts: several named series,
 * axes with ticks and labels, optional logarithmic axes, dashed horizontal
 * reference lines and a legend.  The file needs no fonts, scripts or
 * stylesheets: any browser or image viewer shows it.  Strings may hold any
 * bytes: the document is well-formed XML 1.0 whatever they are (markup
 * characters become entities; control characters, U+FFFE, U+FFFF and bytes
 * that are not valid UTF-8 become U+FFFD).
 *
 * Example: hit ratio against capacity, one line per policy, the ceiling
 * dashed.
 *
 *	const double cap[] = {1e3, 1e4, 1e5}, lru[] = {.05, .21, .37};
 *	struct pce_svg_series s[] = {{"CLOCK-LRU", cap, lru, 3}};
 *	struct pce_svg_line ceiling = {.374, "unlimited 37.4%"};
 *	struct pce_svg_chart c = {
 *		.title = "Prefix-hit ratio", .x_label = "capacity (blocks)",
 *		.y_label = "token hit ratio", .log_x = 1,
 *		.x_format = PCE_SVG_SI, .y_format = PCE_SVG_PERCENT,
 *		.series = s, .n_series = 1, .lines = &ceiling, .n_lines = 1};
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
	PCE_SVG_PERCENT     /* values in 0..1 shown as 25% */
};

enum pce_svg_corner {
	PCE_SVG_TOP_LEFT = 0,
	PCE_SVG_TOP_RIGHT,
	PCE_SVG_BOTTOM_LEFT,
	PCE_SVG_BOTTOM_RIGHT
};

struct pce_svg_series {
	const char *name;
	const double *x, *y; /* n points, finite (> 0 on a log axis) */
	size_t n;
};

/* A dashed horizontal line across the plot, labelled at its right end. */
struct pce_svg_line {
	double y;
	const char *label;   /* may be NULL */
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
	size_t n_lines;
	enum pce_svg_corner legend;
	unsigned width, height;       /* pixels; 0: 800 x 500 */
};

/* Return codes of pce_svg_write(). */
enum {
	PCE_SVG_EINVAL = -1, /* no point at all, too many series, a non-finite
	                      * value, a value <= 0 on a log axis, or a bad range */
	PCE_SVG_EIO = -2     /* writing @out failed */
};

/*
 * pce_svg_write - Write chart @c as one SVG document to @out.
 * Return: 0, PCE_SVG_EINVAL (nothing written) or PCE_SVG_EIO.
 */
int pce_svg_write(FILE *out, const struct pce_svg_chart *c);

#endif /* PCE_TOOLS_SVG_H */
