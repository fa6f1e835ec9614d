/* t_stream_cg.c — stream consumer groups: XGROUP CREATE / SETID / DESTROY /
 * CREATECONSUMER / DELCONSUMER and XINFO GROUPS / CONSUMERS, with Redis
 * 7.0's entries-read and lag rules. Groups are kept sorted by name (the
 * order Redis's radix tree lists them in), consumers likewise. A group's
 * pending entries list (PEL) and each consumer's are sorted arrays of the
 * same nack records. Also XREADGROUP (with BLOCK), XACK, XPENDING, XCLAIM,
 * XAUTOCLAIM and the XGROUP / XINFO HELP texts. Design: docs/streams.md.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "ds/stream.h"
#include "t_stream.h"
#include "stream_cg.h"
#include "../dataplane/blocking.h"
#include "../dataplane/client.h"
#include "../dataplane/propagate.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"

#define ENTRIES_READ_INVALID STREAM_CG_ENTRIES_READ_INVALID

static int name_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c) return c;
    return al < bl ? -1 : al > bl;
}

/* Index of name in a sorted array of named things, or -(insertion point)-1. */
#define FIND_SORTED(arr, n, key, kl, out)                                          \
    do {                                                                           \
        long lo_ = 0, hi_ = (long)(n) - 1;                                         \
        (out) = -1;                                                                \
        while (lo_ <= hi_) {                                                       \
            long mid_ = (lo_ + hi_) / 2;                                           \
            int c_ = name_cmp((arr)[mid_]->name, cbstr_len((arr)[mid_]->name),     \
                              (key), (kl));                                        \
            if (c_ == 0) {                                                         \
                (out) = mid_;                                                      \
                break;                                                             \
            }                                                                      \
            if (c_ < 0) lo_ = mid_ + 1;                                            \
            else hi_ = mid_ - 1;                                                   \
        }                                                                          \
        if ((out) < 0) (out) = -lo_ - 1;                                           \
    } while (0)

/* Index of id in pel, or -(insertion point)-1. */
static long pel_find(const cg_pel *p, const stream_id *id)
{
    long lo = 0, hi = (long)p->n - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        int c = stream_id_cmp(&p->v[mid]->id, id);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -lo - 1;
}

static void pel_insert_at(cg_pel *p, long pos, cg_nack *nk)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->v = cb_realloc(p->v, p->cap * sizeof(*p->v));
    }
    memmove(p->v + pos + 1, p->v + pos, (p->n - (size_t)pos) * sizeof(*p->v));
    p->v[pos] = nk;
    p->n++;
}

static void pel_remove(cg_pel *p, const stream_id *id)
{
    long i = pel_find(p, id);
    if (i < 0) return;
    memmove(p->v + i, p->v + i + 1, (p->n - (size_t)i - 1) * sizeof(*p->v));
    p->n--;
}

static void consumer_free(cg_consumer *cn)
{
    cb_free(cn->pel.v);
    cbstr_free(cn->name);
    cb_free(cn);
}

static void group_free(cg_group *g)
{
    for (size_t i = 0; i < g->pel.n; i++) cb_free(g->pel.v[i]);
    cb_free(g->pel.v);
    for (size_t i = 0; i < g->ncons; i++) consumer_free(g->cons[i]);
    cb_free(g->cons);
    cbstr_free(g->name);
    cb_free(g);
}

void stream_cg_free(void *cgs)
{
    cg_set *set = cgs;
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) group_free(set->g[i]);
    cb_free(set->g);
    cb_free(set);
}

void *stream_cg_dup(const void *cgs)
{
    const cg_set *set = cgs;
    if (!set) return NULL;
    cg_set *d = cb_calloc(sizeof(*d));
    d->cap = d->n = set->n;
    d->g = cb_malloc((set->n ? set->n : 1) * sizeof(*d->g));
    for (size_t i = 0; i < set->n; i++) {
        const cg_group *g = set->g[i];
        cg_group *ng = cb_malloc(sizeof(*ng));
        *ng = *g;
        ng->name = cbstr_dup(g->name);
        ng->ccap = g->ncons;
        ng->cons = cb_malloc((g->ncons ? g->ncons : 1) * sizeof(*ng->cons));
        for (size_t j = 0; j < g->ncons; j++) {
            cg_consumer *cn = cb_malloc(sizeof(*cn));
            *cn = *g->cons[j];
            cn->name = cbstr_dup(g->cons[j]->name);
            cn->pel.cap = cn->pel.n;
            cn->pel.v = cb_malloc((cn->pel.n ? cn->pel.n : 1) * sizeof(*cn->pel.v));
            cn->pel.n = 0;
            ng->cons[j] = cn;
        }
        ng->pel.cap = g->pel.n;
        ng->pel.v = cb_malloc((g->pel.n ? g->pel.n : 1) * sizeof(*ng->pel.v));
        for (size_t j = 0; j < g->pel.n; j++) {
            cg_nack *nk = cb_malloc(sizeof(*nk));
            *nk = *g->pel.v[j];
            long ci;
            FIND_SORTED(ng->cons, ng->ncons, g->pel.v[j]->owner->name,
                        cbstr_len(g->pel.v[j]->owner->name), ci);
            nk->owner = ng->cons[ci];
            ng->pel.v[j] = nk;
            nk->owner->pel.v[nk->owner->pel.n++] = nk;
        }
        d->g[i] = ng;
    }
    return d;
}

size_t stream_cg_count(const void *cgs)
{
    const cg_set *set = cgs;
    return set ? set->n : 0;
}

void stream_cg_visit(const void *cgs, const stream_cg_visitor *v, void *priv)
{
    const cg_set *set = cgs;
    for (size_t i = 0; set && i < set->n; i++) {
        const cg_group *g = set->g[i];
        v->group(priv, g->name, cbstr_len(g->name), &g->last_id, g->entries_read);
        for (size_t j = 0; j < g->ncons; j++) {
            const cg_consumer *cn = g->cons[j];
            v->consumer(priv, cn->name, cbstr_len(cn->name), cn->pel.n);
            for (size_t k = 0; k < cn->pel.n; k++)
                v->pending(priv, &cn->pel.v[k]->id, cn->pel.v[k]->delivery_time,
                           cn->pel.v[k]->delivery_count);
        }
    }
}

static cg_group *group_lookup(const stream *s, const char *name, size_t len)
{
    cg_set *set = s->cgroups;
    if (!set) return NULL;
    long i;
    FIND_SORTED(set->g, set->n, name, len, i);
    return i >= 0 ? set->g[i] : NULL;
}

