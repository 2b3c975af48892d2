/*
 * test_snapshot.c - snapshots (pce/snapshot.h): round trips of caches and
 * routers compared with the original and with tests/router_model.h, caller
 * sections, every truncation and every bit flip of a small file refused,
 * wrong kind and future version refused, kill -9 in the middle of a write,
 * a write while threads store and look up, and (PCE_FAULT_INJECTION
 * builds) the allocation-failure sweep over restore.
 */
#include "util.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crc32c.h"
#include "router_model.h"
#ifdef PCE_FAULT_INJECTION
#include "alloc.h"
#endif

static char dir[64];

static const char *path_of(const char *name)
{
	static char p[4][384];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
	return p[i];
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/pce-snap-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	(void)state;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			unlink(path_of(de->d_name));
	if (d)
		closedir(d);
	rmdir(dir);
	return 0;
}

/* Files of dir whose name contains ".tmp-". */
static int stray_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += strstr(de->d_name, ".tmp-") != NULL;
	if (d)
		closedir(d);
	return n;
}

static uint8_t *slurp(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	uint8_t *b;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	rewind(f);
	b = malloc(*n);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, *n, f), *n);
	fclose(f);
	return b;
}

/* A new file each time: ext4 flushes a file truncated and rewritten in
 * place at close (auto_da_alloc), which would make thousands of rewrites
 * wait for the disk. */
