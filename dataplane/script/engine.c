/* engine.c — one Lua 5.1 VM per worker: creating it with the libraries
 * scripts expect, the sandbox, compiling bodies and calling them.
 *
 * Sandbox (sandbox.c). Scripts see a globals table that is a read-only
 * proxy: reading a name that does not exist raises "Script attempted to
 * access nonexistent global variable", any assignment raises "Attempt to
 * modify a readonly table"; the libraries (string, math, redis, cjson, ...)
 * are read-only proxies too. The real globals live in a table only C can
 * reach; KEYS and ARGV are stored there before each call. loadfile, dofile,
 * print, setfenv, getfenv, newproxy and the debug library are not
 * reachable, as in Redis.
 *
 * Errors. Every call runs under a C error handler that turns the error into
 * Redis's table form {err=..., source=..., line=...}; the reply is
 * "<err> script: <sha>, on <source>:<line>." as Redis 7.0 writes it.
 *
 * Call order: script_vm() -> script_vm_compile() -> script_vm_run().
 */
#include "script_int.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../worker.h"
#include "../resp/reply.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

/* Debian's lua-cjson and lua-bitop (liblua5.1-cjson, liblua5.1-bitop). */
int luaopen_cjson(lua_State *L);
int luaopen_bit(lua_State *L);
/* Written in this tree (lua_cmsgpack.c, lua_struct.c). */
int luaopen_cmsgpack(lua_State *L);
int luaopen_struct(lua_State *L);

/* Libraries beyond Lua's own, each loaded as a read-only global. The
 * registration point for the libraries written in this tree (cmsgpack,
 * struct): add {"name", luaopen_name} here. */
typedef struct script_lib {
    const char *name;
    lua_CFunction open;
} script_lib;

static const script_lib extra_libs[] = {
    {"cjson", luaopen_cjson},
    {"bit", luaopen_bit},
    {"cmsgpack", luaopen_cmsgpack},
    {"struct", luaopen_struct},
    {NULL, NULL},
};

/* Lua's own libraries that become read-only proxies. */
static const char *const readonly_libs[] = {"string", "table", "math", "coroutine", "redis",
                                            NULL};

#define HOOK_COUNT 100000   /* instructions between busy checks, as Redis */
#define GC_PERIOD 50        /* a GC step every this many calls */

/* ------------------------------------------------------------ allocation */

static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    cb_script_vm *vm = ud;
    size_t cur = __atomic_load_n(&vm->mem, __ATOMIC_RELAXED);
    if (nsize == 0) {
        if (ptr) {
            cb_free(ptr);
            __atomic_store_n(&vm->mem, cur - osize, __ATOMIC_RELAXED);
        }
        return NULL;
    }
    void *p = cb_try_realloc(ptr, nsize);
    if (!p) return NULL; /* Lua raises its memory error */
    __atomic_store_n(&vm->mem, cur - (ptr ? osize : 0) + nsize, __ATOMIC_RELAXED);
    return p;
}

/* ------------------------------------------------------------- errors */

void script_push_error(lua_State *L, const char *msg, size_t len) {
    /* "-CODE text" keeps its code; a bare text, or a single word after the
     * '-', gets ERR in front, the way Redis builds its error tables. */
    const char *body = msg;
    size_t blen = len;
    int has_code = 0;
    if (blen && body[0] == '-') {
        body++;
        blen--;
        has_code = memchr(body, ' ', blen) != NULL;
    }
    while (blen && (body[blen - 1] == '\r' || body[blen - 1] == '\n')) blen--;
    lua_newtable(L);
    lua_pushliteral(L, "err");
    if (has_code) {
        lua_pushlstring(L, body, blen);
    } else {
        lua_pushliteral(L, "ERR ");
        lua_pushlstring(L, body, blen);
        lua_concat(L, 2);
    }
    lua_rawset(L, -3);
}

int script_raise(lua_State *L, const char *msg) {
    script_push_error(L, msg, strlen(msg));
    return lua_error(L);
}

/* The error handler every call runs under: an error that is not yet a
 * table becomes {err="ERR <text>"}; source and line of the script code
 * that failed are added (skipping a C function such as error()). */
