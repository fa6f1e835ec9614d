/* conn.c — per-connection state machine shared by the kernel and DPDK drivers.
 *
 *   conn_input(segment) -> parse -> [command ready] -> dispatch.c call
 *                       -> replies queued (reply.c) -> pending-write list
 *   worker before-sleep -> conn_flush -> driver writev -> close if asked
 *
 * A command whose arguments were borrowed from a segment runs before the
 * segment is released; a partial command is detached (copied) first. A
 * command held back by CLIENT PAUSE keeps its parsed arguments (detached)
 * and the rest of the segment in pending_in until the pause ends.
 */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "dispatch.h"
#include "client_evict.h"
#include "blocking.h"
#include "acl.h"
#include "multi.h"
#include "pubsub.h"
#include "tracking.h"
#include "xshard.h"
#include "cmd/migrate.h"
#include "worker.h"
#include "resp/reply.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"

static const char DENIED_MSG[] =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from "
    "the loopback interface. If you want to connect from external computers to Redis you may "
    "adopt one of the following solutions: 1) Just disable protected mode sending the command "
    "'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from "
    "the same host the server is running, however MAKE SURE Redis is not publicly accessible "
    "from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) "
    "Alternatively you can just disable the protected mode by editing the Redis configuration "
    "file, and setting the protected mode option to 'no', and then restarting the server. 3) "
    "If you started the server manually just for testing, restart it with the '--protected-mode "
    "no' option. 4) Setup a an authentication password for the default user. NOTE: You only "
    "need to do one of the above things in order for the server to start accepting "
    "connections from the outside.\r\n";
static const char MAXCLIENTS_MSG[] = "-ERR max number of clients reached\r\n";

const char *conn_refusal(int local, int over_limit, size_t *len) {
    if (over_limit) {
        *len = sizeof(MAXCLIENTS_MSG) - 1;
        return MAXCLIENTS_MSG;
    }
    /* Protected mode guards a default user without a password (requirepass
     * or ACL rules give it one). */
    if (g_config.protected_mode && acl_default_nopass() && !local) {
        *len = sizeof(DENIED_MSG) - 1;
        return DENIED_MSG;
    }
    return NULL;
}

cb_client *conn_create(cb_worker *w, const cb_driver_ops *ops, int fd, const char *addr,
                       const char *laddr, int local) {
    cb_client *c = cb_calloc(sizeof(*c));
    c->id = __atomic_add_fetch(&g_server.next_client_id, 1, __ATOMIC_RELAXED);
    c->fd = fd;
    c->w = w;
    c->ops = ops;
    c->shard = w->shard;
    c->dbid = 0;
    c->db = &w->shard->dbs[0];
    c->resp = 2;
    c->authenticated = acl_new_client_authenticated();
    c->user = NULL;
    resp_parser_init(&c->parser);
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    snprintf(c->laddr, sizeof(c->laddr), "%s", laddr);
    if (local) c->flags |= CLIENT_LOCAL;
    c->ctime_ms = c->last_interaction_ms = util_mstime();
    c->mem_bucket = -1;
    c->mem_tracked = 1;
    /* Worker's list: newest first, as CLIENT LIST shows them oldest first. */
    c->next = w->clients;
    if (w->clients) w->clients->prev = c;
    w->clients = c;
    w->nclients++;
    STAT_INC(w->stats.connected_clients);
    STAT_INC(w->stats.numconnections);
    return c;
}

void conn_output_queued(cb_client *c) {
    if (c->flags & (CLIENT_PENDING_WRITE | CLIENT_PROXY)) return;
    c->flags |= CLIENT_PENDING_WRITE;
    c->pending_next = c->w->pending_write;
    c->w->pending_write = c;
}

void conn_close_async(cb_client *c) {
    c->flags |= CLIENT_CLOSE_ASAP;
    /* The pending list is where the worker looks for clients to close. */
    conn_output_queued(c);
}

