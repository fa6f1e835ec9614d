/* rdb_save.c — writing RDB version 10 files as Redis 7.0 does.
 *
 * Layers, top to bottom: the file writer (temp file, buffered writes with a
 * running CRC-64, fsync, rename, directory fsync); the dataset walk (aux
 * fields, then per non-empty db SELECTDB, RESIZEDB and its keys from every
 * shard); per-type value encoders that append to a cbstr, so DUMP can reuse
 * them; and the primitive encodings (lengths, integers, LZF strings).
 * The file layout is pinned by the codes and comments in rdb.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lzf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc64.h"
#include "pio.h"
#include "listpack.h"
#include "rdb.h"
#include "rdb_stream.h"
#include "../platform/config.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"
#include "../store/object.h"
#include "../store/t_hash.h"
#include "../store/t_zset.h"
#include "../store/ds/intset.h"
#include "../store/ds/quicklist.h"

/* ------------------------------------------------------------------------
 * Primitive encodings
 * ---------------------------------------------------------------------- */

static cbstr put_byte(cbstr b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    return cbstr_cat(b, &c, 1);
}

cbstr rdb_enc_len(cbstr b, uint64_t len)
{
    unsigned char buf[9];
    size_t n;
    if (len < (1u << 6)) {
        buf[0] = (unsigned char)((RDB_6BITLEN << 6) | len);
        n = 1;
    } else if (len < (1u << 14)) {
        buf[0] = (unsigned char)((RDB_14BITLEN << 6) | (len >> 8));
        buf[1] = (unsigned char)(len & 0xff);
        n = 2;
    } else if (len <= UINT32_MAX) {
        /* Big endian, unlike every other integer in the format. */
        buf[0] = RDB_32BITLEN;
        for (int i = 0; i < 4; i++) buf[1 + i] = (unsigned char)(len >> (24 - 8 * i));
        n = 5;
    } else {
        buf[0] = RDB_64BITLEN;
        for (int i = 0; i < 8; i++) buf[1 + i] = (unsigned char)(len >> (56 - 8 * i));
        n = 9;
    }
    return cbstr_cat(b, buf, n);
}

/* Little-endian integer of n bytes. */
static cbstr put_le(cbstr b, uint64_t v, int n)
{
    unsigned char buf[8];
    for (int i = 0; i < n; i++) buf[i] = (unsigned char)(v >> (8 * i));
    return cbstr_cat(b, buf, (size_t)n);
}

/* INT8/16/32 special encoding when v fits in 32 bits; sets *done when it
 * wrote one. */
static cbstr put_int_encoded(cbstr b, long long v, int *done)
{
    *done = 1;
    if (v >= INT8_MIN && v <= INT8_MAX) {
        b = put_byte(b, (RDB_ENCVAL << 6) | RDB_ENC_INT8);
        return put_le(b, (uint64_t)v, 1);
    }
    if (v >= INT16_MIN && v <= INT16_MAX) {
        b = put_byte(b, (RDB_ENCVAL << 6) | RDB_ENC_INT16);
        return put_le(b, (uint64_t)v, 2);
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
        b = put_byte(b, (RDB_ENCVAL << 6) | RDB_ENC_INT32);
        return put_le(b, (uint64_t)v, 4);
    }
    *done = 0;
    return b;
}

/* LZF form: the compressed size, the original size, the compressed bytes.
 * Only when it saves at least 4 bytes (Redis's rule, which also keeps short
 * incompressible inputs plain). Sets *done. */
static cbstr put_lzf(cbstr b, const void *p, size_t len, int *done)
{
    *done = 0;
    if (len <= 4 || len > UINT_MAX) return b;
    size_t outlen = len - 4;
    unsigned char *out = cb_try_malloc(outlen + 1);
    if (!out) return b; /* compression is an optimisation: write it plain */
    unsigned clen = lzf_compress(p, (unsigned)len, out, (unsigned)outlen);
    if (clen > 0) {
        b = put_byte(b, (RDB_ENCVAL << 6) | RDB_ENC_LZF);
        b = rdb_enc_len(b, clen);
        b = rdb_enc_len(b, len);
        b = cbstr_cat(b, out, clen);
        *done = 1;
    }
    cb_free(out);
    return b;
}

