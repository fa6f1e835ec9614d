/* bgsave.c — fork-less background snapshots (see bgsave.h and
 * docs/snapshots.md).
 *
 * Three parties, three layers of this file:
 *   - the epoch (bgsave_start, every shard held): each shard starts its
 *     store-side cursor (store/snapshot.h) with bg_emit as the sink;
 *   - the producers (bgsave_worker_step and the write hooks, on the worker
 *     that owns the shard): bg_emit encodes each key with the RDB encoders
 *     into the shard's current chunk; full chunks go over the shard's SPSC
 *     ring to the management thread. A chunk that finds the ring full waits
 *     in the shard's overflow list, and while anything waits there the
 *     walker does no work: memory in flight stays bounded by the ring plus
 *     what writes force out ahead of the walker;
 *   - the consumer (bgsave_mgmt_pump, management thread): temp file,
 *     header, chunks in arrival order (each chunk starts with SELECTDB, so
 *     chunks of different shards may interleave), trailer with CRC-64,
 *     fsync, rename, directory fsync, status.
 * Abort (disk error, FLUSHALL, shutdown) is a flag: producers drop their
 * state at their next turn (or the killer drops it for them, holding every
 * shard), then the consumer drains the rings and removes the temp file.
 */
#include "bgsave.h"
#include "pio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aof_rewrite.h"
#include "crc64.h"
#include "loading.h"
#include "rdb.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/ring.h"
#include "../platform/util.h"
#include "../store/db.h"
#include "../store/snapshot.h"

/* A chunk is handed over once it holds this many bytes. */
#define BG_CHUNK 16384
/* Chunks in flight per shard: with BG_CHUNK, 256 KiB per shard. */
#define BG_RING 16
/* Walker time per loop turn. */
#define BG_STEP_US 50
/* Redis's CONFIG_BGSAVE_RETRY_DELAY: seconds between failed attempts. */
#define BG_RETRY_DELAY 5

/* Save points kept for the cron (more are ignored). */
#define BG_MAX_POINTS 64

/* What an epoch produces: dump.rdb (BGSAVE, save points) or the base of
 * an AOF rewrite (RDB preamble or commands). Only one runs at a time, as
 * Redis runs one child at a time. */
enum { BG_RDB = 0, BG_AOF = 1 };

/* Ring markers besides chunks. */
static char bg_done_marker;

/* One shard's producer state: written by the shard's owner (or by a
 * coordinator while the owner is parked); the ring is the only thing the
 * management thread reads. */
typedef struct bg_shard {
    cb_shard *shard;
    cb_ring *ring;
    int active;               /* this epoch still has work or output here */
    int finished;             /* the done marker is queued (maybe in ovf) */
    cbstr cur;                /* chunk being filled */
    int cur_db;               /* db of cur's last SELECTDB, -1 none */
    unsigned char *db_sized;  /* [ndb]: RESIZEDB already sent */
    uint64_t *db_nkeys, *db_nexp; /* epoch sizes, for RESIZEDB */
    cbstr *ovf;               /* chunks waiting for ring room */
    size_t novf, capovf;
    int unsupported;          /* object type without an encoder, -1 none */
    long long now_ms;
    unsigned lru_clock;
    uint64_t start_us;
    uint64_t inflight;        /* bytes produced, not yet written (atomic) */
    uint64_t keys_emitted;    /* this epoch (atomic: INFO reads it) */
    uint64_t inflight_peak;   /* this epoch's highest inflight (atomic) */
} bg_shard;

/* The process-wide snapshot state. Fields marked (mgmt) belong to the
 * management thread; (epoch) are set by the coordinator at the epoch. */
