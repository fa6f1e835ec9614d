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
 *
 * Shards: a key lives in the shard client_key_shard names. Single-key
 * commands arrive with c->shard / c->db already the owner's; commands that
 * name several keys resolve each one (key_shard below), and keyspace-wide
 * ones walk every shard (client_shard_at). Another shard is stamped with
 * the caller's command time first, so expiry decisions agree across shards;
 * writes signal and count dirty on the shard that owns the key. With one
 * shard every helper yields c->shard / c->db, so behaviour is unchanged.
 * The SCAN cursor with several shards is described at cmd_scan.
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

/* Prepares shard s for use by the current command: its clock follows the
 * command's, and *db becomes the client's selected db inside it. */
static cb_shard *use_shard(cb_client *c, cb_shard *s, cb_db **db)
{
    if (s == c->shard) {
        *db = c->db;
        return s;
    }
    shard_set_time(s, c->shard->now_ms);
    *db = client_shard_db(c, s);
    return s;
}

/* The shard owning key argument i, ready for use; *db its selected db. */
static cb_shard *key_shard(cb_client *c, int i, cb_db **db)
{
    return use_shard(c, client_key_shard(c, KEY(c, i)), db);
}

/* client_nshards, never below one (a bare test server has no workers). */
static int nshards(const cb_client *c)
{
    int n = client_nshards(c);
    return n > 1 ? n : 1;
}

/* Shard i of nshards(c), ready for use. */
static cb_shard *shard_at(cb_client *c, int i, cb_db **db)
{
    cb_shard *s = nshards(c) > 1 ? client_shard_at(c, i) : c->shard;
    return use_shard(c, s, db);
}

static void wrote(cb_shard *s, cb_db *db, const char *k, size_t len)
{
    db_signal_modified(s, db, k, len);
    s->dirty++;
}

/* ------------------------------------------------------------------------
 * DEL, UNLINK, EXISTS, TYPE, TOUCH
 * ---------------------------------------------------------------------- */

static void del_generic(cb_client *c, int lazy)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        cb_db *db;
        cb_shard *s = key_shard(c, i, &db);
        db_expire_if_needed(s, db, KEY(c, i));
        if (lazy ? db_delete_lazy(s, db, KEY(c, i)) : db_delete(s, db, KEY(c, i))) {
            wrote(s, db, KEY(c, i));
            notify_keyspace_event(s, db, NOTIFY_GENERIC, "del", KEY(c, i));
            n++;
        }
    }
    reply_int(c, n);
}

void cmd_del(cb_client *c) { del_generic(c, c->shard->set->lazyfree_lazy_user_del); }

/* Big values go to the owning shard's lazy-free queue (store/lazyfree.h). */
void cmd_unlink(cb_client *c) { del_generic(c, 1); }

void cmd_exists(cb_client *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        cb_db *db;
        cb_shard *s = key_shard(c, i, &db);
        if (db_lookup_read(s, db, KEY(c, i), DB_LOOKUP_NOTOUCH)) n++;
    }
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
    for (int i = 1; i < c->argc; i++) {
        cb_db *db;
        cb_shard *s = key_shard(c, i, &db);
        if (db_lookup_read(s, db, KEY(c, i), 0)) n++;
    }
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
    int deleted = db_deadline_deletes(s, when); /* not when loading or a replica */
    if (deleted) {
        db_delete(s, c->db, KEY(c, 1));
    } else {
        db_set_expire(s, c->db, KEY(c, 1), when);
    }
    wrote(s, c->db, KEY(c, 1));
    NOTIFY_ARG(c, NOTIFY_GENERIC, deleted ? "del" : "expire", 1);
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
    wrote(c->shard, c->db, KEY(c, 1));
    NOTIFY_ARG(c, NOTIFY_GENERIC, "persist", 1);
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

/* What SCAN keeps of the names a step collected. */
typedef struct scan_filter {
    const char *pat, *type;
    size_t patlen, typelen;
    int use_pattern;
} scan_filter;

/* Filters one shard's step as Redis does, after the step (so a call may
 * return fewer than COUNT names, even none, with a non-zero cursor), and
 * moves the survivors to out. Expired names are deleted on the way. */
