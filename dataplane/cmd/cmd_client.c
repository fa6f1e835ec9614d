/* cmd_client.c — CLIENT subcommands: ID, SETNAME, GETNAME, LIST, INFO, KILL,
 * REPLY, PAUSE, UNPAUSE, NO-EVICT, HELP. Client lists cover every worker;
 * another worker's clients are only read (ids, addresses) and killed by
 * flag, which their owner acts on at its next flush.
 */
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "../acl.h"
#include "../client.h"
#include "../blocking.h"
#include "../conn.h"
#include "../worker.h"
#include "../resp/reply.h"
#include "../../mgmt/repl.h"
#include "../../mgmt/replica.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

void cmd_client_id(cb_client *c) { reply_int(c, (long long)c->id); }

static int valid_name(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] < '!' || p[i] > '~') return 0;
    return 1;
}

void cmd_client_setname(cb_client *c) {
    if (!valid_name(c->argv[2], c->argv_len[2])) {
        reply_error(c, "Client names cannot contain spaces, newlines or special characters.");
        return;
    }
    cb_free(c->name);
    c->name = c->argv_len[2] ? cb_memdup(c->argv[2], c->argv_len[2]) : NULL;
    reply_ok(c);
}

void cmd_client_getname(cb_client *c) {
    if (c->name)
        reply_bulk_cstr(c, c->name);
    else
        reply_null(c);
}

void cmd_client_info(cb_client *c) {
    char *line = client_info_line(c);
    size_t n = strlen(line);
    line = cb_realloc(line, n + 2);
    line[n] = '\n';
    reply_verbatim(c, line, n + 1, "txt");
    cb_free(line);
}

static int type_known(const char *p, size_t n, int *is_normal) {
    *is_normal = util_eq_nocase(p, n, "normal");
    return *is_normal || util_eq_nocase(p, n, "master") || util_eq_nocase(p, n, "replica") ||
           util_eq_nocase(p, n, "slave") || util_eq_nocase(p, n, "pubsub");
}

static void append_text(char **out, size_t *len, size_t *cap, const char *p, size_t n) {
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *out = cb_realloc(*out, *cap);
    }
    memcpy(*out + *len, p, n);
    *len += n;
}

void cmd_client_list(cb_client *c) {
    int only_normal = -1; /* -1: all types */
    unsigned long long *ids = NULL;
    int nids = 0;
    if (c->argc == 4 && arg_eq(c, 2, "type")) {
        int normal;
        if (!type_known(c->argv[3], c->argv_len[3], &normal)) {
            reply_errorf(c, "Unknown client type '%.*s'", (int)c->argv_len[3], c->argv[3]);
            return;
        }
        only_normal = normal;
    } else if (c->argc > 3 && arg_eq(c, 2, "id")) {
        ids = cb_malloc(sizeof(*ids) * (size_t)(c->argc - 3));
        for (int i = 3; i < c->argc; i++) {
            long long v;
            if (!util_str2ll(c->argv[i], c->argv_len[i], &v) || v < 0) {
                reply_error(c, "Invalid client ID");
                cb_free(ids);
                return;
            }
            ids[nids++] = (unsigned long long)v;
        }
    } else if (c->argc != 2) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    char *out = NULL;
    size_t len = 0, cap = 0;
    /* Our master's link (mgmt/replica.c), placed by its id among the
     * others, as Redis lists its master client in creation order. */
    int want_master = only_normal == -1 || (c->argc == 4 && arg_eq(c, 3, "master"));
    cbstr mline = want_master ? replica_client_list(cbstr_new("", 0), nids, ids) : NULL;
    unsigned long long mid = mline && cbstr_len(mline) ? replica_master_client_id() : 0;
    if (mline && !cbstr_len(mline)) {
        cbstr_free(mline);
        mline = NULL;
    }
    for (int wi = 0; wi < g_server.nworkers; wi++) {
        /* Other workers are parked while this runs (xshard ROUTE_ALL). */
        cb_worker *w = g_server.workers[wi];
        /* Oldest first, as Redis lists them: walk to the tail, then back. */
        cb_client *t = w->clients;
        while (t && t->next) t = t->next;
        for (; t; t = t->prev) {
            if (only_normal == 0) continue; /* replicas and the master are listed apart */
            if (nids) {
                int hit = 0;
                for (int i = 0; i < nids; i++) hit |= ids[i] == t->id;
                if (!hit) continue;
            }
            if (mline && t->id > mid) {
                append_text(&out, &len, &cap, mline, cbstr_len(mline));
                cbstr_free(mline);
                mline = NULL;
            }
            char *line = client_info_line(t);
            size_t n = strlen(line);
            append_text(&out, &len, &cap, line, n);
            append_text(&out, &len, &cap, "\n", 1);
            cb_free(line);
        }
    }
    if (mline) {
        append_text(&out, &len, &cap, mline, cbstr_len(mline));
        cbstr_free(mline);
    }
    /* Replicas live on the management thread (mgmt/repl.c). */
    if (only_normal != 1) {
        int want_rep = only_normal == -1 ||
                       (c->argc == 4 && (arg_eq(c, 3, "replica") || arg_eq(c, 3, "slave")));
        cbstr reps = want_rep ? repl_client_list(cbstr_new("", 0), nids, ids) : NULL;
        if (reps && cbstr_len(reps)) {
            out = cb_realloc(out, len + cbstr_len(reps) + 1);
            memcpy(out + len, reps, cbstr_len(reps));
            len += cbstr_len(reps);
        }
        if (reps) cbstr_free(reps);
    }
    reply_verbatim(c, out ? out : "", len, "txt");
    cb_free(out);
    cb_free(ids);
}

