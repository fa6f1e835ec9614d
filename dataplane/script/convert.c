/* convert.c — the two conversions between RESP and Lua, with Redis 7.0's
 * rules.
 *
 * Reply -> Lua (what redis.call returns): integer -> number, bulk ->
 * string, null bulk / null array -> false (RESP2), array -> table, status
 * -> {ok=...}, error -> {err=...}; with redis.setresp(3) also map ->
 * {map={...}}, set -> {set={k=true}}, null -> nil, boolean, double ->
 * {double=n}, big number -> {big_number=s}, verbatim ->
 * {verbatim_string={format=..., string=...}}.
 *
 * Lua -> reply (what the script returns): string -> bulk, number ->
 * integer (truncated), boolean -> 1 / null (or a RESP3 boolean after
 * setresp(3)), table with err / ok / double / big_number / map / set /
 * verbatim_string -> that type, any other table -> array up to the first
 * nil, anything else -> null. The client's own protocol decides the bytes.
 */
#include "script_int.h"

#include <stdlib.h>
#include <string.h>

#include "../resp/reply.h"
#include "../../platform/mem.h"

/* ------------------------------------------------------- RESP -> Lua */

static const char *crlf(const char *p, const char *end) {
    const char *q = memchr(p, '\r', (size_t)(end - p));
    return (q && q + 1 < end) ? q : NULL;
}

static const char *parse_len(const char *p, const char *end, long long *n) {
    const char *e = crlf(p + 1, end);
    if (!e) return NULL;
    *n = strtoll(p + 1, NULL, 10);
    return e + 2;
}

static void set_field_from_top(lua_State *L, const char *name) {
    /* stack: ... value -> {name = value} */
    lua_newtable(L);
    lua_insert(L, -2);
    lua_setfield(L, -2, name);
}

const char *script_resp_to_lua(lua_State *L, const char *p, const char *end) {
    if (p >= end || !lua_checkstack(L, 6)) return NULL;
    long long n;
    const char *e;
    switch (*p) {
    case '+':
        if (!(e = crlf(p, end))) return NULL;
        lua_pushlstring(L, p + 1, (size_t)(e - p - 1));
        set_field_from_top(L, "ok");
        return e + 2;
    case '-':
        if (!(e = crlf(p, end))) return NULL;
        script_push_error(L, p, (size_t)(e - p));
        lua_pushboolean(L, 1); /* counted when the command replied it */
        lua_setfield(L, -2, "ignore_err_stats_update");
        return e + 2;
    case ':':
        if (!(p = parse_len(p, end, &n))) return NULL;
        lua_pushnumber(L, (lua_Number)n);
        return p;
    case '$':
    case '=':
        if (!(e = parse_len(p, end, &n))) return NULL;
        if (n < 0) {
            lua_pushboolean(L, 0);
            return e;
        }
        if (e + n + 2 > end) return NULL;
        if (*p == '$') {
            lua_pushlstring(L, e, (size_t)n);
        } else {
            lua_newtable(L);
            lua_pushlstring(L, e, n >= 3 ? 3 : (size_t)n);
            lua_setfield(L, -2, "format");
            lua_pushlstring(L, n > 4 ? e + 4 : e + n, n > 4 ? (size_t)n - 4 : 0);
            lua_setfield(L, -2, "string");
            set_field_from_top(L, "verbatim_string");
        }
        return e + n + 2;
    case '*':
    case '>':
        if (!(p = parse_len(p, end, &n))) return NULL;
        if (n < 0) {
            lua_pushboolean(L, 0);
            return p;
        }
        lua_createtable(L, (int)n, 0);
        for (long long i = 0; i < n; i++) {
            if (!(p = script_resp_to_lua(L, p, end))) return NULL;
            lua_rawseti(L, -2, (int)i + 1);
        }
        return p;
    case '%':
    case '~': {
        int is_map = *p == '%';
        if (!(p = parse_len(p, end, &n))) return NULL;
        lua_newtable(L);
        for (long long i = 0; i < n; i++) {
            if (!(p = script_resp_to_lua(L, p, end))) return NULL;
            if (is_map) {
                if (!(p = script_resp_to_lua(L, p, end))) return NULL;
            } else {
                lua_pushboolean(L, 1);
            }
            lua_settable(L, -3);
        }
        set_field_from_top(L, is_map ? "map" : "set");
        return p;
    }
    case '_':
        if (!(e = crlf(p, end))) return NULL;
        lua_pushnil(L);
        return e + 2;
    case '#':
        if (!(e = crlf(p, end))) return NULL;
        lua_pushboolean(L, p[1] == 't');
        return e + 2;
    case ',': {
        if (!(e = crlf(p, end))) return NULL;
        char buf[128];
        size_t l = (size_t)(e - p - 1);
        if (l >= sizeof(buf)) l = sizeof(buf) - 1;
        memcpy(buf, p + 1, l);
        buf[l] = '\0';
        lua_pushnumber(L, strtod(buf, NULL));
        set_field_from_top(L, "double");
        return e + 2;
    }
    case '(':
        if (!(e = crlf(p, end))) return NULL;
        lua_pushlstring(L, p + 1, (size_t)(e - p - 1));
        set_field_from_top(L, "big_number");
        return e + 2;
    case '|':
        /* Attributes are dropped: parse and discard, then the value. */
        if (!(p = parse_len(p, end, &n))) return NULL;
        for (long long i = 0; i < 2 * n; i++) {
            if (!(p = script_resp_to_lua(L, p, end))) return NULL;
            lua_pop(L, 1);
        }
        return script_resp_to_lua(L, p, end);
    default:
        return NULL;
    }
}

