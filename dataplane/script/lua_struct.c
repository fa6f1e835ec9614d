/* lua_struct.c — the `struct` library scripts expect (Redis 7.0 embeds
 * Roberto Ierusalimschy's struct 0.2 with its bounds fixes; Debian packages
 * none for Lua 5.1): struct.pack(fmt, ...), struct.unpack(fmt, s [,pos]),
 * struct.size(fmt), with the same bytes and the same error texts.
 *
 * Format: '>' big, '<' little endian (native by default); '!'[n] maximum alignment
 * (default 8); 'x' a zero byte; b/B h/H l/L T i/I[n] integers (signed when
 * lower case; i/I take 1..32 bytes); f d floats; 's' a zero-terminated
 * string; 'c'[n] n bytes ('c0' packs the whole string; unpacks the length
 * the previous item read); ' ' is ignored. Fields align to min(size, max
 * alignment), which starts at 1.
 *
 * Quirks kept because the bytes depend on them: integers go through a
 * 64-bit value, so bytes past the eighth are zero when packing and lost
 * when unpacking; size() ignores unknown letters.
 */
#include <ctype.h>
#include <lauxlib.h>
#include <lua.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ST_MAXINTSIZE 32
#define ST_MAXALIGN 8 /* offset of a double after a char */

enum { ST_BIG = 0, ST_LITTLE = 1 };

typedef struct st_header {
    int endian;
    int align;
} st_header;

static int native_endian(void) {
    const uint16_t one = 1;
    return *(const unsigned char *)&one ? ST_LITTLE : ST_BIG;
}

static int getnum(lua_State *L, const char **fmt, int df) {
    if (!isdigit((unsigned char)**fmt)) return df;
    int a = 0;
    do {
        int d = **fmt - '0';
        if (a > INT_MAX / 10 || a * 10 > INT_MAX - d) luaL_error(L, "integral size overflow");
        a = a * 10 + d;
        (*fmt)++;
    } while (isdigit((unsigned char)**fmt));
    return a;
}

static size_t optsize(lua_State *L, int opt, const char **fmt) {
    switch (opt) {
    case 'B': case 'b': return sizeof(char);
    case 'H': case 'h': return sizeof(short);
    case 'L': case 'l': return sizeof(long);
    case 'T': return sizeof(size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'x': return 1;
    case 'c': return (size_t)getnum(L, fmt, 1);
    case 'i': case 'I': {
        int sz = getnum(L, fmt, sizeof(int));
        if (sz > ST_MAXINTSIZE)
            luaL_error(L, "integral size %d is larger than limit of %d", sz, ST_MAXINTSIZE);
        return (size_t)sz;
    }
    default: return 0;
    }
}

/* Padding before a field of `size` at offset len. */
static size_t gettoalign(size_t len, const st_header *h, int opt, size_t size) {
    if (size == 0 || opt == 'c') return 0;
    if (size > (size_t)h->align) size = (size_t)h->align;
    return (size - (len & (size - 1))) & (size - 1);
}

static void controloptions(lua_State *L, int opt, const char **fmt, st_header *h) {
    switch (opt) {
    case ' ': return;
    case '>': h->endian = ST_BIG; return;
    case '<': h->endian = ST_LITTLE; return;
    case '!': {
        int a = getnum(L, fmt, ST_MAXALIGN);
        if (a <= 0 || (a & (a - 1)) != 0) luaL_error(L, "alignment %d is not a power of 2", a);
        h->align = a;
        return;
    }
    default: {
        const char *msg = lua_pushfstring(L, "invalid format option '%c'", opt);
        luaL_argerror(L, 1, msg);
    }
    }
}

static void defaults(st_header *h) {
    h->endian = native_endian();
    h->align = 1;
}

static void putinteger(lua_State *L, luaL_Buffer *b, int arg, int endian, int size) {
    lua_Number n = luaL_checknumber(L, arg);
    uint64_t value = n < 0 ? (uint64_t)(int64_t)n : (uint64_t)n;
    char buff[ST_MAXINTSIZE];
    for (int i = 0; i < size; i++) {
        int at = endian == ST_LITTLE ? i : size - 1 - i;
        buff[at] = (char)(value & 0xff);
        value >>= 8;
    }
    luaL_addlstring(b, buff, (size_t)size);
}

static void correctbytes(char *b, size_t size, int endian) {
    if (endian == native_endian()) return;
    for (size_t i = 0, j = size - 1; i < j; i++, j--) {
        char t = b[i];
        b[i] = b[j];
        b[j] = t;
    }
}

static int st_pack(lua_State *L) {
    const char *fmt = luaL_checkstring(L, 1);
    st_header h;
    int arg = 2;
    size_t total = 0;
    defaults(&h);
    lua_pushnil(L); /* separates the arguments from the buffer's pieces */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    while (*fmt) {
        int opt = *fmt++;
        size_t size = optsize(L, opt, &fmt);
        size_t pad = gettoalign(total, &h, opt, size);
        total += pad;
        while (pad-- > 0) luaL_addchar(&b, '\0');
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
            putinteger(L, &b, arg++, h.endian, (int)size);
            break;
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            correctbytes((char *)&f, size, h.endian);
            luaL_addlstring(&b, (char *)&f, size);
            break;
        }
        case 'd': {
            double d = luaL_checknumber(L, arg++);
            correctbytes((char *)&d, size, h.endian);
            luaL_addlstring(&b, (char *)&d, size);
            break;
        }
        case 'c': case 's': {
            size_t l;
            const char *s = luaL_checklstring(L, arg++, &l);
            if (size == 0) size = l;
            /* The argument number reported is the next one, as struct 0.2. */
            luaL_argcheck(L, l >= size, arg, "string too short");
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        }
        default:
            controloptions(L, opt, &fmt, &h);
        }
        total += size;
    }
    luaL_pushresult(&b);
    return 1;
}

