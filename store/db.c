/* db.c — a shard's keyspace (see db.h): its databases, lookups with lazy
 * expiry, adding/overwriting/deleting keys, TTLs, SWAPDB, RANDOMKEY, SCAN
 * steps and the shard's periodic work.
 *
 * Each db holds two dicts. `keys` owns the key cbstr and the value object;
 * `expires` maps the very same key pointer to a unix-ms deadline and owns
 * nothing, so an expires entry must always be removed before its keys
 * entry (whose removal frees the name). A key is logically expired when
 * s->now_ms (frozen per command by shard_set_time) is past its deadline;
 * lookups delete such keys on the way (lazy expiry), expire.c deletes the
 * rest in the background (active expiry). On a replica (settings' replica
 * flag) reads only hide such keys: the master's DEL removes them, as in
 * Redis 7.0; writes of a writable replica's own clients still delete, and
 * keys those clients gave a TTL are remembered in s->replica_keys for the
 * replica's own expiry cycle. Design: ../shared/notes/architecture.md,
 * "Keyspace and shards"; docs/replication.md, "Replica side".
 */
#include "db.h"
#include "evict.h"
#include "snapshot.h"
#include "../platform/config.h"
#include "../platform/mem.h"
#include "../platform/util.h"

#include <assert.h>
#include <string.h>

/* Before a write changes key k of db: a running snapshot that has not
 * emitted k's cell yet does so now (snapshot.h). One test when none runs. */
#define SNAP_TOUCH(db, k, len) \
    do { if ((db)->snap) snap_touch((db), (k), (len)); } while (0)

/* Rehashing in cron gets this many microseconds per call (Redis: 1 ms). */
#define CRON_REHASH_US 1000

static void keys_val_free(void *val, void *priv)
{
    (void)priv;
    if (val) obj_decr_ref(val); /* NULL: the value went to the lazy-free queue */
}


/* Used when the owner passes no settings (unit tests). */
static const cb_store_settings default_settings = {
    .hz = 10,
    .active_expire_effort = 1,
    .lfu_log_factor = 10,
    .lfu_decay_time = 1,
    .maxmemory_policy = MAXMEM_NOEVICTION,
    .maxmemory = 0,
    .maxmemory_samples = 5,
    .maxmemory_eviction_tenacity = 10,
    .proto_max_bulk_len = 512LL * 1024 * 1024,
    .list_max_listpack_size = -2,
    .list_compress_depth = 0,
    .set_max_intset_entries = 512,
    .hash_max_listpack_entries = 512,
    .hash_max_listpack_value = 64,
    .zset_max_listpack_entries = 128,
    .zset_max_listpack_value = 64,
};

/* ------------------------------------------------------------------------
 * Shards
 * ---------------------------------------------------------------------- */

cb_shard *shard_create(int id, int ndb, const cb_store_settings *set,
                       const uint8_t seed[16])
{
    assert(ndb > 0);
    cb_shard *s = cb_calloc(sizeof(*s));
    s->id = id;
    s->ndb = ndb;
    s->set = set ? set : &default_settings;
    memcpy(s->seed, seed, sizeof(s->seed));
    uint64_t r = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 16; i++) r = (r ^ seed[i]) * 0x100000001b3ULL;
    s->rng = r ? r : 1;
    /* The dict types live in the shard: a static table of function pointers
     * would be relocated at load time, i.e. writable data. */
    s->keys_type.key_free = cbstr_free;
    s->keys_type.val_free = keys_val_free;
    /* expires shares the names owned by keys; its values are inline s64. */
    s->expires_type.key_free = NULL;
    s->expires_type.val_free = NULL;
    s->dbs = cb_calloc(sizeof(cb_db) * (size_t)ndb);
    for (int i = 0; i < ndb; i++) {
        s->dbs[i].id = i;
        db_new_dicts(s, &s->dbs[i]);
    }
    s->active_expire_enabled = 1;
    s->mem_account = -1;
    s->evpool = evict_pool_create();
    shard_set_time(s, util_mstime());
    s->lru_clock = lru_clock_of(s->now_ms);
    return s;
}

void db_new_dicts(cb_shard *s, cb_db *db)
{
    db->keys = dict_create(&s->keys_type, s, s->seed);
    db->expires = dict_create(&s->expires_type, s, s->seed);
    dict_set_expand_hook(db->keys, evict_dict_expand_allowed);
    dict_set_expand_hook(db->expires, evict_dict_expand_allowed);
}

