/* test_evict.c — CUnit tests for maxmemory: the eviction pool
 * (store/evict.c), the LFU counter and its decay (store/lfu.c), the memory
 * accounts that used_memory and each shard's share come from
 * (platform/mem.c), and whole eviction runs on a shard with each kind of
 * policy: they stop under the limit, evict only what the policy allows,
 * prefer cold keys, count evicted_keys and raise "evicted" notifications.
 */
#include <CUnit/Basic.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "../../platform/config.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"
#include "../../store/db.h"
#include "../../store/evict.h"
#include "../../store/digest.h"
#include "../../store/lazyfree.h"
#include "../../store/t_hash.h"
#include "../../store/t_stream.h"
#include "../../store/t_zset.h"
#include "../../store/ds/quicklist.h"
#include "../../store/ds/stream.h"

/* ------------------------------------------------------------ the pool */

static void test_pool_keeps_best(void)
{
    evict_pool *p = evict_pool_create();
    char k[16];
    /* Scores 0..39 in a scrambled order: the pool keeps 24..39. */
    for (int i = 0; i < 40; i++) {
        int sc = (i * 17) % 40;
        snprintf(k, sizeof k, "k%d", sc);
        evict_pool_offer(p, (unsigned long long)sc, k, strlen(k), 0);
    }
    CU_ASSERT_EQUAL(p->n, EVPOOL_SIZE);
    /* Worse than everything pooled: refused. */
    CU_ASSERT_EQUAL(evict_pool_offer(p, 3, "low", 3, 0), 0);
    for (int want = 39; want >= 24; want--) {
        int db = -1;
        cbstr got = evict_pool_pop(p, &db);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        snprintf(k, sizeof k, "k%d", want);
        CU_ASSERT_TRUE(cbstr_eq_bytes(got, k, strlen(k)));
        CU_ASSERT_EQUAL(db, 0);
        cbstr_free(got);
    }
    int db;
    CU_ASSERT_PTR_NULL(evict_pool_pop(p, &db));
    evict_pool_free(p);
}

static void test_pool_dedup_and_db(void)
{
    evict_pool *p = evict_pool_create();
    evict_pool_offer(p, 10, "a", 1, 0);
    evict_pool_offer(p, 20, "b", 1, 0);
    evict_pool_offer(p, 5, "a", 1, 1);  /* same name, other db: a new entry */
    evict_pool_offer(p, 30, "a", 1, 0); /* re-sampled: new score, one slot */
    CU_ASSERT_EQUAL(p->n, 3);
    int db = -1;
    cbstr k = evict_pool_pop(p, &db);
    CU_ASSERT_TRUE(cbstr_eq_bytes(k, "a", 1));
    CU_ASSERT_EQUAL(db, 0);
    cbstr_free(k);
    k = evict_pool_pop(p, &db);
    CU_ASSERT_TRUE(cbstr_eq_bytes(k, "b", 1));
    cbstr_free(k);
    k = evict_pool_pop(p, &db);
    CU_ASSERT_TRUE(cbstr_eq_bytes(k, "a", 1));
    CU_ASSERT_EQUAL(db, 1);
    cbstr_free(k);
    evict_pool_offer(p, 1, "x", 1, 0);
    evict_pool_clear(p);
    CU_ASSERT_EQUAL(p->n, 0);
    evict_pool_free(p);
}

static void test_time_limit(void)
{
    CU_ASSERT_EQUAL(evict_time_limit_us(0), 0);
    CU_ASSERT_EQUAL(evict_time_limit_us(10), 500);
    CU_ASSERT_EQUAL(evict_time_limit_us(1), 50);
    CU_ASSERT_EQUAL(evict_time_limit_us(20), 2022); /* 500 * 1.15^10 */
    CU_ASSERT_EQUAL(evict_time_limit_us(100), ULONG_MAX);
}

/* ------------------------------------------------------------ LFU */

