/* propagate.c — records the effects of write commands (see propagate.h).
 *
 * Most commands are recorded as the client sent them. Those whose replay
 * would not be deterministic or not idempotent in time are rewritten the
 * way Redis 7.0 does, either here after the call by reading the result in
 * the keyspace (relative TTLs become absolute PXAT / PEXPIREAT, float
 * increments become the value they produced, GETDEL becomes DEL), or by
 * the handler itself with prop_rewrite / prop_add when only it knows the
 * effect (SPOP's members, which key a blocking pop served).
 */
#include "propagate.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cmd/command.h"
#include "worker.h"
#include "../persist/aof.h"
#include "../platform/config.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"
#include "../store/t_hash.h"
#include "../store/ds/stream.h"

typedef struct cb_prop {
    int depth;
    prop_frame *cur;
    cbstr batch;          /* encoded effects of the outermost call so far */
    uint32_t nops;
    aof_rec **ovf;        /* records that found the ring full, in order */
    int novf, ovf_cap;
} cb_prop;

cb_prop *prop_create(void) {
    cb_prop *p = cb_calloc(sizeof(*p));
    p->batch = cbstr_with_cap(256);
    return p;
}

void prop_destroy(cb_prop *p) {
    if (!p) return;
    for (int i = 0; i < p->novf; i++) cb_free(p->ovf[i]);
    cb_free(p->ovf);
    cbstr_free(p->batch);
    cb_free(p);
}

static cb_prop *self_prop(void) {
    cb_worker *w = worker_self();
    return w ? w->prop : NULL;
}

/* ------------------------------------------------------------ encoding */

static void encode_op(cb_prop *p, int dbid, int argc, const char *const *argv,
                      const size_t *lens) {
    size_t hdr = cbstr_len(p->batch);
    int32_t db = dbid;
    uint32_t zero = 0;
    p->batch = cbstr_cat(p->batch, &db, sizeof(db));
    p->batch = cbstr_cat(p->batch, &zero, sizeof(zero));
    size_t start = cbstr_len(p->batch);
    p->batch = cbstr_catfmt(p->batch, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        p->batch = cbstr_catfmt(p->batch, "$%zu\r\n", lens[i]);
        p->batch = cbstr_cat(p->batch, argv[i], lens[i]);
        p->batch = cbstr_cat(p->batch, "\r\n", 2);
    }
    uint32_t n = (uint32_t)(cbstr_len(p->batch) - start);
    memcpy(p->batch + hdr + sizeof(db), &n, sizeof(n));
    p->nops++;
}

static int try_enqueue(cb_worker *w, aof_rec *r) {
    return ring_enqueue(w->aof_ring, r);
}

/* The batch becomes one record in the worker's ring. */
static void emit(cb_prop *p) {
    if (!p->nops) return;
    cb_worker *w = worker_self();
    size_t len = cbstr_len(p->batch);
    aof_rec *r = cb_malloc(sizeof(*r) + len);
    r->nops = p->nops;
    r->len = (uint32_t)len;
    memcpy(r->data, p->batch, len);
    cbstr_clear(p->batch);
    p->nops = 0;
    r->seq = aof_take_seq();
    if (p->novf || try_enqueue(w, r) != 0) {
        if (p->novf == p->ovf_cap) {
            p->ovf_cap = p->ovf_cap ? p->ovf_cap * 2 : 16;
            p->ovf = cb_realloc(p->ovf, sizeof(*p->ovf) * (size_t)p->ovf_cap);
        }
        p->ovf[p->novf++] = r;
    }
    w->aof_kick = 1;
}

void prop_worker_turn(cb_worker *w) {
    cb_prop *p = w->prop;
    if (p && p->novf) {
        int i = 0;
        while (i < p->novf && try_enqueue(w, p->ovf[i]) == 0) i++;
        if (i) memmove(p->ovf, p->ovf + i, sizeof(*p->ovf) * (size_t)(p->novf - i));
        p->novf -= i;
        w->aof_kick = 1;
    }
    if (w->aof_kick) {
        w->aof_kick = 0;
        aof_kick();
    }
}

void prop_take_overflow(cb_worker *w, void (*take)(aof_rec *)) {
    cb_prop *p = w->prop;
    if (!p) return;
    for (int i = 0; i < p->novf; i++) take(p->ovf[i]);
    p->novf = 0;
}

/* ------------------------------------------------------------- the API */

void prop_add(int dbid, int argc, const char *const *argv, const size_t *lens) {
    cb_prop *p = self_prop();
    if (!p || !aof_recording()) return;
    encode_op(p, dbid, argc, argv, lens);
    if (p->depth == 0) emit(p);
}

