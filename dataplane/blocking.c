/* blocking.c — blocked clients, ready keys, timeouts (see blocking.h).
 *
 * State: each blocked client has a cb_blocked record (its command's
 * arguments, keys, deadline) and sits in its worker's blocked list (for
 * timeouts) and in the registry queue of each key (FIFO, for serving). The
 * registry and the records change only with the other workers parked:
 * blocking commands, CLIENT UNBLOCK and serving all run that way.
 */
#include "blocking.h"

#include <math.h>
#include <string.h>

#include "cmd/command.h"
#include "conn.h"
#include "dispatch.h"
#include "worker.h"
#include "xshard.h"
#include "resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"
#include "../store/ds/dict.h"

typedef struct cb_blocked {
    const cb_command *cmd;
    int argc;
    char **argv;
    size_t *lens;
    int nkeys;
    cbstr *keys;
    int dbid;
    long long deadline_ms;      /* 0: no timeout */
    cb_client *prev, *next;     /* the worker's blocked list */
} cb_blocked;

typedef struct waiters {
    int n, cap;
    cb_client **v;
} waiters;

static dict **registry; /* [ndb] key -> waiters; changed only with the others parked */
static int registry_ndb;

static void waiters_free(void *val, void *priv) {
    (void)priv;
    waiters *w = val;
    cb_free(w->v);
    cb_free(w);
}

static void key_free(cbstr k) { cbstr_free(k); }

static const dict_type waiters_type = {.key_free = key_free, .val_free = waiters_free};

void blocking_init(int ndb) {
    uint8_t seed[16];
    util_random_bytes(seed, sizeof(seed));
    registry = cb_calloc(sizeof(dict *) * (size_t)ndb);
    registry_ndb = ndb;
    for (int i = 0; i < ndb; i++) registry[i] = dict_create(&waiters_type, NULL, seed);
}

size_t blocking_count_with_timeout(const struct cb_worker *w) {
    size_t n = 0;
    for (const cb_client *c = w->blocked; c; c = c->blk->next)
        if (c->blk->deadline_ms) n++;
    return n;
}

int blocking_is_blocked(const cb_client *c) { return c->blk != NULL; }

int blocking_timeout_arg(cb_client *c, int i, long long *deadline_ms) {
    long double secs;
    if (arg_long_double(c, i, &secs, "timeout is not a float or out of range") != 0) return -1;
    long double ms = ceill(secs * 1000.0L);
    /* Redis 7.0 converts without a range check: what does not fit comes
     * out negative. */
    if (ms < 0 || ms >= 9223372036854775807.0L) {
        reply_error(c, "timeout is negative");
        return -1;
    }
    *deadline_ms = ms > 0 ? c->shard->now_ms + (long long)ms : 0;
    return 0;
}

/* ------------------------------------------------------------ registry */

static void registry_add(int dbid, const char *k, size_t len, cb_client *c) {
    dict *d = registry[dbid];
    dict_entry *e = dict_find(d, k, len);
    if (!e) {
        e = dict_add_raw(d, cbstr_new(k, len), NULL);
        e->v.val = cb_calloc(sizeof(waiters));
    }
    waiters *w = e->v.val;
    for (int i = 0; i < w->n; i++)
        if (w->v[i] == c) return; /* the same key twice in one command */
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 2;
        w->v = cb_realloc(w->v, sizeof(*w->v) * (size_t)w->cap);
    }
    w->v[w->n++] = c;
}

static void registry_remove(int dbid, const char *k, size_t len, cb_client *c) {
    dict *d = registry[dbid];
    dict_entry *e = dict_find(d, k, len);
    if (!e) return;
    waiters *w = e->v.val;
    for (int i = 0; i < w->n; i++) {
        if (w->v[i] == c) {
            /* Keep FIFO order: shift, do not swap. */
            memmove(&w->v[i], &w->v[i + 1], sizeof(*w->v) * (size_t)(w->n - i - 1));
            w->n--;
            break;
        }
    }
    if (w->n == 0) dict_delete(d, k, len);
}

/* ------------------------------------------------------------ blocking */

