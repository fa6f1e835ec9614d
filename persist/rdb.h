/* rdb.h — RDB snapshots, file-compatible with Redis 7.0 (RDB version 10).
 *
 * rdb_save_file writes every db of every shard to a temp file beside the
 * target, fsyncs it and renames it into place; rdb_load_file reads RDB
 * versions 1..10 back, sending each key to the shard that owns its slot.
 * Strings, lists, sets, hashes and sorted sets are encoded as Redis 7.0
 * writes them (list: quicklist 2 of Redis listpacks, persist/listpack.h;
 * set: intset or member list; hash: listpack or pair list; zset: listpack
 * of member, score or ZSET_2 with binary scores) and every older encoding
 * 7.0 loads is read back. Each type's coder is its own function
 * (enc_list_value / dec_list_value style, in rdb_save.c / rdb_load.c),
 * shared with DUMP and RESTORE (cmd_dump.c); streams have theirs in
 * rdb_stream.c (RDB_TYPE_STREAM_LISTPACKS_2 written, 15 and 19 read). Callers must own every shard for the whole call
 * (start-up, or a command the dispatcher runs with all shards held).
 * The on-disk codes below are the format's reference here.
 */
#ifndef CB_RDB_H
#define CB_RDB_H

#include <stddef.h>
#include <stdint.h>
#include "../store/ds/cbstr.h"

struct cb_shard;
struct cb_obj;
typedef struct cb_obj cb_obj;

/* The version we write and the newest we read. */
#define RDB_VERSION 10

/* On-disk type codes, pinned: they are Redis's, and files written by any
 * Redis since 2.x carry them. Module codes are refused. */
enum {
    RDB_TYPE_STRING = 0, RDB_TYPE_LIST = 1, RDB_TYPE_SET = 2, RDB_TYPE_ZSET = 3,
    RDB_TYPE_HASH = 4, RDB_TYPE_ZSET_2 = 5, RDB_TYPE_MODULE_PRE_GA = 6,
    RDB_TYPE_MODULE_2 = 7, RDB_TYPE_HASH_ZIPMAP = 9, RDB_TYPE_LIST_ZIPLIST = 10,
    RDB_TYPE_SET_INTSET = 11, RDB_TYPE_ZSET_ZIPLIST = 12, RDB_TYPE_HASH_ZIPLIST = 13,
    RDB_TYPE_LIST_QUICKLIST = 14, RDB_TYPE_STREAM_LISTPACKS = 15,
    RDB_TYPE_HASH_LISTPACK = 16, RDB_TYPE_ZSET_LISTPACK = 17,
    RDB_TYPE_LIST_QUICKLIST_2 = 18, RDB_TYPE_STREAM_LISTPACKS_2 = 19,
};

/* Opcodes share the type byte's space, counting down from 255. */
enum {
    RDB_OPCODE_FUNCTION2 = 245, RDB_OPCODE_FUNCTION_PRE_GA = 246,
    RDB_OPCODE_MODULE_AUX = 247, RDB_OPCODE_IDLE = 248, RDB_OPCODE_FREQ = 249,
    RDB_OPCODE_AUX = 250, RDB_OPCODE_RESIZEDB = 251, RDB_OPCODE_EXPIRETIME_MS = 252,
    RDB_OPCODE_EXPIRETIME = 253, RDB_OPCODE_SELECTDB = 254, RDB_OPCODE_EOF = 255,
};

/* Length prefix: the top two bits of the first byte. */
#define RDB_6BITLEN 0
#define RDB_14BITLEN 1
#define RDB_32BITLEN 0x80
#define RDB_64BITLEN 0x81
#define RDB_ENCVAL 3
/* Special string encodings (RDB_ENCVAL's low 6 bits). */
#define RDB_ENC_INT8 0
#define RDB_ENC_INT16 1
#define RDB_ENC_INT32 2
#define RDB_ENC_LZF 3

/* Name of an on-disk type code for messages ("list quicklist2"), or
 * "unknown". */
const char *rdb_type_name(int type);

/* ---- Encoders (rdb_save.c): each appends to b and returns the grown cbstr.
 * They are shared by the file writer and DUMP. compress: LZF for
 * strings over 20 bytes when that saves space (rdbcompression yes). */
cbstr rdb_enc_len(cbstr b, uint64_t len);
/* Redis's string rules: canonical integers of up to 11 chars as INT8/16/32,
 * then LZF, then plain length + bytes. */
cbstr rdb_enc_string(cbstr b, const void *p, size_t len, int compress);
/* On-disk type code of a value, or -1 when this build has no encoder. */
int rdb_object_type(const struct cb_obj *o);
/* The value's payload (no type byte). o must have an encoder. */
cbstr rdb_enc_object(cbstr b, const struct cb_obj *o, int compress);
/* The DUMP payload of a value (type, encoding, RDB version, CRC-64), as
 * DUMP replies it and MIGRATE sends it (cmd_dump.c); NULL: no encoder. */
cbstr rdb_dump_payload(const struct cb_obj *o);

/* ---- File pieces, shared by the synchronous writer and BGSAVE
 * (persist/bgsave.c). */
/* The magic and the aux fields Redis 7.0 writes, in its order. */
cbstr rdb_enc_header(cbstr b);
/* The same with aof-base set to aof_base (1: the base of an AOF). */
cbstr rdb_enc_header_aof(cbstr b, int aof_base);
/* SELECTDB dbid, then RESIZEDB nkeys nexpires when nkeys > 0. */
cbstr rdb_enc_db_start(cbstr b, int dbid, uint64_t nkeys, uint64_t nexpires);
/* One key record: [EXPIRETIME_MS] [IDLE|FREQ per maxmemory-policy] type key
 * value, appended to *b. expire_ms -1: none. -1 when this build has no
 * encoder for the value's type (nothing appended). */
