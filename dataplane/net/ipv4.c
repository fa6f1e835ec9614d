/* ipv4.c — IPv4 input validation and output (RFC 791). Input checks the
 * version, header length, total length and header checksum, drops (and
 * counts) fragments, skips options, and learns the sender's MAC when it is
 * on our subnet. Output fills the header, picks the next hop (the
 * destination on-link, else the gateway) and resolves it through arp.c,
 * whose queue keeps the frame while the resolution is under way.
 */
#include "netstack.h"

#include "../tcp/tcp.h"

void ipv4_input(netstack *ns, const uint8_t *src_mac, uint8_t *p, size_t len) {
    if (len < NET_IP_HLEN || (p[0] >> 4) != 4) {
        NS_INC(ns->st.rx_malformed);
        return;
    }
    size_t ihl = (size_t)(p[0] & 0xf) * 4;
    size_t tot = net_rd16(p + 2);
    if (ihl < NET_IP_HLEN || tot < ihl || tot > len) {
        NS_INC(ns->st.rx_malformed);
        return;
    }
    if (!(ns->rx_csum_ok & NET_CSUM_IP) && net_csum_fold(net_csum_add(0, p, ihl)) != 0) {
        NS_INC(ns->st.rx_csum_errors);
        return;
    }
    uint32_t src = net_rd32(p + 12), dst = net_rd32(p + 16);
    if (dst != ns->ip) {
        NS_INC(ns->st.rx_filtered);
        return;
    }
    if (net_rd16(p + 6) & 0x3fff) { /* MF set or a non-zero offset */
        NS_INC(ns->st.rx_frag_dropped);
        return;
    }
    if (((src ^ ns->ip) & ns->netmask) == 0) arp_learn(ns, src, src_mac, 1);
    switch (p[9]) {
    case NET_PROTO_ICMP:
        icmp_input(ns, src, p + ihl, tot - ihl);
        break;
    case NET_PROTO_TCP:
        tcp_input(ns->tcp, src, dst, p + ihl, tot - ihl);
        break;
    case NET_PROTO_UDP:
        icmp_unreachable(ns, 3, p, tot);
        break;
    default:
        icmp_unreachable(ns, 2, p, tot);
        break;
    }
}

uint32_t ipv4_next_hop(const netstack *ns, uint32_t dst) {
    if (((dst ^ ns->ip) & ns->netmask) != 0 && ns->gateway) return ns->gateway;
    return dst;
}

void ipv4_output(netstack *ns, void *h, uint8_t *frame, uint32_t dst, uint8_t proto,
                 size_t l4len) {
    uint32_t hop = ipv4_next_hop(ns, dst);
    uint8_t *ip = frame + NET_ETH_HLEN;
    ip[0] = 0x45;
    ip[1] = 0;
    net_wr16(ip + 2, (uint16_t)(NET_IP_HLEN + l4len));
    net_wr16(ip + 4, ns->ip_id++);
    net_wr16(ip + 6, 0x4000); /* DF: we size segments to the MTU */
    ip[8] = 64;
    ip[9] = proto;
    net_wr16(ip + 10, 0);
    net_wr32(ip + 12, ns->ip);
    net_wr32(ip + 16, dst);
    if (!ns->tx_csum_offload) net_wr16(ip + 10, net_csum_fold(net_csum_add(0, ip, NET_IP_HLEN)));
    size_t len = NET_ETH_HLEN + NET_IP_HLEN + l4len;
    const uint8_t *mac = arp_lookup(ns, hop);
    if (!mac) {
        /* Finished but unaddressed: it waits for the ARP reply. */
        arp_request(ns, hop);
        arp_queue(ns, hop, h, frame, len);
        return;
    }
    eth_output(ns, h, frame, mac, ETHERTYPE_IPV4, len);
}
