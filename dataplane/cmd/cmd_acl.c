/* cmd_acl.c — the ACL command: SETUSER GETUSER DELUSER USERS LIST WHOAMI
 * CAT GENPASS LOG LOAD SAVE DRYRUN HELP. The users and rules live in
 * acl.c; this file parses arguments and shapes replies as Redis 7.0 does.
 * SETUSER, DELUSER and LOAD run with the other workers parked (xshard).
 */
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "../acl.h"
#include "../client.h"
#include "../resp/reply.h"
#include "../../platform/config.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

void cmd_acl_setuser(cb_client *c) {
    /* "(" ... ")" selectors may arrive split over several arguments. */
    int n = c->argc - 3;
    const char **argv = cb_malloc(sizeof(char *) * (size_t)(n + 1));
    size_t *lens = cb_malloc(sizeof(size_t) * (size_t)(n + 1));
    char **owned = cb_calloc(sizeof(char *) * (size_t)(n + 1));
    int m = 0, open = -1;
    char *sel = NULL;
    size_t sl = 0;
    for (int j = 3; j < c->argc; j++) {
        const char *op = c->argv[j];
        size_t ol = c->argv_len[j];
        if (open < 0 && ol && op[0] == '(' && op[ol - 1] != ')') {
            sel = cb_memdup(op, ol);
            sl = ol;
            open = j;
            continue;
        }
        if (open >= 0) {
            sel = cb_realloc(sel, sl + ol + 2);
            sel[sl++] = ' ';
            memcpy(sel + sl, op, ol);
            sl += ol;
            sel[sl] = '\0';
            if (ol && op[ol - 1] == ')') {
                owned[m] = sel;
                argv[m] = sel;
                lens[m++] = sl;
                sel = NULL;
                open = -1;
            }
            continue;
        }
        argv[m] = op;
        lens[m++] = ol;
    }
    if (open >= 0) {
        reply_errorf(c, "Unmatched parenthesis in acl selector starting at '%.*s'.",
                     (int)c->argv_len[open], c->argv[open]);
    } else {
        char *err = NULL;
        if (acl_setuser(c->argv[2], c->argv_len[2], m, argv, lens, &err) == 0) {
            acl_kill_pubsub_if_needed(c, acl_lookup_user(c->argv[2], c->argv_len[2]));
            reply_ok(c);
        } else {
            reply_error(c, err);
            cb_free(err);
        }
    }
    cb_free(sel);
    for (int i = 0; i < m; i++) cb_free(owned[i]);
    cb_free(owned);
    cb_free(argv);
    cb_free(lens);
}

void cmd_acl_getuser(cb_client *c) {
    cb_acl_user *u = acl_lookup_user(c->argv[2], c->argv_len[2]);
    if (!u) {
        reply_null(c);
        return;
    }
    acl_reply_getuser(c, u);
}

void cmd_acl_deluser(cb_client *c) {
    long long deleted = 0;
    for (int j = 2; j < c->argc; j++) {
        if (c->argv_len[j] == 7 && !memcmp(c->argv[j], "default", 7)) {
            reply_error(c, "The 'default' user cannot be removed");
            return;
        }
    }
    for (int j = 2; j < c->argc; j++) deleted += acl_deluser(c, c->argv[j], c->argv_len[j]);
    reply_int(c, deleted);
}

void cmd_acl_users(cb_client *c) {
    int n = acl_user_count();
    reply_array_len(c, n);
    for (int i = 0; i < n; i++) reply_bulk_cstr(c, acl_user_name(acl_user_at(i)));
}

void cmd_acl_list(cb_client *c) {
    int n = acl_user_count();
    reply_array_len(c, n);
    for (int i = 0; i < n; i++) {
        char *d = acl_describe_user(acl_user_at(i));
        reply_bulk_cstr(c, d);
        cb_free(d);
    }
}

void cmd_acl_whoami(cb_client *c) { reply_bulk_cstr(c, acl_user_name(c->user)); }

static void cat_commands(cb_client *c, const cb_command *cmd, uint64_t cat, long *n) {
    if (cmd->acl_categories & cat) {
        reply_bulk_cstr(c, command_fullname(cmd));
        (*n)++;
    }
    for (int i = 0; i < cmd->nsub; i++) cat_commands(c, &cmd->subcommands[i], cat, n);
}

static int too_many(cb_client *c, int max, const char *sub) {
    if (c->argc <= max) return 0;
    (void)sub;
    reply_subcommand_syntax(c);
    return 1;
}

