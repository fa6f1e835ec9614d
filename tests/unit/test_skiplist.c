/* test_skiplist.c — CUnit tests for the sorted-set data structures:
 * store/ds/skiplist.c (insert/delete/update against a sorted reference
 * array, ranks and spans, score and lex ranges, ties ordered by bytes,
 * -0/inf scores) and store/ds/zpack.c (ordered insert, delete ranges,
 * index access, -0 normalisation, and zp_validate on corrupt blocks),
 * and the two-encoding value layer of store/t_zset.c (conversions at the
 * limits, ZADD flag semantics, ranks, range deletes, dup).
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../platform/mem.h"
#include "../../store/ds/skiplist.h"
#include "../../store/ds/zpack.h"
#include "../../store/db.h"
#include "../../store/t_zset.h"

typedef struct ref {
    char ele[16];
    double score;
} ref;

static int ref_cmp(const void *a, const void *b)
{
    const ref *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return zsl_cmp_bytes(x->ele, strlen(x->ele), y->ele, strlen(y->ele));
}

/* Walks the list checking order, backward links, ranks and the tail. */
static void check_list(zsl *z, ref *r, size_t n)
{
    CU_ASSERT_EQUAL_FATAL(z->length, n);
    zsl_node *x = z->header->level[0].forward, *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(x);
        CU_ASSERT_STRING_EQUAL(x->ele, r[i].ele);
        CU_ASSERT(x->score == r[i].score);
        CU_ASSERT_PTR_EQUAL(x->backward, prev);
        CU_ASSERT_EQUAL(zsl_rank(z, x->score, x->ele, cbstr_len(x->ele)), i + 1);
        CU_ASSERT_PTR_EQUAL(zsl_by_rank(z, i + 1), x);
        prev = x;
        x = x->level[0].forward;
    }
    CU_ASSERT_PTR_NULL(x);
    CU_ASSERT_PTR_EQUAL(z->tail, prev);
}

static void test_random_ops(void)
{
    zsl *z = zsl_create(42);
    ref *r = cb_malloc(sizeof(ref) * 2000);
    size_t n = 0;
    uint64_t rng = 7;
    for (int step = 0; step < 6000; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int op = (int)(rng >> 60) % 3;
        char ele[16];
        snprintf(ele, sizeof ele, "e%u", (unsigned)((rng >> 20) % 800));
        size_t found = n;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(r[i].ele, ele)) found = i;
        double score = (double)((rng >> 40) % 50) / 2;
        if (op == 0 && found == n) {
            zsl_insert(z, score, cbstr_from_cstr(ele));
            strcpy(r[n].ele, ele);
            r[n++].score = score;
        } else if (op == 1 && found < n) {
            CU_ASSERT_EQUAL(zsl_delete(z, r[found].score, ele, strlen(ele), NULL), 1);
            r[found] = r[--n];
        } else if (found < n) {
            zsl_update_score(z, r[found].score, ele, strlen(ele), score);
            r[found].score = score;
        }
        qsort(r, n, sizeof(ref), ref_cmp);
        if (step % 500 == 0) check_list(z, r, n);
    }
    check_list(z, r, n);
    CU_ASSERT_EQUAL(zsl_delete(z, 12345, "nope", 4, NULL), 0);
    CU_ASSERT_EQUAL(zsl_rank(z, 12345, "nope", 4), 0);
    CU_ASSERT_PTR_NULL(zsl_by_rank(z, 0));
    CU_ASSERT_PTR_NULL(zsl_by_rank(z, n + 1));
    cb_free(r);
    zsl_free(z);
}