static struct {
    bg_shard *sh;
    int nshards;
    void (*wake)(void);
    int in_progress;          /* atomic */
    int abort;                /* atomic: producers must drop their state */
    int killed;               /* atomic: the abort came from bgsave_kill */
    int scheduled;            /* atomic */
    int kind;                 /* atomic, (epoch): BG_RDB or BG_AOF */
    /* (epoch) */
    int aof_rdb;              /* BG_AOF: RDB preamble, else commands */
    char aof_dir[PATH_MAX];   /* BG_AOF: appenddirname */
    void (*aof_done)(int result, uint64_t cow);
    cbstr header;             /* the file's first bytes, fixed at the epoch */
    time_t start_time;
    uint64_t dirty_at_start;
    uint64_t keys_total;
    char dbfilename[PATH_MAX];
    int compress, checksum;
    /* (mgmt) the file */
    int opened, fd, dirfd, err;  /* dirfd: dir as of the start (CONFIG SET dir may chdir) */
    char tmp[64];
    const char *errwhat;
    uint64_t crc;
    int shards_done;
    /* The file's fsync runs on a thread of its own, so that the management
     * thread keeps writing the AOF (and replies keep leaving) meanwhile. */
    pthread_t syncer;
    int sync_state;           /* 0 not started, 1 running (atomic), 2 done */
    int sync_err;
    /* Results, read by INFO and commands (relaxed). */
    time_t lastsave;
    time_t lastbgsave_try;
    int last_status_ok;
    long long last_time_sec;
    uint64_t rdb_saves;
    uint64_t dirty_base;
    uint64_t cow_peak, last_cow;
    /* current_cow_size as last sampled (once a second, as Redis's child
     * reports it) and when, for current_cow_size_age. */
    uint64_t cow_sample;
    long long cow_sample_ms;
    long long load_keys_loaded, load_keys_expired;
    /* The save points, parsed: the management thread's cron reads them
     * while a worker's CONFIG SET may replace g_config.save_params. */
    pthread_mutex_t points_lock;
    /* Held by the management thread while it finishes the file and by
     * bgsave_kill: after a kill returns, the snapshot either landed before
     * it or never will (FLUSHALL's own save must be the last word). */
    pthread_mutex_t finish_lock;
    /* (epoch) A snapshot for replicas without a file (repl-diskless-sync):
     * the bytes go to sink instead; sink_busy holds the rings back while
     * the replicas' buffers are full. done_cb hears how every snapshot
     * ended (the replication layer waits on both kinds). */
    void (*sink)(const void *p, size_t n, void *arg);
    int (*sink_busy)(void *arg);
    void *sink_arg;
    void (*done_cb)(int ok, int diskless);
    int npoints;
    long long points[BG_MAX_POINTS][2]; /* seconds, changes */
} bg = {.fd = -1, .dirfd = -1, .last_status_ok = 1, .last_time_sec = -1,
        .points_lock = PTHREAD_MUTEX_INITIALIZER, .finish_lock = PTHREAD_MUTEX_INITIALIZER};

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/* ------------------------------------------------------------------------
 * Counters
 * ---------------------------------------------------------------------- */

static uint64_t dirty_sum(void)
{
    uint64_t n = 0;
    for (int i = 0; i < bg.nshards; i++) n += __atomic_load_n(&bg.sh[i].shard->dirty, __ATOMIC_RELAXED);
    return n;
}

uint64_t bgsave_changes_since_save(void)
{
    uint64_t d = dirty_sum(), base = LOAD(bg.dirty_base);
    return d > base ? d - base : 0;
}

time_t bgsave_lastsave(void) { return LOAD(bg.lastsave); }

int bgsave_in_progress(void) { return LOAD(bg.in_progress) && LOAD(bg.kind) == BG_RDB; }

int bgsave_aof_in_progress(void) { return LOAD(bg.in_progress) && LOAD(bg.kind) == BG_AOF; }

int bgsave_child_active(void) { return LOAD(bg.in_progress); }

void bgsave_schedule(void) { STORE(bg.scheduled, 1); }

void bgsave_count_save(void) { __atomic_fetch_add(&bg.rdb_saves, 1, __ATOMIC_RELAXED); }

void bgsave_note_saved(void)
{
    STORE(bg.dirty_base, dirty_sum());
    STORE(bg.lastsave, time(NULL));
    STORE(bg.last_status_ok, 1);
}

void bgsave_note_load(long long keys_loaded, long long keys_expired)
{
    /* Redis counts every key it read as loaded, expired ones included. */
    bg.load_keys_loaded = keys_loaded + keys_expired;
    bg.load_keys_expired = keys_expired;
}

int bgsave_writes_denied(void)
{
    return g_config.stop_writes_on_bgsave_error && g_config.save_params &&
           g_config.save_params[0] && !LOAD(bg.last_status_ok);
}

void bgsave_init(cb_shard **shards, int nshards, void (*wake)(void))
{
    bg.sh = cb_calloc(sizeof(bg_shard) * (size_t)nshards);
    bg.nshards = nshards;
    bg.wake = wake;
    for (int i = 0; i < nshards; i++) {
        bg.sh[i].shard = shards[i];
        bg.sh[i].ring = ring_create(BG_RING);
        bg.sh[i].unsupported = -1;
    }
    bg.lastsave = time(NULL);
    bgsave_set_points(g_config.save_params);
}

void bgsave_set_points(const char *p)
{
    long long pts[BG_MAX_POINTS][2];
    int n = 0;
    while (p && *p && n < BG_MAX_POINTS) {
        char *end;
        long long secs = strtoll(p, &end, 10);
        if (end == p) break;
        p = end;
        long long changes = strtoll(p, &end, 10);
        if (end == p) break;
        p = end;
        pts[n][0] = secs;
        pts[n][1] = changes;
        n++;
    }
    pthread_mutex_lock(&bg.points_lock);
    memcpy(bg.points, pts, sizeof(pts[0]) * (size_t)n);
    bg.npoints = n;
    pthread_mutex_unlock(&bg.points_lock);
}

