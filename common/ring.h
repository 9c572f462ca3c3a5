/* ring.h - a lock-free single-producer single-consumer ring of fixed-size values.
 *
 * One thread pushes, one thread pops; neither ever blocks or takes a lock. Elements are copied
 * in and out (rings carry values, not pointers), in bursts. Capacity is a power of two; head and
 * tail are free-running 64-bit counters on separate cache lines, so "full" and "empty" need no
 * wasted slot and the two threads never write the same line.
 *
 * Memory ordering (the whole protocol):
 *   producer: loads tail (its own index) relaxed, loads head with ACQUIRE (pairs with the
 *             consumer's release store of head: the slots it freed are really free), copies the
 *             elements, then stores tail with RELEASE (pairs with the consumer's acquire load of
 *             tail: the consumer sees the copied bytes).
 *   consumer: mirrors it: loads head relaxed, tail with ACQUIRE, copies out, stores head RELEASE.
 * A full ring makes push return fewer than asked: the caller decides to drop and count (capture)
 * or to retry (offline replay, where nothing may be lost). */
#ifndef DD_COMMON_RING_H
#define DD_COMMON_RING_H

#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

struct ring_spsc;

/* Creates a ring of `capacity` elements (rounded up to a power of two, at least 2) of
 * elem_size bytes each. Returns NULL after logging why. */
struct ring_spsc *ring_spsc_create(size_t capacity, size_t elem_size);

/* Frees the ring. Accepts NULL. No thread may be using it. */
void ring_spsc_destroy(struct ring_spsc *r);

/* Producer only. Copies up to n elements from elems; returns how many were pushed (0..n). */
DD_NODISCARD size_t ring_spsc_push_burst(struct ring_spsc *r, const void *elems, size_t n);

/* Consumer only. Copies up to max elements into out; returns how many were popped (0..max). */
DD_NODISCARD size_t ring_spsc_pop_burst(struct ring_spsc *r, void *out, size_t max);

/* For a thread facing an empty ring (consumer) or a full one (producer that must not drop):
 * waits a little longer each call since *spins was last reset to 0 (spin, then yield, then
 * sleep 50 us, then 1 ms), so a busy pipeline reacts at once and an idle one costs no CPU. */
void ring_spsc_backoff(unsigned *spins);

/* Elements currently queued: a snapshot, for statistics only (it may be stale on return). */
size_t ring_spsc_count(const struct ring_spsc *r);

size_t ring_spsc_capacity(const struct ring_spsc *r);

#endif
