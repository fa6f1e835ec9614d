/* t_zset.c — sorted sets: the two-encoding value layer (t_zset.h) and the
 * single-key commands (ZADD family, lookups, ranks, the ZRANGE family with
 * ZRANGESTORE, the ZREMRANGEBY* commands). Multi-key, pop, random and scan
 * commands live in t_zset_ops.c.
 * Every range query is first resolved to a window of ranks [first, last];
 * counting, replying, storing and deleting then work on ranks, whatever the
 * encoding. Handlers follow Redis 7.0's order of checks (syntax, then key
 * type, then values) because clients can see which error wins. Writes
 * signal the key and add the number of changed elements to shard->dirty.
 * Design (encodings, conversions, quirks kept from Redis): docs/sorted-sets.md.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "t_zset.h"
#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"

/* ------------------------------------------------------------------------
 * Value layer
 * ---------------------------------------------------------------------- */

static const dict_type zset_dict_type = { NULL, NULL, 0 };

/* A compact set never grows past 1 GB, whatever the limits say (its sizes
 * are 32-bit; Redis caps its listpacks the same way). */
#define ZP_SAFE_BYTES (1u << 30)

static zset *zs_new(const uint8_t seed[16], uint64_t rngseed)
{
    zset *z = cb_malloc(sizeof(*z));
    memcpy(z->seed, seed, 16);
    z->d = dict_create(&zset_dict_type, NULL, seed);
    z->zsl = zsl_create(rngseed);
    return z;
}

static void zs_free(zset *z)
{
    dict_release(z->d);
    zsl_free(z->zsl);
    cb_free(z);
}

static void zs_insert(zset *z, double score, const char *ele, size_t len)
{
    cbstr e = cbstr_new(ele, len);
    zsl_insert(z->zsl, score, e);
    dict_entry *de = dict_add_raw(z->d, e, NULL);
    de->v.d = score;
}

static cb_obj *obj_of(int enc, void *ptr)
{
    cb_obj *o = cb_malloc(sizeof(*o));
    o->type = OBJ_ZSET;
    o->encoding = (unsigned)enc;
    o->lru = 0;
    o->refcount = 1;
    o->ptr = ptr;
    return o;
}

cb_obj *zset_new(cb_shard *s, size_t size_hint, size_t maxlen)
{
    const cb_store_settings *st = s->set;
    if (st->zset_max_listpack_entries == 0 ||
        size_hint > (size_t)st->zset_max_listpack_entries ||
        maxlen > (size_t)st->zset_max_listpack_value)
        return obj_of(OBJ_ENC_SKIPLIST, zs_new(s->seed, util_rand64(&s->rng)));
    return obj_of(OBJ_ENC_LISTPACK, zp_new());
}

size_t zset_len(const cb_obj *o)
{
    if (o->encoding == OBJ_ENC_LISTPACK) return zp_count(o->ptr);
    return ((const zset *)o->ptr)->zsl->length;
}

int zset_score(const cb_obj *o, const char *ele, size_t len, double *score)
{
    if (o->encoding == OBJ_ENC_LISTPACK) return zp_find(o->ptr, ele, len, score) != 0;
    dict_entry *de = dict_find(((zset *)o->ptr)->d, ele, len);
    if (!de) return 0;
    if (score) *score = de->v.d;
    return 1;
}

static void to_skiplist(cb_shard *s, cb_obj *o)
{
    zpack *zp = o->ptr;
    zset *z = zs_new(s->seed, util_rand64(&s->rng));
    if (zp_count(zp)) dict_expand(z->d, zp_count(zp));
    for (size_t off = zp_first(zp); off; off = zp_next(zp, off)) {
        const char *e;
        size_t l;
        double sc;
        zp_get(zp, off, &e, &l, &sc);
        zs_insert(z, sc, e, l);
    }
    zp_free(zp);
    o->ptr = z;
    o->encoding = OBJ_ENC_SKIPLIST;
}

void zset_to_skiplist(cb_shard *s, cb_obj *o)
{
    if (o->encoding == OBJ_ENC_LISTPACK) to_skiplist(s, o);
}

void zset_compact_if_fits(cb_shard *s, cb_obj *o)
{
    if (o->encoding != OBJ_ENC_SKIPLIST) return;
    zset *z = o->ptr;
    if (z->zsl->length > (size_t)s->set->zset_max_listpack_entries) return;
    size_t total = 0;
    for (zsl_node *n = z->zsl->header->level[0].forward; n; n = n->level[0].forward) {
        if (cbstr_len(n->ele) > (size_t)s->set->zset_max_listpack_value) return;
        total += cbstr_len(n->ele) + 32;
    }
    if (total > ZP_SAFE_BYTES) return;
    zpack *zp = zp_new();
    for (zsl_node *n = z->zsl->header->level[0].forward; n; n = n->level[0].forward)
        zp = zp_append(zp, n->ele, cbstr_len(n->ele), n->score);
    zs_free(z);
    o->ptr = zp;
    o->encoding = OBJ_ENC_LISTPACK;
}

