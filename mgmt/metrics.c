/* metrics.c — Prometheus text exposition for GET /metrics.
 *
 * The source of truth is the INFO text (mgmt/info.c), generated with every
 * worker parked for that instant exactly as INFO over RESP does, so the
 * metrics and INFO never disagree. Each numeric INFO field becomes one
 * series named cachebox_<field> with Prometheus's conventions: base units
 * (seconds, bytes, ratios), counters end in _total, "total_x" counters
 * become "x_total". Sections of "k=v,..." lines become labelled families
 * (per command, per error code, per database). Per-worker counters come
 * straight from each worker's relaxed counters (worker.h).
 *
 * Families are collected first and written at the end, so each family's
 * # HELP / # TYPE lines appear once, before all its samples, and a series
 * (name + labels) can never appear twice.
 *
 * Order of the output: families in the order first seen: cachebox_up, the
 * INFO fields in INFO's order, commands, errors, keyspace, workers, latency
 * histograms, control port.
 */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "info.h"
#include "../dataplane/conn_stats.h"
#include "../dataplane/latency.h"
#include "../dataplane/worker.h"
#include "../dataplane/xshard.h"
#include "../platform/histogram.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"

#define PREFIX "cachebox_"

/* ------------------------------------------------------------- families */

typedef struct mfam {
    char name[128];
    const char *type; /* "gauge", "counter", "histogram" */
    char help[160];
    cbstr samples;
    int unlabelled; /* an unlabelled sample was added */
} mfam;

typedef struct mset {
    mfam *f;
    int n, cap;
} mset;

static mfam *family(mset *m, const char *name, const char *type, const char *help)
{
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->f[i].name, name)) return &m->f[i];
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->f = cb_realloc(m->f, sizeof(*m->f) * (size_t)m->cap);
    }
    mfam *f = &m->f[m->n++];
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->type = type;
    snprintf(f->help, sizeof(f->help), "%s", help);
    f->samples = cbstr_with_cap(64);
    return f;
}

/* Label values escape backslash, quote and newline. */
static cbstr cat_label_value(cbstr s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\' || p[i] == '"') {
            char e[2] = { '\\', p[i] };
            s = cbstr_cat(s, e, 2);
        } else if (p[i] == '\n') {
            s = cbstr_cat(s, "\\n", 2);
        } else {
            s = cbstr_cat(s, p + i, 1);
        }
    }
    return s;
}

/* A sample; labels is "" or a ready {k="v",...} text; suffix goes after the
 * family name (histograms' _bucket, _sum, _count). */
static void sample_txt(mset *m, const char *name, const char *type, const char *help,
                       const char *suffix, const char *labels, const char *value)
{
    mfam *f = family(m, name, type, help);
    if (!labels[0] && !suffix[0]) {
        if (f->unlabelled) return; /* one series per name and labels */
        f->unlabelled = 1;
    }
    f->samples = cbstr_catfmt(f->samples, "%s%s%s %s\n", name, suffix, labels, value);
}

static void fmt_double(char *buf, size_t cap, double v)
{
    if (isnan(v)) snprintf(buf, cap, "NaN");
    else if (isinf(v)) snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15) snprintf(buf, cap, "%.0f", v);
    else {
        /* The shortest of %.15g / %.17g that reads back exactly. */
        snprintf(buf, cap, "%.15g", v);
        if (strtod(buf, NULL) != v) snprintf(buf, cap, "%.17g", v);
    }
}

static void sample_d(mset *m, const char *name, const char *type, const char *help,
                     const char *labels, double v)
{
    char buf[64];
    fmt_double(buf, sizeof(buf), v);
    sample_txt(m, name, type, help, "", labels, buf);
}

static void sample_u(mset *m, const char *name, const char *type, const char *help,
                     const char *labels, unsigned long long v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", v);
    sample_txt(m, name, type, help, "", labels, buf);
}

