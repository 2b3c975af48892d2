/*
 * report.h - the human side of the results: sections, paragraphs and
 * tables, printed as aligned text on stdout while the suite runs, and
 * written as Markdown (docs/benchmarks.md) at the end, after a summary of
 * the goals.  The machine-readable side is jsonl.h.
 *
 * Cells are strings: a row is given as one printf format whose expansion
 * separates cells with '|', e.g. table_row(t, "%s|%u|%.1f", name, n, x).
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdio.h>

struct report;
struct table;

/* Return: NULL if out of memory. */
struct report *report_new(void);
void report_free(struct report *r);

/* A new section: "## title" and, if @text is not NULL, a paragraph. */
void report_section(struct report *r, const char *title, const char *text);
/* A paragraph in the current section. */
void report_text(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A table in the current section, with @ncols headers separated by '|'.
 * Never NULL: on out of memory the table is silently dropped. */
struct table *report_table(struct report *r, const char *title, const char *headers);
void table_row(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the finished table on stdout. */
void table_done(struct table *t);

/* A line of the goal summary. */
void report_goal(struct report *r, const char *goal, const char *measured, const char *verdict);

/* Embed the plot @file (a path relative to the Markdown file) after the
 * current section's last table, with @caption. */
void report_image(struct report *r, const char *file, const char *caption);

/* Markdown: @preamble (may be NULL), the goal summary, the sections. */
int report_write_markdown(const struct report *r, FILE *out, const char *preamble);

#endif /* BENCH_REPORT_H */
