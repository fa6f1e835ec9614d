/* histogram.h — a compact log-linear histogram for latencies in
 * nanoseconds (1 ns .. 1 s), with two significant decimal digits of
 * precision, in the manner of HdrHistogram: values are grouped in buckets
 * of doubling width, each split into 128 (256 for the first) equal
 * sub-buckets, so any value is known to within 1/128 of itself.
 *
 * The layout and rounding rules (lowest/highest equivalent value,
 * percentile lookup, power-of-two reporting levels) are the ones Redis's
 * LATENCY HISTOGRAM and INFO latencystats print, so our numbers land on
 * the same bucket boundaries as Redis's. Written by its owning thread
 * only; readers need that thread stopped or parked. Chunks come from
 * platform/mem.h. See docs/latency.md.
 */
#ifndef CB_HISTOGRAM_H
#define CB_HISTOGRAM_H

#include <stdint.h>

#define HIST_MIN_VALUE 1LL
#define HIST_MAX_VALUE 1000000000LL /* 1 s: slower calls count as 1 s */
#define HIST_SUB_HALF_MAG 7          /* 128 sub-buckets per half bucket */
#define HIST_BUCKETS 23              /* 256 << 22 > HIST_MAX_VALUE */
#define HIST_COUNTS ((HIST_BUCKETS + 1) << HIST_SUB_HALF_MAG)

#define HIST_CHUNK (1 << HIST_SUB_HALF_MAG) /* counters per chunk: one bucket */
#define HIST_CHUNKS (HIST_COUNTS / HIST_CHUNK)

/* Counters come in per-bucket chunks of 1 KiB allocated on first use: a
 * command's calls usually fall in two or three buckets, so a histogram
 * takes a few KiB instead of the 24 KiB of the whole range. Zero it to
 * start; hist_reset() frees the chunks. */
typedef struct cb_hist {
    uint64_t total;
    uint64_t sum; /* of the recorded values before clamping (Prometheus _sum) */
    uint64_t *chunk[HIST_CHUNKS];
} cb_hist;

/* Count one value (clamped into [HIST_MIN_VALUE, HIST_MAX_VALUE]). */
void hist_record(cb_hist *h, int64_t value);
/* Add src's counts into dst. */
void hist_merge(cb_hist *dst, const cb_hist *src);
/* Free the chunks; h is empty afterwards. */
void hist_reset(cb_hist *h);
/* Smallest / largest value counted in the same slot as value. */
int64_t hist_lowest_equivalent(int64_t value);
int64_t hist_highest_equivalent(int64_t value);
/* Value at percentile p (0..100): the highest equivalent value of the slot
 * where the cumulative count reaches p% of the total (lowest equivalent
 * for p == 0); 0 when the histogram is empty. */
int64_t hist_value_at_percentile(const cb_hist *h, double p);
/* Count of values in the slots up to and including the one holding v
 * (every value when v > HIST_MAX_VALUE). */
uint64_t hist_count_upto(const cb_hist *h, int64_t v);
/* Cumulative counts at reporting levels first, 2*first, 4*first, ...: for
 * level k, *bound is the highest equivalent value of the level and *cum
 * the count of values up to it. Levels whose count did not grow are left
 * out; stops after the level that reaches the total. Returns the number
 * of pairs written (at most max). */
int hist_log_levels(const cb_hist *h, int64_t first, int64_t *bound, uint64_t *cum, int max);

#endif
