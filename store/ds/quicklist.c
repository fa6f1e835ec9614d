/* quicklist.c — list of lpack nodes with optional LZF compression of the
 * interior (see quicklist.h).
 *
 * Node sizing follows Redis 7.0's rule: a positive fill caps the entries of
 * a node (and its size at 8 KiB as a safety limit), a negative fill caps
 * its bytes at 4 KiB << (-fill - 1), at most 64 KiB. An entry that does not
 * fit starts a new node; an insert in the middle of a full node splits it.
 *
 * Compression invariant (depth > 0): a node with fewer than depth nodes on
 * either side is plain; any other node is LZF-compressed unless it is under
 * 48 bytes or compression would not save 8 bytes (then nocompress is set
 * until its contents change). Anything that reads or writes a node first
 * opens it (decompresses in place) and settles it afterwards. Pushing,
 * popping and deleting move the boundary only near the ends, so fix_ends
 * re-checks the depth + 3 nodes at each end after such changes; nodes made
 * in the middle (splits) are settled one by one. Iterators settle each node
 * when they leave it and only re-check the ends on release, so the node an
 * iterator stands on is never compressed under it.
 */
#include "quicklist.h"
#include "../../platform/mem.h"

#include <lzf.h>
#include <stdlib.h>
#include <string.h>

#define QL_SIZE_SAFETY_LIMIT 8192
#define QL_MIN_COMPRESS_BYTES 48
#define QL_MIN_COMPRESS_IMPROVE 8

/* ---------------------------------------------------------------- nodes */

static ql_node *node_new(const void *s, size_t len)
{
    ql_node *n = cb_calloc(sizeof(*n));
    n->data = lp_append(lp_new(), s, len);
    n->sz = lp_bytes(n->data);
    n->count = 1;
    return n;
}

static void node_free(ql_node *n)
{
    cb_free(n->data);
    cb_free(n);
}

/* Makes the node's lpack readable and writable in place. */
static void node_open(ql_node *n)
{
    if (!n->compressed) return;
    unsigned char *raw = cb_malloc(n->sz);
    unsigned got = lzf_decompress(n->data, n->csz, raw, n->sz);
    if (got != n->sz) {
        /* Only a bug can get here: our own compressed bytes do not expand. */
        abort();
    }
    cb_free(n->data);
    n->data = raw;
    n->compressed = 0;
}

static void node_compress(ql_node *n)
{
    if (n->compressed || n->nocompress || n->sz < QL_MIN_COMPRESS_BYTES) return;
    unsigned char *out = cb_malloc(n->sz);
    unsigned c = lzf_compress(n->data, n->sz, out, n->sz - QL_MIN_COMPRESS_IMPROVE - 1);
    if (c == 0) {
        cb_free(out);
        n->nocompress = 1;
        return;
    }
    cb_free(n->data);
    n->data = cb_realloc(out, c);
    n->csz = c;
    n->compressed = 1;
}

/* The node's lpack changed: record its new size, let compression retry. */
static void node_changed(ql_node *n)
{
    n->sz = lp_bytes(n->data);
    n->count = lp_count(n->data);
    n->nocompress = 0;
}

static int node_interior(const quicklist *ql, const ql_node *n)
{
    if (ql->depth <= 0) return 0;
    const ql_node *a = n, *b = n;
    for (int i = 0; i < ql->depth; i++) {
        a = a->prev;
        b = b->next;
        if (!a || !b) return 0;
    }
    return 1;
}

/* Puts a node in the state the invariant asks for at its position. */
static void node_settle(const quicklist *ql, ql_node *n)
{
    if (ql->depth <= 0) return;
    if (node_interior(ql, n)) node_compress(n);
    else node_open(n);
}

static void fix_ends(quicklist *ql)
{
    if (ql->depth <= 0) return;
    unsigned long depth = (unsigned long)ql->depth;
    unsigned long i = 0;
    for (ql_node *x = ql->head; x && i < depth + 3; x = x->next, i++) {
        if (i < depth || ql->len - 1 - i < depth) node_open(x);
        else node_compress(x);
    }
    i = 0;
    for (ql_node *x = ql->tail; x && i < depth + 3; x = x->prev, i++) {
        if (i < depth || ql->len - 1 - i < depth) node_open(x);
        else node_compress(x);
    }
}

