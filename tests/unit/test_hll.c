/* test_hll.c — CUnit tests for store/ds/hll.c: the empty sketch's bytes, a
 * golden sparse value captured from redis-server 7.0 (PFADD h a b c), dense
 * register packing, sparse/dense agreement and promotion, the cached
 * cardinality, estimator accuracy, and corrupt payloads (bad headers, runs
 * that cover too few or too many registers, random garbage) which must be
 * reported, never crash or read out of bounds (run under ASan).
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../platform/mem.h"
#include "../../store/ds/hll.h"

#define BIG_SPARSE ((long long)1 << 40)

static uint64_t rng_state = 0x1234567887654321ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_empty(void)
{
    cbstr s = hll_new();
    CU_ASSERT_EQUAL(cbstr_len(s), HLL_HDR_SIZE + 2);
    CU_ASSERT(memcmp(s, "HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff", 18) == 0);
    CU_ASSERT(hll_header_ok(s, cbstr_len(s)));
    uint64_t card = 99;
    CU_ASSERT(hll_cache_get(s, &card));
    CU_ASSERT_EQUAL(card, 0);
    CU_ASSERT_EQUAL(hll_count(s, cbstr_len(s), &card), 0);
    CU_ASSERT_EQUAL(card, 0);
    cbstr d = hll_sparse_decode(s, cbstr_len(s));
    CU_ASSERT_STRING_EQUAL(d, "Z:16384");
    cbstr_free(d);
    cbstr_free(s);
}

/* Bytes redis-server 7.0 holds after PFADD h a b c (cache invalidated). */
static void test_golden(void)
{
    static const char want[] = "HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80"
                               "`\xf3\x80P\xb1\x84K\xfb\x80" "BZ";
    cbstr s = hll_new();
    CU_ASSERT_EQUAL(hll_add(&s, "a", 1, 3000), 1);
    CU_ASSERT_EQUAL(hll_add(&s, "b", 1, 3000), 1);
    CU_ASSERT_EQUAL(hll_add(&s, "c", 1, 3000), 1);
    CU_ASSERT_EQUAL(hll_add(&s, "c", 1, 3000), 0);
    CU_ASSERT_EQUAL(cbstr_len(s), sizeof want - 1);
    CU_ASSERT(memcmp(s, want, sizeof want - 1) == 0);
    uint64_t card;
    CU_ASSERT_FALSE(hll_cache_get(s, &card));
    CU_ASSERT_EQUAL(hll_count(s, cbstr_len(s), &card), 0);
    CU_ASSERT_EQUAL(card, 3);
    hll_cache_set(s, card);
    CU_ASSERT(hll_cache_get(s, &card));
    CU_ASSERT_EQUAL(card, 3);
    hll_cache_invalidate(s);
    CU_ASSERT_FALSE(hll_cache_get(s, &card));
    cbstr_free(s);
}

static void test_dense_registers(void)
{
    cbstr s = hll_new();
    CU_ASSERT_EQUAL(hll_to_dense(&s), 0);
    CU_ASSERT_EQUAL(cbstr_len(s), HLL_DENSE_SIZE);
    CU_ASSERT_EQUAL(hll_encoding(s), HLL_ENC_DENSE);
    uint8_t *ref = malloc(HLL_REGISTERS);
    for (long i = 0; i < HLL_REGISTERS; i++) {
        ref[i] = (uint8_t)(rnd() % 64);
        if (ref[i]) CU_ASSERT_EQUAL(hll_set(&s, i, ref[i], 0), 1);
    }
    const uint8_t *regs = (const uint8_t *)s + HLL_HDR_SIZE;
    int bad = 0;
    for (long i = 0; i < HLL_REGISTERS; i++) bad += hll_dense_get(regs, i) != ref[i];
    CU_ASSERT_EQUAL(bad, 0);
    /* Lower values never lower a register. */
    CU_ASSERT_EQUAL(hll_set(&s, 5, 0, 0), 0);
    CU_ASSERT_EQUAL(hll_dense_get(regs, 5), ref[5]);
    free(ref);
    cbstr_free(s);
}

