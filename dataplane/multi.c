/* multi.c — MULTI / EXEC / DISCARD / WATCH / UNWATCH (see multi.h).
 *
 * Queued commands keep private copies of their arguments (the received
 * segments are long gone by EXEC). EXEC runs with the other workers parked
 * (xshard ROUTE_ALL), so every queued command runs on the shard that owns
 * its keys, atomically with respect to all clients.
 */
#include "multi.h"

#include <string.h>

#include "acl.h"
#include "cmd/command.h"
#include "conn.h"
#include "dispatch.h"
#include "worker.h"
#include "xshard.h"
#include "script/script.h"
#include "resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"
#include "../store/ds/dict.h"

typedef struct queued {
    const cb_command *cmd;
    int argc;
    char **argv;
    size_t *lens;
} queued;

typedef struct cb_mstate {
    queued *q;
    int n, cap;
    int has_writes;
    int has_denyoom; /* a queued command is deny-OOM (EXEC is refused when OOM) */
} cb_mstate;

typedef struct cb_watched {
    int dbid;
    int expired_at_watch; /* already logically expired when watched */
    cbstr key;
} cb_watched;

/* key -> the clients watching it, one dict per db. */
typedef struct watchers {
    int n, cap;
    cb_client **v;
} watchers;

static dict **registry; /* [ndb]; changed only with the other workers parked */
static int registry_ndb;

static void watchers_free(void *val, void *priv) {
    (void)priv;
    watchers *w = val;
    cb_free(w->v);
    cb_free(w);
}

static void key_free(cbstr k) { cbstr_free(k); }

static const dict_type watch_type = {.key_free = key_free, .val_free = watchers_free};

void multi_init(int ndb) {
    uint8_t seed[16];
    util_random_bytes(seed, sizeof(seed));
    registry = cb_calloc(sizeof(dict *) * (size_t)ndb);
    registry_ndb = ndb;
    for (int i = 0; i < ndb; i++) registry[i] = dict_create(&watch_type, NULL, seed);
}

/* ------------------------------------------------------------- queueing */

static int is_control(const cb_command *cmd) {
    const char *n = cmd->name;
    return !strcmp(n, "exec") || !strcmp(n, "discard") || !strcmp(n, "multi") ||
           !strcmp(n, "watch") || !strcmp(n, "quit") || !strcmp(n, "reset");
}

void multi_flag_error(cb_client *c) {
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
}

int multi_maybe_queue(cb_client *c, const cb_command *cmd) {
    if (!(c->flags & CLIENT_MULTI) || is_control(cmd)) return 0;
    if (cmd->flags & CMD_NO_MULTI) {
        reply_error(c, "Command not allowed inside a transaction");
        multi_flag_error(c);
        return 1;
    }
    cb_mstate *m = c->mstate;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 4;
        m->q = cb_realloc(m->q, sizeof(*m->q) * (size_t)m->cap);
    }
    queued *e = &m->q[m->n++];
    e->cmd = cmd;
    e->argc = c->argc;
    e->argv = cb_malloc(sizeof(char *) * (size_t)c->argc);
    e->lens = cb_malloc(sizeof(size_t) * (size_t)c->argc);
    for (int i = 0; i < c->argc; i++) {
        e->argv[i] = cb_memdup(c->argv[i], c->argv_len[i]);
        e->lens[i] = c->argv_len[i];
    }
    if ((cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)) || script_may_write(c, cmd))
        m->has_writes = 1;
    if (cmd->flags & CMD_DENYOOM) m->has_denyoom = 1;
    reply_status(c, "QUEUED");
    return 1;
}

int multi_queued_count(const cb_client *c) { return c->mstate ? c->mstate->n : -1; }

int multi_has_writes(const cb_client *c) { return c->mstate && c->mstate->has_writes; }

int multi_has_denyoom(const cb_client *c) { return c->mstate && c->mstate->has_denyoom; }

static void discard_queue(cb_client *c) {
    cb_mstate *m = c->mstate;
    if (m) {
        for (int i = 0; i < m->n; i++) {
            for (int j = 0; j < m->q[i].argc; j++) cb_free(m->q[i].argv[j]);
            cb_free(m->q[i].argv);
            cb_free(m->q[i].lens);
        }
        cb_free(m->q);
        cb_free(m);
    }
    c->mstate = NULL;
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_EXEC);
}

