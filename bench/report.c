/*
 * report.c - sections, paragraphs and tables of report.h, kept in order as
 * a list of items, printed as text when done and as Markdown at the end.
 */
#include "report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "timing.h"

#define MAX_COLS 16

enum item_kind { ITEM_SECTION, ITEM_TEXT, ITEM_TABLE, ITEM_IMAGE };

struct row {
	char *cell[MAX_COLS];
};

struct table {
	char *title;
	int ncols;
	char *head[MAX_COLS];
	struct row *rows;
	size_t nrows, cap;
	int dropped; /* out of memory: the table is incomplete, never printed */
};

struct item {
	enum item_kind kind;
	char *text;      /* section title, paragraph, image file */
	char *caption;   /* image */
	struct table *table;
};

struct goal {
	char *goal, *measured, *verdict;
};

struct report {
	struct item *items;
	size_t nitems, cap;
	struct goal *goals;
	size_t ngoals, goal_cap;
	struct table dropped; /* returned when a table cannot be allocated */
	uint64_t start_ns;    /* sections print the time since */
};

static __attribute__((format(printf, 1, 0))) char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

/* Split @s (modified) at '|' into at most MAX_COLS cells, duplicated. */
static int split_cells(char *s, char **cell)
{
	int n = 0;

	for (char *p = s; n < MAX_COLS; n++) {
		char *bar = strchr(p, '|');
		if (bar)
			*bar = '\0';
		cell[n] = strdup(p);
		if (!bar) {
			n++;
			break;
		}
		p = bar + 1;
	}
	return n;
}

static struct item *add_item(struct report *r, enum item_kind kind)
{
	if (r->nitems == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct item *it = realloc(r->items, cap * sizeof(*it));
		if (!it)
			return NULL;
		r->items = it;
		r->cap = cap;
	}
	memset(&r->items[r->nitems], 0, sizeof(struct item));
	r->items[r->nitems].kind = kind;
	return &r->items[r->nitems++];
}

struct report *report_new(void)
{
	struct report *r = calloc(1, sizeof(*r));

	if (r) {
		r->dropped.dropped = 1;
		r->start_ns = now_ns();
	}
	return r;
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows; i++)
		for (int c = 0; c < t->ncols; c++)
			free(t->rows[i].cell[c]);
	for (int c = 0; c < t->ncols; c++)
		free(t->head[c]);
	free(t->rows);
	free(t->title);
	free(t);
}

void report_free(struct report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nitems; i++) {
		free(r->items[i].text);
		free(r->items[i].caption);
		if (r->items[i].table)
			table_free(r->items[i].table);
	}
	for (size_t i = 0; i < r->ngoals; i++) {
		free(r->goals[i].goal);
		free(r->goals[i].measured);
		free(r->goals[i].verdict);
	}
	free(r->items);
	free(r->goals);
	free(r);
}

void report_section(struct report *r, const char *title, const char *text)
{
	struct item *it = add_item(r, ITEM_SECTION);

	if (it)
		it->text = strdup(title);
	printf("\n== %s == (at %.0f s)\n", title, (double)(now_ns() - r->start_ns) / 1e9);
	if (text)
		report_text(r, "%s", text);
}

void report_text(struct report *r, const char *fmt, ...)
{
	struct item *it = add_item(r, ITEM_TEXT);
	va_list ap;

	va_start(ap, fmt);
	if (it)
		it->text = vformat(fmt, ap);
	va_end(ap);
}

struct table *report_table(struct report *r, const char *title, const char *headers)
{
	struct table *t = calloc(1, sizeof(*t));
	struct item *it;
	char *h = strdup(headers);

	if (!t || !h || !(it = add_item(r, ITEM_TABLE))) {
		free(t);
		free(h);
		return &r->dropped;
	}
	t->title = strdup(title);
	t->ncols = split_cells(h, t->head);
	free(h);
	it->table = t;
	return t;
}

