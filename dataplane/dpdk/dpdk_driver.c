/* dpdk_driver.c — the DPDK I/O driver (see dpdk_driver.h for the call
 * order). It joins three things per poll core: a queue pair of the port
 * (platform/dpdk.c), one netstack instance (dataplane/net, dataplane/tcp),
 * and the shared connection layer (conn.c): a TCP connection that
 * completes its handshake becomes a cb_client, received in-order payload
 * goes to conn_input straight from the receive buffer (zero copy), and the
 * client's output leaves through tcp_send when the worker flushes.
 *
 * Every client here is non-loopback: protected mode and maxclients refuse
 * it with Redis's texts exactly as the kernel driver does.
 *
 * Outgoing connections (outconn.h) are the stack's active opens; their
 * tc->app is the cb_outconn with the low bit set, which is how the shared
 * callbacks tell them from clients. With several poll cores the answers of
 * an active open must reach the core that opened it: where the NIC's RSS
 * can be computed (dpdk_rss_queue) the local port is chosen so that it
 * steers them there; otherwise (af_packet's kernel fanout) core k takes
 * ephemeral ports with port % cores == k and a core hands a segment for
 * another core's port over an SPSC ring. ARP frames go to every core in
 * both cases (each stack has its own cache; RSS sends ARP to one queue).
 */
#include "dpdk_driver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../conn.h"
#include "../conn_stats.h"
#include "../outconn.h"
#include "../worker.h"
#include "../tcp/tcp.h"
#include "../../platform/config.h"
#include "../../platform/log.h"
#include "../../platform/mem.h"
#include "../../platform/ring.h"
#include "../../platform/util.h"

/* What the stack hands the application while it is held (ddrv_stack_poll):
 * kept in arrival order and handed over at the next loop turn. */
enum { EV_ACCEPT, EV_RECV, EV_CLOSED, EV_CONNECTED };
typedef struct stash_ev {
    struct stash_ev *next;
    int kind;
    void *app;                /* a cb_client, or a pend_conn (EV_ACCEPT and after) */
    int reset;                /* EV_CLOSED */
    size_t len;               /* EV_RECV */
    uint8_t data[];
} stash_ev;

/* A connection whose handshake completed while held: the stack sees it as
 * tc->app until the client is created. Its marker is a client id no
 * client has, which tells the two apart in the callbacks. */
#define PEND_MARKER UINT64_MAX
typedef struct pend_conn {
    uint64_t marker;
    tcp_conn *tc;             /* NULL once the stack freed it (reset) */
} pend_conn;

typedef struct ddrv_core {
    cb_worker *w;
    dpdk_queue *q;
    netstack *ns;
    int announce;             /* gratuitous ARP due on the first turn */
    int hold;                 /* application callbacks go to the stash */
    stash_ev *stash, **stash_tail;
    int writable_missed;      /* send space freed while held */
    ddrv_tap *tap;            /* a debugging session's, on tap_client */
    cb_client *tap_client;
} ddrv_core;

/* A frame handed from one poll core to another. */
typedef struct steer_frame {
    uint32_t len;
    uint8_t data[];
} steer_frame;

/* Active opens' apps are tagged pointers (ACTIVE_TAG), never pending. */
static int is_pending(const void *app) {
    return app && !((uintptr_t)app & 1) && ((const pend_conn *)app)->marker == PEND_MARKER;
}

static stash_ev *stash_push(ddrv_core *core, int kind, void *app, const uint8_t *p, size_t len) {
    /* Connection memory, not the shard's: a parked worker may be here
     * while another thread works in its shard's arena. */
    stash_ev *e = cb_malloc_conn(sizeof(*e) + len);
    e->next = NULL;
    e->kind = kind;
    e->app = app;
    e->reset = 0;
    e->len = len;
    if (len) memcpy(e->data, p, len);
    if (!core->stash) core->stash_tail = &core->stash;
    *core->stash_tail = e;
    core->stash_tail = &e->next;
    return e;
}

static struct {
    int up;
    uint8_t mac[6];
    uint32_t ip, mask, gw;
    int prefix;
    uint16_t mtu;
    int ncores;
    int hw_steer;             /* the NIC's RSS can be computed: no hand-over */
    cb_ring **steer;          /* [src * ncores + dst] */
} drv;

