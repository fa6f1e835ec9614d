/* tcp_input.c — a segment arrives (RFC 9293 3.10.7), in the RFC's order:
 * checksum and header checks; no connection -> LISTEN processing (new
 * SYN_RCVD, bounded by the backlog, then SYN cookies; an ACK may return a
 * cookie) or a RST for a closed port; otherwise
 * sequence acceptability and PAWS (RFC 7323 5), RST and SYN with RFC 5961
 * protections (challenge ACKs), ACK processing (send buffer release, RTT
 * sample, SACK blocks and loss recovery in tcp_recovery.c, window update,
 * FIN acknowledged), in-order data to the application with the
 * out-of-order queue drained behind it (its runs reported as SACK blocks),
 * and finally FIN. An active open's SYN_SENT state has its own handler
 * (syn_sent_input).
 */
#include "tcp.h"

#include <string.h>
#include "../net/netstack.h"
#include "../../platform/mem.h"

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

typedef struct seg_info {
    uint32_t seq, ack;
    uint16_t sport, dport, wnd;
    uint8_t flags;
    const uint8_t *data;
    uint32_t len;
    int has_ts, ws, sack_ok, nsack;
    uint16_t mss;
    uint32_t tsval, tsecr;
    uint32_t sack[8];     /* left, right edge pairs (RFC 2018 3) */
} seg_info;

/* Options are bounds-checked one by one; a malformed list ends parsing. */
static void parse_options(const uint8_t *o, size_t n, seg_info *s) {
    size_t i = 0;
    while (i < n) {
        uint8_t kind = o[i];
        if (kind == 0) break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= n) break;
        uint8_t l = o[i + 1];
        if (l < 2 || i + l > n) break;
        if (kind == 2 && l == 4) s->mss = net_rd16(o + i + 2);
        else if (kind == 3 && l == 3) s->ws = o[i + 2];
        else if (kind == 4 && l == 2) s->sack_ok = 1;
        else if (kind == 5 && l >= 10 && (l - 2) % 8 == 0 && l <= 34) {
            s->nsack = (l - 2) / 8;
            for (int b = 0; b < s->nsack; b++) {
                s->sack[2 * b] = net_rd32(o + i + 2 + 8 * b);
                s->sack[2 * b + 1] = net_rd32(o + i + 6 + 8 * b);
            }
        } else if (kind == 8 && l == 10) {
            s->has_ts = 1;
            s->tsval = net_rd32(o + i + 2);
            s->tsecr = net_rd32(o + i + 6);
        }
        i += l;
    }
}

static void send_ack_now(tcp_conn *tc) { tcp_send_segment(tc, tc->snd_nxt, 0, 0); }

static void challenge_ack(tcp_conn *tc) {
    NS_INC(tc->ts->ns->st.tcp_challenge_acks);
    send_ack_now(tc);
}

static void conn_input(tcp_conn *tc, const seg_info *s);

/* The SYN queue is full: a SYN-ACK whose ISS is a cookie, no state kept. */
static void send_cookie(tcp_stack *ts, uint32_t src, uint32_t dst, const seg_info *s) {
    tcp_conn tmp;
    memset(&tmp, 0, sizeof(tmp));
    tmp.ts = ts;
    tmp.lip = dst;
    tmp.rip = src;
    tmp.lport = s->dport;
    tmp.rport = s->sport;
    tmp.irs = s->seq;
    tmp.rcv_nxt = s->seq + 1;
    if (s->ws >= 0) {
        tmp.flags |= TF_WS;
        tmp.rcv_wscale = TCP_RCV_WSCALE;
    }
    if (s->has_ts) {
        tmp.flags |= TF_TS;
        tmp.ts_recent = s->tsval;
    }
    if (s->sack_ok) tmp.flags |= TF_SACK;
    tmp.iss = tcp_cookie_make(ts, dst, s->dport, src, s->sport, s->seq,
                              s->mss ? s->mss : 536, s->ws, s->sack_ok);
    NS_INC(ts->ns->st.tcp_syncookies_sent);
    tcp_send_synack(&tmp);
}

/* An ACK with no connection may complete a cookie handshake: 1 when it did
 * (the connection exists now, the segment processed), 0 otherwise. */
