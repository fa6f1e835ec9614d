/* test_util.c — CUnit tests for platform/util.c: the number parsing and
 * formatting edge cases Redis 7.0.15 shows (values checked against the
 * oracle with SET/INCRBYFLOAT/ZADD/CONFIG SET), glob corner cases, CRC16 and
 * key slots, hashing, PRNG, sizes and clocks.
 */
#include <CUnit/Basic.h>
#include <limits.h>
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../platform/mem.h"
#include "../../platform/util.h"

#define S(lit) lit, sizeof(lit) - 1

static const char BIG_1E400_PLUS_1[] = "10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880";

static void test_str2ll(void)
{
    long long v = 99;
    CU_ASSERT(util_str2ll(S("0"), &v) && v == 0);
    CU_ASSERT(util_str2ll(S("1"), &v) && v == 1);
    CU_ASSERT(util_str2ll(S("-1"), &v) && v == -1);
    CU_ASSERT(util_str2ll(S("123456789"), &v) && v == 123456789);
    CU_ASSERT(util_str2ll(S("9223372036854775807"), &v) && v == LLONG_MAX);
    CU_ASSERT(util_str2ll(S("-9223372036854775808"), &v) && v == LLONG_MIN);
    v = 42;
    CU_ASSERT_FALSE(util_str2ll(S("9223372036854775808"), &v));
    CU_ASSERT_FALSE(util_str2ll(S("-9223372036854775809"), &v));
    CU_ASSERT_FALSE(util_str2ll(S("99999999999999999999"), &v));
    CU_ASSERT_FALSE(util_str2ll(S(""), &v));
    CU_ASSERT_FALSE(util_str2ll(S("-"), &v));
    CU_ASSERT_FALSE(util_str2ll(S("-0"), &v));
    CU_ASSERT_FALSE(util_str2ll(S("+1"), &v));
    CU_ASSERT_FALSE(util_str2ll(S(" 1"), &v));
    CU_ASSERT_FALSE(util_str2ll(S("1 "), &v));
    CU_ASSERT_FALSE(util_str2ll(S("01"), &v));
    CU_ASSERT_FALSE(util_str2ll(S("00"), &v));
    CU_ASSERT_FALSE(util_str2ll(S("-01"), &v));
    CU_ASSERT_FALSE(util_str2ll(S("1a"), &v));
    CU_ASSERT_FALSE(util_str2ll(S("1.0"), &v));
    CU_ASSERT_FALSE(util_str2ll(S("1\0"), &v));
    CU_ASSERT_FALSE(util_str2ll(S("0x10"), &v));
    CU_ASSERT_EQUAL(v, 42); /* failures leave the output alone */
    /* Only len bytes are read. */
    CU_ASSERT(util_str2ll("12345", 2, &v) && v == 12);
}

static void test_str2ull(void)
{
    unsigned long long v;
    CU_ASSERT(util_str2ull(S("0"), &v) && v == 0);
    CU_ASSERT(util_str2ull(S("18446744073709551615"), &v) && v == ULLONG_MAX);
    CU_ASSERT_FALSE(util_str2ull(S("18446744073709551616"), &v));
    CU_ASSERT_FALSE(util_str2ull(S("-1"), &v));
    CU_ASSERT_FALSE(util_str2ull(S("+1"), &v));
    CU_ASSERT_FALSE(util_str2ull(S("01"), &v));
    CU_ASSERT_FALSE(util_str2ull(S(""), &v));
}

