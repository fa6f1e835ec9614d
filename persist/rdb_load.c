/* rdb_load.c — reading RDB files of versions 1..10 (Redis up to 7.0).
 *
 * Layers, top to bottom: the load loop (one opcode or key per turn, keys
 * routed to util_key_slot % nshards, already-expired keys skipped as a
 * master does, CRC-64 checked at the end; in check mode, RDB_LOAD_CHECK,
 * values are validated and dropped and each step goes to a hook, which is
 * how cachebox-check-rdb reuses this parser); per-type value decoders
 * (strings, lists, sets, hashes, zsets in every encoding Redis 7.0 loads,
 * streams in rdb_stream.c, each compact blob validated before use; other
 * types fail with their code and offset; rdb_dec_object_mem runs them over
 * a RESTORE payload); the
 * primitive decoders (lengths, integer and LZF strings); and a buffered
 * reader that tracks the offset and the running CRC for error messages.
 * A failed load empties every shard, so nothing half-loaded is served.
 * The file layout is pinned by the codes and comments in rdb.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <lzf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc64.h"
#include "listpack.h"
#include "rdb.h"
#include "rdb_stream.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"
#include "../store/object.h"
#include "../store/t_hash.h"
#include "../store/t_zset.h"
#include "../store/ds/intset.h"
#include "../store/ds/quicklist.h"

/* Names of the on-disk type codes, indexed by code (messages only). */
static const char *const rdb_type_names[] = {
    [RDB_TYPE_STRING] = "string",
    [RDB_TYPE_LIST] = "list linkedlist",
    [RDB_TYPE_SET] = "set hashtable",
    [RDB_TYPE_ZSET] = "zset skiplist",
    [RDB_TYPE_HASH] = "hash hashtable",
    [RDB_TYPE_ZSET_2] = "zset skiplist2",
    [RDB_TYPE_MODULE_PRE_GA] = "module pre-GA",
    [RDB_TYPE_MODULE_2] = "module",
    [RDB_TYPE_HASH_ZIPMAP] = "hash zipmap",
    [RDB_TYPE_LIST_ZIPLIST] = "list ziplist",
    [RDB_TYPE_SET_INTSET] = "set intset",
    [RDB_TYPE_ZSET_ZIPLIST] = "zset ziplist",
    [RDB_TYPE_HASH_ZIPLIST] = "hash ziplist",
    [RDB_TYPE_LIST_QUICKLIST] = "list quicklist",
    [RDB_TYPE_STREAM_LISTPACKS] = "stream listpacks",
    [RDB_TYPE_HASH_LISTPACK] = "hash listpack",
    [RDB_TYPE_ZSET_LISTPACK] = "zset listpack",
    [RDB_TYPE_LIST_QUICKLIST_2] = "list quicklist2",
    [RDB_TYPE_STREAM_LISTPACKS_2] = "stream listpacks2",
};

const char *rdb_type_name(int type)
{
    if (type >= 0 && type < (int)(sizeof(rdb_type_names) / sizeof(rdb_type_names[0])) &&
        rdb_type_names[type])
        return rdb_type_names[type];
    return "unknown";
}

/* ------------------------------------------------------------------------
 * Buffered reader
 * ---------------------------------------------------------------------- */

#define RDB_READ_CHUNK (64 * 1024)

typedef struct rdb_reader {
    int fd;
    uint64_t size;      /* of the file: bounds every length we trust */
    uint64_t off;       /* bytes consumed */
    uint64_t crc;       /* over the bytes consumed */
    unsigned char *buf;
    size_t pos, len;
    char *err;          /* first failure, cb_malloc'd */
    int empty;          /* the last value decoded had no elements */
} rdb_reader;

static void rfail(rdb_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rfail(rdb_reader *r, const char *fmt, ...)
{
    if (r->err) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    r->err = cb_strdup(buf);
}

/* at: where the item that did not fit starts. */
static void rfail_eof(rdb_reader *r, uint64_t at)
{
    rfail(r, "Unexpected EOF reading RDB file at offset %llu (file is %llu bytes, truncated?)",
          (unsigned long long)at, (unsigned long long)r->size);
}

/* Reads exactly n bytes into p (may be NULL to skip). 0 ok, -1 failed. */
static int rread(rdb_reader *r, void *p, size_t n)
{
    unsigned char *dst = p;
    uint64_t at = r->off;
    if (r->err) return -1;
    while (n > 0) {
        if (r->pos == r->len) {
            if (r->fd < 0) { /* a payload in memory: nothing more to read */
                rfail_eof(r, at);
                return -1;
            }
            ssize_t k;
            do {
                k = read(r->fd, r->buf, RDB_READ_CHUNK);
            } while (k < 0 && errno == EINTR);
            if (k < 0) {
                rfail(r, "Read error at offset %llu: %s", (unsigned long long)r->off,
                      strerror(errno));
                return -1;
            }
            if (k == 0) {
                rfail_eof(r, at);
                return -1;
            }
            r->pos = 0;
            r->len = (size_t)k;
        }
        size_t take = r->len - r->pos < n ? r->len - r->pos : n;
        r->crc = crc64(r->crc, r->buf + r->pos, take);
        if (dst) {
            memcpy(dst, r->buf + r->pos, take);
            dst += take;
        }
        r->pos += take;
        r->off += take;
        n -= take;
    }
    return 0;
}

static int rbyte(rdb_reader *r, unsigned *v)
{
    unsigned char c;
    if (rread(r, &c, 1) < 0) return -1;
    *v = c;
    return 0;
}

static int rle(rdb_reader *r, int n, uint64_t *v)
{
    unsigned char b[8];
    if (rread(r, b, (size_t)n) < 0) return -1;
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) x = (x << 8) | b[i];
    *v = x;
    return 0;
}

