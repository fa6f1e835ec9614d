/* t_hll.c — the HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG and
 * PFSELFTEST. A sketch is an ordinary string value (TYPE string, OBJECT
 * ENCODING raw) whose bytes follow Redis's layout; the engine is ds/hll.c.
 * Checks come in Redis 7.0's order: type (WRONGTYPE), then the header
 * ("not a valid HyperLogLog"), then the payload while it is used
 * (INVALIDOBJ). PFCOUNT of one key writes the cached cardinality back, which
 * is a change (dirty, key signalled). Multi-key PFCOUNT and PFMERGE resolve
 * each key's shard; the rest run on c->shard.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "object.h"
#include "db.h"
#include "ds/hll.h"
#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"

static const char ERR_HLL_CORRUPT[] = "-INVALIDOBJ Corrupted HLL object detected";
static const char ERR_HLL_NOT_HLL[] = "-WRONGTYPE Key is not a valid HyperLogLog string value.";

/* The shard owning key argument i, clock set to the command's. */
static cb_shard *hll_key_shard(cb_client *c, int i, cb_db **db)
{
    cb_shard *s = client_key_shard(c, ARGP(c, i), ARGL(c, i));
    if (s == c->shard) {
        *db = c->db;
        return s;
    }
    shard_set_time(s, c->shard->now_ms);
    *db = client_shard_db(c, s);
    return s;
}

/* 1 when o is a string that looks like a sketch; else replies and 0. */
static int hll_check(cb_client *c, const cb_obj *o)
{
    if (o->type != OBJ_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return 0;
    }
    if (o->encoding == OBJ_ENC_INT || !hll_header_ok(o->ptr, cbstr_len(o->ptr))) {
        reply_error(c, ERR_HLL_NOT_HLL);
        return 0;
    }
    return 1;
}

/* Makes key i's value a private raw string (Redis's unshare) and returns it. */
static cb_obj *hll_unshare(cb_shard *s, cb_db *db, cb_client *c, int i, cb_obj *o)
{
    if (o->refcount == 1 && o->encoding == OBJ_ENC_RAW) return o;
    cb_obj *n = obj_new_raw(o->ptr, cbstr_len(o->ptr));
    db_overwrite(s, db, ARGP(c, i), ARGL(c, i), n);
    return n;
}

static void hll_changed(cb_shard *s, cb_db *db, cb_client *c, int i, uint64_t n)
{
    db_signal_modified(s, db, ARGP(c, i), ARGL(c, i));
    s->dirty += n;
}

void cmd_pfadd(cb_client *c)
{
    cb_obj *o = db_lookup_write(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
    uint64_t updated = 0;
    if (!o) {
        o = obj_new_from_cbstr(hll_new());
        db_add(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), o);
        updated++;
    } else {
        if (!hll_check(c, o)) return;
        o = hll_unshare(c->shard, c->db, c, 1, o);
    }
    long long max = c->shard->set->hll_sparse_max_bytes;
    for (int j = 2; j < c->argc; j++) {
        cbstr s = o->ptr;
        int r = hll_add(&s, ARGP(c, j), ARGL(c, j), max);
        o->ptr = s;
        if (r < 0) {
            reply_error(c, ERR_HLL_CORRUPT);
            return;
        }
        updated += (uint64_t)r;
    }
    if (updated) {
        hll_cache_invalidate(o->ptr);
        hll_changed(c->shard, c->db, c, 1, updated);
        NOTIFY_ARG(c, NOTIFY_STRING, "pfadd", 1);
    }
    reply_int(c, updated ? 1 : 0);
}

