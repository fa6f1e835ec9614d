/* cmd_function.c — FCALL, FCALL_RO and FUNCTION LOAD / LIST / DELETE /
 * FLUSH / DUMP / RESTORE / STATS / KILL / HELP, with Redis 7.0's replies.
 *
 * FUNCTION LOAD checks the "#!lua name=<lib>" line, runs the library's
 * code in this worker's VM to learn its functions (func_lua.c), then adds
 * it to the process-wide registry (functions.c); every VM loads the
 * libraries again when it next sees the registry changed. FCALL runs like
 * EVAL (the same script client, busy handling and error replies), the
 * callback getting (keys, args); with several workers the dispatcher parks
 * the others for it (xshard.c global_names).
 */
#include "script_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../cmd/command.h"
#include "../conn.h"
#include "../worker.h"
#include "../resp/reply.h"
#include "../../platform/config.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"
#include "../../store/db.h"

static char *dupmsg(const char *m) {
    size_t n = strlen(m) + 1;
    char *e = cb_malloc(n);
    memcpy(e, m, n);
    return e;
}

static char *fmtmsg(const char *fmt, const char *a, size_t al) {
    size_t n = strlen(fmt) + al + 1;
    char *e = cb_malloc(n);
    snprintf(e, n, fmt, (int)al, a);
    return e;
}

/* ------------------------------------------------------------ metadata */

/* Splits the shebang line as Redis's sdssplitargs does (spaces, "..." with
 * backslash escapes, '...'); returns the count, -1 on unbalanced quotes.
 * Tokens are copied into buf, NUL-separated. */
static int split_args(const char *s, size_t len, char *buf, const char **tok, int maxtok) {
    size_t i = 0, o = 0;
    int n = 0;
    for (;;) {
        while (i < len && isspace((unsigned char)s[i])) i++;
        if (i >= len) return n;
        if (n == maxtok) return -1;
        tok[n++] = buf + o;
        int inq = 0, insq = 0;
        for (;;) {
            if (i >= len) {
                if (inq || insq) return -1;
                break;
            }
            char ch = s[i];
            if (inq) {
                if (ch == '\\' && i + 1 < len) {
                    char nx = s[i + 1];
                    buf[o++] = nx == 'n' ? '\n' : nx == 'r' ? '\r' : nx == 't' ? '\t' : nx;
                    i += 2;
                    continue;
                }
                if (ch == '"') {
                    i++;
                    if (i < len && !isspace((unsigned char)s[i])) return -1;
                    break;
                }
                buf[o++] = ch;
                i++;
            } else if (insq) {
                if (ch == '\\' && i + 1 < len && s[i + 1] == '\'') {
                    buf[o++] = '\'';
                    i += 2;
                    continue;
                }
                if (ch == '\'') {
                    i++;
                    if (i < len && !isspace((unsigned char)s[i])) return -1;
                    break;
                }
                buf[o++] = ch;
                i++;
            } else {
                if (isspace((unsigned char)ch)) break;
                if (ch == '"') inq = 1;
                else if (ch == '\'') insq = 1;
                else buf[o++] = ch;
                i++;
            }
        }
        buf[o++] = '\0';
    }
}

static int valid_lib_name(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_') return 0;
    return 1;
}

int fn_create(cb_script_vm *vm, const char *code, size_t len, int refuse_existing, fn_lib **out,
              char **err) {
    *out = NULL;
    *err = NULL;
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        *err = dupmsg("Missing library metadata");
        return -1;
    }
    const char *nl = memchr(code, '\n', len);
    if (!nl) {
        *err = dupmsg("Invalid library metadata");
        return -1;
    }
    size_t sl = (size_t)(nl - code);
    char *buf = cb_malloc(sl + 1);
    const char *tok[64];
    int n = split_args(code, sl, buf, tok, 64);
    const char *name = NULL;
    if (n <= 0) *err = dupmsg("Invalid library metadata");
    for (int i = 1; i < n && !*err; i++) {
        if (!strncasecmp(tok[i], "name=", 5)) {
            if (name)
                *err = dupmsg("Invalid metadata value, name argument was given multiple times");
            name = tok[i] + 5;
            continue;
        }
        *err = fmtmsg("Invalid metadata value given: %.*s", tok[i], strlen(tok[i]));
    }
    if (!*err && !name) *err = dupmsg("Library name was not given");
    if (!*err && strcasecmp(tok[0] + 2, "lua") != 0)
        *err = fmtmsg("Engine '%.*s' not found", tok[0] + 2, strlen(tok[0] + 2));
    if (!*err && !valid_lib_name(name))
        *err = dupmsg("Library names can only contain letters, numbers, or underscores(_) and "
                      "must be at least one character long");
    /* An existing library is refused before its new code runs. */
    if (!*err && refuse_existing && fn_registry_exists(name))
        *err = fmtmsg("Library '%.*s' already exists", name, strlen(name));
    if (*err) {
        cb_free(buf);
        return -1;
    }
    fn_lib *lib = fn_lib_new(name, strlen(name), code, len);
    cb_free(buf);
    if (fn_vm_load(vm, lib, 0, err) < 0) {
        fn_lib_free(lib);
        return -1;
    }
    *out = lib;
    return 0;
}