static void scan_filter_into(cb_shard *s, cb_db *db, const scan_filter *f,
                             db_scan_keys *ks, db_scan_keys *out)
{
    for (size_t j = 0; j < ks->n; j++) {
        cbstr k = ks->keys[j];
        size_t kl = cbstr_len(k);
        int drop = f->use_pattern && !util_globmatch(f->pat, f->patlen, k, kl, 0);
        if (!drop && f->type) {
            cb_obj *o = db_lookup_read(s, db, k, kl, DB_LOOKUP_NOTOUCH);
            if (!util_eq_nocase(f->type, f->typelen, o ? obj_type_name(o->type) : "none"))
                drop = 1;
        }
        if (!drop && db_expire_if_needed(s, db, k, kl)) drop = 1;
        if (drop) {
            cbstr_free(k);
            continue;
        }
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 16;
            out->keys = cb_realloc(out->keys, out->cap * sizeof(cbstr));
        }
        out->keys[out->n++] = k;
    }
    cb_free(ks->keys);
    ks->keys = NULL;
    ks->n = ks->cap = 0;
}

/* With one shard the cursor is the dict's own, so the values match Redis.
 * With n shards it is (dict cursor) * n + shard index: a walk goes through
 * shard 0, then 1, ..., each with Redis's per-dict guarantees, and ends
 * with 0 only after the last shard's dict cursor wrapped to 0. A step that
 * finishes a shard with COUNT not yet reached goes on into the next one. */
void cmd_scan(cb_client *c)
{
    uint64_t cursor;
    if (parse_cursor(c, 1, &cursor)) return;

    long count = 10;
    scan_filter f = { 0 };
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
            f.pat = ARGP(c, i + 1);
            f.patlen = ARGL(c, i + 1);
            f.use_pattern = !(f.patlen == 1 && f.pat[0] == '*');
            i += 2;
        } else if (arg_eq(c, i, "type") && left >= 2) {
            f.type = ARGP(c, i + 1);
            f.typelen = ARGL(c, i + 1);
            i += 2;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }

    uint64_t n = (uint64_t)nshards(c);
    uint64_t idx = cursor % n, inner = cursor / n;
    long budget = count;
    db_scan_keys out = { 0 };
    for (;;) {
        cb_db *db;
        cb_shard *s = shard_at(c, (int)idx, &db);
        db_scan_keys ks = { 0 };
        inner = db_scan(db, inner, budget, &ks);
        budget -= (long)ks.n;
        scan_filter_into(s, db, &f, &ks, &out);
        if (inner != 0 || ++idx == n || budget <= 0) break;
    }
    uint64_t next = (inner == 0 && idx == n) ? 0 : inner * n + idx;

    reply_array_len(c, 2);
    /* Redis prints the unsigned cursor through a signed conversion. */
    reply_bulk_ll(c, (long long)next);
    reply_array_len(c, (long)out.n);
    for (size_t j = 0; j < out.n; j++) reply_bulk(c, out.keys[j], cbstr_len(out.keys[j]));
    db_scan_keys_free(&out);
}

void cmd_keys(cb_client *c)
{
    const char *pat = ARGP(c, 1);
    size_t plen = ARGL(c, 1);
    int all = plen == 1 && pat[0] == '*';
    long n = 0;
    void *h = reply_deferred_len(c);
    for (int i = 0; i < nshards(c) && !(c->flags & CLIENT_CLOSE_ASAP); i++) {
        cb_db *db;
        cb_shard *s = shard_at(c, i, &db);
        dict_iter it;
        dict_iter_init(&it, db->keys, 1);
        dict_entry *e;
        while ((e = dict_iter_next(&it)) != NULL) {
            size_t kl = cbstr_len(e->key);
            /* Expired keys are hidden but not deleted: deleting would
             * disturb the iteration, and the cycles will get them. */
            if ((all || util_globmatch(pat, plen, e->key, kl, 0)) &&
                !db_key_is_expired(s, db, e->key, kl)) {
                reply_bulk(c, e->key, kl);
                n++;
            }
            if (c->flags & CLIENT_CLOSE_ASAP) break;
        }
        dict_iter_release(&it);
    }
    reply_set_deferred_len(c, h, n, 'a');
}

/* A key drawn from a shard chosen with probability proportional to its
 * size, so that every key is about equally likely. db_random_key returns
 * NULL only once it has emptied its db of expired keys (on a master; a
 * replica's returns NULL only for an empty db), so each retry has one
 * non-empty shard less and the loop ends. */
