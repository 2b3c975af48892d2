/*
 * snapshot.c - snapshots of a cache or a router index (pce/snapshot.h):
 * write, restore, inspect.  The format table is in docs/design.md,
 * "Snapshots".
 *
 * File: a 48-byte header (magic, version, kind, block_size, shards, write
 * time, CRC-32C of the header), then sections, each
 *   type u32 | name_len u32 | payload_len u64 | count u64 | name | payload | crc u32
 * (crc: CRC-32C of everything of the section before it): one SHARD section
 * per shard (its trie), one USER section per caller section, and one END
 * section, last, whose payload repeats the totals.  A file that does not end
 * exactly after its END section is truncated.  Every field is little-endian.
 *
 * A SHARD payload is the shard's tries, each as a pre-order walk:
 *   n_roots u32, then per root: ns u64 | n_children u32 | children...
 *   node: len u32 | tokens u32[len] | record | n_children u32 | children...
 *   record, cache:  has_entry u8 [| value u64 | kv_bytes u64 | ttl u64]
 *   record, router: n_owners u32 | n_owners x (owner u32 | tier u8 | ttl u64)
 * ttl: nanoseconds left at the write (>= 1), or UINT64_MAX: never.  Router
 * tier bit 7 (OWNER_ENDS) marks where the holding's add is replayed: the
 * owner is in no child with the same tier and expiry (see router_record()).
 *
 * Locks.  The writer holds one shard's writer lock at a time, while it walks
 * the shard's trie into a memory buffer (no I/O under the lock); lookups and
 * matches never wait for it.  Restore builds a new index through the public
 * store/add calls, so the index's own invariants and locks apply as for any
 * caller; the index is not visible to anyone else until restore returns.
 *
 * Nothing half-loaded: restore reads the whole file into memory and checks
 * every checksum and every structure (the same walk inspect does) before it
 * creates the index, and destroys the index on any later failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "crc32c.h"
#include "router_core.h"

#define MAGIC "PCESNAP"   /* 8 bytes with its NUL */
#define HDR_BYTES 48
#define SEC_HDR_BYTES 24
#define CRC_BYTES 4
#define TTL_NEVER UINT64_MAX
#define OWNER_ENDS 0x80u
/* Smallest encoded node: len, one token, the smallest record, n_children. */
#define MIN_NODE_CACHE (4 + 4 + 1 + 4)
#define MIN_NODE_ROUTER (4 + 4 + 4 + 4)
#define MIN_OWNER (4 + 1 + 8)
#define MIN_ROOT (8 + 4)

enum sec_type { SEC_SHARD = 1, SEC_USER = 2, SEC_END = 3 };

/* ---- little-endian buffer ------------------------------------------------ */

/* A growable buffer; @oom is sticky, so writers check once at the end. */
struct buf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

static uint8_t *buf_room(struct buf *b, size_t n)
{
	if (b->oom)
		return NULL;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *p;

		while (cap - b->len < n)
			cap *= 2;
		p = pce_alloc(cap);
		if (!p) {
			b->oom = 1;
			return NULL;
		}
		if (b->len)
			memcpy(p, b->p, b->len);
		pce_free(b->p);
		b->p = p;
		b->cap = cap;
	}
	b->len += n;
	return b->p + b->len - n;
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void put8(struct buf *b, uint8_t v)
{
	uint8_t *p = buf_room(b, 1);
	if (p)
		*p = v;
}

static void put32(struct buf *b, uint32_t v)
{
	uint8_t *p = buf_room(b, 4);
	if (p)
		le32(p, v);
}

static void put64(struct buf *b, uint64_t v)
{
	uint8_t *p = buf_room(b, 8);
	if (p)
		le64(p, v);
}

static void put_tokens(struct buf *b, const uint32_t *t, size_t n)
{
	uint8_t *p = buf_room(b, n * 4);

	if (!p)
		return;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, t, n * 4);
#else
	for (size_t i = 0; i < n; i++)
		le32(p + 4 * i, t[i]);
#endif
}

/* Offset of a u32 to fill in later (a count not known yet). */
static size_t put32_later(struct buf *b)
{
	size_t off = b->len;
	put32(b, 0);
	return off;
}

static void patch32(struct buf *b, size_t off, uint32_t v)
{
	if (!b->oom)
		le32(b->p + off, v);
}

/* ---- totals ---------------------------------------------------------------- */

