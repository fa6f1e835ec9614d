/* relay.c — our stack's TCP connections joined to AF_UNIX socketpairs for
 * the management thread (see relay.h). The TCP side is an outconn
 * (outconn.h): an active open for the replica side, or a client's accepted
 * connection adopted by the outconn layer for the master side, so the
 * driver's ordering while a worker is held (its stash) applies unchanged.
 *
 * Backpressure: pair -> TCP reads only while the outconn's queue is under
 * RELAY_OUT_MAX, so a slow peer leaves the bytes in the pair and the
 * management thread's writes see EAGAIN as on a kernel socket. TCP -> pair
 * writes as segments arrive; what the pair cannot take waits in the relay
 * (our stack keeps a constant receive window, so it cannot be closed: the
 * pair's buffers are enlarged to make that rare).
 *
 * Cost when no relay exists: the worker loop checks two fields. With
 * relays, one epoll_wait(…, 0) on the worker's relay epoll fd every
 * RELAY_PERIOD_US at most.
 */
#include "relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "outconn.h"
#include "tcp/tcp.h"
#include "worker.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/ring.h"

#define RELAY_PERIOD_US 20
#define RELAY_OUT_MAX (256u * 1024)
#define RELAY_READ_CHUNK (64u * 1024)
#define RELAY_PAIR_BUF (4 * 1024 * 1024)

typedef struct cb_relay {
    struct cb_relay *next;
    cb_outconn *oc;          /* NULL once the TCP side ended */
    int fd;                  /* our end of the pair */
    char *in;                /* TCP bytes the pair has not taken yet */
    size_t inlen, incap;
    int pair_eof;            /* the management thread closed its end */
    int tcp_done;            /* the TCP side ended (or we closed it) */
    int tcp_reset;           /* ... abnormally: drop what waits */
    int status_owed;         /* relay_connect: the status byte is not sent yet */
} cb_relay;

/* A worker's relays (w->relays). */
typedef struct cb_relays {
    cb_relay *list;
    int epfd;
    uint64_t next_us;
} cb_relays;

/* relay_connect's request, over the worker's from_mgmt ring. */
typedef struct relay_req {
    int fd;
    char ip[INET_ADDRSTRLEN];
    int port;
} relay_req;

/* relay_connect runs on the management thread only: one producer. */
static pthread_mutex_t post_mu = PTHREAD_MUTEX_INITIALIZER;

static void pair_bufs(int fd) {
    int sz = RELAY_PAIR_BUF;
    /* FORCE needs CAP_NET_ADMIN; the plain call is capped by wmem_max. */
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static int make_pair(int sv[2]) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) return -1;
    pair_bufs(sv[0]);
    pair_bufs(sv[1]);
    return 0;
}

static cb_relays *relays_of(cb_worker *w) {
    if (!w->relays) {
        cb_relays *rs = cb_calloc(sizeof(*rs));
        rs->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (rs->epfd < 0) {
            cb_free(rs);
            return NULL;
        }
        w->relays = rs;
    }
    return w->relays;
}

static cb_relay *relay_new(cb_worker *w, int fd) {
    cb_relays *rs = relays_of(w);
    if (!rs) return NULL;
    cb_relay *r = cb_calloc(sizeof(*r));
    r->fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = r};
    if (epoll_ctl(rs->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        cb_free(r);
        return NULL;
    }
    r->next = rs->list;
    rs->list = r;
    return r;
}

