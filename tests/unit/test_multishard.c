/* test_multishard.c — CUnit tests for the keyspace and string handlers that
 * touch several keys or the whole keyspace (store/cmd_keyspace.c, MGET/MSET/
 * MSETNX/LCS in store/t_string.c) when the keyspace is split over several
 * shards. A fake 3-worker g_server gives client_key_shard its shards; the
 * handlers are called directly, as the dispatcher would with the other
 * workers parked, and their replies are read back as RESP bytes. What is
 * checked: every key ends up in (and is found in) the shard that owns its
 * slot, counts and listings cover all shards, and a full SCAN visits every
 * shard. Single-shard behaviour is covered by test_string_cmds and the
 * differential test against redis-server.
 */
#include <CUnit/Basic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/client.h"
#include "../../dataplane/cmd/command.h"
#include "../../dataplane/worker.h"
#include "../../dataplane/resp/reply.h"
#include "../../platform/config.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"
#include "../../store/db.h"
#include "../../store/object.h"

cb_cmd_proc cmd_del, cmd_unlink, cmd_exists, cmd_touch, cmd_keys, cmd_scan,
    cmd_randomkey, cmd_dbsize, cmd_flushdb, cmd_flushall, cmd_swapdb, cmd_move,
    cmd_rename, cmd_renamenx, cmd_copy, cmd_select, cmd_mget, cmd_mset,
    cmd_msetnx, cmd_lcs, cmd_set, cmd_get;

#define NSH 3
#define NKEYS 300

typedef struct fixture {
    cb_store_settings set;
    cb_shard *sh[NSH];
    cb_worker *w[NSH];
    cb_worker *wp[NSH];
    cb_client c;
    char out[1 << 16];
    size_t outlen;
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
    for (int i = 0; i < NSH; i++) {
        uint8_t seed[16] = {(uint8_t)(i + 1), 2, 3};
        F.sh[i] = shard_create(i, 16, &F.set, seed);
        if (!F.sh[i]) return -1;
        F.w[i] = cb_calloc(sizeof *F.w[i]);
        F.w[i]->id = i;
        F.w[i]->shard = F.sh[i];
        F.wp[i] = F.w[i];
    }
    g_server.workers = F.wp;
    g_server.nworkers = NSH;
    F.c.w = F.w[0];
    F.c.fd = -1;
    F.c.shard = F.sh[0];
    F.c.db = &F.sh[0]->dbs[0];
    F.c.resp = 2;
    return 0;
}

static int suite_clean(void)
{
    g_server.workers = NULL;
    g_server.nworkers = 0;
    for (int i = 0; i < NSH; i++) {
        shard_destroy(F.sh[i]);
        cb_free(F.w[i]);
    }
    return 0;
}

/* Runs one command (space-separated words) and returns its reply bytes. */
static const char *run(cb_cmd_proc *proc, const char *line)
{
    char buf[1024];
    const char *argv[64];
    size_t lens[64];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *p = strtok(buf, " "); p && argc < 64; p = strtok(NULL, " ")) {
        argv[argc] = p;
        lens[argc++] = strlen(p);
    }
    cb_client *c = &F.c;
    c->argc = argc;
    c->argv = argv;
    c->argv_len = lens;
    shard_set_time(c->shard, util_mstime());
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
    F.outlen = n;
    c->out_head = c->out_tail = NULL;
    c->out_bytes = 0;
    c->flags &= ~CLIENT_PENDING_WRITE;
    F.w[0]->pending_write = NULL;
    return F.out;
}

#define EXPECT(proc, line, want) CU_ASSERT_STRING_EQUAL(run(proc, line), want)

/* The bulk strings of the last reply, in order (array headers skipped). */
static int bulks(char items[][64], int max)
{
    int n = 0;
    const char *p = F.out, *end = F.out + F.outlen;
    while (p < end && n < max) {
        const char *eol = strstr(p, "\r\n");
        if (!eol) break;
        if (*p == '$') {
            long len = strtol(p + 1, NULL, 10);
            p = eol + 2;
            if (len < 0) continue;
            snprintf(items[n++], 64, "%.*s", (int)len, p);
            p += len + 2;
        } else {
            p = eol + 2;
        }
    }
    return n;
}

