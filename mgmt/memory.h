/* memory.h — the server's memory report: the allocator's and the kernel's
 * figures (refreshed by the management thread, never read from jemalloc on
 * a request), the overhead INFO and MEMORY STATS break used_memory into, and
 * the MEMORY command. Call order: memstats_refresh() once at start-up and
 * then from the management cron; the rest from any worker, with the other
 * workers parked when it walks their shards or clients (INFO, MEMORY
 * STATS/DOCTOR are global commands in dataplane/xshard.c).
 */
#ifndef CB_MGMT_MEMORY_H
#define CB_MGMT_MEMORY_H

#include <stddef.h>

typedef struct cb_client cb_client;

/* The allocator's and kernel's view, as of the last refresh. */
typedef struct cb_alloc_stats {
    size_t allocated, active, resident, mapped, retained; /* jemalloc, our arenas */
    size_t rss;          /* VmRSS + HugetlbPages */
    size_t hugetlb;      /* HugetlbPages alone */
} cb_alloc_stats;

/* Read jemalloc's statistics and /proc/self/status into the cache (about
 * 5-20 us: the management thread's job, every 100 ms). */
void memstats_refresh(void);
/* The cached figures. Without jemalloc, allocated/active come from our own
 * counters and resident is the RSS. */
void memstats_get(cb_alloc_stats *out);

/* Keyspace dict overhead of one db over every shard (tables + entries). */
void mem_db_overhead(int dbid, size_t *main, size_t *expires);
/* Sum of mem_db_overhead over every db. */
size_t mem_keyspace_overhead(void);
/* Normal clients' memory (structs and output buffers) over every worker. */
size_t mem_clients_normal(void);
/* Number of keys over every shard and db. */
size_t mem_total_keys(void);
/* lazyfree_pending_objects and lazyfreed_objects over every shard. */
void mem_lazyfree_counts(size_t *pending, size_t *freed);
/* INFO's hugepages section (appliance fields): the pool, its use, and each
 * shard's used memory and arena figures. */
#include "../store/ds/cbstr.h"
cbstr memory_info_hugepages(cbstr s);

#endif
