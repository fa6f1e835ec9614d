/* aof.c — the AOF writer on the management thread (see aof.h).
 *
 * Per tick: drain every worker's ring into a pending set ordered by the
 * records' global sequence numbers; write the longest gap-free prefix to
 * the current incremental file (SELECT when the db changes, MULTI/EXEC
 * around multi-effect records, `#TS:` annotations when enabled); then
 * fsync by policy:
 *   always    fdatasync now, then publish synced_seq so workers release the
 *             replies that waited for it (one fsync covers every client's
 *             records written so far: group commit);
 *   (under every policy a reply waits until its record is written, as
 *   Redis writes its AOF buffer before it sends replies: a process crash
 *   loses nothing acknowledged);
 *   everysec  the fsync thread syncs once a second; if it is still busy
 *             we postpone writing for up to 2 s, then write anyway and count
 *             aof_delayed_fsync, as Redis does;
 *   no        the kernel decides.
 * A failed write under everysec/no keeps the bytes, refuses writes
 * (MISCONF) and retries each tick until the disk takes them; under always
 * the process logs and exits rather than acknowledge what is not durable.
 * Rewrites (BGREWRITEAOF, auto rewrite, CONFIG SET appendonly yes) use
 * the fork-less snapshot of BGSAVE (persist/bgsave.c): a short park of
 * every worker fixes the epoch, the records up to it go to the current
 * incremental file and the ones after it to a new one opened at that
 * instant; the workers serialize the epoch's data set into the new base
 * while they keep serving, the management thread writes it, and then the
 * manifest is swapped atomically and the old files are deleted. Only at
 * start-up (no workers yet) is a base written in one go (write_base()).
 * Design: docs/aof.md.
 */
#include "aof.h"
#include "pio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aof_files.h"
#include "aof_rewrite.h"
#include "bgsave.h"
#include "rdb.h"
#include "../dataplane/propagate.h"
#include "../dataplane/worker.h"
#include "../dataplane/xshard.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"

/* The writer's state. Fields marked (atomic) are read by workers; the rest
 * belong to the management thread. */
typedef struct aof_state {
    int recording;          /* (atomic) effects are recorded */
    int hold;               /* (atomic) appendfsync always: replies wait */
    uint64_t last_seq;      /* (atomic) last sequence number handed out */
    uint64_t synced_seq;    /* (atomic) written (always: and fsynced) */
    int write_errno;        /* (atomic) MISCONF reason, 0 when fine */
    int fsync_errno;        /* (atomic) last background fsync failed (everysec) */
    int rewrite_req;        /* (atomic) BGREWRITEAOF asked for */
    int rewrite_sched;      /* (atomic) asked for while a BGSAVE runs */
    int enable_req;         /* (atomic) 1 on, 2 off (CONFIG SET appendonly) */
    int efd;
    int tap_on;             /* (atomic) replication wants the records too */
    void (*tap)(const aof_rec *r); /* sees every record in order */

    int on;                 /* files are open */
    int fd;                 /* current incremental file */
    aof_manifest man;
    long long incr_seq, base_seq;
    char *base_name;
    long long base_size, incr_size, rewrite_base_size;
    long long fd_size;      /* bytes in the current incremental file */
    int cur_db;
    long long last_ts;

    aof_rec **pend;         /* received, not yet written; sorted by seq */
    int npend, pend_cap;
    uint64_t written_seq;   /* every record up to here is in `buf` or on disk */
    cbstr buf;              /* bytes not yet written to the file */
    long long last_retry_ms;

    /* fsync thread (everysec) */
    pthread_t bio;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int bio_started, bio_req, bio_busy, bio_fd, bio_errno;
    long long last_fsync_ms;
    long long postponed_since;
    uint64_t delayed_fsync;

    /* rewrites */
    int rewrites, rewrite_failures;
    int last_rewrite_ok;
    long long last_rewrite_secs;
    int rewrite_in_progress;    /* (atomic) */
    long long rewrite_started_ms;
    uint64_t last_cow;
    /* The rewrite in flight: its files, and whether it turns the AOF on. */
    int rw_enabling;
    long long rw_bseq, rw_iseq;
    char rw_bname[1024], rw_iname[1024];

    /* What INFO (on a worker thread) reads: published after each tick. */
    long long pub_cur_size, pub_base_size, pub_buflen;
} aof_state;

static aof_state A = {.fd = -1, .efd = -1, .cur_db = -1, .last_rewrite_ok = 1,
                      .last_rewrite_secs = -1, .bio_fd = -1};

/* ------------------------------------------------------------ workers */

int aof_recording(void) { return __atomic_load_n(&A.recording, __ATOMIC_ACQUIRE); }
uint64_t aof_take_seq(void) { return __atomic_add_fetch(&A.last_seq, 1, __ATOMIC_ACQ_REL); }
uint64_t aof_last_seq(void) { return __atomic_load_n(&A.last_seq, __ATOMIC_ACQUIRE); }
uint64_t aof_synced_seq(void) { return __atomic_load_n(&A.synced_seq, __ATOMIC_SEQ_CST); }
int aof_hold_replies(void) { return __atomic_load_n(&A.hold, __ATOMIC_RELAXED); }