static void test_lfu_counter_growth(void)
{
    /* Redis documents, for lfu-log-factor 10: 100 hits ~ 10, 1000 ~ 18,
     * 100K ~ 142 (starting from a new key's 5). */
    uint64_t rng = 12345;
    uint8_t c = LFU_INIT_VAL;
    long hits = 0;
    struct { long at; int lo, hi; } marks[] = {{100, 8, 13}, {1000, 15, 22}, {100000, 120, 165}};
    for (int m = 0; m < 3; m++) {
        while (hits < marks[m].at) {
            c = lfu_log_incr(c, 10, &rng);
            hits++;
        }
        CU_ASSERT_TRUE(c >= marks[m].lo && c <= marks[m].hi);
    }
    /* Below LFU_INIT_VAL every hit counts; 255 is the ceiling. */
    CU_ASSERT_EQUAL(lfu_log_incr(0, 10, &rng), 1);
    CU_ASSERT_EQUAL(lfu_log_incr(255, 0, &rng), 255);
    /* Factor 0: every hit counts. */
    CU_ASSERT_EQUAL(lfu_log_incr(100, 0, &rng), 101);
}

static void test_lfu_decay(void)
{
    long long now = 1700000000000LL;
    cb_obj o = {0};
    o.lru = ((lfu_time_minutes(now - 3 * 60000)) << 8) | 10;
    CU_ASSERT_EQUAL(lfu_decr_and_return(&o, now, 1), 7);
    CU_ASSERT_EQUAL(lfu_decr_and_return(&o, now, 2), 9);
    CU_ASSERT_EQUAL(lfu_decr_and_return(&o, now, 0), 10);
    o.lru = ((lfu_time_minutes(now - 30 * 60000)) << 8) | 10;
    CU_ASSERT_EQUAL(lfu_decr_and_return(&o, now, 1), 0);
}

/* ------------------------------------------------------------ accounts */

static void test_accounts(void)
{
    size_t total0 = mem_used_total();
    int acct = mem_account_claim();
    CU_ASSERT_TRUE_FATAL(acct >= 0);
    int prev = mem_account_use(acct);
    long long b0 = mem_account_bytes(acct);
    void *blocks[100];
    size_t sum = 0;
    for (int i = 0; i < 100; i++) {
        blocks[i] = cb_malloc((size_t)(i * 37 + 1));
        sum += cb_usable(blocks[i]);
    }
    CU_ASSERT_EQUAL(mem_account_bytes(acct) - b0, (long long)sum);
    CU_ASSERT_EQUAL(mem_used_total() - total0, sum);
    size_t old = cb_usable(blocks[0]);
    blocks[0] = cb_realloc(blocks[0], 5000);
    sum += cb_usable(blocks[0]) - old;
    CU_ASSERT_EQUAL(mem_account_bytes(acct) - b0, (long long)sum);
    mem_account_use(prev);
    /* Freed from another account: the sum stays exact. */
    for (int i = 0; i < 100; i++) cb_free(blocks[i]);
    CU_ASSERT_EQUAL(mem_used_total(), total0);
    /* A shard account's share: its bytes plus what no shard account holds,
     * split over the shard accounts. */
    unsigned n = 0;
    long long share = mem_account_share(acct, &n);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(share, (long long)mem_used_total()); /* the only shard */
}

/* ------------------------------------------------------------ eviction runs */

typedef struct notes {
    int evicted;
    int other;
} notes;

static void count_notify(void *owner, int dbid, int type, const char *event, const char *key,
                         size_t len)
{
    (void)dbid, (void)key, (void)len;
    notes *n = owner;
    if (type == NOTIFY_EVICTED && !strcmp(event, "evicted")) n->evicted++;
    else n->other++;
}

static cb_store_settings S;
static notes N;

static cb_shard *new_shard(int policy)
{
    memset(&S, 0, sizeof S);
    S.hz = 10;
    S.active_expire_effort = 1;
    S.lfu_log_factor = 10;
    S.lfu_decay_time = 1;
    S.proto_max_bulk_len = 512LL << 20;
    S.maxmemory_samples = 5;
    S.maxmemory_eviction_tenacity = 100; /* no time limit: deterministic */
    S.maxmemory_policy = policy;
    S.notify_keyspace_events = NOTIFY_KEYEVENT | NOTIFY_EVICTED;
    uint8_t seed[16] = {9, 8, 7};
    cb_shard *s = shard_create(0, 4, &S, seed);
    memset(&N, 0, sizeof N);
    s->owner = &N;
    s->on_notify = count_notify;
    return s;
}

