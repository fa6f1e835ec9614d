/* config_table.c — the directive table (every directive cachebox knows, with
 * Redis 7.0's names, defaults, bounds and error phrases) and the generic and
 * special setters/printers it refers to. config.c drives loading, CONFIG
 * GET/SET and REWRITE over this table; nothing here does I/O except `dir`
 * (which, as in Redis, changes the working directory when set).
 *
 * The configuration is owned by the management thread; the error buffer
 * below is therefore a plain static.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config_internal.h"
#include "mem.h"
#include "util.h"

/* Reasons that need formatting ("between X and Y") are built here. */
static char cfg_errbuf[512];

/* ---------------------------------------------------------------- buffers */

void cfg_buf_add(cfg_buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        b->p = cb_realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void cfg_buf_str(cfg_buf *b, const char *s) { cfg_buf_add(b, s, strlen(s)); }

void cfg_buf_repr(cfg_buf *b, const char *s, size_t n) {
    cfg_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char tmp[8];
        switch (ch) {
        case '\\': cfg_buf_add(b, "\\\\", 2); break;
        case '"': cfg_buf_add(b, "\\\"", 2); break;
        case '\n': cfg_buf_add(b, "\\n", 2); break;
        case '\r': cfg_buf_add(b, "\\r", 2); break;
        case '\t': cfg_buf_add(b, "\\t", 2); break;
        case '\a': cfg_buf_add(b, "\\a", 2); break;
        case '\b': cfg_buf_add(b, "\\b", 2); break;
        default:
            if (isprint(ch)) {
                cfg_buf_add(b, (const char *)&ch, 1);
            } else {
                snprintf(tmp, sizeof tmp, "\\x%02x", ch);
                cfg_buf_str(b, tmp);
            }
        }
    }
    cfg_buf_add(b, "\"", 1);
}

void cfg_buf_mem(cfg_buf *b, unsigned long long v) {
    char tmp[40];
    const unsigned long long gb = 1024ULL * 1024 * 1024, mb = 1024ULL * 1024, kb = 1024;
    if (v && v % gb == 0) snprintf(tmp, sizeof tmp, "%llugb", v / gb);
    else if (v && v % mb == 0) snprintf(tmp, sizeof tmp, "%llumb", v / mb);
    else if (v && v % kb == 0) snprintf(tmp, sizeof tmp, "%llukb", v / kb);
    else snprintf(tmp, sizeof tmp, "%llu", v);
    cfg_buf_str(b, tmp);
}

static char *xdup(const char *s) { return cb_strdup(s ? s : ""); }

static void set_string_field(char **field, const char *v) {
    char *old = *field;
    *field = xdup(v);
    cb_free(old);
}

/* strtoll over the whole word, as Redis reads save/obuf numbers. */
static int word_ll(const char *s, long long *out) {
    char *end;
    if (!*s) return 0;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno) return 0;
    *out = v;
    return 1;
}

/* ------------------------------------------------------------------- bind */

static int bind_set(const cfg_dir *d, int argc, char **argv, int from_file,
                    const char **err) {
    (void)d; (void)from_file;
    if (argc > CONFIG_MAX_BIND) {
        *err = "Too many bind addresses specified.";
        return -1;
    }
    /* `bind ""` (CONFIG SET bind "") means listen nowhere, like no words. */
    if (argc == 1 && argv[0][0] == '\0') argc = 0;
    for (int i = 0; i < g_config.bind_count; i++) {
        cb_free(g_config.bind[i]);
        g_config.bind[i] = NULL;
    }
    for (int i = 0; i < argc; i++) g_config.bind[i] = cb_strdup(argv[i]);
    g_config.bind_count = argc;
    return 0;
}

static char *bind_get(const cfg_dir *d) {
    (void)d;
    cfg_buf b = {0};
    cfg_buf_str(&b, "");
    for (int i = 0; i < g_config.bind_count; i++) {
        if (i) cfg_buf_add(&b, " ", 1);
        cfg_buf_str(&b, g_config.bind[i]);
    }
    return b.p;
}

/* Loopback until an operator opens it up (the appliance's safe default,
 * the same as the bind line of Redis's shipped redis.conf). */
static const char *const bind_default = "127.0.0.1 -::1";

static void bind_rewrite(const cfg_dir *d, cfg_rw *rw) {
    cfg_buf b = {0};
    char *v = bind_get(d);
    cfg_buf_str(&b, d->name);
    if (*v) {
        cfg_buf_add(&b, " ", 1);
        cfg_buf_str(&b, v);
    } else {
        cfg_buf_str(&b, " \"\"");
    }
    cfg_rw_line(rw, d, b.p, strcmp(v, bind_default) != 0);
    cb_free(v);
}

static const cfg_special sp_bind = {bind_set, bind_get, bind_rewrite};

/* ------------------------------------------------------------------- save */

/* In a config file the first `save` replaces the default and later ones
 * add to it (several lines build the list); CONFIG SET always replaces. */
static int save_loaded_once;

void cfg_save_begin_load(void) { save_loaded_once = 0; }

static int save_set(const cfg_dir *d, int argc, char **argv, int from_file,
                    const char **err) {
    (void)d;
    int reset = argc == 0 || (argc == 1 && argv[0][0] == '\0');
    if (!reset) {
        if (argc % 2) goto bad;
        for (int i = 0; i < argc; i++) {
            long long v;
            if (!word_ll(argv[i], &v)) goto bad;
            if ((i % 2 == 0 && v < 1) || (i % 2 == 1 && v < 0)) goto bad;
        }
    }
    cfg_buf b = {0};
    cfg_buf_str(&b, "");
    if (from_file && save_loaded_once && !reset && g_config.save_params)
        cfg_buf_str(&b, g_config.save_params);
    for (int i = 0; !reset && i < argc; i++) {
        long long v = 0;
        char tmp[CB_LL2STR_MAX];
        word_ll(argv[i], &v);
        util_ll2str(tmp, sizeof tmp, v);
        if (b.len) cfg_buf_add(&b, " ", 1);
        cfg_buf_str(&b, tmp);
    }
    if (from_file) save_loaded_once = 1;
    cb_free(g_config.save_params);
    g_config.save_params = b.p;
    return 0;
bad:
    *err = "Invalid save parameters";
    return -1;
}

