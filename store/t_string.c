/* t_string.c — the string command handlers (SET family, GET family, counters,
 * ranges, LCS). They sit between the RESP layer and the keyspace: arguments
 * come from the client, values go through object.h/db.h, replies go through
 * reply.h only. Each handler follows Redis 7.0's order of checks (syntax,
 * then key lookup and type, then numeric limits) because clients can observe
 * which error wins. Every write signals the key and bumps shard->dirty by the
 * number of keys changed, as Redis counts rdb_changes_since_last_save.
 * Single-key handlers use c->shard / c->db, which the dispatcher has set to
 * the key's owner; MGET, MSET, MSETNX and LCS resolve each key's shard
 * (key_shard) and count dirty on the owner.
 * The layers below: option parsing and expire-time resolution, helpers,
 * then the handlers grouped by family, LCS last.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "object.h"
#include "db.h"
#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* Room for util_ld2str_human of any finite long double: its %.17Lf form of
 * LDBL_MAX is ~4950 characters. Same bound Redis uses. */
#define STR_LD_BUF (5 * 1024)

static const char ERR_STRING_TOO_BIG[] =
    "string exceeds maximum allowed size (proto-max-bulk-len)";

static void reply_obj(cb_client *c, const cb_obj *o)
{
    char buf[CB_LL2STR_MAX];
    size_t len;
    const char *p = obj_str(o, buf, &len);
    reply_bulk(c, p, len);
}

static void key_changed(cb_client *c, int i, uint64_t dirty)
{
    db_signal_modified(c->shard, c->db, ARGP(c, i), ARGL(c, i));
    c->shard->dirty += dirty;
}

/* The shard owning key argument i with its clock set to the command's;
 * *db is the client's selected db in it. One shard: c->shard and c->db. */
static cb_shard *key_shard(cb_client *c, int i, cb_db **db)
{
    cb_shard *s = client_key_shard(c, ARGP(c, i), ARGL(c, i));
    if (s == c->shard) {
        *db = c->db;
        return s;
    }
    shard_set_time(s, c->shard->now_ms);
    *db = client_shard_db(c, s);
    return s;
}

/* Lookup for reading that also enforces the string type. Returns 1 with *out
 * set (NULL when missing), or 0 after replying WRONGTYPE. */
static int lookup_string_read(cb_client *c, int i, cb_obj **out)
{
    cb_obj *o = db_lookup_read(c->shard, c->db, ARGP(c, i), ARGL(c, i), 0);
    if (o && o->type != OBJ_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return 0;
    }
    *out = o;
    return 1;
}

static int lookup_string_write(cb_client *c, int i, cb_obj **out)
{
    cb_obj *o = db_lookup_write(c->shard, c->db, ARGP(c, i), ARGL(c, i));
    if (o && o->type != OBJ_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return 0;
    }
    *out = o;
    return 1;
}

/* Redis refuses to build a string longer than proto-max-bulk-len. The sum is
 * done unsigned so a huge SETRANGE offset cannot wrap past the check. */
static int string_len_ok(cb_client *c, unsigned long long base,
                         unsigned long long add)
{
    long long max = c->shard->set->proto_max_bulk_len;
    unsigned long long total = base + add;
    if (total < base || total > (unsigned long long)max) {
        reply_error(c, ERR_STRING_TOO_BIG);
        return 0;
    }
    return 1;
}

/* The value of key i made privately writable as a raw cbstr. An object that
 * is shared or not raw is replaced by a raw copy (the TTL stays). */
static cb_obj *unshare_string(cb_client *c, int i, cb_obj *o)
{
    if (o->refcount == 1 && o->encoding == OBJ_ENC_RAW) return o;
    char buf[CB_LL2STR_MAX];
    size_t len;
    const char *p = obj_str(o, buf, &len);
    cb_obj *n = obj_new_raw(p, len);
    db_overwrite(c->shard, c->db, ARGP(c, i), ARGL(c, i), n);
    return n;
}

