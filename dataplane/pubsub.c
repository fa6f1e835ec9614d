/* pubsub.c — Pub/Sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
 * SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB, with Redis 7.0's
 * replies (RESP2 arrays, RESP3 pushes) and its subscriber-mode rules.
 *
 * The registry (channel -> subscribers, the pattern list, shard channels)
 * is shared by all workers and changes only while the other workers are
 * parked: the (un)subscribe commands run that way (xshard). PUBLISH reads
 * it in place; when a receiver belongs to another worker it parks the
 * others to write into that client's output, then wakes its worker.
 */
#include "pubsub.h"

#include <string.h>

#include "conn.h"
#include "worker.h"
#include "xshard.h"
#include "resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"
#include "../store/ds/dict.h"

typedef struct clist {
    int n, cap;
    cb_client **v;
} clist;

/* A client's own subscriptions. */
typedef struct cb_psub {
    dict *channels;   /* channel -> unused */
    dict *shards;     /* shard channel -> unused */
    cbstr *patterns;
    int npatterns, pat_cap;
} cb_psub;

typedef struct pattern_sub {
    cbstr pattern;
    cb_client *c;
} pattern_sub;

static dict *reg_channels;      /* channel -> clist */
static dict *reg_shards;        /* shard channel -> clist */
static pattern_sub *reg_patterns;
static int reg_npatterns, reg_pat_cap;
static uint8_t reg_seed[16];

static void clist_free(void *val, void *priv) {
    (void)priv;
    clist *l = val;
    cb_free(l->v);
    cb_free(l);
}

static void key_free(cbstr k) { cbstr_free(k); }

static const dict_type reg_type = {.key_free = key_free, .val_free = clist_free};
static const dict_type set_type = {.key_free = key_free};

void pubsub_init(void) {
    util_random_bytes(reg_seed, sizeof(reg_seed));
    reg_channels = dict_create(&reg_type, NULL, reg_seed);
    reg_shards = dict_create(&reg_type, NULL, reg_seed);
}

static cb_psub *psub(cb_client *c) {
    if (!c->ps) {
        cb_psub *p = cb_calloc(sizeof(*p));
        p->channels = dict_create(&set_type, NULL, reg_seed);
        p->shards = dict_create(&set_type, NULL, reg_seed);
        c->ps = p;
    }
    return c->ps;
}

int pubsub_count(const cb_client *c) {
    return c->ps ? (int)dict_size(c->ps->channels) + c->ps->npatterns : 0;
}

static int shard_count(const cb_client *c) { return c->ps ? (int)dict_size(c->ps->shards) : 0; }

int pubsub_client_subscribed(const cb_client *c) { return pubsub_count(c) + shard_count(c) > 0; }

static int each_in(dict *d, int (*fn)(void *, const char *, size_t, int), void *arg) {
    int stop = 0;
    dict_iter it;
    dict_iter_init(&it, d, 0);
    dict_entry *e;
    while (!stop && (e = dict_iter_next(&it)) != NULL) stop = fn(arg, e->key, cbstr_len(e->key), 0);
    dict_iter_release(&it);
    return stop;
}

void pubsub_client_each(const cb_client *c, int (*fn)(void *, const char *, size_t, int),
                        void *arg) {
    if (!c->ps) return;
    for (int i = 0; i < c->ps->npatterns; i++)
        if (fn(arg, c->ps->patterns[i], cbstr_len(c->ps->patterns[i]), 1)) return;
    if (each_in(c->ps->channels, fn, arg)) return;
    each_in(c->ps->shards, fn, arg);
}

/* ----------------------------------------------------------- registry */

static void reg_add(dict *d, const char *ch, size_t len, cb_client *c) {
    dict_entry *e = dict_find(d, ch, len);
    if (!e) {
        e = dict_add_raw(d, cbstr_new(ch, len), NULL);
        e->v.val = cb_calloc(sizeof(clist));
    }
    clist *l = e->v.val;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = cb_realloc(l->v, sizeof(*l->v) * (size_t)l->cap);
    }
    l->v[l->n++] = c;
}

static void reg_del(dict *d, const char *ch, size_t len, cb_client *c) {
    dict_entry *e = dict_find(d, ch, len);
    if (!e) return;
    clist *l = e->v.val;
    for (int i = 0; i < l->n; i++) {
        if (l->v[i] == c) {
            memmove(&l->v[i], &l->v[i + 1], sizeof(*l->v) * (size_t)(l->n - i - 1));
            l->n--;
            break;
        }
    }
    if (l->n == 0) dict_delete(d, ch, len);
}

/* ------------------------------------------------------------- replies */