/* A length about to be read as bytes cannot exceed what the file holds;
 * checking first keeps a corrupt length from allocating gigabytes. */
static int rcheck_avail(rdb_reader *r, uint64_t n)
{
    if (n > r->size - r->off) {
        rfail_eof(r, r->off);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Primitive decoders
 * ---------------------------------------------------------------------- */

/* A length, or (when *enc is set) a special-encoding selector. */
static int rlen(rdb_reader *r, uint64_t *len, int *enc)
{
    unsigned b;
    uint64_t at = r->off;
    if (enc) *enc = 0;
    if (rbyte(r, &b) < 0) return -1;
    switch (b >> 6) {
    case RDB_6BITLEN:
        *len = b & 0x3f;
        return 0;
    case RDB_14BITLEN: {
        unsigned lo;
        if (rbyte(r, &lo) < 0) return -1;
        *len = ((uint64_t)(b & 0x3f) << 8) | lo;
        return 0;
    }
    case RDB_ENCVAL:
        if (!enc) break;
        *enc = 1;
        *len = b & 0x3f;
        return 0;
    default:
        if (b == RDB_32BITLEN || b == RDB_64BITLEN) {
            unsigned char be[8];
            int n = b == RDB_32BITLEN ? 4 : 8;
            if (rread(r, be, (size_t)n) < 0) return -1;
            uint64_t x = 0;
            for (int i = 0; i < n; i++) x = (x << 8) | be[i];
            *len = x;
            return 0;
        }
        break;
    }
    rfail(r, "Corrupt RDB at offset %llu: unknown length encoding 0x%02x",
          (unsigned long long)at, b);
    return -1;
}

static int rlen_plain(rdb_reader *r, uint64_t *len)
{
    return rlen(r, len, NULL);
}

/* A string in any of its encodings, returned as bytes: *out is cb_malloc'd
 * (NUL-terminated for convenience), *outlen its length. */
static int rstring(rdb_reader *r, char **out, size_t *outlen)
{
    uint64_t at = r->off, len;
    int enc;
    *out = NULL;
    if (rlen(r, &len, &enc) < 0) return -1;
    if (enc) {
        uint64_t v;
        long long ll;
        switch (len) {
        case RDB_ENC_INT8:
            if (rle(r, 1, &v) < 0) return -1;
            ll = (int8_t)v;
            break;
        case RDB_ENC_INT16:
            if (rle(r, 2, &v) < 0) return -1;
            ll = (int16_t)v;
            break;
        case RDB_ENC_INT32:
            if (rle(r, 4, &v) < 0) return -1;
            ll = (int32_t)v;
            break;
        case RDB_ENC_LZF: {
            uint64_t clen, ulen;
            if (rlen_plain(r, &clen) < 0 || rlen_plain(r, &ulen) < 0) return -1;
            if (rcheck_avail(r, clen) < 0) return -1;
            /* An LZF back reference expands 3 bytes into at most 264, so
             * anything claiming more than ~90x is corrupt. */
            if (ulen == 0 || ulen > clen * 100 + 64 || ulen > UINT32_MAX || clen > UINT32_MAX) {
                rfail(r, "Corrupt RDB at offset %llu: invalid LZF lengths (%llu -> %llu)",
                      (unsigned long long)at, (unsigned long long)clen,
                      (unsigned long long)ulen);
                return -1;
            }
            char *c = cb_malloc(clen ? clen : 1);
            if (rread(r, c, clen) < 0) {
                cb_free(c);
                return -1;
            }
            char *u = cb_malloc(ulen + 1);
            unsigned got = lzf_decompress(c, (unsigned)clen, u, (unsigned)ulen);
            cb_free(c);
            if (got != ulen) {
                cb_free(u);
                rfail(r, "Corrupt RDB at offset %llu: invalid LZF compressed string",
                      (unsigned long long)at);
                return -1;
            }
            u[ulen] = '\0';
            *out = u;
            *outlen = ulen;
            return 0;
        }
        default:
            rfail(r, "Corrupt RDB at offset %llu: unknown string encoding %llu",
                  (unsigned long long)at, (unsigned long long)len);
            return -1;
        }
        char num[CB_LL2STR_MAX];
        size_t n = util_ll2str(num, sizeof(num), ll);
        *out = cb_memdup(num, n);
        *outlen = n;
        return 0;
    }
    if (rcheck_avail(r, len) < 0) return -1;
    char *s = cb_malloc(len + 1);
    if (rread(r, s, len) < 0) {
        cb_free(s);
        return -1;
    }
    s[len] = '\0';
    *out = s;
    *outlen = len;
    return 0;
}

/* Exported forms for rdb_stream.c (contracts in rdb_stream.h). */
uint64_t rdbr_offset(const rdb_reader *r) { return r->off; }
int rdbr_len(rdb_reader *r, uint64_t *len) { return rlen_plain(r, len); }
int rdbr_string(rdb_reader *r, char **out, size_t *outlen) { return rstring(r, out, outlen); }
int rdbr_raw(rdb_reader *r, void *p, size_t n) { return rread(r, p, n); }
int rdbr_avail(rdb_reader *r, uint64_t n) { return rcheck_avail(r, n); }
void rdbr_corrupt(rdb_reader *r, uint64_t at, const char *why)
{
    rfail(r, "Corrupt RDB at offset %llu: %s", (unsigned long long)at, why);
}

/* ------------------------------------------------------------------------
 * Value decoders, one per type
 * ---------------------------------------------------------------------- */

/* Quicklist container codes of RDB_TYPE_LIST_QUICKLIST_2 nodes. */
#define QL_CONTAINER_PLAIN 1
#define QL_CONTAINER_PACKED 2

static cb_obj *dec_string_value(rdb_reader *r)
{
    char *p;
    size_t len;
    if (rstring(r, &p, &len) < 0) return NULL;
    /* The encoding a fresh value would get (int / embstr / raw), as Redis's
     * load applies tryObjectEncoding. */
    cb_obj *o = obj_new_string_encoded(p, len);
    cb_free(p);
    return o;
}

/* Reports a corrupt compact blob (listpack, ziplist, zipmap, intset) that
 * started at offset at in the file. */
static void rfail_blob(rdb_reader *r, uint64_t at, const char *what, const char *why)
{
    rfail(r, "Corrupt RDB at offset %llu: bad %s payload: %s", (unsigned long long)at, what,
          why);
}

static cb_obj *list_obj(const cb_shard *s)
{
    cb_obj *o = cb_malloc(sizeof(*o));
    o->type = OBJ_LIST;
    o->encoding = OBJ_ENC_QUICKLIST;
    o->lru = 0;
    o->refcount = 1;
    o->ptr = ql_new(s->set->list_max_listpack_size, s->set->list_compress_depth);
    return o;
}

static int push_tail(void *priv, const char *p, size_t len)
{
    ql_push(priv, QL_TAIL, p, len);
    return 0;
}

/* A value that turned out empty: Redis refuses to create such keys. */
static cb_obj *empty_value(rdb_reader *r, cb_obj *o)
{
    obj_decr_ref(o);
    r->empty = 1;
    return NULL;
}

/* Lists: RDB_TYPE_LIST (strings), LIST_ZIPLIST (one ziplist),
 * LIST_QUICKLIST (ziplist nodes) and LIST_QUICKLIST_2 (container code +
 * listpack or plain element per node). Elements are re-pushed, so nodes
 * follow this server's list-max-listpack-size. */
static cb_obj *dec_list_value(rdb_reader *r, cb_shard *s, int type)
{
    cb_obj *o = list_obj(s);
    char why[256];
    uint64_t n = 1;
    if (type != RDB_TYPE_LIST_ZIPLIST && rlen_plain(r, &n) < 0) goto fail;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t container = QL_CONTAINER_PACKED;
        if (type == RDB_TYPE_LIST_QUICKLIST_2) {
            uint64_t at = r->off;
            if (rlen_plain(r, &container) < 0) goto fail;
            if (container != QL_CONTAINER_PACKED && container != QL_CONTAINER_PLAIN) {
                rfail(r, "Corrupt RDB at offset %llu: quicklist node container %llu is unknown",
                      (unsigned long long)at, (unsigned long long)container);
                goto fail;
            }
        }
        uint64_t at = r->off;
        char *p;
        size_t len;
        if (rstring(r, &p, &len) < 0) goto fail;
        long rc = 0;
        if (type == RDB_TYPE_LIST || container == QL_CONTAINER_PLAIN) {
            ql_push(o->ptr, QL_TAIL, p, len);
        } else if (type == RDB_TYPE_LIST_QUICKLIST_2) {
            rc = rlp_walk((unsigned char *)p, len, push_tail, o->ptr, why, sizeof(why));
            if (rc < 0) rfail_blob(r, at, "listpack", why);
        } else {
            rc = rzl_walk((unsigned char *)p, len, push_tail, o->ptr, why, sizeof(why));
            if (rc < 0) rfail_blob(r, at, "ziplist", why);
        }
        cb_free(p);
        if (rc < 0) goto fail;
    }
    if (((quicklist *)o->ptr)->count == 0) return empty_value(r, o);
    return o;
fail:
    obj_decr_ref(o);
    return NULL;
}

/* Sets: RDB_TYPE_SET (count + members) and SET_INTSET (Redis's intset
 * blob), converted by this server's set-max-intset-entries. */
static cb_obj *dec_set_value(rdb_reader *r, cb_shard *s, int type)
{
    if (type == RDB_TYPE_SET_INTSET) {
        uint64_t at = r->off;
        char *p;
        size_t len;
        if (rstring(r, &p, &len) < 0) return NULL;
        if (!intset_validate(p, len, 1)) {
            cb_free(p);
            rfail_blob(r, at, "intset", "header, size or order is wrong");
            return NULL;
        }
        intset *is = intset_from_blob(p, len);
        cb_free(p);
        cb_obj *o = set_new_from_intset(s, is);
        if (o->encoding == OBJ_ENC_INTSET && intset_len(o->ptr) == 0) return empty_value(r, o);
        return o;
    }
    uint64_t n;
    if (rlen_plain(r, &n) < 0) return NULL;
    /* Every member takes at least a byte: a bigger count is a lie. */
    if (rcheck_avail(r, n) < 0) return NULL;
    cb_obj *o = set_new_for_load(s, (unsigned long)n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t at = r->off;
        char *p;
        size_t len;
        if (rstring(r, &p, &len) < 0) goto fail;
        int added = set_load_add(s, o, p, len);
        cb_free(p);
        if (!added) {
            rfail(r, "Corrupt RDB at offset %llu: Duplicate set members detected",
                  (unsigned long long)at);
            goto fail;
        }
    }
    if (n == 0) return empty_value(r, o);
    return o;
fail:
    obj_decr_ref(o);
    return NULL;
}

/* Collects field, value, field, ... from a blob walk into a hash. */
typedef struct pair_sink {
    cb_shard *s;
    cb_obj *o;
    char *field;
    size_t flen;
    int dup;
} pair_sink;

static int sink_pair_elem(void *priv, const char *p, size_t len)
{
    pair_sink *ps = priv;
    if (!ps->field) {
        ps->field = cb_memdup(p, len ? len : 1);
        ps->flen = len;
        return 0;
    }
    int added = hash_load_set(ps->s, ps->o, ps->field, ps->flen, p, len);
    cb_free(ps->field);
    ps->field = NULL;
    if (!added) {
        ps->dup = 1;
        return -1;
    }
    return 0;
}

/* Hashes: RDB_TYPE_HASH (count + pairs) and the blob forms HASH_ZIPMAP,
 * HASH_ZIPLIST, HASH_LISTPACK, each converted by this server's
 * hash-max-listpack-* limits as HSET would. Duplicate fields are corrupt. */
static cb_obj *dec_hash_value(rdb_reader *r, cb_shard *s, int type)
{
    cb_obj *o = hash_new_for_load();
    if (type == RDB_TYPE_HASH) {
        uint64_t n;
        if (rlen_plain(r, &n) < 0) goto fail;
        if (rcheck_avail(r, n) < 0) goto fail;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t at = r->off;
            char *f, *v;
            size_t fl, vl;
            if (rstring(r, &f, &fl) < 0) goto fail;
            if (rstring(r, &v, &vl) < 0) {
                cb_free(f);
                goto fail;
            }
            int added = hash_load_set(s, o, f, fl, v, vl);
            cb_free(f);
            cb_free(v);
            if (!added) {
                rfail(r, "Corrupt RDB at offset %llu: Duplicate hash fields detected",
                      (unsigned long long)at);
                goto fail;
            }
        }
        if (n == 0) return empty_value(r, o);
        return hash_embed(o);
    }
    uint64_t at = r->off;
    char *p;
    size_t len;
    if (rstring(r, &p, &len) < 0) goto fail;
    pair_sink ps = { s, o, NULL, 0, 0 };
    char why[256];
    long rc;
    const char *what;
    if (type == RDB_TYPE_HASH_ZIPMAP) {
        what = "zipmap";
        rc = rzm_walk((unsigned char *)p, len, sink_pair_elem, &ps, why, sizeof(why));
    } else if (type == RDB_TYPE_HASH_ZIPLIST) {
        what = "ziplist";
        rc = rzl_walk((unsigned char *)p, len, sink_pair_elem, &ps, why, sizeof(why));
    } else {
        what = "listpack";
        rc = rlp_walk((unsigned char *)p, len, sink_pair_elem, &ps, why, sizeof(why));
    }
    cb_free(p);
    if (rc >= 0 && ps.field) {
        snprintf(why, sizeof(why), "odd number of elements (%ld) for field/value pairs", rc);
        rc = -1;
    }
    cb_free(ps.field);
    if (rc < 0) {
        rfail_blob(r, at, what, ps.dup ? "Duplicate hash fields detected" : why);
        goto fail;
    }
    if (rc == 0) return empty_value(r, o);
    return hash_embed(o);
fail:
    obj_decr_ref(o);
    return NULL;
}

