/* rdb_stream.c — streams in RDB files and DUMP payloads, as Redis 7.0
 * writes them (RDB_TYPE_STREAM_LISTPACKS_2) and as Redis 5/6 wrote them
 * (RDB_TYPE_STREAM_LISTPACKS, read only). The layout, in order:
 *
 *   len nodes, then per node: string key (the node's master ID, 16 bytes:
 *     ms and seq big endian) and string listpack (below);
 *   len length, len last_id.ms, len last_id.seq;
 *   [type 19 only] len first_id.ms/.seq, len max_deleted.ms/.seq,
 *     len entries_added;
 *   len groups, then per group: string name, len last_id.ms/.seq,
 *     [type 19 only] len entries_read (-1 as 2^64-1), len PEL size, per
 *     nack: 16 raw bytes ID, 8 bytes LE delivery time (ms), len delivery
 *     count; len consumers, per consumer: string name, 8 bytes LE seen
 *     time, len PEL size, per entry its 16 raw bytes ID (which must be in
 *     the group's PEL, owned by nobody else).
 *
 * A node's listpack (Redis's t_stream.c format): live count, deleted count,
 * master field count, the master fields, 0; then per entry flags (1
 * deleted, 2 same fields as the master), ms - master.ms, seq - master.seq,
 * [field count, field, value ... | value ...], and the entry's element
 * count less one (lp-count). Our nodes (store/ds/stream.h) group entries
 * as Redis does, so nodes map one to one, tombstones included.
 *
 * The reader validates everything before it trusts it: the listpack
 * itself, every element of every entry, ID order across the stream, the
 * counts against the entries, and the group records; a bad payload is
 * an error, never a crash. Groups, consumers and PELs must come in the
 * order Redis writes them (sorted), which keeps every insert an append.
 */
#include <stdio.h>
#include <string.h>

#include "listpack.h"
#include "rdb.h"
#include "rdb_stream.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/object.h"
#include "../store/stream_cg.h"
#include "../store/t_stream.h"
#include "../store/ds/stream.h"

#define SF_DELETED 1
#define SF_SAMEFIELDS 2

/* ------------------------------------------------------------------------
 * Encoder
 * ---------------------------------------------------------------------- */

static void id_to_key(const stream_id *id, unsigned char k[16])
{
    for (int i = 0; i < 8; i++) {
        k[i] = (unsigned char)(id->ms >> (56 - 8 * i));
        k[8 + i] = (unsigned char)(id->seq >> (56 - 8 * i));
    }
}

static void key_to_id(const unsigned char k[16], stream_id *id)
{
    id->ms = id->seq = 0;
    for (int i = 0; i < 8; i++) {
        id->ms = (id->ms << 8) | k[i];
        id->seq = (id->seq << 8) | k[8 + i];
    }
}

static void lp_int(rlp_writer *w, long long v)
{
    char num[CB_LL2STR_MAX];
    rlp_append(w, num, util_ll2str(num, sizeof(num), v));
}

static cbstr put_ms_time(cbstr b, long long t)
{
    unsigned char buf[8];
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)t >> (8 * i));
    return cbstr_cat(b, buf, 8);
}

/* One of our nodes as Redis's listpack. */
static cbstr node_listpack(const stream_node *n)
{
    rlp_writer w;
    rlp_init(&w);
    lp_int(&w, n->live);
    lp_int(&w, n->deleted);
    lp_int(&w, n->nmaster);
    const char **f = cb_malloc((n->nmaster + 1) * sizeof(*f));
    size_t *fl = cb_malloc((n->nmaster + 1) * sizeof(*fl));
    stream_node_master_fields(n, f, fl);
    for (size_t i = 0; i < n->nmaster; i++) rlp_append(&w, f[i], fl[i]);
    cb_free(f);
    cb_free(fl);
    lp_int(&w, 0);
    stream_raw_entry e = { 0 };
    size_t off = n->entries_off;
    while (stream_node_next_raw(n, &off, &e)) {
        int flags = (e.deleted ? SF_DELETED : 0) | (e.same ? SF_SAMEFIELDS : 0);
        lp_int(&w, flags);
        /* Differences wrap as Redis's int64 casts do. */
        lp_int(&w, (long long)(e.id.ms - n->master.ms));
        lp_int(&w, (long long)(e.id.seq - n->master.seq));
        if (!e.same) {
            lp_int(&w, (long long)e.npairs);
            for (size_t i = 0; i < 2 * e.npairs; i++) rlp_append(&w, e.kv[i], e.kvlen[i]);
            lp_int(&w, (long long)(2 * e.npairs + 4));
        } else {
            for (size_t i = 0; i < e.npairs; i++) rlp_append(&w, e.kv[2 * i + 1], e.kvlen[2 * i + 1]);
            lp_int(&w, (long long)(e.npairs + 3));
        }
    }
    stream_raw_entry_release(&e);
    return rlp_finish(&w);
}