static char *save_get(const cfg_dir *d) {
    (void)d;
    return xdup(g_config.save_params);
}

/* One `save <seconds> <changes>` line per point; `save ""` when none.
 * Always written, as Redis does, so the file never falls back to defaults
 * that the running server no longer has. */
static void save_rewrite(const cfg_dir *d, cfg_rw *rw) {
    const char *p = g_config.save_params ? g_config.save_params : "";
    if (!*p) {
        cfg_buf b = {0};
        cfg_buf_str(&b, d->name);
        cfg_buf_str(&b, " \"\"");
        cfg_rw_line(rw, d, b.p, 1);
        return;
    }
    int word = 0;
    cfg_buf b = {0};
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t n = sp ? (size_t)(sp - p) : strlen(p);
        if (word % 2 == 0) {
            b = (cfg_buf){0};
            cfg_buf_str(&b, d->name);
        }
        cfg_buf_add(&b, " ", 1);
        cfg_buf_add(&b, p, n);
        if (word % 2 == 1) cfg_rw_line(rw, d, b.p, 1);
        word++;
        p += n;
        if (*p == ' ') p++;
    }
}

static const cfg_special sp_save = {save_set, save_get, save_rewrite};

/* -------------------------------------------------------------- replicaof */

/* `replicaof <host> <port>` in the file (or "host port" as one word, as
 * CONFIG REWRITE writes it); "no one" or "" clears it. Only the start-up
 * value matters: at run time REPLICAOF is the command (mgmt/replica.c). */
static int replicaof_set(const cfg_dir *d, int argc, char **argv, int from_file,
                         const char **err) {
    (void)d;
    (void)from_file;
    char host[256];
    long long port = 0;
    if (argc == 0 || (argc == 1 && argv[0][0] == '\0')) {
        cb_free(g_config.replicaof);
        g_config.replicaof = xdup("");
        return 0;
    }
    if (argc == 1) {
        char rest[32];
        if (sscanf(argv[0], "%255s %31s", host, rest) != 2) goto bad;
        if (!word_ll(rest, &port)) goto bad;
    } else if (argc == 2) {
        if (!strcasecmp(argv[0], "no") && !strcasecmp(argv[1], "one")) {
            cb_free(g_config.replicaof);
            g_config.replicaof = xdup("");
            return 0;
        }
        snprintf(host, sizeof host, "%s", argv[0]);
        if (!word_ll(argv[1], &port)) goto bad;
    } else {
        goto bad;
    }
    if (port < 0 || port > 65535) goto bad;
    char buf[300];
    snprintf(buf, sizeof buf, "%s %lld", host, port);
    cb_free(g_config.replicaof);
    g_config.replicaof = xdup(buf);
    return 0;
bad:
    *err = "Invalid master port";
    return -1;
}

static char *replicaof_get(const cfg_dir *d) {
    (void)d;
    return xdup(g_config.replicaof);
}

static const cfg_special sp_replicaof = {replicaof_set, replicaof_get, NULL};

/* ---------------------------------------------- client-output-buffer-limit */

static const char *const obuf_class_print[3] = {"normal", "slave", "pubsub"};
static const char *const obuf_class_rewrite[3] = {"normal", "replica", "pubsub"};
static const cb_obuf_limit obuf_defaults[3] = {
    {0, 0, 0},
    {256ULL * 1024 * 1024, 64ULL * 1024 * 1024, 60},
    {32ULL * 1024 * 1024, 8ULL * 1024 * 1024, 60},
};

static int obuf_class(const char *s) {
    if (!strcasecmp(s, "normal")) return 0;
    if (!strcasecmp(s, "replica") || !strcasecmp(s, "slave")) return 1;
    if (!strcasecmp(s, "pubsub")) return 2;
    return -1;
}

static int obuf_set(const cfg_dir *d, int argc, char **argv, int from_file,
                    const char **err) {
    (void)d; (void)from_file;
    cb_obuf_limit nl[3];
    memcpy(nl, g_config.obuf_limits, sizeof nl);
    if (argc % 4) {
        *err = "Wrong number of arguments in buffer limit configuration.";
        return -1;
    }
    /* Validate every group before touching the live limits. */
    for (int i = 0; i < argc; i += 4) {
        int cls = obuf_class(argv[i]);
        unsigned long long hard, soft;
        long long secs;
        if (cls < 0) {
            *err = "Invalid client class specified in buffer limit configuration.";
            return -1;
        }
        if (!util_memtoull(argv[i + 1], strlen(argv[i + 1]), &hard) ||
            !util_memtoull(argv[i + 2], strlen(argv[i + 2]), &soft) ||
            !word_ll(argv[i + 3], &secs) || secs < 0) {
            *err = "Error in hard, soft or soft_seconds setting in buffer limit "
                   "configuration.";
            return -1;
        }
        nl[cls].hard = hard;
        nl[cls].soft = soft;
        nl[cls].soft_seconds = secs;
    }
    memcpy(g_config.obuf_limits, nl, sizeof nl);
    return 0;
}

static char *obuf_get(const cfg_dir *d) {
    (void)d;
    cfg_buf b = {0};
    char tmp[128];
    for (int i = 0; i < 3; i++) {
        const cb_obuf_limit *l = &g_config.obuf_limits[i];
        snprintf(tmp, sizeof tmp, "%s%s %llu %llu %lld", i ? " " : "",
                 obuf_class_print[i], l->hard, l->soft, l->soft_seconds);
        cfg_buf_str(&b, tmp);
    }
    return b.p;
}

