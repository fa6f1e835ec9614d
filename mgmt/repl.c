/* repl.c — master-side replication on the management thread (repl.h).
 *
 * A replica's life, one state per step (the `state` field):
 *   WAIT_START  attached, waiting for a snapshot to begin (one already
 *               running for BGSAVE, or the diskless delay);
 *   WAIT_END    the epoch was taken: +FULLRESYNC <replid> <offset> is
 *               queued, the stream after the epoch collects in `pend`;
 *               diskless: the RDB bytes flow into `out` as the workers
 *               serialize (framed by $EOF:<mark>);
 *   SEND_FILE   disk-based: the finished dbfilename is queued as
 *               $<len>\r\n<bytes>, read as the socket drains;
 *   WAIT_ACK    diskless: the mark is sent; the stream starts at the
 *               replica's first REPLCONF ACK, as Redis does (a replica
 *               finds the end of an EOF-framed payload only if nothing
 *               follows it in the same read);
 *   ONLINE      every stream byte goes to `out` as it is produced.
 * The stream is the AOF writer's records in global sequence order (the
 * tap, aof.h), with SELECT when the db changes and MULTI/EXEC around
 * multi-effect records, exactly as the AOF gets them. The epoch is taken
 * with every worker parked after every record up to that instant reached
 * the tap (aof_feed_parked), so the image holds exactly the records up to
 * the offset +FULLRESYNC names, and the stream starts right after it.
 * The backlog is a ring of repl-backlog-size bytes of that stream; a
 * PSYNC whose replid and offset fall inside it gets +CONTINUE and the
 * missing bytes only. Design: docs/replication.md.
 */
#include "repl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mgmt.h"
#include "../dataplane/worker.h"
#include "../dataplane/xshard.h"
#include "../persist/aof.h"
#include "../persist/bgsave.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/util.h"

enum { R_WAIT_START, R_WAIT_END, R_SEND_FILE, R_WAIT_ACK, R_ONLINE };

/* Diskless payloads wait in the replicas' buffers; past this the
 * snapshot's rings are held back. */
#define R_SINK_HIGH (8u << 20)
/* The file is read in pieces of this size as the socket drains. */
#define R_FILE_CHUNK (256u << 10)
/* seq -> stream offset pairs kept for WAIT. */
#define R_SEQMAP 4096

typedef struct replica {
    struct replica *next;
    repl_handoff h;
    int state;
    int diskless;            /* in the current diskless epoch */
    cbstr out;               /* bytes to send; out_sent already sent */
    size_t out_sent;
    cbstr pend;              /* stream after the epoch, until the payload is out */
    int rdb_fd;
    long long rdb_left;
    char in[512];            /* REPLCONF ACK lines being read */
    size_t inlen;
    long long ack_off, ack_time;
    int acked;               /* a REPLCONF ACK arrived (CLIENT LIST cmd=replconf) */
    long long attached_ms;
    int closing;
} replica;

static struct {
    pthread_mutex_t mu;
    int inited;
    replica *list;
    int nrep;
    /* Handoffs from workers, taken by the next tick. */
    repl_handoff *inbox;
    int ninbox, inbox_cap;
    /* The stream. */
    char *backlog;           /* NULL: no backlog (and no recording for us) */
    size_t bl_size, bl_idx, bl_histlen;
    long long offset;        /* master_repl_offset */
    long long bl_first;      /* repl_backlog_first_byte_offset */
    int seldb;               /* db the stream last selected, -1 none */
    char replid2[41];
    long long second_offset;
    long long no_replicas_since;
    /* seq -> offset after that record (WAIT) */
    uint64_t seq_of[R_SEQMAP];
    long long off_of[R_SEQMAP];
    int seq_n, seq_head;
    uint64_t fed_seq;
    /* The snapshot for replicas. */
    int snap_running;        /* a snapshot we started is running */
    int snap_diskless;
    char eofmark[41];
    char file_path[4096];
    int file_for_sync;       /* delete after transfer (rdb-del-sync-files) */
    /* Stats. */
    long long sync_full, sync_partial_ok, sync_partial_err;
    long long net_out;       /* bytes sent to replicas */
    long long last_ping_ms;
    long long last_newline_ms;
    int getack_req;          /* atomic */
} R = {.mu = PTHREAD_MUTEX_INITIALIZER, .seldb = -1, .second_offset = -1};

static const char ZERO_ID[] = "0000000000000000000000000000000000000000";

/* ------------------------------------------------------------ buffers */

static void out_add(replica *r, const void *p, size_t n) { r->out = cbstr_cat(r->out, p, n); }

static size_t out_left(const replica *r) { return cbstr_len(r->out) - r->out_sent; }

