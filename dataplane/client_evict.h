/* client_evict.h — client memory accounting and client eviction
 * (`maxmemory-clients`, CLIENT NO-EVICT), as Redis 7.0 does it.
 *
 * Each worker accounts the memory of its own clients (query buffer, output
 * chain, arguments, the client struct) and publishes its total and its
 * biggest non-empty eviction bucket; any worker reads the others' values
 * with relaxed loads. When the sum over workers reaches the limit, the
 * worker holding the biggest bucket closes clients from it, biggest bucket
 * first. Call order: client_mem_update after input, after a flush and in the
 * cron; client_evict_run once per loop turn; client_mem_forget on close.
 */
#ifndef CB_CLIENT_EVICT_H
#define CB_CLIENT_EVICT_H

#include <stddef.h>
#include <stdint.h>

struct cb_client;
struct cb_worker;

/* Buckets: [0] under 32 KiB, then one per power of two (32 KiB, 64 KiB, ...),
 * the last one open-ended. */
#define CB_CLIENT_MEM_BUCKETS 20

/* Memory the client uses now, as CLIENT LIST's tot-mem. */
size_t client_mem_usage(const struct cb_client *c);
/* Re-account c on its worker (its own thread only) and re-file its bucket. */
void client_mem_update(struct cb_client *c);
/* Drop c from its worker's accounting (closing, or evicted). */
void client_mem_forget(struct cb_client *c);
/* The limit in bytes now (percent resolved against maxmemory, at least
 * 128 KiB); 0 = off. */
unsigned long long client_evict_limit(void);
/* Sum of every worker's client memory (any thread). */
uint64_t client_mem_total(void);
/* Close this worker's biggest clients while the total is over the limit and
 * no other worker holds a bigger bucket. */
void client_evict_run(struct cb_worker *w);

#endif
