/* test_histogram.c — CUnit tests for the log-linear latency histogram
 * (platform/histogram.c): slot boundaries, percentiles and the
 * power-of-two reporting levels, checked against numbers redis-server
 * 7.0 printed for the same inputs (INFO latencystats, LATENCY HISTOGRAM).
 */
#include <CUnit/Basic.h>
#include <stdlib.h>

#include "../../platform/histogram.h"
#include "../../platform/mem.h"

static void test_equivalents(void)
{
    /* Exact below 256, then slots of doubling width. */
    CU_ASSERT_EQUAL(hist_highest_equivalent(1), 1);
    CU_ASSERT_EQUAL(hist_highest_equivalent(255), 255);
    CU_ASSERT_EQUAL(hist_highest_equivalent(256), 257);
    CU_ASSERT_EQUAL(hist_lowest_equivalent(257), 256);
    CU_ASSERT_EQUAL(hist_highest_equivalent(1024), 1031);
    /* Redis printed p0=91.648 and p100=92.159 for one 92 us call. */
    CU_ASSERT_EQUAL(hist_lowest_equivalent(92000), 91648);
    CU_ASSERT_EQUAL(hist_highest_equivalent(92000), 92159);
    /* LATENCY HISTOGRAM's bucket labels: 1 2 4 8 16 33 66 132 264 528 1056 us. */
    static const long long want[] = {1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056};
    for (int k = 0; k < 11; k++)
        CU_ASSERT_EQUAL(hist_highest_equivalent(1024LL << k) / 1000, want[k]);
}

static void test_percentiles(void)
{
    cb_hist *h = calloc(1, sizeof(*h));
    CU_ASSERT_EQUAL(hist_value_at_percentile(h, 50), 0);
    hist_record(h, 92000);
    CU_ASSERT_EQUAL(hist_value_at_percentile(h, 50), 92159);
    CU_ASSERT_EQUAL(hist_value_at_percentile(h, 100), 92159);
    CU_ASSERT_EQUAL(hist_value_at_percentile(h, 0), 91648);
    for (int i = 0; i < 98; i++) hist_record(h, 1000);
    hist_record(h, 5000000);
    /* 100 values: 98 x 1 us, 92 us, 5 ms. */
    CU_ASSERT_EQUAL(hist_value_at_percentile(h, 50), 1003);
    CU_ASSERT_EQUAL(hist_value_at_percentile(h, 99), 92159);
    CU_ASSERT_EQUAL(hist_value_at_percentile(h, 99.9), hist_highest_equivalent(5000000));
    CU_ASSERT_EQUAL(h->total, 100);
    /* Only the buckets that were hit got counters. */
    int chunks = 0;
    for (int k = 0; k < HIST_CHUNKS; k++) chunks += h->chunk[k] != NULL;
    CU_ASSERT_EQUAL(chunks, 3);
    cb_hist *m = calloc(1, sizeof(*m));
    hist_merge(m, h);
    hist_merge(m, h);
    CU_ASSERT_EQUAL(m->total, 200);
    CU_ASSERT_EQUAL(hist_value_at_percentile(m, 99), 92159);
    hist_reset(m);
    CU_ASSERT_EQUAL(m->total, 0);
    CU_ASSERT_EQUAL(hist_value_at_percentile(m, 50), 0);
    free(m);
    hist_reset(h);
    free(h);
}

static void test_clamping(void)
{
    cb_hist *h = calloc(1, sizeof(*h));
    hist_record(h, 0);
    hist_record(h, -5);
    hist_record(h, 5000000000LL);
    CU_ASSERT_EQUAL(h->total, 3);
    CU_ASSERT_EQUAL(hist_value_at_percentile(h, 50), 1);
    CU_ASSERT_EQUAL(hist_value_at_percentile(h, 100), hist_highest_equivalent(HIST_MAX_VALUE));
    hist_reset(h);
    free(h);
}

static void test_log_levels(void)
{
    cb_hist *h = calloc(1, sizeof(*h));
    int64_t b[64];
    uint64_t cum[64];
    CU_ASSERT_EQUAL(hist_log_levels(h, 1024, b, cum, 64), 0);
    /* Redis: config|get with calls of 10 us and 81 us answered
     * histogram_usec 16 -> 1, 132 -> 2 (levels with no growth left out). */
    hist_record(h, 10047);
    hist_record(h, 81000);
    int n = hist_log_levels(h, 1024, b, cum, 64);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(b[0] / 1000, 16);
    CU_ASSERT_EQUAL(cum[0], 1);
    CU_ASSERT_EQUAL(b[1] / 1000, 132);
    CU_ASSERT_EQUAL(cum[1], 2);
    /* 0-duration calls land in the first level ("1" us). */
    cb_hist *z = calloc(1, sizeof(*z));
    hist_record(z, 0);
    hist_record(z, 1000);
    n = hist_log_levels(z, 1024, b, cum, 64);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(b[0] / 1000, 1);
    CU_ASSERT_EQUAL(cum[0], 2);
    /* The slowest slot is reached. */
    hist_record(z, HIST_MAX_VALUE);
    n = hist_log_levels(z, 1024, b, cum, 64);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(cum[1], 3);
    hist_reset(z);
    hist_reset(h);
    free(z);
    free(h);
}

/* The control port's Prometheus buckets: cumulative counts at fixed bounds
 * and the exact sum, kept across merge and cleared by reset. */
static void test_count_upto_and_sum(void)
{
    cb_hist a = { 0 }, b = { 0 };
    hist_record(&a, 5000);          /* 5 us */
    hist_record(&a, 20000);         /* 20 us */
    hist_record(&b, 3000000);       /* 3 ms */
    hist_record(&b, 2000000000LL);  /* 2 s: counted as 1 s, summed as 2 s */
    hist_merge(&a, &b);
    CU_ASSERT_EQUAL(a.total, 4);
    CU_ASSERT_EQUAL(a.sum, 5000ULL + 20000 + 3000000 + 2000000000ULL);
    CU_ASSERT_EQUAL(hist_count_upto(&a, 0), 0);
    CU_ASSERT_EQUAL(hist_count_upto(&a, 4000), 0);
    CU_ASSERT_EQUAL(hist_count_upto(&a, 10000), 1);
    CU_ASSERT_EQUAL(hist_count_upto(&a, 25000), 2);
    CU_ASSERT_EQUAL(hist_count_upto(&a, 2500000), 2);
    CU_ASSERT_EQUAL(hist_count_upto(&a, 10000000), 3);
    CU_ASSERT_EQUAL(hist_count_upto(&a, 900000000), 3);
    CU_ASSERT_EQUAL(hist_count_upto(&a, 1000000000), 4);
    CU_ASSERT_EQUAL(hist_count_upto(&a, 2500000000LL), 4);
    hist_reset(&a);
    hist_reset(&b);
    CU_ASSERT_EQUAL(a.sum, 0);
    CU_ASSERT_EQUAL(hist_count_upto(&a, 2500000000LL), 0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("histogram", NULL, NULL);
    CU_add_test(s, "equivalents", test_equivalents);
    CU_add_test(s, "percentiles", test_percentiles);
    CU_add_test(s, "clamping", test_clamping);
    CU_add_test(s, "log_levels", test_log_levels);
    CU_add_test(s, "count_upto_and_sum", test_count_upto_and_sum);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failures = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