static int owner(const char *key)
{
    return (int)(util_key_slot(key, strlen(key)) % NSH);
}

/* Index of the shard whose db `dbid` holds key, -1 if none; fails the test
 * when more than one does. */
static int where(const char *key, int dbid)
{
    int found = -1, hits = 0;
    for (int i = 0; i < NSH; i++) {
        cb_db *db = &F.sh[i]->dbs[dbid];
        if (db_lookup_read(F.sh[i], db, key, strlen(key),
                           DB_LOOKUP_NOTOUCH | DB_LOOKUP_NOSTATS)) {
            found = i;
            hits++;
        }
    }
    CU_ASSERT(hits <= 1);
    return found;
}

/* Two keys "<prefix><n>" owned by different shards. */
static void pair_apart(const char *prefix, char *a, char *b)
{
    snprintf(a, 32, "%s0", prefix);
    for (int i = 1; i < 1000; i++) {
        snprintf(b, 32, "%s%d", prefix, i);
        if (owner(b) != owner(a)) return;
    }
    CU_FAIL("no pair of keys in different shards");
}

static void reset(void)
{
    for (int i = 0; i < NSH; i++) shard_empty(F.sh[i]);
    F.c.dbid = 0;
    F.c.db = &F.sh[0]->dbs[0];
}

static void fill(int nkeys)
{
    char key[32];
    for (int i = 0; i < nkeys; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        cb_shard *s = F.sh[owner(key)];
        db_set(s, &s->dbs[0], key, strlen(key), obj_new_string("v", 1), 0);
    }
}

/* ---------------------------------------------------------------------- */

/* Eight keys "s<n>" spread round-robin over the shards (short names such
 * as single letters happen to share a shard). */
static char SK[8][16];

static void spread_keys(void)
{
    int n = 0;
    for (int i = 0; n < 8 && i < 10000; i++) {
        char k[16];
        snprintf(k, sizeof k, "s%d", i);
        if (owner(k) == n % NSH) snprintf(SK[n++], sizeof SK[0], "%s", k);
    }
    CU_ASSERT_EQUAL_FATAL(n, 8);
}

