/* dpdk.c — the DPDK side of dpdk.h (see there for the call order).
 *
 * Lcores: rte_eal_init decides them from the EAL arguments alone; the main
 * lcore is the calling (management) thread and every worker lcore becomes a
 * poll core, poll core i owning queue pair i. RSS spreads flows over queues
 * with a symmetric key (the 0x6d5a pattern repeated), so both directions of
 * a connection hash to the same core; a single queue runs without RSS.
 * Transmit is batched per queue and flushed once per loop turn (or when a
 * batch is full), which adds no delay at low load.
 *
 * Store memory: each poll core's shard arena takes its extents from
 * memzones reserved on that core's socket as it grows (dpdk_arena_source),
 * so the dataset lives in EAL's hugepages, sized by -m / --socket-mem.
 */
#include "dpdk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memzone.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_thash.h>

#include "mem.h"
#include "util.h"

#define RX_DESC 1024
#define TX_DESC 1024
#define TX_BATCH 64
#define MAX_QUEUES 64

struct dpdk_queue {
    uint16_t port, qid;
    struct rte_mempool *pool;
    uint16_t ntx;
    struct rte_mbuf *tx[TX_BATCH];
} __rte_cache_aligned;

static struct {
    int started;
    int port_started;
    uint16_t port;
    int nq;
    int rss;
    int rss_l4;                   /* the NIC hashes TCP ports too */
    uint16_t reta[512];           /* redirection table, read after start */
    uint16_t reta_size;           /* 0: unknown */
    uint16_t vlan;                /* 802.1Q id; 0: none */
    int vlan_hw;                  /* the PMD inserts it (tx offload) */
    uint16_t mtu;
    unsigned lcores[RTE_MAX_LCORE];
    int npoll;
    struct rte_mempool *pools[RTE_MAX_NUMA_NODES]; /* one per socket with poll cores */
    int npools;
    int rx_csum, tx_csum;         /* IPv4/TCP checksum offloads in use */
    char *argbuf;                 /* EAL may keep pointers into its argv */
    char **argv;
    dpdk_queue queues[MAX_QUEUES];
} env;

int dpdk_available(void) { return 1; }

int dpdk_start(const char *eal_args, char *err, size_t errlen) {
    /* Split shell-like: whitespace separates, quotes group. */
    size_t n = strlen(eal_args);
    /* The connection arena's memory, not a shard's: freed after EAL has
     * unmapped the memory the shard arenas took from it. */
    char *buf = cb_malloc_shared(n + 1);
    char **argv = cb_malloc_shared(sizeof(char *) * (n / 2 + 3));
    int argc = 0;
    argv[argc++] = (char *)"cachebox";
    size_t o = 0;
    const char *p = eal_args;
    while (*p) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        argv[argc++] = buf + o;
        char q = 0;
        while (*p && (q || (*p != ' ' && *p != '\t'))) {
            if (!q && (*p == '"' || *p == '\'')) q = *p;
            else if (q && *p == q) q = 0;
            else buf[o++] = *p;
            p++;
        }
        buf[o++] = '\0';
    }
    argv[argc] = NULL;
    env.argbuf = buf;
    env.argv = argv;
    int rc = rte_eal_init(argc, argv);
    /* EAL keeps pointers into argv for some options: freed in dpdk_stop. */
    if (rc < 0) {
        snprintf(err, errlen, "DPDK EAL initialisation failed (dpdk-eal-args \"%s\"): %s",
                 eal_args, rte_strerror(rte_errno));
        return -1;
    }
    env.started = 1;
    unsigned lc;
    env.npoll = 0;
    RTE_LCORE_FOREACH_WORKER(lc) env.lcores[env.npoll++] = lc;
    if (env.npoll < 1) {
        snprintf(err, errlen, "the DPDK data plane needs at least two lcores (the main lcore "
                              "manages, every other lcore is a poll core); dpdk-eal-args gives "
                              "%u: add one with -l or --lcores", rte_lcore_count());
        return -1;
    }
    if (env.npoll > MAX_QUEUES) env.npoll = MAX_QUEUES;
    return 0;
}

int dpdk_poll_cores(void) { return env.npoll; }

/* The symmetric Toeplitz key: a repeated 16-bit pattern makes the hash of
 * (src, dst) equal to that of (dst, src). */
static uint8_t sym_key[40];

/* Remember the redirection table, so that an active open can pick a local
 * port whose flow the NIC steers to the opening core (dpdk_rss_queue). */
