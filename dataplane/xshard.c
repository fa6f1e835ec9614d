/* xshard.c — running commands whose keys live in another worker's shard
 * (see xshard.h for the three routes). Messages travel over one SPSC ring
 * per ordered pair of workers; a send never blocks: when the ring is full
 * the message waits in a per-destination overflow list that is flushed, in
 * order, on the next loop turn. Parking is the only place a worker spins, and
 * only a command that needs several shards asks for it.
 */
#include "xshard.h"
#include "../persist/aof.h"

#include <sched.h>
#include <string.h>

#include "cmd/command.h"
#include "blocking.h"
#include "conn.h"
#include "dispatch.h"
#include "tracking.h"
#include "worker.h"
#include "script/script.h"
#include "dpdk/dpdk_driver.h"
#include "resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"

#define XRING_SIZE 1024
#define MAX_STACK_KEYS 32

enum { XM_EXEC = 1, XM_REPLY = 2, XM_MONITOR = 3, XM_TRACK = 4 };

typedef struct xmsg {
    struct xmsg *next;          /* overflow list */
    int kind;
    int src;
    cb_client *origin;          /* only dereferenced by the origin worker */
    int dbid, resp;
    uint32_t flags;             /* the origin's reply-muting flags */
    uint64_t client_id;
    int argc;                   /* XM_EXEC: commands in the packed run */
    size_t len;                 /* bytes in data */
    /* XM_EXEC: the origin's address and name (slow log entries), copied
     * NUL-terminated after the packed run: data + len. */
    size_t addr_len, name_len;
    char data[];
} xmsg;

/* Commands that read or change the whole keyspace, other workers' state or
 * the shared configuration (CONFIG SET may free a string another worker is
 * reading) or the watch registry (multi.c): they run with every other worker
 * parked. Looked up by name once. */
static const char *const global_names[] = {
    "keys", "scan", "dbsize", "randomkey", "flushdb", "flushall", "swapdb", "debug",
    "info", "shutdown", "client|list", "client|kill", "config|resetstat", "config|set",
    "config|get", "config|rewrite", "watch", "unwatch", "exec", "discard", "reset",
    /* Blocking commands and CLIENT UNBLOCK change the blocking registry. */
    "blpop", "brpop", "blmove", "brpoplpush", "blmpop", "bzpopmin", "bzpopmax", "bzmpop",
    "client|unblock", "xread", "xreadgroup", "wait",
    /* The slow log and latency data of every worker are read or cleared. */
    "slowlog|get", "slowlog|len", "slowlog|reset", "latency|latest", "latency|history",
    "latency|reset", "latency|graph", "latency|doctor", "latency|histogram",
    /* Pub/Sub subscriptions change the shared registry. */
    "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe",
    "pubsub|channels", "pubsub|numsub", "pubsub|numpat", "pubsub|shardchannels",
    "pubsub|shardnumsub",
    /* Looks up the REDIRECT client and changes every shard's BCAST prefixes. */
    "client|tracking",
    /* SORT's BY/GET patterns may name keys of any shard. */
    "sort", "sort_ro",
    /* The memory report walks every shard and client list. */
    "memory|stats", "memory|doctor",
    /* SAVE reads every shard; BGSAVE's epoch starts in all at one instant. */
    "save", "bgsave",
    /* Scripts may touch keys of any shard, declared or not. */
    "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro",
    /* ACL changes replace users that every worker's checks read. */
    "acl|setuser", "acl|deluser", "acl|load",
    /* MIGRATE's keys may live in any shard; its links are the caller's
     * worker's (cmd_migrate.c). */
    "migrate", NULL};
static unsigned char *global_ids; /* read-only after the first worker's init */

static int is_global(const cb_command *cmd) { return global_ids && global_ids[cmd->id]; }