static int cookie_accept(tcp_stack *ts, uint32_t src, uint32_t dst, const seg_info *s) {
    netstack *ns = ts->ns;
    if (!ns->st.tcp_syncookies_sent) return 0;
    uint16_t mss;
    int ws, sack;
    if (tcp_cookie_check(ts, dst, s->dport, src, s->sport, s->seq - 1, s->ack - 1, &mss,
                         &ws, &sack) < 0) {
        NS_INC(ns->st.tcp_syncookies_failed);
        return 0;
    }
    tcp_conn *tc = tcp_conn_new(ts, src, s->sport, dst, s->dport);
    if (!tc) return 1;
    tc->irs = s->seq - 1;
    tc->rcv_nxt = s->seq;
    if (ws >= 0) {
        tc->flags |= TF_WS;
        tc->snd_wscale = (uint8_t)ws;
        tc->rcv_wscale = TCP_RCV_WSCALE;
    }
    if (s->has_ts) {
        tc->flags |= TF_TS;
        tc->ts_recent = s->tsval;
    }
    if (sack) tc->flags |= TF_SACK;
    uint32_t m = (uint32_t)ns->mtu - NET_IP_HLEN - 20;
    if (mss < m) m = mss;
    if (tc->flags & TF_TS) m -= 12;
    tc->mss = (uint16_t)m;
    tc->iss = s->ack - 1;
    tc->snd_una = tc->snd_nxt = tc->snd_max = s->ack;
    tc->cwnd = 10 * m;
    tc->snd_wnd = (uint32_t)s->wnd << tc->snd_wscale;
    tc->snd_wl1 = s->seq;
    tc->snd_wl2 = s->ack;
    tcp_set_state(tc, TCP_ESTABLISHED);
    NS_INC(ns->st.tcp_passive_opens);
    NS_INC(ns->st.tcp_syncookies_ok);
    if (!ts->app || ts->app->accepted(ts->app_ctx, tc) < 0) {
        tcp_send_rst(ts, dst, s->dport, src, s->sport, s->ack, 0, 0);
        tcp_conn_free(tc);
        return 1;
    }
    conn_input(tc, s); /* data riding on the ACK, a FIN */
    return 1;
}

/* Our SYN is out (RFC 9293 3.10.7.3): an acceptable ACK must cover exactly
 * our SYN; a RST counts only with such an ACK (RFC 5961 3.2 applies the
 * same test); a SYN-ACK completes the open, a bare SYN is a simultaneous
 * open (SYN_RCVD, our SYN-ACK). Also reached in SYN_RCVD of an active open
 * for the peer's SYN-ACK, which completes it without waiting for an ACK. */
static void syn_sent_input(tcp_conn *tc, const seg_info *s) {
    tcp_stack *ts = tc->ts;
    netstack *ns = ts->ns;
    int ack = !!(s->flags & TH_ACK);
    if (ack && (seq_le(s->ack, tc->iss) || seq_gt(s->ack, tc->snd_max))) {
        if (!(s->flags & TH_RST))
            tcp_send_rst(ts, tc->lip, tc->lport, tc->rip, tc->rport, s->ack, 0, 0);
        return;
    }
    if (s->flags & TH_RST) {
        if (ack) {
            NS_INC(ns->st.tcp_rst_rx);
            tcp_connect_fail(tc, 1); /* connection refused */
        }
        return;
    }
    if (!(s->flags & TH_SYN)) return;
    if (tc->state == TCP_SYN_RCVD) {
        if (!ack && s->seq == tc->irs) tcp_send_synack(tc); /* ours was lost */
        if (!ack || s->seq != tc->irs) return;
    }
    tc->irs = s->seq;
    tc->rcv_nxt = s->seq + 1;
    /* Options: each stays only if both sides sent it (RFC 7323 2.2, 3.2). */
    if (s->ws >= 0) {
        tc->snd_wscale = (uint8_t)(s->ws > 14 ? 14 : s->ws);
    } else {
        tc->flags &= (uint16_t)~TF_WS;
        tc->snd_wscale = tc->rcv_wscale = 0;
    }
    if (s->has_ts) tc->ts_recent = s->tsval;
    else tc->flags &= (uint16_t)~TF_TS;
    if (!s->sack_ok) tc->flags &= (uint16_t)~TF_SACK;
    uint32_t mss = (uint32_t)ns->mtu - NET_IP_HLEN - 20;
    uint32_t peer_mss = s->mss ? s->mss : 536;
    if (peer_mss < mss) mss = peer_mss;
    if (tc->flags & TF_TS) mss -= 12;
    if (mss < 64) mss = 64;
    tc->mss = (uint16_t)mss;
    tc->cwnd = 10 * mss;
    tc->snd_wnd = s->wnd; /* never scaled in a SYN */
    tc->snd_wl1 = s->seq;
    tc->snd_wl2 = s->ack;
    tc->last_rx_ms = ns->now_ms;
    if (!ack) {
        /* Simultaneous open: both SYNs crossed. */
        tc->retries = tc->backoff = 0;
        tcp_set_state(tc, TCP_SYN_RCVD);
        tcp_send_synack(tc);
        tcp_timer_set(tc, TCP_RTO_INIT_MS);
        return;
    }
    tc->snd_una = s->ack;
    tc->retries = tc->backoff = 0;
    tcp_timer_cancel(tc);
    if ((tc->flags & TF_TS) && s->tsecr)
        tcp_rto_update(tc, (int64_t)((uint32_t)ns->now_ms - s->tsecr) * 1000);
    tcp_set_state(tc, TCP_ESTABLISHED);
    send_ack_now(tc); /* data riding on the SYN-ACK is rare: the peer resends it */
    if (tc->app && ts->app && ts->app->connected) ts->app->connected(tc);
}