static cbstr write_all(mset *m)
{
    cbstr out = cbstr_with_cap(16384);
    for (int i = 0; i < m->n; i++) {
        mfam *f = &m->f[i];
        out = cbstr_catfmt(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                           f->type);
        out = cbstr_cat(out, f->samples, cbstr_len(f->samples));
        cbstr_free(f->samples);
    }
    cb_free(m->f);
    return out;
}

/* ------------------------------------------------------- INFO field names */

/* Counters among INFO's fields (everything else is a gauge). */
static const char *const info_counters[] = {
    "total_connections_received", "total_commands_processed", "total_net_input_bytes",
    "total_net_output_bytes", "total_net_repl_input_bytes", "total_net_repl_output_bytes",
    "rejected_connections", "sync_full", "sync_partial_ok", "sync_partial_err",
    "expired_keys", "expired_time_cap_reached_count", "evicted_keys", "evicted_clients",
    "keyspace_hits", "keyspace_misses", "total_forks", "active_defrag_hits",
    "active_defrag_misses", "active_defrag_key_hits", "active_defrag_key_misses",
    "unexpected_error_replies", "total_error_replies", "dump_payload_sanitizations",
    "total_reads_processed", "total_writes_processed", "io_threaded_reads_processed",
    "io_threaded_writes_processed", "reply_buffer_shrinks", "reply_buffer_expands",
    "rdb_saves", "aof_rewrites", "lazyfreed_objects", "stat_reply_buffer_shrinks",
    "client_query_buffer_limit_disconnections", "client_output_buffer_limit_disconnections",
    "conn_accepted", "conn_rejected_maxclients", "conn_rejected_protected_mode", "conn_ip_replaced",
    NULL};

/* Fields whose unit or meaning needs more than the generic rules. */
static const struct {
    const char *field, *name, *type;
    double scale;
} info_special[] = {
    { "server_time_usec", "server_time_seconds", "gauge", 1e-6 },
    { "rdb_last_save_time", "rdb_last_save_timestamp_seconds", "gauge", 1 },
    { "expire_cycle_cpu_milliseconds", "expire_cycle_cpu_seconds_total", "counter", 1e-3 },
    { "total_eviction_exceeded_time", "eviction_exceeded_seconds_total", "counter", 1e-3 },
    { "current_eviction_exceeded_time", "current_eviction_exceeded_seconds", "gauge", 1e-3 },
    { "total_active_defrag_time", "active_defrag_seconds_total", "counter", 1e-3 },
    { "current_active_defrag_time", "current_active_defrag_seconds", "gauge", 1e-3 },
    { "expired_stale_perc", "expired_stale_ratio", "gauge", 0.01 },
    { "client_recent_max_input_buffer", "client_recent_max_input_buffer_bytes", "gauge", 1 },
    { "client_recent_max_output_buffer", "client_recent_max_output_buffer_bytes", "gauge", 1 },
    { "repl_backlog_size", "repl_backlog_size_bytes", "gauge", 1 },
    { "current_cow_peak", "current_cow_peak_bytes", "gauge", 1 },
    { "current_cow_size_age", "current_cow_size_age_seconds", "gauge", 1 },
    { "repl_backlog_histlen", "repl_backlog_histlen_bytes", "gauge", 1 },
};

/* Text fields that look numeric but are identifiers, and duplicates. */
static const char *const info_skip[] = {
    "redis_git_sha1", "redis_build_id", "run_id", "master_replid", "master_replid2",
    "uptime_in_days", "process_id", NULL};

static int in_list(const char *const *list, const char *s)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int starts_with(const char *s, const char *pre) { return !strncmp(s, pre, strlen(pre)); }

/* Replace suffix `old` of name (known present) with `neu`. */
static void swap_suffix(char *name, size_t cap, const char *old, const char *neu)
{
    size_t n = strlen(name) - strlen(old);
    snprintf(name + n, cap - n, "%s", neu);
}

