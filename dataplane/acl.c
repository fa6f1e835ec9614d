/* acl.c — ACL users, rules, descriptions and checks (see acl.h).
 *
 * Layers, top to bottom: selectors (command bits, first-args, key and
 * channel patterns) / users (flags, passwords, selectors) / the user table /
 * the checks / the rule descriptions that ACL LIST and GETUSER print /
 * aclfile. The ACL log is in acl_log.c. The rule language and every message
 * are Redis 7.0's, and so is the description algorithm (-@all or +@all, a
 * greedy choice of categories, then single commands), so ACL LIST prints
 * what Redis prints for the same rules, except that Redis lists the single
 * commands in its hash table's random order and we list them in command
 * table order. Design: docs/acl.md.
 */
#include "acl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conn.h"
#include "pubsub.h"
#include "worker.h"
#include "resp/reply.h"
#include "../platform/config.h"
#include "../platform/mem.h"
#include "../platform/sha256.h"
#include "../platform/util.h"

#define ACL_READ 1
#define ACL_WRITE 2
#define ACL_RW (ACL_READ | ACL_WRITE)

#define SEL_ROOT 1
#define SEL_ALLKEYS 2
#define SEL_ALLCHANNELS 4
#define SEL_ALLCOMMANDS 8

#define USER_ON 1
#define USER_OFF 2
#define USER_NOPASS 4
#define USER_SKIP_SANITIZE 8
#define USER_SANITIZE 16

typedef struct keypat {
    char *pat;
    size_t len;
    int flags; /* ACL_READ / ACL_WRITE */
} keypat;

typedef struct firstargs {
    char **v;
    int n;
} firstargs;

typedef struct selector {
    unsigned flags;
    uint64_t *bits;     /* command ids, plus the "future commands" bit */
    firstargs *fa;      /* per command id, NULL until used */
    keypat *keys;
    int nkeys;
    char **chans;
    size_t *chanlen;
    int nchans;
} selector;

struct cb_acl_user {
    char *name;
    size_t namelen;
    unsigned flags;
    char (*pw)[65];
    int npw;
    selector root;
    selector *sel;
    int nsel;
};

/* Process-wide state: changed only before the workers start or while
 * they are parked (see acl.h). */
static struct {
    cb_acl_user **users; /* sorted by name */
    int n, cap;
    cb_acl_user *dflt;
    cb_acl_user **grave; /* deleted, freed at exit */
    int ngrave, gravecap;
    int nids;            /* command ids; bit nids = future commands */
    int words;
} A;

static const struct {
    const char *name;
    unsigned flag;
} user_flag_names[] = {{"on", USER_ON},
                       {"off", USER_OFF},
                       {"nopass", USER_NOPASS},
                       {"skip-sanitize-payload", USER_SKIP_SANITIZE},
                       {"sanitize-payload", USER_SANITIZE},
                       {NULL, 0}};

static int chan_allowed(const struct selector *s, const char *ch, size_t cl, int is_pattern);

/* ------------------------------------------------------------ selectors */

static void sel_init(selector *s, unsigned flags) {
    memset(s, 0, sizeof(*s));
    s->flags = flags;
    s->bits = cb_calloc(sizeof(uint64_t) * (size_t)A.words);
    if (g_config.acl_pubsub_default) s->flags |= SEL_ALLCHANNELS;
}

static void fa_reset(selector *s, int id) {
    if (!s->fa || !s->fa[id].v) return;
    for (int i = 0; i < s->fa[id].n; i++) cb_free(s->fa[id].v[i]);
    cb_free(s->fa[id].v);
    s->fa[id].v = NULL;
    s->fa[id].n = 0;
}

static void fa_reset_all(selector *s) {
    if (!s->fa) return;
    for (int i = 0; i < A.nids; i++) fa_reset(s, i);
    cb_free(s->fa);
    s->fa = NULL;
}

static void sel_reset_keys(selector *s) {
    for (int i = 0; i < s->nkeys; i++) cb_free(s->keys[i].pat);
    cb_free(s->keys);
    s->keys = NULL;
    s->nkeys = 0;
}

static void sel_reset_chans(selector *s) {
    for (int i = 0; i < s->nchans; i++) cb_free(s->chans[i]);
    cb_free(s->chans);
    cb_free(s->chanlen);
    s->chans = NULL;
    s->chanlen = NULL;
    s->nchans = 0;
}

static void sel_free(selector *s) {
    fa_reset_all(s);
    sel_reset_keys(s);
    sel_reset_chans(s);
    cb_free(s->bits);
    s->bits = NULL;
}

static void sel_copy(selector *dst, const selector *src) {
    *dst = *src;
    dst->bits = (uint64_t *)cb_memdup(src->bits, sizeof(uint64_t) * (size_t)A.words);
    dst->fa = NULL;
    if (src->fa) {
        dst->fa = cb_calloc(sizeof(firstargs) * (size_t)A.nids);
        for (int i = 0; i < A.nids; i++) {
            if (!src->fa[i].v) continue;
            dst->fa[i].n = src->fa[i].n;
            dst->fa[i].v = cb_malloc(sizeof(char *) * (size_t)(src->fa[i].n + 1));
            for (int j = 0; j < src->fa[i].n; j++) dst->fa[i].v[j] = cb_strdup(src->fa[i].v[j]);
        }
    }
    dst->keys = src->nkeys ? cb_malloc(sizeof(keypat) * (size_t)src->nkeys) : NULL;
    for (int i = 0; i < src->nkeys; i++) {
        dst->keys[i] = src->keys[i];
        dst->keys[i].pat = cb_memdup(src->keys[i].pat, src->keys[i].len);
    }
    dst->chans = src->nchans ? cb_malloc(sizeof(char *) * (size_t)src->nchans) : NULL;
    dst->chanlen = src->nchans ? cb_malloc(sizeof(size_t) * (size_t)src->nchans) : NULL;
    for (int i = 0; i < src->nchans; i++) {
        dst->chans[i] = cb_memdup(src->chans[i], src->chanlen[i]);
        dst->chanlen[i] = src->chanlen[i];
    }
}

static int bit_get(const selector *s, int id) { return (s->bits[id / 64] >> (id % 64)) & 1; }

static void bit_set(selector *s, int id, int on) {
    if (on)
        s->bits[id / 64] |= 1ull << (id % 64);
    else {
        s->bits[id / 64] &= ~(1ull << (id % 64));
        s->flags &= ~SEL_ALLCOMMANDS;
    }
}

