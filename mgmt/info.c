/* info.c — INFO: builds Redis 7.0.15's report from our own state.
 *
 * Field names, their order and their number formats are Redis's, so that
 * redis-cli, prometheus-redis-exporter and dashboards read us unchanged
 * (architecture.md, "Control port and monitoring"). Where a subsystem does
 * not exist yet (persistence, replication, Lua, defrag), the fields say what
 * a Redis that never saved, has no replicas and ran no script says.
 * cachebox adds one field of its own, server.cachebox_version, at the end of
 * its section so that Redis's order is untouched.
 *
 * Values come from: g_server / g_config; every worker's counters (read
 * relaxed, summed); every shard's keyspace sizes and counters; mem.h for
 * used_memory; memory.h's cache (refreshed by the management thread) for
 * RSS and jemalloc's statistics; getrusage for CPU.
 *
 * INFO runs with the other workers parked (dataplane/xshard.c), so reading
 * their shards and client lists from this thread is safe.
 */
#include "info.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>


#include "../dataplane/blocking.h"
#include "../dataplane/client.h"
#include "../dataplane/conn_stats.h"
#include "../dataplane/latency.h"
#include "../dataplane/pubsub.h"
#include "../dataplane/cmd/command.h"
#include "../dataplane/resp/reply.h"
#include "../dataplane/script/script.h"
#include "../dataplane/worker.h"
#include "../dataplane/dpdk/dpdk_driver.h"
#include "../dataplane/tracking.h"
#include "../platform/config.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"
#include "memory.h"
#include "../persist/aof.h"
#include "../persist/bgsave.h"
#include "repl.h"
#include "replica.h"
#include "../persist/loading.h"

#ifndef CACHEBOX_VERSION
#define CACHEBOX_VERSION "0.1.0"
#endif

/* The Redis release whose behaviour we reproduce. */
#define INFO_REDIS_VERSION "7.0.15"
/* Redis's default repl-backlog-size, printed as configured. */

/* ------------------------------------------------------------- gathering */

/* Sums of every worker's counters (max for the "recent max" gauges). */
typedef struct info_totals {
    cb_worker_stats w;
    cb_shard_stats sh;
    uint64_t dirty;
    uint64_t stale_perc_x100_sum;
    int nshards;
} info_totals;

static void gather(info_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w) continue;
        const cb_worker_stats *s = &w->stats;
#define SUM(f) t->w.f += STAT_GET(s->f)
#define MAX(f) do { uint64_t v_ = STAT_GET(s->f); if (v_ > t->w.f) t->w.f = v_; } while (0)
        SUM(numcommands);
        SUM(numconnections);
        SUM(rejected_conn);
        SUM(net_input_bytes);
        SUM(net_output_bytes);
        SUM(total_error_replies);
        SUM(unexpected_error_replies);
        SUM(client_qbuf_limit_disconnections);
        SUM(client_outbuf_limit_disconnections);
        SUM(evicted_clients);
        SUM(total_reads);
        SUM(total_writes);
        SUM(connected_clients);
        SUM(blocked_clients);
        SUM(pubsub_clients);
        MAX(max_input_buffer);
        MAX(max_output_buffer);
        SUM(instantaneous_ops);
        SUM(instantaneous_input_bps);
        SUM(instantaneous_output_bps);
#undef SUM
#undef MAX
        cb_shard *sh = w->shard;
        if (!sh) continue;
        t->nshards++;
#define SSUM(f) t->sh.f += STAT_GET(sh->stats.f)
        SSUM(expired_keys);
        SSUM(expired_time_cap_reached_count);
        SSUM(expire_cycle_cpu_us);
        SSUM(keyspace_hits);
        SSUM(keyspace_misses);
        SSUM(evicted_keys);
        SSUM(defrag_hits);
        SSUM(defrag_misses);
        SSUM(defrag_key_hits);
        SSUM(defrag_key_misses);
#undef SSUM
        t->stale_perc_x100_sum += STAT_GET(sh->stats.expired_stale_perc_x100);
        t->dirty += STAT_GET(sh->dirty);
    }
}

static cbstr cat_human(cbstr s, const char *name, unsigned long long n)
{
    char buf[64];
    util_bytes_human(buf, sizeof(buf), n);
    return cbstr_catfmt(s, "%s:%s\r\n", name, buf);
}

/* Redis reports the CPU share of the defrag cycle in progress (0: none). */
static int defrag_running(void)
{
    int r = 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        int v = w && w->shard ? __atomic_load_n(&w->shard->defrag.running, __ATOMIC_RELAXED) : 0;
        if (v > r) r = v;
    }
    return r;
}

static const char *policy_name(int p)
{
    static const char *const names[] = {
        [MAXMEM_NOEVICTION] = "noeviction",         [MAXMEM_ALLKEYS_LRU] = "allkeys-lru",
        [MAXMEM_ALLKEYS_LFU] = "allkeys-lfu",       [MAXMEM_ALLKEYS_RANDOM] = "allkeys-random",
        [MAXMEM_VOLATILE_LRU] = "volatile-lru",     [MAXMEM_VOLATILE_LFU] = "volatile-lfu",
        [MAXMEM_VOLATILE_RANDOM] = "volatile-random", [MAXMEM_VOLATILE_TTL] = "volatile-ttl",
    };
    if (p < 0 || p >= (int)(sizeof(names) / sizeof(names[0])) || !names[p]) return "noeviction";
    return names[p];
}

