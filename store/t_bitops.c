/* t_bitops.c — bit-level commands on string values: SETBIT, GETBIT,
 * BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO. Bits are numbered from
 * the most significant bit of byte 0. Writes grow the string with zero bytes
 * up to the highest bit touched, bounded by proto-max-bulk-len through the
 * offset check, and leave the value raw-encoded (private, writable).
 * Checks run in Redis 7.0's order, which decides the error a client sees:
 * most commands parse their arguments first, but BITCOUNT looks the key up
 * first (a missing key answers 0 whatever follows), and BITFIELD parses every
 * operation before it touches the key. BITOP resolves each key's shard.
 * Layers: bit helpers, lookups, then one section per command.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "object.h"
#include "db.h"
#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"

static const char ERR_BIT_OFFSET[] = "bit offset is not an integer or out of range";
static const char ERR_BIT_VALUE[] = "bit is not an integer or out of range";
static const char ERR_BITFIELD_TYPE[] =
    "Invalid bitfield type. Use something like i16 u8. Note that u64 is not "
    "supported but i64 is.";

/* ------------------------------------------------------------------------
 * Bit helpers
 * ---------------------------------------------------------------------- */

static long long popcount_bytes(const uint8_t *p, size_t n)
{
    long long total = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        total += __builtin_popcountll(w);
    }
    for (; i < n; i++) total += __builtin_popcount(p[i]);
    return total;
}

/* Position of the first bit equal to bit in n bytes (MSB first). Not found:
 * n*8 when looking for a 0 (the string is taken as zero-padded), -1 for a 1. */
static long long first_bit(const uint8_t *p, size_t n, int bit)
{
    uint8_t skip = bit ? 0x00 : 0xff;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == skip) continue;
        uint8_t b = bit ? p[i] : (uint8_t)~p[i];
        return (long long)i * 8 + __builtin_clz((unsigned)b) - 24;
    }
    return bit ? -1 : (long long)n * 8;
}

static uint64_t field_get_u(const uint8_t *p, uint64_t off, int bits)
{
    uint64_t v = 0;
    for (int j = 0; j < bits; j++, off++) {
        unsigned bitval = (p[off >> 3] >> (7 - (off & 7))) & 1;
        v = (v << 1) | bitval;
    }
    return v;
}

static int64_t field_get_i(const uint8_t *p, uint64_t off, int bits)
{
    uint64_t v = field_get_u(p, off, bits);
    if (bits < 64 && (v & (1ULL << (bits - 1)))) v |= UINT64_MAX << bits;
    return (int64_t)v;
}

static void field_set(uint8_t *p, uint64_t off, int bits, uint64_t v)
{
    for (int j = 0; j < bits; j++, off++) {
        unsigned bitval = (v >> (bits - 1 - j)) & 1;
        uint8_t mask = (uint8_t)(1u << (7 - (off & 7)));
        if (bitval) p[off >> 3] |= mask;
        else p[off >> 3] &= (uint8_t)~mask;
    }
}

enum { OW_WRAP, OW_SAT, OW_FAIL };

/* Would value+incr leave a signed field of bits? 1 above, -1 below, 0 fits.
 * On overflow *out gets the wrapped or saturated result per ow. The
 * arithmetic is done unsigned where it may wrap. */
static int signed_overflow(int64_t value, int64_t incr, int bits, int ow, int64_t *out)
{
    int64_t max = bits == 64 ? INT64_MAX : (int64_t)((1ULL << (bits - 1)) - 1);
    int64_t min = -max - 1;
    int64_t maxincr = (int64_t)((uint64_t)max - (uint64_t)value);
    int64_t minincr = (int64_t)((uint64_t)min - (uint64_t)value);
    int dir = 0;
    if (value > max || (bits != 64 && incr > maxincr) ||
        (value >= 0 && incr > 0 && incr > maxincr))
        dir = 1;
    else if (value < min || (bits != 64 && incr < minincr) ||
             (value < 0 && incr < 0 && incr < minincr))
        dir = -1;
    if (!dir) return 0;
    if (ow == OW_SAT) {
        *out = dir > 0 ? max : min;
    } else if (ow == OW_WRAP) {
        uint64_t r = (uint64_t)value + (uint64_t)incr;
        if (bits < 64) {
            uint64_t high = UINT64_MAX << bits;
            if (r & (1ULL << (bits - 1))) r |= high;
            else r &= ~high;
        }
        *out = (int64_t)r;
    }
    return dir;
}

