/* util.c — pure helpers behind util.h: number parsing/formatting that must
 * agree with Redis 7.0 byte for byte (INCRBYFLOAT, ZADD scores, CONFIG
 * memory values), glob matching as KEYS/SCAN MATCH see it, CRC16 key slots,
 * SipHash-1-2 for hash tables, a small PRNG and clocks.
 * No state is kept here; every function is safe from any thread.
 */
#include "util.h"
#include "mem.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * Integers
 * ---------------------------------------------------------------------- */

/* Parses the digits of s (no sign) into *out; rejects leading zeros (except a
 * lone "0") and anything above limit. */
static int parse_digits(const char *s, size_t len, unsigned long long limit,
                        unsigned long long *out)
{
    if (len == 0) return 0;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] < '1' || s[0] > '9') return 0;
    unsigned long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

int util_str2ll(const char *s, size_t len, long long *out)
{
    if (len == 0) return 0;
    unsigned long long v;
    if (s[0] == '-') {
        /* "-0" is refused because parse_digits only takes "0" alone, and
         * here the digit run after '-' must start with 1-9. */
        if (len < 2 || s[1] == '0') return 0;
        if (!parse_digits(s + 1, len - 1, (unsigned long long)LLONG_MAX + 1, &v))
            return 0;
        *out = (v == (unsigned long long)LLONG_MAX + 1) ? LLONG_MIN : -(long long)v;
        return 1;
    }
    if (!parse_digits(s, len, (unsigned long long)LLONG_MAX, &v)) return 0;
    *out = (long long)v;
    return 1;
}

int util_str2ull(const char *s, size_t len, unsigned long long *out)
{
    return parse_digits(s, len, ULLONG_MAX, out);
}

size_t util_ull2str(char *dst, size_t dstlen, unsigned long long v)
{
    char tmp[CB_LL2STR_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (dstlen < n + 1) {
        if (dstlen) dst[0] = '\0';
        return 0;
    }
    for (size_t i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
    dst[n] = '\0';
    return n;
}

size_t util_ll2str(char *dst, size_t dstlen, long long v)
{
    if (v >= 0) return util_ull2str(dst, dstlen, (unsigned long long)v);
    /* Negate in unsigned arithmetic so LLONG_MIN does not overflow. */
    unsigned long long mag = 0ULL - (unsigned long long)v;
    if (dstlen < 2) {
        if (dstlen) dst[0] = '\0';
        return 0;
    }
    size_t n = util_ull2str(dst + 1, dstlen - 1, mag);
    if (n == 0) {
        dst[0] = '\0';
        return 0;
    }
    dst[0] = '-';
    return n + 1;
}

/* ------------------------------------------------------------------------
 * Floating point
 * ---------------------------------------------------------------------- */

int util_str2d(const char *s, size_t len, double *out)
{
    if (len == 0 || isspace((unsigned char)s[0])) return 0;
    /* strtod needs a terminated copy. Redis takes any length (a long run of
     * zeros is legal), so absurdly long inputs borrow the heap. */
    char stackbuf[CB_LD2STR_MAX];
    char *buf = len < sizeof(stackbuf) ? stackbuf : cb_malloc(len + 1);
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    int ok = (size_t)(end - buf) == len && !isnan(v) &&
             !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL ||
                                   fpclassify(v) == FP_ZERO));
    if (buf != stackbuf) cb_free(buf);
    if (ok) *out = v;
    return ok;
}

int util_str2ld(const char *s, size_t len, long double *out)
{
    char buf[CB_LD2STR_MAX];
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    /* The whole input must be the number: "1\0002" is not a float to Redis. */
    if (isspace((unsigned char)buf[0]) || end != buf + len || errno == EINVAL ||
        isnan(v) ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL ||
                             fpclassify(v) == FP_ZERO)))
        return 0;
    *out = v;
    return 1;
}

