/* cmd_server.c — connection and server commands: PING, ECHO, QUIT, RESET,
 * AUTH, HELLO, TIME, SHUTDOWN, MONITOR. Texts are Redis 7.0's.
 */
#include <string.h>

#include "command.h"
#include "../acl.h"
#include "../client.h"
#include "../conn.h"
#include "../multi.h"
#include "../pubsub.h"
#include "../tracking.h"
#include "../server.h"
#include "../worker.h"
#include "../resp/reply.h"
#include "../../persist/bgsave.h"
#include "../../persist/loading.h"
#include "../../platform/config.h"
#include "../../platform/log.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

void cmd_ping(cb_client *c) {
    if (c->argc > 2) {
        reply_error(c, "wrong number of arguments for 'ping' command");
        return;
    }
    if ((c->flags & CLIENT_PUBSUB) && c->resp == 2) {
        /* In RESP2 subscriber mode PING answers in the push shape. */
        reply_array_len(c, 2);
        reply_bulk(c, "pong", 4);
        reply_bulk(c, c->argc == 2 ? c->argv[1] : "", c->argc == 2 ? c->argv_len[1] : 0);
        return;
    }
    if (c->argc == 2)
        reply_bulk(c, c->argv[1], c->argv_len[1]);
    else
        reply_status(c, "PONG");
}

void cmd_echo(cb_client *c) { reply_bulk(c, c->argv[1], c->argv_len[1]); }

void cmd_quit(cb_client *c) {
    reply_ok(c);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* 1 authenticated; 0 and an error reply sent. The users and their
 * passwords live in acl.c; requirepass is the default user's password. */
static int check_credentials(cb_client *c, const char *user, size_t ul, const char *pass,
                             size_t pl) {
    if (acl_authenticate(c, user, ul, pass, pl) != 0) {
        reply_error(c, "-WRONGPASS invalid username-password pair or user is disabled.");
        return 0;
    }
    return 1;
}

void cmd_auth(cb_client *c) {
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (c->argc == 2) {
        if (acl_default_nopass()) {
            reply_error(c, "AUTH <password> called without any password configured for the "
                           "default user. Are you sure your configuration is correct?");
            return;
        }
        if (check_credentials(c, "default", 7, c->argv[1], c->argv_len[1])) reply_ok(c);
        return;
    }
    if (check_credentials(c, c->argv[1], c->argv_len[1], c->argv[2], c->argv_len[2]))
        reply_ok(c);
}

void cmd_hello(cb_client *c) {
    long long ver = 0;
    int next = 1;
    if (c->argc >= 2) {
        if (!util_str2ll(c->argv[1], c->argv_len[1], &ver) || ver < -2147483648LL ||
            ver > 2147483647LL) {
            reply_error(c, "Protocol version is not an integer or out of range");
            return;
        }
        next = 2;
        if (ver < 2 || ver > 3) {
            reply_error(c, "-NOPROTO unsupported protocol version");
            return;
        }
    }
    const char *user = NULL, *pass = NULL, *name = NULL;
    size_t ul = 0, pl = 0, nl = 0;
    int has_name = 0;
    for (int i = next; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (arg_eq(c, i, "auth") && more >= 2) {
            user = c->argv[i + 1];
            ul = c->argv_len[i + 1];
            pass = c->argv[i + 2];
            pl = c->argv_len[i + 2];
            i += 2;
        } else if (arg_eq(c, i, "setname") && more >= 1) {
            name = c->argv[i + 1];
            nl = c->argv_len[i + 1];
            has_name = 1;
            i += 1;
        } else {
            reply_errorf(c, "Syntax error in HELLO option '%.*s'", (int)c->argv_len[i], c->argv[i]);
            return;
        }
    }
    if (user && !check_credentials(c, user, ul, pass, pl)) return;
    if (!c->authenticated) {
        reply_error(c, "-NOAUTH HELLO must be called with the client already authenticated, "
                       "otherwise the HELLO AUTH <user> <pass> option can be used to "
                       "authenticate the client and select the RESP protocol version at the "
                       "same time");
        return;
    }
    if (has_name) {
        for (size_t i = 0; i < nl; i++) {
            if (name[i] < '!' || name[i] > '~') {
                reply_error(c, "Client names cannot contain spaces, newlines or special characters.");
                return;
            }
        }
        cb_free(c->name);
        c->name = nl ? cb_memdup(name, nl) : NULL;
    }
    if (ver) c->resp = (int)ver;
    reply_map_len(c, 7);
    reply_bulk_cstr(c, "server");
    reply_bulk_cstr(c, "redis");
    reply_bulk_cstr(c, "version");
    reply_bulk_cstr(c, "7.0.15");
    reply_bulk_cstr(c, "proto");
    reply_int(c, c->resp);
    reply_bulk_cstr(c, "id");
    reply_int(c, (long long)c->id);
    reply_bulk_cstr(c, "mode");
    reply_bulk_cstr(c, "standalone");
    reply_bulk_cstr(c, "role");
    reply_bulk_cstr(c, "master");
    reply_bulk_cstr(c, "modules");
    reply_array_len(c, 0);
}

void cmd_reset(cb_client *c) {
    multi_reset_client(c); /* RESET runs with the other workers parked */
    pubsub_client_reset(c);
    tracking_disable(c);
    client_select_db(c, 0);
    c->resp = 2;
    cb_free(c->name);
    c->name = NULL;
    c->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT | CLIENT_NO_EVICT);
    if (c->flags & CLIENT_MONITOR) {
        c->flags &= ~CLIENT_MONITOR;
        __atomic_sub_fetch(&g_server.monitors, 1, __ATOMIC_RELAXED);
        __atomic_sub_fetch(&c->w->nmonitors, 1, __ATOMIC_RELAXED);
    }
    c->user = NULL; /* back to the default user, as Redis's RESET does */
    c->authenticated = acl_new_client_authenticated();
    reply_status(c, "RESET");
}