void prop_rewrite(cb_client *c, int argc, const char *const *argv, const size_t *lens) {
    cb_prop *p = self_prop();
    if (!p || !p->cur || !aof_recording()) return;
    encode_op(p, c->dbid, argc, argv, lens);
    p->cur->own_done = 1;
}

void prop_suppress(cb_client *c) {
    (void)c;
    cb_prop *p = self_prop();
    if (p && p->cur) p->cur->own_done = 1;
}

void prop_key_expired(cb_db *db, const char *key, size_t len) {
    /* UNLINK when expiry frees lazily, as Redis records it. */
    int lazy = g_config.store.lazyfree_lazy_expire;
    const char *argv[2] = {lazy ? "UNLINK" : "DEL", key};
    size_t lens[2] = {lazy ? 6u : 3u, len};
    prop_add(db->id, 2, argv, lens);
}

void prop_key_evicted(cb_db *db, const char *key, size_t len) {
    int lazy = g_config.store.lazyfree_lazy_eviction;
    const char *argv[2] = {lazy ? "UNLINK" : "DEL", key};
    size_t lens[2] = {lazy ? 6u : 3u, len};
    prop_add(db->id, 2, argv, lens);
}

/* Dirty counter of everything this call can reach: its own shard, or
 * every shard while this thread holds the others parked. */
static uint64_t dirty_now(const cb_client *c) {
    cb_worker *w = worker_self();
    if (g_server.nworkers > 1 && __atomic_load_n(&g_server.park_active, __ATOMIC_ACQUIRE) &&
        __atomic_load_n(&g_server.park_owner, __ATOMIC_RELAXED) == w->id) {
        uint64_t sum = 0;
        for (int i = 0; i < g_server.nworkers; i++) sum += g_server.workers[i]->shard->dirty;
        return sum;
    }
    return c->shard->dirty;
}

void prop_call_begin(cb_client *c, prop_frame *f) {
    cb_prop *p = self_prop();
    f->parent = NULL;
    f->own_done = 0;
    f->children = 0;
    if (!p || !aof_recording()) {
        f->dirty0 = UINT64_MAX; /* not recording */
        return;
    }
    f->dirty0 = dirty_now(c);
    f->parent = p->cur;
    if (p->cur) p->cur->children = 1;
    p->cur = f;
    p->depth++;
}

/* ------------------------------------------------ rewrites after a call */

#define ARGV_MAX 8

typedef struct eff {
    int argc;
    const char *argv[ARGV_MAX];
    size_t lens[ARGV_MAX];
    char num[2][32];
} eff;

static void eff_arg(eff *e, const char *s, size_t len) {
    e->argv[e->argc] = s;
    e->lens[e->argc++] = len;
}
static void eff_word(eff *e, const char *s) { eff_arg(e, s, strlen(s)); }
static void eff_ll(eff *e, int slot, long long v) {
    int n = snprintf(e->num[slot], sizeof(e->num[slot]), "%lld", v);
    eff_arg(e, e->num[slot], (size_t)n);
}

static int is(const struct cb_command *cmd, const char *name) {
    return !cmd->parent && strcmp(cmd->name, name) == 0;
}

static int arg_is(const cb_client *c, int i, const char *w) {
    return c->argv_len[i] == strlen(w) && strncasecmp(c->argv[i], w, c->argv_len[i]) == 0;
}

/* DEL key (UNLINK when that deletion frees lazily), for a call that
 * removed a key it meant to give a deadline, or GETDEL. */
static void record_del(cb_prop *p, cb_client *c, int ki, int lazy) {
    const char *argv[2] = {lazy ? "UNLINK" : "DEL", c->argv[ki]};
    size_t lens[2] = {lazy ? 6u : 3u, c->argv_len[ki]};
    encode_op(p, c->dbid, 2, argv, lens);
}

/* The key's deadline after the call, or -2 when the key is gone. */
static long long key_deadline(cb_client *c, int ki) {
    if (!dict_find(c->db->keys, c->argv[ki], c->argv_len[ki])) return -2;
    return db_get_expire(c->db, c->argv[ki], c->argv_len[ki]);
}