static void obuf_rewrite(const cfg_dir *d, cfg_rw *rw) {
    for (int i = 0; i < 3; i++) {
        const cb_obuf_limit *l = &g_config.obuf_limits[i];
        char tmp[32];
        cfg_buf b = {0};
        cfg_buf_str(&b, d->name);
        cfg_buf_add(&b, " ", 1);
        cfg_buf_str(&b, obuf_class_rewrite[i]);
        cfg_buf_add(&b, " ", 1);
        cfg_buf_mem(&b, l->hard);
        cfg_buf_add(&b, " ", 1);
        cfg_buf_mem(&b, l->soft);
        snprintf(tmp, sizeof tmp, " %lld", l->soft_seconds);
        cfg_buf_str(&b, tmp);
        int force = l->hard != obuf_defaults[i].hard || l->soft != obuf_defaults[i].soft ||
                    l->soft_seconds != obuf_defaults[i].soft_seconds;
        cfg_rw_line(rw, d, b.p, force);
    }
}

static const cfg_special sp_obuf = {obuf_set, obuf_get, obuf_rewrite};

/* -------------------------------------------------------- unixsocketperm */

static int perm_set(const cfg_dir *d, int argc, char **argv, int from_file,
                    const char **err) {
    (void)d; (void)argc; (void)from_file;
    char *end;
    const char *s = argv[0];
    errno = 0;
    long v = *s ? strtol(s, &end, 8) : 0;
    if (!*s || *end || errno) {
        *err = "argument couldn't be parsed as an octal number";
        return -1;
    }
    if (v < 0 || v > 0777) {
        *err = "argument must be between 0 and 777 inclusive";
        return -1;
    }
    g_config.unixsocketperm = (unsigned)v;
    return 0;
}

static char *perm_get(const cfg_dir *d) {
    (void)d;
    char tmp[16];
    snprintf(tmp, sizeof tmp, "%o", g_config.unixsocketperm);
    return cb_strdup(tmp);
}

static void perm_rewrite(const cfg_dir *d, cfg_rw *rw) {
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s %o", d->name, g_config.unixsocketperm);
    cfg_rw_line(rw, d, cb_strdup(tmp), g_config.unixsocketperm != 0);
}

static const cfg_special sp_perm = {perm_set, perm_get, perm_rewrite};

/* ------------------------------------------------- notify-keyspace-events */

static const struct {
    char ch;
    int flag;
} notify_chars[] = {
    {'g', CB_NOTIFY_GENERIC}, {'$', CB_NOTIFY_STRING}, {'l', CB_NOTIFY_LIST},
    {'s', CB_NOTIFY_SET},     {'h', CB_NOTIFY_HASH},   {'z', CB_NOTIFY_ZSET},
    {'x', CB_NOTIFY_EXPIRED}, {'e', CB_NOTIFY_EVICTED}, {'t', CB_NOTIFY_STREAM},
    {'d', CB_NOTIFY_MODULE},  {'n', CB_NOTIFY_NEW},
};

static char *notify_format(int flags) {
    char out[32];
    size_t n = 0;
    if ((flags & CB_NOTIFY_ALL) == CB_NOTIFY_ALL) {
        /* "A" stands for the whole class set; Redis prints nothing else
         * from that group (not even 'n'). */
        out[n++] = 'A';
    } else {
        for (size_t i = 0; i < sizeof notify_chars / sizeof notify_chars[0]; i++)
            if (flags & notify_chars[i].flag) out[n++] = notify_chars[i].ch;
    }
    if (flags & CB_NOTIFY_KEYSPACE) out[n++] = 'K';
    if (flags & CB_NOTIFY_KEYEVENT) out[n++] = 'E';
    if (flags & CB_NOTIFY_KEY_MISS) out[n++] = 'm';
    out[n] = '\0';
    return cb_strdup(out);
}

static int notify_set(const cfg_dir *d, int argc, char **argv, int from_file,
                      const char **err) {
    (void)d; (void)argc; (void)from_file;
    int flags = 0;
    for (const char *p = argv[0]; *p; p++) {
        int f = 0;
        switch (*p) {
        case 'A': f = CB_NOTIFY_ALL; break;
        case 'K': f = CB_NOTIFY_KEYSPACE; break;
        case 'E': f = CB_NOTIFY_KEYEVENT; break;
        case 'm': f = CB_NOTIFY_KEY_MISS; break;
        default:
            for (size_t i = 0; i < sizeof notify_chars / sizeof notify_chars[0]; i++)
                if (notify_chars[i].ch == *p) f = notify_chars[i].flag;
        }
        if (!f) {
            *err = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
            return -1;
        }
        flags |= f;
    }
    g_config.notify_keyspace_events = flags;
    g_config.store.notify_keyspace_events = flags; /* what the store reads */
    cb_free(g_config.notify_keyspace_events_str);
    g_config.notify_keyspace_events_str = notify_format(flags);
    return 0;
}

static char *notify_get(const cfg_dir *d) {
    (void)d;
    return xdup(g_config.notify_keyspace_events_str);
}

static const cfg_special sp_notify = {notify_set, notify_get, NULL};

/* ------------------------------------------ latency-tracking-info-percentiles */