int xshard_init_worker(cb_worker *w, int nworkers) {
    if (!global_ids) {
        global_ids = cb_calloc((size_t)command_ids() + 1);
        for (int i = 0; global_names[i]; i++) {
            for (int id = 0; id < command_ids(); id++) {
                const cb_command *c = command_by_id(id);
                if (c && strcmp(command_fullname(c), global_names[i]) == 0) global_ids[id] = 1;
            }
        }
    }
    if (nworkers <= 1) return 0;
    w->inbox = cb_calloc(sizeof(cb_ring *) * (size_t)nworkers);
    w->ovf_head = cb_calloc(sizeof(xmsg *) * (size_t)nworkers);
    w->ovf_tail = cb_calloc(sizeof(xmsg *) * (size_t)nworkers);
    w->wake_pending = cb_calloc((size_t)nworkers);
    for (int i = 0; i < nworkers; i++) {
        if (i == w->id) continue;
        w->inbox[i] = ring_create(XRING_SIZE);
        if (!w->inbox[i]) return -1;
    }
    return 0;
}

void xshard_free_worker(cb_worker *w) {
    if (!w->inbox) return;
    for (int i = 0; i < g_server.nworkers; i++) {
        if (w->inbox[i]) {
            xmsg *m;
            while ((m = ring_dequeue(w->inbox[i]))) cb_free_shared(m);
            ring_free(w->inbox[i]);
        }
        for (xmsg *m = w->ovf_head[i], *n; m; m = n) {
            n = m->next;
            cb_free_shared(m);
        }
    }
    cb_free(w->inbox);
    cb_free(w->ovf_head);
    cb_free(w->ovf_tail);
    cb_free(w->wake_pending);
    w->inbox = NULL;
}

/* ------------------------------------------------------------------ routing */

int xshard_route(cb_client *c, const cb_command *cmd, int *owner) {
    int n = g_server.nworkers;
    *owner = -1;
    if (n <= 1) return ROUTE_LOCAL;
    int stackidx[MAX_STACK_KEYS];
    int *idx = stackidx;
    int nk = command_get_keys(cmd, c->argc, c->argv, c->argv_len, idx, NULL, MAX_STACK_KEYS);
    if (nk > MAX_STACK_KEYS) {
        idx = cb_malloc(sizeof(int) * (size_t)nk);
        nk = command_get_keys(cmd, c->argc, c->argv, c->argv_len, idx, NULL, nk);
    }
    int first = -1, spread = 0;
    for (int i = 0; i < nk; i++) {
        int s = (int)(util_key_slot(c->argv[idx[i]], c->argv_len[idx[i]]) % (unsigned)n);
        if (first < 0)
            first = s;
        else if (s != first)
            spread = 1;
    }
    if (idx != stackidx) cb_free(idx);
    if (!spread) *owner = first;
    if (spread || is_global(cmd)) return ROUTE_ALL;
    if (first < 0 || first == c->w->id) return ROUTE_LOCAL;
    return ROUTE_REMOTE;
}

/* ---------------------------------------------------------------- messages */

static void xsend(cb_worker *w, int dst, xmsg *m) {
    m->src = w->id;
    m->next = NULL;
    cb_worker *d = g_server.workers[dst];
    if (w->ovf_head[dst] || ring_enqueue(d->inbox[w->id], m) != 0) {
        if (w->ovf_tail[dst])
            w->ovf_tail[dst]->next = m;
        else
            w->ovf_head[dst] = m;
        w->ovf_tail[dst] = m;
    }
    w->wake_pending[dst] = 1;
}

static int flush_overflow(cb_worker *w) {
    int pending = 0;
    for (int dst = 0; dst < g_server.nworkers; dst++) {
        cb_worker *d = g_server.workers[dst];
        while (w->ovf_head[dst]) {
            xmsg *m = w->ovf_head[dst];
            if (ring_enqueue(d->inbox[w->id], m) != 0) {
                pending = 1;
                break;
            }
            w->ovf_head[dst] = m->next;
            if (!w->ovf_head[dst]) w->ovf_tail[dst] = NULL;
            w->wake_pending[dst] = 1;
        }
    }
    return pending;
}

static void flush_wakes(cb_worker *w) {
    for (int dst = 0; dst < g_server.nworkers; dst++) {
        if (w->wake_pending[dst]) {
            w->wake_pending[dst] = 0;
            kdrv_wake(g_server.workers[dst]);
        }
    }
}

