/* dpdk_driver.h — the DPDK I/O driver: the counterpart of
 * kernel/epoll_driver.c for poll cores. Start-up (ddrv_setup) brings up
 * EAL and the port; each worker then owns one queue pair and one netstack
 * instance; the worker loop calls ddrv_poll (rx -> stack -> connection
 * input -> TCP timers) and, after the application's output flush,
 * ddrv_tx_flush (owed ACKs, then the transmit batch).
 */
#ifndef CB_DPDK_DRIVER_H
#define CB_DPDK_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include "../net/netstack.h"
#include "../../platform/dpdk.h"

struct cb_worker;
struct cb_client;

/* EAL from dpdk-eal-args, address checks, port with one queue pair per
 * poll core. Returns the number of poll cores, or -1 with err. */
int ddrv_setup(char *err, size_t errlen);
/* Per worker: its stack on queue w->id. 0 ok. */
int ddrv_init(struct cb_worker *w);
/* One receive pass; returns the frames received. */
int ddrv_poll(struct cb_worker *w);
void ddrv_tx_flush(struct cb_worker *w);
/* ddrv_poll from inside a running command (a busy script, w->nested_poll
 * set): caller's connection, if it is one of ours, is held meanwhile. */
void ddrv_nested_poll(struct cb_worker *w, struct cb_client *caller);
/* The stack's part of a loop turn only (rx -> stack -> timers -> tx) for a
 * worker that may not run commands now: parked, or running SAVE for
 * caller (may be NULL). New connections, input and closes wait, in order,
 * for the next ddrv_poll; ping, handshakes, ACKs and timers go on. */
void ddrv_stack_poll(struct cb_worker *w, struct cb_client *caller);
/* A Lua debugging session's tap on its client's connection (dpdk_tap.c,
 * ldb_io.h). attach: c's payload goes to t from now on (what the stash
 * holds for it first), and its FIN marks t; -1 when c is not a connection
 * of w's stack or w has a tap already. detach: back to normal. */
typedef struct ddrv_tap ddrv_tap;
int ddrv_tap_attach(struct cb_worker *w, ddrv_tap *t, struct cb_client *c);
void ddrv_tap_detach(struct cb_worker *w, ddrv_tap *t);
/* The driver's calls into the tap (dpdk_tap.c). */
void ddrv_tap_input(ddrv_tap *t, const uint8_t *p, size_t n);
void ddrv_tap_eof(ddrv_tap *t);
void ddrv_shutdown(struct cb_worker *w);
/* Run fn(w) on the worker's poll core / wait for it to return. */
int ddrv_launch(struct cb_worker *w, int (*fn)(void *));
void ddrv_join(struct cb_worker *w);
/* After every worker is gone: stop the port, release EAL. */
void ddrv_teardown(void);

struct cb_outconn;
/* Outgoing connections (outconn.c): an active open from w's stack to
 * ip:port (host order), 0 or -1 with errno; send (count taken); close. */
int ddrv_connect(struct cb_worker *w, uint32_t ip, uint16_t port, struct cb_outconn *oc);
size_t ddrv_out_send(struct cb_outconn *oc, const void *p, size_t n);
void ddrv_out_close(struct cb_outconn *oc);
/* outconn_adopt: client c's TCP connection becomes oc's (events the stash
 * holds for c follow to oc). 0, or -1 when c is not one of ours. */
int ddrv_adopt(struct cb_client *c, struct cb_outconn *oc);

/* The DPDK port's link: 1 up, 0 down, -1 when the DPDK plane is not
 * running (readiness). Any thread. */
int ddrv_link_up(void);

/* INFO: every poll core's counters summed, and the port's. 0 when the DPDK
 * data plane is not running. */
int ddrv_stats(net_stats *sum, dpdk_port_info *port, char *ipbuf, size_t iplen);

#endif