static void out_addstr(replica *r, const char *s) { out_add(r, s, strlen(s)); }

/* ------------------------------------------------------------ backlog */

static void backlog_add(const char *p, size_t n) {
    R.offset += (long long)n;
    if (!R.backlog) return;
    while (n) {
        size_t k = R.bl_size - R.bl_idx;
        if (k > n) k = n;
        memcpy(R.backlog + R.bl_idx, p, k);
        R.bl_idx = (R.bl_idx + k) % R.bl_size;
        R.bl_histlen += k;
        p += k;
        n -= k;
    }
    if (R.bl_histlen > R.bl_size) R.bl_histlen = R.bl_size;
    R.bl_first = R.offset - (long long)R.bl_histlen + 1;
}

/* Bytes of the backlog from stream offset `from` (inside it) to r. */
static void backlog_copy_to(replica *r, long long from) {
    long long skip = from - R.bl_first;
    size_t len = R.bl_histlen - (size_t)skip;
    size_t start = (R.bl_idx + R.bl_size - R.bl_histlen + (size_t)skip) % R.bl_size;
    while (len) {
        size_t k = R.bl_size - start;
        if (k > len) k = len;
        out_add(r, R.backlog + start, k);
        start = (start + k) % R.bl_size;
        len -= k;
    }
}

static void backlog_create(void) {
    R.bl_size = (size_t)g_config.repl_backlog_size;
    if (R.bl_size < 16 * 1024) R.bl_size = 16 * 1024;
    R.backlog = cb_malloc(R.bl_size);
    R.bl_idx = R.bl_histlen = 0;
    R.bl_first = R.offset + 1;
    /* A new history: a new replication ID, no previous one (as Redis). */
    util_random_hex(g_server.master_replid, 40);
    g_server.master_replid[40] = '\0';
    memcpy(R.replid2, ZERO_ID, 41);
    R.second_offset = -1;
    R.seldb = -1;
    R.seq_n = R.seq_head = 0;
    aof_tap_recording(1);
    cb_log(LOG_NOTICE, "Replication backlog created, my new replication IDs are '%s' and '%s'",
           g_server.master_replid, R.replid2);
}

static void backlog_free(void) {
    cb_free(R.backlog);
    R.backlog = NULL;
    R.bl_histlen = 0;
    aof_tap_recording(0);
}

/* ------------------------------------------------------------- stream */

/* Bytes of the stream: backlog, online replicas, and the `pend` of those
 * whose payload is still on its way. */
static void feed(const char *p, size_t n) {
    backlog_add(p, n);
    for (replica *r = R.list; r; r = r->next) {
        if (r->closing) continue;
        if (r->state == R_ONLINE)
            out_add(r, p, n);
        else if (r->state != R_WAIT_START)
            r->pend = cbstr_cat(r->pend, p, n);
    }
}

/* The AOF writer's tap: one record of effects, in global order. */
static void tap(const aof_rec *rec) {
    pthread_mutex_lock(&R.mu);
    if (rec->seq > R.fed_seq) R.fed_seq = rec->seq;
    if (!R.backlog) {
        pthread_mutex_unlock(&R.mu);
        return;
    }
    cbstr b = cbstr_with_cap(rec->len + 64);
    const char *p = rec->data;
    for (uint32_t i = 0; i < rec->nops; i++) {
        int32_t db;
        uint32_t n;
        memcpy(&db, p, sizeof(db));
        memcpy(&n, p + sizeof(db), sizeof(n));
        p += sizeof(db) + sizeof(n);
        if (db != R.seldb) {
            char num[16];
            int k = snprintf(num, sizeof(num), "%d", db);
            const char *argv[2] = {"SELECT", num};
            size_t lens[2] = {6, (size_t)k};
            b = aof_cat_cmd(b, 2, argv, lens);
            R.seldb = db;
        }
        if (i == 0 && rec->nops > 1) b = cbstr_cat(b, "*1\r\n$5\r\nMULTI\r\n", 15);
        b = cbstr_cat(b, p, n);
        p += n;
    }
    if (rec->nops > 1) b = cbstr_cat(b, "*1\r\n$4\r\nEXEC\r\n", 14);
    feed(b, cbstr_len(b));
    cbstr_free(b);
    int slot = (R.seq_head + R.seq_n) % R_SEQMAP;
    if (R.seq_n == R_SEQMAP) R.seq_head = (R.seq_head + 1) % R_SEQMAP;
    else R.seq_n++;
    R.seq_of[slot] = rec->seq;
    R.off_of[slot] = R.offset;
    pthread_mutex_unlock(&R.mu);
}

