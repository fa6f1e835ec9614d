/* test_acl.c — CUnit tests for platform/sha256.c (FIPS 180-4 vectors) and
 * the ACL engine in dataplane/acl.c without a socket: rule parsing and its
 * error texts, descriptions, and the command / key / channel checks,
 * selectors and first-args. Expected texts were taken from redis-server
 * 7.0.15 for the same rules.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "../../dataplane/acl.h"
#include "../../dataplane/cmd/command.h"
#include "../../platform/config.h"
#include "../../platform/mem.h"
#include "../../platform/sha256.h"

static void test_sha256_vectors(void)
{
    char hex[65];
    sha256_hex("", 0, hex);
    CU_ASSERT_STRING_EQUAL(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex("abc", 3, hex);
    CU_ASSERT_STRING_EQUAL(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(two, strlen(two), hex);
    CU_ASSERT_STRING_EQUAL(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* A million 'a' fed in uneven pieces crosses every block boundary. */
    cb_sha256 s;
    sha256_init(&s);
    char a[1000];
    memset(a, 'a', sizeof(a));
    size_t left = 1000000, step = 1;
    while (left) {
        size_t n = step < left ? step : left;
        sha256_update(&s, a, n);
        left -= n;
        step = step % 977 + 13;
    }
    unsigned char d[32];
    sha256_final(&s, d);
    CU_ASSERT(d[0] == 0xcd && d[1] == 0xc7 && d[31] == 0xd0);
}

/* Rules separated by commas (a selector keeps its spaces). */
static int set(const char *name, const char *rules)
{
    const char *argv[32];
    size_t lens[32];
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", rules);
    int n = 0;
    for (char *t = strtok(buf, ","); t && n < 32; t = strtok(NULL, ",")) {
        argv[n] = t;
        lens[n++] = strlen(t);
    }
    char *err = NULL;
    int rc = acl_setuser(name, strlen(name), n, argv, lens, &err);
    cb_free(err);
    return rc;
}

static char *err_of(const char *name, const char *rule)
{
    const char *argv[1] = {rule};
    size_t lens[1] = {strlen(rule)};
    char *err = NULL;
    if (acl_setuser(name, strlen(name), 1, argv, lens, &err) == 0) return NULL;
    return err;
}

static int check(const char *user, const char *cmdline, int *pos)
{
    const char *argv[16];
    size_t lens[16];
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", cmdline);
    int n = 0;
    for (char *t = strtok(buf, " "); t && n < 16; t = strtok(NULL, " ")) {
        argv[n] = t;
        lens[n++] = strlen(t);
    }
    const cb_command *cmd = command_resolve(n, argv, lens, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cmd);
    int p = 0;
    int rc = acl_check(acl_lookup_user(user, strlen(user)), cmd, n, argv, lens, &p);
    if (pos) *pos = p;
    return rc;
}

static void expect_desc(const char *user, const char *want)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(acl_lookup_user(user, strlen(user)));
    char *d = acl_describe_user(acl_lookup_user(user, strlen(user)));
    CU_ASSERT_STRING_EQUAL(d, want);
    if (strcmp(d, want)) fprintf(stderr, "\n got: %s\nwant: %s\n", d, want);
    cb_free(d);
}

static void test_default_user(void)
{
    expect_desc("default", "user default on nopass ~* &* +@all");
    CU_ASSERT(acl_default_nopass());
    acl_set_requirepass("pw");
    CU_ASSERT_FALSE(acl_default_nopass());
    acl_set_requirepass("");
    CU_ASSERT(acl_default_nopass());
}

static void test_descriptions(void)
{
    CU_ASSERT(set("alice", "on,>p1,~foo*,%R~r*,&ch*,+@hash,-hdel,(+set ~x*)") == 0);
    expect_desc("alice", "user alice on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a"
                         " ~foo* %R~r* resetchannels &ch* -@all +@hash -hdel"
                         " (~x* resetchannels -@all +set)");
    CU_ASSERT(set("bob", "") == 0);
    expect_desc("bob", "user bob off resetchannels -@all");
    CU_ASSERT(set("bob", "reset,%R~a,%W~a,%W~b,%R,+select|0,+select|1") == 0);
    expect_desc("bob", "user bob off sanitize-payload ~a %W~b %R~ resetchannels -@all"
                       " +select|0 +select|1");
    CU_ASSERT(set("bob", "+@all,-@read") == 0);
    expect_desc("bob", "user bob off sanitize-payload ~a %W~b %R~ resetchannels +@all -@read");
    CU_ASSERT(set("bob", "-@all,+@list,+@hash,+@set") == 0);
    expect_desc("bob", "user bob off sanitize-payload ~a %W~b %R~ resetchannels -@all +@list"
                       " +@hash +@set");
}

