/* notify.h — keyspace notifications raised by store code. Commands call
 * notify_keyspace_event() after a change with the event's class and name;
 * the shard's owner (the data plane) turns it into __keyspace@<db>__ and
 * __keyevent@<db>__ messages when notify-keyspace-events enables the class.
 * The store keeps no state of its own here: the enabled classes live in the
 * shard's settings and delivery in the owner's hook.
 */
#ifndef CB_NOTIFY_H
#define CB_NOTIFY_H

#include <stddef.h>

struct cb_shard;
struct cb_db;

/* Event classes (Redis 7.0's notify-keyspace-events letters). */
#define NOTIFY_KEYSPACE (1 << 0) /* K */
#define NOTIFY_KEYEVENT (1 << 1) /* E */
#define NOTIFY_GENERIC  (1 << 2) /* g */
#define NOTIFY_STRING   (1 << 3) /* $ */
#define NOTIFY_LIST     (1 << 4) /* l */
#define NOTIFY_SET      (1 << 5) /* s */
#define NOTIFY_HASH     (1 << 6) /* h */
#define NOTIFY_ZSET     (1 << 7) /* z */
#define NOTIFY_EXPIRED  (1 << 8) /* x */
#define NOTIFY_EVICTED  (1 << 9) /* e */
#define NOTIFY_STREAM   (1 << 10) /* t */
#define NOTIFY_KEY_MISS (1 << 11) /* m (not part of A) */
#define NOTIFY_LOADED   (1 << 12) /* module key loaded (never raised here) */
#define NOTIFY_MODULE   (1 << 13) /* d */
#define NOTIFY_NEW      (1 << 14) /* n (not part of A) */

/* Owner's delivery hook: dbid, class, event name, key. */
typedef void (*cb_notify_hook)(void *owner, int dbid, int type, const char *event,
                               const char *key, size_t len);

/* Raise event `event` of class `type` for key in db; a no-op unless the
 * class is enabled in the shard's settings. */
void notify_keyspace_event(struct cb_shard *s, struct cb_db *db, int type,
                           const char *event, const char *key, size_t len);

/* Shorthand for command handlers: key argument i of client c, in the
 * client's current shard and db (a macro so this header needs no client). */
#define NOTIFY_ARG(c, type, event, i)                                         \
    notify_keyspace_event((c)->shard, (c)->db, (type), (event), (c)->argv[i], \
                          (c)->argv_len[i])

#endif
