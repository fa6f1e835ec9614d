/* object.c — value objects of the keyspace (see object.h).
 *
 * A string value takes one of three encodings, chosen by the rules Redis 7.0
 * applies so that OBJECT ENCODING answers the same:
 *   int    — the bytes are a canonical long long of at most 20 characters;
 *            the value lives in the pointer field itself.
 *   embstr — up to 44 bytes, stored in the same allocation as the object,
 *            right after it, as a cbstr whose header we lay out by hand.
 *   raw    — a separately allocated cbstr (anything longer, or any string
 *            that was modified in place by APPEND/SETRANGE/SETBIT).
 * Objects carry a reference count; the last obj_decr_ref frees the value.
 * The LRU/LFU stamp is left at zero here: the keyspace (db.c) stamps values
 * when they enter a db, because only it knows the eviction policy and time.
 */
#include "object.h"
#include "ds/quicklist.h"
#include "t_hash.h"
#include "t_zset.h"
#include "../platform/mem.h"
#include "../platform/util.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The embedded string uses cbstr's smallest header (ds/cbstr.c): one byte of
 * length, one of capacity, one of type (0 = 8-bit header), then the bytes
 * and a NUL. Capacity equals length so nothing ever appends in place; code
 * that wants to write calls obj_string_make_raw first. */
typedef struct __attribute__((packed)) emb_hdr {
    uint8_t len, cap, type;
} emb_hdr;

_Static_assert(OBJ_EMBSTR_LIMIT <= UINT8_MAX, "embstr must fit an 8-bit cbstr header");

static cb_obj *obj_alloc(int type, int encoding, void *ptr)
{
    cb_obj *o = cb_malloc(sizeof(*o));
    o->type = (unsigned)type;
    o->encoding = (unsigned)encoding;
    o->lru = 0;
    o->refcount = 1;
    o->ptr = ptr;
    return o;
}

static cb_obj *obj_new_embstr(const void *p, size_t len)
{
    assert(len <= OBJ_EMBSTR_LIMIT);
    cb_obj *o = cb_malloc(sizeof(*o) + sizeof(emb_hdr) + len + 1);
    emb_hdr *h = (emb_hdr *)(o + 1);
    h->len = (uint8_t)len;
    h->cap = (uint8_t)len;
    h->type = 0;
    char *s = (char *)(h + 1);
    if (p && len) memcpy(s, p, len);
    else if (len) memset(s, 0, len);
    s[len] = '\0';
    o->type = OBJ_STRING;
    o->encoding = OBJ_ENC_EMBSTR;
    o->lru = 0;
    o->refcount = 1;
    o->ptr = s;
    return o;
}

cb_obj *obj_new_raw(const void *p, size_t len)
{
    return obj_alloc(OBJ_STRING, OBJ_ENC_RAW, cbstr_new(p, len));
}

cb_obj *obj_new_string(const void *p, size_t len)
{
    if (len <= OBJ_EMBSTR_LIMIT) return obj_new_embstr(p, len);
    return obj_new_raw(p, len);
}

cb_obj *obj_new_from_cbstr(cbstr s)
{
    return obj_alloc(OBJ_STRING, OBJ_ENC_RAW, s);
}

cb_obj *obj_new_int(long long v)
{
    return obj_alloc(OBJ_STRING, OBJ_ENC_INT, (void *)(intptr_t)v);
}

/* Redis only int-encodes strings of at most 20 bytes that round-trip. */
static int canonical_ll(const char *p, size_t len, long long *v)
{
    return len > 0 && len <= 20 && util_str2ll(p, len, v);
}

cb_obj *obj_new_string_encoded(const void *p, size_t len)
{
    long long v;
    if (canonical_ll(p, len, &v)) return obj_new_int(v);
    return obj_new_string(p, len);
}