/* A client's run of consecutive commands for one other worker, packed as
 * they will travel: per command the command pointer, argc, then each
 * argument as a length and its bytes. One message, one reply, one hop for
 * the whole run; the client waits once. */
typedef struct xbatch {
    int owner;
    int ncmds;
    uint32_t flags;             /* the client's reply-muting flags at the start */
    size_t len, cap;
    char *buf;
} xbatch;

#define BATCH_MAX_CMDS 128
#define BATCH_MAX_BYTES (256 * 1024)

static void batch_put(xbatch *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        b->buf = cb_realloc(b->buf, cap);
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

int xshard_batch_add(cb_client *c, const cb_command *cmd, int owner) {
    xbatch *b = c->batch;
    if (b && (b->owner != owner || b->ncmds >= BATCH_MAX_CMDS || b->len >= BATCH_MAX_BYTES ||
              (b->flags & CLIENT_TRACK_REMEMBER) != tracking_remember_flag(c)))
        return 0;
    if (!b) {
        b = cb_calloc(sizeof(*b));
        b->owner = owner;
        b->flags = (c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)) | tracking_remember_flag(c);
        c->batch = b;
    }
    int32_t argc = c->argc;
    batch_put(b, &cmd, sizeof(cmd));
    batch_put(b, &argc, sizeof(argc));
    for (int i = 0; i < c->argc; i++) {
        uint64_t l = c->argv_len[i];
        batch_put(b, &l, sizeof(l));
        batch_put(b, c->argv[i], c->argv_len[i]);
    }
    b->ncmds++;
    return 1;
}

void xshard_flush(cb_client *c) {
    xbatch *b = c->batch;
    if (!b) return;
    c->batch = NULL;
    size_t al = strlen(c->addr), nl = c->name ? strlen(c->name) : 0;
    xmsg *m = cb_malloc_shared(sizeof(*m) + b->len + al + nl + 2);
    m->addr_len = al;
    m->name_len = nl;
    memcpy(m->data + b->len, c->addr, al + 1);
    memcpy(m->data + b->len + al + 1, c->name ? c->name : "", nl + 1);
    m->kind = XM_EXEC;
    m->origin = c;
    m->dbid = c->dbid;
    m->resp = c->resp;
    m->flags = b->flags;
    m->client_id = c->id;
    m->argc = b->ncmds;
    m->len = b->len;
    memcpy(m->data, b->buf, b->len);
    int owner = b->owner;
    cb_free(b->buf);
    cb_free(b);
    c->held = 2;
    xsend(c->w, owner, m);
}

/* Run a forwarded run of commands on this worker's shard, in order, and send
 * their replies back as one message. */
