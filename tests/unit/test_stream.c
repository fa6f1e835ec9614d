/* test_stream.c — CUnit tests for store/ds/stream.c: append and iteration
 * in both directions (across node boundaries, with same-field and
 * different-field entries), deletion and tombstones, node grouping by
 * entries and by Redis listpack bytes, exact and approximate trimming, the
 * listpack size model, and a randomized run against a plain array model.
 */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../platform/mem.h"
#include "../../store/ds/stream.h"

static void add(stream *s, uint64_t ms, uint64_t seq, const char *f, const char *v,
                long long maxb, long long maxe)
{
    stream_id id = {ms, seq};
    const char *kv[2] = {f, v};
    size_t kl[2] = {strlen(f), strlen(v)};
    stream_append(s, &id, kv, kl, 1, maxb, maxe);
}

static long count_range(const stream *s, uint64_t a, uint64_t b, int rev)
{
    stream_id lo = {a, 0}, hi = {b, UINT64_MAX};
    stream_iter it;
    stream_iter_init(&it, s, &lo, &hi, rev);
    long n = 0;
    stream_id prev = {0, 0};
    while (stream_iter_next(&it)) {
        if (n) CU_ASSERT(rev ? stream_id_cmp(&it.id, &prev) < 0 : stream_id_cmp(&it.id, &prev) > 0);
        prev = it.id;
        n++;
    }
    stream_iter_release(&it);
    return n;
}

static void test_lp_sizes(void)
{
    CU_ASSERT_EQUAL(stream_lp_int_size(0), 2);
    CU_ASSERT_EQUAL(stream_lp_int_size(127), 2);
    CU_ASSERT_EQUAL(stream_lp_int_size(128), 3);
    CU_ASSERT_EQUAL(stream_lp_int_size(-4096), 3);
    CU_ASSERT_EQUAL(stream_lp_int_size(40000), 5);
    CU_ASSERT_EQUAL(stream_lp_int_size(INT64_MAX), 10);
    CU_ASSERT_EQUAL(stream_lp_str_size("12", 2), 2);
    CU_ASSERT_EQUAL(stream_lp_str_size("012", 3), 5);
    CU_ASSERT_EQUAL(stream_lp_str_size("-0", 2), 4);
    CU_ASSERT_EQUAL(stream_lp_str_size("", 0), 2);
    char big[200];
    memset(big, 'a', sizeof big);
    CU_ASSERT_EQUAL(stream_lp_str_size(big, 200), 202 + 2);
    CU_ASSERT_EQUAL(stream_lp_str_size(big, 63), 65);
}

static void test_append_iter(void)
{
    stream *s = stream_new();
    for (uint64_t i = 1; i <= 250; i++) {
        if (i % 7 == 0) {
            stream_id id = {i, 0};
            const char *kv[4] = {"x", "1", "y", "22"};
            size_t kl[4] = {1, 1, 1, 2};
            stream_append(s, &id, kv, kl, 2, 4096, 100);
        } else {
            add(s, i, 0, "f", "v", 4096, 100);
        }
    }
    CU_ASSERT_EQUAL(s->length, 250);
    CU_ASSERT_EQUAL(s->nnodes, 3);
    CU_ASSERT_EQUAL(count_range(s, 0, UINT64_MAX, 0), 250);
    CU_ASSERT_EQUAL(count_range(s, 0, UINT64_MAX, 1), 250);
    CU_ASSERT_EQUAL(count_range(s, 95, 105, 0), 11);
    CU_ASSERT_EQUAL(count_range(s, 95, 105, 1), 11);
    CU_ASSERT_EQUAL(count_range(s, 300, 400, 1), 0);
    CU_ASSERT_EQUAL(count_range(s, 5, 4, 0), 0);
    stream_id lo = {14, 0}, hi = {14, 0};
    stream_iter it;
    stream_iter_init(&it, s, &lo, &hi, 0);
    CU_ASSERT(stream_iter_next(&it));
    CU_ASSERT_EQUAL(it.npairs, 2);
    CU_ASSERT_EQUAL(it.kvlen[3], 2);
    CU_ASSERT(memcmp(it.kv[3], "22", 2) == 0);
    CU_ASSERT_FALSE(stream_iter_next(&it));
    stream_iter_release(&it);
    stream *d = stream_dup(s);
    stream_free(s);
    CU_ASSERT_EQUAL(count_range(d, 0, UINT64_MAX, 1), 250);
    CU_ASSERT(stream_mem(d) > 250);
    stream_free(d);
}

static void test_delete(void)
{
    stream *s = stream_new();
    for (uint64_t i = 1; i <= 10; i++) add(s, i, 0, "f", "v", 4096, 5);
    CU_ASSERT_EQUAL(s->nnodes, 2);
    stream_id id = {3, 0};
    CU_ASSERT(stream_delete(s, &id));
    CU_ASSERT_FALSE(stream_delete(s, &id));
    id.ms = 99;
    CU_ASSERT_FALSE(stream_delete(s, &id));
    CU_ASSERT_EQUAL(s->length, 9);
    for (uint64_t i = 6; i <= 10; i++) {
        id.ms = i;
        CU_ASSERT(stream_delete(s, &id));
    }
    CU_ASSERT_EQUAL(s->nnodes, 1); /* the emptied node goes */
    stream_id e;
    CU_ASSERT(stream_edge_id(s, 0, &e));
    CU_ASSERT_EQUAL(e.ms, 5);
    CU_ASSERT(stream_edge_id(s, 1, &e));
    CU_ASSERT_EQUAL(e.ms, 1);
    CU_ASSERT_EQUAL(count_range(s, 0, UINT64_MAX, 1), 4);
    stream_free(s);
}

