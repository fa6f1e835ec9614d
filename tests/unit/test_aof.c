/* test_aof.c — CUnit tests of the AOF writer (persist/aof.c) and its file
 * helpers (persist/aof_files.c) without a running server: records handed
 * over a worker's ring out of order are written in sequence order with
 * SELECT and MULTI/EXEC framing; the manifest round-trips and the
 * command scanner tells truncated from corrupt. Disk errors (ENOSPC, EIO,
 * fsync, short writes, `always`) are test_persist_faults.c's.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../dataplane/worker.h"
#include "../../persist/aof.h"
#include "../../persist/aof_files.h"
#include "../../platform/config.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"
#include "../../store/db.h"

static char tmpdir[64];
static const uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static cb_worker *W;

/* A record of one or more "SET k v" effects in db. */
static aof_rec *rec(int db, int nops, const char *key) {
    cbstr b = cbstr_with_cap(64);
    for (int i = 0; i < nops; i++) {
        cbstr cmd = cbstr_catfmt(cbstr_with_cap(32), "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$1\r\n%d\r\n",
                                 strlen(key), key, i);
        int32_t d = db;
        uint32_t n = (uint32_t)cbstr_len(cmd);
        b = cbstr_cat(b, &d, sizeof(d));
        b = cbstr_cat(b, &n, sizeof(n));
        b = cbstr_cat(b, cmd, n);
        cbstr_free(cmd);
    }
    aof_rec *r = cb_malloc(sizeof(*r) + cbstr_len(b));
    r->nops = (uint32_t)nops;
    r->len = (uint32_t)cbstr_len(b);
    memcpy(r->data, b, cbstr_len(b));
    cbstr_free(b);
    return r;
}

static cbstr incr_contents(void) {
    char path[256];
    snprintf(path, sizeof(path), "%s/appendonlydir/appendonly.aof.1.incr.aof", tmpdir);
    FILE *f = fopen(path, "rb");
    cbstr s = cbstr_with_cap(256);
    if (!f) return s;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) s = cbstr_cat(s, buf, n);
    fclose(f);
    return s;
}

/* A few ticks: an everysec write waits while a background fsync runs. */
static void ticks(void) {
    for (int i = 0; i < 5; i++) {
        aof_tick();
        usleep(20 * 1000);
    }
}

static void start_writer(int policy) {
    g_config.appendonly = 1;
    g_config.appendfsync = policy;
    CU_ASSERT_EQUAL(aof_open_at_startup(), 0);
}

static void test_order_and_framing(void) {
    start_writer(AOF_FSYNC_EVERYSEC);
    struct stat st;
    CU_ASSERT_EQUAL(stat("appendonlydir/appendonly.aof.manifest", &st), 0);
    CU_ASSERT_EQUAL(stat("appendonlydir/appendonly.aof.1.base.rdb", &st), 0);
    CU_ASSERT(aof_recording());
    aof_rec *a = rec(0, 1, "first"), *b = rec(3, 2, "second");
    a->seq = aof_take_seq();
    b->seq = aof_take_seq();
    /* Out of order on the ring: written in sequence order. */
    CU_ASSERT_EQUAL(ring_enqueue(W->aof_ring, b), 0);
    ticks();
    cbstr s = incr_contents();
    CU_ASSERT_EQUAL(cbstr_len(s), 0); /* b waits for a */
    cbstr_free(s);
    CU_ASSERT_EQUAL(ring_enqueue(W->aof_ring, a), 0);
    ticks();
    s = incr_contents();
    const char *want =
        "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$5\r\nfirst\r\n$1\r\n0\r\n"
        "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*1\r\n$5\r\nMULTI\r\n"
        "*3\r\n$3\r\nSET\r\n$6\r\nsecond\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$6\r\nsecond\r\n$1\r\n1\r\n"
        "*1\r\n$4\r\nEXEC\r\n";
    CU_ASSERT_EQUAL(cbstr_len(s), strlen(want));
    CU_ASSERT(cbstr_len(s) == strlen(want) && !memcmp(s, want, strlen(want)));
    cbstr_free(s);
    CU_ASSERT_EQUAL(aof_synced_seq(), aof_last_seq());
}

static void test_manifest_and_scanner(void) {
    aof_manifest m = {0};
    aof_manifest_add(&m, "x.aof.4.incr.aof", 4, 'i');
    aof_manifest_add(&m, "x.aof.2.base.rdb", 2, 'b');
    aof_manifest_add(&m, "x.aof.3.incr.aof", 3, 'h');
    CU_ASSERT_EQUAL(aof_manifest_write(".", "x.manifest", &m), 0);
    aof_manifest_free(&m);
    char err[128];
    CU_ASSERT_EQUAL(aof_manifest_read("x.manifest", &m, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(m.n, 3);
    if (m.n == 3) {
        CU_ASSERT_EQUAL(m.files[0].type, 'b');
        CU_ASSERT_EQUAL(m.files[1].type, 'h');
        CU_ASSERT_EQUAL(m.files[2].seq, 4);
    }
    aof_manifest_free(&m);
    unlink("x.manifest");
    CU_ASSERT_EQUAL(aof_manifest_read("nope.manifest", &m, err, sizeof(err)), 1);

    const char *ok = "#TS:1\r\n*1\r\n$4\r\nPING\r\n";
    size_t pos = 0;
    int argc, cap = 0;
    const char **argv = NULL;
    size_t *lens = NULL;
    const char *why;
    CU_ASSERT_EQUAL(aof_next_command(ok, strlen(ok), &pos, &argc, &argv, &lens, &cap, &why), 1);
    CU_ASSERT_EQUAL(argc, 1);
    CU_ASSERT_EQUAL(aof_next_command(ok, strlen(ok), &pos, &argc, &argv, &lens, &cap, &why), 0);
    const char *torn = "*2\r\n$3\r\nGET\r\n$1\r\n";
    pos = 0;
    CU_ASSERT_EQUAL(aof_next_command(torn, strlen(torn), &pos, &argc, &argv, &lens, &cap, &why),
                    -AOF_SCAN_TRUNCATED);
    const char *bad = "*2\r\n$3\r\nGET\r\nx1\r\nk\r\n";
    pos = 0;
    CU_ASSERT_EQUAL(aof_next_command(bad, strlen(bad), &pos, &argc, &argv, &lens, &cap, &why),
                    -AOF_SCAN_CORRUPT);
    cb_free(argv);
    cb_free(lens);
}

int main(void) {
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_aof.XXXXXX");
    if (!mkdtemp(tmpdir) || chdir(tmpdir) != 0) return 1;
    config_init_defaults();
    g_server.nworkers = 1;
    g_server.workers = cb_calloc(sizeof(cb_worker *));
    cb_shard *sh = shard_create(0, 16, &g_config.store, seed);
    W = worker_create(0, sh);
    if (!W) return 1;
    g_server.workers[0] = W;
    aof_event_fd();
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("aof", NULL, NULL);
    CU_add_test(s, "order and framing", test_order_and_framing);
    CU_add_test(s, "manifest and scanner", test_manifest_and_scanner);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    aof_flush_at_exit();
    worker_destroy(W);
    shard_destroy(sh);
    cb_free(g_server.workers);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0) failures++;
    return failures ? 1 : 0;
}