/* ------------------------------------------------------------------------
 * SET / GETEX options and expire times
 * ---------------------------------------------------------------------- */

enum {
    SO_NX = 1 << 0,
    SO_XX = 1 << 1,
    SO_GET = 1 << 2,
    SO_KEEPTTL = 1 << 3,
    SO_PERSIST = 1 << 4,
    SO_EX = 1 << 5,
    SO_PX = 1 << 6,
    SO_EXAT = 1 << 7,
    SO_PXAT = 1 << 8,
};
#define SO_ANY_EXPIRE (SO_EX | SO_PX | SO_EXAT | SO_PXAT)

typedef struct set_opts {
    unsigned flags;
    int expire_arg; /* argv index of the time value, 0 when none */
} set_opts;

/* Parses argv[from..] as SET (for_set) or GETEX options. The same expire
 * option may repeat (the last value wins); mixing expire kinds, NX with XX,
 * KEEPTTL or PERSIST with a time, or an option the command lacks is a
 * syntax error. Returns 0, or -1 after replying. */
static int parse_set_opts(cb_client *c, int from, int for_set, set_opts *o)
{
    /* Inline char arrays, not pointers, so the table is read-only data. */
    static const struct { char word[5]; unsigned flag; } kinds[] = {
        {"EX", SO_EX}, {"PX", SO_PX}, {"EXAT", SO_EXAT}, {"PXAT", SO_PXAT},
    };
    o->flags = 0;
    o->expire_arg = 0;
    for (int j = from; j < c->argc; j++) {
        int has_next = j + 1 < c->argc;
        unsigned f = o->flags;
        if (for_set && arg_eq(c, j, "NX") && !(f & SO_XX)) {
            o->flags |= SO_NX;
            continue;
        }
        if (for_set && arg_eq(c, j, "XX") && !(f & SO_NX)) {
            o->flags |= SO_XX;
            continue;
        }
        if (for_set && arg_eq(c, j, "GET")) {
            o->flags |= SO_GET;
            continue;
        }
        if (for_set && arg_eq(c, j, "KEEPTTL") && !(f & SO_ANY_EXPIRE)) {
            o->flags |= SO_KEEPTTL;
            continue;
        }
        if (!for_set && arg_eq(c, j, "PERSIST") && !(f & SO_ANY_EXPIRE)) {
            o->flags |= SO_PERSIST;
            continue;
        }
        int matched = 0;
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            unsigned others = SO_ANY_EXPIRE & ~kinds[k].flag;
            if (arg_eq(c, j, kinds[k].word) && has_next &&
                !(f & (SO_KEEPTTL | SO_PERSIST | others))) {
                o->flags |= kinds[k].flag;
                o->expire_arg = ++j;
                matched = 1;
                break;
            }
        }
        if (matched) continue;
        reply_error(c, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

/* Turns the expire argument into an absolute unix time in ms. Values <= 0,
 * seconds that overflow as ms, and relative times that overflow when added
 * to now are all "invalid expire time in '<cmd>' command". 0 ok, -1 replied. */
static int resolve_expire(cb_client *c, int argi, unsigned kind,
                          const char *cmdname, long long *when_ms)
{
    long long v;
    if (arg_ll(c, argi, &v, NULL) != 0) return -1;
    int seconds = (kind & (SO_EX | SO_EXAT)) != 0;
    int relative = (kind & (SO_EX | SO_PX)) != 0;
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) goto invalid;
    if (seconds) v *= 1000;
    if (relative) {
        long long now = c->shard->now_ms;
        if (v > LLONG_MAX - now) goto invalid;
        v += now;
    }
    *when_ms = v;
    return 0;
invalid:
    reply_errorf(c, "invalid expire time in '%s' command", cmdname);
    return -1;
}

/* ------------------------------------------------------------------------
 * SET family
 * ---------------------------------------------------------------------- */

/* What a SET-like command answers when it stores / when NX or XX stop it. */
typedef enum { SR_OK_NULL, SR_ONE_ZERO } set_reply_kind;

/* Shared body of SET, SETNX, SETEX and PSETEX: key argv[1], value argv[vi]. */
static void set_generic(cb_client *c, const set_opts *opt, int vi,
                        set_reply_kind rk, const char *cmdname)
{
    long long when = 0;
    unsigned f = opt->flags;
    if (opt->expire_arg &&
        resolve_expire(c, opt->expire_arg, f & SO_ANY_EXPIRE, cmdname, &when) != 0)
        return;

    if (f & SO_GET) {
        cb_obj *old;
        if (!lookup_string_read(c, 1, &old)) return;
        if (old) reply_obj(c, old);
        else reply_null(c);
    }

    int found = db_lookup_write(c->shard, c->db, ARGP(c, 1), ARGL(c, 1)) != NULL;
    if (((f & SO_NX) && found) || ((f & SO_XX) && !found)) {
        if (!(f & SO_GET)) {
            if (rk == SR_ONE_ZERO) reply_int(c, 0);
            else reply_null(c);
        }
        return;
    }

    cb_obj *val = obj_new_string_encoded(ARGP(c, vi), ARGL(c, vi));
    db_set(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), val, (f & SO_KEEPTTL) != 0);
    if (opt->expire_arg)
        db_set_expire(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), when);
    key_changed(c, 1, 1);
    NOTIFY_ARG(c, NOTIFY_STRING, "set", 1);
    if (opt->expire_arg) NOTIFY_ARG(c, NOTIFY_GENERIC, "expire", 1);
    if (!(f & SO_GET)) {
        if (rk == SR_ONE_ZERO) reply_int(c, 1);
        else reply_ok(c);
    }
}