/* printf-style command line. */
static const char *runf(cb_cmd_proc *proc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *runf(cb_cmd_proc *proc, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return run(proc, line);
}

static void mset8(void)
{
    runf(cmd_mset, "MSET %s 1 %s 2 %s 3 %s 4 %s 5 %s 6 %s 7 %s 8", SK[0], SK[1],
         SK[2], SK[3], SK[4], SK[5], SK[6], SK[7]);
}

static void test_mset_mget_owner(void)
{
    spread_keys();
    reset();
    uint64_t dirty0 = 0, dirty1 = 0;
    for (int i = 0; i < NSH; i++) dirty0 += F.sh[i]->dirty;
    mset8();
    CU_ASSERT_STRING_EQUAL(F.out, "+OK\r\n");
    int per[NSH] = {0};
    for (int i = 0; i < 8; i++) {
        int w = where(SK[i], 0);
        CU_ASSERT_EQUAL(w, owner(SK[i]));
        if (w >= 0) per[w]++;
    }
    for (int i = 0; i < NSH; i++) CU_ASSERT(per[i] > 0);
    for (int i = 0; i < NSH; i++) dirty1 += F.sh[i]->dirty;
    CU_ASSERT_EQUAL(dirty1 - dirty0, 8);
    CU_ASSERT_STRING_EQUAL(runf(cmd_mget, "MGET %s %s nokey %s %s", SK[0], SK[1], SK[2], SK[7]),
                           "*5\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n$1\r\n3\r\n$1\r\n8\r\n");
}

static void test_msetnx(void)
{
    reset();
    char a[32], b[32];
    pair_apart("nx", a, b);
    char line[128];
    snprintf(line, sizeof line, "SET %s x", b);
    run(cmd_set, line);
    snprintf(line, sizeof line, "MSETNX %s 1 %s 2", a, b);
    EXPECT(cmd_msetnx, line, ":0\r\n");
    CU_ASSERT_EQUAL(where(a, 0), -1);
    snprintf(line, sizeof line, "MSETNX %s 1 other 2", a);
    EXPECT(cmd_msetnx, line, ":1\r\n");
    CU_ASSERT_EQUAL(where(a, 0), owner(a));
    CU_ASSERT_EQUAL(where("other", 0), owner("other"));
}

static void test_counts(void)
{
    reset();
    mset8();
    CU_ASSERT_STRING_EQUAL(runf(cmd_exists, "EXISTS %s %s %s %s %s %s %s %s zz %s", SK[0],
                                SK[1], SK[2], SK[3], SK[4], SK[5], SK[6], SK[7], SK[0]),
                           ":9\r\n");
    CU_ASSERT_STRING_EQUAL(runf(cmd_touch, "TOUCH %s %s %s zz", SK[0], SK[1], SK[2]), ":3\r\n");
    EXPECT(cmd_dbsize, "DBSIZE", ":8\r\n");
    CU_ASSERT_STRING_EQUAL(runf(cmd_del, "DEL %s %s zz", SK[0], SK[1]), ":2\r\n");
    CU_ASSERT_STRING_EQUAL(runf(cmd_unlink, "UNLINK %s %s %s", SK[2], SK[3], SK[4]), ":3\r\n");
    EXPECT(cmd_dbsize, "DBSIZE", ":3\r\n");
    CU_ASSERT_STRING_EQUAL(runf(cmd_exists, "EXISTS %s %s %s %s %s %s %s %s", SK[0], SK[1],
                                SK[2], SK[3], SK[4], SK[5], SK[6], SK[7]),
                           ":3\r\n");
    for (int i = 0; i < 5; i++) CU_ASSERT_EQUAL(where(SK[i], 0), -1);
}

/* Another shard's clock may lag; the command's time must decide expiry. */
static void test_expiry_uses_command_time(void)
{
    reset();
    const char *k = NULL;
    char key[32];
    for (int i = 0; i < 100 && !k; i++) {
        snprintf(key, sizeof key, "exp%d", i);
        if (owner(key) != 0) k = key;
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    cb_shard *s = F.sh[owner(k)];
    long long now = util_mstime();
    db_set(s, &s->dbs[0], k, strlen(k), obj_new_string("v", 1), 0);
    db_set_expire(s, &s->dbs[0], k, strlen(k), now - 10);
    shard_set_time(s, now - 1000); /* stale: the key looks alive there */
    char line[64];
    snprintf(line, sizeof line, "EXISTS %s", k);
    EXPECT(cmd_exists, line, ":0\r\n");
}

static void test_keys(void)
{
    reset();
    fill(NKEYS);
    run(cmd_keys, "KEYS *");
    static char items[NKEYS + 10][64];
    int n = bulks(items, NKEYS + 10);
    CU_ASSERT_EQUAL(n, NKEYS);
    char head[32];
    snprintf(head, sizeof head, "*%d\r\n", NKEYS);
    CU_ASSERT_EQUAL(strncmp(F.out, head, strlen(head)), 0);
    static int seen[NKEYS];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < n; i++) seen[atoi(items[i] + 4)]++;
    for (int i = 0; i < NKEYS; i++) CU_ASSERT_EQUAL(seen[i], 1);
    run(cmd_keys, "KEYS key:1?");
    CU_ASSERT_EQUAL(bulks(items, NKEYS), 10);
}

/* Runs SCAN to completion; returns the number of calls. */
static int scan_all(const char *opts, int *seen)
{
    static char items[4096][64];
    unsigned long long cursor = 0;
    int calls = 0;
    do {
        char line[128];
        snprintf(line, sizeof line, "SCAN %llu %s", cursor, opts);
        run(cmd_scan, line);
        int n = bulks(items, 4096);
        CU_ASSERT_FATAL(n >= 1);
        cursor = strtoull(items[0], NULL, 10);
        for (int i = 1; i < n; i++) seen[atoi(items[i] + 4)]++;
        calls++;
    } while (cursor != 0 && calls < 100000);
    return calls;
}

static void test_scan_visits_every_shard(void)
{
    reset();
    fill(NKEYS);
    static int seen[NKEYS];
    memset(seen, 0, sizeof seen);
    int calls = scan_all("COUNT 7", seen);
    CU_ASSERT(calls > NSH);
    for (int i = 0; i < NKEYS; i++) CU_ASSERT(seen[i] >= 1);

    memset(seen, 0, sizeof seen);
    scan_all("", seen);
    for (int i = 0; i < NKEYS; i++) CU_ASSERT(seen[i] >= 1);

    memset(seen, 0, sizeof seen);
    scan_all("COUNT 1000", seen);
    for (int i = 0; i < NKEYS; i++) CU_ASSERT(seen[i] >= 1);

    memset(seen, 0, sizeof seen);
    scan_all("COUNT 5 TYPE string", seen);
    for (int i = 0; i < NKEYS; i++) CU_ASSERT(seen[i] >= 1);

    memset(seen, 0, sizeof seen);
    scan_all("TYPE list", seen);
    for (int i = 0; i < NKEYS; i++) CU_ASSERT_EQUAL(seen[i], 0);

    memset(seen, 0, sizeof seen);
    scan_all("MATCH key:2* COUNT 3", seen);
    for (int i = 0; i < NKEYS; i++) {
        char k[32];
        snprintf(k, sizeof k, "key:%d", i);
        if (k[4] == '2') {
            CU_ASSERT(seen[i] >= 1);
        } else {
            CU_ASSERT_EQUAL(seen[i], 0);
        }
    }

    /* One key in the last shard only: the walk must still reach it. */
    reset();
    char key[32];
    for (int i = 0;; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        if (owner(key) == NSH - 1) break;
    }
    cb_shard *s = F.sh[NSH - 1];
    db_set(s, &s->dbs[0], key, strlen(key), obj_new_string("v", 1), 0);
    memset(seen, 0, sizeof seen);
    scan_all("COUNT 1", seen);
    CU_ASSERT_EQUAL(seen[atoi(key + 4)], 1);

    /* Empty keyspace: one call, cursor 0. */
    reset();
    EXPECT(cmd_scan, "SCAN 0", "*2\r\n$1\r\n0\r\n*0\r\n");
}

static void test_flush(void)
{
    reset();
    fill(30);
    F.c.dbid = 1;
    F.c.db = &F.sh[0]->dbs[1];
    mset8();
    EXPECT(cmd_dbsize, "DBSIZE", ":8\r\n");
    EXPECT(cmd_flushdb, "FLUSHDB", "+OK\r\n");
    EXPECT(cmd_dbsize, "DBSIZE", ":0\r\n");
    F.c.dbid = 0;
    F.c.db = &F.sh[0]->dbs[0];
    EXPECT(cmd_dbsize, "DBSIZE", ":30\r\n");
    EXPECT(cmd_flushall, "FLUSHALL", "+OK\r\n");
    EXPECT(cmd_dbsize, "DBSIZE", ":0\r\n");
    for (int i = 0; i < NSH; i++)
        for (int j = 0; j < F.sh[i]->ndb; j++) CU_ASSERT_EQUAL(dict_size(F.sh[i]->dbs[j].keys), 0);
}

static void test_swapdb(void)
{
    reset();
    mset8();
    EXPECT(cmd_swapdb, "SWAPDB 0 2", "+OK\r\n");
    EXPECT(cmd_dbsize, "DBSIZE", ":0\r\n");
    for (int i = 0; i < 8; i++) CU_ASSERT_EQUAL(where(SK[i], 2), owner(SK[i]));
    EXPECT(cmd_swapdb, "SWAPDB 2 0", "+OK\r\n");
    EXPECT(cmd_dbsize, "DBSIZE", ":8\r\n");
    EXPECT(cmd_swapdb, "SWAPDB 0 16", "-ERR DB index is out of range\r\n");
}

static void test_rename_across_shards(void)
{
    reset();
    char a[32], b[32], line[128];
    pair_apart("rn", a, b);
    cb_shard *sa = F.sh[owner(a)];
    long long when = util_mstime() + 100000;
    db_set(sa, &sa->dbs[0], a, strlen(a), obj_new_string("hello", 5), 0);
    db_set_expire(sa, &sa->dbs[0], a, strlen(a), when);
    /* Under LFU a fresh stamp would reset the counter to LFU_INIT_VAL; a
     * kept one stays high (the lookup may only raise it). */
    F.set.maxmemory_policy = MAXMEM_ALLKEYS_LFU;
    cb_obj *o = db_lookup_read(sa, &sa->dbs[0], a, strlen(a), DB_LOOKUP_NOTOUCH);
    o->lru = (lfu_time_minutes(util_mstime()) << 8) | 200;
    snprintf(line, sizeof line, "RENAME %s %s", a, b);
    EXPECT(cmd_rename, line, "+OK\r\n");
    F.set.maxmemory_policy = MAXMEM_NOEVICTION;
    CU_ASSERT_EQUAL(where(a, 0), -1);
    CU_ASSERT_EQUAL(where(b, 0), owner(b));
    cb_shard *sb = F.sh[owner(b)];
    CU_ASSERT_EQUAL(db_get_expire(&sb->dbs[0], b, strlen(b)), when);
    cb_obj *ob = db_lookup_read(sb, &sb->dbs[0], b, strlen(b), DB_LOOKUP_NOTOUCH);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ob);
    CU_ASSERT(ob == o);
    CU_ASSERT((ob->lru & 255) >= 200);
    snprintf(line, sizeof line, "GET %s", b);
    F.c.shard = sb; /* single-key commands run on the owner */
    F.c.db = &sb->dbs[0];
    EXPECT(cmd_get, line, "$5\r\nhello\r\n");
    F.c.shard = F.sh[0];
    F.c.db = &F.sh[0]->dbs[0];

    /* RENAMENX onto an existing key in another shard. */
    db_set(sa, &sa->dbs[0], a, strlen(a), obj_new_string("x", 1), 0);
    snprintf(line, sizeof line, "RENAMENX %s %s", a, b);
    EXPECT(cmd_renamenx, line, ":0\r\n");
    snprintf(line, sizeof line, "RENAMENX %s %s", b, a);
    EXPECT(cmd_renamenx, line, ":0\r\n");
    snprintf(line, sizeof line, "DEL %s", a);
    EXPECT(cmd_del, line, ":1\r\n");
    snprintf(line, sizeof line, "RENAMENX %s %s", b, a);
    EXPECT(cmd_renamenx, line, ":1\r\n");
    CU_ASSERT_EQUAL(where(a, 0), owner(a));
    CU_ASSERT_EQUAL(where(b, 0), -1);
    CU_ASSERT_EQUAL(db_get_expire(&sa->dbs[0], a, strlen(a)), when);
    snprintf(line, sizeof line, "RENAME %s %s", b, a);
    EXPECT(cmd_rename, line, "-ERR no such key\r\n");
}

