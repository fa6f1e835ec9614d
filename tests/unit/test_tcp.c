/* test_tcp.c — CUnit tests for our network stack (dataplane/net, dataplane/
 * tcp) without DPDK: a fake driver captures transmitted frames, the tests
 * craft Ethernet/IPv4/TCP frames with valid checksums and drive the state
 * machine through every state and the odd cases: handshake options, data in
 * and out, out-of-order and old duplicates, out-of-window data, RST with a
 * bad sequence (challenge ACK), SYN in ESTABLISHED, zero window and probes,
 * retransmission timeouts with backoff, both close orders and TIME_WAIT,
 * wrapped sequence numbers, closed ports, bad checksums, backlog, SYN
 * cookies, keepalive, ARP, ICMP; and loss recovery: SACK negotiation and
 * the blocks we send, the sender's scoreboard (only holes resent), D-SACK,
 * RACK's reordering window and the tail loss probe on a fake clock.
 */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/net/netstack.h"
#include "../../dataplane/tcp/tcp.h"

#define OUR_IP 0x0a000002u   /* 10.0.0.2 */
#define PEER_IP 0x0a000001u  /* 10.0.0.1 */
#define PORT 6379

static const uint8_t OUR_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};

/* ------------------------------------------------------------ fake driver */

#define MAXF 256
static uint8_t *frames[MAXF];
static size_t flens[MAXF];
static int nframes;

static uint8_t *f_alloc(void *ctx, size_t len, void **h) {
    (void)ctx;
    uint8_t *b = calloc(1, len < 64 ? 64 : len);
    *h = b;
    return b;
}
static void f_send(void *ctx, void *h, size_t len) {
    (void)ctx;
    if (nframes < MAXF) {
        frames[nframes] = h;
        flens[nframes++] = len;
    } else {
        free(h);
    }
}
static void f_free(void *ctx, void *h) {
    (void)ctx;
    free(h);
}
/* Payload by reference (ns->tx_zero_copy): the fake "NIC" keeps the pieces
 * attached to each frame it was given, with a copy of their bytes at send
 * time, until nic_done(): then the referenced memory must still hold those
 * bytes (ASan catches it if it was freed). drv[0] counts the pieces held
 * per buffer, as DPDK's shared info does. */
typedef struct zref {
    void *h;
    net_zbuf *b;
    const uint8_t *p;
    size_t len;
    uint8_t *copy;
} zref;
#define MAXZ 1024
static zref zpend[8], zheld[MAXZ];
static int nzpend, nzheld, zmismatch;

static void zref_drop(zref *z) {
    if (--z->b->drv[0] == 0) net_zbuf_release(z->b);
    free(z->copy);
}
static int f_attach(void *ctx, void *h, net_zbuf *b, const uint8_t *p, size_t len) {
    (void)ctx;
    if (nzpend == 8) return -1;
    zpend[nzpend++] = (zref){h, b, p, len, NULL};
    if (b->drv[0]++ == 0) net_zbuf_hold(b);
    return 0;
}
static void f_send(void *ctx, void *h, size_t len);
static void f_send_zc(void *ctx, void *h, size_t len) {
    size_t ext = 0;
    for (int i = 0; i < nzpend; i++) ext += zpend[i].h == h ? zpend[i].len : 0;
    if (!ext) {
        f_send(ctx, h, len);
        return;
    }
    /* The frame as the wire would see it, for parse(). */
    uint8_t *flat = malloc(len);
    memcpy(flat, h, len - ext);
    size_t at = len - ext;
    for (int i = 0; i < nzpend; i++) {
        zref *z = &zpend[i];
        if (z->h != h) continue;
        memcpy(flat + at, z->p, z->len);
        at += z->len;
        z->copy = malloc(z->len);
        memcpy(z->copy, z->p, z->len);
        if (nzheld < MAXZ) zheld[nzheld++] = *z;
        else zref_drop(z);
    }
    nzpend = 0;
    free(h);
    f_send(ctx, flat, len);
}
static void f_free_zc(void *ctx, void *h) {
    (void)ctx;
    for (int i = 0; i < nzpend; i++)
        if (zpend[i].h == h) zref_drop(&zpend[i]);
    nzpend = 0;
    free(h);
}
/* The NIC is done with every frame: check the bytes, let go. */
static void nic_done(void) {
    for (int i = 0; i < nzheld; i++) {
        if (memcmp(zheld[i].p, zheld[i].copy, zheld[i].len) != 0) zmismatch++;
        zref_drop(&zheld[i]);
    }
    nzheld = 0;
}

static const net_ops fops = {f_alloc, f_send, f_free, NULL};
static const net_ops fops_zc = {f_alloc, f_send_zc, f_free_zc, f_attach};

static void clear_frames(void) {
    for (int i = 0; i < nframes; i++) free(frames[i]);
    nframes = 0;
}

/* ------------------------------------------------------------ fake app */

static char rbuf[1 << 16];
static size_t rlen;
static int accepted, closed_fin, closed_rst;
static int app_token;
static tcp_conn *last_tc;
static int refuse_accept;
static void (*recv_hook)(tcp_conn *tc); /* runs inside a_recv once, then clears */

static int a_accepted(void *ctx, tcp_conn *tc) {
    (void)ctx;
    if (refuse_accept) return -1;
    accepted++;
    tc->app = &app_token;
    last_tc = tc;
    return 0;
}
static void a_recv(tcp_conn *tc, const uint8_t *p, size_t n) {
    (void)tc;
    if (rlen + n <= sizeof(rbuf)) memcpy(rbuf + rlen, p, n);
    rlen += n;
    if (recv_hook) {
        void (*h)(tcp_conn *) = recv_hook;
        recv_hook = NULL;
        h(tc);
    }
}
static void a_closed(void *app, int reset) {
    (void)app;
    if (reset) closed_rst++;
    else closed_fin++;
}
static void a_writable(tcp_conn *tc) { (void)tc; }
static const tcp_app_ops aops = {a_accepted, a_recv, a_closed, a_writable, NULL};

static netstack *ns;
static uint64_t now_us;

static void setup(void) {
    clear_frames();
    rlen = 0;
    accepted = closed_fin = closed_rst = refuse_accept = 0;
    last_tc = NULL;
    recv_hook = NULL;
    now_us = 1000000;
    ns = net_create(&fops, NULL, OUR_MAC, OUR_IP, 0xffffff00u, 0, 1500);
    net_set_clock(ns, now_us);
    tcp_set_app(ns->tcp, &aops, NULL);
    tcp_listen(ns->tcp, PORT, 16);
    /* Learn the peer's MAC as any on-link packet would. */
    arp_learn(ns, PEER_IP, PEER_MAC, 1);
}

static void teardown(void) {
    net_destroy(ns);
    ns = NULL;
    clear_frames();
}

static void advance_ms(uint64_t ms) {
    now_us += ms * 1000;
    net_set_clock(ns, now_us);
    tcp_timers_run(ns->tcp);
}

/* ------------------------------------------------------------ crafting */

#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define PSH 0x08
#define ACK 0x10

typedef struct opts {
    int mss, ws, ts;
    uint32_t tsval, tsecr;
    int sackok, nsack;
    uint32_t sack[8];
} opts;

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)(v >> 16)); wr16(p + 2, (uint16_t)v); }

static void inject_full(uint32_t src_ip, uint16_t sport, uint16_t dport, uint32_t seq,
                        uint32_t ack, uint8_t flags, uint16_t wnd, const opts *o,
                        const void *data, size_t dlen, int corrupt) {
    uint8_t f[2048];
    memset(f, 0, sizeof(f));
    memcpy(f, OUR_MAC, 6);
    memcpy(f + 6, PEER_MAC, 6);
    wr16(f + 12, 0x0800);
    uint8_t *t = f + 34;
    size_t ol = 0;
    uint8_t *op = t + 20;
    if (o && o->mss) { op[ol++] = 2; op[ol++] = 4; wr16(op + ol, (uint16_t)o->mss); ol += 2; }
    if (o && o->ws >= 0 && o->ws != 99) { op[ol++] = 1; op[ol++] = 3; op[ol++] = 3; op[ol++] = (uint8_t)o->ws; }
    if (o && o->ts) {
        op[ol++] = 1; op[ol++] = 1; op[ol++] = 8; op[ol++] = 10;
        wr32(op + ol, o->tsval); wr32(op + ol + 4, o->tsecr); ol += 8;
    }
    if (o && o->sackok) { op[ol++] = 1; op[ol++] = 1; op[ol++] = 4; op[ol++] = 2; }
    if (o && o->nsack) {
        op[ol++] = 1; op[ol++] = 1; op[ol++] = 5; op[ol++] = (uint8_t)(2 + 8 * o->nsack);
        for (int b = 0; b < 2 * o->nsack; b++, ol += 4) wr32(op + ol, o->sack[b]);
    }
    while (ol % 4) op[ol++] = 0;
    size_t tl = 20 + ol + dlen;
    if (dlen) memcpy(t + 20 + ol, data, dlen);
    wr16(t, sport);
    wr16(t + 2, dport);
    wr32(t + 4, seq);
    wr32(t + 8, ack);
    t[12] = (uint8_t)(((20 + ol) / 4) << 4);
    t[13] = flags;
    wr16(t + 14, wnd);
    uint32_t s = net_csum_pseudo(src_ip, OUR_IP, 6, (uint16_t)tl);
    wr16(t + 16, net_csum_fold(net_csum_add(s, t, tl)));
    if (corrupt) t[16] ^= 0x55;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    wr16(ip + 2, (uint16_t)(20 + tl));
    wr16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 6;
    wr32(ip + 12, src_ip);
    wr32(ip + 16, OUR_IP);
    wr16(ip + 10, net_csum_fold(net_csum_add(0, ip, 20)));
    net_input(ns, f, 34 + tl);
}