/* ------------------------------------------------------------ replicas */

static const char *rep_ip(const replica *r, char *buf, size_t n) {
    if (r->h.ip[0]) return r->h.ip;
    snprintf(buf, n, "%s", r->h.addr);
    char *colon = strrchr(buf, ':');
    if (colon) *colon = '\0';
    return buf;
}

static const char *rep_name(const replica *r, char *buf, size_t n) {
    char ip[300];
    snprintf(buf, n, "%s:%d", rep_ip(r, ip, sizeof(ip)), r->h.listening_port);
    return buf;
}

static void rep_free(replica *r) {
    if (r->h.fd >= 0) close(r->h.fd);
    if (r->rdb_fd >= 0) close(r->rdb_fd);
    cbstr_free(r->out);
    cbstr_free(r->pend);
    cb_free(r);
}

static void rep_close(replica *r, const char *why) {
    if (r->closing) return;
    char nm[320];
    if (why) cb_log(LOG_NOTICE, "%s %s", why, rep_name(r, nm, sizeof(nm)));
    r->closing = 1;
}

/* PSYNC: +CONTINUE when the history the replica names is ours and its
 * offset lies in the backlog. 1 done, 0 a full sync is needed. */
static int try_partial(replica *r) {
    if (!r->h.psync || !R.backlog) return 0;
    int ours = strcmp(r->h.replid, g_server.master_replid) == 0;
    int prev = strcmp(r->h.replid, R.replid2) == 0 && r->h.offset <= R.second_offset;
    if (!ours && !prev) return 0;
    if (r->h.offset < R.bl_first || r->h.offset > R.bl_first + (long long)R.bl_histlen) return 0;
    char line[128];
    if (r->h.capa_psync2)
        snprintf(line, sizeof(line), "+CONTINUE %s\r\n", g_server.master_replid);
    else
        snprintf(line, sizeof(line), "+CONTINUE\r\n");
    out_addstr(r, line);
    backlog_copy_to(r, r->h.offset);
    r->state = R_ONLINE;
    r->ack_time = time(NULL);
    R.sync_partial_ok++;
    char nm[320];
    cb_log(LOG_NOTICE,
           "Partial resynchronization request from %s accepted. Sending %lld bytes of backlog "
           "starting from offset %lld.",
           rep_name(r, nm, sizeof(nm)), R.offset + 1 - r->h.offset, r->h.offset);
    return 1;
}

static void take_inbox(void) {
    for (int i = 0; i < R.ninbox; i++) {
        replica *r = cb_calloc(sizeof(*r));
        r->h = R.inbox[i];
        r->rdb_fd = -1;
        r->out = cbstr_with_cap(256);
        r->pend = cbstr_with_cap(256);
        r->attached_ms = util_mstime();
        r->ack_time = time(NULL);
        r->next = R.list;
        R.list = r;
        R.nrep++;
        char nm[320];
        cb_log(LOG_NOTICE, "Replica %s asks for synchronization", rep_name(r, nm, sizeof(nm)));
        if (try_partial(r)) continue;
        if (r->h.psync) {
            if (r->h.replid[0] != '?') {
                R.sync_partial_err++;
                cb_log(LOG_NOTICE, "Partial resynchronization not accepted: Replication ID "
                                   "mismatch or offset out of range (Replica asked for '%s' "
                                   "offset %lld)", r->h.replid, r->h.offset);
            } else {
                cb_log(LOG_NOTICE, "Full resync requested by replica %s", nm);
            }
        }
        R.sync_full++;
        if (!R.backlog) backlog_create();
        r->state = R_WAIT_START;
    }
    R.ninbox = 0;
}

/* ----------------------------------------------------------- snapshots */

static void sink(const void *p, size_t n, void *arg) {
    (void)arg;
    pthread_mutex_lock(&R.mu);
    for (replica *r = R.list; r; r = r->next)
        if (r->state == R_WAIT_END && r->diskless && !r->closing) out_add(r, p, n);
    pthread_mutex_unlock(&R.mu);
}

static int sink_busy(void *arg) {
    (void)arg;
    int busy = 0;
    pthread_mutex_lock(&R.mu);
    for (replica *r = R.list; r; r = r->next)
        if (r->state == R_WAIT_END && r->diskless && !r->closing && out_left(r) > R_SINK_HIGH)
            busy = 1;
    pthread_mutex_unlock(&R.mu);
    return busy;
}

/* Persistence off: the file written for a sync goes once sent. */
static int persistence_off(void) {
    return !g_config.appendonly && !(g_config.save_params && g_config.save_params[0]);
}

