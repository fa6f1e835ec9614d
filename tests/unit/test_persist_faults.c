/* test_persist_faults.c — fault injection for the writers of persist/
 * through the I/O seam (persist/pio.h): the real code runs, only the system
 * calls it makes fail.
 *
 * RDB (the fork-less BGSAVE, driven here by hand: worker step + management
 * pump on one thread, and the synchronous SAVE writer): ENOSPC and EIO on
 * write(), EIO on fsync() — the temp file is removed, the previous dump.rdb
 * is untouched, rdb_last_bgsave_status:err and the MISCONF state are set,
 * and a later good save clears them.
 * AOF (persist/aof.c) under everysec and no: ENOSPC / EIO on write() and
 * EIO on the background fsync — writes are refused with Redis's exact
 * MISCONF text while the error lasts, aof_last_write_status says err, and
 * both recover when the disk does, with every record in the file once;
 * a short write followed by success leaves no torn record (the partial
 * bytes are truncated away and the whole record written again); under
 * always the decision is to exit, checked as a function and, for real,
 * in a forked child.
 */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../dataplane/worker.h"
#include "../../persist/aof.h"
#include "../../persist/aof_files.h"
#include "../../persist/bgsave.h"
#include "../../persist/pio.h"
#include "../../platform/config.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"
#include "../../store/db.h"

static char tmpdir[64];
static const uint8_t seed[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
static cb_worker *W;
static cb_shard *SH;

/* ---------------------------------------------------- the faulty disk */

static struct {
    int write_errno;      /* every write() fails with this */
    int short_writes;     /* this many write()s write half and return that */
    int fsync_errno;      /* fsync() and fdatasync() fail with this */
} F;

static ssize_t f_write(int fd, const void *p, size_t n)
{
    if (F.short_writes > 0 && n > 1) {
        F.short_writes--;
        return pio_sys.write(fd, p, n / 2);
    }
    if (F.write_errno) {
        errno = F.write_errno;
        return -1;
    }
    return pio_sys.write(fd, p, n);
}

static int f_fsync(int fd)
{
    if (F.fsync_errno) {
        errno = F.fsync_errno;
        return -1;
    }
    return pio_sys.fsync(fd);
}

static int f_fdatasync(int fd)
{
    if (F.fsync_errno) {
        errno = F.fsync_errno;
        return -1;
    }
    return pio_sys.fdatasync(fd);
}

static const pio_ops faulty = {f_write, f_fsync, f_fdatasync, NULL, NULL, NULL};
static pio_ops ops;

static void disk_faults(int write_errno, int fsync_errno, int short_writes)
{
    F.write_errno = write_errno;
    F.fsync_errno = fsync_errno;
    F.short_writes = short_writes;
}

static void disk_ok(void) { disk_faults(0, 0, 0); }

/* ------------------------------------------------------------ helpers */

static cbstr file_contents(const char *path)
{
    FILE *f = fopen(path, "rb");
    cbstr s = cbstr_with_cap(256);
    if (!f) return s;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) s = cbstr_cat(s, buf, n);
    fclose(f);
    return s;
}

static int count_of(const char *hay, size_t len, const char *needle)
{
    int c = 0;
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++)
        if (!memcmp(hay + i, needle, nl)) c++;
    return c;
}

/* Files in the working directory whose name starts with prefix. */
static int files_starting(const char *prefix)
{
    DIR *d = opendir(".");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, prefix, strlen(prefix))) n++;
    if (d) closedir(d);
    return n;
}

static int info_has(const char *line)
{
    cbstr s = bgsave_info(cbstr_with_cap(256));
    s = aof_info_fields(s);
    int found = strstr(s, line) != NULL;
    cbstr_free(s);
    return found;
}

/* ------------------------------------------------------------- RDB */

static const char OLD_DUMP[] = "the previous dump.rdb";

static void write_old_dump(void)
{
    FILE *f = fopen("dump.rdb", "wb");
    fwrite(OLD_DUMP, 1, strlen(OLD_DUMP), f);
    fclose(f);
}

static int dump_is_old(void)
{
    cbstr s = file_contents("dump.rdb");
    int same = cbstr_len(s) == strlen(OLD_DUMP) && !memcmp(s, OLD_DUMP, strlen(OLD_DUMP));
    cbstr_free(s);
    return same;
}

