/* test_tcp_connect.c — CUnit tests for the active open (dataplane/tcp/
 * tcp_connect.c and SYN_SENT in tcp_input.c) and the ARP queue behind it.
 *
 * Two real stack instances are wired back to back in-process: each one's
 * transmitted frames are delivered to the other by pump(), so ARP, the
 * handshake, data and both closes run through our code on both sides
 * (active <-> passive, refused, simultaneous open). The SYN_SENT odd cases
 * (RST with a bad ACK, a SYN-ACK acknowledging the wrong thing, the SYN's
 * timeout with backoff) use crafted segments against one stack, as
 * test_tcp.c does. The same pair also runs tagged with an 802.1Q VLAN.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/net/netstack.h"
#include "../../dataplane/tcp/tcp.h"

#define IP_A 0x0a000001u /* 10.0.0.1, the active side */
#define IP_B 0x0a000002u /* 10.0.0.2, listens on PORT_B */
#define IP_GW 0x0a0000feu
#define PORT_B 6379

static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0x02};

/* ------------------------------------------------ one side: driver and app */

#define MAXF 512
typedef struct side {
    netstack *ns;
    uint8_t *frames[MAXF];
    size_t flens[MAXF];
    int nframes;
    /* application */
    char rbuf[65536];
    size_t rlen;
    int accepted, connected, closed_fin, closed_rst, closed_timeout;
    tcp_conn *tc; /* the connection the app holds */
    int token;
} side;

static side A, B;

static uint8_t *f_alloc(void *ctx, size_t len, void **h) {
    (void)ctx;
    /* 4 bytes past len: room for a software 802.1Q tag, as mbufs have. */
    uint8_t *b = calloc(1, (len < 64 ? 64 : len) + NET_VLAN_HLEN);
    *h = b;
    return b;
}
static void f_send(void *ctx, void *h, size_t len) {
    side *s = ctx;
    if (s->nframes < MAXF) {
        s->frames[s->nframes] = h;
        s->flens[s->nframes++] = len;
    } else {
        free(h);
    }
}
static void f_free(void *ctx, void *h) {
    (void)ctx;
    free(h);
}
static const net_ops fops = {f_alloc, f_send, f_free};

static side *side_of(tcp_conn *tc) { return tc->ts->ns == A.ns ? &A : &B; }

static int a_accepted(void *ctx, tcp_conn *tc) {
    side *s = ctx;
    s->accepted++;
    s->tc = tc;
    tc->app = &s->token;
    return 0;
}
static void a_recv(tcp_conn *tc, const uint8_t *p, size_t n) {
    side *s = side_of(tc);
    if (s->rlen + n <= sizeof(s->rbuf)) memcpy(s->rbuf + s->rlen, p, n);
    s->rlen += n;
}
static void a_closed(void *app, int reset) {
    side *s = app == &A.token ? &A : &B;
    if (reset == 2) s->closed_timeout++;
    else if (reset) s->closed_rst++;
    else s->closed_fin++;
    s->tc = NULL;
}
static void a_writable(tcp_conn *tc) { (void)tc; }
static void a_connected(tcp_conn *tc) {
    side *s = side_of(tc);
    s->connected++;
}
static const tcp_app_ops aops = {.accepted = a_accepted, .recv = a_recv, .closed = a_closed,
                                 .writable = a_writable, .connected = a_connected};

static uint64_t now_us;

static void side_init(side *s, const uint8_t *mac, uint32_t ip, uint32_t gw) {
    memset(s, 0, sizeof(*s));
    s->ns = net_create(&fops, s, mac, ip, 0xffffff00u, gw, 1500);
    net_set_clock(s->ns, now_us);
    tcp_set_app(s->ns->tcp, &aops, s);
}

static void clear(side *s) {
    for (int i = 0; i < s->nframes; i++) free(s->frames[i]);
    s->nframes = 0;
}

static void side_free(side *s) {
    net_destroy(s->ns);
    clear(s);
}

