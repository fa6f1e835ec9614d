/* replica.h — the replica side of Redis 7.0 replication: REPLICAOF /
 * SLAVEOF / the `replicaof` directive make us follow a master (a
 * redis-server or another cachebox): handshake, the RDB image (disk `$len`
 * or diskless `$EOF:` form) loaded into the shards, then the master's
 * command stream applied with every worker parked, ACKs, partial resync
 * after a broken link, read-only by default.
 *
 * Threads: the link lives on the management thread (replica_pollfd /
 * replica_tick from its loop; a kernel socket on the kernel plane, a
 * poll core's relay of our own stack's connection on DPDK, relay.h);
 * REPLICAOF runs on a worker and only records what it wants
 * (replica_set_master); INFO, ROLE and the dispatcher read through the
 * locked accessors. Design: docs/replication.md ("Replica side").
 */
#ifndef CB_REPLICA_H
#define CB_REPLICA_H

#include <poll.h>
#include "../store/ds/cbstr.h"

/* Management thread, before the loop: the `replicaof` directive. */
void replica_init(void);
/* REPLICAOF host port (host NULL: NO ONE). Returns 1 when we already
 * follow that host and port (nothing changes), else 0. Any thread. */
int replica_set_master(const char *host, int port);
/* 1 while we are a replica (REPLICAOF given); any thread, lock-free. */
int replica_active(void);
/* The dispatcher: 1 when a write from a normal client must get
 * REPLICA_READONLY_ERR. */
int replica_refuses_writes(void);
#define REPLICA_READONLY_ERR "-READONLY You can't write against a read only replica."

/* CLIENT KILL TYPE master (or ID / ADDR / LADDR naming the master's
 * client; id 0 and NULL addresses match any): the link is dropped at the
 * management thread's next turn (and comes back with a partial resync).
 * 1 when a link was up and matched. Any thread. */
int replica_kill_link(unsigned long long id, const char *addr, size_t addr_len,
                      const char *laddr, size_t laddr_len);

/* The master's link as Redis 7.0 lists it among the clients (flags=M),
 * while the stream is applied: appends its CLIENT LIST line to s when
 * nids is 0 or ids holds its id. Any thread. */
cbstr replica_client_list(cbstr s, int nids, const unsigned long long *ids);
/* Its client id, 0 when there is no master client (INFO connected_clients
 * counts it, as Redis). Any thread. */
unsigned long long replica_master_client_id(void);

/* Management loop: the master link's socket in *p (returns 0 or 1). */
int replica_pollfd(struct pollfd *p);
/* Management loop, after poll (p/n as filled by replica_pollfd). */
void replica_tick(const struct pollfd *p, int n);
/* Shutdown: close the link. */
void replica_shutdown(void);

/* INFO replication while a replica (NULL-safe append to s). */
cbstr replica_info(cbstr s);
/* ROLE while a replica: host, port, state word, offset (-1 when the link
 * is not up). 0 when we are not a replica. */
int replica_role(char *host, size_t hostlen, int *port, const char **state, long long *off);

#endif