/* Output buffer limits of the normal class: the hard limit closes at once,
 * the soft limit once exceeded continuously for soft_seconds. */
static int obuf_limit_reached(cb_client *c) {
    /* Subscribers are the pubsub class, everyone else normal. */
    const cb_obuf_limit *l = &g_config.obuf_limits[(c->flags & CLIENT_PUBSUB) ? 2 : 0];
    if (c->flags & CLIENT_MONITOR) return 0; /* monitors are the replica class in Redis */
    size_t used = c->out_bytes;
    if (l->hard && used >= l->hard) return 1;
    if (l->soft && used >= l->soft) {
        long long now = util_mstime();
        if (!c->obuf_soft_limit_since_ms) {
            c->obuf_soft_limit_since_ms = now;
            return 0;
        }
        return (now - c->obuf_soft_limit_since_ms) / 1000 >= l->soft_seconds;
    }
    c->obuf_soft_limit_since_ms = 0;
    return 0;
}

int conn_check_output_limits(cb_client *c) {
    if (c->flags & CLIENT_PROXY) return 0; /* the origin worker enforces it */
    if (c->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSED)) return 1;
    if (!obuf_limit_reached(c)) return 0;
    char *info = client_info_line(c);
    cb_log(LOG_WARNING, "Client %s scheduled to be closed ASAP for overcoming of output "
           "buffer limits.", info);
    cb_free(info);
    STAT_INC(c->w->stats.client_outbuf_limit_disconnections);
    conn_close_async(c);
    /* Nothing queued will be sent: free it now so memory stays bounded. */
    while (c->out_head) {
        cb_outblock *b = c->out_head;
        c->out_head = b->next;
        cb_free_conn(b);
    }
    c->out_tail = NULL;
    c->out_bytes = 0;
    c->out_mem = 0;
    client_mem_update(c);
    return 1;
}

void conn_error_replied(cb_client *c, const char *err, size_t len) {
    cb_worker *w = c->w;
    size_t cl = 0;
    while (cl < len && err[cl] != ' ' && cl < 31) cl++;
    STAT_INC(w->stats.total_error_replies);
    c->errors_seen++;
    for (int i = 0; i < w->nerrstats; i++) {
        if (strlen(w->errstats[i].code) == cl && memcmp(w->errstats[i].code, err, cl) == 0) {
            STAT_INC(w->errstats[i].count);
            return;
        }
    }
    if (w->nerrstats < CB_MAX_ERRCODES) {
        cb_err_stat *e = &w->errstats[w->nerrstats];
        memcpy(e->code, err, cl);
        e->code[cl] = '\0';
        e->count = 1;
        __atomic_store_n(&w->nerrstats, w->nerrstats + 1, __ATOMIC_RELEASE);
    }
}

static void pending_append(cb_client *c, const char *buf, size_t len) {
    if (!len) return;
    if (c->pending_len + len > c->pending_cap) {
        size_t cap = c->pending_cap ? c->pending_cap : 1024;
        while (cap < c->pending_len + len) cap *= 2;
        c->pending_in = cb_realloc(c->pending_in, cap);
        c->pending_cap = cap;
    }
    memcpy(c->pending_in + c->pending_len, buf, len);
    c->pending_len += len;
}

static int closing(const cb_client *c) {
    return (c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP | CLIENT_CLOSED)) != 0;
}

/* Parse and run as many commands as buf holds. Returns 1 when a command was
 * held back (the rest of buf is saved), 0 otherwise. */