void aof_kick(void) {
    if (A.efd < 0) return;
    uint64_t one = 1;
    ssize_t r = write(A.efd, &one, sizeof(one));
    (void)r;
}

const char *aof_write_error(void) {
    int e = __atomic_load_n(&A.write_errno, __ATOMIC_RELAXED);
    if (!e) e = __atomic_load_n(&A.fsync_errno, __ATOMIC_RELAXED);
    return e ? strerror(e) : NULL;
}

int aof_write_refusal(char *buf, size_t n) {
    const char *e = aof_write_error();
    if (!e) return 0;
    snprintf(buf, n, "-MISCONF Errors writing to the AOF file: %s", e);
    return 1;
}

int aof_error_action(int policy) { return policy == AOF_FSYNC_ALWAYS ? AOF_ERR_EXIT : AOF_ERR_REFUSE; }

int aof_rewrite_pending(void) {
    return __atomic_load_n(&A.rewrite_in_progress, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&A.rewrite_req, __ATOMIC_ACQUIRE);
}

int aof_request_rewrite(void) {
    if (__atomic_load_n(&A.rewrite_in_progress, __ATOMIC_ACQUIRE)) return 1;
    if (bgsave_in_progress()) {
        /* One snapshot at a time: it starts when the BGSAVE is done. */
        __atomic_store_n(&A.rewrite_sched, 1, __ATOMIC_RELEASE);
        aof_kick();
        return 2;
    }
    int expected = 0;
    if (!__atomic_compare_exchange_n(&A.rewrite_req, &expected, 1, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return 1;
    aof_kick();
    return 0;
}

int aof_event_fd(void) {
    if (A.efd < 0) A.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return A.efd;
}


/* ---------------------------------------------------------- file I/O */

static ssize_t aof_write_raw(int fd, const void *p, size_t n) { return pio()->write(fd, p, n); }

static int aof_fsync_raw(int fd) { return pio()->fdatasync(fd); }

static void dir_path(char *out, size_t n, const char *file) {
    snprintf(out, n, "%s/%s", g_config.appenddirname, file);
}

static void fsync_dir(void) {
    int dfd = open(g_config.appenddirname, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)pio()->fsync(dfd);
        close(dfd);
    }
}

static long long file_size(const char *name) {
    char p[4096];
    dir_path(p, sizeof(p), name);
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : 0;
}

/* The fsync thread: one fdatasync per request, off the management loop so
 * a slow disk does not stop the writer (everysec). */
static void *bio_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&A.mu);
    for (;;) {
        while (!A.bio_req) pthread_cond_wait(&A.cv, &A.mu);
        if (A.bio_req < 0) break;
        A.bio_req = 0;
        int fd = A.bio_fd;
        pthread_mutex_unlock(&A.mu);
        int rc = aof_fsync_raw(fd);
        int e = rc == 0 ? 0 : errno;
        pthread_mutex_lock(&A.mu);
        A.bio_errno = e;
        __atomic_store_n(&A.bio_busy, 0, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&A.mu);
    return NULL;
}

static void bio_request(int fd) {
    if (!A.bio_started) {
        pthread_mutex_init(&A.mu, NULL);
        pthread_cond_init(&A.cv, NULL);
        if (pthread_create(&A.bio, NULL, bio_main, NULL) != 0) {
            (void)aof_fsync_raw(fd);
            return;
        }
        A.bio_started = 1;
    }
    pthread_mutex_lock(&A.mu);
    A.bio_fd = fd;
    A.bio_req = 1;
    __atomic_store_n(&A.bio_busy, 1, __ATOMIC_RELEASE);
    pthread_cond_signal(&A.cv);
    pthread_mutex_unlock(&A.mu);
}

static int bio_busy(void) { return A.bio_started && __atomic_load_n(&A.bio_busy, __ATOMIC_ACQUIRE); }

/* Wait for an fsync in flight (before a file is closed or switched). */
static void bio_drain(void) {
    while (bio_busy()) usleep(1000);
}

/* ------------------------------------------------------- serializing */

cbstr aof_cat_cmd(cbstr b, int argc, const char *const *argv, const size_t *lens) {
    b = cbstr_catfmt(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        b = cbstr_catfmt(b, "$%zu\r\n", lens[i]);
        b = cbstr_cat(b, argv[i], lens[i]);
        b = cbstr_cat(b, "\r\n", 2);
    }
    return b;
}

static cbstr cat_select(cbstr b, int db) {
    char num[16];
    int n = snprintf(num, sizeof(num), "%d", db);
    const char *argv[2] = {"SELECT", num};
    size_t lens[2] = {6, (size_t)n};
    return aof_cat_cmd(b, 2, argv, lens);
}