/* ------------------------------------------------------------------------
 * entries-read and lag (Redis 7.0's estimates)
 * ---------------------------------------------------------------------- */

static int id_is_zero(const stream_id *id) { return id->ms == 0 && id->seq == 0; }

/* A tombstone at or after start (the stream's max deleted ID is in range). */
static int range_has_tombstones(const stream *s, const stream_id *start)
{
    if (!s->length || id_is_zero(&s->max_deleted)) return 0;
    if (stream_id_cmp(&s->first_id, &s->max_deleted) > 0) return 0;
    return stream_id_cmp(start, &s->max_deleted) <= 0;
}

static long long distance_from_first(const stream *s, const stream_id *id)
{
    if (!s->entries_added) return 0;
    if (!s->length && stream_id_cmp(id, &s->last_id) < 1) return (long long)s->entries_added;
    int cl = stream_id_cmp(id, &s->last_id);
    if (cl == 0) return (long long)s->entries_added;
    if (cl > 0) return ENTRIES_READ_INVALID;
    int cf = stream_id_cmp(id, &s->first_id);
    if (id_is_zero(&s->max_deleted) || stream_id_cmp(&s->max_deleted, &s->first_id) < 0) {
        if (cf < 0) return (long long)(s->entries_added - s->length);
        if (cf == 0) return (long long)(s->entries_added - s->length + 1);
    }
    return ENTRIES_READ_INVALID;
}

static void reply_lag(cb_client *c, const stream *s, const cg_group *g)
{
    if (!s->entries_added) {
        reply_int(c, 0);
        return;
    }
    if (g->entries_read != ENTRIES_READ_INVALID && !range_has_tombstones(s, &g->last_id)) {
        reply_int(c, (long long)s->entries_added - g->entries_read);
        return;
    }
    long long er = distance_from_first(s, &g->last_id);
    if (er != ENTRIES_READ_INVALID) reply_int(c, (long long)s->entries_added - er);
    else reply_null(c);
}

/* ------------------------------------------------------------------------
 * XGROUP
 * ---------------------------------------------------------------------- */

static void subcommand_error(cb_client *c)
{
    reply_errorf(c, "unknown subcommand or wrong number of arguments for '%.*s'. "
                    "Try XGROUP HELP.", (int)ARGL(c, 1), ARGP(c, 1));
}

/* Shared start of the subcommands: the key (and group, when must_group).
 * Returns 0 after an error reply. */
static int xgroup_lookup(cb_client *c, int mkstream, int must_group, cb_obj **o,
                         cg_group **g)
{
    *o = db_lookup_write(c->shard, c->db, ARGP(c, 2), ARGL(c, 2));
    *g = NULL;
    if (*o && (*o)->type != OBJ_STREAM) {
        reply_error(c, ERR_WRONGTYPE);
        return 0;
    }
    if (*o) *g = group_lookup((*o)->ptr, ARGP(c, 3), ARGL(c, 3));
    if (!*g && must_group && *o) {
        reply_errorf(c, "-NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                     (int)ARGL(c, 3), ARGP(c, 3), (int)ARGL(c, 2), ARGP(c, 2));
        return 0;
    }
    if (!*o && !mkstream) {
        reply_error(c, "The XGROUP subcommand requires the key to exist. Note that for "
                       "CREATE you may want to use the MKSTREAM option to create an empty "
                       "stream automatically.");
        return 0;
    }
    return 1;
}

static int parse_entries_read(cb_client *c, int i, long long *er)
{
    if (arg_ll(c, i, er, NULL) != 0) return -1;
    if (*er < 0 && *er != ENTRIES_READ_INVALID) {
        reply_error(c, "value for ENTRIESREAD must be positive or -1");
        return -1;
    }
    return 0;
}

/* The group start ID: "$" is the stream's last ID. */
static int group_id_arg(cb_client *c, int i, const stream *s, stream_id *id)
{
    if (ARGL(c, i) == 1 && ARGP(c, i)[0] == '$') {
        if (s) *id = s->last_id;
        else id->ms = id->seq = 0;
        return 0;
    }
    return stream_parse_strict_id(c, i, id);
}

void cmd_xgroup_create(cb_client *c)
{
    int mkstream = 0;
    long long er = ENTRIES_READ_INVALID;
    for (int i = 5; i < c->argc;) {
        if (arg_eq(c, i, "mkstream")) {
            mkstream = 1;
            i++;
        } else if (arg_eq(c, i, "entriesread") && i + 1 < c->argc) {
            if (parse_entries_read(c, i + 1, &er) != 0) return;
            i += 2;
        } else {
            subcommand_error(c);
            return;
        }
    }
    cb_obj *o;
    cg_group *g;
    if (!xgroup_lookup(c, mkstream, 0, &o, &g)) return;
    if (c->argc > 8) {
        subcommand_error(c);
        return;
    }
    stream_id id;
    if (group_id_arg(c, 4, o ? o->ptr : NULL, &id) != 0) return;
    if (!o) {
        o = stream_obj_create();
        db_add(c->shard, c->db, ARGP(c, 2), ARGL(c, 2), o);
        db_signal_modified(c->shard, c->db, ARGP(c, 2), ARGL(c, 2));
    }
    stream *s = o->ptr;
    if (g) {
        reply_error(c, "-BUSYGROUP Consumer Group name already exists");
        return;
    }
    cg_set *set = s->cgroups;
    if (!set) set = s->cgroups = cb_calloc(sizeof(*set));
    long pos;
    FIND_SORTED(set->g, set->n, ARGP(c, 3), ARGL(c, 3), pos);
    pos = -pos - 1;
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 4;
        set->g = cb_realloc(set->g, set->cap * sizeof(*set->g));
    }
    memmove(set->g + pos + 1, set->g + pos, (set->n - (size_t)pos) * sizeof(*set->g));
    g = cb_calloc(sizeof(*g));
    g->name = cbstr_new(ARGP(c, 3), ARGL(c, 3));
    g->last_id = id;
    g->entries_read = er;
    set->g[pos] = g;
    set->n++;
    c->shard->dirty++;
    NOTIFY_ARG(c, NOTIFY_STREAM, "xgroup-create", 2);
    reply_ok(c);
}

