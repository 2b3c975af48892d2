/*
 * svg.c - small self-contained SVG line charts (see svg.h).
 *
 * Layout, in pixels from the top-left corner:
 *
 *   +----------------------------------------------+
 *   |                  title                       |  top margin: title,
 *   |                subtitle                      |  subtitle
 *   |      +-------------------------------+       |
 *   | tick |  legend        . - - - - ref  |       |  plot area [x0,x1] x [y0,y1]
 *   |  y   |           .-*'                |       |
 *   | label|   *---*--'                    |       |
 *   |      +-------------------------------+       |
 *   |        ticks         x label                 |
 *   +----------------------------------------------+
 *
 * Axis ranges: a linear axis is rounded out to a "nice" tick step (1, 2 or
 * 5 times a power of ten, about five ticks); a log axis keeps the data
 * range, padded by 4% of its decades, with ticks at each power of ten, and
 * also at 2x and 5x when the range spans under three decades.  Colours are
 * the Okabe-Ito palette, which stays distinct for colour-blind readers, and
 * each series has its own marker shape as well.
 *
 * Coinciding series: series s is drawn after series 0..s-1, narrower and
 * dashed (style[]), with a hollow marker a little smaller than the filled
 * marker of series 0, so where two lines or points fall on each other both
 * stay visible.  Extra rows of x tick labels go under the first, each
 * ROW_HEIGHT pixels lower, and push the x label down with them.
 */
#include <math.h>
#include <string.h>

#include "svg.h"
#include "utf8.h"

#define MAX_SERIES 8
#define MAX_TICKS 64
#define MAX_ROWS 3
#define MAX_LINES 8
#define ROW_HEIGHT 16.0

static const char *const palette[MAX_SERIES] = {
	"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999"};

/* Line width and dash pattern of series s: style[s % 4]. */
static const struct {
	double width;
	const char *dash; /* NULL: solid */
} style[4] = {{3.5, NULL}, {2, "9 5"}, {2, "2 3"}, {1.5, "12 3 3 3"}};

struct axis {
	double lo, hi;     /* data range, then the drawn range */
	int log;
	enum pce_svg_format format;
	double step;       /* linear tick step (for label precision); 0 on a log axis */
	double tick[MAX_TICKS];
	int n_ticks;
	double p0, p1;     /* pixels of lo and hi */
};

static double pixel(const struct axis *a, double v)
{
	double f = a->log ? (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo))
			  : (v - a->lo) / (a->hi - a->lo);

	return a->p0 + f * (a->p1 - a->p0);
}

