/* latency_report.c — LATENCY GRAPH and LATENCY DOCTOR texts (contract in
 * latency_report.h).
 *
 * GRAPH: a header line, 80 dashes, then the samples as a sparkline of 80
 * columns per block (a longer history wraps into further blocks, separated
 * by an empty line). Each column is one sample scaled between the lowest
 * and highest sample into 12 levels drawn over 4 rows ('_', 'o', '#' inside
 * a row, '|' below the row a column tops out in), then one blank row and
 * the sample's age ("12s", "3m", "2h", "1d") written downwards.
 *
 * DOCTOR: one line per event (spikes, integer average and mean absolute
 * deviation, the seconds since the oldest sample divided by the spikes, the
 * all-time high), then the advice each event calls for, in Redis's fixed
 * order. The texts are client-visible and therefore Redis 7.0's words.
 */
#include "latency_report.h"

#include <stdio.h>
#include <string.h>

#include "../platform/config.h"
#include "../platform/mem.h"
#include "worker.h"

/* ------------------------------------------------------------------ GRAPH */

#define GRAPH_COLS 80
#define GRAPH_ROWS 4
#define GRAPH_SHADES 3 /* levels inside one row */

static const char SHADE[GRAPH_SHADES] = {'_', 'o', '#'};

/* Level 0..ROWS*SHADES-1 of value v between lo and hi. The arithmetic
 * (truncate the scaled offset, divide by the range, truncate again) is what
 * decides borderline columns, so it is kept exactly. */
static int level_of(long long v, long long lo, long long hi) {
    const int levels = GRAPH_ROWS * GRAPH_SHADES;
    double range = hi > lo ? (double)(hi - lo) : 1.0;
    int scaled = (int)((double)(v - lo) * levels);
    int lv = (int)(scaled / range);
    if (lv < 0) lv = 0;
    if (lv >= levels) lv = levels - 1;
    return lv;
}

static void age_label(char *buf, size_t len, long long age) {
    if (age < 60) snprintf(buf, len, "%llds", age);
    else if (age < 3600) snprintf(buf, len, "%lldm", age / 60);
    else if (age < 86400) snprintf(buf, len, "%lldh", age / 3600);
    else snprintf(buf, len, "%lldd", age / 86400);
}

/* One block of columns [from, from + n). */
static cbstr graph_block(cbstr s, const lat_point *v, int from, int n, long long lo, long long hi,
                         long long now) {
    char row[GRAPH_COLS + 1];
    char labels[GRAPH_COLS][24];
    int lv[GRAPH_COLS];
    size_t longest = 0;
    for (int j = 0; j < n; j++) {
        lv[j] = level_of(v[from + j].ms, lo, hi);
        age_label(labels[j], sizeof(labels[j]), now - v[from + j].time);
        if (strlen(labels[j]) > longest) longest = strlen(labels[j]);
    }
    /* Rows top to bottom: a column shows its shade in the row its level
     * falls in, and a bar in every row below it. */
    for (int r = 0; r < GRAPH_ROWS; r++) {
        int base = (GRAPH_ROWS - 1 - r) * GRAPH_SHADES;
        for (int j = 0; j < n; j++) {
            int k = lv[j] - base;
            row[j] = k < 0 ? ' ' : k < GRAPH_SHADES ? SHADE[k] : '|';
        }
        row[n] = '\n';
        s = cbstr_cat(s, row, (size_t)n + 1);
    }
    memset(row, ' ', (size_t)n);
    s = cbstr_cat(s, row, (size_t)n + 1); /* the gap above the ages */
    for (size_t k = 0; k < longest; k++) {
        for (int j = 0; j < n; j++) row[j] = strlen(labels[j]) > k ? labels[j][k] : ' ';
        s = cbstr_cat(s, row, (size_t)n + 1);
    }
    return s;
}

cbstr latency_report_graph(cbstr s, const lat_event_view *ev, long long now) {
    long long lo = ev->v[0].ms, hi = ev->v[0].ms;
    for (int i = 1; i < ev->n; i++) {
        if (ev->v[i].ms < lo) lo = ev->v[i].ms;
        if (ev->v[i].ms > hi) hi = ev->v[i].ms;
    }
    s = cbstr_catfmt(s, "%s - high %lld ms, low %lld ms (all time high %lld ms)\n", ev->name, hi,
                     lo, ev->max);
    char dashes[GRAPH_COLS + 1];
    memset(dashes, '-', GRAPH_COLS);
    dashes[GRAPH_COLS] = '\n';
    s = cbstr_cat(s, dashes, sizeof(dashes));
    for (int from = 0; from < ev->n; from += GRAPH_COLS) {
        if (from) s = cbstr_cat(s, "\n", 1);
        int n = ev->n - from < GRAPH_COLS ? ev->n - from : GRAPH_COLS;
        s = graph_block(s, ev->v, from, n, lo, hi, now);
    }
    return s;
}

/* ----------------------------------------------------------------- DOCTOR */

typedef struct ev_stats {
    long long avg, mad, period; /* ms, ms, seconds since the oldest sample */
} ev_stats;

