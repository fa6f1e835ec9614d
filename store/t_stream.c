/* t_stream.c — the stream type's commands: XADD, XRANGE, XREVRANGE, XLEN,
 * XDEL, XTRIM, XSETID, XINFO STREAM and XREAD (with BLOCK), on the compact
 * node structure of ds/stream.h; consumer groups are in t_stream_cg.c. The
 * design is in docs/streams.md. Replies, errors and the order of checks follow Redis 7.0
 * (which error wins is visible to clients). Unlike the other types, a
 * stream stays in the keyspace when it becomes empty, as in Redis.
 *
 * Layers: ID parsing and object helpers, trimming arguments, commands,
 * XREAD, helpers shared with t_stream_cg.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "ds/stream.h"
#include "t_stream.h"
#include "../dataplane/blocking.h"
#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"

static const char ERR_BAD_ID[] = "Invalid stream ID specified as stream command argument";
static const char ERR_ID_SMALL[] =
    "The ID specified in XADD is equal or smaller than the target stream top item";

/* ------------------------------------------------------------------------
 * Objects and IDs
 * ---------------------------------------------------------------------- */

void stream_free_obj(cb_obj *o)
{
    stream *s = o->ptr;
    stream_cg_free(s->cgroups);
    stream_free(s);
}

int stream_free_step_obj(cb_obj *o, size_t max)
{
    stream *s = o->ptr;
    if (s->cgroups) {
        /* Consumer groups (with their pending entries) go in one piece. */
        stream_cg_free(s->cgroups);
        s->cgroups = NULL;
        return 1;
    }
    return stream_free_step(s, max);
}

cb_obj *stream_dup_obj(const cb_obj *o)
{
    cb_obj *d = cb_malloc(sizeof(*d));
    *d = *o;
    d->refcount = 1;
    stream *s = stream_dup(o->ptr);
    s->cgroups = stream_cg_dup(((const stream *)o->ptr)->cgroups);
    d->ptr = s;
    return d;
}

size_t stream_mem_obj(const cb_obj *o) { return stream_mem(o->ptr); }

cb_obj *stream_obj_create(void)
{
    cb_obj *o = cb_malloc(sizeof(*o));
    o->type = OBJ_STREAM;
    o->encoding = OBJ_ENC_STREAM;
    o->lru = 0;
    o->refcount = 1;
    o->ptr = stream_new();
    return o;
}

/* Redis's string2ull: a strict integer, else whatever strtoull accepts in
 * full (leading blanks, '+', leading zeros, even "-01"). */
static int parse_ull(const char *p, size_t len, unsigned long long *v)
{
    long long ll;
    if (util_str2ll(p, len, &ll)) {
        if (ll < 0) return 0;
        *v = (unsigned long long)ll;
        return 1;
    }
    char buf[128];
    if (len == 0 || len >= sizeof(buf) || memchr(p, 0, len)) return 0;
    memcpy(buf, p, len);
    buf[len] = 0;
    char *end;
    errno = 0;
    *v = strtoull(buf, &end, 10);
    if (errno == EINVAL || errno == ERANGE || *end != '\0') return 0;
    return 1;
}

/* Parses "ms-seq", "ms" (seq = missing_seq), "ms-*" (when seq_given is not
 * NULL; *seq_given = 0), and "-" / "+" unless strict. 0 on success, else
 * replies the error. */
static int parse_id(cb_client *c, const char *p, size_t len, uint64_t missing_seq,
                    int strict, int *seq_given, stream_id *id)
{
    if (seq_given) *seq_given = 1;
    if (len > 127) goto invalid;
    if (len == 1 && (p[0] == '-' || p[0] == '+')) {
        if (strict) goto invalid;
        id->ms = id->seq = p[0] == '-' ? 0 : UINT64_MAX;
        return 0;
    }
    const char *dash = memchr(p, '-', len);
    unsigned long long ms, seq;
    if (!parse_ull(p, dash ? (size_t)(dash - p) : len, &ms)) goto invalid;
    if (dash) {
        size_t sl = len - (size_t)(dash - p) - 1;
        if (seq_given && sl == 1 && dash[1] == '*') {
            seq = 0;
            *seq_given = 0;
        } else if (!parse_ull(dash + 1, sl, &seq)) {
            goto invalid;
        }
    } else {
        seq = missing_seq;
    }
    id->ms = ms;
    id->seq = seq;
    return 0;
invalid:
    reply_error(c, ERR_BAD_ID);
    return -1;
}