static double nice_step(double range)
{
	double raw = range / 5, mag = pow(10, floor(log10(raw))), norm = raw / mag;

	return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

/* Choose the drawn range and the ticks of @a from its data range. */
static void layout(struct axis *a, int fixed)
{
	a->n_ticks = 0;
	a->step = 0;
	if (a->log) {
		double d0 = log10(a->lo), d1 = log10(a->hi), pad;

		if (d1 - d0 < 1e-9) {
			d0 -= 0.5;
			d1 += 0.5;
		}
		pad = fixed ? 0 : 0.04 * (d1 - d0);
		a->lo = pow(10, d0 - pad);
		a->hi = pow(10, d1 + pad);
		for (int e = (int)floor(d0 - pad); e <= (int)ceil(d1 + pad); e++) {
			static const double mult[] = {1, 2, 5};
			int minor = d1 - d0 < 3;

			for (int m = 0; m < (minor ? 3 : 1); m++) {
				double v = mult[m] * pow(10, e);
				if (v >= a->lo * (1 - 1e-9) && v <= a->hi * (1 + 1e-9) &&
				    a->n_ticks < MAX_TICKS)
					a->tick[a->n_ticks++] = v;
			}
		}
		return;
	}
	if (a->hi - a->lo < 1e-12 * (fabs(a->hi) + 1)) {
		a->lo -= 1;
		a->hi += 1;
	}
	if (!fixed)
		a->hi += 0.03 * (a->hi - a->lo); /* keep the top point off the frame */
	a->step = nice_step(a->hi - a->lo);
	if (!fixed) {
		a->lo = floor(a->lo / a->step + 1e-9) * a->step;
		a->hi = ceil(a->hi / a->step - 1e-9) * a->step;
	}
	for (double v = ceil(a->lo / a->step - 1e-9) * a->step;
	     v <= a->hi + a->step * 1e-9 && a->n_ticks < MAX_TICKS; v += a->step)
		a->tick[a->n_ticks++] = fabs(v) < a->step * 1e-9 ? 0 : v;
}

/* @v as a label; @step > 0 fixes the decimals (ticks), 0 gives 4
 * significant digits (tooltips). */
static void format(char *out, size_t n, double v, enum pce_svg_format f, double step)
{
	int dec = 0;

	if (f == PCE_SVG_PERCENT) {
		v *= 100;
		step *= 100;
	}
	if (step > 0)
		dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
	if (f == PCE_SVG_BYTES) {
		static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
		int i = 0;

		while (fabs(v) >= 1024 && i < 6) {
			v /= 1024;
			i++;
		}
		snprintf(out, n, "%.4g %s", v, unit[i]);
		return;
	}
	if (f == PCE_SVG_SI) {
		static const struct { double scale; const char *suffix; } si[] = {
			{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}, {1, ""}};
		for (size_t i = 0; i < sizeof(si) / sizeof(si[0]); i++) {
			if (fabs(v) >= si[i].scale || i + 1 == sizeof(si) / sizeof(si[0])) {
				snprintf(out, n, "%.4g%s", v / si[i].scale, si[i].suffix);
				return;
			}
		}
	}
	if (step > 0)
		snprintf(out, n, "%.*f%s", dec, v, f == PCE_SVG_PERCENT ? "%" : "");
	else
		snprintf(out, n, "%.4g%s", v, f == PCE_SVG_PERCENT ? "%" : "");
}

/* Open a <path> drawing series @s's marker at (@px, @py): circle, square,
 * diamond, triangle, in turn, so overlapping series stay apart.  The
 * first series' circle is filled and larger; the others are hollow, so one
 * on top of another leaves both visible. */
static void marker(FILE *out, size_t s, double px, double py)
{
	const char *hollow = s ? " fill=\"#ffffff\" stroke-width=\"1.5\"" : "";

	switch (s % 4) {
	case 0:
		fprintf(out, "<path%s d=\"M%.1f,%.1f a4.5,4.5 0 1,0 9,0 a4.5,4.5 0 1,0 -9,0\">",
			hollow, px - 4.5, py);
		break;
	case 1:
		fprintf(out, "<path%s d=\"M%.1f,%.1f h6 v6 h-6 z\">", hollow, px - 3, py - 3);
		break;
	case 2:
		fprintf(out, "<path%s d=\"M%.1f,%.1f l4.5,4.5 l-4.5,4.5 l-4.5,-4.5 z\">", hollow, px,
			py - 4.5);
		break;
	default:
		fprintf(out, "<path%s d=\"M%.1f,%.1f l4.5,8 h-9 z\">", hollow, px, py - 5);
		break;
	}
}

/* @s as XML character data or attribute value, so that any name gives a
 * well-formed document: & < > " escaped; a byte that is not valid UTF-8,
 * and a control character, replaced by U+FFFD.  XML 1.0 allows no C0
 * control but tab, LF and CR, and a one-line label has no use for those,
 * nor for DEL and the C1 controls, nor for the non-characters U+FFFE and
 * U+FFFF (which XML forbids too). */
static void text(FILE *out, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	for (size_t i = 0, k; i < n; i += k) {
		uint32_t cp;

		k = pce_utf8_decode(s + i, n - i, &cp);
		if (!k || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0xfffe ||
		    cp == 0xffff) {
			fputs(PCE_UTF8_REPLACEMENT, out);
			k = k ? k : 1;
			continue;
		}
		switch (cp) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		default: fwrite(s + i, 1, k, out);
		}
	}
}