/* One BGSAVE, producer and consumer turns interleaved on this thread as
 * the worker and the management thread would. 1 when it ended. */
static int run_bgsave(void)
{
    if (bgsave_start() != 0) return 0;
    /* Up to 10 s: the final fsync runs on a thread of its own. */
    long long deadline = util_mstime() + 10000;
    while (bgsave_in_progress() && util_mstime() < deadline) {
        bgsave_worker_step(0);
        bgsave_mgmt_pump();
        usleep(50);
    }
    return !bgsave_in_progress();
}

static void check_bgsave_fails(int write_errno, int fsync_errno)
{
    write_old_dump();
    disk_faults(write_errno, fsync_errno, 0);
    CU_ASSERT(run_bgsave());
    disk_ok();
    CU_ASSERT_EQUAL(files_starting("temp-"), 0);
    CU_ASSERT(dump_is_old());
    CU_ASSERT(info_has("rdb_last_bgsave_status:err\r\n"));
    CU_ASSERT(bgsave_writes_denied());
    /* The disk is back: the next BGSAVE lands and clears MISCONF. */
    CU_ASSERT(run_bgsave());
    CU_ASSERT(info_has("rdb_last_bgsave_status:ok\r\n"));
    CU_ASSERT(!bgsave_writes_denied());
    cbstr s = file_contents("dump.rdb");
    CU_ASSERT(cbstr_len(s) > 9 && !memcmp(s, "REDIS0010", 9));
    cbstr_free(s);
}

static void test_bgsave_enospc(void) { check_bgsave_fails(ENOSPC, 0); }
static void test_bgsave_eio_write(void) { check_bgsave_fails(EIO, 0); }
static void test_bgsave_eio_fsync(void) { check_bgsave_fails(0, EIO); }

static void test_save_sync_faults(void)
{
    int faults[3][2] = {{ENOSPC, 0}, {EIO, 0}, {0, EIO}};
    for (int i = 0; i < 3; i++) {
        write_old_dump();
        disk_faults(faults[i][0], faults[i][1], 0);
        CU_ASSERT_EQUAL(bgsave_save_sync(), -1);
        disk_ok();
        CU_ASSERT_EQUAL(files_starting("temp-"), 0);
        CU_ASSERT(dump_is_old());
    }
    CU_ASSERT_EQUAL(bgsave_save_sync(), 0);
    CU_ASSERT(!dump_is_old());
}

/* ------------------------------------------------------------- AOF */

/* A record of one "SET key 0" effect in db 0, queued on the worker ring. */
static void record(const char *key)
{
    cbstr cmd = cbstr_catfmt(cbstr_with_cap(32), "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$1\r\n0\r\n",
                             strlen(key), key);
    int32_t d = 0;
    uint32_t n = (uint32_t)cbstr_len(cmd);
    aof_rec *r = cb_malloc(sizeof(*r) + sizeof(d) + sizeof(n) + n);
    r->nops = 1;
    r->len = (uint32_t)(sizeof(d) + sizeof(n) + n);
    memcpy(r->data, &d, sizeof(d));
    memcpy(r->data + sizeof(d), &n, sizeof(n));
    memcpy(r->data + sizeof(d) + sizeof(n), cmd, n);
    cbstr_free(cmd);
    r->seq = aof_take_seq();
    CU_ASSERT_EQUAL(ring_enqueue(W->aof_ring, r), 0);
}

static void ticks(int n, int ms)
{
    for (int i = 0; i < n; i++) {
        aof_tick();
        usleep((useconds_t)ms * 1000);
    }
}

static cbstr incr_file(void) { return file_contents("appendonlydir/appendonly.aof.1.incr.aof"); }

/* Every command in the file is whole; returns how many. -1 when torn. */
static int whole_commands(const cbstr s)
{
    size_t pos = 0;
    int argc, cap = 0, n = 0, rc;
    const char **argv = NULL;
    size_t *lens = NULL;
    const char *why;
    while ((rc = aof_next_command(s, cbstr_len(s), &pos, &argc, &argv, &lens, &cap, &why)) == 1) n++;
    cb_free(argv);
    cb_free(lens);
    return rc == 0 ? n : -1;
}

