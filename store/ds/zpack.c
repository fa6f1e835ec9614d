/* zpack.c — see zpack.h. Scores are kept as raw doubles (8 bytes, host
 * order) so reading one back is exact; -0 is stored as 0, because Redis's
 * listpack keeps scores as text that turns "-0" into the integer 0 and
 * clients can see the difference. The block is resized with every change:
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
    size_t h = varint_get(zp + off, zp + rd32(zp), &len);
    return h + len + sizeof(double);
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
    if (score) memcpy(score, zp + off + h + l, sizeof(double));
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
    size_t need = varint_len(len) + len + sizeof(double);
    zp = cb_realloc(zp, total + need);
    memmove(zp + at + need, zp + at, total - at);
    size_t h = varint_put(zp + at, len);
    if (len) memcpy(zp + at + h, ele, len);
    memcpy(zp + at + h + len, &score, sizeof(double));
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
        if (!h || len > n || off + h + len + sizeof(double) > n) return 0;
        double s;
        memcpy(&s, buf + off + h + len, sizeof(double));
        if (s != s) return 0;
        const char *e = (const char *)buf + off + h;
        if (count && (ps > s || (ps == s && zsl_cmp_bytes(pe, pl, e, len) >= 0))) return 0;
        pe = e;
        pl = len;
        ps = s;
        off += h + len + sizeof(double);
        count++;
    }
    return count == rd32(buf + 4);
}
