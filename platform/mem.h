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
/* Allocator name for INFO's mem_allocator. */
const char *mem_allocator_name(void);
/* Test hook: after n more successful allocations, cb_try_* return NULL
 * (n < 0 disables). */
void mem_fail_after(long n);

#endif
