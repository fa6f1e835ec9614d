/* check_aof.c — cachebox-check-aof [--fix] FILE|MANIFEST, with the
 * behaviour of redis-check-aof: a manifest checks the base (RDB magic and
 * CRC-64, or commands) and every incremental file in order; a plain file
 * is checked as commands (an old-style AOF). The first bad record is
 * reported with its offset and reason; --fix asks (y/N on stdin), copies
 * the file to FILE.bak, and truncates it to the last good record.
 * Exit status 0 when everything is valid (or was fixed), 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../persist/aof_files.h"
#include "../persist/crc64.h"
#include "../platform/mem.h"

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return NULL;
    }
    char *buf = cb_malloc((size_t)st.st_size + 1);
    *len = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    return buf;
}

static long long lines_upto(const char *buf, size_t n) {
    long long l = 1;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\n') l++;
    return l;
}

/* Scans commands; returns the offset of the end of the last whole record
 * (a MULTI block counts whole only with its EXEC) and the reason of the
 * first problem, or NULL when the whole buffer is valid. */
static size_t scan_commands(const char *buf, size_t len, size_t start, const char **reason,
                            size_t *bad_at) {
    size_t pos = start, valid = start, multi_at = 0;
    int argc, cap = 0, in_multi = 0;
    const char **argv = NULL;
    size_t *lens = NULL;
    *reason = NULL;
    for (;;) {
        size_t at = pos;
        int r = aof_next_command(buf, len, &pos, &argc, &argv, &lens, &cap, reason);
        if (r == 0) break;
        if (r < 0) {
            *bad_at = at;
            break;
        }
        if (argc == 1 && lens[0] == 5 && !strncasecmp(argv[0], "multi", 5)) {
            if (in_multi) {
                *reason = "Unexpected MULTI";
                *bad_at = at;
                break;
            }
            in_multi = 1;
            multi_at = at;
            continue;
        }
        if (argc == 1 && lens[0] == 4 && !strncasecmp(argv[0], "exec", 4)) {
            if (!in_multi) {
                *reason = "Unexpected EXEC";
                *bad_at = at;
                break;
            }
            in_multi = 0;
        }
        if (!in_multi) valid = pos;
    }
    if (!*reason && in_multi) {
        *reason = "Reached EOF before reading EXEC for MULTI";
        *bad_at = multi_at;
    }
    cb_free(argv);
    cb_free(lens);
    return valid;
}

static int confirm_and_fix(const char *path, const char *shown, size_t size, size_t valid) {
    printf("This will shrink the AOF %s from %zu bytes, with %zu bytes, to %zu bytes\n", shown,
           size, size - valid, valid);
    printf("Continue? [y/N]: ");
    fflush(stdout);
    char ans[16] = {0};
    if (!fgets(ans, sizeof(ans), stdin) || (ans[0] != 'y' && ans[0] != 'Y')) {
        printf("Aborting...\n");
        return 1;
    }
    /* Keep the original next to it before cutting anything. */
    char bak[4200];
    snprintf(bak, sizeof(bak), "%s.bak", path);
    size_t len;
    char *all = read_file(path, &len);
    FILE *b = all ? fopen(bak, "wb") : NULL;
    if (!b || fwrite(all, 1, len, b) != len || fflush(b) != 0 || fsync(fileno(b)) != 0) {
        printf("Failed to write the backup %s: %s\n", bak, strerror(errno));
        if (b) fclose(b);
        cb_free(all);
        return 1;
    }
    fclose(b);
    cb_free(all);
    printf("Backup written to %s\n", bak);
    if (truncate(path, (off_t)valid) != 0) {
        printf("Failed to truncate AOF %s: %s\n", shown, strerror(errno));
        return 1;
    }
    printf("Successfully truncated AOF %s\n", shown);
    return 0;
}