void cmd_set(cb_client *c)
{
    set_opts opt;
    if (parse_set_opts(c, 3, 1, &opt) != 0) return;
    set_generic(c, &opt, 2, SR_OK_NULL, "set");
}

void cmd_setnx(cb_client *c)
{
    set_opts opt = {SO_NX, 0};
    set_generic(c, &opt, 2, SR_ONE_ZERO, "setnx");
}

void cmd_setex(cb_client *c)
{
    set_opts opt = {SO_EX, 2};
    set_generic(c, &opt, 3, SR_OK_NULL, "setex");
}

void cmd_psetex(cb_client *c)
{
    set_opts opt = {SO_PX, 2};
    set_generic(c, &opt, 3, SR_OK_NULL, "psetex");
}

/* MSET / MSETNX: pairs from argv[1]; the odd-count check is the handler's
 * because the table's arity (-3) only bounds the minimum. */
static void mset_generic(cb_client *c, int nx, const char *cmdname)
{
    if (c->argc % 2 == 0) {
        reply_errorf(c, "wrong number of arguments for '%s' command", cmdname);
        return;
    }
    cb_db *db;
    cb_shard *s;
    if (nx) {
        for (int j = 1; j < c->argc; j += 2) {
            s = key_shard(c, j, &db);
            if (db_lookup_write(s, db, ARGP(c, j), ARGL(c, j))) {
                reply_int(c, 0);
                return;
            }
        }
    }
    for (int j = 1; j < c->argc; j += 2) {
        s = key_shard(c, j, &db);
        cb_obj *val = obj_new_string_encoded(ARGP(c, j + 1), ARGL(c, j + 1));
        db_set(s, db, ARGP(c, j), ARGL(c, j), val, 0);
        db_signal_modified(s, db, ARGP(c, j), ARGL(c, j));
        notify_keyspace_event(s, db, NOTIFY_STRING, "set", ARGP(c, j), ARGL(c, j));
        s->dirty++;
    }
    if (nx) reply_int(c, 1);
    else reply_ok(c);
}

void cmd_mset(cb_client *c) { mset_generic(c, 0, "mset"); }
void cmd_msetnx(cb_client *c) { mset_generic(c, 1, "msetnx"); }

/* ------------------------------------------------------------------------
 * GET family
 * ---------------------------------------------------------------------- */

