/* test_db.c — the keyspace without a socket: add/overwrite/delete, lookups
 * with lazy expiry and hit/miss counting, TTLs, the active expiry cycles
 * (driven with a frozen clock), SWAPDB, RANDOMKEY over expired keys, SCAN
 * steps that survive table growth, LRU/LFU stamps, the modification hook,
 * the keyspace events the keyspace raises itself (new, expired, keymiss),
 * a replica's expiry and two shards living side by side in one process.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../platform/config.h"
#include "../../platform/util.h"
#include "../../store/db.h"

static const uint8_t seed_a[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t seed_b[16] = { 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 };

#define T0 1700000000000LL /* a fixed "now" in unix ms */

static void put(cb_shard *s, cb_db *db, const char *k, const char *v)
{
    db_set(s, db, k, strlen(k), obj_new_string_encoded(v, strlen(v)), 0);
}

static cb_obj *get(cb_shard *s, cb_db *db, const char *k)
{
    return db_lookup_read(s, db, k, strlen(k), 0);
}

static void test_basic_keyspace(void)
{
    cb_shard *s = shard_create(0, 16, NULL, seed_a);
    shard_set_time(s, T0);
    cb_db *db = &s->dbs[0];
    put(s, db, "a", "1");
    put(s, db, "b", "hello");
    CU_ASSERT_EQUAL(dict_size(db->keys), 2);
    cb_obj *o = get(s, db, "a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(o->encoding, OBJ_ENC_INT);
    CU_ASSERT_PTR_NULL(get(s, db, "nope"));
    CU_ASSERT_EQUAL(s->stats.keyspace_hits, 1);
    CU_ASSERT_EQUAL(s->stats.keyspace_misses, 1);
    CU_ASSERT_PTR_NULL(db_lookup_read(s, db, "x", 1, DB_LOOKUP_NOSTATS));
    CU_ASSERT_EQUAL(s->stats.keyspace_misses, 1);

    /* Overwrite keeps the TTL; db_set drops it unless keepttl. */
    db_set_expire(s, db, "b", 1, T0 + 10000);
    db_overwrite(s, db, "b", 1, obj_new_string("v2", 2));
    CU_ASSERT_EQUAL(db_get_expire(db, "b", 1), T0 + 10000);
    db_set(s, db, "b", 1, obj_new_string("v3", 2), 1);
    CU_ASSERT_EQUAL(db_get_expire(db, "b", 1), T0 + 10000);
    put(s, db, "b", "v4");
    CU_ASSERT_EQUAL(db_get_expire(db, "b", 1), -1);
    CU_ASSERT_EQUAL(dict_size(db->expires), 0);
    CU_ASSERT(memcmp(get(s, db, "b")->ptr, "v4", 2) == 0);

    /* Binary keys. */
    db_add(s, db, "k\0z", 3, obj_new_string("bin", 3));
    CU_ASSERT_TRUE(db_exists(s, db, "k\0z", 3));
    CU_ASSERT_FALSE(db_exists(s, db, "k", 1));

    db_set_expire(s, db, "a", 1, T0 + 5);
    CU_ASSERT_EQUAL(db_delete(s, db, "a", 1), 1);
    CU_ASSERT_EQUAL(db_delete(s, db, "a", 1), 0);
    CU_ASSERT_EQUAL(dict_size(db->expires), 0);
    CU_ASSERT_EQUAL(db_remove_expire(db, "b", 1), 0);

    /* Other dbs are separate. */
    CU_ASSERT_FALSE(db_exists(s, &s->dbs[1], "b", 1));
    put(s, &s->dbs[1], "b", "other");
    CU_ASSERT_EQUAL(shard_empty(s), 3);
    CU_ASSERT_EQUAL(dict_size(db->keys), 0);
    shard_destroy(s);
}

static void test_lazy_expiry(void)
{
    cb_shard *s = shard_create(0, 16, NULL, seed_a);
    shard_set_time(s, T0);
    cb_db *db = &s->dbs[0];
    put(s, db, "k", "v");
    db_set_expire(s, db, "k", 1, T0 + 100);
    CU_ASSERT_PTR_NOT_NULL(get(s, db, "k"));
    shard_set_time(s, T0 + 100); /* expired only once now is past the deadline */
    CU_ASSERT_PTR_NOT_NULL(get(s, db, "k"));
    shard_set_time(s, T0 + 101);
    /* NOEXPIRE hides the key but leaves it in place. */
    CU_ASSERT_PTR_NULL(db_lookup_read(s, db, "k", 1, DB_LOOKUP_NOEXPIRE));
    CU_ASSERT_EQUAL(dict_size(db->keys), 1);
    CU_ASSERT_TRUE(db_key_is_expired(s, db, "k", 1));
    CU_ASSERT_PTR_NULL(get(s, db, "k"));
    CU_ASSERT_EQUAL(dict_size(db->keys), 0);
    CU_ASSERT_EQUAL(dict_size(db->expires), 0);
    CU_ASSERT_EQUAL(s->stats.expired_keys, 1);

    put(s, db, "w", "v");
    db_set_expire(s, db, "w", 1, T0 + 50);
    CU_ASSERT_PTR_NULL(db_lookup_write(s, db, "w", 1));
    CU_ASSERT_EQUAL(s->stats.expired_keys, 2);

    /* RANDOMKEY skips (and deletes) expired keys; all expired -> NULL. */
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof(k), "e%d", i);
        put(s, db, k, "x");
        db_set_expire(s, db, k, strlen(k), T0 + 1);
    }
    put(s, db, "live", "x");
    cbstr r = db_random_key(s, db);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(cbstr_eq_bytes(r, "live", 4));
    cbstr_free(r);
    db_delete(s, db, "live", 4);
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof(k), "f%d", i);
        put(s, db, k, "x");
        db_set_expire(s, db, k, strlen(k), T0 + 1);
    }
    CU_ASSERT_PTR_NULL(db_random_key(s, db));
    CU_ASSERT_EQUAL(dict_size(db->keys), 0);
    shard_destroy(s);
}

