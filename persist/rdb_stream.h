/* rdb_stream.h — the stream value's RDB coder (rdb_stream.c), hooked into
 * the per-type switches of rdb_save.c and rdb_load.c and so shared by RDB
 * files and DUMP / RESTORE; and the few reader primitives of rdb_load.c it
 * decodes with (internal to persist/).
 */
#ifndef CB_RDB_STREAM_H
#define CB_RDB_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include "../store/ds/cbstr.h"

struct cb_shard;
struct cb_obj;
struct rdb_reader;

/* ---- Reader primitives (rdb_load.c): 0 ok, -1 with the reader's error
 * set (the first failure wins). */
uint64_t rdbr_offset(const struct rdb_reader *r);
int rdbr_len(struct rdb_reader *r, uint64_t *len);
/* A string in any encoding; *out cb_malloc'd and NUL-terminated. */
int rdbr_string(struct rdb_reader *r, char **out, size_t *outlen);
int rdbr_raw(struct rdb_reader *r, void *p, size_t n);
/* -1 (after failing the reader) when fewer than n bytes are left. */
int rdbr_avail(struct rdb_reader *r, uint64_t n);
/* Fails the reader with "Corrupt RDB at offset AT: WHY". */
void rdbr_corrupt(struct rdb_reader *r, uint64_t at, const char *why);

/* ---- The coder. */
/* Appends a stream value as RDB_TYPE_STREAM_LISTPACKS_2 (rdb.h). */
cbstr rdb_enc_stream(cbstr b, const struct cb_obj *o, int compress);
/* Reads a stream of on-disk type STREAM_LISTPACKS or STREAM_LISTPACKS_2,
 * validating every node and group; NULL with the reader failed when the
 * input is corrupt. Streams may be empty: they are kept. */
struct cb_obj *rdb_dec_stream(struct rdb_reader *r, struct cb_shard *s, int type);

#endif