/* Match one client against CLIENT KILL filters. */
typedef struct kill_filter {
    unsigned long long id;
    const char *addr, *laddr, *user;
    size_t addr_len, laddr_len, user_len;
    int type; /* -1 any, 1 normal, 2 replica, 0 other types (never match) */
    int skipme;
} kill_filter;

static int kill_matches(const kill_filter *f, cb_client *me, cb_client *t) {
    if (t->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSED)) return 0;
    if (f->skipme && t == me) return 0;
    if (f->id && t->id != f->id) return 0;
    if (f->addr && !(strlen(t->addr) == f->addr_len && !memcmp(t->addr, f->addr, f->addr_len)))
        return 0;
    if (f->laddr &&
        !(strlen(t->laddr) == f->laddr_len && !memcmp(t->laddr, f->laddr, f->laddr_len)))
        return 0;
    if (f->user && acl_lookup_user(f->user, f->user_len) != (t->user ? t->user : acl_default_user()))
        return 0;
    if (f->type == 0 || f->type == 2 || f->type == 3) return 0;
    return 1;
}

/* Other workers are parked while this runs (xshard ROUTE_ALL), so their
 * clients can be flagged; each owner closes its own at its next flush. */
static int kill_clients(cb_client *c, const kill_filter *f) {
    int killed = 0;
    /* Replicas (mgmt/repl.c): matched by id, addresses and type. */
    if ((f->type == -1 || f->type == 2) && !f->user)
        killed += repl_kill(f->id, f->addr, f->addr_len, f->laddr, f->laddr_len);
    /* Our own master's link (mgmt/replica.c): by type, id and addresses;
     * it has no user (Redis prints "(superuser)"), so a USER filter skips it. */
    if ((f->type == -1 || f->type == 3) && !f->user)
        killed += replica_kill_link(f->id, f->addr, f->addr_len, f->laddr, f->laddr_len);
    for (int wi = 0; wi < g_server.nworkers; wi++) {
        cb_client *next;
        for (cb_client *t = g_server.workers[wi]->clients; t; t = next) {
            next = t->next;
            if (!kill_matches(f, c, t)) continue;
            killed++;
            if (t == c)
                c->flags |= CLIENT_CLOSE_AFTER_REPLY;
            else
                conn_close_async(t);
        }
    }
    return killed;
}

