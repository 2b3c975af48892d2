/*
 * plot.h - SVG charts of the report, drawn by pcetools' svg module
 * (tools/svg.h): each is written to the suite's plot directory and linked
 * from the current section of the report.
 */
#ifndef BENCH_PLOT_H
#define BENCH_PLOT_H

#include <svg.h>

#include "bench.h"

/* Write @c as @file in s->svg_dir and link it with @caption.  Nothing
 * happens without a plot directory.  Return: 0 or -1 (reported on stderr). */
int plot_write(struct suite *s, const char *file, const struct pce_svg_chart *c,
	       const char *caption);

#endif /* BENCH_PLOT_H */
