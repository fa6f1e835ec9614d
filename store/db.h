/* db.h — a shard's keyspace: its databases (keys + expires dicts), lookups
 * with lazy expiry, the adaptive active-expiry cycle, and the hooks that
 * commands call when they change a key. No global state: every function
 * takes the shard (and db) it works on. The design is in
 * ../shared/notes/architecture.md ("Keyspace and shards").
 */
#ifndef CB_DB_H
#define CB_DB_H

#include <stddef.h>
#include <stdint.h>
#include "object.h"
#include "ds/dict.h"
#include "notify.h"
#include "lazyfree.h"
#include "defrag.h"

typedef struct cb_db {
    dict *keys;    /* cbstr -> cb_obj* (owns both) */
    dict *expires; /* same cbstr pointer as in keys -> s64 unix ms */
    int id;
    long long avg_ttl;          /* ms, estimated by the active expiry cycle */
    uint64_t expires_cursor;    /* where the active expiry cycle resumes */
    struct snap_db *snap;       /* a snapshot still owes keys of it (snapshot.h) */
} cb_db;

/* Read-only settings the store needs; the server points the shard at them
 * (CONFIG SET updates the struct between commands). */
typedef struct cb_store_settings {
    int hz;
    int active_expire_effort;    /* 1..10 */
    int lfu_log_factor;
    int lfu_decay_time;
    int maxmemory_policy;        /* enum in the memory issue; 0 = noeviction */
    unsigned long long maxmemory;
    long long maxmemory_samples;          /* keys sampled per db per eviction round */
    int maxmemory_eviction_tenacity;      /* 0..100: time an eviction run may take */
    long long proto_max_bulk_len;
    int list_max_listpack_size;  /* quicklist fill of new lists */
    int list_compress_depth;     /* quicklist depth of new lists */
    long long set_max_intset_entries;
    long long hash_max_listpack_entries;
    long long hash_max_listpack_value;
    long long zset_max_listpack_entries; /* zset-max-listpack-entries */
    long long zset_max_listpack_value;   /* zset-max-listpack-value */
    long long hll_sparse_max_bytes;
    long long stream_node_max_bytes;   /* stream-node-max-bytes */
    long long stream_node_max_entries; /* stream-node-max-entries */
    int notify_keyspace_events;  /* NOTIFY_* classes (store/notify.h) */
    /* lazyfree-lazy-*: free in the background (lazyfree.h) for DEL,
     * FLUSHALL/FLUSHDB without a mode, expiry, implicit deletes, eviction. */
    int lazyfree_lazy_user_del, lazyfree_lazy_user_flush, lazyfree_lazy_expire,
        lazyfree_lazy_server_del, lazyfree_lazy_eviction;
    /* activedefrag and its active-defrag-* limits (defrag.h). */
    int active_defrag;
    unsigned long long active_defrag_ignore_bytes;
    int active_defrag_threshold_lower, active_defrag_threshold_upper;
    int active_defrag_cycle_min, active_defrag_cycle_max;
    long long active_defrag_max_scan_fields;
    /* This server follows a master (REPLICAOF; written by the thread that
     * runs it, read relaxed): a key whose time passed reads as missing but
     * stays until the master's DEL, except keys this server's own clients
     * gave a TTL on a writable replica (replica-read-only no), which it
     * expires itself, as a Redis 7.0 replica does. */
    int replica;
    int replica_read_only;       /* replica-read-only */
} cb_store_settings;

typedef struct cb_shard_stats {
    uint64_t expired_keys;
    /* Running estimate of the share of volatile keys that are already
     * expired, as a percentage times 100 (1234 = 12.34%, INFO prints it). */
    uint64_t expired_stale_perc_x100;
    uint64_t expired_time_cap_reached_count;
    uint64_t expire_cycle_cpu_us;
    uint64_t keyspace_hits;
    uint64_t keyspace_misses;
    uint64_t evicted_keys;
    uint64_t defrag_hits, defrag_misses, defrag_key_hits, defrag_key_misses;
} cb_shard_stats;

/* Callback a shard owner installs to learn about key changes (WATCH,
 * keyspace notifications, client tracking, AOF come later through it).
 * key == NULL (len 0) means every key of db changes (FLUSHDB, FLUSHALL,
 * SWAPDB); that call comes just before the change, so the owner can still
 * see which keys exist. */
typedef void (*cb_key_hook)(void *owner, struct cb_db *db, const char *key,
                            size_t len);