void cmd_xgroup_setid(cb_client *c)
{
    long long er = ENTRIES_READ_INVALID;
    if (c->argc == 7) {
        if (!arg_eq(c, 5, "entriesread")) {
            subcommand_error(c);
            return;
        }
        if (parse_entries_read(c, 6, &er) != 0) return;
    } else if (c->argc > 5) {
        subcommand_error(c);
        return;
    }
    cb_obj *o;
    cg_group *g;
    if (!xgroup_lookup(c, 0, 1, &o, &g)) return;
    stream_id id;
    if (group_id_arg(c, 4, o->ptr, &id) != 0) return;
    g->last_id = id;
    g->entries_read = er;
    c->shard->dirty++;
    NOTIFY_ARG(c, NOTIFY_STREAM, "xgroup-setid", 2);
    reply_ok(c);
}

void cmd_xgroup_destroy(cb_client *c)
{
    cb_obj *o;
    cg_group *g;
    if (!xgroup_lookup(c, 0, 0, &o, &g)) return;
    if (!g) {
        reply_int(c, 0);
        return;
    }
    cg_set *set = ((stream *)o->ptr)->cgroups;
    size_t i = 0;
    while (set->g[i] != g) i++;
    memmove(set->g + i, set->g + i + 1, (set->n - i - 1) * sizeof(*set->g));
    set->n--;
    group_free(g);
    c->shard->dirty++;
    NOTIFY_ARG(c, NOTIFY_STREAM, "xgroup-destroy", 2);
    /* Readers blocked on the group must learn it is gone; like Redis, a
     * WATCH on the key is not touched. */
    blocking_key_touched(c->db, ARGP(c, 2), ARGL(c, 2));
    reply_int(c, 1);
}

/* The consumer named (p, len), created when missing (*created = 1; the
 * stream at key argument ki gets "xgroup-createconsumer"). */
static cg_consumer *consumer_get(cb_client *c, cg_group *g, const char *p, size_t len,
                                 int create, int *created, int ki)
{
    long pos;
    FIND_SORTED(g->cons, g->ncons, p, len, pos);
    if (created) *created = 0;
    if (pos >= 0) return g->cons[pos];
    if (!create) return NULL;
    pos = -pos - 1;
    if (g->ncons == g->ccap) {
        g->ccap = g->ccap ? g->ccap * 2 : 4;
        g->cons = cb_realloc(g->cons, g->ccap * sizeof(*g->cons));
    }
    memmove(g->cons + pos + 1, g->cons + pos, (g->ncons - (size_t)pos) * sizeof(*g->cons));
    cg_consumer *cn = cb_calloc(sizeof(*cn));
    cn->name = cbstr_new(p, len);
    cn->seen_time = c->shard->now_ms;
    g->cons[pos] = cn;
    g->ncons++;
    if (created) *created = 1;
    cb_shard *s = client_key_shard(c, ARGP(c, ki), ARGL(c, ki));
    notify_keyspace_event(s, client_shard_db(c, s), NOTIFY_STREAM, "xgroup-createconsumer",
                          ARGP(c, ki), ARGL(c, ki));
    return cn;
}

void cmd_xgroup_createconsumer(cb_client *c)
{
    cb_obj *o;
    cg_group *g;
    if (!xgroup_lookup(c, 0, 1, &o, &g)) return;
    int created;
    consumer_get(c, g, ARGP(c, 4), ARGL(c, 4), 1, &created, 2);
    if (created) c->shard->dirty++;
    reply_int(c, created);
}

void cmd_xgroup_delconsumer(cb_client *c)
{
    cb_obj *o;
    cg_group *g;
    if (!xgroup_lookup(c, 0, 1, &o, &g)) return;
    long pos;
    long long pending = 0;
    FIND_SORTED(g->cons, g->ncons, ARGP(c, 4), ARGL(c, 4), pos);
    if (pos >= 0) {
        cg_consumer *cn = g->cons[pos];
        pending = (long long)cn->pel.n;
        for (size_t i = 0; i < cn->pel.n; i++) {
            cg_nack *nk = cn->pel.v[i];
            pel_remove(&g->pel, &nk->id);
            cb_free(nk);
        }
        consumer_free(cn);
        memmove(g->cons + pos, g->cons + pos + 1, (g->ncons - (size_t)pos - 1) * sizeof(*g->cons));
        g->ncons--;
        NOTIFY_ARG(c, NOTIFY_STREAM, "xgroup-delconsumer", 2);
    }
    c->shard->dirty++;
    reply_int(c, pending);
}

/* ------------------------------------------------------------------------
 * XINFO GROUPS / CONSUMERS, and the groups part of XINFO STREAM FULL
 * ---------------------------------------------------------------------- */

static cb_obj *xinfo_lookup(cb_client *c)
{
    cb_obj *o = db_lookup_read(c->shard, c->db, ARGP(c, 2), ARGL(c, 2), 0);
    if (!o) {
        reply_error(c, ERR_NO_SUCH_KEY);
        return NULL;
    }
    if (o->type != OBJ_STREAM) {
        reply_error(c, ERR_WRONGTYPE);
        return NULL;
    }
    return o;
}

static void reply_id(cb_client *c, const stream_id *id)
{
    char buf[48];
    reply_bulk(c, buf, stream_id_fmt(id, buf));
}

void cmd_xinfo_groups(cb_client *c)
{
    cb_obj *o = xinfo_lookup(c);
    if (!o) return;
    stream *s = o->ptr;
    cg_set *set = s->cgroups;
    size_t n = set ? set->n : 0;
    reply_array_len(c, (long)n);
    for (size_t i = 0; i < n; i++) {
        cg_group *g = set->g[i];
        reply_map_len(c, 6);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, g->name, cbstr_len(g->name));
        reply_bulk_cstr(c, "consumers");
        reply_int(c, (long long)g->ncons);
        reply_bulk_cstr(c, "pending");
        reply_int(c, (long long)g->pel.n);
        reply_bulk_cstr(c, "last-delivered-id");
        reply_id(c, &g->last_id);
        reply_bulk_cstr(c, "entries-read");
        if (g->entries_read != ENTRIES_READ_INVALID) reply_int(c, g->entries_read);
        else reply_null(c);
        reply_bulk_cstr(c, "lag");
        reply_lag(c, s, g);
    }
}

