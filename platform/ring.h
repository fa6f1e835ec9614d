/* ring.h — bounded single-producer single-consumer ring of pointers, the
 * kernel-plane stand-in for rte_ring between a worker and the management
 * core. Lock-free: one thread enqueues, one dequeues.
 */
#ifndef CB_RING_H
#define CB_RING_H

#include <stddef.h>

typedef struct cb_ring cb_ring;

/* capacity is rounded up to a power of two. NULL on allocation failure. */
cb_ring *ring_create(size_t capacity);
void ring_free(cb_ring *r);
/* 0 ok, -1 full. */
int ring_enqueue(cb_ring *r, void *item);
/* NULL when empty. */
void *ring_dequeue(cb_ring *r);
size_t ring_count(const cb_ring *r);

#endif