/* ------------------------------------------------------------------------
 * Producers (the shard's owner)
 * ---------------------------------------------------------------------- */

/* Hands b->cur to the management thread (through the overflow list when
 * the ring is full) and starts a new chunk. */
static void push_chunk(bg_shard *b)
{
    size_t n = cbstr_len(b->cur);
    if (n == 0) return;
    uint64_t now = __atomic_add_fetch(&b->inflight, n, __ATOMIC_RELAXED);
    if (now > b->inflight_peak) __atomic_store_n(&b->inflight_peak, now, __ATOMIC_RELAXED);
    if (b->novf || ring_enqueue(b->ring, b->cur) != 0) {
        if (b->novf == b->capovf) {
            b->capovf = b->capovf ? b->capovf * 2 : 8;
            b->ovf = cb_realloc(b->ovf, b->capovf * sizeof(cbstr));
        }
        b->ovf[b->novf++] = b->cur;
    } else if (bg.wake) {
        bg.wake();
    }
    b->cur = cbstr_with_cap(BG_CHUNK + 1024);
    b->cur_db = -1;
}

/* Moves waiting chunks (and the done marker) onto the ring. */
static void drain_ovf(bg_shard *b)
{
    size_t i = 0;
    while (i < b->novf && ring_enqueue(b->ring, b->ovf[i]) == 0) i++;
    if (i == 0) return;
    memmove(b->ovf, b->ovf + i, (b->novf - i) * sizeof(cbstr));
    b->novf -= i;
    if (bg.wake) bg.wake();
}

/* The snapshot cursor's sink: one key of the image. */
static void bg_emit(void *priv, int dbid, const cbstr key, const cb_obj *val, long long expire_ms)
{
    bg_shard *b = priv;
    if (b->unsupported >= 0) return;
    if (bg.kind == BG_AOF && !bg.aof_rdb) {
        /* An AOF base as commands: a key already past its time is left
         * out, as the rewrite to a file does. */
        if (expire_ms < 0 || expire_ms >= b->now_ms) {
            if (b->cur_db != dbid) {
                b->cur = aof_enc_select(b->cur, dbid);
                b->cur_db = dbid;
            }
            if (aof_enc_key_cmds(&b->cur, key, cbstr_len(key), val, expire_ms) < 0) {
                b->unsupported = val->type;
                return;
            }
        }
        __atomic_store_n(&b->keys_emitted, b->keys_emitted + 1, __ATOMIC_RELAXED);
        if (cbstr_len(b->cur) >= BG_CHUNK) push_chunk(b);
        return;
    }
    if (b->cur_db != dbid) {
        /* Every chunk names its db: chunks of shards interleave in the file. */
        int first = !b->db_sized[dbid];
        b->cur = rdb_enc_db_start(b->cur, dbid, first ? b->db_nkeys[dbid] : 0,
                                  first ? b->db_nexp[dbid] : 0);
        b->db_sized[dbid] = 1;
        b->cur_db = dbid;
    }
    if (rdb_enc_key(&b->cur, b->shard, key, cbstr_len(key), val, expire_ms, b->now_ms,
                    b->lru_clock, bg.compress) < 0) {
        b->unsupported = val->type;
        return;
    }
    __atomic_store_n(&b->keys_emitted, b->keys_emitted + 1, __ATOMIC_RELAXED);
    if (cbstr_len(b->cur) >= BG_CHUNK) push_chunk(b);
}

static void free_producer(bg_shard *b)
{
    snap_end(b->shard);
    for (size_t i = 0; i < b->novf; i++)
        if (b->ovf[i] != &bg_done_marker) {
            __atomic_sub_fetch(&b->inflight, cbstr_len(b->ovf[i]), __ATOMIC_RELAXED);
            cbstr_free(b->ovf[i]);
        }
    cb_free(b->ovf);
    b->ovf = NULL;
    b->novf = b->capovf = 0;
    cbstr_free(b->cur);
    b->cur = NULL;
    cb_free(b->db_sized);
    cb_free(b->db_nkeys);
    cb_free(b->db_nexp);
    b->db_sized = NULL;
    b->db_nkeys = b->db_nexp = NULL;
    STORE(b->active, 0);
}

/* Queues the end of this shard's part: the last chunk, then the marker. */
static void finish_producer(bg_shard *b)
{
    snap_end(b->shard);
    push_chunk(b);
    if (b->novf || ring_enqueue(b->ring, &bg_done_marker) != 0) {
        if (b->novf == b->capovf) {
            b->capovf = b->capovf ? b->capovf * 2 : 8;
            b->ovf = cb_realloc(b->ovf, b->capovf * sizeof(cbstr));
        }
        b->ovf[b->novf++] = &bg_done_marker;
    } else if (bg.wake) {
        bg.wake();
    }
    b->finished = 1;
}