static void inject(uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
                   const opts *o, const char *data) {
    inject_full(PEER_IP, sport, PORT, seq, ack, flags, wnd, o, data, data ? strlen(data) : 0, 0);
}

typedef struct seg {
    uint8_t flags;
    uint32_t seq, ack;
    uint16_t wnd, sport, dport;
    int mss, ws, has_ts, sackok, nsack;
    uint32_t tsval, tsecr;
    uint32_t sack[8];
    size_t optlen;
    const uint8_t *data;
    size_t len;
} seg;

/* Parse captured frame i (must be IPv4/TCP with valid checksums). */
static seg parse(int i) {
    seg s;
    memset(&s, 0, sizeof(s));
    s.ws = -1;
    CU_ASSERT_FATAL(i >= 0 && i < nframes);
    const uint8_t *f = frames[i];
    CU_ASSERT_EQUAL(net_rd16(f + 12), 0x0800);
    CU_ASSERT(memcmp(f, PEER_MAC, 6) == 0);
    const uint8_t *ip = f + 14;
    CU_ASSERT_EQUAL(net_csum_fold(net_csum_add(0, ip, 20)), 0);
    size_t tot = net_rd16(ip + 2);
    const uint8_t *t = ip + 20;
    size_t tl = tot - 20;
    uint32_t sum = net_csum_pseudo(net_rd32(ip + 12), net_rd32(ip + 16), 6, (uint16_t)tl);
    CU_ASSERT_EQUAL(net_csum_fold(net_csum_add(sum, t, tl)), 0);
    s.sport = net_rd16(t);
    s.dport = net_rd16(t + 2);
    s.seq = net_rd32(t + 4);
    s.ack = net_rd32(t + 8);
    s.flags = t[13];
    s.wnd = net_rd16(t + 14);
    size_t doff = (size_t)(t[12] >> 4) * 4;
    for (size_t k = 20; k < doff;) {
        uint8_t kind = t[k];
        if (kind == 0) break;
        if (kind == 1) { k++; continue; }
        uint8_t l = t[k + 1];
        if (kind == 2) s.mss = net_rd16(t + k + 2);
        if (kind == 3) s.ws = t[k + 2];
        if (kind == 8) { s.has_ts = 1; s.tsval = net_rd32(t + k + 2); s.tsecr = net_rd32(t + k + 6); }
        if (kind == 4) s.sackok = 1;
        if (kind == 5) {
            s.nsack = (l - 2) / 8;
            for (int b = 0; b < 2 * s.nsack && b < 8; b++) s.sack[b] = net_rd32(t + k + 2 + 4 * b);
        }
        k += l;
    }
    s.optlen = doff - 20;
    s.data = t + doff;
    s.len = tl - doff;
    return s;
}

static seg last(void) { return parse(nframes - 1); }

/* Open a connection from sport with peer ISN irs; returns our ISS + 1. */
static uint32_t handshake(uint16_t sport, uint32_t irs, int with_opts) {
    opts o = {1460, 7, 1, 1000, 0, 0, 0, {0}};
    clear_frames();
    inject(sport, irs, 0, SYN, 65535, with_opts ? &o : NULL, NULL);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    seg sa = last();
    CU_ASSERT_EQUAL(sa.flags, SYN | ACK);
    CU_ASSERT_EQUAL(sa.ack, irs + 1);
    clear_frames();
    opts o2 = {0, -1, 1, 1001, sa.tsval, 0, 0, {0}};
    inject(sport, irs + 1, sa.seq + 1, ACK, 1024, with_opts ? &o2 : NULL, NULL);
    return sa.seq + 1;
}

static opts ts_opts(void) {
    opts o = {0, -1, 1, 2000, 0, 0, 0, {0}};
    return o;
}

/* ------------------------------------------------------------ tests */

static void test_handshake_options(void) {
    setup();
    opts o = {1460, 7, 1, 12345, 0, 0, 0, {0}};
    inject(40000, 100, 0, SYN, 65535, &o, NULL);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    seg s = last();
    CU_ASSERT_EQUAL(s.flags, SYN | ACK);
    CU_ASSERT_EQUAL(s.ack, 101);
    CU_ASSERT_EQUAL(s.mss, 1460);
    CU_ASSERT_EQUAL(s.ws, TCP_RCV_WSCALE);
    CU_ASSERT(s.has_ts);
    CU_ASSERT_EQUAL(s.tsecr, 12345);
    CU_ASSERT_EQUAL(ns->st.tcp_syn_rcvd, 1);
    /* A retransmitted SYN gets the same SYN-ACK again. */
    clear_frames();
    inject(40000, 100, 0, SYN, 65535, &o, NULL);
    CU_ASSERT_EQUAL(nframes, 1);
    CU_ASSERT_EQUAL(last().seq, s.seq);
    clear_frames();
    opts o2 = {0, -1, 1, 12346, s.tsval, 0, 0, {0}};
    inject(40000, 101, s.seq + 1, ACK, 512, &o2, NULL);
    CU_ASSERT_EQUAL(accepted, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(last_tc);
    CU_ASSERT_EQUAL(last_tc->state, TCP_ESTABLISHED);
    CU_ASSERT_EQUAL(last_tc->snd_wnd, 512u << 7);
    CU_ASSERT_EQUAL(last_tc->mss, 1460 - 12);
    CU_ASSERT_EQUAL(ns->st.tcp_active, 1);
    CU_ASSERT_EQUAL(ns->st.tcp_syn_rcvd, 0);
    teardown();
}

static void test_no_options_and_refused_accept(void) {
    setup();
    uint32_t iss = handshake(40001, 5000, 0);
    CU_ASSERT_EQUAL(accepted, 1);
    CU_ASSERT_EQUAL(last_tc->flags & (TF_TS | TF_WS), 0);
    CU_ASSERT_EQUAL(last_tc->mss, 536);
    CU_ASSERT_EQUAL(last_tc->snd_wnd, 1024);
    (void)iss;
    /* The application refuses: the connection is reset and forgotten. */
    refuse_accept = 1;
    clear_frames();
    inject(40002, 9, 0, SYN, 65535, NULL, NULL);
    seg sa = last();
    clear_frames();
    inject(40002, 10, sa.seq + 1, ACK, 1024, NULL, NULL);
    CU_ASSERT_EQUAL(nframes, 1);
    CU_ASSERT(last().flags & RST);
    CU_ASSERT_PTR_NULL(tcp_lookup(ns->tcp, PEER_IP, 40002, OUR_IP, PORT));
    teardown();
}

static void test_data_in_and_delayed_ack(void) {
    setup();
    uint32_t iss = handshake(40010, 1000, 1);
    opts o = ts_opts();
    inject(40010, 1001, iss, ACK | PSH, 1024, &o, "hello");
    CU_ASSERT_EQUAL(rlen, 5);
    CU_ASSERT(memcmp(rbuf, "hello", 5) == 0);
    /* The ACK waits for the end of the loop turn (a reply may carry it). */
    CU_ASSERT_EQUAL(nframes, 0);
    tcp_flush_acks(ns->tcp);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    seg a = last();
    CU_ASSERT_EQUAL(a.flags, ACK);
    CU_ASSERT_EQUAL(a.ack, 1006);
    CU_ASSERT(a.has_ts);
    CU_ASSERT_EQUAL(a.tsecr, 2000);
    /* A reply sent in the same turn piggybacks the ACK: no pure ACK. */
    clear_frames();
    inject(40010, 1006, iss, ACK | PSH, 1024, &o, "ping");
    struct iovec iov = {(void *)"+PONG\r\n", 7};
    CU_ASSERT_EQUAL(tcp_send(last_tc, &iov, 1), 7);
    tcp_flush_acks(ns->tcp);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    seg d = last();
    CU_ASSERT_EQUAL(d.len, 7);
    CU_ASSERT_EQUAL(d.ack, 1010);
    CU_ASSERT_EQUAL(d.seq, iss);
    CU_ASSERT(memcmp(d.data, "+PONG\r\n", 7) == 0);
    /* Its ACK releases the send buffer. */
    inject(40010, 1010, iss + 7, ACK, 1024, &o, NULL);
    CU_ASSERT_EQUAL(last_tc->slen, 0);
    CU_ASSERT_EQUAL(last_tc->snd_una, iss + 7);
    teardown();
}

static void test_out_of_order_and_duplicates(void) {
    setup();
    uint32_t iss = handshake(40020, 0, 1);
    opts o = ts_opts();
    clear_frames();
    inject(40020, 6, iss, ACK, 1024, &o, "world");     /* a hole at 1..5 */
    CU_ASSERT_EQUAL(rlen, 0);
    CU_ASSERT_EQUAL(ns->st.tcp_ooo_segs, 1);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    CU_ASSERT_EQUAL(last().ack, 1); /* duplicate ACK at once */
    inject(40020, 11, iss, ACK, 1024, &o, "!");
    inject(40020, 6, iss, ACK, 1024, &o, "world");     /* a duplicate in the queue */
    clear_frames();
    inject(40020, 1, iss, ACK, 1024, &o, "hello");     /* fills the hole */
    CU_ASSERT_EQUAL(rlen, 11);
    CU_ASSERT(memcmp(rbuf, "helloworld!", 11) == 0);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    CU_ASSERT_EQUAL(last().ack, 12);
    /* An old duplicate is acknowledged, not delivered again. */
    clear_frames();
    inject(40020, 1, iss, ACK, 1024, &o, "hello");
    CU_ASSERT_EQUAL(rlen, 11);
    CU_ASSERT_EQUAL(nframes, 1);
    CU_ASSERT_EQUAL(last().ack, 12);
    /* Partly old: only the new tail is delivered. */
    inject(40020, 9, iss, ACK, 1024, &o, "ld!abc");
    CU_ASSERT_EQUAL(rlen, 14);
    CU_ASSERT(memcmp(rbuf + 11, "abc", 3) == 0);
    /* Out of the window: ACK, nothing delivered. */
    clear_frames();
    inject(40020, 15 + TCP_RCV_WND + 10, iss, ACK, 1024, &o, "far");
    CU_ASSERT_EQUAL(rlen, 14);
    CU_ASSERT_EQUAL(nframes, 1);
    CU_ASSERT_EQUAL(last().ack, 15);
    teardown();
}

static void test_rst_and_syn_protections(void) {
    setup();
    uint32_t iss = handshake(40030, 500, 1);
    opts o = ts_opts();
    clear_frames();
    /* RST inside the window but not at rcv_nxt: challenge ACK only. */
    inject(40030, 600, iss, RST, 0, NULL, NULL);
    CU_ASSERT_EQUAL(closed_rst, 0);
    CU_ASSERT_EQUAL(ns->st.tcp_challenge_acks, 1);
    CU_ASSERT_EQUAL(nframes, 1);
    CU_ASSERT_EQUAL(last().ack, 501);
    /* RST outside the window: ignored silently. */
    clear_frames();
    inject(40030, 500 + TCP_RCV_WND + 5, iss, RST, 0, NULL, NULL);
    CU_ASSERT_EQUAL(nframes, 0);
    /* SYN in ESTABLISHED: challenge ACK, connection kept. */
    inject(40030, 501, 0, SYN, 1024, &o, NULL);
    CU_ASSERT_EQUAL(ns->st.tcp_challenge_acks, 2);
    CU_ASSERT_PTR_NOT_NULL(tcp_lookup(ns->tcp, PEER_IP, 40030, OUR_IP, PORT));
    /* ACK of data never sent: answered with an ACK, ignored. */
    clear_frames();
    inject(40030, 501, iss + 1000, ACK, 1024, &o, NULL);
    CU_ASSERT_EQUAL(nframes, 1);
    CU_ASSERT_EQUAL(last_tc->snd_una, iss);
    /* The exact RST resets it. */
    inject(40030, 501, iss, RST, 0, NULL, NULL);
    CU_ASSERT_EQUAL(closed_rst, 1);
    CU_ASSERT_PTR_NULL(tcp_lookup(ns->tcp, PEER_IP, 40030, OUR_IP, PORT));
    CU_ASSERT_EQUAL(ns->st.tcp_active, 0);
    teardown();
}

static void test_passive_close(void) {
    setup();
    uint32_t iss = handshake(40040, 7, 1);
    opts o = ts_opts();
    clear_frames();
    inject(40040, 8, iss, ACK | FIN, 1024, &o, NULL);
    CU_ASSERT_EQUAL(closed_fin, 1);
    tcp_conn *tc = tcp_lookup(ns->tcp, PEER_IP, 40040, OUR_IP, PORT);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tc);
    CU_ASSERT_EQUAL(tc->state, TCP_CLOSE_WAIT);
    /* The ACK of the FIN is owed to the end of the turn (our FIN may carry it). */
    CU_ASSERT_EQUAL(nframes, 0);
    tcp_flush_acks(ns->tcp);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    CU_ASSERT_EQUAL(last().ack, 9);
    /* The application answers and closes: data, then FIN. */
    struct iovec iov = {(void *)"bye", 3};
    tcp_send(tc, &iov, 1);
    tcp_close(tc);
    CU_ASSERT_EQUAL(tc->state, TCP_LAST_ACK);
    seg f = last();
    CU_ASSERT(f.flags & FIN);
    CU_ASSERT_EQUAL(f.seq + f.len, iss + 3);
    /* A duplicate FIN is acknowledged again. */
    clear_frames();
    inject(40040, 8, iss, ACK | FIN, 1024, &o, NULL);
    CU_ASSERT_EQUAL(nframes, 1);
    inject(40040, 9, iss + 4, ACK, 1024, &o, NULL);
    CU_ASSERT_PTR_NULL(tcp_lookup(ns->tcp, PEER_IP, 40040, OUR_IP, PORT));
    CU_ASSERT_EQUAL(ns->st.tcp_active, 0);
    teardown();
}

