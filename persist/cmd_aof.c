/* cmd_aof.c — BGREWRITEAOF. The rewrite itself runs on the management
 * thread (aof.c); the command only asks for it and answers at once with
 * Redis 7.0's replies: during a BGSAVE it is scheduled (one snapshot at
 * a time) and starts when the BGSAVE is done.
 */
#include "aof.h"

#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"

void cmd_bgrewriteaof(cb_client *c) {
    int rc = aof_request_rewrite();
    if (rc == 1) {
        reply_error(c, "Background append only file rewriting already in progress");
        return;
    }
    if (rc == 2 || (c->flags & CLIENT_MULTI))
        reply_status(c, "Background append only file rewriting scheduled");
    else
        reply_status(c, "Background append only file rewriting started");
}
