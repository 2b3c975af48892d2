/*
 * pce/snapshot.h - libpce snapshots: the whole index of a pce_cache or a
 * pce_router in one file, and a warm restart from it.
 *
 * Write
 *   pce_cache_snapshot_write() / pce_router_snapshot_write() write the index,
 *   plus any sections of the caller's own (named byte strings stored in the
 *   same file, so that a layer above the index saves its state atomically
 *   with it), to a temporary file in the target's directory, fsync it,
 *   rename it over the target and fsync the directory.  A crash at any
 *   instant leaves either the previous file or the new one at @path, never
 *   a mix.  A crash may leave a temporary file "<path>.tmp-<pid>-<n>" behind:
 *   restores never read it, and the next write to the same @path removes
 *   every such file whose writing process no longer exists.
 *
 * Consistency
 *   Each shard is copied while its writer lock is held, so the file holds,
 *   per shard, exactly the shard's state at one instant (a consistent cut
 *   per shard); shards are copied one after the other, so changes made to
 *   one shard while another is being copied may or may not be in the file.
 *   All entries (holdings) of a namespace that share a first token live in
 *   one shard.  Lookups and matches run throughout; writers of a shard wait
 *   while it is copied (a copy is a walk of the shard's trie into memory:
 *   the file I/O happens after the lock is released).
 *
 * Contents
 *   A cache: every live entry: namespace, tokens, value, kv_bytes and its
 *   remaining TTL (relative to the write, or "never").  Entries whose TTL
 *   has ended are left out.  Not kept: pins, CLOCK state, entry ids (a
 *   restored entry gets a new id), statistics, the config.
 *   A router: every live holding: owner, namespace, path, tier of each
 *   block and remaining TTL, written as one pre-order walk of each trie
 *   (shared prefixes once).  Not kept: CLOCK state, statistics, the config.
 *   Remaining TTLs are measured with the index's clock at the write and
 *   restarted with the new index's clock at the restore.
 *
 * Restore
 *   pce_cache_snapshot_restore() / pce_router_snapshot_restore() create a NEW
 *   index from a config and fill it from the file, then hand each caller
 *   section to a callback.  Nothing is half-loaded: on any failure the new
 *   index is destroyed (values restored into a cache so far are handed to
 *   config.on_release with PCE_REASON_DESTROYED) and *@out stays NULL.  The
 *   whole file is read and every checksum verified before anything is
 *   built.  The config may have another shard count than the writer's; its
 *   block_size must equal the file's.  Restoring stores entries (adds
 *   holdings) one at a time, so config.on_event sees a STORED event for
 *   each.
 *
 * Format: docs/design.md, "Snapshots".  Little-endian, versioned, CRC-32C
 * per section.
 *
 * Errors
 *   PCE_EBADSNAP: the file is not a snapshot, is truncated, corrupt (a
 *   checksum or a structure check failed), of the other kind (a cache file
 *   given to a router restore, or the reverse), or of a format version newer
 *   than PCE_SNAPSHOT_VERSION.  I/O failures return the failing system
 *   call's errno negated: PCE_EIO, PCE_ENOENT (no such file), PCE_ENOSPC (disk
 *   full) and PCE_ENOMEM are in pce/errors.h; any other (-EACCES, -EROFS,
 *   -EDQUOT...) is returned as -errno, which pce_strerror() calls "unknown
 *   error" and strerror(-rc) names.
 */
#ifndef PCE_SNAPSHOT_H
#define PCE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "pce/cache.h"
#include "pce/errors.h"
#include "pce/router.h"
#include "pce/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The newest file format version this libpce writes and reads. */
#define PCE_SNAPSHOT_VERSION 1u
/* Longest caller section name, in bytes (no NUL). */
#define PCE_SNAPSHOT_NAME_MAX 63u

enum pce_snapshot_kind {
	PCE_SNAPSHOT_CACHE = 1,
	PCE_SNAPSHOT_ROUTER = 2
};

/* A caller section: @name (1..PCE_SNAPSHOT_NAME_MAX bytes, NUL-terminated,
 * unique within a file) and @len bytes at @data (may be NULL when @len is 0). */
