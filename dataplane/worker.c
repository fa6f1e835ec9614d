/* worker.c — one worker's event loop, written once and in order:
 *
 *   for (;;) {
 *       driver poll      rx -> connection input -> commands (replies queued)
 *       timers           cron at `hz`: expiry, rehash, client timeouts, limits
 *       held commands    resume clients whose CLIENT PAUSE has ended
 *       before sleep     fast expiry cycle
 *       tx flush         write every client on the pending-write list
 *   }
 *
 * The worker owns its shard and clients outright; other threads only read
 * its counters and talk to it through the wake fd and rings (worker.h).
 */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cmd/command.h"
#include "conn.h"
#include "conn_stats.h"
#include "blocking.h"
#include "dispatch.h"
#include "latency.h"
#include "slowlog.h"
#include "tracking.h"
#include "xshard.h"
#include "script/script.h"
#include "propagate.h"
#include "outconn.h"
#include "relay.h"
#include "cmd/migrate.h"
#include "../persist/aof.h"
#include "dpdk/dpdk_driver.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"
#include "../persist/bgsave.h"
#include "../persist/loading.h"

#define READBUF_SIZE (64 * 1024)
/* Lazy free may take this long per loop turn (store/lazyfree.h). */
#define LAZYFREE_STEP_US 1000

static _Thread_local cb_worker *self_worker;

cb_worker *worker_self(void) { return self_worker; }

cb_worker *worker_create(int id, struct cb_shard *shard) {
    cb_worker *w = cb_calloc(sizeof(*w));
    w->id = id;
    w->shard = shard;
    w->epfd = w->wake_fd = w->unix_fd = -1;
    w->readbuf_size = READBUF_SIZE;
    w->evict_top = -1;
    w->connstats = conn_stats_create();
    w->readbuf = cb_malloc(w->readbuf_size);
    w->cmdstats = cb_calloc(sizeof(cb_cmd_stats) * (size_t)(command_ids() + 1));
    w->to_mgmt = ring_create(1024);
    w->from_mgmt = ring_create(1024);
    w->aof_ring = ring_create(65536);
    w->prop = prop_create();
    if (xshard_init_worker(w, g_server.nworkers) < 0 || kdrv_init(w) < 0 ||
        (g_config.dataplane == DATAPLANE_DPDK && ddrv_init(w) < 0)) {
        worker_destroy(w);
        return NULL;
    }
    return w;
}

void worker_destroy(cb_worker *w) {
    if (!w) return;
    while (w->clients) {
        w->clients->held = 0; /* replies still in flight die with the rings */
        conn_close(w->clients);
    }
    migrate_worker_free(w);
    relay_worker_free(w);
    outconn_close_all(w);
    kdrv_shutdown(w);
    ddrv_shutdown(w);
    xshard_free_worker(w);
    script_worker_free(w);
    for (int i = 0; i < w->nready; i++) cbstr_free(w->ready[i].key);
    cb_free(w->ready);
    cb_free(w->unblocked);
    ring_free(w->to_mgmt);
    ring_free(w->from_mgmt);
    if (w->aof_ring) {
        void *r;
        while ((r = ring_dequeue(w->aof_ring)) != NULL) cb_free(r);
        ring_free(w->aof_ring);
    }
    prop_destroy(w->prop);
    cb_free(w->cmdstats);
    slowlog_free(w);
    latency_free(w);
    conn_stats_free(w->connstats);
    cb_free(w->readbuf);
    cb_free(w);
}

void worker_flush(cb_worker *w) {
    cb_client *list = w->pending_write;
    w->pending_write = NULL;
    /* AOF on: a reply leaves only once the AOF record it depends on is
     * written (fsynced under appendfsync always); such clients stay on the
     * list until the writer wakes us. */
    int hold = aof_hold_replies();
    /* Say we may wait before reading the writer's progress, and it
     * publishes progress before looking who waits: no wake-up is lost. */
    if (hold) __atomic_store_n(&w->aof_waiting, 1, __ATOMIC_SEQ_CST);
    uint64_t synced = hold ? aof_synced_seq() : 0;
    int kept = 0;
    while (list) {
        cb_client *c = list;
        list = c->pending_next;
        if (hold && c->aof_wait > synced && !(c->flags & CLIENT_CLOSE_ASAP)) {
            c->pending_next = w->pending_write;
            w->pending_write = c;
            kept = 1;
            continue;
        }
        c->flags &= ~CLIENT_PENDING_WRITE;
        if (c->flags & CLIENT_CLOSE_ASAP) {
            conn_close(c);
            continue;
        }
        if (conn_flush(c) < 0) {
            conn_close(c);
            continue;
        }
        client_mem_update(c);
        if (c->out_bytes == 0 && (c->flags & CLIENT_CLOSE_AFTER_REPLY)) {
            conn_close(c);
            continue;
        }
        /* Output left: the driver re-queues the client once the socket
         * drains; arm/disarm only on change (a syscall each). */
        int want = c->out_bytes != 0;
        if (want != !!(c->flags & CLIENT_WANT_WRITE)) {
            c->ops->want_write(c, want);
            c->flags ^= CLIENT_WANT_WRITE;
        }
    }
    if (!kept) __atomic_store_n(&w->aof_waiting, 0, __ATOMIC_RELAXED);
}