void shard_destroy(cb_shard *s)
{
    if (!s) return;
    snap_end(s);
    lazyfree_drain(s);
    defrag_release(s);
    for (int i = 0; i < s->ndb; i++) {
        /* expires first: its entries point at names the keys dict frees. */
        dict_release(s->dbs[i].expires);
        dict_release(s->dbs[i].keys);
    }
    if (s->replica_keys) dict_release(s->replica_keys);
    cb_free(s->dbs);
    evict_pool_free(s->evpool);
    cb_free(s);
}

void shard_set_time(cb_shard *s, long long now_ms)
{
    s->now_ms = now_ms;
}

int shard_is_replica(const cb_shard *s)
{
    return __atomic_load_n(&s->set->replica, __ATOMIC_RELAXED);
}

int shard_policy_is_lfu(const cb_shard *s)
{
    int p = s->set->maxmemory_policy;
    return p == MAXMEM_ALLKEYS_LFU || p == MAXMEM_VOLATILE_LFU;
}

int shard_shares_integers(const cb_shard *s)
{
    int p = s->set->maxmemory_policy;
    int lru_or_lfu = p == MAXMEM_ALLKEYS_LRU || p == MAXMEM_VOLATILE_LRU ||
                     p == MAXMEM_ALLKEYS_LFU || p == MAXMEM_VOLATILE_LFU;
    return s->set->maxmemory == 0 || !lru_or_lfu;
}

/* ------------------------------------------------------------------------
 * Access stamps
 * ---------------------------------------------------------------------- */

static void stamp_new(cb_shard *s, cb_obj *o)
{
    if (shard_policy_is_lfu(s))
        o->lru = (lfu_time_minutes(s->now_ms) << 8) | LFU_INIT_VAL;
    else
        o->lru = lru_clock_of(s->now_ms);
}

static void touch(cb_shard *s, cb_obj *o)
{
    if (shard_policy_is_lfu(s)) {
        unsigned long c = lfu_decr_and_return(o, s->now_ms, s->set->lfu_decay_time);
        c = lfu_log_incr((uint8_t)c, s->set->lfu_log_factor, &s->rng);
        o->lru = (lfu_time_minutes(s->now_ms) << 8) | (unsigned)c;
    } else {
        o->lru = lru_clock_of(s->now_ms);
    }
}

/* ------------------------------------------------------------------------
 * Expiry of single keys
 * ---------------------------------------------------------------------- */

long long db_get_expire(cb_db *db, const char *k, size_t len)
{
    if (dict_size(db->expires) == 0) return -1;
    dict_entry *e = dict_find(db->expires, k, len);
    return e ? (long long)e->v.s64 : -1;
}

/* Redis's rememberSlaveKeyWithExpire: a TTL set by our own client on a
 * writable replica is ours to expire, the master will never DEL the key. */
static void remember_replica_key(cb_shard *s, cb_db *db, cbstr name)
{
    if (db->id > 63) return; /* the bitmap's width, as Redis */
    if (!s->replica_keys) {
        s->replica_keys_type.key_free = cbstr_free;
        s->replica_keys_type.val_free = NULL;
        s->replica_keys = dict_create(&s->replica_keys_type, s, s->seed);
    }
    dict_entry *e = dict_find(s->replica_keys, name, cbstr_len(name));
    if (!e) {
        e = dict_add_raw(s->replica_keys, cbstr_dup(name), NULL);
        e->v.u64 = 0;
    }
    e->v.u64 |= 1ULL << db->id;
}

void db_replica_keys_clear(cb_shard *s)
{
    if (s->replica_keys) dict_clear(s->replica_keys);
}

void db_set_expire(cb_shard *s, cb_db *db, const char *k, size_t len, long long when_ms)
{
    SNAP_TOUCH(db, k, len);
    dict_entry *ke = dict_find(db->keys, k, len);
    assert(ke != NULL);
    dict_entry *ee = dict_find(db->expires, k, len);
    if (!ee) {
        ee = dict_add_raw(db->expires, ke->key, NULL);
        assert(ee != NULL);
    }
    ee->v.s64 = when_ms;
    if (!s->loading && !s->master_stream && shard_is_replica(s) &&
        !s->set->replica_read_only)
        remember_replica_key(s, db, ke->key);
}

