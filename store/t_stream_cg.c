/* t_stream_cg.c — stream consumer groups: XGROUP CREATE / SETID / DESTROY /
 * CREATECONSUMER / DELCONSUMER and XINFO GROUPS / CONSUMERS, with Redis
 * 7.0's entries-read and lag rules. Groups are kept sorted by name (the
 * order Redis's radix tree lists them in), consumers likewise. Pending
 * entry lists are not implemented yet (no XREADGROUP): every PEL is empty.
 */
#include <string.h>

#include "db.h"
#include "ds/stream.h"
#include "t_stream.h"
#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"

#define ENTRIES_READ_INVALID (-1LL)

typedef struct cg_consumer {
    cbstr name;
    long long seen_time;
} cg_consumer;

typedef struct cg_group {
    cbstr name;
    stream_id last_id;
    long long entries_read;
    cg_consumer **cons;
    size_t ncons, ccap;
} cg_group;

typedef struct cg_set {
    cg_group **g;
    size_t n, cap;
} cg_set;

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

static void group_free(cg_group *g)
{
    for (size_t i = 0; i < g->ncons; i++) {
        cbstr_free(g->cons[i]->name);
        cb_free(g->cons[i]);
    }
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
            ng->cons[j] = cb_malloc(sizeof(cg_consumer));
            *ng->cons[j] = *g->cons[j];
            ng->cons[j]->name = cbstr_dup(g->cons[j]->name);
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
    reply_int(c, 1);
}

void cmd_xgroup_createconsumer(cb_client *c)
{
    cb_obj *o;
    cg_group *g;
    if (!xgroup_lookup(c, 0, 1, &o, &g)) return;
    long pos;
    FIND_SORTED(g->cons, g->ncons, ARGP(c, 4), ARGL(c, 4), pos);
    if (pos >= 0) {
        reply_int(c, 0);
        return;
    }
    pos = -pos - 1;
    if (g->ncons == g->ccap) {
        g->ccap = g->ccap ? g->ccap * 2 : 4;
        g->cons = cb_realloc(g->cons, g->ccap * sizeof(*g->cons));
    }
    memmove(g->cons + pos + 1, g->cons + pos, (g->ncons - (size_t)pos) * sizeof(*g->cons));
    cg_consumer *cn = cb_calloc(sizeof(*cn));
    cn->name = cbstr_new(ARGP(c, 4), ARGL(c, 4));
    cn->seen_time = c->shard->now_ms;
    g->cons[pos] = cn;
    g->ncons++;
    c->shard->dirty++;
    reply_int(c, 1);
}

void cmd_xgroup_delconsumer(cb_client *c)
{
    cb_obj *o;
    cg_group *g;
    if (!xgroup_lookup(c, 0, 1, &o, &g)) return;
    long pos;
    FIND_SORTED(g->cons, g->ncons, ARGP(c, 4), ARGL(c, 4), pos);
    if (pos >= 0) {
        cbstr_free(g->cons[pos]->name);
        cb_free(g->cons[pos]);
        memmove(g->cons + pos, g->cons + pos + 1, (g->ncons - (size_t)pos - 1) * sizeof(*g->cons));
        g->ncons--;
    }
    c->shard->dirty++;
    reply_int(c, 0); /* pending entries the consumer had: none without XREADGROUP */
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
        reply_int(c, 0);
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
        reply_int(c, 0);
        reply_bulk_cstr(c, "idle");
        long long idle = c->shard->now_ms - cn->seen_time;
        reply_int(c, idle > 0 ? idle : 0);
    }
}

void stream_cg_reply_full(cb_client *c, const stream *s)
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
        reply_int(c, 0);
        reply_bulk_cstr(c, "pending");
        reply_empty_array(c);
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
            reply_int(c, 0);
            reply_bulk_cstr(c, "pending");
            reply_empty_array(c);
        }
    }
}