static void setup(void) {
    now_us = 5000000;
    side_init(&A, MAC_A, IP_A, 0);
    side_init(&B, MAC_B, IP_B, 0);
    tcp_listen(B.ns->tcp, PORT_B, 16);
}

static void teardown(void) {
    side_free(&A);
    side_free(&B);
}

/* Deliver each side's frames to the other until both are quiet; frames
 * counted per direction. */
static int pump(void) {
    int moved = 0;
    for (int round = 0; round < 100; round++) {
        int any = 0;
        side *pairs[2][2] = {{&A, &B}, {&B, &A}};
        for (int k = 0; k < 2; k++) {
            side *from = pairs[k][0], *to = pairs[k][1];
            int n = from->nframes;
            uint8_t *fr[MAXF];
            size_t fl[MAXF];
            memcpy(fr, from->frames, sizeof(uint8_t *) * (size_t)n);
            memcpy(fl, from->flens, sizeof(size_t) * (size_t)n);
            from->nframes = 0;
            for (int i = 0; i < n; i++) {
                net_input(to->ns, fr[i], fl[i]);
                free(fr[i]);
                any = 1;
                moved++;
            }
        }
        tcp_flush_acks(A.ns->tcp);
        tcp_flush_acks(B.ns->tcp);
        if (!any && !A.nframes && !B.nframes) break;
    }
    return moved;
}

static void advance_ms(uint64_t ms) {
    now_us += ms * 1000;
    net_set_clock(A.ns, now_us);
    net_set_clock(B.ns, now_us);
    tcp_timers_run(A.ns->tcp);
    tcp_timers_run(B.ns->tcp);
}

static void send_str(tcp_conn *tc, const char *s) {
    struct iovec iov = {.iov_base = (void *)s, .iov_len = strlen(s)};
    CU_ASSERT_EQUAL(tcp_send(tc, &iov, 1), strlen(s));
}

/* ------------------------------------------------ captured segment parsing */

typedef struct seg {
    uint8_t flags;
    uint32_t seq, ack;
    uint16_t sport, dport;
    int mss, ws, has_ts;
    size_t len;
} seg;

#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define ACK 0x10

static int is_tcp(const side *s, int i) {
    return net_rd16(s->frames[i] + 12) == ETHERTYPE_IPV4 && s->frames[i][14 + 9] == 6;
}

static seg parse(const side *s, int i) {
    seg g;
    memset(&g, 0, sizeof(g));
    g.ws = -1;
    const uint8_t *ip = s->frames[i] + 14;
    CU_ASSERT_EQUAL(net_csum_fold(net_csum_add(0, ip, 20)), 0);
    size_t tl = net_rd16(ip + 2) - 20u;
    const uint8_t *t = ip + 20;
    uint32_t sum = net_csum_pseudo(net_rd32(ip + 12), net_rd32(ip + 16), 6, (uint16_t)tl);
    CU_ASSERT_EQUAL(net_csum_fold(net_csum_add(sum, t, tl)), 0);
    g.sport = net_rd16(t);
    g.dport = net_rd16(t + 2);
    g.seq = net_rd32(t + 4);
    g.ack = net_rd32(t + 8);
    g.flags = t[13];
    size_t doff = (size_t)(t[12] >> 4) * 4;
    for (size_t k = 20; k < doff;) {
        if (t[k] == 0) break;
        if (t[k] == 1) { k++; continue; }
        if (t[k] == 2) g.mss = net_rd16(t + k + 2);
        if (t[k] == 3) g.ws = t[k + 2];
        if (t[k] == 8) g.has_ts = 1;
        k += t[k + 1];
    }
    g.len = tl - doff;
    return g;
}