/* RDB_TYPE_ZSET's score: a length byte, with 253/254/255 meaning NaN, +inf
 * and -inf, else that many bytes of text. NaN is corrupt, as for Redis. */
static int rzset_score_text(rdb_reader *r, double *v)
{
    uint64_t at = r->off;
    unsigned len;
    char buf[256];
    if (rbyte(r, &len) < 0) return -1;
    switch (len) {
    case 255: *v = -INFINITY; return 0;
    case 254: *v = INFINITY; return 0;
    case 253: break;
    default:
        if (rread(r, buf, len) < 0) return -1;
        if (util_str2d(buf, len, v)) return 0;
        rfail(r, "Corrupt RDB at offset %llu: invalid zset score '%.*s'",
              (unsigned long long)at, (int)len, buf);
        return -1;
    }
    rfail(r, "Corrupt RDB at offset %llu: Zset with NAN score detected",
          (unsigned long long)at);
    return -1;
}

static int rzset_score_binary(rdb_reader *r, double *v)
{
    uint64_t at = r->off, bits;
    if (rle(r, 8, &bits) < 0) return -1;
    memcpy(v, &bits, 8);
    if (!isnan(*v)) return 0;
    rfail(r, "Corrupt RDB at offset %llu: Zset with NAN score detected",
          (unsigned long long)at);
    return -1;
}

