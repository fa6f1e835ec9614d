/* cmd_debug.c — DEBUG, the testing back door, with the subcommands test
 * suites lean on: HELP, SLEEP, SET-ACTIVE-EXPIRE, OBJECT, DIGEST,
 * DIGEST-VALUE, RELOAD, CHANGE-REPL-ID, POPULATE, ERROR, LOG. Replies and
 * errors are Redis 7.0's byte for byte. Whether DEBUG may run at all
 * (enable-debug-command) is decided by the dispatcher before we get here.
 *
 * Like Redis, the subcommands look keys up in the raw dicts: a debug command
 * must see logically expired keys too.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "../client.h"
#include "../worker.h"
#include "../resp/reply.h"
#include "../../platform/log.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"
#include "../../store/db.h"
#include "../../store/digest.h"

/* Redis 7.0's help lines for the subcommands we implement, in its order. */
static const char *const debug_help[] = {
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Prints this help.",
    NULL,
};

/* Arg i as a NUL-terminated string, for the C library parsers Redis uses
 * here (strtod, atoi): the argument bytes are not terminated. */
static void arg_cstr(const cb_client *c, int i, char *buf, size_t cap)
{
    size_t n = ARGL(c, i) < cap - 1 ? ARGL(c, i) : cap - 1;
    memcpy(buf, ARGP(c, i), n);
    buf[n] = '\0';
}

static void reply_subcommand_error(cb_client *c)
{
    char name[129];
    arg_cstr(c, 1, name, sizeof(name));
    /* Formatted errors never carry line breaks. */
    for (char *p = name; *p; p++)
        if (*p == '\r' || *p == '\n') *p = ' ';
    reply_errorf(c, "unknown subcommand or wrong number of arguments for '%s'. Try DEBUG HELP.",
                 name);
}

/* ------------------------------------------------- serialized length */

/* Bytes of an RDB length prefix. */
static size_t rdb_len_size(uint64_t len)
{
    if (len < (1u << 6)) return 1;
    if (len < (1u << 14)) return 2;
    if (len <= UINT32_MAX) return 5;
    return 9;
}

/* Bytes of RDB's integer string encoding (type byte + 1/2/4 bytes), or 0
 * when v does not fit 32 bits. */
static size_t rdb_int_size(long long v)
{
    if (v >= -(1LL << 7) && v <= (1LL << 7) - 1) return 2;
    if (v >= -(1LL << 15) && v <= (1LL << 15) - 1) return 3;
    if (v >= -(1LL << 31) && v <= (1LL << 31) - 1) return 5;
    return 0;
}

/* Length of a string as RDB stores it: short canonical integers as
 * integers, everything else length-prefixed. rdbcompression (LZF for
 * strings over 20 bytes) is not modelled: the persistence issue brings the
 * real encoder, and this should then ask it instead. */
static size_t rdb_string_size(const cb_obj *o)
{
    long long v;
    if (o->encoding == OBJ_ENC_INT) {
        v = (long long)(intptr_t)o->ptr;
        size_t n = rdb_int_size(v);
        if (n) return n;
        char buf[CB_LL2STR_MAX];
        size_t l = util_ll2str(buf, sizeof(buf), v);
        return rdb_len_size(l) + l;
    }
    char tmp[32];
    size_t len;
    const char *p = obj_str(o, tmp, &len);
    if (len <= 11 && util_str2ll(p, len, &v)) {
        char buf[CB_LL2STR_MAX];
        size_t l = util_ll2str(buf, sizeof(buf), v);
        size_t n = rdb_int_size(v);
        if (l == len && memcmp(buf, p, len) == 0 && n) return n;
    }
    return rdb_len_size(len) + len;
}

static size_t rdb_object_size(const cb_obj *o)
{
    /* One type byte is not counted: Redis reports only the value's bytes. */
    switch (o->type) {
    case OBJ_STRING: return rdb_string_size(o);
    default: return 0; /* other types bring their encoders with them */
    }
}

/* ---------------------------------------------------------- subcommands */

static void debug_object(cb_client *c)
{
    dict_entry *e = dict_find(c->db->keys, ARGP(c, 2), ARGL(c, 2));
    if (!e) {
        reply_error(c, ERR_NO_SUCH_KEY);
        return;
    }
    cb_obj *o = e->v.val;
    unsigned clock = c->shard->lru_clock ? c->shard->lru_clock : lru_clock_of(util_mstime());
    char line[256];
    snprintf(line, sizeof(line),
             "Value at:%p refcount:%d encoding:%s serializedlength:%zu lru:%d "
             "lru_seconds_idle:%llu",
             (void *)o, o->refcount, obj_encoding_name(o->encoding), rdb_object_size(o),
             (int)o->lru, obj_idle_ms(o, clock) / 1000);
    reply_status(c, line);
}

