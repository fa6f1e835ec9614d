/* resp3to2.c — RESP3 -> RESP2 rewriting of stored replies (see resp3to2.h).
 * A single recursive pass: aggregate headers are rewritten, scalars copied or
 * re-framed, the way Redis's own reply functions pick the RESP2 form of each
 * type (map -> 2n array, set/push -> array, null -> null bulk, boolean -> 0/1,
 * double/big number/verbatim -> bulk string).
 */
#include "resp3to2.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../platform/mem.h"

/* Nesting deeper than any COMMAND DOCS reply; bounds the recursion. */
#define R32_MAX_DEPTH 64

typedef struct r32_buf {
    char *p;
    size_t len, cap;
} r32_buf;

static void r32_put(r32_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = cb_realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void r32_header(r32_buf *b, char type, long long n)
{
    char tmp[32];
    int k = snprintf(tmp, sizeof(tmp), "%c%lld\r\n", type, n);
    r32_put(b, tmp, (size_t)k);
}

/* The line at src[*pos] after the type byte: sets [*line, *linelen) and moves
 * *pos past the CRLF. -1 when no CRLF follows. */
static int r32_line(const char *src, size_t len, size_t *pos, const char **line,
                    size_t *linelen)
{
    size_t start = *pos + 1;
    for (size_t i = start; i + 1 < len; i++) {
        if (src[i] == '\r' && src[i + 1] == '\n') {
            *line = src + start;
            *linelen = i - start;
            *pos = i + 2;
            return 0;
        }
    }
    return -1;
}

/* Decimal count or length, "-1" allowed; -2 on anything else. */
static long long r32_num(const char *p, size_t n)
{
    if (n == 2 && p[0] == '-' && p[1] == '1')
        return -1;
    if (n == 0 || n > 18)
        return -2;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -2;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static int r32_value(const char *src, size_t len, size_t *pos, r32_buf *b, int depth)
{
    if (*pos >= len || depth > R32_MAX_DEPTH)
        return -1;
    size_t start = *pos;
    char type = src[start];
    const char *line;
    size_t ll;
    if (r32_line(src, len, pos, &line, &ll) < 0)
        return -1;

    switch (type) {
    case '+': case '-': case ':':
        r32_put(b, src + start, *pos - start);
        return 0;
    case '_':
        if (ll != 0)
            return -1;
        r32_put(b, "$-1\r\n", 5);
        return 0;
    case '#':
        if (ll != 1 || (line[0] != 't' && line[0] != 'f'))
            return -1;
        r32_put(b, line[0] == 't' ? ":1\r\n" : ":0\r\n", 4);
        return 0;
    case ',': case '(':
        r32_header(b, '$', (long long)ll);
        r32_put(b, line, ll);
        r32_put(b, "\r\n", 2);
        return 0;
    case '$': case '=': {
        long long n = r32_num(line, ll);
        if (n == -1 && type == '$') {
            r32_put(b, src + start, *pos - start);
            return 0;
        }
        if (n < 0 || (size_t)n + 2 > len - *pos)
            return -1;
        const char *body = src + *pos;
        if (body[n] != '\r' || body[n + 1] != '\n')
            return -1;
        *pos += (size_t)n + 2;
        if (type == '=') { /* "txt:" prefix is RESP3-only */
            if (n < 4 || body[3] != ':')
                return -1;
            body += 4;
            n -= 4;
        }
        r32_header(b, '$', n);
        r32_put(b, body, (size_t)n);
        r32_put(b, "\r\n", 2);
        return 0;
    }
    case '*': case '~': case '>': case '%': {
        long long n = r32_num(line, ll);
        if (n == -1 && type == '*') {
            r32_put(b, src + start, *pos - start);
            return 0;
        }
        if (n < 0)
            return -1;
        long long items = type == '%' ? 2 * n : n;
        r32_header(b, '*', items);
        for (long long i = 0; i < items; i++)
            if (r32_value(src, len, pos, b, depth + 1) < 0)
                return -1;
        return 0;
    }
    default: /* attributes, blob errors, streamed types: not in stored data */
        return -1;
    }
}

char *resp3to2(const char *src, size_t len, size_t *outlen)
{
    r32_buf b = {0};
    r32_put(&b, "", 0); /* an empty input still yields a buffer */
    size_t pos = 0;
    while (pos < len) {
        if (r32_value(src, len, &pos, &b, 0) < 0) {
            cb_free(b.p);
            errno = EINVAL;
            return NULL;
        }
    }
    *outlen = b.len;
    return b.p;
}
