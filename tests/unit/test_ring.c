/* test_ring.c — CUnit tests for the SPSC ring (platform/ring.c): capacity
 * rounding, full/empty edges, wrap-around, and a two-thread run moving 10M
 * items that must arrive complete and in order.
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdint.h>

#include "../../platform/ring.h"

#define ITEMS 10000000ull

static void test_capacity_rounding(void)
{
    cb_ring *r = ring_create(5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    int ok = 0;
    for (uintptr_t i = 1; i <= 100; i++)
        if (ring_enqueue(r, (void *)i) == 0) ok++;
    CU_ASSERT_EQUAL(ok, 8); /* 5 rounds up to 8 */
    CU_ASSERT_EQUAL(ring_count(r), 8);
    ring_free(r);

    r = ring_create(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(ring_enqueue(r, (void *)1), 0);
    CU_ASSERT_EQUAL(ring_enqueue(r, (void *)2), -1);
    CU_ASSERT_PTR_EQUAL(ring_dequeue(r), (void *)1);
    CU_ASSERT_PTR_NULL(ring_dequeue(r));
    ring_free(r);
}

static void test_empty_full_wrap(void)
{
    cb_ring *r = ring_create(4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_PTR_NULL(ring_dequeue(r));
    CU_ASSERT_EQUAL(ring_count(r), 0);
    uintptr_t next_in = 1, next_out = 1;
    /* Many laps of partial fills so the indexes wrap the mask many times. */
    for (int lap = 0; lap < 1000; lap++) {
        int n = 1 + lap % 4;
        for (int i = 0; i < n; i++) CU_ASSERT_EQUAL(ring_enqueue(r, (void *)next_in++), 0);
        CU_ASSERT_EQUAL(ring_count(r), (size_t)n);
        if (n == 4) CU_ASSERT_EQUAL(ring_enqueue(r, (void *)99), -1);
        for (int i = 0; i < n; i++) CU_ASSERT_PTR_EQUAL(ring_dequeue(r), (void *)next_out++);
        CU_ASSERT_PTR_NULL(ring_dequeue(r));
    }
    ring_free(r);
}

static void *producer(void *arg)
{
    cb_ring *r = arg;
    for (uint64_t i = 1; i <= ITEMS; i++)
        while (ring_enqueue(r, (void *)(uintptr_t)i) != 0) {
        }
    return NULL;
}

static void *consumer(void *arg)
{
    cb_ring *r = arg;
    uint64_t expect = 1, bad = 0;
    while (expect <= ITEMS) {
        void *p = ring_dequeue(r);
        if (!p) continue;
        if ((uint64_t)(uintptr_t)p != expect) bad++;
        expect++;
    }
    return (void *)(uintptr_t)bad;
}

static void test_two_threads_in_order(void)
{
    cb_ring *r = ring_create(1024);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    pthread_t p, c;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&c, NULL, consumer, r), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&p, NULL, producer, r), 0);
    void *bad = NULL;
    pthread_join(p, NULL);
    pthread_join(c, &bad);
    CU_ASSERT_EQUAL((uintptr_t)bad, 0);
    CU_ASSERT_EQUAL(ring_count(r), 0);
    CU_ASSERT_PTR_NULL(ring_dequeue(r));
    ring_free(r);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("ring", NULL, NULL);
    CU_add_test(s, "capacity rounding", test_capacity_rounding);
    CU_add_test(s, "empty, full, wrap-around", test_empty_full_wrap);
    CU_add_test(s, "10M items across two threads, in order", test_two_threads_in_order);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