/* The snapshot ended (management thread, from bgsave_mgmt_pump). */
static void snapshot_done(int ok, int diskless) {
    pthread_mutex_lock(&R.mu);
    if (!R.snap_running) {
        pthread_mutex_unlock(&R.mu);
        return;
    }
    R.snap_running = 0;
    for (replica *r = R.list; r; r = r->next) {
        if (r->state != R_WAIT_END || r->closing) continue;
        if (!ok) {
            rep_close(r, diskless ? "Diskless sync failed, closing replica" :
                                    "SYNC failed. BGSAVE child returned an error, closing replica");
            continue;
        }
        if (diskless) {
            out_add(r, R.eofmark, 40);
            r->state = R_WAIT_ACK;
            char nm[320];
            cb_log(LOG_NOTICE, "Streamed RDB transfer with replica %s succeeded (socket). "
                               "Waiting for REPLCONF ACK from replica to enable streaming",
                   rep_name(r, nm, sizeof(nm)));
            continue;
        }
        r->rdb_fd = open(R.file_path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (r->rdb_fd < 0 || fstat(r->rdb_fd, &st) != 0) {
            cb_log(LOG_WARNING, "SYNC failed. Can't open/stat DB after BGSAVE: %s", strerror(errno));
            rep_close(r, NULL);
            continue;
        }
        r->rdb_left = (long long)st.st_size;
        char hdr[64];
        snprintf(hdr, sizeof(hdr), "$%lld\r\n", (long long)st.st_size);
        out_addstr(r, hdr);
        r->state = R_SEND_FILE;
    }
    pthread_mutex_unlock(&R.mu);
}

/* Start a snapshot for the replicas waiting for one (lock held; it is
 * dropped around the park). */
static void maybe_start_sync(void) {
    int waiting = 0, all_eof = 1;
    long long oldest = 0;
    for (replica *r = R.list; r; r = r->next) {
        if (r->state != R_WAIT_START || r->closing) continue;
        waiting++;
        if (!r->h.capa_eof) all_eof = 0;
        if (!oldest || r->attached_ms < oldest) oldest = r->attached_ms;
    }
    if (!waiting || R.snap_running || bgsave_in_progress()) return;
    int diskless = g_config.repl_diskless_sync && all_eof;
    if (diskless && util_mstime() - oldest < (long long)g_config.repl_diskless_sync_delay * 1000)
        return;
    pthread_mutex_unlock(&R.mu);
    xshard_park_all();
    aof_feed_parked(); /* every record up to the epoch is in the stream now */
    pthread_mutex_lock(&R.mu);
    int rc;
    if (diskless) {
        rc = bgsave_start_to_sink(sink, sink_busy, NULL);
    } else {
        cb_log(LOG_NOTICE, "Starting BGSAVE for SYNC with target: disk");
        rc = bgsave_start();
        snprintf(R.file_path, sizeof(R.file_path), "%s", g_config.dbfilename);
    }
    if (rc == 0) {
        R.snap_running = 1;
        R.snap_diskless = diskless;
        R.file_for_sync = !diskless;
        /* The replicas load the image into db 0: the stream selects anew. */
        R.seldb = -1;
        if (diskless) {
            util_random_hex(R.eofmark, 40);
            R.eofmark[40] = '\0';
        }
        for (replica *r = R.list; r; r = r->next) {
            if (r->state != R_WAIT_START || r->closing) continue;
            char line[128];
            if (r->h.psync) {
                snprintf(line, sizeof(line), "+FULLRESYNC %s %lld\r\n", g_server.master_replid,
                         R.offset);
                out_addstr(r, line);
            }
            if (diskless) {
                out_addstr(r, "$EOF:");
                out_add(r, R.eofmark, 40);
                out_addstr(r, "\r\n");
            }
            cbstr_clear(r->pend);
            r->diskless = diskless;
            r->state = R_WAIT_END;
        }
    }
    xshard_release_all();
}

/* ------------------------------------------------------------ socket I/O */

static void rep_write(replica *r) {
    /* Disk-based payload: top the buffer up from the file. */
    if (r->state == R_SEND_FILE && out_left(r) < R_FILE_CHUNK / 2) {
        if (r->rdb_left > 0) {
            char *buf = cb_malloc(R_FILE_CHUNK);
            ssize_t k = read(r->rdb_fd, buf, R_FILE_CHUNK);
            if (k <= 0) {
                cb_log(LOG_WARNING, "Read error sending DB to replica: %s",
                       k < 0 ? strerror(errno) : "premature EOF");
                rep_close(r, NULL);
                cb_free(buf);
                return;
            }
            out_add(r, buf, (size_t)k);
            r->rdb_left -= k;
            cb_free(buf);
        }
        if (r->rdb_left <= 0) {
            close(r->rdb_fd);
            r->rdb_fd = -1;
            out_add(r, r->pend, cbstr_len(r->pend));
            cbstr_free(r->pend);
            r->pend = cbstr_with_cap(64);
            r->state = R_ONLINE;
            r->ack_time = time(NULL);
            char nm[320];
            cb_log(LOG_NOTICE, "Synchronization with replica %s succeeded",
                   rep_name(r, nm, sizeof(nm)));
        }
    }
    while (out_left(r)) {
        ssize_t k = send(r->h.fd, r->out + r->out_sent, out_left(r), MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            rep_close(r, "Connection with replica lost:");
            return;
        }
        r->out_sent += (size_t)k;
        R.net_out += k;
    }
    if (r->out_sent == cbstr_len(r->out)) {
        cbstr_clear(r->out);
        r->out_sent = 0;
    } else if (r->out_sent > (1u << 20)) {
        cbstr_range(r->out, r->out_sent, cbstr_len(r->out) - r->out_sent);
        r->out_sent = 0;
    }
}

/* One command the replica sent: REPLCONF ACK <off> [FACK <off>]. */
static void rep_command(replica *r, int argc, char **argv) {
    if (argc >= 3 && !strcasecmp(argv[0], "replconf") && !strcasecmp(argv[1], "ack")) {
        long long off = strtoll(argv[2], NULL, 10);
        if (off > r->ack_off) r->ack_off = off;
        r->ack_time = time(NULL);
        r->acked = 1;
        if (r->state == R_WAIT_ACK) {
            /* The payload is loaded: the stream starts now. */
            out_add(r, r->pend, cbstr_len(r->pend));
            cbstr_free(r->pend);
            r->pend = cbstr_with_cap(64);
            r->state = R_ONLINE;
            char nm[320];
            cb_log(LOG_NOTICE, "Synchronization with replica %s succeeded",
                   rep_name(r, nm, sizeof(nm)));
        }
    }
}

/* Parses whole RESP arrays (or inline lines) out of r->in. */
static void rep_parse(replica *r) {
    size_t pos = 0;
    for (;;) {
        char *argv[8];
        char tmp[8][64];
        int argc = 0;
        size_t p = pos;
        if (p >= r->inlen) break;
        if (r->in[p] == '*') {
            char *nl = memchr(r->in + p, '\n', r->inlen - p);
            if (!nl) break;
            int n = atoi(r->in + p + 1);
            p = (size_t)(nl - r->in) + 1;
            int ok = 1;
            for (int i = 0; i < n && ok; i++) {
                if (p >= r->inlen || r->in[p] != '$') {
                    ok = 0;
                    break;
                }
                nl = memchr(r->in + p, '\n', r->inlen - p);
                if (!nl) {
                    ok = 0;
                    break;
                }
                long len = atol(r->in + p + 1);
                p = (size_t)(nl - r->in) + 1;
                if (len < 0 || p + (size_t)len + 2 > r->inlen) {
                    ok = 0;
                    break;
                }
                if (argc < 8) {
                    size_t k = (size_t)len < 63 ? (size_t)len : 63;
                    memcpy(tmp[argc], r->in + p, k);
                    tmp[argc][k] = '\0';
                    argv[argc] = tmp[argc];
                    argc++;
                }
                p += (size_t)len + 2;
            }
            if (!ok) break;
        } else {
            char *nl = memchr(r->in + p, '\n', r->inlen - p);
            if (!nl) break;
            p = (size_t)(nl - r->in) + 1; /* inline lines (a bare newline) are ignored */
        }
        rep_command(r, argc, argv);
        pos = p;
    }
    if (pos) {
        memmove(r->in, r->in + pos, r->inlen - pos);
        r->inlen -= pos;
    }
    if (r->inlen == sizeof(r->in)) r->inlen = 0; /* garbage: drop it */
}

static void rep_read(replica *r) {
    for (;;) {
        ssize_t k = read(r->h.fd, r->in + r->inlen, sizeof(r->in) - r->inlen);
        if (k > 0) {
            r->inlen += (size_t)k;
            rep_parse(r);
            continue;
        }
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (k < 0 && errno == EINTR) continue;
        rep_close(r, "Connection with replica lost:");
        return;
    }
}

/* ------------------------------------------------------------ the tick */

static void cron(void) {
    long long now_ms = util_mstime();
    time_t now = time(NULL);
    int period = g_config.repl_ping_replica_period;
    if (R.nrep && R.backlog && period > 0 && now_ms - R.last_ping_ms >= period * 1000LL) {
        R.last_ping_ms = now_ms;
        feed("*1\r\n$4\r\nPING\r\n", 14);
    }
    if (__atomic_exchange_n(&R.getack_req, 0, __ATOMIC_ACQ_REL) && R.backlog && R.nrep) {
        static const char getack[] = "*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";
        feed(getack, sizeof(getack) - 1);
    }
    /* Replicas waiting for a disk snapshot get a newline each second so
     * their link stays alive (Redis does the same; they skip it). */
    int newline = now_ms - R.last_newline_ms >= 1000;
    if (newline) R.last_newline_ms = now_ms;
    for (replica *r = R.list; r; r = r->next) {
        if (r->closing) continue;
        if (newline && !out_left(r) &&
            (r->state == R_WAIT_START || (r->state == R_WAIT_END && !r->diskless)))
            out_add(r, "\n", 1);
        if ((r->state == R_ONLINE || r->state == R_WAIT_ACK) &&
            now - r->ack_time > g_config.repl_timeout)
            rep_close(r, "Disconnecting timedout replica (streaming sync):");
        size_t hard = (size_t)g_config.obuf_limits[1].hard;
        if (hard && r->state == R_ONLINE && out_left(r) + cbstr_len(r->pend) > hard)
            rep_close(r, "Client output buffer hard limit reached, closing replica");
    }
    if (R.nrep == 0 && R.backlog) {
        if (!R.no_replicas_since) R.no_replicas_since = now;
        if (g_config.repl_backlog_ttl > 0 && now - R.no_replicas_since > g_config.repl_backlog_ttl) {
            /* A later replica must not continue a history we forgot. */
            util_random_hex(g_server.master_replid, 40);
            g_server.master_replid[40] = '\0';
            memcpy(R.replid2, ZERO_ID, 41);
            R.second_offset = -1;
            backlog_free();
            cb_log(LOG_NOTICE, "Replication backlog freed after %lld seconds without connected "
                               "replicas.", (long long)g_config.repl_backlog_ttl);
        }
    } else {
        R.no_replicas_since = 0;
    }
}

/* Drops closed replicas; the sync file goes once nobody reads it. */
static void reap(void) {
    replica **pp = &R.list;
    while (*pp) {
        replica *r = *pp;
        if (r->closing) {
            *pp = r->next;
            R.nrep--;
            rep_free(r);
        } else {
            pp = &r->next;
        }
    }
    if (R.file_for_sync && !R.snap_running) {
        int readers = 0;
        for (replica *r = R.list; r; r = r->next) readers |= r->state == R_SEND_FILE;
        if (!readers) {
            R.file_for_sync = 0;
            if (g_config.rdb_del_sync_files && persistence_off()) {
                cb_log(LOG_NOTICE, "Removing the RDB file used only for SYNC purposes");
                if (unlink(R.file_path) != 0 && errno != ENOENT)
                    cb_log(LOG_WARNING, "Unable to remove the RDB file: %s", strerror(errno));
            }
        }
    }
}

void repl_init(void) {
    if (R.inited) return;
    R.inited = 1;
    aof_set_tap(tap);
    bgsave_on_done(snapshot_done);
}

int repl_attach(const repl_handoff *h) {
    if (h->fd < 0) return -1;
    pthread_mutex_lock(&R.mu);
    if (R.ninbox == R.inbox_cap) {
        R.inbox_cap = R.inbox_cap ? R.inbox_cap * 2 : 4;
        R.inbox = cb_realloc(R.inbox, sizeof(*R.inbox) * (size_t)R.inbox_cap);
    }
    R.inbox[R.ninbox++] = *h;
    pthread_mutex_unlock(&R.mu);
    mgmt_wake();
    return 0;
}

int repl_pollfds(struct pollfd *pfd, int max) {
    int n = 0;
    pthread_mutex_lock(&R.mu);
    for (replica *r = R.list; r && n < max; r = r->next) {
        if (r->closing) continue;
        pfd[n].fd = r->h.fd;
        pfd[n].events = POLLIN | (out_left(r) || r->state == R_SEND_FILE ? POLLOUT : 0);
        pfd[n].revents = 0;
        n++;
    }
    pthread_mutex_unlock(&R.mu);
    return n;
}

void repl_tick(const struct pollfd *pfd, int n) {
    pthread_mutex_lock(&R.mu);
    take_inbox();
    for (int i = 0; i < n; i++) {
        if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP))) continue;
        for (replica *r = R.list; r; r = r->next)
            if (r->h.fd == pfd[i].fd && !r->closing) rep_read(r);
    }
    cron();
    maybe_start_sync();
    for (replica *r = R.list; r; r = r->next)
        if (!r->closing && (out_left(r) || r->state == R_SEND_FILE)) rep_write(r);
    reap();
    size_t held = R.backlog ? R.bl_size : 0;
    for (replica *r = R.list; r; r = r->next) held += cbstr_len(r->out) + cbstr_len(r->pend);
    mem_set_not_counted(held);
    pthread_mutex_unlock(&R.mu);
}

