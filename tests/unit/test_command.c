/* test_command.c — unit tests for the command table (dataplane/cmd/command.c,
 * commands_gen.c) and the RESP3 -> RESP2 rewriter (dataplane/resp/resp3to2.c):
 * case-insensitive lookup, subcommand resolution, arity, key extraction as
 * the oracle's COMMAND GETKEYS answers it, and stored-reply conversion.
 * The handler table is stubbed here so the test links without handlers.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "../../dataplane/cmd/command.h"
#include "../../dataplane/resp/resp3to2.h"
#include "../../platform/mem.h"

static void stub_get(cb_client *c) { (void)c; }
static void stub_command(cb_client *c) { (void)c; }

const cb_cmd_proc_entry cmd_proc_table[] = {
    { "get", stub_get },
    { "command", stub_command },
    { NULL, NULL },
};

/* Split a space-separated command line into argv (static storage: tests
 * are single-threaded and use one line at a time). */
static int split(const char *line, const char **argv, size_t *lens, int max)
{
    static char buf[512];
    strncpy(buf, line, sizeof(buf) - 1);
    int n = 0;
    for (char *tok = strtok(buf, " "); tok && n < max; tok = strtok(NULL, " ")) {
        argv[n] = tok;
        lens[n] = strlen(tok);
        n++;
    }
    return n;
}

/* Keys of a command line as one space-joined string ("" for none, "ERR"
 * when extraction fails or the command is unknown). */
static const char *keys_of(const char *line, uint32_t *flags0)
{
    static char out[256];
    const char *argv[32];
    size_t lens[32];
    int pos[32];
    uint32_t flags[32];
    int argc = split(line, argv, lens, 32);
    const cb_command *cmd = command_resolve(argc, argv, lens, NULL);
    if (!cmd)
        return "ERR";
    int n = command_get_keys(cmd, argc, argv, lens, pos, flags, 32);
    if (n < 0)
        return "ERR";
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(out, " ");
        strncat(out, argv[pos[i]], lens[pos[i]]);
    }
    if (flags0)
        *flags0 = n > 0 ? flags[0] : 0;
    return out;
}

