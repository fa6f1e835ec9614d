/* ldb.c — the Lua debugger that `redis-cli --ldb` speaks (SCRIPT DEBUG
 * YES|SYNC, then EVAL), with Redis 7.0's protocol and texts.
 *
 * Call order: SCRIPT DEBUG sets the client's mode (cmd_script.c); its next
 * EVAL starts a session (ldb_start), the script runs under ldb_hook (a
 * line + count hook), which stops at steps and breakpoints and runs the
 * debugger's commands read straight from the client's connection (ldb_repl);
 * after the script, ldb_end sends "<endsession>" and the client is closed
 * once its reply is out. Every batch of debugger output is one RESP array
 * of status lines, written at once (blocking, as Redis does). The session
 * reads and writes through its plane's transport (ldb_io.h): the client's
 * socket on the kernel plane, a tap on its connection on the DPDK plane.
 *
 * Redis forks for SCRIPT DEBUG YES so that the session's writes vanish with
 * the child. We never fork (docs/scripting.md says why), so both modes run
 * the session on the worker, and a YES session keeps an undo log instead:
 * before each write command the script runs, the keys it names are saved
 * (DUMP payload and deadline, or "absent"), and after the script they are
 * put back through RESTORE / DEL on the script client, so the AOF and
 * other workers see a consistent history.
 */
#include "script_int.h"

#include <ctype.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../cmd/command.h"
#include "../ldb_io.h"
#include "../worker.h"
#include "../../persist/rdb.h"
#include "../../platform/config.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"
#include "../../store/db.h"
#include "../../store/ds/cbstr.h"

#define LDB_BREAKPOINTS_MAX 64
#define LDB_MAXLEN_DEFAULT 256
#define LDB_MAX_DEPTH 10 /* nesting shown before giving up, as Redis 7.0 */
#define LDB_READ_WAIT_MS 100 /* how often a waiting session looks at shutdown */

/* A growable byte string. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_cat(sbuf *b, const void *p, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        b->p = cb_realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_cat(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(tmp)) {
        sb_cat(b, tmp, (size_t)n);
        return;
    }
    char *big = cb_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_cat(b, big, (size_t)n);
    cb_free(big);
}

/* Bytes quoted as Redis's sdscatrepr quotes them. */
static void sb_repr(sbuf *b, const char *s, size_t n) {
    sb_cat(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '\\': sb_cat(b, "\\\\", 2); break;
        case '"': sb_cat(b, "\\\"", 2); break;
        case '\n': sb_cat(b, "\\n", 2); break;
        case '\r': sb_cat(b, "\\r", 2); break;
        case '\t': sb_cat(b, "\\t", 2); break;
        case '\a': sb_cat(b, "\\a", 2); break;
        case '\b': sb_cat(b, "\\b", 2); break;
        default:
            if (ch >= 32 && ch < 127) sb_cat(b, &ch, 1);
            else sb_printf(b, "\\x%02x", ch);
        }
    }
    sb_cat(b, "\"", 1);
}

/* A saved key of a YES session (undo log). */
typedef struct {
    int dbid;
    char *key;
    size_t klen;
    cbstr payload;          /* NULL: the key did not exist */
    long long expire_ms;    /* -1: no deadline */
} ldb_saved;

struct cb_ldb {
    cb_client *c;
    ldb_io *io;
    int forked;              /* SCRIPT DEBUG YES: roll back at the end */
    sbuf *logs;              /* lines waiting to be sent */
    int nlogs, logcap;
    int bp[LDB_BREAKPOINTS_MAX];
    int bpcount;
    int step;                /* stop at the next line */
    int luabp;               /* redis.breakpoint() was called */
    char *src;               /* the script, lines split in place */
    char **lines;
    int nlines;
    int currentline;
    sbuf cbuf;               /* debugger input not parsed yet */
    size_t maxlen;
    int maxlen_hint_sent;
    long long time_start;    /* for the "infinite loop?" stop */
    ldb_saved *saved;
    int nsaved, savedcap;
};

/* ------------------------------------------------------------------ logs */