/* Doubles in [0, 100], printed back as "%f" without trailing zeros. */
static int pct_set(const cfg_dir *d, int argc, char **argv, int from_file, const char **err) {
    (void)d; (void)from_file;
    if (argc == 1 && argv[0][0] == '\0') argc = 0;
    if (argc > CB_MAX_LATENCY_PERCENTILES) {
        *err = "Invalid latency-tracking-info-percentiles parameters";
        return -1;
    }
    double v[CB_MAX_LATENCY_PERCENTILES];
    for (int i = 0; i < argc; i++) {
        char *end;
        v[i] = strtod(argv[i], &end);
        if (!argv[i][0] || *end) {
            *err = "Invalid latency-tracking-info-percentiles parameters";
            return -1;
        }
        if (!(v[i] >= 0.0 && v[i] <= 100.0)) {
            *err = "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
            return -1;
        }
    }
    cfg_buf b = {0};
    cfg_buf_str(&b, "");
    for (int i = 0; i < argc; i++) {
        char tmp[64];
        int n = snprintf(tmp, sizeof tmp, "%f", v[i]);
        while (n > 1 && tmp[n - 1] == '0') tmp[--n] = '\0';
        if (n > 1 && tmp[n - 1] == '.') tmp[--n] = '\0';
        if (b.len) cfg_buf_add(&b, " ", 1);
        cfg_buf_str(&b, tmp);
        g_config.latency_percentiles[i] = v[i];
    }
    g_config.latency_npercentiles = argc;
    cb_free(g_config.latency_tracking_info_percentiles_str);
    g_config.latency_tracking_info_percentiles_str = b.p;
    return 0;
}

static char *pct_get(const cfg_dir *d) {
    (void)d;
    return xdup(g_config.latency_tracking_info_percentiles_str);
}

static const cfg_special sp_percentiles = {pct_set, pct_get, NULL};

/* ------------------------------------------------------ maxmemory-clients */

/* Bytes (with Redis's unit suffixes) or "N%" of maxmemory; stored as bytes
 * or as -N, and printed back the same way. */
static int mmc_set(const cfg_dir *d, int argc, char **argv, int from_file, const char **err) {
    (void)d; (void)from_file; (void)argc;
    const char *v = argv[0];
    size_t n = strlen(v);
    if (n > 1 && v[n - 1] == '%') {
        unsigned long long pct = 0;
        size_t i = 0;
        for (; i < n - 1 && v[i] >= '0' && v[i] <= '9'; i++)
            if (pct <= 1000) pct = pct * 10 + (unsigned)(v[i] - '0'); /* saturates above 100 */
        if (i != n - 1) {
            *err = "argument must be a memory or percent value";
            return -1;
        }
        if (pct > 100) {
            *err = "percentage argument must be less or equal to 100";
            return -1;
        }
        g_config.maxmemory_clients = -(long long)pct;
        return 0;
    }
    unsigned long long b;
    if (v[0] == '-' || !util_memtoull(v, n, &b) || b > (unsigned long long)LLONG_MAX) {
        *err = "argument must be a memory or percent value";
        return -1;
    }
    g_config.maxmemory_clients = (long long)b;
    return 0;
}

static char *mmc_get(const cfg_dir *d) {
    (void)d;
    char tmp[32];
    if (g_config.maxmemory_clients < 0)
        snprintf(tmp, sizeof tmp, "%lld%%", -g_config.maxmemory_clients);
    else
        snprintf(tmp, sizeof tmp, "%lld", g_config.maxmemory_clients);
    return xdup(tmp);
}

/* REWRITE as Redis: "N%" or the byte count with a unit ("1mb"), unquoted;
 * the line is kept once present, and added only when not the default. */
static void mmc_rewrite(const cfg_dir *d, cfg_rw *rw) {
    cfg_buf b = {0};
    cfg_buf_str(&b, d->name);
    cfg_buf_add(&b, " ", 1);
    if (g_config.maxmemory_clients < 0) {
        char *v = mmc_get(d);
        cfg_buf_str(&b, v);
        cb_free(v);
    } else {
        cfg_buf_mem(&b, (unsigned long long)g_config.maxmemory_clients);
    }
    cfg_rw_line(rw, d, b.p, g_config.maxmemory_clients != 0);
}

static const cfg_special sp_maxmemory_clients = {mmc_set, mmc_get, mmc_rewrite};

/* -------------------------------------------------------------------- dir */

static int dir_set(const cfg_dir *d, int argc, char **argv, int from_file,
                   const char **err) {
    (void)d; (void)argc; (void)from_file;
    if (chdir(argv[0]) == -1) {
        *err = strerror(errno);
        return -1;
    }
    set_string_field(&g_config.dir, argv[0]);
    return 0;
}

/* CONFIG GET dir prints the absolute working directory, as Redis does. */
static char *dir_get(const cfg_dir *d) {
    (void)d;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return xdup(g_config.dir);
    return cb_strdup(cwd);
}

static void dir_rewrite(const cfg_dir *d, cfg_rw *rw) {
    cfg_buf b = {0};
    char *v = dir_get(d);
    cfg_buf_str(&b, d->name);
    cfg_buf_add(&b, " ", 1);
    cfg_buf_repr(&b, v, strlen(v));
    cb_free(v);
    cfg_rw_line(rw, d, b.p, 1);
}

static const cfg_special sp_dir = {dir_set, dir_get, dir_rewrite};

/* ------------------------------------------- enum stored as its own name */

static const cfg_enum syslog_facilities[] = {
    {"user", 0},   {"local0", 1}, {"local1", 2}, {"local2", 3}, {"local3", 4},
    {"local4", 5}, {"local5", 6}, {"local6", 7}, {"local7", 8}, {NULL, 0},
};

static int enum_error(const cfg_enum *e, const char **err) {
    size_t n = (size_t)snprintf(cfg_errbuf, sizeof cfg_errbuf,
                                "argument(s) must be one of the following: ");
    for (int i = 0; e[i].name && n < sizeof cfg_errbuf; i++)
        n += (size_t)snprintf(cfg_errbuf + n, sizeof cfg_errbuf - n, "%s%s",
                              i ? ", " : "", e[i].name);
    *err = cfg_errbuf;
    return -1;
}

