/* test_quicklist.c — CUnit tests for store/ds/lpack.c (the node format:
 * encodings, walking both ways, edits, validation of corrupt buffers) and
 * store/ds/quicklist.c (a model-based random walk over every operation
 * with several fill and compression settings, checking the structure and
 * the compression invariant after each step).
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../platform/mem.h"
#include "../../store/ds/lpack.h"
#include "../../store/ds/quicklist.h"

/* ------------------------------------------------------------- lpack */

static int val_is(unsigned char *p, const char *s, size_t len)
{
    lp_val v;
    lp_get(p, &v);
    char buf[32];
    size_t n;
    const char *t = lp_str(&v, buf, &n);
    return n == len && memcmp(t, s, len) == 0;
}

static void test_lp_encodings(void)
{
    static const char *const vals[] = {
        "0", "1", "127", "128", "-1", "-128", "32767", "32768", "-32768", "-32769",
        "2147483647", "2147483648", "-2147483649", "9223372036854775807",
        "-9223372036854775808", "9223372036854775808", "01", "-0", "+1", " 1", "",
        "abc", "1.5",
    };
    size_t nv = sizeof vals / sizeof vals[0];
    unsigned char *lp = lp_new();
    for (size_t i = 0; i < nv; i++) lp = lp_append(lp, vals[i], strlen(vals[i]));
    CU_ASSERT_EQUAL(lp_count(lp), nv);
    CU_ASSERT(lp_validate(lp, lp_bytes(lp)));
    unsigned char *p = lp_first(lp);
    for (size_t i = 0; i < nv; i++, p = lp_next(lp, p)) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT(val_is(p, vals[i], strlen(vals[i])));
        CU_ASSERT(lp_eq(p, vals[i], strlen(vals[i])));
    }
    CU_ASSERT_PTR_NULL(p);
    /* Backwards gives the same entries. */
    p = lp_last(lp);
    for (size_t i = nv; i-- > 0; p = lp_prev(lp, p)) CU_ASSERT(val_is(p, vals[i], strlen(vals[i])));
    CU_ASSERT_PTR_NULL(p);
    /* Small integers take one byte plus back length. */
    CU_ASSERT_EQUAL(lp_entry_size("5", 1), 2);
    CU_ASSERT_EQUAL(lp_entry_size("-5", 2), 4);
    lp_free(lp);
}

static void test_lp_long_strings(void)
{
    size_t sizes[] = {63, 64, 126, 127, 128, 200, 8191, 8192, 16383, 16384, 70000};
    unsigned char *lp = lp_new();
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *s = cb_malloc(sizes[i]);
        memset(s, 'a' + (int)i, sizes[i]);
        lp = lp_prepend(lp, s, sizes[i]);
        cb_free(s);
    }
    CU_ASSERT(lp_validate(lp, lp_bytes(lp)));
    long idx = 0;
    for (size_t i = sizeof sizes / sizeof sizes[0]; i-- > 0; idx++) {
        unsigned char *p = lp_seek(lp, idx);
        lp_val v;
        lp_get(p, &v);
        CU_ASSERT_EQUAL(v.len, sizes[i]);
        CU_ASSERT(v.s && v.s[0] == 'a' + (int)i && v.s[v.len - 1] == 'a' + (int)i);
        CU_ASSERT_PTR_EQUAL(lp_seek(lp, idx - (long)lp_count(lp)), p);
    }
    CU_ASSERT_PTR_NULL(lp_seek(lp, idx));
    CU_ASSERT_PTR_NULL(lp_seek(lp, -idx - 1));
    lp_free(lp);
}

static void test_lp_edits(void)
{
    unsigned char *lp = lp_new();
    CU_ASSERT_PTR_NULL(lp_first(lp));
    CU_ASSERT_PTR_NULL(lp_last(lp));
    for (int i = 0; i < 10; i++) {
        char b[8];
        int n = snprintf(b, sizeof b, "e%d", i);
        lp = lp_append(lp, b, (size_t)n);
    }
    lp = lp_replace_at(lp, (size_t)(lp_seek(lp, 3) - lp), "a much longer replacement value", 31);
    lp = lp_replace_at(lp, (size_t)(lp_seek(lp, 4) - lp), "7", 1);
    CU_ASSERT(val_is(lp_seek(lp, 3), "a much longer replacement value", 31));
    CU_ASSERT(val_is(lp_seek(lp, 4), "7", 1));
    CU_ASSERT(val_is(lp_seek(lp, 5), "e5", 2));
    lp = lp_delete_range(lp, 2, 3);
    CU_ASSERT_EQUAL(lp_count(lp), 7);
    CU_ASSERT(val_is(lp_seek(lp, 2), "e5", 2));
    lp = lp_delete_range(lp, -1, 100);
    CU_ASSERT_EQUAL(lp_count(lp), 6);
    unsigned char *sl = lp_slice(lp, 1, 3);
    CU_ASSERT_EQUAL(lp_count(sl), 3);
    CU_ASSERT(val_is(lp_first(sl), "e1", 2));
    lp = lp_merge(lp, sl);
    CU_ASSERT_EQUAL(lp_count(lp), 9);
    CU_ASSERT(val_is(lp_last(lp), "e6", 2));
    CU_ASSERT(lp_validate(lp, lp_bytes(lp)));
    lp = lp_delete_range(lp, 0, 9);
    CU_ASSERT_EQUAL(lp_count(lp), 0);
    CU_ASSERT_EQUAL(lp_bytes(lp), LP_HDR);
    lp_free(lp);
    lp_free(sl);
}

