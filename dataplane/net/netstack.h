/* netstack.h — one instance of our userspace network stack, owned by one
 * poll core (no locks): Ethernet filtering, ARP, IPv4, ICMP echo and the TCP
 * layer (dataplane/tcp/). The stack works on plain frame bytes; the I/O
 * driver supplies frames (net_input) and transmit buffers (net_ops), so the
 * same code runs over DPDK mbufs, in the CUnit tests and in the fuzzer.
 *
 * Per poll-loop turn: net_set_clock -> net_input (each frame) ->
 * tcp_timers_run -> application -> tcp_flush_acks. Design: docs/tcp-stack.md.
 */
#ifndef CB_NETSTACK_H
#define CB_NETSTACK_H

#include <stddef.h>
#include <stdint.h>

#define NET_ETH_HLEN 14
#define NET_VLAN_HLEN 4
#define NET_IP_HLEN 20
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_VLAN 0x8100
#define NET_PROTO_ICMP 1
#define NET_PROTO_TCP 6
#define NET_PROTO_UDP 17
#define NET_CSUM_IP 1
#define NET_CSUM_L4 2

/* Counters written by the owning core only, read relaxed by INFO. */
#define NS_ADD(var, n) __atomic_store_n(&(var), __atomic_load_n(&(var), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define NS_INC(var) NS_ADD(var, 1)

typedef struct net_stats {
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
    uint64_t rx_filtered;        /* not our MAC / IP, or not a protocol we speak */
    uint64_t rx_malformed;       /* truncated or inconsistent headers */
    uint64_t rx_csum_errors;     /* IPv4, ICMP or TCP checksum wrong */
    uint64_t rx_frag_dropped;    /* IPv4 fragments are counted and dropped */
    uint64_t tx_dropped;         /* no buffer, or next hop unresolved */
    uint64_t arp_rx, arp_tx;
    uint64_t icmp_echo_replies, icmp_unreach_tx;
    uint64_t tcp_rx_segs, tcp_tx_segs;
    uint64_t tcp_retransmits, tcp_fast_retransmits, tcp_rto_fired;
    uint64_t tcp_ooo_segs;       /* segments queued out of order */
    uint64_t tcp_rst_tx, tcp_rst_rx, tcp_challenge_acks;
    uint64_t tcp_passive_opens, tcp_syn_dropped, tcp_aborts;
    uint64_t tcp_active, tcp_time_wait, tcp_syn_rcvd; /* gauges */
    uint64_t tcp_syncookies_sent, tcp_syncookies_ok, tcp_syncookies_failed;
    uint64_t tcp_keepalive_probes;
    uint64_t tcp_tlp_probes;         /* tail loss probes sent (RFC 8985 7) */
    uint64_t tcp_rack_retransmits;   /* resends of segments RACK found lost */
    uint64_t tcp_sack_retransmits;   /* resends of holes below SACKed data */
    uint64_t tcp_dsacks_received;    /* D-SACKs: a resend was not needed */
    uint64_t tcp_active_opens, tcp_connect_failed;
    uint64_t arp_queued, arp_queue_dropped; /* frames that waited for a resolution */
    uint64_t rx_handed_over;     /* frames passed to another poll core (active opens) */
    uint64_t rx_vlan_dropped;    /* tagged for another VLAN, or untagged while one is set */
    uint64_t polls_busy, polls_idle;
} net_stats;

/* Transmit buffers supplied by the driver. tx_alloc returns room for a frame
 * of up to `len` bytes (or NULL); exactly one of tx_send / tx_free follows. */
typedef struct net_ops {
    uint8_t *(*tx_alloc)(void *ctx, size_t len, void **handle);
    void (*tx_send)(void *ctx, void *handle, size_t len);
    void (*tx_free)(void *ctx, void *handle);
} net_ops;

#define ARP_CACHE_SIZE 64
#define ARP_EXPIRE_MS 300000
typedef struct arp_entry {
    uint32_t ip;                 /* host order; 0: free */
    uint8_t mac[6];
    uint64_t expire_ms;
} arp_entry;

/* Frames waiting for the next hop's MAC (an active open's SYN, a reply
 * after the entry expired): sent when the ARP reply comes, dropped after
 * ARP_QUEUE_MS. */