static cbstr put_raw_id(cbstr b, const stream_id *id)
{
    unsigned char k[16];
    id_to_key(id, k);
    return cbstr_cat(b, k, 16);
}

cbstr rdb_enc_stream(cbstr b, const cb_obj *o, int compress)
{
    const stream *s = o->ptr;
    b = rdb_enc_len(b, s->nnodes);
    for (size_t i = 0; i < s->nnodes; i++) {
        unsigned char k[16];
        id_to_key(&s->nodes[i]->master, k);
        b = rdb_enc_string(b, k, 16, compress);
        cbstr lp = node_listpack(s->nodes[i]);
        b = rdb_enc_string(b, lp, cbstr_len(lp), compress);
        cbstr_free(lp);
    }
    b = rdb_enc_len(b, s->length);
    b = rdb_enc_len(b, s->last_id.ms);
    b = rdb_enc_len(b, s->last_id.seq);
    b = rdb_enc_len(b, s->first_id.ms);
    b = rdb_enc_len(b, s->first_id.seq);
    b = rdb_enc_len(b, s->max_deleted.ms);
    b = rdb_enc_len(b, s->max_deleted.seq);
    b = rdb_enc_len(b, s->entries_added);
    const cg_set *set = s->cgroups;
    size_t ng = set ? set->n : 0;
    b = rdb_enc_len(b, ng);
    for (size_t i = 0; i < ng; i++) {
        const cg_group *g = set->g[i];
        b = rdb_enc_string(b, g->name, cbstr_len(g->name), compress);
        b = rdb_enc_len(b, g->last_id.ms);
        b = rdb_enc_len(b, g->last_id.seq);
        b = rdb_enc_len(b, (uint64_t)g->entries_read);
        b = rdb_enc_len(b, g->pel.n);
        for (size_t j = 0; j < g->pel.n; j++) {
            const cg_nack *nk = g->pel.v[j];
            b = put_raw_id(b, &nk->id);
            b = put_ms_time(b, nk->delivery_time);
            b = rdb_enc_len(b, nk->delivery_count);
        }
        b = rdb_enc_len(b, g->ncons);
        for (size_t j = 0; j < g->ncons; j++) {
            const cg_consumer *cn = g->cons[j];
            b = rdb_enc_string(b, cn->name, cbstr_len(cn->name), compress);
            b = put_ms_time(b, cn->seen_time);
            b = rdb_enc_len(b, cn->pel.n);
            for (size_t k = 0; k < cn->pel.n; k++) b = put_raw_id(b, &cn->pel.v[k]->id);
        }
    }
    return b;
}

/* ------------------------------------------------------------------------
 * Node decoder: a validated listpack's elements into one of our nodes
 * ---------------------------------------------------------------------- */

/* The elements of one listpack, copied out (integers as decimal text). */
typedef struct lp_elems {
    cbstr bytes;
    size_t *off, *len;
    size_t n, cap;
} lp_elems;

static int collect_elem(void *priv, const char *p, size_t len)
{
    lp_elems *el = priv;
    if (el->n == el->cap) {
        el->cap = el->cap ? el->cap * 2 : 64;
        el->off = cb_realloc(el->off, el->cap * sizeof(*el->off));
        el->len = cb_realloc(el->len, el->cap * sizeof(*el->len));
    }
    el->off[el->n] = cbstr_len(el->bytes);
    el->len[el->n] = len;
    el->bytes = cbstr_cat(el->bytes, p, len);
    el->n++;
    return 0;
}

/* A cursor over the elements with the checks each read needs. */
typedef struct node_cur {
    const lp_elems *el;
    size_t i;
    const char *why;
} node_cur;

static const char *elem(const node_cur *c, size_t i, size_t *len)
{
    *len = c->el->len[i];
    return c->el->bytes + c->el->off[i];
}

static int take_int(node_cur *c, long long *v, const char *what)
{
    size_t len;
    if (c->i >= c->el->n) {
        c->why = what;
        return -1;
    }
    const char *p = elem(c, c->i, &len);
    if (!util_str2ll(p, len, v)) {
        c->why = what;
        return -1;
    }
    c->i++;
    return 0;
}