static void add_keys(cb_shard *s, int db, const char *prefix, int n, int ttl)
{
    char k[32], v[1000];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < n; i++) {
        int l = snprintf(k, sizeof k, "%s%d", prefix, i);
        db_add(s, &s->dbs[db], k, (size_t)l, obj_new_string(v, sizeof v));
        if (ttl) db_set_expire(s, &s->dbs[db], k, (size_t)l, s->now_ms + 1000000 + i);
    }
}

static int count_prefix(cb_shard *s, int db, const char *prefix, int n)
{
    char k[32];
    int c = 0;
    for (int i = 0; i < n; i++) {
        int l = snprintf(k, sizeof k, "%s%d", prefix, i);
        c += db_exists(s, &s->dbs[db], k, (size_t)l);
    }
    return c;
}

static void test_allkeys_run_stays_under(void)
{
    int policies[] = {MAXMEM_ALLKEYS_LRU, MAXMEM_ALLKEYS_LFU, MAXMEM_ALLKEYS_RANDOM};
    for (int p = 0; p < 3; p++) {
        cb_shard *s = new_shard(policies[p]);
        S.maxmemory = mem_used_total() + 300 * 1024;
        add_keys(s, 0, "a", 400, 0);
        add_keys(s, 2, "b", 400, 0);
        CU_ASSERT_TRUE(evict_over_limit(s, NULL, NULL));
        CU_ASSERT_EQUAL(evict_perform(s), EVICT_OK);
        CU_ASSERT_TRUE(mem_used_total() <= S.maxmemory);
        CU_ASSERT_FALSE(evict_over_limit(s, NULL, NULL));
        uint64_t ev = s->stats.evicted_keys;
        CU_ASSERT_TRUE(ev > 300);
        CU_ASSERT_EQUAL((uint64_t)N.evicted, ev);
        CU_ASSERT_EQUAL(N.other, 0);
        CU_ASSERT_EQUAL(count_prefix(s, 0, "a", 400) + count_prefix(s, 2, "b", 400) + (int)ev, 800);
        /* Both dbs were drawn from. */
        CU_ASSERT_TRUE(count_prefix(s, 0, "a", 400) < 400);
        CU_ASSERT_TRUE(count_prefix(s, 2, "b", 400) < 400);
        shard_destroy(s);
    }
}

static void test_volatile_evicts_only_ttl_keys(void)
{
    int policies[] = {MAXMEM_VOLATILE_LRU, MAXMEM_VOLATILE_LFU, MAXMEM_VOLATILE_RANDOM,
                      MAXMEM_VOLATILE_TTL};
    for (int p = 0; p < 4; p++) {
        cb_shard *s = new_shard(policies[p]);
        S.maxmemory = mem_used_total() + 300 * 1024;
        add_keys(s, 0, "p", 300, 0);
        add_keys(s, 0, "t", 300, 1);
        /* 600 KB of keys for 300 KB: the TTL keys are not enough. */
        CU_ASSERT_EQUAL(evict_perform(s), EVICT_FAIL);
        CU_ASSERT_EQUAL(count_prefix(s, 0, "p", 300), 300);
        CU_ASSERT_EQUAL(count_prefix(s, 0, "t", 300), 0);
        CU_ASSERT_EQUAL(s->stats.evicted_keys, 300);
        /* Room made elsewhere: fine again. */
        S.maxmemory = mem_used_total() + 100 * 1024;
        CU_ASSERT_EQUAL(evict_perform(s), EVICT_OK);
        shard_destroy(s);
    }
}

