/* stream.c — stream entries in compact nodes under a sorted node index.
 * The layout and why node sizes follow Redis's listpack sizes are in
 * stream.h. Entry layout inside a node's buffer:
 *   flags (1 byte: bit 0 deleted, bit 1 same fields as the master),
 *   varint ms - master.ms, varint seq,
 *   [varint npairs, then (varint len, bytes) field, value]...   or
 *   (varint len, bytes) value for each master field when bit 1 is set.
 * The master fields open the buffer as (varint len, bytes) each.
 */
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

#define F_DELETED 1
#define F_SAME 2

/* Redis caps a listpack node at 1 GB whatever stream-node-max-bytes says. */
#define STREAM_LP_MAX (1ull << 30)

/* ------------------------------------------------------------------------
 * Redis listpack sizes (node grouping)
 * ---------------------------------------------------------------------- */

size_t stream_lp_int_size(int64_t v)
{
    size_t enc;
    if (v >= 0 && v <= 127) enc = 1;
    else if (v >= -4096 && v <= 4095) enc = 2;
    else if (v >= -32768 && v <= 32767) enc = 3;
    else if (v >= -8388608 && v <= 8388607) enc = 4;
    else if (v >= INT32_MIN && v <= INT32_MAX) enc = 5;
    else enc = 9;
    return enc + 1;
}

static size_t lp_backlen(size_t l)
{
    if (l <= 127) return 1;
    if (l < 16383) return 2;
    if (l < 2097151) return 3;
    if (l < 268435455) return 4;
    return 5;
}

size_t stream_lp_str_size(const char *p, size_t len)
{
    long long v;
    if (len > 0 && len <= 20 && util_str2ll(p, len, &v)) return stream_lp_int_size(v);
    size_t enc = (len < 64 ? 1 : len < 4096 ? 2 : 5) + len;
    return enc + lp_backlen(enc);
}

static size_t node_lp_bytes(const stream_node *n)
{
    return n->lp_fixed + stream_lp_int_size(n->live) + stream_lp_int_size(n->deleted);
}

/* ------------------------------------------------------------------------
 * Buffers and varints
 * ---------------------------------------------------------------------- */

static void node_reserve(stream_node *n, size_t more)
{
    if (n->used + more <= n->cap) return;
    size_t cap = n->cap ? n->cap : 64;
    while (cap < n->used + more) cap *= 2;
    n->data = cb_realloc(n->data, cap);
    n->cap = cap;
}

