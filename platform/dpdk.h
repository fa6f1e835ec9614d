/* dpdk.h — the DPDK environment behind a small interface without rte_*
 * types, so the data plane compiles (and its tests run) without DPDK:
 * EAL start-up from `dpdk-eal-args`, the lcore layout (main lcore =
 * management, every other lcore = one poll core), the mbuf pool, the port
 * with one rx/tx queue pair per poll core (symmetric RSS when there are
 * several), burst receive and batched transmit, statistics, shutdown.
 * Built from dpdk.c when libdpdk is found, else from dpdk_stub.c, whose
 * dpdk_start fails with a clear message.
 *
 * Call order: dpdk_start -> dpdk_port_setup -> dpdk_launch(each poll core)
 * -> [dpdk_rx / dpdk_tx_* on the poll core owning the queue] -> dpdk_wait
 * -> dpdk_stop.
 */
#ifndef CB_DPDK_H
#define CB_DPDK_H

#include <stddef.h>
#include <stdint.h>

typedef struct dpdk_queue dpdk_queue;

typedef struct dpdk_port_info {
    uint16_t port_id;
    char name[64];
    uint8_t mac[6];
    int link_up;
    uint32_t link_speed_mbps;
    uint16_t mtu;
    int nqueues;
    int rss;
    uint64_t ipackets, opackets, ibytes, obytes, imissed, ierrors, oerrors, rx_nombuf;
    int rx_csum_offload, tx_csum_offload; /* IPv4+TCP checksums by the NIC */
    int mbuf_pools;                       /* one per NUMA socket with poll cores */
} dpdk_port_info;

/* Per received frame (dpdk_rx): what the NIC already verified. */
#define DPDK_RX_IP_CSUM_OK 1
#define DPDK_RX_L4_CSUM_OK 2

/* Whether this binary was built with DPDK. */
int dpdk_available(void);
/* rte_eal_init with the words of eal_args (shell-like quoting). Needs at
 * least two lcores. 0 ok; -1 with err. */
int dpdk_start(const char *eal_args, char *err, size_t errlen);
/* Number of poll cores (worker lcores). */
int dpdk_poll_cores(void);
/* 802.1Q VLAN id for the port (before dpdk_port_setup; 0: none). With one,
 * the port's VLAN insert offload is enabled when the PMD offers it. */
void dpdk_set_vlan(uint16_t vid);
/* After set-up: 1 when the NIC inserts the tag (dpdk_tx_send marks the
 * frames), 0 when the stack must. */
int dpdk_vlan_hw_insert(void);
/* Configure and start `port` (an id or a device name) with nq queue pairs
 * and the given MTU; returns 0 and fills mac, or -1 with err. */
int dpdk_port_setup(const char *port, int nq, int mtu, uint8_t mac[6], char *err, size_t errlen);
/* Run fn(arg) on the i-th poll core; dpdk_wait joins it. */
int dpdk_launch(int i, int (*fn)(void *), void *arg);
void dpdk_wait(int i);
/* Stop and close the port, release EAL (no hugepage files stay). */
void dpdk_stop(void);

/* Queue i (one per poll core; only that core may use it). */
dpdk_queue *dpdk_queue_get(int i);
/* Up to max received frames; data/len/handle/DPDK_RX_* flags each;
 * dpdk_rx_free each. */
int dpdk_rx(dpdk_queue *q, uint8_t **data, uint16_t *len, void **pkt, uint8_t *flags, int max);
/* The NIC's extended statistics (rte_eth_xstats): fn(name, value) each;
 * returns how many, -1 when unavailable. Any thread. */
int dpdk_xstats(void (*fn)(void *ctx, const char *name, uint64_t value), void *ctx);
void dpdk_rx_free(void *pkt);
/* A transmit buffer of len bytes (NULL: pool empty). */
uint8_t *dpdk_tx_alloc(dpdk_queue *q, size_t len, void **h);
void dpdk_tx_send(dpdk_queue *q, void *h, size_t len); /* batched */
void dpdk_tx_free(void *h);
/* Hand the batch to the NIC; returns frames dropped (ring full). */
unsigned dpdk_tx_flush(dpdk_queue *q);
/* The memory source for poll core i's shard arena: memzones reserved on
 * demand on that core's NUMA socket, 2 MB pages when EAL has hugepages
 * (mem.h's mem_chunk_source). 0, or -1 without DPDK. */
struct mem_chunk_source;
int dpdk_arena_source(int i, struct mem_chunk_source *src);
/* EAL's heap on poll core i's socket: total and free bytes (0s without). */
void dpdk_heap_bytes(int i, size_t *total, size_t *free_bytes);
/* The queue the NIC's RSS steers the TCP flow a:aport <-> b:bport to
 * (either direction: the key is symmetric), computed in software from the
 * key and the redirection table; -1 when that is not possible here (one
 * queue, no RSS over TCP ports, as with af_packet's kernel fanout, or the
 * table could not be read). Addresses and ports in host order. */
int dpdk_rss_queue(uint32_t a, uint16_t aport, uint32_t b, uint16_t bport);
/* Port counters and link state (any thread). */
void dpdk_port_info_get(dpdk_port_info *pi);

#endif
