/* aof.h — the append-only file, Redis 7.0's multi-part layout
 * (appendonlydir/<name>.N.base.rdb|aof, <name>.N.incr.aof, <name>.manifest).
 *
 * Workers record the effects of writes (dataplane/propagate.c) and hand
 * them over per-worker SPSC rings as aof_rec; every record carries a
 * global sequence number so the management thread writes them in the
 * order they happened across workers. The management thread (aof.c)
 * appends to the current incremental file and fsyncs per appendfsync;
 * workers hold each client's reply until the record it depends on is
 * written, and under `always` fsynced (group commit). Rewrites (BGREWRITEAOF, auto
 * rewrite, CONFIG SET appendonly yes) open a new incremental file, write a
 * new base and swap the manifest. aof_load.c replays the files at start-up.
 * Design: docs/aof.md.
 */
#ifndef CB_AOF_H
#define CB_AOF_H

#include <stddef.h>
#include <stdint.h>

#include "../store/ds/cbstr.h"

struct cb_shard;

/* One batch of effects. data holds nops entries of
 * [int32 dbid][uint32 len][len bytes of one RESP command]. */
typedef struct aof_rec {
    uint64_t seq;
    uint32_t nops;
    uint32_t len;
    char data[];
} aof_rec;

/* ---- worker side (any thread, lock-free) */
/* 1 while effects must be recorded. */
int aof_recording(void);
/* Next global sequence number for a record about to be enqueued. */
uint64_t aof_take_seq(void);
/* Highest sequence number handed out so far. */
uint64_t aof_last_seq(void);
/* Highest sequence number that is written (and, under `always`, fsynced);
 * replies that depend on later records wait. */
uint64_t aof_synced_seq(void);
/* 1 when replies must wait for their records (the AOF is on). */
int aof_hold_replies(void);
/* Wake the writer (records are waiting). */
void aof_kick(void);
/* NULL, or the reason writes are refused (MISCONF after a write error). */
const char *aof_write_error(void);
/* The reply a write command gets while the AOF cannot be written
 * ("-MISCONF Errors writing to the AOF file: <reason>", Redis's text),
 * into buf; 0 (buf untouched) while writes are accepted. */
int aof_write_refusal(char *buf, size_t n);
/* What a failed write or fsync of the AOF means under an appendfsync
 * policy: AOF_ERR_EXIT under always (a reply may leave only once its
 * record is durable, so the process exits rather than acknowledge),
 * AOF_ERR_REFUSE otherwise (the bytes stay buffered and are retried; write
 * commands are refused until a retry succeeds). */
enum { AOF_ERR_REFUSE = 0, AOF_ERR_EXIT = 1 };
int aof_error_action(int policy);
/* BGREWRITEAOF: 0 started (the reply is Redis's "started" line), 1 already
 * in progress, 2 scheduled. */
int aof_request_rewrite(void);
/* 1 from a BGREWRITEAOF's "started" reply until the rewrite is over. */
int aof_rewrite_pending(void);

/* ---- management side */
/* Event fd the management loop polls (kicked by workers). */
int aof_event_fd(void);
/* Start-up, after loading, before workers run: create the directory, a
 * base and an incremental file when appendonly is on and none exists.
 * 0 ok, -1 logged fatal. */
int aof_open_at_startup(void);
/* Drain the rings, write, fsync by policy, run due rewrites. */
void aof_tick(void);
/* appendonly changed at run time (CONFIG SET): 0 ok, -1 with *err. */
int aof_set_enabled(int on, const char **err);
/* Shutdown: write and fsync everything. */
void aof_flush_at_exit(void);
/* INFO persistence aof_* lines. */
char *aof_info_fields(char *s);

/* ---- the replication tap (management thread) */
/* tap sees every record, in sequence order, as the writer takes it (with
 * the AOF on or off). */
void aof_set_tap(void (*tap)(const aof_rec *r));
/* Record effects for the tap even while the AOF is off. */
void aof_tap_recording(int on);
/* With every worker parked: hand every record taken so far to the tap now
 * (the instant of a replication snapshot's epoch). */
void aof_feed_parked(void);

/* ---- loading (aof_load.c) */
/* Loads the manifest's files into the shards when appendonly is on:
 * 0 loaded, 1 nothing to load, -1 fatal (logged). */
int aof_load_at_startup(struct cb_shard **shards, int nshards);


/* Appends one command as a RESP array of bulk strings (the AOF's and the
 * replication stream's record form). */
cbstr aof_cat_cmd(cbstr b, int argc, const char *const *argv, const size_t *lens);

#endif