static void listen_input(tcp_stack *ts, uint32_t src, uint32_t dst, const seg_info *s) {
    netstack *ns = ts->ns;
    if (s->flags & TH_RST) return;
    if (!ts->listen_port || s->dport != ts->listen_port) {
        /* Closed port (RFC 9293 3.10.7.1). */
        if (s->flags & TH_ACK)
            tcp_send_rst(ts, dst, s->dport, src, s->sport, s->ack, 0, 0);
        else
            tcp_send_rst(ts, dst, s->dport, src, s->sport, 0,
                         s->seq + s->len + !!(s->flags & TH_SYN) + !!(s->flags & TH_FIN), 1);
        return;
    }
    if (s->flags & TH_ACK) {
        if (!(s->flags & TH_SYN) && cookie_accept(ts, src, dst, s)) return;
        tcp_send_rst(ts, dst, s->dport, src, s->sport, s->ack, 0, 0);
        return;
    }
    if (!(s->flags & TH_SYN)) return;
    if (ns->st.tcp_syn_rcvd >= ts->backlog) {
        send_cookie(ts, src, dst, s);
        return;
    }
    tcp_conn *tc = tcp_conn_new(ts, src, s->sport, dst, s->dport);
    if (!tc) {
        NS_INC(ns->st.tcp_syn_dropped);
        return;
    }
    tc->irs = s->seq;
    tc->rcv_nxt = s->seq + 1;
    if (s->ws >= 0) {
        tc->flags |= TF_WS;
        tc->snd_wscale = (uint8_t)(s->ws > 14 ? 14 : s->ws);
        tc->rcv_wscale = TCP_RCV_WSCALE;
    }
    if (s->has_ts) {
        tc->flags |= TF_TS;
        tc->ts_recent = s->tsval;
    }
    if (s->sack_ok) tc->flags |= TF_SACK;
    uint32_t peer_mss = s->mss ? s->mss : 536;
    uint32_t mss = (uint32_t)ns->mtu - NET_IP_HLEN - 20;
    if (peer_mss < mss) mss = peer_mss;
    if (tc->flags & TF_TS) mss -= 12;
    if (mss < 64) mss = 64;
    tc->mss = (uint16_t)mss;
    tc->snd_wnd = s->wnd; /* never scaled in a SYN */
    tc->iss = tcp_isn(ts, dst, s->dport, src, s->sport);
    tc->snd_una = tc->iss;
    tc->snd_nxt = tc->snd_max = tc->iss + 1;
    tc->cwnd = 10 * mss;
    tcp_set_state(tc, TCP_SYN_RCVD);
    NS_INC(ns->st.tcp_passive_opens);
    tcp_send_synack(tc);
    tcp_timer_set(tc, TCP_RTO_INIT_MS);
}

static int acceptable(const tcp_conn *tc, const seg_info *s, uint32_t seglen) {
    uint32_t lo = tc->rcv_nxt, wnd = TCP_RCV_WND;
    if (seglen == 0) return s->seq == lo || (seq_ge(s->seq, lo) && seq_lt(s->seq, lo + wnd));
    uint32_t last = s->seq + seglen - 1;
    return (seq_ge(s->seq, lo) && seq_lt(s->seq, lo + wnd)) ||
           (seq_ge(last, lo) && seq_lt(last, lo + wnd));
}

