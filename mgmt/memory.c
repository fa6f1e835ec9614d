/* memory.c — the memory report behind INFO memory and the MEMORY command
 * (see memory.h and docs/memory.md).
 *
 * used_memory is our own exact count (platform/mem.c). What the allocator
 * and the kernel say (jemalloc's allocated/active/resident/mapped/retained,
 * RSS including hugetlb pages) costs a jemalloc epoch refresh and a /proc
 * read, so the management thread refreshes a cache every 100 ms and the
 * request path only reads it. The MEMORY subcommands: USAGE (exact bytes of
 * one key, found without expiry or stats, as Redis does), STATS (Redis 7.0's
 * fields and order), DOCTOR (advice from the same numbers), MALLOC-STATS
 * (jemalloc's own text), PURGE (give dirty pages back).
 */
#include "memory.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifdef CB_USE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"
#include "../dataplane/worker.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"

/* ------------------------------------------------------------ the cache */

#define MEM_MAX_SHARDS 64

static struct {
    _Atomic size_t allocated, active, resident, mapped, retained, rss, hugetlb;
    _Atomic int valid;
    /* Per shard arena: allocated and active bytes. */
    _Atomic size_t shard_allocated[MEM_MAX_SHARDS], shard_active[MEM_MAX_SHARDS];
} cache;

#ifdef CB_USE_JEMALLOC
static size_t arena_stat(int arena, const char *what)
{
    char name[96];
    size_t v = 0, sz = sizeof(v);
    snprintf(name, sizeof(name), "stats.arenas.%d.%s", arena, what);
    if (mallctl(name, &v, &sz, NULL, 0) != 0) return 0;
    return v;
}
#endif

static void read_proc_status(size_t *rss, size_t *huge)
{
    *rss = *huge = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    char line[256];
    unsigned long long v;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmRSS: %llu", &v) == 1) *rss += (size_t)v * 1024;
        else if (sscanf(line, "HugetlbPages: %llu", &v) == 1) *huge = (size_t)v * 1024;
    }
    fclose(f);
    /* VmRSS leaves out MAP_HUGETLB memory: count it, or the ratios lie. */
    *rss += *huge;
}

void memstats_refresh(void)
{
    size_t rss, huge;
    read_proc_status(&rss, &huge);
    size_t used = mem_used_total();
    size_t a = used, b = used, c = rss, m = rss, r = 0;
#ifdef CB_USE_JEMALLOC
    uint64_t epoch = 1;
    size_t esz = sizeof(epoch), sz = sizeof(size_t);
    if (mallctl("epoch", &epoch, &esz, &epoch, esz) == 0) {
        mallctl("stats.allocated", &a, &sz, NULL, 0);
        mallctl("stats.active", &b, &sz, NULL, 0);
        mallctl("stats.resident", &c, &sz, NULL, 0);
        mallctl("stats.mapped", &m, &sz, NULL, 0);
        mallctl("stats.retained", &r, &sz, NULL, 0);
    }
#endif
    for (int i = 0; i < g_server.nworkers && i < MEM_MAX_SHARDS; i++) {
        cb_worker *w = g_server.workers[i];
        mem_arena_info ai;
        mem_account_arena_info(w && w->shard ? w->shard->mem_account : -1, &ai);
        size_t sa = 0, sb = 0;
#ifdef CB_USE_JEMALLOC
        if (ai.arena >= 0) {
            sa = arena_stat(ai.arena, "small.allocated") + arena_stat(ai.arena, "large.allocated");
            sb = arena_stat(ai.arena, "pactive") * (size_t)sysconf(_SC_PAGESIZE);
        }
#endif
        /* Said once per shard: the region ran out (the hooks cannot log). */
        static unsigned char told[MEM_MAX_SHARDS];
        if (ai.fallback_bytes && !told[i]) {
            told[i] = 1;
            if (ai.sourced)
                cb_log(LOG_WARNING, "shard %d: EAL's memory is spent (%zu MB taken for the "
                                    "store); writes get OOM until memory is freed", i,
                       ai.region_bytes >> 20);
            else
                cb_log(LOG_WARNING, "shard %d: its %zu MB hugepage region is full; the store "
                                    "arena now grows on normal pages", i, ai.region_bytes >> 20);
        }
        cache.shard_allocated[i] = sa;
        cache.shard_active[i] = sb;
    }
    cache.allocated = a;
    cache.active = b;
    cache.resident = c;
    cache.mapped = m;
    cache.retained = r;
    cache.rss = rss;
    cache.hugetlb = huge;
    cache.valid = 1;
}