size_t util_d2str(char *buf, size_t len, double v)
{
    int n;
    if (isinf(v))
        n = snprintf(buf, len, "%s", v > 0 ? "inf" : "-inf");
    else
        n = snprintf(buf, len, "%.17g", v);
    if (n < 0 || (size_t)n >= len) return 0;
    return (size_t)n;
}

size_t util_ld2str_human(char *buf, size_t len, long double v)
{
    if (!isfinite(v) || len == 0) return 0;
    int n = snprintf(buf, len, "%.17Lf", v);
    if (n < 0 || (size_t)n >= len) return 0;
    size_t l = (size_t)n;
    if (memchr(buf, '.', l)) {
        while (l > 0 && buf[l - 1] == '0') l--;
        if (l > 0 && buf[l - 1] == '.') l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    buf[l] = '\0';
    return l;
}

/* ------------------------------------------------------------------------
 * Glob matching
 *
 * Same answers as Redis's stringmatchlen, including its corner cases
 * (unterminated '[', trailing '\', reversed ranges, signed-char ranges, the
 * 1000-star nesting cut-off), but written as the usual iterative matcher that
 * backtracks only to the most recent '*': once the rest after a star fails at
 * every later offset, earlier stars cannot help either.
 * ---------------------------------------------------------------------- */

static inline int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Matches the single-character token at pat[*pi] (anything but '*') against
 * c and moves *pi past it. */
static int glob_token(const char *pat, size_t plen, size_t *pi, char c,
                      int nocase)
{
    size_t i = *pi;
    switch (pat[i]) {
    case '?':
        *pi = i + 1;
        return 1;
    case '[': {
        i++;
        int neg = i < plen && pat[i] == '^';
        if (neg) i++;
        int hit = 0;
        for (;;) {
            size_t rem = plen - i;
            if (rem == 0) break; /* unterminated: the class ends the pattern */
            if (rem >= 2 && pat[i] == '\\') {
                i++;
                if (pat[i] == c) hit = 1; /* escapes compare exactly */
            } else if (pat[i] == ']') {
                i++;
                break;
            } else if (rem >= 3 && pat[i + 1] == '-') {
                /* Compared as (signed) char, as Redis does on x86. */
                int lo = (signed char)pat[i], hi = (signed char)pat[i + 2];
                int cc = (signed char)c;
                if (lo > hi) {
                    int t = lo;
                    lo = hi;
                    hi = t;
                }
                if (nocase) {
                    lo = ascii_lower(lo);
                    hi = ascii_lower(hi);
                    cc = ascii_lower(cc);
                }
                if (cc >= lo && cc <= hi) hit = 1;
                i += 2;
            } else if (nocase ? ascii_lower((unsigned char)pat[i]) ==
                                    ascii_lower((unsigned char)c)
                              : pat[i] == c) {
                hit = 1;
            }
            i++;
        }
        *pi = i;
        return neg ? !hit : hit;
    }
    case '\\':
        if (plen - i >= 2) i++;
        /* fall through */
    default:
        *pi = i + 1;
        return nocase ? ascii_lower((unsigned char)pat[i]) ==
                            ascii_lower((unsigned char)c)
                      : pat[i] == c;
    }
}

int util_globmatch(const char *pat, size_t patlen, const char *s, size_t slen,
                   int nocase)
{
    /* KEYS and SCAN treat a lone "*" as "everything", the empty name too. */
    if (patlen == 1 && pat[0] == '*') return 1;
    if (slen == 0) return patlen == 0;

    size_t pi = 0, si = 0;
    size_t star_pi = 0, star_si = 0;
    int have_star = 0;
    unsigned stars = 0, star_stars = 0;
    for (;;) {
        if (si == slen) {
            while (pi < patlen && pat[pi] == '*') pi++;
            if (pi == patlen) return 1;
            goto backtrack;
        }
        if (pi == patlen) goto backtrack;
        if (pat[pi] == '*') {
            while (pi + 1 < patlen && pat[pi + 1] == '*') pi++;
            if (pi + 1 == patlen) return 1;
            /* Redis gives up below 1000 nested stars (abusive patterns). */
            if (++stars > 1000) return 0;
            pi++;
            have_star = 1;
            star_pi = pi;
            star_si = si;
            star_stars = stars;
            continue;
        }
        if (glob_token(pat, patlen, &pi, s[si], nocase)) {
            si++;
            continue;
        }
    backtrack:
        if (!have_star || ++star_si >= slen) return 0;
        pi = star_pi;
        si = star_si;
        stars = star_stars;
    }
}

/* ------------------------------------------------------------------------
 * CRC16 and cluster slots
 * ---------------------------------------------------------------------- */

/* CRC16-XMODEM (poly 0x1021, init 0, no reflection), one byte per step. */
static const uint16_t crc16_tab[256] = {
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7,
    0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c, 0xd1ad, 0xe1ce, 0xf1ef,
    0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6,
    0x9339, 0x8318, 0xb37b, 0xa35a, 0xd3bd, 0xc39c, 0xf3ff, 0xe3de,
    0x2462, 0x3443, 0x0420, 0x1401, 0x64e6, 0x74c7, 0x44a4, 0x5485,
    0xa56a, 0xb54b, 0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d,
    0x3653, 0x2672, 0x1611, 0x0630, 0x76d7, 0x66f6, 0x5695, 0x46b4,
    0xb75b, 0xa77a, 0x9719, 0x8738, 0xf7df, 0xe7fe, 0xd79d, 0xc7bc,
    0x48c4, 0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861, 0x2802, 0x3823,
    0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969, 0xa90a, 0xb92b,
    0x5af5, 0x4ad4, 0x7ab7, 0x6a96, 0x1a71, 0x0a50, 0x3a33, 0x2a12,
    0xdbfd, 0xcbdc, 0xfbbf, 0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a,
    0x6ca6, 0x7c87, 0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41,
    0xedae, 0xfd8f, 0xcdec, 0xddcd, 0xad2a, 0xbd0b, 0x8d68, 0x9d49,
    0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13, 0x2e32, 0x1e51, 0x0e70,
    0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a, 0x9f59, 0x8f78,
    0x9188, 0x81a9, 0xb1ca, 0xa1eb, 0xd10c, 0xc12d, 0xf14e, 0xe16f,
    0x1080, 0x00a1, 0x30c2, 0x20e3, 0x5004, 0x4025, 0x7046, 0x6067,
    0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e,
    0x02b1, 0x1290, 0x22f3, 0x32d2, 0x4235, 0x5214, 0x6277, 0x7256,
    0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d,
    0x34e2, 0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405,
    0xa7db, 0xb7fa, 0x8799, 0x97b8, 0xe75f, 0xf77e, 0xc71d, 0xd73c,
    0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634,
    0xd94c, 0xc96d, 0xf90e, 0xe92f, 0x99c8, 0x89e9, 0xb98a, 0xa9ab,
    0x5844, 0x4865, 0x7806, 0x6827, 0x18c0, 0x08e1, 0x3882, 0x28a3,
    0xcb7d, 0xdb5c, 0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a,
    0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1, 0x1ad0, 0x2ab3, 0x3a92,
    0xfd2e, 0xed0f, 0xdd6c, 0xcd4d, 0xbdaa, 0xad8b, 0x9de8, 0x8dc9,
    0x7c26, 0x6c07, 0x5c64, 0x4c45, 0x3ca2, 0x2c83, 0x1ce0, 0x0cc1,
    0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9, 0x9ff8,
    0x6e17, 0x7e36, 0x4e55, 0x5e74, 0x2e93, 0x3eb2, 0x0ed1, 0x1ef0,
};

uint16_t util_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^
                         crc16_tab[((crc >> 8) ^ (unsigned char)buf[i]) & 0xff]);
    return crc;
}