static int parse_ip(const char *s, uint32_t *ip) {
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1) return -1;
    *ip = ntohl(a.s_addr);
    return 0;
}

int ddrv_setup(char *err, size_t errlen) {
    const char *ipstr = g_config.dpdk_ip ? g_config.dpdk_ip : "";
    char ipbuf[64];
    snprintf(ipbuf, sizeof(ipbuf), "%s", ipstr);
    char *slash = strchr(ipbuf, '/');
    long long plen = 24;
    if (slash) {
        *slash = '\0';
        if (!util_str2ll(slash + 1, strlen(slash + 1), &plen) || plen < 1 || plen > 32) {
            snprintf(err, errlen, "dpdk-ip '%s': bad prefix length", ipstr);
            return -1;
        }
    }
    if (!ipbuf[0] || parse_ip(ipbuf, &drv.ip) < 0) {
        snprintf(err, errlen, "dpdk-ip '%s': the DPDK data plane needs an IPv4 address "
                              "A.B.C.D/len", ipstr);
        return -1;
    }
    drv.prefix = (int)plen;
    drv.mask = plen == 32 ? 0xffffffffu : ~(0xffffffffu >> plen);
    drv.gw = 0;
    if (g_config.dpdk_gateway && g_config.dpdk_gateway[0] &&
        parse_ip(g_config.dpdk_gateway, &drv.gw) < 0) {
        snprintf(err, errlen, "dpdk-gateway '%s': not an IPv4 address", g_config.dpdk_gateway);
        return -1;
    }
    if (dpdk_start(g_config.dpdk_eal_args ? g_config.dpdk_eal_args : "", err, errlen) < 0)
        return -1;
    dpdk_set_vlan((uint16_t)g_config.dpdk_vlan);
    int n = dpdk_poll_cores();
    if (dpdk_port_setup(g_config.dpdk_port ? g_config.dpdk_port : "0", n, g_config.dpdk_mtu,
                        drv.mac, err, errlen) < 0)
        return -1;
    dpdk_port_info pi;
    dpdk_port_info_get(&pi);
    drv.mtu = pi.mtu ? pi.mtu : (uint16_t)g_config.dpdk_mtu;
    drv.ncores = n;
    drv.hw_steer = dpdk_rss_queue(1, 1, 2, 2) >= 0;
    if (g_config.dpdk_vlan)
        cb_log(LOG_NOTICE, "DPDK data plane: VLAN %d, tag inserted by %s", g_config.dpdk_vlan,
               dpdk_vlan_hw_insert() ? "the NIC" : "software");
    if (n > 1) {
        drv.steer = cb_calloc(sizeof(cb_ring *) * (size_t)n * (size_t)n);
        for (int i = 0; i < n * n; i++)
            if (i / n != i % n) drv.steer[i] = ring_create(1024);
    }
    drv.up = 1;
    cb_log(LOG_NOTICE, "DPDK data plane: port %u (%s) %02x:%02x:%02x:%02x:%02x:%02x, %s, "
           "mtu %u, %d poll core%s%s", pi.port_id, pi.name, drv.mac[0], drv.mac[1],
           drv.mac[2], drv.mac[3], drv.mac[4], drv.mac[5], ipstr, drv.mtu, n, n > 1 ? "s" : "",
           pi.rss ? ", symmetric RSS" : "");
    return n;
}

/* ------------------------------------------------------ frames for the stack */

static uint8_t *tx_alloc(void *ctx, size_t len, void **h) {
    return dpdk_tx_alloc(((ddrv_core *)ctx)->q, len, h);
}
static void tx_send(void *ctx, void *h, size_t len) { dpdk_tx_send(((ddrv_core *)ctx)->q, h, len); }
static void tx_free(void *ctx, void *h) {
    (void)ctx;
    dpdk_tx_free(h);
}
/* Payloads below this many bytes are copied: a second mbuf and its
 * reference cost more than copying them (measured, docs/tcp-stack.md).
 * CACHEBOX_TX_ZC_MIN overrides it, for measuring. */
