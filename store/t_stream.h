/* t_stream.h — what t_stream.c and t_stream_cg.c (consumer groups) share. */
#ifndef CB_T_STREAM_H
#define CB_T_STREAM_H

#include "object.h"
#include "ds/stream.h"

struct cb_client;

/* A new, empty stream object. */
cb_obj *stream_obj_create(void);
/* Parses argument i as a strict stream ID ("ms" or "ms-seq"); 0, or -1
 * after the error reply. */
int stream_parse_strict_id(struct cb_client *c, int i, stream_id *id);

/* parse_id of t_stream.c: "ms-seq", "ms" (seq = missing_seq), and "-" /
 * "+" unless strict; 0, or -1 after the error reply. */
int stream_parse_id(struct cb_client *c, const char *p, size_t len, uint64_t missing_seq,
                    int strict, stream_id *id);
/* The same strict ID syntax without a reply: 1 when (p, len) is an ID. */
int stream_try_parse_strict_id(const char *p, size_t len, stream_id *id);
/* Next / previous ID; -1 past the ends. */
int stream_id_incr(stream_id *id);
int stream_id_decr(stream_id *id);
/* [id, [field, value, ...]] of the iterator's current entry. */
void stream_reply_entry(struct cb_client *c, const stream_iter *it);
/* Key argument i looked up for reading in whichever shard owns it. */
cb_obj *stream_lookup_key(struct cb_client *c, int i);

/* XREAD / XREADGROUP options; sarg is the first key after STREAMS, garg the
 * group name's argument (0: none). */
typedef struct xread_opts {
    long long count, timeout;
    int sarg, nstreams, garg, noack;
} xread_opts;

/* Parses the options shared by XREAD and XREADGROUP (group_cmd: GROUP and
 * NOACK allowed); replies the error and returns -1 on bad input. */
int stream_parse_xread_opts(struct cb_client *c, int group_cmd, xread_opts *o);

/* Consumer groups (t_stream_cg.c); cgs is stream.cgroups, NULL if none. */
void stream_cg_free(void *cgs);
void *stream_cg_dup(const void *cgs);
size_t stream_cg_count(const void *cgs);
/* Read-only walk of the groups (by name), each group's consumers (by
 * name) and each consumer's pending entries (by ID), for writers that
 * rebuild a stream elsewhere (the AOF base written as commands). */
typedef struct stream_cg_visitor {
    void (*group)(void *priv, const char *name, size_t len, const stream_id *last_id,
                  long long entries_read);
    void (*consumer)(void *priv, const char *name, size_t len, size_t npending);
    void (*pending)(void *priv, const stream_id *id, long long delivery_time,
                    uint64_t delivery_count);
} stream_cg_visitor;
void stream_cg_visit(const void *cgs, const stream_cg_visitor *v, void *priv);
/* The "groups" array of XINFO STREAM FULL (count: PEL entries shown, 0 all). */
void stream_cg_reply_full(struct cb_client *c, const stream *s, long long count);

#endif
