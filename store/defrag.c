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
 * or compact-encoding block. Lists, big hashes/sets/sorted sets (hashtable
 * and skiplist encodings) and streams keep their inner allocations for now.
 * A finished pass ends the run; the next tick looks at the numbers again.
 */
#include "defrag.h"

#include "db.h"
#include "../platform/mem.h"
#include "../platform/util.h"

/* Buckets between two looks at the clock. */
#define DEFRAG_CLOCK_EVERY 16

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
    }
    s->defrag.running = effort_for(set, frag_pct);
    int hz = set->hz > 0 ? set->hz : 10;
    long long budget = 1000000LL / hz * s->defrag.running / 100;
    uint64_t start = util_monotonic_us();
    for (int steps = 0;; steps++) {
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
