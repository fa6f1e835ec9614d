/* quicklist.h — the list value: a doubly linked list of lpack nodes
 * (lpack.h), each holding a bounded run of entries, with the nodes away
 * from both ends optionally LZF-compressed. Two knobs, fixed when a list is
 * created (as Redis does): fill (list-max-listpack-size: > 0 entries per
 * node, -1..-5 bytes per node 4/8/16/32/64 KiB) and depth
 * (list-compress-depth: nodes kept plain at each end, 0 = none compressed).
 * Knows nothing of RESP or the keyspace. Design notes in quicklist.c.
 */
#ifndef CB_QUICKLIST_H
#define CB_QUICKLIST_H

#include <stddef.h>
#include <stdint.h>
#include "lpack.h"

typedef struct ql_node {
    struct ql_node *prev, *next;
    unsigned char *data; /* an lpack, or its LZF form when compressed */
    uint32_t sz;         /* bytes of the plain lpack (kept when compressed) */
    uint32_t count;      /* entries */
    uint32_t csz;        /* bytes of the LZF form when compressed */
    uint8_t compressed;
    uint8_t nocompress;  /* last try did not shrink it; cleared on change */
} ql_node;

typedef struct quicklist {
    ql_node *head, *tail;
    unsigned long count; /* entries over all nodes */
    unsigned long len;   /* nodes */
    int fill;
    int depth;
} quicklist;

enum { QL_HEAD = 0, QL_TAIL = 1 };

quicklist *ql_new(int fill, int depth);
void ql_free(quicklist *ql);
/* Free up to max nodes from the head (lazy free of a big list); the last
 * call frees the list itself and returns 0, earlier ones return 1. */
int ql_free_step(quicklist *ql, size_t max);
quicklist *ql_dup(const quicklist *ql);
/* Bytes allocated for the list (MEMORY USAGE). */
size_t ql_mem(const quicklist *ql);

/* Adds an entry at the head or the tail. */
void ql_push(quicklist *ql, int where, const void *s, size_t len);
/* Replaces the entry at index (negative from the tail); 0 when out of range. */
int ql_replace(quicklist *ql, long index, const void *s, size_t len);
/* Removes n entries from index start (>= 0) on, clipped to the list. */
void ql_del_range(quicklist *ql, unsigned long start, unsigned long n);

/* A cursor over entries. Values read through it stay valid until the next
 * call on the iterator. ql_iter_release must end every walk (it puts back
 * the compression of the node it stands on). */
typedef struct ql_iter {
    quicklist *ql;
    ql_node *node;
    unsigned char *p;  /* entry ql_iter_next returns next / returned last */
    int dir;           /* QL_TAIL: towards the tail, QL_HEAD: towards the head */
    int fresh;         /* p not yet returned */
    int changed;       /* nodes went away: release re-checks the ends */
    lp_val val;        /* the current entry */
} ql_iter;

/* Positions the cursor so ql_iter_next first returns entry index (negative
 * counts from the tail). Returns 0 when index is out of range (the iterator
 * then returns nothing, release is still allowed). */
int ql_iter_init(quicklist *ql, ql_iter *it, long index, int dir);
/* Next entry into it->val; 0 at the end. */
int ql_iter_next(ql_iter *it);
/* Deletes the current entry; the walk goes on with the one after it. */
void ql_iter_delete(ql_iter *it);
/* Inserts s before or after the current entry. Ends the walk: only
 * ql_iter_release may follow. */
void ql_iter_insert(ql_iter *it, int after, const void *s, size_t len);
void ql_iter_release(ql_iter *it);

/* DEBUG OBJECT's ql_* figures: nodes, compressed nodes, and the bytes of
 * all nodes' plain lpacks. */
void ql_stats(const quicklist *ql, unsigned long *nodes, unsigned long *compressed,
              size_t *uncompressed);

/* Checks the list's structure against its counters (tests, DEBUG).
 * 1 when sound. */
int ql_check(const quicklist *ql);

#endif