void cmd_time(cb_client *c) {
    long long us = util_ustime();
    reply_array_len(c, 2);
    reply_bulk_ll(c, us / 1000000);
    reply_bulk_ll(c, us % 1000000);
}

void cmd_monitor(cb_client *c) {
    if (c->flags & CLIENT_MONITOR) return;
    c->flags |= CLIENT_MONITOR;
    __atomic_add_fetch(&g_server.monitors, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&c->w->nmonitors, 1, __ATOMIC_RELAXED);
    reply_ok(c);
}

void cmd_shutdown(cb_client *c) {
    int flags = 0;
    for (int i = 1; i < c->argc; i++) {
        if (arg_eq(c, i, "nosave"))
            flags |= SHUTDOWN_NOSAVE;
        else if (arg_eq(c, i, "save"))
            flags |= SHUTDOWN_SAVE;
        else if (arg_eq(c, i, "now"))
            flags |= SHUTDOWN_NOW;
        else if (arg_eq(c, i, "force"))
            flags |= SHUTDOWN_FORCE;
        else if (arg_eq(c, i, "abort") && c->argc == 2) {
            /* Shutdown here is immediate: nothing is ever waiting to abort. */
            reply_error(c, "No shutdown in progress.");
            return;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if ((flags & SHUTDOWN_NOSAVE) && (flags & SHUTDOWN_SAVE)) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    /* A half-loaded dataset is never saved over the file it came from. */
    if (loading_active()) flags = (flags & ~SHUTDOWN_SAVE) | SHUTDOWN_NOSAVE;
    /* SHUTDOWN runs with the other workers parked (xshard), so the final
     * snapshot sees every shard as of this moment. */
    bgsave_kill("There is a child saving an .rdb. Killing it!");
    bgsave_kill_aof("There is a child rewriting the AOF. Killing it!");
    if (server_save_before_exit(flags) != 0) {
        reply_error(c, "Errors trying to SHUTDOWN. Check logs.");
        return;
    }
    cb_log(LOG_WARNING, "User requested shutdown...");
    /* No reply on success: the connection just closes, as with Redis. */
    c->flags |= CLIENT_CLOSE_ASAP;
    server_request_shutdown(flags | SHUTDOWN_NOSAVE); /* saved above if needed */
}
