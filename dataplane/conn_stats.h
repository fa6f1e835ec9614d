/* conn_stats.h — connection counters per source IP and the connection rate,
 * for INFO connections, GET /metrics and GET /clients?by=ip.
 *
 * Each worker counts the connections it accepts or refuses (maxclients,
 * protected mode) in its own bounded table: CONN_STATS_IPS entries kept by
 * the Space-Saving rule (a new address takes the place of the least counted
 * one), so a scan from many addresses cannot grow memory and the heavy
 * hitters stay. Readers (any thread) merge the workers' tables. Both data
 * planes call conn_stats_note from their accept path.
 */
#ifndef CB_CONN_STATS_H
#define CB_CONN_STATS_H

#include <stdint.h>
#include <stddef.h>

struct cb_worker;

#define CONN_STATS_IPS 128      /* entries per worker */
#define CONN_RATE_WINDOW 10     /* seconds the rate averages over */

enum { CONN_ACCEPTED = 0, CONN_REJ_MAXCLIENTS = 1, CONN_REJ_PROTECTED = 2 };

typedef struct conn_ip_stat {
    char ip[48];
    uint64_t accepted, rej_maxclients, rej_protected;
    uint64_t rank;   /* Space-Saving count: events, plus what the replaced entry had */
} conn_ip_stat;

typedef struct conn_stats_view {
    uint64_t accepted, rej_maxclients, rej_protected; /* since start (or RESETSTAT) */
    uint64_t window_accepted, window_rejected;        /* last CONN_RATE_WINDOW full seconds */
    double rate;                                      /* attempts per second over that window */
    uint64_t tracked, replaced;                       /* addresses in the tables; entries reused */
} conn_stats_view;

/* Per-worker state: created with the worker, freed with it. */
struct cb_conn_stats *conn_stats_create(void);
void conn_stats_free(struct cb_conn_stats *cs);
/* Count one connection from ip (text, no port) on w; kind is CONN_*. */
void conn_stats_note(struct cb_worker *w, const char *ip, int kind);
/* Totals and rate over every worker. */
void conn_stats_summary(conn_stats_view *v);
/* The top max addresses over every worker by attempts, merged; returns how
 * many were written to out. */
int conn_stats_top(conn_ip_stat *out, int max);
/* CONFIG RESETSTAT. */
void conn_stats_reset(struct cb_conn_stats *cs);
/* "1.2.3.4:5678" or "[::1]:5678"/"::1:5678" -> the address part. */
void conn_stats_ip_of(const char *addr, char *ip, size_t len);

#endif