/* Craft a segment from the peer (IP_B, MAC_B) into A. */
static void inject_a(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags) {
    uint8_t f[128];
    memset(f, 0, sizeof(f));
    memcpy(f, MAC_A, 6);
    memcpy(f + 6, MAC_B, 6);
    net_wr16(f + 12, ETHERTYPE_IPV4);
    uint8_t *ip = f + 14, *t = f + 34;
    net_wr16(t, sport);
    net_wr16(t + 2, dport);
    net_wr32(t + 4, seq);
    net_wr32(t + 8, ack);
    t[12] = 5 << 4;
    t[13] = flags;
    net_wr16(t + 14, 65535);
    uint32_t s = net_csum_pseudo(IP_B, IP_A, 6, 20);
    net_wr16(t + 16, net_csum_fold(net_csum_add(s, t, 20)));
    ip[0] = 0x45;
    net_wr16(ip + 2, 40);
    ip[8] = 64;
    ip[9] = 6;
    net_wr32(ip + 12, IP_B);
    net_wr32(ip + 16, IP_A);
    net_wr16(ip + 10, net_csum_fold(net_csum_add(0, ip, 20)));
    net_input(A.ns, f, 54);
}

/* ------------------------------------------------------------------ tests */

static void test_active_passive(void) {
    A.tc = tcp_connect(A.ns->tcp, IP_B, PORT_B, 0, &A.token);
    CU_ASSERT_PTR_NOT_NULL_FATAL(A.tc);
    tcp_conn *a = A.tc;
    CU_ASSERT_EQUAL(a->state, TCP_SYN_SENT);
    CU_ASSERT(a->lport >= TCP_EPH_LO && a->lport <= TCP_EPH_HI);
    /* B's MAC is unknown: an ARP request went out, the SYN waits. */
    CU_ASSERT_EQUAL(A.nframes, 1);
    CU_ASSERT_EQUAL(net_rd16(A.frames[0] + 12), ETHERTYPE_ARP);
    CU_ASSERT_EQUAL(A.ns->st.arp_queued, 1);
    CU_ASSERT_EQUAL(A.ns->narpq, 1);
    pump();
    CU_ASSERT_EQUAL(A.ns->narpq, 0);
    CU_ASSERT_EQUAL(A.connected, 1);
    CU_ASSERT_EQUAL(B.accepted, 1);
    CU_ASSERT_EQUAL(a->state, TCP_ESTABLISHED);
    CU_ASSERT_PTR_NOT_NULL_FATAL(B.tc);
    tcp_conn *b = B.tc;
    CU_ASSERT_EQUAL(b->state, TCP_ESTABLISHED);
    /* Both RFC 7323 options negotiated, MSS less the timestamp option. */
    CU_ASSERT(a->flags & TF_WS);
    CU_ASSERT(a->flags & TF_TS);
    CU_ASSERT(b->flags & TF_WS);
    CU_ASSERT(b->flags & TF_TS);
    CU_ASSERT_EQUAL(a->snd_wscale, TCP_RCV_WSCALE);
    CU_ASSERT_EQUAL(a->mss, 1448);
    CU_ASSERT_EQUAL(b->rport, a->lport);
    CU_ASSERT_EQUAL(A.ns->st.tcp_active_opens, 1);
    CU_ASSERT_EQUAL(B.ns->st.tcp_passive_opens, 1);
    /* Data both ways, more than one segment. */
    static char big[20000];
    memset(big, 'x', sizeof(big) - 1);
    send_str(a, "*1\r\n$4\r\nPING\r\n");
    send_str(a, big);
    pump();
    CU_ASSERT_EQUAL(B.rlen, 14 + sizeof(big) - 1);
    CU_ASSERT(memcmp(B.rbuf, "*1\r\n$4\r\nPING\r\n", 14) == 0);
    send_str(b, "+PONG\r\n");
    pump();
    CU_ASSERT_EQUAL(A.rlen, 7);
    CU_ASSERT(memcmp(A.rbuf, "+PONG\r\n", 7) == 0);
    CU_ASSERT_EQUAL(a->snd_una, a->snd_max);
    /* Active close: A's FIN, B's EOF and close, A in TIME_WAIT. */
    tcp_close(a);
    pump();
    CU_ASSERT_EQUAL(B.closed_fin, 1);
    tcp_close(b);
    pump();
    CU_ASSERT_EQUAL(B.ns->tcp->nconns, 0);
    CU_ASSERT_EQUAL(A.ns->tcp->nconns, 1);
    CU_ASSERT_EQUAL(A.ns->st.tcp_time_wait, 1);
    advance_ms(TCP_TIME_WAIT_MS + 10);
    CU_ASSERT_EQUAL(A.ns->tcp->nconns, 0);
    CU_ASSERT_EQUAL(A.closed_rst + A.closed_timeout, 0);
}

