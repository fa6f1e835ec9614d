/* tracking.c — client-side caching: CLIENT TRACKING / CACHING / GETREDIR /
 * TRACKINGINFO and the invalidation machinery behind them (see tracking.h
 * for the call order, docs/client-tracking.md for the design).
 *
 * State lives where the data it describes lives:
 *   - per shard (touched only by the thread that runs commands on that
 *     shard: its owner, or a coordinator while the owner is parked): the
 *     table key -> {client id, worker} of default-mode readers, and the BCAST
 *     prefixes with the keys written under them since the last loop turn;
 *   - per client (touched only by its own worker): flags, redirect, prefixes.
 * An invalidation is encoded once as a small message and handed to the
 * worker that owns the client (directly when that is this thread, else over
 * the xshard rings, which keep it ordered with the replies of commands that
 * worker forwarded here). There the client's own settings decide what is
 * sent: a RESP3 push, a message on __redis__:invalidate of the REDIRECT
 * client (which may live on yet another worker), or nothing.
 */
#include "tracking.h"

#include <stdlib.h>
#include <string.h>

#include "cmd/command.h"
#include "conn.h"
#include "worker.h"
#include "xshard.h"
#include "resp/reply.h"
#include "../platform/config.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"
#include "../store/ds/dict.h"

/* Per-client tracking flags (cb_track.flags). */
#define T_ON      (1u << 0)
#define T_BCAST   (1u << 1)
#define T_OPTIN   (1u << 2)
#define T_OPTOUT  (1u << 3)
#define T_CACHING (1u << 4)
#define T_NOLOOP  (1u << 5)
#define T_BROKEN  (1u << 6)
#define T_PROXY   (1u << 7) /* a forwarded run's stand-in: remembers for src */

typedef struct cb_track {
    uint32_t flags;
    uint64_t redirect;   /* client id, 0 none */
    int redirect_wid;    /* the worker that owns it */
    cbstr *prefixes;     /* BCAST, sorted */
    int nprefixes;
    int src;             /* T_PROXY: the origin's worker */
} cb_track;

typedef struct trk_ref {
    uint64_t id;
    int wid;
} trk_ref;

typedef struct trk_ids {
    int n, cap;
    trk_ref *v;
} trk_ids;

typedef struct bprefix {
    cbstr prefix;
    trk_ids clients;
    dict *pending;       /* key written since the last turn -> writer id */
} bprefix;

typedef struct trk_shard {
    dict *keys;          /* key -> trk_ids* */
    uint64_t items;      /* sum of the ids sets' sizes */
    bprefix *pfx;        /* sorted by prefix */
    int npfx, pfx_cap;
    int bcast_dirty;
    uint64_t rng;
} trk_shard;

/* Message types between workers (and to this worker, same format). */
enum { M_KEYS = 1, M_BCAST = 2, M_FLUSH = 3, M_DIRECT = 4, M_BROKEN = 5 };

typedef struct tbuf {
    char *p;
    size_t len, cap;
} tbuf;

static trk_shard *tshards;
static int ntshards;
static uint8_t tseed[16];
static uint64_t n_tracking;   /* clients with tracking on (atomic) */

/* The client whose command runs on this thread, and the messages for it
 * that wait until its reply has been queued. */
typedef struct deferred {
    int wid;
    tbuf b;
} deferred;
static _Thread_local cb_client *cur;
static _Thread_local deferred *defq;
static _Thread_local int ndef, def_cap;
static _Thread_local int flushed_in_cmd;

static void ids_free(void *val, void *priv) {
    (void)priv;
    trk_ids *ids = val;
    cb_free(ids->v);
    cb_free(ids);
}
static void key_free(cbstr k) { cbstr_free(k); }
static const dict_type keys_type = {.key_free = key_free, .val_free = ids_free};
static const dict_type pending_type = {.key_free = key_free};

void tracking_init(int nshards) {
    util_random_bytes(tseed, sizeof(tseed));
    ntshards = nshards;
    tshards = cb_calloc(sizeof(*tshards) * (size_t)nshards);
    for (int i = 0; i < nshards; i++) {
        tshards[i].keys = dict_create(&keys_type, NULL, tseed);
        tshards[i].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
    }
}

/* ------------------------------------------------------------ helpers */

static void tb_put(tbuf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n) cap *= 2;
        b->p = cb_realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}
static void tb_u64(tbuf *b, uint64_t v) { tb_put(b, &v, sizeof(v)); }
static void tb_key(tbuf *b, uint64_t writer, const char *k, size_t len) {
    tb_u64(b, writer);
    tb_u64(b, len);
    tb_put(b, k, len);
}

