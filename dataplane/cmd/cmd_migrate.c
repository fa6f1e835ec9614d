/* cmd_migrate.c — MIGRATE host port key|"" destination-db timeout [COPY]
 * [REPLACE] [AUTH password] [AUTH2 username password] [KEYS key ...], with
 * Redis 7.0's options, replies and errors, moving values as DUMP payloads
 * in RESTORE commands (the same encoders as DUMP, persist/cmd_dump.c).
 *
 * Redis blocks its whole server while it migrates. Here only the calling
 * client waits (held == 5, its later input kept): the handler serializes
 * the keys at once, queues AUTH / SELECT / RESTOREs on a link to the target
 * (outconn.h: a kernel socket or our own stack's active open) and returns;
 * the worker goes on serving everyone else. When every reply is in, the
 * acknowledged keys are deleted here (unless COPY; the AOF gets their DEL,
 * as Redis propagates MIGRATE) and the client gets its reply.
 *
 * Links are cached per "host:port" (at most 64, closed after 10 s idle, as
 * Redis's socket cache), remember the target's selected db, and carry one
 * migration at a time; others queue behind it. A failure on a link before
 * any RESTORE was answered is retried once on a fresh connection (unless it
 * was a timeout), as Redis does. The timeout bounds the connect and every
 * wait for progress. A migration that ends while a busy script polls the
 * network is finished by migrate_cron after the script (the keyspace must
 * not change under it). Design: docs/tcp-stack.md ("Active open", MIGRATE).
 */
#include "migrate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../client.h"
#include "../conn.h"
#include "../outconn.h"
#include "../propagate.h"
#include "../worker.h"
#include "../xshard.h"
#include "../resp/reply.h"
#include "../../persist/rdb.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"
#include "../../store/db.h"
#include "../../store/notify.h"
#include "../../store/object.h"

#define MIGRATE_LINKS_MAX 64
#define MIGRATE_LINK_TTL_MS 10000
#define MIGRATE_HELD 5           /* cb_client.held: waiting for its migration */
#define REPLY_LINE_MAX 1024      /* Redis reads each reply line into 1 KB */

typedef struct mig_op mig_op;

typedef struct mig_link {
    struct mig_link *next;
    char *target;                /* "host:port" as the client wrote it */
    char *host;
    int port;
    cb_outconn *oc;              /* NULL: not connected */
    int last_dbid;               /* selected on the target; -1 unknown */
    long long last_use_ms;
    mig_op *cur;                 /* in flight */
    mig_op *qhead, *qtail;       /* waiting */
    char line[REPLY_LINE_MAX];   /* reply line being read */
    size_t llen;
    int overlong;                /* the line outgrew the buffer: rest dropped */
} mig_link;

struct mig_op {
    mig_op *next;
    cb_client *c;                /* NULL once the client is gone */
    cb_worker *w;
    mig_link *link;
    int dbid, srcdb;
    int copy, replace;
    long long timeout_ms;
    char *user, *pass;           /* AUTH / AUTH2; NULL when absent */
    int nkeys;
    cbstr *keys;
    cbstr body;                  /* the RESTORE commands */
    /* Progress of the current attempt. */
    int sent_auth, sent_select;
    int expect, got;
    int auth_err, select_err;    /* their replies were errors */
    int target_err;              /* the error reply Redis would report, in errmsg */
    char errmsg[REPLY_LINE_MAX];
    char auth_msg[REPLY_LINE_MAX], select_msg[REPLY_LINE_MAX];
    unsigned char *ok;           /* per key: the target acknowledged it */
    int retried;
    /* Over while a busy script polled the network: the keys must not
     * change under the script, so migrate_cron finishes it afterwards. */
    int deferred;
    char *deferred_err;
};

typedef struct cb_migrate {
    mig_link *links;
    int nlinks;
} cb_migrate;

static const cb_outconn_cb link_cb;

/* ---------------------------------------------------------------- links */

static cb_migrate *state(cb_worker *w) {
    if (!w->migrate) w->migrate = cb_calloc(sizeof(cb_migrate));
    return w->migrate;
}

static void link_disconnect(mig_link *l) {
    if (l->oc) outconn_close(l->oc);
    l->oc = NULL;
    l->last_dbid = -1;
    l->llen = 0;
    l->overlong = 0;
}

