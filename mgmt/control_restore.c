/* control_restore.c — PUT /restore: replace the dataset with an uploaded
 * RDB file.
 *
 * Call order (control.c): ctl_restore_begin when the request's headers are
 * in (opens a temp file in dir), ctl_restore_chunk for each piece of the
 * body as it arrives (written straight to the file, so the upload's size
 * costs disk, not memory), ctl_restore_finish when the body is complete,
 * ctl_restore_abort from the completion callback (removes the temp file
 * of a request that did not finish).
 *
 * The file is first checked in full by the loader in check mode (the
 * checks of start-up loading and cachebox-check-rdb: header, every record,
 * the CRC-64) into a scratch shard; only a file that passes replaces the
 * dataset: with every worker parked, the shards are emptied and the file
 * loaded, then renamed over dir/dbfilename so that a restart comes back
 * with the same data. Refused while a snapshot is being written.
 */
#include "control_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "../dataplane/worker.h"
#include "../dataplane/xshard.h"
#include "../persist/bgsave.h"
#include "../persist/rdb.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"

int ctl_restore_begin(ctl_req *rq)
{
    static unsigned seq; /* control thread only */
    snprintf(rq->upload_path, sizeof(rq->upload_path), "temp-restore-%d-%u.rdb", (int)getpid(),
             ++seq);
    /* dir may change under a CONFIG SET: hold the park while we open. */
    xshard_park_all();
    rq->upload_fd = open(rq->upload_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int saved = errno;
    if (rq->upload_fd >= 0 && !getcwd(rq->upload_dir, sizeof(rq->upload_dir)))
        rq->upload_dir[0] = '\0';
    xshard_release_all();
    if (rq->upload_fd < 0) {
        snprintf(rq->upload_err, sizeof(rq->upload_err), "can't create a temp file: %s",
                 strerror(saved));
        return -1;
    }
    return 0;
}

void ctl_restore_chunk(ctl_req *rq, const char *p, size_t n)
{
    if (rq->upload_fd < 0 || rq->upload_err[0]) return;
    while (n) {
        ssize_t w = write(rq->upload_fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            snprintf(rq->upload_err, sizeof(rq->upload_err), "writing the upload failed: %s",
                     strerror(errno));
            return;
        }
        p += w;
        n -= (size_t)w;
        rq->upload_bytes += (uint64_t)w;
    }
}

/* The temp file by a path that does not depend on the working directory. */
static void fd_path(const ctl_req *rq, char *buf, size_t cap)
{
    snprintf(buf, cap, "/proc/self/fd/%d", rq->upload_fd);
}

void ctl_restore_abort(ctl_req *rq)
{
    if (rq->upload_fd < 0) return;
    close(rq->upload_fd);
    rq->upload_fd = -1;
    char path[sizeof(rq->upload_dir) + sizeof(rq->upload_path) + 2];
    snprintf(path, sizeof(path), "%s/%s", rq->upload_dir, rq->upload_path);
    unlink(rq->upload_dir[0] ? path : rq->upload_path);
}

/* Check mode into a scratch shard with as many dbs as the server has. */
static int validate(ctl_req *rq, ctl_resp *rp)
{
    char path[64];
    fd_path(rq, path, sizeof(path));
    static const uint8_t seed[16] = { 0 };
    cb_shard *scratch = shard_create(0, g_config.databases, NULL, seed);
    rdb_load_info info = { .flags = RDB_LOAD_CHECK };
    char *err = NULL;
    int rc = rdb_load_file_ex(&scratch, 1, path, &info, &err);
    shard_destroy(scratch);
    if (rc == 0) {
        cb_free(err);
        return 0;
    }
    cbstr b = cbstr_from_cstr("{\"error\":");
    const char *why = err ? err : "not an RDB file";
    b = json_str(b, why, strlen(why));
    b = cbstr_catfmt(b, ",\"offset\":%llu", (unsigned long long)info.err_record);
    if (info.err_doing) {
        b = cbstr_cat(b, ",\"doing\":", 9);
        b = json_str(b, info.err_doing, strlen(info.err_doing));
    }
    ctl_json(rp, MHD_HTTP_BAD_REQUEST, cbstr_cat(b, "}\n", 2));
    cb_log(LOG_WARNING, "Control port: uploaded RDB refused at offset %llu: %s",
           (unsigned long long)info.err_record, why);
    cb_free(err);
    return -1;
}

void ctl_restore_finish(ctl_req *rq, ctl_resp *rp)
{
    if (rq->upload_fd < 0 || rq->upload_err[0]) {
        ctl_error(rp, MHD_HTTP_INTERNAL_SERVER_ERROR,
                  rq->upload_err[0] ? rq->upload_err : "no upload");
        return;
    }
    if (rq->upload_bytes == 0) {
        ctl_error(rp, MHD_HTTP_BAD_REQUEST, "empty body: send the RDB file");
        return;
    }
    if (fsync(rq->upload_fd) < 0) {
        ctl_error(rp, MHD_HTTP_INTERNAL_SERVER_ERROR, "fsync of the upload failed");
        return;
    }
    if (validate(rq, rp) < 0) return;

    char path[64];
    fd_path(rq, path, sizeof(path));
    long long t0 = util_ustime();
    xshard_park_all();
    if (bgsave_child_active()) {
        xshard_release_all();
        ctl_error(rp, MHD_HTTP_CONFLICT, "Background save already in progress");
        return;
    }
    int n = g_server.nworkers;
    cb_shard **shards = cb_malloc(sizeof(*shards) * (size_t)n);
    for (int i = 0; i < n; i++) {
        shards[i] = g_server.workers[i]->shard;
        shard_empty(shards[i]);
    }
    rdb_load_info info = { 0 };
    char *err = NULL;
    int rc = rdb_load_file_ex(shards, n, path, &info, &err);
    cb_free(shards);
    int renamed = 0;
    if (rc == 0) {
        bgsave_note_load(info.keys_loaded, info.keys_expired);
        /* The file on disk now holds what memory holds. */
        char *name = cb_strdup(g_config.dbfilename ? g_config.dbfilename : "");
        char cwd[sizeof(rq->upload_dir)];
        if (name[0] && getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, rq->upload_dir) &&
            rename(rq->upload_path, name) == 0) {
            renamed = 1;
            bgsave_note_saved();
        }
        cb_free(name);
    }
    xshard_release_all();
    if (rc != 0) {
        /* Validated, yet the load failed (memory?): the shards are empty. */
        cb_log(LOG_WARNING, "Control port: loading the uploaded RDB failed: %s",
               err ? err : "unknown error");
        ctl_error(rp, MHD_HTTP_INTERNAL_SERVER_ERROR, err ? err : "loading failed");
        cb_free(err);
        return;
    }
    if (renamed) {
        close(rq->upload_fd);
        rq->upload_fd = -1;
    }
    double secs = (double)(util_ustime() - t0) / 1e6;
    cb_log(LOG_WARNING, "Control port: dataset replaced by an uploaded RDB (%llu bytes, "
                        "%lld keys) in %.3f seconds", (unsigned long long)rq->upload_bytes,
           info.keys_loaded, secs);
    ctl_json(rp, MHD_HTTP_OK,
             cbstr_catfmt(cbstr_with_cap(128),
                          "{\"status\":\"OK\",\"bytes\":%llu,\"keys_loaded\":%lld,"
                          "\"keys_expired\":%lld,\"seconds\":%.3f,\"saved\":%s}\n",
                          (unsigned long long)rq->upload_bytes, info.keys_loaded,
                          info.keys_expired, secs, renamed ? "true" : "false"));
}