typedef struct rd {
    const char *p, *end;
} rd;
static uint64_t rd_u64(rd *r) {
    uint64_t v = 0;
    if (r->p + sizeof(v) <= r->end) memcpy(&v, r->p, sizeof(v));
    r->p += sizeof(v);
    return v;
}

static int key_shard(const char *k, size_t len) {
    return ntshards > 1 ? (int)(util_key_slot(k, len) % (unsigned)ntshards) : 0;
}

static int shard_of_db(const cb_db *db) {
    for (int i = 0; i < g_server.nworkers && i < ntshards; i++) {
        const cb_shard *s = g_server.workers[i]->shard;
        if (db >= s->dbs && db < s->dbs + s->ndb) return i;
    }
    return -1;
}

static cb_client *find_client(cb_worker *w, uint64_t id) {
    for (cb_client *c = w->clients; c; c = c->next)
        if (c->id == id) return (c->flags & (CLIENT_CLOSED | CLIENT_CLOSE_ASAP)) ? NULL : c;
    return NULL;
}

static int ids_add(trk_ids *ids, uint64_t id, int wid) {
    for (int i = 0; i < ids->n; i++)
        if (ids->v[i].id == id) return 0;
    if (ids->n == ids->cap) {
        ids->cap = ids->cap ? ids->cap * 2 : 2;
        ids->v = cb_realloc(ids->v, sizeof(*ids->v) * (size_t)ids->cap);
    }
    ids->v[ids->n].id = id;
    ids->v[ids->n].wid = wid;
    ids->n++;
    return 1;
}

static void ids_del(trk_ids *ids, uint64_t id) {
    for (int i = 0; i < ids->n; i++) {
        if (ids->v[i].id == id) {
            ids->v[i] = ids->v[--ids->n];
            return;
        }
    }
}

/* ------------------------------------------------------------- sending */

/* What a client finally receives. via_redirect: c is the REDIRECT target,
 * which in RESP2 gets a Pub/Sub message if it is in Pub/Sub mode. A flush's
 * null is written in the tracked client's protocol (null_resp), as Redis
 * 7.0 does even when the target speaks the other one. */
static void write_message(cb_client *c, rd *keys, long long nkeys, uint64_t skip_writer,
                          int via_redirect, int null_resp) {
    /* Invalidations get through CLIENT REPLY OFF/SKIP, as in Redis. */
    uint32_t muted = c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP);
    c->flags &= ~muted;
    if (c->resp >= 3) {
        reply_push_len(c, 2);
        reply_bulk_cstr(c, "invalidate");
    } else if (via_redirect && (c->flags & CLIENT_PUBSUB)) {
        reply_push_len(c, 3);
        reply_bulk_cstr(c, "message");
        reply_bulk_cstr(c, "__redis__:invalidate");
    } else {
        c->flags |= muted;
        return; /* RESP2 has no way to push into the same connection */
    }
    if (nkeys < 0) {
        reply_raw(c, null_resp >= 3 ? "_\r\n" : "$-1\r\n", null_resp >= 3 ? 3 : 5);
    } else {
        reply_array_len(c, nkeys);
        for (long long i = 0; i < nkeys && keys && keys->p < keys->end;) {
            uint64_t writer = rd_u64(keys);
            uint64_t len = rd_u64(keys);
            const char *k = keys->p;
            keys->p += len;
            if (skip_writer && writer == skip_writer) continue;
            reply_bulk(c, k, (size_t)len);
            i++;
        }
    }
    c->flags |= muted;
    conn_check_output_limits(c);
}

static void defer_or_send(cb_worker *w, int wid, uint64_t target, tbuf *b);

static void send_broken(cb_worker *w, cb_client *c) {
    c->trk->flags |= T_BROKEN;
    if (c->resp >= 3) {
        uint32_t muted = c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP);
        c->flags &= ~muted;
        reply_push_len(c, 2);
        reply_bulk_cstr(c, "tracking-redir-broken");
        reply_int(c, (long long)c->trk->redirect);
        c->flags |= muted;
    }
    (void)w;
}

/* Deliver to tracked client c (on this worker): count keys survive NOLOOP,
 * nkeys < 0 is the flush's null. The key records start at body. */