static void append_record(const aof_rec *r) {
    if (g_config.aof_timestamp_enabled) {
        long long now = util_mstime() / 1000;
        if (now != A.last_ts) {
            A.buf = cbstr_catfmt(A.buf, "#TS:%lld\r\n", now);
            A.last_ts = now;
        }
    }
    const char *p = r->data;
    for (uint32_t i = 0; i < r->nops; i++) {
        int32_t db;
        uint32_t n;
        memcpy(&db, p, sizeof(db));
        memcpy(&n, p + sizeof(db), sizeof(n));
        p += sizeof(db) + sizeof(n);
        if (db != A.cur_db) {
            A.buf = cat_select(A.buf, db);
            A.cur_db = db;
        }
        if (i == 0 && r->nops > 1) A.buf = cbstr_cat(A.buf, "*1\r\n$5\r\nMULTI\r\n", 15);
        A.buf = cbstr_cat(A.buf, p, n);
        p += n;
    }
    if (r->nops > 1) A.buf = cbstr_cat(A.buf, "*1\r\n$4\r\nEXEC\r\n", 14);
}

/* ------------------------------------------------------ the pending set */

static void pend_insert(aof_rec *r) {
    if (A.npend == A.pend_cap) {
        A.pend_cap = A.pend_cap ? A.pend_cap * 2 : 256;
        A.pend = cb_realloc(A.pend, sizeof(*A.pend) * (size_t)A.pend_cap);
    }
    /* Records arrive nearly sorted: insert from the back. */
    int i = A.npend;
    while (i > 0 && A.pend[i - 1]->seq > r->seq) {
        A.pend[i] = A.pend[i - 1];
        i--;
    }
    A.pend[i] = r;
    A.npend++;
}

static void drain_rings(int include_ovf) {
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w || !w->aof_ring) continue;
        aof_rec *r;
        while ((r = ring_dequeue(w->aof_ring)) != NULL) pend_insert(r);
        if (include_ovf) prop_take_overflow(w, pend_insert);
    }
}

/* Moves the gap-free prefix of pending records into buf. */
static void serialize_ready(void) {
    int k = 0;
    while (k < A.npend && A.pend[k]->seq == A.written_seq + 1) {
        if (A.on) append_record(A.pend[k]);
        if (A.tap) A.tap(A.pend[k]);
        A.written_seq = A.pend[k]->seq;
        cb_free(A.pend[k]);
        k++;
    }
    /* Stale records (recorded before a rewrite took them in the base). */
    while (k < A.npend && A.pend[k]->seq <= A.written_seq) cb_free(A.pend[k++]);
    if (!k) return;
    memmove(A.pend, A.pend + k, sizeof(*A.pend) * (size_t)(A.npend - k));
    A.npend -= k;
}

static void wake_waiting_workers(void) {
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (w && __atomic_load_n(&w->aof_waiting, __ATOMIC_SEQ_CST)) kdrv_wake(w);
    }
}

static void fatal_always(const char *what, int e) {
    cb_log(LOG_WARNING, "Can't %s when the AOF fsync policy is 'always': %s. Exiting...", what,
           strerror(e));
    _exit(1);
}

/* Writes buf out. 0 all written, -1 error (kept for a retry). */
static int write_buf(void) {
    size_t len = cbstr_len(A.buf);
    if (!len) return 0;
    ssize_t n = aof_write_raw(A.fd, A.buf, len);
    if (n == (ssize_t)len) {
        A.incr_size += n;
        A.fd_size += n;
        cbstr_clear(A.buf);
        if (__atomic_load_n(&A.write_errno, __ATOMIC_RELAXED)) {
            cb_log(LOG_WARNING, "AOF write error looks solved, Redis can write again.");
            __atomic_store_n(&A.write_errno, 0, __ATOMIC_RELEASE);
        }
        return 0;
    }
    int e = n < 0 ? errno : ENOSPC;
    if (n > 0) {
        /* A partial write: cut it off so the file ends at a record edge. */
        if (pio()->ftruncate(A.fd, A.fd_size) != 0) {
            A.incr_size += n;
            A.fd_size += n;
            cbstr_range(A.buf, (size_t)n, len - (size_t)n);
        }
    }
    if (aof_error_action(g_config.appendfsync) == AOF_ERR_EXIT)
        fatal_always("recover from AOF write error", e);
    if (!__atomic_load_n(&A.write_errno, __ATOMIC_RELAXED))
        cb_log(LOG_WARNING, "Error writing to the AOF file: %s", strerror(e));
    __atomic_store_n(&A.write_errno, e, __ATOMIC_RELEASE);
    A.last_retry_ms = util_mstime();
    return -1;
}