static void fill_volatile(cb_shard *s, int dbi, const char *prefix, int n, long long when)
{
    for (int i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof(k), "%s%d", prefix, i);
        put(s, &s->dbs[dbi], k, "v");
        if (when) db_set_expire(s, &s->dbs[dbi], k, strlen(k), when);
    }
}

static void test_active_expiry(void)
{
    cb_store_settings set = { .hz = 10, .active_expire_effort = 1, .lfu_log_factor = 10,
                              .lfu_decay_time = 1 };
    cb_shard *s = shard_create(0, 16, &set, seed_a);
    shard_set_time(s, T0);
    fill_volatile(s, 0, "x", 2000, T0 + 100);
    fill_volatile(s, 3, "y", 1000, T0 + 100);
    fill_volatile(s, 0, "keep", 500, T0 + 1000000);
    fill_volatile(s, 5, "plain", 500, 0);

    /* Nothing is due yet: a cycle samples and leaves everything. */
    db_active_expire_cycle(s, 0);
    CU_ASSERT_EQUAL(s->stats.expired_keys, 0);
    CU_ASSERT(s->dbs[0].avg_ttl > 0);

    shard_set_time(s, T0 + 200);
    for (int i = 0; i < 200 && s->stats.expired_keys < 3000; i++)
        db_active_expire_cycle(s, 0);
    CU_ASSERT_EQUAL(s->stats.expired_keys, 3000);
    CU_ASSERT_EQUAL(dict_size(s->dbs[0].keys), 500);
    CU_ASSERT_EQUAL(dict_size(s->dbs[0].expires), 500);
    CU_ASSERT_EQUAL(dict_size(s->dbs[3].keys), 0);
    CU_ASSERT_EQUAL(dict_size(s->dbs[5].keys), 500);
    CU_ASSERT(s->stats.expired_stale_perc_x100 > 0);

    /* Disabled (DEBUG SET-ACTIVE-EXPIRE 0): nothing happens. */
    fill_volatile(s, 1, "z", 100, T0 + 100);
    s->active_expire_enabled = 0;
    db_active_expire_cycle(s, 0);
    db_active_expire_cycle(s, 1);
    CU_ASSERT_EQUAL(dict_size(s->dbs[1].keys), 100);
    s->active_expire_enabled = 1;

    /* The fast cycle runs only when the stale estimate is high. */
    s->expired_stale_frac = 0.0;
    s->expire_cycle_timelimit_exit = 0;
    db_active_expire_cycle(s, 1);
    CU_ASSERT_EQUAL(dict_size(s->dbs[1].keys), 100);
    s->expired_stale_frac = 0.5;
    s->expire_cycle_last_fast_us = 0;
    db_active_expire_cycle(s, 1);
    CU_ASSERT_EQUAL(dict_size(s->dbs[1].keys), 0);
    shard_destroy(s);
}

