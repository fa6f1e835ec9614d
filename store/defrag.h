/* defrag.h — active defragmentation of a shard's keyspace (activedefrag):
 * move allocations out of sparse jemalloc slabs into fuller ones, a CPU
 * share of each cron tick at a time. See defrag.c and docs/memory.md.
 */
#ifndef CB_DEFRAG_H
#define CB_DEFRAG_H

#include <stdint.h>

struct cb_shard;

#include <stddef.h>

/* A big value (more elements than active-defrag-max-scan-fields) whose
 * inner allocations are moved later, a slice at a time: found again by
 * name, since it may be gone or replaced between slices. */
typedef struct defrag_later {
    char *key;
    size_t len;
    int db;
} defrag_later;

/* Where a pass stands; running is the CPU share (%) in use, 0 when idle. */
typedef struct defrag_state {
    int running;
    int db;
    int expires;     /* 0: walking db's keys dict, 1: its expires dict */
    uint64_t cursor;
    /* Big values waiting, the first one being worked on with its own
     * cursor (a dict cursor, or a node index). */
    defrag_later *later;
    size_t nlater, caplater;
    uint64_t later_cursor;
} defrag_state;

/* One tick: start a pass when fragmentation calls for it, continue it
 * within the tick's budget. */
void defrag_cron(struct cb_shard *s);
/* Frees the pass's state (shard destruction). */
void defrag_release(struct cb_shard *s);

#endif
