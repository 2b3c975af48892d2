/*
 * keys.c - the key schema of the cluster tier.
 *
 *   <prefix>:{<ns>}:r          registry hash: node_id -> "epoch:lease_deadline_ms"
 *   <prefix>:{<ns>}:b          boot token string (no TTL)
 *   <prefix>:{<ns>}:c:<id>     chunk hash: "<node_id>/<owner>" -> epoch
 *
 * <ns> is the namespace as 16 lower-case hex digits, <id> a chunk id as 32
 * (hi then lo); node ids, owners and epochs are decimal.  Every key of a
 * namespace carries the same hash tag {<ns>}, so all of them live in one
 * Redis Cluster slot: a lookup script may touch them all, and a write batch
 * goes to one node.  Pure functions; any thread.
 */
#include <stdio.h>

#include "cluster.h"

static size_t tag(char *buf, const char *prefix, uint64_t ns, const char *rest)
{
	return (size_t)snprintf(buf, PCE__KEY_MAX, "%s:{%016llx}:%s", prefix,
				(unsigned long long)ns, rest);
}

size_t pce__key_chunk(char *buf, const char *prefix, uint64_t ns, const struct pce_chunk_id *id)
{
	char rest[40];

	snprintf(rest, sizeof(rest), "c:%016llx%016llx", (unsigned long long)id->hi,
		 (unsigned long long)id->lo);
	return tag(buf, prefix, ns, rest);
}

size_t pce__key_registry(char *buf, const char *prefix, uint64_t ns)
{
	return tag(buf, prefix, ns, "r");
}

size_t pce__key_boot(char *buf, const char *prefix, uint64_t ns)
{
	return tag(buf, prefix, ns, "b");
}

uint16_t pce__key_ns_slot(const char *prefix, uint64_t ns)
{
	char k[PCE__KEY_MAX];

	return pce__slot_of(k, pce__key_registry(k, prefix, ns));
}
