/* t_geo.c — the geo commands, a view of sorted sets whose scores are 52-bit
 * geohashes (geohash.h): GEOADD, GEODIST, GEOHASH, GEOPOS and the search
 * family GEOSEARCH, GEOSEARCHSTORE, GEORADIUS[_RO] and
 * GEORADIUSBYMEMBER[_RO].
 * A search turns the shape into up to nine geohash cells, walks each
 * cell's score range in the sorted set, keeps the points really inside the
 * shape, then sorts, trims to COUNT and replies or stores. Handlers follow
 * Redis 7.0's order of checks (key type, then arguments in order, then the
 * option conflicts) because clients see which error wins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geohash.h"
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

/* Parses argv[i], argv[i+1] as a valid longitude, latitude pair. */
static int arg_lonlat(cb_client *c, int i, double *lon, double *lat)
{
    if (arg_double(c, i, lon, NULL) != 0 || arg_double(c, i + 1, lat, NULL) != 0) return -1;
    if (!geo_valid_lonlat(*lon, *lat)) {
        reply_errorf(c, "invalid longitude,latitude pair %f,%f", *lon, *lat);
        return -1;
    }
    return 0;
}

/* Meters per unit named by argv[i]; -1 after replying the error. */
static double arg_unit(cb_client *c, int i)
{
    if (arg_eq(c, i, "m")) return 1;
    if (arg_eq(c, i, "km")) return 1000;
    if (arg_eq(c, i, "ft")) return 0.3048;
    if (arg_eq(c, i, "mi")) return 1609.34;
    reply_error(c, "unsupported unit provided. please use M, KM, FT, MI");
    return -1;
}

/* argv[i] radius, argv[i+1] unit. */
static int arg_radius(cb_client *c, int i, geo_shape *sh)
{
    double r;
    if (arg_double(c, i, &r, "need numeric radius") != 0) return -1;
    if (r < 0) {
        reply_error(c, "radius cannot be negative");
        return -1;
    }
    double conv = arg_unit(c, i + 1);
    if (conv < 0) return -1;
    sh->type = GEO_SHAPE_RADIUS;
    sh->radius = r;
    sh->conversion = conv;
    return 0;
}

/* argv[i] width, argv[i+1] height, argv[i+2] unit. */
static int arg_box(cb_client *c, int i, geo_shape *sh)
{
    double w, h;
    if (arg_double(c, i, &w, "need numeric width") != 0) return -1;
    if (arg_double(c, i + 1, &h, "need numeric height") != 0) return -1;
    if (h < 0 || w < 0) {
        reply_error(c, "height or width cannot be negative");
        return -1;
    }
    double conv = arg_unit(c, i + 2);
    if (conv < 0) return -1;
    sh->type = GEO_SHAPE_BOX;
    sh->width = w;
    sh->height = h;
    sh->conversion = conv;
    return 0;
}

/* Distances print with four decimals, as a bulk string in both protocols. */
static void reply_distance(cb_client *c, double d)
{
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "%.4f", d);
    reply_bulk(c, buf, (size_t)n);
}

/* Coordinates print in the "human" long double form: a bulk string under
 * RESP2, a double under RESP3. */
static void reply_coord(cb_client *c, double v)
{
    char buf[CB_LD2STR_MAX + 4];
    size_t n = util_ld2str_human(buf + 1, sizeof(buf) - 3, (long double)v);
    if (c->resp > 2) {
        buf[0] = ',';
        memcpy(buf + 1 + n, "\r\n", 2);
        reply_raw(c, buf, n + 3);
    } else {
        reply_bulk(c, buf + 1, n);
    }
}

static int lookup_geo(cb_shard *s, cb_db *db, cb_client *c, int i, int write, cb_obj **out)
{
    cb_obj *o = write ? db_lookup_write(s, db, ARGP(c, i), ARGL(c, i))
                      : db_lookup_read(s, db, ARGP(c, i), ARGL(c, i), 0);
    if (o && o->type != OBJ_ZSET) {
        reply_error(c, ERR_WRONGTYPE);
        return -1;
    }
    *out = o;
    return 0;
}

