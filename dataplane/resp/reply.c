/* reply.c — RESP2/RESP3 reply encoder writing into a client's output chain.
 *
 * Output is a singly linked chain of blocks (cb_outblock); small replies are
 * packed into the tail block, a large bulk gets a block of its own. A
 * deferred length reserves an empty header block that is filled in later, so
 * nothing already queued has to move. Replies are dropped while the client
 * has CLIENT REPLY OFF/SKIP in force or is about to be closed.
 */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "../client.h"
#include "../conn.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

#define OUT_BLOCK_SIZE (16 * 1024)
#define DEFERRED_ROOM 32

static int muted(const cb_client *c) {
    return (c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_CLOSE_ASAP |
                        CLIENT_CLOSED)) != 0;
}

static cb_outblock *new_block(size_t cap) {
    /* Output buffers come from the connection arena (platform/mem.h). */
    cb_outblock *b = cb_malloc_conn(sizeof(*b) + cap);
    b->next = NULL;
    b->used = 0;
    b->cap = cap;
    b->sent = 0;
    return b;
}

static void link_block(cb_client *c, cb_outblock *b) {
    c->out_mem += CB_OUTBLOCK_MEM(b);
    if (c->out_tail)
        c->out_tail->next = b;
    else
        c->out_head = b;
    c->out_tail = b;
}

/* Append bytes to the output chain, growing it as needed. */
static void out_append(cb_client *c, const void *p, size_t len) {
    if (muted(c) || len == 0) return;
    const char *s = p;
    cb_outblock *t = c->out_tail;
    if (t && t->cap > t->used) {
        size_t room = t->cap - t->used;
        size_t n = len < room ? len : room;
        memcpy(t->data + t->used, s, n);
        t->used += n;
        s += n;
        len -= n;
        c->out_bytes += n;
    }
    if (len) {
        cb_outblock *b = new_block(len > OUT_BLOCK_SIZE ? len : OUT_BLOCK_SIZE);
        memcpy(b->data, s, len);
        b->used = len;
        c->out_bytes += len;
        link_block(c, b);
        /* Checked per new block, not per reply: cheap, and bounded. */
        if (conn_check_output_limits(c)) return;
    }
    conn_output_queued(c);
}

void reply_raw(cb_client *c, const void *p, size_t len) { out_append(c, p, len); }

static void header(cb_client *c, char type, long long n) {
    char buf[32];
    buf[0] = type;
    size_t l = util_ll2str(buf + 1, sizeof(buf) - 3, n);
    buf[1 + l] = '\r';
    buf[2 + l] = '\n';
    out_append(c, buf, l + 3);
}

void reply_ok(cb_client *c) { out_append(c, "+OK\r\n", 5); }

void reply_status_len(cb_client *c, const char *s, size_t len) {
    out_append(c, "+", 1);
    out_append(c, s, len);
    out_append(c, "\r\n", 2);
}

void reply_status(cb_client *c, const char *s) { reply_status_len(c, s, strlen(s)); }

void reply_error_len(cb_client *c, const char *msg, size_t len) {
    /* Newlines would break the protocol; Redis replaces them with spaces. */
    char stackbuf[256];
    char *m = len + 8 <= sizeof(stackbuf) ? stackbuf : cb_malloc(len + 8);
    size_t o = 0;
    if (len == 0 || msg[0] != '-') {
        memcpy(m, "-ERR ", 5);
        o = 5;
    }
    for (size_t i = 0; i < len; i++) m[o++] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    m[o++] = '\r';
    m[o++] = '\n';
    out_append(c, m, o);
    conn_error_replied(c, m + 1, o - 3);
    if (m != stackbuf) cb_free(m);
}

void reply_error(cb_client *c, const char *msg) { reply_error_len(c, msg, strlen(msg)); }

void reply_errorf(cb_client *c, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof(buf)) n = sizeof(buf) - 1;
    reply_error_len(c, buf, (size_t)n);
}

void reply_int(cb_client *c, long long v) {
    if (v == 0) { out_append(c, ":0\r\n", 4); return; }
    if (v == 1) { out_append(c, ":1\r\n", 4); return; }
    header(c, ':', v);
}