/* Allowing or denying a command covers its subcommands and drops the
 * first-args allowed for it. */
static void change_perm(selector *s, const cb_command *cmd, int allow) {
    bit_set(s, cmd->id, allow);
    fa_reset(s, cmd->id);
    for (int i = 0; i < cmd->nsub; i++) bit_set(s, cmd->subcommands[i].id, allow);
}

static void set_category(selector *s, const cb_command *cmd, uint64_t cat, int allow) {
    if (cmd->acl_categories & cat) change_perm(s, cmd, allow);
    for (int i = 0; i < cmd->nsub; i++) set_category(s, &cmd->subcommands[i], cat, allow);
}

static void set_all(selector *s, int allow) {
    memset(s->bits, allow ? 0xff : 0, sizeof(uint64_t) * (size_t)A.words);
    if (allow)
        s->flags |= SEL_ALLCOMMANDS;
    else
        s->flags &= ~SEL_ALLCOMMANDS;
    fa_reset_all(s);
}

static void fa_add(selector *s, int id, const char *arg, size_t len) {
    if (!s->fa) s->fa = cb_calloc(sizeof(firstargs) * (size_t)A.nids);
    firstargs *f = &s->fa[id];
    for (int i = 0; i < f->n; i++)
        if (strlen(f->v[i]) == len && !strncasecmp(f->v[i], arg, len)) return;
    f->v = cb_realloc(f->v, sizeof(char *) * (size_t)(f->n + 2));
    f->v[f->n++] = cb_memdup(arg, len);
}