static void test_sparse_dense_agree(void)
{
    cbstr sp = hll_new(), de = hll_new();
    CU_ASSERT_EQUAL(hll_to_dense(&de), 0);
    char buf[32];
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(buf, sizeof buf, "item:%d", i);
        int a = hll_add(&sp, buf, (size_t)n, BIG_SPARSE);
        int b = hll_add(&de, buf, (size_t)n, BIG_SPARSE);
        CU_ASSERT_EQUAL(a, b);
        if (i % 500 == 0) {
            uint64_t ca, cb;
            CU_ASSERT_EQUAL(hll_count(sp, cbstr_len(sp), &ca), 0);
            CU_ASSERT_EQUAL(hll_count(de, cbstr_len(de), &cb), 0);
            CU_ASSERT_EQUAL(ca, cb);
        }
    }
    CU_ASSERT_EQUAL(hll_encoding(sp), HLL_ENC_SPARSE);
    /* Converting the sparse one gives the same registers; the header keeps
     * its cached-cardinality bytes. */
    CU_ASSERT_EQUAL(hll_to_dense(&sp), 0);
    CU_ASSERT_EQUAL(cbstr_len(sp), HLL_DENSE_SIZE);
    CU_ASSERT(memcmp(sp + HLL_HDR_SIZE, de + HLL_HDR_SIZE, HLL_DENSE_SIZE - HLL_HDR_SIZE) == 0);

    uint8_t *max = calloc(1, HLL_REGISTERS);
    CU_ASSERT_EQUAL(hll_merge_max(max, de, cbstr_len(de)), 0);
    uint64_t c1, c2;
    hll_count(de, cbstr_len(de), &c1);
    c2 = hll_count_raw(max);
    CU_ASSERT_EQUAL(c1, c2);
    free(max);
    cbstr_free(sp);
    cbstr_free(de);
}

static void test_promotion(void)
{
    cbstr s = hll_new();
    /* The payload may not outgrow sparse_max bytes (header included). */
    int i = 0;
    char buf[16];
    while (hll_encoding(s) == HLL_ENC_SPARSE && i < 1000) {
        int n = snprintf(buf, sizeof buf, "%d", i++);
        CU_ASSERT(hll_add(&s, buf, (size_t)n, 100) >= 0);
        if (hll_encoding(s) == HLL_ENC_SPARSE) CU_ASSERT(cbstr_len(s) <= 100);
    }
    CU_ASSERT_EQUAL(hll_encoding(s), HLL_ENC_DENSE);
    CU_ASSERT_EQUAL(cbstr_len(s), HLL_DENSE_SIZE);
    cbstr_free(s);

    /* Values above 32 do not fit a VAL opcode. */
    s = hll_new();
    CU_ASSERT_EQUAL(hll_set(&s, 100, 33, BIG_SPARSE), 1);
    CU_ASSERT_EQUAL(hll_encoding(s), HLL_ENC_DENSE);
    CU_ASSERT_EQUAL(hll_dense_get((uint8_t *)s + HLL_HDR_SIZE, 100), 33);
    cbstr_free(s);

    /* Run splitting and re-merging of neighbours. */
    s = hll_new();
    hll_set(&s, 0, 3, BIG_SPARSE);
    hll_set(&s, 2, 3, BIG_SPARSE);
    hll_set(&s, 1, 3, BIG_SPARSE);
    cbstr d = hll_sparse_decode(s, cbstr_len(s));
    CU_ASSERT_STRING_EQUAL(d, "v:3,3 Z:16381");
    cbstr_free(d);
    hll_set(&s, 1, 5, BIG_SPARSE);
    d = hll_sparse_decode(s, cbstr_len(s));
    CU_ASSERT_STRING_EQUAL(d, "v:3,1 v:5,1 v:3,1 Z:16381");
    cbstr_free(d);
    cbstr_free(s);
}

static void test_accuracy(void)
{
    cbstr s = hll_new();
    for (uint64_t i = 1; i <= 200000; i++) {
        uint64_t v = rnd();
        hll_add(&s, &v, sizeof v, 3000);
        if (i == 1000 || i == 20000 || i == 200000) {
            uint64_t card;
            CU_ASSERT_EQUAL(hll_count(s, cbstr_len(s), &card), 0);
            double err = ((double)card - (double)i) / (double)i;
            CU_ASSERT(err < 0.04 && err > -0.04);
        }
    }
    cbstr_free(s);
}

static cbstr make_sparse(const uint8_t *payload, size_t n)
{
    cbstr s = hll_new();
    cbstr_setlen(s, HLL_HDR_SIZE);
    return cbstr_cat(s, payload, n);
}