static const char *supervised_name(void)
{
    switch (g_config.supervised) {
    case SUPERVISED_UPSTART: return "upstart";
    case SUPERVISED_SYSTEMD: return "systemd";
    case SUPERVISED_AUTO:
        if (getenv("NOTIFY_SOCKET")) return "systemd";
        if (getenv("UPSTART_JOB")) return "upstart";
        return "no";
    default: return "no";
    }
}

/* Redis prints a hash of its build as a hex number; ours hashes the version. */
static unsigned long long build_id(void)
{
    static const uint8_t seed[16] = { 'c', 'a', 'c', 'h', 'e', 'b', 'o', 'x' };
    const char *v = CACHEBOX_VERSION " " __VERSION__;
    return (unsigned long long)util_hash(v, strlen(v), seed);
}

/* -------------------------------------------------------------- sections */

typedef struct info_ctx {
    cb_client *c;
    info_totals t;
} info_ctx;

static cbstr sec_server(cbstr s, info_ctx *x)
{
    (void)x;
    struct utsname u;
    if (uname(&u) != 0) memset(&u, 0, sizeof(u));
    long long now_us = util_ustime();
    long long uptime = (now_us / 1000 - g_server.start_ms) / 1000;
    if (uptime < 0) uptime = 0;
    int hz = g_server.config_hz_effective ? g_server.config_hz_effective : g_config.store.hz;
#ifdef __GNUC__
    int gmaj = __GNUC__, gmin = __GNUC_MINOR__, gpat = __GNUC_PATCHLEVEL__;
#else
    int gmaj = 0, gmin = 0, gpat = 0;
#endif
    s = cbstr_catfmt(s,
                     "redis_version:" INFO_REDIS_VERSION "\r\n"
                     "redis_git_sha1:00000000\r\n"
                     "redis_git_dirty:0\r\n"
                     "redis_build_id:%llx\r\n"
                     "redis_mode:standalone\r\n"
                     "os:%s %s %s\r\n"
                     "arch_bits:%d\r\n"
                     "monotonic_clock:POSIX clock_gettime\r\n"
                     "multiplexing_api:epoll\r\n"
                     "atomicvar_api:c11-builtin\r\n"
                     "gcc_version:%d.%d.%d\r\n"
                     "process_id:%ld\r\n"
                     "process_supervised:%s\r\n"
                     "run_id:%s\r\n"
                     "tcp_port:%d\r\n"
                     "server_time_usec:%lld\r\n"
                     "uptime_in_seconds:%lld\r\n"
                     "uptime_in_days:%lld\r\n"
                     "hz:%d\r\n"
                     "configured_hz:%d\r\n"
                     "lru_clock:%u\r\n"
                     "executable:%s\r\n"
                     "config_file:%s\r\n"
                     "io_threads_active:0\r\n"
                     "cachebox_version:" CACHEBOX_VERSION "\r\n",
                     build_id(), u.sysname, u.release, u.machine,
                     g_server.arch_bits ? g_server.arch_bits : (int)(sizeof(long) * 8), gmaj,
                     gmin, gpat, (long)getpid(), supervised_name(), g_server.run_id,
                     g_config.port, now_us, uptime, uptime / 86400, hz, g_config.store.hz,
                     lru_clock_of(now_us / 1000), g_server.executable,
                     g_config.config_file ? g_config.config_file : "");
    return s;
}

static cbstr sec_clients(cbstr s, info_ctx *x)
{
    size_t timeouts = 0;
    for (int i = 0; i < g_server.nworkers; i++)
        if (g_server.workers[i]) timeouts += blocking_count_with_timeout(g_server.workers[i]);
    return cbstr_catfmt(s,
                        "connected_clients:%llu\r\n"
                        "cluster_connections:0\r\n"
                        "maxclients:%u\r\n"
                        "client_recent_max_input_buffer:%llu\r\n"
                        "client_recent_max_output_buffer:%llu\r\n"
                        "blocked_clients:%llu\r\n"
                        "tracking_clients:%llu\r\n"
                        "clients_in_timeout_table:%zu\r\n",
                        /* Redis counts its master's link as a client. */
                        (unsigned long long)x->t.w.connected_clients +
                            (replica_master_client_id() ? 1 : 0),
                        g_config.maxclients,
                        (unsigned long long)x->t.w.max_input_buffer,
                        (unsigned long long)x->t.w.max_output_buffer,
                        (unsigned long long)x->t.w.blocked_clients,
                        (unsigned long long)tracking_clients(), timeouts);
}

