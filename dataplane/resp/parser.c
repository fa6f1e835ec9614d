/* parser.c — incremental RESP request parser over received segments.
 *
 * The caller feeds one segment at a time (resp_parse). Header lines ("*N",
 * "$N", inline commands) are short, so they are gathered into p->line even
 * when split across segments. Bulk payloads are borrowed in place when they
 * lie wholly inside the current segment (zero copy) and copied into an owned
 * buffer otherwise. Before a segment that still backs a partial command is
 * released, resp_parser_detach() copies the borrowed pieces out.
 *
 * Error texts and the points where they trigger follow Redis 7.0: header
 * lines end at '\r' and the byte after it is skipped unchecked, as is the
 * CRLF after a bulk payload; headers longer than 64 KB without a '\r' are
 * refused.
 */
#include "parser.h"

#include <string.h>
#include "../../platform/mem.h"
#include "../../platform/util.h"

#define PROTO_INLINE_MAX 65536
#define PROTO_UNAUTH_MAX_MB 10
#define PROTO_UNAUTH_MAX_BULK 16384
#define LINE_INITIAL 64

enum {
    ST_START = 0,   /* at the first byte of a command */
    ST_INLINE,      /* gathering an inline command up to '\n' */
    ST_MB_HEADER,   /* gathering "*<count>" up to '\r' */
    ST_BULK_HEADER, /* gathering "$<len>" up to '\r' */
    ST_LINE_CR,     /* header ended with '\r' as the last byte: skip one more */
    ST_BULK_DATA,   /* reading a bulk payload */
    ST_BULK_SKIP    /* skipping the 2 bytes after a payload */
};

void resp_parser_init(resp_parser *p) {
    memset(p, 0, sizeof(*p));
    p->bulklen = -1;
}

/* Frees owned argument buffers, including one for a bulk still being read
 * (index argc). */
static void free_args(resp_parser *p) {
    int upto = p->argc + 1 < p->argv_cap ? p->argc + 1 : p->argv_cap;
    for (int i = 0; i < upto; i++) {
        if (p->owned[i]) {
            cb_free(p->owned[i]);
            p->owned[i] = NULL;
            p->owned_cap[i] = 0;
        }
        p->argv_owned[i] = 0;
    }
    p->argc = 0;
}

void resp_parser_free(resp_parser *p) {
    free_args(p);
    cb_free(p->argv);
    cb_free(p->argv_len);
    cb_free(p->owned);
    cb_free(p->owned_cap);
    cb_free(p->argv_owned);
    cb_free(p->line);
    resp_parser_init(p);
}

void resp_parser_reset(resp_parser *p) {
    free_args(p);
    p->state = ST_START;
    p->is_inline = 0;
    p->multibulk = 0;
    p->bulklen = -1;
    p->line_len = 0;
    p->buffered = 0;
    p->errmsg = NULL;
    /* Keep big argv arrays from one huge MSET from pinning memory forever. */
    if (p->argv_cap > 1024) {
        cb_free(p->argv); cb_free(p->argv_len); cb_free(p->owned);
        cb_free(p->owned_cap); cb_free(p->argv_owned);
        p->argv = NULL; p->argv_len = NULL; p->owned = NULL;
        p->owned_cap = NULL; p->argv_owned = NULL;
        p->argv_cap = 0;
    }
}

static void ensure_argv(resp_parser *p, int need) {
    if (need <= p->argv_cap) return;
    int cap = p->argv_cap ? p->argv_cap : 8;
    while (cap < need) cap *= 2;
    p->argv = cb_realloc(p->argv, sizeof(*p->argv) * cap);
    p->argv_len = cb_realloc(p->argv_len, sizeof(*p->argv_len) * cap);
    p->owned = cb_realloc(p->owned, sizeof(*p->owned) * cap);
    p->owned_cap = cb_realloc(p->owned_cap, sizeof(*p->owned_cap) * cap);
    p->argv_owned = cb_realloc(p->argv_owned, sizeof(*p->argv_owned) * cap);
    for (int i = p->argv_cap; i < cap; i++) {
        p->owned[i] = NULL;
        p->owned_cap[i] = 0;
        p->argv_owned[i] = 0;
    }
    p->argv_cap = cap;
}

static void line_append(resp_parser *p, const char *s, size_t n) {
    if (p->line_len + n + 1 > p->line_cap) {
        size_t cap = p->line_cap ? p->line_cap : LINE_INITIAL;
        while (cap < p->line_len + n + 1) cap *= 2;
        p->line = cb_realloc(p->line, cap);
        p->line_cap = cap;
    }
    memcpy(p->line + p->line_len, s, n);
    p->line_len += n;
    p->line[p->line_len] = '\0';
}