void cmd_xinfo_consumers(cb_client *c)
{
    cb_obj *o = xinfo_lookup(c);
    if (!o) return;
    cg_group *g = group_lookup(o->ptr, ARGP(c, 3), ARGL(c, 3));
    if (!g) {
        reply_errorf(c, "-NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                     (int)ARGL(c, 3), ARGP(c, 3), (int)ARGL(c, 2), ARGP(c, 2));
        return;
    }
    reply_array_len(c, (long)g->ncons);
    for (size_t i = 0; i < g->ncons; i++) {
        cg_consumer *cn = g->cons[i];
        reply_map_len(c, 3);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, cn->name, cbstr_len(cn->name));
        reply_bulk_cstr(c, "pending");
        reply_int(c, (long long)cn->pel.n);
        reply_bulk_cstr(c, "idle");
        long long idle = c->shard->now_ms - cn->seen_time;
        reply_int(c, idle > 0 ? idle : 0);
    }
}

static void reply_nack_full(cb_client *c, const cg_nack *nk, int with_owner)
{
    reply_array_len(c, with_owner ? 4 : 3);
    reply_id(c, &nk->id);
    if (with_owner) reply_bulk(c, nk->owner->name, cbstr_len(nk->owner->name));
    reply_int(c, nk->delivery_time);
    reply_int(c, (long long)nk->delivery_count);
}

void stream_cg_reply_full(cb_client *c, const stream *s, long long count)
{
    cg_set *set = s->cgroups;
    size_t n = set ? set->n : 0;
    reply_array_len(c, (long)n);
    for (size_t i = 0; i < n; i++) {
        cg_group *g = set->g[i];
        reply_map_len(c, 7);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, g->name, cbstr_len(g->name));
        reply_bulk_cstr(c, "last-delivered-id");
        reply_id(c, &g->last_id);
        reply_bulk_cstr(c, "entries-read");
        if (g->entries_read != ENTRIES_READ_INVALID) reply_int(c, g->entries_read);
        else reply_null(c);
        reply_bulk_cstr(c, "lag");
        reply_lag(c, s, g);
        reply_bulk_cstr(c, "pel-count");
        reply_int(c, (long long)g->pel.n);
        reply_bulk_cstr(c, "pending");
        size_t pn = count && (size_t)count < g->pel.n ? (size_t)count : g->pel.n;
        reply_array_len(c, (long)pn);
        for (size_t j = 0; j < pn; j++) reply_nack_full(c, g->pel.v[j], 1);
        reply_bulk_cstr(c, "consumers");
        reply_array_len(c, (long)g->ncons);
        for (size_t j = 0; j < g->ncons; j++) {
            cg_consumer *cn = g->cons[j];
            reply_map_len(c, 4);
            reply_bulk_cstr(c, "name");
            reply_bulk(c, cn->name, cbstr_len(cn->name));
            reply_bulk_cstr(c, "seen-time");
            reply_int(c, cn->seen_time);
            reply_bulk_cstr(c, "pel-count");
            reply_int(c, (long long)cn->pel.n);
            reply_bulk_cstr(c, "pending");
            size_t cnn = count && (size_t)count < cn->pel.n ? (size_t)count : cn->pel.n;
            reply_array_len(c, (long)cnn);
            for (size_t k = 0; k < cnn; k++) reply_nack_full(c, cn->pel.v[k], 0);
        }
    }
}

/* ------------------------------------------------------------------------
 * XACK / XPENDING
 * ---------------------------------------------------------------------- */

void cmd_xack(cb_client *c)
{
    cb_obj *o = db_lookup_read(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), 0);
    cg_group *g = NULL;
    if (o) {
        if (o->type != OBJ_STREAM) {
            reply_error(c, ERR_WRONGTYPE);
            return;
        }
        g = group_lookup(o->ptr, ARGP(c, 2), ARGL(c, 2));
    }
    if (!g) {
        reply_int(c, 0);
        return;
    }
    size_t n = (size_t)c->argc - 3;
    stream_id *ids = cb_malloc((n ? n : 1) * sizeof(*ids));
    for (size_t j = 0; j < n; j++) {
        if (stream_parse_strict_id(c, (int)j + 3, &ids[j]) != 0) {
            cb_free(ids);
            return;
        }
    }
    long long acked = 0;
    for (size_t j = 0; j < n; j++) {
        long i = pel_find(&g->pel, &ids[j]);
        if (i < 0) continue;
        cg_nack *nk = g->pel.v[i];
        pel_remove(&g->pel, &ids[j]);
        pel_remove(&nk->owner->pel, &ids[j]);
        cb_free(nk);
        acked++;
    }
    cb_free(ids);
    c->shard->dirty += (uint64_t)acked;
    reply_int(c, acked);
}

static int parse_interval(cb_client *c, int i, uint64_t missing_seq, int end, stream_id *id)
{
    const char *p = ARGP(c, i);
    size_t l = ARGL(c, i);
    int ex = l > 1 && p[0] == '(';
    if (stream_parse_id(c, p + ex, l - (size_t)ex, missing_seq, ex, id) != 0) return -1;
    if (ex && (end ? stream_id_decr(id) : stream_id_incr(id)) != 0) {
        reply_error(c, end ? "invalid end ID for the interval"
                           : "invalid start ID for the interval");
        return -1;
    }
    return 0;
}

