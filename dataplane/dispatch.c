/* dispatch.c — the call path of one command (see dispatch.h). Rejections
 * before the call (unknown command, arity, NOAUTH, DEBUG gate) count as
 * rejected_calls; error replies during the call count as failed_calls, the
 * way Redis 7.0 reports them in INFO commandstats and errorstats.
 */
#include "dispatch.h"
#include "../mgmt/repl.h"
#include "../mgmt/replica.h"

#include <stdio.h>
#include <string.h>
#include "acl.h"
#include "cmd/command.h"
#include "conn.h"
#include "blocking.h"
#include "latency.h"
#include "multi.h"
#include "slowlog.h"
#include "tracking.h"
#include "xshard.h"
#include "script/script.h"
#include "propagate.h"
#include "../persist/aof.h"
#include "worker.h"
#include "resp/reply.h"
#include "../platform/config.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"
#include "../store/evict.h"
#include "../persist/bgsave.h"
#include "../persist/loading.h"

cb_cmd_proc cmd_debug, cmd_exec, cmd_module_load, cmd_module_loadex, cmd_module_unload;

static const char oom_error[] = "-OOM command not allowed when used memory > 'maxmemory'.";

static void reject(cb_client *c, const cb_command *cmd, const char *msg) {
    if (cmd) STAT_INC(c->w->cmdstats[cmd->id].rejected_calls);
    if (cmd && cmd->proc == cmd_exec) {
        /* A refused EXEC ends the transaction, saying why, as Redis does. */
        multi_reset_client(c);
        reply_errorf(c, "-EXECABORT Transaction discarded because of: %s",
                     msg[0] == '-' ? msg + 1 : msg);
        return;
    }
    reply_error(c, msg);
    multi_flag_error(c);
}

/* Redis shows at most ~128 bytes of the arguments of an unknown command,
 * with newlines blanked. */
static void reject_unknown(cb_client *c, const cb_command *container) {
    char args[512];
    size_t al = 0;
    args[0] = '\0';
    char msg[1024];
    if (container) {
        /* The name as typed (it differs after rename-command), upper-cased. */
        char up[256];
        size_t n = c->argv_len[0];
        if (n >= sizeof(up)) n = sizeof(up) - 1;
        for (size_t i = 0; i < n; i++)
            up[i] = (char)((c->argv[0][i] >= 'a' && c->argv[0][i] <= 'z')
                               ? c->argv[0][i] - 32 : c->argv[0][i]);
        up[n] = '\0';
        int l1 = c->argv_len[1] > 128 ? 128 : (int)c->argv_len[1];
        snprintf(msg, sizeof(msg), "unknown subcommand '%.*s'. Try %s HELP.", l1, c->argv[1], up);
    } else {
        for (int i = 1; i < c->argc && al < 128; i++) {
            int room = 128 - (int)al;
            int l = (int)c->argv_len[i] < room ? (int)c->argv_len[i] : room;
            al += (size_t)snprintf(args + al, sizeof(args) - al, "'%.*s' ", l, c->argv[i]);
        }
        int l0 = c->argv_len[0] > 128 ? 128 : (int)c->argv_len[0];
        snprintf(msg, sizeof(msg), "unknown command '%.*s', with args beginning with: %s", l0,
                 c->argv[0], args);
    }
    for (char *p = msg; *p; p++)
        if (*p == '\r' || *p == '\n') *p = ' ';
    reply_error(c, msg);
    multi_flag_error(c);
}

int dispatch_oom_state(cb_client *c) {
    cb_shard *s = c->shard;
    /* The shard's memory pool (EAL hugepages on the DPDK plane) ran dry. */
    if (s->mem_account >= 0 && mem_account_pool_full(s->mem_account)) return 1;
    if (!g_config.store.maxmemory) return 0;
    /* The shard may be another worker's (parked): count what eviction frees
     * in that shard's account. */
    int prev = s->mem_account >= 0 ? mem_account_use(s->mem_account) : -1;
    shard_set_time(s, util_mstime());
    int r = evict_perform(s);
    if (prev >= 0) mem_account_use(prev);
    return r == EVICT_FAIL;
}

