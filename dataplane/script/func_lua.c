/* func_lua.c — function libraries inside a worker's Lua VM: running a
 * library's code (FUNCTION LOAD, and each VM catching up with the
 * registry), redis.register_function, and the environment functions see.
 *
 * Library code runs with an environment of its own, as Redis 7.0's: at
 * load time the only global is a `redis` table holding register_function,
 * log, the LOG_* levels and REDIS_VERSION(_NUM); any other name raises
 * "Script attempted to access nonexistent global variable", any assignment
 * "Attempt to modify a readonly table". The same environment table stays
 * the callbacks' environment afterwards, but while a function runs its
 * names resolve in the scripts' globals (redis.call and the libraries),
 * KEYS and ARGV excepted: functions get keys and args as parameters.
 */
#include "script_int.h"

#include <lauxlib.h>
#include <string.h>
#include <strings.h>

#include "../../platform/mem.h"
#include "../../platform/util.h"

#define REG_ENV "__cb_fn_env"         /* the functions' environment proxy */
#define REG_FUNCS "__cb_functions"    /* function name -> callback */
#define REG_PENDING "__cb_fn_pending" /* callbacks of the library loading now */

static const struct {
    const char *name;
    unsigned flag;
} fn_flags[] = {
    {"no-writes", SCRIPT_FLAG_NO_WRITES},
    {"allow-oom", SCRIPT_FLAG_ALLOW_OOM},
    {"allow-stale", SCRIPT_FLAG_ALLOW_STALE},
    {"no-cluster", SCRIPT_FLAG_NO_CLUSTER},
    {"allow-cross-slot-keys", SCRIPT_FLAG_ALLOW_CROSS_SLOT},
    {NULL, 0},
};

const char *fn_flag_name(int i, unsigned *flag) {
    if (!fn_flags[i].name) return NULL;
    *flag = fn_flags[i].flag;
    return fn_flags[i].name;
}

static int missing_global(lua_State *L) {
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      name ? name : "?");
}

static int readonly_newindex(lua_State *L) {
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* __index of a load-time proxy: upvalue 1 is the table behind it. */
static int proxy_index(lua_State *L) {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1)) return 1;
    return missing_global(L);
}

/* __index of the functions' environment: upvalue 1 the load-time globals,
 * upvalue 2 the scripts' real globals. */
static int env_index(lua_State *L) {
    cb_script_vm *vm = script_vm_current();
    if (vm && vm->fn_loading) {
        lua_pushvalue(L, 2);
        lua_rawget(L, lua_upvalueindex(1));
        if (!lua_isnil(L, -1)) return 1;
        return missing_global(L);
    }
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *k = lua_tostring(L, 2);
        if (!strcmp(k, "KEYS") || !strcmp(k, "ARGV")) return missing_global(L);
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(2));
    if (!lua_isnil(L, -1)) return 1;
    return missing_global(L);
}

/* Pushes an empty table whose reads go to the table at `inner` (closure
 * __index) and whose writes raise. */
static void push_proxy(lua_State *L, int inner, lua_CFunction index, int extra_upvalue) {
    lua_newtable(L);
    lua_newtable(L);
    lua_pushvalue(L, inner);
    int nup = 1;
    if (extra_upvalue) {
        lua_pushvalue(L, extra_upvalue);
        nup = 2;
    }
    lua_pushcclosure(L, index, nup);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

/* ------------------------------------------------- redis.register_function */

static int valid_name(const char *s, size_t len) {
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return 0;
    }
    return 1;
}

/* Flags table at idx: 0 ok, -1 on a non-string or unknown flag. */
static int read_flags(lua_State *L, int idx, unsigned *flags) {
    for (int j = 1;; j++) {
        lua_rawgeti(L, idx, j);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            return 0;
        }
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return -1;
        }
        const char *f = lua_tostring(L, -1);
        int found = 0;
        for (int i = 0; fn_flags[i].name; i++)
            if (!strcasecmp(fn_flags[i].name, f)) {
                *flags |= fn_flags[i].flag;
                found = 1;
            }
        lua_pop(L, 1);
        if (!found) return -1;
    }
}