static void test_ranges(void)
{
    zsl *z = zsl_create(1);
    for (int i = 1; i <= 10; i++) {
        char e[8];
        snprintf(e, sizeof e, "m%02d", i);
        zsl_insert(z, i, cbstr_from_cstr(e));
    }
    zsl_range r = { 3, 5, 0, 0 };
    CU_ASSERT_EQUAL(zsl_first_in_range(z, &r)->score, 3);
    CU_ASSERT_EQUAL(zsl_last_in_range(z, &r)->score, 5);
    r.minex = r.maxex = 1;
    CU_ASSERT_EQUAL(zsl_first_in_range(z, &r)->score, 4);
    CU_ASSERT_EQUAL(zsl_last_in_range(z, &r)->score, 4);
    zsl_range empty = { 4, 4, 1, 0 };
    CU_ASSERT_PTR_NULL(zsl_first_in_range(z, &empty));
    zsl_range out = { 11, INFINITY, 0, 0 };
    CU_ASSERT_PTR_NULL(zsl_first_in_range(z, &out));
    CU_ASSERT_PTR_NULL(zsl_last_in_range(z, &out));
    zsl_range all = { -INFINITY, INFINITY, 0, 0 };
    CU_ASSERT_EQUAL(zsl_first_in_range(z, &all)->score, 1);
    CU_ASSERT_EQUAL(zsl_last_in_range(z, &all)->score, 10);
    zsl_free(z);

    /* Equal scores: lex order by bytes, shorter first. */
    z = zsl_create(2);
    const char *names[] = { "b", "a", "ab", "", "\xff", "B" };
    for (int i = 0; i < 6; i++) zsl_insert(z, 0, cbstr_from_cstr(names[i]));
    const char *want[] = { "", "B", "a", "ab", "b", "\xff" };
    zsl_node *x = z->header->level[0].forward;
    for (int i = 0; i < 6; i++, x = x->level[0].forward) CU_ASSERT_STRING_EQUAL(x->ele, want[i]);
    zsl_lexrange lr;
    memset(&lr, 0, sizeof lr);
    lr.min = "a";
    lr.minlen = 1;
    lr.max = "b";
    lr.maxlen = 1;
    lr.maxex = 1;
    CU_ASSERT_STRING_EQUAL(zsl_first_in_lex(z, &lr)->ele, "a");
    CU_ASSERT_STRING_EQUAL(zsl_last_in_lex(z, &lr)->ele, "ab");
    memset(&lr, 0, sizeof lr);
    lr.mininf = lr.maxinf = 1;
    CU_ASSERT_STRING_EQUAL(zsl_first_in_lex(z, &lr)->ele, "");
    CU_ASSERT_STRING_EQUAL(zsl_last_in_lex(z, &lr)->ele, "\xff");
    memset(&lr, 0, sizeof lr);
    lr.minpos_inf = 1;
    lr.maxinf = 1;
    CU_ASSERT(zsl_lex_range_empty(&lr));
    CU_ASSERT_PTR_NULL(zsl_first_in_lex(z, &lr));
    zsl_free(z);
}

static void test_special_scores(void)
{
    zsl *z = zsl_create(3);
    zsl_insert(z, INFINITY, cbstr_from_cstr("p"));
    zsl_insert(z, -INFINITY, cbstr_from_cstr("n"));
    zsl_insert(z, -0.0, cbstr_from_cstr("z"));
    CU_ASSERT_STRING_EQUAL(zsl_by_rank(z, 1)->ele, "n");
    CU_ASSERT(signbit(zsl_by_rank(z, 2)->score));
    CU_ASSERT_STRING_EQUAL(zsl_by_rank(z, 3)->ele, "p");
    /* -0 and 0 compare equal: the node is found with either. */
    CU_ASSERT_EQUAL(zsl_rank(z, 0.0, "z", 1), 2);
    CU_ASSERT(zsl_mem_usage(z) > 0);
    zsl_free(z);
}