cb_obj *obj_try_encode(cb_obj *o)
{
    if (o->type != OBJ_STRING) return o;
    if (o->encoding != OBJ_ENC_RAW && o->encoding != OBJ_ENC_EMBSTR) return o;
    /* A shared object may be referenced from places that expect its bytes. */
    if (o->refcount > 1) return o;

    size_t len = cbstr_len(o->ptr);
    long long v;
    if (canonical_ll(o->ptr, len, &v)) {
        if (o->encoding == OBJ_ENC_RAW) {
            cbstr_free(o->ptr);
            o->encoding = OBJ_ENC_INT;
            o->ptr = (void *)(intptr_t)v;
            return o;
        }
        cb_obj *n = obj_new_int(v);
        obj_decr_ref(o);
        return n;
    }
    if (len <= OBJ_EMBSTR_LIMIT) {
        if (o->encoding == OBJ_ENC_EMBSTR) return o;
        cb_obj *n = obj_new_embstr(o->ptr, len);
        obj_decr_ref(o);
        return n;
    }
    /* Spare room left by appends is worth returning once it exceeds 10%. */
    if (o->encoding == OBJ_ENC_RAW && cbstr_avail(o->ptr) > len / 10)
        o->ptr = cbstr_shrink(o->ptr);
    return o;
}

void obj_string_make_raw(cb_obj *o)
{
    assert(o->type == OBJ_STRING);
    if (o->encoding == OBJ_ENC_RAW) return;
    if (o->encoding == OBJ_ENC_INT) {
        char buf[CB_LL2STR_MAX];
        size_t n = util_ll2str(buf, sizeof(buf), (long long)(intptr_t)o->ptr);
        o->ptr = cbstr_new(buf, n);
    } else {
        /* The embedded bytes stay in the object's block, unused, until the
         * object is freed; the object's address must not change because the
         * keyspace and callers hold it. */
        o->ptr = cbstr_new(o->ptr, cbstr_len(o->ptr));
    }
    o->encoding = OBJ_ENC_RAW;
}

void obj_incr_ref(cb_obj *o)
{
    if (o->refcount == OBJ_SHARED_REFCOUNT) return;
    o->refcount++;
}

static void free_string_value(cb_obj *o)
{
    if (o->encoding == OBJ_ENC_RAW) cbstr_free(o->ptr);
    /* INT keeps the value in the pointer; EMBSTR lives in the object block. */
}

void obj_decr_ref(cb_obj *o)
{
    if (o->refcount == OBJ_SHARED_REFCOUNT) return;
    if (o->refcount <= 0) {
        fprintf(stderr, "obj_decr_ref: refcount %d (double free)\n", o->refcount);
        abort();
    }
    if (--o->refcount > 0) return;
    /* One case per value type: the list, set, zset, hash and stream types
     * (issue 4) add their destructors here. */
    switch (o->type) {
    case OBJ_STRING: free_string_value(o); break;
    case OBJ_LIST: ql_free(o->ptr); break;
    case OBJ_SET: set_free_value(o); break;
    case OBJ_HASH: hash_free_value(o); break;
    case OBJ_ZSET: zset_free_obj(o); break;
    case OBJ_STREAM: stream_free_obj(o); break;
    default:
        fprintf(stderr, "obj_decr_ref: unknown type %u\n", o->type);
        abort();
    }
    cb_free(o);
}

int obj_free_step(cb_obj *o, size_t max)
{
    int more;
    switch (o->type) {
    case OBJ_LIST: more = ql_free_step(o->ptr, max); break;
    case OBJ_SET: more = set_free_step(o, max); break;
    case OBJ_HASH: more = hash_free_step(o, max); break;
    case OBJ_ZSET: more = zset_free_step(o, max); break;
    case OBJ_STREAM: more = stream_free_step_obj(o, max); break;
    default:
        obj_decr_ref(o);
        return 0;
    }
    if (more) return 1;
    cb_free(o);
    return 0;
}

static cb_obj *dup_string(const cb_obj *o)
{
    switch (o->encoding) {
    case OBJ_ENC_INT: return obj_new_int((long long)(intptr_t)o->ptr);
    case OBJ_ENC_EMBSTR: return obj_new_embstr(o->ptr, cbstr_len(o->ptr));
    default: return obj_new_raw(o->ptr, cbstr_len(o->ptr));
    }
}