static void test_active_expiry_real_clock(void)
{
    cb_shard *s = shard_create(0, 4, NULL, seed_b);
    shard_set_time(s, util_mstime());
    fill_volatile(s, 2, "r", 300, s->now_ms + 30);
    usleep(80 * 1000);
    for (int i = 0; i < 50 && dict_size(s->dbs[2].keys); i++) shard_cron(s);
    CU_ASSERT_EQUAL(dict_size(s->dbs[2].keys), 0);
    CU_ASSERT_EQUAL(s->stats.expired_keys, 300);
    CU_ASSERT(s->lru_clock > 0);
    shard_destroy(s);
}

static void test_swapdb_and_empty(void)
{
    cb_shard *s = shard_create(0, 16, NULL, seed_a);
    shard_set_time(s, T0);
    put(s, &s->dbs[0], "a", "1");
    db_set_expire(s, &s->dbs[0], "a", 1, T0 + 5000);
    put(s, &s->dbs[1], "b", "2");
    put(s, &s->dbs[1], "c", "3");
    cb_db *d0 = &s->dbs[0];
    CU_ASSERT_EQUAL(shard_swapdb(s, 0, 1), 0);
    CU_ASSERT_PTR_EQUAL(d0, &s->dbs[0]); /* structs stay, contents move */
    CU_ASSERT_EQUAL(s->dbs[0].id, 0);
    CU_ASSERT_EQUAL(dict_size(s->dbs[0].keys), 2);
    CU_ASSERT_EQUAL(db_get_expire(&s->dbs[1], "a", 1), T0 + 5000);
    CU_ASSERT_EQUAL(shard_swapdb(s, 0, 16), -1);
    CU_ASSERT_EQUAL(shard_swapdb(s, -1, 0), -1);
    CU_ASSERT_EQUAL(shard_swapdb(s, 2, 2), 0);
    CU_ASSERT_EQUAL(db_empty(s, &s->dbs[0]), 2);
    CU_ASSERT_EQUAL(db_empty(s, &s->dbs[1]), 1);
    CU_ASSERT_EQUAL(dict_size(s->dbs[1].expires), 0);
    shard_destroy(s);
}

typedef struct hook_log {
    int calls, flushes;
    char last[32];
} hook_log;

static void hook(void *owner, cb_db *db, const char *k, size_t len)
{
    (void)db;
    hook_log *h = owner;
    h->calls++;
    if (!k) {
        h->flushes++;
        return;
    }
    if (len >= sizeof(h->last)) len = sizeof(h->last) - 1;
    memcpy(h->last, k, len);
    h->last[len] = '\0';
}

/* Records keyspace events as "event:key" lines. */
typedef struct event_log {
    char text[512];
    int n;
} event_log;

static void on_event(void *owner, int dbid, int type, const char *event, const char *key,
                     size_t len)
{
    (void)type;
    event_log *l = owner;
    size_t used = strlen(l->text);
    snprintf(l->text + used, sizeof(l->text) - used, "%d:%s:%.*s ", dbid, event, (int)len, key);
    l->n++;
}

