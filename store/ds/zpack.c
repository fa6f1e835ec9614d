/* zpack.c — see zpack.h. A score whose value is an integer of magnitude
 * below 2^53 is stored as a LEB128 varint of (zigzag(v) << 1 | 1): one byte
 * for -32..31, so the common integer scores cost what they cost in Redis's
 * listpack. Any other score is a 0 byte and the raw double (8 bytes, host
 * order), so reading it back is exact. The first byte tells them apart (odd:
 * integer; 0: double). -0 is stored as 0, because Redis's listpack keeps
 * scores as text that turns "-0" into the integer 0 and clients can see
 * the difference. The block is resized with every change:
 * it is small by construction (zset-max-listpack-entries/value).
 */
#include "zpack.h"
#include "skiplist.h"
#include "../../platform/mem.h"

#include <stdint.h>
#include <string.h>

static uint32_t rd32(const zpack *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void wr32(zpack *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static size_t varint_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t varint_put(unsigned char *p, size_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* Reads a varint bounded by end; 0 on a malformed or truncated one. */
static size_t varint_get(const unsigned char *p, const unsigned char *end, size_t *v)
{
    size_t r = 0, n = 0;
    int shift = 0;
    while (p + n < end && shift < 64) {
        unsigned char b = p[n++];
        r |= (size_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return n;
        }
        shift += 7;
    }
    return 0;
}

#define INT_SCORE_LIMIT 9007199254740992.0 /* 2^53: every integer below is exact */

/* Bytes the score takes; fills out (>= 10 bytes) when out is not NULL. */
static size_t score_put(unsigned char *out, double score)
{
    unsigned char tmp[10];
    if (!out) out = tmp;
    if (score > -INT_SCORE_LIMIT && score < INT_SCORE_LIMIT && score == (double)(int64_t)score) {
        int64_t v = (int64_t)score;
        uint64_t zz = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        return varint_put(out, (size_t)(zz << 1 | 1));
    }
    out[0] = 0;
    memcpy(out + 1, &score, sizeof(double));
    return 1 + sizeof(double);
}

/* Decodes a score bounded by end; returns its size, 0 when malformed. */
static size_t score_get(const unsigned char *p, const unsigned char *end, double *score)
{
    if (p >= end) return 0;
    if (p[0] == 0) {
        if (end - p < 1 + (long)sizeof(double)) return 0;
        memcpy(score, p + 1, sizeof(double));
        return 1 + sizeof(double);
    }
    if (!(p[0] & 1)) return 0;
    size_t u;
    size_t n = varint_get(p, end, &u);
    if (!n) return 0;
    uint64_t zz = (uint64_t)u >> 1;
    int64_t v = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
    *score = (double)v;
    return n;
}

zpack *zp_new(void)
{
    zpack *zp = cb_malloc(ZP_HEADER);
    wr32(zp, ZP_HEADER);
    wr32(zp + 4, 0);
    return zp;
}

void zp_free(zpack *zp)
{
    cb_free(zp);
}

zpack *zp_dup(const zpack *zp)
{
    zpack *n = cb_malloc(rd32(zp));
    memcpy(n, zp, rd32(zp));
    return n;
}

size_t zp_count(const zpack *zp)
{
    return rd32(zp + 4);
}

size_t zp_bytes(const zpack *zp)
{
    return rd32(zp);
}

size_t zp_first(const zpack *zp)
{
    return rd32(zp) > ZP_HEADER ? ZP_HEADER : 0;
}

static size_t entry_size(const zpack *zp, size_t off)
{
    size_t len = 0;
    const unsigned char *end = zp + rd32(zp);
    size_t h = varint_get(zp + off, end, &len);
    double s;
    return h + len + score_get(zp + off + h + len, end, &s);
}

size_t zp_next(const zpack *zp, size_t off)
{
    size_t n = off + entry_size(zp, off);
    return n < rd32(zp) ? n : 0;
}

size_t zp_at_index(const zpack *zp, size_t idx)
{
    if (idx >= zp_count(zp)) return 0;
    size_t off = zp_first(zp);
    while (idx--) off = zp_next(zp, off);
    return off;
}

void zp_get(const zpack *zp, size_t off, const char **ele, size_t *len, double *score)
{
    size_t l = 0;
    size_t h = varint_get(zp + off, zp + rd32(zp), &l);
    if (ele) *ele = (const char *)zp + off + h;
    if (len) *len = l;
    if (score) score_get(zp + off + h + l, zp + rd32(zp), score);
}

double zp_score(const zpack *zp, size_t off)
{
    double s;
    zp_get(zp, off, NULL, NULL, &s);
    return s;
}

size_t zp_find(const zpack *zp, const char *ele, size_t len, double *score)
{
    for (size_t off = zp_first(zp); off; off = zp_next(zp, off)) {
        const char *e;
        size_t l;
        zp_get(zp, off, &e, &l, NULL);
        if (l == len && memcmp(e, ele, len) == 0) {
            if (score) *score = zp_score(zp, off);
            return off;
        }
    }
    return 0;
}

static zpack *insert_at(zpack *zp, size_t at, const char *ele, size_t len, double score)
{
    if (score == 0) score = 0; /* no -0 in the compact form */
    size_t total = rd32(zp);
    unsigned char sbuf[10];
    size_t sl = score_put(sbuf, score);
    size_t need = varint_len(len) + len + sl;
    zp = cb_realloc(zp, total + need);
    memmove(zp + at + need, zp + at, total - at);
    size_t h = varint_put(zp + at, len);
    if (len) memcpy(zp + at + h, ele, len);
    memcpy(zp + at + h + len, sbuf, sl);
    wr32(zp, (uint32_t)(total + need));
    wr32(zp + 4, rd32(zp + 4) + 1);
    return zp;
}

zpack *zp_insert(zpack *zp, const char *ele, size_t len, double score)
{
    size_t at = ZP_HEADER;
    for (size_t off = zp_first(zp); off; off = zp_next(zp, off)) {
        const char *e;
        size_t l;
        double s;
        zp_get(zp, off, &e, &l, &s);
        if (s > score || (s == score && zsl_cmp_bytes(e, l, ele, len) > 0)) break;
        at = off + entry_size(zp, off);
    }
    return insert_at(zp, at, ele, len, score);
}

zpack *zp_append(zpack *zp, const char *ele, size_t len, double score)
{
    return insert_at(zp, rd32(zp), ele, len, score);
}

zpack *zp_delete(zpack *zp, size_t off, size_t n)
{
    size_t total = rd32(zp), end = off, k = 0;
    while (k < n && end < total) {
        end += entry_size(zp, end);
        k++;
    }
    memmove(zp + off, zp + end, total - end);
    wr32(zp, (uint32_t)(total - (end - off)));
    wr32(zp + 4, (uint32_t)(rd32(zp + 4) - k));
    return cb_realloc(zp, total - (end - off));
}

int zp_validate(const unsigned char *buf, size_t n)
{
    if (n < ZP_HEADER || rd32(buf) != n) return 0;
    size_t off = ZP_HEADER, count = 0;
    const char *pe = NULL;
    size_t pl = 0;
    double ps = 0;
    while (off < n) {
        size_t len = 0;
        size_t h = varint_get(buf + off, buf + n, &len);
        if (!h || len > n || off + h + len >= n) return 0;
        double s;
        size_t sl = score_get(buf + off + h + len, buf + n, &s);
        if (!sl || s != s) return 0;
        const char *e = (const char *)buf + off + h;
        if (count && (ps > s || (ps == s && zsl_cmp_bytes(pe, pl, e, len) >= 0))) return 0;
        pe = e;
        pl = len;
        ps = s;
        off += h + len + sl;
        count++;
    }
    return count == rd32(buf + 4);
}