/* Entries must rise strictly through the stream: prev is the last ID seen
 * (have_prev 0 before the first). Builds the node as it goes; on failure
 * sets c->why (the caller frees the whole stream). */
static int decode_node(stream *s, const stream_id *master, node_cur *c, stream_id *prev,
                       int *have_prev)
{
    long long live, deleted, nf, v;
    if (take_int(c, &live, "bad live entry count") < 0 ||
        take_int(c, &deleted, "bad deleted entry count") < 0 ||
        take_int(c, &nf, "bad master field count") < 0)
        return -1;
    if (live < 0 || deleted < 0 || live > (long long)c->el->n ||
        deleted > (long long)c->el->n) {
        c->why = "entry counts out of range";
        return -1;
    }
    if (nf < 0 || (size_t)nf > c->el->n - c->i) {
        c->why = "master field count out of range";
        return -1;
    }
    if (live + deleted == 0) {
        c->why = "Empty listpack inside stream";
        return -1;
    }
    if (*have_prev && stream_id_cmp(master, prev) <= 0) {
        c->why = "node key is not above the previous entries";
        return -1;
    }
    size_t nfs = (size_t)nf, mf = c->i;
    const char **kv = cb_malloc((2 * nfs + 2) * sizeof(*kv));
    size_t *kvlen = cb_malloc((2 * nfs + 2) * sizeof(*kvlen));
    for (size_t j = 0; j < nfs; j++) kv[j] = elem(c, mf + j, &kvlen[j]);
    stream_load_node(s, master, kv, kvlen, nfs);
    c->i += nfs;
    size_t cap = 2 * nfs + 2;
    long long seen_live = 0, seen_deleted = 0;
    if (take_int(c, &v, "missing master entry terminator") < 0) goto fail;
    if (v != 0) {
        c->why = "master entry terminator is not 0";
        goto fail;
    }
    for (long long k = 0; k < live + deleted; k++) {
        long long flags, msd, seqd, np, lpc;
        if (take_int(c, &flags, "bad entry flags") < 0) goto fail;
        if (flags < 0 || flags > (SF_DELETED | SF_SAMEFIELDS)) {
            c->why = "unknown entry flags";
            goto fail;
        }
        if (take_int(c, &msd, "bad entry ms delta") < 0 ||
            take_int(c, &seqd, "bad entry seq delta") < 0)
            goto fail;
        stream_id id = { master->ms + (uint64_t)msd, master->seq + (uint64_t)seqd };
        if (stream_id_cmp(&id, master) < 0 || (*have_prev && stream_id_cmp(&id, prev) <= 0)) {
            c->why = "entry IDs out of order";
            goto fail;
        }
        int same = (flags & SF_SAMEFIELDS) != 0;
        if (same) {
            np = nf;
        } else {
            if (take_int(c, &np, "bad entry field count") < 0) goto fail;
            if (np < 0 || (size_t)np > (c->el->n - c->i) / 2) {
                c->why = "entry field count out of range";
                goto fail;
            }
        }
        size_t nps = (size_t)np, need = same ? nps : 2 * nps;
        if (need > c->el->n - c->i) {
            c->why = "entry runs past the listpack";
            goto fail;
        }
        if (2 * nps + 2 > cap) {
            cap = 2 * nps + 2;
            kv = cb_realloc(kv, cap * sizeof(*kv));
            kvlen = cb_realloc(kvlen, cap * sizeof(*kvlen));
        }
        for (size_t j = 0; j < nps; j++) {
            if (same) {
                kv[2 * j] = elem(c, mf + j, &kvlen[2 * j]);
                kv[2 * j + 1] = elem(c, c->i + j, &kvlen[2 * j + 1]);
            } else {
                kv[2 * j] = elem(c, c->i + 2 * j, &kvlen[2 * j]);
                kv[2 * j + 1] = elem(c, c->i + 2 * j + 1, &kvlen[2 * j + 1]);
            }
        }
        c->i += need;
        if (take_int(c, &lpc, "bad entry lp-count") < 0) goto fail;
        if (lpc != (same ? np + 3 : 2 * np + 4)) {
            c->why = "entry lp-count does not match its fields";
            goto fail;
        }
        int del = (flags & SF_DELETED) != 0;
        stream_load_entry(s, &id, del, kv, kvlen, nps);
        if (del) seen_deleted++;
        else seen_live++;
        *prev = id;
        *have_prev = 1;
    }
    if (c->i != c->el->n) {
        c->why = "listpack has elements after its entries";
        goto fail;
    }
    if (seen_live != live || seen_deleted != deleted) {
        c->why = "entry counts do not match the entries' flags";
        goto fail;
    }
    cb_free(kv);
    cb_free(kvlen);
    return 0;
fail:
    cb_free(kv);
    cb_free(kvlen);
    return -1;
}

