/* cmd_save.c — SAVE, BGSAVE [SCHEDULE] and LASTSAVE with Redis 7.0's replies
 * and errors, and the FLUSHALL follow-up (drop a running snapshot, save
 * again when save points are set). The snapshot machinery is bgsave.c;
 * SAVE and BGSAVE run with every worker parked (dataplane/xshard.c), which
 * is what makes BGSAVE's start one instant across shards.
 */
#include "aof.h"
#include "bgsave.h"

#include <unistd.h>

#include "rdb.h"
#include "../dataplane/client.h"
#include "../dataplane/worker.h"
#include "../dataplane/dpdk/dpdk_driver.h"
#include "../dataplane/resp/reply.h"
#include "../platform/config.h"
#include "../platform/util.h"

static const char ERR_BGSAVE_RUNNING[] = "Background save already in progress";
static const char ERR_BGSAVE_AOF[] =
    "Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in "
    "order to schedule a BGSAVE whenever possible.";

/* SAVE holds this worker (and the others, parked) for as long as the file
 * takes. rdb-key-save-delay paces it per key as in Redis; on the DPDK plane
 * the worker's stack keeps moving meanwhile (ping, handshakes, ACKs,
 * timers), while clients wait for their replies as Redis's do. */
typedef struct save_pace {
    cb_client *c;
    uint64_t last_us;
    uint32_t rnd;
} save_pace;

static void save_key_hook(void *arg)
{
    save_pace *p = arg;
    int d = g_config.rdb_key_save_delay;
    if (d < 0) { /* Redis's meaning: one microsecond every -d keys */
        p->rnd = p->rnd * 1103515245u + 12345u;
        d = (p->rnd >> 8) % (uint32_t)(-(long long)d) == 0 ? 1 : 0;
    }
    if (d > 0) usleep((useconds_t)d);
    if (!p->c->w || !p->c->w->dpdk) return;
    uint64_t now = util_monotonic_us();
    if (now - p->last_us >= 1000) {
        p->last_us = now;
        ddrv_stack_poll(p->c->w, p->c);
    }
}

void cmd_save(cb_client *c)
{
    if (bgsave_in_progress()) {
        reply_error(c, ERR_BGSAVE_RUNNING);
        return;
    }
    bgsave_count_save();
    save_pace pace = {.c = c, .last_us = util_monotonic_us(), .rnd = (uint32_t)c->id | 1u};
    rdb_save_set_key_hook(save_key_hook, &pace);
    int rc = bgsave_save_sync();
    rdb_save_set_key_hook(NULL, NULL);
    if (rc == 0)
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
