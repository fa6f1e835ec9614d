/* loading.h — loading the dataset at start-up while the data plane runs,
 * as Redis 7.0 does: clients connect, commands without the `loading` flag
 * get -LOADING, INFO persistence says loading:1 with the progress fields.
 *
 * Call order (main.c): loading_start(total) before the workers start ->
 * the loader (management thread) calls loading_hold() before it touches a
 * shard, loading_file(base) as each file begins and loading_tick(offset)
 * after every key or command -> loading_stop(). The loader owns the shards
 * only while it holds every worker parked; loading_tick lets them go for
 * one loop turn every few milliseconds (and for key-load-delay's sleeps).
 * Design: docs/snapshots.md, "Loading at start-up".
 */
#ifndef CB_LOADING_H
#define CB_LOADING_H

#include <stdint.h>
#include "../store/ds/cbstr.h"

/* The reply to a command without the `loading` flag while loading. */
#define LOADING_ERR "-LOADING Redis is loading the dataset in memory"

/* 1 between loading_start and loading_stop (any thread, relaxed). */
int loading_active(void);
/* Loading is on; total_bytes is what will be read (all files). */
void loading_start(uint64_t total_bytes);
/* The next file starts at byte `base` of the total. */
void loading_file(uint64_t base);
/* Park every worker unless the loader holds them already. */
void loading_hold(void);
/* After each key or command, at byte `offset` of the current file: may
 * release the workers for a loop turn (or key-load-delay's sleep) and park
 * them again. Returns -1 when a shutdown was asked for (stop loading). */
int loading_tick(uint64_t offset);
/* Called about every batch by loading_tick (main.c: the management
 * thread's signal check, so SIGTERM stops a load). NULL: none. */
void loading_set_poll(void (*fn)(void));
/* Release the workers if held; loading is off. */
void loading_stop(void);
/* The used-mem aux field of the RDB being loaded (INFO loading_rdb_used_mem). */
void loading_note_used_mem(uint64_t bytes);
/* Points an RDB load's progress hook at loading_tick and its event hook
 * at loading_note_used_mem (the used-mem aux field). */
struct rdb_load_info;
void loading_attach(struct rdb_load_info *info);
/* INFO persistence's loading_* fields (present only while loading). */
cbstr loading_info_fields(cbstr s);

#endif