static int valid(const struct pce_svg_chart *c, struct axis *x, struct axis *y)
{
	size_t points = 0;

	if (!c || c->n_series > MAX_SERIES || (c->n_series && !c->series) ||
	    c->n_lines > MAX_LINES || (c->n_lines && !c->lines) || c->n_x_rows > MAX_ROWS ||
	    (c->n_x_rows && !c->x_rows) || (unsigned)c->legend > PCE_SVG_AUTO)
		return 0;
	for (size_t i = 0; i < c->n_x_rows; i++) {
		if (!isfinite(c->x_rows[i].scale) || c->x_rows[i].scale <= 0)
			return 0;
	}
	x->lo = y->lo = INFINITY;
	x->hi = y->hi = -INFINITY;
	for (size_t s = 0; s < c->n_series; s++) {
		const struct pce_svg_series *sr = &c->series[s];

		if (sr->n && (!sr->x || !sr->y))
			return 0;
		for (size_t i = 0; i < sr->n; i++) {
			double vx = sr->x[i], vy = sr->y[i];

			if (!isfinite(vx) || !isfinite(vy) || (c->log_x && vx <= 0) ||
			    (c->log_y && vy <= 0))
				return 0;
			x->lo = fmin(x->lo, vx);
			x->hi = fmax(x->hi, vx);
			y->lo = fmin(y->lo, vy);
			y->hi = fmax(y->hi, vy);
			points++;
		}
	}
	for (size_t i = 0; i < c->n_lines; i++) {
		const struct pce_svg_line *l = &c->lines[i];
		struct axis *a = l->direction == PCE_SVG_VERTICAL ? x : y;

		if (!isfinite(l->at) ||
		    ((l->direction == PCE_SVG_VERTICAL ? c->log_x : c->log_y) && l->at <= 0) ||
		    (l->direction != PCE_SVG_HORIZONTAL && l->direction != PCE_SVG_VERTICAL))
			return 0;
		a->lo = fmin(a->lo, l->at);
		a->hi = fmax(a->hi, l->at);
	}
	if (!points)
		return 0;
	if (c->y_fixed) {
		if (!isfinite(c->y_min) || !isfinite(c->y_max) || c->y_max <= c->y_min ||
		    (c->log_y && c->y_min <= 0))
			return 0;
		y->lo = c->y_min;
		y->hi = c->y_max;
	} else if (!c->log_y && y->lo >= 0) {
		y->lo = 0;
	}
	return 1;
}

/* The width and dashes of series @s's line, as attributes. */
static void stroke(FILE *out, size_t s)
{
	fprintf(out, " stroke-width=\"%.1f\"", style[s % 4].width);
	if (style[s % 4].dash)
		fprintf(out, " stroke-dasharray=\"%s\"", style[s % 4].dash);
}

/* A rectangle in pixels. */
struct box {
	double x0, y0, x1, y1;
};

static int overlap(const struct box *a, const struct box *b)
{
	return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* How much a legend at @b would hide: the samples of the series' lines
 * and markers under it, every few pixels, and a lot for each label. */
static double hidden(const struct pce_svg_chart *c, const struct axis *x, const struct axis *y,
		     const struct box *b, const struct box *labels, size_t n_labels)
{
	double cost = 0;

	for (size_t i = 0; i < n_labels; i++)
		cost += overlap(b, &labels[i]) ? 1000 : 0;
	for (size_t s = 0; s < c->n_series; s++) {
		const struct pce_svg_series *sr = &c->series[s];

		for (size_t i = 0; i < sr->n; i++) {
			double ax = pixel(x, sr->x[i]), ay = pixel(y, sr->y[i]);
			double bx = i + 1 < sr->n ? pixel(x, sr->x[i + 1]) : ax;
			double by = i + 1 < sr->n ? pixel(y, sr->y[i + 1]) : ay;
			int steps = 1 + (int)(hypot(bx - ax, by - ay) / 4);

			for (int k = 0; k < steps; k++) {
				double px = ax + (bx - ax) * k / steps, py = ay + (by - ay) * k / steps;

				cost += px >= b->x0 && px <= b->x1 && py >= b->y0 && py <= b->y1;
			}
		}
	}
	return cost;
}

static void legend(FILE *out, const struct pce_svg_chart *c, const struct axis *x,
		   const struct axis *y, const struct box *plot, const struct box *labels,
		   size_t n_labels)
{
	size_t longest = 0;
	double w, h, best = INFINITY;
	struct box b = {0};

	if (!c->n_series)
		return;
	for (size_t s = 0; s < c->n_series; s++) {
		size_t len = strlen(c->series[s].name ? c->series[s].name : "");
		longest = len > longest ? len : longest;
	}
	w = 44 + 7.8 * (double)longest; /* 13 px sans-serif: under 8 pixels a character */
	h = 10 + 20 * (double)c->n_series;
	/* the four corners, in enum pce_svg_corner's order, then half-way
	 * down the left and the right edge */
	for (int k = 0; k < 6; k++) {
		int right = k % 2, row = k < 2 ? 0 : k < 4 ? 2 : 1; /* top, middle, bottom */
		struct box at;
		double cost;

		if (c->legend != PCE_SVG_AUTO && (int)c->legend != k)
			continue;
		at.x0 = right ? plot->x1 - w - 10 : plot->x0 + 10;
		at.y0 = plot->y0 + 10 + (plot->y1 - plot->y0 - h - 20) * row / 2;
		at.x1 = at.x0 + w;
		at.y1 = at.y0 + h;
		cost = c->legend == PCE_SVG_AUTO ? hidden(c, x, y, &at, labels, n_labels) : 0;
		if (cost < best) {
			best = cost;
			b = at;
		}
	}
	fprintf(out,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#ffffff\" "
		"fill-opacity=\"0.9\" stroke=\"#bbbbbb\"/>\n",
		b.x0, b.y0, w, h);
	for (size_t s = 0; s < c->n_series; s++) {
		double yy = b.y0 + 15 + 20 * (double)s;

		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"",
			b.x0 + 6, yy, b.x0 + 34, yy, palette[s]);
		stroke(out, s);
		fputs("/>\n", out);
		fprintf(out, "<g fill=\"%s\" stroke=\"%s\">", palette[s], palette[s]);
		marker(out, s, b.x0 + 20, yy);
		fputs("</path></g>\n", out);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" dy=\"0.35em\">", b.x0 + 38, yy);
		text(out, c->series[s].name);
		fputs("</text>\n", out);
	}
}

