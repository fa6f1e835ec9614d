/* test_loading.c — CUnit tests of start-up loading's pieces that need no
 * running workers (persist/loading.c with none to park): the INFO
 * persistence loading_* fields, their order and arithmetic, a shutdown
 * request stopping the load, and the hooks the loader and SAVE use: the
 * RDB reader's per-key progress hook (which may stop a load, leaving the
 * shards empty) and the RDB writer's per-key hook.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../dataplane/worker.h"
#include "../../persist/loading.h"
#include "../../persist/rdb.h"
#include "../../platform/config.h"
#include "../../platform/mem.h"
#include "../../store/db.h"
#include "../../store/object.h"

static const uint8_t seed[16] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6 };
static char tmpdir[64];

/* The value of field `name` in INFO text s, or NULL (static buffer). */
static const char *field(const char *s, const char *name)
{
    static char val[128];
    char key[64];
    snprintf(key, sizeof(key), "%s:", name);
    const char *p = strstr(s, key);
    if (!p) return NULL;
    p += strlen(key);
    size_t n = strcspn(p, "\r");
    if (n >= sizeof(val)) n = sizeof(val) - 1;
    memcpy(val, p, n);
    val[n] = '\0';
    return val;
}

static void test_info_fields(void)
{
    cbstr s = loading_info_fields(cbstr_from_cstr(""));
    CU_ASSERT_EQUAL(cbstr_len(s), 0); /* nothing while not loading */
    cbstr_free(s);

    loading_start(1000);
    CU_ASSERT_EQUAL(loading_active(), 1);
    loading_file(0);
    CU_ASSERT_EQUAL(loading_tick(250), 0);
    loading_note_used_mem(12345);
    s = loading_info_fields(cbstr_from_cstr(""));
    const char *order[] = { "loading_start_time", "loading_total_bytes", "loading_rdb_used_mem",
                            "loading_loaded_bytes", "loading_loaded_perc", "loading_eta_seconds" };
    const char *prev = s;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const char *at = strstr(s, order[i]);
        CU_ASSERT_PTR_NOT_NULL(at);
        CU_ASSERT(at >= prev);
        if (at) prev = at;
    }
    CU_ASSERT_STRING_EQUAL(field(s, "loading_total_bytes"), "1000");
    CU_ASSERT_STRING_EQUAL(field(s, "loading_rdb_used_mem"), "12345");
    CU_ASSERT_STRING_EQUAL(field(s, "loading_loaded_bytes"), "250");
    CU_ASSERT_STRING_EQUAL(field(s, "loading_loaded_perc"), "24.98"); /* 250 / 1001 */
    CU_ASSERT(atoll(field(s, "loading_eta_seconds")) >= 0);
    cbstr_free(s);

    /* The second file of an AOF counts from where the first ended. */
    loading_file(600);
    CU_ASSERT_EQUAL(loading_tick(100), 0);
    s = loading_info_fields(cbstr_from_cstr(""));
    CU_ASSERT_STRING_EQUAL(field(s, "loading_loaded_bytes"), "700");
    cbstr_free(s);

    /* A shutdown stops the load. */
    g_server.shutdown_asap = 1;
    CU_ASSERT_EQUAL(loading_tick(200), -1);
    g_server.shutdown_asap = 0;

    loading_stop();
    CU_ASSERT_EQUAL(loading_active(), 0);
}

static void make_file(const char *path, int nkeys)
{
    cb_shard *sh = shard_create(0, 16, NULL, seed);
    for (int i = 0; i < nkeys; i++) {
        char k[32];
        snprintf(k, sizeof(k), "key:%d", i);
        db_add(sh, &sh->dbs[0], k, strlen(k), obj_new_string_encoded("value", 5));
    }
    char *err = NULL;
    CU_ASSERT_EQUAL(rdb_save_file(&sh, 1, path, &err), 0);
    cb_free(err);
    shard_destroy(sh);
}

static int progress_calls, progress_stop_at;
static uint64_t progress_last;

static int progress(uint64_t off)
{
    CU_ASSERT(off > progress_last); /* offsets only grow */
    progress_last = off;
    return ++progress_calls == progress_stop_at;
}

static void test_rdb_progress(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/p.rdb", tmpdir);
    make_file(path, 50);
    cb_shard *sh[2] = { shard_create(0, 16, NULL, seed), shard_create(1, 16, NULL, seed) };

    /* Called once per key. */
    rdb_load_info info = { .progress = progress };
    progress_calls = 0;
    progress_stop_at = -1;
    progress_last = 0;
    char *err = NULL;
    CU_ASSERT_EQUAL(rdb_load_file_ex(sh, 2, path, &info, &err), 0);
    CU_ASSERT_EQUAL(progress_calls, 50);
    CU_ASSERT_EQUAL(dict_size(sh[0]->dbs[0].keys) + dict_size(sh[1]->dbs[0].keys), 50);
    shard_empty(sh[0]);
    shard_empty(sh[1]);

    /* Non-zero stops the load: an error, and nothing stays loaded. */
    progress_calls = 0;
    progress_stop_at = 7;
    progress_last = 0;
    CU_ASSERT_EQUAL(rdb_load_file_ex(sh, 2, path, &info, &err), -1);
    CU_ASSERT_PTR_NOT_NULL(err);
    CU_ASSERT(err && strstr(err, "shutting down") != NULL);
    cb_free(err);
    CU_ASSERT_EQUAL(progress_calls, 7);
    CU_ASSERT_EQUAL(dict_size(sh[0]->dbs[0].keys) + dict_size(sh[1]->dbs[0].keys), 0);
    shard_destroy(sh[0]);
    shard_destroy(sh[1]);
    unlink(path);
}

static void count_key(void *arg) { ++*(int *)arg; }

static void test_save_key_hook(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/h.rdb", tmpdir);
    int n = 0;
    rdb_save_set_key_hook(count_key, &n);
    make_file(path, 30);
    CU_ASSERT_EQUAL(n, 30);
    rdb_save_set_key_hook(NULL, NULL);
    make_file(path, 30);
    CU_ASSERT_EQUAL(n, 30); /* unset: not called */
    unlink(path);
}

int main(void)
{
    config_init_defaults();
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_loading.XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("loading", NULL, NULL);
    CU_add_test(s, "INFO loading_* fields", test_info_fields);
    CU_add_test(s, "RDB per-key progress hook", test_rdb_progress);
    CU_add_test(s, "RDB writer per-key hook", test_save_key_hook);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    rmdir(tmpdir);
    return failures ? 1 : 0;
}
