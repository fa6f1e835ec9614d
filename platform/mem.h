/* mem.h — the one allocation entry point for cachebox. Every allocation goes
 * through here so used_memory can be counted per thread without asking the
 * allocator (reading jemalloc's stats costs microseconds; see
 * ../shared/notes/platform-facts.md). Counters are per thread and summed by
 * mem_used_total(); tests can make allocations fail (mem_fail_after).
 */
#ifndef CB_MEM_H
#define CB_MEM_H

#include <stddef.h>

/* malloc/calloc/realloc that abort with a log line on out-of-memory. */
void *cb_malloc(size_t n);
void *cb_calloc(size_t n);
void *cb_realloc(void *p, size_t n);
void cb_free(void *p);
/* Variants that return NULL instead of aborting. */
void *cb_try_malloc(size_t n);
void *cb_try_realloc(void *p, size_t n);
/* Usable size of a block from cb_malloc. */
size_t cb_usable(const void *p);
char *cb_strdup(const char *s);
char *cb_memdup(const void *p, size_t n); /* adds a NUL */

/* Sum of all threads' counted bytes (relaxed read). */
size_t mem_used_total(void);
/* Bytes maxmemory leaves out (the replication backlog and the replicas'
 * buffers, as Redis leaves them out of eviction); their owner, the
 * management thread, publishes the figure. */
void mem_set_not_counted(size_t n);
size_t mem_not_counted(void);
/* Bytes counted by the calling thread. */
long long mem_used_thread(void);
/* Memory accounts. Every thread counts into its own slot by default; a
 * shard owner claims an account for its shard (mem_account_claim) and makes
 * it the current account of whichever thread works on that shard
 * (mem_account_use), so each shard's bytes are known exactly and cheaply
 * for maxmemory. Bytes of threads that own no shard (management, start-up)
 * are split evenly over the shard accounts. */
/* A new shard account's index (>= 0), or -1 when none is left. */
int mem_account_claim(void);
/* Make idx the calling thread's current account; returns the previous one. */
int mem_account_use(int idx);
/* Bytes counted in one account (may be negative: only sums mean much). */
long long mem_account_bytes(int idx);
/* Shard account idx's share of used memory: its own bytes plus an equal
 * part of what no shard account holds; *nshares gets the number of shard
 * accounts (so a shard's limit is maxmemory / *nshares). */
long long mem_account_share(int idx, unsigned *nshares);
/* Arenas (jemalloc builds; elsewhere these do nothing and everything
 * comes from malloc). A shard account can get its own arena, fed by its own
 * region of hugepages (mem_account_arena); a thread can get a private arena
 * (mem_thread_arena: the management thread); connection buffers come from
 * one arena of their own through cb_malloc_conn, each thread with its own
 * cache. Every arena has its own thread cache (tcache.create), because
 * jemalloc's per-thread cache would otherwise hand a block freed into one
 * arena to an allocation meant for another. */
/* Give account idx an arena whose memory comes from a region of region_bytes
 * of 2 MB pages (MAP_HUGETLB), or normal pages when those cannot be mapped
 * (logged); region_bytes 0: an arena on normal pages from jemalloc. The
 * arena's cache is used by whichever thread uses the account. 0 or -1. */
int mem_account_arena(int idx, size_t region_bytes, char *err, size_t errlen);
/* Where a shard arena's memory comes from when it is not one mmap region:
 * get(ctx, bytes, align) hands out a chunk of at least bytes, aligned to
 * align (a power of two, 2 MB at least), or NULL when the pool is spent;
 * chunks are never returned. avail(ctx) says how many more bytes the pool
 * could give (for INFO). hugetlb: whether the chunks are hugepages. The
 * DPDK plane feeds shard arenas from memzones this way (dpdk.h). */
typedef struct mem_chunk_source {
    void *(*get)(void *ctx, size_t bytes, size_t align);
    size_t (*avail)(void *ctx);
    void *ctx;
    size_t chunk;     /* bytes asked for at a time (more for big extents) */
    int hugetlb;
} mem_chunk_source;
/* Give account idx an arena whose extents are carved out of src's chunks.
 * When src is spent, the extent in flight comes from normal pages (so no
 * allocation fails) and the account is marked full: mem_account_pool_full
 * then says so until its bytes fall a margin (1/32 of the mark, 1 to
 * 64 MB) under the mark. 0 or -1. */
int mem_account_arena_src(int idx, const mem_chunk_source *src, char *err, size_t errlen);
/* 1 while account idx's arena has run out of its memory source (only
 * arenas from mem_account_arena_src) and the account has not freed a
 * margin of what it held then: writes must be refused with OOM. */
int mem_account_pool_full(int idx);
/* A private arena and cache for the calling thread's own allocations. */
int mem_thread_arena(void);
/* Connection buffers: allocate and free through the connection arena. */
void *cb_malloc_conn(size_t n);
void cb_free_conn(void *p);
/* Blocks one thread allocates and another frees (messages between
 * workers): from the connection arena, counted in a shared slot so that
 * no shard's account drifts. */
void *cb_malloc_shared(size_t n);
void cb_free_shared(void *p);

/* Active defragmentation: when p (from cb_malloc) sits in a slab that is
 * emptier than its size class's average (jemalloc's
 * experimental.utilization.query, the current slab excluded), move it: a
 * fresh block from the current context's arena, bypassing the thread
 * cache so it lands in a fuller slab, the bytes copied, p freed. Returns
 * the new block, or NULL when p stays (not worth it, or no jemalloc). */
void *mem_defrag_move(void *p);
/* jemalloc's allocated and active bytes, freshly read (an epoch refresh:
 * microseconds, for cron work only). 0 ok, -1 without jemalloc. */
int mem_allocator_frag(size_t *allocated, size_t *active);

/* What an account's arena holds (for INFO): region size and use, whether
 * it is hugetlb memory, bytes taken from normal pages once it ran out, and
 * the arena's jemalloc index (-1 without one). */
typedef struct mem_arena_info {
    int arena;
    int hugetlb;
    int sourced;        /* from a mem_chunk_source (DPDK memory) */
    int full;           /* mem_account_pool_full */
    size_t region_bytes, region_used, fallback_bytes;
    size_t source_avail; /* what the source could still give */
} mem_arena_info;
void mem_account_arena_info(int idx, mem_arena_info *out);

/* Allocator name for INFO's mem_allocator. */
const char *mem_allocator_name(void);
/* Test hook: after n more successful allocations, cb_try_* return NULL
 * (n < 0 disables). */
void mem_fail_after(long n);

#endif