static int parse_arg_id(cb_client *c, int i, uint64_t missing_seq, int strict, stream_id *id)
{
    return parse_id(c, ARGP(c, i), ARGL(c, i), missing_seq, strict, NULL, id);
}

static int id_incr(stream_id *id)
{
    if (id->seq == UINT64_MAX) {
        if (id->ms == UINT64_MAX) return -1;
        id->ms++;
        id->seq = 0;
    } else {
        id->seq++;
    }
    return 0;
}

static int id_decr(stream_id *id)
{
    if (id->seq == 0) {
        if (id->ms == 0) return -1;
        id->ms--;
        id->seq = UINT64_MAX;
    } else {
        id->seq--;
    }
    return 0;
}

int stream_parse_strict_id(cb_client *c, int i, stream_id *id)
{
    return parse_arg_id(c, i, 0, 1, id);
}

static void reply_id(cb_client *c, const stream_id *id)
{
    char buf[48];
    reply_bulk(c, buf, stream_id_fmt(id, buf));
}

static void reply_entry(cb_client *c, const stream_iter *it)
{
    reply_array_len(c, 2);
    reply_id(c, &it->id);
    reply_array_len(c, (long)(2 * it->npairs));
    for (size_t i = 0; i < 2 * it->npairs; i++) reply_bulk(c, it->kv[i], it->kvlen[i]);
}

/* Looks key i up; replies WRONGTYPE and returns 0 for another type. */
static int lookup_stream(cb_client *c, int i, int write, cb_obj **out)
{
    cb_obj *o = write ? db_lookup_write(c->shard, c->db, ARGP(c, i), ARGL(c, i))
                      : db_lookup_read(c->shard, c->db, ARGP(c, i), ARGL(c, i), 0);
    if (o && o->type != OBJ_STREAM) {
        reply_error(c, ERR_WRONGTYPE);
        return 0;
    }
    *out = o;
    return 1;
}

static void stream_changed(cb_client *c, int i, long long n)
{
    db_signal_modified(c->shard, c->db, ARGP(c, i), ARGL(c, i));
    c->shard->dirty += (uint64_t)n;
}

/* ------------------------------------------------------------------------
 * XADD / XTRIM arguments
 * ---------------------------------------------------------------------- */

typedef struct trim_args {
    int strategy, approx, limit_given, id_given, seq_given, nomkstream;
    long long maxlen, limit;
    stream_id minid, id;
} trim_args;

/* Parses options from argv[2]; returns the index of the ID (XADD) or of
 * the first unparsed argument (XTRIM), or -1 after replying an error. */