static void test_notify_events(void)
{
    cb_store_settings set = { .hz = 10, .active_expire_effort = 1, .lfu_log_factor = 10,
                              .lfu_decay_time = 1, .list_max_listpack_size = -2 };
    cb_shard *s = shard_create(0, 16, &set, seed_a);
    event_log l = { { 0 }, 0 };
    s->on_notify = on_event;
    s->owner = &l;
    shard_set_time(s, T0);
    cb_db *db = &s->dbs[3];

    /* Nothing enabled: nothing raised. */
    put(s, db, "a", "1");
    CU_ASSERT_PTR_NULL(get(s, db, "nokey"));
    CU_ASSERT_EQUAL(l.n, 0);

    /* A class without K or E raises nothing either. */
    set.notify_keyspace_events = NOTIFY_NEW | NOTIFY_KEY_MISS | NOTIFY_EXPIRED;
    put(s, db, "b", "1");
    CU_ASSERT_EQUAL(l.n, 0);

    set.notify_keyspace_events |= NOTIFY_KEYSPACE;
    put(s, db, "c", "1");           /* new */
    put(s, db, "c", "2");           /* overwrite: nothing */
    CU_ASSERT_PTR_NULL(get(s, db, "nokey"));   /* keymiss */
    CU_ASSERT_PTR_NULL(db_lookup_read(s, db, "nokey", 5, DB_LOOKUP_NONOTIFY));
    CU_ASSERT_PTR_NULL(db_lookup_write(s, db, "nokey", 5)); /* writes never miss */
    db_set_expire(s, db, "c", 1, T0);
    shard_set_time(s, T0 + 1);
    CU_ASSERT_PTR_NULL(get(s, db, "c"));       /* expired, then keymiss */
    db_add_loaded(s, db, "d", 1, obj_new_string_encoded("v", 1)); /* silent */
    CU_ASSERT_STRING_EQUAL(l.text, "3:new:c 3:keymiss:nokey 3:expired:c 3:keymiss:c ");

    /* Only the enabled classes pass. */
    l.text[0] = '\0';
    set.notify_keyspace_events = NOTIFY_KEYEVENT | NOTIFY_EXPIRED;
    put(s, db, "e", "1");
    db_set_expire(s, db, "e", 1, T0);
    CU_ASSERT_PTR_NULL(get(s, db, "e"));
    notify_keyspace_event(s, db, NOTIFY_LIST, "lpush", "e", 1);
    notify_keyspace_event(s, db, NOTIFY_GENERIC, "del", "e", 1);
    CU_ASSERT_STRING_EQUAL(l.text, "3:expired:e ");
    shard_destroy(s);
}

static void test_hook_and_move(void)
{
    cb_shard *s = shard_create(0, 16, NULL, seed_a);
    hook_log h = { 0 };
    s->on_modified = hook;
    s->owner = &h;
    shard_set_time(s, T0);
    put(s, &s->dbs[0], "gone", "v");
    db_set_expire(s, &s->dbs[0], "gone", 4, T0);
    shard_set_time(s, T0 + 1);
    CU_ASSERT_FALSE(db_exists(s, &s->dbs[0], "gone", 4));
    CU_ASSERT_EQUAL(h.calls, 1);
    CU_ASSERT_STRING_EQUAL(h.last, "gone");
    db_signal_modified(s, &s->dbs[0], "x", 1);
    CU_ASSERT_STRING_EQUAL(h.last, "x");

    /* A moved value keeps its object and access stamp. */
    put(s, &s->dbs[0], "m", "value");
    cb_obj *o = get(s, &s->dbs[0], "m");
    o->lru = 12345;
    obj_incr_ref(o);
    db_add_keep_stamp(s, &s->dbs[2], "m", 1, o);
    db_delete(s, &s->dbs[0], "m", 1);
    CU_ASSERT_PTR_EQUAL(db_lookup_read(s, &s->dbs[2], "m", 1, DB_LOOKUP_NOTOUCH), o);
    CU_ASSERT_EQUAL(o->lru, 12345);
    CU_ASSERT_EQUAL(o->refcount, 1);
    shard_destroy(s);
}