void cmd_xpending(cb_client *c)
{
    int justinfo = c->argc == 3;
    long long count = 0, minidle = 0;
    stream_id start = {0, 0}, end = {0, 0};
    int cons_arg = 0;
    if (c->argc != 3 && (c->argc < 6 || c->argc > 9)) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (c->argc >= 6) {
        int si = 3;
        if (arg_eq(c, 3, "idle")) {
            if (arg_ll(c, 4, &minidle, NULL) != 0) return;
            if (c->argc < 8) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
            si += 2;
        }
        if (arg_ll(c, si + 2, &count, NULL) != 0) return;
        if (count < 0) count = 0;
        if (parse_interval(c, si, 0, 0, &start) != 0) return;
        if (parse_interval(c, si + 1, UINT64_MAX, 1, &end) != 0) return;
        if (si + 3 < c->argc) cons_arg = si + 3;
    }
    cb_obj *o = db_lookup_read(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), 0);
    if (o && o->type != OBJ_STREAM) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    cg_group *g = o ? group_lookup(o->ptr, ARGP(c, 2), ARGL(c, 2)) : NULL;
    if (!g) {
        reply_errorf(c, "-NOGROUP No such key '%.*s' or consumer group '%.*s'",
                     (int)ARGL(c, 1), ARGP(c, 1), (int)ARGL(c, 2), ARGP(c, 2));
        return;
    }
    if (justinfo) {
        reply_array_len(c, 4);
        reply_int(c, (long long)g->pel.n);
        if (g->pel.n == 0) {
            reply_null(c);
            reply_null(c);
            reply_null_array(c);
            return;
        }
        reply_id(c, &g->pel.v[0]->id);
        reply_id(c, &g->pel.v[g->pel.n - 1]->id);
        long n = 0;
        for (size_t i = 0; i < g->ncons; i++) n += g->cons[i]->pel.n > 0;
        reply_array_len(c, n);
        for (size_t i = 0; i < g->ncons; i++) {
            cg_consumer *cn = g->cons[i];
            if (!cn->pel.n) continue;
            reply_array_len(c, 2);
            reply_bulk(c, cn->name, cbstr_len(cn->name));
            reply_bulk_ll(c, (long long)cn->pel.n);
        }
        return;
    }
    const cg_pel *pel = &g->pel;
    if (cons_arg) {
        cg_consumer *cn = consumer_get(c, g, ARGP(c, cons_arg), ARGL(c, cons_arg), 0, NULL, 0);
        if (!cn) {
            reply_array_len(c, 0);
            return;
        }
        pel = &cn->pel;
    }
    long long now = c->shard->now_ms;
    long i = pel_find(pel, &start);
    if (i < 0) i = -i - 1;
    void *h = reply_deferred_len(c);
    long n = 0;
    for (; count && (size_t)i < pel->n && stream_id_cmp(&pel->v[i]->id, &end) <= 0; i++) {
        cg_nack *nk = pel->v[i];
        long long idle = now - nk->delivery_time;
        if (minidle && idle < minidle) continue;
        n++;
        count--;
        reply_array_len(c, 4);
        reply_id(c, &nk->id);
        reply_bulk(c, nk->owner->name, cbstr_len(nk->owner->name));
        reply_int(c, idle < 0 ? 0 : idle);
        reply_int(c, (long long)nk->delivery_count);
    }
    reply_set_deferred_len(c, h, n, 'a');
}

/* ------------------------------------------------------------------------
 * XREADGROUP
 * ---------------------------------------------------------------------- */

/* The group's progress after delivering id (Redis 7.0's entries-read
 * bookkeeping). */
static void group_advance(const stream *s, cg_group *g, const stream_id *id)
{
    if (stream_id_cmp(id, &g->last_id) <= 0) return;
    if (g->entries_read != ENTRIES_READ_INVALID && !range_has_tombstones(s, id))
        g->entries_read++;
    else if (s->entries_added)
        g->entries_read = distance_from_first(s, id);
    g->last_id = *id;
}

/* What XREADGROUP leaves in the AOF, as Redis 7.0 writes it: an XCLAIM
 * per delivered entry (FORCE JUSTID, with the group's last ID), or with
 * NOACK the group's position (XGROUP SETID ... ENTRIESREAD) and the
 * consumer's creation. ki / gi: argv indexes of the key and GROUP's name. */
static void prop_xclaim(cb_client *c, int ki, int gi, const cg_nack *nk, const stream_id *last)
{
    char idb[48], nowb[24], cntb[24], lastb[48];
    size_t il = stream_id_fmt(&nk->id, idb), ll = stream_id_fmt(last, lastb);
    int nl = snprintf(nowb, sizeof(nowb), "%lld", nk->delivery_time);
    int cl = snprintf(cntb, sizeof(cntb), "%llu", (unsigned long long)nk->delivery_count);
    const char *cons = nk->owner ? nk->owner->name : ARGP(c, gi + 1);
    size_t consl = nk->owner ? cbstr_len(nk->owner->name) : ARGL(c, gi + 1);
    const char *v[14] = {"XCLAIM", ARGP(c, ki), ARGP(c, gi), cons, "0", idb, "TIME",
                         nowb, "RETRYCOUNT", cntb, "FORCE", "JUSTID", "LASTID", lastb};
    size_t l[14] = {6, ARGL(c, ki), ARGL(c, gi), consl, 1, il, 4, (size_t)nl, 10, (size_t)cl,
                    5, 6, 6, ll};
    prop_add(c->dbid, 14, v, l);
}

static void prop_group_position(cb_client *c, int ki, int gi, const cg_group *g, int created)
{
    if (created) {
        const char *v[5] = {"XGROUP", "CREATECONSUMER", ARGP(c, ki), ARGP(c, gi),
                            ARGP(c, gi + 1)};
        size_t l[5] = {6, 14, ARGL(c, ki), ARGL(c, gi), ARGL(c, gi + 1)};
        prop_add(c->dbid, 5, v, l);
    }
    char idb[48], erb[24];
    size_t il = stream_id_fmt(&g->last_id, idb);
    int el = snprintf(erb, sizeof(erb), "%lld", g->entries_read);
    const char *v[7] = {"XGROUP", "SETID", ARGP(c, ki), ARGP(c, gi), idb, "ENTRIESREAD", erb};
    size_t l[7] = {6, 5, ARGL(c, ki), ARGL(c, gi), il, 11, (size_t)el};
    prop_add(c->dbid, 7, v, l);
}

/* New entries after the group's last ID, recorded as pending for cn. */
static void serve_new(cb_client *c, stream *s, cg_group *g, cg_consumer *cn, long long count,
                      int noack, int ki, int grp, int created)
{
    stream_id start = g->last_id, end = {UINT64_MAX, UINT64_MAX};
    stream_id_incr(&start);
    stream_iter it;
    stream_iter_init(&it, s, &start, &end, 0);
    void *h = reply_deferred_len(c);
    long n = 0;
    long long now = c->shard->now_ms;
    while ((count == 0 || n < count) && stream_iter_next(&it)) {
        group_advance(s, g, &it.id);
        stream_reply_entry(c, &it);
        n++;
        if (noack) continue;
        long gi = pel_find(&g->pel, &it.id);
        cg_nack *nk;
        if (gi >= 0) {
            nk = g->pel.v[gi];
            pel_remove(&nk->owner->pel, &it.id);
        } else {
            nk = cb_malloc(sizeof(*nk));
            nk->id = it.id;
            pel_insert_at(&g->pel, -gi - 1, nk);
        }
        nk->owner = cn;
        nk->delivery_time = now;
        nk->delivery_count = 1;
        long ci = pel_find(&cn->pel, &it.id);
        pel_insert_at(&cn->pel, -ci - 1, nk);
        prop_xclaim(c, ki, grp, nk, &g->last_id);
    }
    stream_iter_release(&it);
    reply_set_deferred_len(c, h, n, 'a');
    if (noack && n) prop_group_position(c, ki, grp, g, created);
}

/* The consumer's own pending entries after start (deleted ones as
 * [id, nil]). */
