/* aof_rewrite.h — an AOF base written as commands (aof-use-rdb-preamble
 * no): for every key the commands that rebuild it, as Redis 7.0's rewrite
 * emits them (SET, RPUSH/SADD/ZADD/HMSET in batches of 64 items,
 * PEXPIREAT for deadlines, SELECT per db).
 */
#ifndef CB_AOF_REWRITE_H
#define CB_AOF_REWRITE_H

struct cb_shard;

/* Writes every db of every shard to path atomically (temp file, fsync,
 * rename). Callers own every shard for the call. 0 ok; -1 with *err
 * (cb_malloc'd). */
int aof_rewrite_commands(struct cb_shard **shards, int nshards, const char *path, char **err);

#endif