int pce_svg_write(FILE *out, const struct pce_svg_chart *c)
{
	struct pce_svg_ticks one_row = {NULL, 1, c ? c->x_format : PCE_SVG_NUMBER};
	struct axis x = {0}, y = {0};
	const struct pce_svg_ticks *rows = c ? c->x_rows : NULL;
	size_t n_rows = c ? c->n_x_rows : 0;
	double W, H, top, x0, x1, y0, y1;
	struct box labels[MAX_LINES];
	size_t n_labels = 0;
	char label[64];

	if (!out || !valid(c, &x, &y))
		return PCE_SVG_EINVAL;
	W = c->width ? c->width : 800;
	H = c->height ? c->height : 500;
	top = c->title ? (c->subtitle ? 62 : 44) : 20;
	x0 = 78;
	x1 = W - 24;
	y0 = top;
	if (!n_rows) {
		rows = &one_row;
		n_rows = 1;
	}
	y1 = H - 56 - ROW_HEIGHT * (double)(n_rows - 1);
	if (x1 - x0 < 50 || y1 - y0 < 50)
		return PCE_SVG_EINVAL;
	x.log = c->log_x;
	x.format = c->x_format;
	y.log = c->log_y;
	y.format = c->y_format;
	layout(&x, 0);
	layout(&y, c->y_fixed);
	x.p0 = x0;
	x.p1 = x1;
	y.p0 = y1; /* y grows upwards */
	y.p1 = y0;

	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"13\">\n",
		W, H, W, H);
	fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
	fprintf(out, "<clipPath id=\"plot\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		     "height=\"%.1f\"/></clipPath>\n",
		x0, y0, x1 - x0, y1 - y0);
	if (c->title) {
		fprintf(out, "<text x=\"%.1f\" y=\"26\" text-anchor=\"middle\" font-size=\"16\" "
			     "font-weight=\"bold\">",
			W / 2);
		text(out, c->title);
		fputs("</text>\n", out);
	}
	if (c->title && c->subtitle) {
		/* About 6.6 pixels a character at 12 px: squeeze a longer line. */
		double width = 6.6 * (double)strlen(c->subtitle);

		fprintf(out, "<text x=\"%.1f\" y=\"45\" text-anchor=\"middle\" font-size=\"12\" "
			     "fill=\"#555555\"",
			W / 2);
		if (width > W - 24)
			fprintf(out, " textLength=\"%.0f\" lengthAdjust=\"spacingAndGlyphs\"", W - 24);
		fputs(">", out);
		text(out, c->subtitle);
		fputs("</text>\n", out);
	}
	/* grid and tick labels */
	for (int i = 0; i < x.n_ticks; i++) {
		double px = pixel(&x, x.tick[i]);

		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
			     "stroke=\"#e6e6e6\"/>\n",
			px, y0, px, y1);
		for (size_t r = 0; r < n_rows; r++) {
			/* about 7.5 pixels a character at 13 px: kept inside the image */
			double half, tx = px;

			format(label, sizeof(label), x.tick[i] * rows[r].scale, rows[r].format,
			       x.step * rows[r].scale);
			half = 3.75 * (double)strlen(label);
			tx = fmin(fmax(tx, half + 2), W - half - 2);
			fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\"%s>%s</text>\n",
				tx, y1 + 18 + ROW_HEIGHT * (double)r, r ? " fill=\"#555555\"" : "",
				label);
		}
	}
	for (size_t r = 0; r < n_rows; r++) {
		if (!rows[r].name)
			continue;
		/* at the left edge: a tick label centred on the frame's corner
		 * may reach well into the margin */
		fprintf(out, "<text x=\"6\" y=\"%.1f\" font-size=\"12\" fill=\"#555555\">",
			y1 + 18 + ROW_HEIGHT * (double)r);
		text(out, rows[r].name);
		fputs("</text>\n", out);
	}
	for (int i = 0; i < y.n_ticks; i++) {
		double py = pixel(&y, y.tick[i]);

		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
			     "stroke=\"#e6e6e6\"/>\n",
			x0, py, x1, py);
		format(label, sizeof(label), y.tick[i], y.format, y.step);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
			     "dy=\"0.35em\">%s</text>\n",
			x0 - 7, py, label);
	}
	fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
		     "stroke=\"#333333\"/>\n",
		x0, y0, x1 - x0, y1 - y0);
	if (c->x_label) {
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (x0 + x1) / 2,
			H - 14);
		text(out, c->x_label);
		fputs("</text>\n", out);
	}
	if (c->y_label) {
		fprintf(out, "<text transform=\"translate(18 %.1f) rotate(-90)\" "
			     "text-anchor=\"middle\">",
			(y0 + y1) / 2);
		text(out, c->y_label);
		fputs("</text>\n", out);
	}
	/* reference lines, then their labels, which no line may cross */
	for (size_t i = 0; i < c->n_lines; i++) {
		const struct pce_svg_line *l = &c->lines[i];
		int vertical = l->direction == PCE_SVG_VERTICAL;
		double p = vertical ? pixel(&x, l->at) : pixel(&y, l->at);

		if (vertical ? p < x0 - 0.5 || p > x1 + 0.5 : p < y0 - 0.5 || p > y1 + 0.5)
			continue;
		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555555\" "
			     "stroke-width=\"1.5\" stroke-dasharray=\"7 5\"/>\n",
			vertical ? p : x0, vertical ? y0 : p, vertical ? p : x1, vertical ? y1 : p);
	}
	for (size_t i = 0; i < c->n_lines; i++) {
		const struct pce_svg_line *l = &c->lines[i];
		int vertical = l->direction == PCE_SVG_VERTICAL, end = 1;
		double p = vertical ? pixel(&x, l->at) : pixel(&y, l->at), tx, ty;
		/* about 6.6 pixels a character at 12 px */
		double w = 6.6 * (double)(l->label ? strlen(l->label) : 0);

		if (!l->label ||
		    (vertical ? p < x0 - 0.5 || p > x1 + 0.5 : p < y0 - 0.5 || p > y1 + 0.5))
			continue;
		if (vertical) {
			/* at its foot, on the side with more room */
			end = p > (x0 + x1) / 2;
			tx = end ? p - 6 : p + 6;
			ty = y1 - 8;
		} else {
			/* above the line, or below it when the frame is too close */
			tx = x1 - 6;
			ty = p - 6 < y0 + 14 ? p + 16 : p - 6;
		}
		labels[n_labels++] = (struct box){end ? tx - w : tx, ty - 12, end ? tx : tx + w, ty + 3};
		/* on a white halo, for the grid and the series' lines */
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"12\" "
			     "fill=\"#555555\" stroke=\"#ffffff\" stroke-width=\"4\" "
			     "stroke-linejoin=\"round\" paint-order=\"stroke\">",
			tx, ty, end ? "end" : "start");
		text(out, l->label);
		fputs("</text>\n", out);
	}
	/* series */
	for (size_t s = 0; s < c->n_series; s++) {
		const struct pce_svg_series *sr = &c->series[s];

		fprintf(out, "<g clip-path=\"url(#plot)\" stroke=\"%s\" fill=\"%s\">\n", palette[s],
			palette[s]);
		if (sr->n > 1) {
			fputs("<polyline fill=\"none\"", out);
			stroke(out, s);
			fputs(" points=\"", out);
			for (size_t i = 0; i < sr->n; i++)
				fprintf(out, "%s%.1f,%.1f", i ? " " : "", pixel(&x, sr->x[i]),
					pixel(&y, sr->y[i]));
			fputs("\"/>\n", out);
		}
		for (size_t i = 0; i < sr->n; i++) {
			char vx[64], vy[64];

			format(vx, sizeof(vx), sr->x[i], x.format, 0);
			format(vy, sizeof(vy), sr->y[i], y.format, 0);
			marker(out, s, pixel(&x, sr->x[i]), pixel(&y, sr->y[i]));
			fputs("<title>", out);
			text(out, sr->name);
			fprintf(out, ": %s, %s</title></path>\n", vx, vy);
		}
		fputs("</g>\n", out);
	}
	legend(out, c, &x, &y, &(struct box){x0, y0, x1, y1}, labels, n_labels);
	fputs("</svg>\n", out);
	return ferror(out) ? PCE_SVG_EIO : 0;
}
