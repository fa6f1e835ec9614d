/* relay.h — a TCP connection of our own stack (DPDK plane) joined to one
 * end of an AF_UNIX socketpair, so that the management thread can use the
 * other end exactly as the kernel socket it uses on the kernel plane:
 * replication's master side (a replica's PSYNC connection, mgmt/repl.c)
 * and replica side (our link to a master, mgmt/replica.c).
 *
 * A relay belongs to the poll core that owns the TCP connection and moves
 * bytes both ways from that core's loop: TCP -> pair as segments arrive,
 * pair -> TCP at a bounded rate (relay_tick) and only as much as the TCP
 * send side can take. EOF or reset on either side ends the other.
 * Design: docs/replication.md ("The DPDK data plane").
 */
#ifndef CB_RELAY_H
#define CB_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct cb_worker;
struct cb_client;

/* Worker thread, inside a command of client c (DPDK plane): c's TCP
 * connection becomes a relay; c must be closed by the caller afterwards
 * (its transport is gone). Returns the management thread's end of the
 * pair, or -1 with errno (the client keeps its connection). */
int relay_adopt_client(struct cb_client *c);

/* Management thread (DPDK plane): ask worker 0 to open a connection to
 * host:port and relay it. Returns the management end of the pair (non-
 * blocking), or -1 with a reason in err. The first byte that arrives on
 * it is a status, read by relay_connect_result; the peer's bytes follow. */
int relay_connect(const char *host, int port, char *err, size_t errlen);
/* After POLLIN on a relay_connect fd: 0 connected (our end's "ip:port" in
 * laddr), an errno value when the connect failed (ECONNREFUSED,
 * ETIMEDOUT, ...), -1 not known yet. */
int relay_connect_result(int fd, char *laddr, size_t laddrlen);

/* Worker loop (only when w->relays or w->relay_posted): connect requests,
 * pair -> TCP, the end of relays. now_us: the loop's monotonic clock;
 * does nothing until the relay period has passed since the last call. */
void relay_tick(struct cb_worker *w, uint64_t now_us);
/* Worker teardown: close every relay. */
void relay_worker_free(struct cb_worker *w);

#endif