#define TX_ZC_MIN_DEFAULT 512
static uint32_t tx_zc_min(void) {
    const char *e = getenv("CACHEBOX_TX_ZC_MIN");
    return e && *e ? (uint32_t)strtoul(e, NULL, 10) : TX_ZC_MIN_DEFAULT;
}

/* Payload by reference: the first frame into a send ring takes a reference
 * on it for all of them; the last one DPDK frees gives it back. */
static void zbuf_let_go(void *addr, void *opaque) {
    (void)addr;
    net_zbuf_release(opaque);
}
static int tx_attach(void *ctx, void *h, net_zbuf *b, const uint8_t *p, size_t len) {
    _Static_assert(sizeof(b->drv) >= DPDK_TX_SHARED_SIZE, "net_zbuf.drv too small");
    int r = dpdk_tx_attach(((ddrv_core *)ctx)->q, h, b->drv, p, len, zbuf_let_go, b);
    if (r == 1) net_zbuf_hold(b);
    return r < 0 ? -1 : 0;
}
static const net_ops frame_ops = {.tx_alloc = tx_alloc, .tx_send = tx_send, .tx_free = tx_free,
                                  .tx_attach = tx_attach};

/* ------------------------------------------------ the connection layer's side */

static long d_writev(cb_client *c, const struct iovec *iov, int n) {
    tcp_conn *tc = c->conn;
    if (!tc) {
        errno = EPIPE;
        return -1;
    }
    size_t r = tcp_send(tc, iov, n);
    if (r == 0) {
        errno = EAGAIN;
        return -1;
    }
    return (long)r;
}

static void d_want_write(cb_client *c, int on) {
    (void)c; /* the stack reports freed send space itself (app_writable) */
    (void)on;
}

static void stash_rename(ddrv_core *core, void *from, void *to);

static void d_close(cb_client *c) {
    tcp_conn *tc = c->conn;
    c->conn = NULL;
    if (tc) tcp_close(tc);
    /* Freed next (CLIENT KILL while held, say): what waits for it goes. */
    ddrv_core *core = c->w ? c->w->dpdk : NULL;
    if (core && core->stash) stash_rename(core, c, NULL);
}

static const cb_driver_ops dpdk_ops = {.writev = d_writev, .want_write = d_want_write,
                                       .close = d_close};

static void fmt_ep(char *buf, size_t len, uint32_t ip, uint16_t port) {
    snprintf(buf, len, "%u.%u.%u.%u:%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255,
             port);
}

static void refuse(tcp_conn *tc, const char *msg, size_t len) {
    struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
    tcp_send(tc, &iov, 1);
    tcp_close(tc);
}

static int accept_now(ddrv_core *core, tcp_conn *tc);

static int app_accepted(void *ctx, tcp_conn *tc) {
    ddrv_core *core = ctx;
    if (core->hold) {
        /* Handshake done; the client is created when the hold ends. */
        pend_conn *pc = cb_malloc_conn(sizeof(*pc));
        pc->marker = PEND_MARKER;
        pc->tc = tc;
        tc->app = pc;
        stash_push(core, EV_ACCEPT, pc, NULL, 0);
        return 0;
    }
    return accept_now(core, tc);
}

static int accept_now(ddrv_core *core, tcp_conn *tc) {
    cb_worker *w = core->w;
    uint64_t n = __atomic_add_fetch(&g_server.connected_clients, 1, __ATOMIC_RELAXED);
    size_t len;
    const char *msg = NULL;
    int over = n > g_config.maxclients;
    char ip[20];
    snprintf(ip, sizeof(ip), "%u.%u.%u.%u", tc->rip >> 24, (tc->rip >> 16) & 255,
             (tc->rip >> 8) & 255, tc->rip & 255);
    msg = conn_refusal(0, over, &len);
    if (msg) {
        __atomic_sub_fetch(&g_server.connected_clients, 1, __ATOMIC_RELAXED);
        STAT_INC(w->stats.rejected_conn);
        conn_stats_note(w, ip, over ? CONN_REJ_MAXCLIENTS : CONN_REJ_PROTECTED);
        refuse(tc, msg, len);
        return 0;
    }
    conn_stats_note(w, ip, CONN_ACCEPTED);
    char addr[64], laddr[64];
    fmt_ep(addr, sizeof(addr), tc->rip, tc->rport);
    fmt_ep(laddr, sizeof(laddr), tc->lip, tc->lport);
    cb_client *c = conn_create(w, &dpdk_ops, -1, addr, laddr, 0);
    c->conn = tc;
    tc->app = c;
    cb_log(LOG_VERBOSE, "Accepted %s", addr);
    return 0;
}