static void test_lookup(void)
{
    const cb_command *get = command_lookup("GeT", 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(get);
    CU_ASSERT_STRING_EQUAL(get->name, "get");
    CU_ASSERT_PTR_EQUAL(get->proc, stub_get);
    CU_ASSERT_PTR_NULL(command_lookup("nosuch", 6));
    CU_ASSERT_PTR_NULL(command_lookup("ge", 2));
    CU_ASSERT_PTR_NULL(command_lookup("gett", 4));
    /* A slice, not a C string: the length bounds the name. */
    CU_ASSERT_PTR_EQUAL(command_lookup("getXYZ", 3), get);
    CU_ASSERT_PTR_NULL(command_lookup("config|get", 10));
    CU_ASSERT_PTR_NOT_NULL(command_lookup("CLIENT", 6));
    CU_ASSERT_PTR_NULL(command_lookup("", 0));
    CU_ASSERT_STRING_EQUAL(get->group, "string");
    CU_ASSERT_EQUAL(get->first_key, 1);
    CU_ASSERT(get->flags & CMD_READONLY);
    CU_ASSERT(get->flags & CMD_FAST);
    CU_ASSERT_FALSE(get->flags & CMD_WRITE);
}

static void test_table(void)
{
    CU_ASSERT_EQUAL(command_count(), command_table_gen_count);
    int subs = 0;
    for (int i = 0; i < command_count(); i++)
        subs += command_at(i)->nsub;
    CU_ASSERT_EQUAL(command_ids(), command_count() + subs);
    for (int id = 0; id < command_ids(); id++) {
        const cb_command *c = command_by_id(id);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_EQUAL(c->id, id);
        CU_ASSERT_PTR_NOT_NULL(c->info_resp2);
        CU_ASSERT_PTR_NOT_NULL(c->docs_resp2);
        CU_ASSERT_PTR_EQUAL(command_lookup_fullname(c->name, strlen(c->name)), c);
    }
    CU_ASSERT_PTR_NULL(command_by_id(-1));
    CU_ASSERT_PTR_NULL(command_by_id(command_ids()));
    CU_ASSERT_PTR_NULL(command_at(command_count()));

    const cb_command *cg = command_lookup_fullname("CONFIG|Get", 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cg);
    CU_ASSERT_STRING_EQUAL(command_fullname(cg), "config|get");
    CU_ASSERT_STRING_EQUAL(cg->parent->name, "config");
    CU_ASSERT_PTR_NULL(command_lookup_fullname("get|x", 5));
    CU_ASSERT_PTR_NULL(command_lookup_fullname("config|", 7));
    CU_ASSERT_PTR_NULL(command_lookup_fullname("config|get|x", 12));
    CU_ASSERT_PTR_NULL(command_lookup_fullname("config|nosuch", 13));

    CU_ASSERT_EQUAL(acl_category_count, 21);
    CU_ASSERT_STRING_EQUAL(acl_category_names[0], "keyspace");
    CU_ASSERT_PTR_NULL(acl_category_names[acl_category_count]);
    int string = command_acl_category("STRING", 6);
    CU_ASSERT(string >= 0);
    CU_ASSERT(command_lookup("get", 3)->acl_categories & (1ull << string));
    CU_ASSERT_EQUAL(command_acl_category("nosuch", 6), -1);

    /* Containers: no handler, except COMMAND which runs alone. */
    CU_ASSERT_PTR_NULL(command_lookup("client", 6)->proc);
    CU_ASSERT_PTR_EQUAL(command_lookup("command", 7)->proc, stub_command);
}

static void test_resolve(void)
{
    const char *argv[4];
    size_t lens[4];
    const cb_command *container = (const cb_command *)1;

    int argc = split("config GET maxmemory", argv, lens, 4);
    const cb_command *c = command_resolve(argc, argv, lens, &container);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->name, "config|get");
    CU_ASSERT_PTR_NULL(container);

    argc = split("Client No-Evict on", argv, lens, 4);
    c = command_resolve(argc, argv, lens, &container);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->name, "client|no-evict");

    argc = split("object nosuch k", argv, lens, 4);
    c = command_resolve(argc, argv, lens, &container);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(container);
    CU_ASSERT_STRING_EQUAL(container->name, "object");

    /* Every CLIENT subcommand of the oracle is implemented now (so no
     * oracle-only subcommand is left to test here; "object nosuch" above
     * covers the unknown case). */
    argc = split("client tracking on", argv, lens, 4);
    c = command_resolve(argc, argv, lens, &container);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->name, "client|tracking");

    argc = split("nosuch a", argv, lens, 4);
    CU_ASSERT_PTR_NULL(command_resolve(argc, argv, lens, &container));
    CU_ASSERT_PTR_NULL(container);

    /* A container alone is the container (its arity then fails). */
    argc = split("config", argv, lens, 4);
    c = command_resolve(argc, argv, lens, &container);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->name, "config");
    CU_ASSERT_FALSE(command_arity_ok(c, 1));

    /* A plain command ignores argv[1]. */
    argc = split("get config", argv, lens, 4);
    c = command_resolve(argc, argv, lens, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->name, "get");
    CU_ASSERT_PTR_NULL(command_resolve(0, argv, lens, NULL));
}

static void test_arity(void)
{
    const cb_command *get = command_lookup("get", 3);
    const cb_command *set = command_lookup("set", 3);
    CU_ASSERT_EQUAL(get->arity, 2);
    CU_ASSERT_TRUE(command_arity_ok(get, 2));
    CU_ASSERT_FALSE(command_arity_ok(get, 1));
    CU_ASSERT_FALSE(command_arity_ok(get, 3));
    CU_ASSERT_EQUAL(set->arity, -3);
    CU_ASSERT_FALSE(command_arity_ok(set, 2));
    CU_ASSERT_TRUE(command_arity_ok(set, 3));
    CU_ASSERT_TRUE(command_arity_ok(set, 9));
    const cb_command *gk = command_lookup_fullname("command|getkeys", 15);
    CU_ASSERT_EQUAL(gk->arity, -4); /* name plus at least one argument */
}

