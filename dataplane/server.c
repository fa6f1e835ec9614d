/* server.c — building and tearing down the data plane: one shard and one
 * worker per io-worker, listeners bound before start-up completes, and the
 * runtime hooks CONFIG SET uses (rebind on port/bind changes, chdir on dir).
 * Called from main.c (start-up) and mgmt.c (shutdown).
 */
#include "server.h"
#include "conn_stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/command.h"
#include "blocking.h"
#include "keyspace_events.h"
#include "latency.h"
#include "multi.h"
#include "pubsub.h"
#include "propagate.h"
#include "tracking.h"
#include "script/script.h"
#include "worker.h"
#include "dpdk/dpdk_driver.h"
#include "../platform/config.h"
#include "../platform/dpdk.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"
#include "../persist/rdb.h"
#include "../persist/aof.h"
#include "../persist/bgsave.h"
#include "../mgmt/mgmt.h"

cb_server g_server;

/* Every write to a key passes here (the store's hook): transactions that
 * watch it, clients blocked on it. */
static void server_key_modified(void *owner, cb_db *db, const char *key, size_t len) {
    multi_key_modified(owner, db, key, len);
    if (key) blocking_key_touched(db, key, len);
    tracking_key_modified(db, key, len); /* client-side caching */
}

/* A key deleted because its time passed is a DEL in the AOF. */
static void server_key_expired(void *owner, cb_db *db, const char *key, size_t len) {
    (void)owner;
    prop_key_expired(db, key, len);
}

static void server_key_evicted(void *owner, cb_db *db, const char *key, size_t len) {
    (void)owner;
    prop_key_evicted(db, key, len);
}

int server_create(char *err, size_t errlen) {
    /* This thread is the management thread: its own arena and cache. */
    mem_thread_arena();
    g_server.nworkers = g_config.io_workers > 0 ? g_config.io_workers : 1;
    if (g_config.dataplane == DATAPLANE_DPDK) {
        /* One worker per poll core; the EAL arguments decide how many. */
        int n = ddrv_setup(err, errlen);
        if (n < 0) return -1;
        g_server.nworkers = n;
    }
    g_server.workers = cb_calloc(sizeof(cb_worker *) * (size_t)g_server.nworkers);
    pthread_mutex_init(&g_server.xs_lock, NULL);
    multi_init(g_config.databases);
    script_init();
    blocking_init(g_config.databases);
    pubsub_init();
    tracking_init(g_server.nworkers);
    g_server.start_ms = util_mstime();
    g_server.stat_starttime_us = util_ustime();
    util_random_hex(g_server.run_id, 40);
    for (int i = 0; i < g_server.nworkers; i++) {
        uint8_t seed[16];
        util_random_bytes(seed, sizeof(seed));
        cb_shard *s = shard_create(i, g_config.databases, &g_config.store, seed);
        if (!s) {
            snprintf(err, errlen, "cannot create shard %d", i);
            return -1;
        }
        s->on_modified = server_key_modified; /* WATCH, blocked clients */
        s->on_expired = server_key_expired;   /* AOF */
        s->on_evicted = server_key_evicted;   /* AOF */
        s->on_notify = keyspace_event_publish; /* keyspace notifications */
        s->on_flushall = bgsave_after_flushall; /* drop a snapshot, save again */
        s->mem_account = mem_account_claim(); /* maxmemory share (evict.h) */
        char aerr[256];
        size_t region = (size_t)(g_config.hugepages / (unsigned long long)g_server.nworkers);
        mem_chunk_source src; /* DPDK plane: the dataset lives in EAL memory */
        int sourced = g_config.dataplane == DATAPLANE_DPDK && dpdk_arena_source(i, &src) == 0;
        if (s->mem_account >= 0 &&
            (sourced ? mem_account_arena_src(s->mem_account, &src, aerr, sizeof(aerr))
                     : mem_account_arena(s->mem_account, region, aerr, sizeof(aerr))) != 0)
            cb_log(LOG_WARNING, "shard %d: cannot create its memory arena", i);
        else if (aerr[0])
            cb_log(LOG_WARNING, "shard %d: %s", i, aerr);
        cb_worker *w = worker_create(i, s);
        if (!w) {
            snprintf(err, errlen, "cannot create worker %d: %s", i, strerror(errno));
            return -1;
        }
        g_server.workers[i] = w;
        if (g_config.dataplane != DATAPLANE_DPDK && kdrv_listen(w, err, errlen) < 0) return -1;
    }
    cb_shard **shards = cb_malloc(sizeof(*shards) * (size_t)g_server.nworkers);
    for (int i = 0; i < g_server.nworkers; i++) shards[i] = g_server.workers[i]->shard;
    bgsave_init(shards, g_server.nworkers, mgmt_wake);
    cb_free(shards);
    return 0;
}