typedef struct cb_shard {
    int id;
    int ndb;
    cb_db *dbs;
    uint8_t seed[16];
    uint64_t rng;
    long long now_ms;     /* time frozen for the current command (expiry) */
    unsigned lru_clock;   /* refreshed by shard_cron */
    int active_expire_enabled;
    int expire_cycle_fast_in_progress;
    uint64_t expire_cycle_last_fast_us;
    int expire_cycle_db;              /* next db the active expiry visits */
    int expire_cycle_timelimit_exit;  /* last cycle ran out of time */
    double expired_stale_frac;        /* running estimate, 0..1 */
    dict_type keys_type, expires_type; /* destructors of the db dicts */
    const cb_store_settings *set;
    cb_shard_stats stats;
    uint64_t dirty;       /* writes since start (rdb_changes_since_last_save) */
    cb_key_hook on_modified;
    cb_notify_hook on_notify;  /* keyspace notifications (notify.h) */
    cb_key_hook on_expired;    /* a key deleted because its time passed (AOF DEL) */
    cb_key_hook on_evicted;    /* a key deleted by maxmemory eviction (AOF DEL) */
    int loading;               /* replaying an AOF: nothing counts as expired */
    /* Running our master's stream or loading its image (mgmt/replica.c,
     * workers parked): nothing counts as expired and its TTLs are not ours
     * to expire. */
    int master_stream;
    /* Keys given a TTL by this server's own clients while a writable
     * replica: name -> bitmap of dbs (0..63). Created on first use; the
     * replica expires these itself (db_replica_expire_cycle). */
    dict *replica_keys;
    dict_type replica_keys_type;
    struct cb_snap *snap;      /* running snapshot epoch (snapshot.h), or NULL */
    void (*on_flushall)(void *owner); /* after FLUSHALL emptied the shards */
    void *owner;
    /* maxmemory (evict.h): the mem.h account this shard's memory is counted
     * in (-1: the whole process), the eviction pool, the db the random
     * policies visit next, and "over the limit, keep evicting". */
    int mem_account;
    struct evict_pool *evpool;
    int evict_next_db;
    int evict_pending;
    lazyfree_queue lazy;  /* values and dbs waiting to be freed (lazyfree.h) */
    defrag_state defrag;  /* active defragmentation pass (defrag.h) */
} cb_shard;

/* Lookup flags. */
#define DB_LOOKUP_NOTOUCH 1   /* do not update LRU/LFU */
#define DB_LOOKUP_NOSTATS 2   /* do not count hits/misses */
#define DB_LOOKUP_NOEXPIRE 4  /* do not delete an expired key (still hidden) */
#define DB_LOOKUP_NONOTIFY 8  /* no "keymiss" event on a miss */

cb_shard *shard_create(int id, int ndb, const cb_store_settings *set,
                       const uint8_t seed[16]);
void shard_destroy(cb_shard *s);
/* Per-command time snapshot used for expiry decisions. */
void shard_set_time(cb_shard *s, long long now_ms);
/* Periodic work (hz times a second): LRU clock, active expiry (slow cycle),
 * incremental rehash and shrinking of the dicts. */
void shard_cron(cb_shard *s);
/* Fast active-expiry cycle, run before the event loop sleeps. */
void shard_before_sleep(cb_shard *s);

/* Lookups return NULL when the key is missing or logically expired. */
cb_obj *db_lookup_read(cb_shard *s, cb_db *db, const char *k, size_t len, int flags);
cb_obj *db_lookup_write(cb_shard *s, cb_db *db, const char *k, size_t len);
/* Key must not exist; takes ownership of val and stamps its LRU/LFU field
 * as a fresh value. Raises the "new" keyspace event. */
void db_add(cb_shard *s, cb_db *db, const char *k, size_t len, cb_obj *val);
/* db_add without the "new" event: keys coming from an RDB file, which
 * Redis does not announce. */
void db_add_loaded(cb_shard *s, cb_db *db, const char *k, size_t len, cb_obj *val);
/* Like db_add but keeps val's LRU/LFU stamp (RENAME, MOVE keep the value). */
void db_add_keep_stamp(cb_shard *s, cb_db *db, const char *k, size_t len,
                       cb_obj *val);
/* Key must exist; replaces the value, keeps the TTL. */
void db_overwrite(cb_shard *s, cb_db *db, const char *k, size_t len, cb_obj *val);
/* SET semantics: add or overwrite; removes the TTL unless keepttl. */
void db_set(cb_shard *s, cb_db *db, const char *k, size_t len, cb_obj *val, int keepttl);
/* 1 when deleted. */
int db_delete(cb_shard *s, cb_db *db, const char *k, size_t len);
/* Key exists and is not expired. */
int db_exists(cb_shard *s, cb_db *db, const char *k, size_t len);