/* Adds a member that must be new to a set being loaded: compact sets stay
 * compact whatever the member's size (Redis keeps a loaded listpack as it
 * is), skiplists take it as ZADD would. 0 ok, -1 when it was a duplicate. */
static int zset_load_add(cb_shard *s, cb_obj *o, const char *ele, size_t len, double score)
{
    if (o->encoding == OBJ_ENC_LISTPACK) {
        if (zp_find(o->ptr, ele, len, NULL)) return -1;
        o->ptr = zp_insert(o->ptr, ele, len, score);
        return 0;
    }
    int out;
    zset_add(s, o, score, ele, len, ZA_NX, &out, NULL);
    return (out & ZA_OUT_ADDED) ? 0 : -1;
}

/* Collects member, score, member, ... from a blob walk into a zset. */
typedef struct zpair_sink {
    cb_shard *s;
    cb_obj *o;
    char *ele;
    size_t elen;
    const char *why; /* set when a pair was refused */
} zpair_sink;

static int sink_zset_elem(void *priv, const char *p, size_t len)
{
    zpair_sink *zs = priv;
    if (!zs->ele) {
        zs->ele = cb_memdup(p, len ? len : 1);
        zs->elen = len;
        return 0;
    }
    double score;
    int rc = -1;
    if (!util_str2d(p, len, &score))
        zs->why = "a score is not a valid number (or NaN)";
    else if (zset_load_add(zs->s, zs->o, zs->ele, zs->elen, score) < 0)
        zs->why = "Duplicate zset fields detected";
    else
        rc = 0;
    cb_free(zs->ele);
    zs->ele = NULL;
    return rc;
}

