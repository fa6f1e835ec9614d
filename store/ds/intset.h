/* intset.h — a sorted array of distinct 64-bit integers stored at the
 * narrowest width (2, 4 or 8 bytes) that holds all of them: the compact
 * encoding of small all-integer sets (OBJECT ENCODING "intset").
 *
 * One allocation: an 8-byte header (width, count; both little endian) and
 * then the elements, little endian, ascending. The blob is position
 * independent, so it can be written to and read from RDB/DUMP payloads as
 * is. Adding a value that needs a wider type re-encodes every element;
 * removal never narrows (as Redis). Functions that may move the blob return
 * the new pointer. Knows nothing of RESP or the keyspace.
 */
#ifndef CB_INTSET_H
#define CB_INTSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct intset intset;

/* An empty set at the narrowest (16-bit) width. */
intset *intset_new(void);
void intset_free(intset *is);
intset *intset_dup(const intset *is);

/* Adds v; *added (if non-NULL) is 1 when v was not present. */
intset *intset_add(intset *is, int64_t v, int *added);
/* Removes v; *removed (if non-NULL) is 1 when v was present. */
intset *intset_remove(intset *is, int64_t v, int *removed);
/* 1 when v is a member. */
int intset_find(const intset *is, int64_t v);

uint32_t intset_len(const intset *is);
/* Bytes per element: 2, 4 or 8. */
unsigned intset_width(const intset *is);
/* Element at position pos (0 <= pos < len), in ascending order. */
int64_t intset_get(const intset *is, uint32_t pos);
/* A uniformly chosen element; the set must not be empty. rng is caller state. */
int64_t intset_random(const intset *is, uint64_t *rng);
int64_t intset_min(const intset *is);
int64_t intset_max(const intset *is);

/* Serialized size (header + elements); the blob itself is the pointer. */
size_t intset_blob_len(const intset *is);
/* Checks an untrusted blob of size bytes: known width, size matching the
 * count, and (deep) strictly ascending elements. 1 valid, 0 corrupt. */
int intset_validate(const void *blob, size_t size, int deep);
/* Copy of a blob that passed intset_validate. */
intset *intset_from_blob(const void *blob, size_t size);

#endif
