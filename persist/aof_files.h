/* aof_files.h — the on-disk pieces of Redis 7.0's multi-part AOF that the
 * writer, the loader and cachebox-check-aof share: the manifest
 * (`file <name> seq <n> type b|h|i` lines) and a validator for a file of
 * RESP commands (which also knows `#` annotation lines). No server state.
 */
#ifndef CB_AOF_FILES_H
#define CB_AOF_FILES_H

#include <stddef.h>

typedef struct aof_mfile {
    char *name;
    long long seq;
    char type;      /* 'b' base, 'h' history, 'i' incremental */
} aof_mfile;

typedef struct aof_manifest {
    aof_mfile *files;
    int n, cap;
} aof_manifest;

/* Reads path. 0 ok, 1 no such file, -1 with err filled (bad line). */
int aof_manifest_read(const char *path, aof_manifest *m, char *err, size_t errlen);
void aof_manifest_add(aof_manifest *m, const char *name, long long seq, char type);
void aof_manifest_free(aof_manifest *m);
/* The base entry, or NULL. */
const aof_mfile *aof_manifest_base(const aof_manifest *m);
/* Writes the manifest atomically (temp file, fsync, rename, fsync of the
 * directory dir). 0 ok, -1 with errno set. */
int aof_manifest_write(const char *dir, const char *fname, const aof_manifest *m);

/* Result of scanning RESP commands. */
enum { AOF_SCAN_OK = 0, AOF_SCAN_TRUNCATED = 1, AOF_SCAN_CORRUPT = 2 };

/* One command in a buffer of AOF text: at *pos, skipping annotations.
 * 1 with argc/argv/lens filled (argv point into buf; *arrays grown with
 * cb_realloc), 0 at the end of the buffer, or -AOF_SCAN_TRUNCATED /
 * -AOF_SCAN_CORRUPT with *reason set. *pos advances past the command. */
int aof_next_command(const char *buf, size_t len, size_t *pos, int *argc, const char ***argv,
                     size_t **lens, int *cap, const char **reason);

#endif
