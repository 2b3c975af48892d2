/*
 * router_match.c - pce_router_match(): the router's wait-free read path.
 *
 * Holdings are prefix-closed, so owner sets only shrink down a path (R2):
 * the owners of the deepest node the query reaches hold the most of it, and
 * the owners of each node above that are not in the set below it hold
 * exactly that node's depth.  So:
 *
 *   1. Walk down (one table probe and one edge compare per node, as a
 *      lookup does), noting each node's set, its matched tokens (its depth,
 *      or where the query left its edge, down to whole blocks; a node whose
 *      matched blocks all end above its edge is left out) and whether
 *      the node below it has a set of the same size: then both have the
 *      same owners (R2).
 *   2. Climb, deepest first.  At each node, report the live owners of its
 *      set that are not live in the set below it, until k are reported.
 *      The "not below" test is one probe of the set below, O(1).  A node
 *      whose set has the size of the one below, when nothing below it had
 *      expired, has no owner to report: it is passed in O(1), so the
 *      nodes that cost more than O(1) are the change points, where owners'
 *      holdings end.
 *
 * Cost: the walk is O(len); the climb costs O(1) per node plus, at each
 * change point it reaches, the owners it reports, those it skips because
 * they were reported below (at most the number reported so far) or have
 * expired, and the empty slots of the table (a constant factor: sets are
 * at least 3/8 full after growing).  A top-k match stops at k.
 *
 * The nodes are kept in a ring of RING on the stack (no allocation): the
 * deepest RING of them.  A climb that needs shallower ones walks again from
 * the root for the next RING above the shallowest kept (a query reaching
 * more than RING nodes, whose deepest owners are fewer than k).
 *
 * Concurrency.  Each set is read once, at one instant, by the walk; the
 * "not below" test probes the same set instance the walk read.  An owner
 * found there live and unexpired was reportable from that set (or deeper),
 * so it is skipped; one found expired (the clock is read once per match)
 * was not reported below, so it is reported here if live here.  A change
 * racing the walk can make the climb meet an owner twice: a remove that
 * turned its slot below into a tombstone after the walk read the set, or
 * an add that reached the set above before the walk read it and the set
 * below after.  The output is therefore deduplicated (each owner once,
 * with its longest holding), so such a match may report fewer than k.  An
 * owner whose holding changes during the match may be missing; each owner
 * reported held what is reported at the instant its set was read (or, if
 * it expired since, until then).  The clock is read at most once, and only
 * if a set holds a TTL.
 *
 * Order.  The output is selected by matched tokens (climb order), then
 * deduplicated and sorted in place by score: no allocation; O(n log n)
 * heapsorts, or, up to SMALL_OUT owners, a scan and an insertion sort.
 */
#include "rcu.h"
#include "router_core.h"
#include "thread.h"
#include "trie.h"

#define RING 128u
/* Outputs up to this size are deduplicated and sorted in O(n^2) steps that
 * beat a heapsort's at this size (no calls, nearly sorted input). */
#define SMALL_OUT 16u

struct cpoint {
	const struct pce_ctable *set;
	size_t tokens;      /* matched tokens of its owners (whole blocks, > 0) */
	size_t depth;       /* node depth: the re-walk's bound */
	int same_below;     /* the node below has a set of the same size */
};

struct ring {
	struct cpoint cp[RING];
	unsigned n;          /* kept (<= RING), deepest last at (start + n - 1) % RING */
	unsigned start;
	int dropped;         /* shallower change points fell out of the ring */
	size_t first_live;   /* holders of the query's first whole block */
};

static void ring_push(struct ring *g, const struct cpoint *cp)
{
	if (g->n == RING) {
		g->start = (g->start + 1) % RING;
		g->n--;
		g->dropped = 1;
	}
	g->cp[(g->start + g->n) % RING] = *cp;
	g->n++;
}

/* Walk @q down the trie of @root, recording the change points of depth
 * below @bound (SIZE_MAX: all). */
