/* cbstr.c — length-prefixed byte strings (see cbstr.h).
 *
 * Layout: [header][bytes...][NUL]. The byte just before the string is the
 * header type; the header's width follows the capacity, so a short key pays
 * 3 bytes of header (len, cap, type) instead of 17. Capacity always takes up
 * whatever the allocator really handed out, so growing into a size class's
 * slack costs no realloc. Strings made at their exact size (cbstr_new) of 1
 * to 31 bytes — keys, hash fields — use a 1-byte header (T5: the type in the
 * low 3 bits, the length in the high 5, no spare capacity): jemalloc's size
 * classes are 16 bytes apart, so 2 bytes less header often means a class
 * less (a 13-byte key: 15 bytes in 16, not 17 in 32). Growing one converts
 * it to a wider header first.
 */
#include "cbstr.h"
#include "../../platform/mem.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T8 = 0, T16 = 1, T32 = 2, T64 = 3, T5 = 4 };
#define T5_MAX 31

struct __attribute__((packed)) hdr8 { uint8_t len, cap; uint8_t type; };
struct __attribute__((packed)) hdr16 { uint16_t len, cap; uint8_t type; };
struct __attribute__((packed)) hdr32 { uint32_t len, cap; uint8_t type; };
struct __attribute__((packed)) hdr64 { uint64_t len, cap; uint8_t type; };

#define CBSTR_MB ((size_t)1024 * 1024)

static inline int type_of(const cbstr s)
{
    return (unsigned char)s[-1] & 7;
}

static inline size_t hdr_size(int type)
{
    switch (type) {
    case T8: return sizeof(struct hdr8);
    case T16: return sizeof(struct hdr16);
    case T32: return sizeof(struct hdr32);
    case T5: return 1;
    default: return sizeof(struct hdr64);
    }
}

static inline size_t type_max(int type)
{
    switch (type) {
    case T8: return UINT8_MAX;
    case T16: return UINT16_MAX;
    case T32: return UINT32_MAX;
    default: return SIZE_MAX;
    }
}

static inline int type_for(size_t cap)
{
    if (cap <= UINT8_MAX) return T8;
    if (cap <= UINT16_MAX) return T16;
    if (cap <= UINT32_MAX) return T32;
    return T64;
}

static inline void *hdr_of(const cbstr s)
{
    return s - hdr_size(type_of(s));
}

size_t cbstr_len(const cbstr s)
{
    switch (type_of(s)) {
    case T8: return ((struct hdr8 *)hdr_of(s))->len;
    case T16: return ((struct hdr16 *)hdr_of(s))->len;
    case T32: return ((struct hdr32 *)hdr_of(s))->len;
    case T5: return (unsigned char)s[-1] >> 3;
    default: return ((struct hdr64 *)hdr_of(s))->len;
    }
}

static size_t cap_of(const cbstr s)
{
    switch (type_of(s)) {
    case T8: return ((struct hdr8 *)hdr_of(s))->cap;
    case T16: return ((struct hdr16 *)hdr_of(s))->cap;
    case T32: return ((struct hdr32 *)hdr_of(s))->cap;
    case T5: return (unsigned char)s[-1] >> 3; /* no spare room */
    default: return ((struct hdr64 *)hdr_of(s))->cap;
    }
}

static void set_len(cbstr s, size_t len)
{
    switch (type_of(s)) {
    case T8: ((struct hdr8 *)hdr_of(s))->len = (uint8_t)len; break;
    case T16: ((struct hdr16 *)hdr_of(s))->len = (uint16_t)len; break;
    case T32: ((struct hdr32 *)hdr_of(s))->len = (uint32_t)len; break;
    case T5: s[-1] = (char)(T5 | (len << 3)); break; /* only ever shrinks */
    default: ((struct hdr64 *)hdr_of(s))->len = len; break;
    }
}

/* Records the capacity the allocator actually gave (clamped to the type). */
static void set_cap_from_block(cbstr s, void *block)
{
    int t = type_of(s);
    if (t == T5) return;
    size_t cap = cb_usable(block) - hdr_size(t) - 1;
    if (cap > type_max(t)) cap = type_max(t);
    switch (t) {
    case T8: ((struct hdr8 *)block)->cap = (uint8_t)cap; break;
    case T16: ((struct hdr16 *)block)->cap = (uint16_t)cap; break;
    case T32: ((struct hdr32 *)block)->cap = (uint32_t)cap; break;
    default: ((struct hdr64 *)block)->cap = cap; break;
    }
}

/* Allocates a string of the type fitting cap, with length len (<= cap). */
static cbstr alloc_str(size_t cap, size_t len)
{
    int t = type_for(cap);
    size_t hs = hdr_size(t);
    if (cap > SIZE_MAX - hs - 1) {
        fprintf(stderr, "cbstr: size overflow\n");
        abort();
    }
    char *block = cb_malloc(hs + cap + 1);
    cbstr s = block + hs;
    s[-1] = (char)t;
    set_len(s, len);
    set_cap_from_block(s, block);
    s[len] = '\0';
    return s;
}