static void to_client(cb_worker *w, cb_client *c, const char *body, const char *end,
                      long long nkeys) {
    uint64_t skip = (c->trk->flags & T_NOLOOP) ? c->id : 0;
    long long count = nkeys;
    if (nkeys > 0 && skip) {
        rd r = {body, end};
        count = 0;
        for (long long i = 0; i < nkeys; i++) {
            uint64_t writer = rd_u64(&r);
            uint64_t len = rd_u64(&r);
            r.p += len;
            if (writer != skip) count++;
        }
        if (count == 0) return;
    }
    if (!c->trk->redirect) {
        rd r = {body, end};
        write_message(c, &r, count, skip, 0, c->resp);
        return;
    }
    if (c->trk->redirect_wid == w->id) {
        cb_client *r = find_client(w, c->trk->redirect);
        if (!r) {
            send_broken(w, c);
            return;
        }
        rd kr = {body, end};
        write_message(r, &kr, count, skip, 1, c->resp);
        return;
    }
    /* The REDIRECT client lives on another worker: hand it the keys that
     * survived the filter, with who asked (for a broken redirect). */
    tbuf b = {0};
    uint8_t t = M_DIRECT;
    tb_put(&b, &t, 1);
    tb_u64(&b, c->trk->redirect);
    tb_u64(&b, c->id);
    tb_u64(&b, (uint64_t)w->id);
    tb_u64(&b, (uint64_t)c->resp);
    tb_u64(&b, (uint64_t)count);
    if (count > 0) {
        rd r = {body, end};
        for (long long i = 0; i < nkeys; i++) {
            uint64_t writer = rd_u64(&r);
            uint64_t len = rd_u64(&r);
            if (!(skip && writer == skip)) tb_key(&b, 0, r.p, (size_t)len);
            r.p += len;
        }
    }
    xshard_send_tracking(w, c->trk->redirect_wid, b.p, b.len);
    cb_free(b.p);
}

void tracking_deliver(cb_worker *w, const char *data, size_t len) {
    rd r = {data, data + len};
    if (len < 1) return;
    uint8_t t = (uint8_t)*r.p++;
    if (t == M_FLUSH) {
        for (cb_client *c = w->clients; c; c = c->next)
            if (c->trk && (c->trk->flags & T_ON) && !(c->flags & (CLIENT_CLOSED | CLIENT_CLOSE_ASAP)))
                to_client(w, c, NULL, NULL, -1);
        return;
    }
    uint64_t target = rd_u64(&r);
    if (t == M_DIRECT) {
        uint64_t from = rd_u64(&r);
        int from_wid = (int)rd_u64(&r);
        int from_resp = (int)rd_u64(&r);
        long long nkeys = (long long)rd_u64(&r);
        cb_client *dst = find_client(w, target);
        if (dst) {
            write_message(dst, &r, nkeys, 0, 1, from_resp);
            return;
        }
        tbuf b = {0};
        uint8_t bt = M_BROKEN;
        tb_put(&b, &bt, 1);
        tb_u64(&b, from);
        defer_or_send(w, from_wid, from, &b);
        return;
    }
    cb_client *c = find_client(w, target);
    if (!c || !c->trk || !(c->trk->flags & T_ON)) return;
    if (t == M_BROKEN) {
        send_broken(w, c);
        return;
    }
    /* A default-mode invalidation means nothing to a BCAST client. */
    if (t == M_KEYS && (c->trk->flags & T_BCAST)) return;
    long long nkeys = (long long)rd_u64(&r);
    to_client(w, c, r.p, r.end, nkeys);
}

static void defer_or_send(cb_worker *w, int wid, uint64_t target, tbuf *b) {
    if (cur && target && cur->id == target) {
        /* The client that caused it hears after its own reply (EXEC:
         * after the whole transaction), as Redis 7.0 orders it. */
        if (ndef == def_cap) {
            def_cap = def_cap ? def_cap * 2 : 8;
            defq = cb_realloc(defq, sizeof(*defq) * (size_t)def_cap);
        }
        defq[ndef].wid = wid;
        defq[ndef].b = *b;
        ndef++;
        return;
    }
    if (wid == w->id)
        tracking_deliver(w, b->p, b->len);
    else
        xshard_send_tracking(w, wid, b->p, b->len);
    cb_free(b->p);
}

/* One key for one default-mode reader. */
static void send_key(cb_worker *w, const trk_ref *ref, const char *k, size_t len, uint64_t writer) {
    tbuf b = {0};
    uint8_t t = M_KEYS;
    tb_put(&b, &t, 1);
    tb_u64(&b, ref->id);
    tb_u64(&b, 1);
    tb_key(&b, writer, k, len);
    defer_or_send(w, ref->wid, ref->id, &b);
}

cb_client *tracking_set_current(cb_client *c) {
    cb_client *prev = cur;
    cur = c;
    if (c) flushed_in_cmd = 0;
    return prev;
}