/* Raise the recorded peak to at least `used` (any worker may call INFO). */
static uint64_t update_peak(uint64_t used)
{
    uint64_t peak = __atomic_load_n(&g_server.stat_peak_memory, __ATOMIC_RELAXED);
    while (used > peak && !__atomic_compare_exchange_n(&g_server.stat_peak_memory, &peak, used,
                                                       1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return used > peak ? used : peak;
}

static cbstr sec_memory(cbstr s, info_ctx *x)
{
    (void)x;
    size_t used = mem_used_total();
    /* Allocator and RSS figures: the management thread's cache (memory.h). */
    cb_alloc_stats as;
    memstats_get(&as);
    size_t rss = as.rss;
    uint64_t peak = update_peak(used);
    size_t startup = (size_t)g_server.stat_startup_memory;
    size_t clients = mem_clients_normal();
    size_t overhead = startup + mem_keyspace_overhead() + clients;
    if (overhead > used) overhead = used;
    size_t dataset = used - overhead;
    size_t net = used > startup ? used - startup : 1;
    size_t allocated = as.allocated, active = as.active, resident = as.resident;
    size_t lazy_pending, lazy_freed;
    mem_lazyfree_counts(&lazy_pending, &lazy_freed);
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    unsigned long long sysmem =
        pages > 0 && psize > 0 ? (unsigned long long)pages * (unsigned long long)psize : 0;
    unsigned long long maxmem = g_config.store.maxmemory;

    s = cbstr_catfmt(s, "used_memory:%zu\r\n", used);
    s = cat_human(s, "used_memory_human", used);
    s = cbstr_catfmt(s, "used_memory_rss:%zu\r\n", rss);
    s = cat_human(s, "used_memory_rss_human", rss);
    s = cbstr_catfmt(s, "used_memory_peak:%llu\r\n", (unsigned long long)peak);
    s = cat_human(s, "used_memory_peak_human", peak);
    s = cbstr_catfmt(s,
                     "used_memory_peak_perc:%.2f%%\r\n"
                     "used_memory_overhead:%zu\r\n"
                     "used_memory_startup:%zu\r\n"
                     "used_memory_dataset:%zu\r\n"
                     "used_memory_dataset_perc:%.2f%%\r\n"
                     "allocator_allocated:%zu\r\n"
                     "allocator_active:%zu\r\n"
                     "allocator_resident:%zu\r\n"
                     "total_system_memory:%llu\r\n",
                     peak ? (double)used * 100 / (double)peak : 0.0, overhead, startup, dataset,
                     (double)dataset * 100 / (double)net, allocated, active, resident, sysmem);
    s = cat_human(s, "total_system_memory_human", sysmem);
    /* Scripting: the workers' Lua heaps (function callbacks live in the
     * same VMs, counted there), the script cache and the function registry. */
    size_t lua_mem = script_vm_memory(), scripts_mem = script_cache_memory();
    size_t fn_mem = script_functions_memory();
    s = cbstr_catfmt(s, "used_memory_lua:%zu\r\n"
                        "used_memory_vm_eval:%zu\r\n", lua_mem, lua_mem);
    s = cat_human(s, "used_memory_lua_human", lua_mem);
    s = cbstr_catfmt(s, "used_memory_scripts_eval:%zu\r\n"
                        "number_of_cached_scripts:%zu\r\n"
                        "number_of_functions:%zu\r\n"
                        "number_of_libraries:%zu\r\n"
                        "used_memory_vm_functions:0\r\n"
                        "used_memory_vm_total:%zu\r\n",
                     scripts_mem, script_cache_count(), script_functions_count(),
                     script_libraries_count(), lua_mem);
    s = cat_human(s, "used_memory_vm_total_human", lua_mem);
    s = cbstr_catfmt(s, "used_memory_functions:%zu\r\n"
                        "used_memory_scripts:%zu\r\n", fn_mem, scripts_mem + fn_mem);
    s = cat_human(s, "used_memory_scripts_human", scripts_mem + fn_mem);
    s = cbstr_catfmt(s, "maxmemory:%llu\r\n", maxmem);
    s = cat_human(s, "maxmemory_human", maxmem);
    s = cbstr_catfmt(s, "maxmemory_policy:%s\r\n", policy_name(g_config.store.maxmemory_policy));
    s = cbstr_catfmt(
        s,
        "allocator_frag_ratio:%.2f\r\n"
        "allocator_frag_bytes:%zu\r\n"
        "allocator_rss_ratio:%.2f\r\n"
        "allocator_rss_bytes:%lld\r\n"
        "rss_overhead_ratio:%.2f\r\n"
        "rss_overhead_bytes:%lld\r\n"
        "mem_fragmentation_ratio:%.2f\r\n"
        "mem_fragmentation_bytes:%lld\r\n"
        "mem_not_counted_for_evict:%zu\r\n"
        "mem_replication_backlog:%zu\r\n"
        "mem_total_replication_buffers:%zu\r\n"
        "mem_clients_slaves:%zu\r\n"
        "mem_clients_normal:%zu\r\n"
        "mem_cluster_links:0\r\n"
        "mem_aof_buffer:0\r\n"
        "mem_allocator:%s\r\n"
        "active_defrag_running:%d\r\n"
        "lazyfree_pending_objects:%zu\r\n"
        "lazyfreed_objects:%zu\r\n",
        allocated ? (double)active / (double)allocated : 0.0, active - allocated,
        active ? (double)resident / (double)active : 0.0, (long long)resident - (long long)active,
        resident ? (double)rss / (double)resident : 0.0, (long long)rss - (long long)resident,
        used ? (double)rss / (double)used : 0.0, (long long)rss - (long long)used,
        mem_not_counted(), repl_mem_backlog(), repl_mem_backlog() + repl_mem_replicas(), repl_mem_replicas(), clients,
        mem_allocator_name(), defrag_running(), lazy_pending, lazy_freed);
    return s;
}

static cbstr sec_persistence(cbstr s, info_ctx *x)
{
    /* The rdb_* part belongs to the snapshot machinery (persist/bgsave.c),
     * the aof_* and module_fork_* part to the AOF writer (persist/aof.c). */
    (void)x;
    s = bgsave_info(s);
    s = aof_info_fields(s);
    return loading_info_fields(s); /* persist/loading.c, while loading */
}

static cbstr sec_stats(cbstr s, info_ctx *x)
{
    const info_totals *t = &x->t;
    double stale = t->nshards ? (double)t->stale_perc_x100_sum / t->nshards / 100.0 : 0.0;
    long long rs_full, rs_ok, rs_err;
    repl_sync_stats(&rs_full, &rs_ok, &rs_err);
    s = cbstr_catfmt(s,
                     "total_connections_received:%llu\r\n"
                     "total_commands_processed:%llu\r\n"
                     "instantaneous_ops_per_sec:%llu\r\n"
                     "total_net_input_bytes:%llu\r\n"
                     "total_net_output_bytes:%llu\r\n"
                     "total_net_repl_input_bytes:0\r\n"
                     "total_net_repl_output_bytes:%lld\r\n"
                     "instantaneous_input_kbps:%.2f\r\n"
                     "instantaneous_output_kbps:%.2f\r\n"
                     "instantaneous_input_repl_kbps:0.00\r\n"
                     "instantaneous_output_repl_kbps:0.00\r\n"
                     "rejected_connections:%llu\r\n"
                     "sync_full:%lld\r\n"
                     "sync_partial_ok:%lld\r\n"
                     "sync_partial_err:%lld\r\n"
                     "expired_keys:%llu\r\n"
                     "expired_stale_perc:%.2f\r\n"
                     "expired_time_cap_reached_count:%llu\r\n"
                     "expire_cycle_cpu_milliseconds:%llu\r\n"
                     "evicted_keys:%llu\r\n"
                     "evicted_clients:%llu\r\n"
                     "total_eviction_exceeded_time:0\r\n"
                     "current_eviction_exceeded_time:0\r\n"
                     "keyspace_hits:%llu\r\n"
                     "keyspace_misses:%llu\r\n",
                     (unsigned long long)t->w.numconnections, (unsigned long long)t->w.numcommands,
                     (unsigned long long)t->w.instantaneous_ops,
                     (unsigned long long)t->w.net_input_bytes,
                     (unsigned long long)t->w.net_output_bytes, repl_net_output_bytes(),
                     (double)t->w.instantaneous_input_bps / 1024.0,
                     (double)t->w.instantaneous_output_bps / 1024.0,
                     (unsigned long long)t->w.rejected_conn, rs_full, rs_ok, rs_err,
                     (unsigned long long)t->sh.expired_keys,
                     stale, (unsigned long long)t->sh.expired_time_cap_reached_count,
                     (unsigned long long)(t->sh.expire_cycle_cpu_us / 1000),
                     (unsigned long long)t->sh.evicted_keys,
                     (unsigned long long)t->w.evicted_clients,
                     (unsigned long long)t->sh.keyspace_hits,
                     (unsigned long long)t->sh.keyspace_misses);
    return cbstr_catfmt(s,
                        "pubsub_channels:%zu\r\n"
                        "pubsub_patterns:%zu\r\n"
                        "pubsubshard_channels:%zu\r\n"
                        "latest_fork_usec:0\r\n"
                        "total_forks:0\r\n"
                        "migrate_cached_sockets:0\r\n"
                        "slave_expires_tracked_keys:0\r\n"
                        "active_defrag_hits:%llu\r\n"
                        "active_defrag_misses:%llu\r\n"
                        "active_defrag_key_hits:%llu\r\n"
                        "active_defrag_key_misses:%llu\r\n"
                        "total_active_defrag_time:0\r\n"
                        "current_active_defrag_time:0\r\n"
                        "tracking_total_keys:%llu\r\n"
                        "tracking_total_items:%llu\r\n"
                        "tracking_total_prefixes:%llu\r\n"
                        "unexpected_error_replies:%llu\r\n"
                        "total_error_replies:%llu\r\n"
                        "dump_payload_sanitizations:0\r\n"
                        "total_reads_processed:%llu\r\n"
                        "total_writes_processed:%llu\r\n"
                        "io_threaded_reads_processed:0\r\n"
                        "io_threaded_writes_processed:0\r\n"
                        "reply_buffer_shrinks:0\r\n"
                        "reply_buffer_expands:0\r\n",
                        pubsub_channel_count(), pubsub_pattern_count(),
                        pubsub_shard_channel_count(),
                        (unsigned long long)t->sh.defrag_hits,
                        (unsigned long long)t->sh.defrag_misses,
                        (unsigned long long)t->sh.defrag_key_hits,
                        (unsigned long long)t->sh.defrag_key_misses,
                        (unsigned long long)tracking_total_keys(),
                        (unsigned long long)tracking_total_items(),
                        (unsigned long long)tracking_total_prefixes(),
                        (unsigned long long)t->w.unexpected_error_replies,
                        (unsigned long long)t->w.total_error_replies,
                        (unsigned long long)t->w.total_reads,
                        (unsigned long long)t->w.total_writes);
}

static cbstr sec_replication(cbstr s, info_ctx *x)
{
    (void)x;
    if (replica_active()) return replica_info(s); /* mgmt/replica.c */
    return repl_info(s); /* mgmt/repl.c */
}

static cbstr sec_cpu(cbstr s, info_ctx *x)
{
    (void)x;
    struct rusage self, children, thread;
    memset(&self, 0, sizeof(self));
    memset(&children, 0, sizeof(children));
    memset(&thread, 0, sizeof(thread));
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    /* Redis's "main thread" is the one running commands: here, this worker. */
    getrusage(RUSAGE_THREAD, &thread);
#define TV(t) (long)(t).tv_sec, (long)(t).tv_usec
    return cbstr_catfmt(s,
                        "used_cpu_sys:%ld.%06ld\r\n"
                        "used_cpu_user:%ld.%06ld\r\n"
                        "used_cpu_sys_children:%ld.%06ld\r\n"
                        "used_cpu_user_children:%ld.%06ld\r\n"
                        "used_cpu_sys_main_thread:%ld.%06ld\r\n"
                        "used_cpu_user_main_thread:%ld.%06ld\r\n",
                        TV(self.ru_stime), TV(self.ru_utime), TV(children.ru_stime),
                        TV(children.ru_utime), TV(thread.ru_stime), TV(thread.ru_utime));
#undef TV
}

static cbstr sec_modules(cbstr s, info_ctx *x)
{
    (void)x;
    return s; /* no modules: the title alone */
}

static cbstr sec_commandstats(cbstr s, info_ctx *x)
{
    (void)x;
    int n = command_ids();
    for (int id = 0; id < n; id++) {
        const cb_command *cmd = command_by_id(id);
        if (!cmd) continue;
        cb_cmd_stats sum = { 0, 0, 0, 0 };
        for (int i = 0; i < g_server.nworkers; i++) {
            cb_worker *w = g_server.workers[i];
            if (!w || !w->cmdstats) continue;
            const cb_cmd_stats *cs = &w->cmdstats[id];
            sum.calls += STAT_GET(cs->calls);
            sum.usec += STAT_GET(cs->usec);
            sum.rejected_calls += STAT_GET(cs->rejected_calls);
            sum.failed_calls += STAT_GET(cs->failed_calls);
        }
        if (!sum.calls && !sum.rejected_calls && !sum.failed_calls) continue;
        s = cbstr_catfmt(s,
                         "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,"
                         "rejected_calls=%llu,failed_calls=%llu\r\n",
                         command_fullname(cmd), (unsigned long long)sum.calls,
                         (unsigned long long)sum.usec,
                         sum.calls ? (double)sum.usec / (double)sum.calls : 0.0,
                         (unsigned long long)sum.rejected_calls,
                         (unsigned long long)sum.failed_calls);
    }
    return s;
}

static int errstat_cmp(const void *a, const void *b)
{
    return strcmp(((const cb_err_stat *)a)->code, ((const cb_err_stat *)b)->code);
}

static cbstr sec_errorstats(cbstr s, info_ctx *x)
{
    (void)x;
    size_t cap = (size_t)(g_server.nworkers > 0 ? g_server.nworkers : 1) * CB_MAX_ERRCODES;
    cb_err_stat *all = cb_malloc(cap * sizeof(*all));
    size_t n = 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w) continue;
        /* The worker fills an entry's code before publishing the count. */
        int ne = __atomic_load_n(&w->nerrstats, __ATOMIC_ACQUIRE);
        for (int k = 0; k < ne && k < CB_MAX_ERRCODES; k++) {
            const cb_err_stat *e = &w->errstats[k];
            size_t j = 0;
            while (j < n && strcmp(all[j].code, e->code) != 0) j++;
            if (j == n) {
                memcpy(all[n].code, e->code, sizeof(all[n].code));
                all[n].code[sizeof(all[n].code) - 1] = '\0';
                all[n].count = 0;
                n++;
            }
            all[j].count += STAT_GET(e->count);
        }
    }
    /* Redis keeps them in a radix tree: byte order. */
    qsort(all, n, sizeof(*all), errstat_cmp);
    for (size_t j = 0; j < n; j++)
        s = cbstr_catfmt(s, "errorstat_%s:count=%llu\r\n", all[j].code,
                         (unsigned long long)all[j].count);
    cb_free(all);
    return s;
}