/* ------------------------------------------------ outgoing connections */

#define ACTIVE_TAG ((uintptr_t)1)
static int is_active_app(const void *app) { return ((uintptr_t)app & ACTIVE_TAG) != 0; }
static cb_outconn *active_oc(const void *app) {
    return (cb_outconn *)((uintptr_t)app & ~ACTIVE_TAG);
}

static int port_ok(void *ctx, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport) {
    ddrv_core *core = ctx;
    if (drv.ncores <= 1) return 1;
    if (drv.hw_steer) return dpdk_rss_queue(lip, lport, rip, rport) == core->w->id;
    return lport % drv.ncores == core->w->id;
}

int ddrv_connect(cb_worker *w, uint32_t ip, uint16_t port, cb_outconn *oc) {
    ddrv_core *core = w->dpdk;
    tcp_conn *tc = tcp_connect(core->ns->tcp, ip, port, 0, (void *)((uintptr_t)oc | ACTIVE_TAG));
    if (!tc) return -1;
    oc->tc = tc;
    return 0;
}

size_t ddrv_out_send(cb_outconn *oc, const void *p, size_t n) {
    tcp_conn *tc = oc->tc;
    if (!tc || tc->state < TCP_ESTABLISHED) return 0;
    struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
    return tcp_send(tc, &iov, 1);
}

void ddrv_out_close(cb_outconn *oc) {
    tcp_conn *tc = oc->tc;
    oc->tc = NULL;
    if (tc) tcp_close(tc);
}

int ddrv_adopt(cb_client *c, cb_outconn *oc) {
    tcp_conn *tc = c->ops == &dpdk_ops ? c->conn : NULL;
    if (!tc || !c->w || !c->w->dpdk) {
        errno = ENOTCONN;
        return -1;
    }
    void *app = (void *)((uintptr_t)oc | ACTIVE_TAG);
    c->conn = NULL;
    tc->app = app;
    oc->tc = tc;
    ddrv_core *core = c->w->dpdk;
    if (core->stash) stash_rename(core, c, app);
    return 0;
}

static void app_connected(tcp_conn *tc) {
    if (!is_active_app(tc->app)) return;
    ddrv_core *core = tc->ts->app_ctx;
    if (core->hold || core->stash) stash_push(core, EV_CONNECTED, tc->app, NULL, 0);
    else outconn_transport_connected(active_oc(tc->app));
}

/* An active open ended: refused, reset, timed out (reset 1 / 1 / 2) or
 * the peer's FIN (0), after which our side closes too. */
static void active_closed(cb_outconn *oc, int reset) {
    tcp_conn *tc = oc->tc;
    oc->tc = NULL;
    if (!reset && tc) tcp_close(tc);
    int err = reset == 2 ? ETIMEDOUT : reset ? (oc->connected ? ECONNRESET : ECONNREFUSED) : 0;
    outconn_transport_closed(oc, err);
}

static void app_recv(tcp_conn *tc, const uint8_t *p, size_t len) {
    ddrv_core *core = tc->ts->app_ctx;
    if (core->tap && tc->app == core->tap_client) {
        ddrv_tap_input(core->tap, p, len);
        return;
    }
    if (!core->hold && !core->stash && is_active_app(tc->app)) {
        outconn_transport_data(active_oc(tc->app), (const char *)p, len);
        return;
    }
    if (core->hold || core->stash || is_pending(tc->app)) {
        stash_push(core, EV_RECV, tc->app, p, len); /* after what waits already */
        return;
    }
    cb_client *c = tc->app;
    STAT_INC(c->w->stats.total_reads);
    conn_input(c, (const char *)p, len);
}

static void closed_now(cb_client *c, int reset);

