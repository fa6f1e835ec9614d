/* lazyfree.h — freeing big values and whole databases off the request path
 * (UNLINK, FLUSHALL/FLUSHDB ASYNC, and the lazyfree-lazy-* directives).
 * The key leaves the keyspace at once; its value (or a flushed db's old
 * dicts) goes to the shard's queue, which the owning worker frees after it
 * has flushed its replies, a time budget per loop turn (lazyfree_step). The
 * owning worker frees, so the memory leaves the shard's own account and
 * arena cache. Design: docs/memory.md, "Lazy free".
 */
#ifndef CB_LAZYFREE_H
#define CB_LAZYFREE_H

#include <stddef.h>
#include <stdint.h>

struct cb_shard;
struct cb_db;
struct cb_obj;
struct dict;

/* The shard's queue: values and detached dicts waiting to be freed. */
typedef struct lazyfree_queue {
    struct cb_obj **objs;
    size_t nobj, capobj;
    struct dict **dicts;
    size_t ndict, capdict;
    uint64_t freed;  /* lazyfreed_objects */
} lazyfree_queue;

/* Drop a value the keyspace no longer holds: freed now when it is a
 * single block (strings, compact encodings) or still shared, else queued. */
void lazyfree_obj(struct cb_shard *s, struct cb_obj *o);
/* Delete a key, its value through lazyfree_obj. 1 when it existed. */
int db_delete_lazy(struct cb_shard *s, struct cb_db *db, const char *k, size_t len);
/* Empty a db at once (fresh dicts), the old contents freed in the
 * background. Returns the number of keys it held. */
long long db_empty_lazy(struct cb_shard *s, struct cb_db *db);
/* Free queued work for about budget_us microseconds; 1 while some is left. */
int lazyfree_step(struct cb_shard *s, long long budget_us);
/* Objects waiting (lazyfree_pending_objects; a queued db counts its keys). */
size_t lazyfree_pending(const struct cb_shard *s);
/* Free everything queued now (shard destruction). */
void lazyfree_drain(struct cb_shard *s);

#endif
