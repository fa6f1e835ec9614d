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
 *   functions.c   process-wide function library registry
 *   func_lua.c    library code in a VM, redis.register_function
 *   fn_dump.c     FUNCTION DUMP / RESTORE payloads, RDB hooks
 *   cmd_function.c  FCALL / FCALL_RO / FUNCTION handlers
 *   lua_cmsgpack.c, lua_struct.c  the cmsgpack and struct libraries
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
    const char *fname;       /* FCALL: the function's name; NULL for EVAL */
    unsigned flags;          /* SCRIPT_FLAG_* */
    int read_only;           /* EVAL_RO / EVALSHA_RO or no-writes */
    int wrote;               /* a write command ran: SCRIPT KILL refuses */
    int oom;                 /* out of memory when it started (no-flags scripts) */
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
    uint64_t fn_gen;         /* function registry generation its callbacks match */
    struct fn_lib *fn_loading; /* the library whose code runs now (FUNCTION LOAD) */
    long long fn_load_start_ms; /* when it started (the load timeout) */
    struct cb_ldb *ldb;      /* the debugging session of the script running now */
} cb_script_vm;

/* A function library: its code and the functions the code registered. */
typedef struct fn_func {
    char *name;
    char *desc;              /* NULL when not given */
    unsigned flags;          /* SCRIPT_FLAG_* */
} fn_func;

typedef struct fn_lib {
    char *name;
    char *code;
    size_t codelen;
    int nfuncs;
    fn_func *funcs;
} fn_lib;

/* How new libraries join the registry. */
enum { FN_POLICY_APPEND = 0, FN_POLICY_REPLACE = 1, FN_POLICY_FLUSH = 2 };

/* functions.c */
fn_lib *fn_lib_new(const char *name, size_t nlen, const char *code, size_t clen);
void fn_lib_free(fn_lib *l);
/* Adds a function; -1 when the library already has one of that name. */
int fn_lib_add_func(fn_lib *l, const char *name, size_t nlen, const char *desc, size_t dlen,
                    unsigned flags);
int fn_registry_exists(const char *name);
/* Adds libs (taking them: entries become NULL) under policy; on a library
 * name clash under APPEND the error is exists_fmt with the name; a function
 * owned by another library fails too. 0 ok; -1 with *err (cb_malloc'd). */
int fn_registry_commit(fn_lib **libs, int n, int policy, const char *exists_fmt, char **err);
/* 0 deleted, -1 not found. */
int fn_registry_delete(const char *name, size_t len);
void fn_registry_flush(void);
uint64_t fn_registry_gen(void);
/* 0 with the function's flags and (canon non-NULL) its registered name
 * cut to cap, or -1 when no library has it; names match case-insensitively. */
int fn_registry_lookup(const char *name, size_t len, unsigned *flags, char *canon, size_t cap);
/* Deep copies of every library (free with fn_snapshot_free). */
fn_lib **fn_registry_snapshot(int *n, uint64_t *gen);
void fn_snapshot_free(fn_lib **libs, int n);
/* Libraries registered; *nfuncs gets the functions. */
size_t fn_registry_counts(size_t *nfuncs);

/* func_lua.c */
/* Flag i's name (and bit) in Redis's order; NULL past the end. */
const char *fn_flag_name(int i, unsigned *flag);
/* Runs lib's code in vm: lib->funcs gets what it registered; with install
 * the callbacks become callable by FCALL in this VM. 0 ok; -1 with *err
 * (cb_malloc'd, Redis's text). */
int fn_vm_load(cb_script_vm *vm, fn_lib *lib, int install, char **err);
/* Reloads every library in vm when the registry changed since. */
void fn_vm_sync(cb_script_vm *vm);
/* Pushes function name's callback and returns 1, or 0 (nothing pushed). */
int fn_vm_push(cb_script_vm *vm, const char *name);
/* cmd_function.c */
/* A library from its code as FUNCTION LOAD checks it (metadata, engine,
 * name, with refuse_existing a registered library of that name, then
 * running the code in vm); 0 with *out, -1 with *err (cb_malloc'd). */
int fn_create(cb_script_vm *vm, const char *code, size_t len, int refuse_existing, fn_lib **out,
              char **err);
/* Whether an FCALL (client c) may write: its function lacks no-writes. */
int fn_may_write(const cb_client *c);

/* fn_dump.c */
/* FUNCTION DUMP's payload (cbstr, caller frees). */
char *fn_dump_payload(size_t *len);
/* FUNCTION RESTORE: 0 ok, -1 with *err (cb_malloc'd). */
int fn_restore_payload(cb_script_vm *vm, const char *p, size_t len, int policy, char **err);
/* Sets persist's RDB hooks (once, at start-up). */
void fn_init(void);

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
/* A VM of no worker, current on this thread until freed (loading function
 * libraries from an RDB file, before or beside the workers). */
cb_script_vm *script_vm_standalone(void);
void script_vm_standalone_free(cb_script_vm *vm);
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
/* Runs a prepared EVAL* or FCALL for c (run: flags, sha or fname, read_only,
 * oom set) on a script client of its own; keys and arguments follow the
 * numkeys argument at argv[2]. Replies to c. */
void script_run_for(cb_client *c, cb_script_vm *vm, cb_script_run *run, int nkeys);
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
/* Runs a command on run's script client where its keys live, output
 * dropped (the debugger's undo log). */
void script_exec_internal(cb_script_run *run, int argc, const char **argv, size_t *lens);

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

/* ldb.c — the Lua debugger (SCRIPT DEBUG, redis-cli --ldb) */
typedef struct cb_ldb cb_ldb;
struct cb_command;
/* A session for client c (kernel socket) over the script body; forked is
 * SCRIPT DEBUG YES (writes rolled back at the end). */
cb_ldb *ldb_start(cb_client *c, const char *body, size_t len, int forked);
/* Sends "<endsession>", marks the client to close after its reply, frees d. */
void ldb_end(cb_ldb *d);
/* The line + count hook a debugged script runs under. */
void ldb_hook(lua_State *L, lua_Debug *ar);
/* Whether commands and replies are logged now (stepping). */
int ldb_stepping(const cb_ldb *d);
void ldb_log_command(cb_ldb *d, int argc, const char *const *argv, const size_t *lens);
void ldb_log_error(cb_ldb *d, const char *msg, size_t len);
void ldb_log_reply(cb_ldb *d, const char *reply, size_t len);
/* redis.debug() and redis.breakpoint(). */
int ldb_lua_debug(lua_State *L);
int ldb_lua_breakpoint(lua_State *L);
/* Before a script's command: a YES session saves the keys a write command
 * touches; -1 with *err (Redis-style text) when it cannot be undone. */
int ldb_undo_save(cb_ldb *d, cb_client *sc, const struct cb_command *cmd, int argc,
                  const char *const *argv, const size_t *lens, const char **err);
/* After the script: puts the saved keys back (RESTORE / DEL on run->sc). */
void ldb_undo_apply(cb_ldb *d, cb_script_run *run);

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