static void ldb_log_sb(cb_ldb *d, sbuf *line) {
    if (d->nlogs == d->logcap) {
        d->logcap = d->logcap ? d->logcap * 2 : 32;
        d->logs = cb_realloc(d->logs, sizeof(sbuf) * (size_t)d->logcap);
    }
    if (!line->p) sb_cat(line, "", 0);
    d->logs[d->nlogs++] = *line;
}

static void ldb_log(cb_ldb *d, const char *s) {
    sbuf b = {0};
    sb_str(&b, s);
    ldb_log_sb(d, &b);
}

/* Logs a reply or value, cut at maxlen (with a hint the first time). */
static void ldb_log_maxlen(cb_ldb *d, sbuf *line) {
    int trimmed = 0;
    if (d->maxlen && line->len > d->maxlen) {
        line->len = d->maxlen;
        line->p[line->len] = '\0';
        sb_cat(line, " ...", 4);
        trimmed = 1;
    }
    ldb_log_sb(d, line);
    if (trimmed && !d->maxlen_hint_sent) {
        d->maxlen_hint_sent = 1;
        ldb_log(d, "<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming.");
    }
}

/* Sends the waiting lines as one array of status replies. */
static void ldb_send_logs(cb_ldb *d) {
    sbuf out = {0};
    sb_printf(&out, "*%d\r\n", d->nlogs);
    for (int i = 0; i < d->nlogs; i++) {
        sbuf *l = &d->logs[i];
        for (size_t j = 0; j < l->len; j++)
            if (l->p[j] == '\r' || l->p[j] == '\n') l->p[j] = ' ';
        sb_cat(&out, "+", 1);
        sb_cat(&out, l->p, l->len);
        sb_cat(&out, "\r\n", 2);
        cb_free(l->p);
    }
    d->nlogs = 0;
    ldb_io_write(d->io, out.p, out.len); /* a gone client ends the session later */
    cb_free(out.p);
}

/* ---------------------------------------------------------------- source */

static const char *source_line(cb_ldb *d, int line) {
    if (line < 1 || line > d->nlines) return "<out of range source code line>";
    return d->lines[line - 1];
}

static int is_breakpoint(cb_ldb *d, int line) {
    for (int i = 0; i < d->bpcount; i++)
        if (d->bp[i] == line) return 1;
    return 0;
}

static void log_source_line(cb_ldb *d, int line) {
    int bp = is_breakpoint(d, line), cur = d->currentline == line;
    const char *prefix = cur && bp ? "->#" : cur ? "-> " : bp ? "  #" : "   ";
    sbuf b = {0};
    sb_printf(&b, "%s%-3d %s", prefix, line, source_line(d, line));
    ldb_log_sb(d, &b);
}

static void ldb_list(cb_ldb *d, int around, int context) {
    for (int j = 1; j <= d->nlines; j++) {
        if (around != 0 && abs(around - j) > context) continue;
        log_source_line(d, j);
    }
}

/* ---------------------------------------------------------------- values */

static void cat_value(sbuf *b, lua_State *L, int idx, int level) {
    if (level++ == LDB_MAX_DEPTH) {
        sb_str(b, "<max recursion level reached! Nested table?>");
        return;
    }
    if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1;
    int t = lua_type(L, idx);
    switch (t) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        sb_repr(b, s, n);
        break;
    }
    case LUA_TBOOLEAN: sb_str(b, lua_toboolean(L, idx) ? "true" : "false"); break;
    case LUA_TNUMBER: sb_printf(b, "%g", (double)lua_tonumber(L, idx)); break;
    case LUA_TNIL: sb_str(b, "nil"); break;
    case LUA_TTABLE: {
        /* Shown as an array when its keys are exactly 1..n in order. */
        sbuf arr = {0}, map = {0};
        int is_array = 1, expected = 1;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            if (is_array && (lua_type(L, -2) != LUA_TNUMBER || lua_tonumber(L, -2) != expected))
                is_array = 0;
            cat_value(&arr, L, -1, level);
            sb_cat(&arr, "; ", 2);
            sb_cat(&map, "[", 1);
            cat_value(&map, L, -2, level);
            sb_cat(&map, "]=", 2);
            cat_value(&map, L, -1, level);
            sb_cat(&map, "; ", 2);
            lua_pop(L, 1);
            expected++;
        }
        sbuf *use = is_array ? &arr : &map;
        if (use->len >= 2) use->len -= 2;
        sb_cat(b, "{", 1);
        if (use->len) sb_cat(b, use->p, use->len);
        sb_cat(b, "}", 1);
        cb_free(arr.p);
        cb_free(map.p);
        break;
    }
    case LUA_TFUNCTION:
    case LUA_TUSERDATA:
    case LUA_TTHREAD:
    case LUA_TLIGHTUSERDATA: {
        const char *name = t == LUA_TFUNCTION   ? "function"
                           : t == LUA_TUSERDATA ? "userdata"
                           : t == LUA_TTHREAD   ? "thread"
                                                : "light-userdata";
        sb_printf(b, "\"%s@%p\"", name, lua_topointer(L, idx));
        break;
    }
    default: sb_str(b, "\"<unknown-lua-type>\""); break;
    }
}