cb_obj *obj_dup(const cb_obj *o)
{
    /* One case per value type; the other types join in issue 4. */
    switch (o->type) {
    case OBJ_STRING: return dup_string(o);
    case OBJ_LIST: return obj_alloc(OBJ_LIST, o->encoding, ql_dup(o->ptr));
    case OBJ_SET: return set_dup(o);
    case OBJ_HASH: return hash_dup(o);
    case OBJ_ZSET: return zset_dup_obj(o);
    case OBJ_STREAM: return stream_dup_obj(o);
    default:
        fprintf(stderr, "obj_dup: unknown type %u\n", o->type);
        abort();
    }
}

const char *obj_str(const cb_obj *o, char *buf, size_t *len)
{
    assert(o->type == OBJ_STRING);
    if (o->encoding == OBJ_ENC_INT) {
        size_t n = util_ll2str(buf, CB_LL2STR_MAX, (long long)(intptr_t)o->ptr);
        if (len) *len = n;
        return buf;
    }
    if (len) *len = cbstr_len(o->ptr);
    return o->ptr;
}

size_t obj_str_len(const cb_obj *o)
{
    assert(o->type == OBJ_STRING);
    if (o->encoding == OBJ_ENC_INT) {
        char buf[CB_LL2STR_MAX];
        return util_ll2str(buf, sizeof(buf), (long long)(intptr_t)o->ptr);
    }
    return cbstr_len(o->ptr);
}

int obj_get_ll(const cb_obj *o, long long *v)
{
    if (o->type != OBJ_STRING) return 0;
    if (o->encoding == OBJ_ENC_INT) {
        *v = (long long)(intptr_t)o->ptr;
        return 1;
    }
    return util_str2ll(o->ptr, cbstr_len(o->ptr), v);
}

const char *obj_type_name(int type)
{
    switch (type) {
    case OBJ_STRING: return "string";
    case OBJ_LIST: return "list";
    case OBJ_SET: return "set";
    case OBJ_ZSET: return "zset";
    case OBJ_HASH: return "hash";
    case OBJ_STREAM: return "stream";
    default: return "unknown";
    }
}

const char *obj_encoding_name(int encoding)
{
    /* A switch rather than a table of pointers: such a table needs load-time
     * relocation, i.e. writable data, which store/ must not have. */
    switch (encoding) {
    case OBJ_ENC_RAW: return "raw";
    case OBJ_ENC_INT: return "int";
    case OBJ_ENC_HT: return "hashtable";
    case OBJ_ENC_ZIPMAP: return "zipmap";
    case OBJ_ENC_LINKEDLIST: return "linkedlist";
    case OBJ_ENC_ZIPLIST: return "ziplist";
    case OBJ_ENC_INTSET: return "intset";
    case OBJ_ENC_SKIPLIST: return "skiplist";
    case OBJ_ENC_EMBSTR: return "embstr";
    case OBJ_ENC_QUICKLIST: return "quicklist";
    case OBJ_ENC_STREAM: return "stream";
    case OBJ_ENC_LISTPACK_EMB: return "listpack";
    case OBJ_ENC_LISTPACK: return "listpack";
    default: return "unknown";
    }
}

size_t obj_mem_usage(const cb_obj *o)
{
    /* The object block itself: for embstr it holds the bytes too. */
    size_t n = cb_usable(o);
    /* One case per value type; the other types add theirs in issue 4. */
    switch (o->type) {
    case OBJ_STRING:
        if (o->encoding == OBJ_ENC_RAW) n += cbstr_alloc_size(o->ptr);
        break;
    case OBJ_LIST: n += ql_mem(o->ptr); break;
    case OBJ_SET: n += set_mem_usage(o); break;
    case OBJ_HASH: n += hash_mem_usage(o); break;
    case OBJ_ZSET: n += zset_mem_usage(o); break;
    case OBJ_STREAM: n += stream_mem_obj(o); break;
    default: break;
    }
    return n;
}