void tracking_after_command(cb_worker *w) {
    if (!ndef) return;
    /* Taken out first: delivering may defer nothing new, but keep it safe. */
    deferred *q = defq;
    int n = ndef;
    defq = NULL;
    ndef = def_cap = 0;
    cb_client *saved = cur;
    cur = NULL;
    for (int i = 0; i < n; i++) {
        if (q[i].wid == w->id)
            tracking_deliver(w, q[i].b.p, q[i].b.len);
        else
            xshard_send_tracking(w, q[i].wid, q[i].b.p, q[i].b.len);
        cb_free(q[i].b.p);
    }
    cb_free(q);
    cur = saved;
}

/* ------------------------------------------------------- remembering */

static int remembers(const cb_track *t) {
    if (!(t->flags & T_ON) || (t->flags & T_BCAST)) return 0;
    if ((t->flags & T_OPTIN) && !(t->flags & T_CACHING)) return 0;
    if ((t->flags & T_OPTOUT) && (t->flags & T_CACHING)) return 0;
    return 1;
}

uint32_t tracking_remember_flag(const cb_client *c) {
    return c->trk && remembers(c->trk) ? CLIENT_TRACK_REMEMBER : 0;
}

void tracking_after_read(cb_client *c, const cb_command *cmd) {
    cb_track *t = c->trk;
    if (!t || (cmd->flags & CMD_PUBSUB)) return;
    int wid;
    if (t->flags & T_PROXY) {
        wid = t->src;
    } else {
        if (!remembers(t)) return;
        wid = c->w->id;
    }
    int stack[16];
    int nk = command_get_keys(cmd, c->argc, c->argv, c->argv_len, stack, NULL, 16);
    if (nk <= 0) return;
    int *idx = stack;
    if (nk > 16) {
        idx = cb_malloc(sizeof(int) * (size_t)nk);
        command_get_keys(cmd, c->argc, c->argv, c->argv_len, idx, NULL, nk);
    }
    for (int i = 0; i < nk; i++) {
        const char *k = c->argv[idx[i]];
        size_t len = c->argv_len[idx[i]];
        trk_shard *ts = &tshards[key_shard(k, len)];
        dict_entry *e = dict_find(ts->keys, k, len);
        if (!e) {
            e = dict_add_raw(ts->keys, cbstr_new(k, len), NULL);
            e->v.val = cb_calloc(sizeof(trk_ids));
        }
        if (ids_add(e->v.val, c->id, wid)) ts->items++;
    }
    if (idx != stack) cb_free(idx);
}

void tracking_proxy_begin(cb_client *px, int src) {
    if (!(px->flags & CLIENT_TRACK_REMEMBER)) return;
    px->trk = cb_calloc(sizeof(cb_track));
    px->trk->flags = T_PROXY;
    px->trk->src = src;
}

void tracking_proxy_end(cb_client *px) {
    cb_free(px->trk);
    px->trk = NULL;
}

void tracking_command_done(cb_client *c, const cb_command *cmd) {
    /* CLIENT CACHING covers the next command, or the next transaction.
     * Redis keeps it across any CLIENT subcommand (it tests the container
     * command), so CLIENT TRACKINGINFO still shows it. */
    if (!c->trk || !(c->trk->flags & T_CACHING) || (c->flags & CLIENT_MULTI)) return;
    if (cmd && cmd->parent && !strcmp(cmd->parent->name, "client")) return;
    c->trk->flags &= ~T_CACHING;
}

/* tracking-table-max-keys: forget random keys beyond it (each forgotten
 * key is invalidated for its readers), as Redis does before a command. */
static void evict_over_limit(cb_worker *w);

void tracking_before_command(cb_worker *w) { evict_over_limit(w); }

static void evict_over_limit(cb_worker *w) {
    if (!tshards || w->id >= ntshards) return;
    trk_shard *ts = &tshards[w->id];
    long long max = g_config.tracking_table_max_keys;
    if (!max || dict_size(ts->keys) == 0) return;
    long long per = ntshards > 1 ? (max + ntshards - 1) / ntshards : max;
    for (int budget = 10000; budget > 0 && (long long)dict_size(ts->keys) > per; budget--) {
        dict_entry *e = dict_random(ts->keys, &ts->rng);
        if (!e) break;
        cbstr k = cbstr_dup(e->key);
        e = dict_unlink(ts->keys, k, cbstr_len(k));
        trk_ids *ids = e->v.val;
        for (int i = 0; i < ids->n; i++) send_key(w, &ids->v[i], k, cbstr_len(k), 0);
        ts->items -= (uint64_t)ids->n;
        dict_free_unlinked(ts->keys, e);
        cbstr_free(k);
    }
}

/* --------------------------------------------------------- invalidating */