void repl_shutdown(void) {
    pthread_mutex_lock(&R.mu);
    take_inbox();
    long long until = util_mstime() + 500;
    for (replica *r = R.list; r; r = r->next) {
        while (!r->closing && r->state == R_ONLINE && out_left(r) && util_mstime() < until) {
            rep_write(r);
            if (out_left(r)) usleep(1000);
        }
        rep_close(r, NULL);
    }
    reap();
    pthread_mutex_unlock(&R.mu);
}

/* ------------------------------------------------------------- readers */

static const char *state_name(int s) {
    switch (s) {
    case R_WAIT_START:
    case R_WAIT_END:
        return "wait_bgsave";
    case R_SEND_FILE:
        return "send_bulk";
    default:
        return "online";
    }
}

/* Online replicas whose last ACK is at most min-replicas-max-lag old
 * (lock held). */
static int good_replicas(time_t now) {
    int n = 0;
    for (replica *r = R.list; r; r = r->next)
        if (!r->closing && r->state == R_ONLINE &&
            now - r->ack_time <= g_config.min_replicas_max_lag)
            n++;
    return n;
}

int repl_too_few_good_replicas(void) {
    if (!g_config.min_replicas_to_write || !g_config.min_replicas_max_lag) return 0;
    pthread_mutex_lock(&R.mu);
    int n = good_replicas(time(NULL));
    pthread_mutex_unlock(&R.mu);
    return n < g_config.min_replicas_to_write;
}

