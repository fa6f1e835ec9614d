/* log.c — the server log. Each line is formatted in full first and then
 * written with one write(2) on an O_APPEND descriptor, so lines from
 * several threads never interleave. The logfile descriptor keeps its number
 * across log_reopen (the new file is dup2'd over it), which lets a thread
 * that is writing while SIGHUP reopens the file proceed without locking.
 * Line format (Redis's): "pid:R 26 Nov 2026 06:09:19.123 * message".
 */

/* <syslog.h> defines LOG_DEBUG/LOG_NOTICE/LOG_WARNING as macros, which would
 * clash with config.h's level enum: capture what we need, then drop them. */
#include <syslog.h>
static const int sys_priority[4] = {LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING};
static const int sys_options = LOG_PID | LOG_NDELAY | LOG_NOWAIT;
static const int sys_facilities[9] = {LOG_USER,   LOG_LOCAL0, LOG_LOCAL1,
                                      LOG_LOCAL2, LOG_LOCAL3, LOG_LOCAL4,
                                      LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7};
#undef LOG_DEBUG
#undef LOG_NOTICE
#undef LOG_WARNING

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_MAX_LEN 1024 /* message part, as Redis truncates it */

static _Thread_local char log_role = 'M';
static atomic_int log_fd = -1;       /* -1: not opened yet */
static atomic_int syslog_opened;

void log_set_role(char role) { log_role = role; }

static int open_logfile(void) {
    const char *path = g_config.logfile;
    if (!path || !*path) return STDOUT_FILENO;
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

void log_reopen(void) {
    int cur = atomic_load(&log_fd);
    int fd = open_logfile();
    if (fd == -1) return; /* keep logging where we were */
    if (fd == STDOUT_FILENO || cur < 0 || cur == STDOUT_FILENO) {
        int expected = cur;
        if (!atomic_compare_exchange_strong(&log_fd, &expected, fd) && fd != STDOUT_FILENO)
            close(fd);
        return;
    }
    /* Same descriptor number, new file: writers never see a closed fd. */
    (void)dup2(fd, cur);
    close(fd);
}

static int facility_of(const char *name) {
    static const char *const names[9] = {"user",   "local0", "local1", "local2", "local3",
                                         "local4", "local5", "local6", "local7"};
    for (int i = 0; name && i < 9; i++)
        if (!strcmp(name, names[i])) return sys_facilities[i];
    return sys_facilities[1];
}

void cb_log(int level, const char *fmt, ...) {
    if (level < LOG_DEBUG || level > LOG_WARNING) return;
    if (level < g_config.loglevel) return;

    char msg[LOG_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timeval tv;
    struct tm tm;
    char when[64];
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(when, sizeof when, "%d %b %Y %H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03d", (int)(tv.tv_usec / 1000));

    static const char marks[4] = {'.', '-', '*', '#'};
    char line[LOG_MAX_LEN + 128];
    int len = snprintf(line, sizeof line, "%d:%c %s %c %s\n", (int)getpid(), log_role, when,
                       marks[level], msg);
    if (len < 0) return;
    if ((size_t)len >= sizeof line) len = (int)sizeof line - 1;

    int fd = atomic_load(&log_fd);
    if (fd < 0) {
        log_reopen();
        fd = atomic_load(&log_fd);
    }
    if (fd >= 0) {
        ssize_t w;
        do {
            w = write(fd, line, (size_t)len);
        } while (w < 0 && errno == EINTR);
    }

    if (g_config.syslog_enabled) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&syslog_opened, &expected, 1))
            openlog(g_config.syslog_ident ? g_config.syslog_ident : "redis", sys_options,
                    facility_of(g_config.syslog_facility));
        syslog(sys_priority[level], "%s", msg);
    }
}
