/* test_object.c — string value objects: Redis 7.0's encoding choice
 * (int / embstr / raw), re-encoding, making a value writable, duplication,
 * reference counts and the names OBJECT ENCODING / TYPE print.
 */
#include <CUnit/Basic.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "../../platform/util.h"
#include "../../store/object.h"

static int enc_of(const char *s)
{
    cb_obj *o = obj_new_string_encoded(s, strlen(s));
    int e = o->encoding;
    obj_decr_ref(o);
    return e;
}

static void test_encoding_rules(void)
{
    CU_ASSERT_EQUAL(enc_of("0"), OBJ_ENC_INT);
    CU_ASSERT_EQUAL(enc_of("123"), OBJ_ENC_INT);
    CU_ASSERT_EQUAL(enc_of("-42"), OBJ_ENC_INT);
    CU_ASSERT_EQUAL(enc_of("9223372036854775807"), OBJ_ENC_INT);
    CU_ASSERT_EQUAL(enc_of("-9223372036854775808"), OBJ_ENC_INT);
    /* Not canonical or out of range: kept as bytes. */
    CU_ASSERT_EQUAL(enc_of("9223372036854775808"), OBJ_ENC_EMBSTR);
    CU_ASSERT_EQUAL(enc_of("-0"), OBJ_ENC_EMBSTR);
    CU_ASSERT_EQUAL(enc_of("007"), OBJ_ENC_EMBSTR);
    CU_ASSERT_EQUAL(enc_of("+1"), OBJ_ENC_EMBSTR);
    CU_ASSERT_EQUAL(enc_of(" 1"), OBJ_ENC_EMBSTR);
    CU_ASSERT_EQUAL(enc_of("1.5"), OBJ_ENC_EMBSTR);
    CU_ASSERT_EQUAL(enc_of(""), OBJ_ENC_EMBSTR);

    char b[64];
    memset(b, 'x', sizeof(b));
    cb_obj *o = obj_new_string_encoded(b, 44);
    CU_ASSERT_EQUAL(o->encoding, OBJ_ENC_EMBSTR);
    CU_ASSERT_EQUAL(cbstr_len(o->ptr), 44);
    CU_ASSERT_EQUAL(((char *)o->ptr)[44], '\0');
    CU_ASSERT_EQUAL(cbstr_avail(o->ptr), 0);
    CU_ASSERT(memcmp(o->ptr, b, 44) == 0);
    obj_decr_ref(o);
    o = obj_new_string_encoded(b, 45);
    CU_ASSERT_EQUAL(o->encoding, OBJ_ENC_RAW);
    CU_ASSERT_EQUAL(cbstr_len(o->ptr), 45);
    obj_decr_ref(o);
    /* Long digit strings are never int-encoded. */
    memset(b, '1', 21);
    o = obj_new_string_encoded(b, 21);
    CU_ASSERT_EQUAL(o->encoding, OBJ_ENC_EMBSTR);
    obj_decr_ref(o);
    /* Binary bytes survive. */
    o = obj_new_string("a\0b", 3);
    CU_ASSERT_EQUAL(cbstr_len(o->ptr), 3);
    CU_ASSERT(memcmp(o->ptr, "a\0b", 3) == 0);
    obj_decr_ref(o);
}

static void test_try_encode(void)
{
    cb_obj *o = obj_new_raw("12345", 5);
    CU_ASSERT_EQUAL(o->encoding, OBJ_ENC_RAW);
    cb_obj *n = obj_try_encode(o);
    CU_ASSERT_PTR_EQUAL(n, o); /* raw -> int in place */
    CU_ASSERT_EQUAL(n->encoding, OBJ_ENC_INT);
    long long v = 0;
    CU_ASSERT(obj_get_ll(n, &v) && v == 12345);
    obj_decr_ref(n);

    o = obj_new_string("777", 3);
    CU_ASSERT_EQUAL(o->encoding, OBJ_ENC_EMBSTR);
    n = obj_try_encode(o);
    CU_ASSERT_EQUAL(n->encoding, OBJ_ENC_INT);
    obj_decr_ref(n);

    o = obj_new_raw("hello world", 11);
    n = obj_try_encode(o);
    CU_ASSERT_EQUAL(n->encoding, OBJ_ENC_EMBSTR);
    CU_ASSERT(memcmp(n->ptr, "hello world", 11) == 0);
    obj_decr_ref(n);

    /* Shared objects are left alone. */
    o = obj_new_raw("99", 2);
    obj_incr_ref(o);
    n = obj_try_encode(o);
    CU_ASSERT_PTR_EQUAL(n, o);
    CU_ASSERT_EQUAL(n->encoding, OBJ_ENC_RAW);
    obj_decr_ref(o);
    obj_decr_ref(o);

    /* Long raw strings drop their append slack. */
    cbstr s = cbstr_new("y", 1);
    for (int i = 0; i < 100; i++) s = cbstr_cat(s, "0123456789", 10);
    o = obj_new_from_cbstr(s);
    n = obj_try_encode(o);
    CU_ASSERT_EQUAL(n->encoding, OBJ_ENC_RAW);
    CU_ASSERT(cbstr_avail(n->ptr) <= cbstr_len(n->ptr) / 10);
    CU_ASSERT_EQUAL(cbstr_len(n->ptr), 1001);
    obj_decr_ref(n);
}