static void deliver(tcp_conn *tc, const uint8_t *p, uint32_t n) {
    if (!n) return;
    /* Before the callback: the application may poll the stack again from
     * inside it (a busy script), and must find the bytes taken. */
    tc->rcv_nxt += n;
    if (tc->app && tc->ts->app) tc->ts->app->recv(tc, p, n);
}

/* Keep a segment beyond rcv_nxt, ordered by sequence, bounded. */
static void ooo_insert(tcp_conn *tc, uint32_t seq, const uint8_t *p, uint32_t n, int fin) {
    NS_INC(tc->ts->ns->st.tcp_ooo_segs);
    if (n) tcp_sack_note(tc, seq);
    tcp_ooo **pp = &tc->ooo;
    while (*pp && seq_lt((*pp)->seq, seq)) pp = &(*pp)->next;
    if (*pp && (*pp)->seq == seq && (*pp)->len >= n) return; /* duplicate */
    if (tc->nooo >= TCP_OOO_MAX) return;
    tcp_ooo *o = cb_try_malloc(sizeof(*o) + n);
    if (!o) return;
    o->seq = seq;
    o->len = n;
    o->fin = fin;
    memcpy(o->data, p, n);
    o->next = *pp;
    *pp = o;
    tc->nooo++;
}

/* Deliver queued segments that rcv_nxt has reached; 1 if one carried FIN. */
static int ooo_drain(tcp_conn *tc) {
    int fin = 0;
    while (tc->ooo && seq_le(tc->ooo->seq, tc->rcv_nxt)) {
        tcp_ooo *o = tc->ooo;
        tc->ooo = o->next;
        tc->nooo--;
        uint32_t end = o->seq + o->len;
        if (seq_gt(end, tc->rcv_nxt)) {
            uint32_t skip = tc->rcv_nxt - o->seq;
            deliver(tc, o->data + skip, o->len - skip);
        }
        if (o->fin && end == tc->rcv_nxt) fin = 1;
        cb_free(o);
        if (fin) break;
    }
    return fin;
}

/* ACK field processing for synchronized states. 0 go on, 1 stop (freed or
 * answered). */
static int ack_input(tcp_conn *tc, const seg_info *s) {
    netstack *ns = tc->ts->ns;
    uint32_t swnd = (uint32_t)s->wnd << tc->snd_wscale;
    if (seq_gt(s->ack, tc->snd_max)) {
        send_ack_now(tc); /* acknowledges something we never sent */
        return 1;
    }
    int progress = seq_gt(s->ack, tc->snd_una), dupack = 0;
    uint32_t acked = s->ack - tc->snd_una;
    int fin_acked = 0;
    uint32_t data = 0;
    if (progress) {
        data = acked < tc->slen ? acked : tc->slen;
        fin_acked = (tc->flags & TF_FIN_SENT) && s->ack == tc->snd_max && acked > data;
        tc->shead = tc->scap ? (tc->shead + data) & (tc->scap - 1) : 0;
        tc->slen -= data;
        tcp_sbuf_trim(tc);
        tc->snd_una = s->ack;
        if (seq_lt(tc->snd_nxt, tc->snd_una)) tc->snd_nxt = tc->snd_una;
        if ((tc->flags & TF_TS) && s->has_ts && s->tsecr)
            tcp_rto_update(tc, (int64_t)((uint32_t)ns->now_ms - s->tsecr) * 1000);
        else if ((tc->flags & TF_RTT) && seq_ge(s->ack, tc->rtt_seq)) {
            tcp_rto_update(tc, (int64_t)(ns->now_us - tc->rtt_start_us));
            tc->flags &= (uint16_t)~TF_RTT;
        }
        tc->retries = 0;
        tc->backoff = 0;
        tc->dupacks = 0;
        tcp_rec_acked(tc, s->ack);
    } else if (s->ack == tc->snd_una && s->len == 0 && !(s->flags & TH_FIN) &&
               tc->snd_max != tc->snd_una && swnd == tc->snd_wnd && !(tc->flags & TF_SACK)) {
        /* Duplicate ACK (RFC 5681 3.2); with SACK, RACK decides instead. */
        tc->dupacks++;
        dupack = 1;
    }
    if (s->nsack && (tc->flags & TF_SACK)) tcp_rec_sack(tc, s->sack, s->nsack, s->ack);
    if (tc->snd_max != tc->snd_una || progress)
        tcp_rec_on_ack(tc, progress, acked, dupack);
    if (progress) {
        if (fin_acked) {
            if (tc->state == TCP_FIN_WAIT_1) {
                tcp_set_state(tc, TCP_FIN_WAIT_2);
                tcp_timer_set(tc, TCP_FIN_WAIT_2_MS);
            } else if (tc->state == TCP_CLOSING) {
                tcp_set_state(tc, TCP_TIME_WAIT);
                tcp_timer_set(tc, TCP_TIME_WAIT_MS);
            } else if (tc->state == TCP_LAST_ACK) {
                tcp_conn_free(tc);
                return 1;
            }
        }
        if (data && tc->app && tc->ts->app) tc->ts->app->writable(tc);
    }
    /* Window update (RFC 9293 3.10.7.4, SND.WL1/WL2). */
    if (seq_lt(tc->snd_wl1, s->seq) || (tc->snd_wl1 == s->seq && seq_le(tc->snd_wl2, s->ack))) {
        tc->snd_wnd = swnd;
        tc->snd_wl1 = s->seq;
        tc->snd_wl2 = s->ack;
    }
    return 0;
}

