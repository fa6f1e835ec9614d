/* dict.c — chained hash table with incremental rehashing (see dict.h).
 *
 * Tables are powers of two. Growing or shrinking allocates table 1 and moves
 * table 0 over one bucket at a time: each find/add/delete moves one bucket
 * (unless a safe iterator or a scan callback has paused rehashing) and the
 * owner's cron calls dict_rehash_us() for the rest. dict_scan() walks bucket
 * indexes in reverse-binary order, so a cursor stays meaningful when the table
 * doubles or halves between calls — the SCAN guarantee.
 *
 * All state lives in the dict itself (seed included): nothing is global, so a
 * shard thread owns its tables outright.
 */
#include "dict.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DICT_MIN_SIZE 4
#define DICT_FORCE_RATIO 5     /* grow even when resizing is disallowed */
#define DICT_MIN_FILL_PCT 10   /* shrink below this fill */

struct dict {
    const dict_type *type;
    void *priv;
    dict_entry **table[2];
    size_t size[2]; /* buckets; 0 when the table is not allocated */
    size_t used[2];
    long rehashidx; /* next table-0 bucket to move; -1 when not rehashing */
    int pause;      /* safe iterators and scans in progress */
    int resize_allowed;
    uint8_t seed[16];
    dict_expand_hook expand_allowed;
    int reap_table;    /* dict_release_step: table and bucket it resumes at */
    size_t reap_idx;
};

/* ------------------------------------------------------------------------
 * Keys
 * ---------------------------------------------------------------------- */

static inline uint64_t hash_key(const dict *d, const void *key, size_t len)
{
    return d->type->nocase ? util_hash_nocase(key, len, d->seed)
                           : util_hash(key, len, d->seed);
}

static int key_eq(const dict *d, const dict_entry *e, const void *key,
                  size_t len)
{
    if (cbstr_len(e->key) != len) return 0;
    if (!d->type->nocase) return memcmp(e->key, key, len) == 0;
    const unsigned char *a = (const unsigned char *)e->key, *b = key;
    for (size_t i = 0; i < len; i++) {
        unsigned char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
        if (x != y) return 0;
    }
    return 1;
}

static void free_entry(dict *d, dict_entry *e)
{
    if (d->type->key_free) d->type->key_free(e->key);
    if (d->type->val_free) d->type->val_free(e->v.val, d->priv);
    cb_free(e);
}

/* ------------------------------------------------------------------------
 * Life cycle
 * ---------------------------------------------------------------------- */

dict *dict_create(const dict_type *t, void *priv, const uint8_t seed[16])
{
    dict *d = cb_calloc(sizeof(*d));
    d->type = t;
    d->priv = priv;
    d->rehashidx = -1;
    d->resize_allowed = 1;
    memcpy(d->seed, seed, 16);
    return d;
}

static void clear_table(dict *d, int t)
{
    for (size_t i = 0; i < d->size[t] && d->used[t] > 0; i++) {
        dict_entry *e = d->table[t][i];
        while (e) {
            dict_entry *next = e->next;
            free_entry(d, e);
            d->used[t]--;
            e = next;
        }
    }
    cb_free(d->table[t]);
    d->table[t] = NULL;
    d->size[t] = 0;
    d->used[t] = 0;
}

void dict_clear(dict *d)
{
    clear_table(d, 0);
    clear_table(d, 1);
    d->rehashidx = -1;
}

void dict_release(dict *d)
{
    if (!d) return;
    dict_clear(d);
    cb_free(d);
}

size_t dict_size(const dict *d)
{
    return d->used[0] + d->used[1];
}

size_t dict_buckets(const dict *d)
{
    return d->size[0] + d->size[1];
}

int dict_is_rehashing(const dict *d)
{
    return d->rehashidx != -1;
}

const uint8_t *dict_seed(const dict *d) { return d->seed; }

