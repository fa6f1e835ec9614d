/* cmd_config.c — CONFIG GET / SET / RESETSTAT / REWRITE / HELP. Thin
 * handlers over platform/config.c: they turn arguments into calls and the
 * results into replies (texts are Redis 7.0's). Arity is checked by the
 * dispatcher before these run; argv[0] is "config", argv[1] the subcommand.
 */
#include <string.h>

#include "command.h"
#include "../acl.h"
#include "../client.h"
#include "../server.h"
#include "../resp/reply.h"
#include "../../platform/config.h"
#include "../../platform/log.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

void cmd_config_get(cb_client *c);
void cmd_config_set(cb_client *c);
void cmd_config_resetstat(cb_client *c);
void cmd_config_rewrite(cb_client *c);
void cmd_config_help(cb_client *c);

/* Matches collected across all patterns; each name is reported once. */
typedef struct get_acc {
    char **names, **values;
    long n, cap;
    const char *as_given; /* exact lookups answer with the name as typed */
} get_acc;

static int acc_has(const get_acc *a, const char *name) {
    for (long i = 0; i < a->n; i++)
        if (util_eq_nocase(a->names[i], strlen(a->names[i]), name)) return 1;
    return 0;
}

static void acc_add(void *priv, const char *name, const char *value) {
    get_acc *a = priv;
    if (a->as_given) name = a->as_given;
    if (acc_has(a, name)) return;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->names = cb_realloc(a->names, sizeof(char *) * (size_t)a->cap);
        a->values = cb_realloc(a->values, sizeof(char *) * (size_t)a->cap);
    }
    a->names[a->n] = cb_strdup(name);
    a->values[a->n] = cb_strdup(value);
    a->n++;
}

static int has_glob(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] == '*' || p[i] == '?' || p[i] == '[') return 1;
    return 0;
}

void cmd_config_get(cb_client *c) {
    get_acc a = {0};
    for (int i = 2; i < c->argc; i++) {
        char *pat = cb_memdup(ARGP(c, i), ARGL(c, i));
        /* A plain name is looked up, not matched, and Redis echoes it
         * back exactly as the client spelled it (CONFIG GET PORT). */
        a.as_given = has_glob(pat, ARGL(c, i)) ? NULL : pat;
        config_get_matching(pat, ARGL(c, i), acc_add, &a);
        cb_free(pat);
    }
    reply_map_len(c, a.n);
    for (long i = 0; i < a.n; i++) {
        reply_bulk_cstr(c, a.names[i]);
        reply_bulk_cstr(c, a.values[i]);
        cb_free(a.names[i]);
        cb_free(a.values[i]);
    }
    cb_free(a.names);
    cb_free(a.values);
}

void cmd_config_set(cb_client *c) {
    if ((c->argc - 2) % 2) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int n = (c->argc - 2) / 2;
    const char **names = cb_malloc(sizeof(char *) * (size_t)n);
    const char **values = cb_malloc(sizeof(char *) * (size_t)n);
    size_t *nl = cb_malloc(sizeof(size_t) * (size_t)n);
    size_t *vl = cb_malloc(sizeof(size_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        names[i] = ARGP(c, 2 + 2 * i);
        nl[i] = ARGL(c, 2 + 2 * i);
        values[i] = ARGP(c, 3 + 2 * i);
        vl[i] = ARGL(c, 3 + 2 * i);
    }
    char *err = NULL;
    int rc = config_set_many_from(n, names, nl, values, vl,
                                  (c->flags & CLIENT_LOCAL) != 0, &err);
    if (rc == 0) {
        /* requirepass is the default user's password (acl.c). */
        for (int i = 0; i < n; i++)
            if (util_eq_nocase(names[i], nl[i], "requirepass"))
                acl_set_requirepass(g_config.requirepass);
        reply_ok(c);
    } else {
        reply_error(c, err ? err : "CONFIG SET failed");
    }
    cb_free(err);
    cb_free(names);
    cb_free(values);
    cb_free(nl);
    cb_free(vl);
}

void cmd_config_resetstat(cb_client *c) {
    server_reset_stats();
    reply_ok(c);
}

void cmd_config_rewrite(cb_client *c) {
    char *err = NULL;
    if (config_rewrite(&err) != 0) {
        cb_log(LOG_WARNING, "CONFIG REWRITE failed: %s", err ? err : "unknown error");
        reply_error(c, err ? err : "Rewriting config file failed");
    } else {
        cb_log(LOG_NOTICE, "CONFIG REWRITE executed with success.");
        reply_ok(c);
    }
    cb_free(err);
}

void cmd_config_help(cb_client *c) {
    static const char *const help[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, help);
}