static void test_copy_across_shards(void)
{
    reset();
    char a[32], b[32], line[128];
    pair_apart("cp", a, b);
    snprintf(line, sizeof line, "MSET %s val", a);
    run(cmd_mset, line);
    snprintf(line, sizeof line, "COPY %s %s", a, b);
    EXPECT(cmd_copy, line, ":1\r\n");
    CU_ASSERT_EQUAL(where(a, 0), owner(a));
    CU_ASSERT_EQUAL(where(b, 0), owner(b));
    cb_shard *sa = F.sh[owner(a)], *sb = F.sh[owner(b)];
    cb_obj *oa = db_lookup_read(sa, &sa->dbs[0], a, strlen(a), DB_LOOKUP_NOTOUCH);
    cb_obj *ob = db_lookup_read(sb, &sb->dbs[0], b, strlen(b), DB_LOOKUP_NOTOUCH);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ob);
    CU_ASSERT(oa != ob);
    EXPECT(cmd_copy, line, ":0\r\n");
    snprintf(line, sizeof line, "COPY %s %s DB 3", a, b);
    EXPECT(cmd_copy, line, ":1\r\n");
    CU_ASSERT_EQUAL(where(b, 3), owner(b));
    snprintf(line, sizeof line, "COPY %s %s DB 0", a, a);
    EXPECT(cmd_copy, line, "-ERR source and destination objects are the same\r\n");
    snprintf(line, sizeof line, "MGET %s %s", a, b);
    EXPECT(cmd_mget, line, "*2\r\n$3\r\nval\r\n$3\r\nval\r\n");
}

