/* lfu.c — the clocks behind OBJECT IDLETIME / OBJECT FREQ and eviction.
 *
 * An object's 24-bit lru field holds either an LRU clock (seconds, wrapping
 * at 2^24) or, under an LFU policy, 16 bits of "minutes" (wrapping at 2^16)
 * and an 8-bit logarithmic access counter. The counter grows with
 * probability 1 / ((counter - 5) * lfu-log-factor + 1) and loses one point
 * per lfu-decay-time minutes without access, as Redis documents it for
 * maxmemory-policy *-lfu. Pure functions: callers pass the time and the rng.
 */
#include "db.h"
#include "../platform/util.h"

unsigned lru_clock_of(long long now_ms)
{
    return (unsigned)((now_ms / OBJ_LRU_CLOCK_RESOLUTION) & OBJ_LRU_CLOCK_MAX);
}

unsigned long long obj_idle_ms(const cb_obj *o, unsigned lru_clock)
{
    unsigned long long ticks;
    if (lru_clock >= o->lru)
        ticks = lru_clock - o->lru;
    else /* the clock wrapped since the object was touched */
        ticks = (unsigned long long)lru_clock + (OBJ_LRU_CLOCK_MAX - o->lru);
    return ticks * OBJ_LRU_CLOCK_RESOLUTION;
}

unsigned lfu_time_minutes(long long now_ms)
{
    return (unsigned)((now_ms / 1000 / 60) & 0xffff);
}

/* Minutes since the 16-bit stamp, allowing for one wrap. */
static unsigned long lfu_elapsed(unsigned stamp, long long now_ms)
{
    unsigned now = lfu_time_minutes(now_ms);
    if (now >= stamp) return now - stamp;
    return 65535 - stamp + now;
}

uint8_t lfu_log_incr(uint8_t counter, int log_factor, uint64_t *rng)
{
    if (counter == 255) return 255;
    double r = (double)(util_rand64(rng) >> 11) * (1.0 / 9007199254740992.0);
    double base = (double)counter - LFU_INIT_VAL;
    if (base < 0) base = 0;
    double p = 1.0 / (base * log_factor + 1);
    if (r < p) counter++;
    return counter;
}

unsigned long lfu_decr_and_return(const cb_obj *o, long long now_ms, int decay_time)
{
    unsigned stamp = o->lru >> 8;
    unsigned long counter = o->lru & 255;
    unsigned long periods = decay_time ? lfu_elapsed(stamp, now_ms) / (unsigned long)decay_time : 0;
    if (periods) counter = periods > counter ? 0 : counter - periods;
    return counter;
}
