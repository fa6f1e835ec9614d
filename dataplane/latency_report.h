/* latency_report.h — the human-readable latency reports: LATENCY GRAPH's
 * sparkline and LATENCY DOCTOR's analysis, byte for byte as Redis 7.0
 * writes them for the same event history. latency.c merges the workers'
 * samples and calls these; nothing here reads worker state. Design notes in
 * docs/latency.md ("Graph and doctor").
 */
#ifndef CB_LATENCY_REPORT_H
#define CB_LATENCY_REPORT_H

#include "../store/ds/cbstr.h"

/* One latency sample: unix second and milliseconds. */
typedef struct lat_point {
    long long time;
    long long ms;
} lat_point;

/* One event's merged history, oldest first, and its all-time maximum. */
typedef struct lat_event_view {
    const char *name;
    const lat_point *v;
    int n;
    long long max;
} lat_event_view;

/* Append LATENCY GRAPH's text for one event (n >= 1) as of unix second now. */
cbstr latency_report_graph(cbstr s, const lat_event_view *ev, long long now);
/* Append LATENCY DOCTOR's text for the events (nev >= 1) as of now. */
cbstr latency_report_doctor(cbstr s, const lat_event_view *ev, int nev, long long now);

#endif
