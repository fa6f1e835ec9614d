/* object.h — the value object stored in the keyspace: a type, an encoding,
 * an LRU/LFU stamp and a pointer. Strings use the int / embstr / raw
 * encodings with Redis 7.0's rules so OBJECT ENCODING answers as Redis does.
 * Other types (issue 4) add their encodings and free functions here.
 */
#ifndef CB_OBJECT_H
#define CB_OBJECT_H

#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include "ds/cbstr.h"

/* Type codes are Redis's (RDB and TYPE depend on them). */
enum { OBJ_STRING = 0, OBJ_LIST = 1, OBJ_SET = 2, OBJ_ZSET = 3, OBJ_HASH = 4,
       OBJ_MODULE = 5, OBJ_STREAM = 6 };

/* Encoding codes are Redis's (OBJECT ENCODING names are indexed by them). */
enum { OBJ_ENC_RAW = 0, OBJ_ENC_INT = 1, OBJ_ENC_HT = 2, OBJ_ENC_ZIPMAP = 3,
       OBJ_ENC_LINKEDLIST = 4, OBJ_ENC_ZIPLIST = 5, OBJ_ENC_INTSET = 6,
       OBJ_ENC_SKIPLIST = 7, OBJ_ENC_EMBSTR = 8, OBJ_ENC_QUICKLIST = 9,
       OBJ_ENC_STREAM = 10, OBJ_ENC_LISTPACK = 11,
       /* cachebox's own: a compact hash whose pack lives in the object's
        * block, over the ptr field (t_hash.c). Reported as "listpack";
        * never written anywhere (files carry types, not encodings). */
       OBJ_ENC_LISTPACK_EMB = 12 };

/* Strings up to this many bytes are embstr (one allocation with the object). */
#define OBJ_EMBSTR_LIMIT 44
/* Redis reports INT_MAX as the refcount of its shared small integers. */
#define OBJ_SHARED_REFCOUNT INT_MAX
#define OBJ_SHARED_INTEGERS 10000

#define OBJ_LRU_BITS 24
#define OBJ_LRU_CLOCK_MAX ((1u << OBJ_LRU_BITS) - 1)
#define OBJ_LRU_CLOCK_RESOLUTION 1000 /* ms */

typedef struct cb_obj {
    unsigned type : 4;
    unsigned encoding : 4;
    unsigned lru : OBJ_LRU_BITS; /* LRU clock, or LFU: 16-bit minutes + 8-bit counter */
    int refcount;
    void *ptr; /* cbstr for RAW/EMBSTR, the value itself for INT */
} cb_obj;

/* String value whose encoding is embstr when len <= 44, raw otherwise. */
cb_obj *obj_new_string(const void *p, size_t len);
/* Always raw (a separately allocated cbstr), e.g. after APPEND/SETRANGE. */
cb_obj *obj_new_raw(const void *p, size_t len);
/* Adopt an existing cbstr as a raw string object. */
cb_obj *obj_new_from_cbstr(cbstr s);
/* Int-encoded string. */
cb_obj *obj_new_int(long long v);
/* Redis's tryObjectEncoding on fresh bytes: int when the bytes are a
 * canonical long long of at most 20 chars, else embstr/raw by length. */
cb_obj *obj_new_string_encoded(const void *p, size_t len);
/* Re-encode an existing string object in place by the same rules. Returns the
 * object to keep (may be a new one; the old is freed). */
cb_obj *obj_try_encode(cb_obj *o);
/* Make a string object's bytes privately writable (raw encoding). */
void obj_string_make_raw(cb_obj *o);

void obj_incr_ref(cb_obj *o);
/* Drop a reference; frees the value at zero. */
void obj_decr_ref(cb_obj *o);
/* Deep copy (COPY, MOVE to another shard later). */
cb_obj *obj_dup(const cb_obj *o);

/* A string object's bytes. INT values are printed into buf (>= 24 bytes). */
const char *obj_str(const cb_obj *o, char *buf, size_t *len);
size_t obj_str_len(const cb_obj *o);
/* 1 and *v set when the string value is a valid long long. */
int obj_get_ll(const cb_obj *o, long long *v);

/* Names for TYPE and OBJECT ENCODING. */
const char *obj_type_name(int type);
const char *obj_encoding_name(int encoding);

/* Free a value whose last reference the caller holds a piece at a time
 * (lazy free of big containers): up to about max elements or nodes per
 * call; the last call frees the object too and returns 0, earlier ones
 * return 1. Nothing else may use the object once this is called. */
int obj_free_step(cb_obj *o, size_t max);

/* Bytes held by the value (MEMORY USAGE and eviction accounting). */
size_t obj_mem_usage(const cb_obj *o);

/* Sets (t_set.c): intset or hashtable encoding. */
void set_free_value(cb_obj *o);
/* Lazy free of a big set: up to about max members per call; the last call
 * frees the whole value (not the object block) and returns 0. */
int set_free_step(cb_obj *o, size_t max);
cb_obj *set_dup(const cb_obj *o);
size_t set_mem_usage(const cb_obj *o);
/* Calls fn with every member's bytes (intset members printed in decimal). */
void set_foreach(const cb_obj *o, void (*fn)(void *priv, const char *p, size_t len),
                 void *priv);
/* Builders for RDB/DUMP loads (Redis's rdbLoadObject rules). An empty set
 * that starts as an intset, or as a hashtable when len_hint is over
 * set-max-intset-entries. */
struct cb_shard;
struct intset;
cb_obj *set_new_for_load(struct cb_shard *s, unsigned long len_hint);
/* Adds a member, converting as SADD does; 1 added, 0 already present. */
int set_load_add(struct cb_shard *s, cb_obj *o, const char *p, size_t len);
/* Adopts a validated intset; converted to a hashtable when it holds more
 * than set-max-intset-entries. */
cb_obj *set_new_from_intset(struct cb_shard *s, struct intset *is);

/* Streams (t_stream.c). */
void stream_free_obj(cb_obj *o);
/* Lazy free of a big stream, as set_free_step (max: entry nodes). */
int stream_free_step_obj(cb_obj *o, size_t max);
cb_obj *stream_dup_obj(const cb_obj *o);
size_t stream_mem_obj(const cb_obj *o);

#endif