int zset_add(cb_shard *s, cb_obj *o, double score, const char *ele, size_t len,
             int flags, int *out, double *newscore)
{
    double cur;
    *out = 0;
    if (zset_score(o, ele, len, &cur)) {
        if (flags & ZA_NX) {
            *out |= ZA_OUT_NOP;
            return 1;
        }
        if (flags & ZA_INCR) {
            score += cur;
            if (isnan(score)) {
                *out |= ZA_OUT_NAN;
                return 0;
            }
        }
        if (((flags & ZA_LT) && score >= cur) || ((flags & ZA_GT) && score <= cur)) {
            *out |= ZA_OUT_NOP;
            return 1;
        }
        if (newscore) *newscore = score;
        if (score == cur) return 1;
        if (o->encoding == OBJ_ENC_LISTPACK) {
            zpack *zp = o->ptr;
            zp = zp_delete(zp, zp_find(zp, ele, len, NULL), 1);
            o->ptr = zp_insert(zp, ele, len, score);
        } else {
            zset *z = o->ptr;
            dict_entry *de = dict_find(z->d, ele, len);
            zsl_update_score(z->zsl, cur, ele, len, score);
            de->v.d = score;
        }
        *out |= ZA_OUT_UPDATED;
        return 1;
    }
    if (flags & ZA_XX) {
        *out |= ZA_OUT_NOP;
        return 1;
    }
    if (o->encoding == OBJ_ENC_LISTPACK) {
        if (zp_count(o->ptr) + 1 > (size_t)s->set->zset_max_listpack_entries ||
            len > (size_t)s->set->zset_max_listpack_value ||
            zp_bytes(o->ptr) + len + 32 > ZP_SAFE_BYTES)
            to_skiplist(s, o);
        else
            o->ptr = zp_insert(o->ptr, ele, len, score);
    }
    if (o->encoding == OBJ_ENC_SKIPLIST) zs_insert(o->ptr, score, ele, len);
    if (newscore) *newscore = score;
    *out |= ZA_OUT_ADDED;
    return 1;
}

int zset_del(cb_obj *o, const char *ele, size_t len)
{
    if (o->encoding == OBJ_ENC_LISTPACK) {
        size_t off = zp_find(o->ptr, ele, len, NULL);
        if (!off) return 0;
        o->ptr = zp_delete(o->ptr, off, 1);
        return 1;
    }
    zset *z = o->ptr;
    dict_entry *de = dict_find(z->d, ele, len);
    if (!de) return 0;
    double sc = de->v.d;
    dict_delete(z->d, ele, len);
    zsl_delete(z->zsl, sc, ele, len, NULL);
    /* Give the table back as the set empties, as Redis does after ZREM. */
    dict_shrink_if_sparse(z->d);
    return 1;
}

long zset_rank(const cb_obj *o, const char *ele, size_t len, int rev)
{
    size_t n = zset_len(o);
    long r = -1;
    if (o->encoding == OBJ_ENC_LISTPACK) {
        const zpack *zp = o->ptr;
        long i = 0;
        for (size_t off = zp_first(zp); off; off = zp_next(zp, off), i++) {
            const char *e;
            size_t l;
            zp_get(zp, off, &e, &l, NULL);
            if (l == len && memcmp(e, ele, len) == 0) {
                r = i;
                break;
            }
        }
    } else {
        const zset *z = o->ptr;
        dict_entry *de = dict_find(z->d, ele, len);
        if (de) r = (long)zsl_rank(z->zsl, de->v.d, ele, len) - 1;
    }
    if (r < 0) return -1;
    return rev ? (long)n - 1 - r : r;
}

void zset_delete_ranks(cb_obj *o, size_t first, size_t last)
{
    size_t count = last - first + 1;
    if (o->encoding == OBJ_ENC_LISTPACK) {
        o->ptr = zp_delete(o->ptr, zp_at_index(o->ptr, first), count);
        return;
    }
    zset *z = o->ptr;
    zsl_node *n = zsl_by_rank(z->zsl, first + 1);
    while (n && count--) {
        zsl_node *next = n->level[0].forward;
        double sc = n->score;
        cbstr e = n->ele;
        dict_delete(z->d, e, cbstr_len(e));
        zsl_delete(z->zsl, sc, e, cbstr_len(e), NULL);
        n = next;
    }
    dict_shrink_if_sparse(z->d);
}