static void bcast_note(trk_shard *ts, const char *k, size_t len, uint64_t writer) {
    for (int i = 0; i < ts->npfx; i++) {
        bprefix *p = &ts->pfx[i];
        size_t pl = cbstr_len(p->prefix);
        if (pl > len || memcmp(p->prefix, k, pl) != 0) continue;
        dict_entry *existing = NULL;
        cbstr name = cbstr_new(k, len);
        dict_entry *e = dict_add_raw(p->pending, name, &existing);
        if (!e) {
            cbstr_free(name);
            e = existing;
        }
        e->v.val = (void *)(uintptr_t)writer; /* the last writer counts */
        ts->bcast_dirty = 1;
    }
}

static void flush_all(cb_worker *w) {
    if (flushed_in_cmd) return;
    flushed_in_cmd = 1;
    /* FLUSHDB/FLUSHALL (the other workers are parked): every tracking
     * client hears a null, and every table is forgotten. */
    for (int i = 0; i < g_server.nworkers; i++) {
        if (i == w->id) continue;
        uint8_t t = M_FLUSH;
        xshard_send_tracking(w, i, &t, 1);
    }
    for (cb_client *c = w->clients; c; c = c->next) {
        if (!c->trk || !(c->trk->flags & T_ON) || (c->flags & (CLIENT_CLOSED | CLIENT_CLOSE_ASAP)))
            continue;
        tbuf b = {0};
        uint8_t t = M_KEYS;
        tb_put(&b, &t, 1);
        tb_u64(&b, c->id);
        tb_u64(&b, (uint64_t)-1);
        /* M_KEYS with a null skips BCAST clients: send it as a flush. */
        if (c->trk->flags & T_BCAST) b.p[0] = M_BCAST;
        defer_or_send(w, w->id, c->id, &b);
    }
    for (int i = 0; i < ntshards; i++) {
        dict_clear(tshards[i].keys);
        tshards[i].items = 0;
    }
}

void tracking_key_modified(cb_db *db, const char *key, size_t len) {
    cb_worker *w = worker_self();
    if (!w || !tshards) return;
    if (!key) {
        /* SWAPDB also announces whole dbs; Redis invalidates only on flush. */
        if (cur && cur->cmd && !strcmp(cur->cmd->name, "swapdb")) return;
        if (__atomic_load_n(&n_tracking, __ATOMIC_RELAXED) == 0) {
            for (int i = 0; i < ntshards; i++) {
                dict_clear(tshards[i].keys);
                tshards[i].items = 0;
            }
            return;
        }
        flush_all(w);
        return;
    }
    int si = shard_of_db(db);
    if (si < 0) return;
    trk_shard *ts = &tshards[si];
    uint64_t writer = cur ? cur->id : 0;
    if (ts->npfx) bcast_note(ts, key, len, writer);
    if (!dict_size(ts->keys)) return;
    dict_entry *e = dict_unlink(ts->keys, key, len);
    if (!e) return;
    trk_ids *ids = e->v.val;
    for (int i = 0; i < ids->n; i++) send_key(w, &ids->v[i], key, len, writer);
    ts->items -= (uint64_t)ids->n;
    dict_free_unlinked(ts->keys, e);
}

static int cmp_cbstr(const void *a, const void *b) {
    return cbstr_cmp(*(const cbstr *)a, *(const cbstr *)b);
}

static void send_bcast(cb_worker *w, trk_shard *ts);

void tracking_before_sleep(cb_worker *w) {
    if (!tshards || w->id >= ntshards) return;
    tracking_after_command(w); /* e.g. left by a served blocked client */
    evict_over_limit(w);       /* keys remembered by forwarded reads */
    trk_shard *ts = &tshards[w->id];
    if (ts->bcast_dirty) send_bcast(w, ts);
    /* What this turn's timers and BCAST sent must not wait for the next
     * turn's service to wake its receivers. */
    xshard_kick(w);
}

static void send_bcast(cb_worker *w, trk_shard *ts) {
    ts->bcast_dirty = 0;
    for (int i = 0; i < ts->npfx; i++) {
        bprefix *p = &ts->pfx[i];
        size_t n = dict_size(p->pending);
        if (!n) continue;
        /* Keys in lexicographic order, as Redis's radix tree yields them. */
        cbstr *names = cb_malloc(sizeof(cbstr) * n);
        uint64_t *writers = cb_malloc(sizeof(uint64_t) * n);
        size_t k = 0;
        dict_iter it;
        dict_iter_init(&it, p->pending, 0);
        dict_entry *e;
        while ((e = dict_iter_next(&it)) != NULL && k < n) names[k++] = e->key;
        dict_iter_release(&it);
        qsort(names, k, sizeof(cbstr), cmp_cbstr);
        for (size_t j = 0; j < k; j++)
            writers[j] = (uint64_t)(uintptr_t)dict_find(p->pending, names[j], cbstr_len(names[j]))->v.val;
        for (int c = 0; c < p->clients.n; c++) {
            tbuf b = {0};
            uint8_t t = M_BCAST;
            tb_put(&b, &t, 1);
            tb_u64(&b, p->clients.v[c].id);
            tb_u64(&b, k);
            for (size_t j = 0; j < k; j++) tb_key(&b, writers[j], names[j], cbstr_len(names[j]));
            defer_or_send(w, p->clients.v[c].wid, p->clients.v[c].id, &b);
        }
        cb_free(names);
        cb_free(writers);
        dict_clear(p->pending);
    }
}