int bgsave_worker_step(int shard_id)
{
    if (!bg.sh || shard_id >= bg.nshards) return -1;
    bg_shard *b = &bg.sh[shard_id];
    if (!LOAD(b->active)) return -1;
    if (LOAD(bg.abort)) {
        free_producer(b);
        if (bg.wake) bg.wake();
        return -1;
    }
    if (b->novf) drain_ovf(b);
    if (b->finished) {
        if (b->novf) return 1;
        /* Everything is on the ring: the management thread owns the rest. */
        cbstr_free(b->cur);
        b->cur = NULL;
        cb_free(b->ovf);
        b->ovf = NULL;
        b->capovf = 0;
        cb_free(b->db_sized);
        cb_free(b->db_nkeys);
        cb_free(b->db_nexp);
        b->db_sized = NULL;
        b->db_nkeys = b->db_nexp = NULL;
        STORE(b->active, 0);
        if (bg.wake) bg.wake();
        return -1;
    }
    if (b->unsupported >= 0) {
        finish_producer(b); /* the management thread fails the save */
        return 0;
    }
    uint64_t t0 = util_monotonic_us();
    int more = 1, throttled = 0;
    int delay = g_config.rdb_key_save_delay;
    while (more) {
        if (b->novf || ring_count(b->ring) >= BG_RING) {
            throttled = 1;
            break;
        }
        size_t max_keys = 64;
        if (delay > 0) {
            /* Redis sleeps this long per key in its child; we may not
             * sleep, so the walker just keeps to that pace. */
            uint64_t allowed = (util_monotonic_us() - b->start_us) / (uint64_t)delay;
            if (allowed <= b->keys_emitted) {
                throttled = 1;
                break;
            }
            if (allowed - b->keys_emitted < max_keys) max_keys = (size_t)(allowed - b->keys_emitted);
        }
        more = snap_step(b->shard, max_keys, 4096);
        if (b->unsupported >= 0) return 0;
        if (util_monotonic_us() - t0 >= BG_STEP_US) break;
    }
    if (!more) {
        finish_producer(b);
        return 0;
    }
    return throttled ? 1 : 0;
}

/* ------------------------------------------------------------------------
 * The epoch
 * ---------------------------------------------------------------------- */

/* The epoch of either kind (caller holds every shard). */
static void start_epoch(int kind)
{
    STORE(bg.kind, kind);
    bg.start_time = time(NULL);
    bg.dirty_at_start = dirty_sum();
    bg.keys_total = 0;
    bg.compress = g_config.rdbcompression;
    bg.checksum = g_config.rdbchecksum;
    bg.opened = 0;
    bg.err = 0;
    bg.errwhat = NULL;
    bg.shards_done = 0;
    bg.cow_peak = 0;
    STORE(bg.abort, 0);
    STORE(bg.killed, 0);
    long long now_ms = util_mstime();
    uint64_t now_us = util_monotonic_us();
    for (int i = 0; i < bg.nshards; i++) {
        bg_shard *b = &bg.sh[i];
        cb_shard *s = b->shard;
        b->cur = cbstr_with_cap(BG_CHUNK + 1024);
        b->cur_db = -1;
        b->db_sized = cb_calloc((size_t)s->ndb);
        b->db_nkeys = cb_calloc(sizeof(uint64_t) * (size_t)s->ndb);
        b->db_nexp = cb_calloc(sizeof(uint64_t) * (size_t)s->ndb);
        for (int j = 0; j < s->ndb; j++) {
            b->db_nkeys[j] = dict_size(s->dbs[j].keys);
            b->db_nexp[j] = dict_size(s->dbs[j].expires);
        }
        b->unsupported = -1;
        b->finished = 0;
        b->now_ms = now_ms;
        b->lru_clock = lru_clock_of(now_ms);
        b->start_us = now_us;
        b->keys_emitted = 0;
        b->inflight_peak = 0;
        snap_begin(s, bg_emit, b);
        bg.keys_total += snap_get(s)->keys_total;
        STORE(b->active, 1);
    }
    bg.cow_sample = 0;
    bg.cow_sample_ms = 0;
    STORE(bg.in_progress, 1);
    if (bg.wake) bg.wake();
}

int bgsave_start(void)
{
    if (LOAD(bg.in_progress)) return -1;
    bg.sink = NULL;
    STORE(bg.lastbgsave_try, time(NULL));
    snprintf(bg.dbfilename, sizeof(bg.dbfilename), "%s", g_config.dbfilename);
    cbstr_free(bg.header);
    /* The aux fields and function libraries as of the epoch. */
    bg.header = rdb_enc_header(cbstr_new("", 0));
    start_epoch(BG_RDB);
    __atomic_fetch_add(&bg.rdb_saves, 1, __ATOMIC_RELAXED);
    cb_log(LOG_NOTICE, "Background saving started by pid %ld", (long)getpid());
    return 0;
}