void zit_init(zset_it *it, const cb_obj *o, long rank)
{
    it->o = o;
    it->offs = NULL;
    it->n = zset_len(o);
    it->idx = rank;
    it->node = NULL;
    if (o->encoding == OBJ_ENC_LISTPACK) {
        const zpack *zp = o->ptr;
        it->offs = cb_malloc((it->n ? it->n : 1) * sizeof(size_t));
        size_t i = 0;
        for (size_t off = zp_first(zp); off; off = zp_next(zp, off)) it->offs[i++] = off;
    } else if (rank >= 0) {
        it->node = zsl_by_rank(((const zset *)o->ptr)->zsl, (unsigned long)rank + 1);
    }
}

void zit_seek(zset_it *it, long rank)
{
    it->idx = rank;
    if (it->o->encoding == OBJ_ENC_SKIPLIST)
        it->node = rank >= 0 ? zsl_by_rank(((const zset *)it->o->ptr)->zsl,
                                           (unsigned long)rank + 1)
                             : NULL;
}

int zit_valid(const zset_it *it)
{
    if (it->o->encoding == OBJ_ENC_LISTPACK) return it->idx >= 0 && (size_t)it->idx < it->n;
    return it->node != NULL;
}

void zit_next(zset_it *it)
{
    it->idx++;
    if (it->node) it->node = it->node->level[0].forward;
}

void zit_prev(zset_it *it)
{
    it->idx--;
    if (it->node) it->node = it->node->backward;
}

void zit_get(const zset_it *it, const char **ele, size_t *len, double *score)
{
    if (it->o->encoding == OBJ_ENC_LISTPACK) {
        zp_get(it->o->ptr, it->offs[it->idx], ele, len, score);
        return;
    }
    *ele = it->node->ele;
    *len = cbstr_len(it->node->ele);
    if (score) *score = it->node->score;
}

void zit_release(zset_it *it)
{
    cb_free(it->offs);
    it->offs = NULL;
}

void zset_free_obj(cb_obj *o)
{
    if (o->encoding == OBJ_ENC_LISTPACK)
        zp_free(o->ptr);
    else
        zs_free(o->ptr);
}

int zset_free_step(cb_obj *o, size_t max)
{
    if (o->encoding == OBJ_ENC_LISTPACK) {
        zp_free(o->ptr);
        return 0;
    }
    zset *z = o->ptr;
    /* The dict's keys are the skiplist's elements: the dict goes first. */
    if (z->d) {
        if (dict_release_step(z->d, max)) return 1;
        z->d = NULL;
        return 1;
    }
    if (z->zsl) {
        if (zsl_free_step(z->zsl, max)) return 1;
        z->zsl = NULL;
    }
    cb_free(z);
    return 0;
}

cb_obj *zset_dup_obj(const cb_obj *o)
{
    if (o->encoding == OBJ_ENC_LISTPACK) return obj_of(OBJ_ENC_LISTPACK, zp_dup(o->ptr));
    const zset *src = o->ptr;
    zset *z = zs_new(src->seed, src->zsl->rng ^ 0x5bd1e995u);
    dict_expand(z->d, src->zsl->length);
    for (zsl_node *n = src->zsl->header->level[0].forward; n; n = n->level[0].forward)
        zs_insert(z, n->score, n->ele, cbstr_len(n->ele));
    return obj_of(OBJ_ENC_SKIPLIST, z);
}

size_t zset_mem_usage(const cb_obj *o)
{
    if (o->encoding == OBJ_ENC_LISTPACK) return cb_usable(o->ptr);
    const zset *z = o->ptr;
    return cb_usable(z) + zsl_mem_usage(z->zsl) + dict_mem_overhead(z->d);
}

/* ------------------------------------------------------------------------
 * Range windows
 * ---------------------------------------------------------------------- */

/* First and last 0-based rank whose score lies in r; 0 when none. */
static int score_window(const cb_obj *o, const zsl_range *r, size_t *first, size_t *last)
{
    if (o->encoding == OBJ_ENC_SKIPLIST) {
        const zset *z = o->ptr;
        zsl_node *a = zsl_first_in_range(z->zsl, r);
        if (!a) return 0;
        zsl_node *b = zsl_last_in_range(z->zsl, r);
        *first = zsl_rank(z->zsl, a->score, a->ele, cbstr_len(a->ele)) - 1;
        *last = zsl_rank(z->zsl, b->score, b->ele, cbstr_len(b->ele)) - 1;
        return *first <= *last;
    }
    const zpack *zp = o->ptr;
    size_t i = 0;
    int found = 0;
    for (size_t off = zp_first(zp); off; off = zp_next(zp, off), i++) {
        double sc = zp_score(zp, off);
        if (!zsl_value_gte_min(sc, r)) continue;
        if (!zsl_value_lte_max(sc, r)) break;
        if (!found) *first = i;
        *last = i;
        found = 1;
    }
    return found;
}