static int parse_trim_args(cb_client *c, trim_args *a, int xadd)
{
    memset(a, 0, sizeof(*a));
    a->maxlen = -1;
    int i = 2;
    for (; i < c->argc; i++) {
        int more = c->argc - 1 - i;
        const char *opt = ARGP(c, i);
        size_t ol = ARGL(c, i);
        if (xadd && ol == 1 && opt[0] == '*') break;
        int is_max = arg_eq(c, i, "maxlen"), is_min = arg_eq(c, i, "minid");
        if ((is_max || is_min) && more) {
            if (a->strategy != STREAM_TRIM_NONE) {
                reply_error(c, "syntax error, MAXLEN and MINID options at the same time "
                               "are not compatible");
                return -1;
            }
            a->approx = 0;
            if (more >= 2 && ARGL(c, i + 1) == 1 && ARGP(c, i + 1)[0] == '~') {
                a->approx = 1;
                i++;
            } else if (more >= 2 && ARGL(c, i + 1) == 1 && ARGP(c, i + 1)[0] == '=') {
                i++;
            }
            if (is_max) {
                if (arg_ll(c, i + 1, &a->maxlen, NULL) != 0) return -1;
                if (a->maxlen < 0) {
                    reply_error(c, "The MAXLEN argument must be >= 0.");
                    return -1;
                }
                a->strategy = STREAM_TRIM_MAXLEN;
            } else {
                if (parse_arg_id(c, i + 1, 0, 1, &a->minid) != 0) return -1;
                a->strategy = STREAM_TRIM_MINID;
            }
            i++;
        } else if (arg_eq(c, i, "limit") && more) {
            if (arg_ll(c, i + 1, &a->limit, NULL) != 0) return -1;
            if (a->limit < 0) {
                reply_error(c, "The LIMIT argument must be >= 0.");
                return -1;
            }
            a->limit_given = 1;
            i++;
        } else if (xadd && arg_eq(c, i, "nomkstream")) {
            a->nomkstream = 1;
        } else if (xadd) {
            if (parse_id(c, opt, ol, 0, 1, &a->seq_given, &a->id) != 0) return -1;
            a->id_given = 1;
            break;
        } else {
            break;
        }
    }
    if (a->limit_given) {
        if (!a->approx) {
            reply_error(c, a->strategy == STREAM_TRIM_NONE
                               ? "syntax error, LIMIT cannot be used without specifying a "
                                 "trimming strategy"
                               : "syntax error, LIMIT cannot be used without the special ~ "
                                 "option");
            return -1;
        }
    } else if (a->approx) {
        long long nme = c->shard->set->stream_node_max_entries;
        a->limit = nme > 0 && nme <= 100 ? 100 * nme : 10000;
    }
    return i;
}

static long long do_trim(stream *s, const trim_args *a)
{
    return stream_trim(s, a->strategy, a->maxlen, &a->minid, a->approx,
                       a->approx ? a->limit : 0);
}

/* ------------------------------------------------------------------------
 * Commands
 * ---------------------------------------------------------------------- */

void cmd_xadd(cb_client *c)
{
    trim_args a;
    int i = parse_trim_args(c, &a, 1);
    if (i < 0) return;
    int fpos = i + 1;
    if (c->argc - fpos < 2 || (c->argc - fpos) % 2 == 1) {
        reply_error(c, "wrong number of arguments for 'xadd' command");
        return;
    }
    if (a.id_given && a.seq_given && a.id.ms == 0 && a.id.seq == 0) {
        reply_error(c, "The ID specified in XADD must be greater than 0-0");
        return;
    }
    cb_obj *o;
    if (!lookup_stream(c, 1, 1, &o)) return;
    if (!o) {
        if (a.nomkstream) {
            reply_null(c);
            return;
        }
        o = stream_obj_create();
        db_add(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), o);
    }
    stream *s = o->ptr;
    if (s->last_id.ms == UINT64_MAX && s->last_id.seq == UINT64_MAX) {
        reply_error(c, "The stream has exhausted the last possible ID, unable to add more "
                       "items");
        return;
    }
    size_t tot = 0;
    for (int j = fpos; j < c->argc; j++) tot += ARGL(c, j);
    if (tot > (1u << 30)) {
        reply_error(c, "Elements are too large to be stored");
        return;
    }
    stream_id id;
    if (a.id_given) {
        id = a.id;
        if (!a.seq_given && s->last_id.ms == a.id.ms) {
            if (s->last_id.seq == UINT64_MAX) {
                reply_error(c, ERR_ID_SMALL);
                return;
            }
            id = s->last_id;
            id.seq++;
        }
    } else {
        uint64_t now = (uint64_t)c->shard->now_ms;
        if (now > s->last_id.ms) {
            id.ms = now;
            id.seq = 0;
        } else {
            id = s->last_id;
            id_incr(&id);
        }
    }
    if (stream_id_cmp(&id, &s->last_id) <= 0) {
        reply_error(c, ERR_ID_SMALL);
        return;
    }
    stream_append(s, &id, c->argv + fpos, c->argv_len + fpos, (size_t)(c->argc - fpos) / 2,
                  c->shard->set->stream_node_max_bytes, c->shard->set->stream_node_max_entries);
    reply_id(c, &id);
    stream_changed(c, 1, 1);
    NOTIFY_ARG(c, NOTIFY_STREAM, "xadd", 1);
    if (a.strategy != STREAM_TRIM_NONE && do_trim(s, &a))
        NOTIFY_ARG(c, NOTIFY_STREAM, "xtrim", 1);
}

