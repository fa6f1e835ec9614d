/* slowlog.h — the slow log: commands that ran at least
 * slowlog-log-slower-than microseconds, kept per worker (each worker logs
 * the commands it ran, no lock on the call path) and merged by id on read.
 * SLOWLOG GET/LEN/RESET run with the other workers parked, so reading or
 * clearing their logs is safe. See docs/latency.md.
 */
#ifndef CB_SLOWLOG_H
#define CB_SLOWLOG_H

#include "client.h"

struct cb_worker;

/* After a call: log it when slow enough (the caller checked the command is
 * not flagged skip_slowlog). dur_us is the call's own time. */
void slowlog_maybe_record(cb_client *c, long long dur_us);
/* Free a worker's log (worker shutdown). */
void slowlog_free(struct cb_worker *w);

#endif
