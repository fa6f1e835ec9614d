/* skiplist.c — see skiplist.h. A node's level is drawn with p = 1/4 up to
 * ZSL_MAXLEVEL, from the list's own PRNG so no state is shared between
 * shards. Every forward link carries the number of level-0 steps it skips;
 * an insert or delete fixes the spans of the links it passes on the way
 * down (the "update" path), which is what keeps ranks O(log n).
 */
#include "skiplist.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

#include <assert.h>
#include <string.h>

static zsl_node *node_new(int level, double score, cbstr ele)
{
    zsl_node *n = cb_malloc(sizeof(*n) + (size_t)level * sizeof(struct zsl_level));
    n->ele = ele;
    n->score = score;
    n->backward = NULL;
    for (int i = 0; i < level; i++) {
        n->level[i].forward = NULL;
        n->level[i].span = 0;
    }
    return n;
}

zsl *zsl_create(uint64_t seed)
{
    zsl *z = cb_malloc(sizeof(*z));
    z->header = node_new(ZSL_MAXLEVEL, 0, NULL);
    z->tail = NULL;
    z->length = 0;
    z->level = 1;
    z->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    return z;
}

void zsl_free_node(zsl_node *n)
{
    cbstr_free(n->ele);
    cb_free(n);
}

void zsl_free(zsl *z)
{
    zsl_node *n = z->header->level[0].forward;
    cb_free(z->header);
    while (n) {
        zsl_node *next = n->level[0].forward;
        zsl_free_node(n);
        n = next;
    }
    cb_free(z);
}

int zsl_free_step(zsl *z, size_t max)
{
    /* Only level 0 is followed from here on: the upper levels of the
     * header keep pointing at freed nodes, which is why nothing else may
     * use the list. */
    zsl_node *n = z->header->level[0].forward;
    for (size_t i = 0; i < max && n; i++) {
        zsl_node *next = n->level[0].forward;
        zsl_free_node(n);
        n = next;
        z->length--;
    }
    z->header->level[0].forward = n;
    if (n) return 1;
    cb_free(z->header);
    cb_free(z);
    return 0;
}

int zsl_cmp_bytes(const char *a, size_t al, const char *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return al < bl ? -1 : (al > bl ? 1 : 0);
}

/* 1 when node n sorts before (score, ele). */
static int before(const zsl_node *n, double score, const char *ele, size_t len)
{
    return n->score < score ||
           (n->score == score && zsl_cmp_bytes(n->ele, cbstr_len(n->ele), ele, len) < 0);
}

static int random_level(zsl *z)
{
    int level = 1;
    while (level < ZSL_MAXLEVEL && (util_rand64(&z->rng) & 0xffff) < 0xffff / 4) level++;
    return level;
}

zsl_node *zsl_insert(zsl *z, double score, cbstr ele)
{
    zsl_node *update[ZSL_MAXLEVEL], *x = z->header;
    unsigned long rank[ZSL_MAXLEVEL];
    size_t len = cbstr_len(ele);
    for (int i = z->level - 1; i >= 0; i--) {
        rank[i] = i == z->level - 1 ? 0 : rank[i + 1];
        while (x->level[i].forward && before(x->level[i].forward, score, ele, len)) {
            rank[i] += x->level[i].span;
            x = x->level[i].forward;
        }
        update[i] = x;
    }
    int level = random_level(z);
    if (level > z->level) {
        for (int i = z->level; i < level; i++) {
            rank[i] = 0;
            update[i] = z->header;
            update[i]->level[i].span = z->length;
        }
        z->level = level;
    }
    x = node_new(level, score, ele);
    for (int i = 0; i < level; i++) {
        x->level[i].forward = update[i]->level[i].forward;
        update[i]->level[i].forward = x;
        x->level[i].span = update[i]->level[i].span - (rank[0] - rank[i]);
        update[i]->level[i].span = (rank[0] - rank[i]) + 1;
    }
    for (int i = level; i < z->level; i++) update[i]->level[i].span++;
    x->backward = update[0] == z->header ? NULL : update[0];
    if (x->level[0].forward)
        x->level[0].forward->backward = x;
    else
        z->tail = x;
    z->length++;
    return x;
}

