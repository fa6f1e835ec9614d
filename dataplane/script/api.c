/* api.c — the `redis` table scripts call: redis.call / redis.pcall (run a
 * command on the script's own client and hand its reply to Lua),
 * error_reply, status_reply, sha1hex, log, setresp, set_repl,
 * replicate_commands, breakpoint and debug (no-ops outside the debugger),
 * and the constants (LOG_*, REPL_*, REDIS_VERSION*).
 *
 * A command called from a script goes through the same checks Redis makes
 * for it (scriptCall in Redis 7.0): lookup, arity, the noscript flag, writes
 * in a read-only script; then the handler runs on the script client and
 * the reply bytes it produced are parsed into Lua values (convert.c).
 */
#include "script_int.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "../acl.h"
#include "../blocking.h"
#include "../cmd/command.h"
#include "../conn.h"
#include "../dispatch.h"
#include "../worker.h"
#include "../xshard.h"
#include "../../platform/config.h"
#include "../../platform/log.h"
#include "../../platform/mem.h"
#include "../../store/db.h"

#define REDIS_VERSION_STR "7.0.15"
#define REDIS_VERSION_NUM 0x0007000f

enum { REPL_NONE = 0, REPL_AOF = 1, REPL_REPLICA = 2, REPL_ALL = 3 };

/* An API error: raised (redis.call) or returned as a table (redis.pcall). */
static int fail(lua_State *L, int raise, const char *msg) {
    cb_script_vm *vm = script_vm_current();
    if (vm && ldb_stepping(vm->ldb)) {
        /* Redis logs its own check errors without the ERR code. */
        const char *m = strncmp(msg, "-ERR ", 5) == 0 ? msg + 5 : msg;
        ldb_log_error(vm->ldb, m, strlen(m));
    }
    script_push_error(L, msg, strlen(msg));
    if (raise) return lua_error(L);
    return 1;
}