static void test_passive_close_first(void) {
    A.tc = tcp_connect(A.ns->tcp, IP_B, PORT_B, 0, &A.token);
    pump();
    CU_ASSERT_EQUAL_FATAL(A.connected, 1);
    tcp_conn *a = A.tc;
    tcp_close(B.tc);
    pump();
    CU_ASSERT_EQUAL(A.closed_fin, 1); /* EOF on the active side */
    tcp_close(a);
    pump();
    CU_ASSERT_EQUAL(A.ns->tcp->nconns, 0);
    CU_ASSERT_EQUAL(B.ns->tcp->nconns, 1); /* B closed first: B waits */
    CU_ASSERT_EQUAL(B.ns->st.tcp_time_wait, 1);
}

static void test_refused(void) {
    A.tc = tcp_connect(A.ns->tcp, IP_B, 7000, 0, &A.token);
    CU_ASSERT_PTR_NOT_NULL_FATAL(A.tc);
    pump();
    CU_ASSERT_EQUAL(A.closed_rst, 1);
    CU_ASSERT_EQUAL(A.connected, 0);
    CU_ASSERT_EQUAL(A.ns->tcp->nconns, 0);
    CU_ASSERT_EQUAL(A.ns->st.tcp_connect_failed, 1);
}

static void test_simultaneous_open(void) {
    /* Both sides open towards each other's fixed port at once. */
    A.tc = tcp_connect(A.ns->tcp, IP_B, 5000, 4000, &A.token);
    B.tc = tcp_connect(B.ns->tcp, IP_A, 4000, 5000, &B.token);
    CU_ASSERT_PTR_NOT_NULL_FATAL(A.tc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(B.tc);
    pump();
    CU_ASSERT_EQUAL(A.connected, 1);
    CU_ASSERT_EQUAL(B.connected, 1);
    CU_ASSERT_EQUAL(A.tc->state, TCP_ESTABLISHED);
    CU_ASSERT_EQUAL(B.tc->state, TCP_ESTABLISHED);
    send_str(A.tc, "hello");
    send_str(B.tc, "world");
    pump();
    CU_ASSERT_EQUAL(B.rlen, 5);
    CU_ASSERT_EQUAL(A.rlen, 5);
    CU_ASSERT(memcmp(A.rbuf, "world", 5) == 0);
    /* Same 4-tuple again: refused locally. */
    errno = 0;
    CU_ASSERT_PTR_NULL(tcp_connect(A.ns->tcp, IP_B, 5000, 4000, &A.token));
    CU_ASSERT_EQUAL(errno, EADDRINUSE);
}

/* A SYN_SENT connection of A towards B's address with B's MAC known and
 * B itself not pumped: frames are read from A's capture. */
static tcp_conn *syn_sent(seg *syn) {
    arp_learn(A.ns, IP_B, MAC_B, 1);
    tcp_conn *tc = tcp_connect(A.ns->tcp, IP_B, PORT_B, 0, &A.token);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tc);
    CU_ASSERT_EQUAL_FATAL(A.nframes, 1);
    CU_ASSERT_FATAL(is_tcp(&A, 0));
    *syn = parse(&A, 0);
    clear(&A);
    return tc;
}

