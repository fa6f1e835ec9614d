/* json.h — the little JSON the control port writes: escaped strings,
 * numbers passed through when they already are JSON numbers, and the INFO
 * text turned into an object of sections. No parser: the control port only
 * reads plain values (query strings, a raw config value as the body).
 */
#ifndef CB_JSON_H
#define CB_JSON_H

#include <stddef.h>
#include "../store/ds/cbstr.h"

/* Append p[0..n) as a quoted JSON string (control bytes escaped, invalid
 * UTF-8 bytes replaced by U+FFFD so the output always parses). */
cbstr json_str(cbstr s, const char *p, size_t n);
/* Append p[0..n) as a number when it is one by JSON's grammar, else as a
 * string. */
cbstr json_scalar(cbstr s, const char *p, size_t n);
/* Append "k1=v1<sep>k2=v2..." as an object of scalars. */
cbstr json_pairs(cbstr s, const char *p, size_t n, char sep);
/* Append INFO text as {"section": {"field": value, ...}, ...}; section
 * names lower-case; "a=1,b=2" values of keyspace, commandstats, errorstats
 * and latencystats become objects. */
cbstr json_info(cbstr s, const char *text, size_t len);

#endif
