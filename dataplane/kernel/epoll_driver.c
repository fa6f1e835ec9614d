/* epoll_driver.c — the kernel-socket I/O driver: each worker has its own
 * epoll instance and its own SO_REUSEPORT listening sockets, so the kernel
 * spreads connections over workers with no shared accept queue. Received
 * bytes land in the worker's read buffer (one segment) and go straight to
 * conn_input; output leaves with writev from the client's block chain.
 * The DPDK driver replaces this file and nothing above conn.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../acl.h"
#include "../conn.h"
#include "../conn_stats.h"
#include "../outconn.h"
#include "../worker.h"
#include "../../platform/config.h"
#include "../../platform/log.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

/* epoll data: clients are stored as pointers; listeners and the wake fd as
 * small tagged integers (heap pointers never have the top bit set). */
#define TAG_FD (1ull << 63)
#define TAG_OUT (1ull << 62) /* outgoing connections, as outconn.c registers them */

static long k_writev(cb_client *c, const struct iovec *iov, int n) {
    ssize_t r = writev(c->fd, iov, n);
    return r;
}

static void k_want_write(cb_client *c, int on) {
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void k_close(cb_client *c) {
    if (c->fd >= 0) {
        epoll_ctl(c->w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
}

static const cb_driver_ops kernel_ops = {
    .writev = k_writev, .want_write = k_want_write, .close = k_close};

int kdrv_init(cb_worker *w) {
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) return -1;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0) return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_FD | (uint64_t)w->wake_fd};
    return epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake_fd, &ev);
}

static int add_listener(cb_worker *w, int fd) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_FD | (uint64_t)fd};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) return -1;
    w->listen_fds[w->nlisten++] = fd;
    return 0;
}

static int tcp_listen_one(const char *addr, int port, char *err, size_t errlen) {
    struct addrinfo hints, *res = NULL, *p;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    const char *host = addr;
    if (strcmp(addr, "*") == 0) {
        host = NULL;
        hints.ai_family = AF_INET;
    } else if (strcmp(addr, "::*") == 0) {
        host = NULL;
        hints.ai_family = AF_INET6;
    }
    int rv = getaddrinfo(host, portstr, &hints, &res);
    if (rv != 0) {
        snprintf(err, errlen, "%s", gai_strerror(rv));
        return -1;
    }
    int fd = -1;
    for (p = res; p; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        if (p->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, p->ai_addr, p->ai_addrlen) < 0 || listen(fd, g_config.tcp_backlog) < 0) {
            snprintf(err, errlen, "%s: %s", errno == EADDRINUSE ? "bind" : "listen",
                     strerror(errno));
            close(fd);
            fd = -1;
            continue;
        }
        break;
    }
    freeaddrinfo(res);
    return fd;
}

int kdrv_listen(cb_worker *w, char *err, size_t errlen) {
    kdrv_unlisten(w);
    if (g_config.port != 0) {
        for (int i = 0; i < g_config.bind_count; i++) {
            const char *a = g_config.bind[i];
            int optional = a[0] == '-';
            if (optional) a++;
            char e[256];
            int fd = tcp_listen_one(a, g_config.port, e, sizeof(e));
            if (fd < 0) {
                if (optional) continue;
                snprintf(err, errlen, "Could not create server TCP listening socket %s:%d: %s",
                         a, g_config.port, e);
                kdrv_unlisten(w);
                return -1;
            }
            add_listener(w, fd);
        }
    }
    /* The unix socket is not shareable with SO_REUSEPORT: worker 0 owns it. */
    if (w->id == 0 && g_config.unixsocket && g_config.unixsocket[0]) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g_config.unixsocket);
        unlink(g_config.unixsocket);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(fd, g_config.tcp_backlog) < 0) {
            snprintf(err, errlen, "Failed opening Unix socket: %s", strerror(errno));
            if (fd >= 0) close(fd);
            kdrv_unlisten(w);
            return -1;
        }
        if (g_config.unixsocketperm) chmod(g_config.unixsocket, g_config.unixsocketperm);
        add_listener(w, fd);
        w->unix_fd = fd;
    }
    return 0;
}

void kdrv_unlisten(cb_worker *w) {
    for (int i = 0; i < w->nlisten; i++) {
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listen_fds[i], NULL);
        close(w->listen_fds[i]);
    }
    w->nlisten = 0;
    w->unix_fd = -1;
}

static void fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t len, int *local) {
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        port = ntohs(s->sin_port);
        if (local) *local = (ntohl(s->sin_addr.s_addr) >> 24) == 127;
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        port = ntohs(s->sin6_port);
        if (local) *local = IN6_IS_ADDR_LOOPBACK(&s->sin6_addr);
    }
    snprintf(buf, len, "%s:%d", ip, port);
}

