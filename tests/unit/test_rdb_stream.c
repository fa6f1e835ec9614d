/* test_rdb_stream.c — CUnit tests of persist/rdb_stream.c: streams (several
 * nodes, tombstones, trimmed, consumer groups with PELs and consumers,
 * empty with groups) encode and decode back to the same bytes; a payload in
 * the pre-7.0 type (STREAM_LISTPACKS) gets the fields Redis 7.0 derives;
 * hand-made corrupt payloads are refused with their reason; random bit
 * flips and truncations never crash (run under ASan/UBSan); the stream
 * fixtures written by redis-server load with the oracle's digest, in check
 * mode too (RDB_LOAD_CHECK, as cachebox-check-rdb runs), and each corrupt
 * fixture of tests/fixtures/rdb/corrupt.txt fails at its record.
 */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../persist/listpack.h"
#include "../../persist/rdb.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"
#include "../../store/db.h"
#include "../../store/digest.h"
#include "../../store/object.h"
#include "../../store/stream_cg.h"
#include "../../store/t_stream.h"
#include "../../store/ds/stream.h"

/* DEBUG DIGEST make_stream_fixtures.py printed for stream*.rdb. */
#define STREAM_FIXTURE_DIGEST "215518159bd33fa0a274e6ddf9dcad2402426f44"

