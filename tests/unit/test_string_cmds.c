/* test_string_cmds.c — CUnit tests for the string command handlers
 * (store/t_string.c) run in-process: a shard from db.c, a client with a bare
 * worker, handlers called directly, and the exact RESP bytes they queue
 * compared with what redis-server 7.0 answers. The wider byte-for-byte
 * corpus against the oracle is tests/diff/strings.cmds.
 */
#include <CUnit/Basic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../../dataplane/client.h"
#include "../../dataplane/cmd/command.h"
#include "../../dataplane/worker.h"
#include "../../dataplane/resp/reply.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"
#include "../../store/db.h"
#include "../../store/object.h"

cb_cmd_proc cmd_set, cmd_get, cmd_getex, cmd_getdel, cmd_getset, cmd_mset,
    cmd_msetnx, cmd_mget, cmd_setnx, cmd_setex, cmd_psetex, cmd_append,
    cmd_strlen, cmd_incr, cmd_decr, cmd_incrby, cmd_decrby, cmd_incrbyfloat,
    cmd_getrange, cmd_substr, cmd_setrange, cmd_lcs;

typedef struct fixture {
    cb_store_settings set;
    cb_shard *shard;
    cb_worker *w;
    cb_client c;
    char out[8192];
} fixture;

static fixture F;

static int suite_init(void)
{
    memset(&F, 0, sizeof F);
    F.set.hz = 10;
    F.set.active_expire_effort = 1;
    F.set.lfu_log_factor = 10;
    F.set.lfu_decay_time = 1;
    F.set.proto_max_bulk_len = 512LL * 1024 * 1024;
    uint8_t seed[16] = {1, 2, 3};
    F.shard = shard_create(0, 16, &F.set, seed);
    F.w = cb_calloc(sizeof *F.w);
    F.c.w = F.w;
    F.c.fd = -1;
    F.c.shard = F.shard;
    F.c.db = &F.shard->dbs[0];
    F.c.resp = 2;
    return F.shard ? 0 : -1;
}

static int suite_clean(void)
{
    shard_destroy(F.shard);
    cb_free(F.w);
    return 0;
}

/* Runs one command given as space-separated words (no spaces inside an
 * argument; use run_argv for those) and returns the queued reply bytes. */
static const char *run_argv(cb_cmd_proc *proc, int argc, const char **argv)
{
    size_t lens[32];
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    cb_client *c = &F.c;
    c->argc = argc;
    c->argv = argv;
    c->argv_len = lens;
    shard_set_time(F.shard, util_mstime());
    proc(c);
    size_t n = 0;
    for (cb_outblock *b = c->out_head, *next; b; b = next) {
        next = b->next;
        if (n + b->used < sizeof F.out) {
            memcpy(F.out + n, b->data, b->used);
            n += b->used;
        }
        cb_free(b);
    }
    F.out[n] = '\0';
    c->out_head = c->out_tail = NULL;
    c->out_bytes = 0;
    c->flags &= ~CLIENT_PENDING_WRITE;
    F.w->pending_write = NULL;
    return F.out;
}

static const char *run(cb_cmd_proc *proc, const char *line)
{
    static char buf[1024];
    const char *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *p = strtok(buf, " "); p && argc < 32; p = strtok(NULL, " "))
        argv[argc++] = p;
    return run_argv(proc, argc, argv);
}

#define EXPECT(proc, line, want) CU_ASSERT_STRING_EQUAL(run(proc, line), want)

static cb_obj *val(const char *key)
{
    return db_lookup_read(F.shard, F.c.db, key, strlen(key), DB_LOOKUP_NOTOUCH);
}

static const char *enc(const char *key)
{
    cb_obj *o = val(key);
    return o ? obj_encoding_name(o->encoding) : "none";
}

/* A non-string value for the WRONGTYPE paths. The shared refcount keeps
 * obj_decr_ref from ever freeing it, so no list implementation is needed. */
static cb_obj fake_list = {.type = OBJ_LIST, .encoding = OBJ_ENC_QUICKLIST,
                           .refcount = OBJ_SHARED_REFCOUNT};

static void make_list(const char *key)
{
    db_set(F.shard, F.c.db, key, strlen(key), &fake_list, 0);
}

static void reset(void) { shard_empty(F.shard); }

/* ---------------------------------------------------------------------- */

