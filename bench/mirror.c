/*
 * mirror.c - copies of matched bytes for the memcmp control (mirror.h).
 */
#include "mirror.h"

#include <stdlib.h>
#include <string.h>

int (*volatile mirror_memcmp)(const void *, const void *, size_t) = memcmp;

/* qsort context: query indexes ordered by the address of their array. */
static const struct workload *sort_wl;

static int by_array(const void *a, const void *b)
{
	const uint32_t *x = sort_wl->queries[*(const size_t *)a].tok;
	const uint32_t *y = sort_wl->queries[*(const size_t *)b].tok;

	return x < y ? -1 : x > y;
}

int mirror_build(struct mirror *m, const struct workload *wl, const size_t *matched)
{
	size_t n = wl->nqueries, *order = malloc(n * sizeof(size_t));

	memset(m, 0, sizeof(*m));
	m->tok = calloc(n, sizeof(*m->tok));
	m->bytes = calloc(n, sizeof(*m->bytes));
	m->copies = calloc(n, sizeof(*m->copies));
	if (!order || !m->tok || !m->bytes || !m->copies) {
		free(order);
		mirror_free(m);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	sort_wl = wl;
	qsort(order, n, sizeof(size_t), by_array);
	for (size_t i = 0; i < n;) {
		const uint32_t *arr = wl->queries[order[i]].tok;
		size_t j = i, longest = 0;
		uint32_t *copy;

		while (j < n && wl->queries[order[j]].tok == arr) {
			if (matched[order[j]] > longest)
				longest = matched[order[j]];
			j++;
		}
		copy = malloc((longest ? longest : 1) * sizeof(uint32_t));
		if (!copy) {
			free(order);
			mirror_free(m);
			return -1;
		}
		memcpy(copy, arr, longest * sizeof(uint32_t));
		m->copies[m->ncopies++] = copy;
		for (; i < j; i++) {
			m->tok[order[i]] = copy;
			m->bytes[order[i]] = (uint32_t)(matched[order[i]] * sizeof(uint32_t));
		}
	}
	free(order);
	return 0;
}

int mirror_filter(const struct workload *wl, const struct mirror *m, size_t min_len,
		  struct workload *out, struct mirror *mout)
{
	size_t n = 0;

	*out = *wl;
	out->arena.head = NULL; /* the view owns no tokens */
	memset(mout, 0, sizeof(*mout));
	out->queries = calloc(wl->nqueries, sizeof(struct seq));
	mout->tok = calloc(wl->nqueries, sizeof(*mout->tok));
	mout->bytes = calloc(wl->nqueries, sizeof(*mout->bytes));
	if (!out->queries || !mout->tok || !mout->bytes) {
		mirror_view_free(out, mout);
		return -1;
	}
	for (size_t i = 0; i < wl->nqueries; i++) {
		if (wl->queries[i].len < min_len || m->bytes[i] == 0)
			continue;
		out->queries[n] = wl->queries[i];
		mout->tok[n] = m->tok[i];
		mout->bytes[n] = m->bytes[i];
		n++;
	}
	out->nqueries = n;
	return 0;
}

void mirror_view_free(struct workload *view, struct mirror *mview)
{
	free(view->queries);
	view->queries = NULL;
	free(mview->tok);
	free(mview->bytes);
	memset(mview, 0, sizeof(*mview));
}

void mirror_free(struct mirror *m)
{
	for (size_t i = 0; i < m->ncopies; i++)
		free(m->copies[i]);
	free(m->copies);
	free(m->tok);
	free(m->bytes);
	memset(m, 0, sizeof(*m));
}
