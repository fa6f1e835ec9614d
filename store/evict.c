/* evict.c — keeping one shard under its share of maxmemory (see evict.h and
 * docs/memory.md).
 *
 * Call order: the data plane calls evict_perform() before every command
 * while maxmemory is set (a deny-OOM command is refused when it returns
 * EVICT_FAIL), and shard_before_sleep() calls it again while a run is left
 * unfinished. A run measures the shard's bytes from its mem.h account
 * before and after each deletion, so "freed" is exact, not an estimate.
 *
 * Candidate choice is Redis's approximation: each round samples
 * maxmemory-samples keys from every non-empty db (the keys dict for
 * allkeys-*, the expires dict for volatile-*), offers them to a pool of the
 * 16 best seen so far, and evicts the best pooled key that still exists.
 * Scores: idle milliseconds (LRU), 255 minus the decayed LFU counter (LFU),
 * ULLONG_MAX minus the deadline (volatile-ttl). The random policies pick a
 * random key, visiting the dbs in turn.
 */
#include "evict.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "db.h"
#include "../platform/config.h"
#include "../platform/mem.h"
#include "../platform/util.h"

/* Keys sampled per dict_sample call (larger samples loop). */
#define EVICT_SAMPLE_CHUNK 64
/* Deletions between two looks at the clock. */
#define EVICT_CLOCK_EVERY 16
/* Rounds of sampling before giving up on a pool full of vanished keys. */
#define EVICT_MAX_ROUNDS 64

/* ------------------------------------------------------------------------
 * The pool
 * ---------------------------------------------------------------------- */

evict_pool *evict_pool_create(void)
{
    return cb_calloc(sizeof(evict_pool));
}

void evict_pool_clear(evict_pool *p)
{
    for (int i = 0; i < p->n; i++) {
        cbstr_free(p->e[i].key);
        p->e[i].key = NULL;
    }
    p->n = 0;
}

void evict_pool_free(evict_pool *p)
{
    if (!p) return;
    evict_pool_clear(p);
    cb_free(p);
}

static void pool_remove_at(evict_pool *p, int i)
{
    cbstr_free(p->e[i].key);
    memmove(&p->e[i], &p->e[i + 1], sizeof(p->e[0]) * (size_t)(p->n - i - 1));
    p->n--;
    p->e[p->n].key = NULL;
}

int evict_pool_offer(evict_pool *p, unsigned long long score, const char *key, size_t len,
                     int dbid)
{
    /* A key sampled twice keeps one slot, with the newer score. */
    for (int i = 0; i < p->n; i++) {
        if (p->e[i].dbid == dbid && cbstr_eq_bytes(p->e[i].key, key, len)) {
            pool_remove_at(p, i);
            break;
        }
    }
    int k = 0;
    while (k < p->n && p->e[k].score < score) k++;
    if (p->n == EVPOOL_SIZE) {
        if (k == 0) return 0; /* no better than anything pooled */
        /* Drop the weakest (index 0) and slide the lower part down. */
        cbstr_free(p->e[0].key);
        memmove(&p->e[0], &p->e[1], sizeof(p->e[0]) * (size_t)(k - 1));
        k--;
    } else {
        memmove(&p->e[k + 1], &p->e[k], sizeof(p->e[0]) * (size_t)(p->n - k));
        p->n++;
    }
    p->e[k].score = score;
    p->e[k].key = cbstr_new(key, len);
    p->e[k].dbid = dbid;
    return 1;
}

cbstr evict_pool_pop(evict_pool *p, int *dbid)
{
    if (p->n == 0) return NULL;
    evict_pool_entry *e = &p->e[--p->n];
    cbstr k = e->key;
    *dbid = e->dbid;
    e->key = NULL;
    return k;
}

/* ------------------------------------------------------------------------
 * Memory state
 * ---------------------------------------------------------------------- */

/* The shard's bytes and limit: its account's share, or the whole process
 * when it has no account (unit tests, one shard). */
static long long shard_bytes(const cb_shard *s, unsigned long long *limit)
{
    unsigned long long max = s->set->maxmemory;
    if (s->mem_account < 0) {
        if (limit) *limit = max;
        return (long long)mem_used_total() - (long long)mem_not_counted();
    }
    unsigned n = 1;
    long long b = mem_account_share(s->mem_account, &n);
    if (limit) *limit = max / n;
    /* Replication memory lives on the management thread, whose bytes are
     * split over the shards: its share does not count. */
    return b - (long long)(mem_not_counted() / n);
}

