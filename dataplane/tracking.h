/* tracking.h — client-side caching (CLIENT TRACKING) as Redis 7.0 does it:
 * the keys a tracking client reads are remembered per shard, and a write to
 * one of them sends that client an invalidation (RESP3 push, or a Pub/Sub
 * message on __redis__:invalidate of its REDIRECT client); BCAST clients get
 * every key under their prefixes, batched once per loop turn.
 *
 * Call order: dispatch_call -> tracking_after_read (read commands);
 * the shard's on_modified hook -> tracking_key_modified (writes, expiry,
 * eviction, FLUSH with key NULL); dispatch -> tracking_after_command (the
 * invalidations the current client caused for itself leave after its
 * reply); the worker loop -> tracking_before_sleep (BCAST batches);
 * xshard -> tracking_deliver (messages from other workers).
 * Design: docs/client-tracking.md.
 */
#ifndef CB_TRACKING_H
#define CB_TRACKING_H

#include <stddef.h>
#include <stdint.h>
#include "client.h"

struct cb_worker;
struct cb_db;
struct cb_command;

/* Per-shard tables; called once by server_create before workers start. */
void tracking_init(int nshards);

/* A read command just ran for c: remember its keys if c tracks them. */
void tracking_after_read(cb_client *c, const struct cb_command *cmd);
/* A key changed (key NULL: the whole db is flushed). */
void tracking_key_modified(struct cb_db *db, const char *key, size_t len);
/* Set/restore the client whose command runs on this thread (NOLOOP, and
 * self-invalidations deferred after the reply). Returns the previous one. */
cb_client *tracking_set_current(cb_client *c);
/* After a top-level command: send what it deferred; before it: evict keys
 * over tracking-table-max-keys. */
void tracking_after_command(struct cb_worker *w);
void tracking_before_command(struct cb_worker *w);
/* Loop turn end: send BCAST batches collected on this worker's shard. */
void tracking_before_sleep(struct cb_worker *w);
/* A tracking message from another worker (xshard XM_TRACK). */
void tracking_deliver(struct cb_worker *w, const char *data, size_t len);

/* Whether CLIENT TRACKING decided that this command's keys are remembered
 * (for a forwarded run: its flags carry CLIENT_TRACK_REMEMBER). */
uint32_t tracking_remember_flag(const cb_client *c);
/* A forwarded run's proxy client: remember keys for the origin on worker
 * src when flags say so. _end frees what _begin set up. */
void tracking_proxy_begin(cb_client *px, int src);
void tracking_proxy_end(cb_client *px);
/* The client's command finished (clears a one-shot CLIENT CACHING). */
void tracking_command_done(cb_client *c, const struct cb_command *cmd);

/* Client state: RESET turns tracking off; close needs the other workers
 * parked when tracking_close_needs_park says so (BCAST prefixes). */
void tracking_disable(cb_client *c);
int tracking_close_needs_park(const cb_client *c);
void tracking_client_closed(cb_client *c);

/* CLIENT LIST: flag letters (t R B) appended at *p; redir= value. */
int tracking_info_flags(const cb_client *c, char *p);
long long tracking_redir(const cb_client *c);

/* INFO (other workers parked). */
uint64_t tracking_clients(void);
uint64_t tracking_total_keys(void);
uint64_t tracking_total_items(void);
uint64_t tracking_total_prefixes(void);

#endif
