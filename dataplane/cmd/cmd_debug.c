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
#include "../../persist/rdb.h"
#include "../../persist/bgsave.h"
#include "../../platform/config.h"
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
    reply_subcommand_syntax(c);
}

/* ------------------------------------------------- serialized length */

/* Bytes of the value as an RDB file would store it, compression included
 * (Redis's rdbSavedObjectLen; the type byte is not counted). */
static size_t rdb_object_size(const cb_obj *o)
{
    if (rdb_object_type(o) < 0) return 0; /* types arrive with their encoders */
    cbstr b = rdb_enc_object(cbstr_new("", 0), o, 1);
    size_t n = cbstr_len(b);
    cbstr_free(b);
    return n;
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
        /* Each key in its own shard (DEBUG runs with the others parked). */
        cb_db *db = client_shard_db(c, client_key_shard(c, ARGP(c, j), ARGL(c, j)));
        dict_entry *e = dict_find(db->keys, ARGP(c, j), ARGL(c, j));
        int has_expire = e && dict_find(db->expires, ARGP(c, j), ARGL(c, j)) != NULL;
        digest_object(e ? e->v.val : NULL, has_expire, d);
        reply_digest(c, d);
    }
}

/* DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE], as Redis 7.0: save every shard
 * to dir/dbfilename (the process runs in dir), empty them, load the file
 * back. The dispatcher holds every shard for DEBUG, so we may touch them
 * all. Unlike Redis, a duplicate key under NOFLUSH without MERGE fails the
 * load (which empties the shards) instead of killing the server. */
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
    int n = client_nshards(c);
    if (n < 1) n = 1;
    cb_shard **shards = cb_malloc(sizeof(*shards) * (size_t)n);
    for (int i = 0; i < n; i++) shards[i] = client_shard_at(c, i);
    char *err = NULL;
    if (save) {
        if (rdb_save_file(shards, n, g_config.dbfilename, &err) < 0) {
            cb_log(LOG_WARNING, "%s", err);
            cb_free(err);
            cb_free(shards);
            reply_error(c, "Error trying to save the DB, check server logs.");
            return;
        }
        for (int i = 0; i < n; i++) shards[i]->dirty = 0;
        bgsave_note_saved();
        cb_log(LOG_NOTICE, "DB saved on disk");
    }
    if (flush)
        for (int i = 0; i < n; i++) shard_empty(shards[i]);
    rdb_load_info info = { .flags = merge ? RDB_LOAD_ALLOW_DUP : 0 };
    int rc = rdb_load_file_ex(shards, n, g_config.dbfilename, &info, &err);
    cb_free(shards);
    if (rc != 0) {
        if (rc > 0)
            cb_log(LOG_WARNING, "Failed loading the RDB file %s: %s", g_config.dbfilename,
                   strerror(ENOENT));
        else
            cb_log(LOG_WARNING, "Failed loading the RDB file %s: %s", g_config.dbfilename, err);
        cb_free(err);
        reply_error(c, "Error trying to load the RDB dump, check server logs.");
        return;
    }
    bgsave_note_load(info.keys_loaded, info.keys_expired);
    cb_log(LOG_WARNING, "DB reloaded by DEBUG RELOAD");
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
    /* Each key goes to the shard that owns it (DEBUG runs with every other
     * worker parked), so the keys are reachable by every later command. */
    int nsh = client_nshards(c) > 1 ? client_nshards(c) : 1;
    for (int i = 0; i < nsh; i++) {
        cb_shard *sh = nsh > 1 ? client_shard_at(c, i) : c->shard;
        (void)dict_expand(client_shard_db(c, sh)->keys, (size_t)(count / nsh));
    }
    const char *prefix = c->argc >= 4 ? ARGP(c, 3) : "key";
    int plen = c->argc >= 4 ? (int)(ARGL(c, 3) > 200 ? 200 : ARGL(c, 3)) : 3;
    for (long long j = 0; j < count; j++) {
        char key[128], val[64];
        /* Redis formats the key into 128 bytes: longer names are cut. */
        int kl = snprintf(key, sizeof(key), "%.*s:%lld", plen, prefix, j);
        if (kl >= (int)sizeof(key)) kl = (int)sizeof(key) - 1;
        cb_shard *sh = nsh > 1 ? client_key_shard(c, key, (size_t)kl) : c->shard;
        cb_db *db = nsh > 1 ? client_shard_db(c, sh) : c->db;
        /* A read-only replica's expired key is still there (store/db.h). */
        if (db_lookup_write(sh, db, key, (size_t)kl) || dict_find(db->keys, key, (size_t)kl))
            continue;
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
        db_add(sh, db, key, (size_t)kl, o);
        db_signal_modified(sh, db, key, (size_t)kl);
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