unsigned util_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t start = (size_t)(open - key) + 1;
        const char *close = memchr(key + start, '}', len - start);
        if (close && close != key + start)
            return util_crc16(key + start, (size_t)(close - (key + start))) & 16383;
    }
    return util_crc16(key, len) & 16383;
}

/* ------------------------------------------------------------------------
 * SipHash-1-2: one compression round per 8-byte word and two finalisation
 * rounds (Aumasson & Bernstein). Fewer rounds than 2-4 because the goal is
 * hash-flooding resistance for table buckets, not a MAC.
 * ---------------------------------------------------------------------- */

static inline uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIP_ROUND(v0, v1, v2, v3)                                            \
    do {                                                                     \
        v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);        \
        v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;                             \
        v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;                             \
        v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);        \
    } while (0)

static inline uint64_t load_le64(const uint8_t *p, int lower)
{
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--) {
        uint8_t b = p[i];
        if (lower && b >= 'A' && b <= 'Z') b = (uint8_t)(b + 32);
        w = (w << 8) | b;
    }
    return w;
}

static uint64_t siphash12(const uint8_t *in, size_t len, const uint8_t k[16],
                          int lower)
{
    uint64_t k0 = load_le64(k, 0), k1 = load_le64(k + 8, 0);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;

    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load_le64(in + i, lower);
        v3 ^= m;
        SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    /* Last block: leftover bytes, length mod 256 in the top byte. */
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++) {
        uint8_t c = in[full + i];
        if (lower && c >= 'A' && c <= 'Z') c = (uint8_t)(c + 32);
        b |= (uint64_t)c << (8 * i);
    }
    v3 ^= b;
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t util_hash(const void *p, size_t len, const uint8_t seed[16])
{
    return siphash12(p, len, seed, 0);
}