static void debug_sleep(cb_client *c)
{
    char buf[128];
    arg_cstr(c, 2, buf, sizeof(buf));
    /* Redis parses with strtod and ignores junk: "abc" sleeps 0 seconds. */
    long long us = (long long)(strtod(buf, NULL) * 1000000);
    if (us > 0) {
        struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
        }
    }
    reply_ok(c);
}

static void debug_set_active_expire(cb_client *c)
{
    char buf[64];
    arg_cstr(c, 2, buf, sizeof(buf));
    int v = atoi(buf); /* Redis's parse: junk is 0, 2 counts as on */
    /* A server-wide switch: every shard follows it. */
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (w && w->shard) __atomic_store_n(&w->shard->active_expire_enabled, v, __ATOMIC_RELAXED);
    }
    if (c->shard) c->shard->active_expire_enabled = v;
    reply_ok(c);
}

static void reply_digest(cb_client *c, const unsigned char d[20])
{
    char hex[41];
    digest_to_hex(d, hex);
    reply_status(c, hex);
}

static void debug_digest(cb_client *c)
{
    int n = 0;
    cb_shard **shards = cb_malloc(sizeof(*shards) * (size_t)(g_server.nworkers + 1));
    for (int i = 0; i < g_server.nworkers; i++)
        if (g_server.workers[i] && g_server.workers[i]->shard)
            shards[n++] = g_server.workers[i]->shard;
    if (n == 0 && c->shard) shards[n++] = c->shard;
    unsigned char d[20];
    digest_dataset(shards, n, d);
    cb_free(shards);
    reply_digest(c, d);
}

static void debug_digest_value(cb_client *c)
{
    reply_array_len(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        unsigned char d[20];
        dict_entry *e = dict_find(c->db->keys, ARGP(c, j), ARGL(c, j));
        int has_expire = e && dict_find(c->db->expires, ARGP(c, j), ARGL(c, j)) != NULL;
        digest_object(e ? e->v.val : NULL, has_expire, d);
        reply_digest(c, d);
    }
}

/* One key held across the reload. */
typedef struct reload_ent {
    int db;
    cbstr key;
    cb_obj *val;
    long long expire; /* -1: none */
} reload_ent;

/* What loading the value back from an RDB file would create: strings get
 * the encoding a load gives them (int / embstr / raw by their bytes). */
static cb_obj *reload_value(cb_obj *o)
{
    if (o->type != OBJ_STRING) return o;
    char tmp[32];
    size_t len;
    const char *p = obj_str(o, tmp, &len);
    cb_obj *n = obj_new_string_encoded(p, len);
    obj_decr_ref(o);
    return n;
}

/* DEBUG RELOAD for the data types that exist so far, without files: every
 * key of the shard is taken out, the shard emptied, and the keys put back
 * through the object constructors a load uses, dropping those whose TTL has
 * passed (a master's load skips them) and clearing the change counter (the
 * save does). The persistence issue replaces this with a real RDB save and
 * load of dir/dbfilename. Other workers' shards belong to their threads, so
 * this reloads the caller's shard. */
