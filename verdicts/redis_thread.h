/* redis_thread.h - the Redis I/O thread: owns a redis_sink (verdicts/redis_sink.h) so that the
 * verdict stage only hands verdicts and events over and never waits on the network.
 *
 * Threads: redis_thread_put, redis_thread_event, redis_thread_resync_take, redis_thread_stats
 * and redis_thread_stop are called by ONE producer thread (the verdict stage); the I/O thread is
 * internal. The hand-off is two buffers swapped under a mutex held for a copy, never across I/O.
 *
 * Bounded: the hand-off holds handoff_capacity verdicts and a quarter as many events. Low and
 * medium verdicts may fill half of it, high ones 7/8, critical ones all of it, so a burst of
 * weak verdicts cannot crowd out a critical one; what does not fit is dropped and counted
 * (stats.handoff_dropped, events_dropped). The I/O thread empties it every few milliseconds and
 * whenever a network call returns (each is bounded by the sink's timeouts). */
#ifndef DD_VERDICTS_REDIS_THREAD_H
#define DD_VERDICTS_REDIS_THREAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verdicts/redis_sink.h"

struct redis_thread;

/* Creates the sink from cfg (see redis_sink_create) and starts the thread. handoff_capacity 0
 * means 65,536 verdicts (17.8 MB per buffer of address space, touched only as used). Returns
 * NULL after logging why. */
struct redis_thread *redis_thread_start(const struct redis_sink_config *cfg,
                                        uint32_t handoff_capacity);

/* Hands v over for redis_sink_put. Never blocks beyond the hand-off mutex. Returns false when v
 * was dropped (the hand-off was full for its level; counted). */
bool redis_thread_put(struct redis_thread *t, const struct verdict *v);

/* Hands v over for redis_sink_put_sync (the final sync at the end of a run). Unlike
 * redis_thread_put it waits, in 1 ms steps, up to wait_ms for room in the hand-off (the I/O
 * thread empties it between network calls): call it only when the stage has nothing else to do.
 * Returns false when v was dropped (counted). */
bool redis_thread_put_sync(struct redis_thread *t, const struct verdict *v, uint32_t wait_ms);

/* Hands an event over for redis_sink_event. Returns false when dropped (counted). */
bool redis_thread_event(struct redis_thread *t, enum redis_sink_event_kind kind,
                        const struct verdict *v, const struct redis_sink_peer *peers,
                        size_t npeers);

/* redis_sink_resync_take, as seen by the I/O thread: true once per resync request. */
DD_NODISCARD bool redis_thread_resync_take(struct redis_thread *t);

/* The sink's counters as the I/O thread last published them (every loop, every few ms), with
 * the hand-off's own drops and what still waits in the hand-off counted as pending. */
void redis_thread_stats(struct redis_thread *t, struct redis_sink_stats *out);

/* Ends the thread and frees everything. The I/O thread first writes what waits, for up to
 * drain_ms; when *hurry (may be NULL) becomes true during that wait (a stop signal), the wait is
 * cut to hurry_ms from that moment (never lengthened). Network calls are bounded by the sink's
 * timeouts, so this returns within the budget plus one connect and one command timeout. Logs
 * what could not be written (by level). The last counters go to *final (may be NULL). Returns
 * true when everything was written. Accepts NULL. */
bool redis_thread_stop(struct redis_thread *t, uint32_t drain_ms, const _Atomic bool *hurry,
                       uint32_t hurry_ms, struct redis_sink_stats *final);

#endif