size_t dict_mem_overhead(const dict *d)
{
    return sizeof(*d) + dict_buckets(d) * sizeof(dict_entry *) +
           dict_size(d) * sizeof(dict_entry);
}

/* ------------------------------------------------------------------------
 * Rehashing
 * ---------------------------------------------------------------------- */

/* Moves up to n non-empty buckets (visiting at most 10n empty ones) from
 * table 0 to table 1. Returns 1 while more is left. */
static int rehash(dict *d, int n)
{
    if (!dict_is_rehashing(d)) return 0;
    int empty_budget = n * 10;
    while (n-- > 0 && d->used[0] != 0) {
        assert((size_t)d->rehashidx < d->size[0]);
        while (d->table[0][d->rehashidx] == NULL) {
            d->rehashidx++;
            if (--empty_budget == 0) return 1;
        }
        dict_entry *e = d->table[0][d->rehashidx];
        while (e) {
            dict_entry *next = e->next;
            size_t idx = hash_key(d, e->key, cbstr_len(e->key)) & (d->size[1] - 1);
            e->next = d->table[1][idx];
            d->table[1][idx] = e;
            d->used[0]--;
            d->used[1]++;
            e = next;
        }
        d->table[0][d->rehashidx] = NULL;
        d->rehashidx++;
    }
    if (d->used[0] == 0) {
        cb_free(d->table[0]);
        d->table[0] = d->table[1];
        d->size[0] = d->size[1];
        d->used[0] = d->used[1];
        d->table[1] = NULL;
        d->size[1] = 0;
        d->used[1] = 0;
        d->rehashidx = -1;
        return 0;
    }
    return 1;
}

/* The one-bucket step every lookup pays while a rehash is in flight. */
static inline void rehash_step(dict *d)
{
    if (d->pause == 0 && dict_is_rehashing(d)) rehash(d, 1);
}

int dict_rehash_steps(dict *d, int n)
{
    /* A paused dict must keep its bucket layout (safe iterator running). */
    if (d->pause > 0) return dict_is_rehashing(d);
    return rehash(d, n);
}

int dict_rehash_us(dict *d, long long us)
{
    if (d->pause > 0 || !dict_is_rehashing(d)) return 0;
    uint64_t start = util_monotonic_us();
    while (rehash(d, 100)) {
        if ((long long)(util_monotonic_us() - start) > us) return 1;
    }
    return 0;
}

static size_t next_pow2(size_t n)
{
    size_t s = DICT_MIN_SIZE;
    while (s < n) {
        if (s > SIZE_MAX / 2 / sizeof(dict_entry *)) return 0;
        s <<= 1;
    }
    return s;
}

/* Installs a table of exactly size buckets: as table 0 when the dict is
 * empty, else as table 1 and starts rehashing. try: fail instead of abort. */
static int resize_table(dict *d, size_t size, int try)
{
    dict_entry **t;
    if (try) {
        t = cb_try_malloc(size * sizeof(*t));
        if (!t) return -1;
        memset(t, 0, size * sizeof(*t));
    } else {
        t = cb_calloc(size * sizeof(*t));
    }
    if (d->table[0] == NULL) {
        d->table[0] = t;
        d->size[0] = size;
        d->used[0] = 0;
        return 0;
    }
    d->table[1] = t;
    d->size[1] = size;
    d->used[1] = 0;
    d->rehashidx = 0;
    return 0;
}

int dict_expand(dict *d, size_t n)
{
    size_t have = dict_is_rehashing(d) ? d->size[1] : d->size[0];
    if (have >= n && have != 0) return 0;
    if (dict_is_rehashing(d)) return -1;
    size_t size = next_pow2(n);
    if (size == 0) return -1;
    return resize_table(d, size, 1);
}