static void test_syn_options(void) {
    seg syn;
    tcp_conn *tc = syn_sent(&syn);
    CU_ASSERT_EQUAL(syn.flags, SYN);
    CU_ASSERT_EQUAL(syn.ack, 0);
    CU_ASSERT_EQUAL(syn.mss, 1460);
    CU_ASSERT_EQUAL(syn.ws, TCP_RCV_WSCALE);
    CU_ASSERT(syn.has_ts);
    CU_ASSERT_EQUAL(syn.seq, tc->iss);
    CU_ASSERT_EQUAL(syn.dport, PORT_B);
}

static void test_syn_sent_rst(void) {
    seg syn;
    tcp_conn *tc = syn_sent(&syn);
    /* RST without ACK, and with an ACK that does not cover our SYN:
     * ignored (RFC 9293 3.10.7.3, RFC 5961). */
    inject_a(PORT_B, syn.sport, 777, 0, RST);
    inject_a(PORT_B, syn.sport, 777, syn.seq + 5, RST | ACK);
    inject_a(PORT_B, syn.sport, 777, syn.seq, RST | ACK);
    CU_ASSERT_EQUAL(A.closed_rst, 0);
    CU_ASSERT_EQUAL(tc->state, TCP_SYN_SENT);
    CU_ASSERT_EQUAL(A.nframes, 0); /* never answer a RST */
    /* The right ACK: refused. */
    inject_a(PORT_B, syn.sport, 777, syn.seq + 1, RST | ACK);
    CU_ASSERT_EQUAL(A.closed_rst, 1);
    CU_ASSERT_EQUAL(A.ns->tcp->nconns, 0);
}

static void test_syn_sent_bad_ack(void) {
    seg syn;
    tcp_conn *tc = syn_sent(&syn);
    /* A SYN-ACK acknowledging something else: RST <SEQ=SEG.ACK>, keep
     * waiting. */
    inject_a(PORT_B, syn.sport, 9000, syn.seq + 77, SYN | ACK);
    CU_ASSERT_EQUAL_FATAL(A.nframes, 1);
    seg r = parse(&A, 0);
    CU_ASSERT_EQUAL(r.flags, RST);
    CU_ASSERT_EQUAL(r.seq, syn.seq + 77);
    CU_ASSERT_EQUAL(tc->state, TCP_SYN_SENT);
    clear(&A);
    /* A bare ACK (no SYN) with a valid ack: dropped. */
    inject_a(PORT_B, syn.sport, 9000, syn.seq + 1, ACK);
    CU_ASSERT_EQUAL(tc->state, TCP_SYN_SENT);
    CU_ASSERT_EQUAL(A.nframes, 0);
    /* The proper SYN-ACK (no options): established, ACK sent, options
     * off, the default MSS. */
    inject_a(PORT_B, syn.sport, 9000, syn.seq + 1, SYN | ACK);
    CU_ASSERT_EQUAL(tc->state, TCP_ESTABLISHED);
    CU_ASSERT_EQUAL(A.connected, 1);
    CU_ASSERT_EQUAL_FATAL(A.nframes, 1);
    seg a = parse(&A, 0);
    CU_ASSERT_EQUAL(a.flags, ACK);
    CU_ASSERT_EQUAL(a.ack, 9001);
    CU_ASSERT_EQUAL(a.seq, syn.seq + 1);
    CU_ASSERT_FALSE(tc->flags & TF_WS);
    CU_ASSERT_FALSE(tc->flags & TF_TS);
    CU_ASSERT_EQUAL(tc->mss, 536);
    CU_ASSERT_EQUAL(tc->rcv_wscale, 0);
}