/* Logs prefix + the value on top of the stack (left there). */
static void log_value(cb_ldb *d, lua_State *L, const char *prefix) {
    sbuf b = {0};
    sb_str(&b, prefix);
    cat_value(&b, L, -1, 0);
    ldb_log_maxlen(d, &b);
}

/* ---------------------------------------------------- RESP to human form */

static const char *human(sbuf *o, const char *p, const char *end);

static const char *line_end(const char *p, const char *end) {
    const char *q = memchr(p, '\r', (size_t)(end - p));
    return q && q + 1 < end ? q : NULL;
}

static const char *human_aggr(sbuf *o, const char *p, const char *end, const char *open,
                              const char *close, int map) {
    const char *e = line_end(p, end);
    if (!e) return NULL;
    long long n = strtoll(p + 1, NULL, 10);
    p = e + 2;
    if (n == -1 && !map) {
        sb_str(o, "NULL");
        return p;
    }
    sb_str(o, open);
    for (long long j = 0; j < n && p; j++) {
        p = human(o, p, end);
        if (map && p) {
            sb_str(o, " => ");
            p = human(o, p, end);
        }
        if (j != n - 1) sb_cat(o, ",", 1);
    }
    sb_str(o, close);
    return p;
}

static const char *human(sbuf *o, const char *p, const char *end) {
    if (p >= end) return NULL;
    const char *e = line_end(p, end);
    if (!e) return NULL;
    switch (*p) {
    case ':': sb_cat(o, p + 1, (size_t)(e - p - 1)); return e + 2;
    case '$': {
        long long n = strtoll(p + 1, NULL, 10);
        if (n < 0) {
            sb_str(o, "NULL");
            return e + 2;
        }
        if (e + 2 + n > end) return NULL;
        sb_repr(o, e + 2, (size_t)n);
        return e + 2 + n + 2;
    }
    case '+':
    case '-': sb_repr(o, p, (size_t)(e - p)); return e + 2;
    case '*': return human_aggr(o, p, end, "[", "]", 0);
    case '~': return human_aggr(o, p, end, "~(", ")", 0);
    case '%': return human_aggr(o, p, end, "{", "}", 1);
    case '_': sb_str(o, "(null)"); return e + 2;
    case '#': sb_str(o, p[1] == 't' ? "#true" : "#false"); return e + 2;
    case ',':
        sb_str(o, "(double) ");
        sb_cat(o, p + 1, (size_t)(e - p - 1));
        return e + 2;
    default: return NULL;
    }
}

/* -------------------------------------------------------------- sessions */

cb_ldb *ldb_start(cb_client *c, const char *body, size_t len, int forked) {
    cb_ldb *d = cb_calloc(sizeof(*d));
    d->c = c;
    d->io = ldb_io_open(c);
    d->forked = forked;
    d->step = 1;
    d->maxlen = LDB_MAXLEN_DEFAULT;
    d->time_start = util_mstime();
    while (len && (body[len - 1] == '\n' || body[len - 1] == '\r')) len--;
    d->src = cb_malloc(len + 1);
    memcpy(d->src, body, len);
    d->src[len] = '\0';
    /* Lines as Redis splits them: on "\n" only; an empty script has none. */
    int cap = 16;
    d->lines = cb_malloc(sizeof(char *) * (size_t)cap);
    if (len) {
        char *s = d->src;
        for (;;) {
            if (d->nlines == cap) {
                cap *= 2;
                d->lines = cb_realloc(d->lines, sizeof(char *) * (size_t)cap);
            }
            d->lines[d->nlines++] = s;
            char *nl = strchr(s, '\n');
            if (!nl) break;
            *nl = '\0';
            s = nl + 1;
        }
    }
    return d;
}