/* ------------------------------------------------------ BCAST registry */

static int pfx_find(trk_shard *ts, const char *p, size_t len, int *pos) {
    int lo = 0, hi = ts->npfx;
    cbstr probe = cbstr_new(p, len);
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int r = cbstr_cmp(ts->pfx[mid].prefix, probe);
        if (r == 0) {
            cbstr_free(probe);
            *pos = mid;
            return 1;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    cbstr_free(probe);
    *pos = lo;
    return 0;
}

static void pfx_register(trk_shard *ts, const char *p, size_t len, uint64_t id, int wid) {
    int pos;
    if (!pfx_find(ts, p, len, &pos)) {
        if (ts->npfx == ts->pfx_cap) {
            ts->pfx_cap = ts->pfx_cap ? ts->pfx_cap * 2 : 4;
            ts->pfx = cb_realloc(ts->pfx, sizeof(*ts->pfx) * (size_t)ts->pfx_cap);
        }
        memmove(&ts->pfx[pos + 1], &ts->pfx[pos], sizeof(*ts->pfx) * (size_t)(ts->npfx - pos));
        memset(&ts->pfx[pos], 0, sizeof(*ts->pfx));
        ts->pfx[pos].prefix = cbstr_new(p, len);
        ts->pfx[pos].pending = dict_create(&pending_type, NULL, tseed);
        ts->npfx++;
    }
    ids_add(&ts->pfx[pos].clients, id, wid);
}

static void pfx_unregister(trk_shard *ts, const char *p, size_t len, uint64_t id) {
    int pos;
    if (!pfx_find(ts, p, len, &pos)) return;
    bprefix *b = &ts->pfx[pos];
    ids_del(&b->clients, id);
    if (b->clients.n) return;
    cb_free(b->clients.v);
    cbstr_free(b->prefix);
    dict_release(b->pending);
    memmove(&ts->pfx[pos], &ts->pfx[pos + 1], sizeof(*ts->pfx) * (size_t)(ts->npfx - pos - 1));
    ts->npfx--;
}

/* Add a prefix to the client's sorted list and to every shard. */
static void client_add_prefix(cb_client *c, const char *p, size_t len) {
    cb_track *t = c->trk;
    int pos = 0;
    cbstr s = cbstr_new(p, len);
    while (pos < t->nprefixes && cbstr_cmp(t->prefixes[pos], s) < 0) pos++;
    if (pos < t->nprefixes && cbstr_cmp(t->prefixes[pos], s) == 0) {
        cbstr_free(s);
        return;
    }
    t->prefixes = cb_realloc(t->prefixes, sizeof(cbstr) * (size_t)(t->nprefixes + 1));
    memmove(&t->prefixes[pos + 1], &t->prefixes[pos], sizeof(cbstr) * (size_t)(t->nprefixes - pos));
    t->prefixes[pos] = s;
    t->nprefixes++;
    for (int i = 0; i < ntshards; i++) pfx_register(&tshards[i], p, len, c->id, c->w->id);
}

/* ------------------------------------------------------- client state */

void tracking_disable(cb_client *c) {
    cb_track *t = c->trk;
    if (!t) return;
    if (t->flags & T_BCAST) {
        for (int j = 0; j < t->nprefixes; j++) {
            for (int i = 0; i < ntshards; i++)
                pfx_unregister(&tshards[i], t->prefixes[j], cbstr_len(t->prefixes[j]), c->id);
            cbstr_free(t->prefixes[j]);
        }
        cb_free(t->prefixes);
        t->prefixes = NULL;
        t->nprefixes = 0;
    }
    if (t->flags & T_ON) __atomic_sub_fetch(&n_tracking, 1, __ATOMIC_RELAXED);
    t->flags = 0;
}

int tracking_close_needs_park(const cb_client *c) { return c->trk && c->trk->nprefixes > 0; }

void tracking_client_closed(cb_client *c) {
    if (!c->trk) return;
    tracking_disable(c);
    cb_free(c->trk);
    c->trk = NULL;
}

int tracking_info_flags(const cb_client *c, char *p) {
    int n = 0;
    if (!c->trk) return 0;
    if (c->trk->flags & T_ON) p[n++] = 't';
    if (c->trk->flags & T_BROKEN) p[n++] = 'R';
    if (c->trk->flags & T_BCAST) p[n++] = 'B';
    return n;
}

long long tracking_redir(const cb_client *c) {
    return c->trk && (c->trk->flags & T_ON) ? (long long)c->trk->redirect : -1;
}

/* ------------------------------------------------------------- INFO */

uint64_t tracking_clients(void) { return __atomic_load_n(&n_tracking, __ATOMIC_RELAXED); }

uint64_t tracking_total_keys(void) {
    uint64_t n = 0;
    for (int i = 0; i < ntshards; i++) n += dict_size(tshards[i].keys);
    return n;
}

uint64_t tracking_total_items(void) {
    uint64_t n = 0;
    for (int i = 0; i < ntshards; i++) n += tshards[i].items;
    return n;
}

uint64_t tracking_total_prefixes(void) { return ntshards ? (uint64_t)tshards[0].npfx : 0; }

/* ----------------------------------------------------------- commands */

/* Redis compares two prefixes over the shorter one's length. */
static int overlaps(const char *a, size_t al, const char *b, size_t bl) {
    size_t n = al < bl ? al : bl;
    return memcmp(a, b, n) == 0;
}

static cb_client *lookup_any(uint64_t id, int *wid) {
    /* CLIENT TRACKING runs with the other workers parked. */
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_client *c = find_client(g_server.workers[i], id);
        if (c) {
            *wid = i;
            return c;
        }
    }
    return NULL;
}

