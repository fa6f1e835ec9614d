/* util.h — small pure helpers shared by every layer: strict number parsing and
 * formatting with Redis's exact rules, glob matching, hashing, clocks.
 * Nothing here keeps state, so any thread may call anything (only
 * util_str2d allocates, transiently, for inputs over CB_LD2STR_MAX bytes).
 */
#ifndef CB_UTIL_H
#define CB_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Longest text util_d2str/util_ld2str can produce, NUL included. */
#define CB_D2STR_MAX 128
#define CB_LL2STR_MAX 24
/* Room util_ld2str_human may need for any finite long double (%.17Lf of
 * LDBL_MAX is ~4,950 chars), as Redis's MAX_LONG_DOUBLE_CHARS. */
#define CB_LD2STR_MAX 5120

/* Strict integer parse: optional '-', digits, no spaces, no '+', no leading
 * zeros (but "0"), must fit in long long. 1 on success, 0 otherwise. */
int util_str2ll(const char *s, size_t len, long long *out);
/* Same rules for unsigned values. */
int util_str2ull(const char *s, size_t len, unsigned long long *out);
/* Writes v in decimal with a NUL; returns the length. */
size_t util_ll2str(char *dst, size_t dstlen, long long v);
size_t util_ull2str(char *dst, size_t dstlen, unsigned long long v);

/* Parse a double as Redis's string2d: no leading/trailing space, no NaN,
 * the whole string consumed, "inf"/"-inf"/"+inf" accepted. 1 ok, 0 bad. */
int util_str2d(const char *s, size_t len, double *out);
/* Parse a long double as Redis's string2ld (INCRBYFLOAT): rejects NaN,
 * leading/trailing spaces, empty. 1 ok, 0 bad. */
int util_str2ld(const char *s, size_t len, long double *out);

/* Format a double as Redis 7.0 replies do: "%.17g", "inf", "-inf". */
size_t util_d2str(char *buf, size_t len, double v);
/* Format a long double as Redis's ld2string in human mode (INCRBYFLOAT):
 * "%.17Lf" with trailing zeros and a trailing dot removed, "-0" -> "0".
 * Returns 0 when v is not finite. */
size_t util_ld2str_human(char *buf, size_t len, long double v);

/* Redis glob-style match (*, ?, [a-z], [^x], \ escapes). 1 match, 0 no. */
int util_globmatch(const char *pat, size_t patlen, const char *s, size_t slen,
                   int nocase);

/* CRC16 (XMODEM) as used by Redis Cluster slots. */
uint16_t util_crc16(const char *buf, size_t len);
/* Hash slot 0..16383 of a key, honouring the first non-empty {tag}. */
unsigned util_key_slot(const char *key, size_t len);

/* Keyed 64-bit hash (SipHash-1-2) of a byte string; case-insensitive variant. */
uint64_t util_hash(const void *p, size_t len, const uint8_t seed[16]);
uint64_t util_hash_nocase(const void *p, size_t len, const uint8_t seed[16]);

/* xorshift-style PRNG over caller-owned state (never zero). */
uint64_t util_rand64(uint64_t *state);
/* Fill buf with bytes from the OS random source (falls back to time+pid). */
void util_random_bytes(void *buf, size_t len);
/* Lower-case hex of random bytes: writes len chars plus a NUL. */
void util_random_hex(char *buf, size_t len);

/* Redis's bytesToHuman: "123B", "1.50K", "2.00M", "3.10G" ... */
size_t util_bytes_human(char *buf, size_t len, unsigned long long n);

/* Wall clock in microseconds / milliseconds since the epoch. */
long long util_ustime(void);
long long util_mstime(void);
/* Monotonic clock in microseconds. */
uint64_t util_monotonic_us(void);

/* ASCII case-insensitive equality of a byte slice with a C string. */
int util_eq_nocase(const char *p, size_t len, const char *cstr);

/* Parse "100", "1k", "1kb", "1m", "1mb", "1g", "1gb" (case-insensitive; k=1000,
 * kb=1024 ...) as Redis's memtoull. 1 ok, 0 bad. */
int util_memtoull(const char *s, size_t len, unsigned long long *out);

/* Split a line into words with redis-cli / redis.conf quoting: "..." with
 * \n \r \t \b \a \xHH and \<c> escapes, '...' with \' only; a closing
 * quote must end its word; a NUL ends the line. emit gets each word (valid during the call);
 * scratch must hold n bytes. 0 ok, -1 on unbalanced quotes (words before
 * the fault were already emitted). */
int util_splitargs(const char *s, size_t n, char *scratch,
                   void (*emit)(void *priv, const char *w, size_t wl), void *priv);

#endif