static void app_closed(void *app, int reset) {
    if (is_active_app(app)) {
        cb_outconn *oc = active_oc(app);
        ddrv_core *core = oc->w->dpdk;
        if (core->hold || core->stash) {
            /* Its owner hears it in order. A reset freed the connection;
             * after a FIN it lives on and stays ours, so that a later
             * reset still reaches us and clears oc->tc. */
            if (reset) oc->tc = NULL;
            else if (oc->tc) ((tcp_conn *)oc->tc)->app = app;
            stash_push(core, EV_CLOSED, app, NULL, 0)->reset = reset;
            return;
        }
        active_closed(oc, reset);
        return;
    }
    cb_client *c = app;
    ddrv_core *core = is_pending(app) ? NULL : c->w->dpdk;
    if (core && core->tap && c == core->tap_client) ddrv_tap_eof(core->tap); /* closed in order */
    if (!core || core->hold || core->stash) {
        /* Held: the client learns it in order. A reset freed the
         * connection; after a FIN it lives on (CLOSE_WAIT) and stays
         * ours, so a later reset still reaches us. */
        tcp_conn *tc = is_pending(app) ? ((pend_conn *)app)->tc : c->conn;
        if (reset) {
            if (is_pending(app)) ((pend_conn *)app)->tc = NULL;
            else c->conn = NULL;
        } else if (tc) {
            tc->app = app;
        }
        if (!core) core = tc ? tc->ts->app_ctx : NULL;
        if (core) {
            stash_push(core, EV_CLOSED, app, NULL, 0)->reset = reset;
            return;
        }
        /* A pending connection reset with nothing of it left to find its
         * core by: its EV_ACCEPT sees pc->tc NULL and drops it. */
        return;
    }
    closed_now(c, reset);
}

static void closed_now(cb_client *c, int reset) {
    if (reset) {
        c->conn = NULL; /* the stack frees the connection */
        cb_log(LOG_VERBOSE, "Client connection reset id=%llu addr=%s",
               (unsigned long long)c->id, c->addr);
    } else {
        /* The peer's FIN: replies to what it sent before still go out (as
         * the kernel plane writes them before its read sees EOF). */
        if (c->out_bytes && !(c->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSED))) conn_flush(c);
        cb_log(LOG_VERBOSE, "Client closed connection id=%llu addr=%s",
               (unsigned long long)c->id, c->addr);
    }
    if (c->w->nested_poll) {
        /* Inside a busy script's poll the outer loop may still hold this
         * client: end the transport now, free the client once the script
         * is over. */
        tcp_conn *tc = c->conn;
        c->conn = NULL;
        if (tc) tcp_close(tc);
        conn_close_async(c);
        return;
    }
    conn_close(c);
}

static void app_writable(tcp_conn *tc) {
    ddrv_core *core = tc->ts->app_ctx;
    if (core->hold || is_pending(tc->app)) {
        core->writable_missed = 1; /* looked at when the hold ends */
        return;
    }
    if (is_active_app(tc->app)) {
        outconn_transport_writable(active_oc(tc->app));
        return;
    }
    cb_client *c = tc->app;
    if (c && (c->flags & CLIENT_WANT_WRITE)) conn_output_queued(c);
}

/* Later events of `from` are now about `to` (NULL: drop them). */
static void stash_rename(ddrv_core *core, void *from, void *to) {
    for (stash_ev *e = core->stash; e; e = e->next)
        if (e->app == from) e->app = to;
}

int ddrv_tap_attach(cb_worker *w, ddrv_tap *t, cb_client *c) {
    ddrv_core *core = w->dpdk;
    if (!core || core->tap || c->ops != &dpdk_ops) return -1;
    core->tap = t;
    core->tap_client = c;
    /* What waits in the stash for c came before anything newer. */
    stash_ev **pp = &core->stash;
    while (*pp) {
        stash_ev *e = *pp;
        if (e->app == c && e->kind == EV_RECV) {
            ddrv_tap_input(t, e->data, e->len);
            *pp = e->next;
            cb_free_conn(e);
            continue;
        }
        if (e->app == c && e->kind == EV_CLOSED) ddrv_tap_eof(t);
        pp = &e->next;
    }
    core->stash_tail = pp;
    if (c->conn) tcp_tap(c->conn, 1);
    return 0;
}