void memstats_get(cb_alloc_stats *out)
{
    if (!cache.valid) memstats_refresh();
    out->allocated = cache.allocated;
    out->active = cache.active;
    out->resident = cache.resident;
    out->mapped = cache.mapped;
    out->retained = cache.retained;
    out->rss = cache.rss;
    out->hugetlb = cache.hugetlb;
}

/* ------------------------------------------------------------ overheads */

void mem_db_overhead(int dbid, size_t *main, size_t *expires)
{
    *main = *expires = 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w || !w->shard || dbid >= w->shard->ndb) continue;
        *main += dict_mem_overhead(w->shard->dbs[dbid].keys);
        *expires += dict_mem_overhead(w->shard->dbs[dbid].expires);
    }
}

size_t mem_keyspace_overhead(void)
{
    size_t n = 0;
    for (int j = 0; j < g_config.databases; j++) {
        size_t a, b;
        mem_db_overhead(j, &a, &b);
        n += a + b;
    }
    return n;
}

size_t mem_clients_normal(void)
{
    /* Each worker accounts its own clients (client_evict.c): no walk of
     * another thread's client list. */
    return (size_t)client_mem_total();
}

static size_t count_clients(void)
{
    size_t n = 0;
    for (int i = 0; i < g_server.nworkers; i++)
        for (cb_client *it = g_server.workers[i]->clients; it; it = it->next) n++;
    return n;
}

static size_t db_keys(int dbid)
{
    size_t n = 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (w && w->shard && dbid < w->shard->ndb) n += dict_size(w->shard->dbs[dbid].keys);
    }
    return n;
}

void mem_lazyfree_counts(size_t *pending, size_t *freed)
{
    *pending = *freed = 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w || !w->shard) continue;
        *pending += lazyfree_pending(w->shard);
        *freed += (size_t)__atomic_load_n(&w->shard->lazy.freed, __ATOMIC_RELAXED);
    }
}

size_t mem_total_keys(void)
{
    size_t n = 0;
    for (int j = 0; j < g_config.databases; j++) n += db_keys(j);
    return n;
}

/* ------------------------------------------------------------ the report */

/* MEMORY STATS's figures; the ratios are floats, as Redis computes them
 * (so the printed digits are a float's). */
typedef struct mem_report {
    size_t peak, used, startup, clients, overhead, keys, bytes_per_key, dataset;
    float dataset_perc, peak_perc;
    cb_alloc_stats a;
    float alloc_frag, alloc_rss, rss_extra, total_frag;
    long long alloc_frag_bytes, alloc_rss_bytes, rss_extra_bytes, total_frag_bytes;
} mem_report;

static void gather(mem_report *r)
{
    memset(r, 0, sizeof(*r));
    r->used = mem_used_total();
    r->peak = __atomic_load_n(&g_server.stat_peak_memory, __ATOMIC_RELAXED);
    if (r->used > r->peak) r->peak = r->used;
    r->startup = (size_t)g_server.stat_startup_memory;
    r->clients = mem_clients_normal();
    r->overhead = r->startup + r->clients + mem_keyspace_overhead();
    if (r->overhead > r->used) r->overhead = r->used;
    r->keys = mem_total_keys();
    size_t net = r->used > r->startup ? r->used - r->startup : 0;
    r->bytes_per_key = r->keys ? net / r->keys : 0;
    r->dataset = r->used - r->overhead;
    r->dataset_perc = net ? (float)r->dataset * 100 / (float)net : 0;
    r->peak_perc = r->peak ? (float)r->used * 100 / (float)r->peak : 0;
    memstats_get(&r->a);
    cb_alloc_stats *a = &r->a;
    r->alloc_frag = a->allocated ? (float)a->active / (float)a->allocated : 0;
    r->alloc_frag_bytes = (long long)a->active - (long long)a->allocated;
    r->alloc_rss = a->active ? (float)a->resident / (float)a->active : 0;
    r->alloc_rss_bytes = (long long)a->resident - (long long)a->active;
    r->rss_extra = a->resident ? (float)a->rss / (float)a->resident : 0;
    r->rss_extra_bytes = (long long)a->rss - (long long)a->resident;
    r->total_frag = r->used ? (float)a->rss / (float)r->used : 0;
    r->total_frag_bytes = (long long)a->rss - (long long)r->used;
}

