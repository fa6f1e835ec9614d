/* cmd_script.c — EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT
 * LOAD/EXISTS/FLUSH/KILL/DEBUG/HELP, with Redis 7.0's replies.
 *
 * SCRIPT DEBUG YES|SYNC makes the client's next EVAL a debugging session
 * (ldb.c).
 *
 * EVAL: numkeys -> body (by text or from the cache) -> shebang flags ->
 * compile in this worker's VM (cached on success) -> run on a script client
 * that shares the caller's db. With several workers the dispatcher runs
 * these commands with every other worker parked (xshard.c global_names),
 * so redis.call reaches keys in any shard, declared or not.
 */
#include "script_int.h"

#include <stdio.h>
#include <string.h>

#include "../cmd/command.h"
#include "../conn.h"
#include "../dispatch.h"
#include "../worker.h"
#include "../resp/reply.h"
#include "../../platform/mem.h"
#include "../../store/db.h"

/* ------------------------------------------------------------ shebang */

static const struct {
    const char *name;
    unsigned flag;
} shebang_flags[] = {
    {"no-writes", SCRIPT_FLAG_NO_WRITES},
    {"allow-oom", SCRIPT_FLAG_ALLOW_OOM},
    {"allow-stale", SCRIPT_FLAG_ALLOW_STALE},
    {"no-cluster", SCRIPT_FLAG_NO_CLUSTER},
    {"allow-cross-slot-keys", SCRIPT_FLAG_ALLOW_CROSS_SLOT},
    {NULL, 0},
};

int script_parse_shebang(const char *body, size_t len, unsigned *flags, char *err, size_t errlen) {
    *flags = 0;
    if (len < 2 || body[0] != '#' || body[1] != '!') {
        *flags = SCRIPT_FLAG_EVAL_COMPAT;
        return 0;
    }
    const char *nl = memchr(body, '\n', len);
    if (!nl) {
        snprintf(err, errlen, "Invalid script shebang");
        return -1;
    }
    const char *p = body, *end = nl;
    int first = 1;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
        if (p >= end) break;
        const char *w = p;
        while (p < end && *p != ' ' && *p != '\t' && *p != '\r') p++;
        int wl = (int)(p - w);
        if (first) {
            if (wl != 5 || memcmp(w, "#!lua", 5) != 0) {
                snprintf(err, errlen, "Unexpected engine in script shebang: %.*s", wl, w);
                return -1;
            }
            first = 0;
            continue;
        }
        if (wl < 6 || memcmp(w, "flags=", 6) != 0) {
            snprintf(err, errlen, "Unknown lua shebang option: %.*s", wl, w);
            return -1;
        }
        /* Comma-separated; an empty list is fine, an empty item is not. */
        const char *f = w + 6, *fend = p;
        while (f < fend) {
            const char *comma = memchr(f, ',', (size_t)(fend - f));
            const char *fe = comma ? comma : fend;
            int fl = (int)(fe - f), found = 0;
            for (int i = 0; shebang_flags[i].name; i++) {
                if ((int)strlen(shebang_flags[i].name) == fl &&
                    memcmp(shebang_flags[i].name, f, (size_t)fl) == 0) {
                    *flags |= shebang_flags[i].flag;
                    found = 1;
                }
            }
            if (!found) {
                snprintf(err, errlen, "Unexpected flag in script shebang: %.*s", fl, f);
                return -1;
            }
            if (comma && comma + 1 == fend) {
                snprintf(err, errlen, "Unexpected flag in script shebang: ");
                return -1;
            }
            f = comma ? comma + 1 : fend;
        }
    }
    if (first) {
        snprintf(err, errlen, "Unexpected engine in script shebang: ");
        return -1;
    }
    return 0;
}

