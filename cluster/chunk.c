/*
 * chunk.c - chained chunk ids: the names under which the cluster tier
 * publishes prefixes.
 *
 * A prompt in namespace ns is cut into whole chunks of C tokens; chunk i's
 * id covers chunk i and, through the chain, everything before it:
 *
 *   id_0 = H(ns)                       (the root, never published)
 *   id_i = H(id_{i-1} || tokens of chunk i)      i >= 1
 *
 * so equal ids mean equal prefixes (up to 128-bit collisions), and a node
 * publishing chunk i of a prefix never needs the tokens again.  H is keyed
 * by the cluster secret: without it, ids reveal nothing about the tokens
 * (no dictionary of common prompts can be hashed and compared).
 *
 *   XXH3_128: XXH3-128 with a 192-byte secret generated from the cluster
 *             secret (XXH3_generateSecret); fast (tens of GB/s).
 *   SHA256_128: the first 16 bytes of SHA-256(secret || input), for
 *             deployments where tenants sharing a Redis distrust each other
 *             (XXH3 is not a cryptographic MAC); about 1 GB/s with SHA-NI.
 *
 * Input bytes: ns as 8 little-endian bytes; an id as lo then hi, each 8
 * little-endian bytes; tokens as 4 little-endian bytes each.  So every
 * host computes the same ids (tests/cluster golden vectors pin them).
 * Stateless once initialised: any thread may hash concurrently.
 */
#include <string.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#ifdef PCE_CLUSTER_HAVE_CRYPTO
#include <openssl/evp.h>
#endif

#include "cluster.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "chunk.c serialises tokens by memcpy: add a byte swap for big-endian hosts"
#endif

int pce__hasher_init(struct pce__hasher *h, enum pce_cluster_hash kind, const void *secret,
		     size_t len)
{
	memset(h, 0, sizeof(*h));
	h->kind = kind;
	if (kind == PCE_CLUSTER_XXH3_128) {
		if (XXH3_generateSecret(h->secret, sizeof(h->secret), secret, len) != XXH_OK)
			return PCE_EINVAL;
		h->secret_len = sizeof(h->secret);
		return 0;
	}
#ifdef PCE_CLUSTER_HAVE_CRYPTO
	if (kind == PCE_CLUSTER_SHA256_128 && len <= 64) {
		memcpy(h->secret, secret, len);
		h->secret_len = len;
		return 0;
	}
#endif
	return PCE_EINVAL;
}

static void id_bytes(const struct pce_chunk_id *id, unsigned char out[16])
{
	memcpy(out, &id->lo, 8);
	memcpy(out + 8, &id->hi, 8);
}

#ifdef PCE_CLUSTER_HAVE_CRYPTO
/* SHA-256(secret || a || b), first 16 bytes, in @ctx (one for a whole
 * chain: a context per id cost an allocation and a digest fetch per
 * chunk).  Only allocation can fail here; an all-zero id then matches
 * nothing that was published, which costs a miss and no wrong answer. */
static void sha_id(EVP_MD_CTX *ctx, const struct pce__hasher *h, const void *a, size_t alen,
		   const void *b, size_t blen, struct pce_chunk_id *out)
{
	unsigned char md[32];

	memset(md, 0, sizeof(md));
	/* After the first id, a NULL type reuses the context's digest: no
	 * fetch per chunk (OpenSSL 3). */
	if (ctx && EVP_DigestInit_ex(ctx, EVP_MD_CTX_get0_md(ctx) ? NULL : EVP_sha256(),
				     NULL) == 1) {
		EVP_DigestUpdate(ctx, h->secret, h->secret_len);
		EVP_DigestUpdate(ctx, a, alen);
		if (blen)
			EVP_DigestUpdate(ctx, b, blen);
		EVP_DigestFinal_ex(ctx, md, NULL);
	}
	memcpy(&out->lo, md, 8);
	memcpy(&out->hi, md + 8, 8);
}

static void sha_chain(const struct pce__hasher *h, uint64_t ns, const uint32_t *tokens, size_t n,
		      size_t chunk, struct pce_chunk_id *ids)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	struct pce_chunk_id prev;
	unsigned char b[16];

	memcpy(b, &ns, 8);
	sha_id(ctx, h, b, 8, NULL, 0, &prev);
	for (size_t i = 0; i < n; i++) {
		id_bytes(&prev, b);
		sha_id(ctx, h, b, sizeof(b), tokens + i * chunk, chunk * sizeof(*tokens), &ids[i]);
		prev = ids[i];
	}
	EVP_MD_CTX_free(ctx);
}
#endif

static void root_id(const struct pce__hasher *h, uint64_t ns, struct pce_chunk_id *out)
{
	unsigned char b[8];

	memcpy(b, &ns, 8);
	XXH128_hash_t r = XXH3_128bits_withSecret(b, sizeof(b), h->secret, h->secret_len);
	out->lo = r.low64;
	out->hi = r.high64;
}

void pce__chunk_chain(const struct pce__hasher *h, uint64_t ns, const uint32_t *tokens, size_t n,
		      size_t chunk, struct pce_chunk_id *ids)
{
	struct pce_chunk_id prev;
	unsigned char pb[16];
	XXH3_state_t st;

#ifdef PCE_CLUSTER_HAVE_CRYPTO
	if (h->kind == PCE_CLUSTER_SHA256_128) {
		sha_chain(h, ns, tokens, n, chunk, ids);
		return;
	}
#endif
	root_id(h, ns, &prev);
	for (size_t i = 0; i < n; i++) {
		id_bytes(&prev, pb);
		XXH3_128bits_reset_withSecret(&st, h->secret, h->secret_len);
		XXH3_128bits_update(&st, pb, sizeof(pb));
		XXH3_128bits_update(&st, tokens + i * chunk, chunk * sizeof(*tokens));
		XXH128_hash_t r = XXH3_128bits_digest(&st);
		ids[i].lo = r.low64;
		ids[i].hi = r.high64;
		prev = ids[i];
	}
}