static int process_buffer(cb_client *c, const char *buf, size_t len) {
    size_t off = 0;
    while (off < len && !closing(c)) {
        size_t used = 0;
        resp_limits lim = {
            .proto_max_bulk_len = g_config.proto_max_bulk_len,
            .query_buffer_limit = (size_t)g_config.client_query_buffer_limit,
            .authenticated = c->authenticated,
        };
        resp_status st = resp_parse(&c->parser, buf + off, len - off, &used, &lim);
        off += used;
        if (st == RESP_ERROR) {
            if (c->parser.errmsg) {
                cb_log(LOG_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s",
                       c->parser.errmsg + 21, (unsigned long long)c->id, c->addr);
                reply_error(c, c->parser.errmsg);
                c->flags |= CLIENT_CLOSE_AFTER_REPLY;
            } else {
                cb_log(LOG_WARNING, "Closing client that reached max query buffer length: "
                       "id=%llu addr=%s (qbuf initial bytes omitted)",
                       (unsigned long long)c->id, c->addr);
                STAT_INC(c->w->stats.client_qbuf_limit_disconnections);
                conn_close_async(c);
            }
            resp_parser_reset(&c->parser);
            return 0;
        }
        if (st == RESP_COMMAND) {
            c->argc = c->parser.argc;
            c->argv = c->parser.argv;
            c->argv_len = c->parser.argv_len;
            if (dispatch_command(c) == DISPATCH_HELD) {
                /* Paused, or waiting for a run on another worker: keep the rest. */
                resp_parser_detach(&c->parser);
                pending_append(c, buf + off, len - off);
                return 1;
            }
            c->argc = 0;
            resp_parser_reset(&c->parser);
        }
    }
    /* A command still partial must not point into buf after we return. */
    resp_parser_detach(&c->parser);
    xshard_flush(c); /* a run gathered for another worker leaves now */
    return 0;
}

int conn_input(cb_client *c, const char *buf, size_t len) {
    if (c->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSED)) return 0;
    c->net_in += len;
    STAT_ADD(c->w->stats.net_input_bytes, len);
    c->last_interaction_ms = util_mstime();
    if (c->held || (c->flags & CLIENT_CLOSE_AFTER_REPLY)) {
        if (!(c->flags & CLIENT_CLOSE_AFTER_REPLY)) pending_append(c, buf, len);
        if (g_config.client_query_buffer_limit &&
            c->pending_len > (size_t)g_config.client_query_buffer_limit) {
            STAT_INC(c->w->stats.client_qbuf_limit_disconnections);
            conn_close_async(c);
        }
        client_mem_update(c);
        return 0;
    }
    process_buffer(c, buf, len);
    client_mem_update(c);
    return 0;
}

/* The held command is finished: go on with the input that waited.
 * consumed: the parser held that command (paused, blocked, or waiting for
 * a run); otherwise it may hold the start of the next one, received before
 * the run left, which the saved input continues. */
static void continue_pending(cb_client *c, int consumed) {
    c->argc = 0;
    if (consumed) resp_parser_reset(&c->parser);
    if (c->pending_len) {
        /* Move the saved input out first: processing may hold again and
         * append what is left of it. */
        char *buf = c->pending_in;
        size_t len = c->pending_len;
        c->pending_in = NULL;
        c->pending_len = c->pending_cap = 0;
        process_buffer(c, buf, len);
        cb_free(buf);
    }
    xshard_flush(c);
}

void conn_continue(cb_client *c) {
    if (c->flags & (CLIENT_CLOSED | CLIENT_CLOSE_ASAP)) return;
    continue_pending(c, 1);
}

/* Run the parsed command that was held; 1 if it is held again. */
static int redispatch(cb_client *c) {
    c->argc = c->parser.argc;
    c->argv = c->parser.argv;
    c->argv_len = c->parser.argv_len;
    return dispatch_command(c) == DISPATCH_HELD;
}

void conn_resume(cb_client *c) {
    if (c->held != 1 || closing(c)) return;
    if (redispatch(c) && c->held == 1) return; /* still paused */
    c->held = 0;
    c->w->nheld--;
    continue_pending(c, 1);
}

void conn_forward_done(cb_client *c, const char *reply, size_t len) {
    int waiting = c->held == 3;
    c->held = 0;
    if (c->flags & CLIENT_CLOSE_ASAP) {
        conn_close(c); /* closed while its commands were away: free it now */
        return;
    }
    reply_raw(c, reply, len);
    if (waiting && redispatch(c)) return; /* paused now */
    continue_pending(c, waiting);
}