/* ------------------------------------------------------------------------
 * GEOADD, GEODIST, GEOHASH, GEOPOS
 * ---------------------------------------------------------------------- */

void cmd_geoadd(cb_client *c)
{
    int nx = 0, xx = 0, ch = 0, first = 2;
    for (; first < c->argc; first++) {
        if (arg_eq(c, first, "nx")) nx = 1;
        else if (arg_eq(c, first, "xx")) xx = 1;
        else if (arg_eq(c, first, "ch")) ch = 1;
        else break;
    }
    int left = c->argc - first;
    if (left % 3 || (nx && xx) || left == 0) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int n = left / 3;
    double stack_scores[16];
    double *scores = n <= 16 ? stack_scores : cb_malloc(sizeof(double) * (size_t)n);
    for (int k = 0; k < n; k++) {
        double lon, lat;
        if (arg_lonlat(c, first + 3 * k, &lon, &lat) != 0) goto out;
        scores[k] = (double)geo_score_of(lon, lat);
    }
    cb_obj *o;
    if (lookup_geo(c->shard, c->db, c, 1, 1, &o) != 0) goto out;
    long added = 0, updated = 0;
    if (!o) {
        if (xx) goto reply;
        o = zset_new(c->shard, 1, ARGL(c, first + 2));
        db_add(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), o);
    }
    for (int k = 0; k < n; k++) {
        int res;
        int ei = first + 3 * k + 2;
        zset_add(c->shard, o, scores[k], ARGP(c, ei), ARGL(c, ei),
                 (nx ? ZA_NX : 0) | (xx ? ZA_XX : 0), &res, NULL);
        if (res & ZA_OUT_ADDED) added++;
        if (res & ZA_OUT_UPDATED) updated++;
    }
    if (zset_len(o) == 0) db_delete(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
    if (added || updated) {
        db_signal_modified(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
        NOTIFY_ARG(c, NOTIFY_ZSET, "zadd", 1); /* Redis runs GEOADD as ZADD */
        c->shard->dirty += (uint64_t)(added + updated);
    }
reply:
    reply_int(c, ch ? added + updated : added);
out:
    if (scores != stack_scores) cb_free(scores);
}

void cmd_geodist(cb_client *c)
{
    double to_m = 1;
    if (c->argc == 5) {
        to_m = arg_unit(c, 4);
        if (to_m < 0) return;
    } else if (c->argc > 5) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    cb_obj *o;
    if (lookup_geo(c->shard, c->db, c, 1, 0, &o) != 0) return;
    double s1, s2, x1, y1, x2, y2;
    if (!o || !zset_score(o, ARGP(c, 2), ARGL(c, 2), &s1) ||
        !zset_score(o, ARGP(c, 3), ARGL(c, 3), &s2) || !geo_decode_score(s1, &x1, &y1) ||
        !geo_decode_score(s2, &x2, &y2)) {
        reply_null(c);
        return;
    }
    reply_distance(c, geo_distance(x1, y1, x2, y2) / to_m);
}

void cmd_geohash(cb_client *c)
{
    cb_obj *o;
    if (lookup_geo(c->shard, c->db, c, 1, 0, &o) != 0) return;
    reply_array_len(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double sc;
        char buf[12];
        if (o && zset_score(o, ARGP(c, j), ARGL(c, j), &sc) && geo_hash_string(sc, buf))
            reply_bulk(c, buf, 11);
        else
            reply_null(c);
    }
}

void cmd_geopos(cb_client *c)
{
    cb_obj *o;
    if (lookup_geo(c->shard, c->db, c, 1, 0, &o) != 0) return;
    reply_array_len(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double sc, lon, lat;
        if (o && zset_score(o, ARGP(c, j), ARGL(c, j), &sc) &&
            geo_decode_score(sc, &lon, &lat)) {
            reply_array_len(c, 2);
            reply_coord(c, lon);
            reply_coord(c, lat);
        } else {
            reply_null_array(c);
        }
    }
}

/* ------------------------------------------------------------------------
 * Searching
 * ---------------------------------------------------------------------- */

typedef struct geo_hit {
    const char *ele; /* points into the source set; valid until it changes */
    size_t len;
    double lon, lat, dist, score;
    size_t seq; /* discovery order, to keep equal distances stable */
} geo_hit;

typedef struct geo_hits {
    geo_hit *v;
    size_t n, cap;
} geo_hits;

static void hit_if_inside(geo_hits *h, const geo_shape *sh, const char *e, size_t l, double sc)
{
    double lon, lat;
    if (!geo_decode_score(sc, &lon, &lat)) return;
    double d = geo_distance_in_shape(sh, lon, lat);
    if (d < 0) return;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->v = cb_realloc(h->v, h->cap * sizeof(*h->v));
    }
    h->v[h->n] = (geo_hit){e, l, lon, lat, d, sc, h->n};
    h->n++;
}

