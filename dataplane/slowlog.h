/* slowlog.h — the slow log: commands that ran at least
 * slowlog-log-slower-than microseconds, kept per worker (each worker logs
 * the commands it ran, no lock on the call path) and merged by id on read.
 * SLOWLOG GET/LEN/RESET run with the other workers parked, so reading or
 * clearing their logs is safe. See docs/latency.md.
 */
#ifndef CB_SLOWLOG_H
#define CB_SLOWLOG_H

#include "client.h"
#include "../store/ds/cbstr.h"

struct cb_worker;

/* After a call: log it when slow enough (the caller checked the command is
 * not flagged skip_slowlog). dur_us is the call's own time. */
void slowlog_maybe_record(cb_client *c, long long dur_us);
/* Free a worker's log (worker shutdown). */
void slowlog_free(struct cb_worker *w);
/* One entry as the control port sees it (valid during the visit). */
typedef struct slowlog_view {
    uint64_t id;
    long long time, duration_us;
    int argc;
    const cbstr *argv;
    const char *peer, *cname; /* NUL-terminated */
} slowlog_view;
/* Control port (workers parked): the newest count entries (all: -1), as
 * SLOWLOG GET merges them, newest first. */
void slowlog_visit(long long count, void (*fn)(void *priv, const slowlog_view *e), void *priv);

#endif
