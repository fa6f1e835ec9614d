/* test_digest.c — CUnit tests for store/digest.c: SHA-1 against the FIPS
 * 180-4 / RFC 3174 test vectors, and DEBUG DIGEST / DIGEST-VALUE results
 * against values captured from redis-server 7.0.15 (`DEBUG DIGEST` with
 * --enable-debug-command yes) for the same datasets, including int-encoded
 * values, keys with TTLs, several dbs, and keys spread over two shards.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "../../store/digest.h"
#include "../../store/db.h"
#include "../../platform/mem.h"

static char *hex(const unsigned char d[20])
{
    static char buf[41];
    digest_to_hex(d, buf);
    return buf;
}

static void check_sha1(const char *msg, size_t len, const char *want)
{
    unsigned char d[20];
    sha1(msg, len, d);
    CU_ASSERT_STRING_EQUAL(hex(d), want);
    /* The same bytes fed in uneven pieces. */
    cb_sha1_ctx ctx;
    sha1_init(&ctx);
    size_t off = 0, step = 1;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        sha1_update(&ctx, msg + off, n);
        off += n;
        step = step * 3 + 1;
    }
    sha1_final(&ctx, d);
    CU_ASSERT_STRING_EQUAL(hex(d), want);
}

static void test_sha1_vectors(void)
{
    check_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_sha1(two, strlen(two), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    const char *four = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                       "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    check_sha1(four, strlen(four), "a49b2446a02c645bf419f995b67091253a04a259");
    size_t n = 1000000;
    char *a = cb_malloc(n);
    memset(a, 'a', n);
    check_sha1(a, n, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    cb_free(a);
    /* Lengths around the padding boundary (55, 56, 64 bytes). */
    char z[64];
    memset(z, 'z', sizeof z);
    unsigned char d1[20], d2[20];
    for (size_t l = 54; l <= 64; l++) {
        sha1(z, l, d1);
        cb_sha1_ctx ctx;
        sha1_init(&ctx);
        sha1_update(&ctx, z, l / 2);
        sha1_update(&ctx, z + l / 2, l - l / 2);
        sha1_final(&ctx, d2);
        CU_ASSERT_EQUAL(memcmp(d1, d2, 20), 0);
    }
}

/* redis-server 7.0.15: DEBUG DIGEST-VALUE after SET a 1, SET e -5, ... */
static void test_value_digest_matches_oracle(void)
{
    static const struct {
        const char *val;
        int ttl;
        const char *want;
    } cases[] = {
        { "1", 0, "b4fc66738120fba0b5aa500ab5c2bf89cea1c5da" },
        { "1", 1, "5279988c5d1911f474bcbbf2f0a87012d40f8459" },
        { "v", 0, "d79ee9fe5d5ad902d7f6620efc3b07b75ddd742f" },
        { "hello", 0, "36b23a1456b2dce2c3ed252c456761301dba8060" },
        { "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0,
          "0bd0ba55ab9ee2bf15c3c5086e54e4cc642b2cc4" },
        { "bar", 1, "8ec3828f7209dd3abdf6ee448de8b0c0bd53265f" },
        { "-5", 0, "b8fe4ac02b2f7e40537890f8b06b1107798d89e1" },
        { "12345678901234", 0, "4af011cd4926901877e03e153d63e144d48443e4" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char d[20];
        /* Every encoding of the same bytes has the same digest. */
        cb_obj *objs[2] = { obj_new_string_encoded(cases[i].val, strlen(cases[i].val)),
                            obj_new_raw(cases[i].val, strlen(cases[i].val)) };
        for (int k = 0; k < 2; k++) {
            digest_object(objs[k], cases[i].ttl, d);
            CU_ASSERT_STRING_EQUAL(hex(d), cases[i].want);
            obj_decr_ref(objs[k]);
        }
    }
    unsigned char d[20];
    cb_obj *o = obj_new_string_encoded("hello", 5);
    digest_value(o, d);
    CU_ASSERT_STRING_EQUAL(hex(d), "36b23a1456b2dce2c3ed252c456761301dba8060");
    obj_decr_ref(o);
    digest_object(NULL, 0, d);
    CU_ASSERT_STRING_EQUAL(hex(d), "0000000000000000000000000000000000000000");
}

typedef struct kv {
    int db;
    const char *k, *v;
    int ttl;
} kv;

static const kv dataset[] = {
    { 0, "a", "1", 0 },
    { 0, "b", "hello", 0 },
    { 0, "c", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0 },
    { 0, "d", "bar", 1 },
    { 3, "k", "v", 0 },
    { 0, "e", "-5", 0 },
    { 0, "f", "12345678901234", 0 },
};
#define NDATA (sizeof dataset / sizeof dataset[0])

static cb_store_settings settings = { .hz = 10, .active_expire_effort = 1 };

static cb_shard *new_shard(int id)
{
    uint8_t seed[16] = { (uint8_t)id, 1, 2, 3 };
    return shard_create(id, 16, &settings, seed);
}

static void put(cb_shard *s, const kv *e)
{
    cb_db *db = &s->dbs[e->db];
    db_add(s, db, e->k, strlen(e->k), obj_new_string_encoded(e->v, strlen(e->v)));
    if (e->ttl) db_set_expire(s, db, e->k, strlen(e->k), 4102444800000LL);
}

/* The first n entries of the dataset, in the given order, over nshards
 * shards (entry i goes to shard i % nshards). */
static const char *dataset_digest(const int *order, size_t n, int nshards)
{
    cb_shard *sh[2] = { new_shard(0), nshards > 1 ? new_shard(1) : NULL };
    for (size_t i = 0; i < n; i++) put(sh[i % nshards], &dataset[order[i]]);
    unsigned char d[20];
    digest_dataset(sh, nshards, d);
    for (int i = 0; i < nshards; i++) shard_destroy(sh[i]);
    return hex(d);
}

static void test_dataset_digest_matches_oracle(void)
{
    static const int fwd[] = { 0, 1, 2, 3, 4, 5, 6 };
    static const int rev[] = { 6, 5, 4, 3, 2, 1, 0 };
    static const int mix[] = { 3, 0, 2, 1 };

    CU_ASSERT_STRING_EQUAL(dataset_digest(fwd, 0, 1), "0000000000000000000000000000000000000000");
    /* db0 {a, b, c, d+ttl} */
    CU_ASSERT_STRING_EQUAL(dataset_digest(fwd, 4, 1), "95dabd5f732c0c9c70482a9e65782e17a6033274");
    CU_ASSERT_STRING_EQUAL(dataset_digest(mix, 4, 1), "95dabd5f732c0c9c70482a9e65782e17a6033274");
    CU_ASSERT_STRING_EQUAL(dataset_digest(mix, 4, 2), "95dabd5f732c0c9c70482a9e65782e17a6033274");
    /* ... plus db3 {k} */
    CU_ASSERT_STRING_EQUAL(dataset_digest(fwd, 5, 1), "6f69af2f20036cace3d4867f22ead031a353928b");
    /* ... plus db0 {e, f} */
    CU_ASSERT_STRING_EQUAL(dataset_digest(fwd, 7, 1), "ea9f0d2e0b846e66ca2669a627a1b1263b0cfb54");
    CU_ASSERT_STRING_EQUAL(dataset_digest(rev, 7, 1), "ea9f0d2e0b846e66ca2669a627a1b1263b0cfb54");
    CU_ASSERT_STRING_EQUAL(dataset_digest(rev, 7, 2), "ea9f0d2e0b846e66ca2669a627a1b1263b0cfb54");
    CU_ASSERT_STRING_EQUAL(dataset_digest(fwd, 7, 2), "ea9f0d2e0b846e66ca2669a627a1b1263b0cfb54");
}

static void test_db_index_matters(void)
{
    /* The same key in another db gives another digest. */
    cb_shard *s = new_shard(0);
    kv one = { 0, "k", "v", 0 };
    put(s, &one);
    unsigned char d0[20], d1[20];
    digest_dataset(&s, 1, d0);
    shard_destroy(s);
    s = new_shard(0);
    one.db = 1;
    put(s, &one);
    digest_dataset(&s, 1, d1);
    shard_destroy(s);
    CU_ASSERT_NOT_EQUAL(memcmp(d0, d1, 20), 0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("digest", NULL, NULL);
    CU_add_test(s, "SHA-1 test vectors", test_sha1_vectors);
    CU_add_test(s, "DIGEST-VALUE equals redis-server's", test_value_digest_matches_oracle);
    CU_add_test(s, "DIGEST equals redis-server's, any order, any shards",
                test_dataset_digest_matches_oracle);
    CU_add_test(s, "db index is part of the digest", test_db_index_matters);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