static void grow_if_needed(dict *d)
{
    if (dict_is_rehashing(d)) return;
    if (d->size[0] == 0) {
        resize_table(d, DICT_MIN_SIZE, 0);
        return;
    }
    if (d->used[0] >= d->size[0] &&
        (d->resize_allowed || d->used[0] / d->size[0] > DICT_FORCE_RATIO)) {
        size_t size = next_pow2(d->used[0] + 1);
        if (size && d->expand_allowed &&
            !d->expand_allowed(size * sizeof(dict_entry *),
                                     (double)d->used[0] / (double)d->size[0], d->priv))
            return;
        if (size) resize_table(d, size, 0);
    }
}

int dict_shrink_if_sparse(dict *d)
{
    if (!d->resize_allowed || dict_is_rehashing(d)) return 0;
    size_t size = d->size[0];
    if (size <= DICT_MIN_SIZE || d->used[0] * 100 / size >= DICT_MIN_FILL_PCT)
        return 0;
    size_t want = next_pow2(d->used[0] < DICT_MIN_SIZE ? DICT_MIN_SIZE : d->used[0]);
    if (want == 0 || want >= size) return 0;
    return resize_table(d, want, 0) == 0;
}

int dict_release_step(dict *d, size_t max)
{
    return dict_release_step_fn(d, max, NULL, NULL);
}

int dict_release_step_fn(dict *d, size_t max, void (*fn)(dict_entry *e, void *arg), void *arg)
{
    size_t done = 0;
    while (d->reap_table < 2) {
        int t = d->reap_table;
        while (d->reap_idx < d->size[t]) {
            if (done >= max) return 1;
            dict_entry *e = d->table[t][d->reap_idx];
            d->table[t][d->reap_idx] = NULL;
            while (e) {
                dict_entry *next = e->next;
                if (fn) fn(e, arg);
                free_entry(d, e);
                d->used[t]--;
                done++;
                e = next;
            }
            d->reap_idx++;
        }
        cb_free(d->table[t]);
        d->table[t] = NULL;
        d->size[t] = 0;
        d->used[t] = 0;
        d->reap_table++;
        d->reap_idx = 0;
    }
    cb_free(d);
    return 0;
}

int dict_owns_values(const dict *d)
{
    return d->type->val_free != NULL;
}

void dict_set_expand_hook(dict *d, dict_expand_hook fn)
{
    d->expand_allowed = fn;
}

void dict_set_resize_allowed(dict *d, int allowed)
{
    d->resize_allowed = allowed;
}

/* ------------------------------------------------------------------------
 * Find / add / delete
 * ---------------------------------------------------------------------- */

dict_entry *dict_find(dict *d, const void *key, size_t len)
{
    if (dict_size(d) == 0) return NULL;
    rehash_step(d);
    uint64_t h = hash_key(d, key, len);
    for (int t = 0; t <= 1; t++) {
        if (d->size[t] == 0) break;
        for (dict_entry *e = d->table[t][h & (d->size[t] - 1)]; e; e = e->next)
            if (key_eq(d, e, key, len)) return e;
        if (!dict_is_rehashing(d)) break;
    }
    return NULL;
}

dict_entry *dict_add_raw(dict *d, cbstr key, dict_entry **existing)
{
    rehash_step(d);
    grow_if_needed(d);
    size_t len = cbstr_len(key);
    uint64_t h = hash_key(d, key, len);
    size_t idx = 0;
    for (int t = 0; t <= 1; t++) {
        if (d->size[t] == 0) break;
        idx = h & (d->size[t] - 1);
        for (dict_entry *e = d->table[t][idx]; e; e = e->next) {
            if (key_eq(d, e, key, len)) {
                if (existing) *existing = e;
                return NULL;
            }
        }
        if (!dict_is_rehashing(d)) break;
    }
    /* idx now indexes the table new entries go to: table 1 while rehashing,
     * so table 0 only ever drains. */
    int t = dict_is_rehashing(d) ? 1 : 0;
    dict_entry *e = cb_malloc(sizeof(*e));
    e->key = key;
    e->v.val = NULL;
    e->next = d->table[t][idx];
    d->table[t][idx] = e;
    d->used[t]++;
    return e;
}

