/* pairpack.c — the packed string array behind compact hashes (format in
 * pairpack.h). Writers compute the new entry's encoding first, then grow or
 * shrink the single allocation and move the tail with memmove, so an edit
 * costs one realloc and one move. Readers trust the header and tags; input
 * from outside (RDB/RESTORE later) must pass pp_validate first.
 */
#include "pairpack.h"

#include <assert.h>
#include <string.h>

#include "../../platform/mem.h"
#include "../../platform/util.h"

#define TAG_STR16 0x80
#define TAG_STR32 0xc0
#define TAG_INT 0xc0 /* + byte count 1..8 */

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

size_t pp_bytes(const unsigned char *pp) { return rd32(pp); }
size_t pp_count(const unsigned char *pp) { return rd32(pp + 4); }
size_t pp_first(const unsigned char *pp) { (void)pp; return PP_HEADER; }

unsigned char *pp_new(void)
{
    unsigned char *pp = cb_malloc(PP_HEADER);
    wr32(pp, PP_HEADER);
    wr32(pp + 4, 0);
    return pp;
}

void pp_free(unsigned char *pp) { cb_free(pp); }

/* ------------------------------------------------------------------------
 * Encoding one entry
 * ---------------------------------------------------------------------- */

/* An entry about to be written: its tag bytes and payload. */
typedef struct enc {
    unsigned char hdr[9];
    size_t hlen;
    const void *payload;
    size_t plen;
} enc;

/* Integers need as many bytes as keep the sign: -128..127 takes one. */
static size_t int_width(long long v)
{
    for (size_t n = 1; n < 8; n++) {
        long long lim = 1LL << (8 * n - 1);
        if (v >= -lim && v < lim) return n;
    }
    return 8;
}

static void encode_ll(enc *e, long long v)
{
    size_t n = int_width(v);
    uint64_t u = (uint64_t)v;
    e->hdr[0] = (unsigned char)(TAG_INT + n);
    for (size_t i = 0; i < n; i++) e->hdr[1 + i] = (unsigned char)(u >> (8 * i));
    e->hlen = 1 + n;
    e->payload = NULL;
    e->plen = 0;
}

/* Canonical decimal text (what util_ll2str prints back) becomes an integer. */
static int text_is_ll(const void *s, size_t len, long long *v)
{
    return len > 0 && len <= 20 && util_str2ll(s, len, v);
}

static void encode(enc *e, const void *s, size_t len)
{
    long long v;
    if (text_is_ll(s, len, &v)) {
        encode_ll(e, v);
        return;
    }
    if (len < 0x80) {
        e->hdr[0] = (unsigned char)len;
        e->hlen = 1;
    } else if (len < 0x4000) {
        e->hdr[0] = (unsigned char)(TAG_STR16 | (len >> 8));
        e->hdr[1] = (unsigned char)len;
        e->hlen = 2;
    } else {
        assert(len <= UINT32_MAX);
        e->hdr[0] = TAG_STR32;
        wr32(e->hdr + 1, (uint32_t)len);
        e->hlen = 5;
    }
    e->payload = s;
    e->plen = len;
}

size_t pp_entry_size(const void *s, size_t len)
{
    enc e;
    encode(&e, s, len);
    return e.hlen + e.plen;
}

/* ------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------- */

/* Size of the entry at p, 0 when it cannot be decoded within avail bytes. */
static size_t entry_size_bounded(const unsigned char *p, size_t avail)
{
    if (avail < 1) return 0;
    unsigned t = p[0];
    size_t need;
    if (t < 0x80) {
        need = 1 + t;
    } else if (t < TAG_STR32) {
        if (avail < 2) return 0;
        need = 2 + (((size_t)t & 0x3f) << 8 | p[1]);
    } else if (t == TAG_STR32) {
        if (avail < 5) return 0;
        need = 5 + (size_t)rd32(p + 1);
    } else if (t <= TAG_INT + 8) {
        need = 1 + (t - TAG_INT);
    } else {
        return 0;
    }
    return need <= avail ? need : 0;
}

static size_t entry_size(const unsigned char *p)
{
    return entry_size_bounded(p, SIZE_MAX);
}

size_t pp_next(const unsigned char *pp, size_t off)
{
    return off + entry_size(pp + off);
}

size_t pp_seek(const unsigned char *pp, size_t idx)
{
    if (idx >= pp_count(pp)) return 0;
    size_t off = PP_HEADER;
    while (idx--) off = pp_next(pp, off);
    return off;
}