static cbstr sec_latencystats(cbstr s, info_ctx *x)
{
    (void)x;
    return latency_info(s);
}

static cbstr sec_cluster(cbstr s, info_ctx *x)
{
    (void)x;
    return cbstr_cat(s, "cluster_enabled:0\r\n", 19);
}

static cbstr sec_hugepages(cbstr s, info_ctx *x)
{
    (void)x;
    return memory_info_hugepages(s);
}

static cbstr sec_keyspace(cbstr s, info_ctx *x)
{
    (void)x;
    int ndb = 0;
    for (int i = 0; i < g_server.nworkers; i++)
        if (g_server.workers[i] && g_server.workers[i]->shard &&
            g_server.workers[i]->shard->ndb > ndb)
            ndb = g_server.workers[i]->shard->ndb;
    for (int j = 0; j < ndb; j++) {
        unsigned long long keys = 0, expires = 0;
        long double ttl_weighted = 0;
        for (int i = 0; i < g_server.nworkers; i++) {
            cb_worker *w = g_server.workers[i];
            if (!w || !w->shard || j >= w->shard->ndb) continue;
            cb_db *db = &w->shard->dbs[j];
            size_t k = dict_size(db->keys), e = dict_size(db->expires);
            keys += k;
            expires += e;
            ttl_weighted += (long double)__atomic_load_n(&db->avg_ttl, __ATOMIC_RELAXED) * e;
        }
        if (!keys && !expires) continue;
        long long avg_ttl = expires ? (long long)(ttl_weighted / expires) : 0;
        s = cbstr_catfmt(s, "db%d:keys=%llu,expires=%llu,avg_ttl=%lld\r\n", j, keys, expires,
                         avg_ttl);
    }
    return s;
}