/* Take the bytes the command replied off the script client. */
static char *take_output(cb_client *sc, size_t *len) {
    char *buf = cb_malloc(sc->out_bytes + 1);
    size_t n = 0;
    for (cb_outblock *b = sc->out_head, *next; b; b = next) {
        next = b->next;
        memcpy(buf + n, b->data + b->sent, b->used - b->sent);
        n += b->used - b->sent;
        cb_free(b);
    }
    sc->out_head = sc->out_tail = NULL;
    sc->out_bytes = 0;
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The script runs as its caller's user: NULL when the ACL allows cmd,
 * else the error Redis 7.0 raises (and the denial is logged). */
static const char *acl_script_denial(cb_client *caller, const cb_command *cmd, int argc,
                                     const char *const *argv, const size_t *lens) {
    const cb_acl_user *u = caller->user ? caller->user : acl_default_user();
    int pos = 0;
    int rc = acl_check(u, cmd, argc, argv, lens, &pos);
    if (rc == ACL_OK) return NULL;
    acl_log_denial_in_script(caller, rc, cmd, argv, lens, pos);
    switch (rc) {
    case ACL_DENIED_CMD:
        return "-ERR The user executing the script can't run this command or subcommand";
    case ACL_DENIED_KEY:
        return "-ERR The user executing the script can't access at least one of the keys "
               "mentioned in the command arguments";
    case ACL_DENIED_CHANNEL:
        return "-ERR The user executing the script can't publish to the channel mentioned in "
               "the command";
    default:
        return "-ERR The user executing the script is lacking the permissions for the command";
    }
}

/* Runs cmd on the script client: every other worker is parked while a
 * script runs with several workers, so it runs where its keys live. */
static void run_on_sc(cb_script_run *run, const cb_command *cmd, int argc, const char **argv,
                      size_t *lens, int monitor) {
    cb_client *sc = run->sc;
    cb_worker *w = run->caller->w;
    sc->argc = argc;
    sc->argv = argv;
    sc->argv_len = lens;
    sc->resp = run->resp;
    cb_shard *home = w->shard;
    sc->shard = home;
    if (g_server.nworkers > 1) {
        int owner;
        xshard_route(sc, cmd, &owner);
        if (owner >= 0) sc->shard = g_server.workers[owner]->shard;
    }
    sc->db = &sc->shard->dbs[sc->dbid];
    if (monitor) conn_feed_monitors(sc);
    dispatch_call(sc, cmd);
    sc->shard = home;
    sc->db = &home->dbs[sc->dbid];
    sc->argc = 0;
}

void script_exec_internal(cb_script_run *run, int argc, const char **argv, size_t *lens) {
    const cb_command *container = NULL;
    const cb_command *cmd = command_resolve(argc, argv, lens, &container);
    if (!cmd) return;
    run_on_sc(run, cmd, argc, argv, lens, 0);
    size_t len;
    cb_free(take_output(run->sc, &len));
}

static int call_generic(lua_State *L, int raise) {
    cb_script_vm *vm = script_vm_current();
    cb_script_run *run = vm ? vm->run : NULL;
    int argc = lua_gettop(L);
    if (!run) return fail(L, raise, "-ERR redis.call/pcall can only be called inside a script invocation");
    if (argc == 0) return fail(L, raise, "-ERR Please specify at least one argument for this redis lib call");
    for (int i = 1; i <= argc; i++) {
        int t = lua_type(L, i);
        if (t == LUA_TNUMBER) {
            /* Lua's own number format loses precision. */
            char buf[64];
            snprintf(buf, sizeof(buf), "%.17g", (double)lua_tonumber(L, i));
            lua_pushstring(L, buf);
            lua_replace(L, i);
        } else if (t != LUA_TSTRING) {
            return fail(L, raise, "-ERR Lua redis lib command arguments must be strings or integers");
        }
    }
    const char **argv = cb_malloc(sizeof(char *) * (size_t)argc);
    size_t *lens = cb_malloc(sizeof(size_t) * (size_t)argc);
    for (int i = 0; i < argc; i++) argv[i] = lua_tolstring(L, i + 1, &lens[i]);
    cb_ldb *ldb = ldb_stepping(vm->ldb) ? vm->ldb : NULL;
    if (ldb) ldb_log_command(ldb, argc, argv, lens);

    const char *err = NULL;
    const cb_command *container = NULL;
    const cb_command *cmd = command_resolve(argc, argv, lens, &container);
    if (!cmd)
        err = "-ERR Unknown Redis command called from script";
    else if (!command_arity_ok(cmd, argc))
        err = "-ERR Wrong number of args calling Redis command from script";
    else if (cmd->flags & CMD_NOSCRIPT)
        err = "-ERR This Redis command is not allowed from script";
    else if ((err = acl_script_denial(run->caller, cmd, argc, argv, lens)) != NULL)
        ;
    else if ((cmd->flags & CMD_WRITE) && run->read_only)
        err = "-ERR Write commands are not allowed from read-only scripts.";
    else if (run->oom && !(run->flags & SCRIPT_FLAG_ALLOW_OOM) && (cmd->flags & CMD_DENYOOM) &&
             !__atomic_load_n(&run->wrote, __ATOMIC_RELAXED))
        err = "-OOM command not allowed when used memory > 'maxmemory'.";
    else if (vm->ldb)
        ldb_undo_save(vm->ldb, run->sc, cmd, argc, argv, lens, &err);
    if (err) {
        cb_free(argv);
        cb_free(lens);
        return fail(L, raise, err);
    }

    cb_client *sc = run->sc;
    if (cmd->flags & CMD_WRITE) __atomic_store_n(&run->wrote, 1, __ATOMIC_RELAXED);
    /* MONITOR shows a script's commands as coming from "lua". */
    int monitor = __atomic_load_n(&g_server.monitors, __ATOMIC_RELAXED) &&
                  !(cmd->flags & (CMD_SKIP_MONITOR | CMD_ADMIN));
    run_on_sc(run, cmd, argc, argv, lens, monitor);
    cb_free(argv);
    cb_free(lens);

    size_t len;
    char *out = take_output(sc, &len);
    lua_settop(L, 0);
    if (len && out[0] == '-') {
        if (ldb) {
            const char *e = memchr(out, '\r', len);
            ldb_log_error(ldb, out, e ? (size_t)(e - out) : len);
            ldb_log_reply(ldb, out, len);
        }
        script_push_error(L, out, len);
        cb_free(out);
        /* The command's error is counted already: a reply that carries it
         * on must not count it again. */
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "ignore_err_stats_update");
        if (raise) return lua_error(L);
        return 1;
    }
    if (ldb) ldb_log_reply(ldb, out, len);
    const char *end = len ? script_resp_to_lua(L, out, out + len) : NULL;
    if (!end) {
        lua_settop(L, 0);
        lua_pushboolean(L, 0);
    }
    cb_free(out);
    return 1;
}