/* ------------------------------------------------------------ INFO hugepages */

cbstr memory_info_hugepages(cbstr s)
{
    cb_alloc_stats a;
    memstats_get(&a);
    size_t pool = 0, used = 0, fallback = 0, avail = 0, active = 0;
    int sourced = 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        mem_arena_info ai;
        mem_account_arena_info(w && w->shard ? w->shard->mem_account : -1, &ai);
        if (ai.hugetlb) {
            pool += ai.region_bytes;
            used += ai.region_used;
        } else {
            fallback += ai.region_used;
        }
        fallback += ai.fallback_bytes;
        /* DPDK memory: the pool is also what EAL's heap can still give
         * (one heap per socket, shared by its shards). */
        if (ai.sourced && ai.hugetlb && !sourced) avail = ai.source_avail;
        /* What the arena holds live, i.e. the hugepage bytes the data uses
         * now (the pool's used bytes only grow: jemalloc keeps extents). */
        if (ai.hugetlb && i < MEM_MAX_SHARDS) active += cache.shard_active[i];
        sourced |= ai.sourced;
    }
    pool += avail;
    s = cbstr_catfmt(s,
                     "hugepages_configured:%llu\r\n"
                     "hugepages_pool_bytes:%zu\r\n"
                     "hugepages_pool_used_bytes:%zu\r\n"
                     "hugepages_pool_free_bytes:%zu\r\n"
                     "hugepages_fallback_bytes:%zu\r\n"
                     "hugepages_active_bytes:%zu\r\n"
                     "hugetlb_rss_bytes:%zu\r\n"
                     "hugepages_source:%s\r\n",
                     g_config.hugepages, pool, used, pool - used, fallback, active, a.hugetlb,
                     sourced ? "dpdk" : "mmap");
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        int acct = w && w->shard ? w->shard->mem_account : -1;
        mem_arena_info ai;
        mem_account_arena_info(acct, &ai);
        unsigned n = 1;
        long long share = acct >= 0 ? mem_account_share(acct, &n) : (long long)mem_used_total();
        s = cbstr_catfmt(s,
                         "shard%d:used_memory=%lld,arena=%d,hugetlb=%d,region=%zu,"
                         "region_used=%zu,fallback=%zu,full=%d,allocator_allocated=%zu,"
                         "allocator_active=%zu\r\n",
                         i, share < 0 ? 0 : share, ai.arena, ai.hugetlb, ai.region_bytes,
                         ai.region_used, ai.fallback_bytes, ai.full,
                         i < MEM_MAX_SHARDS ? (size_t)cache.shard_allocated[i] : 0,
                         i < MEM_MAX_SHARDS ? (size_t)cache.shard_active[i] : 0);
    }
    return s;
}

/* ------------------------------------------------------------ MEMORY */

void cmd_memory_usage(cb_client *c)
{
    long long samples = 5;
    for (int j = 3; j < c->argc; j++) {
        if (ARGL(c, j) == 7 && !strncasecmp(ARGP(c, j), "samples", 7) && j + 1 < c->argc) {
            if (!util_str2ll(ARGP(c, j + 1), ARGL(c, j + 1), &samples)) {
                reply_error(c, "value is not an integer or out of range");
                return;
            }
            if (samples < 0) {
                reply_error(c, "syntax error");
                return;
            }
            j++;
        } else {
            reply_error(c, "syntax error");
            return;
        }
    }
    /* Every element is measured (our structures keep exact sizes cheaply),
     * so SAMPLES only has to be valid. */
    dict_entry *e = dict_find(c->db->keys, ARGP(c, 2), ARGL(c, 2));
    if (!e) {
        reply_null(c);
        return;
    }
    size_t n = obj_mem_usage(e->v.val) + cbstr_alloc_size(e->key) + cb_usable(e);
    reply_int(c, (long long)n);
}