void ldb_end(cb_ldb *d) {
    ldb_log(d, "<endsession>");
    ldb_send_logs(d);
    ldb_io_close(d->io);
    d->c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    for (int i = 0; i < d->nsaved; i++) {
        cb_free(d->saved[i].key);
        if (d->saved[i].payload) cbstr_free(d->saved[i].payload);
    }
    cb_free(d->saved);
    cb_free(d->logs);
    cb_free(d->lines);
    cb_free(d->src);
    cb_free(d->cbuf.p);
    cb_free(d);
}

int ldb_stepping(const cb_ldb *d) { return d && d->step; }

void ldb_log_command(cb_ldb *d, int argc, const char *const *argv, const size_t *lens) {
    sbuf b = {0};
    sb_str(&b, "<redis>");
    for (int j = 0; j < argc; j++) {
        if (j == 10) {
            sb_printf(&b, " ... (%d more)", argc - j - 1);
            break;
        }
        sb_cat(&b, " ", 1);
        sb_cat(&b, argv[j], lens[j]);
    }
    ldb_log_sb(d, &b);
}

void ldb_log_error(cb_ldb *d, const char *msg, size_t len) {
    sbuf b = {0};
    sb_str(&b, "<error> ");
    sb_cat(&b, msg, len);
    ldb_log_sb(d, &b);
}

void ldb_log_reply(cb_ldb *d, const char *reply, size_t len) {
    sbuf b = {0};
    sb_str(&b, "<reply> ");
    human(&b, reply, reply + len);
    ldb_log_maxlen(d, &b);
}

/* -------------------------------------------------------------- commands */

/* One debugger command off the input buffer (RESP multibulk, as
 * redis-cli sends it); NULL until a whole and valid one is there. */
static char **parse_command(cb_ldb *d, int *argcp) {
    if (!d->cbuf.len) return NULL;
    char *p = memchr(d->cbuf.p, '*', d->cbuf.len), *end = d->cbuf.p + d->cbuf.len;
    if (!p) return NULL;
    char *e = strstr(p, "\r\n");
    if (!e) return NULL;
    int argc = atoi(p + 1);
    if (argc <= 0 || argc > 1024) return NULL;
    p = e + 2;
    char **argv = cb_calloc(sizeof(char *) * (size_t)argc);
    int n = 0;
    while (n < argc) {
        if (p >= end || *p != '$') goto bad;
        e = strstr(p, "\r\n");
        if (!e) goto bad;
        int slen = atoi(p + 1);
        if (slen <= 0 || slen > 1024) goto bad;
        p = e + 2;
        if (p + slen + 2 > end || p[slen] != '\r' || p[slen + 1] != '\n') goto bad;
        argv[n] = cb_malloc((size_t)slen + 1);
        memcpy(argv[n], p, (size_t)slen);
        argv[n][slen] = '\0';
        n++;
        p += slen + 2;
    }
    *argcp = argc;
    return argv;
bad:
    for (int i = 0; i < n; i++) cb_free(argv[i]);
    cb_free(argv);
    return NULL;
}

static void free_argv(char **argv, int argc) {
    for (int i = 0; i < argc; i++) cb_free(argv[i]);
    cb_free(argv);
}

static int word(const char *a, const char *s, const char *l) {
    return !strcasecmp(a, s) || !strcasecmp(a, l);
}

