/* tcp_recovery.c — loss recovery for what we send, and the receiver's half
 * of SACK. Design: docs/tcp-stack.md ("Loss recovery").
 *
 * Every segment of new data leaves a record (sequence range, last transmit
 * time, SACKED / LOST / RETRANS): the records cover [snd_una, snd_max) and are
 * the SACK scoreboard (RFC 6675), so only the holes are ever resent. Losses
 * are found by time, RACK (RFC 8985 6): a segment is lost once a segment sent
 * after it was delivered and RACK.rtt plus a reordering window have passed
 * since it left; the window is min_RTT/4, grown on D-SACKs (RFC 2883) and
 * shrunk back after 16 recoveries. A tail loss probe (RFC 8985 7) fires
 * 2*SRTT (at least TCP_TLP_MIN_MS, at most the RTO) after the last send and
 * sends new data or the last segment again, so a lost reply costs a probe
 * timeout and a round trip instead of a 200 ms RTO. Without SACK, three
 * duplicate ACKs and partial ACKs mark the first record lost (RFC 5681/6582).
 *
 * On an ACK (tcp_input.c): tcp_rec_acked (cumulative), tcp_rec_sack (blocks),
 * tcp_rec_on_ack (detect, enter/leave recovery, cwnd, resend, timer).
 */
#include "tcp.h"

#include <string.h>
#include "../net/netstack.h"
#include "../../platform/mem.h"

static tcp_sent *rec(const tcp_conn *tc, uint32_t i) {
    return &tc->segs[(tc->seghead + i) & (tc->segcap - 1)];
}

static uint32_t rec_len(const tcp_sent *r) { return r->end - r->seq; }

void tcp_rec_sent(tcp_conn *tc, uint32_t seq, uint32_t end, int fin) {
    if (tc->nsegs == tc->segcap) {
        uint32_t cap = tc->segcap ? tc->segcap * 2 : 16;
        tcp_sent *ns = cb_try_malloc(sizeof(*ns) * cap);
        if (!ns) {
            /* No room to remember it: merge into the last record (coarser
             * retransmission, never a gap in the coverage). */
            if (tc->nsegs) {
                tcp_sent *l = rec(tc, tc->nsegs - 1);
                l->end = end;
                if (fin) l->flags |= SEG_FIN;
            }
            return;
        }
        for (uint32_t i = 0; i < tc->nsegs; i++) ns[i] = *rec(tc, i);
        cb_free(tc->segs);
        tc->segs = ns;
        tc->segcap = cap;
        tc->seghead = 0;
    }
    tcp_sent *r = rec(tc, tc->nsegs++);
    r->seq = seq;
    r->end = end;
    r->xmit_us = tc->ts->ns->now_us;
    r->flags = fin ? SEG_FIN : 0;
}

/* A record was delivered (acked or sacked): RACK's state (RFC 8985 6.2). */
static void rack_delivered(tcp_conn *tc, const tcp_sent *r) {
    int64_t rtt = (int64_t)(tc->ts->ns->now_us - r->xmit_us);
    if (!(r->flags & SEG_RETRANS) && (!tc->min_rtt_us || rtt < tc->min_rtt_us))
        tc->min_rtt_us = rtt > 0 ? rtt : 1;
    /* The ACK may be for the original of a resent segment: too early to be
     * for the resend, so it says nothing about the resend's time. */
    if ((r->flags & SEG_RETRANS) && rtt < tc->min_rtt_us) return;
    tc->rack_rtt_us = rtt;
    if (r->xmit_us > tc->rack_xmit_us ||
        (r->xmit_us == tc->rack_xmit_us && seq_gt(r->end, tc->rack_end))) {
        tc->rack_xmit_us = r->xmit_us;
        tc->rack_end = r->end;
    }
    /* Delivered below what was already delivered, without a resend: the
     * network reorders (step 3). */
    if (!(r->flags & SEG_RETRANS) && tc->rack_fack && seq_lt(r->end, tc->rack_fack))
        tc->reo_seen = 1;
    if (!tc->rack_fack || seq_gt(r->end, tc->rack_fack)) tc->rack_fack = r->end;
}

static void forget(tcp_conn *tc, const tcp_sent *r) {
    if (r->flags & SEG_SACKED) tc->sacked_bytes -= rec_len(r);
    else if (r->flags & SEG_LOST) tc->lost_bytes -= rec_len(r);
}