static void test_get_keys(void)
{
    uint32_t f = 0;
    CU_ASSERT_STRING_EQUAL(keys_of("set a b", &f), "a");
    CU_ASSERT_EQUAL(f, KS_OW | KS_UPDATE);
    CU_ASSERT_STRING_EQUAL(keys_of("set a b ex 10 GeT", &f), "a");
    CU_ASSERT_EQUAL(f, KS_RW | KS_ACCESS | KS_UPDATE);
    CU_ASSERT_STRING_EQUAL(keys_of("mset a 1 b 2", &f), "a b");
    CU_ASSERT_EQUAL(f, KS_OW | KS_UPDATE);
    /* Odd count: the dangling key is still reported, as the oracle does. */
    CU_ASSERT_STRING_EQUAL(keys_of("mset a b c", NULL), "a c");
    CU_ASSERT_STRING_EQUAL(keys_of("del x y z", &f), "x y z");
    CU_ASSERT_EQUAL(f, KS_RM | KS_DELETE);
    CU_ASSERT_STRING_EQUAL(keys_of("mget x y", NULL), "x y");
    CU_ASSERT_STRING_EQUAL(keys_of("copy src dst db 1 replace", &f), "src dst");
    CU_ASSERT_EQUAL(f, KS_RO | KS_ACCESS);
    CU_ASSERT_STRING_EQUAL(keys_of("lcs k1 k2 len", NULL), "k1 k2");
    CU_ASSERT_STRING_EQUAL(keys_of("getex k persist", NULL), "k");
    CU_ASSERT_STRING_EQUAL(keys_of("rename a b", NULL), "a b");
    CU_ASSERT_STRING_EQUAL(keys_of("object encoding k", &f), "k");
    CU_ASSERT_EQUAL(f, KS_RO);
    CU_ASSERT_STRING_EQUAL(keys_of("OBJECT FREQ k", NULL), "k");
    CU_ASSERT_STRING_EQUAL(keys_of("client kill 1.2.3.4:5", NULL), "");
    CU_ASSERT_STRING_EQUAL(keys_of("ping", NULL), "");
    CU_ASSERT_STRING_EQUAL(keys_of("object nosuch k", NULL), "ERR");
    /* Short argv (routing before the arity check) yields no phantom keys. */
    CU_ASSERT_STRING_EQUAL(keys_of("get", NULL), "");
    CU_ASSERT_STRING_EQUAL(keys_of("rename a", NULL), "a");

    CU_ASSERT_TRUE(command_has_keys(command_lookup("get", 3)));
    CU_ASSERT_FALSE(command_has_keys(command_lookup("ping", 4)));
    CU_ASSERT_FALSE(command_has_keys(command_lookup_fullname("client|kill", 11)));
    CU_ASSERT_FALSE(command_has_keys(command_lookup("flushall", 8)));

    /* The count is reported even when the output is too small. */
    const char *argv[8];
    size_t lens[8];
    int pos[1];
    int argc = split("del a b c", argv, lens, 8);
    const cb_command *del = command_lookup("del", 3);
    CU_ASSERT_EQUAL(command_get_keys(del, argc, argv, lens, NULL, NULL, 0), 3);
    CU_ASSERT_EQUAL(command_get_keys(del, argc, argv, lens, pos, NULL, 1), 3);
    CU_ASSERT_EQUAL(pos[0], 1);
}