uint64_t util_hash_nocase(const void *p, size_t len, const uint8_t seed[16])
{
    return siphash12(p, len, seed, 1);
}

/* ------------------------------------------------------------------------
 * Randomness
 * ---------------------------------------------------------------------- */

uint64_t util_rand64(uint64_t *state)
{
    /* xorshift64*: a zero state would stay zero forever, so re-seed it. */
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

void util_random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(p + got, len - got, 0);
        if (n > 0) {
            got += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    if (got == len) return;
    /* No getrandom (old kernel, seccomp): mix time and pid instead. */
    uint64_t st = (uint64_t)util_ustime() ^ ((uint64_t)getpid() << 32) ^
                  util_monotonic_us() ^ (uint64_t)(uintptr_t)buf;
    while (got < len) {
        uint64_t r = util_rand64(&st);
        size_t n = len - got < 8 ? len - got : 8;
        memcpy(p + got, &r, n);
        got += n;
    }
}

void util_random_hex(char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[64];
    size_t done = 0;
    while (done < len) {
        size_t want = (len - done + 1) / 2;
        if (want > sizeof(raw)) want = sizeof(raw);
        util_random_bytes(raw, want);
        for (size_t i = 0; i < want * 2 && done < len; i++)
            buf[done++] = hex[(raw[i / 2] >> ((i & 1) ? 0 : 4)) & 15];
    }
    buf[len] = '\0';
}

/* ------------------------------------------------------------------------
 * Sizes
 * ---------------------------------------------------------------------- */

size_t util_bytes_human(char *buf, size_t len, unsigned long long n)
{
    static const char units[] = "KMGTP";
    int r;
    if (n < 1024) {
        r = snprintf(buf, len, "%lluB", n);
    } else {
        double d = (double)n;
        double scale = 1024.0;
        int u = 0;
        while (u < 4 && d >= scale * 1024.0) {
            scale *= 1024.0;
            u++;
        }
        if (u == 4 && d >= scale * 1024.0) /* beyond P: raw bytes */
            r = snprintf(buf, len, "%lluB", n);
        else
            r = snprintf(buf, len, "%.2f%c", d / scale, units[u]);
    }
    if (r < 0 || (size_t)r >= len) return 0;
    return (size_t)r;
}

int util_memtoull(const char *s, size_t len, unsigned long long *out)
{
    /* Redis's memtoull: digits then an optional unit. It accepts an empty
     * digit run (""/"k" are 0), saturates on overflowing digits and lets the
     * unit multiplication wrap; CONFIG SET shows the same numbers. */
    if (len > 0 && s[0] == '-') return 0;
    size_t d = 0;
    while (d < len && s[d] >= '0' && s[d] <= '9') d++;
    const char *u = s + d;
    size_t ul = len - d;
    unsigned long long mul;
    if (ul == 0 || util_eq_nocase(u, ul, "b")) mul = 1;
    else if (util_eq_nocase(u, ul, "k")) mul = 1000ULL;
    else if (util_eq_nocase(u, ul, "kb")) mul = 1024ULL;
    else if (util_eq_nocase(u, ul, "m")) mul = 1000ULL * 1000;
    else if (util_eq_nocase(u, ul, "mb")) mul = 1024ULL * 1024;
    else if (util_eq_nocase(u, ul, "g")) mul = 1000ULL * 1000 * 1000;
    else if (util_eq_nocase(u, ul, "gb")) mul = 1024ULL * 1024 * 1024;
    else return 0;
    if (d >= 128) return 0;
    unsigned long long v = 0;
    for (size_t i = 0; i < d; i++) {
        unsigned dig = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - dig) / 10) {
            v = ULLONG_MAX;
            break;
        }
        v = v * 10 + dig;
    }
    *out = v * mul;
    return 1;
}

