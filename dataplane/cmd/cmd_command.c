/* cmd_command.c — COMMAND and its subcommands (COUNT, INFO, DOCS, LIST,
 * GETKEYS, GETKEYSANDFLAGS, HELP). Every answer is built from the command
 * table: COMMAND INFO/DOCS entries are the oracle's stored bytes (RESP3, or
 * the RESP2 copy made at init), wrapped in aggregate headers written here.
 * Key extraction is command_get_keys(); see command.c.
 */
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "../client.h"
#include "../resp/reply.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

static void reply_info(cb_client *c, const cb_command *cmd)
{
    if (c->resp == 3)
        reply_raw(c, cmd->info_resp3, cmd->info_len);
    else
        reply_raw(c, cmd->info_resp2, cmd->info2_len);
}

static void reply_docs(cb_client *c, const cb_command *cmd)
{
    if (c->resp == 3)
        reply_raw(c, cmd->docs_resp3, cmd->docs_len);
    else
        reply_raw(c, cmd->docs_resp2, cmd->docs2_len);
}

/* Top-level commands clients can call (rename-command "" removes one). */
static int enabled_count(void)
{
    int n = 0;
    for (int i = 0; i < command_count(); i++)
        n += !command_disabled(command_at(i));
    return n;
}

static void reply_all_info(cb_client *c)
{
    reply_array_len(c, enabled_count());
    for (int i = 0; i < command_count(); i++)
        if (!command_disabled(command_at(i)))
            reply_info(c, command_at(i));
}

/* COMMAND (no subcommand): every top-level command's info. */
void cmd_command(cb_client *c)
{
    reply_all_info(c);
}

void cmd_command_count(cb_client *c)
{
    reply_int(c, enabled_count());
}

/* COMMAND INFO [name ...]: unknown names answer a null in their slot. */
void cmd_command_info(cb_client *c)
{
    if (c->argc == 2) {
        reply_all_info(c);
        return;
    }
    reply_array_len(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        const cb_command *cmd = command_lookup_called(ARGP(c, i), ARGL(c, i));
        if (cmd)
            reply_info(c, cmd);
        else
            reply_null(c);
    }
}

/* COMMAND DOCS [name ...]: a map name -> docs; unknown names are skipped
 * (RESP2 flattens the map into name, docs, name, docs ...). */
void cmd_command_docs(cb_client *c)
{
    if (c->argc == 2) {
        reply_map_len(c, enabled_count());
        for (int i = 0; i < command_count(); i++)
            if (!command_disabled(command_at(i)))
                reply_docs(c, command_at(i));
        return;
    }
    long found = 0;
    for (int i = 2; i < c->argc; i++)
        if (command_lookup_called(ARGP(c, i), ARGL(c, i)))
            found++;
    reply_map_len(c, found);
    for (int i = 2; i < c->argc; i++) {
        const cb_command *cmd = command_lookup_called(ARGP(c, i), ARGL(c, i));
        if (cmd)
            reply_docs(c, cmd);
    }
}

/* ---- COMMAND LIST ----------------------------------------------------- */

enum { LIST_ALL, LIST_MODULE, LIST_ACLCAT, LIST_PATTERN };

typedef struct list_filter {
    int kind;
    const char *arg;
    size_t arglen;
    int cat; /* LIST_ACLCAT: category index, -1 unknown (matches nothing) */
} list_filter;

static int list_keep(const list_filter *f, const cb_command *cmd)
{
    if (command_disabled(cmd))
        return 0;
    switch (f->kind) {
    case LIST_MODULE: /* cachebox has no modules */
        return 0;
    case LIST_ACLCAT:
        return f->cat >= 0 && (cmd->acl_categories & (1ull << f->cat));
    case LIST_PATTERN:
        return util_globmatch(f->arg, f->arglen, cmd->name, strlen(cmd->name), 1);
    default:
        return 1;
    }
}

