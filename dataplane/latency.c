/* latency.c — latency monitor events and per-command histograms, and the
 * LATENCY command (see latency.h).
 *
 * Events follow Redis 7.0: a series per event name ("command",
 * "fast-command", "expire-cycle") of the last 160 samples, at most one per
 * second (a second's worst), plus the all-time maximum, all in
 * milliseconds. Histograms count each command's call time in nanoseconds
 * (platform/histogram.h); LATENCY HISTOGRAM reports them at power-of-two
 * microsecond levels and INFO latencystats at the configured percentiles.
 */
#include "latency.h"
#include "latency_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/command.h"
#include "resp/reply.h"
#include "worker.h"
#include "../platform/config.h"
#include "../platform/histogram.h"
#include "../platform/mem.h"
#include "../platform/util.h"

#define LAT_SAMPLES 160
#define LAT_MAX_EVENTS 16

/* time: unix seconds, 0 for an unused slot (latency_report.h). */
typedef lat_point lat_sample;

typedef struct lat_series {
    const char *name;
    int next; /* slot the next sample goes to */
    long long max;
    lat_sample s[LAT_SAMPLES];
} lat_series;

typedef struct cb_latency {
    lat_series ev[LAT_MAX_EVENTS];
    int nev;
    cb_hist **hist; /* [command id], NULL until the command's first call */
} cb_latency;

static cb_latency *state(cb_worker *w) {
    if (!w->latency) w->latency = cb_calloc(sizeof(cb_latency));
    return w->latency;
}

/* ------------------------------------------------------------- recording */

void latency_event(cb_worker *w, const char *name, long long ms) {
    long long thr = g_config.latency_monitor_threshold;
    if (!thr || ms < thr || !w) return;
    cb_latency *l = state(w);
    lat_series *e = NULL;
    for (int i = 0; i < l->nev; i++)
        if (!strcmp(l->ev[i].name, name)) e = &l->ev[i];
    if (!e) {
        if (l->nev == LAT_MAX_EVENTS) return;
        e = &l->ev[l->nev++];
        memset(e, 0, sizeof(*e));
        e->name = name;
    }
    long long now = util_ustime() / 1000000;
    if (ms > e->max) e->max = ms;
    lat_sample *prev = &e->s[(e->next + LAT_SAMPLES - 1) % LAT_SAMPLES];
    if (prev->time == now) {
        if (ms > prev->ms) prev->ms = ms;
        return;
    }
    e->s[e->next].time = now;
    e->s[e->next].ms = ms;
    e->next = (e->next + 1) % LAT_SAMPLES;
}

void latency_after_call(cb_client *c, const cb_command *cmd, long long dur_us) {
    cb_worker *w = c->w;
    if (!w) return;
    latency_event(w, (cmd->flags & CMD_FAST) ? "fast-command" : "command", dur_us / 1000);
    if (!g_config.latency_tracking) return;
    cb_latency *l = state(w);
    if (!l->hist) l->hist = cb_calloc(sizeof(cb_hist *) * (size_t)(command_ids() + 1));
    cb_hist *h = l->hist[cmd->id];
    if (!h) h = l->hist[cmd->id] = cb_calloc(sizeof(cb_hist));
    hist_record(h, dur_us * 1000);
}

void latency_reset_histograms(cb_worker *w) {
    cb_latency *l = w->latency;
    if (!l || !l->hist) return;
    for (int i = 0; i <= command_ids(); i++) {
        if (!l->hist[i]) continue;
        hist_reset(l->hist[i]);
        cb_free(l->hist[i]);
        l->hist[i] = NULL;
    }
}

void latency_free(cb_worker *w) {
    if (!w->latency) return;
    latency_reset_histograms(w);
    cb_free(w->latency->hist);
    cb_free(w->latency);
    w->latency = NULL;
}

/* --------------------------------------------------------------- merging */

/* Every worker's samples of one event, oldest first, one per second (the
 * worst), the newest LAT_SAMPLES kept. Returns the count; *max gets the
 * all-time maximum; 0 when no worker knows the event. */
static int merged_series(const char *name, lat_sample *out, long long *max) {
    lat_sample all[LAT_SAMPLES * 8];
    int n = 0, found = 0;
    *max = 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w || !w->latency) continue;
        for (int k = 0; k < w->latency->nev; k++) {
            lat_series *e = &w->latency->ev[k];
            if (strcmp(e->name, name)) continue;
            found = 1;
            if (e->max > *max) *max = e->max;
            for (int j = 0; j < LAT_SAMPLES; j++) {
                lat_sample *s = &e->s[(e->next + j) % LAT_SAMPLES];
                if (!s->time) continue;
                /* Fold into what we have for that second, else append
                 * (evicting the oldest when the buffer is full). */
                int m = 0;
                while (m < n && all[m].time != s->time) m++;
                if (m < n) {
                    if (s->ms > all[m].ms) all[m].ms = s->ms;
                } else if (n < (int)(sizeof(all) / sizeof(all[0]))) {
                    all[n++] = *s;
                }
            }
        }
    }
    if (!found) return -1;
    for (int i = 1; i < n; i++) { /* few samples: insertion sort by time */
        lat_sample t = all[i];
        int j = i - 1;
        while (j >= 0 && all[j].time > t.time) {
            all[j + 1] = all[j];
            j--;
        }
        all[j + 1] = t;
    }
    int skip = n > LAT_SAMPLES ? n - LAT_SAMPLES : 0;
    memcpy(out, all + skip, sizeof(lat_sample) * (size_t)(n - skip));
    return n - skip;
}