static void test_ll2str(void)
{
    char buf[CB_LL2STR_MAX];
    CU_ASSERT_EQUAL(util_ll2str(buf, sizeof(buf), 0), 1);
    CU_ASSERT_STRING_EQUAL(buf, "0");
    CU_ASSERT_EQUAL(util_ll2str(buf, sizeof(buf), -1), 2);
    CU_ASSERT_STRING_EQUAL(buf, "-1");
    CU_ASSERT_EQUAL(util_ll2str(buf, sizeof(buf), LLONG_MIN), 20);
    CU_ASSERT_STRING_EQUAL(buf, "-9223372036854775808");
    CU_ASSERT_EQUAL(util_ll2str(buf, sizeof(buf), LLONG_MAX), 19);
    CU_ASSERT_STRING_EQUAL(buf, "9223372036854775807");
    CU_ASSERT_EQUAL(util_ull2str(buf, sizeof(buf), ULLONG_MAX), 20);
    CU_ASSERT_STRING_EQUAL(buf, "18446744073709551615");
    /* Too small a buffer: 0 and an empty string. */
    CU_ASSERT_EQUAL(util_ll2str(buf, 3, 123), 0);
    CU_ASSERT_STRING_EQUAL(buf, "");
    CU_ASSERT_EQUAL(util_ll2str(buf, 4, 123), 3);
    CU_ASSERT_EQUAL(util_ll2str(buf, 4, -123), 0);
    /* Round trip. */
    long long vals[] = {1, -7, 10, 100, 999999, -1000000, 1LL << 62};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        long long back;
        size_t n = util_ll2str(buf, sizeof(buf), vals[i]);
        CU_ASSERT(util_str2ll(buf, n, &back) && back == vals[i]);
    }
}

static void test_str2d(void)
{
    double d;
    CU_ASSERT(util_str2d(S("3.0e3"), &d) && d == 3000.0);
    CU_ASSERT(util_str2d(S("1.1"), &d) && d == 1.1);
    CU_ASSERT(util_str2d(S("-0"), &d) && d == 0.0);
    CU_ASSERT(util_str2d(S("0x10"), &d) && d == 16.0);
    CU_ASSERT(util_str2d(S("+1"), &d) && d == 1.0);
    CU_ASSERT(util_str2d(S("1."), &d) && d == 1.0);
    CU_ASSERT(util_str2d(S(".5"), &d) && d == 0.5);
    CU_ASSERT(util_str2d(S("inf"), &d) && isinf(d) && d > 0);
    CU_ASSERT(util_str2d(S("+inf"), &d) && isinf(d) && d > 0);
    CU_ASSERT(util_str2d(S("-inf"), &d) && isinf(d) && d < 0);
    CU_ASSERT(util_str2d(S("infinity"), &d) && isinf(d));
    CU_ASSERT(util_str2d(S("4.9e-324"), &d) && d > 0); /* denormal is fine */
    CU_ASSERT(util_str2d(S("5e-310"), &d) && d > 0);
    CU_ASSERT_FALSE(util_str2d(S("1e400"), &d));  /* overflow */
    CU_ASSERT_FALSE(util_str2d(S("1e-400"), &d)); /* underflow to zero */
    CU_ASSERT_FALSE(util_str2d(S("nan"), &d));
    CU_ASSERT_FALSE(util_str2d(S("-nan"), &d));
    CU_ASSERT_FALSE(util_str2d(S(""), &d));
    CU_ASSERT_FALSE(util_str2d(S("."), &d));
    CU_ASSERT_FALSE(util_str2d(S("1e"), &d));
    CU_ASSERT_FALSE(util_str2d(S(" 1"), &d));
    CU_ASSERT_FALSE(util_str2d(S("1 "), &d));
    CU_ASSERT_FALSE(util_str2d(S("1\0"), &d));
    CU_ASSERT_FALSE(util_str2d(S("abc"), &d));
    CU_ASSERT(util_str2d("2.5xyz", 3, &d) && d == 2.5);
    /* Long inputs are legal (stack and heap copy paths). */
    size_t sizes[] = {1000, CB_LD2STR_MAX - 1, CB_LD2STR_MAX, 9000};
    for (size_t k = 0; k < 4; k++) {
        size_t n = sizes[k];
        char *longnum = malloc(n);
        longnum[0] = '1';
        longnum[1] = '.';
        memset(longnum + 2, '0', n - 3);
        longnum[n - 1] = '5';
        CU_ASSERT(util_str2d(longnum, n, &d) && d == 1.0);
        longnum[n - 1] = ' ';
        CU_ASSERT_FALSE(util_str2d(longnum, n, &d));
        free(longnum);
    }
}