static void test_syn_timeout_backoff(void) {
    seg syn;
    tcp_conn *tc = syn_sent(&syn);
    (void)tc;
    /* Resent after 1, 2, 4, 8, 16, 32 s; then the open fails. */
    uint64_t waits[] = {1000, 2000, 4000, 8000, 16000, 32000};
    for (int i = 0; i < 6; i++) {
        advance_ms(waits[i] - 1);
        CU_ASSERT_EQUAL(A.nframes, 0);
        advance_ms(1);
        CU_ASSERT_EQUAL_FATAL(A.nframes, 1);
        seg r = parse(&A, 0);
        CU_ASSERT_EQUAL(r.flags, SYN);
        CU_ASSERT_EQUAL(r.seq, syn.seq);
        clear(&A);
    }
    CU_ASSERT_EQUAL(A.closed_timeout, 0);
    advance_ms(60000);
    CU_ASSERT_EQUAL(A.closed_timeout, 1);
    CU_ASSERT_EQUAL(A.ns->tcp->nconns, 0);
}

static void test_close_in_syn_sent(void) {
    seg syn;
    tcp_conn *tc = syn_sent(&syn);
    tcp_close(tc);
    CU_ASSERT_EQUAL(A.ns->tcp->nconns, 0);
    CU_ASSERT_EQUAL(A.closed_rst + A.closed_timeout, 0);
    /* A late SYN-ACK finds no connection: RST. */
    inject_a(PORT_B, syn.sport, 9000, syn.seq + 1, SYN | ACK);
    CU_ASSERT_EQUAL_FATAL(A.nframes, 1);
    CU_ASSERT_EQUAL(parse(&A, 0).flags, RST);
}

static int odd_only(void *ctx, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport) {
    (void)ctx; (void)lip; (void)rip; (void)rport;
    return lport % 4 == 1;
}
static int none_ok(void *ctx, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport) {
    (void)ctx; (void)lip; (void)lport; (void)rip; (void)rport;
    return 0;
}

static void test_ephemeral_filter(void) {
    A.ns->tcp->port_ok = odd_only;
    uint16_t seen[8];
    for (int i = 0; i < 8; i++) {
        tcp_conn *tc = tcp_connect(A.ns->tcp, IP_B, PORT_B, 0, &A.token);
        CU_ASSERT_PTR_NOT_NULL_FATAL(tc);
        CU_ASSERT_EQUAL(tc->lport % 4, 1);
        seen[i] = tc->lport;
        for (int j = 0; j < i; j++) CU_ASSERT_NOT_EQUAL(seen[j], tc->lport);
    }
    A.ns->tcp->port_ok = none_ok;
    errno = 0;
    CU_ASSERT_PTR_NULL(tcp_connect(A.ns->tcp, IP_B, PORT_B, 0, &A.token));
    CU_ASSERT_EQUAL(errno, EADDRNOTAVAIL);
}

static void test_arp_queue_expiry_and_gateway(void) {
    /* Nobody answers for 10.0.0.9: the SYN waits, then is dropped; the
     * SYN's retransmission asks again. */
    tcp_conn *tc = tcp_connect(A.ns->tcp, 0x0a000009u, 80, 0, &A.token);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tc);
    CU_ASSERT_EQUAL(A.ns->narpq, 1);
    clear(&A);
    advance_ms(ARP_QUEUE_MS + 1);
    CU_ASSERT_EQUAL(A.ns->narpq, 1); /* the resent SYN (1 s RTO) queued again */
    CU_ASSERT_EQUAL(A.ns->st.arp_queue_dropped, 1);
    tcp_close(tc);
    /* Off-subnet destinations resolve the gateway. */
    side_free(&A);
    side_init(&A, MAC_A, IP_A, IP_GW);
    tc = tcp_connect(A.ns->tcp, 0xc0a80101u, 80, 0, &A.token);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tc);
    CU_ASSERT_EQUAL_FATAL(A.nframes, 1);
    CU_ASSERT_EQUAL(net_rd16(A.frames[0] + 12), ETHERTYPE_ARP);
    CU_ASSERT_EQUAL(net_rd32(A.frames[0] + 14 + 24), IP_GW);
    /* The gateway's reply releases the SYN to the gateway's MAC. */
    static const uint8_t MAC_GW[6] = {0x02, 0, 0, 0, 0, 0xfe};
    uint8_t f[60];
    memset(f, 0, sizeof(f));
    memcpy(f, MAC_A, 6);
    memcpy(f + 6, MAC_GW, 6);
    net_wr16(f + 12, ETHERTYPE_ARP);
    uint8_t *p = f + 14;
    net_wr16(p, 1);
    net_wr16(p + 2, ETHERTYPE_IPV4);
    p[4] = 6;
    p[5] = 4;
    net_wr16(p + 6, 2);
    memcpy(p + 8, MAC_GW, 6);
    net_wr32(p + 14, IP_GW);
    memcpy(p + 18, MAC_A, 6);
    net_wr32(p + 24, IP_A);
    clear(&A);
    net_input(A.ns, f, sizeof(f));
    CU_ASSERT_EQUAL_FATAL(A.nframes, 1);
    CU_ASSERT(memcmp(A.frames[0], MAC_GW, 6) == 0);
    CU_ASSERT_EQUAL(net_rd32(A.frames[0] + 14 + 16), 0xc0a80101u);
    CU_ASSERT_EQUAL(parse(&A, 0).flags, SYN);
}