/* Inside the receive callback the application polls the stack again (a busy
 * script): the connection is held, its new segments wait, then replay. */
static uint32_t hold_iss;
static void poll_while_held(tcp_conn *tc) {
    opts o = ts_opts();
    /* The delivered bytes are counted before the callback. */
    CU_ASSERT_EQUAL(tc->rcv_nxt, 1005);
    tcp_hold(tc, 1);
    inject(40045, 1005, hold_iss, ACK | PSH, 1024, &o, "more");
    inject(40045, 1009, hold_iss, ACK | PSH, 1024, &o, "+end");
    /* A second connection is served meanwhile. */
    uint32_t iss2 = handshake(40046, 5000, 1);
    inject(40046, 5001, iss2, ACK | PSH, 1024, &o, "X");
    advance_ms(3000);
    tcp_flush_acks(ns->tcp);
    tcp_hold(tc, 0);
}

static void test_hold_while_in_callback(void) {
    setup();
    hold_iss = handshake(40045, 1000, 1);
    opts o = ts_opts();
    recv_hook = poll_while_held;
    inject(40045, 1001, hold_iss, ACK | PSH, 1024, &o, "eval");
    /* Only the first segment and the other connection's byte so far. */
    CU_ASSERT_EQUAL(rlen, 5);
    CU_ASSERT(memcmp(rbuf, "evalX", 5) == 0);
    CU_ASSERT_PTR_NOT_NULL(ns->tcp->deferred);
    tcp_run_deferred(ns->tcp);
    CU_ASSERT_PTR_NULL(ns->tcp->deferred);
    CU_ASSERT_EQUAL(rlen, 13);
    CU_ASSERT(memcmp(rbuf, "evalXmore+end", 13) == 0);
    /* Held segments left at teardown are freed (ASan checks). */
    tcp_conn *tc = tcp_lookup(ns->tcp, PEER_IP, 40045, OUR_IP, PORT);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tc);
    tcp_hold(tc, 1);
    inject(40045, 1013, hold_iss, ACK | PSH, 1024, &o, "late");
    CU_ASSERT_EQUAL(rlen, 13);
    teardown();
}

/* Inside the receive callback the application reads the same connection
 * by polling the stack (a Lua debugging session): tapped, its segments are
 * delivered there and then, but an exact RST (and what follows it) waits,
 * shown by TF_GONE, and frees it only once the tap is off. */
static uint32_t tap_iss;
static void poll_while_tapped(tcp_conn *tc) {
    opts o = ts_opts();
    tcp_tap(tc, 1);
    inject(40047, 2005, tap_iss, ACK | PSH, 1024, &o, "step");
    CU_ASSERT_EQUAL(rlen, 8);
    CU_ASSERT(memcmp(rbuf, "evalstep", 8) == 0);
    /* In the window but not exact: a challenge ACK, nothing more. */
    inject(40047, 2050, tap_iss, RST, 1024, NULL, NULL);
    CU_ASSERT_FALSE(tc->flags & TF_GONE);
    inject(40047, 2009, tap_iss, RST, 1024, NULL, NULL);
    CU_ASSERT(tc->flags & TF_GONE);
    CU_ASSERT_EQUAL(closed_rst, 0);
    CU_ASSERT_PTR_EQUAL(tcp_lookup(ns->tcp, PEER_IP, 40047, OUR_IP, PORT), tc);
    inject(40047, 2009, tap_iss, ACK | PSH, 1024, &o, "late");
    CU_ASSERT_EQUAL(rlen, 8);
    tcp_tap(tc, 0);
    CU_ASSERT_FALSE(tc->flags & (TF_TAP | TF_GONE));
}

/* The callback's own segment carried a FIN; its retransmission, taken
 * inside the callback, counts it once. */
static void fin_while_tapped(tcp_conn *tc) {
    opts o = ts_opts();
    tcp_tap(tc, 1);
    inject_full(PEER_IP, 40048, PORT, 3001, tap_iss, ACK | PSH | FIN, 1024, &o, "eval", 4, 0);
    CU_ASSERT_EQUAL(closed_fin, 1);
    CU_ASSERT_EQUAL(tc->state, TCP_CLOSE_WAIT);
    tcp_tap(tc, 0);
}

static void test_tap_while_in_callback(void) {
    setup();
    tap_iss = handshake(40047, 2000, 1);
    opts o = ts_opts();
    recv_hook = poll_while_tapped;
    inject(40047, 2001, tap_iss, ACK | PSH, 1024, &o, "eval");
    CU_ASSERT_EQUAL(closed_rst, 0);
    tcp_run_deferred(ns->tcp);
    CU_ASSERT_EQUAL(closed_rst, 1);
    CU_ASSERT_EQUAL(rlen, 8);
    CU_ASSERT_PTR_NULL(tcp_lookup(ns->tcp, PEER_IP, 40047, OUR_IP, PORT));

    tap_iss = handshake(40048, 3000, 1);
    tcp_conn *tc = last_tc;
    recv_hook = fin_while_tapped;
    inject_full(PEER_IP, 40048, PORT, 3001, tap_iss, ACK | PSH | FIN, 1024, &o, "eval", 4, 0);
    CU_ASSERT_EQUAL(closed_fin, 1);
    CU_ASSERT_EQUAL(tc->rcv_nxt, 3006);
    CU_ASSERT_EQUAL(tc->state, TCP_CLOSE_WAIT);

    /* A retransmission give-up while tapped: TF_GONE, freed after. */
    tap_iss = handshake(40049, 4000, 1);
    tc = last_tc;
    tcp_tap(tc, 1);
    struct iovec iov = {(void *)"0123456789", 10};
    tcp_send(tc, &iov, 1);
    for (int i = 0; i < 40 && !(tc->flags & TF_GONE); i++) advance_ms(TCP_RTO_MAX_MS);
    CU_ASSERT(tc->flags & TF_GONE);
    CU_ASSERT_EQUAL(closed_rst, 1);
    advance_ms(TCP_RTO_MAX_MS);
    CU_ASSERT_PTR_EQUAL(tcp_lookup(ns->tcp, PEER_IP, 40049, OUR_IP, PORT), tc);
    tcp_tap(tc, 0);
    advance_ms(20);
    CU_ASSERT_EQUAL(closed_rst, 2);
    CU_ASSERT_PTR_NULL(tcp_lookup(ns->tcp, PEER_IP, 40049, OUR_IP, PORT));
    teardown();
}

