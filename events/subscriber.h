/*
 * events/subscriber.h - what other modules of libpce_events and the
 * benchmark need of the subscriber beyond pce/events.h: feeding a batch as
 * if endpoint @endpoint's SUB socket had received it (same lock, same state
 * machine), without sockets; and running a function while no batch is
 * applied (events/sub_snapshot.c).
 */
#ifndef PCE_EVENTS_SUBSCRIBER_H
#define PCE_EVENTS_SUBSCRIBER_H

#include <stddef.h>
#include <stdint.h>

#include "pce/events.h"

/* Return: 0, or PCE_EINVAL for a bad argument. */
int pce__sub_feed(struct pce_subscriber *s, size_t endpoint, uint64_t seq, const void *payload,
		  size_t len);

/* Called with the subscriber's lock held: @blob is pce_subscriber_export()'s
 * blob of the state at that instant, valid for the call only. */
typedef int (*pce__sub_paused_fn)(void *ctx, struct pce_router *router, const void *blob,
				  size_t len);

/*
 * pce__sub_paused - Hold the lock the subscriber's thread takes to apply a
 * batch (so it applies none), export the state and call @fn with it and the
 * router.  @s must not be NULL.
 * Return: @fn's return, or PCE_ENOMEM (the export; @fn not called).
 */
int pce__sub_paused(struct pce_subscriber *s, pce__sub_paused_fn fn, void *ctx);

/*
 * pce__sub_blob_resume - Set resume and resume_seq of each of the @n
 * endpoints @eps whose last applied sequence number @blob records (the
 * others are left as they are).  Reads the blob's header only: its checksum
 * is verified by the import (pce_subscriber_create() with it as
 * import_blob), which refuses a blob whose header was read wrong.
 * Return: 0; PCE_EBADSNAP the header is malformed; PCE_EINVAL it records
 * another number of endpoints.
 */
int pce__sub_blob_resume(const void *blob, size_t len, struct pce_subscriber_endpoint *eps,
			 size_t n);

#endif /* PCE_EVENTS_SUBSCRIBER_H */