static int enumstr_set(const cfg_dir *d, int argc, char **argv, int from_file,
                       const char **err) {
    (void)argc; (void)from_file;
    for (int i = 0; d->enums[i].name; i++) {
        if (!strcasecmp(argv[0], d->enums[i].name)) {
            set_string_field(CFG_FIELD(d, char *), d->enums[i].name);
            return 0;
        }
    }
    return enum_error(d->enums, err);
}

static char *enumstr_get(const cfg_dir *d) { return xdup(*CFG_FIELD(d, char *)); }

static const cfg_special sp_enumstr = {enumstr_set, enumstr_get, NULL};

/* --------------------------------------------------------- generic types */

int cfg_set_words(const cfg_dir *d, int argc, char **argv, int from_file,
                  const char **err) {
    int rc = 0;
    if (d->type == CT_SPECIAL) {
        rc = d->sp->set(d, argc, argv, from_file, err);
        if (rc == 0 && d->post) d->post();
        return rc;
    }
    const char *s = argv[0];
    switch (d->type) {
    case CT_BOOL:
        if (!strcasecmp(s, "yes")) *CFG_FIELD(d, int) = 1;
        else if (!strcasecmp(s, "no")) *CFG_FIELD(d, int) = 0;
        else {
            *err = "argument must be 'yes' or 'no'";
            return -1;
        }
        break;
    case CT_NUM:
    case CT_MEM: {
        long long v = 0;
        unsigned long long uv = 0;
        int neg = 0;
        if (d->type == CT_NUM) {
            if (!util_str2ll(s, strlen(s), &v)) {
                *err = "argument couldn't be parsed into an integer";
                return -1;
            }
            neg = v < 0;
            uv = neg ? 0 : (unsigned long long)v;
        } else {
            if (!util_memtoull(s, strlen(s), &uv) ||
                (d->ftype != FT_ULL && uv > (unsigned long long)LLONG_MAX)) {
                *err = "argument must be a memory value";
                return -1;
            }
            v = (long long)uv;
        }
        if ((neg && v < d->min) || (!neg && (uv > d->max ||
                                             (d->min > 0 && uv < (unsigned long long)d->min)))) {
            snprintf(cfg_errbuf, sizeof cfg_errbuf,
                     "argument must be between %lld and %llu inclusive", d->min, d->max);
            *err = cfg_errbuf;
            return -1;
        }
        switch (d->ftype) {
        case FT_INT: *CFG_FIELD(d, int) = (int)(v > INT_MAX ? INT_MAX : v); break;
        case FT_UINT: *CFG_FIELD(d, unsigned) = (unsigned)uv; break;
        case FT_LL: *CFG_FIELD(d, long long) = v; break;
        case FT_ULL: *CFG_FIELD(d, unsigned long long) = uv; break;
        }
        break;
    }
    case CT_ENUM: {
        int i;
        for (i = 0; d->enums[i].name; i++)
            if (!strcasecmp(s, d->enums[i].name)) break;
        if (!d->enums[i].name) return enum_error(d->enums, err);
        *CFG_FIELD(d, int) = d->enums[i].val;
        break;
    }
    case CT_STRING:
        set_string_field(CFG_FIELD(d, char *), s);
        break;
    }
    if (d->post) d->post();
    return rc;
}

char *cfg_get_value(const cfg_dir *d) {
    char tmp[64];
    switch (d->type) {
    case CT_BOOL:
        return cb_strdup(*CFG_FIELD(d, int) ? "yes" : "no");
    case CT_NUM:
    case CT_MEM:
        switch (d->ftype) {
        case FT_INT: snprintf(tmp, sizeof tmp, "%d", *CFG_FIELD(d, int)); break;
        case FT_UINT: snprintf(tmp, sizeof tmp, "%u", *CFG_FIELD(d, unsigned)); break;
        case FT_LL: snprintf(tmp, sizeof tmp, "%lld", *CFG_FIELD(d, long long)); break;
        default: snprintf(tmp, sizeof tmp, "%llu", *CFG_FIELD(d, unsigned long long)); break;
        }
        return cb_strdup(tmp);
    case CT_ENUM: {
        int v = *CFG_FIELD(d, int);
        for (int i = 0; d->enums[i].name; i++)
            if (d->enums[i].val == v) return cb_strdup(d->enums[i].name);
        return cb_strdup("");
    }
    case CT_STRING:
        return xdup(*CFG_FIELD(d, char *));
    default:
        return d->sp->get(d);
    }
}

const cfg_dir *cfg_lookup(const char *name, size_t len) {
    for (size_t i = 0; i < cfg_table_len; i++) {
        const cfg_dir *d = &cfg_table[i];
        if (util_eq_nocase(name, len, d->name) ||
            (d->alias && util_eq_nocase(name, len, d->alias)))
            return d;
    }
    return NULL;
}

/* ------------------------------------------------------------- post hooks */

/* Redis keeps the configured hz but runs within 1..500. */
static void hz_post(void) {
    if (g_config.store.hz < 1) g_config.store.hz = 1;
    if (g_config.store.hz > 500) g_config.store.hz = 500;
}

static void proto_post(void) {
    g_config.store.proto_max_bulk_len = g_config.proto_max_bulk_len;
}

/* Redis keeps the backlog at 16 KiB at least and says so in CONFIG GET. */
static void backlog_post(void) {
    if (g_config.repl_backlog_size < 16 * 1024) g_config.repl_backlog_size = 16 * 1024;
}

/* ------------------------------------------------------------------ table */

static const cfg_enum yes_no_local[] = {{"no", 0}, {"yes", 1}, {"local", 2}, {NULL, 0}};
static const cfg_enum loglevels[] = {{"debug", LOG_DEBUG},     {"verbose", LOG_VERBOSE},
                                     {"notice", LOG_NOTICE},   {"warning", LOG_WARNING},
                                     {NULL, 0}};