static void reply_sub(cb_client *c, const char *kind, const char *ch, size_t len, long long n) {
    reply_push_len(c, 3);
    reply_bulk_cstr(c, kind);
    if (ch)
        reply_bulk(c, ch, len);
    else
        reply_null(c);
    reply_int(c, n);
}

/* --------------------------------------------------- (un)subscribing */

static int subscribe_one(cb_client *c, int shard, const char *ch, size_t len) {
    cb_psub *p = psub(c);
    dict *mine = shard ? p->shards : p->channels;
    if (dict_find(mine, ch, len)) return 0;
    dict_add_raw(mine, cbstr_new(ch, len), NULL);
    reg_add(shard ? reg_shards : reg_channels, ch, len, c);
    return 1;
}

static int unsubscribe_one(cb_client *c, int shard, const char *ch, size_t len) {
    if (!c->ps) return 0;
    dict *mine = shard ? c->ps->shards : c->ps->channels;
    if (!dict_delete(mine, ch, len)) return 0;
    reg_del(shard ? reg_shards : reg_channels, ch, len, c);
    return 1;
}

static int psubscribe_one(cb_client *c, const char *pat, size_t len) {
    cb_psub *p = psub(c);
    for (int i = 0; i < p->npatterns; i++)
        if (cbstr_eq_bytes(p->patterns[i], pat, len)) return 0;
    if (p->npatterns == p->pat_cap) {
        p->pat_cap = p->pat_cap ? p->pat_cap * 2 : 4;
        p->patterns = cb_realloc(p->patterns, sizeof(cbstr) * (size_t)p->pat_cap);
    }
    p->patterns[p->npatterns++] = cbstr_new(pat, len);
    if (reg_npatterns == reg_pat_cap) {
        reg_pat_cap = reg_pat_cap ? reg_pat_cap * 2 : 8;
        reg_patterns = cb_realloc(reg_patterns, sizeof(*reg_patterns) * (size_t)reg_pat_cap);
    }
    reg_patterns[reg_npatterns].pattern = cbstr_new(pat, len);
    reg_patterns[reg_npatterns].c = c;
    reg_npatterns++;
    return 1;
}

static int punsubscribe_one(cb_client *c, const char *pat, size_t len) {
    cb_psub *p = c->ps;
    if (!p) return 0;
    int found = 0;
    for (int i = 0; i < p->npatterns; i++) {
        if (cbstr_eq_bytes(p->patterns[i], pat, len)) {
            cbstr_free(p->patterns[i]);
            memmove(&p->patterns[i], &p->patterns[i + 1], sizeof(cbstr) * (size_t)(p->npatterns - i - 1));
            p->npatterns--;
            found = 1;
            break;
        }
    }
    if (!found) return 0;
    for (int i = 0; i < reg_npatterns; i++) {
        if (reg_patterns[i].c == c && cbstr_eq_bytes(reg_patterns[i].pattern, pat, len)) {
            cbstr_free(reg_patterns[i].pattern);
            memmove(&reg_patterns[i], &reg_patterns[i + 1],
                    sizeof(*reg_patterns) * (size_t)(reg_npatterns - i - 1));
            reg_npatterns--;
            break;
        }
    }
    return 1;
}

static void update_flag(cb_client *c) {
    int was = (c->flags & CLIENT_PUBSUB) != 0;
    int now = pubsub_client_subscribed(c);
    if (now && !was) {
        c->flags |= CLIENT_PUBSUB;
        STAT_INC(c->w->stats.pubsub_clients);
    } else if (!now && was) {
        c->flags &= ~CLIENT_PUBSUB;
        STAT_ADD(c->w->stats.pubsub_clients, (uint64_t)-1);
    }
}

void cmd_subscribe(cb_client *c) {
    for (int i = 1; i < c->argc; i++) {
        subscribe_one(c, 0, c->argv[i], c->argv_len[i]);
        reply_sub(c, "subscribe", c->argv[i], c->argv_len[i], pubsub_count(c));
    }
    update_flag(c);
}

void cmd_ssubscribe(cb_client *c) {
    for (int i = 1; i < c->argc; i++) {
        subscribe_one(c, 1, c->argv[i], c->argv_len[i]);
        reply_sub(c, "ssubscribe", c->argv[i], c->argv_len[i], shard_count(c));
    }
    update_flag(c);
}

void cmd_psubscribe(cb_client *c) {
    for (int i = 1; i < c->argc; i++) {
        psubscribe_one(c, c->argv[i], c->argv_len[i]);
        reply_sub(c, "psubscribe", c->argv[i], c->argv_len[i], pubsub_count(c));
    }
    update_flag(c);
}

