/*
 * index_pce.h - the libpce index with a caller's configuration, for the
 * experiments that need budgets, policies or shard counts (eviction, writer
 * skew, trace replay).  index_pce_ops.create uses pce_config_init()'s
 * defaults.
 */
#ifndef BENCH_INDEX_PCE_H
#define BENCH_INDEX_PCE_H

#include <pce/pce.h>

#include "index.h"

/* KV bytes per token the suite declares: fp16 K and V of a Llama-3-8B-sized
 * model (32 layers x 8 KV heads x 128 dims x 2 x 2 bytes). */
#define BENCH_KV_BYTES_PER_TOKEN 131072u

int index_pce_create_cfg(const struct pce_config *cfg, struct bench_index **out);
struct pce_cache *index_pce_cache(struct bench_index *ix);

#endif /* BENCH_INDEX_PCE_H */