/* ------------------------------------------------------------------------
 * Decoder
 * ---------------------------------------------------------------------- */

static int read_id_lens(struct rdb_reader *r, stream_id *id)
{
    return rdbr_len(r, &id->ms) < 0 || rdbr_len(r, &id->seq) < 0 ? -1 : 0;
}

static int read_raw_id(struct rdb_reader *r, stream_id *id)
{
    unsigned char k[16];
    if (rdbr_raw(r, k, 16) < 0) return -1;
    key_to_id(k, id);
    return 0;
}

static int read_ms_time(struct rdb_reader *r, long long *t)
{
    unsigned char b[8];
    if (rdbr_raw(r, b, 8) < 0) return -1;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    *t = (long long)v;
    return 0;
}

static int read_nodes(struct rdb_reader *r, stream *s, stream_id *last_entry, int *have_last)
{
    uint64_t nodes;
    if (rdbr_len(r, &nodes) < 0) return -1;
    /* Each node takes at least a few bytes: a bigger count is a lie. */
    if (rdbr_avail(r, nodes) < 0) return -1;
    lp_elems el = { .bytes = cbstr_with_cap(256) };
    int rc = 0;
    for (uint64_t i = 0; i < nodes && rc == 0; i++) {
        uint64_t at = rdbr_offset(r);
        char *key, *lp;
        size_t kl, lpl;
        if (rdbr_string(r, &key, &kl) < 0) {
            rc = -1;
            break;
        }
        if (kl != 16) {
            cb_free(key);
            rdbr_corrupt(r, at, "Stream node key entry is not the size of a stream ID");
            rc = -1;
            break;
        }
        stream_id master;
        key_to_id((unsigned char *)key, &master);
        cb_free(key);
        at = rdbr_offset(r);
        if (rdbr_string(r, &lp, &lpl) < 0) {
            rc = -1;
            break;
        }
        char why[256], msg[320];
        cbstr_clear(el.bytes);
        el.n = 0;
        long cnt = rlp_walk((unsigned char *)lp, lpl, collect_elem, &el, why, sizeof(why));
        cb_free(lp);
        if (cnt < 0) {
            snprintf(msg, sizeof(msg), "bad stream listpack payload: %s", why);
            rdbr_corrupt(r, at, msg);
            rc = -1;
            break;
        }
        if (cnt == 0) {
            rdbr_corrupt(r, at, "Empty listpack inside stream");
            rc = -1;
            break;
        }
        node_cur c = { &el, 0, NULL };
        if (decode_node(s, &master, &c, last_entry, have_last) < 0) {
            snprintf(msg, sizeof(msg), "bad stream listpack node: %s (element %zu)", c.why, c.i);
            rdbr_corrupt(r, at, msg);
            rc = -1;
        }
    }
    cbstr_free(el.bytes);
    cb_free(el.off);
    cb_free(el.len);
    return rc;
}

