/* info.h — the INFO command: Redis 7.0's sections, field names, order and
 * number formats, with values summed over every worker's counters and every
 * shard's keyspace. Call order: info_init() once at start-up (after the
 * workers exist), then info_generate()/cmd_info() from any worker.
 */
#ifndef CB_INFO_H
#define CB_INFO_H

#include <stddef.h>
#include "../store/ds/cbstr.h"

typedef struct cb_client cb_client;

/* Once, when start-up is done: draws g_server.master_replid and records
 * g_server.stat_startup_memory (used_memory_startup). */
void info_init(void);
/* The INFO text for these section arguments (argc 0: the default sections),
 * following Redis 7.0's selection rules: "default", "all", "everything" or
 * section names, case-insensitive, unknown names ignored, sections always
 * in Redis's order. Caller frees with cbstr_free. */
cbstr info_generate(cb_client *c, int argc, const char **sections, const size_t *lens);
/* INFO [section ...]: replies the text as a verbatim string ("txt"). */
void cmd_info(cb_client *c);

#endif
