/* mgmt.c — the management loop: waits on a signalfd and a wake eventfd,
 * runs server-wide periodic work (peak memory), and drives shutdown:
 * SIGINT/SIGTERM or SHUTDOWN -> stop workers -> remove pid/unix socket ->
 * exit code. SIGHUP reopens the log file. Workers never block on it.
 */
#include "mgmt.h"
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../dataplane/server.h"
#include "../dataplane/worker.h"
#include "../dataplane/xshard.h"
#include "../persist/aof.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "memory.h"
#include "../persist/bgsave.h"
#include "repl.h"
#include "replica.h"

static int wake_fd = -1;
static int sig_fd = -1;

int mgmt_init(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    signal(SIGPIPE, SIG_IGN);
    sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return (sig_fd < 0 || wake_fd < 0) ? -1 : 0;
}

void mgmt_wake(void) {
    uint64_t one = 1;
    ssize_t r = write(wake_fd, &one, sizeof(one));
    (void)r;
}

void server_request_shutdown(int flags) {
    __atomic_store_n(&g_server.shutdown_flags, flags, __ATOMIC_RELAXED);
    __atomic_store_n(&g_server.shutdown_asap, 1, __ATOMIC_RELEASE);
    mgmt_wake();
}

static void mgmt_cron(void) {
    uint64_t used = mem_used_total();
    if (used > g_server.stat_peak_memory) g_server.stat_peak_memory = used;
    /* jemalloc's statistics and the RSS, off the request path. */
    static long long last_refresh_ms;
    long long now = util_mstime();
    if (now - last_refresh_ms >= 100) {
        last_refresh_ms = now;
        memstats_refresh();
    }
    /* Snapshot file I/O; save points and scheduled BGSAVEs start here,
     * with every worker parked for the epoch. */
    if (bgsave_mgmt_pump()) {
        xshard_park_all();
        bgsave_start();
        xshard_release_all();
    }
}

/* Shutdown was asked for. A SHUTDOWN command has already taken its final
 * snapshot (and said so with NOSAVE); for a signal, take it now with every
 * worker parked. 0 to go on exiting, -1 to keep running (as Redis does when
 * that save fails). */
static int shutdown_save(void) {
    int flags = __atomic_load_n(&g_server.shutdown_flags, __ATOMIC_RELAXED);
    if (flags & SHUTDOWN_NOSAVE) return 0;
    cb_log(LOG_WARNING, "User requested shutdown...");
    xshard_park_all();
    bgsave_kill("There is a child saving an .rdb. Killing it!");
    bgsave_kill_aof("There is a child rewriting the AOF. Killing it!");
    int rc = server_save_before_exit(flags);
    xshard_release_all();
    if (rc != 0) {
        cb_log(LOG_WARNING, "SIGTERM received but errors trying to shut down the server, "
                            "check the logs for more information");
        __atomic_store_n(&g_server.shutdown_asap, 0, __ATOMIC_RELEASE);
        return -1;
    }
    return 0;
}

void mgmt_check_signals(void) {
    struct signalfd_siginfo si;
    while (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            log_reopen();
            continue;
        }
        cb_log(LOG_WARNING, "Received %s scheduling shutdown...",
               si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        __atomic_store_n(&g_server.shutdown_flags, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&g_server.shutdown_asap, 1, __ATOMIC_RELEASE);
    }
}

/* Wait for signals and wake-ups until shutdown is requested. */
static void wait_for_shutdown(void) {
    while (!__atomic_load_n(&g_server.shutdown_asap, __ATOMIC_ACQUIRE)) {
        struct pollfd pfd[3 + 64 + 1] = {{.fd = sig_fd, .events = POLLIN},
                                         {.fd = wake_fd, .events = POLLIN},
                                         {.fd = aof_event_fd(), .events = POLLIN}};
        int nrep = repl_pollfds(pfd + 3, 64); /* replicas' sockets (repl.c) */
        int nlink = replica_pollfd(pfd + 3 + nrep); /* our master's (replica.c) */
        int n = poll(pfd, (nfds_t)(3 + nrep + nlink), bgsave_child_active() ? 10 : 100);
        if (n < 0 && errno != EINTR) return;
        if (pfd[0].revents & POLLIN) mgmt_check_signals();
        if (pfd[1].revents & POLLIN) {
            uint64_t v;
            ssize_t r = read(wake_fd, &v, sizeof(v));
            (void)r;
        }
        aof_tick(); /* AOF records: write, fsync, rewrites; the replication stream */
        mgmt_cron();
        repl_tick(pfd + 3, nrep); /* replicas: I/O, full syncs, pings */
        replica_tick(pfd + 3 + nrep, nlink); /* our master: handshake, image, stream */
    }
}

int mgmt_run(void) {
    repl_init();
    replica_init();
    do {
        wait_for_shutdown();
    } while (shutdown_save() != 0);
    control_stop(); /* requests in flight finish; they may park the workers */
    server_stop_workers();
    /* A snapshot dropped by the shutdown leaves its temp file to us. */
    bgsave_kill(NULL); /* the workers are gone: nothing else holds a shard */
    bgsave_kill_aof(NULL);
    for (int i = 0; i < 100 && bgsave_child_active(); i++) bgsave_mgmt_pump();
    aof_flush_at_exit();
    repl_shutdown();
    replica_shutdown();
    if (g_config.pidfile && g_config.pidfile[0]) unlink(g_config.pidfile);
    cb_log(LOG_WARNING, "cachebox is now ready to exit, bye bye...");
    return g_server.exit_code;
}