static void check_write_error(int policy, int e, const char *key)
{
    g_config.appendfsync = policy;
    disk_faults(e, 0, 0);
    record(key);
    ticks(3, 10);
    char msg[300] = "";
    CU_ASSERT_EQUAL(aof_write_refusal(msg, sizeof(msg)), 1);
    char want[300];
    snprintf(want, sizeof(want), "-MISCONF Errors writing to the AOF file: %s", strerror(e));
    CU_ASSERT_STRING_EQUAL(msg, want);
    CU_ASSERT(info_has("aof_last_write_status:err\r\n"));
    /* Still failing after the retry interval: still refused. */
    usleep(120 * 1000);
    ticks(1, 0);
    CU_ASSERT_EQUAL(aof_write_refusal(msg, sizeof(msg)), 1);
    disk_ok();
    usleep(120 * 1000);
    ticks(3, 10);
    CU_ASSERT_EQUAL(aof_write_refusal(msg, sizeof(msg)), 0);
    CU_ASSERT(info_has("aof_last_write_status:ok\r\n"));
    cbstr s = incr_file();
    char needle[64];
    snprintf(needle, sizeof(needle), "$%zu\r\n%s\r\n", strlen(key), key);
    CU_ASSERT_EQUAL(count_of(s, cbstr_len(s), needle), 1);
    CU_ASSERT(whole_commands(s) > 0);
    cbstr_free(s);
}

static void test_aof_enospc_everysec(void) { check_write_error(AOF_FSYNC_EVERYSEC, ENOSPC, "full1"); }
static void test_aof_eio_everysec(void) { check_write_error(AOF_FSYNC_EVERYSEC, EIO, "eio1"); }
static void test_aof_enospc_no(void) { check_write_error(AOF_FSYNC_NO, ENOSPC, "full2"); }
static void test_aof_eio_no(void) { check_write_error(AOF_FSYNC_NO, EIO, "eio2"); }

static void test_aof_fsync_eio_everysec(void)
{
    g_config.appendfsync = AOF_FSYNC_EVERYSEC;
    disk_faults(0, EIO, 0);
    usleep(1100 * 1000); /* a background fsync is due */
    record("sync1");
    aof_tick();
    char msg[300];
    for (int i = 0; i < 50 && !aof_write_refusal(msg, sizeof(msg)); i++) ticks(1, 20);
    CU_ASSERT_EQUAL(aof_write_refusal(msg, sizeof(msg)), 1);
    CU_ASSERT_STRING_EQUAL(msg, "-MISCONF Errors writing to the AOF file: Input/output error");
    CU_ASSERT(info_has("aof_last_write_status:err\r\n"));
    disk_ok();
    usleep(1100 * 1000);
    aof_tick(); /* starts a good fsync */
    for (int i = 0; i < 50 && aof_write_refusal(msg, sizeof(msg)); i++) ticks(1, 20);
    CU_ASSERT_EQUAL(aof_write_refusal(msg, sizeof(msg)), 0);
    CU_ASSERT(info_has("aof_last_write_status:ok\r\n"));
}

static void test_aof_short_write(void)
{
    g_config.appendfsync = AOF_FSYNC_EVERYSEC;
    cbstr before = incr_file();
    size_t at = cbstr_len(before);
    cbstr_free(before);
    disk_faults(0, 0, 1);
    record("torn1");
    record("torn2");
    ticks(3, 10);
    /* The half written is cut off again: the file still ends where it did. */
    cbstr s = incr_file();
    CU_ASSERT_EQUAL(cbstr_len(s), at);
    cbstr_free(s);
    char msg[300];
    CU_ASSERT_EQUAL(aof_write_refusal(msg, sizeof(msg)), 1);
    CU_ASSERT_STRING_EQUAL(msg, "-MISCONF Errors writing to the AOF file: No space left on device");
    usleep(120 * 1000);
    ticks(3, 10); /* the retry writes it whole */
    CU_ASSERT_EQUAL(aof_write_refusal(msg, sizeof(msg)), 0);
    s = incr_file();
    CU_ASSERT(whole_commands(s) > 0);
    CU_ASSERT_EQUAL(count_of(s, cbstr_len(s), "$5\r\ntorn1\r\n"), 1);
    CU_ASSERT_EQUAL(count_of(s, cbstr_len(s), "$5\r\ntorn2\r\n"), 1);
    cbstr_free(s);
}

