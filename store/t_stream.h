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

/* Consumer groups (t_stream_cg.c); cgs is stream.cgroups, NULL if none. */
void stream_cg_free(void *cgs);
void *stream_cg_dup(const void *cgs);
size_t stream_cg_count(const void *cgs);
/* The "groups" array of XINFO STREAM FULL. */
void stream_cg_reply_full(struct cb_client *c, const stream *s);

#endif
