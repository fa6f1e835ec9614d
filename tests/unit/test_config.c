/* test_config.c — CUnit tests of platform/config.c: the directive table's
 * parsers and error texts (checked against redis-server 7.0.15), the
 * redis-server command line syntax, all-or-nothing CONFIG SET, glob CONFIG
 * GET and CONFIG REWRITE keeping the operator's layout.
 * The server hooks config calls are stubbed here; the test can make
 * server_apply_config fail for one directive.
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../platform/config.h"
#include "../../platform/log.h"
#include "../../platform/mem.h"
#include "../../dataplane/server.h"

/* ------------------------------------------------------------------ stubs */

static const char *apply_fail_name; /* directive whose apply hook fails */
static int apply_calls;

int server_apply_config(const char *name, char **err) {
    apply_calls++;
    if (apply_fail_name && !strcmp(name, apply_fail_name)) {
        *err = "Failed to bind to specified addresses.";
        return -1;
    }
    return 0;
}

void server_reset_stats(void) {}

/* --------------------------------------------------------------- helpers */

static char tmpdir[256];

static char cget_buf[1024];
static int cget_found;

static void cget_fn(void *priv, const char *name, const char *value) {
    (void)priv; (void)name;
    snprintf(cget_buf, sizeof cget_buf, "%s", value);
    cget_found++;
}

/* Value of one directive as CONFIG GET prints it (NULL if unknown). */
static const char *cget(const char *name) {
    cget_buf[0] = '\0';
    cget_found = 0;
    config_get_matching(name, strlen(name), cget_fn, NULL);
    return cget_found ? cget_buf : NULL;
}

static int set_pairs(int n, const char **kv, char **err) {
    const char *names[16], *vals[16];
    size_t nl[16], vl[16];
    for (int i = 0; i < n; i++) {
        names[i] = kv[2 * i];
        vals[i] = kv[2 * i + 1];
        nl[i] = strlen(names[i]);
        vl[i] = strlen(vals[i]);
    }
    return config_set_many(n, names, nl, vals, vl, err);
}

static char *load_err(const char *text) {
    char *err = NULL;
    config_init_defaults();
    int rc = config_load_string(text, "/x/test.conf", &err);
    if (rc == 0) {
        cb_free(err);
        return NULL;
    }
    return err;
}

static void write_file(const char *path, const char *text) {
    FILE *fp = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    fputs(text, fp);
    fclose(fp);
}