cbstr repl_info(cbstr s) {
    pthread_mutex_lock(&R.mu);
    time_t now = time(NULL);
    s = cbstr_catfmt(s, "role:master\r\nconnected_slaves:%d\r\n", R.nrep);
    if (g_config.min_replicas_to_write && g_config.min_replicas_max_lag)
        s = cbstr_catfmt(s, "min_slaves_good_slaves:%d\r\n", good_replicas(now));
    int i = 0;
    /* Oldest first, as Redis lists them. */
    replica *order[256];
    int n = 0;
    for (replica *r = R.list; r && n < 256; r = r->next) order[n++] = r;
    for (int k = n - 1; k >= 0; k--) {
        replica *r = order[k];
        char ip[300];
        s = cbstr_catfmt(s, "slave%d:ip=%s,port=%d,state=%s,offset=%lld,lag=%lld\r\n", i++,
                         rep_ip(r, ip, sizeof(ip)), r->h.listening_port, state_name(r->state),
                         r->ack_off, (long long)(now - r->ack_time));
    }
    const char *id = g_server.master_replid[0] ? g_server.master_replid : ZERO_ID;
    s = cbstr_catfmt(s,
                     "master_failover_state:no-failover\r\n"
                     "master_replid:%s\r\n"
                     "master_replid2:%s\r\n"
                     "master_repl_offset:%lld\r\n"
                     "second_repl_offset:%lld\r\n"
                     "repl_backlog_active:%d\r\n"
                     "repl_backlog_size:%lld\r\n"
                     "repl_backlog_first_byte_offset:%lld\r\n"
                     "repl_backlog_histlen:%zu\r\n",
                     id, R.replid2[0] ? R.replid2 : ZERO_ID, R.offset, R.second_offset,
                     R.backlog != NULL, (long long)g_config.repl_backlog_size,
                     R.backlog ? R.bl_first : 0, R.backlog ? R.bl_histlen : 0);
    pthread_mutex_unlock(&R.mu);
    return s;
}