static void test_str2ld(void)
{
    long double v;
    CU_ASSERT(util_str2ld(S("10.5"), &v) && v == 10.5L);
    CU_ASSERT(util_str2ld(S("1e400"), &v) && v > 1e300L); /* fits a long double */
    CU_ASSERT(util_str2ld(S("1e-400"), &v) && v > 0);
    CU_ASSERT(util_str2ld(S("+1"), &v) && v == 1);
    CU_ASSERT(util_str2ld(S("0x10"), &v) && v == 16);
    CU_ASSERT(util_str2ld(S("inf"), &v) && isinf(v));
    CU_ASSERT_FALSE(util_str2ld(S("nan"), &v));
    CU_ASSERT_FALSE(util_str2ld(S(""), &v));
    CU_ASSERT_FALSE(util_str2ld(S(" 1"), &v));
    CU_ASSERT_FALSE(util_str2ld(S("1 "), &v));
    CU_ASSERT_FALSE(util_str2ld(S("1e99999"), &v));
    CU_ASSERT_FALSE(util_str2ld(S("1e-99999"), &v));
    CU_ASSERT_FALSE(util_str2ld(S("1x"), &v));
    char huge[CB_LD2STR_MAX];
    memset(huge, '1', sizeof(huge));
    CU_ASSERT_FALSE(util_str2ld(huge, sizeof(huge), &v));
}

static void test_d2str(void)
{
    char buf[CB_D2STR_MAX];
    CU_ASSERT_EQUAL(util_d2str(buf, sizeof(buf), 1.1), 18);
    CU_ASSERT_STRING_EQUAL(buf, "1.1000000000000001");
    util_d2str(buf, sizeof(buf), 3.0);
    CU_ASSERT_STRING_EQUAL(buf, "3");
    util_d2str(buf, sizeof(buf), 0.1);
    CU_ASSERT_STRING_EQUAL(buf, "0.10000000000000001");
    util_d2str(buf, sizeof(buf), 3000.0);
    CU_ASSERT_STRING_EQUAL(buf, "3000");
    util_d2str(buf, sizeof(buf), 4.9e-324);
    CU_ASSERT_STRING_EQUAL(buf, "4.9406564584124654e-324");
    util_d2str(buf, sizeof(buf), 5e-310);
    CU_ASSERT_STRING_EQUAL(buf, "4.9999999999999847e-310");
    util_d2str(buf, sizeof(buf), 1e20);
    CU_ASSERT_STRING_EQUAL(buf, "1e+20");
    CU_ASSERT_EQUAL(util_d2str(buf, sizeof(buf), INFINITY), 3);
    CU_ASSERT_STRING_EQUAL(buf, "inf");
    CU_ASSERT_EQUAL(util_d2str(buf, sizeof(buf), -INFINITY), 4);
    CU_ASSERT_STRING_EQUAL(buf, "-inf");
    CU_ASSERT_EQUAL(util_d2str(buf, 3, 1.5), 0); /* no room */
}

/* Adds b to a as INCRBYFLOAT does and formats the result. */
static const char *incrbyfloat(const char *a, const char *b, char *buf)
{
    long double x, y;
    if (!util_str2ld(a, strlen(a), &x) || !util_str2ld(b, strlen(b), &y))
        return NULL;
    if (util_ld2str_human(buf, CB_LD2STR_MAX, x + y) == 0) return NULL;
    return buf;
}