static void test_lp_corrupt(void)
{
    unsigned char *lp = lp_new();
    lp = lp_append(lp, "hello", 5);
    lp = lp_append(lp, "12345", 5);
    char big[300];
    memset(big, 'z', sizeof big);
    lp = lp_append(lp, big, sizeof big);
    size_t n = lp_bytes(lp);
    CU_ASSERT(lp_validate(lp, n));
    CU_ASSERT_FALSE(lp_validate(NULL, 0));
    CU_ASSERT_FALSE(lp_validate(lp, 4));
    CU_ASSERT_FALSE(lp_validate(lp, n - 1)); /* size disagrees */
    unsigned char *c = cb_malloc(n);
    /* Truncated buffer whose header claims the shorter size. */
    memcpy(c, lp, n);
    c[0] = (unsigned char)(n - 3);
    CU_ASSERT_FALSE(lp_validate(c, n - 3));
    /* Wrong count. */
    memcpy(c, lp, n);
    c[4] = 2;
    CU_ASSERT_FALSE(lp_validate(c, n));
    /* Invalid encoding byte. */
    memcpy(c, lp, n);
    c[LP_HDR] = 0xF7;
    CU_ASSERT_FALSE(lp_validate(c, n));
    /* Bad back length. */
    memcpy(c, lp, n);
    c[LP_HDR + 6] ^= 1;
    CU_ASSERT_FALSE(lp_validate(c, n));
    /* String length running past the end. */
    memcpy(c, lp, n);
    c[LP_HDR] = 0xE0;
    c[LP_HDR + 1] = 0xff;
    c[LP_HDR + 2] = 0xff;
    CU_ASSERT_FALSE(lp_validate(c, n));
    /* Random bit flips: validation must never read out of bounds (ASan). */
    srand(7);
    for (int k = 0; k < 20000; k++) {
        memcpy(c, lp, n);
        int flips = 1 + rand() % 3;
        for (int f = 0; f < flips; f++) c[LP_HDR + (size_t)rand() % (n - LP_HDR)] ^= (unsigned char)(1u << (rand() % 8));
        if (lp_validate(c, n)) {
            /* A buffer that passes must also walk cleanly. */
            unsigned long cnt = 0;
            for (unsigned char *p = lp_first(c); p; p = lp_next(c, p)) {
                lp_val v;
                lp_get(p, &v);
                cnt++;
            }
            CU_ASSERT_EQUAL(cnt, lp_count(c));
        }
    }
    cb_free(c);
    lp_free(lp);
}

/* -------------------------------------------------------- quicklist */

/* The model: an array of heap strings. */
typedef struct model {
    char **v;
    size_t *len;
    long n, cap;
} model;

static void m_insert(model *m, long at, const char *s, size_t len)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->v = cb_realloc(m->v, sizeof(char *) * (size_t)m->cap);
        m->len = cb_realloc(m->len, sizeof(size_t) * (size_t)m->cap);
    }
    memmove(m->v + at + 1, m->v + at, sizeof(char *) * (size_t)(m->n - at));
    memmove(m->len + at + 1, m->len + at, sizeof(size_t) * (size_t)(m->n - at));
    m->v[at] = cb_memdup(s, len);
    m->len[at] = len;
    m->n++;
}

static void m_delete(model *m, long at, long k)
{
    for (long i = at; i < at + k; i++) cb_free(m->v[i]);
    memmove(m->v + at, m->v + at + k, sizeof(char *) * (size_t)(m->n - at - k));
    memmove(m->len + at, m->len + at + k, sizeof(size_t) * (size_t)(m->n - at - k));
    m->n -= k;
}

static void m_free(model *m)
{
    m_delete(m, 0, m->n);
    cb_free(m->v);
    cb_free(m->len);
}

