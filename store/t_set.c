/* t_set.c — the set type: its two encodings and the S* command handlers.
 *
 * Encodings follow Redis 7.0 so OBJECT ENCODING answers the same:
 *   intset    — every member is a canonical long long and there are at most
 *               set-max-intset-entries of them (ds/intset.h);
 *   hashtable — a dict of cbstr members with no values.
 * A set only ever converts intset -> hashtable while it lives; results that
 * are built afresh (SINTERSTORE, SUNIONSTORE, SDIFFSTORE, the remainder of a
 * large SPOP, SMOVE's new destination) start as an intset again, as in
 * Redis, so they may come out compact.
 *
 * The hashtable's dict owns nothing (its type has no destructors, so the
 * type is read-only data); the members are freed here. Layers: encoding
 * primitives, the object hooks object.c calls, helpers, then the commands
 * (membership, SPOP/SRANDMEMBER, SMOVE, the algebra commands, SSCAN).
 * Multi-key commands resolve each key's shard (key_shard) and signal/count
 * dirty on the owner, like the keyspace commands.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "object.h"
#include "db.h"
#include "ds/intset.h"
#include "../dataplane/client.h"
#include "../dataplane/propagate.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"

#define KEY(c, i) ARGP(c, i), ARGL(c, i)

/* SPOP with a count rebuilds the set from the survivors once the count is
 * this share of what would remain; SRANDMEMBER copies the set and removes
 * members once the count is a third of the size (Redis's thresholds). */
#define SPOP_MOVE_STRATEGY_MUL 5
#define SRANDMEMBER_SUB_STRATEGY_MUL 3

/* No destructors: no function pointers, so it is read-only data. */
static const dict_type set_dict_type = { NULL, NULL, 0 };

/* ------------------------------------------------------------------------
 * Encoding primitives
 * ---------------------------------------------------------------------- */

static cb_obj *set_obj(int encoding, void *ptr)
{
    cb_obj *o = cb_malloc(sizeof(*o));
    o->type = OBJ_SET;
    o->encoding = (unsigned)encoding;
    o->lru = 0;
    o->refcount = 1;
    o->ptr = ptr;
    return o;
}

static cb_obj *set_new_intset(void) { return set_obj(OBJ_ENC_INTSET, intset_new()); }

static cb_obj *set_new_ht(const uint8_t seed[16])
{
    return set_obj(OBJ_ENC_HT, dict_create(&set_dict_type, NULL, seed));
}

/* Redis's setTypeCreate: the first member decides the starting encoding. */
static cb_obj *set_create_for(cb_shard *s, const char *p, size_t len)
{
    long long v;
    return util_str2ll(p, len, &v) ? set_new_intset() : set_new_ht(s->seed);
}

static unsigned long set_size(const cb_obj *o)
{
    return o->encoding == OBJ_ENC_INTSET ? intset_len(o->ptr) : dict_size(o->ptr);
}

static void ht_insert(dict *d, const char *p, size_t len)
{
    cbstr k = cbstr_new(p, len);
    if (!dict_add_raw(d, k, NULL)) cbstr_free(k);
}

static void set_convert_to_ht(cb_shard *s, cb_obj *o)
{
    intset *is = o->ptr;
    dict *d = dict_create(&set_dict_type, NULL, s->seed);
    dict_expand(d, intset_len(is));
    char buf[CB_LL2STR_MAX];
    for (uint32_t i = 0; i < intset_len(is); i++) {
        size_t n = util_ll2str(buf, sizeof(buf), intset_get(is, i));
        ht_insert(d, buf, n);
    }
    intset_free(is);
    o->ptr = d;
    o->encoding = OBJ_ENC_HT;
}

/* 1 when added. Converts to a hashtable on a non-integer member or when
 * the intset grows past set-max-intset-entries. */
static int set_add(cb_shard *s, cb_obj *o, const char *p, size_t len)
{
    if (o->encoding == OBJ_ENC_INTSET) {
        long long v;
        if (util_str2ll(p, len, &v)) {
            int added;
            o->ptr = intset_add(o->ptr, v, &added);
            if (added && (long long)intset_len(o->ptr) > s->set->set_max_intset_entries)
                set_convert_to_ht(s, o);
            return added;
        }
        set_convert_to_ht(s, o);
    }
    if (dict_find(o->ptr, p, len)) return 0;
    dict_add_raw(o->ptr, cbstr_new(p, len), NULL);
    return 1;
}