static void flush_and_sync(int force_sync) {
    if (!A.on) return;
    long long now = util_mstime();
    int policy = g_config.appendfsync;
    if (policy == AOF_FSYNC_EVERYSEC && !force_sync && cbstr_len(A.buf) && bio_busy()) {
        /* The disk is slow: hold the write for up to two seconds. */
        if (!A.postponed_since) {
            A.postponed_since = now;
            return;
        }
        if (now - A.postponed_since < 2000) return;
        A.delayed_fsync++;
        cb_log(LOG_NOTICE, "Asynchronous AOF fsync is taking too long (disk is busy?). Writing "
                           "the AOF buffer without waiting for fsync to complete, this may slow "
                           "down Redis.");
    }
    A.postponed_since = 0;
    if (__atomic_load_n(&A.write_errno, __ATOMIC_RELAXED) && !force_sync &&
        now - A.last_retry_ms < 100)
        return;
    if (write_buf() != 0) {
        /* everysec/no: as in Redis the replies still go (the bytes wait in
         * the buffer for the retry) and new writes get MISCONF. */
        __atomic_store_n(&A.synced_seq, A.written_seq, __ATOMIC_SEQ_CST);
        wake_waiting_workers();
        return;
    }
    int skip_sync = g_config.no_appendfsync_on_rewrite && A.rewrite_in_progress;
    if (policy == AOF_FSYNC_ALWAYS) {
        if (!skip_sync && aof_fsync_raw(A.fd) != 0 && aof_error_action(policy) == AOF_ERR_EXIT)
            fatal_always("persist AOF for fsync error", errno);
        A.last_fsync_ms = now;
    } else if (policy == AOF_FSYNC_EVERYSEC) {
        /* The background fsync's outcome: an error refuses writes until a
         * later fsync succeeds, as Redis's aof_bio_fsync_status. */
        if (A.bio_started && !bio_busy()) {
            pthread_mutex_lock(&A.mu);
            int e = A.bio_errno;
            pthread_mutex_unlock(&A.mu);
            int was = __atomic_load_n(&A.fsync_errno, __ATOMIC_RELAXED);
            if (e && !was) cb_log(LOG_WARNING, "Fail to fsync the AOF file: %s", strerror(e));
            if (!e && was) cb_log(LOG_WARNING, "AOF fsync error looks solved, Redis can write again.");
            __atomic_store_n(&A.fsync_errno, e, __ATOMIC_RELEASE);
        }
        if ((force_sync || now - A.last_fsync_ms >= 1000) && !skip_sync) {
            if (force_sync) {
                bio_drain();
                (void)aof_fsync_raw(A.fd);
            } else if (!bio_busy()) {
                bio_request(A.fd);
            }
            A.last_fsync_ms = now;
        }
    } else if (force_sync) {
        (void)aof_fsync_raw(A.fd);
    }
    __atomic_store_n(&A.synced_seq, A.written_seq, __ATOMIC_SEQ_CST);
    wake_waiting_workers();
}

/* --------------------------------------------------------------- files */

static void file_name(char *out, size_t n, long long seq, const char *kind) {
    snprintf(out, n, "%s.%lld.%s", g_config.appendfilename, seq, kind);
}

static int open_incr(const char *name) {
    char p[4096];
    dir_path(p, sizeof(p), name);
    int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) cb_log(LOG_WARNING, "Can't open the append-only file %s: %s", name, strerror(errno));
    return fd;
}

static cb_shard **all_shards(void) {
    cb_shard **s = cb_malloc(sizeof(*s) * (size_t)(g_server.nworkers ? g_server.nworkers : 1));
    for (int i = 0; i < g_server.nworkers; i++) s[i] = g_server.workers[i]->shard;
    return s;
}

/* A base written in one go (RDB preamble or AOF commands), for start-up
 * before any worker runs; at run time rewrite_begin() uses the fork-less
 * snapshot instead. 0 ok, -1 logged. */
static int write_base(const char *name, int rdb) {
    char p[4096];
    dir_path(p, sizeof(p), name);
    cb_shard **shards = all_shards();
    char *err = NULL;
    int rc = rdb ? rdb_save_file(shards, g_server.nworkers, p, &err)
                 : aof_rewrite_commands(shards, g_server.nworkers, p, &err);
    cb_free(shards);
    if (rc != 0) {
        cb_log(LOG_WARNING, "Error writing the AOF base file %s: %s", name,
               err ? err : "unknown error");
        cb_free(err);
        return -1;
    }
    return 0;
}

static void remove_file(const char *name) {
    char p[4096];
    dir_path(p, sizeof(p), name);
    if (unlink(p) != 0 && errno != ENOENT)
        cb_log(LOG_WARNING, "Can't remove the old AOF file %s: %s", name, strerror(errno));
}

static long long max_seq(char type) {
    long long m = 0;
    for (int i = 0; i < A.man.n; i++)
        if (A.man.files[i].type == type && A.man.files[i].seq > m) m = A.man.files[i].seq;
    return m;
}

/* Everything recorded so far goes to the current file and is synced. */
static void settle(void) {
    drain_rings(1);
    serialize_ready();
    flush_and_sync(1);
    bio_drain();
}

/* New base + new incremental file + manifest, old files deleted, all in
 * one go: start-up only (no worker runs). with_incr: open an incremental
 * file (AOF on). */