struct totals {
	uint64_t namespaces, nodes, tokens, records;
};

/* ---- serialising one shard (under its lock) ------------------------------ */

struct frame {
	struct pce_node *n;
	size_t slot;      /* next slot of n->children to visit */
	size_t count_off; /* where n's child count goes */
	uint32_t count;
};

struct ser {
	struct buf out;
	struct frame *stk;
	size_t sp, cap;
	int router;
	uint64_t now;
	struct totals t;
};

static int push(struct ser *z, struct pce_node *n, size_t count_off)
{
	if (z->sp == z->cap) {
		size_t cap = z->cap ? z->cap * 2 : 64;
		struct frame *s = pce_alloc(cap * sizeof(*s));

		if (!s)
			return PCE_ENOMEM;
		if (z->sp)
			memcpy(s, z->stk, z->sp * sizeof(*s));
		pce_free(z->stk);
		z->stk = s;
		z->cap = cap;
	}
	z->stk[z->sp++] = (struct frame){ .n = n, .count_off = count_off };
	return 0;
}

static uint64_t ttl_left(uint64_t expires_at, uint64_t now)
{
	return expires_at == PCE_NEVER ? TTL_NEVER : expires_at - now;
}

/* @o's live word in @n's owner set, or 0. */
static uint64_t live_word(const struct pce_node *n, uint64_t o, uint64_t now)
{
	struct pce_node *p = n->owners ? pce_ctable_probe_rcu(n->owners, o) : NULL;

	if (!pce_ow_is_word(p) || pce_ow_expires(pce_ow_word(p)) <= now)
		return 0;
	return pce_ow_word(p);
}

static int has_live_owner(const struct pce_node *n, uint64_t now)
{
	struct pce_node *w;
	size_t i;

	pce_ctable_for_each(n->owners, i, w)
		if (pce_ow_expires(pce_ow_word(w)) > now)
			return 1;
	return 0;
}

/*
 * The owner records of router node @n.  Restore replays one add per record
 * marked OWNER_ENDS, of the path down to @n, in pre-order.  An add gives
 * the blocks the owner did not hold yet its tier, and raises the expiry of
 * the whole path.  So a record is replayed unless every child holding the
 * owner has the very same word (tier and expiry): then whichever child's
 * replayed add comes first sets @n's blocks to the same values.
 */
static void router_record(struct ser *z, const struct pce_node *n)
{
	size_t cnt_off = put32_later(&z->out), i, j;
	uint32_t cnt = 0;
	struct pce_node *w, *c;

	pce_ctable_for_each(n->owners, i, w) {
		uint64_t word = pce_ow_word(w), owner = n->owners->slot[i].key;
		int same = 0, diff = 0;

		if (pce_ow_expires(word) <= z->now)
			continue;
		pce_ctable_for_each(n->children, j, c) {
			uint64_t cw = live_word(c, owner, z->now);
			if (cw == word)
				same = 1;
			else if (cw)
				diff = 1;
		}
		put32(&z->out, (uint32_t)owner);
		put8(&z->out, (uint8_t)(pce_ow_tier(word) | (diff || !same ? OWNER_ENDS : 0)));
		put64(&z->out, ttl_left(pce_ow_expires(word), z->now));
		cnt++;
	}
	patch32(&z->out, cnt_off, cnt);
	z->t.records += cnt;
}

static void cache_record(struct ser *z, const struct pce_node *n)
{
	const struct pce_entry *e = n->entry;
	uint64_t at = e ? pce_load_relaxed(&e->expires_at) : 0;

	if (!e || (at != PCE_NEVER && at <= z->now)) {
		put8(&z->out, 0);
		return;
	}
	put8(&z->out, 1);
	put64(&z->out, e->value);
	put64(&z->out, e->kv_bytes);
	put64(&z->out, ttl_left(at, z->now));
	z->t.records++;
}

