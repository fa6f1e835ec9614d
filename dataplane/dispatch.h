/* dispatch.h — running one parsed command: lookup in the command table,
 * arity, authentication, DEBUG gating, CLIENT PAUSE, the call itself with
 * its statistics, MONITOR feed, and the CLIENT REPLY bookkeeping after it.
 */
#ifndef CB_DISPATCH_H
#define CB_DISPATCH_H

#include "client.h"

enum { DISPATCH_DONE = 0, DISPATCH_HELD = 1 };

/* Run c->argv; DISPATCH_HELD when CLIENT PAUSE holds it back. */
int dispatch_command(cb_client *c);
/* The call itself (time snapshot, handler, statistics), with no checks:
 * for commands already admitted, e.g. forwarded from another worker. */
void dispatch_call(cb_client *c, const struct cb_command *cmd);
/* maxmemory: evict on c->shard as needed, then refuse cmd with Redis's
 * -OOM error when memory could not be brought under the limit and cmd
 * may grow it (deny-OOM, an EXEC of such, anything queued in MULTI).
 * 1 when refused (the error is already replied). */
int dispatch_reject_oom(cb_client *c, const struct cb_command *cmd);
/* Whether c's shard is out of memory now (maxmemory set and eviction
 * cannot make room): Redis's pre-command OOM state. */
int dispatch_oom_state(cb_client *c);
/* 1 when the pause in force holds this command. */
int dispatch_paused_for(const cb_client *c, const struct cb_command *cmd);

#endif