static size_t rand_val(char *buf)
{
    int kind = rand() % 10;
    if (kind < 4) return (size_t)snprintf(buf, 64, "%d", rand() % 300 - 100);
    if (kind < 5) return (size_t)snprintf(buf, 64, "%lld", (long long)rand() * rand() * (rand() % 2 ? 1 : -1));
    size_t len = (size_t)(kind < 8 ? rand() % 20 : rand() % 700);
    for (size_t i = 0; i < len; i++) buf[i] = (char)('a' + rand() % 4);
    return len;
}

static int same(quicklist *ql, const model *m)
{
    if ((long)ql->count != m->n) return 0;
    ql_iter it;
    ql_iter_init(ql, &it, 0, QL_TAIL);
    long i = 0;
    int ok = 1;
    while (ql_iter_next(&it)) {
        if (!lp_eq(it.p, m->v[i], m->len[i])) ok = 0;
        i++;
    }
    ql_iter_release(&it);
    if (i != m->n) ok = 0;
    /* And backwards from the tail. */
    ql_iter_init(ql, &it, -1, QL_HEAD);
    i = m->n;
    while (ql_iter_next(&it)) {
        i--;
        if (i < 0 || !lp_eq(it.p, m->v[i], m->len[i])) ok = 0;
    }
    ql_iter_release(&it);
    return ok && i == 0;
}

static void random_walk(int fill, int depth, int steps)
{
    quicklist *ql = ql_new(fill, depth);
    model m = {0};
    char *buf = cb_malloc(1024);
    int fails = 0;
    unsigned long max_len = 0, max_comp = 0;
    for (int step = 0; step < steps && fails < 5; step++) {
        /* The first half grows the list (many nodes), the second shrinks it. */
        int op = rand() % 100;
        if (step < steps / 2 && op >= 55 && op < 75 && rand() % 4) op = rand() % 30;
        if (ql->len > max_len) max_len = ql->len;
        unsigned long comp = 0;
        for (ql_node *x = ql->head; x; x = x->next) comp += x->compressed;
        if (comp > max_comp) max_comp = comp;
        size_t len = rand_val(buf);
        if (op < 30) {
            int where = rand() % 2 ? QL_HEAD : QL_TAIL;
            ql_push(ql, where, buf, len);
            m_insert(&m, where == QL_HEAD ? 0 : m.n, buf, len);
        } else if (op < 40 && m.n) {
            long idx = rand() % m.n;
            ql_replace(ql, idx - (rand() % 2 ? m.n : 0), buf, len);
            cb_free(m.v[idx]);
            m.v[idx] = cb_memdup(buf, len);
            m.len[idx] = len;
        } else if (op < 55 && m.n) {
            long idx = rand() % m.n;
            int after = rand() % 2;
            ql_iter it;
            ql_iter_init(ql, &it, idx, QL_TAIL);
            CU_ASSERT(ql_iter_next(&it));
            ql_iter_insert(&it, after, buf, len);
            ql_iter_release(&it);
            m_insert(&m, idx + after, buf, len);
        } else if (op < 65 && m.n) {
            long start = rand() % m.n, k = rand() % 40;
            ql_del_range(ql, (unsigned long)start, (unsigned long)k);
            if (k > m.n - start) k = m.n - start;
            m_delete(&m, start, k);
        } else if (op < 75 && m.n) {
            /* Delete every entry equal to a sampled one, in either direction,
             * starting anywhere. */
            long pick = rand() % m.n;
            char *target = cb_memdup(m.v[pick], m.len[pick]);
            size_t tlen = m.len[pick];
            int dir = rand() % 2 ? QL_TAIL : QL_HEAD;
            long from = rand() % m.n;
            ql_iter it;
            ql_iter_init(ql, &it, from, dir);
            while (ql_iter_next(&it))
                if (lp_eq(it.p, target, tlen)) ql_iter_delete(&it);
            ql_iter_release(&it);
            if (dir == QL_TAIL) {
                for (long i = m.n - 1; i >= from; i--)
                    if (m.len[i] == tlen && memcmp(m.v[i], target, tlen) == 0) m_delete(&m, i, 1);
            } else {
                for (long i = from; i >= 0; i--)
                    if (m.len[i] == tlen && memcmp(m.v[i], target, tlen) == 0) m_delete(&m, i, 1);
            }
            cb_free(target);
        } else if (op < 78) {
            quicklist *d = ql_dup(ql);
            CU_ASSERT(ql_check(d));
            CU_ASSERT(same(d, &m));
            CU_ASSERT(ql_mem(d) > 0);
            ql_free(d);
        } else if (m.n) {
            long idx = rand() % m.n;
            ql_iter it;
            CU_ASSERT(ql_iter_init(ql, &it, idx, QL_TAIL));
            CU_ASSERT(ql_iter_next(&it) && lp_eq(it.p, m.v[idx], m.len[idx]));
            ql_iter_release(&it);
        }
        if (!ql_check(ql) || !same(ql, &m)) {
            fails++;
            fprintf(stderr, "fill %d depth %d: mismatch after step %d op %d\n", fill, depth, step, op);
        }
    }
    CU_ASSERT_EQUAL(fails, 0);
    if (getenv("QL_STATS"))
        fprintf(stderr, "fill %d depth %d: max nodes %lu, max compressed %lu\n", fill, depth,
                max_len, max_comp);
    /* Out-of-range access. */
    ql_iter it;
    CU_ASSERT_FALSE(ql_iter_init(ql, &it, (long)ql->count, QL_TAIL));
    CU_ASSERT_FALSE(ql_iter_next(&it));
    ql_iter_release(&it);
    CU_ASSERT_FALSE(ql_replace(ql, (long)ql->count, "x", 1));
    ql_free(ql);
    m_free(&m);
    cb_free(buf);
}

