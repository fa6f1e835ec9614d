/* stream.h — the stream value: entries ordered by ID (ms-seq), kept in
 * compact blocks ("nodes") indexed by a sorted array of node pointers.
 *
 * Each node packs up to stream-node-max-entries entries in one byte buffer
 * (varints and raw bytes); its first entry's field names are its "master"
 * fields and entries with the same names store only their values. Nodes are
 * grouped exactly as Redis 7.0 groups its listpacks: the node byte count that
 * decides when a new node starts is the size the same entries would take in
 * Redis's listpack, computed here (stream_lp_* helpers), so approximate
 * trimming (MAXLEN ~ / MINID ~), which removes whole nodes only, removes the
 * same entries as Redis. Deleted entries stay in their node as tombstones
 * until the whole node goes, as in Redis.
 *
 * Knows nothing of RESP; t_stream.c holds the commands.
 */
#ifndef CB_DS_STREAM_H
#define CB_DS_STREAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct stream_id {
    uint64_t ms, seq;
} stream_id;

typedef struct stream_node {
    stream_id master;      /* ID of the node's first entry (its index key) */
    uint32_t live, deleted;
    uint32_t nmaster;      /* number of master fields */
    size_t lp_fixed;       /* Redis listpack bytes, less the count fields */
    size_t used, cap;
    size_t entries_off;    /* where the entries start in data */
    unsigned char *data;   /* master fields, then entries */
} stream_node;

typedef struct stream {
    stream_node **nodes;
    size_t nnodes, cap;
    uint64_t length;
    uint64_t entries_added;
    stream_id last_id, first_id, max_deleted;
    void *cgroups;         /* consumer groups (t_stream.c), NULL if none */
} stream;

/* Trimming strategies. */
enum { STREAM_TRIM_NONE = 0, STREAM_TRIM_MAXLEN = 1, STREAM_TRIM_MINID = 2 };

stream *stream_new(void);
void stream_free(stream *s);
/* Free up to max nodes from the end (lazy free of a big stream; the
 * consumer groups must be gone); the last call frees the stream and returns
 * 0, earlier ones return 1. */
int stream_free_step(stream *s, size_t max);
stream *stream_dup(const stream *s);
/* Bytes allocated for the entries and index (not the groups). */
size_t stream_mem(const stream *s);

int stream_id_cmp(const stream_id *a, const stream_id *b);
/* Writes "ms-seq" with a NUL into buf (>= 42 bytes); returns the length. */
size_t stream_id_fmt(const stream_id *id, char *buf);

/* Appends an entry with the given (already validated, greater than
 * last_id) ID and npairs field/value pairs: kv[2i] field, kv[2i+1] value.
 * node_max_bytes / node_max_entries are the stream-node-max-* settings. */
void stream_append(stream *s, const stream_id *id, const char *const *kv,
                   const size_t *kvlen, size_t npairs, long long node_max_bytes,
                   long long node_max_entries);
/* Deletes one live entry (XDEL); 1 when it existed. */
int stream_delete(stream *s, const stream_id *id);
/* MAXLEN/MINID trimming with Redis 7.0's rules (approx removes whole nodes
 * only; limit > 0 caps the entries removed, for approx). Returns the count. */
long long stream_trim(stream *s, int strategy, long long maxlen, const stream_id *minid,
                      int approx, long long limit);
/* First (first != 0) or last live entry's ID; 0 when the stream is empty. */
int stream_edge_id(const stream *s, int first, stream_id *out);

/* Iteration over live entries with start <= ID <= end, forward or reverse. */
typedef struct stream_iter {
    const stream *s;
    stream_id start, end;
    int rev;
    size_t node;           /* current node index */
    size_t *offs;          /* reverse: entry offsets of the current node */
    size_t noffs, offs_cap, pos;
    size_t off;            /* forward: next entry offset in the node */
    int started;
    /* The current entry. */
    stream_id id;
    size_t npairs;
    const char **kv;
    size_t *kvlen;
    size_t kv_cap;
} stream_iter;

void stream_iter_init(stream_iter *it, const stream *s, const stream_id *start,
                      const stream_id *end, int rev);
/* 1 with it->id / it->npairs / it->kv set, 0 at the end. */
int stream_iter_next(stream_iter *it);
void stream_iter_release(stream_iter *it);

/* Redis listpack element size of an integer / a string (used for node
 * grouping; exposed for the unit tests). */
size_t stream_lp_int_size(int64_t v);
size_t stream_lp_str_size(const char *p, size_t len);

/* ---- Raw node access, for persistence (persist/rdb_stream.c), which
 * writes and reads nodes one for one as Redis's listpacks. */

/* One entry of a node as stored, tombstones included. kv/kvlen are owned
 * by the struct (start zeroed, free with stream_raw_entry_release). */
typedef struct stream_raw_entry {
    stream_id id;
    int deleted, same;     /* tombstone; fields are the node's master fields */
    size_t npairs;
    const char **kv;
    size_t *kvlen;
    size_t kv_cap;
} stream_raw_entry;

/* Fills f / flen (n->nmaster slots each) with the node's master fields. */
void stream_node_master_fields(const stream_node *n, const char **f, size_t *flen);
/* Reads the entry at *off (start at n->entries_off) and moves past it;
 * 0 at the node's end. */
int stream_node_next_raw(const stream_node *n, size_t *off, stream_raw_entry *e);
void stream_raw_entry_release(stream_raw_entry *e);
/* Opens a new last node keyed master with nf master fields. The caller
 * (a loader that has validated its input) keys nodes in increasing order. */
void stream_load_node(stream *s, const stream_id *master, const char *const *f,
                      const size_t *flen, size_t nf);
/* Appends an entry, live or a tombstone, to the last node: id above the
 * node's previous entries, id->ms >= the node's master ms. Counts live
 * entries in s->length; entries_added, first/last IDs are the caller's. */
void stream_load_entry(stream *s, const stream_id *id, int deleted, const char *const *kv,
                       const size_t *kvlen, size_t npairs);

#endif