static void test_lru_lfu(void)
{
    cb_store_settings set = { .hz = 10, .active_expire_effort = 1, .lfu_log_factor = 10,
                              .lfu_decay_time = 1, .maxmemory_policy = MAXMEM_NOEVICTION };
    cb_shard *s = shard_create(0, 1, &set, seed_a);
    cb_db *db = &s->dbs[0];
    shard_set_time(s, T0);
    put(s, db, "k", "v");
    cb_obj *o = db_lookup_read(s, db, "k", 1, DB_LOOKUP_NOTOUCH);
    CU_ASSERT_EQUAL(o->lru, lru_clock_of(T0));
    shard_set_time(s, T0 + 7000);
    CU_ASSERT_EQUAL(obj_idle_ms(o, lru_clock_of(s->now_ms)), 7000);
    get(s, db, "k");
    CU_ASSERT_EQUAL(obj_idle_ms(o, lru_clock_of(s->now_ms)), 0);
    /* Clock wrap. */
    o->lru = OBJ_LRU_CLOCK_MAX - 2;
    CU_ASSERT_EQUAL(obj_idle_ms(o, 3), 5000);
    CU_ASSERT_TRUE(shard_shares_integers(s));
    CU_ASSERT_FALSE(shard_policy_is_lfu(s));

    set.maxmemory_policy = MAXMEM_ALLKEYS_LFU;
    CU_ASSERT_TRUE(shard_policy_is_lfu(s));
    CU_ASSERT_TRUE(shard_shares_integers(s)); /* maxmemory 0 */
    set.maxmemory = 1 << 20;
    CU_ASSERT_FALSE(shard_shares_integers(s));
    put(s, db, "f", "v");
    o = db_lookup_read(s, db, "f", 1, DB_LOOKUP_NOTOUCH);
    CU_ASSERT_EQUAL(lfu_decr_and_return(o, s->now_ms, 1), LFU_INIT_VAL);
    get(s, db, "f"); /* from the initial value the counter always grows */
    CU_ASSERT_EQUAL(lfu_decr_and_return(o, s->now_ms, 1), LFU_INIT_VAL + 1);
    for (int i = 0; i < 1000; i++) get(s, db, "f");
    unsigned long c = lfu_decr_and_return(o, s->now_ms, 1);
    CU_ASSERT(c > LFU_INIT_VAL + 1 && c < 40);
    /* Decay: one point per minute. */
    CU_ASSERT_EQUAL(lfu_decr_and_return(o, s->now_ms + 3 * 60000, 1), c - 3);
    CU_ASSERT_EQUAL(lfu_decr_and_return(o, s->now_ms + 3 * 60000, 0), c);
    /* Overwrite keeps the key's counter under LFU. */
    unsigned stamp = o->lru;
    db_set(s, db, "f", 1, obj_new_string("w", 1), 0);
    o = db_lookup_read(s, db, "f", 1, DB_LOOKUP_NOTOUCH);
    CU_ASSERT((o->lru & 255) >= (stamp & 255));
    uint64_t rng = 7;
    CU_ASSERT_EQUAL(lfu_log_incr(255, 10, &rng), 255);
    shard_destroy(s);
}

static int has_key(const db_scan_keys *ks, const char *k)
{
    for (size_t i = 0; i < ks->n; i++)
        if (cbstr_eq_bytes(ks->keys[i], k, strlen(k))) return 1;
    return 0;
}

static void test_scan(void)
{
    cb_shard *s = shard_create(0, 16, NULL, seed_a);
    shard_set_time(s, T0);
    cb_db *db = &s->dbs[0];
    db_scan_keys all = { 0 };
    CU_ASSERT_EQUAL(db_scan(db, 0, 10, &all), 0);
    CU_ASSERT_EQUAL(all.n, 0);
    fill_volatile(s, 0, "s", 1000, 0);
    /* Keys present for the whole scan come back at least once, even while
     * the table grows under it. */
    uint64_t cur = 0;
    int steps = 0, added = 0;
    do {
        cur = db_scan(db, cur, 10, &all);
        steps++;
        if (added < 3000) {
            for (int i = 0; i < 100; i++, added++) {
                char k[32];
                snprintf(k, sizeof(k), "new%d", added);
                put(s, db, k, "v");
            }
        }
    } while (cur != 0 && steps < 100000);
    CU_ASSERT_EQUAL(cur, 0);
    int missing = 0;
    for (int i = 0; i < 1000; i++) {
        char k[32];
        snprintf(k, sizeof(k), "s%d", i);
        if (!has_key(&all, k)) missing++;
    }
    CU_ASSERT_EQUAL(missing, 0);
    db_scan_keys_free(&all);
    CU_ASSERT_PTR_NULL(all.keys);
    shard_destroy(s);
}