/* Collects the members with scores in [min, max) inside the shape, in
 * score order, stopping once limit (0: none) hits are held. */
static void scan_range(const cb_obj *o, double min, double max, const geo_shape *sh,
                       geo_hits *h, size_t limit)
{
    if (o->encoding == OBJ_ENC_SKIPLIST) {
        const zset *z = o->ptr;
        zsl_range r = {min, max, 0, 1};
        for (zsl_node *x = zsl_first_in_range(z->zsl, &r); x && x->score < max;
             x = x->level[0].forward) {
            if (limit && h->n >= limit) break;
            hit_if_inside(h, sh, x->ele, cbstr_len(x->ele), x->score);
        }
        return;
    }
    const zpack *zp = o->ptr;
    for (size_t off = zp_first(zp); off; off = zp_next(zp, off)) {
        const char *e;
        size_t l;
        double sc;
        zp_get(zp, off, &e, &l, &sc);
        if (sc < min) continue;
        if (sc >= max) break;
        if (limit && h->n >= limit) break;
        hit_if_inside(h, sh, e, l, sc);
    }
}

static void scan_shape(const cb_obj *o, const geo_shape *sh, geo_hits *h, size_t limit)
{
    geo_scan scan;
    geo_scan_cells(sh, &scan);
    int last = 0;
    for (int i = 0; i < 9; i++) {
        geo_cell cell = scan.cells[i];
        if (cell.bits == 0 && cell.step == 0) continue;
        /* Huge radii can make neighbours coincide; a cell equal to the one
         * just scanned is skipped (only that one, and never after the
         * centre, as the oracle does). */
        if (last && cell.bits == scan.cells[last].bits && cell.step == scan.cells[last].step)
            continue;
        if (limit && h->n >= limit) break;
        double min, max;
        geo_cell_scores(cell, &min, &max);
        scan_range(o, min, max, sh, h, limit);
        last = i;
    }
}

static int hit_asc(const void *a, const void *b)
{
    const geo_hit *x = a, *y = b;
    if (x->dist != y->dist) return x->dist > y->dist ? 1 : -1;
    return x->seq > y->seq ? 1 : (x->seq < y->seq ? -1 : 0);
}

static int hit_desc(const void *a, const void *b)
{
    const geo_hit *x = a, *y = b;
    if (x->dist != y->dist) return x->dist < y->dist ? 1 : -1;
    return x->seq > y->seq ? 1 : (x->seq < y->seq ? -1 : 0);
}

enum {
    GS_COORDS = 1,   /* GEORADIUS: centre given as lon lat */
    GS_MEMBER = 2,   /* GEORADIUSBYMEMBER: centre is a member */
    GS_NOSTORE = 4,  /* the _RO variants */
    GS_SEARCH = 8,   /* GEOSEARCH syntax */
    GS_SEARCHSTORE = 16
};
enum { SORT_NONE, SORT_ASC, SORT_DESC };

/* Centre of the member named by argv[i]; replies the error when missing. */
static int member_center(cb_client *c, const cb_obj *o, int i, geo_shape *sh)
{
    double sc;
    if (!zset_score(o, ARGP(c, i), ARGL(c, i), &sc) || !geo_decode_score(sc, &sh->lon, &sh->lat)) {
        reply_error(c, "could not decode requested zset member");
        return -1;
    }
    return 0;
}