void cmd_memory_stats(cb_client *c)
{
    mem_report r;
    gather(&r);
    long dbs = 0;
    for (int j = 0; j < g_config.databases; j++)
        if (db_keys(j)) dbs++;
    reply_map_len(c, 27 + dbs);
#define KV(name, v) (reply_bulk_cstr(c, name), reply_int(c, (long long)(v)))
#define KD(name, v) (reply_bulk_cstr(c, name), reply_double(c, (double)(v)))
    KV("peak.allocated", r.peak);
    KV("total.allocated", r.used);
    KV("startup.allocated", r.startup);
    KV("replication.backlog", 0);
    KV("clients.slaves", 0);
    KV("clients.normal", r.clients);
    KV("cluster.links", 0);
    KV("aof.buffer", 0);
    KV("lua.caches", 0);
    KV("functions.caches", 0);
    for (int j = 0; j < g_config.databases; j++) {
        if (!db_keys(j)) continue;
        char name[32];
        snprintf(name, sizeof(name), "db.%d", j);
        size_t main, exp;
        mem_db_overhead(j, &main, &exp);
        reply_bulk_cstr(c, name);
        reply_map_len(c, 3);
        KV("overhead.hashtable.main", main);
        KV("overhead.hashtable.expires", exp);
        KV("overhead.hashtable.slot-to-keys", 0);
    }
    KV("overhead.total", r.overhead);
    KV("keys.count", r.keys);
    KV("keys.bytes-per-key", r.bytes_per_key);
    KV("dataset.bytes", r.dataset);
    KD("dataset.percentage", r.dataset_perc);
    KD("peak.percentage", r.peak_perc);
    KV("allocator.allocated", r.a.allocated);
    KV("allocator.active", r.a.active);
    KV("allocator.resident", r.a.resident);
    KD("allocator-fragmentation.ratio", r.alloc_frag);
    KV("allocator-fragmentation.bytes", r.alloc_frag_bytes);
    KD("allocator-rss.ratio", r.alloc_rss);
    KV("allocator-rss.bytes", r.alloc_rss_bytes);
    KD("rss-overhead.ratio", r.rss_extra);
    KV("rss-overhead.bytes", r.rss_extra_bytes);
    KD("fragmentation", r.total_frag);
    KV("fragmentation.bytes", r.total_frag_bytes);
#undef KV
#undef KD
}

/* Thresholds for the doctor (bytes): below these a ratio means little. */
#define DOCTOR_MIN_USED (5u << 20)
#define DOCTOR_MIN_WASTE (10u << 20)
#define DOCTOR_BIG_CLIENT (200u << 10)