/* Append an argument that the parser owns (copied). */
static void push_owned_arg(resp_parser *p, const char *s, size_t n) {
    ensure_argv(p, p->argc + 1);
    int i = p->argc++;
    char *b = cb_malloc(n + 1);
    memcpy(b, s, n);
    b[n] = '\0';
    p->owned[i] = b;
    p->owned_cap[i] = n + 1;
    p->argv[i] = b;
    p->argv_len[i] = n;
    p->argv_owned[i] = 1;
    p->buffered += n;
}

static resp_status fail(resp_parser *p, const char *msg) {
    p->errmsg = msg;
    return RESP_ERROR;
}

static void emit_owned(void *priv, const char *w, size_t n) { push_owned_arg(priv, w, n); }

/* Split an inline command line into owned arguments with redis-cli's quoting
 * rules. Returns 0, or -1 on unbalanced quotes. */
static int split_inline(resp_parser *p, const char *s, size_t n) {
    char *scratch = cb_malloc(n + 1);
    int rc = util_splitargs(s, n, scratch, emit_owned, p);
    cb_free(scratch);
    if (rc < 0) free_args(p);
    return rc;
}

/* Scan for the end of a header line. Returns 1 when the line is complete in
 * p->line (consuming through the byte after '\r'), 0 when more input is
 * needed (everything consumed), -1 when the line grew past the cap. */
static int gather_line(resp_parser *p, const char *buf, size_t len, size_t *pos) {
    if (p->state == ST_LINE_CR) {
        if (*pos >= len) return 0;
        (*pos)++; /* the byte after '\r' (normally '\n'), skipped unchecked */
        return 1;
    }
    const char *start = buf + *pos;
    size_t avail = len - *pos;
    const char *cr = memchr(start, '\r', avail);
    if (!cr) {
        line_append(p, start, avail);
        *pos = len;
        return p->line_len > PROTO_INLINE_MAX ? -1 : 0;
    }
    size_t n = (size_t)(cr - start);
    line_append(p, start, n);
    if (n + 1 < avail) {
        *pos += n + 2;
        return 1;
    }
    *pos = len;
    return 2; /* '\r' was the last byte: caller switches to ST_LINE_CR */
}

