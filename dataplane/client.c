/* client.c — helpers command handlers use on a client: argument parsing with
 * Redis's error replies, SELECT, and the CLIENT LIST / CLIENT INFO line.
 */
#include "client.h"

#include <stdio.h>
#include <string.h>
#include "cmd/command.h"
#include "resp/reply.h"
#include "acl.h"
#include "client_evict.h"
#include "multi.h"
#include "tracking.h"
#include "worker.h"
#include "../platform/config.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"

int arg_eq(const cb_client *c, int i, const char *word) {
    return util_eq_nocase(c->argv[i], c->argv_len[i], word);
}

void reply_subcommand_syntax(cb_client *c) {
    char up[256], sub[129];
    size_t n = c->argv_len[0] < sizeof(up) - 1 ? c->argv_len[0] : sizeof(up) - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = c->argv[0][i];
        up[i] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
    }
    up[n] = '\0';
    size_t m = 0;
    for (; c->argc > 1 && m < c->argv_len[1] && m < 128 && c->argv[1][m]; m++)
        sub[m] = (c->argv[1][m] == '\r' || c->argv[1][m] == '\n') ? ' ' : c->argv[1][m];
    sub[m] = '\0';
    reply_errorf(c, "unknown subcommand or wrong number of arguments for '%s'. Try %s HELP.", sub, up);
}

int arg_ll(cb_client *c, int i, long long *v, const char *msg) {
    if (util_str2ll(c->argv[i], c->argv_len[i], v)) return 0;
    reply_error(c, msg ? msg : ERR_NOT_INT);
    return -1;
}

int arg_ll_range(cb_client *c, int i, long long *v, long long min, long long max,
                 const char *msg) {
    long long x;
    if (!util_str2ll(c->argv[i], c->argv_len[i], &x)) {
        reply_error(c, msg ? msg : ERR_NOT_INT);
        return -1;
    }
    if (x < min || x > max) {
        if (msg)
            reply_error(c, msg);
        else
            reply_errorf(c, "value is out of range, must be between %lld and %lld", min, max);
        return -1;
    }
    *v = x;
    return 0;
}

int arg_double(cb_client *c, int i, double *v, const char *msg) {
    if (util_str2d(c->argv[i], c->argv_len[i], v)) return 0;
    reply_error(c, msg ? msg : ERR_NOT_FLOAT);
    return -1;
}

int arg_long_double(cb_client *c, int i, long double *v, const char *msg) {
    if (util_str2ld(c->argv[i], c->argv_len[i], v)) return 0;
    reply_error(c, msg ? msg : ERR_NOT_FLOAT);
    return -1;
}

int client_nshards(const cb_client *c) {
    (void)c;
    return g_server.nworkers > 1 ? g_server.nworkers : 1;
}

struct cb_shard *client_shard_at(const cb_client *c, int i) {
    if (g_server.nworkers <= 1) return c->shard;
    return g_server.workers[i]->shard;
}

struct cb_shard *client_key_shard(cb_client *c, const char *key, size_t len) {
    if (g_server.nworkers <= 1) return c->shard;
    return g_server.workers[util_key_slot(key, len) % (unsigned)g_server.nworkers]->shard;
}

struct cb_db *client_shard_db(cb_client *c, struct cb_shard *s) { return &s->dbs[c->dbid]; }

int client_select_db(cb_client *c, int id) {
    if (id < 0 || id >= c->shard->ndb) return -1;
    c->dbid = id;
    c->db = &c->shard->dbs[id];
    return 0;
}

static size_t outbuf_blocks(const cb_client *c, size_t *mem) {
    size_t n = 0, m = 0;
    for (const cb_outblock *b = c->out_head; b; b = b->next) {
        n++;
        m += sizeof(*b) + b->cap;
    }
    if (mem) *mem = m;
    return n;
}

char *client_info_line(cb_client *c) {
    char flags[16];
    int f = 0;
    if (c->flags & CLIENT_MONITOR) flags[f++] = 'O';
    if (c->flags & CLIENT_MULTI) flags[f++] = 'x';
    if (c->blk) flags[f++] = 'b';
    f += tracking_info_flags(c, flags + f);
    if (c->flags & CLIENT_CLOSE_ASAP) flags[f++] = 'A';
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) flags[f++] = 'c';
    if (c->flags & CLIENT_UNIX_SOCKET) flags[f++] = 'U';
    if (c->flags & CLIENT_NO_EVICT) flags[f++] = 'e';
    if (f == 0) flags[f++] = 'N';
    flags[f] = '\0';
    long long now = util_mstime();
    size_t oll = outbuf_blocks(c, NULL);
    size_t obl = c->out_tail ? c->out_tail->used : 0;
    size_t qbuf = resp_parser_buffered(&c->parser) + c->pending_len;
    size_t argvmem = 0;
    for (int i = 0; i < c->argc; i++) argvmem += c->argv_len[i];
    const char *cmdname = c->lastcmd ? command_fullname(c->lastcmd) : "NULL";
    if (c->cmd && (c->flags & CLIENT_IN_CALL)) cmdname = command_fullname(c->cmd);
    /* As Redis: the first 16 KiB of output are the client's fixed reply
     * buffer, in tot-mem but not in omem. */
    size_t fixed = 16384 + sizeof(cb_outblock);
    size_t omem = c->out_mem > fixed ? c->out_mem - fixed : 0;
    size_t totmem = client_mem_usage(c);
    char *line = cb_malloc(1024 + (c->name ? strlen(c->name) : 0));
    char events[3] = "r";
    if (c->out_bytes) strcpy(events, "rw");
    sprintf(line,
            "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d "
            "sub=0 psub=0 ssub=0 multi=%d qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=0 "
            "rbs=%zu rbp=%zu obl=%zu oll=%zu omem=%zu tot-mem=%zu events=%s cmd=%s "
            "user=%s redir=%lld resp=%d",
            (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
            (now - c->ctime_ms) / 1000, (now - c->last_interaction_ms) / 1000, flags, c->dbid,
            multi_queued_count(c), qbuf, (size_t)0, argvmem, c->w->readbuf_size, c->w->readbuf_size, obl,
            oll > 1 ? oll - 1 : 0, omem, totmem, events, cmdname,
            acl_user_name(c->user), tracking_redir(c), c->resp);
    return line;
}