static int unsigned_overflow(uint64_t value, int64_t incr, int bits, int ow, uint64_t *out)
{
    uint64_t max = bits == 64 ? UINT64_MAX : (1ULL << bits) - 1;
    int64_t maxincr = (int64_t)(max - value);
    int64_t minincr = (int64_t)(0 - value);
    int dir = 0;
    if (value > max || (incr > 0 && incr > maxincr)) dir = 1;
    else if (incr < 0 && incr < minincr) dir = -1;
    if (!dir) return 0;
    if (ow == OW_SAT) {
        *out = dir > 0 ? max : 0;
    } else if (ow == OW_WRAP) {
        uint64_t r = value + (uint64_t)incr;
        if (bits < 64) r &= ~(UINT64_MAX << bits);
        *out = r;
    }
    return dir;
}

/* ------------------------------------------------------------------------
 * Argument parsing and lookups
 * ---------------------------------------------------------------------- */

/* A bit offset: a non-negative integer whose byte is below
 * proto-max-bulk-len; with hash, "#N" means N*bits. 0 ok, -1 replied. */
static int parse_bit_offset(cb_client *c, int i, int hash, int bits, uint64_t *off)
{
    const char *p = ARGP(c, i);
    size_t len = ARGL(c, i);
    int usehash = hash && len > 0 && p[0] == '#';
    long long v;
    if (!util_str2ll(p + usehash, len - (size_t)usehash, &v)) goto bad;
    if (usehash) v = (long long)((unsigned long long)v * (unsigned long long)bits);
    if (v < 0 || (v >> 3) >= c->shard->set->proto_max_bulk_len) goto bad;
    *off = (uint64_t)v;
    return 0;
bad:
    reply_error(c, ERR_BIT_OFFSET);
    return -1;
}

/* "i<bits>" (1..64) or "u<bits>" (1..63), lower case only. The number ends at the first NUL
 * byte, as Redis reads it as a C string. 0 ok, -1 replied. */
static int parse_field_type(cb_client *c, int i, int *sign, int *bits)
{
    const char *p = ARGP(c, i);
    size_t len = ARGL(c, i);
    if (len > 0 && p[0] == 'i') *sign = 1;
    else if (len > 0 && p[0] == 'u') *sign = 0;
    else goto bad;
    size_t nlen = strnlen(p + 1, len - 1);
    long long b;
    if (!util_str2ll(p + 1, nlen, &b) || b < 1 || (*sign && b > 64) || (!*sign && b > 63))
        goto bad;
    *bits = (int)b;
    return 0;
bad:
    reply_error(c, ERR_BITFIELD_TYPE);
    return -1;
}

/* A string value's bytes for reading; int values are printed into buf. */
static const uint8_t *read_bytes(const cb_obj *o, char *buf, size_t *len)
{
    return (const uint8_t *)obj_str(o, buf, len);
}

/* Key 1 as a private raw string holding at least bit maxbit, created when
 * missing. *grown is 1 when the key was created or lengthened. NULL after a
 * WRONGTYPE reply. */
static cb_obj *lookup_for_bit_write(cb_client *c, uint64_t maxbit, int *grown)
{
    size_t need = (size_t)(maxbit >> 3) + 1;
    cb_obj *o = db_lookup_write(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
    if (o && o->type != OBJ_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return NULL;
    }
    *grown = 0;
    if (!o) {
        o = obj_new_from_cbstr(cbstr_new(NULL, need));
        db_add(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), o);
        *grown = 1;
        return o;
    }
    if (o->refcount != 1 || o->encoding != OBJ_ENC_RAW) {
        char buf[CB_LL2STR_MAX];
        size_t len;
        const char *p = obj_str(o, buf, &len);
        cb_obj *n = obj_new_raw(p, len);
        db_overwrite(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), n);
        o = n;
    }
    if (cbstr_len(o->ptr) < need) {
        o->ptr = cbstr_grow_zero(o->ptr, need);
        *grown = 1;
    }
    return o;
}