long long repl_net_output_bytes(void) {
    pthread_mutex_lock(&R.mu);
    long long n = R.net_out;
    pthread_mutex_unlock(&R.mu);
    return n;
}

void repl_sync_stats(long long *full, long long *ok, long long *err) {
    pthread_mutex_lock(&R.mu);
    *full = R.sync_full;
    *ok = R.sync_partial_ok;
    *err = R.sync_partial_err;
    pthread_mutex_unlock(&R.mu);
}

size_t repl_mem_backlog(void) {
    pthread_mutex_lock(&R.mu);
    size_t n = R.backlog ? R.bl_size : 0;
    pthread_mutex_unlock(&R.mu);
    return n;
}

size_t repl_mem_replicas(void) {
    size_t n = 0;
    pthread_mutex_lock(&R.mu);
    for (replica *r = R.list; r; r = r->next) n += cbstr_len(r->out) + cbstr_len(r->pend);
    pthread_mutex_unlock(&R.mu);
    return n;
}

long long repl_role(char (**triples)[3][64], int *n) {
    pthread_mutex_lock(&R.mu);
    *triples = cb_calloc(sizeof(**triples) * (size_t)(R.nrep + 1));
    *n = 0;
    replica *order[256];
    int k = 0;
    for (replica *r = R.list; r && k < 256; r = r->next) order[k++] = r;
    for (int i = k - 1; i >= 0; i--) {
        replica *r = order[i];
        if (r->state != R_ONLINE && r->state != R_WAIT_ACK) continue;
        char ip[300];
        snprintf((*triples)[*n][0], 64, "%.63s", rep_ip(r, ip, sizeof(ip)));
        snprintf((*triples)[*n][1], 64, "%d", r->h.listening_port);
        snprintf((*triples)[*n][2], 64, "%lld", r->ack_off);
        (*n)++;
    }
    long long off = R.offset;
    pthread_mutex_unlock(&R.mu);
    return off;
}