void ddrv_tap_detach(cb_worker *w, ddrv_tap *t) {
    ddrv_core *core = w->dpdk;
    if (!core || core->tap != t) return;
    cb_client *c = core->tap_client;
    core->tap = NULL;
    core->tap_client = NULL;
    if (c->conn) tcp_tap(c->conn, 0);
}

/* Hand the stash to the application, in order (from the loop, not held). */
static void stash_replay(ddrv_core *core) {
    while (core->stash && !core->hold) {
        stash_ev *e = core->stash;
        if (e->app && !is_active_app(e->app) && !is_pending(e->app)) {
            tcp_conn *tc = ((cb_client *)e->app)->conn;
            if (tc && (tc->flags & TF_HOLD)) break; /* a busy script's caller */
        }
        core->stash = e->next;
        if (e->app && is_active_app(e->app)) {
            cb_outconn *oc = active_oc(e->app);
            if (e->kind == EV_CONNECTED) {
                outconn_transport_connected(oc);
            } else if (e->kind == EV_RECV) {
                outconn_transport_data(oc, (const char *)e->data, e->len);
            } else if (e->kind == EV_CLOSED) {
                stash_rename(core, e->app, NULL); /* freed when this returns */
                active_closed(oc, e->reset);
            }
        } else if (e->kind == EV_ACCEPT) {
            pend_conn *pc = e->app;
            cb_client *c = NULL;
            if (pc->tc) {
                tcp_conn *tc = pc->tc;
                tc->app = NULL;
                accept_now(core, tc);
                c = tc->app; /* NULL when refused (protected mode, maxclients) */
            }
            stash_rename(core, pc, c);
            cb_free_conn(pc);
        } else if (e->kind == EV_RECV && e->app) {
            cb_client *c = e->app;
            STAT_INC(c->w->stats.total_reads);
            conn_input(c, (const char *)e->data, e->len);
        } else if (e->kind == EV_CLOSED && e->app) {
            cb_client *c = e->app;
            stash_rename(core, c, NULL); /* it may be freed now */
            tcp_conn *tc = c->conn;
            if (tc && !e->reset) tc->app = NULL; /* as the stack left it */
            closed_now(c, e->reset);
        }
        cb_free_conn(e);
    }
    if (!core->stash && core->writable_missed && !core->hold) {
        core->writable_missed = 0;
        for (cb_client *c = core->w->clients; c; c = c->next)
            if ((c->flags & CLIENT_WANT_WRITE) && c->conn) conn_output_queued(c);
        for (cb_outconn *oc = core->w->outconns; oc; oc = oc->next)
            if (oc->tc && oc->connected && !oc->dead) outconn_transport_writable(oc);
    }
}

static const tcp_app_ops app_ops = {.accepted = app_accepted, .recv = app_recv,
                                    .closed = app_closed, .writable = app_writable,
                                    .connected = app_connected};

/* ----------------------------------------- hand-over between poll cores */

/* Which core must see this frame when the NIC cannot be told: -1 this one,
 * -2 every core (ARP: each stack keeps its own cache), else a core id. */
static int steer_target(const ddrv_core *core, const uint8_t *f, uint16_t len) {
    if (len < NET_ETH_HLEN + NET_IP_HLEN + 4) return len >= NET_ETH_HLEN + 28 &&
                                                  net_rd16(f + 12) == ETHERTYPE_ARP ? -2 : -1;
    uint16_t type = net_rd16(f + 12);
    size_t hl = NET_ETH_HLEN;
    if (type == ETHERTYPE_VLAN) {
        type = net_rd16(f + 16);
        hl += NET_VLAN_HLEN;
    }
    if (type == ETHERTYPE_ARP) return -2;
    if (drv.hw_steer) return -1; /* the NIC steers TCP by the port we chose */
    if (type != ETHERTYPE_IPV4 || hl + NET_IP_HLEN + 4 > len) return -1;
    const uint8_t *ip = f + hl;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4;
    if (ip[9] != NET_PROTO_TCP || hl + ihl + 4 > len) return -1;
    uint16_t dport = net_rd16(ip + ihl + 2);
    if (dport < TCP_EPH_LO || dport > TCP_EPH_HI || dport == core->ns->tcp->listen_port) return -1;
    int k = dport % drv.ncores;
    return k == core->w->id ? -1 : k;
}

