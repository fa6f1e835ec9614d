/* outconn.c — outgoing connections for both planes (see outconn.h): the
 * plane-neutral part (output queue, deadlines, callbacks, deferred free)
 * and the kernel plane's transport, a nonblocking socket registered in the
 * worker's epoll (epoll_driver.c hands its events to outconn_kernel_event).
 * The DPDK plane's transport is our stack's active open (dpdk_driver.c:
 * ddrv_connect and friends).
 *
 * A connection is never freed inside an event batch: outconn_close and the
 * closed callback only mark it dead, and outconn_cron frees the dead ones
 * once per loop turn, so a later event of the same epoll batch still finds
 * valid memory.
 */
#include "outconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "worker.h"
#include "dpdk/dpdk_driver.h"
#include "../platform/mem.h"
#include "../platform/util.h"

/* epoll tag of outgoing sockets (epoll_driver.c knows it). */
#define TAG_OUT (1ull << 62)

static int kernel_open(cb_outconn *oc, const char *host, int port, char *err, size_t errlen) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "%s", gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = TAG_OUT | (uint64_t)(uintptr_t)oc};
    if (epoll_ctl(oc->w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    oc->fd = fd;
    return 0;
}

cb_outconn *outconn_open(cb_worker *w, const char *host, int port, const cb_outconn_cb *cb,
                         void *arg, char *err, size_t errlen) {
    cb_outconn *oc = cb_calloc(sizeof(*oc));
    oc->w = w;
    oc->cb = cb;
    oc->arg = arg;
    oc->fd = -1;
    int rc;
    if (w->dpdk) {
        struct in_addr a;
        if (inet_pton(AF_INET, host, &a) != 1) {
            /* Our stack has no resolver: IPv4 literals only. */
            snprintf(err, errlen, "the DPDK data plane connects to IPv4 addresses only");
            rc = -1;
        } else if ((rc = ddrv_connect(w, ntohl(a.s_addr), (uint16_t)port, oc)) < 0) {
            snprintf(err, errlen, "%s", strerror(errno));
        }
    } else {
        rc = kernel_open(oc, host, port, err, errlen);
    }
    if (rc < 0) {
        cb_free(oc);
        return NULL;
    }
    oc->next = w->outconns;
    w->outconns = oc;
    return oc;
}

cb_outconn *outconn_adopt(cb_worker *w, struct cb_client *c, const cb_outconn_cb *cb,
                          void *arg) {
    if (!w->dpdk) return NULL;
    cb_outconn *oc = cb_calloc(sizeof(*oc));
    oc->w = w;
    oc->cb = cb;
    oc->arg = arg;
    oc->fd = -1;
    if (ddrv_adopt(c, oc) < 0) {
        cb_free(oc);
        return NULL;
    }
    oc->connected = 1;
    oc->next = w->outconns;
    w->outconns = oc;
    return oc;
}

/* Hand queued bytes to the transport; -1 when it broke (errno set). */
static int push(cb_outconn *oc) {
    if (!oc->connected || !oc->olen || oc->dead) return 0;
    size_t done;
    if (oc->fd >= 0) {
        ssize_t n = write(oc->fd, oc->obuf, oc->olen);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            return -1;
        }
        done = (size_t)n;
    } else {
        done = ddrv_out_send(oc, oc->obuf, oc->olen);
    }
    memmove(oc->obuf, oc->obuf + done, oc->olen - done);
    oc->olen -= done;
    if (oc->fd >= 0) {
        /* Watch writability only while bytes wait. */
        struct epoll_event ev = {.events = EPOLLIN | (oc->olen ? EPOLLOUT : 0),
                                 .data.u64 = TAG_OUT | (uint64_t)(uintptr_t)oc};
        epoll_ctl(oc->w->epfd, EPOLL_CTL_MOD, oc->fd, &ev);
    }
    return 0;
}

static void release_transport(cb_outconn *oc) {
    if (oc->fd >= 0) {
        epoll_ctl(oc->w->epfd, EPOLL_CTL_DEL, oc->fd, NULL);
        close(oc->fd);
        oc->fd = -1;
    }
    if (oc->tc) ddrv_out_close(oc);
}

/* The end, told once; the memory goes at the next outconn_cron. */
static void finish(cb_outconn *oc, int err) {
    if (oc->dead) return;
    oc->dead = 1;
    release_transport(oc);
    if (oc->cb->closed) oc->cb->closed(oc, err);
}

int outconn_write(cb_outconn *oc, const void *p, size_t n) {
    if (oc->dead) return -1;
    if (oc->olen + n > oc->ocap) {
        size_t cap = oc->ocap ? oc->ocap : 4096;
        while (cap < oc->olen + n) cap *= 2;
        oc->obuf = cb_realloc(oc->obuf, cap);
        oc->ocap = cap;
    }
    memcpy(oc->obuf + oc->olen, p, n);
    oc->olen += n;
    if (push(oc) < 0) finish(oc, errno);
    return 0;
}

size_t outconn_pending(const cb_outconn *oc) { return oc->olen; }

void outconn_set_deadline(cb_outconn *oc, long long deadline_ms) { oc->deadline_ms = deadline_ms; }

void outconn_close(cb_outconn *oc) {
    if (oc->dead) return;
    oc->dead = 1;
    release_transport(oc);
}

void outconn_cron(cb_worker *w, long long now_ms) {
    for (cb_outconn *oc = w->outconns; oc; oc = oc->next)
        if (!oc->dead && oc->deadline_ms && now_ms >= oc->deadline_ms) finish(oc, ETIMEDOUT);
    cb_outconn **pp = &w->outconns;
    while (*pp) {
        cb_outconn *oc = *pp;
        if (!oc->dead) {
            pp = &oc->next;
            continue;
        }
        *pp = oc->next;
        cb_free(oc->obuf);
        cb_free(oc);
    }
}

void outconn_close_all(cb_worker *w) {
    for (cb_outconn *oc = w->outconns; oc; oc = oc->next) outconn_close(oc);
    outconn_cron(w, 0);
}

/* ------------------------------------------------------------ transports */

void outconn_transport_connected(cb_outconn *oc) {
    if (oc->dead || oc->connected) return;
    oc->connected = 1;
    if (oc->cb->connected) oc->cb->connected(oc);
    if (!oc->dead && push(oc) < 0) finish(oc, errno);
}

void outconn_transport_data(cb_outconn *oc, const char *p, size_t n) {
    if (!oc->dead && oc->cb->data) oc->cb->data(oc, p, n);
}

void outconn_transport_writable(cb_outconn *oc) {
    if (push(oc) < 0) finish(oc, errno);
}

void outconn_transport_closed(cb_outconn *oc, int err) { finish(oc, err); }

void outconn_kernel_event(cb_outconn *oc, uint32_t events) {
    if (oc->dead) return;
    if (!oc->connected) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(oc->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) soerr = errno;
        if (soerr) {
            finish(oc, soerr);
            return;
        }
        if (!(events & (EPOLLOUT | EPOLLIN))) return;
        outconn_transport_connected(oc);
        if (oc->dead) return;
    } else if (events & EPOLLOUT) {
        outconn_transport_writable(oc);
        if (oc->dead) return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    char buf[16384];
    for (;;) {
        ssize_t n = read(oc->fd, buf, sizeof(buf));
        if (n > 0) {
            outconn_transport_data(oc, buf, (size_t)n);
            if (oc->dead) return;
            if ((size_t)n < sizeof(buf)) return;
            continue;
        }
        if (n == 0) {
            finish(oc, 0);
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            finish(oc, errno);
        }
        return;
    }
}
