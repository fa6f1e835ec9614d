/* t_hash.c — the hash type: its two encodings and the H* commands.
 *
 * A hash starts compact (a pairpack, ds/pairpack.h, reported as "listpack")
 * and becomes a dict of cbstr field -> cbstr value ("hashtable") once it
 * holds more than hash-max-listpack-entries fields or any field or value
 * longer than hash-max-listpack-value bytes; like Redis 7.0 it never goes
 * back. The commands follow Redis 7.0's order of checks (arguments, then the
 * key's type, then the values), because clients can see which error wins,
 * and Redis's conversion points (HSET converts for any long argument before
 * it writes; HSETNX only when it writes).
 *
 * The dict is created with an all-zero, read-only dict_type (no destructors)
 * so store/ keeps no relocated data: this file frees fields and values
 * itself.
 *
 * A compact hash at rest lives in one block with its object
 * (OBJ_ENC_LISTPACK_EMB): the pack starts where the object's ptr field
 * would be, so a 4-field hash is one 64-byte block instead of a 16-byte
 * object plus a 64-byte pack (jemalloc's classes are 16 bytes apart). A
 * write first takes the pack out into its own block (hash_unembed: the
 * object does not move, so every pointer to it stays good); once the
 * command is done, key_changed puts it back into a fresh block and points
 * the keyspace entry at it (hash_settle). Readers go through hpp().
 *
 * Layers: object and encoding helpers, the type API (get/set/delete,
 * iteration), the store hooks in t_hash.h, then the commands.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "t_hash.h"
#include "db.h"
#include "ds/pairpack.h"
#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"

/* No destructors: entries are freed here (see the file comment). */
static const dict_type hash_dict_type = { 0 };

/* Redis keeps a listpack under 1 GB; past that the hash converts. */
#define HASH_PACK_SAFE_LIMIT (1u << 30)

static const char ERR_HASH_NOT_INT[] = "hash value is not an integer";
static const char ERR_HASH_NOT_FLOAT[] = "hash value is not a float";

/* ------------------------------------------------------------------------
 * Objects and encodings
 * ---------------------------------------------------------------------- */

#define IS_PACK(o) ((o)->encoding == OBJ_ENC_LISTPACK || (o)->encoding == OBJ_ENC_LISTPACK_EMB)

/* The pack of a compact hash, embedded or not. */
static inline unsigned char *hpp(const cb_obj *o)
{
    if (o->encoding == OBJ_ENC_LISTPACK_EMB) return (unsigned char *)&((cb_obj *)o)->ptr;
    return o->ptr;
}

int hash_is_compact(const cb_obj *o)
{
    return IS_PACK(o);
}

/* Before a write: the pack into a block of its own (the object stays). */
static void hash_unembed(cb_obj *o)
{
    if (o->encoding != OBJ_ENC_LISTPACK_EMB) return;
    unsigned char *pp = hpp(o);
    size_t n = pp_bytes(pp);
    unsigned char *own = cb_malloc(n);
    memcpy(own, pp, n);
    o->ptr = own;
    o->encoding = OBJ_ENC_LISTPACK;
}

cb_obj *hash_embed(cb_obj *o)
{
    if (!o || o->type != OBJ_HASH || o->encoding != OBJ_ENC_LISTPACK || o->refcount != 1)
        return o;
    unsigned char *pp = o->ptr;
    size_t n = pp_bytes(pp);
    cb_obj *e = cb_malloc(offsetof(cb_obj, ptr) + n);
    e->type = o->type;
    e->encoding = OBJ_ENC_LISTPACK_EMB;
    e->lru = o->lru;
    e->refcount = 1;
    memcpy(hpp(e), pp, n);
    pp_free(pp);
    cb_free(o);
    return e;
}

static cb_obj *hash_new(void)
{
    cb_obj *o = cb_malloc(sizeof(*o));
    o->type = OBJ_HASH;
    o->encoding = OBJ_ENC_LISTPACK;
    o->lru = 0;
    o->refcount = 1;
    o->ptr = pp_new();
    return o;
}

