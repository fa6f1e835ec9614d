/* test_json.c — CUnit tests for mgmt/json.c, the control port's JSON
 * output: string escaping (quotes, control bytes, invalid UTF-8 kept
 * parseable), numbers passed through only when JSON's grammar allows them,
 * "k=v" lists, and INFO text turned into sections.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "../../mgmt/json.h"
#include "../../platform/mem.h"

static void check_str(const char *in, size_t n, const char *want)
{
    cbstr s = json_str(cbstr_with_cap(16), in, n);
    CU_ASSERT_STRING_EQUAL(s, want);
    cbstr_free(s);
}

static void test_strings(void)
{
    check_str("plain", 5, "\"plain\"");
    check_str("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    check_str("t\tn\n\x01", 5, "\"t\\u0009n\\u000a\\u0001\"");
    check_str("\0x", 2, "\"\\u0000x\"");
    check_str("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");           /* valid UTF-8 kept */
    check_str("\xff\xc3", 2, "\"\\ufffd\\ufffd\"");           /* invalid, truncated */
    check_str("\xe2\x82", 2, "\"\\ufffd\\ufffd\"");
    check_str("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
    check_str("\x7f", 1, "\"\\u007f\"");
}

static void check_scalar(const char *in, const char *want)
{
    cbstr s = json_scalar(cbstr_with_cap(16), in, strlen(in));
    CU_ASSERT_STRING_EQUAL(s, want);
    cbstr_free(s);
}

static void test_scalars(void)
{
    check_scalar("0", "0");
    check_scalar("-12", "-12");
    check_scalar("1.50", "1.50");
    check_scalar("2e10", "2e10");
    check_scalar("00000000", "\"00000000\""); /* leading zeros: a string */
    check_scalar("1.", "\"1.\"");
    check_scalar(".5", "\".5\"");
    check_scalar("12%", "\"12%\"");
    check_scalar("", "\"\"");
    check_scalar("-", "\"-\"");
    check_scalar("nan", "\"nan\"");
    check_scalar("0x10", "\"0x10\"");
}

static void test_pairs(void)
{
    const char *kv = "keys=1,expires=0,avg_ttl=12.5,odd,name=";
    cbstr s = json_pairs(cbstr_with_cap(16), kv, strlen(kv), ',');
    CU_ASSERT_STRING_EQUAL(s, "{\"keys\":1,\"expires\":0,\"avg_ttl\":12.5,\"odd\":null,\"name\":\"\"}");
    cbstr_free(s);
    s = json_pairs(cbstr_with_cap(16), "", 0, ' ');
    CU_ASSERT_STRING_EQUAL(s, "{}");
    cbstr_free(s);
}

static void test_info(void)
{
    const char *info = "# Server\r\nredis_version:7.0.15\r\nos:Linux 6.1\r\n\r\n"
                       "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n\r\n"
                       "# Commandstats\r\ncmdstat_client|list:calls=1,usec=5\r\n";
    cbstr s = json_info(cbstr_with_cap(16), info, strlen(info));
    CU_ASSERT_STRING_EQUAL(s, "{\"server\":{\"redis_version\":\"7.0.15\",\"os\":\"Linux 6.1\"},"
                              "\"keyspace\":{\"db0\":{\"keys\":2,\"expires\":1,\"avg_ttl\":0}},"
                              "\"commandstats\":{\"cmdstat_client|list\":{\"calls\":1,\"usec\":5}}}");
    cbstr_free(s);
    /* Lines before any section, without a colon, or empty sections. */
    const char *odd = "stray:1\r\n# Empty\r\n# Cpu\r\nnocolon\r\nused_cpu_sys:0.5";
    s = json_info(cbstr_with_cap(16), odd, strlen(odd));
    CU_ASSERT_STRING_EQUAL(s, "{\"empty\":{},\"cpu\":{\"used_cpu_sys\":0.5}}");
    cbstr_free(s);
    s = json_info(cbstr_with_cap(16), "", 0);
    CU_ASSERT_STRING_EQUAL(s, "{}");
    cbstr_free(s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite s = CU_add_suite("json", NULL, NULL);
    CU_add_test(s, "strings", test_strings);
    CU_add_test(s, "scalars", test_scalars);
    CU_add_test(s, "pairs", test_pairs);
    CU_add_test(s, "info", test_info);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
