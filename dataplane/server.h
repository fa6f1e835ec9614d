/* server.h — process-wide server state that command handlers may consult:
 * the workers, start time, aggregate statistics, and hooks the config layer
 * calls when a runtime-changeable directive changes. Per-worker state lives
 * in worker.h; this is the thin shared part, read-mostly.
 */
#ifndef CB_SERVER_H
#define CB_SERVER_H

#include <stdint.h>
#include <stddef.h>

struct cb_worker;
struct cb_client;

/* CONFIG RESETSTAT: zero every worker's and the server's counters. */
void server_reset_stats(void);
/* Apply a changed directive at runtime (rebind, resize, ...). Called by
 * config_set_many after values are stored, before it replies. 0 ok, -1 with
 * *err (static text) set, in which case config restores the old values. */
int server_apply_config(const char *name, char **err);

#endif

/* Lifecycle (main.c / mgmt.c). */
int server_create(char *err, size_t errlen); /* shards, workers, listeners */
int server_start_workers(void);
void server_stop_workers(void);
void server_destroy(void);
/* Stops the DPDK port and EAL, which unmaps the memory the shard arenas
 * used: the very last step, after every free (no-op on the kernel plane). */
void server_release_dataplane(void);
/* Ask the management thread to shut down (SHUTDOWN, signals). */
void server_request_shutdown(int flags);
/* The final snapshot SHUTDOWN and SIGTERM take: with SAVE, or when save
 * points are configured and not NOSAVE. Every shard must be quiet (the
 * other workers parked). 0 ok or nothing to do; -1 failed (logged). */
int server_save_before_exit(int flags);
#define SHUTDOWN_NOSAVE 1
#define SHUTDOWN_SAVE 2
#define SHUTDOWN_NOW 4
#define SHUTDOWN_FORCE 8