static void ht_put(dict *d, const char *f, size_t fl, const char *v, size_t vl)
{
    dict_entry *e = dict_add_raw(d, cbstr_new(f, fl), NULL);
    e->v.val = cbstr_new(v, vl);
}

static void ht_free(dict *d)
{
    dict_iter it;
    dict_iter_init(&it, d, 1);
    dict_entry *e;
    while ((e = dict_iter_next(&it)) != NULL) {
        cbstr_free(e->key);
        cbstr_free(e->v.val);
    }
    dict_iter_release(&it);
    dict_release(d);
}

/* Compact -> hashtable, keeping every pair. */
static void hash_convert(cb_obj *o, const uint8_t seed[16])
{
    if (!IS_PACK(o)) return;
    hash_unembed(o);
    unsigned char *pp = o->ptr;
    dict *d = dict_create(&hash_dict_type, NULL, seed);
    dict_expand(d, pp_count(pp) / 2);
    size_t end = pp_bytes(pp);
    for (size_t off = pp_first(pp); off < end;) {
        char fb[PP_INTBUF], vb[PP_INTBUF];
        size_t fl, vl;
        const char *f = pp_str(pp, off, fb, &fl);
        off = pp_next(pp, off);
        const char *v = pp_str(pp, off, vb, &vl);
        off = pp_next(pp, off);
        ht_put(d, f, fl, v, vl);
    }
    pp_free(pp);
    o->ptr = d;
    o->encoding = OBJ_ENC_HT;
}

/* Converts before a write whose field or value is too long for the compact
 * form (Redis's hashTypeTryConversion and the check in hashTypeSet). */
static void hash_fit_lengths(cb_shard *s, cb_obj *o, size_t fl, size_t vl)
{
    if (!IS_PACK(o)) return;
    unsigned long long max = (unsigned long long)s->set->hash_max_listpack_value;
    if (fl > max || vl > max ||
        pp_bytes(hpp(o)) + fl + vl + 16 > HASH_PACK_SAFE_LIMIT)
        hash_convert(o, s->seed);
}

size_t hash_length(const cb_obj *o)
{
    if (IS_PACK(o)) return pp_count(hpp(o)) / 2;
    return dict_size(o->ptr);
}

/* ------------------------------------------------------------------------
 * Type API
 * ---------------------------------------------------------------------- */

/* The value of field f: 1 with (*v, *vl) set (buf holds integer text), or 0. */
int hash_get(const cb_obj *o, const char *f, size_t fl, char *buf,
                    const char **v, size_t *vl)
{
    if (IS_PACK(o)) {
        const unsigned char *pp = hpp(o);
        size_t off = pp_find(pp, f, fl, 1);
        if (!off) return 0;
        *v = pp_str(pp, pp_next(pp, off), buf, vl);
        return 1;
    }
    dict_entry *e = dict_find(o->ptr, f, fl);
    if (!e) return 0;
    *v = e->v.val;
    *vl = cbstr_len(e->v.val);
    return 1;
}

/* Sets f to v; 1 when the field is new, 0 when its value was replaced. */
static int hash_set(cb_shard *s, cb_obj *o, const char *f, size_t fl,
                    const char *v, size_t vl)
{
    hash_fit_lengths(s, o, fl, vl);
    if (IS_PACK(o)) {
        hash_unembed(o);
        unsigned char *pp = o->ptr;
        size_t off = pp_find(pp, f, fl, 1);
        int created = off == 0;
        if (off) {
            o->ptr = pp_replace(pp, pp_next(pp, off), v, vl);
        } else {
            pp = pp_append(pp, f, fl);
            o->ptr = pp_append(pp, v, vl);
        }
        /* Checked on updates too (the limit may have been lowered). */
        if ((unsigned long long)hash_length(o) >
            (unsigned long long)s->set->hash_max_listpack_entries)
            hash_convert(o, s->seed);
        return created;
    }
    dict_entry *e = dict_find(o->ptr, f, fl);
    if (e) {
        cbstr_free(e->v.val);
        e->v.val = cbstr_new(v, vl);
        return 0;
    }
    ht_put(o->ptr, f, fl, v, vl);
    return 1;
}