/* Replies with key 1's value or null; 0 after a WRONGTYPE reply. */
static int get_generic(cb_client *c, cb_obj **out)
{
    cb_obj *o;
    if (!lookup_string_read(c, 1, &o)) return 0;
    if (o) reply_obj(c, o);
    else reply_null(c);
    if (out) *out = o;
    return 1;
}

void cmd_get(cb_client *c) { get_generic(c, NULL); }

void cmd_getex(cb_client *c)
{
    set_opts opt;
    if (parse_set_opts(c, 2, 0, &opt) != 0) return;

    cb_obj *o;
    if (!lookup_string_read(c, 1, &o)) return;
    if (!o) {
        reply_null(c);
        return;
    }
    long long when = 0;
    if (opt.expire_arg &&
        resolve_expire(c, opt.expire_arg, opt.flags & SO_ANY_EXPIRE, "getex",
                       &when) != 0)
        return;
    reply_obj(c, o);

    /* An absolute time already past deletes the key now rather than leaving
     * an expired key behind; relative times are always in the future. */
    if ((opt.flags & (SO_EXAT | SO_PXAT)) && db_deadline_deletes(c->shard, when)) {
        db_delete(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
        key_changed(c, 1, 1);
        NOTIFY_ARG(c, NOTIFY_GENERIC, "del", 1);
    } else if (opt.expire_arg) {
        db_set_expire(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), when);
        key_changed(c, 1, 1);
        NOTIFY_ARG(c, NOTIFY_GENERIC, "expire", 1);
    } else if (opt.flags & SO_PERSIST) {
        if (db_remove_expire(c->db, ARGP(c, 1), ARGL(c, 1))) {
            key_changed(c, 1, 1);
            NOTIFY_ARG(c, NOTIFY_GENERIC, "persist", 1);
        }
    }
}

void cmd_getdel(cb_client *c)
{
    cb_obj *o;
    if (!get_generic(c, &o) || !o) return;
    db_delete(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
    key_changed(c, 1, 1);
    NOTIFY_ARG(c, NOTIFY_GENERIC, "del", 1);
}

void cmd_getset(cb_client *c)
{
    if (!get_generic(c, NULL)) return;
    cb_obj *val = obj_new_string_encoded(ARGP(c, 2), ARGL(c, 2));
    db_set(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), val, 0);
    key_changed(c, 1, 1);
    NOTIFY_ARG(c, NOTIFY_STRING, "set", 1);
}

void cmd_mget(cb_client *c)
{
    reply_array_len(c, c->argc - 1);
    for (int j = 1; j < c->argc; j++) {
        cb_db *db;
        cb_shard *s = key_shard(c, j, &db);
        cb_obj *o = db_lookup_read(s, db, ARGP(c, j), ARGL(c, j), 0);
        if (o && o->type == OBJ_STRING) reply_obj(c, o);
        else reply_null(c);
    }
}

void cmd_strlen(cb_client *c)
{
    cb_obj *o;
    if (!lookup_string_read(c, 1, &o)) return;
    reply_int(c, o ? (long long)obj_str_len(o) : 0);
}

/* ------------------------------------------------------------------------
 * APPEND, GETRANGE, SETRANGE
 * ---------------------------------------------------------------------- */

void cmd_append(cb_client *c)
{
    cb_obj *o;
    if (!lookup_string_write(c, 1, &o)) return;
    size_t total;
    if (!o) {
        /* A fresh key gets the value as SET would encode it (so "123"
         * becomes int); only growing an existing value forces raw. */
        cb_obj *val = obj_new_string_encoded(ARGP(c, 2), ARGL(c, 2));
        db_add(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), val);
        total = ARGL(c, 2);
    } else {
        if (!string_len_ok(c, obj_str_len(o), ARGL(c, 2))) return;
        o = unshare_string(c, 1, o);
        o->ptr = cbstr_cat((cbstr)o->ptr, ARGP(c, 2), ARGL(c, 2));
        total = cbstr_len((cbstr)o->ptr);
    }
    key_changed(c, 1, 1);
    NOTIFY_ARG(c, NOTIFY_STRING, "append", 1);
    reply_int(c, (long long)total);
}

