/* lpack.c — the compact entry list used as quicklist node (see lpack.h).
 *
 * Layout: [total bytes u32 LE][count u32 LE][entry]...
 * An entry is [encoding + payload][back length]. The first byte says what
 * follows:
 *   0xxxxxxx            integer 0..127, no payload
 *   10llllll            string of 0..63 bytes
 *   110lllll llllllll   string of up to 8191 bytes (13-bit length)
 *   0xE0 u32            string, length as u32 LE
 *   0xE1 i16 / 0xE2 i32 / 0xE3 i64   integers, LE
 * The back length is the size of [encoding + payload] in 1..5 bytes of 7
 * bits each, written so it reads from its last byte backwards: the last byte
 * holds the low 7 bits, a set top bit says another byte precedes it. That
 * is what lets lp_prev step back without an index.
 * Strings become integers only when they are the canonical text of a long
 * long (util_str2ll), so reading them back yields the same bytes.
 */
#include "lpack.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

#include <assert.h>
#include <string.h>

enum { ENC_STR32 = 0xE0, ENC_I16 = 0xE1, ENC_I32 = 0xE2, ENC_I64 = 0xE3 };

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint64_t rdle(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void wrle(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

uint32_t lp_bytes(const unsigned char *lp) { return rd32(lp); }
uint32_t lp_count(const unsigned char *lp) { return rd32(lp + 4); }

static void set_bytes(unsigned char *lp, uint32_t v) { wr32(lp, v); }
static void set_count(unsigned char *lp, uint32_t v) { wr32(lp + 4, v); }

unsigned char *lp_new(void)
{
    unsigned char *lp = cb_malloc(LP_HDR);
    set_bytes(lp, LP_HDR);
    set_count(lp, 0);
    return lp;
}

void lp_free(unsigned char *lp) { cb_free(lp); }

/* ---------------------------------------------------------------- sizes */

static size_t backlen_size(size_t l)
{
    size_t n = 1;
    while (l >= 128 && n < 5) {
        l >>= 7;
        n++;
    }
    return n;
}

static void backlen_write(unsigned char *end, size_t l)
{
    size_t n = backlen_size(l);
    for (size_t k = 0; k < n; k++) {
        unsigned char b = (unsigned char)((l >> (7 * k)) & 127);
        if (k + 1 < n) b |= 128;
        end[-1 - (long)k] = b;
    }
}

/* Reads the back length ending just before end; *n gets its byte count.
 * min bounds the bytes that may be read (0 when trusted). */
static size_t backlen_read(const unsigned char *end, const unsigned char *min, size_t *n)
{
    size_t l = 0, k = 0;
    unsigned char b;
    do {
        if (min && end - 1 - (long)k < min) return SIZE_MAX;
        b = end[-1 - (long)k];
        l |= (size_t)(b & 127) << (7 * k);
        k++;
    } while ((b & 128) && k < 5);
    *n = k;
    return l;
}

/* Size of encoding + payload of the entry starting at p. */
static size_t enc_size(const unsigned char *p)
{
    unsigned char b = p[0];
    if (b < 0x80) return 1;
    if (b < 0xC0) return 1 + (size_t)(b & 63);
    if (b < 0xE0) return 2 + ((size_t)(b & 31) << 8 | p[1]);
    switch (b) {
    case ENC_STR32: return 5 + rd32(p + 1);
    case ENC_I16: return 3;
    case ENC_I32: return 5;
    case ENC_I64: return 9;
    default: return 0;
    }
}

static size_t entry_size(const unsigned char *p)
{
    size_t l = enc_size(p);
    return l + backlen_size(l);
}

/* Encoding of s: an integer when canonical, else a string. *isint and *iv
 * say which; returns encoding + payload bytes. */
static size_t plan(const void *s, size_t len, int *isint, long long *iv)
{
    *isint = len > 0 && len <= 20 && util_str2ll(s, len, iv);
    if (*isint) {
        long long v = *iv;
        if (v >= 0 && v <= 127) return 1;
        if (v >= INT16_MIN && v <= INT16_MAX) return 3;
        if (v >= INT32_MIN && v <= INT32_MAX) return 5;
        return 9;
    }
    if (len < 64) return 1 + len;
    if (len < 8192) return 2 + len;
    return 5 + len;
}

size_t lp_entry_size(const void *s, size_t len)
{
    int isint;
    long long v;
    size_t l = plan(s, len, &isint, &v);
    return l + backlen_size(l);
}

/* Writes the entry for s at p (room checked by the caller); returns bytes. */
static size_t encode(unsigned char *p, const void *s, size_t len)
{
    int isint;
    long long v;
    size_t l = plan(s, len, &isint, &v);
    if (isint) {
        if (l == 1) {
            p[0] = (unsigned char)v;
        } else {
            p[0] = l == 3 ? ENC_I16 : l == 5 ? ENC_I32 : ENC_I64;
            wrle(p + 1, (uint64_t)v, (int)l - 1);
        }
    } else if (len < 64) {
        p[0] = (unsigned char)(0x80 | len);
        if (len) memcpy(p + 1, s, len);
    } else if (len < 8192) {
        p[0] = (unsigned char)(0xC0 | (len >> 8));
        p[1] = (unsigned char)(len & 255);
        memcpy(p + 2, s, len);
    } else {
        p[0] = ENC_STR32;
        wr32(p + 1, (uint32_t)len);
        memcpy(p + 5, s, len);
    }
    backlen_write(p + l + backlen_size(l), l);
    return l + backlen_size(l);
}

/* ------------------------------------------------------------ walking */

unsigned char *lp_first(unsigned char *lp)
{
    return lp_count(lp) ? lp + LP_HDR : NULL;
}

unsigned char *lp_next(unsigned char *lp, unsigned char *p)
{
    unsigned char *n = p + entry_size(p);
    return n < lp + lp_bytes(lp) ? n : NULL;
}

unsigned char *lp_prev(unsigned char *lp, unsigned char *p)
{
    if (p <= lp + LP_HDR) return NULL;
    size_t k;
    size_t l = backlen_read(p, NULL, &k);
    return p - k - l;
}

unsigned char *lp_last(unsigned char *lp)
{
    if (!lp_count(lp)) return NULL;
    return lp_prev(lp, lp + lp_bytes(lp));
}

unsigned char *lp_seek(unsigned char *lp, long index)
{
    long n = (long)lp_count(lp);
    if (index < 0) index += n;
    if (index < 0 || index >= n) return NULL;
    unsigned char *p;
    if (index <= n / 2) {
        p = lp_first(lp);
        while (index--) p = lp_next(lp, p);
    } else {
        p = lp_last(lp);
        for (long i = n - 1; i > index; i--) p = lp_prev(lp, p);
    }
    return p;
}

void lp_get(const unsigned char *p, lp_val *out)
{
    unsigned char b = p[0];
    out->s = NULL;
    out->len = 0;
    if (b < 0x80) {
        out->v = b;
    } else if (b < 0xC0) {
        out->s = p + 1;
        out->len = b & 63;
    } else if (b < 0xE0) {
        out->s = p + 2;
        out->len = (size_t)(b & 31) << 8 | p[1];
    } else if (b == ENC_STR32) {
        out->s = p + 5;
        out->len = rd32(p + 1);
    } else if (b == ENC_I16) {
        out->v = (int16_t)rdle(p + 1, 2);
    } else if (b == ENC_I32) {
        out->v = (int32_t)rdle(p + 1, 4);
    } else {
        out->v = (long long)rdle(p + 1, 8);
    }
}

const char *lp_str(const lp_val *v, char *buf, size_t *len)
{
    if (v->s) {
        *len = v->len;
        return (const char *)v->s;
    }
    *len = util_ll2str(buf, 24, v->v);
    return buf;
}

int lp_eq(const unsigned char *p, const void *s, size_t len)
{
    lp_val v;
    lp_get(p, &v);
    if (v.s) return v.len == len && (len == 0 || memcmp(v.s, s, len) == 0);
    char buf[24];
    size_t n;
    const char *t = lp_str(&v, buf, &n);
    return n == len && memcmp(t, s, len) == 0;
}

/* ------------------------------------------------------------ changing */

unsigned char *lp_insert_at(unsigned char *lp, size_t off, const void *s, size_t len)
{
    uint32_t total = lp_bytes(lp);
    assert(off >= LP_HDR && off <= total);
    size_t add = lp_entry_size(s, len);
    lp = cb_realloc(lp, total + add);
    memmove(lp + off + add, lp + off, total - off);
    encode(lp + off, s, len);
    set_bytes(lp, (uint32_t)(total + add));
    set_count(lp, lp_count(lp) + 1);
    return lp;
}

unsigned char *lp_append(unsigned char *lp, const void *s, size_t len)
{
    return lp_insert_at(lp, lp_bytes(lp), s, len);
}

unsigned char *lp_prepend(unsigned char *lp, const void *s, size_t len)
{
    return lp_insert_at(lp, LP_HDR, s, len);
}

unsigned char *lp_replace_at(unsigned char *lp, size_t off, const void *s, size_t len)
{
    uint32_t total = lp_bytes(lp);
    size_t old = entry_size(lp + off);
    size_t add = lp_entry_size(s, len);
    if (add > old) lp = cb_realloc(lp, total - old + add);
    memmove(lp + off + add, lp + off + old, total - off - old);
    encode(lp + off, s, len);
    if (add < old) lp = cb_realloc(lp, total - old + add);
    set_bytes(lp, (uint32_t)(total - old + add));
    return lp;
}

unsigned char *lp_delete_at(unsigned char *lp, size_t off, unsigned long n)
{
    uint32_t total = lp_bytes(lp);
    size_t end = off;
    unsigned long done = 0;
    while (done < n && end < total) {
        end += entry_size(lp + end);
        done++;
    }
    memmove(lp + off, lp + end, total - end);
    set_bytes(lp, (uint32_t)(total - (end - off)));
    set_count(lp, lp_count(lp) - (uint32_t)done);
    return cb_realloc(lp, total - (end - off));
}

unsigned char *lp_delete_range(unsigned char *lp, long index, unsigned long n)
{
    unsigned char *p = lp_seek(lp, index);
    if (!p || n == 0) return lp;
    return lp_delete_at(lp, (size_t)(p - lp), n);
}

unsigned char *lp_merge(unsigned char *a, const unsigned char *b)
{
    uint32_t ta = lp_bytes(a), tb = lp_bytes(b);
    a = cb_realloc(a, ta + tb - LP_HDR);
    memcpy(a + ta, b + LP_HDR, tb - LP_HDR);
    set_bytes(a, ta + tb - LP_HDR);
    set_count(a, lp_count(a) + lp_count(b));
    return a;
}

unsigned char *lp_slice(unsigned char *lp, unsigned long from, unsigned long n)
{
    unsigned char *out = lp_new();
    unsigned char *p = lp_seek(lp, (long)from);
    if (!p || n == 0) return out;
    unsigned char *q = p;
    unsigned long got = 0;
    uint32_t total = lp_bytes(lp);
    while (got < n && q < lp + total) {
        q += entry_size(q);
        got++;
    }
    size_t bytes = (size_t)(q - p);
    out = cb_realloc(out, LP_HDR + bytes);
    memcpy(out + LP_HDR, p, bytes);
    set_bytes(out, (uint32_t)(LP_HDR + bytes));
    set_count(out, (uint32_t)got);
    return out;
}

/* ----------------------------------------------------------- validation */

int lp_validate(const unsigned char *lp, size_t size)
{
    if (!lp || size < LP_HDR || size > UINT32_MAX) return 0;
    if (lp_bytes(lp) != size) return 0;
    const unsigned char *p = lp + LP_HDR, *end = lp + size;
    uint32_t n = 0;
    while (p < end) {
        unsigned char b = p[0];
        size_t hdr;
        if (b < 0x80) hdr = 1;
        else if (b < 0xC0) hdr = 1;
        else if (b < 0xE0) hdr = 2;
        else if (b == ENC_STR32) hdr = 5;
        else if (b == ENC_I16 || b == ENC_I32 || b == ENC_I64) hdr = 1;
        else return 0;
        if ((size_t)(end - p) < hdr) return 0;
        size_t l = enc_size(p);
        size_t bl = backlen_size(l);
        if (l > (size_t)(end - p) || bl > (size_t)(end - p) - l) return 0;
        size_t k;
        size_t got = backlen_read(p + l + bl, p + l, &k);
        if (got != l || k != bl) return 0;
        p += l + bl;
        n++;
    }
    return n == lp_count(lp);
}