static void test_rule_errors(void)
{
    static const struct { const char *rule, *err; } cases[] = {
        {"+nosuch", "Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"},
        {"+@nosuch", "Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL"},
        {"+config|get|x", "Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a "
                          "subcommand is not supported"},
        {"+debug|", "Error in ACL SETUSER modifier '+debug|': Syntax error"},
        {"#abc", "Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 "
                 "characters and contain only lowercase hexadecimal characters"},
        {"<nope", "Error in ACL SETUSER modifier '<nope': The password you are trying to remove "
                  "from the user does not exist"},
        {"%X~a", "Error in ACL SETUSER modifier '%X~a': Syntax error"},
        {"(badop)", "Error in ACL SETUSER modifier '(badop)': Syntax error"},
        {"badop", "Error in ACL SETUSER modifier 'badop': Syntax error"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *e = err_of("erruser", cases[i].rule);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL(e, cases[i].err);
        cb_free(e);
    }
    CU_ASSERT(set("erruser", "allkeys") == 0);
    char *e = err_of("erruser", "~x");
    CU_ASSERT(e && strstr(e, "'allkeys' flag"));
    cb_free(e);
    /* A failed SETUSER changes nothing. */
    CU_ASSERT(set("erruser", "on,+get,badop") != 0);
    expect_desc("erruser", "user erruser off ~* resetchannels -@all");
    char *n = NULL;
    const char *argv[1] = {"on"};
    size_t lens[1] = {2};
    CU_ASSERT(acl_setuser("a b", 3, 1, argv, lens, &n) != 0);
    CU_ASSERT_STRING_EQUAL(n, "Usernames can't contain spaces or null characters");
    cb_free(n);
}

static void test_checks(void)
{
    int pos;
    CU_ASSERT(set("u", "on,nopass,%R~r*,%W~w*,~rw*,&news.*,+@all,-config|set,"
                       "(~s* +get),(&sel* +publish)") == 0);
    CU_ASSERT_EQUAL(check("u", "get r1", NULL), ACL_OK);
    CU_ASSERT_EQUAL(check("u", "get rw1", NULL), ACL_OK);
    CU_ASSERT_EQUAL(check("u", "get w1", &pos), ACL_DENIED_KEY);
    CU_ASSERT_EQUAL(pos, 1);
    CU_ASSERT_EQUAL(check("u", "set w1 v", NULL), ACL_OK);
    CU_ASSERT_EQUAL(check("u", "set r1 v", NULL), ACL_DENIED_KEY);
    CU_ASSERT_EQUAL(check("u", "copy r1 w1", NULL), ACL_OK);
    CU_ASSERT_EQUAL(check("u", "copy w1 r1", &pos), ACL_DENIED_KEY);
    CU_ASSERT_EQUAL(pos, 1);
    CU_ASSERT_EQUAL(check("u", "mget r1 rw2 x", &pos), ACL_DENIED_KEY);
    CU_ASSERT_EQUAL(pos, 3);
    CU_ASSERT_EQUAL(check("u", "config set hz 10", NULL), ACL_DENIED_CMD);
    CU_ASSERT_EQUAL(check("u", "config get hz", NULL), ACL_OK);
    CU_ASSERT_EQUAL(check("u", "publish news.x m", NULL), ACL_OK);
    CU_ASSERT_EQUAL(check("u", "publish sport m", &pos), ACL_DENIED_CHANNEL);
    CU_ASSERT_EQUAL(pos, 1);
    CU_ASSERT_EQUAL(check("u", "publish sel1 m", NULL), ACL_OK); /* second selector */
    CU_ASSERT_EQUAL(check("u", "psubscribe news.*", NULL), ACL_OK);
    CU_ASSERT_EQUAL(check("u", "psubscribe news.x", NULL), ACL_DENIED_CHANNEL);
    CU_ASSERT_EQUAL(check("u", "subscribe news.a sport", &pos), ACL_DENIED_CHANNEL);
    CU_ASSERT_EQUAL(pos, 2);
    CU_ASSERT_EQUAL(check("u", "get s1", NULL), ACL_OK);            /* first selector */
    CU_ASSERT_EQUAL(check("u", "set s1 v", NULL), ACL_DENIED_KEY);
    CU_ASSERT(set("f", "on,nopass,allkeys,-@all,+select|0,+get") == 0);
    CU_ASSERT_EQUAL(check("f", "select 0", NULL), ACL_OK);
    CU_ASSERT_EQUAL(check("f", "select 1", NULL), ACL_DENIED_CMD);
    CU_ASSERT_EQUAL(check("f", "auth x y", NULL), ACL_OK);          /* no-auth commands */
    CU_ASSERT_EQUAL(check("f", "set k v", NULL), ACL_DENIED_CMD);
}

int main(void)
{
    config_init_defaults();
    if (command_table_init() != 0) return 1;
    char err[256];
    if (acl_init(err, sizeof(err)) != 0) return 1;
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("acl", NULL, NULL);
    CU_add_test(s, "sha256_vectors", test_sha256_vectors);
    CU_add_test(s, "default_user", test_default_user);
    CU_add_test(s, "descriptions", test_descriptions);
    CU_add_test(s, "rule_errors", test_rule_errors);
    CU_add_test(s, "checks", test_checks);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int fails = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    acl_shutdown();
    config_free();
    return fails ? 1 : 0;
}
