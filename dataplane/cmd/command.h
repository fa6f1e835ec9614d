/* command.h — the command table as data. Each entry's metadata (arity, flags,
 * key positions, ACL categories, tips, key specs, subcommands, docs) comes from
 * the oracle's own COMMAND / COMMAND DOCS answers, captured by
 * tools/gen_commands.py into commands_gen.c; the handler comes from
 * cmd_procs.c. COMMAND, ACL and key routing all read this one table.
 */
#ifndef CB_COMMAND_H
#define CB_COMMAND_H

#include <stddef.h>
#include <stdint.h>

typedef struct cb_client cb_client;
typedef void cb_cmd_proc(cb_client *c);

/* Command flags (Redis 7.0's names, as COMMAND prints them). */
#define CMD_WRITE            (1ull << 0)
#define CMD_READONLY         (1ull << 1)
#define CMD_DENYOOM          (1ull << 2)
#define CMD_MODULE           (1ull << 3)
#define CMD_ADMIN            (1ull << 4)
#define CMD_PUBSUB           (1ull << 5)
#define CMD_NOSCRIPT         (1ull << 6)
#define CMD_BLOCKING         (1ull << 7)
#define CMD_LOADING          (1ull << 8)
#define CMD_STALE            (1ull << 9)
#define CMD_SKIP_MONITOR     (1ull << 10)
#define CMD_SKIP_SLOWLOG     (1ull << 11)
#define CMD_ASKING           (1ull << 12)
#define CMD_FAST             (1ull << 13)
#define CMD_NO_AUTH          (1ull << 14)
#define CMD_MAY_REPLICATE    (1ull << 15)
#define CMD_NO_MANDATORY_KEYS (1ull << 16)
#define CMD_NO_MULTI         (1ull << 17)
#define CMD_MOVABLE_KEYS     (1ull << 18)
#define CMD_ALLOW_BUSY       (1ull << 19)
#define CMD_NO_ASYNC_LOADING (1ull << 20)

/* Key spec as COMMAND reports it (begin_search + find_keys). */
typedef struct cb_keyspec {
    uint32_t flags;       /* KS_* below */
    uint8_t bs_type;      /* 1 index, 2 keyword, 0 unknown */
    int bs_index;         /* index: pos; keyword: startfrom */
    const char *bs_keyword;
    uint8_t fk_type;      /* 1 range, 2 keynum, 0 unknown */
    int fk_a, fk_b, fk_c; /* range: lastkey, keystep, limit; keynum: keynumidx, firstkey, keystep */
} cb_keyspec;

#define KS_RO (1u << 0)
#define KS_RW (1u << 1)
#define KS_OW (1u << 2)
#define KS_RM (1u << 3)
#define KS_ACCESS (1u << 4)
#define KS_UPDATE (1u << 5)
#define KS_INSERT (1u << 6)
#define KS_DELETE (1u << 7)
#define KS_NOT_KEY (1u << 8)
#define KS_INCOMPLETE (1u << 9)
#define KS_VARIABLE_FLAGS (1u << 10)

typedef struct cb_command {
    const char *name;       /* lower case; subcommands: "parent|sub" */
    int arity;
    uint64_t flags;
    int first_key, last_key, key_step;
    uint64_t acl_categories; /* bit i = acl_category_names[i] */
    const cb_keyspec *keyspecs;
    int nkeyspecs;
    const char *info_resp3;  /* this command's COMMAND INFO entry, RESP3 bytes */
    size_t info_len;
    const char *docs_resp3;  /* "name" + its COMMAND DOCS map, RESP3 bytes */
    size_t docs_len;
    const char *group;       /* COMMAND LIST FILTERBY ... / docs group */
    struct cb_command *subcommands; /* NULL-name terminated, or NULL */
    int nsub;
    struct cb_command *parent;
    cb_cmd_proc *proc;       /* NULL for containers with subcommands */
    /* Stats (per worker copies are summed for INFO commandstats). */
    int id;                  /* dense index for per-worker stat arrays */
    /* RESP2 forms of info_resp3/docs_resp3, converted once by
     * command_table_init (process-wide, read-only afterwards). */
    const char *info_resp2;
    size_t info2_len;
    const char *docs_resp2;
    size_t docs2_len;
} cb_command;

extern const char *const acl_category_names[]; /* NULL-terminated */
extern const int acl_category_count;

/* Generated table (commands_gen.c): top-level commands, NULL-name terminated.
 * Only command.c should touch it; everyone else uses the calls below. */
extern cb_command command_table_gen[];
extern const int command_table_gen_count;

/* Handler table (cmd_procs.c), NULL-name terminated; "a|b-c" -> cmd_a_b_c. */
typedef struct cb_cmd_proc_entry {
    const char *name;
    cb_cmd_proc *proc;
} cb_cmd_proc_entry;
extern const cb_cmd_proc_entry cmd_proc_table[];

/* Build the table (link procs to metadata); call once at start. 0 ok. */
int command_table_init(void);
/* rename-command (before the workers start): from the name it is called
 * by now to `to`, or "" to disable it. ACL rules and COMMAND keep the
 * original names. 0 ok; -1 and *err Redis's reason. */
int command_rename(const char *from, const char *to, const char **err);
/* Whether rename-command "" took cmd (or its container) away: COMMAND,
 * COMMAND LIST, COUNT and DOCS leave it out, as Redis does; ACL still
 * knows it by its original name. */
int command_disabled(const cb_command *cmd);
/* Top-level lookup by name, case-insensitive; NULL if unknown. */
const cb_command *command_lookup(const char *name, size_t len);
/* Resolve argv to the command or subcommand to run; NULL if unknown.
 * For a container with an unknown subcommand, *container is set. */
const cb_command *command_resolve(int argc, const char *const *argv,
                                  const size_t *lens, const cb_command **container);
/* Arity check as Redis: arity > 0 exact, < 0 at least -arity. */
int command_arity_ok(const cb_command *cmd, int argc);
/* Number of top-level commands. */
int command_count(void);
const cb_command *command_at(int i);
/* Total number of command ids (top-level and subcommands). */
int command_ids(void);
const cb_command *command_by_id(int id);
/* Full name for errors/stats: "config|get" -> "config|get". */
const char *command_fullname(const cb_command *cmd);

/* Key positions of argv for a command (COMMAND GETKEYS / routing).
 * Writes up to max indexes into out (and keyspec flags into flags_out when
 * not NULL); returns the count, or -1 when the arguments are invalid for key
 * extraction. The count may exceed max (only max are written): call with
 * max 0 to size the buffers. argv[0] is the command name. */
int command_get_keys(const cb_command *cmd, int argc, const char *const *argv,
                     const size_t *lens, int *out, uint32_t *flags_out, int max);
/* Whether key extraction can ever find keys (a key spec that is not
 * NOT_KEY): COMMAND GETKEYS answers "no key arguments" otherwise. */
int command_has_keys(const cb_command *cmd);
/* Look up "name" or "parent|sub" (COMMAND INFO / DOCS argument form),
 * case-insensitive; NULL if unknown. */
const cb_command *command_lookup_fullname(const char *name, size_t len);
/* The same, by the name clients call it after rename-command (COMMAND
 * INFO / DOCS); command_lookup_fullname keeps the original names (ACL). */
const cb_command *command_lookup_called(const char *name, size_t len);
/* Index of an ACL category by name (case-insensitive), -1 if unknown. */
int command_acl_category(const char *name, size_t len);

#endif
