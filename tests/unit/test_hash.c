/* test_hash.c — CUnit tests for the hash type's storage: store/ds/pairpack.c
 * (entry encodings at every size boundary, integers, find with a stride,
 * replace/delete in the middle, validation of corrupt packs) and the store
 * hooks of t_hash.h (length, visit, copy, free, memory size, digest) on a
 * compact hash built by hand.
 */
#include <CUnit/Basic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../platform/mem.h"
#include "../../platform/util.h"
#include "../../store/db.h"
#include "../../store/digest.h"
#include "../../store/ds/pairpack.h"
#include "../../store/object.h"
#include "../../store/t_hash.h"

/* Text of entry idx. */
static int entry_is(const unsigned char *pp, size_t idx, const char *want, size_t wl)
{
    size_t off = pp_seek(pp, idx);
    if (!off) return 0;
    char buf[PP_INTBUF];
    size_t len;
    const char *s = pp_str(pp, off, buf, &len);
    return len == wl && memcmp(s, want, wl) == 0;
}

static int entry_is_c(const unsigned char *pp, size_t idx, const char *want)
{
    return entry_is(pp, idx, want, strlen(want));
}

static void test_empty(void)
{
    unsigned char *pp = pp_new();
    CU_ASSERT_EQUAL(pp_count(pp), 0);
    CU_ASSERT_EQUAL(pp_bytes(pp), PP_HEADER);
    CU_ASSERT_EQUAL(pp_first(pp), pp_bytes(pp));
    CU_ASSERT_EQUAL(pp_seek(pp, 0), 0);
    CU_ASSERT_EQUAL(pp_find(pp, "a", 1, 0), 0);
    CU_ASSERT(pp_validate(pp, pp_bytes(pp), 1));
    pp_free(pp);
}

/* Strings of lengths around each tag boundary survive append and read. */
static void test_string_sizes(void)
{
    static const size_t lens[] = {0, 1, 126, 127, 128, 129, 16383, 16384, 70000};
    size_t n = sizeof lens / sizeof lens[0];
    unsigned char *pp = pp_new();
    char *buf = cb_malloc(70001);
    for (size_t i = 0; i < n; i++) {
        memset(buf, 'a' + (int)i, lens[i]);
        pp = pp_append(pp, buf, lens[i]);
        CU_ASSERT_EQUAL(pp_count(pp), i + 1);
    }
    for (size_t i = 0; i < n; i++) {
        memset(buf, 'a' + (int)i, lens[i]);
        CU_ASSERT(entry_is(pp, i, buf, lens[i]));
        CU_ASSERT_EQUAL(pp_find(pp, buf, lens[i], 0), pp_seek(pp, i));
    }
    CU_ASSERT_EQUAL(pp_entry_size("", 0), 1);
    CU_ASSERT_EQUAL(pp_entry_size(buf, 127), 128);
    CU_ASSERT_EQUAL(pp_entry_size(buf, 128), 130);
    CU_ASSERT_EQUAL(pp_entry_size(buf, 16384), 16389);
    CU_ASSERT(pp_validate(pp, pp_bytes(pp), 0));
    CU_ASSERT(!pp_validate(pp, pp_bytes(pp), 1)); /* odd count */
    cb_free(buf);
    pp_free(pp);
}

/* Canonical integer text is stored as a number, and reads back the same;
 * near-integers stay strings. */
