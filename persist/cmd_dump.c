/* cmd_dump.c — DUMP and RESTORE, with Redis 7.0's payload format so values
 * move between cachebox and Redis in both directions.
 *
 * A payload is the value's RDB type byte, its RDB encoding (the same per-type
 * encoders and decoders the snapshot uses, rdb.h), the RDB version as two
 * little-endian bytes, and the CRC-64 of everything before it (8 bytes, LE).
 * RESTORE follows Redis's order of checks (options, key exists, TTL, footer,
 * value) because clients can see which error wins; the payload is decoded
 * fully and validated before the key is touched.
 */
#include <string.h>

#include "crc64.h"
#include "rdb.h"
#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"
#include "../store/object.h"

#define DUMP_FOOTER 10 /* 2 bytes version + 8 bytes CRC-64 */

static const char ERR_BUSYKEY[] = "-BUSYKEY Target key name already exists.";
static const char ERR_BAD_TTL[] = "Invalid TTL value, must be >= 0";
static const char ERR_BAD_PAYLOAD[] = "DUMP payload version or checksum are wrong";
static const char ERR_BAD_FORMAT[] = "Bad data format";
static const char ERR_BAD_IDLE[] = "Invalid IDLETIME value, must be >= 0";
static const char ERR_BAD_FREQ[] = "Invalid FREQ value, must be >= 0 and <= 255";

/* The shard owning key argument i with its clock set to the command's; *db
 * is the client's selected db in it. */
static cb_shard *key_shard(cb_client *c, int i, cb_db **db)
{
    cb_shard *s = client_key_shard(c, ARGP(c, i), ARGL(c, i));
    if (s == c->shard) {
        *db = c->db;
        return s;
    }
    shard_set_time(s, c->shard->now_ms);
    *db = client_shard_db(c, s);
    return s;
}

/* The payload of a value: NULL when the type has no encoder yet. */
cbstr rdb_dump_payload(const cb_obj *o)
{
    int type = rdb_object_type(o);
    if (type < 0) return NULL;
    unsigned char t = (unsigned char)type;
    cbstr b = cbstr_new(&t, 1);
    b = rdb_enc_object(b, o, 1);
    unsigned char foot[DUMP_FOOTER];
    foot[0] = RDB_VERSION & 0xff;
    foot[1] = (RDB_VERSION >> 8) & 0xff;
    b = cbstr_cat(b, foot, 2);
    uint64_t crc = crc64(0, b, cbstr_len(b));
    for (int i = 0; i < 8; i++) foot[2 + i] = (unsigned char)(crc >> (8 * i));
    return cbstr_cat(b, foot + 2, 8);
}

void cmd_dump(cb_client *c)
{
    cb_db *db;
    cb_shard *s = key_shard(c, 1, &db);
    cb_obj *o = db_lookup_read(s, db, ARGP(c, 1), ARGL(c, 1), 0);
    if (!o) {
        reply_null(c);
        return;
    }
    cbstr p = rdb_dump_payload(o);
    if (!p) {
        reply_errorf(c, "the DUMP encoding of type %s is not supported by this build yet",
                     obj_type_name(o->type));
        return;
    }
    reply_bulk(c, p, cbstr_len(p));
    cbstr_free(p);
}

/* Redis's verifyDumpPayload: a known version and a matching checksum. */
static int payload_ok(const unsigned char *p, size_t len)
{
    if (len < DUMP_FOOTER) return 0;
    const unsigned char *foot = p + len - DUMP_FOOTER;
    unsigned ver = foot[0] | ((unsigned)foot[1] << 8);
    if (ver > RDB_VERSION) return 0;
    uint64_t want = 0;
    for (int i = 7; i >= 0; i--) want = (want << 8) | foot[2 + i];
    return crc64(0, p, len - 8) == want;
}

/* Redis's objectSetLRUOrLFU for a restored value: FREQ under an LFU
 * policy, IDLETIME (seconds) otherwise. */
