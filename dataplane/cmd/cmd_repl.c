/* cmd_repl.c — the master side of replication as commands: REPLCONF (what
 * a replica says about itself before it syncs), SYNC and PSYNC (the
 * connection is handed to the management thread, mgmt/repl.c, which
 * answers +FULLRESYNC/+CONTINUE and streams from then on), ROLE and WAIT.
 * Replies and errors are redis-server 7.0.15's. Design:
 * docs/replication.md.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command.h"
#include "../blocking.h"
#include "../client.h"
#include "../conn.h"
#include "../relay.h"
#include "../resp/reply.h"
#include "../../mgmt/repl.h"
#include "../../mgmt/replica.h"
#include "../../persist/aof.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

/* What REPLCONF said, kept until SYNC/PSYNC hands the connection over. */
typedef struct cb_replconf {
    long long listening_port;
    char ip[256];
    int capa_eof, capa_psync2;
    int rdb_only;
} cb_replconf;

static cb_replconf *replconf_of(cb_client *c) {
    if (!c->replconf) c->replconf = cb_calloc(sizeof(cb_replconf));
    return c->replconf;
}

/* REPLCONF <option> <value> [<option> <value> ...] */
void cmd_replconf(cb_client *c) {
    if (c->argc % 2 == 0) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    for (int j = 1; j < c->argc; j += 2) {
        if (arg_eq(c, j, "listening-port")) {
            long long port;
            if (arg_ll(c, j + 1, &port, NULL) != 0) return;
            replconf_of(c)->listening_port = port;
        } else if (arg_eq(c, j, "ip-address")) {
            size_t n = c->argv_len[j + 1];
            if (n >= sizeof(((cb_replconf *)0)->ip)) {
                reply_errorf(c, "REPLCONF ip-address provided by replica instance is too long: "
                                "%zu bytes", n);
                return;
            }
            memcpy(replconf_of(c)->ip, c->argv[j + 1], n);
            replconf_of(c)->ip[n] = '\0';
        } else if (arg_eq(c, j, "capa")) {
            /* Capabilities this master does not know are ignored. */
            if (arg_eq(c, j + 1, "eof")) replconf_of(c)->capa_eof = 1;
            else if (arg_eq(c, j + 1, "psync2")) replconf_of(c)->capa_psync2 = 1;
        } else if (arg_eq(c, j, "ack") || arg_eq(c, j, "getack")) {
            /* A replica's ACKs reach the management thread on its own
             * socket; from an ordinary client (and GETACK on a master)
             * Redis answers nothing at all. */
            return;
        } else if (arg_eq(c, j, "rdb-only")) {
            long long v;
            if (arg_ll(c, j + 1, &v, NULL) != 0) return;
            if (v < 0 || v > 1) {
                reply_error(c, "value is out of range, value must between 0 and 1");
                return;
            }
            replconf_of(c)->rdb_only = (int)v;
        } else {
            reply_errorf(c, "Unrecognized REPLCONF option: %.*s", (int)c->argv_len[j],
                         c->argv[j]);
            return;
        }
    }
    reply_ok(c);
}

/* SYNC / PSYNC replid offset: the connection becomes a replica's. */
static void sync_common(cb_client *c, int psync) {
    long long offset = -1;
    if (psync && arg_ll(c, 2, &offset, NULL) != 0) return;
    if (c->out_bytes) {
        reply_error(c, "SYNC and PSYNC are invalid with pending output");
        return;
    }
    repl_handoff h;
    memset(&h, 0, sizeof(h));
    cb_replconf *rc = c->replconf;
    /* The kernel plane hands a duplicate of the socket; on the DPDK plane
     * the connection lives in our stack, so the management thread gets a
     * socketpair that this poll core relays to it (relay.h). */
    h.fd = c->fd >= 0 ? dup(c->fd) : relay_adopt_client(c);
    if (h.fd < 0) {
        reply_error(c, "Can't hand the connection over for replication");
        return;
    }
    h.id = c->id;
    snprintf(h.addr, sizeof(h.addr), "%s", c->addr);
    snprintf(h.laddr, sizeof(h.laddr), "%s", c->laddr);
    snprintf(h.name, sizeof(h.name), "%s", c->name ? c->name : "");
    h.ctime_ms = c->ctime_ms;
    if (rc) {
        h.listening_port = (int)rc->listening_port;
        snprintf(h.ip, sizeof(h.ip), "%s", rc->ip);
        h.capa_eof = rc->capa_eof;
        h.capa_psync2 = rc->capa_psync2;
    }
    h.psync = psync;
    if (psync) {
        size_t n = c->argv_len[1] < 40 ? c->argv_len[1] : 40;
        memcpy(h.replid, c->argv[1], n);
        h.replid[n] = '\0';
        h.offset = offset;
    }
    if (repl_attach(&h) != 0) {
        close(h.fd);
        if (c->fd < 0) {
            /* The relay already took the transport: closing its pair ends
             * the connection; the client has nothing left to reply on. */
            conn_close_async(c);
            return;
        }
        reply_error(c, "Can't hand the connection over for replication");
        return;
    }
    /* The worker lets go of the socket (its duplicate lives on with the
     * management thread) and reads nothing more from it. */
    conn_close_async(c);
}

