/*
 * events/sub_snapshot.c - warm restart: a router index and the subscriber
 * that feeds it, in one snapshot file, and both restored from it.
 *
 * Write.  pce__sub_paused() holds the lock under which the subscriber's
 * thread applies batches, exports the block maps and sequence numbers, and
 * pce_router_snapshot_write() copies the router (each shard under its writer
 * lock) and writes the file with the blob as the caller section
 * PCE_SUBSCRIBER_SECTION, all before the lock is released.  So no batch of
 * the subscriber lands between the router's cut and the blob's: the file's
 * holdings of the subscriber's owners are what its maps describe, as of the
 * sequence numbers it records.  The lock is held through the file I/O (the
 * write cannot hand the copy back before writing it); live batches wait in
 * the SUB sockets' queues meanwhile, and a write longer than those queues
 * hold shows up as a gap, recovered by replay like any other.
 *
 * Restore.  pce_router_snapshot_restore() reads and checks the whole file
 * before building the router, and hands the section to on_section(), which
 * keeps a copy.  The endpoints are resumed from the blob's sequence numbers
 * and the subscriber is created with the blob as import_blob; if that
 * fails, the router is destroyed: the caller gets both or neither.
 */
#include <stdlib.h>
#include <string.h>

#include "pce/events.h"
#include "pce/snapshot.h"
#include "subscriber.h"

static int write_paused(void *ctx, struct pce_router *router, const void *blob, size_t len)
{
	struct pce_snapshot_section sec = {.name = PCE_SUBSCRIBER_SECTION, .data = blob, .len = len};

	return pce_router_snapshot_write(router, (const char *)ctx, &sec, 1);
}

int pce_subscriber_snapshot_write(struct pce_subscriber *s, const char *path)
{
	if (!s || !path)
		return PCE_EINVAL;
	return pce__sub_paused(s, write_paused, (void *)path);
}

struct blob {
	void *p;
	size_t len;
};

static int on_section(void *ctx, const char *name, const void *data, size_t len)
{
	struct blob *b = ctx;

	if (strcmp(name, PCE_SUBSCRIBER_SECTION))
		return 0; /* another layer's section */
	b->p = malloc(len ? len : 1);
	if (!b->p)
		return PCE_ENOMEM;
	memcpy(b->p, data, len);
	b->len = len;
	return 0;
}

int pce_subscriber_snapshot_restore(const struct pce_router_config *rcfg, const char *path,
				    const struct pce_subscriber_config *cfg,
				    struct pce_router **router, struct pce_subscriber **sub)
{
	struct blob b = {0};
	struct pce_router *r = NULL;
	struct pce_subscriber_endpoint *eps = NULL;
	struct pce_subscriber_config c;
	int rc;

	if (router)
		*router = NULL;
	if (sub)
		*sub = NULL;
	if (!rcfg || !path || !cfg || !router || !sub || cfg->router || cfg->import_blob ||
	    !cfg->endpoints || !cfg->n_endpoints || rcfg->block_size != cfg->block_size)
		return PCE_EINVAL;
	eps = calloc(cfg->n_endpoints, sizeof(*eps));
	if (!eps)
		return PCE_ENOMEM;
	rc = pce_router_snapshot_restore(rcfg, path, on_section, &b, &r);
	if (!rc && !b.p)
		rc = PCE_EBADSNAP; /* a router snapshot, but not a subscriber's */
	if (!rc) {
		memcpy(eps, cfg->endpoints, cfg->n_endpoints * sizeof(*eps));
		rc = pce__sub_blob_resume(b.p, b.len, eps, cfg->n_endpoints);
	}
	if (!rc) {
		c = *cfg;
		c.router = r;
		c.endpoints = eps;
		c.import_blob = b.p;
		c.import_len = b.len;
		rc = pce_subscriber_create(&c, sub);
	}
	if (rc) {
		pce_router_destroy(r);
		*sub = NULL;
	} else {
		*router = r;
	}
	free(b.p);
	free(eps);
	return rc;
}
