/* script.h — Lua scripting (EVAL, EVALSHA, SCRIPT *), the module's public
 * face: what the dispatcher, the worker and INFO need from it. The design
 * (one Lua VM per worker, a process-wide script cache, the busy-script
 * nested poll) is described in docs/scripting.md.
 */
#ifndef CB_SCRIPT_H
#define CB_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

struct cb_worker;
struct cb_client;
struct cb_command;

/* Once at start-up, before the workers run. */
void script_init(void);
/* Free worker w's Lua VM, if it has one (worker tear-down). */
void script_worker_free(struct cb_worker *w);
/* Called by the dispatcher for every command of a client: while a script
 * runs long on this worker (past busy-reply-threshold) it answers the
 * command itself (BUSY, or runs one of the few commands allowed then) and
 * returns 1; returns 0 when no script is busy here. */
int script_busy_intercept(struct cb_client *c, const struct cb_command *cmd);
/* From a worker parked by another one (at its loop's safe point): while
 * the parking worker's script is busy, answer this worker's clients BUSY. */
int script_parked_poll(struct cb_worker *w); /* 1 when it polled */

/* Whether an EVAL/EVALSHA/FCALL may write, as Redis 7.0 decides it for
 * CLIENT PAUSE WRITE and MULTI: yes unless its script's shebang (its
 * function's flags) says no-writes (the command table cannot say: it
 * depends on the script). 0 for every other command. */
int script_may_write(const struct cb_client *c, const struct cb_command *cmd);

/* Whether an EVAL or FCALL (any variant) is refused out of memory, as Redis 7.0 derives
 * it from the script's flags: a shebang script or a function without
 * allow-oom or no-writes is deny-OOM; a script without shebang is not (its
 * deny-OOM commands are refused inside it instead). 0 for other commands. */
int script_denies_oom(const struct cb_client *c, const struct cb_command *cmd);

/* INFO memory figures. */
size_t script_vm_memory(void);       /* bytes held by every worker's Lua heap */
size_t script_cache_count(void);     /* cached scripts */
size_t script_cache_memory(void);    /* bytes held by the script cache */
size_t script_functions_count(void); /* functions of every library (FUNCTION LOAD) */
size_t script_libraries_count(void); /* function libraries */
size_t script_functions_memory(void); /* bytes held by the library registry */

#endif
