/* client_evict.c — per-worker client memory accounting and `maxmemory-clients`
 * eviction (design in client_evict.h).
 *
 * Why buckets: finding "the biggest clients" must not scan every client on
 * every loop turn. Clients are filed by the power of two of their memory, so
 * the eviction loop takes clients from the highest non-empty bucket, as Redis
 * 7.0 does; the order inside a bucket is arbitrary.
 *
 * Why a published top bucket: each worker may only close its own clients.
 * A worker whose biggest bucket is smaller than another worker's leaves the
 * eviction to that worker, so small clients are not closed while bigger ones
 * live elsewhere.
 */
#include "client_evict.h"

#include "conn.h"
#include "worker.h"
#include "resp/parser.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"

size_t client_mem_usage(const cb_client *c) {
    size_t argv = 0;
    for (int i = 0; i < c->argc; i++) argv += c->argv_len[i];
    return sizeof(*c) + c->out_mem + resp_parser_buffered(&c->parser) + c->pending_cap + argv;
}

/* Evictable: a normal or Pub/Sub client that did not opt out; monitors are
 * replica-class clients in Redis and never evicted. */
static int evictable(const cb_client *c) {
    return !(c->flags & (CLIENT_NO_EVICT | CLIENT_MONITOR | CLIENT_CLOSE_ASAP | CLIENT_CLOSED));
}

static int bucket_of(size_t mem) {
    int b = 0;
    size_t m = mem >> 15; /* under 32 KiB: bucket 0 */
    while (m && b < CB_CLIENT_MEM_BUCKETS - 1) {
        b++;
        m >>= 1;
    }
    return b;
}

static void publish_top(cb_worker *w) {
    int top = -1;
    for (int b = CB_CLIENT_MEM_BUCKETS - 1; b >= 0; b--)
        if (w->mem_buckets[b]) {
            top = b;
            break;
        }
    if (top != w->evict_top) __atomic_store_n(&w->evict_top, top, __ATOMIC_RELAXED);
}

static void bucket_unlink(cb_worker *w, cb_client *c) {
    if (c->mem_bucket < 0) return;
    if (c->mb_prev)
        c->mb_prev->mb_next = c->mb_next;
    else
        w->mem_buckets[c->mem_bucket] = c->mb_next;
    if (c->mb_next) c->mb_next->mb_prev = c->mb_prev;
    c->mb_prev = c->mb_next = NULL;
    c->mem_bucket = -1;
}

void client_mem_update(cb_client *c) {
    if (!c->mem_tracked) return;
    if (c->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSED)) {
        client_mem_forget(c); /* freed within this loop turn */
        return;
    }
    cb_worker *w = c->w;
    size_t mem = (c->flags & CLIENT_MONITOR) ? 0 : client_mem_usage(c);
    if (mem != c->mem_counted) {
        STAT_ADD(w->client_mem, (uint64_t)mem - (uint64_t)c->mem_counted);
        c->mem_counted = mem;
    }
    int b = evictable(c) ? bucket_of(mem) : -1;
    if (b == c->mem_bucket) return;
    int was = c->mem_bucket;
    bucket_unlink(w, c);
    if (b >= 0) {
        c->mb_next = w->mem_buckets[b];
        if (c->mb_next) c->mb_next->mb_prev = c;
        w->mem_buckets[b] = c;
        c->mem_bucket = b;
    }
    if (b > w->evict_top || was == w->evict_top) publish_top(w);
}

void client_mem_forget(cb_client *c) {
    if (!c->mem_tracked) return;
    cb_worker *w = c->w;
    STAT_ADD(w->client_mem, (uint64_t)0 - (uint64_t)c->mem_counted);
    c->mem_counted = 0;
    int was = c->mem_bucket;
    bucket_unlink(w, c);
    if (was >= 0 && was == w->evict_top) publish_top(w);
}

/* Redis 7.0 never goes below 128 KiB: a tiny limit would cut every client,
 * the operator's own included. */
#define MIN_LIMIT (128 * 1024ULL)

unsigned long long client_evict_limit(void) {
    long long v = g_config.maxmemory_clients;
    unsigned long long limit;
    if (v > 0) {
        limit = (unsigned long long)v;
    } else if (v < 0 && g_config.store.maxmemory) {
        limit = g_config.store.maxmemory / 100 * (unsigned long long)(-v) +
                g_config.store.maxmemory % 100 * (unsigned long long)(-v) / 100;
    } else {
        return 0;
    }
    return limit < MIN_LIMIT ? MIN_LIMIT : limit;
}

uint64_t client_mem_total(void) {
    uint64_t t = 0;
    for (int i = 0; i < g_server.nworkers; i++)
        if (g_server.workers[i]) t += STAT_GET(g_server.workers[i]->client_mem);
    return t;
}

static int others_top(const cb_worker *w) {
    int top = -1;
    for (int i = 0; i < g_server.nworkers; i++) {
        const cb_worker *o = g_server.workers[i];
        if (!o || o == w) continue;
        int t = __atomic_load_n(&o->evict_top, __ATOMIC_RELAXED);
        if (t > top) top = t;
    }
    return top;
}

void client_evict_run(cb_worker *w) {
    unsigned long long limit = client_evict_limit();
    if (!limit || w->evict_top < 0) return;
    uint64_t total = client_mem_total();
    if (total < limit) return;
    int other = others_top(w);
    while (total >= limit && w->evict_top >= 0 && w->evict_top >= other) {
        cb_client *c = w->mem_buckets[w->evict_top];
        char *info = client_info_line(c);
        cb_log(LOG_VERBOSE, "Evicting client: %s", info);
        cb_free(info);
        size_t mem = c->mem_counted;
        client_mem_forget(c);
        conn_close_async(c);
        STAT_INC(w->stats.evicted_clients);
        total = total > mem ? total - mem : 0;
    }
}
