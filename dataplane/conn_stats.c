/* conn_stats.c — per-IP connection counters and the connection rate
 * (contract in conn_stats.h).
 *
 * Why a lock: the table is written by its worker on accept and read by the
 * management thread for INFO and /metrics; accepts are not the command fast
 * path, so an uncontended mutex per worker is cheaper than anything clever,
 * and readers copy under it.
 *
 * Why Space-Saving: with a fixed table, a newcomer replaces the entry with
 * the lowest rank and inherits that rank (+1). An address that connects
 * often keeps a rank no scan of one-off addresses can undercut, so the top
 * of the table is the true top, and its counters stay exact from the
 * moment the address entered.
 */
#include "conn_stats.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "worker.h"
#include "../platform/mem.h"
#include "../platform/util.h"

struct cb_conn_stats {
    pthread_mutex_t lock;
    conn_ip_stat ips[CONN_STATS_IPS];
    int n;
    uint64_t accepted, rej_maxclients, rej_protected, replaced;
    /* One slot per second, indexed by second % size: its second and counts. */
    long long sec[CONN_RATE_WINDOW + 1];
    uint32_t sec_acc[CONN_RATE_WINDOW + 1], sec_rej[CONN_RATE_WINDOW + 1];
};

struct cb_conn_stats *conn_stats_create(void) {
    struct cb_conn_stats *cs = cb_calloc(sizeof(*cs));
    pthread_mutex_init(&cs->lock, NULL);
    return cs;
}

void conn_stats_free(struct cb_conn_stats *cs) {
    if (!cs) return;
    pthread_mutex_destroy(&cs->lock);
    cb_free(cs);
}

void conn_stats_reset(struct cb_conn_stats *cs) {
    if (!cs) return;
    pthread_mutex_lock(&cs->lock);
    cs->n = 0;
    cs->accepted = cs->rej_maxclients = cs->rej_protected = cs->replaced = 0;
    memset(cs->sec, 0, sizeof(cs->sec));
    memset(cs->sec_acc, 0, sizeof(cs->sec_acc));
    memset(cs->sec_rej, 0, sizeof(cs->sec_rej));
    pthread_mutex_unlock(&cs->lock);
}

void conn_stats_ip_of(const char *addr, char *ip, size_t len) {
    const char *colon = strrchr(addr, ':');
    size_t n = colon ? (size_t)(colon - addr) : strlen(addr);
    if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
        addr++;
        n -= 2;
    }
    if (n >= len) n = len - 1;
    memcpy(ip, addr, n);
    ip[n] = '\0';
}

static conn_ip_stat *slot_for(struct cb_conn_stats *cs, const char *ip) {
    int low = 0;
    for (int i = 0; i < cs->n; i++) {
        if (!strcmp(cs->ips[i].ip, ip)) return &cs->ips[i];
        if (cs->ips[i].rank < cs->ips[low].rank) low = i;
    }
    conn_ip_stat *e;
    uint64_t inherit = 0;
    if (cs->n < CONN_STATS_IPS) {
        e = &cs->ips[cs->n++];
    } else {
        e = &cs->ips[low];
        inherit = e->rank;
        cs->replaced++;
    }
    memset(e, 0, sizeof(*e));
    snprintf(e->ip, sizeof(e->ip), "%s", ip);
    e->rank = inherit;
    return e;
}

void conn_stats_note(cb_worker *w, const char *ip, int kind) {
    struct cb_conn_stats *cs = w->connstats;
    if (!cs) return;
    long long now = util_mstime() / 1000;
    int k = (int)(now % (CONN_RATE_WINDOW + 1));
    pthread_mutex_lock(&cs->lock);
    if (cs->sec[k] != now) {
        cs->sec[k] = now;
        cs->sec_acc[k] = cs->sec_rej[k] = 0;
    }
    conn_ip_stat *e = slot_for(cs, ip);
    e->rank++;
    if (kind == CONN_ACCEPTED) {
        e->accepted++;
        cs->accepted++;
        cs->sec_acc[k]++;
    } else {
        if (kind == CONN_REJ_MAXCLIENTS) {
            e->rej_maxclients++;
            cs->rej_maxclients++;
        } else {
            e->rej_protected++;
            cs->rej_protected++;
        }
        cs->sec_rej[k]++;
    }
    pthread_mutex_unlock(&cs->lock);
}

void conn_stats_summary(conn_stats_view *v) {
    memset(v, 0, sizeof(*v));
    long long now = util_mstime() / 1000;
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w || !w->connstats) continue;
        struct cb_conn_stats *cs = w->connstats;
        pthread_mutex_lock(&cs->lock);
        v->accepted += cs->accepted;
        v->rej_maxclients += cs->rej_maxclients;
        v->rej_protected += cs->rej_protected;
        v->tracked += (uint64_t)cs->n;
        v->replaced += cs->replaced;
        /* The full seconds before this one. */
        for (int k = 0; k <= CONN_RATE_WINDOW; k++) {
            long long age = now - cs->sec[k];
            if (age < 1 || age > CONN_RATE_WINDOW) continue;
            v->window_accepted += cs->sec_acc[k];
            v->window_rejected += cs->sec_rej[k];
        }
        pthread_mutex_unlock(&cs->lock);
    }
    v->rate = (double)(v->window_accepted + v->window_rejected) / CONN_RATE_WINDOW;
}

static int by_attempts(const void *a, const void *b) {
    const conn_ip_stat *x = a, *y = b;
    uint64_t nx = x->accepted + x->rej_maxclients + x->rej_protected;
    uint64_t ny = y->accepted + y->rej_maxclients + y->rej_protected;
    if (nx != ny) return nx < ny ? 1 : -1;
    return strcmp(x->ip, y->ip);
}

int conn_stats_top(conn_ip_stat *out, int max) {
    int cap = CONN_STATS_IPS * (g_server.nworkers > 0 ? g_server.nworkers : 1);
    conn_ip_stat *all = cb_malloc(sizeof(*all) * (size_t)cap);
    int n = 0;
    for (int i = 0; i < g_server.nworkers; i++) {
        cb_worker *w = g_server.workers[i];
        if (!w || !w->connstats) continue;
        struct cb_conn_stats *cs = w->connstats;
        pthread_mutex_lock(&cs->lock);
        for (int j = 0; j < cs->n; j++) {
            int k = 0;
            while (k < n && strcmp(all[k].ip, cs->ips[j].ip)) k++;
            if (k == n) {
                all[n++] = cs->ips[j];
                continue;
            }
            all[k].accepted += cs->ips[j].accepted;
            all[k].rej_maxclients += cs->ips[j].rej_maxclients;
            all[k].rej_protected += cs->ips[j].rej_protected;
            all[k].rank += cs->ips[j].rank;
        }
        pthread_mutex_unlock(&cs->lock);
    }
    qsort(all, (size_t)n, sizeof(*all), by_attempts);
    if (n > max) n = max;
    memcpy(out, all, sizeof(*all) * (size_t)n);
    cb_free(all);
    return n;
}
