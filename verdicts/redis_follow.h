/* redis_follow.h - keeps a verdict store current with the merged verdicts in Redis: the reader
 * side of docs/redis.md, for an API-only node (`ddosd --api-only`) and for a sensor whose API
 * answers from every sensor's view.
 *
 * What it reads (layout: docs/redis.md): the `<prefix>events` stream with XREAD BLOCK (an
 * attack_start reaches the store within one round trip of the sink's write), and every
 * poll_interval_ms the `<prefix>top` set, fetching (HGETALL + PTTL) each address that is new or
 * whose score changed plus a rotating slice of the others (catches changes that move no score,
 * like a second sensor joining), and dropping addresses that left it (every sensor's evidence
 * expired). A verdict read from a hash becomes a struct verdict: threat_level, score, role and
 * the leading sensor's descriptive fields; `sensor` holds the leading sensor first, then the
 * other live sensors that hold the address ("edge-fra-1,edge-ams-2", cut at a whole id when it
 * does not fit); expires_ms is the hash's own expiry. Each live sensor's `sensor:<id>` field
 * becomes a view (struct verdict_views: its level, score, pps and last_seen; at most
 * VERDICT_VIEWS_MAX, the leader first) stored with the entry (verdict_store_put_views), so the
 * API can show who saw the address at which level (in RAISE mode only when another sensor holds
 * it too: an address this sensor alone saw keeps its own document); a field with an id that is
 * not a valid sensor id or a malformed value is refused and counted (bad_views).
 *
 * Modes: REDIS_FOLLOW_MIRROR (API-only node) makes the store a mirror of Redis. REDIS_FOLLOW_RAISE
 * (a sensor) only adds what this sensor does not already know better: a remote verdict replaces
 * an entry that came from Redis, or a local one of a lower or equal level; a local entry above it
 * is kept. (The verdict stage, for its part, does not lower an entry that came from Redis:
 * redis_follow_keeps_remote.)
 *
 * Outages: when Redis is gone the store keeps its last state (nothing is removed for want of an
 * answer), the follower reconnects with backoff (through Sentinel when configured: every
 * reconnect asks again) and resynchronises with a full poll. The state is in the stats
 * (connected, last_error) for /health ("degraded").
 *
 * Threads: create starts one thread that owns the connection; stats_get and
 * redis_follow_keeps_remote may be called from any thread; destroy joins it. */
#ifndef DD_VERDICTS_REDIS_FOLLOW_H
#define DD_VERDICTS_REDIS_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "verdicts/redis_conn.h"
#include "verdicts/verdict_store.h"

enum redis_follow_mode { REDIS_FOLLOW_MIRROR = 0, REDIS_FOLLOW_RAISE = 1 };

struct redis_follow_config {
    struct redis_conn_params conn; /* strings copied; host may be "sentinel:NAME@..." */
    const char *key_prefix;        /* default "ddos:" */
    const char *sensor_id;         /* RAISE: this sensor (its own entries are "local") */
    struct verdict_store *store;   /* borrowed; must outlive the follower */
    enum redis_follow_mode mode;
    uint32_t poll_interval_ms; /* top-set poll; default 1000 */
    uint32_t refresh_per_poll; /* unchanged addresses re-read per poll; default 500 */
    uint32_t block_ms;         /* XREAD BLOCK; default 100 (also the stop latency) */
};

struct redis_follow_stats {
    uint64_t events;      /* stream entries read */
    uint64_t fetched;     /* hashes read */
    uint64_t applied;     /* store puts that changed something */
    uint64_t removed;     /* addresses dropped because their hash is gone */
    uint64_t polls;       /* top-set polls */
    uint64_t errors;      /* failed connects and I/O errors */
    uint64_t reconnects;  /* successful connects after the first */
    uint64_t lookups;     /* read-throughs that asked Redis */
    uint64_t lookup_hits; /* ... and found a hash */
    uint64_t bad_views; /* sensor:<id> fields refused (bad id or value; redis_follow_parse_views) */
    uint64_t last_ok_ms; /* CLOCK_REALTIME ms of the last successful exchange; 0: never */
    bool connected;
    char server[REDIS_CONN_HOST_MAX + 8]; /* "host:port" it reads from now ("" when none) */
    char last_error[224];
};

/* Validates cfg and starts the follower thread (it connects by itself, retrying). Returns NULL
 * after logging why. */
DD_NODISCARD struct redis_follow *redis_follow_start(const struct redis_follow_config *cfg);

/* Stops and joins the thread, frees. Accepts NULL. */
void redis_follow_stop(struct redis_follow *f);

/* Copies the counters. Any thread. */
void redis_follow_stats_get(struct redis_follow *f, struct redis_follow_stats *out);

/* Read-through for a miss (the API's /api/threat-analysis): reads the address's hash now on a
 * connection of its own and, when there is one, puts it in the store and copies it to *out.
 * Returns false at once (no I/O) when the follower is not connected, when another lookup is
 * running (one at a time: misses are chosen by clients and must not multiply Redis round trips)
 * or within 1 s of a failed lookup; bounded by the connect and command timeouts otherwise. Any
 * thread. */
bool redis_follow_lookup(struct redis_follow *f, const struct verdict *key,
                         struct verdict_store_entry *out);

/* True when e (a store entry) came from Redis rather than from this sensor's own judgement: its
 * sensor field is not exactly sensor_id. The verdict stage keeps such an entry instead of
 * replacing it with a local verdict of a lower level. */
bool redis_follow_is_remote(const struct verdict *e, const char *sensor_id);

/* Fills v from a verdict hash's field/value pairs (HGETALL order, n strings). Returns 0, or
 * -EINVAL when the hash lacks a valid ip or threat_level. Exposed for tests. */
DD_NODISCARD int redis_follow_parse(const char *const *kv, const size_t *lens, size_t n,
                                    struct verdict *v);

/* Fills out with the sensor views of a verdict hash's field/value pairs: one per `sensor:<id>`
 * field whose id is a valid sensor id (1..63 of [A-Za-z0-9._:-]) and whose value is
 * "<level> <score> <unix ms> <pps> <last_seen>" (or its first three: pps 0, last_seen 0), of
 * the sensors listed in `sensors` when the hash has that field; the `sensor` field's (the
 * leader) first, then by level and score descending, then id; past VERDICT_VIEWS_MAX the rest are
 * counted in out->omitted. Score is clamped to 0..1 and a negative pps to 0; an unknown level, a
 * token that is not a finite number, a last_seen past the year 9999, a wrong token count, a bad
 * id or a repeated id refuses the field. Returns how many fields it refused. Exposed for tests. */
int redis_follow_parse_views(const char *const *kv, const size_t *lens, size_t n,
                             struct verdict_views *out);

#endif