/* SETBIT and BITFIELD writes: signal, "setbit" event, dirty. */
static void bits_changed(cb_client *c, uint64_t n)
{
    db_signal_modified(c->shard, c->db, ARGP(c, 1), ARGL(c, 1));
    NOTIFY_ARG(c, NOTIFY_STRING, "setbit", 1);
    c->shard->dirty += n;
}

/* ------------------------------------------------------------------------
 * SETBIT / GETBIT
 * ---------------------------------------------------------------------- */

void cmd_setbit(cb_client *c)
{
    uint64_t off;
    long long on;
    if (parse_bit_offset(c, 2, 0, 0, &off) != 0) return;
    if (arg_ll(c, 3, &on, ERR_BIT_VALUE) != 0) return;
    if (on & ~1LL) {
        reply_error(c, ERR_BIT_VALUE);
        return;
    }
    int grown;
    cb_obj *o = lookup_for_bit_write(c, off, &grown);
    if (!o) return;
    uint8_t *p = (uint8_t *)o->ptr + (off >> 3);
    uint8_t mask = (uint8_t)(1u << (7 - (off & 7)));
    int old = (*p & mask) != 0;
    if (grown || old != on) {
        if (on) *p |= mask;
        else *p &= (uint8_t)~mask;
        bits_changed(c, 1);
    }
    reply_int(c, old);
}

void cmd_getbit(cb_client *c)
{
    uint64_t off;
    if (parse_bit_offset(c, 2, 0, 0, &off) != 0) return;
    cb_obj *o = db_lookup_read(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), 0);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    if (o->type != OBJ_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    char buf[CB_LL2STR_MAX];
    size_t len;
    const uint8_t *p = read_bytes(o, buf, &len);
    int bit = 0;
    if ((off >> 3) < len) bit = (p[off >> 3] >> (7 - (off & 7))) & 1;
    reply_int(c, bit);
}

/* ------------------------------------------------------------------------
 * BITCOUNT / BITPOS
 * ---------------------------------------------------------------------- */

/* Parses the optional BYTE|BIT unit at argv[i]: 0 byte, 1 bit, -1 replied. */
static int parse_unit(cb_client *c, int i)
{
    if (arg_eq(c, i, "bit")) return 1;
    if (arg_eq(c, i, "byte")) return 0;
    reply_error(c, ERR_SYNTAX);
    return -1;
}

/* Turns a bit range [start, end] into bytes plus masks of the bits outside
 * the range in the first and last byte (0 when the byte is fully in). */
static void bit_range_to_bytes(long long *start, long long *end, uint8_t *first_out,
                               uint8_t *last_out)
{
    *first_out = (uint8_t)(~((1u << (8 - (*start & 7))) - 1) & 0xff);
    *last_out = (uint8_t)((1u << (7 - (*end & 7))) - 1);
    *start >>= 3;
    *end >>= 3;
}

void cmd_bitcount(cb_client *c)
{
    cb_obj *o = db_lookup_read(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), 0);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    if (o->type != OBJ_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    char buf[CB_LL2STR_MAX];
    size_t slen;
    const uint8_t *p = read_bytes(o, buf, &slen);
    long long start, end;
    uint8_t first_out = 0, last_out = 0;

    if (c->argc == 4 || c->argc == 5) {
        long long total = (long long)slen;
        int isbit = 0;
        if (arg_ll(c, 2, &start, NULL) != 0) return;
        if (arg_ll(c, 3, &end, NULL) != 0) return;
        if (c->argc == 5 && (isbit = parse_unit(c, 4)) < 0) return;
        if (isbit) total <<= 3;
        if (start < 0 && end < 0 && start > end) {
            reply_int(c, 0);
            return;
        }
        if (start < 0) start += total;
        if (end < 0) end += total;
        if (start < 0) start = 0;
        if (end < 0) end = 0;
        if (end >= total) end = total - 1;
        if (isbit && start <= end) bit_range_to_bytes(&start, &end, &first_out, &last_out);
    } else if (c->argc == 2) {
        start = 0;
        end = (long long)slen - 1;
    } else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (start > end) {
        reply_int(c, 0);
        return;
    }
    long long count = popcount_bytes(p + start, (size_t)(end - start + 1));
    count -= __builtin_popcount(p[start] & first_out);
    count -= __builtin_popcount(p[end] & last_out);
    reply_int(c, count);
}