void cmd_acl_cat(cb_client *c) {
    if (too_many(c, 3, "CAT")) return;
    if (c->argc == 2) {
        int n = 0;
        while (acl_category_names[n]) n++;
        reply_array_len(c, n);
        for (int i = 0; i < n; i++) reply_bulk_cstr(c, acl_category_names[i]);
        return;
    }
    int cat = command_acl_category(c->argv[2], c->argv_len[2]);
    if (cat < 0) {
        reply_errorf(c, "Unknown category '%.*s'", (int)c->argv_len[2], c->argv[2]);
        return;
    }
    void *h = reply_deferred_len(c);
    long n = 0;
    for (int i = 0; i < command_count(); i++) cat_commands(c, command_at(i), 1ull << cat, &n);
    reply_set_deferred_len(c, h, n, '*');
}

void cmd_acl_genpass(cb_client *c) {
    long long bits = 256;
    if (too_many(c, 3, "GENPASS")) return;
    if (c->argc > 2) {
        if (arg_ll(c, 2, &bits, NULL) != 0) return;
        if (bits <= 0 || bits > 4096) {
            reply_error(c, "ACL GENPASS argument must be the number of bits for the output "
                           "password, a positive number up to 4096");
            return;
        }
    }
    static const char hx[] = "0123456789abcdef";
    size_t chars = (size_t)((bits + 3) / 4);
    unsigned char raw[512];
    util_random_bytes(raw, (chars + 1) / 2);
    char out[1025];
    for (size_t i = 0; i < chars; i++) out[i] = hx[(raw[i / 2] >> ((i % 2) ? 0 : 4)) & 15];
    reply_bulk(c, out, chars);
}

void cmd_acl_log(cb_client *c) {
    long long count = 10;
    if (c->argc == 3) {
        if (arg_eq(c, 2, "reset")) {
            acl_log_reset();
            reply_ok(c);
            return;
        }
        if (arg_ll(c, 2, &count, NULL) != 0) return;
        if (count < 0) count = 0;
    } else if (c->argc > 3) {
        reply_subcommand_syntax(c);
        return;
    }
    acl_reply_log(c, count);
}

static const char NO_ACLFILE[] =
    "This Redis instance is not configured to use an ACL file. You may want to specify users "
    "via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis "
    "configuration file set) in order to store users in the Redis configuration.";

void cmd_acl_load(cb_client *c) {
    if (!g_config.aclfile || !g_config.aclfile[0]) {
        reply_error(c, NO_ACLFILE);
        return;
    }
    char *err = NULL;
    if (acl_load_file(g_config.aclfile, c, &err) != 0) {
        reply_error(c, err);
        cb_free(err);
        return;
    }
    reply_ok(c);
}

void cmd_acl_save(cb_client *c) {
    if (!g_config.aclfile || !g_config.aclfile[0]) {
        reply_error(c, NO_ACLFILE);
        return;
    }
    char *err = NULL;
    if (acl_save_file(g_config.aclfile, &err) != 0) {
        reply_error(c, err);
        cb_free(err);
        return;
    }
    reply_ok(c);
}

void cmd_acl_dryrun(cb_client *c) {
    cb_acl_user *u = acl_lookup_user(c->argv[2], c->argv_len[2]);
    if (!u) {
        reply_errorf(c, "User '%.*s' not found", (int)c->argv_len[2], c->argv[2]);
        return;
    }
    int argc = c->argc - 3;
    const char *const *argv = c->argv + 3;
    const size_t *lens = c->argv_len + 3;
    const cb_command *cmd = command_resolve(argc, argv, lens, NULL);
    if (!cmd) {
        reply_errorf(c, "Command '%.*s' not found", (int)lens[0], argv[0]);
        return;
    }
    if (!command_arity_ok(cmd, argc)) {
        reply_errorf(c, "wrong number of arguments for '%s' command", command_fullname(cmd));
        return;
    }
    int pos = 0;
    int rc = acl_check(u, cmd, argc, argv, lens, &pos);
    char msg[512];
    switch (rc) {
    case ACL_OK:
        reply_ok(c);
        return;
    case ACL_DENIED_CMD:
        snprintf(msg, sizeof(msg), "This user has no permissions to run the '%s' command",
                 command_fullname(cmd));
        break;
    case ACL_DENIED_KEY:
        snprintf(msg, sizeof(msg), "This user has no permissions to access the '%.*s' key",
                 (int)(lens[pos] > 256 ? 256 : lens[pos]), argv[pos]);
        break;
    default:
        snprintf(msg, sizeof(msg), "This user has no permissions to access the '%.*s' channel",
                 (int)(lens[pos] > 256 ? 256 : lens[pos]), argv[pos]);
        break;
    }
    reply_bulk_cstr(c, msg);
}

void cmd_acl_help(cb_client *c) {
    static const char *const lines[] = {
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
        NULL};
    reply_help(c, lines);
}
