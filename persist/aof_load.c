/* aof_load.c — start-up loading of the multi-part AOF (see aof.h):
 * manifest -> base (RDB, or commands) -> incremental files in order. Each
 * command runs through the command table on a client with no connection,
 * on the shard that owns its keys, before any worker thread starts.
 * MULTI ... EXEC blocks are applied whole; a block cut off by the end of
 * the last file is dropped with the torn tail. A torn tail of the last
 * file is cut off and loading goes on when aof-load-truncated is yes, and
 * refused otherwise; anything else malformed is refused, as Redis 7.0 does.
 * An old single-file appendonly.aof (no manifest) is upgraded to the
 * multi-part layout first. The workers run meanwhile: the replay works
 * with them parked and lets them go between batches (loading.h).
 */
#include "aof.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aof_files.h"
#include "loading.h"
#include "rdb.h"
#include "../dataplane/cmd/command.h"
#include "../dataplane/worker.h"
#include "../dataplane/xshard.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/db.h"

typedef struct loader {
    cb_client c;
    cb_shard **shards;
    int nshards;
    long long commands;
} loader;

/* Runs one command; -1 (logged) when the command is unknown. */
static int run_one(loader *L, const char *fname, int argc, const char **argv, size_t *lens) {
    cb_client *c = &L->c;
    const cb_command *cmd = command_resolve(argc, argv, lens, NULL);
    if (!cmd) {
        cb_log(LOG_WARNING, "Unknown command '%.*s' reading the append only file %s",
               (int)(lens[0] > 64 ? 64 : lens[0]), argv[0], fname);
        return -1;
    }
    /* The handler itself, as Redis replays: no command statistics. */
    xshard_run_detached(c, cmd, argc, argv, lens);
    L->commands++;
    return 0;
}

