/* keyspace_events.h — delivery of keyspace notifications (keyspace_events.c). */
#ifndef CB_KEYSPACE_EVENTS_H
#define CB_KEYSPACE_EVENTS_H

#include <stddef.h>

/* The shard's on_notify hook (store/notify.h's cb_notify_hook): publishes
 * the __keyspace@/__keyevent@ messages the enabled classes ask for. */
void keyspace_event_publish(void *owner, int dbid, int type, const char *event,
                            const char *key, size_t len);

#endif
