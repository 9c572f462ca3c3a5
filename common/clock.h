/* clock.h - the one place ddosd reads the system clocks.
 *
 * Two clocks, named for what they are:
 *   - dd_mono_*: CLOCK_MONOTONIC. Never jumps (NTP steps, an operator's `date -s`): every
 *     duration, timeout, backoff, pacing and rate limit is measured with it. Its origin is
 *     arbitrary (boot), so its values mean nothing outside this process.
 *   - dd_realtime_*: CLOCK_REALTIME, time since the Unix epoch. Used where a time is shown,
 *     stored or compared across processes and hosts (log lines, verdict expiry the API reports,
 *     times written to Redis, live flow expiry next to packet timestamps).
 * Packet time (a capture's timestamps) is not read here: replays run on it and never on these.
 *
 * Header only, static inline: any thread, no state, one vDSO call each (no system call on Linux),
 * cheap enough for the paths that read the clock once per burst. */
#ifndef DD_COMMON_CLOCK_H
#define DD_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t dd_clock_ns_(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in nanoseconds, microseconds, milliseconds (truncated). */
static inline uint64_t dd_mono_ns(void)
{
    return dd_clock_ns_(CLOCK_MONOTONIC);
}

static inline uint64_t dd_mono_us(void)
{
    return dd_mono_ns() / 1000u;
}

static inline uint64_t dd_mono_ms(void)
{
    return dd_mono_ns() / 1000000u;
}

/* CLOCK_MONOTONIC in seconds, as a double (sub-microsecond resolution for ~100 days of uptime):
 * elapsed times, rates and deadlines in seconds. */
static inline double dd_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CLOCK_REALTIME: microseconds, milliseconds, whole seconds since the epoch (truncated). */
static inline uint64_t dd_realtime_us(void)
{
    return dd_clock_ns_(CLOCK_REALTIME) / 1000u;
}

static inline uint64_t dd_realtime_ms(void)
{
    return dd_clock_ns_(CLOCK_REALTIME) / 1000000u;
}

static inline uint64_t dd_realtime_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec > 0 ? (uint64_t)ts.tv_sec : 0;
}

#endif
