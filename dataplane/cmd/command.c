/* command.c — the command table at run time: links the generated metadata
 * (commands_gen.c) to handlers (cmd_procs.c), assigns dense ids, builds a
 * case-insensitive name index, keeps RESP2 copies of the stored COMMAND
 * replies, and extracts key positions from argv with Redis 7.0's key-spec
 * rules (begin_search index/keyword, find_keys range/keynum).
 * Call order: command_table_init() once at start, before any worker runs;
 * afterwards everything here is read-only and safe from any thread.
 */
#include "command.h"

#include <limits.h>
#include <string.h>

#include "../../platform/mem.h"
#include "../resp/resp3to2.h"

/* Process-wide, written only by command_table_init (before workers start). */
static struct {
    int ready;
    int *slots;          /* open addressing: index into command_table_gen, -1 empty */
    size_t mask;
    const cb_command **by_id;
    int nids;
    /* rename-command: names that now reach a command, and top-level
     * commands whose own name no longer does (command_rename). */
    struct { char *name; const cb_command *cmd; } *renames;
    int nrenames;
    unsigned char *hidden;
} g_cmd;

static unsigned char lc(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch + 32) : ch;
}

static uint64_t name_hash(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a over lower-cased bytes */
    for (size_t i = 0; i < len; i++) {
        h ^= lc((unsigned char)p[i]);
        h *= 1099511628211ull;
    }
    return h;
}

/* Case-insensitive equality of a slice with a NUL-terminated name. */
static int name_eq(const char *p, size_t len, const char *name)
{
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '\0' || lc((unsigned char)p[i]) != lc((unsigned char)name[i]))
            return 0;
    }
    return name[len] == '\0';
}

static cb_cmd_proc *find_proc(const char *name)
{
    for (const cb_cmd_proc_entry *e = cmd_proc_table; e->name; e++)
        if (strcmp(e->name, name) == 0)
            return e->proc;
    return NULL;
}

static void link_one(cb_command *c, int id)
{
    c->id = id;
    c->proc = find_proc(c->name);
    size_t n;
    /* The captured bytes are well-formed RESP3; NULL here would mean a
     * broken generator, and COMMAND then falls back to an empty reply. */
    c->info_resp2 = resp3to2(c->info_resp3, c->info_len, &n);
    c->info2_len = c->info_resp2 ? n : 0;
    c->docs_resp2 = resp3to2(c->docs_resp3, c->docs_len, &n);
    c->docs2_len = c->docs_resp2 ? n : 0;
}

int command_table_init(void)
{
    if (g_cmd.ready)
        return 0;
    int nids = 0;
    for (int i = 0; i < command_table_gen_count; i++)
        nids += 1 + command_table_gen[i].nsub;
    g_cmd.by_id = cb_calloc(sizeof(*g_cmd.by_id) * (size_t)nids);

    int id = 0;
    for (int i = 0; i < command_table_gen_count; i++) {
        cb_command *c = &command_table_gen[i];
        g_cmd.by_id[id] = c;
        link_one(c, id++);
        for (int j = 0; j < c->nsub; j++) {
            cb_command *s = &c->subcommands[j];
            s->parent = c;
            g_cmd.by_id[id] = s;
            link_one(s, id++);
        }
    }
    g_cmd.nids = nids;

    size_t size = 16;
    while (size < (size_t)command_table_gen_count * 4)
        size *= 2;
    g_cmd.slots = cb_malloc(sizeof(int) * size);
    for (size_t i = 0; i < size; i++)
        g_cmd.slots[i] = -1;
    g_cmd.mask = size - 1;
    for (int i = 0; i < command_table_gen_count; i++) {
        const char *name = command_table_gen[i].name;
        size_t s = name_hash(name, strlen(name)) & g_cmd.mask;
        while (g_cmd.slots[s] >= 0)
            s = (s + 1) & g_cmd.mask;
        g_cmd.slots[s] = i;
    }
    g_cmd.ready = 1;
    return 0;
}

const cb_command *command_lookup(const char *name, size_t len)
{
    if (!g_cmd.ready)
        return NULL;
    size_t s = name_hash(name, len) & g_cmd.mask;
    while (g_cmd.slots[s] >= 0) {
        const cb_command *c = &command_table_gen[g_cmd.slots[s]];
        if (name_eq(name, len, c->name))
            return c;
        s = (s + 1) & g_cmd.mask;
    }
    return NULL;
}

