/* test_snapshot.c — CUnit tests for the snapshot cells (store/ds/dict.c
 * dict_visit_cell) and the per-shard snapshot cursor (store/snapshot.c):
 * every key lies in exactly one cell whatever the table's size and rehash
 * state; and a snapshot taken while keys are overwritten, deleted, created,
 * expired, flushed and swapped — with the table growing and rehashing under
 * the cursor — emits exactly the epoch's keys with the epoch's values, each
 * once. Design: docs/snapshots.md.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "../../platform/mem.h"
#include "../../store/db.h"
#include "../../store/object.h"
#include "../../store/snapshot.h"

static const uint8_t SEED[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
static const dict_type plain = {cbstr_free, NULL, 0};

/* ------------------------------------------------------------------ cells */

typedef struct seen {
    unsigned char *hits; /* per key index */
    long n;
    long dup, bad;
} seen;

static void count_entry(void *priv, const dict_entry *e)
{
    seen *s = priv;
    long i;
    if (sscanf(e->key, "k%ld", &i) != 1 || i < 0 || i >= s->n) {
        s->bad++;
        return;
    }
    if (s->hits[i]++) s->dup++;
}

static void add_key(dict *d, long i)
{
    char k[32];
    int n = snprintf(k, sizeof(k), "k%ld", i);
    CU_ASSERT_PTR_NOT_NULL(dict_add_raw(d, cbstr_new(k, (size_t)n), NULL));
}

/* Every key of d (k0..k{n-1}) is in exactly one of the 2^bits cells. */
static void check_cells(dict *d, unsigned bits, long n)
{
    seen s = {cb_calloc((size_t)n), n, 0, 0};
    for (uint64_t c = 0; c < (1ULL << bits); c++) dict_visit_cell(d, bits, c, count_entry, &s);
    long missing = 0;
    for (long i = 0; i < n; i++)
        if (!s.hits[i]) missing++;
    CU_ASSERT_EQUAL(missing, 0);
    CU_ASSERT_EQUAL(s.dup, 0);
    CU_ASSERT_EQUAL(s.bad, 0);
    cb_free(s.hits);
}

static void test_cells_survive_rehash(void)
{
    dict *d = dict_create(&plain, NULL, SEED);
    for (long i = 0; i < 1000; i++) add_key(d, i);
    while (dict_rehash_steps(d, 100)) {}
    unsigned bits = dict_table_bits(d);
    CU_ASSERT_EQUAL(bits, 10);
    check_cells(d, bits, 1000);
    /* Grow: more keys start a rehash to a table twice the size; check in
     * the middle of it and after. */
    for (long i = 1000; i < 1100; i++) add_key(d, i);
    CU_ASSERT_TRUE(dict_is_rehashing(d));
    check_cells(d, bits, 1100);
    dict_rehash_steps(d, 300);
    CU_ASSERT_TRUE(dict_is_rehashing(d));
    check_cells(d, bits, 1100);
    while (dict_rehash_steps(d, 100)) {}
    CU_ASSERT_EQUAL(dict_table_bits(d), 11);
    check_cells(d, bits, 1100);
    /* Shrink below the grid: a bucket now holds several cells. */
    for (long i = 50; i < 1100; i++) {
        char k[32];
        int n = snprintf(k, sizeof(k), "k%ld", i);
        dict_delete(d, k, (size_t)n);
    }
    CU_ASSERT_TRUE(dict_shrink_if_sparse(d));
    dict_rehash_steps(d, 5);
    check_cells(d, bits, 50);
    while (dict_rehash_steps(d, 100)) {}
    CU_ASSERT_TRUE(dict_table_bits(d) < bits);
    check_cells(d, bits, 50);
    /* A grid finer than the table, and a coarser one. */
    check_cells(d, bits + 2, 50);
    check_cells(d, 2, 50);
    dict_release(d);
}

/* --------------------------------------------------------------- snapshot */

/* What the snapshot emitted: "db:key" -> value, in a dict. */
typedef struct image {
    dict *d;
    long dups;
    long with_ttl;
} image;

static void img_emit(void *priv, int dbid, const cbstr key, const cb_obj *val, long long ttl)
{
    image *im = priv;
    char name[128], tmp[32];
    int n = snprintf(name, sizeof(name), "%d:%.*s", dbid, (int)cbstr_len(key), key);
    size_t vl;
    const char *v = obj_str(val, tmp, &vl);
    dict_entry *existing = NULL;
    dict_entry *e = dict_add_raw(im->d, cbstr_new(name, (size_t)n), &existing);
    if (!e) {
        im->dups++;
        return;
    }
    e->v.val = cbstr_new(v, vl);
    if (ttl >= 0) im->with_ttl++;
}

static void img_val_free(void *val, void *priv)
{
    (void)priv;
    cbstr_free(val);
}