void cmd_bitpos(cb_client *c)
{
    long long bit;
    if (arg_ll(c, 2, &bit, NULL) != 0) return;
    if (bit != 0 && bit != 1) {
        reply_error(c, "The bit argument must be 1 or 0.");
        return;
    }
    cb_obj *o = db_lookup_read(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), 0);
    if (!o) {
        /* A missing key is an endless run of zeros. */
        reply_int(c, bit ? -1 : 0);
        return;
    }
    if (o->type != OBJ_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    char buf[CB_LL2STR_MAX];
    size_t slen;
    const uint8_t *p = read_bytes(o, buf, &slen);
    long long start, end;
    int end_given = 0;
    uint8_t first_out = 0, last_out = 0;

    if (c->argc >= 4 && c->argc <= 6) {
        long long total = (long long)slen;
        int isbit = 0;
        if (arg_ll(c, 3, &start, NULL) != 0) return;
        if (c->argc == 6 && (isbit = parse_unit(c, 5)) < 0) return;
        if (c->argc >= 5) {
            if (arg_ll(c, 4, &end, NULL) != 0) return;
            end_given = 1;
        } else {
            end = isbit ? (total << 3) + 7 : total - 1;
        }
        if (isbit) total <<= 3;
        if (start < 0) start += total;
        if (end < 0) end += total;
        if (start < 0) start = 0;
        if (end < 0) end = 0;
        if (end >= total) end = total - 1;
        if (isbit && start <= end) bit_range_to_bytes(&start, &end, &first_out, &last_out);
    } else if (c->argc == 3) {
        start = 0;
        end = (long long)slen - 1;
    } else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (start > end) {
        reply_int(c, -1); /* an empty range holds neither a 0 nor a 1 */
        return;
    }

    /* The range is scanned in up to three parts: a partial first byte, the
     * whole bytes, a partial last byte. pos is relative to the part that
     * produced it, and bytes is that part's length, which the "no 0 within
     * an explicit end" rule below compares against. */
    long long bytes = end - start + 1, pos;
    uint8_t tmp;
    if (first_out) {
        tmp = bit ? (uint8_t)(p[start] & ~first_out) : (uint8_t)(p[start] | first_out);
        if (last_out && bytes == 1)
            tmp = bit ? (uint8_t)(tmp & ~last_out) : (uint8_t)(tmp | last_out);
        pos = first_bit(&tmp, 1, (int)bit);
        if (bytes == 1 || (pos != -1 && pos != 8)) goto result;
        start++;
        bytes--;
    }
    long long whole = bytes - (last_out ? 1 : 0);
    if (whole > 0) {
        pos = first_bit(p + start, (size_t)whole, (int)bit);
        if (bytes == whole || (pos != -1 && pos != whole * 8)) goto result;
        start += whole;
        bytes -= whole;
    }
    tmp = bit ? (uint8_t)(p[end] & ~last_out) : (uint8_t)(p[end] | last_out);
    pos = first_bit(&tmp, 1, (int)bit);

result:
    /* With an explicit end the string is not zero-padded past it. */
    if (end_given && bit == 0 && pos == bytes * 8) {
        reply_int(c, -1);
        return;
    }
    if (pos != -1) pos += start * 8;
    reply_int(c, pos);
}

/* ------------------------------------------------------------------------
 * BITOP
 * ---------------------------------------------------------------------- */

enum { BOP_AND, BOP_OR, BOP_XOR, BOP_NOT };