/* Whether a node of new_sz bytes and new_count entries respects the fill. */
static int node_size_ok(const quicklist *ql, size_t new_sz, unsigned long new_count)
{
    if (ql->fill >= 0)
        return new_count <= (unsigned long)ql->fill && new_sz <= QL_SIZE_SAFETY_LIMIT;
    int lvl = -ql->fill - 1;
    if (lvl > 4) lvl = 4;
    return new_sz <= ((size_t)4096 << lvl);
}

static int node_allows(const quicklist *ql, const ql_node *n, const void *s, size_t len)
{
    return node_size_ok(ql, n->sz + lp_entry_size(s, len), (unsigned long)n->count + 1);
}

static void link_after(quicklist *ql, ql_node *at, ql_node *n)
{
    n->prev = at;
    n->next = at ? at->next : ql->head;
    if (n->next) n->next->prev = n;
    else ql->tail = n;
    if (at) at->next = n;
    else ql->head = n;
    ql->len++;
}

static void link_before(quicklist *ql, ql_node *at, ql_node *n)
{
    link_after(ql, at ? at->prev : ql->tail, n);
}

static void unlink_free(quicklist *ql, ql_node *n)
{
    if (n->prev) n->prev->next = n->next;
    else ql->head = n->next;
    if (n->next) n->next->prev = n->prev;
    else ql->tail = n->prev;
    ql->len--;
    node_free(n);
}

/* -------------------------------------------------------------- the list */

quicklist *ql_new(int fill, int depth)
{
    quicklist *ql = cb_calloc(sizeof(*ql));
    ql->fill = fill;
    ql->depth = depth < 0 ? 0 : depth;
    return ql;
}

void ql_free(quicklist *ql)
{
    if (!ql) return;
    ql_node *n = ql->head;
    while (n) {
        ql_node *next = n->next;
        node_free(n);
        n = next;
    }
    cb_free(ql);
}

int ql_free_step(quicklist *ql, size_t max)
{
    for (size_t i = 0; i < max && ql->head; i++) {
        ql_node *next = ql->head->next;
        ql->count -= ql->head->count;
        ql->len--;
        node_free(ql->head);
        ql->head = next;
    }
    if (ql->head) return 1;
    cb_free(ql);
    return 0;
}

quicklist *ql_dup(const quicklist *ql)
{
    quicklist *d = ql_new(ql->fill, ql->depth);
    for (const ql_node *n = ql->head; n; n = n->next) {
        ql_node *c = cb_malloc(sizeof(*c));
        *c = *n;
        size_t bytes = n->compressed ? n->csz : n->sz;
        c->data = cb_malloc(bytes);
        memcpy(c->data, n->data, bytes);
        link_after(d, d->tail, c);
    }
    d->count = ql->count;
    return d;
}

size_t ql_mem(const quicklist *ql)
{
    size_t m = cb_usable(ql);
    for (const ql_node *n = ql->head; n; n = n->next)
        m += cb_usable(n) + cb_usable(n->data);
    return m;
}

void ql_push(quicklist *ql, int where, const void *s, size_t len)
{
    ql_node *n = where == QL_HEAD ? ql->head : ql->tail;
    if (n && node_allows(ql, n, s, len)) {
        node_open(n);
        n->data = where == QL_HEAD ? lp_prepend(n->data, s, len) : lp_append(n->data, s, len);
        node_changed(n);
    } else {
        ql_node *x = node_new(s, len);
        if (where == QL_HEAD) link_before(ql, ql->head, x);
        else link_after(ql, ql->tail, x);
    }
    ql->count++;
    fix_ends(ql);
}

/* The node holding entry index (0 <= index < count); *base gets the index
 * of its first entry. Walks from the nearer end. */
static ql_node *locate(const quicklist *ql, unsigned long index, unsigned long *base)
{
    if (index < ql->count / 2) {
        unsigned long b = 0;
        ql_node *n = ql->head;
        while (index >= b + n->count) {
            b += n->count;
            n = n->next;
        }
        *base = b;
        return n;
    }
    unsigned long b = ql->count;
    ql_node *n = ql->tail;
    while (index < b - n->count) {
        b -= n->count;
        n = n->prev;
    }
    *base = b - n->count;
    return n;
}