static void accept_on(cb_worker *w, int lfd) {
    for (int burst = 0; burst < 1000; burst++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                cb_log(LOG_WARNING, "Accepting client connection: %s", strerror(errno));
            return;
        }
        int is_unix = lfd == w->unix_fd;
        char addr[128], laddr[128];
        int local = 1;
        if (is_unix) {
            /* Redis names both ends of a unix connection "<socket path>:0". */
            snprintf(addr, sizeof(addr), "%s:0", g_config.unixsocket);
            snprintf(laddr, sizeof(laddr), "%s:0", g_config.unixsocket);
        } else {
            fmt_addr(&ss, addr, sizeof(addr), &local);
            struct sockaddr_storage ls;
            socklen_t ll = sizeof(ls);
            getsockname(fd, (struct sockaddr *)&ls, &ll);
            fmt_addr(&ls, laddr, sizeof(laddr), NULL);
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            if (g_config.tcp_keepalive > 0) {
                int ka = g_config.tcp_keepalive, intvl = ka / 3 ? ka / 3 : 1, cnt = 3;
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &ka, sizeof(ka));
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
            }
        }
        char ip[64] = "";
        if (!is_unix) conn_stats_ip_of(addr, ip, sizeof(ip));
        uint64_t n = __atomic_add_fetch(&g_server.connected_clients, 1, __ATOMIC_RELAXED);
        if (n > g_config.maxclients) {
            size_t ml;
            const char *msg = conn_refusal(local, 1, &ml);
            ssize_t r = write(fd, msg, ml);
            (void)r;
            close(fd);
            __atomic_sub_fetch(&g_server.connected_clients, 1, __ATOMIC_RELAXED);
            STAT_INC(w->stats.rejected_conn);
            if (!is_unix) conn_stats_note(w, ip, CONN_REJ_MAXCLIENTS);
            continue;
        }
        size_t dl;
        const char *denied = conn_refusal(local, 0, &dl);
        if (denied) {
            ssize_t r = write(fd, denied, dl);
            (void)r;
            close(fd);
            __atomic_sub_fetch(&g_server.connected_clients, 1, __ATOMIC_RELAXED);
            STAT_INC(w->stats.rejected_conn);
            if (!is_unix) conn_stats_note(w, ip, CONN_REJ_PROTECTED);
            continue;
        }
        if (!is_unix) conn_stats_note(w, ip, CONN_ACCEPTED);
        cb_client *c = conn_create(w, &kernel_ops, fd, addr, laddr, local);
        if (is_unix) c->flags |= CLIENT_UNIX_SOCKET;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) conn_close(c);
        cb_log(LOG_VERBOSE, "Accepted %s", addr);
    }
}

/* Returns 1 when the client was closed (and freed). */
static int read_from(cb_worker *w, cb_client *c) {
    ssize_t n = read(c->fd, w->readbuf, w->readbuf_size);
    if (n > 0) {
        STAT_INC(w->stats.total_reads);
        conn_input(c, w->readbuf, (size_t)n);
        return 0;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    if (w->nested_poll) {
        /* Inside a busy script's poll the outer loop may still hold this
         * client: close it once the script is over. */
        conn_close_async(c);
        return 0;
    }
    if (n == 0)
        cb_log(LOG_VERBOSE, "Client closed connection id=%llu addr=%s",
               (unsigned long long)c->id, c->addr);
    else
        cb_log(LOG_VERBOSE, "Reading from client: %s", strerror(errno));
    conn_close(c);
    return 1;
}

int kdrv_poll(cb_worker *w, int timeout_ms) {
    struct epoll_event evs[256];
    uint64_t t0 = util_monotonic_us();
    int n = epoll_wait(w->epfd, evs, 256, timeout_ms);
    w->poll_wait_us = util_monotonic_us() - t0; /* idle: INFO appliance */
    if (n < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        uint64_t tag = evs[i].data.u64;
        if (tag & TAG_FD) {
            int fd = (int)(tag & 0xffffffffu);
            if (fd == w->wake_fd) {
                uint64_t v;
                ssize_t r = read(fd, &v, sizeof(v));
                (void)r;
            } else {
                accept_on(w, fd);
            }
            continue;
        }
        if (tag & TAG_OUT) { /* an outgoing connection (outconn.c) */
            outconn_kernel_event((cb_outconn *)(uintptr_t)(tag & ~TAG_OUT), evs[i].events);
            continue;
        }
        cb_client *c = evs[i].data.ptr;
        if (c->flags & CLIENT_CLOSED) continue;
        /* A client whose command is running (a busy script's caller, seen
         * from the nested poll) is not read until the command is over. */
        if ((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && !(c->flags & CLIENT_IN_CALL)) {
            /* A client closed by an earlier event in this batch (CLIENT KILL)
             * is freed only at flush time, so c stays valid here. */
            if (!(c->flags & CLIENT_CLOSE_ASAP) && read_from(w, c)) continue;
        }
        if (evs[i].events & EPOLLOUT) conn_output_queued(c);
    }
    return n;
}

void kdrv_wake(cb_worker *w) {
    uint64_t one = 1;
    ssize_t r = write(w->wake_fd, &one, sizeof(one));
    (void)r;
}

void kdrv_shutdown(cb_worker *w) {
    kdrv_unlisten(w);
    if (w->id == 0 && g_config.unixsocket && g_config.unixsocket[0]) unlink(g_config.unixsocket);
    if (w->wake_fd >= 0) close(w->wake_fd);
    if (w->epfd >= 0) close(w->epfd);
    w->wake_fd = w->epfd = -1;
}
