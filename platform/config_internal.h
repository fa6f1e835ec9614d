/* config_internal.h — the directive table shared by config.c (loading,
 * CONFIG GET/SET/REWRITE) and config_table.c (the entries and the parsers
 * and printers of the special types). Not for use outside platform/.
 *
 * Every directive is one row: name, alias, type, storage (offsetof into
 * cb_config), bounds, default as text, flags. Defaults are given as text
 * and go through the same parser as the file, so a default can never be a
 * value the parser would refuse, and "is this at its default?" (REWRITE) is
 * a comparison of printed values.
 */
#ifndef CB_CONFIG_INTERNAL_H
#define CB_CONFIG_INTERNAL_H

#include <stddef.h>
#include "config.h"

/* Directive types. */
enum { CT_BOOL, CT_NUM, CT_MEM, CT_ENUM, CT_STRING, CT_SPECIAL };
/* Storage of CT_NUM/CT_MEM fields. */
enum { FT_INT, FT_UINT, FT_LL, FT_ULL };

/* Flags. */
#define CF_IMMUTABLE 0x01  /* start-up only: CONFIG SET refuses it */
#define CF_PROTECTED 0x02  /* CONFIG SET needs enable-protected-configs */
#define CF_SENSITIVE 0x04  /* value never logged */
#define CF_MULTI_ARG 0x08  /* several words in the file; CONFIG SET splits on ' ' */

typedef struct cfg_enum {
    const char *name;
    int val;
} cfg_enum;

typedef struct cfg_dir cfg_dir;
typedef struct cfg_rw cfg_rw;

/* Set a special directive from argc words. from_file is 1 while a config
 * file or the command line is being loaded (save accumulates then). 0 ok,
 * -1 with *err a static reason. */
typedef int (*cfg_set_fn)(const cfg_dir *d, int argc, char **argv, int from_file,
                          const char **err);
/* Value as CONFIG GET prints it, cb_malloc'd. */
typedef char *(*cfg_get_fn)(const cfg_dir *d);
/* Emit the REWRITE line(s) through cfg_rw_line. */
typedef void (*cfg_rewrite_fn)(const cfg_dir *d, cfg_rw *rw);

typedef struct cfg_special {
    cfg_set_fn set;
    cfg_get_fn get;
    cfg_rewrite_fn rewrite;  /* NULL: one "name <quoted get()>" line */
} cfg_special;

struct cfg_dir {
    const char *name;
    const char *alias;          /* NULL if none */
    int type;                   /* CT_* */
    int ftype;                  /* FT_* for CT_NUM/CT_MEM */
    unsigned flags;             /* CF_* */
    size_t off;                 /* field in cb_config */
    long long min;
    unsigned long long max;
    const char *def;            /* default as the parser reads it */
    const cfg_enum *enums;      /* CT_ENUM, NULL-name terminated */
    const cfg_special *sp;      /* CT_SPECIAL */
    /* Local follow-up after a successful set (clamping, mirrored fields).
     * Runs at load and on CONFIG SET; server_apply_config is separate. */
    void (*post)(void);
};

extern const cfg_dir cfg_table[];
extern const size_t cfg_table_len;

/* Field address of a directive inside g_config. */
#define CFG_FIELD(d, T) ((T *)((char *)&g_config + (d)->off))

/* Case-insensitive lookup by name or alias; NULL when unknown. */
const cfg_dir *cfg_lookup(const char *name, size_t len);

/* Set a directive from words. 0 ok, -1 and *err a static reason. */
int cfg_set_words(const cfg_dir *d, int argc, char **argv, int from_file,
                  const char **err);
/* Value as CONFIG GET prints it (cb_malloc'd). */
char *cfg_get_value(const cfg_dir *d);

/* Append s to a growing buffer as Redis's repr-quoted string ("..."). */
typedef struct cfg_buf {
    char *p;
    size_t len, cap;
} cfg_buf;
void cfg_buf_add(cfg_buf *b, const char *s, size_t n);
void cfg_buf_str(cfg_buf *b, const char *s);
void cfg_buf_repr(cfg_buf *b, const char *s, size_t n);
/* Memory value with the largest exact unit ("1gb", "64mb", "3kb", "1000"). */
void cfg_buf_mem(cfg_buf *b, unsigned long long v);

/* REWRITE: place one line for directive d. force = write it even when the
 * file has no line for it (the value differs from the default). The line
 * is taken over (cb_malloc'd). */
void cfg_rw_line(cfg_rw *rw, const cfg_dir *d, char *line, int force);

/* Special types also needed by config.c's load loop. */
void cfg_save_begin_load(void);

#endif