static void test_vlan(void) {
    A.ns->vlan = B.ns->vlan = 100;
    A.tc = tcp_connect(A.ns->tcp, IP_B, PORT_B, 0, &A.token);
    CU_ASSERT_PTR_NOT_NULL_FATAL(A.tc);
    /* The ARP request carries the tag. */
    CU_ASSERT_EQUAL_FATAL(A.nframes, 1);
    CU_ASSERT_EQUAL(net_rd16(A.frames[0] + 12), ETHERTYPE_VLAN);
    CU_ASSERT_EQUAL(net_rd16(A.frames[0] + 14) & 0xfff, 100);
    CU_ASSERT_EQUAL(net_rd16(A.frames[0] + 16), ETHERTYPE_ARP);
    CU_ASSERT_EQUAL(A.flens[0], 60); /* 42 + 4, padded */
    pump();
    CU_ASSERT_EQUAL_FATAL(A.connected, 1);
    CU_ASSERT_EQUAL(B.accepted, 1);
    static char big[5000];
    memset(big, 'v', sizeof(big) - 1);
    send_str(A.tc, big);
    send_str(B.tc, "+OK\r\n");
    pump();
    CU_ASSERT_EQUAL(B.rlen, sizeof(big) - 1);
    CU_ASSERT_EQUAL(A.rlen, 5);
    CU_ASSERT_EQUAL(A.ns->st.rx_vlan_dropped + B.ns->st.rx_vlan_dropped, 0);
    CU_ASSERT_EQUAL(A.ns->st.rx_csum_errors + B.ns->st.rx_csum_errors, 0);
    /* Another VLAN, or no tag: dropped and counted. */
    B.ns->vlan = 200;
    send_str(A.tc, "x");
    pump();
    CU_ASSERT_EQUAL(B.rlen, sizeof(big) - 1);
    CU_ASSERT(B.ns->st.rx_vlan_dropped > 0);
    uint64_t d = B.ns->st.rx_vlan_dropped;
    A.ns->vlan = 0;
    B.ns->vlan = 100;
    send_str(A.tc, "y");
    pump();
    CU_ASSERT(B.ns->st.rx_vlan_dropped > d);
    CU_ASSERT_EQUAL(B.rlen, sizeof(big) - 1);
    /* The NIC inserts the tag (vlan_hw): frames leave untagged here. */
    A.ns->vlan = 100;
    A.ns->vlan_hw = 1;
    clear(&A);
    send_str(A.tc, "z");
    CU_ASSERT_EQUAL_FATAL(A.nframes, 1);
    CU_ASSERT_EQUAL(net_rd16(A.frames[0] + 12), ETHERTYPE_IPV4);
    clear(&A);
}

/* Move A's captured frames to B one by one through fn (a "NIC"). */
static void deliver_a_to_b(void (*fn)(uint8_t *f, size_t len)) {
    for (int i = 0; i < A.nframes; i++) {
        if (fn) fn(A.frames[i], A.flens[i]);
        net_input(B.ns, A.frames[i], A.flens[i]);
    }
    clear(&A);
}