static ev_stats analyse(const lat_event_view *ev, long long now) {
    ev_stats st = {0, 0, 0};
    unsigned long long sum = 0;
    long long oldest = ev->v[0].time;
    for (int i = 0; i < ev->n; i++) {
        sum += (unsigned long long)ev->v[i].ms;
        if (ev->v[i].time < oldest) oldest = ev->v[i].time;
    }
    st.avg = (long long)(sum / (unsigned long long)ev->n);
    st.period = now - oldest;
    if (st.period == 0) st.period = 1;
    unsigned long long dev = 0;
    for (int i = 0; i < ev->n; i++) {
        long long d = st.avg - ev->v[i].ms;
        dev += (unsigned long long)(d < 0 ? -d : d);
    }
    st.mad = (long long)(dev / (unsigned long long)ev->n);
    return st;
}

/* Advice, in the order the report lists it. */
enum { ADV_SLOWLOG_ON, ADV_SLOWLOG_TUNE, ADV_SLOWLOG_READ, ADV_SCHEDULER, ADV_HZ, ADV_BIG_OBJECTS,
       ADV_COUNT };

static const char ADV_SCHEDULER_TEXT[] =
    "- The system is slow to execute Redis code paths not containing system calls. This usually "
    "means the system does not provide Redis CPU time to run for long periods. You should try "
    "to:\n"
    "  1) Lower the system load.\n"
    "  2) Use a computer / VM just for Redis if you are running other software in the same "
    "system.\n"
    "  3) Check if you have a \"noisy neighbour\" problem.\n"
    "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your "
    "system.\n"
    "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if "
    "you are using Jemalloc. However this may create fragmentation problems.\n";

static int effective_hz(void) {
    return g_server.config_hz_effective ? g_server.config_hz_effective : g_config.store.hz;
}

cbstr latency_report_doctor(cbstr s, const lat_event_view *ev, int nev, long long now) {
    int adv[ADV_COUNT] = {0};
    s = cbstr_catfmt(s, "Dave, I have observed latency spikes in this Redis instance. You don't "
                        "mind talking about it, do you Dave?\n\n");
    for (int i = 0; i < nev; i++) {
        ev_stats st = analyse(&ev[i], now);
        s = cbstr_catfmt(s,
                         "%d. %s: %d latency spikes (average %lldms, mean deviation %lldms, "
                         "period %.2f sec). Worst all time event %lldms.\n",
                         i + 1, ev[i].name, ev[i].n, st.avg, st.mad,
                         (double)st.period / ev[i].n, ev[i].max);
        const char *name = ev[i].name;
        if (!strcmp(name, "command")) {
            if (g_config.slowlog_log_slower_than < 0)
                adv[ADV_SLOWLOG_ON] = 1;
            else if (g_config.slowlog_log_slower_than / 1000 > g_config.latency_monitor_threshold)
                adv[ADV_SLOWLOG_TUNE] = 1;
            adv[ADV_SLOWLOG_READ] = adv[ADV_BIG_OBJECTS] = 1;
        } else if (!strcmp(name, "fast-command")) {
            adv[ADV_SCHEDULER] = 1;
        } else if (!strcmp(name, "expire-cycle")) {
            adv[ADV_HZ] = adv[ADV_BIG_OBJECTS] = 1;
        }
    }
    s = cbstr_catfmt(s, "\nI have a few advices for you:\n\n");
    long long thr_us = g_config.latency_monitor_threshold * 1000;
    if (adv[ADV_SLOWLOG_ON])
        s = cbstr_catfmt(s, "- There are latency issues with potentially slow commands you are "
                            "using. Try to enable the Slow Log Redis feature using the command "
                            "'CONFIG SET slowlog-log-slower-than %lld'. If the Slow log is "
                            "disabled Redis is not able to log slow commands execution for "
                            "you.\n",
                         thr_us);
    if (adv[ADV_SLOWLOG_TUNE])
        s = cbstr_catfmt(s, "- Your current Slow Log configuration only logs events that are "
                            "slower than your configured latency monitor threshold. Please use "
                            "'CONFIG SET slowlog-log-slower-than %lld'.\n",
                         thr_us);
    if (adv[ADV_SLOWLOG_READ])
        s = cbstr_catfmt(s, "- Check your Slow Log to understand what are the commands you are "
                            "running which are too slow to execute. Please check "
                            "https://redis.io/commands/slowlog for more information.\n");
    if (adv[ADV_SCHEDULER]) s = cbstr_cat(s, ADV_SCHEDULER_TEXT, sizeof(ADV_SCHEDULER_TEXT) - 1);
    if (adv[ADV_HZ] && effective_hz() < 100)
        s = cbstr_catfmt(s, "- In order to make the Redis keys expiring process more "
                            "incremental, try to set the 'hz' configuration parameter to 100 "
                            "using 'CONFIG SET hz 100'.\n");
    if (adv[ADV_BIG_OBJECTS])
        s = cbstr_catfmt(s, "- Deleting, expiring or evicting (because of maxmemory policy) large "
                            "objects is a blocking operation. If you have very large objects "
                            "that are often deleted, expired, or evicted, try to fragment those "
                            "objects into multiple smaller objects.\n");
    return s;
}
