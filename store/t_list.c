/* t_list.c — the list command handlers (push/pop, ranges, LINSERT, LSET,
 * LREM, LTRIM, LPOS, LMOVE/RPOPLPUSH, LMPOP). A list value is always a
 * quicklist (ds/quicklist.h), OBJECT ENCODING "quicklist" as in Redis 7.0;
 * the node fill and compression depth come from list-max-listpack-size and
 * list-compress-depth when the list is created and stay with it.
 * Handlers follow Redis 7.0's order of checks (arguments, then the key and
 * its type) since clients see which error wins. Every write signals the key
 * and adds the number of elements changed to shard->dirty; a list that
 * becomes empty is deleted. LMOVE, RPOPLPUSH and LMPOP may touch keys of
 * other shards and resolve each key's owner with key_shard.
 * Blocking variants (BLPOP, ...) live elsewhere.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "object.h"
#include "db.h"
#include "ds/quicklist.h"
#include "../dataplane/client.h"
#include "../dataplane/blocking.h"
#include "../dataplane/propagate.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static const char ERR_RANK_ZERO[] =
    "RANK can't be zero: use 1 to start from the first match, 2 from the "
    "second ... or use negative to start from the end of the list";

/* The shard owning key argument i with its clock set to the command's;
 * *db is the client's selected db in it. */
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

static cb_obj *list_new(const cb_shard *s)
{
    cb_obj *o = cb_malloc(sizeof(*o));
    o->type = OBJ_LIST;
    o->encoding = OBJ_ENC_QUICKLIST;
    o->lru = 0;
    o->refcount = 1;
    o->ptr = ql_new(s->set->list_max_listpack_size, s->set->list_compress_depth);
    return o;
}

/* Lookup that enforces the list type: 1 with *out (NULL when missing), or 0
 * after replying WRONGTYPE. */
static int lookup_list(cb_client *c, cb_shard *s, cb_db *db, int i, int write, cb_obj **out)
{
    cb_obj *o = write ? db_lookup_write(s, db, ARGP(c, i), ARGL(c, i))
                      : db_lookup_read(s, db, ARGP(c, i), ARGL(c, i), 0);
    if (o && o->type != OBJ_LIST) {
        reply_error(c, ERR_WRONGTYPE);
        return 0;
    }
    *out = o;
    return 1;
}

static void reply_val(cb_client *c, const lp_val *v)
{
    char buf[32];
    size_t len;
    const char *p = lp_str(v, buf, &len);
    reply_bulk(c, p, len);
}

/* After elements left the list of key i in (s, db): raises `event`, deletes
 * the key when the list is empty ("del"), signals it, counts dirty. */
static void list_removed(cb_client *c, cb_shard *s, cb_db *db, int i, cb_obj *o,
                         unsigned long n, const char *event)
{
    quicklist *ql = o->ptr;
    notify_keyspace_event(s, db, NOTIFY_LIST, event, ARGP(c, i), ARGL(c, i));
    if (ql->count == 0) {
        db_delete(s, db, ARGP(c, i), ARGL(c, i));
        notify_keyspace_event(s, db, NOTIFY_GENERIC, "del", ARGP(c, i), ARGL(c, i));
    }
    db_signal_modified(s, db, ARGP(c, i), ARGL(c, i));
    s->dirty += n;
}

/* Replies n elements starting at index start, walking towards the tail
 * (dir QL_TAIL) or the head. */
static void reply_range(cb_client *c, quicklist *ql, long start, long n, int dir)
{
    reply_array_len(c, n);
    ql_iter it;
    ql_iter_init(ql, &it, start, dir);
    while (n-- > 0 && ql_iter_next(&it)) reply_val(c, &it.val);
    ql_iter_release(&it);
}

/* Pops count elements (1 <= count <= length) from one end, replying them as
 * an array; the list is left for the caller to clean up. */
static void pop_range_reply(cb_client *c, quicklist *ql, int where, long count)
{
    if (where == QL_HEAD) {
        reply_range(c, ql, 0, count, QL_TAIL);
        ql_del_range(ql, 0, (unsigned long)count);
    } else {
        reply_range(c, ql, -1, count, QL_HEAD);
        ql_del_range(ql, ql->count - (unsigned long)count, (unsigned long)count);
    }
}