/* Subcommand of a container by its own name ("get" for "config|get"). */
static const cb_command *sub_lookup(const cb_command *parent, const char *name,
                                    size_t len)
{
    size_t skip = strlen(parent->name) + 1;
    for (int i = 0; i < parent->nsub; i++)
        if (name_eq(name, len, parent->subcommands[i].name + skip))
            return &parent->subcommands[i];
    return NULL;
}

/* The name a client types, after rename-command. */
static const cb_command *lookup_as_called(const char *name, size_t len)
{
    for (int i = 0; i < g_cmd.nrenames; i++)
        if (strlen(g_cmd.renames[i].name) == len && name_eq(name, len, g_cmd.renames[i].name))
            return g_cmd.renames[i].cmd;
    const cb_command *c = command_lookup(name, len);
    if (c && g_cmd.hidden && g_cmd.hidden[c - command_table_gen])
        return NULL;
    return c;
}

int command_disabled(const cb_command *cmd)
{
    if (cmd->parent)
        return command_disabled(cmd->parent);
    if (!g_cmd.hidden || !g_cmd.hidden[cmd - command_table_gen])
        return 0;
    for (int i = 0; i < g_cmd.nrenames; i++)
        if (g_cmd.renames[i].cmd == cmd)
            return 0;
    return 1;
}

int command_rename(const char *from, const char *to, const char **err)
{
    const cb_command *c = lookup_as_called(from, strlen(from));
    if (!c) {
        *err = "No such command in rename-command";
        return -1;
    }
    if (to[0] && lookup_as_called(to, strlen(to))) {
        *err = "Target command name already exists";
        return -1;
    }
    if (!g_cmd.hidden)
        g_cmd.hidden = cb_calloc((size_t)command_table_gen_count);
    /* Drop the name it was called by: its own, or an earlier rename. */
    int dropped = 0;
    for (int i = 0; i < g_cmd.nrenames; i++) {
        if (name_eq(from, strlen(from), g_cmd.renames[i].name) &&
            strlen(from) == strlen(g_cmd.renames[i].name)) {
            cb_free(g_cmd.renames[i].name);
            g_cmd.renames[i] = g_cmd.renames[--g_cmd.nrenames];
            dropped = 1;
            break;
        }
    }
    if (!dropped)
        g_cmd.hidden[c - command_table_gen] = 1;
    if (to[0]) {
        g_cmd.renames = cb_realloc(g_cmd.renames,
                                   sizeof(*g_cmd.renames) * (size_t)(g_cmd.nrenames + 1));
        g_cmd.renames[g_cmd.nrenames].name = cb_strdup(to);
        g_cmd.renames[g_cmd.nrenames++].cmd = c;
    }
    return 0;
}

const cb_command *command_resolve(int argc, const char *const *argv,
                                  const size_t *lens, const cb_command **container)
{
    if (container)
        *container = NULL;
    if (argc < 1)
        return NULL;
    const cb_command *base = lookup_as_called(argv[0], lens[0]);
    /* Like Redis, a container named alone is itself the command; its arity
     * check then reports the missing subcommand. */
    if (!base || !base->subcommands || argc == 1)
        return base;
    const cb_command *sub = sub_lookup(base, argv[1], lens[1]);
    if (!sub && container)
        *container = base;
    return sub;
}

static const cb_command *lookup_full(const char *name, size_t len, int as_called)
{
    const char *bar = memchr(name, '|', len);
    if (!bar)
        return as_called ? lookup_as_called(name, len) : command_lookup(name, len);
    size_t bl = (size_t)(bar - name);
    const cb_command *base = as_called ? lookup_as_called(name, bl) : command_lookup(name, bl);
    if (!base || !base->subcommands)
        return NULL;
    size_t rest = len - (size_t)(bar - name) - 1;
    if (memchr(bar + 1, '|', rest))
        return NULL;
    return sub_lookup(base, bar + 1, rest);
}

const cb_command *command_lookup_fullname(const char *name, size_t len)
{
    return lookup_full(name, len, 0);
}

const cb_command *command_lookup_called(const char *name, size_t len)
{
    return lookup_full(name, len, 1);
}

int command_arity_ok(const cb_command *cmd, int argc)
{
    if (cmd->arity > 0)
        return argc == cmd->arity;
    return argc >= -cmd->arity;
}

int command_count(void)
{
    return command_table_gen_count;
}

const cb_command *command_at(int i)
{
    if (i < 0 || i >= command_table_gen_count)
        return NULL;
    return &command_table_gen[i];
}

int command_ids(void)
{
    return g_cmd.nids;
}