static void test_volatile_ttl_takes_soonest(void)
{
    cb_shard *s = new_shard(MAXMEM_VOLATILE_TTL);
    S.maxmemory_samples = 10;
    add_keys(s, 0, "t", 400, 1); /* t0 expires first, t399 last */
    S.maxmemory = mem_used_total() - 200 * 1024;
    CU_ASSERT_EQUAL(evict_perform(s), EVICT_OK);
    /* Approximate, as in Redis: the early half is gone far more. */
    int early = count_prefix(s, 0, "t", 200);
    int all = count_prefix(s, 0, "t", 400);
    CU_ASSERT_TRUE(early * 3 < all - early);
    shard_destroy(s);
}

static void test_lru_prefers_cold(void)
{
    cb_shard *s = new_shard(MAXMEM_ALLKEYS_LRU);
    add_keys(s, 0, "cold", 400, 0);
    add_keys(s, 0, "hot", 400, 0);
    /* Make the cold keys an hour idle. */
    char k[32];
    for (int i = 0; i < 400; i++) {
        int l = snprintf(k, sizeof k, "cold%d", i);
        cb_obj *o = db_lookup_read(s, &s->dbs[0], k, (size_t)l, DB_LOOKUP_NOTOUCH);
        o->lru = lru_clock_of(s->now_ms - 3600 * 1000);
    }
    S.maxmemory = mem_used_total() - 200 * 1024;
    CU_ASSERT_EQUAL(evict_perform(s), EVICT_OK);
    int hot = count_prefix(s, 0, "hot", 400);
    CU_ASSERT_TRUE(hot >= 390);
    CU_ASSERT_TRUE(count_prefix(s, 0, "cold", 400) < 250);
    shard_destroy(s);
}

static void test_lfu_prefers_rare(void)
{
    cb_shard *s = new_shard(MAXMEM_ALLKEYS_LFU);
    add_keys(s, 0, "rare", 400, 0);
    add_keys(s, 0, "freq", 400, 0);
    char k[32];
    for (int i = 0; i < 400; i++) {
        int l = snprintf(k, sizeof k, "freq%d", i);
        cb_obj *o = db_lookup_read(s, &s->dbs[0], k, (size_t)l, DB_LOOKUP_NOTOUCH);
        o->lru = (lfu_time_minutes(s->now_ms) << 8) | 100;
    }
    S.maxmemory = mem_used_total() - 200 * 1024;
    CU_ASSERT_EQUAL(evict_perform(s), EVICT_OK);
    CU_ASSERT_TRUE(count_prefix(s, 0, "freq", 400) >= 390);
    shard_destroy(s);
}

static void test_noeviction_and_unlimited(void)
{
    cb_shard *s = new_shard(MAXMEM_NOEVICTION);
    add_keys(s, 0, "k", 100, 0);
    S.maxmemory = 0;
    CU_ASSERT_EQUAL(evict_perform(s), EVICT_OK);
    CU_ASSERT_FALSE(evict_over_limit(s, NULL, NULL));
    S.maxmemory = mem_used_total() / 2;
    CU_ASSERT_EQUAL(evict_perform(s), EVICT_FAIL);
    CU_ASSERT_EQUAL(count_prefix(s, 0, "k", 100), 100);
    CU_ASSERT_EQUAL(s->stats.evicted_keys, 0);
    shard_destroy(s);
}

static void test_time_budget_leaves_rest_pending(void)
{
    cb_shard *s = new_shard(MAXMEM_ALLKEYS_RANDOM);
    add_keys(s, 0, "k", 3000, 0);
    S.maxmemory = mem_used_total() - 2500 * 1024;
    S.maxmemory_eviction_tenacity = 0; /* no time: stop after 16 keys */
    CU_ASSERT_EQUAL(evict_perform(s), EVICT_RUNNING);
    CU_ASSERT_EQUAL(s->evict_pending, 1);
    uint64_t ev = s->stats.evicted_keys;
    CU_ASSERT_TRUE(ev >= 16 && ev % 16 == 0 && ev < 2000);
    S.maxmemory_eviction_tenacity = 100;
    shard_before_sleep(s); /* finishes the run */
    CU_ASSERT_EQUAL(s->evict_pending, 0);
    CU_ASSERT_FALSE(evict_over_limit(s, NULL, NULL));
    shard_destroy(s);
}

