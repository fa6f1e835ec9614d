/* ring.c — bounded single-producer single-consumer ring of pointers (see
 * ring.h). The producer owns `tail`, the consumer owns `head`; each publishes
 * its index with a release store and reads the other's with an acquire load,
 * so a slot written before the tail moves is visible to the consumer that
 * sees the new tail (and a slot is not overwritten before the consumer has
 * read it). Indexes run freely and are masked on use, so full is
 * tail - head == capacity and no slot is wasted.
 *
 * Each side also keeps a private copy of the other side's index and only
 * reloads it when the copy says full/empty: in the common case an operation
 * touches no cache line the other core writes, except the slot itself.
 */
#include "ring.h"
#include "mem.h"

#include <stdatomic.h>
#include <stdint.h>

/* Two lines, not one: the adjacent-line prefetcher pulls pairs of lines. */
#define RING_PAD 128

struct cb_ring {
    /* Producer side. */
    _Atomic size_t tail;
    size_t head_cache;
    char pad_prod[RING_PAD - 2 * sizeof(size_t)];
    /* Consumer side. */
    _Atomic size_t head;
    size_t tail_cache;
    char pad_cons[RING_PAD - 2 * sizeof(size_t)];
    /* Read-only after creation. */
    size_t mask;
    void *slots[];
};

cb_ring *ring_create(size_t capacity)
{
    size_t cap = 1;
    if (capacity > ((size_t)1 << (sizeof(size_t) * 8 - 2))) return NULL;
    while (cap < capacity) cap <<= 1;
    cb_ring *r = cb_try_malloc(sizeof(*r) + cap * sizeof(void *));
    if (!r) return NULL;
    atomic_init(&r->tail, 0);
    atomic_init(&r->head, 0);
    r->head_cache = 0;
    r->tail_cache = 0;
    r->mask = cap - 1;
    return r;
}

void ring_free(cb_ring *r)
{
    cb_free(r);
}

int ring_enqueue(cb_ring *r, void *item)
{
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (t - r->head_cache > r->mask) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (t - r->head_cache > r->mask) return -1;
    }
    r->slots[t & r->mask] = item;
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return 0;
}

void *ring_dequeue(cb_ring *r)
{
    size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (h == r->tail_cache) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (h == r->tail_cache) return NULL;
    }
    void *item = r->slots[h & r->mask];
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return item;
}

size_t ring_count(const cb_ring *r)
{
    /* Head first: it only grows, so a later tail is never behind it. */
    size_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
    return t - h;
}
