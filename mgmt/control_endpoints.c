/* control_endpoints.c — what each control-port path does. control.c has
 * already checked the token (every path but /health/...) and read the body;
 * each handler here fills a ctl_resp.
 *
 * Everything that reads the data plane or the configuration does it with
 * every worker parked (xshard_park_all), the way INFO, CONFIG and CLIENT
 * run over RESP: holding the park also keeps a CONFIG SET from freeing a
 * string we read. Handlers that need the workers answer 503 until they run.
 *
 * Paths (docs/control-port.md):
 *   GET  /health/live, /health/ready
 *   GET  /metrics, /info[?section=a,b], /info.json[?section=...]
 *   GET  /config/<name or glob>      PUT /config/<name> (body = value)
 *   POST /config/rewrite             POST /shutdown[?save|?nosave]
 *   GET  /clients[?by=ip]            POST /clients/kill?id=N|addr=ip:port|laddr=ip:port
 *   POST /snapshot   GET /persistence   GET /snapshot/latest
 *   PUT  /restore (control_restore.c)
 *   GET  /slowlog[?count=N]          GET /latency      POST /aof/rewrite
 */
#include "control_internal.h"

#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "info.h"
#include "json.h"
#include "metrics.h"
#include "../dataplane/client.h"
#include "../dataplane/conn.h"
#include "../dataplane/conn_stats.h"
#include "../dataplane/server.h"
#include "../dataplane/worker.h"
#include "../dataplane/xshard.h"
#include "../dataplane/latency.h"
#include "../dataplane/dpdk/dpdk_driver.h"
#include "../dataplane/slowlog.h"
#include "../persist/aof.h"
#include "../persist/bgsave.h"
#include "../platform/histogram.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/util.h"

