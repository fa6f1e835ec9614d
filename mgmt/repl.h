/* repl.h — master-side replication: Redis 7.0's protocol (SYNC, PSYNC,
 * REPLCONF, +FULLRESYNC / +CONTINUE, the RDB payload, then the stream of
 * effects), so a real redis-server started with --replicaof follows us.
 *
 * Who calls what:
 *   - a worker running SYNC/PSYNC hands the connection over (repl_attach):
 *     from then on the replica's socket belongs to the management thread;
 *   - the management thread runs repl_tick every loop turn (socket I/O,
 *     starting snapshots, pings, timeouts, backlog TTL); the AOF writer's
 *     tap hands it every record in global order (the stream);
 *   - any thread reads INFO, ROLE, WAIT counts, CLIENT LIST lines and
 *     kills replicas through the locked accessors at the end.
 * Design: docs/replication.md.
 */
#ifndef CB_REPL_H
#define CB_REPL_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include "../store/ds/cbstr.h"

/* What a worker knows of a connection that asked for SYNC/PSYNC. */
typedef struct repl_handoff {
    int fd;                  /* the socket, now the management thread's */
    uint64_t id;             /* client id (CLIENT LIST / KILL) */
    char addr[128], laddr[128];
    char name[64];
    long long ctime_ms;
    int listening_port;      /* REPLCONF listening-port */
    char ip[256];            /* REPLCONF ip-address, "" when not given */
    int capa_eof, capa_psync2;
    int psync;               /* 0: SYNC (old protocol, no +FULLRESYNC) */
    char replid[41];         /* PSYNC's replid ("?" to force a full sync) */
    long long offset;        /* PSYNC's offset */
} repl_handoff;

/* Management thread, before workers run: hooks into the AOF writer and
 * the snapshot code. */
void repl_init(void);
/* A worker hands a replica over (any thread): a kernel socket, or on the
 * DPDK plane a socketpair its poll core relays (dataplane/relay.h). 0 ok,
 * -1 when the server is going down (the caller closes h->fd). */
int repl_attach(const repl_handoff *h);
/* Management loop: fill pfd with the replicas' sockets (at most max);
 * returns how many. */
int repl_pollfds(struct pollfd *pfd, int max);
/* Management loop, after poll: pfd/n as filled by repl_pollfds. */
void repl_tick(const struct pollfd *pfd, int n);
/* Shutdown: write what is queued (briefly) and close every replica. */
void repl_shutdown(void);

/* ---- readers (any thread, locked) */
/* The INFO replication section's lines. */
cbstr repl_info(cbstr s);
/* INFO stats: sync_full, sync_partial_ok, sync_partial_err. */
void repl_sync_stats(long long *full, long long *ok, long long *err);
/* INFO stats total_net_repl_output_bytes: bytes sent to replicas. */
long long repl_net_output_bytes(void);
/* INFO memory: backlog bytes, and the replicas' output buffers. */
size_t repl_mem_backlog(void);
size_t repl_mem_replicas(void);
/* ROLE: master_repl_offset, and the online replicas as "ip\0port\0offset"
 * triples (n of them, cb_free the array). */
long long repl_role(char (**triples)[3][64], int *n);
/* WAIT: how many online replicas acknowledged the stream up to the record
 * with sequence number seq (0: nothing to wait for). */
int repl_count_acked(uint64_t seq);
/* WAIT blocked: ask every replica for an ACK now (REPLCONF GETACK). */
void repl_request_getack(void);
/* CLIENT LIST lines for the replicas ("\n" after each), appended to s. */
cbstr repl_client_list(cbstr s, int only_id_count, const unsigned long long *ids);
/* CLIENT KILL: close replicas matching id (0 any) / addr (NULL any) /
 * laddr; returns how many. */
int repl_kill(unsigned long long id, const char *addr, size_t addr_len, const char *laddr,
              size_t laddr_len);
/* min-replicas-to-write: 1 when writes must be refused with NOREPLICAS
 * (fewer online replicas than asked for ACKed within min-replicas-max-lag). */
int repl_too_few_good_replicas(void);
#define REPL_NOREPLICAS_ERR "-NOREPLICAS Not enough good replicas to write."
/* Number of replicas attached (any state). */
int repl_count(void);

#endif