/* 0 valid (or fixed), 1 not. kind: "BASE AOF", "INCR AOF" or NULL. */
static int check_file(const char *path, const char *shown, const char *kind, int fix) {
    size_t len;
    char *buf = read_file(path, &len);
    if (!buf) {
        printf("Cannot open file %s: %s\n", shown, strerror(errno));
        return 1;
    }
    size_t start = 0;
    if (len >= 5 && !memcmp(buf, "REDIS", 5)) {
        /* An RDB (base or preamble): magic, version, and the CRC-64 at the
         * end. A preamble followed by commands is not produced by 7.0's
         * multi-part AOF; the whole file is taken as the RDB. */
        printf("Start to check BASE AOF (RDB format).\n");
        int ok = len >= 9 + 8;
        uint64_t want = 0;
        if (ok) memcpy(&want, buf + len - 8, 8);
        if (ok && want != 0 && crc64(0, buf, len - 8) != want) ok = 0;
        if (!ok) {
            printf("0x%16zx: RDB checksum mismatch or truncated RDB\n", (size_t)0);
            printf("AOF analyzed: filename=%s, size=%zu, ok_up_to=0, ok_up_to_line=1, diff=%zu\n",
                   shown, len, len);
            printf("%s %s is not valid.\n", kind ? kind : "AOF", shown);
            cb_free(buf);
            return 1;
        }
        printf("RDB preamble is OK, proceeding with AOF tail...\n");
        printf("AOF analyzed: filename=%s, size=%zu, ok_up_to=%zu, ok_up_to_line=1, diff=0\n",
               shown, len, len);
        printf("%s %s is valid\n", kind ? kind : "AOF", shown);
        cb_free(buf);
        return 0;
    }
    const char *reason;
    size_t bad_at = 0;
    size_t valid = scan_commands(buf, len, start, &reason, &bad_at);
    if (reason) printf("0x%16zx: %s\n", bad_at, reason);
    printf("AOF analyzed: filename=%s, size=%zu, ok_up_to=%zu, ok_up_to_line=%lld, diff=%zu\n",
           shown, len, valid, lines_upto(buf, valid), len - valid);
    cb_free(buf);
    if (!reason) {
        printf("%s %s is valid\n", kind ? kind : "AOF", shown);
        return 0;
    }
    if (fix) return confirm_and_fix(path, shown, len, valid);
    printf("AOF %s is not valid. Use the --fix option to try fixing it.\n", shown);
    return 1;
}

int main(int argc, char **argv) {
    int fix = 0;
    const char *target = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--fix")) fix = 1;
        else if (!target) target = argv[i];
        else target = NULL, i = argc;
    }
    if (!target) {
        fprintf(stderr, "Usage: %s [--fix] <file.manifest|file.aof>\n", argv[0]);
        return 1;
    }
    size_t tl = strlen(target);
    if (tl < 9 || strcmp(target + tl - 9, ".manifest") != 0) {
        printf("Start checking Old-Style AOF\n");
        return check_file(target, target, NULL, fix);
    }
    printf("Start checking Multi Part AOF\n");
    aof_manifest m;
    char err[256];
    int rc = aof_manifest_read(target, &m, err, sizeof(err));
    if (rc != 0) {
        printf("%s\n", rc == 1 ? "Cannot open the manifest file" : err);
        return 1;
    }
    char *copy = cb_strdup(target);
    const char *dir = dirname(copy);
    int bad = 0;
    const aof_mfile *base = aof_manifest_base(&m);
    if (base) {
        char p[4200];
        snprintf(p, sizeof(p), "%s/%s", dir, base->name);
        bad = check_file(p, base->name, "BASE AOF", 0);
    }
    if (!bad) printf("Start to check INCR files.\n");
    int last = -1;
    for (int i = 0; i < m.n; i++)
        if (m.files[i].type == 'i') last = i;
    for (int i = 0; i < m.n && !bad; i++) {
        if (m.files[i].type != 'i') continue;
        char p[4200];
        snprintf(p, sizeof(p), "%s/%s", dir, m.files[i].name);
        /* Only the last incremental file may be cut short. */
        bad = check_file(p, m.files[i].name, "INCR AOF", fix && i == last);
    }
    if (!bad) printf("All AOF files and manifest are valid\n");
    cb_free(copy);
    aof_manifest_free(&m);
    return bad ? 1 : 0;
}
