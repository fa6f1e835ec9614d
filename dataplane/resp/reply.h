/* reply.h — the reply encoder: every reply a command sends goes through these
 * calls, which write RESP2 or RESP3 (per the client's protocol) into the
 * client's output buffer chain. Error texts follow Redis's convention: a
 * message starting with '-' is sent as is, anything else gets "-ERR ".
 * Knows nothing of the store.
 */
#ifndef CB_REPLY_H
#define CB_REPLY_H

#include <stddef.h>
#include <stdint.h>

typedef struct cb_client cb_client;

void reply_raw(cb_client *c, const void *p, size_t len); /* bytes as is */
void reply_ok(cb_client *c);                    /* +OK */
void reply_status(cb_client *c, const char *s); /* +s */
void reply_status_len(cb_client *c, const char *s, size_t len);
void reply_error(cb_client *c, const char *msg);
void reply_error_len(cb_client *c, const char *msg, size_t len);
void reply_errorf(cb_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void reply_int(cb_client *c, long long v);      /* :v */
void reply_bulk(cb_client *c, const void *p, size_t len);
void reply_bulk_cstr(cb_client *c, const char *s); /* NULL -> null */
void reply_bulk_ll(cb_client *c, long long v);  /* integer as a bulk string */
void reply_null(cb_client *c);                  /* $-1 / _ */
void reply_null_array(cb_client *c);            /* *-1 / _ */
void reply_double(cb_client *c, double d);      /* bulk "%.17g" / ,d */
void reply_bool(cb_client *c, int b);           /* :0/:1 / #f/#t */
void reply_verbatim(cb_client *c, const char *p, size_t len, const char *ext);
/* Aggregate headers; RESP2 sends maps as arrays of 2n and sets as arrays. */
void reply_array_len(cb_client *c, long n);
void reply_map_len(cb_client *c, long n);
void reply_set_len(cb_client *c, long n);
void reply_push_len(cb_client *c, long n);      /* >n / *n */
void reply_empty_array(cb_client *c);
/* A length not known up front: reserve, then fill in. kind is 'a' array,
 * 'm' map (n = pairs), 's' set. */
void *reply_deferred_len(cb_client *c);
void reply_set_deferred_len(cb_client *c, void *handle, long n, char kind);
/* Help text: an array of status lines, the way Redis's HELP subcommands answer. */
void reply_help(cb_client *c, const char *const *lines);

/* Shared error texts, byte for byte as Redis 7.0 sends them. */
extern const char *const ERR_WRONGTYPE;
extern const char *const ERR_SYNTAX;
extern const char *const ERR_NOT_INT;
extern const char *const ERR_NOT_FLOAT;
extern const char *const ERR_OUT_OF_RANGE;
extern const char *const ERR_NO_SUCH_KEY;
extern const char *const ERR_DB_INDEX;
extern const char *const ERR_SAME_OBJECT;
extern const char *const ERR_OVERFLOW;

#endif