static void test_integers(void)
{
    static const char *const ints[] = {
        "0", "1", "-1", "127", "128", "-128", "-129", "32767", "32768",
        "8388607", "-8388608", "2147483647", "2147483648", "-2147483649",
        "140737488355327", "9223372036854775807", "-9223372036854775808"};
    static const char *const texts[] = {"007", "-0", "+1", " 1", "1 ", "1.0",
                                        "9223372036854775808", "", "0x10"};
    unsigned char *pp = pp_new();
    size_t ni = sizeof ints / sizeof ints[0], nt = sizeof texts / sizeof texts[0];
    for (size_t i = 0; i < ni; i++) pp = pp_append(pp, ints[i], strlen(ints[i]));
    for (size_t i = 0; i < nt; i++) pp = pp_append(pp, texts[i], strlen(texts[i]));
    for (size_t i = 0; i < ni; i++) {
        pp_entry e;
        pp_get(pp, pp_seek(pp, i), &e);
        CU_ASSERT(e.is_int);
        CU_ASSERT(entry_is_c(pp, i, ints[i]));
        CU_ASSERT_EQUAL(pp_find(pp, ints[i], strlen(ints[i]), 0), pp_seek(pp, i));
        CU_ASSERT(pp_entry_size(ints[i], strlen(ints[i])) <= 9);
    }
    for (size_t i = 0; i < nt; i++) {
        pp_entry e;
        pp_get(pp, pp_seek(pp, ni + i), &e);
        CU_ASSERT(!e.is_int);
        CU_ASSERT(entry_is_c(pp, ni + i, texts[i]));
        CU_ASSERT_EQUAL(pp_find(pp, texts[i], strlen(texts[i]), 0), pp_seek(pp, ni + i));
    }
    /* "7" must not match the string "007", nor "0" match "-0". */
    CU_ASSERT_EQUAL(pp_find(pp, "7", 1, 0), 0);
    CU_ASSERT_EQUAL(pp_find(pp, "0", 1, 0), pp_seek(pp, 0));
    pp = pp_append_ll(pp, LLONG_MIN);
    CU_ASSERT(entry_is_c(pp, ni + nt, "-9223372036854775808"));
    CU_ASSERT(pp_validate(pp, pp_bytes(pp), 0));
    pp_free(pp);
}

/* With a stride of 1 only fields (even entries) match, never values. */
static void test_find_stride(void)
{
    unsigned char *pp = pp_new();
    const char *kv[] = {"a", "b", "b", "c", "c", "a"};
    for (int i = 0; i < 6; i++) pp = pp_append(pp, kv[i], 1);
    CU_ASSERT_EQUAL(pp_find(pp, "b", 1, 1), pp_seek(pp, 2));
    CU_ASSERT_EQUAL(pp_find(pp, "c", 1, 1), pp_seek(pp, 4));
    CU_ASSERT_EQUAL(pp_find(pp, "a", 1, 1), pp_seek(pp, 0));
    CU_ASSERT_EQUAL(pp_find(pp, "b", 1, 0), pp_seek(pp, 1));
    pp = pp_delete(pp, pp_seek(pp, 0), 2);
    CU_ASSERT_EQUAL(pp_find(pp, "a", 1, 1), 0);
    CU_ASSERT_EQUAL(pp_find(pp, "a", 1, 0), pp_seek(pp, 3));
    pp_free(pp);
}

static void test_replace_delete(void)
{
    unsigned char *pp = pp_new();
    pp = pp_append(pp, "f1", 2);
    pp = pp_append(pp, "v1", 2);
    pp = pp_append(pp, "f2", 2);
    pp = pp_append(pp, "v2", 2);
    pp = pp_append(pp, "f3", 2);
    pp = pp_append(pp, "v3", 2);
    char big[300];
    memset(big, 'x', sizeof big);
    /* Grow, shrink and retype the middle value; neighbours stay intact. */
    pp = pp_replace(pp, pp_seek(pp, 3), big, sizeof big);
    CU_ASSERT(entry_is(pp, 3, big, sizeof big));
    CU_ASSERT(entry_is_c(pp, 4, "f3"));
    pp = pp_replace(pp, pp_seek(pp, 3), "12345", 5);
    CU_ASSERT(entry_is_c(pp, 3, "12345"));
    pp = pp_replace(pp, pp_seek(pp, 3), "", 0);
    CU_ASSERT(entry_is_c(pp, 3, ""));
    CU_ASSERT(entry_is_c(pp, 5, "v3"));
    CU_ASSERT_EQUAL(pp_count(pp), 6);
    /* Replacing with bytes taken from the pack itself. */
    size_t off1 = pp_seek(pp, 1);
    pp_entry e;
    pp_get(pp, pp_seek(pp, 4), &e);
    pp = pp_replace(pp, off1, e.s, e.len);
    CU_ASSERT(entry_is_c(pp, 1, "f3"));
    pp = pp_append(pp, pp + pp_seek(pp, 0) + 1, 2);
    CU_ASSERT(entry_is_c(pp, 6, "f1"));
    pp = pp_delete(pp, pp_seek(pp, 6), 1);
    pp = pp_delete(pp, pp_seek(pp, 2), 2);
    CU_ASSERT_EQUAL(pp_count(pp), 4);
    CU_ASSERT(entry_is_c(pp, 2, "f3"));
    pp = pp_delete(pp, pp_seek(pp, 0), 4);
    CU_ASSERT_EQUAL(pp_count(pp), 0);
    CU_ASSERT_EQUAL(pp_bytes(pp), PP_HEADER);
    CU_ASSERT(pp_validate(pp, pp_bytes(pp), 1));
    pp_free(pp);
}