/* Pre-order walk of every trie of @s into z->out.  Shard lock held. */
static int serialise_shard_locked(struct ser *z, struct pce_shard *s)
{
	size_t roots_off = put32_later(&z->out), i;
	uint32_t n_roots = 0;
	struct pce_node *root;

	pce_ctable_for_each(s->roots, i, root) {
		put64(&z->out, s->roots->slot[i].key);
		n_roots++;
		z->t.namespaces++;
		if (push(z, root, put32_later(&z->out)))
			return PCE_ENOMEM;
		while (z->sp) {
			struct frame *f = &z->stk[z->sp - 1];
			const struct pce_ctable *t = f->n->children;
			struct pce_node *c = NULL;

			while (t && f->slot < pce_ctable_cap(t) && !c) {
				c = t->slot[f->slot++].node;
				if (c == PCE_CT_TOMB || (c && z->router && !has_live_owner(c, z->now)))
					c = NULL;
			}
			if (!c) {
				patch32(&z->out, f->count_off, f->count);
				z->sp--;
				continue;
			}
			f->count++;
			put32(&z->out, c->len);
			put_tokens(&z->out, c->tokens, c->len);
			if (z->router)
				router_record(z, c);
			else
				cache_record(z, c);
			z->t.nodes++;
			z->t.tokens += c->len;
			if (push(z, c, put32_later(&z->out)))
				return PCE_ENOMEM;
		}
	}
	patch32(&z->out, roots_off, n_roots);
	return z->out.oom ? PCE_ENOMEM : 0;
}

/* ---- file output ------------------------------------------------------------ */

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *q = p;

	while (n) {
		ssize_t w = write(fd, q, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

static void sec_header(uint8_t *h, uint32_t type, uint32_t name_len, uint64_t payload_len,
		       uint64_t count)
{
	le32(h, type);
	le32(h + 4, name_len);
	le64(h + 8, payload_len);
	le64(h + 16, count);
}

/* Write one section whose header, name and payload are the pieces given. */
static int write_section(int fd, uint32_t type, const char *name, size_t name_len,
			 const void *payload, size_t len, uint64_t count)
{
	uint8_t h[SEC_HDR_BYTES], c[CRC_BYTES];
	uint32_t crc;
	int rc;

	sec_header(h, type, (uint32_t)name_len, len, count);
	crc = pce__crc32c(0, h, sizeof h);
	crc = pce__crc32c(crc, name, name_len);
	crc = pce__crc32c(crc, payload, len);
	le32(c, crc);
	if ((rc = write_all(fd, h, sizeof h)) || (rc = write_all(fd, name, name_len)) ||
	    (rc = write_all(fd, payload, len)) || (rc = write_all(fd, c, sizeof c)))
		return rc;
	return 0;
}

static int check_sections(const struct pce_snapshot_section *sec, size_t n)
{
	if (n && !sec)
		return PCE_EINVAL;
	for (size_t i = 0; i < n; i++) {
		size_t len = sec[i].name ? strnlen(sec[i].name, PCE_SNAPSHOT_NAME_MAX + 1) : 0;

		if (len == 0 || len > PCE_SNAPSHOT_NAME_MAX || (sec[i].len && !sec[i].data))
			return PCE_EINVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(sec[i].name, sec[j].name) == 0)
				return PCE_EINVAL;
	}
	return 0;
}

/* The directory of @path and its last component, split at the last '/'. */
static int split_path(const char *path, char **dir, const char **base)
{
	const char *slash = strrchr(path, '/');
	size_t dl = slash ? (size_t)(slash - path) : 1;

	*dir = pce_alloc(dl + 1);
	if (!*dir)
		return PCE_ENOMEM;
	if (!slash)
		memcpy(*dir, ".", 2);
	else if (dl == 0)
		memcpy(*dir, "/", 2);
	else {
		memcpy(*dir, path, dl);
		(*dir)[dl] = '\0';
	}
	*base = slash ? slash + 1 : path;
	return 0;
}

/* Remove "<base>.tmp-<pid>-<n>" files of @dir left by writers that died
 * (their pid no longer exists).  Best effort: errors are ignored, since a
 * stray file never affects what a restore reads. */
static void remove_stale(const char *dir, const char *base)
{
	size_t bl = strlen(base);
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *s = de->d_name;
		char *end;
		long pid;

		if (strncmp(s, base, bl) != 0 || strncmp(s + bl, ".tmp-", 5) != 0)
			continue;
		pid = strtol(s + bl + 5, &end, 10);
		if (pid <= 0 || *end != '-' || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		(void)unlinkat(dirfd(d), s, 0);
	}
	closedir(d);
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) && errno != EINVAL) /* some filesystems cannot sync directories */
		rc = -errno;
	close(fd);
	return rc;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Everything after the header: the shards, the caller's sections, END. */
