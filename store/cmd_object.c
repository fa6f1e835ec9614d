/* cmd_object.c — OBJECT ENCODING / REFCOUNT / IDLETIME / FREQ / HELP.
 *
 * The dispatcher routes "object|<sub>" here after checking the arity; an
 * unknown subcommand never reaches these handlers. Lookups do not touch the
 * key's access stamp (that is what IDLETIME and FREQ report) but do count
 * as keyspace hits/misses, as in Redis.
 */
#include "db.h"
#include "../dataplane/client.h"
#include "../dataplane/resp/reply.h"

#include <stdint.h>

/* Replies null and returns NULL when the key is missing. */
static cb_obj *object_lookup(cb_client *c)
{
    cb_obj *o = db_lookup_read(c->shard, c->db, ARGP(c, 2), ARGL(c, 2),
                               DB_LOOKUP_NOTOUCH | DB_LOOKUP_NONOTIFY);
    if (!o) reply_null(c);
    return o;
}

void cmd_object_encoding(cb_client *c)
{
    cb_obj *o = object_lookup(c);
    if (o) reply_bulk_cstr(c, obj_encoding_name(o->encoding));
}

void cmd_object_refcount(cb_client *c)
{
    cb_obj *o = object_lookup(c);
    if (!o) return;
    /* Redis stores small integers as shared objects and reports INT_MAX for
     * them; each shard here keeps private int objects, so report what Redis
     * would have shared. */
    long long v = (long long)(intptr_t)o->ptr;
    if (o->type == OBJ_STRING && o->encoding == OBJ_ENC_INT && v >= 0 &&
        v < OBJ_SHARED_INTEGERS && shard_shares_integers(c->shard))
        reply_int(c, OBJ_SHARED_REFCOUNT);
    else
        reply_int(c, o->refcount);
}

void cmd_object_idletime(cb_client *c)
{
    cb_obj *o = object_lookup(c);
    if (!o) return;
    if (shard_policy_is_lfu(c->shard)) {
        reply_error(c, "An LFU maxmemory policy is selected, idle time not tracked. "
                       "Please note that when switching between policies at runtime "
                       "LRU and LFU data will take some time to adjust.");
        return;
    }
    reply_int(c, (long long)(obj_idle_ms(o, lru_clock_of(c->shard->now_ms)) / 1000));
}

void cmd_object_freq(cb_client *c)
{
    cb_obj *o = object_lookup(c);
    if (!o) return;
    if (!shard_policy_is_lfu(c->shard)) {
        reply_error(c, "An LFU maxmemory policy is not selected, access frequency not "
                       "tracked. Please note that when switching between policies at "
                       "runtime LRU and LFU data will take some time to adjust.");
        return;
    }
    /* Decay first: the stored counter is only refreshed on access. */
    reply_int(c, (long long)lfu_decr_and_return(o, c->shard->now_ms,
                                                c->shard->set->lfu_decay_time));
}

void cmd_object_help(cb_client *c)
{
    /* Automatic, not static: a static pointer table is relocated data. */
    const char *const lines[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, lines);
}
