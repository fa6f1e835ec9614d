/* cbstr.h — binary-safe, length-prefixed, NUL-terminated byte strings.
 * A cbstr is a char* to the bytes; its length and capacity live in a header
 * just before them, so a cbstr can be passed wherever a C string is read.
 * Functions that may grow the string return the (possibly moved) pointer.
 * Knows nothing of RESP or the keyspace.
 */
#ifndef CB_CBSTR_H
#define CB_CBSTR_H

#include <stddef.h>
#include <stdarg.h>

typedef char *cbstr;

/* New string holding len bytes copied from p (p may be NULL: zero-filled). */
cbstr cbstr_new(const void *p, size_t len);
/* New string with room for cap bytes and length 0. */
cbstr cbstr_with_cap(size_t cap);
cbstr cbstr_from_cstr(const char *s);
cbstr cbstr_dup(const cbstr s);
void cbstr_free(cbstr s);

size_t cbstr_len(const cbstr s);
/* Spare bytes after the current length. */
size_t cbstr_avail(const cbstr s);
/* Active defragmentation: the string moved to a better place by move (which
 * takes and returns allocation bases, NULL: not moved); NULL when not moved. */
cbstr cbstr_move(cbstr s, void *(*move)(void *p));
/* Bytes the allocator holds for this string (header included). */
size_t cbstr_alloc_size(const cbstr s);

/* Append len bytes; grows geometrically (doubling up to 1 MB, then +1 MB). */
cbstr cbstr_cat(cbstr s, const void *p, size_t len);
cbstr cbstr_catfmt(cbstr s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
cbstr cbstr_catvfmt(cbstr s, const char *fmt, va_list ap);
/* Make the length newlen, zero-filling new bytes (SETRANGE/SETBIT growth). */
cbstr cbstr_grow_zero(cbstr s, size_t newlen);
/* Ensure at least extra spare bytes without changing the length. */
cbstr cbstr_reserve(cbstr s, size_t extra);
/* Set the length after writing into spare room (adds the NUL). */
void cbstr_setlen(cbstr s, size_t len);
/* Release spare room. */
cbstr cbstr_shrink(cbstr s);
/* Keep bytes [start, start+len) only (in place). */
void cbstr_range(cbstr s, size_t start, size_t len);
void cbstr_clear(cbstr s);

/* memcmp order then length; <0, 0, >0. */
int cbstr_cmp(const cbstr a, const cbstr b);
int cbstr_eq_bytes(const cbstr a, const void *p, size_t len);

#endif
