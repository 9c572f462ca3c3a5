/* stress_ring.c - two threads push sequence numbers through a small SPSC ring and the consumer
 * checks that every number arrives once, in order, with its payload intact. Built and run under
 * ThreadSanitizer by scripts/test.sh (a data race in the ring's protocol is reported there), and
 * plainly by ctest (label "stress"). */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/ring.h"

enum { RING_SIZE = 64, BURST = 7 };

struct item {
    uint64_t seq;
    uint64_t check; /* a function of seq: a torn copy shows up as a mismatch */
};

static uint64_t total = 5000000;

static uint64_t item_check(uint64_t seq)
{
    return seq * 0x9e3779b97f4a7c15ull ^ 0xdeadbeefull;
}

static void *producer(void *arg)
{
    struct ring_spsc *r = arg;
    struct item buf[BURST];
    uint64_t next = 0;
    while (next < total) {
        size_t n = 0;
        for (; n < BURST && next + n < total; n++) {
            buf[n].seq = next + n;
            buf[n].check = item_check(next + n);
        }
        size_t done = 0;
        while (done < n) {
            size_t k = ring_spsc_push_burst(r, buf + done, n - done);
            if (k == 0)
                sched_yield();
            done += k;
        }
        next += n;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        total = strtoull(argv[1], NULL, 10);
    struct ring_spsc *r = ring_spsc_create(RING_SIZE, sizeof(struct item));
    if (!r)
        return 1;
    pthread_t t;
    if (pthread_create(&t, NULL, producer, r) != 0)
        return 1;
    struct item buf[BURST + 3];
    uint64_t expect = 0, errors = 0;
    while (expect < total) {
        size_t n = ring_spsc_pop_burst(r, buf, BURST + 3);
        if (n == 0)
            sched_yield();
        for (size_t i = 0; i < n; i++, expect++)
            if (buf[i].seq != expect || buf[i].check != item_check(expect))
                errors++;
    }
    pthread_join(t, NULL);
    ring_spsc_destroy(r);
    printf("stress_ring: %llu items through a ring of %d, %llu errors\n", (unsigned long long)total,
           RING_SIZE, (unsigned long long)errors);
    printf("%d passed, %d failed\n", errors == 0, errors != 0);
    return errors == 0 ? 0 : 1;
}