static int read_whole(const char *path, char **buf, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -1;
    }
    *len = (size_t)st.st_size;
    *buf = cb_malloc(*len + 1);
    size_t off = 0;
    while (off < *len) {
        ssize_t n = read(fd, *buf + off, *len - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    close(fd);
    *len = off;
    return 0;
}

enum { LOAD_OK = 0, LOAD_EMPTY = 1, LOAD_TRUNCATED = 2, LOAD_FAILED = -1 };

static int is_word(const char *p, size_t l, const char *w) {
    return l == strlen(w) && strncasecmp(p, w, l) == 0;
}

/* Replays one file of commands. last: the last file of the set. */
static int load_commands(loader *L, const char *path, const char *fname, int last) {
    char *buf;
    size_t len;
    if (read_whole(path, &buf, &len) != 0) {
        cb_log(LOG_WARNING, "Fatal error: can't open the append log file %s for reading: %s",
               fname, strerror(errno));
        return LOAD_FAILED;
    }
    if (len == 0) {
        cb_free(buf);
        return LOAD_EMPTY;
    }
    size_t pos = 0, valid = 0;
    int argc, cap = 0, rc = LOAD_OK;
    const char **argv = NULL;
    size_t *lens = NULL;
    const char *reason = NULL;
    /* A MULTI block is held back until its EXEC: queued as offsets. */
    size_t multi_at = 0;
    int in_multi = 0;
    for (;;) {
        size_t at = pos;
        int r = aof_next_command(buf, len, &pos, &argc, &argv, &lens, &cap, &reason);
        if (r == 0) break;
        if (r < 0) {
            rc = -r == AOF_SCAN_TRUNCATED ? LOAD_TRUNCATED : LOAD_FAILED;
            valid = in_multi ? multi_at : at;
            break;
        }
        if (is_word(argv[0], lens[0], "multi") && argc == 1) {
            in_multi = 1;
            multi_at = at;
            continue;
        }
        if (in_multi && !(is_word(argv[0], lens[0], "exec") && argc == 1)) continue;
        if (in_multi) {
            /* Replay the block now that it is known to be whole. */
            size_t p2 = multi_at;
            int a2, cap2 = 0;
            const char **v2 = NULL;
            size_t *l2 = NULL;
            aof_next_command(buf, len, &p2, &a2, &v2, &l2, &cap2, &reason); /* MULTI */
            while (p2 < at) {
                aof_next_command(buf, len, &p2, &a2, &v2, &l2, &cap2, &reason);
                if (run_one(L, fname, a2, v2, l2) != 0) {
                    rc = LOAD_FAILED;
                    break;
                }
            }
            cb_free(v2);
            cb_free(l2);
            in_multi = 0;
            if (rc == LOAD_FAILED) goto out;
            valid = pos;
            continue;
        }
        if (run_one(L, fname, argc, argv, lens) != 0) {
            rc = LOAD_FAILED;
            goto out;
        }
        valid = pos;
        if (loading_active() && loading_tick(pos) < 0) {
            cb_log(LOG_WARNING, "Loading the append only file %s interrupted by a shutdown", fname);
            rc = LOAD_FAILED;
            goto out;
        }
    }
    if (rc == LOAD_OK && in_multi) {
        rc = LOAD_TRUNCATED;
        valid = multi_at;
        cb_log(LOG_WARNING, "Revert incomplete MULTI/EXEC transaction in AOF file %s", fname);
    }
    if (rc == LOAD_TRUNCATED) {
        if (!last) {
            cb_log(LOG_WARNING, "Fatal error: the truncated file is not the last file");
            rc = LOAD_FAILED;
        } else if (g_config.aof_load_truncated) {
            cb_log(LOG_WARNING, "!!! Warning: short read while loading the AOF file %s!!!", fname);
            cb_log(LOG_WARNING, "!!! Truncating the AOF %s at offset %zu !!!", fname, valid);
            if (truncate(path, (off_t)valid) != 0) {
                cb_log(LOG_WARNING, "Error truncating the AOF file %s: %s", fname,
                       strerror(errno));
                rc = LOAD_FAILED;
            } else {
                cb_log(LOG_WARNING,
                       "AOF %s loaded anyway because aof-load-truncated is enabled", fname);
            }
        } else {
            cb_log(LOG_WARNING,
                   "Unexpected end of file reading the append only file %s. You can: 1) Make a "
                   "backup of your AOF file, then use ./redis-check-aof --fix "
                   "<filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' "
                   "configuration option to yes and restart the server.",
                   fname);
            rc = LOAD_FAILED;
        }
    } else if (rc == LOAD_FAILED && reason) {
        cb_log(LOG_WARNING,
               "Bad file format reading the append only file %s (offset %zu: %s): make a "
               "backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
               fname, valid, reason);
    }
out:
    cb_free(argv);
    cb_free(lens);
    cb_free(buf);
    return rc;
}

static int load_base(loader *L, const aof_mfile *f, const char *path, int last) {
    size_t nl = strlen(f->name);
    int rdb = nl > 4 && !strcmp(f->name + nl - 4, ".rdb");
    if (!rdb) {
        /* An .aof base may still start with an RDB preamble (old files). */
        char magic[5] = {0};
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (read(fd, magic, 5) == 5 && !memcmp(magic, "REDIS", 5)) rdb = 1;
            close(fd);
        }
    }
    if (!rdb) return load_commands(L, path, f->name, last);
    char *err = NULL;
    rdb_load_info info = {.flags = RDB_LOAD_ALLOW_DUP | RDB_LOAD_AOF_BASE};
    if (loading_active()) loading_attach(&info);
    int rc = rdb_load_file_ex(L->shards, L->nshards, path, &info, &err);
    if (rc < 0) {
        cb_log(LOG_WARNING, "Fatal error loading the AOF base %s: %s", f->name, err);
        cb_free(err);
        return LOAD_FAILED;
    }
    return rc == 1 ? LOAD_EMPTY : LOAD_OK;
}

/* Redis 7.0's upgrade: dir/appendonly.aof becomes the base of a new
 * multi-part set inside appenddirname. 0 done or nothing to do, -1 error. */