/* Names of every event any worker has, in first-seen order. */
static int event_names(const char **names) {
    int n = 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w || !w->latency) continue;
        for (int k = 0; k < w->latency->nev; k++) {
            int j = 0;
            while (j < n && strcmp(names[j], w->latency->ev[k].name)) j++;
            if (j == n && n < LAT_MAX_EVENTS) names[n++] = w->latency->ev[k].name;
        }
    }
    return n;
}

/* Sum of every worker's histogram for one command into out (emptied
 * first); 0 when no worker has one. */
static int merged_hist(int id, cb_hist *out) {
    int found = 0;
    hist_reset(out);
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w || !w->latency || !w->latency->hist || !w->latency->hist[id]) continue;
        found = 1;
        hist_merge(out, w->latency->hist[id]);
    }
    return found;
}

/* ----------------------------------------------------------------- INFO */

cbstr latency_info(cbstr s) {
    cb_hist *h = cb_calloc(sizeof(*h));
    for (int id = 0; id < command_ids(); id++) {
        const cb_command *cmd = command_by_id(id);
        if (!cmd || !merged_hist(id, h)) continue;
        s = cbstr_catfmt(s, "latency_percentiles_usec_%s:", command_fullname(cmd));
        for (int i = 0; i < g_config.latency_npercentiles; i++) {
            double p = g_config.latency_percentiles[i];
            char name[64];
            int n = snprintf(name, sizeof name, "%f", p);
            while (n > 1 && name[n - 1] == '0') name[--n] = '\0';
            if (n > 1 && name[n - 1] == '.') name[--n] = '\0';
            s = cbstr_catfmt(s, "%sp%s=%.3f", i ? "," : "", name,
                             (double)hist_value_at_percentile(h, p) / 1000.0);
        }
        s = cbstr_cat(s, "\r\n", 2);
    }
    hist_reset(h);
    cb_free(h);
    return s;
}

/* ----------------------------------------------------------- control port */

void latency_visit_latest(void (*fn)(void *, const char *, long long, long long, long long),
                          void *priv) {
    const char *names[LAT_MAX_EVENTS];
    int n = event_names(names);
    lat_sample *buf = cb_malloc(sizeof(lat_sample) * LAT_SAMPLES);
    for (int i = 0; i < n; i++) {
        long long max;
        int k = merged_series(names[i], buf, &max);
        fn(priv, names[i], k > 0 ? buf[k - 1].time : 0, k > 0 ? buf[k - 1].ms : 0, max);
    }
    cb_free(buf);
}

void latency_visit_histograms(void (*fn)(void *, const char *, const cb_hist *), void *priv) {
    cb_hist *h = cb_calloc(sizeof(*h));
    for (int id = 0; id < command_ids(); id++) {
        const cb_command *cmd = command_by_id(id);
        if (!cmd || !merged_hist(id, h)) continue;
        fn(priv, command_fullname(cmd), h);
    }
    hist_reset(h);
    cb_free(h);
}

/* --------------------------------------------------------------- LATENCY */

void cmd_latency_latest(cb_client *c) {
    const char *names[LAT_MAX_EVENTS];
    int n = event_names(names);
    lat_sample *buf = cb_malloc(sizeof(lat_sample) * LAT_SAMPLES);
    reply_array_len(c, n);
    for (int i = 0; i < n; i++) {
        long long max;
        int k = merged_series(names[i], buf, &max);
        reply_array_len(c, 4);
        reply_bulk_cstr(c, names[i]);
        reply_int(c, k > 0 ? buf[k - 1].time : 0);
        reply_int(c, k > 0 ? buf[k - 1].ms : 0);
        reply_int(c, max);
    }
    cb_free(buf);
}

void cmd_latency_history(cb_client *c) {
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(c->argv_len[2] < 63 ? c->argv_len[2] : 63),
             c->argv[2]);
    lat_sample *buf = cb_malloc(sizeof(lat_sample) * LAT_SAMPLES);
    long long max;
    int k = c->argv_len[2] < 63 ? merged_series(name, buf, &max) : -1;
    if (k < 0) k = 0;
    reply_array_len(c, k);
    for (int i = 0; i < k; i++) {
        reply_array_len(c, 2);
        reply_int(c, buf[i].time);
        reply_int(c, buf[i].ms);
    }
    cb_free(buf);
}

/* Drop an event from every worker; 1 if any had it. */
static int reset_event(const char *name, size_t len) {
    int found = 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w || !w->latency) continue;
        cb_latency *l = w->latency;
        for (int k = 0; k < l->nev; k++) {
            if (strlen(l->ev[k].name) != len || memcmp(l->ev[k].name, name, len)) continue;
            found = 1;
            memmove(&l->ev[k], &l->ev[k + 1], sizeof(lat_series) * (size_t)(l->nev - k - 1));
            l->nev--;
            break;
        }
    }
    return found;
}

