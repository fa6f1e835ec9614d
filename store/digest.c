/* digest.c — the dataset fingerprint behind DEBUG DIGEST / DIGEST-VALUE, and
 * the SHA-1 it uses (written from FIPS 180-4, section 6.1).
 *
 * The fingerprint must equal Redis 7.0's for the same data, so it follows
 * Redis's documented construction:
 *  - "mix" a byte string into a 20-byte state: xor the state with the
 *    string's SHA-1, then replace the state with the SHA-1 of itself. Mixing
 *    is order dependent; plain xor-ing is not.
 *  - per key: start from zeros, mix the key name, mix the type code (4 bytes,
 *    big endian), mix the value (per type; strings as their decimal/byte
 *    form whatever the encoding), and when the key has a TTL xor in the SHA-1
 *    of the literal "!!expire!!" (the TTL's value does not count).
 *  - per db with keys: mix the db index (4 bytes, big endian) into the total,
 *    then xor the SHA-1 of every key's digest into it — so key order inside
 *    a db does not matter but the db a key lives in does.
 * Nothing here keeps state between calls.
 */
#include "digest.h"
#include "ds/quicklist.h"
#include "ds/stream.h"
#include "t_hash.h"
#include "t_zset.h"
#include "../platform/util.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- SHA-1 */

