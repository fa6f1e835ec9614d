/* cmd_standalone.c — commands of features cachebox does not run yet
 * (replication, cluster, modules), answered exactly as a standalone Redis
 * 7.0.15 with those features off answers them: FAILOVER,
 * READONLY/READWRITE/ASKING, CLUSTER *, MODULE *; and REPLICAOF/SLAVEOF,
 * which only hands host and port to the replica link (mgmt/replica.c).
 *
 * Clients, sentinels and the Prometheus exporter probe these at connect or
 * scrape time; a faithful "no replicas / cluster disabled / no modules"
 * answer keeps them on their standalone path instead of failing on an
 * unknown command. The master side of replication (ROLE, WAIT, SYNC,
 * PSYNC, REPLCONF) lives in cmd_repl.c. MODULE LOAD/LOADEX/UNLOAD are refused by the
 * dispatcher under enable-module-command (dispatch.c); when allowed they
 * fail as Redis fails on a library it cannot load.
 */
#include <limits.h>
#include <string.h>

#include "../../mgmt/replica.h"
#include "command.h"
#include "../blocking.h"
#include "../client.h"
#include "../resp/reply.h"
#include "../../platform/log.h"
#include "../../platform/util.h"

/* ------------------------------------------------------------ replication */

/* FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]: the arguments are
 * checked as Redis checks them, then it fails for want of replicas. */
void cmd_failover(cb_client *c) {
    if (c->argc == 2 && arg_eq(c, 1, "abort")) {
        reply_error(c, "No failover in progress.");
        return;
    }
    long long timeout = 0, port;
    int has_to = 0, force = 0;
    for (int i = 1; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (arg_eq(c, i, "timeout") && more >= 1 && timeout == 0) {
            if (arg_ll(c, i + 1, &timeout, NULL) != 0) return;
            if (timeout <= 0) {
                reply_error(c, "FAILOVER timeout must be greater than 0");
                return;
            }
            i++;
        } else if (arg_eq(c, i, "to") && more >= 2 && !has_to) {
            if (arg_ll(c, i + 2, &port, NULL) != 0) return;
            has_to = 1;
            i += 2;
        } else if (arg_eq(c, i, "force") && !force) {
            force = 1;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    reply_error(c, "FAILOVER requires connected replicas.");
}

/* REPLICAOF / SLAVEOF host port | NO ONE: records what to follow; the
 * management thread's link (mgmt/replica.c) does the rest, so the reply
 * is immediate, as in Redis. */
static void replicaof(cb_client *c) {
    if (arg_eq(c, 1, "no") && arg_eq(c, 2, "one")) {
        replica_set_master(NULL, 0);
        reply_ok(c);
        return;
    }
    long long port;
    if (arg_ll_range(c, 2, &port, 0, 65535, "Invalid master port") != 0) return;
    char host[256];
    size_t hl = c->argv_len[1] < sizeof(host) - 1 ? c->argv_len[1] : sizeof(host) - 1;
    memcpy(host, c->argv[1], hl);
    host[hl] = '\0';
    if (replica_set_master(host, (int)port)) {
        reply_status(c, "OK Already connected to specified master");
        return;
    }
    reply_ok(c);
}

void cmd_replicaof(cb_client *c) { replicaof(c); }
void cmd_slaveof(cb_client *c) { replicaof(c); }

/* ---------------------------------------------------------------- cluster */

static void cluster_disabled(cb_client *c) {
    reply_error(c, "This instance has cluster support disabled");
}

void cmd_readonly(cb_client *c) { cluster_disabled(c); }
void cmd_readwrite(cb_client *c) { cluster_disabled(c); }
void cmd_asking(cb_client *c) { cluster_disabled(c); }

/* Every CLUSTER subcommand, HELP included, says the same once its arity
 * passed (the dispatcher checked it against the table). */
#define CLUSTER_SUB(n) \
    void cmd_cluster_##n(cb_client *c); \
    void cmd_cluster_##n(cb_client *c) { cluster_disabled(c); }
CLUSTER_SUB(addslots)
CLUSTER_SUB(addslotsrange)
CLUSTER_SUB(bumpepoch)
CLUSTER_SUB(count_failure_reports)
CLUSTER_SUB(countkeysinslot)
CLUSTER_SUB(delslots)
CLUSTER_SUB(delslotsrange)
CLUSTER_SUB(failover)
CLUSTER_SUB(flushslots)
CLUSTER_SUB(forget)
CLUSTER_SUB(getkeysinslot)
CLUSTER_SUB(help)
CLUSTER_SUB(info)
CLUSTER_SUB(keyslot)
CLUSTER_SUB(links)
CLUSTER_SUB(meet)
CLUSTER_SUB(myid)
CLUSTER_SUB(nodes)
CLUSTER_SUB(replicas)
CLUSTER_SUB(replicate)
CLUSTER_SUB(reset)
CLUSTER_SUB(saveconfig)
CLUSTER_SUB(set_config_epoch)
CLUSTER_SUB(setslot)
CLUSTER_SUB(shards)
CLUSTER_SUB(slaves)
CLUSTER_SUB(slots)
#undef CLUSTER_SUB

/* ---------------------------------------------------------------- modules */

void cmd_module_list(cb_client *c) { reply_array_len(c, 0); }

void cmd_module_help(cb_client *c) {
    static const char *const help[] = {
        "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LIST",
        "    Return a list of loaded modules.",
        "LOAD <path> [<arg> ...]",
        "    Load a module library from <path>, passing to it any optional arguments.",
        "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        "    Load a module library from <path>, while passing it module configurations and "
        "optional arguments.",
        "UNLOAD <name>",
        "    Unload a module.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, help);
}

/* Reached only when enable-module-command allows it: no module loader
 * exists, so every library fails to load as a bad one fails in Redis. */
void cmd_module_load(cb_client *c) {
    cb_log(LOG_WARNING, "Module %.*s failed to load: modules are not supported",
           (int)(c->argv_len[2] > 256 ? 256 : c->argv_len[2]), c->argv[2]);
    reply_error(c, "Error loading the extension. Please check the server logs.");
}

void cmd_module_loadex(cb_client *c) { cmd_module_load(c); }

void cmd_module_unload(cb_client *c) {
    reply_error(c, "Error unloading module: no such module with that name");
}