static int hash_del(cb_obj *o, const char *f, size_t fl)
{
    if (IS_PACK(o)) {
        size_t off = pp_find(hpp(o), f, fl, 1);
        if (!off) return 0;
        hash_unembed(o);
        o->ptr = pp_delete(o->ptr, off, 2);
        return 1;
    }
    dict *d = o->ptr;
    dict_entry *e = dict_unlink(d, f, fl);
    if (!e) return 0;
    cbstr_free(e->key);
    cbstr_free(e->v.val);
    dict_free_unlinked(d, e);
    dict_shrink_if_sparse(d);
    return 1;
}

/* Walks the pairs of either encoding. */
typedef struct hash_iter {
    const cb_obj *o;
    size_t off, end;
    dict_iter di;
    const char *f, *v;
    size_t fl, vl;
    char fb[PP_INTBUF], vb[PP_INTBUF];
} hash_iter;

static void hash_iter_init(hash_iter *it, const cb_obj *o)
{
    it->o = o;
    if (IS_PACK(o)) {
        it->off = pp_first(hpp(o));
        it->end = pp_bytes(hpp(o));
    } else {
        dict_iter_init(&it->di, (dict *)o->ptr, 0);
    }
}

static int hash_iter_next(hash_iter *it)
{
    if (IS_PACK(it->o)) {
        const unsigned char *pp = hpp(it->o);
        if (it->off >= it->end) return 0;
        it->f = pp_str(pp, it->off, it->fb, &it->fl);
        it->off = pp_next(pp, it->off);
        it->v = pp_str(pp, it->off, it->vb, &it->vl);
        it->off = pp_next(pp, it->off);
        return 1;
    }
    dict_entry *e = dict_iter_next(&it->di);
    if (!e) return 0;
    it->f = e->key;
    it->fl = cbstr_len(e->key);
    it->v = e->v.val;
    it->vl = cbstr_len(e->v.val);
    return 1;
}

static void hash_iter_release(hash_iter *it)
{
    if (!IS_PACK(it->o)) dict_iter_release(&it->di);
}

/* ------------------------------------------------------------------------
 * Store hooks (t_hash.h)
 * ---------------------------------------------------------------------- */

void hash_free_value(cb_obj *o)
{
    if (o->encoding == OBJ_ENC_LISTPACK_EMB) return; /* in the object's block */
    if (IS_PACK(o)) pp_free(o->ptr);
    else ht_free(o->ptr);
}

static void ht_entry_free(dict_entry *e, void *arg)
{
    (void)arg;
    cbstr_free(e->key);
    cbstr_free(e->v.val);
}

int hash_free_step(cb_obj *o, size_t max)
{
    if (IS_PACK(o)) {
        if (o->encoding == OBJ_ENC_LISTPACK) pp_free(o->ptr);
        return 0;
    }
    return dict_release_step_fn(o->ptr, max, ht_entry_free, NULL);
}

cb_obj *hash_dup(const cb_obj *o)
{
    cb_obj *n = hash_new();
    if (IS_PACK(o)) {
        size_t bytes = pp_bytes(hpp(o));
        pp_free(n->ptr);
        n->ptr = cb_malloc(bytes);
        memcpy(n->ptr, hpp(o), bytes);
        return hash_embed(n);
    }
    /* A fresh seed: the copy may land in another shard. */
    uint8_t seed[16];
    util_random_bytes(seed, sizeof seed);
    pp_free(n->ptr);
    dict *d = dict_create(&hash_dict_type, NULL, seed);
    dict_expand(d, dict_size(o->ptr));
    hash_iter it;
    hash_iter_init(&it, o);
    while (hash_iter_next(&it)) ht_put(d, it.f, it.fl, it.v, it.vl);
    hash_iter_release(&it);
    n->ptr = d;
    n->encoding = OBJ_ENC_HT;
    return n;
}