static void test_active_close_time_wait(void) {
    setup();
    uint32_t iss = handshake(40050, 70, 1);
    opts o = ts_opts();
    tcp_conn *tc = last_tc;
    clear_frames();
    tcp_close(tc);
    CU_ASSERT_EQUAL(tc->state, TCP_FIN_WAIT_1);
    CU_ASSERT(last().flags & FIN);
    inject(40050, 71, iss + 1, ACK, 1024, &o, NULL);
    CU_ASSERT_EQUAL(tc->state, TCP_FIN_WAIT_2);
    inject(40050, 71, iss + 1, ACK | FIN, 1024, &o, NULL);
    CU_ASSERT_EQUAL(tc->state, TCP_TIME_WAIT);
    CU_ASSERT_EQUAL(ns->st.tcp_time_wait, 1);
    advance_ms(TCP_TIME_WAIT_MS - 100);
    CU_ASSERT_PTR_NOT_NULL(tcp_lookup(ns->tcp, PEER_IP, 40050, OUR_IP, PORT));
    advance_ms(200);
    CU_ASSERT_PTR_NULL(tcp_lookup(ns->tcp, PEER_IP, 40050, OUR_IP, PORT));
    CU_ASSERT_EQUAL(ns->st.tcp_time_wait, 0);
    teardown();
}

static void test_simultaneous_close_and_data_after_close(void) {
    setup();
    uint32_t iss = handshake(40055, 70, 1);
    opts o = ts_opts();
    tcp_conn *tc = last_tc;
    tcp_close(tc);                                          /* our FIN: iss */
    inject(40055, 71, iss, ACK | FIN, 1024, &o, NULL);      /* theirs, ours not acked */
    CU_ASSERT_EQUAL(tc->state, TCP_CLOSING);
    inject(40055, 72, iss + 1, ACK, 1024, &o, NULL);
    CU_ASSERT_EQUAL(tc->state, TCP_TIME_WAIT);
    /* New data for an application that closed: RST, as Linux does. */
    iss = handshake(40056, 900, 1);
    tcp_close(last_tc);
    clear_frames();
    inject(40056, 901, iss + 1, ACK, 1024, &o, "late");
    CU_ASSERT(last().flags & RST);
    CU_ASSERT_PTR_NULL(tcp_lookup(ns->tcp, PEER_IP, 40056, OUR_IP, PORT));
    teardown();
}

static void test_retransmission_backoff(void) {
    setup();
    uint32_t iss = handshake(40060, 10, 1);
    opts o = ts_opts();
    tcp_conn *tc = last_tc;
    tcp_rto_update(tc, 1000); /* 1 ms RTT: the RTO sits on its floor */
    CU_ASSERT_EQUAL(tc->rto_ms, TCP_RTO_MIN_MS);
    clear_frames();
    struct iovec iov = {(void *)"0123456789", 10};
    tcp_send(tc, &iov, 1);
    CU_ASSERT_EQUAL(nframes, 1);
    /* The tail loss probe first (PTO: 2*SRTT, at least 10 ms): the segment
     * again; then the RTO, counted from the probe. */
    advance_ms(TCP_TLP_MIN_MS - 2);
    CU_ASSERT_EQUAL(nframes, 1);
    advance_ms(4);
    CU_ASSERT_EQUAL_FATAL(nframes, 2);
    CU_ASSERT_EQUAL(ns->st.tcp_tlp_probes, 1);
    CU_ASSERT_EQUAL(last().seq, iss);
    advance_ms(TCP_RTO_MIN_MS - 10);
    CU_ASSERT_EQUAL(nframes, 2);
    advance_ms(20);
    CU_ASSERT_EQUAL_FATAL(nframes, 3);
    seg r = last();
    CU_ASSERT_EQUAL(r.seq, iss);
    CU_ASSERT_EQUAL(r.len, 10);
    CU_ASSERT_EQUAL(ns->st.tcp_retransmits, 2);
    CU_ASSERT_EQUAL(ns->st.tcp_rto_fired, 1);
    CU_ASSERT_EQUAL(tc->cwnd, tc->mss);
    /* Backed off: the next one comes after twice the RTO. */
    advance_ms(2 * TCP_RTO_MIN_MS - 20);
    CU_ASSERT_EQUAL(nframes, 3);
    advance_ms(40);
    CU_ASSERT_EQUAL(nframes, 4);
    inject(40060, 11, iss + 10, ACK, 1024, &o, NULL);
    CU_ASSERT_EQUAL(tc->slen, 0);
    CU_ASSERT_EQUAL(tc->backoff, 0);
    CU_ASSERT_EQUAL(tc->timer_due_ms, 0);
    /* Unanswered for good: the connection is aborted, the app told. */
    tcp_send(tc, &iov, 1);
    for (int i = 0; i < 40 && closed_rst == 0; i++) advance_ms(TCP_RTO_MAX_MS);
    CU_ASSERT_EQUAL(closed_rst, 1);
    CU_ASSERT_PTR_NULL(tcp_lookup(ns->tcp, PEER_IP, 40060, OUR_IP, PORT));
    teardown();
}

static void test_fast_retransmit(void) {
    setup();
    uint32_t iss = handshake(40065, 10, 1);
    opts o = ts_opts();
    tcp_conn *tc = last_tc;
    static char big[8000];
    memset(big, 'x', sizeof(big));
    struct iovec iov = {big, sizeof(big)};
    clear_frames();
    tcp_send(tc, &iov, 1);
    CU_ASSERT(nframes >= 5);
    /* First segment lost: three duplicate ACKs bring it back at once. */
    for (int i = 0; i < 3; i++) inject(40065, 11, iss, ACK, 1024, &o, NULL);
    CU_ASSERT_EQUAL(ns->st.tcp_fast_retransmits, 1);
    seg r = last();
    CU_ASSERT_EQUAL(r.seq, iss);
    CU_ASSERT_EQUAL(r.len, tc->mss);
    teardown();
}

static void test_zero_window_probe(void) {
    setup();
    uint32_t iss = handshake(40070, 10, 1);
    opts o = ts_opts();
    tcp_conn *tc = last_tc;
    inject(40070, 11, iss, ACK, 0, &o, NULL); /* window closes */
    CU_ASSERT_EQUAL(tc->snd_wnd, 0);
    clear_frames();
    struct iovec iov = {(void *)"abc", 3};
    CU_ASSERT_EQUAL(tcp_send(tc, &iov, 1), 3);
    CU_ASSERT_EQUAL(nframes, 0);
    advance_ms(tc->rto_ms + 10);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    seg p = last();
    CU_ASSERT_EQUAL(p.len, 1);
    CU_ASSERT_EQUAL(p.seq, iss);
    /* The window opens: everything goes. */
    clear_frames();
    inject(40070, 11, iss, ACK, 100, &o, NULL);
    CU_ASSERT(nframes >= 1);
    CU_ASSERT_EQUAL(tc->snd_nxt, iss + 3);
    teardown();
}

static void test_wrapped_sequence_numbers(void) {
    setup();
    uint32_t irs = 0xfffffff0u;
    uint32_t iss = handshake(40080, irs, 1);
    opts o = ts_opts();
    inject(40080, irs + 1, iss, ACK, 1024, &o, "0123456789abcdef"); /* crosses 2^32 */
    inject(40080, irs + 17, iss, ACK, 1024, &o, "XYZ");
    CU_ASSERT_EQUAL(rlen, 19);
    CU_ASSERT(memcmp(rbuf, "0123456789abcdefXYZ", 19) == 0);
    CU_ASSERT_EQUAL(last_tc->rcv_nxt, irs + 20);
    CU_ASSERT(last_tc->rcv_nxt < 16);
    /* Our own sequence space wrapping: a connection whose ISS is near 2^32. */
    tcp_conn *tc = last_tc;
    tc->snd_una = tc->snd_nxt = tc->snd_max = 0xfffffffcu;
    struct iovec iov = {(void *)"12345678", 8};
    clear_frames();
    tcp_send(tc, &iov, 1);
    CU_ASSERT_EQUAL(last().seq, 0xfffffffcu);
    inject(40080, irs + 20, 4, ACK, 1024, &o, NULL);
    CU_ASSERT_EQUAL(tc->slen, 0);
    CU_ASSERT_EQUAL(tc->snd_una, 4);
    teardown();
}

