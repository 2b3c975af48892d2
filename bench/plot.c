/*
 * plot.c - writing and linking the report's charts (plot.h).
 */
#include "plot.h"

#include <stdio.h>

int plot_write(struct suite *s, const char *file, const struct pce_svg_chart *c,
	       const char *caption)
{
	char path[1024], rel[1024];
	FILE *f;
	int rc;

	if (!s->svg_dir)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", s->svg_dir, file);
	snprintf(rel, sizeof(rel), "%s/%s", s->svg_rel ? s->svg_rel : s->svg_dir, file);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -1;
	}
	rc = pce_svg_write(f, c);
	if (fclose(f) != 0 || rc != 0) {
		fprintf(stderr, "pce_bench: cannot write the chart %s (%d)\n", path, rc);
		remove(path);
		return -1;
	}
	report_image(s->rep, rel, caption);
	return 0;
}