resp_status resp_parse(resp_parser *p, const char *buf, size_t len, size_t *consumed,
                       const resp_limits *lim) {
    size_t pos = 0;
    resp_status st = RESP_NEED_MORE;
    int authed = lim ? lim->authenticated : 1;
    long long maxbulk = lim ? lim->proto_max_bulk_len : 512LL * 1024 * 1024;

    while (pos < len) {
        switch (p->state) {
        case ST_START:
            p->line_len = 0;
            if (buf[pos] == '*') {
                pos++;
                p->state = ST_MB_HEADER;
                p->is_inline = 0;
            } else {
                p->state = ST_INLINE;
                p->is_inline = 1;
            }
            break;

        case ST_INLINE: {
            const char *start = buf + pos;
            size_t avail = len - pos;
            const char *nl = memchr(start, '\n', avail);
            if (!nl) {
                line_append(p, start, avail);
                pos = len;
                if (p->line_len > PROTO_INLINE_MAX) {
                    st = fail(p, "-ERR Protocol error: too big inline request");
                    goto out;
                }
                break;
            }
            line_append(p, start, (size_t)(nl - start));
            pos += (size_t)(nl - start) + 1;
            size_t ll = p->line_len;
            if (ll && p->line[ll - 1] == '\r') ll--;
            p->line_len = 0;
            if (split_inline(p, p->line, ll) < 0) {
                st = fail(p, "-ERR Protocol error: unbalanced quotes in request");
                goto out;
            }
            p->state = ST_START;
            if (p->argc > 0) {
                st = RESP_COMMAND;
                goto out;
            }
            break;
        }

        case ST_BULK_HEADER:
            if (p->line_len == 0) {
                /* The first byte of every bulk header must be '$'. */
                if (buf[pos] != '$') {
                    static const char pre[] = "-ERR Protocol error: expected '$', got '";
                    line_append(p, pre, sizeof(pre) - 1);
                    line_append(p, buf + pos, 1);
                    line_append(p, "'", 1);
                    p->errmsg = p->line; /* valid until the next reset */
                    st = RESP_ERROR;
                    goto out;
                }
                line_append(p, "$", 1);
                pos++;
                break;
            }
            /* fall through */
        case ST_MB_HEADER:
        case ST_LINE_CR: {
            int was_bulk = p->state == ST_BULK_HEADER ||
                           (p->state == ST_LINE_CR && p->multibulk > 0 && p->bulklen == -2);
            int r = gather_line(p, buf, len, &pos);
            if (r == -1) {
                st = fail(p, was_bulk ? "-ERR Protocol error: too big bulk count string"
                                      : "-ERR Protocol error: too big mbulk count string");
                goto out;
            }
            if (r == 0) break;
            if (r == 2) {
                /* Remember which header we are finishing across the split. */
                if (p->state == ST_BULK_HEADER) p->bulklen = -2;
                p->state = ST_LINE_CR;
                break;
            }
            long long v;
            if (!was_bulk) {
                /* The '*' was consumed; the count follows. */
                if (!util_str2ll(p->line, p->line_len, &v) || v > 2147483647LL) {
                    st = fail(p, "-ERR Protocol error: invalid multibulk length");
                    goto out;
                }
                if (v > PROTO_UNAUTH_MAX_MB && !authed) {
                    st = fail(p, "-ERR Protocol error: unauthenticated multibulk length");
                    goto out;
                }
                p->line_len = 0;
                if (v <= 0) {
                    p->state = ST_START;
                    break;
                }
                p->multibulk = v;
                ensure_argv(p, v < 1024 ? (int)v : 1024);
                p->bulklen = -1;
                p->state = ST_BULK_HEADER;
                break;
            }
            /* Bulk header: p->line holds "$<len>" (the '$' checked on entry). */
            if (!util_str2ll(p->line + 1, p->line_len - 1, &v) || v < 0 || v > maxbulk) {
                st = fail(p, "-ERR Protocol error: invalid bulk length");
                goto out;
            }
            if (v > PROTO_UNAUTH_MAX_BULK && !authed) {
                st = fail(p, "-ERR Protocol error: unauthenticated bulk length");
                goto out;
            }
            p->line_len = 0;
            p->bulklen = v;
            ensure_argv(p, p->argc + 1);
            int i = p->argc;
            p->argv_len[i] = 0;
            p->argv_owned[i] = 0;
            p->argv[i] = NULL;
            p->state = ST_BULK_DATA;
            /* A payload wholly inside this segment is borrowed in place. */
            if ((long long)(len - pos) >= v) {
                p->argv[i] = buf + pos;
                p->argv_len[i] = (size_t)v;
                p->argc++;
                pos += (size_t)v;
                p->bulklen = 2; /* bytes of CRLF left to skip */
                p->state = ST_BULK_SKIP;
            } else {
                if (p->owned_cap[i] < (size_t)v + 1) {
                    cb_free(p->owned[i]);
                    p->owned[i] = cb_malloc((size_t)v + 1);
                    p->owned_cap[i] = (size_t)v + 1;
                }
                p->argv[i] = p->owned[i];
                p->argv_owned[i] = 1;
            }
            break;
        }

        case ST_BULK_DATA: {
            int i = p->argc;
            size_t want = (size_t)p->bulklen - p->argv_len[i];
            size_t take = len - pos < want ? len - pos : want;
            memcpy(p->owned[i] + p->argv_len[i], buf + pos, take);
            p->argv_len[i] += take;
            p->buffered += take;
            pos += take;
            if (p->argv_len[i] == (size_t)p->bulklen) {
                p->owned[i][p->argv_len[i]] = '\0';
                p->argc++;
                p->bulklen = 2;
                p->state = ST_BULK_SKIP;
            }
            break;
        }

        case ST_BULK_SKIP: {
            size_t take = len - pos < (size_t)p->bulklen ? len - pos : (size_t)p->bulklen;
            pos += take;
            p->bulklen -= (long long)take;
            if (p->bulklen == 0) {
                p->bulklen = -1;
                if (--p->multibulk == 0) {
                    p->state = ST_START;
                    st = RESP_COMMAND;
                    goto out;
                }
                p->state = ST_BULK_HEADER;
            }
            break;
        }
        }

    }
out:
    *consumed = pos;
    if (st == RESP_NEED_MORE && lim && lim->query_buffer_limit &&
        p->buffered + p->line_len > lim->query_buffer_limit) {
        p->errmsg = NULL; /* closed without a reply, as Redis does */
        return RESP_ERROR;
    }
    return st;
}

void resp_parser_detach(resp_parser *p) {
    for (int i = 0; i < p->argc; i++) {
        if (p->argv_owned[i]) continue;
        size_t n = p->argv_len[i];
        if (p->owned_cap[i] < n + 1) {
            cb_free(p->owned[i]);
            p->owned[i] = cb_malloc(n + 1);
            p->owned_cap[i] = n + 1;
        }
        memcpy(p->owned[i], p->argv[i], n);
        p->owned[i][n] = '\0';
        p->argv[i] = p->owned[i];
        p->argv_owned[i] = 1;
        p->buffered += n;
    }
}

size_t resp_parser_buffered(const resp_parser *p) {
    return p->buffered + p->line_len;
}