static void test_ld2str_human(void)
{
    static char buf[CB_LD2STR_MAX];
    static const struct { const char *a, *b, *want; } cases[] = {
        {"10.5", "0.1", "10.6"},     {"3.0e3", "1", "3001"},
        {"0.1", "0.2", "0.3"},       {"1", "-1", "0"},
        {"-5", "2.5", "-2.5"},       {"1.5", "-1.5", "0"},
        {"5.0e3", "2.0e2", "5200"},  {"1", "0.0000000000000000001", "1"},
        {"-0.0", "0", "0"},          {"1", "-1.0000000000000001", "-0.0000000000000001"},
        {"1.1", "1", "2.1"},         {"0x10", "1", "17"},
        {"1e-400", "1", "1"},        {"-0", "1", "1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = incrbyfloat(cases[i].a, cases[i].b, buf);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        CU_ASSERT_STRING_EQUAL(got, cases[i].want);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(incrbyfloat("1e400", "1", buf));
    CU_ASSERT_STRING_EQUAL(buf, BIG_1E400_PLUS_1);
    CU_ASSERT_EQUAL(util_ld2str_human(buf, sizeof(buf), -0.0L), 1);
    CU_ASSERT_STRING_EQUAL(buf, "0");
    CU_ASSERT_EQUAL(util_ld2str_human(buf, sizeof(buf), (long double)INFINITY), 0);
    CU_ASSERT_EQUAL(util_ld2str_human(buf, sizeof(buf), (long double)NAN), 0);
    CU_ASSERT_EQUAL(util_ld2str_human(buf, 5, 1.0L), 0); /* "1.000..." needs room */
}

#define GM(p, s) util_globmatch(S(p), S(s), 0)
#define GMI(p, s) util_globmatch(S(p), S(s), 1)

static void test_glob(void)
{
    CU_ASSERT(GM("*", ""));
    CU_ASSERT(GM("*", "anything"));
    CU_ASSERT(GM("", ""));
    CU_ASSERT_FALSE(GM("", "a"));
    CU_ASSERT_FALSE(GM("**", "")); /* Redis: only a lone * matches "" */
    CU_ASSERT_FALSE(GM("?", ""));
    CU_ASSERT(GM("h?llo", "hello"));
    CU_ASSERT(GM("h?llo", "hallo"));
    CU_ASSERT_FALSE(GM("h?llo", "hllo"));
    CU_ASSERT(GM("h*llo", "hllo"));
    CU_ASSERT(GM("h*llo", "heeeello"));
    CU_ASSERT(GM("h[ae]llo", "hello"));
    CU_ASSERT(GM("h[ae]llo", "hallo"));
    CU_ASSERT_FALSE(GM("h[ae]llo", "hillo"));
    CU_ASSERT(GM("h[^e]llo", "hallo"));
    CU_ASSERT_FALSE(GM("h[^e]llo", "hello"));
    CU_ASSERT(GM("h[a-b]llo", "hbllo"));
    CU_ASSERT_FALSE(GM("h[a-b]llo", "hcllo"));
    CU_ASSERT(GM("h[b-a]llo", "hallo")); /* reversed range */
    CU_ASSERT(GM("a*b*c", "aXXbYYc"));
    CU_ASSERT_FALSE(GM("a*b*c", "aXXbYY"));
    CU_ASSERT(GM("*a", "aaaa"));
    CU_ASSERT(GM("a*", "a"));
    CU_ASSERT(GM("a**", "a"));
    CU_ASSERT(GM("*.txt", "file.txt"));
    CU_ASSERT_FALSE(GM("*.txt", "file.txtx"));
    CU_ASSERT(GM("user:*:name", "user:1000:name"));
    /* Escapes. */
    CU_ASSERT(GM("a\\*b", "a*b"));
    CU_ASSERT_FALSE(GM("a\\*b", "axb"));
    CU_ASSERT(GM("\\?", "?"));
    CU_ASSERT_FALSE(GM("\\?", "x"));
    CU_ASSERT(GM("a\\", "a\\"));  /* trailing backslash is literal */
    CU_ASSERT(GM("[\\]]", "]"));
    CU_ASSERT(GM("[\\-]", "-"));
    CU_ASSERT(GM("[a\\-z]", "-"));
    CU_ASSERT_FALSE(GM("[a\\-z]", "m"));
    /* Odd classes, as Redis reads them. */
    CU_ASSERT_FALSE(GM("[", "["));
    CU_ASSERT_FALSE(GM("[]", "a"));
    CU_ASSERT(GM("[^", "x"));     /* unterminated negated: anything */
    CU_ASSERT(GM("[abc", "b"));   /* unterminated: class runs to the end */
    CU_ASSERT_FALSE(GM("[abc", "bc"));
    CU_ASSERT(GM("[^]", "a"));
    CU_ASSERT(GM("[a-]", "]"));   /* range a..']' reversed */
    CU_ASSERT(GM("[]]", "]") == 0);
    /* Case folding. */
    CU_ASSERT_FALSE(GM("HELLO", "hello"));
    CU_ASSERT(GMI("HELLO", "hello"));
    CU_ASSERT(GMI("h[A-C]llo", "hbllo"));
    CU_ASSERT(GMI("h[a-c]llo", "hBllo"));
    CU_ASSERT(GMI("h[E]llo", "hello"));
    CU_ASSERT(GMI("\\E", "e"));
    CU_ASSERT_FALSE(GMI("[\\E]", "e")); /* escaped inside a class: exact */
    /* Binary-safe, length-bounded. */
    CU_ASSERT(util_globmatch("a?c", 3, "a\0c", 3, 0));
    CU_ASSERT(util_globmatch("ab*", 2, "abc", 2, 0));
    /* Nesting cut-off at 1000 stars, as Redis. */
    char pat[2 * 1002 + 2], str[1200];
    memset(str, 'a', sizeof(str));
    for (int n = 999; n <= 1001; n++) {
        size_t pl = 0;
        for (int i = 0; i < n; i++) {
            pat[pl++] = 'a';
            pat[pl++] = '*';
        }
        pat[pl++] = 'a';
        CU_ASSERT_EQUAL(util_globmatch(pat, pl, str, sizeof(str), 0), n <= 1000);
    }
    /* Pathological backtracking stays fast. */
    char bt[64];
    memset(bt, 'a', sizeof(bt));
    CU_ASSERT_FALSE(util_globmatch(S("*a*a*a*a*a*a*a*a*a*a*b"), bt, sizeof(bt), 0));
}

static void test_crc16_slot(void)
{
    CU_ASSERT_EQUAL(util_crc16(S("123456789")), 0x31C3);
    CU_ASSERT_EQUAL(util_crc16("", 0), 0);
    CU_ASSERT_EQUAL(util_key_slot(S("{user1000}.following")),
                    util_key_slot(S("user1000")));
    CU_ASSERT_EQUAL(util_key_slot(S("{user1000}.followers")),
                    util_key_slot(S("user1000")));
    CU_ASSERT_EQUAL(util_key_slot(S("foo{}{bar}")), util_crc16(S("foo{}{bar}")) & 16383);
    CU_ASSERT_EQUAL(util_key_slot(S("foo{{bar}}zap")), util_key_slot(S("{bar")));
    CU_ASSERT_EQUAL(util_key_slot(S("foo{bar}{zap}")), util_key_slot(S("bar")));
    CU_ASSERT_EQUAL(util_key_slot(S("foo{bar")), util_crc16(S("foo{bar")) & 16383);
    /* Known CLUSTER KEYSLOT answers. */
    CU_ASSERT_EQUAL(util_key_slot(S("foo")), 12182);
    CU_ASSERT_EQUAL(util_key_slot(S("bar")), 5061);
    CU_ASSERT_EQUAL(util_key_slot(S("hello")), 866);
    CU_ASSERT(util_key_slot(S("")) < 16384);
}

static void test_hash(void)
{
    uint8_t k1[16], k2[16];
    for (int i = 0; i < 16; i++) {
        k1[i] = (uint8_t)i;
        k2[i] = (uint8_t)(i * 7 + 1);
    }
    uint64_t a = util_hash(S("hello"), k1);
    CU_ASSERT_EQUAL(a, util_hash(S("hello"), k1));
    CU_ASSERT_NOT_EQUAL(a, util_hash(S("hello"), k2));
    CU_ASSERT_NOT_EQUAL(a, util_hash(S("hellp"), k1));
    CU_ASSERT_NOT_EQUAL(a, util_hash(S("HELLO"), k1));
    CU_ASSERT_EQUAL(util_hash_nocase(S("HeLLo"), k1), util_hash_nocase(S("hello"), k1));
    CU_ASSERT_EQUAL(util_hash_nocase(S("hello"), k1), a);
    CU_ASSERT_EQUAL(util_hash_nocase(S("CLIENT-KILL-LONGER-THAN-8"), k1),
                    util_hash(S("client-kill-longer-than-8"), k1));
    /* Length matters even for zero bytes. */
    CU_ASSERT_NOT_EQUAL(util_hash("\0\0", 1, k1), util_hash("\0\0", 2, k1));
    CU_ASSERT_NOT_EQUAL(util_hash("", 0, k1), util_hash("\0", 1, k1));
    /* Low bits spread: 4096 keys into 64 buckets, none empty. */
    int hits[64] = {0};
    for (int i = 0; i < 4096; i++) {
        char key[16];
        size_t n = util_ll2str(key, sizeof(key), i);
        hits[util_hash(key, n, k1) & 63]++;
    }
    for (int i = 0; i < 64; i++) CU_ASSERT(hits[i] > 20 && hits[i] < 120);
}

static void test_random(void)
{
    uint64_t st = 0;
    uint64_t a = util_rand64(&st);
    CU_ASSERT_NOT_EQUAL(st, 0);
    CU_ASSERT_NOT_EQUAL(a, util_rand64(&st));
    int bits[64] = {0};
    for (int i = 0; i < 10000; i++) {
        uint64_t r = util_rand64(&st);
        for (int b = 0; b < 64; b++) bits[b] += (int)((r >> b) & 1);
    }
    for (int b = 0; b < 64; b++) CU_ASSERT(bits[b] > 4500 && bits[b] < 5500);

    uint8_t x[32] = {0}, y[32] = {0};
    util_random_bytes(x, sizeof(x));
    util_random_bytes(y, sizeof(y));
    CU_ASSERT(memcmp(x, y, sizeof(x)) != 0);

    char hex[41];
    memset(hex, 'X', sizeof(hex));
    util_random_hex(hex, 40);
    CU_ASSERT_EQUAL(strlen(hex), 40);
    CU_ASSERT_EQUAL(strspn(hex, "0123456789abcdef"), 40);
    char odd[8];
    util_random_hex(odd, 7);
    CU_ASSERT_EQUAL(strlen(odd), 7);
}

static void test_bytes_human(void)
{
    char buf[64];
    struct { unsigned long long n; const char *want; } cases[] = {
        {0, "0B"},
        {1023, "1023B"},
        {1024, "1.00K"},
        {1536, "1.50K"},
        {1048575, "1024.00K"},
        {1048576, "1.00M"},
        {868064ULL, "847.72K"},
        {3ULL << 30, "3.00G"},
        {1ULL << 40, "1.00T"},
        {1ULL << 50, "1.00P"},
        {1ULL << 60, "1152921504606846976B"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = util_bytes_human(buf, sizeof(buf), cases[i].n);
        CU_ASSERT_STRING_EQUAL(buf, cases[i].want);
        CU_ASSERT_EQUAL(n, strlen(cases[i].want));
    }
}

static void test_memtoull(void)
{
    unsigned long long v;
    CU_ASSERT(util_memtoull(S("100"), &v) && v == 100);
    CU_ASSERT(util_memtoull(S("1k"), &v) && v == 1000);
    CU_ASSERT(util_memtoull(S("1KB"), &v) && v == 1024);
    CU_ASSERT(util_memtoull(S("1Kb"), &v) && v == 1024);
    CU_ASSERT(util_memtoull(S("2m"), &v) && v == 2000000);
    CU_ASSERT(util_memtoull(S("2mb"), &v) && v == 2ULL * 1024 * 1024);
    CU_ASSERT(util_memtoull(S("3G"), &v) && v == 3000000000ULL);
    CU_ASSERT(util_memtoull(S("3gb"), &v) && v == 3ULL << 30);
    CU_ASSERT(util_memtoull(S("1b"), &v) && v == 1);
    CU_ASSERT(util_memtoull(S("0100"), &v) && v == 100);
    /* Redis quirks, as CONFIG SET maxmemory shows them. */
    CU_ASSERT(util_memtoull(S(""), &v) && v == 0);
    CU_ASSERT(util_memtoull(S("k"), &v) && v == 0);
    CU_ASSERT(util_memtoull(S("99999999999999999999"), &v) && v == ULLONG_MAX);
    CU_ASSERT(util_memtoull(S("20000000000gb"), &v) && v == 3028092406290448384ULL);
    CU_ASSERT_FALSE(util_memtoull(S("-1"), &v));
    CU_ASSERT_FALSE(util_memtoull(S("+5"), &v));
    CU_ASSERT_FALSE(util_memtoull(S(" 5"), &v));
    CU_ASSERT_FALSE(util_memtoull(S("1 k"), &v));
    CU_ASSERT_FALSE(util_memtoull(S("1t"), &v));
    CU_ASSERT_FALSE(util_memtoull(S("1kbb"), &v));
}

static void test_eq_nocase(void)
{
    CU_ASSERT(util_eq_nocase(S("GET"), "get"));
    CU_ASSERT(util_eq_nocase(S("gEt"), "GeT"));
    CU_ASSERT_FALSE(util_eq_nocase(S("GE"), "get"));
    CU_ASSERT_FALSE(util_eq_nocase(S("GETX"), "get"));
    CU_ASSERT(util_eq_nocase("", 0, ""));
    CU_ASSERT_FALSE(util_eq_nocase("g\0t", 3, "g"));
}

static void test_clocks(void)
{
    long long us = util_ustime(), ms = util_mstime();
    CU_ASSERT(us > 1600000000000000LL);
    CU_ASSERT(ms - us / 1000 >= 0 && ms - us / 1000 < 1000);
    uint64_t a = util_monotonic_us(), b = util_monotonic_us();
    CU_ASSERT(b >= a);
}


/* ------------------------------------------------------------------------
 * mem.c
 * ---------------------------------------------------------------------- */

static void test_mem_basic(void)
{
    long long t0 = mem_used_thread();
    size_t g0 = mem_used_total();
    char *p = cb_malloc(100);
    CU_ASSERT(cb_usable(p) >= 100);
    CU_ASSERT_EQUAL(mem_used_thread() - t0, (long long)cb_usable(p));
    CU_ASSERT_EQUAL(mem_used_total() - g0, cb_usable(p));
    p = cb_realloc(p, 5000);
    CU_ASSERT_EQUAL(mem_used_thread() - t0, (long long)cb_usable(p));
    cb_free(p);
    CU_ASSERT_EQUAL(mem_used_thread(), t0);

    char *z = cb_calloc(64);
    for (int i = 0; i < 64; i++) CU_ASSERT_EQUAL(z[i], 0);
    cb_free(z);
    char *d = cb_memdup("a\0b", 3);
    CU_ASSERT(memcmp(d, "a\0b\0", 4) == 0);
    cb_free(d);
    d = cb_strdup("hello");
    CU_ASSERT_STRING_EQUAL(d, "hello");
    cb_free(d);
    CU_ASSERT_PTR_NULL(cb_realloc(cb_malloc(8), 0)); /* frees */
    cb_free(NULL);
    CU_ASSERT_EQUAL(cb_usable(NULL), 0);
    CU_ASSERT_EQUAL(mem_used_thread(), t0);
    CU_ASSERT(strcmp(mem_allocator_name(), "libc") == 0 ||
              strcmp(mem_allocator_name(), "jemalloc-5.3.0") == 0);
}

static void test_mem_fail_after(void)
{
    mem_fail_after(2);
    void *a = cb_try_malloc(10);
    void *b = cb_malloc(10); /* counts towards the budget too */
    void *c = cb_try_malloc(10);
    void *r = cb_try_realloc(a, 100);
    CU_ASSERT_PTR_NOT_NULL(a);
    CU_ASSERT_PTR_NOT_NULL(b);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_PTR_NULL(r); /* a stays valid */
    void *n = cb_malloc(10); /* non-try variants never fail on purpose */
    CU_ASSERT_PTR_NOT_NULL(n);
    mem_fail_after(-1);
    c = cb_try_malloc(10);
    CU_ASSERT_PTR_NOT_NULL(c);
    r = cb_try_realloc(a, 100);
    CU_ASSERT_PTR_NOT_NULL(r);
    cb_free(r);
    cb_free(b);
    cb_free(c);
    cb_free(n);
}

#define MEM_THREADS 8
static void *mem_worker(void *arg)
{
    void **keep = arg;
    for (int i = 0; i < 1000; i++) cb_free(cb_malloc(64));
    *keep = cb_malloc(4096); /* freed later by the main thread */
    return (void *)(intptr_t)mem_used_thread();
}

static void test_mem_threads(void)
{
    size_t g0 = mem_used_total();
    long long t0 = mem_used_thread();
    pthread_t th[MEM_THREADS];
    void *kept[MEM_THREADS];
    for (int i = 0; i < MEM_THREADS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, mem_worker, &kept[i]), 0);
    size_t expect = 0;
    for (int i = 0; i < MEM_THREADS; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        CU_ASSERT_EQUAL((long long)(intptr_t)ret, (long long)cb_usable(kept[i]));
        expect += cb_usable(kept[i]);
    }
    CU_ASSERT_EQUAL(mem_used_total(), g0 + expect);
    /* Freed by another thread: this thread goes negative, the sum is right. */
    for (int i = 0; i < MEM_THREADS; i++) cb_free(kept[i]);
    CU_ASSERT_EQUAL(mem_used_thread(), t0 - (long long)expect);
    CU_ASSERT_EQUAL(mem_used_total(), g0);
}

/* Joins split words as "w1|w2|" so one string comparison checks a split. */
static void join_word(void *priv, const char *w, size_t n)
{
    char *out = priv;
    size_t l = strlen(out);
    memcpy(out + l, w, n);
    out[l + n] = '|';
    out[l + n + 1] = '\0';
}

static int split(const char *in, char *out)
{
    char scratch[256];
    out[0] = '\0';
    return util_splitargs(in, strlen(in), scratch, join_word, out);
}

static void test_splitargs(void)
{
    char out[512];
    CU_ASSERT_EQUAL(split("  set  k   v ", out), 0);
    CU_ASSERT_STRING_EQUAL(out, "set|k|v|");
    CU_ASSERT_EQUAL(split("a \"b c\\n\\x41\\\"\" 'it\\'s' \"\"", out), 0);
    CU_ASSERT_STRING_EQUAL(out, "a|b c\nA\"|it's||");
    CU_ASSERT_EQUAL(split("\"unclosed", out), -1);
    CU_ASSERT_EQUAL(split("'unclosed", out), -1);
    CU_ASSERT_EQUAL(split("\"a\"b", out), -1); /* closing quote must end the word */
    CU_ASSERT_EQUAL(split("'a'b", out), -1);
    CU_ASSERT_EQUAL(split("", out), 0);
    CU_ASSERT_STRING_EQUAL(out, "");
    char withnul[] = "a b\0c d";
    char scratch[16];
    out[0] = '\0';
    CU_ASSERT_EQUAL(util_splitargs(withnul, sizeof(withnul) - 1, scratch, join_word, out), 0);
    CU_ASSERT_STRING_EQUAL(out, "a|b|"); /* a NUL ends the line */
    CU_ASSERT_EQUAL(split("x\"y\"", out), 0); /* a quote inside a bare word opens quoting */
    CU_ASSERT_STRING_EQUAL(out, "xy|");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite s = CU_add_suite("util", NULL, NULL);
    CU_add_test(s, "str2ll", test_str2ll);
    CU_add_test(s, "str2ull", test_str2ull);
    CU_add_test(s, "ll2str", test_ll2str);
    CU_add_test(s, "str2d", test_str2d);
    CU_add_test(s, "str2ld", test_str2ld);
    CU_add_test(s, "d2str", test_d2str);
    CU_add_test(s, "ld2str_human", test_ld2str_human);
    CU_add_test(s, "glob", test_glob);
    CU_add_test(s, "crc16_slot", test_crc16_slot);
    CU_add_test(s, "hash", test_hash);
    CU_add_test(s, "random", test_random);
    CU_add_test(s, "bytes_human", test_bytes_human);
    CU_add_test(s, "memtoull", test_memtoull);
    CU_add_test(s, "eq_nocase", test_eq_nocase);
    CU_add_test(s, "clocks", test_clocks);
    CU_add_test(s, "splitargs", test_splitargs);
    CU_pSuite m = CU_add_suite("mem", NULL, NULL);
    CU_add_test(m, "basic", test_mem_basic);
    CU_add_test(m, "fail_after", test_mem_fail_after);
    CU_add_test(m, "threads", test_mem_threads);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