void cmd_pfcount(cb_client *c)
{
    if (c->argc > 2) {
        uint8_t *max = cb_calloc(HLL_REGISTERS);
        for (int j = 1; j < c->argc; j++) {
            cb_db *db;
            cb_shard *s = hll_key_shard(c, j, &db);
            cb_obj *o = db_lookup_read(s, db, ARGP(c, j), ARGL(c, j), 0);
            if (!o) continue;
            if (!hll_check(c, o)) goto out;
            if (hll_merge_max(max, o->ptr, cbstr_len(o->ptr)) != 0) {
                reply_error(c, ERR_HLL_CORRUPT);
                goto out;
            }
        }
        reply_int(c, (long long)hll_count_raw(max));
    out:
        cb_free(max);
        return;
    }

    /* A read, as Redis 7.0 looks it up (hits, misses, "keymiss"; a replica
     * keeps an expired key), then a write's lookup for the cache update. */
    cb_obj *o = db_lookup_read(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), DB_LOOKUP_NOTOUCH);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    o = db_lookup_write(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
    if (!hll_check(c, o)) return;
    o = hll_unshare(c->shard, c->db, c, 1, o);
    uint64_t card;
    if (!hll_cache_get(o->ptr, &card)) {
        if (hll_count(o->ptr, cbstr_len(o->ptr), &card) != 0) {
            reply_error(c, ERR_HLL_CORRUPT);
            return;
        }
        hll_cache_set(o->ptr, card);
        hll_changed(c->shard, c->db, c, 1, 1);
    }
    reply_int(c, (long long)card);
}

void cmd_pfmerge(cb_client *c)
{
    uint8_t *max = cb_calloc(HLL_REGISTERS);
    int any_dense = 0;
    for (int j = 1; j < c->argc; j++) {
        cb_db *db;
        cb_shard *s = hll_key_shard(c, j, &db);
        cb_obj *o = db_lookup_read(s, db, ARGP(c, j), ARGL(c, j), 0);
        if (!o) continue;
        if (!hll_check(c, o)) goto out;
        if (hll_encoding(o->ptr) == HLL_ENC_DENSE) any_dense = 1;
        if (hll_merge_max(max, o->ptr, cbstr_len(o->ptr)) != 0) {
            reply_error(c, ERR_HLL_CORRUPT);
            goto out;
        }
    }

    cb_db *db;
    cb_shard *s = hll_key_shard(c, 1, &db);
    cb_obj *o = db_lookup_write(s, db, ARGP(c, 1), ARGL(c, 1));
    if (!o) {
        o = obj_new_from_cbstr(hll_new());
        db_add(s, db, ARGP(c, 1), ARGL(c, 1), o);
    } else {
        o = hll_unshare(s, db, c, 1, o);
    }
    cbstr v = o->ptr;
    /* One dense input makes the result dense, however few registers are set,
     * so that merging into a sparse key does not rebuild it run by run. */
    if (any_dense && hll_to_dense(&v) != 0) {
        o->ptr = v;
        reply_error(c, ERR_HLL_CORRUPT);
        goto out;
    }
    long long smax = s->set->hll_sparse_max_bytes;
    for (long i = 0; i < HLL_REGISTERS; i++)
        if (max[i]) hll_set(&v, i, max[i], smax);
    o->ptr = v;
    hll_cache_invalidate(o->ptr);
    hll_changed(s, db, c, 1, 1);
    /* Redis names PFMERGE's event "pfadd" too. */
    notify_keyspace_event(s, db, NOTIFY_STRING, "pfadd", ARGP(c, 1), ARGL(c, 1));
    reply_ok(c);
out:
    cb_free(max);
}

/* PFDEBUG <GETREG|DECODE|ENCODING|TODENSE> key. The key is looked up and
 * checked before the subcommand is, as Redis does. */