/* Bytes this shard should free now: over its share, or the box as a whole
 * over maxmemory. The second rule keeps the limit exact even when a shard's
 * account is off (a command on one shard freed or allocated memory of
 * another, e.g. a multi-key command spanning shards); *box_over says
 * whether the whole box is over. */
static long long excess(const cb_shard *s, int *box_over)
{
    unsigned long long lim;
    long long b = shard_bytes(s, &lim);
    long long over = b - (long long)lim;
    long long total = (long long)mem_used_total() - (long long)mem_not_counted();
    long long box = total - (long long)s->set->maxmemory;
    if (box_over) *box_over = box > 0;
    return over > box ? over : box;
}

int evict_over_limit(const cb_shard *s, size_t *used, size_t *limit)
{
    if (!s->set->maxmemory) return 0;
    unsigned long long lim;
    long long b = shard_bytes(s, &lim);
    if (b < 0) b = 0;
    if (used) *used = (size_t)b;
    if (limit) *limit = (size_t)lim;
    return excess(s, NULL) > 0;
}

int evict_dict_expand_allowed(size_t more_bytes, double fill, void *priv)
{
    const cb_shard *s = priv;
    if (!s || !s->set->maxmemory || fill > 1.618) return 1;
    unsigned long long limit;
    long long b = shard_bytes(s, &limit);
    return (unsigned long long)(b < 0 ? 0 : b) + more_bytes <= limit;
}

unsigned long evict_time_limit_us(int tenacity)
{
    if (tenacity <= 0) return 0;
    if (tenacity <= 10) return 50ul * (unsigned long)tenacity;
    if (tenacity < 100) return (unsigned long)(500.0 * pow(1.15, tenacity - 10.0));
    return ULONG_MAX;
}

/* ------------------------------------------------------------------------
 * Choosing a victim
 * ---------------------------------------------------------------------- */

static int policy_is_volatile(int p)
{
    return p == MAXMEM_VOLATILE_LRU || p == MAXMEM_VOLATILE_LFU ||
           p == MAXMEM_VOLATILE_RANDOM || p == MAXMEM_VOLATILE_TTL;
}

static unsigned long long score_of(cb_shard *s, cb_db *db, const dict_entry *e, int policy,
                                   int from_expires)
{
    if (policy == MAXMEM_VOLATILE_TTL) return ULLONG_MAX - (unsigned long long)e->v.s64;
    const cb_obj *o;
    if (from_expires) {
        dict_entry *ke = dict_find(db->keys, e->key, cbstr_len(e->key));
        if (!ke) return 0;
        o = ke->v.val;
    } else {
        o = e->v.val;
    }
    if (policy == MAXMEM_ALLKEYS_LFU || policy == MAXMEM_VOLATILE_LFU)
        return 255 - lfu_decr_and_return(o, s->now_ms, s->set->lfu_decay_time);
    return obj_idle_ms(o, lru_clock_of(s->now_ms));
}

static void pool_populate(cb_shard *s, cb_db *db, dict *d, int policy, int from_expires)
{
    dict_entry *samples[EVICT_SAMPLE_CHUNK];
    long long want = s->set->maxmemory_samples > 0 ? s->set->maxmemory_samples : 5;
    while (want > 0) {
        size_t ask = want > EVICT_SAMPLE_CHUNK ? EVICT_SAMPLE_CHUNK : (size_t)want;
        size_t got = dict_sample(d, samples, ask, &s->rng);
        if (got == 0) break;
        for (size_t i = 0; i < got; i++) {
            dict_entry *e = samples[i];
            evict_pool_offer(s->evpool, score_of(s, db, e, policy, from_expires), e->key,
                             cbstr_len(e->key), db->id);
        }
        want -= (long long)ask;
    }
}

/* The next key to evict (a copy the caller frees) and its db; NULL when
 * nothing is evictable. */