static void clients_cron(cb_worker *w, long long now) {
    cb_client *next;
    for (cb_client *c = w->clients; c; c = next) {
        next = c->next;
        if (c->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSED)) continue;
        if (g_config.timeout && !(c->flags & CLIENT_MONITOR) && !c->held &&
            (now - c->last_interaction_ms) / 1000 > g_config.timeout) {
            cb_log(LOG_VERBOSE, "Closing idle client");
            conn_close_async(c);
            continue;
        }
        /* The soft limit's time can run out without new output. */
        if (conn_check_output_limits(c)) continue;
        client_mem_update(c);
        size_t q = resp_parser_buffered(&c->parser) + c->pending_len;
        if (q > STAT_GET(w->stats.max_input_buffer)) __atomic_store_n(&w->stats.max_input_buffer, q, __ATOMIC_RELAXED);
        if (c->out_bytes > STAT_GET(w->stats.max_output_buffer))
            __atomic_store_n(&w->stats.max_output_buffer, c->out_bytes, __ATOMIC_RELAXED);
    }
}

static void resume_held(cb_worker *w) {
    cb_client *next;
    for (cb_client *c = w->clients; c; c = next) {
        next = c->next;
        if (c->held && !(c->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSED)) &&
            !dispatch_paused_for(c, c->cmd))
            conn_resume(c);
    }
}

/* The active expiry's time as a latency monitor "expire-cycle" event. */
static void expire_cycle_event(cb_worker *w, uint64_t before_us) {
    uint64_t spent = STAT_GET(w->shard->stats.expire_cycle_cpu_us) - before_us;
    if (g_config.latency_monitor_threshold && spent >= 1000)
        latency_event(w, "expire-cycle", (long long)(spent / 1000));
}

static void worker_cron(cb_worker *w, long long now) {
    uint64_t exp_us = STAT_GET(w->shard->stats.expire_cycle_cpu_us);
    /* While the dataset loads nothing expires, is evicted or rehashed
     * here: the loader owns what it has put in (persist/loading.h). */
    if (!loading_active()) shard_cron(w->shard);
    expire_cycle_event(w, exp_us);
    w->stats.max_input_buffer = 0;
    w->stats.max_output_buffer = 0;
    clients_cron(w, now);
    if (w->migrate) migrate_cron(w, now);             /* MIGRATE's idle cached links */
    /* Instantaneous ops/sec over the last ~second. */
    if (now - w->ops_sample_ms >= 1000) {
        uint64_t cmds = STAT_GET(w->stats.numcommands);
        if (w->ops_sample_ms) {
            uint64_t ops = (cmds - w->ops_sample_cmds) * 1000 / (uint64_t)(now - w->ops_sample_ms);
            __atomic_store_n(&w->stats.instantaneous_ops, ops, __ATOMIC_RELAXED);
            /* Network rates in bytes/s (INFO prints KiB/s). */
            uint64_t in = STAT_GET(w->stats.net_input_bytes), out = STAT_GET(w->stats.net_output_bytes);
            uint64_t span = (uint64_t)(now - w->ops_sample_ms);
            __atomic_store_n(&w->stats.instantaneous_input_bps, (in - w->ops_sample_in) * 1000 / span,
                             __ATOMIC_RELAXED);
            __atomic_store_n(&w->stats.instantaneous_output_bps,
                             (out - w->ops_sample_out) * 1000 / span, __ATOMIC_RELAXED);
        }
        w->ops_sample_in = STAT_GET(w->stats.net_input_bytes);
        w->ops_sample_out = STAT_GET(w->stats.net_output_bytes);
        w->ops_sample_cmds = cmds;
        w->ops_sample_ms = now;
    }
}