static int fn_register(lua_State *L) {
    cb_script_vm *vm = script_vm_current();
    fn_lib *lib = vm ? vm->fn_loading : NULL;
    if (!lib) return script_raise(L, "redis.register_function can only be called on FUNCTION LOAD command");
    int argc = lua_gettop(L);
    const char *name = NULL, *desc = NULL;
    size_t nlen = 0, dlen = 0;
    unsigned flags = 0;
    int cb = 0;
    if (argc < 1 || argc > 2) return script_raise(L, "wrong number of arguments to redis.register_function");
    if (argc == 1) {
        if (!lua_istable(L, 1))
            return script_raise(L, "calling redis.register_function with a single argument is only "
                                   "applicable to Lua table (representing named arguments).");
        lua_settop(L, 1);
        lua_newtable(L); /* index 2: holds what the loop found, alive */
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            int kt = lua_type(L, -2);
            if (kt != LUA_TSTRING && kt != LUA_TNUMBER)
                return script_raise(L, "named argument key given to redis.register_function is not a string");
            /* A number key never names an argument (and must not be
             * converted in place under lua_next). */
            const char *key = kt == LUA_TSTRING ? lua_tostring(L, -2) : "";
            int vt = lua_type(L, -1);
            if (!strcasecmp(key, "function_name")) {
                if (vt != LUA_TSTRING && vt != LUA_TNUMBER)
                    return script_raise(L, "function_name argument given to redis.register_function must be a string");
                name = lua_tolstring(L, -1, &nlen);
                lua_pushvalue(L, -1);
                lua_setfield(L, 2, "name");
            } else if (!strcasecmp(key, "description")) {
                if (vt != LUA_TSTRING && vt != LUA_TNUMBER)
                    return script_raise(L, "description argument given to redis.register_function must be a string");
                desc = lua_tolstring(L, -1, &dlen);
                lua_pushvalue(L, -1);
                lua_setfield(L, 2, "desc");
            } else if (!strcasecmp(key, "callback")) {
                if (vt != LUA_TFUNCTION)
                    return script_raise(L, "callback argument given to redis.register_function must be a function");
                cb = 1;
                lua_pushvalue(L, -1);
                lua_setfield(L, 2, "cb");
            } else if (!strcasecmp(key, "flags")) {
                if (vt != LUA_TTABLE)
                    return script_raise(L, "flags argument to redis.register_function must be a table representing function flags");
                if (read_flags(L, lua_gettop(L), &flags) < 0) return script_raise(L, "unknown flag given");
            } else {
                return script_raise(L, "unknown argument given to redis.register_function");
            }
            lua_pop(L, 1);
        }
        if (!name) return script_raise(L, "redis.register_function must get a function name argument");
        if (!cb) return script_raise(L, "redis.register_function must get a callback argument");
        lua_getfield(L, 2, "cb");
    } else {
        int t1 = lua_type(L, 1);
        if (t1 != LUA_TSTRING && t1 != LUA_TNUMBER)
            return script_raise(L, "first argument to redis.register_function must be a string");
        if (!lua_isfunction(L, 2))
            return script_raise(L, "second argument to redis.register_function must be a function");
        name = lua_tolstring(L, 1, &nlen);
        lua_pushvalue(L, 2);
    }
    int fn = lua_gettop(L);
    if (!valid_name(name, nlen))
        return script_raise(L, "Library names can only contain letters, numbers, or underscores(_) "
                               "and must be at least one character long");
    if (fn_lib_add_func(lib, name, nlen, desc, dlen, flags) < 0)
        return script_raise(L, "Function already exists in the library");
    lua_getfield(L, LUA_REGISTRYINDEX, REG_PENDING);
    lua_pushlstring(L, name, nlen);
    lua_pushvalue(L, fn);
    lua_rawset(L, -3);
    lua_pop(L, 2);
    return 0;
}

/* ------------------------------------------------------------ loading */

/* The environment proxy, made once per Lua state; pushes it. */
static void push_env(cb_script_vm *vm) {
    lua_State *L = vm->L;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ENV);
    if (!lua_isnil(L, -1)) return;
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->globals_ref);
    int real = lua_gettop(L);
    /* The load-time redis table: its entries come from the real one. */
    lua_newtable(L);
    int rt = lua_gettop(L);
    lua_pushcfunction(L, fn_register);
    lua_setfield(L, rt, "register_function");
    lua_getfield(L, real, "redis");
    static const char *const copied[] = {"log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE",
                                         "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM", NULL};
    for (int i = 0; copied[i]; i++) {
        lua_getfield(L, -1, copied[i]);
        lua_setfield(L, rt, copied[i]);
    }
    lua_pop(L, 1);
    lua_newtable(L); /* load-time globals */
    int lg = lua_gettop(L);
    push_proxy(L, rt, proxy_index, 0);
    lua_setfield(L, lg, "redis");
    push_proxy(L, lg, env_index, real);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_ENV);
    lua_replace(L, real);
    lua_settop(L, real);
}