int dispatch_reject_oom(cb_client *c, const cb_command *cmd) {
    if (!dispatch_oom_state(c)) return 0;
    /* A script's flags decide for EVAL/FCALL (script_denies_oom). */
    int deny = (cmd->flags & CMD_DENYOOM) != 0 || script_denies_oom(c, cmd);
    if (cmd->proc == cmd_exec && multi_has_denyoom(c)) deny = 1;
    /* Anything queued while out of memory is refused, as Redis does. */
    if ((c->flags & CLIENT_MULTI) && cmd->proc != cmd_exec && strcmp(cmd->name, "discard") &&
        strcmp(cmd->name, "quit") && strcmp(cmd->name, "reset"))
        deny = 1;
    if (!deny) return 0;
    reject(c, cmd, oom_error);
    return 1;
}

int dispatch_paused_for(const cb_client *c, const cb_command *cmd) {
    long long end = __atomic_load_n(&g_server.pause_end_ms, __ATOMIC_RELAXED);
    if (!end || util_mstime() >= end) return 0;
    (void)c;
    if (__atomic_load_n(&g_server.pause_all, __ATOMIC_RELAXED)) return 1;
    /* WRITE pauses hold writes and commands that may replicate (EVAL...),
     * and an EXEC whose transaction writes. */
    if (cmd->proc == cmd_exec && multi_has_writes(c)) return 1;
    if (script_may_write(c, cmd)) return 1;
    return (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)) != 0;
}

static int allowed_in_subscriber_mode(const cb_command *cmd) {
    static const char *const ok[] = {"subscribe", "ssubscribe", "psubscribe", "unsubscribe",
                                     "sunsubscribe", "punsubscribe", "ping", "quit", "reset",
                                     NULL};
    for (int i = 0; ok[i]; i++)
        if (!strcmp(cmd->name, ok[i])) return 1;
    return 0;
}

static int debug_allowed(const cb_client *c) {
    int v = g_config.enable_debug_command;
    return v == 1 || (v == 2 && (c->flags & CLIENT_LOCAL));
}

/* MODULE LOAD/LOADEX/UNLOAD are protected by enable-module-command
 * (LIST and HELP are not), as in Redis 7.0. */
static int module_refused(const cb_client *c, const cb_command *cmd) {
    if (cmd->proc != cmd_module_load && cmd->proc != cmd_module_loadex &&
        cmd->proc != cmd_module_unload)
        return 0;
    int v = g_config.enable_module_command;
    return !(v == 1 || (v == 2 && (c->flags & CLIENT_LOCAL)));
}

/* CLIENT REPLY SKIP mutes exactly the next command. */
static void update_reply_skip(cb_client *c, const cb_command *cmd) {
    if ((c->flags & CLIENT_REPLY_SKIP) &&
        !(cmd && cmd->parent && strcmp(cmd->parent->name, "client") == 0))
        c->flags &= ~CLIENT_REPLY_SKIP;
    if (c->flags & CLIENT_REPLY_SKIP_NEXT) {
        c->flags |= CLIENT_REPLY_SKIP;
        c->flags &= ~CLIENT_REPLY_SKIP_NEXT;
    }
    tracking_command_done(c, cmd); /* a one-shot CLIENT CACHING ends too */
}

/* Bookkeeping for a command handed to another worker. */
static void accepted(cb_client *c, const cb_command *cmd) {
    c->lastcmd = cmd;
    c->commands++;
    if (__atomic_load_n(&g_server.monitors, __ATOMIC_RELAXED) &&
        !(cmd->flags & (CMD_SKIP_MONITOR | CMD_ADMIN)))
        conn_feed_monitors(c);
    update_reply_skip(c, cmd);
}