/* A plain decimal number: -?digits(.digits)? ; *pct set when it ends in %. */
static int parse_number(const char *v, size_t n, double *out, int *pct)
{
    *pct = 0;
    if (n && v[n - 1] == '%') {
        *pct = 1;
        n--;
    }
    size_t i = 0;
    if (i < n && v[i] == '-') i++;
    size_t d0 = i;
    while (i < n && v[i] >= '0' && v[i] <= '9') i++;
    if (i == d0) return 0;
    if (i < n && v[i] == '.') {
        size_t d1 = ++i;
        while (i < n && v[i] >= '0' && v[i] <= '9') i++;
        if (i == d1) return 0;
    }
    if (i != n || n > 60) return 0;
    char buf[64];
    memcpy(buf, v, n);
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return 1;
}

/* Memory-section fields that count bytes. */
static int memory_bytes(const char *f)
{
    return !strstr(f, "ratio") && !starts_with(f, "number_of") &&
           strcmp(f, "active_defrag_running") && strcmp(f, "lazyfree_pending_objects") &&
           strcmp(f, "lazyfreed_objects");
}

/* One numeric INFO field -> one series. */
static void info_field(mset *m, const char *sec, const char *f, const char *v, size_t vl)
{
    double val;
    int pct;
    if (in_list(info_skip, f)) return;
    if (!parse_number(v, vl, &val, &pct)) {
        /* Status words become 1/0 gauges: rdb_last_bgsave_status:ok. */
        if (ends_with(f, "_status") && (vl == 2 || vl == 3) &&
            (!memcmp(v, "ok", vl) || !memcmp(v, "err", vl))) {
            char name[160], help[160];
            snprintf(name, sizeof(name), PREFIX "%s_ok", f);
            snprintf(help, sizeof(help), "1 when INFO %s %s is ok", sec, f);
            sample_d(m, name, "gauge", help, "", vl == 2 ? 1 : 0);
        }
        return;
    }
    char base[128];
    snprintf(base, sizeof(base), "%s", f);
    const char *type = "gauge";
    double scale = 1;
    int special = 0;
    for (size_t i = 0; i < sizeof(info_special) / sizeof(info_special[0]); i++) {
        if (!strcmp(info_special[i].field, f)) {
            snprintf(base, sizeof(base), "%s", info_special[i].name);
            type = info_special[i].type;
            scale = info_special[i].scale;
            special = 1;
        }
    }
    if (!special) {
        if (starts_with(f, "used_cpu_")) {
            snprintf(base, sizeof(base), "%s_seconds_total", f);
            type = "counter";
        } else if (pct || ends_with(f, "_perc")) {
            if (ends_with(base, "_perc")) swap_suffix(base, sizeof(base), "_perc", "_ratio");
            else snprintf(base + strlen(base), sizeof(base) - strlen(base), "_ratio");
            scale = 0.01;
        } else if (ends_with(f, "_kbps")) {
            swap_suffix(base, sizeof(base), "_kbps", "_bytes_per_second");
            scale = 1024;
        } else if (ends_with(f, "_time_sec")) {
            swap_suffix(base, sizeof(base), "_time_sec", "_duration_seconds");
        } else if (ends_with(f, "_usec")) {
            swap_suffix(base, sizeof(base), "_usec", "_seconds");
            scale = 1e-6;
        } else if (ends_with(f, "_cow_size")) {
            swap_suffix(base, sizeof(base), "_cow_size", "_cow_size_bytes");
        } else if (!strcmp(sec, "memory") && memory_bytes(f) && !ends_with(f, "_bytes")) {
            snprintf(base + strlen(base), sizeof(base) - strlen(base), "_bytes");
        }
        if (in_list(info_counters, f)) {
            type = "counter";
            if (starts_with(base, "total_")) memmove(base, base + 6, strlen(base + 6) + 1);
            if (!ends_with(base, "_total"))
                snprintf(base + strlen(base), sizeof(base) - strlen(base), "_total");
        }
    }
    char name[160], help[200];
    snprintf(name, sizeof(name), PREFIX "%s", base);
    snprintf(help, sizeof(help), "INFO %s %s", sec, f);
    sample_d(m, name, type, help, "", val * scale);
}

