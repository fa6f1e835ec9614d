/* lua_cmsgpack.c — the `cmsgpack` library scripts expect (Redis 7.0 embeds
 * lua-cmsgpack 0.4.0; Debian packages none for Lua 5.1). Same API and the
 * same bytes: pack(...) -> one string with every argument encoded in turn,
 * unpack(s) -> every value in s, unpack_one(s [,offset]) and
 * unpack_limit(s, limit [,offset]) -> the next offset (-1 when s is used
 * up) followed by the values decoded.
 *
 * Encoding choices that decide the bytes, as that library makes them:
 * a number equal to an int64 is the smallest integer form, otherwise a
 * float32 when it survives the round trip, else a float64; a table whose
 * keys are exactly 1..n is an array, anything else a map in lua_next order;
 * tables nested 16 deep encode as nil; functions and other types are nil.
 */
#include <lauxlib.h>
#include <lua.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../../platform/mem.h"

#define MP_MAX_NESTING 16

/* ---------------------------------------------------------------- encode */

/* The packed bytes grow in a C buffer (nesting is at most 16 deep, so
 * nothing in the encoder raises a Lua error while it is held). */
typedef struct mp_buf {
    unsigned char *b;
    size_t len, cap;
} mp_buf;

static void buf_add(mp_buf *m, const void *p, size_t n) {
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 64;
        while (cap < m->len + n) cap *= 2;
        m->b = cb_realloc(m->b, cap);
        m->cap = cap;
    }
    memcpy(m->b + m->len, p, n);
    m->len += n;
}

static void buf_byte(mp_buf *m, unsigned char c) {
    buf_add(m, &c, 1);
}

static void put_be(mp_buf *m, unsigned char tag, uint64_t v, int nbytes) {
    unsigned char tmp[9];
    tmp[0] = tag;
    for (int i = 0; i < nbytes; i++) tmp[1 + i] = (unsigned char)(v >> (8 * (nbytes - 1 - i)));
    buf_add(m, tmp, 1 + (size_t)nbytes);
}

static void enc_int(mp_buf *b, int64_t n) {
    if (n >= 0) {
        if (n <= 127)
            buf_byte(b, (unsigned char)n);
        else if (n <= 0xff)
            put_be(b, 0xcc, (uint64_t)n, 1);
        else if (n <= 0xffff)
            put_be(b, 0xcd, (uint64_t)n, 2);
        else if (n <= 0xffffffffLL)
            put_be(b, 0xce, (uint64_t)n, 4);
        else
            put_be(b, 0xcf, (uint64_t)n, 8);
    } else {
        if (n >= -32)
            buf_byte(b, (unsigned char)(int8_t)n);
        else if (n >= -128)
            put_be(b, 0xd0, (uint64_t)n, 1);
        else if (n >= -32768)
            put_be(b, 0xd1, (uint64_t)n, 2);
        else if (n >= -2147483648LL)
            put_be(b, 0xd2, (uint64_t)n, 4);
        else
            put_be(b, 0xd3, (uint64_t)n, 8);
    }
}

static void enc_number(mp_buf *b, lua_Number d) {
    if (!isinf(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
        (lua_Number)(int64_t)d == d) {
        enc_int(b, (int64_t)d);
        return;
    }
    float f = (float)d;
    if ((double)f == d) {
        uint32_t u;
        memcpy(&u, &f, 4);
        put_be(b, 0xca, u, 4);
    } else {
        uint64_t u;
        memcpy(&u, &d, 8);
        put_be(b, 0xcb, u, 8);
    }
}

static void enc_string(mp_buf *b, const char *s, size_t len) {
    if (len < 32)
        buf_byte(b, (unsigned char)(0xa0 | len));
    else if (len <= 0xff)
        put_be(b, 0xd9, len, 1);
    else if (len <= 0xffff)
        put_be(b, 0xda, len, 2);
    else
        put_be(b, 0xdb, len, 4);
    buf_add(b, s, len);
}

/* Keys exactly 1..n (n may be 0). */
static int table_is_array(lua_State *L, int idx) {
    lua_Number max = 0;
    long long count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            lua_Number n = lua_tonumber(L, -1);
            if (n > 0 && n == floor(n)) {
                if (n > max) max = n;
                count++;
                continue;
            }
        }
        lua_pop(L, 1);
        return 0;
    }
    return max == (lua_Number)count;
}

static void enc_value(lua_State *L, mp_buf *b, int idx, int level);

