/* multi.h — transactions: MULTI / EXEC / DISCARD and optimistic locking
 * with WATCH / UNWATCH, with Redis 7.0's semantics (queue-time errors abort
 * EXEC with EXECABORT, run-time errors do not stop the rest, any write to a
 * watched key — expiry and FLUSHDB/FLUSHALL/SWAPDB included — makes EXEC
 * answer a null array).
 *
 * The watch registry is shared by all workers. It changes only while the
 * other workers are parked (WATCH, UNWATCH, EXEC, DISCARD, RESET and closing
 * a client with watches run that way); the store's modification hook reads
 * it from whichever thread changes a key.
 */
#ifndef CB_MULTI_H
#define CB_MULTI_H

#include "client.h"

struct cb_command;
struct cb_db;

/* Create the registry for ndb databases; once at start-up. */
void multi_init(int ndb);
/* In MULTI, queue the command (replying +QUEUED, or an error that dooms
 * the transaction). 1 when handled here, 0 when it must run now. */
int multi_maybe_queue(cb_client *c, const struct cb_command *cmd);
/* A command was rejected while in MULTI: EXEC will answer EXECABORT. */
void multi_flag_error(cb_client *c);
/* Commands queued, or -1 outside MULTI (CLIENT LIST's multi= field). */
int multi_queued_count(const cb_client *c);
/* 1 when the queued commands include a write (CLIENT PAUSE WRITE holds EXEC). */
int multi_has_writes(const cb_client *c);
/* 1 when a queued command has the deny-OOM flag. */
int multi_has_denyoom(const cb_client *c);
/* Forget the transaction and every watched key (RESET, close). Needs the
 * other workers parked when the client watches keys. */
void multi_reset_client(cb_client *c);
/* Whether closing this client must park the other workers first. */
int multi_client_watches(const cb_client *c);
/* The store's key-modified hook (cb_key_hook): key NULL = the whole db. */
void multi_key_modified(void *owner, struct cb_db *db, const char *key, size_t len);

#endif