/* RDB_TYPE_ZSET (text scores) and ZSET_2 (binary scores): a count, then
 * member, score pairs. Built as a skiplist, then compacted when the set fits
 * the zset-max-listpack-* limits, as Redis 7.0 does. */
static cb_obj *dec_zset_pairs(rdb_reader *r, cb_shard *s, int type)
{
    uint64_t n;
    if (rlen_plain(r, &n) < 0) return NULL;
    /* Every member takes at least two bytes with its score. */
    if (rcheck_avail(r, n * 2 < n ? UINT64_MAX : n * 2) < 0) return NULL;
    cb_obj *o = zset_new(s, (size_t)n, SIZE_MAX);
    if (o->encoding == OBJ_ENC_SKIPLIST && n > 0)
        (void)dict_expand(((zset *)o->ptr)->d, (size_t)n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t at = r->off;
        char *p;
        size_t len;
        double score;
        if (rstring(r, &p, &len) < 0) goto fail;
        int rc = type == RDB_TYPE_ZSET_2 ? rzset_score_binary(r, &score)
                                         : rzset_score_text(r, &score);
        if (rc == 0 && zset_load_add(s, o, p, len, score) < 0) {
            rfail(r, "Corrupt RDB at offset %llu: Duplicate zset fields detected",
                  (unsigned long long)at);
            rc = -1;
        }
        cb_free(p);
        if (rc < 0) goto fail;
    }
    if (n == 0) return empty_value(r, o);
    /* Saved sets are not in insertion order: compact after the load. */
    zset_compact_if_fits(s, o);
    return o;
fail:
    obj_decr_ref(o);
    return NULL;
}

/* Sorted sets: the pair forms above, and ZSET_ZIPLIST / ZSET_LISTPACK
 * blobs, which stay compact unless they hold more than
 * zset-max-listpack-entries members (as Redis 7.0 loads them). Duplicates,
 * NaN or non-numeric scores and odd element counts are corrupt. */
static cb_obj *dec_zset_value(rdb_reader *r, cb_shard *s, int type)
{
    if (type == RDB_TYPE_ZSET || type == RDB_TYPE_ZSET_2)
        return dec_zset_pairs(r, s, type);
    uint64_t at = r->off;
    char *p;
    size_t len;
    if (rstring(r, &p, &len) < 0) return NULL;
    const char *what = type == RDB_TYPE_ZSET_ZIPLIST ? "ziplist" : "listpack";
    char why[256];
    long count = type == RDB_TYPE_ZSET_ZIPLIST
                     ? rzl_walk((unsigned char *)p, len, NULL, NULL, why, sizeof(why))
                     : rlp_walk((unsigned char *)p, len, NULL, NULL, why, sizeof(why));
    if (count >= 0 && count % 2) {
        snprintf(why, sizeof(why), "odd number of elements (%ld) for member/score pairs", count);
        count = -1;
    }
    if (count < 0) {
        cb_free(p);
        rfail_blob(r, at, what, why);
        return NULL;
    }
    size_t pairs = (size_t)count / 2;
    /* size_hint decides: compact up to zset-max-listpack-entries pairs. */
    cb_obj *o = zset_new(s, pairs, 0);
    zpair_sink zs = { s, o, NULL, 0, NULL };
    long rc = type == RDB_TYPE_ZSET_ZIPLIST
                  ? rzl_walk((unsigned char *)p, len, sink_zset_elem, &zs, why, sizeof(why))
                  : rlp_walk((unsigned char *)p, len, sink_zset_elem, &zs, why, sizeof(why));
    cb_free(p);
    cb_free(zs.ele);
    if (rc < 0) {
        rfail_blob(r, at, what, zs.why ? zs.why : why);
        obj_decr_ref(o);
        return NULL;
    }
    if (pairs == 0) return empty_value(r, o);
    return o;
}

/* 1 when this build has a decoder for the on-disk type. */
static int rdb_type_supported(int type)
{
    switch (type) {
    case RDB_TYPE_STRING:
    case RDB_TYPE_LIST: case RDB_TYPE_LIST_ZIPLIST: case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
    case RDB_TYPE_SET: case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_HASH: case RDB_TYPE_HASH_ZIPMAP: case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_ZSET: case RDB_TYPE_ZSET_2: case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_ZSET_LISTPACK:
    case RDB_TYPE_STREAM_LISTPACKS: case RDB_TYPE_STREAM_LISTPACKS_2:
        return 1;
    default:
        return 0;
    }
}

/* The value of an on-disk type, built for shard s; NULL with r->err set
 * when it is corrupt or this build cannot read it, or NULL with r->empty
 * set when it held no elements. type_off is where its type byte was. */
static cb_obj *dec_object(rdb_reader *r, cb_shard *s, int type, uint64_t type_off)
{
    r->empty = 0;
    switch (type) {
    case RDB_TYPE_STRING: return dec_string_value(r);
    case RDB_TYPE_LIST: case RDB_TYPE_LIST_ZIPLIST: case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
        return dec_list_value(r, s, type);
    case RDB_TYPE_SET: case RDB_TYPE_SET_INTSET: return dec_set_value(r, s, type);
    case RDB_TYPE_HASH: case RDB_TYPE_HASH_ZIPMAP: case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_HASH_LISTPACK:
        return dec_hash_value(r, s, type);
    case RDB_TYPE_ZSET: case RDB_TYPE_ZSET_2: case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_ZSET_LISTPACK:
        return dec_zset_value(r, s, type);
    case RDB_TYPE_STREAM_LISTPACKS: case RDB_TYPE_STREAM_LISTPACKS_2:
        return rdb_dec_stream(r, s, type);
    default:
        rfail(r, "RDB type %d (%s) at offset %llu is not supported by this build yet", type,
              rdb_type_name(type), (unsigned long long)type_off);
        return NULL;
    }
}

