/* lazyfree.c — the shard's lazy-free queue (see lazyfree.h).
 *
 * Call order: commands and the keyspace hand values to lazyfree_obj() or
 * whole dbs to db_empty_lazy(); the worker calls lazyfree_step() once per
 * loop turn after its replies are flushed (and does not sleep while work is
 * left). Values whose memory is one block (strings, listpacks, intsets)
 * are freed at once: queueing them would cost more than freeing. Queued
 * values are freed a piece at a time within the time budget
 * (obj_free_step: LAZYFREE_ELEM_STEP elements or nodes between looks at the
 * clock), so even one 5M-member sorted set never holds the loop for long;
 * a flushed db's dicts are freed a bounded number of entries at a time,
 * and the big values found in them join the value queue, so FLUSHALL ASYNC
 * of millions of keys and of huge keys is sliced the same way.
 */
#include "lazyfree.h"

#include "db.h"
#include "snapshot.h"
#include "../platform/mem.h"
#include "../platform/util.h"

/* Entries a dict step frees before looking at the clock again. */
#define LAZYFREE_DICT_STEP 256
/* Elements (or nodes) of one big value freed before looking at the clock. */
#define LAZYFREE_ELEM_STEP 64

static int single_block(const cb_obj *o)
{
    switch (o->encoding) {
    case OBJ_ENC_HT:
    case OBJ_ENC_SKIPLIST:
    case OBJ_ENC_QUICKLIST:
    case OBJ_ENC_STREAM:
    case OBJ_ENC_LINKEDLIST:
        return 0;
    default:
        return 1;
    }
}

void lazyfree_obj(cb_shard *s, cb_obj *o)
{
    if (!o) return;
    if (o->refcount != 1 || single_block(o)) {
        obj_decr_ref(o);
        return;
    }
    lazyfree_queue *q = &s->lazy;
    if (q->nobj == q->capobj) {
        q->capobj = q->capobj ? q->capobj * 2 : 16;
        q->objs = cb_realloc(q->objs, q->capobj * sizeof(*q->objs));
    }
    q->objs[q->nobj++] = o;
}

int db_delete_lazy(cb_shard *s, cb_db *db, const char *k, size_t len)
{
    /* A running snapshot emits the key's cell before it changes. */
    if (db->snap) snap_touch(db, k, len);
    if (dict_size(db->expires)) dict_delete(db->expires, k, len);
    dict_entry *e = dict_unlink(db->keys, k, len);
    if (!e) return 0;
    cb_obj *o = e->v.val;
    e->v.val = NULL; /* the keys dict's destructor skips a NULL value */
    dict_free_unlinked(db->keys, e);
    lazyfree_obj(s, o);
    return 1;
}

static void queue_dict(cb_shard *s, dict *d)
{
    lazyfree_queue *q = &s->lazy;
    if (q->ndict == q->capdict) {
        q->capdict = q->capdict ? q->capdict * 2 : 8;
        q->dicts = cb_realloc(q->dicts, q->capdict * sizeof(*q->dicts));
    }
    q->dicts[q->ndict++] = d;
}

long long db_empty_lazy(cb_shard *s, cb_db *db)
{
    /* Under a running snapshot the old dicts become the snapshot's, which
     * frees them when it is done: nothing to queue. */
    if (db->snap) return db_empty(s, db);
    long long n = (long long)dict_size(db->keys);
    /* The expires dict shares the names the keys dict owns: it goes first
     * in the queue and owns nothing, so freeing it touches no name. */
    queue_dict(s, db->expires);
    queue_dict(s, db->keys);
    db_new_dicts(s, db);
    db->avg_ttl = 0;
    db->expires_cursor = 0;
    return n;
}

/* dict_release_step_fn hook for a flushed keys dict: a big value moves to
 * the value queue (freed in slices) instead of being freed with its entry;
 * the others are counted as freed. */
typedef struct reap_ctx {
    cb_shard *s;
    uint64_t freed;
} reap_ctx;

static void reap_entry(dict_entry *e, void *arg)
{
    reap_ctx *r = arg;
    cb_obj *o = e->v.val;
    if (!o) return;
    if (o->refcount == 1 && !single_block(o)) {
        e->v.val = NULL; /* the keys dict's destructor skips a NULL value */
        lazyfree_obj(r->s, o);
        return;
    }
    r->freed++;
}

int lazyfree_step(cb_shard *s, long long budget_us)
{
    lazyfree_queue *q = &s->lazy;
    if (!q->nobj && !q->ndict) return 0;
    uint64_t start = util_monotonic_us();
    while (q->nobj || q->ndict) {
        if (q->nobj) {
            /* The newest first; a value freed in slices stays queued (and
             * counted in lazyfree_pending_objects) until its last slice. */
            if (!obj_free_step(q->objs[q->nobj - 1], LAZYFREE_ELEM_STEP)) {
                q->nobj--;
                q->freed++;
            }
        } else {
            dict *d = q->dicts[0];
            /* Only the keys dict's entries are objects; expires entries
             * are the same keys again. */
            reap_ctx r = {s, 0};
            int more = dict_owns_values(d) ? dict_release_step_fn(d, LAZYFREE_DICT_STEP,
                                                                  reap_entry, &r)
                                           : dict_release_step(d, LAZYFREE_DICT_STEP);
            q->freed += r.freed;
            if (!more) {
                q->ndict--;
                for (size_t i = 0; i < q->ndict; i++) q->dicts[i] = q->dicts[i + 1];
            }
        }
        if ((long long)(util_monotonic_us() - start) >= budget_us) break;
    }
    if (!q->nobj && !q->ndict) {
        /* Give the queue arrays back once idle. */
        cb_free(q->objs);
        cb_free(q->dicts);
        q->objs = NULL;
        q->dicts = NULL;
        q->capobj = q->capdict = 0;
        return 0;
    }
    return 1;
}

size_t lazyfree_pending(const cb_shard *s)
{
    const lazyfree_queue *q = &s->lazy;
    size_t n = q->nobj;
    for (size_t i = 0; i < q->ndict; i++)
        if (dict_owns_values(q->dicts[i])) n += dict_size(q->dicts[i]);
    return n;
}

void lazyfree_drain(cb_shard *s)
{
    while (lazyfree_step(s, 1000000)) {
    }
}
