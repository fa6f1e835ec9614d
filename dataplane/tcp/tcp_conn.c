/* tcp_conn.c — connection life cycle for one stack: the 4-tuple hash table
 * (O(1) lookup at any connection count), creation and freeing, state-change
 * bookkeeping (gauges), RFC 6528 initial sequence numbers, and the
 * application calls: tcp_send into the send ring, tcp_close (which frees an
 * active open still in its handshake). tcp_connect.c opens connections.
 */
#include "tcp.h"

#include <string.h>
#include "../net/netstack.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

#define HASH_BUCKETS (1u << 16)

tcp_stack *tcp_stack_create(struct netstack *ns) {
    tcp_stack *ts = cb_calloc(sizeof(*ts));
    ts->ns = ns;
    ts->hmask = HASH_BUCKETS - 1;
    ts->htab = cb_calloc(sizeof(tcp_conn *) * HASH_BUCKETS);
    util_random_bytes(ts->secret, sizeof(ts->secret));
    ts->backlog = 511;
    return ts;
}

void tcp_stack_destroy(tcp_stack *ts) {
    if (!ts) return;
    for (uint32_t i = 0; i <= ts->hmask; i++)
        while (ts->htab[i]) tcp_abort(ts->htab[i]);
    tcp_deferred_free(ts);
    cb_free(ts->htab);
    cb_free(ts);
}

void tcp_set_app(tcp_stack *ts, const tcp_app_ops *app, void *ctx) {
    ts->app = app;
    ts->app_ctx = ctx;
}

void tcp_listen(tcp_stack *ts, uint16_t port, uint32_t backlog) {
    ts->listen_port = port;
    ts->backlog = backlog ? backlog : 1;
}

static uint32_t bucket(tcp_stack *ts, uint32_t rip, uint16_t rport, uint32_t lip,
                       uint16_t lport) {
    uint8_t k[12];
    memcpy(k, &rip, 4);
    memcpy(k + 4, &lip, 4);
    memcpy(k + 8, &rport, 2);
    memcpy(k + 10, &lport, 2);
    return (uint32_t)util_hash(k, sizeof(k), ts->secret) & ts->hmask;
}

tcp_conn *tcp_lookup(tcp_stack *ts, uint32_t rip, uint16_t rport, uint32_t lip, uint16_t lport) {
    for (tcp_conn *c = ts->htab[bucket(ts, rip, rport, lip, lport)]; c; c = c->hnext)
        if (c->rip == rip && c->rport == rport && c->lport == lport && c->lip == lip) return c;
    return NULL;
}

tcp_conn *tcp_conn_new(tcp_stack *ts, uint32_t rip, uint16_t rport, uint32_t lip,
                       uint16_t lport) {
    tcp_conn *c = cb_try_malloc(sizeof(*c));
    if (!c) return NULL;
    memset(c, 0, sizeof(*c));
    c->ts = ts;
    c->rip = rip;
    c->rport = rport;
    c->lip = lip;
    c->lport = lport;
    c->rto_ms = TCP_RTO_INIT_MS;
    c->ssthresh = UINT32_MAX;
    c->reo_mult = 1;
    uint32_t b = bucket(ts, rip, rport, lip, lport);
    c->hnext = ts->htab[b];
    ts->htab[b] = c;
    ts->nconns++;
    return c;
}

void tcp_set_state(tcp_conn *tc, int state) {
    net_stats *st = &tc->ts->ns->st;
    int was = tc->state;
    if (was == state) return;
    if (was == TCP_SYN_RCVD) NS_ADD(st->tcp_syn_rcvd, (uint64_t)-1);
    if (was == TCP_TIME_WAIT) NS_ADD(st->tcp_time_wait, (uint64_t)-1);
    if (was >= TCP_ESTABLISHED && was != TCP_TIME_WAIT) NS_ADD(st->tcp_active, (uint64_t)-1);
    if (state == TCP_SYN_RCVD) NS_INC(st->tcp_syn_rcvd);
    if (state == TCP_TIME_WAIT) NS_INC(st->tcp_time_wait);
    if (state >= TCP_ESTABLISHED && state != TCP_TIME_WAIT) NS_INC(st->tcp_active);
    tc->state = (uint8_t)state;
}

void tcp_conn_free(tcp_conn *tc) {
    tcp_stack *ts = tc->ts;
    tcp_set_state(tc, TCP_CLOSED);
    tcp_timer_cancel(tc);
    if (tc->flags & TF_ACKLIST) {
        tcp_conn **pp = &ts->acklist;
        while (*pp && *pp != tc) pp = &(*pp)->anext;
        if (*pp) *pp = tc->anext;
    }
    tcp_conn **pp = &ts->htab[bucket(ts, tc->rip, tc->rport, tc->lip, tc->lport)];
    while (*pp && *pp != tc) pp = &(*pp)->hnext;
    if (*pp) *pp = tc->hnext;
    ts->nconns--;
    while (tc->ooo) {
        tcp_ooo *o = tc->ooo;
        tc->ooo = o->next;
        cb_free(o);
    }
    if (tc->sbo) net_zbuf_release(tc->sbo); /* frames in flight may keep it */
    cb_free(tc->segs);
    cb_free(tc);
}