/* The compact form walks lex ranges as Redis's listpack code does, which
 * only matters when scores differ (lex ranges then have no defined order):
 * forward walks start at the first element >= min and run while <= max;
 * reverse walks start at the last element <= max and run back while >= min.
 * rev picks which walk defines the window. */
static int lex_window(const cb_obj *o, const zsl_lexrange *r, int rev, size_t *first,
                      size_t *last)
{
    if (o->encoding == OBJ_ENC_SKIPLIST) {
        const zset *z = o->ptr;
        zsl_node *a = zsl_first_in_lex(z->zsl, r);
        if (!a) return 0;
        zsl_node *b = zsl_last_in_lex(z->zsl, r);
        if (!b) return 0;
        *first = zsl_rank(z->zsl, a->score, a->ele, cbstr_len(a->ele)) - 1;
        *last = zsl_rank(z->zsl, b->score, b->ele, cbstr_len(b->ele)) - 1;
        return *first <= *last;
    }
    size_t n = zset_len(o);
    if (zsl_lex_range_empty(r) || n == 0) return 0;
    zset_it it;
    zit_init(&it, o, 0);
    const char *e;
    size_t l;
    int found = 0;
    /* Everything out of range: last below min or first above max. */
    it.idx = (long)n - 1;
    zit_get(&it, &e, &l, NULL);
    int ok = zsl_lex_gte_min(e, l, r);
    it.idx = 0;
    zit_get(&it, &e, &l, NULL);
    ok = ok && zsl_lex_lte_max(e, l, r);
    if (ok && !rev) {
        for (it.idx = 0; (size_t)it.idx < n; it.idx++) {
            zit_get(&it, &e, &l, NULL);
            if (zsl_lex_gte_min(e, l, r)) break;
        }
        for (; (size_t)it.idx < n; it.idx++) {
            zit_get(&it, &e, &l, NULL);
            if (!zsl_lex_lte_max(e, l, r)) break;
            if (!found) *first = (size_t)it.idx;
            *last = (size_t)it.idx;
            found = 1;
        }
    } else if (ok) {
        for (it.idx = (long)n - 1; it.idx >= 0; it.idx--) {
            zit_get(&it, &e, &l, NULL);
            if (zsl_lex_lte_max(e, l, r)) break;
        }
        for (; it.idx >= 0; it.idx--) {
            zit_get(&it, &e, &l, NULL);
            if (!zsl_lex_gte_min(e, l, r)) break;
            if (!found) *last = (size_t)it.idx;
            *first = (size_t)it.idx;
            found = 1;
        }
    }
    zit_release(&it);
    return found;
}

/* Redis parses range scores with strtod: "(" makes the bound exclusive;
 * leading blanks and hex are accepted, trailing junk and NaN are not. */
static int parse_score_item(const char *p, size_t len, double *v, int *ex)
{
    *ex = 0;
    if (len && p[0] == '(') {
        *ex = 1;
        p++;
        len--;
    }
    char stackbuf[128];
    char *buf = len < sizeof(stackbuf) ? stackbuf : cb_malloc(len + 1);
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *end;
    *v = strtod(buf, &end);
    int ok = *end == '\0' && !isnan(*v);
    if (buf != stackbuf) cb_free(buf);
    return ok;
}

static int parse_score_range(cb_client *c, int imin, int imax, zsl_range *r)
{
    return parse_score_item(ARGP(c, imin), ARGL(c, imin), &r->min, &r->minex) &&
           parse_score_item(ARGP(c, imax), ARGL(c, imax), &r->max, &r->maxex);
}

static int parse_lex_item(const char *p, size_t len, int is_min, zsl_lexrange *r)
{
    if (len == 0) return 0;
    const char **bp = is_min ? &r->min : &r->max;
    size_t *bl = is_min ? &r->minlen : &r->maxlen;
    int *ex = is_min ? &r->minex : &r->maxex;
    switch (p[0]) {
    case '+':
        if (len != 1) return 0;
        if (is_min) r->minpos_inf = 1; else r->maxinf = 1;
        return 1;
    case '-':
        if (len != 1) return 0;
        if (is_min) r->mininf = 1; else r->maxneg_inf = 1;
        return 1;
    case '(':
    case '[':
        *ex = p[0] == '(';
        *bp = p + 1;
        *bl = len - 1;
        return 1;
    default:
        return 0;
    }
}

