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
/* Allocator name for INFO's mem_allocator. */
const char *mem_allocator_name(void);
/* Test hook: after n more successful allocations, cb_try_* return NULL
 * (n < 0 disables). */
void mem_fail_after(long n);

#endif
