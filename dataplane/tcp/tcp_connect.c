/* tcp_connect.c — active open (RFC 9293 3.5): tcp_connect picks a local
 * port, creates a SYN_SENT connection and sends our SYN with the options we
 * also offer passively (MSS from the MTU, window scale, timestamps); the
 * SYN's timer resends it with doubling backoff and finally fails the open
 * (ETIMEDOUT to the application). The SYN-ACK is processed in tcp_input.c
 * (syn_sent_input), which also tolerates a simultaneous open.
 *
 * Ephemeral ports: the search starts at a keyed hash of the destination and
 * the stack's secret plus a per-stack cursor, skips ports that a connection
 * already uses towards that peer, and asks the driver's port_ok filter: with
 * several poll cores the NIC's symmetric RSS must steer the peer's answers
 * to this core's queue, or the SYN-ACK would reach a stack that does not
 * know the connection. Design: docs/tcp-stack.md.
 */
#include "tcp.h"

#include <errno.h>
#include <string.h>
#include "../net/netstack.h"
#include "../../platform/util.h"

uint16_t tcp_ephemeral_port(tcp_stack *ts, uint32_t rip, uint16_t rport) {
    netstack *ns = ts->ns;
    const uint32_t range = TCP_EPH_HI - TCP_EPH_LO + 1;
    uint8_t k[6];
    memcpy(k, &rip, 4);
    memcpy(k + 4, &rport, 2);
    uint32_t start = (uint32_t)util_hash(k, sizeof(k), ts->secret) + ts->eph_next;
    for (uint32_t i = 0; i < range; i++) {
        uint16_t port = (uint16_t)(TCP_EPH_LO + (start + i) % range);
        if (port == ts->listen_port) continue;
        if (tcp_lookup(ts, rip, rport, ns->ip, port)) continue;
        if (ts->port_ok && !ts->port_ok(ts->port_ok_ctx, ns->ip, port, rip, rport)) continue;
        /* The next search starts past this one: a peer that saw this port
         * close recently (our TIME_WAIT may be gone) gets another. */
        ts->eph_next += i + 1;
        return port;
    }
    return 0;
}

tcp_conn *tcp_connect(tcp_stack *ts, uint32_t rip, uint16_t rport, uint16_t lport, void *app) {
    netstack *ns = ts->ns;
    if (!lport) {
        lport = tcp_ephemeral_port(ts, rip, rport);
        if (!lport) {
            errno = EADDRNOTAVAIL;
            return NULL;
        }
    } else if (tcp_lookup(ts, rip, rport, ns->ip, lport)) {
        errno = EADDRINUSE;
        return NULL;
    }
    tcp_conn *tc = tcp_conn_new(ts, rip, rport, ns->ip, lport);
    if (!tc) {
        errno = ENOMEM;
        return NULL;
    }
    /* Offer the RFC 7323 options and SACK; the SYN-ACK decides what stays. */
    tc->flags |= TF_ACTIVE | TF_WS | TF_TS | TF_SACK;
    tc->rcv_wscale = TCP_RCV_WSCALE;
    uint32_t mss = (uint32_t)ns->mtu - NET_IP_HLEN - 20;
    tc->mss = (uint16_t)mss;
    tc->iss = tcp_isn(ts, ns->ip, lport, rip, rport);
    tc->snd_una = tc->iss;
    tc->snd_nxt = tc->snd_max = tc->iss + 1;
    tc->cwnd = 10 * mss;
    tc->app = app;
    tc->last_rx_ms = ns->now_ms;
    tcp_set_state(tc, TCP_SYN_SENT);
    NS_INC(ns->st.tcp_active_opens);
    tcp_send_synack(tc); /* in SYN_SENT: our SYN */
    tcp_timer_set(tc, TCP_RTO_INIT_MS);
    return tc;
}

void tcp_syn_timeout(tcp_conn *tc) {
    if (++tc->retries > TCP_SYN_RETRIES) {
        tcp_connect_fail(tc, 2);
        return;
    }
    if (tc->backoff < 16) tc->backoff++;
    /* RFC 7323 3.2 does not forbid the options on a retransmitted SYN;
     * Linux keeps them too. */
    tcp_send_synack(tc);
    uint64_t ms = (uint64_t)TCP_RTO_INIT_MS << tc->backoff;
    tcp_timer_set(tc, ms > TCP_RTO_MAX_MS ? TCP_RTO_MAX_MS : (uint32_t)ms);
}

void tcp_connect_fail(tcp_conn *tc, int why) {
    void *app = tc->app;
    tc->app = NULL;
    NS_INC(tc->ts->ns->st.tcp_connect_failed);
    if (app && tc->ts->app) tc->ts->app->closed(app, why);
    tcp_conn_free(tc);
}
