/* dpdk_stub.c — stands in for dpdk.c when the build found no libdpdk:
 * `dataplane dpdk` then fails at start-up with a clear message. */
#include "dpdk.h"

#include <stdio.h>
#include <string.h>

int dpdk_available(void) { return 0; }
int dpdk_start(const char *eal_args, char *err, size_t errlen) {
    (void)eal_args;
    snprintf(err, errlen, "this cachebox was built without DPDK (libdpdk not found at build "
                          "time); use 'dataplane kernel'");
    return -1;
}
int dpdk_poll_cores(void) { return 0; }
int dpdk_port_setup(const char *port, int nq, int mtu, uint8_t mac[6], char *err,
                    size_t errlen) {
    (void)port; (void)nq; (void)mtu; (void)mac;
    snprintf(err, errlen, "built without DPDK");
    return -1;
}
int dpdk_launch(int i, int (*fn)(void *), void *arg) { (void)i; (void)fn; (void)arg; return -1; }
void dpdk_wait(int i) { (void)i; }
void dpdk_stop(void) {}
dpdk_queue *dpdk_queue_get(int i) { (void)i; return NULL; }
int dpdk_xstats(void (*fn)(void *ctx, const char *name, uint64_t value), void *ctx) {
    (void)fn; (void)ctx;
    return -1;
}
int dpdk_rx(dpdk_queue *q, uint8_t **data, uint16_t *len, void **pkt, uint8_t *flags, int max) {
    (void)flags;
    (void)q; (void)data; (void)len; (void)pkt; (void)max;
    return 0;
}
void dpdk_rx_free(void *pkt) { (void)pkt; }
uint8_t *dpdk_tx_alloc(dpdk_queue *q, size_t len, void **h) { (void)q; (void)len; (void)h; return NULL; }
void dpdk_tx_send(dpdk_queue *q, void *h, size_t len) { (void)q; (void)h; (void)len; }
void dpdk_tx_free(void *h) { (void)h; }
unsigned dpdk_tx_flush(dpdk_queue *q) { (void)q; return 0; }
void dpdk_set_vlan(uint16_t vid) { (void)vid; }
int dpdk_vlan_hw_insert(void) { return 0; }
int dpdk_rss_queue(uint32_t a, uint16_t aport, uint32_t b, uint16_t bport) {
    (void)a; (void)aport; (void)b; (void)bport;
    return -1;
}
void dpdk_port_info_get(dpdk_port_info *pi) { memset(pi, 0, sizeof(*pi)); }
int dpdk_arena_source(int i, struct mem_chunk_source *src) {
    (void)i; (void)src;
    return -1;
}
void dpdk_heap_bytes(int i, size_t *total, size_t *free_bytes) {
    (void)i;
    *total = *free_bytes = 0;
}