int server_start_workers(void) {
    for (int i = 0; i < g_server.nworkers; i++)
        if (worker_start(g_server.workers[i]) < 0) return -1;
    return 0;
}

void server_stop_workers(void) {
    for (int i = 0; i < g_server.nworkers; i++)
        if (g_server.workers[i]) worker_stop(g_server.workers[i]);
}

void server_destroy(void) {
    /* Also after a set-up that failed before the workers array existed. */
    for (int i = 0; g_server.workers && i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w) continue;
        cb_shard *s = w->shard;
        worker_destroy(w);
        shard_destroy(s);
    }
    cb_free(g_server.workers);
    g_server.workers = NULL;
    g_server.nworkers = 0;
}

void server_release_dataplane(void) { ddrv_teardown(); }

static void zero_stats(cb_worker *w) {
    int keep_clients = (int)STAT_GET(w->stats.connected_clients);
    memset(&w->stats, 0, sizeof(w->stats));
    w->stats.connected_clients = (uint64_t)keep_clients;
    memset(w->cmdstats, 0, sizeof(cb_cmd_stats) * (size_t)(command_ids() + 1));
    latency_reset_histograms(w);
    w->nerrstats = 0;
    conn_stats_reset(w->connstats);
    w->shard->stats.expired_keys = 0;
    w->shard->stats.expired_stale_perc_x100 = 0;
    w->shard->stats.expired_time_cap_reached_count = 0;
    w->shard->stats.expire_cycle_cpu_us = 0;
    w->shard->stats.keyspace_hits = 0;
    w->shard->stats.keyspace_misses = 0;
    w->shard->stats.evicted_keys = 0;
    w->shard->lazy.freed = 0;
    w->shard->stats.defrag_hits = w->shard->stats.defrag_misses = 0;
    w->shard->stats.defrag_key_hits = w->shard->stats.defrag_key_misses = 0;
}

void server_reset_stats(void) {
    /* Counters are owned by their workers; resetting from the calling worker
     * is racy only for other workers' in-flight increments, as in Redis's
     * threaded I/O. */
    for (int i = 0; i < g_server.nworkers; i++) zero_stats(g_server.workers[i]);
    g_server.stat_peak_memory = mem_used_total();
}

int server_apply_config(const char *name, char **err) {
    static char errbuf[256];
    if ((!strcmp(name, "port") || !strcmp(name, "bind") || !strcmp(name, "unixsocket")) &&
        g_config.dataplane != DATAPLANE_DPDK) {
        cb_worker *self = worker_self();
        for (int i = 0; i < g_server.nworkers; i++) {
            cb_worker *w = g_server.workers[i];
            if (w == self) {
                if (kdrv_listen(w, errbuf, sizeof(errbuf)) < 0) {
                    if (err) *err = errbuf;
                    return -1;
                }
            } else {
                w->rebind = 1;
                kdrv_wake(w);
            }
        }
        return 0;
    }
    if (!strcmp(name, "dir")) {
        if (chdir(g_config.dir) < 0) {
            snprintf(errbuf, sizeof(errbuf), "%s", strerror(errno));
            if (err) *err = errbuf;
            return -1;
        }
        return 0;
    }
    if (!strcmp(name, "appendonly")) {
        const char *e = NULL;
        return aof_set_enabled(g_config.appendonly, &e);
    }
    if (!strcmp(name, "save")) {
        bgsave_set_points(g_config.save_params);
        return 0;
    }
    if (!strcmp(name, "logfile")) {
        log_reopen();
        return 0;
    }
    return 0;
}

int server_save_before_exit(int flags) {
    int want = (flags & SHUTDOWN_SAVE) ||
               (!(flags & SHUTDOWN_NOSAVE) && g_config.save_params && g_config.save_params[0]);
    if (!want) return 0;
    cb_log(LOG_NOTICE, "Saving the final RDB snapshot before exiting.");
    cb_shard **shards = cb_malloc(sizeof(*shards) * (size_t)g_server.nworkers);
    for (int i = 0; i < g_server.nworkers; i++) shards[i] = g_server.workers[i]->shard;
    char *err = NULL;
    int rc = rdb_save_file(shards, g_server.nworkers, g_config.dbfilename, &err);
    cb_free(shards);
    if (rc != 0) {
        cb_log(LOG_WARNING, "Error saving DB on disk: %s", err ? err : "unknown error");
        cb_free(err);
        if (flags & SHUTDOWN_FORCE) {
            cb_log(LOG_WARNING, "Error trying to save the DB. Exit anyway.");
            return 0;
        }
        cb_log(LOG_WARNING, "Error trying to save the DB, can't exit.");
        return -1;
    }
    cb_log(LOG_NOTICE, "DB saved on disk");
    return 0;
}