static const cfg_enum supervised_modes[] = {{"upstart", SUPERVISED_UPSTART},
                                            {"systemd", SUPERVISED_SYSTEMD},
                                            {"auto", SUPERVISED_AUTO},
                                            {"no", SUPERVISED_NO},
                                            {NULL, 0}};
static const cfg_enum maxmem_policies[] = {
    {"volatile-lru", MAXMEM_VOLATILE_LRU},   {"volatile-lfu", MAXMEM_VOLATILE_LFU},
    {"volatile-random", MAXMEM_VOLATILE_RANDOM}, {"volatile-ttl", MAXMEM_VOLATILE_TTL},
    {"allkeys-lru", MAXMEM_ALLKEYS_LRU},     {"allkeys-lfu", MAXMEM_ALLKEYS_LFU},
    {"allkeys-random", MAXMEM_ALLKEYS_RANDOM}, {"noeviction", MAXMEM_NOEVICTION},
    {NULL, 0}};
static const cfg_enum fsync_modes[] = {{"always", AOF_FSYNC_ALWAYS},
                                       {"everysec", AOF_FSYNC_EVERYSEC},
                                       {"no", AOF_FSYNC_NO}, {NULL, 0}};
static const cfg_enum acl_pubsub_defaults[] = {{"allchannels", 1}, {"resetchannels", 0},
                                               {NULL, 0}};
static const cfg_enum dataplanes[] = {{"kernel", DATAPLANE_KERNEL},
                                      {"dpdk", DATAPLANE_DPDK}, {NULL, 0}};

#define OFF(f) offsetof(cb_config, f)
#define LLMAX ((unsigned long long)LLONG_MAX)
#define IMAX ((unsigned long long)INT_MAX)

/* Shorthands: one row per directive, in the order CONFIG REWRITE appends. */
#define BOOL(n, f, def, fl) {n, NULL, CT_BOOL, 0, fl, OFF(f), 0, 0, def, NULL, NULL, NULL}
#define INT(n, f, mn, mx, def, fl) {n, NULL, CT_NUM, FT_INT, fl, OFF(f), mn, mx, def, NULL, NULL, NULL}
#define LL(n, f, mn, mx, def, fl) {n, NULL, CT_NUM, FT_LL, fl, OFF(f), mn, mx, def, NULL, NULL, NULL}
#define MEMLL(n, f, mn, def, fl, post) {n, NULL, CT_MEM, FT_LL, fl, OFF(f), mn, LLMAX, def, NULL, NULL, post}
#define ENUM(n, f, e, def, fl) {n, NULL, CT_ENUM, 0, fl, OFF(f), 0, 0, def, e, NULL, NULL}
#define STR(n, f, def, fl) {n, NULL, CT_STRING, 0, fl, OFF(f), 0, 0, def, NULL, NULL, NULL}
#define SPECIAL(n, f, sp, def, fl) {n, NULL, CT_SPECIAL, 0, fl, OFF(f), 0, 0, def, NULL, sp, NULL}