/* ------------------------------------------------------------ lazy free */

/* When set, big_value allocates a filler block after each element (the
 * defrag test frees them to leave sparse slabs). */
static void **fillers;
static int nfillers, capfillers;

static void filler(int i)
{
    if (fillers && nfillers < capfillers) fillers[nfillers++] = cb_malloc(8 + (size_t)(i % 5) * 16);
}

static cb_obj *big_set(cb_shard *s, int n)
{
    cb_obj *o = set_new_for_load(s, (unsigned long)n);
    char m[32];
    for (int i = 0; i < n; i++) {
        int l = snprintf(m, sizeof m, "member-%d", i);
        set_load_add(s, o, m, (size_t)l);
        filler(i);
    }
    return o;
}

static void test_lazyfree_values_and_dbs(void)
{
    cb_shard *s = new_shard(MAXMEM_NOEVICTION);
    size_t base = mem_used_total();
    db_add(s, &s->dbs[0], "big", 3, big_set(s, 2000));
    db_add(s, &s->dbs[0], "small", 5, obj_new_string("x", 1));
    CU_ASSERT_EQUAL(db_delete_lazy(s, &s->dbs[0], "big", 3), 1);
    CU_ASSERT_EQUAL(db_delete_lazy(s, &s->dbs[0], "small", 5), 1); /* freed at once */
    CU_ASSERT_EQUAL(db_delete_lazy(s, &s->dbs[0], "none", 4), 0);
    CU_ASSERT_FALSE(db_exists(s, &s->dbs[0], "big", 3));
    CU_ASSERT_EQUAL(lazyfree_pending(s), 1);
    CU_ASSERT_TRUE(mem_used_total() > base + 2000 * 8);
    CU_ASSERT_EQUAL(lazyfree_step(s, 1000000), 0);
    CU_ASSERT_EQUAL(lazyfree_pending(s), 0);
    CU_ASSERT_EQUAL(s->lazy.freed, 1);
    CU_ASSERT_TRUE(mem_used_total() < base + 4096);

    /* A whole db: emptied at once, freed a slice at a time. */
    add_keys(s, 1, "k", 3000, 1);
    CU_ASSERT_EQUAL(db_empty_lazy(s, &s->dbs[1]), 3000);
    CU_ASSERT_EQUAL(dict_size(s->dbs[1].keys), 0);
    CU_ASSERT_EQUAL(lazyfree_pending(s), 3000);
    int steps = 0;
    while (lazyfree_step(s, 0)) steps++; /* one slice per call */
    CU_ASSERT_TRUE(steps >= 5);
    CU_ASSERT_EQUAL(lazyfree_pending(s), 0);
    CU_ASSERT_EQUAL(s->lazy.freed, 3001);
    add_keys(s, 1, "k", 10, 0); /* the db works afterwards */
    CU_ASSERT_EQUAL(count_prefix(s, 1, "k", 10), 10);
    shard_destroy(s);
}

/* One big value of each container type, built through the store's APIs. */
static cb_obj *big_value(cb_shard *s, int type, int n)
{
    char f[32], v[32];
    cb_obj *o = NULL;
    switch (type) {
    case OBJ_SET: return big_set(s, n);
    case OBJ_HASH:
        o = hash_new_for_load();
        for (int i = 0; i < n; i++) {
            int fl = snprintf(f, sizeof f, "field-%d", i), vl = snprintf(v, sizeof v, "v%d", i);
            hash_load_set(s, o, f, (size_t)fl, v, (size_t)vl);
            filler(i);
        }
        return o;
    case OBJ_ZSET:
        o = zset_new(s, (size_t)n, 64);
        for (int i = 0; i < n; i++) {
            int fl = snprintf(f, sizeof f, "member-%d", i), out;
            double ns;
            zset_add(s, o, i, f, (size_t)fl, 0, &out, &ns);
            filler(i);
        }
        return o;
    case OBJ_LIST:
        o = cb_malloc(sizeof(*o));
        o->type = OBJ_LIST;
        o->encoding = OBJ_ENC_QUICKLIST;
        o->lru = 0;
        o->refcount = 1;
        o->ptr = ql_new(4, 0); /* 4 entries a node: many nodes */
        for (int i = 0; i < n; i++) {
            int fl = snprintf(f, sizeof f, "element-%d", i);
            ql_push(o->ptr, QL_TAIL, f, (size_t)fl);
            filler(i);
        }
        return o;
    case OBJ_STREAM:
        o = stream_obj_create();
        for (int i = 0; i < n; i++) {
            stream_id id = {(uint64_t)i + 1, 0};
            const char *kv[2] = {"f", v};
            size_t kl[2] = {1, (size_t)snprintf(v, sizeof v, "%d", i)};
            stream_append(o->ptr, &id, kv, kl, 1, 4096, 4);
            filler(i);
        }
        return o;
    }
    return NULL;
}

