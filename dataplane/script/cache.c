/* cache.c — the process-wide script cache: sha1 -> script body, shared by
 * every worker (SCRIPT LOAD on one connection, EVALSHA on another that a
 * different worker serves). A mutex guards it; it is touched once per
 * EVALSHA/SCRIPT call, never per redis.call. Each worker's Lua VM compiles
 * bodies lazily; SCRIPT FLUSH bumps the generation, and a VM that sees a new
 * generation starts afresh (engine.c).
 */
#include "script_int.h"

#include <pthread.h>
#include <string.h>

#include "../../platform/mem.h"
#include "../../platform/util.h"
#include "../../store/digest.h"
#include "../../store/ds/cbstr.h"
#include "../../store/ds/dict.h"

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static dict *cache;            /* sha (lower case) -> cbstr body */
static size_t cache_bytes;     /* bodies and keys */
static uint64_t cache_gen = 1; /* read relaxed by workers */

static void body_free(void *val, void *priv) {
    (void)priv;
    cbstr_free(val);
}

static void key_free(cbstr k) { cbstr_free(k); }

static const dict_type cache_type = {.key_free = key_free, .val_free = body_free};

static dict *new_dict(void) {
    uint8_t seed[16];
    util_random_bytes(seed, sizeof(seed));
    return dict_create(&cache_type, NULL, seed);
}

void script_cache_init(void) {
    if (!cache) cache = new_dict();
}

void script_sha1hex(const char *body, size_t len, char out[41]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char d[20];
    sha1(body, len, d);
    for (int i = 0; i < 20; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[40] = '\0';
}

/* Lower-case copy of a 40-char sha; 0 when it cannot be one. */
static int norm_sha(const char *sha, size_t len, char out[41]) {
    if (len != 40) return 0;
    for (size_t i = 0; i < 40; i++) {
        char ch = sha[i];
        out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    out[40] = '\0';
    return 1;
}

void script_cache_add(const char *sha, const char *body, size_t len) {
    pthread_mutex_lock(&cache_lock);
    dict_entry *existing = NULL;
    cbstr k = cbstr_new(sha, 40);
    dict_entry *e = dict_add_raw(cache, k, &existing);
    if (!e) {
        cbstr_free(k);
    } else {
        e->v.val = cbstr_new(body, len);
        cache_bytes += len + 40;
    }
    pthread_mutex_unlock(&cache_lock);
}

char *script_cache_get(const char *sha, size_t shalen, size_t *len) {
    char k[41];
    if (!norm_sha(sha, shalen, k)) return NULL;
    char *out = NULL;
    pthread_mutex_lock(&cache_lock);
    dict_entry *e = dict_find(cache, k, 40);
    if (e) {
        *len = cbstr_len(e->v.val);
        out = cb_memdup(e->v.val, *len);
    }
    pthread_mutex_unlock(&cache_lock);
    return out;
}

int script_cache_exists(const char *sha, size_t len) {
    char k[41];
    if (!norm_sha(sha, len, k)) return 0;
    pthread_mutex_lock(&cache_lock);
    int found = dict_find(cache, k, 40) != NULL;
    pthread_mutex_unlock(&cache_lock);
    return found;
}

void script_cache_flush(void) {
    pthread_mutex_lock(&cache_lock);
    dict_release(cache);
    cache = new_dict();
    cache_bytes = 0;
    __atomic_add_fetch(&cache_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&cache_lock);
}

uint64_t script_cache_gen(void) { return __atomic_load_n(&cache_gen, __ATOMIC_ACQUIRE); }

size_t script_cache_count(void) {
    pthread_mutex_lock(&cache_lock);
    size_t n = cache ? dict_size(cache) : 0;
    pthread_mutex_unlock(&cache_lock);
    return n;
}

size_t script_cache_memory(void) {
    pthread_mutex_lock(&cache_lock);
    size_t n = cache_bytes + (cache ? dict_mem_overhead(cache) : 0);
    pthread_mutex_unlock(&cache_lock);
    return n;
}