void dispatch_call(cb_client *c, const cb_command *cmd) {
    c->cmd = cmd;
    shard_set_time(c->shard, util_mstime());
    uint64_t errs = c->errors_seen;
    long long start = util_ustime();
    c->flags |= CLIENT_IN_CALL;
    prop_frame pf;
    prop_call_begin(c, &pf);
    /* Memory the command allocates or frees in a shard counts in that
     * shard's account, whichever worker runs it (EXEC, parked workers). */
    int acct = c->shard->mem_account;
    int prev_acct = acct >= 0 ? mem_account_use(acct) : -1;
    cb_client *prev = tracking_set_current(c);
    cmd->proc(c);
    if (c->trk && (cmd->flags & CMD_READONLY)) tracking_after_read(c, cmd);
    tracking_set_current(prev);
    if (prev_acct >= 0) mem_account_use(prev_acct);
    prop_call_end(c, cmd, &pf);
    c->flags &= ~CLIENT_IN_CALL;
    long long dur = util_ustime() - start;
    cb_cmd_stats *cs = &c->w->cmdstats[cmd->id];
    /* A blocking command (BLPOP...) is one command however many times it
     * runs: counted as processed when first run, and as a call (timed,
     * slow-logged) when it is served or times out, as Redis counts it;
     * Redis leaves timed-out ones out of the slow log. */
    int rerun = c->block_mode != BLOCK_MODE_NONE;
    int blocked = c->blk && (rerun ? c->block_still : 1);
    if (!blocked) {
        STAT_INC(cs->calls);
        STAT_ADD(cs->usec, (uint64_t)dur);
        if (!(cmd->flags & CMD_SKIP_SLOWLOG) && c->block_mode != BLOCK_MODE_TIMEOUT)
            slowlog_maybe_record(c, dur);
        latency_after_call(c, cmd, dur);
    }
    if (c->errors_seen != errs) STAT_INC(cs->failed_calls);
    if (!rerun) STAT_INC(c->w->stats.numcommands);
}

