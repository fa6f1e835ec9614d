/* slowlog.c — slow log entries and the SLOWLOG command (see slowlog.h).
 *
 * An entry is what Redis 7.0 records: a process-wide increasing id, the
 * unix time, the duration in microseconds, the arguments (at most 32, the
 * last standing for the rest as "... (N more arguments)"; each at most
 * 128 bytes, then "... (N more bytes)"), the client's address and name.
 * Secrets are replaced by "(redacted)" before they are stored, as Redis
 * does (AUTH, HELLO AUTH, ACL SETUSER, CONFIG SET of a password directive).
 */
#include "slowlog.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/command.h"
#include "resp/reply.h"
#include "worker.h"
#include "../platform/config.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/ds/cbstr.h"

#define SLOWLOG_MAX_ARGC 32
#define SLOWLOG_MAX_ARGLEN 128

typedef struct slow_entry {
    struct slow_entry *newer, *older;
    uint64_t id;
    long long time, duration;
    int argc;
    cbstr *argv;
    cbstr peer, cname;
} slow_entry;

typedef struct cb_slowlog {
    slow_entry *newest, *oldest;
    long long len;
} cb_slowlog;

static const char *const redacted = "(redacted)";

/* Whether argument i of the command must not be stored. */
static int is_secret(const cb_client *c, int i) {
    const char *name = command_fullname(c->cmd);
    if (!strcmp(name, "auth")) return i >= 1;
    if (!strcmp(name, "acl|setuser")) return i >= 2; /* user and rules, as Redis */
    if (!strcmp(name, "hello")) {
        /* HELLO [protover [AUTH user pass] [SETNAME name]] */
        for (int j = 2; j < c->argc; j++) {
            if (arg_eq(c, j, "auth") && j + 2 < c->argc) {
                if (i == j + 1 || i == j + 2) return 1;
                j += 2;
            } else if (arg_eq(c, j, "setname")) {
                j++;
            }
        }
        return 0;
    }
    if (!strcmp(name, "config|set") && i >= 3 && (i % 2) == 1)
        return arg_eq(c, i - 1, "requirepass") || arg_eq(c, i - 1, "masterauth");
    return 0;
}

static void entry_free(slow_entry *e) {
    for (int i = 0; i < e->argc; i++) cbstr_free(e->argv[i]);
    cb_free(e->argv);
    cbstr_free(e->peer);
    cbstr_free(e->cname);
    cb_free(e);
}

static slow_entry *entry_new(cb_client *c, long long dur_us) {
    slow_entry *e = cb_calloc(sizeof(*e));
    e->id = __atomic_fetch_add(&g_server.slowlog_next_id, 1, __ATOMIC_RELAXED);
    e->time = util_ustime() / 1000000;
    e->duration = dur_us;
    e->argc = c->argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : c->argc;
    e->argv = cb_malloc(sizeof(cbstr) * (size_t)e->argc);
    for (int i = 0; i < e->argc; i++) {
        if (c->argc > SLOWLOG_MAX_ARGC && i == SLOWLOG_MAX_ARGC - 1) {
            e->argv[i] = cbstr_catfmt(cbstr_with_cap(32), "... (%d more arguments)",
                                      c->argc - SLOWLOG_MAX_ARGC + 1);
        } else if (i > 0 && is_secret(c, i)) {
            e->argv[i] = cbstr_new(redacted, strlen(redacted));
        } else if (c->argv_len[i] > SLOWLOG_MAX_ARGLEN) {
            e->argv[i] = cbstr_new(c->argv[i], SLOWLOG_MAX_ARGLEN);
            e->argv[i] = cbstr_catfmt(e->argv[i], "... (%zu more bytes)",
                                      c->argv_len[i] - SLOWLOG_MAX_ARGLEN);
        } else {
            e->argv[i] = cbstr_new(c->argv[i], c->argv_len[i]);
        }
    }
    /* A script's own client has no address: Redis prints "?:0". */
    e->peer = (c->flags & CLIENT_SCRIPT) ? cbstr_new("?:0", 3) : cbstr_new(c->addr, strlen(c->addr));
    e->cname = c->name ? cbstr_new(c->name, strlen(c->name)) : cbstr_new("", 0);
    return e;
}

