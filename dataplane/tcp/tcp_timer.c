/* tcp_timer.c — one timer per connection on a hashed wheel of 1 ms slots
 * (O(1) arm and cancel; an entry due beyond one revolution waits in its slot
 * until its time), and what each expiry means, by state: SYN-ACK resend,
 * retransmission timeout (RFC 6298 5.4-5.7: back off, collapse cwnd, go
 * back to snd_una), zero-window probe, keepalive (idle tcp-keepalive
 * seconds, then 3 probes a third of that apart, as the kernel plane sets
 * its sockets), FIN_WAIT_2 and TIME_WAIT ends; the tail loss probe and
 * RACK's reordering deadline are tcp_recovery.c's (tc->tkind says which).
 * Also the RTT estimator (RFC 6298 2) and the end-of-turn ACK list.
 */
#include "tcp.h"

#include "../net/netstack.h"

void tcp_timer_cancel(tcp_conn *tc) {
    if (!tc->timer_due_ms) return;
    tcp_stack *ts = tc->ts;
    if (tc->tprev)
        tc->tprev->tnext = tc->tnext;
    else
        ts->wheel[tc->timer_due_ms % TCP_WHEEL_SLOTS] = tc->tnext;
    if (tc->tnext) tc->tnext->tprev = tc->tprev;
    tc->tprev = tc->tnext = NULL;
    tc->timer_due_ms = 0;
}

static void wheel_insert(tcp_stack *ts, tcp_conn *tc) {
    tcp_conn **slot = &ts->wheel[tc->timer_due_ms % TCP_WHEEL_SLOTS];
    tc->tprev = NULL;
    tc->tnext = *slot;
    if (*slot) (*slot)->tprev = tc;
    *slot = tc;
}

void tcp_timer_set(tcp_conn *tc, uint32_t ms) {
    tcp_timer_cancel(tc);
    tc->flags &= (uint16_t)~TF_KATIMER;
    tc->tkind = TK_RTO;
    if (ms == 0) ms = 1;
    uint64_t now = tc->ts->ns->now_ms;
    if (!tc->ts->wheel_ms) tc->ts->wheel_ms = now - 1; /* the wheel starts here */
    /* Never schedule into a slot the wheel has already passed this turn. */
    if (tc->ts->wheel_ms > now) now = tc->ts->wheel_ms;
    tc->timer_due_ms = now + ms;
    wheel_insert(tc->ts, tc);
}

void tcp_rto_update(tcp_conn *tc, int64_t rtt_us) {
    if (rtt_us < 1) rtt_us = 1;
    if (!tc->srtt_us) {
        tc->srtt_us = rtt_us;
        tc->rttvar_us = rtt_us / 2;
    } else {
        int64_t d = tc->srtt_us - rtt_us;
        if (d < 0) d = -d;
        tc->rttvar_us = (3 * tc->rttvar_us + d) / 4;
        tc->srtt_us = (7 * tc->srtt_us + rtt_us) / 8;
    }
    int64_t var = 4 * tc->rttvar_us;
    if (var < 1000) var = 1000; /* clock granularity G = 1 ms */
    int64_t rto = (tc->srtt_us + var) / 1000;
    if (rto < TCP_RTO_MIN_MS) rto = TCP_RTO_MIN_MS;
    if (rto > TCP_RTO_MAX_MS) rto = TCP_RTO_MAX_MS;
    tc->rto_ms = (uint32_t)rto;
}

uint32_t tcp_backed_off(const tcp_conn *tc) {
    uint64_t r = (uint64_t)tc->rto_ms << tc->backoff;
    return r > TCP_RTO_MAX_MS * 2 ? TCP_RTO_MAX_MS * 2 : (uint32_t)r;
}

void tcp_keepalive_arm(tcp_conn *tc) {
    uint32_t ka = tc->ts->keepalive_ms;
    if (!ka || tc->state != TCP_ESTABLISHED || tc->snd_nxt != tc->snd_una || tc->timer_due_ms)
        return;
    uint64_t idle = tc->ts->ns->now_ms - tc->last_rx_ms;
    tcp_timer_set(tc, idle >= ka ? 1 : (uint32_t)(ka - idle));
    tc->flags |= TF_KATIMER;
}

/* The peer is gone: drop the connection, unless it is tapped (tcp_tap):
 * then the application learns it from TF_GONE, and the next expiry, once
 * the tap is off, drops it (retries stay past the limit without growing). */
static void give_up(tcp_conn *tc) {
    if (!(tc->flags & TF_TAP)) {
        tcp_abort(tc);
        return;
    }
    tc->flags |= TF_GONE;
    if (tc->retries > TCP_MAX_RETRIES) tc->retries = TCP_MAX_RETRIES;
    uint16_t ka = tc->flags & TF_KATIMER;
    tcp_timer_set(tc, 10);
    tc->flags |= ka;
}

