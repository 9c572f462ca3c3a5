/* api.h - ddosd's REST API (libmicrohttpd): health, threat queries, reports, CrowdSec decisions,
 * nginx auth_request checks, verdict listings, statistics and Prometheus metrics.
 * Every endpoint, status and example: docs/api.md.
 *
 * The API reads verdicts from a struct verdict_store (thread-safe) and asks the daemon for
 * everything else through struct api_hooks, whose functions are called from the API's threads
 * and must be thread-safe and quick (no I/O): the daemon answers them from atomics or copies.
 * The API never reaches into the pipeline.
 *
 * Threads: api_start() starts libmicrohttpd's thread pool (api.threads) and returns; api_stop()
 * stops it. api_reopen_log() may be called from any thread (SIGUSR1 handling). */
#ifndef DD_API_API_H
#define DD_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/config.h"
#include "verdicts/verdict.h"
#include "verdicts/trail.h"
#include "verdicts/verdict_store.h"

enum { API_DETAIL_MAX = 160 };

/* The daemon's state for /health. */
struct api_health {
    bool capture_ok;                     /* false: 503 */
    char capture_detail[API_DETAIL_MAX]; /* "eth0 live", "replaying 2/5 files", "capture failed:
                                            ..." */
    bool model_ok;                       /* false: 503 (a configured model is not loaded) */
    char model_detail[API_DETAIL_MAX];   /* "loaded", "rate rules only", "load failed: ..." */
    char model_version[VERDICT_MODEL_VERSION_MAX];
    bool redis_enabled;
    bool redis_connected; /* enabled but not connected: "degraded", still 200 */
    char redis_detail[API_DETAIL_MAX];
    char sensor[VERDICT_SENSOR_MAX];
    double uptime_s;
    uint64_t packets;  /* received so far */
    uint64_t flows;    /* flows scored so far */
    uint64_t verdicts; /* IPs with a verdict now */
};

enum api_counter_kind { API_COUNTER = 0, API_GAUGE = 1 };

/* One pipeline counter for /api/stats and /metrics. name is a Prometheus metric name without
 * the "ddosd_" prefix ("packets_received_total"); label/label_value an optional single label
 * (NULL when none), e.g. "kind"/"trunc_tcp". Strings must be static (they outlive the call). */
struct api_counter {
    const char *name;
    const char *help;
    const char *label;
    const char *label_value;
    uint64_t value;
    uint8_t kind; /* enum api_counter_kind */
};

struct api_hooks {
    void *user;
    /* Fills *out. Required. */
    void (*health)(void *user, struct api_health *out);
    /* Writes up to max counters into out; returns how many. Required. */
    size_t (*counters)(void *user, struct api_counter *out, size_t max);
    /* An authenticated report: the daemon queues it to raise the IP's verdict (v: ip, level,
     * role attacker unless the report says victim, attack_type, reasons = report) in the
     * pipeline. Returns 0 when queued, or -EAGAIN when the queue is full: the API then answers
     * 503 with Retry-After and stores nothing, so a report answered "recorded" is always both
     * queued and in the store. Called before the API merges the report into the store. May be
     * NULL (the store alone). */
    int (*report)(void *user, const struct verdict *v);
    /* /api/threat-analysis found no entry for key's address: the daemon may look it up
     * elsewhere (an API-only node reads Redis: verdicts/redis_follow.h) and fill *out. Must be
     * bounded (it runs in the request). May be NULL. */
    bool (*lookup)(void *user, const struct verdict *key, struct verdict_store_entry *out);
};

struct api_options {
    const struct ddosd_config *cfg; /* api.*, decisions.levels, bouncer_keys, redis.*, cache.ttl,
                                       sensor.id; borrowed, must outlive the server */
    const char *secret_key;         /* SECRET_KEY from the environment or .env; NULL or "" when
                                       unset: authenticated endpoints answer 503 with a detail
                                       saying how to set it (bouncer keys still work) */
    const char *access_log_path;    /* NULL: no access log; "-": stderr */
    struct verdict_store *store;    /* borrowed */
    struct trail *trail;            /* events and incidents for the dashboard; borrowed; NULL:
                                       /api/incidents, /api/events, /api/timeseries list none */
    struct api_hooks hooks;
};

struct api_server;

/* Binds api.listen (port 0 picks a free port: see api_port) and starts serving. Returns NULL
 * with one actionable line in err ("cannot listen on 127.0.0.1:8000: address in use; ..."). */
DD_NODISCARD struct api_server *api_start(const struct api_options *o, char *err, size_t err_len);

/* Stops serving (in-flight requests finish), closes logs and frees. Accepts NULL. */
void api_stop(struct api_server *s);

/* Reopens the access log (log rotation). Returns 0 or a negative errno (the old file is kept). */
int api_reopen_log(struct api_server *s);

/* The bound TCP port. */
uint16_t api_port(const struct api_server *s);

#endif