static void exec_forwarded(cb_worker *w, xmsg *m) {
    cb_client px;
    memset(&px, 0, sizeof(px));
    px.id = m->client_id;
    px.fd = -1;
    px.w = w;
    px.shard = w->shard;
    px.dbid = m->dbid;
    px.db = &w->shard->dbs[m->dbid];
    px.resp = m->resp;
    px.flags = CLIENT_PROXY | m->flags;
    px.authenticated = 1;
    if (m->addr_len < sizeof(px.addr)) memcpy(px.addr, m->data + m->len, m->addr_len + 1);
    if (m->name_len) px.name = m->data + m->len + m->addr_len + 1; /* read-only here */
    tracking_proxy_begin(&px, m->src);

    const char *argv_stack[16];
    size_t len_stack[16];
    const char *p = m->data, *end = m->data + m->len;
    for (int k = 0; k < m->argc && p < end; k++) {
        const cb_command *cmd;
        int32_t argc;
        memcpy(&cmd, p, sizeof(cmd));
        p += sizeof(cmd);
        memcpy(&argc, p, sizeof(argc));
        p += sizeof(argc);
        const char **argv = argc <= 16 ? argv_stack : cb_malloc(sizeof(char *) * (size_t)argc);
        size_t *lens = argc <= 16 ? len_stack : cb_malloc(sizeof(size_t) * (size_t)argc);
        for (int i = 0; i < argc; i++) {
            uint64_t l;
            memcpy(&l, p, sizeof(l));
            p += sizeof(l);
            argv[i] = p;
            lens[i] = (size_t)l;
            p += l;
        }
        px.argc = argc;
        px.argv = argv;
        px.argv_len = lens;
        if (!dispatch_reject_oom(&px, cmd)) dispatch_call(&px, cmd);
        /* CLIENT REPLY SKIP covered only the first command of the run. */
        px.flags &= ~CLIENT_REPLY_SKIP;
        blocking_serve_ready(w);
        if (argv != argv_stack) {
            cb_free(argv);
            cb_free(lens);
        }
    }

    size_t len = px.out_bytes;
    xmsg *r = cb_malloc_shared(sizeof(*r) + len);
    r->kind = XM_REPLY;
    r->origin = m->origin;
    r->len = 0;
    for (cb_outblock *b = px.out_head, *n; b; b = n) {
        n = b->next;
        memcpy(r->data + r->len, b->data + b->sent, b->used - b->sent);
        r->len += b->used - b->sent;
        cb_free_conn(b);
    }
    int src = m->src;
    cb_free_shared(m);
    xsend(w, src, r);
    tracking_proxy_end(&px);
    tracking_after_command(w); /* the origin's own invalidations follow its replies */
}

void xshard_kick(cb_worker *w) {
    if (w->wake_pending) flush_wakes(w);
}

void xshard_send_tracking(cb_worker *w, int dst, const void *data, size_t len) {
    xmsg *m = cb_malloc(sizeof(*m) + len);
    m->kind = XM_TRACK;
    m->len = len;
    memcpy(m->data, data, len);
    xsend(w, dst, m);
}

void xshard_feed_monitors(cb_worker *w, const char *line, size_t len) {
    for (int dst = 0; dst < g_server.nworkers; dst++) {
        cb_worker *d = g_server.workers[dst];
        if (d == w || !__atomic_load_n(&d->nmonitors, __ATOMIC_RELAXED)) continue;
        xmsg *m = cb_malloc_shared(sizeof(*m) + len);
        m->kind = XM_MONITOR;
        m->len = len;
        memcpy(m->data, line, len);
        xsend(w, dst, m);
    }
}

/* ----------------------------------------------------------------- parking */

static void cpu_relax(void) { __builtin_ia32_pause(); }

/* Join a park round if one is on: ack, then wait for the release. From the
 * loop's safe point (from_loop) a parked worker still answers its clients
 * BUSY while the parking worker runs a script past its time limit. */
static void join_park(cb_worker *w, int from_loop) {
    if (!__atomic_load_n(&g_server.park_active, __ATOMIC_ACQUIRE)) return;
    uint64_t gen = __atomic_load_n(&g_server.park_gen, __ATOMIC_ACQUIRE);
    if (w->parked_gen == gen || __atomic_load_n(&g_server.park_owner, __ATOMIC_RELAXED) == w->id)
        return;
    w->parked_gen = gen;
    __atomic_add_fetch(&g_server.park_acks, 1, __ATOMIC_ACQ_REL);
    int spins = 0;
    while (__atomic_load_n(&g_server.park_active, __ATOMIC_ACQUIRE) &&
           __atomic_load_n(&g_server.park_gen, __ATOMIC_ACQUIRE) == gen) {
        if (++spins % 1024 == 0) {
            sched_yield();
            /* A parked poll core keeps its stack moving (packets, ACKs,
             * timers); its clients wait for the release, or get BUSY. */
            if (from_loop && !script_parked_poll(w) && w->dpdk) ddrv_stack_poll(w, NULL);
        } else
            cpu_relax();
    }
}

/* Park every worker but `self` (-1: all of them, from the management
 * thread); one coordinator at a time. */