/* The keepalive timer expired on an idle connection. */
static void keepalive(tcp_conn *tc) {
    uint32_t ka = tc->ts->keepalive_ms;
    if (!ka || tc->state != TCP_ESTABLISHED) return;
    uint64_t idle = tc->ts->ns->now_ms - tc->last_rx_ms;
    if (idle < ka) {
        tcp_keepalive_arm(tc);
        return;
    }
    if (tc->ka_probes >= 3) {
        give_up(tc); /* the peer is gone */
        return;
    }
    tc->ka_probes++;
    NS_INC(tc->ts->ns->st.tcp_keepalive_probes);
    /* An old sequence number: the peer must answer with an ACK. */
    tcp_send_segment(tc, tc->snd_una - 1, 0, 0);
    uint32_t intvl = ka / 3 ? ka / 3 : 1;
    tcp_timer_set(tc, intvl);
    tc->flags |= TF_KATIMER;
}

static void fire(tcp_conn *tc) {
    net_stats *st = &tc->ts->ns->st;
    if (tc->flags & TF_HOLD) {
        /* The application is inside this connection's callback: nothing
         * that may free it now; look again shortly. */
        uint16_t ka = tc->flags & TF_KATIMER;
        uint8_t kind = tc->tkind;
        tcp_timer_set(tc, 10);
        tc->flags |= ka;
        tc->tkind = kind;
        return;
    }
    if (tc->flags & TF_KATIMER) {
        tc->flags &= (uint16_t)~TF_KATIMER;
        keepalive(tc);
        return;
    }
    switch (tc->state) {
    case TCP_SYN_SENT:
        tcp_syn_timeout(tc);
        return;
    case TCP_SYN_RCVD:
        if (++tc->retries > TCP_SYNACK_RETRIES) {
            if (tc->flags & TF_ACTIVE) tcp_connect_fail(tc, 2); /* simultaneous open */
            else tcp_conn_free(tc);
            return;
        }
        tc->backoff++;
        tcp_send_synack(tc);
        tcp_timer_set(tc, tcp_backed_off(tc));
        return;
    case TCP_TIME_WAIT:
        tcp_conn_free(tc);
        return;
    default:
        break;
    }
    if (tc->tkind != TK_RTO && tc->snd_nxt != tc->snd_una) {
        int k = tc->tkind;
        tc->tkind = TK_RTO;
        if (k == TK_TLP) tcp_rec_tlp(tc);
        else tcp_rec_reo(tc);
        return;
    }
    if (tc->snd_nxt != tc->snd_una) {
        /* Retransmission timeout. */
        if (++tc->retries > TCP_MAX_RETRIES) {
            give_up(tc);
            return;
        }
        NS_INC(st->tcp_rto_fired);
        tc->flags &= (uint16_t)~TF_RTT; /* Karn: no sample from a resent segment */
        if (tc->backoff < 16) tc->backoff++;
        tcp_rec_rto(tc);
        tcp_timer_set(tc, tcp_backed_off(tc));
        return;
    }
    if (tc->state == TCP_FIN_WAIT_2 && (tc->flags & TF_APP_CLOSED)) {
        tcp_conn_free(tc);
        return;
    }
    if (tc->slen > tc->snd_nxt - tc->snd_una && tc->snd_wnd == 0) {
        /* Zero-window probe: one byte beyond the window (RFC 9293 3.8.6.1). */
        if (++tc->retries > TCP_MAX_RETRIES) {
            give_up(tc);
            return;
        }
        if (tc->backoff < 16) tc->backoff++;
        tcp_send_segment(tc, tc->snd_nxt, 1, 0);
        tcp_timer_set(tc, tcp_backed_off(tc));
    }
}

void tcp_timers_run(tcp_stack *ts) {
    uint64_t now = ts->ns->now_ms;
    if (!ts->wheel_ms) ts->wheel_ms = now - 1;
    /* After a long stall, one full revolution visits every slot once. */
    if (now - ts->wheel_ms > TCP_WHEEL_SLOTS) ts->wheel_ms = now - TCP_WHEEL_SLOTS;
    while (ts->wheel_ms < now) {
        ts->wheel_ms++;
        tcp_conn **slot = &ts->wheel[ts->wheel_ms % TCP_WHEEL_SLOTS];
        tcp_conn *list = *slot;
        *slot = NULL;
        while (list) {
            tcp_conn *tc = list;
            list = tc->tnext;
            if (list) list->tprev = NULL;
            if (tc->timer_due_ms <= now) {
                tc->timer_due_ms = 0;
                tc->tprev = tc->tnext = NULL;
                fire(tc);
            } else {
                wheel_insert(ts, tc);
            }
        }
    }
}

void tcp_ack_later(tcp_conn *tc) {
    tc->flags |= TF_ACKNOW;
    if (tc->flags & TF_ACKLIST) return;
    tc->flags |= TF_ACKLIST;
    tc->anext = tc->ts->acklist;
    tc->ts->acklist = tc;
}

void tcp_flush_acks(tcp_stack *ts) {
    while (ts->acklist) {
        tcp_conn *tc = ts->acklist;
        ts->acklist = tc->anext;
        tc->flags &= (uint16_t)~TF_ACKLIST;
        if (tc->flags & TF_ACKNOW) tcp_output(tc, 1);
    }
}
