/* aof_rewrite.c — the AOF base as commands (see aof_rewrite.h). Values are
 * visited through each type's own iterators; bytes go through a buffer
 * flushed to the file every 64 KB so memory stays flat.
 */
#include "aof_rewrite.h"
#include "pio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rdb.h"
#include "../platform/config.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"
#include "../store/ds/quicklist.h"
#include "../store/t_hash.h"
#include "../store/t_stream.h"
#include "../store/t_zset.h"

#define ITEMS_PER_CMD 64

typedef struct rw {
    int fd;
    int failed;
    cbstr buf;
    /* the command being built: its name and key, then items */
    const char *name;
    const char *key;
    size_t klen;
    int per_item;       /* arguments per item (2 for ZADD/HMSET) */
    cbstr items;        /* encoded arguments of the pending command */
    int nargs;
    size_t unsynced;    /* bytes written since the last fdatasync */
} rw;

/* aof-rewrite-incremental-fsync: sync every 4 MB so the final fsync does
 * not hit the disk with the whole file at once (Redis's step). */
#define INCREMENTAL_FSYNC_BYTES (4u * 1024 * 1024)

static void rw_flush(rw *w, int force) {
    /* fd -1: the caller keeps the bytes (a snapshot chunk). */
    if (w->fd < 0 || w->failed || (!force && cbstr_len(w->buf) < 65536)) return;
    size_t off = 0, len = cbstr_len(w->buf);
    while (off < len) {
        ssize_t n = pio()->write(w->fd, w->buf + off, len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            w->failed = errno;
            return;
        }
        off += (size_t)n;
    }
    cbstr_clear(w->buf);
    w->unsynced += len;
    if (g_config.aof_rewrite_incremental_fsync && w->unsynced >= INCREMENTAL_FSYNC_BYTES) {
        if (pio()->fdatasync(w->fd) != 0) w->failed = errno;
        w->unsynced = 0;
    }
}

static cbstr bulk(cbstr b, const void *p, size_t n) {
    b = cbstr_catfmt(b, "$%zu\r\n", n);
    b = cbstr_cat(b, p, n);
    return cbstr_cat(b, "\r\n", 2);
}

static void emit_cmd(rw *w, int argc, const char *const *argv, const size_t *lens) {
    w->buf = cbstr_catfmt(w->buf, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) w->buf = bulk(w->buf, argv[i], lens[i]);
    rw_flush(w, 0);
}

static void batch_end(rw *w) {
    if (!w->nargs) return;
    w->buf = cbstr_catfmt(w->buf, "*%d\r\n", 2 + w->nargs);
    w->buf = bulk(w->buf, w->name, strlen(w->name));
    w->buf = bulk(w->buf, w->key, w->klen);
    w->buf = cbstr_cat(w->buf, w->items, cbstr_len(w->items));
    cbstr_clear(w->items);
    w->nargs = 0;
    rw_flush(w, 0);
}

static void batch_item(rw *w, const char *p, size_t n) {
    w->items = bulk(w->items, p, n);
    w->nargs++;
    if (w->nargs >= ITEMS_PER_CMD * w->per_item) batch_end(w);
}

static void set_item(void *priv, const char *p, size_t len) { batch_item(priv, p, len); }

static void hash_item(void *priv, const char *f, size_t fl, const char *v, size_t vl) {
    batch_item(priv, f, fl);
    batch_item(priv, v, vl);
}

/* ---- streams: XADD per entry (or the MAXLEN 0 trick for an empty one),
 * XSETID, then per group XGROUP CREATE, and per consumer its pending
 * entries as XCLAIM or XGROUP CREATECONSUMER, as Redis 7.0 rewrites. */

typedef struct sw {
    rw *w;
    const char *gname;
    size_t glen;
    const char *cname;
    size_t clen;
} sw;

static void st_group(void *priv, const char *name, size_t len, const stream_id *last,
                     long long entries_read) {
    sw *x = priv;
    x->gname = name;
    x->glen = len;
    char idb[48], erb[24];
    size_t il = stream_id_fmt(last, idb);
    int el = snprintf(erb, sizeof(erb), "%lld", entries_read);
    const char *v[7] = {"XGROUP", "CREATE", x->w->key, name, idb, "ENTRIESREAD", erb};
    size_t l[7] = {6, 6, x->w->klen, len, il, 11, (size_t)el};
    emit_cmd(x->w, 7, v, l);
}

