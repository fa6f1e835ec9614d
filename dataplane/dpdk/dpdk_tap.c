/* dpdk_tap.c — the Lua debugger's transport on the DPDK plane (ldb_io.h).
 *
 * The session runs inside its client's EVAL, itself inside the stack's
 * receive callback for that client's connection. While it waits for the
 * debugger's next line the poll core runs the stack held
 * (ddrv_stack_poll): ARP, ping, handshakes, ACKs, retransmissions and
 * timers go on, while other clients' new connections, input and closes
 * wait in order for the session's end, as the kernel plane's worker leaves
 * its other clients waiting in epoll. The client's own connection is
 * tapped (tcp_tap): its segments are processed there and then, and the
 * driver hands its payload here (ddrv_tap_input) instead of to the
 * connection layer. Its FIN marks the tap gone (ddrv_tap_eof; the close
 * itself still waits in order for after the session); a reset or a
 * retransmission give-up shows as TF_GONE and takes effect after it.
 * Writes go straight into the connection's send buffer, ahead of the
 * client's queued replies as the kernel plane's direct send() is, and
 * leave at once (ddrv_tx_flush). While the script runs on between stops,
 * the line hook polls the stack the same way (tap_running).
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "dpdk_driver.h"
#include "../conn.h"
#include "../ldb_io.h"
#include "../worker.h"
#include "../tcp/tcp.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

struct ddrv_tap {
    ldb_io io;                /* first: the session's handle */
    cb_worker *w;
    char *buf;                /* received, not read yet: [off, len) */
    size_t off, len, cap;
    int eof;                  /* the peer's FIN arrived */
    uint64_t polled_us;       /* last poll while the script ran on */
};

void ddrv_tap_input(ddrv_tap *t, const uint8_t *p, size_t n) {
    if (t->off) {
        memmove(t->buf, t->buf + t->off, t->len - t->off);
        t->len -= t->off;
        t->off = 0;
    }
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + n) cap *= 2;
        /* Connection memory: this runs inside a stack poll, which may have
         * switched the thread's memory account. */
        char *nb = cb_malloc_conn(cap);
        if (t->len) memcpy(nb, t->buf, t->len);
        cb_free_conn(t->buf);
        t->buf = nb;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

void ddrv_tap_eof(ddrv_tap *t) { t->eof = 1; }

/* Reset, or the stack gave up on the peer: what TF_GONE says. */
static int conn_gone(const ddrv_tap *t) {
    const tcp_conn *tc = t->io.c->conn;
    return !tc || (tc->flags & TF_GONE);
}

static long tap_read(ldb_io *io, char *buf, size_t cap, int wait_ms) {
    ddrv_tap *t = (ddrv_tap *)io;
    long long deadline = util_mstime() + wait_ms;
    for (;;) {
        if (t->len > t->off) {
            size_t n = t->len - t->off < cap ? t->len - t->off : cap;
            memcpy(buf, t->buf + t->off, n);
            t->off += n;
            return (long)n;
        }
        if (t->eof || conn_gone(t)) return 0;
        if (util_mstime() >= deadline) return -1;
        ddrv_stack_poll(t->w, NULL);
    }
}

static int tap_write(ldb_io *io, const char *p, size_t n) {
    ddrv_tap *t = (ddrv_tap *)io;
    cb_client *c = io->c;
    long long deadline = util_mstime() + LDB_IO_SEND_TIMEOUT_MS;
    int rc = 0;
    while (n) {
        struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
        long w = c->ops->writev(c, &iov, 1);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (errno != EAGAIN || util_mstime() >= deadline) {
            rc = -1;
            break;
        }
        /* The send buffer is full: let ACKs in. */
        ddrv_tx_flush(t->w);
        ddrv_stack_poll(t->w, NULL);
    }
    ddrv_tx_flush(t->w);
    return rc;
}

static void tap_close(ldb_io *io) {
    ddrv_tap *t = (ddrv_tap *)io;
    ddrv_tap_detach(t->w, t);
    cb_free_conn(t->buf);
    cb_free_conn(t);
}

/* A long run between stops: ARP, ACKs and timers go on, as the kernel's
 * TCP goes on while the kernel plane's worker runs the script. Called at
 * every line, so a poll at most every TAP_RUN_POLL_US. */
#define TAP_RUN_POLL_US 1000
static void tap_running(ldb_io *io) {
    ddrv_tap *t = (ddrv_tap *)io;
    uint64_t now = util_monotonic_us();
    if (now - t->polled_us < TAP_RUN_POLL_US) return;
    t->polled_us = now;
    ddrv_stack_poll(t->w, NULL);
}

static const ldb_io_ops tap_ops = {.read = tap_read, .write = tap_write, .close = tap_close,
                                   .running = tap_running};

ldb_io *ldb_io_dpdk_open(cb_client *c) {
    cb_worker *w = c->w;
    if (!w || !w->dpdk) return NULL;
    ddrv_tap *t = cb_malloc_conn(sizeof(*t));
    memset(t, 0, sizeof(*t));
    t->io.ops = &tap_ops;
    t->io.c = c;
    t->w = w;
    if (ddrv_tap_attach(w, t, c) < 0) {
        cb_free_conn(t);
        return NULL;
    }
    return &t->io;
}