int db_remove_expire(cb_db *db, const char *k, size_t len)
{
    if (dict_size(db->expires) == 0) return 0;
    SNAP_TOUCH(db, k, len);
    return dict_delete(db->expires, k, len);
}

int db_key_is_expired(const cb_shard *s, cb_db *db, const char *k, size_t len)
{
    /* As Redis: replayed writes see the keys they saw, and a replica runs
     * its master's commands on every key the master still has. */
    if (s->loading || s->master_stream) return 0;
    long long when = db_get_expire(db, k, len);
    return when >= 0 && s->now_ms > when;
}

int db_deadline_deletes(const cb_shard *s, long long when_ms)
{
    return when_ms <= s->now_ms && !s->loading && !shard_is_replica(s);
}

void db_delete_expired(cb_shard *s, cb_db *db, const char *k, size_t len)
{
    /* k may be the dict's own name (active expiry): unlink first, tell the
     * owner while the name is still alive, then free. */
    SNAP_TOUCH(db, k, len);
    dict_delete(db->expires, k, len);
    dict_entry *e = dict_unlink(db->keys, k, len);
    if (!e) return;
    s->stats.expired_keys++;
    if (s->on_expired) s->on_expired(s->owner, db, e->key, cbstr_len(e->key));
    notify_keyspace_event(s, db, NOTIFY_EXPIRED, "expired", e->key, cbstr_len(e->key));
    db_signal_modified(s, db, e->key, cbstr_len(e->key));
    if (s->set->lazyfree_lazy_expire) {
        lazyfree_obj(s, e->v.val);
        e->v.val = NULL;
    }
    dict_free_unlinked(db->keys, e);
}

int db_expire_if_needed(cb_shard *s, cb_db *db, const char *k, size_t len)
{
    if (!db_key_is_expired(s, db, k, len)) return 0;
    if (!shard_is_replica(s)) db_delete_expired(s, db, k, len);
    return 1;
}

/* A write's lookup deletes an expired key, on a writable replica too:
 * Redis forces that for its own clients' writes, so that they find the key
 * gone. A read-only replica keeps it (it takes no writes but its master's,
 * which see every key; PFCOUNT and DEBUG POPULATE look keys up for writing
 * there): 1 when the key is expired, deleted or not. */
static int expire_for_write(cb_shard *s, cb_db *db, const char *k, size_t len)
{
    if (!db_key_is_expired(s, db, k, len)) return 0;
    if (!shard_is_replica(s) || !s->set->replica_read_only) db_delete_expired(s, db, k, len);
    return 1;
}

/* ------------------------------------------------------------------------
 * Lookups and writes
 * ---------------------------------------------------------------------- */

cb_obj *db_lookup_read(cb_shard *s, cb_db *db, const char *k, size_t len, int flags)
{
    int expired = (flags & DB_LOOKUP_NOEXPIRE) ? db_key_is_expired(s, db, k, len)
                                               : db_expire_if_needed(s, db, k, len);
    cb_obj *o = NULL;
    if (!expired) {
        dict_entry *e = dict_find(db->keys, k, len);
        if (e) o = e->v.val;
    }
    if (o && !(flags & DB_LOOKUP_NOTOUCH)) touch(s, o);
    if (!(flags & DB_LOOKUP_NOSTATS)) {
        if (o) s->stats.keyspace_hits++;
        else s->stats.keyspace_misses++;
    }
    if (!o && !(flags & DB_LOOKUP_NONOTIFY))
        notify_keyspace_event(s, db, NOTIFY_KEY_MISS, "keymiss", k, len);
    return o;
}

cb_obj *db_lookup_write(cb_shard *s, cb_db *db, const char *k, size_t len)
{
    if (expire_for_write(s, db, k, len)) return NULL;
    dict_entry *e = dict_find(db->keys, k, len);
    if (!e) return NULL;
    /* The caller may change the value in place. */
    SNAP_TOUCH(db, k, len);
    touch(s, e->v.val);
    return e->v.val;
}

static void add_entry(cb_db *db, const char *k, size_t len, cb_obj *val)
{
    SNAP_TOUCH(db, k, len);
    dict_entry *e = dict_add_raw(db->keys, cbstr_new(k, len), NULL);
    assert(e != NULL && "db_add: key exists");
    e->v.val = val;
}