static void put_varint(stream_node *n, uint64_t v)
{
    node_reserve(n, 10);
    while (v >= 0x80) {
        n->data[n->used++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    n->data[n->used++] = (unsigned char)v;
}

static uint64_t get_varint(const unsigned char *p, size_t *off)
{
    uint64_t v = 0;
    int shift = 0;
    for (;;) {
        unsigned char b = p[(*off)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
        shift += 7;
    }
}

static void put_bytes(stream_node *n, const char *p, size_t len)
{
    put_varint(n, len);
    node_reserve(n, len);
    if (len) memcpy(n->data + n->used, p, len);
    n->used += len;
}

static const char *get_bytes(const unsigned char *d, size_t *off, size_t *len)
{
    *len = get_varint(d, off);
    const char *p = (const char *)d + *off;
    *off += *len;
    return p;
}

/* Offset just past the entry at off; fills the id and flags. */
static size_t entry_skip(const stream_node *n, size_t off, stream_id *id, int *flags)
{
    const unsigned char *d = n->data;
    *flags = d[off++];
    id->ms = n->master.ms + get_varint(d, &off);
    id->seq = get_varint(d, &off);
    uint64_t k = (*flags & F_SAME) ? n->nmaster : 2 * get_varint(d, &off);
    size_t len;
    for (uint64_t i = 0; i < k; i++) get_bytes(d, &off, &len);
    return off;
}

/* ------------------------------------------------------------------------
 * Lifecycle
 * ---------------------------------------------------------------------- */

int stream_id_cmp(const stream_id *a, const stream_id *b)
{
    if (a->ms != b->ms) return a->ms < b->ms ? -1 : 1;
    if (a->seq != b->seq) return a->seq < b->seq ? -1 : 1;
    return 0;
}

size_t stream_id_fmt(const stream_id *id, char *buf)
{
    size_t n = util_ull2str(buf, 21, id->ms);
    buf[n++] = '-';
    n += util_ull2str(buf + n, 21, id->seq);
    return n;
}

stream *stream_new(void)
{
    stream *s = cb_calloc(sizeof(*s));
    return s;
}

static void node_free(stream_node *n)
{
    cb_free(n->data);
    cb_free(n);
}

void stream_free(stream *s)
{
    for (size_t i = 0; i < s->nnodes; i++) node_free(s->nodes[i]);
    cb_free(s->nodes);
    cb_free(s);
}

int stream_free_step(stream *s, size_t max)
{
    for (size_t i = 0; i < max && s->nnodes; i++) node_free(s->nodes[--s->nnodes]);
    if (s->nnodes) return 1;
    cb_free(s->nodes);
    cb_free(s);
    return 0;
}

stream *stream_dup(const stream *s)
{
    stream *d = cb_malloc(sizeof(*d));
    *d = *s;
    d->cgroups = NULL;
    d->nodes = s->cap ? cb_malloc(s->cap * sizeof(*d->nodes)) : NULL;
    for (size_t i = 0; i < s->nnodes; i++) {
        stream_node *n = cb_malloc(sizeof(*n));
        *n = *s->nodes[i];
        n->data = cb_malloc(n->cap);
        memcpy(n->data, s->nodes[i]->data, n->used);
        d->nodes[i] = n;
    }
    return d;
}

size_t stream_mem(const stream *s)
{
    size_t m = sizeof(*s) + s->cap * sizeof(*s->nodes);
    for (size_t i = 0; i < s->nnodes; i++) m += sizeof(stream_node) + s->nodes[i]->cap;
    return m;
}

/* ------------------------------------------------------------------------
 * Append, delete, trim
 * ---------------------------------------------------------------------- */

static stream_node *node_new(stream *s, const stream_id *id, const char *const *kv,
                             const size_t *kvlen, size_t npairs)
{
    stream_node *n = cb_calloc(sizeof(*n));
    n->master = *id;
    n->nmaster = (uint32_t)npairs;
    n->lp_fixed = 7 + stream_lp_int_size((int64_t)npairs) + stream_lp_int_size(0);
    for (size_t i = 0; i < npairs; i++) {
        put_bytes(n, kv[2 * i], kvlen[2 * i]);
        n->lp_fixed += stream_lp_str_size(kv[2 * i], kvlen[2 * i]);
    }
    n->entries_off = n->used;
    if (s->nnodes == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->nodes = cb_realloc(s->nodes, s->cap * sizeof(*s->nodes));
    }
    s->nodes[s->nnodes++] = n;
    return n;
}

static int same_as_master(const stream_node *n, const char *const *kv, const size_t *kvlen,
                          size_t npairs)
{
    if (npairs != n->nmaster) return 0;
    size_t off = 0, len;
    for (size_t i = 0; i < npairs; i++) {
        const char *p = get_bytes(n->data, &off, &len);
        if (len != kvlen[2 * i] || memcmp(p, kv[2 * i], len) != 0) return 0;
    }
    return 1;
}

/* Writes one entry at the end of node n and accounts its Redis listpack
 * size; the caller keeps the stream's totals. */
static void node_put_entry(stream_node *n, const stream_id *id, int deleted,
                           const char *const *kv, const size_t *kvlen, size_t npairs)
{
    int same = same_as_master(n, kv, kvlen, npairs);
    int flags = (same ? F_SAME : 0) | (deleted ? F_DELETED : 0);
    node_reserve(n, 1);
    n->data[n->used++] = (unsigned char)flags;
    put_varint(n, id->ms - n->master.ms);
    put_varint(n, id->seq);
    size_t lp = stream_lp_int_size(flags) +
                stream_lp_int_size((int64_t)(id->ms - n->master.ms)) +
                stream_lp_int_size((int64_t)(id->seq - n->master.seq));
    if (!same) {
        put_varint(n, npairs);
        lp += stream_lp_int_size((int64_t)npairs);
    }
    for (size_t i = 0; i < npairs; i++) {
        if (!same) {
            put_bytes(n, kv[2 * i], kvlen[2 * i]);
            lp += stream_lp_str_size(kv[2 * i], kvlen[2 * i]);
        }
        put_bytes(n, kv[2 * i + 1], kvlen[2 * i + 1]);
        lp += stream_lp_str_size(kv[2 * i + 1], kvlen[2 * i + 1]);
    }
    int64_t lpcount = (int64_t)npairs + 3 + (same ? 0 : (int64_t)npairs + 1);
    lp += stream_lp_int_size(lpcount);
    n->lp_fixed += lp;
    if (deleted) n->deleted++;
    else n->live++;
}

void stream_append(stream *s, const stream_id *id, const char *const *kv,
                   const size_t *kvlen, size_t npairs, long long node_max_bytes,
                   long long node_max_entries)
{
    size_t tot = 0;
    for (size_t i = 0; i < 2 * npairs; i++) tot += kvlen[i];
    stream_node *n = s->nnodes ? s->nodes[s->nnodes - 1] : NULL;
    if (n) {
        unsigned long long maxb = (unsigned long long)node_max_bytes;
        if (maxb == 0 || maxb > STREAM_LP_MAX) maxb = STREAM_LP_MAX;
        if (node_lp_bytes(n) + tot >= maxb) n = NULL;
        else if (node_max_entries && (long long)(n->live + n->deleted) >= node_max_entries)
            n = NULL;
    }
    if (!n) n = node_new(s, id, kv, kvlen, npairs);
    node_put_entry(n, id, 0, kv, kvlen, npairs);
    s->length++;
    s->entries_added++;
    s->last_id = *id;
    if (s->length == 1) s->first_id = *id;
}

/* ------------------------------------------------------------------------
 * Raw node access for persistence
 * ---------------------------------------------------------------------- */

void stream_load_node(stream *s, const stream_id *master, const char *const *f,
                      const size_t *flen, size_t nf)
{
    /* node_new reads field names at the even positions of a kv array. */
    const char **kv = cb_malloc((2 * nf + 1) * sizeof(*kv));
    size_t *kvlen = cb_malloc((2 * nf + 1) * sizeof(*kvlen));
    for (size_t i = 0; i < nf; i++) {
        kv[2 * i] = f[i];
        kvlen[2 * i] = flen[i];
        kv[2 * i + 1] = NULL;
        kvlen[2 * i + 1] = 0;
    }
    node_new(s, master, kv, kvlen, nf);
    cb_free(kv);
    cb_free(kvlen);
}

void stream_load_entry(stream *s, const stream_id *id, int deleted, const char *const *kv,
                       const size_t *kvlen, size_t npairs)
{
    node_put_entry(s->nodes[s->nnodes - 1], id, deleted, kv, kvlen, npairs);
    if (!deleted) s->length++;
}

void stream_node_master_fields(const stream_node *n, const char **f, size_t *flen)
{
    size_t off = 0;
    for (size_t i = 0; i < n->nmaster; i++) f[i] = get_bytes(n->data, &off, &flen[i]);
}

int stream_node_next_raw(const stream_node *n, size_t *off, stream_raw_entry *e)
{
    if (*off >= n->used) return 0;
    const unsigned char *d = n->data;
    size_t o = *off;
    int flags = d[o++];
    e->deleted = (flags & F_DELETED) != 0;
    e->same = (flags & F_SAME) != 0;
    e->id.ms = n->master.ms + get_varint(d, &o);
    e->id.seq = get_varint(d, &o);
    size_t np = e->same ? n->nmaster : get_varint(d, &o);
    if (2 * np > e->kv_cap) {
        e->kv_cap = 2 * np;
        e->kv = cb_realloc(e->kv, e->kv_cap * sizeof(*e->kv));
        e->kvlen = cb_realloc(e->kvlen, e->kv_cap * sizeof(*e->kvlen));
    }
    size_t moff = 0;
    for (size_t i = 0; i < np; i++) {
        if (e->same) e->kv[2 * i] = get_bytes(d, &moff, &e->kvlen[2 * i]);
        else e->kv[2 * i] = get_bytes(d, &o, &e->kvlen[2 * i]);
        e->kv[2 * i + 1] = get_bytes(d, &o, &e->kvlen[2 * i + 1]);
    }
    e->npairs = np;
    *off = o;
    return 1;
}

void stream_raw_entry_release(stream_raw_entry *e)
{
    cb_free(e->kv);
    cb_free(e->kvlen);
    e->kv = NULL;
    e->kvlen = NULL;
    e->kv_cap = 0;
}

static void remove_node(stream *s, size_t i)
{
    node_free(s->nodes[i]);
    memmove(s->nodes + i, s->nodes + i + 1, (s->nnodes - i - 1) * sizeof(*s->nodes));
    s->nnodes--;
}

/* Index of the last node whose master ID is <= id, or -1. */
static long node_for(const stream *s, const stream_id *id)
{
    long lo = 0, hi = (long)s->nnodes - 1, ans = -1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (stream_id_cmp(&s->nodes[mid]->master, id) <= 0) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return ans;
}

int stream_delete(stream *s, const stream_id *id)
{
    long i = node_for(s, id);
    if (i < 0) return 0;
    stream_node *n = s->nodes[i];
    for (size_t off = n->entries_off; off < n->used;) {
        stream_id eid;
        int flags;
        size_t next = entry_skip(n, off, &eid, &flags);
        int c = stream_id_cmp(&eid, id);
        if (c > 0) break;
        if (c == 0) {
            if (flags & F_DELETED) return 0;
            if (n->live == 1) {
                remove_node(s, (size_t)i);
            } else {
                n->data[off] |= F_DELETED;
                n->live--;
                n->deleted++;
            }
            s->length--;
            return 1;
        }
        off = next;
    }
    return 0;
}

int stream_edge_id(const stream *s, int first, stream_id *out)
{
    stream_iter it;
    stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    stream_iter_init(&it, s, &lo, &hi, !first);
    int found = stream_iter_next(&it);
    if (found) *out = it.id;
    stream_iter_release(&it);
    return found;
}

/* The last entry's ID in a node, tombstones included. */
static stream_id node_last_id(const stream_node *n)
{
    stream_id id = n->master;
    int flags;
    for (size_t off = n->entries_off; off < n->used;) off = entry_skip(n, off, &id, &flags);
    return id;
}

long long stream_trim(stream *s, int strategy, long long maxlen, const stream_id *minid,
                      int approx, long long limit)
{
    long long removed = 0;
    if (strategy == STREAM_TRIM_NONE) return 0;
    if (strategy == STREAM_TRIM_MAXLEN && s->length <= (uint64_t)maxlen) return 0;
    while (s->nnodes > 0) {
        stream_node *n = s->nodes[0];
        long long entries = n->live;
        if (limit && removed + entries > limit) break;
        int whole;
        if (strategy == STREAM_TRIM_MAXLEN) {
            whole = (long long)s->length - entries >= maxlen;
        } else {
            stream_id last = node_last_id(n);
            whole = stream_id_cmp(&last, minid) < 0;
        }
        if (whole) {
            remove_node(s, 0);
            s->length -= (uint64_t)entries;
            removed += entries;
            continue;
        }
        if (approx) break;
        for (size_t off = n->entries_off; off < n->used;) {
            stream_id eid;
            int flags;
            size_t next = entry_skip(n, off, &eid, &flags);
            int stop = strategy == STREAM_TRIM_MAXLEN ? s->length <= (uint64_t)maxlen
                                                      : stream_id_cmp(&eid, minid) >= 0;
            if (stop) break;
            if (!(flags & F_DELETED)) {
                n->data[off] |= F_DELETED;
                n->live--;
                n->deleted++;
                s->length--;
                removed++;
            }
            off = next;
        }
        break;
    }
    if (s->length == 0) {
        s->first_id.ms = s->first_id.seq = 0;
    } else {
        stream_edge_id(s, 1, &s->first_id);
    }
    return removed;
}

/* ------------------------------------------------------------------------
 * Iteration
 * ---------------------------------------------------------------------- */

void stream_iter_init(stream_iter *it, const stream *s, const stream_id *start,
                      const stream_id *end, int rev)
{
    memset(it, 0, sizeof(*it));
    it->s = s;
    it->start = *start;
    it->end = *end;
    it->rev = rev;
}

/* Reads the entry at off into the iterator's kv arrays. */
static void load_entry(stream_iter *it, const stream_node *n, size_t off)
{
    const unsigned char *d = n->data;
    int flags = d[off++];
    it->id.ms = n->master.ms + get_varint(d, &off);
    it->id.seq = get_varint(d, &off);
    size_t np = (flags & F_SAME) ? n->nmaster : get_varint(d, &off);
    if (2 * np > it->kv_cap) {
        it->kv_cap = 2 * np;
        it->kv = cb_realloc(it->kv, it->kv_cap * sizeof(*it->kv));
        it->kvlen = cb_realloc(it->kvlen, it->kv_cap * sizeof(*it->kvlen));
    }
    size_t moff = 0;
    for (size_t i = 0; i < np; i++) {
        if (flags & F_SAME)
            it->kv[2 * i] = get_bytes(d, &moff, &it->kvlen[2 * i]);
        else
            it->kv[2 * i] = get_bytes(d, &off, &it->kvlen[2 * i]);
        it->kv[2 * i + 1] = get_bytes(d, &off, &it->kvlen[2 * i + 1]);
    }
    it->npairs = np;
}

static void load_offsets(stream_iter *it, const stream_node *n)
{
    it->noffs = 0;
    for (size_t off = n->entries_off; off < n->used;) {
        if (it->noffs == it->offs_cap) {
            it->offs_cap = it->offs_cap ? it->offs_cap * 2 : 128;
            it->offs = cb_realloc(it->offs, it->offs_cap * sizeof(*it->offs));
        }
        it->offs[it->noffs++] = off;
        stream_id id;
        int flags;
        off = entry_skip(n, off, &id, &flags);
    }
    it->pos = it->noffs;
}

int stream_iter_next(stream_iter *it)
{
    const stream *s = it->s;
    if (it->started == 2 || stream_id_cmp(&it->start, &it->end) > 0) return 0;
    if (!it->rev) {
        if (!it->started) {
            long i = node_for(s, &it->start);
            it->node = i < 0 ? 0 : (size_t)i;
            it->off = it->node < s->nnodes ? s->nodes[it->node]->entries_off : 0;
            it->started = 1;
        }
        while (it->node < s->nnodes) {
            const stream_node *n = s->nodes[it->node];
            while (it->off < n->used) {
                stream_id id;
                int flags;
                size_t off = it->off;
                it->off = entry_skip(n, off, &id, &flags);
                if (stream_id_cmp(&id, &it->end) > 0) {
                    it->started = 2;
                    return 0;
                }
                if ((flags & F_DELETED) || stream_id_cmp(&id, &it->start) < 0) continue;
                load_entry(it, n, off);
                return 1;
            }
            if (++it->node < s->nnodes) it->off = s->nodes[it->node]->entries_off;
        }
        return 0;
    }
    if (!it->started) {
        long i = node_for(s, &it->end);
        it->started = 1;
        if (i < 0) return 0;
        it->node = (size_t)i;
        load_offsets(it, s->nodes[i]);
    }
    for (;;) {
        const stream_node *n = s->nodes[it->node];
        while (it->pos > 0) {
            size_t off = it->offs[--it->pos];
            stream_id id;
            int flags;
            entry_skip(n, off, &id, &flags);
            if (stream_id_cmp(&id, &it->start) < 0) {
                it->started = 2;
                return 0;
            }
            if ((flags & F_DELETED) || stream_id_cmp(&id, &it->end) > 0) continue;
            load_entry(it, n, off);
            return 1;
        }
        if (it->node == 0) {
            it->started = 2;
            return 0;
        }
        it->node--;
        load_offsets(it, s->nodes[it->node]);
    }
}

void stream_iter_release(stream_iter *it)
{
    cb_free(it->offs);
    cb_free(it->kv);
    cb_free(it->kvlen);
    it->offs = NULL;
    it->kv = NULL;
    it->kvlen = NULL;
}
