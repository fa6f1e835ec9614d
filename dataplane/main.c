/* main.c — process start-up in the order redis-server users expect:
 * configuration (file + --directives) -> daemonize -> log -> listeners ->
 * pidfile -> workers (answering -LOADING) -> load the dataset -> ready (log
 * line, sd_notify) -> management loop -> orderly exit. Everything else
 * lives in its layer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef CB_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "acl.h"
#include "cmd/command.h"
#include "server.h"
#include "worker.h"
#include "../mgmt/control.h"
#include "../mgmt/info.h"
#include "../mgmt/mgmt.h"
#include "../persist/rdb.h"
#include "../persist/aof.h"
#include "../persist/bgsave.h"
#include "../persist/loading.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/util.h"

static void usage(void) {
    fprintf(stderr,
            "Usage: ./cachebox [/path/to/cachebox.conf] [options] [-]\n"
            "       ./cachebox - (read config from stdin)\n"
            "       ./cachebox -v or --version\n"
            "       ./cachebox -h or --help\n\n"
            "Examples:\n"
            "       ./cachebox (run the server with the embedded default configuration)\n"
            "       ./cachebox /etc/cachebox/cachebox.conf\n"
            "       ./cachebox --port 7777\n"
            "       ./cachebox /etc/mycachebox.conf --loglevel verbose\n");
}

static void daemonize(void) {
    /* Done before any thread exists; the parent exits at once. */
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid > 0) exit(0);
    setsid();
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO) close(fd);
    }
}

