/* test_intset.c — CUnit tests for store/ds/intset.c: ordered insertion,
 * duplicates, removal, width upgrades (16 -> 32 -> 64 bits, with the new
 * value landing first or last), the little-endian blob layout RDB relies
 * on, random picks, and validation of corrupt blobs; plus a randomized run
 * against a plain sorted-array model.
 */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../platform/mem.h"
#include "../../platform/util.h"
#include "../../store/ds/intset.h"

static int ascending(const intset *is)
{
    for (uint32_t i = 1; i < intset_len(is); i++)
        if (intset_get(is, i - 1) >= intset_get(is, i)) return 0;
    return 1;
}

static void test_add_find_remove(void)
{
    intset *is = intset_new();
    CU_ASSERT_EQUAL(intset_len(is), 0);
    CU_ASSERT_EQUAL(intset_width(is), 2);
    CU_ASSERT_FALSE(intset_find(is, 0));
    int added, removed;
    int64_t vals[] = { 5, -3, 100, 0, 7, -32768, 32767 };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        is = intset_add(is, vals[i], &added);
        CU_ASSERT_EQUAL(added, 1);
    }
    is = intset_add(is, 5, &added);
    CU_ASSERT_EQUAL(added, 0);
    CU_ASSERT_EQUAL(intset_len(is), 7);
    CU_ASSERT_EQUAL(intset_width(is), 2);
    CU_ASSERT(ascending(is));
    CU_ASSERT_EQUAL(intset_min(is), -32768);
    CU_ASSERT_EQUAL(intset_max(is), 32767);
    CU_ASSERT(intset_find(is, 100));
    CU_ASSERT_FALSE(intset_find(is, 101));
    /* Values wider than the set cannot be members. */
    CU_ASSERT_FALSE(intset_find(is, 1LL << 40));

    is = intset_remove(is, 100, &removed);
    CU_ASSERT_EQUAL(removed, 1);
    is = intset_remove(is, 100, &removed);
    CU_ASSERT_EQUAL(removed, 0);
    is = intset_remove(is, 1LL << 40, &removed);
    CU_ASSERT_EQUAL(removed, 0);
    CU_ASSERT_EQUAL(intset_len(is), 6);
    CU_ASSERT(ascending(is));
    /* Removing the ends. */
    is = intset_remove(is, -32768, &removed);
    is = intset_remove(is, 32767, &removed);
    CU_ASSERT_EQUAL(intset_min(is), -3);
    CU_ASSERT_EQUAL(intset_max(is), 7);
    intset_free(is);
}

static void test_upgrades(void)
{
    intset *is = intset_new();
    is = intset_add(is, 1, NULL);
    is = intset_add(is, 2, NULL);
    is = intset_add(is, 70000, NULL); /* 32-bit, goes last */
    CU_ASSERT_EQUAL(intset_width(is), 4);
    CU_ASSERT_EQUAL(intset_get(is, 2), 70000);
    is = intset_add(is, -70000, NULL); /* same width, goes first */
    CU_ASSERT_EQUAL(intset_get(is, 0), -70000);
    is = intset_add(is, INT64_MIN, NULL); /* 64-bit, goes first */
    CU_ASSERT_EQUAL(intset_width(is), 8);
    CU_ASSERT_EQUAL(intset_get(is, 0), INT64_MIN);
    CU_ASSERT_EQUAL(intset_get(is, 1), -70000);
    CU_ASSERT_EQUAL(intset_get(is, 2), 1);
    is = intset_add(is, INT64_MAX, NULL);
    CU_ASSERT_EQUAL(intset_max(is), INT64_MAX);
    CU_ASSERT(ascending(is));
    /* Removal never narrows. */
    int removed;
    is = intset_remove(is, INT64_MIN, &removed);
    is = intset_remove(is, INT64_MAX, &removed);
    CU_ASSERT_EQUAL(intset_width(is), 8);
    CU_ASSERT(intset_find(is, -70000));
    intset_free(is);

    /* 16 -> 64 directly, negative value first. */
    is = intset_new();
    is = intset_add(is, -1, NULL);
    is = intset_add(is, 3, NULL);
    is = intset_add(is, -(1LL << 50), NULL);
    CU_ASSERT_EQUAL(intset_width(is), 8);
    CU_ASSERT_EQUAL(intset_get(is, 0), -(1LL << 50));
    CU_ASSERT_EQUAL(intset_get(is, 1), -1);
    CU_ASSERT_EQUAL(intset_get(is, 2), 3);
    intset_free(is);
}

static void test_blob_layout(void)
{
    intset *is = intset_new();
    is = intset_add(is, 2, NULL);
    is = intset_add(is, -1, NULL);
    is = intset_add(is, 0x0102, NULL);
    const unsigned char want[] = { 2, 0, 0, 0, 3, 0, 0, 0, 0xff, 0xff, 2, 0, 0x02, 0x01 };
    CU_ASSERT_EQUAL(intset_blob_len(is), sizeof want);
    CU_ASSERT_EQUAL(memcmp(is, want, sizeof want), 0);
    CU_ASSERT(intset_validate(is, intset_blob_len(is), 1));

    intset *copy = intset_from_blob(want, sizeof want);
    CU_ASSERT_EQUAL(intset_len(copy), 3);
    CU_ASSERT_EQUAL(intset_get(copy, 0), -1);
    CU_ASSERT_EQUAL(intset_get(copy, 2), 0x0102);
    intset *d = intset_dup(copy);
    CU_ASSERT_EQUAL(memcmp(d, copy, intset_blob_len(copy)), 0);
    intset_free(d);
    intset_free(copy);
    intset_free(is);
}