static void test_make_raw_and_str(void)
{
    char buf[CB_LL2STR_MAX];
    size_t len = 0;
    cb_obj *o = obj_new_int(-1234);
    CU_ASSERT_EQUAL(obj_str_len(o), 5);
    const char *p = obj_str(o, buf, &len);
    CU_ASSERT(len == 5 && memcmp(p, "-1234", 5) == 0);
    obj_string_make_raw(o);
    CU_ASSERT_EQUAL(o->encoding, OBJ_ENC_RAW);
    CU_ASSERT(cbstr_len(o->ptr) == 5 && memcmp(o->ptr, "-1234", 5) == 0);
    o->ptr = cbstr_cat(o->ptr, "xyz", 3);
    long long v;
    CU_ASSERT_FALSE(obj_get_ll(o, &v));
    obj_decr_ref(o);

    o = obj_new_string("abc", 3);
    obj_string_make_raw(o);
    CU_ASSERT_EQUAL(o->encoding, OBJ_ENC_RAW);
    o->ptr = cbstr_cat(o->ptr, "def", 3);
    p = obj_str(o, buf, &len);
    CU_ASSERT(len == 6 && memcmp(p, "abcdef", 6) == 0);
    CU_ASSERT(obj_mem_usage(o) >= sizeof(cb_obj) + 6);
    obj_decr_ref(o);

    o = obj_new_string("-17", 3);
    CU_ASSERT(obj_get_ll(o, &v) && v == -17);
    obj_decr_ref(o);
}

static void test_dup_and_refcount(void)
{
    cb_obj *a[3] = { obj_new_int(5), obj_new_string("short", 5),
                     obj_new_raw("a raw one", 9) };
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(a[i]->refcount, 1);
        CU_ASSERT_EQUAL(a[i]->type, OBJ_STRING);
        cb_obj *d = obj_dup(a[i]);
        CU_ASSERT_PTR_NOT_EQUAL(d, a[i]);
        CU_ASSERT_EQUAL(d->encoding, a[i]->encoding);
        CU_ASSERT_EQUAL(d->refcount, 1);
        char b1[CB_LL2STR_MAX], b2[CB_LL2STR_MAX];
        size_t l1, l2;
        const char *p1 = obj_str(a[i], b1, &l1), *p2 = obj_str(d, b2, &l2);
        CU_ASSERT(l1 == l2 && memcmp(p1, p2, l1) == 0);
        if (d->encoding != OBJ_ENC_INT) CU_ASSERT_PTR_NOT_EQUAL(p1, p2);
        CU_ASSERT(obj_mem_usage(d) >= sizeof(cb_obj));
        obj_incr_ref(a[i]);
        CU_ASSERT_EQUAL(a[i]->refcount, 2);
        obj_decr_ref(a[i]);
        obj_decr_ref(a[i]);
        obj_decr_ref(d);
    }
}

static void test_names(void)
{
    CU_ASSERT_STRING_EQUAL(obj_type_name(OBJ_STRING), "string");
    CU_ASSERT_STRING_EQUAL(obj_type_name(OBJ_LIST), "list");
    CU_ASSERT_STRING_EQUAL(obj_type_name(OBJ_SET), "set");
    CU_ASSERT_STRING_EQUAL(obj_type_name(OBJ_ZSET), "zset");
    CU_ASSERT_STRING_EQUAL(obj_type_name(OBJ_HASH), "hash");
    CU_ASSERT_STRING_EQUAL(obj_type_name(OBJ_STREAM), "stream");
    const char *enc[] = { "raw", "int", "hashtable", "zipmap", "linkedlist", "ziplist",
                          "intset", "skiplist", "embstr", "quicklist", "stream",
                          "listpack" };
    for (int i = 0; i < 12; i++) CU_ASSERT_STRING_EQUAL(obj_encoding_name(i), enc[i]);
    CU_ASSERT_STRING_EQUAL(obj_encoding_name(99), "unknown");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("object", NULL, NULL);
    CU_add_test(s, "encoding rules", test_encoding_rules);
    CU_add_test(s, "try_encode", test_try_encode);
    CU_add_test(s, "make_raw and str", test_make_raw_and_str);
    CU_add_test(s, "dup and refcount", test_dup_and_refcount);
    CU_add_test(s, "names", test_names);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