/* Unlinks the entry for key from its chain; NULL if absent. */
static dict_entry *unlink_entry(dict *d, const void *key, size_t len)
{
    if (dict_size(d) == 0) return NULL;
    rehash_step(d);
    uint64_t h = hash_key(d, key, len);
    for (int t = 0; t <= 1; t++) {
        if (d->size[t] == 0) break;
        dict_entry **pp = &d->table[t][h & (d->size[t] - 1)];
        for (; *pp; pp = &(*pp)->next) {
            dict_entry *e = *pp;
            if (key_eq(d, e, key, len)) {
                *pp = e->next;
                e->next = NULL;
                d->used[t]--;
                return e;
            }
        }
        if (!dict_is_rehashing(d)) break;
    }
    return NULL;
}

int dict_delete(dict *d, const void *key, size_t len)
{
    dict_entry *e = unlink_entry(d, key, len);
    if (!e) return 0;
    free_entry(d, e);
    return 1;
}

dict_entry *dict_unlink(dict *d, const void *key, size_t len)
{
    return unlink_entry(d, key, len);
}

void dict_free_unlinked(dict *d, dict_entry *e)
{
    if (e) free_entry(d, e);
}

/* ------------------------------------------------------------------------
 * Random sampling
 * ---------------------------------------------------------------------- */

static int already_out(dict_entry **out, size_t n, const dict_entry *e)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] == e) return 1;
    return 0;
}

/* Chooses where a sample walk starts: a table picked in proportion to the
 * entries it holds (mid-rehash most of them may sit in either), then a random
 * bucket in its live range (table 0 below rehashidx is already empty). */
static void sample_start(dict *d, uint64_t *rng, int *t, size_t *lo, size_t *i)
{
    *t = 0;
    if (dict_is_rehashing(d) &&
        util_rand64(rng) % dict_size(d) >= d->used[0])
        *t = 1;
    *lo = (*t == 0 && dict_is_rehashing(d)) ? (size_t)d->rehashidx : 0;
    *i = *lo + util_rand64(rng) % (d->size[*t] - *lo);
}

size_t dict_sample(dict *d, dict_entry **out, size_t count, uint64_t *rng)
{
    if (count > dict_size(d)) count = dict_size(d);
    if (count == 0) return 0;
    for (size_t j = 0; j < count && dict_is_rehashing(d); j++) rehash_step(d);

    int t;
    size_t lo, i;
    sample_start(d, rng, &t, &lo, &i);
    size_t stored = 0, empty_run = 0, walked = 0;
    size_t steps = count * 10;
    /* Until we jump or wrap, every bucket is new, so no entry can repeat. */
    int may_repeat = 0;
    while (stored < count && steps-- > 0) {
        dict_entry *e = d->table[t][i];
        if (!e) {
            if (++empty_run >= 5 && empty_run > count) {
                /* A long empty stretch: sample elsewhere instead. */
                sample_start(d, rng, &t, &lo, &i);
                empty_run = 0;
                walked = 0;
                may_repeat = 1;
                continue;
            }
        } else {
            empty_run = 0;
            for (; e && stored < count; e = e->next) {
                if (may_repeat && already_out(out, stored, e)) continue;
                out[stored++] = e;
            }
        }
        if (++i == d->size[t]) i = lo;
        if (++walked >= d->size[t] - lo) may_repeat = 1;
    }
    return stored;
}

/* Picks a random non-empty bucket by probing, then a random chain element.
 * Slow on very sparse tables, so only the fallback of dict_random(). */
static dict_entry *random_probe(dict *d, uint64_t *rng)
{
    dict_entry *he;
    do {
        if (dict_is_rehashing(d)) {
            size_t span = d->size[0] + d->size[1] - (size_t)d->rehashidx;
            size_t h = (size_t)d->rehashidx + util_rand64(rng) % span;
            he = h >= d->size[0] ? d->table[1][h - d->size[0]] : d->table[0][h];
        } else {
            he = d->table[0][util_rand64(rng) & (d->size[0] - 1)];
        }
    } while (!he);
    size_t n = 0;
    for (dict_entry *e = he; e; e = e->next) n++;
    size_t pick = util_rand64(rng) % n;
    while (pick--) he = he->next;
    return he;
}