int bgsave_start_aof(const char *dir, const char *name, int rdb_preamble,
                     void (*done)(int result, uint64_t cow))
{
    if (LOAD(bg.in_progress)) return -1;
    bg.sink = NULL;
    snprintf(bg.aof_dir, sizeof(bg.aof_dir), "%s", dir);
    snprintf(bg.dbfilename, sizeof(bg.dbfilename), "%s", name);
    bg.aof_rdb = rdb_preamble;
    bg.aof_done = done;
    cbstr_free(bg.header);
    bg.header = rdb_preamble ? rdb_enc_header_aof(cbstr_new("", 0), 1)
                             : aof_enc_functions(cbstr_new("", 0));
    start_epoch(BG_AOF);
    return 0;
}

int bgsave_start_to_sink(void (*sink)(const void *p, size_t n, void *arg),
                         int (*busy)(void *arg), void *arg)
{
    if (LOAD(bg.in_progress)) return -1;
    bg.sink = sink;
    bg.sink_busy = busy;
    bg.sink_arg = arg;
    cbstr_free(bg.header);
    bg.header = rdb_enc_header(cbstr_new("", 0));
    start_epoch(BG_RDB);
    cb_log(LOG_NOTICE, "Starting BGSAVE for SYNC with target: replicas sockets");
    return 0;
}

void bgsave_on_done(void (*cb)(int ok, int diskless)) { bg.done_cb = cb; }

static void kill_kind(int kind, const char *why)
{
    pthread_mutex_lock(&bg.finish_lock);
    if (!LOAD(bg.in_progress) || LOAD(bg.kind) != kind) {
        pthread_mutex_unlock(&bg.finish_lock);
        return;
    }
    if (why) cb_log(LOG_WARNING, "%s", why);
    STORE(bg.killed, 1);
    STORE(bg.abort, 1);
    /* Every shard is held: drop each producer's state for it. */
    for (int i = 0; i < bg.nshards; i++)
        if (LOAD(bg.sh[i].active)) free_producer(&bg.sh[i]);
    pthread_mutex_unlock(&bg.finish_lock);
    if (bg.wake) bg.wake();
}

void bgsave_kill(const char *why) { kill_kind(BG_RDB, why); }

void bgsave_kill_aof(const char *why) { kill_kind(BG_AOF, why); }

/* ------------------------------------------------------------------------
 * The consumer (management thread)
 * ---------------------------------------------------------------------- */

static void file_write(const void *p, size_t n)
{
    if (bg.err) return;
    bg.crc = crc64(bg.crc, p, n);
    if (bg.sink) {
        bg.sink(p, n, bg.sink_arg);
        return;
    }
    const char *q = p;
    while (n > 0) {
        ssize_t k = pio()->write(bg.fd, q, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            bg.err = errno;
            bg.errwhat = bg.kind == BG_AOF ? "Write error writing append only file on disk"
                                           : "Write error saving DB on disk";
            return;
        }
        if (k == 0) {
            bg.err = ENOSPC;
            bg.errwhat = "Write error saving DB on disk";
            return;
        }
        q += k;
        n -= (size_t)k;
    }
}