static void test_set_get_encodings(void)
{
    reset();
    EXPECT(cmd_set, "SET k v", "+OK\r\n");
    EXPECT(cmd_get, "GET k", "$1\r\nv\r\n");
    CU_ASSERT_STRING_EQUAL(enc("k"), "embstr");
    EXPECT(cmd_set, "SET k 123", "+OK\r\n");
    CU_ASSERT_STRING_EQUAL(enc("k"), "int");
    EXPECT(cmd_get, "GET k", "$3\r\n123\r\n");
    EXPECT(cmd_set, "SET k 0123", "+OK\r\n");
    CU_ASSERT_STRING_EQUAL(enc("k"), "embstr");
    EXPECT(cmd_set, "SET k 12345678901234567890", "+OK\r\n");
    CU_ASSERT_STRING_EQUAL(enc("k"), "embstr");
    EXPECT(cmd_set, "SET k 123456789012345678901234567890123456789012345", "+OK\r\n");
    CU_ASSERT_STRING_EQUAL(enc("k"), "raw");
    EXPECT(cmd_get, "GET nokey", "$-1\r\n");
    F.c.resp = 3;
    EXPECT(cmd_get, "GET nokey", "_\r\n");
    F.c.resp = 2;
    uint64_t d = F.shard->dirty;
    EXPECT(cmd_set, "SET k v", "+OK\r\n");
    CU_ASSERT_EQUAL(F.shard->dirty, d + 1);
}

static void test_set_options(void)
{
    reset();
    EXPECT(cmd_set, "SET k v nx xx", "-ERR syntax error\r\n");
    EXPECT(cmd_set, "SET k v EX 10 PX 10", "-ERR syntax error\r\n");
    EXPECT(cmd_set, "SET k v EX 10 KEEPTTL", "-ERR syntax error\r\n");
    EXPECT(cmd_set, "SET k v PERSIST", "-ERR syntax error\r\n");
    EXPECT(cmd_set, "SET k v EX", "-ERR syntax error\r\n");
    EXPECT(cmd_set, "SET k v EX abc foo", "-ERR syntax error\r\n");
    EXPECT(cmd_set, "SET k v EX abc",
           "-ERR value is not an integer or out of range\r\n");
    const char *inval = "-ERR invalid expire time in 'set' command\r\n";
    EXPECT(cmd_set, "SET k v EX 0", inval);
    EXPECT(cmd_set, "SET k v PX -1", inval);
    EXPECT(cmd_set, "SET k v EX 9223372036854775807", inval);
    EXPECT(cmd_set, "SET k v EX 9223372036854774", inval);
    EXPECT(cmd_set, "SET k v PX 9223372036854775000", inval);
    CU_ASSERT_PTR_NULL(val("k"));
    EXPECT(cmd_set, "SET k v EXAT 9223372036854775", "+OK\r\n");
    CU_ASSERT_EQUAL(db_get_expire(F.c.db, "k", 1), 9223372036854775000LL);
    EXPECT(cmd_set, "SET k v EX 10 EX 20", "+OK\r\n");
    EXPECT(cmd_set, "SET k v EXAT 4102444800", "+OK\r\n");
    EXPECT(cmd_set, "SET k w KEEPTTL", "+OK\r\n");
    CU_ASSERT_EQUAL(db_get_expire(F.c.db, "k", 1), 4102444800000LL);
    EXPECT(cmd_set, "SET k w", "+OK\r\n");
    CU_ASSERT_EQUAL(db_get_expire(F.c.db, "k", 1), -1);
    EXPECT(cmd_set, "SET k x NX", "$-1\r\n");
    EXPECT(cmd_set, "SET n x XX", "$-1\r\n");
    CU_ASSERT_PTR_NULL(val("n"));
    EXPECT(cmd_set, "SET k x XX GET", "$1\r\nw\r\n");
    EXPECT(cmd_set, "SET k y NX GET", "$1\r\nx\r\n");
    EXPECT(cmd_get, "GET k", "$1\r\nx\r\n");
    EXPECT(cmd_set, "SET n y GET", "$-1\r\n");
    EXPECT(cmd_set, "SET k v EXAT 1", "+OK\r\n");
    CU_ASSERT_PTR_NULL(val("k"));

    make_list("l");
    const char *wt =
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    EXPECT(cmd_set, "SET l v GET", wt);
    CU_ASSERT_EQUAL(val("l")->type, OBJ_LIST);
    EXPECT(cmd_set, "SET l v", "+OK\r\n");
    CU_ASSERT_EQUAL(val("l")->type, OBJ_STRING);
}