static int do_rewrite(int with_incr) {
    long long start = util_mstime();
    A.rewrite_in_progress = 1;
    A.rewrite_started_ms = start;
    if (A.on) settle();
    if (mkdir(g_config.appenddirname, 0755) != 0 && errno != EEXIST) {
        cb_log(LOG_WARNING, "Can't create the append-only dir %s: %s", g_config.appenddirname,
               strerror(errno));
        goto fail;
    }
    long long bseq = max_seq('b') + 1, iseq = max_seq('i') + 1;
    int rdb = g_config.aof_use_rdb_preamble;
    char bname[1024], iname[1024];
    file_name(bname, sizeof(bname), bseq, rdb ? "base.rdb" : "base.aof");
    file_name(iname, sizeof(iname), iseq, "incr.aof");
    int nfd = -1;
    if (with_incr) {
        nfd = open_incr(iname);
        if (nfd < 0) goto fail;
        if (ftruncate(nfd, 0) != 0) {
            close(nfd);
            goto fail;
        }
    }
    if (write_base(bname, rdb) != 0) {
        if (nfd >= 0) {
            close(nfd);
            remove_file(iname);
        }
        goto fail;
    }
    aof_manifest nm = {0};
    aof_manifest_add(&nm, bname, bseq, 'b');
    if (with_incr) aof_manifest_add(&nm, iname, iseq, 'i');
    char mname[1024];
    snprintf(mname, sizeof(mname), "%s.manifest", g_config.appendfilename);
    if (aof_manifest_write(g_config.appenddirname, mname, &nm) != 0) {
        cb_log(LOG_WARNING, "Can't write the AOF manifest: %s", strerror(errno));
        aof_manifest_free(&nm);
        if (nfd >= 0) {
            close(nfd);
            remove_file(iname);
        }
        remove_file(bname);
        goto fail;
    }
    /* The new manifest is durable: the old files are history now. */
    for (int i = 0; i < A.man.n; i++)
        if (strcmp(A.man.files[i].name, bname) && strcmp(A.man.files[i].name, iname))
            remove_file(A.man.files[i].name);
    fsync_dir();
    aof_manifest_free(&A.man);
    A.man = nm;
    if (A.fd >= 0) close(A.fd);
    A.fd = nfd;
    A.fd_size = 0;
    A.cur_db = -1;
    A.last_ts = 0;
    A.base_size = file_size(bname);
    A.incr_size = 0;
    A.rewrite_base_size = A.base_size;
    A.rewrites++;
    A.rewrite_failures = 0;
    A.last_rewrite_ok = 1;
    A.last_rewrite_secs = (util_mstime() - start) / 1000;
    A.rewrite_in_progress = 0;
    cb_log(LOG_NOTICE, "Background AOF rewrite finished successfully");
    return 0;
fail:
    A.rewrite_failures++;
    A.last_rewrite_ok = 0;
    A.last_rewrite_secs = (util_mstime() - start) / 1000;
    A.rewrite_in_progress = 0;
    cb_log(LOG_WARNING, "Background AOF rewrite failed");
    return -1;
}

static void set_recording(int on) {
    __atomic_store_n(&A.hold, on, __ATOMIC_RELEASE);
    __atomic_store_n(&A.recording, on || __atomic_load_n(&A.tap_on, __ATOMIC_ACQUIRE),
                     __ATOMIC_RELEASE);
}

void aof_set_tap(void (*tap)(const aof_rec *r)) { A.tap = tap; }

void aof_tap_recording(int on) {
    __atomic_store_n(&A.tap_on, on, __ATOMIC_RELEASE);
    __atomic_store_n(&A.recording, on || A.on, __ATOMIC_RELEASE);
}

void aof_feed_parked(void) {
    drain_rings(1);
    serialize_ready();
}

/* What INFO (on a worker thread) reads about the files. */
static void publish_sizes(void) {
    __atomic_store_n(&A.pub_cur_size, A.base_size + A.incr_size, __ATOMIC_RELAXED);
    __atomic_store_n(&A.pub_base_size, A.base_size, __ATOMIC_RELAXED);
    __atomic_store_n(&A.pub_buflen, (long long)cbstr_len(A.buf), __ATOMIC_RELAXED);
}

/* ------------------------------------------- rewrites without parking */

static void rewrite_finished(int result, uint64_t cow);

/* Starts a rewrite (management thread; no snapshot runs). The workers are
 * parked only for the epoch: the records up to it go to the current
 * incremental file, the ones after it to a new file opened here, and the
 * data set at the epoch is serialized by the workers into the new base
 * while they keep serving (bgsave_start_aof). enabling: CONFIG SET
 * appendonly yes, recording starts at the epoch. 0 started, 1 a BGSAVE
 * runs (try again when it is done), -1 failed (logged). */