cbstr rdb_enc_string(cbstr b, const void *p, size_t len, int compress)
{
    int done = 0;
    long long v;
    /* Only canonical forms: "012" or "+1" must come back byte for byte. */
    if (len <= 11 && util_str2ll(p, len, &v)) {
        b = put_int_encoded(b, v, &done);
        if (done) return b;
    }
    if (compress && len > 20) {
        b = put_lzf(b, p, len, &done);
        if (done) return b;
    }
    b = rdb_enc_len(b, len);
    return cbstr_cat(b, p, len);
}

/* ------------------------------------------------------------------------
 * Value encoders, one per type
 * ---------------------------------------------------------------------- */

static cbstr enc_string_value(cbstr b, const cb_obj *o, int compress)
{
    char tmp[CB_LL2STR_MAX];
    size_t len;
    const char *p = obj_str(o, tmp, &len);
    return rdb_enc_string(b, p, len, compress);
}

/* Quicklist container codes of RDB_TYPE_LIST_QUICKLIST_2 nodes. */
#define QL_CONTAINER_PLAIN 1
#define QL_CONTAINER_PACKED 2

/* A list as Redis 7.0 writes it: the node count, then per node its
 * container code and the node as a Redis listpack string (LZF when that
 * saves space). Our nodes keep their own pack format, so each is re-packed;
 * the node boundaries stay ours. */
static cbstr enc_list_value(cbstr b, const cb_obj *o, int compress)
{
    const quicklist *ql = o->ptr;
    b = rdb_enc_len(b, ql->len);
    for (const ql_node *n = ql->head; n; n = n->next) {
        unsigned char *plain = n->data, *tmp = NULL;
        if (n->compressed) {
            tmp = cb_malloc(n->sz);
            if (lzf_decompress(n->data, n->csz, tmp, n->sz) != n->sz) abort(); /* our own bytes */
            plain = tmp;
        }
        rlp_writer w;
        rlp_init(&w);
        for (unsigned char *p = lp_first(plain); p; p = lp_next(plain, p)) {
            lp_val v;
            char num[32];
            size_t len;
            lp_get(p, &v);
            const char *s = lp_str(&v, num, &len);
            rlp_append(&w, s, len);
        }
        cbstr lp = rlp_finish(&w);
        b = rdb_enc_len(b, QL_CONTAINER_PACKED);
        b = rdb_enc_string(b, lp, cbstr_len(lp), compress);
        cbstr_free(lp);
        cb_free(tmp);
    }
    return b;
}

typedef struct member_sink {
    cbstr b;
    int compress;
} member_sink;

static void sink_member(void *priv, const char *p, size_t len)
{
    member_sink *m = priv;
    m->b = rdb_enc_string(m->b, p, len, m->compress);
}

/* Intsets go out as their blob (already Redis's byte layout); hashtables
 * as a count and the members. */
static cbstr enc_set_value(cbstr b, const cb_obj *o, int compress)
{
    if (o->encoding == OBJ_ENC_INTSET)
        return rdb_enc_string(b, o->ptr, intset_blob_len(o->ptr), compress);
    member_sink m = { rdb_enc_len(b, dict_size(o->ptr)), compress };
    set_foreach(o, sink_member, &m);
    return m.b;
}

static void sink_pair(void *priv, const char *f, size_t fl, const char *v, size_t vl)
{
    member_sink *m = priv;
    m->b = rdb_enc_string(m->b, f, fl, m->compress);
    m->b = rdb_enc_string(m->b, v, vl, m->compress);
}

