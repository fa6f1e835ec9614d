/* cmd_aof.c — BGREWRITEAOF. The rewrite itself runs on the management
 * thread (aof.c); the command only asks for it and answers at once with
 * Redis 7.0's replies.
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
    if (c->flags & CLIENT_MULTI)
        reply_status(c, "Background append only file rewriting scheduled");
    else
        reply_status(c, "Background append only file rewriting started");
}