static void *worker_main(void *arg) {
    cb_worker *w = arg;
    self_worker = w;
    w->thread = pthread_self();
    w->own_acct = -1;
    if (w->shard->mem_account >= 0) w->own_acct = mem_account_use(w->shard->mem_account);
    w->tid = (pid_t)syscall(SYS_gettid);
    log_set_role('M'); /* one Redis-style role per process: master */
    sigset_t set;
    sigfillset(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    char tname[16];
    snprintf(tname, sizeof(tname), "cbx-worker-%d", w->id);
    pthread_setname_np(pthread_self(), tname);

    unsigned idle_turns = 0; /* DPDK: turns in a row that received nothing */
    while (!w->stop) {
        long long now = util_mstime();
        int hz = g_config.store.hz > 0 ? g_config.store.hz : 10;
        long long period = 1000 / hz;
        long long due = w->last_cron_ms + period - now;
        int timeout = due < 0 ? 0 : (int)due;
        if ((w->pending_write && !w->aof_waiting) || xshard_pending(w) || w->nunblocked ||
            w->shard->evict_pending || w->shard->lazy.nobj || w->shard->lazy.ndict)
            timeout = 0;
        else if (w->aof_waiting && timeout > 1)
            timeout = 1; /* the writer wakes us; this bounds a lost wake-up */
        if (w->blocked && timeout > 10) timeout = 10; /* blocking timeouts: 10 ms steps */
        if (w->outconns && timeout > 10) timeout = 10; /* outgoing links' deadlines */
        int snap_wait = bgsave_worker_step(w->id);   /* snapshot serialization, budgeted */
        if (snap_wait >= 0 && timeout > snap_wait) timeout = snap_wait;

        uint64_t t0 = util_monotonic_us();
        int got = 1;
        if (w->dpdk)
            got = ddrv_poll(w);                      /* rx -> stack -> input -> commands; TCP timers */
        else
            kdrv_poll(w, timeout);                   /* rx -> input -> commands */
        xshard_service(w);                           /* other shards' commands and replies */
        if (w->relays || __atomic_load_n(&w->relay_posted, __ATOMIC_RELAXED))
            relay_tick(w, t0);                       /* relayed links (replication on DPDK) */

        now = util_mstime();
        if (now - w->last_cron_ms >= period) {       /* timers */
            w->last_cron_ms = now;
            worker_cron(w, now);
        }
        if (w->rebind) {
            char err[512];
            w->rebind = 0;
            if (kdrv_listen(w, err, sizeof(err)) < 0) cb_log(LOG_WARNING, "%s", err);
        }
        if (w->nheld) resume_held(w);                /* held commands */
        if (w->blocked) blocking_cron(w, util_mstime()); /* blocking timeouts */
        if (w->nunblocked) blocking_resume_unblocked(w);
        if (w->outconns) outconn_cron(w, util_mstime()); /* outgoing links: deadlines, frees */
        uint64_t exp_us = STAT_GET(w->shard->stats.expire_cycle_cpu_us);
        if (!loading_active()) shard_before_sleep(w->shard); /* fast expiry */
        expire_cycle_event(w, exp_us);
        tracking_before_sleep(w);                    /* BCAST invalidations */
        prop_worker_turn(w);                         /* AOF records to the writer */
        worker_flush(w);                             /* tx flush */
        client_evict_run(w);                         /* maxmemory-clients */
        if (w->dpdk) ddrv_tx_flush(w);               /* owed ACKs, transmit batch */
        lazyfree_step(w->shard, LAZYFREE_STEP_US);   /* lazy free, after replies left */

        uint64_t t2 = util_monotonic_us();
        if (w->dpdk) {
            /* A poll core never sleeps: a turn that received nothing is idle. */
            if (got) STAT_ADD(w->stats.loop_busy_us, t2 - t0);
            else STAT_ADD(w->stats.loop_idle_us, t2 - t0);
            STAT_INC(w->stats.loops);
            idle_turns = got ? 0 : idle_turns + 1;
            /* dpdk-idle-sleep-us: only after a run of idle turns and with
             * no work of its own due now (timeout 0 means there is). */
            if (g_config.dpdk_idle_sleep_us > 0 && idle_turns >= 256 && timeout > 0) {
                uint64_t s0 = util_monotonic_us();
                usleep((useconds_t)g_config.dpdk_idle_sleep_us);
                STAT_ADD(w->stats.loop_idle_us, util_monotonic_us() - s0);
            }
            continue;
        }
        /* Busy = everything but the time spent waiting inside the poll
         * (the poll itself also reads input and runs commands). */
        uint64_t idle = w->poll_wait_us < t2 - t0 ? w->poll_wait_us : t2 - t0;
        STAT_ADD(w->stats.loop_busy_us, t2 - t0 - idle);
        STAT_ADD(w->stats.loop_idle_us, idle);
        STAT_INC(w->stats.loops);
    }
    __atomic_store_n(&w->exited, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int lcore_main(void *arg) {
    worker_main(arg);
    return 0;
}

int worker_start(cb_worker *w) {
    if (w->dpdk) return ddrv_launch(w, lcore_main); /* the worker's poll lcore */
    return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}

void worker_stop(cb_worker *w) {
    w->stop = 1;
    if (w->dpdk) {
        ddrv_join(w);
        return;
    }
    kdrv_wake(w);
    if (pthread_self() != w->thread) pthread_join(w->thread, NULL);
}
