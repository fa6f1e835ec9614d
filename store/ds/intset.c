/* intset.c — sorted integer array with width upgrades (see intset.h).
 *
 * Layout: u32 width (2/4/8), u32 count, then count elements of width bytes,
 * all little endian, ascending and distinct. Lookups are binary searches;
 * inserts and removals shift the tail with memmove, which is what keeps this
 * encoding fast only for small sets — the set type converts to a hash table
 * past set-max-intset-entries.
 */
#include "intset.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

#include <assert.h>
#include <string.h>

struct intset {
    uint8_t hdr[8]; /* width, count: u32 little endian each */
    uint8_t data[];
};

/* --------------------------------------------------------- byte access */

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void st32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static unsigned width_of(const intset *is) { return ld32(is->hdr); }
static uint32_t count_of(const intset *is) { return ld32(is->hdr + 4); }
static void set_count(intset *is, uint32_t n) { st32(is->hdr + 4, n); }

/* Signed little-endian load/store of w bytes. */
static int64_t load_w(const uint8_t *p, unsigned w)
{
    uint64_t u = 0;
    for (unsigned i = 0; i < w; i++) u |= (uint64_t)p[i] << (8 * i);
    if (w < 8 && (u >> (8 * w - 1)) & 1) u |= ~(uint64_t)0 << (8 * w); /* sign extend */
    return (int64_t)u;
}

static void store_w(uint8_t *p, unsigned w, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (unsigned i = 0; i < w; i++) p[i] = (uint8_t)(u >> (8 * i));
}

static unsigned width_for(int64_t v)
{
    if (v >= INT16_MIN && v <= INT16_MAX) return 2;
    if (v >= INT32_MIN && v <= INT32_MAX) return 4;
    return 8;
}

static int64_t at(const intset *is, uint32_t i)
{
    unsigned w = width_of(is);
    return load_w(is->data + (size_t)i * w, w);
}

static void put(intset *is, uint32_t i, int64_t v)
{
    unsigned w = width_of(is);
    store_w(is->data + (size_t)i * w, w, v);
}

static intset *resize(intset *is, uint32_t n, unsigned w)
{
    return cb_realloc(is, sizeof(intset) + (size_t)n * w);
}

/* Binary search: 1 and *pos = index when found, else 0 and *pos = where v
 * would be inserted. */
static int search(const intset *is, int64_t v, uint32_t *pos)
{
    uint32_t lo = 0, hi = count_of(is);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t m = at(is, mid);
        if (m == v) {
            *pos = mid;
            return 1;
        }
        if (m < v) lo = mid + 1;
        else hi = mid;
    }
    *pos = lo;
    return 0;
}

/* ------------------------------------------------------------------ API */

intset *intset_new(void)
{
    intset *is = cb_malloc(sizeof(intset));
    st32(is->hdr, 2);
    set_count(is, 0);
    return is;
}

void intset_free(intset *is) { cb_free(is); }

intset *intset_dup(const intset *is)
{
    size_t n = intset_blob_len(is);
    intset *d = cb_malloc(n);
    memcpy(d, is, n);
    return d;
}

/* Re-encodes every element at the wider width nw, then places v, which is
 * outside the old range by construction: first when negative, last when
 * positive. Walks from the end so nothing is overwritten before it is read. */
static intset *upgrade_and_add(intset *is, int64_t v, unsigned nw)
{
    unsigned ow = width_of(is);
    uint32_t n = count_of(is);
    is = resize(is, n + 1, nw);
    uint32_t shift = v < 0 ? 1 : 0;
    for (uint32_t i = n; i-- > 0;)
        store_w(is->data + (size_t)(i + shift) * nw, nw, load_w(is->data + (size_t)i * ow, ow));
    st32(is->hdr, nw);
    put(is, v < 0 ? 0 : n, v);
    set_count(is, n + 1);
    return is;
}

intset *intset_add(intset *is, int64_t v, int *added)
{
    unsigned nw = width_for(v);
    if (added) *added = 1;
    if (nw > width_of(is)) return upgrade_and_add(is, v, nw);
    uint32_t pos;
    if (search(is, v, &pos)) {
        if (added) *added = 0;
        return is;
    }
    uint32_t n = count_of(is);
    unsigned w = width_of(is);
    is = resize(is, n + 1, w);
    memmove(is->data + (size_t)(pos + 1) * w, is->data + (size_t)pos * w,
            (size_t)(n - pos) * w);
    put(is, pos, v);
    set_count(is, n + 1);
    return is;
}

intset *intset_remove(intset *is, int64_t v, int *removed)
{
    uint32_t pos;
    if (removed) *removed = 0;
    if (width_for(v) > width_of(is) || !search(is, v, &pos)) return is;
    uint32_t n = count_of(is);
    unsigned w = width_of(is);
    memmove(is->data + (size_t)pos * w, is->data + (size_t)(pos + 1) * w,
            (size_t)(n - pos - 1) * w);
    set_count(is, n - 1);
    if (removed) *removed = 1;
    return resize(is, n - 1, w);
}

int intset_find(const intset *is, int64_t v)
{
    uint32_t pos;
    return width_for(v) <= width_of(is) && search(is, v, &pos);
}

uint32_t intset_len(const intset *is) { return count_of(is); }
unsigned intset_width(const intset *is) { return width_of(is); }

int64_t intset_get(const intset *is, uint32_t pos)
{
    assert(pos < count_of(is));
    return at(is, pos);
}

int64_t intset_random(const intset *is, uint64_t *rng)
{
    uint32_t n = count_of(is);
    assert(n > 0);
    return at(is, (uint32_t)(util_rand64(rng) % n));
}

int64_t intset_min(const intset *is) { return intset_get(is, 0); }
int64_t intset_max(const intset *is) { return intset_get(is, count_of(is) - 1); }

size_t intset_blob_len(const intset *is)
{
    return sizeof(intset) + (size_t)count_of(is) * width_of(is);
}

int intset_validate(const void *blob, size_t size, int deep)
{
    if (!blob || size < sizeof(intset)) return 0;
    const intset *is = blob;
    unsigned w = width_of(is);
    if (w != 2 && w != 4 && w != 8) return 0;
    uint64_t n = count_of(is);
    if (n == 0 || (uint64_t)sizeof(intset) + n * w != size) return 0;
    if (!deep) return 1;
    for (uint32_t i = 1; i < n; i++)
        if (at(is, i - 1) >= at(is, i)) return 0;
    return 1;
}

intset *intset_from_blob(const void *blob, size_t size)
{
    intset *is = cb_malloc(size);
    memcpy(is, blob, size);
    return is;
}