static void lp_pair(void *priv, const char *f, size_t fl, const char *v, size_t vl)
{
    rlp_append(priv, f, fl);
    rlp_append(priv, v, vl);
}

/* Compact hashes as one Redis listpack of field, value, ...; hashtables
 * as a count and the pairs. */
static cbstr enc_hash_value(cbstr b, const cb_obj *o, int compress)
{
    if (hash_is_compact(o)) {
        rlp_writer w;
        rlp_init(&w);
        hash_foreach(o, lp_pair, &w);
        cbstr lp = rlp_finish(&w);
        b = rdb_enc_string(b, lp, cbstr_len(lp), compress);
        cbstr_free(lp);
        return b;
    }
    member_sink m = { rdb_enc_len(b, hash_length(o)), compress };
    hash_foreach(o, sink_pair, &m);
    return m.b;
}

/* A score as Redis 7.0 stores it in a listpack (d2string): integral values
 * within +-2^62 as plain integers (so the listpack gets its integer
 * encodings, and -0 becomes "0"), the rest as "%.17g" / "inf" / "-inf". */
static size_t zset_score_str(char *buf, size_t len, double v)
{
    const double lim = 4611686018427387904.0; /* 2^62: the cast below is exact */
    if (v >= -lim && v <= lim) {
        long long ll = (long long)v;
        if ((double)ll == v) return util_ll2str(buf, len, ll);
    }
    return util_d2str(buf, len, v);
}

/* Compact sets as one Redis listpack of member, score, ... in rank order;
 * skiplists as a count and member + little-endian binary double pairs,
 * from the highest rank down as Redis writes them (each load insert then
 * lands at the head of its skiplist). */
static cbstr enc_zset_value(cbstr b, const cb_obj *o, int compress)
{
    if (o->encoding == OBJ_ENC_LISTPACK) {
        const zpack *zp = o->ptr;
        rlp_writer w;
        rlp_init(&w);
        for (size_t off = zp_first(zp); off; off = zp_next(zp, off)) {
            const char *e;
            size_t l;
            double sc;
            char num[CB_D2STR_MAX];
            zp_get(zp, off, &e, &l, &sc);
            rlp_append(&w, e, l);
            rlp_append(&w, num, zset_score_str(num, sizeof(num), sc));
        }
        cbstr lp = rlp_finish(&w);
        b = rdb_enc_string(b, lp, cbstr_len(lp), compress);
        cbstr_free(lp);
        return b;
    }
    const zset *z = o->ptr;
    b = rdb_enc_len(b, z->zsl->length);
    for (const zsl_node *n = z->zsl->tail; n; n = n->backward) {
        uint64_t bits;
        memcpy(&bits, &n->score, 8);
        b = rdb_enc_string(b, n->ele, cbstr_len(n->ele), compress);
        b = put_le(b, bits, 8);
    }
    return b;
}

int rdb_object_type(const cb_obj *o)
{
    switch (o->type) {
    case OBJ_STRING: return RDB_TYPE_STRING;
    case OBJ_LIST: return RDB_TYPE_LIST_QUICKLIST_2;
    case OBJ_SET: return o->encoding == OBJ_ENC_INTSET ? RDB_TYPE_SET_INTSET : RDB_TYPE_SET;
    case OBJ_HASH:
        return hash_is_compact(o) ? RDB_TYPE_HASH_LISTPACK : RDB_TYPE_HASH;
    case OBJ_ZSET:
        return o->encoding == OBJ_ENC_LISTPACK ? RDB_TYPE_ZSET_LISTPACK : RDB_TYPE_ZSET_2;
    case OBJ_STREAM: return RDB_TYPE_STREAM_LISTPACKS_2;
    default: return -1; /* each type brings its encoder with its issue */
    }
}