/* Thread CPU time from /proc/self/task/<tid>/stat (utime, stime), in
 * seconds; 0 when unreadable. */
static void thread_cpu(pid_t tid, double *user, double *sys)
{
    *user = *sys = 0;
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the parenthesised name: state is field 3, utime 14. */
    char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                     &st) != 2)
        return;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0) hz = 100;
    *user = (double)ut / (double)hz;
    *sys = (double)st / (double)hz;
}

/* cachebox's own section (not in Redis): per worker, how much of its loop
 * did work (busy) versus waited for events (idle), so utilisation stays
 * meaningful when a poll core spins at 100% CPU; and its thread's CPU
 * time. Counters in microseconds, for rate() in Prometheus. Shown for
 * "everything" (which in Redis adds the modules' own sections) or by name;
 * not in "all" or the default set, which Redis tools parse. */
static cbstr sec_appliance(cbstr s, info_ctx *x)
{
    (void)x;
    s = cbstr_catfmt(s, "dataplane:%s\r\nio_workers:%d\r\n",
                     g_config.dataplane == DATAPLANE_KERNEL ? "kernel" : "dpdk", g_server.nworkers);
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w) continue;
        unsigned long long busy = STAT_GET(w->stats.loop_busy_us);
        unsigned long long idle = STAT_GET(w->stats.loop_idle_us);
        double user, sys;
        thread_cpu(w->tid, &user, &sys);
        s = cbstr_catfmt(s,
                         "worker%d:busy_usec=%llu,idle_usec=%llu,busy_perc=%.2f,loops=%llu,"
                         "used_cpu_sys=%.6f,used_cpu_user=%.6f,connected_clients=%llu,"
                         "commands_processed=%llu\r\n",
                         i, busy, idle,
                         busy + idle ? (double)busy * 100.0 / (double)(busy + idle) : 0.0,
                         (unsigned long long)STAT_GET(w->stats.loops), sys, user,
                         (unsigned long long)STAT_GET(w->stats.connected_clients),
                         (unsigned long long)STAT_GET(w->stats.numcommands));
    }
    return s;
}