static void write_pidfile(void) {
    if (!g_config.pidfile || !g_config.pidfile[0]) return;
    FILE *f = fopen(g_config.pidfile, "w");
    if (!f) {
        cb_log(LOG_WARNING, "Failed to write PID file: %s", strerror(errno));
        return;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
}

/* A load that failed: the workers stay parked while the process exits.
 * One stopped by SHUTDOWN during the load goes on to the orderly exit. */
static void load_failed(void) {
    if (!__atomic_load_n(&g_server.shutdown_asap, __ATOMIC_ACQUIRE)) exit(1);
    /* Whatever asked (SIGTERM too), a half-loaded dataset is not saved. */
    __atomic_or_fetch(&g_server.shutdown_flags, SHUTDOWN_NOSAVE, __ATOMIC_RELAXED);
}

/* Loads dir/dbfilename (we run in dir) into every worker's shard while the
 * workers answer -LOADING (persist/loading.h). A missing file means an
 * empty start; a bad one stops the server, as Redis does, rather than
 * serve a partial dataset. */
static void load_data_from_disk(void) {
    if (g_config.appendonly && g_server.nworkers >= 1) {
        /* With the AOF on, it alone is the data set, as in Redis. */
        cb_shard **sh = cb_malloc(sizeof(*sh) * (size_t)g_server.nworkers);
        for (int i = 0; i < g_server.nworkers; i++) sh[i] = g_server.workers[i]->shard;
        int arc = aof_load_at_startup(sh, g_server.nworkers);
        cb_free(sh);
        if (arc < 0) load_failed();
        return;
    }
    if (!g_config.dbfilename || !g_config.dbfilename[0] || g_server.nworkers < 1) return;
    cb_shard **shards = cb_malloc(sizeof(*shards) * (size_t)g_server.nworkers);
    for (int i = 0; i < g_server.nworkers; i++) shards[i] = g_server.workers[i]->shard;
    long long start = util_ustime();
    char *err = NULL;
    rdb_load_info info = {0};
    struct stat st;
    loading_start(stat(g_config.dbfilename, &st) == 0 ? (uint64_t)st.st_size : 0);
    loading_attach(&info);
    loading_hold();
    int rc = rdb_load_file_ex(shards, g_server.nworkers, g_config.dbfilename, &info, &err);
    cb_free(shards);
    if (rc < 0) {
        if (__atomic_load_n(&g_server.shutdown_asap, __ATOMIC_ACQUIRE))
            cb_log(LOG_WARNING, "Loading stopped by a shutdown request.");
        else
            cb_log(LOG_WARNING, "Fatal error loading the DB: %s. Exiting.", err);
        cb_free(err);
        load_failed();
        return;
    }
    if (rc == 0) bgsave_note_load(info.keys_loaded, info.keys_expired);
    if (rc == 0)
        cb_log(LOG_NOTICE, "DB loaded from disk: %.3f seconds",
               (double)(util_ustime() - start) / 1000000);
}

int main(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        printf("cachebox v=%s redis-compat=7.0.15 bits=%d malloc=%s\n", CACHEBOX_VERSION,
               (int)(sizeof(long) * 8), mem_allocator_name());
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage();
        return 0;
    }
    config_init_defaults();
    if (config_load_argv(argc, argv) < 0) return 1;
    if (command_table_init() != 0) {
        fprintf(stderr, "command table initialisation failed\n");
        return 1;
    }
    for (int i = 0; i < config_deferred_count("rename-command"); i++) {
        int rargc;
        char *const *rargv = config_deferred_at("rename-command", i, &rargc);
        const char *why = "wrong number of arguments";
        if (rargc != 2 || command_rename(rargv[0], rargv[1], &why) != 0) {
            fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR (cachebox) ***\n"
                            ">>> 'rename-command %s'\n%s\n", rargc ? rargv[0] : "", why);
            return 1;
        }
    }
    {
        char aclerr[1024];
        if (acl_init(aclerr, sizeof(aclerr)) != 0) {
            fprintf(stderr, "%s\n", aclerr);
            return 1;
        }
    }
    int supervised_systemd = g_config.supervised == SUPERVISED_SYSTEMD ||
                             (g_config.supervised == SUPERVISED_AUTO && getenv("NOTIFY_SOCKET"));
    if (g_config.daemonize && !supervised_systemd) daemonize();
    if (g_config.dir && g_config.dir[0] && chdir(g_config.dir) < 0) {
        cb_log(LOG_WARNING, "Can't chdir to '%s': %s", g_config.dir, strerror(errno));
        return 1;
    }
    if (realpath(argv[0], g_server.executable) == NULL)
        snprintf(g_server.executable, sizeof(g_server.executable), "%s", argv[0]);
    log_set_role('M');
    cb_log(LOG_NOTICE, "oO0OoO0OoO0Oo cachebox is starting oO0OoO0OoO0Oo");
    cb_log(LOG_NOTICE, "cachebox version=%s, redis-compat=7.0.15, bits=%d, pid=%d, just started",
           CACHEBOX_VERSION, (int)(sizeof(long) * 8), (int)getpid());
    if (!g_config.config_file)
        cb_log(LOG_WARNING, "Warning: no config file specified, using the default config. "
                            "In order to specify a config file use %s /path/to/cachebox.conf",
               argv[0]);
    if (mgmt_init() < 0) {
        cb_log(LOG_WARNING, "Failed to set up the management loop: %s", strerror(errno));
        return 1;
    }
    char err[512];
    if (server_create(err, sizeof(err)) < 0) {
        cb_log(LOG_WARNING, "Warning: %s", err);
        if (g_config.dataplane == DATAPLANE_DPDK)
            cb_log(LOG_WARNING, "Failed to start the DPDK data plane, aborting.");
        else
            cb_log(LOG_WARNING, "Failed listening on port %d (tcp), aborting.", g_config.port);
        server_destroy();
        server_release_dataplane();
        return 1;
    }
    /* Before loading, so that /health/ready can say "loading". */
    if (control_start(err, sizeof(err)) < 0) {
        cb_log(LOG_WARNING, "Warning: %s", err);
        return 1;
    }
    info_init();
    write_pidfile();
    /* The workers answer -LOADING until the dataset is in. */
    loading_start(0);
    loading_set_poll(mgmt_check_signals);
    if (server_start_workers() < 0) {
        cb_log(LOG_WARNING, "Failed to start worker threads: %s", strerror(errno));
        return 1;
    }
    cb_log(LOG_NOTICE, "Server initialized");
    load_data_from_disk();
    loading_hold();
    if (!__atomic_load_n(&g_server.shutdown_asap, __ATOMIC_ACQUIRE) && aof_open_at_startup() != 0)
        exit(1);
    loading_stop();
    if (!__atomic_load_n(&g_server.shutdown_asap, __ATOMIC_ACQUIRE)) {
        control_set_ready();
        if (g_config.port) cb_log(LOG_NOTICE, "Ready to accept connections tcp");
        if (g_config.unixsocket && g_config.unixsocket[0])
            cb_log(LOG_NOTICE, "Ready to accept connections unix");
#ifdef CB_HAVE_SYSTEMD
        if (supervised_systemd) sd_notify(0, "READY=1\nSTATUS=Ready to accept connections");
#endif
    }
    int rc = mgmt_run();
#ifdef CB_HAVE_SYSTEMD
    if (supervised_systemd) sd_notify(0, "STOPPING=1");
#endif
    server_destroy();
    acl_shutdown();
    server_release_dataplane();
    return rc;
}