static char *slurp(const char *path) {
    static char buf[16384];
    FILE *fp = fopen(path, "r");
    if (!fp) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* Run config_load_argv with stderr captured into *out (static buffer). */
static int load_argv_capture(int argc, char **argv, char **out) {
    char path[300];
    snprintf(path, sizeof path, "%s/stderr.txt", tmpdir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    config_init_defaults();
    int rc = config_load_argv(argc, argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    *out = slurp(path);
    return rc;
}

#define EXPECT_LOAD_ERR(text, why)                                           \
    do {                                                                     \
        char *e_ = load_err(text);                                           \
        CU_ASSERT_PTR_NOT_NULL(e_);                                          \
        if (e_) {                                                            \
            CU_ASSERT_PTR_NOT_NULL(strstr(e_, why));                         \
            CU_ASSERT_PTR_NOT_NULL(strstr(e_, "/x/test.conf"));              \
            if (!strstr(e_, why)) fprintf(stderr, "\ngot: %s\n", e_);        \
        }                                                                    \
        cb_free(e_);                                                         \
    } while (0)

/* ----------------------------------------------------------------- tests */

static void test_defaults(void) {
    config_init_defaults();
    CU_ASSERT_STRING_EQUAL(cget("port"), "6379");
    CU_ASSERT_STRING_EQUAL(cget("bind"), "127.0.0.1 -::1");
    CU_ASSERT_STRING_EQUAL(cget("save"), ""); /* cachebox writes no files by default */
    CU_ASSERT_STRING_EQUAL(cget("client-output-buffer-limit"),
                           "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
    CU_ASSERT_STRING_EQUAL(cget("client-query-buffer-limit"), "1073741824");
    CU_ASSERT_STRING_EQUAL(cget("proto-max-bulk-len"), "536870912");
    CU_ASSERT_EQUAL(g_config.store.proto_max_bulk_len, 536870912);
    CU_ASSERT_STRING_EQUAL(cget("maxmemory-policy"), "noeviction");
    CU_ASSERT_STRING_EQUAL(cget("unixsocketperm"), "0");
    CU_ASSERT_STRING_EQUAL(cget("lua-time-limit"), "5000");
    CU_ASSERT_STRING_EQUAL(cget("syslog-facility"), "local0");
    CU_ASSERT_STRING_EQUAL(cget("notify-keyspace-events"), "");
    CU_ASSERT_STRING_EQUAL(cget("dataplane"), "kernel");
    CU_ASSERT_STRING_EQUAL(cget("control-port"), "8379");
    CU_ASSERT_STRING_EQUAL(cget("control-token-file"), "control.token");
    CU_ASSERT_STRING_EQUAL(cget("dpdk-mtu"), "1500");
    CU_ASSERT_STRING_EQUAL(cget("dpdk-vlan"), "0");
    CU_ASSERT_EQUAL(g_config.store.hz, 10);
    CU_ASSERT_EQUAL(g_config.maxclients, 10000u);
    CU_ASSERT_PTR_NULL(cget("hide-user-data-from-log"));
    CU_ASSERT_PTR_NULL(g_config.config_file);
}

static void test_parse_errors(void) {
    EXPECT_LOAD_ERR("foo bar\n", "foo: Bad directive or wrong number of arguments");
    EXPECT_LOAD_ERR("port\n", "port: wrong number of arguments");
    EXPECT_LOAD_ERR("port 1 2\n", "wrong number of arguments");
    EXPECT_LOAD_ERR("# c\nport abc\n", "at line 2\n>>> 'port abc'\n"
                                        "port: argument couldn't be parsed into an integer");
    EXPECT_LOAD_ERR("port 70000", "argument must be between 0 and 65535 inclusive");
    EXPECT_LOAD_ERR("timeout 01", "argument couldn't be parsed into an integer");
    EXPECT_LOAD_ERR("appendonly maybe", "argument must be 'yes' or 'no'");
    EXPECT_LOAD_ERR("maxmemory-policy x",
                    "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
                    "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, "
                    "noeviction");
    EXPECT_LOAD_ERR("loglevel x", "one of the following: debug, verbose, notice, warning");
    EXPECT_LOAD_ERR("maxmemory abc", "maxmemory: argument must be a memory value");
    EXPECT_LOAD_ERR("maxmemory -1", "argument must be a memory value");
    EXPECT_LOAD_ERR("proto-max-bulk-len 100",
                    "argument must be between 1048576 and 9223372036854775807 inclusive");
    EXPECT_LOAD_ERR("maxclients 0", "argument must be between 1 and 4294967295 inclusive");
    EXPECT_LOAD_ERR("io-workers 65", "argument must be between 1 and 64 inclusive");
    EXPECT_LOAD_ERR("dataplane x", "one of the following: kernel, dpdk");
    EXPECT_LOAD_ERR("dpdk-vlan 4095", "argument must be between 0 and 4094 inclusive");
    EXPECT_LOAD_ERR("save abc", "Invalid save parameters");
    EXPECT_LOAD_ERR("save 10", "Invalid save parameters");
    EXPECT_LOAD_ERR("save 0 0", "Invalid save parameters");
    EXPECT_LOAD_ERR("client-output-buffer-limit x",
                    "Wrong number of arguments in buffer limit configuration.");
    EXPECT_LOAD_ERR("client-output-buffer-limit foo 1 2 3",
                    "Invalid client class specified in buffer limit configuration.");
    EXPECT_LOAD_ERR("client-output-buffer-limit normal 1 2 -3",
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
    EXPECT_LOAD_ERR("unixsocketperm 999", "argument couldn't be parsed as an octal number");
    EXPECT_LOAD_ERR("unixsocketperm 1777", "argument must be between 0 and 777 inclusive");
    EXPECT_LOAD_ERR("notify-keyspace-events Z",
                    "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    EXPECT_LOAD_ERR("bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
                    "Too many bind addresses specified.");
    EXPECT_LOAD_ERR("  port   \"abc", ">>> 'port   \"abc'\nport: Unbalanced quotes");
    EXPECT_LOAD_ERR("port 'abc", "Unbalanced quotes in configuration line");
    EXPECT_LOAD_ERR("port \"1\"x", "Unbalanced quotes in configuration line");
    EXPECT_LOAD_ERR("port 7000 # comment", "wrong number of arguments");
    EXPECT_LOAD_ERR("include /nonexistent/cachebox-x.conf",
                    "can't open config file '/nonexistent/cachebox-x.conf'");
    EXPECT_LOAD_ERR("dir /nonexistent/cachebox-dir", "No such file or directory");

    char *e = load_err("\n\nport abc\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(e, "\n*** FATAL CONFIG FILE ERROR (cachebox) ***\n"
                              "Reading the configuration file /x/test.conf, at line 3\n"
                              ">>> 'port abc'\n"
                              "port: argument couldn't be parsed into an integer\n");
    cb_free(e);
}

static void test_parse_ok(void) {
    char inc[300], *err = NULL;
    snprintf(inc, sizeof inc, "%s/inc.conf", tmpdir);
    write_file(inc, "# included\nhz 20\nmaxmemory 2mb\n");
    char text[1024];
    snprintf(text, sizeof text,
             "# comment\n\n   # indented comment\n"
             "PORT 7001\r\n"
             "requirepass \"a\\x41\\n\\\"q\"\n"
             "dbfilename 'it\\'s.rdb'\n"
             "maxmemory 100mb\n"
             "include %s\n"
             "appendonly YES\n"
             "save 3600 1\nsave 300 100\n"
             "bind 127.0.0.1 -::1\n"
             "client-output-buffer-limit replica 1gb 1kb 5\n"
             "notify-keyspace-events KEA\n"
             "lua-time-limit 3000\n"
             "maxmemory-policy ALLKEYS-LRU\n"
             "hz 1000\n",
             inc);
    config_init_defaults();
    int rc = config_load_string(text, "t.conf", &err);
    if (rc) fprintf(stderr, "%s", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(g_config.port, 7001);
    CU_ASSERT_STRING_EQUAL(g_config.requirepass, "aA\n\"q");
    CU_ASSERT_STRING_EQUAL(g_config.dbfilename, "it's.rdb");
    CU_ASSERT_EQUAL(g_config.store.maxmemory, 2ull * 1024 * 1024); /* include came later */
    CU_ASSERT_EQUAL(g_config.appendonly, 1);
    CU_ASSERT_STRING_EQUAL(cget("save"), "3600 1 300 100");
    CU_ASSERT_EQUAL(g_config.bind_count, 2);
    CU_ASSERT_STRING_EQUAL(cget("bind"), "127.0.0.1 -::1");
    CU_ASSERT_STRING_EQUAL(cget("client-output-buffer-limit"),
                           "normal 0 0 0 slave 1073741824 1024 5 pubsub 33554432 8388608 60");
    CU_ASSERT_STRING_EQUAL(cget("notify-keyspace-events"), "AKE");
    CU_ASSERT_EQUAL(g_config.busy_reply_threshold, 3000);
    CU_ASSERT_EQUAL(g_config.store.maxmemory_policy, MAXMEM_ALLKEYS_LRU);
    CU_ASSERT_EQUAL(g_config.store.hz, 500); /* clamped as Redis does */

    /* `save ""` clears, and a later save line starts a new list. */
    config_init_defaults();
    CU_ASSERT_EQUAL(config_load_string("save \"\"\n", "t", &err), 0);
    CU_ASSERT_STRING_EQUAL(cget("save"), "");
    config_init_defaults();
    CU_ASSERT_EQUAL(config_load_string("save 10 1 20 2\n", "t", &err), 0);
    CU_ASSERT_STRING_EQUAL(cget("save"), "10 1 20 2");
}

static void test_command_line(void) {
    char conf[300], *out = NULL;
    snprintf(conf, sizeof conf, "%s/cl.conf", tmpdir);
    write_file(conf, "port 7000\nloglevel warning\n");

    char *a1[] = {"cachebox", conf, "--port", "7002", "--bind", "127.0.0.1", "::1",
                  "--save", "", "--loglevel", "verbose", NULL};
    CU_ASSERT_EQUAL(load_argv_capture(11, a1, &out), 0);
    CU_ASSERT_EQUAL(g_config.port, 7002);
    CU_ASSERT_EQUAL(g_config.loglevel, LOG_VERBOSE);
    CU_ASSERT_STRING_EQUAL(cget("bind"), "127.0.0.1 ::1");
    CU_ASSERT_STRING_EQUAL(cget("save"), "");
    CU_ASSERT_PTR_NOT_NULL(g_config.config_file);
    CU_ASSERT_EQUAL(g_config.config_file[0], '/');

    char *a2[] = {"cachebox", "--port", "7000", "--save", NULL};
    CU_ASSERT_EQUAL(load_argv_capture(4, a2, &out), 0);
    CU_ASSERT_STRING_EQUAL(cget("save"), "");
    CU_ASSERT_PTR_NULL(g_config.config_file);

    char *a3[] = {"cachebox", "--save", "--port", "7003", NULL};
    CU_ASSERT_EQUAL(load_argv_capture(4, a3, &out), 0);
    CU_ASSERT_STRING_EQUAL(cget("save"), "");
    CU_ASSERT_EQUAL(g_config.port, 7003);

    char *a4[] = {"cachebox", "--port 7004", "--maxmemory", "1gb", NULL};
    CU_ASSERT_EQUAL(load_argv_capture(4, a4, &out), 0);
    CU_ASSERT_EQUAL(g_config.port, 7004);
    CU_ASSERT_EQUAL(g_config.store.maxmemory, 1073741824ull);

    char *a5[] = {"cachebox", "--port", "abc", NULL};
    CU_ASSERT_EQUAL(load_argv_capture(3, a5, &out), -1);
    CU_ASSERT_PTR_NOT_NULL(out);
    CU_ASSERT_STRING_EQUAL(out, "\n*** FATAL CONFIG FILE ERROR (cachebox) ***\n"
                                "Reading the configuration file (command line), at line 1\n"
                                ">>> 'port \"abc\"'\n"
                                "port: argument couldn't be parsed into an integer\n");

    /* The word after a name is always its value, as redis-server reads it. */
    char *a6[] = {"cachebox", "--port", "--daemonize", "no", NULL};
    CU_ASSERT_EQUAL(load_argv_capture(4, a6, &out), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, ">>> 'port \"--daemonize\" \"no\"'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "wrong number of arguments"));

    char *a7[] = {"cachebox", "--nosuch", "1", NULL};
    CU_ASSERT_EQUAL(load_argv_capture(3, a7, &out), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "nosuch: Bad directive or wrong number of arguments"));

    char *a8[] = {"cachebox", "/nonexistent/cachebox.conf", NULL};
    CU_ASSERT_EQUAL(load_argv_capture(2, a8, &out), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "can't open config file"));

    /* File errors name the file's absolute path and line. */
    write_file(conf, "port 7000\nhz x\n");
    char *a9[] = {"cachebox", conf, NULL};
    CU_ASSERT_EQUAL(load_argv_capture(2, a9, &out), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cl.conf, at line 2\n>>> 'hz x'\nhz: argument"));
}

static void test_set_errors(void) {
    char *err = NULL;
    config_init_defaults();
    const char *k1[] = {"foo", "bar"};
    CU_ASSERT_EQUAL(set_pairs(1, k1, &err), -1);
    CU_ASSERT_STRING_EQUAL(err, "Unknown option or number of arguments for CONFIG SET - 'foo'");
    cb_free(err);
    const char *k2[] = {"port", "abc"};
    CU_ASSERT_EQUAL(set_pairs(1, k2, &err), -1);
    CU_ASSERT_STRING_EQUAL(err, "CONFIG SET failed (possibly related to argument 'port') - "
                                "argument couldn't be parsed into an integer");
    cb_free(err);
    const char *k3[] = {"daemonize", "yes"};
    CU_ASSERT_EQUAL(set_pairs(1, k3, &err), -1);
    CU_ASSERT_STRING_EQUAL(err, "CONFIG SET failed (possibly related to argument 'daemonize') - "
                                "can't set immutable config");
    cb_free(err);
    const char *k4[] = {"port", "1", "port", "2"};
    CU_ASSERT_EQUAL(set_pairs(2, k4, &err), -1);
    CU_ASSERT_STRING_EQUAL(err, "CONFIG SET failed (possibly related to argument 'port') - "
                                "duplicate parameter");
    cb_free(err);
    CU_ASSERT_EQUAL(g_config.port, 6379);
    const char *k5[] = {"dir", "/tmp"};
    CU_ASSERT_EQUAL(set_pairs(1, k5, &err), -1);
    CU_ASSERT_STRING_EQUAL(err, "CONFIG SET failed (possibly related to argument 'dir') - "
                                "can't set protected config");
    cb_free(err);
    const char *k6[] = {"maxmemory", "-1"};
    CU_ASSERT_EQUAL(set_pairs(1, k6, &err), -1);
    CU_ASSERT_STRING_EQUAL(err, "CONFIG SET failed (possibly related to argument 'maxmemory') - "
                                "argument must be a memory value");
    cb_free(err);
    const char *k7[] = {"save", "  10   1  "};
    CU_ASSERT_EQUAL(set_pairs(1, k7, &err), -1);
    CU_ASSERT_STRING_EQUAL(err, "CONFIG SET failed (possibly related to argument 'save') - "
                                "Invalid save parameters");
    cb_free(err);
    const char *k8[] = {"slowlog-log-slower-than", "-5"};
    CU_ASSERT_EQUAL(set_pairs(1, k8, &err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "argument must be between -1 and 9223372036854775807"));
    cb_free(err);
    const char *k9[] = {"busy-reply-threshold", "-1"};
    CU_ASSERT_EQUAL(set_pairs(1, k9, &err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "argument must be between 0 and 9223372036854775807"));
    cb_free(err);
}

static void test_set_atomic(void) {
    char *err = NULL;
    config_init_defaults();
    const char *ok[] = {"maxmemory", "1gb", "hz", "5", "lua-time-limit", "10",
                        "busy-reply-threshold", "20", "save", "10 1"};
    CU_ASSERT_EQUAL(set_pairs(5, ok, &err), 0);
    CU_ASSERT_EQUAL(g_config.store.maxmemory, 1073741824ull);
    CU_ASSERT_EQUAL(g_config.store.hz, 5);
    CU_ASSERT_EQUAL(g_config.busy_reply_threshold, 20);
    CU_ASSERT_STRING_EQUAL(cget("save"), "10 1");

    /* Second pair fails to parse: the first is rolled back. */
    const char *bad[] = {"maxmemory", "2gb", "port", "abc"};
    CU_ASSERT_EQUAL(set_pairs(2, bad, &err), -1);
    cb_free(err);
    CU_ASSERT_EQUAL(g_config.store.maxmemory, 1073741824ull);

    /* An apply hook fails: every value returns, even the ones already set. */
    apply_fail_name = "bind";
    const char *bad2[] = {"timeout", "30", "bind", "127.0.0.1 1.2.3.4.5", "proto-max-bulk-len",
                          "2mb"};
    CU_ASSERT_EQUAL(set_pairs(3, bad2, &err), -1);
    CU_ASSERT_STRING_EQUAL(err, "CONFIG SET failed (possibly related to argument 'bind') - "
                                "Failed to bind to specified addresses.");
    cb_free(err);
    apply_fail_name = NULL;
    CU_ASSERT_EQUAL(g_config.timeout, 0);
    CU_ASSERT_STRING_EQUAL(cget("bind"), "127.0.0.1 -::1");
    CU_ASSERT_EQUAL(g_config.proto_max_bulk_len, 536870912);
    CU_ASSERT_EQUAL(g_config.store.proto_max_bulk_len, 536870912);

    /* Unchanged values do not call the apply hook. */
    apply_calls = 0;
    const char *same[] = {"timeout", "0", "port", "6379"};
    CU_ASSERT_EQUAL(set_pairs(2, same, &err), 0);
    CU_ASSERT_EQUAL(apply_calls, 0);

    const char *obuf[] = {"client-output-buffer-limit", "normal 1mb 2mb 3 pubsub 1 2 3",
                          "notify-keyspace-events", "Kg$lshzxetm", "hz", "0",
                          "proto-max-bulk-len", "1mb"};
    CU_ASSERT_EQUAL(set_pairs(4, obuf, &err), 0);
    CU_ASSERT_STRING_EQUAL(cget("client-output-buffer-limit"),
                           "normal 1048576 2097152 3 slave 268435456 67108864 60 pubsub 1 2 3");
    CU_ASSERT_STRING_EQUAL(cget("notify-keyspace-events"), "g$lshzxetKm");
    CU_ASSERT_STRING_EQUAL(cget("hz"), "1");
    CU_ASSERT_EQUAL(g_config.store.proto_max_bulk_len, 1048576);
    const char *nt[] = {"notify-keyspace-events", "KEn", "save", "", "bind", ""};
    CU_ASSERT_EQUAL(set_pairs(3, nt, &err), 0);
    CU_ASSERT_STRING_EQUAL(cget("notify-keyspace-events"), "nKE");
    CU_ASSERT_STRING_EQUAL(cget("save"), "");
    CU_ASSERT_EQUAL(g_config.bind_count, 0);

    /* Protected configs pass when enabled. */
    char *e2 = NULL;
    g_config.enable_protected_configs = 2;
    const char *names[] = {"dir"}, *vals[] = {tmpdir};
    size_t nl[] = {3}, vl[] = {strlen(tmpdir)};
    CU_ASSERT_EQUAL(config_set_many_from(1, names, nl, vals, vl, 0, &e2), -1);
    cb_free(e2);
    CU_ASSERT_EQUAL(config_set_many_from(1, names, nl, vals, vl, 1, &e2), 0);
}

struct collect {
    int n;
    char names[128][64];
};

static void collect_fn(void *priv, const char *name, const char *value) {
    struct collect *c = priv;
    (void)value;
    if (c->n < 128) snprintf(c->names[c->n++], 64, "%s", name);
}

static int collected(struct collect *c, const char *name) {
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->names[i], name)) return 1;
    return 0;
}

static void test_get_glob(void) {
    config_init_defaults();
    struct collect c = {0};
    config_get_matching("maxmemory*", 10, collect_fn, &c);
    CU_ASSERT_EQUAL(c.n, 5); /* maxmemory, -clients, -policy, -samples, -eviction-tenacity */
    CU_ASSERT(collected(&c, "maxmemory-policy"));
    memset(&c, 0, sizeof c);
    config_get_matching("lua*", 4, collect_fn, &c);
    CU_ASSERT_EQUAL(c.n, 1);
    CU_ASSERT(collected(&c, "lua-time-limit"));
    memset(&c, 0, sizeof c);
    config_get_matching("*", 1, collect_fn, &c);
    CU_ASSERT(collected(&c, "busy-reply-threshold"));
    CU_ASSERT(collected(&c, "lua-time-limit"));
    CU_ASSERT(collected(&c, "dpdk-eal-args"));
    memset(&c, 0, sizeof c);
    config_get_matching("PORT", 4, collect_fn, &c);
    CU_ASSERT_EQUAL(c.n, 1);
    memset(&c, 0, sizeof c);
    config_get_matching("*-port", 6, collect_fn, &c);
    CU_ASSERT_EQUAL(c.n, 2); /* dpdk-port, control-port */
    memset(&c, 0, sizeof c);
    config_get_matching("nosuch", 6, collect_fn, &c);
    CU_ASSERT_EQUAL(c.n, 0);
}

static void test_rewrite(void) {
    char conf[300], *err = NULL, *out = NULL;
    snprintf(conf, sizeof conf, "%s/rw.conf", tmpdir);
    char *argv[] = {"cachebox", conf, NULL};
    write_file(conf, "# My config\nport 7732\n# the save line\nsave 3600 1\nsave 300 100\n\n"
                     "maxmemory 100mb\n# hz comment\nhz 10\nloglevel notice\n"
                     "lua-time-limit 3000\n"
                     "client-output-buffer-limit pubsub 32mb 8mb 60\n"
                     "notify-keyspace-events KEx\n");
    CU_ASSERT_EQUAL_FATAL(load_argv_capture(2, argv, &out), 0);
    const char *kv[] = {"maxmemory", "200mb", "loglevel", "warning", "busy-reply-threshold",
                        "4000", "maxmemory-policy", "allkeys-lru", "notify-keyspace-events", "",
                        "save", "3600 1", "requirepass", "a b\"c"};
    CU_ASSERT_EQUAL(set_pairs(7, kv, &err), 0);
    CU_ASSERT_EQUAL(config_rewrite(&err), 0);
    char cwd[4096], expect[8192];
    CU_ASSERT_PTR_NOT_NULL(getcwd(cwd, sizeof cwd));
    snprintf(expect, sizeof expect,
             "# My config\n"
             "port 7732\n"
             "# the save line\n"
             "save 3600 1\n"
             "\n"
             "maxmemory 200mb\n"
             "# hz comment\n"
             "hz 10\n"
             "loglevel warning\n"
             "busy-reply-threshold 4000\n"
             "client-output-buffer-limit normal 0 0 0\n"
             "notify-keyspace-events \"\"\n"
             "\n"
             "# Generated by CONFIG REWRITE\n"
             "requirepass \"a b\\\"c\"\n"
             "dir \"%s\"\n"
             "maxmemory-policy allkeys-lru\n",
             cwd);
    char *got = slurp(conf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_STRING_EQUAL(got, expect);
    if (strcmp(got, expect)) fprintf(stderr, "\n---got---\n%s---\n", got);

    /* Redis reads the trailing newline as one more (empty) line, so a second
     * rewrite ends with one blank line; runs of blanks are squeezed, so a
     * third is stable. The file loads back to the same values. */
    CU_ASSERT_EQUAL(config_rewrite(&err), 0);
    CU_ASSERT_EQUAL(config_rewrite(&err), 0);
    strcat(expect, "\n");
    got = slurp(conf);
    CU_ASSERT_STRING_EQUAL(got, expect);
    if (strcmp(got, expect)) fprintf(stderr, "\n---got2---\n%s---\n", got);
    CU_ASSERT_EQUAL(load_argv_capture(2, argv, &out), 0);
    CU_ASSERT_STRING_EQUAL(g_config.requirepass, "a b\"c");
    CU_ASSERT_EQUAL(g_config.store.maxmemory, 200ull * 1024 * 1024);
    struct stat st;
    CU_ASSERT_EQUAL(stat(conf, &st), 0);

    /* Unknown lines (module directives, include) are kept as they are. */
    write_file(conf, "port 7000\nloadmodule /x.so\nsave 10 1\nsave 20 2");
    char *a2[] = {"cachebox", "--port", "7000", NULL};
    CU_ASSERT_EQUAL(load_argv_capture(3, a2, &out), 0);
    g_config.config_file = cb_strdup(conf);
    const char *kv2[] = {"port", "7001", "save", "5 5 6 6 7 7"};
    CU_ASSERT_EQUAL(set_pairs(2, kv2, &err), 0);
    CU_ASSERT_EQUAL(config_rewrite(&err), 0);
    snprintf(expect, sizeof expect,
             "port 7001\nloadmodule /x.so\nsave 5 5\nsave 6 6\n"
             "# Generated by CONFIG REWRITE\ndir \"%s\"\nsave 7 7\n",
             cwd);
    got = slurp(conf);
    CU_ASSERT_STRING_EQUAL(got, expect);
    if (strcmp(got, expect)) fprintf(stderr, "\n---got3---\n%s---\n", got);

    config_init_defaults();
    CU_ASSERT_EQUAL(config_rewrite(&err), -1);
    CU_ASSERT_STRING_EQUAL(err, "The server is running without a config file");
    cb_free(err);
}

static void test_log(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/log.txt", tmpdir);
    config_init_defaults();
    cb_free(g_config.logfile);
    g_config.logfile = cb_strdup(path);
    log_reopen();
    cb_log(LOG_NOTICE, "hello %d", 42);
    cb_log(LOG_DEBUG, "hidden");
    log_set_role('W');
    cb_log(LOG_WARNING, "warn");
    char *got = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_PTR_NOT_NULL(strstr(got, ":M "));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, " * hello 42\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, ":W "));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, " # warn\n"));
    CU_ASSERT_PTR_NULL(strstr(got, "hidden"));
    /* "pid:M dd Mon yyyy hh:mm:ss.mmm * " */
    char mon[4];
    int pid, d, y, h, mi, s, ms;
    char role;
    CU_ASSERT_EQUAL(sscanf(got, "%d:%c %d %3s %d %d:%d:%d.%d", &pid, &role, &d, mon, &y, &h,
                           &mi, &s, &ms), 9);
    CU_ASSERT_EQUAL(pid, getpid());
    unlink(path);
    log_reopen();
    cb_log(LOG_WARNING, "after reopen");
    CU_ASSERT_PTR_NOT_NULL(strstr(slurp(path), "after reopen"));
    log_set_role('M');
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cb-test-config-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    if (chdir(tmpdir) != 0) return 1;
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("config", NULL, NULL);
    CU_add_test(s, "defaults", test_defaults);
    CU_add_test(s, "parse errors", test_parse_errors);
    CU_add_test(s, "parse ok", test_parse_ok);
    CU_add_test(s, "command line", test_command_line);
    CU_add_test(s, "CONFIG SET errors", test_set_errors);
    CU_add_test(s, "CONFIG SET atomic", test_set_atomic);
    CU_add_test(s, "CONFIG GET glob", test_get_glob);
    CU_add_test(s, "CONFIG REWRITE", test_rewrite);
    CU_add_test(s, "log", test_log);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    config_free();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (chdir("/") == 0 && system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return fails ? 1 : 0;
}
