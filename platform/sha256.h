/* sha256.h — SHA-256 (FIPS 180-4), used to store ACL passwords as Redis
 * does: the hex digest of the cleartext. Streaming interface plus a
 * one-call hex helper.
 */
#ifndef CB_SHA256_H
#define CB_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct cb_sha256 {
    uint32_t h[8];
    uint64_t total;     /* bytes fed so far */
    uint8_t buf[64];
    size_t used;        /* bytes in buf */
} cb_sha256;

void sha256_init(cb_sha256 *s);
void sha256_update(cb_sha256 *s, const void *data, size_t len);
/* Writes the 32-byte digest; s must be re-initialised before reuse. */
void sha256_final(cb_sha256 *s, uint8_t out[32]);
/* Lower-case hex digest of data into out (64 chars + NUL). */
void sha256_hex(const void *data, size_t len, char out[65]);

#endif