int rdb_enc_key(cbstr *b, const struct cb_shard *s, const char *key, size_t klen,
                const cb_obj *o, long long expire_ms, long long now_ms, unsigned lru_clock,
                int compress);
/* The EOF opcode and the CRC-64 of everything before it: crc_before is
 * the CRC of the bytes already written, b must hold no other bytes.
 * checksum 0 writes zeros (rdbchecksum no). */
cbstr rdb_enc_trailer(cbstr b, uint64_t crc_before, int checksum);

/* ---- Decoder (rdb_load.c), shared with RESTORE: the value of on-disk type
 * type from the len bytes at p (which must all be consumed), built for shard
 * s with its encoding limits. NULL with *err (cb_malloc'd) when corrupt,
 * empty or of a type this build cannot read. */
cb_obj *rdb_dec_object_mem(struct cb_shard *s, int type, const void *p, size_t len, char **err);

/* Function libraries travel in RDB files as FUNCTION2 records (after the
 * aux fields, before the dbs), through hooks the scripting module sets at
 * start-up (persist does not know Lua). save appends the records of every
 * library to b; load takes one library's code read from a file and
 * replaces a library of the same name (0 ok, -1 with *err cb_malloc'd);
 * each calls fn with every library's code (an AOF rewritten as commands
 * writes FUNCTION LOAD for each). */
typedef struct rdb_fn_hooks {
    cbstr (*save)(cbstr b);
    int (*load)(const char *code, size_t len, char **err);
    void (*each)(void *priv, void (*fn)(void *priv, const char *code, size_t len));
} rdb_fn_hooks;
void rdb_set_fn_hooks(const rdb_fn_hooks *h);
const rdb_fn_hooks *rdb_fn_hooks_get(void); /* NULL when none were set */

/* One RDB string (any encoding, LZF included) at p: 0 with *out
 * (cb_malloc'd, NUL-terminated), *outlen and *used (bytes read); -1 when
 * malformed or cut short. */
int rdb_dec_string_mem(const void *p, size_t len, size_t *used, char **out, size_t *outlen);

/* Writes every db of every shard to path (atomically: temp file, fsync,
 * rename, fsync of the directory). 0 ok; -1 with *err (cb_malloc'd, caller
 * frees) saying why, and the old file left untouched. */
int rdb_save_file(struct cb_shard **shards, int nshards, const char *path, char **err);
/* For the calling thread's next rdb_save_file calls: fn(arg) after every
 * key written (SAVE: rdb-key-save-delay and the DPDK stack's poll while
 * the command runs). NULL: none. */
void rdb_save_set_key_hook(void (*fn)(void *arg), void *arg);

/* rdb_load_file_ex flags. */
#define RDB_LOAD_ALLOW_DUP 1 /* a key already present is replaced (DEBUG RELOAD MERGE) */
/* Check only (cachebox-check-rdb): every value is decoded and validated,
 * then dropped, expired or not; the shards stay empty. */
#define RDB_LOAD_CHECK 2
#define RDB_LOAD_AOF_BASE 4  /* an AOF base: keys whose time passed are kept (the
                              * incremental files that follow may touch them) */
#define RDB_LOAD_FROM_MASTER 8 /* a replica's image: keys whose time passed are
                                * kept for the master's DEL, as Redis */

/* What a check-mode hook sees, after each step, with the offset just past
 * it: an aux field (a = name, b = value), a db selector (num = db) and the
 * checksum (num: 0 matched, 1 not stored in the file). */
enum { RDB_EV_AUX = 1, RDB_EV_SELECTDB, RDB_EV_CHECKSUM };
typedef struct rdb_load_event {
    int kind;
    uint64_t offset;
    const char *a, *b;
    size_t alen, blen;
    long long num;
} rdb_load_event;

/* What a load found (out parameters but flags, hook and hook_priv). */
typedef struct rdb_load_info {
    int flags;
    void (*hook)(void *priv, const rdb_load_event *ev); /* may be NULL */
    void *hook_priv;
    /* After every key record, with the offset just past it; non-zero
     * stops the load (an error). May be NULL (start-up loading's pacing,
     * persist/loading.h). */
    int (*progress)(uint64_t offset);
    int rdbver;
    long long keys_loaded;  /* with RDB_LOAD_CHECK: keys read */
    long long keys_expired; /* skipped because their time had passed */
    long long expires;      /* keys read that carried an expire time */
    /* Where a failed load stopped: the offset at which the failing record
     * (key with its expire/idle/freq prefix, opcode, or checksum) starts,
     * the step (Redis's "While doing" names: read-type, read-key,
     * read-object-value, read-aux, check-sum...), the value's on-disk type
     * or -1, and its key (NUL-terminated, cut to fit) or "". */
    uint64_t err_record;
    const char *err_doing;
    int err_type;
    char err_key[129];
} rdb_load_info;

/* Loads path into the shards (keys go to util_key_slot % nshards), logging
 * as Redis does. 0 ok; 1 when the file does not exist (nothing changed);
 * -1 with *err (cb_malloc'd) giving the offset and reason, in which case
 * every shard has been emptied. A key that already exists is an error
 * unless info->flags has RDB_LOAD_ALLOW_DUP. info may be NULL. */
int rdb_load_file_ex(struct cb_shard **shards, int nshards, const char *path,
                     rdb_load_info *info, char **err);
int rdb_load_file(struct cb_shard **shards, int nshards, const char *path, char **err);

#endif