static void test_move(void)
{
    reset();
    char a[32], b[32], line[128];
    pair_apart("mv", a, b);
    snprintf(line, sizeof line, "MSET %s 1 %s 2", a, b);
    run(cmd_mset, line);
    /* The dispatcher runs MOVE with the key's owner as c->shard. */
    cb_shard *sb = F.sh[owner(b)];
    F.c.shard = sb;
    F.c.db = &sb->dbs[0];
    snprintf(line, sizeof line, "MOVE %s 5", b);
    EXPECT(cmd_move, line, ":1\r\n");
    F.c.shard = F.sh[0];
    F.c.db = &F.sh[0]->dbs[0];
    CU_ASSERT_EQUAL(where(b, 0), -1);
    CU_ASSERT_EQUAL(where(b, 5), owner(b));
    snprintf(line, sizeof line, "MOVE %s 5", a);
    EXPECT(cmd_move, line, ":1\r\n");
    CU_ASSERT_EQUAL(where(a, 5), owner(a));
    EXPECT(cmd_move, line, ":0\r\n");
}

static void test_randomkey(void)
{
    reset();
    EXPECT(cmd_randomkey, "RANDOMKEY", "$-1\r\n");
    fill(60);
    int hit[NSH] = {0};
    char items[2][64];
    for (int i = 0; i < 300; i++) {
        run(cmd_randomkey, "RANDOMKEY");
        CU_ASSERT_EQUAL_FATAL(bulks(items, 2), 1);
        int w = where(items[0], 0);
        CU_ASSERT(w >= 0);
        if (w >= 0) hit[w]++;
    }
    for (int i = 0; i < NSH; i++) CU_ASSERT(hit[i] > 0);

    /* Only expired keys in one shard, one live key elsewhere. */
    reset();
    long long now = util_mstime();
    char key[32];
    const char *live = NULL;
    char livebuf[32];
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        cb_shard *s = F.sh[owner(key)];
        db_set(s, &s->dbs[0], key, strlen(key), obj_new_string("v", 1), 0);
        if (!live && owner(key) == NSH - 1) {
            snprintf(livebuf, sizeof livebuf, "%s", key);
            live = livebuf;
        } else {
            db_set_expire(s, &s->dbs[0], key, strlen(key), now - 1);
        }
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(live);
    char want[64];
    snprintf(want, sizeof want, "$%zu\r\n%s\r\n", strlen(live), live);
    EXPECT(cmd_randomkey, "RANDOMKEY", want);
}

