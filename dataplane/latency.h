/* latency.h — the latency monitor (LATENCY LATEST/HISTORY/RESET/GRAPH/
 * DOCTOR, events above latency-monitor-threshold) and per-command latency
 * histograms (latency-tracking: LATENCY HISTOGRAM, INFO latencystats).
 *
 * Each worker records what it runs into its own cb_latency, no lock on the
 * call path; readers (LATENCY, INFO) run with the other workers parked and
 * merge every worker's data. See docs/latency.md.
 */
#ifndef CB_LATENCY_H
#define CB_LATENCY_H

#include "client.h"
#include "../store/ds/cbstr.h"

struct cb_worker;
struct cb_command;

/* After a call that ran dur_us microseconds: histogram and monitor. */
void latency_after_call(cb_client *c, const struct cb_command *cmd, long long dur_us);
/* Record an event sample (name: a string constant, "expire-cycle"...) on
 * worker w when ms reaches latency-monitor-threshold. */
void latency_event(struct cb_worker *w, const char *name, long long ms);
/* CONFIG RESETSTAT: forget every command histogram of w. */
void latency_reset_histograms(struct cb_worker *w);
/* Free w's latency state (worker shutdown). */
void latency_free(struct cb_worker *w);
/* INFO latencystats body: one latency_percentiles_usec_<cmd> line per
 * command with a histogram (workers parked). */
cbstr latency_info(cbstr s);
/* Control port (workers parked): every event's LATENCY LATEST line. */
void latency_visit_latest(void (*fn)(void *priv, const char *event, long long time,
                                     long long latest_ms, long long max_ms),
                          void *priv);
/* Control port (workers parked): each command's histogram, every worker's
 * merged, with its full name ("config|get"). */
struct cb_hist;
void latency_visit_histograms(void (*fn)(void *priv, const char *cmd, const struct cb_hist *h),
                              void *priv);

#endif