/* Shebang check and compile; 0 ok, -1 after replying the error. */
static int prepare(cb_client *c, cb_script_vm *vm, const char *sha, const char *body, size_t len,
                   unsigned *flags) {
    char err[512];
    if (script_parse_shebang(body, len, flags, err, sizeof(err)) < 0) {
        reply_error(c, err);
        return -1;
    }
    char *cerr = NULL;
    if (script_vm_compile(vm, sha, body, len, &cerr) < 0) {
        reply_error(c, cerr);
        cb_free(cerr);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- EVAL */

void cmd_eval(cb_client *c);
void cmd_evalsha(cb_client *c);

static void eval_generic(cb_client *c, int by_sha, int ro);

/* EVAL under SCRIPT DEBUG: the whole command (checks included) runs in a
 * session, as Redis runs it, and the client closes after the reply. */
static void eval_debug(cb_client *c, int ro) {
    cb_script_vm *vm = script_vm(c->w);
    int mode = c->lua_debug;
    c->lua_debug = 0;
    vm->ldb = ldb_start(c, ARGP(c, 1), ARGL(c, 1), mode == 1);
    eval_generic(c, 0, ro);
    cb_ldb *d = vm->ldb;
    vm->ldb = NULL;
    ldb_end(d);
}

static void eval_generic(cb_client *c, int by_sha, int ro) {
    /* EVAL is skip-monitor for the dispatcher, yet Redis shows every EVAL
     * to MONITOR, before the commands its script runs. */
    if (__atomic_load_n(&g_server.monitors, __ATOMIC_RELAXED)) conn_feed_monitors(c);
    if (c->lua_debug) {
        if (by_sha) {
            reply_error(c, "Please use EVAL instead of EVALSHA for debugging");
            return;
        }
        eval_debug(c, ro);
        return;
    }
    long long numkeys;
    if (arg_ll(c, 2, &numkeys, NULL) < 0) return;
    if (numkeys > c->argc - 3) {
        reply_error(c, "Number of keys can't be greater than number of args");
        return;
    }
    if (numkeys < 0) {
        reply_error(c, "Number of keys can't be negative");
        return;
    }
    char sha[41];
    char *owned = NULL;
    const char *body;
    size_t blen;
    if (by_sha) {
        if (ARGL(c, 1) != 40 || !(owned = script_cache_get(ARGP(c, 1), 40, &blen))) {
            reply_error(c, "-NOSCRIPT No matching script. Please use EVAL.");
            return;
        }
        for (int i = 0; i < 40; i++) {
            char ch = ARGP(c, 1)[i];
            sha[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
        }
        sha[40] = '\0';
        body = owned;
    } else {
        body = ARGP(c, 1);
        blen = ARGL(c, 1);
        script_sha1hex(body, blen, sha);
    }
    cb_script_vm *vm = script_vm(c->w);
    unsigned flags;
    if (prepare(c, vm, sha, body, blen, &flags) < 0) {
        cb_free(owned);
        return;
    }
    if (!by_sha) script_cache_add(sha, body, blen);
    cb_free(owned);
    if (ro && !(flags & (SCRIPT_FLAG_EVAL_COMPAT | SCRIPT_FLAG_NO_WRITES))) {
        reply_error(c, "Can not execute a script with write flag using *_ro command.");
        return;
    }

    cb_script_run run;
    memset(&run, 0, sizeof(run));
    memcpy(run.sha, sha, sizeof(sha));
    run.flags = flags;
    run.read_only = ro || (flags & SCRIPT_FLAG_NO_WRITES);
    /* A script without flags may start out of memory; its deny-OOM
     * commands are refused then, until it has written (scriptVerifyOOM). */
    run.oom = (flags & SCRIPT_FLAG_EVAL_COMPAT) && dispatch_oom_state(c);
    script_run_for(c, vm, &run, (int)numkeys);
}

void script_run_for(cb_client *c, cb_script_vm *vm, cb_script_run *run, int nkeys) {
    /* The script's own client: redis.call runs commands through it, in the
     * caller's db, and its replies are read back, never sent. */
    cb_client sc;
    memset(&sc, 0, sizeof(sc));
    sc.id = c->id;
    sc.fd = -1;
    sc.w = c->w;
    sc.shard = c->w->shard;
    sc.dbid = c->dbid;
    sc.db = &sc.shard->dbs[c->dbid];
    sc.resp = 2;
    sc.flags = CLIENT_PROXY | CLIENT_SCRIPT;
    sc.authenticated = 1;
    snprintf(sc.addr, sizeof(sc.addr), "lua");
    run->caller = c;
    run->sc = &sc;
    run->resp = 2;
    script_vm_run(vm, run, nkeys, c->argv + 3, c->argv_len + 3, c->argc - 3 - nkeys,
                  c->argv + 3 + nkeys, c->argv_len + 3 + nkeys);
    if (vm->ldb) ldb_undo_apply(vm->ldb, run);
    while (sc.out_head) {
        cb_outblock *b = sc.out_head;
        sc.out_head = b->next;
        cb_free(b);
    }
}

void cmd_fcall(cb_client *c);
void cmd_fcall_ro(cb_client *c);
void cmd_eval_ro(cb_client *c);
void cmd_evalsha_ro(cb_client *c);

/* The shebang flags of an EVAL*'s script; -1 when unknown (no such sha). */
static int eval_flags(const cb_client *c, const cb_command *cmd, unsigned *flags) {
    if (c->argc < 2) return -1;
    size_t len;
    char *owned = NULL;
    const char *body;
    if (cmd->proc == cmd_eval || cmd->proc == cmd_eval_ro) {
        body = ARGP(c, 1);
        len = ARGL(c, 1);
    } else {
        if (ARGL(c, 1) != 40 || !(owned = script_cache_get(ARGP(c, 1), 40, &len))) return -1;
        body = owned;
    }
    char err[256];
    int rc = script_parse_shebang(body, len, flags, err, sizeof(err));
    cb_free(owned);
    return rc;
}

int script_denies_oom(const cb_client *c, const cb_command *cmd) {
    unsigned flags;
    if (cmd->proc == cmd_fcall || cmd->proc == cmd_fcall_ro) {
        if (c->argc < 2 || fn_registry_lookup(c->argv[1], c->argv_len[1], &flags, NULL, 0) < 0)
            return 0;
    } else if (cmd->proc == cmd_eval || cmd->proc == cmd_evalsha || cmd->proc == cmd_eval_ro ||
               cmd->proc == cmd_evalsha_ro) {
        if (eval_flags(c, cmd, &flags) < 0 || (flags & SCRIPT_FLAG_EVAL_COMPAT)) return 0;
    } else {
        return 0;
    }
    /* no-writes implies allow-oom. */
    return !(flags & (SCRIPT_FLAG_ALLOW_OOM | SCRIPT_FLAG_NO_WRITES));
}

int script_may_write(const cb_client *c, const cb_command *cmd) {
    if (cmd->proc == cmd_fcall) return fn_may_write(c);
    if (cmd->proc != cmd_eval && cmd->proc != cmd_evalsha) return 0;
    if (c->argc < 2) return 1;
    size_t len;
    char *owned = NULL;
    const char *body;
    if (cmd->proc == cmd_eval) {
        body = ARGP(c, 1);
        len = ARGL(c, 1);
    } else {
        /* An unknown script keeps the command's own flags: it may write. */
        if (ARGL(c, 1) != 40 || !(owned = script_cache_get(ARGP(c, 1), 40, &len))) return 1;
        body = owned;
    }
    unsigned flags;
    char err[256];
    int rc = script_parse_shebang(body, len, &flags, err, sizeof(err));
    cb_free(owned);
    return rc < 0 || !(flags & SCRIPT_FLAG_NO_WRITES);
}

void cmd_eval(cb_client *c) { eval_generic(c, 0, 0); }
void cmd_evalsha(cb_client *c) { eval_generic(c, 1, 0); }
void cmd_eval_ro(cb_client *c) { eval_generic(c, 0, 1); }
void cmd_evalsha_ro(cb_client *c) { eval_generic(c, 1, 1); }

/* ------------------------------------------------------------ SCRIPT */

void cmd_script_load(cb_client *c) {
    char sha[41];
    script_sha1hex(ARGP(c, 2), ARGL(c, 2), sha);
    unsigned flags;
    if (prepare(c, script_vm(c->w), sha, ARGP(c, 2), ARGL(c, 2), &flags) < 0) return;
    script_cache_add(sha, ARGP(c, 2), ARGL(c, 2));
    reply_bulk(c, sha, 40);
}

void cmd_script_exists(cb_client *c) {
    reply_array_len(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) reply_int(c, script_cache_exists(ARGP(c, i), ARGL(c, i)));
}

void cmd_script_flush(cb_client *c) {
    if (c->argc != 2 && !(c->argc == 3 && (arg_eq(c, 2, "sync") || arg_eq(c, 2, "async")))) {
        reply_error(c, "SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    script_cache_flush();
    script_vm(c->w); /* this worker's VM starts afresh now, the others on next use */
    reply_ok(c);
}

void cmd_script_kill(cb_client *c) {
    cb_script_run *run = script_busy_run(c->w);
    if (!run) {
        reply_error(c, "-NOTBUSY No scripts in execution right now.");
        return;
    }
    if (__atomic_load_n(&run->wrote, __ATOMIC_RELAXED)) {
        reply_error(c, "-UNKILLABLE Sorry the script already executed write commands against "
                       "the dataset. You can either wait the script termination or kill the "
                       "server in a hard way using the SHUTDOWN NOSAVE command.");
        return;
    }
    if (run->fname) {
        /* A function is stopped by FUNCTION KILL only. */
        reply_error(c, "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                       "SHUTDOWN NOSAVE.");
        return;
    }
    __atomic_store_n(&run->killed, 1, __ATOMIC_RELAXED);
    reply_ok(c);
}

void cmd_script_debug(cb_client *c) {
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "SCRIPT DEBUG must be called outside a pipeline");
        return;
    }
    int mode;
    if (arg_eq(c, 2, "no")) mode = 0;
    else if (arg_eq(c, 2, "yes")) mode = 1;
    else if (arg_eq(c, 2, "sync")) mode = 2;
    else {
        reply_error(c, "Use SCRIPT DEBUG YES/SYNC/NO");
        return;
    }
    c->lua_debug = mode;
    reply_ok(c);
}

void cmd_script_help(cb_client *c) {
    static const char *const lines[] = {
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, lines);
}

void script_init(void) {
    script_cache_init();
    fn_init();
}
