/* config.h — server configuration as a directive table (name, type, default,
 * bounds, setter, runtime-mutable flag), parsed from a redis.conf-style file
 * and redis-server-style "--directive value" arguments. CONFIG GET/SET/
 * RESETSTAT/REWRITE work on the same table.
 */
#ifndef CB_CONFIG_H
#define CB_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "../store/db.h"

enum { DATAPLANE_KERNEL = 0, DATAPLANE_DPDK = 1 };
enum { LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3, LOG_NOTHING = 4 };
enum { SUPERVISED_NO = 0, SUPERVISED_UPSTART, SUPERVISED_SYSTEMD, SUPERVISED_AUTO };
/* maxmemory-policy values (Redis's names). */
enum { MAXMEM_NOEVICTION = 0, MAXMEM_ALLKEYS_LRU, MAXMEM_ALLKEYS_LFU,
       MAXMEM_ALLKEYS_RANDOM, MAXMEM_VOLATILE_LRU, MAXMEM_VOLATILE_LFU,
       MAXMEM_VOLATILE_RANDOM, MAXMEM_VOLATILE_TTL };

#define CONFIG_MAX_BIND 16

typedef struct cb_obuf_limit {
    unsigned long long hard, soft;
    long long soft_seconds;
} cb_obuf_limit;

/* Most percentiles latency-tracking-info-percentiles may list. */
#define CB_MAX_LATENCY_PERCENTILES 32
enum { AOF_FSYNC_NO = 0, AOF_FSYNC_ALWAYS = 1, AOF_FSYNC_EVERYSEC = 2 };

typedef struct cb_config {
    /* Files */
    char *config_file;      /* absolute path, NULL when started without one */
    char *dir;
    char *dbfilename;
    char *pidfile;
    char *logfile;
    char *unixsocket;
    unsigned unixsocketperm;
    int daemonize;
    int supervised;
    int loglevel;
    int syslog_enabled;
    char *syslog_ident;
    char *syslog_facility;

    /* Network */
    char *bind[CONFIG_MAX_BIND];
    int bind_count;
    int port;
    int tcp_backlog;
    long long timeout;      /* seconds, 0 = never */
    int tcp_keepalive;
    unsigned maxclients;
    long long maxmemory_clients; /* bytes; negative: -percent of maxmemory; 0 off */
    int protected_mode;
    char *requirepass;      /* NULL or "" = none */
    int io_workers;
    int io_threads;         /* accepted for compatibility, unused */
    int dataplane;

    /* Limits */
    long long client_query_buffer_limit;
    long long proto_max_bulk_len;
    cb_obuf_limit obuf_limits[3]; /* normal, replica, pubsub */

    /* Keyspace */
    int databases;
    int enable_debug_command;      /* 0 no, 1 yes, 2 local */
    int enable_protected_configs;
    int enable_module_command;
    char *save_params;             /* "3600 1 300 100 60 10000" as given */
    int rdbcompression, rdbchecksum;
    int stop_writes_on_bgsave_error;
    int rdb_del_sync_files;        /* only matters with replication */
    /* Replication, master side (mgmt/repl.c). */
    long long repl_backlog_size;
    long long repl_backlog_ttl;
    int repl_diskless_sync;
    int repl_diskless_sync_delay;
    int repl_ping_replica_period;
    int repl_timeout;
    int min_replicas_to_write;
    int min_replicas_max_lag;
    /* Replica side (mgmt/replica.c; replica-read-only is store.replica_read_only). */
    char *replicaof;        /* "host port" or "" */
    char *masterauth, *masteruser;
    int replica_priority;
    int rdb_key_save_delay;        /* us per key a snapshot takes at least (tests) */
    int key_load_delay;            /* us per key start-up loading sleeps (tests) */
    int appendonly;
    char *appendfilename;
    char *appenddirname;
    int appendfsync;               /* AOF_FSYNC_* */
    int no_appendfsync_on_rewrite;
    int auto_aof_rewrite_percentage;
    long long auto_aof_rewrite_min_size;
    int aof_use_rdb_preamble;
    int aof_load_truncated;
    int aof_timestamp_enabled;
    int aof_rewrite_incremental_fsync;

    /* Things the store reads (pointed at by each shard). */
    cb_store_settings store;
    long long slowlog_log_slower_than;
    long long slowlog_max_len;
    long long latency_monitor_threshold;
    int latency_tracking;
    char *latency_tracking_info_percentiles_str; /* as CONFIG GET prints it */
    double latency_percentiles[CB_MAX_LATENCY_PERCENTILES];
    int latency_npercentiles;
    int dynamic_hz;
    int activerehashing;
    int busy_reply_threshold;
    long long tracking_table_max_keys;  /* client-side caching (tracking.c) */
    int hide_user_data_from_log;
    char *notify_keyspace_events_str;   /* canonical, as CONFIG GET prints it */
    int notify_keyspace_events;         /* CB_NOTIFY_* bits */

    /* Appliance directives. */
    char *dpdk_eal_args;
    char *dpdk_port;
    char *dpdk_ip;
    char *dpdk_gateway;
    int dpdk_mtu;
    int dpdk_vlan;               /* 802.1Q VLAN id of the port's traffic; 0: untagged */
    int dpdk_idle_sleep_us;      /* poll cores sleep this long when idle; 0: never */
    char *control_bind;
    int control_port;
    char *control_token_file;
    unsigned long long hugepages; /* bytes of 2 MB pages for the store arenas */

    /* ACL (dataplane/acl.c). */
    char *aclfile;
    long long acllog_max_len;
    int acl_pubsub_default;             /* 0 resetchannels, 1 allchannels */
} cb_config;