static int set_remove(cb_obj *o, const char *p, size_t len)
{
    if (o->encoding == OBJ_ENC_INTSET) {
        long long v;
        int removed = 0;
        if (util_str2ll(p, len, &v)) o->ptr = intset_remove(o->ptr, v, &removed);
        return removed;
    }
    dict_entry *e = dict_unlink(o->ptr, p, len);
    if (!e) return 0;
    cbstr_free(e->key);
    dict_free_unlinked(o->ptr, e);
    dict_shrink_if_sparse(o->ptr);
    return 1;
}

static int set_is_member(const cb_obj *o, const char *p, size_t len)
{
    if (o->encoding == OBJ_ENC_INTSET) {
        long long v;
        return util_str2ll(p, len, &v) && intset_find(o->ptr, v);
    }
    return dict_find(o->ptr, p, len) != NULL;
}

/* A random member's bytes (ints printed into buf, >= CB_LL2STR_MAX). */
static const char *set_random(cb_shard *s, const cb_obj *o, char *buf, size_t *len)
{
    if (o->encoding == OBJ_ENC_INTSET) {
        *len = util_ll2str(buf, CB_LL2STR_MAX, intset_random(o->ptr, &s->rng));
        return buf;
    }
    dict_entry *e = dict_random(o->ptr, &s->rng);
    *len = cbstr_len(e->key);
    return e->key;
}

/* Iteration over either encoding. The dict iterator is safe (rehashing
 * paused) so lookups in other sets during a walk cannot disturb it. */
typedef struct set_iter {
    const cb_obj *o;
    uint32_t pos;
    dict_iter di;
    char buf[CB_LL2STR_MAX];
} set_iter;

static void set_iter_init(set_iter *it, const cb_obj *o)
{
    it->o = o;
    it->pos = 0;
    if (o->encoding == OBJ_ENC_HT) dict_iter_init(&it->di, o->ptr, 1);
}

/* Next member's bytes, or NULL at the end. */
static const char *set_iter_next(set_iter *it, size_t *len)
{
    if (it->o->encoding == OBJ_ENC_INTSET) {
        if (it->pos >= intset_len(it->o->ptr)) return NULL;
        *len = util_ll2str(it->buf, sizeof(it->buf), intset_get(it->o->ptr, it->pos++));
        return it->buf;
    }
    dict_entry *e = dict_iter_next(&it->di);
    if (!e) return NULL;
    *len = cbstr_len(e->key);
    return e->key;
}

static void set_iter_release(set_iter *it)
{
    if (it->o->encoding == OBJ_ENC_HT) dict_iter_release(&it->di);
}

/* ------------------------------------------------------------------------
 * Object hooks (object.c, digest.c)
 * ---------------------------------------------------------------------- */

static void ht_free_keys(dict *d)
{
    dict_iter it;
    dict_iter_init(&it, d, 1);
    dict_entry *e;
    while ((e = dict_iter_next(&it)) != NULL) {
        cbstr_free(e->key);
        e->key = NULL;
    }
    dict_iter_release(&it);
}

void set_free_value(cb_obj *o)
{
    if (o->encoding == OBJ_ENC_INTSET) {
        intset_free(o->ptr);
        return;
    }
    ht_free_keys(o->ptr);
    dict_release(o->ptr);
}

static void ht_key_free(dict_entry *e, void *arg)
{
    (void)arg;
    cbstr_free(e->key);
}

int set_free_step(cb_obj *o, size_t max)
{
    if (o->encoding == OBJ_ENC_INTSET) {
        intset_free(o->ptr);
        return 0;
    }
    return dict_release_step_fn(o->ptr, max, ht_key_free, NULL);
}

cb_obj *set_dup(const cb_obj *o)
{
    if (o->encoding == OBJ_ENC_INTSET) return set_obj(OBJ_ENC_INTSET, intset_dup(o->ptr));
    cb_obj *n = set_new_ht(dict_seed(o->ptr));
    dict_expand(n->ptr, dict_size(o->ptr));
    set_iter it;
    set_iter_init(&it, o);
    const char *p;
    size_t len;
    while ((p = set_iter_next(&it, &len)) != NULL) ht_insert(n->ptr, p, len);
    set_iter_release(&it);
    return n;
}

size_t set_mem_usage(const cb_obj *o)
{
    if (o->encoding == OBJ_ENC_INTSET) return cb_usable(o->ptr);
    size_t n = dict_mem_overhead(o->ptr);
    dict_iter it;
    dict_iter_init(&it, o->ptr, 1);
    dict_entry *e;
    while ((e = dict_iter_next(&it)) != NULL) n += cbstr_alloc_size(e->key);
    dict_iter_release(&it);
    return n;
}