void db_add_keep_stamp(cb_shard *s, cb_db *db, const char *k, size_t len, cb_obj *val)
{
    add_entry(db, k, len, val);
    notify_keyspace_event(s, db, NOTIFY_NEW, "new", k, len);
}

void db_add_loaded(cb_shard *s, cb_db *db, const char *k, size_t len, cb_obj *val)
{
    stamp_new(s, val);
    add_entry(db, k, len, val);
}

void db_add(cb_shard *s, cb_db *db, const char *k, size_t len, cb_obj *val)
{
    stamp_new(s, val);
    db_add_keep_stamp(s, db, k, len, val);
}

void db_overwrite(cb_shard *s, cb_db *db, const char *k, size_t len, cb_obj *val)
{
    SNAP_TOUCH(db, k, len);
    dict_entry *e = dict_find(db->keys, k, len);
    assert(e != NULL && "db_overwrite: key missing");
    cb_obj *old = e->v.val;
    if (old == val) return;
    /* Under LFU the access history belongs to the key, not the value. */
    if (shard_policy_is_lfu(s)) val->lru = old->lru;
    else stamp_new(s, val);
    e->v.val = val;
    if (s->set->lazyfree_lazy_server_del) lazyfree_obj(s, old);
    else obj_decr_ref(old);
}

void db_set(cb_shard *s, cb_db *db, const char *k, size_t len, cb_obj *val, int keepttl)
{
    cb_obj *old = db_lookup_write(s, db, k, len);
    if (old) db_overwrite(s, db, k, len, val);
    else db_add(s, db, k, len, val);
    if (!keepttl) db_remove_expire(db, k, len);
}

int db_delete(cb_shard *s, cb_db *db, const char *k, size_t len)
{
    (void)s;
    SNAP_TOUCH(db, k, len);
    if (dict_size(db->expires)) dict_delete(db->expires, k, len);
    return dict_delete(db->keys, k, len);
}

int db_exists(cb_shard *s, cb_db *db, const char *k, size_t len)
{
    if (db_expire_if_needed(s, db, k, len)) return 0;
    return dict_find(db->keys, k, len) != NULL;
}

void db_signal_modified(cb_shard *s, cb_db *db, const char *k, size_t len)
{
    if (s->on_modified) s->on_modified(s->owner, db, k, len);
}

/* ------------------------------------------------------------------------
 * Whole databases
 * ---------------------------------------------------------------------- */

long long db_empty(cb_shard *s, cb_db *db)
{
    long long n = (long long)dict_size(db->keys);
    if (db->snap) {
        snap_detach(s, db); /* the old dicts stay the snapshot's */
        db->avg_ttl = 0;
        db->expires_cursor = 0;
        return n;
    }
    /* FLUSHALL runs on one worker for every shard: what is freed here is
     * this shard's memory, so count it in this shard's account. */
    int prev = s->mem_account >= 0 ? mem_account_use(s->mem_account) : -1;
    dict_clear(db->expires);
    dict_clear(db->keys);
    if (prev >= 0) mem_account_use(prev);
    db->avg_ttl = 0;
    db->expires_cursor = 0;
    return n;
}

long long shard_empty(cb_shard *s)
{
    /* As Redis's emptyData of every db: the replica's own TTLs go too. */
    db_replica_keys_clear(s);
    long long n = 0;
    for (int i = 0; i < s->ndb; i++) n += db_empty(s, &s->dbs[i]);
    return n;
}

int shard_swapdb(cb_shard *s, int a, int b)
{
    if (a < 0 || a >= s->ndb || b < 0 || b >= s->ndb) return -1;
    if (a == b) return 0;
    /* Swap contents, not the structs: clients hold cb_db pointers and must
     * see the other data set afterwards, as Redis's SWAPDB specifies. */
    cb_db *x = &s->dbs[a], *y = &s->dbs[b];
    dict *k = x->keys, *e = x->expires;
    long long ttl = x->avg_ttl;
    uint64_t cur = x->expires_cursor;
    x->keys = y->keys;
    x->expires = y->expires;
    x->avg_ttl = y->avg_ttl;
    x->expires_cursor = y->expires_cursor;
    y->keys = k;
    y->expires = e;
    y->avg_ttl = ttl;
    y->expires_cursor = cur;
    /* A snapshot's state follows the dicts it walks. */
    struct snap_db *sn = x->snap;
    x->snap = y->snap;
    y->snap = sn;
    if (x->snap) x->snap->live = x;
    if (y->snap) y->snap->live = y;
    return 0;
}

