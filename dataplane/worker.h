/* worker.h — one data-plane worker: its event loop, its connections, its
 * keyspace shard and its counters. The loop order is written once in
 * worker.c: input -> timers -> commands -> output flush. On the kernel plane
 * a worker is a thread with its own epoll; on DPDK (next issue) a poll lcore.
 * Other threads read a worker's counters with relaxed loads (STAT_* macros)
 * and never touch anything else of it; they talk to it through its rings.
 */
#ifndef CB_WORKER_H
#define CB_WORKER_H

#include <stdint.h>
#include <stddef.h>
#include <pthread.h>
#include "client.h"
#include "client_evict.h"
#include "../platform/ring.h"

struct cb_shard;

/* Counters written by the owning worker only; read relaxed by others. */
#define STAT_ADD(var, n) __atomic_store_n(&(var), __atomic_load_n(&(var), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define STAT_INC(var) STAT_ADD(var, 1)
#define STAT_GET(var) __atomic_load_n(&(var), __ATOMIC_RELAXED)

typedef struct cb_cmd_stats {
    uint64_t calls, usec, rejected_calls, failed_calls;
} cb_cmd_stats;

#define CB_MAX_ERRCODES 64
typedef struct cb_err_stat {
    char code[32]; /* "ERR", "WRONGTYPE", ... */
    uint64_t count;
} cb_err_stat;

typedef struct cb_worker_stats {
    uint64_t numcommands;
    uint64_t numconnections;
    uint64_t rejected_conn;
    uint64_t net_input_bytes, net_output_bytes;
    uint64_t total_error_replies;
    uint64_t unexpected_error_replies;
    uint64_t client_qbuf_limit_disconnections;
    uint64_t client_outbuf_limit_disconnections;
    uint64_t total_reads, total_writes;
    uint64_t loop_busy_us, loop_idle_us, loops;
    uint64_t connected_clients;   /* current */
    uint64_t blocked_clients;
    uint64_t pubsub_clients;
    uint64_t max_input_buffer, max_output_buffer; /* sampled by cron */
    uint64_t evicted_clients;     /* closed by maxmemory-clients */
    uint64_t instantaneous_ops;   /* per-second estimate */
    uint64_t instantaneous_input_bps, instantaneous_output_bps; /* bytes/s, same window */
} cb_worker_stats;

typedef struct cb_worker {
    int id;
    pthread_t thread;
    int epfd;
    int wake_fd;                 /* eventfd: rings have messages / stop */
    int listen_fds[32];
    int nlisten;
    int unix_fd;
    volatile int rebind;         /* listeners must be recreated (CONFIG SET port/bind) */
    struct cb_shard *shard;
    cb_client *clients;          /* doubly linked list */
    size_t nclients;
    int nheld;                   /* clients whose command CLIENT PAUSE holds */
    int nmonitors;               /* MONITOR clients here (read by other workers) */
    /* Blocking commands (blocking.c). */
    cb_client *blocked;          /* this worker's blocked clients */
    struct { int dbid; char *key; } *ready; /* keys with waiters written by this thread */
    int nready, ready_cap;
    cb_client **unblocked;       /* served or timed out: resume here */
    int nunblocked, unblocked_cap;
    cb_client *pending_write;    /* clients with output to flush */
    char *readbuf;
    size_t readbuf_size;
    volatile int stop;
    cb_worker_stats stats;
    cb_cmd_stats *cmdstats;      /* indexed by cb_command.id */
    cb_err_stat errstats[CB_MAX_ERRCODES];
    int nerrstats;
    long long last_cron_ms;
    uint64_t ops_sample_cmds; long long ops_sample_ms;
    uint64_t ops_sample_in, ops_sample_out; /* net bytes at the last sample */
    cb_ring *to_mgmt, *from_mgmt; /* SPSC rings */
    /* AOF (dataplane/propagate.c, persist/aof.c): effects recorded by this
     * thread, the ring the management thread drains, a wake-up owed to it,
     * and whether the last flush held replies for the fsync. */
    struct cb_prop *prop;
    cb_ring *aof_ring;
    int aof_kick;
    int aof_waiting;
    /* Cross-shard messages (xshard.c): inbox[src] is written by worker src
     * only; messages that found a ring full wait in ovf_*[dst] in order. */
    cb_ring **inbox;
    struct xmsg **ovf_head, **ovf_tail;
    unsigned char *wake_pending;  /* [dst]: wake dst after this loop turn */
    uint64_t parked_gen;          /* last park round this worker joined */
    int exited;                   /* the thread has left its loop */
    /* Slow log and latency monitor / per-command histograms (slowlog.c,
     * latency.c): written by this worker, read with it parked; NULL
     * until first used. */
    struct cb_slowlog *slowlog;
    struct cb_latency *latency;
    /* Time the last driver poll spent waiting for events (the loop's idle
     * part; the rest of a loop turn counts as busy). */
    uint64_t poll_wait_us;
    /* Scripting (dataplane/script/): the Lua VM, set once by this worker
     * (INFO reads its memory); a script past busy-reply-threshold; depth
     * of the nested poll it runs. */
    struct cb_script_vm *script;
    int script_busy;
    int nested_poll;
    pid_t tid;
    struct ddrv_core *dpdk;       /* DPDK plane: this poll core's stack; else NULL */
    /* Client memory (client_evict.c): this worker's clients' total and its
     * biggest non-empty eviction bucket (-1: none), both read by others;
     * the buckets' lists of evictable clients. */
    uint64_t client_mem;
    int evict_top;
    struct cb_conn_stats *connstats; /* per-IP accepts/refusals (conn_stats.c) */
    cb_client *mem_buckets[CB_CLIENT_MEM_BUCKETS];
    struct cb_outconn *outconns;  /* outgoing connections (outconn.h) */
    struct cb_migrate *migrate;   /* MIGRATE's cached target links (cmd_migrate.c) */
    /* TCP connections relayed to the management thread (relay.h): NULL
     * until the first; relay_posted: from_mgmt holds connect requests. */
    struct cb_relays *relays;
    int relay_posted;
    int own_acct;                 /* the thread's own memory account (not the shard's) */
} cb_worker;