static int l_call(lua_State *L) { return call_generic(L, 1); }
static int l_pcall(lua_State *L) { return call_generic(L, 0); }

static int l_error_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING)
        return fail(L, 0, "-ERR wrong number or type of arguments");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    if (len && s[0] == '-') {
        script_push_error(L, s, len);
    } else {
        char *m = cb_malloc(len + 2);
        m[0] = '-';
        memcpy(m + 1, s, len);
        script_push_error(L, m, len + 1);
        cb_free(m);
    }
    return 1;
}

static int l_status_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING)
        return fail(L, 0, "-ERR wrong number or type of arguments");
    lua_newtable(L);
    lua_pushliteral(L, "ok");
    lua_pushvalue(L, 1);
    lua_rawset(L, -3);
    return 1;
}

static int l_sha1hex(lua_State *L) {
    if (lua_gettop(L) != 1) return script_raise(L, "-ERR wrong number of arguments");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    char hex[41];
    script_sha1hex(s ? s : "", s ? len : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int l_log(lua_State *L) {
    int argc = lua_gettop(L);
    if (argc < 2) return script_raise(L, "-ERR redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1)) return script_raise(L, "-ERR First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, 1);
    if (level < LOG_DEBUG || level > LOG_WARNING) return script_raise(L, "-ERR Invalid debug level.");
    if (level < g_config.loglevel) return 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int first = 1;
    for (int i = 2; i <= argc; i++) {
        size_t len;
        int t = lua_type(L, i);
        if (t != LUA_TSTRING && t != LUA_TNUMBER) continue;
        const char *s = lua_tolstring(L, i, &len);
        if (!first) luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, len);
        first = 0;
    }
    luaL_pushresult(&b);
    cb_log(level, "%s", lua_tostring(L, -1));
    return 0;
}

static int l_setresp(lua_State *L) {
    cb_script_vm *vm = script_vm_current();
    if (lua_gettop(L) != 1) return script_raise(L, "-ERR redis.setresp() requires one argument.");
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3) return script_raise(L, "-ERR RESP version must be 2 or 3.");
    if (vm && vm->run) vm->run->resp = resp;
    return 0;
}

static int l_set_repl(lua_State *L) {
    if (lua_gettop(L) != 1) return script_raise(L, "-ERR redis.set_repl() requires two arguments.");
    int flags = (int)lua_tonumber(L, 1);
    if (flags < REPL_NONE || flags > REPL_ALL)
        return script_raise(L, "-ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, "
                               "REPL_ALL or REPL_NONE.");
    /* Effects replication is the only mode (no replicas or AOF here yet). */
    return 0;
}

static int l_replicate_commands(lua_State *L) {
    lua_pushboolean(L, 1);
    return 1;
}

static void set_num(lua_State *L, const char *name, lua_Number v) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, name);
}

void script_api_open(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"call", l_call},
        {"pcall", l_pcall},
        {"error_reply", l_error_reply},
        {"status_reply", l_status_reply},
        {"sha1hex", l_sha1hex},
        {"log", l_log},
        {"setresp", l_setresp},
        {"set_repl", l_set_repl},
        {"replicate_commands", l_replicate_commands},
        {"breakpoint", ldb_lua_breakpoint}, /* no-ops outside the debugger (ldb.c) */
        {"debug", ldb_lua_debug},
        {NULL, NULL},
    };
    lua_newtable(L);
    for (int i = 0; fns[i].name; i++) {
        lua_pushcfunction(L, fns[i].func);
        lua_setfield(L, -2, fns[i].name);
    }
    set_num(L, "LOG_DEBUG", LOG_DEBUG);
    set_num(L, "LOG_VERBOSE", LOG_VERBOSE);
    set_num(L, "LOG_NOTICE", LOG_NOTICE);
    set_num(L, "LOG_WARNING", LOG_WARNING);
    set_num(L, "REPL_NONE", REPL_NONE);
    set_num(L, "REPL_AOF", REPL_AOF);
    set_num(L, "REPL_SLAVE", REPL_REPLICA);
    set_num(L, "REPL_REPLICA", REPL_REPLICA);
    set_num(L, "REPL_ALL", REPL_ALL);
    lua_pushstring(L, REDIS_VERSION_STR);
    lua_setfield(L, -2, "REDIS_VERSION");
    set_num(L, "REDIS_VERSION_NUM", REDIS_VERSION_NUM);
    lua_setglobal(L, "redis");
}