static int err_handler(lua_State *L) {
    lua_Debug ar;
    int have = lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar);
    if (have && strcmp(ar.what, "C") == 0) have = lua_getstack(L, 2, &ar) && lua_getinfo(L, "Sl", &ar);
    if (!lua_istable(L, 1)) {
        const char *s;
        char tmp[64];
        int t = lua_type(L, 1);
        if (t == LUA_TSTRING || t == LUA_TNUMBER) {
            s = lua_tostring(L, 1);
        } else if (t == LUA_TBOOLEAN) {
            s = lua_toboolean(L, 1) ? "true" : "false";
        } else if (t == LUA_TNIL) {
            s = "nil";
        } else {
            snprintf(tmp, sizeof(tmp), "%s: %p", lua_typename(L, t), lua_topointer(L, 1));
            s = tmp;
        }
        lua_newtable(L);
        lua_pushliteral(L, "err");
        lua_pushliteral(L, "ERR ");
        lua_pushstring(L, s);
        lua_concat(L, 2);
        lua_rawset(L, -3);
        lua_replace(L, 1);
    }
    lua_settop(L, 1);
    if (have) {
        lua_pushliteral(L, "source");
        lua_pushstring(L, ar.source);
        lua_rawset(L, 1);
        lua_pushliteral(L, "line");
        lua_pushinteger(L, ar.currentline);
        lua_rawset(L, 1);
    }
    return 1;
}

/* ------------------------------------------------------------- sandbox */

/* __index of the globals proxy (sandbox.c): upvalue 1 is the real globals
 * table; a name that is not there raises. */
static int globals_index(lua_State *L) {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1)) return 1;
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      name ? name : "?");
}

/* ------------------------------------------------------------ math.random */

/* math.random is Redis's: a rand48 generator whose state lives as long as
 * the process (one per worker here), starts from rand48's default state and
 * is never reseeded behind the script's back; math.randomseed sets it. */
#define RAND48_DEFAULT 0x1234ABCD330EULL

static uint32_t rand48_next(cb_script_vm *vm) {
    vm->rand48 = (vm->rand48 * 0x5DEECE66DULL + 0xB) & ((1ULL << 48) - 1);
    return (uint32_t)(vm->rand48 >> 17);
}

static void rand48_seed(cb_script_vm *vm, int32_t seed) {
    vm->rand48 = ((uint64_t)(uint32_t)seed << 16) | 0x330E;
}

static int math_random(lua_State *L) {
    cb_script_vm *vm = script_vm_current();
    const lua_Number max = 2147483647.0;
    lua_Number r = (lua_Number)(rand48_next(vm) % 2147483647u) / max;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1);
        int u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int math_randomseed(lua_State *L) {
    rand48_seed(script_vm_current(), luaL_checkint(L, 1));
    return 0;
}

/* ------------------------------------------------------------- pcall */

/* Lua's pcall, but an error in Redis's table form reaches the script as
 * its text: scripts written for Redis compare the message string. */
static int script_pcall(lua_State *L) {
    if (lua_gettop(L) == 0) {
        /* Redis calls its own result placeholder here, and fails. */
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "attempt to call a boolean value");
        return 2;
    }
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (status != 0) {
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            if (lua_isstring(L, -1))
                lua_replace(L, -2);
            else
                lua_pop(L, 1);
        }
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    return lua_gettop(L);
}

/* ------------------------------------------------------------- the VM */

static void open_lib(lua_State *L, const char *name, lua_CFunction fn) {
    lua_pushcfunction(L, fn);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (lua_istable(L, -1) && name[0]) {
        lua_setglobal(L, name);
    } else {
        lua_pop(L, 1);
    }
}

static void vm_open(cb_script_vm *vm) {
    lua_State *L = lua_newstate(vm_alloc, vm);
    vm->L = L;
    open_lib(L, "", luaopen_base);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    for (int i = 0; extra_libs[i].name; i++) open_lib(L, extra_libs[i].name, extra_libs[i].open);

    static const char *const removed[] = {"loadfile", "dofile", "print", "setfenv", "getfenv",
                                          "newproxy", "module", "require", NULL};
    for (int i = 0; removed[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    lua_getglobal(L, "math");
    lua_pushcfunction(L, math_random);
    lua_setfield(L, -2, "random");
    lua_pushcfunction(L, math_randomseed);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);

    lua_pushcfunction(L, script_pcall);
    lua_setglobal(L, "pcall");
    script_api_open(L);
    lua_pushcfunction(L, err_handler);
    lua_setglobal(L, "__redis__err__handler");

    /* Compiled scripts, by sha, in the registry. */
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "__cb_scripts");

    /* The sandbox (sandbox.c): real globals behind a read-only proxy. */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    int real = lua_gettop(L);
    for (int i = 0; readonly_libs[i]; i++) script_sandbox_protect_lib(L, real, readonly_libs[i]);
    for (int i = 0; extra_libs[i].name; i++) script_sandbox_protect_lib(L, real, extra_libs[i].name);
    script_sandbox_install(L, real, globals_index);
    vm->globals_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops real */
    vm->gen = script_cache_gen();
    vm->fn_gen = 0; /* function callbacks are loaded again on next FCALL */
}