/* Random edits against a model array. */
static void test_random_model(void)
{
    uint64_t rng = 12345;
    char *model[200];
    size_t mlen[200], n = 0;
    unsigned char *pp = pp_new();
    for (int step = 0; step < 20000; step++) {
        uint64_t r = util_rand64(&rng);
        char buf[64];
        size_t len;
        if (r % 3 == 0) len = (size_t)snprintf(buf, sizeof buf, "%lld", (long long)(r >> 3) - (1LL << 59));
        else if (r % 3 == 1) len = (size_t)snprintf(buf, sizeof buf, "%llu", (unsigned long long)(r % 300));
        else len = (size_t)snprintf(buf, sizeof buf, "s%llx", (unsigned long long)(r >> 40));
        int op = (int)(util_rand64(&rng) % 3);
        if (op == 0 && n < 200) {
            pp = pp_append(pp, buf, len);
            model[n] = cb_memdup(buf, len);
            mlen[n++] = len;
        } else if (op == 1 && n) {
            size_t i = util_rand64(&rng) % n;
            pp = pp_replace(pp, pp_seek(pp, i), buf, len);
            cb_free(model[i]);
            model[i] = cb_memdup(buf, len);
            mlen[i] = len;
        } else if (n) {
            size_t i = util_rand64(&rng) % n;
            pp = pp_delete(pp, pp_seek(pp, i), 1);
            cb_free(model[i]);
            memmove(model + i, model + i + 1, (n - i - 1) * sizeof model[0]);
            memmove(mlen + i, mlen + i + 1, (n - i - 1) * sizeof mlen[0]);
            n--;
        }
        if (step % 97 == 0) {
            CU_ASSERT_EQUAL_FATAL(pp_count(pp), n);
            CU_ASSERT(pp_validate(pp, pp_bytes(pp), 0));
            for (size_t i = 0; i < n; i++) CU_ASSERT(entry_is(pp, i, model[i], mlen[i]));
        }
    }
    for (size_t i = 0; i < n; i++) cb_free(model[i]);
    pp_free(pp);
}