/* ------------------------------------------------------------- watching */

static void unwatch_all(cb_client *c) {
    for (int i = 0; i < c->nwatched; i++) {
        cb_watched *wk = &c->watched[i];
        dict *d = registry[wk->dbid];
        dict_entry *e = dict_find(d, wk->key, cbstr_len(wk->key));
        if (e) {
            watchers *w = e->v.val;
            for (int j = 0; j < w->n; j++) {
                if (w->v[j] == c) {
                    w->v[j] = w->v[--w->n];
                    break;
                }
            }
            if (w->n == 0) dict_delete(d, wk->key, cbstr_len(wk->key));
        }
        cbstr_free(wk->key);
    }
    cb_free(c->watched);
    c->watched = NULL;
    c->nwatched = c->watched_cap = 0;
    __atomic_store_n(&c->dirty_cas, 0, __ATOMIC_RELAXED);
}

static void watch_key(cb_client *c, const char *k, size_t len) {
    for (int i = 0; i < c->nwatched; i++)
        if (c->watched[i].dbid == c->dbid && cbstr_eq_bytes(c->watched[i].key, k, len)) return;
    dict *d = registry[c->dbid];
    dict_entry *e = dict_find(d, k, len);
    if (!e) {
        e = dict_add_raw(d, cbstr_new(k, len), NULL);
        e->v.val = cb_calloc(sizeof(watchers));
    }
    watchers *w = e->v.val;
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 2;
        w->v = cb_realloc(w->v, sizeof(*w->v) * (size_t)w->cap);
    }
    w->v[w->n++] = c;
    if (c->nwatched == c->watched_cap) {
        c->watched_cap = c->watched_cap ? c->watched_cap * 2 : 4;
        c->watched = cb_realloc(c->watched, sizeof(*c->watched) * (size_t)c->watched_cap);
    }
    c->watched[c->nwatched].dbid = c->dbid;
    c->watched[c->nwatched].key = cbstr_new(k, len);
    /* A key that had already expired when watched does not abort EXEC by
     * expiring (Redis 7.0 records this at WATCH time). */
    cb_db *db = client_shard_db(c, client_key_shard(c, k, len));
    long long when = db_get_expire(db, k, len);
    c->watched[c->nwatched].expired_at_watch = when >= 0 && when <= c->shard->now_ms;
    c->nwatched++;
}

/* The client's entry for key in db, or NULL. */
static cb_watched *find_watched(cb_client *c, int dbid, const char *key, size_t len) {
    for (int i = 0; i < c->nwatched; i++) {
        cb_watched *wk = &c->watched[i];
        if (wk->dbid == dbid && cbstr_len(wk->key) == len && memcmp(wk->key, key, len) == 0)
            return wk;
    }
    return NULL;
}

/* A key that was already expired when watched and is now gone has not
 * logically changed: Redis clears the entry's expired mark instead of
 * failing the transaction (the key is then simply missing). Every other
 * change marks the watcher dirty. */
static void touch_watchers(watchers *w, cb_db *db, const char *key, size_t len, int gone) {
    for (int j = 0; j < w->n; j++) {
        cb_watched *wk = gone ? find_watched(w->v[j], db->id, key, len) : NULL;
        if (wk && __atomic_load_n(&wk->expired_at_watch, __ATOMIC_RELAXED)) {
            __atomic_store_n(&wk->expired_at_watch, 0, __ATOMIC_RELAXED);
            continue;
        }
        __atomic_store_n(&w->v[j]->dirty_cas, 1, __ATOMIC_RELAXED);
    }
}

void multi_key_modified(void *owner, cb_db *db, const char *key, size_t len) {
    (void)owner;
    if (!registry || db->id >= registry_ndb) return;
    dict *d = registry[db->id];
    if (dict_size(d) == 0) return;
    if (key) {
        dict_entry *e = dict_find(d, key, len);
        if (e) touch_watchers(e->v.val, db, key, len, dict_find(db->keys, key, len) == NULL);
        return;
    }
    /* The whole db is about to change (FLUSHDB, FLUSHALL, SWAPDB): watched
     * keys that exist in it are touched. */
    dict_iter it;
    dict_iter_init(&it, d, 0);
    dict_entry *e;
    while ((e = dict_iter_next(&it)) != NULL)
        if (dict_find(db->keys, e->key, cbstr_len(e->key)))
            touch_watchers(e->v.val, db, e->key, cbstr_len(e->key), 1);
    dict_iter_release(&it);
}

