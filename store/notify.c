/* notify.c — the store side of keyspace notifications: filter by the
 * enabled classes, then hand the event to the shard owner's hook. */
#include "notify.h"
#include "db.h"

void notify_keyspace_event(cb_shard *s, cb_db *db, int type, const char *event,
                           const char *key, size_t len) {
    int flags = s->set->notify_keyspace_events;
    if (!(flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)) || !(flags & type)) return;
    if (s->on_notify) s->on_notify(s->owner, db->id, type, event, key, len);
}