int ql_replace(quicklist *ql, long index, const void *s, size_t len)
{
    ql_iter it;
    if (!ql_iter_init(ql, &it, index, QL_TAIL)) {
        ql_iter_release(&it);
        return 0;
    }
    ql_node *n = it.node;
    unsigned char *next = lp_next(n->data, it.p);
    size_t old = (size_t)((next ? next : n->data + n->sz) - it.p);
    size_t new_sz = n->sz - old + lp_entry_size(s, len);
    if (n->count > 1 && !node_size_ok(ql, new_sz, n->count)) {
        /* The node would outgrow its fill (a big value replacing a small
         * one, possibly many times): delete and insert instead, which puts
         * the value in a node that has room or in one of its own. */
        ql_iter_release(&it);
        if (index < 0) index += (long)ql->count;
        ql_del_range(ql, (unsigned long)index, 1);
        if ((unsigned long)index == ql->count) {
            ql_push(ql, QL_TAIL, s, len);
        } else {
            ql_iter_init(ql, &it, index, QL_TAIL);
            ql_iter_next(&it);
            ql_iter_insert(&it, 0, s, len);
            ql_iter_release(&it);
        }
        return 1;
    }
    n->data = lp_replace_at(n->data, (size_t)(it.p - n->data), s, len);
    node_changed(n);
    it.p = NULL;
    ql_iter_release(&it);
    return 1;
}

void ql_del_range(quicklist *ql, unsigned long start, unsigned long n)
{
    if (start >= ql->count || n == 0) return;
    if (n > ql->count - start) n = ql->count - start;
    unsigned long base;
    ql_node *x = locate(ql, start, &base);
    unsigned long off = start - base;
    while (n > 0 && x) {
        ql_node *next = x->next;
        unsigned long take = x->count - off;
        if (take > n) take = n;
        if (off == 0 && take == x->count) {
            unlink_free(ql, x);
        } else {
            node_open(x);
            x->data = lp_delete_range(x->data, (long)off, take);
            node_changed(x);
            node_settle(ql, x);
        }
        ql->count -= take;
        n -= take;
        off = 0;
        x = next;
    }
    fix_ends(ql);
}

/* ------------------------------------------------------------ iterators */

int ql_iter_init(quicklist *ql, ql_iter *it, long index, int dir)
{
    memset(it, 0, sizeof(*it));
    it->ql = ql;
    it->dir = dir;
    if (index < 0) index += (long)ql->count;
    if (index < 0 || (unsigned long)index >= ql->count) return 0;
    unsigned long base;
    ql_node *n = locate(ql, (unsigned long)index, &base);
    node_open(n);
    it->node = n;
    it->p = lp_seek(n->data, (long)((unsigned long)index - base));
    it->fresh = 1;
    return 1;
}

/* Moves the cursor to the first entry of the next node in the walk's
 * direction, settling the node it leaves. */
static void iter_next_node(ql_iter *it)
{
    ql_node *n = it->node;
    ql_node *nx = it->dir == QL_TAIL ? n->next : n->prev;
    node_settle(it->ql, n);
    it->node = nx;
    if (!nx) {
        it->p = NULL;
        return;
    }
    node_open(nx);
    it->p = it->dir == QL_TAIL ? lp_first(nx->data) : lp_last(nx->data);
}

int ql_iter_next(ql_iter *it)
{
    if (!it->p) return 0;
    if (it->fresh) {
        it->fresh = 0;
    } else {
        unsigned char *d = it->node->data;
        unsigned char *q = it->dir == QL_TAIL ? lp_next(d, it->p) : lp_prev(d, it->p);
        if (q) it->p = q;
        else iter_next_node(it);
        if (!it->p) return 0;
    }
    lp_get(it->p, &it->val);
    return 1;
}

void ql_iter_delete(ql_iter *it)
{
    quicklist *ql = it->ql;
    ql_node *n = it->node;
    size_t off = (size_t)(it->p - n->data);
    unsigned char *before = lp_prev(n->data, it->p);
    size_t prev_off = before ? (size_t)(before - n->data) : 0;

    n->data = lp_delete_at(n->data, off, 1);
    node_changed(n);
    ql->count--;
    it->changed = 1;
    it->fresh = 1;
    if (n->count == 0) {
        ql_node *nx = it->dir == QL_TAIL ? n->next : n->prev;
        unlink_free(ql, n);
        it->node = nx;
        if (!nx) {
            it->p = NULL;
            return;
        }
        node_open(nx);
        it->p = it->dir == QL_TAIL ? lp_first(nx->data) : lp_last(nx->data);
        return;
    }
    if (it->dir == QL_TAIL) {
        if (off < n->sz) it->p = n->data + off;
        else iter_next_node(it);
    } else {
        if (before) it->p = n->data + prev_off;
        else iter_next_node(it);
    }
}