void tcp_rec_acked(tcp_conn *tc, uint32_t ack) {
    while (tc->nsegs) {
        tcp_sent *r = rec(tc, 0);
        if (seq_le(r->end, ack)) {
            if (!(r->flags & SEG_SACKED)) rack_delivered(tc, r);
            forget(tc, r);
            tc->seghead = (tc->seghead + 1) & (tc->segcap - 1);
            tc->nsegs--;
            continue;
        }
        if (seq_gt(ack, r->seq)) { /* part of it: keep the rest */
            uint32_t cut = ack - r->seq;
            if (r->flags & SEG_SACKED) tc->sacked_bytes -= cut;
            else if (r->flags & SEG_LOST) tc->lost_bytes -= cut;
            r->seq = ack;
        }
        break;
    }
    if (!tc->nsegs) tc->seghead = 0;
}

void tcp_rec_sack(tcp_conn *tc, const uint32_t *blk, int n, uint32_t ack) {
    net_stats *st = &tc->ts->ns->st;
    for (int b = 0; b < n; b++) {
        uint32_t l = blk[2 * b], r = blk[2 * b + 1];
        if (!seq_lt(l, r)) continue;
        /* D-SACK (RFC 2883): the first block reports a duplicate, below the
         * cumulative ACK or inside the second block. */
        if (b == 0 && (seq_le(r, ack) || (n > 1 && seq_ge(l, blk[2]) && seq_le(r, blk[3])))) {
            NS_INC(st->tcp_dsacks_received);
            tc->reo_seen = 1;
            if (tc->reo_mult < 32) tc->reo_mult++;
            tc->reo_persist = 16;
            if (tc->tlp_out && tc->tlp_retx && seq_le(r, tc->tlp_end)) tc->tlp_dsack = 1;
            continue;
        }
        if (seq_lt(l, tc->snd_una)) l = tc->snd_una;
        if (seq_gt(r, tc->snd_max) || !seq_lt(l, r)) continue;
        for (uint32_t i = 0; i < tc->nsegs; i++) {
            tcp_sent *s = rec(tc, i);
            if (seq_ge(s->seq, r)) break;
            if (seq_lt(s->seq, l) || seq_gt(s->end, r) || (s->flags & SEG_SACKED)) continue;
            if (s->flags & SEG_LOST) tc->lost_bytes -= rec_len(s);
            s->flags = (uint8_t)((s->flags & ~SEG_LOST) | SEG_SACKED);
            tc->sacked_bytes += rec_len(s);
            rack_delivered(tc, s);
        }
    }
}

/* RFC 8985 6.2 step 4: no window while nothing says the path reorders and
 * the scoreboard already looks like a loss. */
static uint64_t reo_wnd_us(const tcp_conn *tc) {
    if (!tc->reo_seen && (tc->recov || tc->sacked_bytes >= 3u * tc->mss)) return 0;
    uint64_t w = (uint64_t)(tc->min_rtt_us / 4) * (tc->reo_mult ? tc->reo_mult : 1);
    if (tc->srtt_us && w > (uint64_t)tc->srtt_us) w = (uint64_t)tc->srtt_us;
    return w;
}

/* Mark lost what was sent before the last delivered segment and has had
 * RACK.rtt + reo_wnd to arrive; remember the earliest pending deadline. */
static int rack_detect(tcp_conn *tc) {
    tc->reo_due_us = 0;
    if (!tc->rack_xmit_us) return 0;
    uint64_t now = tc->ts->ns->now_us, wait = (uint64_t)tc->rack_rtt_us + reo_wnd_us(tc);
    int lost = 0;
    for (uint32_t i = 0; i < tc->nsegs; i++) {
        tcp_sent *r = rec(tc, i);
        if (r->flags & (SEG_SACKED | SEG_LOST)) continue;
        int before = r->xmit_us < tc->rack_xmit_us ||
                     (r->xmit_us == tc->rack_xmit_us && seq_lt(r->end, tc->rack_end));
        if (!before) {
            /* Records never resent are in transmit order: none later is
             * older than this one. */
            if (!(r->flags & SEG_RETRANS)) break;
            continue;
        }
        uint64_t due = r->xmit_us + wait;
        if (due <= now) {
            r->flags |= SEG_LOST | SEG_RACK;
            tc->lost_bytes += rec_len(r);
            lost++;
        } else if (!tc->reo_due_us || due < tc->reo_due_us) {
            tc->reo_due_us = due;
        }
    }
    return lost;
}

