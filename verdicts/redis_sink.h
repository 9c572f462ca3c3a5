/* redis_sink.h - writes per-IP verdicts and attack events to Redis, for the verdict stage.
 *
 * Key layout, merge rules and outage behaviour are documented for operators in docs/redis.md.
 *
 * Threads: a sink is owned by ONE thread (the verdict stage). Every function must be called from
 * that thread; nothing here is locked or atomic. Other threads that want the counters receive a
 * copy of struct redis_sink_stats from the owner.
 *
 * Blocking: redis_sink_put and redis_sink_event never block and never do I/O: they update
 * in-memory tables. All network I/O happens in redis_sink_flush (and destroy), and each blocking
 * step there is bounded by the connect or command timeout, so a dead or hung Redis costs the
 * owner at most a few hundred milliseconds per reconnect attempt, and reconnect attempts back
 * off exponentially. (Host names are resolved with getaddrinfo, which no timeout bounds:
 * configure an IP address or a unix socket path.)
 *
 * Signals: writing to a socket whose peer died raises SIGPIPE; the sink blocks SIGPIPE in the
 * calling thread around its I/O and discards one it caused, so the process needs no handler. */
#ifndef DD_VERDICTS_REDIS_SINK_H
#define DD_VERDICTS_REDIS_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "verdicts/verdict.h"

enum {
    REDIS_SINK_PEERS_MAX = 8,   /* peers kept per event; more are ignored */
    REDIS_SINK_ERROR_MAX = 128, /* redis_sink_stats.last_error */
    REDIS_SINK_PREFIX_MAX = 64, /* key_prefix length */
};

/* Zero means "the default" for every number; NULL means "the default" for host and prefix. The
 * strings are copied: the caller's may be freed after create returns. */
struct redis_sink_config {
    const char *host;            /* IP address, or a unix socket path starting with '/';
                                    default "127.0.0.1" */
    uint16_t port;               /* default 6379 */
    uint32_t db;                 /* SELECT'ed after connecting when not 0 */
    const char *username;        /* ACL user; NULL: AUTH <password> alone (requirepass) */
    const char *password;        /* NULL: no AUTH */
    const char *key_prefix;      /* default "ddos:"; at most REDIS_SINK_PREFIX_MAX bytes */
    const char *sensor_id;       /* required: 1..VERDICT_SENSOR_MAX-1 bytes, no whitespace or
                                    ','; every verdict is written under this id */
    uint32_t ttl_s;              /* cache.ttl: a verdict hash lives this long after its last
                                    write; default 3600 */
    uint32_t flush_interval_ms;  /* at most one write per IP per interval; default 1000 */
    uint32_t backlog_capacity;   /* distinct IPs waiting to be written; default 100,000 */
    uint32_t events_capacity;    /* events waiting to be written; default 10,000 */
    uint32_t events_maxlen;      /* the stream is trimmed to about this length; default 10,000 */
    uint32_t batch_max;          /* verdicts (and events) per pipeline; bounds how long one
                                    flush blocks while a large backlog drains; default 1000 */
    uint32_t connect_timeout_ms; /* default 200 */
    uint32_t command_timeout_ms; /* per read or write on the socket; default 200 */
    uint32_t backoff_min_ms;     /* first reconnect delay, doubled per failure; default 100 */
    uint32_t backoff_max_ms;     /* default 5000 */
    uint32_t prune_interval_ms;  /* how often expired IPs leave the top set; default 10,000 */
};

enum redis_sink_event_kind {
    REDIS_SINK_EVENT_ATTACK_START = 0,
    REDIS_SINK_EVENT_ATTACK_END = 1,
};

/* One peer of an event: for an attacker, a victim it hit; for a victim, an attacker. */
struct redis_sink_peer {
    uint8_t ip[16];     /* IPv4 in the first 4 bytes */
    uint8_t ip_version; /* 4 or 6; other values are skipped */
    uint64_t flows;     /* flows between the two */
};

