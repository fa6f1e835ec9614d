/* ldb_io.h — how a Lua debugging session (script/ldb.c) talks to its client
 * while the worker is inside that client's EVAL: it reads the debugger's
 * commands and writes its log arrays itself, ahead of the client's queued
 * replies, and the worker's other clients wait meanwhile (as Redis's do).
 *
 * Two transports, chosen by the client's data plane at ldb_io_open: the
 * kernel plane's reads and writes the client's socket directly
 * (ldb_io.c); the DPDK plane's keeps the poll core's stack moving while it
 * waits and taps the client's connection (dpdk/dpdk_tap.c).
 */
#ifndef CB_LDB_IO_H
#define CB_LDB_IO_H

#include <stddef.h>

struct cb_client;

/* Give up writing to a client that takes nothing for this long. */
#define LDB_IO_SEND_TIMEOUT_MS 5000

typedef struct ldb_io ldb_io;
typedef struct ldb_io_ops {
    long (*read)(ldb_io *io, char *buf, size_t cap, int wait_ms);
    int (*write)(ldb_io *io, const char *p, size_t n);
    void (*close)(ldb_io *io);
    void (*running)(ldb_io *io); /* may be NULL */
} ldb_io_ops;

/* Each transport's handle starts with this. */
struct ldb_io {
    const ldb_io_ops *ops;
    struct cb_client *c;
};

/* The transport for client c's plane; never NULL. */
ldb_io *ldb_io_open(struct cb_client *c);
/* The DPDK plane's (dpdk_tap.c): NULL when c is not one of its clients. */
ldb_io *ldb_io_dpdk_open(struct cb_client *c);

/* Bytes the client sent: the count (> 0), 0 once it is gone (FIN, reset,
 * error), or -1 when nothing came within wait_ms. */
static inline long ldb_io_read(ldb_io *io, char *buf, size_t cap, int wait_ms) {
    return io->ops->read(io, buf, cap, wait_ms);
}
/* All n bytes, sent at once: 0, or -1 when the client cannot take them. */
static inline int ldb_io_write(ldb_io *io, const char *p, size_t n) {
    return io->ops->write(io, p, n);
}
/* The script runs on between stops (called from the hook, at every line
 * and count event): a transport whose network moves only when polled keeps
 * it moving. */
static inline void ldb_io_running(ldb_io *io) {
    if (io->ops->running) io->ops->running(io);
}
/* The session is over (its last write done). */
static inline void ldb_io_close(ldb_io *io) { io->ops->close(io); }

#endif
