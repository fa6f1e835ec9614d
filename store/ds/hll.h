/* hll.h — HyperLogLog sketches stored in plain byte strings, laid out exactly
 * as Redis 7.0 lays them out so a value written by either server counts the
 * same on the other (GET / SET / RESTORE carry the bytes unchanged).
 *
 * Layout: a 16-byte header ("HYLL", encoding byte, 3 zero bytes, 8-byte
 * little-endian cached cardinality whose top bit marks it stale), then 16384
 * 6-bit registers, either dense (packed, 12288 bytes) or sparse (run-length
 * opcodes ZERO / XZERO / VAL). Elements hash with MurmurHash64A; the low 14
 * bits pick the register, the rank of the first set bit of the rest is the
 * value. The estimator is Ertl's improved one (arXiv:1702.01284).
 * Knows nothing of RESP or the keyspace; strings are cbstr.
 */
#ifndef CB_HLL_H
#define CB_HLL_H

#include <stddef.h>
#include <stdint.h>
#include "cbstr.h"

#define HLL_P 14
#define HLL_REGISTERS (1 << HLL_P)
#define HLL_Q (64 - HLL_P)
#define HLL_BITS 6
#define HLL_REG_MAX ((1 << HLL_BITS) - 1)
#define HLL_HDR_SIZE 16
#define HLL_DENSE_SIZE (HLL_HDR_SIZE + (HLL_REGISTERS * HLL_BITS + 7) / 8)
#define HLL_ENC_DENSE 0
#define HLL_ENC_SPARSE 1

/* Redis's 64-bit MurmurHash64A over len bytes with the given seed. */
uint64_t hll_murmur64a(const void *key, size_t len, uint64_t seed);
/* Register index and rank (1..51) an element maps to. */
int hll_pattern(const void *ele, size_t len, long *index);

/* A new, empty sparse sketch (18 bytes, cached cardinality 0). */
cbstr hll_new(void);
/* 1 when the bytes have the header of a sketch: magic, a known encoding and,
 * when dense, the exact dense size. Sparse payloads are checked lazily. */
int hll_header_ok(const char *p, size_t len);
int hll_encoding(const char *p);

/* Cached cardinality: 1 and *card set when valid. */
int hll_cache_get(const char *p, uint64_t *card);
void hll_cache_set(char *p, uint64_t card);
void hll_cache_invalidate(char *p);

/* Adds an element. Returns 1 when a register changed, 0 when not, -1 when the
 * sparse payload is corrupt. *s may move (growth, promotion to dense).
 * sparse_max: hll-sparse-max-bytes. */
int hll_add(cbstr *s, const void *ele, size_t len, long long sparse_max);
/* Raises register index to at least val; same returns as hll_add. */
int hll_set(cbstr *s, long index, uint8_t val, long long sparse_max);
/* Sparse to dense in place (no-op when dense). 0 ok, -1 corrupt. */
int hll_to_dense(cbstr *s);
/* Register i of a dense sketch's register area. */
uint8_t hll_dense_get(const uint8_t *regs, long i);

/* Estimated cardinality of a sketch; -1 when the sparse payload is corrupt. */
int hll_count(const char *p, size_t len, uint64_t *card);
/* Cardinality of a raw register array (one byte per register). */
uint64_t hll_count_raw(const uint8_t *regs);
/* max[i] = max(max[i], register i of the sketch). 0 ok, -1 corrupt. */
int hll_merge_max(uint8_t *max, const char *p, size_t len);
/* Sparse opcodes as text ("z:N Z:N v:V,N", space separated); caller frees. */
cbstr hll_sparse_decode(const char *p, size_t len);

#endif
