/* busy.c — a script that runs past busy-reply-threshold must not starve
 * the network. From the Lua count hook the worker polls its event loop in
 * a nested mode: it accepts, reads and answers, but every command except
 * the few Redis allows then (SCRIPT KILL, SHUTDOWN NOSAVE, and the
 * allow-busy ones: AUTH, HELLO, QUIT, RESET, MULTI, DISCARD, WATCH,
 * UNWATCH) gets -BUSY. The script's own caller is not read from meanwhile,
 * and nothing is freed: a client that goes away is closed once the script
 * is over (the outer loop may hold pointers to it).
 *
 * With several workers a script runs with the other workers parked. A
 * parked worker (waiting at its loop's safe point) polls the same way,
 * through script_parked_poll: its clients get BUSY too, and SCRIPT KILL or
 * SHUTDOWN NOSAVE sent to it reach the script. It does not run WATCH,
 * UNWATCH or RESET then (they change the watch registry the script's writes
 * read). The busy script is published in busy_run; busy_users counts the
 * parked workers looking at it, and the script's worker waits for them to
 * finish before its run (on its stack) goes away.
 */
#include "script_int.h"

#include <sched.h>
#include <string.h>

#include "../cmd/command.h"
#include "../conn.h"
#include "../dispatch.h"
#include "../dpdk/dpdk_driver.h"
#include "../multi.h"
#include "../worker.h"
#include "../resp/reply.h"
#include "../../platform/config.h"
#include "../../platform/log.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

static const char BUSY_ERR[] =
    "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
static const char BUSY_FN_ERR[] =
    "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

static cb_script_run *busy_run; /* the busy script, NULL if none (atomic) */
static int busy_users;           /* parked workers reading busy_run (atomic) */

/* Write what is queued, but close nothing and leave the caller alone. */
static void nested_flush(cb_worker *w) {
    cb_client *list = w->pending_write, *keep = NULL;
    w->pending_write = NULL;
    while (list) {
        cb_client *c = list;
        list = c->pending_next;
        uint32_t hold = CLIENT_CLOSE_ASAP | CLIENT_IN_CALL;
        if (!(c->flags & hold) && conn_flush(c) < 0) c->flags |= CLIENT_CLOSE_ASAP;
        if (c->out_bytes || (c->flags & (hold | CLIENT_CLOSE_AFTER_REPLY))) {
            c->pending_next = keep;
            keep = c;
        } else {
            c->flags &= ~CLIENT_PENDING_WRITE;
        }
    }
    /* Clients queued while flushing (none today) go in front. */
    cb_client **tail = &w->pending_write;
    while (*tail) tail = &(*tail)->pending_next;
    *tail = keep;
}

static void nested_poll(cb_script_vm *vm, cb_worker *w) {
    /* The outer command (or loop turn) may still be parsing the worker's
     * read buffer. */
    if (!vm->readbuf) vm->readbuf = cb_malloc(w->readbuf_size);
    char *saved = w->readbuf;
    w->readbuf = vm->readbuf;
    w->nested_poll++;
    if (w->dpdk) {
        /* Its caller (if on this worker) is inside the stack's callback. */
        cb_client *caller = vm->run && vm->run->caller->w == w ? vm->run->caller : NULL;
        ddrv_nested_poll(w, caller);
    } else {
        kdrv_poll(w, 0);
    }
    w->nested_poll--;
    w->readbuf = saved;
    nested_flush(w);
    if (w->dpdk) ddrv_tx_flush(w);
}