const cb_command *command_by_id(int id)
{
    if (id < 0 || id >= g_cmd.nids)
        return NULL;
    return g_cmd.by_id[id];
}

const char *command_fullname(const cb_command *cmd)
{
    return cmd->name;
}

int command_acl_category(const char *name, size_t len)
{
    for (int i = 0; i < acl_category_count; i++)
        if (name_eq(name, len, acl_category_names[i]))
            return i;
    return -1;
}

/* ---------------------------------------------------------------------------
 * Key extraction
 * ------------------------------------------------------------------------- */

static uint32_t all_spec_flags(const cb_command *cmd, int inverted)
{
    uint32_t f = 0;
    for (int i = 0; i < cmd->nkeyspecs; i++)
        f |= inverted ? ~cmd->keyspecs[i].flags : cmd->keyspecs[i].flags;
    return f;
}

int command_has_keys(const cb_command *cmd)
{
    if (cmd->nkeyspecs == 0)
        return cmd->first_key > 0; /* legacy triple only */
    return (all_spec_flags(cmd, 1) & KS_NOT_KEY) != 0;
}

typedef struct keys_out {
    int *out;
    uint32_t *flags;
    int max, n;
} keys_out;

static void keys_add(keys_out *k, int pos, uint32_t flags)
{
    if (k->n < k->max) {
        k->out[k->n] = pos;
        if (k->flags)
            k->flags[k->n] = flags;
    }
    k->n++;
}

/* Strict decimal parse for keynum arguments; 0 on anything else. */
static int parse_ll(const char *p, size_t len, long long *v)
{
    if (len == 0 || len > 19)
        return 0;
    size_t i = 0;
    int neg = 0;
    if (p[0] == '-') {
        neg = 1;
        if (++i == len)
            return 0;
    }
    if (p[i] == '0' && len - i > 1)
        return 0;
    long long x = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        /* 19 digits can pass LLONG_MAX: such a count is never valid. */
        if (x > (LLONG_MAX - (p[i] - '0')) / 10)
            return 0;
        x = x * 10 + (p[i] - '0');
    }
    *v = neg ? -x : x;
    return 1;
}

/* Redis 7.0's key-spec walk: -1 when a spec cannot be applied to argv
 * (bad keynum, incomplete spec), otherwise the number of keys found. */
static int keys_from_specs(const cb_command *cmd, int argc, const char *const *argv,
                           const size_t *lens, keys_out *k)
{
    for (int j = 0; j < cmd->nkeyspecs; j++) {
        const cb_keyspec *ks = &cmd->keyspecs[j];
        if (ks->flags & KS_NOT_KEY)
            continue;
        int first = 0, last, step;
        if (ks->bs_type == 1) {
            first = ks->bs_index;
        } else if (ks->bs_type == 2) {
            int from = ks->bs_index;
            int start = from > 0 ? from : argc + from;
            int end = from > 0 ? argc - 1 : 1;
            for (int i = start; i != end; i += start <= end ? 1 : -1) {
                if (i >= argc || i < 1)
                    break;
                if (name_eq(argv[i], lens[i], ks->bs_keyword)) {
                    first = i + 1;
                    break;
                }
            }
            if (!first)
                continue; /* keyword absent: this spec names no keys */
        } else {
            goto invalid;
        }

        if (ks->fk_type == 1) {
            if (ks->fk_a >= 0)
                last = first + ks->fk_a;
            else if (!ks->fk_c)
                last = argc + ks->fk_a;
            else /* limit: keys spread over 1/limit of the remaining args */
                last = first + ((argc - first) / ks->fk_c + ks->fk_a);
            step = ks->fk_b;
        } else if (ks->fk_type == 2) {
            long long numkeys;
            if (first + ks->fk_a >= argc)
                goto invalid;
            int at = first + ks->fk_a;
            if (!parse_ll(argv[at], lens[at], &numkeys) || numkeys < 0)
                goto invalid;
            first += ks->fk_b;
            if (numkeys > argc) numkeys = argc; /* keeps the sum in range */
            last = first + (int)numkeys - 1;
            step = ks->fk_c;
            if (last >= argc) {
                /* More keys declared than arguments: every Redis command with
                 * such a spec (EVAL, FCALL, ZUNIONSTORE, SINTERCARD, LMPOP...)
                 * falls back to its own extractor, which finds no keys. */
                k->n = 0;
                return 0;
            }
        } else {
            goto invalid;
        }
        if (step < 1)
            step = 1;

        for (int i = first; i <= last; i += step) {
            /* Past the end: variadic commands report their own arity or
             * syntax error later, so the key is simply not there. */
            if (i >= argc || i < first)
                continue;
            keys_add(k, i, ks->flags);
        }
        if (ks->flags & KS_INCOMPLETE)
            goto invalid;
        continue;
invalid:
        k->n = 0;
        return -1;
    }
    return k->n;
}