static void conn_input(tcp_conn *tc, const seg_info *s) {
    tcp_stack *ts = tc->ts;
    netstack *ns = ts->ns;
    uint32_t seglen = s->len + !!(s->flags & TH_SYN) + !!(s->flags & TH_FIN);

    if (tc->state == TCP_SYN_SENT ||
        (tc->state == TCP_SYN_RCVD && (tc->flags & TF_ACTIVE) && (s->flags & TH_SYN))) {
        syn_sent_input(tc, s);
        return;
    }
    if (tc->state == TCP_SYN_RCVD && (s->flags & TH_SYN) && s->seq == tc->irs &&
        !(s->flags & TH_ACK)) {
        tcp_send_synack(tc); /* our SYN-ACK was lost: the peer resent its SYN */
        return;
    }
    /* 1. Sequence number acceptability, then PAWS. */
    if (!acceptable(tc, s, seglen)) {
        if (!(s->flags & TH_RST)) send_ack_now(tc);
        return;
    }
    if ((tc->flags & TF_TS) && s->has_ts && !(s->flags & TH_RST) &&
        seq_lt(s->tsval, tc->ts_recent)) {
        send_ack_now(tc);
        return;
    }
    tc->last_rx_ms = ns->now_ms;
    tc->ka_probes = 0;
    /* 2. RST: only the exact next sequence resets (RFC 5961 3.2). */
    if (s->flags & TH_RST) {
        if (s->seq == tc->rcv_nxt) {
            NS_INC(ns->st.tcp_rst_rx);
            if (tc->state == TCP_SYN_RCVD && (tc->flags & TF_ACTIVE)) tcp_connect_fail(tc, 1);
            else if (tc->state == TCP_SYN_RCVD || tc->state == TCP_TIME_WAIT) tcp_conn_free(tc);
            else tcp_abort(tc);
        } else {
            challenge_ack(tc);
        }
        return;
    }
    /* 3. SYN in a synchronized state: challenge ACK (RFC 5961 4.2). */
    if (s->flags & TH_SYN) {
        challenge_ack(tc);
        return;
    }
    /* 4. ACK. */
    if (!(s->flags & TH_ACK)) return;
    if (tc->state == TCP_SYN_RCVD) {
        if (!(seq_gt(s->ack, tc->snd_una) && seq_le(s->ack, tc->snd_max))) {
            tcp_send_rst(ts, tc->lip, tc->lport, tc->rip, tc->rport, s->ack, 0, 0);
            return;
        }
        tc->snd_una = s->ack;
        tc->snd_wnd = (uint32_t)s->wnd << tc->snd_wscale;
        tc->snd_wl1 = s->seq;
        tc->snd_wl2 = s->ack;
        tc->retries = tc->backoff = 0;
        tcp_timer_cancel(tc);
        if ((tc->flags & TF_TS) && s->has_ts && s->tsecr)
            tcp_rto_update(tc, (int64_t)((uint32_t)ns->now_ms - s->tsecr) * 1000);
        tcp_set_state(tc, TCP_ESTABLISHED);
        if (tc->flags & TF_ACTIVE) {
            /* A simultaneous open completed by the peer's ACK. */
            if (tc->app && ts->app && ts->app->connected) ts->app->connected(tc);
        } else if (!ts->app || ts->app->accepted(ts->app_ctx, tc) < 0) {
            tcp_send_rst(ts, tc->lip, tc->lport, tc->rip, tc->rport, tc->snd_nxt, 0, 0);
            tcp_conn_free(tc);
            return;
        }
    } else if (ack_input(tc, s)) {
        return;
    }
    /* Timestamp to echo (RFC 7323 4.3): the segment covers our last ACK. */
    if ((tc->flags & TF_TS) && s->has_ts && seq_le(s->seq, tc->rcv_nxt)) tc->ts_recent = s->tsval;

    /* 5. Data and FIN. */
    int fin = 0;
    if (s->len || (s->flags & TH_FIN)) {
        int st = tc->state;
        if (st != TCP_ESTABLISHED && st != TCP_FIN_WAIT_1 && st != TCP_FIN_WAIT_2) {
            /* After the peer's FIN: only a retransmitted FIN, to ACK again. */
            if (st == TCP_TIME_WAIT) tcp_timer_set(tc, TCP_TIME_WAIT_MS);
            send_ack_now(tc);
            return;
        }
        const uint8_t *p = s->data;
        uint32_t n = s->len, seq = s->seq;
        int sfin = !!(s->flags & TH_FIN);
        if (seq_lt(seq, tc->rcv_nxt)) {
            uint32_t d = tc->rcv_nxt - seq;
            if (d > n) { /* all old; FIN (if any) at or before rcv_nxt */
                sfin = 0;
                d = n;
            }
            p += d;
            n -= d;
            seq = tc->rcv_nxt;
        }
        if (seq_gt(seq + n, tc->rcv_nxt + TCP_RCV_WND)) {
            n = tc->rcv_nxt + TCP_RCV_WND - seq;
            sfin = 0;
        }
        if (n && !tc->app && (tc->flags & TF_APP_CLOSED)) {
            /* New data for an application that has closed: reset (as Linux
             * does), so the peer learns it was not read. */
            tcp_send_rst(ts, tc->lip, tc->lport, tc->rip, tc->rport, tc->snd_nxt, 0, 0);
            tcp_conn_free(tc);
            return;
        }
        if (seq == tc->rcv_nxt) {
            int had_ooo = tc->ooo != NULL;
            deliver(tc, p, n);
            fin = sfin;
            if (!fin && had_ooo) fin = ooo_drain(tc);
            /* A hole filled (RFC 5681 4.2): tell the sender at once. A FIN
             * is acknowledged below. */
            if (had_ooo && !fin) send_ack_now(tc);
            else if (n) tcp_ack_later(tc);
        } else if (n || sfin) {
            ooo_insert(tc, seq, p, n, sfin);
            send_ack_now(tc); /* duplicate ACK: the sender learns of the hole */
        }
    }
    /* A tapped application may have taken this FIN already, from a
     * retransmission processed inside deliver(). */
    if (fin && !(tc->flags & TF_FIN_RCVD)) {
        tc->rcv_nxt++;
        tc->flags |= TF_FIN_RCVD;
        /* Owed until the end of the turn: the application's close usually
         * sends our FIN in the same turn, and that carries the ACK. */
        tcp_ack_later(tc);
        switch (tc->state) {
        case TCP_ESTABLISHED: {
            tcp_set_state(tc, TCP_CLOSE_WAIT);
            void *app = tc->app;
            tc->app = NULL;
            if (app && ts->app) ts->app->closed(app, 0);
            break;
        }
        case TCP_FIN_WAIT_1:
            if (tc->snd_una == tc->snd_max && (tc->flags & TF_FIN_SENT)) {
                tcp_set_state(tc, TCP_TIME_WAIT);
                tcp_timer_set(tc, TCP_TIME_WAIT_MS);
            } else {
                tcp_set_state(tc, TCP_CLOSING);
            }
            break;
        case TCP_FIN_WAIT_2:
            tcp_set_state(tc, TCP_TIME_WAIT);
            tcp_timer_set(tc, TCP_TIME_WAIT_MS);
            break;
        default:
            break;
        }
    }
    tcp_output(tc, 0);
    tcp_keepalive_arm(tc);
}