/* Hand waiting TCP bytes to the pair. */
static void to_pair(cb_relay *r) {
    size_t done = 0;
    while (done < r->inlen && r->fd >= 0) {
        ssize_t n = send(r->fd, r->in + done, r->inlen - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        /* The management end is gone: nobody wants these bytes. */
        r->pair_eof = 1;
        done = r->inlen;
    }
    memmove(r->in, r->in + done, r->inlen - done);
    r->inlen -= done;
}

static void queue_in(cb_relay *r, const char *p, size_t n) {
    if (r->pair_eof) return;
    if (r->inlen + n > r->incap) {
        size_t cap = r->incap ? r->incap : 16384;
        while (cap < r->inlen + n) cap *= 2;
        r->in = cb_realloc(r->in, cap);
        r->incap = cap;
    }
    memcpy(r->in + r->inlen, p, n);
    r->inlen += n;
    to_pair(r);
}

static void oc_connected(cb_outconn *oc) {
    cb_relay *r = oc->arg;
    if (r->status_owed) {
        r->status_owed = 0;
        /* Status 0, then our end's IPv4 address and port (network order)
         * for the management thread's CLIENT LIST laddr. */
        unsigned char st[7] = {0};
        const tcp_conn *tc = oc->tc;
        if (tc) {
            uint32_t ip = htonl(tc->lip);
            uint16_t port = htons(tc->lport);
            memcpy(st + 1, &ip, 4);
            memcpy(st + 5, &port, 2);
        }
        queue_in(r, (const char *)st, sizeof(st));
    }
}

static void oc_data(cb_outconn *oc, const char *p, size_t n) { queue_in(oc->arg, p, n); }

static void oc_closed(cb_outconn *oc, int err) {
    cb_relay *r = oc->arg;
    r->oc = NULL;
    r->tcp_done = 1;
    if (r->status_owed) {
        /* The connect failed: its errno is the status. */
        r->status_owed = 0;
        char st = (char)(err > 0 && err < 256 ? err : ECONNREFUSED);
        queue_in(r, &st, 1);
        return;
    }
    if (err) r->tcp_reset = 1;
}

static const cb_outconn_cb relay_cb = {.connected = oc_connected, .data = oc_data,
                                       .closed = oc_closed};

int relay_adopt_client(cb_client *c) {
    cb_worker *w = c->w;
    int sv[2];
    if (!w || !w->dpdk) {
        errno = ENOTSUP;
        return -1;
    }
    if (make_pair(sv) < 0) return -1;
    cb_relay *r = relay_new(w, sv[0]);
    if (!r) {
        close(sv[0]);
        close(sv[1]);
        errno = ENOMEM;
        return -1;
    }
    r->oc = outconn_adopt(w, c, &relay_cb, r);
    if (!r->oc) {
        /* Freed at the next tick, which sees it ended. */
        r->tcp_done = 1;
        r->tcp_reset = 1;
        close(sv[1]);
        errno = ENOTCONN;
        return -1;
    }
    return sv[1];
}

int relay_connect(const char *host, int port, char *err, size_t errlen) {
    cb_worker *w = g_server.nworkers > 0 ? g_server.workers[0] : NULL;
    if (!w || !w->dpdk) {
        snprintf(err, errlen, "the DPDK data plane is not running");
        return -1;
    }
    /* Allocated here, freed by the worker: the shared slot's memory. */
    relay_req *q = cb_malloc_shared(sizeof(*q));
    memset(q, 0, sizeof(*q));
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) == 1) {
        snprintf(q->ip, sizeof(q->ip), "%s", host);
    } else {
        /* Our stack has no resolver: names go through the system's, IPv4. */
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
        if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) {
            snprintf(err, errlen, "cannot resolve %s", host);
            cb_free_shared(q);
            return -1;
        }
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, q->ip, sizeof(q->ip));
        freeaddrinfo(res);
    }
    q->port = port;
    int sv[2];
    if (make_pair(sv) < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        cb_free_shared(q);
        return -1;
    }
    q->fd = sv[0];
    pthread_mutex_lock(&post_mu);
    int rc = ring_enqueue(w->from_mgmt, q);
    pthread_mutex_unlock(&post_mu);
    if (rc != 0) {
        snprintf(err, errlen, "the poll core's request ring is full");
        close(sv[0]);
        close(sv[1]);
        cb_free_shared(q);
        return -1;
    }
    __atomic_store_n(&w->relay_posted, 1, __ATOMIC_RELEASE);
    return sv[1];
}

int relay_connect_result(int fd, char *laddr, size_t laddrlen) {
    char st;
    ssize_t n = recv(fd, &st, 1, MSG_DONTWAIT);
    if (n == 1 && st == 0) {
        /* The local address was queued with the status, in one write. */
        unsigned char a[6];
        if (recv(fd, a, sizeof(a), MSG_DONTWAIT) == (ssize_t)sizeof(a) && laddrlen) {
            char ip[INET_ADDRSTRLEN];
            uint16_t port;
            memcpy(&port, a + 4, 2);
            inet_ntop(AF_INET, a, ip, sizeof(ip));
            snprintf(laddr, laddrlen, "%s:%u", ip, (unsigned)ntohs(port));
        }
        return 0;
    }
    if (n == 1) return (unsigned char)st;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return -1;
    return ECONNREFUSED; /* the relay went away without a word */
}