int dispatch_command(cb_client *c) {
    const cb_command *container = NULL;
    const cb_command *cmd = command_resolve(c->argc, c->argv, c->argv_len, &container);
    tracking_before_command(c->w);

    if (c->batch) {
        /* A run for another worker is being gathered: this command joins it
         * only if it goes to the same worker and would run there as is;
         * anything else (even an error reply) must wait for the run's
         * replies to keep the pipeline's order. */
        int owner;
        if (cmd && !(c->flags & (CLIENT_MULTI | CLIENT_PUBSUB)) && command_arity_ok(cmd, c->argc) &&
            (c->authenticated || (cmd->flags & CMD_NO_AUTH)) && cmd->proc != cmd_debug &&
            acl_check_client(c, cmd, &(int){0}) == ACL_OK &&
            !dispatch_paused_for(c, cmd) && !loading_active() &&
            xshard_route(c, cmd, &owner) == ROUTE_REMOTE &&
            xshard_batch_add(c, cmd, owner)) {
            accepted(c, cmd);
            return DISPATCH_DONE;
        }
        xshard_flush(c);
        c->held = 3;
        return DISPATCH_HELD;
    }

    if (!cmd) {
        reject_unknown(c, container);
        goto done;
    }
    if (!command_arity_ok(cmd, c->argc)) {
        char msg[160];
        snprintf(msg, sizeof(msg), "wrong number of arguments for '%s' command",
                 command_fullname(cmd));
        reject(c, cmd, msg);
        goto done;
    }
    /* Redis refuses DEBUG before asking for AUTH. */
    if (cmd->proc == cmd_debug && !debug_allowed(c)) {
        reject(c, cmd,
               "DEBUG command not allowed. If the enable-debug-command option is set to "
               "\"local\", you can run it from a local connection, otherwise you need to "
               "set this option in the configuration file, and then restart the server.");
        goto done;
    }
    if (module_refused(c, cmd)) {
        reject(c, cmd,
               "MODULE command not allowed. If the enable-module-command option is set to "
               "\"local\", you can run it from a local connection, otherwise you need to "
               "set this option in the configuration file, and then restart the server.");
        goto done;
    }
    if (!c->authenticated && !(cmd->flags & CMD_NO_AUTH)) {
        reject(c, cmd, "-NOAUTH Authentication required.");
        goto done;
    }
    /* ACL: after NOAUTH; a command refused inside MULTI for being
     * NO_MULTI says so first (multi_maybe_queue), as Redis does. */
    if (!((c->flags & CLIENT_MULTI) && (cmd->flags & CMD_NO_MULTI))) {
        int errpos = 0;
        int acl = acl_check_client(c, cmd, &errpos);
        if (acl != ACL_OK) {
            char msg[200];
            c->lastcmd = cmd; /* the log's client-info names it, as Redis does */
            acl_log_denial(c, acl, (c->flags & CLIENT_MULTI) ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL,
                           errpos, cmd, NULL, 0);
            acl_denial_message(acl, cmd, msg, sizeof(msg));
            reject(c, cmd, msg);
            goto done;
        }
    }
    /* After a failed snapshot, with stop-writes-on-bgsave-error: writes (and
     * PING, as Redis does) are refused until a save succeeds. */
    if (bgsave_writes_denied() &&
        ((cmd->flags & CMD_WRITE) || !strcmp(cmd->name, "ping") ||
         (cmd->proc == cmd_exec && multi_has_writes(c)))) {
        reject(c, cmd, BGSAVE_MISCONF_ERR);
        goto done;
    }
    if ((c->flags & CLIENT_PUBSUB) && c->resp == 2 && !allowed_in_subscriber_mode(cmd)) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                 "RESET are allowed in this context", command_fullname(cmd));
        reject(c, cmd, msg);
        goto done;
    }
    /* In MULTI (queueing, EXEC) memory is judged on the client's shard. */
    if ((c->flags & CLIENT_MULTI) && dispatch_reject_oom(c, cmd)) goto done;
    if ((cmd->flags & CMD_WRITE) || (cmd->proc == cmd_exec && multi_has_writes(c))) {
        /* An AOF that cannot be written refuses writes until it can. */
        char msg[300];
        if (aof_write_refusal(msg, sizeof(msg))) {
            reject(c, cmd, msg);
            goto done;
        }
        /* A read-only replica (mgmt/replica.c); its master's stream does
         * not come through here. */
        if (replica_refuses_writes()) {
            reject(c, cmd, REPLICA_READONLY_ERR);
            goto done;
        }
        /* min-replicas-to-write (mgmt/repl.c). */
        if (repl_too_few_good_replicas()) {
            reject(c, cmd, REPL_NOREPLICAS_ERR);
            goto done;
        }
    }
    /* Start-up loading (persist/loading.h): only `loading` commands run. */
    if (!(cmd->flags & CMD_LOADING) && loading_active()) {
        reject(c, cmd, LOADING_ERR);
        goto done;
    }
    if (c->w->script_busy && script_busy_intercept(c, cmd)) goto done;
    if (multi_maybe_queue(c, cmd)) goto done;
    if (!(c->flags & CLIENT_IN_CALL) && dispatch_paused_for(c, cmd)) {
        c->cmd = cmd;
        if (c->held != 1) {
            c->held = 1;
            c->w->nheld++;
        }
        return DISPATCH_HELD;
    }

    int owner;
    int route = xshard_route(c, cmd, &owner);
    if (route == ROUTE_REMOTE) {
        xshard_batch_add(c, cmd, owner); /* a new run always takes it */
        accepted(c, cmd);
        return DISPATCH_DONE;
    }
    c->lastcmd = cmd;
    if (__atomic_load_n(&g_server.monitors, __ATOMIC_RELAXED) &&
        !(cmd->flags & (CMD_SKIP_MONITOR | CMD_ADMIN)))
        conn_feed_monitors(c);
    if (route == ROUTE_ALL) {
        /* Every shard in reach: the other workers wait at a safe point. */
        cb_shard *own = c->shard;
        xshard_park_others(c->w);
        long long now = util_mstime();
        for (int i = 0; i < g_server.nworkers; i++) shard_set_time(g_server.workers[i]->shard, now);
        if (owner >= 0) {
            c->shard = g_server.workers[owner]->shard;
            c->db = &c->shard->dbs[c->dbid];
        }
        if ((c->flags & CLIENT_MULTI) || !dispatch_reject_oom(c, cmd)) dispatch_call(c, cmd);
        c->shard = own;
        c->db = &own->dbs[c->dbid]; /* a SELECT inside EXEC sticks */
        blocking_serve_ready(c->w);
        xshard_release(c->w);
    } else if (!dispatch_reject_oom(c, cmd)) {
        dispatch_call(c, cmd);
        blocking_serve_ready(c->w);
    }
    tracking_after_command(c->w); /* invalidations it caused for itself */
    c->commands++;
    if (c->held == 4 || c->held == 5) {
        /* Blocked (BLPOP...) or migrating (MIGRATE): what follows in the
         * pipeline waits. */
        update_reply_skip(c, cmd);
        return DISPATCH_HELD;
    }

done:
    update_reply_skip(c, cmd);
    return DISPATCH_DONE;
}
