/*
 * events/subscriber.h - what the benchmark needs of the subscriber beyond
 * pce/events.h: feeding a batch as if endpoint @endpoint's SUB socket had
 * received it (same lock, same state machine), without sockets.
 */
#ifndef PCE_EVENTS_SUBSCRIBER_H
#define PCE_EVENTS_SUBSCRIBER_H

#include <stddef.h>
#include <stdint.h>

#include "pce/events.h"

/* Return: 0, or PCE_EINVAL for a bad argument. */
int pce__sub_feed(struct pce_subscriber *s, size_t endpoint, uint64_t seq, const void *payload,
		  size_t len);

#endif /* PCE_EVENTS_SUBSCRIBER_H */
