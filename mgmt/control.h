/* control.h — the appliance's control port: HTTP/1.1 (keep-alive) served by
 * libmicrohttpd on the management side, kept apart from the data port.
 * Prometheus /metrics, INFO, health, config, clients, snapshots, shutdown;
 * every path but /health/... needs "Authorization: Bearer <token>".
 * Design and endpoint list: docs/control-port.md.
 *
 * Call order (dataplane/main.c, mgmt/mgmt.c): control_start() once after
 * the listeners exist and before the dataset loads (so /health/ready can
 * say "loading"), control_set_ready() once the workers run, control_stop()
 * when shutdown begins, before the workers stop.
 */
#ifndef CB_CONTROL_H
#define CB_CONTROL_H

#include <stddef.h>
#include <stdint.h>

/* Reads or creates the token file and starts listening on control-bind:
 * control-port (nothing when the port is 0). 0 ok; -1 with err filled. */
int control_start(char *err, size_t errlen);
/* The workers run: endpoints that read the data plane may answer now. */
void control_set_ready(void);
/* Stops serving; waits for requests in flight. Safe when never started. */
void control_stop(void);

/* Counters of the control port itself (read by /metrics). */
typedef struct ctl_counters {
    uint64_t requests;      /* every request that reached a handler */
    uint64_t unauthorized;  /* missing or wrong token (401) */
    uint64_t client_errors; /* other 4xx answers */
} ctl_counters;
void control_counters(ctl_counters *out);

#endif
