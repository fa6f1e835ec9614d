/* defrag.c — active defragmentation of one shard (activedefrag and the
 * active-defrag-* directives; design in docs/memory.md, "Active defrag").
 *
 * Call order: shard_cron() calls defrag_cron() every tick. When the
 * allocator's fragmentation (active vs allocated bytes) is over
 * active-defrag-threshold-lower and active-defrag-ignore-bytes, a pass
 * starts: it walks every db's keys dict with a cursor, a slice per tick
 * whose length is the CPU share between active-defrag-cycle-min and -max
 * that the fragmentation calls for, and moves each allocation that sits in
 * a slab emptier than its size class's average (mem_defrag_move) into a
 * fuller one: the dict entries, the key names (the expires dict shares
 * them, so its entry is updated too), the value objects and their string
 * or compact-encoding block. Containers with inner allocations (hashtable
 * hashes and sets, skiplist sorted sets, quicklists, streams) have those
 * moved too: whole when they hold at most active-defrag-max-scan-fields
 * elements, else the key goes on the "later" list and its insides are
 * moved a slice at a time with a cursor of their own (a dict cursor, or a
 * node index), ahead of the main walk, so one huge key never takes more
 * than a slice of a tick. A finished pass ends the run; the next tick
 * looks at the numbers again.
 */
#include "defrag.h"

#include <string.h>

#include "db.h"
#include "t_zset.h"
#include "ds/quicklist.h"
#include "ds/stream.h"
#include "../platform/mem.h"
#include "../platform/util.h"

/* Buckets between two looks at the clock. */
#define DEFRAG_CLOCK_EVERY 16
/* Dict buckets or nodes of a big value moved in one slice. */
#define DEFRAG_SLICE 64
/* Big values remembered for later in one pass, at most. */
#define DEFRAG_LATER_MAX 4096

/* Moves one block and counts the outcome in the shard's statistics. */
static void *move_counted(cb_shard *s, void *p)
{
    void *n = mem_defrag_move(p);
    if (n) s->stats.defrag_hits++;
    else s->stats.defrag_misses++;
    return n;
}

typedef struct visit_ctx {
    cb_shard *s;
    cb_db *db;
} visit_ctx;

static int defrag_value(cb_shard *s, dict_entry *e)
{
    cb_obj *o = e->v.val;
    int moved = 0;
    if (!o || o->refcount != 1) return 0;
    if (o->type == OBJ_STRING && o->encoding == OBJ_ENC_EMBSTR) {
        size_t off = (size_t)((char *)o->ptr - (char *)o);
        cb_obj *n = move_counted(s, o);
        if (n) {
            n->ptr = (char *)n + off;
            e->v.val = n;
            moved = 1;
        }
        return moved;
    }
    cb_obj *n = move_counted(s, o);
    if (n) {
        e->v.val = o = n;
        moved = 1;
    }
    if (o->type == OBJ_STRING && o->encoding == OBJ_ENC_RAW) {
        cbstr ns = cbstr_move(o->ptr, mem_defrag_move);
        if (ns) {
            o->ptr = ns;
            s->stats.defrag_hits++;
            moved = 1;
        }
    } else if ((o->type == OBJ_HASH && o->encoding == OBJ_ENC_LISTPACK) ||
               (o->type == OBJ_ZSET && o->encoding == OBJ_ENC_LISTPACK) ||
               (o->type == OBJ_SET && o->encoding == OBJ_ENC_INTSET)) {
        /* One block holds the whole value. */
        void *np = move_counted(s, o->ptr);
        if (np) {
            o->ptr = np;
            moved = 1;
        }
    }
    return moved;
}

/* ------------------------------------------------------------------------
 * Inside containers
 * ---------------------------------------------------------------------- */

/* dict_defrag_scan visitors for the inner dicts: a hash's field and value,
 * a set's member, a sorted set's node and element (the dict key is the
 * node's element). */
static void visit_hash_entry(void *priv, dict_entry *e)
{
    cb_shard *s = priv;
    cbstr n = cbstr_move(e->key, mem_defrag_move);
    if (n) e->key = n, s->stats.defrag_hits++;
    n = cbstr_move(e->v.val, mem_defrag_move);
    if (n) e->v.val = n, s->stats.defrag_hits++;
}

static void visit_set_entry(void *priv, dict_entry *e)
{
    cb_shard *s = priv;
    cbstr n = cbstr_move(e->key, mem_defrag_move);
    if (n) e->key = n, s->stats.defrag_hits++;
}

typedef struct zvisit {
    cb_shard *s;
    zset *z;
} zvisit;