cbstr cbstr_new(const void *p, size_t len)
{
    cbstr s;
    if (len && len <= T5_MAX) {
        char *block = cb_malloc(1 + len + 1);
        s = block + 1;
        s[-1] = (char)(T5 | (len << 3));
        s[len] = '\0';
    } else {
        s = alloc_str(len, len);
    }
    if (p)
        memcpy(s, p, len);
    else
        memset(s, 0, len);
    return s;
}

cbstr cbstr_with_cap(size_t cap)
{
    return alloc_str(cap, 0);
}

cbstr cbstr_from_cstr(const char *s)
{
    return cbstr_new(s, strlen(s));
}

cbstr cbstr_dup(const cbstr s)
{
    return cbstr_new(s, cbstr_len(s));
}

cbstr cbstr_move(cbstr s, void *(*move)(void *p))
{
    void *base = hdr_of(s);
    char *n = move(base);
    return n ? n + (s - (char *)base) : NULL;
}

void cbstr_free(cbstr s)
{
    if (s) cb_free(hdr_of(s));
}

size_t cbstr_avail(const cbstr s)
{
    return cap_of(s) - cbstr_len(s);
}

size_t cbstr_alloc_size(const cbstr s)
{
    return cb_usable(hdr_of(s));
}

/* Moves s into a block with capacity for at least newcap bytes. */
static cbstr resize_to(cbstr s, size_t newcap)
{
    size_t len = cbstr_len(s);
    int oldt = type_of(s), newt = type_for(newcap);
    if (oldt == newt) {
        size_t hs = hdr_size(newt);
        char *block = cb_realloc(hdr_of(s), hs + newcap + 1);
        s = block + hs;
        set_cap_from_block(s, block);
        return s;
    }
    /* The header width changes, so the bytes must shift: copy over. */
    cbstr n = alloc_str(newcap, len);
    memcpy(n, s, len + 1);
    cbstr_free(s);
    return n;
}

cbstr cbstr_reserve(cbstr s, size_t extra)
{
    size_t len = cbstr_len(s);
    if (cap_of(s) - len >= extra) return s;
    if (extra > SIZE_MAX - len - CBSTR_MB) {
        fprintf(stderr, "cbstr: size overflow\n");
        abort();
    }
    size_t want = len + extra;
    /* Appends are usually followed by more appends: double while small,
     * then grow in 1 MB steps so huge values don't waste half their size. */
    want = want < CBSTR_MB ? want * 2 : want + CBSTR_MB;
    return resize_to(s, want);
}

cbstr cbstr_cat(cbstr s, const void *p, size_t len)
{
    s = cbstr_reserve(s, len);
    size_t cur = cbstr_len(s);
    if (len) memcpy(s + cur, p, len);
    cbstr_setlen(s, cur + len);
    return s;
}

cbstr cbstr_catvfmt(cbstr s, const char *fmt, va_list ap)
{
    size_t cur = cbstr_len(s);
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(s + cur, cbstr_avail(s) + 1, fmt, cp);
    va_end(cp);
    if (n < 0) {
        s[cur] = '\0';
        return s;
    }
    if ((size_t)n > cbstr_avail(s)) {
        s = cbstr_reserve(s, (size_t)n);
        va_copy(cp, ap);
        vsnprintf(s + cur, cbstr_avail(s) + 1, fmt, cp);
        va_end(cp);
    }
    cbstr_setlen(s, cur + (size_t)n);
    return s;
}

cbstr cbstr_catfmt(cbstr s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s = cbstr_catvfmt(s, fmt, ap);
    va_end(ap);
    return s;
}

cbstr cbstr_grow_zero(cbstr s, size_t newlen)
{
    size_t cur = cbstr_len(s);
    if (newlen <= cur) return s;
    s = cbstr_reserve(s, newlen - cur);
    memset(s + cur, 0, newlen - cur + 1);
    set_len(s, newlen);
    return s;
}

void cbstr_setlen(cbstr s, size_t len)
{
    assert(len <= cap_of(s));
    set_len(s, len);
    s[len] = '\0';
}

cbstr cbstr_shrink(cbstr s)
{
    size_t len = cbstr_len(s);
    if (cap_of(s) == len) return s;
    int oldt = type_of(s), newt = type_for(len);
    if (oldt == newt) {
        size_t hs = hdr_size(newt);
        char *block = cb_realloc(hdr_of(s), hs + len + 1);
        s = block + hs;
        set_cap_from_block(s, block);
        return s;
    }
    cbstr n = alloc_str(len, len);
    memcpy(n, s, len + 1);
    cbstr_free(s);
    return n;
}

void cbstr_range(cbstr s, size_t start, size_t len)
{
    size_t cur = cbstr_len(s);
    if (start >= cur) {
        cbstr_setlen(s, 0);
        return;
    }
    if (len > cur - start) len = cur - start;
    if (start && len) memmove(s, s + start, len);
    cbstr_setlen(s, len);
}

void cbstr_clear(cbstr s)
{
    cbstr_setlen(s, 0);
}

int cbstr_cmp(const cbstr a, const cbstr b)
{
    size_t la = cbstr_len(a), lb = cbstr_len(b);
    int r = memcmp(a, b, la < lb ? la : lb);
    if (r) return r;
    return la < lb ? -1 : (la > lb ? 1 : 0);
}

int cbstr_eq_bytes(const cbstr a, const void *p, size_t len)
{
    return cbstr_len(a) == len && memcmp(a, p, len) == 0;
}