static void test_lcs_across_shards(void)
{
    reset();
    char a[32], b[32], line[128];
    pair_apart("lcs", a, b);
    snprintf(line, sizeof line, "MSET %s ohmytext %s mynewtext", a, b);
    run(cmd_mset, line);
    snprintf(line, sizeof line, "LCS %s %s", a, b);
    EXPECT(cmd_lcs, line, "$6\r\nmytext\r\n");
    snprintf(line, sizeof line, "LCS %s %s LEN", a, b);
    EXPECT(cmd_lcs, line, ":6\r\n");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("multishard", suite_init, suite_clean);
    CU_add_test(s, "MSET/MGET place keys in their owner", test_mset_mget_owner);
    CU_add_test(s, "MSETNX across shards", test_msetnx);
    CU_add_test(s, "EXISTS/TOUCH/DEL/UNLINK/DBSIZE count all shards", test_counts);
    CU_add_test(s, "expiry uses the command's time", test_expiry_uses_command_time);
    CU_add_test(s, "KEYS lists every shard", test_keys);
    CU_add_test(s, "SCAN visits every shard", test_scan_visits_every_shard);
    CU_add_test(s, "FLUSHDB/FLUSHALL empty every shard", test_flush);
    CU_add_test(s, "SWAPDB swaps in every shard", test_swapdb);
    CU_add_test(s, "RENAME/RENAMENX across shards", test_rename_across_shards);
    CU_add_test(s, "COPY across shards", test_copy_across_shards);
    CU_add_test(s, "MOVE stays in the key's shard", test_move);
    CU_add_test(s, "RANDOMKEY draws from every shard", test_randomkey);
    CU_add_test(s, "LCS across shards", test_lcs_across_shards);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
