/* bgsave.h — fork-less background snapshots (BGSAVE, save points) and the
 * bookkeeping SAVE, LASTSAVE, INFO persistence and MISCONF read.
 * Design: docs/snapshots.md.
 *
 * Who calls what:
 *   - bgsave_start: a coordinator holding every shard (a worker running a
 *     keyspace-wide command, or the management thread after
 *     xshard_park_all) — this is the epoch;
 *   - bgsave_worker_step: each worker, once per loop turn: serializes its
 *     own shard for a few hundred microseconds into chunks on its ring;
 *   - bgsave_mgmt_pump: the management thread: opens the temp file, writes
 *     the chunks, and at the end fsyncs, renames and fsyncs the directory;
 *   - bgsave_kill: a coordinator holding every shard (FLUSHALL, SHUTDOWN).
 * The worker never touches the file; the management thread never touches a
 * shard.
 */
#ifndef CB_BGSAVE_H
#define CB_BGSAVE_H

#include <stdint.h>
#include <time.h>
#include "../store/ds/cbstr.h"

struct cb_shard;

/* Once at start-up, before workers run: nshards shards (indexed by shard
 * id), wake() wakes the management thread. */
void bgsave_init(struct cb_shard **shards, int nshards, void (*wake)(void));

/* The save points changed (CONFIG SET save): "secs changes ...". */
void bgsave_set_points(const char *params);

/* 1 from a BGSAVE's epoch until its file is finished or dropped. */
int bgsave_in_progress(void);
/* 1 while the snapshot of an AOF rewrite runs. */
int bgsave_aof_in_progress(void);
/* 1 while either runs (Redis's "a child is active"): one at a time. */
int bgsave_child_active(void);
/* Starts a snapshot epoch into dir/dbfilename (caller holds every shard).
 * 0 started; -1 when one is already in progress. Logs as Redis. */
int bgsave_start(void);
/* As bgsave_start, for replicas without a file (repl-diskless-sync): the
 * RDB bytes go to sink(arg) on the management thread, which holds the
 * rings back while busy(arg) says the replicas' buffers are full. No
 * LASTSAVE, no rdb_saves. */
int bgsave_start_to_sink(void (*sink)(const void *p, size_t n, void *arg),
                         int (*busy)(void *arg), void *arg);
/* cb runs on the management thread when any snapshot ends (ok: it was
 * completely written or streamed; diskless: it was a sink snapshot). */
void bgsave_on_done(void (*cb)(int ok, int diskless));
/* Starts the epoch of an AOF rewrite (caller holds every shard): the data
 * set at this instant becomes dir/name, RDB with aof-base 1 (rdb_preamble)
 * or commands; done(result, cow peak bytes) runs on the management
 * thread once the file landed (result 1: fsynced and renamed), failed (0)
 * or was killed (-1, bgsave_kill_aof). 0 started, -1 when a snapshot of
 * either kind runs. */
int bgsave_start_aof(const char *dir, const char *name, int rdb_preamble,
                     void (*done)(int result, uint64_t cow));
/* Drops a running BGSAVE (caller holds every shard); the temp file is
 * removed by the management thread. why: a log line, or NULL. An AOF
 * rewrite's snapshot is left alone (FLUSHALL does not stop it). */
void bgsave_kill(const char *why);
/* The same for an AOF rewrite's snapshot (SHUTDOWN, appendonly no). */
void bgsave_kill_aof(const char *why);
/* Per worker loop turn. Returns how long the loop may sleep: -1 no limit,
 * 0 more work is ready, 1 (ms) throttled (ring full or save delay). */
int bgsave_worker_step(int shard_id);
/* Management loop: file I/O, completion, and (cron) save points and
 * scheduled BGSAVEs; returns 1 when a BGSAVE should start now (the caller
 * parks every worker and calls bgsave_start). */
int bgsave_mgmt_pump(void);
/* BGSAVE SCHEDULE / BGSAVE inside MULTI: start at the next cron. */
void bgsave_schedule(void);

/* A synchronous save of every shard (caller holds them all): SAVE,
 * SHUTDOWN, DEBUG RELOAD, FLUSHALL. Updates LASTSAVE, the status and the
 * change counter on success. 0 ok, -1 failed (logged as Redis). */
int bgsave_save_sync(void);
/* SAVE counts in INFO rdb_saves, like each BGSAVE started. */
void bgsave_count_save(void);
/* Bookkeeping of a successful synchronous save done elsewhere. */
void bgsave_note_saved(void);

/* The shard's on_flushall hook (every shard held): a running snapshot is
 * dropped, and with save points the now empty dataset is saved. */
void bgsave_after_flushall(void *owner);

/* Writes would be refused with MISCONF (stop-writes-on-bgsave-error). */
int bgsave_writes_denied(void);
#define BGSAVE_MISCONF_ERR \
    "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to " \
    "persist to disk. Commands that may modify the data set are disabled, because this " \
    "instance is configured to report errors during writes if RDB snapshotting fails " \
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about " \
    "the RDB error."

/* LASTSAVE. */
time_t bgsave_lastsave(void);
/* Writes since the last successful save. */
uint64_t bgsave_changes_since_save(void);
/* The INFO persistence lines from loading: through
 * rdb_last_load_keys_loaded:, appended to s. */
cbstr bgsave_info(cbstr s);
/* What the last load read (INFO rdb_last_load_keys_*): keys kept and keys
 * skipped as expired. */
void bgsave_note_load(long long keys_loaded, long long keys_expired);

#endif