int rdb_dec_string_mem(const void *p, size_t len, size_t *used, char **out, size_t *outlen)
{
    rdb_reader r = { .fd = -1, .size = len, .buf = (unsigned char *)p, .len = len };
    int rc = rstring(&r, out, outlen);
    cb_free(r.err);
    if (rc < 0) {
        cb_free(*out);
        *out = NULL;
        return -1;
    }
    *used = (size_t)r.off;
    return 0;
}

cb_obj *rdb_dec_object_mem(cb_shard *s, int type, const void *p, size_t len, char **err)
{
    rdb_reader r = { .fd = -1, .size = len, .buf = (unsigned char *)p, .len = len };
    *err = NULL;
    cb_obj *o = dec_object(&r, s, type, 0);
    if (o && r.off != len) {
        obj_decr_ref(o);
        o = NULL;
        rfail(&r, "Corrupt payload: %llu trailing bytes after the value at offset %llu",
              (unsigned long long)(len - r.off), (unsigned long long)r.off);
    }
    if (!o) *err = r.err ? r.err : cb_strdup("Empty value in the payload");
    else cb_free(r.err);
    return o;
}

/* ------------------------------------------------------------------------
 * Load loop
 * ---------------------------------------------------------------------- */

typedef struct load_state {
    cb_shard **shards;
    int nshards;
    int dbid;
    int flags;
    long long now_ms;
    long long loaded, expired, expires;
    rdb_load_info *info;   /* hook and error position; may be NULL */
    uint64_t rec;          /* where the record being read starts */
    const char *doing;     /* its step, for error reports */
    int type;              /* its value's type, or -1 */
    const char *key;       /* its key once read (not owned) */
    size_t klen;
} load_state;

static void emit(load_state *ls, int kind, uint64_t off, const char *a, size_t al,
                 const char *b, size_t bl, long long num)
{
    if (!ls->info || !ls->info->hook) return;
    rdb_load_event ev = { kind, off, a, b, al, bl, num };
    ls->info->hook(ls->info->hook_priv, &ev);
}

/* Redis's objectSetLRUOrLFU: the LFU counter under an LFU policy, the idle
 * time otherwise. */
static void apply_lru_lfu(const cb_shard *s, cb_obj *o, long long idle_s, int freq,
                          long long now_ms)
{
    if (shard_policy_is_lfu(s)) {
        if (freq >= 0) o->lru = (lfu_time_minutes(now_ms) << 8) | (unsigned)freq;
    } else if (idle_s >= 0) {
        o->lru = lru_clock_of(now_ms - idle_s * 1000);
    }
}

/* Puts one decoded key in its shard; takes ownership of val. */
static int place_key(load_state *ls, rdb_reader *r, const char *k, size_t klen, cb_obj *val,
                     long long expire, long long idle_s, int freq)
{
    if (ls->flags & RDB_LOAD_CHECK) {
        /* Decoded and validated: that is all a check wants. */
        obj_decr_ref(val);
        ls->loaded++;
        if (expire != -1) ls->expires++;
        if (expire != -1 && expire < ls->now_ms) ls->expired++;
        return 0;
    }
    if (expire != -1 && expire < ls->now_ms &&
        !(ls->flags & (RDB_LOAD_AOF_BASE | RDB_LOAD_FROM_MASTER))) {
        /* A master drops keys whose time passed while the file sat on disk;
         * replicas keep them for their master to expire. */
        obj_decr_ref(val);
        ls->expired++;
        return 0;
    }
    cb_shard *s = ls->shards[util_key_slot(k, klen) % (unsigned)ls->nshards];
    cb_db *db = &s->dbs[ls->dbid];
    if (dict_find(db->keys, k, klen)) {
        if (!(ls->flags & RDB_LOAD_ALLOW_DUP)) {
            obj_decr_ref(val);
            rfail(r, "RDB has duplicated key '%.*s' in DB %d", (int)(klen > 128 ? 128 : klen),
                  k, ls->dbid);
            return -1;
        }
        db_delete(s, db, k, klen);
    }
    db_add_loaded(s, db, k, klen, val);
    if (expire != -1) db_set_expire(s, db, k, klen, expire);
    apply_lru_lfu(s, val, idle_s, freq, ls->now_ms);
    ls->loaded++;
    if (expire != -1) ls->expires++;
    return 0;
}

/* An AUX field: logged as Redis does, otherwise ignored. */
static int read_aux(rdb_reader *r, load_state *ls)
{
    char *k = NULL, *v = NULL;
    size_t kl, vl;
    if (rstring(r, &k, &kl) < 0) return -1;
    if (rstring(r, &v, &vl) < 0) {
        cb_free(k);
        return -1;
    }
    emit(ls, RDB_EV_AUX, r->off, k, kl, v, vl, 0);
    /* Redis compares these names case-insensitively; writers never vary. */
    if (!strcmp(k, "redis-ver")) {
        cb_log(LOG_NOTICE, "Loading RDB produced by version %s", v);
    } else if (!strcmp(k, "ctime")) {
        long long age = (long long)(util_mstime() / 1000) - strtoll(v, NULL, 10);
        if (age < 0) age = 0;
        cb_log(LOG_NOTICE, "RDB age %lld seconds", age);
    } else if (!strcmp(k, "used-mem")) {
        cb_log(LOG_NOTICE, "RDB memory usage when created %.2f Mb",
               (double)strtoll(v, NULL, 10) / (1024 * 1024));
    } else if (!strcmp(k, "aof-base")) {
        if (strtoll(v, NULL, 10) != 0) cb_log(LOG_NOTICE, "RDB is base AOF");
    } else if (strcmp(k, "redis-bits") && strcmp(k, "repl-stream-db") && strcmp(k, "repl-id") &&
               strcmp(k, "repl-offset") && strcmp(k, "lua") && strcmp(k, "aof-preamble")) {
        /* Those above are known and need nothing from a master's load. */
        cb_log(LOG_DEBUG, "Unrecognized RDB AUX field: '%s'", k);
    }
    cb_free(k);
    cb_free(v);
    return 0;
}