/* CLIENT TRACKING (ON|OFF) [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN]
 * [OPTOUT] [NOLOOP] — runs with the other workers parked (xshard). */
void cmd_client_tracking(cb_client *c) {
    long long redir = 0;
    int redir_wid = -1;
    uint32_t opts = 0;
    int *pidx = cb_malloc(sizeof(int) * (size_t)c->argc);
    int np = 0;
    for (int j = 3; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (arg_eq(c, j, "redirect") && more) {
            j++;
            if (redir != 0) {
                reply_error(c, "A client can only redirect to a single other client");
                goto out;
            }
            if (arg_ll(c, j, &redir, NULL) != 0) goto out;
            if (redir <= 0 || !lookup_any((uint64_t)redir, &redir_wid)) {
                reply_error(c, "The client ID you want redirect to does not exist");
                goto out;
            }
        } else if (arg_eq(c, j, "bcast")) {
            opts |= T_BCAST;
        } else if (arg_eq(c, j, "optin")) {
            opts |= T_OPTIN;
        } else if (arg_eq(c, j, "optout")) {
            opts |= T_OPTOUT;
        } else if (arg_eq(c, j, "noloop")) {
            opts |= T_NOLOOP;
        } else if (arg_eq(c, j, "prefix") && more) {
            pidx[np++] = ++j;
        } else {
            reply_error(c, ERR_SYNTAX);
            goto out;
        }
    }
    if (arg_eq(c, 2, "on")) {
        uint32_t f = c->trk ? c->trk->flags : 0;
        if (!(opts & T_BCAST) && np) {
            reply_error(c, "PREFIX option requires BCAST mode to be enabled");
            goto out;
        }
        if ((f & T_ON) && !!(f & T_BCAST) != !!(opts & T_BCAST)) {
            reply_error(c, "You can't switch BCAST mode on/off before disabling tracking for "
                           "this client, and then re-enabling it with a different mode.");
            goto out;
        }
        if ((opts & T_BCAST) && (opts & (T_OPTIN | T_OPTOUT))) {
            reply_error(c, "OPTIN and OPTOUT are not compatible with BCAST");
            goto out;
        }
        if ((opts & T_OPTIN) && (opts & T_OPTOUT)) {
            reply_error(c, "You can't specify both OPTIN mode and OPTOUT mode");
            goto out;
        }
        if (((opts & T_OPTIN) && (f & T_OPTOUT)) || ((opts & T_OPTOUT) && (f & T_OPTIN))) {
            reply_error(c, "You can't switch OPTIN/OPTOUT mode before disabling tracking for "
                           "this client, and then re-enabling it with a different mode.");
            goto out;
        }
        if (opts & T_BCAST) {
            /* Redis checks each new prefix against the client's existing
             * ones, then against the later new ones; an overlap found after
             * the first new prefix still enables tracking (and says +OK
             * after the error): its reply is kept byte for byte. */
            for (int i = 0; i < np; i++) {
                const char *a = c->argv[pidx[i]];
                size_t al = c->argv_len[pidx[i]];
                for (int k = 0; c->trk && k < c->trk->nprefixes; k++) {
                    cbstr e = c->trk->prefixes[k];
                    if (overlaps(e, cbstr_len(e), a, al)) {
                        reply_errorf(c, "Prefix '%.*s' overlaps with an existing prefix '%.*s'. "
                                        "Prefixes for a single client must not overlap.",
                                     (int)al, a, (int)cbstr_len(e), e);
                        goto out;
                    }
                }
                int bad = 0;
                for (int k = i + 1; k < np && !bad; k++) {
                    const char *b = c->argv[pidx[k]];
                    size_t bl = c->argv_len[pidx[k]];
                    if (overlaps(a, al, b, bl)) {
                        reply_errorf(c, "Prefix '%.*s' overlaps with another provided prefix "
                                        "'%.*s'. Prefixes for a single client must not overlap.",
                                     (int)al, a, (int)bl, b);
                        bad = 1;
                    }
                }
                if (bad) {
                    if (i == 0) goto out;
                    break;
                }
            }
        }
        if (!c->trk) c->trk = cb_calloc(sizeof(cb_track));
        cb_track *t = c->trk;
        if (!(t->flags & T_ON)) __atomic_add_fetch(&n_tracking, 1, __ATOMIC_RELAXED);
        t->flags |= T_ON;
        t->flags &= ~(T_BROKEN | T_BCAST | T_OPTIN | T_OPTOUT | T_NOLOOP);
        t->redirect = (uint64_t)redir;
        t->redirect_wid = redir_wid;
        if (opts & T_BCAST) {
            t->flags |= T_BCAST;
            if (np == 0) client_add_prefix(c, "", 0);
            for (int i = 0; i < np; i++) client_add_prefix(c, c->argv[pidx[i]], c->argv_len[pidx[i]]);
        }
        t->flags |= opts & (T_OPTIN | T_OPTOUT | T_NOLOOP);
    } else if (arg_eq(c, 2, "off")) {
        tracking_disable(c);
    } else {
        reply_error(c, ERR_SYNTAX);
        goto out;
    }
    reply_ok(c);
out:
    cb_free(pidx);
}