static void cmd_help(cb_ldb *d) {
    static const char *const help[] = {
        "Redis Lua debugger help:",
        "[h]elp               Show this help.",
        "[s]tep               Run current line and stop again.",
        "[n]ext               Alias for step.",
        "[c]ontinue           Run till next breakpoint.",
        "[l]ist               List source code around current line.",
        "[l]ist [line]        List source code around [line].",
        "                     line = 0 means: current position.",
        "[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
        "                     to show before/after [line].",
        "[w]hole              List all source code. Alias for 'list 1 1000000'.",
        "[p]rint              Show all the local variables.",
        "[p]rint <var>        Show the value of the specified variable.",
        "                     Can also show global vars KEYS and ARGV.",
        "[b]reak              Show all breakpoints.",
        "[b]reak <line>       Add a breakpoint to the specified line.",
        "[b]reak -<line>      Remove breakpoint from the specified line.",
        "[b]reak 0            Remove all breakpoints.",
        "[t]race              Show a backtrace.",
        "[e]val <code>        Execute some Lua code (in a different callframe).",
        "[r]edis <cmd>        Execute a Redis command.",
        "[m]axlen [len]       Trim logged Redis replies and Lua var dumps to len.",
        "                     Specifying zero as <len> means unlimited.",
        "[a]bort              Stop the execution of the script. In sync",
        "                     mode dataset changes will be retained.",
        "",
        "Debugger functions you can call from Lua scripts:",
        "redis.debug()        Produce logs in the debugger console.",
        "redis.breakpoint()   Stop execution like if there was a breakpoint in the",
        "                     next line of code.",
        NULL,
    };
    for (int i = 0; help[i]; i++) ldb_log(d, help[i]);
}

static void cmd_print(cb_ldb *d, lua_State *L, const char *var) {
    lua_Debug ar;
    if (var) {
        /* The innermost active local of that name, at any level. */
        for (int l = 0; lua_getstack(L, l, &ar); l++) {
            const char *name;
            for (int i = 1; (name = lua_getlocal(L, &ar, i)) != NULL; i++) {
                if (!strcmp(var, name)) {
                    log_value(d, L, "<value> ");
                    lua_pop(L, 1);
                    return;
                }
                lua_pop(L, 1);
            }
        }
        if (!strcmp(var, "ARGV") || !strcmp(var, "KEYS")) {
            lua_getglobal(L, var);
            log_value(d, L, "<value> ");
            lua_pop(L, 1);
        } else {
            ldb_log(d, "No such variable.");
        }
        return;
    }
    int vars = 0;
    if (lua_getstack(L, 0, &ar)) {
        const char *name;
        for (int i = 1; (name = lua_getlocal(L, &ar, i)) != NULL; i++) {
            if (!strstr(name, "(*temporary)")) {
                sbuf b = {0};
                sb_printf(&b, "<value> %s = ", name);
                cat_value(&b, L, -1, 0);
                ldb_log_maxlen(d, &b);
                vars++;
            }
            lua_pop(L, 1);
        }
    }
    if (!vars) ldb_log(d, "No local variables in the current context.");
}

/* A whole base-10 long, as Redis's string2l takes it. */
static int parse_long(const char *s, long *out) {
    if (!*s) return 0;
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (*e || errno || isspace((unsigned char)s[0]) || s[0] == '+') return 0;
    if (s[0] == '0' && s[1]) return 0;
    if (s[0] == '-' && (s[1] == '0' || !s[1])) return 0;
    *out = v;
    return 1;
}

static void cmd_break(cb_ldb *d, char **argv, int argc) {
    if (argc == 1) {
        if (!d->bpcount) {
            ldb_log(d, "No breakpoints set. Use 'b <line>' to add one.");
            return;
        }
        sbuf b = {0};
        sb_printf(&b, "%d breakpoints set:", d->bpcount);
        ldb_log_sb(d, &b);
        for (int j = 0; j < d->bpcount; j++) log_source_line(d, d->bp[j]);
        return;
    }
    for (int j = 1; j < argc; j++) {
        long line;
        if (!parse_long(argv[j], &line)) {
            sbuf b = {0};
            sb_printf(&b, "Invalid argument:'%s'", argv[j]);
            ldb_log_sb(d, &b);
        } else if (line == 0) {
            d->bpcount = 0;
            ldb_log(d, "All breakpoints removed.");
        } else if (line > 0) {
            if (d->bpcount == LDB_BREAKPOINTS_MAX) {
                ldb_log(d, "Too many breakpoints set.");
            } else if (line <= d->nlines && !is_breakpoint(d, (int)line)) {
                d->bp[d->bpcount++] = (int)line;
                ldb_list(d, (int)line, 1);
            } else {
                ldb_log(d, "Wrong line number.");
            }
        } else {
            int found = 0;
            for (int i = 0; i < d->bpcount && !found; i++) {
                if (d->bp[i] == -line) {
                    memmove(d->bp + i, d->bp + i + 1, sizeof(int) * (size_t)(d->bpcount - i - 1));
                    d->bpcount--;
                    found = 1;
                }
            }
            ldb_log(d, found ? "Breakpoint removed." : "No breakpoint in the specified line.");
        }
    }
}