#define ARP_QUEUE_MAX 32
#define ARP_QUEUE_MS 1000
typedef struct arp_pending {
    uint32_t hop;                /* host order; 0: free */
    void *h;
    uint8_t *frame;
    size_t len;
    uint64_t expire_ms;
} arp_pending;

struct tcp_stack;

typedef struct netstack {
    const net_ops *ops;
    void *ops_ctx;
    uint8_t mac[6];
    uint32_t ip, netmask, gateway; /* host order; gateway 0: none */
    uint16_t mtu;
    uint16_t ip_id;
    /* 802.1Q: the VLAN id our frames carry (0: none). vlan_hw: the driver
     * inserts the tag (offload); else eth_output does, which needs 4 bytes
     * of room past each transmit frame's length. */
    uint16_t vlan;
    int vlan_hw;
    /* Checksum offloads. rx_csum_ok: what the NIC verified in the frame
     * net_input is processing (NET_CSUM_*; the driver sets it around each
     * call, 0 otherwise). tx_csum_offload: outgoing IPv4 header checksums
     * are left 0 and TCP's hold the pseudo-header sum; the NIC finishes
     * them. */
    uint8_t rx_csum_ok;
    int tx_csum_offload;
    uint64_t now_us, now_ms;     /* monotonic, set once per loop turn */
    arp_entry arp[ARP_CACHE_SIZE];
    uint64_t arp_req_ms;         /* last ARP request sent (rate limit) */
    arp_pending arpq[ARP_QUEUE_MAX];
    int narpq;
    struct tcp_stack *tcp;
    net_stats st;
} netstack;

/* Create a stack for the given identity (addresses in host order). The TCP
 * layer is created with it. NULL on allocation failure. */
netstack *net_create(const net_ops *ops, void *ctx, const uint8_t mac[6], uint32_t ip,
                     uint32_t netmask, uint32_t gateway, uint16_t mtu);
/* Abort every connection (the application is told) and free the stack. */
void net_destroy(netstack *ns);
void net_set_clock(netstack *ns, uint64_t now_us);
/* Process one received frame; the bytes may be modified, not kept. */
void net_input(netstack *ns, uint8_t *frame, size_t len);

/* eth.c: fill the Ethernet header and hand the frame to the driver. */
void eth_output(netstack *ns, void *h, uint8_t *frame, const uint8_t dst[6], uint16_t type,
                size_t len);
/* arp.c */
void arp_input(netstack *ns, const uint8_t *p, size_t len);
void arp_learn(netstack *ns, uint32_t ip, const uint8_t mac[6], int create);
const uint8_t *arp_lookup(netstack *ns, uint32_t ip);
void arp_request(netstack *ns, uint32_t ip);
void arp_announce(netstack *ns); /* gratuitous ARP for our address */
/* Keep a finished IPv4 frame until hop resolves (its ARP request is sent
 * by the caller); dropped and counted when the queue is full. */
void arp_queue(netstack *ns, uint32_t hop, void *h, uint8_t *frame, size_t len);
/* Drop queued frames past their time (each loop turn); free all (destroy). */
void arp_queue_expire(netstack *ns);
void arp_queue_free(netstack *ns);
/* The next hop for dst: dst itself on our subnet, else the gateway. */
uint32_t ipv4_next_hop(const netstack *ns, uint32_t dst);
/* ipv4.c: input after the Ethernet header; output of a frame whose L4
 * part starts at frame + 34 and is l4len long (header filled here). */
void ipv4_input(netstack *ns, const uint8_t *src_mac, uint8_t *p, size_t len);
void ipv4_output(netstack *ns, void *h, uint8_t *frame, uint32_t dst, uint8_t proto,
                 size_t l4len);
/* icmp.c */
void icmp_input(netstack *ns, uint32_t src, const uint8_t *p, size_t len);
/* ICMP destination unreachable (code) quoting the offending IP packet. */
void icmp_unreachable(netstack *ns, uint8_t code, const uint8_t *ip, size_t len);

/* Internet checksum helpers (RFC 1071). */
uint32_t net_csum_add(uint32_t sum, const void *p, size_t len);
uint16_t net_csum_fold(uint32_t sum);
/* TCP/UDP pseudo-header sum (addresses host order). */
uint32_t net_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

static inline uint16_t net_rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t net_rd32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void net_wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void net_wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

#endif