static void test_lazyfree_big_values_in_slices(void)
{
    static const int types[] = {OBJ_HASH, OBJ_SET, OBJ_ZSET, OBJ_LIST, OBJ_STREAM};
    cb_shard *s = new_shard(MAXMEM_NOEVICTION);
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        size_t base = mem_used_total();
        db_add(s, &s->dbs[0], "big", 3, big_value(s, types[t], 5000));
        CU_ASSERT_TRUE(mem_used_total() > base + 5000 * 8);
        CU_ASSERT_EQUAL(db_delete_lazy(s, &s->dbs[0], "big", 3), 1);
        CU_ASSERT_EQUAL(lazyfree_pending(s), 1);
        /* A zero budget frees one slice per call: many calls, the value
         * counted as pending until the last. */
        int steps = 0;
        while (lazyfree_step(s, 0)) {
            steps++;
            CU_ASSERT_EQUAL(lazyfree_pending(s), 1);
        }
        CU_ASSERT_TRUE_FATAL(steps >= 10);
        CU_ASSERT_EQUAL(lazyfree_pending(s), 0);
        CU_ASSERT_TRUE(mem_used_total() < base + 1024);
    }
    /* A flushed db hands its big values to the value queue. */
    size_t base = mem_used_total();
    db_add(s, &s->dbs[2], "z", 1, big_value(s, OBJ_ZSET, 5000));
    db_add(s, &s->dbs[2], "x", 1, obj_new_string("x", 1));
    uint64_t freed = s->lazy.freed;
    CU_ASSERT_EQUAL(db_empty_lazy(s, &s->dbs[2]), 2);
    int steps = 0;
    while (lazyfree_step(s, 0)) steps++;
    CU_ASSERT_TRUE(steps >= 10);
    CU_ASSERT_EQUAL(s->lazy.freed - freed, 2);
    CU_ASSERT_TRUE(mem_used_total() < base + 1024);
    shard_destroy(s);
}

static void test_lazy_eviction_waits_for_queue(void)
{
    cb_shard *s = new_shard(MAXMEM_ALLKEYS_RANDOM);
    S.lazyfree_lazy_eviction = 1;
    char k[16];
    for (int i = 0; i < 8; i++) {
        int l = snprintf(k, sizeof k, "set%d", i);
        db_add(s, &s->dbs[0], k, (size_t)l, big_set(s, 1000));
    }
    S.maxmemory = mem_used_total() - 1000;
    CU_ASSERT_EQUAL(evict_perform(s), EVICT_RUNNING);
    CU_ASSERT_EQUAL(s->stats.evicted_keys, 1); /* one queued, then it waits */
    CU_ASSERT_EQUAL(evict_perform(s), EVICT_RUNNING);
    CU_ASSERT_EQUAL(s->stats.evicted_keys, 1);
    lazyfree_step(s, 1000000);
    CU_ASSERT_EQUAL(evict_perform(s), EVICT_OK);
    CU_ASSERT_EQUAL(s->stats.evicted_keys, 1);
    shard_destroy(s);
}

/* ------------------------------------------------------------ defrag */