static int parse_lex_range(cb_client *c, int imin, int imax, zsl_lexrange *r)
{
    memset(r, 0, sizeof(*r));
    return parse_lex_item(ARGP(c, imin), ARGL(c, imin), 1, r) &&
           parse_lex_item(ARGP(c, imax), ARGL(c, imax), 0, r);
}

/* ------------------------------------------------------------------------
 * Helpers for handlers
 * ---------------------------------------------------------------------- */

static int lookup_zset(cb_client *c, int i, int write, cb_obj **out)
{
    cb_obj *o = write ? db_lookup_write(c->shard, c->db, ARGP(c, i), ARGL(c, i))
                      : db_lookup_read(c->shard, c->db, ARGP(c, i), ARGL(c, i), 0);
    if (o && o->type != OBJ_ZSET) {
        reply_error(c, ERR_WRONGTYPE);
        return -1;
    }
    *out = o;
    return 0;
}

/* After a removal from key i: raises `event`, then deletes an emptied key
 * ("del"), signals it, counts dirty. */
static void key_written(cb_client *c, int i, cb_obj *o, uint64_t changes, const char *event)
{
    NOTIFY_ARG(c, NOTIFY_ZSET, event, i);
    if (o && zset_len(o) == 0) {
        db_delete(c->shard, c->db, ARGP(c, i), ARGL(c, i));
        NOTIFY_ARG(c, NOTIFY_GENERIC, "del", i);
    }
    db_signal_modified(c->shard, c->db, ARGP(c, i), ARGL(c, i));
    c->shard->dirty += changes;
}

/* ------------------------------------------------------------------------
 * ZADD, ZINCRBY, ZREM
 * ---------------------------------------------------------------------- */