static void visit_zset_entry(void *priv, dict_entry *e)
{
    zvisit *x = priv;
    int moved = 0;
    cbstr n = zsl_defrag_node(x->z->zsl, e->v.d, e->key, mem_defrag_move, &moved);
    if (n) e->key = n;
    x->s->stats.defrag_hits += (unsigned)moved;
}

/* The node at index i (0 = head), or NULL. */
static ql_node *ql_node_at(quicklist *ql, uint64_t i)
{
    ql_node *n = ql->head;
    while (n && i--) n = n->next;
    return n;
}

/* Moves up to max dict buckets or nodes of o's insides from *cursor on.
 * Returns 1 while more is left (*cursor says where), 0 when done. */
static int defrag_inside(cb_shard *s, cb_obj *o, uint64_t *cursor, size_t max)
{
    if ((o->type == OBJ_HASH || o->type == OBJ_SET) && o->encoding == OBJ_ENC_HT) {
        void (*visit)(void *, dict_entry *) =
            o->type == OBJ_HASH ? visit_hash_entry : visit_set_entry;
        for (size_t i = 0; i < max; i++) {
            *cursor = dict_defrag_scan(o->ptr, *cursor, mem_defrag_move, visit, s);
            if (!*cursor) return 0;
        }
        return 1;
    }
    if (o->type == OBJ_ZSET && o->encoding == OBJ_ENC_SKIPLIST) {
        zvisit x = {s, o->ptr};
        for (size_t i = 0; i < max; i++) {
            *cursor = dict_defrag_scan(x.z->d, *cursor, mem_defrag_move, visit_zset_entry, &x);
            if (!*cursor) return 0;
        }
        return 1;
    }
    if (o->type == OBJ_LIST) {
        quicklist *ql = o->ptr;
        ql_node *n = ql_node_at(ql, *cursor);
        for (size_t i = 0; i < max && n; i++, (*cursor)++) {
            ql_node *m = mem_defrag_move(n);
            if (m) {
                if (m->prev) m->prev->next = m;
                else ql->head = m;
                if (m->next) m->next->prev = m;
                else ql->tail = m;
                n = m;
                s->stats.defrag_hits++;
            }
            unsigned char *d = mem_defrag_move(n->data);
            if (d) n->data = d, s->stats.defrag_hits++;
            n = n->next;
        }
        return n != NULL;
    }
    if (o->type == OBJ_STREAM) {
        stream *st = o->ptr;
        for (size_t i = 0; i < max && *cursor < st->nnodes; i++, (*cursor)++) {
            stream_node *n = mem_defrag_move(st->nodes[*cursor]);
            if (n) st->nodes[*cursor] = n, s->stats.defrag_hits++;
            else n = st->nodes[*cursor];
            unsigned char *d = mem_defrag_move(n->data);
            if (d) n->data = d, s->stats.defrag_hits++;
        }
        return *cursor < st->nnodes;
    }
    return 0;
}

/* Elements of a container with inner allocations; 0 for the others. */
static size_t inner_size(const cb_obj *o)
{
    switch (o->type) {
    case OBJ_HASH:
    case OBJ_SET: return o->encoding == OBJ_ENC_HT ? dict_size(o->ptr) : 0;
    case OBJ_ZSET: return o->encoding == OBJ_ENC_SKIPLIST ? zset_len(o) : 0;
    case OBJ_LIST: return ((const quicklist *)o->ptr)->count;
    case OBJ_STREAM: return ((const stream *)o->ptr)->length + 1;
    default: return 0;
    }
}

static void later_push(cb_shard *s, cb_db *db, const cbstr key)
{
    defrag_state *d = &s->defrag;
    if (d->nlater >= DEFRAG_LATER_MAX) return; /* its insides wait for a pass */
    if (d->nlater == d->caplater) {
        d->caplater = d->caplater ? d->caplater * 2 : 16;
        d->later = cb_realloc(d->later, d->caplater * sizeof(*d->later));
    }
    defrag_later *l = &d->later[d->nlater++];
    l->len = cbstr_len(key);
    l->key = cb_malloc(l->len ? l->len : 1);
    memcpy(l->key, key, l->len);
    l->db = db->id;
}

static void later_pop(cb_shard *s)
{
    defrag_state *d = &s->defrag;
    cb_free(d->later[0].key);
    d->nlater--;
    memmove(d->later, d->later + 1, d->nlater * sizeof(*d->later));
    d->later_cursor = 0;
}

/* One slice of the first big value on the later list. */
static void later_step(cb_shard *s)
{
    defrag_state *d = &s->defrag;
    defrag_later *l = &d->later[0];
    dict_entry *e = l->db >= 0 && l->db < s->ndb ? dict_find(s->dbs[l->db].keys, l->key, l->len)
                                                 : NULL;
    cb_obj *o = e ? e->v.val : NULL;
    if (!o || o->refcount != 1 || !defrag_inside(s, o, &d->later_cursor, DEFRAG_SLICE))
        later_pop(s);
}

