/* loading.c — the loader's side of start-up loading (see loading.h).
 *
 * The loader runs on the management thread while the workers run their
 * loops. What it touches (shards, and through AOF replay the state command
 * handlers reach) belongs to the workers, so it works only with all of them
 * parked (xshard_park_all), in batches of LOAD_BATCH_US. Between two
 * batches each worker takes one loop turn: it accepts, reads, answers
 * -LOADING or runs the commands flagged `loading`, flushes, and parks
 * again. Redis does the same from its loader every 2 MB
 * (processEventsWhileBlocked); a time budget keeps the reply latency flat
 * whatever the key sizes. key-load-delay sleeps with the workers free.
 */
#include "loading.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rdb.h"
#include "../dataplane/worker.h"
#include "../dataplane/xshard.h"
#include "../platform/config.h"
#include "../platform/util.h"

/* How long the loader keeps the workers parked at a time. */
#define LOAD_BATCH_US 2000

static struct {
    int on;                 /* atomic: read by every worker */
    long long start_time;   /* unix seconds */
    uint64_t total, loaded; /* atomic: bytes, all files together */
    uint64_t used_mem;      /* atomic: the RDB's used-mem aux field */
    uint64_t base;          /* loader only: where the current file starts */
    int held;               /* loader only: the workers are parked */
    uint64_t batch_us;      /* loader only: when this batch began */
    uint32_t rnd;           /* loader only: negative key-load-delay's dice */
    void (*poll)(void);     /* loader only: see loading_set_poll */
    uint64_t poll_us;       /* loader only: when it last ran */
} ld;

void loading_set_poll(void (*fn)(void)) { ld.poll = fn; }

int loading_active(void) { return __atomic_load_n(&ld.on, __ATOMIC_RELAXED); }

void loading_start(uint64_t total_bytes)
{
    ld.start_time = (long long)time(NULL);
    ld.base = 0;
    ld.rnd = (uint32_t)util_ustime() | 1u;
    __atomic_store_n(&ld.total, total_bytes, __ATOMIC_RELAXED);
    __atomic_store_n(&ld.loaded, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&ld.used_mem, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&ld.on, 1, __ATOMIC_RELEASE);
}

void loading_file(uint64_t base)
{
    ld.base = base;
    __atomic_store_n(&ld.loaded, base, __ATOMIC_RELAXED);
}

void loading_hold(void)
{
    if (ld.held || !loading_active()) return;
    xshard_park_all();
    ld.held = 1;
    ld.batch_us = util_monotonic_us();
}

static void let_go(void)
{
    if (!ld.held) return;
    xshard_release_all();
    ld.held = 0;
}

/* Redis's debugging delay: d > 0 sleeps d us; d < 0 sleeps 1 us once in
 * -d calls (shorter sleeps cost a context switch anyway). Returns the
 * microseconds it will sleep. */
static int delay_for(int d)
{
    if (d >= 0) return d;
    ld.rnd = ld.rnd * 1103515245u + 12345u;
    return (ld.rnd >> 8) % (uint32_t)(-(long long)d) == 0 ? 1 : 0;
}

int loading_tick(uint64_t offset)
{
    __atomic_store_n(&ld.loaded, ld.base + offset, __ATOMIC_RELAXED);
    uint64_t now = util_monotonic_us();
    if (ld.poll && now - ld.poll_us >= LOAD_BATCH_US) {
        ld.poll_us = now;
        ld.poll();
    }
    if (__atomic_load_n(&g_server.shutdown_asap, __ATOMIC_ACQUIRE)) return -1;
    int us = delay_for(g_config.key_load_delay);
    if (us > 0) {
        let_go();
        usleep((useconds_t)us);
    } else if (ld.held && now - ld.batch_us >= LOAD_BATCH_US) {
        let_go(); /* each worker takes one loop turn before it parks again */
    }
    loading_hold();
    return 0;
}

void loading_stop(void)
{
    let_go();
    __atomic_store_n(&ld.on, 0, __ATOMIC_RELEASE);
}

void loading_note_used_mem(uint64_t bytes)
{
    __atomic_store_n(&ld.used_mem, bytes, __ATOMIC_RELAXED);
}

static void aux_seen(void *priv, const rdb_load_event *ev)
{
    (void)priv;
    if (ev->kind == RDB_EV_AUX && ev->alen == 8 && !memcmp(ev->a, "used-mem", 8))
        loading_note_used_mem(strtoull(ev->b, NULL, 10));
}

void loading_attach(rdb_load_info *info)
{
    info->progress = loading_tick;
    info->hook = aux_seen;
    info->hook_priv = NULL;
}

cbstr loading_info_fields(cbstr s)
{
    if (!loading_active()) return s;
    uint64_t total = __atomic_load_n(&ld.total, __ATOMIC_RELAXED);
    uint64_t done = __atomic_load_n(&ld.loaded, __ATOMIC_RELAXED);
    if (done > total) done = total;
    /* Redis's estimate: the rest at the rate seen so far. */
    long long elapsed = (long long)time(NULL) - ld.start_time;
    long long eta = elapsed <= 0 ? 1 : (long long)((double)elapsed * (double)(total - done) /
                                                   (double)(done + 1));
    return cbstr_catfmt(s,
                        "loading_start_time:%lld\r\n"
                        "loading_total_bytes:%llu\r\n"
                        "loading_rdb_used_mem:%llu\r\n"
                        "loading_loaded_bytes:%llu\r\n"
                        "loading_loaded_perc:%.2f\r\n"
                        "loading_eta_seconds:%lld\r\n",
                        ld.start_time, (unsigned long long)total,
                        (unsigned long long)__atomic_load_n(&ld.used_mem, __ATOMIC_RELAXED),
                        (unsigned long long)done, (double)done * 100.0 / (double)(total + 1),
                        eta);
}