static void test_corrupt(void)
{
    CU_ASSERT_FALSE(hll_header_ok("HYL", 3));
    CU_ASSERT_FALSE(hll_header_ok("HYLX\x01\0\0\0\0\0\0\0\0\0\0\0", 16));
    CU_ASSERT_FALSE(hll_header_ok("HYLL\x02\0\0\0\0\0\0\0\0\0\0\0", 16));
    CU_ASSERT_FALSE(hll_header_ok("HYLL\x00\0\0\0\0\0\0\0\0\0\0\0", 16));
    CU_ASSERT(hll_header_ok("HYLL\x01\0\0\0\0\0\0\0\0\0\0\0", 16));

    uint64_t card;
    uint8_t *max = calloc(1, HLL_REGISTERS);
    /* Too few registers. */
    const uint8_t few[] = {0x7f, 0xfe};
    cbstr s = make_sparse(few, sizeof few);
    CU_ASSERT_EQUAL(hll_count(s, cbstr_len(s), &card), -1);
    CU_ASSERT_EQUAL(hll_merge_max(max, s, cbstr_len(s)), -1);
    CU_ASSERT_EQUAL(hll_to_dense(&s), -1);
    CU_ASSERT_EQUAL(hll_set(&s, HLL_REGISTERS - 1, 1, BIG_SPARSE), -1);
    CU_ASSERT_EQUAL(hll_set(&s, 0, 1, BIG_SPARSE), 1); /* a covered index still works */
    CU_ASSERT_EQUAL(hll_set(&s, 0, 40, BIG_SPARSE), -1); /* promotion validates */
    cbstr_free(s);
    /* Too many registers. */
    const uint8_t many[] = {0x7f, 0xff, 0x80};
    s = make_sparse(many, sizeof many);
    CU_ASSERT_EQUAL(hll_count(s, cbstr_len(s), &card), -1);
    CU_ASSERT_EQUAL(hll_merge_max(max, s, cbstr_len(s)), -1);
    CU_ASSERT_EQUAL(hll_to_dense(&s), -1);
    cbstr_free(s);
    /* No payload at all. */
    s = make_sparse((const uint8_t *)"", 0);
    CU_ASSERT_EQUAL(hll_count(s, cbstr_len(s), &card), -1);
    CU_ASSERT_EQUAL(hll_add(&s, "a", 1, BIG_SPARSE), -1);
    cbstr_free(s);
    /* A truncated XZERO takes the terminator as its low byte (as Redis). */
    const uint8_t trunc[] = {0x3f, 0x3f, 0x3f, 0x3e, 0x7f};
    s = make_sparse(trunc, sizeof trunc);
    CU_ASSERT_EQUAL(hll_count(s, cbstr_len(s), &card), 0);
    CU_ASSERT_EQUAL(card, 0);
    cbstr_free(s);

    /* Random garbage: any answer is fine, no crash or overread is not. */
    for (int round = 0; round < 3000; round++) {
        uint8_t junk[64];
        size_t n = rnd() % sizeof junk;
        for (size_t i = 0; i < n; i++) junk[i] = (uint8_t)rnd();
        s = make_sparse(junk, n);
        hll_count(s, cbstr_len(s), &card);
        hll_merge_max(max, s, cbstr_len(s));
        cbstr d = hll_sparse_decode(s, cbstr_len(s));
        cbstr_free(d);
        char e[8];
        int en = snprintf(e, sizeof e, "%d", round);
        hll_add(&s, e, (size_t)en, rnd() % 2 ? 60 : BIG_SPARSE);
        hll_to_dense(&s);
        cbstr_free(s);
    }
    free(max);
}

static void test_hash(void)
{
    /* Same input, same hash; different seeds and tails differ. */
    CU_ASSERT_EQUAL(hll_murmur64a("abcdefghij", 10, 1), hll_murmur64a("abcdefghij", 10, 1));
    CU_ASSERT_NOT_EQUAL(hll_murmur64a("abcdefghij", 10, 1), hll_murmur64a("abcdefghij", 10, 2));
    CU_ASSERT_NOT_EQUAL(hll_murmur64a("abcdefghij", 10, 1), hll_murmur64a("abcdefghik", 10, 1));
    long idx;
    int rank = hll_pattern("x", 1, &idx);
    CU_ASSERT(rank >= 1 && rank <= HLL_Q + 1);
    CU_ASSERT(idx >= 0 && idx < HLL_REGISTERS);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite s = CU_add_suite("hll", NULL, NULL);
    CU_add_test(s, "empty", test_empty);
    CU_add_test(s, "golden_sparse", test_golden);
    CU_add_test(s, "dense_registers", test_dense_registers);
    CU_add_test(s, "sparse_dense_agree", test_sparse_dense_agree);
    CU_add_test(s, "promotion_and_runs", test_promotion);
    CU_add_test(s, "accuracy", test_accuracy);
    CU_add_test(s, "corrupt", test_corrupt);
    CU_add_test(s, "hash", test_hash);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
