/* stream_cg.h — the consumer-group records of a stream (stream.cgroups),
 * shared by t_stream_cg.c (the commands) and persist/rdb_stream.c (RDB and
 * DUMP), which walks them to save and rebuilds them with the builders below
 * when loading. Groups are sorted by name, consumers likewise, PELs by ID;
 * a nack sits in its group's PEL and in its owner's.
 */
#ifndef CB_STREAM_CG_H
#define CB_STREAM_CG_H

#include <stddef.h>
#include <stdint.h>
#include "ds/cbstr.h"
#include "ds/stream.h"

/* entries-read when it is not known (Redis's SCG_INVALID_ENTRIES_READ). */
#define STREAM_CG_ENTRIES_READ_INVALID (-1LL)

struct cg_consumer;

/* One delivered, not yet acknowledged entry; shared by the group's PEL and
 * its owner's. */
typedef struct cg_nack {
    stream_id id;
    long long delivery_time;
    uint64_t delivery_count;
    struct cg_consumer *owner;
} cg_nack;

/* A PEL: nacks sorted by ID. */
typedef struct cg_pel {
    cg_nack **v;
    size_t n, cap;
} cg_pel;

typedef struct cg_consumer {
    cbstr name;
    long long seen_time;
    cg_pel pel;
} cg_consumer;

typedef struct cg_group {
    cbstr name;
    stream_id last_id;
    long long entries_read;
    cg_pel pel;
    cg_consumer **cons;
    size_t ncons, ccap;
} cg_group;

typedef struct cg_set {
    cg_group **g;
    size_t n, cap;
} cg_set;

/* ---- Builders for loaders. Input must come in the order Redis writes
 * it (its radix trees' order: groups and consumers by name, PELs by ID), so
 * every insert is an append and a hostile file cannot make a load
 * quadratic. Each returns 0, -1 for a duplicate, -2 for one out of order. */

/* A new group of s (*out). */
int stream_cg_load_group(stream *s, const char *name, size_t len, const stream_id *last,
                         long long entries_read, cg_group **out);
/* An ownerless nack at the end of g's PEL. */
int stream_cg_load_nack(cg_group *g, const stream_id *id, long long delivery_time,
                        uint64_t delivery_count);
/* A new consumer of g (*out). */
int stream_cg_load_consumer(cg_group *g, const char *name, size_t len, long long seen_time,
                            cg_consumer **out);
/* Gives the nack id of g's PEL to cn, appending it to cn's PEL: 0 ok, -1
 * when g's PEL lacks it, -2 when it already has an owner, -3 when it is
 * not above cn's last entry. */
int stream_cg_load_claim(cg_group *g, cg_consumer *cn, const stream_id *id);
/* 0 when every nack of every group has an owner (as loaded data must). */
int stream_cg_load_check(const stream *s);
/* Redis's estimate of the entries read up to id, for groups loaded from
 * files that predate entries-read (STREAM_CG_ENTRIES_READ_INVALID when
 * unknown). */
long long stream_cg_estimate_entries_read(const stream *s, const stream_id *id);

#endif