static void steer_send(ddrv_core *core, int dst, const uint8_t *f, uint16_t len) {
    int src = core->w->id;
    steer_frame *m = cb_try_malloc(sizeof(*m) + len);
    if (!m) return;
    NS_INC(core->ns->st.rx_handed_over);
    m->len = len;
    memcpy(m->data, f, len);
    if (ring_enqueue(drv.steer[src * drv.ncores + dst], m) != 0) cb_free(m);
}

/* Frames other cores handed to this one. */
static int steer_receive(ddrv_core *core) {
    int me = core->w->id, got = 0;
    for (int src = 0; src < drv.ncores; src++) {
        if (src == me) continue;
        steer_frame *m;
        while ((m = ring_dequeue(drv.steer[src * drv.ncores + me])) != NULL) {
            net_input(core->ns, m->data, m->len);
            cb_free(m);
            got++;
        }
    }
    return got;
}

/* ------------------------------------------------------------- the worker */

int ddrv_init(cb_worker *w) {
    ddrv_core *core = cb_calloc(sizeof(*core));
    core->w = w;
    core->q = dpdk_queue_get(w->id);
    if (!core->q) {
        cb_free(core);
        errno = EINVAL;
        return -1;
    }
    core->ns = net_create(&frame_ops, core, drv.mac, drv.ip, drv.mask, drv.gw, drv.mtu);
    core->ns->vlan = (uint16_t)g_config.dpdk_vlan;
    core->ns->vlan_hw = dpdk_vlan_hw_insert();
    dpdk_port_info pi;
    dpdk_port_info_get(&pi);
    core->ns->tx_csum_offload = pi.tx_csum_offload;
    core->ns->tx_zero_copy = pi.tx_zero_copy;
    core->ns->tx_zc_min = tx_zc_min();
    net_set_clock(core->ns, util_monotonic_us());
    tcp_set_app(core->ns->tcp, &app_ops, core);
    core->ns->tcp->port_ok = port_ok;
    core->ns->tcp->port_ok_ctx = core;
    tcp_listen(core->ns->tcp, (uint16_t)g_config.port, (uint32_t)g_config.tcp_backlog);
    core->announce = w->id == 0;
    w->dpdk = core;
    return 0;
}

int ddrv_poll(cb_worker *w) {
    ddrv_core *core = w->dpdk;
    netstack *ns = core->ns;
    net_set_clock(ns, util_monotonic_us());
    /* What arrived while the application was held, before anything newer. */
    if (core->stash && !core->hold) stash_replay(core);
    /* Segments held back during a busy script (its caller's), in order,
     * before anything newer for the same connection. */
    if (!w->nested_poll && ns->tcp->deferred) tcp_run_deferred(ns->tcp);
    if (core->announce) {
        core->announce = 0;
        arp_announce(ns);
    }
    uint8_t *data[32];
    uint16_t len[32];
    void *pkt[32];
    uint8_t fl[32];
    int n = dpdk_rx(core->q, data, len, pkt, fl, 32);
    for (int i = 0; i < n; i++) {
        int to = drv.steer ? steer_target(core, data[i], len[i]) : -1;
        if (to == -2) {
            for (int k = 0; k < drv.ncores; k++)
                if (k != w->id) steer_send(core, k, data[i], len[i]);
        } else if (to >= 0) {
            steer_send(core, to, data[i], len[i]);
            dpdk_rx_free(pkt[i]);
            continue;
        }
        ns->rx_csum_ok = (uint8_t)((fl[i] & DPDK_RX_IP_CSUM_OK ? NET_CSUM_IP : 0) |
                                   (fl[i] & DPDK_RX_L4_CSUM_OK ? NET_CSUM_L4 : 0));
        net_input(ns, data[i], len[i]);
        ns->rx_csum_ok = 0; /* held segments replayed later are checked here */
        dpdk_rx_free(pkt[i]);
    }
    if (drv.steer) n += steer_receive(core);
    if (n) NS_INC(ns->st.polls_busy);
    else NS_INC(ns->st.polls_idle);
    /* The script that held them may have run from this batch. */
    if (!w->nested_poll && ns->tcp->deferred) tcp_run_deferred(ns->tcp);
    /* CONFIG SET port applies to the next SYN, tcp-keepalive to the next
     * idle period. */
    ns->tcp->listen_port = (uint16_t)g_config.port;
    ns->tcp->keepalive_ms = g_config.tcp_keepalive > 0 ? (uint32_t)g_config.tcp_keepalive * 1000 : 0;
    tcp_timers_run(ns->tcp);
    return n;
}

