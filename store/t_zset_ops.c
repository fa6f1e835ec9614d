/* t_zset_ops.c — the sorted-set commands that pop, combine or sample:
 * ZPOPMIN/ZPOPMAX/ZMPOP, ZUNION/ZINTER/ZDIFF (and their STORE forms),
 * ZINTERCARD, ZRANDMEMBER and ZSCAN. The value layer is t_zset.c.
 * Combining commands accumulate into a scratch dict, then sort the result
 * by (score, element); floating-point sums depend on the order inputs are
 * visited, so inputs are visited as Redis does: sorted by cardinality with
 * a stable sort, each in ascending order. Keys may live on several shards
 * (the dispatcher parks the other workers); each key's shard is resolved
 * with client_key_shard. Design: docs/sorted-sets.md.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "t_zset.h"
#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"

/* ------------------------------------------------------------------------
 * Shared helpers
 * ---------------------------------------------------------------------- */

static cb_shard *shard_of(cb_client *c, int i, cb_db **db)
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

/* Parses arg i as a long in [min, max]; msg (or the integer error) on
 * failure, as Redis's getRangeLongFromObjectOrReply. */
static int arg_range(cb_client *c, int i, long long min, long long max, long long *v,
                     const char *msg)
{
    if (!util_str2ll(ARGP(c, i), ARGL(c, i), v)) {
        reply_error(c, msg ? msg : ERR_NOT_INT);
        return -1;
    }
    if (*v < min || *v > max) {
        if (msg) reply_error(c, msg);
        else reply_errorf(c, "value is out of range, value must between %lld and %lld", min, max);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * ZPOPMIN, ZPOPMAX, ZMPOP
 * ---------------------------------------------------------------------- */

/* Pops up to count from the first non-empty key among argv[first..first+n).
 * nested: pairs as [ele, score] arrays; emitkey: ZMPOP's [key, [...]]. */
static void zpop_generic(cb_client *c, int first, int n, int max, long long count,
                         int nested, int emitkey, int nil_when_empty)
{
    cb_obj *o = NULL;
    cb_shard *s = c->shard;
    cb_db *db = c->db;
    int ki = -1;
    for (int k = 0; k < n; k++) {
        s = shard_of(c, first + k, &db);
        o = db_lookup_write(s, db, ARGP(c, first + k), ARGL(c, first + k));
        if (!o) continue;
        if (o->type != OBJ_ZSET) {
            reply_error(c, ERR_WRONGTYPE);
            return;
        }
        ki = first + k;
        break;
    }
    if (!o) {
        if (nil_when_empty) reply_null_array(c);
        else reply_empty_array(c);
        return;
    }
    if (count == 0) {
        reply_empty_array(c);
        return;
    }
    if (count < 0) count = 1;
    long long llen = (long long)zset_len(o);
    long long rangelen = count > llen ? llen : count;
    if (emitkey) {
        reply_array_len(c, 2);
        reply_bulk(c, ARGP(c, ki), ARGL(c, ki));
        reply_array_len(c, (long)rangelen);
    } else {
        reply_array_len(c, (long)(nested ? rangelen : rangelen * 2));
    }
    for (long long k = 0; k < rangelen; k++) {
        size_t rank = max ? zset_len(o) - 1 : 0;
        zset_it it;
        zit_init(&it, o, (long)rank);
        const char *e;
        size_t l;
        double sc;
        zit_get(&it, &e, &l, &sc);
        if (nested) reply_array_len(c, 2);
        reply_bulk(c, e, l);
        reply_double(c, sc);
        zit_release(&it);
        zset_delete_ranks(o, rank, rank);
    }
    notify_keyspace_event(s, db, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", ARGP(c, ki),
                          ARGL(c, ki));
    if (zset_len(o) == 0) {
        db_delete(s, db, ARGP(c, ki), ARGL(c, ki));
        notify_keyspace_event(s, db, NOTIFY_GENERIC, "del", ARGP(c, ki), ARGL(c, ki));
    }
    db_signal_modified(s, db, ARGP(c, ki), ARGL(c, ki));
    s->dirty += (uint64_t)rangelen;
}

static void zpop_cmd(cb_client *c, int max)
{
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    long long count = -1;
    if (c->argc == 3) {
        if (!util_str2ll(ARGP(c, 2), ARGL(c, 2), &count) || count < 0) {
            reply_error(c, "value is out of range, must be positive");
            return;
        }
    }
    zpop_generic(c, 1, 1, max, count, c->resp > 2 && count != -1, 0, 0);
}

void cmd_zpopmin(cb_client *c)
{
    zpop_cmd(c, 0);
}

void cmd_zpopmax(cb_client *c)
{
    zpop_cmd(c, 1);
}

void cmd_zmpop(cb_client *c)
{
    long long numkeys, count = -1;
    if (arg_range(c, 1, 1, LLONG_MAX, &numkeys, "numkeys should be greater than 0") != 0)
        return;
    /* Compared before adding so a huge numkeys cannot overflow. */
    if (numkeys > c->argc) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    long long where_idx = 1 + numkeys + 1;
    if (where_idx >= c->argc) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int max;
    if (arg_eq(c, (int)where_idx, "min")) {
        max = 0;
    } else if (arg_eq(c, (int)where_idx, "max")) {
        max = 1;
    } else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    for (int j = (int)where_idx + 1; j < c->argc; j++) {
        if (count == -1 && arg_eq(c, j, "count") && j + 1 < c->argc) {
            j++;
            if (arg_range(c, j, 1, LLONG_MAX, &count, "count should be greater than 0") != 0)
                return;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (count == -1) count = 1;
    zpop_generic(c, 2, (int)numkeys, max, count, 1, 1, 1);
}

/* ------------------------------------------------------------------------
 * ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD
 * ---------------------------------------------------------------------- */

enum { OP_UNION, OP_INTER, OP_DIFF };
enum { AGG_SUM, AGG_MIN, AGG_MAX };

typedef struct opsrc {
    cb_obj *o; /* NULL: missing key (empty) */
    double weight;
    int temp;  /* o is a scratch copy of a plain set: free it after */
} opsrc;

/* A plain set takes part as if every member scored 1. It is copied into a
 * scratch sorted set, which keeps one code path for both input types. */
typedef struct set_copy {
    cb_shard *s;
    cb_obj *z;
    size_t n, maxlen;
} set_copy;

static void set_measure(void *priv, const char *p, size_t len)
{
    set_copy *sc = priv;
    (void)p;
    sc->n++;
    if (len > sc->maxlen) sc->maxlen = len;
}

static void set_add_member(void *priv, const char *p, size_t len)
{
    set_copy *sc = priv;
    int out;
    zset_add(sc->s, sc->z, 1.0, p, len, 0, &out, NULL);
}

static cb_obj *zset_from_set(cb_shard *s, const cb_obj *set)
{
    set_copy sc = { s, NULL, 0, 0 };
    set_foreach(set, set_measure, &sc);
    sc.z = zset_new(s, sc.n, sc.maxlen);
    set_foreach(set, set_add_member, &sc);
    return sc.z;
}

static void free_sources(opsrc *src, long long n)
{
    for (long long i = 0; i < n; i++)
        if (src[i].temp) obj_decr_ref(src[i].o);
    cb_free(src);
}

static size_t src_len(const opsrc *s)
{
    return s->o ? zset_len(s->o) : 0;
}

static void aggregate(double *target, double val, int agg)
{
    if (agg == AGG_SUM) {
        *target = *target + val;
        /* inf + -inf: Redis settles on 0. */
        if (isnan(*target)) *target = 0.0;
    } else if (agg == AGG_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

/* One result element. */
typedef struct resel {
    const char *ele;
    size_t len;
    double score;
} resel;

static int resel_cmp(const void *a, const void *b)
{
    const resel *x = a, *y = b;
    if (x->score < y->score) return -1;
    if (x->score > y->score) return 1;
    return zsl_cmp_bytes(x->ele, x->len, y->ele, y->len);
}

static const dict_type acc_type = { NULL, NULL, 0 };

static void acc_free_keys(dict *d)
{
    dict_iter it;
    dict_iter_init(&it, d, 1);
    dict_entry *e;
    cbstr *keys = cb_malloc((dict_size(d) + 1) * sizeof(cbstr));
    size_t n = 0;
    while ((e = dict_iter_next(&it)) != NULL) keys[n++] = e->key;
    dict_iter_release(&it);
    dict_release(d);
    for (size_t i = 0; i < n; i++) cbstr_free(keys[i]);
    cb_free(keys);
}

static void acc_put(dict *d, const char *e, size_t l, double v)
{
    dict_entry *de = dict_find(d, e, l);
    if (de) {
        de->v.d = v;
        return;
    }
    de = dict_add_raw(d, cbstr_new(e, l), NULL);
    de->v.d = v;
}

static void zsetop_generic(cb_client *c, int numkeys_idx, int store, int op, int card_only)
{
    long long setnum;
    if (!util_str2ll(ARGP(c, numkeys_idx), ARGL(c, numkeys_idx), &setnum)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    if (setnum < 1) {
        char name[32];
        size_t nl = ARGL(c, 0) < sizeof name - 1 ? ARGL(c, 0) : sizeof name - 1;
        for (size_t k = 0; k < nl; k++) {
            char ch = ARGP(c, 0)[k];
            name[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
        }
        name[nl] = '\0';
        reply_errorf(c, "at least 1 input key is needed for '%s' command", name);
        return;
    }
    if (setnum > c->argc - (numkeys_idx + 1)) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    opsrc *src = cb_calloc(sizeof(opsrc) * (size_t)setnum);
    int j = numkeys_idx + 1;
    for (long long i = 0; i < setnum; i++, j++) {
        cb_db *db;
        cb_shard *s = shard_of(c, j, &db);
        cb_obj *o = db_lookup_read(s, db, ARGP(c, j), ARGL(c, j), 0);
        /* Redis also takes plain sets here (every member scoring 1). */
        if (o && o->type != OBJ_ZSET && o->type != OBJ_SET) {
            free_sources(src, i);
            reply_error(c, ERR_WRONGTYPE);
            return;
        }
        src[i].weight = 1;
        src[i].temp = o && o->type == OBJ_SET;
        src[i].o = src[i].temp ? zset_from_set(c->shard, o) : o;
    }
    int agg = AGG_SUM, withscores = 0;
    long long limit = 0;
    while (j < c->argc) {
        int remaining = c->argc - j;
        if (op != OP_DIFF && !card_only && remaining >= setnum + 1 && arg_eq(c, j, "weights")) {
            j++;
            for (long long i = 0; i < setnum; i++, j++) {
                if (arg_double(c, j, &src[i].weight, "weight value is not a float") != 0) {
                    free_sources(src, setnum);
                    return;
                }
            }
        } else if (op != OP_DIFF && !card_only && remaining >= 2 && arg_eq(c, j, "aggregate")) {
            j++;
            if (arg_eq(c, j, "sum")) agg = AGG_SUM;
            else if (arg_eq(c, j, "min")) agg = AGG_MIN;
            else if (arg_eq(c, j, "max")) agg = AGG_MAX;
            else {
                free_sources(src, setnum);
                reply_error(c, ERR_SYNTAX);
                return;
            }
            j++;
        } else if (!store && !card_only && arg_eq(c, j, "withscores")) {
            j++;
            withscores = 1;
        } else if (card_only && remaining >= 2 && arg_eq(c, j, "limit")) {
            j++;
            if (!util_str2ll(ARGP(c, j), ARGL(c, j), &limit) || limit < 0) {
                free_sources(src, setnum);
                reply_error(c, "LIMIT can't be negative");
                return;
            }
            j++;
        } else {
            free_sources(src, setnum);
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    /* Smallest inputs first (stable, as glibc's merge sort keeps ties). */
    if (op != OP_DIFF) {
        for (long long a = 1; a < setnum; a++) {
            opsrc t = src[a];
            long long b = a - 1;
            while (b >= 0 && src_len(&src[b]) > src_len(&t)) {
                src[b + 1] = src[b];
                b--;
            }
            src[b + 1] = t;
        }
    }

    dict *acc = dict_create(&acc_type, NULL, c->shard->seed);
    long long cardinality = 0;
    if (op == OP_UNION) {
        for (long long i = 0; i < setnum; i++) {
            if (!src_len(&src[i])) continue;
            zset_it it;
            for (zit_init(&it, src[i].o, 0); zit_valid(&it); zit_next(&it)) {
                const char *e;
                size_t l;
                double sc;
                zit_get(&it, &e, &l, &sc);
                double score = src[i].weight * sc;
                if (isnan(score)) score = 0;
                dict_entry *de = dict_find(acc, e, l);
                if (!de) acc_put(acc, e, l, score);
                else aggregate(&de->v.d, score, agg);
            }
            zit_release(&it);
        }
    } else if (op == OP_INTER) {
        if (src_len(&src[0])) {
            zset_it it;
            for (zit_init(&it, src[0].o, 0); zit_valid(&it); zit_next(&it)) {
                const char *e;
                size_t l;
                double sc;
                zit_get(&it, &e, &l, &sc);
                double score = src[0].weight * sc;
                if (isnan(score)) score = 0;
                long long k;
                for (k = 1; k < setnum; k++) {
                    double v;
                    if (!src[k].o || !zset_score(src[k].o, e, l, &v)) break;
                    aggregate(&score, v * src[k].weight, agg);
                }
                if (k < setnum) continue;
                if (card_only) {
                    cardinality++;
                    if (limit && cardinality >= limit) break;
                } else {
                    acc_put(acc, e, l, score);
                }
            }
            zit_release(&it);
        }
    } else if (src_len(&src[0])) {
        zset_it it;
        for (zit_init(&it, src[0].o, 0); zit_valid(&it); zit_next(&it)) {
            const char *e;
            size_t l;
            double sc;
            zit_get(&it, &e, &l, &sc);
            long long k;
            for (k = 1; k < setnum; k++)
                if (src[k].o && zset_score(src[k].o, e, l, NULL)) break;
            if (k == setnum) acc_put(acc, e, l, sc);
        }
        zit_release(&it);
    }
    free_sources(src, setnum);
    if (card_only) {
        reply_int(c, cardinality);
        acc_free_keys(acc);
        return;
    }

    size_t n = dict_size(acc), maxlen = 0;
    resel *res = cb_malloc((n ? n : 1) * sizeof(resel));
    {
        dict_iter it;
        dict_iter_init(&it, acc, 0);
        dict_entry *de;
        size_t k = 0;
        while ((de = dict_iter_next(&it)) != NULL) {
            res[k].ele = de->key;
            res[k].len = cbstr_len(de->key);
            res[k].score = de->v.d;
            if (res[k].len > maxlen) maxlen = res[k].len;
            k++;
        }
        dict_iter_release(&it);
    }
    qsort(res, n, sizeof(resel), resel_cmp);

    if (store) {
        cb_db *db;
        cb_shard *s = shard_of(c, 1, &db);
        if (n) {
            cb_obj *dst = zset_new(s, n, maxlen);
            for (size_t k = 0; k < n; k++) {
                int out;
                zset_add(s, dst, res[k].score, res[k].ele, res[k].len, 0, &out, NULL);
            }
            db_set(s, db, ARGP(c, 1), ARGL(c, 1), dst, 0);
            db_signal_modified(s, db, ARGP(c, 1), ARGL(c, 1));
            notify_keyspace_event(s, db, NOTIFY_ZSET,
                                  op == OP_UNION   ? "zunionstore"
                                  : op == OP_INTER ? "zinterstore"
                                                   : "zdiffstore",
                                  ARGP(c, 1), ARGL(c, 1));
            s->dirty++;
        } else if (db_delete(s, db, ARGP(c, 1), ARGL(c, 1))) {
            db_signal_modified(s, db, ARGP(c, 1), ARGL(c, 1));
            notify_keyspace_event(s, db, NOTIFY_GENERIC, "del", ARGP(c, 1), ARGL(c, 1));
            s->dirty++;
        }
        reply_int(c, (long long)n);
    } else {
        int pairs = withscores && c->resp > 2;
        reply_array_len(c, (long)(withscores && !pairs ? n * 2 : n));
        for (size_t k = 0; k < n; k++) {
            if (pairs) reply_array_len(c, 2);
            reply_bulk(c, res[k].ele, res[k].len);
            if (withscores) reply_double(c, res[k].score);
        }
    }
    cb_free(res);
    acc_free_keys(acc);
}

void cmd_zunion(cb_client *c)
{
    zsetop_generic(c, 1, 0, OP_UNION, 0);
}

void cmd_zinter(cb_client *c)
{
    zsetop_generic(c, 1, 0, OP_INTER, 0);
}

void cmd_zdiff(cb_client *c)
{
    zsetop_generic(c, 1, 0, OP_DIFF, 0);
}

void cmd_zunionstore(cb_client *c)
{
    zsetop_generic(c, 2, 1, OP_UNION, 0);
}

void cmd_zinterstore(cb_client *c)
{
    zsetop_generic(c, 2, 1, OP_INTER, 0);
}

void cmd_zdiffstore(cb_client *c)
{
    zsetop_generic(c, 2, 1, OP_DIFF, 0);
}

void cmd_zintercard(cb_client *c)
{
    zsetop_generic(c, 1, 0, OP_INTER, 1);
}

/* ------------------------------------------------------------------------
 * ZRANDMEMBER
 * ---------------------------------------------------------------------- */

static void emit_member(cb_client *c, zset_it *it, size_t rank, int withscores)
{
    zit_seek(it, (long)rank);
    const char *e;
    size_t l;
    double sc;
    zit_get(it, &e, &l, &sc);
    if (withscores && c->resp > 2) reply_array_len(c, 2);
    reply_bulk(c, e, l);
    if (withscores) reply_double(c, sc);
}

static uint64_t rand_below(cb_shard *s, uint64_t n)
{
    return util_rand64(&s->rng) % n;
}

void cmd_zrandmember(cb_client *c)
{
    cb_obj *o;
    if (c->argc < 3) {
        o = db_lookup_read(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), 0);
        if (!o) {
            reply_null(c);
            return;
        }
        if (o->type != OBJ_ZSET) {
            reply_error(c, ERR_WRONGTYPE);
            return;
        }
        zset_it it;
        zit_init(&it, o, (long)rand_below(c->shard, zset_len(o)));
        const char *e;
        size_t l;
        zit_get(&it, &e, &l, NULL);
        reply_bulk(c, e, l);
        zit_release(&it);
        return;
    }
    long long cnt;
    if (arg_range(c, 2, -LLONG_MAX, LLONG_MAX, &cnt, NULL) != 0) return;
    int withscores = 0;
    if (c->argc > 4 || (c->argc == 4 && !arg_eq(c, 3, "withscores"))) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (c->argc == 4) {
        withscores = 1;
        if (cnt < -LLONG_MAX / 2 || cnt > LLONG_MAX / 2) {
            reply_error(c, "value is out of range");
            return;
        }
    }
    o = db_lookup_read(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), 0);
    if (!o) {
        reply_empty_array(c);
        return;
    }
    if (o->type != OBJ_ZSET) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    size_t size = zset_len(o);
    int uniq = cnt >= 0;
    unsigned long long count = uniq ? (unsigned long long)cnt : (unsigned long long)-cnt;
    if (count == 0) {
        reply_empty_array(c);
        return;
    }
    int pairs = withscores && c->resp > 2;
    if (!uniq || count == 1) {
        reply_array_len(c, (long)(withscores && !pairs ? count * 2 : count));
        zset_it it;
        zit_init(&it, o, 0);
        for (unsigned long long k = 0; k < count; k++)
            emit_member(c, &it, (size_t)rand_below(c->shard, size), withscores);
        zit_release(&it);
        return;
    }
    if (count >= size) {
        reply_array_len(c, (long)(withscores && !pairs ? size * 2 : size));
        /* Redis answers with the whole set, highest rank first. */
        zset_it it;
        for (zit_init(&it, o, (long)size - 1); zit_valid(&it); zit_prev(&it)) {
            const char *e;
            size_t l;
            double sc;
            zit_get(&it, &e, &l, &sc);
            if (pairs) reply_array_len(c, 2);
            reply_bulk(c, e, l);
            if (withscores) reply_double(c, sc);
        }
        zit_release(&it);
        return;
    }
    size_t *ranks;
    if (count * 3 > size) {
        /* Many of them: a partial Fisher-Yates shuffle over 0..size-1. */
        ranks = cb_malloc(size * sizeof(size_t));
        for (size_t k = 0; k < size; k++) ranks[k] = k;
        for (size_t k = 0; k < count; k++) {
            size_t r = k + (size_t)rand_below(c->shard, size - k);
            size_t t = ranks[k];
            ranks[k] = ranks[r];
            ranks[r] = t;
        }
    } else {
        /* Few of a large set: draw ranks, dropping repeats (an open-addressed
         * table of rank + 1, so 0 marks a free slot). */
        size_t cap = 8;
        while (cap < count * 2) cap *= 2;
        size_t *seen = cb_calloc(cap * sizeof(size_t));
        ranks = cb_malloc((size_t)count * sizeof(size_t));
        size_t got = 0;
        while (got < count) {
            size_t r = (size_t)rand_below(c->shard, size);
            size_t h = (r * 0x9e3779b97f4a7c15ull) & (cap - 1);
            while (seen[h] && seen[h] != r + 1) h = (h + 1) & (cap - 1);
            if (seen[h]) continue;
            seen[h] = r + 1;
            ranks[got++] = r;
        }
        cb_free(seen);
    }
    reply_array_len(c, (long)(withscores && !pairs ? count * 2 : count));
    zset_it it;
    zit_init(&it, o, 0);
    for (size_t k = 0; k < count; k++) emit_member(c, &it, ranks[k], withscores);
    zit_release(&it);
    cb_free(ranks);
}

/* ------------------------------------------------------------------------
 * ZSCAN
 * ---------------------------------------------------------------------- */

typedef struct scan_acc {
    cbstr *items; /* element, score, element, score ... */
    size_t n, cap;
} scan_acc;

static void scan_push(scan_acc *a, const char *p, size_t l)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->items = cb_realloc(a->items, a->cap * sizeof(cbstr));
    }
    a->items[a->n++] = cbstr_new(p, l);
}

static void scan_push_pair(scan_acc *a, const char *e, size_t l, double sc)
{
    char buf[CB_D2STR_MAX];
    scan_push(a, e, l);
    scan_push(a, buf, util_d2str(buf, sizeof buf, sc));
}

static void scan_cb(void *priv, const dict_entry *de)
{
    scan_push_pair(priv, de->key, cbstr_len(de->key), de->v.d);
}

void cmd_zscan(cb_client *c)
{
    /* The cursor is read as strtoul reads it (Redis's parseScanCursor). */
    char cbuf[64];
    size_t cl = ARGL(c, 2);
    unsigned long long cursor = 0;
    int bad = cl >= sizeof cbuf;
    if (!bad) {
        memcpy(cbuf, ARGP(c, 2), cl);
        cbuf[cl] = '\0';
        char *end;
        errno = 0;
        cursor = strtoull(cbuf, &end, 10);
        bad = *end != '\0' || errno == ERANGE || cbuf[0] == ' ' || cbuf[0] == '\t' ||
              cbuf[0] == '\n' || cbuf[0] == '\r' || cbuf[0] == '\v' || cbuf[0] == '\f';
    }
    if (bad) {
        reply_error(c, "invalid cursor");
        return;
    }
    cb_obj *o = db_lookup_read(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), 0);
    if (!o) {
        reply_array_len(c, 2);
        reply_bulk(c, "0", 1);
        reply_empty_array(c);
        return;
    }
    if (o->type != OBJ_ZSET) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    long long count = 10;
    const char *pat = NULL;
    size_t patlen = 0;
    int use_pattern = 0;
    for (int i = 3; i < c->argc;) {
        int left = c->argc - i;
        if (arg_eq(c, i, "count") && left >= 2) {
            if (arg_ll(c, i + 1, &count, NULL) != 0) return;
            if (count < 1) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
            i += 2;
        } else if (arg_eq(c, i, "match") && left >= 2) {
            pat = ARGP(c, i + 1);
            patlen = ARGL(c, i + 1);
            use_pattern = !(patlen == 1 && pat[0] == '*');
            i += 2;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    scan_acc a = { NULL, 0, 0 };
    if (o->encoding == OBJ_ENC_LISTPACK) {
        zset_it it;
        for (zit_init(&it, o, 0); zit_valid(&it); zit_next(&it)) {
            const char *e;
            size_t l;
            double sc;
            zit_get(&it, &e, &l, &sc);
            scan_push_pair(&a, e, l, sc);
        }
        zit_release(&it);
        cursor = 0;
    } else {
        dict *d = ((zset *)o->ptr)->d;
        long long maxiter = count * 10;
        /* Redis counts the element and score entries both against COUNT. */
        do {
            cursor = dict_scan(d, cursor, scan_cb, &a);
        } while (cursor && maxiter-- && a.n < (size_t)count);
    }
    size_t kept = 0;
    for (size_t k = 0; k < a.n; k += 2) {
        if (use_pattern && !util_globmatch(pat, patlen, a.items[k], cbstr_len(a.items[k]), 0)) {
            cbstr_free(a.items[k]);
            cbstr_free(a.items[k + 1]);
            continue;
        }
        a.items[kept++] = a.items[k];
        a.items[kept++] = a.items[k + 1];
    }
    char nb[CB_LL2STR_MAX];
    reply_array_len(c, 2);
    reply_bulk(c, nb, util_ull2str(nb, sizeof nb, cursor));
    reply_array_len(c, (long)kept);
    for (size_t k = 0; k < kept; k++) {
        reply_bulk(c, a.items[k], cbstr_len(a.items[k]));
        cbstr_free(a.items[k]);
    }
    cb_free(a.items);
}