/* cachebox's own section (not in Redis, not in the default set): accepted
 * and refused connections, the connection rate over the last
 * CONN_RATE_WINDOW full seconds, and the top source addresses by attempts
 * (bounded per worker, conn_stats.h). */
static cbstr sec_connections(cbstr s, info_ctx *x)
{
    (void)x;
    conn_stats_view v;
    conn_stats_summary(&v);
    s = cbstr_catfmt(s,
                     "conn_accepted:%llu\r\n"
                     "conn_rejected_maxclients:%llu\r\n"
                     "conn_rejected_protected_mode:%llu\r\n"
                     "conn_rate_per_sec:%.2f\r\n"
                     "conn_window_sec:%d\r\n"
                     "conn_window_accepted:%llu\r\n"
                     "conn_window_rejected:%llu\r\n"
                     "conn_ip_entries:%llu\r\n"
                     "conn_ip_replaced:%llu\r\n",
                     (unsigned long long)v.accepted, (unsigned long long)v.rej_maxclients,
                     (unsigned long long)v.rej_protected, v.rate, CONN_RATE_WINDOW,
                     (unsigned long long)v.window_accepted, (unsigned long long)v.window_rejected,
                     (unsigned long long)v.tracked, (unsigned long long)v.replaced);
    conn_ip_stat top[16];
    int n = conn_stats_top(top, 16);
    for (int i = 0; i < n; i++)
        s = cbstr_catfmt(s,
                         "ip%d:addr=%s,accepted=%llu,rejected_maxclients=%llu,"
                         "rejected_protected_mode=%llu\r\n",
                         i, top[i].ip, (unsigned long long)top[i].accepted,
                         (unsigned long long)top[i].rej_maxclients,
                         (unsigned long long)top[i].rej_protected);
    return s;
}

/* The NIC's extended statistics as nic_xstat_<name> (names folded to
 * [a-z0-9_], so /metrics turns them into series as they are). */
static void xstat_line(void *ctx, const char *name, uint64_t v)
{
    cbstr *s = ctx;
    char f[96];
    size_t k = 0;
    for (const char *p = name; *p && k + 1 < sizeof(f); p++) {
        char ch = *p;
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
        f[k++] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ? ch : '_';
    }
    f[k] = '\0';
    *s = cbstr_catfmt(*s, "nic_xstat_%s:%llu\r\n", f, (unsigned long long)v);
}

static cbstr nic_xstats(cbstr s)
{
    dpdk_xstats(xstat_line, &s);
    return s;
}

