/* ring.c - the SPSC ring of common/ring.h.
 *
 * Owns the ring storage. head is written only by the consumer, tail only by the producer; each
 * sits alone on its cache line, next to a cached copy of the other side's index that only its
 * owner touches (so the fast path usually reads no line the other thread writes). */
#include "common/ring.h"

#include <sched.h>
#include <time.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

struct ring_spsc {
    /* Consumer's line. */
    _Alignas(DD_CACHELINE) _Atomic uint64_t head; /* next element to pop */
    uint64_t tail_cache;                          /* consumer's last view of tail */
    /* Producer's line. */
    _Alignas(DD_CACHELINE) _Atomic uint64_t tail; /* next free slot */
    uint64_t head_cache;                          /* producer's last view of head */
    /* Read-only after create. */
    _Alignas(DD_CACHELINE) size_t mask;
    size_t elem_size;
    unsigned char *slots;
};

struct ring_spsc *ring_spsc_create(size_t capacity, size_t elem_size)
{
    size_t cap = 2;
    while (cap < capacity)
        cap <<= 1;
    struct ring_spsc *r = aligned_alloc(DD_CACHELINE, sizeof(*r));
    if (!r)
        goto fail;
    memset(r, 0, sizeof(*r));
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->mask = cap - 1;
    r->elem_size = elem_size;
    r->slots = calloc(cap, elem_size);
    if (!r->slots)
        goto fail;
    return r;
fail:
    DD_ERROR("ring: cannot allocate %zu elements of %zu bytes", capacity, elem_size);
    ring_spsc_destroy(r);
    return NULL;
}

void ring_spsc_destroy(struct ring_spsc *r)
{
    if (!r)
        return;
    free(r->slots);
    free(r);
}

/* Copies n elements between the ring slots starting at index and buf, wrapping once. */
static void ring_copy(const struct ring_spsc *r, uint64_t index, void *buf, size_t n, int out)
{
    size_t first = (size_t)(index & r->mask);
    size_t cap = r->mask + 1;
    size_t n1 = n < cap - first ? n : cap - first;
    unsigned char *slot = r->slots + first * r->elem_size;
    unsigned char *b = buf;
    if (out) {
        memcpy(b, slot, n1 * r->elem_size);
        memcpy(b + n1 * r->elem_size, r->slots, (n - n1) * r->elem_size);
    } else {
        memcpy(slot, b, n1 * r->elem_size);
        memcpy(r->slots, b + n1 * r->elem_size, (n - n1) * r->elem_size);
    }
}

size_t ring_spsc_push_burst(struct ring_spsc *r, const void *elems, size_t n)
{
    const uint64_t cap = r->mask + 1;
    /* Our own index: only we write it. */
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (tail + n - r->head_cache > cap) {
        /* ACQUIRE pairs with the consumer's RELEASE store of head in pop_burst. */
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
    }
    uint64_t space = cap - (tail - r->head_cache);
    if (n > space)
        n = (size_t)space;
    if (n == 0)
        return 0;
    ring_copy(r, tail, (void *)(uintptr_t)elems, n, 0);
    /* RELEASE pairs with the consumer's ACQUIRE load of tail: the copied bytes are visible. */
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return n;
}

size_t ring_spsc_pop_burst(struct ring_spsc *r, void *out, size_t max)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (r->tail_cache - head < max) {
        /* ACQUIRE pairs with the producer's RELEASE store of tail in push_burst. */
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    }
    uint64_t avail = r->tail_cache - head;
    size_t n = max < avail ? max : (size_t)avail;
    if (n == 0)
        return 0;
    ring_copy(r, head, out, n, 1);
    /* RELEASE pairs with the producer's ACQUIRE load of head: we are done with these slots. */
    atomic_store_explicit(&r->head, head + n, memory_order_release);
    return n;
}

size_t ring_spsc_count(const struct ring_spsc *r)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    return (size_t)(tail - head);
}

size_t ring_spsc_capacity(const struct ring_spsc *r)
{
    return r->mask + 1;
}

void ring_spsc_backoff(unsigned *spins)
{
    if (++*spins < 64)
        return;
    if (*spins < 128) {
        sched_yield();
        return;
    }
    struct timespec ts = {0, *spins < 1024 ? 50000 : 1000000};
    nanosleep(&ts, NULL);
}
