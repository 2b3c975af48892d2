/*
 * router_model.h - a reference model of router holdings for the tests
 * (test_router.c) and the fuzz target (fuzz/fuzz_router.c): every held
 * whole-block prefix, explicitly, with its owner, tier and expiry, and brute
 * force over them for every question.  Deliberately naive.
 */
#ifndef PCE_TEST_ROUTER_MODEL_H
#define PCE_TEST_ROUTER_MODEL_H

#include <stdint.h>
#include <string.h>

#include <pce/pce.h>

#define RM_OWNERS 6
#define RM_MAXLEN 12
#define RM_MAXH 4096

struct rm_hold {
	uint32_t owner;
	uint32_t tier;
	uint64_t ns;
	uint64_t expires;
	size_t len;
	uint32_t tok[RM_MAXLEN];
};

struct rm_model {
	struct rm_hold h[RM_MAXH];
	size_t n;
	uint32_t bs;
};

static inline struct rm_hold *rm_find(struct rm_model *m, uint32_t owner, uint64_t ns,
				      const uint32_t *q, size_t len)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->h[i].owner == owner && m->h[i].ns == ns && m->h[i].len == len &&
		    !memcmp(m->h[i].tok, q, len * sizeof(uint32_t)))
			return &m->h[i];
	return NULL;
}

/* add(): every whole-block prefix; 0, or -1 if the model is full. */
static inline int rm_add(struct rm_model *m, uint32_t owner, uint64_t ns, const uint32_t *q,
			 size_t len, uint32_t tier, uint64_t expires, int retier)
{
	len -= len % m->bs;
	for (size_t l = m->bs; l <= len; l += m->bs) {
		struct rm_hold *h = rm_find(m, owner, ns, q, l);

		if (h) {
			if (retier)
				h->tier = tier;
			if (expires > h->expires)
				h->expires = expires;
			continue;
		}
		if (m->n == RM_MAXH)
			return -1;
		h = &m->h[m->n++];
		h->owner = owner;
		h->ns = ns;
		h->tier = tier;
		h->expires = expires;
		h->len = l;
		memcpy(h->tok, q, l * sizeof(uint32_t));
	}
	return 0;
}

/* remove(): what pce_router_remove() returns. */
static inline int rm_remove(struct rm_model *m, uint32_t owner, uint64_t ns, const uint32_t *q,
			    size_t len)
{
	len -= len % m->bs;
	if (!rm_find(m, owner, ns, q, len))
		return PCE_ENOENT;
	for (size_t i = 0; i < m->n;) {
		struct rm_hold *h = &m->h[i];
		if (h->owner == owner && h->ns == ns && h->len >= len &&
		    !memcmp(h->tok, q, len * sizeof(uint32_t)))
			m->h[i] = m->h[--m->n];
		else
			i++;
	}
	return 0;
}

/* Drop holdings of @owner (@by_owner) or of namespace @ns, or expired at
 * @now (@by_owner < 0).  Returns how many (owner, block) pairs went. */
static inline uint64_t rm_drop(struct rm_model *m, int by_owner, uint32_t owner, uint64_t ns,
			       uint64_t now)
{
	uint64_t gone = 0;

	for (size_t i = 0; i < m->n;) {
		struct rm_hold *h = &m->h[i];
		int drop = by_owner > 0 ? h->owner == owner
					: by_owner == 0 ? h->ns == ns : h->expires <= now;
		if (drop) {
			m->h[i] = m->h[--m->n];
			gone++;
		} else {
			i++;
		}
	}
	return gone;
}

/* Each owner's longest live holding of a prefix of @q: blocks x bs
 * tokens, and its tier. */
static inline void rm_match(const struct rm_model *m, uint64_t ns, const uint32_t *q, size_t len,
			    uint64_t now, size_t best[RM_OWNERS], uint32_t tier[RM_OWNERS])
{
	memset(best, 0, RM_OWNERS * sizeof(size_t));
	for (size_t i = 0; i < m->n; i++) {
		const struct rm_hold *h = &m->h[i];
		if (h->ns == ns && h->len <= len && h->expires > now && h->len > best[h->owner] &&
		    !memcmp(h->tok, q, h->len * sizeof(uint32_t))) {
			best[h->owner] = h->len;
			tier[h->owner] = h->tier;
		}
	}
}

/*
 * rm_check - Is @out[0..@n), the router's answer for a match with room for
 * @k, what the model allows?  Each owner once with its longest live
 * holding and that holding's tier, score = tokens x @weight[tier], best
 * first, and the k longest selected (as a multiset of lengths).
 * Return: NULL, or what is wrong.
 */
static inline const char *rm_check(const struct rm_model *m, uint64_t ns, const uint32_t *q,
				   size_t len, uint64_t now, const double *weight,
				   const struct pce_overlap *out, size_t n, size_t k)
{
	size_t best[RM_OWNERS], want[RM_OWNERS], got[RM_OWNERS + 1], nw = 0;
	uint32_t tier[RM_OWNERS];

	rm_match(m, ns, q, len, now, best, tier);
	for (uint32_t o = 0; o < RM_OWNERS; o++)
		if (best[o])
			want[nw++] = best[o];
	if (n != (k < nw ? k : nw))
		return "wrong number of owners";
	for (size_t i = 0; i < n; i++) {
		uint32_t o = out[i].owner;

		if (o >= RM_OWNERS || out[i].tokens != best[o])
			return "wrong owner or matched tokens";
		if (out[i].tier != tier[o])
			return "wrong tier";
		if (out[i].score != (double)best[o] * weight[tier[o]])
			return "wrong score";
		if (i > 0 && out[i - 1].score < out[i].score)
			return "not best first";
		for (size_t j = 0; j < i; j++)
			if (out[j].owner == o)
				return "owner reported twice";
		got[i] = out[i].tokens;
	}
	/* The k longest, as a multiset: sort both descending. */
	for (size_t i = 0; i < nw; i++)
		for (size_t j = i + 1; j < nw; j++)
			if (want[j] > want[i]) {
				size_t x = want[i];
				want[i] = want[j];
				want[j] = x;
			}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (got[j] > got[i]) {
				size_t x = got[i];
				got[i] = got[j];
				got[j] = x;
			}
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i])
			return "not the longest holdings";
	return NULL;
}

#endif /* PCE_TEST_ROUTER_MODEL_H */