void set_foreach(const cb_obj *o, void (*fn)(void *priv, const char *p, size_t len),
                 void *priv)
{
    set_iter it;
    set_iter_init(&it, o);
    const char *p;
    size_t len;
    while ((p = set_iter_next(&it, &len)) != NULL) fn(priv, p, len);
    set_iter_release(&it);
}

/* ------------------------------------------------------------------------
 * Command helpers
 * ---------------------------------------------------------------------- */

/* The shard owning key argument i, its clock set to the command's; *db is
 * the client's selected db in it. One shard: c->shard and c->db. */
static cb_shard *key_shard(cb_client *c, int i, cb_db **db)
{
    cb_shard *s = client_key_shard(c, KEY(c, i));
    if (s == c->shard) {
        *db = c->db;
        return s;
    }
    shard_set_time(s, c->shard->now_ms);
    *db = client_shard_db(c, s);
    return s;
}

static void wrote(cb_shard *s, cb_db *db, const char *k, size_t len, uint64_t dirty)
{
    db_signal_modified(s, db, k, len);
    s->dirty += dirty;
}

/* Lookup of key i in the current shard that enforces the set type. Returns
 * 1 with *out set (NULL when missing), or 0 after replying WRONGTYPE. */
static int lookup_set(cb_client *c, int i, int write, cb_obj **out)
{
    cb_obj *o = write ? db_lookup_write(c->shard, c->db, KEY(c, i))
                      : db_lookup_read(c->shard, c->db, KEY(c, i), 0);
    if (o && o->type != OBJ_SET) {
        reply_error(c, ERR_WRONGTYPE);
        return 0;
    }
    *out = o;
    return 1;
}

/* Replies every member of o as a RESP3 set (array in RESP2). */
static void reply_set_members(cb_client *c, const cb_obj *o)
{
    reply_set_len(c, (long)set_size(o));
    set_iter it;
    set_iter_init(&it, o);
    const char *p;
    size_t len;
    while ((p = set_iter_next(&it, &len)) != NULL) reply_bulk(c, p, len);
    set_iter_release(&it);
}

/* ------------------------------------------------------------------------
 * SADD SREM SISMEMBER SMISMEMBER SCARD
 * ---------------------------------------------------------------------- */

void cmd_sadd(cb_client *c)
{
    cb_obj *o;
    if (!lookup_set(c, 1, 1, &o)) return;
    if (!o) {
        o = set_create_for(c->shard, KEY(c, 2));
        db_add(c->shard, c->db, KEY(c, 1), o);
    }
    long long added = 0;
    for (int j = 2; j < c->argc; j++) added += set_add(c->shard, o, KEY(c, j));
    if (added) {
        wrote(c->shard, c->db, KEY(c, 1), (uint64_t)added);
        NOTIFY_ARG(c, NOTIFY_SET, "sadd", 1);
    }
    reply_int(c, added);
}

void cmd_srem(cb_client *c)
{
    cb_obj *o;
    if (!lookup_set(c, 1, 1, &o)) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    long long removed = 0;
    int gone = 0;
    for (int j = 2; j < c->argc; j++) {
        removed += set_remove(o, KEY(c, j));
        if (set_size(o) == 0) {
            db_delete(c->shard, c->db, KEY(c, 1));
            gone = 1;
            break;
        }
    }
    if (removed) {
        wrote(c->shard, c->db, KEY(c, 1), (uint64_t)removed);
        NOTIFY_ARG(c, NOTIFY_SET, "srem", 1);
        if (gone) NOTIFY_ARG(c, NOTIFY_GENERIC, "del", 1);
    }
    reply_int(c, removed);
}

void cmd_sismember(cb_client *c)
{
    cb_obj *o;
    if (!lookup_set(c, 1, 0, &o)) return;
    reply_int(c, o && set_is_member(o, KEY(c, 2)));
}

void cmd_smismember(cb_client *c)
{
    cb_obj *o;
    if (!lookup_set(c, 1, 0, &o)) return;
    reply_array_len(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) reply_int(c, o && set_is_member(o, KEY(c, j)));
}

void cmd_scard(cb_client *c)
{
    cb_obj *o;
    if (!lookup_set(c, 1, 0, &o)) return;
    reply_int(c, o ? (long long)set_size(o) : 0);
}

