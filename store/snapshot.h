/* snapshot.h — the store's side of fork-less point-in-time snapshots: which
 * keys of a shard still belong to the image being written, and the hooks
 * that serialize them before a write changes them. Design and call order in
 * docs/snapshots.md.
 *
 * snap_begin (every worker parked: the epoch) fixes, per db, a grid of
 * cells (store/ds/dict.h: the keys whose hash has the same low bits) and a
 * visited bitmap. The owning worker then calls snap_step between event-loop
 * turns; it walks the cells in order and hands each key of an unvisited
 * cell to the emit callback. Before any write touches a key whose cell is
 * not visited yet, db.c calls snap_touch, which emits that whole cell
 * first. So every key of the epoch is emitted exactly once with its value
 * as of the epoch, and no key created later is ever emitted. FLUSHDB and
 * FLUSHALL hand the old dicts to the snapshot (snap_detach) instead of
 * clearing them; SWAPDB carries each db's state with its dicts.
 * Everything here is per shard: no global state.
 */
#ifndef CB_SNAPSHOT_H
#define CB_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include "ds/dict.h"

struct cb_shard;
struct cb_db;
struct cb_obj;
typedef struct cb_snap cb_snap;

/* One key of the image: its db at the epoch, name, value, expiry (unix ms,
 * -1 when none). The value is only borrowed for the call. */
typedef void (*snap_emit_fn)(void *priv, int dbid, const cbstr key,
                             const struct cb_obj *val, long long expire_ms);

/* The image of one db. */
typedef struct snap_db {
    cb_snap *snap;
    int dbid;                 /* db index at the epoch (SWAPDB may move it) */
    dict *keys, *expires;     /* the dicts the image lives in */
    struct cb_db *live;       /* the db that holds them now; NULL once detached */
    unsigned bits;            /* the cell grid: 2^bits cells */
    uint64_t *visited;        /* one bit per cell */
    uint64_t next_cell;       /* where the walker resumes */
} snap_db;

struct cb_snap {
    struct cb_shard *shard;
    snap_emit_fn emit;
    void *priv;
    int ndb;
    snap_db *dbs;
    int cur;                  /* db the walker is on */
    uint64_t keys_total;      /* keys at the epoch */
    uint64_t keys_done;       /* emitted so far (walker and hooks) */
    uint64_t keys_by_hook;    /* of which emitted ahead of a write */
};

/* Starts an epoch on s (caller owns the shard: all workers parked). emit
 * gets every key of the image, from snap_step or from write hooks. 0 ok,
 * -1 when a snapshot is already running on s. */
int snap_begin(struct cb_shard *s, snap_emit_fn emit, void *priv);
/* Walks cells until max_keys keys were emitted or max_cells cells were
 * looked at. Returns 1 while cells are left, 0 when the image is complete. */
int snap_step(struct cb_shard *s, size_t max_keys, size_t max_cells);
/* Ends the epoch (complete or not) and frees its state, detached dicts
 * included. A no-op without a snapshot. */
void snap_end(struct cb_shard *s);
/* The shard's running snapshot, or NULL. */
const cb_snap *snap_get(const struct cb_shard *s);

/* Write hook (db->snap set): emit the key's cell unless visited. */
void snap_touch(struct cb_db *db, const char *k, size_t len);
/* FLUSHDB/FLUSHALL hook (db->snap set): the snapshot takes db's dicts and
 * db gets fresh empty ones. */
void snap_detach(struct cb_shard *s, struct cb_db *db);

/* The visited test on its own: is the cell of hash h visited in sd? */
int snap_cell_visited(const snap_db *sd, uint64_t h);

#endif
