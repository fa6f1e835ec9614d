/* parser.h — incremental RESP request parser (multibulk and inline) that reads
 * from received segments in place. Feed it a segment at a time; when a
 * command is complete its arguments point into the segment (zero copy) or,
 * when an argument spans segments, into the parser's own storage. Before
 * the caller drops a segment while a command is still partial, it calls
 * resp_parser_detach() so partial arguments are copied out.
 */
#ifndef CB_RESP_PARSER_H
#define CB_RESP_PARSER_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    RESP_NEED_MORE = 0,   /* all input consumed, no command yet */
    RESP_COMMAND = 1,     /* a command is ready in argv/argc */
    RESP_ERROR = -1       /* protocol error; errmsg says which */
} resp_status;

typedef struct resp_limits {
    long long proto_max_bulk_len;      /* bulk length cap */
    size_t query_buffer_limit;         /* bytes buffered for one partial command */
    int authenticated;                 /* unauthenticated peers get tight caps */
} resp_limits;

typedef struct resp_parser {
    int state;
    int is_inline;
    long long multibulk;      /* remaining args to read */
    long long bulklen;        /* length of the bulk being read, -1 none */
    int argc, argv_cap;
    const char **argv;
    size_t *argv_len;
    uint32_t *argv_owned;     /* bitmap-ish: 1 when argv[i] is in own storage */
    char **owned;             /* per-arg owned buffers (NULL if borrowed) */
    size_t *owned_cap;
    /* Accumulator for header lines / inline lines split across segments. */
    char *line;
    size_t line_len, line_cap;
    size_t buffered;          /* bytes held for the partial command */
    const char *errmsg;       /* on RESP_ERROR: full "-ERR Protocol error: ..." text */
    int inline_argc;
} resp_parser;

void resp_parser_init(resp_parser *p);
void resp_parser_free(resp_parser *p);
/* Parse from buf[0..len). *consumed says how much was used. On RESP_COMMAND
 * the arguments are in p->argv/argv_len/argc until resp_parser_reset(). */
resp_status resp_parse(resp_parser *p, const char *buf, size_t len, size_t *consumed,
                       const resp_limits *lim);
/* Forget the finished command (after it ran). */
void resp_parser_reset(resp_parser *p);
/* Copy borrowed pieces of a partial command into own storage. */
void resp_parser_detach(resp_parser *p);
/* Bytes of the partial command held in own storage (query buffer size). */
size_t resp_parser_buffered(const resp_parser *p);

#endif