void table_row(struct table *t, const char *fmt, ...)
{
	struct row *row;
	va_list ap;
	char *s;
	int n;

	if (t->dropped)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct row *rows = realloc(t->rows, cap * sizeof(*rows));
		if (!rows) {
			t->dropped = 1;
			return;
		}
		t->rows = rows;
		t->cap = cap;
	}
	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	if (!s) {
		t->dropped = 1;
		return;
	}
	row = &t->rows[t->nrows++];
	memset(row, 0, sizeof(*row));
	n = split_cells(s, row->cell);
	free(s);
	for (int c = n; c < t->ncols; c++)
		row->cell[c] = strdup("");
}

static const char *cell_or_empty(const char *s)
{
	return s ? s : "";
}

void table_done(struct table *t)
{
	size_t width[MAX_COLS];

	if (t->dropped)
		return;
	for (int c = 0; c < t->ncols; c++) {
		width[c] = strlen(cell_or_empty(t->head[c]));
		for (size_t i = 0; i < t->nrows; i++) {
			size_t w = strlen(cell_or_empty(t->rows[i].cell[c]));
			if (w > width[c])
				width[c] = w;
		}
	}
	printf("\n%s\n", t->title);
	for (int c = 0; c < t->ncols; c++)
		printf("  %-*s", (int)width[c], cell_or_empty(t->head[c]));
	printf("\n");
	for (size_t i = 0; i < t->nrows; i++) {
		for (int c = 0; c < t->ncols; c++)
			printf("  %-*s", (int)width[c], cell_or_empty(t->rows[i].cell[c]));
		printf("\n");
	}
	fflush(stdout);
}

void report_goal(struct report *r, const char *goal, const char *measured, const char *verdict)
{
	if (r->ngoals == r->goal_cap) {
		size_t cap = r->goal_cap ? 2 * r->goal_cap : 16;
		struct goal *g = realloc(r->goals, cap * sizeof(*g));
		if (!g)
			return;
		r->goals = g;
		r->goal_cap = cap;
	}
	r->goals[r->ngoals++] = (struct goal){strdup(goal), strdup(measured), strdup(verdict)};
	printf("goal: %s: %s: %s\n", goal, measured, verdict);
}

void report_image(struct report *r, const char *file, const char *caption)
{
	struct item *it = add_item(r, ITEM_IMAGE);

	if (it) {
		it->text = strdup(file);
		it->caption = strdup(caption);
	}
}

static void md_table(const struct table *t, FILE *out)
{
	fprintf(out, "**%s**\n\n|", cell_or_empty(t->title));
	for (int c = 0; c < t->ncols; c++)
		fprintf(out, " %s |", cell_or_empty(t->head[c]));
	fprintf(out, "\n|");
	for (int c = 0; c < t->ncols; c++)
		fprintf(out, "%s|", c ? "---:" : "---");
	fprintf(out, "\n");
	for (size_t i = 0; i < t->nrows; i++) {
		fprintf(out, "|");
		for (int c = 0; c < t->ncols; c++)
			fprintf(out, " %s |", cell_or_empty(t->rows[i].cell[c]));
		fprintf(out, "\n");
	}
	fprintf(out, "\n");
}

int report_write_markdown(const struct report *r, FILE *out, const char *preamble)
{
	if (preamble)
		fputs(preamble, out);
	if (r->ngoals) {
		fprintf(out, "## Goals\n\n| goal | measured | verdict |\n|---|---|---|\n");
		for (size_t i = 0; i < r->ngoals; i++)
			fprintf(out, "| %s | %s | %s |\n", cell_or_empty(r->goals[i].goal),
				cell_or_empty(r->goals[i].measured),
				cell_or_empty(r->goals[i].verdict));
		fprintf(out, "\n");
	}
	for (size_t i = 0; i < r->nitems; i++) {
		const struct item *it = &r->items[i];
		switch (it->kind) {
		case ITEM_SECTION:
			fprintf(out, "## %s\n\n", cell_or_empty(it->text));
			break;
		case ITEM_TEXT:
			fprintf(out, "%s\n\n", cell_or_empty(it->text));
			break;
		case ITEM_TABLE:
			if (!it->table->dropped)
				md_table(it->table, out);
			break;
		case ITEM_IMAGE:
			fprintf(out, "![%s](%s)\n\n", cell_or_empty(it->caption),
				cell_or_empty(it->text));
			break;
		}
	}
	return ferror(out) ? -1 : 0;
}