/* A replica's shard (settings.replica): expired keys read as missing but
 * stay for the master's DEL; the master's stream sees them; writes of our
 * own clients delete them; TTLs our own clients set on a writable replica
 * are ours to expire, the master's are not. */
static void test_replica_expiry(void)
{
    cb_store_settings set = { .hz = 10, .active_expire_effort = 1, .lfu_log_factor = 10,
                              .lfu_decay_time = 1, .maxmemory_samples = 5,
                              .proto_max_bulk_len = 512LL * 1024 * 1024,
                              .list_max_listpack_size = -2, .replica = 1,
                              .replica_read_only = 1 };
    cb_shard *s = shard_create(0, 4, &set, seed_a);
    shard_set_time(s, T0);
    cb_db *db = &s->dbs[0];
    s->master_stream = 1;
    put(s, db, "m", "1");
    db_set_expire(s, db, "m", 1, T0 + 100);
    put(s, db, "all", "1");
    s->master_stream = 0;
    CU_ASSERT_PTR_NULL(s->replica_keys);
    shard_set_time(s, T0 + 200);

    /* Reads: missing, counted as a miss, still there. */
    CU_ASSERT_PTR_NULL(get(s, db, "m"));
    CU_ASSERT(db_expire_if_needed(s, db, "m", 1));
    CU_ASSERT_EQUAL(dict_size(db->keys), 2);
    CU_ASSERT_EQUAL(s->stats.expired_keys, 0);
    CU_ASSERT_EQUAL(s->stats.keyspace_misses, 1);
    /* Neither cycle deletes it. */
    shard_cron(s);
    db_active_expire_cycle(s, 1);
    shard_before_sleep(s);
    CU_ASSERT_EQUAL(dict_size(db->keys), 2);
    /* A new deadline already past keeps the key. */
    shard_set_time(s, T0 + 200);
    CU_ASSERT(!db_deadline_deletes(s, T0));
    /* RANDOMKEY never answers it while a live key exists. */
    for (int i = 0; i < 50; i++) {
        cbstr k = db_random_key(s, db);
        CU_ASSERT(k && cbstr_len(k) == 3);
        cbstr_free(k);
    }
    /* The master's stream sees it. */
    s->master_stream = 1;
    CU_ASSERT_PTR_NOT_NULL(get(s, db, "m"));
    s->master_stream = 0;
    /* A read-only replica's write lookup (PFCOUNT) keeps it too. */
    CU_ASSERT_PTR_NULL(db_lookup_write(s, db, "m", 1));
    CU_ASSERT_EQUAL(dict_size(db->keys), 2);
    CU_ASSERT_EQUAL(s->stats.expired_keys, 0);

    /* A writable replica: our write deletes it first; our TTLs are ours. */
    set.replica_read_only = 0;
    CU_ASSERT_PTR_NULL(db_lookup_write(s, db, "m", 1));
    CU_ASSERT_EQUAL(s->stats.expired_keys, 1);
    put(s, &s->dbs[2], "own", "1");
    db_set_expire(s, &s->dbs[2], "own", 3, T0 + 300);
    put(s, db, "own", "1");
    db_set_expire(s, db, "own", 3, T0 + 5000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->replica_keys);
    CU_ASSERT_EQUAL(dict_size(s->replica_keys), 1);
    shard_set_time(s, T0 + 400);
    db_replica_expire_cycle(s);
    CU_ASSERT_EQUAL(dict_size(s->dbs[2].keys), 0);
    CU_ASSERT_EQUAL(dict_size(db->keys), 2);
    CU_ASSERT_EQUAL(s->stats.expired_keys, 2);
    CU_ASSERT_EQUAL(dict_size(s->replica_keys), 1); /* db 0's is still alive */
    shard_set_time(s, T0 + 6000);
    db_replica_expire_cycle(s);
    CU_ASSERT_EQUAL(dict_size(db->keys), 1);
    CU_ASSERT_EQUAL(dict_size(s->replica_keys), 0);
    /* FLUSHALL forgets the names. */
    put(s, db, "x", "1");
    db_set_expire(s, db, "x", 1, T0 + 7000);
    CU_ASSERT_EQUAL(dict_size(s->replica_keys), 1);
    shard_empty(s);
    CU_ASSERT_EQUAL(dict_size(s->replica_keys), 0);

    /* Only expired keys, all with a TTL: one comes back after 100 draws. */
    put(s, db, "v", "1");
    set.replica_read_only = 1;
    s->master_stream = 1;
    db_set_expire(s, db, "v", 1, T0);
    s->master_stream = 0;
    cbstr k = db_random_key(s, db);
    CU_ASSERT(k && cbstr_len(k) == 1 && k[0] == 'v');
    cbstr_free(k);

    /* A master again: the next read deletes it. */
    set.replica = 0;
    CU_ASSERT(db_deadline_deletes(s, T0));
    CU_ASSERT_PTR_NULL(get(s, db, "v"));
    CU_ASSERT_EQUAL(dict_size(db->keys), 0);
    shard_destroy(s);
}