static void st_consumer(void *priv, const char *name, size_t len, size_t npending) {
    sw *x = priv;
    x->cname = name;
    x->clen = len;
    if (npending) return;
    const char *v[5] = {"XGROUP", "CREATECONSUMER", x->w->key, x->gname, name};
    size_t l[5] = {6, 14, x->w->klen, x->glen, len};
    emit_cmd(x->w, 5, v, l);
}

static void st_pending(void *priv, const stream_id *id, long long dtime, uint64_t dcount) {
    sw *x = priv;
    char idb[48], tb[24], cb[24];
    size_t il = stream_id_fmt(id, idb);
    int tl = snprintf(tb, sizeof(tb), "%lld", dtime);
    int cl = snprintf(cb, sizeof(cb), "%llu", (unsigned long long)dcount);
    const char *v[12] = {"XCLAIM", x->w->key, x->gname, x->cname, "0", idb, "TIME", tb,
                         "RETRYCOUNT", cb, "JUSTID", "FORCE"};
    size_t l[12] = {6, x->w->klen, x->glen, x->clen, 1, il, 4, (size_t)tl, 10, (size_t)cl, 6, 5};
    emit_cmd(x->w, 12, v, l);
}

static void write_stream(rw *w, const stream *st) {
    char idb[48];
    size_t il;
    if (st->length) {
        stream_iter it;
        stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
        stream_iter_init(&it, st, &lo, &hi, 0);
        while (stream_iter_next(&it)) {
            il = stream_id_fmt(&it.id, idb);
            w->buf = cbstr_catfmt(w->buf, "*%zu\r\n", 3 + 2 * it.npairs);
            w->buf = bulk(w->buf, "XADD", 4);
            w->buf = bulk(w->buf, w->key, w->klen);
            w->buf = bulk(w->buf, idb, il);
            for (size_t i = 0; i < 2 * it.npairs; i++) w->buf = bulk(w->buf, it.kv[i], it.kvlen[i]);
            rw_flush(w, 0);
        }
        stream_iter_release(&it);
    } else {
        /* An empty stream: add and trim one entry; XSETID below sets the
         * real last ID. */
        const char *v[7] = {"XADD", w->key, "MAXLEN", "0", "0-1", "x", "y"};
        size_t l[7] = {4, w->klen, 6, 1, 3, 1, 1};
        emit_cmd(w, 7, v, l);
    }
    char eab[24], mdb[48];
    il = stream_id_fmt(&st->last_id, idb);
    int el = snprintf(eab, sizeof(eab), "%llu", (unsigned long long)st->entries_added);
    size_t ml = stream_id_fmt(&st->max_deleted, mdb);
    const char *v[7] = {"XSETID", w->key, idb, "ENTRIESADDED", eab, "MAXDELETEDID", mdb};
    size_t l[7] = {6, w->klen, il, 12, (size_t)el, 12, ml};
    emit_cmd(w, 7, v, l);
    sw x = {.w = w};
    stream_cg_visitor vis = {st_group, st_consumer, st_pending};
    stream_cg_visit(st->cgroups, &vis, &x);
}

static int write_key(rw *w, const char *k, size_t kl, const cb_obj *o) {
    w->key = k;
    w->klen = kl;
    w->per_item = 1;
    switch (o->type) {
    case OBJ_STRING: {
        char buf[32];
        size_t vl;
        const char *v = obj_str(o, buf, &vl);
        const char *argv[3] = {"SET", k, v};
        size_t lens[3] = {3, kl, vl};
        emit_cmd(w, 3, argv, lens);
        return 0;
    }
    case OBJ_LIST: {
        w->name = "RPUSH";
        ql_iter it;
        ql_iter_init(o->ptr, &it, 0, QL_TAIL);
        while (ql_iter_next(&it)) {
            char buf[32];
            size_t vl;
            const char *v = lp_str(&it.val, buf, &vl);
            batch_item(w, v, vl);
        }
        ql_iter_release(&it);
        break;
    }
    case OBJ_SET:
        w->name = "SADD";
        set_foreach(o, set_item, w);
        break;
    case OBJ_HASH:
        w->name = "HMSET";
        w->per_item = 2;
        hash_foreach(o, hash_item, w);
        break;
    case OBJ_ZSET: {
        w->name = "ZADD";
        w->per_item = 2;
        zset_it it;
        for (zit_init(&it, o, 0); zit_valid(&it); zit_next(&it)) {
            const char *e;
            size_t el;
            double sc;
            zit_get(&it, &e, &el, &sc);
            char num[64];
            size_t nl = util_d2str(num, sizeof(num), sc);
            batch_item(w, num, nl);
            batch_item(w, e, el);
        }
        zit_release(&it);
        break;
    }
    case OBJ_STREAM:
        write_stream(w, o->ptr);
        return 0;
    default:
        return -1;
    }
    batch_end(w);
    return 0;
}

