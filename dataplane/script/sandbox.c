/* sandbox.c — what keeps scripts from changing the VM that later scripts
 * run in. Stock Lua 5.1 has no read-only tables (Redis patches its Lua for
 * them), so the globals and the libraries are proxies: empty tables whose
 * metatable reads through to the real table (the "backing") and refuses
 * writes. The raw functions that would go around a metatable are wrapped:
 *
 *   rawset, setmetatable,  refuse a proxy ("Attempt to modify a readonly table")
 *   table.insert/remove/sort
 *   rawget, next, pairs, ipairs   read the backing, so scripts still see the
 *                          names a proxy stands for, as with Redis
 *   getmetatable           a proxy's visible metatable (none for a library,
 *                          a read-only copy for _G and the string metatable)
 *   loadstring, load       compile text only: bytecode could escape the VM
 *                          (Redis refuses it the same way, with the lexer's error)
 *
 * The registry maps each proxy to its backing (__cb_ro) and to the
 * metatable getmetatable shows for it (__cb_ro_mt).
 */
#include "script_int.h"

#include <lauxlib.h>
#include <string.h>

#include "../../platform/mem.h"

#define RO_KEY "__cb_ro"
#define RO_MT_KEY "__cb_ro_mt"
#define STRING_MT_KEY "__cb_string_mt" /* what getmetatable("") shows */

/* Push the backing table of the proxy at idx and return 1, or return 0. */
static int push_backing(lua_State *L, int idx) {
    if (!lua_istable(L, idx)) return 0;
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    lua_getfield(L, LUA_REGISTRYINDEX, RO_KEY);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

/* Raised without a position, as Redis's read-only tables do for raw access. */
static int readonly_error(lua_State *L) {
    lua_pushliteral(L, "Attempt to modify a readonly table");
    return lua_error(L);
}

static int ro_newindex(lua_State *L) { return luaL_error(L, "Attempt to modify a readonly table"); }

/* Call the original function (upvalue 1) with the current arguments. */
static int call_original(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* Replace argument 1 by its backing table when it is a proxy. */
static void unproxy_arg1(lua_State *L) {
    if (push_backing(L, 1)) lua_replace(L, 1);
}

static int l_rawset(lua_State *L) {
    if (push_backing(L, 1)) return readonly_error(L);
    return call_original(L);
}

static int l_setmetatable(lua_State *L) {
    if (push_backing(L, 1)) return readonly_error(L);
    return call_original(L);
}

static int l_getmetatable(lua_State *L) {
    if (lua_type(L, 1) == LUA_TSTRING) {
        lua_getfield(L, LUA_REGISTRYINDEX, STRING_MT_KEY);
        return 1;
    }
    if (push_backing(L, 1)) {
        lua_pop(L, 1);
        lua_getfield(L, LUA_REGISTRYINDEX, RO_MT_KEY);
        lua_pushvalue(L, 1);
        lua_rawget(L, -2);
        return 1;
    }
    return call_original(L);
}

/* table.insert writes raw: refuse a proxy. */
static int l_table_insert(lua_State *L) {
    if (push_backing(L, 1)) return readonly_error(L);
    return call_original(L);
}

/* table.remove / sort write raw too, but not for an empty array (a
 * library's), where they do nothing. */
static int l_table_rewrite(lua_State *L) {
    if (push_backing(L, 1)) {
        size_t n = lua_objlen(L, -1);
        lua_pop(L, 1);
        if (n == 0) return 0;
        return readonly_error(L);
    }
    return call_original(L);
}

static int l_unproxied(lua_State *L) {
    unproxy_arg1(L);
    return call_original(L);
}

/* pairs(t): the wrapped next (upvalue 1), t, nil. */
static int l_pairs(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Compile text: a chunk that starts like bytecode is handed to the lexer
 * (one leading space forces text mode), which refuses it. */
static int load_text(lua_State *L, const char *s, size_t len, const char *name) {
    int rc;
    if (len && s[0] == LUA_SIGNATURE[0]) {
        char *buf = cb_malloc(len + 1);
        buf[0] = ' ';
        memcpy(buf + 1, s, len);
        rc = luaL_loadbuffer(L, buf, len + 1, name);
        cb_free(buf);
    } else {
        rc = luaL_loadbuffer(L, s, len, name);
    }
    if (rc == 0) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

static int l_loadstring(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, s);
    return load_text(L, s, len, name);
}

static int l_load(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *name = luaL_optstring(L, 2, "=(load)");
    luaL_Buffer b;
    lua_settop(L, 2);
    luaL_buffinit(L, &b);
    for (;;) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1)) {
            lua_pop(L, 1);
            luaL_pushresult(&b);
            lua_pushnil(L);
            lua_pushliteral(L, "reader function must return a string");
            return 2;
        }
        size_t l;
        lua_tolstring(L, -1, &l);
        if (l == 0) {
            lua_pop(L, 1);
            break;
        }
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    return load_text(L, s, len, name);
}

/* Wrap global `name` with fn, the original as upvalue 1. */
static void wrap(lua_State *L, int real, const char *name, lua_CFunction fn) {
    lua_getfield(L, real, name);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, real, name);
}