static int write_body(int fd, struct pce_cache *c, int router,
		      const struct pce_snapshot_section *sec, size_t n_sec)
{
	struct ser z = { .router = router };
	uint8_t end[5 * 8];
	int rc = 0;

	for (uint32_t i = 0; i <= c->shard_mask && !rc; i++) {
		struct pce_shard *s = &c->shard[i];
		uint64_t before = z.t.records;

		z.out.len = 0;
		pthread_mutex_lock(&s->lock);
		z.now = pce_now(c);
		rc = serialise_shard_locked(&z, s);
		pthread_mutex_unlock(&s->lock);
		z.sp = 0;
		if (!rc)
			rc = write_section(fd, SEC_SHARD, "", 0, z.out.p, z.out.len,
					   z.t.records - before);
	}
	for (size_t i = 0; i < n_sec && !rc; i++)
		rc = write_section(fd, SEC_USER, sec[i].name, strlen(sec[i].name), sec[i].data,
				   sec[i].len, 0);
	le64(end, z.t.namespaces);
	le64(end + 8, z.t.nodes);
	le64(end + 16, z.t.tokens);
	le64(end + 24, z.t.records);
	le64(end + 32, n_sec);
	if (!rc)
		rc = write_section(fd, SEC_END, "", 0, end, sizeof end, c->shard_mask + 1);
	pce_free(z.out.p);
	pce_free(z.stk);
	return rc;
}

static int snapshot_write(struct pce_cache *c, uint32_t kind, uint32_t block_size,
			  const char *path, const struct pce_snapshot_section *sec, size_t n_sec)
{
	static uint64_t seq;
	uint8_t h[HDR_BYTES] = { 0 };
	const char *base;
	char *dir, *tmp;
	size_t tl;
	int fd, rc;

	if (!path || *path == '\0')
		return PCE_EINVAL;
	if ((rc = check_sections(sec, n_sec)))
		return rc;
	if ((rc = split_path(path, &dir, &base)))
		return rc;
	tl = strlen(path) + 64;
	tmp = pce_alloc(tl);
	if (!tmp) {
		pce_free(dir);
		return PCE_ENOMEM;
	}
	remove_stale(dir, base);
	snprintf(tmp, tl, "%s.tmp-%ld-%llu", path, (long)getpid(),
		 (unsigned long long)__atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	memcpy(h, MAGIC, 8);
	le32(h + 8, PCE_SNAPSHOT_VERSION);
	le32(h + 12, kind);
	le32(h + 16, block_size);
	le32(h + 20, c->shard_mask + 1);
	le64(h + 32, realtime_ns());
	le32(h + 44, pce__crc32c(0, h, 44));
	rc = write_all(fd, h, sizeof h);
	if (!rc)
		rc = write_body(fd, c, kind == PCE_SNAPSHOT_ROUTER, sec, n_sec);
	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		(void)unlink(tmp);
	else
		rc = fsync_dir(dir);
out:
	pce_free(tmp);
	pce_free(dir);
	return rc;
}

int pce_cache_snapshot_write(struct pce_cache *cache, const char *path,
			     const struct pce_snapshot_section *sections, size_t n)
{
	if (!cache)
		return PCE_EINVAL;
	if (pce_cache_inherited(cache))
		return PCE_EFORKED;
	return snapshot_write(cache, PCE_SNAPSHOT_CACHE, cache->cfg.block_size, path, sections,
			      n);
}

int pce_router_snapshot_write(struct pce_router *r, const char *path,
			      const struct pce_snapshot_section *sections, size_t n)
{
	if (!r)
		return PCE_EINVAL;
	if (pce_cache_inherited(r->core))
		return PCE_EFORKED;
	return snapshot_write(r->core, PCE_SNAPSHOT_ROUTER, r->cfg.block_size, path, sections,
			      n);
}

/* ---- reading and checking ------------------------------------------------ */

static int read_file(const char *path, uint8_t **out, size_t *n)
{
	struct stat st;
	uint8_t *p;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = PCE_EBADSNAP;
		goto out;
	}
	p = pce_alloc(st.st_size ? (size_t)st.st_size : 1);
	if (!p) {
		rc = PCE_ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : PCE_EBADSNAP; /* shrank under us */
			pce_free(p);
			goto out;
		}
		got += (size_t)r;
	}
	*out = p;
	*n = got;
out:
	close(fd);
	return rc;
}