/* Damaged packs are refused, never read past their end. */
static void test_validate_corrupt(void)
{
    unsigned char *pp = pp_new();
    pp = pp_append(pp, "field", 5);
    pp = pp_append(pp, "12345", 5);
    pp = pp_append(pp, "a longer value here", 19);
    pp = pp_append(pp, "x", 1);
    size_t n = pp_bytes(pp);
    CU_ASSERT(pp_validate(pp, n, 1));
    CU_ASSERT(!pp_validate(NULL, 0, 0));
    CU_ASSERT(!pp_validate(pp, 4, 0));
    /* Every truncation fails (the header's size disagrees, or an entry runs
     * past the end once the size is patched to agree). */
    unsigned char *copy = cb_malloc(n);
    for (size_t cut = PP_HEADER; cut < n; cut++) {
        memcpy(copy, pp, cut);
        CU_ASSERT(!pp_validate(copy, cut, 0));
        copy[0] = (unsigned char)cut;
        copy[1] = copy[2] = copy[3] = 0;
        CU_ASSERT(!pp_validate(copy, cut, 0));
    }
    /* Each byte flipped to every value: validate either refuses it or the
     * result still decodes within bounds. */
    for (size_t i = PP_HEADER; i < n; i++) {
        for (int b = 0; b < 256; b++) {
            memcpy(copy, pp, n);
            copy[i] = (unsigned char)b;
            if (!pp_validate(copy, n, 0)) continue;
            size_t cnt = 0;
            for (size_t off = pp_first(copy); off < pp_bytes(copy); off = pp_next(copy, off)) {
                char buf[PP_INTBUF];
                size_t len;
                const char *s = pp_str(copy, off, buf, &len);
                CU_ASSERT(s == buf || (const unsigned char *)s + len <= copy + n);
                cnt++;
            }
            CU_ASSERT_EQUAL(cnt, pp_count(copy));
        }
    }
    /* A wrong count, an unknown tag, integer text stored as a string. */
    memcpy(copy, pp, n);
    copy[4] = 3;
    CU_ASSERT(!pp_validate(copy, n, 0));
    memcpy(copy, pp, n);
    copy[PP_HEADER] = 0xff;
    CU_ASSERT(!pp_validate(copy, n, 0));
    unsigned char bad[] = {11, 0, 0, 0, 1, 0, 0, 0, 2, '4', '2'};
    CU_ASSERT(!pp_validate(bad, sizeof bad, 0));
    bad[10] = 'x';
    CU_ASSERT(pp_validate(bad, sizeof bad, 0));
    cb_free(copy);
    pp_free(pp);
}

/* ------------------------------------------------------------ store hooks */

static cb_obj *compact_hash(const char *const *kv, int n)
{
    cb_obj *o = cb_malloc(sizeof(*o));
    o->type = OBJ_HASH;
    o->encoding = OBJ_ENC_LISTPACK;
    o->lru = 0;
    o->refcount = 1;
    unsigned char *pp = pp_new();
    for (int i = 0; i < n; i++) pp = pp_append(pp, kv[i], strlen(kv[i]));
    o->ptr = pp;
    return o;
}

static void visit_cat(void *priv, const char *f, size_t fl, const char *v, size_t vl)
{
    char *out = priv;
    strncat(out, f, fl);
    strcat(out, "=");
    strncat(out, v, vl);
    strcat(out, ";");
}

static void test_hooks(void)
{
    static const char *const kv[] = {"a", "1", "bb", "x", "100", "-7"};
    cb_obj *o = compact_hash(kv, 6);
    CU_ASSERT_EQUAL(hash_length(o), 3);
    char out[128] = "";
    hash_foreach(o, visit_cat, out);
    CU_ASSERT_STRING_EQUAL(out, "a=1;bb=x;100=-7;");
    CU_ASSERT(obj_mem_usage(o) > pp_bytes(o->ptr));

    cb_obj *d = obj_dup(o);
    CU_ASSERT_EQUAL(d->type, OBJ_HASH);
    /* The copy is compact and embedded in its object's block. */
    CU_ASSERT_EQUAL(d->encoding, OBJ_ENC_LISTPACK_EMB);
    CU_ASSERT_TRUE(hash_is_compact(d));
    char out2[128] = "";
    hash_foreach(d, visit_cat, out2);
    CU_ASSERT_STRING_EQUAL(out, out2);

    /* The digest ignores pair order. */
    static const char *const kv2[] = {"100", "-7", "a", "1", "bb", "x"};
    cb_obj *r = compact_hash(kv2, 6);
    unsigned char d1[20], d2[20], d3[20];
    digest_value(o, d1);
    digest_value(r, d2);
    CU_ASSERT_EQUAL(memcmp(d1, d2, 20), 0);
    static const char *const kv3[] = {"100", "-7", "a", "2", "bb", "x"};
    cb_obj *t = compact_hash(kv3, 6);
    digest_value(t, d3);
    CU_ASSERT_NOT_EQUAL(memcmp(d1, d3, 20), 0);

    obj_decr_ref(o);
    obj_decr_ref(d);
    obj_decr_ref(r);
    obj_decr_ref(t);
}

