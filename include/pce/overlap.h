/*
 * pce/overlap.h - how much of a query one owner (a worker) holds.
 *
 * The result type of pce_router_match() (pce/router.h).  It is kept in a
 * header of its own because every index that answers "which worker holds
 * how much of this prompt" reports the same thing, whatever stores the
 * holdings (the in-process router index, or a cluster tier that shares one
 * index between gateways).
 */
#ifndef PCE_OVERLAP_H
#define PCE_OVERLAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Storage tiers an owner can hold a block in.  Tiers 4 to PCE_TIERS - 1
 * are the caller's to name. */
enum pce_tier {
	PCE_TIER_GPU = 0,
	PCE_TIER_CPU = 1,
	PCE_TIER_DISK = 2,
	PCE_TIER_REMOTE = 3
};

/* Number of tiers (valid tier values are 0 .. PCE_TIERS - 1). */
#define PCE_TIERS 8u

struct pce_overlap {
	uint32_t owner; /* the caller's worker id */
	uint32_t tier;  /* tier of the last matched block of its holding */
	size_t tokens;  /* leading tokens of the query it holds: whole blocks, >= 1 block */
	double score;   /* tokens x the weight of tier */
};

#ifdef __cplusplus
}
#endif

#endif /* PCE_OVERLAP_H */