/* Server-wide state shared by workers (read-mostly). */
typedef struct cb_server {
    cb_worker **workers;
    int nworkers;
    long long start_ms;
    uint64_t next_client_id;     /* atomic */
    uint64_t connected_clients;  /* atomic, all workers: maxclients */
    char run_id[41];
    int shutdown_asap;           /* set by signal or SHUTDOWN */
    int shutdown_flags;
    int exit_code;
    /* CLIENT PAUSE */
    long long pause_end_ms;      /* 0 when not paused */
    int pause_all;               /* 1 ALL, 0 WRITE */
    /* MONITOR: number of monitors (fast check); monitors live in their workers */
    int monitors;
    uint64_t stat_peak_memory;
    long long stat_starttime_us;
    int config_hz_effective;
    char executable[1024];
    int arch_bits;
    int listening_port;          /* actual port (port 0 -> kernel choice not allowed) */
    int tcp_port_bound;
    /* Parking (xshard.c): one coordinator at a time holds xs_lock. */
    pthread_mutex_t xs_lock;
    int park_active;
    uint64_t park_gen;
    int park_owner;
    int park_acks;
    /* Replication identity for INFO replication (set by info_init, changed by
     * DEBUG CHANGE-REPL-ID); 40 hex chars. */
    char master_replid[41];
    /* used_memory when start-up finished (INFO used_memory_startup). */
    uint64_t stat_startup_memory;
    uint64_t slowlog_next_id;    /* atomic: slow log entry ids, all workers */
} cb_server;

extern cb_server g_server;

/* Current worker of the calling thread (NULL on the management thread). */
cb_worker *worker_self(void);

#endif

/* The kernel I/O driver (dataplane/kernel/epoll_driver.c). */
int kdrv_init(cb_worker *w);                 /* epoll, wake fd, listeners: 0 ok */
int kdrv_listen(cb_worker *w, char *err, size_t errlen); /* (re)create listeners */
void kdrv_unlisten(cb_worker *w);
int kdrv_poll(cb_worker *w, int timeout_ms); /* wait, accept, read -> conn_input */
void kdrv_wake(cb_worker *w);                /* from another thread */
void kdrv_shutdown(cb_worker *w);

/* worker.c */
cb_worker *worker_create(int id, struct cb_shard *shard);
void worker_destroy(cb_worker *w);
int worker_start(cb_worker *w);              /* spawn the thread */
void worker_stop(cb_worker *w);              /* ask to stop and join */
/* Write queued output of clients on the pending list, close what must go. */
void worker_flush(cb_worker *w);