static void test_defrag_keeps_everything(void)
{
    cb_shard *s = new_shard(MAXMEM_NOEVICTION);
    S.hz = 100000; /* a 10 us budget per tick: the pass spans many ticks */
    S.active_defrag = 1;
    S.active_defrag_ignore_bytes = 0; /* start even when the tcache hides the frees */
    S.active_defrag_threshold_lower = 0;
    S.active_defrag_threshold_upper = 100;
    S.active_defrag_cycle_min = 50;
    S.active_defrag_cycle_max = 99;
    char k[32], v[64];
    for (int i = 0; i < 20000; i++) {
        int kl = snprintf(k, sizeof k, "key:%d", i);
        int vl = snprintf(v, sizeof v, "%0*d", 10 + i % 50, i);
        cb_obj *o = i % 4 == 0 ? obj_new_raw(v, (size_t)vl) : obj_new_string(v, (size_t)vl);
        db_add(s, &s->dbs[i % 2 ? 0 : 3], k, (size_t)kl, o);
        if (i % 3 == 0) db_set_expire(s, &s->dbs[i % 2 ? 0 : 3], k, (size_t)kl, s->now_ms + 100000 + i);
    }
    for (int i = 0; i < 20000; i += 4) {
        int kl = snprintf(k, sizeof k, "key:%d", i);
        db_delete(s, &s->dbs[i % 2 ? 0 : 3], k, (size_t)kl);
    }
    int rounds = 0;
    do defrag_cron(s);
    while (s->defrag.running && ++rounds < 100000);
    CU_ASSERT_EQUAL(s->defrag.running, 0);
    if (strcmp(mem_allocator_name(), "libc") != 0) CU_ASSERT_TRUE(rounds > 3);
    if (strcmp(mem_allocator_name(), "libc") != 0) {
        CU_ASSERT_TRUE(s->stats.defrag_hits > 0);
        CU_ASSERT_TRUE(s->stats.defrag_key_hits > 0);
    }
    /* Every key, value and TTL as it was. */
    for (int i = 0; i < 20000; i++) {
        cb_db *db = &s->dbs[i % 2 ? 0 : 3];
        int kl = snprintf(k, sizeof k, "key:%d", i);
        cb_obj *o = db_lookup_read(s, db, k, (size_t)kl, DB_LOOKUP_NOTOUCH);
        if (i % 4 == 0) {
            CU_ASSERT_PTR_NULL(o);
            continue;
        }
        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        char buf[32];
        size_t len;
        const char *p = obj_str(o, buf, &len);
        int vl = snprintf(v, sizeof v, "%0*d", 10 + i % 50, i);
        CU_ASSERT_EQUAL(len, (size_t)vl);
        CU_ASSERT_EQUAL(memcmp(p, v, len), 0);
        long long when = db_get_expire(db, k, (size_t)kl);
        CU_ASSERT_EQUAL(when, i % 3 == 0 ? s->now_ms + 100000 + i : -1);
    }
    shard_destroy(s);
}

/* Big containers (more elements than active-defrag-max-scan-fields) get
 * their insides moved a slice at a time across ticks, and every value reads
 * the same afterwards (digests, sorted-set links both ways, ranks, dict
 * lookups). */