/* A function library, as Redis's rewrite writes it: FUNCTION LOAD <code>. */
static void emit_fn_load(void *priv, const char *code, size_t len) {
    const char *argv[3] = {"FUNCTION", "LOAD", code};
    size_t lens[3] = {8, 4, len};
    emit_cmd(priv, 3, argv, lens);
}

/* ---- one key at a time, for the fork-less rewrite (persist/bgsave.c):
 * the bytes go to the caller's chunk instead of a file. */

int aof_enc_key_cmds(cbstr *b, const char *key, size_t klen, const cb_obj *val,
                     long long expire_ms) {
    rw w = {.fd = -1, .buf = *b, .items = cbstr_with_cap(256)};
    int rc = write_key(&w, key, klen, val);
    if (rc == 0 && expire_ms >= 0) {
        char num[24];
        int nl = snprintf(num, sizeof(num), "%lld", expire_ms);
        const char *argv[3] = {"PEXPIREAT", key, num};
        size_t lens[3] = {9, klen, (size_t)nl};
        emit_cmd(&w, 3, argv, lens);
    }
    cbstr_free(w.items);
    *b = w.buf;
    return rc;
}

cbstr aof_enc_select(cbstr b, int dbid) {
    char num[16];
    int nl = snprintf(num, sizeof(num), "%d", dbid);
    b = cbstr_cat(b, "*2\r\n", 4);
    b = bulk(b, "SELECT", 6);
    return bulk(b, num, (size_t)nl);
}

cbstr aof_enc_functions(cbstr b) {
    rw w = {.fd = -1, .buf = b};
    const rdb_fn_hooks *fh = rdb_fn_hooks_get();
    if (fh && fh->each) fh->each(&w, emit_fn_load);
    return w.buf;
}

int aof_rewrite_commands(cb_shard **shards, int nshards, const char *path, char **err) {
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.temp-rewrite-%d", path, (int)getpid());
    rw w = {.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (w.fd < 0) {
        *err = cb_strdup(strerror(errno));
        return -1;
    }
    w.buf = cbstr_with_cap(65536);
    w.items = cbstr_with_cap(1024);
    int ndb = nshards ? shards[0]->ndb : 0;
    const char *bad = NULL;
    long long now = util_mstime();
    /* Libraries first, so that replaying needs nothing else. */
    const rdb_fn_hooks *fh = rdb_fn_hooks_get();
    if (fh && fh->each) fh->each(&w, emit_fn_load);
    for (int d = 0; d < ndb && !bad; d++) {
        int selected = 0;
        for (int s = 0; s < nshards && !bad; s++) {
            cb_db *db = &shards[s]->dbs[d];
            dict_iter it;
            dict_iter_init(&it, db->keys, 0);
            dict_entry *e;
            while ((e = dict_iter_next(&it)) != NULL) {
                if (!selected) {
                    char num[16];
                    int nl = snprintf(num, sizeof(num), "%d", d);
                    const char *argv[2] = {"SELECT", num};
                    size_t lens[2] = {6, (size_t)nl};
                    emit_cmd(&w, 2, argv, lens);
                    selected = 1;
                }
                size_t kl = cbstr_len(e->key);
                long long when = db_get_expire(db, e->key, kl);
                if (when >= 0 && when < now) continue; /* already expired */
                if (write_key(&w, e->key, kl, e->v.val) != 0) {
                    bad = "a module value cannot be written as AOF commands";
                    break;
                }
                if (when >= 0) {
                    char num[24];
                    int nl = snprintf(num, sizeof(num), "%lld", when);
                    const char *argv[3] = {"PEXPIREAT", e->key, num};
                    size_t lens[3] = {9, kl, (size_t)nl};
                    emit_cmd(&w, 3, argv, lens);
                }
            }
            dict_iter_release(&it);
        }
    }
    rw_flush(&w, 1);
    int rc = 0;
    if (bad || w.failed || pio()->fsync(w.fd) != 0) {
        *err = cb_strdup(bad ? bad : strerror(w.failed ? w.failed : errno));
        rc = -1;
    }
    close(w.fd);
    if (rc == 0 && pio()->rename(tmp, path) != 0) {
        *err = cb_strdup(strerror(errno));
        rc = -1;
    }
    if (rc != 0) unlink(tmp);
    cbstr_free(w.buf);
    cbstr_free(w.items);
    return rc;
}