/* Copies the failing record's key for the report before it is freed. */
static void remember_key(load_state *ls)
{
    if (!ls->info || !ls->key) return;
    size_t n = ls->klen < sizeof(ls->info->err_key) - 1 ? ls->klen
                                                         : sizeof(ls->info->err_key) - 1;
    memcpy(ls->info->err_key, ls->key, n);
    ls->info->err_key[n] = '\0';
}

/* The caller's pacing hook after a key; -1 (failed) when it says stop. */
static int progressed(rdb_reader *r, load_state *ls)
{
    if (!ls->info || !ls->info->progress || ls->info->progress(r->off) == 0) return 0;
    rfail(r, "Loading interrupted at offset %llu: the server is shutting down",
          (unsigned long long)r->off);
    return -1;
}

static int load_body(rdb_reader *r, load_state *ls, int rdbver)
{
    long long expire = -1, idle_s = -1;
    int freq = -1;
    int ndb = ls->shards[0]->ndb;
    int pending = 0; /* an expire / idle / freq prefix opened the record */
    for (;;) {
        uint64_t at = r->off, v;
        unsigned type;
        if (!pending) ls->rec = at;
        ls->doing = "read-type";
        ls->type = -1;
        ls->key = NULL;
        if (rbyte(r, &type) < 0) return -1;
        pending = type == RDB_OPCODE_EXPIRETIME || type == RDB_OPCODE_EXPIRETIME_MS ||
                  type == RDB_OPCODE_FREQ || type == RDB_OPCODE_IDLE;
        switch (type) {
        case RDB_OPCODE_EXPIRETIME:
            ls->doing = "read-expire";
            if (rle(r, 4, &v) < 0) return -1;
            expire = (long long)(int32_t)v * 1000;
            continue;
        case RDB_OPCODE_EXPIRETIME_MS:
            ls->doing = "read-expire";
            if (rle(r, 8, &v) < 0) return -1;
            expire = (long long)v;
            continue;
        case RDB_OPCODE_FREQ: {
            unsigned f;
            if (rbyte(r, &f) < 0) return -1;
            freq = (int)f;
            continue;
        }
        case RDB_OPCODE_IDLE:
            if (rlen_plain(r, &v) < 0) return -1;
            idle_s = v > (uint64_t)LLONG_MAX / 1000 ? LLONG_MAX / 1000 : (long long)v;
            continue;
        case RDB_OPCODE_EOF:
            return 0;
        case RDB_OPCODE_SELECTDB:
            ls->doing = "select-db";
            if (rlen_plain(r, &v) < 0) return -1;
            if (v >= (uint64_t)ndb) {
                rfail(r, "FATAL: Data file was created with a Redis server configured to "
                         "handle more than %d databases (SELECTDB %llu at offset %llu)",
                      ndb, (unsigned long long)v, (unsigned long long)at);
                return -1;
            }
            ls->dbid = (int)v;
            emit(ls, RDB_EV_SELECTDB, r->off, NULL, 0, NULL, 0, (long long)v);
            continue;
        case RDB_OPCODE_RESIZEDB: {
            uint64_t nkeys, nexp;
            ls->doing = "resize-db";
            if (rlen_plain(r, &nkeys) < 0 || rlen_plain(r, &nexp) < 0) return -1;
            /* A hint only; a corrupt one must not allocate the world. */
            uint64_t per = nkeys / (uint64_t)ls->nshards + 1;
            if (per <= r->size && !(ls->flags & RDB_LOAD_CHECK))
                for (int i = 0; i < ls->nshards; i++)
                    (void)dict_expand(ls->shards[i]->dbs[ls->dbid].keys, (size_t)per);
            continue;
        }
        case RDB_OPCODE_AUX:
            ls->doing = "read-aux";
            if (read_aux(r, ls) < 0) return -1;
            continue;
        case RDB_OPCODE_MODULE_AUX:
            rfail(r, "RDB opcode %u (module aux data) at offset %llu is not supported by this "
                     "build yet", type, (unsigned long long)at);
            return -1;
        case RDB_OPCODE_FUNCTION2: {
            char *code, *ferr = NULL;
            size_t cl;
            ls->doing = "read-functions";
            if (rstring(r, &code, &cl) < 0) return -1;
            const rdb_fn_hooks *h = rdb_fn_hooks_get();
            int frc = (ls->flags & RDB_LOAD_CHECK) || !h ? 0 : h->load(code, cl, &ferr);
            cb_free(code);
            if (frc < 0) {
                rfail(r, "Failed loading library: %s", ferr ? ferr : "?");
                cb_free(ferr);
                return -1;
            }
            continue;
        }
        case RDB_OPCODE_FUNCTION_PRE_GA:
            rfail(r, "Pre-release function format not supported.");
            return -1;
        default:
            break;
        }
        if (type >= sizeof(rdb_type_names) / sizeof(rdb_type_names[0]) ||
            !rdb_type_names[type]) {
            rfail(r, "Corrupt RDB at offset %llu: unknown RDB type or opcode %u",
                  (unsigned long long)at, type);
            return -1;
        }
        (void)rdbver;
        char *k;
        size_t kl;
        /* Refuse the type before reading its key: the message then points
         * at the type byte, and an unreadable value never costs a key. */
        ls->type = (int)type;
        if (!rdb_type_supported((int)type)) {
            (void)dec_object(r, ls->shards[0], (int)type, at);
            return -1;
        }
        ls->doing = "read-key";
        if (rstring(r, &k, &kl) < 0) return -1;
        ls->doing = "read-object-value";
        ls->key = k;
        ls->klen = kl;
        cb_shard *owner = ls->shards[util_key_slot(k, kl) % (unsigned)ls->nshards];
        cb_obj *val = dec_object(r, owner, (int)type, at);
        if (!val && r->empty && !r->err) {
            /* As Redis 7.0: an empty collection is skipped, not loaded. */
            cb_log(LOG_WARNING, "rdbLoadObject skipping empty key: %.*s",
                   (int)(kl > 128 ? 128 : kl), k);
            cb_free(k);
            expire = idle_s = -1;
            freq = -1;
            if (progressed(r, ls) < 0) return -1;
            continue;
        }
        if (!val) {
            remember_key(ls);
            cb_free(k);
            return -1;
        }
        int rc = place_key(ls, r, k, kl, val, expire, idle_s, freq);
        if (rc < 0) remember_key(ls);
        cb_free(k);
        ls->key = NULL;
        if (rc < 0) return -1;
        expire = idle_s = -1;
        freq = -1;
        if (progressed(r, ls) < 0) return -1;
    }
}