/* Value of key k in "k1=v1,k2=v2" (NULL if absent); copies into buf. */
static const char *pair_get(const char *p, size_t n, const char *k, char *buf, size_t cap)
{
    size_t kl = strlen(k), i = 0;
    while (i < n) {
        const char *item = p + i;
        const char *end = memchr(item, ',', n - i);
        size_t len = end ? (size_t)(end - item) : n - i;
        i += len + 1;
        if (len > kl && !memcmp(item, k, kl) && item[kl] == '=') {
            size_t vl = len - kl - 1;
            if (vl >= cap) vl = cap - 1;
            memcpy(buf, item + kl + 1, vl);
            buf[vl] = '\0';
            return buf;
        }
    }
    return NULL;
}

static void label1(char *out, size_t cap, const char *k, const char *v, size_t vl)
{
    cbstr s = cbstr_catfmt(cbstr_with_cap(64), "{%s=\"", k);
    s = cat_label_value(s, v, vl);
    s = cbstr_cat(s, "\"}", 2);
    snprintf(out, cap, "%s", s);
    cbstr_free(s);
}

static double num_or_zero(const char *s) { return s ? strtod(s, NULL) : 0; }

/* cmdstat_<name>:calls=..,usec=..,..,rejected_calls=..,failed_calls=.. */
static void cmdstat_line(mset *m, const char *f, const char *v, size_t vl)
{
    if (!starts_with(f, "cmdstat_")) return;
    const char *cmd = f + 8;
    char lab[256], b[64];
    label1(lab, sizeof(lab), "cmd", cmd, strlen(cmd));
    sample_d(m, PREFIX "commands_total", "counter", "Calls per command (INFO commandstats)",
             lab, num_or_zero(pair_get(v, vl, "calls", b, sizeof(b))));
    sample_d(m, PREFIX "commands_duration_seconds_total", "counter",
             "Time spent per command (INFO commandstats usec)", lab,
             num_or_zero(pair_get(v, vl, "usec", b, sizeof(b))) * 1e-6);
    sample_d(m, PREFIX "commands_rejected_calls_total", "counter",
             "Calls refused before running, per command (INFO commandstats)", lab,
             num_or_zero(pair_get(v, vl, "rejected_calls", b, sizeof(b))));
    sample_d(m, PREFIX "commands_failed_calls_total", "counter",
             "Calls that failed while running, per command (INFO commandstats)", lab,
             num_or_zero(pair_get(v, vl, "failed_calls", b, sizeof(b))));
}

/* errorstat_<CODE>:count=N */
static void errorstat_line(mset *m, const char *f, const char *v, size_t vl)
{
    if (!starts_with(f, "errorstat_")) return;
    char lab[128], b[64];
    label1(lab, sizeof(lab), "err", f + 10, strlen(f + 10));
    sample_d(m, PREFIX "errors_total", "counter", "Error replies per error code (INFO errorstats)",
             lab, num_or_zero(pair_get(v, vl, "count", b, sizeof(b))));
}

/* db<N>:keys=..,expires=..,avg_ttl=.. */
static void keyspace_line(mset *m, const char *f, const char *v, size_t vl)
{
    if (!starts_with(f, "db")) return;
    char lab[64], b[64];
    label1(lab, sizeof(lab), "db", f, strlen(f));
    sample_d(m, PREFIX "db_keys", "gauge", "Keys per database (INFO keyspace)", lab,
             num_or_zero(pair_get(v, vl, "keys", b, sizeof(b))));
    sample_d(m, PREFIX "db_keys_expiring", "gauge", "Keys with a time to live per database",
             lab, num_or_zero(pair_get(v, vl, "expires", b, sizeof(b))));
    sample_d(m, PREFIX "db_avg_ttl_seconds", "gauge", "Average time to live per database",
             lab, num_or_zero(pair_get(v, vl, "avg_ttl", b, sizeof(b))) * 1e-3);
}

