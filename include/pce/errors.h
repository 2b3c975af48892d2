/*
 * pce/errors.h - libpce error codes.
 *
 * Every libpce function that can fail returns an int: 0 on success or one of
 * the negative codes below, each with exactly one cause.  Where a POSIX errno
 * fits, the code is that errno negated; libpce-specific codes live in a range
 * (-30800 and below) that no errno uses.  Values never change once released.
 * Nothing is reported through errno.
 */
#ifndef PCE_ERRORS_H
#define PCE_ERRORS_H

#include <errno.h>

#include "pce/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(name, value, message): the one list both the enum and the strings use. */
#define PCE_ERRNO_MAP(XX)                                                          \
	XX(EINVAL, -EINVAL, "invalid argument")                                    \
	XX(ENOMEM, -ENOMEM, "out of memory")                                       \
	XX(EEXIST, -EEXIST, "sequence is already stored")                          \
	XX(ENOENT, -ENOENT, "no entry stores exactly this sequence")               \
	XX(EBUSY, -EBUSY, "cache still has live pins")                             \
	XX(ENOSPC, -ENOSPC, "budget cannot hold the entry and nothing is evictable") \
	XX(ESTALE, -ESTALE, "pin was already released or its lease expired")       \
	XX(E2BIG, -E2BIG, "sequence is longer than PCE_MAX_TOKENS")                \
	XX(ESHORT, -30800, "sequence is shorter than min_prefix_len")              \
	XX(ENOPINS, -30801, "pin table is full")                                   \
	XX(ECORRUPT, -30802, "audit found a broken invariant")                     \
	XX(ETHREAD, -30803, "could not start the reclaim thread")                  \
	XX(EFORKED, -30804, "cache was created before fork(); only the parent can use it") \
	XX(EBADSNAP, -30805, "snapshot file is corrupt, truncated or of another format")  \
	XX(EIO, -EIO, "I/O error on a snapshot file")                              \
	XX(EEVBATCH, -30810, "malformed KV-event batch")                           \
	XX(EZMQ, -30811, "ZMQ socket could not be created, bound or connected")    \
	XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                     \
	XX(EUNAVAIL, -30820, "cluster tier: Redis is unreachable (circuit breaker open)")

enum pce_error {
	PCE_OK = 0,
#define PCE_ERR_ENUM_(name, value, msg) PCE_##name = (value),
	PCE_ERRNO_MAP(PCE_ERR_ENUM_)
#undef PCE_ERR_ENUM_
};

/*
 * pce_strerror - Human-readable message for a libpce return code.
 * Accepts any int; unknown codes give "unknown error".  Never NULL.
 */
PCE_API const char *pce_strerror(int err);

/*
 * pce_err_name - Symbolic name of a code ("PCE_ENOSPC"); "PCE_OK" for 0,
 * "PCE_EUNKNOWN" for codes libpce does not define.  Never NULL.
 */
PCE_API const char *pce_err_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* PCE_ERRORS_H */