/* Drop fully written blocks from the front, keeping the tail block (rewound)
 * for the next replies so a request/response client reuses one buffer. */
static void consume_output(cb_client *c, size_t wr) {
    while (c->out_head) {
        cb_outblock *b = c->out_head;
        size_t rem = b->used - b->sent;
        if (rem > wr) {
            b->sent += wr;
            c->out_bytes -= wr;
            return;
        }
        wr -= rem;
        c->out_bytes -= rem;
        if (b == c->out_tail && b->cap > 0) {
            b->used = b->sent = 0;
            return;
        }
        c->out_head = b->next;
        if (!c->out_head) c->out_tail = NULL;
        c->out_mem -= CB_OUTBLOCK_MEM(b);
        cb_free_conn(b);
    }
}

int conn_flush(cb_client *c) {
    struct iovec iov[64];
    while (c->out_bytes > 0) {
        int n = 0;
        size_t total = 0;
        for (cb_outblock *b = c->out_head; b && n < 64; b = b->next) {
            if (b->used == b->sent) continue;
            iov[n].iov_base = b->data + b->sent;
            iov[n].iov_len = b->used - b->sent;
            total += iov[n].iov_len;
            n++;
        }
        long wr = c->ops->writev(c, iov, n);
        if (wr < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            c->last_errno = errno;
            cb_log(LOG_VERBOSE, "Error writing to client: %s", strerror(errno));
            return -1;
        }
        c->net_out += (uint64_t)wr;
        STAT_ADD(c->w->stats.net_output_bytes, (uint64_t)wr);
        STAT_INC(c->w->stats.total_writes);
        consume_output(c, (size_t)wr);
        if ((size_t)wr < total) break; /* the socket is full */
    }
    return 0;
}

void conn_close(cb_client *c) {
    cb_worker *w = c->w;
    if (c->flags & CLIENT_CLOSED) return;
    if (c->held == 2 || c->held == 3) {
        /* Its command is on another worker, whose reply names this client:
         * drop the transport now, free the rest when the reply arrives. */
        c->flags |= CLIENT_CLOSE_ASAP;
        if (c->ops && c->ops->close) c->ops->close(c);
        return;
    }
    c->flags |= CLIENT_CLOSED;
    client_mem_forget(c);
    if (c->held == 1) w->nheld--;
    if (c->held == 5) migrate_client_gone(c); /* its migration goes on, unanswered */
    if (multi_client_watches(c) || blocking_is_blocked(c) || c->ps || tracking_close_needs_park(c)) {
        /* The watch, blocking and Pub/Sub registries change only with the
         * other workers parked. */
        xshard_park_others(w);
        multi_reset_client(c);
        blocking_client_closed(c);
        pubsub_client_reset(c);
        tracking_client_closed(c);
        xshard_release(w);
    } else {
        multi_reset_client(c);
        blocking_client_closed(c);
        tracking_client_closed(c);
    }
    if (c->flags & CLIENT_MONITOR) {
        __atomic_sub_fetch(&g_server.monitors, 1, __ATOMIC_RELAXED);
        __atomic_sub_fetch(&w->nmonitors, 1, __ATOMIC_RELAXED);
    }
    /* Unlink from the pending list. */
    if (c->flags & CLIENT_PENDING_WRITE) {
        cb_client **pp = &w->pending_write;
        while (*pp && *pp != c) pp = &(*pp)->pending_next;
        if (*pp) *pp = c->pending_next;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        w->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    w->nclients--;
    STAT_ADD(w->stats.connected_clients, (uint64_t)-1);
    __atomic_sub_fetch(&g_server.connected_clients, 1, __ATOMIC_RELAXED);
    if (c->ops && c->ops->close) c->ops->close(c);
    while (c->out_head) {
        cb_outblock *b = c->out_head;
        c->out_head = b->next;
        cb_free_conn(b);
    }
    resp_parser_free(&c->parser);
    cb_free(c->pending_in);
    cb_free(c->name);
    cb_free(c->lib_name);
    cb_free(c->lib_ver);
    cb_free(c->replconf);
    cb_free(c);
}

/* Quote an argument the way MONITOR and CLIENT LIST show binary data. */
static void cat_repr(char **buf, size_t *len, size_t *cap, const char *p, size_t n) {
    size_t need = *len + n * 4 + 3;
    if (need > *cap) {
        while (*cap < need) *cap = *cap ? *cap * 2 : 256;
        *buf = cb_realloc(*buf, *cap);
    }
    char *o = *buf + *len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        switch (ch) {
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '"': *o++ = '\\'; *o++ = '"'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        case '\a': *o++ = '\\'; *o++ = 'a'; break;
        case '\b': *o++ = '\\'; *o++ = 'b'; break;
        default:
            if (ch >= 32 && ch < 127) {
                *o++ = (char)ch;
            } else {
                o += sprintf(o, "\\x%02x", ch);
            }
        }
    }
    *o++ = '"';
    *len = (size_t)(o - *buf);
}