static int read_group(struct rdb_reader *r, stream *s, int type)
{
    uint64_t at = rdbr_offset(r);
    char *name;
    size_t nl;
    stream_id last;
    if (rdbr_string(r, &name, &nl) < 0) return -1;
    if (read_id_lens(r, &last) < 0) {
        cb_free(name);
        return -1;
    }
    long long er;
    if (type == RDB_TYPE_STREAM_LISTPACKS_2) {
        uint64_t v;
        if (rdbr_len(r, &v) < 0) {
            cb_free(name);
            return -1;
        }
        er = (long long)v;
    } else {
        er = stream_cg_estimate_entries_read(s, &last);
    }
    cg_group *g;
    int rc = stream_cg_load_group(s, name, nl, &last, er, &g);
    cb_free(name);
    if (rc) {
        rdbr_corrupt(r, at, rc == -1 ? "Duplicated consumer group name"
                                     : "Stream consumer groups out of order");
        return -1;
    }
    uint64_t npel;
    if (rdbr_len(r, &npel) < 0) return -1;
    if (npel > UINT64_MAX / 25 || rdbr_avail(r, npel * 25) < 0) return -1;
    for (uint64_t i = 0; i < npel; i++) {
        stream_id id;
        long long t;
        uint64_t cnt;
        at = rdbr_offset(r);
        if (read_raw_id(r, &id) < 0 || read_ms_time(r, &t) < 0 || rdbr_len(r, &cnt) < 0)
            return -1;
        rc = stream_cg_load_nack(g, &id, t, cnt);
        if (rc) {
            rdbr_corrupt(r, at, rc == -1 ? "Duplicated global PEL entry loading stream "
                                           "consumer group"
                                         : "Stream consumer group PEL out of order");
            return -1;
        }
    }
    uint64_t ncons;
    if (rdbr_len(r, &ncons) < 0) return -1;
    if (ncons > UINT64_MAX / 10 || rdbr_avail(r, ncons * 10) < 0) return -1;
    for (uint64_t i = 0; i < ncons; i++) {
        long long seen;
        at = rdbr_offset(r);
        if (rdbr_string(r, &name, &nl) < 0) return -1;
        if (read_ms_time(r, &seen) < 0) {
            cb_free(name);
            return -1;
        }
        cg_consumer *cn;
        rc = stream_cg_load_consumer(g, name, nl, seen, &cn);
        cb_free(name);
        if (rc) {
            rdbr_corrupt(r, at, rc == -1 ? "Duplicated consumer name in a stream consumer group"
                                         : "Stream consumers out of order");
            return -1;
        }
        uint64_t n;
        if (rdbr_len(r, &n) < 0) return -1;
        if (n > UINT64_MAX / 16 || rdbr_avail(r, n * 16) < 0) return -1;
        for (uint64_t j = 0; j < n; j++) {
            stream_id id;
            at = rdbr_offset(r);
            if (read_raw_id(r, &id) < 0) return -1;
            rc = stream_cg_load_claim(g, cn, &id);
            if (rc == -3) {
                rdbr_corrupt(r, at, "Stream consumer PEL out of order");
                return -1;
            }
            if (rc == -1) {
                rdbr_corrupt(r, at, "Consumer entry not found in group global PEL");
                return -1;
            }
            if (rc == -2) {
                rdbr_corrupt(r, at, "Duplicated consumer PEL entry loading a stream consumer "
                                    "group");
                return -1;
            }
        }
    }
    return 0;
}

cb_obj *rdb_dec_stream(struct rdb_reader *r, struct cb_shard *sh, int type)
{
    (void)sh; /* streams keep no per-shard encoding limits at load */
    cb_obj *o = stream_obj_create();
    stream *s = o->ptr;
    stream_id last_entry = { 0, 0 };
    int have_last = 0;
    if (read_nodes(r, s, &last_entry, &have_last) < 0) goto fail;
    uint64_t at = rdbr_offset(r), length;
    if (rdbr_len(r, &length) < 0 || read_id_lens(r, &s->last_id) < 0) goto fail;
    if (length != s->length) {
        rdbr_corrupt(r, at, "Stream length inconsistent with its entries");
        goto fail;
    }
    if (have_last && stream_id_cmp(&s->last_id, &last_entry) < 0) {
        rdbr_corrupt(r, at, "Stream last ID is below its last entry");
        goto fail;
    }
    if (type == RDB_TYPE_STREAM_LISTPACKS_2) {
        if (read_id_lens(r, &s->first_id) < 0 || read_id_lens(r, &s->max_deleted) < 0 ||
            rdbr_len(r, &s->entries_added) < 0)
            goto fail;
    } else {
        /* Files before 7.0: what Redis 7.0 derives when it loads them. */
        s->max_deleted.ms = s->max_deleted.seq = 0;
        s->entries_added = s->length;
        /* An empty one gets the highest ID, as Redis's streamGetEdgeID gives. */
        if (!stream_edge_id(s, 1, &s->first_id)) s->first_id.ms = s->first_id.seq = UINT64_MAX;
    }
    uint64_t ngroups;
    if (rdbr_len(r, &ngroups) < 0) goto fail;
    if (rdbr_avail(r, ngroups) < 0) goto fail;
    for (uint64_t i = 0; i < ngroups; i++)
        if (read_group(r, s, type) < 0) goto fail;
    at = rdbr_offset(r);
    if (stream_cg_load_check(s) < 0) {
        rdbr_corrupt(r, at, "Stream CG PEL entry without consumer");
        goto fail;
    }
    return o;
fail:
    obj_decr_ref(o);
    return NULL;
}
