/* fn_dump.c — function libraries as bytes: FUNCTION DUMP / RESTORE
 * payloads and the RDB file's FUNCTION2 records, in Redis 7.0's format so
 * that a dump or an RDB file moves between redis-server and cachebox.
 *
 * A record is the opcode byte RDB_OPCODE_FUNCTION2 (245) then the
 * library's code as an RDB string (LZF-compressed past 20 bytes when
 * rdbcompression is on). A DUMP payload is the records, the RDB version as
 * 2 bytes and a CRC64 of everything before it as 8 bytes, little-endian,
 * like a key's DUMP.
 */
#include "script_int.h"

#include <string.h>

#include "../../persist/crc64.h"
#include "../../persist/rdb.h"
#include "../../platform/config.h"
#include "../../platform/mem.h"

#define FOOTER 10

static cbstr enc_records(cbstr b) {
    int n;
    fn_lib **libs = fn_registry_snapshot(&n, NULL);
    for (int i = 0; i < n; i++) {
        unsigned char op = RDB_OPCODE_FUNCTION2;
        b = cbstr_cat(b, &op, 1);
        b = rdb_enc_string(b, libs[i]->code, libs[i]->codelen, g_config.rdbcompression);
    }
    fn_snapshot_free(libs, n);
    return b;
}

char *fn_dump_payload(size_t *len) {
    cbstr b = enc_records(cbstr_new("", 0));
    unsigned char foot[FOOTER];
    foot[0] = RDB_VERSION & 0xff;
    foot[1] = (RDB_VERSION >> 8) & 0xff;
    b = cbstr_cat(b, foot, 2);
    uint64_t crc = crc64(0, b, cbstr_len(b));
    for (int i = 0; i < 8; i++) foot[2 + i] = (unsigned char)(crc >> (8 * i));
    b = cbstr_cat(b, foot + 2, 8);
    *len = cbstr_len(b);
    char *out = cb_malloc(*len ? *len : 1);
    memcpy(out, b, *len);
    cbstr_free(b);
    return out;
}

static char *dupmsg(const char *m) {
    size_t n = strlen(m) + 1;
    char *e = cb_malloc(n);
    memcpy(e, m, n);
    return e;
}

int fn_restore_payload(cb_script_vm *vm, const char *p, size_t len, int policy, char **err) {
    const unsigned char *u = (const unsigned char *)p;
    *err = NULL;
    if (len < FOOTER) {
        *err = dupmsg("DUMP payload version or checksum are wrong");
        return -1;
    }
    unsigned ver = u[len - FOOTER] | ((unsigned)u[len - FOOTER + 1] << 8);
    uint64_t want = 0;
    for (int i = 7; i >= 0; i--) want = (want << 8) | u[len - 8 + i];
    if (ver > RDB_VERSION || crc64(0, p, len - 8) != want) {
        *err = dupmsg("DUMP payload version or checksum are wrong");
        return -1;
    }
    fn_lib **libs = NULL;
    int n = 0;
    size_t pos = 0;
    while (len - pos > FOOTER) {
        unsigned type = u[pos++];
        if (type == RDB_OPCODE_FUNCTION_PRE_GA) {
            *err = dupmsg("Pre-GA function format not supported");
            break;
        }
        if (type != RDB_OPCODE_FUNCTION2) {
            *err = dupmsg("given type is not a function");
            break;
        }
        char *code;
        size_t cl, used;
        if (rdb_dec_string_mem(p + pos, len - FOOTER - pos, &used, &code, &cl) < 0) {
            *err = dupmsg("failed loading the given functions payload");
            break;
        }
        pos += used;
        fn_lib *lib = NULL;
        int rc = fn_create(vm, code, cl, 0, &lib, err);
        cb_free(code);
        if (rc < 0) break;
        for (int i = 0; i < n && !*err; i++)
            if (strcmp(libs[i]->name, lib->name) == 0) {
                size_t el = strlen(lib->name) + 32;
                *err = cb_malloc(el);
                snprintf(*err, el, "Library '%s' already exists", lib->name);
            }
        if (*err) {
            fn_lib_free(lib);
            break;
        }
        libs = cb_realloc(libs, sizeof(fn_lib *) * (size_t)(n + 1));
        libs[n++] = lib;
    }
    int rc = -1;
    if (!*err) rc = fn_registry_commit(libs, n, policy, "Library %s already exists", err);
    for (int i = 0; i < n; i++) fn_lib_free(libs[i]);
    cb_free(libs);
    return rc;
}

/* ------------------------------------------------------------ RDB hooks */

static cbstr rdb_save_hook(cbstr b) {
    return enc_records(b);
}

/* A library read from an RDB file replaces one of the same name (DEBUG
 * RELOAD reads back what the server holds). */
static int rdb_load_hook(const char *code, size_t len, char **err) {
    cb_script_vm *vm = script_vm_standalone();
    fn_lib *lib = NULL;
    int rc = fn_create(vm, code, len, 0, &lib, err);
    if (rc == 0) {
        rc = fn_registry_commit(&lib, 1, FN_POLICY_REPLACE, "Library '%s' already exists", err);
        fn_lib_free(lib);
    }
    script_vm_standalone_free(vm);
    return rc;
}

static void each_hook(void *priv, void (*fn)(void *priv, const char *code, size_t len)) {
    int n;
    fn_lib **libs = fn_registry_snapshot(&n, NULL);
    for (int i = 0; i < n; i++) fn(priv, libs[i]->code, libs[i]->codelen);
    fn_snapshot_free(libs, n);
}

static const rdb_fn_hooks hooks = {rdb_save_hook, rdb_load_hook, each_hook};

void fn_init(void) {
    rdb_set_fn_hooks(&hooks);
}