int block_client(cb_client *c, int nkeys, const int *keyidx, long long deadline_ms) {
    /* Inside a transaction or a script: time out at once. */
    if (c->flags & (CLIENT_MULTI | CLIENT_SCRIPT)) return 0;
    if (c->block_mode == BLOCK_MODE_TIMEOUT) return 0;
    if (c->block_mode == BLOCK_MODE_SERVING) {
        c->block_still = 1;
        return 1;
    }
    cb_blocked *b = cb_calloc(sizeof(*b));
    b->cmd = c->cmd;
    b->argc = c->argc;
    b->argv = cb_malloc(sizeof(char *) * (size_t)c->argc);
    b->lens = cb_malloc(sizeof(size_t) * (size_t)c->argc);
    for (int i = 0; i < c->argc; i++) {
        b->argv[i] = cb_memdup(c->argv[i], c->argv_len[i]);
        b->lens[i] = c->argv_len[i];
    }
    b->nkeys = nkeys;
    b->keys = cb_malloc(sizeof(cbstr) * (size_t)nkeys);
    b->dbid = c->dbid;
    b->deadline_ms = deadline_ms;
    for (int i = 0; i < nkeys; i++) {
        b->keys[i] = cbstr_new(c->argv[keyidx[i]], c->argv_len[keyidx[i]]);
        registry_add(c->dbid, b->keys[i], cbstr_len(b->keys[i]), c);
    }
    cb_worker *w = c->w;
    b->next = w->blocked;
    if (w->blocked) w->blocked->blk->prev = c;
    w->blocked = c;
    c->blk = b;
    c->held = 4;
    STAT_INC(w->stats.blocked_clients);
    return 1;
}

void block_client_keep(cb_client *c, long long deadline_ms) {
    if (!c->blk) return;
    c->blk->deadline_ms = deadline_ms;
    c->block_still = 1;
}

void block_client_set_arg(cb_client *c, int i, const char *p, size_t len) {
    cb_blocked *b = c->blk;
    if (!b || i < 0 || i >= b->argc) return;
    cb_free(b->argv[i]);
    b->argv[i] = cb_memdup(p, len);
    b->lens[i] = len;
}

/* Drop the blocked state; the client's own worker resumes it later. */
static void unblock(cb_client *c, int resume) {
    cb_blocked *b = c->blk;
    if (!b) return;
    for (int i = 0; i < b->nkeys; i++) {
        registry_remove(b->dbid, b->keys[i], cbstr_len(b->keys[i]), c);
        cbstr_free(b->keys[i]);
    }
    cb_worker *w = c->w;
    if (b->prev)
        b->prev->blk->next = b->next;
    else
        w->blocked = b->next;
    if (b->next) b->next->blk->prev = b->prev;
    for (int i = 0; i < b->argc; i++) cb_free(b->argv[i]);
    cb_free(b->argv);
    cb_free(b->lens);
    cb_free(b->keys);
    cb_free(b);
    c->blk = NULL;
    STAT_ADD(w->stats.blocked_clients, (uint64_t)-1);
    if (!resume) return;
    /* The owning worker picks it up (it may be parked right now). */
    if (w->nunblocked == w->unblocked_cap) {
        w->unblocked_cap = w->unblocked_cap ? w->unblocked_cap * 2 : 8;
        w->unblocked = cb_realloc(w->unblocked, sizeof(cb_client *) * (size_t)w->unblocked_cap);
    }
    w->unblocked[w->nunblocked++] = c;
    if (w != worker_self()) kdrv_wake(w);
}

/* Re-run a blocked client's command in `mode`; 1 when it was served (or
 * answered its timeout), 0 when it stays blocked. */
static int rerun(cb_client *c, int mode) {
    cb_blocked *b = c->blk;
    int argc = c->argc;
    const char **argv = c->argv;
    size_t *lens = c->argv_len;
    cb_shard *own = c->shard;
    cb_db *owndb = c->db;
    c->argc = b->argc;
    c->argv = (const char **)b->argv;
    c->argv_len = b->lens;
    c->dbid = b->dbid;
    c->db = &c->shard->dbs[b->dbid];
    c->block_mode = mode;
    c->block_still = 0;
    dispatch_call(c, b->cmd);
    int served = !c->block_still;
    c->block_mode = BLOCK_MODE_NONE;
    c->argc = argc;
    c->argv = argv;
    c->argv_len = lens;
    c->shard = own;
    c->db = owndb;
    if (served) unblock(c, 1);
    return served;
}

