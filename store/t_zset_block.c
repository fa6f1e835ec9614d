/* t_zset_block.c — the blocking sorted-set pops BZPOPMIN, BZPOPMAX and
 * BZMPOP. They follow the mechanism of dataplane/blocking.h as BLPOP and
 * BLMPOP do (store/t_list.c): the handler serves from the first non-empty
 * key if it can, otherwise asks block_client(); a write to a watched key
 * re-runs the handler, and a timeout (or MULTI, or CLIENT UNBLOCK) makes
 * it send the null array. Arguments are checked in Redis 7.0's order:
 * BZPOPMIN/BZPOPMAX parse the timeout first, BZMPOP parses numkeys, the
 * direction and COUNT before the timeout. The keys may live on several
 * shards (these commands run with the other workers parked). A re-run
 * for a timeout answers null at once; a re-run for a changed key ignores
 * keys that now hold another type.
 */
#include <limits.h>
#include <stdio.h>

#include "t_zset.h"
#include "../dataplane/blocking.h"
#include "../dataplane/client.h"
#include "../dataplane/propagate.h"
#include "../dataplane/resp/reply.h"
#include "../platform/mem.h"
#include "../platform/util.h"

static cb_shard *shard_of(cb_client *c, int i, cb_db **db)
{
    cb_shard *s = client_key_shard(c, ARGP(c, i), ARGL(c, i));
    if (s == c->shard) {
        *db = c->db;
        return s;
    }
    shard_set_time(s, c->shard->now_ms);
    *db = client_shard_db(c, s);
    return s;
}

/* Pops from the first non-empty sorted set among the keys at argv
 * [first, first+n) and replies; nested selects BZMPOP's [key, [[m, s]...]]
 * shape over BZPOPMIN's [key, m, s]. Returns 1 when it replied (popped or
 * WRONGTYPE), 0 when every key was missing. */
static int try_pop(cb_client *c, int first, int n, int max, long long count, int nested)
{
    for (int k = first; k < first + n; k++) {
        cb_db *db;
        cb_shard *s = shard_of(c, k, &db);
        cb_obj *o = db_lookup_write(s, db, ARGP(c, k), ARGL(c, k));
        if (!o) continue;
        if (o->type != OBJ_ZSET) {
            /* A waiter re-run because the key changed type keeps waiting,
             * as in Redis, which serves only waiters of the key's type. */
            if (c->block_mode == BLOCK_MODE_SERVING) continue;
            reply_error(c, ERR_WRONGTYPE);
            return 1;
        }
        size_t len = zset_len(o);
        size_t npop = (unsigned long long)count > len ? len : (size_t)count;
        if (nested) {
            reply_array_len(c, 2);
            reply_bulk(c, ARGP(c, k), ARGL(c, k));
            reply_array_len(c, (long)npop);
        } else {
            reply_array_len(c, 3);
            reply_bulk(c, ARGP(c, k), ARGL(c, k));
        }
        for (size_t i = 0; i < npop; i++) {
            size_t rank = max ? zset_len(o) - 1 : 0;
            zset_it it;
            zit_init(&it, o, (long)rank);
            const char *e;
            size_t l;
            double sc;
            zit_get(&it, &e, &l, &sc);
            if (nested) reply_array_len(c, 2);
            reply_bulk(c, e, l);
            reply_double(c, sc);
            zit_release(&it);
            zset_delete_ranks(o, rank, rank);
        }
        notify_keyspace_event(s, db, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", ARGP(c, k),
                              ARGL(c, k));
        if (zset_len(o) == 0) {
            db_delete(s, db, ARGP(c, k), ARGL(c, k));
            notify_keyspace_event(s, db, NOTIFY_GENERIC, "del", ARGP(c, k), ARGL(c, k));
        }
        db_signal_modified(s, db, ARGP(c, k), ARGL(c, k));
        s->dirty += npop;
        /* Replayed as ZPOPMIN / ZPOPMAX (with BZMPOP's count). */
        char num[24];
        int nl = snprintf(num, sizeof(num), "%zu", npop);
        const char *pv[3] = {max ? "ZPOPMAX" : "ZPOPMIN", ARGP(c, k), num};
        size_t pl[3] = {7, ARGL(c, k), (size_t)nl};
        prop_rewrite(c, nested ? 3 : 2, pv, pl);
        return 1;
    }
    return 0;
}

/* Blocks on the n keys from argv index first, or sends the null array
 * when block_client() says not to wait. */
static void block_on(cb_client *c, int first, int n, long long deadline)
{
    int *keys = cb_malloc(sizeof(int) * (size_t)n);
    for (int k = 0; k < n; k++) keys[k] = first + k;
    if (!block_client(c, n, keys, deadline)) reply_null_array(c);
    cb_free(keys);
}

/* BZPOPMIN / BZPOPMAX key [key ...] timeout */
static void bzpop_generic(cb_client *c, int max)
{
    long long deadline;
    if (blocking_timeout_arg(c, c->argc - 1, &deadline) != 0) return;
    if (c->block_mode != BLOCK_MODE_TIMEOUT && try_pop(c, 1, c->argc - 2, max, 1, 0)) return;
    block_on(c, 1, c->argc - 2, deadline);
}

void cmd_bzpopmin(cb_client *c) { bzpop_generic(c, 0); }
void cmd_bzpopmax(cb_client *c) { bzpop_generic(c, 1); }

/* A long argument in [1, LONG_MAX]; msg on any failure. */
static int arg_positive(cb_client *c, int i, long long *v, const char *msg)
{
    if (!util_str2ll(ARGP(c, i), ARGL(c, i), v) || *v < 1) {
        reply_error(c, msg);
        return -1;
    }
    return 0;
}

/* BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count] */
void cmd_bzmpop(cb_client *c)
{
    long long numkeys, count = -1, deadline;
    if (arg_positive(c, 2, &numkeys, "numkeys should be greater than 0") != 0) return;
    /* Compared before adding so a huge numkeys cannot overflow. */
    if (numkeys > c->argc || 2 + numkeys + 1 >= c->argc) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int where_idx = 3 + (int)numkeys, max;
    if (arg_eq(c, where_idx, "min")) {
        max = 0;
    } else if (arg_eq(c, where_idx, "max")) {
        max = 1;
    } else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    for (int j = where_idx + 1; j < c->argc; j++) {
        if (count == -1 && arg_eq(c, j, "count") && j + 1 < c->argc) {
            if (arg_positive(c, ++j, &count, "count should be greater than 0") != 0) return;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (count == -1) count = 1;
    if (blocking_timeout_arg(c, 1, &deadline) != 0) return;
    if (c->block_mode != BLOCK_MODE_TIMEOUT && try_pop(c, 3, (int)numkeys, max, count, 1))
        return;
    block_on(c, 3, (int)numkeys, deadline);
}
