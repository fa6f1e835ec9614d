/* fuzz_net.c — libFuzzer target for the packet input path of our stack
 * (dataplane/net, dataplane/tcp): a fresh stack per input, fed a sequence of
 * records. Each record is a control byte, a 2-byte length and that many
 * bytes. Bit 7 of the control byte: the bytes are a whole Ethernet frame;
 * otherwise they are a TCP segment the harness wraps in valid Ethernet and
 * IPv4 headers (and, unless bit 6, a valid TCP checksum). Bit 5: set the
 * segment's ack to the end of the last segment we sent; bit 4: set its seq
 * to the last ACK we sent — so handshakes complete and data flows. Bits 0-3
 * advance the clock (x 50 ms, running the timers). The fake application
 * closes when the peer does and, on every 8th record, writes a reply.
 * Each input also starts with an active open of ours (port 6380 to the
 * peer's 40001, SYN_SENT); a wrapped segment whose source port is odd goes
 * to it instead of the listening port.
 * After the input the clock runs forty minutes on (past every backoff):
 * every connection must then be gone or be ESTABLISHED/CLOSE_WAIT with
 * nothing in flight (no stuck state), and destroying the stack must free
 * everything (LeakSanitizer).
 * Built and run by tests/run_fuzz_net.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/net/netstack.h"
#include "dataplane/tcp/tcp.h"

#define OUR_IP 0x0a000002u
#define PEER_IP 0x0a000001u

static const uint8_t OUR_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};

static uint32_t last_seq_end, last_ack;
static uint16_t last_dport;

static uint8_t *f_alloc(void *ctx, size_t len, void **h) {
    (void)ctx;
    uint8_t *b = malloc(len < 64 ? 64 : len);
    *h = b;
    return b;
}
static void f_send(void *ctx, void *h, size_t len) {
    (void)ctx;
    const uint8_t *f = h;
    if (len >= 54 && net_rd16(f + 12) == 0x0800 && f[23] == 6) {
        const uint8_t *t = f + 34;
        size_t tl = net_rd16(f + 16) - 20, doff = (size_t)(t[12] >> 4) * 4;
        uint32_t seq = net_rd32(t + 4);
        last_seq_end = seq + (uint32_t)(tl - doff) + !!(t[13] & 2) + !!(t[13] & 1);
        last_ack = net_rd32(t + 8);
        last_dport = net_rd16(t + 2);
    }
    free(h);
}
static void f_free(void *ctx, void *h) {
    (void)ctx;
    free(h);
}
static const net_ops fops = {f_alloc, f_send, f_free};

static int a_accepted(void *ctx, tcp_conn *tc) {
    (void)ctx;
    tc->app = tc; /* the app's handle is the connection itself */
    return 0;
}
static void a_recv(tcp_conn *tc, const uint8_t *p, size_t n) {
    volatile uint8_t s = 0;
    for (size_t i = 0; i < n; i++) s ^= p[i]; /* ASan: the bytes are readable */
    (void)tc;
    (void)s;
}
static void a_closed(void *app, int reset) {
    if (!reset) tcp_close(app); /* the connection layer closes on EOF */
}
static void a_writable(tcp_conn *tc) { (void)tc; }
static void a_connected(tcp_conn *tc) { (void)tc; }
static const tcp_app_ops aops = {a_accepted, a_recv, a_closed, a_writable, a_connected};

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)(v >> 16)); wr16(p + 2, (uint16_t)v); }

static void check_not_stuck(netstack *ns) {
    tcp_stack *ts = ns->tcp;
    for (uint32_t b = 0; b <= ts->hmask; b++)
        for (tcp_conn *c = ts->htab[b]; c; c = c->hnext) {
            int ok = (c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT) &&
                     c->snd_una == c->snd_max;
            if (!ok) abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint64_t now = 1000000000ull;
    last_seq_end = last_ack = 0;
    netstack *ns = net_create(&fops, NULL, OUR_MAC, OUR_IP, 0xffffff00u, 0, 1500);
    net_set_clock(ns, now);
    tcp_set_app(ns->tcp, &aops, NULL);
    tcp_listen(ns->tcp, 6379, 4);
    arp_learn(ns, PEER_IP, PEER_MAC, 1);
    tcp_conn *active = tcp_connect(ns->tcp, PEER_IP, 40001, 6380, NULL);
    if (active) active->app = active;
    uint8_t f[2048];
    size_t off = 0;
    int rec = 0;
    while (off + 3 <= size) {
        uint8_t ctl = data[off];
        size_t len = net_rd16(data + off + 1) % 1500;
        off += 3;
        if (len > size - off) len = size - off;
        const uint8_t *p = data + off;
        off += len;
        rec++;
        if (ctl & 0x80) {
            memcpy(f, p, len);
            net_input(ns, f, len);
        } else if (len >= 20) {
            memset(f, 0, 34);
            memcpy(f, OUR_MAC, 6);
            memcpy(f + 6, PEER_MAC, 6);
            wr16(f + 12, 0x0800);
            uint8_t *ip = f + 14, *t = f + 34;
            memcpy(t, p, len);
            uint16_t dport = (p[1] & 1) ? 6380 : 6379;
            wr16(t + 2, dport);
            if (ctl & 0x20) wr32(t + 8, last_seq_end + (p[8] & 3));
            if (ctl & 0x10) wr32(t + 4, last_ack);
            ip[0] = 0x45;
            wr16(ip + 2, (uint16_t)(20 + len));
            ip[8] = 64;
            ip[9] = 6;
            wr32(ip + 12, PEER_IP);
            wr32(ip + 16, OUR_IP);
            wr16(ip + 10, net_csum_fold(net_csum_add(0, ip, 20)));
            if (!(ctl & 0x40)) {
                wr16(t + 16, 0);
                uint32_t s = net_csum_pseudo(PEER_IP, OUR_IP, 6, (uint16_t)len);
                wr16(t + 16, net_csum_fold(net_csum_add(s, t, len)));
            }
            net_input(ns, f, 34 + len);
            if (rec % 8 == 0) {
                tcp_conn *c = tcp_lookup(ns->tcp, PEER_IP, net_rd16(t), OUR_IP, dport);
                if (c && c->app) {
                    struct iovec iov = {(void *)p, len};
                    tcp_send(c, &iov, 1);
                }
            }
        }
        now += (uint64_t)(ctl & 0x0f) * 50000;
        net_set_clock(ns, now);
        tcp_timers_run(ns->tcp);
        tcp_flush_acks(ns->tcp);
    }
    (void)last_dport;
    for (int i = 0; i < 40; i++) { /* forty minutes: past every backoff */
        now += 60000000;
        net_set_clock(ns, now);
        tcp_timers_run(ns->tcp);
        tcp_flush_acks(ns->tcp);
    }
    check_not_stuck(ns);
    net_destroy(ns);
    return 0;
}
