/* expire.c — active expiry: finding and deleting expired keys that nobody
 * reads (lazy expiry in db.c catches the ones that are read).
 *
 * The algorithm is the adaptive one Redis documents for EXPIRE:
 *  - Each loop samples up to 20 keys with a TTL from one db (walking the
 *    expires dict with a SCAN cursor kept in db->expires_cursor, so the
 *    next cycle resumes where this one stopped) and deletes the expired ones.
 *  - While more than 10% of a sample was expired, the db is sampled again:
 *    the stale share is probably still high.
 *  - A slow cycle (from shard_cron, hz times a second) may use 25% of a
 *    second's CPU spread over the ticks; a fast cycle (before the event loop
 *    sleeps) at most 1000 us and not more often than every 2000 us, and only
 *    when the last cycle ran out of time or the stale estimate is above the
 *    acceptable level.
 *  - active-expire-effort (1..10) raises the sample size, the time budgets
 *    and lowers the acceptable stale share.
 * Times are measured with the monotonic clock; key deadlines are compared
 * with s->now_ms, which the caller sets (shard_cron / shard_before_sleep).
 * A replica runs none of this (its master's DELs expire its keys) but the
 * small cycle at the end, over the keys its own clients gave a TTL.
 */
#include "db.h"
#include "../platform/mem.h"
#include "../platform/util.h"

#define EXP_KEYS_PER_LOOP 20
#define EXP_FAST_DURATION_US 1000
#define EXP_SLOW_TIME_PERC 25
#define EXP_ACCEPTABLE_STALE 10
/* Dbs visited per cycle, unless the last one ran out of time. */
#define EXP_DBS_PER_CALL 16
/* A table this small is never considered too sparse to sample. */
#define EXP_MIN_SLOTS 4

/* Entries of the bucket(s) one dict_scan step visited. */
typedef struct exp_batch {
    cbstr *keys;
    long long *when;
    size_t n, cap;
} exp_batch;

static void batch_collect(void *priv, const dict_entry *e)
{
    exp_batch *b = priv;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 32;
        b->keys = cb_realloc(b->keys, b->cap * sizeof(*b->keys));
        b->when = cb_realloc(b->when, b->cap * sizeof(*b->when));
    }
    b->keys[b->n] = e->key;
    b->when[b->n] = (long long)e->v.s64;
    b->n++;
}

typedef struct exp_params {
    unsigned long keys_per_loop;
    long long fast_duration_us;
    int slow_time_perc;
    int acceptable_stale;
} exp_params;

static exp_params params_for(const cb_store_settings *set)
{
    int effort = set->active_expire_effort - 1;
    if (effort < 0) effort = 0;
    if (effort > 9) effort = 9;
    exp_params p;
    p.keys_per_loop = EXP_KEYS_PER_LOOP + EXP_KEYS_PER_LOOP / 4 * (unsigned long)effort;
    p.fast_duration_us = EXP_FAST_DURATION_US + EXP_FAST_DURATION_US / 4 * effort;
    p.slow_time_perc = EXP_SLOW_TIME_PERC + 2 * effort;
    p.acceptable_stale = EXP_ACCEPTABLE_STALE - effort;
    return p;
}

/* Counts of one sampling round over a db. */
typedef struct exp_round {
    unsigned long sampled, expired;
    long long ttl_sum;
    unsigned long ttl_samples;
} exp_round;

/* Samples up to `want` keys with a TTL from db, deleting the expired ones. */
static void sample_db(cb_shard *s, cb_db *db, unsigned long want, exp_batch *b,
                      exp_round *r)
{
    /* Empty buckets are skipped cheaply but still bounded, so a sparse table
     * cannot keep one round going for long. */
    unsigned long max_steps = want * 20, steps = 0;
    while (r->sampled < want && steps < max_steps && dict_size(db->expires)) {
        b->n = 0;
        db->expires_cursor = dict_scan(db->expires, db->expires_cursor, batch_collect, b);
        steps++;
        for (size_t i = 0; i < b->n; i++) {
            r->sampled++;
            if (s->now_ms > b->when[i]) {
                db_delete_expired(s, db, b->keys[i], cbstr_len(b->keys[i]));
                r->expired++;
            } else {
                long long ttl = b->when[i] - s->now_ms;
                if (ttl > 0) {
                    r->ttl_sum += ttl;
                    r->ttl_samples++;
                }
            }
        }
    }
}

