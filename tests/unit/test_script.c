/* test_script.c — the scripting conversions without a socket: RESP reply
 * bytes -> Lua values (what redis.call returns) -> the reply a client gets
 * (what a script returns), in RESP2 and RESP3 on both sides, malformed
 * input, the error tables Redis builds from error texts, and shebang flags.
 */
#include <CUnit/Basic.h>
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "../../dataplane/script/script_int.h"
#include "../../dataplane/worker.h"
#include "../../platform/mem.h"

static cb_worker fake_worker;

/* Bytes a client speaking client_resp gets for `in` as redis.call saw it
 * with the script's protocol lua_resp. */
static char *roundtrip(const char *in, int client_resp, int lua_resp) {
    static char out[1024];
    lua_State *L = luaL_newstate();
    const char *end = script_resp_to_lua(L, in, in + strlen(in));
    if (!end) {
        lua_close(L);
        return NULL;
    }
    CU_ASSERT(end == in + strlen(in));
    cb_client c;
    memset(&c, 0, sizeof(c));
    c.w = &fake_worker;
    c.resp = client_resp;
    c.flags = CLIENT_PROXY;
    script_lua_to_reply(&c, L, lua_resp);
    CU_ASSERT(lua_gettop(L) == 1);
    size_t n = 0;
    while (c.out_head) {
        cb_outblock *b = c.out_head;
        c.out_head = b->next;
        memcpy(out + n, b->data, b->used);
        n += b->used;
        cb_free(b);
    }
    out[n] = '\0';
    lua_close(L);
    return out;
}

#define RT(in, cr, lr, want) CU_ASSERT_STRING_EQUAL(roundtrip(in, cr, lr), want)

static void test_resp2_values(void) {
    RT(":5\r\n", 2, 2, ":5\r\n");
    RT(":-12\r\n", 2, 2, ":-12\r\n");
    RT("$3\r\nabc\r\n", 2, 2, "$3\r\nabc\r\n");
    RT("$0\r\n\r\n", 2, 2, "$0\r\n\r\n");
    RT("$-1\r\n", 2, 2, "$-1\r\n");   /* null -> false -> null */
    RT("$-1\r\n", 3, 2, "_\r\n");
    RT("*-1\r\n", 2, 2, "$-1\r\n");
    RT("*0\r\n", 2, 2, "*0\r\n");
    RT("+OK\r\n", 2, 2, "+OK\r\n");
    RT("-ERR bad thing\r\n", 2, 2, "-ERR bad thing\r\n");
    RT("-WRONGTYPE Operation\r\n", 3, 2, "-WRONGTYPE Operation\r\n");
    RT("*3\r\n:1\r\n$1\r\nx\r\n*1\r\n+QUEUED\r\n", 2, 2, "*3\r\n:1\r\n$1\r\nx\r\n*1\r\n+QUEUED\r\n");
    /* An array stops at the first nil (false converts back to null). */
    RT("*3\r\n:1\r\n$-1\r\n:3\r\n", 2, 2, "*3\r\n:1\r\n$-1\r\n:3\r\n");
    RT("*2\r\n-ERR in array\r\n:2\r\n", 2, 2, "*2\r\n-ERR in array\r\n:2\r\n");
}

static void test_resp3_values(void) {
    RT("%1\r\n$1\r\na\r\n:1\r\n", 3, 3, "%1\r\n$1\r\na\r\n:1\r\n");
    RT("%1\r\n$1\r\na\r\n:1\r\n", 2, 3, "*2\r\n$1\r\na\r\n:1\r\n");
    RT("~1\r\n$1\r\nm\r\n", 3, 3, "~1\r\n$1\r\nm\r\n");
    RT("~1\r\n$1\r\nm\r\n", 2, 3, "*1\r\n$1\r\nm\r\n");
    RT(",3.5\r\n", 3, 3, ",3.5\r\n");
    RT(",3.5\r\n", 2, 3, "$3\r\n3.5\r\n");
    RT("_\r\n", 3, 3, "_\r\n");
    RT("_\r\n", 2, 3, "$-1\r\n");
    RT("#t\r\n", 3, 3, "#t\r\n");
    RT("#f\r\n", 3, 3, "#f\r\n");
    RT("#f\r\n", 2, 3, ":0\r\n");
    RT("#t\r\n", 3, 2, ":1\r\n");    /* a RESP2 script returns true as 1 */
    RT("#f\r\n", 3, 2, "_\r\n");     /* and false as null */
    RT("(12345678901234567890\r\n", 3, 3, "(12345678901234567890\r\n");
    RT("(12345678901234567890\r\n", 2, 3, "$20\r\n12345678901234567890\r\n");
    RT("=8\r\ntxt:abcd\r\n", 3, 3, "=8\r\ntxt:abcd\r\n");
    RT("=8\r\ntxt:abcd\r\n", 2, 3, "$4\r\nabcd\r\n");
    /* Attributes are dropped. */
    RT("|1\r\n+a\r\n:1\r\n:7\r\n", 3, 3, ":7\r\n");
}