int script_busy_check(cb_script_vm *vm) {
    cb_script_run *run = vm->run;
    cb_worker *w = run->caller->w;
    if (w->stop || __atomic_load_n(&g_server.shutdown_asap, __ATOMIC_RELAXED))
        __atomic_store_n(&run->killed, 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&run->killed, __ATOMIC_RELAXED)) return 1;
    if (!run->busy) {
        long long elapsed = util_mstime() - run->start_ms;
        if (elapsed < g_config.busy_reply_threshold) return 0;
        cb_log(LOG_WARNING,
               "Slow script detected: still in execution after %lld milliseconds. You can try "
               "killing the script using the %s command. Script name is: %s%s.",
               elapsed, run->fname ? "FUNCTION KILL" : "SCRIPT KILL", run->fname ? "" : "f_",
               run->fname ? run->fname : run->sha);
        run->busy = 1;
        w->script_busy = 1;
        if (g_server.nworkers > 1) __atomic_store_n(&busy_run, run, __ATOMIC_RELEASE);
    }
    nested_poll(vm, w);
    if (w->stop || __atomic_load_n(&g_server.shutdown_asap, __ATOMIC_RELAXED))
        __atomic_store_n(&run->killed, 1, __ATOMIC_RELAXED);
    return __atomic_load_n(&run->killed, __ATOMIC_RELAXED);
}

void script_busy_leave(cb_script_vm *vm) {
    cb_script_run *run = vm->run;
    if (!run || !run->busy) return;
    run->busy = 0;
    run->caller->w->script_busy = 0;
    if (__atomic_load_n(&busy_run, __ATOMIC_ACQUIRE) == run) {
        __atomic_store_n(&busy_run, NULL, __ATOMIC_RELEASE);
        while (__atomic_load_n(&busy_users, __ATOMIC_ACQUIRE) > 0) sched_yield();
    }
}

int script_parked_poll(cb_worker *w) {
    if (!__atomic_load_n(&busy_run, __ATOMIC_RELAXED)) return 0;
    int polled = 0;
    __atomic_add_fetch(&busy_users, 1, __ATOMIC_ACQ_REL);
    cb_script_run *run = __atomic_load_n(&busy_run, __ATOMIC_ACQUIRE);
    if (run && run->caller->w != w) {
        polled = 1;
        cb_script_vm *vm = script_vm_struct(w);
        vm->parked_run = run;
        w->script_busy = 1;
        nested_poll(vm, w);
        w->script_busy = 0;
        vm->parked_run = NULL;
    }
    __atomic_sub_fetch(&busy_users, 1, __ATOMIC_ACQ_REL);
    return polled;
}

cb_script_run *script_busy_run(cb_worker *w) {
    cb_script_vm *vm = w->script;
    if (!vm) return NULL;
    if (vm->run && vm->run->busy) return vm->run;
    return vm->parked_run;
}

/* SHUTDOWN is allowed only with NOSAVE while a script is busy. */
static int shutdown_nosave(const cb_client *c) {
    for (int i = 1; i < c->argc; i++)
        if (arg_eq(c, i, "nosave")) return 1;
    return 0;
}

/* On a parked worker: the allow-busy commands that touch shared state the
 * running script may read. */
static int touches_shared(const cb_command *cmd) {
    return !strcmp(cmd->name, "watch") || !strcmp(cmd->name, "unwatch") ||
           !strcmp(cmd->name, "reset");
}

int script_busy_intercept(cb_client *c, const cb_command *cmd) {
    cb_script_run *run = script_busy_run(c->w);
    if (!run || c == run->caller) return 0;
    int allowed = (cmd->flags & CMD_ALLOW_BUSY) != 0;
    if (allowed && strcmp(cmd->name, "shutdown") == 0 && !shutdown_nosave(c)) allowed = 0;
    if (allowed && run->caller->w != c->w && touches_shared(cmd)) allowed = 0;
    if (!allowed) {
        reply_error(c, run->fname ? BUSY_FN_ERR : BUSY_ERR);
        multi_flag_error(c);
        return 1;
    }
    if (multi_maybe_queue(c, cmd)) return 1;
    /* Run here and now: the other workers are parked already (or there are
     * none), so no routing. */
    c->lastcmd = cmd;
    dispatch_call(c, cmd);
    c->commands++;
    return 1;
}