static void test_ql_random(void)
{
    static const int fills[] = {-2, -1, -5, -9, 1, 2, 5, 128, 0};
    static const int depths[] = {0, 1, 2, 3};
    srand(42);
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++)
        for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++) random_walk(fills[f], depths[d], 1500);
}

static void test_ql_compression(void)
{
    /* Compressible nodes: with depth 1 every node but the two end ones is
     * stored compressed, and reading them gives the data back. */
    quicklist *ql = ql_new(-1, 1);
    char v[100];
    memset(v, 'q', sizeof v);
    for (int i = 0; i < 2000; i++) ql_push(ql, QL_TAIL, v, sizeof v);
    CU_ASSERT(ql->len > 4);
    CU_ASSERT(ql_check(ql));
    unsigned long compressed = 0;
    for (ql_node *n = ql->head; n; n = n->next) compressed += n->compressed;
    CU_ASSERT_EQUAL(compressed, ql->len - 2);
    unsigned long st_nodes, st_comp;
    size_t st_raw;
    ql_stats(ql, &st_nodes, &st_comp, &st_raw);
    CU_ASSERT_EQUAL(st_nodes, ql->len);
    CU_ASSERT_EQUAL(st_comp, compressed);
    CU_ASSERT(st_raw > 2000 * 100);
    CU_ASSERT_FALSE(ql->head->compressed);
    CU_ASSERT_FALSE(ql->tail->compressed);
    ql_iter it;
    ql_iter_init(ql, &it, 1000, QL_TAIL);
    CU_ASSERT(ql_iter_next(&it) && lp_eq(it.p, v, sizeof v));
    ql_iter_release(&it);
    CU_ASSERT(ql_check(ql));
    /* Popping down to two nodes leaves nothing compressed. */
    ql_del_range(ql, 0, ql->count - 10);
    CU_ASSERT(ql_check(ql));
    for (ql_node *n = ql->head; n; n = n->next) CU_ASSERT_FALSE(n->compressed);
    ql_free(ql);
}

static void test_ql_replace_grows(void)
{
    /* Replacing every small entry of one node by a 3 KB value must not grow
     * that node past the fill: the values move to nodes with room. */
    quicklist *ql = ql_new(-2, 0);
    for (int i = 0; i < 100; i++) ql_push(ql, QL_TAIL, "s", 1);
    CU_ASSERT_EQUAL(ql->len, 1);
    char *big = cb_malloc(3000);
    memset(big, 'b', 3000);
    for (long i = 0; i < 100; i++) CU_ASSERT(ql_replace(ql, i % 2 ? i : -100 + i, big, 3000));
    CU_ASSERT(ql_check(ql));
    CU_ASSERT_EQUAL(ql->count, 100);
    for (ql_node *n = ql->head; n; n = n->next) CU_ASSERT(n->sz <= 8192);
    ql_iter it;
    ql_iter_init(ql, &it, 0, QL_TAIL);
    long k = 0;
    while (ql_iter_next(&it)) k += lp_eq(it.p, big, 3000);
    ql_iter_release(&it);
    CU_ASSERT_EQUAL(k, 100);
    cb_free(big);
    ql_free(ql);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("quicklist", NULL, NULL);
    CU_add_test(s, "lpack encodings", test_lp_encodings);
    CU_add_test(s, "lpack long strings", test_lp_long_strings);
    CU_add_test(s, "lpack edits", test_lp_edits);
    CU_add_test(s, "lpack corrupt input", test_lp_corrupt);
    CU_add_test(s, "quicklist random walk", test_ql_random);
    CU_add_test(s, "quicklist compression", test_ql_compression);
    CU_add_test(s, "quicklist replace by big values", test_ql_replace_grows);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
