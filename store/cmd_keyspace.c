/* cmd_keyspace.c — the generic keyspace commands: DEL/UNLINK, EXISTS, TYPE,
 * TOUCH, the EXPIRE and TTL families, PERSIST, SCAN, KEYS, RANDOMKEY,
 * DBSIZE, FLUSHDB/FLUSHALL, SELECT, MOVE, SWAPDB, RENAME/RENAMENX, COPY.
 *
 * Handlers sit between the store (db.h) and the reply encoder (reply.h):
 * the dispatcher has checked arity, set the shard's time and the client's
 * db; a handler parses its options, works on c->shard / c->db, and replies.
 * Replies and errors match Redis 7.0 byte for byte, including which error
 * wins when several arguments are bad (options are checked in Redis's
 * order). Every write signals each key it touched and bumps s->dirty.
 * Multi-key commands work on the client's shard (one shard per worker).
 */
#include "db.h"
#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define KEY(c, i) ARGP(c, i), ARGL(c, i)

/* Redis's getIntFromObjectOrReply: a strict long long, then an int range
 * check with its own message; msg replaces both texts. 0 ok, -1 replied. */
static int arg_int(cb_client *c, int i, int *out, const char *msg)
{
    long long v;
    if (arg_ll(c, i, &v, msg)) return -1;
    if (v < INT_MIN || v > INT_MAX) {
        if (msg) reply_error(c, msg);
        else reply_errorf(c, "value is out of range, value must between %d and %d",
                          INT_MIN, INT_MAX);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int same_bytes(const cb_client *c, int a, int b)
{
    return ARGL(c, a) == ARGL(c, b) && memcmp(ARGP(c, a), ARGP(c, b), ARGL(c, a)) == 0;
}

static void wrote(cb_client *c, cb_db *db, const char *k, size_t len)
{
    db_signal_modified(c->shard, db, k, len);
    c->shard->dirty++;
}

/* ------------------------------------------------------------------------
 * DEL, UNLINK, EXISTS, TYPE, TOUCH
 * ---------------------------------------------------------------------- */

static void del_generic(cb_client *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        db_expire_if_needed(c->shard, c->db, KEY(c, i));
        if (db_delete(c->shard, c->db, KEY(c, i))) {
            wrote(c, c->db, KEY(c, i));
            n++;
        }
    }
    reply_int(c, n);
}

void cmd_del(cb_client *c) { del_generic(c); }

/* Values are freed synchronously for now; UNLINK differs only in intent. */
void cmd_unlink(cb_client *c) { del_generic(c); }

void cmd_exists(cb_client *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++)
        if (db_lookup_read(c->shard, c->db, KEY(c, i), DB_LOOKUP_NOTOUCH)) n++;
    reply_int(c, n);
}

void cmd_type(cb_client *c)
{
    cb_obj *o = db_lookup_read(c->shard, c->db, KEY(c, 1), DB_LOOKUP_NOTOUCH);
    reply_status(c, o ? obj_type_name(o->type) : "none");
}

void cmd_touch(cb_client *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++)
        if (db_lookup_read(c->shard, c->db, KEY(c, i), 0)) n++;
    reply_int(c, n);
}

/* ------------------------------------------------------------------------
 * EXPIRE family
 * ---------------------------------------------------------------------- */

#define EXP_NX 1
#define EXP_XX 2
#define EXP_GT 4
#define EXP_LT 8

