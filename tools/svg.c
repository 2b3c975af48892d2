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
 */
#include <math.h>
#include <string.h>

#include "svg.h"
#include "utf8.h"

#define MAX_SERIES 8
#define MAX_TICKS 64

static const char *const palette[MAX_SERIES] = {
	"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999"};

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
 * diamond, triangle, in turn, so overlapping series stay apart. */
static void marker(FILE *out, size_t s, double px, double py)
{
	switch (s % 4) {
	case 0:
		fprintf(out, "<path d=\"M%.1f,%.1f a3.5,3.5 0 1,0 7,0 a3.5,3.5 0 1,0 -7,0\">",
			px - 3.5, py);
		break;
	case 1:
		fprintf(out, "<path d=\"M%.1f,%.1f h6 v6 h-6 z\">", px - 3, py - 3);
		break;
	case 2:
		fprintf(out, "<path d=\"M%.1f,%.1f l4.5,4.5 l-4.5,4.5 l-4.5,-4.5 z\">", px, py - 4.5);
		break;
	default:
		fprintf(out, "<path d=\"M%.1f,%.1f l4.5,8 h-9 z\">", px, py - 5);
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
	    (c->n_lines && !c->lines))
		return 0;
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
		if (!isfinite(c->lines[i].y) || (c->log_y && c->lines[i].y <= 0))
			return 0;
		y->lo = fmin(y->lo, c->lines[i].y);
		y->hi = fmax(y->hi, c->lines[i].y);
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

static void legend(FILE *out, const struct pce_svg_chart *c, double x0, double x1, double y0,
		   double y1)
{
	size_t longest = 0;
	double w, h, lx, ly;

	if (!c->n_series)
		return;
	for (size_t s = 0; s < c->n_series; s++) {
		size_t len = strlen(c->series[s].name ? c->series[s].name : "");
		longest = len > longest ? len : longest;
	}
	w = 44 + 7.2 * (double)longest;
	h = 10 + 20 * (double)c->n_series;
	lx = (c->legend == PCE_SVG_TOP_RIGHT || c->legend == PCE_SVG_BOTTOM_RIGHT) ? x1 - w - 10
										  : x0 + 10;
	ly = (c->legend == PCE_SVG_BOTTOM_LEFT || c->legend == PCE_SVG_BOTTOM_RIGHT) ? y1 - h - 10
										    : y0 + 10;
	fprintf(out,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#ffffff\" "
		"fill-opacity=\"0.9\" stroke=\"#bbbbbb\"/>\n",
		lx, ly, w, h);
	for (size_t s = 0; s < c->n_series; s++) {
		double yy = ly + 15 + 20 * (double)s;

		fprintf(out,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
			"stroke-width=\"2.5\"/>\n",
			lx + 8, yy, lx + 32, yy, palette[s]);
		fprintf(out, "<g fill=\"%s\">", palette[s]);
		marker(out, s, lx + 20, yy);
		fputs("</path></g>\n", out);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" dy=\"0.35em\">", lx + 38, yy);
		text(out, c->series[s].name);
		fputs("</text>\n", out);
	}
}

int pce_svg_write(FILE *out, const struct pce_svg_chart *c)
{
	struct axis x = {0}, y = {0};
	double W, H, top, x0, x1, y0, y1;
	char label[64];

	if (!out || !valid(c, &x, &y))
		return PCE_SVG_EINVAL;
	W = c->width ? c->width : 800;
	H = c->height ? c->height : 500;
	top = c->title ? (c->subtitle ? 62 : 44) : 20;
	x0 = 78;
	x1 = W - 24;
	y0 = top;
	y1 = H - 56;
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
		format(label, sizeof(label), x.tick[i], x.format, x.step);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", px,
			y1 + 18, label);
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
	/* reference lines */
	for (size_t i = 0; i < c->n_lines; i++) {
		double py = pixel(&y, c->lines[i].y);

		if (py < y0 - 0.5 || py > y1 + 0.5)
			continue;
		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555555\" "
			     "stroke-width=\"1.5\" stroke-dasharray=\"7 5\"/>\n",
			x0, py, x1, py);
		if (c->lines[i].label) {
			/* above the line, or below it when the frame is too close */
			double ty = py - 6 < y0 + 14 ? py + 16 : py - 6;

			fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"12\" "
				     "fill=\"#555555\">",
				x1 - 6, ty);
			text(out, c->lines[i].label);
			fputs("</text>\n", out);
		}
	}
	/* series */
	for (size_t s = 0; s < c->n_series; s++) {
		const struct pce_svg_series *sr = &c->series[s];

		fprintf(out, "<g clip-path=\"url(#plot)\" stroke=\"%s\" fill=\"%s\">\n", palette[s],
			palette[s]);
		if (sr->n > 1) {
			fputs("<polyline fill=\"none\" stroke-width=\"2.5\" points=\"", out);
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
	legend(out, c, x0, x1, y0, y1);
	fputs("</svg>\n", out);
	return ferror(out) ? PCE_SVG_EIO : 0;
}
