/* arp.c — ARP for IPv4 over Ethernet (RFC 826): replies for our address, a
 * gratuitous announcement at start-up, and a small cache with expiry. The
 * cache also learns from IPv4 packets of on-link senders (ipv4.c), so
 * replying to a client never waits for a resolution. A frame to an
 * unresolved next hop (an active open's SYN, a reply after the entry
 * expired) waits in a small queue while a request goes out, and leaves when
 * the reply comes; after ARP_QUEUE_MS it is dropped and TCP's
 * retransmission tries again (with a new request).
 */
#include "netstack.h"

#include <string.h>

static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* ip resolved: its queued frames leave, in the order they were queued. */
static void queue_release(netstack *ns, uint32_t ip, const uint8_t mac[6]) {
    if (!ns->narpq) return;
    for (int i = 0; i < ARP_QUEUE_MAX; i++) {
        arp_pending *q = &ns->arpq[i];
        if (q->hop != ip) continue;
        q->hop = 0;
        ns->narpq--;
        eth_output(ns, q->h, q->frame, mac, ETHERTYPE_IPV4, q->len);
    }
}

void arp_queue(netstack *ns, uint32_t hop, void *h, uint8_t *frame, size_t len) {
    if (ns->narpq < ARP_QUEUE_MAX) {
        /* Slots are taken lowest first, so release order is queue order. */
        for (int i = 0; i < ARP_QUEUE_MAX; i++) {
            arp_pending *q = &ns->arpq[i];
            if (q->hop) continue;
            q->hop = hop;
            q->h = h;
            q->frame = frame;
            q->len = len;
            q->expire_ms = ns->now_ms + ARP_QUEUE_MS;
            ns->narpq++;
            NS_INC(ns->st.arp_queued);
            return;
        }
    }
    ns->ops->tx_free(ns->ops_ctx, h);
    NS_INC(ns->st.arp_queue_dropped);
    NS_INC(ns->st.tx_dropped);
}

void arp_queue_expire(netstack *ns) {
    if (!ns->narpq) return;
    for (int i = 0; i < ARP_QUEUE_MAX; i++) {
        arp_pending *q = &ns->arpq[i];
        if (!q->hop || q->expire_ms > ns->now_ms) continue;
        q->hop = 0;
        ns->narpq--;
        ns->ops->tx_free(ns->ops_ctx, q->h);
        NS_INC(ns->st.arp_queue_dropped);
        NS_INC(ns->st.tx_dropped);
    }
}

void arp_queue_free(netstack *ns) {
    for (int i = 0; i < ARP_QUEUE_MAX && ns->narpq; i++) {
        arp_pending *q = &ns->arpq[i];
        if (!q->hop) continue;
        q->hop = 0;
        ns->narpq--;
        ns->ops->tx_free(ns->ops_ctx, q->h);
    }
}

void arp_learn(netstack *ns, uint32_t ip, const uint8_t mac[6], int create) {
    if (ip == 0 || (mac[0] & 1)) return; /* no multicast sender addresses */
    arp_entry *victim = NULL;
    for (int i = 0; i < ARP_CACHE_SIZE; i++) {
        arp_entry *e = &ns->arp[i];
        if (e->ip == ip) {
            memcpy(e->mac, mac, 6);
            e->expire_ms = ns->now_ms + ARP_EXPIRE_MS;
            queue_release(ns, ip, mac);
            return;
        }
        if (!victim || e->ip == 0 || (victim->ip != 0 && e->expire_ms < victim->expire_ms))
            victim = e;
    }
    if (!create) {
        /* A reply to our own request is for us (its target is our address),
         * so it creates; anything else waiting is released only then. */
        return;
    }
    victim->ip = ip;
    memcpy(victim->mac, mac, 6);
    victim->expire_ms = ns->now_ms + ARP_EXPIRE_MS;
    queue_release(ns, ip, mac);
}

const uint8_t *arp_lookup(netstack *ns, uint32_t ip) {
    for (int i = 0; i < ARP_CACHE_SIZE; i++) {
        arp_entry *e = &ns->arp[i];
        if (e->ip == ip) {
            if (e->expire_ms < ns->now_ms) {
                e->ip = 0;
                return NULL;
            }
            return e->mac;
        }
    }
    return NULL;
}

/* op 1 request, 2 reply. */
static void arp_send(netstack *ns, uint16_t op, const uint8_t *tha, uint32_t tpa,
                     const uint8_t *eth_dst) {
    void *h;
    uint8_t *f = ns->ops->tx_alloc(ns->ops_ctx, 64, &h);
    if (!f) {
        NS_INC(ns->st.tx_dropped);
        return;
    }
    uint8_t *a = f + NET_ETH_HLEN;
    net_wr16(a, 1);
    net_wr16(a + 2, ETHERTYPE_IPV4);
    a[4] = 6;
    a[5] = 4;
    net_wr16(a + 6, op);
    memcpy(a + 8, ns->mac, 6);
    net_wr32(a + 14, ns->ip);
    memcpy(a + 18, tha, 6);
    net_wr32(a + 24, tpa);
    NS_INC(ns->st.arp_tx);
    eth_output(ns, h, f, eth_dst, ETHERTYPE_ARP, NET_ETH_HLEN + 28);
}

void arp_input(netstack *ns, const uint8_t *p, size_t len) {
    NS_INC(ns->st.arp_rx);
    if (len < 28 || net_rd16(p) != 1 || net_rd16(p + 2) != ETHERTYPE_IPV4 || p[4] != 6 ||
        p[5] != 4) {
        NS_INC(ns->st.rx_malformed);
        return;
    }
    uint16_t op = net_rd16(p + 6);
    uint32_t spa = net_rd32(p + 14), tpa = net_rd32(p + 24);
    int for_us = tpa == ns->ip;
    /* RFC 826: update an existing entry always, add one only when the
     * packet is for us. */
    arp_learn(ns, spa, p + 8, for_us);
    if (op == 1 && for_us && spa != 0) arp_send(ns, 2, p + 8, spa, p + 8);
}

void arp_request(netstack *ns, uint32_t ip) {
    /* At most one request per 100 ms: a burst of segments to an unresolved
     * peer must not become a burst of broadcasts. */
    if (ns->arp_req_ms && ns->now_ms - ns->arp_req_ms < 100) return;
    ns->arp_req_ms = ns->now_ms ? ns->now_ms : 1;
    static const uint8_t zero[6] = {0};
    arp_send(ns, 1, zero, ip, BCAST);
}

void arp_announce(netstack *ns) {
    static const uint8_t zero[6] = {0};
    arp_send(ns, 1, zero, ns->ip, BCAST);
}