/* SET ... EX/PX/EXAT/PXAT becomes SET k v PXAT <ms>; SET ... GET loses GET. */
static int rewrite_set(cb_prop *p, cb_client *c, eff *e) {
    int has_ttl = 0, has_get = 0;
    for (int i = 3; i < c->argc; i++) {
        if (arg_is(c, i, "EX") || arg_is(c, i, "PX") || arg_is(c, i, "EXAT") ||
            arg_is(c, i, "PXAT"))
            has_ttl = 1;
        if (arg_is(c, i, "GET")) has_get = 1;
    }
    if (has_ttl) {
        long long when = key_deadline(c, 1);
        if (when < 0) return 0;
        eff_word(e, "SET");
        eff_arg(e, c->argv[1], c->argv_len[1]);
        eff_arg(e, c->argv[2], c->argv_len[2]);
        eff_word(e, "PXAT");
        eff_ll(e, 0, when);
        return 2;
    }
    if (!has_get) return 0;
    /* Replayed without GET: the same effect, no reply to produce. */
    const char **v = cb_malloc(sizeof(char *) * (size_t)c->argc);
    size_t *l = cb_malloc(sizeof(size_t) * (size_t)c->argc);
    int n = 0;
    for (int i = 0; i < c->argc; i++) {
        if (i >= 3 && arg_is(c, i, "GET")) continue;
        v[n] = c->argv[i];
        l[n++] = c->argv_len[i];
    }
    encode_op(p, c->dbid, n, v, l);
    cb_free(v);
    cb_free(l);
    return 1;
}

/* EXPIRE family and GETEX: absolute PEXPIREAT, PERSIST, or DEL when the
 * deadline was already past (the key is gone). */
static int rewrite_expire(cb_prop *p, cb_client *c, const struct cb_command *cmd, eff *e) {
    long long when = key_deadline(c, 1);
    if (when == -2) {
        record_del(p, c, 1, g_config.store.lazyfree_lazy_expire);
        return 1;
    }
    int getex = is(cmd, "getex");
    if (when < 0) {
        if (!getex) return 0;
        eff_word(e, "PERSIST");
        eff_arg(e, c->argv[1], c->argv_len[1]);
        return 2;
    }
    if (is(cmd, "pexpireat")) return 0;
    eff_word(e, "PEXPIREAT");
    eff_arg(e, c->argv[1], c->argv_len[1]);
    eff_ll(e, 0, when);
    for (int i = 3; !getex && i < c->argc && e->argc < ARGV_MAX; i++)
        eff_arg(e, c->argv[i], c->argv_len[i]); /* NX XX GT LT stay */
    return 2;
}

/* XADD / XTRIM: the ID the server chose replaces `*` / `<ms>-*` (XADD),
 * and an approximate trim becomes exact at what is left (MAXLEN = length,
 * MINID = first ID), as 7.0 records them: a replay must not mint other IDs
 * or trim differently. */
static int rewrite_stream_write(cb_prop *p, cb_client *c, int xadd) {
    dict_entry *de = dict_find(c->db->keys, c->argv[1], c->argv_len[1]);
    if (!de || ((cb_obj *)de->v.val)->type != OBJ_STREAM) return 0;
    const stream *st = ((cb_obj *)de->v.val)->ptr;
    int i = 2, approx_at = -1, minid = 0, limit = 0;
    while (i < c->argc) {
        if (xadd && arg_is(c, i, "NOMKSTREAM")) {
            i++;
        } else if (arg_is(c, i, "MAXLEN") || arg_is(c, i, "MINID")) {
            minid = arg_is(c, i, "MINID");
            i++;
            if (i < c->argc && arg_is(c, i, "~")) approx_at = i;
            if (i < c->argc && (arg_is(c, i, "~") || arg_is(c, i, "="))) i++;
            i++;
            if (i + 1 < c->argc && arg_is(c, i, "LIMIT")) {
                limit = 1;
                i += 2;
            }
            if (!xadd) break;
        } else {
            break;
        }
    }
    if (limit) approx_at = -1; /* kept as sent: LIMIT needs `~` */
    int id_at = xadd && i < c->argc && c->argv_len[i] >= 1 &&
                c->argv[i][c->argv_len[i] - 1] == '*' ? i : -1;
    if (id_at < 0 && approx_at < 0) return 0;
    const char **v = cb_malloc(sizeof(char *) * (size_t)c->argc);
    size_t *l = cb_malloc(sizeof(size_t) * (size_t)c->argc);
    char idbuf[48], thbuf[48];
    for (int k = 0; k < c->argc; k++) {
        v[k] = c->argv[k];
        l[k] = c->argv_len[k];
    }
    if (id_at >= 0) {
        l[id_at] = (size_t)snprintf(idbuf, sizeof(idbuf), "%llu-%llu",
                                    (unsigned long long)st->last_id.ms,
                                    (unsigned long long)st->last_id.seq);
        v[id_at] = idbuf;
    }
    if (approx_at >= 0) {
        v[approx_at] = "=";
        l[approx_at] = 1;
        if (minid)
            l[approx_at + 1] = (size_t)snprintf(thbuf, sizeof(thbuf), "%llu-%llu",
                                                (unsigned long long)st->first_id.ms,
                                                (unsigned long long)st->first_id.seq);
        else
            l[approx_at + 1] = (size_t)snprintf(thbuf, sizeof(thbuf), "%llu",
                                                (unsigned long long)st->length);
        v[approx_at + 1] = thbuf;
    }
    encode_op(p, c->dbid, c->argc, v, l);
    cb_free(v);
    cb_free(l);
    return 1;
}