void tcp_rec_mark_head_lost(tcp_conn *tc) {
    if (!tc->nsegs) return;
    tcp_sent *r = rec(tc, 0);
    if (r->flags & (SEG_SACKED | SEG_LOST)) return;
    r->flags |= SEG_LOST;
    tc->lost_bytes += rec_len(r);
}

static void resend(tcp_conn *tc, tcp_sent *r) {
    net_stats *st = &tc->ts->ns->st;
    int fin = !!(r->flags & SEG_FIN);
    uint32_t len = rec_len(r) - (uint32_t)fin, off = 0;
    /* A record is one segment, unless merged when memory ran out. */
    do {
        uint32_t n = len - off < tc->mss ? len - off : tc->mss;
        tcp_send_segment(tc, r->seq + off, n, fin && off + n == len);
        off += n;
    } while (off < len);
    if (r->flags & SEG_RACK) NS_INC(st->tcp_rack_retransmits);
    if (tc->sacked_bytes) NS_INC(st->tcp_sack_retransmits);
    if (r->flags & SEG_LOST) tc->lost_bytes -= rec_len(r);
    r->flags = (uint8_t)((r->flags & ~(SEG_LOST | SEG_RACK)) | SEG_RETRANS);
    r->xmit_us = tc->ts->ns->now_us;
    tc->flags &= (uint16_t)~TF_RTT; /* Karn: no sample across a resend */
}

void tcp_rec_xmit_lost(tcp_conn *tc, int force) {
    for (uint32_t i = 0; i < tc->nsegs && tc->lost_bytes; i++) {
        tcp_sent *r = rec(tc, i);
        if (!(r->flags & SEG_LOST)) continue;
        if (!force && tcp_rec_pipe(tc) >= tc->cwnd) break;
        force = 0;
        resend(tc, r);
    }
}

static void enter_recovery(tcp_conn *tc) {
    uint32_t flight = tc->snd_max - tc->snd_una;
    tc->ssthresh = flight / 2 > 2u * tc->mss ? flight / 2 : 2u * tc->mss;
    tc->cwnd = tc->ssthresh;
    tc->recover = tc->snd_max;
    tc->recov = 1;
    NS_INC(tc->ts->ns->st.tcp_fast_retransmits);
}

static int tlp_allowed(const tcp_conn *tc) {
    return !tc->recov && !tc->tlp_out && !tc->lost_bytes;
}

/* The probe timeout (RFC 8985 7.2), or 0 when the RTO comes first. */
static uint32_t pto_ms(const tcp_conn *tc) {
    uint64_t pto = tc->srtt_us ? (uint64_t)(2 * tc->srtt_us + 999) / 1000 : TCP_RTO_INIT_MS;
    if (pto < TCP_TLP_MIN_MS) pto = TCP_TLP_MIN_MS;
    return pto < tcp_backed_off(tc) ? (uint32_t)pto : 0;
}

static void arm_reo(tcp_conn *tc) {
    uint64_t now = tc->ts->ns->now_us;
    uint64_t ms = tc->reo_due_us > now ? (tc->reo_due_us - now + 999) / 1000 : 1;
    tcp_timer_set(tc, (uint32_t)ms);
    tc->tkind = TK_REO;
}

/* Choose the timer after an ACK: RACK deadline, probe, or RTO (restarted
 * when the ACK moved snd_una, RFC 6298 5.3). */
static void arm_after_ack(tcp_conn *tc, int progress) {
    if (tc->snd_una == tc->snd_max) {
        if (!tcp_timer_idle(tc)) tcp_timer_cancel(tc);
        return;
    }
    if (tc->reo_due_us) {
        arm_reo(tc);
        return;
    }
    uint32_t pto = tlp_allowed(tc) ? pto_ms(tc) : 0;
    if (pto) {
        tcp_timer_set(tc, pto);
        tc->tkind = TK_TLP;
    } else if (progress || tcp_timer_idle(tc) || tc->tkind != TK_RTO) {
        tcp_timer_set(tc, tcp_backed_off(tc));
    }
}

