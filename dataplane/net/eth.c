/* eth.c — the bottom of the stack: stack life cycle, the per-turn clock,
 * Ethernet input filtering and output, and the Internet checksum.
 *
 * Only frames addressed to our MAC or to broadcast pass: af_packet delivers
 * frames of other interfaces for a moment at start-up, so nothing else may
 * be trusted. With a VLAN set (dpdk-vlan), only frames tagged with its id
 * pass, their tag stripped here; other VLANs and untagged frames are
 * dropped and counted. Output inserts the tag, unless the driver's NIC
 * does (vlan_hw).
 */
#include "netstack.h"

#include <string.h>
#include "../tcp/tcp.h"
#include "../../platform/mem.h"

static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

netstack *net_create(const net_ops *ops, void *ctx, const uint8_t mac[6], uint32_t ip,
                     uint32_t netmask, uint32_t gateway, uint16_t mtu) {
    netstack *ns = cb_calloc(sizeof(*ns));
    ns->ops = ops;
    ns->ops_ctx = ctx;
    memcpy(ns->mac, mac, 6);
    ns->ip = ip;
    ns->netmask = netmask;
    ns->gateway = gateway;
    ns->mtu = mtu;
    ns->tcp = tcp_stack_create(ns);
    return ns;
}

void net_destroy(netstack *ns) {
    if (!ns) return;
    tcp_stack_destroy(ns->tcp);
    arp_queue_free(ns);
    cb_free(ns);
}

void net_set_clock(netstack *ns, uint64_t now_us) {
    ns->now_us = now_us;
    ns->now_ms = now_us / 1000;
    arp_queue_expire(ns);
}

void net_input(netstack *ns, uint8_t *frame, size_t len) {
    NS_INC(ns->st.rx_packets);
    NS_ADD(ns->st.rx_bytes, len);
    if (len < NET_ETH_HLEN) {
        NS_INC(ns->st.rx_malformed);
        return;
    }
    if (memcmp(frame, ns->mac, 6) != 0 && memcmp(frame, BCAST, 6) != 0) {
        NS_INC(ns->st.rx_filtered);
        return;
    }
    uint16_t type = net_rd16(frame + 12);
    size_t hl = NET_ETH_HLEN;
    if (type == ETHERTYPE_VLAN) {
        if (len < NET_ETH_HLEN + NET_VLAN_HLEN) {
            NS_INC(ns->st.rx_malformed);
            return;
        }
        /* TCI: priority (3 bits), DEI, VLAN id (12 bits). */
        if (!ns->vlan || (net_rd16(frame + 14) & 0x0fff) != ns->vlan) {
            NS_INC(ns->st.rx_vlan_dropped);
            return;
        }
        type = net_rd16(frame + 16);
        hl += NET_VLAN_HLEN;
    } else if (ns->vlan) {
        NS_INC(ns->st.rx_vlan_dropped);
        return;
    }
    if (type == ETHERTYPE_ARP) {
        arp_input(ns, frame + hl, len - hl);
    } else if (type == ETHERTYPE_IPV4) {
        ipv4_input(ns, frame + 6, frame + hl, len - hl);
    } else {
        NS_INC(ns->st.rx_filtered);
    }
}

void eth_output(netstack *ns, void *h, uint8_t *frame, const uint8_t dst[6], uint16_t type,
                size_t len) {
    if (ns->vlan && !ns->vlan_hw) {
        /* Software 802.1Q insertion: the payload moves 4 bytes on (the
         * driver's buffers have that room). */
        memmove(frame + NET_ETH_HLEN + NET_VLAN_HLEN, frame + NET_ETH_HLEN, len - NET_ETH_HLEN);
        len += NET_VLAN_HLEN;
        net_wr16(frame + 12, ETHERTYPE_VLAN);
        net_wr16(frame + 14, ns->vlan);
        net_wr16(frame + 16, type);
    } else {
        net_wr16(frame + 12, type);
    }
    memcpy(frame, dst, 6);
    memcpy(frame + 6, ns->mac, 6);
    /* Ethernet's minimum frame: pad with zeros (the NIC adds the FCS). */
    if (len < 60) {
        memset(frame + len, 0, 60 - len);
        len = 60;
    }
    NS_INC(ns->st.tx_packets);
    NS_ADD(ns->st.tx_bytes, len);
    ns->ops->tx_send(ns->ops_ctx, h, len);
}

uint32_t net_csum_add(uint32_t sum, const void *data, size_t len) {
    /* Only the last chunk of a checksummed area may have an odd length. */
    const uint8_t *p = data;
    uint64_t s = 0;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        s += (v & 0xffffffffu) + (v >> 32);
        p += 8;
        len -= 8;
    }
    /* s sums native (little-endian) words; the one's complement sum is byte
     * order independent (RFC 1071), so fold and swap once. */
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    uint64_t t = ((s & 0xff) << 8) | (s >> 8);
    while (len >= 2) {
        t += (uint32_t)(p[0] << 8 | p[1]);
        p += 2;
        len -= 2;
    }
    if (len) t += (uint32_t)p[0] << 8;
    t += sum;
    while (t >> 16) t = (t & 0xffff) + (t >> 16);
    return (uint32_t)t;
}

uint16_t net_csum_fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint32_t net_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len) {
    uint64_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint32_t)s;
}
