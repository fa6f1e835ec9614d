/* t_hash.h — the hash value type as the rest of the store sees it: free,
 * copy, size, and a visitor over the field/value pairs (DEBUG DIGEST, and
 * later RDB/DUMP). The encodings and the commands live in t_hash.c.
 */
#ifndef CB_T_HASH_H
#define CB_T_HASH_H

#include <stddef.h>
#include "object.h"

/* Frees a hash object's value (not the object block). */
void hash_free_value(cb_obj *o);
/* 1 for the compact encoding ("listpack"), embedded in its object or not. */
int hash_is_compact(const cb_obj *o);
/* A compact hash moved into one block with its object (the pack over the
 * ptr field): returns the object to keep — a new one when it moved, o
 * freed — or o itself (not compact, shared, or already embedded). Only for
 * objects whose holder updates its pointer (loaders, the keyspace). */
cb_obj *hash_embed(cb_obj *o);
/* Lazy free of a big hash: frees up to about max fields; the last call
 * frees the whole value (not the object block) and returns 0. */
int hash_free_step(cb_obj *o, size_t max);
/* Deep copy with the same encoding. */
cb_obj *hash_dup(const cb_obj *o);
/* Bytes held by the value beyond the object block. */
size_t hash_mem_usage(const cb_obj *o);
/* Number of fields. */
size_t hash_length(const cb_obj *o);

/* The value of field f: 1 with (*v, *vl) set (buf, >= 32 bytes, may hold
 * integer text), 0 when the field is missing. */
int hash_get(const cb_obj *o, const char *f, size_t fl, char *buf, const char **v,
             size_t *vl);
typedef void (*hash_visit_fn)(void *priv, const char *f, size_t flen,
                              const char *v, size_t vlen);
/* Calls fn for every field/value pair (compact: in stored order). */
void hash_foreach(const cb_obj *o, hash_visit_fn fn, void *priv);
/* Builders for RDB/DUMP loads: an empty compact hash, and a field added as
 * HSET would (converting past the listpack limits). 1 new, 0 duplicate
 * field (the value is then left as it was). */
struct cb_shard;
cb_obj *hash_new_for_load(void);
int hash_load_set(struct cb_shard *s, cb_obj *o, const char *f, size_t fl, const char *v,
                  size_t vl);

#endif
