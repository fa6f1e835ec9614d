/* lpack.h — a compact, contiguous list of byte strings and integers: the
 * node format of the quicklist (quicklist.h). One allocation holds a small
 * header and the entries back to back; every entry can be walked forwards
 * and backwards. Strings that are canonical integers are stored as
 * integers (1 to 9 bytes). The layout is described at the top of lpack.c.
 * Functions that change a pack may move it: they return the new pointer.
 */
#ifndef CB_LPACK_H
#define CB_LPACK_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of the header: total size (u32 LE) and entry count (u32 LE). */
#define LP_HDR 8

/* One decoded entry: a string (s != NULL) or an integer (s == NULL, v). */
typedef struct lp_val {
    const unsigned char *s;
    size_t len;
    long long v;
} lp_val;

/* An empty pack. */
unsigned char *lp_new(void);
void lp_free(unsigned char *lp);
/* Total bytes of the pack. */
uint32_t lp_bytes(const unsigned char *lp);
uint32_t lp_count(const unsigned char *lp);

/* Entry pointers; NULL past the ends. */
unsigned char *lp_first(unsigned char *lp);
unsigned char *lp_last(unsigned char *lp);
unsigned char *lp_next(unsigned char *lp, unsigned char *p);
unsigned char *lp_prev(unsigned char *lp, unsigned char *p);
/* Entry at index (negative counts from the end); NULL when out of range. */
unsigned char *lp_seek(unsigned char *lp, long index);
/* Decodes the entry at p. */
void lp_get(const unsigned char *p, lp_val *out);
/* 1 when the entry at p equals the bytes s[0..len). */
int lp_eq(const unsigned char *p, const void *s, size_t len);
/* Writes the entry as text into buf (>= 24 bytes) when it is an integer;
 * returns the bytes and sets *len. */
const char *lp_str(const lp_val *v, char *buf, size_t *len);

/* Bytes an entry holding s would take (header, payload, back length). */
size_t lp_entry_size(const void *s, size_t len);

/* Inserts s before the entry at offset off (off == lp_bytes: append). */
unsigned char *lp_insert_at(unsigned char *lp, size_t off, const void *s, size_t len);
unsigned char *lp_append(unsigned char *lp, const void *s, size_t len);
unsigned char *lp_prepend(unsigned char *lp, const void *s, size_t len);
/* Replaces the entry at offset off. */
unsigned char *lp_replace_at(unsigned char *lp, size_t off, const void *s, size_t len);
/* Deletes n entries starting at offset off (n clipped to what is there). */
unsigned char *lp_delete_at(unsigned char *lp, size_t off, unsigned long n);
/* Deletes n entries starting at index (negative counts from the end). */
unsigned char *lp_delete_range(unsigned char *lp, long index, unsigned long n);
/* Appends all entries of b to a; b is left untouched. */
unsigned char *lp_merge(unsigned char *a, const unsigned char *b);
/* A new pack holding entries [from, from+n) of lp. */
unsigned char *lp_slice(unsigned char *lp, unsigned long from, unsigned long n);

/* Checks a pack of size bytes received from outside (a snapshot, a corrupt
 * buffer): header, every entry's bounds and back length, the count.
 * 1 valid, 0 not. */
int lp_validate(const unsigned char *lp, size_t size);

#endif