void cmd_client_kill(cb_client *c) {
    kill_filter f;
    memset(&f, 0, sizeof(f));
    f.type = -1;
    if (c->argc == 3) {
        /* Old form: CLIENT KILL ip:port, an error when nobody matches. */
        f.addr = c->argv[2];
        f.addr_len = c->argv_len[2];
        if (kill_clients(c, &f) == 0) {
            reply_error(c, "No such client");
            return;
        }
        reply_ok(c);
        return;
    }
    if ((c->argc - 2) % 2 != 0) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    f.skipme = 1;
    for (int i = 2; i < c->argc; i += 2) {
        const char *v = c->argv[i + 1];
        size_t vl = c->argv_len[i + 1];
        if (arg_eq(c, i, "id")) {
            long long id;
            if (!util_str2ll(v, vl, &id) || id <= 0) {
                reply_error(c, "client-id should be greater than 0");
                return;
            }
            f.id = (unsigned long long)id;
        } else if (arg_eq(c, i, "type")) {
            int normal;
            if (!type_known(v, vl, &normal)) {
                reply_errorf(c, "Unknown client type '%.*s'", (int)vl, v);
                return;
            }
            f.type = normal ? 1 : (util_eq_nocase(v, vl, "replica") || util_eq_nocase(v, vl, "slave")) ? 2 : 0;
            if (util_eq_nocase(v, vl, "master")) f.type = 3;
        } else if (arg_eq(c, i, "addr")) {
            f.addr = v;
            f.addr_len = vl;
        } else if (arg_eq(c, i, "laddr")) {
            f.laddr = v;
            f.laddr_len = vl;
        } else if (arg_eq(c, i, "user")) {
            if (!acl_lookup_user(v, vl)) {
                reply_errorf(c, "No such user '%.*s'", (int)vl, v);
                return;
            }
            f.user = v;
            f.user_len = vl;
        } else if (arg_eq(c, i, "skipme")) {
            if (util_eq_nocase(v, vl, "yes"))
                f.skipme = 1;
            else if (util_eq_nocase(v, vl, "no"))
                f.skipme = 0;
            else {
                reply_error(c, ERR_SYNTAX);
                return;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    reply_int(c, kill_clients(c, &f));
}

void cmd_client_reply(cb_client *c) {
    if (arg_eq(c, 2, "on")) {
        c->flags &= ~(CLIENT_REPLY_SKIP | CLIENT_REPLY_OFF);
        reply_ok(c);
    } else if (arg_eq(c, 2, "off")) {
        c->flags |= CLIENT_REPLY_OFF;
    } else if (arg_eq(c, 2, "skip")) {
        if (!(c->flags & CLIENT_REPLY_OFF)) c->flags |= CLIENT_REPLY_SKIP_NEXT;
    } else {
        reply_error(c, ERR_SYNTAX);
    }
}

void cmd_client_pause(cb_client *c) {
    long long ms;
    int all = 1;
    if (!util_str2ll(c->argv[2], c->argv_len[2], &ms)) {
        reply_error(c, "timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        reply_error(c, "timeout is negative");
        return;
    }
    if (c->argc == 4) {
        if (arg_eq(c, 3, "write"))
            all = 0;
        else if (arg_eq(c, 3, "all"))
            all = 1;
        else {
            reply_error(c, "CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    } else if (c->argc > 4) {
        reply_subcommand_syntax(c);
        return;
    }
    long long end = util_mstime() + ms;
    /* A pause never shortens an ALL pause already in force (Redis keeps the
     * stricter, longer one). */
    long long cur = __atomic_load_n(&g_server.pause_end_ms, __ATOMIC_RELAXED);
    int cur_all = __atomic_load_n(&g_server.pause_all, __ATOMIC_RELAXED);
    if (cur && cur > util_mstime()) {
        if (cur_all && !all) {
            reply_ok(c);
            return;
        }
        if (end < cur && cur_all == all) end = cur;
    }
    __atomic_store_n(&g_server.pause_all, all, __ATOMIC_RELAXED);
    __atomic_store_n(&g_server.pause_end_ms, end, __ATOMIC_RELAXED);
    reply_ok(c);
}

void cmd_client_unpause(cb_client *c) {
    __atomic_store_n(&g_server.pause_end_ms, 0, __ATOMIC_RELAXED);
    reply_ok(c);
}

void cmd_client_no_evict(cb_client *c) {
    if (arg_eq(c, 2, "on")) {
        c->flags |= CLIENT_NO_EVICT;
        client_mem_update(c);
        reply_ok(c);
    } else if (arg_eq(c, 2, "off")) {
        c->flags &= ~CLIENT_NO_EVICT;
        client_mem_update(c);
        reply_ok(c);
    } else {
        reply_error(c, ERR_SYNTAX);
    }
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR] — runs with the other workers parked. */
void cmd_client_unblock(cb_client *c) {
    long long id;
    int with_error = 0;
    if (c->argc > 4) {
        reply_subcommand_syntax(c);
        return;
    }
    /* The reason is checked before the id, as Redis does. */
    if (c->argc == 4) {
        if (arg_eq(c, 3, "timeout"))
            with_error = 0;
        else if (arg_eq(c, 3, "error"))
            with_error = 1;
        else {
            reply_error(c, "CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    }
    if (arg_ll(c, 2, &id, NULL) != 0) return;
    reply_int(c, id > 0 && blocking_unblock_by_id((uint64_t)id, with_error) ? 1 : 0);
}

void cmd_client_help(cb_client *c) {
    static const char *const help[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "HELP",
        "    Prints this help.",
        NULL};
    reply_help(c, help);
}
