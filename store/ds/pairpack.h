/* pairpack.h — a packed array of byte strings in one allocation: the compact
 * encoding of small hashes (fields and values alternate), reported to
 * clients as "listpack" like Redis 7.0's. Entries are addressed by byte
 * offset; every operation is a linear walk, which is the point: for the
 * small sizes this encoding is used for, a walk over contiguous memory is
 * cheaper than a hash table's pointers, and it costs a few bytes per entry.
 *
 * Layout: an 8-byte header (total bytes, entry count; both uint32 little
 * endian) then the entries. Each entry starts with a tag byte:
 *   0x00-0x7f  string of that many bytes (0..127) follows
 *   0x80-0xbf  string; length is (tag & 0x3f) << 8 | next byte (<= 16383)
 *   0xc0       string; length is the next 4 bytes (uint32 LE)
 *   0xc1-0xc8  integer of (tag - 0xc0) bytes, signed, LE
 * A string that is the canonical decimal form of a long long is always
 * stored as an integer, so equality needs no string compare of such forms.
 * The structure knows nothing of RESP or of the hash's conversion rules.
 */
#ifndef CB_PAIRPACK_H
#define CB_PAIRPACK_H

#include <stddef.h>
#include <stdint.h>

#define PP_HEADER 8
/* Longest decimal integer text pp_str may write (with a NUL). */
#define PP_INTBUF 24

/* One entry decoded: a string (s, len) or an integer (is_int, ll). */
typedef struct pp_entry {
    const unsigned char *s;
    size_t len;
    long long ll;
    int is_int;
} pp_entry;

/* An empty pack. */
unsigned char *pp_new(void);
void pp_free(unsigned char *pp);
/* Bytes of the whole pack (header included). */
size_t pp_bytes(const unsigned char *pp);
/* Number of entries. */
size_t pp_count(const unsigned char *pp);

/* Offset of the first entry; equals pp_bytes(pp) when the pack is empty. */
size_t pp_first(const unsigned char *pp);
/* Offset after the entry at off (pp_bytes(pp) past the last one). */
size_t pp_next(const unsigned char *pp, size_t off);
/* Offset of entry number idx, or 0 when idx >= pp_count(pp). */
size_t pp_seek(const unsigned char *pp, size_t idx);
/* Decodes the entry at off. */
void pp_get(const unsigned char *pp, size_t off, pp_entry *e);
/* The entry's text: strings point into the pack, integers are printed into
 * buf (PP_INTBUF bytes). */
const char *pp_str(const unsigned char *pp, size_t off, char *buf, size_t *len);

/* First entry equal to (s, len) among entries 0, 1+step, 2*(1+step), ...
 * (step 1 visits the fields of a field/value pack). Offset, or 0 if none. */
size_t pp_find(const unsigned char *pp, const void *s, size_t len, int step);

/* Each returns the pack, which may have moved. */
unsigned char *pp_append(unsigned char *pp, const void *s, size_t len);
unsigned char *pp_append_ll(unsigned char *pp, long long v);
/* Replaces the entry at off. */
unsigned char *pp_replace(unsigned char *pp, size_t off, const void *s, size_t len);
/* Removes n entries starting at off (they must exist). */
unsigned char *pp_delete(unsigned char *pp, size_t off, size_t n);

/* Bytes a string entry of this text would take (tag included). */
size_t pp_entry_size(const void *s, size_t len);

/* 1 when the size bytes at p are a well-formed pack (header agrees with the
 * size, every entry inside and canonically encoded, count right, and the
 * count even when pairs). */
int pp_validate(const unsigned char *p, size_t size, int pairs);

#endif