void cmd_bitop(cb_client *c)
{
    int op;
    if (arg_eq(c, 1, "and")) op = BOP_AND;
    else if (arg_eq(c, 1, "or")) op = BOP_OR;
    else if (arg_eq(c, 1, "xor")) op = BOP_XOR;
    else if (arg_eq(c, 1, "not")) op = BOP_NOT;
    else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (op == BOP_NOT && c->argc != 4) {
        reply_error(c, "BITOP NOT must be called with a single source key.");
        return;
    }

    int n = c->argc - 3;
    /* Sources are copied: they may live on other shards, and the target may
     * be one of them. */
    cbstr *src = cb_calloc(sizeof(cbstr) * (size_t)n);
    size_t maxlen = 0;
    for (int j = 0; j < n; j++) {
        cb_shard *s = client_key_shard(c, ARGP(c, j + 3), ARGL(c, j + 3));
        cb_db *db = c->db;
        if (s != c->shard) {
            shard_set_time(s, c->shard->now_ms);
            db = client_shard_db(c, s);
        }
        cb_obj *o = db_lookup_read(s, db, ARGP(c, j + 3), ARGL(c, j + 3), 0);
        if (!o) continue;
        if (o->type != OBJ_STRING) {
            reply_error(c, ERR_WRONGTYPE);
            for (int k = 0; k < j; k++) cbstr_free(src[k]);
            cb_free(src);
            return;
        }
        char buf[CB_LL2STR_MAX];
        size_t len;
        const char *p = obj_str(o, buf, &len);
        src[j] = cbstr_new(p, len);
        if (len > maxlen) maxlen = len;
    }

    cbstr res = maxlen ? cbstr_new(NULL, maxlen) : NULL;
    for (size_t i = 0; i < maxlen; i++) {
        uint8_t acc = (src[0] && i < cbstr_len(src[0])) ? (uint8_t)src[0][i] : 0;
        if (op == BOP_NOT) acc = (uint8_t)~acc;
        for (int j = 1; j < n; j++) {
            uint8_t b = (src[j] && i < cbstr_len(src[j])) ? (uint8_t)src[j][i] : 0;
            if (op == BOP_AND) acc &= b;
            else if (op == BOP_OR) acc |= b;
            else acc ^= b;
        }
        res[i] = (char)acc;
    }
    for (int j = 0; j < n; j++) cbstr_free(src[j]);
    cb_free(src);

    cb_shard *ts = client_key_shard(c, ARGP(c, 2), ARGL(c, 2));
    cb_db *tdb = c->db;
    if (ts != c->shard) {
        shard_set_time(ts, c->shard->now_ms);
        tdb = client_shard_db(c, ts);
    }
    if (res) {
        db_set(ts, tdb, ARGP(c, 2), ARGL(c, 2), obj_new_from_cbstr(res), 0);
        db_signal_modified(ts, tdb, ARGP(c, 2), ARGL(c, 2));
        notify_keyspace_event(ts, tdb, NOTIFY_STRING, "set", ARGP(c, 2), ARGL(c, 2));
        ts->dirty++;
    } else if (db_delete(ts, tdb, ARGP(c, 2), ARGL(c, 2))) {
        db_signal_modified(ts, tdb, ARGP(c, 2), ARGL(c, 2));
        notify_keyspace_event(ts, tdb, NOTIFY_GENERIC, "del", ARGP(c, 2), ARGL(c, 2));
        ts->dirty++;
    }
    reply_int(c, (long long)maxlen);
}

/* ------------------------------------------------------------------------
 * BITFIELD / BITFIELD_RO
 * ---------------------------------------------------------------------- */

enum { BF_GET, BF_SET, BF_INCRBY };

typedef struct bf_op {
    uint64_t off;
    int64_t arg;
    int code, ow, bits, sign;
} bf_op;

