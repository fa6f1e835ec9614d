/* test_bgsave_sink.c — CUnit tests for the fork-less snapshot streamed to a
 * sink instead of a file (persist/bgsave.c, bgsave_start_to_sink), as a
 * diskless replication sync uses it: the bytes form an RDB file that loads
 * into the epoch's dataset while writes go on after the epoch; a busy sink
 * holds the rings back without losing anything; the end is reported to
 * bgsave_on_done as diskless, and LASTSAVE / rdb_saves stay as they were.
 * The worker's and the management thread's parts run on this one thread.
 * Design: docs/snapshots.md, docs/replication.md.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../persist/bgsave.h"
#include "../../persist/rdb.h"
#include "../../platform/mem.h"
#include "../../store/db.h"
#include "../../store/digest.h"
#include "../../store/object.h"

static const uint8_t SEED[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static struct {
    cbstr bytes;
    int busy_left;   /* the sink says "busy" this many more times */
    int busy_calls;
    int done, ok, diskless;
} T;

static void sink(const void *p, size_t n, void *arg)
{
    CU_ASSERT_PTR_EQUAL(arg, &T);
    T.bytes = cbstr_cat(T.bytes, p, n);
}

static int busy(void *arg)
{
    (void)arg;
    T.busy_calls++;
    if (T.busy_left > 0) {
        T.busy_left--;
        return 1;
    }
    return 0;
}

static void on_done(int ok, int diskless)
{
    T.done++;
    T.ok = ok;
    T.diskless = diskless;
}

static void set_str(cb_shard *s, int db, const char *k, const char *v)
{
    db_set(s, &s->dbs[db], k, strlen(k), obj_new_string(v, strlen(v)), 0);
}

static void digest_hex(cb_shard *s, char hex[41])
{
    unsigned char d[20];
    digest_dataset(&s, 1, d);
    digest_to_hex(d, hex);
}

static void test_sink_snapshot_is_point_in_time(void)
{
    cb_shard *s = shard_create(0, 4, NULL, SEED);
    char k[32], v[32];
    for (int i = 0; i < 4000; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        snprintf(v, sizeof(v), "value-%d", i);
        set_str(s, i % 3 == 0 ? 2 : 0, k, v);
    }
    char epoch[41];
    digest_hex(s, epoch);

    memset(&T, 0, sizeof(T));
    T.bytes = cbstr_new("", 0);
    T.busy_left = 5;
    bgsave_init(&s, 1, NULL);
    bgsave_on_done(on_done);
    time_t lastsave = bgsave_lastsave();
    sleep(1);
    CU_ASSERT_EQUAL(bgsave_start_to_sink(sink, busy, &T), 0);
    CU_ASSERT_EQUAL(bgsave_start_to_sink(sink, busy, &T), -1); /* one at a time */
    CU_ASSERT_TRUE(bgsave_in_progress());

    /* Writes after the epoch, interleaved with the walker and the pump. */
    int turns = 0;
    for (int i = 0; T.done == 0 && turns < 100000; i++, turns++) {
        if (i < 4000) {
            snprintf(k, sizeof(k), "key:%d", i);
            if (i % 2) set_str(s, i % 3 == 0 ? 2 : 0, k, "changed");
            else db_delete(s, &s->dbs[i % 3 == 0 ? 2 : 0], k, strlen(k));
            snprintf(k, sizeof(k), "new:%d", i);
            set_str(s, 1, k, "fresh");
        }
        (void)bgsave_worker_step(0);
        (void)bgsave_mgmt_pump();
    }
    CU_ASSERT_EQUAL(T.done, 1);
    CU_ASSERT_EQUAL(T.ok, 1);
    CU_ASSERT_EQUAL(T.diskless, 1);
    CU_ASSERT_TRUE(T.busy_calls > 5);
    CU_ASSERT_FALSE(bgsave_in_progress());
    CU_ASSERT_EQUAL(bgsave_lastsave(), lastsave); /* a transfer is not a save */
    CU_ASSERT_TRUE(cbstr_len(T.bytes) > 9 && memcmp(T.bytes, "REDIS0010", 9) == 0);

    /* The streamed bytes load into exactly the epoch's dataset. */
    char path[] = "/tmp/test_bgsave_sink.XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_TRUE(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, T.bytes, cbstr_len(T.bytes)), (ssize_t)cbstr_len(T.bytes));
    close(fd);
    cb_shard *dst = shard_create(0, 4, NULL, SEED);
    char *err = NULL;
    CU_ASSERT_EQUAL(rdb_load_file(&dst, 1, path, &err), 0);
    if (err) fprintf(stderr, "load: %s\n", err);
    cb_free(err);
    char got[41];
    digest_hex(dst, got);
    CU_ASSERT_STRING_EQUAL(got, epoch);
    CU_ASSERT_EQUAL(dict_size(dst->dbs[1].keys), 0);
    unlink(path);
    shard_destroy(dst);
    cbstr_free(T.bytes);
    shard_destroy(s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite su = CU_add_suite("bgsave_sink", NULL, NULL);
    CU_add_test(su, "sink_snapshot_is_point_in_time", test_sink_snapshot_is_point_in_time);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failures = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