/* Apply one selector rule; 0 ok, else -1 with errno as Redis sets it. */
static int sel_apply(selector *s, const char *op, size_t len) {
    if (util_eq_nocase(op, len, "allkeys") || (len == 2 && !memcmp(op, "~*", 2))) {
        s->flags |= SEL_ALLKEYS;
        sel_reset_keys(s);
    } else if (util_eq_nocase(op, len, "resetkeys")) {
        s->flags &= ~SEL_ALLKEYS;
        sel_reset_keys(s);
    } else if (util_eq_nocase(op, len, "allchannels") || (len == 2 && !memcmp(op, "&*", 2))) {
        s->flags |= SEL_ALLCHANNELS;
        sel_reset_chans(s);
    } else if (util_eq_nocase(op, len, "resetchannels")) {
        s->flags &= ~SEL_ALLCHANNELS;
        sel_reset_chans(s);
    } else if (util_eq_nocase(op, len, "allcommands") || util_eq_nocase(op, len, "+@all")) {
        set_all(s, 1);
    } else if (util_eq_nocase(op, len, "nocommands") || util_eq_nocase(op, len, "-@all")) {
        set_all(s, 0);
    } else if (len && (op[0] == '~' || op[0] == '%')) {
        if (s->flags & SEL_ALLKEYS) {
            errno = EEXIST;
            return -1;
        }
        int flags = 0;
        size_t off = 1;
        if (op[0] == '%') {
            for (; off < len; off++) {
                char ch = op[off];
                if ((ch == 'R' || ch == 'r') && !(flags & ACL_READ))
                    flags |= ACL_READ;
                else if ((ch == 'W' || ch == 'w') && !(flags & ACL_WRITE))
                    flags |= ACL_WRITE;
                else if (ch == '~') {
                    off++;
                    break;
                } else {
                    errno = EINVAL;
                    return -1;
                }
            }
        } else {
            flags = ACL_RW;
        }
        const char *p = op + off;
        size_t pl = len - off;
        if (flags == ACL_RW && pl == 1 && p[0] == '*') {
            s->flags |= SEL_ALLKEYS;
            sel_reset_keys(s);
            return 0;
        }
        for (int i = 0; i < s->nkeys; i++) {
            if (s->keys[i].len == pl && !memcmp(s->keys[i].pat, p, pl)) {
                s->keys[i].flags |= flags;
                return 0;
            }
        }
        s->keys = cb_realloc(s->keys, sizeof(keypat) * (size_t)(s->nkeys + 1));
        keypat *k = &s->keys[s->nkeys++];
        k->pat = cb_malloc(pl + 1);
        memcpy(k->pat, p, pl);
        k->pat[pl] = '\0';
        k->len = pl;
        k->flags = flags;
    } else if (len && op[0] == '&') {
        if (s->flags & SEL_ALLCHANNELS) {
            errno = EISDIR;
            return -1;
        }
        for (int i = 0; i < s->nchans; i++)
            if (s->chanlen[i] == len - 1 && !memcmp(s->chans[i], op + 1, len - 1)) return 0;
        s->chans = cb_realloc(s->chans, sizeof(char *) * (size_t)(s->nchans + 1));
        s->chanlen = cb_realloc(s->chanlen, sizeof(size_t) * (size_t)(s->nchans + 1));
        char *ch = cb_malloc(len);
        memcpy(ch, op + 1, len - 1);
        ch[len - 1] = '\0';
        s->chans[s->nchans] = ch;
        s->chanlen[s->nchans++] = len - 1;
    } else if (len >= 2 && (op[0] == '+' || op[0] == '-') && op[1] == '@') {
        int cat = command_acl_category(op + 2, len - 2);
        if (cat < 0) {
            errno = ENOENT;
            return -1;
        }
        for (int i = 0; i < command_count(); i++)
            set_category(s, command_at(i), 1ull << cat, op[0] == '+');
    } else if (len >= 1 && op[0] == '-') {
        const cb_command *cmd = command_lookup_fullname(op + 1, len - 1);
        if (!cmd) {
            errno = ENOENT;
            return -1;
        }
        change_perm(s, cmd, 0);
    } else if (len >= 1 && op[0] == '+') {
        const char *bar = NULL;
        for (size_t i = len; i > 1; i--)
            if (op[i - 1] == '|') {
                bar = op + i - 1;
                break;
            }
        if (!bar) {
            const cb_command *cmd = command_lookup_fullname(op + 1, len - 1);
            if (!cmd) {
                errno = ENOENT;
                return -1;
            }
            change_perm(s, cmd, 1);
            return 0;
        }
        const cb_command *cmd = command_lookup_fullname(op + 1, (size_t)(bar - op - 1));
        if (!cmd) {
            errno = ENOENT;
            return -1;
        }
        if (cmd->parent) {
            errno = ECHILD;
            return -1;
        }
        size_t sl = len - (size_t)(bar - op) - 1;
        if (sl == 0) {
            errno = EINVAL;
            return -1;
        }
        if (cmd->nsub) {
            const cb_command *sub = command_lookup_fullname(op + 1, len - 1);
            if (!sub) {
                errno = ENOENT;
                return -1;
            }
            change_perm(s, sub, 1);
        } else {
            fa_add(s, cmd->id, bar + 1, sl);
        }
    } else {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- users */

static cb_acl_user *user_new(const char *name, size_t nl) {
    cb_acl_user *u = cb_calloc(sizeof(*u));
    u->name = cb_malloc(nl + 1);
    memcpy(u->name, name, nl);
    u->name[nl] = '\0';
    u->namelen = nl;
    u->flags = USER_OFF;
    sel_init(&u->root, SEL_ROOT);
    return u;
}

static void user_clear(cb_acl_user *u) {
    sel_free(&u->root);
    for (int i = 0; i < u->nsel; i++) sel_free(&u->sel[i]);
    cb_free(u->sel);
    u->sel = NULL;
    u->nsel = 0;
    cb_free(u->pw);
    u->pw = NULL;
    u->npw = 0;
}

static void user_free(cb_acl_user *u) {
    user_clear(u);
    cb_free(u->name);
    cb_free(u);
}

static cb_acl_user *user_dup(const cb_acl_user *src) {
    cb_acl_user *u = cb_calloc(sizeof(*u));
    u->name = cb_memdup(src->name, src->namelen);
    u->namelen = src->namelen;
    u->flags = src->flags;
    if (src->npw) u->pw = (char (*)[65])cb_memdup(src->pw, sizeof(*u->pw) * (size_t)src->npw);
    u->npw = src->npw;
    sel_copy(&u->root, &src->root);
    if (src->nsel) u->sel = cb_malloc(sizeof(selector) * (size_t)src->nsel);
    for (int i = 0; i < src->nsel; i++) sel_copy(&u->sel[i], &src->sel[i]);
    u->nsel = src->nsel;
    return u;
}

/* Move the contents of src into dst (same name), freeing dst's old ones. */
static void user_take(cb_acl_user *dst, cb_acl_user *src) {
    user_clear(dst);
    dst->flags = src->flags;
    dst->pw = src->pw;
    dst->npw = src->npw;
    dst->root = src->root;
    dst->sel = src->sel;
    dst->nsel = src->nsel;
    cb_free(src->name);
    cb_free(src);
}

static int is_hex64(const char *p, size_t n) {
    if (n != 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return 0;
    return 1;
}

static void pw_add(cb_acl_user *u, const char *hex) {
    for (int i = 0; i < u->npw; i++)
        if (!memcmp(u->pw[i], hex, 64)) return;
    u->pw = cb_realloc(u->pw, sizeof(*u->pw) * (size_t)(u->npw + 1));
    memcpy(u->pw[u->npw++], hex, 65);
}

static int pw_del(cb_acl_user *u, const char *hex) {
    for (int i = 0; i < u->npw; i++) {
        if (!memcmp(u->pw[i], hex, 64)) {
            memmove(u->pw[i], u->pw[i + 1], sizeof(*u->pw) * (size_t)(u->npw - i - 1));
            u->npw--;
            return 0;
        }
    }
    return -1;
}

/* Split a "(...)" selector body on spaces (quotes are not special here). */
static int selector_from_text(selector *s, const char *p, size_t n) {
    sel_init(s, 0);
    size_t i = 0;
    while (i < n) {
        while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
        size_t st = i;
        while (i < n && p[i] != ' ' && p[i] != '\t') i++;
        if (i > st && sel_apply(s, p + st, i - st) != 0) {
            int e = errno;
            sel_free(s);
            errno = e;
            return -1;
        }
    }
    return 0;
}

/* Apply one user rule; 0 ok, else -1 with errno. */
static int user_apply(cb_acl_user *u, const char *op, size_t len) {
    if (len == 0) {
        return 0; /* Redis accepts an empty rule and does nothing */
    } else if (util_eq_nocase(op, len, "on")) {
        u->flags |= USER_ON;
        u->flags &= ~USER_OFF;
    } else if (util_eq_nocase(op, len, "off")) {
        u->flags |= USER_OFF;
        u->flags &= ~USER_ON;
    } else if (util_eq_nocase(op, len, "skip-sanitize-payload")) {
        u->flags |= USER_SKIP_SANITIZE;
        u->flags &= ~USER_SANITIZE;
    } else if (util_eq_nocase(op, len, "sanitize-payload")) {
        u->flags &= ~USER_SKIP_SANITIZE;
        u->flags |= USER_SANITIZE;
    } else if (util_eq_nocase(op, len, "nopass")) {
        u->flags |= USER_NOPASS;
        u->npw = 0;
    } else if (util_eq_nocase(op, len, "resetpass")) {
        u->flags &= ~USER_NOPASS;
        u->npw = 0;
    } else if (len && (op[0] == '>' || op[0] == '#')) {
        char hex[65];
        if (op[0] == '>') {
            sha256_hex(op + 1, len - 1, hex);
        } else {
            if (!is_hex64(op + 1, len - 1)) {
                errno = EBADMSG;
                return -1;
            }
            memcpy(hex, op + 1, 64);
            hex[64] = '\0';
        }
        pw_add(u, hex);
        u->flags &= ~USER_NOPASS;
    } else if (len && (op[0] == '<' || op[0] == '!')) {
        char hex[65];
        if (op[0] == '<') {
            sha256_hex(op + 1, len - 1, hex);
        } else {
            if (!is_hex64(op + 1, len - 1)) {
                errno = EBADMSG;
                return -1;
            }
            memcpy(hex, op + 1, 64);
            hex[64] = '\0';
        }
        if (pw_del(u, hex) != 0) {
            errno = ENODEV;
            return -1;
        }
    } else if (len >= 2 && op[0] == '(' && op[len - 1] == ')') {
        selector s;
        if (selector_from_text(&s, op + 1, len - 2) != 0) return -1;
        u->sel = cb_realloc(u->sel, sizeof(selector) * (size_t)(u->nsel + 1));
        u->sel[u->nsel++] = s;
    } else if (util_eq_nocase(op, len, "clearselectors")) {
        for (int i = 0; i < u->nsel; i++) sel_free(&u->sel[i]);
        cb_free(u->sel);
        u->sel = NULL;
        u->nsel = 0;
    } else if (util_eq_nocase(op, len, "reset")) {
        user_apply(u, "resetpass", 9);
        user_apply(u, "resetkeys", 9);
        user_apply(u, "resetchannels", 13);
        if (g_config.acl_pubsub_default) user_apply(u, "allchannels", 11);
        user_apply(u, "off", 3);
        user_apply(u, "sanitize-payload", 16);
        user_apply(u, "clearselectors", 14);
        user_apply(u, "-@all", 5);
    } else {
        return sel_apply(&u->root, op, len);
    }
    return 0;
}

static const char *errno_text(int e) {
    switch (e) {
    case ENOENT: return "Unknown command or category name in ACL";
    case EINVAL: return "Syntax error";
    case EEXIST:
        return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and "
               "does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
    case EISDIR:
        return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid "
               "and does not have any effect. Try 'resetchannels' to start with an empty list "
               "of channels";
    case ENODEV: return "The password you are trying to remove from the user does not exist";
    case EBADMSG:
        return "The password hash must be exactly 64 characters and contain only lowercase "
               "hexadecimal characters";
    case EALREADY:
        return "Duplicate user found. A user can only be defined once in config files";
    case ECHILD: return "Allowing first-arg of a subcommand is not supported";
    default: return "Unknown error";
    }
}

/* ----------------------------------------------------------- user table */

static int find_pos(const char *name, size_t nl, int *found) {
    int lo = 0, hi = A.n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        const cb_acl_user *u = A.users[mid];
        size_t m = u->namelen < nl ? u->namelen : nl;
        int r = memcmp(u->name, name, m);
        if (r == 0) r = (u->namelen > nl) - (u->namelen < nl);
        if (r == 0) {
            *found = 1;
            return mid;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

cb_acl_user *acl_lookup_user(const char *name, size_t len) {
    int found;
    int pos = find_pos(name, len, &found);
    return found ? A.users[pos] : NULL;
}

static void table_insert(cb_acl_user *u) {
    int found;
    int pos = find_pos(u->name, u->namelen, &found);
    if (A.n == A.cap) {
        A.cap = A.cap ? A.cap * 2 : 8;
        A.users = cb_realloc(A.users, sizeof(*A.users) * (size_t)A.cap);
    }
    memmove(A.users + pos + 1, A.users + pos, sizeof(*A.users) * (size_t)(A.n - pos));
    A.users[pos] = u;
    A.n++;
}

static void table_remove(cb_acl_user *u) {
    int found;
    int pos = find_pos(u->name, u->namelen, &found);
    if (!found) return;
    memmove(A.users + pos, A.users + pos + 1, sizeof(*A.users) * (size_t)(A.n - pos - 1));
    A.n--;
    if (A.ngrave == A.gravecap) {
        A.gravecap = A.gravecap ? A.gravecap * 2 : 8;
        A.grave = cb_realloc(A.grave, sizeof(*A.grave) * (size_t)A.gravecap);
    }
    A.grave[A.ngrave++] = u;
}

int acl_user_count(void) { return A.n; }
cb_acl_user *acl_user_at(int i) { return A.users[i]; }
cb_acl_user *acl_default_user(void) { return A.dflt; }
const char *acl_user_name(const cb_acl_user *u) { return u ? u->name : "default"; }

int acl_default_nopass(void) { return A.dflt && (A.dflt->flags & USER_NOPASS); }

int acl_new_client_authenticated(void) {
    return A.dflt && (A.dflt->flags & USER_NOPASS) && (A.dflt->flags & USER_ON);
}

/* Apply rules to a copy; 0 and *out the new user, else -1 with *err. */
static int rules_to_copy(cb_acl_user *base, int argc, const char *const *argv,
                         const size_t *lens, cb_acl_user **out, char **err) {
    cb_acl_user *u = base;
    for (int i = 0; i < argc; i++) {
        if (user_apply(u, argv[i], lens[i]) != 0) {
            char buf[1024];
            snprintf(buf, sizeof(buf), "Error in ACL SETUSER modifier '%.*s': %s",
                     (int)(lens[i] > 512 ? 512 : lens[i]), argv[i], errno_text(errno));
            *err = cb_strdup(buf);
            return -1;
        }
    }
    *out = u;
    return 0;
}

static int name_ok(const char *name, size_t nl) {
    for (size_t i = 0; i < nl; i++)
        if (name[i] == ' ' || name[i] == '\0') return 0;
    return 1;
}

int acl_setuser(const char *name, size_t nl, int argc, const char *const *argv,
                const size_t *lens, char **err) {
    if (!name_ok(name, nl)) {
        *err = cb_strdup("Usernames can't contain spaces or null characters");
        return -1;
    }
    cb_acl_user *old = acl_lookup_user(name, nl);
    cb_acl_user *tmp = old ? user_dup(old) : user_new(name, nl);
    cb_acl_user *res;
    if (rules_to_copy(tmp, argc, argv, lens, &res, err) != 0) {
        user_free(tmp);
        return -1;
    }
    if (old)
        user_take(old, tmp);
    else
        table_insert(tmp);
    return 0;
}

void acl_kill_clients_of(cb_client *me, const cb_acl_user *u) {
    for (int wi = 0; wi < g_server.nworkers; wi++) {
        cb_client *next;
        for (cb_client *t = g_server.workers[wi]->clients; t; t = next) {
            next = t->next;
            if (t->user != u || (t->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSED))) continue;
            if (t == me)
                me->flags |= CLIENT_CLOSE_AFTER_REPLY;
            else
                conn_close_async(t);
        }
    }
}

typedef struct subcheck {
    const cb_acl_user *u;
    int denied;
} subcheck;

/* A subscription the new rules no longer allow: note it, stop the walk. */
static int sub_denied(void *arg, const char *name, size_t len, int is_pattern) {
    subcheck *sc = arg;
    if (chan_allowed(&sc->u->root, name, len, is_pattern)) return 0;
    for (int i = 0; i < sc->u->nsel; i++)
        if (chan_allowed(&sc->u->sel[i], name, len, is_pattern)) return 0;
    sc->denied = 1;
    return 1;
}

void acl_kill_pubsub_if_needed(cb_client *me, const cb_acl_user *u) {
    if (u->root.flags & SEL_ALLCHANNELS) return;
    for (int i = 0; i < u->nsel; i++)
        if (u->sel[i].flags & SEL_ALLCHANNELS) return;
    for (int wi = 0; wi < g_server.nworkers; wi++) {
        cb_client *next;
        for (cb_client *t = g_server.workers[wi]->clients; t; t = next) {
            next = t->next;
            if (t->user != u || (t->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSED))) continue;
            subcheck sc = {u, 0};
            pubsub_client_each(t, sub_denied, &sc);
            if (!sc.denied) continue;
            if (t == me)
                me->flags |= CLIENT_CLOSE_AFTER_REPLY;
            else
                conn_close_async(t);
        }
    }
}

int acl_deluser(cb_client *c, const char *name, size_t nl) {
    cb_acl_user *u = acl_lookup_user(name, nl);
    if (!u) return 0;
    acl_kill_clients_of(c, u);
    table_remove(u);
    return 1;
}

void acl_set_requirepass(const char *pass) {
    if (!A.dflt) return;
    cb_acl_user *u = A.dflt;
    u->npw = 0;
    if (pass && pass[0]) {
        char hex[65];
        sha256_hex(pass, strlen(pass), hex);
        pw_add(u, hex);
        u->flags &= ~USER_NOPASS;
    } else {
        u->flags |= USER_NOPASS;
    }
}

/* --------------------------------------------------------- authenticate */

static int pw_matches(const cb_acl_user *u, const char *pass, size_t pl) {
    if (u->flags & USER_NOPASS) return 1;
    char hex[65];
    sha256_hex(pass, pl, hex);
    int ok = 0;
    for (int i = 0; i < u->npw; i++) {
        /* Compare every byte so the time says nothing of where it differs. */
        unsigned diff = 0;
        for (int j = 0; j < 64; j++) diff |= (unsigned)(hex[j] ^ u->pw[i][j]);
        ok |= diff == 0;
    }
    return ok;
}

int acl_authenticate(cb_client *c, const char *user, size_t ul, const char *pass, size_t pl) {
    cb_acl_user *u = acl_lookup_user(user, ul);
    if (u && (u->flags & USER_ON) && pw_matches(u, pass, pl)) {
        c->user = u;
        c->authenticated = 1;
        return 0;
    }
    acl_log_denial(c, ACL_DENIED_AUTH, (c->flags & CLIENT_MULTI) ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL,
                   0, NULL, user, ul);
    return -1;
}

/* --------------------------------------------------------------- checks */

static int key_allowed(const selector *s, const char *k, size_t kl, uint32_t ksflags) {
    if (s->flags & SEL_ALLKEYS) return 1;
    int need = 0;
    if (ksflags & KS_ACCESS) need |= ACL_READ;
    if (ksflags & (KS_INSERT | KS_DELETE | KS_UPDATE)) need |= ACL_WRITE;
    for (int i = 0; i < s->nkeys; i++) {
        if ((s->keys[i].flags & need) != need) continue;
        if (util_globmatch(s->keys[i].pat, s->keys[i].len, k, kl, 0)) return 1;
    }
    return 0;
}

static int chan_allowed(const selector *s, const char *ch, size_t cl, int is_pattern) {
    if (s->flags & SEL_ALLCHANNELS) return 1;
    for (int i = 0; i < s->nchans; i++) {
        if (is_pattern) {
            if (s->chanlen[i] == cl && !memcmp(s->chans[i], ch, cl)) return 1;
        } else if (util_globmatch(s->chans[i], s->chanlen[i], ch, cl, 0)) {
            return 1;
        }
    }
    return 0;
}

/* Channel arguments: first index, last (-1 = to the end), pattern flag. */
static int channel_args(const cb_command *cmd, int argc, int *first, int *last, int *pattern) {
    if (!(cmd->flags & CMD_PUBSUB)) return 0;
    const char *n = cmd->name;
    *first = 1;
    *pattern = 0;
    if (!strcmp(n, "publish") || !strcmp(n, "spublish")) {
        *last = 1;
    } else if (!strcmp(n, "subscribe") || !strcmp(n, "ssubscribe")) {
        *last = argc - 1;
    } else if (!strcmp(n, "psubscribe")) {
        *last = argc - 1;
        *pattern = 1;
    } else {
        return 0;
    }
    return 1;
}

#define STACK_KEYS 32

static int sel_check(const selector *s, const cb_command *cmd, int argc, const char *const *argv,
                     const size_t *lens, int *errpos) {
    if (!(s->flags & SEL_ALLCOMMANDS) && !(cmd->flags & CMD_NO_AUTH) && !bit_get(s, cmd->id)) {
        int ok = 0;
        if (argc >= 2 && s->fa && s->fa[cmd->id].v) {
            const firstargs *f = &s->fa[cmd->id];
            for (int i = 0; i < f->n && !ok; i++)
                ok = util_eq_nocase(argv[1], lens[1], f->v[i]);
        }
        if (!ok) {
            *errpos = 0;
            return ACL_DENIED_CMD;
        }
    }
    if (!(s->flags & SEL_ALLKEYS) && command_has_keys(cmd)) {
        int stack_idx[STACK_KEYS];
        uint32_t stack_fl[STACK_KEYS];
        int *idx = stack_idx;
        uint32_t *fl = stack_fl;
        int nk = command_get_keys(cmd, argc, argv, lens, idx, fl, STACK_KEYS);
        if (nk > STACK_KEYS) {
            idx = cb_malloc(sizeof(int) * (size_t)nk);
            fl = cb_malloc(sizeof(uint32_t) * (size_t)nk);
            nk = command_get_keys(cmd, argc, argv, lens, idx, fl, nk);
        }
        int denied = -1;
        for (int i = 0; i < nk && denied < 0; i++)
            if (!key_allowed(s, argv[idx[i]], lens[idx[i]], fl[i])) denied = idx[i];
        if (idx != stack_idx) {
            cb_free(idx);
            cb_free(fl);
        }
        if (denied >= 0) {
            *errpos = denied;
            return ACL_DENIED_KEY;
        }
    }
    int first, last, pattern;
    if (!(s->flags & SEL_ALLCHANNELS) && channel_args(cmd, argc, &first, &last, &pattern)) {
        for (int i = first; i <= last && i < argc; i++) {
            if (!chan_allowed(s, argv[i], lens[i], pattern)) {
                *errpos = i;
                return ACL_DENIED_CHANNEL;
            }
        }
    }
    return ACL_OK;
}

int acl_check(const cb_acl_user *u, const cb_command *cmd, int argc, const char *const *argv,
              const size_t *lens, int *errpos) {
    int pos = 0;
    int rc = sel_check(&u->root, cmd, argc, argv, lens, &pos);
    if (rc == ACL_OK) return ACL_OK;
    int best = rc, bestpos = pos;
    for (int i = 0; i < u->nsel; i++) {
        rc = sel_check(&u->sel[i], cmd, argc, argv, lens, &pos);
        if (rc == ACL_OK) return ACL_OK;
        if (rc > best || (rc == best && pos > bestpos)) {
            best = rc;
            bestpos = pos;
        }
    }
    *errpos = bestpos;
    return best;
}

int acl_check_client(const cb_client *c, const cb_command *cmd, int *errpos) {
    const cb_acl_user *u = c->user ? c->user : A.dflt;
    const selector *r = &u->root;
    unsigned all = SEL_ALLCOMMANDS | SEL_ALLKEYS | SEL_ALLCHANNELS;
    if ((r->flags & all) == all) return ACL_OK; /* the common case: no lookup at all */
    return acl_check(u, cmd, c->argc, c->argv, c->argv_len, errpos);
}

void acl_denial_message(int reason, const cb_command *cmd, char *msg, size_t len) {
    switch (reason) {
    case ACL_DENIED_CMD:
        snprintf(msg, len, "-NOPERM this user has no permissions to run the '%s' command",
                 command_fullname(cmd));
        break;
    case ACL_DENIED_KEY:
        snprintf(msg, len, "-NOPERM this user has no permissions to access one of the keys "
                           "used as arguments");
        break;
    case ACL_DENIED_CHANNEL:
        snprintf(msg, len, "-NOPERM this user has no permissions to access one of the "
                           "channels used as arguments");
        break;
    default:
        snprintf(msg, len, "-NOPERM no permission");
        break;
    }
}

/* --------------------------------------------------------- descriptions */

static int can_run_future(const selector *s) { return bit_get(s, A.nids); }

static void count_category(const selector *s, const cb_command *cmd, uint64_t cat, long *on,
                           long *off) {
    if (cmd->acl_categories & cat) {
        if (bit_get(s, cmd->id))
            (*on)++;
        else
            (*off)++;
    }
    for (int i = 0; i < cmd->nsub; i++) count_category(s, &cmd->subcommands[i], cat, on, off);
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 128;
        while (cap < b->len + n + 1) cap *= 2;
        b->p = cb_realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void describe_singles(const selector *s, selector *fake, const cb_command *cmd, sbuf *b) {
    int ub = bit_get(s, cmd->id), fb = bit_get(fake, cmd->id);
    if (ub != fb) {
        sb_str(b, ub ? "+" : "-");
        sb_str(b, command_fullname(cmd));
        sb_str(b, " ");
        change_perm(fake, cmd, ub);
    }
    for (int i = 0; i < cmd->nsub; i++) describe_singles(s, fake, &cmd->subcommands[i], b);
    if (!ub && s->fa && s->fa[cmd->id].v) {
        for (int j = 0; j < s->fa[cmd->id].n; j++) {
            sb_str(b, "+");
            sb_str(b, command_fullname(cmd));
            sb_str(b, "|");
            sb_str(b, s->fa[cmd->id].v[j]);
            sb_str(b, " ");
        }
    }
}

/* Command rules (no trailing space), appended to b. */
static void describe_commands(const selector *s, sbuf *b) {
    selector fake;
    sel_init(&fake, 0);
    int additive = !can_run_future(s);
    size_t start = b->len;
    sb_str(b, additive ? "-@all " : "+@all ");
    set_all(&fake, !additive);
    /* Greedy, as Redis 7.0: each round takes the category that contradicts
     * the user's bits least (ties: the one that explains most), among those
     * that explain more than they contradict, weighed on temp — the user's
     * bits with every category taken so far undone. */
    selector temp;
    sel_init(&temp, 0);
    memcpy(temp.bits, s->bits, sizeof(uint64_t) * (size_t)A.words);
    for (;;) {
        int best = -1;
        long mindiff = -1, maxsame = 0;
        for (int j = 0; acl_category_names[j]; j++) {
            long on = 0, off = 0;
            for (int i = 0; i < command_count(); i++)
                count_category(&temp, command_at(i), 1ull << j, &on, &off);
            long diff = additive ? off : on, same = additive ? on : off;
            if (same > diff && (mindiff < 0 || diff < mindiff || (diff == mindiff && same > maxsame))) {
                best = j;
                mindiff = diff;
                maxsame = same;
            }
        }
        if (best < 0) break;
        sb_str(b, additive ? "+@" : "-@");
        sb_str(b, acl_category_names[best]);
        sb_str(b, " ");
        for (int i = 0; i < command_count(); i++) {
            set_category(&fake, command_at(i), 1ull << best, additive);
            set_category(&temp, command_at(i), 1ull << best, !additive);
        }
    }
    for (int i = 0; i < command_count(); i++) describe_singles(s, &fake, command_at(i), b);
    sel_free(&fake);
    sel_free(&temp);
    if (b->len > start) b->p[--b->len] = '\0'; /* the last space */
}

static void describe_keys(const selector *s, sbuf *b, int for_list) {
    if (s->flags & SEL_ALLKEYS) {
        sb_str(b, for_list ? "~* " : "~*");
        return;
    }
    for (int i = 0; i < s->nkeys; i++) {
        if (i && !for_list) sb_str(b, " ");
        const keypat *k = &s->keys[i];
        sb_str(b, k->flags == ACL_RW ? "~" : k->flags == ACL_READ ? "%R~" : "%W~");
        sb_add(b, k->pat, k->len);
        if (for_list) sb_str(b, " ");
    }
}

static void describe_chans(const selector *s, sbuf *b, int for_list) {
    if (s->flags & SEL_ALLCHANNELS) {
        sb_str(b, for_list ? "&* " : "&*");
        return;
    }
    if (for_list) sb_str(b, "resetchannels ");
    for (int i = 0; i < s->nchans; i++) {
        if (i && !for_list) sb_str(b, " ");
        sb_str(b, "&");
        sb_add(b, s->chans[i], s->chanlen[i]);
        if (for_list) sb_str(b, " ");
    }
}

static void describe_selector(const selector *s, sbuf *b) {
    describe_keys(s, b, 1);
    describe_chans(s, b, 1);
    describe_commands(s, b);
}

char *acl_describe_user(const cb_acl_user *u) {
    sbuf b = {0};
    sb_str(&b, "user ");
    sb_add(&b, u->name, u->namelen);
    sb_str(&b, " ");
    for (int j = 0; user_flag_names[j].name; j++) {
        if (u->flags & user_flag_names[j].flag) {
            sb_str(&b, user_flag_names[j].name);
            sb_str(&b, " ");
        }
    }
    for (int i = 0; i < u->npw; i++) {
        sb_str(&b, "#");
        sb_add(&b, u->pw[i], 64);
        sb_str(&b, " ");
    }
    describe_selector(&u->root, &b);
    for (int i = 0; i < u->nsel; i++) {
        sb_str(&b, " (");
        describe_selector(&u->sel[i], &b);
        sb_str(&b, ")");
    }
    return b.p;
}

static void reply_selector(cb_client *c, const selector *s) {
    sbuf b = {0};
    sb_str(&b, "");
    reply_bulk_cstr(c, "commands");
    describe_commands(s, &b);
    reply_bulk(c, b.p, b.len);
    b.len = 0;
    b.p[0] = '\0';
    reply_bulk_cstr(c, "keys");
    describe_keys(s, &b, 0);
    reply_bulk(c, b.p, b.len);
    b.len = 0;
    b.p[0] = '\0';
    reply_bulk_cstr(c, "channels");
    describe_chans(s, &b, 0);
    reply_bulk(c, b.p, b.len);
    cb_free(b.p);
}

void acl_reply_getuser(cb_client *c, const cb_acl_user *u) {
    reply_map_len(c, 6);
    reply_bulk_cstr(c, "flags");
    int nf = 0;
    for (int j = 0; user_flag_names[j].name; j++)
        if (u->flags & user_flag_names[j].flag) nf++;
    reply_set_len(c, nf);
    for (int j = 0; user_flag_names[j].name; j++)
        if (u->flags & user_flag_names[j].flag) reply_bulk_cstr(c, user_flag_names[j].name);
    reply_bulk_cstr(c, "passwords");
    reply_array_len(c, u->npw);
    for (int i = 0; i < u->npw; i++) reply_bulk(c, u->pw[i], 64);
    reply_selector(c, &u->root);
    reply_bulk_cstr(c, "selectors");
    reply_array_len(c, u->nsel);
    for (int i = 0; i < u->nsel; i++) {
        reply_map_len(c, 3);
        reply_selector(c, &u->sel[i]);
    }
}

/* ------------------------------------------------------------ aclfile */

/* Split one aclfile line on spaces; quotes are not special in Redis's
 * aclfile. Returns the word count; words point into line (NUL-ended). */
static int split_words(char *line, char ***out) {
    int n = 0, cap = 8;
    char **v = cb_malloc(sizeof(char *) * (size_t)cap);
    char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\r') *p++ = '\0';
        if (!*p) break;
        if (n == cap) {
            cap *= 2;
            v = cb_realloc(v, sizeof(char *) * (size_t)cap);
        }
        v[n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r') p++;
    }
    *out = v;
    return n;
}

/* Parse a whole aclfile into a fresh sorted user set; NULL and *err on
 * the first bad line (Redis names the line and the reason). */
static int parse_aclfile(const char *text, cb_acl_user ***set, int *nset, char **err) {
    cb_acl_user **users = NULL;
    int n = 0;
    char *copy = cb_strdup(text);
    char *p = copy;
    int linenum = 0;
    char msg[1024];
    msg[0] = '\0';
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        linenum++;
        char **w;
        int nw = split_words(p, &w);
        p = nl ? nl + 1 : NULL;
        if (nw == 0) {
            cb_free(w);
            continue;
        }
        if (strcmp(w[0], "user") || nw < 2) {
            snprintf(msg, sizeof(msg), "/%d: line should start with user keyword", linenum);
            cb_free(w);
            break;
        }
        if (!name_ok(w[1], strlen(w[1]))) {
            snprintf(msg, sizeof(msg), "%d: Usernames can't contain spaces or null characters",
                     linenum);
            cb_free(w);
            break;
        }
        int dup = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(users[i]->name, w[1])) dup = 1;
        if (dup) {
            snprintf(msg, sizeof(msg), "%d: Duplicate user '%s' found", linenum, w[1]);
            cb_free(w);
            break;
        }
        cb_acl_user *u = user_new(w[1], strlen(w[1]));
        int bad = 0;
        /* Selector words may have been split: join "(" ... ")" back. */
        for (int i = 2; i < nw && !bad; i++) {
            if (w[i][0] == '(' && w[i][strlen(w[i]) - 1] != ')') {
                sbuf b = {0};
                sb_str(&b, w[i]);
                int j = i + 1;
                for (; j < nw; j++) {
                    sb_str(&b, " ");
                    sb_str(&b, w[j]);
                    if (w[j][strlen(w[j]) - 1] == ')') break;
                }
                if (j == nw) {
                    snprintf(msg, sizeof(msg), "%d: Unmatched parenthesis in acl selector "
                             "starting at '%s'.", linenum, w[i]);
                    bad = 1;
                } else if (user_apply(u, b.p, b.len) != 0) {
                    snprintf(msg, sizeof(msg), "%d: %s. ", linenum, errno_text(errno));
                    bad = 1;
                }
                cb_free(b.p);
                i = j;
                continue;
            }
            if (user_apply(u, w[i], strlen(w[i])) != 0) {
                snprintf(msg, sizeof(msg), "%d: %s. ", linenum, errno_text(errno));
                bad = 1;
            }
        }
        cb_free(w);
        if (bad) {
            user_free(u);
            break;
        }
        users = cb_realloc(users, sizeof(*users) * (size_t)(n + 1));
        users[n++] = u;
    }
    cb_free(copy);
    if (msg[0]) {
        for (int i = 0; i < n; i++) user_free(users[i]);
        cb_free(users);
        *err = cb_strdup(msg);
        return -1;
    }
    *set = users;
    *nset = n;
    return 0;
}

static char *read_file(const char *path, char **err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        char msg[512];
        snprintf(msg, sizeof(msg), "Error loading ACLs, opening file '%s': %s", path,
                 strerror(errno));
        *err = cb_strdup(msg);
        return NULL;
    }
    sbuf b = {0};
    sb_str(&b, "");
    char buf[4096];
    size_t r;
    while ((r = fread(buf, 1, sizeof(buf), f)) > 0) sb_add(&b, buf, r);
    fclose(f);
    return b.p;
}

int acl_load_file(const char *path, cb_client *c, char **err) {
    char *text = read_file(path, err);
    if (!text) return -1;
    cb_acl_user **set;
    int n;
    int rc = parse_aclfile(text, &set, &n, err);
    cb_free(text);
    if (rc != 0) return -1;
    /* The new set replaces every user; the default user keeps its identity
     * (clients point at it) and takes the file's rules, or is reset to
     * "on nopass ~* &* +@all" when the file does not name it. Clients of
     * every other user are disconnected. */
    cb_acl_user *newdef = NULL;
    for (int i = 0; i < n; i++)
        if (!strcmp(set[i]->name, "default")) newdef = set[i];
    int nold = A.n;
    cb_acl_user **old = (cb_acl_user **)cb_memdup(A.users, sizeof(*A.users) * (size_t)(nold ? nold : 1));
    A.n = 0;
    for (int i = 0; i < nold; i++) {
        if (old[i] == A.dflt) continue;
        if (c) acl_kill_clients_of(c, old[i]);
        table_insert(old[i]);
        table_remove(old[i]); /* to the graveyard */
    }
    cb_free(old);
    for (int i = 0; i < n; i++) {
        if (set[i] == newdef) continue;
        table_insert(set[i]);
    }
    if (newdef) {
        user_take(A.dflt, newdef);
    } else {
        cb_acl_user *d = user_new("default", 7);
        static const char *const rules[] = {"+@all", "~*", "&*", "on", "nopass"};
        for (int i = 0; i < 5; i++) user_apply(d, rules[i], strlen(rules[i]));
        user_take(A.dflt, d);
    }
    table_insert(A.dflt);
    cb_free(set);
    return 0;
}

int acl_save_file(const char *path, char **err) {
    sbuf b = {0};
    sb_str(&b, "");
    for (int i = 0; i < A.n; i++) {
        char *d = acl_describe_user(A.users[i]);
        sb_str(&b, d);
        sb_str(&b, "\n");
        cb_free(d);
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f && fwrite(b.p, 1, b.len, f) == b.len;
    if (f && fflush(f) != 0) ok = 0;
    if (f && fsync(fileno(f)) != 0) ok = 0;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) != 0) ok = 0;
    cb_free(b.p);
    if (!ok) {
        char msg[512];
        snprintf(msg, sizeof(msg), "There was an error trying to save the ACLs. Please check "
                                   "the server logs for more information");
        unlink(tmp);
        *err = cb_strdup(msg);
        return -1;
    }
    return 0;
}