static void test_closed_port_checksum_backlog(void) {
    setup();
    /* SYN to a closed port: RST|ACK acknowledging it. */
    inject_full(PEER_IP, 5555, 80, 42, 0, SYN, 1024, NULL, NULL, 0, 0);
    seg r = last();
    CU_ASSERT_EQUAL(r.flags, RST | ACK);
    CU_ASSERT_EQUAL(r.ack, 43);
    /* A stray ACK to the listening port: RST with its ack as sequence. */
    clear_frames();
    inject(5556, 1, 777, ACK, 1024, NULL, NULL);
    r = last();
    CU_ASSERT_EQUAL(r.flags, RST);
    CU_ASSERT_EQUAL(r.seq, 777);
    /* A RST to nothing: silence. */
    clear_frames();
    inject(5557, 1, 0, RST, 0, NULL, NULL);
    CU_ASSERT_EQUAL(nframes, 0);
    /* Bad TCP checksum: counted and dropped. */
    inject_full(PEER_IP, 5558, PORT, 1, 0, SYN, 1024, NULL, NULL, 0, 1);
    CU_ASSERT_EQUAL(nframes, 0);
    CU_ASSERT_EQUAL(ns->st.rx_csum_errors, 1);
    /* Backlog: SYN_RCVD connections beyond it are dropped. */
    tcp_listen(ns->tcp, PORT, 2);
    for (int i = 0; i < 4; i++) inject((uint16_t)(6000 + i), 1, 0, SYN, 1024, NULL, NULL);
    CU_ASSERT_EQUAL(ns->st.tcp_syn_rcvd, 2);
    CU_ASSERT_EQUAL(ns->st.tcp_syncookies_sent, 2); /* beyond it: cookies */
    CU_ASSERT_EQUAL(ns->tcp->nconns, 2);
    /* SYN_RCVD expires after its SYN-ACK retries. */
    for (int i = 0; i < 80; i++) advance_ms(1000);
    CU_ASSERT_EQUAL(ns->st.tcp_syn_rcvd, 0);
    CU_ASSERT_EQUAL(ns->tcp->nconns, 0);
    teardown();
}

static void test_syn_cookies(void) {
    setup();
    tcp_listen(ns->tcp, PORT, 1);
    opts o = {1460, 7, 1, 5000, 0, 1, 0, {0}};
    inject(7000, 100, 0, SYN, 65535, &o, NULL);             /* fills the queue */
    CU_ASSERT_EQUAL(ns->st.tcp_syn_rcvd, 1);
    clear_frames();
    inject(7001, 200, 0, SYN, 65535, &o, NULL);             /* answered by a cookie */
    CU_ASSERT_EQUAL(ns->st.tcp_syncookies_sent, 1);
    CU_ASSERT_EQUAL(ns->tcp->nconns, 1);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    seg c = last();
    CU_ASSERT_EQUAL(c.flags, SYN | ACK);
    CU_ASSERT_EQUAL(c.ack, 201);
    CU_ASSERT_EQUAL(c.ws, TCP_RCV_WSCALE);
    CU_ASSERT(c.has_ts);
    CU_ASSERT(c.sackok); /* the cookie remembers SACK-permitted (bit 7) */
    /* The ACK returns the cookie, with data: the connection is made. */
    opts a = {0, -1, 1, 5001, c.tsval, 0, 0, {0}};
    inject(7001, 201, c.seq + 1, ACK | PSH, 100, &a, "abc");
    CU_ASSERT_EQUAL(ns->st.tcp_syncookies_ok, 1);
    CU_ASSERT_EQUAL(accepted, 1);
    CU_ASSERT_EQUAL(rlen, 3);
    tcp_conn *tc = tcp_lookup(ns->tcp, PEER_IP, 7001, OUR_IP, PORT);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tc);
    CU_ASSERT_EQUAL(tc->state, TCP_ESTABLISHED);
    CU_ASSERT_EQUAL(tc->flags & (TF_TS | TF_WS | TF_SACK), TF_TS | TF_WS | TF_SACK);
    CU_ASSERT_EQUAL(tc->snd_wscale, 7);
    CU_ASSERT_EQUAL(tc->snd_wnd, 100u << 7);
    CU_ASSERT_EQUAL(tc->mss, 1460 - 12);
    CU_ASSERT_EQUAL(tc->rcv_nxt, 204);
    /* A forged cookie: RST, counted. */
    clear_frames();
    inject(7002, 300, 0, SYN, 65535, &o, NULL);
    seg c2 = last();
    clear_frames();
    inject(7002, 301, c2.seq + 2, ACK, 100, &a, NULL);
    CU_ASSERT_EQUAL(ns->st.tcp_syncookies_failed, 1);
    CU_ASSERT(last().flags & RST);
    CU_ASSERT_PTR_NULL(tcp_lookup(ns->tcp, PEER_IP, 7002, OUR_IP, PORT));
    /* No options in the SYN: MSS 536, no scaling, no timestamps. */
    clear_frames();
    inject(7003, 400, 0, SYN, 65535, NULL, NULL);
    seg c3 = last();
    CU_ASSERT_EQUAL(c3.ws, -1);
    CU_ASSERT(!c3.sackok);
    inject(7003, 401, c3.seq + 1, ACK, 1000, NULL, NULL);
    tc = tcp_lookup(ns->tcp, PEER_IP, 7003, OUR_IP, PORT);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tc);
    CU_ASSERT_EQUAL(tc->mss, 536);
    CU_ASSERT_EQUAL(tc->flags & (TF_TS | TF_WS | TF_SACK), 0);
    CU_ASSERT_EQUAL(tc->snd_wnd, 1000);
    /* An old cookie (two time slots later) is refused. */
    inject(7004, 500, 0, SYN, 65535, NULL, NULL);
    seg c4 = last();
    advance_ms(2 * 65536 + 10);
    clear_frames();
    inject(7004, 501, c4.seq + 1, ACK, 1000, NULL, NULL);
    CU_ASSERT(last().flags & RST);
    CU_ASSERT_PTR_NULL(tcp_lookup(ns->tcp, PEER_IP, 7004, OUR_IP, PORT));
    teardown();
}

static void test_keepalive(void) {
    setup();
    ns->tcp->keepalive_ms = 3000;
    uint32_t iss = handshake(40090, 10, 1);
    opts o = ts_opts();
    tcp_conn *tc = last_tc;
    inject(40090, 11, iss, ACK | PSH, 1024, &o, "x"); /* arms the keepalive */
    clear_frames();
    advance_ms(2900);
    CU_ASSERT_EQUAL(nframes, 0);
    advance_ms(200);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    seg p = last();
    CU_ASSERT_EQUAL(p.seq, iss - 1); /* an old sequence number, no data */
    CU_ASSERT_EQUAL(p.len, 0);
    CU_ASSERT_EQUAL(ns->st.tcp_keepalive_probes, 1);
    /* The peer answers: idle again, no abort. */
    inject(40090, 12, iss, ACK, 1024, &o, NULL);
    CU_ASSERT_EQUAL(tc->ka_probes, 0);
    /* Data sent meanwhile gets its retransmission timer, not the keepalive's. */
    struct iovec iov = {(void *)"r", 1};
    tcp_send(tc, &iov, 1);
    CU_ASSERT_EQUAL(tc->flags & TF_KATIMER, 0);
    CU_ASSERT(tc->timer_due_ms <= ns->now_ms + tc->rto_ms);
    inject(40090, 12, iss + 1, ACK, 1024, &o, NULL);
    CU_ASSERT(tc->flags & TF_KATIMER);
    /* A silent peer: three probes a second apart, then the connection goes. */
    for (int i = 0; i < 8 && !closed_rst; i++) advance_ms(1000);
    CU_ASSERT_EQUAL(closed_rst, 1);
    CU_ASSERT_EQUAL(ns->st.tcp_keepalive_probes, 4);
    CU_ASSERT_PTR_NULL(tcp_lookup(ns->tcp, PEER_IP, 40090, OUR_IP, PORT));
    teardown();
}

static void test_arp_icmp_filtering(void) {
    setup();
    /* ARP request for our address: a reply to the asker. */
    uint8_t f[64];
    memset(f, 0, sizeof(f));
    memset(f, 0xff, 6);
    memcpy(f + 6, PEER_MAC, 6);
    wr16(f + 12, 0x0806);
    uint8_t *a = f + 14;
    wr16(a, 1); wr16(a + 2, 0x0800); a[4] = 6; a[5] = 4; wr16(a + 6, 1);
    memcpy(a + 8, PEER_MAC, 6);
    wr32(a + 14, PEER_IP);
    wr32(a + 24, OUR_IP);
    net_input(ns, f, 60);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    CU_ASSERT_EQUAL(net_rd16(frames[0] + 12), 0x0806);
    CU_ASSERT_EQUAL(net_rd16(frames[0] + 14 + 6), 2);
    CU_ASSERT(memcmp(frames[0] + 14 + 8, OUR_MAC, 6) == 0);
    /* A frame for another MAC is filtered. */
    clear_frames();
    f[0] = 0x02; f[5] = 0x77;
    net_input(ns, f, 60);
    CU_ASSERT_EQUAL(nframes, 0);
    CU_ASSERT_EQUAL(ns->st.rx_filtered, 1);
    /* ICMP echo: a reply with the same payload and a valid checksum. */
    uint8_t p[128];
    memset(p, 0, sizeof(p));
    memcpy(p, OUR_MAC, 6);
    memcpy(p + 6, PEER_MAC, 6);
    wr16(p + 12, 0x0800);
    uint8_t *ip = p + 14;
    ip[0] = 0x45; wr16(ip + 2, 20 + 16); ip[8] = 64; ip[9] = 1;
    wr32(ip + 12, PEER_IP); wr32(ip + 16, OUR_IP);
    wr16(ip + 10, net_csum_fold(net_csum_add(0, ip, 20)));
    uint8_t *ic = ip + 20;
    ic[0] = 8; wr16(ic + 4, 0x1234); wr16(ic + 6, 1); memcpy(ic + 8, "pingdata", 8);
    wr16(ic + 2, net_csum_fold(net_csum_add(0, ic, 16)));
    net_input(ns, p, 14 + 36);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    const uint8_t *r = frames[0] + 34;
    CU_ASSERT_EQUAL(r[0], 0);
    CU_ASSERT(memcmp(r + 8, "pingdata", 8) == 0);
    CU_ASSERT_EQUAL(net_csum_fold(net_csum_add(0, r, 16)), 0);
    /* A fragment is counted and dropped. */
    clear_frames();
    wr16(ip + 6, 0x2000); wr16(ip + 10, 0);
    wr16(ip + 10, net_csum_fold(net_csum_add(0, ip, 20)));
    net_input(ns, p, 14 + 36);
    CU_ASSERT_EQUAL(nframes, 0);
    CU_ASSERT_EQUAL(ns->st.rx_frag_dropped, 1);
    teardown();
}

