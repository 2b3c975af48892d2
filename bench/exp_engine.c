/*
 * exp_engine.c - what the engine-integration calls cost (libpce only: the
 * baselines have none of them).  One thread, no reclaim thread.
 *
 *   touch vs replace  Every stored sequence (all with a TTL) gets its TTL
 *                     extended, once with pce_cache_touch() and once by
 *                     storing it again with PCE_STORE_REPLACE (the only way
 *                     before touch existed); ns per call, median over
 *                     repetitions.  Replace includes the reclaim pass that
 *                     frees what it retired (the replaced entries).
 *   holder            Loading the stored set into an empty cache with a
 *                     store result (so each store also finds its holder)
 *                     and without one; ns per store.
 *   evict on demand   The stored set is loaded, then evicted by
 *                     pce_cache_evict() in calls of 1, 64 and all entries,
 *                     each call waiting for its grace period and releasing
 *                     the values; ns per entry evicted.
 */
#include <stdio.h>

#include <pce/pce.h>

#include "bench.h"
#include "timing.h"

#define TTL_NS (3600ULL * 1000000000u)

static struct pce_cache *loaded(const struct workload *wl)
{
	struct pce_config cfg;
	struct pce_cache *c;
	struct pce_store_opts o = {0, TTL_NS, 0};

	pce_config_init(&cfg);
	cfg.background_reclaim = 0;
	if (pce_cache_create(&cfg, &c) != 0)
		return NULL;
	for (size_t i = 0; i < wl->nstored; i++)
		pce_cache_store(c, 0, wl->stored[i].tok, wl->stored[i].len, i, 1, &o, NULL);
	return c;
}

/* ns per store of loading the stored set into an empty cache, with or
 * without a result (@holder: the store also finds its holder). */
static double load_ns(const struct workload *wl, int holder)
{
	struct pce_config cfg;
	struct pce_cache *c;
	struct pce_store_result res;
	uint64_t t0;
	double ns;

	pce_config_init(&cfg);
	cfg.background_reclaim = 0;
	if (pce_cache_create(&cfg, &c) != 0)
		return 0;
	t0 = now_ns();
	for (size_t i = 0; i < wl->nstored; i++)
		pce_cache_store(c, 0, wl->stored[i].tok, wl->stored[i].len, i, 1, NULL,
				holder ? &res : NULL);
	ns = (double)(now_ns() - t0) / (double)wl->nstored;
	pce_cache_destroy(c);
	return ns;
}

/* ns per call of touching (or, @replace, re-storing) every stored sequence. */
static double extend_all(struct pce_cache *c, const struct workload *wl, int replace)
{
	struct pce_store_opts o = {PCE_STORE_REPLACE, 2 * TTL_NS, 0};
	uint64_t t0 = now_ns();

	for (size_t i = 0; i < wl->nstored; i++) {
		const struct seq *q = &wl->stored[i];
		if (replace)
			pce_cache_store(c, 0, q->tok, q->len, i, 1, &o, NULL);
		else
			pce_cache_touch(c, 0, q->tok, q->len, 2 * TTL_NS);
	}
	if (replace)
		pce_cache_reclaim(c);
	return (double)(now_ns() - t0) / (double)wl->nstored;
}

/* ns per entry of evicting everything in calls of @batch entries. */
static double evict_all(const struct workload *wl, uint64_t batch, uint64_t *calls)
{
	struct pce_cache *c = loaded(wl);
	struct pce_evicted f;
	uint64_t t0, n = 0;
	double ns;

	*calls = 0;
	if (!c)
		return 0;
	t0 = now_ns();
	while (pce_cache_evict(c, PCE_EVICT_ENTRIES, batch, &f) == 0 && f.entries) {
		n += f.entries;
		(*calls)++;
	}
	n += f.entries;
	(*calls)++;
	ns = n ? (double)(now_ns() - t0) / (double)n : 0;
	pce_cache_destroy(c);
	return ns;
}