/* Key-spec shapes none of today's commands use: keyword search and keynum. */
static void test_get_keys_synthetic(void)
{
    static const cb_keyspec specs[] = {
        { .flags = KS_RO, .bs_type = 1, .bs_index = 1,
          .fk_type = 2, .fk_a = 0, .fk_b = 1, .fk_c = 1 },
        { .flags = KS_OW, .bs_type = 2, .bs_index = -1, .bs_keyword = "STORE",
          .fk_type = 1, .fk_a = 0, .fk_b = 1, .fk_c = 0 },
    };
    cb_command cmd = { .name = "synthetic", .arity = -2, .keyspecs = specs,
                       .nkeyspecs = 2 };
    const char *argv[8];
    size_t lens[8];
    int pos[8];
    uint32_t flags[8];
    int argc = split("synthetic 2 a b x store dst", argv, lens, 8);
    CU_ASSERT_EQUAL_FATAL(command_get_keys(&cmd, argc, argv, lens, pos, flags, 8), 3);
    CU_ASSERT_EQUAL(pos[0], 2);
    CU_ASSERT_EQUAL(pos[1], 3);
    CU_ASSERT_EQUAL(pos[2], 6);
    CU_ASSERT_EQUAL(flags[2], KS_OW);
    argc = split("synthetic 1 a", argv, lens, 8);
    CU_ASSERT_EQUAL(command_get_keys(&cmd, argc, argv, lens, pos, flags, 8), 1);
    argc = split("synthetic x a", argv, lens, 8);
    CU_ASSERT_EQUAL(command_get_keys(&cmd, argc, argv, lens, pos, flags, 8), -1);
    argc = split("synthetic -1 a", argv, lens, 8);
    CU_ASSERT_EQUAL(command_get_keys(&cmd, argc, argv, lens, pos, flags, 8), -1);

    /* Range with a limit: lastkey -1, limit 2 -> the first half of the rest. */
    static const cb_keyspec half[] = {
        { .flags = KS_RO, .bs_type = 1, .bs_index = 1,
          .fk_type = 1, .fk_a = -1, .fk_b = 1, .fk_c = 2 },
    };
    cb_command h = { .name = "half", .arity = -2, .keyspecs = half, .nkeyspecs = 1 };
    argc = split("half k1 k2 v1 v2", argv, lens, 8);
    CU_ASSERT_EQUAL_FATAL(command_get_keys(&h, argc, argv, lens, pos, flags, 8), 2);
    CU_ASSERT_EQUAL(pos[1], 2);
}

static void check_conv(const char *in, const char *want)
{
    size_t n = 0;
    char *out = resp3to2(in, strlen(in), &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_EQUAL(n, strlen(want));
    CU_ASSERT_STRING_EQUAL(out, want);
    cb_free(out);
}

static void test_resp3to2(void)
{
    check_conv("%2\r\n$1\r\na\r\n:1\r\n+b\r\n~2\r\n+x\r\n+y\r\n",
               "*4\r\n$1\r\na\r\n:1\r\n+b\r\n*2\r\n+x\r\n+y\r\n");
    check_conv("*3\r\n_\r\n$-1\r\n*-1\r\n", "*3\r\n$-1\r\n$-1\r\n*-1\r\n");
    check_conv("#t\r\n#f\r\n,1.5\r\n(123\r\n", ":1\r\n:0\r\n$3\r\n1.5\r\n$3\r\n123\r\n");
    check_conv("=7\r\ntxt:abc\r\n>1\r\n$0\r\n\r\n", "$3\r\nabc\r\n*1\r\n$0\r\n\r\n");
    check_conv("$5\r\na\r\nbc\r\n", "$5\r\na\r\nbc\r\n"); /* CRLF inside a bulk */
    check_conv("", "");

    size_t n;
    CU_ASSERT_PTR_NULL(resp3to2("*2\r\n:1\r\n", 8, &n));        /* truncated */
    CU_ASSERT_PTR_NULL(resp3to2("$3\r\nab\r\n", 8, &n));        /* short bulk */
    CU_ASSERT_PTR_NULL(resp3to2("|1\r\n+a\r\n+b\r\n", 12, &n)); /* attribute */
    CU_ASSERT_PTR_NULL(resp3to2("%x\r\n", 4, &n));
    CU_ASSERT_PTR_NULL(resp3to2(":1", 2, &n));

    /* Stored table entries: the RESP2 copy made at init. */
    const cb_command *get = command_lookup("get", 3);
    CU_ASSERT_EQUAL(memcmp(get->info_resp3, "*10\r\n$3\r\nget\r\n:2\r\n~2\r\n", 20), 0);
    CU_ASSERT_EQUAL(memcmp(get->info_resp2, "*10\r\n$3\r\nget\r\n:2\r\n*2\r\n", 20), 0);
    CU_ASSERT_EQUAL(memcmp(get->docs_resp2, "$3\r\nget\r\n*", 10), 0);
    CU_ASSERT_PTR_NULL(memchr(get->docs_resp2, '%', get->docs2_len));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("command", NULL, NULL);
    CU_add_test(s, "lookup", test_lookup);
    CU_add_test(s, "table", test_table);
    CU_add_test(s, "resolve", test_resolve);
    CU_add_test(s, "arity", test_arity);
    CU_add_test(s, "get_keys", test_get_keys);
    CU_add_test(s, "get_keys_synthetic", test_get_keys_synthetic);
    CU_add_test(s, "resp3to2", test_resp3to2);
    if (command_table_init() != 0)
        return 1;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