dict_entry *dict_random(dict *d, uint64_t *rng)
{
    if (dict_size(d) == 0) return NULL;
    rehash_step(d);
    /* Picking from a sample of neighbouring buckets evens out the bias of
     * "random bucket, then random chain element" towards short chains. */
    dict_entry *pool[20];
    size_t n = dict_sample(d, pool, 20, rng);
    if (n == 0) return random_probe(d, rng);
    return pool[util_rand64(rng) % n];
}

/* ------------------------------------------------------------------------
 * SCAN
 * ---------------------------------------------------------------------- */

static inline uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0fULL) | ((v & 0x0f0f0f0f0f0f0f0fULL) << 4);
    return __builtin_bswap64(v);
}

/* Increments the cursor's bits above mask... in reverse: the high bits of
 * the index are the low bits of the cursor, so a table that doubles splits
 * bucket b into b and b|size, which the cursor visits consecutively. */
static inline uint64_t next_cursor(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    v = rev64(v);
    v++;
    return rev64(v);
}

static void emit_bucket(dict_entry *e, dict_scan_fn fn, void *priv)
{
    while (e) {
        dict_entry *next = e->next;
        fn(priv, e);
        e = next;
    }
}

uint64_t dict_scan(dict *d, uint64_t cursor, dict_scan_fn fn, void *priv)
{
    if (dict_size(d) == 0) return 0;
    d->pause++; /* the callback must see a stable bucket layout */
    uint64_t v = cursor;
    if (!dict_is_rehashing(d)) {
        uint64_t m0 = d->size[0] - 1;
        emit_bucket(d->table[0][v & m0], fn, priv);
        v = next_cursor(v, m0);
    } else {
        int small = d->size[0] <= d->size[1] ? 0 : 1;
        int big = 1 - small;
        uint64_t m0 = d->size[small] - 1, m1 = d->size[big] - 1;
        emit_bucket(d->table[small][v & m0], fn, priv);
        /* Then every bucket of the big table that the small bucket
         * expands to: those whose low bits equal v & m0. */
        do {
            emit_bucket(d->table[big][v & m1], fn, priv);
            v = next_cursor(v, m1);
        } while (v & (m0 ^ m1));
    }
    d->pause--;
    return v;
}

static void defrag_bucket(dict_entry **pp, void *(*move)(void *p),
                          void (*visit)(void *priv, dict_entry *e), void *priv)
{
    while (*pp) {
        dict_entry *e = *pp;
        dict_entry *n = move ? move(e) : NULL;
        if (n) *pp = e = n; /* the copy carries next */
        if (visit) visit(priv, e);
        pp = &e->next;
    }
}

uint64_t dict_defrag_scan(dict *d, uint64_t cursor, void *(*move)(void *p),
                          void (*visit)(void *priv, dict_entry *e), void *priv)
{
    if (dict_size(d) == 0 || d->pause) return 0;
    uint64_t v = cursor;
    if (!dict_is_rehashing(d)) {
        uint64_t m0 = d->size[0] - 1;
        defrag_bucket(&d->table[0][v & m0], move, visit, priv);
        v = next_cursor(v, m0);
    } else {
        int small = d->size[0] <= d->size[1] ? 0 : 1;
        int big = 1 - small;
        uint64_t m0 = d->size[small] - 1, m1 = d->size[big] - 1;
        defrag_bucket(&d->table[small][v & m0], move, visit, priv);
        do {
            defrag_bucket(&d->table[big][v & m1], move, visit, priv);
            v = next_cursor(v, m1);
        } while (v & (m0 ^ m1));
    }
    return v;
}

