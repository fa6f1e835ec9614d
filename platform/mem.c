/* mem.c — cb_malloc and friends: the allocator wrapper that keeps
 * used_memory without asking the allocator. Each thread adds the usable size
 * of what it allocates (and subtracts what it frees) to its own counter; the
 * counters live in a fixed global array so mem_used_total() can sum them with
 * relaxed loads. A block freed by another thread just drives that thread's
 * counter negative: only the sum means anything.
 *
 * Built with -DCB_USE_JEMALLOC the process links jemalloc, which replaces
 * malloc and exports malloc_usable_size unprefixed; otherwise glibc malloc.
 */
#include "mem.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEM_SLOTS 256

/* One cache line per thread so counting never bounces lines between cores. */
typedef struct {
    _Atomic long long bytes;
    char pad[64 - sizeof(long long)];
} mem_slot;

static mem_slot mem_slots[MEM_SLOTS + 1]; /* the last one is shared overflow */
static atomic_uint mem_slots_claimed;
/* Which slots are shard accounts (set once, before the shard runs). */
static atomic_uchar mem_slot_is_shard[MEM_SLOTS];
static atomic_uint mem_shard_accounts;
static _Thread_local mem_slot *mem_my_slot;
static atomic_long mem_fail_budget = -1;

static mem_slot *my_slot(void)
{
    mem_slot *s = mem_my_slot;
    if (s) return s;
    unsigned idx = atomic_fetch_add_explicit(&mem_slots_claimed, 1,
                                             memory_order_relaxed);
    s = &mem_slots[idx < MEM_SLOTS ? idx : MEM_SLOTS];
    mem_my_slot = s;
    return s;
}

static void count(long long delta)
{
    mem_slot *s = my_slot();
    if (s == &mem_slots[MEM_SLOTS]) {
        /* Threads beyond the array share a slot, so they need a real RMW. */
        atomic_fetch_add_explicit(&s->bytes, delta, memory_order_relaxed);
    } else {
        /* Only this thread writes its slot: a plain load+store suffices. */
        long long v = atomic_load_explicit(&s->bytes, memory_order_relaxed);
        atomic_store_explicit(&s->bytes, v + delta, memory_order_relaxed);
    }
}

/* 1 when a cb_try_* call must fail now. Every successful allocation, try or
 * not, spends one unit of mem_fail_after's budget, so a test can count
 * allocations in code that mixes both; at 0 only cb_try_* fail (the others
 * cannot). */
static int injected_failure(void)
{
    long b = atomic_load_explicit(&mem_fail_budget, memory_order_relaxed);
    return b == 0;
}

static void spent_one(void)
{
    long b = atomic_load_explicit(&mem_fail_budget, memory_order_relaxed);
    while (b > 0 && !atomic_compare_exchange_weak_explicit(
                        &mem_fail_budget, &b, b - 1, memory_order_relaxed,
                        memory_order_relaxed)) {
    }
}

static _Noreturn void oom(size_t n)
{
    fprintf(stderr, "cachebox: out of memory allocating %zu bytes\n", n);
    fflush(stderr);
    abort();
}

void *cb_try_malloc(size_t n)
{
    if (injected_failure()) return NULL;
    void *p = malloc(n ? n : 1);
    if (!p) return NULL;
    count((long long)malloc_usable_size(p));
    spent_one();
    return p;
}

void *cb_try_realloc(void *p, size_t n)
{
    if (!p) return cb_try_malloc(n);
    if (n == 0) {
        cb_free(p);
        return NULL;
    }
    if (injected_failure()) return NULL;
    size_t old = malloc_usable_size(p);
    void *q = realloc(p, n);
    if (!q) return NULL;
    count((long long)malloc_usable_size(q) - (long long)old);
    spent_one();
    return q;
}

void *cb_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    count((long long)malloc_usable_size(p));
    spent_one();
    return p;
}

void *cb_calloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) oom(n);
    count((long long)malloc_usable_size(p));
    spent_one();
    return p;
}

void *cb_realloc(void *p, size_t n)
{
    if (!p) return cb_malloc(n);
    if (n == 0) {
        cb_free(p);
        return NULL;
    }
    size_t old = malloc_usable_size(p);
    void *q = realloc(p, n);
    if (!q) oom(n);
    count((long long)malloc_usable_size(q) - (long long)old);
    spent_one();
    return q;
}

void cb_free(void *p)
{
    if (!p) return;
    count(-(long long)malloc_usable_size(p));
    free(p);
}

size_t cb_usable(const void *p)
{
    return p ? malloc_usable_size((void *)p) : 0;
}

char *cb_memdup(const void *p, size_t n)
{
    char *d = cb_malloc(n + 1);
    if (n) memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

char *cb_strdup(const char *s)
{
    return cb_memdup(s, strlen(s));
}

size_t mem_used_total(void)
{
    long long sum = 0;
    unsigned claimed = atomic_load_explicit(&mem_slots_claimed, memory_order_relaxed);
    unsigned n = claimed < MEM_SLOTS ? claimed : MEM_SLOTS;
    for (unsigned i = 0; i < n; i++)
        sum += atomic_load_explicit(&mem_slots[i].bytes, memory_order_relaxed);
    sum += atomic_load_explicit(&mem_slots[MEM_SLOTS].bytes, memory_order_relaxed);
    /* Racing threads can make a momentary sum dip below zero. */
    return sum > 0 ? (size_t)sum : 0;
}

long long mem_used_thread(void)
{
    return atomic_load_explicit(&my_slot()->bytes, memory_order_relaxed);
}

int mem_account_claim(void)
{
    unsigned idx = atomic_fetch_add_explicit(&mem_slots_claimed, 1, memory_order_relaxed);
    if (idx >= MEM_SLOTS) return -1;
    atomic_store_explicit(&mem_slot_is_shard[idx], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&mem_shard_accounts, 1, memory_order_relaxed);
    return (int)idx;
}

int mem_account_use(int idx)
{
    int prev = (int)(my_slot() - mem_slots);
    if (idx >= 0 && idx <= MEM_SLOTS) mem_my_slot = &mem_slots[idx];
    return prev;
}

long long mem_account_bytes(int idx)
{
    if (idx < 0 || idx > MEM_SLOTS) return 0;
    return atomic_load_explicit(&mem_slots[idx].bytes, memory_order_relaxed);
}

long long mem_account_share(int idx, unsigned *nshares)
{
    long long own = 0, shards = 0, total = 0;
    unsigned claimed = atomic_load_explicit(&mem_slots_claimed, memory_order_relaxed);
    unsigned n = claimed < MEM_SLOTS ? claimed : MEM_SLOTS;
    for (unsigned i = 0; i < n; i++) {
        long long b = atomic_load_explicit(&mem_slots[i].bytes, memory_order_relaxed);
        total += b;
        if (atomic_load_explicit(&mem_slot_is_shard[i], memory_order_relaxed)) shards += b;
        if ((int)i == idx) own = b;
    }
    total += atomic_load_explicit(&mem_slots[MEM_SLOTS].bytes, memory_order_relaxed);
    unsigned k = atomic_load_explicit(&mem_shard_accounts, memory_order_relaxed);
    if (k == 0) k = 1;
    if (nshares) *nshares = k;
    return own + (total - shards) / (long long)k;
}

const char *mem_allocator_name(void)
{
#ifdef CB_USE_JEMALLOC
    return "jemalloc-5.3.0";
#else
    return "libc";
#endif
}

void mem_fail_after(long n)
{
    atomic_store_explicit(&mem_fail_budget, n < 0 ? -1 : n, memory_order_relaxed);
}