void ddrv_nested_poll(cb_worker *w, cb_client *caller) {
    /* The caller is inside its own receive callback (or its command is
     * running): the stack must not deliver to it nor free it meanwhile. */
    tcp_conn *tc = caller && caller->ops == &dpdk_ops ? caller->conn : NULL;
    if (tc) tcp_hold(tc, 1);
    ddrv_poll(w);
    if (tc) tcp_hold(tc, 0);
}

void ddrv_stack_poll(cb_worker *w, cb_client *caller) {
    ddrv_core *core = w->dpdk;
    if (!core) return;
    tcp_conn *tc = caller && caller->ops == &dpdk_ops ? caller->conn : NULL;
    if (tc) tcp_hold(tc, 1);
    core->hold++;
    w->nested_poll++;
    /* The thread's own arena: when parked, another thread may be working
     * in this shard's arena, whose cache is not thread-safe. */
    int prev = w->own_acct >= 0 ? mem_account_use(w->own_acct) : -1;
    ddrv_poll(w);
    ddrv_tx_flush(w);
    if (prev >= 0) mem_account_use(prev);
    w->nested_poll--;
    core->hold--;
    if (tc) tcp_hold(tc, 0);
}

void ddrv_tx_flush(cb_worker *w) {
    ddrv_core *core = w->dpdk;
    tcp_flush_acks(core->ns->tcp);
    unsigned dropped = dpdk_tx_flush(core->q);
    if (dropped) NS_ADD(core->ns->st.tx_dropped, dropped);
}

void ddrv_shutdown(cb_worker *w) {
    ddrv_core *core = w->dpdk;
    if (!core) return;
    while (core->stash) {
        stash_ev *e = core->stash;
        core->stash = e->next;
        if (e->kind == EV_ACCEPT) cb_free_conn(e->app);
        cb_free_conn(e);
    }
    net_destroy(core->ns);
    dpdk_tx_flush(core->q);
    w->dpdk = NULL;
    cb_free(core);
}

int ddrv_launch(cb_worker *w, int (*fn)(void *)) { return dpdk_launch(w->id, fn, w); }

void ddrv_join(cb_worker *w) { dpdk_wait(w->id); }

void ddrv_teardown(void) {
    /* Frames in flight between cores may sit in EAL-backed arenas: freed
     * before EAL unmaps that memory. */
    if (drv.steer) {
        for (int i = 0; i < drv.ncores * drv.ncores; i++) {
            if (!drv.steer[i]) continue;
            void *m;
            while ((m = ring_dequeue(drv.steer[i])) != NULL) cb_free(m);
            ring_free(drv.steer[i]);
        }
        cb_free(drv.steer);
        drv.steer = NULL;
    }
    dpdk_stop(); /* also after a failed set-up: EAL may be half up */
    drv.up = 0;
}

int ddrv_stats(net_stats *sum, dpdk_port_info *port, char *ipbuf, size_t iplen) {
    memset(sum, 0, sizeof(*sum));
    if (!drv.up) return 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        ddrv_core *core = w ? w->dpdk : NULL;
        if (!core) continue;
        const uint64_t *src = (const uint64_t *)&core->ns->st;
        uint64_t *dst = (uint64_t *)sum;
        for (size_t k = 0; k < sizeof(net_stats) / sizeof(uint64_t); k++)
            dst[k] += __atomic_load_n(&src[k], __ATOMIC_RELAXED);
    }
    dpdk_port_info_get(port);
    snprintf(ipbuf, iplen, "%u.%u.%u.%u/%d", drv.ip >> 24, (drv.ip >> 16) & 255,
             (drv.ip >> 8) & 255, drv.ip & 255, drv.prefix);
    return 1;
}

int ddrv_link_up(void) {
    if (!drv.up) return -1;
    dpdk_port_info pi;
    dpdk_port_info_get(&pi);
    return pi.link_up;
}