static void unlink_node(zsl *z, zsl_node *x, zsl_node **update)
{
    for (int i = 0; i < z->level; i++) {
        if (update[i]->level[i].forward == x) {
            update[i]->level[i].span += x->level[i].span - 1;
            update[i]->level[i].forward = x->level[i].forward;
        } else {
            update[i]->level[i].span -= 1;
        }
    }
    if (x->level[0].forward)
        x->level[0].forward->backward = x->backward;
    else
        z->tail = x->backward;
    while (z->level > 1 && z->header->level[z->level - 1].forward == NULL) z->level--;
    z->length--;
}

static zsl_node *find_update(zsl *z, double score, const char *ele, size_t len,
                             zsl_node **update)
{
    zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        while (x->level[i].forward && before(x->level[i].forward, score, ele, len))
            x = x->level[i].forward;
        update[i] = x;
    }
    x = x->level[0].forward;
    if (x && x->score == score && cbstr_eq_bytes(x->ele, ele, len)) return x;
    return NULL;
}

int zsl_delete(zsl *z, double score, const char *ele, size_t len, zsl_node **out)
{
    zsl_node *update[ZSL_MAXLEVEL];
    zsl_node *x = find_update(z, score, ele, len, update);
    if (!x) return 0;
    unlink_node(z, x, update);
    if (out)
        *out = x;
    else
        zsl_free_node(x);
    return 1;
}

zsl_node *zsl_update_score(zsl *z, double curscore, const char *ele, size_t len,
                           double newscore)
{
    zsl_node *update[ZSL_MAXLEVEL];
    zsl_node *x = find_update(z, curscore, ele, len, update);
    assert(x);
    /* Staying between the same neighbours: change the score in place. */
    if ((x->backward == NULL || x->backward->score < newscore ||
         (x->backward->score == newscore &&
          zsl_cmp_bytes(x->backward->ele, cbstr_len(x->backward->ele), ele, len) < 0)) &&
        (x->level[0].forward == NULL || x->level[0].forward->score > newscore ||
         (x->level[0].forward->score == newscore &&
          zsl_cmp_bytes(x->level[0].forward->ele, cbstr_len(x->level[0].forward->ele),
                        ele, len) > 0))) {
        x->score = newscore;
        return x;
    }
    unlink_node(z, x, update);
    cbstr e = x->ele;
    cb_free(x);
    return zsl_insert(z, newscore, e);
}

unsigned long zsl_rank(const zsl *z, double score, const char *ele, size_t len)
{
    const zsl_node *x = z->header;
    unsigned long rank = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        while (x->level[i].forward &&
               (x->level[i].forward->score < score ||
                (x->level[i].forward->score == score &&
                 zsl_cmp_bytes(x->level[i].forward->ele, cbstr_len(x->level[i].forward->ele),
                               ele, len) <= 0))) {
            rank += x->level[i].span;
            x = x->level[i].forward;
        }
        if (x != z->header && x->score == score && cbstr_eq_bytes(x->ele, ele, len))
            return rank;
    }
    return 0;
}

zsl_node *zsl_by_rank(const zsl *z, unsigned long rank)
{
    if (rank == 0 || rank > z->length) return NULL;
    zsl_node *x = z->header;
    unsigned long traversed = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        while (x->level[i].forward && traversed + x->level[i].span <= rank) {
            traversed += x->level[i].span;
            x = x->level[i].forward;
        }
        if (traversed == rank) return x;
    }
    return NULL;
}

int zsl_value_gte_min(double v, const zsl_range *r)
{
    return r->minex ? v > r->min : v >= r->min;
}

int zsl_value_lte_max(double v, const zsl_range *r)
{
    return r->maxex ? v < r->max : v <= r->max;
}