/* Keep a held connection's segment whole; beyond the bound it is dropped
 * (the peer retransmits: nothing here was acknowledged). */
static void defer_segment(tcp_stack *ts, uint32_t src, uint32_t dst, const uint8_t *seg,
                          size_t len) {
    if (ts->deferred_bytes + len > 2 * TCP_RCV_WND) return;
    tcp_deferred *d = cb_try_malloc(sizeof(*d) + len);
    if (!d) return;
    d->next = NULL;
    d->src = src;
    d->dst = dst;
    d->len = (uint32_t)len;
    memcpy(d->data, seg, len);
    if (!ts->deferred) ts->deferred_tail = &ts->deferred;
    *ts->deferred_tail = d;
    ts->deferred_tail = &d->next;
    ts->deferred_bytes += (uint32_t)len;
}

static void segment_input(tcp_stack *ts, uint32_t src, uint32_t dst, const uint8_t *seg,
                          size_t len) {
    netstack *ns = ts->ns;
    if (len < 20) {
        NS_INC(ns->st.rx_malformed);
        return;
    }
    size_t doff = (size_t)(seg[12] >> 4) * 4;
    if (doff < 20 || doff > len) {
        NS_INC(ns->st.rx_malformed);
        return;
    }
    uint32_t sum = net_csum_pseudo(src, dst, NET_PROTO_TCP, (uint16_t)len);
    if (!(ns->rx_csum_ok & NET_CSUM_L4) && net_csum_fold(net_csum_add(sum, seg, len)) != 0) {
        NS_INC(ns->st.rx_csum_errors);
        return;
    }
    seg_info s;
    memset(&s, 0, sizeof(s));
    s.ws = -1;
    s.sport = net_rd16(seg);
    s.dport = net_rd16(seg + 2);
    s.seq = net_rd32(seg + 4);
    s.ack = net_rd32(seg + 8);
    s.flags = seg[13];
    s.wnd = net_rd16(seg + 14);
    s.data = seg + doff;
    s.len = (uint32_t)(len - doff);
    parse_options(seg + 20, doff - 20, &s);
    tcp_conn *tc = tcp_lookup(ts, src, s.sport, dst, s.dport);
    if (!tc) {
        listen_input(ts, src, dst, &s);
        return;
    }
    if (tc->flags & TF_HOLD) {
        defer_segment(ts, src, dst, seg, len);
        return;
    }
    if ((tc->flags & TF_TAP) &&
        ((tc->flags & TF_GONE) || ((s.flags & TH_RST) && s.seq == tc->rcv_nxt))) {
        /* The reset that would free it (RFC 5961 3.2's exact match) waits,
         * and whatever follows it. */
        tc->flags |= TF_GONE;
        defer_segment(ts, src, dst, seg, len);
        return;
    }
    conn_input(tc, &s);
}

