/* histogram.c — log-linear latency histogram (see histogram.h).
 *
 * Slot arithmetic: a value v falls in bucket b = (bit length of v|255) - 8,
 * sub-bucket s = v >> b (128..255, or 0..255 in bucket 0); slots of bucket
 * b are 2^b wide. The flat index puts bucket 0's 256 sub-buckets first and
 * every later bucket's upper 128 after them.
 */
#include "histogram.h"

#include <stddef.h>

#include "mem.h"

#define SUB_COUNT (1 << (HIST_SUB_HALF_MAG + 1)) /* 256 */
#define SUB_HALF (1 << HIST_SUB_HALF_MAG)        /* 128 */

static int bucket_of(int64_t v)
{
    uint64_t x = (uint64_t)v | (SUB_COUNT - 1);
    return (64 - __builtin_clzll(x)) - (HIST_SUB_HALF_MAG + 1);
}

static int index_of(int64_t v)
{
    int b = bucket_of(v);
    int s = (int)(v >> b);
    return ((b + 1) << HIST_SUB_HALF_MAG) + (s - SUB_HALF);
}

static int64_t value_at_index(int idx)
{
    int b = (idx >> HIST_SUB_HALF_MAG) - 1;
    int s = (idx & (SUB_HALF - 1)) + SUB_HALF;
    if (b < 0) {
        s -= SUB_HALF;
        b = 0;
    }
    return (int64_t)s << b;
}

int64_t hist_lowest_equivalent(int64_t v)
{
    int b = bucket_of(v);
    return (v >> b) << b;
}

int64_t hist_highest_equivalent(int64_t v)
{
    int b = bucket_of(v);
    return hist_lowest_equivalent(v) + ((int64_t)1 << b) - 1;
}

static uint64_t count_at(const cb_hist *h, int idx)
{
    const uint64_t *c = h->chunk[idx / HIST_CHUNK];
    return c ? c[idx % HIST_CHUNK] : 0;
}

static uint64_t *chunk_for(cb_hist *h, int idx)
{
    uint64_t **c = &h->chunk[idx / HIST_CHUNK];
    if (!*c) *c = cb_calloc(sizeof(uint64_t) * HIST_CHUNK);
    return *c;
}

void hist_record(cb_hist *h, int64_t v)
{
    if (v > 0) h->sum += (uint64_t)v;
    if (v < HIST_MIN_VALUE) v = HIST_MIN_VALUE;
    if (v > HIST_MAX_VALUE) v = HIST_MAX_VALUE;
    int idx = index_of(v);
    chunk_for(h, idx)[idx % HIST_CHUNK]++;
    h->total++;
}

void hist_merge(cb_hist *dst, const cb_hist *src)
{
    for (int k = 0; k < HIST_CHUNKS; k++) {
        if (!src->chunk[k]) continue;
        uint64_t *d = chunk_for(dst, k * HIST_CHUNK);
        for (int i = 0; i < HIST_CHUNK; i++) d[i] += src->chunk[k][i];
    }
    dst->total += src->total;
    dst->sum += src->sum;
}

void hist_reset(cb_hist *h)
{
    for (int k = 0; k < HIST_CHUNKS; k++) {
        cb_free(h->chunk[k]);
        h->chunk[k] = NULL;
    }
    h->total = 0;
    h->sum = 0;
}

uint64_t hist_count_upto(const cb_hist *h, int64_t v)
{
    if (v > HIST_MAX_VALUE) return h->total;
    if (v < HIST_MIN_VALUE) return 0;
    uint64_t seen = 0;
    int last = index_of(v);
    for (int i = 0; i <= last; i++) seen += count_at(h, i);
    return seen;
}

int64_t hist_value_at_percentile(const cb_hist *h, double p)
{
    if (!h->total) return 0;
    if (p > 100.0) p = 100.0;
    uint64_t want = (uint64_t)(p / 100.0 * (double)h->total + 0.5);
    if (want < 1) want = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_COUNTS; i++) {
        seen += count_at(h, i);
        if (seen >= want) {
            int64_t v = value_at_index(i);
            return p == 0.0 ? hist_lowest_equivalent(v) : hist_highest_equivalent(v);
        }
    }
    return 0;
}

int hist_log_levels(const cb_hist *h, int64_t first, int64_t *bound, uint64_t *cum, int max)
{
    int n = 0, i = 0;
    uint64_t seen = 0, prev = 0;
    for (int64_t level = first; seen < h->total && n < max; level *= 2) {
        /* Everything up to and including the slot that holds the level. */
        int last = level > HIST_MAX_VALUE ? HIST_COUNTS - 1 : index_of(level);
        for (; i <= last && i < HIST_COUNTS; i++) seen += count_at(h, i);
        if (seen > prev) {
            bound[n] = hist_highest_equivalent(level);
            cum[n] = seen;
            n++;
        }
        prev = seen;
        if (last == HIST_COUNTS - 1) break;
    }
    return n;
}