void cmd_sync(cb_client *c) { sync_common(c, 0); }
void cmd_psync(cb_client *c) { sync_common(c, 1); }

/* ROLE: master, our offset, and the online replicas; or, as a replica,
 * our master and the link (mgmt/replica.c). */
void cmd_role(cb_client *c) {
    char host[256];
    int port;
    const char *st;
    long long roff;
    if (replica_role(host, sizeof(host), &port, &st, &roff)) {
        reply_array_len(c, 5);
        reply_bulk_cstr(c, "slave");
        reply_bulk_cstr(c, host);
        reply_int(c, port);
        reply_bulk_cstr(c, st);
        reply_int(c, roff);
        return;
    }
    char (*t)[3][64] = NULL;
    int n = 0;
    long long off = repl_role(&t, &n);
    reply_array_len(c, 3);
    reply_bulk_cstr(c, "master");
    reply_int(c, off);
    reply_array_len(c, n);
    for (int i = 0; i < n; i++) {
        reply_array_len(c, 3);
        for (int k = 0; k < 3; k++) reply_bulk_cstr(c, t[i][k]);
    }
    cb_free(t);
}

/* How often a blocked WAIT looks at the replicas' ACKs. */
#define WAIT_POLL_MS 10

/* The saved timeout argument of a blocked WAIT: "<deadline ms> <sequence
 * number> <next poll ms>" (next poll 0: no replica was attached, so the
 * client just waits for its deadline, as Redis with no replicas). */
static void wait_block_state(cb_client *c, long long deadline, unsigned long long seq,
                             long long next) {
    char state[96];
    int k = snprintf(state, sizeof(state), "%lld %llu %lld", deadline, seq, next);
    block_client_set_arg(c, 2, state, (size_t)k);
}

/* When a blocked WAIT looks again: WAIT_POLL_MS on, capped by its deadline. */
static long long wait_next_poll(long long now, long long deadline) {
    long long next = now + WAIT_POLL_MS;
    return deadline && deadline < next ? deadline : next;
}

/* WAIT numreplicas timeout: blocks until that many replicas acknowledged
 * everything written before it, or the timeout. While replicas are
 * attached the blocked command re-runs every WAIT_POLL_MS (their ACKs
 * arrive on the management thread); CLIENT UNBLOCK ends it early. */
void cmd_wait(cb_client *c) {
    long long want, timeout;
    long long now = util_mstime();
    if (c->block_mode == BLOCK_MODE_TIMEOUT) {
        char buf[96];
        size_t n = c->argv_len[2] < sizeof(buf) - 1 ? c->argv_len[2] : sizeof(buf) - 1;
        memcpy(buf, c->argv[2], n);
        buf[n] = '\0';
        char *end;
        long long deadline = strtoll(buf, &end, 10);
        unsigned long long seq = strtoull(end, &end, 10);
        long long polled = strtoll(end, NULL, 10);
        (void)util_str2ll(c->argv[1], c->argv_len[1], &want);
        int acked = repl_count_acked(seq);
        /* Early (CLIENT UNBLOCK), or no polling: answer now. */
        int unblocked = polled == 0 || now + 1 < polled;
        if (!unblocked && acked < want && (deadline == 0 || now < deadline)) {
            long long next = wait_next_poll(now, deadline);
            block_client_keep(c, next);
            wait_block_state(c, deadline, seq, next);
            return;
        }
        reply_int(c, acked);
        return;
    }
    if (arg_ll(c, 1, &want, NULL) != 0) return;
    if (!util_str2ll(c->argv[2], c->argv_len[2], &timeout)) {
        reply_error(c, "timeout is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        reply_error(c, "timeout is negative");
        return;
    }
    long long deadline = 0;
    if (timeout > 0) {
        if (timeout > LLONG_MAX - now) {
            reply_error(c, "timeout is out of range");
            return;
        }
        deadline = now + timeout;
    }
    uint64_t seq = aof_last_seq();
    int acked = repl_count_acked(seq);
    if (acked >= want) {
        reply_int(c, acked);
        return;
    }
    long long next = repl_count() ? wait_next_poll(now, deadline) : 0;
    if (block_client(c, 0, NULL, next ? next : deadline)) {
        wait_block_state(c, deadline, (unsigned long long)seq, next);
        if (next) repl_request_getack();
        return;
    }
    reply_int(c, acked);
}