/* ------------------------------------------------------------- FCALL */

void cmd_fcall(cb_client *c);
void cmd_fcall_ro(cb_client *c);

static void fcall_generic(cb_client *c, int ro) {
    if (__atomic_load_n(&g_server.monitors, __ATOMIC_RELAXED)) conn_feed_monitors(c);
    unsigned flags;
    char fname[256];
    if (ARGL(c, 1) >= sizeof(fname) ||
        fn_registry_lookup(ARGP(c, 1), ARGL(c, 1), &flags, fname, sizeof(fname)) < 0) {
        reply_error(c, "Function not found");
        return;
    }
    long long numkeys;
    if (arg_ll(c, 2, &numkeys, "Bad number of keys provided") < 0) return;
    if (numkeys > c->argc - 3) {
        reply_error(c, "Number of keys can't be greater than number of args");
        return;
    }
    if (numkeys < 0) {
        reply_error(c, "Number of keys can't be negative");
        return;
    }
    if (!(flags & SCRIPT_FLAG_NO_WRITES)) {
        if (ro) {
            reply_error(c, "Can not execute a script with write flag using *_ro command.");
            return;
        }
        /* Out of memory without allow-oom was refused before the call
         * (script_denies_oom). */
    }
    cb_script_vm *vm = script_vm(c->w);
    fn_vm_sync(vm);

    cb_script_run run;
    memset(&run, 0, sizeof(run));
    run.fname = fname;
    run.flags = flags;
    run.read_only = ro || (flags & SCRIPT_FLAG_NO_WRITES);
    script_run_for(c, vm, &run, (int)numkeys);
}

void cmd_fcall(cb_client *c) { fcall_generic(c, 0); }
void cmd_fcall_ro(cb_client *c) { fcall_generic(c, 1); }

int fn_may_write(const cb_client *c) {
    unsigned flags;
    if (c->argc < 2 || fn_registry_lookup(c->argv[1], c->argv_len[1], &flags, NULL, 0) < 0) return 1;
    return !(flags & SCRIPT_FLAG_NO_WRITES);
}

/* ------------------------------------------------------------ FUNCTION */

/* The VM that checks new libraries: the worker's own, or a standalone one
 * when the command runs off its worker thread (AOF replay at start-up). */
static cb_script_vm *checking_vm(cb_client *c) {
    if (worker_self() != c->w) return script_vm_standalone();
    return script_vm(c->w);
}

static void release_vm(cb_client *c, cb_script_vm *vm) {
    if (worker_self() != c->w) script_vm_standalone_free(vm);
}

/* Library changes are writes: the AOF records the command itself. */
static void changed(cb_client *c) {
    c->shard->dirty++;
}

void cmd_function_load(cb_client *c) {
    int replace = 0, i = 2;
    while (i < c->argc - 1) {
        if (arg_eq(c, i, "replace")) {
            replace = 1;
            i++;
            continue;
        }
        reply_errorf(c, "Unknown option given: %.*s", (int)ARGL(c, i), ARGP(c, i));
        return;
    }
    cb_script_vm *vm = checking_vm(c);
    fn_lib *lib = NULL;
    char *err = NULL;
    int rc = fn_create(vm, ARGP(c, i), ARGL(c, i), !replace, &lib, &err);
    release_vm(c, vm);
    if (rc < 0) {
        reply_error(c, err);
        cb_free(err);
        return;
    }
    char name[256];
    snprintf(name, sizeof(name), "%s", lib->name);
    if (fn_registry_commit(&lib, 1, replace ? FN_POLICY_REPLACE : FN_POLICY_APPEND,
                           "Library '%s' already exists", &err) < 0) {
        reply_error(c, err);
        cb_free(err);
        fn_lib_free(lib);
        return;
    }
    changed(c);
    reply_bulk(c, name, strlen(name));
}

static void reply_lib(cb_client *c, const fn_lib *l, int withcode) {
    reply_map_len(c, withcode ? 4 : 3);
    reply_bulk_cstr(c, "library_name");
    reply_bulk_cstr(c, l->name);
    reply_bulk_cstr(c, "engine");
    reply_bulk_cstr(c, "LUA");
    reply_bulk_cstr(c, "functions");
    reply_array_len(c, l->nfuncs);
    for (int j = 0; j < l->nfuncs; j++) {
        const fn_func *f = &l->funcs[j];
        reply_map_len(c, 3);
        reply_bulk_cstr(c, "name");
        reply_bulk_cstr(c, f->name);
        reply_bulk_cstr(c, "description");
        if (f->desc)
            reply_bulk_cstr(c, f->desc);
        else
            reply_null(c);
        reply_bulk_cstr(c, "flags");
        int nf = 0;
        unsigned bit;
        for (int k = 0; fn_flag_name(k, &bit); k++)
            if (f->flags & bit) nf++;
        reply_set_len(c, nf);
        for (int k = 0; fn_flag_name(k, &bit); k++)
            if (f->flags & bit) reply_status(c, fn_flag_name(k, &bit));
    }
    if (withcode) {
        reply_bulk_cstr(c, "library_code");
        reply_bulk(c, l->code, l->codelen);
    }
}

