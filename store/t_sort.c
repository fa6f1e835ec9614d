/* t_sort.c — SORT and SORT_RO over lists, sets and sorted sets, as Redis
 * 7.0 answers them. Call order: parse the options (errors win in argument
 * order), look the key up and check its type, load the elements (directly
 * in the wanted window when nothing needs sorting: BY a pattern without
 * '*'), compute sort weights (numeric via strtod, or ALPHA bytes, read
 * through the BY pattern when given), sort, then emit each element or its
 * GET patterns, to the client or into a new list under STORE.
 * BY/GET patterns name keys that may live in any shard; SORT runs with the
 * other workers parked (dataplane/xshard.c) and each generated key's shard
 * is resolved with client_key_shard. Redis 7.0 quirks kept on purpose: a
 * compact sorted set is converted to a skiplist by any SORT of it; an empty
 * or missing BY value weighs 0; ties of numeric weights fall back to the
 * elements' bytes; ties of ALPHA BY weights are left unordered.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "object.h"
#include "db.h"
#include "t_hash.h"
#include "t_zset.h"
#include "ds/quicklist.h"
#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"

/* One element being sorted: its bytes (owned) and its weight. */
typedef struct sort_item {
    char *ele;
    size_t len;
    double score;
    char *cmp;      /* ALPHA BY value (owned), NULL when the key is missing */
    size_t cmplen;
} sort_item;

typedef struct sort_opts {
    int desc, alpha, bypattern, store;
} sort_opts;

typedef struct sort_vec {
    sort_item *v;
    size_t n, cap;
} sort_vec;

static void vec_push(sort_vec *sv, const char *p, size_t len)
{
    if (sv->n == sv->cap) {
        sv->cap = sv->cap ? sv->cap * 2 : 16;
        sv->v = cb_realloc(sv->v, sv->cap * sizeof(*sv->v));
    }
    sort_item *it = &sv->v[sv->n++];
    it->ele = cb_memdup(p, len ? len : 1);
    it->len = len;
    it->score = 0;
    it->cmp = NULL;
    it->cmplen = 0;
}

static void vec_push_cb(void *priv, const char *p, size_t len) { vec_push(priv, p, len); }

static void vec_free(sort_vec *sv)
{
    for (size_t i = 0; i < sv->n; i++) {
        cb_free(sv->v[i].ele);
        cb_free(sv->v[i].cmp);
    }
    cb_free(sv->v);
}

/* Binary comparison (Redis's compareStringObjects). */
static int cmp_binary(const char *a, size_t al, const char *b, size_t bl)
{
    int r = memcmp(a, b, al < bl ? al : bl);
    if (r) return r;
    return al < bl ? -1 : al > bl;
}

/* Redis collates with strcoll (C.UTF-8 here: byte order up to a NUL). */
static int cmp_coll(const char *a, size_t al, const char *b, size_t bl)
{
    return cmp_binary(a, strnlen(a, al), b, strnlen(b, bl));
}

static int sort_cmp(const void *pa, const void *pb, void *priv)
{
    const sort_item *a = pa, *b = pb;
    const sort_opts *o = priv;
    int r;
    if (!o->alpha) {
        if (a->score > b->score) r = 1;
        else if (a->score < b->score) r = -1;
        else r = cmp_binary(a->ele, a->len, b->ele, b->len);
    } else if (o->bypattern) {
        if (!a->cmp || !b->cmp) r = a->cmp == b->cmp ? 0 : (a->cmp ? 1 : -1);
        else if (o->store) r = cmp_binary(a->cmp, a->cmplen, b->cmp, b->cmplen);
        else r = cmp_coll(a->cmp, a->cmplen, b->cmp, b->cmplen);
    } else {
        r = o->store ? cmp_binary(a->ele, a->len, b->ele, b->len)
                     : cmp_coll(a->ele, a->len, b->ele, b->len);
    }
    return o->desc ? -r : r;
}