static void test_two_shards(void)
{
    cb_shard *a = shard_create(0, 16, NULL, seed_a);
    cb_shard *b = shard_create(1, 16, NULL, seed_b);
    shard_set_time(a, T0);
    shard_set_time(b, T0);
    fill_volatile(a, 0, "a", 300, 0);
    fill_volatile(b, 0, "b", 200, 0);
    fill_volatile(a, 0, "ta", 50, T0 + 10);
    fill_volatile(b, 0, "tb", 70, T0 + 10);
    CU_ASSERT_EQUAL(dict_size(a->dbs[0].keys), 350);
    CU_ASSERT_EQUAL(dict_size(b->dbs[0].keys), 270);
    CU_ASSERT_PTR_NULL(get(a, &a->dbs[0], "b1"));
    CU_ASSERT_PTR_NULL(get(b, &b->dbs[0], "a1"));
    CU_ASSERT_PTR_NOT_NULL(get(a, &a->dbs[0], "a1"));
    CU_ASSERT_PTR_NOT_NULL(get(b, &b->dbs[0], "b1"));
    CU_ASSERT_NOT_EQUAL(a->rng, b->rng);

    /* Each shard's clock is its own: only a's keys are due. */
    shard_set_time(a, T0 + 100);
    for (int i = 0; i < 100 && dict_size(a->dbs[0].expires); i++) db_active_expire_cycle(a, 0);
    db_active_expire_cycle(b, 0);
    CU_ASSERT_EQUAL(dict_size(a->dbs[0].keys), 300);
    CU_ASSERT_EQUAL(dict_size(b->dbs[0].keys), 270);
    CU_ASSERT_EQUAL(a->stats.expired_keys, 50);
    CU_ASSERT_EQUAL(b->stats.expired_keys, 0);
    shard_set_time(b, T0 + 100);
    CU_ASSERT_PTR_NULL(get(b, &b->dbs[0], "tb3"));
    CU_ASSERT_EQUAL(b->stats.expired_keys, 1);
    for (int i = 0; i < 100 && dict_size(b->dbs[0].expires); i++) db_active_expire_cycle(b, 0);
    CU_ASSERT_EQUAL(dict_size(b->dbs[0].keys), 200);
    CU_ASSERT_EQUAL(b->stats.expired_keys, 70);
    shard_destroy(a);
    shard_destroy(b);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("db", NULL, NULL);
    CU_add_test(s, "basic keyspace", test_basic_keyspace);
    CU_add_test(s, "lazy expiry", test_lazy_expiry);
    CU_add_test(s, "active expiry", test_active_expiry);
    CU_add_test(s, "active expiry on the real clock", test_active_expiry_real_clock);
    CU_add_test(s, "swapdb and empty", test_swapdb_and_empty);
    CU_add_test(s, "modification hook and move", test_hook_and_move);
    CU_add_test(s, "keyspace events", test_notify_events);
    CU_add_test(s, "lru and lfu stamps", test_lru_lfu);
    CU_add_test(s, "scan through db", test_scan);
    CU_add_test(s, "two shards in one process", test_two_shards);
    CU_add_test(s, "a replica's expiry", test_replica_expiry);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
