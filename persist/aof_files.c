/* aof_files.c — manifest reading/writing and the RESP command scanner for
 * AOF files (see aof_files.h). The manifest format is Redis 7.0's: one
 * line per file, `file <name> seq <n> type <b|h|i>`, base first, then
 * history, then incrementals in order.
 */
#include "aof_files.h"
#include "pio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../platform/mem.h"

void aof_manifest_add(aof_manifest *m, const char *name, long long seq, char type) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 4;
        m->files = cb_realloc(m->files, sizeof(*m->files) * (size_t)m->cap);
    }
    m->files[m->n].name = cb_strdup(name);
    m->files[m->n].seq = seq;
    m->files[m->n].type = type;
    m->n++;
}

void aof_manifest_free(aof_manifest *m) {
    for (int i = 0; i < m->n; i++) cb_free(m->files[i].name);
    cb_free(m->files);
    memset(m, 0, sizeof(*m));
}

const aof_mfile *aof_manifest_base(const aof_manifest *m) {
    for (int i = 0; i < m->n; i++)
        if (m->files[i].type == 'b') return &m->files[i];
    return NULL;
}

int aof_manifest_read(const char *path, aof_manifest *m, char *err, size_t errlen) {
    memset(m, 0, sizeof(*m));
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 1;
        snprintf(err, errlen, "Can't open the AOF manifest %s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int lineno = 0, bases = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t l = strlen(line);
        if (l && line[l - 1] != '\n' && !feof(f)) {
            snprintf(err, errlen, "The AOF manifest file contains too long line");
            goto bad;
        }
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = '\0';
        if (line[0] == '#' || l == 0) continue;
        char *name = NULL, *tok, *save = NULL;
        long long seq = -1;
        char type = 0;
        for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            char *val = strtok_r(NULL, " ", &save);
            if (!val) break;
            if (!strcmp(tok, "file")) name = val;
            else if (!strcmp(tok, "seq")) seq = strtoll(val, NULL, 10);
            else if (!strcmp(tok, "type")) type = val[0];
        }
        if (!name || seq < 0 || (type != 'b' && type != 'h' && type != 'i') ||
            strchr(name, '/')) {
            snprintf(err, errlen, "Invalid AOF manifest file format (line %d)", lineno);
            goto bad;
        }
        if (type == 'b' && ++bases > 1) {
            snprintf(err, errlen, "Found duplicate base file information");
            goto bad;
        }
        aof_manifest_add(m, name, seq, type);
    }
    fclose(f);
    return 0;
bad:
    fclose(f);
    aof_manifest_free(m);
    return -1;
}

int aof_manifest_write(const char *dir, const char *fname, const aof_manifest *m) {
    char tmp[4096], final[4096];
    snprintf(tmp, sizeof(tmp), "%s/temp-%s", dir, fname);
    snprintf(final, sizeof(final), "%s/%s", dir, fname);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    /* Base, then history, then incrementals: the order Redis writes. */
    const char order[3] = {'b', 'h', 'i'};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < m->n; i++)
            if (m->files[i].type == order[k])
                fprintf(f, "file %s seq %lld type %c\n", m->files[i].name, m->files[i].seq,
                        m->files[i].type);
    if (fflush(f) != 0 || pio()->fsync(fileno(f)) != 0) {
        int e = errno;
        fclose(f);
        unlink(tmp);
        errno = e;
        return -1;
    }
    fclose(f);
    if (pio()->rename(tmp, final) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)pio()->fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* Reads "<prefix><digits>\r\n" at *pos. 1 ok, 0 truncated, -1 corrupt. */
static int read_num_line(const char *buf, size_t len, size_t *pos, char prefix, long long *out) {
    size_t p = *pos;
    if (p >= len) return 0;
    if (buf[p] != prefix) return -1;
    p++;
    long long v = 0;
    size_t digits = 0;
    while (p < len && buf[p] >= '0' && buf[p] <= '9') {
        if (v > 1000000000000LL) return -1;
        v = v * 10 + (buf[p] - '0');
        p++;
        digits++;
    }
    if (p >= len) return 0;
    if (!digits) return -1;
    if (buf[p] != '\r') return -1;
    if (p + 1 >= len) return 0;
    if (buf[p + 1] != '\n') return -1;
    *pos = p + 2;
    *out = v;
    return 1;
}

int aof_next_command(const char *buf, size_t len, size_t *pos, int *argc, const char ***argv,
                     size_t **lens, int *cap, const char **reason) {
    size_t p = *pos;
    /* Annotations: whole lines starting with '#'. */
    while (p < len && buf[p] == '#') {
        const char *nl = memchr(buf + p, '\n', len - p);
        if (!nl) {
            *reason = "truncated annotation";
            return -AOF_SCAN_TRUNCATED;
        }
        p = (size_t)(nl - buf) + 1;
    }
    if (p >= len) {
        *pos = p;
        return 0;
    }
    long long n;
    int r = read_num_line(buf, len, &p, '*', &n);
    if (r == 0) {
        *reason = "truncated array header";
        return -AOF_SCAN_TRUNCATED;
    }
    if (r < 0 || n < 1) {
        *reason = "expected '*' (a RESP array)";
        return -AOF_SCAN_CORRUPT;
    }
    if (n > *cap) {
        *cap = (int)n;
        *argv = cb_realloc(*argv, sizeof(char *) * (size_t)n);
        *lens = cb_realloc(*lens, sizeof(size_t) * (size_t)n);
    }
    for (long long i = 0; i < n; i++) {
        long long bl;
        r = read_num_line(buf, len, &p, '$', &bl);
        if (r == 0) {
            *reason = "truncated bulk length";
            return -AOF_SCAN_TRUNCATED;
        }
        if (r < 0) {
            *reason = "expected '$' (a bulk string)";
            return -AOF_SCAN_CORRUPT;
        }
        if ((unsigned long long)bl + 2 > len - p) {
            *reason = "truncated bulk string";
            return -AOF_SCAN_TRUNCATED;
        }
        if (buf[p + (size_t)bl] != '\r' || buf[p + (size_t)bl + 1] != '\n') {
            *reason = "bulk string not followed by CRLF";
            return -AOF_SCAN_CORRUPT;
        }
        (*argv)[i] = buf + p;
        (*lens)[i] = (size_t)bl;
        p += (size_t)bl + 2;
    }
    *argc = (int)n;
    *pos = p;
    return 1;
}
