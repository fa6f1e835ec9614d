/* conn.h — the connection layer shared by both I/O drivers: it turns received
 * segments into commands, runs them, and hands queued output back to the
 * driver. A driver calls conn_create on accept, conn_input for every
 * received segment, conn_writable when the transport can take more, and
 * conn_close (directly or via conn_close_async) when done.
 */
#ifndef CB_CONN_H
#define CB_CONN_H

#include <stddef.h>
#include "client.h"

struct cb_worker;

/* How a driver moves bytes: write as much of the iovecs as possible and
 * return the count written, or -1 with errno (EAGAIN: try later). */
typedef struct cb_driver_ops {
    long (*writev)(cb_client *c, const struct iovec *iov, int n);
    void (*want_write)(cb_client *c, int on); /* arm/disarm writability events */
    void (*close)(cb_client *c);              /* release the transport */
} cb_driver_ops;

/* New client on worker w. local: loopback or unix socket (protected mode). */
cb_client *conn_create(struct cb_worker *w, const cb_driver_ops *ops, int fd,
                       const char *addr, const char *laddr, int local);
/* Why a new connection must be refused with Redis's text (written to it
 * before closing): over maxclients, or protected mode for a non-local
 * client; NULL when it may stay. */
const char *conn_refusal(int local, int over_limit, size_t *len);
/* Process one received segment. Returns -1 if the client was closed. */
int conn_input(cb_client *c, const char *buf, size_t len);
/* Write queued output; 0 ok (maybe partial), -1 closed. */
int conn_flush(cb_client *c);
/* Free the client now (driver transport included). */
void conn_close(cb_client *c);
/* Mark for closing at the next safe point of the worker loop. */
void conn_close_async(cb_client *c);

/* Enforce client-output-buffer-limit (normal class); 1 when the client is
 * now scheduled to close (its queued output dropped). */
int conn_check_output_limits(cb_client *c);

/* Called by the reply layer. */
void conn_output_queued(cb_client *c);
void conn_error_replied(cb_client *c, const char *err, size_t len);

/* Run pending work of a client whose command was held back (CLIENT PAUSE). */
void conn_resume(cb_client *c);
/* Go on with input that waited while the client was held (after a block). */
void conn_continue(cb_client *c);
/* The reply of a command that ran on another worker (xshard) arrived. */
void conn_forward_done(cb_client *c, const char *reply, size_t len);
/* Queue a MONITOR line to worker w's monitors (but `except`). */
void conn_deliver_monitor_line(struct cb_worker *w, cb_client *except, const char *line,
                               size_t len);
/* Send a line to every MONITOR client (the worker's). */
void conn_feed_monitors(cb_client *c);

#endif