static cbstr random_key_all_shards(cb_client *c)
{
    int n = nshards(c);
    if (n == 1) return db_random_key(c->shard, c->db);
    for (;;) {
        uint64_t total = 0, volatile_keys = 0;
        for (int i = 0; i < n; i++) {
            cb_db *db;
            shard_at(c, i, &db);
            total += dict_size(db->keys);
            volatile_keys += dict_size(db->expires);
        }
        if (total == 0) return NULL;
        uint64_t r = util_rand64(&c->shard->rng) % total;
        for (int i = 0; i < n; i++) {
            cb_db *db;
            cb_shard *s = shard_at(c, i, &db);
            uint64_t size = dict_size(db->keys);
            if (r >= size) {
                r -= size;
                continue;
            }
            cbstr k = db_random_key(s, db);
            /* A replica's shard holding only expired keys answers one; Redis
             * does so only when every key of the whole db has a TTL. */
            if (k && volatile_keys < total && db_key_is_expired(s, db, k, cbstr_len(k))) {
                cbstr_free(k);
                break;
            }
            if (k) return k;
            break;
        }
    }
}

void cmd_randomkey(cb_client *c)
{
    cbstr k = random_key_all_shards(c);
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
    unsigned long long n = 0;
    for (int i = 0; i < nshards(c); i++) {
        cb_db *db;
        shard_at(c, i, &db);
        n += dict_size(db->keys);
    }
    reply_int(c, (long long)n);
}

/* ------------------------------------------------------------------------
 * FLUSHDB, FLUSHALL, SELECT, SWAPDB
 * ---------------------------------------------------------------------- */

/* [ASYNC|SYNC]; no mode: lazyfree-lazy-user-flush decides. 1 async,
 * 0 sync, -1 replied. */
static int parse_flush_mode(cb_client *c)
{
    if (c->argc == 1) return c->shard->set->lazyfree_lazy_user_flush ? 1 : 0;
    if (c->argc == 2 && arg_eq(c, 1, "sync")) return 0;
    if (c->argc == 2 && arg_eq(c, 1, "async")) return 1;
    reply_error(c, ERR_SYNTAX);
    return -1;
}

void cmd_flushdb(cb_client *c)
{
    int async = parse_flush_mode(c);
    if (async < 0) return;
    for (int i = 0; i < nshards(c); i++) {
        cb_db *db;
        cb_shard *s = shard_at(c, i, &db);
        db_signal_modified(s, db, NULL, 0);
        s->dirty += (uint64_t)(async ? db_empty_lazy(s, db) : db_empty(s, db));
    }
    reply_ok(c);
}

void cmd_flushall(cb_client *c)
{
    int async = parse_flush_mode(c);
    if (async < 0) return;
    for (int i = 0; i < nshards(c); i++) {
        cb_db *db;
        cb_shard *s = shard_at(c, i, &db);
        for (int j = 0; j < s->ndb; j++) db_signal_modified(s, &s->dbs[j], NULL, 0);
        if (async)
            for (int j = 0; j < s->ndb; j++) s->dirty += (uint64_t)db_empty_lazy(s, &s->dbs[j]);
        else
            s->dirty += (uint64_t)shard_empty(s);
    }
    /* A running snapshot is dropped and, with save points, the empty
     * dataset saved, as Redis kills its child and saves (persist/bgsave.c). */
    if (c->shard->on_flushall) c->shard->on_flushall(c->shard->owner);
    /* Counted once more as the FLUSHALL itself (Redis resets the save
     * point's counter here and then counts the command). */
    c->shard->dirty++;
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
    int a, b;
    if (arg_int(c, 1, &a, "invalid first DB index")) return;
    if (arg_int(c, 2, &b, "invalid second DB index")) return;
    if (a < 0 || a >= c->shard->ndb || b < 0 || b >= c->shard->ndb) {
        reply_error(c, ERR_DB_INDEX);
        return;
    }
    for (int i = 0; i < nshards(c); i++) {
        cb_db *db;
        cb_shard *s = shard_at(c, i, &db);
        if (a != b) {
            db_signal_modified(s, &s->dbs[a], NULL, 0);
            db_signal_modified(s, &s->dbs[b], NULL, 0);
        }
        shard_swapdb(s, a, b);
    }
    c->shard->dirty++;
    reply_ok(c);
}