size_t hash_mem_usage(const cb_obj *o)
{
    if (o->encoding == OBJ_ENC_LISTPACK_EMB) return 0; /* counted with the object */
    if (IS_PACK(o)) return cb_usable(o->ptr);
    size_t n = dict_mem_overhead(o->ptr);
    dict_iter it;
    dict_iter_init(&it, (dict *)o->ptr, 0);
    dict_entry *e;
    while ((e = dict_iter_next(&it)) != NULL)
        n += cbstr_alloc_size(e->key) + cbstr_alloc_size(e->v.val);
    dict_iter_release(&it);
    return n;
}

void hash_foreach(const cb_obj *o, hash_visit_fn fn, void *priv)
{
    hash_iter it;
    hash_iter_init(&it, o);
    while (hash_iter_next(&it)) fn(priv, it.f, it.fl, it.v, it.vl);
    hash_iter_release(&it);
}

/* ------------------------------------------------------------------------
 * Command helpers
 * ---------------------------------------------------------------------- */

/* Reads key arg 1. Returns 0 with *out (NULL when missing), or -1 after
 * replying WRONGTYPE. */
static int lookup_read(cb_client *c, cb_obj **out)
{
    cb_obj *o = db_lookup_read(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), 0);
    if (o && o->type != OBJ_HASH) {
        reply_error(c, ERR_WRONGTYPE);
        return -1;
    }
    *out = o;
    return 0;
}

/* The hash at key arg 1, created empty (and added) when missing; NULL after
 * replying WRONGTYPE. */
static cb_obj *lookup_write_or_create(cb_client *c)
{
    cb_obj *o = db_lookup_write(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
    if (o) {
        if (o->type != OBJ_HASH) {
            reply_error(c, ERR_WRONGTYPE);
            return NULL;
        }
        return o;
    }
    o = hash_new();
    db_add(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), o);
    return o;
}

/* After a write: a compact hash goes back into one block with its object
 * and the keyspace entry points at that (the old object is freed, so no
 * caller may use it after key_changed). */
static void hash_settle(cb_client *c)
{
    dict_entry *e = dict_find(c->db->keys, ARGP(c, 1), ARGL(c, 1));
    if (e && e->v.val) e->v.val = hash_embed(e->v.val);
}

