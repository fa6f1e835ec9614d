/* resp3to2.h — rewrite stored RESP3 replies into the RESP2 form Redis sends
 * to RESP2 clients (maps become flat arrays of 2n, sets arrays, nulls $-1 ...).
 * Used on data captured as RESP3 (the command table's COMMAND INFO/DOCS
 * bytes), converted once at start rather than per reply. Knows nothing of
 * clients or the store.
 */
#ifndef CB_RESP3TO2_H
#define CB_RESP3TO2_H

#include <stddef.h>

/* Convert a sequence of complete RESP3 values (src, len) to RESP2.
 * Returns a cb_malloc'd, NUL-terminated buffer (caller cb_frees) with the
 * length in *outlen, or NULL (errno EINVAL) when src is malformed, truncated
 * or holds a type with no RESP2 form (attributes, streamed aggregates). */
char *resp3to2(const char *src, size_t len, size_t *outlen);

#endif