static void enc_table(lua_State *L, mp_buf *b, int idx, int level) {
    if (table_is_array(L, idx)) {
        size_t n = lua_objlen(L, idx);
        if (n <= 15)
            buf_byte(b, (unsigned char)(0x90 | n));
        else if (n <= 0xffff)
            put_be(b, 0xdc, n, 2);
        else
            put_be(b, 0xdd, n, 4);
        for (size_t j = 1; j <= n; j++) {
            lua_rawgeti(L, idx, (int)j);
            enc_value(L, b, lua_gettop(L), level + 1);
            lua_pop(L, 1);
        }
        return;
    }
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
    }
    if (count <= 15)
        buf_byte(b, (unsigned char)(0x80 | count));
    else if (count <= 0xffff)
        put_be(b, 0xde, count, 2);
    else
        put_be(b, 0xdf, count, 4);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int v = lua_gettop(L);
        enc_value(L, b, v - 1, level + 1);
        enc_value(L, b, v, level + 1);
        lua_pop(L, 1);
    }
}

static void enc_value(lua_State *L, mp_buf *b, int idx, int level) {
    int t = lua_type(L, idx);
    if (t == LUA_TTABLE && level == MP_MAX_NESTING) t = LUA_TNIL;
    switch (t) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        enc_string(b, s, len);
        break;
    }
    case LUA_TBOOLEAN:
        buf_byte(b, lua_toboolean(L, idx) ? 0xc3 : 0xc2);
        break;
    case LUA_TNUMBER:
        enc_number(b, lua_tonumber(L, idx));
        break;
    case LUA_TTABLE:
        enc_table(L, b, idx, level);
        break;
    default:
        buf_byte(b, 0xc0);
        break;
    }
}