/* What restore does with each record; NULL callbacks: only check. */
struct walk {
	uint32_t kind;
	int (*entry)(struct walk *w, uint64_t ns, size_t len, uint64_t value, uint64_t kv,
		     uint64_t ttl);
	int (*owner)(struct walk *w, uint64_t ns, size_t len, uint32_t owner, uint32_t tier,
		     uint64_t ttl);
	void *index;      /* the index being built */
	uint32_t *path;   /* tokens from the root to the current node */
	size_t path_cap;
	struct {
		uint32_t left;  /* children still to read */
		size_t depth;   /* depth at which they start */
	} *stk;
	size_t stk_cap;
	struct totals t;
	char *why;        /* info->error, or NULL */
	size_t why_len;
};

/* A bounded reader: every read checks the room left first. */
struct rd {
	const uint8_t *p;
	size_t left;
};

static int take(struct rd *r, size_t n, const uint8_t **at)
{
	*at = NULL;
	if (r->left < n)
		return 0;
	*at = r->p;
	r->p += n;
	r->left -= n;
	return 1;
}

static int get32(struct rd *r, uint32_t *v)
{
	const uint8_t *at;
	if (!take(r, 4, &at))
		return 0;
	*v = rd32(at);
	return 1;
}

static int get64(struct rd *r, uint64_t *v)
{
	const uint8_t *at;
	if (!take(r, 8, &at))
		return 0;
	*v = rd64(at);
	return 1;
}