static void vm_close(cb_script_vm *vm) {
    if (vm->L) lua_close(vm->L);
    vm->L = NULL;
}

cb_script_vm *script_vm_struct(cb_worker *w) {
    cb_script_vm *vm = w->script;
    if (!vm) {
        vm = cb_calloc(sizeof(*vm));
        vm->rand48 = RAND48_DEFAULT;
        __atomic_store_n(&w->script, vm, __ATOMIC_RELEASE);
    }
    return vm;
}

cb_script_vm *script_vm(cb_worker *w) {
    cb_script_vm *vm = script_vm_struct(w);
    if (vm->L && vm->gen != script_cache_gen() && !vm->run) vm_close(vm);
    if (!vm->L) vm_open(vm);
    return vm;
}

/* A standalone VM (script_vm_standalone) in use on this thread. */
static __thread cb_script_vm *tls_standalone;

cb_script_vm *script_vm_current(void) {
    if (tls_standalone) return tls_standalone;
    cb_worker *w = worker_self();
    return w ? w->script : NULL;
}

cb_script_vm *script_vm_standalone(void) {
    cb_script_vm *vm = cb_calloc(sizeof(*vm));
    vm->rand48 = RAND48_DEFAULT;
    vm_open(vm);
    tls_standalone = vm;
    return vm;
}

void script_vm_standalone_free(cb_script_vm *vm) {
    if (tls_standalone == vm) tls_standalone = NULL;
    vm_close(vm);
    cb_free(vm);
}

void script_worker_free(cb_worker *w) {
    cb_script_vm *vm = w->script;
    if (!vm) return;
    vm_close(vm);
    cb_free(vm->readbuf);
    cb_free(vm);
    w->script = NULL;
}

size_t script_vm_memory(void) {
    size_t total = 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        cb_script_vm *vm = w ? __atomic_load_n(&w->script, __ATOMIC_ACQUIRE) : NULL;
        if (vm) total += __atomic_load_n(&vm->mem, __ATOMIC_RELAXED);
    }
    return total;
}

/* ------------------------------------------------------------ compiling */

int script_vm_compile(cb_script_vm *vm, const char *sha, const char *body, size_t len,
                      char **err) {
    lua_State *L = vm->L;
    lua_getfield(L, LUA_REGISTRYINDEX, "__cb_scripts");
    lua_getfield(L, -1, sha);
    if (lua_isfunction(L, -1)) {
        lua_pop(L, 2);
        return 0;
    }
    lua_pop(L, 1);
    /* A shebang line stays in the body for line numbers but must not
     * reach the compiler: it becomes a comment. */
    char *copy = NULL;
    const char *src = body;
    if (len >= 2 && body[0] == '#' && body[1] == '!') {
        copy = cb_malloc(len);
        memcpy(copy, body, len);
        copy[0] = copy[1] = '-';
        src = copy;
    }
    int rc = luaL_loadbuffer(L, src, len, "@user_script");
    cb_free(copy);
    if (rc != 0) {
        size_t el;
        const char *m = lua_tolstring(L, -1, &el);
        static const char pre[] = "Error compiling script (new function): ";
        *err = cb_malloc(sizeof(pre) + el + 1);
        memcpy(*err, pre, sizeof(pre) - 1);
        memcpy(*err + sizeof(pre) - 1, m ? m : "", m ? el : 0);
        (*err)[sizeof(pre) - 1 + (m ? el : 0)] = '\0';
        lua_pop(L, 2);
        return -1;
    }
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    return 0;
}

/* ------------------------------------------------------------- calling */

static void hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    cb_script_vm *vm = script_vm_current();
    if (vm && vm->run && script_busy_check(vm)) {
        /* Every following line raises too, so a pcall in the script cannot
         * swallow the kill for long. */
        lua_sethook(L, hook, LUA_MASKLINE | LUA_MASKCOUNT, 1);
        script_raise(L, "-ERR Script killed by user with SCRIPT KILL...");
    }
}