static void test_checksum_odd_lengths(void) {
    /* The 8-byte fast path agrees with a plain RFC 1071 sum at every length. */
    uint8_t b[67];
    for (int i = 0; i < 67; i++) b[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof(b); n++) {
        uint32_t ref = 0;
        for (size_t i = 0; i + 1 < n; i += 2) ref += (uint32_t)(b[i] << 8 | b[i + 1]);
        if (n & 1) ref += (uint32_t)b[n - 1] << 8;
        CU_ASSERT_EQUAL(net_csum_fold(net_csum_add(0, b, n)), net_csum_fold(ref));
    }
}


/* ------------------------------------------------------------ loss recovery */

/* Open a connection whose SYN permits SACK (with timestamps); returns our
 * ISS + 1. The handshake's ACK echoes tsecr so the clock is known. */
static uint32_t handshake_sack(uint16_t sport, uint32_t irs) {
    opts o = {1460, 7, 1, 1000, 0, 1, 0, {0}};
    clear_frames();
    inject(sport, irs, 0, SYN, 65535, &o, NULL);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    seg sa = last();
    CU_ASSERT(sa.sackok);
    clear_frames();
    opts o2 = {0, -1, 1, 1001, sa.tsval, 0, 0, {0}};
    inject(sport, irs + 1, sa.seq + 1, ACK, 1024, &o2, NULL);
    CU_ASSERT_FATAL(last_tc != NULL && (last_tc->flags & TF_SACK));
    return sa.seq + 1;
}

/* An ACK from the peer with SACK blocks (pairs) and a timestamp echo. */
static void sack_ack(uint16_t sport, uint32_t seq, uint32_t ack, uint32_t tsecr, int n,
                     const uint32_t *blk) {
    opts o = {0, -1, 1, 3000, tsecr, 0, n, {0}};
    if (n) memcpy(o.sack, blk, sizeof(uint32_t) * 2 * (size_t)n);
    inject(sport, seq, ack, ACK, 1024, &o, NULL);
}

static void test_sack_negotiation_and_blocks(void) {
    setup();
    /* Without SACK-permitted in the SYN: none in the SYN-ACK. */
    opts plain = {1460, 7, 1, 1, 0, 0, 0, {0}};
    inject(41000, 5, 0, SYN, 65535, &plain, NULL);
    seg s0 = last();
    CU_ASSERT(!s0.sackok);
    CU_ASSERT(s0.has_ts);
    CU_ASSERT(s0.optlen <= 20);
    /* With it: MSS, window scale, SACK-permitted and timestamps in 20 bytes. */
    handshake_sack(41001, 0);
    tcp_conn *tc = last_tc;
    opts o = ts_opts();
    clear_frames();
    inject(41001, 6, tc->snd_nxt, ACK, 1024, &o, "world");     /* hole at 1..5 */
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    seg a = last();
    CU_ASSERT_EQUAL(a.ack, 1);
    CU_ASSERT_EQUAL(a.nsack, 1);
    CU_ASSERT_EQUAL(a.sack[0], 6);
    CU_ASSERT_EQUAL(a.sack[1], 11);
    CU_ASSERT(a.has_ts);
    /* A second island: reported first, the older one after it. */
    clear_frames();
    inject(41001, 21, tc->snd_nxt, ACK, 1024, &o, "xyz");
    a = last();
    CU_ASSERT_EQUAL_FATAL(a.nsack, 2);
    CU_ASSERT_EQUAL(a.sack[0], 21);
    CU_ASSERT_EQUAL(a.sack[1], 24);
    CU_ASSERT_EQUAL(a.sack[2], 6);
    CU_ASSERT_EQUAL(a.sack[3], 11);
    /* Filling between them joins them into one block. */
    clear_frames();
    inject(41001, 11, tc->snd_nxt, ACK, 1024, &o, "0123456789");
    a = last();
    CU_ASSERT_EQUAL_FATAL(a.nsack, 1);
    CU_ASSERT_EQUAL(a.sack[0], 6);
    CU_ASSERT_EQUAL(a.sack[1], 24);
    /* More islands than fit: with timestamps, three blocks (40 option
     * bytes), the newest first. */
    inject(41001, 30, tc->snd_nxt, ACK, 1024, &o, "a");
    inject(41001, 40, tc->snd_nxt, ACK, 1024, &o, "b");
    clear_frames();
    inject(41001, 50, tc->snd_nxt, ACK, 1024, &o, "c");
    a = last();
    CU_ASSERT_EQUAL_FATAL(a.nsack, 3);
    CU_ASSERT_EQUAL(a.optlen, 40);
    CU_ASSERT_EQUAL(a.sack[0], 50);
    CU_ASSERT_EQUAL(a.sack[2], 40);
    CU_ASSERT_EQUAL(a.sack[4], 30);
    /* A reply sent meanwhile carries the blocks too. */
    clear_frames();
    struct iovec iov = {(void *)"+OK\r\n", 5};
    tcp_send(tc, &iov, 1);
    a = last();
    CU_ASSERT_EQUAL(a.len, 5);
    CU_ASSERT_EQUAL(a.nsack, 3);
    /* The first hole fills: 1..23 delivered, the islands beyond it are
     * still reported. */
    clear_frames();
    inject(41001, 1, tc->snd_nxt, ACK, 1024, &o, "hello");
    CU_ASSERT_EQUAL(rlen, 23);
    a = last();
    CU_ASSERT_EQUAL(a.ack, 24);
    CU_ASSERT_EQUAL(a.nsack, 3);
    CU_ASSERT_EQUAL(a.sack[0], 50);
    teardown();
}

/* Sends n full segments; returns the tsval they carry. */
static uint32_t send_segments(tcp_conn *tc, int n) {
    static char big[16 * 1500];
    memset(big, 'q', sizeof(big));
    struct iovec iov = {big, (size_t)n * tc->mss};
    clear_frames();
    CU_ASSERT_EQUAL(tcp_send(tc, &iov, 1), (size_t)n * tc->mss);
    CU_ASSERT_EQUAL_FATAL(nframes, n);
    return last().tsval;
}

static void test_sack_scoreboard_resends_holes(void) {
    setup();
    uint32_t iss = handshake_sack(41010, 10);
    tcp_conn *tc = last_tc;
    uint32_t m = tc->mss;
    uint32_t tsv = send_segments(tc, 6);
    advance_ms(2);
    /* Segments 1 and 3 lost: the peer SACKs 2 and 4..6. RACK marks both
     * holes lost (a later segment was delivered, RACK.rtt has passed and
     * with this much SACKed the window is 0) and only they are resent. */
    clear_frames();
    uint32_t blk[4] = {iss + m, iss + 2 * m, iss + 3 * m, iss + 6 * m};
    sack_ack(41010, 11, iss, tsv, 2, blk);
    CU_ASSERT_EQUAL_FATAL(nframes, 2);
    CU_ASSERT_EQUAL(parse(0).seq, iss);
    CU_ASSERT_EQUAL(parse(0).len, m);
    CU_ASSERT_EQUAL(parse(1).seq, iss + 2 * m);
    CU_ASSERT_EQUAL(ns->st.tcp_sack_retransmits, 2);
    CU_ASSERT_EQUAL(ns->st.tcp_rack_retransmits, 2);
    CU_ASSERT_EQUAL(ns->st.tcp_fast_retransmits, 1); /* one recovery episode */
    CU_ASSERT_EQUAL(tc->sacked_bytes, 4 * m);
    CU_ASSERT_EQUAL(tc->recov, 1);
    /* The same SACK again resends nothing. */
    clear_frames();
    sack_ack(41010, 11, iss, tsv, 2, blk);
    CU_ASSERT_EQUAL(nframes, 0);
    /* The resends arrive: all acknowledged, recovery over, no RTO. */
    advance_ms(2);
    sack_ack(41010, 11, iss + 6 * m, tsv, 0, NULL);
    CU_ASSERT_EQUAL(tc->snd_una, iss + 6 * m);
    CU_ASSERT_EQUAL(tc->nsegs, 0);
    CU_ASSERT_EQUAL(tc->sacked_bytes, 0);
    CU_ASSERT_EQUAL(tc->lost_bytes, 0);
    CU_ASSERT_EQUAL(tc->recov, 0);
    CU_ASSERT_EQUAL(ns->st.tcp_rto_fired, 0);
    CU_ASSERT_EQUAL(tc->timer_due_ms, 0);
    /* A D-SACK (a block below the cumulative ACK: a resend was not needed)
     * is counted and widens the reordering window; nothing is resent. */
    uint8_t mult = tc->reo_mult;
    clear_frames();
    uint32_t d[2] = {iss, iss + m};
    sack_ack(41010, 11, iss + 6 * m, tsv, 1, d);
    CU_ASSERT_EQUAL(ns->st.tcp_dsacks_received, 1);
    CU_ASSERT_EQUAL(tc->reo_mult, mult + 1);
    CU_ASSERT(tc->reo_seen);
    CU_ASSERT_EQUAL(nframes, 0);
    /* Bogus blocks (beyond snd_max, reversed) are ignored. */
    tsv = send_segments(tc, 2);
    uint32_t bad[4] = {iss + 50 * m, iss + 60 * m, iss + 7 * m, iss + 6 * m};
    clear_frames();
    sack_ack(41010, 11, iss + 6 * m, tsv, 2, bad);
    CU_ASSERT_EQUAL(tc->sacked_bytes, 0);
    CU_ASSERT_EQUAL(nframes, 0);
    teardown();
}