/* ------------------------------------------------------------------------
 * SPOP SRANDMEMBER
 * ---------------------------------------------------------------------- */

static void sunion_diff_generic(cb_client *c, int first, int nkeys, int dst, int op);
#define SET_OP_UNION 0
#define SET_OP_DIFF 1

static void spop_with_count(cb_client *c)
{
    static const char ERR_POSITIVE[] = "value is out of range, must be positive";
    long long l;
    if (arg_ll(c, 2, &l, ERR_POSITIVE)) return;
    if (l < 0) {
        reply_error(c, ERR_POSITIVE);
        return;
    }
    cb_obj *o;
    if (!lookup_set(c, 1, 1, &o)) return;
    if (!o || l == 0) {
        reply_set_len(c, 0);
        return;
    }
    unsigned long long count = (unsigned long long)l;
    unsigned long size = set_size(o);
    NOTIFY_ARG(c, NOTIFY_SET, "spop", 1);

    /* Everything: the reply is SUNION's (sorted when it fits an intset). */
    if (count >= size) {
        sunion_diff_generic(c, 1, 1, 0, SET_OP_UNION);
        db_delete(c->shard, c->db, KEY(c, 1));
        const char *pv[2] = {"DEL", ARGP(c, 1)};
        size_t pl[2] = {3, ARGL(c, 1)};
        prop_rewrite(c, 2, pv, pl);
        NOTIFY_ARG(c, NOTIFY_GENERIC, "del", 1);
        wrote(c->shard, c->db, KEY(c, 1), size);
        return;
    }

    unsigned long remaining = size - (unsigned long)count;
    char buf[CB_LL2STR_MAX];
    const char *p;
    size_t len;
    /* Replayed as one SREM per member (MULTI/EXEC around them), as 7.0. */
    const char *pv[3] = {"SREM", ARGP(c, 1), NULL};
    size_t pl[3] = {4, ARGL(c, 1), 0};
    prop_suppress(c);
    reply_set_len(c, (long)count);
    if ((unsigned long long)remaining * SPOP_MOVE_STRATEGY_MUL > count) {
        /* Few to pop: pick and remove them one at a time. */
        for (unsigned long long k = 0; k < count; k++) {
            p = set_random(c->shard, o, buf, &len);
            reply_bulk(c, p, len);
            pv[2] = p;
            pl[2] = len;
            prop_add(c->dbid, 3, pv, pl);
            /* p may be the member's own name: nothing reads it after. */
            set_remove(o, p, len);
        }
    } else {
        /* Most of the set goes: move the survivors to a new set and send
         * what is left of the old one. */
        cb_obj *keep = NULL;
        while (remaining--) {
            p = set_random(c->shard, o, buf, &len);
            cbstr m = cbstr_new(p, len);
            if (!keep) keep = set_create_for(c->shard, m, len);
            set_add(c->shard, keep, m, len);
            set_remove(o, m, len);
            cbstr_free(m);
        }
        set_iter it;
        set_iter_init(&it, o);
        while ((p = set_iter_next(&it, &len)) != NULL) {
            reply_bulk(c, p, len);
            pv[2] = p;
            pl[2] = len;
            prop_add(c->dbid, 3, pv, pl);
        }
        set_iter_release(&it);
        db_overwrite(c->shard, c->db, KEY(c, 1), keep);
    }
    wrote(c->shard, c->db, KEY(c, 1), count);
}

void cmd_spop(cb_client *c)
{
    if (c->argc == 3) {
        spop_with_count(c);
        return;
    }
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    cb_obj *o;
    if (!lookup_set(c, 1, 1, &o)) return;
    if (!o) {
        reply_null(c);
        return;
    }
    char buf[CB_LL2STR_MAX];
    size_t len;
    const char *p = set_random(c->shard, o, buf, &len);
    cbstr m = cbstr_new(p, len);
    set_remove(o, m, len);
    reply_bulk(c, m, len);
    const char *pv[3] = {"SREM", ARGP(c, 1), m};
    size_t pl[3] = {4, ARGL(c, 1), len};
    prop_rewrite(c, 3, pv, pl);
    cbstr_free(m);
    NOTIFY_ARG(c, NOTIFY_SET, "spop", 1);
    if (set_size(o) == 0) {
        db_delete(c->shard, c->db, KEY(c, 1));
        NOTIFY_ARG(c, NOTIFY_GENERIC, "del", 1);
    }
    wrote(c->shard, c->db, KEY(c, 1), 1);
}