int multi_client_watches(const cb_client *c) { return c->nwatched > 0; }

void multi_reset_client(cb_client *c) {
    discard_queue(c);
    unwatch_all(c);
}

/* 1 when a watched key has expired since (logically, even if not deleted). */
static int watched_key_expired(cb_client *c) {
    for (int i = 0; i < c->nwatched; i++) {
        cb_watched *wk = &c->watched[i];
        if (wk->expired_at_watch) continue;
        cb_shard *s = client_key_shard(c, wk->key, cbstr_len(wk->key));
        cb_db *db = &s->dbs[wk->dbid];
        long long when = db_get_expire(db, wk->key, cbstr_len(wk->key));
        if (when >= 0 && when <= c->shard->now_ms) return 1;
    }
    return 0;
}

/* ------------------------------------------------------------- commands */

void cmd_multi(cb_client *c) {
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "MULTI calls can not be nested");
        return;
    }
    c->flags |= CLIENT_MULTI;
    c->mstate = cb_calloc(sizeof(cb_mstate));
    reply_ok(c);
}

void cmd_discard(cb_client *c) {
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "DISCARD without MULTI");
        return;
    }
    multi_reset_client(c);
    reply_ok(c);
}

void cmd_watch(cb_client *c) {
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "WATCH inside MULTI is not allowed");
        return;
    }
    for (int i = 1; i < c->argc; i++) watch_key(c, c->argv[i], c->argv_len[i]);
    reply_ok(c);
}

void cmd_unwatch(cb_client *c) {
    unwatch_all(c);
    reply_ok(c);
}

void cmd_exec(cb_client *c) {
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "EXEC without MULTI");
        return;
    }
    if (c->flags & CLIENT_DIRTY_EXEC) {
        reply_error(c, "-EXECABORT Transaction discarded because of previous errors.");
        multi_reset_client(c);
        return;
    }
    if (__atomic_load_n(&c->dirty_cas, __ATOMIC_RELAXED) || watched_key_expired(c)) {
        reply_null_array(c);
        multi_reset_client(c);
        return;
    }
    /* The client stays in MULTI while its commands run (CLIENT LIST shows
     * flags=x, as Redis does); they are called directly, never queued. */
    cb_mstate *m = c->mstate;
    unwatch_all(c);

    int argc = c->argc;
    const char **argv = c->argv;
    size_t *lens = c->argv_len;
    const cb_command *exec_cmd = c->cmd;
    cb_shard *own = c->shard;
    cb_db *owndb = c->db;
    reply_array_len(c, m->n);
    for (int i = 0; i < m->n; i++) {
        queued *e = &m->q[i];
        c->argc = e->argc;
        c->argv = (const char **)e->argv;
        c->argv_len = e->lens;
        /* ACL rules may have changed since the command was queued. */
        int errpos = 0;
        int acl = acl_check_client(c, e->cmd, &errpos);
        if (acl != ACL_OK) {
            static const char *const why[] = {
                "no permission", "no permission to execute the command or subcommand",
                "no permission to touch the specified keys", "no permission",
                "no permission to access one of the channels used as arguments"};
            c->cmd = e->cmd;
            acl_log_denial(c, acl, ACL_CTX_MULTI, errpos, e->cmd, NULL, 0);
            reply_errorf(c, "-NOPERM ACLs rules changed between the moment the transaction was "
                            "accumulated and the EXEC call. This command is no longer allowed "
                            "for the following reason: %s", why[acl]);
            continue;
        }
        /* The other workers are parked: run where the keys live. */
        int owner;
        xshard_route(c, e->cmd, &owner);
        if (owner >= 0 && g_server.nworkers > 1) {
            c->shard = g_server.workers[owner]->shard;
            c->db = &c->shard->dbs[c->dbid];
        }
        dispatch_call(c, e->cmd);
        c->shard = own;
        c->db = &own->dbs[c->dbid]; /* a SELECT inside the transaction sticks */
    }
    (void)owndb;
    c->argc = argc;
    c->argv = argv;
    c->argv_len = lens;
    c->cmd = exec_cmd;
    discard_queue(c);
}