static void zadd_generic(cb_client *c, int flags)
{
    int ch = 0, j = 2;
    for (; j < c->argc; j++) {
        if (arg_eq(c, j, "nx")) flags |= ZA_NX;
        else if (arg_eq(c, j, "xx")) flags |= ZA_XX;
        else if (arg_eq(c, j, "ch")) ch = 1;
        else if (arg_eq(c, j, "incr")) flags |= ZA_INCR;
        else if (arg_eq(c, j, "gt")) flags |= ZA_GT;
        else if (arg_eq(c, j, "lt")) flags |= ZA_LT;
        else break;
    }
    int scoreidx = j, left = c->argc - scoreidx;
    int incr = (flags & ZA_INCR) != 0;
    if (left == 0 || left % 2) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int elements = left / 2;
    if ((flags & ZA_NX) && (flags & ZA_XX)) {
        reply_error(c, "XX and NX options at the same time are not compatible");
        return;
    }
    if (((flags & ZA_GT) && (flags & ZA_NX)) || ((flags & ZA_LT) && (flags & ZA_NX)) ||
        ((flags & ZA_GT) && (flags & ZA_LT))) {
        reply_error(c, "GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && elements > 1) {
        reply_error(c, "INCR option supports a single increment-element pair");
        return;
    }
    double stack_scores[16];
    double *scores = elements <= 16 ? stack_scores : cb_malloc(sizeof(double) * (size_t)elements);
    for (int k = 0; k < elements; k++) {
        if (arg_double(c, scoreidx + 2 * k, &scores[k], NULL) != 0) goto out;
    }
    cb_obj *o;
    if (lookup_zset(c, 1, 1, &o) != 0) goto out;
    long added = 0, updated = 0, processed = 0;
    double score = 0;
    if (!o) {
        if (flags & ZA_XX) goto reply;
        /* Redis 7.0 picks the encoding from the first element alone; the
         * rest convert on the way (observable: -0 becomes 0 in listpacks). */
        o = zset_new(c->shard, 1, ARGL(c, scoreidx + 1));
        db_add(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), o);
    }
    for (int k = 0; k < elements; k++) {
        int res;
        double ns;
        int ei = scoreidx + 2 * k + 1;
        if (!zset_add(c->shard, o, scores[k], ARGP(c, ei), ARGL(c, ei), flags, &res, &ns)) {
            reply_error(c, "resulting score is not a number (NaN)");
            goto done;
        }
        if (res & ZA_OUT_ADDED) added++;
        if (res & ZA_OUT_UPDATED) updated++;
        if (!(res & ZA_OUT_NOP)) processed++;
        score = ns;
    }
reply:
    if (incr) {
        if (processed) reply_double(c, score);
        else reply_null(c);
    } else {
        reply_int(c, ch ? added + updated : added);
    }
done:
    if (o && zset_len(o) == 0) db_delete(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
    if (added || updated) {
        db_signal_modified(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
        NOTIFY_ARG(c, NOTIFY_ZSET, incr ? "zincr" : "zadd", 1);
        c->shard->dirty += (uint64_t)(added + updated);
    }
out:
    if (scores != stack_scores) cb_free(scores);
}

void cmd_zadd(cb_client *c)
{
    zadd_generic(c, 0);
}

void cmd_zincrby(cb_client *c)
{
    zadd_generic(c, ZA_INCR);
}

void cmd_zrem(cb_client *c)
{
    cb_obj *o;
    if (lookup_zset(c, 1, 1, &o) != 0) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    long deleted = 0;
    for (int j = 2; j < c->argc; j++) {
        deleted += zset_del(o, ARGP(c, j), ARGL(c, j));
        if (zset_len(o) == 0) break;
    }
    if (deleted) key_written(c, 1, o, (uint64_t)deleted, "zrem");
    reply_int(c, deleted);
}

/* ------------------------------------------------------------------------
 * ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZCOUNT, ZLEXCOUNT
 * ---------------------------------------------------------------------- */

void cmd_zcard(cb_client *c)
{
    cb_obj *o;
    if (lookup_zset(c, 1, 0, &o) != 0) return;
    reply_int(c, o ? (long long)zset_len(o) : 0);
}

void cmd_zscore(cb_client *c)
{
    cb_obj *o;
    if (lookup_zset(c, 1, 0, &o) != 0) return;
    double sc;
    if (o && zset_score(o, ARGP(c, 2), ARGL(c, 2), &sc))
        reply_double(c, sc);
    else
        reply_null(c);
}

void cmd_zmscore(cb_client *c)
{
    cb_obj *o;
    if (lookup_zset(c, 1, 0, &o) != 0) return;
    reply_array_len(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double sc;
        if (o && zset_score(o, ARGP(c, j), ARGL(c, j), &sc))
            reply_double(c, sc);
        else
            reply_null(c);
    }
}

static void zrank_generic(cb_client *c, int rev)
{
    cb_obj *o;
    if (lookup_zset(c, 1, 0, &o) != 0) return;
    long r = o ? zset_rank(o, ARGP(c, 2), ARGL(c, 2), rev) : -1;
    if (r < 0) reply_null(c);
    else reply_int(c, r);
}

void cmd_zrank(cb_client *c)
{
    zrank_generic(c, 0);
}

void cmd_zrevrank(cb_client *c)
{
    zrank_generic(c, 1);
}

void cmd_zcount(cb_client *c)
{
    zsl_range r;
    if (!parse_score_range(c, 2, 3, &r)) {
        reply_error(c, "min or max is not a float");
        return;
    }
    cb_obj *o;
    if (lookup_zset(c, 1, 0, &o) != 0) return;
    size_t a, b;
    reply_int(c, o && score_window(o, &r, &a, &b) ? (long long)(b - a + 1) : 0);
}

void cmd_zlexcount(cb_client *c)
{
    zsl_lexrange r;
    if (!parse_lex_range(c, 2, 3, &r)) {
        reply_error(c, "min or max not valid string range item");
        return;
    }
    cb_obj *o;
    if (lookup_zset(c, 1, 0, &o) != 0) return;
    size_t a, b;
    reply_int(c, o && lex_window(o, &r, 0, &a, &b) ? (long long)(b - a + 1) : 0);
}

/* ------------------------------------------------------------------------
 * The ZRANGE family
 * ---------------------------------------------------------------------- */

enum { ZR_AUTO, ZR_RANK, ZR_SCORE, ZR_LEX };
enum { ZD_AUTO, ZD_FWD, ZD_REV };

/* Sends count elements starting at rank start, walking down when rev. */
static void emit_window(cb_client *c, const cb_obj *o, long start, long count, int rev,
                        int withscores)
{
    int pairs = withscores && c->resp > 2;
    reply_array_len(c, withscores && !pairs ? count * 2 : count);
    zset_it it;
    zit_init(&it, o, start);
    for (long k = 0; k < count && zit_valid(&it); k++) {
        const char *e;
        size_t l;
        double sc;
        zit_get(&it, &e, &l, &sc);
        if (pairs) reply_array_len(c, 2);
        reply_bulk(c, e, l);
        if (withscores) reply_double(c, sc);
        if (rev) zit_prev(&it); else zit_next(&it);
    }
    zit_release(&it);
}

/* Copies the window into a new sorted set stored at dst (shard s, db db).
 * Like Redis, only a rank range sizes the destination up front; score and
 * lex ranges start compact and convert on the way (visible: -0 scores of
 * the first elements become 0). */
static long store_window(cb_shard *s, cb_db *db, const cb_obj *src, long start,
                         long count, int rev, int by_rank, const char *dk, size_t dl)
{
    cb_obj *dst = NULL;
    if (count > 0) {
        dst = zset_new(s, by_rank ? (size_t)count : 0, 0);
        zset_it it;
        zit_init(&it, src, start);
        for (long k = 0; k < count && zit_valid(&it); k++) {
            const char *e;
            size_t l;
            double sc;
            int res;
            zit_get(&it, &e, &l, &sc);
            zset_add(s, dst, sc, e, l, 0, &res, NULL);
            if (rev) zit_prev(&it); else zit_next(&it);
        }
        zit_release(&it);
        db_set(s, db, dk, dl, dst, 0);
        db_signal_modified(s, db, dk, dl);
        notify_keyspace_event(s, db, NOTIFY_ZSET, "zrangestore", dk, dl);
        s->dirty++;
    } else if (db_delete(s, db, dk, dl)) {
        db_signal_modified(s, db, dk, dl);
        notify_keyspace_event(s, db, NOTIFY_GENERIC, "del", dk, dl);
        s->dirty++;
    }
    return count > 0 ? count : 0;
}

/* ZRANGE and its old forms. argstart is the source key's index; store says
 * the destination is argv[1] (ZRANGESTORE). */
static void zrange_generic(cb_client *c, int argstart, int store, int rtype, int dir)
{
    int minidx = argstart + 1, maxidx = argstart + 2;
    int withscores = 0;
    long offset = 0, limit = -1;
    for (int j = argstart + 3; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (!store && arg_eq(c, j, "withscores")) {
            withscores = 1;
        } else if (arg_eq(c, j, "limit") && left >= 2) {
            long long a, b;
            if (arg_ll(c, j + 1, &a, NULL) != 0 || arg_ll(c, j + 2, &b, NULL) != 0) return;
            offset = (long)a;
            limit = (long)b;
            j += 2;
        } else if (dir == ZD_AUTO && arg_eq(c, j, "rev")) {
            dir = ZD_REV;
        } else if (rtype == ZR_AUTO && arg_eq(c, j, "bylex")) {
            rtype = ZR_LEX;
        } else if (rtype == ZR_AUTO && arg_eq(c, j, "byscore")) {
            rtype = ZR_SCORE;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (dir == ZD_AUTO) dir = ZD_FWD;
    if (rtype == ZR_AUTO) rtype = ZR_RANK;
    if (limit != -1 && rtype == ZR_RANK) {
        reply_error(c, "syntax error, LIMIT is only supported in combination with either "
                       "BYSCORE or BYLEX");
        return;
    }
    if (withscores && rtype == ZR_LEX) {
        reply_error(c, "syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    int rev = dir == ZD_REV;
    if (rev && rtype != ZR_RANK) {
        int t = minidx;
        minidx = maxidx;
        maxidx = t;
    }
    long long rstart = 0, rend = 0;
    zsl_range sr;
    zsl_lexrange lr;
    if (rtype == ZR_RANK) {
        if (arg_ll(c, minidx, &rstart, NULL) != 0 || arg_ll(c, maxidx, &rend, NULL) != 0)
            return;
    } else if (rtype == ZR_SCORE) {
        if (!parse_score_range(c, minidx, maxidx, &sr)) {
            reply_error(c, "min or max is not a float");
            return;
        }
    } else if (!parse_lex_range(c, minidx, maxidx, &lr)) {
        reply_error(c, "min or max not valid string range item");
        return;
    }

    cb_shard *ss = c->shard;
    cb_db *sdb = c->db;
    if (store) {
        ss = client_key_shard(c, ARGP(c, argstart), ARGL(c, argstart));
        if (ss != c->shard) shard_set_time(ss, c->shard->now_ms);
        sdb = client_shard_db(c, ss);
    }
    cb_obj *o = db_lookup_read(ss, sdb, ARGP(c, argstart), ARGL(c, argstart), 0);
    if (o && o->type != OBJ_ZSET) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    /* The window: first rank in walking order and element count. */
    long start = 0, count = 0;
    if (o) {
        long llen = (long)zset_len(o);
        if (rtype == ZR_RANK) {
            if (rstart < 0) rstart += llen;
            if (rend < 0) rend += llen;
            if (rstart < 0) rstart = 0;
            if (!(rstart > rend || rstart >= llen)) {
                if (rend >= llen) rend = llen - 1;
                count = (long)(rend - rstart + 1);
                start = rev ? llen - 1 - (long)rstart : (long)rstart;
            }
        } else {
            size_t a, b;
            int found = rtype == ZR_SCORE ? score_window(o, &sr, &a, &b)
                                          : lex_window(o, &lr, rev, &a, &b);
            if (found && offset >= 0) {
                long avail = (long)(b - a + 1) - offset;
                if (avail > 0) {
                    count = limit < 0 || limit > avail ? avail : limit;
                    start = rev ? (long)b - offset : (long)a + offset;
                }
            }
        }
    }
    if (store) {
        cb_db *ddb;
        cb_shard *ds = client_key_shard(c, ARGP(c, 1), ARGL(c, 1));
        if (ds != c->shard) shard_set_time(ds, c->shard->now_ms);
        ddb = client_shard_db(c, ds);
        reply_int(c, store_window(ds, ddb, o, start, count, rev, rtype == ZR_RANK,
                                  ARGP(c, 1), ARGL(c, 1)));
        return;
    }
    if (!o || count == 0) {
        reply_empty_array(c);
        return;
    }
    emit_window(c, o, start, count, rev, withscores);
}

void cmd_zrange(cb_client *c)
{
    zrange_generic(c, 1, 0, ZR_AUTO, ZD_AUTO);
}

void cmd_zrangestore(cb_client *c)
{
    zrange_generic(c, 2, 1, ZR_AUTO, ZD_AUTO);
}

void cmd_zrevrange(cb_client *c)
{
    zrange_generic(c, 1, 0, ZR_RANK, ZD_REV);
}

void cmd_zrangebyscore(cb_client *c)
{
    zrange_generic(c, 1, 0, ZR_SCORE, ZD_FWD);
}

void cmd_zrevrangebyscore(cb_client *c)
{
    zrange_generic(c, 1, 0, ZR_SCORE, ZD_REV);
}

void cmd_zrangebylex(cb_client *c)
{
    zrange_generic(c, 1, 0, ZR_LEX, ZD_FWD);
}

void cmd_zrevrangebylex(cb_client *c)
{
    zrange_generic(c, 1, 0, ZR_LEX, ZD_REV);
}

/* ------------------------------------------------------------------------
 * ZREMRANGEBYRANK / SCORE / LEX
 * ---------------------------------------------------------------------- */

static void zremrange_generic(cb_client *c, int rtype)
{
    long long rstart = 0, rend = 0;
    zsl_range sr;
    zsl_lexrange lr;
    if (rtype == ZR_RANK) {
        if (arg_ll(c, 2, &rstart, NULL) != 0 || arg_ll(c, 3, &rend, NULL) != 0) return;
    } else if (rtype == ZR_SCORE) {
        if (!parse_score_range(c, 2, 3, &sr)) {
            reply_error(c, "min or max is not a float");
            return;
        }
    } else if (!parse_lex_range(c, 2, 3, &lr)) {
        reply_error(c, "min or max not valid string range item");
        return;
    }
    cb_obj *o;
    if (lookup_zset(c, 1, 1, &o) != 0) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    size_t a = 0, b = 0;
    int found;
    if (rtype == ZR_RANK) {
        long long llen = (long long)zset_len(o);
        if (rstart < 0) rstart += llen;
        if (rend < 0) rend += llen;
        if (rstart < 0) rstart = 0;
        found = !(rstart > rend || rstart >= llen);
        if (found) {
            if (rend >= llen) rend = llen - 1;
            a = (size_t)rstart;
            b = (size_t)rend;
        }
    } else if (rtype == ZR_SCORE) {
        found = score_window(o, &sr, &a, &b);
    } else {
        found = lex_window(o, &lr, 0, &a, &b);
    }
    if (!found) {
        reply_int(c, 0);
        return;
    }
    zset_delete_ranks(o, a, b);
    key_written(c, 1, o, b - a + 1,
                rtype == ZR_RANK    ? "zremrangebyrank"
                : rtype == ZR_SCORE ? "zremrangebyscore"
                                    : "zremrangebylex");
    reply_int(c, (long long)(b - a + 1));
}

void cmd_zremrangebyrank(cb_client *c)
{
    zremrange_generic(c, ZR_RANK);
}

void cmd_zremrangebyscore(cb_client *c)
{
    zremrange_generic(c, ZR_SCORE);
}

void cmd_zremrangebylex(cb_client *c)
{
    zremrange_generic(c, ZR_LEX);
}