/* Signals key 1 and raises the hash event `event`. */
static void key_changed(cb_client *c, uint64_t dirty, const char *event)
{
    hash_settle(c);
    db_signal_modified(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
    NOTIFY_ARG(c, NOTIFY_HASH, event, 1);
    c->shard->dirty += dirty;
}

static void wrong_arity(cb_client *c, const char *name)
{
    reply_errorf(c, "wrong number of arguments for '%s' command", name);
}

/* ------------------------------------------------------------------------
 * HSET HMSET HSETNX HGET HMGET HEXISTS HLEN HSTRLEN
 * ---------------------------------------------------------------------- */

/* Shared by HSET and HMSET; returns the number of new fields or -1. */
static long hset_pairs(cb_client *c, const char *name)
{
    if (c->argc % 2 == 1) {
        wrong_arity(c, name);
        return -1;
    }
    cb_obj *o = lookup_write_or_create(c);
    if (!o) return -1;
    for (int i = 2; i < c->argc; i++) hash_fit_lengths(c->shard, o, ARGL(c, i), 0);
    long created = 0;
    for (int i = 2; i < c->argc; i += 2)
        created += hash_set(c->shard, o, ARGP(c, i), ARGL(c, i), ARGP(c, i + 1),
                            ARGL(c, i + 1));
    key_changed(c, (uint64_t)(c->argc - 2) / 2, "hset");
    return created;
}

void cmd_hset(cb_client *c)
{
    long n = hset_pairs(c, "hset");
    if (n >= 0) reply_int(c, n);
}

void cmd_hmset(cb_client *c)
{
    if (hset_pairs(c, "hmset") >= 0) reply_ok(c);
}

void cmd_hsetnx(cb_client *c)
{
    cb_obj *o = lookup_write_or_create(c);
    if (!o) return;
    char buf[PP_INTBUF];
    const char *v;
    size_t vl;
    if (hash_get(o, ARGP(c, 2), ARGL(c, 2), buf, &v, &vl)) {
        reply_int(c, 0);
        return;
    }
    hash_set(c->shard, o, ARGP(c, 2), ARGL(c, 2), ARGP(c, 3), ARGL(c, 3));
    key_changed(c, 1, "hset");
    reply_int(c, 1);
}

void cmd_hget(cb_client *c)
{
    cb_obj *o;
    if (lookup_read(c, &o)) return;
    char buf[PP_INTBUF];
    const char *v;
    size_t vl;
    if (o && hash_get(o, ARGP(c, 2), ARGL(c, 2), buf, &v, &vl))
        reply_bulk(c, v, vl);
    else
        reply_null(c);
}

void cmd_hmget(cb_client *c)
{
    cb_obj *o;
    if (lookup_read(c, &o)) return;
    reply_array_len(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        char buf[PP_INTBUF];
        const char *v;
        size_t vl;
        if (o && hash_get(o, ARGP(c, i), ARGL(c, i), buf, &v, &vl))
            reply_bulk(c, v, vl);
        else
            reply_null(c);
    }
}

void cmd_hexists(cb_client *c)
{
    cb_obj *o;
    if (lookup_read(c, &o)) return;
    char buf[PP_INTBUF];
    const char *v;
    size_t vl;
    reply_int(c, o && hash_get(o, ARGP(c, 2), ARGL(c, 2), buf, &v, &vl));
}

void cmd_hlen(cb_client *c)
{
    cb_obj *o;
    if (lookup_read(c, &o)) return;
    reply_int(c, o ? (long long)hash_length(o) : 0);
}

void cmd_hstrlen(cb_client *c)
{
    cb_obj *o;
    if (lookup_read(c, &o)) return;
    char buf[PP_INTBUF];
    const char *v;
    size_t vl;
    if (o && hash_get(o, ARGP(c, 2), ARGL(c, 2), buf, &v, &vl))
        reply_int(c, (long long)vl);
    else
        reply_int(c, 0);
}

/* ------------------------------------------------------------------------
 * HDEL
 * ---------------------------------------------------------------------- */

void cmd_hdel(cb_client *c)
{
    cb_obj *o = db_lookup_write(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
    if (!o) {
        reply_int(c, 0);
        return;
    }
    if (o->type != OBJ_HASH) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    long deleted = 0;
    int removed = 0;
    for (int i = 2; i < c->argc; i++) {
        deleted += hash_del(o, ARGP(c, i), ARGL(c, i));
        if (hash_length(o) == 0) {
            db_delete(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
            removed = 1;
            break;
        }
    }
    if (deleted) key_changed(c, (uint64_t)deleted, "hdel");
    if (removed) NOTIFY_ARG(c, NOTIFY_GENERIC, "del", 1);
    reply_int(c, deleted);
}

/* ------------------------------------------------------------------------
 * HGETALL HKEYS HVALS
 * ---------------------------------------------------------------------- */

enum { WANT_FIELDS = 1, WANT_VALUES = 2 };

static void hash_reply_all(cb_client *c, int want)
{
    cb_obj *o;
    if (lookup_read(c, &o)) return;
    if (!o) {
        if (want == (WANT_FIELDS | WANT_VALUES)) reply_map_len(c, 0);
        else reply_empty_array(c);
        return;
    }
    long n = (long)hash_length(o);
    if (want == (WANT_FIELDS | WANT_VALUES)) reply_map_len(c, n);
    else reply_array_len(c, n);
    hash_iter it;
    hash_iter_init(&it, o);
    while (hash_iter_next(&it)) {
        if (want & WANT_FIELDS) reply_bulk(c, it.f, it.fl);
        if (want & WANT_VALUES) reply_bulk(c, it.v, it.vl);
    }
    hash_iter_release(&it);
}

void cmd_hgetall(cb_client *c) { hash_reply_all(c, WANT_FIELDS | WANT_VALUES); }
void cmd_hkeys(cb_client *c) { hash_reply_all(c, WANT_FIELDS); }
void cmd_hvals(cb_client *c) { hash_reply_all(c, WANT_VALUES); }

/* ------------------------------------------------------------------------
 * HINCRBY HINCRBYFLOAT
 * ---------------------------------------------------------------------- */

void cmd_hincrby(cb_client *c)
{
    long long incr, cur = 0;
    if (arg_ll(c, 3, &incr, NULL)) return;
    cb_obj *o = lookup_write_or_create(c);
    if (!o) return;
    char buf[PP_INTBUF];
    const char *v;
    size_t vl;
    if (hash_get(o, ARGP(c, 2), ARGL(c, 2), buf, &v, &vl) &&
        !util_str2ll(v, vl, &cur)) {
        reply_error(c, ERR_HASH_NOT_INT);
        return;
    }
    if ((incr < 0 && cur < 0 && incr < LLONG_MIN - cur) ||
        (incr > 0 && cur > 0 && incr > LLONG_MAX - cur)) {
        reply_error(c, "increment or decrement would overflow");
        return;
    }
    cur += incr;
    char out[CB_LL2STR_MAX];
    size_t ol = util_ll2str(out, sizeof out, cur);
    hash_set(c->shard, o, ARGP(c, 2), ARGL(c, 2), out, ol);
    key_changed(c, 1, "hincrby");
    reply_int(c, cur);
}

void cmd_hincrbyfloat(cb_client *c)
{
    long double incr, cur = 0;
    if (arg_long_double(c, 3, &incr, NULL)) return;
    if (isnan(incr) || isinf(incr)) {
        reply_error(c, "value is NaN or Infinity");
        return;
    }
    cb_obj *o = lookup_write_or_create(c);
    if (!o) return;
    char buf[PP_INTBUF];
    const char *v;
    size_t vl;
    if (hash_get(o, ARGP(c, 2), ARGL(c, 2), buf, &v, &vl) &&
        !util_str2ld(v, vl, &cur)) {
        reply_error(c, ERR_HASH_NOT_FLOAT);
        return;
    }
    cur += incr;
    if (isnan(cur) || isinf(cur)) {
        reply_error(c, "increment would produce NaN or Infinity");
        return;
    }
    char *out = cb_malloc(CB_LD2STR_MAX);
    size_t ol = util_ld2str_human(out, CB_LD2STR_MAX, cur);
    hash_set(c->shard, o, ARGP(c, 2), ARGL(c, 2), out, ol);
    key_changed(c, 1, "hincrbyfloat");
    reply_bulk(c, out, ol);
    cb_free(out);
}

/* ------------------------------------------------------------------------
 * HRANDFIELD
 * ---------------------------------------------------------------------- */

static uint64_t rnd(cb_client *c, uint64_t n)
{
    return util_rand64(&c->shard->rng) % n;
}

static void reply_pair(cb_client *c, const char *f, size_t fl, const char *v,
                       size_t vl, int withvalues)
{
    if (withvalues && c->resp > 2) reply_array_len(c, 2);
    reply_bulk(c, f, fl);
    if (withvalues) reply_bulk(c, v, vl);
}

/* Offsets of every field of a compact hash (n of them). */
static size_t *pack_field_offsets(const unsigned char *pp, size_t n)
{
    size_t *offs = cb_malloc((n ? n : 1) * sizeof(size_t));
    size_t off = pp_first(pp);
    for (size_t i = 0; i < n; i++) {
        offs[i] = off;
        off = pp_next(pp, pp_next(pp, off));
    }
    return offs;
}

static void reply_pack_pair(cb_client *c, const unsigned char *pp, size_t off,
                            int withvalues)
{
    char fb[PP_INTBUF], vb[PP_INTBUF];
    size_t fl, vl = 0;
    const char *f = pp_str(pp, off, fb, &fl);
    const char *v = withvalues ? pp_str(pp, pp_next(pp, off), vb, &vl) : NULL;
    reply_pair(c, f, fl, v, vl, withvalues);
}

static void reply_entry_pair(cb_client *c, const dict_entry *e, int withvalues)
{
    reply_pair(c, e->key, cbstr_len(e->key), e->v.val,
               withvalues ? cbstr_len(e->v.val) : 0, withvalues);
}

/* count distinct fields, each chosen with equal chance: selection sampling
 * over the iteration order (Knuth's algorithm S). */
static void randfield_select(cb_client *c, const cb_obj *o, size_t count,
                             int withvalues)
{
    size_t size = hash_length(o), left = count;
    hash_iter it;
    hash_iter_init(&it, o);
    for (size_t seen = 0; left && hash_iter_next(&it); seen++) {
        if (rnd(c, size - seen) >= left) continue;
        reply_pair(c, it.f, it.fl, it.v, it.vl, withvalues);
        left--;
    }
    hash_iter_release(&it);
}

/* count distinct fields of a big hashtable by random picks, remembering
 * those already given in a scratch dict (count is small next to the size). */
static void randfield_pick(cb_client *c, cb_obj *o, size_t count, int withvalues)
{
    dict *seen = dict_create(&hash_dict_type, NULL, c->shard->seed);
    while (dict_size(seen) < count) {
        dict_entry *e = dict_random(o->ptr, &c->shard->rng);
        if (dict_find(seen, e->key, cbstr_len(e->key))) continue;
        dict_add_raw(seen, cbstr_new(e->key, cbstr_len(e->key)), NULL);
        reply_entry_pair(c, e, withvalues);
    }
    ht_free(seen);
}

static void randfield_count(cb_client *c)
{
    long long l;
    if (!util_str2ll(ARGP(c, 2), ARGL(c, 2), &l)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    if (l < -LLONG_MAX) {
        reply_error(c, "value is out of range, value must between "
                       "-9223372036854775807 and 9223372036854775807");
        return;
    }
    int withvalues = 0;
    if (c->argc == 4 && arg_eq(c, 3, "withvalues")) {
        withvalues = 1;
    } else if (c->argc >= 4) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    /* The reply length doubles with values; Redis refuses what would wrap. */
    if (withvalues && (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2)) {
        reply_error(c, "value is out of range");
        return;
    }
    cb_obj *o;
    if (lookup_read(c, &o)) return;
    if (!o || l == 0) {
        reply_empty_array(c);
        return;
    }
    size_t size = hash_length(o);
    int flat = withvalues && c->resp == 2;

    if (l < 0) {
        /* Repeats allowed: every pick is independent. */
        unsigned long long count = (unsigned long long)-l;
        reply_array_len(c, (long)(flat ? count * 2 : count));
        if (IS_PACK(o)) {
            size_t *offs = pack_field_offsets(hpp(o), size);
            for (unsigned long long i = 0; i < count; i++)
                reply_pack_pair(c, hpp(o), offs[rnd(c, size)], withvalues);
            cb_free(offs);
        } else {
            for (unsigned long long i = 0; i < count; i++)
                reply_entry_pair(c, dict_random(o->ptr, &c->shard->rng), withvalues);
        }
        return;
    }

    size_t count = (unsigned long long)l >= size ? size : (size_t)l;
    reply_array_len(c, (long)(flat ? count * 2 : count));
    if (count == size) {
        /* The whole hash, in its own order. */
        hash_iter it;
        hash_iter_init(&it, o);
        while (hash_iter_next(&it)) reply_pair(c, it.f, it.fl, it.v, it.vl, withvalues);
        hash_iter_release(&it);
    } else if (IS_PACK(o) || count * 3 > size) {
        randfield_select(c, o, count, withvalues);
    } else {
        randfield_pick(c, o, count, withvalues);
    }
}

void cmd_hrandfield(cb_client *c)
{
    if (c->argc >= 3) {
        randfield_count(c);
        return;
    }
    cb_obj *o;
    if (lookup_read(c, &o)) return;
    if (!o) {
        reply_null(c);
        return;
    }
    if (IS_PACK(o)) {
        const unsigned char *pp = hpp(o);
        char fb[PP_INTBUF];
        size_t fl;
        size_t off = pp_seek(pp, 2 * rnd(c, hash_length(o)));
        const char *f = pp_str(pp, off, fb, &fl);
        reply_bulk(c, f, fl);
    } else {
        dict_entry *e = dict_random(o->ptr, &c->shard->rng);
        reply_bulk(c, e->key, cbstr_len(e->key));
    }
}

/* ------------------------------------------------------------------------
 * HSCAN
 * ---------------------------------------------------------------------- */

/* Redis reads the cursor with strtoul: a sign and leading zeros pass,
 * leading space, trailing junk and overflow do not. 0 ok, -1 replied. */
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

/* Pairs one HSCAN call collected: fields at even, values at odd indexes. */
typedef struct scan_out {
    cbstr *items;
    size_t n, cap;
} scan_out;

static void scan_push(scan_out *s, const char *p, size_t len)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->items = cb_realloc(s->items, s->cap * sizeof(cbstr));
    }
    s->items[s->n++] = cbstr_new(p, len);
}

static void scan_collect(void *priv, const dict_entry *e)
{
    scan_out *s = priv;
    scan_push(s, e->key, cbstr_len(e->key));
    scan_push(s, e->v.val, cbstr_len(e->v.val));
}

void cmd_hscan(cb_client *c)
{
    uint64_t cursor;
    if (parse_cursor(c, 2, &cursor)) return;
    cb_obj *o;
    if (lookup_read(c, &o)) return;
    if (!o) {
        reply_array_len(c, 2);
        reply_bulk(c, "0", 1);
        reply_empty_array(c);
        return;
    }
    long count = 10;
    const char *pat = NULL;
    size_t patlen = 0;
    for (int i = 3; i < c->argc;) {
        int left = c->argc - i;
        if (arg_eq(c, i, "count") && left >= 2) {
            long long v;
            if (arg_ll(c, i + 1, &v, NULL)) return;
            if (v < 1) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
            count = v > LONG_MAX ? LONG_MAX : (long)v;
            i += 2;
        } else if (arg_eq(c, i, "match") && left >= 2) {
            pat = ARGP(c, i + 1);
            patlen = ARGL(c, i + 1);
            if (patlen == 1 && pat[0] == '*') pat = NULL;
            i += 2;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }

    scan_out out = { 0 };
    uint64_t next = 0;
    if (IS_PACK(o)) {
        /* Compact hashes answer in one call, whatever the cursor. */
        hash_iter it;
        hash_iter_init(&it, o);
        while (hash_iter_next(&it)) {
            scan_push(&out, it.f, it.fl);
            scan_push(&out, it.v, it.vl);
        }
        hash_iter_release(&it);
    } else {
        /* Redis counts fields and values against COUNT, and gives up after
         * COUNT*10 buckets. */
        unsigned long long budget = (unsigned long long)count * 10;
        next = cursor;
        do {
            next = dict_scan(o->ptr, next, scan_collect, &out);
        } while (next && budget-- && out.n < (size_t)count);
    }

    size_t kept = 0;
    for (size_t j = 0; j < out.n; j += 2) {
        cbstr f = out.items[j], v = out.items[j + 1];
        if (pat && !util_globmatch(pat, patlen, f, cbstr_len(f), 0)) {
            cbstr_free(f);
            cbstr_free(v);
            continue;
        }
        out.items[kept++] = f;
        out.items[kept++] = v;
    }
    reply_array_len(c, 2);
    reply_bulk_ll(c, (long long)next);
    reply_array_len(c, (long)kept);
    for (size_t j = 0; j < kept; j++) {
        reply_bulk(c, out.items[j], cbstr_len(out.items[j]));
        cbstr_free(out.items[j]);
    }
    cb_free(out.items);
}

/* ------------------------------------------------------------------------
 * Load builders (t_hash.h)
 * ---------------------------------------------------------------------- */

cb_obj *hash_new_for_load(void) { return hash_new(); }

int hash_load_set(cb_shard *s, cb_obj *o, const char *f, size_t fl, const char *v, size_t vl)
{
    char buf[PP_INTBUF];
    const char *old;
    size_t ol;
    if (hash_get(o, f, fl, buf, &old, &ol)) return 0;
    return hash_set(s, o, f, fl, v, vl);
}