void cmd_client_caching(cb_client *c) {
    cb_track *t = c->trk;
    if (!t || !(t->flags & T_ON)) {
        reply_error(c, "CLIENT CACHING can be called only when the client is in tracking mode "
                       "with OPTIN or OPTOUT mode enabled");
        return;
    }
    if (arg_eq(c, 2, "yes")) {
        if (!(t->flags & T_OPTIN)) {
            reply_error(c, "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
            return;
        }
    } else if (arg_eq(c, 2, "no")) {
        if (!(t->flags & T_OPTOUT)) {
            reply_error(c, "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
            return;
        }
    } else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    t->flags |= T_CACHING;
    reply_ok(c);
}

void cmd_client_getredir(cb_client *c) { reply_int(c, tracking_redir(c)); }

void cmd_client_trackinginfo(cb_client *c) {
    uint32_t f = c->trk ? c->trk->flags : 0;
    reply_map_len(c, 3);
    reply_bulk_cstr(c, "flags");
    void *h = reply_deferred_len(c);
    long n = 1;
    reply_bulk_cstr(c, (f & T_ON) ? "on" : "off");
    if (f & T_BCAST) reply_bulk_cstr(c, "bcast"), n++;
    if (f & T_OPTIN) {
        reply_bulk_cstr(c, "optin"), n++;
        if (f & T_CACHING) reply_bulk_cstr(c, "caching-yes"), n++;
    }
    if (f & T_OPTOUT) {
        reply_bulk_cstr(c, "optout"), n++;
        if (f & T_CACHING) reply_bulk_cstr(c, "caching-no"), n++;
    }
    if (f & T_NOLOOP) reply_bulk_cstr(c, "noloop"), n++;
    if (f & T_BROKEN) reply_bulk_cstr(c, "broken_redirect"), n++;
    reply_set_deferred_len(c, h, n, 's');
    reply_bulk_cstr(c, "redirect");
    reply_int(c, tracking_redir(c));
    reply_bulk_cstr(c, "prefixes");
    int np = c->trk ? c->trk->nprefixes : 0;
    reply_array_len(c, np);
    for (int i = 0; i < np; i++) reply_bulk(c, c->trk->prefixes[i], cbstr_len(c->trk->prefixes[i]));
}