/* The shard owning a key, with its clock set to the command's. */
static cb_shard *shard_for(cb_client *c, const char *k, size_t len, cb_db **db)
{
    cb_shard *s = client_key_shard(c, k, len);
    if (s == c->shard) {
        *db = c->db;
        return s;
    }
    shard_set_time(s, c->shard->now_ms);
    *db = client_shard_db(c, s);
    return s;
}

/* Where the first '*' of a pattern is, searching as C strings do (up to
 * the first NUL); -1 when none. */
static long pattern_star(const char *pat, size_t plen)
{
    const char *p = memchr(pat, '*', strnlen(pat, plen));
    return p ? p - pat : -1;
}

/* The value a GET/BY pattern names for element e: "#" is the element
 * itself; "pre*post" the string key with '*' replaced by e; "pre*post->f"
 * field f of that hash. 1 with (*v, *vl) (valid until the next write; buf,
 * >= 32 bytes, may hold integer text), 0 when there is no such value. */
static int pattern_value(cb_client *c, const char *pat, size_t plen, const char *e,
                         size_t el, int write, char *buf, const char **v, size_t *vl)
{
    if (plen >= 1 && pat[0] == '#' && (plen == 1 || pat[1] == '\0')) {
        *v = e;
        *vl = el;
        return 1;
    }
    long star = pattern_star(pat, plen);
    if (star < 0) return 0;
    size_t clen = strnlen(pat, plen);
    size_t fieldlen = 0;
    for (size_t i = (size_t)star + 1; i + 1 < clen; i++) {
        if (pat[i] == '-' && pat[i + 1] == '>') {
            if (i + 2 < plen && pat[i + 2] != '\0') fieldlen = plen - i - 2;
            break;
        }
    }
    size_t pre = (size_t)star;
    size_t post = plen - pre - 1 - (fieldlen ? fieldlen + 2 : 0);
    size_t klen = pre + el + post;
    char *key = cb_malloc(klen ? klen : 1);
    memcpy(key, pat, pre);
    memcpy(key + pre, e, el);
    memcpy(key + pre + el, pat + star + 1, post);
    cb_db *db;
    cb_shard *s = shard_for(c, key, klen, &db);
    cb_obj *o = write ? db_lookup_write(s, db, key, klen) : db_lookup_read(s, db, key, klen, 0);
    /* A miss raises "keymiss" under STORE too, as in Redis. */
    if (!o && write) notify_keyspace_event(s, db, NOTIFY_KEY_MISS, "keymiss", key, klen);
    cb_free(key);
    if (!o) return 0;
    if (fieldlen) {
        if (o->type != OBJ_HASH) return 0;
        return hash_get(o, pat + plen - fieldlen, fieldlen, buf, v, vl);
    }
    if (o->type != OBJ_STRING) return 0;
    *v = obj_str(o, buf, vl);
    return 1;
}

/* Redis parses weights with strtod over the whole (NUL-terminated) value:
 * leading blanks and hex are fine, an empty value is 0, trailing bytes up
 * to a NUL fail, and so do overflow, underflow and NaN. 0 on failure. */
static int parse_weight(const char *p, size_t len, double *out)
{
    char small[64];
    char *z = len < sizeof(small) ? small : cb_malloc(len + 1);
    memcpy(z, p, len);
    z[len] = '\0';
    char *end;
    errno = 0;
    double d = strtod(z, &end);
    int ok = end[0] == '\0' && errno != ERANGE && !isnan(d);
    if (z != small) cb_free(z);
    *out = d;
    return ok;
}

static cb_obj *new_list(const cb_shard *s)
{
    cb_obj *o = cb_malloc(sizeof(*o));
    o->type = OBJ_LIST;
    o->encoding = OBJ_ENC_QUICKLIST;
    o->lru = 0;
    o->refcount = 1;
    o->ptr = ql_new(s->set->list_max_listpack_size, s->set->list_compress_depth);
    return o;
}

/* Loads a list's entries [start, start+n) counted from the head (or, with
 * desc, from the tail) into sv. */