/* -1 when the key has no TTL (or does not exist). */
long long db_get_expire(cb_db *db, const char *k, size_t len);
/* Key must exist. */
void db_set_expire(cb_shard *s, cb_db *db, const char *k, size_t len, long long when_ms);
int db_remove_expire(cb_db *db, const char *k, size_t len);
/* The key has a deadline that s->now_ms has passed (nothing is deleted). */
int db_key_is_expired(const cb_shard *s, cb_db *db, const char *k, size_t len);
/* Removes a key whose time has passed: counts expired_keys and tells the
 * owner. k may point at the dict's own copy of the name. */
void db_delete_expired(cb_shard *s, cb_db *db, const char *k, size_t len);
/* 1 if the key's time has passed (read semantics): the key is deleted,
 * except on a replica, where it only reads as missing until the master's
 * DEL arrives. */
int db_expire_if_needed(cb_shard *s, cb_db *db, const char *k, size_t len);
/* A new deadline when_ms deletes the key at once (Redis's
 * checkAlreadyExpired): it is not in the future, and we are neither loading
 * nor a replica (which keeps the key for its master's DEL). */
int db_deadline_deletes(const cb_shard *s, long long when_ms);
/* The server follows a master (settings' replica flag). */
int shard_is_replica(const cb_shard *s);

/* Fresh, empty keys and expires dicts for db (the old ones are the
 * caller's). */
void db_new_dicts(cb_shard *s, cb_db *db);
/* Empty one db / all dbs; returns the number of keys removed. */
long long db_empty(cb_shard *s, cb_db *db);
long long shard_empty(cb_shard *s);
/* SWAPDB: exchanges contents; 0 ok, -1 on bad index. */
int shard_swapdb(cb_shard *s, int a, int b);

/* Random live key (NULL when empty); returns a new cbstr the caller frees.
 * On a replica whose db holds only keys with a TTL, a key already expired
 * may come back after 100 draws, as Redis (nothing there deletes them). */
cbstr db_random_key(cb_shard *s, cb_db *db);

/* Collected key names of one SCAN call. */
typedef struct db_scan_keys {
    cbstr *keys;
    size_t n, cap;
} db_scan_keys;
/* One SCAN step over db's keys: walks buckets from cursor until count names
 * were collected, count*10 buckets were visited or the scan completed;
 * appends copies of the names to out. Returns the next cursor (0: done).
 * Expired keys are included (SCAN filters them after the step). */
uint64_t db_scan(cb_db *db, uint64_t cursor, long count, db_scan_keys *out);
/* Frees the collected names and the array. */
void db_scan_keys_free(db_scan_keys *out);

/* Eviction-policy facts the keyspace commands need. */
int shard_policy_is_lfu(const cb_shard *s);
/* Redis hands out shared integer objects (OBJECT REFCOUNT INT_MAX) unless
 * maxmemory is set with an LRU or LFU policy. */
int shard_shares_integers(const cb_shard *s);

/* Tell the owner a key changed (after a write). */
void db_signal_modified(cb_shard *s, cb_db *db, const char *k, size_t len);

/* Active expiry: fast (before sleep, ~1ms) or slow (cron, % of a tick). */
void db_active_expire_cycle(cb_shard *s, int fast);
/* A replica's active expiry: deletes the keys of s->replica_keys whose time
 * passed, until 3 live ones were seen or about 1 ms went by (expire.c). */
void db_replica_expire_cycle(cb_shard *s);
/* Forget every key of s->replica_keys (FLUSHALL, a full sync). */
void db_replica_keys_clear(cb_shard *s);

/* LFU counter of a value that was just created. */
#define LFU_INIT_VAL 5

/* LFU helpers (also used by the memory issue). */
unsigned lfu_time_minutes(long long now_ms);
uint8_t lfu_log_incr(uint8_t counter, int log_factor, uint64_t *rng);
unsigned long lfu_decr_and_return(const cb_obj *o, long long now_ms, int decay_time);
/* Milliseconds since last access as Redis estimates it from the LRU clock
 * (OBJECT IDLETIME replies this / 1000). */
unsigned long long obj_idle_ms(const cb_obj *o, unsigned lru_clock);
/* LRU clock value for a time in ms. */
unsigned lru_clock_of(long long now_ms);

#endif