static void test_always_decision(void)
{
    CU_ASSERT_EQUAL(aof_error_action(AOF_FSYNC_ALWAYS), AOF_ERR_EXIT);
    CU_ASSERT_EQUAL(aof_error_action(AOF_FSYNC_EVERYSEC), AOF_ERR_REFUSE);
    CU_ASSERT_EQUAL(aof_error_action(AOF_FSYNC_NO), AOF_ERR_REFUSE);
}

/* The decision carried out: a write under `always` that cannot be made
 * durable ends the process (in a child) before anything is acknowledged. */
static int child_exit(int write_errno, int fsync_errno)
{
    pid_t pid = fork();
    if (pid == 0) {
        g_config.appendfsync = AOF_FSYNC_ALWAYS;
        disk_faults(write_errno, fsync_errno, 0);
        record("always");
        uint64_t seq = aof_last_seq();
        aof_tick();
        /* Reaching here means it survived: it must not have acknowledged. */
        _exit(aof_synced_seq() >= seq ? 3 : 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_always_exits(void)
{
    CU_ASSERT_EQUAL(child_exit(ENOSPC, 0), 1);
    CU_ASSERT_EQUAL(child_exit(EIO, 0), 1);
    CU_ASSERT_EQUAL(child_exit(0, EIO), 1);
    CU_ASSERT_EQUAL(child_exit(0, 0), 3); /* a good disk: written, synced, acknowledged */
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_pfault.XXXXXX");
    if (!mkdtemp(tmpdir) || chdir(tmpdir) != 0) return 1;
    config_init_defaults();
    /* Save points with stop-writes-on-bgsave-error yes: a failed BGSAVE
     * means MISCONF. */
    cb_free(g_config.save_params);
    g_config.save_params = cb_strdup("3600 1");
    g_config.stop_writes_on_bgsave_error = 1;
    g_server.nworkers = 1;
    g_server.workers = cb_calloc(sizeof(cb_worker *));
    SH = shard_create(0, 16, &g_config.store, seed);
    W = worker_create(0, SH);
    if (!W) return 1;
    g_server.workers[0] = W;
    for (int i = 0; i < 2000; i++) {
        char k[32];
        int n = snprintf(k, sizeof(k), "key:%d", i);
        db_add(SH, &SH->dbs[i % 3], k, (size_t)n, obj_new_string_encoded("some value", 10));
    }
    bgsave_init(&SH, 1, NULL);
    ops = pio_sys;
    ops.write = faulty.write;
    ops.fsync = faulty.fsync;
    ops.fdatasync = faulty.fdatasync;
    pio_set(&ops);
    aof_event_fd();
    g_config.appendonly = 1;
    g_config.appendfsync = AOF_FSYNC_EVERYSEC;
    if (aof_open_at_startup() != 0) return 1;

    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite r = CU_add_suite("rdb faults", NULL, NULL);
    CU_add_test(r, "BGSAVE: ENOSPC on write", test_bgsave_enospc);
    CU_add_test(r, "BGSAVE: EIO on write", test_bgsave_eio_write);
    CU_add_test(r, "BGSAVE: EIO on fsync", test_bgsave_eio_fsync);
    CU_add_test(r, "SAVE: ENOSPC, EIO, fsync EIO", test_save_sync_faults);
    CU_pSuite a = CU_add_suite("aof faults", NULL, NULL);
    CU_add_test(a, "everysec: ENOSPC on write", test_aof_enospc_everysec);
    CU_add_test(a, "everysec: EIO on write", test_aof_eio_everysec);
    CU_add_test(a, "no: ENOSPC on write", test_aof_enospc_no);
    CU_add_test(a, "no: EIO on write", test_aof_eio_no);
    CU_add_test(a, "everysec: EIO on fsync", test_aof_fsync_eio_everysec);
    CU_add_test(a, "short write, then success", test_aof_short_write);
    CU_add_test(a, "always: the decision", test_always_decision);
    CU_add_test(a, "always: the process exits", test_always_exits);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    disk_ok();
    aof_flush_at_exit();
    pio_set(NULL);
    worker_destroy(W);
    shard_destroy(SH);
    cb_free(g_server.workers);
    cb_free(g_config.save_params);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0) failures++;
    return failures ? 1 : 0;
}