static void link_free(cb_migrate *m, mig_link *l) {
    mig_link **pp = &m->links;
    while (*pp && *pp != l) pp = &(*pp)->next;
    if (*pp) *pp = l->next;
    m->nlinks--;
    link_disconnect(l);
    cb_free(l->target);
    cb_free(l->host);
    cb_free(l);
}

static mig_link *link_get(cb_worker *w, const char *host, size_t hlen, const char *port,
                          size_t plen) {
    cb_migrate *m = state(w);
    char *target = cb_malloc(hlen + plen + 2);
    memcpy(target, host, hlen);
    target[hlen] = ':';
    memcpy(target + hlen + 1, port, plen);
    target[hlen + plen + 1] = '\0';
    for (mig_link *l = m->links; l; l = l->next) {
        if (strcmp(l->target, target) == 0) {
            cb_free(target);
            return l;
        }
    }
    if (m->nlinks >= MIGRATE_LINKS_MAX) {
        /* Full: an idle link makes room, as Redis drops a random one. */
        for (mig_link *l = m->links; l; l = l->next) {
            if (!l->cur && !l->qhead) {
                link_free(m, l);
                break;
            }
        }
    }
    mig_link *l = cb_calloc(sizeof(*l));
    l->target = target;
    l->host = cb_malloc(hlen + 1);
    memcpy(l->host, host, hlen);
    l->host[hlen] = '\0';
    char pbuf[32];
    snprintf(pbuf, sizeof(pbuf), "%.*s", (int)(plen < 31 ? plen : 31), port);
    l->port = atoi(pbuf); /* as Redis: a bad port fails the connect */
    l->last_dbid = -1;
    l->next = m->links;
    m->links = l;
    m->nlinks++;
    return l;
}

/* ------------------------------------------------------------ operations */

static void op_free(mig_op *op) {
    for (int i = 0; i < op->nkeys; i++) cbstr_free(op->keys[i]);
    cb_free(op->keys);
    cbstr_free(op->body);
    cb_free(op->ok);
    cb_free(op->user);
    cb_free(op->pass);
    cb_free(op->deferred_err);
    cb_free(op);
}

static cb_shard *key_owner(cb_worker *w, const char *k, size_t len) {
    int n = g_server.nworkers;
    if (n <= 1) return w->shard;
    return g_server.workers[util_key_slot(k, len) % (unsigned)n]->shard;
}

/* Delete the acknowledged keys (not with COPY) and record their DEL. */
static void op_delete_acked(mig_op *op) {
    if (op->copy) return;
    int n = 0;
    for (int i = 0; i < op->nkeys; i++) n += op->ok[i];
    if (!n) return;
    int park = g_server.nworkers > 1;
    if (park) xshard_park_others(op->w);
    const char **argv = cb_malloc(sizeof(char *) * (size_t)(n + 1));
    size_t *lens = cb_malloc(sizeof(size_t) * (size_t)(n + 1));
    int argc = 0;
    argv[argc] = "DEL";
    lens[argc++] = 3;
    long long now = util_mstime();
    for (int i = 0; i < op->nkeys; i++) {
        if (!op->ok[i]) continue;
        const char *k = op->keys[i];
        size_t kl = cbstr_len(op->keys[i]);
        cb_shard *s = key_owner(op->w, k, kl);
        shard_set_time(s, now);
        cb_db *db = &s->dbs[op->srcdb];
        if (db_delete(s, db, k, kl)) {
            db_signal_modified(s, db, k, kl);
            notify_keyspace_event(s, db, NOTIFY_GENERIC, "del", k, kl);
            s->dirty++;
        }
        argv[argc] = k;
        lens[argc++] = kl;
    }
    prop_add(op->srcdb, argc, argv, lens);
    cb_free(argv);
    cb_free(lens);
    if (park) xshard_release(op->w);
}

/* The migration is over: the client (if still there) gets its reply and
 * goes on with the input that waited. */
static void op_reply(mig_op *op, const char *err) {
    cb_client *c = op->c;
    if (!c) return;
    op->c = NULL;
    if (err) reply_error(c, err);
    else reply_ok(c);
    c->held = 0;
    /* Failed at once, inside the command itself: the dispatcher goes on
     * with the pipeline as after any command. */
    if (c->flags & CLIENT_IN_CALL) return;
    conn_continue(c);
}

static void link_next(mig_link *l);

