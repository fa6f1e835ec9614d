/* test_cbstr.c — CUnit tests for store/ds/cbstr.c: creation, binary data,
 * growth across header widths, the growth policy, zero-filled growth,
 * ranges, formatting and comparisons, and the 1-byte header of short
 * exact-size strings (growth converts them).
 */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <string.h>

#include "../../platform/mem.h"
#include "../../store/ds/cbstr.h"

static void test_new(void)
{
    cbstr s = cbstr_new("hello", 5);
    CU_ASSERT_EQUAL(cbstr_len(s), 5);
    CU_ASSERT_STRING_EQUAL(s, "hello");
    CU_ASSERT_EQUAL(s[5], '\0');
    CU_ASSERT(cbstr_alloc_size(s) >= 5 + 1 + 1);
    cbstr_free(s);

    s = cbstr_new(NULL, 10);
    CU_ASSERT_EQUAL(cbstr_len(s), 10);
    for (int i = 0; i < 10; i++) CU_ASSERT_EQUAL(s[i], 0);
    cbstr_free(s);

    s = cbstr_from_cstr("");
    CU_ASSERT_EQUAL(cbstr_len(s), 0);
    CU_ASSERT_STRING_EQUAL(s, "");
    cbstr d = cbstr_dup(s);
    CU_ASSERT_EQUAL(cbstr_len(d), 0);
    cbstr_free(s);
    cbstr_free(d);

    s = cbstr_with_cap(100);
    CU_ASSERT_EQUAL(cbstr_len(s), 0);
    CU_ASSERT(cbstr_avail(s) >= 100);
    CU_ASSERT_STRING_EQUAL(s, "");
    cbstr_free(s);
    cbstr_free(NULL);
}

static void test_one_byte_header(void)
{
    /* 13 bytes + 1 header + NUL fit 16: a class below the 3-byte header. */
    cbstr s = cbstr_new("hash:00000001", 13);
    CU_ASSERT_EQUAL(cbstr_len(s), 13);
    CU_ASSERT_EQUAL(cbstr_avail(s), 0);
    /* (Size classes are jemalloc's; libc malloc's differ.) */
    int jem = strncmp(mem_allocator_name(), "jemalloc", 8) == 0;
    if (jem) CU_ASSERT_EQUAL(cbstr_alloc_size(s), 16);
    CU_ASSERT_STRING_EQUAL(s, "hash:00000001");
    /* Shrinking in place keeps it valid. */
    cbstr_range(s, 5, 8);
    CU_ASSERT_EQUAL(cbstr_len(s), 8);
    CU_ASSERT_STRING_EQUAL(s, "00000001");
    /* Growth moves it to a wider header with the bytes intact. */
    s = cbstr_cat(s, "-and-more-bytes-past-thirty-one-of-them", 39);
    CU_ASSERT_EQUAL(cbstr_len(s), 47);
    CU_ASSERT_STRING_EQUAL(s, "00000001-and-more-bytes-past-thirty-one-of-them");
    CU_ASSERT(cbstr_avail(s) > 0);
    cbstr_free(s);
    /* 31 bytes is the longest; 32 takes the 3-byte header. */
    char b[40];
    memset(b, 'x', sizeof b);
    s = cbstr_new(b, 31);
    CU_ASSERT_EQUAL(cbstr_len(s), 31);
    if (jem) CU_ASSERT_EQUAL(cbstr_alloc_size(s), 48);
    cbstr t = cbstr_new(b, 32);
    CU_ASSERT_EQUAL(cbstr_len(t), 32);
    CU_ASSERT_EQUAL(cbstr_cmp(s, t), -1);
    s = cbstr_catfmt(s, "%d", 7);
    CU_ASSERT_EQUAL(cbstr_len(s), 32);
    CU_ASSERT_EQUAL(s[31], '7');
    cbstr_free(s);
    cbstr_free(t);
    /* A string with spare room stays growable in place after a shrink. */
    s = cbstr_new("ab", 2);
    s = cbstr_shrink(s);
    CU_ASSERT_EQUAL(cbstr_len(s), 2);
    s = cbstr_grow_zero(s, 5);
    CU_ASSERT_EQUAL(cbstr_len(s), 5);
    CU_ASSERT_EQUAL(s[4], 0);
    cbstr_free(s);
}

static void test_short_header_is_small(void)
{
    /* A 10-byte key must fit a 16-byte allocator class or near it:
     * memory per key matters. */
    cbstr s = cbstr_new("key:000001", 10);
    CU_ASSERT(cbstr_alloc_size(s) <= 24);
    cbstr_free(s);
}

