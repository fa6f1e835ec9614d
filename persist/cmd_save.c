/* cmd_save.c — SAVE, BGSAVE [SCHEDULE] and LASTSAVE with Redis 7.0's replies
 * and errors, and the FLUSHALL follow-up (drop a running snapshot, save
 * again when save points are set). The snapshot machinery is bgsave.c;
 * SAVE and BGSAVE run with every worker parked (dataplane/xshard.c), which
 * is what makes BGSAVE's start one instant across shards.
 */
#include "aof.h"
#include "bgsave.h"

#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"
#include "../platform/config.h"

static const char ERR_BGSAVE_RUNNING[] = "Background save already in progress";
static const char ERR_BGSAVE_AOF[] =
    "Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in "
    "order to schedule a BGSAVE whenever possible.";

void cmd_save(cb_client *c)
{
    if (bgsave_in_progress()) {
        reply_error(c, ERR_BGSAVE_RUNNING);
        return;
    }
    bgsave_count_save();
    if (bgsave_save_sync() == 0)
        reply_ok(c);
    else
        reply_error(c, "-ERR");
}

void cmd_bgsave(cb_client *c)
{
    int schedule = 0;
    if (c->argc > 1) {
        if (c->argc == 2 && arg_eq(c, 1, "schedule")) {
            schedule = 1;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (bgsave_in_progress()) {
        reply_error(c, ERR_BGSAVE_RUNNING);
    } else if (bgsave_aof_in_progress() || aof_rewrite_pending() || (c->flags & CLIENT_MULTI)) {
        /* An AOF rewrite's snapshot runs (one at a time), or inside EXEC:
         * Redis defers the save to its cron when asked to. */
        if (schedule || (c->flags & CLIENT_MULTI)) {
            bgsave_schedule();
            reply_status(c, "Background saving scheduled");
        } else {
            reply_error(c, ERR_BGSAVE_AOF);
        }
    } else if (bgsave_start() == 0) {
        reply_status(c, "Background saving started");
    } else {
        reply_error(c, "-ERR");
    }
}

void cmd_lastsave(cb_client *c)
{
    reply_int(c, (long long)bgsave_lastsave());
}

void bgsave_after_flushall(void *owner)
{
    (void)owner;
    bgsave_kill(NULL);
    if (g_config.save_params && g_config.save_params[0]) bgsave_save_sync();
}