static void test_defrag_inside_big_containers(void)
{
    static const int types[] = {OBJ_HASH, OBJ_SET, OBJ_ZSET, OBJ_LIST, OBJ_STREAM};
    enum { NT = sizeof types / sizeof types[0] };
    cb_shard *s = new_shard(MAXMEM_NOEVICTION);
    S.hz = 100000; /* a 10 us budget per tick */
    S.active_defrag = 1;
    S.active_defrag_ignore_bytes = 0;
    S.active_defrag_threshold_lower = 0;
    S.active_defrag_threshold_upper = 100;
    S.active_defrag_cycle_min = 50;
    S.active_defrag_cycle_max = 99;
    S.active_defrag_max_scan_fields = 100;
    /* Fillers between the elements, freed afterwards, leave sparse slabs. */
    static void *fill[NT * 3000];
    fillers = fill;
    nfillers = 0;
    capfillers = NT * 3000;
    char k[16];
    unsigned char before[NT][20], after[20];
    for (int t = 0; t < NT; t++) {
        cb_obj *o = big_value(s, types[t], 3000);
        digest_value(o, before[t]);
        int kl = snprintf(k, sizeof k, "big%d", t);
        db_add(s, &s->dbs[0], k, (size_t)kl, o);
    }
    for (int i = 0; i < nfillers; i++) cb_free(fill[i]);
    fillers = NULL;
    uint64_t hits0 = s->stats.defrag_hits;
    int rounds = 0;
    do defrag_cron(s);
    while (s->defrag.running && ++rounds < 1000000);
    CU_ASSERT_EQUAL(s->defrag.running, 0);
    CU_ASSERT_EQUAL(s->defrag.nlater, 0);
    if (strcmp(mem_allocator_name(), "libc") != 0) {
        CU_ASSERT_TRUE(rounds > 10);
        CU_ASSERT_TRUE(s->stats.defrag_hits > hits0 + 1000);
    }
    for (int t = 0; t < NT; t++) {
        int kl = snprintf(k, sizeof k, "big%d", t);
        cb_obj *o = db_lookup_read(s, &s->dbs[0], k, (size_t)kl, DB_LOOKUP_NOTOUCH);
        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        digest_value(o, after);
        CU_ASSERT_EQUAL(memcmp(before[t], after, 20), 0);
        if (types[t] == OBJ_ZSET) {
            const zset *z = o->ptr;
            unsigned long fwd = 0, back = 0;
            for (zsl_node *n = z->zsl->header->level[0].forward; n; n = n->level[0].forward) {
                fwd++;
                double sc;
                CU_ASSERT_TRUE(zset_score(o, n->ele, cbstr_len(n->ele), &sc) && sc == n->score);
            }
            for (zsl_node *n = z->zsl->tail; n; n = n->backward) back++;
            CU_ASSERT_EQUAL(fwd, 3000);
            CU_ASSERT_EQUAL(back, 3000);
            CU_ASSERT_EQUAL(zset_rank(o, "member-1234", 11, 0), 1234);
        }
        if (types[t] == OBJ_HASH) {
            char buf[32];
            const char *v;
            size_t vl;
            CU_ASSERT_TRUE(hash_get(o, "field-2999", 10, buf, &v, &vl) && vl == 5 &&
                           memcmp(v, "v2999", 5) == 0);
        }
    }
    shard_destroy(s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite su = CU_add_suite("evict", NULL, NULL);
    CU_add_test(su, "pool keeps the best", test_pool_keeps_best);
    CU_add_test(su, "pool dedup and db", test_pool_dedup_and_db);
    CU_add_test(su, "tenacity time limit", test_time_limit);
    CU_add_test(su, "LFU counter growth", test_lfu_counter_growth);
    CU_add_test(su, "LFU decay", test_lfu_decay);
    CU_add_test(su, "memory accounts", test_accounts);
    CU_add_test(su, "allkeys runs stay under", test_allkeys_run_stays_under);
    CU_add_test(su, "volatile evicts only TTL keys", test_volatile_evicts_only_ttl_keys);
    CU_add_test(su, "volatile-ttl takes soonest", test_volatile_ttl_takes_soonest);
    CU_add_test(su, "LRU prefers cold keys", test_lru_prefers_cold);
    CU_add_test(su, "LFU prefers rare keys", test_lfu_prefers_rare);
    CU_add_test(su, "noeviction and no limit", test_noeviction_and_unlimited);
    CU_add_test(su, "time budget leaves rest pending", test_time_budget_leaves_rest_pending);
    CU_add_test(su, "lazy free of values and dbs", test_lazyfree_values_and_dbs);
    CU_add_test(su, "lazy eviction waits for the queue", test_lazy_eviction_waits_for_queue);
    CU_add_test(su, "big values freed in slices", test_lazyfree_big_values_in_slices);
    CU_add_test(su, "defrag keeps everything", test_defrag_keeps_everything);
    CU_add_test(su, "defrag inside big containers", test_defrag_inside_big_containers);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