static void test_validate_corrupt(void)
{
    const unsigned char ok[] = { 4, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0 };
    CU_ASSERT(intset_validate(ok, sizeof ok, 1));
    CU_ASSERT_FALSE(intset_validate(NULL, 0, 1));
    CU_ASSERT_FALSE(intset_validate(ok, 7, 1));            /* short header */
    CU_ASSERT_FALSE(intset_validate(ok, sizeof ok - 1, 1)); /* truncated */
    unsigned char b[sizeof ok];
    memcpy(b, ok, sizeof b);
    b[0] = 3; /* unknown width */
    CU_ASSERT_FALSE(intset_validate(b, sizeof b, 1));
    memcpy(b, ok, sizeof b);
    b[4] = 3; /* count says more than the bytes */
    CU_ASSERT_FALSE(intset_validate(b, sizeof b, 1));
    memcpy(b, ok, sizeof b);
    b[7] = 0x40; /* huge count must not overflow the size check */
    CU_ASSERT_FALSE(intset_validate(b, sizeof b, 1));
    memcpy(b, ok, sizeof b);
    b[12] = 1; /* duplicate */
    CU_ASSERT_FALSE(intset_validate(b, sizeof b, 1));
    CU_ASSERT(intset_validate(b, sizeof b, 0)); /* shallow check passes */
    b[8] = 5; /* descending */
    CU_ASSERT_FALSE(intset_validate(b, sizeof b, 1));
    const unsigned char empty[] = { 2, 0, 0, 0, 0, 0, 0, 0 };
    CU_ASSERT_FALSE(intset_validate(empty, sizeof empty, 1));
}

static void test_random_pick(void)
{
    intset *is = intset_new();
    for (int i = 0; i < 10; i++) is = intset_add(is, i * 3, NULL);
    uint64_t rng = 42;
    int seen[10] = { 0 };
    for (int k = 0; k < 1000; k++) {
        int64_t v = intset_random(is, &rng);
        CU_ASSERT(intset_find(is, v));
        seen[v / 3]++;
    }
    for (int i = 0; i < 10; i++) CU_ASSERT(seen[i] > 0);
    intset_free(is);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Random adds and removes against a sorted array. */
static void test_model(void)
{
    uint64_t rng = 7;
    intset *is = intset_new();
    int64_t model[600];
    size_t n = 0;
    for (int step = 0; step < 20000; step++) {
        uint64_t r = util_rand64(&rng);
        int64_t v;
        switch (r % 3) {
        case 0: v = (int64_t)(r >> 8) % 200 - 100; break;
        case 1: v = (int64_t)(r >> 8) % 200000 - 100000; break;
        default: v = (int64_t)util_rand64(&rng); break;
        }
        int in = bsearch(&v, model, n, sizeof v, cmp64) != NULL;
        if ((r >> 60) < 9 && n < 600) {
            int added;
            is = intset_add(is, v, &added);
            CU_ASSERT_EQUAL(added, !in);
            if (!in) {
                model[n++] = v;
                qsort(model, n, sizeof v, cmp64);
            }
        } else {
            int removed;
            is = intset_remove(is, v, &removed);
            CU_ASSERT_EQUAL(removed, in);
            if (in) {
                int64_t *p = bsearch(&v, model, n, sizeof v, cmp64);
                memmove(p, p + 1, (size_t)(model + n - p - 1) * sizeof v);
                n--;
            }
        }
        if (step % 997 == 0 && n > 0) {
            /* Also drop a member that is surely present. */
            int64_t w = model[r % n];
            int removed;
            is = intset_remove(is, w, &removed);
            CU_ASSERT_EQUAL(removed, 1);
            int64_t *p = bsearch(&w, model, n, sizeof w, cmp64);
            memmove(p, p + 1, (size_t)(model + n - p - 1) * sizeof w);
            n--;
        }
    }
    CU_ASSERT_EQUAL(intset_len(is), n);
    for (uint32_t i = 0; i < n; i++) CU_ASSERT_EQUAL(intset_get(is, i), model[i]);
    CU_ASSERT(intset_validate(is, intset_blob_len(is), 1) || n == 0);
    intset_free(is);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite s = CU_add_suite("intset", NULL, NULL);
    CU_add_test(s, "add_find_remove", test_add_find_remove);
    CU_add_test(s, "upgrades", test_upgrades);
    CU_add_test(s, "blob_layout", test_blob_layout);
    CU_add_test(s, "validate_corrupt", test_validate_corrupt);
    CU_add_test(s, "random_pick", test_random_pick);
    CU_add_test(s, "model", test_model);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