static char *doctor_text(void)
{
    mem_report r;
    gather(&r);
    cbstr s = cbstr_new("", 0);
    char a[32], b[32];
    if (r.used < DOCTOR_MIN_USED) {
        util_bytes_human(a, sizeof a, r.used);
        s = cbstr_catfmt(s, "This instance holds little data (used_memory %s): there is not "
                            "enough memory in use to judge fragmentation or overhead yet. Ask "
                            "again once it holds some data.", a);
        return s;
    }
    int issues = 0;
    s = cbstr_catfmt(s, "Memory report (used_memory %zu bytes, %zu keys):\n\n", r.used, r.keys);
    if (r.peak > r.used + r.used / 2) {
        util_bytes_human(a, sizeof a, r.peak);
        util_bytes_human(b, sizeof b, r.used);
        s = cbstr_catfmt(s, " * Peak: memory peaked at %s and is now %s. Pages freed since may "
                            "still count in the RSS, which makes the fragmentation ratio look "
                            "worse than it is; MEMORY PURGE hands dirty pages back.\n\n", a, b);
        issues++;
    }
    if (r.total_frag > 1.4f && r.total_frag_bytes > (long long)DOCTOR_MIN_WASTE) {
        util_bytes_human(a, sizeof a, (unsigned long long)r.total_frag_bytes);
        s = cbstr_catfmt(s, " * Fragmentation: the process RSS is %.2f times used_memory (%s "
                            "more). See the allocator figures below for where it goes.\n\n",
                         (double)r.total_frag, a);
        issues++;
    }
    if (r.alloc_frag > 1.1f && r.alloc_frag_bytes > (long long)DOCTOR_MIN_WASTE) {
        util_bytes_human(a, sizeof a, (unsigned long long)r.alloc_frag_bytes);
        s = cbstr_catfmt(s, " * Allocator fragmentation: %.2f (%s in partly used pages), "
                            "typically after deleting many keys of mixed sizes. Active "
                            "defragmentation, or a restart with a reload, recovers it.\n\n",
                         (double)r.alloc_frag, a);
        issues++;
    }
    if (r.alloc_rss > 1.1f && r.alloc_rss_bytes > (long long)DOCTOR_MIN_WASTE) {
        util_bytes_human(a, sizeof a, (unsigned long long)r.alloc_rss_bytes);
        s = cbstr_catfmt(s, " * Allocator RSS overhead: %.2f (%s resident but not in use); "
                            "MEMORY PURGE returns it to the system.\n\n",
                         (double)r.alloc_rss, a);
        issues++;
    }
    if (r.rss_extra > 1.1f && r.rss_extra_bytes > (long long)DOCTOR_MIN_WASTE) {
        util_bytes_human(a, sizeof a, (unsigned long long)r.rss_extra_bytes);
        s = cbstr_catfmt(s, " * Non-heap RSS: %.2f (%s outside the allocator: thread stacks, "
                            "libraries, hugepage pool reserve).\n\n",
                         (double)r.rss_extra, a);
        issues++;
    }
    size_t nclients = count_clients();
    if (nclients && r.clients / nclients > DOCTOR_BIG_CLIENT) {
        util_bytes_human(a, sizeof a, r.clients / nclients);
        s = cbstr_catfmt(s, " * Big clients: %zu normal clients hold %s each on average in "
                            "buffers; look for slow readers or big pipelines (CLIENT LIST "
                            "omem), or lower client-output-buffer-limit.\n\n",
                         nclients, a);
        issues++;
    }
    unsigned long long max = g_config.store.maxmemory;
    if (max && r.used > max - max / 10) {
        util_bytes_human(a, sizeof a, max);
        if (g_config.store.maxmemory_policy == MAXMEM_NOEVICTION)
            s = cbstr_catfmt(s, " * maxmemory: over 90%% of %s is used and the policy is "
                                "noeviction: writes will soon be refused with OOM errors.\n\n", a);
        else
            s = cbstr_catfmt(s, " * maxmemory: over 90%% of %s is used; keys are being evicted "
                                "(evicted_keys in INFO stats).\n\n", a);
        issues++;
    }
    if (!issues) s = cbstr_cat(s, "No memory issue found.", 22);
    return s;
}

void cmd_memory_doctor(cb_client *c)
{
    cbstr s = doctor_text();
    reply_verbatim(c, s, cbstr_len(s), "txt");
    cbstr_free(s);
}

#ifdef CB_USE_JEMALLOC
static void stats_cb(void *priv, const char *text)
{
    cbstr *s = priv;
    *s = cbstr_cat(*s, text, strlen(text));
}
#endif

void cmd_memory_malloc_stats(cb_client *c)
{
#ifdef CB_USE_JEMALLOC
    cbstr s = cbstr_new("", 0);
    malloc_stats_print(stats_cb, &s, NULL);
    reply_verbatim(c, s, cbstr_len(s), "txt");
    cbstr_free(s);
#else
    const char *msg = "Stats not supported for the current allocator";
    reply_verbatim(c, msg, strlen(msg), "txt");
#endif
}

void cmd_memory_purge(cb_client *c)
{
#ifdef CB_USE_JEMALLOC
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "arena.%u.purge", (unsigned)MALLCTL_ARENAS_ALL);
    if (mallctl(cmd, NULL, NULL, NULL, 0) != 0) {
        reply_error(c, "Error purging dirty pages");
        return;
    }
#endif
    memstats_refresh();
    reply_ok(c);
}

void cmd_memory_help(cb_client *c)
{
    /* Automatic, not static: a static pointer table is relocated data. */
    const char *const lines[] = {
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
        NULL};
    reply_help(c, lines);
}
