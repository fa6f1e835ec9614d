/* xshard.h — commands whose keys live in another worker's shard.
 *
 * A key belongs to shard util_key_slot(key) % nworkers. The dispatcher asks
 * xshard_route() where a command must run:
 *   - LOCAL:  no keys, or every key in the client's own shard — run here;
 *   - REMOTE: every key in one other shard — the command joins the client's
 *             run of consecutive commands for that worker; the run travels
 *             over an SPSC ring, the owner runs it on a proxy client and sends
 *             the replies back in one message. The client waits meanwhile,
 *             so a pipeline keeps its order;
 *   - ALL:    keys in several shards, or a keyspace-wide command — the worker
 *             parks every other worker at a safe point of its loop, runs the
 *             command with all shards in reach, then releases them.
 * With one worker everything is LOCAL and none of this costs anything.
 * The design is described in docs/connection-layer.md ("Workers and shards").
 */
#ifndef CB_XSHARD_H
#define CB_XSHARD_H

#include "client.h"

struct cb_worker;
struct cb_command;

enum { ROUTE_LOCAL = 0, ROUTE_REMOTE = 1, ROUTE_ALL = 2 };

/* Where cmd must run; for ROUTE_REMOTE *owner is the owning worker's id and
 * for ROUTE_ALL *owner is the single owner of all its keys or -1. */
int xshard_route(cb_client *c, const struct cb_command *cmd, int *owner);
/* Add the current command to the client's run for worker `owner`; 0 when
 * it cannot join (another owner, or the run is full): flush first. */
int xshard_batch_add(cb_client *c, const struct cb_command *cmd, int owner);
/* Send the client's run, if any; the client then waits (held == 2) for the
 * replies, delivered through conn_forward_done. */
void xshard_flush(cb_client *c);
/* Hand a client-tracking message to worker dst (tracking_deliver there). */
void xshard_send_tracking(struct cb_worker *w, int dst, const void *data, size_t len);
/* Wake the workers this one sent messages to since its last service turn
 * (for messages sent after xshard_service in a loop turn). */
void xshard_kick(struct cb_worker *w);
/* Hand a MONITOR line to the monitors of every other worker. */
void xshard_feed_monitors(struct cb_worker *w, const char *line, size_t len);
/* Park every other worker (returns when all are parked) / release them. */
void xshard_park_others(struct cb_worker *w);
void xshard_release(struct cb_worker *w);
/* From the management thread: park every worker (e.g. to snapshot the
 * dataset at SIGTERM), then release them. */
void xshard_park_all(void);
void xshard_release_all(void);
/* Per loop turn: join a park request, run forwarded commands, deliver
 * replies, flush messages that found a ring full. Returns 1 if it did work. */
int xshard_service(struct cb_worker *w);
/* Messages waiting for this worker (decides whether the loop may sleep). */
int xshard_pending(const struct cb_worker *w);
/* Per-worker set-up/tear-down of the rings (called by worker_create/destroy). */
int xshard_init_worker(struct cb_worker *w, int nworkers);
void xshard_free_worker(struct cb_worker *w);

/* Runs cmd (argv already resolved to it) on a client with no connection
 * while every worker is parked: on the shard owning its keys, with every
 * shard's clock set, the replies dropped (AOF loading, a replica's stream). */
void xshard_run_detached(cb_client *c, const struct cb_command *cmd, int argc, const char **argv,
                         size_t *lens);

#endif