static void test_rack_reordering_window(void) {
    setup();
    uint32_t iss = handshake_sack(41020, 10);
    tcp_conn *tc = last_tc;
    uint32_t m = tc->mss;
    /* One exchange at an 8 ms RTT: min_RTT 8 ms, reordering window 2 ms. */
    uint32_t tsv = send_segments(tc, 1);
    advance_ms(8);
    sack_ack(41020, 11, iss + m, tsv, 0, NULL);
    CU_ASSERT_EQUAL(tc->min_rtt_us, 8000);
    tc->srtt_us = 8000; /* as after a few such round trips (the window is capped at SRTT) */
    /* Three segments; the second and third arrive first. */
    tsv = send_segments(tc, 3);
    advance_ms(8);
    clear_frames();
    uint32_t blk[2] = {iss + 2 * m, iss + 4 * m};
    sack_ack(41020, 11, iss + m, tsv, 1, blk);
    CU_ASSERT_EQUAL(nframes, 0);            /* within the window: not lost */
    CU_ASSERT_EQUAL(tc->lost_bytes, 0);
    CU_ASSERT_EQUAL(tc->tkind, TK_REO);     /* RACK's deadline armed */
    advance_ms(1);
    sack_ack(41020, 11, iss + 4 * m, tsv, 0, NULL); /* the first one, late */
    CU_ASSERT_EQUAL(nframes, 0);
    CU_ASSERT_EQUAL(ns->st.tcp_retransmits, 0);
    CU_ASSERT_EQUAL(ns->st.tcp_rack_retransmits, 0);
    CU_ASSERT(tc->reo_seen);                /* delivered below the highest */
    /* Same pattern, but the first segment is really lost: once the window
     * has passed, RACK's timer resends it, long before the RTO. */
    tsv = send_segments(tc, 3);
    advance_ms(8);
    clear_frames();
    uint32_t blk2[2] = {iss + 5 * m, iss + 7 * m};
    sack_ack(41020, 11, iss + 4 * m, tsv, 1, blk2);
    CU_ASSERT_EQUAL(nframes, 0);
    advance_ms(3);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    CU_ASSERT_EQUAL(last().seq, iss + 4 * m);
    CU_ASSERT_EQUAL(ns->st.tcp_rack_retransmits, 1);
    CU_ASSERT_EQUAL(ns->st.tcp_rto_fired, 0);
    teardown();
}

static void test_tlp_recovers_lost_reply(void) {
    setup();
    uint32_t iss = handshake_sack(41030, 10);
    tcp_conn *tc = last_tc;
    opts o = ts_opts();
    /* A request and its one-segment reply, at a 1 ms RTT. */
    inject(41030, 11, iss, ACK | PSH, 1024, &o, "*1\r\n$4\r\nPING\r\n");
    clear_frames();
    struct iovec iov = {(void *)"+PONG\r\n", 7};
    tcp_send(tc, &iov, 1);
    uint32_t tsv = last().tsval;
    advance_ms(1);
    sack_ack(41030, 25, iss + 7, tsv, 0, NULL);
    CU_ASSERT(tc->srtt_us > 0 && tc->srtt_us <= 1000);
    /* The next reply is lost. The probe timeout (2*SRTT, floor 10 ms)
     * resends it: no 200 ms RTO. */
    clear_frames();
    tcp_send(tc, &iov, 1);
    CU_ASSERT_EQUAL(tc->tkind, TK_TLP);
    advance_ms(TCP_TLP_MIN_MS - 1);
    CU_ASSERT_EQUAL(nframes, 1);
    advance_ms(2);
    CU_ASSERT_EQUAL_FATAL(nframes, 2);
    seg p = last();
    CU_ASSERT_EQUAL(p.seq, iss + 7);
    CU_ASSERT_EQUAL(p.len, 7);
    CU_ASSERT_EQUAL(ns->st.tcp_tlp_probes, 1);
    CU_ASSERT_EQUAL(tc->tkind, TK_RTO);     /* after a probe, the RTO */
    advance_ms(1);
    sack_ack(41030, 25, iss + 14, p.tsval, 0, NULL);
    CU_ASSERT_EQUAL(tc->snd_una, iss + 14);
    CU_ASSERT_EQUAL(tc->tlp_out, 0);
    CU_ASSERT_EQUAL(ns->st.tcp_rto_fired, 0);
    CU_ASSERT_EQUAL(tc->timer_due_ms, 0);
    /* A reply that was not lost, only slow to be acknowledged: the probe's
     * copy comes back as a D-SACK and the episode ends without loss. */
    uint32_t cwnd = tc->cwnd;
    clear_frames();
    tcp_send(tc, &iov, 1);
    advance_ms(TCP_TLP_MIN_MS + 1);
    CU_ASSERT_EQUAL(ns->st.tcp_tlp_probes, 2);
    uint32_t d[2] = {iss + 14, iss + 21};
    sack_ack(41030, 25, iss + 21, last().tsval, 1, d);
    CU_ASSERT_EQUAL(ns->st.tcp_dsacks_received, 1);
    CU_ASSERT_EQUAL(tc->tlp_out, 0);
    CU_ASSERT(tc->cwnd >= cwnd);
    /* Three segments, the last one lost: the ACK of the first two leaves
     * nothing for RACK (nothing later was delivered); the probe resends
     * the last segment. */
    uint32_t m = tc->mss;
    uint32_t base = iss + 21;
    tsv = send_segments(tc, 3);
    advance_ms(1);
    sack_ack(41030, 25, base + 2 * m, tsv, 0, NULL);
    CU_ASSERT_EQUAL(tc->tkind, TK_TLP);
    clear_frames();
    advance_ms(TCP_TLP_MIN_MS + 1);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    CU_ASSERT_EQUAL(last().seq, base + 2 * m);
    CU_ASSERT_EQUAL(ns->st.tcp_tlp_probes, 3);
    CU_ASSERT_EQUAL(ns->st.tcp_rto_fired, 0);
    teardown();
}

static void test_no_sack_partial_ack(void) {
    setup();
    uint32_t iss = handshake(41040, 10, 1); /* timestamps, no SACK */
    opts o = ts_opts();
    tcp_conn *tc = last_tc;
    CU_ASSERT_EQUAL(tc->flags & TF_SACK, 0);
    uint32_t m = tc->mss;
    send_segments(tc, 6);
    /* Segments 1 and 3 lost: three duplicate ACKs resend the first; the
     * partial ACK that follows (up to segment 3) resends it at once
     * (RFC 6582), nothing else. */
    clear_frames();
    for (int i = 0; i < 3; i++) inject(41040, 11, iss, ACK, 1024, &o, NULL);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    CU_ASSERT_EQUAL(last().seq, iss);
    CU_ASSERT_EQUAL(tc->recov, 1);
    clear_frames();
    inject(41040, 11, iss + 2 * m, ACK, 1024, &o, NULL);
    CU_ASSERT_EQUAL_FATAL(nframes, 1);
    CU_ASSERT_EQUAL(last().seq, iss + 2 * m);
    CU_ASSERT_EQUAL(last().len, m);
    inject(41040, 11, iss + 6 * m, ACK, 1024, &o, NULL);
    CU_ASSERT_EQUAL(tc->recov, 0);
    CU_ASSERT_EQUAL(tc->cwnd, tc->ssthresh);
    CU_ASSERT_EQUAL(tc->nsegs, 0);
    CU_ASSERT_EQUAL(ns->st.tcp_fast_retransmits, 1);
    CU_ASSERT_EQUAL(ns->st.tcp_retransmits, 2);
    CU_ASSERT_EQUAL(ns->st.tcp_rto_fired, 0);
    teardown();
}

/* ------------------------------------------------ transmit by reference */

static uint8_t zbyte(uint32_t at) { return (uint8_t)(at * 7 + at / 251); }

/* Send stream bytes [from, from+n) of the zbyte pattern. */
static void zsend(tcp_conn *tc, uint32_t from, uint32_t n) {
    static uint8_t buf[32768];
    for (uint32_t i = 0; i < n; i++) buf[i] = zbyte(from + i);
    struct iovec iov = {buf, n};
    CU_ASSERT_EQUAL(tcp_send(tc, &iov, 1), n);
}

/* Every captured frame carries the pattern at its sequence (checksums are
 * checked by parse); returns the highest sequence seen. */
static uint32_t zcheck(uint32_t iss) {
    uint32_t hi = iss;
    for (int i = 0; i < nframes; i++) {
        seg g = parse(i);
        int ok = 1;
        for (size_t k = 0; k < g.len; k++) ok &= g.data[k] == zbyte(g.seq - iss + (uint32_t)k);
        CU_ASSERT(ok);
        if (seq_gt(g.seq + (uint32_t)g.len, hi)) hi = g.seq + (uint32_t)g.len;
    }
    return hi;
}

