/* keyspace_events.c — the shard owner's side of keyspace notifications
 * (store/notify.h): turns an event the store raised into the two Pub/Sub
 * messages Redis sends, __keyspace@<db>__:<key> carrying the event name and
 * __keyevent@<db>__:<event> carrying the key, in that order, through the
 * PUBLISH delivery path (pubsub.c), so subscribers on any worker get them.
 * The store has already filtered by the enabled classes.
 */
#include "keyspace_events.h"

#include <stdio.h>
#include <string.h>

#include "pubsub.h"
#include "worker.h"
#include "../platform/config.h"
#include "../platform/mem.h"
#include "../store/notify.h"

void keyspace_event_publish(void *owner, int dbid, int type, const char *event,
                            const char *key, size_t len) {
    (void)owner;
    (void)type;
    if (!pubsub_has_subscribers()) return;
    /* The worker running the command, which may not own the shard (a
     * command spanning shards runs on one worker with the others parked). */
    cb_worker *self = worker_self();
    int flags = g_config.store.notify_keyspace_events;
    size_t evlen = strlen(event);
    char prefix[48];
    if (flags & NOTIFY_KEYSPACE) {
        int n = snprintf(prefix, sizeof prefix, "__keyspace@%d__:", dbid);
        char stackbuf[256];
        size_t chlen = (size_t)n + len;
        char *ch = chlen <= sizeof stackbuf ? stackbuf : cb_malloc(chlen);
        memcpy(ch, prefix, (size_t)n);
        memcpy(ch + n, key, len);
        pubsub_publish(self, ch, chlen, event, evlen);
        if (ch != stackbuf) cb_free(ch);
    }
    if (flags & NOTIFY_KEYEVENT) {
        char ch[160];
        int n = snprintf(ch, sizeof ch, "__keyevent@%d__:%s", dbid, event);
        pubsub_publish(self, ch, (size_t)n, key, len);
    }
}