/* cachebox's own section (not in Redis, not in the default set): which
 * data plane runs and, on DPDK, the port's and the stack's counters summed
 * over poll cores. */
static cbstr sec_dataplane(cbstr s, info_ctx *x)
{
    (void)x;
    net_stats n;
    dpdk_port_info p;
    char ip[64];
    if (!ddrv_stats(&n, &p, ip, sizeof(ip)))
        return cbstr_catfmt(s, "dataplane:kernel\r\n");
    uint64_t busy = 0, idle = 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        busy += STAT_GET(g_server.workers[i]->stats.loop_busy_us);
        idle += STAT_GET(g_server.workers[i]->stats.loop_idle_us);
    }
    s = cbstr_catfmt(s, "dataplane:dpdk\r\ndpdk_port:%u\r\ndpdk_device:%s\r\n"
                     "dpdk_mac:%02x:%02x:%02x:%02x:%02x:%02x\r\ndpdk_ip:%s\r\n"
                     "dpdk_link:%s\r\ndpdk_link_speed_mbps:%u\r\ndpdk_mtu:%u\r\n"
                     "poll_cores:%d\r\nrss:%s\r\n",
                     p.port_id, p.name, p.mac[0], p.mac[1], p.mac[2], p.mac[3], p.mac[4],
                     p.mac[5], ip, p.link_up ? "up" : "down", p.link_speed_mbps, p.mtu,
                     p.nqueues, p.rss ? "symmetric" : "off");
    s = cbstr_catfmt(s, "dpdk_vlan:%d\r\nvlan_insert:%s\r\n", g_config.dpdk_vlan,
                     !g_config.dpdk_vlan ? "none" : dpdk_vlan_hw_insert() ? "nic" : "software");
    s = cbstr_catfmt(s, "rx_csum_offload:%d\r\ntx_csum_offload:%d\r\nmbuf_pools:%d\r\n",
                     p.rx_csum_offload, p.tx_csum_offload, p.mbuf_pools);
    s = cbstr_catfmt(s, "tx_zero_copy:%d\r\n", p.tx_zero_copy);
    s = cbstr_catfmt(s, "nic_rx_packets:%llu\r\nnic_tx_packets:%llu\r\nnic_rx_bytes:%llu\r\n"
                     "nic_tx_bytes:%llu\r\nnic_rx_missed:%llu\r\nnic_rx_errors:%llu\r\n"
                     "nic_tx_errors:%llu\r\nnic_rx_nombuf:%llu\r\n",
                     (unsigned long long)p.ipackets, (unsigned long long)p.opackets,
                     (unsigned long long)p.ibytes, (unsigned long long)p.obytes,
                     (unsigned long long)p.imissed, (unsigned long long)p.ierrors,
                     (unsigned long long)p.oerrors, (unsigned long long)p.rx_nombuf);
    s = nic_xstats(s);
#define NSF(name, f) s = cbstr_catfmt(s, name ":%llu\r\n", (unsigned long long)n.f)
    NSF("rx_packets", rx_packets);
    NSF("rx_bytes", rx_bytes);
    NSF("tx_packets", tx_packets);
    NSF("tx_bytes", tx_bytes);
    NSF("rx_filtered", rx_filtered);
    NSF("rx_malformed", rx_malformed);
    NSF("rx_checksum_errors", rx_csum_errors);
    NSF("rx_fragments_dropped", rx_frag_dropped);
    NSF("tx_dropped", tx_dropped);
    NSF("arp_rx", arp_rx);
    NSF("arp_tx", arp_tx);
    NSF("icmp_echo_replies", icmp_echo_replies);
    NSF("icmp_unreachable_sent", icmp_unreach_tx);
    NSF("tcp_rx_segments", tcp_rx_segs);
    NSF("tcp_tx_segments", tcp_tx_segs);
    NSF("tcp_tx_zero_copy_segments", tcp_tx_zc_segs);
    NSF("tcp_retransmits", tcp_retransmits);
    NSF("tcp_fast_retransmits", tcp_fast_retransmits);
    NSF("tcp_rto_timeouts", tcp_rto_fired);
    NSF("tcp_out_of_order", tcp_ooo_segs);
    NSF("tcp_tlp_probes", tcp_tlp_probes);
    NSF("tcp_rack_retransmits", tcp_rack_retransmits);
    NSF("tcp_sack_retransmits", tcp_sack_retransmits);
    NSF("tcp_dsacks_received", tcp_dsacks_received);
    NSF("tcp_rst_sent", tcp_rst_tx);
    NSF("tcp_rst_received", tcp_rst_rx);
    NSF("tcp_challenge_acks", tcp_challenge_acks);
    NSF("tcp_passive_opens", tcp_passive_opens);
    NSF("tcp_syn_dropped", tcp_syn_dropped);
    NSF("tcp_syncookies_sent", tcp_syncookies_sent);
    NSF("tcp_syncookies_ok", tcp_syncookies_ok);
    NSF("tcp_syncookies_failed", tcp_syncookies_failed);
    NSF("tcp_keepalive_probes", tcp_keepalive_probes);
    NSF("tcp_aborts", tcp_aborts);
    NSF("tcp_active_connections", tcp_active);
    NSF("tcp_syn_received", tcp_syn_rcvd);
    NSF("tcp_time_wait", tcp_time_wait);
    NSF("tcp_active_opens", tcp_active_opens);
    NSF("tcp_connect_failed", tcp_connect_failed);
    NSF("arp_queued", arp_queued);
    NSF("arp_queue_dropped", arp_queue_dropped);
    NSF("rx_handed_over", rx_handed_over);
    NSF("rx_vlan_dropped", rx_vlan_dropped);
    NSF("loop_busy_polls", polls_busy);
    NSF("loop_idle_polls", polls_idle);