void cmd_pfdebug(cb_client *c)
{
    cb_obj *o = db_lookup_write(c->shard, c->db, ARGP(c, 2), ARGL(c, 2));
    if (!o) {
        reply_error(c, "The specified key does not exist");
        return;
    }
    if (!hll_check(c, o)) return;
    o = hll_unshare(c->shard, c->db, c, 2, o);
    const char *sub = ARGP(c, 1);

    if (arg_eq(c, 1, "getreg") || arg_eq(c, 1, "todense")) {
        int getreg = arg_eq(c, 1, "getreg");
        if (c->argc != 3) goto arity;
        int conv = 0;
        if (hll_encoding(o->ptr) == HLL_ENC_SPARSE) {
            cbstr v = o->ptr;
            int r = hll_to_dense(&v);
            o->ptr = v;
            if (r != 0) {
                reply_error(c, ERR_HLL_CORRUPT);
                return;
            }
            conv = 1;
            c->shard->dirty++; /* an encoding change is a write */
        }
        if (!getreg) {
            reply_int(c, conv);
            return;
        }
        const uint8_t *regs = (const uint8_t *)o->ptr + HLL_HDR_SIZE;
        reply_array_len(c, HLL_REGISTERS);
        for (long i = 0; i < HLL_REGISTERS; i++) reply_int(c, hll_dense_get(regs, i));
    } else if (arg_eq(c, 1, "decode")) {
        if (c->argc != 3) goto arity;
        if (hll_encoding(o->ptr) != HLL_ENC_SPARSE) {
            reply_error(c, "HLL encoding is not sparse");
            return;
        }
        cbstr d = hll_sparse_decode(o->ptr, cbstr_len(o->ptr));
        reply_bulk(c, d, cbstr_len(d));
        cbstr_free(d);
    } else if (arg_eq(c, 1, "encoding")) {
        if (c->argc != 3) goto arity;
        reply_status(c, hll_encoding(o->ptr) == HLL_ENC_DENSE ? "dense" : "sparse");
    } else {
        reply_errorf(c, "Unknown PFDEBUG subcommand '%.*s'", (int)ARGL(c, 1), sub);
    }
    return;
arity:
    reply_errorf(c, "Wrong number of arguments for the '%.*s' subcommand",
                 (int)ARGL(c, 1), sub);
}

/* ------------------------------------------------------------------------
 * PFSELFTEST: register packing round trip, then the same elements through a
 * sparse and a dense sketch, whose estimates must agree and stay within a
 * few standard errors of the truth.
 * ---------------------------------------------------------------------- */

static uint64_t selftest_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

void cmd_pfselftest(cb_client *c)
{
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    uint8_t *ref = cb_malloc(HLL_REGISTERS);
    cbstr dense = hll_new(), sparse = hll_new();
    const char *fail = NULL;
    char msg[128];

    if (hll_to_dense(&dense) != 0) fail = "TESTFAILED dense conversion";
    for (int round = 0; !fail && round < 100; round++) {
        uint8_t *regs = (uint8_t *)dense + HLL_HDR_SIZE;
        memset(regs, 0, HLL_DENSE_SIZE - HLL_HDR_SIZE);
        for (long i = 0; i < HLL_REGISTERS; i++) {
            ref[i] = (uint8_t)(selftest_rand(&rng) & HLL_REG_MAX);
            if (ref[i]) hll_set(&dense, i, ref[i], 0);
        }
        regs = (uint8_t *)dense + HLL_HDR_SIZE;
        for (long i = 0; i < HLL_REGISTERS; i++) {
            if (hll_dense_get(regs, i) != ref[i]) {
                snprintf(msg, sizeof msg,
                         "TESTFAILED Register error at index %ld: %u vs %u", i,
                         hll_dense_get(regs, i), ref[i]);
                fail = msg;
                break;
            }
        }
    }
    if (!fail) {
        memset(dense + HLL_HDR_SIZE, 0, HLL_DENSE_SIZE - HLL_HDR_SIZE);
        const double relerr = 1.04 / sqrt(HLL_REGISTERS);
        uint64_t checkpoint = 1;
        for (uint64_t j = 1; j <= 100000 && !fail; j++) {
            uint64_t ele = selftest_rand(&rng);
            hll_add(&dense, &ele, sizeof ele, 0);
            hll_add(&sparse, &ele, sizeof ele, (long long)1 << 40);
            if (j != checkpoint) continue;
            checkpoint *= 10;
            uint64_t a, b;
            if (hll_count(dense, cbstr_len(dense), &a) != 0 ||
                hll_count(sparse, cbstr_len(sparse), &b) != 0 || a != b) {
                fail = "TESTFAILED sparse and dense estimates differ";
                break;
            }
            double err = fabs((double)a - (double)j) / (double)j;
            double allowed = j < 500 ? relerr * 4 : relerr * 5;
            if (err > allowed) {
                snprintf(msg, sizeof msg,
                         "TESTFAILED Too big error. card:%llu abserr:%f",
                         (unsigned long long)j, fabs((double)a - (double)j));
                fail = msg;
            }
        }
    }
    cb_free(ref);
    cbstr_free(dense);
    cbstr_free(sparse);
    if (fail) reply_errorf(c, "-%s", fail);
    else reply_ok(c);
}