/* UNSUBSCRIBE / SUNSUBSCRIBE with no argument: every channel, in the
 * order of the client's set; none at all answers one reply with a null. */
static void unsubscribe_all(cb_client *c, int shard, int reply) {
    const char *kind = shard ? "sunsubscribe" : "unsubscribe";
    dict *mine = c->ps ? (shard ? c->ps->shards : c->ps->channels) : NULL;
    if (!mine || dict_size(mine) == 0) {
        if (reply) reply_sub(c, kind, NULL, 0, shard ? shard_count(c) : pubsub_count(c));
        return;
    }
    while (dict_size(mine)) {
        dict_iter it;
        dict_iter_init(&it, mine, 1);
        dict_entry *e = dict_iter_next(&it);
        cbstr ch = cbstr_dup(e->key);
        dict_iter_release(&it);
        unsubscribe_one(c, shard, ch, cbstr_len(ch));
        if (reply) reply_sub(c, kind, ch, cbstr_len(ch), shard ? shard_count(c) : pubsub_count(c));
        cbstr_free(ch);
    }
}

static void punsubscribe_all(cb_client *c, int reply) {
    if (!c->ps || c->ps->npatterns == 0) {
        if (reply) reply_sub(c, "punsubscribe", NULL, 0, pubsub_count(c));
        return;
    }
    while (c->ps->npatterns) {
        cbstr pat = cbstr_dup(c->ps->patterns[0]);
        punsubscribe_one(c, pat, cbstr_len(pat));
        if (reply) reply_sub(c, "punsubscribe", pat, cbstr_len(pat), pubsub_count(c));
        cbstr_free(pat);
    }
}

void cmd_unsubscribe(cb_client *c) {
    if (c->argc == 1)
        unsubscribe_all(c, 0, 1);
    else
        for (int i = 1; i < c->argc; i++) {
            unsubscribe_one(c, 0, c->argv[i], c->argv_len[i]);
            reply_sub(c, "unsubscribe", c->argv[i], c->argv_len[i], pubsub_count(c));
        }
    update_flag(c);
}

void cmd_sunsubscribe(cb_client *c) {
    if (c->argc == 1)
        unsubscribe_all(c, 1, 1);
    else
        for (int i = 1; i < c->argc; i++) {
            unsubscribe_one(c, 1, c->argv[i], c->argv_len[i]);
            reply_sub(c, "sunsubscribe", c->argv[i], c->argv_len[i], shard_count(c));
        }
    update_flag(c);
}

void cmd_punsubscribe(cb_client *c) {
    if (c->argc == 1)
        punsubscribe_all(c, 1);
    else
        for (int i = 1; i < c->argc; i++) {
            punsubscribe_one(c, c->argv[i], c->argv_len[i]);
            reply_sub(c, "punsubscribe", c->argv[i], c->argv_len[i], pubsub_count(c));
        }
    update_flag(c);
}

void pubsub_client_reset(cb_client *c) {
    if (!c->ps) return;
    unsubscribe_all(c, 0, 0);
    unsubscribe_all(c, 1, 0);
    punsubscribe_all(c, 0);
    update_flag(c);
    dict_release(c->ps->channels);
    dict_release(c->ps->shards);
    cb_free(c->ps->patterns);
    cb_free(c->ps);
    c->ps = NULL;
}

/* ------------------------------------------------------------ publish */

/* Every receiver of a message: channel subscribers, then pattern matches. */
static int for_receivers(int shard, const char *ch, size_t len,
                         void (*fn)(void *priv, cb_client *r, const cbstr pattern), void *priv) {
    int n = 0;
    dict_entry *e = dict_find(shard ? reg_shards : reg_channels, ch, len);
    if (e) {
        clist *l = e->v.val;
        for (int i = 0; i < l->n; i++, n++)
            if (fn) fn(priv, l->v[i], NULL);
    }
    if (!shard) {
        for (int i = 0; i < reg_npatterns; i++) {
            cbstr p = reg_patterns[i].pattern;
            if (util_globmatch(p, cbstr_len(p), ch, len, 0)) {
                n++;
                if (fn) fn(priv, reg_patterns[i].c, p);
            }
        }
    }
    return n;
}

typedef struct pubmsg {
    cb_worker *self;
    int remote;
    int shard;
    const char *ch, *msg;
    size_t chlen, msglen;
} pubmsg;

static void note_remote(void *priv, cb_client *r, const cbstr pattern) {
    (void)pattern;
    pubmsg *m = priv;
    if (r->w != m->self) m->remote = 1;
}

