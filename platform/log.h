/* log.h — the server log in Redis's line format
 * ("pid:role dd Mon yyyy hh:mm:ss.mmm * message"), to stdout, a logfile
 * and/or syslog per the loglevel/logfile/syslog-* directives. Thread-safe:
 * each line is one write(2). Passwords and tokens are never passed here.
 */
#ifndef CB_LOG_H
#define CB_LOG_H

#include "config.h"

/* level is LOG_DEBUG..LOG_WARNING from config.h. */
void cb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Role letter in each line: 'M' management, 'W' worker, 'C' child-less tools. */
void log_set_role(char role);
/* Reopen the logfile (SIGHUP, CONFIG SET logfile). */
void log_reopen(void);

#endif
