/* blocking.h — one mechanism for every blocking command (BLPOP, BRPOP,
 * BLMOVE, BRPOPLPUSH, BLMPOP today; sorted-set and stream pops join it).
 *
 * A blocking handler first tries to serve; when it cannot, it calls
 * block_client(). The client then waits with its command saved. Any write
 * to one of its keys marks the key ready; after the writing command
 * finishes, the writer re-runs the blocked commands of that key in FIFO
 * order (with the other workers parked) until one finds nothing. A client
 * whose timeout passes, or that CLIENT UNBLOCK targets, re-runs its command
 * in "timed out" mode, where block_client() says no and the handler sends
 * its null reply. The registry of blocked keys changes only with the other
 * workers parked, like the watch registry (multi.h).
 */
#ifndef CB_BLOCKING_H
#define CB_BLOCKING_H

#include "client.h"

struct cb_worker;
struct cb_db;

void blocking_init(int ndb);
/* In a blocking command that found nothing: block on the keys at argv
 * indexes keyidx[0..nkeys) until deadline_ms (0: forever). Returns 1 when
 * the handler must not reply now (blocked, or still blocked), 0 when it
 * must send its timeout reply (inside MULTI, timed out, unblocked). */
int block_client(cb_client *c, int nkeys, const int *keyidx, long long deadline_ms);
/* Replace argument i of the command block_client() saved (XREAD's "$"
 * becomes the ID it stood for when the client blocked). No-op when the
 * client is not blocked. */
void block_client_set_arg(cb_client *c, int i, const char *p, size_t len);
/* In a re-run in "timed out" mode (the deadline passed): stay blocked,
 * without a reply, until deadline_ms after all (WAIT polls this way). */
void block_client_keep(cb_client *c, long long deadline_ms);
/* Parse a blocking timeout argument (seconds, may be fractional) as Redis
 * 7.0 does; *deadline_ms is 0 for "forever". 0 ok, -1 after an error reply. */
int blocking_timeout_arg(cb_client *c, int i, long long *deadline_ms);
/* The key-modified hook's part: note that a key with waiters changed. */
void blocking_key_touched(struct cb_db *db, const char *key, size_t len);
/* After a command: serve clients blocked on keys that became ready. */
void blocking_serve_ready(struct cb_worker *w);
/* Per worker loop turn: time out blocked clients, resume unblocked ones. */
void blocking_cron(struct cb_worker *w, long long now_ms);
void blocking_resume_unblocked(struct cb_worker *w);
/* CLIENT UNBLOCK: 1 if the client was blocked (with the others parked). */
int blocking_unblock_by_id(uint64_t id, int with_error);
/* Forget a closing client's blocked state (with the others parked). */
void blocking_client_closed(cb_client *c);
int blocking_is_blocked(const cb_client *c);
/* INFO clients_in_timeout_table: w's blocked clients that have a timeout
 * (w running on this thread or parked). */
size_t blocking_count_with_timeout(const struct cb_worker *w);

#endif