static cbstr pick_victim(cb_shard *s, int *dbid)
{
    int policy = s->set->maxmemory_policy;
    int vol = policy_is_volatile(policy);

    if (policy == MAXMEM_ALLKEYS_RANDOM || policy == MAXMEM_VOLATILE_RANDOM) {
        for (int i = 0; i < s->ndb; i++) {
            int j = s->evict_next_db = (s->evict_next_db + 1) % s->ndb;
            dict *d = vol ? s->dbs[j].expires : s->dbs[j].keys;
            dict_entry *e = dict_size(d) ? dict_random(d, &s->rng) : NULL;
            if (e) {
                *dbid = j;
                return cbstr_dup(e->key);
            }
        }
        return NULL;
    }

    for (int round = 0; round < EVICT_MAX_ROUNDS; round++) {
        size_t total = 0;
        for (int i = 0; i < s->ndb; i++) {
            cb_db *db = &s->dbs[i];
            dict *d = vol ? db->expires : db->keys;
            size_t n = dict_size(d);
            if (!n) continue;
            total += n;
            pool_populate(s, db, d, policy, vol);
        }
        if (!total) return NULL;
        /* Best first; pooled names may have been deleted since. */
        cbstr k;
        int id;
        while ((k = evict_pool_pop(s->evpool, &id)) != NULL) {
            dict *d = id >= s->ndb ? NULL : vol ? s->dbs[id].expires : s->dbs[id].keys;
            if (d && dict_find(d, k, cbstr_len(k))) {
                *dbid = id;
                return k;
            }
            cbstr_free(k);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * The run
 * ---------------------------------------------------------------------- */

static void evict_key(cb_shard *s, cb_db *db, cbstr k)
{
    if (s->set->lazyfree_lazy_eviction) db_delete_lazy(s, db, k, cbstr_len(k));
    else db_delete(s, db, k, cbstr_len(k));
    s->stats.evicted_keys++;
    if (s->on_evicted) s->on_evicted(s->owner, db, k, cbstr_len(k));
    db_signal_modified(s, db, k, cbstr_len(k));
    notify_keyspace_event(s, db, NOTIFY_EVICTED, "evicted", k, cbstr_len(k));
}

int evict_perform(cb_shard *s)
{
    int box_over = 0;
    long long tofree = s->set->maxmemory ? excess(s, &box_over) : 0;
    if (tofree <= 0) {
        s->evict_pending = 0;
        return EVICT_OK;
    }
    /* Nothing may be evicted: refuse growth only while the box as a whole
     * is over (a shard over its share alone still has room elsewhere). */
    if (s->set->maxmemory_policy == MAXMEM_NOEVICTION) {
        s->evict_pending = 0;
        return box_over || s->mem_account < 0 ? EVICT_FAIL : EVICT_OK;
    }
    if (s->set->lazyfree_lazy_eviction && (s->lazy.nobj || s->lazy.ndict)) {
        /* Memory is on its way back (freed after this turn's replies):
         * wait for it instead of evicting more. */
        s->evict_pending = 1;
        return EVICT_RUNNING;
    }
    long long freed = 0;
    uint64_t start = util_monotonic_us();
    unsigned long budget = evict_time_limit_us(s->set->maxmemory_eviction_tenacity);
    unsigned long keys = 0;
    while (freed < tofree) {
        int dbid;
        cbstr k = pick_victim(s, &dbid);
        if (!k) {
            /* Values still waiting in the lazy-free queue will bring memory
             * down once the worker frees them after its replies. */
            s->evict_pending = s->lazy.nobj || s->lazy.ndict;
            if (s->evict_pending) return EVICT_RUNNING;
            return box_over || s->mem_account < 0 ? EVICT_FAIL : EVICT_OK;
        }
        long long before = shard_bytes(s, NULL);
        size_t queued = s->lazy.nobj;
        evict_key(s, &s->dbs[dbid], k);
        freed += before - shard_bytes(s, NULL);
        cbstr_free(k);
        if (s->lazy.nobj > queued) {
            /* lazyfree-lazy-eviction queued a big value: its memory comes
             * back after this loop turn's replies, so stop here rather than
             * evict more keys to cover memory that is about to be freed. */
            s->evict_pending = 1;
            return EVICT_RUNNING;
        }
        keys++;
        if (keys % EVICT_CLOCK_EVERY == 0 && util_monotonic_us() - start > budget) {
            /* Out of time: the rest is done between polls; this command
             * still runs, as Redis lets it. */
            s->evict_pending = 1;
            return EVICT_RUNNING;
        }
    }
    s->evict_pending = 0;
    return EVICT_OK;
}