/* GETRANGE semantics: negative indexes count from the end, both ends are
 * clamped into the string, and an empty or inverted range answers "". */
static void getrange_generic(cb_client *c)
{
    long long start, end;
    if (arg_ll(c, 2, &start, NULL) != 0) return;
    if (arg_ll(c, 3, &end, NULL) != 0) return;
    cb_obj *o;
    if (!lookup_string_read(c, 1, &o)) return;
    if (!o) {
        reply_bulk(c, "", 0);
        return;
    }
    char buf[CB_LL2STR_MAX];
    size_t slen;
    const char *p = obj_str(o, buf, &slen);
    long long len = (long long)slen;

    if (start < 0 && end < 0 && start > end) {
        reply_bulk(c, "", 0);
        return;
    }
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (len == 0 || start > end) reply_bulk(c, "", 0);
    else reply_bulk(c, p + start, (size_t)(end - start + 1));
}

void cmd_getrange(cb_client *c) { getrange_generic(c); }
void cmd_substr(cb_client *c) { getrange_generic(c); }

void cmd_setrange(cb_client *c)
{
    long long offset;
    if (arg_ll(c, 2, &offset, NULL) != 0) return;
    if (offset < 0) {
        reply_error(c, "offset is out of range");
        return;
    }
    const char *v = ARGP(c, 3);
    size_t vlen = ARGL(c, 3);
    cb_obj *o;
    if (!lookup_string_write(c, 1, &o)) return;

    if (!o) {
        /* Writing nothing into a missing key creates nothing. */
        if (vlen == 0) {
            reply_int(c, 0);
            return;
        }
        if (!string_len_ok(c, (unsigned long long)offset, vlen)) return;
        cbstr s = cbstr_new(NULL, (size_t)offset + vlen);
        memcpy(s + offset, v, vlen);
        db_add(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), obj_new_from_cbstr(s));
        key_changed(c, 1, 1);
        NOTIFY_ARG(c, NOTIFY_STRING, "setrange", 1);
        reply_int(c, offset + (long long)vlen);
        return;
    }

    size_t olen = obj_str_len(o);
    if (vlen == 0) {
        reply_int(c, (long long)olen);
        return;
    }
    if (!string_len_ok(c, (unsigned long long)offset, vlen)) return;
    o = unshare_string(c, 1, o);
    size_t need = (size_t)offset + vlen;
    if (need > olen) o->ptr = cbstr_grow_zero((cbstr)o->ptr, need);
    memcpy((char *)o->ptr + offset, v, vlen);
    key_changed(c, 1, 1);
    NOTIFY_ARG(c, NOTIFY_STRING, "setrange", 1);
    reply_int(c, (long long)cbstr_len((cbstr)o->ptr));
}

/* ------------------------------------------------------------------------
 * Counters
 * ---------------------------------------------------------------------- */

static void incr_generic(cb_client *c, long long delta)
{
    cb_obj *o;
    if (!lookup_string_write(c, 1, &o)) return;
    long long v = 0;
    if (o && !obj_get_ll(o, &v)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    if ((delta < 0 && v < 0 && delta < LLONG_MIN - v) ||
        (delta > 0 && v > 0 && delta > LLONG_MAX - v)) {
        reply_error(c, ERR_OVERFLOW);
        return;
    }
    v += delta;
    /* Update in place when we own the int object; small results get a fresh
     * object so they can be the shared integers, as Redis does (OBJECT
     * REFCOUNT shows the difference). */
    if (o && o->refcount == 1 && o->encoding == OBJ_ENC_INT &&
        (v < 0 || v >= OBJ_SHARED_INTEGERS)) {
        o->ptr = (void *)(intptr_t)v;
    } else if (o) {
        db_overwrite(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), obj_new_int(v));
    } else {
        db_add(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), obj_new_int(v));
    }
    key_changed(c, 1, 1);
    NOTIFY_ARG(c, NOTIFY_STRING, "incrby", 1);
    reply_int(c, v);
}