static uint32_t rol32(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static uint32_t load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* One 512-bit block (FIPS 180-4 6.1.2). */
static void sha1_block(uint32_t h[5], const unsigned char *blk)
{
    uint32_t w[80];
    for (int t = 0; t < 16; t++) w[t] = load_be32(blk + 4 * t);
    for (int t = 16; t < 80; t++) w[t] = rol32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999u;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1u;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdcu;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6u;
        }
        uint32_t tmp = rol32(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void sha1_init(cb_sha1_ctx *ctx)
{
    /* Initial hash value, FIPS 180-4 5.3.1. */
    ctx->h[0] = 0x67452301u;
    ctx->h[1] = 0xefcdab89u;
    ctx->h[2] = 0x98badcfeu;
    ctx->h[3] = 0x10325476u;
    ctx->h[4] = 0xc3d2e1f0u;
    ctx->nbytes = 0;
    ctx->buflen = 0;
}

void sha1_update(cb_sha1_ctx *ctx, const void *p, size_t len)
{
    const unsigned char *s = p;
    ctx->nbytes += len;
    if (ctx->buflen) {
        size_t take = 64 - ctx->buflen;
        if (take > len) take = len;
        memcpy(ctx->buf + ctx->buflen, s, take);
        ctx->buflen += take;
        s += take;
        len -= take;
        if (ctx->buflen < 64) return;
        sha1_block(ctx->h, ctx->buf);
        ctx->buflen = 0;
    }
    while (len >= 64) {
        sha1_block(ctx->h, s);
        s += 64;
        len -= 64;
    }
    memcpy(ctx->buf, s, len);
    ctx->buflen = len;
}

void sha1_final(cb_sha1_ctx *ctx, unsigned char out[20])
{
    /* Padding, FIPS 180-4 5.1.1: a 1 bit, zeros, the bit length in 64 bits. */
    uint64_t bits = ctx->nbytes * 8;
    unsigned char pad[72] = { 0x80 };
    size_t padlen = ctx->buflen < 56 ? 56 - ctx->buflen : 120 - ctx->buflen;
    for (int i = 0; i < 8; i++) pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_update(ctx, pad, padlen + 8);
    for (int i = 0; i < 5; i++) store_be32(out + 4 * i, ctx->h[i]);
}

void sha1(const void *p, size_t len, unsigned char out[20])
{
    cb_sha1_ctx ctx;
    sha1_init(&ctx);
    sha1_update(&ctx, p, len);
    sha1_final(&ctx, out);
}

/* ------------------------------------------------------ digest building */

static void digest_xor(unsigned char d[20], const void *p, size_t len)
{
    unsigned char h[20];
    sha1(p, len, h);
    for (int i = 0; i < 20; i++) d[i] ^= h[i];
}

static void digest_mix(unsigned char d[20], const void *p, size_t len)
{
    digest_xor(d, p, len);
    unsigned char tmp[20];
    sha1(d, 20, tmp);
    memcpy(d, tmp, 20);
}

static void digest_mix_u32(unsigned char d[20], uint32_t v)
{
    unsigned char be[4];
    store_be32(be, v);
    digest_mix(d, be, 4);
}

/* Set members are xor-ed in, so member order does not matter. */
static void digest_xor_member(void *priv, const char *p, size_t len)
{
    digest_xor(priv, p, len);
}

/* A hash is unordered: each pair gets its own digest (field then value
 * mixed into zeros), whose SHA-1s are xor-ed into the key's. */
static void digest_hash_pair(void *priv, const char *f, size_t flen,
                             const char *v, size_t vlen)
{
    unsigned char pair[20] = { 0 };
    digest_mix(pair, f, flen);
    digest_mix(pair, v, vlen);
    digest_xor(priv, pair, 20);
}

/* Type code, contents, TTL marker into a digest that may already hold the
 * key name (dataset digest) or be zero (DIGEST-VALUE). */
static void digest_mix_object(unsigned char d[20], const cb_obj *o, int has_expire)
{
    digest_mix_u32(d, o->type);
    switch (o->type) {
    case OBJ_STRING: {
        char buf[32];
        size_t len;
        const char *p = obj_str(o, buf, &len);
        digest_mix(d, p, len);
        break;
    }
    case OBJ_LIST: {
        /* Ordered: every element mixed in turn, as its string form. */
        ql_iter it;
        ql_iter_init(o->ptr, &it, 0, QL_TAIL);
        while (ql_iter_next(&it)) {
            char buf[32];
            size_t len;
            const char *p = lp_str(&it.val, buf, &len);
            digest_mix(d, p, len);
        }
        ql_iter_release(&it);
        break;
    }
    case OBJ_SET: set_foreach(o, digest_xor_member, d); break;
    case OBJ_HASH: hash_foreach(o, digest_hash_pair, d); break;
    case OBJ_ZSET: {
        /* Each (element, score) pair digested alone, then xor-ed in. */
        zset_it it;
        zit_init(&it, o, 0);
        for (; zit_valid(&it); zit_next(&it)) {
            const char *e;
            size_t l;
            double sc;
            char buf[CB_D2STR_MAX];
            unsigned char ed[20] = { 0 };
            zit_get(&it, &e, &l, &sc);
            digest_mix(ed, e, l);
            digest_mix(ed, buf, util_d2str(buf, sizeof buf, sc));
            digest_xor(d, ed, 20);
        }
        zit_release(&it);
        break;
    }
    case OBJ_STREAM: {
        /* Ordered: each entry's "ms.seq", then its fields and values. */
        stream_iter it;
        stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
        stream_iter_init(&it, o->ptr, &lo, &hi, 0);
        while (stream_iter_next(&it)) {
            char buf[48];
            size_t n = util_ull2str(buf, 21, it.id.ms);
            buf[n++] = '.';
            n += util_ull2str(buf + n, 21, it.id.seq);
            digest_mix(d, buf, n);
            for (size_t i = 0; i < 2 * it.npairs; i++) digest_mix(d, it.kv[i], it.kvlen[i]);
        }
        stream_iter_release(&it);
        break;
    }
    default:
        /* Lists, sets, hashes, sorted sets and streams arrive with their
         * types; each mixes (ordered types) or xors (unordered) its elements
         * here, as Redis does. */
        break;
    }
    if (has_expire) digest_xor(d, "!!expire!!", 10);
}

void digest_object(const cb_obj *o, int has_expire, unsigned char out[20])
{
    memset(out, 0, 20);
    if (o) digest_mix_object(out, o, has_expire);
}

void digest_value(const cb_obj *o, unsigned char out[20])
{
    digest_object(o, 0, out);
}

void digest_dataset(cb_shard **shards, int nshards, unsigned char out[20])
{
    memset(out, 0, 20);
    int ndb = 0;
    for (int s = 0; s < nshards; s++)
        if (shards[s]->ndb > ndb) ndb = shards[s]->ndb;

    for (int j = 0; j < ndb; j++) {
        size_t keys = 0;
        for (int s = 0; s < nshards; s++)
            if (j < shards[s]->ndb) keys += dict_size(shards[s]->dbs[j].keys);
        if (keys == 0) continue;
        digest_mix_u32(out, (uint32_t)j);

        for (int s = 0; s < nshards; s++) {
            if (j >= shards[s]->ndb) continue;
            cb_db *db = &shards[s]->dbs[j];
            dict_iter it;
            dict_iter_init(&it, db->keys, 0);
            dict_entry *e;
            while ((e = dict_iter_next(&it)) != NULL) {
                unsigned char kd[20] = { 0 };
                size_t klen = cbstr_len(e->key);
                digest_mix(kd, e->key, klen);
                int has_expire = dict_find(db->expires, e->key, klen) != NULL;
                digest_mix_object(kd, e->v.val, has_expire);
                digest_xor(out, kd, 20);
            }
            dict_iter_release(&it);
        }
    }
}

void digest_to_hex(const unsigned char d[20], char hex[41])
{
    static const char xd[] = "0123456789abcdef";
    for (int i = 0; i < 20; i++) {
        hex[2 * i] = xd[d[i] >> 4];
        hex[2 * i + 1] = xd[d[i] & 15];
    }
    hex[40] = '\0';
}