static int rewrite_begin(int enabling) {
    long long start = util_mstime();
    int was_on = A.on;
    int nfd = -1;
    if (mkdir(g_config.appenddirname, 0755) != 0 && errno != EEXIST) {
        cb_log(LOG_WARNING, "Can't create the append-only dir %s: %s", g_config.appenddirname,
               strerror(errno));
        goto fail;
    }
    /* Most of what the old file still lacks goes out before the park. */
    if (was_on) {
        drain_rings(0);
        serialize_ready();
        flush_and_sync(1);
        bio_drain();
    }
    int rdb = g_config.aof_use_rdb_preamble;
    A.rw_bseq = max_seq('b') + 1;
    A.rw_iseq = max_seq('i') + 1;
    A.rw_enabling = enabling;
    file_name(A.rw_bname, sizeof(A.rw_bname), A.rw_bseq, rdb ? "base.rdb" : "base.aof");
    file_name(A.rw_iname, sizeof(A.rw_iname), A.rw_iseq, "incr.aof");
    char mname[1024];
    snprintf(mname, sizeof(mname), "%s.manifest", g_config.appendfilename);
    if (was_on || enabling) {
        nfd = open_incr(A.rw_iname);
        if (nfd < 0) goto fail;
        if (ftruncate(nfd, 0) != 0) goto fail_incr;
        cb_log(LOG_NOTICE, "Creating AOF incr file %s on background rewrite", A.rw_iname);
    }
    if (was_on) {
        /* The manifest names the new file from now on: a crash during the
         * rewrite loads the old base, the old files, then this one. */
        aof_manifest_add(&A.man, A.rw_iname, A.rw_iseq, 'i');
        if (aof_manifest_write(g_config.appenddirname, mname, &A.man) != 0) {
            cb_log(LOG_WARNING, "Can't write the AOF manifest: %s", strerror(errno));
            A.man.n--;
            cb_free(A.man.files[A.man.n].name);
            goto fail_incr;
        }
    }
    __atomic_store_n(&A.rewrite_started_ms, start, __ATOMIC_RELAXED);
    xshard_park_all();
    if (bgsave_child_active()) {
        /* A BGSAVE started meanwhile: this rewrite waits for it. */
        xshard_release_all();
        if (was_on) {
            A.man.n--;
            cb_free(A.man.files[A.man.n].name);
            if (aof_manifest_write(g_config.appenddirname, mname, &A.man) != 0)
                cb_log(LOG_WARNING, "Can't write the AOF manifest: %s", strerror(errno));
        }
        if (nfd >= 0) {
            close(nfd);
            remove_file(A.rw_iname);
        }
        return 1;
    }
    int ready = 1;
    if (was_on) {
        /* Every record up to the epoch, written to the old file. */
        drain_rings(1);
        serialize_ready();
        ready = write_buf() == 0;
    } else if (enabling) {
        /* Records before the epoch belong to the base; the replication
         * tap still sees them (A.on is 0, so none reaches a file). */
        drain_rings(1);
        serialize_ready();
        for (int i = 0; i < A.npend; i++) cb_free(A.pend[i]);
        A.npend = 0;
        A.written_seq = aof_last_seq();
        __atomic_store_n(&A.synced_seq, A.written_seq, __ATOMIC_SEQ_CST);
        cbstr_clear(A.buf);
    }
    ready = ready && bgsave_start_aof(g_config.appenddirname, A.rw_bname, rdb,
                                      rewrite_finished) == 0;
    if (ready) {
        if (enabling) set_recording(1);
        /* INFO never shows it both scheduled and running. */
        A.rewrites++;
        __atomic_store_n(&A.rewrite_sched, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&A.rewrite_req, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&A.rewrite_in_progress, 1, __ATOMIC_RELEASE);
    }
    xshard_release_all();
    if (!ready) {
        /* With the AOF on, the new (empty) file stays in the manifest after
         * the old one: loading order is still right. */
        if (nfd >= 0) close(nfd);
        if (!was_on && nfd >= 0) remove_file(A.rw_iname);
        nfd = -1;
        goto fail;
    }
    cb_log(LOG_NOTICE, "Background append only file rewriting started by pid %ld",
           (long)getpid());
    if (was_on) {
        /* The old file ends at the epoch: make it durable, then let the
         * replies that waited for it go. */
        if (aof_fsync_raw(A.fd) != 0 && aof_error_action(g_config.appendfsync) == AOF_ERR_EXIT)
            fatal_always("persist AOF for fsync error", errno);
        close(A.fd);
        __atomic_store_n(&A.synced_seq, A.written_seq, __ATOMIC_SEQ_CST);
        wake_waiting_workers();
    }
    if (nfd >= 0) {
        A.fd = nfd;
        A.fd_size = 0;
        A.on = 1;
        A.cur_db = -1;
        A.last_ts = 0;
    }
    return 0;
fail_incr:
    close(nfd);
    remove_file(A.rw_iname);
fail:
    A.rewrite_failures++;
    A.last_rewrite_ok = 0;
    cb_log(LOG_WARNING, "Can't rewrite append only file in background");
    return -1;
}

/* The snapshot is done (bgsave.c, management thread): on success the new
 * base and the new incremental file replace everything else. */
