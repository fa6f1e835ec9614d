/* client.h — one client connection as the command code sees it: parsed
 * arguments, selected db, protocol version, flags, output buffer chain.
 * The I/O driver (kernel epoll now, DPDK next) owns the transport; this
 * struct and conn.c are shared by both. Call order per connection:
 * conn_create -> conn_input(segments) -> [parse -> call -> reply]* ->
 * conn_flush -> ... -> conn_close.
 */
#ifndef CB_CLIENT_H
#define CB_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "resp/parser.h"

struct cb_worker;
struct cb_shard;
struct cb_db;
struct cb_command;
struct cb_acl_user;

/* Client flags. */
#define CLIENT_CLOSE_AFTER_REPLY (1u << 0) /* QUIT, protocol error */
#define CLIENT_CLOSE_ASAP        (1u << 1) /* output limit, CLIENT KILL */
#define CLIENT_MONITOR           (1u << 2)
#define CLIENT_REPLY_OFF         (1u << 3)
#define CLIENT_REPLY_SKIP_NEXT   (1u << 4)
#define CLIENT_REPLY_SKIP        (1u << 5)
#define CLIENT_NO_EVICT          (1u << 6)
#define CLIENT_UNIX_SOCKET       (1u << 7)
#define CLIENT_PROTECTED         (1u << 8) /* waiting: paused by CLIENT PAUSE */
#define CLIENT_NO_TOUCH          (1u << 9)
#define CLIENT_PENDING_WRITE     (1u << 10)
#define CLIENT_LOCAL             (1u << 11) /* loopback or unix: protected-mode exempt */
#define CLIENT_IN_CALL           (1u << 12)
#define CLIENT_CLOSED            (1u << 13)
#define CLIENT_WANT_WRITE        (1u << 14) /* driver watches writability */
#define CLIENT_PROXY             (1u << 15) /* runs a command forwarded from another worker */
#define CLIENT_MULTI             (1u << 16) /* in MULTI: commands are queued */
#define CLIENT_DIRTY_EXEC        (1u << 17) /* a queued command was refused: EXECABORT */
#define CLIENT_PUBSUB            (1u << 18) /* has subscriptions (subscriber mode in RESP2) */
/* Only in a forwarded run's flags: remember the keys its reads touch for
 * the origin's client tracking (tracking.c). */
#define CLIENT_TRACK_REMEMBER    (1u << 31)
#define CLIENT_SCRIPT            (1u << 19) /* a Lua script's own client (redis.call) */

enum { BLOCK_MODE_NONE = 0, BLOCK_MODE_SERVING = 1, BLOCK_MODE_TIMEOUT = 2 };

/* One block of queued output. */
typedef struct cb_outblock {
    struct cb_outblock *next;
    size_t used, cap;
    size_t sent;      /* bytes already written from this block */
    char data[];
} cb_outblock;

/* Bytes an output block holds allocated (a deferred-length header block has
 * cap 0 and 32 bytes of room: reply.c). */
#define CB_OUTBLOCK_MEM(b) (sizeof(cb_outblock) + ((b)->cap ? (b)->cap : 32))

