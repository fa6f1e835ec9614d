/* zpack.h — the compact encoding of small sorted sets (what OBJECT ENCODING
 * reports as "listpack"): one contiguous block holding (element, score)
 * entries sorted by score, then element bytes. Layout:
 *   u32 total bytes | u32 entry count | entries...
 *   entry = LEB128 element length | element bytes | score (8-byte double)
 * Entries are addressed by byte offset (0 means "none": the header occupies
 * it). Operations are linear, as they are for Redis's listpack; the set is
 * converted to a skiplist before that matters. Knows nothing of RESP.
 * Design: docs/sorted-sets.md.
 */
#ifndef CB_ZPACK_H
#define CB_ZPACK_H

#include <stddef.h>

typedef unsigned char zpack;

#define ZP_HEADER 8

zpack *zp_new(void);
void zp_free(zpack *zp);
zpack *zp_dup(const zpack *zp);
size_t zp_count(const zpack *zp);
size_t zp_bytes(const zpack *zp);

/* Offsets of the first entry / the entry after off; 0 when there is none. */
size_t zp_first(const zpack *zp);
size_t zp_next(const zpack *zp, size_t off);
/* Offset of the entry with 0-based index idx (0 when out of range). */
size_t zp_at_index(const zpack *zp, size_t idx);
/* The entry at off. */
void zp_get(const zpack *zp, size_t off, const char **ele, size_t *len, double *score);
double zp_score(const zpack *zp, size_t off);
/* Offset of the entry holding ele (0 when absent); *score set if found. */
size_t zp_find(const zpack *zp, const char *ele, size_t len, double *score);
/* Inserts (ele, score) at its sorted place; ele must not be present. */
zpack *zp_insert(zpack *zp, const char *ele, size_t len, double score);
/* Appends at the end without ordering (the caller knows it sorts last). */
zpack *zp_append(zpack *zp, const char *ele, size_t len, double score);
/* Removes n consecutive entries starting at off. */
zpack *zp_delete(zpack *zp, size_t off, size_t n);
/* 1 when buf (n bytes) is a well-formed zpack: sizes agree, every entry
 * lies inside the block, the count matches, order holds. */
int zp_validate(const unsigned char *buf, size_t n);

#endif