static void set_arg_table(lua_State *L, int real, const char *name, int n, const char **v,
                          const size_t *l) {
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, v[i], l[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, real, name);
}

/* The reply for a failed call: the error table's parts as Redis 7.0 puts
 * them together. */
static void reply_script_error(cb_client *c, lua_State *L, const char *sha) {
    /* sha: the script's sha, or the function's name (FCALL). */
    const char *msg = NULL, *source = NULL;
    size_t ml = 0;
    long line = -1;
    int no_stats = 0;
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "ignore_err_stats_update");
        no_stats = lua_toboolean(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, -1, "err");
        if (lua_type(L, -1) == LUA_TSTRING) msg = lua_tolstring(L, -1, &ml);
        lua_getfield(L, -2, "source");
        if (lua_type(L, -1) == LUA_TSTRING) source = lua_tostring(L, -1);
        lua_getfield(L, -3, "line");
        if (lua_type(L, -1) == LUA_TNUMBER) line = (long)lua_tonumber(L, -1);
        lua_pop(L, 3); /* the strings stay alive: the table holds them */
    }
    if (!msg) {
        const char *s = lua_tostring(L, -1);
        reply_errorf(c, "Error running script (call to f_%s): %s", sha, s ? s : "unknown error");
        return;
    }
    size_t cap = ml + (source ? strlen(source) : 0) + strlen(sha) + 128;
    char *buf = cb_malloc(cap);
    int n;
    if (source && line >= 0)
        n = snprintf(buf, cap, "-%.*s script: %s, on %s:%ld.", (int)ml, msg, sha, source, line);
    else
        n = snprintf(buf, cap, "-%.*s", (int)ml, msg);
    size_t bl = (size_t)n < cap ? (size_t)n : cap - 1;
    if (no_stats) {
        /* Redis's ERR_REPLY_FLAG_NO_STATS_UPDATE: the error counts as a
         * failed call of the script but not again in the error totals. */
        for (size_t i = 0; i < bl; i++)
            if (buf[i] == '\r' || buf[i] == '\n') buf[i] = ' ';
        reply_raw(c, buf, bl);
        reply_raw(c, "\r\n", 2);
        c->errors_seen++;
    } else {
        reply_error_len(c, buf, bl);
    }
    cb_free(buf);
}

void script_vm_run(cb_script_vm *vm, cb_script_run *run, int nkeys, const char **keys,
                   const size_t *klens, int nargs, const char **args, const size_t *alens) {
    lua_State *L = vm->L;
    int nparams = 0;
    if (!run->fname) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->globals_ref);
        int real = lua_gettop(L);
        set_arg_table(L, real, "KEYS", nkeys, keys, klens);
        set_arg_table(L, real, "ARGV", nargs, args, alens);
        lua_pop(L, 1);
    }

    lua_pushcfunction(L, err_handler);
    int eh = lua_gettop(L);
    if (run->fname) {
        /* A function gets its keys and arguments as parameters. */
        if (!fn_vm_push(vm, run->fname)) lua_pushnil(L);
        lua_createtable(L, nkeys, 0);
        for (int i = 0; i < nkeys; i++) {
            lua_pushlstring(L, keys[i], klens[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_createtable(L, nargs, 0);
        for (int i = 0; i < nargs; i++) {
            lua_pushlstring(L, args[i], alens[i]);
            lua_rawseti(L, -2, i + 1);
        }
        nparams = 2;
    } else {
        lua_getfield(L, LUA_REGISTRYINDEX, "__cb_scripts");
        lua_getfield(L, -1, run->sha);
        lua_remove(L, -2);
    }

    run->start_ms = util_mstime();
    vm->run = run;
    if (vm->ldb)
        lua_sethook(L, ldb_hook, LUA_MASKLINE | LUA_MASKCOUNT, HOOK_COUNT);
    else
        lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_COUNT);
    int rc = lua_pcall(L, nparams, 1, eh);
    lua_sethook(L, NULL, 0, 0);
    script_busy_leave(vm);
    if (rc == 0)
        script_lua_to_reply(run->caller, L, run->resp);
    else
        reply_script_error(run->caller, L, run->fname ? run->fname : run->sha);
    lua_settop(L, eh - 1);
    vm->run = NULL;
    if (++vm->calls % GC_PERIOD == 0) lua_gc(L, LUA_GCSTEP, 1);
}
