/* acl.h — users, their rules and the permission checks of Redis 7.0's ACL.
 *
 * A user has flags (on/off, nopass, sanitize-payload), SHA-256 password
 * hashes and a root selector plus optional extra selectors; a selector holds
 * the allowed command bits (indexed by command id, one extra bit meaning
 * "commands added later"), key patterns with read/write permission and
 * channel patterns. A command is allowed when any selector allows it.
 *
 * Threads: the user table and the users change only while every other
 * worker is parked (ACL SETUSER/DELUSER/LOAD, CONFIG SET requirepass run as
 * xshard ROUTE_ALL commands) or before the workers start; the checks read
 * them lock-free. The ACL log has its own mutex. Users that are deleted are
 * kept until acl_shutdown, because a client of another worker may still
 * point at one until it is closed. Design: docs/acl.md.
 */
#ifndef CB_ACL_H
#define CB_ACL_H

#include <stddef.h>
#include "client.h"
#include "cmd/command.h"

typedef struct cb_acl_user cb_acl_user;

/* Check results, ordered as Redis ranks them when several selectors fail. */
enum { ACL_OK = 0, ACL_DENIED_CMD = 1, ACL_DENIED_KEY = 2, ACL_DENIED_AUTH = 3,
       ACL_DENIED_CHANNEL = 4 };
/* ACL LOG contexts. */
enum { ACL_CTX_TOPLEVEL = 0, ACL_CTX_MULTI = 1, ACL_CTX_LUA = 2 };

/* Create the default user and apply requirepass, the "user" directives and
 * aclfile. Call once after command_table_init. 0 ok; -1 with a message in
 * err (start-up must stop). */
int acl_init(char *err, size_t errlen);
/* Free every user and the log (process exit). */
void acl_shutdown(void);

cb_acl_user *acl_default_user(void);
cb_acl_user *acl_lookup_user(const char *name, size_t len);
const char *acl_user_name(const cb_acl_user *u);
/* 1 when the default user needs no password (protected mode, new clients). */
int acl_default_nopass(void);
/* Whether a new connection starts authenticated (default user on+nopass). */
int acl_new_client_authenticated(void);

/* AUTH/HELLO: on success sets c->user, c->authenticated and returns 0; else
 * logs the failure (reason auth) and returns -1. */
int acl_authenticate(cb_client *c, const char *user, size_t ul, const char *pass, size_t pl);

/* Whether user u may run cmd with argv (keys, channels): ACL_OK or the
 * reason, with *errpos the offending argument index (0 for the command). */
int acl_check(const cb_acl_user *u, const cb_command *cmd, int argc, const char *const *argv,
              const size_t *lens, int *errpos);
/* The check for the client's current command; NULL user means default. */
int acl_check_client(const cb_client *c, const cb_command *cmd, int *errpos);
/* Append a denial to the ACL log (thread-safe). object NULL: derived from
 * reason (command name / argv[errpos]); user NULL: the client's. */
void acl_log_denial(cb_client *c, int reason, int context, int errpos, const cb_command *cmd,
                    const char *user, size_t ul);
/* The same for a command a script called (context lua): the object comes
 * from the script's argv, client-info and user from the calling client. */
void acl_log_denial_in_script(cb_client *caller, int reason, const cb_command *cmd,
                              const char *const *argv, const size_t *lens, int errpos);
/* Reply the -NOPERM error of a denial into msg (no trailing CRLF). */
void acl_denial_message(int reason, const cb_command *cmd, char *msg, size_t len);

/* Apply requirepass to the default user (CONFIG SET requirepass / start). */
void acl_set_requirepass(const char *pass);

/* ------------------------------------------------------ for cmd_acl.c */

/* Apply rules to user name (created if absent), all or nothing. 0 ok; -1
 * and *err set to Redis's message (cb_malloc'd, without "ERR "). */
int acl_setuser(const char *name, size_t nl, int argc, const char *const *argv,
                const size_t *lens, char **err);
/* Delete a user and close its clients; 1 deleted, 0 no such user. */
int acl_deluser(cb_client *c, const char *name, size_t nl);
/* Users sorted by name. */
int acl_user_count(void);
cb_acl_user *acl_user_at(int i);
/* "user <name> <rules>" as ACL LIST prints it (cb_malloc'd). */
char *acl_describe_user(const cb_acl_user *u);
/* ACL GETUSER reply. */
void acl_reply_getuser(cb_client *c, const cb_acl_user *u);
/* ACL LOG [count] reply / RESET. */
void acl_reply_log(cb_client *c, long long count);
void acl_log_reset(void);
/* Free the log (process exit). */
void acl_log_free(void);
/* ACL LOAD / SAVE with aclfile; 0 ok, -1 and *err (cb_malloc'd). */
int acl_load_file(const char *path, cb_client *c, char **err);
int acl_save_file(const char *path, char **err);
/* After u's rules changed: close its clients subscribed to a channel or
 * pattern the rules no longer allow, as Redis 7.0 does. */
void acl_kill_pubsub_if_needed(cb_client *me, const cb_acl_user *u);
/* Close every connection authenticated as u (other workers are parked). */
void acl_kill_clients_of(cb_client *me, const cb_acl_user *u);

#endif