/* RESTORE with a relative TTL: the absolute deadline and ABSTTL. */
static int rewrite_restore(cb_prop *p, cb_client *c) {
    if (c->argv_len[2] == 1 && c->argv[2][0] == '0') return 0;
    for (int i = 4; i < c->argc; i++)
        if (arg_is(c, i, "ABSTTL")) return 0;
    long long when = key_deadline(c, 1);
    if (when < 0) return 0;
    const char **v = cb_malloc(sizeof(char *) * (size_t)(c->argc + 1));
    size_t *l = cb_malloc(sizeof(size_t) * (size_t)(c->argc + 1));
    char num[24];
    for (int k = 0; k < c->argc; k++) {
        v[k] = c->argv[k];
        l[k] = c->argv_len[k];
    }
    l[2] = (size_t)snprintf(num, sizeof(num), "%lld", when);
    v[2] = num;
    v[c->argc] = "ABSTTL";
    l[c->argc] = 6;
    encode_op(p, c->dbid, c->argc + 1, v, l);
    cb_free(v);
    cb_free(l);
    return 1;
}

/* Rewrites Redis 7.0 applies to the command's own effect; 1 when done. */
static int rewrite_own(cb_prop *p, cb_client *c, const struct cb_command *cmd) {
    eff e = {0};
    char vbuf[64];
    int r = 0;
    if (is(cmd, "set") && c->argc > 3) {
        r = rewrite_set(p, c, &e);
    } else if (is(cmd, "setex") || is(cmd, "psetex")) {
        long long when = key_deadline(c, 1);
        if (when >= 0) {
            eff_word(&e, "SET");
            eff_arg(&e, c->argv[1], c->argv_len[1]);
            eff_arg(&e, c->argv[3], c->argv_len[3]);
            eff_word(&e, "PXAT");
            eff_ll(&e, 0, when);
            r = 2;
        }
    } else if (is(cmd, "expire") || is(cmd, "pexpire") || is(cmd, "expireat") ||
               is(cmd, "pexpireat") || is(cmd, "getex")) {
        r = rewrite_expire(p, c, cmd, &e);
    } else if (is(cmd, "xadd") || is(cmd, "xtrim")) {
        r = rewrite_stream_write(p, c, is(cmd, "xadd"));
    } else if (is(cmd, "restore")) {
        r = rewrite_restore(p, c);
    } else if (is(cmd, "getdel")) {
        record_del(p, c, 1, g_config.store.lazyfree_lazy_user_del);
        r = 1;
    } else if (is(cmd, "incrbyfloat")) {
        dict_entry *de = dict_find(c->db->keys, c->argv[1], c->argv_len[1]);
        if (de) {
            size_t vl;
            const char *v = obj_str(de->v.val, vbuf, &vl);
            eff_word(&e, "SET");
            eff_arg(&e, c->argv[1], c->argv_len[1]);
            eff_arg(&e, v, vl);
            eff_word(&e, "KEEPTTL");
            r = 2;
        }
    } else if (is(cmd, "hincrbyfloat")) {
        dict_entry *de = dict_find(c->db->keys, c->argv[1], c->argv_len[1]);
        const char *v;
        size_t vl;
        if (de && hash_get(de->v.val, c->argv[2], c->argv_len[2], vbuf, &v, &vl)) {
            eff_word(&e, "HSET");
            eff_arg(&e, c->argv[1], c->argv_len[1]);
            eff_arg(&e, c->argv[2], c->argv_len[2]);
            eff_arg(&e, v, vl);
            r = 2;
        }
    }
    /* 2: the rewritten command is in e. */
    if (r == 2) encode_op(p, c->dbid, e.argc, e.argv, e.lens);
    return r != 0;
}

void prop_call_end(cb_client *c, const struct cb_command *cmd, prop_frame *f) {
    if (f->dirty0 == UINT64_MAX) return;
    cb_prop *p = self_prop();
    p->cur = f->parent;
    p->depth--;
    /* A container (EXEC, a script) is represented by what ran inside it. */
    if (!f->own_done && !f->children && dirty_now(c) != f->dirty0 &&
        (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE))) {
        if (!rewrite_own(p, c, cmd)) encode_op(p, c->dbid, c->argc, c->argv, c->argv_len);
    }
    if (p->depth == 0) {
        emit(p);
        c->aof_wait = aof_last_seq();
    }
}