void cmd_incr(cb_client *c) { incr_generic(c, 1); }
void cmd_decr(cb_client *c) { incr_generic(c, -1); }

void cmd_incrby(cb_client *c)
{
    long long d;
    if (arg_ll(c, 2, &d, NULL) != 0) return;
    incr_generic(c, d);
}

void cmd_decrby(cb_client *c)
{
    long long d;
    if (arg_ll(c, 2, &d, NULL) != 0) return;
    if (d == LLONG_MIN) {
        reply_error(c, "decrement would overflow");
        return;
    }
    incr_generic(c, -d);
}

void cmd_incrbyfloat(cb_client *c)
{
    cb_obj *o;
    if (!lookup_string_write(c, 1, &o)) return;
    long double v = 0, incr;
    if (o) {
        char buf[CB_LL2STR_MAX];
        size_t len;
        const char *p = obj_str(o, buf, &len);
        if (memchr(p, '\0', len) || !util_str2ld(p, len, &v)) {
            reply_error(c, ERR_NOT_FLOAT);
            return;
        }
    }
    /* Redis wants the number to span the whole argument, so an embedded NUL
     * ("1\0" or "\0") is not a float even where strtold would stop there. */
    if (memchr(ARGP(c, 2), '\0', ARGL(c, 2))) {
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    if (arg_long_double(c, 2, &incr, NULL) != 0) return;
    v += incr;
    if (isnan(v) || isinf(v)) {
        reply_error(c, "increment would produce NaN or Infinity");
        return;
    }
    /* The text form, never int-encoded: Redis stores the human-readable
     * digits as a plain string (embstr or raw by length). */
    char *out = cb_malloc(STR_LD_BUF);
    size_t n = util_ld2str_human(out, STR_LD_BUF, v);
    cb_obj *val = obj_new_string(out, n);
    if (o) db_overwrite(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), val);
    else db_add(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), val);
    key_changed(c, 1, 1);
    NOTIFY_ARG(c, NOTIFY_STRING, "incrbyfloat", 1);
    reply_bulk(c, out, n);
    cb_free(out);
}

/* ------------------------------------------------------------------------
 * LCS
 * ---------------------------------------------------------------------- */

/* Emits one IDX match: [[astart, aend], [bstart, bend]] plus its length. */
static void lcs_reply_range(cb_client *c, uint32_t as, uint32_t ae, uint32_t bs,
                            uint32_t be, int withlen)
{
    reply_array_len(c, 2 + withlen);
    reply_array_len(c, 2);
    reply_int(c, as);
    reply_int(c, ae);
    reply_array_len(c, 2);
    reply_int(c, bs);
    reply_int(c, be);
    if (withlen) reply_int(c, (long long)ae - as + 1);
}

