/* zc_micro.c — the per-segment cost of the two ways a TCP payload reaches
 * an mbuf, measured in isolation (tests/bench/zc_micro.sh builds and runs
 * it): "copy" allocates one mbuf and copies the payload behind the 54
 * header bytes; "ref" allocates the header mbuf and a data-less one
 * attached to the send ring by rte_pktmbuf_attach_extbuf (one shared info
 * per ring, as platform/dpdk.c does). Both then let a consumer copy the
 * frame out segment by segment (what af_packet's transmit does) and free
 * it. Prints nanoseconds per segment, the best of several runs, per
 * payload size: where "ref" starts to win is the copy threshold.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#define ITERS 400000
#define RUNS 7

static uint8_t ring[65536];
static uint8_t wire[2048];
static struct rte_mbuf_ext_shared_info shinfo;
static int released;

static void let_go(void *addr, void *opaque) {
    (void)addr;
    (void)opaque;
    released++;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* What a copying PMD does with the frame, then the free after tx. */
static void consume(struct rte_mbuf *m) {
    size_t at = 0;
    for (struct rte_mbuf *s = m; s; s = s->next) {
        memcpy(wire + at, rte_pktmbuf_mtod(s, void *), s->data_len);
        at += s->data_len;
    }
    rte_pktmbuf_free(m);
}

static double run_copy(struct rte_mempool *pool, size_t size) {
    double t0 = now_ns();
    for (int i = 0; i < ITERS; i++) {
        struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
        uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
        memset(f, 0, 54);
        size_t off = ((size_t)i * 1448) & 32767;
        memcpy(f + 54, ring + off, size);
        m->data_len = (uint16_t)(54 + size);
        m->pkt_len = (uint32_t)(54 + size);
        consume(m);
    }
    return (now_ns() - t0) / ITERS;
}

static double run_ref(struct rte_mempool *pool, struct rte_mempool *zpool, size_t size) {
    double t0 = now_ns();
    for (int i = 0; i < ITERS; i++) {
        struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
        uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
        memset(f, 0, 54);
        struct rte_mbuf *seg = rte_pktmbuf_alloc(zpool);
        if (rte_mbuf_ext_refcnt_read(&shinfo) == 0) {
            shinfo.free_cb = let_go;
            shinfo.fcb_opaque = NULL;
            rte_mbuf_ext_refcnt_set(&shinfo, 1);
        } else {
            rte_mbuf_ext_refcnt_update(&shinfo, 1);
        }
        size_t off = ((size_t)i * 1448) & 32767;
        rte_pktmbuf_attach_extbuf(seg, ring + off, RTE_BAD_IOVA, (uint16_t)size, &shinfo);
        seg->data_len = (uint16_t)size;
        seg->pkt_len = (uint32_t)size;
        m->next = seg;
        m->nb_segs = 2;
        m->data_len = 54;
        m->pkt_len = (uint32_t)(54 + size);
        consume(m);
    }
    return (now_ns() - t0) / ITERS;
}

int main(int argc, char **argv) {
    if (rte_eal_init(argc, argv) < 0) {
        fprintf(stderr, "EAL init failed\n");
        return 1;
    }
    struct rte_mempool *pool = rte_pktmbuf_pool_create("mp", 8191, 256, 0, 2048 + 128, 0);
    struct rte_mempool *zpool = rte_pktmbuf_pool_create("zp", 8191, 256, 0, 0, 0);
    if (!pool || !zpool) {
        fprintf(stderr, "mbuf pools failed\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof(ring); i++) ring[i] = (uint8_t)i;
    static const size_t sizes[] = {16, 64, 128, 256, 512, 1024, 1448};
    printf("%8s %12s %12s\n", "payload", "copy ns/seg", "ref ns/seg");
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        double bc = 1e18, br = 1e18;
        for (int r = 0; r < RUNS; r++) {
            double c = run_copy(pool, sizes[k]);
            double z = run_ref(pool, zpool, sizes[k]);
            if (c < bc) bc = c;
            if (z < br) br = z;
        }
        printf("%8zu %12.1f %12.1f\n", sizes[k], bc, br);
    }
    printf("(ring released %d times)\n", released);
    rte_eal_cleanup();
    return 0;
}