/* Magic, version; 0 ok. */
static int load_header(rdb_reader *r, int *rdbver)
{
    char magic[10];
    if (rread(r, magic, 9) < 0) return -1;
    magic[9] = '\0';
    if (memcmp(magic, "REDIS", 5) != 0) {
        rfail(r, "Wrong signature trying to load DB from file");
        return -1;
    }
    int v = 0;
    for (int i = 5; i < 9; i++) {
        if (magic[i] < '0' || magic[i] > '9') {
            rfail(r, "Can't handle RDB format version %s", magic + 5);
            return -1;
        }
        v = v * 10 + (magic[i] - '0');
    }
    if (v < 1 || v > RDB_VERSION) {
        rfail(r, "Can't handle RDB format version %d", v);
        return -1;
    }
    *rdbver = v;
    return 0;
}

static int load_trailer(rdb_reader *r, load_state *ls, int rdbver)
{
    ls->rec = r->off;
    ls->doing = "check-sum";
    ls->type = -1;
    if (rdbver < 5) { /* checksums arrived with version 5 */
        emit(ls, RDB_EV_CHECKSUM, r->off, NULL, 0, NULL, 0, 1);
        return 0;
    }
    uint64_t computed = r->crc, expected;
    if (rle(r, 8, &expected) < 0) return -1;
    if (expected == 0) {
        cb_log(LOG_WARNING, "RDB file was saved with checksum disabled: no check performed.");
        emit(ls, RDB_EV_CHECKSUM, r->off, NULL, 0, NULL, 0, 1);
    } else if (expected != computed) {
        rfail(r, "Wrong RDB checksum expected: (%016llx) got (%016llx) at offset %llu",
              (unsigned long long)expected, (unsigned long long)computed,
              (unsigned long long)(r->off - 8));
        return -1;
    } else {
        emit(ls, RDB_EV_CHECKSUM, r->off, NULL, 0, NULL, 0, 0);
    }
    return 0;
}

int rdb_load_file_ex(cb_shard **shards, int nshards, const char *path, rdb_load_info *info,
                     char **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 1;
        char buf[1024];
        snprintf(buf, sizeof(buf), "Can't open the RDB file %s: %s", path, strerror(errno));
        *err = cb_strdup(buf);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || nshards <= 0) {
        char buf[1024];
        snprintf(buf, sizeof(buf), "Can't stat the RDB file %s: %s", path,
                 nshards <= 0 ? "no shards" : strerror(errno));
        *err = cb_strdup(buf);
        close(fd);
        return -1;
    }
    rdb_reader r = { .fd = fd, .size = (uint64_t)st.st_size, .buf = cb_malloc(RDB_READ_CHUNK) };
    load_state ls = { .shards = shards, .nshards = nshards, .flags = info ? info->flags : 0,
                      .now_ms = util_mstime(), .info = info, .doing = "start", .type = -1 };
    if (info) info->err_key[0] = '\0';
    /* Fresh values are stamped with the shard's clock: make it now. */
    for (int i = 0; i < nshards; i++) shard_set_time(shards[i], ls.now_ms);
    int rdbver = 0;
    int rc = load_header(&r, &rdbver);
    if (rc == 0) rc = load_body(&r, &ls, rdbver);
    if (rc == 0) rc = load_trailer(&r, &ls, rdbver);
    cb_free(r.buf);
    close(fd);
    if (info) {
        info->rdbver = rdbver;
        info->keys_loaded = ls.loaded;
        info->keys_expired = ls.expired;
        info->expires = ls.expires;
        info->err_record = ls.rec;
        info->err_doing = ls.doing;
        info->err_type = ls.type;
    }
    if (rc < 0) {
        for (int i = 0; i < nshards; i++) shard_empty(shards[i]);
        *err = r.err ? r.err : cb_strdup("Unknown error loading the RDB file");
        return -1;
    }
    cb_free(r.err);
    cb_log(LOG_NOTICE, "Done loading RDB, keys loaded: %lld, keys expired: %lld.", ls.loaded,
           ls.expired);
    return 0;
}

int rdb_load_file(cb_shard **shards, int nshards, const char *path, char **err)
{
    return rdb_load_file_ex(shards, nshards, path, NULL, err);
}