static int bad(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct walk *w, const char *fmt, ...)
{
	if (w->why && !w->why[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(w->why, w->why_len, fmt, ap);
		va_end(ap);
	}
	return PCE_EBADSNAP;
}

/* Grow an array of @elem-byte items to hold @want. */
static int grow(void **arr, size_t *cap, size_t want, size_t elem)
{
	size_t nc = *cap ? *cap : 64;
	void *p;

	if (want <= *cap)
		return 0;
	while (nc < want)
		nc *= 2;
	p = pce_alloc(nc * elem);
	if (!p)
		return PCE_ENOMEM;
	if (*cap)
		memcpy(p, *arr, *cap * elem);
	pce_free(*arr);
	*arr = p;
	*cap = nc;
	return 0;
}

static int read_record(struct walk *w, struct rd *r, uint64_t ns, size_t depth)
{
	const uint8_t *at;
	uint32_t n;

	if (w->kind == PCE_SNAPSHOT_CACHE) {
		uint64_t value, kv, ttl;

		if (!take(r, 1, &at))
			return bad(w, "node record cut short");
		if (*at > 1)
			return bad(w, "bad entry flag %u", *at);
		if (*at == 0)
			return 0;
		if (!get64(r, &value) || !get64(r, &kv) || !get64(r, &ttl))
			return bad(w, "entry cut short");
		if (ttl == 0 || kv > PCE_MAX_KV_BYTES)
			return bad(w, "bad entry ttl or kv_bytes");
		w->t.records++;
		return w->entry ? w->entry(w, ns, depth, value, kv, ttl) : 0;
	}
	if (!get32(r, &n) || n > r->left / MIN_OWNER)
		return bad(w, "owner list cut short");
	for (uint32_t i = 0; i < n; i++) {
		uint32_t owner;
		uint64_t ttl;
		int rc;

		if (!get32(r, &owner) || !take(r, 1, &at) || !get64(r, &ttl))
			return bad(w, "owner record cut short");
		if ((*at & ~OWNER_ENDS) >= PCE_TIERS || ttl == 0)
			return bad(w, "bad owner tier or ttl");
		w->t.records++;
		if (w->owner && (*at & OWNER_ENDS) &&
		    (rc = w->owner(w, ns, depth, owner, *at & ~OWNER_ENDS, ttl)))
			return rc;
	}
	return 0;
}

/* Walk one SHARD payload, calling the record callbacks in pre-order. */
static int walk_shard(struct walk *w, const uint8_t *p, size_t len)
{
	size_t min_node = w->kind == PCE_SNAPSHOT_CACHE ? MIN_NODE_CACHE : MIN_NODE_ROUTER;
	struct rd r = { p, len };
	uint32_t n_roots;
	int rc;

	if (!get32(&r, &n_roots) || n_roots > r.left / MIN_ROOT)
		return bad(w, "shard root list cut short");
	for (uint32_t k = 0; k < n_roots; k++) {
		uint64_t ns;
		uint32_t nch;
		size_t sp = 0;

		if (!get64(&r, &ns) || !get32(&r, &nch) || nch > r.left / min_node)
			return bad(w, "namespace root cut short");
		w->t.namespaces++;
		if (grow((void **)&w->stk, &w->stk_cap, 1, sizeof(*w->stk)))
			return PCE_ENOMEM;
		w->stk[sp].left = nch;
		w->stk[sp++].depth = 0;
		while (sp) {
			size_t d0 = w->stk[sp - 1].depth, depth;
			uint32_t len_, n;
			const uint8_t *at;

			if (w->stk[sp - 1].left == 0) {
				sp--;
				continue;
			}
			w->stk[sp - 1].left--;
			if (!get32(&r, &len_) || len_ == 0 || len_ > r.left / 4)
				return bad(w, "node edge cut short or empty");
			if (len_ > PCE_MAX_TOKENS - d0)
				return bad(w, "path longer than PCE_MAX_TOKENS");
			depth = d0 + len_;
			if (grow((void **)&w->path, &w->path_cap, depth, sizeof(uint32_t)))
				return PCE_ENOMEM;
			take(&r, (size_t)len_ * 4, &at);
			for (size_t i = 0; i < len_; i++)
				w->path[d0 + i] = rd32(at + 4 * i);
			w->t.nodes++;
			w->t.tokens += len_;
			if ((rc = read_record(w, &r, ns, depth)))
				return rc;
			if (!get32(&r, &n) || n > r.left / min_node)
				return bad(w, "child count cut short");
			if (grow((void **)&w->stk, &w->stk_cap, sp + 1, sizeof(*w->stk)))
				return PCE_ENOMEM;
			w->stk[sp].left = n;
			w->stk[sp++].depth = depth;
		}
	}
	if (r.left)
		return bad(w, "%zu stray bytes after the shard's tries", r.left);
	return 0;
}

/* A section as found in the file. */
struct section {
	uint32_t type;
	const char *name;
	size_t name_len;
	const uint8_t *payload;
	size_t len;
	uint64_t count;
};

/* The section at *@off, checksum verified; *@off moves past it. */
static int next_section(struct walk *w, const uint8_t *p, size_t n, size_t *off,
			struct section *s)
{
	size_t left = n - *off, whole;
	const uint8_t *h = p + *off;
	uint64_t plen;

	if (left < SEC_HDR_BYTES + CRC_BYTES)
		return bad(w, "truncated at byte %zu: section header cut short", *off);
	s->type = rd32(h);
	s->name_len = rd32(h + 4);
	plen = rd64(h + 8);
	s->count = rd64(h + 16);
	if (s->name_len > PCE_SNAPSHOT_NAME_MAX ||
	    s->name_len > left - SEC_HDR_BYTES - CRC_BYTES ||
	    plen > left - SEC_HDR_BYTES - CRC_BYTES - s->name_len)
		return bad(w, "truncated at byte %zu: section runs past the end of the file",
			   *off);
	s->len = (size_t)plen;
	whole = SEC_HDR_BYTES + s->name_len + s->len;
	if (pce__crc32c(0, h, whole) != rd32(h + whole))
		return bad(w, "checksum mismatch in the section at byte %zu", *off);
	s->name = (const char *)h + SEC_HDR_BYTES;
	s->payload = h + SEC_HDR_BYTES + s->name_len;
	*off += whole + CRC_BYTES;
	return 0;
}

/*
 * Check the whole file: header, every section's checksum and structure, the
 * END totals.  With @w's callbacks set, the index records are also replayed
 * (only after a check pass found the file intact).  Fills @info.
 */
static int walk_file(struct walk *w, const uint8_t *p, size_t n, struct pce_snapshot_info *info)
{
	size_t off = HDR_BYTES;
	uint64_t shards = 0;
	int rc, ended = 0;

	memset(info, 0, sizeof(*info));
	info->file_bytes = n;
	w->why = info->error;
	w->why_len = sizeof info->error;
	if (n < 12 || memcmp(p, MAGIC, 8) != 0)
		return bad(w, n < 8 ? "truncated: no header" : "not a libpce snapshot (bad magic)");
	info->version = rd32(p + 8);
	if (info->version == 0 || info->version > PCE_SNAPSHOT_VERSION)
		return bad(w, "format version %u; this libpce reads up to %u", info->version,
			   PCE_SNAPSHOT_VERSION);
	if (n < HDR_BYTES)
		return bad(w, "truncated: header cut short");
	if (pce__crc32c(0, p, 44) != rd32(p + 44))
		return bad(w, "header checksum mismatch");
	info->kind = rd32(p + 12);
	info->block_size = rd32(p + 16);
	info->shards = rd32(p + 20);
	info->written_at_ns = rd64(p + 32);
	if ((info->kind != PCE_SNAPSHOT_CACHE && info->kind != PCE_SNAPSHOT_ROUTER) ||
	    info->block_size == 0) {
		info->kind = 0;
		return bad(w, "unknown index kind or zero block size");
	}
	w->kind = info->kind;
	while (!ended) {
		struct section s;

		if (off == n)
			return bad(w, "truncated at byte %zu: no end section", off);
		if ((rc = next_section(w, p, n, &off, &s)))
			return rc;
		switch (s.type) {
		case SEC_SHARD: {
			uint64_t before = w->t.records;

			if (s.name_len)
				return bad(w, "shard section with a name");
			shards++;
			info->index_bytes += s.len;
			if ((rc = walk_shard(w, s.payload, s.len)))
				return rc;
			if (w->t.records - before != s.count)
				return bad(w, "shard section's record count is wrong");
			break;
		}
		case SEC_USER:
			if (s.name_len == 0 || memchr(s.name, '\0', s.name_len))
				return bad(w, "caller section with a bad name");
			info->sections++;
			info->section_bytes += s.len;
			break;
		case SEC_END:
			if (s.len != 40 || off != n || s.count != shards ||
			    rd64(s.payload) != w->t.namespaces || rd64(s.payload + 8) != w->t.nodes ||
			    rd64(s.payload + 16) != w->t.tokens ||
			    rd64(s.payload + 24) != w->t.records ||
			    rd64(s.payload + 32) != info->sections)
				return bad(w, off != n ? "bytes after the end section"
						       : "end section's totals do not match");
			ended = 1;
			break;
		default:
			return bad(w, "unknown section type %u", s.type);
		}
	}
	info->namespaces = w->t.namespaces;
	info->nodes = w->t.nodes;
	info->tokens = w->t.tokens;
	info->records = w->t.records;
	info->checksums_ok = 1;
	return 0;
}

/* Call @fn for each caller section of an intact file. */
static int each_section(const uint8_t *p, size_t n, pce_snapshot_section_fn fn, void *ctx)
{
	struct walk w = { 0 };
	size_t off = HDR_BYTES;
	char name[PCE_SNAPSHOT_NAME_MAX + 1];
	struct section s;
	int rc;

	while (off < n) {
		if ((rc = next_section(&w, p, n, &off, &s)))
			return rc;
		if (s.type != SEC_USER)
			continue;
		memcpy(name, s.name, s.name_len);
		name[s.name_len] = '\0';
		if ((rc = fn(ctx, name, s.payload, s.len)))
			return rc;
	}
	return 0;
}

static void walk_free(struct walk *w)
{
	pce_free(w->path);
	pce_free(w->stk);
}

int pce_snapshot_inspect(const char *path, struct pce_snapshot_info *info,
			 pce_snapshot_section_fn on_section, void *ctx)
{
	struct walk w = { 0 };
	uint8_t *p;
	size_t n;
	int rc;

	if (!path || !info)
		return PCE_EINVAL;
	memset(info, 0, sizeof(*info));
	if ((rc = read_file(path, &p, &n))) {
		if (rc == PCE_EBADSNAP)
			snprintf(info->error, sizeof info->error, "not a regular file");
		return rc;
	}
	rc = walk_file(&w, p, n, info);
	walk_free(&w);
	if (!rc && on_section)
		rc = each_section(p, n, on_section, ctx);
	pce_free(p);
	return rc;
}

/* ---- restore ------------------------------------------------------------- */

static int restore_entry(struct walk *w, uint64_t ns, size_t len, uint64_t value, uint64_t kv,
			 uint64_t ttl)
{
	struct pce_store_opts o = { .ttl_ns = ttl == TTL_NEVER ? PCE_NEVER : ttl };
	int rc = pce_cache_store(w->index, ns, w->path, len, value, kv, &o, NULL);

	return rc == PCE_EEXIST ? bad(w, "an entry is stored twice") : rc;
}

static int restore_owner(struct walk *w, uint64_t ns, size_t len, uint32_t owner,
			 uint32_t tier, uint64_t ttl)
{
	struct pce_router_add_opts o = { .ttl_ns = ttl == TTL_NEVER ? PCE_NEVER : ttl };
	struct pce_router *r = w->index;

	/* A record on a node that ends inside the first block: the owner's
	 * blocks end in a child, whose record is replayed. */
	if (len < r->cfg.block_size)
		return 0;
	return pce_router_add(r, owner, ns, w->path, len, tier, &o, NULL);
}

typedef int (*create_fn)(const void *cfg, void **out);
typedef void (*destroy_fn)(void *index);
typedef uint64_t (*evicted_fn)(void *index);

static int cache_create(const void *cfg, void **out)
{
	return pce_cache_create(cfg, (struct pce_cache **)out);
}

static void cache_destroy(void *c)
{
	(void)pce_cache_destroy(c);
}

static uint64_t cache_evicted(void *c)
{
	struct pce_stats st;
	return pce_cache_stats(c, &st) ? 1 : st.removed[PCE_REASON_CAPACITY];
}

static int router_create(const void *cfg, void **out)
{
	return pce_router_create(cfg, (struct pce_router **)out);
}

static void router_destroy(void *r)
{
	pce_router_destroy(r);
}

static uint64_t router_evicted(void *r)
{
	struct pce_router_stats st;
	return pce_router_stats_get(r, &st) ? 1 : st.removed[PCE_REASON_CAPACITY];
}

struct kind_ops {
	uint32_t kind;
	create_fn create;
	destroy_fn destroy;
	evicted_fn evicted;
};

static const struct kind_ops cache_ops = { PCE_SNAPSHOT_CACHE, cache_create, cache_destroy,
					   cache_evicted };
static const struct kind_ops router_ops = { PCE_SNAPSHOT_ROUTER, router_create,
					    router_destroy, router_evicted };

static int restore(const struct kind_ops *ops, const void *cfg, uint32_t block_size,
		   const char *path, pce_snapshot_section_fn on_section, void *ctx, void **out)
{
	struct pce_snapshot_info info;
	struct walk w = { 0 };
	void *index = NULL;
	uint8_t *p;
	size_t n;
	int rc;

	if ((rc = read_file(path, &p, &n)))
		return rc;
	rc = walk_file(&w, p, n, &info);
	walk_free(&w);
	if (!rc && info.kind != ops->kind)
		rc = PCE_EBADSNAP;
	if (!rc && info.block_size != block_size)
		rc = PCE_EINVAL;
	if (!rc)
		rc = ops->create(cfg, &index);
	if (!rc) {
		struct walk replay = { .kind = ops->kind, .index = index };
		size_t off = HDR_BYTES;
		struct section s;

		if (ops->kind == PCE_SNAPSHOT_CACHE)
			replay.entry = restore_entry;
		else
			replay.owner = restore_owner;
		while (!rc && off < n && !(rc = next_section(&replay, p, n, &off, &s)))
			if (s.type == SEC_SHARD)
				rc = walk_shard(&replay, s.payload, s.len);
		walk_free(&replay);
	}
	if (!rc && ops->evicted(index))
		rc = PCE_ENOSPC; /* the config's budgets could not hold it all */
	if (!rc && on_section)
		rc = each_section(p, n, on_section, ctx);
	pce_free(p);
	if (rc && index) {
		ops->destroy(index);
		index = NULL;
	}
	*out = index;
	return rc;
}

int pce_cache_snapshot_restore(const struct pce_config *cfg, const char *path,
			       pce_snapshot_section_fn on_section, void *ctx, struct pce_cache **out)
{
	void *c = NULL;
	int rc;

	if (!out)
		return PCE_EINVAL;
	*out = NULL;
	if (!cfg || !path)
		return PCE_EINVAL;
	if (pce_config_error(cfg))
		return PCE_EINVAL;
	rc = restore(&cache_ops, cfg, cfg->block_size, path, on_section, ctx, &c);
	*out = c;
	return rc;
}

int pce_router_snapshot_restore(const struct pce_router_config *cfg, const char *path,
				pce_snapshot_section_fn on_section, void *ctx,
				struct pce_router **out)
{
	void *r = NULL;
	int rc;

	if (!out)
		return PCE_EINVAL;
	*out = NULL;
	if (!cfg || !path)
		return PCE_EINVAL;
	if (pce_router_config_error(cfg))
		return PCE_EINVAL;
	rc = restore(&router_ops, cfg, cfg->block_size, path, on_section, ctx, &r);
	*out = r;
	return rc;
}