void db_active_expire_cycle(cb_shard *s, int fast)
{
    if (!s->active_expire_enabled) return;
    exp_params p = params_for(s->set);
    uint64_t start = util_monotonic_us();

    if (fast) {
        /* Not worth it unless the last cycle was cut short or many volatile
         * keys are believed to be already expired. */
        if (!s->expire_cycle_timelimit_exit &&
            s->expired_stale_frac * 100.0 <= (double)p.acceptable_stale)
            return;
        if (start < s->expire_cycle_last_fast_us + (uint64_t)p.fast_duration_us * 2)
            return;
        s->expire_cycle_last_fast_us = start;
        s->expire_cycle_fast_in_progress = 1;
    }

    int dbs = EXP_DBS_PER_CALL;
    if (dbs > s->ndb || s->expire_cycle_timelimit_exit) dbs = s->ndb;

    int hz = s->set->hz > 0 ? s->set->hz : 10;
    long long timelimit = (long long)p.slow_time_perc * 1000000 / hz / 100;
    if (timelimit <= 0) timelimit = 1;
    if (fast) timelimit = p.fast_duration_us;
    s->expire_cycle_timelimit_exit = 0;

    exp_batch b = { 0 };
    unsigned long total_sampled = 0, total_expired = 0;
    unsigned iteration = 0;

    for (int j = 0; j < dbs && !s->expire_cycle_timelimit_exit; j++) {
        cb_db *db = &s->dbs[s->expire_cycle_db % s->ndb];
        s->expire_cycle_db = (s->expire_cycle_db + 1) % s->ndb;
        int again;
        do {
            size_t num = dict_size(db->expires);
            if (num == 0) {
                db->avg_ttl = 0;
                break;
            }
            /* Below 1% fill, sampling mostly hits empty buckets; wait for
             * the cron to shrink the table. */
            size_t slots = dict_buckets(db->expires);
            if (slots > EXP_MIN_SLOTS && num * 100 / slots < 1) break;

            unsigned long want = num > p.keys_per_loop ? p.keys_per_loop : (unsigned long)num;
            exp_round r = { 0 };
            sample_db(s, db, want, &b, &r);
            total_sampled += r.sampled;
            total_expired += r.expired;

            if (r.ttl_samples) {
                long long avg = r.ttl_sum / (long long)r.ttl_samples;
                if (db->avg_ttl == 0) db->avg_ttl = avg;
                /* Smooth over rounds: each round weighs 2%. */
                db->avg_ttl = (db->avg_ttl / 50) * 49 + avg / 50;
            }

            iteration++;
            if ((iteration & 0xf) == 0 &&
                (long long)(util_monotonic_us() - start) > timelimit) {
                s->expire_cycle_timelimit_exit = 1;
                s->stats.expired_time_cap_reached_count++;
                break;
            }
            again = r.sampled == 0 ||
                    r.expired * 100 / r.sampled > (unsigned long)p.acceptable_stale;
        } while (again);
    }

    cb_free(b.keys);
    cb_free(b.when);
    s->stats.expire_cycle_cpu_us += util_monotonic_us() - start;

    double cur = total_sampled ? (double)total_expired / (double)total_sampled : 0.0;
    s->expired_stale_frac = cur * 0.05 + s->expired_stale_frac * 0.95;
    s->stats.expired_stale_perc_x100 = (uint64_t)(s->expired_stale_frac * 10000.0 + 0.5);
    s->expire_cycle_fast_in_progress = 0;
}

/* ------------------------------------------------------------------------
 * A replica's own keys
 * ---------------------------------------------------------------------- */

/* Redis 7.0's expireSlaveKeys: random draws from the keys our own clients
 * gave a TTL on a writable replica; a name is dropped once no db holds it
 * with a TTL any more. Stops after more than 3 keys still alive, after
 * ~1 ms (looked at every 64 draws) or when nothing is left. */
void db_replica_expire_cycle(cb_shard *s)
{
    if (!s->replica_keys || dict_size(s->replica_keys) == 0) return;
    uint64_t start = util_monotonic_us();
    unsigned long draws = 0, alive = 0;
    for (;;) {
        dict_entry *e = dict_random(s->replica_keys, &s->rng);
        if (!e) break;
        cbstr name = e->key;
        size_t len = cbstr_len(name);
        uint64_t dbs = e->v.u64, keep = 0;
        for (int id = 0; dbs && id < s->ndb; id++, dbs >>= 1) {
            if (!(dbs & 1)) continue;
            cb_db *db = &s->dbs[id];
            long long when = db_get_expire(db, name, len);
            if (when < 0) continue;
            if (s->now_ms > when) {
                db_delete_expired(s, db, name, len);
            } else {
                alive++;
                keep |= 1ULL << id;
            }
        }
        if (keep) e->v.u64 = keep;
        else dict_delete(s->replica_keys, name, len);
        draws++;
        if (alive > 3) break;
        if ((draws % 64) == 0 && util_monotonic_us() - start > 1000) break;
        if (dict_size(s->replica_keys) == 0) break;
    }
}