static void test_zpack(void)
{
    zpack *zp = zp_new();
    CU_ASSERT_EQUAL(zp_count(zp), 0);
    CU_ASSERT_EQUAL(zp_first(zp), 0);
    CU_ASSERT(zp_validate(zp, zp_bytes(zp)));
    zp = zp_insert(zp, "c", 1, 3);
    zp = zp_insert(zp, "a", 1, 1);
    zp = zp_insert(zp, "b", 1, 1);
    zp = zp_insert(zp, "", 0, -0.0);
    char big[300];
    memset(big, 'x', sizeof big);
    zp = zp_insert(zp, big, sizeof big, 2); /* two-byte length prefix */
    CU_ASSERT_EQUAL(zp_count(zp), 5);
    CU_ASSERT(zp_validate(zp, zp_bytes(zp)));
    const char *want[] = { "", "a", "b", NULL, "c" };
    size_t off = zp_first(zp);
    for (int i = 0; i < 5; i++, off = zp_next(zp, off)) {
        const char *e;
        size_t l;
        double s;
        zp_get(zp, off, &e, &l, &s);
        if (want[i]) {
            CU_ASSERT(l == strlen(want[i]) && !memcmp(e, want[i], l));
        } else {
            CU_ASSERT_EQUAL(l, sizeof big);
        }
        if (i == 0) {
            CU_ASSERT(s == 0 && !signbit(s)); /* -0 stored as 0 */
        }
        CU_ASSERT_EQUAL(zp_at_index(zp, (size_t)i), off);
    }
    CU_ASSERT_EQUAL(off, 0);
    CU_ASSERT_EQUAL(zp_at_index(zp, 5), 0);
    double s;
    CU_ASSERT(zp_find(zp, "c", 1, &s) && s == 3);
    CU_ASSERT_EQUAL(zp_find(zp, "zz", 2, NULL), 0);
    zpack *dup = zp_dup(zp);
    CU_ASSERT_EQUAL(memcmp(dup, zp, zp_bytes(zp)), 0);
    zp_free(dup);
    zp = zp_delete(zp, zp_at_index(zp, 1), 3);
    CU_ASSERT_EQUAL(zp_count(zp), 2);
    CU_ASSERT(zp_find(zp, "c", 1, NULL));
    CU_ASSERT(zp_validate(zp, zp_bytes(zp)));
    zp = zp_delete(zp, zp_first(zp), 10); /* more than there are */
    CU_ASSERT_EQUAL(zp_count(zp), 0);
    CU_ASSERT_EQUAL(zp_bytes(zp), ZP_HEADER);
    zp_free(zp);
}

/* Layout used below, with non-integer scores (stored as 0 + 8 bytes):
 * header 8 | 01 'a' 00 <1.5> | 01 'b' 00 <2.5>; each entry 11 bytes. */
static void test_zpack_corrupt(void)
{
    zpack *zp = zp_new();
    zp = zp_insert(zp, "a", 1, 1.5);
    zp = zp_insert(zp, "b", 1, 2.5);
    size_t n = zp_bytes(zp);
    CU_ASSERT_EQUAL_FATAL(n, ZP_HEADER + 22);
    unsigned char *buf = cb_malloc(n + 16);
    /* Truncated blocks and a bad total. */
    for (size_t cut = 0; cut < n; cut++) {
        memcpy(buf, zp, cut);
        CU_ASSERT_FALSE(zp_validate(buf, cut));
    }
    memcpy(buf, zp, n);
    CU_ASSERT(zp_validate(buf, n));
    buf[0] ^= 1;
    CU_ASSERT_FALSE(zp_validate(buf, n));
    /* Wrong count. */
    memcpy(buf, zp, n);
    buf[4] = 3;
    CU_ASSERT_FALSE(zp_validate(buf, n));
    /* An element length that runs past the end. */
    memcpy(buf, zp, n);
    buf[ZP_HEADER] = 0x7f;
    CU_ASSERT_FALSE(zp_validate(buf, n));
    /* An endless varint. */
    memcpy(buf, zp, n);
    memset(buf + ZP_HEADER, 0xff, n - ZP_HEADER);
    CU_ASSERT_FALSE(zp_validate(buf, n));
    /* A score tag that is neither 0 nor odd. */
    memcpy(buf, zp, n);
    buf[ZP_HEADER + 2] = 2;
    CU_ASSERT_FALSE(zp_validate(buf, n));
    /* Names swapped: the scores still ascend, so it is valid... */
    memcpy(buf, zp, n);
    buf[ZP_HEADER + 1] = 'b';
    buf[ZP_HEADER + 11 + 1] = 'a';
    CU_ASSERT(zp_validate(buf, n));
    /* ...until the scores are swapped too. */
    double hi = 2.5, lo = 1.5;
    memcpy(buf + ZP_HEADER + 3, &hi, 8);
    memcpy(buf + ZP_HEADER + 11 + 3, &lo, 8);
    CU_ASSERT_FALSE(zp_validate(buf, n));
    /* Equal scores need ascending names. */
    memcpy(buf + ZP_HEADER + 11 + 3, &hi, 8);
    CU_ASSERT_FALSE(zp_validate(buf, n));
    /* A NaN score. */
    memcpy(buf, zp, n);
    double nan = NAN;
    memcpy(buf + ZP_HEADER + 3, &nan, 8);
    CU_ASSERT_FALSE(zp_validate(buf, n));
    cb_free(buf);
    zp_free(zp);
}