/* The server identity as one info-style series with labels. */
static void server_info(mset *m, const char *text)
{
    static const char *const keys[] = { "redis_version", "cachebox_version", "redis_mode",
                                        "os", "arch_bits", "mem_allocator", "run_id", NULL };
    cbstr lab = cbstr_from_cstr("{");
    for (int k = 0; keys[k]; k++) {
        char pat[64];
        snprintf(pat, sizeof(pat), "\n%s:", keys[k]);
        const char *p = strstr(text, pat);
        if (!p) continue;
        p += strlen(pat);
        size_t n = strcspn(p, "\r\n");
        if (cbstr_len(lab) > 1) lab = cbstr_cat(lab, ",", 1);
        lab = cbstr_catfmt(lab, "%s=\"", keys[k]);
        lab = cat_label_value(lab, p, n);
        lab = cbstr_cat(lab, "\"", 1);
    }
    lab = cbstr_cat(lab, "}", 1);
    sample_txt(m, PREFIX "server_info", "gauge", "Server identity (value is always 1)", "", lab,
               "1");
    cbstr_free(lab);
}

static void info_all(mset *m, const char *text, size_t len)
{
    char sec[32] = "";
    size_t i = 0;
    while (i < len) {
        const char *line = text + i;
        const char *nl = memchr(line, '\n', len - i);
        size_t l = nl ? (size_t)(nl - line) : len - i;
        i += l + 1;
        if (l && line[l - 1] == '\r') l--;
        if (l == 0) continue;
        if (line[0] == '#') {
            size_t k = 0;
            for (size_t j = 2; j < l && k + 1 < sizeof(sec); j++)
                sec[k++] = (char)(line[j] >= 'A' && line[j] <= 'Z' ? line[j] + 32 : line[j]);
            sec[k] = '\0';
            continue;
        }
        const char *colon = memchr(line, ':', l);
        if (!colon || colon == line || (size_t)(colon - line) >= 128) continue;
        char f[128];
        size_t fl = (size_t)(colon - line);
        for (size_t j = 0; j < fl; j++) {
            char ch = line[j];
            int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '_';
            /* Command names keep their '|' (labels); names get '_'. */
            f[j] = ok || !strcmp(sec, "commandstats") || !strcmp(sec, "errorstats") ? ch : '_';
        }
        f[fl] = '\0';
        const char *v = colon + 1;
        size_t vl = l - fl - 1;
        if (!strcmp(sec, "commandstats")) cmdstat_line(m, f, v, vl);
        else if (!strcmp(sec, "errorstats")) errorstat_line(m, f, v, vl);
        else if (!strcmp(sec, "keyspace")) keyspace_line(m, f, v, vl);
        else if (!strcmp(sec, "latencystats")) continue; /* histograms below instead */
        else info_field(m, sec, f, v, vl);
    }
}

/* --------------------------------------------------------------- workers */

typedef struct shard_snap {
    unsigned long long keys, expires;
} shard_snap;

static void workers(mset *m, const shard_snap *ss)
{
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w) continue;
        const cb_worker_stats *s = &w->stats;
        char lab[32];
        snprintf(lab, sizeof(lab), "{worker=\"%d\"}", i);
#define WC(name, help, field) sample_u(m, PREFIX "worker_" name, "counter", help, lab, \
                                       (unsigned long long)STAT_GET(s->field))
#define WG(name, help, field) sample_u(m, PREFIX "worker_" name, "gauge", help, lab, \
                                       (unsigned long long)STAT_GET(s->field))
        WC("commands_processed_total", "Commands run by this worker", numcommands);
        WC("connections_received_total", "Connections accepted by this worker", numconnections);
        WC("rejected_connections_total", "Connections this worker refused (maxclients)",
           rejected_conn);
        WC("net_input_bytes_total", "Bytes read from clients", net_input_bytes);
        WC("net_output_bytes_total", "Bytes written to clients", net_output_bytes);
        WC("error_replies_total", "Error replies sent", total_error_replies);
        WC("reads_processed_total", "Read events handled", total_reads);
        WC("writes_processed_total", "Write events handled", total_writes);
        WC("loops_total", "Event-loop turns", loops);
        WG("connected_clients", "Clients connected to this worker", connected_clients);
        WG("blocked_clients", "Clients blocked in a blocking command", blocked_clients);
        WG("pubsub_clients", "Clients in subscriber mode", pubsub_clients);
        WG("instantaneous_ops_per_sec", "Commands per second (recent estimate)",
           instantaneous_ops);