static void collect_rcu(const struct pce_router *r, const struct pce_node *root,
			const uint32_t *q, size_t len, size_t bound, struct ring *g)
{
	const struct pce_node *node = root;
	size_t pos = 0, prev_live = SIZE_MAX, bs = r->cfg.block_size;

	g->n = 0;
	g->start = 0;
	g->dropped = 0;
	while (pos < len) {
		struct pce_ctable *t = pce_rcu_deref(node->children);
		struct pce_node *c = t ? pce_ctable_find_rcu(t, q[pos]) : NULL;
		const struct pce_ctable *set;
		struct cpoint cp;
		size_t k, live;

		if (!c || c->depth >= bound)
			break;
		k = pce_common_prefix(c->tokens, q + pos, PCE_MIN((size_t)c->len, len - pos));
		pos += k;
		set = pce_rcu_deref(c->owners);
		cp.set = set;
		cp.tokens = pos / bs * bs;
		cp.depth = c->depth;
		cp.same_below = 0;
		live = pce_ctable_live_rcu(set);
		/* A node whose matched whole blocks all lie above its edge adds
		 * nobody: its owners are in its parent's set, and their last
		 * matched block (and its tier) is there. */
		if (cp.tokens > (size_t)(c->depth - c->len)) {
			if (bound == SIZE_MAX && g->first_live == 0)
				g->first_live = live;
			if (live == prev_live && g->n > 0)
				g->cp[(g->start + g->n - 1) % RING].same_below = 1;
			ring_push(g, &cp);
			prev_live = live;
		}
		if (k < c->len)
			break;
		node = c;
	}
}

static int live_at(const struct pce_router *r, uint64_t w, uint64_t *now)
{
	uint64_t at = pce_ow_expires(w);

	return at == PCE_NEVER || at > pce_now_once(r->core, now);
}

typedef int (*before_fn)(const struct pce_overlap *a, const struct pce_overlap *b);

/* a before b in the output? */
static int by_score(const struct pce_overlap *a, const struct pce_overlap *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	if (a->tokens != b->tokens)
		return a->tokens > b->tokens;
	return a->owner < b->owner;
}

/* a before b when looking for duplicates: by owner, longest first. */
static int by_owner(const struct pce_overlap *a, const struct pce_overlap *b)
{
	if (a->owner != b->owner)
		return a->owner < b->owner;
	return a->tokens > b->tokens;
}

static void sift(struct pce_overlap *v, size_t i, size_t n, before_fn before)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct pce_overlap tmp;

		if (l < n && before(&v[m], &v[l]))
			m = l;
		if (l + 1 < n && before(&v[m], &v[l + 1]))
			m = l + 1;
		if (m == i)
			return;
		tmp = v[i];
		v[i] = v[m];
		v[m] = tmp;
		i = m;
	}
}

/* Heapsort in @before order (a max-heap of "after" puts the last first). */
static void heapsort_output(struct pce_overlap *v, size_t n, before_fn before)
{
	for (size_t i = n / 2; i-- > 0;)
		sift(v, i, n, before);
	for (size_t end = n; end > 1; end--) {
		struct pce_overlap tmp = v[0];
		v[0] = v[end - 1];
		v[end - 1] = tmp;
		sift(v, 0, end - 1, before);
	}
}

/* Sort by score: by insertion up to SMALL_OUT (a gateway's top-k, which
 * the climb hands over nearly sorted already: by matched tokens). */
static void sort_by_score(struct pce_overlap *v, size_t n)
{
	if (n > SMALL_OUT) {
		heapsort_output(v, n, by_score);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct pce_overlap x;
		size_t j = i;

		if (!by_score(&v[i], &v[i - 1]))
			continue;
		x = v[i];
		do {
			v[j] = v[j - 1];
			j--;
		} while (j > 0 && by_score(&x, &v[j - 1]));
		v[j] = x;
	}
}

/* Keep each owner once, with its longest holding.  An owner appears twice
 * only when a change raced the walk (see Concurrency); the climb's own
 * tests rule out every other case.  The climb writes the output longest
 * first, so up to SMALL_OUT each owner's first entry is kept, the entries
 * kept being scanned only when the owner's bit in a 64-bit filter is set
 * already; larger outputs are sorted by owner, longest first. */
