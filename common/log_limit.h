/* log_limit.h - a token bucket for log lines that can come in floods (attack events): up to
 * `burst` lines at once, `per_s` a second after that; lines beyond are counted, and the next
 * line let through (or log_limit_flush) first reports how many were suppressed.
 *
 * Threads: one struct log_limit belongs to one thread (no locks). Header only; no allocation.
 *
 * DESIGN: the caller decides what a suppressed line costs (nothing: the full record is kept
 * elsewhere, e.g. the event trail) and what the "suppressed N" line says; this only counts. Time
 * is the caller's monotonic milliseconds, so tests drive it. */
#ifndef DD_COMMON_LOG_LIMIT_H
#define DD_COMMON_LOG_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct log_limit {
    double per_s;        /* lines per second once the burst is spent */
    double burst;        /* lines allowed at once */
    double tokens;       /* lines allowed now */
    uint64_t last_ms;    /* when tokens were last refilled (0: never) */
    uint64_t suppressed; /* lines dropped since the last report */
    uint64_t since_ms;   /* when the first of those was dropped */
    uint64_t total_suppressed;
};

static inline void log_limit_init(struct log_limit *l, double per_s, double burst)
{
    l->per_s = per_s;
    l->burst = burst;
    l->tokens = burst;
    l->last_ms = 0;
    l->suppressed = l->since_ms = l->total_suppressed = 0;
}

/* True when a line may be written at now_ms (and takes its token); false counts it suppressed. */
static inline bool log_limit_take(struct log_limit *l, uint64_t now_ms)
{
    if (l->last_ms && now_ms > l->last_ms) {
        l->tokens += (double)(now_ms - l->last_ms) / 1000.0 * l->per_s;
        if (l->tokens > l->burst)
            l->tokens = l->burst;
    }
    if (!l->last_ms || now_ms > l->last_ms)
        l->last_ms = now_ms;
    if (l->tokens >= 1.0) {
        l->tokens -= 1.0;
        return true;
    }
    if (l->suppressed++ == 0)
        l->since_ms = now_ms;
    l->total_suppressed++;
    return false;
}

/* The count of lines suppressed since the last call (0 when none), and how long ago (ms) the
 * first of them was; resets the count. The caller writes its "suppressed N" line when nonzero. */
static inline uint64_t log_limit_flush(struct log_limit *l, uint64_t now_ms, uint64_t *span_ms)
{
    uint64_t n = l->suppressed;
    *span_ms = n && now_ms > l->since_ms ? now_ms - l->since_ms : 0;
    l->suppressed = 0;
    return n;
}

#endif