static int is_get(const ctl_req *rq) { return !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD"); }
static int is_method(const ctl_req *rq, const char *m) { return !strcmp(rq->method, m); }

static void not_allowed(ctl_resp *rp, const char *allow)
{
    ctl_error(rp, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    rp->hdr_name = MHD_HTTP_HEADER_ALLOW;
    rp->hdr_value = allow;
}

static void ok_status(ctl_resp *rp, unsigned status, const char *text)
{
    cbstr b = cbstr_from_cstr("{\"status\":");
    b = json_str(b, text, strlen(text));
    ctl_json(rp, status, cbstr_cat(b, "}\n", 2));
}

/* ---------------------------------------------------------------- health */

/* MISCONF reads configuration strings, so it is checked with the workers
 * parked; /health/ready needs no token, so probes may come fast: the answer
 * is kept 100 ms, which bounds how often they can park the data plane. */
static int writes_denied(void)
{
    static long long checked_ms; /* control thread only */
    static int denied;
    long long now = util_mstime();
    if (now - checked_ms >= 100) {
        xshard_park_all();
        denied = bgsave_writes_denied();
        xshard_release_all();
        checked_ms = now;
    }
    return denied;
}

static void health_ready(ctl_resp *rp)
{
    const char *why[8];
    int n = 0;
    if (!ctl_ready()) why[n++] = "loading the dataset";
    if (__atomic_load_n(&g_server.shutdown_asap, __ATOMIC_ACQUIRE)) why[n++] = "shutting down";
    if (ctl_ready() && writes_denied())
        why[n++] = "writes refused: the last background save failed (MISCONF)";
    if (ctl_ready()) {
        int stopped = 0;
        for (int i = 0; i < g_server.nworkers; i++)
            if (g_server.workers[i] && __atomic_load_n(&g_server.workers[i]->exited, __ATOMIC_ACQUIRE))
                stopped++;
        if (stopped) why[n++] = "data plane down: a worker has stopped";
        if (ddrv_link_up() == 0) why[n++] = "data plane down: the DPDK port's link is down";
    }
    cbstr b = cbstr_from_cstr(n ? "{\"status\":\"not ready\",\"reasons\":[" : "{\"status\":\"ready\"");
    for (int i = 0; i < n; i++) {
        if (i) b = cbstr_cat(b, ",", 1);
        b = json_str(b, why[i], strlen(why[i]));
    }
    b = cbstr_cat(b, n ? "]}\n" : "}\n", n ? 3 : 2);
    ctl_json(rp, n ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, b);
}

/* ------------------------------------------------------------------ INFO */

/* The INFO text for "?section=a,b" (comma or space separated; none: the
 * default sections), with every worker parked as INFO does. */
static cbstr info_text(ctl_req *rq)
{
    const char *q = ctl_query(rq, "section");
    char *copy = cb_strdup(q ? q : "");
    const char *args[32];
    size_t lens[32];
    int argc = 0;
    for (char *save = NULL, *t = strtok_r(copy, ", ", &save); t && argc < 32;
         t = strtok_r(NULL, ", ", &save)) {
        args[argc] = t;
        lens[argc++] = strlen(t);
    }
    xshard_park_all();
    cbstr s = info_generate(NULL, argc, args, lens);
    xshard_release_all();
    cb_free(copy);
    return s;
}

static void info_plain(ctl_req *rq, ctl_resp *rp)
{
    rp->status = MHD_HTTP_OK;
    rp->ctype = "text/plain; charset=utf-8";
    rp->body = info_text(rq);
}

static void info_json(ctl_req *rq, ctl_resp *rp)
{
    cbstr t = info_text(rq);
    cbstr b = json_info(cbstr_with_cap(cbstr_len(t) + 256), t, cbstr_len(t));
    cbstr_free(t);
    ctl_json(rp, MHD_HTTP_OK, cbstr_cat(b, "\n", 1));
}

static void persistence(ctl_resp *rp)
{
    const char *sec = "persistence";
    size_t l = strlen(sec);
    xshard_park_all();
    cbstr t = info_generate(NULL, 1, &sec, &l);
    xshard_release_all();
    cbstr all = json_info(cbstr_with_cap(1024), t, cbstr_len(t));
    cbstr_free(t);
    /* {"persistence":{...}} -> {...} */
    const char *pre = "{\"persistence\":";
    size_t pl = strlen(pre);
    cbstr b;
    if (cbstr_len(all) > pl + 1 && !memcmp(all, pre, pl))
        b = cbstr_new(all + pl, cbstr_len(all) - pl - 1);
    else
        b = cbstr_from_cstr("{}");
    cbstr_free(all);
    ctl_json(rp, MHD_HTTP_OK, cbstr_cat(b, "\n", 1));
}

/* ---------------------------------------------------------------- config */

typedef struct cfg_acc {
    cbstr out;
    int n;
} cfg_acc;

static void cfg_add(void *priv, const char *name, const char *value)
{
    cfg_acc *a = priv;
    if (a->n++) a->out = cbstr_cat(a->out, ",", 1);
    a->out = json_str(a->out, name, strlen(name));
    a->out = cbstr_cat(a->out, ":", 1);
    a->out = json_str(a->out, value, strlen(value));
}

static void config_get(const char *name, ctl_resp *rp)
{
    cfg_acc a = { cbstr_from_cstr("{"), 0 };
    xshard_park_all();
    config_get_matching(name, strlen(name), cfg_add, &a);
    xshard_release_all();
    if (!a.n) {
        cbstr_free(a.out);
        ctl_error(rp, MHD_HTTP_NOT_FOUND, "no such configuration parameter");
        return;
    }
    ctl_json(rp, MHD_HTTP_OK, cbstr_cat(a.out, "}\n", 2));
}

static void config_put(ctl_req *rq, const char *name, ctl_resp *rp)
{
    size_t vl = rq->body ? cbstr_len(rq->body) : 0;
    const char *v = rq->body ? rq->body : "";
    /* `echo value | curl -T -` sends the newline too. */
    while (vl && (v[vl - 1] == '\n' || v[vl - 1] == '\r')) vl--;
    size_t nl = strlen(name);
    char *err = NULL;
    xshard_park_all();
    int rc = config_set_many_from(1, &name, &nl, &v, &vl, rq->peer_local, &err);
    xshard_release_all();
    if (rc == 0) {
        ok_status(rp, MHD_HTTP_OK, "OK");
    } else {
        ctl_error(rp, MHD_HTTP_BAD_REQUEST, err ? err : "CONFIG SET failed");
    }
    cb_free(err);
}

static void config_rewrite_ep(ctl_resp *rp)
{
    char *err = NULL;
    xshard_park_all();
    int rc = config_rewrite(&err);
    xshard_release_all();
    if (rc == 0) {
        cb_log(LOG_NOTICE, "CONFIG REWRITE executed with success.");
        ok_status(rp, MHD_HTTP_OK, "OK");
    } else {
        cb_log(LOG_WARNING, "CONFIG REWRITE failed: %s", err ? err : "unknown error");
        ctl_error(rp, MHD_HTTP_INTERNAL_SERVER_ERROR, err ? err : "Rewriting config file failed");
    }
    cb_free(err);
}

/* --------------------------------------------------------------- clients */

/* GET /clients?by=ip: connection counters per source address (the top
 * CONN_STATS_IPS) and the recent connection rate. */
static void clients_by_ip(ctl_resp *rp)
{
    conn_stats_view v;
    conn_stats_summary(&v);
    cbstr b = cbstr_catfmt(cbstr_with_cap(512),
                           "{\"accepted\":%llu,\"rejected_maxclients\":%llu,"
                           "\"rejected_protected_mode\":%llu,\"rate_per_sec\":%.2f,"
                           "\"window_sec\":%d,\"ip_entries\":%llu,\"ip_replaced\":%llu,"
                           "\"ips\":[",
                           (unsigned long long)v.accepted, (unsigned long long)v.rej_maxclients,
                           (unsigned long long)v.rej_protected, v.rate, CONN_RATE_WINDOW,
                           (unsigned long long)v.tracked, (unsigned long long)v.replaced);
    conn_ip_stat *top = cb_malloc(sizeof(*top) * CONN_STATS_IPS);
    int n = conn_stats_top(top, CONN_STATS_IPS);
    for (int i = 0; i < n; i++) {
        b = cbstr_cat(b, i ? ",{\"ip\":" : "{\"ip\":", i ? 7 : 6);
        b = json_str(b, top[i].ip, strlen(top[i].ip));
        b = cbstr_catfmt(b, ",\"accepted\":%llu,\"rejected_maxclients\":%llu,"
                            "\"rejected_protected_mode\":%llu}",
                         (unsigned long long)top[i].accepted,
                         (unsigned long long)top[i].rej_maxclients,
                         (unsigned long long)top[i].rej_protected);
    }
    cb_free(top);
    ctl_json(rp, MHD_HTTP_OK, cbstr_cat(b, "]}\n", 3));
}

static void clients_list(ctl_resp *rp)
{
    cbstr b = cbstr_from_cstr("[");
    int n = 0;
    xshard_park_all();
    for (int wi = 0; wi < g_server.nworkers; wi++) {
        cb_worker *w = g_server.workers[wi];
        /* Oldest first, as CLIENT LIST. */
        cb_client *t = w->clients;
        while (t && t->next) t = t->next;
        for (; t; t = t->prev) {
            char *line = client_info_line(t);
            if (n++) b = cbstr_cat(b, ",", 1);
            b = json_pairs(b, line, strlen(line), ' ');
            cb_free(line);
        }
    }
    xshard_release_all();
    ctl_json(rp, MHD_HTTP_OK, cbstr_cat(b, "]\n", 2));
}

static void clients_kill(ctl_req *rq, ctl_resp *rp)
{
    const char *id_s = ctl_query(rq, "id"), *addr = ctl_query(rq, "addr");
    const char *laddr = ctl_query(rq, "laddr");
    long long id = 0;
    if (!id_s && !addr && !laddr) {
        ctl_error(rp, MHD_HTTP_BAD_REQUEST, "give ?id=, ?addr= or ?laddr=");
        return;
    }
    if (id_s && (!util_str2ll(id_s, strlen(id_s), &id) || id <= 0)) {
        ctl_error(rp, MHD_HTTP_BAD_REQUEST, "client-id should be greater than 0");
        return;
    }
    int killed = 0;
    xshard_park_all();
    for (int wi = 0; wi < g_server.nworkers; wi++) {
        for (cb_client *t = g_server.workers[wi]->clients; t; t = t->next) {
            if (t->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSED)) continue;
            if (id && t->id != (unsigned long long)id) continue;
            if (addr && strcmp(t->addr, addr)) continue;
            if (laddr && strcmp(t->laddr, laddr)) continue;
            /* The owner closes it at its next loop turn. */
            conn_close_async(t);
            killed++;
        }
    }
    xshard_release_all();
    if (!killed) {
        ctl_error(rp, MHD_HTTP_NOT_FOUND, "No such client");
        return;
    }
    ctl_json(rp, MHD_HTTP_OK, cbstr_catfmt(cbstr_with_cap(32), "{\"killed\":%d}\n", killed));
}

/* ------------------------------------------------------------- snapshots */

static void snapshot_start(ctl_resp *rp)
{
    int rc = 1;
    xshard_park_all();
    if (!bgsave_in_progress()) rc = bgsave_start();
    xshard_release_all();
    if (rc == 0)
        ok_status(rp, MHD_HTTP_ACCEPTED, "Background saving started");
    else if (rc == 1)
        ctl_error(rp, MHD_HTTP_CONFLICT, "Background save already in progress");
    else
        ctl_error(rp, MHD_HTTP_INTERNAL_SERVER_ERROR, "Background save failed to start");
}

/* Streams dir/dbfilename: the last completed snapshot (a snapshot being
 * written goes to a temp file and is renamed over it when complete, so
 * the open file is always a whole one). */
static void snapshot_latest(ctl_resp *rp)
{
    xshard_park_all();
    char *name = cb_strdup(g_config.dbfilename ? g_config.dbfilename : "");
    xshard_release_all();
    int fd = name[0] ? open(name, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        cb_free(name);
        ctl_error(rp, MHD_HTTP_NOT_FOUND, "no snapshot file");
        return;
    }
    /* The download's file name: the base name, plain characters only. */
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    char safe[96];
    size_t j = 0;
    for (size_t i = 0; base[i] && j + 1 < sizeof(safe); i++) {
        char ch = base[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '.' || ch == '-' || ch == '_';
        safe[j++] = ok ? ch : '_';
    }
    safe[j] = '\0';
    snprintf(rp->hdr_buf, sizeof(rp->hdr_buf), "attachment; filename=\"%s\"", safe);
    rp->hdr_name = MHD_HTTP_HEADER_CONTENT_DISPOSITION;
    rp->hdr_value = rp->hdr_buf;
    rp->status = MHD_HTTP_OK;
    rp->ctype = "application/octet-stream";
    rp->fd = fd;
    rp->fd_size = (uint64_t)st.st_size;
    cb_free(name);
}

/* ------------------------------------------------------ slowlog, latency */

typedef struct json_acc {
    cbstr out;
    int n;
} json_acc;

static void slowlog_one(void *priv, const slowlog_view *e)
{
    json_acc *a = priv;
    cbstr b = a->out;
    if (a->n++) b = cbstr_cat(b, ",", 1);
    b = cbstr_catfmt(b, "{\"id\":%llu,\"timestamp\":%lld,\"duration_us\":%lld,\"args\":[",
                     (unsigned long long)e->id, e->time, e->duration_us);
    for (int i = 0; i < e->argc; i++) {
        if (i) b = cbstr_cat(b, ",", 1);
        b = json_str(b, e->argv[i], cbstr_len(e->argv[i]));
    }
    b = cbstr_cat(b, "],\"client_addr\":", 16);
    b = json_str(b, e->peer, strlen(e->peer));
    b = cbstr_cat(b, ",\"client_name\":", 15);
    b = json_str(b, e->cname, strlen(e->cname));
    a->out = cbstr_cat(b, "}", 1);
}

/* Entries newest first, as SLOWLOG GET [count] (default 10, -1: all). */
static void slowlog_get(ctl_req *rq, ctl_resp *rp)
{
    const char *q = ctl_query(rq, "count");
    long long count = 10;
    if (q && (!util_str2ll(q, strlen(q), &count) || count < -1)) {
        ctl_error(rp, MHD_HTTP_BAD_REQUEST, "count should be greater than or equal to -1");
        return;
    }
    json_acc a = { cbstr_from_cstr("["), 0 };
    xshard_park_all();
    slowlog_visit(count, slowlog_one, &a);
    xshard_release_all();
    ctl_json(rp, MHD_HTTP_OK, cbstr_cat(a.out, "]\n", 2));
}

static void latest_one(void *priv, const char *ev, long long t, long long ms, long long max)
{
    json_acc *a = priv;
    if (a->n++) a->out = cbstr_cat(a->out, ",", 1);
    a->out = json_str(a->out, ev, strlen(ev));
    a->out = cbstr_catfmt(a->out, ":{\"timestamp\":%lld,\"latest_ms\":%lld,\"max_ms\":%lld}",
                          t, ms, max);
}

static void percentiles_one(void *priv, const char *cmd, const cb_hist *h)
{
    json_acc *a = priv;
    if (a->n++) a->out = cbstr_cat(a->out, ",", 1);
    a->out = json_str(a->out, cmd, strlen(cmd));
    a->out = cbstr_catfmt(a->out, ":{\"calls\":%llu", (unsigned long long)h->total);
    for (int i = 0; i < g_config.latency_npercentiles; i++) {
        double p = g_config.latency_percentiles[i];
        char name[64];
        int n = snprintf(name, sizeof name, "%f", p);
        while (n > 1 && name[n - 1] == '0') name[--n] = '\0';
        if (n > 1 && name[n - 1] == '.') name[--n] = '\0';
        a->out = cbstr_catfmt(a->out, ",\"p%s\":%.3f", name,
                              (double)hist_value_at_percentile(h, p) / 1000.0);
    }
    a->out = cbstr_cat(a->out, "}", 1);
}

/* {"latest":{event:{...}}, "percentiles_usec":{cmd:{calls, p50...}}} */
static void latency_get(ctl_resp *rp)
{
    json_acc a = { cbstr_from_cstr("{\"latest\":{"), 0 };
    xshard_park_all();
    latency_visit_latest(latest_one, &a);
    a.out = cbstr_cat(a.out, "},\"percentiles_usec\":{", 22);
    a.n = 0;
    latency_visit_histograms(percentiles_one, &a);
    xshard_release_all();
    ctl_json(rp, MHD_HTTP_OK, cbstr_cat(a.out, "}}\n", 3));
}

static void aof_rewrite(ctl_resp *rp)
{
    if (aof_request_rewrite() == 1)
        ctl_error(rp, MHD_HTTP_CONFLICT, "Background append only file rewriting already in progress");
    else
        ok_status(rp, MHD_HTTP_ACCEPTED, "Background append only file rewriting started");
}

/* --------------------------------------------------------------- routing */

void ctl_route(ctl_req *rq, ctl_resp *rp)
{
    const char *p = rq->path;
    if (!strcmp(p, "/health/live")) {
        if (!is_get(rq)) { not_allowed(rp, "GET, HEAD"); return; }
        { ok_status(rp, MHD_HTTP_OK, "live"); return; }
    }
    if (!strcmp(p, "/health/ready")) {
        if (!is_get(rq)) { not_allowed(rp, "GET, HEAD"); return; }
        { health_ready(rp); return; }
    }
    static const char *const known[] = { "/metrics", "/info", "/info.json", "/clients",
                                         "/clients/kill", "/snapshot", "/snapshot/latest",
                                         "/persistence", "/shutdown", "/config/rewrite",
                                         "/restore", "/slowlog", "/latency", "/aof/rewrite",
                                         NULL };
    int found = !strncmp(p, "/config/", 8) && p[8];
    for (int i = 0; known[i] && !found; i++) found = !strcmp(p, known[i]);
    if (!found) { ctl_error(rp, MHD_HTTP_NOT_FOUND, "no such endpoint"); return; }
    if (!ctl_ready()) { ctl_error(rp, MHD_HTTP_SERVICE_UNAVAILABLE, "loading the dataset"); return; }

    if (!strcmp(p, "/metrics")) {
        if (!is_get(rq)) { not_allowed(rp, "GET, HEAD"); return; }
        rp->status = MHD_HTTP_OK;
        rp->ctype = "text/plain; version=0.0.4; charset=utf-8";
        rp->body = metrics_render();
        return;
    }
    if (!strcmp(p, "/info")) {
        if (!is_get(rq)) { not_allowed(rp, "GET, HEAD"); return; }
        { info_plain(rq, rp); return; }
    }
    if (!strcmp(p, "/info.json")) {
        if (!is_get(rq)) { not_allowed(rp, "GET, HEAD"); return; }
        { info_json(rq, rp); return; }
    }
    if (!strcmp(p, "/persistence")) {
        if (!is_get(rq)) { not_allowed(rp, "GET, HEAD"); return; }
        { persistence(rp); return; }
    }
    if (!strcmp(p, "/snapshot")) {
        if (!is_method(rq, "POST")) { not_allowed(rp, "POST"); return; }
        { snapshot_start(rp); return; }
    }
    if (!strcmp(p, "/snapshot/latest")) {
        if (!is_get(rq)) { not_allowed(rp, "GET, HEAD"); return; }
        { snapshot_latest(rp); return; }
    }
    if (!strcmp(p, "/clients")) {
        if (!is_get(rq)) { not_allowed(rp, "GET, HEAD"); return; }
        const char *by = ctl_query(rq, "by");
        if (by && !strcmp(by, "ip")) { clients_by_ip(rp); return; }
        if (by) { ctl_error(rp, MHD_HTTP_BAD_REQUEST, "by= takes ip"); return; }
        { clients_list(rp); return; }
    }
    if (!strcmp(p, "/clients/kill")) {
        if (!is_method(rq, "POST")) { not_allowed(rp, "POST"); return; }
        { clients_kill(rq, rp); return; }
    }
    if (!strcmp(p, "/slowlog")) {
        if (!is_get(rq)) { not_allowed(rp, "GET, HEAD"); return; }
        { slowlog_get(rq, rp); return; }
    }
    if (!strcmp(p, "/latency")) {
        if (!is_get(rq)) { not_allowed(rp, "GET, HEAD"); return; }
        { latency_get(rp); return; }
    }
    if (!strcmp(p, "/aof/rewrite")) {
        if (!is_method(rq, "POST")) { not_allowed(rp, "POST"); return; }
        { aof_rewrite(rp); return; }
    }
    if (!strcmp(p, "/restore")) { /* PUT is control_restore.c's, before routing */
        not_allowed(rp, "PUT");
        return;
    }
    if (!strcmp(p, "/shutdown")) {
        if (!is_method(rq, "POST")) { not_allowed(rp, "POST"); return; }
        int save = ctl_query_has(rq, "save"), nosave = ctl_query_has(rq, "nosave");
        if (save && nosave) { ctl_error(rp, MHD_HTTP_BAD_REQUEST, "save and nosave exclude each other"); return; }
        /* After the reply has left (control.c on_completed). */
        rq->after = CTL_AFTER_SHUTDOWN;
        rq->shutdown_flags = save ? SHUTDOWN_SAVE : nosave ? SHUTDOWN_NOSAVE : 0;
        cb_log(LOG_WARNING, "Shutdown requested over the control port by %s", rq->peer);
        { ok_status(rp, MHD_HTTP_ACCEPTED, "shutting down"); return; }
    }
    if (!strcmp(p, "/config/rewrite")) {
        if (!is_method(rq, "POST")) { not_allowed(rp, "POST"); return; }
        { config_rewrite_ep(rp); return; }
    }
    /* /config/<name> */
    const char *name = p + 8;
    if (is_get(rq)) { config_get(name, rp); return; }
    if (is_method(rq, "PUT")) { config_put(rq, name, rp); return; }
    { not_allowed(rp, "GET, HEAD, PUT"); return; }
}