int util_eq_nocase(const char *p, size_t len, const char *cstr)
{
    for (size_t i = 0; i < len; i++) {
        if (cstr[i] == '\0') return 0;
        if (ascii_lower((unsigned char)p[i]) != ascii_lower((unsigned char)cstr[i]))
            return 0;
    }
    return cstr[len] == '\0';
}

/* ------------------------------------------------------------------------
 * Clocks
 * ---------------------------------------------------------------------- */

long long util_ustime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

long long util_mstime(void)
{
    return util_ustime() / 1000;
}

uint64_t util_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------- splitargs */

static int hexdigit(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int split_space(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\v';
}

int util_splitargs(const char *s, size_t n, char *scratch,
                   void (*emit)(void *priv, const char *w, size_t wl), void *priv)
{
    /* The line ends at a NUL, as it does for a C string. */
    const char *nul = memchr(s, '\0', n);
    if (nul) n = (size_t)(nul - s);
    size_t i = 0;
    for (;;) {
        while (i < n && split_space(s[i])) i++;
        if (i >= n) return 0;
        size_t t = 0;
        int mode = 0; /* 0 bare, 1 in "...", 2 in '...' */
        for (int done = 0; !done;) {
            if (mode == 0) {
                if (i >= n || split_space(s[i])) {
                    done = 1;
                } else if (s[i] == '"') {
                    mode = 1;
                    i++;
                } else if (s[i] == '\'') {
                    mode = 2;
                    i++;
                } else {
                    scratch[t++] = s[i++];
                }
                continue;
            }
            if (i >= n) return -1; /* the quote never closed */
            char q = mode == 1 ? '"' : '\'';
            if (s[i] == q) {
                /* A closing quote must end the word. */
                if (i + 1 < n && !split_space(s[i + 1])) return -1;
                i++;
                done = 1;
            } else if (mode == 1 && s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' &&
                       hexdigit(s[i + 2]) >= 0 && hexdigit(s[i + 3]) >= 0) {
                scratch[t++] = (char)(hexdigit(s[i + 2]) * 16 + hexdigit(s[i + 3]));
                i += 4;
            } else if (mode == 1 && s[i] == '\\' && i + 1 < n) {
                char c = s[i + 1];
                switch (c) {
                case 'n': c = '\n'; break;
                case 'r': c = '\r'; break;
                case 't': c = '\t'; break;
                case 'b': c = '\b'; break;
                case 'a': c = '\a'; break;
                default: break;
                }
                scratch[t++] = c;
                i += 2;
            } else if (mode == 2 && s[i] == '\\' && i + 1 < n && s[i + 1] == '\'') {
                scratch[t++] = '\'';
                i += 2;
            } else {
                scratch[t++] = s[i++];
            }
        }
        emit(priv, scratch, t);
    }
}