/* Distinct random members, fewer than the set holds. */
static void srandmember_distinct(cb_client *c, const cb_obj *o, unsigned long count)
{
    unsigned long size = set_size(o);
    reply_array_len(c, (long)count);
    if ((unsigned long long)count * SRANDMEMBER_SUB_STRATEGY_MUL > size) {
        /* Close to the whole set: collect it and shuffle the front. */
        cbstr *all = cb_malloc(size * sizeof(cbstr));
        set_iter it;
        set_iter_init(&it, o);
        const char *p;
        size_t len, n = 0;
        while ((p = set_iter_next(&it, &len)) != NULL) all[n++] = cbstr_new(p, len);
        set_iter_release(&it);
        for (unsigned long k = 0; k < count; k++) {
            unsigned long j = k + (unsigned long)(util_rand64(&c->shard->rng) % (size - k));
            cbstr t = all[k];
            all[k] = all[j];
            all[j] = t;
            reply_bulk(c, all[k], cbstr_len(all[k]));
        }
        for (size_t k = 0; k < n; k++) cbstr_free(all[k]);
        cb_free(all);
        return;
    }
    /* Small share: draw until count distinct members were seen. */
    dict *seen = dict_create(&set_dict_type, NULL, c->shard->seed);
    char buf[CB_LL2STR_MAX];
    while (dict_size(seen) < count) {
        size_t len;
        const char *p = set_random(c->shard, o, buf, &len);
        if (dict_find(seen, p, len)) continue;
        dict_add_raw(seen, cbstr_new(p, len), NULL);
        reply_bulk(c, p, len);
    }
    ht_free_keys(seen);
    dict_release(seen);
}

static void srandmember_with_count(cb_client *c)
{
    long long l;
    if (arg_ll(c, 2, &l, NULL)) return;
    if (l == LLONG_MIN) {
        /* -count must fit: Redis's range is symmetric. */
        reply_errorf(c, "value is out of range, value must between %lld and %lld",
                     -LLONG_MAX, LLONG_MAX);
        return;
    }
    int uniq = l >= 0;
    unsigned long long count = uniq ? (unsigned long long)l : (unsigned long long)-l;
    cb_obj *o;
    if (!lookup_set(c, 1, 0, &o)) return;
    if (!o || count == 0) {
        reply_empty_array(c);
        return;
    }
    char buf[CB_LL2STR_MAX];
    size_t len;
    if (!uniq || count == 1) {
        reply_array_len(c, (long)count);
        while (count-- && !(c->flags & CLIENT_CLOSE_ASAP)) {
            const char *p = set_random(c->shard, o, buf, &len);
            reply_bulk(c, p, len);
        }
        return;
    }
    if (count >= set_size(o)) {
        reply_array_len(c, (long)set_size(o));
        set_iter it;
        set_iter_init(&it, o);
        const char *p;
        while ((p = set_iter_next(&it, &len)) != NULL) reply_bulk(c, p, len);
        set_iter_release(&it);
        return;
    }
    srandmember_distinct(c, o, (unsigned long)count);
}

void cmd_srandmember(cb_client *c)
{
    if (c->argc == 3) {
        srandmember_with_count(c);
        return;
    }
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    cb_obj *o;
    if (!lookup_set(c, 1, 0, &o)) return;
    if (!o) {
        reply_null(c);
        return;
    }
    char buf[CB_LL2STR_MAX];
    size_t len;
    const char *p = set_random(c->shard, o, buf, &len);
    reply_bulk(c, p, len);
}

/* ------------------------------------------------------------------------
 * SMOVE
 * ---------------------------------------------------------------------- */

void cmd_smove(cb_client *c)
{
    cb_db *sdb, *ddb;
    cb_shard *ss = key_shard(c, 1, &sdb);
    cb_shard *ds = key_shard(c, 2, &ddb);
    cb_obj *src = db_lookup_write(ss, sdb, KEY(c, 1));
    cb_obj *dst = db_lookup_write(ds, ddb, KEY(c, 2));
    if (!src) {
        reply_int(c, 0);
        return;
    }
    if (src->type != OBJ_SET || (dst && dst->type != OBJ_SET)) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    if (src == dst) {
        reply_int(c, set_is_member(src, KEY(c, 3)));
        return;
    }
    if (!set_remove(src, KEY(c, 3))) {
        reply_int(c, 0);
        return;
    }
    notify_keyspace_event(ss, sdb, NOTIFY_SET, "srem", KEY(c, 1));
    if (set_size(src) == 0) {
        db_delete(ss, sdb, KEY(c, 1));
        notify_keyspace_event(ss, sdb, NOTIFY_GENERIC, "del", KEY(c, 1));
    }
    if (!dst) {
        dst = set_create_for(ds, KEY(c, 3));
        db_add(ds, ddb, KEY(c, 2), dst);
    }
    wrote(ss, sdb, KEY(c, 1), 1);
    if (set_add(ds, dst, KEY(c, 3))) {
        wrote(ds, ddb, KEY(c, 2), 1);
        notify_keyspace_event(ds, ddb, NOTIFY_SET, "sadd", KEY(c, 2));
    }
    reply_int(c, 1);
}

