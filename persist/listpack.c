/* listpack.c — Redis's listpack wire format (writer and validating reader)
 * and validating readers of the ziplist and zipmap formats, for RDB and
 * DUMP payloads. The formats are Redis's: listpack.md for listpacks, the
 * format notes of ziplist.c / zipmap.c for the older two. See listpack.h.
 *
 * Readers hand integers to the visitor as decimal text so callers deal in
 * bytes only; every length is checked against the blob before it is used,
 * and errors name the offset inside the blob.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "listpack.h"
#include "../platform/util.h"

#define LP_HDR_SIZE 6
#define LP_END 0xFF
#define LP_COUNT_UNKNOWN 65535

/* ------------------------------------------------------------------------
 * Writer
 * ---------------------------------------------------------------------- */

void rlp_init(rlp_writer *w)
{
    static const unsigned char hdr[LP_HDR_SIZE] = { 0 };
    w->buf = cbstr_new(hdr, LP_HDR_SIZE);
    w->count = 0;
}

/* The back length: the entry's size in 7-bit groups, most significant
 * first, every byte but the first flagged 0x80 so it reads right to left. */
static size_t backlen_encode(unsigned char *out, uint64_t l)
{
    unsigned char tmp[5];
    int n = 0;
    do {
        tmp[n++] = (unsigned char)(l & 127);
        l >>= 7;
    } while (l && n < 5);
    for (int i = 0; i < n; i++) out[i] = (unsigned char)(tmp[n - 1 - i] | (i ? 128 : 0));
    return (size_t)n;
}

void rlp_append(rlp_writer *w, const void *s, size_t len)
{
    unsigned char e[16];
    size_t n = 0;
    long long v;
    if (len > 0 && len < 21 && util_str2ll(s, len, &v)) {
        /* The narrowest integer encoding, as Redis picks it. */
        uint64_t u = (uint64_t)v;
        if (v >= 0 && v <= 127) {
            e[n++] = (unsigned char)v;
        } else if (v >= -4096 && v <= 4095) {
            e[n++] = (unsigned char)(0xC0 | ((u >> 8) & 0x1F));
            e[n++] = (unsigned char)(u & 0xFF);
        } else {
            int bytes, tag;
            if (v >= -32768 && v <= 32767) bytes = 2, tag = 0xF1;
            else if (v >= -8388608 && v <= 8388607) bytes = 3, tag = 0xF2;
            else if (v >= INT32_MIN && v <= INT32_MAX) bytes = 4, tag = 0xF3;
            else bytes = 8, tag = 0xF4;
            e[n++] = (unsigned char)tag;
            for (int i = 0; i < bytes; i++) e[n++] = (unsigned char)(u >> (8 * i));
        }
        unsigned char bl[5];
        size_t bn = backlen_encode(bl, n);
        w->buf = cbstr_cat(w->buf, e, n);
        w->buf = cbstr_cat(w->buf, bl, bn);
    } else {
        if (len < 64) {
            e[n++] = (unsigned char)(0x80 | len);
        } else if (len < 4096) {
            e[n++] = (unsigned char)(0xE0 | (len >> 8));
            e[n++] = (unsigned char)(len & 0xFF);
        } else {
            e[n++] = 0xF0;
            for (int i = 0; i < 4; i++) e[n++] = (unsigned char)((uint64_t)len >> (8 * i));
        }
        unsigned char bl[5];
        size_t bn = backlen_encode(bl, n + len);
        w->buf = cbstr_cat(w->buf, e, n);
        w->buf = cbstr_cat(w->buf, s, len);
        w->buf = cbstr_cat(w->buf, bl, bn);
    }
    w->count++;
}

cbstr rlp_finish(rlp_writer *w)
{
    unsigned char end = LP_END;
    w->buf = cbstr_cat(w->buf, &end, 1);
    size_t total = cbstr_len(w->buf);
    unsigned cnt = w->count < LP_COUNT_UNKNOWN ? (unsigned)w->count : LP_COUNT_UNKNOWN;
    unsigned char *p = (unsigned char *)w->buf;
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)((uint64_t)total >> (8 * i));
    p[4] = (unsigned char)(cnt & 0xFF);
    p[5] = (unsigned char)(cnt >> 8);
    cbstr out = w->buf;
    w->buf = NULL;
    return out;
}

/* ------------------------------------------------------------------------
 * Readers
 * ---------------------------------------------------------------------- */

