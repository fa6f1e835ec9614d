/* test_latency_report.c — CUnit tests for LATENCY GRAPH / DOCTOR texts
 * (dataplane/latency_report.c) on histories the integration test cannot
 * make in reasonable time against redis-server: more than 80 samples (the
 * graph wraps into blocks), ages in minutes, hours and days, and the
 * doctor's advice switches. The one-sample graph is the exact text
 * redis-server 7.0.15 printed for one 20 ms DEBUG SLEEP.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "../../dataplane/latency_report.h"
#include "../../dataplane/worker.h"
#include "../../platform/config.h"
#include "../../platform/mem.h"

static void test_one_sample(void)
{
    lat_point p = {1000, 20};
    lat_event_view ev = {"command", &p, 1, 20};
    cbstr s = latency_report_graph(cbstr_with_cap(64), &ev, 1000);
    char want[512];
    snprintf(want, sizeof(want), "command - high 20 ms, low 20 ms (all time high 20 ms)\n%s\n"
             " \n \n \n_\n \n0\ns\n",
             "--------------------------------------------------------------------------------");
    CU_ASSERT_STRING_EQUAL(s, want);
    cbstr_free(s);
}

/* Line i (0-based) of s, without its newline, into buf. */
static void line_at(const char *s, int i, char *buf, size_t len)
{
    while (i-- > 0 && s) {
        s = strchr(s, '\n');
        if (s) s++;
    }
    if (!s) { buf[0] = '\0'; return; }
    size_t n = strcspn(s, "\n");
    if (n >= len) n = len - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
}

static void test_wraps_and_units(void)
{
    lat_point v[100];
    long long now = 1000000;
    for (int i = 0; i < 100; i++) {
        v[i].time = now - 100 + i;  /* ages 100 s .. 1 s */
        v[i].ms = 10 + i;           /* rising: the last column is the top */
    }
    v[0].time = now - 2 * 86400;    /* 2d */
    v[1].time = now - 3 * 3600;     /* 3h */
    v[2].time = now - 61;           /* 1m */
    lat_event_view ev = {"command", v, 100, 109};
    cbstr s = latency_report_graph(cbstr_with_cap(64), &ev, now);
    char l[128];
    /* Block one: 4 chart rows, the gap, 3 label rows ("21s" .. "59s" are
     * the longest; 60 s and more are minutes). */
    line_at(s, 2, l, sizeof l);
    CU_ASSERT_EQUAL(strlen(l), 80);
    line_at(s, 6, l, sizeof l);
    CU_ASSERT_EQUAL(strspn(l, " "), 80);
    line_at(s, 7, l, sizeof l);
    CU_ASSERT_EQUAL(strncmp(l, "2311", 4), 0);  /* 2d 3h 1m, then 97 s = 1m */
    line_at(s, 8, l, sizeof l);
    CU_ASSERT_EQUAL(strncmp(l, "dhmm", 4), 0);
    line_at(s, 9, l, sizeof l);
    CU_ASSERT_EQUAL(strncmp(l, "    ", 4), 0);  /* only "NNs" labels have a third row */
    CU_ASSERT_EQUAL(l[79], 's');                /* 21s */
    /* The lowest sample sits on the bottom row, the highest tops row one. */
    line_at(s, 5, l, sizeof l);
    CU_ASSERT_EQUAL(l[0], '_');
    /* An empty line, then block two: 20 columns, the last one the top. */
    line_at(s, 10, l, sizeof l);
    CU_ASSERT_STRING_EQUAL(l, "");
    line_at(s, 11, l, sizeof l);
    CU_ASSERT_EQUAL(strlen(l), 20);
    CU_ASSERT_EQUAL(l[19], '#');
    line_at(s, 14, l, sizeof l);
    CU_ASSERT_EQUAL(strlen(l), 20);
    CU_ASSERT_EQUAL(l[19], '|');
    cbstr_free(s);
}

static void test_doctor_advice(void)
{
    lat_point c[2] = {{100, 10}, {101, 30}};
    lat_point e[1] = {{101, 7}};
    lat_event_view ev[2] = {{"command", c, 2, 30}, {"expire-cycle", e, 1, 9}};
    g_config.latency_monitor_threshold = 5;
    g_config.slowlog_log_slower_than = 10000;
    g_config.store.hz = 10;
    cbstr s = latency_report_doctor(cbstr_with_cap(64), ev, 2, 104);
    /* avg 20, deviation 10, 4 s since the oldest over 2 samples. */
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\n1. command: 2 latency spikes (average 20ms, mean "
                                     "deviation 10ms, period 2.00 sec). Worst all time event "
                                     "30ms.\n2. expire-cycle: 1 latency spikes (average 7ms, "
                                     "mean deviation 0ms, period 3.00 sec). Worst all time "
                                     "event 9ms.\n\nI have a few advices for you:\n\n- Your"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "'CONFIG SET slowlog-log-slower-than 5000'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "'CONFIG SET hz 100'"));
    cbstr_free(s);
    g_config.store.hz = 100;
    g_config.slowlog_log_slower_than = -1;
    s = latency_report_doctor(cbstr_with_cap(64), ev, 2, 104);
    CU_ASSERT_PTR_NULL(strstr(s, "'CONFIG SET hz 100'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "Try to enable the Slow Log"));
    CU_ASSERT_PTR_NULL(strstr(s, "Your current Slow Log"));
    cbstr_free(s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("latency_report", NULL, NULL);
    CU_add_test(s, "one_sample", test_one_sample);
    CU_add_test(s, "wraps_and_units", test_wraps_and_units);
    CU_add_test(s, "doctor_advice", test_doctor_advice);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failures = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