cbstr db_random_key(cb_shard *s, cb_db *db)
{
    /* A master deletes every expired key it draws, so the loop ends even
     * when all keys are expired. A replica deletes none: when every key has
     * a TTL they may all be expired, so after 100 draws it answers the key
     * it holds, as Redis does. */
    int all_volatile = dict_size(db->keys) == dict_size(db->expires);
    int tries = 100;
    for (;;) {
        dict_entry *e = dict_random(db->keys, &s->rng);
        if (!e) return NULL;
        if (dict_size(db->expires) && db_get_expire(db, e->key, cbstr_len(e->key)) >= 0) {
            if (all_volatile && shard_is_replica(s) && --tries == 0) return cbstr_dup(e->key);
            if (db_key_is_expired(s, db, e->key, cbstr_len(e->key))) {
                if (!shard_is_replica(s)) db_delete_expired(s, db, e->key, cbstr_len(e->key));
                continue;
            }
        }
        return cbstr_dup(e->key);
    }
}

static void scan_collect(void *priv, const dict_entry *e)
{
    db_scan_keys *out = priv;
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 16;
        out->keys = cb_realloc(out->keys, out->cap * sizeof(cbstr));
    }
    out->keys[out->n++] = cbstr_dup(e->key);
}

uint64_t db_scan(cb_db *db, uint64_t cursor, long count, db_scan_keys *out)
{
    /* A sparse table may hold few keys per bucket: bound the buckets walked
     * so one call stays short, as Redis does (count * 10). */
    unsigned long long budget = count > 0 ? (unsigned long long)count * 10 : 10;
    do {
        cursor = dict_scan(db->keys, cursor, scan_collect, out);
    } while (cursor && budget-- && out->n < (size_t)count);
    return cursor;
}

void db_scan_keys_free(db_scan_keys *out)
{
    for (size_t i = 0; i < out->n; i++) cbstr_free(out->keys[i]);
    cb_free(out->keys);
    out->keys = NULL;
    out->n = out->cap = 0;
}

/* ------------------------------------------------------------------------
 * Periodic work
 * ---------------------------------------------------------------------- */

void shard_cron(cb_shard *s)
{
    shard_set_time(s, util_mstime());
    s->lru_clock = lru_clock_of(s->now_ms);
    /* A replica's keys expire by its master's DEL, but for its own. */
    if (s->active_expire_enabled) {
        if (shard_is_replica(s)) db_replica_expire_cycle(s);
        else db_active_expire_cycle(s, 0);
    }
    defrag_cron(s);

    /* Give memory back from tables that emptied out; the shrink itself is
     * incremental, finished by the rehash step below and by later writes. */
    for (int i = 0; i < s->ndb; i++) {
        /* A snapshot's cells would each span more of a shrunk table. */
        if (s->dbs[i].snap) continue;
        dict_shrink_if_sparse(s->dbs[i].keys);
        dict_shrink_if_sparse(s->dbs[i].expires);
    }
    /* One db per call gets the rehash budget, so a tick stays bounded. */
    for (int i = 0; i < s->ndb; i++) {
        cb_db *db = &s->dbs[i];
        if (dict_is_rehashing(db->keys)) {
            dict_rehash_us(db->keys, CRON_REHASH_US);
            break;
        }
        if (dict_is_rehashing(db->expires)) {
            dict_rehash_us(db->expires, CRON_REHASH_US);
            break;
        }
    }
}

void shard_before_sleep(cb_shard *s)
{
    /* An eviction run that ran out of time, or memory that grew without a
     * command (client buffers), is worked off between polls. */
    if (s->set->maxmemory && (s->evict_pending || evict_over_limit(s, NULL, NULL))) {
        shard_set_time(s, util_mstime());
        evict_perform(s);
    }
    if (!s->active_expire_enabled || shard_is_replica(s)) return;
    shard_set_time(s, util_mstime());
    db_active_expire_cycle(s, 1);
}
