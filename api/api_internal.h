/* api_internal.h - what the API's modules share: the transport-free request core (struct
 * api_core, api_handle), the request and reply values, and each module's entry points.
 *
 * Only the api/ sources, the API's unit test and its fuzz harness include this header; the daemon
 * uses api/api.h. Module map: api.c         libmicrohttpd glue: daemon start/stop, per-connection
 * state, body upload, prebuilt responses, completion (metrics + access log) handler.c     struct
 * api_core, routing, method/auth/body checks, api_handle routes.c      /health,
 * /api/threat-analysis, /api/check, /api/verdicts, /api/report-attack decisions.c   the CrowdSec
 * LAPI bouncer endpoints (/v1/decisions, /v1/decisions/stream) metrics.c     request counters and
 * latency histograms (atomics), /api/stats, /metrics http_json.c   replies: JSON bodies, JSON
 * errors, query strings, durations, addresses report_log.c  the ddos:reports Redis stream
 * (audit trail of reports) access_log.c  combined-format access log lines, O_APPEND writes, reopen
 * dashboard.c   /dashboard and its assets (compiled in) incidents.c   /api/incidents, /api/events,
 * /api/timeseries (the dashboard's JSON, from verdicts/trail.h)
 */
#ifndef DD_API_API_INTERNAL_H
#define DD_API_API_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "common/compiler.h"

enum api_endpoint {
    API_EP_HEALTH = 0,
    API_EP_THREAT,
    API_EP_REPORT,
    API_EP_CHECK,
    API_EP_VERDICTS,
    API_EP_STATS,
    API_EP_METRICS,
    API_EP_DECISIONS,
    API_EP_STREAM,
    API_EP_USAGE_METRICS,
    API_EP_DASHBOARD,
    API_EP_INCIDENTS,
    API_EP_EVENTS,
    API_EP_TIMESERIES,
    API_EP_OTHER, /* unknown paths (404) and anything the transport rejected */
    API_EP_COUNT
};

/* Replies the transport serves from responses built once at start-up. */
enum api_static_reply {
    API_STATIC_NONE = 0,
    API_STATIC_CHECK_ALLOW, /* 204, empty */
    API_STATIC_CHECK_DENY,  /* 403, empty */
    API_STATIC_COUNT
};

/* One request, as the transport (or a test, or the fuzzer) received it. Every pointer is
 * borrowed for the duration of api_handle / api_precheck. */
struct api_request {
    const char *method; /* "GET", "HEAD", "POST", ... as sent */
    const char *uri;    /* the raw request target: "/path?query" (not decoded) */
    /* Returns a request header's value (name compared case-insensitively) or NULL. */
    const char *(*header)(void *cls, const char *name);
    void *header_cls;
    const char *body; /* NULL when there is none */
    size_t body_len;
    bool body_too_large; /* the transport saw more than the body limit and dropped the rest */
    const char *peer;    /* the socket peer's address text ("127.0.0.1") */
    bool peer_loopback;
    uint64_t now_ms; /* CLOCK_REALTIME ms (verdict_store_now_ms), injectable for tests */
};

/* The answer. body is malloc'd and owned by the reply unless body_static; the transport takes
 * it over (or api_reply_free releases it). */
struct api_reply {
    int status;
    const char *content_type; /* static string; NULL for an empty 204 */
    char *body;
    size_t body_len;
    bool body_static;
    const char *allow;      /* Allow header value for 405 (static); NULL otherwise */
    const char *csp;        /* Content-Security-Policy of an HTML page (static); NULL: none */
    uint16_t retry_after_s; /* > 0: a Retry-After header (503 when a queue is full) */
    uint8_t endpoint;       /* enum api_endpoint, for metrics */
    uint8_t static_reply;   /* enum api_static_reply; body is then empty */
};

/* ---- metrics.c ---- */

enum { API_LAT_BUCKETS = 13, API_STATUS_CLASSES = 5 };

/* Why the transport refused a connection (ddosd_api_connections_refused_total's reason). */
enum api_refusal {
    API_REFUSED_PER_ADDRESS = 0, /* the address holds api.per_address_connections already */
    API_REFUSED_SHARED_FULL,     /* every shared slot is taken (a non-reserved peer) */
    API_REFUSED_RESERVED_FULL,   /* a reserved peer found its own pool and the shared one full */
    API_REFUSED_COUNT
};

/* Written by every API thread with relaxed atomic adds (counters only: nothing orders against
 * them); read by /metrics and /api/stats with relaxed loads (a scrape may see one request's
 * count before its histogram bucket, which Prometheus tolerates). */