static void test_grouping_bytes(void)
{
    stream *s = stream_new();
    char v[101];
    memset(v, 'q', 100);
    v[100] = 0;
    for (uint64_t i = 1; i <= 100; i++) add(s, i, 0, "f", v, 4096, 100);
    /* ~106 listpack bytes an entry: a node closes before 4096 bytes. */
    CU_ASSERT(s->nnodes >= 3);
    for (size_t i = 0; i < s->nnodes; i++) CU_ASSERT(s->nodes[i]->live <= 40);
    stream_free(s);
    s = stream_new();
    for (uint64_t i = 1; i <= 30; i++) add(s, i, 0, "f", "v", 0, 0);
    CU_ASSERT_EQUAL(s->nnodes, 1);
    stream_free(s);
}

static void test_trim(void)
{
    stream *s = stream_new();
    for (uint64_t i = 1; i <= 250; i++) add(s, i, 0, "f", "v", 4096, 100);
    CU_ASSERT_EQUAL(stream_trim(s, STREAM_TRIM_MAXLEN, 140, NULL, 1, 10000), 100);
    CU_ASSERT_EQUAL(stream_trim(s, STREAM_TRIM_MAXLEN, 140, NULL, 1, 10000), 0);
    CU_ASSERT_EQUAL(stream_trim(s, STREAM_TRIM_MAXLEN, 140, NULL, 0, 0), 10);
    CU_ASSERT_EQUAL(s->length, 140);
    CU_ASSERT_EQUAL(s->first_id.ms, 111);
    stream_id min = {200, 0};
    CU_ASSERT_EQUAL(stream_trim(s, STREAM_TRIM_MINID, 0, &min, 1, 50), 0); /* over limit */
    CU_ASSERT_EQUAL(stream_trim(s, STREAM_TRIM_MINID, 0, &min, 0, 0), 89);
    CU_ASSERT_EQUAL(s->first_id.ms, 200);
    CU_ASSERT_EQUAL(stream_trim(s, STREAM_TRIM_MAXLEN, 0, NULL, 0, 0), 51);
    CU_ASSERT_EQUAL(s->length, 0);
    CU_ASSERT_EQUAL(s->nnodes, 0);
    CU_ASSERT_EQUAL(s->first_id.ms, 0);
    CU_ASSERT_EQUAL(stream_trim(s, STREAM_TRIM_NONE, 0, NULL, 0, 0), 0);
    stream_free(s);
}

/* Random appends, deletes and trims against a sorted array of IDs. */
static void test_random_model(void)
{
    srand(7);
    for (int round = 0; round < 20; round++) {
        stream *s = stream_new();
        uint64_t *m = cb_malloc(3000 * sizeof(*m));
        size_t n = 0;
        uint64_t next = 1;
        for (int op = 0; op < 3000; op++) {
            int r = rand() % 10;
            if (r < 6 && n < 3000) {
                next += 1 + (uint64_t)(rand() % 3);
                char val[64];
                int vl = rand() % 60;
                memset(val, 'a' + rand() % 20, (size_t)vl);
                val[vl] = 0;
                add(s, next, 0, rand() % 2 ? "f" : "g", val, 200 + rand() % 400, 1 + rand() % 20);
                m[n++] = next;
            } else if (r < 9 && n) {
                size_t k = (size_t)rand() % n;
                stream_id id = {m[k], 0};
                CU_ASSERT(stream_delete(s, &id));
                memmove(m + k, m + k + 1, (n - k - 1) * sizeof(*m));
                n--;
            } else if (n) {
                long long keep = rand() % (long long)(n + 1);
                stream_trim(s, STREAM_TRIM_MAXLEN, keep, NULL, 0, 0);
                memmove(m, m + (n - (size_t)keep), (size_t)keep * sizeof(*m));
                n = (size_t)keep;
            }
            CU_ASSERT_EQUAL(s->length, n);
        }
        stream_iter it;
        stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
        stream_iter_init(&it, s, &lo, &hi, 1);
        size_t k = n;
        while (stream_iter_next(&it)) {
            CU_ASSERT(k > 0 && it.id.ms == m[k - 1]);
            if (k) k--;
        }
        CU_ASSERT_EQUAL(k, 0);
        stream_iter_release(&it);
        cb_free(m);
        stream_free(s);
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite su = CU_add_suite("stream", NULL, NULL);
    CU_add_test(su, "listpack sizes", test_lp_sizes);
    CU_add_test(su, "append and iterate", test_append_iter);
    CU_add_test(su, "delete", test_delete);
    CU_add_test(su, "grouping by bytes", test_grouping_bytes);
    CU_add_test(su, "trim", test_trim);
    CU_add_test(su, "random vs model", test_random_model);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned f = CU_get_number_of_failures();
    CU_cleanup_registry();
    return f ? 1 : 0;
}