#undef NSF
    double util = busy + idle ? 100.0 * (double)busy / (double)(busy + idle) : 0;
    return cbstr_catfmt(s, "loop_busy_us:%llu\r\nloop_idle_us:%llu\r\nloop_utilization_pct:%.2f\r\n",
                        (unsigned long long)busy, (unsigned long long)idle, util);
}

/* ------------------------------------------------------------- selection */

typedef cbstr (*info_section_fn)(cbstr s, info_ctx *x);

/* Redis's order. "modules" also answers to its 7.0 alias "module_list"
 * (the name the default set uses). */
static const struct {
    const char *name, *alias, *title;
    info_section_fn fn;
    int in_default;
} info_sections[] = {
    { "server", NULL, "Server", sec_server, 1 },
    { "clients", NULL, "Clients", sec_clients, 1 },
    { "memory", NULL, "Memory", sec_memory, 1 },
    { "persistence", NULL, "Persistence", sec_persistence, 1 },
    { "stats", NULL, "Stats", sec_stats, 1 },
    { "replication", NULL, "Replication", sec_replication, 1 },
    { "cpu", NULL, "CPU", sec_cpu, 1 },
    { "modules", "module_list", "Modules", sec_modules, 1 },
    { "commandstats", NULL, "Commandstats", sec_commandstats, 0 },
    { "errorstats", NULL, "Errorstats", sec_errorstats, 1 },
    { "latencystats", NULL, "Latencystats", sec_latencystats, 0 },
    { "cluster", NULL, "Cluster", sec_cluster, 1 },
    { "keyspace", NULL, "Keyspace", sec_keyspace, 1 },
    /* cachebox's own, after Redis's sections: in neither the default set
     * nor "all" (Redis's sections, which Redis tools parse), but in
     * "everything" (which in Redis adds the modules' sections). */
    { "hugepages", NULL, "Hugepages", sec_hugepages, 0 },
    { "appliance", NULL, "Appliance", sec_appliance, 0 },
    { "connections", NULL, "Connections", sec_connections, 0 },
    { "dataplane", NULL, "Dataplane", sec_dataplane, 0 },
};
#define INFO_NSECTIONS ((int)(sizeof(info_sections) / sizeof(info_sections[0])))

static unsigned default_mask(void)
{
    unsigned m = 0;
    for (int i = 0; i < INFO_NSECTIONS; i++)
        if (info_sections[i].in_default) m |= 1u << i;
    return m;
}

/* Which sections the arguments ask for. "everything" also covers the
 * sections Redis modules would add; ours is "appliance". */
static unsigned select_sections(int argc, const char **args, const size_t *lens)
{
    if (argc == 0) return default_mask();
    unsigned m = 0;
    for (int a = 0; a < argc; a++) {
        const char *p = args[a];
        size_t l = lens[a];
        if (util_eq_nocase(p, l, "default")) {
            m |= default_mask();
        } else if (util_eq_nocase(p, l, "everything")) {
            m |= (1u << INFO_NSECTIONS) - 1;
        } else if (util_eq_nocase(p, l, "all")) {
            for (int i = 0; i < INFO_NSECTIONS; i++)
                if (info_sections[i].fn != sec_appliance && info_sections[i].fn != sec_hugepages &&
                    info_sections[i].fn != sec_dataplane && info_sections[i].fn != sec_connections)
                    m |= 1u << i;
        } else {
            for (int i = 0; i < INFO_NSECTIONS; i++)
                if (util_eq_nocase(p, l, info_sections[i].name) ||
                    (info_sections[i].alias && util_eq_nocase(p, l, info_sections[i].alias)))
                    m |= 1u << i;
        }
    }
    return m;
}

cbstr info_generate(cb_client *c, int argc, const char **sections, const size_t *lens)
{
    unsigned m = select_sections(argc, sections, lens);
    cbstr s = cbstr_with_cap(4096);
    if (!m) return s;
    info_ctx *x = cb_malloc(sizeof(*x));
    x->c = c;
    gather(&x->t);
    int emitted = 0;
    for (int i = 0; i < INFO_NSECTIONS; i++) {
        if (!(m & (1u << i))) continue;
        if (emitted++) s = cbstr_cat(s, "\r\n", 2);
        s = cbstr_catfmt(s, "# %s\r\n", info_sections[i].title);
        s = info_sections[i].fn(s, x);
    }
    cb_free(x);
    return s;
}

void cmd_info(cb_client *c)
{
    cbstr s = info_generate(c, c->argc - 1, c->argv + 1, c->argv_len + 1);
    reply_verbatim(c, s, cbstr_len(s), "txt");
    cbstr_free(s);
}

void info_init(void)
{
    if (!g_server.master_replid[0]) util_random_hex(g_server.master_replid, 40);
    g_server.stat_startup_memory = mem_used_total();
    memstats_refresh();
}
