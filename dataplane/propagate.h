/* propagate.h — the effects of write commands, in the form Redis 7.0 writes
 * them to its AOF (and later sends to replicas).
 *
 * Call order: dispatch_call wraps every call in prop_call_begin/end. A call
 * whose shard `dirty` counter moved records its effect: its own argv, or
 * what the handler asked for with prop_rewrite / prop_suppress, after any
 * prop_add effects it emitted on the way (lazy-expiry DELs, SPOP's SREMs).
 * Nested calls (EXEC's commands, a script's redis.call) add to the
 * outermost call's batch, and a container (EXEC, EVAL) never records its
 * own argv. When the outermost call ends the batch becomes one record
 * (MULTI/EXEC around it when it has more than one effect) handed to the
 * AOF writer (persist/aof.h). State is per worker thread; nothing is
 * recorded on a thread that is not a worker (start-up loading) or while
 * the AOF is off. Design: docs/aof.md.
 */
#ifndef CB_PROPAGATE_H
#define CB_PROPAGATE_H

#include <stddef.h>
#include <stdint.h>
#include "client.h"

struct cb_command;
struct cb_db;

/* What one call saw; lives on dispatch_call's stack. */
typedef struct prop_frame {
    uint64_t dirty0;
    int own_done;       /* the handler rewrote or suppressed its effect */
    int children;       /* nested calls ran inside it */
    struct prop_frame *parent;
} prop_frame;

void prop_call_begin(cb_client *c, prop_frame *f);
void prop_call_end(cb_client *c, const struct cb_command *cmd, prop_frame *f);

/* The current call's effect is argv[0..argc) instead of its own argv. */
void prop_rewrite(cb_client *c, int argc, const char *const *argv, const size_t *lens);
/* The current call records nothing of its own (prop_add effects stay). */
void prop_suppress(cb_client *c);
/* Record one more effect now, in db dbid (in the current batch, or as a
 * record of its own outside any call: active expiry). */
void prop_add(int dbid, int argc, const char *const *argv, const size_t *lens);
/* The store's hook for a key deleted because its time passed. */
void prop_key_expired(struct cb_db *db, const char *key, size_t len);
/* Records the DEL (or UNLINK) of a key maxmemory evicted. */
void prop_key_evicted(struct cb_db *db, const char *key, size_t len);

/* Per-worker state (worker_create / worker_destroy). */
struct cb_prop *prop_create(void);
void prop_destroy(struct cb_prop *p);
/* Retry records that found the AOF ring full; once per loop turn. */
void prop_worker_turn(struct cb_worker *w);
/* With w parked or stopped: hand each record still waiting for ring space
 * to take (the AOF writer settling before a rewrite or exit). */
struct aof_rec;
void prop_take_overflow(struct cb_worker *w, void (*take)(struct aof_rec *));

#endif