static void rewrite_finished(int result, uint64_t cow) {
    int ok = result == 1;
    A.last_rewrite_secs = (util_mstime() - A.rewrite_started_ms) / 1000;
    if (ok) {
        aof_manifest nm = {0};
        aof_manifest_add(&nm, A.rw_bname, A.rw_bseq, 'b');
        if (A.on) aof_manifest_add(&nm, A.rw_iname, A.rw_iseq, 'i');
        char mname[1024];
        snprintf(mname, sizeof(mname), "%s.manifest", g_config.appendfilename);
        if (aof_manifest_write(g_config.appenddirname, mname, &nm) != 0) {
            cb_log(LOG_WARNING, "Can't write the AOF manifest: %s", strerror(errno));
            aof_manifest_free(&nm);
            remove_file(A.rw_bname);
            ok = 0;
        } else {
            for (int i = 0; i < A.man.n; i++)
                if (strcmp(A.man.files[i].name, A.rw_bname) &&
                    strcmp(A.man.files[i].name, A.rw_iname)) {
                    cb_log(LOG_NOTICE, "Removing the history file %s in the background",
                           A.man.files[i].name);
                    remove_file(A.man.files[i].name);
                }
            fsync_dir();
            aof_manifest_free(&A.man);
            A.man = nm;
            A.base_size = file_size(A.rw_bname);
            A.incr_size = A.on ? file_size(A.rw_iname) : 0;
            A.rewrite_base_size = A.base_size + A.incr_size;
            A.rewrite_failures = 0;
            A.last_rewrite_ok = 1;
            A.last_cow = cow;
            cb_log(LOG_NOTICE, "Background AOF rewrite finished successfully");
        }
    }
    if (!ok) {
        if (A.rw_enabling) {
            /* Turning on failed: back to off, as before the request. */
            if (A.on) {
                set_recording(0);
                if (A.fd >= 0) close(A.fd);
                A.fd = -1;
                A.on = 0;
                cbstr_clear(A.buf);
                __atomic_store_n(&A.synced_seq, aof_last_seq(), __ATOMIC_SEQ_CST);
                wake_waiting_workers();
            }
            remove_file(A.rw_iname);
        }
        /* Killed (SHUTDOWN, appendonly no) is not an error, as Redis's
         * SIGUSR1 to its child. */
        if (result == 0) {
            A.rewrite_failures++;
            A.last_rewrite_ok = 0;
        }
    }
    A.rw_enabling = 0;
    publish_sizes(); /* before the flag: INFO shows the new sizes with it */
    __atomic_store_n(&A.rewrite_in_progress, 0, __ATOMIC_RELEASE);
}

/* Turning on at run time: the base is the data set at this instant; the
 * records from here on go to the new incremental file. */
