/* listpack.h — Redis's on-disk compact containers, as RDB and DUMP payloads
 * carry them: a writer and a validating reader for the listpack format
 * (Redis's listpack.md: 4-byte total size, 2-byte count, entries each
 * followed by their back length, 0xFF end), and validating readers for the
 * older ziplist and zipmap formats that Redis 7.0 still loads.
 *
 * These are wire formats only: the store keeps its own in-memory encodings
 * (store/ds/lpack.h, pairpack.h). Readers never trust their input: every
 * walk is bounds-checked and reports the byte offset of the first fault.
 * Call order: rlp_new, rlp_append..., rlp_finish (writer); xx_walk with a
 * callback (readers).
 */
#ifndef CB_PERSIST_LISTPACK_H
#define CB_PERSIST_LISTPACK_H

#include <stddef.h>
#include <stdint.h>
#include "../store/ds/cbstr.h"

/* ---- Writer: builds a Redis listpack in a cbstr. */
typedef struct rlp_writer {
    cbstr buf;
    unsigned long count;
} rlp_writer;

void rlp_init(rlp_writer *w);
/* Appends an element; canonical integers get Redis's integer encodings. */
void rlp_append(rlp_writer *w, const void *s, size_t len);
/* Completes the header and end byte; returns the listpack (caller frees
 * with cbstr_free). The writer is spent. */
cbstr rlp_finish(rlp_writer *w);

/* Called for each element of a walk: bytes (s, len). Integers are handed
 * over printed in decimal. Return 0 to go on, -1 to stop the walk. */
typedef int (*rpack_visit_fn)(void *priv, const char *s, size_t len);

/* Validates and walks a listpack of size bytes. Returns the element count
 * (>= 0), or -1 with errbuf (errlen bytes) saying what is wrong and at which
 * offset inside the blob. fn may be NULL (validation only). */
long rlp_walk(const unsigned char *lp, size_t size, rpack_visit_fn fn, void *priv,
              char *errbuf, size_t errlen);
/* The same for a ziplist. */
long rzl_walk(const unsigned char *zl, size_t size, rpack_visit_fn fn, void *priv,
              char *errbuf, size_t errlen);
/* The same for a zipmap: fn sees key, value, key, value ... */
long rzm_walk(const unsigned char *zm, size_t size, rpack_visit_fn fn, void *priv,
              char *errbuf, size_t errlen);

#endif