const cfg_dir cfg_table[] = {
    /* Network */
    INT("port", port, 0, 65535, "6379", 0),
    SPECIAL("bind", bind, &sp_bind, "127.0.0.1 -::1", CF_MULTI_ARG),
    INT("tcp-backlog", tcp_backlog, 0, IMAX, "511", CF_IMMUTABLE),
    LL("timeout", timeout, 0, IMAX, "0", 0),
    INT("tcp-keepalive", tcp_keepalive, 0, IMAX, "300", 0),
    {"maxclients", NULL, CT_NUM, FT_UINT, 0, OFF(maxclients), 1, UINT_MAX, "10000",
     NULL, NULL, NULL},
    SPECIAL("maxmemory-clients", maxmemory_clients, &sp_maxmemory_clients, "0", 0),
    BOOL("protected-mode", protected_mode, "yes", 0),
    STR("requirepass", requirepass, "", CF_SENSITIVE),
    STR("unixsocket", unixsocket, "", CF_IMMUTABLE),
    SPECIAL("unixsocketperm", unixsocketperm, &sp_perm, "0", CF_IMMUTABLE),

    /* Process and logging */
    BOOL("daemonize", daemonize, "no", CF_IMMUTABLE),
    ENUM("supervised", supervised, supervised_modes, "no", CF_IMMUTABLE),
    STR("pidfile", pidfile, "", CF_IMMUTABLE),
    STR("logfile", logfile, "", CF_IMMUTABLE),
    ENUM("loglevel", loglevel, loglevels, "notice", 0),
    BOOL("syslog-enabled", syslog_enabled, "no", CF_IMMUTABLE),
    STR("syslog-ident", syslog_ident, "redis", CF_IMMUTABLE),
    {"syslog-facility", NULL, CT_SPECIAL, 0, CF_IMMUTABLE, OFF(syslog_facility), 0, 0,
     "local0", syslog_facilities, &sp_enumstr, NULL},

    /* Keyspace and persistence */
    INT("databases", databases, 1, IMAX, "16", CF_IMMUTABLE),
    SPECIAL("dir", dir, &sp_dir, NULL, CF_PROTECTED),
    STR("dbfilename", dbfilename, "dump.rdb", CF_PROTECTED),
    /* No snapshot points by default: the appliance writes no files unless an
     * operator configures them (Redis's built-in default has three). */
    SPECIAL("save", save_params, &sp_save, "", CF_MULTI_ARG),
    BOOL("rdbcompression", rdbcompression, "yes", 0),
    BOOL("rdbchecksum", rdbchecksum, "yes", CF_IMMUTABLE),
    BOOL("stop-writes-on-bgsave-error", stop_writes_on_bgsave_error, "yes", 0),
    BOOL("rdb-del-sync-files", rdb_del_sync_files, "no", 0),
    MEMLL("repl-backlog-size", repl_backlog_size, 1, "1mb", 0, backlog_post),
    LL("repl-backlog-ttl", repl_backlog_ttl, 0, LLMAX, "3600", 0),
    BOOL("repl-diskless-sync", repl_diskless_sync, "yes", 0),
    INT("repl-diskless-sync-delay", repl_diskless_sync_delay, 0, IMAX, "5", 0),
    {"repl-ping-replica-period", "repl-ping-slave-period", CT_NUM, FT_INT, 0,
     OFF(repl_ping_replica_period), 1, IMAX, "10", NULL, NULL, NULL},
    INT("repl-timeout", repl_timeout, 1, IMAX, "60", 0),
    {"replicaof", "slaveof", CT_SPECIAL, 0, CF_MULTI_ARG | CF_IMMUTABLE, OFF(replicaof), 0, 0, "", NULL,
     &sp_replicaof, NULL},
    STR("masterauth", masterauth, "", CF_SENSITIVE),
    STR("masteruser", masteruser, "", 0),
    {"replica-read-only", "slave-read-only", CT_BOOL, 0, 0, OFF(store.replica_read_only), 0, 0,
     "yes", NULL, NULL, NULL},
    {"replica-priority", "slave-priority", CT_NUM, FT_INT, 0, OFF(replica_priority), 0, IMAX,
     "100", NULL, NULL, NULL},
    {"min-replicas-to-write", "min-slaves-to-write", CT_NUM, FT_INT, 0,
     OFF(min_replicas_to_write), 0, IMAX, "0", NULL, NULL, NULL},
    {"min-replicas-max-lag", "min-slaves-max-lag", CT_NUM, FT_INT, 0,
     OFF(min_replicas_max_lag), 0, IMAX, "10", NULL, NULL, NULL},
    INT("rdb-key-save-delay", rdb_key_save_delay, INT_MIN, IMAX, "0", 0),
    INT("key-load-delay", key_load_delay, INT_MIN, IMAX, "0", 0),
    BOOL("appendonly", appendonly, "no", 0),
    STR("appendfilename", appendfilename, "appendonly.aof", CF_IMMUTABLE),
    STR("appenddirname", appenddirname, "appendonlydir", CF_IMMUTABLE),
    ENUM("appendfsync", appendfsync, fsync_modes, "everysec", 0),
    BOOL("no-appendfsync-on-rewrite", no_appendfsync_on_rewrite, "no", 0),
    INT("auto-aof-rewrite-percentage", auto_aof_rewrite_percentage, 0, IMAX, "100", 0),
    MEMLL("auto-aof-rewrite-min-size", auto_aof_rewrite_min_size, 0, "64mb", 0, NULL),
    BOOL("aof-use-rdb-preamble", aof_use_rdb_preamble, "yes", 0),
    BOOL("aof-load-truncated", aof_load_truncated, "yes", 0),
    BOOL("aof-timestamp-enabled", aof_timestamp_enabled, "no", 0),
    BOOL("aof-rewrite-incremental-fsync", aof_rewrite_incremental_fsync, "yes", 0),

    /* Limits */
    MEMLL("client-query-buffer-limit", client_query_buffer_limit, 1024 * 1024, "1gb", 0, NULL),
    MEMLL("proto-max-bulk-len", proto_max_bulk_len, 1024 * 1024, "512mb", 0, proto_post),
    SPECIAL("client-output-buffer-limit", obuf_limits, &sp_obuf,
            "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60", CF_MULTI_ARG),

    /* Store */
    {"hz", NULL, CT_NUM, FT_INT, 0, OFF(store.hz), 0, IMAX, "10", NULL, NULL, hz_post},
    BOOL("dynamic-hz", dynamic_hz, "yes", 0),
    INT("active-expire-effort", store.active_expire_effort, 1, 10, "1", 0),
    BOOL("activerehashing", activerehashing, "yes", 0),
    INT("lfu-log-factor", store.lfu_log_factor, 0, IMAX, "10", 0),
    INT("lfu-decay-time", store.lfu_decay_time, 0, IMAX, "1", 0),
    {"list-max-listpack-size", "list-max-ziplist-size", CT_NUM, FT_INT, 0,
     OFF(store.list_max_listpack_size), INT_MIN, IMAX, "-2", NULL, NULL, NULL},
    INT("list-compress-depth", store.list_compress_depth, 0, IMAX, "0", 0),
    LL("set-max-intset-entries", store.set_max_intset_entries, 0, LLMAX, "512", 0),
    {"maxmemory", NULL, CT_MEM, FT_ULL, 0, OFF(store.maxmemory), 0, ULLONG_MAX, "0", NULL,
     NULL, NULL},
    ENUM("maxmemory-policy", store.maxmemory_policy, maxmem_policies, "noeviction", 0),
    LL("maxmemory-samples", store.maxmemory_samples, 1, IMAX, "5", 0),
    INT("maxmemory-eviction-tenacity", store.maxmemory_eviction_tenacity, 0, 100, "10", 0),
    /* Redis 7.0's built-in defaults (its sample redis.conf says 128). */
    {"hash-max-listpack-entries", "hash-max-ziplist-entries", CT_NUM, FT_LL, 0,
     OFF(store.hash_max_listpack_entries), 0, LLMAX, "512", NULL, NULL, NULL},
    {"hash-max-listpack-value", "hash-max-ziplist-value", CT_MEM, FT_LL, 0,
     OFF(store.hash_max_listpack_value), 0, LLMAX, "64", NULL, NULL, NULL},
    {"zset-max-listpack-entries", "zset-max-ziplist-entries", CT_NUM, FT_LL, 0,
     OFF(store.zset_max_listpack_entries), 0, LLMAX, "128", NULL, NULL, NULL},
    {"zset-max-listpack-value", "zset-max-ziplist-value", CT_MEM, FT_LL, 0,
     OFF(store.zset_max_listpack_value), 0, LLMAX, "64", NULL, NULL, NULL},
    MEMLL("hll-sparse-max-bytes", store.hll_sparse_max_bytes, 0, "3000", 0, NULL),
    MEMLL("stream-node-max-bytes", store.stream_node_max_bytes, 0, "4096", 0, NULL),
    LL("stream-node-max-entries", store.stream_node_max_entries, 0, LLMAX, "100", 0),

    /* Commands and monitoring */
    ENUM("enable-debug-command", enable_debug_command, yes_no_local, "no", CF_IMMUTABLE),
    ENUM("enable-protected-configs", enable_protected_configs, yes_no_local, "no",
         CF_IMMUTABLE),
    ENUM("enable-module-command", enable_module_command, yes_no_local, "no", CF_IMMUTABLE),
    LL("slowlog-log-slower-than", slowlog_log_slower_than, -1, LLMAX, "10000", 0),
    LL("slowlog-max-len", slowlog_max_len, 0, LLMAX, "128", 0),
    LL("latency-monitor-threshold", latency_monitor_threshold, 0, LLMAX, "0", 0),
    BOOL("latency-tracking", latency_tracking, "yes", 0),
    SPECIAL("latency-tracking-info-percentiles", latency_tracking_info_percentiles_str,
            &sp_percentiles, "50 99 99.9", CF_MULTI_ARG),
    BOOL("lazyfree-lazy-user-del", store.lazyfree_lazy_user_del, "no", 0),
    BOOL("lazyfree-lazy-user-flush", store.lazyfree_lazy_user_flush, "no", 0),
    BOOL("lazyfree-lazy-expire", store.lazyfree_lazy_expire, "no", 0),
    BOOL("lazyfree-lazy-server-del", store.lazyfree_lazy_server_del, "no", 0),
    BOOL("lazyfree-lazy-eviction", store.lazyfree_lazy_eviction, "no", 0),
    /* Active defragmentation works here (our jemalloc answers utilization
     * queries), unlike Debian's redis-server, which refuses it. */
    BOOL("activedefrag", store.active_defrag, "no", 0),
    {"active-defrag-ignore-bytes", NULL, CT_MEM, FT_ULL, 0, OFF(store.active_defrag_ignore_bytes),
     1, LLMAX, "100mb", NULL, NULL, NULL},
    INT("active-defrag-threshold-lower", store.active_defrag_threshold_lower, 0, 1000, "10", 0),
    INT("active-defrag-threshold-upper", store.active_defrag_threshold_upper, 0, 1000, "100", 0),
    INT("active-defrag-cycle-min", store.active_defrag_cycle_min, 1, 99, "1", 0),
    INT("active-defrag-cycle-max", store.active_defrag_cycle_max, 1, 99, "25", 0),
    LL("active-defrag-max-scan-fields", store.active_defrag_max_scan_fields, 1, LLMAX, "1000", 0),
    /* The field is an int; values beyond INT_MAX are clamped, bounds and
     * error text stay Redis's. */
    {"busy-reply-threshold", "lua-time-limit", CT_NUM, FT_INT, 0,
     OFF(busy_reply_threshold), 0, LLMAX, "5000", NULL, NULL, NULL},
    LL("tracking-table-max-keys", tracking_table_max_keys, 0, LLMAX, "1000000", 0),
    SPECIAL("notify-keyspace-events", notify_keyspace_events_str, &sp_notify, "", 0),

    /* Appliance */
    ENUM("dataplane", dataplane, dataplanes, "kernel", CF_IMMUTABLE),
    INT("io-workers", io_workers, 1, 64, "1", CF_IMMUTABLE),
    /* Redis's I/O threads setting, accepted (and shown to CONFIG GET, which
     * the Prometheus exporter reads) for compatibility; it has no effect:
     * cachebox's threads are io-workers. */
    INT("io-threads", io_threads, 1, 128, "1", CF_IMMUTABLE),
    STR("dpdk-eal-args", dpdk_eal_args, "", CF_IMMUTABLE),
    STR("dpdk-port", dpdk_port, "0", CF_IMMUTABLE),
    STR("dpdk-ip", dpdk_ip, "", CF_IMMUTABLE),
    STR("dpdk-gateway", dpdk_gateway, "", CF_IMMUTABLE),
    INT("dpdk-mtu", dpdk_mtu, 68, 9600, "1500", CF_IMMUTABLE),
    INT("dpdk-vlan", dpdk_vlan, 0, 4094, "0", CF_IMMUTABLE),
    /* For hosts where poll cores share a CPU (test rigs): an idle poll
     * core gives the CPU away instead of spinning. Production keeps 0. */
    INT("dpdk-idle-sleep-us", dpdk_idle_sleep_us, 0, 10000, "0", CF_IMMUTABLE),
    STR("control-bind", control_bind, "127.0.0.1", CF_IMMUTABLE),
    INT("control-port", control_port, 0, 65535, "8379", CF_IMMUTABLE),
    STR("control-token-file", control_token_file, "control.token", CF_IMMUTABLE),
    /* 2 MB hugepages mapped for the store arenas, split over the shards
     * (kernel plane; platform/mem.h). 0: normal pages. */
    {"hugepages", NULL, CT_MEM, FT_ULL, CF_IMMUTABLE, OFF(hugepages), 0, ULLONG_MAX, "0", NULL,
     NULL, NULL},
    /* ACL */
    STR("aclfile", aclfile, "", CF_IMMUTABLE),
    LL("acllog-max-len", acllog_max_len, 0, LLMAX, "128", 0),
    ENUM("acl-pubsub-default", acl_pubsub_default, acl_pubsub_defaults, "resetchannels", 0),
};

const size_t cfg_table_len = sizeof cfg_table / sizeof cfg_table[0];