void cmd_lcs(cb_client *c)
{
    cb_db *dba, *dbb;
    cb_shard *sa = key_shard(c, 1, &dba);
    cb_obj *oa = db_lookup_read(sa, dba, ARGP(c, 1), ARGL(c, 1), 0);
    cb_shard *sb = key_shard(c, 2, &dbb);
    cb_obj *ob = db_lookup_read(sb, dbb, ARGP(c, 2), ARGL(c, 2), 0);
    if ((oa && oa->type != OBJ_STRING) || (ob && ob->type != OBJ_STRING)) {
        reply_error(c, "The specified keys must contain string values");
        return;
    }

    int want_idx = 0, want_len = 0, withlen = 0;
    long long minlen = 0;
    for (int j = 3; j < c->argc; j++) {
        if (arg_eq(c, j, "IDX")) {
            want_idx = 1;
        } else if (arg_eq(c, j, "LEN")) {
            want_len = 1;
        } else if (arg_eq(c, j, "WITHMATCHLEN")) {
            withlen = 1;
        } else if (arg_eq(c, j, "MINMATCHLEN") && j + 1 < c->argc) {
            if (arg_ll(c, j + 1, &minlen, NULL) != 0) return;
            if (minlen < 0) minlen = 0;
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (want_idx && want_len) {
        reply_error(c, "If you want both the length and indexes, please just use IDX.");
        return;
    }

    char bufa[CB_LL2STR_MAX], bufb[CB_LL2STR_MAX];
    size_t la = 0, lb = 0;
    const char *a = oa ? obj_str(oa, bufa, &la) : "";
    const char *b = ob ? obj_str(ob, bufb, &lb) : "";
    if (la >= UINT32_MAX - 1 || lb >= UINT32_MAX - 1) {
        reply_error(c, "String too long for LCS");
        return;
    }
    uint32_t alen = (uint32_t)la, blen = (uint32_t)lb;

    /* The whole (alen+1) x (blen+1) table is kept for the backtrack; its size
     * is bounded by proto-max-bulk-len like any other transient buffer. */
    unsigned long long cells = (unsigned long long)(alen + 1) * (blen + 1);
    unsigned long long bytes = cells * sizeof(uint32_t);
    uint32_t *t = NULL;
    if (bytes / sizeof(uint32_t) == cells && bytes < SIZE_MAX) {
        if (bytes > (unsigned long long)c->shard->set->proto_max_bulk_len) {
            reply_error(c, "Insufficient memory, transient memory for LCS "
                           "exceeds proto-max-bulk-len");
            return;
        }
        t = cb_try_malloc((size_t)bytes);
    }
    if (!t) {
        reply_error(c, "Insufficient memory, failed allocating transient "
                       "memory for LCS");
        return;
    }
#define T(i, j) t[(size_t)(i) * (blen + 1) + (j)]
    for (uint32_t i = 0; i <= alen; i++) {
        for (uint32_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0) T(i, j) = 0;
            else if (a[i - 1] == b[j - 1]) T(i, j) = T(i - 1, j - 1) + 1;
            else T(i, j) = T(i - 1, j) > T(i, j - 1) ? T(i - 1, j) : T(i, j - 1);
        }
    }
    uint32_t total = T(alen, blen);

    /* Backtrack from the end. A contiguous diagonal run is one match range;
     * ranges are emitted end-first, which is the order Redis reports. The
     * tie rule (step in b unless a's side is strictly longer) decides which
     * of several equal-length answers is returned, so it must stay as is. */
    int compute = want_idx || !want_len;
    char *res = compute ? cb_malloc((size_t)total + 1) : NULL;
    void *arr = NULL;
    long narr = 0;
    if (want_idx) {
        reply_map_len(c, 2);
        reply_bulk_cstr(c, "matches");
        arr = reply_deferred_len(c);
    }
    uint32_t i = alen, j = blen, k = total;
    int in_range = 0;
    uint32_t as = 0, ae = 0, bs = 0, be = 0;
    while (compute && i > 0 && j > 0) {
        int emit = 0;
        if (a[i - 1] == b[j - 1]) {
            res[k - 1] = a[i - 1];
            if (!in_range) {
                in_range = 1;
                as = ae = i - 1;
                bs = be = j - 1;
            } else {
                as--;
                bs--;
            }
            if (as == 0 || bs == 0) emit = 1;
            k--;
            i--;
            j--;
        } else {
            if (T(i - 1, j) > T(i, j - 1)) i--;
            else j--;
            if (in_range) emit = 1;
        }
        if (emit) {
            long long mlen = (long long)ae - as + 1;
            if (want_idx && (minlen == 0 || mlen >= minlen)) {
                lcs_reply_range(c, as, ae, bs, be, withlen);
                narr++;
            }
            in_range = 0;
        }
    }
#undef T
    cb_free(t);

    if (want_idx) {
        reply_set_deferred_len(c, arr, narr, 'a');
        reply_bulk_cstr(c, "len");
        reply_int(c, total);
    } else if (want_len) {
        reply_int(c, total);
    } else {
        reply_bulk(c, res, total);
    }
    cb_free(res);
}