/* The stream offset just after the record with sequence number seq, or -1
 * when it has not reached the stream yet. */
static long long offset_of_seq(uint64_t seq) {
    if (seq == 0 || R.seq_n == 0) return 0;
    if (seq > R.fed_seq) return -1;
    for (int i = 0; i < R.seq_n; i++) {
        int slot = (R.seq_head + i) % R_SEQMAP;
        if (R.seq_of[slot] >= seq) return R.off_of[slot];
    }
    return R.offset;
}

int repl_count_acked(uint64_t seq) {
    pthread_mutex_lock(&R.mu);
    long long want = offset_of_seq(seq);
    int n = 0;
    for (replica *r = R.list; r && want >= 0; r = r->next)
        if (!r->closing && r->state == R_ONLINE && r->ack_off >= want) n++;
    pthread_mutex_unlock(&R.mu);
    return n;
}

void repl_request_getack(void) {
    __atomic_store_n(&R.getack_req, 1, __ATOMIC_RELEASE);
    mgmt_wake();
}

cbstr repl_client_list(cbstr s, int nids, const unsigned long long *ids) {
    pthread_mutex_lock(&R.mu);
    long long now = util_mstime();
    replica *order[256];
    int k = 0;
    for (replica *r = R.list; r && k < 256; r = r->next) order[k++] = r;
    for (int i = k - 1; i >= 0; i--) {
        replica *r = order[i];
        if (nids) {
            int hit = 0;
            for (int j = 0; j < nids; j++) hit |= ids[j] == r->h.id;
            if (!hit) continue;
        }
        size_t omem = cbstr_len(r->out) + cbstr_len(r->pend);
        s = cbstr_catfmt(s,
                         "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=S "
                         "db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 "
                         "multi-mem=0 rbs=1024 rbp=0 obl=0 oll=%d omem=%zu tot-mem=%zu "
                         "events=r%s cmd=%s user=default redir=-1 resp=2\n",
                         (unsigned long long)r->h.id, r->h.addr, r->h.laddr, r->h.fd, r->h.name,
                         (now - r->h.ctime_ms) / 1000,
                         (long long)(time(NULL) - r->ack_time), omem ? 1 : 0, omem,
                         omem + sizeof(*r), out_left(r) ? "w" : "",
                         r->acked ? "replconf" : r->h.psync ? "psync" : "sync");
    }
    pthread_mutex_unlock(&R.mu);
    return s;
}

int repl_kill(unsigned long long id, const char *addr, size_t addr_len, const char *laddr,
              size_t laddr_len) {
    int n = 0;
    pthread_mutex_lock(&R.mu);
    for (replica *r = R.list; r; r = r->next) {
        if (r->closing) continue;
        if (id && r->h.id != id) continue;
        if (addr && !(strlen(r->h.addr) == addr_len && !memcmp(r->h.addr, addr, addr_len))) continue;
        if (laddr && !(strlen(r->h.laddr) == laddr_len && !memcmp(r->h.laddr, laddr, laddr_len)))
            continue;
        /* The socket goes at once, so the replica sees the kill now;
         * the record is reaped by the next tick. */
        shutdown(r->h.fd, SHUT_RDWR);
        rep_close(r, "Connection with replica killed:");
        n++;
    }
    pthread_mutex_unlock(&R.mu);
    if (n) mgmt_wake();
    return n;
}

int repl_count(void) {
    pthread_mutex_lock(&R.mu);
    int n = R.nrep;
    pthread_mutex_unlock(&R.mu);
    return n;
}
