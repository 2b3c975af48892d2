/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of snapshot files.
 *
 * Hand-written rather than taken from a library so that the core keeps its
 * dependencies (liburcu-bp, mimalloc, libc): x86-64's SSE4.2 crc32
 * instruction when the CPU has it (chosen once, at first use), else a
 * portable slicing-by-8 table walk.  Both give the same value: the one of
 * iSCSI (RFC 3720) and ext4, check value crc32c("123456789") = 0xe3069283.
 */
#ifndef PCE_CRC32C_H
#define PCE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of @p[0..@n) continuing @crc (0 to start).  Thread-safe. */
uint32_t pce__crc32c(uint32_t crc, const void *p, size_t n);

#endif /* PCE_CRC32C_H */