/* The text of a Lua error value (a string, or an error table's err). */
static const char *error_text(lua_State *L) {
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "err");
        const char *s = lua_tostring(L, -1);
        lua_pop(L, 1); /* the table keeps the string alive */
        return s ? s : "";
    }
    const char *s = lua_tostring(L, -1);
    return s ? s : "";
}

static void cmd_eval(cb_ldb *d, lua_State *L, char **argv, int argc) {
    sbuf code = {0}, expr = {0};
    for (int j = 1; j < argc; j++) {
        if (j > 1) sb_cat(&code, " ", 1);
        sb_str(&code, argv[j]);
    }
    if (!code.p) sb_cat(&code, "", 0);
    sb_str(&expr, "return ");
    sb_cat(&expr, code.p, code.len);
    /* An expression first, then a statement. */
    if (luaL_loadbuffer(L, expr.p, expr.len, "@ldb_eval")) {
        lua_pop(L, 1);
        if (luaL_loadbuffer(L, code.p, code.len, "@ldb_eval")) {
            sbuf b = {0};
            sb_printf(&b, "<error> %s", error_text(L));
            ldb_log_sb(d, &b);
            lua_pop(L, 1);
            goto out;
        }
    }
    if (lua_pcall(L, 0, 1, 0)) {
        sbuf b = {0};
        sb_printf(&b, "<error> %s", error_text(L));
        ldb_log_sb(d, &b);
        lua_pop(L, 1);
        goto out;
    }
    log_value(d, L, "<retval> ");
    lua_pop(L, 1);
out:
    cb_free(code.p);
    cb_free(expr.p);
}

static void cmd_redis(cb_ldb *d, lua_State *L, char **argv, int argc) {
    lua_getglobal(L, "redis");
    lua_getfield(L, -1, "call");
    for (int j = 1; j < argc; j++) lua_pushstring(L, argv[j]);
    d->step = 1; /* log the command and its reply */
    lua_pcall(L, argc - 1, 1, 0);
    d->step = 0;
    lua_pop(L, 2);
}

static void cmd_trace(cb_ldb *d, lua_State *L) {
    lua_Debug ar;
    int level = 0;
    while (lua_getstack(L, level, &ar)) {
        lua_getinfo(L, "Snl", &ar);
        if (strstr(ar.short_src, "user_script")) {
            sbuf b = {0};
            sb_printf(&b, "%s %s:", level == 0 ? "In" : "From", ar.name ? ar.name : "top level");
            ldb_log_sb(d, &b);
            log_source_line(d, ar.currentline);
        }
        level++;
    }
    if (level == 0) ldb_log(d, "<error> Can't retrieve Lua stack.");
}

static void cmd_maxlen(cb_ldb *d, char **argv, int argc) {
    if (argc == 2) {
        int v = atoi(argv[1]);
        d->maxlen_hint_sent = 1;
        if (v != 0 && v <= 60) v = 60;
        d->maxlen = (size_t)v;
    }
    sbuf b = {0};
    if (d->maxlen) sb_printf(&b, "<value> replies are truncated at %d bytes.", (int)d->maxlen);
    else sb_str(&b, "<value> replies are unlimited.");
    ldb_log_sb(d, &b);
}

/* Reads and runs debugger commands until one resumes the script; -1 when
 * the client went away (the script then runs to its end unhindered). */