static void spit(const char *p, const uint8_t *b, size_t n)
{
	FILE *f;

	unlink(p);
	f = fopen(p, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
}

/* CRC-32C's check value, whole and in pieces of every alignment. */
static void test_crc32c(void **state)
{
	static const char msg[] = "123456789abcdefghijklmnopqrstuvwxyz";
	uint32_t whole;

	(void)state;
	assert_int_equal(pce__crc32c(0, "123456789", 9), 0xe3069283u);
	whole = pce__crc32c(0, msg, sizeof msg - 1);
	for (size_t cut = 0; cut < sizeof msg; cut++)
		assert_int_equal(pce__crc32c(pce__crc32c(0, msg, cut), msg + cut,
					     sizeof msg - 1 - cut), whole);
}

/* ---- caches --------------------------------------------------------------- */

/* A cache's entries, as stored (the reference). */
struct ref_entry {
	uint64_t ns, value, kv, expires;
	size_t len;
	uint32_t tok[64];
};

static struct ref_entry ref[600];
static size_t n_ref;

/* Fill @c with entries of 3 namespaces, prefixes of one another, TTLs. */
static void fill_cache(struct tcache *t, uint32_t bs)
{
	n_ref = 0;
	srand(99 + bs);
	for (int i = 0; i < 500; i++) {
		struct ref_entry *e = &ref[n_ref];
		struct pce_store_opts o = { 0 };

		e->ns = (uint64_t)(rand() % 3) * 0x1000000001ULL;
		e->len = bs * (size_t)(1 + rand() % 4);
		for (size_t k = 0; k < e->len; k++)
			e->tok[k] = (uint32_t)(rand() % 4);
		e->value = 1000 + (uint64_t)i;
		e->kv = (uint64_t)(rand() % 100000);
		o.ttl_ns = rand() % 3 == 0 ? 100 + (uint64_t)(rand() % 5000) : PCE_NEVER;
		e->expires = o.ttl_ns == PCE_NEVER ? PCE_NEVER : t->now + o.ttl_ns;
		if (pce_cache_store(t->c, e->ns, e->tok, e->len, e->value, e->kv, &o, NULL) == 0)
			n_ref++;
	}
	t->now += 1000; /* some entries expire: they must not be written */
}

/* @b equals @a: same live entries (exact lookups, values, kv_bytes) and the
 * same match for every prefix query. */
static void assert_same_cache(struct tcache *ta, struct pce_cache *b)
{
	struct pce_lookup_opts whole = { PCE_LOOKUP_WHOLE | PCE_LOOKUP_PEEK, 0 };
	struct pce_lookup_opts peek = { PCE_LOOKUP_PEEK, 0 };
	uint64_t live = 0;

	assert_audit(b);
	for (size_t i = 0; i < n_ref; i++) {
		struct ref_entry *e = &ref[i];
		struct pce_match ma, mb;

		if (e->expires != PCE_NEVER && e->expires <= ta->now)
			continue;
		live++;
		assert_int_equal(pce_cache_lookup(b, e->ns, e->tok, e->len, &whole, &mb), 0);
		assert_int_equal(mb.tokens, e->len);
		assert_int_equal(mb.entry_len, e->len);
		assert_int_equal(mb.value, e->value);
		assert_int_equal(mb.kv_bytes, e->kv);
		for (size_t l = 1; l <= e->len; l++) {
			assert_int_equal(pce_cache_lookup(ta->c, e->ns, e->tok, l, &peek, &ma), 0);
			assert_int_equal(pce_cache_lookup(b, e->ns, e->tok, l, &peek, &mb), 0);
			assert_int_equal(ma.tokens, mb.tokens);
		}
	}
	assert_int_equal(stats_of(b).entries, live);
}

static void test_cache_round_trip(void **state)
{
	(void)state;
	for (uint32_t bs = 1; bs <= 16; bs += 15) {
		struct tcache a, b;
		struct pce_config cfg;
		struct pce_snapshot_info info;

		tcache_config(&a, &cfg);
		cfg.block_size = bs;
		cfg.shards = 4;
		tcache_open(&a, &cfg);
		fill_cache(&a, bs);
		assert_int_equal(pce_cache_snapshot_write(a.c, path_of("c.snap"), NULL, 0), 0);
		assert_int_equal(stray_files(), 0);
		assert_int_equal(pce_snapshot_inspect(path_of("c.snap"), &info, NULL, NULL), 0);
		assert_int_equal(info.kind, PCE_SNAPSHOT_CACHE);
		assert_int_equal(info.version, PCE_SNAPSHOT_VERSION);
		assert_int_equal(info.block_size, bs);
		assert_int_equal(info.shards, 4);
		{
			uint64_t live = 0; /* expired entries are left out */
			for (size_t i = 0; i < n_ref; i++)
				live += ref[i].expires == PCE_NEVER || ref[i].expires > a.now;
			assert_int_equal(info.records, live);
			assert_true(live < stats_of(a.c).entries);
		}
		assert_true(info.checksums_ok);

		/* Another shard count; the TTLs restart from the restore. */
		tcache_config(&b, &cfg);
		b.now = a.now;
		cfg.block_size = bs;
		cfg.shards = 8;
		assert_int_equal(pce_cache_snapshot_restore(&cfg, path_of("c.snap"), NULL, NULL,
							    &b.c), 0);
		assert_same_cache(&a, b.c);
		/* An entry that had 1 ns left expires 1 ns after the restore. */
		for (size_t i = 0; i < n_ref; i++)
			if (ref[i].expires != PCE_NEVER && ref[i].expires > a.now) {
				struct pce_match m;
				struct pce_lookup_opts o = { PCE_LOOKUP_WHOLE | PCE_LOOKUP_PEEK, 0 };

				b.now = ref[i].expires;
				assert_int_equal(pce_cache_lookup(b.c, ref[i].ns, ref[i].tok,
								  ref[i].len, &o, &m), 0);
				assert_true(m.tokens == 0 || m.value != ref[i].value);
				break;
			}
		tcache_close(&b);
		tcache_close(&a);
	}
}

static void test_cache_refusals(void **state)
{
	struct tcache a, b;
	struct pce_config cfg;
	struct pce_router_config rcfg;
	struct pce_router *r = (void *)1;
	uint32_t q[4] = { 1, 2, 3, 4 };

	(void)state;
	tcache_open_default(&a);
	assert_int_equal(put(a.c, q, 4, 7), 0);
	assert_int_equal(pce_cache_snapshot_write(a.c, path_of("k.snap"), NULL, 0), 0);
	/* Wrong kind. */
	pce_router_config_init(&rcfg);
	rcfg.background_reclaim = 0;
	assert_int_equal(pce_router_snapshot_restore(&rcfg, path_of("k.snap"), NULL, NULL, &r),
			 PCE_EBADSNAP);
	assert_null(r);
	/* Another block size. */
	tcache_config(&b, &cfg);
	cfg.block_size = 2;
	assert_int_equal(pce_cache_snapshot_restore(&cfg, path_of("k.snap"), NULL, NULL, &b.c),
			 PCE_EINVAL);
	/* An entry shorter than min_prefix_len. */
	cfg.block_size = 1;
	cfg.min_prefix_len = 5;
	assert_int_equal(pce_cache_snapshot_restore(&cfg, path_of("k.snap"), NULL, NULL, &b.c),
			 PCE_ESHORT);
	assert_null(b.c);
	/* A budget that cannot hold it all. */
	assert_int_equal(put(a.c, q, 2, 8), 0);
	assert_int_equal(pce_cache_snapshot_write(a.c, path_of("k.snap"), NULL, 0), 0);
	cfg.min_prefix_len = 1;
	cfg.max_entries = 1;
	assert_int_equal(pce_cache_snapshot_restore(&cfg, path_of("k.snap"), NULL, NULL, &b.c),
			 PCE_ENOSPC);
	assert_null(b.c);
	/* No such file, a directory, bad arguments. */
	cfg.max_entries = 0;
	assert_int_equal(pce_cache_snapshot_restore(&cfg, path_of("none"), NULL, NULL, &b.c),
			 PCE_ENOENT);
	assert_int_equal(pce_cache_snapshot_restore(&cfg, dir, NULL, NULL, &b.c), PCE_EBADSNAP);
	assert_int_equal(pce_cache_snapshot_write(a.c, "/nonexistent-dir/x.snap", NULL, 0),
			 PCE_ENOENT);
	assert_int_equal(pce_cache_snapshot_write(NULL, path_of("x"), NULL, 0), PCE_EINVAL);
	assert_int_equal(pce_cache_snapshot_write(a.c, NULL, NULL, 0), PCE_EINVAL);
	assert_int_equal(pce_cache_snapshot_write(a.c, path_of("x"), NULL, 1), PCE_EINVAL);
	assert_string_equal(pce_err_name(PCE_EBADSNAP), "PCE_EBADSNAP");
	assert_int_equal(stray_files(), 0);
	tcache_close(&a);
}

/* ---- caller sections ------------------------------------------------------ */

struct seen {
	int n;
	char names[4][64];
	size_t lens[4];
	int fail_at; /* return -77 at this call (1-based); 0: never */
};

static int on_section(void *ctx, const char *name, const void *data, size_t len)
{
	struct seen *s = ctx;

	if (s->n < 4) {
		snprintf(s->names[s->n], sizeof s->names[0], "%s", name);
		s->lens[s->n] = len;
		if (len)
			assert_int_equal(((const uint8_t *)data)[len - 1], (uint8_t)len);
	}
	return ++s->n == s->fail_at ? -77 : 0;
}

static void test_sections(void **state)
{
	char name63[64];
	uint8_t big[5000], small[3] = { 0, 0, 3 };
	struct pce_snapshot_section sec[3];
	struct tcache a;
	struct pce_config cfg;
	struct pce_cache *c;
	struct seen s = { 0 };
	uint32_t q[3] = { 5, 6, 7 };

	(void)state;
	memset(name63, 'n', 63);
	name63[63] = '\0';
	memset(big, 0, sizeof big);
	big[sizeof big - 1] = (uint8_t)sizeof big;
	sec[0] = (struct pce_snapshot_section){ "events.seq", small, sizeof small };
	sec[1] = (struct pce_snapshot_section){ name63, big, sizeof big };
	sec[2] = (struct pce_snapshot_section){ "empty", NULL, 0 };
	tcache_config(&a, &cfg);
	tcache_open(&a, &cfg);
	assert_int_equal(put(a.c, q, 3, 1), 0);
	assert_int_equal(pce_cache_snapshot_write(a.c, path_of("s.snap"), sec, 3), 0);
	assert_int_equal(pce_cache_snapshot_restore(&cfg, path_of("s.snap"), on_section, &s, &c),
			 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[0], "events.seq");
	assert_string_equal(s.names[1], name63);
	assert_string_equal(s.names[2], "empty");
	assert_int_equal(s.lens[1], sizeof big);
	assert_int_equal(match(c, q, 3, NULL), 3);
	assert_int_equal(pce_cache_destroy(c), 0);

	/* A callback's refusal fails the restore, which leaves nothing. */
	memset(&s, 0, sizeof s);
	s.fail_at = 2;
	a.released_by[PCE_REASON_DESTROYED] = 0;
	assert_int_equal(pce_cache_snapshot_restore(&cfg, path_of("s.snap"), on_section, &s, &c),
			 -77);
	assert_null(c);
	assert_int_equal(a.released_by[PCE_REASON_DESTROYED], 1); /* the restored value left */

	/* Bad names and duplicates are refused; the old file stays. */
	sec[0].name = "empty";
	assert_int_equal(pce_cache_snapshot_write(a.c, path_of("s.snap"), sec, 3), PCE_EINVAL);
	sec[0].name = "";
	assert_int_equal(pce_cache_snapshot_write(a.c, path_of("s.snap"), sec, 1), PCE_EINVAL);
	sec[0].name = "ok";
	sec[0].data = NULL;
	assert_int_equal(pce_cache_snapshot_write(a.c, path_of("s.snap"), sec, 1), PCE_EINVAL);
	{
		char name64[65];
		memset(name64, 'a', 64);
		name64[64] = '\0';
		sec[0] = (struct pce_snapshot_section){ name64, NULL, 0 };
		assert_int_equal(pce_cache_snapshot_write(a.c, path_of("s.snap"), sec, 1),
				 PCE_EINVAL);
	}
	memset(&s, 0, sizeof s);
	{
		struct pce_snapshot_info info;
		assert_int_equal(pce_snapshot_inspect(path_of("s.snap"), &info, on_section, &s), 0);
		assert_int_equal(info.sections, 3);
		assert_int_equal(info.section_bytes, sizeof big + sizeof small);
		assert_int_equal(s.n, 3);
	}
	tcache_close(&a);
}

/* ---- corrupt files ---------------------------------------------------------- */

/* Refused by inspect (saying why) and by the restore of @kind: a cache or a
 * router file stays refused by the other kind's restore anyway. */
static void assert_refused(const char *p, int kind)
{
	struct pce_config cfg;
	struct pce_router_config rcfg;
	struct pce_cache *c = (void *)1;
	struct pce_router *r = (void *)1;
	struct pce_snapshot_info info;

	assert_int_equal(pce_snapshot_inspect(p, &info, NULL, NULL), PCE_EBADSNAP);
	assert_true(info.error[0] != '\0');
	if (kind == 0) {
		pce_config_init(&cfg);
		cfg.background_reclaim = 0;
		assert_int_equal(pce_cache_snapshot_restore(&cfg, p, NULL, NULL, &c), PCE_EBADSNAP);
		assert_null(c);
	} else {
		pce_router_config_init(&rcfg);
		rcfg.background_reclaim = 0;
		assert_int_equal(pce_router_snapshot_restore(&rcfg, p, NULL, NULL, &r),
				 PCE_EBADSNAP);
		assert_null(r);
	}
}

static void test_truncated_and_flipped(void **state)
{
	struct tcache a;
	struct pce_config cfg;
	struct pce_router_config rcfg;
	struct pce_router *r;
	uint32_t q[5] = { 1, 2, 3, 4, 5 };
	struct pce_snapshot_section sec = { "x", "ab", 2 };
	uint8_t *b, *m;
	size_t n;

	(void)state;
	tcache_config(&a, &cfg);
	cfg.shards = 2;
	tcache_open(&a, &cfg);
	assert_int_equal(put(a.c, q, 5, 1), 0);
	assert_int_equal(put(a.c, q, 3, 2), 0);
	assert_int_equal(pce_cache_store(a.c, 9, q + 1, 2, 3, 0, NULL, NULL), 0);
	pce_router_config_init(&rcfg);
	rcfg.background_reclaim = 0;
	rcfg.shards = 2;
	assert_int_equal(pce_router_create(&rcfg, &r), 0);
	assert_int_equal(pce_router_add(r, 3, 0, q, 5, 1, NULL, NULL), 0);
	assert_int_equal(pce_router_add(r, 4, 0, q, 2, 0, NULL, NULL), 0);
	for (int kind = 0; kind < 2; kind++) {
		if (kind == 0)
			assert_int_equal(pce_cache_snapshot_write(a.c, path_of("t.snap"), &sec, 1), 0);
		else
			assert_int_equal(pce_router_snapshot_write(r, path_of("t.snap"), &sec, 1), 0);
		b = slurp(path_of("t.snap"), &n);
		assert_true(n < 600);
		m = malloc(n);
		for (size_t len = 0; len < n; len++) {
			spit(path_of("bad.snap"), b, len);
			assert_refused(path_of("bad.snap"), kind);
		}
		for (size_t bit = 0; bit < n * 8; bit++) {
			memcpy(m, b, n);
			m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			spit(path_of("bad.snap"), m, n);
			assert_refused(path_of("bad.snap"), kind);
		}
		/* A future version, with a valid header checksum, is refused by
		 * its version. */
		{
			struct pce_snapshot_info info;
			memcpy(m, b, n);
			m[8] = PCE_SNAPSHOT_VERSION + 1;
			spit(path_of("bad.snap"), m, n);
			assert_refused(path_of("bad.snap"), kind);
			assert_int_equal(pce_snapshot_inspect(path_of("bad.snap"), &info, NULL, NULL),
					 PCE_EBADSNAP);
			assert_non_null(strstr(info.error, "version"));
		}
		free(m);
		free(b);
	}
	pce_router_destroy(r);
	tcache_close(&a);
}

/* ---- routers ---------------------------------------------------------------- */

static uint64_t rnow = 1024;

static uint64_t rclock(void *ctx)
{
	(void)ctx;
	return rnow;
}

static void rconfig(struct pce_router_config *cfg, uint32_t bs, uint32_t shards)
{
	pce_router_config_init(cfg);
	cfg->background_reclaim = 0;
	cfg->clock = rclock;
	cfg->block_size = bs;
	cfg->shards = shards;
	for (int i = 0; i < (int)PCE_TIERS; i++)
		cfg->tier_weight[i] = 1.0 + i;
}

static void raudit(struct pce_router *r)
{
	char msg[256];
	int rc = pce_router_audit(r, 0, msg, sizeof msg);

	if (rc)
		fprintf(stderr, "router audit: %s\n", msg);
	assert_int_equal(rc, 0);
}

/* Random holdings (tiers, TTLs, removals, owner clears, expiry) on a
 * router and on the model; a snapshot restored into a new router must
 * answer every query of up to 7 tokens (all of them) as the model does. */
static void test_router_model(void **state)
{
	static struct rm_model m;

	(void)state;
	for (uint32_t bs = 1; bs <= 3; bs++) {
		struct pce_router_config cfg;
		struct pce_router *r, *b;

		srand(77 + bs);
		rnow = 1024;
		rconfig(&cfg, bs, 2);
		assert_int_equal(pce_router_create(&cfg, &r), 0);
		memset(&m, 0, sizeof m);
		m.bs = bs;
		for (int step = 0; step < 1500; step++) {
			uint32_t q[RM_MAXLEN], owner = (uint32_t)(rand() % RM_OWNERS);
			size_t len = 1 + (size_t)(rand() % RM_MAXLEN);
			int op = rand() % 100;

			for (size_t i = 0; i < len; i++)
				q[i] = (uint32_t)(rand() % 3);
			if (op < 70) {
				uint32_t tier = (uint32_t)(rand() % 4);
				int retier = rand() % 4 == 0;
				uint64_t ttl = rand() % 3 == 0 ? 16 * (uint64_t)(1 + rand() % 40)
							       : PCE_NEVER;
				struct pce_router_add_opts o = { retier ? PCE_ROUTER_ADD_RETIER : 0,
								 ttl };

				if (pce_router_add(r, owner, 0, q, len, tier, &o, NULL) == 0)
					assert_int_equal(rm_add(&m, owner, 0, q, len, tier,
								ttl == PCE_NEVER ? PCE_NEVER
										 : rnow + ttl,
								retier),
							 0);
			} else if (op < 85) {
				if (len >= bs)
					assert_int_equal(pce_router_remove(r, owner, 0, q, len),
							 rm_remove(&m, owner, 0, q, len));
			} else if (op < 87) {
				assert_int_equal(pce_router_clear_owner(r, owner, NULL), 0);
				rm_drop(&m, 1, owner, 0, 0);
			} else {
				rnow += 16 * (uint64_t)(rand() % 3);
			}
		}
		assert_int_equal(pce_router_snapshot_write(r, path_of("r.snap"), NULL, 0), 0);
		pce_router_destroy(r);
		rconfig(&cfg, bs, 4);
		assert_int_equal(pce_router_snapshot_restore(&cfg, path_of("r.snap"), NULL, NULL, &b),
				 0);
		raudit(b);
		for (size_t len = 1; len <= 7; len++) {
			size_t combos = 1;
			for (size_t i = 0; i < len; i++)
				combos *= 3;
			for (size_t x = 0; x < combos; x++) {
				uint32_t q[8];
				struct pce_overlap out[RM_OWNERS + 1];
				size_t n, v = x;
				const char *why;

				for (size_t i = 0; i < len; i++, v /= 3)
					q[i] = (uint32_t)(v % 3);
				assert_int_equal(pce_router_match(b, 0, q, len, PCE_ROUTER_MATCH_PEEK,
								  out, RM_OWNERS + 1, &n, NULL),
						 0);
				why = rm_check(&m, 0, q, len, rnow, cfg.tier_weight, out, n,
					       RM_OWNERS + 1);
				if (why)
					fail_msg("bs %u query %zu/%zu: %s", bs, len, x, why);
			}
		}
		/* Expiry restarts from the restore and goes on as in the model. */
		rnow += 16 * 20;
		rm_drop(&m, -1, 0, 0, rnow);
		assert_int_equal(pce_router_reclaim(b), 0);
		{
			struct pce_router_stats st;
			assert_int_equal(pce_router_stats_get(b, &st), 0);
			assert_int_equal(st.holdings, m.n);
		}
		raudit(b);
		pce_router_destroy(b);
	}
}

/* Many owners, block size 16, several namespaces, long shared prefixes:
 * the restored router answers every query as the original. */
static void test_router_round_trip(void **state)
{
	struct pce_router_config cfg;
	struct pce_router *a, *b;
	static uint32_t q[300][128];
	static size_t qlen[300];
	uint64_t ns_of[300];
	struct pce_router_stats sa, sb;
	struct pce_snapshot_info info;

	(void)state;
	srand(5);
	rnow = 1024;
	rconfig(&cfg, 16, 8);
	assert_int_equal(pce_router_create(&cfg, &a), 0);
	for (int i = 0; i < 300; i++) {
		uint32_t owner = (uint32_t)(rand() % 200);
		struct pce_router_add_opts o = { 0, rand() % 4 ? PCE_NEVER : 1600 };

		ns_of[i] = (uint64_t)(rand() % 3);
		qlen[i] = 16 + (size_t)(rand() % 112);
		for (size_t k = 0; k < qlen[i]; k++)
			q[i][k] = k < 32 ? (uint32_t)k : (uint32_t)(rand() % 5);
		assert_int_equal(pce_router_add(a, owner, ns_of[i], q[i], qlen[i],
						(uint32_t)(rand() % PCE_TIERS), &o, NULL), 0);
	}
	assert_int_equal(pce_router_snapshot_write(a, path_of("rr.snap"), NULL, 0), 0);
	assert_int_equal(pce_snapshot_inspect(path_of("rr.snap"), &info, NULL, NULL), 0);
	assert_int_equal(info.kind, PCE_SNAPSHOT_ROUTER);
	assert_int_equal(pce_router_stats_get(a, &sa), 0);
	assert_int_equal(info.nodes + info.namespaces, sa.nodes); /* roots are not written */
	assert_int_equal(info.tokens, sa.tokens);
	rconfig(&cfg, 16, 2);
	assert_int_equal(pce_router_snapshot_restore(&cfg, path_of("rr.snap"), NULL, NULL, &b), 0);
	raudit(b);
	assert_int_equal(pce_router_stats_get(b, &sb), 0);
	assert_int_equal(sa.holdings, sb.holdings);
	assert_int_equal(sa.nodes, sb.nodes);
	for (int step = 0; step < 2; step++) {
		for (int i = 0; i < 300; i++)
			for (size_t len = 1; len <= qlen[i] + 1; len += 7) {
				struct pce_overlap oa[256], ob[256];
				size_t na, nb;

				assert_int_equal(pce_router_match(a, ns_of[i], q[i], len,
								  PCE_ROUTER_MATCH_PEEK, oa, 256, &na,
								  NULL), 0);
				assert_int_equal(pce_router_match(b, ns_of[i], q[i], len,
								  PCE_ROUTER_MATCH_PEEK, ob, 256, &nb,
								  NULL), 0);
				assert_int_equal(na, nb);
				for (size_t k = 0; k < na; k++) {
					assert_int_equal(oa[k].owner, ob[k].owner);
					assert_int_equal(oa[k].tokens, ob[k].tokens);
					assert_int_equal(oa[k].tier, ob[k].tier);
				}
			}
		rnow += 1600; /* the TTL'd holdings expire in both at once */
	}
	pce_router_destroy(a);
	pce_router_destroy(b);
}

/* ---- kill -9 in the middle of a write --------------------------------------- */

static int stall_fd = -1;
static int stall_calls;

/* The child's clock: the writer reads it under each shard's lock, so
 * stalling it on the n-th call freezes the write after n-1 shards, with
 * the temporary file open and partly written. */
static uint64_t stalling_clock(void *ctx)
{
	(void)ctx;
	if (stall_fd >= 0 && --stall_calls == 0) {
		char c = 1;
		if (write(stall_fd, &c, 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	return 1000;
}

static void test_kill_during_write(void **state)
{
	struct tcache a, b;
	struct pce_config cfg;
	uint32_t q[3] = { 1, 2, 3 };

	(void)state;
	tcache_open_default(&a);
	assert_int_equal(put(a.c, q, 3, 42), 0);
	assert_int_equal(pce_cache_snapshot_write(a.c, path_of("kill.snap"), NULL, 0), 0);
	for (int round = 1; round <= 4; round++) {
		int fds[2], status;
		pid_t pid;
		char c;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct pce_config ccfg;
			struct pce_cache *big;
			static uint32_t t[2048];

			close(fds[0]);
			pce_config_init(&ccfg);
			ccfg.background_reclaim = 0;
			ccfg.clock = stalling_clock;
			ccfg.shards = 8;
			if (pce_cache_create(&ccfg, &big))
				_exit(2);
			for (uint32_t i = 0; i < 64; i++) {
				for (size_t k = 0; k < 2048; k++)
					t[k] = i * 7919 + (uint32_t)k;
				if (pce_cache_store(big, 0, t, 2048, i, 0, NULL, NULL))
					_exit(2);
			}
			stall_fd = fds[1];
			stall_calls = round; /* stall at shard round - 1 */
			pce_cache_snapshot_write(big, path_of("kill.snap"), NULL, 0);
			_exit(4); /* never reached: the parent kills us in the write */
		}
		close(fds[1]);
		assert_int_equal(read(fds[0], &c, 1), 1);
		close(fds[0]);
		/* The half-written temporary (this writer removed the previous
		 * round's, whose writer was dead). */
		assert_int_equal(stray_files(), 1);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

		/* The target still holds the old snapshot, exactly. */
		tcache_config(&b, &cfg);
		assert_int_equal(pce_cache_snapshot_restore(&cfg, path_of("kill.snap"), NULL, NULL,
							    &b.c), 0);
		assert_int_equal(stats_of(b.c).entries, 1);
		{
			uint64_t v;
			assert_int_equal(match(b.c, q, 3, &v), 3);
			assert_int_equal(v, 42);
		}
		tcache_close(&b);
	}
	/* The next write removes the dead writers' temporaries. */
	assert_int_equal(stray_files(), 1);
	assert_int_equal(pce_cache_snapshot_write(a.c, path_of("kill.snap"), NULL, 0), 0);
	assert_int_equal(stray_files(), 0);
	tcache_close(&a);
}

/* ---- a write while threads store and look up ------------------------------- */

struct busy {
	struct pce_cache *c;
	int id;
	int stop;
	uint64_t stored;
};

static void *busy_store(void *arg)
{
	struct busy *x = arg;
	uint32_t q[8];

	/* New entries up to 5000, then the same again (PCE_EEXIST, still under
	 * the shard lock), so the index stays small. */
	for (uint32_t i = 0; !__atomic_load_n(&x->stop, __ATOMIC_ACQUIRE); i++) {
		for (int k = 0; k < 8; k++)
			q[k] = (uint32_t)x->id * 1000000u + (i % 5000) * 8 + (uint32_t)k;
		if (pce_cache_store(x->c, 0, q, 8, i, 0, NULL, NULL) == 0)
			x->stored++;
	}
	return NULL;
}

static void *busy_lookup(void *arg)
{
	struct busy *x = arg;
	uint32_t q[4] = { 0, 1, 2, 3 };

	while (!__atomic_load_n(&x->stop, __ATOMIC_ACQUIRE)) {
		struct pce_match m;
		assert_int_equal(pce_cache_lookup(x->c, 0, q, 4, NULL, &m), 0);
		assert_int_equal(m.tokens, 4); /* stored before, never removed */
	}
	return NULL;
}

static void test_write_while_busy(void **state)
{
	struct pce_config cfg;
	struct pce_cache *c, *b;
	pthread_t th[4];
	struct busy x[4];
	uint32_t q[4] = { 0, 1, 2, 3 };
	uint64_t before;

	(void)state;
	pce_config_init(&cfg);
	cfg.shards = 4;
	assert_int_equal(pce_cache_create(&cfg, &c), 0);
	assert_int_equal(put(c, q, 4, 1), 0);
	before = stats_of(c).entries;
	for (int i = 0; i < 4; i++) {
		x[i] = (struct busy){ .c = c, .id = i + 1 };
		assert_int_equal(pthread_create(&th[i], NULL, i < 2 ? busy_store : busy_lookup,
						&x[i]), 0);
	}
	for (int round = 0; round < 5; round++) {
		struct pce_snapshot_info info;

		assert_int_equal(pce_cache_snapshot_write(c, path_of("busy.snap"), NULL, 0), 0);
		assert_int_equal(pce_snapshot_inspect(path_of("busy.snap"), &info, NULL, NULL), 0);
		assert_true(info.records >= before);
		assert_true(info.records <= stats_of(c).entries);
		before = info.records;
	}
	for (int i = 0; i < 4; i++)
		__atomic_store_n(&x[i].stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(pce_cache_snapshot_restore(&cfg, path_of("busy.snap"), NULL, NULL, &b),
			 0);
	assert_audit(b);
	assert_int_equal(stats_of(b).entries, before);
	assert_int_equal(match(b, q, 4, NULL), 4);
	assert_int_equal(pce_cache_destroy(b), 0);
	assert_int_equal(pce_cache_destroy(c), 0);
}

/* ---- allocation failures during restore ------------------------------------ */

#ifdef PCE_FAULT_INJECTION
static void test_restore_oom(void **state)
{
	struct tcache a;
	struct pce_config cfg;
	struct pce_router_config rcfg;
	struct pce_router *r;
	uint32_t q[6] = { 1, 2, 3, 4, 5, 6 };
	struct pce_snapshot_section sec = { "s", "x", 1 };

	(void)state;
	tcache_config(&a, &cfg);
	tcache_open(&a, &cfg);
	for (uint32_t i = 0; i < 6; i++) {
		q[2] = 10 + i;
		assert_int_equal(pce_cache_store(a.c, i % 2, q, 3 + i % 4, i, 0, NULL, NULL), 0);
	}
	assert_int_equal(pce_cache_snapshot_write(a.c, path_of("o.snap"), &sec, 1), 0);
	rconfig(&rcfg, 2, 2);
	assert_int_equal(pce_router_create(&rcfg, &r), 0);
	for (uint32_t o = 0; o < 20; o++)
		assert_int_equal(pce_router_add(r, o, 0, q, 2 + 2 * (o % 3), o % 3, NULL, NULL), 0);
	assert_int_equal(pce_router_snapshot_write(r, path_of("o2.snap"), &sec, 1), 0);
	pce_router_destroy(r);

	for (int kind = 0; kind < 2; kind++)
		for (int sticky = 0; sticky < 2; sticky++)
			for (uint64_t nth = 1;; nth++) {
				uint64_t live = pce__alloc_live(), fired;
				struct pce_cache *c = NULL;
				int rc;

				r = NULL;
				pce__fault_arm(nth, sticky);
				rc = kind == 0 ? pce_cache_snapshot_restore(&cfg, path_of("o.snap"), NULL,
									    NULL, &c)
					       : pce_router_snapshot_restore(&rcfg, path_of("o2.snap"),
									     NULL, NULL, &r);
				fired = pce__fault_fired();
				pce__fault_arm(0, 0);
				if (!fired) {
					/* The file buffer, the walk, the index: many. */
					assert_true(nth > 8);
					assert_int_equal(rc, 0);
					if (c)
						assert_int_equal(pce_cache_destroy(c), 0);
					pce_router_destroy(r);
					break;
				}
				if (rc == 0) { /* absorbed: the index must still be whole */
					fail_msg("restore absorbed allocation failure %llu",
						 (unsigned long long)nth);
				}
				assert_int_equal(rc, PCE_ENOMEM);
				assert_null(c);
				assert_null(r);
				assert_int_equal(pce__alloc_live(), live);
			}
	tcache_close(&a);
}
#endif

/* An argument runs only the tests whose names match it (cmocka's filter). */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_cache_round_trip),
		cmocka_unit_test(test_cache_refusals),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_truncated_and_flipped),
		cmocka_unit_test(test_router_model),
		cmocka_unit_test(test_router_round_trip),
		cmocka_unit_test(test_kill_during_write),
		cmocka_unit_test(test_write_while_busy),
#ifdef PCE_FAULT_INJECTION
		cmocka_unit_test(test_restore_oom),
#endif
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, setup, teardown);
}