/* ------------------------------------------------------------------------
 * SINTER SINTERCARD SINTERSTORE SMEMBERS
 * ---------------------------------------------------------------------- */

/* Looks up keys first..first+nkeys-1 (each in its own shard) into sets[],
 * NULL for a missing key. Returns how many are missing, or -1 after
 * replying WRONGTYPE. Every key is checked before any work, as Redis does. */
static long lookup_sets(cb_client *c, int first, int nkeys, int write, cb_obj **sets)
{
    long missing = 0;
    for (int j = 0; j < nkeys; j++) {
        cb_db *db;
        cb_shard *s = key_shard(c, first + j, &db);
        /* Sources are read even by the STORE forms (Redis 7.0: a miss
         * raises "keymiss"). */
        (void)write;
        cb_obj *o = db_lookup_read(s, db, KEY(c, first + j), 0);
        if (o && o->type != OBJ_SET) {
            reply_error(c, ERR_WRONGTYPE);
            return -1;
        }
        sets[j] = o;
        if (!o) missing++;
    }
    return missing;
}

/* Stores a computed set at key argument dst (or deletes dst when empty) and
 * replies its size; raises `event` (or "del"). Takes ownership of res. */
static void store_result(cb_client *c, int dst, cb_obj *res, const char *event)
{
    cb_db *db;
    cb_shard *s = key_shard(c, dst, &db);
    unsigned long n = set_size(res);
    if (n > 0) {
        db_set(s, db, KEY(c, dst), res, 0);
        wrote(s, db, KEY(c, dst), 1);
        notify_keyspace_event(s, db, NOTIFY_SET, event, KEY(c, dst));
    } else {
        obj_decr_ref(res);
        if (db_delete(s, db, KEY(c, dst))) {
            wrote(s, db, KEY(c, dst), 1);
            notify_keyspace_event(s, db, NOTIFY_GENERIC, "del", KEY(c, dst));
        }
    }
    reply_int(c, (long long)n);
}

static int by_size(const void *a, const void *b)
{
    unsigned long x = set_size(*(cb_obj *const *)a), y = set_size(*(cb_obj *const *)b);
    return x < y ? -1 : x > y;
}

/* dst: key argument to store into (0: reply the members). card: reply the
 * count only, stopping at limit (0: no limit). */
static void sinter_generic(cb_client *c, int first, int nkeys, int dst, int card,
                           long long limit)
{
    cb_obj **sets = cb_malloc((size_t)nkeys * sizeof(cb_obj *));
    long missing = lookup_sets(c, first, nkeys, dst != 0, sets);
    if (missing < 0) goto done;
    if (missing > 0) {
        if (dst) store_result(c, dst, set_new_intset(), "sinterstore");
        else if (card) reply_int(c, 0);
        else reply_set_len(c, 0);
        goto done;
    }
    qsort(sets, (size_t)nkeys, sizeof(cb_obj *), by_size);

    cb_obj *res = dst ? set_new_intset() : NULL;
    void *h = (dst || card) ? NULL : reply_deferred_len(c);
    long long n = 0;
    set_iter it;
    set_iter_init(&it, sets[0]);
    const char *p;
    size_t len;
    while ((p = set_iter_next(&it, &len)) != NULL) {
        int j;
        for (j = 1; j < nkeys; j++) {
            if (sets[j] == sets[0]) continue;
            if (!set_is_member(sets[j], p, len)) break;
        }
        if (j < nkeys) continue;
        n++;
        if (card) {
            if (limit && n >= limit) break;
        } else if (dst) {
            set_add(c->shard, res, p, len);
        } else {
            reply_bulk(c, p, len);
        }
    }
    set_iter_release(&it);
    if (dst) store_result(c, dst, res, "sinterstore");
    else if (card) reply_int(c, n);
    else reply_set_deferred_len(c, h, (long)n, 's');
done:
    cb_free(sets);
}