static void test_malformed(void) {
    CU_ASSERT_PTR_NULL(roundtrip("$5\r\nab", 2, 2));
    CU_ASSERT_PTR_NULL(roundtrip("*2\r\n:1\r\n", 2, 2));
    CU_ASSERT_PTR_NULL(roundtrip(":12", 2, 2));
    CU_ASSERT_PTR_NULL(roundtrip("?x\r\n", 2, 2));
    CU_ASSERT_PTR_NULL(roundtrip("", 2, 2));
}

static const char *error_text(const char *msg) {
    static char out[256];
    lua_State *L = luaL_newstate();
    script_push_error(L, msg, strlen(msg));
    lua_getfield(L, -1, "err");
    snprintf(out, sizeof(out), "%s", lua_tostring(L, -1));
    lua_close(L);
    return out;
}

static void test_error_tables(void) {
    CU_ASSERT_STRING_EQUAL(error_text("-ERR value is bad\r\n"), "ERR value is bad");
    CU_ASSERT_STRING_EQUAL(error_text("-WRONGTYPE Operation against"), "WRONGTYPE Operation against");
    CU_ASSERT_STRING_EQUAL(error_text("-single"), "ERR single");
    CU_ASSERT_STRING_EQUAL(error_text("plain text"), "ERR plain text");
}

/* Deep nesting: the stack is checked, not overflowed. */
static void test_deep_nesting(void) {
    char in[64 * 4 + 8];
    size_t n = 0;
    for (int i = 0; i < 60; i++) n += (size_t)snprintf(in + n, sizeof(in) - n, "*1\r\n");
    snprintf(in + n, sizeof(in) - n, ":1\r\n");
    const char *out = roundtrip(in, 2, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_STRING_EQUAL(out, in);
}

static unsigned shebang(const char *body, const char *want_err) {
    unsigned flags = 0;
    char err[256] = "";
    int rc = script_parse_shebang(body, strlen(body), &flags, err, sizeof(err));
    if (want_err) {
        CU_ASSERT_EQUAL(rc, -1);
        CU_ASSERT_STRING_EQUAL(err, want_err);
    } else {
        CU_ASSERT_EQUAL(rc, 0);
    }
    return flags;
}

static void test_shebang(void) {
    CU_ASSERT_EQUAL(shebang("return 1", NULL), SCRIPT_FLAG_EVAL_COMPAT);
    CU_ASSERT_EQUAL(shebang("#!lua\nreturn 1", NULL), 0);
    CU_ASSERT_EQUAL(shebang("#!lua flags=no-writes\nreturn 1", NULL), SCRIPT_FLAG_NO_WRITES);
    CU_ASSERT_EQUAL(shebang("#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,"
                            "allow-cross-slot-keys\n", NULL),
                    SCRIPT_FLAG_NO_WRITES | SCRIPT_FLAG_ALLOW_OOM | SCRIPT_FLAG_ALLOW_STALE |
                        SCRIPT_FLAG_NO_CLUSTER | SCRIPT_FLAG_ALLOW_CROSS_SLOT);
    CU_ASSERT_EQUAL(shebang("#!lua flags=\n", NULL), 0);
    CU_ASSERT_EQUAL(shebang("#!lua   flags=allow-oom  \r\n", NULL), SCRIPT_FLAG_ALLOW_OOM);
    shebang("#!lua flags=bad\n", "Unexpected flag in script shebang: bad");
    shebang("#!lua flags=no-writes,bad\n", "Unexpected flag in script shebang: bad");
    shebang("#!python\n", "Unexpected engine in script shebang: #!python");
    shebang("#!lua x=1\n", "Unknown lua shebang option: x=1");
    shebang("#!lua flags=no-writes,\n", "Unexpected flag in script shebang: ");
    shebang("#!lua flags=a,,b\n", "Unexpected flag in script shebang: a");
    shebang("#!lua", "Invalid script shebang");
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite s = CU_add_suite("script_convert", NULL, NULL);
    CU_add_test(s, "resp2_values", test_resp2_values);
    CU_add_test(s, "resp3_values", test_resp3_values);
    CU_add_test(s, "malformed", test_malformed);
    CU_add_test(s, "error_tables", test_error_tables);
    CU_add_test(s, "deep_nesting", test_deep_nesting);
    CU_add_test(s, "shebang", test_shebang);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
