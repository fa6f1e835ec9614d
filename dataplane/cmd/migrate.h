/* migrate.h — MIGRATE's worker-side state (cmd_migrate.c): the cached links
 * to target instances and the migrations in flight on them. The command
 * handler itself (cmd_migrate) is declared by the generated table.
 */
#ifndef CB_MIGRATE_H
#define CB_MIGRATE_H

struct cb_worker;
struct cb_client;

/* Close links idle for 10 s (Redis's MIGRATE socket cache TTL). */
void migrate_cron(struct cb_worker *w, long long now_ms);
/* The client waiting on a migration is closing: the migration goes on (the
 * target may already hold the keys), its reply is dropped. */
void migrate_client_gone(struct cb_client *c);
/* Worker teardown: drop every link and migration. */
void migrate_worker_free(struct cb_worker *w);

#endif