#define LOAD_TIMEOUT_MS 500 /* as Redis: library code runs at most this long */
#define LOAD_HOOK_COUNT 100000

/* Count hook while a library's code runs: past the timeout, raise (and
 * keep raising on every line). */
static void load_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    cb_script_vm *vm = script_vm_current();
    if (!vm || !vm->fn_loading) return;
    if (util_mstime() - vm->fn_load_start_ms <= LOAD_TIMEOUT_MS) return;
    lua_sethook(L, load_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1);
    script_raise(L, "FUNCTION LOAD timeout");
}

static char *err_text(const char *pre, const char *msg, size_t ml) {
    size_t pl = strlen(pre);
    char *e = cb_malloc(pl + ml + 1);
    memcpy(e, pre, pl);
    memcpy(e + pl, msg, ml);
    e[pl + ml] = '\0';
    return e;
}

int fn_vm_load(cb_script_vm *vm, fn_lib *lib, int install, char **err) {
    lua_State *L = vm->L;
    int top = lua_gettop(L);
    *err = NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->globals_ref);
    lua_getfield(L, -1, "__redis__err__handler");
    lua_remove(L, -2);
    int eh = lua_gettop(L);
    /* The shebang line becomes a comment: line numbers stay Redis's. */
    char *src = cb_malloc(lib->codelen + 1);
    memcpy(src, lib->code, lib->codelen);
    if (lib->codelen >= 2 && src[0] == '#' && src[1] == '!') src[0] = src[1] = '-';
    int rc = luaL_loadbuffer(L, src, lib->codelen, "@user_function");
    cb_free(src);
    if (rc != 0) {
        size_t ml = 0;
        const char *m = lua_tolstring(L, -1, &ml);
        *err = err_text("Error compiling function: ", m ? m : "", m ? ml : 0);
        lua_settop(L, top);
        return -1;
    }
    push_env(vm);
    lua_setfenv(L, -2);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_PENDING);
    vm->fn_loading = lib;
    vm->fn_load_start_ms = util_mstime();
    lua_sethook(L, load_hook, LUA_MASKCOUNT, LOAD_HOOK_COUNT);
    rc = lua_pcall(L, 0, 0, eh);
    lua_sethook(L, NULL, 0, 0);
    vm->fn_loading = NULL;
    if (rc != 0) {
        const char *m = NULL;
        size_t ml = 0;
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            m = lua_tolstring(L, -1, &ml);
        } else {
            m = lua_tolstring(L, -1, &ml);
        }
        *err = err_text("Error registering functions: ", m ? m : "", m ? ml : 0);
        lua_settop(L, top);
        return -1;
    }
    if (lib->nfuncs == 0) {
        *err = err_text("No functions registered", "", 0);
        lua_settop(L, top);
        return -1;
    }
    if (install) {
        lua_getfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_setfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
        }
        lua_getfield(L, LUA_REGISTRYINDEX, REG_PENDING);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -5);
        }
    }
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_PENDING);
    lua_settop(L, top);
    return 0;
}

void fn_vm_sync(cb_script_vm *vm) {
    uint64_t gen = fn_registry_gen();
    if (vm->fn_gen == gen) return;
    int n;
    fn_lib **libs = fn_registry_snapshot(&n, &gen);
    lua_State *L = vm->L;
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
    for (int i = 0; i < n; i++) {
        fn_lib *fresh = fn_lib_new(libs[i]->name, strlen(libs[i]->name), libs[i]->code,
                                   libs[i]->codelen);
        char *err = NULL;
        /* It loaded once already; a failure now (out of memory) leaves the
         * library's functions missing in this VM only. */
        (void)fn_vm_load(vm, fresh, 1, &err);
        cb_free(err);
        fn_lib_free(fresh);
    }
    fn_snapshot_free(libs, n);
    vm->fn_gen = gen;
    lua_gc(L, LUA_GCCOLLECT, 0);
}

int fn_vm_push(cb_script_vm *vm, const char *name) {
    lua_getfield(vm->L, LUA_REGISTRYINDEX, REG_FUNCS);
    if (lua_isnil(vm->L, -1)) return 0;
    lua_getfield(vm->L, -1, name);
    lua_remove(vm->L, -2);
    if (lua_isfunction(vm->L, -1)) return 1;
    lua_pop(vm->L, 1);
    return 0;
}