static void park(cb_worker *w, int self) {
    while (pthread_mutex_trylock(&g_server.xs_lock) != 0) {
        if (w) join_park(w, 0); /* another coordinator may be waiting for us */
        cpu_relax();
    }
    __atomic_store_n(&g_server.park_acks, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&g_server.park_owner, self, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g_server.park_gen, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&g_server.park_active, 1, __ATOMIC_RELEASE);
    int others = g_server.nworkers - (self >= 0 ? 1 : 0);
    for (int i = 0; i < g_server.nworkers; i++)
        if (i != self) kdrv_wake(g_server.workers[i]);
    int spins = 0;
    for (;;) {
        int exited = 0;
        for (int i = 0; i < g_server.nworkers; i++)
            if (i != self && __atomic_load_n(&g_server.workers[i]->exited, __ATOMIC_ACQUIRE))
                exited++;
        if (__atomic_load_n(&g_server.park_acks, __ATOMIC_ACQUIRE) + exited >= others) break;
        if (++spins % 1024 == 0)
            sched_yield();
        else
            cpu_relax();
    }
}

static void unpark(void) {
    __atomic_store_n(&g_server.park_active, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&g_server.xs_lock);
}

void xshard_park_others(cb_worker *w) {
    if (g_server.nworkers > 1) park(w, w->id);
}

void xshard_release(cb_worker *w) {
    (void)w;
    if (g_server.nworkers > 1) unpark();
}

void xshard_park_all(void) { park(NULL, -1); }

void xshard_release_all(void) { unpark(); }

/* ------------------------------------------------------------------ service */

int xshard_pending(const cb_worker *w) {
    if (__atomic_load_n(&g_server.park_active, __ATOMIC_ACQUIRE)) return 1;
    if (!w->inbox) return 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        if (w->ovf_head[i]) return 1;
        if (w->inbox[i] && ring_count(w->inbox[i])) return 1;
    }
    return 0;
}

int xshard_service(cb_worker *w) {
    join_park(w, 1);
    if (!w->inbox) return 0;
    int did = 0;
    for (int src = 0; src < g_server.nworkers; src++) {
        if (!w->inbox[src]) continue;
        /* Bounded per turn so one busy peer cannot starve our own clients. */
        for (int k = 0; k < 256; k++) {
            xmsg *m = ring_dequeue(w->inbox[src]);
            if (!m) break;
            did = 1;
            if (m->kind == XM_EXEC) {
                exec_forwarded(w, m);
            } else if (m->kind == XM_TRACK) {
                tracking_deliver(w, m->data, m->len);
                cb_free(m);
            } else if (m->kind == XM_MONITOR) {
                conn_deliver_monitor_line(w, NULL, m->data, m->len);
                cb_free_shared(m);
            } else {
                /* Its AOF record was handed out before this reply. */
                m->origin->aof_wait = aof_last_seq();
                conn_forward_done(m->origin, m->data, m->len);
                cb_free_shared(m);
            }
        }
    }
    flush_overflow(w);
    flush_wakes(w);
    return did;
}

void xshard_run_detached(cb_client *c, const cb_command *cmd, int argc, const char **argv,
                         size_t *lens)
{
    c->argc = argc;
    c->argv = argv;
    c->argv_len = lens;
    cb_shard *own = g_server.workers[0]->shard;
    c->shard = own;
    int owner = -1;
    if (g_server.nworkers > 1) xshard_route(c, cmd, &owner);
    if (owner >= 0) c->shard = g_server.workers[owner]->shard;
    c->db = &c->shard->dbs[c->dbid];
    long long now = util_mstime();
    for (int i = 0; i < g_server.nworkers; i++) shard_set_time(g_server.workers[i]->shard, now);
    c->cmd = cmd;
    c->flags |= CLIENT_IN_CALL;
    cmd->proc(c);
    c->flags &= ~CLIENT_IN_CALL;
    c->shard = own;
    c->db = &own->dbs[c->dbid];
    /* Nobody reads the replies. */
    for (cb_outblock *b = c->out_head, *n; b; b = n) {
        n = b->next;
        cb_free(b);
    }
    c->out_head = c->out_tail = NULL;
    c->out_bytes = 0;
}