static void test_binary(void)
{
    const char data[] = {'a', '\0', 'b', '\0', '\xff'};
    cbstr s = cbstr_new(data, sizeof(data));
    CU_ASSERT_EQUAL(cbstr_len(s), 5);
    CU_ASSERT(memcmp(s, data, 5) == 0);
    CU_ASSERT(cbstr_eq_bytes(s, data, 5));
    CU_ASSERT_FALSE(cbstr_eq_bytes(s, data, 4));
    s = cbstr_cat(s, "\0\0", 2);
    CU_ASSERT_EQUAL(cbstr_len(s), 7);
    CU_ASSERT_EQUAL(s[7], '\0');
    cbstr d = cbstr_dup(s);
    CU_ASSERT_EQUAL(cbstr_cmp(s, d), 0);
    cbstr_free(s);
    cbstr_free(d);
}

static void test_growth_across_types(void)
{
    cbstr s = cbstr_from_cstr("");
    char expect[70000];
    for (size_t i = 0; i < sizeof(expect); i++) expect[i] = (char)('a' + i % 26);
    size_t done = 0;
    size_t step = 1;
    /* Crosses the 255 and 65535 header-width boundaries. */
    while (done < sizeof(expect)) {
        size_t n = step < sizeof(expect) - done ? step : sizeof(expect) - done;
        s = cbstr_cat(s, expect + done, n);
        done += n;
        CU_ASSERT_EQUAL_FATAL(cbstr_len(s), done);
        CU_ASSERT_EQUAL_FATAL(s[done], '\0');
        step = step * 2 + 1;
    }
    CU_ASSERT(memcmp(s, expect, sizeof(expect)) == 0);
    s = cbstr_shrink(s);
    CU_ASSERT_EQUAL(cbstr_len(s), sizeof(expect));
    CU_ASSERT(memcmp(s, expect, sizeof(expect)) == 0);
    CU_ASSERT(cbstr_avail(s) < sizeof(expect) / 4); /* allocator class slack only */
    cbstr_free(s);
}

static void test_growth_policy(void)
{
    /* Below 1 MB an append doubles the needed size. */
    cbstr s = cbstr_new("x", 1);
    s = cbstr_grow_zero(s, 1 + cbstr_avail(s)); /* use up allocator slack */
    size_t full = cbstr_len(s);
    CU_ASSERT_EQUAL(cbstr_avail(s), 0);
    s = cbstr_cat(s, "0123456789", 10);
    CU_ASSERT_EQUAL(cbstr_len(s), full + 10);
    CU_ASSERT(cbstr_len(s) + cbstr_avail(s) >= 2 * (full + 10));
    /* Appending within the spare room does not move the string. */
    char *before = s;
    size_t avail = cbstr_avail(s);
    s = cbstr_cat(s, "y", 1);
    CU_ASSERT_PTR_EQUAL(s, before);
    CU_ASSERT_EQUAL(cbstr_avail(s), avail - 1);
    cbstr_free(s);

    /* Above 1 MB: grows by 1 MB beyond what is needed, not doubling. */
    s = cbstr_new(NULL, 2 * 1024 * 1024);
    size_t len = cbstr_len(s) + cbstr_avail(s); /* use up allocator slack */
    s = cbstr_grow_zero(s, len);
    s = cbstr_cat(s, "z", 1);
    CU_ASSERT(cbstr_avail(s) >= 1024 * 1024 - 1);
    CU_ASSERT(cbstr_avail(s) < 2 * 1024 * 1024);
    CU_ASSERT_EQUAL(s[len], 'z');
    cbstr_free(s);
}

static void test_reserve_setlen(void)
{
    cbstr s = cbstr_from_cstr("abc");
    s = cbstr_reserve(s, 300);
    CU_ASSERT(cbstr_avail(s) >= 300);
    CU_ASSERT_EQUAL(cbstr_len(s), 3);
    CU_ASSERT_STRING_EQUAL(s, "abc");
    memcpy(s + 3, "defgh", 5);
    cbstr_setlen(s, 8);
    CU_ASSERT_STRING_EQUAL(s, "abcdefgh");
    cbstr_clear(s);
    CU_ASSERT_EQUAL(cbstr_len(s), 0);
    CU_ASSERT_STRING_EQUAL(s, "");
    cbstr_free(s);
}