/* Which arguments MONITOR must not show: AUTH's, and HELLO's AUTH
 * username and password (Redis prints "(redacted)"). mask has argc bytes. */
static void redact_mask(const cb_client *c, unsigned char *mask) {
    if (util_eq_nocase(c->argv[0], c->argv_len[0], "auth")) {
        for (int i = 1; i < c->argc; i++) mask[i] = 1;
    } else if (util_eq_nocase(c->argv[0], c->argv_len[0], "hello")) {
        for (int i = 2; i < c->argc; i++) {
            int more = c->argc - i - 1;
            if (util_eq_nocase(c->argv[i], c->argv_len[i], "auth") && more >= 2) {
                mask[i + 1] = mask[i + 2] = 1;
                i += 2;
            } else if (util_eq_nocase(c->argv[i], c->argv_len[i], "setname") && more >= 1) {
                i += 1;
            }
        }
    }
}

void conn_feed_monitors(cb_client *c) {
    unsigned char mask_stack[16];
    unsigned char *mask = c->argc <= 16 ? mask_stack : cb_malloc((size_t)c->argc);
    memset(mask, 0, (size_t)c->argc);
    if (c->argc > 0) redact_mask(c, mask);
    char *line = NULL;
    size_t len = 0, cap = 0;
    long long us = util_ustime();
    char head[256];
    int hl = snprintf(head, sizeof(head), "+%lld.%06lld [%d %s]", us / 1000000, us % 1000000,
                      c->dbid, (c->flags & CLIENT_UNIX_SOCKET) ? "unix" : c->addr);
    cap = (size_t)hl + 64;
    line = cb_malloc(cap);
    memcpy(line, head, (size_t)hl);
    len = (size_t)hl;
    for (int i = 0; i < c->argc; i++) {
        if (len + 1 > cap) { cap *= 2; line = cb_realloc(line, cap); }
        line[len++] = ' ';
        if (mask[i])
            cat_repr(&line, &len, &cap, "(redacted)", 10);
        else
            cat_repr(&line, &len, &cap, c->argv[i], c->argv_len[i]);
    }
    if (mask != mask_stack) cb_free(mask);
    if (len + 2 > cap) { cap += 2; line = cb_realloc(line, cap); }
    line[len++] = '\r';
    line[len++] = '\n';
    conn_deliver_monitor_line(c->w, c, line, len);
    xshard_feed_monitors(c->w, line, len);
    cb_free(line);
}

void conn_deliver_monitor_line(cb_worker *w, cb_client *except, const char *line, size_t len) {
    if (!__atomic_load_n(&w->nmonitors, __ATOMIC_RELAXED)) return;
    for (cb_client *m = w->clients; m; m = m->next) {
        if ((m->flags & CLIENT_MONITOR) && m != except) reply_raw(m, line, len);
    }
}