/* Index of the entry at offset off within an lpack. */
static unsigned long entry_index(unsigned char *lp, size_t off)
{
    unsigned long k = 0;
    for (unsigned char *p = lp_first(lp); p && (size_t)(p - lp) < off; p = lp_next(lp, p)) k++;
    return k;
}

void ql_iter_insert(ql_iter *it, int after, const void *s, size_t len)
{
    quicklist *ql = it->ql;
    ql_node *n = it->node;
    unsigned char *q = after ? lp_next(n->data, it->p) : it->p;
    size_t at = q ? (size_t)(q - n->data) : n->sz;
    int at_end = q == NULL, at_start = at == LP_HDR;

    if (node_allows(ql, n, s, len)) {
        n->data = lp_insert_at(n->data, at, s, len);
        node_changed(n);
        node_settle(ql, n);
    } else if (at_end && n->next && node_allows(ql, n->next, s, len)) {
        node_settle(ql, n);
        node_open(n->next);
        n->next->data = lp_prepend(n->next->data, s, len);
        node_changed(n->next);
        node_settle(ql, n->next);
    } else if (at_start && n->prev && node_allows(ql, n->prev, s, len)) {
        node_settle(ql, n);
        node_open(n->prev);
        n->prev->data = lp_append(n->prev->data, s, len);
        node_changed(n->prev);
        node_settle(ql, n->prev);
    } else if (at_end || at_start) {
        ql_node *x = node_new(s, len);
        if (at_end) link_after(ql, n, x);
        else link_before(ql, n, x);
        node_settle(ql, n);
        node_settle(ql, x);
    } else {
        /* Split at the insertion point; the entry joins whichever half has
         * room, else goes between them in a node of its own. */
        unsigned long k = entry_index(n->data, at);
        ql_node *r = cb_calloc(sizeof(*r));
        r->data = lp_slice(n->data, k, n->count - k);
        n->data = lp_delete_range(n->data, (long)k, n->count - k);
        node_changed(n);
        node_changed(r);
        link_after(ql, n, r);
        ql_node *x = NULL;
        if (node_allows(ql, n, s, len)) {
            n->data = lp_append(n->data, s, len);
            node_changed(n);
        } else if (node_allows(ql, r, s, len)) {
            r->data = lp_prepend(r->data, s, len);
            node_changed(r);
        } else {
            x = node_new(s, len);
            link_after(ql, n, x);
        }
        node_settle(ql, n);
        node_settle(ql, r);
        if (x) node_settle(ql, x);
    }
    ql->count++;
    it->node = NULL;
    it->p = NULL;
    it->changed = 1;
}

void ql_iter_release(ql_iter *it)
{
    if (it->node) node_settle(it->ql, it->node);
    it->node = NULL;
    it->p = NULL;
    if (it->changed) fix_ends(it->ql);
}

/* ---------------------------------------------------------------- checks */

void ql_stats(const quicklist *ql, unsigned long *nodes, unsigned long *compressed,
              size_t *uncompressed)
{
    unsigned long c = 0;
    size_t u = 0;
    for (const ql_node *n = ql->head; n; n = n->next) {
        c += n->compressed;
        u += n->sz;
    }
    *nodes = ql->len;
    *compressed = c;
    *uncompressed = u;
}

int ql_check(const quicklist *ql)
{
    unsigned long count = 0, len = 0;
    const ql_node *prev = NULL;
    for (const ql_node *n = ql->head; n; prev = n, n = n->next) {
        if (n->prev != prev || n->count == 0) return 0;
        unsigned char *raw = n->data;
        if (n->compressed) {
            raw = cb_malloc(n->sz);
            if (lzf_decompress(n->data, n->csz, raw, n->sz) != n->sz) {
                cb_free(raw);
                return 0;
            }
        }
        int ok = lp_validate(raw, n->sz) && lp_count(raw) == n->count;
        if (raw != n->data) cb_free(raw);
        if (!ok) return 0;
        if (n->compressed && !node_interior(ql, n)) return 0;
        if (!n->compressed && node_interior(ql, n) && !n->nocompress &&
            n->sz >= QL_MIN_COMPRESS_BYTES)
            return 0;
        count += n->count;
        len++;
    }
    return prev == ql->tail && count == ql->count && len == ql->len;
}