/* Integer scores take the short form; the boundaries round-trip exactly. */
static void test_zpack_int_scores(void)
{
    const double vals[] = { 0, 1, -1, 31, -32, 32, 1e15, -1e15, 9007199254740991.0,
                            -9007199254740991.0, 9007199254740992.0, 1e300, 0.5,
                            INFINITY, -INFINITY, 4.5e15 };
    const size_t nv = sizeof vals / sizeof vals[0];
    zpack *zp = zp_new();
    for (size_t i = 0; i < nv; i++) {
        char e[8];
        snprintf(e, sizeof e, "v%zu", i);
        zp = zp_insert(zp, e, strlen(e), vals[i]);
    }
    CU_ASSERT(zp_validate(zp, zp_bytes(zp)));
    for (size_t i = 0; i < nv; i++) {
        char e[8];
        snprintf(e, sizeof e, "v%zu", i);
        double s;
        CU_ASSERT(zp_find(zp, e, strlen(e), &s) != 0);
        CU_ASSERT(s == vals[i]);
    }
    zp_free(zp);
    /* One byte for a small integer score: 8 + (1 + 1 + 1). */
    zp = zp_new();
    zp = zp_insert(zp, "a", 1, 7);
    CU_ASSERT_EQUAL(zp_bytes(zp), ZP_HEADER + 3);
    zp_free(zp);
}

/* Both encodings must hold the same elements in the same order. */
static void check_same(const cb_obj *x, const cb_obj *y)
{
    CU_ASSERT_EQUAL_FATAL(zset_len(x), zset_len(y));
    zset_it a, b;
    zit_init(&a, x, 0);
    zit_init(&b, y, 0);
    for (; zit_valid(&a); zit_next(&a), zit_next(&b)) {
        CU_ASSERT_FATAL(zit_valid(&b));
        const char *e1, *e2;
        size_t l1, l2;
        double s1, s2;
        zit_get(&a, &e1, &l1, &s1);
        zit_get(&b, &e2, &l2, &s2);
        CU_ASSERT(l1 == l2 && !memcmp(e1, e2, l1) && s1 == s2);
    }
    zit_release(&a);
    zit_release(&b);
}