struct pce_snapshot_section {
	const char *name;
	const void *data;
	size_t len;
};

/* Receives one caller section at restore (after the index is built), or at
 * inspect; @name and @data are valid for the call only.  A non-zero return
 * fails the restore (the index is destroyed) and is returned by it. */
typedef int (*pce_snapshot_section_fn)(void *ctx, const char *name, const void *data,
				       size_t len);

/*
 * pce_cache_snapshot_write - Write @cache and @n sections to @path
 * (see the file comment).
 * Return: 0; PCE_EINVAL NULL @cache or @path, NULL @sections with @n > 0, a
 * bad or duplicate section name, NULL data with len > 0; PCE_ENOMEM; an
 * I/O error (-errno, see Errors).  On any error @path is unchanged and no
 * temporary file is left.
 */
PCE_API int pce_cache_snapshot_write(struct pce_cache *cache, const char *path,
				     const struct pce_snapshot_section *sections, size_t n);

/*
 * pce_cache_snapshot_restore - A new cache from @cfg, filled from @path.
 * @on_section: NULL (caller sections are skipped), or called for each.
 * @out: receives the cache; NULL on error.
 * Return: 0; PCE_EBADSNAP; PCE_EINVAL NULL argument, invalid @cfg, or a
 * @cfg.block_size other than the file's; an error of pce_cache_create()
 * or of pce_cache_store() of an entry (PCE_ESHORT: an entry is shorter
 * than @cfg.min_prefix_len; PCE_ENOMEM); PCE_ENOSPC the budgets of @cfg
 * cannot hold every entry; a non-zero return of @on_section; an I/O error.
 */
PCE_API int pce_cache_snapshot_restore(const struct pce_config *cfg, const char *path,
				       pce_snapshot_section_fn on_section, void *ctx,
				       struct pce_cache **out);

/* As pce_cache_snapshot_write(), for a router index. */
PCE_API int pce_router_snapshot_write(struct pce_router *r, const char *path,
				      const struct pce_snapshot_section *sections, size_t n);

/*
 * pce_router_snapshot_restore - A new router from @cfg, filled from @path.
 * As pce_cache_snapshot_restore(); PCE_ENOSPC: @cfg.index_budget cannot
 * hold every holding.
 */
PCE_API int pce_router_snapshot_restore(const struct pce_router_config *cfg, const char *path,
					pce_snapshot_section_fn on_section, void *ctx,
					struct pce_router **out);

/* What pce_snapshot_inspect() found. */
struct pce_snapshot_info {
	uint32_t version;        /* format version of the file */
	uint32_t kind;           /* enum pce_snapshot_kind; 0 if unreadable */
	uint32_t block_size;     /* of the index written */
	uint32_t shards;         /* of the index written */
	uint64_t written_at_ns;  /* CLOCK_REALTIME of the write, ns since the epoch */
	uint64_t file_bytes;
	uint64_t index_bytes;    /* bytes of the index's sections */
	uint64_t section_bytes;  /* bytes of the caller sections' data */
	uint64_t namespaces;     /* namespace tries (one per namespace and shard) */
	uint64_t nodes;          /* trie nodes written (roots excluded) */
	uint64_t tokens;         /* edge tokens written */
	uint64_t records;        /* cache: entries; router: (owner, node) records */
	uint64_t sections;       /* caller sections */
	int checksums_ok;        /* 1: every checksum matched */
	char error[160];         /* why the file is refused; "" when it is not */
};

/*
 * pce_snapshot_inspect - Read and check @path without loading it: every
 * checksum and the structure of the index, as a restore would.
 * @on_section: NULL, or called for each caller section (in file order,
 * only when the whole file is intact).
 * Return: 0 the file is intact (a restore of its kind would read it);
 * PCE_EBADSNAP (@info says why, and what was read before); PCE_EINVAL NULL
 * @path or @info; PCE_ENOMEM; an I/O error.
 */
PCE_API int pce_snapshot_inspect(const char *path, struct pce_snapshot_info *info,
				 pce_snapshot_section_fn on_section, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* PCE_SNAPSHOT_H */