static size_t dedup_output(struct pce_overlap *v, size_t n)
{
	size_t m = 0;

	if (n <= SMALL_OUT) {
		uint64_t seen = 0;

		for (size_t i = 0; i < n; i++) {
			uint64_t bit = (uint64_t)1 << (v[i].owner & 63);
			size_t j = 0;

			if (seen & bit)
				while (j < m && v[j].owner != v[i].owner)
					j++;
			else
				j = m;
			if (j < m)
				continue;
			seen |= bit;
			if (m != i)
				v[m] = v[i];
			m++;
		}
		return m;
	}
	heapsort_output(v, n, by_owner);
	for (size_t i = 0; i < n; i++)
		if (m == 0 || v[m - 1].owner != v[i].owner)
			v[m++] = v[i];
	return m;
}

int pce_router_match(struct pce_router *r, uint64_t ns, const uint32_t *tokens, size_t len,
		     unsigned flags, struct pce_overlap *out, size_t k, size_t *n_out,
		     size_t *left_out)
{
	struct pce_thread *th;
	const struct pce_ctable *below = NULL;
	struct pce_node *root;
	struct ring g;
	uint64_t now = 0;
	size_t n = 0;
	int clean = 1; /* no owner seen so far had expired */

	if (n_out)
		*n_out = 0;
	if (left_out)
		*left_out = 0;
	if (!r || !n_out || (k > 0 && !out) || (len > 0 && !tokens) ||
	    (flags & ~PCE_ROUTER_MATCH_PEEK))
		return PCE_EINVAL;
	if (pce_cache_inherited(r->core))
		return PCE_EFORKED;
	if (len > PCE_MAX_TOKENS)
		return PCE_E2BIG;
	th = pce_thread_enter();
	if (!th)
		return PCE_ENOMEM;
	g.first_live = 0;
	g.n = 0;
	pce_rcu_read_lock();
	root = len ? pce_trie_root_rcu(pce_shard_of(r->core, ns, tokens[0]), ns) : NULL;
	if (root)
		collect_rcu(r, root, tokens, len, SIZE_MAX, &g);
	while (g.n > 0 && n < k) {
		const struct cpoint *cp = &g.cp[(g.start + g.n - 1) % RING];
		const struct pce_ctable *set = cp->set;
		size_t before_n = n, i;
		struct pce_node *w;

		if (cp->same_below && clean && below)
			goto next; /* the same owners as below, all reported there */
		pce_ctable_for_each(set, i, w) {
			uint32_t owner = (uint32_t)set->slot[i].key;
			uint64_t word = pce_ow_word(w);

			if (n == k)
				break;
			if (!live_at(r, word, &now)) {
				clean = 0;
				continue;
			}
			if (below) {
				struct pce_node *b = pce_ctable_probe_rcu(below, owner);

				if (pce_ow_is_word(b) && live_at(r, pce_ow_word(b), &now))
					continue;
			}
			out[n].owner = owner;
			out[n].tier = pce_ow_tier(word);
			out[n].tokens = cp->tokens;
			out[n].score = (double)cp->tokens * r->cfg.tier_weight[out[n].tier];
			n++;
		}
		if (n > before_n && !(flags & PCE_ROUTER_MATCH_PEEK) &&
		    !pce_load_relaxed(&set->ref))
			pce_store_relaxed(&((struct pce_ctable *)set)->ref, 1);
next:
		below = set;
		g.n--;
		if (g.n == 0 && g.dropped)
			collect_rcu(r, root, tokens, len, cp->depth, &g);
	}
	pce_rcu_read_unlock();
	n = dedup_output(out, n);
	sort_by_score(out, n);
	*n_out = n;
	if (left_out)
		*left_out = g.first_live > n ? g.first_live - n : 0;
	if (!(flags & PCE_ROUTER_MATCH_PEEK)) {
		struct pce_router_stripe *st = &r->stripe[th->stripe];

		if (th->stripe_owned) {
			pce_add_owned(&st->matches, 1);
			pce_add_owned(&st->owners_reported, n);
		} else {
			pce_add_relaxed(&st->matches, 1);
			pce_add_relaxed(&st->owners_reported, n);
		}
	}
	return 0;
}