void tcp_abort(tcp_conn *tc) {
    void *app = tc->app;
    tc->app = NULL;
    NS_INC(tc->ts->ns->st.tcp_aborts);
    if (app && tc->ts->app) tc->ts->app->closed(app, 1);
    tcp_conn_free(tc);
}

uint32_t tcp_isn(tcp_stack *ts, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport) {
    /* RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock. */
    uint8_t k[12];
    memcpy(k, &lip, 4);
    memcpy(k + 4, &rip, 4);
    memcpy(k + 8, &lport, 2);
    memcpy(k + 10, &rport, 2);
    uint8_t key[16];
    memcpy(key, ts->secret, 16);
    key[0] ^= 0x5a; /* not the hash-table key */
    return (uint32_t)(util_monotonic_us() / 4) + (uint32_t)util_hash(k, sizeof(k), key);
}

uint32_t tcp_send_space(const tcp_conn *tc) {
    /* Take twice what the peer lets us have in flight, as Linux's send
     * buffer follows the window: bytes a slow reader cannot take stay in
     * the client's output list, where omem, client-output-buffer-limit and
     * maxmemory-clients see them, not hidden in a 4 MiB ring. */
    uint64_t cap = 2ull * tc->snd_wnd;
    if (cap < TCP_SNDBUF_FLOOR) cap = TCP_SNDBUF_FLOOR;
    if (cap > TCP_SNDBUF_MAX) cap = TCP_SNDBUF_MAX;
    return tc->slen < cap ? (uint32_t)cap - tc->slen : 0;
}

/* Make the ring hold `need` bytes (power of two): a new one, unwrapped, if
 * it must grow or if `fresh` (frames in flight still read the old one, which
 * they keep alive until the driver lets go of it). */
static int sbuf_reserve(tcp_conn *tc, uint32_t need, int fresh) {
    if (need <= tc->scap && !fresh) return 0;
    uint32_t cap = tc->scap ? tc->scap : TCP_SBUF_MIN;
    while (cap < need) cap *= 2;
    net_zbuf *nb = net_zbuf_new(cap);
    if (!nb) return -1;
    if (tc->slen) {
        uint32_t first = tc->scap - tc->shead;
        if (first > tc->slen) first = tc->slen;
        memcpy(nb->data, tc->sbuf + tc->shead, first);
        memcpy(nb->data + first, tc->sbuf, tc->slen - first);
    }
    if (tc->sbo) net_zbuf_release(tc->sbo);
    tc->sbo = nb;
    tc->sbuf = nb->data;
    tc->scap = cap;
    tc->shead = 0;
    return 0;
}

void tcp_sbuf_trim(tcp_conn *tc) {
    /* A ring grown for one burst (a big reply, a deep pipeline's replies)
     * would otherwise stay with the connection for its whole life, counted
     * in used_memory; frames still in flight keep their own reference. */
    if (tc->slen || tc->scap <= TCP_SBUF_MIN) return;
    net_zbuf_release(tc->sbo);
    tc->sbo = NULL;
    tc->sbuf = NULL;
    tc->scap = tc->shead = 0;
}

size_t tcp_send(tcp_conn *tc, const struct iovec *iov, int n) {
    if (tc->flags & TF_APP_CLOSED) return 0;
    size_t total = 0;
    for (int i = 0; i < n; i++) total += iov[i].iov_len;
    uint32_t room = tcp_send_space(tc);
    if (total > room) total = room;
    if (total == 0) return 0;
    /* Writing up to sequence `end` reuses ring bytes of sequence end - scap
     * and below: not while a frame in flight may still read them. */
    uint32_t end = tc->snd_una + tc->slen + (uint32_t)total;
    int fresh = tc->sbo && tc->sbo->refs > 1 && end - tc->snic_lo > tc->scap;
    if (sbuf_reserve(tc, tc->slen + (uint32_t)total, fresh) < 0) return 0;
    size_t left = total;
    for (int i = 0; i < n && left; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t l = iov[i].iov_len < left ? iov[i].iov_len : left;
        left -= l;
        while (l) {
            uint32_t tail = (tc->shead + tc->slen) & (tc->scap - 1);
            uint32_t chunk = tc->scap - tail;
            if (chunk > l) chunk = (uint32_t)l;
            memcpy(tc->sbuf + tail, p, chunk);
            tc->slen += chunk;
            p += chunk;
            l -= chunk;
        }
    }
    tcp_output(tc, 0);
    return total;
}

void tcp_close(tcp_conn *tc) {
    if (!tc || (tc->flags & TF_APP_CLOSED)) return;
    if (tc->state == TCP_SYN_SENT || (tc->state == TCP_SYN_RCVD && (tc->flags & TF_ACTIVE))) {
        /* An active open given up before it completed: nothing to flush. */
        if (tc->state == TCP_SYN_RCVD)
            tcp_send_rst(tc->ts, tc->lip, tc->lport, tc->rip, tc->rport, tc->snd_nxt, 0, 0);
        tc->app = NULL;
        tcp_conn_free(tc);
        return;
    }
    tc->app = NULL;
    tc->flags |= TF_APP_CLOSED;
    tcp_output(tc, 0);
}

const char *tcp_state_name(int state) {
    static const char *const names[] = {"CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD",
                                        "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2",
                                        "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT"};
    return state >= 0 && state <= TCP_TIME_WAIT ? names[state] : "?";
}