static void set_lru_lfu(cb_shard *s, cb_obj *o, long long idle_s, long long freq)
{
    if (shard_policy_is_lfu(s)) {
        if (freq >= 0)
            o->lru = (lfu_time_minutes(s->now_ms) << 8) | (unsigned)freq;
    } else if (idle_s >= 0) {
        long long clock = lru_clock_of(s->now_ms);
        long long abs = clock - idle_s;
        /* The clock wraps: an access before the wrap sits near its top. */
        if (abs < 0) abs += OBJ_LRU_CLOCK_MAX;
        o->lru = (unsigned)((unsigned long long)abs & OBJ_LRU_CLOCK_MAX);
    }
}

void cmd_restore(cb_client *c)
{
    int replace = 0, absttl = 0;
    long long idle = -1, freq = -1, ttl;
    for (int j = 4; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (arg_eq(c, j, "replace")) {
            replace = 1;
        } else if (arg_eq(c, j, "absttl")) {
            absttl = 1;
        } else if (arg_eq(c, j, "idletime") && more >= 1 && freq == -1) {
            if (arg_ll(c, j + 1, &idle, NULL)) return;
            if (idle < 0) {
                reply_error(c, ERR_BAD_IDLE);
                return;
            }
            j++;
        } else if (arg_eq(c, j, "freq") && more >= 1 && idle == -1) {
            if (arg_ll(c, j + 1, &freq, NULL)) return;
            if (freq < 0 || freq > 255) {
                reply_error(c, ERR_BAD_FREQ);
                return;
            }
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    cb_db *db;
    cb_shard *s = key_shard(c, 1, &db);
    if (!replace && db_lookup_write(s, db, ARGP(c, 1), ARGL(c, 1))) {
        reply_error(c, ERR_BUSYKEY);
        return;
    }
    if (arg_ll(c, 2, &ttl, NULL)) return;
    if (ttl < 0) {
        reply_error(c, ERR_BAD_TTL);
        return;
    }
    const unsigned char *p = (const unsigned char *)ARGP(c, 3);
    size_t len = ARGL(c, 3);
    if (!payload_ok(p, len)) {
        reply_error(c, ERR_BAD_PAYLOAD);
        return;
    }
    char *err = NULL;
    cb_obj *o = len > DUMP_FOOTER
                    ? rdb_dec_object_mem(s, p[0], p + 1, len - 1 - DUMP_FOOTER, &err)
                    : NULL;
    cb_free(err);
    if (!o) {
        reply_error(c, ERR_BAD_FORMAT);
        return;
    }
    int deleted = replace && db_delete(s, db, ARGP(c, 1), ARGL(c, 1));
    if (ttl && !absttl) ttl += s->now_ms;
    if (ttl && db_deadline_deletes(s, ttl)) {
        /* Already expired: the old key (if replaced) is gone, nothing new. */
        obj_decr_ref(o);
        if (deleted) {
            db_signal_modified(s, db, ARGP(c, 1), ARGL(c, 1));
            notify_keyspace_event(s, db, NOTIFY_GENERIC, "del", ARGP(c, 1), ARGL(c, 1));
            s->dirty++;
        }
        reply_ok(c);
        return;
    }
    db_add(s, db, ARGP(c, 1), ARGL(c, 1), o);
    if (ttl) db_set_expire(s, db, ARGP(c, 1), ARGL(c, 1), ttl);
    set_lru_lfu(s, o, idle, freq);
    db_signal_modified(s, db, ARGP(c, 1), ARGL(c, 1));
    notify_keyspace_event(s, db, NOTIFY_GENERIC, "restore", ARGP(c, 1), ARGL(c, 1));
    s->dirty++;
    reply_ok(c);
}

/* RESTORE-ASKING is what cluster migration sends to the target node; with
 * cluster support off it behaves exactly as RESTORE. */
void cmd_restore_asking(cb_client *c) { cmd_restore(c); }