/* ----------------------------------------------------------- lifecycle */

/* CONFIG REWRITE's "user" lines: every user, unless they live in aclfile. */
static char **rewrite_user_lines(int *n) {
    *n = 0;
    if (g_config.aclfile && g_config.aclfile[0]) return NULL;
    char **v = cb_malloc(sizeof(char *) * (size_t)(A.n ? A.n : 1));
    for (int i = 0; i < A.n; i++) v[(*n)++] = acl_describe_user(A.users[i]);
    return v;
}

int acl_init(char *err, size_t errlen) {
    config_set_user_lines_provider(rewrite_user_lines);
    A.nids = command_ids();
    A.words = (A.nids + 1 + 63) / 64;
    cb_acl_user *d = user_new("default", 7);
    static const char *const rules[] = {"+@all", "~*", "&*", "on", "nopass"};
    for (int i = 0; i < 5; i++) user_apply(d, rules[i], strlen(rules[i]));
    A.dflt = d;
    table_insert(d);
    acl_set_requirepass(g_config.requirepass);
    int nd = config_deferred_count("user");
    if (nd && g_config.aclfile && g_config.aclfile[0]) {
        snprintf(err, errlen, "Configuring Redis with users defined in redis.conf and at the "
                              "same setting an ACL file path is invalid. This setup is very "
                              "likely to lead to configuration errors and security holes, "
                              "please define either an ACL file or declare users directly in "
                              "your redis.conf, but not both.");
        return -1;
    }
    for (int i = 0; i < nd; i++) {
        int argc;
        char *const *argv = config_deferred_at("user", i, &argc);
        if (argc < 1) continue;
        for (int j = 0; j < i; j++) {
            int ac2;
            char *const *av2 = config_deferred_at("user", j, &ac2);
            if (ac2 >= 1 && !strcmp(av2[0], argv[0]) && strcmp(argv[0], "default")) {
                snprintf(err, errlen, "Error in user declaration '%s': %s", argv[0],
                         errno_text(EALREADY));
                return -1;
            }
        }
        if (!strcmp(argv[0], "default")) {
            /* The configured default user replaces the built-in one. */
            cb_acl_user *d = A.dflt;
            user_apply(d, "reset", 5);
        }
        size_t lens[256];
        int nr = argc - 1 > 256 ? 256 : argc - 1;
        for (int j = 0; j < nr; j++) lens[j] = strlen(argv[1 + j]);
        char *e = NULL;
        if (acl_setuser(argv[0], strlen(argv[0]), nr, (const char *const *)argv + 1, lens, &e)) {
            snprintf(err, errlen, "Error in user declaration '%s': %s", argv[0], e);
            cb_free(e);
            return -1;
        }
    }
    if (g_config.aclfile && g_config.aclfile[0]) {
        char *e = NULL;
        if (acl_load_file(g_config.aclfile, NULL, &e) != 0) {
            snprintf(err, errlen, "%s", e);
            cb_free(e);
            return -1;
        }
    }
    return 0;
}

void acl_shutdown(void) {
    for (int i = 0; i < A.n; i++) user_free(A.users[i]);
    for (int i = 0; i < A.ngrave; i++) user_free(A.grave[i]);
    cb_free(A.users);
    cb_free(A.grave);
    A.users = A.grave = NULL;
    A.n = A.cap = A.ngrave = A.gravecap = 0;
    A.dflt = NULL;
    acl_log_free();
}