static void test_zero_copy_refcounts(void) {
    setup();
    ns->ops = &fops_zc;
    ns->tx_zero_copy = 1;
    ns->tx_zc_min = 64;
    nzpend = nzheld = zmismatch = 0;
    uint32_t iss = handshake(40090, 10, 1);
    opts o = ts_opts();
    tcp_conn *tc = last_tc;
    clear_frames();
    /* An odd length: by reference, checksums right. */
    zsend(tc, 0, 3001);
    CU_ASSERT_EQUAL_FATAL(nframes, 3);
    CU_ASSERT_EQUAL(zcheck(iss), iss + 3001);
    CU_ASSERT_EQUAL(ns->st.tcp_tx_zc_segs, 3);
    net_zbuf *b1 = tc->sbo;
    CU_ASSERT_EQUAL(b1->refs, 2); /* the connection's and the NIC's */
    inject(40090, 11, iss + 3001, ACK, 1024, &o, NULL);
    CU_ASSERT_EQUAL(tc->slen, 0);
    nic_done();
    CU_ASSERT_EQUAL(b1->refs, 1);
    /* Nothing in flight: the ring is reused, and wraps; the segment that
     * wraps has an odd first piece (its second piece's checksum words
     * swapped). */
    clear_frames();
    zsend(tc, 3001, 14000);
    uint32_t hi = zcheck(iss);
    for (int round = 0; round < 4 && tc->slen; round++) {
        inject(40090, 11, hi, ACK, 1024, &o, NULL);
        clear_frames();
        tcp_output(tc, 0);
        hi = zcheck(iss);
    }
    inject(40090, 11, iss + 17001, ACK, 1024, &o, NULL);
    CU_ASSERT_EQUAL(tc->slen, 0);
    CU_ASSERT_PTR_EQUAL(tc->sbo, b1);
    CU_ASSERT_EQUAL(b1->refs, 2);
    /* Acknowledged but the NIC still reads them: a write that would reuse
     * those ring bytes goes to a fresh ring; the old one lives on. */
    clear_frames();
    zsend(tc, 17001, 3000);
    CU_ASSERT(tc->sbo != b1);
    CU_ASSERT_EQUAL(b1->refs, 1);
    zcheck(iss);
    nic_done(); /* b1 freed here */
    CU_ASSERT_EQUAL(zmismatch, 0);
    /* Unacknowledged: lost, then resent from the ring by reference. */
    clear_frames();
    advance_ms(TCP_RTO_MIN_MS + 50);
    CU_ASSERT(nframes >= 1);
    CU_ASSERT(ns->st.tcp_retransmits >= 1);
    zcheck(iss);
    uint64_t zc = ns->st.tcp_tx_zc_segs;
    CU_ASSERT(zc > 3);
    /* Below the threshold: copied. */
    inject(40090, 11, iss + 20001, ACK, 1024, &o, NULL);
    clear_frames();
    zsend(tc, 20001, 40);
    CU_ASSERT_EQUAL(nframes, 1);
    CU_ASSERT_EQUAL(ns->st.tcp_tx_zc_segs, zc);
    zcheck(iss);
    /* The connection goes while frames still reference its ring: the ring
     * outlives it until the NIC is done. */
    inject(40090, 11, iss + 20041, ACK, 1024, &o, NULL);
    zsend(tc, 20041, 2000);
    CU_ASSERT(nzheld > 0);
    tcp_abort(tc);
    nic_done();
    CU_ASSERT_EQUAL(zmismatch, 0);
    teardown();
}

/* A burst grows the send ring; once all of it is acknowledged the big ring
 * is given back and the next reply starts a small one. */
static void test_send_ring_trimmed(void) {
    setup();
    uint32_t iss = handshake(40095, 10, 1);
    opts o = ts_opts();
    tcp_conn *tc = last_tc;
    static char big[100000];
    memset(big, 'y', sizeof(big));
    struct iovec iov = {big, sizeof(big)};
    clear_frames();
    CU_ASSERT_EQUAL(tcp_send(tc, &iov, 1), sizeof(big));
    CU_ASSERT_EQUAL(tc->scap, 131072);
    for (int round = 0; round < 64 && tc->slen; round++) {
        uint32_t hi = iss;
        for (int i = 0; i < nframes; i++) {
            seg g = parse(i);
            if (seq_gt(g.seq + (uint32_t)g.len, hi)) hi = g.seq + (uint32_t)g.len;
        }
        clear_frames();
        inject(40095, 11, hi, ACK, 1024, &o, NULL);
        if (tc->slen) CU_ASSERT_EQUAL(tc->scap, 131072);
    }
    CU_ASSERT_EQUAL_FATAL(tc->slen, 0);
    CU_ASSERT_EQUAL(tc->scap, 0);
    CU_ASSERT_PTR_NULL(tc->sbo);
    clear_frames();
    struct iovec small = {"+OK\r\n", 5};
    CU_ASSERT_EQUAL(tcp_send(tc, &small, 1), 5);
    CU_ASSERT_EQUAL(tc->scap, TCP_SBUF_MIN);
    seg r = last();
    CU_ASSERT_EQUAL(r.seq, iss + sizeof(big));
    CU_ASSERT_EQUAL(r.len, 5);
    CU_ASSERT(memcmp(r.data, "+OK\r\n", 5) == 0);
    inject(40095, 11, iss + sizeof(big) + 5, ACK, 1024, &o, NULL);
    CU_ASSERT_EQUAL(tc->scap, TCP_SBUF_MIN); /* a small ring stays */
    teardown();
}

/* The ring takes twice the peer's window (64 KiB at least): a slow
 * reader's backlog stays with the application, where omem sees it. */
static void test_send_space_follows_window(void) {
    setup();
    uint32_t iss = handshake(40096, 10, 1);
    opts o = ts_opts();
    tcp_conn *tc = last_tc;
    static char big[300000];
    memset(big, 'z', sizeof(big));
    struct iovec iov = {big, sizeof(big)};
    inject(40096, 11, iss, ACK, 16, &o, NULL); /* 16 << 7: a 2 KiB window */
    CU_ASSERT_EQUAL(tc->snd_wnd, 2048);
    clear_frames();
    CU_ASSERT_EQUAL(tcp_send(tc, &iov, 1), TCP_SNDBUF_FLOOR);
    CU_ASSERT_EQUAL(tcp_send_space(tc), 0);
    CU_ASSERT_EQUAL(tcp_send(tc, &iov, 1), 0);
    /* The window opens to 1 MiB: up to 2 MiB may be queued. */
    inject(40096, 11, iss, ACK, 8192, &o, NULL);
    CU_ASSERT_EQUAL(tc->snd_wnd, 1u << 20);
    CU_ASSERT_EQUAL(tcp_send_space(tc), (2u << 20) - TCP_SNDBUF_FLOOR);
    CU_ASSERT_EQUAL(tcp_send(tc, &iov, 1), sizeof(big));
    teardown();
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("tcp", NULL, NULL);
    CU_add_test(s, "checksum at every length", test_checksum_odd_lengths);
    CU_add_test(s, "handshake with MSS, window scale, timestamps", test_handshake_options);
    CU_add_test(s, "handshake without options; refused accept", test_no_options_and_refused_accept);
    CU_add_test(s, "data in, ACK delayed to the end of the turn", test_data_in_and_delayed_ack);
    CU_add_test(s, "out-of-order queue, old duplicates, out-of-window", test_out_of_order_and_duplicates);
    CU_add_test(s, "RST with bad sequence, SYN in ESTABLISHED (RFC 5961)", test_rst_and_syn_protections);
    CU_add_test(s, "passive close: CLOSE_WAIT, LAST_ACK", test_passive_close);
    CU_add_test(s, "held connection: segments wait in the callback, replay in order",
                test_hold_while_in_callback);
    CU_add_test(s, "tapped connection: delivered in the callback, freed after it",
                test_tap_while_in_callback);
    CU_add_test(s, "active close: FIN_WAIT_1/2, TIME_WAIT", test_active_close_time_wait);
    CU_add_test(s, "simultaneous close; data after close", test_simultaneous_close_and_data_after_close);
    CU_add_test(s, "retransmission timeout with backoff and abort", test_retransmission_backoff);
    CU_add_test(s, "fast retransmit on three duplicate ACKs", test_fast_retransmit);
    CU_add_test(s, "zero window and probes", test_zero_window_probe);
    CU_add_test(s, "wrapped sequence numbers", test_wrapped_sequence_numbers);
    CU_add_test(s, "closed port, checksum, backlog, SYN_RCVD expiry", test_closed_port_checksum_backlog);
    CU_add_test(s, "SYN cookies when the SYN queue is full", test_syn_cookies);
    CU_add_test(s, "keepalive probes and abort", test_keepalive);
    CU_add_test(s, "ARP, ICMP echo, MAC filter, fragments", test_arp_icmp_filtering);
    CU_add_test(s, "SACK negotiated; blocks sent newest first, 3 beside timestamps",
                test_sack_negotiation_and_blocks);
    CU_add_test(s, "SACK scoreboard: only the holes resent; D-SACK tolerated",
                test_sack_scoreboard_resends_holes);
    CU_add_test(s, "RACK: reordering within the window is no loss; beyond it a resend",
                test_rack_reordering_window);
    CU_add_test(s, "TLP: a lost one-segment reply resent after ~10 ms, not the RTO",
                test_tlp_recovers_lost_reply);
    CU_add_test(s, "without SACK: three duplicate ACKs, then a partial ACK's hole",
                test_no_sack_partial_ack);
    CU_add_test(s, "send ring grown by a burst given back once acknowledged",
                test_send_ring_trimmed);
    CU_add_test(s, "send space follows the peer's window (64 KiB floor)",
                test_send_space_follows_window);
    CU_add_test(s, "zero copy: ring bytes live until both ACK and NIC completion",
                test_zero_copy_refcounts);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
