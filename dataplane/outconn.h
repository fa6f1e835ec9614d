/* outconn.h — an outgoing TCP connection opened by a worker (MIGRATE's link
 * to its target today; replication and cluster links later), the same
 * interface on both data planes: a nonblocking kernel socket in the
 * worker's epoll on the kernel plane, our own stack's active open
 * (tcp_connect) on the DPDK plane. Everything happens on the owning worker,
 * driven by its loop; no call blocks.
 *
 * Call order: outconn_open -> [connected] -> outconn_write* / [data]* ->
 * outconn_close, or [closed] when the peer, the network or the deadline
 * ends it. Bytes written before `connected` are queued and leave when it
 * comes. After outconn_close (allowed inside a callback) no callback
 * follows. Design: docs/tcp-stack.md ("Active open").
 */
#ifndef CB_OUTCONN_H
#define CB_OUTCONN_H

#include <stddef.h>
#include <stdint.h>

struct cb_worker;
typedef struct cb_outconn cb_outconn;

typedef struct cb_outconn_cb {
    void (*connected)(cb_outconn *oc);
    void (*data)(cb_outconn *oc, const char *p, size_t n);
    /* The connection ended: err 0 on EOF, else an errno (ECONNREFUSED,
     * ETIMEDOUT for the deadline or the handshake, ECONNRESET, ...). The
     * connection is freed when this returns. */
    void (*closed)(cb_outconn *oc, int err);
} cb_outconn_cb;

struct cb_outconn {
    struct cb_worker *w;
    const cb_outconn_cb *cb;
    void *arg;                    /* the user's */
    int fd;                       /* kernel plane; -1 on DPDK */
    void *tc;                     /* DPDK plane: our tcp_conn */
    int connected;
    int dead;                     /* closed: freed by outconn_reap */
    long long deadline_ms;        /* 0: none */
    char *obuf;                   /* queued output not yet taken */
    size_t olen, ocap;
    struct cb_outconn *next;      /* the worker's list */
};

/* Open a connection to host (IPv4 numeric on DPDK; a name the resolver
 * knows on the kernel plane) and port. NULL with a reason in err. */
cb_outconn *outconn_open(struct cb_worker *w, const char *host, int port,
                         const cb_outconn_cb *cb, void *arg, char *err, size_t errlen);
/* DPDK plane, inside a command of client c: c's accepted TCP connection
 * becomes an outgoing-style connection (already connected) with these
 * callbacks; what the stack still holds for c follows in order. The caller
 * closes c, whose transport is gone. NULL when c has no TCP connection. */
struct cb_client;
cb_outconn *outconn_adopt(struct cb_worker *w, struct cb_client *c, const cb_outconn_cb *cb,
                          void *arg);
/* Queue bytes; they leave as the transport takes them. 0 ok, -1 when the
 * connection is already closing. */
int outconn_write(cb_outconn *oc, const void *p, size_t n);
/* Bytes queued but not yet taken by the transport. */
size_t outconn_pending(const cb_outconn *oc);
/* The deadline (absolute ms, util_mstime) after which closed(ETIMEDOUT)
 * comes; 0 clears it. */
void outconn_set_deadline(cb_outconn *oc, long long deadline_ms);
/* Close without further callbacks (FIN after queued data on DPDK). */
void outconn_close(cb_outconn *oc);

/* The worker loop: deadlines, and freeing closed connections (once per
 * turn, outside any event batch). */
void outconn_cron(struct cb_worker *w, long long now_ms);
/* Worker teardown: close everything. */
void outconn_close_all(struct cb_worker *w);

/* Transport side (epoll_driver.c, dpdk_driver.c). */
void outconn_kernel_event(cb_outconn *oc, uint32_t events);
void outconn_transport_connected(cb_outconn *oc);
void outconn_transport_data(cb_outconn *oc, const char *p, size_t n);
void outconn_transport_writable(cb_outconn *oc);
void outconn_transport_closed(cb_outconn *oc, int err);

#endif