cbstr rdb_enc_object(cbstr b, const cb_obj *o, int compress)
{
    switch (o->type) {
    case OBJ_STRING: return enc_string_value(b, o, compress);
    case OBJ_LIST: return enc_list_value(b, o, compress);
    case OBJ_SET: return enc_set_value(b, o, compress);
    case OBJ_HASH: return enc_hash_value(b, o, compress);
    case OBJ_ZSET: return enc_zset_value(b, o, compress);
    case OBJ_STREAM: return rdb_enc_stream(b, o, compress);
    default: return b;
    }
}

/* ------------------------------------------------------------------------
 * File writer
 * ---------------------------------------------------------------------- */

/* Flush threshold of the staging buffer. */
#define RDB_WRITE_CHUNK (64 * 1024)

typedef struct rdb_writer {
    int fd;
    cbstr buf;       /* bytes staged for the next write */
    uint64_t crc;    /* over everything flushed so far */
    int err;         /* errno of the first failure, 0 while fine */
    const cb_obj *unsupported; /* a value this build cannot encode yet */
} rdb_writer;

static void writer_flush(rdb_writer *w)
{
    size_t n = cbstr_len(w->buf);
    if (n == 0 || w->err) return;
    w->crc = crc64(w->crc, w->buf, n);
    const char *p = w->buf;
    while (n > 0) {
        ssize_t k = pio()->write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            w->err = errno;
            break;
        }
        if (k == 0) {
            w->err = ENOSPC;
            break;
        }
        p += k;
        n -= (size_t)k;
    }
    cbstr_clear(w->buf);
}

static void writer_maybe_flush(rdb_writer *w)
{
    if (cbstr_len(w->buf) >= RDB_WRITE_CHUNK) writer_flush(w);
}

static char *errfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *errfmt(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return cb_strdup(buf);
}

/* ------------------------------------------------------------------------
 * Dataset walk
 * ---------------------------------------------------------------------- */

static cbstr put_aux(cbstr b, const char *key, const char *val)
{
    b = put_byte(b, RDB_OPCODE_AUX);
    b = rdb_enc_string(b, key, strlen(key), 1);
    return rdb_enc_string(b, val, strlen(val), 1);
}

static cbstr put_aux_ll(cbstr b, const char *key, long long v)
{
    char num[CB_LL2STR_MAX];
    util_ll2str(num, sizeof(num), v);
    return put_aux(b, key, num);
}

static const rdb_fn_hooks *fn_hooks; /* set once at start-up */

void rdb_set_fn_hooks(const rdb_fn_hooks *h)
{
    fn_hooks = h;
}

const rdb_fn_hooks *rdb_fn_hooks_get(void)
{
    return fn_hooks;
}

/* The fields Redis 7.0's SAVE writes, in its order, then the function
 * libraries. */
cbstr rdb_enc_header(cbstr b) { return rdb_enc_header_aof(b, 0); }

cbstr rdb_enc_header_aof(cbstr b, int aof_base)
{
    char magic[16];
    snprintf(magic, sizeof(magic), "REDIS%04d", RDB_VERSION);
    b = cbstr_cat(b, magic, 9);
    b = put_aux(b, "redis-ver", "7.0.15");
    b = put_aux_ll(b, "redis-bits", (long long)sizeof(long) * 8);
    b = put_aux_ll(b, "ctime", (long long)time(NULL));
    b = put_aux_ll(b, "used-mem", (long long)mem_used_total());
    b = put_aux_ll(b, "aof-base", aof_base);
    if (fn_hooks) b = fn_hooks->save(b);
    return b;
}

/* Eviction metadata goes out only when the policy keeps it, as in Redis. */
static int policy_is_lru(int p) { return p == MAXMEM_ALLKEYS_LRU || p == MAXMEM_VOLATILE_LRU; }
static int policy_is_lfu(int p) { return p == MAXMEM_ALLKEYS_LFU || p == MAXMEM_VOLATILE_LFU; }

