/* replica.c — following a Redis 7.0 master (see replica.h). One link, on
 * the management thread, driven by its poll loop:
 *
 *   CONNECT -> CONNECTING (nonblocking connect) -> PING sent, waiting for
 *   its reply -> the rest of the handshake pipelined as Redis 7.0's replica
 *   sends it (AUTH, REPLCONF listening-port, REPLCONF capa eof capa psync2),
 *   PSYNC once their replies are in -> +FULLRESYNC: the image into a temp file, then loaded into
 *   emptied shards / +CONTINUE: nothing to load -> CONNECTED: the stream.
 *
 * The stream's commands run through the command table on a client without
 * a connection (as the AOF loader replays), with every worker parked, so
 * no worker sees a shard change under it; a MULTI block waits until its
 * EXEC has arrived and then runs whole. Offsets count stream bytes as the
 * master does; a broken link keeps replid/offset so the next handshake asks
 * for a partial resync.
 */
#include "replica.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "repl.h"
#include "../dataplane/client.h"
#include "../dataplane/cmd/command.h"
#include "../dataplane/relay.h"
#include "../dataplane/server.h"
#include "../dataplane/worker.h"
#include "../dataplane/xshard.h"
#include "../persist/aof_files.h"
#include "../persist/loading.h"
#include "../persist/rdb.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"

enum rstate {
    RS_NONE,        /* not a replica */
    RS_CONNECT,     /* to (re)connect at the next cron */
    RS_CONNECTING,  /* connect() in progress */
    RS_PING,        /* PING sent */
    RS_HANDSHAKE,   /* AUTH/REPLCONF/PSYNC sent, reading their replies */
    RS_TRANSFER,    /* reading the image */
    RS_CONNECTED    /* applying the stream */
};

#define ZERO_ID "0000000000000000000000000000000000000000"

static struct {
    pthread_mutex_t mu;   /* guards what other threads read (INFO, ROLE) */
    int active;           /* atomic: a master is set */
    /* Wanted by REPLICAOF (under mu); gen bumps on every change. */
    char want_host[256];
    int want_port, want_gen, seen_gen;
    int kill;             /* atomic: CLIENT KILL TYPE master asked */
    /* The link (management thread; read by INFO under mu). */
    char host[256];
    int port;
    enum rstate st;
    int fd;
    int relayed;          /* fd is a poll core's relay (DPDK plane, relay.h) */
    char *in;
    size_t inlen, incap;
    int replies;          /* handshake replies still expected before PSYNC's */
    int sent_auth;
    /* Replication position: the master's replid and the bytes applied. */
    char replid[41];
    long long offset, read_offset;
    int cached;           /* replid/offset are worth a PSYNC */
    long long backlog_base; /* offset of the last full sync */
    int backlog_on;
    long long last_io_ms, down_since_ms, next_try_ms, last_ack_ms;
    /* Image transfer. */
    int eof_form;
    char eofmark[40];
    char tail[40];
    long long xfer_size, xfer_read;
    int tmpfd;
    char tmppath[64];
    char pend_replid[41];
    long long pend_offset;
    long long xfer_start_ms;
    /* The master as a client (CLIENT LIST flags=M): its id and creation
     * time (kept over a partial resync, as Redis resurrects its cached
     * master), addresses, the stream's db and last command (relaxed). */
    unsigned long long mc_id;
    long long mc_ctime_ms;
    char mc_addr[280], mc_laddr[64];
    char relay_laddr[64]; /* a relayed link's end, from relay_connect_result */
    int mc_db;
    const char *mc_cmd;
    /* The client the stream runs on. */
    cb_client c;
    const char **argv;
    size_t *lens;
    int cap;
} R = {.mu = PTHREAD_MUTEX_INITIALIZER, .fd = -1, .tmpfd = -1};

int replica_active(void) { return __atomic_load_n(&R.active, __ATOMIC_RELAXED); }

int replica_refuses_writes(void) {
    return replica_active() && g_config.store.replica_read_only;
}

int replica_set_master(const char *host, int port) {
    pthread_mutex_lock(&R.mu);
    int same = host && R.active && !strcasecmp(R.want_host, host) && R.want_port == port;
    if (!same && (host || R.active)) {
        if (host) {
            snprintf(R.want_host, sizeof(R.want_host), "%s", host);
            R.want_port = port;
            __atomic_store_n(&R.active, 1, __ATOMIC_RELAXED);
        } else {
            R.want_host[0] = '\0';
            R.want_port = 0;
            __atomic_store_n(&R.active, 0, __ATOMIC_RELAXED);
        }
        /* The shards' expiry follows at once, as Redis's masterhost. */
        __atomic_store_n(&g_config.store.replica, host ? 1 : 0, __ATOMIC_RELAXED);
        R.want_gen++;
    }
    pthread_mutex_unlock(&R.mu);
    return same;
}