void cmd_latency_reset(cb_client *c) {
    long long n = 0;
    if (c->argc == 2) {
        const char *names[LAT_MAX_EVENTS];
        int k = event_names(names);
        for (int i = 0; i < k; i++) n += reset_event(names[i], strlen(names[i]));
    } else {
        for (int i = 2; i < c->argc; i++) n += reset_event(c->argv[i], c->argv_len[i]);
    }
    reply_int(c, n);
}

void cmd_latency_graph(cb_client *c) {
    char name[64];
    lat_sample *buf = cb_malloc(sizeof(lat_sample) * LAT_SAMPLES);
    long long max;
    int k = -1;
    if (c->argv_len[2] < sizeof(name)) {
        memcpy(name, c->argv[2], c->argv_len[2]);
        name[c->argv_len[2]] = '\0';
        k = merged_series(name, buf, &max);
    }
    if (k <= 0) {
        reply_errorf(c, "No samples available for event '%.*s'", (int)c->argv_len[2],
                     c->argv[2]);
        cb_free(buf);
        return;
    }
    lat_event_view ev = {name, buf, k, max};
    cbstr s = latency_report_graph(cbstr_with_cap(1024), &ev, util_ustime() / 1000000);
    reply_verbatim(c, s, cbstr_len(s), "txt");
    cbstr_free(s);
    cb_free(buf);
}

void cmd_latency_doctor(cb_client *c) {
    const char *names[LAT_MAX_EVENTS];
    int n = event_names(names);
    cbstr s = cbstr_with_cap(1024);
    if (n == 0 && g_config.latency_monitor_threshold == 0) {
        s = cbstr_catfmt(s, "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in "
                            "this Redis instance. You may use \"CONFIG SET "
                            "latency-monitor-threshold <milliseconds>.\" in order to enable it. "
                            "If we weren't in a deep space mission I'd suggest to take a look at "
                            "https://redis.io/topics/latency-monitor.\n");
    } else if (n == 0) {
        s = cbstr_catfmt(s, "Dave, no latency spike was observed during the lifetime of this "
                            "Redis instance, not in the slightest bit. I honestly think you "
                            "ought to sit down calmly, take a stress pill, and think things "
                            "over.\n");
    } else {
        lat_sample *buf = cb_malloc(sizeof(lat_sample) * LAT_SAMPLES * (size_t)n);
        lat_event_view ev[LAT_MAX_EVENTS];
        int m = 0;
        for (int i = 0; i < n; i++) {
            long long max;
            int k = merged_series(names[i], buf + (size_t)m * LAT_SAMPLES, &max);
            if (k <= 0) continue;
            ev[m] = (lat_event_view){names[i], buf + (size_t)m * LAT_SAMPLES, k, max};
            m++;
        }
        if (m) s = latency_report_doctor(s, ev, m, util_ustime() / 1000000);
        cb_free(buf);
    }
    reply_verbatim(c, s, cbstr_len(s), "txt");
    cbstr_free(s);
}

static void histogram_entry(cb_client *c, const cb_command *cmd, const cb_hist *h) {
    int64_t bound[64];
    uint64_t cum[64];
    int n = hist_log_levels(h, 1024, bound, cum, 64);
    reply_bulk_cstr(c, command_fullname(cmd));
    reply_map_len(c, 2);
    reply_bulk_cstr(c, "calls");
    reply_int(c, (long long)h->total);
    reply_bulk_cstr(c, "histogram_usec");
    reply_map_len(c, n);
    for (int i = 0; i < n; i++) {
        reply_int(c, (long long)(bound[i] / 1000));
        reply_int(c, (long long)cum[i]);
    }
}

void cmd_latency_histogram(cb_client *c) {
    cb_hist *h = cb_calloc(sizeof(*h));
    void *len = reply_deferred_len(c);
    long n = 0;
    if (c->argc == 2) {
        for (int id = 0; id < command_ids(); id++) {
            const cb_command *cmd = command_by_id(id);
            if (!cmd || !merged_hist(id, h)) continue;
            histogram_entry(c, cmd, h);
            n++;
        }
    } else {
        for (int i = 2; i < c->argc; i++) {
            const cb_command *cmd = command_lookup_fullname(c->argv[i], c->argv_len[i]);
            if (!cmd) continue;
            if (merged_hist(cmd->id, h)) {
                histogram_entry(c, cmd, h);
                n++;
            }
            for (int k = 0; k < cmd->nsub; k++) {
                const cb_command *sub = &cmd->subcommands[k];
                if (!merged_hist(sub->id, h)) continue;
                histogram_entry(c, sub, h);
                n++;
            }
        }
    }
    reply_set_deferred_len(c, len, n, 'm');
    hist_reset(h);
    cb_free(h);
}

void cmd_latency_help(cb_client *c) {
    static const char *const help[] = {
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for "
        "the specified command names.",
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, help);
}
