/* aof_rewrite.h — an AOF base written as commands (aof-use-rdb-preamble
 * no): for every key the commands that rebuild it, as Redis 7.0's rewrite
 * emits them (SET, RPUSH/SADD/ZADD/HMSET in batches of 64 items,
 * PEXPIREAT for deadlines, SELECT per db): a whole data set to a file
 * (start-up, every shard owned), or one key at a time into a buffer (the
 * fork-less rewrite, persist/bgsave.c).
 */
#ifndef CB_AOF_REWRITE_H
#define CB_AOF_REWRITE_H

#include <stddef.h>
#include "../store/ds/cbstr.h"

struct cb_shard;
struct cb_obj;

/* Writes every db of every shard to path atomically (temp file, fsync,
 * rename). Callers own every shard for the call. 0 ok; -1 with *err
 * (cb_malloc'd). */
int aof_rewrite_commands(struct cb_shard **shards, int nshards, const char *path, char **err);

/* The commands that rebuild one key (its value, then PEXPIREAT when
 * expire_ms >= 0), appended to *b. -1 when the type has no command form
 * (nothing appended). */
int aof_enc_key_cmds(cbstr *b, const char *key, size_t klen, const struct cb_obj *val,
                     long long expire_ms);
/* SELECT dbid as a RESP command, appended to b. */
cbstr aof_enc_select(cbstr b, int dbid);
/* FUNCTION LOAD for every function library, appended to b. */
cbstr aof_enc_functions(cbstr b);

#endif
