/* redis_sink.h - writes per-IP verdicts and attack events to Redis.
 *
 * Key layout, write rules and outage behaviour are documented for operators in docs/redis.md.
 *
 * Threads: a sink is owned by ONE thread. In ddosd that is the Redis I/O thread of
 * verdicts/redis_thread.h, so the verdict stage never waits on the network; tests drive a sink
 * directly with a test clock. Every function must be called from the owning thread; nothing
 * here is locked or atomic. Other threads that want the counters receive a copy of struct
 * redis_sink_stats from the owner.
 *
 * What is written: an address when its level, role or attack type changes, when the sink sees
 * it first, and after a resync (Redis restarted); an address whose verdict is renewed without
 * such a change only gets its TTL and its own per-sensor field refreshed, in bulk, once per
 * refresh interval. Writes of new addresses go most severe first, within a keys-per-second cap
 * and a Redis memory budget (new low and medium addresses are skipped above it).
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
    const char *host;               /* IP address, or a unix socket path starting with '/';
                                       default "127.0.0.1" */
    uint16_t port;                  /* default 6379 */
    uint32_t db;                    /* SELECT'ed after connecting when not 0 */
    const char *username;           /* ACL user; NULL: AUTH <password> alone (requirepass) */
    const char *password;           /* NULL: no AUTH */
    const char *key_prefix;         /* default "ddos:"; at most REDIS_SINK_PREFIX_MAX bytes */
    const char *sensor_id;          /* required: 1..VERDICT_SENSOR_MAX-1 bytes, no whitespace or
                                       ','; every verdict is written under this id */
    uint32_t ttl_s;                 /* cache.ttl: a verdict hash lives this long after its last
                                       write; default 3600 */
    uint32_t flush_interval_ms;     /* at most one write per IP per interval; default 1000 */
    uint32_t backlog_capacity;      /* distinct IPs waiting to be written; default 100,000 */
    uint32_t events_capacity;       /* events waiting to be written; default 10,000 */
    uint32_t events_maxlen;         /* the stream is trimmed to about this length; default 10,000 */
    uint32_t batch_max;             /* verdicts (and events) per pipeline; bounds how long one
                                       flush blocks while a large backlog drains; default 1000 */
    uint32_t connect_timeout_ms;    /* default 200 */
    uint32_t command_timeout_ms;    /* per read or write on the socket; default 200 */
    uint32_t backoff_min_ms;        /* first reconnect delay, doubled per failure; default 100 */
    uint32_t backoff_max_ms;        /* default 5000 */
    uint32_t prune_interval_ms;     /* how often expired IPs leave the top set; default 10,000 */
    uint32_t known_capacity;        /* addresses whose written state is remembered (to write only
                                       changes); default 262,144. Beyond it an address is written
                                       on every change of its verdict, as if seen first. */
    uint32_t refresh_interval_ms;   /* TTL refresh of renewed addresses; default ttl/4, at most
                                       30,000 */
    uint32_t check_interval_ms;     /* sensor registry and INFO memory; default 1000 */
    uint32_t max_memory_mb;         /* Redis memory budget (used_memory); 0: 90 % of the server's
                                       maxmemory when it has one, else none */
    uint32_t max_keys_per_second;   /* new addresses written per second; 0: no cap */
    uint32_t error_log_interval_ms; /* errors are logged at most this often, with counts;
                                       default 10,000 */
};

