/* mem.c — cb_malloc and friends: the allocator wrapper that keeps
 * used_memory without asking the allocator. Each thread adds the usable size
 * of what it allocates (and subtracts what it frees) to its own counter; the
 * counters live in a fixed global array so mem_used_total() can sum them with
 * relaxed loads. A block freed by another thread just drives that thread's
 * counter negative: only the sum means anything.
 *
 * Built with -DCB_USE_JEMALLOC the process links jemalloc, which replaces
 * malloc and exports malloc_usable_size unprefixed; otherwise glibc malloc.
 * With jemalloc, allocations go to the arena of the thread's current
 * context (a shard account's arena, the thread's private arena, or the
 * default) with that arena's own tcache; see mem.h and docs/memory.md. A
 * shard arena's extent hooks carve memory out of one region mapped up
 * front with MAP_HUGETLB (normal pages when that fails, and for growth
 * beyond the region), or, on the DPDK plane, out of chunks taken on demand
 * from a mem_chunk_source (memzones); the hooks never give memory back, so
 * jemalloc retains and reuses it. A sourced arena that runs dry is marked
 * full (mem_account_pool_full) and the dispatcher refuses writes.
 */
#include "mem.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifdef CB_USE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

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

/* mallocx/dallocx flags of the calling thread's current context (0: plain
 * malloc/free), its own defaults, and its connection-arena flags. */
static _Thread_local int mem_aflags, mem_dflags;
static _Thread_local int mem_thread_aflags, mem_thread_dflags;
static _Thread_local int mem_conn_aflags, mem_conn_dflags;

#ifdef CB_USE_JEMALLOC
/* A shard arena's memory region and the hooks jemalloc calls to get
 * extents from it; the hooks come first so a hooks pointer is a region
 * pointer. */
typedef struct mem_region {
    extent_hooks_t hooks;
    char *base;       /* the chunk being carved */
    size_t base_size, base_used;
    size_t size;      /* bytes of every chunk taken */
    size_t used;      /* carved from them (tails left behind included) */
    size_t fallback;
    int hugetlb;
    int sourced;      /* chunks come from src (else one mmap region) */
    mem_chunk_source src;
    int acct;
    _Atomic long long full_at; /* account bytes when src ran dry; 0: not */
    pthread_mutex_t lock;
} mem_region;
#endif

/* Per account: its arena's flags (set before the account's thread runs). */
typedef struct mem_acct_arena {
    int valid;
    int arena;
    int aflags, dflags;
    void *region; /* mem_region, NULL for a normal-page arena */
} mem_acct_arena;
static mem_acct_arena mem_acct_arenas[MEM_SLOTS];
#ifdef CB_USE_JEMALLOC
static atomic_int mem_conn_arena = -1;
static pthread_mutex_t mem_conn_lock = PTHREAD_MUTEX_INITIALIZER;
#endif

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

/* The allocator calls for the current context. */
static void *raw_alloc(size_t n, int zero)
{
    if (n == 0) n = 1;
#ifdef CB_USE_JEMALLOC
    if (mem_aflags) return mallocx(n, mem_aflags | (zero ? MALLOCX_ZERO : 0));
#endif
    return zero ? calloc(1, n) : malloc(n);
}

static void *raw_realloc(void *p, size_t n)
{
#ifdef CB_USE_JEMALLOC
    if (mem_aflags) return rallocx(p, n, mem_aflags);
#endif
    return realloc(p, n);
}

static void raw_free(void *p, int dflags)
{
#ifdef CB_USE_JEMALLOC
    if (dflags) {
        dallocx(p, dflags);
        return;
    }
#else
    (void)dflags;
#endif
    free(p);
}

void *cb_try_malloc(size_t n)
{
    if (injected_failure()) return NULL;
    void *p = raw_alloc(n, 0);
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
    void *q = raw_realloc(p, n);
    if (!q) return NULL;
    count((long long)malloc_usable_size(q) - (long long)old);
    spent_one();
    return q;
}

void *cb_malloc(size_t n)
{
    void *p = raw_alloc(n, 0);
    if (!p) oom(n);
    count((long long)malloc_usable_size(p));
    spent_one();
    return p;
}

