/* t_zset.h — the sorted-set value as the rest of the store sees it: one
 * object whose encoding is OBJ_ENC_LISTPACK (a zpack, ds/zpack.h) while it
 * is small and OBJ_ENC_SKIPLIST (a skiplist plus an element -> score dict)
 * above zset-max-listpack-entries / zset-max-listpack-value. t_zset.c holds
 * this layer and the single-key commands; t_zset_ops.c the multi-key,
 * popping, random and scan commands.
 */
#ifndef CB_T_ZSET_H
#define CB_T_ZSET_H

#include <stddef.h>
#include <stdint.h>
#include "object.h"
#include "db.h"
#include "ds/dict.h"
#include "ds/skiplist.h"
#include "ds/zpack.h"

/* The skiplist encoding: the dict's keys are the skiplist nodes' elements
 * (not owned by the dict); its values (v.d) are the scores. */
typedef struct zset {
    dict *d;
    zsl *zsl;
    uint8_t seed[16];
} zset;

/* ZADD input flags and result flags. */
enum { ZA_NX = 1, ZA_XX = 2, ZA_GT = 4, ZA_LT = 8, ZA_INCR = 16 };
enum { ZA_OUT_ADDED = 1, ZA_OUT_UPDATED = 2, ZA_OUT_NOP = 4, ZA_OUT_NAN = 8 };

/* New empty sorted set; compact unless the limits say a set of size_hint
 * elements, the longest maxlen bytes, would not fit. */
cb_obj *zset_new(cb_shard *s, size_t size_hint, size_t maxlen);
size_t zset_len(const cb_obj *o);
/* 1 and *score when ele is a member. */
int zset_score(const cb_obj *o, const char *ele, size_t len, double *score);
/* Adds or updates under the ZA_* flags; converts to the skiplist when the
 * compact limits are crossed. Returns 0 (with ZA_OUT_NAN) when INCR made NaN. */
int zset_add(cb_shard *s, cb_obj *o, double score, const char *ele, size_t len,
             int flags, int *out, double *newscore);
int zset_del(cb_obj *o, const char *ele, size_t len);
/* 0-based rank (from the top when rev), -1 when not a member. */
long zset_rank(const cb_obj *o, const char *ele, size_t len, int rev);
/* Turns a skiplist set back into the compact form when it fits the limits
 * (for loaders: Redis converts a set read from RDB/RESTORE this way). */
void zset_compact_if_fits(cb_shard *s, cb_obj *o);
/* Converts a compact set to the skiplist encoding (SORT does, as Redis 7.0). */
void zset_to_skiplist(cb_shard *s, cb_obj *o);
/* Deletes the ranks [first, last] (0-based, ascending). */
void zset_delete_ranks(cb_obj *o, size_t first, size_t last);

/* An ordered cursor over either encoding. */
typedef struct zset_it {
    const cb_obj *o;
    size_t *offs;   /* compact: offset of every entry */
    size_t n;
    long idx;       /* compact: current rank */
    zsl_node *node; /* skiplist: current node */
} zset_it;
/* Positions at 0-based rank (ascending order); invalid when out of range. */
void zit_init(zset_it *it, const cb_obj *o, long rank);
/* Moves to 0-based rank (O(1) compact, O(log n) skiplist). */
void zit_seek(zset_it *it, long rank);
int zit_valid(const zset_it *it);
void zit_next(zset_it *it);
void zit_prev(zset_it *it);
void zit_get(const zset_it *it, const char **ele, size_t *len, double *score);
void zit_release(zset_it *it);

/* Object hooks (object.c, digest.c). */
void zset_free_obj(cb_obj *o);
/* Lazy free of a big sorted set: the dict, then the skiplist, up to about
 * max entries per call; the last call frees the whole value (not the
 * object block) and returns 0. */
int zset_free_step(cb_obj *o, size_t max);
cb_obj *zset_dup_obj(const cb_obj *o);
size_t zset_mem_usage(const cb_obj *o);

#endif