/* What a NIC with checksum offload does on transmit. */
static void nic_complete(uint8_t *f, size_t len) {
    (void)len;
    uint8_t *ip = f + 14, *t = ip + 20;
    CU_ASSERT_EQUAL(net_rd16(ip + 10), 0);
    net_wr16(ip + 10, net_csum_fold(net_csum_add(0, ip, 20)));
    size_t tl = net_rd16(ip + 2) - 20u;
    uint32_t pseudo = net_csum_pseudo(net_rd32(ip + 12), net_rd32(ip + 16), 6, (uint16_t)tl);
    CU_ASSERT_EQUAL(net_rd16(t + 16), (uint16_t)~net_csum_fold(pseudo));
    net_wr16(t + 16, 0);
    net_wr16(t + 16, net_csum_fold(net_csum_add(pseudo, t, tl)));
}

static void corrupt_tcp(uint8_t *f, size_t len) {
    (void)len;
    f[14 + 20 + 16] ^= 0x5a;
}

static void test_csum_offload(void) {
    A.tc = tcp_connect(A.ns->tcp, IP_B, PORT_B, 0, &A.token);
    pump();
    CU_ASSERT_EQUAL_FATAL(A.connected, 1);
    /* Transmit offload: the stack leaves the sums to the NIC. */
    A.ns->tx_csum_offload = 1;
    send_str(A.tc, "abc");
    CU_ASSERT_EQUAL_FATAL(A.nframes, 1);
    deliver_a_to_b(nic_complete);
    CU_ASSERT_EQUAL(B.rlen, 3);
    CU_ASSERT_EQUAL(B.ns->st.rx_csum_errors, 0);
    A.ns->tx_csum_offload = 0;
    /* Receive: a bad TCP checksum is caught in software... */
    send_str(A.tc, "def");
    deliver_a_to_b(corrupt_tcp);
    CU_ASSERT_EQUAL(B.rlen, 3);
    CU_ASSERT_EQUAL(B.ns->st.rx_csum_errors, 1);
    /* ...unless the NIC vouched for it (rx offload). */
    advance_ms(1000); /* A's RTO resends "def" */
    CU_ASSERT_EQUAL_FATAL(A.nframes, 1);
    B.ns->rx_csum_ok = NET_CSUM_IP | NET_CSUM_L4;
    deliver_a_to_b(corrupt_tcp);
    B.ns->rx_csum_ok = 0;
    CU_ASSERT_EQUAL(B.rlen, 6);
    CU_ASSERT_EQUAL(B.ns->st.rx_csum_errors, 1);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite_with_setup_and_teardown("tcp_connect", NULL, NULL, setup, teardown);
    CU_add_test(s, "active <-> passive open, data, close", test_active_passive);
    CU_add_test(s, "passive side closes first", test_passive_close_first);
    CU_add_test(s, "refused (RST)", test_refused);
    CU_add_test(s, "simultaneous open", test_simultaneous_open);
    CU_add_test(s, "SYN options", test_syn_options);
    CU_add_test(s, "SYN_SENT: RST with bad ACK", test_syn_sent_rst);
    CU_add_test(s, "SYN_SENT: SYN-ACK with wrong ACK", test_syn_sent_bad_ack);
    CU_add_test(s, "SYN_SENT: timeout with backoff", test_syn_timeout_backoff);
    CU_add_test(s, "close in SYN_SENT", test_close_in_syn_sent);
    CU_add_test(s, "ephemeral ports and the RSS filter", test_ephemeral_filter);
    CU_add_test(s, "ARP queue expiry, gateway", test_arp_queue_expiry_and_gateway);
    CU_add_test(s, "802.1Q VLAN tags in and out", test_vlan);
    CU_add_test(s, "checksum offloads (transmit and receive)", test_csum_offload);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failures = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
