/* hll.c — the HyperLogLog engine behind PFADD / PFCOUNT / PFMERGE (see hll.h
 * for the byte layout). Written from Flajolet et al.'s HyperLogLog paper, the
 * sparse representation of Heule et al. ("HyperLogLog in Practice") and
 * Ertl's estimator, and checked byte for byte against Redis 7.0's values: the
 * sparse payload is not canonical, so the exact way an update splits a run
 * and re-merges neighbouring VAL opcodes decides the bytes, and GET of a key
 * must be the same on both servers after the same PFADDs.
 * Layers: hash, dense registers, sparse opcodes, estimator, whole-sketch ops.
 */
#include "hll.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../platform/mem.h"

#define HLL_HASH_SEED 0xadc83b19ULL

/* ------------------------------------------------------------------------
 * Hash
 * ---------------------------------------------------------------------- */

uint64_t hll_murmur64a(const void *key, size_t len, uint64_t seed)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    const uint8_t *d = key;
    uint64_t h = seed ^ (len * m);
    size_t blocks = len / 8;
    for (size_t b = 0; b < blocks; b++, d += 8) {
        /* Little-endian reads on every host, as Redis normalises them. */
        uint64_t k = 0;
        for (int i = 7; i >= 0; i--) k = (k << 8) | d[i];
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    size_t tail = len & 7;
    if (tail) {
        for (size_t i = tail; i > 0; i--) h ^= (uint64_t)d[i - 1] << (8 * (i - 1));
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

int hll_pattern(const void *ele, size_t len, long *index)
{
    uint64_t h = hll_murmur64a(ele, len, HLL_HASH_SEED);
    *index = (long)(h & (HLL_REGISTERS - 1));
    h >>= HLL_P;
    h |= 1ULL << HLL_Q; /* a sentinel bounds the rank at Q+1 */
    return __builtin_ctzll(h) + 1;
}

/* ------------------------------------------------------------------------
 * Header
 * ---------------------------------------------------------------------- */

int hll_header_ok(const char *p, size_t len)
{
    if (len < HLL_HDR_SIZE || memcmp(p, "HYLL", 4) != 0) return 0;
    uint8_t enc = (uint8_t)p[4];
    if (enc > HLL_ENC_SPARSE) return 0;
    if (enc == HLL_ENC_DENSE && len != HLL_DENSE_SIZE) return 0;
    return 1;
}

int hll_encoding(const char *p) { return (uint8_t)p[4]; }

int hll_cache_get(const char *p, uint64_t *card)
{
    const uint8_t *c = (const uint8_t *)p + 8;
    if (c[7] & 0x80) return 0;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | c[i];
    *card = v;
    return 1;
}

void hll_cache_set(char *p, uint64_t card)
{
    uint8_t *c = (uint8_t *)p + 8;
    for (int i = 0; i < 8; i++) c[i] = (uint8_t)(card >> (8 * i));
}

void hll_cache_invalidate(char *p) { ((uint8_t *)p)[15] |= 0x80; }

/* ------------------------------------------------------------------------
 * Dense registers: register i occupies bits 6i..6i+5 counted from the low
 * bit of byte 0, so it may straddle two bytes (low part in the first).
 * ---------------------------------------------------------------------- */

uint8_t hll_dense_get(const uint8_t *regs, long i)
{
    size_t bit = (size_t)i * HLL_BITS;
    size_t byte = bit / 8;
    unsigned sh = bit & 7;
    unsigned lo = regs[byte] >> sh;
    /* The straddling byte only matters when the field crosses it; the last
     * register never does, so this never reads past the area. */
    unsigned hi = sh > 8 - HLL_BITS ? (unsigned)regs[byte + 1] << (8 - sh) : 0;
    return (uint8_t)((lo | hi) & HLL_REG_MAX);
}

static void dense_put(uint8_t *regs, long i, uint8_t v)
{
    size_t bit = (size_t)i * HLL_BITS;
    size_t byte = bit / 8;
    unsigned sh = bit & 7;
    regs[byte] = (uint8_t)((regs[byte] & ~(HLL_REG_MAX << sh)) | (v << sh));
    if (sh > 8 - HLL_BITS) {
        unsigned rest = 8 - sh;
        regs[byte + 1] = (uint8_t)((regs[byte + 1] & ~(HLL_REG_MAX >> rest)) |
                                   (v >> rest));
    }
}

static int dense_raise(uint8_t *regs, long i, uint8_t v)
{
    if (v <= hll_dense_get(regs, i)) return 0;
    dense_put(regs, i, v);
    return 1;
}

/* ------------------------------------------------------------------------
 * Sparse opcodes
 *   ZERO  00llllll            1..64 zero registers
 *   XZERO 01llllll llllllll   1..16384 zero registers
 *   VAL   1vvvvvll            1..4 registers of value 1..32
 * ---------------------------------------------------------------------- */

#define SP_ZERO_MAX 64
#define SP_XZERO_MAX 16384
#define SP_VAL_MAX_VALUE 32
#define SP_VAL_MAX_LEN 4

static int op_is_zero(const uint8_t *p) { return (*p & 0xc0) == 0x00; }
static int op_is_xzero(const uint8_t *p) { return (*p & 0xc0) == 0x40; }
static int op_is_val(const uint8_t *p) { return (*p & 0x80) != 0; }
static long op_zero_len(const uint8_t *p) { return (*p & 0x3f) + 1; }
static long op_xzero_len(const uint8_t *p) { return (((long)(p[0] & 0x3f) << 8) | p[1]) + 1; }
static int op_val_value(const uint8_t *p) { return ((*p >> 2) & 0x1f) + 1; }
static long op_val_len(const uint8_t *p) { return (*p & 0x3) + 1; }

static void op_put_zero(uint8_t *p, long len) { *p = (uint8_t)(len - 1); }
static void op_put_xzero(uint8_t *p, long len)
{
    p[0] = (uint8_t)(0x40 | ((len - 1) >> 8));
    p[1] = (uint8_t)((len - 1) & 0xff);
}
static void op_put_val(uint8_t *p, int val, long len)
{
    *p = (uint8_t)(0x80 | ((val - 1) << 2) | (len - 1));
}

/* Writes a zero run with the short form when it fits; returns bytes used. */
static int op_put_zeros(uint8_t *p, long len)
{
    if (len > SP_ZERO_MAX) {
        op_put_xzero(p, len);
        return 2;
    }
    op_put_zero(p, len);
    return 1;
}

/* Walks a sparse payload calling visit(run start, run length, value) for
 * each opcode. Runs that would pass the last register stop the walk. The
 * payload is valid when it covers exactly HLL_REGISTERS registers. */
typedef void (*sparse_visit)(void *ctx, long first, long len, int val);

static int sparse_walk(const uint8_t *p, const uint8_t *end, sparse_visit fn, void *ctx)
{
    long idx = 0;
    while (p < end) {
        long len;
        int val = 0;
        if (op_is_zero(p)) {
            len = op_zero_len(p);
            p++;
        } else if (op_is_xzero(p)) {
            /* A truncated XZERO takes the NUL terminator as its second
             * byte, as Redis does; the coverage check still applies. */
            len = op_xzero_len(p);
            p += 2;
        } else {
            len = op_val_len(p);
            val = op_val_value(p);
            p++;
        }
        if (idx + len > HLL_REGISTERS) return -1;
        if (fn) fn(ctx, idx, len, val);
        idx += len;
    }
    return idx == HLL_REGISTERS ? 0 : -1;
}

static void visit_to_dense(void *ctx, long first, long len, int val)
{
    if (!val) return;
    for (long i = 0; i < len; i++) dense_put(ctx, first + i, (uint8_t)val);
}

int hll_to_dense(cbstr *s)
{
    const char *p = *s;
    if (hll_encoding(p) == HLL_ENC_DENSE) return 0;
    cbstr d = cbstr_new(NULL, HLL_DENSE_SIZE);
    memcpy(d, p, HLL_HDR_SIZE); /* the cached cardinality comes along */
    d[4] = HLL_ENC_DENSE;
    const uint8_t *sp = (const uint8_t *)p + HLL_HDR_SIZE;
    if (sparse_walk(sp, (const uint8_t *)p + cbstr_len(*s), visit_to_dense,
                    (uint8_t *)d + HLL_HDR_SIZE) != 0) {
        cbstr_free(d);
        return -1;
    }
    cbstr_free(*s);
    *s = d;
    return 0;
}

/* Raises register index to val in a sparse payload. The run holding the
 * register is replaced by up to three opcodes (before / the register /
 * after), then a short window of opcodes from the one before it is scanned
 * to fuse neighbouring VAL runs of equal value. Values above 32 or a payload
 * outgrowing sparse_max promote the sketch to dense. */
static int sparse_set(cbstr *s, long index, uint8_t val, long long sparse_max)
{
    if (val > SP_VAL_MAX_VALUE) goto promote;
    *s = cbstr_reserve(*s, 3);
    uint8_t *sparse = (uint8_t *)*s + HLL_HDR_SIZE;
    uint8_t *end = (uint8_t *)*s + cbstr_len(*s);
    uint8_t *p = sparse, *prev = NULL;
    long first = 0, span = 0;
    while (p < end) {
        int oplen = 1;
        if (op_is_zero(p)) {
            span = op_zero_len(p);
        } else if (op_is_val(p)) {
            span = op_val_len(p);
        } else {
            span = op_xzero_len(p);
            oplen = 2;
        }
        if (index <= first + span - 1) break;
        prev = p;
        p += oplen;
        first += span;
    }
    if (span == 0 || p >= end) return -1;
    uint8_t *next = op_is_xzero(p) ? p + 2 : p + 1;
    if (next >= end) next = NULL;

    int is_xzero = op_is_xzero(p), is_val = op_is_val(p);
    long runlen = is_val ? op_val_len(p) : is_xzero ? op_xzero_len(p) : op_zero_len(p);
    if (is_val) {
        if (op_val_value(p) >= val) return 0;
        if (runlen == 1) {
            op_put_val(p, val, 1);
            goto merge;
        }
    } else if (!is_xzero && runlen == 1) {
        op_put_val(p, val, 1);
        goto merge;
    }

    uint8_t seq[5], *n = seq;
    long last = first + span - 1;
    if (!is_val) {
        if (index != first) n += op_put_zeros(n, index - first);
        op_put_val(n++, val, 1);
        if (index != last) n += op_put_zeros(n, last - index);
    } else {
        int cur = op_val_value(p);
        if (index != first) op_put_val(n++, cur, index - first);
        op_put_val(n++, val, 1);
        if (index != last) op_put_val(n++, cur, last - index);
    }
    long seqlen = n - seq, oldlen = is_xzero ? 2 : 1;
    long delta = seqlen - oldlen;
    if (delta > 0 && (long long)cbstr_len(*s) + delta > sparse_max) goto promote;
    if (delta && next) memmove(next + delta, next, (size_t)(end - next));
    cbstr_setlen(*s, (size_t)((long)cbstr_len(*s) + delta));
    memcpy(p, seq, (size_t)seqlen);
    end += delta;

merge:
    p = prev ? prev : sparse;
    for (int window = 5; p < end && window-- > 0;) {
        if (op_is_xzero(p)) {
            p += 2;
            continue;
        }
        if (op_is_zero(p)) {
            p++;
            continue;
        }
        if (p + 1 < end && op_is_val(p + 1) && op_val_value(p) == op_val_value(p + 1)) {
            long len = op_val_len(p) + op_val_len(p + 1);
            if (len <= SP_VAL_MAX_LEN) {
                op_put_val(p + 1, op_val_value(p), len);
                memmove(p, p + 1, (size_t)(end - p - 1));
                cbstr_setlen(*s, cbstr_len(*s) - 1);
                end--;
                continue; /* the fused run may fuse again to its right */
            }
        }
        p++;
    }
    hll_cache_invalidate(*s);
    return 1;

promote:
    if (hll_to_dense(s) != 0) return -1;
    dense_raise((uint8_t *)*s + HLL_HDR_SIZE, index, val);
    return 1;
}

int hll_set(cbstr *s, long index, uint8_t val, long long sparse_max)
{
    switch (hll_encoding(*s)) {
    case HLL_ENC_DENSE:
        return dense_raise((uint8_t *)*s + HLL_HDR_SIZE, index, val);
    case HLL_ENC_SPARSE:
        return sparse_set(s, index, val, sparse_max);
    default:
        return -1;
    }
}

int hll_add(cbstr *s, const void *ele, size_t len, long long sparse_max)
{
    long index;
    int rank = hll_pattern(ele, len, &index);
    return hll_set(s, index, (uint8_t)rank, sparse_max);
}

cbstr hll_new(void)
{
    cbstr s = cbstr_new(NULL, HLL_HDR_SIZE + 2);
    memcpy(s, "HYLL", 4);
    s[4] = HLL_ENC_SPARSE;
    op_put_xzero((uint8_t *)s + HLL_HDR_SIZE, HLL_REGISTERS);
    return s;
}

/* ------------------------------------------------------------------------
 * Estimator (Ertl, "New cardinality estimation algorithms for HyperLogLog
 * sketches", arXiv:1702.01284, algorithm 6). The floating point steps are in
 * the order that yields the same doubles Redis computes.
 * ---------------------------------------------------------------------- */

static double est_sigma(double x)
{
    if (x == 1.) return INFINITY;
    double y = 1, z = x, zp;
    do {
        x *= x;
        zp = z;
        z += x * y;
        y += y;
    } while (zp != z);
    return z;
}

static double est_tau(double x)
{
    if (x == 0. || x == 1.) return 0.;
    double y = 1.0, z = 1 - x, zp;
    do {
        x = sqrt(x);
        zp = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (zp != z);
    return z / 3;
}

static uint64_t est_from_histo(const int *histo)
{
    const double m = HLL_REGISTERS;
    const double alpha_inf = 0.721347520444481703680; /* 1 / (2 ln 2) */
    double z = m * est_tau((m - histo[HLL_Q + 1]) / m);
    for (int j = HLL_Q; j >= 1; j--) {
        z += histo[j];
        z *= 0.5;
    }
    z += m * est_sigma(histo[0] / m);
    return (uint64_t)llroundl(alpha_inf * m * m / z);
}

static void visit_histo(void *ctx, long first, long len, int val)
{
    (void)first;
    ((int *)ctx)[val] += (int)len;
}

int hll_count(const char *p, size_t len, uint64_t *card)
{
    int histo[64] = {0};
    const uint8_t *regs = (const uint8_t *)p + HLL_HDR_SIZE;
    if (hll_encoding(p) == HLL_ENC_DENSE) {
        for (long i = 0; i < HLL_REGISTERS; i++) histo[hll_dense_get(regs, i)]++;
    } else if (hll_encoding(p) == HLL_ENC_SPARSE) {
        if (sparse_walk(regs, (const uint8_t *)p + len, visit_histo, histo) != 0)
            return -1;
    } else {
        return -1;
    }
    *card = est_from_histo(histo);
    return 0;
}

uint64_t hll_count_raw(const uint8_t *regs)
{
    int histo[64] = {0};
    for (long i = 0; i < HLL_REGISTERS; i++) histo[regs[i] & 63]++;
    return est_from_histo(histo);
}

static void visit_max(void *ctx, long first, long len, int val)
{
    uint8_t *max = ctx;
    for (long i = first; i < first + len; i++)
        if (val > max[i]) max[i] = (uint8_t)val;
}

int hll_merge_max(uint8_t *max, const char *p, size_t len)
{
    const uint8_t *regs = (const uint8_t *)p + HLL_HDR_SIZE;
    if (hll_encoding(p) == HLL_ENC_DENSE) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            uint8_t v = hll_dense_get(regs, i);
            if (v > max[i]) max[i] = v;
        }
        return 0;
    }
    if (hll_encoding(p) != HLL_ENC_SPARSE) return -1;
    /* A corrupt payload may have raised some registers before the walk
     * stops; callers discard max on error, as Redis does. */
    return sparse_walk(regs, (const uint8_t *)p + len, visit_max, max);
}

cbstr hll_sparse_decode(const char *p, size_t len)
{
    const uint8_t *q = (const uint8_t *)p + HLL_HDR_SIZE;
    const uint8_t *end = (const uint8_t *)p + len;
    cbstr out = cbstr_new(NULL, 0);
    while (q < end) {
        if (op_is_zero(q)) {
            out = cbstr_catfmt(out, "z:%ld ", op_zero_len(q));
            q++;
        } else if (op_is_xzero(q)) {
            /* A truncated XZERO reads the string's NUL terminator as its
             * second byte, which is what Redis prints for it too. */
            out = cbstr_catfmt(out, "Z:%ld ", op_xzero_len(q));
            q += 2;
        } else {
            out = cbstr_catfmt(out, "v:%d,%ld ", op_val_value(q), op_val_len(q));
            q++;
        }
    }
    if (cbstr_len(out)) cbstr_setlen(out, cbstr_len(out) - 1);
    return out;
}