static void serve_history(cb_client *c, stream *s, cg_consumer *cn, const stream_id *start,
                          long long count)
{
    long i = pel_find(&cn->pel, start);
    if (i < 0) i = -i - 1;
    void *h = reply_deferred_len(c);
    long n = 0;
    for (; (count == 0 || n < count) && (size_t)i < cn->pel.n; i++) {
        cg_nack *nk = cn->pel.v[i];
        stream_iter it;
        stream_iter_init(&it, s, &nk->id, &nk->id, 0);
        if (stream_iter_next(&it)) {
            stream_reply_entry(c, &it);
            nk->delivery_time = c->shard->now_ms;
            nk->delivery_count++;
        } else {
            reply_array_len(c, 2);
            reply_id(c, &nk->id);
            reply_null_array(c);
        }
        stream_iter_release(&it);
        n++;
    }
    reply_set_deferred_len(c, h, n, 'a');
}

void cmd_xreadgroup(cb_client *c)
{
    prop_suppress(c); /* its effects are the XCLAIM / XGROUP SETID records */
    xread_opts opt;
    if (stream_parse_xread_opts(c, 1, &opt) != 0) return;
    long long count = opt.count, timeout = opt.timeout;
    int sarg = opt.sarg, nstreams = opt.nstreams, garg = opt.garg, noack = opt.noack;
    if (!garg) {
        reply_error(c, "Missing GROUP option for XREADGROUP");
        return;
    }
    stream_id *ids = cb_malloc((size_t)nstreams * sizeof(*ids));
    cg_group **groups = cb_malloc((size_t)nstreams * sizeof(*groups));
    for (int k = 0; k < nstreams; k++) {
        int ki = sarg + k, ii = sarg + nstreams + k;
        cb_obj *o = stream_lookup_key(c, ki);
        if (o && o->type != OBJ_STREAM) {
            if (c->block_mode == BLOCK_MODE_SERVING) block_client(c, 0, NULL, 0);
            else reply_error(c, ERR_WRONGTYPE);
            goto done;
        }
        groups[k] = o ? group_lookup(o->ptr, ARGP(c, garg), ARGL(c, garg)) : NULL;
        if (!groups[k]) {
            if (c->block_mode == BLOCK_MODE_SERVING && !o)
                block_client(c, 0, NULL, 0);
            else if (c->block_mode == BLOCK_MODE_SERVING)
                reply_error(c, "-NOGROUP the consumer group this client was blocked on no "
                               "longer exists");
            else
                reply_errorf(c, "-NOGROUP No such key '%.*s' or consumer group '%.*s' in "
                                "XREADGROUP with GROUP option",
                             (int)ARGL(c, ki), ARGP(c, ki), (int)ARGL(c, garg), ARGP(c, garg));
            goto done;
        }
        if (ARGL(c, ii) == 1 && ARGP(c, ii)[0] == '$') {
            reply_error(c, "The $ ID is meaningless in the context of XREADGROUP: you want to "
                           "read the history of this consumer by specifying a proper ID, or "
                           "use the > ID to get new messages. The $ ID would just return an "
                           "empty result set.");
            goto done;
        }
        if (ARGL(c, ii) == 1 && ARGP(c, ii)[0] == '>') {
            ids[k].ms = ids[k].seq = UINT64_MAX;
            continue;
        }
        if (stream_parse_strict_id(c, ii, &ids[k]) != 0) goto done;
    }
    void *h = NULL;
    long served = 0;
    for (int k = 0; k < nstreams; k++) {
        int ki = sarg + k;
        cb_obj *o = stream_lookup_key(c, ki);
        stream *s = o->ptr;
        cg_group *g = groups[k];
        int history = !(ids[k].ms == UINT64_MAX && ids[k].seq == UINT64_MAX);
        if (!history) {
            stream_id top;
            if (!s->length || !stream_edge_id(s, 0, &top) || stream_id_cmp(&top, &g->last_id) <= 0)
                continue;
        }
        if (!h) h = reply_deferred_len(c);
        served++;
        if (c->resp == 2) reply_array_len(c, 2);
        reply_bulk(c, ARGP(c, ki), ARGL(c, ki));
        int created;
        cg_consumer *cn = consumer_get(c, g, ARGP(c, garg + 1), ARGL(c, garg + 1), 1, &created, ki);
        cn->seen_time = c->shard->now_ms;
        if (history) {
            stream_id start = ids[k];
            stream_id_incr(&start);
            serve_history(c, s, cn, &start, count);
        } else {
            serve_new(c, s, g, cn, count, noack, ki, garg, created);
        }
        c->shard->dirty++;
    }
    if (served) {
        reply_set_deferred_len(c, h, served, c->resp == 2 ? 'a' : 'm');
        goto done;
    }
    if (timeout >= 0) {
        int keys[nstreams > 0 ? nstreams : 1];
        for (int k = 0; k < nstreams; k++) keys[k] = sarg + k;
        long long deadline = timeout > 0 ? c->shard->now_ms + timeout : 0;
        if (block_client(c, nstreams, keys, deadline)) goto done;
    }
    reply_null_array(c);
done:
    cb_free(ids);
    cb_free(groups);
}

/* ------------------------------------------------------------------------
 * XCLAIM
 * ---------------------------------------------------------------------- */

static int entry_exists(const stream *s, const stream_id *id)
{
    stream_iter it;
    stream_iter_init(&it, s, id, id, 0);
    int found = stream_iter_next(&it);
    stream_iter_release(&it);
    return found;
}

/* Removes nk from both PELs and frees it. */
static void nack_drop(cg_group *g, cg_nack *nk)
{
    pel_remove(&g->pel, &nk->id);
    if (nk->owner) pel_remove(&nk->owner->pel, &nk->id);
    cb_free(nk);
}

/* Hands nk to cn (moving it between consumer PELs when needed). */
static void nack_assign(cg_nack *nk, cg_consumer *cn)
{
    if (nk->owner == cn) return;
    if (nk->owner) pel_remove(&nk->owner->pel, &nk->id);
    long ci = pel_find(&cn->pel, &nk->id);
    pel_insert_at(&cn->pel, -ci - 1, nk);
    nk->owner = cn;
}