void cmd_function_list(cb_client *c) {
    int withcode = 0;
    const char *pat = NULL;
    size_t patlen = 0;
    for (int i = 2; i < c->argc; i++) {
        if (!withcode && arg_eq(c, i, "withcode")) {
            withcode = 1;
            continue;
        }
        if (!pat && arg_eq(c, i, "libraryname")) {
            if (i >= c->argc - 1) {
                reply_error(c, "library name argument was not given");
                return;
            }
            i++;
            pat = ARGP(c, i);
            patlen = ARGL(c, i);
            continue;
        }
        reply_errorf(c, "Unknown argument %.*s", (int)ARGL(c, i), ARGP(c, i));
        return;
    }
    int n;
    fn_lib **libs = fn_registry_snapshot(&n, NULL);
    int shown = 0;
    for (int i = 0; i < n; i++)
        if (!pat || util_globmatch(pat, patlen, libs[i]->name, strlen(libs[i]->name), 0)) shown++;
    reply_array_len(c, shown);
    for (int i = 0; i < n; i++)
        if (!pat || util_globmatch(pat, patlen, libs[i]->name, strlen(libs[i]->name), 0))
            reply_lib(c, libs[i], withcode);
    fn_snapshot_free(libs, n);
}

void cmd_function_delete(cb_client *c) {
    if (fn_registry_delete(ARGP(c, 2), ARGL(c, 2)) < 0) {
        reply_error(c, "Library not found");
        return;
    }
    changed(c);
    reply_ok(c);
}

void cmd_function_flush(cb_client *c) {
    if (c->argc > 3) {
        reply_subcommand_syntax(c);
        return;
    }
    if (c->argc == 3 && !arg_eq(c, 2, "sync") && !arg_eq(c, 2, "async")) {
        reply_error(c, "FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    fn_registry_flush();
    changed(c);
    reply_ok(c);
}

void cmd_function_dump(cb_client *c) {
    size_t len;
    char *p = fn_dump_payload(&len);
    reply_bulk(c, p, len);
    cb_free(p);
}

void cmd_function_restore(cb_client *c) {
    if (c->argc > 4) {
        reply_subcommand_syntax(c);
        return;
    }
    int policy = FN_POLICY_APPEND;
    if (c->argc == 4) {
        if (arg_eq(c, 3, "flush"))
            policy = FN_POLICY_FLUSH;
        else if (arg_eq(c, 3, "append"))
            policy = FN_POLICY_APPEND;
        else if (arg_eq(c, 3, "replace"))
            policy = FN_POLICY_REPLACE;
        else {
            reply_error(c, "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
            return;
        }
    }
    char *err = NULL;
    cb_script_vm *vm = checking_vm(c);
    int rc = fn_restore_payload(vm, ARGP(c, 2), ARGL(c, 2), policy, &err);
    release_vm(c, vm);
    if (rc < 0) {
        reply_error(c, err);
        cb_free(err);
        return;
    }
    changed(c);
    reply_ok(c);
}

void cmd_function_stats(cb_client *c) {
    reply_map_len(c, 2);
    reply_bulk_cstr(c, "running_script");
    cb_script_run *run = script_busy_run(c->w);
    if (run && run->fname) {
        cb_client *caller = run->caller;
        reply_map_len(c, 3);
        reply_bulk_cstr(c, "name");
        reply_bulk_cstr(c, run->fname);
        reply_bulk_cstr(c, "command");
        reply_array_len(c, caller->argc);
        for (int i = 0; i < caller->argc; i++) reply_bulk(c, caller->argv[i], caller->argv_len[i]);
        reply_bulk_cstr(c, "duration_ms");
        reply_int(c, util_mstime() - run->start_ms);
    } else {
        reply_null(c);
    }
    size_t nf, nl = fn_registry_counts(&nf);
    reply_bulk_cstr(c, "engines");
    reply_map_len(c, 1);
    reply_bulk_cstr(c, "LUA");
    reply_map_len(c, 2);
    reply_bulk_cstr(c, "libraries_count");
    reply_int(c, (long long)nl);
    reply_bulk_cstr(c, "functions_count");
    reply_int(c, (long long)nf);
}

void cmd_function_kill(cb_client *c) {
    cb_script_run *run = script_busy_run(c->w);
    if (!run) {
        reply_error(c, "-NOTBUSY No scripts in execution right now.");
        return;
    }
    if (__atomic_load_n(&run->wrote, __ATOMIC_RELAXED)) {
        reply_error(c, "-UNKILLABLE Sorry the script already executed write commands against "
                       "the dataset. You can either wait the script termination or kill the "
                       "server in a hard way using the SHUTDOWN NOSAVE command.");
        return;
    }
    if (!run->fname) {
        reply_error(c, "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
                       "SHUTDOWN NOSAVE.");
        return;
    }
    __atomic_store_n(&run->killed, 1, __ATOMIC_RELAXED);
    reply_ok(c);
}

void cmd_function_help(cb_client *c) {
    static const char *const lines[] = {
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, lines);
}