static void load_list(sort_vec *sv, const cb_obj *o, long start, long n, int desc)
{
    quicklist *ql = o->ptr;
    ql_iter it;
    long idx = desc ? (long)ql->count - start - 1 : start;
    ql_iter_init(ql, &it, idx, desc ? QL_HEAD : QL_TAIL);
    while (n-- > 0 && ql_iter_next(&it)) {
        char buf[32];
        size_t len;
        const char *p = lp_str(&it.val, buf, &len);
        vec_push(sv, p, len);
    }
    ql_iter_release(&it);
}

/* Loads a sorted set's members ranked [start, start+n) ascending, or
 * descending with desc. */
static void load_zset(sort_vec *sv, const cb_obj *o, long start, long n, int desc)
{
    long len = (long)zset_len(o);
    zset_it it;
    zit_init(&it, o, desc ? len - 1 - start : start);
    while (n-- > 0 && zit_valid(&it)) {
        const char *e;
        size_t l;
        zit_get(&it, &e, &l, NULL);
        vec_push(sv, e, l);
        if (desc) zit_prev(&it);
        else zit_next(&it);
    }
    zit_release(&it);
}

static void sort_run(cb_client *c, int readonly, int *gets)
{
    sort_opts so = { 0, 0, 0, 0 };
    long long limit_start = 0, limit_count = -1;
    int dontsort = 0, by = -1, store = -1, ngets = 0;
    for (int j = 2; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (arg_eq(c, j, "asc")) {
            so.desc = 0;
        } else if (arg_eq(c, j, "desc")) {
            so.desc = 1;
        } else if (arg_eq(c, j, "alpha")) {
            so.alpha = 1;
        } else if (arg_eq(c, j, "limit") && left >= 2) {
            if (arg_ll(c, j + 1, &limit_start, NULL) != 0 ||
                arg_ll(c, j + 2, &limit_count, NULL) != 0)
                return;
            j += 2;
        } else if (!readonly && arg_eq(c, j, "store") && left >= 1) {
            store = ++j;
        } else if (arg_eq(c, j, "by") && left >= 1) {
            by = ++j;
            /* Once a constant BY was seen nothing is sorted, even when a
             * later BY has a '*' (Redis 7.0 never clears the flag). */
            if (pattern_star(ARGP(c, by), ARGL(c, by)) < 0) dontsort = 1;
        } else if (arg_eq(c, j, "get") && left >= 1) {
            gets[ngets++] = ++j;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }

    cb_db *db;
    cb_shard *s = shard_for(c, ARGP(c, 1), ARGL(c, 1), &db);
    cb_obj *o = db_lookup_read(s, db, ARGP(c, 1), ARGL(c, 1), 0);
    if (o && o->type != OBJ_SET && o->type != OBJ_LIST && o->type != OBJ_ZSET) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    so.store = store >= 0;
    /* Sets have no order of their own: a stored result must not depend on
     * the hash table, so STORE of an unsorted set sorts it by bytes. */
    if (dontsort && o && o->type == OBJ_SET && store >= 0) {
        dontsort = 0;
        so.alpha = 1;
        by = -1;
    }
    if (o && o->type == OBJ_ZSET) zset_to_skiplist(s, o);

    sort_vec sv = { NULL, 0, 0 };
    long len = 0;
    if (o) {
        if (o->type == OBJ_LIST) {
            len = (long)((quicklist *)o->ptr)->count;
        } else if (o->type == OBJ_ZSET) {
            len = (long)zset_len(o);
        } else {
            /* A set is always loaded whole, in its own order. */
            set_foreach(o, vec_push_cb, &sv);
            len = (long)sv.n;
        }
    }
    long start = limit_start < 0 ? 0 : (limit_start > len ? len : (long)limit_start);
    long count = limit_count < -1 ? -1 : (limit_count > len ? len : (long)limit_count);
    long end = count < 0 ? len - 1 : start + count - 1;
    if (start >= len) {
        start = len - 1;
        end = len - 2;
    }
    if (end >= len) end = len - 1;

    if (o && dontsort && o->type != OBJ_SET) {
        /* Already in order: load only the window. */
        if (end >= start) {
            if (o->type == OBJ_LIST) load_list(&sv, o, start, end - start + 1, so.desc);
            else load_zset(&sv, o, start, end - start + 1, so.desc);
        }
        end -= start;
        start = 0;
    } else if (o) {
        if (o->type == OBJ_LIST) load_list(&sv, o, 0, len, 0);
        else if (o->type == OBJ_ZSET) load_zset(&sv, o, 0, len, 0);
    }

    int conv_error = 0;
    if (!dontsort) {
        char buf[32];
        for (size_t j = 0; j < sv.n; j++) {
            sort_item *it = &sv.v[j];
            const char *v = it->ele;
            size_t vl = it->len;
            if (by >= 0 && !pattern_value(c, ARGP(c, by), ARGL(c, by), it->ele, it->len,
                                          store >= 0, buf, &v, &vl))
                continue;
            if (so.alpha) {
                if (by >= 0) {
                    it->cmp = cb_memdup(v, vl ? vl : 1);
                    it->cmplen = vl;
                }
            } else if (!parse_weight(v, vl, &it->score)) {
                conv_error = 1;
            }
        }
        so.bypattern = by >= 0;
        if (sv.n > 1) qsort_r(sv.v, sv.n, sizeof(*sv.v), sort_cmp, &so);
    }

    long outlen = (end - start + 1) * (ngets ? ngets : 1);
    if (outlen < 0) outlen = 0;
    char buf[32];
    if (conv_error) {
        reply_error(c, "One or more scores can't be converted into double");
    } else if (store < 0) {
        reply_array_len(c, outlen);
        for (long j = start; j <= end; j++) {
            sort_item *it = &sv.v[j];
            if (!ngets) reply_bulk(c, it->ele, it->len);
            for (int g = 0; g < ngets; g++) {
                const char *v;
                size_t vl;
                if (pattern_value(c, ARGP(c, gets[g]), ARGL(c, gets[g]), it->ele, it->len, 0,
                                  buf, &v, &vl))
                    reply_bulk(c, v, vl);
                else
                    reply_null(c);
            }
        }
    } else {
        cb_db *ddb;
        cb_shard *ds = shard_for(c, ARGP(c, store), ARGL(c, store), &ddb);
        cb_obj *lo = new_list(ds);
        quicklist *ql = lo->ptr;
        for (long j = start; j <= end; j++) {
            sort_item *it = &sv.v[j];
            if (!ngets) ql_push(ql, QL_TAIL, it->ele, it->len);
            for (int g = 0; g < ngets; g++) {
                const char *v;
                size_t vl;
                if (pattern_value(c, ARGP(c, gets[g]), ARGL(c, gets[g]), it->ele, it->len, 1,
                                  buf, &v, &vl))
                    ql_push(ql, QL_TAIL, v, vl);
                else
                    ql_push(ql, QL_TAIL, "", 0);
            }
        }
        if (outlen) {
            db_set(ds, ddb, ARGP(c, store), ARGL(c, store), lo, 0);
            db_signal_modified(ds, ddb, ARGP(c, store), ARGL(c, store));
            notify_keyspace_event(ds, ddb, NOTIFY_LIST, "sortstore", ARGP(c, store),
                                  ARGL(c, store));
            ds->dirty += (uint64_t)outlen;
        } else {
            obj_decr_ref(lo);
            if (db_delete(ds, ddb, ARGP(c, store), ARGL(c, store))) {
                db_signal_modified(ds, ddb, ARGP(c, store), ARGL(c, store));
                notify_keyspace_event(ds, ddb, NOTIFY_GENERIC, "del", ARGP(c, store),
                                      ARGL(c, store));
                ds->dirty++;
            }
        }
        reply_int(c, outlen);
    }
    vec_free(&sv);
}

static void sort_generic(cb_client *c, int readonly)
{
    /* Indexes of the GET patterns (heap: argc is the client's to choose). */
    int *gets = cb_malloc(sizeof(int) * (size_t)c->argc);
    sort_run(c, readonly, gets);
    cb_free(gets);
}

void cmd_sort(cb_client *c) { sort_generic(c, 0); }
void cmd_sort_ro(cb_client *c) { sort_generic(c, 1); }