/* Options after "key time"; 0 ok, -1 replied. */
static int parse_expire_flags(cb_client *c, int *flags)
{
    for (int j = 3; j < c->argc; j++) {
        if (arg_eq(c, j, "nx")) *flags |= EXP_NX;
        else if (arg_eq(c, j, "xx")) *flags |= EXP_XX;
        else if (arg_eq(c, j, "gt")) *flags |= EXP_GT;
        else if (arg_eq(c, j, "lt")) *flags |= EXP_LT;
        else {
            /* Redis prints the option as a C string: it ends at a NUL. */
            size_t n = strnlen(ARGP(c, j), ARGL(c, j));
            reply_errorf(c, "Unsupported option %.*s", (int)n, ARGP(c, j));
            return -1;
        }
    }
    if ((*flags & EXP_NX) && (*flags & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(c, "NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((*flags & EXP_GT) && (*flags & EXP_LT)) {
        reply_error(c, "GT and LT options at the same time are not compatible");
        return -1;
    }
    return 0;
}

/* basetime is added to the argument (now for relative forms, 0 for *AT);
 * seconds: the argument is in seconds. */
static void expire_generic(cb_client *c, long long basetime, int seconds,
                           const char *name)
{
    cb_shard *s = c->shard;
    int flags = 0;
    long long when;
    if (parse_expire_flags(c, &flags)) return;
    if (arg_ll(c, 2, &when, NULL)) return;
    /* Negative times are allowed (they delete the key); only overflow of
     * the unit conversion or of the base addition is an error. */
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) goto bad_time;
        when *= 1000;
    }
    if (when > LLONG_MAX - basetime) goto bad_time;
    when += basetime;

    if (!db_lookup_write(s, c->db, KEY(c, 1))) {
        reply_int(c, 0);
        return;
    }
    if (flags) {
        long long cur = db_get_expire(c->db, KEY(c, 1));
        /* No TTL counts as an infinite one. */
        if ((flags & EXP_NX) && cur != -1) goto not_set;
        if ((flags & EXP_XX) && cur == -1) goto not_set;
        if ((flags & EXP_GT) && (cur == -1 || when <= cur)) goto not_set;
        if ((flags & EXP_LT) && cur != -1 && when >= cur) goto not_set;
    }
    if (when <= s->now_ms) {
        db_delete(s, c->db, KEY(c, 1));
    } else {
        db_set_expire(s, c->db, KEY(c, 1), when);
    }
    wrote(c, c->db, KEY(c, 1));
    reply_int(c, 1);
    return;
not_set:
    reply_int(c, 0);
    return;
bad_time:
    reply_errorf(c, "invalid expire time in '%s' command", name);
}

void cmd_expire(cb_client *c) { expire_generic(c, c->shard->now_ms, 1, "expire"); }
void cmd_pexpire(cb_client *c) { expire_generic(c, c->shard->now_ms, 0, "pexpire"); }
void cmd_expireat(cb_client *c) { expire_generic(c, 0, 1, "expireat"); }
void cmd_pexpireat(cb_client *c) { expire_generic(c, 0, 0, "pexpireat"); }

static void ttl_generic(cb_client *c, int in_ms, int absolute)
{
    if (!db_lookup_read(c->shard, c->db, KEY(c, 1), DB_LOOKUP_NOTOUCH)) {
        reply_int(c, -2);
        return;
    }
    long long when = db_get_expire(c->db, KEY(c, 1));
    if (when == -1) {
        reply_int(c, -1);
        return;
    }
    long long t = absolute ? when : when - c->shard->now_ms;
    if (t < 0) t = 0;
    if (in_ms) reply_int(c, t);
    /* Rounded to the nearest second; unsigned so that a deadline near
     * LLONG_MAX rounds instead of overflowing. */
    else reply_int(c, (long long)(((unsigned long long)t + 500) / 1000));
}

void cmd_ttl(cb_client *c) { ttl_generic(c, 0, 0); }
void cmd_pttl(cb_client *c) { ttl_generic(c, 1, 0); }
void cmd_expiretime(cb_client *c) { ttl_generic(c, 0, 1); }
void cmd_pexpiretime(cb_client *c) { ttl_generic(c, 1, 1); }

void cmd_persist(cb_client *c)
{
    if (!db_lookup_write(c->shard, c->db, KEY(c, 1))) {
        reply_int(c, 0);
        return;
    }
    if (!db_remove_expire(c->db, KEY(c, 1))) {
        reply_int(c, 0);
        return;
    }
    wrote(c, c->db, KEY(c, 1));
    reply_int(c, 1);
}

/* ------------------------------------------------------------------------
 * SCAN, KEYS, RANDOMKEY, DBSIZE
 * ---------------------------------------------------------------------- */

/* Redis reads the cursor with strtoul: sign and leading zeros accepted,
 * leading space, trailing junk and overflow rejected. 0 ok, -1 replied. */