/* A read-only proxy for the table at idx, recorded in the registry with
 * the metatable getmetatable shows for it (the value on top of the stack,
 * popped; nil for none). Leaves the proxy on the stack. */
static void push_proxy(lua_State *L, int idx) {
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    int visible = lua_gettop(L);
    lua_newtable(L);                 /* proxy */
    lua_newtable(L);                 /* its metatable */
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, RO_KEY);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, idx);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, RO_MT_KEY);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, visible);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_remove(L, visible);
}

/* The two registry maps, created on first use. */
static void ensure_registry(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, RO_KEY);
    int have = lua_istable(L, -1);
    lua_pop(L, 1);
    if (have) return;
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, RO_KEY);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, RO_MT_KEY);
}

void script_sandbox_protect_lib(lua_State *L, int real, const char *name) {
    ensure_registry(L);
    lua_getfield(L, real, name);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_pushnil(L);                  /* a library shows no metatable */
    push_proxy(L, -2);
    lua_setfield(L, real, name);
    lua_pop(L, 1);
}

void script_sandbox_install(lua_State *L, int real, lua_CFunction globals_index) {
    ensure_registry(L);

    wrap(L, real, "rawset", l_rawset);
    wrap(L, real, "setmetatable", l_setmetatable);
    wrap(L, real, "getmetatable", l_getmetatable);
    wrap(L, real, "rawget", l_unproxied);
    wrap(L, real, "ipairs", l_unproxied);
    wrap(L, real, "next", l_unproxied);
    lua_getfield(L, real, "next");
    lua_pushcclosure(L, l_pairs, 1);
    lua_setfield(L, real, "pairs");
    lua_getfield(L, real, "table");
    if (push_backing(L, -1)) {
        int tbl = lua_gettop(L);
        wrap(L, tbl, "insert", l_table_insert);
        wrap(L, tbl, "remove", l_table_rewrite);
        wrap(L, tbl, "sort", l_table_rewrite);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_loadstring);
    lua_setfield(L, real, "loadstring");
    lua_pushcfunction(L, l_load);
    lua_setfield(L, real, "load");

    /* Strings: their metatable shows as a read-only copy, and its __index
     * is the read-only string library. */
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        int smt = lua_gettop(L);
        lua_getfield(L, real, "string");
        lua_setfield(L, smt, "__index");
        lua_pushnil(L);
        push_proxy(L, smt);
        lua_setfield(L, LUA_REGISTRYINDEX, STRING_MT_KEY);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    /* The globals: names that do not exist raise, writes raise; the
     * metatable shows as a read-only copy. */
    lua_newtable(L);                          /* the real metatable */
    int mt = lua_gettop(L);
    lua_pushvalue(L, real);
    lua_pushcclosure(L, globals_index, 1);
    lua_setfield(L, mt, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, mt, "__newindex");
    lua_pushnil(L);
    push_proxy(L, mt);                        /* what getmetatable(_G) shows */
    lua_newtable(L);                          /* the globals proxy */
    int g = lua_gettop(L);
    lua_pushvalue(L, mt);
    lua_setmetatable(L, g);
    lua_pushvalue(L, g - 1);
    lua_setfield(L, mt, "__metatable");
    lua_getfield(L, LUA_REGISTRYINDEX, RO_KEY);
    lua_pushvalue(L, g);
    lua_pushvalue(L, real);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, RO_MT_KEY);
    lua_pushvalue(L, g);
    lua_pushvalue(L, g - 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_pushvalue(L, g);
    lua_setfield(L, real, "_G");
    lua_pushvalue(L, g);
    lua_replace(L, LUA_GLOBALSINDEX);
    lua_settop(L, mt - 1);
}
