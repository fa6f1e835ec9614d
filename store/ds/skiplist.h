/* skiplist.h — the ordered index of a large sorted set: a skiplist ordered by
 * (score, element bytes) with a span on every forward link, so ranks are
 * O(log n), and a backward link on level 0 for reverse walks. Elements are
 * cbstr owned by the node; the sorted-set layer (t_zset.c) shares the same
 * cbstr as the key of its element -> score dict. Knows nothing of RESP.
 * Ranks here are 1-based (the header is rank 0); callers convert.
 * Design: docs/sorted-sets.md.
 */
#ifndef CB_SKIPLIST_H
#define CB_SKIPLIST_H

#include <stddef.h>
#include <stdint.h>
#include "cbstr.h"

#define ZSL_MAXLEVEL 32

typedef struct zsl_node {
    cbstr ele;
    double score;
    struct zsl_node *backward;
    struct zsl_level {
        struct zsl_node *forward;
        unsigned long span;
    } level[];
} zsl_node;

typedef struct zsl {
    zsl_node *header, *tail;
    unsigned long length;
    int level;
    uint64_t rng; /* private PRNG state for node levels */
} zsl;

/* A score interval; minex/maxex make the bound exclusive. */
typedef struct zsl_range {
    double min, max;
    int minex, maxex;
} zsl_range;

/* A lexicographic interval over element bytes. min/max NULL with the inf
 * flags mean "-" / "+". */
typedef struct zsl_lexrange {
    const char *min, *max;
    size_t minlen, maxlen;
    int minex, maxex;
    int mininf, maxinf; /* 1: unbounded ("-" for min, "+" for max) */
    int minpos_inf, maxneg_inf; /* "+" as min / "-" as max: empty range */
} zsl_lexrange;

zsl *zsl_create(uint64_t seed);
/* Frees every node and its element. */
void zsl_free(zsl *z);
/* Free up to max nodes from the front (lazy free of a big sorted set; the
 * list is unusable after the first call); the last call frees the list and
 * returns 0, earlier ones return 1. */
int zsl_free_step(zsl *z, size_t max);
/* Active defragmentation: find the node holding (score, ele) — ele the
 * very cbstr the node owns — and let move (mem_defrag_move) relocate the
 * node and its element, relinking the list. Returns the node's element (a
 * new pointer when it moved; the caller updates the dict key sharing it)
 * or NULL when no such node; *moved counts the blocks that moved. */
cbstr zsl_defrag_node(zsl *z, double score, cbstr ele, void *(*move)(void *p), int *moved);
/* Inserts ele (ownership passes to the list); it must not be present. */
zsl_node *zsl_insert(zsl *z, double score, cbstr ele);
/* Removes the node with exactly (score, ele); returns 1 when found. When
 * out is not NULL the node is unlinked and handed back (caller frees with
 * zsl_free_node), else it is freed with its element. */
int zsl_delete(zsl *z, double score, const char *ele, size_t len, zsl_node **out);
void zsl_free_node(zsl_node *n);
/* Moves the element from curscore to newscore; returns its (maybe new) node. */
zsl_node *zsl_update_score(zsl *z, double curscore, const char *ele, size_t len,
                           double newscore);
/* 1-based rank of (score, ele), 0 when absent. */
unsigned long zsl_rank(const zsl *z, double score, const char *ele, size_t len);
/* Node at 1-based rank, NULL when out of range. */
zsl_node *zsl_by_rank(const zsl *z, unsigned long rank);

/* Range tests and ends. */
int zsl_value_gte_min(double v, const zsl_range *r);
int zsl_value_lte_max(double v, const zsl_range *r);
zsl_node *zsl_first_in_range(const zsl *z, const zsl_range *r);
zsl_node *zsl_last_in_range(const zsl *z, const zsl_range *r);
int zsl_lex_gte_min(const char *p, size_t len, const zsl_lexrange *r);
int zsl_lex_lte_max(const char *p, size_t len, const zsl_lexrange *r);
int zsl_lex_range_empty(const zsl_lexrange *r);
zsl_node *zsl_first_in_lex(const zsl *z, const zsl_lexrange *r);
zsl_node *zsl_last_in_lex(const zsl *z, const zsl_lexrange *r);

/* Byte order used for ties and lex ranges: memcmp, then the shorter first. */
int zsl_cmp_bytes(const char *a, size_t al, const char *b, size_t bl);

/* Bytes held by the list's nodes and elements. */
size_t zsl_mem_usage(const zsl *z);

#endif