static int parse_cursor(cb_client *c, int i, uint64_t *out)
{
    char stackbuf[64];
    size_t len = ARGL(c, i);
    char *buf = len < sizeof(stackbuf) ? stackbuf : cb_malloc(len + 1);
    memcpy(buf, ARGP(c, i), len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    unsigned long v = strtoul(buf, &end, 10);
    int bad = isspace((unsigned char)buf[0]) || *end != '\0' || errno == ERANGE;
    if (buf != stackbuf) cb_free(buf);
    if (bad) {
        reply_error(c, "invalid cursor");
        return -1;
    }
    *out = v;
    return 0;
}

void cmd_scan(cb_client *c)
{
    cb_shard *s = c->shard;
    uint64_t cursor;
    if (parse_cursor(c, 1, &cursor)) return;

    long count = 10;
    const char *pat = NULL, *type = NULL;
    size_t patlen = 0, typelen = 0;
    int use_pattern = 0;
    for (int i = 2; i < c->argc;) {
        int left = c->argc - i;
        if (arg_eq(c, i, "count") && left >= 2) {
            long long v;
            if (arg_ll(c, i + 1, &v, NULL)) return;
            if (v < 1) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
            count = (long)v;
            i += 2;
        } else if (arg_eq(c, i, "match") && left >= 2) {
            pat = ARGP(c, i + 1);
            patlen = ARGL(c, i + 1);
            use_pattern = !(patlen == 1 && pat[0] == '*');
            i += 2;
        } else if (arg_eq(c, i, "type") && left >= 2) {
            type = ARGP(c, i + 1);
            typelen = ARGL(c, i + 1);
            i += 2;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }

    db_scan_keys ks = { 0 };
    cursor = db_scan(c->db, cursor, count, &ks);

    /* Filter after the step, as Redis does: a call may return fewer than
     * COUNT names, even none, with a non-zero cursor. */
    size_t kept = 0;
    for (size_t j = 0; j < ks.n; j++) {
        cbstr k = ks.keys[j];
        size_t kl = cbstr_len(k);
        int drop = use_pattern && !util_globmatch(pat, patlen, k, kl, 0);
        if (!drop && type) {
            cb_obj *o = db_lookup_read(s, c->db, k, kl, DB_LOOKUP_NOTOUCH);
            if (!util_eq_nocase(type, typelen, o ? obj_type_name(o->type) : "none"))
                drop = 1;
        }
        if (!drop && db_expire_if_needed(s, c->db, k, kl)) drop = 1;
        if (drop) cbstr_free(k);
        else ks.keys[kept++] = k;
    }
    ks.n = kept;

    reply_array_len(c, 2);
    /* Redis prints the unsigned cursor through a signed conversion. */
    reply_bulk_ll(c, (long long)cursor);
    reply_array_len(c, (long)ks.n);
    for (size_t j = 0; j < ks.n; j++) reply_bulk(c, ks.keys[j], cbstr_len(ks.keys[j]));
    db_scan_keys_free(&ks);
}

void cmd_keys(cb_client *c)
{
    const char *pat = ARGP(c, 1);
    size_t plen = ARGL(c, 1);
    int all = plen == 1 && pat[0] == '*';
    long n = 0;
    void *h = reply_deferred_len(c);
    dict_iter it;
    dict_iter_init(&it, c->db->keys, 1);
    dict_entry *e;
    while ((e = dict_iter_next(&it)) != NULL) {
        size_t kl = cbstr_len(e->key);
        /* Expired keys are hidden but not deleted: deleting would disturb
         * the iteration, and the cycles will get them. */
        if ((all || util_globmatch(pat, plen, e->key, kl, 0)) &&
            !db_key_is_expired(c->shard, c->db, e->key, kl)) {
            reply_bulk(c, e->key, kl);
            n++;
        }
        if (c->flags & CLIENT_CLOSE_ASAP) break;
    }
    dict_iter_release(&it);
    reply_set_deferred_len(c, h, n, 'a');
}

void cmd_randomkey(cb_client *c)
{
    cbstr k = db_random_key(c->shard, c->db);
    if (!k) {
        reply_null(c);
        return;
    }
    reply_bulk(c, k, cbstr_len(k));
    cbstr_free(k);
}

void cmd_dbsize(cb_client *c)
{
    /* Counts keys not yet reclaimed by expiry, as Redis does. */
    reply_int(c, (long long)dict_size(c->db->keys));
}

/* ------------------------------------------------------------------------
 * FLUSHDB, FLUSHALL, SELECT, SWAPDB
 * ---------------------------------------------------------------------- */

/* [ASYNC|SYNC]: both free synchronously until lazy free exists.
 * 0 ok, -1 replied. */
static int parse_flush_mode(cb_client *c)
{
    if (c->argc == 1) return 0;
    if (c->argc == 2 && (arg_eq(c, 1, "sync") || arg_eq(c, 1, "async"))) return 0;
    reply_error(c, ERR_SYNTAX);
    return -1;
}

void cmd_flushdb(cb_client *c)
{
    if (parse_flush_mode(c)) return;
    db_signal_modified(c->shard, c->db, NULL, 0);
    c->shard->dirty += (uint64_t)db_empty(c->shard, c->db);
    reply_ok(c);
}

void cmd_flushall(cb_client *c)
{
    if (parse_flush_mode(c)) return;
    cb_shard *s = c->shard;
    for (int i = 0; i < s->ndb; i++) db_signal_modified(s, &s->dbs[i], NULL, 0);
    s->dirty += (uint64_t)shard_empty(s);
    /* Counted once more as the FLUSHALL itself (Redis resets the save
     * point's counter here and then counts the command). */
    s->dirty++;
    reply_ok(c);
}

void cmd_select(cb_client *c)
{
    int id;
    if (arg_int(c, 1, &id, NULL)) return;
    if (client_select_db(c, id) != 0) reply_error(c, ERR_DB_INDEX);
    else reply_ok(c);
}

void cmd_swapdb(cb_client *c)
{
    cb_shard *s = c->shard;
    int a, b;
    if (arg_int(c, 1, &a, "invalid first DB index")) return;
    if (arg_int(c, 2, &b, "invalid second DB index")) return;
    if (a < 0 || a >= s->ndb || b < 0 || b >= s->ndb) {
        reply_error(c, ERR_DB_INDEX);
        return;
    }
    if (a != b) {
        db_signal_modified(s, &s->dbs[a], NULL, 0);
        db_signal_modified(s, &s->dbs[b], NULL, 0);
    }
    shard_swapdb(s, a, b);
    s->dirty++;
    reply_ok(c);
}

/* ------------------------------------------------------------------------
 * MOVE, RENAME, RENAMENX, COPY
 * ---------------------------------------------------------------------- */

void cmd_move(cb_client *c)
{
    cb_shard *s = c->shard;
    int id;
    if (arg_int(c, 2, &id, NULL)) return;
    if (id < 0 || id >= s->ndb) {
        reply_error(c, ERR_DB_INDEX);
        return;
    }
    cb_db *src = c->db, *dst = &s->dbs[id];
    if (src == dst) {
        reply_error(c, ERR_SAME_OBJECT);
        return;
    }
    cb_obj *o = db_lookup_write(s, src, KEY(c, 1));
    if (!o) {
        reply_int(c, 0);
        return;
    }
    long long when = db_get_expire(src, KEY(c, 1));
    if (db_lookup_write(s, dst, KEY(c, 1))) {
        reply_int(c, 0);
        return;
    }
    /* The value object itself moves, access stamp included. */
    obj_incr_ref(o);
    db_add_keep_stamp(s, dst, KEY(c, 1), o);
    if (when != -1) db_set_expire(s, dst, KEY(c, 1), when);
    db_delete(s, src, KEY(c, 1));
    db_signal_modified(s, src, KEY(c, 1));
    wrote(c, dst, KEY(c, 1));
    reply_int(c, 1);
}

static void rename_generic(cb_client *c, int nx)
{
    cb_shard *s = c->shard;
    cb_obj *o = db_lookup_write(s, c->db, KEY(c, 1));
    if (!o) {
        reply_error(c, ERR_NO_SUCH_KEY);
        return;
    }
    if (same_bytes(c, 1, 2)) {
        if (nx) reply_int(c, 0);
        else reply_ok(c);
        return;
    }
    long long when = db_get_expire(c->db, KEY(c, 1));
    if (db_lookup_write(s, c->db, KEY(c, 2))) {
        if (nx) {
            reply_int(c, 0);
            return;
        }
        db_delete(s, c->db, KEY(c, 2));
    }
    obj_incr_ref(o);
    db_add_keep_stamp(s, c->db, KEY(c, 2), o);
    if (when != -1) db_set_expire(s, c->db, KEY(c, 2), when);
    db_delete(s, c->db, KEY(c, 1));
    db_signal_modified(s, c->db, KEY(c, 1));
    wrote(c, c->db, KEY(c, 2));
    if (nx) reply_int(c, 1);
    else reply_ok(c);
}

void cmd_rename(cb_client *c) { rename_generic(c, 0); }
void cmd_renamenx(cb_client *c) { rename_generic(c, 1); }

void cmd_copy(cb_client *c)
{
    cb_shard *s = c->shard;
    cb_db *src = c->db, *dst = c->db;
    int replace = 0;
    for (int j = 3; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (arg_eq(c, j, "replace")) {
            replace = 1;
        } else if (arg_eq(c, j, "db") && more >= 1) {
            int id;
            if (arg_int(c, j + 1, &id, NULL)) return;
            if (id < 0 || id >= s->ndb) {
                reply_error(c, ERR_DB_INDEX);
                return;
            }
            dst = &s->dbs[id];
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (src == dst && same_bytes(c, 1, 2)) {
        reply_error(c, ERR_SAME_OBJECT);
        return;
    }
    cb_obj *o = db_lookup_read(s, src, KEY(c, 1), 0);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    long long when = db_get_expire(src, KEY(c, 1));
    int existed = db_lookup_write(s, dst, KEY(c, 2)) != NULL;
    if (existed && !replace) {
        reply_int(c, 0);
        return;
    }
    cb_obj *n = obj_dup(o);
    if (existed) db_delete(s, dst, KEY(c, 2));
    db_add(s, dst, KEY(c, 2), n);
    if (when != -1) db_set_expire(s, dst, KEY(c, 2), when);
    wrote(c, dst, KEY(c, 2));
    reply_int(c, 1);
}