enum redis_sink_event_kind {
    REDIS_SINK_EVENT_ATTACK_START = 0,
    REDIS_SINK_EVENT_ATTACK_END = 1,
    REDIS_SINK_EVENT_LEVEL_CHANGE = 2, /* an open episode's level moved ("level_change") */
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
    uint64_t commands;           /* Redis commands sent (every command of every pipeline,
                                    handshakes and checks included) */
    uint64_t verdicts_unchanged; /* puts with the written level, role and type: TTL refresh only */
    uint64_t refreshed;          /* addresses whose TTL a refresh renewed */
    uint64_t refresh_gone;       /* refreshes that found the key gone (rewritten on next put) */
    uint64_t keys_new;           /* addresses written for the first time (or after a resync) */
    uint64_t keys_deferred;      /* new addresses that had to wait for the keys-per-second cap */
    uint64_t budget_skipped;     /* new low/medium addresses not written: Redis over budget */
    uint64_t oom_errors;         /* OOM replies (Redis at maxmemory) */
    uint64_t handoff_dropped;    /* redis_thread: the hand-off from the stage was full */
    uint64_t redis_used_memory;  /* bytes, from the last INFO memory (0: not known) */
    uint64_t redis_budget;       /* bytes, the budget in force (0: none) */
    bool over_budget;            /* new low/medium addresses are being skipped */
    bool shared;                 /* another live sensor writes this Redis: merge script mode */
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
 * per IP per interval). When the IP's written level, role and attack type equal v's, nothing is
 * queued: the IP is only marked renewed (its TTL and per-sensor field are refreshed in bulk;
 * verdicts_unchanged). v is copied; v->sensor is ignored (the sink writes cfg.sensor_id); a
 * verdict with the report reason scores at least its level's floor (0.5 medium, 0.75 high,
 * 0.9 critical). When the backlog is full and v's IP is not in it, v evicts the oldest waiting
 * verdict of the lowest level present if that level is strictly lower than v's, or else is
 * dropped; either way backlog_dropped counts the loss. Never blocks. Returns false when v was
 * dropped. */
bool redis_sink_put(struct redis_sink *s, const struct verdict *v);

/* redis_sink_put that queues v even when its level, role and type are the ones written: the
 * final sync at the end of a run, after which every hash holds its address's latest verdict in
 * every field (between changes only the per-sensor field follows the rates). */
bool redis_sink_put_sync(struct redis_sink *s, const struct verdict *v);

/* Queues a stream entry (attack start or end) for v with up to REDIS_SINK_PEERS_MAX peers
 * (peers may be NULL when npeers is 0). Events are never coalesced. When the queue is full the
 * new event is dropped and counted (events_dropped). Never blocks. Returns false when dropped. */
bool redis_sink_event(struct redis_sink *s, enum redis_sink_event_kind kind,
                      const struct verdict *v, const struct redis_sink_peer *peers, size_t npeers);

/* Call often (every loop iteration of the owner is fine) with a monotonic clock in
 * milliseconds (redis_sink_now_ms, or a test clock). When disconnected and the backoff delay has
 * passed, reconnects (AUTH, SELECT, SCRIPT LOAD). Every check interval it heartbeats in the
 * sensor registry, learns whether other sensors are live and reads INFO memory. When connected
 * and the flush interval has passed, writes up to batch_max waiting verdicts (critical first,
 * then high, medium, low; oldest first within a level) and events in one pipeline, plus the due
 * TTL refreshes, and removes them only once Redis acknowledged them; a remainder goes out on the
 * next call without waiting for the interval. Every few seconds also prunes expired IPs from the
 * top set. An OOM reply keeps the data and the connection and retries at the next interval; on
 * an I/O error or another transient error reply (LOADING, READONLY, ...) it disconnects, keeps
 * everything, counts the error and schedules a reconnect. Errors are logged at most once per
 * error_log_interval_ms, with counts.
 * Returns 0 when nothing failed (including "nothing was due"), -ENOTCONN when not connected
 * (backing off or the connect failed), -EIO when the write failed. Failures are counted and
 * retried, so the result is informational. */
int redis_sink_flush(struct redis_sink *s, uint64_t now_ms);

/* redis_sink_flush ignoring the flush interval (a drain). Same results. */
int redis_sink_flush_now(struct redis_sink *s, uint64_t now_ms);

/* True when nothing waits (no verdict, no event). */
bool redis_sink_idle(const struct redis_sink *s);

/* Returns true once after the sink connected to a server other than the one it last wrote to
 * (a different run_id: Redis restarted or failed over), whose data may be older than what the
 * sink had written, or after it found another live sensor while it was writing alone (its
 * plain writes may have lowered that sensor's level). The sink then forgets what it wrote; the
 * owner should redis_sink_put every verdict it still holds, so Redis converges to the state it
 * would have without the restart. */
DD_NODISCARD bool redis_sink_resync_take(struct redis_sink *s);

/* Copies the counters into *out. */
void redis_sink_stats_get(const struct redis_sink *s, struct redis_sink_stats *out);

/* CLOCK_MONOTONIC in milliseconds: the clock redis_sink_flush expects in production. */
static inline uint64_t redis_sink_now_ms(void)
{
    return dd_mono_ms();
}

#endif