/* ------------------------------------------------------------------------
 * MOVE, RENAME, RENAMENX, COPY
 * ---------------------------------------------------------------------- */

/* Both dbs of MOVE belong to the key's shard: a key's owner does not
 * depend on the db. */
void cmd_move(cb_client *c)
{
    int id;
    if (arg_int(c, 2, &id, NULL)) return;
    if (id < 0 || id >= c->shard->ndb) {
        reply_error(c, ERR_DB_INDEX);
        return;
    }
    cb_db *src;
    cb_shard *s = key_shard(c, 1, &src);
    cb_db *dst = &s->dbs[id];
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
    wrote(s, dst, KEY(c, 1));
    notify_keyspace_event(s, src, NOTIFY_GENERIC, "move_from", KEY(c, 1));
    notify_keyspace_event(s, dst, NOTIFY_GENERIC, "move_to", KEY(c, 1));
    reply_int(c, 1);
}

/* The value object moves to the new name's shard (all shards share one
 * address space and the others are parked), keeping TTL and access stamp. */
static void rename_generic(cb_client *c, int nx)
{
    cb_db *src;
    cb_shard *ss = key_shard(c, 1, &src);
    cb_obj *o = db_lookup_write(ss, src, KEY(c, 1));
    if (!o) {
        reply_error(c, ERR_NO_SUCH_KEY);
        return;
    }
    if (same_bytes(c, 1, 2)) {
        if (nx) reply_int(c, 0);
        else reply_ok(c);
        return;
    }
    long long when = db_get_expire(src, KEY(c, 1));
    cb_db *dst;
    cb_shard *ds = key_shard(c, 2, &dst);
    if (db_lookup_write(ds, dst, KEY(c, 2))) {
        if (nx) {
            reply_int(c, 0);
            return;
        }
        db_delete(ds, dst, KEY(c, 2));
    }
    obj_incr_ref(o);
    db_add_keep_stamp(ds, dst, KEY(c, 2), o);
    if (when != -1) db_set_expire(ds, dst, KEY(c, 2), when);
    db_delete(ss, src, KEY(c, 1));
    db_signal_modified(ss, src, KEY(c, 1));
    wrote(ds, dst, KEY(c, 2));
    notify_keyspace_event(ss, src, NOTIFY_GENERIC, "rename_from", KEY(c, 1));
    notify_keyspace_event(ds, dst, NOTIFY_GENERIC, "rename_to", KEY(c, 2));
    if (nx) reply_int(c, 1);
    else reply_ok(c);
}

void cmd_rename(cb_client *c) { rename_generic(c, 0); }
void cmd_renamenx(cb_client *c) { rename_generic(c, 1); }

void cmd_copy(cb_client *c)
{
    int dst_id = -1; /* -1: the selected db */
    int replace = 0;
    for (int j = 3; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (arg_eq(c, j, "replace")) {
            replace = 1;
        } else if (arg_eq(c, j, "db") && more >= 1) {
            int id;
            if (arg_int(c, j + 1, &id, NULL)) return;
            if (id < 0 || id >= c->shard->ndb) {
                reply_error(c, ERR_DB_INDEX);
                return;
            }
            dst_id = id;
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    cb_db *src, *dst;
    cb_shard *ss = key_shard(c, 1, &src);
    cb_shard *ds = key_shard(c, 2, &dst);
    if (dst_id >= 0) dst = &ds->dbs[dst_id];
    if (src == dst && same_bytes(c, 1, 2)) {
        reply_error(c, ERR_SAME_OBJECT);
        return;
    }
    cb_obj *o = db_lookup_read(ss, src, KEY(c, 1), 0);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    long long when = db_get_expire(src, KEY(c, 1));
    int existed = db_lookup_write(ds, dst, KEY(c, 2)) != NULL;
    if (existed && !replace) {
        reply_int(c, 0);
        return;
    }
    /* A fresh copy, so the two shards never share a value. */
    cb_obj *n = obj_dup(o);
    if (existed) db_delete(ds, dst, KEY(c, 2));
    db_add(ds, dst, KEY(c, 2), n);
    if (when != -1) db_set_expire(ds, dst, KEY(c, 2), when);
    wrote(ds, dst, KEY(c, 2));
    notify_keyspace_event(ds, dst, NOTIFY_GENERIC, "copy_to", KEY(c, 2));
    reply_int(c, 1);
}
