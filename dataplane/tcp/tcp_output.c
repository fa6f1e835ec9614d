/* tcp_output.c — segments leaving a connection: tcp_output sends new data
 * (and the FIN after the last byte once the application closed) as far as
 * the send window and cwnd minus the pipe (RFC 6675) allow, in MSS-sized
 * segments with the timestamp option when negotiated and SACK blocks while
 * our out-of-order queue holds data; or a pure ACK when one is owed. Each
 * new segment is recorded for loss recovery (tcp_recovery.c). Also the
 * SYN-ACK (or an active open's SYN) with our options, and RSTs for segments
 * that have no connection.
 * Checksums are computed in software over the finished segment, or left
 * to the NIC (tx_csum_offload: the pseudo-header sum only).
 */
#include "tcp.h"

#include <string.h>
#include "../net/netstack.h"

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define L4_OFF (NET_ETH_HLEN + NET_IP_HLEN)

/* Write the header and checksum of a segment already laid out at t. */
static void finish(netstack *ns, void *h, uint8_t *frame, uint32_t lip, uint32_t rip,
                   uint16_t lport, uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags,
                   uint16_t wnd, size_t optlen, size_t seglen) {
    uint8_t *t = frame + L4_OFF;
    net_wr16(t, lport);
    net_wr16(t + 2, rport);
    net_wr32(t + 4, seq);
    net_wr32(t + 8, ack);
    t[12] = (uint8_t)(((20 + optlen) / 4) << 4);
    t[13] = flags;
    net_wr16(t + 14, wnd);
    net_wr16(t + 16, 0);
    net_wr16(t + 18, 0);
    uint32_t sum = net_csum_pseudo(lip, rip, NET_PROTO_TCP, (uint16_t)seglen);
    if (ns->tx_csum_offload) net_wr16(t + 16, (uint16_t)~net_csum_fold(sum)); /* NIC finishes */
    else net_wr16(t + 16, net_csum_fold(net_csum_add(sum, t, seglen)));
    NS_INC(ns->st.tcp_tx_segs);
    if (flags & TH_RST) NS_INC(ns->st.tcp_rst_tx);
    ipv4_output(ns, h, frame, rip, NET_PROTO_TCP, seglen);
}

static uint16_t adv_window(const tcp_conn *tc) {
    if (!(tc->flags & TF_WS)) return 65535;
    uint32_t w = TCP_RCV_WND >> tc->rcv_wscale;
    return w > 65535 ? 65535 : (uint16_t)w;
}

static size_t put_ts(const tcp_conn *tc, uint8_t *o) {
    o[0] = 1;
    o[1] = 1;
    o[2] = 8;
    o[3] = 10;
    net_wr32(o + 4, (uint32_t)tc->ts->ns->now_ms);
    net_wr32(o + 8, tc->ts_recent);
    return 12;
}

void tcp_send_segment(tcp_conn *tc, uint32_t seq, uint32_t len, int fin) {
    netstack *ns = tc->ts->ns;
    size_t optlen = (tc->flags & TF_TS) ? 12 : 0;
    /* SACK blocks fit in the 40 option bytes beside the timestamps; on a
     * data segment only where the payload leaves room within the MSS. */
    uint8_t sack[36];
    size_t sacklen = tcp_sack_option(tc, sack, 40 - optlen);
    if (sacklen && len + sacklen > tc->mss) sacklen = 0;
    void *h;
    uint8_t *f = ns->ops->tx_alloc(ns->ops_ctx, L4_OFF + 20 + optlen + sacklen + len, &h);
    if (!f) {
        NS_INC(ns->st.tx_dropped);
        return;
    }
    uint8_t *t = f + L4_OFF;
    if (optlen) put_ts(tc, t + 20);
    memcpy(t + 20 + optlen, sack, sacklen);
    optlen += sacklen;
    if (len) {
        uint32_t off = (tc->shead + (seq - tc->snd_una)) & (tc->scap - 1);
        uint32_t first = tc->scap - off;
        if (first > len) first = len;
        memcpy(t + 20 + optlen, tc->sbuf + off, first);
        memcpy(t + 20 + optlen + first, tc->sbuf, len - first);
    }
    if (seq_lt(seq, tc->snd_max)) NS_INC(ns->st.tcp_retransmits);
    uint8_t flags = TH_ACK | (len ? TH_PSH : 0) | (fin ? TH_FIN : 0);
    tc->flags &= (uint16_t)~TF_ACKNOW;
    finish(ns, h, f, tc->lip, tc->rip, tc->lport, tc->rport, seq, tc->rcv_nxt, flags,
           adv_window(tc), optlen, 20 + optlen + len);
}