/* notify-keyspace-events classes (bit values as Redis numbers them). */
enum {
    CB_NOTIFY_KEYSPACE = 1 << 0,  /* K */
    CB_NOTIFY_KEYEVENT = 1 << 1,  /* E */
    CB_NOTIFY_GENERIC = 1 << 2,   /* g */
    CB_NOTIFY_STRING = 1 << 3,    /* $ */
    CB_NOTIFY_LIST = 1 << 4,      /* l */
    CB_NOTIFY_SET = 1 << 5,       /* s */
    CB_NOTIFY_HASH = 1 << 6,      /* h */
    CB_NOTIFY_ZSET = 1 << 7,      /* z */
    CB_NOTIFY_EXPIRED = 1 << 8,   /* x */
    CB_NOTIFY_EVICTED = 1 << 9,   /* e */
    CB_NOTIFY_STREAM = 1 << 10,   /* t */
    CB_NOTIFY_KEY_MISS = 1 << 11, /* m (not part of A) */
    CB_NOTIFY_LOADED = 1 << 12,   /* module use only */
    CB_NOTIFY_MODULE = 1 << 13,   /* d */
    CB_NOTIFY_NEW = 1 << 14,      /* n (not part of A) */
};
#define CB_NOTIFY_ALL (CB_NOTIFY_GENERIC | CB_NOTIFY_STRING | CB_NOTIFY_LIST | \
    CB_NOTIFY_SET | CB_NOTIFY_HASH | CB_NOTIFY_ZSET | CB_NOTIFY_EXPIRED |     \
    CB_NOTIFY_EVICTED | CB_NOTIFY_STREAM | CB_NOTIFY_MODULE)

extern cb_config g_config;

/* Directives that may repeat and are applied once the command table
 * exists ("user", "rename-command"): kept as word lists in file order.
 * Count of lines for name / the words of line i (argv[0] is the first
 * word after the directive name). */
int config_deferred_count(const char *name);
char *const *config_deferred_at(const char *name, int i, int *argc);

/* Reset g_config to the embedded defaults. */
void config_init_defaults(void);
/* Load from argv (redis-server syntax: optional file, then --name value...,
 * "-" reads the file from stdin). On error prints "file:line directive: why"
 * style diagnostics to stderr and returns -1. */
int config_load_argv(int argc, char **argv);
/* Parse config text (file contents); used by tests. 0 ok, -1 and *err set
 * (caller frees with cb_free). */
int config_load_string(const char *text, const char *fname, char **err);

/* CONFIG SET of several name/value pairs, all or nothing. 0 ok, else -1 and
 * *err is Redis's exact error text without the "ERR " prefix, always
 * cb_malloc'd (caller frees with cb_free). Protected configs are refused. */
int config_set_many(int n, const char *const *names, const size_t *nlen,
                    const char *const *values, const size_t *vlen, char **err);
/* Same, but protected configs are allowed when enable-protected-configs is
 * "yes", or "local" and client_is_local. */
int config_set_many_from(int n, const char *const *names, const size_t *nlen,
                         const char *const *values, const size_t *vlen,
                         int client_is_local, char **err);
/* Visit every directive whose name or alias matches a glob pattern:
 * fn(name, value) with the value as CONFIG GET prints it. */
void config_get_matching(const char *pattern, size_t plen,
                         void (*fn)(void *priv, const char *name, const char *value),
                         void *priv);
/* CONFIG REWRITE: 0 ok, -1 with *err set (cb_malloc'd, no "ERR " prefix). */
int config_rewrite(char **err);
/* CONFIG REWRITE writes "user" lines from this provider (acl.c registers
 * it at start): an array of n cb_malloc'd lines (the caller frees them and
 * the array); none when users live in an aclfile. */
void config_set_user_lines_provider(char **(*fn)(int *n));
/* Free every string g_config owns (tests, leak checkers). */
void config_free(void);
/* Print "name value" of every directive through fn, skipping SENSITIVE ones
 * (for start-up logging). */
void config_log_values(void (*fn)(void *priv, const char *name, const char *value),
                       void *priv);

#endif
