/* test_mem.c — CUnit tests for platform/mem.c's sourced arenas (the DPDK
 * plane's shard arenas, fed from memzones): a fake source hands out a few
 * 2 MB-aligned chunks; allocations land inside them, the account is marked
 * full once the source runs dry (while allocations keep succeeding on normal
 * pages), and the mark clears when the account's bytes fall back under it.
 * Without jemalloc (sanitizer builds) arenas do not exist and the checks
 * that need one are skipped.
 */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../platform/mem.h"

#define MB (1u << 20)

typedef struct fake_src {
    char *chunks[8];
    size_t sizes[8];
    int n, max, calls;
} fake_src;

static void *fake_get(void *ctx, size_t bytes, size_t align)
{
    fake_src *f = ctx;
    f->calls++;
    if (f->n >= f->max || bytes > 8 * MB) return NULL;
    char *p = aligned_alloc(align, bytes);
    if (!p) return NULL;
    f->chunks[f->n] = p;
    f->sizes[f->n++] = bytes;
    return p;
}

static size_t fake_avail(void *ctx)
{
    fake_src *f = ctx;
    return (size_t)(f->max - f->n) * 4 * MB;
}

static int inside(const fake_src *f, const void *p)
{
    for (int i = 0; i < f->n; i++)
        if ((const char *)p >= f->chunks[i] && (const char *)p < f->chunks[i] + f->sizes[i])
            return 1;
    return 0;
}

static int have_arenas(void)
{
    return strncmp(mem_allocator_name(), "jemalloc", 8) == 0;
}

static void test_sourced_arena(void)
{
    static fake_src f = {.max = 3};
    mem_chunk_source src = {.get = fake_get, .avail = fake_avail, .ctx = &f,
                            .chunk = 4 * MB, .hugetlb = 1};
    int acct = mem_account_claim();
    CU_ASSERT_TRUE_FATAL(acct >= 0);
    char err[128];
    CU_ASSERT_EQUAL_FATAL(mem_account_arena_src(acct, &src, err, sizeof err), 0);
    int prev = mem_account_use(acct);
    if (!have_arenas()) {
        CU_ASSERT_EQUAL(mem_account_pool_full(acct), 0);
        mem_account_use(prev);
        return;
    }
    /* Small blocks come from the source's chunks. */
    void *small[100];
    for (int i = 0; i < 100; i++) {
        small[i] = cb_malloc(100);
        CU_ASSERT_TRUE(inside(&f, small[i]));
    }
    mem_arena_info ai;
    mem_account_arena_info(acct, &ai);
    CU_ASSERT_TRUE(ai.sourced && ai.hugetlb);
    CU_ASSERT_EQUAL(ai.region_bytes, (size_t)f.n * 4 * MB);
    CU_ASSERT_TRUE(ai.region_used > 0 && ai.region_used <= ai.region_bytes);
    CU_ASSERT_EQUAL(ai.source_avail, (size_t)(f.max - f.n) * 4 * MB);
    CU_ASSERT_EQUAL(mem_account_pool_full(acct), 0);
    /* Fill past three chunks: nothing fails, the account is marked full. */
    void *big[16];
    int nbig = 0;
    while (nbig < 16 && !mem_account_pool_full(acct)) {
        big[nbig] = cb_try_malloc(1 * MB);
        CU_ASSERT_PTR_NOT_NULL_FATAL(big[nbig]);
        memset(big[nbig], 0x5a, 1 * MB);
        nbig++;
    }
    CU_ASSERT_EQUAL(f.n, 3);
    CU_ASSERT_EQUAL(mem_account_pool_full(acct), 1);
    mem_account_arena_info(acct, &ai);
    CU_ASSERT_TRUE(ai.full);
    CU_ASSERT_TRUE(ai.fallback_bytes > 0);
    CU_ASSERT_EQUAL(ai.source_avail, 0);
    /* A little freed is not enough: the mark has a margin. */
    cb_free(small[99]);
    small[99] = NULL;
    CU_ASSERT_EQUAL(mem_account_pool_full(acct), 1);
    /* Freeing the data brings the account under the mark: writable again. */
    for (int i = 0; i < nbig; i++) cb_free(big[i]);
    CU_ASSERT_EQUAL(mem_account_pool_full(acct), 0);
    /* Freed extents are reused: no new chunk asked for. */
    int calls = f.calls;
    void *again = cb_malloc(1 * MB);
    CU_ASSERT_TRUE(inside(&f, again) || f.calls == calls);
    cb_free(again);
    for (int i = 0; i < 99; i++) cb_free(small[i]);
    mem_account_use(prev);
}

static void test_unsourced_never_full(void)
{
    int acct = mem_account_claim();
    char err[128];
    CU_ASSERT_EQUAL_FATAL(mem_account_arena(acct, 0, err, sizeof err), 0);
    CU_ASSERT_EQUAL(mem_account_pool_full(acct), 0);
    mem_arena_info ai;
    mem_account_arena_info(acct, &ai);
    CU_ASSERT_FALSE(ai.sourced);
    CU_ASSERT_FALSE(ai.full);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite su = CU_add_suite("mem", NULL, NULL);
    CU_add_test(su, "arena fed by a chunk source", test_sourced_arena);
    CU_add_test(su, "mmap and plain arenas are never full", test_unsourced_never_full);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