int rdb_enc_key(cbstr *b, const cb_shard *s, const char *key, size_t klen, const cb_obj *o,
                long long expire_ms, long long now_ms, unsigned lru_clock, int compress)
{
    int type = rdb_object_type(o);
    if (type < 0) return -1;
    cbstr w = *b;
    if (expire_ms >= 0) {
        w = put_byte(w, RDB_OPCODE_EXPIRETIME_MS);
        w = put_le(w, (uint64_t)expire_ms, 8);
    }
    int policy = s->set ? s->set->maxmemory_policy : MAXMEM_NOEVICTION;
    if (policy_is_lru(policy)) {
        w = put_byte(w, RDB_OPCODE_IDLE);
        w = rdb_enc_len(w, obj_idle_ms(o, lru_clock) / 1000);
    } else if (policy_is_lfu(policy)) {
        w = put_byte(w, RDB_OPCODE_FREQ);
        w = put_byte(w, (unsigned)lfu_decr_and_return(o, now_ms, s->set->lfu_decay_time));
    }
    w = put_byte(w, (unsigned)type);
    w = rdb_enc_string(w, key, klen, compress);
    *b = rdb_enc_object(w, o, compress);
    return 0;
}

cbstr rdb_enc_db_start(cbstr b, int dbid, uint64_t nkeys, uint64_t nexpires)
{
    b = put_byte(b, RDB_OPCODE_SELECTDB);
    b = rdb_enc_len(b, (uint64_t)dbid);
    if (nkeys == 0) return b;
    b = put_byte(b, RDB_OPCODE_RESIZEDB);
    b = rdb_enc_len(b, nkeys);
    return rdb_enc_len(b, nexpires);
}

cbstr rdb_enc_trailer(cbstr b, uint64_t crc_before, int checksum)
{
    b = put_byte(b, RDB_OPCODE_EOF);
    /* The checksum covers every byte before it, EOF opcode included; with
     * rdbchecksum no it is zero, which loaders take as "not computed". */
    uint64_t crc = checksum ? crc64(crc_before, b + cbstr_len(b) - 1, 1) : 0;
    unsigned char c[8];
    for (int i = 0; i < 8; i++) c[i] = (unsigned char)(crc >> (8 * i));
    return cbstr_cat(b, c, 8);
}

static void write_header(rdb_writer *w)
{
    w->buf = rdb_enc_header(w->buf);
}

/* Per thread: SAVE runs on a worker while the others may save too. */
static _Thread_local void (*key_hook)(void *arg);
static _Thread_local void *key_hook_arg;

void rdb_save_set_key_hook(void (*fn)(void *arg), void *arg)
{
    key_hook = fn;
    key_hook_arg = arg;
}

static void write_key(rdb_writer *w, const cb_shard *s, cb_db *db, const dict_entry *e,
                      long long now_ms, unsigned lru_clock)
{
    const cb_obj *o = e->v.val;
    size_t klen = cbstr_len(e->key);
    dict_entry *x = dict_find(db->expires, e->key, klen);
    if (rdb_enc_key(&w->buf, s, e->key, klen, o, x ? x->v.s64 : -1, now_ms, lru_clock,
                    g_config.rdbcompression) < 0) {
        /* No encoder for this type yet: fail the save rather than write a
         * file that silently lacks the key. */
        w->unsupported = o;
        w->err = EOPNOTSUPP;
        return;
    }
    writer_maybe_flush(w);
    if (key_hook) key_hook(key_hook_arg);
}