static void read_reta(uint16_t pid, const struct rte_eth_dev_info *info, uint64_t rss_hf) {
    env.reta_size = 0;
    env.rss_l4 = (rss_hf & RTE_ETH_RSS_NONFRAG_IPV4_TCP) != 0;
    uint16_t n = info->reta_size;
    if (!env.rss_l4 || n == 0 || n > 512) return;
    struct rte_eth_rss_reta_entry64 conf[512 / RTE_ETH_RETA_GROUP_SIZE];
    memset(conf, 0, sizeof(conf));
    for (unsigned i = 0; i < n; i++)
        conf[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ull << (i % RTE_ETH_RETA_GROUP_SIZE);
    if (rte_eth_dev_rss_reta_query(pid, conf, n) != 0) return;
    for (unsigned i = 0; i < n; i++)
        env.reta[i] = conf[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
    env.reta_size = n;
}

void dpdk_set_vlan(uint16_t vid) { env.vlan = vid; }
int dpdk_vlan_hw_insert(void) { return env.vlan_hw; }

int dpdk_rss_queue(uint32_t a, uint16_t aport, uint32_t b, uint16_t bport) {
    if (!env.rss || !env.reta_size) return -1;
    struct rte_ipv4_tuple t;
    memset(&t, 0, sizeof(t));
    t.src_addr = a;
    t.dst_addr = b;
    t.sport = aport;
    t.dport = bport;
    uint32_t h = rte_softrss((uint32_t *)&t, RTE_THASH_V4_L4_LEN, sym_key);
    return env.reta[h % env.reta_size];
}

int dpdk_port_setup(const char *port, int nq, int mtu, uint8_t mac[6], char *err,
                    size_t errlen) {
    uint16_t pid;
    long long v;
    if (util_str2ll(port, strlen(port), &v) && v >= 0 && v < RTE_MAX_ETHPORTS) {
        pid = (uint16_t)v;
        if (!rte_eth_dev_is_valid_port(pid)) {
            snprintf(err, errlen, "dpdk-port %s: no such port (%u ports available)", port,
                     rte_eth_dev_count_avail());
            return -1;
        }
    } else if (rte_eth_dev_get_port_by_name(port, &pid) != 0) {
        snprintf(err, errlen, "dpdk-port %s: no such device", port);
        return -1;
    }
    struct rte_eth_dev_info info;
    if (rte_eth_dev_info_get(pid, &info) != 0) {
        snprintf(err, errlen, "dpdk-port %s: cannot read device info", port);
        return -1;
    }
    if (nq > info.max_rx_queues || nq > info.max_tx_queues) {
        snprintf(err, errlen, "dpdk-port %s (%s) has %u rx / %u tx queues but there are %d "
                 "poll cores: use fewer lcores or a device with more queues", port,
                 info.driver_name, info.max_rx_queues, info.max_tx_queues, nq);
        return -1;
    }
    /* Frames up to the MTU plus Ethernet header and a VLAN tag in one mbuf. */
    unsigned room = (unsigned)mtu + 14 + 4 + 4;
    if (room < 2048) room = 2048;
    room += RTE_PKTMBUF_HEADROOM;
    /* One mbuf pool per NUMA socket that has poll cores, sized for that
     * socket's queues: a core allocates and receives into memory local to
     * it. */
    env.npools = 0;
    for (int q = 0; q < nq; q++) {
        unsigned sock = rte_lcore_to_socket_id(env.lcores[q]);
        if (sock >= RTE_MAX_NUMA_NODES) sock = 0;
        if (env.pools[sock]) continue;
        int nqs = 0;
        for (int k = 0; k < nq; k++) {
            unsigned sk = rte_lcore_to_socket_id(env.lcores[k]);
            if ((sk >= RTE_MAX_NUMA_NODES ? 0 : sk) == sock) nqs++;
        }
        unsigned nmbuf = (unsigned)nqs * (RX_DESC + TX_DESC + TX_BATCH + 512) + 4096;
        char name[32];
        snprintf(name, sizeof(name), "cbx_mbufs_s%u", sock);
        env.pools[sock] = rte_pktmbuf_pool_create(name, nmbuf, 256, 0, (uint16_t)room, (int)sock);
        if (!env.pools[sock]) {
            snprintf(err, errlen, "cannot create the mbuf pool of socket %u (%u mbufs of %u "
                     "bytes): %s; give EAL more memory (-m / --socket-mem) or reserve hugepages",
                     sock, nmbuf, room, rte_strerror(rte_errno));
            return -1;
        }
        env.npools++;
    }
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    /* IPv4 and TCP checksums: the NIC's when it offers both directions'
     * pair, else the stack computes and checks them in software (af_packet
     * and af_xdp offer none). */
    const uint64_t rxc = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
    const uint64_t txc = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    env.rx_csum = (info.rx_offload_capa & rxc) == rxc;
    env.tx_csum = (info.tx_offload_capa & txc) == txc;
    if (env.rx_csum) conf.rxmode.offloads |= rxc;
    if (env.tx_csum) conf.txmode.offloads |= txc;
    env.vlan_hw = 0;
    if (env.vlan && (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_VLAN_INSERT)) {
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_VLAN_INSERT;
        env.vlan_hw = 1;
    }
    env.rss = 0;
    if (nq > 1) {
        for (int i = 0; i < 40; i += 2) {
            sym_key[i] = 0x6d;
            sym_key[i + 1] = 0x5a;
        }
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = sym_key;
        conf.rx_adv_conf.rss_conf.rss_key_len = 40;
        conf.rx_adv_conf.rss_conf.rss_hf =
            (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP) & info.flow_type_rss_offloads;
        env.rss = 1;
    }
    int rc = rte_eth_dev_configure(pid, (uint16_t)nq, (uint16_t)nq, &conf);
    if (rc < 0) {
        snprintf(err, errlen, "dpdk-port %s: configure failed: %s", port, rte_strerror(-rc));
        return -1;
    }
    uint16_t nrx = RX_DESC, ntx = TX_DESC;
    rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrx, &ntx);
    int sock = rte_eth_dev_socket_id(pid);
    if (sock < 0) sock = (int)rte_socket_id();
    for (int q = 0; q < nq; q++) {
        /* Queue q belongs to poll core q: its descriptors and mbufs on
         * that core's socket. */
        unsigned qs = rte_lcore_to_socket_id(env.lcores[q]);
        if (qs >= RTE_MAX_NUMA_NODES) qs = 0;
        struct rte_mempool *qpool = env.pools[qs];
        if ((rc = rte_eth_rx_queue_setup(pid, (uint16_t)q, nrx, qs, NULL, qpool)) < 0 ||
            (rc = rte_eth_tx_queue_setup(pid, (uint16_t)q, ntx, qs, NULL)) < 0) {
            snprintf(err, errlen, "dpdk-port %s: queue %d set-up failed: %s", port, q,
                     rte_strerror(-rc));
            return -1;
        }
        env.queues[q].port = pid;
        env.queues[q].qid = (uint16_t)q;
        env.queues[q].pool = qpool;
    }
    uint16_t cur = 0;
    rte_eth_dev_get_mtu(pid, &cur);
    if (cur != mtu && rte_eth_dev_set_mtu(pid, (uint16_t)mtu) != 0) {
        /* Some virtual devices cannot change it: keep theirs if smaller. */
        if (cur && cur < mtu) mtu = cur;
    }
    env.mtu = (uint16_t)mtu;
    if ((rc = rte_eth_dev_start(pid)) < 0) {
        snprintf(err, errlen, "dpdk-port %s: start failed: %s", port, rte_strerror(-rc));
        return -1;
    }
    env.port_started = 1;
    env.port = pid;
    env.nq = nq;
    if (env.rss) read_reta(pid, &info, conf.rx_adv_conf.rss_conf.rss_hf);
    struct rte_ether_addr a;
    rte_eth_macaddr_get(pid, &a);
    memcpy(mac, a.addr_bytes, 6);
    return 0;
}

int dpdk_launch(int i, int (*fn)(void *), void *arg) {
    if (i < 0 || i >= env.npoll) return -1;
    return rte_eal_remote_launch(fn, arg, env.lcores[i]) == 0 ? 0 : -1;
}

void dpdk_wait(int i) {
    if (i >= 0 && i < env.npoll) rte_eal_wait_lcore(env.lcores[i]);
}

void dpdk_stop(void) {
    if (env.port_started) {
        for (int q = 0; q < env.nq; q++) dpdk_tx_flush(&env.queues[q]);
        rte_eth_dev_stop(env.port);
        rte_eth_dev_close(env.port);
        env.port_started = 0;
    }
    for (int i = 0; i < RTE_MAX_NUMA_NODES; i++) {
        if (!env.pools[i]) continue;
        rte_mempool_free(env.pools[i]);
        env.pools[i] = NULL;
    }
    env.npools = 0;
    if (env.started) {
        rte_eal_cleanup();
        env.started = 0;
    }
    cb_free_shared(env.argv);
    cb_free_shared(env.argbuf);
    env.argv = NULL;
    env.argbuf = NULL;
}

dpdk_queue *dpdk_queue_get(int i) { return i >= 0 && i < env.nq ? &env.queues[i] : NULL; }

int dpdk_rx(dpdk_queue *q, uint8_t **data, uint16_t *len, void **pkt, uint8_t *flags, int max) {
    struct rte_mbuf *m[64];
    if (max > 64) max = 64;
    uint16_t n = rte_eth_rx_burst(q->port, q->qid, m, (uint16_t)max);
    int k = 0;
    for (uint16_t i = 0; i < n; i++) {
        if (m[i]->nb_segs != 1) { /* we never enable scattered rx */
            rte_pktmbuf_free(m[i]);
            continue;
        }
        /* The stack checks 802.1Q tags itself: one a PMD left only in the
         * metadata goes back into the frame (af_packet puts it back
         * itself, yet still flags it stripped). */
        if ((m[i]->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) &&
            rte_pktmbuf_data_len(m[i]) >= 14 &&
            rte_pktmbuf_mtod_offset(m[i], uint8_t *, 12)[0] != 0x81 &&
            rte_vlan_insert(&m[i]) != 0) {
            rte_pktmbuf_free(m[i]);
            continue;
        }
        data[k] = rte_pktmbuf_mtod(m[i], uint8_t *);
        len[k] = rte_pktmbuf_data_len(m[i]);
        uint64_t of = m[i]->ol_flags;
        flags[k] = (uint8_t)((env.rx_csum && (of & RTE_MBUF_F_RX_IP_CKSUM_MASK) ==
                                                 RTE_MBUF_F_RX_IP_CKSUM_GOOD
                                  ? DPDK_RX_IP_CSUM_OK : 0) |
                             (env.rx_csum && (of & RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
                                                 RTE_MBUF_F_RX_L4_CKSUM_GOOD
                                  ? DPDK_RX_L4_CSUM_OK : 0));
        pkt[k] = m[i];
        k++;
    }
    return k;
}

void dpdk_rx_free(void *pkt) { rte_pktmbuf_free(pkt); }

uint8_t *dpdk_tx_alloc(dpdk_queue *q, size_t len, void **h) {
    struct rte_mbuf *m = rte_pktmbuf_alloc(q->pool);
    if (!m) return NULL;
    if (len < 60) len = 60;
    if (len + 4 > rte_pktmbuf_tailroom(m)) { /* room for a software VLAN tag */
        rte_pktmbuf_free(m);
        return NULL;
    }
    *h = m;
    return rte_pktmbuf_mtod(m, uint8_t *);
}

void dpdk_tx_send(dpdk_queue *q, void *h, size_t len) {
    struct rte_mbuf *m = h;
    m->data_len = (uint16_t)len;
    m->pkt_len = (uint32_t)len;
    if (env.vlan_hw) {
        m->ol_flags |= RTE_MBUF_F_TX_VLAN;
        m->vlan_tci = env.vlan;
    }
    if (env.tx_csum) {
        /* The stack left the IPv4 header checksum 0 and the TCP one as the
         * pseudo-header sum: the NIC completes both. */
        const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
        unsigned l2 = 14;
        uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
        if (type == 0x8100 && len >= 18) {
            l2 = 18;
            type = (uint16_t)(f[16] << 8 | f[17]);
        }
        if (type == 0x0800 && len >= l2 + 20) {
            m->l2_len = l2;
            m->l3_len = (f[l2] & 0xf) * 4u;
            m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
            if (f[l2 + 9] == 6) m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
        }
    }
    q->tx[q->ntx++] = m;
    if (q->ntx == TX_BATCH) dpdk_tx_flush(q);
}

void dpdk_tx_free(void *h) { rte_pktmbuf_free(h); }

unsigned dpdk_tx_flush(dpdk_queue *q) {
    uint16_t done = 0;
    for (int tries = 0; done < q->ntx && tries < 8; tries++)
        done += rte_eth_tx_burst(q->port, q->qid, q->tx + done, (uint16_t)(q->ntx - done));
    unsigned dropped = (unsigned)(q->ntx - done);
    for (uint16_t i = done; i < q->ntx; i++) rte_pktmbuf_free(q->tx[i]);
    q->ntx = 0;
    return dropped;
}

void dpdk_port_info_get(dpdk_port_info *pi) {
    memset(pi, 0, sizeof(*pi));
    if (!env.port_started) return;
    pi->port_id = env.port;
    rte_eth_dev_get_name_by_port(env.port, pi->name);
    struct rte_ether_addr a;
    rte_eth_macaddr_get(env.port, &a);
    memcpy(pi->mac, a.addr_bytes, 6);
    struct rte_eth_link link;
    memset(&link, 0, sizeof(link));
    rte_eth_link_get_nowait(env.port, &link);
    pi->link_up = link.link_status == RTE_ETH_LINK_UP;
    pi->link_speed_mbps = link.link_speed;
    pi->mtu = env.mtu;
    pi->nqueues = env.nq;
    pi->rss = env.rss;
    pi->rx_csum_offload = env.rx_csum;
    pi->tx_csum_offload = env.tx_csum;
    pi->mbuf_pools = env.npools;
    struct rte_eth_stats st;
    if (rte_eth_stats_get(env.port, &st) == 0) {
        pi->ipackets = st.ipackets;
        pi->opackets = st.opackets;
        pi->ibytes = st.ibytes;
        pi->obytes = st.obytes;
        pi->imissed = st.imissed;
        pi->ierrors = st.ierrors;
        pi->oerrors = st.oerrors;
        pi->rx_nombuf = st.rx_nombuf;
    }
}

/* ------------------------------------------------------------------------
 * Store arenas on EAL memory
 * ---------------------------------------------------------------------- */

/* Sockets of the poll cores, the context of their arena sources. */
static int arena_socket[MAX_QUEUES];
static unsigned arena_zones; /* names memzones; bumped under the source's lock */

static int core_socket(int i) {
    if (i < 0 || i >= env.npoll) return (int)rte_socket_id();
    unsigned s = rte_lcore_to_socket_id(env.lcores[i]);
    return s == (unsigned)SOCKET_ID_ANY ? 0 : (int)s;
}

static void *zone_get(void *ctx, size_t bytes, size_t align) {
    int socket = *(int *)ctx;
    char name[RTE_MEMZONE_NAMESIZE];
    snprintf(name, sizeof(name), "cbx_arena_%u",
             __atomic_fetch_add(&arena_zones, 1, __ATOMIC_RELAXED));
    /* 2 MB pages when EAL has them; any page size would still work. */
    unsigned flags = rte_eal_has_hugepages() ? RTE_MEMZONE_2MB | RTE_MEMZONE_SIZE_HINT_ONLY : 0;
    const struct rte_memzone *mz =
        rte_memzone_reserve_aligned(name, bytes, socket, flags, (unsigned)align);
    return mz ? mz->addr : NULL;
}

static size_t zone_avail(void *ctx) {
    struct rte_malloc_socket_stats st;
    if (rte_malloc_get_socket_stats(*(int *)ctx, &st) != 0) return 0;
    return st.heap_freesz_bytes;
}

int dpdk_arena_source(int i, struct mem_chunk_source *src) {
    if (!env.started || i < 0 || i >= MAX_QUEUES) return -1;
    arena_socket[i] = core_socket(i);
    memset(src, 0, sizeof(*src));
    src->get = zone_get;
    src->avail = zone_avail;
    src->ctx = &arena_socket[i];
    src->chunk = 16u << 20;
    src->hugetlb = rte_eal_has_hugepages();
    return 0;
}

void dpdk_heap_bytes(int i, size_t *total, size_t *free_bytes) {
    *total = *free_bytes = 0;
    struct rte_malloc_socket_stats st;
    if (!env.started || rte_malloc_get_socket_stats(core_socket(i), &st) != 0) return;
    *total = st.heap_totalsz_bytes;
    *free_bytes = st.heap_freesz_bytes;
}

int dpdk_xstats(void (*fn)(void *ctx, const char *name, uint64_t value), void *ctx) {
    if (!env.port_started) return -1;
    int n = rte_eth_xstats_get_names(env.port, NULL, 0);
    if (n <= 0) return -1;
    struct rte_eth_xstat_name *names = cb_malloc(sizeof(*names) * (size_t)n);
    struct rte_eth_xstat *vals = cb_malloc(sizeof(*vals) * (size_t)n);
    int got = -1;
    if (rte_eth_xstats_get_names(env.port, names, (unsigned)n) == n &&
        rte_eth_xstats_get(env.port, vals, (unsigned)n) == n) {
        for (int i = 0; i < n; i++)
            if (vals[i].id < (uint64_t)n) fn(ctx, names[vals[i].id].name, vals[i].value);
        got = n;
    }
    cb_free(names);
    cb_free(vals);
    return got;
}
