/* test_ring.c - unit tests of the SPSC ring (common/ring.c), single-threaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/ring.h"

struct elem {
    uint64_t seq;
    char pad[20]; /* an odd size: copies must not assume alignment to the size */
};

static void test_ring_capacity_rounds_up_to_power_of_two(void **state)
{
    (void)state;
    struct ring_spsc *r = ring_spsc_create(5, sizeof(uint32_t));
    assert_non_null(r);
    assert_int_equal(ring_spsc_capacity(r), 8);
    ring_spsc_destroy(r);
    r = ring_spsc_create(0, sizeof(uint32_t));
    assert_int_equal(ring_spsc_capacity(r), 2);
    ring_spsc_destroy(r);
    ring_spsc_destroy(NULL);
}

static void test_ring_push_pop_fifo(void **state)
{
    (void)state;
    struct ring_spsc *r = ring_spsc_create(4, sizeof(uint32_t));
    uint32_t in[4] = {1, 2, 3, 4}, out[4] = {0};
    assert_int_equal(ring_spsc_push_burst(r, in, 4), 4);
    assert_int_equal(ring_spsc_count(r), 4);
    assert_int_equal(ring_spsc_pop_burst(r, out, 4), 4);
    assert_memory_equal(in, out, sizeof(in));
    assert_int_equal(ring_spsc_pop_burst(r, out, 4), 0);
    ring_spsc_destroy(r);
}

static void test_ring_full_pushes_partially(void **state)
{
    (void)state;
    struct ring_spsc *r = ring_spsc_create(4, sizeof(uint32_t));
    uint32_t in[6] = {1, 2, 3, 4, 5, 6}, out[6];
    assert_int_equal(ring_spsc_push_burst(r, in, 6), 4);
    assert_int_equal(ring_spsc_push_burst(r, in + 4, 2), 0);
    assert_int_equal(ring_spsc_pop_burst(r, out, 1), 1);
    assert_int_equal(out[0], 1);
    assert_int_equal(ring_spsc_push_burst(r, in + 4, 2), 1);
    assert_int_equal(ring_spsc_pop_burst(r, out, 6), 4);
    uint32_t want[4] = {2, 3, 4, 5};
    assert_memory_equal(out, want, sizeof(want));
    ring_spsc_destroy(r);
}

static void test_ring_wraps_around_in_bursts(void **state)
{
    (void)state;
    struct ring_spsc *r = ring_spsc_create(8, sizeof(struct elem));
    uint64_t next_in = 0, next_out = 0;
    struct elem buf[5];
    /* Bursts of 5 through a ring of 8 cross the end of the storage at every offset. */
    for (int round = 0; round < 1000; round++) {
        for (int i = 0; i < 5; i++) {
            memset(&buf[i], 0, sizeof(buf[i]));
            buf[i].seq = next_in + (uint64_t)i;
        }
        size_t pushed = ring_spsc_push_burst(r, buf, 5);
        next_in += pushed;
        size_t popped = ring_spsc_pop_burst(r, buf, 3 + (size_t)(round % 3));
        for (size_t i = 0; i < popped; i++)
            assert_int_equal(buf[i].seq, next_out++);
    }
    while (ring_spsc_pop_burst(r, buf, 1) == 1)
        assert_int_equal(buf[0].seq, next_out++);
    assert_int_equal(next_in, next_out);
    assert_true(next_out > 3000);
    ring_spsc_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_capacity_rounds_up_to_power_of_two),
        cmocka_unit_test(test_ring_push_pop_fifo),
        cmocka_unit_test(test_ring_full_pushes_partially),
        cmocka_unit_test(test_ring_wraps_around_in_bursts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