static const dict_type img_type = {cbstr_free, img_val_free, 0};

static void set_str(cb_shard *s, cb_db *db, const char *k, const char *v)
{
    db_set(s, db, k, strlen(k), obj_new_string(v, strlen(v)), 0);
}

static const char *img_get(image *im, int dbid, const char *k)
{
    char name[128];
    int n = snprintf(name, sizeof(name), "%d:%s", dbid, k);
    dict_entry *e = dict_find(im->d, name, (size_t)n);
    return e ? e->v.val : NULL;
}

static void test_snapshot_is_point_in_time(void)
{
    cb_shard *s = shard_create(0, 4, NULL, SEED);
    cb_db *db0 = &s->dbs[0], *db1 = &s->dbs[1], *db2 = &s->dbs[2], *db3 = &s->dbs[3];
    char k[32], v[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        set_str(s, db0, k, v);
    }
    db_set_expire(s, db0, "key:7", 5, s->now_ms + 100000);
    set_str(s, db1, "one", "1");
    set_str(s, db2, "two", "2");
    set_str(s, db3, "three", "3");
    while (dict_rehash_steps(db0->keys, 100)) {}

    image im = {dict_create(&img_type, NULL, SEED), 0, 0};
    CU_ASSERT_EQUAL(snap_begin(s, img_emit, &im), 0);
    CU_ASSERT_EQUAL(snap_begin(s, img_emit, &im), -1);
    CU_ASSERT_EQUAL(snap_get(s)->keys_total, 5003);

    /* Interleave the walker with writes; new keys make db0's table grow
     * and rehash under the cursor. */
    int step = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        if (i % 3 == 0) set_str(s, db0, k, "changed");
        else if (i % 3 == 1) db_delete(s, db0, k, strlen(k));
        snprintf(k, sizeof(k), "new:%d", i);
        set_str(s, db0, k, "fresh");
        if (i % 50 == 0 && step++ < 1000) snap_step(s, 20, 200);
    }
    CU_ASSERT_TRUE(dict_size(db0->keys) > 8000);
    db_remove_expire(db0, "key:7", 5);
    cb_obj *o = db_lookup_write(s, db0, "key:2", 5);
    CU_ASSERT_PTR_NOT_NULL(o);
    db_overwrite(s, db0, "key:2", 5, obj_new_string("in-place", 8));
    shard_swapdb(s, 1, 2);          /* db1's image is still "one" in db 1 */
    set_str(s, &s->dbs[1], "two", "overwritten");
    db_empty(s, db3);               /* FLUSHDB: the image keeps "three" */
    set_str(s, db3, "after-flush", "x");

    while (snap_step(s, 100, 1000)) {}
    snap_end(s);
    CU_ASSERT_PTR_NULL(snap_get(s));
    CU_ASSERT_PTR_NULL(db0->snap);

    CU_ASSERT_EQUAL(im.dups, 0);
    CU_ASSERT_EQUAL(dict_size(im.d), 5003);
    CU_ASSERT_EQUAL(im.with_ttl, 1);
    long wrong = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        const char *got = img_get(&im, 0, k);
        if (!got || strcmp(got, v) != 0) wrong++;
    }
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_PTR_NULL(img_get(&im, 0, "new:1"));
    CU_ASSERT_STRING_EQUAL(img_get(&im, 1, "one"), "1");
    CU_ASSERT_STRING_EQUAL(img_get(&im, 2, "two"), "2");
    CU_ASSERT_STRING_EQUAL(img_get(&im, 3, "three"), "3");
    CU_ASSERT_PTR_NULL(img_get(&im, 3, "after-flush"));
    dict_release(im.d);
    shard_destroy(s);
}

static void test_snapshot_end_early_frees(void)
{
    cb_shard *s = shard_create(0, 2, NULL, SEED);
    for (int i = 0; i < 100; i++) {
        char k[32];
        snprintf(k, sizeof(k), "k%d", i);
        set_str(s, &s->dbs[0], k, "v");
    }
    image im = {dict_create(&img_type, NULL, SEED), 0, 0};
    CU_ASSERT_EQUAL(snap_begin(s, img_emit, &im), 0);
    db_empty(s, &s->dbs[0]); /* detached dicts now belong to the snapshot */
    snap_step(s, 10, 10);
    snap_end(s);             /* ASan: no leak of the detached dicts */
    CU_ASSERT_PTR_NULL(s->dbs[0].snap);
    dict_release(im.d);
    shard_destroy(s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite su = CU_add_suite("snapshot", NULL, NULL);
    CU_add_test(su, "cells_survive_rehash", test_cells_survive_rehash);
    CU_add_test(su, "snapshot_is_point_in_time", test_snapshot_is_point_in_time);
    CU_add_test(su, "snapshot_end_early_frees", test_snapshot_end_early_frees);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