void cmd_xclaim(cb_client *c)
{
    prop_suppress(c); /* its effects are XCLAIM / XGROUP SETID records */
    cb_obj *o = db_lookup_read(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), 0);
    cg_group *g = NULL;
    if (o) {
        if (o->type != OBJ_STREAM) {
            reply_error(c, ERR_WRONGTYPE);
            return;
        }
        g = group_lookup(o->ptr, ARGP(c, 2), ARGL(c, 2));
    }
    if (!g) {
        reply_errorf(c, "-NOGROUP No such key '%.*s' or consumer group '%.*s'",
                     (int)ARGL(c, 1), ARGP(c, 1), (int)ARGL(c, 2), ARGP(c, 2));
        return;
    }
    stream *s = o->ptr;
    long long minidle, retry = -1, dtime = -1;
    int force = 0, justid = 0;
    if (arg_ll(c, 4, &minidle, "Invalid min-idle-time argument for XCLAIM") != 0) return;
    if (minidle < 0) minidle = 0;
    int j;
    size_t nids = 0;
    stream_id *ids = cb_malloc((size_t)c->argc * sizeof(*ids));
    for (j = 5; j < c->argc; j++) {
        /* The IDs end where the first argument that is not an ID starts. */
        stream_id id;
        if (!stream_try_parse_strict_id(ARGP(c, j), ARGL(c, j), &id)) break;
        ids[nids++] = id;
    }
    long long now = c->shard->now_ms;
    stream_id lastid = {0, 0};
    for (; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (arg_eq(c, j, "force")) {
            force = 1;
        } else if (arg_eq(c, j, "justid")) {
            justid = 1;
        } else if (arg_eq(c, j, "idle") && more) {
            j++;
            if (arg_ll(c, j, &dtime, "Invalid IDLE option argument for XCLAIM") != 0) goto done;
            dtime = now - dtime;
        } else if (arg_eq(c, j, "time") && more) {
            j++;
            if (arg_ll(c, j, &dtime, "Invalid TIME option argument for XCLAIM") != 0) goto done;
        } else if (arg_eq(c, j, "retrycount") && more) {
            j++;
            if (arg_ll(c, j, &retry, "Invalid RETRYCOUNT option argument for XCLAIM") != 0)
                goto done;
        } else if (arg_eq(c, j, "lastid") && more) {
            j++;
            if (stream_parse_strict_id(c, j, &lastid) != 0) goto done;
        } else {
            reply_errorf(c, "Unrecognized XCLAIM option '%.*s'", (int)ARGL(c, j), ARGP(c, j));
            goto done;
        }
    }
    /* Effects: an XCLAIM per entry claimed or dropped, else the group's
     * new last ID when LASTID moved it (Redis 7.0's records). */
    int prop_last = 0;
    if (stream_id_cmp(&lastid, &g->last_id) > 0) {
        g->last_id = lastid;
        prop_last = 1;
    }
    if (dtime != -1) {
        if (dtime < 0 || dtime > now) dtime = now;
    } else {
        dtime = now;
    }
    cg_consumer *cn = NULL;
    void *h = reply_deferred_len(c);
    long n = 0;
    for (size_t k = 0; k < nids; k++) {
        stream_id *id = &ids[k];
        long gi = pel_find(&g->pel, id);
        cg_nack *nk = gi >= 0 ? g->pel.v[gi] : NULL;
        if (!entry_exists(s, id)) {
            if (nk) {
                prop_xclaim(c, 1, 2, nk, &g->last_id);
                prop_last = 0;
                nack_drop(g, nk);
                c->shard->dirty++;
            }
            continue;
        }
        if (force && !nk) {
            nk = cb_malloc(sizeof(*nk));
            nk->id = *id;
            nk->owner = NULL;
            nk->delivery_time = now;
            nk->delivery_count = 1;
            pel_insert_at(&g->pel, -gi - 1, nk);
        }
        if (!nk) continue;
        if (nk->owner && minidle && now - nk->delivery_time < minidle) continue;
        if (!cn) cn = consumer_get(c, g, ARGP(c, 3), ARGL(c, 3), 1, NULL, 1);
        nk->delivery_time = dtime;
        if (retry >= 0) nk->delivery_count = (uint64_t)retry;
        else if (!justid) nk->delivery_count++;
        nack_assign(nk, cn);
        prop_xclaim(c, 1, 2, nk, &g->last_id);
        prop_last = 0;
        if (justid) {
            reply_id(c, id);
        } else {
            stream_iter it;
            stream_iter_init(&it, s, id, id, 0);
            if (stream_iter_next(&it)) stream_reply_entry(c, &it);
            else reply_null(c);
            stream_iter_release(&it);
        }
        n++;
        c->shard->dirty++;
    }
    reply_set_deferred_len(c, h, n, 'a');
    if (prop_last) {
        prop_group_position(c, 1, 2, g, 0);
        c->shard->dirty++;
    }
done:
    cb_free(ids);
}

/* ------------------------------------------------------------------------
 * XAUTOCLAIM
 * ---------------------------------------------------------------------- */