static void test_setnx_setex_mset(void)
{
    reset();
    EXPECT(cmd_setnx, "SETNX k v", ":1\r\n");
    EXPECT(cmd_setnx, "SETNX k w", ":0\r\n");
    EXPECT(cmd_setex, "SETEX k 0 v",
           "-ERR invalid expire time in 'setex' command\r\n");
    EXPECT(cmd_psetex, "PSETEX k -1 v",
           "-ERR invalid expire time in 'psetex' command\r\n");
    EXPECT(cmd_setex, "SETEX k abc v",
           "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_setex, "SETEX k 100 v", "+OK\r\n");
    CU_ASSERT(db_get_expire(F.c.db, "k", 1) > 0);

    EXPECT(cmd_mset, "MSET a 1 b",
           "-ERR wrong number of arguments for 'mset' command\r\n");
    EXPECT(cmd_msetnx, "MSETNX a 1 b",
           "-ERR wrong number of arguments for 'msetnx' command\r\n");
    uint64_t d = F.shard->dirty;
    EXPECT(cmd_mset, "MSET a 1 b 2", "+OK\r\n");
    CU_ASSERT_EQUAL(F.shard->dirty, d + 2);
    EXPECT(cmd_msetnx, "MSETNX a 1 c 3", ":0\r\n");
    CU_ASSERT_PTR_NULL(val("c"));
    EXPECT(cmd_msetnx, "MSETNX c 3 d 4", ":1\r\n");
    make_list("l");
    EXPECT(cmd_mget, "MGET a l nokey c", "*4\r\n$1\r\n1\r\n$-1\r\n$-1\r\n$1\r\n3\r\n");
}

static void test_get_family(void)
{
    reset();
    make_list("l");
    const char *wt =
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    EXPECT(cmd_getdel, "GETDEL l", wt);
    EXPECT(cmd_getset, "GETSET l v", wt);
    EXPECT(cmd_getex, "GETEX l EX abc", wt);
    EXPECT(cmd_getex, "GETEX nokey EX 0", "$-1\r\n");
    EXPECT(cmd_getex, "GETEX nokey foo", "-ERR syntax error\r\n");
    EXPECT(cmd_set, "SET k v", "+OK\r\n");
    EXPECT(cmd_getex, "GETEX k KEEPTTL", "-ERR syntax error\r\n");
    EXPECT(cmd_getex, "GETEX k PERSIST EX 10", "-ERR syntax error\r\n");
    EXPECT(cmd_getex, "GETEX k EX 0",
           "-ERR invalid expire time in 'getex' command\r\n");
    EXPECT(cmd_getex, "GETEX k EXAT 4102444800", "$1\r\nv\r\n");
    CU_ASSERT_EQUAL(db_get_expire(F.c.db, "k", 1), 4102444800000LL);
    EXPECT(cmd_getex, "GETEX k PERSIST", "$1\r\nv\r\n");
    CU_ASSERT_EQUAL(db_get_expire(F.c.db, "k", 1), -1);
    uint64_t d = F.shard->dirty;
    EXPECT(cmd_getex, "GETEX k PERSIST", "$1\r\nv\r\n");
    CU_ASSERT_EQUAL(F.shard->dirty, d);
    EXPECT(cmd_getex, "GETEX k PXAT 1", "$1\r\nv\r\n");
    CU_ASSERT_PTR_NULL(val("k"));
    EXPECT(cmd_set, "SET k 5", "+OK\r\n");
    EXPECT(cmd_getdel, "GETDEL k", "$1\r\n5\r\n");
    CU_ASSERT_PTR_NULL(val("k"));
    EXPECT(cmd_getdel, "GETDEL k", "$-1\r\n");
    EXPECT(cmd_set, "SET k v EXAT 4102444800", "+OK\r\n");
    EXPECT(cmd_getset, "GETSET k 77", "$1\r\nv\r\n");
    CU_ASSERT_EQUAL(db_get_expire(F.c.db, "k", 1), -1);
    CU_ASSERT_STRING_EQUAL(enc("k"), "int");
}

static void test_append_strlen(void)
{
    reset();
    EXPECT(cmd_append, "APPEND k 123", ":3\r\n");
    CU_ASSERT_STRING_EQUAL(enc("k"), "int");
    EXPECT(cmd_append, "APPEND k 4", ":4\r\n");
    CU_ASSERT_STRING_EQUAL(enc("k"), "raw");
    EXPECT(cmd_get, "GET k", "$4\r\n1234\r\n");
    EXPECT(cmd_strlen, "STRLEN k", ":4\r\n");
    EXPECT(cmd_strlen, "STRLEN nokey", ":0\r\n");
    EXPECT(cmd_set, "SET s v EXAT 4102444800", "+OK\r\n");
    EXPECT(cmd_append, "APPEND s xyz", ":4\r\n");
    CU_ASSERT_EQUAL(db_get_expire(F.c.db, "s", 1), 4102444800000LL);
    make_list("l");
    EXPECT(cmd_append, "APPEND l x",
           "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    F.set.proto_max_bulk_len = 5;
    EXPECT(cmd_append, "APPEND k xx",
           "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    F.set.proto_max_bulk_len = 512LL * 1024 * 1024;
}

static void test_counters(void)
{
    reset();
    EXPECT(cmd_incr, "INCR n", ":1\r\n");
    CU_ASSERT_STRING_EQUAL(enc("n"), "int");
    EXPECT(cmd_incrby, "INCRBY n 20000", ":20001\r\n");
    EXPECT(cmd_decrby, "DECRBY n 1", ":20000\r\n");
    EXPECT(cmd_decr, "DECR n", ":19999\r\n");
    EXPECT(cmd_incrby, "INCRBY n abc", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_set, "SET n 9223372036854775807", "+OK\r\n");
    EXPECT(cmd_incr, "INCR n", "-ERR increment or decrement would overflow\r\n");
    EXPECT(cmd_set, "SET n -9223372036854775808", "+OK\r\n");
    EXPECT(cmd_decr, "DECR n", "-ERR increment or decrement would overflow\r\n");
    EXPECT(cmd_decrby, "DECRBY n -9223372036854775808", "-ERR decrement would overflow\r\n");
    EXPECT(cmd_set, "SET n 01", "+OK\r\n");
    EXPECT(cmd_incr, "INCR n", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_set, "SET n 10 EXAT 4102444800", "+OK\r\n");
    EXPECT(cmd_incr, "INCR n", ":11\r\n");
    CU_ASSERT_EQUAL(db_get_expire(F.c.db, "n", 1), 4102444800000LL);

    EXPECT(cmd_incrbyfloat, "INCRBYFLOAT f 1", "$1\r\n1\r\n");
    CU_ASSERT_STRING_EQUAL(enc("f"), "embstr");
    EXPECT(cmd_incrbyfloat, "INCRBYFLOAT f 1.5", "$3\r\n2.5\r\n");
    EXPECT(cmd_incrbyfloat, "INCRBYFLOAT f 5.0e3", "$6\r\n5002.5\r\n");
    EXPECT(cmd_incrbyfloat, "INCRBYFLOAT f abc", "-ERR value is not a valid float\r\n");
    EXPECT(cmd_incrbyfloat, "INCRBYFLOAT f inf",
           "-ERR increment would produce NaN or Infinity\r\n");
    EXPECT(cmd_incrbyfloat, "INCRBYFLOAT g 1.1e-17", "$19\r\n0.00000000000000001\r\n");
    EXPECT(cmd_incrbyfloat, "INCRBYFLOAT n 1", "$2\r\n12\r\n");
    CU_ASSERT_EQUAL(db_get_expire(F.c.db, "n", 1), 4102444800000LL);
    CU_ASSERT_STRING_EQUAL(enc("n"), "embstr");
    make_list("l");
    const char *wt =
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    EXPECT(cmd_incr, "INCR l", wt);
    EXPECT(cmd_incrbyfloat, "INCRBYFLOAT l abc", wt);
}

static void test_ranges(void)
{
    reset();
    EXPECT(cmd_set, "SET s Hello", "+OK\r\n");
    EXPECT(cmd_getrange, "GETRANGE s 0 -1", "$5\r\nHello\r\n");
    EXPECT(cmd_getrange, "GETRANGE s -3 -1", "$3\r\nllo\r\n");
    EXPECT(cmd_getrange, "GETRANGE s -1 -3", "$0\r\n\r\n");
    EXPECT(cmd_getrange, "GETRANGE s 10 20", "$0\r\n\r\n");
    EXPECT(cmd_getrange, "GETRANGE s -9223372036854775808 9223372036854775807",
           "$5\r\nHello\r\n");
    EXPECT(cmd_substr, "SUBSTR s 1 3", "$3\r\nell\r\n");
    EXPECT(cmd_getrange, "GETRANGE nokey 0 -1", "$0\r\n\r\n");
    EXPECT(cmd_getrange, "GETRANGE s a 1", "-ERR value is not an integer or out of range\r\n");

    EXPECT(cmd_setrange, "SETRANGE s -1 x", "-ERR offset is out of range\r\n");
    EXPECT(cmd_setrange, "SETRANGE s 7 W", ":8\r\n");
    EXPECT(cmd_get, "GET s", "$8\r\nHello\0\0W\r\n");
    CU_ASSERT(memcmp(F.out, "$8\r\nHello\0\0W\r\n", 15) == 0);
    CU_ASSERT_STRING_EQUAL(enc("s"), "raw");
    EXPECT(cmd_setrange, "SETRANGE s 536870911 xx",
           "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    const char *empty[] = {"SETRANGE", "nk", "5", ""};
    CU_ASSERT_STRING_EQUAL(run_argv(cmd_setrange, 4, empty), ":0\r\n");
    CU_ASSERT_PTR_NULL(val("nk"));
    EXPECT(cmd_setrange, "SETRANGE nk 2 ab", ":4\r\n");
    CU_ASSERT_STRING_EQUAL(enc("nk"), "raw");
    EXPECT(cmd_set, "SET i 12345", "+OK\r\n");
    const char *empty2[] = {"SETRANGE", "i", "1", ""};
    CU_ASSERT_STRING_EQUAL(run_argv(cmd_setrange, 4, empty2), ":5\r\n");
    CU_ASSERT_STRING_EQUAL(enc("i"), "int");
    EXPECT(cmd_setrange, "SETRANGE i 1 9", ":5\r\n");
    EXPECT(cmd_get, "GET i", "$5\r\n19345\r\n");
}

static void test_lcs(void)
{
    reset();
    EXPECT(cmd_mset, "MSET key1 ohmytext key2 mynewtext", "+OK\r\n");
    EXPECT(cmd_lcs, "LCS key1 key2", "$6\r\nmytext\r\n");
    EXPECT(cmd_lcs, "LCS key1 key2 LEN", ":6\r\n");
    EXPECT(cmd_lcs, "LCS key1 key2 IDX",
           "*4\r\n$7\r\nmatches\r\n*2\r\n"
           "*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
           "*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n"
           "$3\r\nlen\r\n:6\r\n");
    F.c.resp = 3;
    EXPECT(cmd_lcs, "LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN",
           "%2\r\n$7\r\nmatches\r\n*1\r\n"
           "*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
           "$3\r\nlen\r\n:6\r\n");
    F.c.resp = 2;
    EXPECT(cmd_lcs, "LCS key1 key2 IDX LEN",
           "-ERR If you want both the length and indexes, please just use IDX.\r\n");
    EXPECT(cmd_lcs, "LCS key1 key2 foo", "-ERR syntax error\r\n");
    EXPECT(cmd_lcs, "LCS key1 key2 MINMATCHLEN", "-ERR syntax error\r\n");
    EXPECT(cmd_lcs, "LCS nokey nokey2 IDX",
           "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n");
    make_list("l");
    EXPECT(cmd_lcs, "LCS key1 l",
           "-ERR The specified keys must contain string values\r\n");
    F.set.proto_max_bulk_len = 16;
    EXPECT(cmd_lcs, "LCS key1 key2 LEN",
           "-ERR Insufficient memory, transient memory for LCS exceeds "
           "proto-max-bulk-len\r\n");
    F.set.proto_max_bulk_len = 512LL * 1024 * 1024;
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("string_cmds", suite_init, suite_clean);
    CU_add_test(s, "set/get and encodings", test_set_get_encodings);
    CU_add_test(s, "set options", test_set_options);
    CU_add_test(s, "setnx/setex/mset", test_setnx_setex_mset);
    CU_add_test(s, "get family", test_get_family);
    CU_add_test(s, "append/strlen", test_append_strlen);
    CU_add_test(s, "counters", test_counters);
    CU_add_test(s, "getrange/setrange", test_ranges);
    CU_add_test(s, "lcs", test_lcs);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
