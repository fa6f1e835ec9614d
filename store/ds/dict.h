/* dict.h — chained hash table keyed by cbstr, with incremental rehashing and
 * a reverse-binary SCAN cursor (every element present for the whole scan is
 * returned at least once, even across resizes).
 *
 * Two tables exist while rehashing; each lookup/insert/delete moves one bucket
 * (unless rehashing is paused, e.g. by a safe iterator), and the owner's cron
 * calls dict_rehash_us() for the rest. The hash seed is per dict: no global
 * state, so each shard owns its tables outright.
 */
#ifndef CB_DICT_H
#define CB_DICT_H

#include <stddef.h>
#include <stdint.h>
#include "cbstr.h"

typedef struct dict_entry {
    cbstr key;
    union {
        void *val;
        int64_t s64;
        uint64_t u64;
        double d;
    } v;
    struct dict_entry *next;
} dict_entry;

typedef struct dict_type {
    /* Called on delete/release when set; NULL means the dict does not own it. */
    void (*key_free)(cbstr key);
    void (*val_free)(void *val, void *priv);
    int nocase; /* hash and compare keys ASCII case-insensitively */
} dict_type;

/* Optional veto on growth: may the table grow by more_bytes at this fill
 * (used / buckets)? Lets maxmemory refuse a doubling that would overshoot
 * it; priv is the dict's priv. */
typedef int (*dict_expand_hook)(size_t more_bytes, double fill, void *priv);

typedef struct dict dict;

dict *dict_create(const dict_type *t, void *priv, const uint8_t seed[16]);
/* Frees every entry (through the type's destructors) and the dict. */
void dict_release(dict *d);
/* Removes every entry; the dict stays usable. */
void dict_clear(dict *d);

size_t dict_size(const dict *d);
/* Total buckets over both tables (for INFO/DEBUG HTSTATS-like output). */
size_t dict_buckets(const dict *d);
int dict_is_rehashing(const dict *d);

dict_entry *dict_find(dict *d, const void *key, size_t len);
/* Insert key (ownership passes to the dict) with a NULL value. Returns the new
 * entry, or NULL when the key exists (then *existing is set if non-NULL and
 * the caller still owns key). */
dict_entry *dict_add_raw(dict *d, cbstr key, dict_entry **existing);
/* Delete and free key and value. 1 if found. */
int dict_delete(dict *d, const void *key, size_t len);
/* Remove from the table without freeing; finish with dict_free_unlinked(). */
dict_entry *dict_unlink(dict *d, const void *key, size_t len);
void dict_free_unlinked(dict *d, dict_entry *e);

/* Grow so that at least n entries fit without a resize. 0 ok, -1 if busy. */
int dict_expand(dict *d, size_t n);
/* Shrink when fill < 10% (the owner's cron decides when); 1 if started. */
int dict_shrink_if_sparse(dict *d);
/* Rehash for about us microseconds; returns 1 while more is left. */
int dict_rehash_us(dict *d, long long us);
int dict_rehash_steps(dict *d, int n);
void dict_set_expand_hook(dict *d, dict_expand_hook fn);
/* Free a dict a piece at a time: up to about max entries (whole buckets)
 * per call, through the type's destructors; the last call frees the dict
 * itself and returns 0, earlier ones return 1. The dict must no longer be
 * used otherwise. */
int dict_release_step(dict *d, size_t max);
/* The same, calling fn(e, arg) on each entry before it is freed (fn may
 * free what the dict does not own, or take the value and set it NULL). */
int dict_release_step_fn(dict *d, size_t max, void (*fn)(dict_entry *e, void *arg), void *arg);
/* 1 when the dict's type frees values (its entries own objects). */
int dict_owns_values(const dict *d);
/* Resizing can be disabled while a snapshot holds bucket order stable. */
void dict_set_resize_allowed(dict *d, int allowed);

/* Uniform-ish random entry, NULL if empty. rng is caller-owned state. */
dict_entry *dict_random(dict *d, uint64_t *rng);
/* Up to count entries from random neighbouring buckets (eviction/expiry
 * sampling); may return duplicates-free fewer. Returns how many. */
size_t dict_sample(dict *d, dict_entry **out, size_t count, uint64_t *rng);

typedef void (*dict_scan_fn)(void *priv, const dict_entry *e);
/* Visit one cursor step; returns the next cursor (0 when complete). */
uint64_t dict_scan(dict *d, uint64_t cursor, dict_scan_fn fn, void *priv);
/* Active defragmentation: one SCAN step in which every entry may be moved
 * (move(entry) returns its new address, with the old one freed, or NULL to
 * keep it; the chain is relinked), then visit(priv, entry) may move what
 * the entry points at. Returns the next cursor; 0 when complete (or when
 * an iterator holds the dict: then nothing is done). */
uint64_t dict_defrag_scan(dict *d, uint64_t cursor, void *(*move)(void *p),
                          void (*visit)(void *priv, dict_entry *e), void *priv);

/* Iterators. A safe iterator pauses rehashing so the caller may delete the
 * entry just returned; an unsafe one asserts (via fingerprint) that the dict
 * was not modified. Always release. */
typedef struct dict_iter {
    dict *d;
    long index;
    int table;
    int safe;
    dict_entry *entry, *next_entry;
    uint64_t fingerprint;
} dict_iter;
void dict_iter_init(dict_iter *it, dict *d, int safe);
dict_entry *dict_iter_next(dict_iter *it);
void dict_iter_release(dict_iter *it);

/* ---- Snapshot cells (store/snapshot.c). A cell is the set of keys whose
 * hash has the same low `bits` bits: a bucket of a table of 2^bits slots.
 * Growing splits a cell over several buckets and shrinking merges cells in
 * one bucket, but a key's cell never changes, so "cell visited" survives
 * any rehashing. */
/* The hash this dict files key under. */
uint64_t dict_hash(const dict *d, const void *key, size_t len);
/* log2 of the larger table's size (0 when nothing is allocated). */
unsigned dict_table_bits(const dict *d);
/* Calls fn on every entry of cell `cell` (hash & (2^bits - 1) == cell) in
 * both tables, without rehashing meanwhile; fn must not change the dict.
 * Returns how many entries it visited. */
size_t dict_visit_cell(dict *d, unsigned bits, uint64_t cell, dict_scan_fn fn, void *priv);

/* The dict's hash seed (copies of a table reuse it). */
const uint8_t *dict_seed(const dict *d);

/* Bytes used by the table arrays and entries (not keys/values). */
size_t dict_mem_overhead(const dict *d);

#endif