void defrag_release(cb_shard *s)
{
    while (s->defrag.nlater) later_pop(s);
    cb_free(s->defrag.later);
    s->defrag.later = NULL;
    s->defrag.caplater = 0;
}

/* ------------------------------------------------------------------------
 * The keyspace walk
 * ---------------------------------------------------------------------- */

static void visit_key(void *priv, dict_entry *e)
{
    visit_ctx *x = priv;
    cb_shard *s = x->s;
    int moved = 0;
    /* The expires entry points at the same name: find it before the old
     * name is freed. */
    dict_entry *ee = NULL;
    if (dict_size(x->db->expires)) ee = dict_find(x->db->expires, e->key, cbstr_len(e->key));
    cbstr nk = cbstr_move(e->key, mem_defrag_move);
    if (nk) {
        e->key = nk;
        if (ee) ee->key = nk;
        s->stats.defrag_hits++;
        moved = 1;
    } else {
        s->stats.defrag_misses++;
    }
    moved |= defrag_value(s, e);
    if (moved) s->stats.defrag_key_hits++;
    else s->stats.defrag_key_misses++;
    /* Inner allocations: at once for a small container, later (a slice at
     * a time) for a big one. */
    cb_obj *o = e->v.val;
    size_t n = o && o->refcount == 1 ? inner_size(o) : 0;
    if (!n) return;
    if ((long long)n <= s->set->active_defrag_max_scan_fields) {
        uint64_t cur = 0;
        while (defrag_inside(s, o, &cur, DEFRAG_SLICE)) {
        }
    } else {
        later_push(s, x->db, e->key);
    }
}

/* The CPU share (percent of each tick) for this much fragmentation. */
static int effort_for(const cb_store_settings *set, double frag_pct)
{
    int lo = set->active_defrag_cycle_min, hi = set->active_defrag_cycle_max;
    double t0 = set->active_defrag_threshold_lower, t1 = set->active_defrag_threshold_upper;
    if (hi < lo) hi = lo;
    if (frag_pct >= t1 || t1 <= t0) return hi;
    double e = lo + (frag_pct - t0) * (hi - lo) / (t1 - t0);
    if (e < lo) e = lo;
    if (e > hi) e = hi;
    return (int)e;
}

void defrag_cron(cb_shard *s)
{
    const cb_store_settings *set = s->set;
    if (!set->active_defrag) {
        s->defrag.running = 0;
        return;
    }
    /* A snapshot walks the dicts by cells: leave them alone until it ends. */
    for (int i = 0; i < s->ndb; i++)
        if (s->dbs[i].snap) return;
    size_t allocated, active;
    if (mem_allocator_frag(&allocated, &active) != 0 || allocated == 0) return;
    double frag_pct = active > allocated ? (double)(active - allocated) * 100 / (double)allocated : 0;
    unsigned long long frag_bytes = active > allocated ? active - allocated : 0;
    if (!s->defrag.running) {
        if (frag_pct < set->active_defrag_threshold_lower ||
            frag_bytes < set->active_defrag_ignore_bytes)
            return;
        s->defrag.db = 0;
        s->defrag.cursor = 0;
        s->defrag.expires = 0;
        defrag_release(s);
    }
    s->defrag.running = effort_for(set, frag_pct);
    int hz = set->hz > 0 ? set->hz : 10;
    long long budget = 1000000LL / hz * s->defrag.running / 100;
    uint64_t start = util_monotonic_us();
    for (int steps = 0;; steps++) {
        if (s->defrag.nlater) {
            /* Big values found so far go first, a slice per step. */
            later_step(s);
            if ((long long)(util_monotonic_us() - start) >= budget) return;
            continue;
        }
        if (s->defrag.db >= s->ndb) {
            s->defrag.running = 0; /* pass done: the next tick decides again */
            return;
        }
        cb_db *db = &s->dbs[s->defrag.db];
        visit_ctx x = {s, db};
        if (!s->defrag.expires)
            s->defrag.cursor = dict_defrag_scan(db->keys, s->defrag.cursor, mem_defrag_move,
                                                visit_key, &x);
        else
            s->defrag.cursor = dict_defrag_scan(db->expires, s->defrag.cursor, mem_defrag_move,
                                                NULL, NULL);
        if (s->defrag.cursor == 0) {
            if (s->defrag.expires) s->defrag.db++;
            s->defrag.expires = !s->defrag.expires;
        }
        if (steps % DEFRAG_CLOCK_EVERY == 0 &&
            (long long)(util_monotonic_us() - start) >= budget)
            return;
    }
}