/* ------------------------------------------------------- Lua -> reply */

/* Status and big-number texts cannot hold CR or LF. */
static char *no_newlines(const char *s, size_t len) {
    char *m = cb_malloc(len + 1);
    for (size_t i = 0; i < len; i++) m[i] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    m[len] = '\0';
    return m;
}

/* Push t[name] (raw) for the table on top; returns its type. */
static int field(lua_State *L, const char *name) {
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    return lua_type(L, -1);
}

/* Whether t.name is true for the table just below the top (the top is
 * the err string being replied). */
static int field_true(lua_State *L, const char *name) {
    lua_getfield(L, -2, name);
    int b = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return b;
}

/* The map or set table on top of the stack (popped): pairs, or keys. */
static void mapset_to_reply(cb_client *c, lua_State *L, int lua_resp, int is_map) {
    void *h = reply_deferred_len(c);
    long n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        /* stack: inner key value; the key is copied so lua_next sees it intact */
        lua_pushvalue(L, -2);
        script_lua_to_reply(c, L, lua_resp);
        lua_pop(L, 1);
        if (is_map) script_lua_to_reply(c, L, lua_resp);
        lua_pop(L, 1);
        n++;
    }
    reply_set_deferred_len(c, h, n, is_map ? 'm' : 's');
    lua_pop(L, 1);
}

static void table_to_reply(cb_client *c, lua_State *L, int lua_resp) {
    size_t len;
    const char *s;
    if (field(L, "err") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &len);
        char *m = cb_malloc(len + 3);
        m[0] = '-';
        memcpy(m + 1, s, len);
        if (field_true(L, "ignore_err_stats_update")) {
            /* A command's error passed on: counted once, when it happened;
             * the script still counts as failed. */
            for (size_t i = 1; i <= len; i++)
                if (m[i] == '\r' || m[i] == '\n') m[i] = ' ';
            memcpy(m + len + 1, "\r\n", 2);
            reply_raw(c, m, len + 3);
            c->errors_seen++;
        } else {
            reply_error_len(c, m, len + 1);
        }
        cb_free(m);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (field(L, "ok") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &len);
        char *m = no_newlines(s, len);
        reply_status_len(c, m, len);
        cb_free(m);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (field(L, "double") == LUA_TNUMBER) {
        reply_double(c, (double)lua_tonumber(L, -1));
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (field(L, "big_number") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &len);
        char *m = no_newlines(s, len);
        if (c->resp >= 3) {
            reply_raw(c, "(", 1);
            reply_raw(c, m, len);
            reply_raw(c, "\r\n", 2);
        } else {
            reply_bulk(c, m, len);
        }
        cb_free(m);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (field(L, "map") == LUA_TTABLE) {
        mapset_to_reply(c, L, lua_resp, 1);
        return;
    }
    lua_pop(L, 1);
    if (field(L, "set") == LUA_TTABLE) {
        mapset_to_reply(c, L, lua_resp, 0);
        return;
    }
    lua_pop(L, 1);
    if (field(L, "verbatim_string") == LUA_TTABLE) {
        lua_getfield(L, -1, "format");
        lua_getfield(L, -2, "string");
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
            size_t fl;
            const char *f = lua_tolstring(L, -2, &fl);
            s = lua_tolstring(L, -1, &len);
            char ext[4] = {0};
            memcpy(ext, f, fl < 3 ? fl : 3);
            reply_verbatim(c, s, len, ext);
            lua_pop(L, 3);
            return;
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    /* An array, up to the first nil. */
    void *h = reply_deferred_len(c);
    long n = 0;
    for (;;) {
        lua_rawgeti(L, -1, (int)n + 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        script_lua_to_reply(c, L, lua_resp);
        lua_pop(L, 1);
        n++;
    }
    reply_set_deferred_len(c, h, n, 'a');
}

void script_lua_to_reply(cb_client *c, lua_State *L, int lua_resp) {
    /* Four slots are what a level needs (a map's table, key, value and a
     * copy of the key); asking for just that keeps the depth at which a
     * self-containing table stops the same as Redis's. */
    if (!lua_checkstack(L, 4)) {
        reply_error(c, "reached lua stack limit");
        return;
    }
    size_t len;
    const char *s;
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        s = lua_tolstring(L, -1, &len);
        reply_bulk(c, s, len);
        break;
    case LUA_TBOOLEAN:
        if (lua_resp == 2) {
            if (lua_toboolean(L, -1))
                reply_int(c, 1);
            else
                reply_null(c);
        } else {
            reply_bool(c, lua_toboolean(L, -1));
        }
        break;
    case LUA_TNUMBER:
        reply_int(c, (long long)lua_tonumber(L, -1));
        break;
    case LUA_TTABLE:
        table_to_reply(c, L, lua_resp);
        break;
    default:
        reply_null(c);
    }
}
