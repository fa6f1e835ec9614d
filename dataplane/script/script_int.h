/* script_int.h — what the files of dataplane/script/ share among
 * themselves: the per-worker VM, the state of the script running now, and
 * each file's entry points. Nothing outside dataplane/script/ includes it.
 *
 *   cache.c    process-wide sha1 -> body cache (SCRIPT LOAD/EXISTS/FLUSH)
 *   engine.c   Lua state set-up, compiling and calling a script
 *   sandbox.c  read-only globals and libraries
 *   api.c      the `redis` table: redis.call / pcall / error_reply / ...
 *   convert.c  RESP reply bytes -> Lua values, Lua values -> client reply
 *   busy.c     the nested poll while a script runs long; SCRIPT KILL
 *   cmd_script.c  EVAL / EVALSHA / *_RO / SCRIPT handlers, shebang flags
 */
#ifndef CB_SCRIPT_INT_H
#define CB_SCRIPT_INT_H

#include <lua.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "script.h"
#include "../client.h"

/* Shebang flags (#!lua flags=...). */
#define SCRIPT_FLAG_NO_WRITES       (1u << 0)
#define SCRIPT_FLAG_ALLOW_OOM       (1u << 1)
#define SCRIPT_FLAG_ALLOW_STALE     (1u << 2)
#define SCRIPT_FLAG_NO_CLUSTER      (1u << 3)
#define SCRIPT_FLAG_ALLOW_CROSS_SLOT (1u << 4)
#define SCRIPT_FLAG_EVAL_COMPAT     (1u << 5) /* no shebang: pre-7.0 rules */

/* The script running now on a worker. */
typedef struct cb_script_run {
    cb_client *caller;
    cb_client *sc;           /* the script's own client (redis.call) */
    char sha[41];
    unsigned flags;          /* SCRIPT_FLAG_* */
    int read_only;           /* EVAL_RO / EVALSHA_RO or no-writes */
    int wrote;               /* a write command ran: SCRIPT KILL refuses */
    int resp;                /* redis.setresp(): 2 or 3 */
    long long start_ms;
    int busy;                /* past busy-reply-threshold: serving the network */
    int killed;              /* SCRIPT KILL or shutdown asked it to stop */
} cb_script_run;

/* One Lua VM per worker (Lua states are not thread-safe). */
typedef struct cb_script_vm {
    lua_State *L;
    uint64_t gen;            /* cache generation its compiled functions belong to */
    size_t mem;              /* bytes of the Lua heap (read relaxed by INFO) */
    cb_script_run *run;      /* NULL when no script runs */
    cb_script_run *parked_run; /* another worker's busy script, while parked */
    uint64_t rand48;         /* math.random state (engine.c) */
    unsigned calls;          /* scripts run: a GC step every few */
    int globals_ref;         /* registry ref of the real globals table */
    char *readbuf;           /* the nested poll's read buffer */
} cb_script_vm;

/* cache.c */
void script_cache_init(void);
/* sha1 of body as 40 lower-case hex chars (+NUL). */
void script_sha1hex(const char *body, size_t len, char out[41]);
void script_cache_add(const char *sha, const char *body, size_t len);
/* A copy of the body (cb_free it), or NULL; sha is 40 hex chars, any case. */
char *script_cache_get(const char *sha, size_t shalen, size_t *len);
int script_cache_exists(const char *sha, size_t len);
void script_cache_flush(void);
uint64_t script_cache_gen(void);

/* engine.c */
/* The calling worker's VM, created (or reset after SCRIPT FLUSH) as needed. */
cb_script_vm *script_vm(struct cb_worker *w);
/* w's VM struct, created if needed, without starting Lua in it. */
cb_script_vm *script_vm_struct(struct cb_worker *w);
/* The VM of the calling thread's worker if it exists (Lua callbacks). */
cb_script_vm *script_vm_current(void);
/* Compile body under `sha` unless already there; 0 ok, -1 with *err set
 * (a cb_malloc'd error reply text). */
int script_vm_compile(cb_script_vm *vm, const char *sha, const char *body, size_t len,
                      char **err);
/* Run the compiled script `sha`, replying to run->caller. */
void script_vm_run(cb_script_vm *vm, cb_script_run *run, int nkeys, const char **keys,
                   const size_t *klens, int nargs, const char **args, const size_t *alens);
/* Raise {err = msg} from a C function called by Lua (msg: "-CODE text" or text). */
int script_raise(lua_State *L, const char *msg);
/* Push the error table Redis builds for an error text: "-CODE msg", or
 * "msg" which gets the ERR code unless it already has a code word. */
void script_push_error(lua_State *L, const char *msg, size_t len);

/* sandbox.c */
/* Replace real[name] (a library table) by a read-only proxy. */
void script_sandbox_protect_lib(lua_State *L, int real, const char *name);
/* Wrap the raw functions, protect the string metatable and make a read-only
 * proxy of `real` (the globals table at that index) the state's globals;
 * globals_index is its __index (upvalue 1: real). Call after the libraries. */
void script_sandbox_install(lua_State *L, int real, lua_CFunction globals_index);

/* api.c */
void script_api_open(lua_State *L);

/* convert.c */
/* Parse one RESP value at p (bytes a command replied) and push it as Lua
 * sees it; returns the position after it, NULL on malformed input. */
const char *script_resp_to_lua(lua_State *L, const char *p, const char *end);
/* Reply the value on top of the Lua stack to c; lua_resp is the script's
 * redis.setresp() protocol. Leaves the stack as it was. */
void script_lua_to_reply(cb_client *c, lua_State *L, int lua_resp);

/* cmd_script.c */
/* Shebang flags of a body (SCRIPT_FLAG_EVAL_COMPAT when it has none); 0 ok,
 * -1 with Redis's error text written to err. */
int script_parse_shebang(const char *body, size_t len, unsigned *flags, char *err, size_t errlen);

/* busy.c */
/* From the Lua count hook: enter busy mode when the threshold is passed,
 * serve the network, and return 1 when the script must stop. */
int script_busy_check(cb_script_vm *vm);
/* After the script: leave busy mode. */
void script_busy_leave(cb_script_vm *vm);
/* The busy script this worker's clients are told about (its own, or the
 * parking worker's while parked); NULL if none. */
cb_script_run *script_busy_run(struct cb_worker *w);

#endif