static const uint8_t seed[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/* ------------------------------------------------------------ helpers */

static void add(stream *s, uint64_t ms, uint64_t seq, int nf, long long maxe)
{
    stream_id id = { ms, seq };
    char fb[4][16], vb[4][32];
    const char *kv[8];
    size_t kl[8];
    for (int i = 0; i < nf; i++) {
        snprintf(fb[i], sizeof(fb[i]), "f%d", i);
        snprintf(vb[i], sizeof(vb[i]), i % 2 ? "%llu" : "value-%llu", (unsigned long long)ms);
        kv[2 * i] = fb[i];
        kl[2 * i] = strlen(fb[i]);
        kv[2 * i + 1] = vb[i];
        kl[2 * i + 1] = strlen(vb[i]);
    }
    stream_append(s, &id, kv, kl, (size_t)nf, 4096, maxe);
}

/* A stream of n entries (fields vary every 5th), node size 10, some
 * deleted, with two groups, PELs and consumers (one without entries). */
static cb_obj *sample(int n, int groups)
{
    cb_obj *o = stream_obj_create();
    stream *s = o->ptr;
    for (int i = 1; i <= n; i++) add(s, (uint64_t)i * 3, (uint64_t)(i % 4), i % 5 ? 2 : 1, 10);
    for (int i = 2; i <= n; i += 7) {
        stream_id id = { (uint64_t)i * 3, (uint64_t)(i % 4) };
        if (stream_delete(s, &id)) s->max_deleted = id;
    }
    if (!groups) return o;
    stream_id last = { 30, 2 };
    cg_group *g, *g2;
    cg_consumer *a, *b, *idle;
    CU_ASSERT_EQUAL_FATAL(stream_cg_load_group(s, "another", 7, &last, -1, &g2), 0);
    CU_ASSERT_EQUAL_FATAL(stream_cg_load_group(s, "grp", 3, &last, 10, &g), 0);
    CU_ASSERT_EQUAL(stream_cg_load_group(s, "grp", 3, &last, 10, &g), -1);
    CU_ASSERT_EQUAL(stream_cg_load_group(s, "gr", 2, &last, 10, &g), -2);
    CU_ASSERT_EQUAL_FATAL(stream_cg_load_consumer(g, "alice", 5, 1700000000123LL, &a), 0);
    CU_ASSERT_EQUAL_FATAL(stream_cg_load_consumer(g, "bob", 3, 1700000000456LL, &b), 0);
    CU_ASSERT_EQUAL(stream_cg_load_consumer(g2, "idle", 4, 5, &idle), 0);
    for (int i = 1; i <= 6; i++) {
        stream_id id = { (uint64_t)i * 3, (uint64_t)(i % 4) };
        CU_ASSERT_EQUAL(stream_cg_load_nack(g, &id, 1700000000000LL + i, (uint64_t)i), 0);
    }
    for (int i = 1; i <= 6; i++) {
        stream_id id = { (uint64_t)i * 3, (uint64_t)(i % 4) };
        CU_ASSERT_EQUAL(stream_cg_load_claim(g, i % 2 ? a : b, &id), 0);
    }
    return o;
}

static cbstr encode(const cb_obj *o, int compress)
{
    return rdb_enc_object(cbstr_new("", 0), o, compress);
}

static void digest_of(const cb_obj *o, unsigned char d[20])
{
    digest_value(o, d);
}

/* Decodes and expects a refusal whose text contains needle. */
static void expect_bad(cb_shard *sh, int type, const cbstr p, const char *needle)
{
    char *err = NULL;
    cb_obj *o = rdb_dec_object_mem(sh, type, p, cbstr_len(p), &err);
    CU_ASSERT_PTR_NULL(o);
    if (o) {
        obj_decr_ref(o);
        fprintf(stderr, "\naccepted, wanted '%s'\n", needle);
        return;
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
    if (!strstr(err, needle)) fprintf(stderr, "\ngot '%s', wanted '%s'\n", err, needle);
    cb_free(err);
}

/* ------------------------------------------------------------ round trips */

static void test_round_trip(void)
{
    cb_shard *sh = shard_create(0, 16, NULL, seed);
    int sizes[] = { 0, 1, 9, 10, 11, 57, 300 };
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        for (int groups = 0; groups < 2; groups++) {
            cb_obj *o = sample(sizes[k], groups);
            for (int compress = 0; compress < 2; compress++) {
                cbstr p = encode(o, compress);
                char *err = NULL;
                cb_obj *back = rdb_dec_object_mem(sh, RDB_TYPE_STREAM_LISTPACKS_2, p,
                                                  cbstr_len(p), &err);
                CU_ASSERT_PTR_NOT_NULL_FATAL(back);
                cbstr q = encode(back, compress);
                CU_ASSERT_EQUAL(cbstr_len(p), cbstr_len(q));
                CU_ASSERT(memcmp(p, q, cbstr_len(p)) == 0);
                const stream *a = o->ptr, *b = back->ptr;
                CU_ASSERT_EQUAL(a->length, b->length);
                CU_ASSERT_EQUAL(a->nnodes, b->nnodes);
                CU_ASSERT_EQUAL(a->entries_added, b->entries_added);
                CU_ASSERT_EQUAL(stream_id_cmp(&a->first_id, &b->first_id), 0);
                CU_ASSERT_EQUAL(stream_id_cmp(&a->max_deleted, &b->max_deleted), 0);
                CU_ASSERT_EQUAL(stream_cg_count(a->cgroups), stream_cg_count(b->cgroups));
                for (size_t i = 0; i < a->nnodes && i < b->nnodes; i++) {
                    CU_ASSERT_EQUAL(a->nodes[i]->live, b->nodes[i]->live);
                    CU_ASSERT_EQUAL(a->nodes[i]->deleted, b->nodes[i]->deleted);
                    /* Node fullness drives where the next XADD goes. */
                    CU_ASSERT_EQUAL(a->nodes[i]->lp_fixed, b->nodes[i]->lp_fixed);
                }
                unsigned char d1[20], d2[20];
                digest_of(o, d1);
                digest_of(back, d2);
                CU_ASSERT(memcmp(d1, d2, 20) == 0);
                cbstr_free(p);
                cbstr_free(q);
                obj_decr_ref(back);
            }
            obj_decr_ref(o);
        }
    }
    /* Trimmed to nothing but keeping its groups and counters. */
    cb_obj *o = sample(40, 1);
    stream *s = o->ptr;
    stream_trim(s, STREAM_TRIM_MAXLEN, 0, NULL, 0, 0);
    CU_ASSERT_EQUAL(s->length, 0);
    cbstr p = encode(o, 1);
    char *err = NULL;
    cb_obj *back = rdb_dec_object_mem(sh, RDB_TYPE_STREAM_LISTPACKS_2, p, cbstr_len(p), &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_EQUAL(((stream *)back->ptr)->length, 0);
    CU_ASSERT_EQUAL(((stream *)back->ptr)->entries_added, 40);
    CU_ASSERT_EQUAL(stream_cg_count(((stream *)back->ptr)->cgroups), 2);
    obj_decr_ref(back);
    cbstr_free(p);
    obj_decr_ref(o);
    shard_destroy(sh);
}

/* ------------------------------------------------------------ hand-made payloads */

static cbstr len(cbstr b, uint64_t v) { return rdb_enc_len(b, v); }

static cbstr key16(cbstr b, uint64_t ms, uint64_t seq, size_t klen)
{
    unsigned char k[17];
    for (int i = 0; i < 8; i++) {
        k[i] = (unsigned char)(ms >> (56 - 8 * i));
        k[8 + i] = (unsigned char)(seq >> (56 - 8 * i));
    }
    k[16] = 0;
    return rdb_enc_string(b, k, klen, 0);
}

/* A listpack of the space-separated elements of spec ("." is empty). */
static cbstr lp(cbstr b, const char *spec)
{
    rlp_writer w;
    rlp_init(&w);
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", spec);
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
        rlp_append(&w, t, strcmp(t, ".") ? strlen(t) : 0);
    cbstr l = rlp_finish(&w);
    b = rdb_enc_string(b, l, cbstr_len(l), 0);
    cbstr_free(l);
    return b;
}

/* One node keyed 5-0 holding spec; then length, last ID and (type 19) the
 * 7.0 fields; groups follow from the caller. */
static cbstr one_node(const char *spec, uint64_t length, uint64_t last_ms, int v2)
{
    cbstr b = len(cbstr_new("", 0), 1);
    b = key16(b, 5, 0, 16);
    b = lp(b, spec);
    b = len(b, length);
    b = len(b, last_ms);
    b = len(b, 0);
    if (v2) {
        b = len(len(b, 5), 0);
        b = len(len(b, 0), 0);
        b = len(b, length);
    }
    return b;
}

/* Two entries 5-0 and 6-0, one field "f" (the second with its own fields). */
#define GOOD_NODE "2 0 1 f 0  2 0 0 a 4  0 1 0 1 f b 6"

static cbstr raw_id(cbstr b, uint64_t ms, uint64_t seq)
{
    unsigned char k[16];
    for (int i = 0; i < 8; i++) {
        k[i] = (unsigned char)(ms >> (56 - 8 * i));
        k[8 + i] = (unsigned char)(seq >> (56 - 8 * i));
    }
    return cbstr_cat(b, k, 16);
}

static cbstr ms_time(cbstr b, uint64_t t)
{
    unsigned char k[8];
    for (int i = 0; i < 8; i++) k[i] = (unsigned char)(t >> (8 * i));
    return cbstr_cat(b, k, 8);
}

static cbstr group_hdr(cbstr b, const char *name, int v2)
{
    b = rdb_enc_string(b, name, strlen(name), 0);
    b = len(len(b, 6), 0);
    if (v2) b = len(b, 2);
    return b;
}

static void test_good_and_old_type(void)
{
    cb_shard *sh = shard_create(0, 16, NULL, seed);
    char *err = NULL;
    for (int v2 = 0; v2 < 2; v2++) {
        cbstr b = one_node(GOOD_NODE, 2, 6, v2);
        b = len(b, 1);
        b = group_hdr(b, "g", v2);
        b = len(b, 1);
        b = ms_time(raw_id(b, 5, 0), 1234);
        b = len(b, 3);
        b = len(b, 1);
        b = rdb_enc_string(b, "c", 1, 0);
        b = ms_time(b, 99);
        b = raw_id(len(b, 1), 5, 0);
        int type = v2 ? RDB_TYPE_STREAM_LISTPACKS_2 : RDB_TYPE_STREAM_LISTPACKS;
        cb_obj *o = rdb_dec_object_mem(sh, type, b, cbstr_len(b), &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        stream *s = o->ptr;
        CU_ASSERT_EQUAL(s->length, 2);
        CU_ASSERT_EQUAL(s->entries_added, 2);
        CU_ASSERT_EQUAL(s->first_id.ms, 5);
        CU_ASSERT_EQUAL(s->last_id.ms, 6);
        const cg_set *set = s->cgroups;
        CU_ASSERT_EQUAL_FATAL(set->n, 1);
        /* Type 15 has no entries-read: 6-0 is the last entry, so all 2. */
        CU_ASSERT_EQUAL(set->g[0]->entries_read, 2);
        CU_ASSERT_EQUAL(set->g[0]->pel.n, 1);
        CU_ASSERT_EQUAL(set->g[0]->pel.v[0]->delivery_count, 3);
        CU_ASSERT_EQUAL(set->g[0]->pel.v[0]->delivery_time, 1234);
        CU_ASSERT_EQUAL(set->g[0]->cons[0]->seen_time, 99);
        CU_ASSERT_PTR_EQUAL(set->g[0]->pel.v[0]->owner, set->g[0]->cons[0]);
        stream_iter it;
        stream_id lo = { 0, 0 }, hi = { UINT64_MAX, UINT64_MAX };
        stream_iter_init(&it, s, &lo, &hi, 0);
        CU_ASSERT(stream_iter_next(&it));
        CU_ASSERT(it.npairs == 1 && it.kvlen[1] == 1 && it.kv[1][0] == 'a');
        CU_ASSERT(stream_iter_next(&it));
        CU_ASSERT(it.id.ms == 6 && it.id.seq == 0 && it.kv[1][0] == 'b');
        CU_ASSERT(!stream_iter_next(&it));
        stream_iter_release(&it);
        obj_decr_ref(o);
        cbstr_free(b);
    }
    shard_destroy(sh);
}

static void test_corrupt(void)
{
    cb_shard *sh = shard_create(0, 16, NULL, seed);
    const int T = RDB_TYPE_STREAM_LISTPACKS_2;
    struct { const char *spec; uint64_t length, last; const char *needle; } nodes[] = {
        { "2 0 1 f 0  2 0 0 a 4  0 1 0 1 f b 7", 2, 6, "lp-count does not match" },
        { "2 0 1 f 1  2 0 0 a 4  0 1 0 1 f b 6", 2, 6, "terminator is not 0" },
        { "2 0 1 f 0  2 0 0 a 4  0 0 0 1 f b 6", 2, 6, "entry IDs out of order" },
        { "2 0 1 f 0  2 1 0 a 4  0 -2 0 1 f b 6", 2, 6, "entry IDs out of order" },
        { "2 0 1 f 0  7 0 0 a 4  0 1 0 1 f b 6", 2, 6, "unknown entry flags" },
        { "2 0 1 f 0  2 0 0 a 4  1 1 1 1 f b 6", 2, 6, "do not match the entries' flags" },
        { "3 0 1 f 0  2 0 0 a 4  0 1 0 1 f b 6", 3, 6, "" },
        { "2 0 1 f 0  2 0 0 a 4  0 1 0 1 f b 6 9", 2, 6, "elements after its entries" },
        { "2 0 1 f 0  2 0 0 a 4  0 1 1 9 f b 6", 2, 6, "field count out of range" },
        { "2 0 9 f 0", 2, 6, "master field count out of range" },
        { "x 0 1 f 0  2 0 0 a 4", 1, 6, "bad live entry count" },
        { "0 0 1 f 0", 0, 6, "Empty listpack inside stream" },
        { "2 0 1 f 0  2 0 0 a 4  0 1 0 1 f b 6", 3, 6, "Stream length inconsistent" },
        { "2 0 1 f 0  2 0 0 a 4  0 1 0 1 f b 6", 2, 5, "last ID is below its last entry" },
        { "-1 0 1 f 0", 0, 6, "entry counts out of range" },
    };
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        cbstr b = len(one_node(nodes[i].spec, nodes[i].length, nodes[i].last, 1), 0);
        expect_bad(sh, T, b, nodes[i].needle);
        cbstr_free(b);
    }
    /* A node key that is not 16 bytes; a listpack with no elements. */
    cbstr b = key16(len(cbstr_new("", 0), 1), 5, 0, 15);
    expect_bad(sh, T, b, "not the size of a stream ID");
    cbstr_free(b);
    b = lp(key16(len(cbstr_new("", 0), 1), 5, 0, 16), "");
    expect_bad(sh, T, b, "Empty listpack inside stream");
    cbstr_free(b);
    /* A second node keyed below the first node's entries. */
    b = len(cbstr_new("", 0), 2);
    b = lp(key16(b, 5, 0, 16), GOOD_NODE);
    b = lp(key16(b, 6, 0, 16), "1 0 1 f 0  2 0 0 a 4");
    expect_bad(sh, T, b, "node key is not above the previous entries");
    cbstr_free(b);
    /* A damaged listpack (its end byte). */
    rlp_writer w;
    rlp_init(&w);
    rlp_append(&w, "1", 1);
    cbstr l = rlp_finish(&w);
    l[cbstr_len(l) - 1] = 0x7f;
    b = key16(len(cbstr_new("", 0), 1), 5, 0, 16);
    b = rdb_enc_string(b, l, cbstr_len(l), 0);
    expect_bad(sh, T, b, "bad stream listpack payload");
    cbstr_free(b);
    cbstr_free(l);

    /* Groups. */
    struct { int what; const char *needle; } gr[] = {
        { 0, "Duplicated consumer group name" },
        { 1, "Duplicated global PEL entry" },
        { 2, "Consumer entry not found in group global PEL" },
        { 3, "Duplicated consumer PEL entry" },
        { 4, "Stream CG PEL entry without consumer" },
        { 5, "Duplicated consumer name" },
        { 6, "Unexpected EOF" },
        { 7, "Stream consumer group PEL out of order" },
        { 8, "Stream consumer PEL out of order" },
        { 9, "Stream consumers out of order" },
        { 10, "Stream consumer groups out of order" },
    };
    for (size_t i = 0; i < sizeof(gr) / sizeof(gr[0]); i++) {
        int what = gr[i].what;
        b = one_node(GOOD_NODE, 2, 6, 1);
        b = len(b, what == 0 || what == 10 ? 2 : 1);
        b = group_hdr(b, "g", 1);
        int two_nacks = what == 1 || what == 7 || what == 8;
        b = len(b, two_nacks ? 2 : 1);
        b = len(ms_time(raw_id(b, what == 7 ? 6 : 5, 0), 1), 1);
        if (what == 1) b = len(ms_time(raw_id(b, 5, 0), 1), 1);
        if (what == 7) b = len(ms_time(raw_id(b, 5, 0), 1), 1);
        if (what == 8) b = len(ms_time(raw_id(b, 6, 0), 1), 1);
        int ncons = what == 4 ? 0 : what == 5 || what == 9 ? 2 : 1;
        b = len(b, ncons);
        for (int c = 0; c < ncons; c++) {
            const char *cname = what == 9 && c == 1 ? "b" : "c";
            b = ms_time(rdb_enc_string(b, cname, 1, 0), 1);
            if (c == 1) {
                b = len(b, 0);
                continue;
            }
            b = len(b, what == 3 || what == 8 ? 2 : what == 6 ? 9 : 1);
            b = raw_id(b, what == 2 || what == 8 ? 6 : 5, 0);
            if (what == 3 || what == 8) b = raw_id(b, 5, 0);
        }
        if (what == 0) b = len(len(len(group_hdr(b, "g", 1), 0), 0), 0);
        if (what == 10) b = len(len(len(group_hdr(b, "a", 1), 0), 0), 0);
        expect_bad(sh, T, b, gr[i].needle);
        cbstr_free(b);
    }
    shard_destroy(sh);
}

/* ------------------------------------------------------------ fuzzing */

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void test_fuzz(void)
{
    cb_shard *sh = shard_create(0, 16, NULL, seed);
    uint64_t x = 0x2545F4914F6CDD1Dull;
    long ok = 0, bad = 0;
    int sizes[] = { 1, 12, 40 };
    for (size_t k = 0; k < 3; k++) {
        cb_obj *o = sample(sizes[k], 1);
        for (int compress = 0; compress < 2; compress++) {
            cbstr b = encode(o, compress);
            size_t n = cbstr_len(b);
            /* Every truncation point. */
            for (size_t cut = 0; cut < n; cut++) {
                char *err = NULL;
                cb_obj *v = rdb_dec_object_mem(sh, RDB_TYPE_STREAM_LISTPACKS_2, b, cut, &err);
                CU_ASSERT_PTR_NULL(v);
                if (v) obj_decr_ref(v);
                cb_free(err);
            }
            for (int round = 0; round < 1500; round++) {
                cbstr c = cbstr_dup(b);
                int flips = 1 + (int)(rng_next(&x) % 3);
                for (int f = 0; f < flips; f++) {
                    size_t at = rng_next(&x) % n;
                    if (round % 3 == 0) c[at] = (char)rng_next(&x);
                    else c[at] = (char)(c[at] ^ (1u << (rng_next(&x) % 8)));
                }
                char *err = NULL;
                int type = round % 5 ? RDB_TYPE_STREAM_LISTPACKS_2 : RDB_TYPE_STREAM_LISTPACKS;
                cb_obj *v = rdb_dec_object_mem(sh, type, c, n, &err);
                if (v) {
                    /* Whatever was accepted must encode and iterate. */
                    ok++;
                    cbstr again = encode(v, 0);
                    cbstr_free(again);
                    unsigned char d[20];
                    digest_of(v, d);
                    obj_decr_ref(v);
                } else {
                    bad++;
                    CU_ASSERT_PTR_NOT_NULL(err);
                    cb_free(err);
                }
                cbstr_free(c);
            }
            cbstr_free(b);
        }
        obj_decr_ref(o);
    }
    CU_ASSERT(bad > 0);
    (void)ok;
    shard_destroy(sh);
}

/* ------------------------------------------------------------ fixtures */

static char fixdir[4096];

static void find_fixtures(void)
{
    char probe[4200];
    snprintf(fixdir, sizeof(fixdir), "%s", __FILE__);
    char *slash = strrchr(fixdir, '/');
    if (slash) {
        *slash = '\0';
        strncat(fixdir, "/../fixtures/rdb", sizeof(fixdir) - strlen(fixdir) - 1);
        snprintf(probe, sizeof(probe), "%s/stream.rdb", fixdir);
        if (access(probe, R_OK) == 0) return;
    }
    const char *cands[2] = { "tests/fixtures/rdb", "../tests/fixtures/rdb" };
    for (int i = 0; i < 2; i++) {
        snprintf(probe, sizeof(probe), "%s/stream.rdb", cands[i]);
        if (access(probe, R_OK) == 0) {
            snprintf(fixdir, sizeof(fixdir), "%s", cands[i]);
            return;
        }
    }
}

static const char *fixture(const char *name)
{
    static char path[4400];
    snprintf(path, sizeof(path), "%s/%s", fixdir, name);
    return path;
}

static void test_fixtures(void)
{
    const char *good[] = { "stream.rdb", "stream_plain.rdb", "stream_v9.rdb" };
    for (size_t i = 0; i < 3; i++) {
        cb_shard *sh[2] = { shard_create(0, 16, NULL, seed), shard_create(1, 16, NULL, seed) };
        char *err = NULL;
        rdb_load_info info = { 0 };
        CU_ASSERT_EQUAL_FATAL(rdb_load_file_ex(sh, 2, fixture(good[i]), &info, &err), 0);
        CU_ASSERT_EQUAL(info.keys_loaded, 7);
        CU_ASSERT_EQUAL(info.expires, 1);
        unsigned char d[20];
        char hex[41];
        digest_dataset(sh, 2, d);
        digest_to_hex(d, hex);
        CU_ASSERT_STRING_EQUAL(hex, STREAM_FIXTURE_DIGEST);
        shard_destroy(sh[0]);
        shard_destroy(sh[1]);
        /* Check mode: everything decoded and counted, nothing kept. */
        cb_shard *one = shard_create(0, 16, NULL, seed);
        rdb_load_info chk = { .flags = RDB_LOAD_CHECK };
        CU_ASSERT_EQUAL(rdb_load_file_ex(&one, 1, fixture(good[i]), &chk, &err), 0);
        CU_ASSERT_EQUAL(chk.keys_loaded, 7);
        CU_ASSERT_EQUAL(chk.expires, 1);
        CU_ASSERT_EQUAL(dict_size(one->dbs[0].keys), 0);
        shard_destroy(one);
    }
    FILE *f = fopen(fixture("corrupt.txt"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#') continue;
        char name[256], text[512];
        unsigned long long off;
        if (sscanf(line, "%255[^\t]\t%llu\t%511[^\n]", name, &off, text) != 3) continue;
        cb_shard *sh = shard_create(0, 16, NULL, seed);
        for (int mode = 0; mode < 2; mode++) {
            char *err = NULL;
            rdb_load_info info = { .flags = mode ? RDB_LOAD_CHECK : 0 };
            CU_ASSERT_EQUAL(rdb_load_file_ex(&sh, 1, fixture(name), &info, &err), -1);
            CU_ASSERT_EQUAL(info.err_record, off);
            CU_ASSERT_PTR_NOT_NULL(err ? strstr(err, text) : NULL);
            if (info.err_record != off || !err || !strstr(err, text))
                fprintf(stderr, "\n%s: at %llu: %s\n", name,
                        (unsigned long long)info.err_record, err ? err : "(none)");
            CU_ASSERT_EQUAL(dict_size(sh->dbs[0].keys), 0);
            cb_free(err);
        }
        shard_destroy(sh);
        n++;
    }
    fclose(f);
    CU_ASSERT(n >= 9);
}

int main(void)
{
    find_fixtures();
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("rdb_stream", NULL, NULL);
    CU_add_test(s, "round trips", test_round_trip);
    CU_add_test(s, "hand-made payloads, type 15 and 19", test_good_and_old_type);
    CU_add_test(s, "corrupt payloads", test_corrupt);
    CU_add_test(s, "fuzzed payloads", test_fuzz);
    CU_add_test(s, "oracle and corrupt fixtures", test_fixtures);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