/* ------------------------------------------------------------------------
 * Iterators
 * ---------------------------------------------------------------------- */

/* Mixes the table pointers, sizes and counts: any add/delete/resize changes
 * it, which an unsafe iterator must not see happen under it. */
static uint64_t fingerprint(const dict *d)
{
    uint64_t in[6] = {
        (uint64_t)(uintptr_t)d->table[0], d->size[0], d->used[0],
        (uint64_t)(uintptr_t)d->table[1], d->size[1], d->used[1],
    };
    uint64_t h = 0;
    for (int i = 0; i < 6; i++) {
        h += in[i];
        h = (~h) + (h << 21);
        h ^= h >> 24;
        h = h + (h << 3) + (h << 8);
        h ^= h >> 14;
        h = h + (h << 2) + (h << 4);
        h ^= h >> 28;
        h += h << 31;
    }
    return h;
}

void dict_iter_init(dict_iter *it, dict *d, int safe)
{
    it->d = d;
    it->index = -1;
    it->table = 0;
    it->safe = safe;
    it->entry = NULL;
    it->next_entry = NULL;
    it->fingerprint = 0;
}

dict_entry *dict_iter_next(dict_iter *it)
{
    dict *d = it->d;
    for (;;) {
        if (it->entry == NULL) {
            if (it->index == -1 && it->table == 0) {
                if (it->safe)
                    d->pause++;
                else
                    it->fingerprint = fingerprint(d);
            }
            it->index++;
            if ((size_t)it->index >= d->size[it->table]) {
                if (dict_is_rehashing(d) && it->table == 0) {
                    it->table = 1;
                    it->index = 0;
                    if (d->size[1] == 0) return NULL;
                } else {
                    /* Park past the end so further calls stay at NULL. */
                    it->index = (long)d->size[it->table];
                    return NULL;
                }
            }
            it->entry = d->table[it->table][it->index];
        } else {
            it->entry = it->next_entry;
        }
        if (it->entry) {
            /* Saved now so the caller may delete the entry just returned. */
            it->next_entry = it->entry->next;
            return it->entry;
        }
    }
}

void dict_iter_release(dict_iter *it)
{
    if (it->index == -1 && it->table == 0) return; /* never started */
    if (it->safe) {
        it->d->pause--;
    } else if (it->fingerprint != fingerprint(it->d)) {
        fprintf(stderr, "dict: unsafe iterator saw the dict change\n");
        abort();
    }
}

/* ------------------------------------------------------------------------
 * Snapshot cells
 * ---------------------------------------------------------------------- */

uint64_t dict_hash(const dict *d, const void *key, size_t len)
{
    return hash_key(d, key, len);
}

unsigned dict_table_bits(const dict *d)
{
    size_t n = d->size[0] > d->size[1] ? d->size[0] : d->size[1];
    unsigned b = 0;
    while (((size_t)1 << b) < n) b++;
    return b;
}

size_t dict_visit_cell(dict *d, unsigned bits, uint64_t cell, dict_scan_fn fn, void *priv)
{
    if (dict_size(d) == 0) return 0;
    uint64_t cmask = bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
    size_t n = 0;
    d->pause++;
    for (int t = 0; t <= 1; t++) {
        size_t size = d->size[t];
        if (size == 0) continue;
        if ((uint64_t)size >= cmask + 1) {
            /* The cell spans the buckets whose low bits are the cell. */
            for (uint64_t b = cell; b < size; b += cmask + 1)
                for (dict_entry *e = d->table[t][b], *next; e; e = next) {
                    next = e->next;
                    fn(priv, e);
                    n++;
                }
        } else {
            /* A smaller table: one bucket holds several cells. */
            for (dict_entry *e = d->table[t][cell & (size - 1)], *next; e; e = next) {
                next = e->next;
                if ((hash_key(d, e->key, cbstr_len(e->key)) & cmask) != cell) continue;
                fn(priv, e);
                n++;
            }
        }
    }
    d->pause--;
    return n;
}