void tcp_rec_arm_on_send(tcp_conn *tc) {
    if (!tcp_timer_idle(tc) && tc->tkind != TK_TLP) return;
    uint32_t pto = tlp_allowed(tc) ? pto_ms(tc) : 0;
    if (pto) {
        tcp_timer_set(tc, pto);
        tc->tkind = TK_TLP;
    } else if (tcp_timer_idle(tc) || tc->tkind == TK_TLP) {
        tcp_timer_set(tc, tcp_backed_off(tc));
    }
}

void tcp_rec_on_ack(tcp_conn *tc, int progress, uint32_t acked, int dupack) {
    /* The probe's episode ends (RFC 8985 7.4): a D-SACK for it says nothing
     * was lost; an ACK beyond it otherwise says the probe repaired a loss. */
    if (tc->tlp_out && (tc->tlp_dsack || seq_ge(tc->snd_una, tc->tlp_end))) {
        if (!tc->tlp_dsack && tc->tlp_retx) {
            tc->ssthresh = tc->cwnd / 2 > 2u * tc->mss ? tc->cwnd / 2 : 2u * tc->mss;
            tc->cwnd = tc->ssthresh;
        }
        tc->tlp_out = tc->tlp_retx = tc->tlp_dsack = 0;
    }
    int deflated = 0;
    if (tc->recov && seq_ge(tc->snd_una, tc->recover)) {
        /* The full ACK: cwnd deflates to ssthresh (RFC 6582 3.2 step 3). */
        if (tc->recov == 1) tc->cwnd = tc->ssthresh;
        deflated = tc->recov == 1;
        tc->recov = 0;
        if (tc->reo_persist && --tc->reo_persist == 0) tc->reo_mult = 1;
    }
    int fresh = 0, force = 0;
    if (!(tc->flags & TF_SACK) && tc->recov == 1 && progress && seq_lt(tc->snd_una, tc->recover)) {
        tcp_rec_mark_head_lost(tc); /* partial ACK: the next hole (RFC 6582) */
        force = 1;
    }
    if (dupack && tc->dupacks == 3 && !tc->recov) {
        tcp_rec_mark_head_lost(tc);
        fresh = 1;
    }
    if (rack_detect(tc)) fresh = 1;
    if (fresh && tc->lost_bytes && !tc->recov) {
        /* The first hole goes at once, whatever the pipe (RFC 6675 5). */
        enter_recovery(tc);
        if (!(tc->flags & TF_SACK)) tc->cwnd = tc->ssthresh + 3u * tc->mss;
        force = 1;
    } else if (progress && tc->recov != 1 && !deflated) {
        /* Slow start, congestion avoidance (RFC 5681 3.1). */
        if (tc->cwnd < tc->ssthresh) tc->cwnd += acked < tc->mss ? acked : tc->mss;
        else tc->cwnd += (uint32_t)tc->mss * tc->mss / tc->cwnd + 1;
    } else if (dupack && tc->dupacks > 3 && tc->recov == 1 && !(tc->flags & TF_SACK)) {
        tc->cwnd += tc->mss; /* a segment left the network (RFC 5681 3.2) */
    }
    tcp_rec_xmit_lost(tc, force);
    arm_after_ack(tc, progress);
}

void tcp_rec_rto(tcp_conn *tc) {
    /* RFC 8985 6.3 / RFC 6298 5.4: everything not SACKed is lost. */
    for (uint32_t i = 0; i < tc->nsegs; i++) {
        tcp_sent *r = rec(tc, i);
        if (r->flags & (SEG_SACKED | SEG_LOST)) continue;
        r->flags |= SEG_LOST;
        tc->lost_bytes += rec_len(r);
    }
    uint32_t flight = tc->snd_max - tc->snd_una;
    tc->ssthresh = flight / 2 > 2u * tc->mss ? flight / 2 : 2u * tc->mss;
    tc->cwnd = tc->mss;
    tc->recover = tc->snd_max;
    tc->recov = 2;
    tc->tlp_out = tc->tlp_retx = tc->tlp_dsack = 0;
    tc->dupacks = 0;
    tc->reo_due_us = 0;
    tcp_rec_xmit_lost(tc, 1);
}