/* Replaces the key at argv[dst] with the hits (or deletes it when none);
 * event: "geosearchstore" or "georadiusstore". */
static void store_hits(cb_client *c, int dst, const geo_hits *h, size_t n, int storedist,
                       double conversion, const char *event)
{
    cb_db *db;
    cb_shard *s = shard_of(c, dst, &db);
    if (n) {
        size_t maxlen = 0;
        for (size_t i = 0; i < n; i++)
            if (h->v[i].len > maxlen) maxlen = h->v[i].len;
        cb_obj *z = zset_new(s, n, maxlen);
        for (size_t i = 0; i < n; i++) {
            int res;
            double sc = storedist ? h->v[i].dist / conversion : h->v[i].score;
            zset_add(s, z, sc, h->v[i].ele, h->v[i].len, 0, &res, NULL);
        }
        db_set(s, db, ARGP(c, dst), ARGL(c, dst), z, 0);
        db_signal_modified(s, db, ARGP(c, dst), ARGL(c, dst));
        notify_keyspace_event(s, db, NOTIFY_ZSET, event, ARGP(c, dst), ARGL(c, dst));
        s->dirty += n;
    } else if (db_delete(s, db, ARGP(c, dst), ARGL(c, dst))) {
        db_signal_modified(s, db, ARGP(c, dst), ARGL(c, dst));
        notify_keyspace_event(s, db, NOTIFY_GENERIC, "del", ARGP(c, dst), ARGL(c, dst));
        s->dirty++;
    }
    reply_int(c, (long long)n);
}

static void reply_hits(cb_client *c, const geo_hits *h, size_t n, int withdist, int withhash,
                       int withcoord, double conversion)
{
    int extra = withdist + withhash + withcoord;
    reply_array_len(c, (long)n);
    for (size_t i = 0; i < n; i++) {
        const geo_hit *g = &h->v[i];
        if (extra) reply_array_len(c, extra + 1);
        reply_bulk(c, g->ele, g->len);
        if (withdist) reply_distance(c, g->dist / conversion);
        if (withhash) reply_int(c, (long long)g->score);
        if (withcoord) {
            reply_array_len(c, 2);
            reply_coord(c, g->lon);
            reply_coord(c, g->lat);
        }
    }
}