static void range_generic(cb_client *c, int rev)
{
    int sa = rev ? 3 : 2, ea = rev ? 2 : 3;
    stream_id start, end;
    int sx = 0, ex = 0;
    const char *p = ARGP(c, sa);
    size_t l = ARGL(c, sa);
    if (l > 1 && p[0] == '(') sx = 1;
    if (parse_id(c, p + sx, l - (size_t)sx, 0, sx, NULL, &start) != 0) return;
    if (sx && id_incr(&start) != 0) {
        reply_error(c, "invalid start ID for the interval");
        return;
    }
    p = ARGP(c, ea);
    l = ARGL(c, ea);
    if (l > 1 && p[0] == '(') ex = 1;
    if (parse_id(c, p + ex, l - (size_t)ex, UINT64_MAX, ex, NULL, &end) != 0) return;
    if (ex && id_decr(&end) != 0) {
        reply_error(c, "invalid end ID for the interval");
        return;
    }
    long long count = -1;
    for (int j = 4; j < c->argc; j++) {
        if (arg_eq(c, j, "count") && j + 1 < c->argc) {
            if (arg_ll(c, j + 1, &count, NULL) != 0) return;
            if (count < 0) count = 0;
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    cb_obj *o;
    if (!lookup_stream(c, 1, 0, &o)) return;
    if (!o) {
        reply_empty_array(c);
        return;
    }
    if (count == 0) {
        reply_null_array(c);
        return;
    }
    stream_iter it;
    stream_iter_init(&it, o->ptr, &start, &end, rev);
    void *h = reply_deferred_len(c);
    long n = 0;
    while ((count < 0 || n < count) && stream_iter_next(&it)) {
        reply_entry(c, &it);
        n++;
    }
    stream_iter_release(&it);
    reply_set_deferred_len(c, h, n, 'a');
}

void cmd_xrange(cb_client *c) { range_generic(c, 0); }
void cmd_xrevrange(cb_client *c) { range_generic(c, 1); }

void cmd_xlen(cb_client *c)
{
    cb_obj *o;
    if (!lookup_stream(c, 1, 0, &o)) return;
    reply_int(c, o ? (long long)((stream *)o->ptr)->length : 0);
}

void cmd_xdel(cb_client *c)
{
    cb_obj *o;
    if (!lookup_stream(c, 1, 1, &o)) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    size_t n = (size_t)c->argc - 2;
    stream_id *ids = cb_malloc(n * sizeof(*ids));
    for (size_t j = 0; j < n; j++) {
        if (parse_arg_id(c, (int)j + 2, 0, 1, &ids[j]) != 0) {
            cb_free(ids);
            return;
        }
    }
    stream *s = o->ptr;
    long long deleted = 0;
    int first = 0;
    for (size_t j = 0; j < n; j++) {
        if (!stream_delete(s, &ids[j])) continue;
        if (stream_id_cmp(&ids[j], &s->first_id) == 0) first = 1;
        if (stream_id_cmp(&ids[j], &s->max_deleted) > 0) s->max_deleted = ids[j];
        deleted++;
    }
    cb_free(ids);
    if (deleted) {
        if (s->length == 0) s->first_id.ms = s->first_id.seq = 0;
        else if (first) stream_edge_id(s, 1, &s->first_id);
        stream_changed(c, 1, deleted);
        NOTIFY_ARG(c, NOTIFY_STREAM, "xdel", 1);
    }
    reply_int(c, deleted);
}

void cmd_xtrim(cb_client *c)
{
    /* Arguments first, then the key, as Redis checks them. */
    trim_args a;
    int i = parse_trim_args(c, &a, 0);
    if (i < 0) return;
    if (i < c->argc) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    cb_obj *o;
    if (!lookup_stream(c, 1, 1, &o)) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    long long n = do_trim(o->ptr, &a);
    if (n) {
        stream_changed(c, 1, n);
        NOTIFY_ARG(c, NOTIFY_STREAM, "xtrim", 1);
    }
    reply_int(c, n);
}

void cmd_xsetid(cb_client *c)
{
    stream_id id, maxdel = {0, 0};
    long long added = -1;
    if (parse_arg_id(c, 2, 0, 1, &id) != 0) return;
    for (int i = 3; i < c->argc;) {
        int more = c->argc - 1 - i;
        if (arg_eq(c, i, "entriesadded") && more) {
            if (arg_ll(c, i + 1, &added, NULL) != 0) return;
            if (added < 0) {
                reply_error(c, "entries_added must be positive");
                return;
            }
            i += 2;
        } else if (arg_eq(c, i, "maxdeletedid") && more) {
            if (parse_arg_id(c, i + 1, 0, 1, &maxdel) != 0) return;
            if (stream_id_cmp(&id, &maxdel) < 0) {
                reply_error(c, "The ID specified in XSETID is smaller than the provided "
                               "max_deleted_entry_id");
                return;
            }
            i += 2;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    cb_obj *o;
    if (!lookup_stream(c, 1, 1, &o)) return;
    if (!o) {
        reply_error(c, ERR_NO_SUCH_KEY);
        return;
    }
    stream *s = o->ptr;
    if (s->length > 0) {
        stream_id top;
        stream_edge_id(s, 0, &top);
        if (stream_id_cmp(&id, &top) < 0) {
            reply_error(c, "The ID specified in XSETID is smaller than the target stream "
                           "top item");
            return;
        }
        if (added != -1 && s->length > (uint64_t)added) {
            reply_error(c, "The entries_added specified in XSETID is smaller than the "
                           "target stream length");
            return;
        }
    }
    s->last_id = id;
    if (added != -1) s->entries_added = (uint64_t)added;
    if (maxdel.ms || maxdel.seq) s->max_deleted = maxdel;
    stream_changed(c, 1, 1);
    NOTIFY_ARG(c, NOTIFY_STREAM, "xsetid", 1);
    reply_ok(c);
}

/* Rough count of radix tree nodes for XINFO (Redis's number depends on its
 * rax layout; clients only see it as a size hint). */
static long long rax_nodes_estimate(const stream *s)
{
    return s->nnodes ? (long long)s->nnodes * 2 + 1 : 1;
}

static void reply_edge(cb_client *c, const stream *s, int first)
{
    stream_iter it;
    stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    stream_iter_init(&it, s, &lo, &hi, !first);
    if (stream_iter_next(&it)) reply_entry(c, &it);
    else reply_null(c);
    stream_iter_release(&it);
}

void cmd_xinfo_stream(cb_client *c)
{
    cb_obj *o = db_lookup_read(c->shard, c->db, ARGP(c, 2), ARGL(c, 2), 0);
    if (!o) {
        reply_error(c, ERR_NO_SUCH_KEY);
        return;
    }
    if (o->type != OBJ_STREAM) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    int full = 0;
    long long count = 10;
    if (c->argc > 3) {
        if (!arg_eq(c, 3, "full") || (c->argc != 4 && c->argc != 6) ||
            (c->argc == 6 && !arg_eq(c, 4, "count"))) {
            reply_errorf(c, "unknown subcommand or wrong number of arguments for '%.*s'. "
                            "Try XINFO HELP.", (int)ARGL(c, 1), ARGP(c, 1));
            return;
        }
        full = 1;
        if (c->argc == 6) {
            if (arg_ll(c, 5, &count, NULL) != 0) return;
            if (count < 0) count = 10;
        }
    }
    stream *s = o->ptr;
    reply_map_len(c, full ? 9 : 10);
    reply_bulk_cstr(c, "length");
    reply_int(c, (long long)s->length);
    reply_bulk_cstr(c, "radix-tree-keys");
    reply_int(c, (long long)s->nnodes);
    reply_bulk_cstr(c, "radix-tree-nodes");
    reply_int(c, rax_nodes_estimate(s));
    reply_bulk_cstr(c, "last-generated-id");
    reply_id(c, &s->last_id);
    reply_bulk_cstr(c, "max-deleted-entry-id");
    reply_id(c, &s->max_deleted);
    reply_bulk_cstr(c, "entries-added");
    reply_int(c, (long long)s->entries_added);
    reply_bulk_cstr(c, "recorded-first-entry-id");
    reply_id(c, &s->first_id);
    if (full) {
        reply_bulk_cstr(c, "entries");
        stream_iter it;
        stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
        stream_iter_init(&it, s, &lo, &hi, 0);
        void *h = reply_deferred_len(c);
        long n = 0;
        while ((count == 0 || n < count) && stream_iter_next(&it)) {
            reply_entry(c, &it);
            n++;
        }
        stream_iter_release(&it);
        reply_set_deferred_len(c, h, n, 'a');
        reply_bulk_cstr(c, "groups");
        stream_cg_reply_full(c, s, count);
        return;
    }
    reply_bulk_cstr(c, "groups");
    reply_int(c, (long long)stream_cg_count(s->cgroups));
    reply_bulk_cstr(c, "first-entry");
    reply_edge(c, s, 1);
    reply_bulk_cstr(c, "last-entry");
    reply_edge(c, s, 0);
}

/* ------------------------------------------------------------------------
 * XREAD (dataplane/blocking.h: a BLOCK that finds nothing waits for a
 * write to one of its keys, then the command runs again)
 * ---------------------------------------------------------------------- */

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

static cb_obj *xread_lookup(cb_client *c, int i)
{
    cb_db *db;
    cb_shard *s = key_shard(c, i, &db);
    /* Only the first run of a blocked read raises "keymiss", as in Redis
     * (which does not look keys up again on timeout or when serving). */
    int flags = c->block_mode == BLOCK_MODE_NONE ? 0 : DB_LOOKUP_NONOTIFY;
    return db_lookup_read(s, db, ARGP(c, i), ARGL(c, i), flags);
}

int stream_parse_xread_opts(cb_client *c, int group_cmd, xread_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout = -1;
    const char *only_rg = "option is only supported by XREADGROUP. You called XREAD instead.";
    for (int i = 1; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (arg_eq(c, i, "block") && more) {
            i++;
            if (arg_ll(c, i, &o->timeout, "timeout is not an integer or out of range") != 0)
                return -1;
            if (o->timeout < 0) {
                reply_error(c, "timeout is negative");
                return -1;
            }
        } else if (arg_eq(c, i, "count") && more) {
            i++;
            if (arg_ll(c, i, &o->count, NULL) != 0) return -1;
            if (o->count < 0) o->count = 0;
        } else if (arg_eq(c, i, "streams") && more) {
            o->sarg = i + 1;
            o->nstreams = c->argc - o->sarg;
            if (o->nstreams % 2) {
                reply_error(c, "Unbalanced XREAD list of streams: for each stream key an ID "
                               "or '$' must be specified.");
                return -1;
            }
            o->nstreams /= 2;
            break;
        } else if (arg_eq(c, i, "group") && more >= 2) {
            if (!group_cmd) {
                reply_errorf(c, "The GROUP %s", only_rg);
                return -1;
            }
            o->garg = i + 1;
            i += 2;
        } else if (arg_eq(c, i, "noack")) {
            if (!group_cmd) {
                reply_errorf(c, "The NOACK %s", only_rg);
                return -1;
            }
            o->noack = 1;
        } else {
            reply_error(c, ERR_SYNTAX);
            return -1;
        }
    }
    if (o->sarg == 0) {
        reply_error(c, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

void cmd_xread(cb_client *c)
{
    xread_opts opt;
    if (stream_parse_xread_opts(c, 0, &opt) != 0) return;
    long long count = opt.count, timeout = opt.timeout;
    int sarg = opt.sarg, nstreams = opt.nstreams;
    stream_id *ids = cb_malloc((size_t)nstreams * sizeof(*ids));
    for (int k = 0; k < nstreams; k++) {
        int ki = sarg + k, ii = sarg + nstreams + k;
        cb_obj *o = xread_lookup(c, ki);
        if (o && o->type != OBJ_STREAM) {
            if (c->block_mode == BLOCK_MODE_SERVING) {
                /* Redis leaves a waiter blocked when its key changes type. */
                block_client(c, 0, NULL, 0);
            } else {
                reply_error(c, ERR_WRONGTYPE);
            }
            cb_free(ids);
            return;
        }
        if (ARGL(c, ii) == 1 && ARGP(c, ii)[0] == '$') {
            if (o) ids[k] = ((stream *)o->ptr)->last_id;
            else ids[k].ms = ids[k].seq = 0;
            continue;
        }
        if (ARGL(c, ii) == 1 && ARGP(c, ii)[0] == '>') {
            reply_error(c, "The > ID can be specified only when calling XREADGROUP using the "
                           "GROUP <group> <consumer> option.");
            cb_free(ids);
            return;
        }
        if (parse_arg_id(c, ii, 0, 1, &ids[k]) != 0) {
            cb_free(ids);
            return;
        }
    }
    void *h = NULL;
    long served = 0;
    for (int k = 0; k < nstreams; k++) {
        cb_obj *o = xread_lookup(c, sarg + k);
        if (!o) continue;
        stream *s = o->ptr;
        stream_id top;
        if (!s->length || !stream_edge_id(s, 0, &top) || stream_id_cmp(&top, &ids[k]) <= 0)
            continue;
        if (!h) h = reply_deferred_len(c);
        served++;
        if (c->resp == 2) reply_array_len(c, 2);
        reply_bulk(c, ARGP(c, sarg + k), ARGL(c, sarg + k));
        stream_id start = ids[k], end = {UINT64_MAX, UINT64_MAX};
        id_incr(&start);
        stream_iter it;
        stream_iter_init(&it, s, &start, &end, 0);
        void *h2 = reply_deferred_len(c);
        long n = 0;
        while ((count == 0 || n < count) && stream_iter_next(&it)) {
            reply_entry(c, &it);
            n++;
        }
        stream_iter_release(&it);
        reply_set_deferred_len(c, h2, n, 'a');
    }
    if (served) {
        reply_set_deferred_len(c, h, served, c->resp == 2 ? 'a' : 'm');
        cb_free(ids);
        return;
    }
    if (timeout >= 0) {
        int keys[nstreams > 0 ? nstreams : 1];
        for (int k = 0; k < nstreams; k++) keys[k] = sarg + k;
        long long deadline = timeout > 0 ? c->shard->now_ms + timeout : 0;
        int first = c->block_mode == BLOCK_MODE_NONE;
        if (block_client(c, nstreams, keys, deadline)) {
            if (first) {
                /* A re-run must read after the IDs "$" stood for now. */
                for (int k = 0; k < nstreams; k++) {
                    char buf[48];
                    block_client_set_arg(c, sarg + nstreams + k, buf,
                                         stream_id_fmt(&ids[k], buf));
                }
            }
            cb_free(ids);
            return;
        }
    }
    cb_free(ids);
    reply_null_array(c);
}

/* ------------------------------------------------------------------------
 * Shared with t_stream_cg.c (t_stream.h)
 * ---------------------------------------------------------------------- */

int stream_parse_id(cb_client *c, const char *p, size_t len, uint64_t missing_seq, int strict,
                    stream_id *id)
{
    return parse_id(c, p, len, missing_seq, strict, NULL, id);
}

int stream_try_parse_strict_id(const char *p, size_t len, stream_id *id)
{
    /* parse_id replies on failure; this probe must stay silent. */
    if (len == 0 || len > 127 || (len == 1 && (p[0] == '-' || p[0] == '+'))) return 0;
    const char *dash = memchr(p, '-', len);
    unsigned long long ms, seq = 0;
    if (!parse_ull(p, dash ? (size_t)(dash - p) : len, &ms)) return 0;
    if (dash && !parse_ull(dash + 1, len - (size_t)(dash - p) - 1, &seq)) return 0;
    id->ms = ms;
    id->seq = seq;
    return 1;
}

int stream_id_incr(stream_id *id) { return id_incr(id); }
int stream_id_decr(stream_id *id) { return id_decr(id); }
void stream_reply_entry(cb_client *c, const stream_iter *it) { reply_entry(c, it); }

cb_obj *stream_lookup_key(cb_client *c, int i)
{
    return xread_lookup(c, i);
}