static void open_file(void)
{
    bg.opened = 1;
    bg.crc = 0;
    if (bg.sink) {
        file_write(bg.header, cbstr_len(bg.header));
        return;
    }
    int aof = bg.kind == BG_AOF;
    if (aof)
        snprintf(bg.tmp, sizeof(bg.tmp), "temp-rewriteaof-bg-%d.aof", (int)getpid());
    else
        snprintf(bg.tmp, sizeof(bg.tmp), "temp-%d.rdb", (int)getpid());
    bg.dirfd = open(aof ? bg.aof_dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bg.fd = bg.dirfd < 0 ? -1
                         : openat(bg.dirfd, bg.tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (bg.fd < 0) {
        char cwd[PATH_MAX];
        int e = errno;
        if (!getcwd(cwd, sizeof(cwd))) snprintf(cwd, sizeof(cwd), "unknown");
        if (aof)
            cb_log(LOG_WARNING, "Opening the temp file for AOF rewrite in rewriteAppendOnlyFile(): %s",
                   strerror(e));
        else
            cb_log(LOG_WARNING,
                   "Failed opening the temp RDB file %s (in server root dir %s) for saving: %s",
                   bg.tmp, cwd, strerror(e));
        bg.err = e;
        bg.errwhat = NULL; /* logged */
        return;
    }
    file_write(bg.header, cbstr_len(bg.header));
}

/* Writes or drops what the rings hold; counts finished shards. */
static void drain_rings(int discard)
{
    uint64_t inflight = 0;
    for (int i = 0; i < bg.nshards; i++) {
        bg_shard *b = &bg.sh[i];
        void *m;
        while ((m = ring_dequeue(b->ring)) != NULL) {
            if (m == &bg_done_marker) {
                bg.shards_done++;
                continue;
            }
            cbstr c = m;
            if (!discard) file_write(c, cbstr_len(c));
            __atomic_sub_fetch(&b->inflight, cbstr_len(c), __ATOMIC_RELAXED);
            cbstr_free(c);
        }
        inflight += __atomic_load_n(&b->inflight_peak, __ATOMIC_RELAXED);
    }
    /* Copy-on-write here means bytes serialized and not yet on disk: the
     * sum of the shards' peaks bounds it. */
    if (inflight > bg.cow_peak) STORE(bg.cow_peak, inflight);
    /* current_cow_size is a sample, refreshed once a second like the
     * reports of Redis's child; its age says how old it is. */
    long long now = util_mstime();
    if (!discard && (!bg.cow_sample_ms || now - bg.cow_sample_ms >= 1000)) {
        uint64_t cur = 0;
        for (int i = 0; i < bg.nshards; i++) cur += __atomic_load_n(&bg.sh[i].inflight, __ATOMIC_RELAXED);
        STORE(bg.cow_sample, cur);
        STORE(bg.cow_sample_ms, now);
    }
}

static int producers_active(void)
{
    for (int i = 0; i < bg.nshards; i++)
        if (LOAD(bg.sh[i].active)) return 1;
    return 0;
}

static void *sync_main(void *arg)
{
    (void)arg;
    int rc = pio()->fsync(bg.fd);
    bg.sync_err = rc < 0 ? errno : 0;
    STORE(bg.sync_state, 2);
    if (bg.wake) bg.wake();
    return NULL;
}

/* Trailer, then the fsync on the syncer thread. 1 while it runs. */
static int start_sync(void)
{
    if (bg.kind == BG_RDB || bg.aof_rdb) {
        cbstr t = rdb_enc_trailer(cbstr_new("", 0), bg.crc, bg.checksum);
        file_write(t, cbstr_len(t));
        cbstr_free(t);
    }
    if (bg.err || bg.sink) return 0; /* a stream to replicas has no file */
    STORE(bg.sync_state, 1);
    if (pthread_create(&bg.syncer, NULL, sync_main, NULL) != 0) {
        STORE(bg.sync_state, 0);
        if (pio()->fsync(bg.fd) < 0) {
            bg.err = errno;
            bg.errwhat = "Write error saving DB on disk";
        }
        return 0;
    }
    return 1;
}

/* Waits for a syncer thread, if one was started, and takes its result. */
static void join_sync(void)
{
    if (LOAD(bg.sync_state) == 0) return;
    pthread_join(bg.syncer, NULL);
    STORE(bg.sync_state, 0);
    if (bg.sync_err && !bg.err) {
        bg.err = bg.sync_err;
        bg.errwhat = "Write error saving DB on disk";
    }
}

/* After the fsync: close, rename, directory fsync. 0 ok. */
static int complete_file(void)
{
    if (bg.sink) return bg.err ? -1 : 0;
    if (close(bg.fd) < 0 && !bg.err) {
        bg.err = errno;
        bg.errwhat = "Write error saving DB on disk";
    }
    bg.fd = -1;
    if (bg.err) return -1;
    if (pio()->renameat(bg.dirfd, bg.tmp, bg.dirfd, bg.dbfilename) < 0) {
        char cwd[PATH_MAX];
        int e = errno;
        if (!getcwd(cwd, sizeof(cwd))) snprintf(cwd, sizeof(cwd), "unknown");
        if (bg.kind == BG_AOF)
            cb_log(LOG_WARNING, "Error trying to rename the temporary AOF base file %s into %s: %s",
                   bg.tmp, bg.dbfilename, strerror(e));
        else
            cb_log(LOG_WARNING,
                   "Error moving temp DB file %s on the final destination %s (in server root dir "
                   "%s): %s", bg.tmp, bg.dbfilename, cwd, strerror(e));
        bg.err = e;
        bg.errwhat = NULL;
        return -1;
    }
    if (pio()->fsync(bg.dirfd) < 0) {
        bg.err = errno;
        bg.errwhat = "Failed to fsync directory";
        return -1;
    }
    return 0;
}

/* The snapshot is over, one way or the other. */
static void end_snapshot(int ok)
{
    if (bg.fd >= 0) {
        close(bg.fd);
        bg.fd = -1;
    }
    if (!ok && bg.opened && bg.dirfd >= 0) unlinkat(bg.dirfd, bg.tmp, 0);
    if (bg.dirfd >= 0) {
        close(bg.dirfd);
        bg.dirfd = -1;
    }
    long long secs = (long long)(time(NULL) - bg.start_time);
    if (bg.kind == BG_AOF) {
        if (ok) {
            cb_log(LOG_NOTICE, "Background AOF rewrite terminated with success");
            cb_log(LOG_NOTICE, "Successfully renamed the temporary AOF base file %s into %s",
                   bg.tmp, bg.dbfilename);
        } else if (LOAD(bg.killed)) {
            cb_log(LOG_WARNING, "Background AOF rewrite terminated by signal 10");
        } else {
            if (bg.errwhat) cb_log(LOG_WARNING, "%s: %s", bg.errwhat, strerror(bg.err));
            cb_log(LOG_WARNING, "Background AOF rewrite terminated with error");
        }
        /* aof.c swaps the manifest before the snapshot counts as over, so
         * INFO never shows the rewrite running without its progress. */
        int result = ok ? 1 : LOAD(bg.killed) ? -1 : 0;
        if (bg.aof_done) bg.aof_done(result, LOAD(bg.cow_peak));
        STORE(bg.in_progress, 0);
        return;
    }
    STORE(bg.last_cow, LOAD(bg.cow_peak));
    if (bg.sink) {
        /* A transfer to replicas: no file, and LASTSAVE and the change
         * counter stay as they were (as Redis's diskless sync). */
        bg.sink = NULL;
        if (ok) cb_log(LOG_NOTICE, "Diskless rdb transfer, done reading from pipe, replicas still up.");
        else cb_log(LOG_WARNING, "Diskless rdb transfer to replicas failed");
        STORE(bg.in_progress, 0);
        if (bg.done_cb) bg.done_cb(ok, 1);
        return;
    }
    if (ok) {
        cb_log(LOG_NOTICE, "DB saved on disk");
        cb_log(LOG_NOTICE, "Background saving terminated with success");
        STORE(bg.dirty_base, bg.dirty_at_start);
        STORE(bg.lastsave, time(NULL));
        STORE(bg.last_status_ok, 1);
        STORE(bg.last_time_sec, secs);
    } else if (LOAD(bg.killed)) {
        /* Redis kills its child with SIGUSR1, which is not an error. */
        cb_log(LOG_WARNING, "Background saving terminated by signal 10");
        STORE(bg.last_time_sec, secs);
    } else {
        if (bg.errwhat) cb_log(LOG_WARNING, "%s: %s", bg.errwhat, strerror(bg.err));
        cb_log(LOG_WARNING, "Background saving error");
        STORE(bg.last_status_ok, 0);
        STORE(bg.last_time_sec, secs);
    }
    STORE(bg.in_progress, 0);
    if (bg.done_cb) bg.done_cb(ok, 0);
}

/* Save points and scheduled saves: 1 when a BGSAVE should start now. */
static int cron_wants_bgsave(void)
{
    time_t now = time(NULL);
    int retry_ok = LOAD(bg.last_status_ok) || now - LOAD(bg.lastbgsave_try) > BG_RETRY_DELAY;
    if (LOAD(bg.scheduled) && retry_ok) {
        STORE(bg.scheduled, 0);
        return 1;
    }
    uint64_t changes = bgsave_changes_since_save();
    time_t since = now - LOAD(bg.lastsave);
    int fire = 0;
    pthread_mutex_lock(&bg.points_lock);
    for (int i = 0; i < bg.npoints && !fire; i++) {
        long long secs = bg.points[i][0], want = bg.points[i][1];
        if ((long long)changes >= want && since > secs && retry_ok) {
            cb_log(LOG_NOTICE, "%lld changes in %lld seconds. Saving...", want, secs);
            fire = 1;
        }
    }
    pthread_mutex_unlock(&bg.points_lock);
    return fire;
}

int bgsave_mgmt_pump(void)
{
    if (!LOAD(bg.in_progress)) return cron_wants_bgsave();
    if (!bg.opened && !LOAD(bg.abort)) {
        open_file();
        if (bg.err) STORE(bg.abort, 1);
    }
    if (LOAD(bg.abort)) {
        /* Wait until every producer has let go, then drop what is left. */
        drain_rings(1);
        if (producers_active()) return 0;
        drain_rings(1);
        join_sync();
        end_snapshot(0);
        return 0;
    }
    /* Replicas that cannot take more hold the rings (and so the walkers)
     * back: memory stays bounded by what is in flight. */
    if (bg.sink && bg.sink_busy && bg.sink_busy(bg.sink_arg)) return 0;
    drain_rings(0);
    for (int i = 0; i < bg.nshards && !bg.err; i++) {
        if (LOAD(bg.sh[i].unsupported) >= 0 && LOAD(bg.sh[i].finished)) {
            cb_log(LOG_WARNING, "Failed saving the DB: the RDB encoding of type %s is not "
                                "supported by this build yet",
                   obj_type_name(bg.sh[i].unsupported));
            bg.err = EOPNOTSUPP;
            bg.errwhat = NULL;
        }
    }
    if (bg.err) {
        STORE(bg.abort, 1);
        return 0;
    }
    /* Done markers are in, and every producer has let go of its state (a
     * new epoch may reuse it from then on). */
    if (bg.shards_done < bg.nshards || producers_active()) return 0;
    int st = LOAD(bg.sync_state);
    if (st == 0 && start_sync()) return 0;
    if (st == 1) return 0;
    join_sync();
    pthread_mutex_lock(&bg.finish_lock);
    if (!LOAD(bg.abort)) end_snapshot(complete_file() == 0);
    pthread_mutex_unlock(&bg.finish_lock);
    return 0;
}

/* ------------------------------------------------------------------------
 * Synchronous saves
 * ---------------------------------------------------------------------- */

int bgsave_save_sync(void)
{
    cb_shard **shards = cb_malloc(sizeof(*shards) * (size_t)bg.nshards);
    for (int i = 0; i < bg.nshards; i++) shards[i] = bg.sh[i].shard;
    char *err = NULL;
    int rc = rdb_save_file(shards, bg.nshards, g_config.dbfilename, &err);
    cb_free(shards);
    if (rc != 0) {
        cb_log(LOG_WARNING, "%s", err ? err : "Error saving DB on disk");
        cb_free(err);
        return -1;
    }
    cb_log(LOG_NOTICE, "DB saved on disk");
    bgsave_note_saved();
    return 0;
}

/* ------------------------------------------------------------------------
 * INFO persistence
 * ---------------------------------------------------------------------- */

cbstr bgsave_info(cbstr s)
{
    /* The current_* fields follow any snapshot (BGSAVE or an AOF base),
     * the rdb_* ones a BGSAVE only, as Redis's fields follow any child. */
    int running = LOAD(bg.in_progress);
    int rdb_running = running && LOAD(bg.kind) == BG_RDB;
    uint64_t cow = 0, done = 0, total = 0;
    long long cur_secs = -1, cow_age = 0;
    if (running) {
        long long sampled = LOAD(bg.cow_sample_ms);
        cow = LOAD(bg.cow_sample);
        if (sampled) cow_age = (util_mstime() - sampled) / 1000;
        for (int i = 0; i < bg.nshards; i++)
            done += __atomic_load_n(&bg.sh[i].keys_emitted, __ATOMIC_RELAXED);
        total = bg.keys_total;
        if (done > total) done = total;
        if (rdb_running) cur_secs = (long long)(time(NULL) - bg.start_time);
    }
    uint64_t peak = running ? LOAD(bg.cow_peak) : 0;
    if (cow > peak) peak = cow;
    double perc = running && total ? (double)done * 100.0 / (double)total : 0.0;
    return cbstr_catfmt(s,
                        "loading:%d\r\n"
                        "async_loading:0\r\n"
                        "current_cow_peak:%llu\r\n"
                        "current_cow_size:%llu\r\n"
                        "current_cow_size_age:%lld\r\n"
                        "current_fork_perc:%.2f\r\n"
                        "current_save_keys_processed:%llu\r\n"
                        "current_save_keys_total:%llu\r\n"
                        "rdb_changes_since_last_save:%llu\r\n"
                        "rdb_bgsave_in_progress:%d\r\n"
                        "rdb_last_save_time:%lld\r\n"
                        "rdb_last_bgsave_status:%s\r\n"
                        "rdb_last_bgsave_time_sec:%lld\r\n"
                        "rdb_current_bgsave_time_sec:%lld\r\n"
                        "rdb_saves:%llu\r\n"
                        "rdb_last_cow_size:%llu\r\n"
                        "rdb_last_load_keys_expired:%lld\r\n"
                        "rdb_last_load_keys_loaded:%lld\r\n",
                        loading_active(), (unsigned long long)peak, (unsigned long long)cow,
                        cow_age, perc,
                        (unsigned long long)done, (unsigned long long)total,
                        (unsigned long long)bgsave_changes_since_save(), rdb_running,
                        (long long)LOAD(bg.lastsave), LOAD(bg.last_status_ok) ? "ok" : "err",
                        (long long)LOAD(bg.last_time_sec), cur_secs,
                        (unsigned long long)LOAD(bg.rdb_saves),
                        (unsigned long long)LOAD(bg.last_cow), bg.load_keys_expired,
                        bg.load_keys_loaded);
}