static void enable_now(void) {
    if (rewrite_begin(1) == 1) {
        int none = 0;
        __atomic_compare_exchange_n(&A.enable_req, &none, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    }
}

static void disable_now(void) {
    set_recording(0);
    xshard_park_all();
    /* Redis kills a rewrite in flight; its new file stays listed. */
    bgsave_kill_aof(NULL);
    settle();
    if (A.fd >= 0) close(A.fd);
    A.fd = -1;
    A.on = 0;
    __atomic_store_n(&A.write_errno, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&A.synced_seq, aof_last_seq(), __ATOMIC_RELEASE);
    wake_waiting_workers();
    xshard_release_all();
}

int aof_set_enabled(int on, const char **err) {
    (void)err;
    __atomic_store_n(&A.enable_req, on ? 1 : 2, __ATOMIC_RELEASE);
    aof_kick();
    return 0;
}

/* ------------------------------------------------------------ start-up */

int aof_open_at_startup(void) {
    if (A.buf == NULL) A.buf = cbstr_with_cap(64 * 1024);
    aof_event_fd();
    if (!g_config.appendonly) return 0;
    char mpath[4096], mname[1024];
    snprintf(mname, sizeof(mname), "%s.manifest", g_config.appendfilename);
    dir_path(mpath, sizeof(mpath), mname);
    char err[256];
    aof_manifest m;
    int rc = aof_manifest_read(mpath, &m, err, sizeof(err));
    if (rc < 0) {
        cb_log(LOG_WARNING, "%s", err);
        return -1;
    }
    if (rc == 0 && aof_manifest_base(&m)) {
        /* Append to the last incremental file, as Redis does; a base alone
         * (an upgraded old-style AOF, or a rewrite with the AOF off) gets
         * its first incremental file. */
        A.man = m;
        const aof_mfile *last = &A.man.files[A.man.n - 1];
        if (last->type != 'i') {
            char iname[1024];
            file_name(iname, sizeof(iname), max_seq('i') + 1, "incr.aof");
            aof_manifest_add(&A.man, iname, max_seq('i') + 1, 'i');
            if (aof_manifest_write(g_config.appenddirname, mname, &A.man) != 0) {
                cb_log(LOG_WARNING, "Can't write the AOF manifest: %s", strerror(errno));
                return -1;
            }
            last = &A.man.files[A.man.n - 1];
        }
        A.fd = open_incr(last->name);
        if (A.fd < 0) return -1;
        A.fd_size = file_size(last->name);
        A.base_size = file_size(aof_manifest_base(&A.man)->name);
        A.incr_size = 0;
        for (int i = 0; i < A.man.n; i++)
            if (A.man.files[i].type == 'i') A.incr_size += file_size(A.man.files[i].name);
        A.rewrite_base_size = A.base_size + A.incr_size;
        A.on = 1;
        set_recording(1);
        return 0;
    }
    if (rc == 0) A.man = m;
    cb_log(LOG_NOTICE, "Creating AOF base file %s.1.base.%s on server start",
           g_config.appendfilename, g_config.aof_use_rdb_preamble ? "rdb" : "aof");
    if (do_rewrite(1) != 0) return -1;
    /* What Redis 7.0 reports after creating the first base at start. */
    A.rewrites = 0;
    A.last_rewrite_secs = -1;
    A.base_size = A.rewrite_base_size = 0;
    A.on = 1;
    set_recording(1);
    return 0;
}

/* ---------------------------------------------------------------- tick */

static void maybe_auto_rewrite(void) {
    if (!A.on || !g_config.auto_aof_rewrite_percentage) return;
    if (__atomic_load_n(&A.rewrite_in_progress, __ATOMIC_ACQUIRE) || bgsave_child_active()) return;
    long long cur = A.base_size + A.incr_size;
    if (cur < g_config.auto_aof_rewrite_min_size) return;
    long long base = A.rewrite_base_size ? A.rewrite_base_size : 1;
    long long growth = cur * 100 / base - 100;
    if (growth >= g_config.auto_aof_rewrite_percentage) {
        cb_log(LOG_NOTICE, "Starting automatic rewriting of AOF on %lld%% growth", growth);
        int expected = 0;
        __atomic_compare_exchange_n(&A.rewrite_req, &expected, 1, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE);
    }
}

void aof_tick(void) {
    if (A.efd >= 0) {
        uint64_t v;
        ssize_t r = read(A.efd, &v, sizeof(v));
        (void)r;
    }
    if (A.buf == NULL) A.buf = cbstr_with_cap(64 * 1024);
    int req = __atomic_exchange_n(&A.enable_req, 0, __ATOMIC_ACQ_REL);
    if (req == 1 && !A.on) {
        /* One snapshot at a time: turn on once the BGSAVE is done. */
        if (bgsave_child_active()) {
            int none = 0;
            __atomic_compare_exchange_n(&A.enable_req, &none, 1, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE);
        } else {
            enable_now();
        }
    }
    if (req == 2 && A.on) disable_now();
    drain_rings(0);
    serialize_ready();
    flush_and_sync(0);
    maybe_auto_rewrite();
    int want = __atomic_load_n(&A.rewrite_req, __ATOMIC_ACQUIRE) ||
               __atomic_load_n(&A.rewrite_sched, __ATOMIC_ACQUIRE);
    if (want && !A.rewrite_in_progress && !bgsave_child_active() && rewrite_begin(0) != 1) {
        __atomic_store_n(&A.rewrite_sched, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&A.rewrite_req, 0, __ATOMIC_RELEASE);
    }
    publish_sizes();
}

void aof_flush_at_exit(void) {
    if (!A.on) return;
    settle();
    if (A.bio_started) {
        pthread_mutex_lock(&A.mu);
        A.bio_req = -1;
        pthread_cond_signal(&A.cv);
        pthread_mutex_unlock(&A.mu);
        pthread_join(A.bio, NULL);
        A.bio_started = 0;
    }
}

/* ---------------------------------------------------------------- INFO */

char *aof_info_fields(char *s) {
    cbstr b = s;
    long long now = util_mstime();
    int on = A.on || g_config.appendonly;
    const char *status = aof_write_error() ? "err" : "ok";
    /* From BGREWRITEAOF's reply on it is in progress, as in Redis (our
     * management thread starts it a moment later). */
    int req = __atomic_load_n(&A.rewrite_req, __ATOMIC_ACQUIRE);
    int blocked = bgsave_in_progress();
    int in_prog = __atomic_load_n(&A.rewrite_in_progress, __ATOMIC_ACQUIRE) || (req && !blocked);
    int sched = __atomic_load_n(&A.rewrite_sched, __ATOMIC_ACQUIRE) || (req && blocked);
    long long started = __atomic_load_n(&A.rewrite_started_ms, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&A.rewrite_in_progress, __ATOMIC_ACQUIRE)) started = 0;
    b = cbstr_catfmt(b,
                     "aof_enabled:%d\r\n"
                     "aof_rewrite_in_progress:%d\r\n"
                     "aof_rewrite_scheduled:%d\r\n"
                     "aof_last_rewrite_time_sec:%lld\r\n"
                     "aof_current_rewrite_time_sec:%lld\r\n"
                     "aof_last_bgrewrite_status:%s\r\n"
                     "aof_rewrites:%d\r\n"
                     "aof_rewrites_consecutive_failures:%d\r\n"
                     "aof_last_write_status:%s\r\n"
                     "aof_last_cow_size:%llu\r\n"
                     "module_fork_in_progress:0\r\n"
                     "module_fork_last_cow_size:0\r\n",
                     on, in_prog, sched, A.last_rewrite_secs,
                     in_prog && started ? (now - started) / 1000 : -1LL,
                     A.last_rewrite_ok ? "ok" : "err", A.rewrites, A.rewrite_failures, status,
                     (unsigned long long)A.last_cow);
    if (on)
        b = cbstr_catfmt(b,
                         "aof_current_size:%lld\r\n"
                         "aof_base_size:%lld\r\n"
                         "aof_pending_rewrite:%d\r\n"
                         "aof_buffer_length:%lld\r\n"
                         "aof_pending_bio_fsync:%d\r\n"
                         "aof_delayed_fsync:%llu\r\n",
                         __atomic_load_n(&A.pub_cur_size, __ATOMIC_RELAXED),
                         __atomic_load_n(&A.pub_base_size, __ATOMIC_RELAXED), sched,
                         __atomic_load_n(&A.pub_buflen, __ATOMIC_RELAXED), bio_busy(),
                         (unsigned long long)__atomic_load_n(&A.delayed_fsync, __ATOMIC_RELAXED));
    return b;
}
