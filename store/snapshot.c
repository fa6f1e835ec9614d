/* snapshot.c — per-shard snapshot cursor and write hooks (see snapshot.h and
 * docs/snapshots.md).
 *
 * The grid of a db is fixed at the epoch: 2^bits cells, bits = the size of
 * its keys table then (capped, so the bitmap stays small; a capped cell just
 * spans several buckets). A cell is visited once, by the walker or by the
 * first write that touches one of its keys, and its bit is set then. So no
 * key is emitted twice, and a cell whose bit is still clear has not been
 * written since the epoch: all its keys are epoch keys with epoch values.
 * A key added later lands in a cell that was emitted before the add.
 */
#include "snapshot.h"
#include "db.h"
#include "../platform/mem.h"

#include <string.h>

/* 2^26 cells: an 8 MiB bitmap at most per db. */
#define SNAP_MAX_BITS 26

static inline uint64_t cell_of(const snap_db *sd, uint64_t h)
{
    return h & ((1ULL << sd->bits) - 1);
}

int snap_cell_visited(const snap_db *sd, uint64_t h)
{
    if (!sd->visited) return 1; /* db done */
    uint64_t c = cell_of(sd, h);
    return (sd->visited[c >> 6] >> (c & 63)) & 1;
}

typedef struct emit_ctx {
    snap_db *sd;
    size_t n;
} emit_ctx;

static void emit_entry(void *priv, const dict_entry *e)
{
    emit_ctx *x = priv;
    snap_db *sd = x->sd;
    long long when = -1;
    if (dict_size(sd->expires)) {
        dict_entry *ee = dict_find(sd->expires, e->key, cbstr_len(e->key));
        if (ee) when = ee->v.s64;
    }
    sd->snap->emit(sd->snap->priv, sd->dbid, e->key, e->v.val, when);
    x->n++;
}

/* Emits cell c of sd and marks it visited; returns the keys emitted. */
static size_t visit_cell(snap_db *sd, uint64_t c)
{
    sd->visited[c >> 6] |= 1ULL << (c & 63);
    emit_ctx x = {sd, 0};
    dict_visit_cell(sd->keys, sd->bits, c, emit_entry, &x);
    sd->snap->keys_done += x.n;
    return x.n;
}

/* The db's image is complete: stop hooking it, free what it owned. */
static void db_done(snap_db *sd)
{
    if (sd->live) {
        sd->live->snap = NULL;
        sd->live = NULL;
    } else if (sd->keys) {
        /* Detached by a flush: expires first, its names belong to keys. */
        dict_release(sd->expires);
        dict_release(sd->keys);
    }
    sd->keys = sd->expires = NULL;
    cb_free(sd->visited);
    sd->visited = NULL;
}

int snap_begin(cb_shard *s, snap_emit_fn emit, void *priv)
{
    if (s->snap) return -1;
    cb_snap *sn = cb_calloc(sizeof(*sn));
    sn->shard = s;
    sn->emit = emit;
    sn->priv = priv;
    sn->ndb = s->ndb;
    sn->dbs = cb_calloc(sizeof(snap_db) * (size_t)s->ndb);
    for (int i = 0; i < s->ndb; i++) {
        cb_db *db = &s->dbs[i];
        snap_db *sd = &sn->dbs[i];
        sd->snap = sn;
        sd->dbid = i;
        if (dict_size(db->keys) == 0) continue; /* nothing of it in the image */
        sd->keys = db->keys;
        sd->expires = db->expires;
        sd->live = db;
        unsigned bits = dict_table_bits(db->keys);
        sd->bits = bits > SNAP_MAX_BITS ? SNAP_MAX_BITS : bits;
        size_t words = ((1ULL << sd->bits) + 63) / 64;
        sd->visited = cb_calloc(words * sizeof(uint64_t));
        sn->keys_total += dict_size(db->keys);
        db->snap = sd;
    }
    s->snap = sn;
    return 0;
}

int snap_step(cb_shard *s, size_t max_keys, size_t max_cells)
{
    cb_snap *sn = s->snap;
    if (!sn) return 0;
    size_t keys = 0, cells = 0;
    while (sn->cur < sn->ndb) {
        snap_db *sd = &sn->dbs[sn->cur];
        if (!sd->visited) {
            sn->cur++;
            continue;
        }
        uint64_t ncells = 1ULL << sd->bits;
        while (sd->next_cell < ncells) {
            if (keys >= max_keys || cells >= max_cells) return 1;
            uint64_t c = sd->next_cell++;
            cells++;
            if (!((sd->visited[c >> 6] >> (c & 63)) & 1)) keys += visit_cell(sd, c);
        }
        db_done(sd);
        sn->cur++;
    }
    return 0;
}

void snap_end(cb_shard *s)
{
    cb_snap *sn = s->snap;
    if (!sn) return;
    for (int i = 0; i < sn->ndb; i++)
        if (sn->dbs[i].visited) db_done(&sn->dbs[i]);
    cb_free(sn->dbs);
    cb_free(sn);
    s->snap = NULL;
}

const cb_snap *snap_get(const cb_shard *s)
{
    return s->snap;
}

void snap_touch(cb_db *db, const char *k, size_t len)
{
    snap_db *sd = db->snap;
    uint64_t c = cell_of(sd, dict_hash(sd->keys, k, len));
    if ((sd->visited[c >> 6] >> (c & 63)) & 1) return;
    sd->snap->keys_by_hook += visit_cell(sd, c);
}

void snap_detach(cb_shard *s, cb_db *db)
{
    snap_db *sd = db->snap;
    /* The image keeps the old tables until the walker is through them. */
    sd->live = NULL;
    db->snap = NULL;
    db->keys = dict_create(&s->keys_type, NULL, s->seed);
    db->expires = dict_create(&s->expires_type, NULL, s->seed);
}