void cmd_sinter(cb_client *c) { sinter_generic(c, 1, c->argc - 1, 0, 0, 0); }
void cmd_smembers(cb_client *c) { sinter_generic(c, 1, 1, 0, 0, 0); }
void cmd_sinterstore(cb_client *c) { sinter_generic(c, 2, c->argc - 2, 1, 0, 0); }

void cmd_sintercard(cb_client *c)
{
    static const char ERR_NUMKEYS[] = "numkeys should be greater than 0";
    static const char ERR_LIMIT[] = "LIMIT can't be negative";
    long long numkeys;
    if (arg_ll(c, 1, &numkeys, ERR_NUMKEYS)) return;
    if (numkeys <= 0) {
        reply_error(c, ERR_NUMKEYS);
        return;
    }
    if (numkeys > c->argc - 2) {
        reply_error(c, "Number of keys can't be greater than number of args");
        return;
    }
    long long limit = 0;
    for (int j = 2 + (int)numkeys; j < c->argc; j++) {
        if (arg_eq(c, j, "LIMIT") && j + 1 < c->argc) {
            if (arg_ll(c, ++j, &limit, ERR_LIMIT)) return;
            if (limit < 0) {
                reply_error(c, ERR_LIMIT);
                return;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    sinter_generic(c, 2, (int)numkeys, 0, 1, limit);
}

/* ------------------------------------------------------------------------
 * SUNION SUNIONSTORE SDIFF SDIFFSTORE
 * ---------------------------------------------------------------------- */

static void sunion_diff_generic(cb_client *c, int first, int nkeys, int dst, int op)
{
    cb_obj **sets = cb_malloc((size_t)nkeys * sizeof(cb_obj *));
    if (lookup_sets(c, first, nkeys, dst != 0, sets) < 0) goto done;
    int sameset = 0;
    for (int j = 1; j < nkeys; j++)
        if (sets[0] && sets[j] == sets[0]) sameset = 1;

    /* Built as a fresh set, so an all-integer result comes out compact. */
    cb_obj *res = set_new_intset();
    set_iter it;
    const char *p;
    size_t len;
    if (op == SET_OP_UNION) {
        for (int j = 0; j < nkeys; j++) {
            if (!sets[j]) continue;
            set_iter_init(&it, sets[j]);
            while ((p = set_iter_next(&it, &len)) != NULL) set_add(c->shard, res, p, len);
            set_iter_release(&it);
        }
    } else if (sets[0] && !sameset) {
        /* Redis's choice between its two algorithms is visible: the second
         * adds all of the first set before removing, so the result may have
         * converted to a hashtable on the way. Same choice, same outcome. */
        unsigned long long one = 0, two = 0;
        for (int j = 0; j < nkeys; j++) {
            if (!sets[j]) continue;
            one += set_size(sets[0]);
            two += set_size(sets[j]);
        }
        if (one / 2 <= two) {
            /* Walk the first set, keep what no other set has. */
            set_iter_init(&it, sets[0]);
            while ((p = set_iter_next(&it, &len)) != NULL) {
                int j;
                for (j = 1; j < nkeys; j++)
                    if (sets[j] && set_is_member(sets[j], p, len)) break;
                if (j == nkeys) set_add(c->shard, res, p, len);
            }
            set_iter_release(&it);
        } else {
            /* Copy the first set, remove every other set's members. */
            for (int j = 0; j < nkeys; j++) {
                if (!sets[j]) continue;
                set_iter_init(&it, sets[j]);
                while ((p = set_iter_next(&it, &len)) != NULL) {
                    if (j == 0) set_add(c->shard, res, p, len);
                    else set_remove(res, p, len);
                }
                set_iter_release(&it);
                if (set_size(res) == 0) break;
            }
        }
    }
    if (dst) {
        store_result(c, dst, res, op == SET_OP_UNION ? "sunionstore" : "sdiffstore");
    } else {
        reply_set_members(c, res);
        obj_decr_ref(res);
    }
done:
    cb_free(sets);
}

void cmd_sunion(cb_client *c) { sunion_diff_generic(c, 1, c->argc - 1, 0, SET_OP_UNION); }
void cmd_sunionstore(cb_client *c) { sunion_diff_generic(c, 2, c->argc - 2, 1, SET_OP_UNION); }
void cmd_sdiff(cb_client *c) { sunion_diff_generic(c, 1, c->argc - 1, 0, SET_OP_DIFF); }
void cmd_sdiffstore(cb_client *c) { sunion_diff_generic(c, 2, c->argc - 2, 1, SET_OP_DIFF); }

/* ------------------------------------------------------------------------
 * SSCAN
 * ---------------------------------------------------------------------- */

/* SCAN's cursor rule (strtoul): decimal, no leading blank, no trailing
 * junk, in range; a sign and the empty string pass, as in Redis. */
static int parse_cursor(cb_client *c, int i, uint64_t *out)
{
    char stackbuf[64];
    size_t n = ARGL(c, i);
    char *buf = n < sizeof(stackbuf) ? stackbuf : cb_malloc(n + 1);
    memcpy(buf, ARGP(c, i), n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    int bad = isspace((unsigned char)buf[0]) || *end != '\0' || errno == ERANGE;
    if (buf != stackbuf) cb_free(buf);
    if (bad) {
        reply_error(c, "invalid cursor");
        return -1;
    }
    *out = v;
    return 0;
}

typedef struct scan_acc {
    cbstr *m;
    size_t n, cap;
} scan_acc;

static void scan_push(scan_acc *a, const char *p, size_t len)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->m = cb_realloc(a->m, a->cap * sizeof(cbstr));
    }
    a->m[a->n++] = cbstr_new(p, len);
}

static void scan_collect(void *priv, const dict_entry *e)
{
    scan_push(priv, e->key, cbstr_len(e->key));
}

void cmd_sscan(cb_client *c)
{
    uint64_t cursor;
    if (parse_cursor(c, 2, &cursor)) return;
    cb_obj *o;
    if (!lookup_set(c, 1, 0, &o)) return;
    if (!o) {
        reply_array_len(c, 2);
        reply_bulk(c, "0", 1);
        reply_empty_array(c);
        return;
    }
    long long count = 10;
    const char *pat = NULL;
    size_t patlen = 0;
    for (int j = 3; j < c->argc; j += 2) {
        if (arg_eq(c, j, "COUNT") && j + 1 < c->argc) {
            if (arg_ll(c, j + 1, &count, NULL)) return;
            if (count < 1) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
        } else if (arg_eq(c, j, "MATCH") && j + 1 < c->argc) {
            pat = ARGP(c, j + 1);
            patlen = ARGL(c, j + 1);
            if (patlen == 1 && pat[0] == '*') pat = NULL;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }

    scan_acc acc = { 0 };
    if (o->encoding == OBJ_ENC_INTSET) {
        /* A compact set is returned whole in one call. */
        set_iter it;
        set_iter_init(&it, o);
        const char *p;
        size_t len;
        while ((p = set_iter_next(&it, &len)) != NULL) scan_push(&acc, p, len);
        set_iter_release(&it);
        cursor = 0;
    } else {
        long long budget = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
        do {
            cursor = dict_scan(o->ptr, cursor, scan_collect, &acc);
        } while (cursor && budget-- && (long long)acc.n < count);
    }

    size_t kept = 0;
    for (size_t j = 0; j < acc.n; j++) {
        if (pat && !util_globmatch(pat, patlen, acc.m[j], cbstr_len(acc.m[j]), 0)) {
            cbstr_free(acc.m[j]);
            continue;
        }
        acc.m[kept++] = acc.m[j];
    }
    reply_array_len(c, 2);
    reply_bulk_ll(c, (long long)cursor);
    reply_array_len(c, (long)kept);
    for (size_t j = 0; j < kept; j++) {
        reply_bulk(c, acc.m[j], cbstr_len(acc.m[j]));
        cbstr_free(acc.m[j]);
    }
    cb_free(acc.m);
}

/* ------------------------------------------------------------------------
 * Load builders (object.h)
 * ---------------------------------------------------------------------- */

cb_obj *set_new_for_load(cb_shard *s, unsigned long len_hint)
{
    if ((long long)len_hint > s->set->set_max_intset_entries) {
        cb_obj *o = set_new_ht(s->seed);
        dict_expand(o->ptr, len_hint);
        return o;
    }
    return set_new_intset();
}

int set_load_add(cb_shard *s, cb_obj *o, const char *p, size_t len)
{
    return set_add(s, o, p, len);
}

cb_obj *set_new_from_intset(cb_shard *s, intset *is)
{
    cb_obj *o = set_obj(OBJ_ENC_INTSET, is);
    if ((long long)intset_len(is) > s->set->set_max_intset_entries) set_convert_to_ht(s, o);
    return o;
}