void replica_init(void) {
    const char *v = g_config.replicaof;
    char host[256];
    int port;
    if (v && *v && sscanf(v, "%255s %d", host, &port) == 2) replica_set_master(host, port);
}

/* ------------------------------------------------------------------ link */

static void set_state(enum rstate st) {
    pthread_mutex_lock(&R.mu);
    R.st = st;
    pthread_mutex_unlock(&R.mu);
}

static void drop_tmp(void) {
    if (R.tmpfd >= 0) {
        close(R.tmpfd);
        R.tmpfd = -1;
        unlink(R.tmppath);
    }
}

/* Close the link; with retry the next cron connects again. */
static void link_close(int retry) {
    if (R.fd >= 0) close(R.fd);
    R.fd = -1;
    R.inlen = 0;
    drop_tmp();
    pthread_mutex_lock(&R.mu);
    if (R.st == RS_CONNECTED) R.down_since_ms = util_mstime();
    R.st = retry ? RS_CONNECT : RS_NONE;
    pthread_mutex_unlock(&R.mu);
    R.next_try_ms = util_mstime() + 1000;
}

static void fail(const char *why) {
    cb_log(LOG_WARNING, "%s", why);
    link_close(1);
}

static void send_raw(const char *p, size_t n) {
    while (n > 0 && R.fd >= 0) {
        ssize_t w = send(R.fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* Short commands on a fresh socket: wait a little for room. */
            struct pollfd q = {.fd = R.fd, .events = POLLOUT};
            if (poll(&q, 1, 100) > 0) continue;
        }
        fail("Error writing to MASTER");
        return;
    }
}