static void debug_reload(cb_client *c)
{
    int flush = 1, save = 1, merge = 0;
    for (int j = 2; j < c->argc; j++) {
        if (arg_eq(c, j, "merge")) {
            merge = 1;
        } else if (arg_eq(c, j, "noflush")) {
            flush = 0;
        } else if (arg_eq(c, j, "nosave")) {
            save = 0;
        } else {
            reply_error(c, "DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
            return;
        }
    }
    if (!save) {
        /* Nothing was ever written to load back. */
        reply_error(c, "Error trying to load the RDB dump, check server logs.");
        return;
    }

    cb_shard *s = c->shard;
    size_t total = 0;
    for (int j = 0; j < s->ndb; j++) total += dict_size(s->dbs[j].keys);
    reload_ent *ents = cb_malloc(sizeof(*ents) * (total ? total : 1));
    size_t n = 0;
    for (int j = 0; j < s->ndb; j++) {
        cb_db *db = &s->dbs[j];
        dict_iter it;
        dict_iter_init(&it, db->keys, 0);
        dict_entry *e;
        while ((e = dict_iter_next(&it)) != NULL && n < total) {
            reload_ent *r = &ents[n++];
            size_t klen = cbstr_len(e->key);
            dict_entry *x = dict_find(db->expires, e->key, klen);
            r->db = j;
            r->key = cbstr_dup(e->key);
            r->val = e->v.val;
            obj_incr_ref(r->val); /* survives the flush below */
            r->expire = x ? x->v.s64 : -1;
        }
        dict_iter_release(&it);
    }

    if (flush) shard_empty(s);

    long long now = util_mstime();
    for (size_t i = 0; i < n; i++) {
        reload_ent *r = &ents[i];
        cb_db *db = &s->dbs[r->db];
        size_t klen = cbstr_len(r->key);
        if (r->expire != -1 && r->expire < now) {
            obj_decr_ref(r->val);
        } else {
            cb_obj *v = reload_value(r->val);
            if (!flush && dict_find(db->keys, r->key, klen)) {
                /* Without MERGE Redis dies on the duplicate; we keep running
                 * and let the saved copy win, as MERGE would. */
                (void)merge;
                db_set(s, db, r->key, klen, v, 0);
            } else {
                db_add(s, db, r->key, klen, v);
            }
            if (r->expire != -1) db_set_expire(s, db, r->key, klen, r->expire);
        }
        cbstr_free(r->key);
    }
    cb_free(ents);
    s->dirty = 0;
    reply_ok(c);
}

static void debug_change_repl_id(cb_client *c)
{
    util_random_hex(g_server.master_replid, 40);
    reply_ok(c);
}

static void debug_populate(cb_client *c)
{
    /* Redis answers the same error for negative and non-numeric values. */
    static const char *const not_positive = "value is out of range, must be positive";
    long long count, valsize = 0;
    if (arg_ll_range(c, 2, &count, 0, LLONG_MAX, not_positive) != 0) return;
    if (c->argc == 5 && arg_ll_range(c, 4, &valsize, 0, LLONG_MAX, not_positive) != 0) return;
    (void)dict_expand(c->db->keys, (size_t)count); /* -1 only while rehashing */
    const char *prefix = c->argc >= 4 ? ARGP(c, 3) : "key";
    int plen = c->argc >= 4 ? (int)(ARGL(c, 3) > 200 ? 200 : ARGL(c, 3)) : 3;
    for (long long j = 0; j < count; j++) {
        char key[128], val[64];
        /* Redis formats the key into 128 bytes: longer names are cut. */
        int kl = snprintf(key, sizeof(key), "%.*s:%lld", plen, prefix, j);
        if (kl >= (int)sizeof(key)) kl = (int)sizeof(key) - 1;
        if (db_lookup_write(c->shard, c->db, key, (size_t)kl)) continue;
        int vl = snprintf(val, sizeof(val), "value:%lld", j);
        cb_obj *o;
        if (valsize == 0) {
            o = obj_new_string(val, (size_t)vl);
        } else {
            /* The value text, cut or zero-padded to exactly valsize bytes. */
            char *buf = cb_calloc((size_t)valsize);
            memcpy(buf, val, (size_t)valsize < (size_t)vl ? (size_t)valsize : (size_t)vl);
            o = obj_new_string(buf, (size_t)valsize);
            cb_free(buf);
        }
        db_add(c->shard, c->db, key, (size_t)kl, o);
        db_signal_modified(c->shard, c->db, key, (size_t)kl);
    }
    reply_ok(c);
}

/* The text goes out as the whole error line: Redis puts a '-' before it and
 * adds no "ERR " of its own. */
static void debug_error(cb_client *c)
{
    char *msg = cb_malloc(ARGL(c, 2) + 1);
    msg[0] = '-';
    memcpy(msg + 1, ARGP(c, 2), ARGL(c, 2));
    reply_error_len(c, msg, ARGL(c, 2) + 1);
    cb_free(msg);
}

void cmd_debug(cb_client *c)
{
    if (c->argc == 2 && arg_eq(c, 1, "help")) {
        reply_help(c, debug_help);
    } else if (arg_eq(c, 1, "sleep") && c->argc == 3) {
        debug_sleep(c);
    } else if (arg_eq(c, 1, "set-active-expire") && c->argc == 3) {
        debug_set_active_expire(c);
    } else if (arg_eq(c, 1, "object") && c->argc == 3) {
        debug_object(c);
    } else if (arg_eq(c, 1, "digest") && c->argc == 2) {
        debug_digest(c);
    } else if (arg_eq(c, 1, "digest-value") && c->argc >= 2) {
        debug_digest_value(c);
    } else if (arg_eq(c, 1, "reload")) {
        debug_reload(c);
    } else if (arg_eq(c, 1, "change-repl-id") && c->argc == 2) {
        debug_change_repl_id(c);
    } else if (arg_eq(c, 1, "populate") && c->argc >= 3 && c->argc <= 5) {
        debug_populate(c);
    } else if (arg_eq(c, 1, "error") && c->argc == 3) {
        debug_error(c);
    } else if (arg_eq(c, 1, "log") && c->argc == 3) {
        cb_log(LOG_WARNING, "DEBUG LOG: %.*s", (int)ARGL(c, 2), ARGP(c, 2));
        reply_ok(c);
    } else {
        reply_subcommand_error(c);
    }
}