void *cb_calloc(size_t n)
{
    void *p = raw_alloc(n, 1);
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
    void *q = raw_realloc(p, n);
    if (!q) oom(n);
    count((long long)malloc_usable_size(q) - (long long)old);
    spent_one();
    return q;
}

void cb_free(void *p)
{
    if (!p) return;
    count(-(long long)malloc_usable_size(p));
    raw_free(p, mem_dflags);
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

static _Atomic size_t mem_not_counted_bytes;

void mem_set_not_counted(size_t n)
{
    atomic_store_explicit(&mem_not_counted_bytes, n, memory_order_relaxed);
}

size_t mem_not_counted(void)
{
    return atomic_load_explicit(&mem_not_counted_bytes, memory_order_relaxed);
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
    if (idx >= 0 && idx <= MEM_SLOTS) {
        mem_my_slot = &mem_slots[idx];
        if (idx < MEM_SLOTS && mem_acct_arenas[idx].valid) {
            mem_aflags = mem_acct_arenas[idx].aflags;
            mem_dflags = mem_acct_arenas[idx].dflags;
        } else {
            mem_aflags = mem_thread_aflags;
            mem_dflags = mem_thread_dflags;
        }
    }
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

/* ------------------------------------------------------------------------
 * Arenas
 * ---------------------------------------------------------------------- */

#ifdef CB_USE_JEMALLOC
#define HUGE_PAGE (2u << 20)

static mem_region *region_of(extent_hooks_t *h)
{
    return (mem_region *)h;
}

/* Growth past the region: normal pages, aligned by over-mapping. */
static void *map_normal(size_t size, size_t alignment)
{
    size_t len = size + alignment;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uintptr_t a = ((uintptr_t)p + alignment - 1) & ~(uintptr_t)(alignment - 1);
    if ((char *)a > p) munmap(p, (size_t)((char *)a - p));
    char *end = (char *)a + size;
    if (end < p + len) munmap(end, (size_t)(p + len - end));
    return (void *)a;
}

/* The next aligned piece of the current chunk, or NULL (lock held). */
static void *carve(mem_region *r, size_t size, size_t alignment)
{
    if (!r->base) return NULL;
    uintptr_t start = ((uintptr_t)(r->base + r->base_used) + alignment - 1) &
                      ~(uintptr_t)(alignment - 1);
    if (start + size > (uintptr_t)(r->base + r->base_size)) return NULL;
    size_t used = (size_t)(start + size - (uintptr_t)r->base);
    r->used += used - r->base_used;
    r->base_used = used;
    return (void *)start;
}

/* Take a fresh chunk from the source for an extent of size (lock held):
 * the source's usual chunk, or just enough when the pool has less left.
 * The old chunk's tail is left behind (counted as used). 1 when got. */
static int chunk_from_source(mem_region *r, size_t size, size_t alignment)
{
    size_t align = alignment > HUGE_PAGE ? alignment : HUGE_PAGE;
    size_t need = (size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    size_t want = r->src.chunk > need ? r->src.chunk : need;
    void *p = r->src.get(r->src.ctx, want, align);
    if (!p && want > need) p = r->src.get(r->src.ctx, want = need, align);
    if (!p) return 0;
    if (r->base) r->used += r->base_size - r->base_used;
    r->base = p;
    r->base_size = want;
    r->base_used = 0;
    r->size += want;
    return 1;
}

static void *hook_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t alignment,
                        bool *zero, bool *commit, unsigned arena_ind)
{
    (void)arena_ind;
    if (new_addr) return NULL; /* only fresh ranges from the region */
    if (alignment < 4096) alignment = 4096;
    mem_region *r = region_of(h);
    pthread_mutex_lock(&r->lock);
    void *out = carve(r, size, alignment);
    if (!out && r->sourced && chunk_from_source(r, size, alignment)) out = carve(r, size, alignment);
    pthread_mutex_unlock(&r->lock);
    if (!out) {
        /* The region is spent: keep serving from normal pages (counted, and
         * reported in INFO) rather than fail an allocation — a failed
         * allocation would abort deep inside a command. A sourced arena
         * (DPDK memory) is marked full, so writes get OOM from now on. */
        out = map_normal(size, alignment);
        if (!out) return NULL;
        __atomic_add_fetch(&r->fallback, size, __ATOMIC_RELAXED);
        if (r->sourced) {
            long long b = mem_account_bytes(r->acct);
            atomic_store_explicit(&r->full_at, b > 0 ? b : 1, memory_order_relaxed);
        }
    }
    /* Fresh anonymous memory is zeroed and committed. */
    *zero = true;
    *commit = true;
    return out;
}

/* Never unmapped: jemalloc keeps the extent (opt.retain) and reuses it. */
static bool hook_dalloc(extent_hooks_t *h, void *addr, size_t size, bool committed,
                        unsigned arena_ind)
{
    (void)h, (void)addr, (void)size, (void)committed, (void)arena_ind;
    return true;
}

static void hook_destroy(extent_hooks_t *h, void *addr, size_t size, bool committed,
                         unsigned arena_ind)
{
    (void)h, (void)addr, (void)size, (void)committed, (void)arena_ind;
}

static bool hook_commit(extent_hooks_t *h, void *addr, size_t size, size_t offset,
                        size_t length, unsigned arena_ind)
{
    (void)h, (void)addr, (void)size, (void)offset, (void)length, (void)arena_ind;
    return false; /* always committed */
}

static bool hook_decommit(extent_hooks_t *h, void *addr, size_t size, size_t offset,
                          size_t length, unsigned arena_ind)
{
    (void)h, (void)addr, (void)size, (void)offset, (void)length, (void)arena_ind;
    return true; /* hugetlb pages cannot be decommitted: refuse */
}

static bool hook_split(extent_hooks_t *h, void *addr, size_t size, size_t size_a,
                       size_t size_b, bool committed, unsigned arena_ind)
{
    (void)h, (void)addr, (void)size, (void)size_a, (void)size_b, (void)committed, (void)arena_ind;
    return false;
}

static bool hook_merge(extent_hooks_t *h, void *addr_a, size_t size_a, void *addr_b,
                       size_t size_b, bool committed, unsigned arena_ind)
{
    (void)h, (void)addr_a, (void)size_a, (void)addr_b, (void)size_b, (void)committed,
        (void)arena_ind;
    return false;
}

static int new_tcache(unsigned *tc)
{
    size_t sz = sizeof(*tc);
    return mallctl("tcache.create", tc, &sz, NULL, 0) == 0 ? 0 : -1;
}

static int new_arena(extent_hooks_t *hooks, unsigned *arena)
{
    size_t sz = sizeof(*arena);
    if (hooks)
        return mallctl("arenas.create", arena, &sz, &hooks, sizeof(hooks)) == 0 ? 0 : -1;
    return mallctl("arenas.create", arena, &sz, NULL, 0) == 0 ? 0 : -1;
}
#endif

#ifdef CB_USE_JEMALLOC
static mem_region *region_new(int idx)
{
    mem_region *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    pthread_mutex_init(&r->lock, NULL);
    r->hooks.alloc = hook_alloc;
    r->hooks.dalloc = hook_dalloc;
    r->hooks.destroy = hook_destroy;
    r->hooks.commit = hook_commit;
    r->hooks.decommit = hook_decommit;
    r->hooks.split = hook_split;
    r->hooks.merge = hook_merge;
    r->acct = idx;
    return r;
}

/* Create the arena (on r's hooks when r is given) and its cache, and make
 * them account idx's. */
static int bind_arena(int idx, mem_region *r)
{
    unsigned arena, tc;
    if (new_arena(r ? &r->hooks : NULL, &arena) != 0 || new_tcache(&tc) != 0) return -1;
    if (r) {
        /* Ask the region for small steps, so it is used tightly. */
        char name[64];
        size_t lim = HUGE_PAGE;
        snprintf(name, sizeof(name), "arena.%u.retain_grow_limit", arena);
        mallctl(name, NULL, NULL, &lim, sizeof(lim));
    }
    mem_acct_arena *a = &mem_acct_arenas[idx];
    a->arena = (int)arena;
    a->aflags = (int)(MALLOCX_ARENA(arena) | MALLOCX_TCACHE(tc));
    a->dflags = (int)MALLOCX_TCACHE(tc);
    a->region = r;
    a->valid = 1;
    return 0;
}
#endif

int mem_account_arena(int idx, size_t region_bytes, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (idx < 0 || idx >= MEM_SLOTS) return -1;
#ifdef CB_USE_JEMALLOC
    mem_region *r = NULL;
    if (region_bytes) {
        size_t size = (region_bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
        r = region_new(idx);
        if (!r) return -1;
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
        if (p != MAP_FAILED) {
            r->hugetlb = 1;
        } else {
            if (err)
                snprintf(err, errlen, "cannot map %zu MB of 2 MB hugepages (%s); the store "
                         "arena uses normal pages", size >> 20, strerror(errno));
            p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (p == MAP_FAILED) {
                free(r);
                return -1;
            }
        }
        r->base = p;
        r->base_size = r->size = size;
    }
    return bind_arena(idx, r);
#else
    (void)region_bytes;
    return 0;
#endif
}

int mem_account_arena_src(int idx, const mem_chunk_source *src, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (idx < 0 || idx >= MEM_SLOTS || !src || !src->get) return -1;
#ifdef CB_USE_JEMALLOC
    mem_region *r = region_new(idx);
    if (!r) return -1;
    r->sourced = 1;
    r->src = *src;
    if (r->src.chunk < HUGE_PAGE) r->src.chunk = HUGE_PAGE;
    r->hugetlb = src->hugetlb;
    if (!src->hugetlb && err)
        snprintf(err, errlen, "the store arena's memory is not on hugepages (EAL runs "
                 "without them)");
    return bind_arena(idx, r);
#else
    (void)err, (void)errlen;
    return 0;
#endif
}

int mem_account_pool_full(int idx)
{
#ifdef CB_USE_JEMALLOC
    if (idx < 0 || idx >= MEM_SLOTS || !mem_acct_arenas[idx].valid) return 0;
    mem_region *r = mem_acct_arenas[idx].region;
    if (!r) return 0;
    long long at = atomic_load_explicit(&r->full_at, memory_order_relaxed);
    if (at <= 0) return 0;
    /* The mark has slack so that a connection's buffers coming and going
     * (a refused 1 MB request's query buffer freed, a big reply sent)
     * cannot flip writes back on: only freed data does. */
    long long slack = at / 32;
    if (slack < (1LL << 20)) slack = 1LL << 20;
    if (slack > (64LL << 20)) slack = 64LL << 20;
    return mem_account_bytes(idx) > at - slack;
#else
    (void)idx;
    return 0;
#endif
}

int mem_thread_arena(void)
{
#ifdef CB_USE_JEMALLOC
    unsigned arena, tc;
    if (new_arena(NULL, &arena) != 0 || new_tcache(&tc) != 0) return -1;
    mem_thread_aflags = (int)(MALLOCX_ARENA(arena) | MALLOCX_TCACHE(tc));
    mem_thread_dflags = (int)MALLOCX_TCACHE(tc);
    mem_aflags = mem_thread_aflags;
    mem_dflags = mem_thread_dflags;
#endif
    return 0;
}

/* The connection arena, created by the first thread that needs it, and the
 * calling thread's cache for it. */
static void conn_ctx(void)
{
#ifdef CB_USE_JEMALLOC
    if (mem_conn_aflags) return;
    int arena = atomic_load(&mem_conn_arena);
    if (arena < 0) {
        pthread_mutex_lock(&mem_conn_lock);
        arena = atomic_load(&mem_conn_arena);
        unsigned a;
        if (arena < 0 && new_arena(NULL, &a) == 0) {
            arena = (int)a;
            atomic_store(&mem_conn_arena, arena);
        }
        pthread_mutex_unlock(&mem_conn_lock);
    }
    unsigned tc;
    if (arena < 0 || new_tcache(&tc) != 0) return;
    mem_conn_aflags = (int)(MALLOCX_ARENA((unsigned)arena) | MALLOCX_TCACHE(tc));
    mem_conn_dflags = (int)MALLOCX_TCACHE(tc);
#endif
}

void *cb_malloc_conn(size_t n)
{
    conn_ctx();
    int saved_a = mem_aflags;
    mem_aflags = mem_conn_aflags;
    void *p = raw_alloc(n, 0);
    mem_aflags = saved_a;
    if (!p) oom(n);
    count((long long)malloc_usable_size(p));
    spent_one();
    return p;
}

void cb_free_conn(void *p)
{
    if (!p) return;
    conn_ctx();
    count(-(long long)malloc_usable_size(p));
    raw_free(p, mem_conn_dflags);
}

void *mem_defrag_move(void *p)
{
#ifdef CB_USE_JEMALLOC
    if (!p) return NULL;
    struct {
        void *slabcur;
        size_t nfree, nregs, size, bin_nfree, bin_nregs;
    } u;
    size_t usz = sizeof(u);
    if (mallctl("experimental.utilization.query", &u, &usz, &p, sizeof(p)) != 0) return NULL;
    /* Large blocks (one per extent) and full slabs: nothing to gain. */
    if (u.nregs <= 1 || u.nfree == 0 || u.bin_nregs == 0) return NULL;
    /* The slab the bin allocates from now would take the copy back. */
    if ((char *)p >= (char *)u.slabcur && (char *)p < (char *)u.slabcur + u.size) return NULL;
    /* Move only out of slabs used less than the class on average. */
    if ((u.nregs - u.nfree) * u.bin_nregs > (u.bin_nregs - u.bin_nfree) * u.nregs) return NULL;
    size_t n = malloc_usable_size(p);
    /* Same arena (MALLOCX_ARENA lives in bits 20 and up), no cache. */
    int flags = (mem_aflags & ~0xfffff) | MALLOCX_TCACHE_NONE;
    void *q = mallocx(n, flags);
    if (!q) return NULL;
    memcpy(q, p, n);
    count((long long)malloc_usable_size(q) - (long long)n);
    dallocx(p, MALLOCX_TCACHE_NONE);
    return q;
#else
    (void)p;
    return NULL;
#endif
}

int mem_allocator_frag(size_t *allocated, size_t *active)
{
#ifdef CB_USE_JEMALLOC
    uint64_t epoch = 1;
    size_t esz = sizeof(epoch), sz = sizeof(size_t);
    if (mallctl("epoch", &epoch, &esz, &epoch, esz) != 0) return -1;
    if (mallctl("stats.allocated", allocated, &sz, NULL, 0) != 0) return -1;
    if (mallctl("stats.active", active, &sz, NULL, 0) != 0) return -1;
    return 0;
#else
    *allocated = *active = 0;
    return -1;
#endif
}

void *cb_malloc_shared(size_t n)
{
    conn_ctx();
    int saved_a = mem_aflags;
    mem_aflags = mem_conn_aflags;
    void *p = raw_alloc(n, 0);
    mem_aflags = saved_a;
    if (!p) oom(n);
    atomic_fetch_add_explicit(&mem_slots[MEM_SLOTS].bytes, (long long)malloc_usable_size(p),
                              memory_order_relaxed);
    spent_one();
    return p;
}

void cb_free_shared(void *p)
{
    if (!p) return;
    conn_ctx();
    atomic_fetch_sub_explicit(&mem_slots[MEM_SLOTS].bytes, (long long)malloc_usable_size(p),
                              memory_order_relaxed);
    raw_free(p, mem_conn_dflags);
}

void mem_account_arena_info(int idx, mem_arena_info *out)
{
    memset(out, 0, sizeof(*out));
    out->arena = -1;
    if (idx < 0 || idx >= MEM_SLOTS || !mem_acct_arenas[idx].valid) return;
    out->arena = mem_acct_arenas[idx].arena;
#ifdef CB_USE_JEMALLOC
    mem_region *r = mem_acct_arenas[idx].region;
    if (r) {
        out->hugetlb = r->hugetlb;
        out->sourced = r->sourced;
        pthread_mutex_lock(&r->lock);
        out->region_bytes = r->size;
        out->region_used = r->used;
        pthread_mutex_unlock(&r->lock);
        out->fallback_bytes = __atomic_load_n(&r->fallback, __ATOMIC_RELAXED);
        out->full = mem_account_pool_full(idx);
        if (r->sourced && r->src.avail) out->source_avail = r->src.avail(r->src.ctx);
    }
#endif
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