static void op_finish(mig_op *op, const char *err) {
    mig_link *l = op->link;
    if (op->w->nested_poll) {
        op->deferred = 1;
        if (err) {
            size_t n = strlen(err);
            op->deferred_err = cb_malloc(n + 1);
            memcpy(op->deferred_err, err, n + 1);
        }
        if (l->oc) outconn_set_deadline(l->oc, 0);
        return;
    }
    op_delete_acked(op);
    op_reply(op, err);
    if (l->cur == op) l->cur = NULL;
    l->last_use_ms = util_mstime();
    if (l->oc) outconn_set_deadline(l->oc, 0);
    op_free(op);
    link_next(l);
}

static void wr_bulk(cb_outconn *oc, const char *p, size_t n) {
    char hdr[32];
    int hl = snprintf(hdr, sizeof(hdr), "$%zu\r\n", n);
    outconn_write(oc, hdr, (size_t)hl);
    outconn_write(oc, p, n);
    outconn_write(oc, "\r\n", 2);
}

/* Send the op's commands on the link (connecting first when needed). */
static void op_start(mig_op *op) {
    mig_link *l = op->link;
    l->cur = op;
    op->got = op->auth_err = op->select_err = op->target_err = 0;
    memset(op->ok, 0, (size_t)op->nkeys);
    if (!l->oc) {
        char err[256];
        l->llen = 0;
        l->overlong = 0;
        l->last_dbid = -1;
        l->oc = outconn_open(op->w, l->host, l->port, &link_cb, l, err, sizeof(err));
        if (!l->oc) {
            op_finish(op, "-IOERR error or timeout connecting to the client");
            return;
        }
    }
    cb_outconn *oc = l->oc;
    outconn_set_deadline(oc, util_mstime() + op->timeout_ms);
    op->sent_auth = op->pass != NULL;
    if (op->pass) {
        outconn_write(oc, op->user ? "*3\r\n" : "*2\r\n", 4);
        wr_bulk(oc, "AUTH", 4);
        if (op->user) wr_bulk(oc, op->user, strlen(op->user));
        wr_bulk(oc, op->pass, strlen(op->pass));
    }
    op->sent_select = l->last_dbid != op->dbid;
    if (op->sent_select) {
        char db[24];
        int n = snprintf(db, sizeof(db), "%d", op->dbid);
        outconn_write(oc, "*2\r\n", 4);
        wr_bulk(oc, "SELECT", 6);
        wr_bulk(oc, db, (size_t)n);
    }
    op->expect = op->sent_auth + op->sent_select + op->nkeys;
    outconn_write(oc, op->body, cbstr_len(op->body));
}

static void link_next(mig_link *l) {
    if (l->cur || !l->qhead) return;
    mig_op *op = l->qhead;
    l->qhead = op->next;
    if (!l->qhead) l->qtail = NULL;
    op->next = NULL;
    op_start(op);
}

/* One reply line of the target, in the order the commands went out. */
static void op_line(mig_op *op, const char *line) {
    int idx = op->got++;
    int is_err = line[0] == '-';
    if (idx < op->sent_auth) {
        op->auth_err = is_err;
        if (is_err) snprintf(op->auth_msg, sizeof(op->auth_msg), "%s", line + 1);
    } else if (idx < op->sent_auth + op->sent_select) {
        op->select_err = is_err;
        if (is_err) snprintf(op->select_msg, sizeof(op->select_msg), "%s", line + 1);
    } else {
        int k = idx - op->sent_auth - op->sent_select;
        if (op->auth_err || op->select_err || is_err) {
            if (!op->target_err) {
                /* As Redis at the first failed RESTORE: AUTH's error wins,
                 * then SELECT's, then this one's. */
                const char *e = op->auth_err ? op->auth_msg : op->select_err ? op->select_msg
                                                                             : line + 1;
                op->target_err = 1;
                op->link->last_dbid = -1;
                snprintf(op->errmsg, sizeof(op->errmsg), "%s", e);
            }
        } else {
            op->ok[k] = 1;
        }
    }
}