static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (!errbuf || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Sign-extends the low bits of an n-bit two's complement value. */
static long long sext(uint64_t v, int bits)
{
    uint64_t m = 1ull << (bits - 1);
    v &= (bits == 64) ? ~0ull : ((1ull << bits) - 1);
    return (long long)((v ^ m) - m);
}

static int visit_int(rpack_visit_fn fn, void *priv, long long v)
{
    char num[CB_LL2STR_MAX];
    size_t n = util_ll2str(num, sizeof(num), v);
    return fn ? fn(priv, num, n) : 0;
}

long rlp_walk(const unsigned char *lp, size_t size, rpack_visit_fn fn, void *priv,
              char *errbuf, size_t errlen)
{
    if (size < LP_HDR_SIZE + 1) {
        seterr(errbuf, errlen, "listpack of %zu bytes is too short", size);
        return -1;
    }
    if (le(lp, 4) != size) {
        seterr(errbuf, errlen, "listpack header says %llu bytes, blob has %zu at offset 0",
               (unsigned long long)le(lp, 4), size);
        return -1;
    }
    if (lp[size - 1] != LP_END) {
        seterr(errbuf, errlen, "listpack lacks its end byte at offset %zu", size - 1);
        return -1;
    }
    unsigned hdr_count = (unsigned)le(lp + 4, 2);
    size_t off = LP_HDR_SIZE;
    long count = 0;
    while (off < size - 1) {
        const unsigned char *p = lp + off;
        size_t avail = size - 1 - off, hlen = 0, dlen = 0;
        int is_int = 0;
        long long v = 0;
        unsigned b = p[0];
        if (b < 0x80) {
            hlen = 1; is_int = 1; v = b;
        } else if ((b & 0xC0) == 0x80) {
            hlen = 1; dlen = b & 0x3F;
        } else if ((b & 0xE0) == 0xC0) {
            hlen = 2; is_int = 1;
            if (avail >= 2) v = sext(((uint64_t)(b & 0x1F) << 8) | p[1], 13);
        } else if ((b & 0xF0) == 0xE0) {
            hlen = 2;
            if (avail >= 2) dlen = ((size_t)(b & 0x0F) << 8) | p[1];
        } else if (b == 0xF0) {
            hlen = 5;
            if (avail >= 5) dlen = (size_t)le(p + 1, 4);
        } else if (b >= 0xF1 && b <= 0xF4) {
            static const int w[] = { 2, 3, 4, 8 };
            int n = w[b - 0xF1];
            hlen = 1 + (size_t)n; is_int = 1;
            if (avail >= hlen) v = sext(le(p + 1, n), 8 * n);
        } else {
            seterr(errbuf, errlen, "listpack entry with bad encoding 0x%02x at offset %zu", b, off);
            return -1;
        }
        if (hlen > avail || dlen > avail - hlen) {
            seterr(errbuf, errlen, "listpack entry at offset %zu runs past the end", off);
            return -1;
        }
        size_t elen = hlen + dlen;
        unsigned char bl[5];
        size_t bn = backlen_encode(bl, elen);
        /* At most 5 bytes: a loop beats a memcmp call per element. */
        int bl_ok = bn <= avail - elen;
        for (size_t k = 0; bl_ok && k < bn; k++) bl_ok = p[elen + k] == bl[k];
        if (!bl_ok) {
            seterr(errbuf, errlen, "listpack entry at offset %zu has a bad back length", off);
            return -1;
        }
        int rc = is_int ? visit_int(fn, priv, v)
                        : (fn ? fn(priv, (const char *)p + hlen, dlen) : 0);
        if (rc < 0) {
            seterr(errbuf, errlen, "listpack entry at offset %zu refused", off);
            return -1;
        }
        count++;
        off += elen + bn;
    }
    if (off != size - 1) {
        seterr(errbuf, errlen, "listpack entries overrun the end at offset %zu", off);
        return -1;
    }
    if (hdr_count != LP_COUNT_UNKNOWN && (long)hdr_count != count) {
        seterr(errbuf, errlen, "listpack header counts %u entries, found %ld", hdr_count, count);
        return -1;
    }
    return count;
}

#define ZL_HDR_SIZE 10

long rzl_walk(const unsigned char *zl, size_t size, rpack_visit_fn fn, void *priv,
              char *errbuf, size_t errlen)
{
    if (size < ZL_HDR_SIZE + 1) {
        seterr(errbuf, errlen, "ziplist of %zu bytes is too short", size);
        return -1;
    }
    if (le(zl, 4) != size) {
        seterr(errbuf, errlen, "ziplist header says %llu bytes, blob has %zu at offset 0",
               (unsigned long long)le(zl, 4), size);
        return -1;
    }
    if (zl[size - 1] != 0xFF) {
        seterr(errbuf, errlen, "ziplist lacks its end byte at offset %zu", size - 1);
        return -1;
    }
    size_t tail = (size_t)le(zl + 4, 4);
    unsigned hdr_count = (unsigned)le(zl + 8, 2);
    size_t off = ZL_HDR_SIZE, prevsize = 0, last = ZL_HDR_SIZE;
    long count = 0;
    while (off < size - 1) {
        const unsigned char *p = zl + off;
        size_t avail = size - 1 - off, plen, prev;
        if (p[0] < 254) {
            plen = 1; prev = p[0];
        } else if (p[0] == 254) {
            plen = 5;
            if (avail < 5) goto overrun;
            prev = (size_t)le(p + 1, 4);
        } else {
            seterr(errbuf, errlen, "ziplist entry with bad prevlen at offset %zu", off);
            return -1;
        }
        if (prev != prevsize) {
            seterr(errbuf, errlen, "ziplist entry at offset %zu has a wrong prevlen", off);
            return -1;
        }
        if (plen >= avail) goto overrun;
        const unsigned char *e = p + plen;
        size_t left = avail - plen, hlen = 0, dlen = 0;
        int is_int = 0;
        long long v = 0;
        unsigned b = e[0];
        switch (b >> 6) {
        case 0: hlen = 1; dlen = b & 0x3F; break;
        case 1:
            hlen = 2;
            if (left < 2) goto overrun;
            dlen = ((size_t)(b & 0x3F) << 8) | e[1];
            break;
        case 2:
            if (b != 0x80) goto badenc;
            hlen = 5;
            if (left < 5) goto overrun;
            dlen = ((size_t)e[1] << 24) | ((size_t)e[2] << 16) | ((size_t)e[3] << 8) | e[4];
            break;
        default: {
            int n;
            is_int = 1;
            if (b == 0xC0) n = 2;
            else if (b == 0xD0) n = 4;
            else if (b == 0xE0) n = 8;
            else if (b == 0xF0) n = 3;
            else if (b == 0xFE) n = 1;
            else if (b >= 0xF1 && b <= 0xFD) n = 0;
            else goto badenc;
            hlen = 1 + (size_t)n;
            if (left < hlen) goto overrun;
            v = n ? sext(le(e + 1, n), 8 * n) : (long long)((b & 0x0F) - 1);
            break;
        }
        }
        if (hlen > left || dlen > left - hlen) goto overrun;
        int rc = is_int ? visit_int(fn, priv, v)
                        : (fn ? fn(priv, (const char *)e + hlen, dlen) : 0);
        if (rc < 0) {
            seterr(errbuf, errlen, "ziplist entry at offset %zu refused", off);
            return -1;
        }
        prevsize = plen + hlen + dlen;
        last = off;
        off += prevsize;
        count++;
        continue;
    badenc:
        seterr(errbuf, errlen, "ziplist entry with bad encoding 0x%02x at offset %zu",
               b, (size_t)(e - zl));
        return -1;
    }
    if (off != size - 1) {
    overrun:
        seterr(errbuf, errlen, "ziplist entry at offset %zu runs past the end", off);
        return -1;
    }
    if (tail != last) {
        seterr(errbuf, errlen, "ziplist tail offset %zu does not match the last entry at %zu",
               tail, last);
        return -1;
    }
    if (hdr_count != 65535 && (long)hdr_count != count) {
        seterr(errbuf, errlen, "ziplist header counts %u entries, found %ld", hdr_count, count);
        return -1;
    }
    return count;
}

long rzm_walk(const unsigned char *zm, size_t size, rpack_visit_fn fn, void *priv,
              char *errbuf, size_t errlen)
{
    if (size < 2) {
        seterr(errbuf, errlen, "zipmap of %zu bytes is too short", size);
        return -1;
    }
    size_t off = 1;
    long count = 0;
    for (;;) {
        if (off >= size) {
            seterr(errbuf, errlen, "zipmap runs past the end at offset %zu", off);
            return -1;
        }
        if (zm[off] == 0xFF) break;
        size_t len;
        if (zm[off] < 254) {
            len = zm[off];
            off += 1;
        } else if (zm[off] == 254) {
            if (size - off < 5) goto overrun;
            len = (size_t)le(zm + off + 1, 4);
            off += 5;
        } else {
            goto overrun;
        }
        int isval = count & 1;
        size_t freeb = 0;
        if (isval) {
            if (off >= size) goto overrun;
            freeb = zm[off++];
        }
        if (len > size - off || freeb > size - off - len) goto overrun;
        if (fn && fn(priv, (const char *)zm + off, len) < 0) {
            seterr(errbuf, errlen, "zipmap entry at offset %zu refused", off);
            return -1;
        }
        off += len + freeb;
        count++;
        continue;
    overrun:
        seterr(errbuf, errlen, "zipmap entry at offset %zu runs past the end", off);
        return -1;
    }
    if (off != size - 1 || (count & 1)) {
        seterr(errbuf, errlen, "zipmap end at offset %zu is not the blob's end or pairs are odd",
               off);
        return -1;
    }
    return count;
}