static void trim(cb_slowlog *l, long long max) {
    while (l->len > max && l->oldest) {
        slow_entry *e = l->oldest;
        l->oldest = e->newer;
        if (l->oldest)
            l->oldest->older = NULL;
        else
            l->newest = NULL;
        entry_free(e);
        l->len--;
    }
}

void slowlog_maybe_record(cb_client *c, long long dur_us) {
    long long limit = g_config.slowlog_log_slower_than;
    if (limit < 0 || dur_us < limit || !c->w) return;
    cb_worker *w = c->w;
    if (!w->slowlog) w->slowlog = cb_calloc(sizeof(cb_slowlog));
    cb_slowlog *l = w->slowlog;
    slow_entry *e = entry_new(c, dur_us);
    e->older = l->newest;
    if (l->newest) l->newest->newer = e;
    l->newest = e;
    if (!l->oldest) l->oldest = e;
    l->len++;
    trim(l, g_config.slowlog_max_len);
}

void slowlog_free(cb_worker *w) {
    if (!w->slowlog) return;
    trim(w->slowlog, 0);
    cb_free(w->slowlog);
    w->slowlog = NULL;
}

/* ---------------------------------------------------------------- SLOWLOG */

static int by_id_desc(const void *a, const void *b) {
    uint64_t x = (*(slow_entry *const *)a)->id, y = (*(slow_entry *const *)b)->id;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Every worker's entries, newest first, at most slowlog-max-len of them
 * (each worker keeps that many; together they could hold more). */
static slow_entry **merged(long long *n) {
    long long total = 0;
    for (int i = 0; i < g_server.nworkers; i++)
        if (g_server.workers[i] && g_server.workers[i]->slowlog)
            total += g_server.workers[i]->slowlog->len;
    slow_entry **all = cb_malloc(sizeof(*all) * (size_t)(total ? total : 1));
    long long k = 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w || !w->slowlog) continue;
        for (slow_entry *e = w->slowlog->newest; e; e = e->older) all[k++] = e;
    }
    qsort(all, (size_t)k, sizeof(*all), by_id_desc);
    if (k > g_config.slowlog_max_len) k = g_config.slowlog_max_len;
    *n = k;
    return all;
}

void cmd_slowlog_get(cb_client *c) {
    long long count = 10;
    if (c->argc > 3) {
        reply_subcommand_syntax(c);
        return;
    }
    if (c->argc == 3) {
        if (!util_str2ll(c->argv[2], c->argv_len[2], &count) || count < -1) {
            reply_error(c, "count should be greater than or equal to -1");
            return;
        }
        if (count == -1) count = LLONG_MAX;
    }
    long long n;
    slow_entry **all = merged(&n);
    if (count < n) n = count;
    reply_array_len(c, n);
    for (long long i = 0; i < n; i++) {
        slow_entry *e = all[i];
        reply_array_len(c, 6);
        reply_int(c, (long long)e->id);
        reply_int(c, e->time);
        reply_int(c, e->duration);
        reply_array_len(c, e->argc);
        for (int j = 0; j < e->argc; j++) reply_bulk(c, e->argv[j], cbstr_len(e->argv[j]));
        reply_bulk(c, e->peer, cbstr_len(e->peer));
        reply_bulk(c, e->cname, cbstr_len(e->cname));
    }
    cb_free(all);
}

void slowlog_visit(long long count, void (*fn)(void *, const slowlog_view *), void *priv) {
    long long n;
    slow_entry **all = merged(&n);
    if (count >= 0 && count < n) n = count;
    for (long long i = 0; i < n; i++) {
        slow_entry *e = all[i];
        slowlog_view v = { e->id, e->time, e->duration, e->argc, e->argv, e->peer, e->cname };
        fn(priv, &v);
    }
    cb_free(all);
}

void cmd_slowlog_len(cb_client *c) {
    long long n;
    cb_free(merged(&n));
    reply_int(c, n);
}

void cmd_slowlog_reset(cb_client *c) {
    for (int i = 0; i < g_server.nworkers; i++)
        if (g_server.workers[i] && g_server.workers[i]->slowlog)
            trim(g_server.workers[i]->slowlog, 0);
    reply_ok(c);
}

void cmd_slowlog_help(cb_client *c) {
    static const char *const help[] = {
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, help);
}