static void write_dataset(rdb_writer *w, cb_shard **shards, int nshards)
{
    long long now_ms = util_mstime();
    unsigned lru_clock = lru_clock_of(now_ms);
    int ndb = nshards > 0 ? shards[0]->ndb : 0;
    write_header(w);
    for (int j = 0; j < ndb && !w->err; j++) {
        uint64_t nkeys = 0, nexpires = 0;
        for (int i = 0; i < nshards; i++) {
            nkeys += dict_size(shards[i]->dbs[j].keys);
            nexpires += dict_size(shards[i]->dbs[j].expires);
        }
        if (nkeys == 0) continue; /* Redis skips empty dbs entirely */
        w->buf = put_byte(w->buf, RDB_OPCODE_SELECTDB);
        w->buf = rdb_enc_len(w->buf, (uint64_t)j);
        w->buf = put_byte(w->buf, RDB_OPCODE_RESIZEDB);
        w->buf = rdb_enc_len(w->buf, nkeys);
        w->buf = rdb_enc_len(w->buf, nexpires);
        for (int i = 0; i < nshards && !w->err; i++) {
            cb_db *db = &shards[i]->dbs[j];
            dict_iter it;
            dict_iter_init(&it, db->keys, 0);
            dict_entry *e;
            while (!w->err && (e = dict_iter_next(&it)) != NULL)
                write_key(w, shards[i], db, e, now_ms, lru_clock);
            dict_iter_release(&it);
        }
    }
    writer_flush(w);
    w->buf = rdb_enc_trailer(w->buf, w->crc, g_config.rdbchecksum);
    writer_flush(w);
}

/* Directory part of path ("." when it has none), cb_malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return cb_strdup(".");
    if (slash == path) return cb_strdup("/");
    return cb_memdup(path, (size_t)(slash - path));
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = pio()->fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int rdb_save_file(cb_shard **shards, int nshards, const char *path, char **err)
{
    char *dir = dir_of(path);
    size_t tlen = strlen(dir) + 32;
    char *tmp = cb_malloc(tlen);
    snprintf(tmp, tlen, "%s/temp-%d-XXXXXX.rdb", dir, (int)getpid());
    char cwd[PATH_MAX];
    int fd = mkstemps(tmp, 4);
    if (fd < 0) {
        if (!getcwd(cwd, sizeof(cwd))) snprintf(cwd, sizeof(cwd), "unknown");
        *err = errfmt("Failed opening the temp RDB file %s (in server root dir %s) for saving: %s",
                      tmp, cwd, strerror(errno));
        cb_free(tmp);
        cb_free(dir);
        return -1;
    }
    /* mkstemps makes it 0600; a dump is as readable as Redis leaves it. */
    (void)fchmod(fd, 0644);
    rdb_writer w = { .fd = fd, .buf = cbstr_with_cap(RDB_WRITE_CHUNK + 1024), .crc = 0, .err = 0,
                      .unsupported = NULL };
    write_dataset(&w, shards, nshards);
    cbstr_free(w.buf);
    const char *what = "Write error saving DB on disk";
    if (!w.err && pio()->fsync(fd) < 0) {
        w.err = errno;
        what = "Failed to fsync the RDB file";
    }
    if (close(fd) < 0 && !w.err) {
        w.err = errno;
        what = "Write error saving DB on disk";
    }
    if (!w.err && pio()->rename(tmp, path) < 0) {
        w.err = errno;
        what = "Error moving temp DB file on the final destination";
    }
    if (w.unsupported) {
        *err = errfmt("%s: the RDB encoding of type %s is not supported by this build yet",
                      "Failed saving the DB", obj_type_name(w.unsupported->type));
        unlink(tmp);
        cb_free(tmp);
        cb_free(dir);
        return -1;
    }
    if (w.err) {
        *err = errfmt("%s: %s", what, strerror(w.err));
        unlink(tmp);
        cb_free(tmp);
        cb_free(dir);
        return -1;
    }
    int rc = 0;
    if (fsync_dir(dir) < 0) {
        /* The data is in the file; only the rename might not survive a
         * power cut. Redis reports this as a failed save too. */
        *err = errfmt("Failed to fsync the directory %s: %s", dir, strerror(errno));
        rc = -1;
    }
    cb_free(tmp);
    cb_free(dir);
    return rc;
}