void exp_engine(struct suite *s, const struct workload *wl)
{
	static const uint64_t batches[] = {1, 64, UINT64_MAX};
	double touch[MAX_REPS], replace[MAX_REPS], ratio[MAX_REPS];
	double plain[MAX_REPS], holder[MAX_REPS], hratio[MAX_REPS];
	struct table *t;
	unsigned reps = s->p->reps;

	report_section(s->rep, "Engine calls: touch and evict on demand",
		       "libpce only, one thread.  Touch: every stored sequence's TTL "
		       "extended with pce_cache_touch(), against storing it again with "
		       "PCE_STORE_REPLACE (and the reclaim pass that frees the replaced "
		       "entries).  Holder: loading the stored set with and without a store "
		       "result, which is what makes a store find its holder.  Evict: the stored set evicted with pce_cache_evict() in "
		       "calls of 1, 64 or all entries; every call waits for a grace period "
		       "and releases its values before it returns.");
	for (unsigned r = 0; r < reps; r++) {
		struct pce_cache *c = loaded(wl);
		if (!c)
			return;
		touch[r] = extend_all(c, wl, 0);
		replace[r] = extend_all(c, wl, 1);
		ratio[r] = replace[r] / touch[r];
		pce_cache_destroy(c);
		plain[r] = load_ns(wl, 0);
		holder[r] = load_ns(wl, 1);
		hratio[r] = holder[r] / plain[r];
	}
	t = report_table(s->rep, "Extending a TTL", "workload|entries|touch ns/call|replace "
						      "ns/call|replace / touch");
	{
		double mt = median(touch, reps), mr = median(replace, reps), mx = median(ratio, reps);
		table_row(t, "%s|%zu|%.0f|%.0f|%.2f", wl->name, wl->nstored, mt, mr, mx);
		jl_begin(&s->jl, "engine_touch");
		jl_str(&s->jl, "workload", wl->name);
		jl_int(&s->jl, "entries", wl->nstored);
		jl_num(&s->jl, "touch_ns", mt);
		jl_num(&s->jl, "replace_ns", mr);
		jl_num(&s->jl, "replace_over_touch", mx);
		jl_end(&s->jl);
	}
	table_done(t);
	t = report_table(s->rep, "What finding the holder costs a store",
			 "workload|store ns, no result|store ns, with result (holder)|ratio");
	{
		double mp = median(plain, reps), mh = median(holder, reps), mx = median(hratio, reps);
		table_row(t, "%s|%.0f|%.0f|%.2f", wl->name, mp, mh, mx);
		jl_begin(&s->jl, "engine_holder");
		jl_str(&s->jl, "workload", wl->name);
		jl_num(&s->jl, "store_ns", mp);
		jl_num(&s->jl, "store_with_holder_ns", mh);
		jl_num(&s->jl, "ratio", mx);
		jl_end(&s->jl);
	}
	table_done(t);
	t = report_table(s->rep, "Evicting on demand", "workload|entries per call|calls|ns per "
							 "entry evicted");
	for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
		double ns[MAX_REPS];
		uint64_t calls = 0;
		char per[16];

		for (unsigned r = 0; r < reps; r++)
			ns[r] = evict_all(wl, batches[b], &calls);
		snprintf(per, sizeof(per), batches[b] == UINT64_MAX ? "all" : "%llu",
			 (unsigned long long)batches[b]);
		table_row(t, "%s|%s|%llu|%.0f", wl->name, per, (unsigned long long)calls,
			  median(ns, reps));
		jl_begin(&s->jl, "engine_evict");
		jl_str(&s->jl, "workload", wl->name);
		jl_str(&s->jl, "batch", per);
		jl_int(&s->jl, "calls", calls);
		jl_num(&s->jl, "ns_per_entry", median(ns, reps));
		jl_end(&s->jl);
	}
	table_done(t);
}