static void bitfield_generic(cb_client *c, int readonly_cmd)
{
    bf_op *ops = cb_malloc(sizeof(bf_op) * (size_t)(c->argc / 2 + 1));
    int nops = 0, ow = OW_WRAP, readonly = 1;
    uint64_t highest = 0;

    for (int j = 2; j < c->argc; j++) {
        int rem = c->argc - j - 1;
        int code;
        if (arg_eq(c, j, "get") && rem >= 2) code = BF_GET;
        else if (arg_eq(c, j, "set") && rem >= 3) code = BF_SET;
        else if (arg_eq(c, j, "incrby") && rem >= 3) code = BF_INCRBY;
        else if (arg_eq(c, j, "overflow") && rem >= 1) {
            j++;
            if (arg_eq(c, j, "wrap")) ow = OW_WRAP;
            else if (arg_eq(c, j, "sat")) ow = OW_SAT;
            else if (arg_eq(c, j, "fail")) ow = OW_FAIL;
            else {
                reply_error(c, "Invalid OVERFLOW type specified");
                goto out;
            }
            continue;
        } else {
            goto syntax;
        }
        bf_op *op = &ops[nops];
        op->code = code;
        op->ow = ow;
        op->arg = 0;
        if (parse_field_type(c, j + 1, &op->sign, &op->bits) != 0) goto out;
        if (parse_bit_offset(c, j + 2, 1, op->bits, &op->off) != 0) goto out;
        if (code != BF_GET) {
            readonly = 0;
            if (highest < op->off + (uint64_t)op->bits - 1)
                highest = op->off + (uint64_t)op->bits - 1;
            long long v;
            if (arg_ll(c, j + 3, &v, NULL) != 0) goto out;
            op->arg = v;
        }
        nops++;
        j += code == BF_GET ? 2 : 3;
    }

    cb_obj *o;
    int grown = 0;
    if (readonly) {
        o = db_lookup_read(c->shard, c->db, ARGP(c, 1), ARGL(c, 1), 0);
        if (o && o->type != OBJ_STRING) {
            reply_error(c, ERR_WRONGTYPE);
            goto out;
        }
    } else {
        if (readonly_cmd) {
            reply_error(c, "BITFIELD_RO only supports the GET subcommand");
            goto out;
        }
        if (!(o = lookup_for_bit_write(c, highest, &grown))) goto out;
    }

    reply_array_len(c, nops);
    uint64_t changes = 0;
    for (int i = 0; i < nops; i++) {
        bf_op *op = &ops[i];
        if (op->code == BF_GET) {
            /* Read through a zero-padded copy of the 9 bytes a 64-bit field
             * can span, so fields past the end read as zeros. */
            uint8_t win[9] = {0};
            char buf[CB_LL2STR_MAX];
            size_t len = 0;
            const uint8_t *p = o ? read_bytes(o, buf, &len) : NULL;
            uint64_t byte = op->off >> 3;
            for (uint64_t k = 0; k < 9 && p && byte + k < len; k++) win[k] = p[byte + k];
            uint64_t rel = op->off - byte * 8;
            if (op->sign) reply_int(c, field_get_i(win, rel, op->bits));
            else reply_int(c, (long long)field_get_u(win, rel, op->bits));
            continue;
        }
        uint8_t *p = (uint8_t *)o->ptr;
        int64_t oldv, newv, ret;
        int over;
        if (op->sign) {
            int64_t wrapped = 0;
            oldv = field_get_i(p, op->off, op->bits);
            if (op->code == BF_INCRBY) {
                over = signed_overflow(oldv, op->arg, op->bits, op->ow, &wrapped);
                newv = over ? wrapped : (int64_t)((uint64_t)oldv + (uint64_t)op->arg);
                ret = newv;
            } else {
                newv = op->arg;
                over = signed_overflow(newv, 0, op->bits, op->ow, &wrapped);
                if (over) newv = wrapped;
                ret = oldv;
            }
        } else {
            uint64_t wrapped = 0, uold = field_get_u(p, op->off, op->bits), unew;
            if (op->code == BF_INCRBY) {
                over = unsigned_overflow(uold, op->arg, op->bits, op->ow, &wrapped);
                unew = over ? wrapped : uold + (uint64_t)op->arg;
                ret = (int64_t)unew;
            } else {
                unew = (uint64_t)op->arg;
                over = unsigned_overflow(unew, 0, op->bits, op->ow, &wrapped);
                if (over) unew = wrapped;
                ret = (int64_t)uold;
            }
            oldv = (int64_t)uold;
            newv = (int64_t)unew;
        }
        if (over && op->ow == OW_FAIL) {
            reply_null(c);
            continue;
        }
        reply_int(c, ret);
        field_set(p, op->off, op->bits, (uint64_t)newv);
        if (grown || oldv != newv) changes++;
    }
    if (changes) bits_changed(c, changes);
    goto out;
syntax:
    reply_error(c, ERR_SYNTAX);
out:
    cb_free(ops);
}

void cmd_bitfield(cb_client *c) { bitfield_generic(c, 0); }
void cmd_bitfield_ro(cb_client *c) { bitfield_generic(c, 1); }