/* LEFT / RIGHT argument; 0 ok, -1 after replying a syntax error. */
static int parse_where(cb_client *c, int i, int *where)
{
    if (arg_eq(c, i, "LEFT")) *where = QL_HEAD;
    else if (arg_eq(c, i, "RIGHT")) *where = QL_TAIL;
    else {
        reply_error(c, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

/* A non-negative long argument; msg replaces every error text. */
static int arg_positive(cb_client *c, int i, long long *v, const char *msg)
{
    if (arg_ll(c, i, v, msg) != 0) return -1;
    if (*v < 0) {
        reply_error(c, msg);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Push
 * ---------------------------------------------------------------------- */

static void push_generic(cb_client *c, int where, int xx)
{
    cb_obj *o;
    if (!lookup_list(c, c->shard, c->db, 1, 1, &o)) return;
    if (!o) {
        if (xx) {
            reply_int(c, 0);
            return;
        }
        o = list_new(c->shard);
        db_add(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), o);
    }
    quicklist *ql = o->ptr;
    for (int j = 2; j < c->argc; j++) ql_push(ql, where, ARGP(c, j), ARGL(c, j));
    reply_int(c, (long long)ql->count);
    db_signal_modified(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
    NOTIFY_ARG(c, NOTIFY_LIST, where == QL_HEAD ? "lpush" : "rpush", 1);
    c->shard->dirty += (uint64_t)(c->argc - 2);
}

void cmd_lpush(cb_client *c) { push_generic(c, QL_HEAD, 0); }
void cmd_rpush(cb_client *c) { push_generic(c, QL_TAIL, 0); }
void cmd_lpushx(cb_client *c) { push_generic(c, QL_HEAD, 1); }
void cmd_rpushx(cb_client *c) { push_generic(c, QL_TAIL, 1); }

/* ------------------------------------------------------------------------
 * Pop
 * ---------------------------------------------------------------------- */

static void pop_generic(cb_client *c, int where)
{
    long long count = 0;
    int hascount = 0;
    if (c->argc > 3) {
        reply_errorf(c, "wrong number of arguments for '%s' command",
                     where == QL_HEAD ? "lpop" : "rpop");
        return;
    }
    if (c->argc == 3) {
        if (arg_positive(c, 2, &count, "value is out of range, must be positive") != 0) return;
        hascount = 1;
    }
    cb_obj *o;
    if (!lookup_list(c, c->shard, c->db, 1, 1, &o)) return;
    if (!o) {
        if (hascount) reply_null_array(c);
        else reply_null(c);
        return;
    }
    quicklist *ql = o->ptr;
    if (hascount && count == 0) {
        reply_empty_array(c);
        return;
    }
    unsigned long n = 1;
    if (!hascount) {
        ql_iter it;
        ql_iter_init(ql, &it, where == QL_HEAD ? 0 : -1, QL_TAIL);
        if (ql_iter_next(&it)) reply_val(c, &it.val);
        ql_iter_release(&it);
        if (where == QL_HEAD) ql_del_range(ql, 0, 1);
        else ql_del_range(ql, ql->count - 1, 1);
    } else {
        n = (unsigned long long)count > ql->count ? ql->count : (unsigned long)count;
        pop_range_reply(c, ql, where, (long)n);
    }
    list_removed(c, c->shard, c->db, 1, o, n, where == QL_HEAD ? "lpop" : "rpop");
}

void cmd_lpop(cb_client *c) { pop_generic(c, QL_HEAD); }
void cmd_rpop(cb_client *c) { pop_generic(c, QL_TAIL); }

/* ------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------- */

void cmd_llen(cb_client *c)
{
    cb_obj *o;
    if (!lookup_list(c, c->shard, c->db, 1, 0, &o)) return;
    reply_int(c, o ? (long long)((quicklist *)o->ptr)->count : 0);
}

void cmd_lindex(cb_client *c)
{
    cb_obj *o;
    if (!lookup_list(c, c->shard, c->db, 1, 0, &o)) return;
    if (!o) {
        reply_null(c);
        return;
    }
    long long index;
    if (arg_ll(c, 2, &index, NULL) != 0) return;
    ql_iter it;
    if (ql_iter_init(o->ptr, &it, (long)index, QL_TAIL) && ql_iter_next(&it))
        reply_val(c, &it.val);
    else
        reply_null(c);
    ql_iter_release(&it);
}

void cmd_lrange(cb_client *c)
{
    long long start, end;
    if (arg_ll(c, 2, &start, NULL) != 0 || arg_ll(c, 3, &end, NULL) != 0) return;
    cb_obj *o;
    if (!lookup_list(c, c->shard, c->db, 1, 0, &o)) return;
    if (!o) {
        reply_empty_array(c);
        return;
    }
    quicklist *ql = o->ptr;
    long long llen = (long long)ql->count;
    if (start < 0) start += llen;
    if (end < 0) end += llen;
    if (start < 0) start = 0;
    if (start > end || start >= llen) {
        reply_empty_array(c);
        return;
    }
    if (end >= llen) end = llen - 1;
    reply_range(c, ql, (long)start, (long)(end - start + 1), QL_TAIL);
}

void cmd_lpos(cb_client *c)
{
    long long rank = 1, count = -1, maxlen = 0;
    for (int j = 3; j < c->argc; j++) {
        int more = j + 1 < c->argc;
        if (arg_eq(c, j, "RANK") && more) {
            if (arg_ll(c, ++j, &rank, NULL) != 0) return;
            if (rank == 0) {
                reply_error(c, ERR_RANK_ZERO);
                return;
            }
        } else if (arg_eq(c, j, "COUNT") && more) {
            if (arg_positive(c, ++j, &count, "COUNT can't be negative") != 0) return;
        } else if (arg_eq(c, j, "MAXLEN") && more) {
            if (arg_positive(c, ++j, &maxlen, "MAXLEN can't be negative") != 0) return;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    int dir = QL_TAIL;
    if (rank < 0) {
        /* Negating LLONG_MIN leaves it negative; Redis then treats every
         * match as reached, and so do we. */
        rank = (long long)(0ULL - (unsigned long long)rank);
        dir = QL_HEAD;
    }
    cb_obj *o;
    if (!lookup_list(c, c->shard, c->db, 1, 0, &o)) return;
    if (!o) {
        if (count != -1) reply_empty_array(c);
        else reply_null(c);
        return;
    }
    quicklist *ql = o->ptr;
    void *deferred = count != -1 ? reply_deferred_len(c) : NULL;
    long found = 0, matches = 0, index = 0;
    ql_iter it;
    ql_iter_init(ql, &it, dir == QL_HEAD ? -1 : 0, dir);
    while ((maxlen == 0 || index < maxlen) && ql_iter_next(&it)) {
        if (lp_eq(it.p, ARGP(c, 2), ARGL(c, 2))) {
            matches++;
            if (matches >= rank) {
                long pos = dir == QL_TAIL ? index : (long)ql->count - index - 1;
                reply_int(c, pos);
                found++;
                if (!deferred) break;
                long long seen = (long long)((unsigned long long)matches -
                                             (unsigned long long)rank + 1);
                if (count && seen >= count) break;
            }
        }
        index++;
    }
    ql_iter_release(&it);
    if (deferred) reply_set_deferred_len(c, deferred, found, 'a');
    else if (!found) reply_null(c);
}

/* ------------------------------------------------------------------------
 * Changing in place
 * ---------------------------------------------------------------------- */

void cmd_lset(cb_client *c)
{
    cb_obj *o;
    if (!lookup_list(c, c->shard, c->db, 1, 1, &o)) return;
    if (!o) {
        reply_error(c, ERR_NO_SUCH_KEY);
        return;
    }
    long long index;
    if (arg_ll(c, 2, &index, NULL) != 0) return;
    if (!ql_replace(o->ptr, (long)index, ARGP(c, 3), ARGL(c, 3))) {
        reply_error(c, ERR_OUT_OF_RANGE);
        return;
    }
    reply_ok(c);
    db_signal_modified(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
    NOTIFY_ARG(c, NOTIFY_LIST, "lset", 1);
    c->shard->dirty++;
}

void cmd_linsert(cb_client *c)
{
    int after;
    if (arg_eq(c, 2, "AFTER")) after = 1;
    else if (arg_eq(c, 2, "BEFORE")) after = 0;
    else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    cb_obj *o;
    if (!lookup_list(c, c->shard, c->db, 1, 1, &o)) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    quicklist *ql = o->ptr;
    ql_iter it;
    int inserted = 0;
    ql_iter_init(ql, &it, 0, QL_TAIL);
    while (ql_iter_next(&it)) {
        if (lp_eq(it.p, ARGP(c, 3), ARGL(c, 3))) {
            ql_iter_insert(&it, after, ARGP(c, 4), ARGL(c, 4));
            inserted = 1;
            break;
        }
    }
    ql_iter_release(&it);
    if (!inserted) {
        reply_int(c, -1);
        return;
    }
    db_signal_modified(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
    NOTIFY_ARG(c, NOTIFY_LIST, "linsert", 1);
    c->shard->dirty++;
    reply_int(c, (long long)ql->count);
}

void cmd_lrem(cb_client *c)
{
    long long toremove;
    if (arg_ll(c, 2, &toremove, NULL) != 0) return;
    cb_obj *o;
    if (!lookup_list(c, c->shard, c->db, 1, 1, &o)) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    quicklist *ql = o->ptr;
    int dir = toremove < 0 ? QL_HEAD : QL_TAIL;
    unsigned long long limit = toremove < 0 ? 0ULL - (unsigned long long)toremove
                                            : (unsigned long long)toremove;
    unsigned long removed = 0;
    ql_iter it;
    ql_iter_init(ql, &it, dir == QL_HEAD ? -1 : 0, dir);
    while (ql_iter_next(&it)) {
        if (lp_eq(it.p, ARGP(c, 3), ARGL(c, 3))) {
            ql_iter_delete(&it);
            removed++;
            if (limit && removed == limit) break;
        }
    }
    ql_iter_release(&it);
    if (removed) list_removed(c, c->shard, c->db, 1, o, removed, "lrem");
    reply_int(c, (long long)removed);
}

void cmd_ltrim(cb_client *c)
{
    long long start, end;
    if (arg_ll(c, 2, &start, NULL) != 0 || arg_ll(c, 3, &end, NULL) != 0) return;
    cb_obj *o;
    if (!lookup_list(c, c->shard, c->db, 1, 1, &o)) return;
    if (!o) {
        reply_ok(c);
        return;
    }
    quicklist *ql = o->ptr;
    long long llen = (long long)ql->count, ltrim, rtrim;
    if (start < 0) start += llen;
    if (end < 0) end += llen;
    if (start < 0) start = 0;
    if (start > end || start >= llen) {
        ltrim = llen;
        rtrim = 0;
    } else {
        if (end >= llen) end = llen - 1;
        ltrim = start;
        rtrim = llen - end - 1;
    }
    ql_del_range(ql, 0, (unsigned long)ltrim);
    if (rtrim) ql_del_range(ql, ql->count - (unsigned long)rtrim, (unsigned long)rtrim);
    list_removed(c, c->shard, c->db, 1, o, (unsigned long)(ltrim + rtrim), "ltrim");
    reply_ok(c);
}

/* The effect of LMPOP / BLMPOP / BLPOP / BRPOP: LPOP or RPOP of key k,
 * with a count unless count < 0. */
static void prop_pop(cb_client *c, int where, int k, long long count)
{
    char num[24];
    int nl = snprintf(num, sizeof(num), "%lld", count);
    const char *pv[3] = {where == QL_HEAD ? "LPOP" : "RPOP", ARGP(c, k), num};
    size_t pl[3] = {4, ARGL(c, k), (size_t)nl};
    prop_rewrite(c, count < 0 ? 2 : 3, pv, pl);
}

/* ------------------------------------------------------------------------
 * Moving between lists
 * ---------------------------------------------------------------------- */

static void move_generic(cb_client *c, int wherefrom, int whereto)
{
    cb_db *sdb;
    cb_shard *ss = key_shard(c, 1, &sdb);
    cb_obj *src;
    if (!lookup_list(c, ss, sdb, 1, 1, &src)) return;
    if (!src) {
        reply_null(c);
        return;
    }
    cb_db *ddb;
    cb_shard *ds = key_shard(c, 2, &ddb);
    cb_obj *dst;
    if (!lookup_list(c, ds, ddb, 2, 1, &dst)) return;

    quicklist *ql = src->ptr;
    ql_iter it;
    ql_iter_init(ql, &it, wherefrom == QL_HEAD ? 0 : -1, QL_TAIL);
    ql_iter_next(&it);
    char buf[32];
    size_t len;
    const char *p = lp_str(&it.val, buf, &len);
    char *val = cb_memdup(p, len);
    ql_iter_release(&it);
    ql_del_range(ql, wherefrom == QL_HEAD ? 0 : ql->count - 1, 1);

    if (!dst) {
        dst = list_new(ds);
        db_add(ds, ddb, ARGP(c, 2), ARGL(c, 2), dst);
    }
    ql_push(dst->ptr, whereto, val, len);
    db_signal_modified(ds, ddb, ARGP(c, 2), ARGL(c, 2));
    notify_keyspace_event(ds, ddb, NOTIFY_LIST, whereto == QL_HEAD ? "lpush" : "rpush",
                          ARGP(c, 2), ARGL(c, 2));
    reply_bulk(c, val, len);
    cb_free(val);
    list_removed(c, ss, sdb, 1, src, 1, wherefrom == QL_HEAD ? "lpop" : "rpop");
}

void cmd_lmove(cb_client *c)
{
    int from, to;
    if (parse_where(c, 3, &from) != 0 || parse_where(c, 4, &to) != 0) return;
    move_generic(c, from, to);
}

void cmd_rpoplpush(cb_client *c) { move_generic(c, QL_TAIL, QL_HEAD); }

void cmd_lmpop(cb_client *c)
{
    long long numkeys, count = -1;
    if (arg_ll(c, 1, &numkeys, "numkeys should be greater than 0") != 0) return;
    if (numkeys < 1) {
        reply_error(c, "numkeys should be greater than 0");
        return;
    }
    if (numkeys >= c->argc - 2) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int where_idx = 2 + (int)numkeys, where;
    if (parse_where(c, where_idx, &where) != 0) return;
    for (int j = where_idx + 1; j < c->argc; j++) {
        if (count == -1 && arg_eq(c, j, "COUNT") && j + 1 < c->argc) {
            if (arg_ll(c, ++j, &count, "count should be greater than 0") != 0) return;
            if (count < 1) {
                reply_error(c, "count should be greater than 0");
                return;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (count == -1) count = 1;
    for (int k = 2; k < where_idx; k++) {
        cb_db *db;
        cb_shard *s = key_shard(c, k, &db);
        cb_obj *o;
        if (!lookup_list(c, s, db, k, 1, &o)) return;
        if (!o) continue;
        quicklist *ql = o->ptr;
        unsigned long n = (unsigned long long)count > ql->count ? ql->count : (unsigned long)count;
        reply_array_len(c, 2);
        reply_bulk(c, ARGP(c, k), ARGL(c, k));
        pop_range_reply(c, ql, where, (long)n);
        list_removed(c, s, db, k, o, n, where == QL_HEAD ? "lpop" : "rpop");
        prop_pop(c, where, k, (long long)n);
        return;
    }
    reply_null_array(c);
}

/* ------------------------------------------------------------------------
 * Blocking pops (dataplane/blocking.h has the mechanism: a handler serves
 * if it can, otherwise asks block_client() and, when told not to wait,
 * sends its timeout reply).
 * ---------------------------------------------------------------------- */

/* Lookup for a blocking pop. While serving a waiter (re-run after its key
 * changed), a key that now holds another type is passed over and the client
 * stays blocked, as Redis does; otherwise WRONGTYPE as usual. */
static int lookup_list_blocking(cb_client *c, cb_shard *s, cb_db *db, int i, cb_obj **out)
{
    if (c->block_mode == BLOCK_MODE_SERVING) {
        cb_obj *o = db_lookup_write(s, db, ARGP(c, i), ARGL(c, i));
        *out = o && o->type == OBJ_LIST ? o : NULL;
        return 1;
    }
    return lookup_list(c, s, db, i, 1, out);
}

/* BLPOP / BRPOP key [key ...] timeout */
static void bpop_generic(cb_client *c, int where)
{
    long long deadline;
    if (blocking_timeout_arg(c, c->argc - 1, &deadline) != 0) return;
    for (int k = 1; k < c->argc - 1; k++) {
        cb_db *db;
        cb_shard *s = key_shard(c, k, &db);
        cb_obj *o;
        if (!lookup_list_blocking(c, s, db, k, &o)) return;
        if (!o) continue;
        quicklist *ql = o->ptr;
        reply_array_len(c, 2);
        reply_bulk(c, ARGP(c, k), ARGL(c, k));
        ql_iter it;
        ql_iter_init(ql, &it, where == QL_HEAD ? 0 : -1, QL_TAIL);
        if (ql_iter_next(&it)) reply_val(c, &it.val);
        ql_iter_release(&it);
        ql_del_range(ql, where == QL_HEAD ? 0 : ql->count - 1, 1);
        list_removed(c, s, db, k, o, 1, where == QL_HEAD ? "lpop" : "rpop");
        prop_pop(c, where, k, -1);
        return;
    }
    int keys[c->argc];
    int n = 0;
    for (int k = 1; k < c->argc - 1; k++) keys[n++] = k;
    if (!block_client(c, n, keys, deadline)) reply_null_array(c);
}

void cmd_blpop(cb_client *c) { bpop_generic(c, QL_HEAD); }
void cmd_brpop(cb_client *c) { bpop_generic(c, QL_TAIL); }

/* BLMOVE / BRPOPLPUSH: block on the source only. */
static void bmove_generic(cb_client *c, int from, int to, int timeout_idx)
{
    long long deadline;
    if (blocking_timeout_arg(c, timeout_idx, &deadline) != 0) return;
    cb_db *db;
    cb_shard *s = key_shard(c, 1, &db);
    cb_obj *o;
    if (!lookup_list_blocking(c, s, db, 1, &o)) return;
    if (o) {
        move_generic(c, from, to);
        /* Replayed as the non-blocking form, arguments as the client sent. */
        if (timeout_idx == 5) {
            const char *pv[5] = {"LMOVE", ARGP(c, 1), ARGP(c, 2), ARGP(c, 3), ARGP(c, 4)};
            size_t pl[5] = {5, ARGL(c, 1), ARGL(c, 2), ARGL(c, 3), ARGL(c, 4)};
            prop_rewrite(c, 5, pv, pl);
        } else {
            const char *pv[3] = {"RPOPLPUSH", ARGP(c, 1), ARGP(c, 2)};
            size_t pl[3] = {9, ARGL(c, 1), ARGL(c, 2)};
            prop_rewrite(c, 3, pv, pl);
        }
        return;
    }
    int key = 1;
    /* Inside MULTI a null bulk; a real timeout answers a null array. */
    if (!block_client(c, 1, &key, deadline)) {
        if (c->block_mode == BLOCK_MODE_TIMEOUT)
            reply_null_array(c);
        else
            reply_null(c);
    }
}

void cmd_blmove(cb_client *c)
{
    int from, to;
    if (parse_where(c, 3, &from) != 0 || parse_where(c, 4, &to) != 0) return;
    bmove_generic(c, from, to, 5);
}

void cmd_brpoplpush(cb_client *c) { bmove_generic(c, QL_TAIL, QL_HEAD, 3); }

/* BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count] */
void cmd_blmpop(cb_client *c)
{
    long long numkeys, count = -1, deadline;
    if (arg_ll(c, 2, &numkeys, "numkeys should be greater than 0") != 0) return;
    if (numkeys < 1) {
        reply_error(c, "numkeys should be greater than 0");
        return;
    }
    if (numkeys >= c->argc - 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int where_idx = 3 + (int)numkeys, where;
    if (parse_where(c, where_idx, &where) != 0) return;
    for (int j = where_idx + 1; j < c->argc; j++) {
        if (count == -1 && arg_eq(c, j, "COUNT") && j + 1 < c->argc) {
            if (arg_ll(c, ++j, &count, "count should be greater than 0") != 0) return;
            if (count < 1) {
                reply_error(c, "count should be greater than 0");
                return;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (count == -1) count = 1;
    if (blocking_timeout_arg(c, 1, &deadline) != 0) return;
    for (int k = 3; k < where_idx; k++) {
        cb_db *db;
        cb_shard *s = key_shard(c, k, &db);
        cb_obj *o;
        if (!lookup_list_blocking(c, s, db, k, &o)) return;
        if (!o) continue;
        quicklist *ql = o->ptr;
        unsigned long n = (unsigned long long)count > ql->count ? ql->count : (unsigned long)count;
        reply_array_len(c, 2);
        reply_bulk(c, ARGP(c, k), ARGL(c, k));
        pop_range_reply(c, ql, where, (long)n);
        list_removed(c, s, db, k, o, n, where == QL_HEAD ? "lpop" : "rpop");
        prop_pop(c, where, k, (long long)n);
        return;
    }
    int keys[numkeys];
    for (int k = 0; k < numkeys; k++) keys[k] = 3 + k;
    if (!block_client(c, (int)numkeys, keys, deadline)) reply_null_array(c);
}
