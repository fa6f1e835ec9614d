/* ldb_io.c — the Lua debugger's transport on the kernel plane (ldb_io.h),
 * and the choice of transport by plane. The session reads and writes the
 * client's non-blocking socket directly, blocking on poll() as Redis's
 * ldbRepl blocks on its connection; the worker's other clients wait in its
 * epoll set meanwhile.
 */
#include "ldb_io.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "../platform/mem.h"

static long k_read(ldb_io *io, char *buf, size_t cap, int wait_ms) {
    int fd = io->c->fd, waited = 0;
    if (fd < 0) return 0;
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return 0;
        if (waited) return -1;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        poll(&pf, 1, wait_ms);
        waited = 1;
    }
}

static int k_write(ldb_io *io, const char *p, size_t n) {
    int fd = io->c->fd;
    if (fd < 0) return -1;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            if (poll(&pf, 1, LDB_IO_SEND_TIMEOUT_MS) <= 0) return -1;
            continue;
        }
        return -1;
    }
    return 0;
}

static void k_close(ldb_io *io) { cb_free(io); }

static const ldb_io_ops kernel_ops = {.read = k_read, .write = k_write, .close = k_close};

ldb_io *ldb_io_open(cb_client *c) {
    ldb_io *io = c->fd < 0 ? ldb_io_dpdk_open(c) : NULL;
    if (io) return io;
    io = cb_calloc(sizeof(*io));
    io->ops = &kernel_ops;
    io->c = c;
    return io;
}