/* A compact hash embedded in its object's block reads the same, is one
 * allocation (64 bytes for 4 short pairs with jemalloc), and is freed and
 * copied like any other. */
static void test_embedded(void)
{
    static const char *const kv[] = {"f1", "value001", "f2", "value002",
                                     "f3", "value003", "f4", "value004"};
    cb_obj *o = compact_hash(kv, 8);
    unsigned char d0[20], d1[20];
    digest_value(o, d0);
    size_t separate = obj_mem_usage(o);
    cb_obj *e = hash_embed(o); /* o is freed */
    CU_ASSERT_EQUAL(e->encoding, OBJ_ENC_LISTPACK_EMB);
    CU_ASSERT_TRUE(hash_is_compact(e));
    CU_ASSERT_STRING_EQUAL(obj_encoding_name(e->encoding), "listpack");
    CU_ASSERT_EQUAL(hash_length(e), 4);
    digest_value(e, d1);
    CU_ASSERT_EQUAL(memcmp(d0, d1, 20), 0);
    CU_ASSERT_TRUE(obj_mem_usage(e) < separate);
    if (strncmp(mem_allocator_name(), "jemalloc", 8) == 0) {
        CU_ASSERT_EQUAL(obj_mem_usage(e), 64);
        CU_ASSERT_EQUAL(separate, 80);
    }
    char buf[PP_INTBUF];
    const char *v;
    size_t vl;
    CU_ASSERT_TRUE(hash_get(e, "f3", 2, buf, &v, &vl) && vl == 8 && !memcmp(v, "value003", 8));
    CU_ASSERT_FALSE(hash_get(e, "f5", 2, buf, &v, &vl));
    /* Embedding an embedded (or shared) object does nothing. */
    CU_ASSERT_PTR_EQUAL(hash_embed(e), e);
    e->refcount = 2;
    cb_obj *d = obj_dup(e);
    CU_ASSERT_EQUAL(d->encoding, OBJ_ENC_LISTPACK_EMB);
    digest_value(d, d1);
    CU_ASSERT_EQUAL(memcmp(d0, d1, 20), 0);
    e->refcount = 1;
    /* A loader write takes the pack out (the object stays put). */
    static cb_store_settings set;
    set.hash_max_listpack_entries = 128;
    set.hash_max_listpack_value = 64;
    uint8_t seed[16] = {1};
    cb_shard *sh = shard_create(0, 1, &set, seed);
    CU_ASSERT_EQUAL(hash_load_set(sh, d, "f5", 2, "five", 4), 1);
    CU_ASSERT_EQUAL(d->encoding, OBJ_ENC_LISTPACK);
    CU_ASSERT_EQUAL(hash_length(d), 5);
    CU_ASSERT_TRUE(hash_get(d, "f1", 2, buf, &v, &vl) && vl == 8 && !memcmp(v, "value001", 8));
    d = hash_embed(d);
    CU_ASSERT_EQUAL(d->encoding, OBJ_ENC_LISTPACK_EMB);
    CU_ASSERT_TRUE(hash_get(d, "f5", 2, buf, &v, &vl) && vl == 4 && !memcmp(v, "five", 4));
    CU_ASSERT_EQUAL(obj_free_step(d, 64), 0); /* lazy free: one block */
    obj_decr_ref(e);
    shard_destroy(sh);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("hash", NULL, NULL);
    CU_add_test(s, "empty pack", test_empty);
    CU_add_test(s, "string sizes at tag boundaries", test_string_sizes);
    CU_add_test(s, "integer entries", test_integers);
    CU_add_test(s, "find with a stride", test_find_stride);
    CU_add_test(s, "replace and delete", test_replace_delete);
    CU_add_test(s, "random edits against a model", test_random_model);
    CU_add_test(s, "corrupt packs", test_validate_corrupt);
    CU_add_test(s, "store hooks", test_hooks);
    CU_add_test(s, "embedded compact hash", test_embedded);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