static int ldb_repl(cb_ldb *d, lua_State *L) {
    for (;;) {
        char **argv;
        int argc = 0;
        while ((argv = parse_command(d, &argc)) == NULL) {
            char buf[1024];
            long n = ldb_io_read(d->io, buf, sizeof(buf), LDB_READ_WAIT_MS);
            if (n < 0) {
                /* Wait for the debugger, but not past a shutdown (SIGTERM):
                 * the session then ends as if the client had left. */
                if (!__atomic_load_n(&g_server.shutdown_asap, __ATOMIC_RELAXED)) continue;
                n = 0;
            }
            if (n <= 0) {
                d->step = 0;
                d->bpcount = 0;
                return -1;
            }
            sb_cat(&d->cbuf, buf, (size_t)n);
        }
        d->cbuf.len = 0; /* anything sent along with it is dropped, as Redis does */
        const char *w = argv[0];
        if (word(w, "h", "help")) {
            cmd_help(d);
        } else if (word(w, "s", "step") || word(w, "n", "next")) {
            d->step = 1;
            free_argv(argv, argc);
            return 0;
        } else if (word(w, "c", "continue")) {
            free_argv(argv, argc);
            return 0;
        } else if (word(w, "t", "trace")) {
            cmd_trace(d, L);
        } else if (word(w, "m", "maxlen")) {
            cmd_maxlen(d, argv, argc);
        } else if (word(w, "b", "break")) {
            cmd_break(d, argv, argc);
        } else if (word(w, "e", "eval")) {
            cmd_eval(d, L, argv, argc);
        } else if (word(w, "a", "abort")) {
            free_argv(argv, argc);
            lua_pushstring(L, "script aborted for user request");
            lua_error(L);
        } else if (argc > 1 && word(w, "r", "redis")) {
            cmd_redis(d, L, argv, argc);
        } else if (word(w, "p", "print")) {
            cmd_print(d, L, argc == 2 ? argv[1] : NULL);
        } else if (word(w, "l", "list")) {
            int around = d->currentline, ctx = 5;
            if (argc > 1) {
                int num = atoi(argv[1]);
                if (num > 0) around = num;
            }
            if (argc > 2) ctx = atoi(argv[2]);
            ldb_list(d, around, ctx);
        } else if (word(w, "w", "whole")) {
            ldb_list(d, 1, 1000000);
        } else {
            ldb_log(d, "<error> Unknown Redis Lua debugger command or wrong number of arguments.");
        }
        ldb_send_logs(d);
        free_argv(argv, argc);
    }
}

void ldb_hook(lua_State *L, lua_Debug *ar) {
    cb_script_vm *vm = script_vm_current();
    cb_ldb *d = vm ? vm->ldb : NULL;
    if (!d) return;
    ldb_io_running(d->io);
    lua_getstack(L, 0, ar);
    lua_getinfo(L, "Sl", ar);
    d->currentline = ar->currentline;
    int bp = is_breakpoint(d, d->currentline) || d->luabp;
    int timeout = 0;
    if (!strstr(ar->short_src, "user_script")) return;
    if (ar->event == LUA_HOOKCOUNT && !d->step && !bp) {
        long long limit = g_config.busy_reply_threshold ? g_config.busy_reply_threshold : 5000;
        if (util_mstime() - d->time_start < limit) return;
        timeout = 1;
        d->step = 1;
    }
    if (!d->step && !bp) return;
    const char *reason = "step over";
    if (bp) reason = d->luabp ? "redis.breakpoint() called" : "break point";
    else if (timeout) reason = "timeout reached, infinite loop?";
    d->step = 0;
    d->luabp = 0;
    sbuf b = {0};
    sb_printf(&b, "* Stopped at %d, stop reason = %s", d->currentline, reason);
    ldb_log_sb(d, &b);
    log_source_line(d, d->currentline);
    ldb_send_logs(d);
    if (ldb_repl(d, L) < 0 && timeout) {
        lua_pushstring(L, "timeout during Lua debugging with client closing connection");
        lua_error(L);
    }
    d->time_start = util_mstime();
}

int ldb_lua_debug(lua_State *L) {
    cb_script_vm *vm = script_vm_current();
    cb_ldb *d = vm ? vm->ldb : NULL;
    if (!d) return 0;
    int argc = lua_gettop(L);
    sbuf b = {0};
    sb_printf(&b, "<debug> line %d: ", d->currentline);
    for (int i = 1; i <= argc; i++) {
        cat_value(&b, L, i, 0);
        if (i != argc) sb_cat(&b, ", ", 2);
    }
    ldb_log_maxlen(d, &b);
    return 0;
}