/* Containers are listed before their subcommands, each filtered alone. */
void cmd_command_list(cb_client *c)
{
    list_filter f = { LIST_ALL, NULL, 0, -1 };
    if (c->argc == 5 && arg_eq(c, 2, "filterby")) {
        f.arg = ARGP(c, 4);
        f.arglen = ARGL(c, 4);
        if (arg_eq(c, 3, "module")) {
            f.kind = LIST_MODULE;
        } else if (arg_eq(c, 3, "aclcat")) {
            f.kind = LIST_ACLCAT;
            f.cat = command_acl_category(f.arg, f.arglen);
        } else if (arg_eq(c, 3, "pattern")) {
            f.kind = LIST_PATTERN;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    } else if (c->argc != 2) {
        reply_error(c, ERR_SYNTAX);
        return;
    }

    long n = 0;
    for (int id = 0; id < command_ids(); id++)
        n += list_keep(&f, command_by_id(id));
    reply_array_len(c, n);
    for (int i = 0; i < command_count(); i++) {
        const cb_command *cmd = command_at(i);
        if (list_keep(&f, cmd))
            reply_bulk_cstr(c, cmd->name);
        for (int j = 0; j < cmd->nsub; j++)
            if (list_keep(&f, &cmd->subcommands[j]))
                reply_bulk_cstr(c, cmd->subcommands[j].name);
    }
}

/* ---- COMMAND GETKEYS / GETKEYSANDFLAGS ----------------------------------- */

/* Key-spec flag names, in KS_* bit order (Redis prints them in this order). */
static const char *const ks_flag_names[] = {
    "RO", "RW", "OW", "RM", "access", "update", "insert", "delete",
    "not_key", "incomplete", "variable_flags",
};

static void reply_key_flags(cb_client *c, uint32_t flags)
{
    int n = 0;
    int count = (int)(sizeof(ks_flag_names) / sizeof(ks_flag_names[0]));
    for (int i = 0; i < count; i++)
        n += (flags >> i) & 1u;
    reply_set_len(c, n);
    for (int i = 0; i < count; i++)
        if ((flags >> i) & 1u)
            reply_status(c, ks_flag_names[i]);
}

static void getkeys(cb_client *c, int with_flags)
{
    int argc = c->argc - 2;
    const char *const *argv = c->argv + 2;
    const size_t *lens = c->argv_len + 2;
    const cb_command *cmd = command_resolve(argc, argv, lens, NULL);
    if (!cmd) {
        reply_error(c, "Invalid command specified");
        return;
    }
    if (!command_has_keys(cmd)) {
        reply_error(c, "The command has no key arguments");
        return;
    }
    if (!command_arity_ok(cmd, argc)) {
        reply_error(c, "Invalid number of arguments specified for command");
        return;
    }
    int n = command_get_keys(cmd, argc, argv, lens, NULL, NULL, 0);
    if (n == 0) {
        if (cmd->flags & CMD_NO_MANDATORY_KEYS)
            reply_empty_array(c);
        else
            reply_error(c, "Invalid arguments specified for command");
        return;
    }
    if (n < 0) { /* Redis answers the (emptied) result here, not an error */
        reply_empty_array(c);
        return;
    }
    int *pos = cb_malloc(sizeof(int) * (size_t)n);
    uint32_t *flags = cb_malloc(sizeof(uint32_t) * (size_t)n);
    n = command_get_keys(cmd, argc, argv, lens, pos, flags, n);
    reply_array_len(c, n);
    for (int i = 0; i < n; i++) {
        if (with_flags)
            reply_array_len(c, 2);
        reply_bulk(c, argv[pos[i]], lens[pos[i]]);
        if (with_flags)
            reply_key_flags(c, flags[i]);
    }
    cb_free(pos);
    cb_free(flags);
}

void cmd_command_getkeys(cb_client *c)
{
    getkeys(c, 0);
}

void cmd_command_getkeysandflags(cb_client *c)
{
    getkeys(c, 1);
}

void cmd_command_help(cb_client *c)
{
    static const char *const lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
    };
    long n = (long)(sizeof(lines) / sizeof(lines[0]));
    reply_array_len(c, n);
    for (long i = 0; i < n; i++)
        reply_status(c, lines[i]);
}