void pp_get(const unsigned char *pp, size_t off, pp_entry *e)
{
    const unsigned char *p = pp + off;
    unsigned t = p[0];
    e->is_int = 0;
    e->ll = 0;
    if (t < 0x80) {
        e->s = p + 1;
        e->len = t;
    } else if (t < TAG_STR32) {
        e->s = p + 2;
        e->len = ((size_t)t & 0x3f) << 8 | p[1];
    } else if (t == TAG_STR32) {
        e->s = p + 5;
        e->len = rd32(p + 1);
    } else {
        size_t n = t - TAG_INT;
        uint64_t u = 0;
        for (size_t i = 0; i < n; i++) u |= (uint64_t)p[1 + i] << (8 * i);
        if (n < 8 && (u >> (8 * n - 1)) & 1) u |= ~0ULL << (8 * n); /* sign */
        e->is_int = 1;
        e->ll = (long long)u;
        e->s = NULL;
        e->len = 0;
    }
}

const char *pp_str(const unsigned char *pp, size_t off, char *buf, size_t *len)
{
    pp_entry e;
    pp_get(pp, off, &e);
    if (e.is_int) {
        *len = util_ll2str(buf, PP_INTBUF, e.ll);
        return buf;
    }
    *len = e.len;
    return (const char *)e.s;
}

size_t pp_find(const unsigned char *pp, const void *s, size_t len, int step)
{
    long long v;
    int want_int = text_is_ll(s, len, &v);
    size_t end = pp_bytes(pp), off = PP_HEADER;
    while (off < end) {
        pp_entry e;
        pp_get(pp, off, &e);
        if (want_int ? (e.is_int && e.ll == v)
                     : (!e.is_int && e.len == len && memcmp(e.s, s, len) == 0))
            return off;
        off = pp_next(pp, off);
        for (int k = 0; k < step && off < end; k++) off = pp_next(pp, off);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------- */

/* Replaces old_size bytes at off with the entry e; count changes by dcount. */
static unsigned char *splice(unsigned char *pp, size_t off, size_t old_size,
                             const enc *e, long dcount)
{
    size_t total = pp_bytes(pp);
    size_t new_size = e ? e->hlen + e->plen : 0;
    size_t tail = total - off - old_size;
    size_t ntotal = total - old_size + new_size;
    assert(ntotal <= UINT32_MAX);
    /* The payload may point into this pack (it never does for the hash
     * commands, but a caller re-adding one of its own entries could). */
    unsigned char *copy = NULL;
    const void *payload = e ? e->payload : NULL;
    if (payload && (const unsigned char *)payload >= pp &&
        (const unsigned char *)payload < pp + total) {
        copy = cb_malloc(e->plen ? e->plen : 1);
        memcpy(copy, payload, e->plen);
        payload = copy;
    }
    if (new_size > old_size) pp = cb_realloc(pp, ntotal);
    memmove(pp + off + new_size, pp + off + old_size, tail);
    if (new_size < old_size) pp = cb_realloc(pp, ntotal);
    if (e) {
        memcpy(pp + off, e->hdr, e->hlen);
        if (e->plen) memcpy(pp + off + e->hlen, payload, e->plen);
    }
    wr32(pp, (uint32_t)ntotal);
    wr32(pp + 4, (uint32_t)((long)pp_count(pp) + dcount));
    cb_free(copy);
    return pp;
}

unsigned char *pp_append(unsigned char *pp, const void *s, size_t len)
{
    enc e;
    encode(&e, s, len);
    return splice(pp, pp_bytes(pp), 0, &e, 1);
}

unsigned char *pp_append_ll(unsigned char *pp, long long v)
{
    enc e;
    encode_ll(&e, v);
    return splice(pp, pp_bytes(pp), 0, &e, 1);
}

unsigned char *pp_replace(unsigned char *pp, size_t off, const void *s, size_t len)
{
    enc e;
    encode(&e, s, len);
    return splice(pp, off, entry_size(pp + off), &e, 0);
}

unsigned char *pp_delete(unsigned char *pp, size_t off, size_t n)
{
    size_t end = off;
    for (size_t i = 0; i < n; i++) end = pp_next(pp, end);
    return splice(pp, off, end - off, NULL, -(long)n);
}

/* ------------------------------------------------------------------------
 * Validation
 * ---------------------------------------------------------------------- */

int pp_validate(const unsigned char *p, size_t size, int pairs)
{
    if (!p || size < PP_HEADER || size > UINT32_MAX) return 0;
    if (rd32(p) != size) return 0;
    size_t count = rd32(p + 4), seen = 0, off = PP_HEADER;
    while (off < size) {
        size_t n = entry_size_bounded(p + off, size - off);
        if (n == 0) return 0;
        /* pp_find relies on integer text never being stored as a string. */
        pp_entry e;
        long long v;
        pp_get(p, off, &e);
        if (!e.is_int && text_is_ll(e.s, e.len, &v)) return 0;
        off += n;
        seen++;
    }
    if (seen != count) return 0;
    return !pairs || count % 2 == 0;
}