void tcp_input(tcp_stack *ts, uint32_t src, uint32_t dst, const uint8_t *seg, size_t len) {
    NS_INC(ts->ns->st.tcp_rx_segs);
    segment_input(ts, src, dst, seg, len);
}

void tcp_hold(tcp_conn *tc, int on) {
    if (on) {
        tc->flags |= TF_HOLD;
        /* What was delivered is acknowledged now, so the peer does not
         * retransmit it during the hold. */
        tcp_ack_later(tc);
    } else {
        tc->flags &= (uint16_t)~TF_HOLD;
    }
}

void tcp_tap(tcp_conn *tc, int on) {
    if (on) {
        tc->flags |= TF_TAP;
        tcp_ack_later(tc); /* what was delivered, as tcp_hold does */
    } else {
        tc->flags &= (uint16_t)~(TF_TAP | TF_GONE);
    }
}

void tcp_run_deferred(tcp_stack *ts) {
    /* Take the list as it is: a segment whose connection is held again
     * goes back to the (new) list, behind nothing of its own. */
    tcp_deferred *d = ts->deferred;
    ts->deferred = NULL;
    ts->deferred_bytes = 0;
    while (d) {
        tcp_deferred *next = d->next;
        segment_input(ts, d->src, d->dst, d->data, d->len);
        cb_free(d);
        d = next;
    }
}

void tcp_deferred_free(tcp_stack *ts) {
    while (ts->deferred) {
        tcp_deferred *d = ts->deferred;
        ts->deferred = d->next;
        cb_free(d);
    }
    ts->deferred_bytes = 0;
}