void tcp_send_synack(tcp_conn *tc) {
    netstack *ns = tc->ts->ns;
    void *h;
    uint8_t *f = ns->ops->tx_alloc(ns->ops_ctx, L4_OFF + 40, &h);
    if (!f) {
        NS_INC(ns->st.tx_dropped);
        return;
    }
    uint8_t *o = f + L4_OFF + 20;
    size_t ol = 0;
    o[ol++] = 2; /* MSS */
    o[ol++] = 4;
    net_wr16(o + ol, (uint16_t)(ns->mtu - NET_IP_HLEN - 20));
    ol += 2;
    if (tc->flags & TF_WS) {
        o[ol++] = 1;
        o[ol++] = 3;
        o[ol++] = 3;
        o[ol++] = tc->rcv_wscale;
    }
    if ((tc->flags & (TF_TS | TF_SACK)) == (TF_TS | TF_SACK)) {
        /* SACK-permitted takes the two NOPs before the timestamps. */
        ol += put_ts(tc, o + ol);
        o[ol - 12] = 4;
        o[ol - 11] = 2;
    } else if (tc->flags & TF_TS) {
        ol += put_ts(tc, o + ol);
    } else if (tc->flags & TF_SACK) {
        o[ol++] = 1;
        o[ol++] = 1;
        o[ol++] = 4;
        o[ol++] = 2;
    }
    if (tc->snd_max != tc->iss + 1) tc->snd_max = tc->iss + 1;
    int syn_only = tc->state == TCP_SYN_SENT; /* an active open's SYN */
    finish(ns, h, f, tc->lip, tc->rip, tc->lport, tc->rport, tc->iss, syn_only ? 0 : tc->rcv_nxt,
           (uint8_t)(TH_SYN | (syn_only ? 0 : TH_ACK)), 65535, ol, 20 + ol);
}

void tcp_send_rst(tcp_stack *ts, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport,
                  uint32_t seq, uint32_t ack, int with_ack) {
    netstack *ns = ts->ns;
    void *h;
    uint8_t *f = ns->ops->tx_alloc(ns->ops_ctx, L4_OFF + 20, &h);
    if (!f) {
        NS_INC(ns->st.tx_dropped);
        return;
    }
    finish(ns, h, f, lip, rip, lport, rport, seq, with_ack ? ack : 0,
           (uint8_t)(TH_RST | (with_ack ? TH_ACK : 0)), 0, 0, 20);
}

static int fin_state(int s) {
    return s == TCP_ESTABLISHED || s == TCP_CLOSE_WAIT || s == TCP_FIN_WAIT_1 ||
           s == TCP_CLOSING || s == TCP_LAST_ACK;
}

void tcp_output(tcp_conn *tc, int force_ack) {
    int st = tc->state;
    if (st == TCP_TIME_WAIT || st == TCP_FIN_WAIT_2) {
        if (force_ack) tcp_send_segment(tc, tc->snd_nxt, 0, 0);
        return;
    }
    if (st < TCP_ESTABLISHED) return;
    int sent = 0;
    for (;;) {
        uint32_t off = tc->snd_nxt - tc->snd_una;
        uint32_t unsent = tc->slen > off ? tc->slen - off : 0;
        uint32_t pipe = tcp_rec_pipe(tc);
        uint32_t cw = tc->cwnd > pipe ? tc->cwnd - pipe : 0;
        uint32_t rw = tc->snd_wnd > off ? tc->snd_wnd - off : 0;
        uint32_t can = cw < rw ? cw : rw;
        uint32_t len = unsent < can ? unsent : can;
        if (len > tc->mss) len = tc->mss;
        int fin = (tc->flags & TF_APP_CLOSED) && !(tc->flags & TF_FIN_SENT) && len == unsent &&
                  fin_state(tc->state);
        if (len == 0 && !fin) break;
        if (!(tc->flags & (TF_TS | TF_RTT)) && len && tc->snd_nxt == tc->snd_max) {
            tc->flags |= TF_RTT;
            tc->rtt_seq = tc->snd_nxt + len;
            tc->rtt_start_us = tc->ts->ns->now_us;
        }
        tcp_send_segment(tc, tc->snd_nxt, len, fin);
        tcp_rec_sent(tc, tc->snd_nxt, tc->snd_nxt + len + (fin ? 1 : 0), fin);
        tc->snd_nxt += len + (fin ? 1 : 0);
        if (seq_gt(tc->snd_nxt, tc->snd_max)) tc->snd_max = tc->snd_nxt;
        if (fin) {
            tc->flags |= TF_FIN_SENT;
            if (tc->state == TCP_ESTABLISHED) tcp_set_state(tc, TCP_FIN_WAIT_1);
            else if (tc->state == TCP_CLOSE_WAIT) tcp_set_state(tc, TCP_LAST_ACK);
        }
        sent = 1;
        if (fin) break;
    }
    if (sent) tcp_rec_arm_on_send(tc);
    if (!sent && force_ack) tcp_send_segment(tc, tc->snd_nxt, 0, 0);
    /* Data waits on a closed window with nothing in flight: probe later. */
    if (tc->snd_nxt == tc->snd_una && tc->slen && tc->snd_wnd == 0 && tcp_timer_idle(tc))
        tcp_timer_set(tc, tc->rto_ms);
}