void tcp_rec_tlp(tcp_conn *tc) {
    if (tc->snd_una == tc->snd_max) return;
    netstack *ns = tc->ts->ns;
    NS_INC(ns->st.tcp_tlp_probes);
    uint32_t before = tc->snd_max;
    /* New data if the peer's window takes it; the probe is outside cwnd. */
    uint32_t save = tc->cwnd;
    tc->cwnd = tcp_rec_pipe(tc) + tc->mss;
    tcp_output(tc, 0);
    tc->cwnd = save;
    if (tc->snd_max == before) {
        /* Nothing new: the last segment not known delivered goes again. */
        for (uint32_t i = tc->nsegs; i-- > 0;) {
            tcp_sent *r = rec(tc, i);
            if (r->flags & SEG_SACKED) continue;
            resend(tc, r);
            tc->tlp_retx = 1;
            break;
        }
    }
    tc->tlp_out = 1;
    tc->tlp_dsack = 0;
    tc->tlp_end = tc->snd_max;
    tcp_timer_set(tc, tcp_backed_off(tc));
}

void tcp_rec_reo(tcp_conn *tc) {
    int lost = rack_detect(tc);
    if (lost && !tc->recov) enter_recovery(tc);
    tcp_rec_xmit_lost(tc, lost > 0);
    arm_after_ack(tc, 0);
    if (tcp_timer_idle(tc) && tc->snd_una != tc->snd_max) tcp_timer_set(tc, tcp_backed_off(tc));
}

/* ---------------------------------------------------------------- receiver */

void tcp_sack_note(tcp_conn *tc, uint32_t seq) {
    uint32_t n = tc->nsack_recent;
    uint32_t k = 0;
    while (k < n && tc->sack_recent[k] != seq) k++;
    if (k == n && n < TCP_SACK_RECENT) tc->nsack_recent = (uint8_t)++n;
    if (k == n) k = n - 1;
    memmove(tc->sack_recent + 1, tc->sack_recent, k * sizeof(uint32_t));
    tc->sack_recent[0] = seq;
}

/* The contiguous run of queued data that contains seq (0 if none); the
 * queue is ordered by sequence and its segments may overlap. */
static int ooo_range(const tcp_conn *tc, uint32_t seq, uint32_t *l, uint32_t *r) {
    int have = 0;
    uint32_t cl = 0, cr = 0;
    for (const tcp_ooo *o = tc->ooo; o; o = o->next) {
        if (!o->len) continue;
        if (have && seq_le(o->seq, cr)) {
            if (seq_gt(o->seq + o->len, cr)) cr = o->seq + o->len;
            continue;
        }
        if (have && seq_ge(seq, cl) && seq_lt(seq, cr)) break;
        cl = o->seq;
        cr = o->seq + o->len;
        have = 1;
    }
    if (!have || seq_lt(seq, cl) || seq_ge(seq, cr)) return 0;
    *l = cl;
    *r = cr;
    return 1;
}

size_t tcp_sack_option(const tcp_conn *tc, uint8_t *o, size_t room) {
    if (!(tc->flags & TF_SACK) || !tc->ooo || room < 12) return 0;
    uint32_t max = (uint32_t)((room - 4) / 8);
    if (max > 4) max = 4;
    uint32_t bl[8];
    uint32_t n = 0;
    /* The block holding the latest arrival first (RFC 2018 4), then the
     * other recent ones, then the rest in sequence order. */
    for (uint32_t k = 0; k < tc->nsack_recent && n < max; k++) {
        uint32_t l, r;
        if (!ooo_range(tc, tc->sack_recent[k], &l, &r)) continue;
        int dup = 0;
        for (uint32_t j = 0; j < n; j++) dup |= bl[2 * j] == l;
        if (dup) continue;
        bl[2 * n] = l;
        bl[2 * n + 1] = r;
        n++;
    }
    for (const tcp_ooo *q = tc->ooo; q && n < max; q = q->next) {
        uint32_t l, r;
        if (!q->len || !ooo_range(tc, q->seq, &l, &r) || l != q->seq) continue;
        int dup = 0;
        for (uint32_t j = 0; j < n; j++) dup |= bl[2 * j] == l;
        if (dup) continue;
        bl[2 * n] = l;
        bl[2 * n + 1] = r;
        n++;
    }
    if (!n) return 0;
    o[0] = 1;
    o[1] = 1;
    o[2] = 5;
    o[3] = (uint8_t)(2 + 8 * n);
    for (uint32_t j = 0; j < n; j++) {
        net_wr32(o + 4 + 8 * j, bl[2 * j]);
        net_wr32(o + 8 + 8 * j, bl[2 * j + 1]);
    }
    return 4 + 8 * n;
}
