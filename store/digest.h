/* digest.h — DEBUG DIGEST and DEBUG DIGEST-VALUE: a 20-byte fingerprint of
 * the dataset (or of single values) computed exactly as Redis 7.0 computes
 * it, so a test can compare our keyspace with a real redis-server's. Also
 * the SHA-1 (FIPS 180-4) the fingerprint is built from.
 */
#ifndef CB_DIGEST_H
#define CB_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#include "object.h"
#include "db.h"

/* Incremental SHA-1. */
typedef struct cb_sha1_ctx {
    uint32_t h[5];
    uint64_t nbytes;
    unsigned char buf[64];
    size_t buflen;
} cb_sha1_ctx;

void sha1_init(cb_sha1_ctx *ctx);
void sha1_update(cb_sha1_ctx *ctx, const void *p, size_t len);
void sha1_final(cb_sha1_ctx *ctx, unsigned char out[20]);
/* One-shot SHA-1 of len bytes. */
void sha1(const void *p, size_t len, unsigned char out[20]);

/* Dataset digest over every db of every shard (dbs with the same index in
 * different shards count as one db). Logically expired keys still in the
 * dicts are included, as Redis does. All zeros for an empty dataset. */
void digest_dataset(cb_shard **shards, int nshards, unsigned char out[20]);
/* Digest of a value (type + contents), as DIGEST-VALUE of a key without TTL. */
void digest_value(const cb_obj *o, unsigned char out[20]);
/* DIGEST-VALUE of a key: the value digest, marked when the key has a TTL. */
void digest_object(const cb_obj *o, int has_expire, unsigned char out[20]);
/* 40 lower-case hex chars plus a NUL. */
void digest_to_hex(const unsigned char d[20], char hex[41]);

#endif
