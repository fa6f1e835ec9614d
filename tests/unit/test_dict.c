/* test_dict.c — CUnit tests for store/ds/dict.c: bulk add/find/delete,
 * incremental rehashing (also under a safe iterator with deletes), the SCAN
 * guarantee across grows and shrinks, random/sample, expand/shrink rules,
 * case-insensitive tables and the unsafe-iterator fingerprint check.
 */
#include <CUnit/Basic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../platform/mem.h"
#include "../../platform/util.h"
#include "../../store/ds/dict.h"

static const uint8_t SEED[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static long vals_freed;
static void count_val_free(void *val, void *priv)
{
    (void)priv;
    if (val) vals_freed++;
    cb_free(val);
}

static const dict_type owned = {cbstr_free, count_val_free, 0};
static const dict_type keys_only = {cbstr_free, NULL, 0};
static const dict_type nocase = {cbstr_free, NULL, 1};

static size_t keyname(char *buf, long i)
{
    return (size_t)snprintf(buf, 32, "key:%ld", i);
}

static dict_entry *add(dict *d, long i)
{
    char k[32];
    size_t n = keyname(k, i);
    cbstr key = cbstr_new(k, n);
    dict_entry *e = dict_add_raw(d, key, NULL);
    if (!e) cbstr_free(key);
    return e;
}

static dict_entry *find(dict *d, long i)
{
    char k[32];
    size_t n = keyname(k, i);
    return dict_find(d, k, n);
}

static int del(dict *d, long i)
{
    char k[32];
    size_t n = keyname(k, i);
    return dict_delete(d, k, n);
}

/* Parses the number back out of "key:N". */
static long keynum(const dict_entry *e)
{
    return strtol(e->key + 4, NULL, 10);
}

static void test_bulk(void)
{
    long long mem0 = mem_used_thread();
    const long N = 100000;
    dict *d = dict_create(&keys_only, NULL, SEED);
    CU_ASSERT_EQUAL(dict_size(d), 0);
    CU_ASSERT_PTR_NULL(find(d, 1));
    for (long i = 0; i < N; i++) {
        dict_entry *e = add(d, i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        e->v.s64 = i * 3;
    }
    CU_ASSERT_EQUAL(dict_size(d), (size_t)N);
    long bad = 0;
    for (long i = 0; i < N; i++) {
        dict_entry *e = find(d, i);
        if (!e || e->v.s64 != i * 3 || keynum(e) != i) bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_PTR_NULL(find(d, N));
    CU_ASSERT_PTR_NULL(find(d, -1));

    /* Duplicates are refused and the existing entry is reported. */
    char k[32];
    size_t n = keyname(k, 77);
    cbstr dup = cbstr_new(k, n);
    dict_entry *existing = NULL;
    CU_ASSERT_PTR_NULL(dict_add_raw(d, dup, &existing));
    CU_ASSERT_PTR_NOT_NULL(existing);
    CU_ASSERT_EQUAL(existing->v.s64, 77 * 3);
    cbstr_free(dup);

    for (long i = 0; i < N; i += 2) CU_ASSERT_EQUAL_FATAL(del(d, i), 1);
    CU_ASSERT_EQUAL(del(d, 0), 0);
    CU_ASSERT_EQUAL(dict_size(d), (size_t)N / 2);
    bad = 0;
    for (long i = 0; i < N; i++) {
        dict_entry *e = find(d, i);
        if ((i % 2 == 0) != (e == NULL)) bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    while (dict_rehash_steps(d, 1000)) {
    }
    CU_ASSERT_FALSE(dict_is_rehashing(d));
    CU_ASSERT(dict_mem_overhead(d) >= dict_size(d) * sizeof(dict_entry));
    dict_release(d);
    CU_ASSERT_EQUAL(mem_used_thread(), mem0);
}

static void test_values_and_unlink(void)
{
    vals_freed = 0;
    dict *d = dict_create(&owned, NULL, SEED);
    for (long i = 0; i < 50; i++) add(d, i)->v.val = cb_strdup("v");
    CU_ASSERT_EQUAL(del(d, 3), 1);
    CU_ASSERT_EQUAL(vals_freed, 1);

    char k[32];
    size_t n = keyname(k, 4);
    dict_entry *e = dict_unlink(d, k, n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_PTR_NULL(dict_find(d, k, n));
    CU_ASSERT_EQUAL(dict_size(d), 48);
    CU_ASSERT_EQUAL(vals_freed, 1); /* not freed until asked */
    dict_free_unlinked(d, e);
    CU_ASSERT_EQUAL(vals_freed, 2);
    CU_ASSERT_PTR_NULL(dict_unlink(d, k, n));

    dict_clear(d);
    CU_ASSERT_EQUAL(vals_freed, 50);
    CU_ASSERT_EQUAL(dict_size(d), 0);
    CU_ASSERT_EQUAL(dict_buckets(d), 0);
    CU_ASSERT_PTR_NOT_NULL(add(d, 1)); /* still usable */
    CU_ASSERT_PTR_NOT_NULL(find(d, 1));
    dict_release(d);
}

static void test_nocase(void)
{
    dict *d = dict_create(&nocase, NULL, SEED);
    CU_ASSERT_PTR_NOT_NULL(dict_add_raw(d, cbstr_from_cstr("GET"), NULL));
    CU_ASSERT_PTR_NOT_NULL(dict_add_raw(d, cbstr_from_cstr("client|kill"), NULL));
    CU_ASSERT_PTR_NOT_NULL(dict_find(d, "get", 3));
    CU_ASSERT_PTR_NOT_NULL(dict_find(d, "GeT", 3));
    CU_ASSERT_PTR_NOT_NULL(dict_find(d, "CLIENT|KILL", 11));
    CU_ASSERT_PTR_NULL(dict_find(d, "GETX", 4));
    cbstr k = cbstr_from_cstr("get");
    dict_entry *ex = NULL;
    CU_ASSERT_PTR_NULL(dict_add_raw(d, k, &ex));
    CU_ASSERT_PTR_NOT_NULL_FATAL(ex);
    CU_ASSERT_STRING_EQUAL(ex->key, "GET");
    cbstr_free(k);
    CU_ASSERT_EQUAL(dict_delete(d, "gEt", 3), 1);
    CU_ASSERT_EQUAL(dict_size(d), 1);
    dict_release(d);

    /* A case-sensitive dict keeps them apart. */
    d = dict_create(&owned, NULL, SEED);
    dict_add_raw(d, cbstr_from_cstr("GET"), NULL);
    CU_ASSERT_PTR_NULL(dict_find(d, "get", 3));
    CU_ASSERT_PTR_NOT_NULL(dict_add_raw(d, cbstr_from_cstr("get"), NULL));
    dict_release(d);
}

/* Adds keys until the dict starts a rehash; returns how many it holds. */
static long fill_until_rehashing(dict *d, long start)
{
    long i = start;
    while (!dict_is_rehashing(d)) add(d, i++);
    return i;
}

static void test_safe_iter_rehash_delete(void)
{
    dict *d = dict_create(&owned, NULL, SEED);
    long n = fill_until_rehashing(d, 0);
    while (dict_is_rehashing(d)) dict_rehash_steps(d, 1000);
    n = fill_until_rehashing(d, n); /* now mid-rehash with entries in both */
    dict_rehash_steps(d, 3);
    CU_ASSERT_TRUE_FATAL(dict_is_rehashing(d));
    size_t buckets = dict_buckets(d);

    char *seen = calloc((size_t)n, 1);
    dict_iter it;
    dict_iter_init(&it, d, 1);
    dict_entry *e;
    long visited = 0, deleted = 0;
    while ((e = dict_iter_next(&it)) != NULL) {
        long k = keynum(e);
        CU_ASSERT_FATAL(k >= 0 && k < n);
        CU_ASSERT_EQUAL(seen[k], 0);
        seen[k] = 1;
        visited++;
        /* Lookups would normally move a bucket; a safe iterator pauses it. */
        CU_ASSERT_PTR_NOT_NULL(find(d, k));
        if (k % 3 == 0) {
            CU_ASSERT_EQUAL(del(d, k), 1); /* delete the entry just returned */
            deleted++;
        }
        CU_ASSERT_EQUAL(dict_buckets(d), buckets);
        CU_ASSERT_TRUE(dict_is_rehashing(d));
    }
    CU_ASSERT_PTR_NULL(dict_iter_next(&it)); /* stays at the end */
    dict_iter_release(&it);
    CU_ASSERT_EQUAL(visited, n);
    CU_ASSERT_EQUAL(dict_size(d), (size_t)(n - deleted));
    for (long k = 0; k < n; k++) CU_ASSERT_EQUAL((find(d, k) == NULL), (k % 3 == 0));
    /* After release, lookups resume the rehash. */
    for (long k = 0; k < 10 * n && dict_is_rehashing(d); k++) find(d, 1);
    CU_ASSERT_FALSE(dict_is_rehashing(d));
    free(seen);
    dict_release(d);
}

static void test_unsafe_iter(void)
{
    dict *d = dict_create(&owned, NULL, SEED);
    for (long i = 0; i < 1000; i++) add(d, i);
    dict_iter it;
    dict_iter_init(&it, d, 0);
    long count = 0;
    while (dict_iter_next(&it)) count++;
    dict_iter_release(&it);
    CU_ASSERT_EQUAL(count, 1000);

    /* An empty dict iterates nothing; an unstarted iterator releases. */
    dict *e = dict_create(&owned, NULL, SEED);
    dict_iter_init(&it, e, 1);
    CU_ASSERT_PTR_NULL(dict_iter_next(&it));
    dict_iter_release(&it);
    dict_iter_init(&it, e, 0);
    dict_iter_release(&it);
    dict_release(e);

    /* Modifying under an unsafe iterator aborts at release. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(1); /* expected message */
        dict_iter_init(&it, d, 0);
        dict_iter_next(&it);
        add(d, 5000);
        dict_iter_release(&it);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    dict_release(d);
}

struct scan_state {
    char *seen;
    long max;
};

static void scan_cb(void *priv, const dict_entry *e)
{
    struct scan_state *st = priv;
    long k = keynum(e);
    if (k >= 0 && k < st->max) st->seen[k] = 1;
}

static int total_shrinks;

/* One full SCAN while the table grows, shrinks and rehashes under it. */
static void scan_with_churn(uint64_t rngseed)
{
    const long STABLE = 300, CHURN = 6000, MAX = 20000;
    dict *d = dict_create(&owned, NULL, SEED);
    uint64_t rng = rngseed;
    for (long i = 0; i < STABLE; i++) add(d, i);
    struct scan_state st = {calloc(MAX, 1), MAX};
    long next_churn = STABLE;
    uint64_t cursor = 0;
    int steps = 0, grows = 0, shrinks = 0;
    do {
        cursor = dict_scan(d, cursor, scan_cb, &st);
        steps++;
        switch (util_rand64(&rng) % 40) {
        case 0: /* burst of adds: the table grows */
            for (long j = 0; j < CHURN / 4 && next_churn < MAX; j++) add(d, next_churn++);
            if (next_churn >= MAX) { /* full: drop them all (no shrink) */
                for (long j = STABLE; j < next_churn; j++) del(d, j);
                next_churn = STABLE;
            }
            grows++;
            break;
        case 1: { /* drop every churn key, then shrink */
            for (long j = STABLE; j < next_churn; j++) del(d, j);
            next_churn = STABLE;
            while (dict_rehash_steps(d, 100000)) {
            }
            if (dict_shrink_if_sparse(d)) shrinks++;
            break;
        }
        case 2: /* leave it mid-rehash */
            dict_rehash_steps(d, (int)(util_rand64(&rng) % 8));
            break;
        case 3:
            dict_expand(d, dict_size(d) * 4);
            break;
        default:
            break;
        }
    } while (cursor != 0 && steps < 1000000);
    total_shrinks += shrinks;
    CU_ASSERT_EQUAL(cursor, 0);
    long missing = 0;
    for (long i = 0; i < STABLE; i++)
        if (!st.seen[i]) missing++;
    CU_ASSERT_EQUAL(missing, 0);
    CU_ASSERT(grows > 0);
    CU_ASSERT(shrinks > 0 || steps < 200);
    free(st.seen);
    dict_release(d);
}

static void test_scan_guarantee(void)
{
    for (uint64_t s = 1; s <= 20; s++) scan_with_churn(s * 0x9e3779b97f4a7c15ULL);
    CU_ASSERT(total_shrinks >= 20);

    /* A quiet table: every key exactly once-or-more, cursor ends at 0. */
    dict *d = dict_create(&owned, NULL, SEED);
    for (long i = 0; i < 5000; i++) add(d, i);
    struct scan_state st = {calloc(5000, 1), 5000};
    uint64_t c = 0;
    long calls = 0;
    do {
        c = dict_scan(d, c, scan_cb, &st);
        calls++;
    } while (c);
    long missing = 0;
    for (long i = 0; i < 5000; i++) missing += !st.seen[i];
    CU_ASSERT_EQUAL(missing, 0);
    CU_ASSERT(calls <= (long)dict_buckets(d));
    free(st.seen);

    /* Explicit shrink between steps: big table, delete most, shrink. */
    dict_clear(d);
    for (long i = 0; i < 20000; i++) add(d, i);
    while (dict_rehash_steps(d, 100000)) {
    }
    st.seen = calloc(20000, 1);
    st.max = 20000;
    c = dict_scan(d, 0, scan_cb, &st);
    c = dict_scan(d, c, scan_cb, &st);
    for (long i = 100; i < 20000; i++) del(d, i);
    while (dict_rehash_steps(d, 100000)) {
    }
    CU_ASSERT_TRUE(dict_shrink_if_sparse(d));
    dict_rehash_steps(d, 2); /* scan while shrinking */
    while (c) c = dict_scan(d, c, scan_cb, &st);
    missing = 0;
    for (long i = 0; i < 100; i++) missing += !st.seen[i];
    CU_ASSERT_EQUAL(missing, 0);
    free(st.seen);

    dict_clear(d);
    CU_ASSERT_EQUAL(dict_scan(d, 0, scan_cb, &st), 0); /* empty: done */
    dict_release(d);
}

static void test_random_sample(void)
{
    uint64_t rng = 12345;
    dict *d = dict_create(&owned, NULL, SEED);
    CU_ASSERT_PTR_NULL(dict_random(d, &rng));
    dict_entry *out[64];
    CU_ASSERT_EQUAL(dict_sample(d, out, 10, &rng), 0);

    add(d, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dict_random(d, &rng));
    CU_ASSERT_EQUAL(keynum(dict_random(d, &rng)), 0);
    CU_ASSERT_EQUAL(dict_sample(d, out, 10, &rng), 1);

    add(d, 1);
    add(d, 2);
    int hits[3] = {0};
    for (int i = 0; i < 3000; i++) hits[keynum(dict_random(d, &rng))]++;
    for (int i = 0; i < 3; i++) CU_ASSERT(hits[i] > 600);
    CU_ASSERT_EQUAL(dict_sample(d, out, 64, &rng), 3);
    CU_ASSERT(out[0] != out[1] && out[1] != out[2] && out[0] != out[2]);

    /* Big table, also while rehashing. */
    for (long i = 3; i < 10000; i++) add(d, i);
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            CU_ASSERT_EQUAL(dict_expand(d, 100000), 0);
            CU_ASSERT_TRUE(dict_is_rehashing(d));
        }
        for (int t = 0; t < 200; t++) {
            size_t n = dict_sample(d, out, 16, &rng);
            /* Dense table: a full sample. Mid-grow the walk spans the big,
             * sparse table and may stop early (10 buckets per wanted key). */
            if (round == 0) {
                CU_ASSERT_EQUAL(n, 16);
            } else {
                CU_ASSERT(n >= 1 && n <= 16);
            }
            for (size_t i = 0; i < n; i++) {
                CU_ASSERT_PTR_EQUAL(find(d, keynum(out[i])), out[i]);
                for (size_t j = 0; j < i; j++) CU_ASSERT(out[i] != out[j]);
            }
            dict_entry *r = dict_random(d, &rng);
            CU_ASSERT_PTR_EQUAL(find(d, keynum(r)), r);
        }
    }
    /* Sparse table (no shrink allowed): samples stay duplicate-free and
     * random still finds the survivors. */
    while (dict_rehash_steps(d, 100000)) {
    }
    for (long i = 0; i < 10000; i++)
        if (i % 1000) del(d, i);
    CU_ASSERT_EQUAL(dict_size(d), 10);
    int seen[10] = {0};
    for (int t = 0; t < 300; t++) {
        size_t n = dict_sample(d, out, 5, &rng);
        CU_ASSERT(n <= 5);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++) CU_ASSERT(out[i] != out[j]);
        seen[keynum(dict_random(d, &rng)) / 1000]++;
    }
    for (int i = 0; i < 10; i++) CU_ASSERT(seen[i] > 0);
    dict_release(d);
}

static void test_expand_shrink(void)
{
    dict *d = dict_create(&owned, NULL, SEED);
    CU_ASSERT_EQUAL(dict_expand(d, 1000), 0);
    CU_ASSERT_EQUAL(dict_buckets(d), 1024);
    CU_ASSERT_FALSE(dict_is_rehashing(d));
    for (long i = 0; i < 1000; i++) add(d, i);
    CU_ASSERT_EQUAL(dict_buckets(d), 1024); /* no resize needed */
    CU_ASSERT_EQUAL(dict_expand(d, 500), 0); /* already fits */
    CU_ASSERT_EQUAL(dict_expand(d, 5000), 0);
    CU_ASSERT_TRUE(dict_is_rehashing(d));
    CU_ASSERT_EQUAL(dict_buckets(d), 1024 + 8192);
    CU_ASSERT_EQUAL(dict_expand(d, 100000), -1); /* busy */
    CU_ASSERT_EQUAL(dict_rehash_us(d, 1000000), 0);
    CU_ASSERT_FALSE(dict_is_rehashing(d));
    CU_ASSERT_EQUAL(dict_buckets(d), 8192);

    /* Shrink only when under 10% full. */
    for (long i = 0; i < 1000; i++)
        if (i >= 820) del(d, i); /* 820 of 8192 is just above 10% */
    CU_ASSERT_EQUAL(dict_shrink_if_sparse(d), 0);
    del(d, 819); /* 819/8192 < 10% */
    CU_ASSERT_EQUAL(dict_shrink_if_sparse(d), 1);
    CU_ASSERT_EQUAL(dict_shrink_if_sparse(d), 0); /* already rehashing */
    while (dict_rehash_steps(d, 100)) {
    }
    CU_ASSERT_EQUAL(dict_buckets(d), 1024);
    for (long i = 0; i < 819; i++) CU_ASSERT_PTR_NOT_NULL(find(d, i));
    for (long i = 0; i < 819; i++) del(d, i);
    CU_ASSERT_EQUAL(dict_shrink_if_sparse(d), 1);
    while (dict_rehash_steps(d, 100)) {
    }
    CU_ASSERT_EQUAL(dict_buckets(d), 4); /* the minimum */
    CU_ASSERT_EQUAL(dict_shrink_if_sparse(d), 0);
    dict_release(d);

    /* Resize disallowed: no growth until the fill ratio passes 5. */
    d = dict_create(&owned, NULL, SEED);
    dict_set_resize_allowed(d, 0);
    for (long i = 0; i < 24; i++) add(d, i);
    CU_ASSERT_EQUAL(dict_buckets(d), 4);
    add(d, 24);
    CU_ASSERT_TRUE(dict_is_rehashing(d));
    CU_ASSERT_EQUAL(dict_buckets(d), 4 + 32);
    while (dict_rehash_steps(d, 100)) {
    }
    for (long i = 0; i < 28; i++) del(d, i);
    CU_ASSERT_EQUAL(dict_shrink_if_sparse(d), 0); /* disallowed */
    dict_set_resize_allowed(d, 1);
    add(d, 1);
    CU_ASSERT_EQUAL(dict_shrink_if_sparse(d), 1);
    dict_release(d);

    /* Normal growth doubles when used reaches size. */
    d = dict_create(&owned, NULL, SEED);
    for (long i = 0; i < 4; i++) add(d, i);
    CU_ASSERT_EQUAL(dict_buckets(d), 4);
    add(d, 4);
    CU_ASSERT_EQUAL(dict_buckets(d), 4 + 8);
    dict_release(d);
}

static void test_rehash_us(void)
{
    dict *d = dict_create(&owned, NULL, SEED);
    for (long i = 0; i < 50000; i++) add(d, i);
    dict_expand(d, 1 << 20);
    CU_ASSERT_TRUE(dict_is_rehashing(d));
    int rounds = 0;
    while (dict_rehash_us(d, 100)) rounds++;
    CU_ASSERT_FALSE(dict_is_rehashing(d));
    CU_ASSERT_EQUAL(dict_size(d), 50000);
    for (long i = 0; i < 50000; i += 97) CU_ASSERT_PTR_NOT_NULL(find(d, i));
    /* Paused by a safe iterator: nothing moves. */
    dict_expand(d, 1 << 21);
    dict_iter it;
    dict_iter_init(&it, d, 1);
    dict_iter_next(&it);
    size_t b = dict_buckets(d);
    CU_ASSERT_EQUAL(dict_rehash_us(d, 1000), 0);
    CU_ASSERT_TRUE(dict_is_rehashing(d));
    CU_ASSERT_EQUAL(dict_buckets(d), b);
    dict_iter_release(&it);
    while (dict_rehash_us(d, 1000)) {
    }
    CU_ASSERT_FALSE(dict_is_rehashing(d));
    dict_release(d);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite s = CU_add_suite("dict", NULL, NULL);
    CU_add_test(s, "bulk_100k", test_bulk);
    CU_add_test(s, "values_and_unlink", test_values_and_unlink);
    CU_add_test(s, "nocase", test_nocase);
    CU_add_test(s, "safe_iter_rehash_delete", test_safe_iter_rehash_delete);
    CU_add_test(s, "unsafe_iter", test_unsafe_iter);
    CU_add_test(s, "scan_guarantee", test_scan_guarantee);
    CU_add_test(s, "random_sample", test_random_sample);
    CU_add_test(s, "expand_shrink", test_expand_shrink);
    CU_add_test(s, "rehash_us", test_rehash_us);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