static void search_generic(cb_client *c, int src, int flags)
{
    cb_db *sdb;
    cb_shard *ss = shard_of(c, src, &sdb);
    cb_obj *o;
    if (lookup_geo(ss, sdb, c, src, 0, &o) != 0) return;

    geo_shape sh;
    memset(&sh, 0, sizeof(sh));
    int base, store = 0, storedist = 0;
    if (flags & GS_COORDS) {
        base = 6;
        if (arg_lonlat(c, 2, &sh.lon, &sh.lat) != 0) return;
        if (arg_radius(c, 4, &sh) != 0) return;
    } else if (flags & GS_MEMBER) {
        base = 5;
        /* Without the key the remaining arguments still decide between an
         * empty array and a STORE reply. */
        if (o) {
            if (member_center(c, o, 2, &sh) != 0) return;
            if (arg_radius(c, 3, &sh) != 0) return;
        }
    } else {
        base = 2;
        if (flags & GS_SEARCHSTORE) {
            base = 3;
            store = 1;
        }
    }

    int withdist = 0, withhash = 0, withcoord = 0, any = 0, sort = SORT_NONE;
    int frommember = 0, fromloc = 0, byradius = 0, bybox = 0;
    long long count = 0;
    for (int i = base; i < c->argc; i++) {
        int left = c->argc - i - 1;
        int search = (flags & GS_SEARCH) != 0;
        int oldstore = !(flags & GS_NOSTORE) && !search;
        if (arg_eq(c, i, "withdist")) {
            withdist = 1;
        } else if (arg_eq(c, i, "withhash")) {
            withhash = 1;
        } else if (arg_eq(c, i, "withcoord")) {
            withcoord = 1;
        } else if (arg_eq(c, i, "any")) {
            any = 1;
        } else if (arg_eq(c, i, "asc")) {
            sort = SORT_ASC;
        } else if (arg_eq(c, i, "desc")) {
            sort = SORT_DESC;
        } else if (arg_eq(c, i, "count") && left >= 1) {
            if (arg_ll(c, i + 1, &count, NULL) != 0) return;
            if (count <= 0) {
                reply_error(c, "COUNT must be > 0");
                return;
            }
            i++;
        } else if (arg_eq(c, i, "store") && left >= 1 && oldstore) {
            store = i + 1;
            storedist = 0;
            i++;
        } else if (arg_eq(c, i, "storedist") && left >= 1 && oldstore) {
            store = i + 1;
            storedist = 1;
            i++;
        } else if (arg_eq(c, i, "storedist") && search && (flags & GS_SEARCHSTORE)) {
            storedist = 1;
        } else if (arg_eq(c, i, "frommember") && left >= 1 && search && !fromloc) {
            if (o && member_center(c, o, i + 1, &sh) != 0) return;
            frommember = 1;
            i++;
        } else if (arg_eq(c, i, "fromlonlat") && left >= 2 && search && !frommember) {
            if (arg_lonlat(c, i + 1, &sh.lon, &sh.lat) != 0) return;
            fromloc = 1;
            i += 2;
        } else if (arg_eq(c, i, "byradius") && left >= 2 && search && !bybox) {
            if (arg_radius(c, i + 1, &sh) != 0) return;
            byradius = 1;
            i += 2;
        } else if (arg_eq(c, i, "bybox") && left >= 3 && search && !byradius) {
            if (arg_box(c, i + 1, &sh) != 0) return;
            bybox = 1;
            i += 3;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }

    if (store && (withdist || withhash || withcoord)) {
        reply_errorf(c, "%s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                     (flags & GS_SEARCHSTORE) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
        return;
    }
    if ((flags & GS_SEARCH) && !(frommember || fromloc)) {
        reply_errorf(c, "exactly one of FROMMEMBER or FROMLONLAT can be specified for %.*s",
                     (int)ARGL(c, 0), ARGP(c, 0));
        return;
    }
    if ((flags & GS_SEARCH) && !(byradius || bybox)) {
        reply_errorf(c, "exactly one of BYRADIUS and BYBOX can be specified for %.*s",
                     (int)ARGL(c, 0), ARGP(c, 0));
        return;
    }
    if (any && !count) {
        reply_error(c, "the ANY argument requires COUNT argument");
        return;
    }
    /* GEOSEARCHSTORE's destination is argv[1]. */
    int dst = (flags & GS_SEARCHSTORE) ? 1 : store;

    geo_hits h = {NULL, 0, 0};
    if (o) scan_shape(o, &sh, &h, any ? (size_t)count : 0);
    if (o && count && sort == SORT_NONE && !any) sort = SORT_ASC;
    if (h.n == 0 && !dst) {
        reply_empty_array(c);
        cb_free(h.v);
        return;
    }
    size_t n = count == 0 || h.n < (size_t)count ? h.n : (size_t)count;
    if (sort != SORT_NONE && h.n > 1)
        qsort(h.v, h.n, sizeof(*h.v), sort == SORT_ASC ? hit_asc : hit_desc);
    if (dst)
        store_hits(c, dst, &h, n, storedist, sh.conversion,
                   (flags & GS_SEARCH) ? "geosearchstore" : "georadiusstore");
    else reply_hits(c, &h, n, withdist, withhash, withcoord, sh.conversion);
    cb_free(h.v);
}

void cmd_georadius(cb_client *c)
{
    search_generic(c, 1, GS_COORDS);
}

void cmd_georadius_ro(cb_client *c)
{
    search_generic(c, 1, GS_COORDS | GS_NOSTORE);
}

void cmd_georadiusbymember(cb_client *c)
{
    search_generic(c, 1, GS_MEMBER);
}

void cmd_georadiusbymember_ro(cb_client *c)
{
    search_generic(c, 1, GS_MEMBER | GS_NOSTORE);
}

void cmd_geosearch(cb_client *c)
{
    search_generic(c, 1, GS_SEARCH);
}

void cmd_geosearchstore(cb_client *c)
{
    search_generic(c, 2, GS_SEARCH | GS_SEARCHSTORE);
}