/* Connect requests the management thread posted. */
static void take_requests(cb_worker *w) {
    /* Cleared before the ring is drained: a request posted meanwhile
     * leaves the flag set for the next turn, never a stranded request. */
    __atomic_exchange_n(&w->relay_posted, 0, __ATOMIC_ACQ_REL);
    relay_req *q;
    while ((q = ring_dequeue(w->from_mgmt)) != NULL) {
        cb_relay *r = relay_new(w, q->fd);
        if (!r) {
            close(q->fd);
            cb_free_shared(q);
            continue;
        }
        r->status_owed = 1;
        char why[128];
        errno = 0;
        r->oc = outconn_open(w, q->ip, q->port, &relay_cb, r, why, sizeof(why));
        if (!r->oc) {
            int e = errno ? errno : EADDRNOTAVAIL;
            cb_log(LOG_WARNING, "Connecting to %s:%d for a relay failed: %s", q->ip, q->port, why);
            r->tcp_done = 1;
            r->status_owed = 0;
            char st = (char)(e < 256 ? e : EADDRNOTAVAIL);
            queue_in(r, &st, 1);
        }
        cb_free_shared(q);
    }
}

/* Pair -> TCP, as much as the TCP side takes. */
static void from_pair(cb_relay *r) {
    char buf[RELAY_READ_CHUNK];
    while (r->oc && !r->pair_eof && outconn_pending(r->oc) < RELAY_OUT_MAX) {
        ssize_t n = recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            if (outconn_write(r->oc, buf, (size_t)n) < 0) break;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        r->pair_eof = 1; /* EOF, or the end reset */
    }
}

static void relay_free(cb_relays *rs, cb_relay *r) {
    if (r->oc) outconn_close(r->oc);
    if (r->fd >= 0) {
        epoll_ctl(rs->epfd, EPOLL_CTL_DEL, r->fd, NULL);
        close(r->fd);
    }
    cb_free(r->in);
    cb_free(r);
}

void relay_tick(cb_worker *w, uint64_t now_us) {
    if (__atomic_load_n(&w->relay_posted, __ATOMIC_RELAXED)) take_requests(w);
    cb_relays *rs = w->relays;
    if (!rs || now_us < rs->next_us) return;
    rs->next_us = now_us + RELAY_PERIOD_US;
    struct epoll_event ev[16];
    int n = epoll_wait(rs->epfd, ev, 16, 0);
    for (int i = 0; i < n; i++) {
        cb_relay *r = ev[i].data.ptr;
        if (r->oc && !r->tcp_done) from_pair(r);
        else if (!r->pair_eof && r->tcp_done) {
            /* TCP is over: only the end of the pair matters now. */
            char b[512];
            ssize_t k = recv(r->fd, b, sizeof(b), MSG_DONTWAIT);
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                r->pair_eof = 1;
        }
    }
    cb_relay **pp = &rs->list;
    while (*pp) {
        cb_relay *r = *pp;
        if (r->inlen) to_pair(r);
        /* The management end closed: FIN once the queue has left. */
        if (r->pair_eof && r->oc && outconn_pending(r->oc) == 0) {
            outconn_close(r->oc);
            r->oc = NULL;
            r->tcp_done = 1;
        }
        int over = r->tcp_done && (r->pair_eof || r->tcp_reset || r->inlen == 0);
        if (!over) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        relay_free(rs, r);
    }
}

void relay_worker_free(cb_worker *w) {
    cb_relays *rs = w->relays;
    relay_req *q;
    while ((q = ring_dequeue(w->from_mgmt)) != NULL) {
        close(q->fd);
        cb_free_shared(q);
    }
    if (!rs) return;
    while (rs->list) {
        cb_relay *r = rs->list;
        rs->list = r->next;
        relay_free(rs, r);
    }
    close(rs->epfd);
    cb_free(rs);
    w->relays = NULL;
}