static int upgrade_single_file(void) {
    struct stat st;
    if (stat(g_config.appendfilename, &st) != 0) return 0;
    if (mkdir(g_config.appenddirname, 0755) != 0 && errno != EEXIST) return -1;
    char dst[4096];
    snprintf(dst, sizeof(dst), "%s/%s", g_config.appenddirname, g_config.appendfilename);
    aof_manifest m = {0};
    aof_manifest_add(&m, g_config.appendfilename, 1, 'b');
    char mname[1024];
    snprintf(mname, sizeof(mname), "%s.manifest", g_config.appendfilename);
    if (rename(g_config.appendfilename, dst) != 0 ||
        aof_manifest_write(g_config.appenddirname, mname, &m) != 0) {
        aof_manifest_free(&m);
        return -1;
    }
    aof_manifest_free(&m);
    cb_log(LOG_NOTICE, "Successfully migrated an old-style AOF into the AOF directory");
    return 0;
}

int aof_load_at_startup(cb_shard **shards, int nshards) {
    if (!g_config.appendonly) return 1;
    char mname[1024], mpath[4096];
    snprintf(mname, sizeof(mname), "%s.manifest", g_config.appendfilename);
    snprintf(mpath, sizeof(mpath), "%s/%s", g_config.appenddirname, mname);
    struct stat st;
    if (stat(mpath, &st) != 0 && upgrade_single_file() != 0) {
        cb_log(LOG_WARNING, "Error upgrading the old AOF %s: %s", g_config.appendfilename,
               strerror(errno));
        return -1;
    }
    aof_manifest m;
    char err[256];
    int rc = aof_manifest_read(mpath, &m, err, sizeof(err));
    if (rc == 1) return 1;
    if (rc < 0) {
        cb_log(LOG_WARNING, "%s", err);
        return -1;
    }
    long long start = util_ustime();
    loader L;
    memset(&L, 0, sizeof(L));
    L.shards = shards;
    L.nshards = nshards;
    L.c.fd = -1;
    L.c.w = g_server.workers[0];
    L.c.shard = shards[0];
    L.c.db = &shards[0]->dbs[0];
    L.c.resp = 2;
    L.c.flags = CLIENT_PROXY;
    L.c.authenticated = 1;
    int total = 0, result = 0;
    uint64_t total_bytes = 0, base = 0;
    for (int i = 0; i < m.n; i++) {
        if (m.files[i].type == 'h') continue;
        total++;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", g_config.appenddirname, m.files[i].name);
        if (stat(path, &st) == 0) total_bytes += (uint64_t)st.st_size;
    }
    loading_start(total_bytes);
    loading_hold();
    for (int i = 0; i < nshards; i++) shards[i]->loading = 1;
    /* The base first, then the incremental files in manifest order. */
    int idx = 0;
    for (int pass = 0; pass < 2 && result == 0; pass++) {
        for (int i = 0; i < m.n; i++) {
            const aof_mfile *f = &m.files[i];
            if ((pass == 0) != (f->type == 'b') || f->type == 'h') continue;
            idx++;
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", g_config.appenddirname, f->name);
            if (stat(path, &st) != 0) {
                cb_log(LOG_WARNING, "The AOF file %s doesn't exist", f->name);
                result = -1;
                break;
            }
            L.c.dbid = 0;
            L.c.db = &shards[0]->dbs[0];
            loading_file(base);
            base += (uint64_t)st.st_size;
            long long t0 = util_ustime();
            int r = f->type == 'b' ? load_base(&L, f, path, idx == total)
                                   : load_commands(&L, path, f->name, idx == total);
            if (r == LOAD_FAILED) {
                result = -1;
                break;
            }
            cb_log(LOG_NOTICE, "DB loaded from %s file %s: %.3f seconds",
                   f->type == 'b' ? "base" : "incr", f->name,
                   (double)(util_ustime() - t0) / 1000000);
        }
    }
    aof_manifest_free(&m);
    for (int i = 0; i < nshards; i++) shards[i]->loading = 0;
    if (result != 0) return -1;
    cb_log(LOG_NOTICE, "DB loaded from append only file: %.3f seconds",
           (double)(util_ustime() - start) / 1000000);
    return 0;
}