/* Sends one command as a RESP array of the given words. */
static void send_cmd(int argc, const char **argv) {
    cbstr b = cbstr_catfmt(cbstr_with_cap(64), "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        b = cbstr_catfmt(b, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    send_raw(b, cbstr_len(b));
    cbstr_free(b);
}

static void send_ack(void) {
    char off[32];
    snprintf(off, sizeof(off), "%lld", R.offset);
    const char *a[] = {"REPLCONF", "ACK", off};
    send_cmd(3, a);
    R.last_ack_ms = util_mstime();
}

/* A connect is under way on fd (a kernel socket or a relay). */
static void link_started(int fd) {
    R.fd = fd;
    R.inlen = 0;
    R.last_io_ms = util_mstime();
    cb_log(LOG_NOTICE, "MASTER <-> REPLICA sync started");
    set_state(RS_CONNECTING);
}

static void start_connect(void) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", R.port);
    R.next_try_ms = util_mstime() + 1000;
    cb_log(LOG_NOTICE, "Connecting to MASTER %s:%d", R.host, R.port);
    R.relayed = g_config.dataplane == DATAPLANE_DPDK;
    R.relay_laddr[0] = '\0';
    if (R.relayed) {
        /* The data NIC is our stack's: a poll core opens the connection
         * and relays it; the status byte tells how the connect ended. */
        char why[160];
        int fd = relay_connect(R.host, R.port, why, sizeof(why));
        if (fd < 0) {
            cb_log(LOG_WARNING, "Unable to connect to MASTER: %s", why);
            return;
        }
        link_started(fd);
        return;
    }
    if (getaddrinfo(R.host, port, &hints, &res) != 0 || !res) {
        cb_log(LOG_WARNING, "Unable to connect to MASTER: cannot resolve %s", R.host);
        return;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int r = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (r != 0 && errno != EINPROGRESS) {
        cb_log(LOG_WARNING, "Unable to connect to MASTER: %s", strerror(errno));
        close(fd);
        return;
    }
    link_started(fd);
}

/* The rest of the handshake, pipelined as Redis 7.0's replica sends it. */
static void send_handshake(void) {
    R.replies = 0;
    R.sent_auth = 0;
    if (g_config.masterauth && *g_config.masterauth) {
        if (g_config.masteruser && *g_config.masteruser) {
            const char *a[] = {"AUTH", g_config.masteruser, g_config.masterauth};
            send_cmd(3, a);
        } else {
            const char *a[] = {"AUTH", g_config.masterauth};
            send_cmd(2, a);
        }
        R.replies++;
        R.sent_auth = 1;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", g_config.port);
    const char *lp[] = {"REPLCONF", "listening-port", port};
    send_cmd(3, lp);
    const char *capa[] = {"REPLCONF", "capa", "eof", "capa", "psync2"};
    send_cmd(5, capa);
    R.replies += 2;
    set_state(RS_HANDSHAKE);
}

/* PSYNC once the replies above are read: a Redis master refuses it while
 * replies are still waiting in its output ("with pending output"). */
static void send_psync(void) {
    if (R.cached) {
        char off[32];
        snprintf(off, sizeof(off), "%lld", R.offset + 1);
        const char *ps[] = {"PSYNC", R.replid, off};
        send_cmd(3, ps);
        cb_log(LOG_NOTICE, "Trying a partial resynchronization (request %s:%s).", R.replid,
               off);
    } else {
        const char *ps[] = {"PSYNC", "?", "-1"};
        send_cmd(3, ps);
        cb_log(LOG_NOTICE, "Partial resynchronization not possible (no cached master)");
    }
}

/* One "\r\n"-terminated line from the input (NUL-terminated in place,
 * consumed); NULL when none is complete. */
static char *take_line(size_t *used) {
    char *nl = memchr(R.in, '\n', R.inlen);
    if (!nl) return NULL;
    *used = (size_t)(nl - R.in) + 1;
    *nl = '\0';
    if (nl > R.in && nl[-1] == '\r') nl[-1] = '\0';
    return R.in;
}

static void consume(size_t n) {
    memmove(R.in, R.in + n, R.inlen - n);
    R.inlen -= n;
}

/* ------------------------------------------------- the master client */

static void addr_str(const struct sockaddr_storage *ss, char *out, size_t n) {
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
    }
    snprintf(out, n, "%s:%d", ip, port);
}

/* The link carries the stream now (under R.mu). A full sync makes a new
 * master client, as Redis; a partial resync keeps the one we had. */
static void master_client_up(int fresh) {
    if (fresh || !R.mc_id) {
        R.mc_id = __atomic_add_fetch(&g_server.next_client_id, 1, __ATOMIC_RELAXED);
        R.mc_ctime_ms = util_mstime();
        __atomic_store_n(&R.mc_cmd, (const char *)NULL, __ATOMIC_RELAXED);
    }
    R.mc_db = R.c.dbid;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    snprintf(R.mc_addr, sizeof(R.mc_addr), "%s:%d", R.host, R.port);
    /* A relayed link's fd is the local end of a socketpair: its addresses
     * say nothing about the TCP connection, so keep REPLICAOF's host:port
     * and the local address the relay reported. */
    int inet = R.fd >= 0 && !R.relayed;
    if (inet && getpeername(R.fd, (struct sockaddr *)&ss, &sl) == 0)
        addr_str(&ss, R.mc_addr, sizeof(R.mc_addr));
    sl = sizeof(ss);
    R.mc_laddr[0] = '\0';
    if (R.relayed) snprintf(R.mc_laddr, sizeof(R.mc_laddr), "%s", R.relay_laddr);
    if (inet && getsockname(R.fd, (struct sockaddr *)&ss, &sl) == 0)
        addr_str(&ss, R.mc_laddr, sizeof(R.mc_laddr));
}

/* The last command the master sent, for CLIENT LIST (a static name). */
static void master_client_cmd(const char *name) {
    __atomic_store_n(&R.mc_cmd, name, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------ the image */

static cb_shard **all_shards(int *n) {
    *n = g_server.nworkers;
    cb_shard **s = cb_malloc(sizeof(*s) * (size_t)*n);
    for (int i = 0; i < *n; i++) s[i] = g_server.workers[i]->shard;
    return s;
}

static void reset_client(void) {
    memset(&R.c, 0, sizeof(R.c));
    R.c.fd = -1;
    R.c.w = g_server.workers[0];
    R.c.shard = g_server.workers[0]->shard;
    R.c.db = &R.c.shard->dbs[0];
    R.c.resp = 2;
    R.c.flags = CLIENT_PROXY;
    R.c.authenticated = 1;
}

static void transfer_done(void) {
    close(R.tmpfd);
    R.tmpfd = -1;
    cb_log(LOG_NOTICE, "MASTER <-> REPLICA sync: Flushing old data");
    int n;
    cb_shard **shards = all_shards(&n);
    /* Clients get -LOADING meanwhile (persist/loading.h): the loader lets
     * the workers run a loop turn every few milliseconds. */
    char *err = NULL;
    rdb_load_info info = {0};
    loading_start((uint64_t)R.xfer_read);
    loading_attach(&info);
    loading_hold();
    for (int i = 0; i < n; i++) shard_empty(shards[i]);
    cb_log(LOG_NOTICE, "MASTER <-> REPLICA sync: Loading DB in memory");
    /* The master's keys, expired ones too (its DELs follow), and its TTLs
     * are not ours to expire. */
    info.flags = RDB_LOAD_FROM_MASTER;
    for (int i = 0; i < n; i++) shards[i]->master_stream = 1;
    int rc = rdb_load_file_ex(shards, n, R.tmppath, &info, &err);
    for (int i = 0; i < n; i++) shards[i]->master_stream = 0;
    loading_stop();
    cb_free(shards);
    unlink(R.tmppath);
    if (rc != 0) {
        cb_log(LOG_WARNING, "Failed trying to load the MASTER synchronization DB from disk: %s",
               err ? err : "?");
        cb_free(err);
        R.cached = 0;
        link_close(1);
        return;
    }
    reset_client();
    pthread_mutex_lock(&R.mu);
    memcpy(R.replid, R.pend_replid, 41);
    R.offset = R.backlog_base = R.pend_offset;
    R.read_offset = R.offset + (long long)R.inlen;
    R.cached = 1;
    R.backlog_on = 1;
    R.st = RS_CONNECTED;
    R.last_io_ms = util_mstime();
    master_client_up(1);
    pthread_mutex_unlock(&R.mu);
    cb_log(LOG_NOTICE, "MASTER <-> REPLICA sync: Finished with success");
    send_ack();
}

/* Image bytes from the input (after the `$` line). */
static void transfer_feed(void) {
    if (R.inlen == 0) return;
    size_t take = R.inlen;
    if (!R.eof_form && (long long)take > R.xfer_size - R.xfer_read)
        take = (size_t)(R.xfer_size - R.xfer_read);
    if (write(R.tmpfd, R.in, take) != (ssize_t)take) {
        fail("Write error writing the MASTER synchronization DB to disk");
        return;
    }
    R.xfer_read += (long long)take;
    int done = 0;
    if (R.eof_form) {
        /* The mark ends the image: keep the last 40 bytes seen. */
        if (take >= 40) {
            memcpy(R.tail, R.in + take - 40, 40);
        } else {
            memmove(R.tail, R.tail + take, 40 - take);
            memcpy(R.tail + 40 - take, R.in, take);
        }
        if (R.xfer_read >= 40 && memcmp(R.tail, R.eofmark, 40) == 0) {
            done = 1;
            if (ftruncate(R.tmpfd, R.xfer_read - 40) != 0) {
                fail("Error truncating the MASTER synchronization DB");
                return;
            }
        }
    } else {
        done = R.xfer_read == R.xfer_size;
    }
    consume(take);
    if (done) transfer_done();
}

/* --------------------------------------------------------- the stream */

static int is_word(const char *p, size_t l, const char *w) {
    return l == strlen(w) && strncasecmp(p, w, l) == 0;
}

/* Workers parked: the stream's commands see every key the master still
 * has, and their TTLs are the master's to expire (store/db.h). */
static void park_for_stream(void) {
    xshard_park_all();
    for (int i = 0; i < g_server.nworkers; i++) g_server.workers[i]->shard->master_stream = 1;
}

static void release_after_stream(void) {
    for (int i = 0; i < g_server.nworkers; i++) g_server.workers[i]->shard->master_stream = 0;
    xshard_release_all();
}

/* Runs one stream command on the shard owning its keys; workers parked. */
static void run_one(int argc, const char **argv, size_t *lens) {
    cb_client *c = &R.c;
    const cb_command *cmd = command_resolve(argc, argv, lens, NULL);
    if (!cmd) {
        cb_log(LOG_WARNING, "Unknown command '%.*s' from the MASTER",
               (int)(lens[0] > 64 ? 64 : lens[0]), argv[0]);
        return;
    }
    xshard_run_detached(c, cmd, argc, argv, lens);
    master_client_cmd(cmd->name);
}

/* Applies every complete command in the input (a MULTI block only once
 * its EXEC is there). */
static void stream_apply(void) {
    size_t pos = 0;
    int parked = 0;
    const char *reason = NULL;
    for (;;) {
        size_t at = pos;
        int argc;
        int r = aof_next_command(R.in, R.inlen, &pos, &argc, &R.argv, &R.lens, &R.cap, &reason);
        if (r == 0 || r == -AOF_SCAN_TRUNCATED) {
            pos = at;
            break;
        }
        if (r < 0) {
            if (parked) release_after_stream();
            consume(at);
            fail("Protocol error from the MASTER: closing the link");
            return;
        }
        if (is_word(R.argv[0], R.lens[0], "multi")) {
            /* Look for the EXEC before running anything of the block. */
            size_t p2 = pos;
            int found = 0, a2;
            for (;;) {
                int r2 = aof_next_command(R.in, R.inlen, &p2, &a2, &R.argv, &R.lens, &R.cap,
                                          &reason);
                if (r2 <= 0) break;
                if (is_word(R.argv[0], R.lens[0], "exec")) {
                    found = 1;
                    break;
                }
            }
            if (!found) {
                pos = at;
                break;
            }
            if (!parked) {
                park_for_stream();
                parked = 1;
            }
            size_t end = p2;
            p2 = pos;
            while (p2 < end) {
                aof_next_command(R.in, R.inlen, &p2, &a2, &R.argv, &R.lens, &R.cap, &reason);
                if (!is_word(R.argv[0], R.lens[0], "exec")) run_one(a2, R.argv, R.lens);
            }
            pos = end;
            R.offset += (long long)(end - at);
            master_client_cmd("exec");
            continue;
        }
        if (is_word(R.argv[0], R.lens[0], "ping")) {
            R.offset += (long long)(pos - at);
            master_client_cmd("ping");
            continue;
        }
        if (is_word(R.argv[0], R.lens[0], "replconf")) {
            master_client_cmd("replconf");
            /* GETACK: the offset before the GETACK itself, as Redis. */
            if (argc >= 2 && is_word(R.argv[1], R.lens[1], "getack")) send_ack();
            R.offset += (long long)(pos - at);
            continue;
        }
        if (!parked) {
            park_for_stream();
            parked = 1;
        }
        run_one(argc, R.argv, R.lens);
        R.offset += (long long)(pos - at);
    }
    if (parked) release_after_stream();
    consume(pos);
    __atomic_store_n(&R.mc_db, R.c.dbid, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------- replies */

static void handle_input(void) {
    size_t used;
    char *line;
    while (R.fd >= 0) {
        switch (R.st) {
        case RS_PING:
            if (!(line = take_line(&used))) return;
            if (line[0] == '-' && strncmp(line, "-NOAUTH", 7) && strncmp(line, "-NOPERM", 7) &&
                strncmp(line, "-ERR operation not permitted", 28)) {
                char why[300];
                snprintf(why, sizeof(why), "Error reply to PING from master: '%.200s'", line);
                consume(used);
                fail(why);
                return;
            }
            consume(used);
            cb_log(LOG_NOTICE, "Master replied to PING, replication can continue...");
            send_handshake();
            break;
        case RS_HANDSHAKE:
            if (!(line = take_line(&used))) return;
            if (line[0] == '\0') {
                consume(used);
                break;
            }
            if (R.replies > 0) {
                if (R.sent_auth && R.replies == 3 && line[0] == '-') {
                    char why[300];
                    snprintf(why, sizeof(why), "Unable to AUTH to MASTER: %.200s", line);
                    consume(used);
                    fail(why);
                    return;
                }
                if (line[0] == '-')
                    cb_log(LOG_NOTICE, "(Non critical) Master does not understand REPLCONF: %s",
                           line);
                R.replies--;
                consume(used);
                if (R.replies == 0) send_psync();
                break;
            }
            if (!strncmp(line, "+FULLRESYNC ", 12)) {
                char id[64];
                long long off;
                if (sscanf(line + 12, "%63s %lld", id, &off) != 2 || strlen(id) != 40) {
                    consume(used);
                    fail("Bad +FULLRESYNC reply from the MASTER");
                    return;
                }
                memcpy(R.pend_replid, id, 41);
                R.pend_offset = off;
                cb_log(LOG_NOTICE, "Full resync from master: %s:%lld", id, off);
                consume(used);
                R.xfer_size = -1;
                R.xfer_read = 0;
                R.xfer_start_ms = util_mstime();
                set_state(RS_TRANSFER);
            } else if (!strncmp(line, "+CONTINUE", 9)) {
                char id[64] = "";
                if (sscanf(line + 9, " %63s", id) == 1 && strlen(id) == 40 &&
                    strcmp(id, R.replid) != 0) {
                    cb_log(LOG_NOTICE, "Master replication ID changed to %s", id);
                    pthread_mutex_lock(&R.mu);
                    memcpy(R.replid, id, 41);
                    pthread_mutex_unlock(&R.mu);
                }
                consume(used);
                cb_log(LOG_NOTICE,
                       "Successful partial resynchronization with master.");
                cb_log(LOG_NOTICE, "MASTER <-> REPLICA sync: Master accepted a Partial "
                                   "Resynchronization.");
                pthread_mutex_lock(&R.mu);
                R.read_offset = R.offset + (long long)R.inlen;
                R.st = RS_CONNECTED;
                R.last_io_ms = util_mstime();
                master_client_up(0);
                pthread_mutex_unlock(&R.mu);
                send_ack();
            } else {
                char why[300];
                snprintf(why, sizeof(why), "Unexpected reply to PSYNC from master: %.200s", line);
                consume(used);
                fail(why);
                return;
            }
            break;
        case RS_TRANSFER:
            if (R.xfer_size < 0) {
                if (!(line = take_line(&used))) return;
                if (line[0] == '\0') { /* the master's keep-alive newlines */
                    consume(used);
                    break;
                }
                if (line[0] == '-') {
                    char why[300];
                    snprintf(why, sizeof(why), "MASTER aborted replication with an error: %.200s",
                             line);
                    consume(used);
                    fail(why);
                    return;
                }
                if (line[0] != '$') {
                    consume(used);
                    fail("Bad protocol from MASTER, the first byte is not '$'");
                    return;
                }
                if (!strncmp(line, "$EOF:", 5) && strlen(line) >= 45) {
                    R.eof_form = 1;
                    memcpy(R.eofmark, line + 5, 40);
                    R.xfer_size = 0;
                    cb_log(LOG_NOTICE, "MASTER <-> REPLICA sync: receiving streamed RDB from "
                                       "master with EOF to disk");
                } else {
                    R.eof_form = 0;
                    R.xfer_size = atoll(line + 1);
                    cb_log(LOG_NOTICE, "MASTER <-> REPLICA sync: receiving %lld bytes from master "
                                       "to disk", R.xfer_size);
                }
                consume(used);
                snprintf(R.tmppath, sizeof(R.tmppath), "temp-%lld.%d.rdb", util_mstime(),
                         (int)getpid());
                R.tmpfd = open(R.tmppath, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
                if (R.tmpfd < 0) {
                    fail("Opening the temp file needed for MASTER <-> REPLICA synchronization "
                         "failed");
                    return;
                }
                memset(R.tail, 0, sizeof(R.tail));
                if (!R.eof_form && R.xfer_size == 0) {
                    transfer_done();
                    break;
                }
            }
            if (R.inlen == 0) return;
            transfer_feed();
            if (R.st == RS_TRANSFER) return;
            break;
        case RS_CONNECTED:
            stream_apply();
            return;
        default:
            return;
        }
    }
}

static void read_link(void) {
    for (;;) {
        if (R.incap - R.inlen < 16384) {
            R.incap = R.incap ? R.incap * 2 : 65536;
            R.in = cb_realloc(R.in, R.incap + 1);
        }
        ssize_t n = recv(R.fd, R.in + R.inlen, R.incap - R.inlen, 0);
        if (n > 0) {
            R.inlen += (size_t)n;
            if (R.st == RS_CONNECTED) {
                pthread_mutex_lock(&R.mu);
                R.read_offset += n;
                pthread_mutex_unlock(&R.mu);
            }
            R.last_io_ms = util_mstime();
            if (R.inlen > 8u << 20) break; /* apply before reading more */
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        handle_input(); /* whatever came before the close */
        if (R.fd >= 0) {
            cb_log(LOG_WARNING, "Connection with master lost.");
            link_close(1);
        }
        return;
    }
    handle_input();
}

/* ------------------------------------------------------------ the loop */

int replica_pollfd(struct pollfd *p) {
    if (R.fd < 0) return 0;
    p->fd = R.fd;
    /* A relay reports its connect with a status byte, not writability. */
    p->events = R.st == RS_CONNECTING && !R.relayed ? POLLOUT : POLLIN;
    p->revents = 0;
    return 1;
}

/* REPLICAOF changed what we follow. */
static void apply_wanted(void) {
    pthread_mutex_lock(&R.mu);
    int gen = R.want_gen;
    char host[256];
    memcpy(host, R.want_host, sizeof(host));
    int port = R.want_port;
    pthread_mutex_unlock(&R.mu);
    if (gen == R.seen_gen) return;
    R.seen_gen = gen;
    link_close(0);
    if (!host[0]) {
        /* Promoted: the data stay; a new history starts. */
        cb_log(LOG_NOTICE, "MASTER MODE enabled (user request)");
        pthread_mutex_lock(&R.mu);
        R.cached = 0;
        R.backlog_on = 0;
        R.host[0] = '\0';
        R.st = RS_NONE;
        pthread_mutex_unlock(&R.mu);
        return;
    }
    cb_log(LOG_NOTICE, "REPLICAOF %s:%d enabled (user request)", host, port);
    pthread_mutex_lock(&R.mu);
    int same = !strcmp(R.host, host) && R.port == port;
    if (!same) R.cached = 0;
    snprintf(R.host, sizeof(R.host), "%s", host);
    R.port = port;
    R.st = RS_CONNECT;
    R.down_since_ms = 0;
    pthread_mutex_unlock(&R.mu);
    R.next_try_ms = 0;
}

int replica_kill_link(unsigned long long id, const char *addr, size_t addr_len,
                      const char *laddr, size_t laddr_len) {
    pthread_mutex_lock(&R.mu);
    int up = R.active && R.st == RS_CONNECTED;
    if (id && id != R.mc_id) up = 0;
    if (addr && !(strlen(R.mc_addr) == addr_len && !memcmp(R.mc_addr, addr, addr_len))) up = 0;
    if (laddr && !(strlen(R.mc_laddr) == laddr_len && !memcmp(R.mc_laddr, laddr, laddr_len)))
        up = 0;
    pthread_mutex_unlock(&R.mu);
    if (up) __atomic_store_n(&R.kill, 1, __ATOMIC_RELAXED);
    return up;
}

void replica_tick(const struct pollfd *p, int n) {
    apply_wanted();
    if (__atomic_exchange_n(&R.kill, 0, __ATOMIC_RELAXED) && R.st == RS_CONNECTED) {
        cb_log(LOG_NOTICE, "Connection with master lost (CLIENT KILL TYPE master).");
        link_close(1);
        R.next_try_ms = 0; /* Redis reconnects at its next cron */
        return;
    }
    if (R.st == RS_NONE) return;
    long long now = util_mstime();
    if (n > 0 && R.fd >= 0 && p->revents) {
        if (R.st == RS_CONNECTING) {
            int err = 0;
            socklen_t el = sizeof(err);
            if (R.relayed)
                err = relay_connect_result(R.fd, R.relay_laddr, sizeof(R.relay_laddr));
            else getsockopt(R.fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err < 0) {
                /* The relay has not answered yet. */
            } else if (err || (p->revents & (POLLERR | POLLHUP))) {
                char why[200];
                snprintf(why, sizeof(why), "Error condition on socket for SYNC: %s",
                         strerror(err ? err : ECONNREFUSED));
                fail(why);
            } else {
                cb_log(LOG_NOTICE, "Non blocking connect for SYNC fired the event.");
                set_state(RS_PING);
                const char *a[] = {"PING"};
                send_cmd(1, a);
            }
        } else {
            read_link();
        }
    }
    if (R.st == RS_CONNECT && now >= R.next_try_ms) start_connect();
    if (R.fd >= 0 && now - R.last_io_ms > (long long)g_config.repl_timeout * 1000) {
        fail(R.st == RS_CONNECTED ? "MASTER timeout: no data nor PING received..."
                                  : "Timeout connecting to the MASTER...");
        return;
    }
    if (R.st == RS_CONNECTED && now - R.last_ack_ms >= 1000) send_ack();
}

void replica_shutdown(void) { link_close(0); }

/* ------------------------------------------------------------- readers */

static const char *state_word(enum rstate st) {
    switch (st) {
    case RS_CONNECT: return "connect";
    case RS_CONNECTING: return "connecting";
    case RS_PING:
    case RS_HANDSHAKE: return "handshake";
    case RS_TRANSFER: return "sync";
    case RS_CONNECTED: return "connected";
    default: return "none";
    }
}

int replica_role(char *host, size_t hostlen, int *port, const char **state, long long *off) {
    if (!replica_active()) return 0;
    pthread_mutex_lock(&R.mu);
    snprintf(host, hostlen, "%s", R.want_host);
    *port = R.want_port;
    /* REPLICAOF answered but the management thread has not looked yet. */
    *state = R.want_gen != R.seen_gen ? "connect" : state_word(R.st);
    *off = R.st == RS_CONNECTED ? R.offset : -1;
    pthread_mutex_unlock(&R.mu);
    return 1;
}

cbstr replica_info(cbstr s) {
    long long now = util_mstime();
    pthread_mutex_lock(&R.mu);
    int up = R.st == RS_CONNECTED && R.want_gen == R.seen_gen;
    s = cbstr_catfmt(s,
                     "role:slave\r\n"
                     "master_host:%s\r\n"
                     "master_port:%d\r\n"
                     "master_link_status:%s\r\n"
                     "master_last_io_seconds_ago:%d\r\n"
                     "master_sync_in_progress:%d\r\n"
                     "slave_read_repl_offset:%lld\r\n"
                     "slave_repl_offset:%lld\r\n",
                     R.want_host, R.want_port, up ? "up" : "down",
                     up ? (int)((now - R.last_io_ms) / 1000) : -1, R.st == RS_TRANSFER,
                     R.read_offset, R.offset);
    if (R.st == RS_TRANSFER) {
        long long total = R.eof_form ? -1 : R.xfer_size;
        s = cbstr_catfmt(s,
                         "master_sync_total_bytes:%lld\r\n"
                         "master_sync_read_bytes:%lld\r\n"
                         "master_sync_left_bytes:%lld\r\n"
                         "master_sync_perc:%.2f\r\n"
                         "master_sync_last_io_seconds_ago:%d\r\n",
                         total, R.xfer_read, total < 0 ? -1 : total - R.xfer_read,
                         total > 0 ? (double)R.xfer_read * 100 / (double)total : 0.0,
                         (int)((now - R.last_io_ms) / 1000));
    }
    if (!up)
        s = cbstr_catfmt(s, "master_link_down_since_seconds:%lld\r\n",
                         R.down_since_ms ? (now - R.down_since_ms) / 1000 : -1LL);
    s = cbstr_catfmt(s,
                     "slave_priority:%d\r\n"
                     "slave_read_only:%d\r\n"
                     "replica_announced:1\r\n"
                     "connected_slaves:%d\r\n"
                     "master_failover_state:no-failover\r\n",
                     g_config.replica_priority, g_config.store.replica_read_only ? 1 : 0,
                     repl_count());
    long long first = 0, hist = 0;
    if (R.backlog_on) {
        first = R.backlog_base + 1;
        if (R.offset - R.backlog_base > g_config.repl_backlog_size)
            first = R.offset - g_config.repl_backlog_size + 1;
        hist = R.offset - first + 1;
    }
    s = cbstr_catfmt(s,
                     "master_replid:%s\r\n"
                     "master_replid2:%s\r\n"
                     "master_repl_offset:%lld\r\n"
                     "second_repl_offset:-1\r\n"
                     "repl_backlog_active:%d\r\n"
                     "repl_backlog_size:%lld\r\n"
                     "repl_backlog_first_byte_offset:%lld\r\n"
                     "repl_backlog_histlen:%lld\r\n",
                     R.cached ? R.replid : g_server.master_replid, ZERO_ID, R.offset,
                     R.backlog_on, g_config.repl_backlog_size, first, hist);
    pthread_mutex_unlock(&R.mu);
    return s;
}

/* The fields Redis 7.0 prints for its master client; its buffer figures
 * depend on the allocator, ours are nominal, as for our replicas' lines. */
cbstr replica_client_list(cbstr s, int nids, const unsigned long long *ids) {
    pthread_mutex_lock(&R.mu);
    int up = R.active && R.st == RS_CONNECTED && R.want_gen == R.seen_gen && R.mc_id;
    int hit = !nids;
    for (int i = 0; up && i < nids; i++) hit |= ids[i] == R.mc_id;
    if (up && hit) {
        long long now = util_mstime();
        const char *cmd = __atomic_load_n(&R.mc_cmd, __ATOMIC_RELAXED);
        s = cbstr_catfmt(s,
                         "id=%llu addr=%s laddr=%s fd=%d name= age=%lld idle=%lld flags=M "
                         "db=%d sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 "
                         "multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=%zu events=r "
                         "cmd=%s user=(superuser) redir=-1 resp=2\n",
                         R.mc_id, R.mc_addr, R.mc_laddr, R.fd, (now - R.mc_ctime_ms) / 1000,
                         (now - R.last_io_ms) / 1000, __atomic_load_n(&R.mc_db, __ATOMIC_RELAXED),
                         1024 + sizeof(R.c), cmd ? cmd : "NULL");
    }
    pthread_mutex_unlock(&R.mu);
    return s;
}

unsigned long long replica_master_client_id(void) {
    pthread_mutex_lock(&R.mu);
    unsigned long long id =
        R.active && R.st == RS_CONNECTED && R.want_gen == R.seen_gen ? R.mc_id : 0;
    pthread_mutex_unlock(&R.mu);
    return id;
}