#undef WC
#undef WG
        /* Busy (useful work) vs idle (waiting for events) time of the loop. */
        sample_d(m, PREFIX "worker_loop_busy_seconds_total", "counter",
                 "Time the worker's loop spent working", lab,
                 (double)STAT_GET(s->loop_busy_us) * 1e-6);
        sample_d(m, PREFIX "worker_loop_idle_seconds_total", "counter",
                 "Time the worker's loop spent waiting for events", lab,
                 (double)STAT_GET(s->loop_idle_us) * 1e-6);
        if (!w->shard) continue;
        const cb_shard_stats *sh = &w->shard->stats;
        sample_u(m, PREFIX "shard_keys", "gauge", "Keys in this worker's shard (all dbs)", lab,
                 ss[i].keys);
        sample_u(m, PREFIX "shard_keys_expiring", "gauge",
                 "Keys with a time to live in this worker's shard", lab, ss[i].expires);
        sample_u(m, PREFIX "shard_expired_keys_total", "counter", "Keys expired in this shard",
                 lab, (unsigned long long)STAT_GET(sh->expired_keys));
        sample_u(m, PREFIX "shard_evicted_keys_total", "counter", "Keys evicted from this shard",
                 lab, (unsigned long long)STAT_GET(sh->evicted_keys));
        sample_u(m, PREFIX "shard_keyspace_hits_total", "counter", "Key lookups that hit", lab,
                 (unsigned long long)STAT_GET(sh->keyspace_hits));
        sample_u(m, PREFIX "shard_keyspace_misses_total", "counter", "Key lookups that missed",
                 lab, (unsigned long long)STAT_GET(sh->keyspace_misses));
    }
}

/* ----------------------------------------------------- latency histograms */

/* Per-command latency as classic Prometheus histograms
 * (cachebox_command_latency_seconds_bucket{cmd,le}, _sum, _count).
 * The workers keep no per-command latency histogram yet (INFO latencystats
 * is empty), so there is nothing to expose; when they do, read each
 * worker's buckets here with STAT_GET, sum them per command, and emit
 * cumulative buckets with sample_txt(m, name, "histogram", help,
 * "_bucket", "{cmd=\"get\",le=\"0.001\"}", count) and so on, ending with
 * le="+Inf", then "_sum" and "_count". */
/* Classic Prometheus histograms from the per-command latency histograms
 * (latency-tracking). The bounds are fixed, so series never change shape;
 * a bound's count includes the histogram slot holding it, which is
 * 1/128 of the value wide (platform/histogram.h). */
static const int64_t lat_bounds_ns[] = { 10000LL,     25000LL,     100000LL,    250000LL,
                                         1000000LL,   2500000LL,   10000000LL,  25000000LL,
                                         100000000LL, 250000000LL, 1000000000LL,
                                         2500000000LL, 10000000000LL };

static void hist_family(void *priv, const char *cmd, const cb_hist *h)
{
    static const char *const name = PREFIX "command_latency_seconds";
    static const char *const help = "Command call time (latency-tracking), per command";
    mset *m = priv;
    char labels[256], num[64];
    cbstr cl = cat_label_value(cbstr_with_cap(32), cmd, strlen(cmd));
    for (size_t i = 0; i < sizeof(lat_bounds_ns) / sizeof(lat_bounds_ns[0]); i++) {
        fmt_double(num, sizeof(num), (double)lat_bounds_ns[i] / 1e9);
        snprintf(labels, sizeof(labels), "{cmd=\"%s\",le=\"%s\"}", cl, num);
        char v[32];
        snprintf(v, sizeof(v), "%llu", (unsigned long long)hist_count_upto(h, lat_bounds_ns[i]));
        sample_txt(m, name, "histogram", help, "_bucket", labels, v);
    }
    char v[32];
    snprintf(v, sizeof(v), "%llu", (unsigned long long)h->total);
    snprintf(labels, sizeof(labels), "{cmd=\"%s\",le=\"+Inf\"}", cl);
    sample_txt(m, name, "histogram", help, "_bucket", labels, v);
    snprintf(labels, sizeof(labels), "{cmd=\"%s\"}", cl);
    fmt_double(num, sizeof(num), (double)h->sum / 1e9);
    sample_txt(m, name, "histogram", help, "_sum", labels, num);
    sample_txt(m, name, "histogram", help, "_count", labels, v);
    cbstr_free(cl);
}