static void test_grow_zero(void)
{
    cbstr s = cbstr_from_cstr("ab");
    s = cbstr_grow_zero(s, 10);
    CU_ASSERT_EQUAL(cbstr_len(s), 10);
    CU_ASSERT(memcmp(s, "ab\0\0\0\0\0\0\0\0\0", 11) == 0);
    s = cbstr_grow_zero(s, 5); /* never shrinks */
    CU_ASSERT_EQUAL(cbstr_len(s), 10);
    /* Growing into previously used spare room still zero-fills. */
    s = cbstr_cat(s, "XXXXXXXX", 8);
    cbstr_setlen(s, 10);
    s = cbstr_grow_zero(s, 18);
    for (int i = 10; i < 18; i++) CU_ASSERT_EQUAL(s[i], 0);
    /* SETRANGE-style big jump across header widths. */
    s = cbstr_grow_zero(s, 100000);
    CU_ASSERT_EQUAL(cbstr_len(s), 100000);
    CU_ASSERT_EQUAL(s[0], 'a');
    CU_ASSERT_EQUAL(s[99999], 0);
    CU_ASSERT_EQUAL(s[100000], 0);
    cbstr_free(s);
}

static void test_range(void)
{
    cbstr s = cbstr_from_cstr("hello world");
    cbstr_range(s, 6, 5);
    CU_ASSERT_STRING_EQUAL(s, "world");
    CU_ASSERT_EQUAL(cbstr_len(s), 5);
    cbstr_range(s, 1, 100); /* clamped to the end */
    CU_ASSERT_STRING_EQUAL(s, "orld");
    cbstr_range(s, 0, 2);
    CU_ASSERT_STRING_EQUAL(s, "or");
    cbstr_range(s, 5, 1); /* past the end: empty */
    CU_ASSERT_EQUAL(cbstr_len(s), 0);
    CU_ASSERT_STRING_EQUAL(s, "");
    cbstr_free(s);
}

static void test_fmt(void)
{
    cbstr s = cbstr_from_cstr("n=");
    s = cbstr_catfmt(s, "%d,%s", 42, "x");
    CU_ASSERT_STRING_EQUAL(s, "n=42,x");
    CU_ASSERT_EQUAL(cbstr_len(s), 6);
    char big[2000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    s = cbstr_catfmt(s, "[%s]", big);
    CU_ASSERT_EQUAL(cbstr_len(s), 6 + 2 + 1999);
    CU_ASSERT_EQUAL(s[7], 'q');
    CU_ASSERT_EQUAL(s[cbstr_len(s) - 1], ']');
    CU_ASSERT_EQUAL(strlen(s), cbstr_len(s));
    cbstr_free(s);
}

static void test_cmp(void)
{
    cbstr a = cbstr_from_cstr("abc"), b = cbstr_from_cstr("abd");
    cbstr c = cbstr_from_cstr("ab"), d = cbstr_from_cstr("abc");
    cbstr e = cbstr_new("\xff", 1), f = cbstr_new("\x01", 1);
    CU_ASSERT(cbstr_cmp(a, b) < 0);
    CU_ASSERT(cbstr_cmp(b, a) > 0);
    CU_ASSERT(cbstr_cmp(c, a) < 0);
    CU_ASSERT(cbstr_cmp(a, c) > 0);
    CU_ASSERT_EQUAL(cbstr_cmp(a, d), 0);
    CU_ASSERT(cbstr_cmp(e, f) > 0); /* bytes compare unsigned */
    cbstr_free(a);
    cbstr_free(b);
    cbstr_free(c);
    cbstr_free(d);
    cbstr_free(e);
    cbstr_free(f);
}

static void test_memory_accounting(void)
{
    long long before = mem_used_thread();
    cbstr s = cbstr_new(NULL, 1000);
    CU_ASSERT_EQUAL(mem_used_thread() - before, (long long)cbstr_alloc_size(s));
    s = cbstr_cat(s, "x", 1);
    CU_ASSERT_EQUAL(mem_used_thread() - before, (long long)cbstr_alloc_size(s));
    cbstr_free(s);
    CU_ASSERT_EQUAL(mem_used_thread(), before);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite s = CU_add_suite("cbstr", NULL, NULL);
    CU_add_test(s, "new", test_new);
    CU_add_test(s, "short_header_is_small", test_short_header_is_small);
    CU_add_test(s, "one_byte_header", test_one_byte_header);
    CU_add_test(s, "binary", test_binary);
    CU_add_test(s, "growth_across_types", test_growth_across_types);
    CU_add_test(s, "growth_policy", test_growth_policy);
    CU_add_test(s, "reserve_setlen", test_reserve_setlen);
    CU_add_test(s, "grow_zero", test_grow_zero);
    CU_add_test(s, "range", test_range);
    CU_add_test(s, "fmt", test_fmt);
    CU_add_test(s, "cmp", test_cmp);
    CU_add_test(s, "memory_accounting", test_memory_accounting);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