typedef struct cb_client {
    uint64_t id;
    int fd;                 /* kernel plane socket; -1 on DPDK */
    void *conn;             /* driver's connection handle */
    struct cb_worker *w;
    struct cb_shard *shard;
    struct cb_db *db;
    int dbid;
    int resp;               /* 2 or 3 */
    uint32_t flags;
    int authenticated;
    struct cb_acl_user *user; /* NULL until AUTH: the default user (acl.h) */
    char *name;             /* CLIENT SETNAME, NULL if none */
    char *lib_name, *lib_ver;

    /* Current command. argv[i]/argv_len[i] point into received data or the
     * parser's own storage; valid until the command returns. */
    int argc;
    const char **argv;
    size_t *argv_len;
    const struct cb_command *cmd, *lastcmd;
    resp_parser parser;

    /* Output: a chain of blocks; bytes queued but not yet written. */
    cb_outblock *out_head, *out_tail;
    size_t out_bytes;
    long long obuf_soft_limit_since_ms;

    /* Addresses as CLIENT LIST prints them ("ip:port"). */
    char addr[128], laddr[128];
    long long ctime_ms, last_interaction_ms;
    uint64_t net_in, net_out, commands;
    long long paused_until; /* unused when not blocked */
    struct cb_client *prev, *next; /* worker's client list */
    struct cb_client *pending_next; /* pending-write list */
    int last_errno;
    const struct cb_driver_ops *ops;
    /* Input received while a command is held back (CLIENT PAUSE). */
    char *pending_in;
    size_t pending_len, pending_cap;
    int held;               /* 1: CLIENT PAUSE holds the parsed command;
                             * 2: a run of commands is on another worker;
                             * 3: as 2, and the parsed command waits for it;
                             * 4: blocked on keys (BLPOP...);
                             * 5: waiting for its MIGRATE (cmd_migrate.c) */
    void *batch;            /* run being gathered for another worker (xshard) */
    /* Transactions (multi.c). dirty_cas is set by whichever worker writes a
     * watched key, so it is a field of its own, written atomically. */
    struct cb_mstate *mstate;
    struct cb_watched *watched;
    int nwatched, watched_cap;
    int dirty_cas;
    /* Blocking commands (blocking.c): the saved command while blocked
     * (held == 4), and how a re-run of it must behave. */
    struct cb_blocked *blk;
    int block_mode;         /* BLOCK_MODE_* */
    int block_still;        /* a serving re-run found nothing */
    struct cb_psub *ps;     /* Pub/Sub subscriptions (pubsub.c), NULL if none */
    struct cb_track *trk;   /* CLIENT TRACKING state (tracking.c), NULL if never on */
    long long pause_check_ms;
    uint64_t errors_seen;   /* error replies sent during the current call */
    uint64_t aof_wait;      /* appendfsync always: reply waits for this AOF record */
    int lua_debug;          /* SCRIPT DEBUG: 0 no, 1 yes (rolled back), 2 sync */
    /* Client memory (client_evict.c): bytes of output blocks allocated, the
     * total last accounted on the worker, the eviction bucket it is filed
     * in (-1: none) and the bucket's links. mem_tracked: a real connection. */
    size_t out_mem;
    size_t mem_counted;
    int mem_bucket;
    int mem_tracked;
    struct cb_client *mb_prev, *mb_next;
    struct cb_replconf *replconf; /* REPLCONF settings before SYNC/PSYNC (cmd_repl.c) */
} cb_client;

/* Arg i as a slice; helpers for handlers. */
#define ARGP(c, i) ((c)->argv[i])
#define ARGL(c, i) ((c)->argv_len[i])
int arg_eq(const cb_client *c, int i, const char *word); /* case-insensitive */
/* Parse arg i as long long; on failure reply ERR_NOT_INT (or msg) and return -1. */
int arg_ll(cb_client *c, int i, long long *v, const char *msg);
int arg_ll_range(cb_client *c, int i, long long *v, long long min, long long max,
                 const char *msg);
/* Parse arg i as a double / long double; reply ERR_NOT_FLOAT (or msg) on failure. */
int arg_double(cb_client *c, int i, double *v, const char *msg);
int arg_long_double(cb_client *c, int i, long double *v, const char *msg);
/* Redis's "unknown subcommand or wrong number of arguments for '<argv[1]>'.
 * Try <ARGV[0]> HELP." with both names as the client typed them (the
 * container's may be a rename-command name). */
void reply_subcommand_syntax(cb_client *c);

/* Shard routing for handlers. Keys live in the shard that owns their hash
 * slot (util_key_slot % number of shards). Single-key commands need none of
 * this: the dispatcher runs them with c->shard / c->db set to the owner.
 * Handlers of multi-key and keyspace-wide commands resolve every key here;
 * the dispatcher guarantees that every shard they can reach is safe to use
 * for the whole call (the other workers are parked). With one worker all of
 * these return c->shard. */
struct cb_shard *client_key_shard(cb_client *c, const char *key, size_t len);
/* The client's selected db inside shard s. */
struct cb_db *client_shard_db(cb_client *c, struct cb_shard *s);
int client_nshards(const cb_client *c);
struct cb_shard *client_shard_at(const cb_client *c, int i);

/* Select db by index; 0 ok, -1 out of range. */
int client_select_db(cb_client *c, int id);
/* CLIENT LIST line for this client (caller frees with cb_free). */
char *client_info_line(cb_client *c);

#endif
