/* icmp.c — ICMP echo replies (ping) and destination-unreachable messages
 * for protocols and UDP ports we do not serve (RFC 792, RFC 1122 3.2.2).
 * Never answer an ICMP error with another, nor a broadcast.
 */
#include "netstack.h"

#include <string.h>

void icmp_input(netstack *ns, uint32_t src, const uint8_t *p, size_t len) {
    if (len < 8) {
        NS_INC(ns->st.rx_malformed);
        return;
    }
    if (net_csum_fold(net_csum_add(0, p, len)) != 0) {
        NS_INC(ns->st.rx_csum_errors);
        return;
    }
    if (p[0] != 8 || p[1] != 0) return; /* only echo requests want an answer */
    if (len + NET_ETH_HLEN + NET_IP_HLEN > (size_t)ns->mtu + NET_ETH_HLEN) return;
    void *h;
    uint8_t *f = ns->ops->tx_alloc(ns->ops_ctx, NET_ETH_HLEN + NET_IP_HLEN + len, &h);
    if (!f) {
        NS_INC(ns->st.tx_dropped);
        return;
    }
    uint8_t *r = f + NET_ETH_HLEN + NET_IP_HLEN;
    memcpy(r, p, len);
    r[0] = 0; /* echo reply: same id, sequence and data */
    net_wr16(r + 2, 0);
    net_wr16(r + 2, net_csum_fold(net_csum_add(0, r, len)));
    NS_INC(ns->st.icmp_echo_replies);
    ipv4_output(ns, h, f, src, NET_PROTO_ICMP, len);
}

void icmp_unreachable(netstack *ns, uint8_t code, const uint8_t *ip, size_t len) {
    size_t ihl = (size_t)(ip[0] & 0xf) * 4;
    size_t quote = ihl + 8 < len ? ihl + 8 : len; /* header + 64 bits of data */
    void *h;
    uint8_t *f = ns->ops->tx_alloc(ns->ops_ctx, NET_ETH_HLEN + NET_IP_HLEN + 8 + quote, &h);
    if (!f) {
        NS_INC(ns->st.tx_dropped);
        return;
    }
    uint8_t *r = f + NET_ETH_HLEN + NET_IP_HLEN;
    r[0] = 3;
    r[1] = code;
    memset(r + 2, 0, 6);
    memcpy(r + 8, ip, quote);
    net_wr16(r + 2, net_csum_fold(net_csum_add(0, r, 8 + quote)));
    NS_INC(ns->st.icmp_unreach_tx);
    ipv4_output(ns, h, f, net_rd32(ip + 12), NET_PROTO_ICMP, 8 + quote);
}