static lua_Number getinteger(const char *buff, int endian, int issigned, int size) {
    uint64_t l = 0;
    for (int i = 0; i < size; i++) {
        int at = endian == ST_BIG ? i : size - 1 - i;
        l = (l << 8) | (unsigned char)buff[at];
    }
    if (!issigned) return (lua_Number)l;
    /* The shift count wraps at 64 as it does on x86 for wide sizes. */
    uint64_t mask = ~(uint64_t)0 << ((size * 8 - 1) & 63);
    if (l & mask) l |= mask;
    return (lua_Number)(int64_t)l;
}

static int st_unpack(lua_State *L) {
    st_header h;
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const char *data = luaL_checklstring(L, 2, &ld);
    /* A negative offset wraps to a huge one and fails as "too short". */
    size_t pos = (size_t)luaL_optinteger(L, 3, 1);
    int n = 0;
    luaL_argcheck(L, pos > 0, 3, "offset must be 1 or greater");
    pos--;
    defaults(&h);
    while (*fmt) {
        int opt = *fmt++;
        size_t size = optsize(L, opt, &fmt);
        pos += gettoalign(pos, &h, opt, size);
        luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
            lua_pushnumber(L, getinteger(data + pos, h.endian, islower(opt), (int)size));
            n++;
            break;
        case 'x':
            break;
        case 'f': {
            float f;
            memcpy(&f, data + pos, size);
            correctbytes((char *)&f, sizeof(f), h.endian);
            lua_pushnumber(L, f);
            n++;
            break;
        }
        case 'd': {
            double d;
            memcpy(&d, data + pos, size);
            correctbytes((char *)&d, sizeof(d), h.endian);
            lua_pushnumber(L, d);
            n++;
            break;
        }
        case 'c':
            if (size == 0) {
                if (n == 0 || !lua_isnumber(L, -1)) luaL_error(L, "format 'c0' needs a previous size");
                size = (size_t)lua_tonumber(L, -1);
                lua_pop(L, 1);
                n--;
                luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
            }
            lua_pushlstring(L, data + pos, size);
            n++;
            break;
        case 's': {
            const char *e = memchr(data + pos, '\0', ld - pos);
            if (!e) luaL_error(L, "unfinished string in data");
            size = (size_t)(e - (data + pos)) + 1;
            lua_pushlstring(L, data + pos, size - 1);
            n++;
            break;
        }
        default:
            controloptions(L, opt, &fmt, &h);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos + 1);
    return n + 1;
}

static int st_size(lua_State *L) {
    st_header h;
    const char *fmt = luaL_checkstring(L, 1);
    size_t pos = 0;
    defaults(&h);
    while (*fmt) {
        int opt = *fmt++;
        size_t size = optsize(L, opt, &fmt);
        pos += gettoalign(pos, &h, opt, size);
        if (opt == 's')
            luaL_argerror(L, 1, "option 's' has no fixed size");
        else if (opt == 'c' && size == 0)
            luaL_argerror(L, 1, "option 'c0' has no fixed size");
        if (!isalnum(opt)) controloptions(L, opt, &fmt, &h);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int luaopen_struct(lua_State *L);

int luaopen_struct(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"pack", st_pack},
        {"unpack", st_unpack},
        {"size", st_size},
        {NULL, NULL},
    };
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    return 1;
}