static void test_value_layer(void)
{
    static const uint8_t seed[16] = { 9 };
    cb_store_settings set = { .hz = 10, .active_expire_effort = 1,
                              .proto_max_bulk_len = 512LL << 20,
                              .zset_max_listpack_entries = 4, .zset_max_listpack_value = 8 };
    cb_shard *sh = shard_create(0, 1, &set, seed);
    cb_obj *o = zset_new(sh, 1, 1);
    cb_obj *big = zset_new(sh, 1000, 1);
    CU_ASSERT_EQUAL(o->encoding, OBJ_ENC_LISTPACK);
    CU_ASSERT_EQUAL(big->encoding, OBJ_ENC_SKIPLIST);
    int out;
    double ns;
    const char *names[] = { "d", "b", "a", "c" };
    for (int i = 0; i < 4; i++) {
        CU_ASSERT(zset_add(sh, o, i, names[i], 1, 0, &out, &ns));
        CU_ASSERT(out == ZA_OUT_ADDED);
        zset_add(sh, big, i, names[i], 1, 0, &out, NULL);
    }
    CU_ASSERT_EQUAL(o->encoding, OBJ_ENC_LISTPACK);
    check_same(o, big);
    /* NX on a member, XX on a stranger, GT/LT that do not move: no-ops. */
    zset_add(sh, o, 9, "d", 1, ZA_NX, &out, NULL);
    CU_ASSERT(out & ZA_OUT_NOP);
    zset_add(sh, o, 9, "zz", 2, ZA_XX, &out, NULL);
    CU_ASSERT(out & ZA_OUT_NOP);
    zset_add(sh, o, -5, "c", 1, ZA_GT, &out, NULL);
    CU_ASSERT(out & ZA_OUT_NOP);
    zset_add(sh, o, 10, "c", 1, ZA_LT, &out, NULL);
    CU_ASSERT(out & ZA_OUT_NOP);
    /* INCR, and inf + -inf is NaN: refused. */
    zset_add(sh, o, 2.5, "a", 1, ZA_INCR, &out, &ns);
    CU_ASSERT(out == ZA_OUT_UPDATED && ns == 4.5);
    zset_add(sh, big, 2.5, "a", 1, ZA_INCR, &out, &ns);
    check_same(o, big);
    zset_add(sh, o, INFINITY, "b", 1, 0, &out, NULL);
    CU_ASSERT_FALSE(zset_add(sh, o, -INFINITY, "b", 1, ZA_INCR, &out, NULL));
    CU_ASSERT(out & ZA_OUT_NAN);
    zset_add(sh, big, INFINITY, "b", 1, 0, &out, NULL);
    check_same(o, big);
    CU_ASSERT_EQUAL(zset_rank(o, "b", 1, 0), 3);
    CU_ASSERT_EQUAL(zset_rank(big, "b", 1, 1), 0);
    CU_ASSERT_EQUAL(zset_rank(o, "nope", 4, 0), -1);
    /* A fifth element, then a long one: both cross into the skiplist. */
    cb_obj *o2 = zset_dup_obj(o);
    zset_add(sh, o, 7, "e", 1, 0, &out, NULL);
    CU_ASSERT_EQUAL(o->encoding, OBJ_ENC_SKIPLIST);
    zset_add(sh, o2, 7, "longer-than-8", 13, 0, &out, NULL);
    CU_ASSERT_EQUAL(o2->encoding, OBJ_ENC_SKIPLIST);
    zset_add(sh, big, 7, "e", 1, 0, &out, NULL);
    check_same(o, big);
    /* Range deletes and single deletes agree on both encodings. */
    cb_obj *lp = zset_new(sh, 1, 1);
    zset_add(sh, lp, 1, "x", 1, 0, &out, NULL);
    zset_add(sh, lp, 2, "y", 1, 0, &out, NULL);
    zset_add(sh, lp, 3, "z", 1, 0, &out, NULL);
    cb_obj *sk = zset_new(sh, 100, 1);
    zset_add(sh, sk, 1, "x", 1, 0, &out, NULL);
    zset_add(sh, sk, 2, "y", 1, 0, &out, NULL);
    zset_add(sh, sk, 3, "z", 1, 0, &out, NULL);
    zset_delete_ranks(lp, 0, 1);
    zset_delete_ranks(sk, 0, 1);
    check_same(lp, sk);
    CU_ASSERT(zset_del(lp, "z", 1) && zset_del(sk, "z", 1));
    CU_ASSERT_FALSE(zset_del(lp, "z", 1));
    CU_ASSERT_EQUAL(zset_len(sk), 0);
    /* A small skiplist set goes back to compact when asked, -0 becoming 0. */
    zset_add(sh, sk, -0.0, "m", 1, 0, &out, NULL);
    zset_compact_if_fits(sh, sk);
    CU_ASSERT_EQUAL(sk->encoding, OBJ_ENC_LISTPACK);
    double sc;
    CU_ASSERT(zset_score(sk, "m", 1, &sc) && sc == 0 && !signbit(sc));
    CU_ASSERT(zset_mem_usage(big) > zset_mem_usage(sk));
    cb_obj *objs[] = { o, o2, big, lp, sk };
    for (int i = 0; i < 5; i++) obj_decr_ref(objs[i]);
    shard_destroy(sh);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite s = CU_add_suite("skiplist", NULL, NULL);
    CU_add_test(s, "random_ops", test_random_ops);
    CU_add_test(s, "ranges", test_ranges);
    CU_add_test(s, "special_scores", test_special_scores);
    CU_add_test(s, "zpack", test_zpack);
    CU_add_test(s, "zpack_corrupt", test_zpack_corrupt);
    CU_add_test(s, "zpack_int_scores", test_zpack_int_scores);
    CU_add_test(s, "value_layer", test_value_layer);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