/* ------------------------------------------------------------- serving */

void blocking_key_touched(cb_db *db, const char *key, size_t len) {
    cb_worker *w = worker_self();
    if (!w || !registry || db->id >= registry_ndb) return;
    if (dict_size(registry[db->id]) == 0 || !dict_find(registry[db->id], key, len)) return;
    for (int i = 0; i < w->nready; i++)
        if (w->ready[i].dbid == db->id && cbstr_eq_bytes(w->ready[i].key, key, len)) return;
    if (w->nready == w->ready_cap) {
        w->ready_cap = w->ready_cap ? w->ready_cap * 2 : 4;
        w->ready = cb_realloc(w->ready, sizeof(*w->ready) * (size_t)w->ready_cap);
    }
    w->ready[w->nready].dbid = db->id;
    w->ready[w->nready].key = cbstr_new(key, len);
    w->nready++;
}

static int coordinating(const cb_worker *w) {
    return g_server.nworkers <= 1 ||
           (__atomic_load_n(&g_server.park_active, __ATOMIC_ACQUIRE) &&
            __atomic_load_n(&g_server.park_owner, __ATOMIC_RELAXED) == w->id);
}

void blocking_serve_ready(cb_worker *w) {
    if (!w->nready) return;
    int park = !coordinating(w);
    if (park) xshard_park_others(w);
    while (w->nready) {
        /* FIFO over keys too: the first key that became ready goes first. */
        int dbid = w->ready[0].dbid;
        cbstr key = w->ready[0].key;
        memmove(&w->ready[0], &w->ready[1], sizeof(*w->ready) * (size_t)(w->nready - 1));
        w->nready--;
        for (;;) {
            dict_entry *e = dict_find(registry[dbid], key, cbstr_len(key));
            if (!e) break;
            waiters *q = e->v.val;
            cb_client *first = q->v[0];
            long long now = util_mstime();
            shard_set_time(first->shard, now);
            for (int i = 0; i < g_server.nworkers; i++)
                shard_set_time(g_server.workers[i]->shard, now);
            if (!rerun(first, BLOCK_MODE_SERVING)) break; /* nothing left for it */
        }
        cbstr_free(key);
    }
    if (park) xshard_release(w);
}

/* -------------------------------------------------------- timeouts etc. */

void blocking_cron(cb_worker *w, long long now_ms) {
    int due = 0;
    for (cb_client *c = w->blocked; c; c = c->blk->next)
        if (c->blk->deadline_ms && now_ms >= c->blk->deadline_ms) due = 1;
    if (!due) return;
    int park = !coordinating(w);
    if (park) xshard_park_others(w);
    cb_client *next;
    for (cb_client *c = w->blocked; c; c = next) {
        next = c->blk->next;
        if (c->blk->deadline_ms && now_ms >= c->blk->deadline_ms) {
            shard_set_time(c->shard, now_ms);
            rerun(c, BLOCK_MODE_TIMEOUT);
        }
    }
    blocking_serve_ready(w); /* a timed-out command may have served after all */
    if (park) xshard_release(w);
}

void blocking_resume_unblocked(cb_worker *w) {
    while (w->nunblocked) {
        cb_client *c = w->unblocked[--w->nunblocked];
        if (c->held == 4) c->held = 0;
        conn_continue(c);
    }
}

int blocking_unblock_by_id(uint64_t id, int with_error) {
    for (int i = 0; i < g_server.nworkers; i++) {
        for (cb_client *c = g_server.workers[i]->blocked; c; c = c->blk->next) {
            if (c->id != id) continue;
            if (with_error) {
                reply_error(c, "-UNBLOCKED client unblocked via CLIENT UNBLOCK");
                unblock(c, 1);
            } else {
                rerun(c, BLOCK_MODE_TIMEOUT);
            }
            return 1;
        }
    }
    return 0;
}

void blocking_client_closed(cb_client *c) {
    cb_worker *w = c->w;
    unblock(c, 0);
    /* Also forget it if it was already queued for resuming. */
    for (int i = 0; i < w->nunblocked; i++) {
        if (w->unblocked[i] == c) {
            w->unblocked[i] = w->unblocked[--w->nunblocked];
            break;
        }
    }
}