void reply_bulk(cb_client *c, const void *p, size_t len) {
    if (muted(c)) return;
    char buf[32];
    buf[0] = '$';
    size_t l = util_ull2str(buf + 1, sizeof(buf) - 3, len);
    buf[1 + l] = '\r';
    buf[2 + l] = '\n';
    /* Keep header, payload and CRLF in one copy when they fit the tail. */
    cb_outblock *t = c->out_tail;
    if (t && t->cap > t->used && t->cap - t->used >= l + 3 + len + 2) {
        memcpy(t->data + t->used, buf, l + 3);
        memcpy(t->data + t->used + l + 3, p, len);
        memcpy(t->data + t->used + l + 3 + len, "\r\n", 2);
        t->used += l + 5 + len;
        c->out_bytes += l + 5 + len;
        conn_output_queued(c);
        return;
    }
    out_append(c, buf, l + 3);
    out_append(c, p, len);
    out_append(c, "\r\n", 2);
}

void reply_bulk_cstr(cb_client *c, const char *s) {
    if (!s)
        reply_null(c);
    else
        reply_bulk(c, s, strlen(s));
}

void reply_bulk_ll(cb_client *c, long long v) {
    char buf[CB_LL2STR_MAX];
    size_t l = util_ll2str(buf, sizeof(buf), v);
    reply_bulk(c, buf, l);
}

void reply_null(cb_client *c) {
    if (c->resp >= 3)
        out_append(c, "_\r\n", 3);
    else
        out_append(c, "$-1\r\n", 5);
}

void reply_null_array(cb_client *c) {
    if (c->resp >= 3)
        out_append(c, "_\r\n", 3);
    else
        out_append(c, "*-1\r\n", 5);
}

void reply_double(cb_client *c, double d) {
    char buf[CB_D2STR_MAX];
    size_t l = util_d2str(buf, sizeof(buf), d);
    if (c->resp >= 3) {
        out_append(c, ",", 1);
        out_append(c, buf, l);
        out_append(c, "\r\n", 2);
    } else {
        reply_bulk(c, buf, l);
    }
}

void reply_bool(cb_client *c, int b) {
    if (c->resp >= 3)
        out_append(c, b ? "#t\r\n" : "#f\r\n", 4);
    else
        reply_int(c, b ? 1 : 0);
}

void reply_verbatim(cb_client *c, const char *p, size_t len, const char *ext) {
    if (c->resp < 3) {
        reply_bulk(c, p, len);
        return;
    }
    header(c, '=', (long long)len + 4);
    out_append(c, ext, 3);
    out_append(c, ":", 1);
    out_append(c, p, len);
    out_append(c, "\r\n", 2);
}

void reply_array_len(cb_client *c, long n) { header(c, '*', n); }

void reply_map_len(cb_client *c, long n) {
    if (c->resp >= 3)
        header(c, '%', n);
    else
        header(c, '*', 2 * (long long)n);
}

void reply_set_len(cb_client *c, long n) { header(c, c->resp >= 3 ? '~' : '*', n); }

void reply_push_len(cb_client *c, long n) { header(c, c->resp >= 3 ? '>' : '*', n); }

void reply_empty_array(cb_client *c) { out_append(c, "*0\r\n", 4); }

void *reply_deferred_len(cb_client *c) {
    if (muted(c)) return NULL;
    /* An empty block with no room: appends skip it; the header lands here. */
    cb_outblock *b = cb_malloc_conn(sizeof(*b) + DEFERRED_ROOM);
    b->next = NULL;
    b->used = 0;
    b->cap = 0;
    b->sent = 0;
    link_block(c, b);
    return b;
}

void reply_set_deferred_len(cb_client *c, void *handle, long n, char kind) {
    /* A client closed by the output limit meanwhile had its blocks (and the
     * handle's) freed. */
    if (!handle || muted(c)) return;
    cb_outblock *b = handle;
    char type = '*';
    long long v = n;
    if (kind == 'm') {
        if (c->resp >= 3)
            type = '%';
        else
            v = 2 * (long long)n;
    } else if (kind == 's' && c->resp >= 3) {
        type = '~';
    }
    b->data[0] = type;
    size_t l = util_ll2str(b->data + 1, DEFERRED_ROOM - 3, v);
    b->data[1 + l] = '\r';
    b->data[2 + l] = '\n';
    b->used = l + 3;
    c->out_bytes += b->used;
    conn_output_queued(c);
}

void reply_help(cb_client *c, const char *const *lines) {
    long n = 0;
    while (lines[n]) n++;
    reply_array_len(c, n);
    for (long i = 0; i < n; i++) reply_status(c, lines[i]);
}