int ldb_lua_breakpoint(lua_State *L) {
    cb_script_vm *vm = script_vm_current();
    cb_ldb *d = vm ? vm->ldb : NULL;
    if (d) d->luabp = 1;
    lua_pushboolean(L, d != NULL);
    return 1;
}

/* ------------------------------------------------------------- undo log */

static void save_key(cb_ldb *d, cb_client *sc, int dbid, const char *k, size_t kl) {
    if (dbid < 0 || dbid >= g_config.databases) return;
    for (int i = 0; i < d->nsaved; i++)
        if (d->saved[i].dbid == dbid && d->saved[i].klen == kl && !memcmp(d->saved[i].key, k, kl))
            return;
    cb_shard *s = client_key_shard(sc, k, kl);
    cb_db *db = &s->dbs[dbid];
    cb_obj *o = db_lookup_read(s, db, k, kl,
                               DB_LOOKUP_NOTOUCH | DB_LOOKUP_NOSTATS | DB_LOOKUP_NONOTIFY);
    cbstr payload = o ? rdb_dump_payload(o) : NULL;
    if (o && !payload) return; /* a type without a payload cannot be put back */
    if (d->nsaved == d->savedcap) {
        d->savedcap = d->savedcap ? d->savedcap * 2 : 16;
        d->saved = cb_realloc(d->saved, sizeof(ldb_saved) * (size_t)d->savedcap);
    }
    ldb_saved *e = &d->saved[d->nsaved++];
    e->dbid = dbid;
    e->key = cb_malloc(kl ? kl : 1);
    memcpy(e->key, k, kl);
    e->klen = kl;
    e->payload = payload;
    e->expire_ms = o ? db_get_expire(db, k, kl) : -1;
}

int ldb_undo_save(cb_ldb *d, cb_client *sc, const cb_command *cmd, int argc,
                  const char *const *argv, const size_t *lens, const char **err) {
    if (!d || !d->forked || !(cmd->flags & CMD_WRITE)) return 0;
    const char *name = command_fullname(cmd);
    if (!strcmp(name, "flushall") || !strcmp(name, "flushdb") || !strcmp(name, "swapdb")) {
        *err = "-ERR This command cannot be rolled back after a SCRIPT DEBUG YES session: "
               "use SCRIPT DEBUG SYNC";
        return -1;
    }
    int n = command_get_keys(cmd, argc, argv, lens, NULL, NULL, 0);
    if (n <= 0) return 0;
    int *pos = cb_malloc(sizeof(int) * (size_t)n);
    n = command_get_keys(cmd, argc, argv, lens, pos, NULL, n);
    for (int i = 0; i < n; i++) save_key(d, sc, sc->dbid, argv[pos[i]], lens[pos[i]]);
    /* Keys that land in another db. */
    if (!strcmp(name, "move") && argc >= 3) {
        save_key(d, sc, atoi(argv[2]), argv[1], lens[1]);
    } else if (!strcmp(name, "copy")) {
        for (int i = 3; i + 1 < argc; i++)
            if (lens[i] == 2 && !strncasecmp(argv[i], "db", 2))
                save_key(d, sc, atoi(argv[i + 1]), argv[2], lens[2]);
    }
    cb_free(pos);
    return 0;
}

void ldb_undo_apply(cb_ldb *d, cb_script_run *run) {
    if (!d || !d->forked) return;
    cb_client *sc = run->sc;
    int dbid = sc->dbid;
    for (int i = d->nsaved - 1; i >= 0; i--) {
        ldb_saved *e = &d->saved[i];
        sc->dbid = e->dbid;
        if (e->payload) {
            char ttl[32];
            int tl = snprintf(ttl, sizeof(ttl), "%lld", e->expire_ms > 0 ? e->expire_ms : 0);
            const char *argv[] = {"RESTORE", e->key, ttl, e->payload, "REPLACE", "ABSTTL"};
            size_t lens[] = {7, e->klen, (size_t)tl, cbstr_len(e->payload), 7, 6};
            script_exec_internal(run, 6, argv, lens);
        } else {
            const char *argv[] = {"DEL", e->key};
            size_t lens[] = {3, e->klen};
            script_exec_internal(run, 2, argv, lens);
        }
    }
    sc->dbid = dbid;
}