/* Counters since create. Owner thread only (copy them out for others). */
struct redis_sink_stats {
    uint64_t verdicts_put;       /* redis_sink_put calls */
    uint64_t verdicts_coalesced; /* puts that replaced a verdict already waiting for its IP */
    uint64_t verdicts_written;   /* merges Redis acknowledged */
    uint64_t verdicts_rejected;  /* dropped: Redis refused the merge with a permanent error */
    uint64_t verdicts_invalid;   /* dropped: ip_version neither 4 nor 6 */
    uint64_t backlog_dropped;    /* dropped: the backlog was full (the new verdict, or the one
                                    it evicted) */
    uint64_t pending;            /* verdicts (distinct IPs) waiting now */
    uint64_t events_put;         /* redis_sink_event calls */
    uint64_t events_written;     /* stream entries Redis acknowledged */
    uint64_t events_rejected;    /* dropped: Redis refused the XADD with a permanent error */
    uint64_t events_dropped;     /* dropped: the event queue was full */
    uint64_t events_pending;     /* events waiting now */
    uint64_t pipelines;          /* write pipelines sent */
    uint64_t redis_errors;       /* failed connects, I/O errors, error replies */
    uint64_t reconnects;         /* successful connects after the first */
    uint64_t resyncs;            /* reconnects that found a different server (run_id) */
    uint64_t noscript_fallbacks; /* pipelines that had to resend scripts with EVAL */
    uint64_t top_pruned;         /* expired IPs removed from the top set */
    uint32_t backoff_ms;         /* delay before the next reconnect attempt (0 when connected) */
    bool connected;
    char last_error[REDIS_SINK_ERROR_MAX]; /* "" until the first error */
};

/* Validates cfg, allocates the backlog and event queue (sized from cfg, logged). Does no I/O:
 * the first redis_sink_flush connects. Returns NULL after logging why. */
struct redis_sink *redis_sink_create(const struct redis_sink_config *cfg);

/* Tries to write what is still waiting for up to flush_timeout_ms (ignoring the flush interval,
 * reconnecting with backoff), logs what could not be written, disconnects and frees. Accepts
 * NULL. */
void redis_sink_destroy(struct redis_sink *s, uint32_t flush_timeout_ms);

/* Queues v for its IP, replacing a verdict already waiting for that IP (coalescing: one write
 * per IP per interval). v is copied; v->sensor is ignored (the sink writes cfg.sensor_id). When
 * the backlog is full and v's IP is not in it, v evicts a waiting verdict of a strictly lower
 * level found among a few sampled ones, or else is dropped; either way backlog_dropped counts
 * the loss. Never blocks. Returns false when v was dropped. */
bool redis_sink_put(struct redis_sink *s, const struct verdict *v);

/* Queues a stream entry (attack start or end) for v with up to REDIS_SINK_PEERS_MAX peers
 * (peers may be NULL when npeers is 0). Events are never coalesced. When the queue is full the
 * new event is dropped and counted (events_dropped). Never blocks. Returns false when dropped. */
bool redis_sink_event(struct redis_sink *s, enum redis_sink_event_kind kind,
                      const struct verdict *v, const struct redis_sink_peer *peers, size_t npeers);

/* Call often (every loop iteration of the owner is fine) with a monotonic clock in
 * milliseconds (redis_sink_now_ms, or a test clock). When disconnected and the backoff delay has
 * passed, reconnects (AUTH, SELECT, SCRIPT LOAD). When connected and the flush interval has
 * passed, writes up to batch_max waiting verdicts and events in one pipeline, and removes them
 * only once Redis acknowledged them; a remainder goes out on the next call without waiting for
 * the interval. Every few seconds also prunes expired IPs from the top set. On an I/O error or a
 * transient error reply (LOADING, OOM, READONLY, ...) it disconnects, keeps everything, counts
 * the error and schedules a reconnect.
 * Returns 0 when nothing failed (including "nothing was due"), -ENOTCONN when not connected
 * (backing off or the connect failed), -EIO when the write failed. Failures are counted and
 * retried, so the result is informational. */
int redis_sink_flush(struct redis_sink *s, uint64_t now_ms);

/* Returns true once after the sink connected to a server other than the one it last wrote to
 * (a different run_id: Redis restarted or failed over), whose data may be older than what the
 * sink had written. The owner should then redis_sink_put every verdict it still holds, so Redis
 * converges to the state it would have without the restart. */
DD_NODISCARD bool redis_sink_resync_take(struct redis_sink *s);

/* Copies the counters into *out. */
void redis_sink_stats_get(const struct redis_sink *s, struct redis_sink_stats *out);

/* CLOCK_MONOTONIC in milliseconds: the clock redis_sink_flush expects in production. */
static inline uint64_t redis_sink_now_ms(void)
{
    return dd_mono_ms();
}

#endif