static void deliver(void *priv, cb_client *r, const cbstr pattern) {
    pubmsg *m = priv;
    if (pattern) {
        reply_push_len(r, 4);
        reply_bulk_cstr(r, "pmessage");
        reply_bulk(r, pattern, cbstr_len(pattern));
    } else {
        reply_push_len(r, 3);
        reply_bulk_cstr(r, m->shard ? "smessage" : "message");
    }
    reply_bulk(r, m->ch, m->chlen);
    reply_bulk(r, m->msg, m->msglen);
    conn_check_output_limits(r);
    if (r->w != m->self) kdrv_wake(r->w);
}

/* Deliver from worker `self` (NULL: a thread that has parked every worker);
 * returns the number of receivers. */
static int publish_from(cb_worker *self, int shard, const char *ch, size_t chlen,
                        const char *msg, size_t msglen) {
    pubmsg m = {.self = self, .shard = shard, .ch = ch, .chlen = chlen,
                .msg = msg, .msglen = msglen};
    int n = for_receivers(shard, m.ch, m.chlen, note_remote, &m);
    if (n == 0) return 0;
    /* Another worker's subscriber: write its output with that worker parked. */
    int park = self && m.remote && g_server.nworkers > 1 &&
               !(__atomic_load_n(&g_server.park_active, __ATOMIC_ACQUIRE) &&
                 __atomic_load_n(&g_server.park_owner, __ATOMIC_RELAXED) == self->id);
    if (park) xshard_park_others(self);
    for_receivers(shard, m.ch, m.chlen, deliver, &m);
    if (park) xshard_release(self);
    return n;
}

static void publish(cb_client *c, int shard) {
    reply_int(c, publish_from(c->w, shard, c->argv[1], c->argv_len[1], c->argv[2],
                              c->argv_len[2]));
}

void cmd_publish(cb_client *c) { publish(c, 0); }
void cmd_spublish(cb_client *c) { publish(c, 1); }

int pubsub_publish(cb_worker *self, const char *ch, size_t chlen, const char *msg,
                   size_t msglen) {
    return publish_from(self, 0, ch, chlen, msg, msglen);
}

int pubsub_has_subscribers(void) {
    return reg_npatterns > 0 || dict_size(reg_channels) > 0;
}

/* ------------------------------------------------------------- PUBSUB */

static void list_channels(cb_client *c, dict *d) {
    if (c->argc > 3) {
        reply_subcommand_syntax(c);
        return;
    }
    const char *pat = c->argc > 2 ? c->argv[2] : NULL;
    size_t plen = c->argc > 2 ? c->argv_len[2] : 0;
    void *h = reply_deferred_len(c);
    long n = 0;
    dict_iter it;
    dict_iter_init(&it, d, 0);
    dict_entry *e;
    while ((e = dict_iter_next(&it)) != NULL) {
        if (pat && !util_globmatch(pat, plen, e->key, cbstr_len(e->key), 0)) continue;
        reply_bulk(c, e->key, cbstr_len(e->key));
        n++;
    }
    dict_iter_release(&it);
    reply_set_deferred_len(c, h, n, 'a');
}

static void numsub(cb_client *c, dict *d) {
    reply_array_len(c, 2 * (long)(c->argc - 2)); /* a flat array even in RESP3 */
    for (int i = 2; i < c->argc; i++) {
        dict_entry *e = dict_find(d, c->argv[i], c->argv_len[i]);
        reply_bulk(c, c->argv[i], c->argv_len[i]);
        reply_int(c, e ? ((clist *)e->v.val)->n : 0);
    }
}

void cmd_pubsub_channels(cb_client *c) { list_channels(c, reg_channels); }
void cmd_pubsub_shardchannels(cb_client *c) { list_channels(c, reg_shards); }
void cmd_pubsub_numsub(cb_client *c) { numsub(c, reg_channels); }
void cmd_pubsub_shardnumsub(cb_client *c) { numsub(c, reg_shards); }
void cmd_pubsub_numpat(cb_client *c) {
    /* Distinct patterns, as Redis counts them. */
    long n = 0;
    for (int i = 0; i < reg_npatterns; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = cbstr_cmp(reg_patterns[i].pattern, reg_patterns[j].pattern) == 0;
        if (!seen) n++;
    }
    reply_int(c, n);
}

void cmd_pubsub_help(cb_client *c) {
    static const char *const help[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
        NULL};
    reply_help(c, help);
}

size_t pubsub_channel_count(void) { return dict_size(reg_channels); }
size_t pubsub_pattern_count(void) { return (size_t)reg_npatterns; }
size_t pubsub_shard_channel_count(void) { return dict_size(reg_shards); }