static void link_data(cb_outconn *oc, const char *p, size_t n) {
    mig_link *l = oc->arg;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch != '\n') {
            if (l->llen < sizeof(l->line) - 1) l->line[l->llen++] = ch;
            else l->overlong = 1;
            continue;
        }
        if (l->llen && l->line[l->llen - 1] == '\r') l->llen--;
        l->line[l->llen] = '\0';
        l->llen = 0;
        l->overlong = 0;
        mig_op *op = l->cur;
        if (!op || op->deferred) continue; /* nothing asked: ignore */
        outconn_set_deadline(oc, util_mstime() + op->timeout_ms); /* progress */
        op_line(op, l->line);
        if (op->got < op->expect) continue;
        if (op->target_err) {
            char msg[REPLY_LINE_MAX + 64];
            snprintf(msg, sizeof(msg), "Target instance replied with error: %s", op->errmsg);
            op_finish(op, msg);
        } else {
            l->last_dbid = op->dbid;
            op_finish(op, NULL);
        }
        if (l->oc != oc) return; /* the next migration reconnected */
    }
}

/* The link broke, was refused or timed out. */
static void link_closed(cb_outconn *oc, int err) {
    mig_link *l = oc->arg;
    int was_connected = oc->connected;
    int writing = outconn_pending(oc) > 0;
    l->oc = NULL;
    l->last_dbid = -1;
    l->llen = 0;
    mig_op *op = l->cur;
    if (!op || op->deferred) return; /* an idle cached link went away */
    if (!was_connected && err == ETIMEDOUT) {
        op_finish(op, "-IOERR error or timeout connecting to the client");
        return;
    }
    /* Redis's blocking connect reports a refused connection as made: that
     * failure shows as a write error (retried once), as here. */
    int key_replies = op->got - op->sent_auth - op->sent_select;
    if (!op->target_err && key_replies <= 0 && err != ETIMEDOUT && !op->retried) {
        /* Nothing was restored yet: a cached link the target closed is
         * common, so try once more on a fresh connection. */
        op->retried = 1;
        op_start(op);
        return;
    }
    if (op->target_err) {
        char msg[REPLY_LINE_MAX + 64];
        snprintf(msg, sizeof(msg), "Target instance replied with error: %s", op->errmsg);
        op_finish(op, msg);
        return;
    }
    op_finish(op, writing ? "-IOERR error or timeout writing to target instance"
                          : "-IOERR error or timeout reading to target instance");
}

static const cb_outconn_cb link_cb = {.connected = NULL, .data = link_data,
                                      .closed = link_closed};

/* --------------------------------------------------------------- command */