static int range_empty(const zsl_range *r)
{
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

zsl_node *zsl_first_in_range(const zsl *z, const zsl_range *r)
{
    if (range_empty(r) || !z->tail || !zsl_value_gte_min(z->tail->score, r)) return NULL;
    zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (x->level[i].forward && !zsl_value_gte_min(x->level[i].forward->score, r))
            x = x->level[i].forward;
    x = x->level[0].forward;
    if (!x || !zsl_value_lte_max(x->score, r)) return NULL;
    return x;
}

zsl_node *zsl_last_in_range(const zsl *z, const zsl_range *r)
{
    zsl_node *first = z->header->level[0].forward;
    if (range_empty(r) || !first || !zsl_value_lte_max(first->score, r)) return NULL;
    zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (x->level[i].forward && zsl_value_lte_max(x->level[i].forward->score, r))
            x = x->level[i].forward;
    if (x == z->header || !zsl_value_gte_min(x->score, r)) return NULL;
    return x;
}

int zsl_lex_gte_min(const char *p, size_t len, const zsl_lexrange *r)
{
    if (r->minpos_inf) return 0;
    if (r->mininf) return 1;
    int c = zsl_cmp_bytes(p, len, r->min, r->minlen);
    return r->minex ? c > 0 : c >= 0;
}

int zsl_lex_lte_max(const char *p, size_t len, const zsl_lexrange *r)
{
    if (r->maxneg_inf) return 0;
    if (r->maxinf) return 1;
    int c = zsl_cmp_bytes(p, len, r->max, r->maxlen);
    return r->maxex ? c < 0 : c <= 0;
}

int zsl_lex_range_empty(const zsl_lexrange *r)
{
    if (r->minpos_inf || r->maxneg_inf) return 1;
    if (r->mininf || r->maxinf) return 0;
    int c = zsl_cmp_bytes(r->min, r->minlen, r->max, r->maxlen);
    return c > 0 || (c == 0 && (r->minex || r->maxex));
}

zsl_node *zsl_first_in_lex(const zsl *z, const zsl_lexrange *r)
{
    if (zsl_lex_range_empty(r) || !z->tail ||
        !zsl_lex_gte_min(z->tail->ele, cbstr_len(z->tail->ele), r))
        return NULL;
    zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (x->level[i].forward &&
               !zsl_lex_gte_min(x->level[i].forward->ele,
                                cbstr_len(x->level[i].forward->ele), r))
            x = x->level[i].forward;
    x = x->level[0].forward;
    if (!x || !zsl_lex_lte_max(x->ele, cbstr_len(x->ele), r)) return NULL;
    return x;
}

zsl_node *zsl_last_in_lex(const zsl *z, const zsl_lexrange *r)
{
    zsl_node *first = z->header->level[0].forward;
    if (zsl_lex_range_empty(r) || !first ||
        !zsl_lex_lte_max(first->ele, cbstr_len(first->ele), r))
        return NULL;
    zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (x->level[i].forward &&
               zsl_lex_lte_max(x->level[i].forward->ele,
                               cbstr_len(x->level[i].forward->ele), r))
            x = x->level[i].forward;
    if (x == z->header || !zsl_lex_gte_min(x->ele, cbstr_len(x->ele), r)) return NULL;
    return x;
}

size_t zsl_mem_usage(const zsl *z)
{
    size_t n = cb_usable(z) + cb_usable(z->header);
    for (const zsl_node *x = z->header->level[0].forward; x; x = x->level[0].forward)
        n += cb_usable(x) + cbstr_alloc_size(x->ele);
    return n;
}

cbstr zsl_defrag_node(zsl *z, double score, cbstr ele, void *(*move)(void *p), int *moved)
{
    zsl_node *update[ZSL_MAXLEVEL], *x = z->header;
    size_t len = cbstr_len(ele);
    for (int i = z->level - 1; i >= 0; i--) {
        while (x->level[i].forward && before(x->level[i].forward, score, ele, len))
            x = x->level[i].forward;
        update[i] = x;
    }
    x = x->level[0].forward;
    if (!x || x->ele != ele) return NULL;
    zsl_node *n = move(x);
    if (n) {
        /* x is freed: its old address is only compared, never read. */
        for (int i = 0; i < z->level; i++)
            if (update[i]->level[i].forward == x) update[i]->level[i].forward = n;
        if (n->level[0].forward) n->level[0].forward->backward = n;
        else z->tail = n;
        x = n;
        (*moved)++;
    }
    cbstr ne = cbstr_move(x->ele, move);
    if (ne) {
        x->ele = ne;
        (*moved)++;
    }
    return x->ele;
}