struct api_metrics {
    _Atomic uint64_t requests[API_EP_COUNT][API_STATUS_CLASSES]; /* by 1xx..5xx */
    _Atomic uint64_t latency[API_EP_COUNT][API_LAT_BUCKETS + 1]; /* per bucket, last is +Inf */
    _Atomic uint64_t latency_sum_ns[API_EP_COUNT];
    _Atomic uint64_t reports_redis;
    _Atomic uint64_t reports_memory;
    _Atomic uint64_t auth_failures;
    _Atomic uint64_t bodies_too_large;
    /* The transport's guard (api.c): connections refused by reason, closed at their deadline,
     * open now (gauges: [0] reserved pool, [1] shared pool; stored under the guard's lock),
     * requests refused as malformed by the transport, and libmicrohttpd log lines dropped. */
    _Atomic uint64_t conn_refused[API_REFUSED_COUNT];
    _Atomic uint64_t conn_deadline_closed;
    _Atomic uint64_t conn_open[2];
    _Atomic uint64_t requests_malformed;
    _Atomic uint64_t log_suppressed;
};

/* The bucket bounds in seconds (100 us .. 1 s). */
extern const double api_latency_bounds[API_LAT_BUCKETS];
/* The endpoint's metric label ("threat_analysis"). */
const char *api_endpoint_name(unsigned ep);
/* Counts one finished request. Any thread; lock-free. */
void api_metrics_record(struct api_metrics *m, unsigned ep, int status, uint64_t duration_ns);

/* ---- report_log.c ---- */

struct report_log;

/* Creates the audit trail writer for cfg's Redis (nothing connects until the first append;
 * with enabled = false every append is local). Returns NULL only when out of memory. */
struct report_log *report_log_create(const struct config_redis *cfg);
void report_log_destroy(struct report_log *l);
/* Appends one entry of n name/value pairs to the ddos:reports stream (XADD MAXLEN ~ 10000).
 * Thread-safe (one mutex around one connection); blocks at most the short connect and command
 * timeouts, and after a failure skips Redis for a back-off period. Returns true with the stream
 * id in id, or false (id untouched) when Redis is disabled or failed: the caller then names the
 * report itself. */
bool report_log_append(struct report_log *l, const char *const *names, const char *const *values,
                       size_t n, char *id, size_t id_len);

/* ---- access_log.c ---- */

enum { ACCESS_LOG_LINE_MAX = 2048 };
struct access_log;

/* Opens path for appending (created 0640); "-" writes to stderr. NULL with err on failure. */
struct access_log *access_log_open(const char *path, char *err, size_t err_len);
/* Reopens by path and swaps the new file in under the same descriptor (dup2), so writers in
 * flight never see a closed fd. Returns 0 or a negative errno (the old file stays). */
int access_log_reopen(struct access_log *l);
void access_log_close(struct access_log *l);
/* Formats a combined-log-format line without its request time and newline into buf
 * (ACCESS_LOG_LINE_MAX); fields are escaped ("\xHH" for quotes, backslashes, controls) and long
 * ones truncated. Returns the length. */
size_t access_log_format(char *buf, const char *peer, const char *method, const char *uri,
                         const char *version, int status, size_t bytes, const char *referer,
                         const char *user_agent, int64_t when_s);
/* Appends " <seconds>.<micros>\n" to line (which must have room: ACCESS_LOG_LINE_MAX) and writes
 * it with one write(2). Any thread; no lock (O_APPEND keeps lines whole). */
void access_log_write(struct access_log *l, char *line, size_t len, uint64_t duration_ns);

/* ---- http_json.c ---- */

enum { API_QUERY_MAX = 16, API_QUERY_TEXT_MAX = 2048 };

/* A parsed, percent-decoded query string. */
struct api_query {
    size_t n;
    const char *key[API_QUERY_MAX];
    const char *value[API_QUERY_MAX];
    char text[API_QUERY_TEXT_MAX];
};

/* Parses "a=1&b=%20x" (without '?'; NULL or "" is empty). Returns 0, -E2BIG (too long or too
 * many parameters) or -EINVAL (bad %-escape or a NUL). */
int api_query_parse(const char *qs, struct api_query *q);
/* The first value of key, or NULL. */
const char *api_query_get(const struct api_query *q, const char *key);

/* Sets a JSON body: dumps and releases obj (the reference is stolen). A failed dump becomes a
 * 500 error. */
void api_reply_json(struct api_reply *out, int status, json_t *obj);
/* Sets {"error": error, "detail": <printf>} with status. */
void api_reply_error(struct api_reply *out, int status, const char *error, const char *fmt, ...)
    DD_PRINTF(4, 5);
/* Releases a reply's body (a reply not handed to a transport). */
void api_reply_free(struct api_reply *r);

/* A Go duration string ("4m59s", "1h0m5s", "0s") for ms, rounded down to seconds. */
char *api_go_duration(uint64_t ms, char *buf, size_t len);
/* Parses an IPv4 or IPv6 address into v (an IPv4-mapped IPv6 address becomes IPv4) and writes
 * its canonical text into text. Returns 0 or -EINVAL. */