void cmd_xautoclaim(cb_client *c)
{
    prop_suppress(c); /* its effects are XCLAIM records */
    long long minidle, count = 100;
    int justid = 0;
    stream_id start;
    /* Redis looks the key up (and checks its type) before the arguments, so
     * a miss raises "keymiss" even when a syntax error follows. */
    cb_obj *o = db_lookup_read(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), 0);
    if (o && o->type != OBJ_STREAM) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    if (arg_ll(c, 4, &minidle, "Invalid min-idle-time argument for XAUTOCLAIM") != 0) return;
    if (minidle < 0) minidle = 0;
    if (parse_interval(c, 5, 0, 0, &start) != 0) return;
    for (int j = 6; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (arg_eq(c, j, "count") && more) {
            if (arg_ll(c, j + 1, &count, "COUNT must be > 0") != 0) return;
            if (count < 1 || count > LLONG_MAX / 16) {
                reply_error(c, "COUNT must be > 0");
                return;
            }
            j++;
        } else if (arg_eq(c, j, "justid")) {
            justid = 1;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    cg_group *g = o ? group_lookup(o->ptr, ARGP(c, 2), ARGL(c, 2)) : NULL;
    if (!g) {
        reply_errorf(c, "-NOGROUP No such key '%.*s' or consumer group '%.*s'",
                     (int)ARGL(c, 1), ARGP(c, 1), (int)ARGL(c, 2), ARGP(c, 2));
        return;
    }
    stream *s = o->ptr;
    long long attempts = count * 10, now = c->shard->now_ms;
    stream_id *deleted = cb_malloc((size_t)(count < 1024 ? count : 1024) * sizeof(*deleted));
    size_t ndel = 0, delcap = (size_t)(count < 1024 ? count : 1024);
    cg_consumer *cn = NULL;
    /* Claim first, reply after: the cursor comes before the entries. */
    stream_id *claimed = cb_malloc((size_t)(count < 1024 ? count : 1024) * sizeof(*claimed));
    size_t n = 0, ccap = (size_t)(count < 1024 ? count : 1024);
    long i = pel_find(&g->pel, &start);
    if (i < 0) i = -i - 1;
    while (attempts-- && count && (size_t)i < g->pel.n) {
        cg_nack *nk = g->pel.v[i];
        stream_id id = nk->id;
        if (!entry_exists(s, &id)) {
            prop_xclaim(c, 1, 2, nk, &g->last_id);
            nack_drop(g, nk);
            c->shard->dirty++;
            if (ndel == delcap) {
                delcap *= 2;
                deleted = cb_realloc(deleted, delcap * sizeof(*deleted));
            }
            deleted[ndel++] = id;
            count--;
            continue;
        }
        if (minidle && now - nk->delivery_time < minidle) {
            i++;
            continue;
        }
        if (!cn) cn = consumer_get(c, g, ARGP(c, 3), ARGL(c, 3), 1, NULL, 1);
        nk->delivery_time = now;
        if (!justid) nk->delivery_count++;
        nack_assign(nk, cn);
        prop_xclaim(c, 1, 2, nk, &g->last_id);
        if (n == ccap) {
            ccap *= 2;
            claimed = cb_realloc(claimed, ccap * sizeof(*claimed));
        }
        claimed[n++] = id;
        count--;
        i++;
        c->shard->dirty++;
    }
    /* The cursor: the first pending entry not looked at, 0-0 at the end. */
    stream_id cur = {0, 0};
    if ((size_t)i < g->pel.n) cur = g->pel.v[i]->id;
    reply_array_len(c, 3);
    reply_id(c, &cur);
    reply_array_len(c, (long)n);
    for (size_t k = 0; k < n; k++) {
        if (justid) {
            reply_id(c, &claimed[k]);
            continue;
        }
        stream_iter it;
        stream_iter_init(&it, s, &claimed[k], &claimed[k], 0);
        if (stream_iter_next(&it)) stream_reply_entry(c, &it);
        else reply_null(c);
        stream_iter_release(&it);
    }
    cb_free(claimed);
    reply_array_len(c, (long)ndel);
    for (size_t k = 0; k < ndel; k++) reply_id(c, &deleted[k]);
    cb_free(deleted);
}

/* ------------------------------------------------------------------------
 * HELP texts (Redis 7.0's, line for line)
 * ---------------------------------------------------------------------- */

void cmd_xgroup_help(cb_client *c)
{
    const char *const lines[] = {
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, lines);
}

void cmd_xinfo_help(cb_client *c)
{
    const char *const lines[] = {
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, lines);
}

/* ------------------------------------------------------------------------
 * Builders for loaders (persist/rdb_stream.c), contracts in stream_cg.h
 * ---------------------------------------------------------------------- */

/* Where name would go in a sorted array: -1 when present, -2 when not at
 * the end. */
#define LOAD_APPEND_POS(arr, n, name, len, pos)                                    \
    do {                                                                           \
        FIND_SORTED(arr, n, name, len, pos);                                       \
        if ((pos) >= 0) return -1;                                                 \
        if ((size_t)(-(pos) - 1) != (n)) return -2;                                \
    } while (0)

int stream_cg_load_group(stream *s, const char *name, size_t len, const stream_id *last,
                         long long entries_read, cg_group **out)
{
    cg_set *set = s->cgroups;
    if (!set) set = s->cgroups = cb_calloc(sizeof(*set));
    long pos;
    LOAD_APPEND_POS(set->g, set->n, name, len, pos);
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 4;
        set->g = cb_realloc(set->g, set->cap * sizeof(*set->g));
    }
    cg_group *g = cb_calloc(sizeof(*g));
    g->name = cbstr_new(name, len);
    g->last_id = *last;
    g->entries_read = entries_read;
    set->g[set->n++] = g;
    *out = g;
    return 0;
}

/* -1 when id is p's last entry, -2 when below it. */
static int pel_append_check(const cg_pel *p, const stream_id *id)
{
    if (!p->n) return 0;
    int c = stream_id_cmp(id, &p->v[p->n - 1]->id);
    return c > 0 ? 0 : c == 0 ? -1 : -2;
}

int stream_cg_load_nack(cg_group *g, const stream_id *id, long long delivery_time,
                        uint64_t delivery_count)
{
    int rc = pel_append_check(&g->pel, id);
    if (rc == -2 && pel_find(&g->pel, id) >= 0) rc = -1;
    if (rc) return rc;
    cg_nack *nk = cb_calloc(sizeof(*nk));
    nk->id = *id;
    nk->delivery_time = delivery_time;
    nk->delivery_count = delivery_count;
    pel_insert_at(&g->pel, (long)g->pel.n, nk);
    return 0;
}

int stream_cg_load_consumer(cg_group *g, const char *name, size_t len, long long seen_time,
                            cg_consumer **out)
{
    long pos;
    LOAD_APPEND_POS(g->cons, g->ncons, name, len, pos);
    if (g->ncons == g->ccap) {
        g->ccap = g->ccap ? g->ccap * 2 : 4;
        g->cons = cb_realloc(g->cons, g->ccap * sizeof(*g->cons));
    }
    cg_consumer *cn = cb_calloc(sizeof(*cn));
    cn->name = cbstr_new(name, len);
    cn->seen_time = seen_time;
    g->cons[g->ncons++] = cn;
    *out = cn;
    return 0;
}

int stream_cg_load_claim(cg_group *g, cg_consumer *cn, const stream_id *id)
{
    long i = pel_find(&g->pel, id);
    if (i < 0) return -1;
    cg_nack *nk = g->pel.v[i];
    if (nk->owner) return -2;
    if (pel_append_check(&cn->pel, id)) return -3;
    nk->owner = cn;
    pel_insert_at(&cn->pel, (long)cn->pel.n, nk);
    return 0;
}

int stream_cg_load_check(const stream *s)
{
    const cg_set *set = s->cgroups;
    for (size_t i = 0; set && i < set->n; i++)
        for (size_t j = 0; j < set->g[i]->pel.n; j++)
            if (!set->g[i]->pel.v[j]->owner) return -1;
    return 0;
}

long long stream_cg_estimate_entries_read(const stream *s, const stream_id *id)
{
    return distance_from_first(s, id);
}