/* SET: the key is read (RW|ACCESS) only when GET appears among the options,
 * otherwise overwritten (OW). */
static int keys_set(int argc, const char *const *argv, const size_t *lens, keys_out *k)
{
    uint32_t flags = KS_OW | KS_UPDATE;
    for (int i = 3; i < argc; i++) {
        if (name_eq(argv[i], lens[i], "get")) {
            flags = KS_RW | KS_ACCESS | KS_UPDATE;
            break;
        }
    }
    keys_add(k, 1, flags);
    return k->n;
}

/* SORT's keys come from its options (its STORE spec is "unknown"): the
 * sorted key, then the destination of the last STORE, skipping the
 * arguments of LIMIT, GET and BY as Redis 7.0 does. SORT_RO: the key. */
static int keys_sort(const cb_command *cmd, int argc, const char *const *argv,
                     const size_t *lens, keys_out *k)
{
    keys_add(k, 1, KS_RO | KS_ACCESS);
    if (strcmp(cmd->name, "sort_ro") == 0)
        return k->n;
    int store = 0;
    for (int i = 2; i < argc; i++) {
        if (name_eq(argv[i], lens[i], "limit"))
            i += 2;
        else if (name_eq(argv[i], lens[i], "get") || name_eq(argv[i], lens[i], "by"))
            i += 1;
        else if (name_eq(argv[i], lens[i], "store") && i + 1 < argc)
            store = i + 1;
    }
    if (store)
        keys_add(k, store, KS_OW | KS_UPDATE);
    return k->n;
}

/* MIGRATE's key specs are incomplete: its keys are the key argument or,
 * with the KEYS option, every argument after it (none when the key
 * argument is not empty), skipping the arguments of AUTH and AUTH2, as
 * Redis 7.0 finds them; a KEYS that is the last argument does not count
 * there (checked against the oracle). */
static int keys_migrate(int argc, const char *const *argv, const size_t *lens, keys_out *k)
{
    if (argc < 4)
        return 0;
    int first = 3, num = 1;
    for (int i = 6; i < argc - 1; i++) {
        if (name_eq(argv[i], lens[i], "keys")) {
            if (lens[3] > 0)
                return 0;
            first = i + 1;
            num = argc - first;
            break;
        }
        if (name_eq(argv[i], lens[i], "auth"))
            i += 1;
        else if (name_eq(argv[i], lens[i], "auth2"))
            i += 2;
    }
    for (int i = 0; i < num; i++)
        keys_add(k, first + i, KS_RW | KS_ACCESS | KS_DELETE);
    return k->n;
}

int command_get_keys(const cb_command *cmd, int argc, const char *const *argv,
                     const size_t *lens, int *out, uint32_t *flags_out, int max)
{
    keys_out k = { out, flags_out, max < 0 ? 0 : max, 0 };
    if (cmd->nkeyspecs == 0) {
        if (cmd->first_key <= 0)
            return 0;
        int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
        int step = cmd->key_step > 0 ? cmd->key_step : 1;
        for (int i = cmd->first_key; i <= last && i < argc; i += step)
            keys_add(&k, i, 0);
        return k.n;
    }
    if (strcmp(cmd->name, "sort") == 0 || strcmp(cmd->name, "sort_ro") == 0)
        return keys_sort(cmd, argc, argv, lens, &k);
    if (strcmp(cmd->name, "migrate") == 0)
        return keys_migrate(argc, argv, lens, &k);
    int has_keyspec = (all_spec_flags(cmd, 1) & KS_NOT_KEY) != 0;
    int has_varflags = (all_spec_flags(cmd, 0) & KS_VARIABLE_FLAGS) != 0;
    if (has_keyspec && !has_varflags) {
        /* Redis falls back to a command-specific extractor on -1; none of
         * ours needs one, so -1 stands. */
        return keys_from_specs(cmd, argc, argv, lens, &k);
    }
    /* Variable flags: the command's own rule decides the flags. */
    if (strcmp(cmd->name, "set") == 0)
        return keys_set(argc, argv, lens, &k);
    if (has_keyspec)
        return keys_from_specs(cmd, argc, argv, lens, &k);
    return 0;
}