void cmd_migrate(cb_client *c) {
    int copy = 0, replace = 0, first_key = 3, num_keys = 1;
    const char *user = NULL, *pass = NULL;
    size_t userlen = 0, passlen = 0;
    for (int j = 6; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (arg_eq(c, j, "copy")) {
            copy = 1;
        } else if (arg_eq(c, j, "replace")) {
            replace = 1;
        } else if (arg_eq(c, j, "auth")) {
            if (!more) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
            j++;
            pass = ARGP(c, j);
            passlen = ARGL(c, j);
        } else if (arg_eq(c, j, "auth2")) {
            if (more < 2) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
            user = ARGP(c, j + 1);
            userlen = ARGL(c, j + 1);
            pass = ARGP(c, j + 2);
            passlen = ARGL(c, j + 2);
            j += 2;
        } else if (arg_eq(c, j, "keys")) {
            if (ARGL(c, 3) != 0) {
                reply_error(c, "When using MIGRATE KEYS option, the key argument must be set "
                               "to the empty string");
                return;
            }
            first_key = j + 1;
            num_keys = c->argc - j - 1;
            break;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    long long timeout, dbid;
    if (arg_ll(c, 5, &timeout, NULL) || arg_ll(c, 4, &dbid, NULL)) return;
    if (timeout <= 0) timeout = 1000;

    /* The keys that exist; none at all is not an error. */
    mig_op *op = cb_calloc(sizeof(*op));
    op->keys = cb_calloc(sizeof(cbstr) * (size_t)(num_keys ? num_keys : 1));
    op->body = cbstr_new("", 0);
    long long now = util_mstime();
    for (int j = 0; j < num_keys; j++) {
        const char *k = ARGP(c, first_key + j);
        size_t kl = ARGL(c, first_key + j);
        cb_shard *s = client_key_shard(c, k, kl);
        cb_db *db = client_shard_db(c, s);
        if (s != c->shard) shard_set_time(s, c->shard->now_ms);
        cb_obj *o = db_lookup_read(s, db, k, kl, 0);
        if (!o) continue;
        cbstr payload = rdb_dump_payload(o);
        if (!payload) continue; /* no encoder for this type: stays here */
        long long ttl = 0, at = db_get_expire(db, k, kl);
        if (at != -1) {
            ttl = at - now;
            if (ttl < 0) {
                cbstr_free(payload);
                continue;
            }
            if (ttl < 1) ttl = 1;
        }
        char tbuf[32];
        int tl = snprintf(tbuf, sizeof(tbuf), "%lld", ttl);
        op->body = cbstr_catfmt(op->body, "*%d\r\n$7\r\nRESTORE\r\n$%zu\r\n", replace ? 5 : 4, kl);
        op->body = cbstr_cat(op->body, k, kl);
        op->body = cbstr_catfmt(op->body, "\r\n$%d\r\n%s\r\n$%zu\r\n", tl, tbuf,
                                cbstr_len(payload));
        op->body = cbstr_cat(op->body, payload, cbstr_len(payload));
        op->body = cbstr_cat(op->body, "\r\n", 2);
        if (replace) op->body = cbstr_cat(op->body, "$7\r\nREPLACE\r\n", 13);
        cbstr_free(payload);
        op->keys[op->nkeys++] = cbstr_new(k, kl);
    }
    if (op->nkeys == 0) {
        op_free(op);
        reply_status(c, "NOKEY");
        return;
    }
    if (c->flags & (CLIENT_MULTI | CLIENT_SCRIPT | CLIENT_PROXY)) {
        /* Inside EXEC or a script the client cannot wait. */
        op_free(op);
        reply_error(c, "MIGRATE inside MULTI/EXEC or a script is not supported by cachebox");
        return;
    }
    op->c = c;
    op->w = c->w;
    op->dbid = (int)dbid;
    op->srcdb = c->dbid;
    op->copy = copy;
    op->replace = replace;
    op->timeout_ms = timeout;
    op->ok = cb_calloc((size_t)op->nkeys);
    if (pass) {
        op->pass = cb_malloc(passlen + 1);
        memcpy(op->pass, pass, passlen);
        op->pass[passlen] = '\0';
    }
    if (user) {
        op->user = cb_malloc(userlen + 1);
        memcpy(op->user, user, userlen);
        op->user[userlen] = '\0';
    }
    mig_link *l = link_get(c->w, ARGP(c, 1), ARGL(c, 1), ARGP(c, 2), ARGL(c, 2));
    op->link = l;
    c->held = MIGRATE_HELD;
    if (l->cur) {
        if (l->qtail) l->qtail->next = op;
        else l->qhead = op;
        l->qtail = op;
        return;
    }
    op_start(op); /* may finish at once (connect refused locally) */
}

/* ----------------------------------------------------------- life cycle */

void migrate_cron(cb_worker *w, long long now_ms) {
    cb_migrate *m = w->migrate;
    if (!m) return;
    mig_link *next;
    for (mig_link *l = m->links; l; l = l->next) {
        mig_op *op = l->cur;
        if (op && op->deferred && !w->nested_poll) {
            char *err = op->deferred_err;
            op->deferred_err = NULL;
            op->deferred = 0;
            op_finish(op, err);
            cb_free(err);
        }
    }
    for (mig_link *l = m->links; l; l = next) {
        next = l->next;
        if (!l->cur && !l->qhead && now_ms - l->last_use_ms > MIGRATE_LINK_TTL_MS)
            link_free(m, l);
    }
}

void migrate_client_gone(cb_client *c) {
    cb_migrate *m = c->w->migrate;
    if (!m) return;
    for (mig_link *l = m->links; l; l = l->next) {
        if (l->cur && l->cur->c == c) l->cur->c = NULL;
        for (mig_op *op = l->qhead; op; op = op->next)
            if (op->c == c) op->c = NULL;
    }
}

void migrate_worker_free(cb_worker *w) {
    cb_migrate *m = w->migrate;
    if (!m) return;
    while (m->links) {
        mig_link *l = m->links;
        if (l->cur) op_free(l->cur);
        while (l->qhead) {
            mig_op *op = l->qhead;
            l->qhead = op->next;
            op_free(op);
        }
        l->cur = NULL;
        link_free(m, l);
    }
    cb_free(m);
    w->migrate = NULL;
}
