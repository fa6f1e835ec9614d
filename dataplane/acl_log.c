/* acl_log.c — ACL LOG (see acl.h): the newest denials first, each a
 * count, reason, context, object, username, age and the client's CLIENT
 * LIST line. A denial like one of the 10 newest within 60 seconds updates
 * that entry, as Redis 7.0 does. Any worker appends, so the log has its own
 * mutex; it is never on the path of an allowed command.
 */
#include <pthread.h>
#include <string.h>

#include "acl.h"
#include "resp/reply.h"
#include "../platform/config.h"
#include "../platform/mem.h"
#include "../platform/util.h"

typedef struct logentry {
    long long count;
    int reason, context;
    char *object, *username, *cinfo;
    long long ctime_ms;
} logentry;

static struct {
    pthread_mutex_t mu;
    logentry *v; /* newest first */
    int n, cap;
} L = {.mu = PTHREAD_MUTEX_INITIALIZER};

static const char *const reason_names[] = {"", "command", "key", "auth", "channel"};
static const char *const context_names[] = {"toplevel", "multi", "lua"};

#define LOG_GROUP_MS 60000

static void log_add(cb_client *c, int reason, int context, const char *obj, size_t ol,
                    const char *user, size_t ul);

void acl_log_denial_in_script(cb_client *caller, int reason, const cb_command *cmd,
                              const char *const *argv, const size_t *lens, int errpos) {
    const char *obj = reason == ACL_DENIED_CMD ? command_fullname(cmd) : argv[errpos];
    size_t ol = reason == ACL_DENIED_CMD ? strlen(obj) : lens[errpos];
    const char *user = acl_user_name(caller->user);
    log_add(caller, reason, ACL_CTX_LUA, obj, ol, user, strlen(user));
}

void acl_log_denial(cb_client *c, int reason, int context, int errpos, const cb_command *cmd,
                    const char *user, size_t ul) {
    const char *obj;
    size_t ol;
    char up[32];
    if (reason == ACL_DENIED_AUTH) {
        /* Redis names the command that authenticated: AUTH or HELLO. */
        const char *n = c->cmd ? c->cmd->name : "auth";
        for (ol = 0; n[ol] && ol < sizeof(up) - 1; ol++)
            up[ol] = (char)(n[ol] >= 'a' && n[ol] <= 'z' ? n[ol] - 32 : n[ol]);
        up[ol] = '\0';
        obj = up;
    } else if (reason == ACL_DENIED_CMD) {
        obj = command_fullname(cmd);
        ol = strlen(obj);
    } else {
        obj = c->argv[errpos];
        ol = c->argv_len[errpos];
    }
    if (!user) {
        user = acl_user_name(c->user);
        ul = strlen(user);
    }
    log_add(c, reason, context, obj, ol, user, ul);
}

static void log_add(cb_client *c, int reason, int context, const char *obj, size_t ol,
                    const char *user, size_t ul) {
    char *cinfo = client_info_line(c);
    long long now = util_mstime();
    pthread_mutex_lock(&L.mu);
    /* A denial like one of the 10 newest updates that entry instead of
     * adding one (Redis looks no further). */
    for (int i = 0; i < L.n && i < 10; i++) {
        logentry *e = &L.v[i];
        if (e->reason == reason && e->context == context && strlen(e->object) == ol &&
            !memcmp(e->object, obj, ol) && strlen(e->username) == ul &&
            !memcmp(e->username, user, ul) && now - e->ctime_ms < LOG_GROUP_MS) {
            e->count++;
            e->ctime_ms = now;
            cb_free(e->cinfo);
            e->cinfo = cinfo;
            logentry moved = *e;
            memmove(L.v + 1, L.v, sizeof(logentry) * (size_t)i);
            L.v[0] = moved;
            pthread_mutex_unlock(&L.mu);
            return;
        }
    }
    if (L.n == L.cap) {
        L.cap = L.cap ? L.cap * 2 : 16;
        L.v = cb_realloc(L.v, sizeof(logentry) * (size_t)L.cap);
    }
    memmove(L.v + 1, L.v, sizeof(logentry) * (size_t)L.n);
    L.n++;
    logentry *e = &L.v[0];
    e->count = 1;
    e->reason = reason;
    e->context = context;
    e->object = cb_memdup(obj, ol);
    e->object[ol] = '\0';
    e->username = cb_memdup(user, ul);
    e->username[ul] = '\0';
    e->cinfo = cinfo;
    e->ctime_ms = now;
    while (L.n > 0 && L.n > g_config.acllog_max_len) {
        logentry *x = &L.v[--L.n];
        cb_free(x->object);
        cb_free(x->username);
        cb_free(x->cinfo);
    }
    pthread_mutex_unlock(&L.mu);
}

void acl_log_reset(void) {
    pthread_mutex_lock(&L.mu);
    for (int i = 0; i < L.n; i++) {
        cb_free(L.v[i].object);
        cb_free(L.v[i].username);
        cb_free(L.v[i].cinfo);
    }
    L.n = 0;
    pthread_mutex_unlock(&L.mu);
}

void acl_reply_log(cb_client *c, long long count) {
    pthread_mutex_lock(&L.mu);
    long long n = L.n < count ? L.n : count;
    long long now = util_mstime();
    reply_array_len(c, n);
    for (long long i = 0; i < n; i++) {
        const logentry *e = &L.v[i];
        reply_map_len(c, 7);
        reply_bulk_cstr(c, "count");
        reply_int(c, e->count);
        reply_bulk_cstr(c, "reason");
        reply_bulk_cstr(c, reason_names[e->reason]);
        reply_bulk_cstr(c, "context");
        reply_bulk_cstr(c, context_names[e->context]);
        reply_bulk_cstr(c, "object");
        reply_bulk_cstr(c, e->object);
        reply_bulk_cstr(c, "username");
        reply_bulk_cstr(c, e->username);
        reply_bulk_cstr(c, "age-seconds");
        reply_double(c, (double)(now - e->ctime_ms) / 1000.0);
        reply_bulk_cstr(c, "client-info");
        reply_bulk_cstr(c, e->cinfo);
    }
    pthread_mutex_unlock(&L.mu);
}

void acl_log_free(void) {
    acl_log_reset();
    cb_free(L.v);
    L.v = NULL;
    L.cap = 0;
}
