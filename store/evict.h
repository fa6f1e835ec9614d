/* evict.h — maxmemory for one shard: is the shard over its share of
 * maxmemory, and evicting keys by the configured maxmemory-policy until it
 * is not. The design is in docs/memory.md: approximated LRU / LFU by
 * sampling maxmemory-samples keys per db into a small pool of the best
 * candidates seen so far (Redis's eviction pool), a time budget per run
 * from maxmemory-eviction-tenacity, and the rest of an unfinished run done
 * between polls (shard_before_sleep).
 */
#ifndef CB_EVICT_H
#define CB_EVICT_H

#include <stddef.h>
#include "ds/cbstr.h"

struct cb_shard;

/* Results of evict_perform (Redis's EVICT_OK / RUNNING / FAIL). */
enum { EVICT_OK = 0, EVICT_RUNNING = 1, EVICT_FAIL = 2 };

/* Candidates kept between runs. */
#define EVPOOL_SIZE 16

typedef struct evict_pool_entry {
    unsigned long long score; /* higher = evict sooner (idle ms, 255-freq, -ttl) */
    cbstr key;                /* NULL: empty slot */
    int dbid;
} evict_pool_entry;

/* Entries sorted by score ascending, empty slots at the end. */
typedef struct evict_pool {
    evict_pool_entry e[EVPOOL_SIZE];
    int n;
} evict_pool;

evict_pool *evict_pool_create(void);
void evict_pool_free(evict_pool *p);
/* Offer a candidate: kept when the pool has room or it beats the worst
 * entry (which is then dropped); a key already pooled gets the new score.
 * Returns 1 when kept. */
int evict_pool_offer(evict_pool *p, unsigned long long score, const char *key, size_t len,
                     int dbid);
/* Take the best candidate out: its name (caller frees) and db; NULL when
 * the pool is empty. */
cbstr evict_pool_pop(evict_pool *p, int *dbid);
/* Forget every entry (FLUSHALL, policy change). */
void evict_pool_clear(evict_pool *p);

/* 1 when maxmemory is set and the shard uses more than its share; *used
 * and *limit (either may be NULL) get the shard's figures. */
int evict_over_limit(const struct cb_shard *s, size_t *used, size_t *limit);
/* Evict keys by policy until the shard is under its limit or the run's time
 * budget is spent. EVICT_OK: under the limit; EVICT_RUNNING: over, more
 * will be evicted between polls; EVICT_FAIL: over and nothing evictable
 * (noeviction, or volatile-* with no TTL keys). */
int evict_perform(struct cb_shard *s);
/* dict_expand_hook of the keyspace dicts (priv: the shard): a
 * table at most 1.618 full may not grow past maxmemory, as in Redis. */
int evict_dict_expand_allowed(size_t more_bytes, double fill, void *priv);
/* Microseconds one run may take for a tenacity of 0..100. */
unsigned long evict_time_limit_us(int tenacity);

#endif