static void latency_histograms(mset *m)
{
    xshard_park_all();
    latency_visit_histograms(hist_family, m);
    xshard_release_all();
}

/* ----------------------------------------------------------- connections */

/* The top source addresses' attempts by result (conn_stats.h): a bounded
 * set of ip="..." series. The section's totals and rate are plain INFO
 * fields (cachebox_conn_*). */
static void connections(mset *m)
{
    conn_ip_stat top[32];
    int n = conn_stats_top(top, 32);
    static const char *const ip_name = PREFIX "ip_connection_attempts_total";
    static const char *const ip_help = "Connection attempts per source address (top addresses)";
    for (int i = 0; i < n; i++) {
        char lab[160];
        cbstr ip = cat_label_value(cbstr_with_cap(48), top[i].ip, strlen(top[i].ip));
        snprintf(lab, sizeof(lab), "{ip=\"%s\",result=\"accepted\"}", ip);
        sample_u(m, ip_name, "counter", ip_help, lab, top[i].accepted);
        snprintf(lab, sizeof(lab), "{ip=\"%s\",result=\"rejected_maxclients\"}", ip);
        sample_u(m, ip_name, "counter", ip_help, lab, top[i].rej_maxclients);
        snprintf(lab, sizeof(lab), "{ip=\"%s\",result=\"rejected_protected_mode\"}", ip);
        sample_u(m, ip_name, "counter", ip_help, lab, top[i].rej_protected);
        cbstr_free(ip);
    }
}

/* ---------------------------------------------------------- control port */

static void control_port(mset *m)
{
    ctl_counters c;
    control_counters(&c);
    sample_u(m, PREFIX "control_requests_total", "counter", "Requests to the control port", "",
             (unsigned long long)c.requests);
    sample_u(m, PREFIX "control_unauthorized_total", "counter",
             "Control port requests refused for a missing or wrong token", "",
             (unsigned long long)c.unauthorized);
    sample_u(m, PREFIX "control_client_errors_total", "counter",
             "Control port requests answered with another 4xx", "",
             (unsigned long long)c.client_errors);
}

cbstr metrics_render(void)
{
    static const char *all[] = { "everything" };
    static const size_t all_len[] = { 10 };
    int nw = g_server.nworkers;
    shard_snap *ss = cb_calloc(sizeof(*ss) * (size_t)(nw > 0 ? nw : 1));
    /* One instant for INFO and the shard sizes, as INFO over RESP. */
    xshard_park_all();
    cbstr info = info_generate(NULL, 1, all, all_len);
    for (int i = 0; i < nw; i++) {
        cb_shard *sh = g_server.workers[i] ? g_server.workers[i]->shard : NULL;
        for (int j = 0; sh && j < sh->ndb; j++) {
            ss[i].keys += dict_size(sh->dbs[j].keys);
            ss[i].expires += dict_size(sh->dbs[j].expires);
        }
    }
    xshard_release_all();

    mset m = { 0 };
    sample_u(&m, PREFIX "up", "gauge", "1 when the server answers", "", 1);
    server_info(&m, info);
    info_all(&m, info, cbstr_len(info));
    workers(&m, ss);
    latency_histograms(&m);
    connections(&m);
    control_port(&m);
    cbstr_free(info);
    cb_free(ss);
    return write_all(&m);
}