static int mp_pack(lua_State *L) {
    int nargs = lua_gettop(L);
    if (nargs == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
    /* Room for lua_next's key and value at every nesting level. */
    luaL_checkstack(L, 3 * (MP_MAX_NESTING + 2), "cmsgpack: too deep");
    mp_buf b = {NULL, 0, 0};
    for (int i = 1; i <= nargs; i++) enc_value(L, &b, i, 0);
    lua_pushlstring(L, (const char *)b.b, b.len);
    cb_free(b.b);
    return 1;
}

/* ---------------------------------------------------------------- decode */

enum { MP_OK = 0, MP_EOF = 1, MP_BADFMT = 2 };

typedef struct mp_cur {
    const unsigned char *p;
    size_t left;
    int err;
} mp_cur;

static int need(mp_cur *c, size_t n) {
    if (c->left < n) {
        c->err = MP_EOF;
        return 0;
    }
    return 1;
}

static uint64_t get_be(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

static void dec_value(lua_State *L, mp_cur *c);

static void dec_array(lua_State *L, mp_cur *c, size_t n) {
    luaL_checkstack(L, 2, "cmsgpack: too deep");
    lua_newtable(L);
    for (size_t j = 1; j <= n; j++) {
        dec_value(L, c);
        if (c->err) return;
        lua_rawseti(L, -2, (int)j);
    }
}

static void dec_map(lua_State *L, mp_cur *c, size_t n) {
    luaL_checkstack(L, 3, "cmsgpack: too deep");
    lua_newtable(L);
    for (size_t j = 0; j < n; j++) {
        dec_value(L, c);
        if (c->err) return;
        dec_value(L, c);
        if (c->err) return;
        lua_settable(L, -3);
    }
}

/* Reads a length of nbytes after the tag byte, then the payload. */
static void dec_lenprefixed(lua_State *L, mp_cur *c, int nbytes, int kind) {
    if (!need(c, 1 + (size_t)nbytes)) return;
    size_t n = (size_t)get_be(c->p + 1, nbytes);
    c->p += 1 + nbytes;
    c->left -= 1 + (size_t)nbytes;
    if (kind == 's') {
        if (!need(c, n)) return;
        lua_pushlstring(L, (const char *)c->p, n);
        c->p += n;
        c->left -= n;
    } else if (kind == 'a') {
        dec_array(L, c, n);
    } else {
        dec_map(L, c, n);
    }
}

static void dec_fixed(lua_State *L, mp_cur *c, int nbytes, int kind) {
    if (!need(c, 1 + (size_t)nbytes)) return;
    uint64_t v = get_be(c->p + 1, nbytes);
    c->p += 1 + nbytes;
    c->left -= 1 + (size_t)nbytes;
    switch (kind) {
    case 'u':
        lua_pushnumber(L, (lua_Number)v);
        break;
    case 'i': {
        int shift = 64 - 8 * nbytes;
        int64_t s = (int64_t)(v << shift) >> shift;
        lua_pushnumber(L, (lua_Number)s);
        break;
    }
    case 'f': {
        uint32_t u = (uint32_t)v;
        float f;
        memcpy(&f, &u, 4);
        lua_pushnumber(L, (lua_Number)f);
        break;
    }
    default: {
        double d;
        memcpy(&d, &v, 8);
        lua_pushnumber(L, (lua_Number)d);
        break;
    }
    }
}

static void dec_value(lua_State *L, mp_cur *c) {
    if (!need(c, 1)) return;
    luaL_checkstack(L, 1, "cmsgpack: too deep");
    unsigned char tag = c->p[0];
    switch (tag) {
    case 0xcc: dec_fixed(L, c, 1, 'u'); return;
    case 0xcd: dec_fixed(L, c, 2, 'u'); return;
    case 0xce: dec_fixed(L, c, 4, 'u'); return;
    case 0xcf: dec_fixed(L, c, 8, 'u'); return;
    case 0xd0: dec_fixed(L, c, 1, 'i'); return;
    case 0xd1: dec_fixed(L, c, 2, 'i'); return;
    case 0xd2: dec_fixed(L, c, 4, 'i'); return;
    case 0xd3: dec_fixed(L, c, 8, 'i'); return;
    case 0xca: dec_fixed(L, c, 4, 'f'); return;
    case 0xcb: dec_fixed(L, c, 8, 'd'); return;
    case 0xc0: lua_pushnil(L); break;
    case 0xc2: lua_pushboolean(L, 0); break;
    case 0xc3: lua_pushboolean(L, 1); break;
    case 0xd9: dec_lenprefixed(L, c, 1, 's'); return;
    case 0xda: dec_lenprefixed(L, c, 2, 's'); return;
    case 0xdb: dec_lenprefixed(L, c, 4, 's'); return;
    case 0xdc: dec_lenprefixed(L, c, 2, 'a'); return;
    case 0xdd: dec_lenprefixed(L, c, 4, 'a'); return;
    case 0xde: dec_lenprefixed(L, c, 2, 'm'); return;
    case 0xdf: dec_lenprefixed(L, c, 4, 'm'); return;
    default:
        if (tag <= 0x7f) {
            lua_pushnumber(L, tag);
        } else if (tag >= 0xe0) {
            lua_pushnumber(L, (int8_t)tag);
        } else if ((tag & 0xe0) == 0xa0) {
            size_t n = tag & 0x1f;
            c->p++;
            c->left--;
            if (!need(c, n)) return;
            lua_pushlstring(L, (const char *)c->p, n);
            c->p += n;
            c->left -= n;
            return;
        } else if ((tag & 0xf0) == 0x90) {
            c->p++;
            c->left--;
            dec_array(L, c, tag & 0x0f);
            return;
        } else if ((tag & 0xf0) == 0x80) {
            c->p++;
            c->left--;
            dec_map(L, c, tag & 0x0f);
            return;
        } else {
            c->err = MP_BADFMT;
            return;
        }
        break;
    }
    c->p++;
    c->left--;
}

static int unpack_full(lua_State *L, int limit, int offset) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int all = limit == 0 && offset == 0;
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.", offset,
                          (int)len);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", offset, (int)len);
    if (all) limit = INT_MAX;
    mp_cur c = {(const unsigned char *)s + offset, len - (size_t)offset, MP_OK};
    int cnt;
    for (cnt = 0; c.left > 0 && cnt < limit; cnt++) {
        dec_value(L, &c);
        if (c.err == MP_EOF) return luaL_error(L, "Missing bytes in input.");
        if (c.err == MP_BADFMT) return luaL_error(L, "Bad data format in input.");
    }
    if (!all) {
        luaL_checkstack(L, 1, "in function mp_unpack_full");
        lua_pushinteger(L, c.left == 0 ? -1 : (lua_Integer)(len - c.left));
        lua_insert(L, 2);
        cnt++;
    }
    return cnt;
}

static int mp_unpack(lua_State *L) {
    return unpack_full(L, 0, 0);
}

static int mp_unpack_one(lua_State *L) {
    int offset = (int)luaL_optinteger(L, 2, 0);
    lua_pop(L, lua_gettop(L) - 1);
    return unpack_full(L, 1, offset);
}

static int mp_unpack_limit(lua_State *L) {
    int limit = (int)luaL_checkinteger(L, 2);
    int offset = (int)luaL_optinteger(L, 3, 0);
    lua_pop(L, lua_gettop(L) - 1);
    return unpack_full(L, limit, offset);
}

int luaopen_cmsgpack(lua_State *L);

int luaopen_cmsgpack(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"pack", mp_pack},
        {"unpack", mp_unpack},
        {"unpack_one", mp_unpack_one},
        {"unpack_limit", mp_unpack_limit},
        {NULL, NULL},
    };
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    lua_pushliteral(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, "lua-cmsgpack 0.4.0");
    lua_setfield(L, -2, "_VERSION");
    lua_pushliteral(L, "Copyright (C) 2012, Salvatore Sanfilippo");
    lua_setfield(L, -2, "_COPYRIGHT");
    lua_pushliteral(L, "MessagePack C implementation for Lua");
    lua_setfield(L, -2, "_DESCRIPTION");
    return 1;
}