int api_ip_parse(const char *s, struct verdict *v, char text[VERDICT_IP_TEXT_MAX]);
/* The required query parameter ip, parsed as api_ip_parse does. On failure answers 400 (missing,
 * or not an address) into out and returns false. */
bool api_query_ip(const struct api_query *q, struct api_reply *out, struct verdict *key,
                  char text[VERDICT_IP_TEXT_MAX]);
/* True when s is at most max bytes and holds no control characters. */
bool api_text_ok(const char *s, size_t max);
/* Compares a presented key with a secret in time independent of where they differ. */
bool api_key_equal(const char *given, size_t given_len, const char *secret, size_t secret_len);

/* ---- handler.c: the request core ---- */

/* Which key authenticated a request: 0 is SECRET_KEY, 1 + i is bouncer_keys.items[i]. */
typedef int api_key_id;

struct api_core {
    const struct ddosd_config *cfg;
    char *secret; /* "" when unset */
    size_t secret_len;
    struct verdict_store *store;
    struct trail *trail; /* may be NULL */
    struct api_hooks hooks;
    size_t body_limit;
    struct report_log *reports;
    _Atomic uint64_t local_reports; /* ids of reports Redis did not store */
    struct api_metrics metrics;
    /* CrowdSec stream cursors, one per key (same index as api_key_id); cursor_lock serialises
     * whole stream calls so one key's two concurrent calls cannot both consume a change. */
    pthread_mutex_t cursor_lock;
    uint64_t *cursors;
    size_t ncursors;
};

/* Builds the core from the options (strings copied, store and cfg borrowed). NULL after logging
 * why. */
struct api_core *api_core_create(const struct api_options *o);
void api_core_destroy(struct api_core *c);

/* Answers a request whose headers arrived, before its body: true with *out filled when the
 * request is already decided (404, 405, 401/403/503, 413 by Content-Length, 415), false when the
 * transport should read the body and call api_handle. Pure (no I/O, no side effects). */
bool api_precheck(struct api_core *c, const struct api_request *in, struct api_reply *out);

/* Answers a complete request. Always fills *out (status, content type, body). Thread-safe: any
 * number of threads may call it at once. No socket I/O (reports may talk to Redis). */
void api_handle(struct api_core *c, const struct api_request *in, struct api_reply *out);

/* The authenticated key for in, or a negative value after filling *out with 401 (no key),
 * 403 (wrong key) or 503 (no key configured). bouncers: whether bouncer keys count. */
api_key_id api_authenticate(struct api_core *c, const struct api_request *in, bool bouncers,
                            struct api_reply *out);

/* Route handlers (routes.c, decisions.c, metrics.c). q is the parsed query. */
/* The daemon's health snapshot (hooks.health) with every fixed array NUL-terminated. */
void api_health_read(struct api_core *c, struct api_health *h);
void api_route_health(struct api_core *c, const struct api_request *in, const struct api_query *q,
                      struct api_reply *out);
void api_route_threat(struct api_core *c, const struct api_request *in, const struct api_query *q,
                      struct api_reply *out);
void api_route_check(struct api_core *c, const struct api_request *in, const struct api_query *q,
                     struct api_reply *out);
void api_route_verdicts(struct api_core *c, const struct api_request *in, const struct api_query *q,
                        struct api_reply *out);
void api_route_report(struct api_core *c, const struct api_request *in, const struct api_query *q,
                      struct api_reply *out);
void api_route_decisions(struct api_core *c, const struct api_request *in,
                         const struct api_query *q, struct api_reply *out);
void api_route_stream(struct api_core *c, const struct api_request *in, const struct api_query *q,
                      struct api_reply *out);
void api_route_usage_metrics(struct api_core *c, const struct api_request *in,
                             const struct api_query *q, struct api_reply *out);
void api_route_stats(struct api_core *c, const struct api_request *in, const struct api_query *q,
                     struct api_reply *out);
void api_route_metrics(struct api_core *c, const struct api_request *in, const struct api_query *q,
                       struct api_reply *out);
/* dashboard.c: the page and its assets; incidents.c: the JSON it reads. */
void api_route_dashboard(struct api_core *c, const struct api_request *in,
                         const struct api_query *q, struct api_reply *out);
void api_route_incidents(struct api_core *c, const struct api_request *in,
                         const struct api_query *q, struct api_reply *out);
void api_route_events(struct api_core *c, const struct api_request *in, const struct api_query *q,
                      struct api_reply *out);
void api_route_timeseries(struct api_core *c, const struct api_request *in,
                          const struct api_query *q, struct api_reply *out);

/* The /api/check decision for a header value or query: 204, 403, or 400 (JSON error). Used by
 * the transport's fast path too. */
void api_check_address(struct api_core *c, const char *addr, uint64_t now_ms,
                       struct api_reply *out);

#endif
