/* handler.c - the API's request core: struct api_core (everything a request may need), the
 * route table, and the checks every request passes before its route runs (method, auth, body
 * size, content type, query string).
 *
 * Threads: api_handle and api_precheck run on any of libmicrohttpd's pool threads (and on the
 * fuzzer's thread); the core is read-only after api_core_create except the atomics in
 * struct api_metrics, the report counter and the stream cursors (cursor_lock).
 *
 * DESIGN: the core knows nothing about sockets. The transport (api.c) turns a connection's
 * request into a struct api_request and sends back the struct api_reply; tests and the fuzz
 * harness call the same two functions, so everything but the socket code is exercised without
 * a network. Checks run in a fixed order so that every request gets exactly one answer:
 *   404 unknown path -> 405 method (Allow) -> 401/403/503 auth -> 413 Content-Length -> 415
 *   Content-Type -> 400 query string -> the route (which may answer 400, 413 for a body the
 *   transport cut, ...).
 * Authentication comes before any body is read, so an anonymous client cannot make us buffer. */
#include "api/api_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

enum { M_GET = 1u << 0, M_POST = 1u << 1 };

typedef void (*api_route_fn)(struct api_core *c, const struct api_request *in,
                             const struct api_query *q, struct api_reply *out);

struct api_route {
    const char *path;
    uint8_t endpoint;
    uint8_t methods; /* M_GET also allows HEAD */
    const char *allow;
    api_route_fn fn;
};

static const struct api_route routes[] = {
    {"/api/check", API_EP_CHECK, M_GET, "GET, HEAD", api_route_check},
    {"/api/threat-analysis", API_EP_THREAT, M_GET, "GET, HEAD", api_route_threat},
    {"/health", API_EP_HEALTH, M_GET, "GET, HEAD", api_route_health},
    {"/api/report-attack", API_EP_REPORT, M_POST, "POST", api_route_report},
    {"/api/verdicts", API_EP_VERDICTS, M_GET, "GET, HEAD", api_route_verdicts},
    {"/api/stats", API_EP_STATS, M_GET, "GET, HEAD", api_route_stats},
    {"/metrics", API_EP_METRICS, M_GET, "GET, HEAD", api_route_metrics},
    {"/v1/decisions", API_EP_DECISIONS, M_GET, "GET, HEAD", api_route_decisions},
    {"/v1/decisions/stream", API_EP_STREAM, M_GET, "GET, HEAD", api_route_stream},
    /* Newer bouncers push usage metrics to the LAPI; accept and drop them. */
    {"/v1/usage-metrics", API_EP_USAGE_METRICS, M_POST, "POST", api_route_usage_metrics},
    /* The operator's dashboard (dashboard.c) and the JSON it reads (incidents.c). */
    {"/dashboard", API_EP_DASHBOARD, M_GET, "GET, HEAD", api_route_dashboard},
    {"/dashboard/dashboard.js", API_EP_DASHBOARD, M_GET, "GET, HEAD", api_route_dashboard},
    {"/dashboard/dashboard.css", API_EP_DASHBOARD, M_GET, "GET, HEAD", api_route_dashboard},
    {"/dashboard/chart.min.js", API_EP_DASHBOARD, M_GET, "GET, HEAD", api_route_dashboard},
    {"/api/incidents", API_EP_INCIDENTS, M_GET, "GET, HEAD", api_route_incidents},
    {"/api/events", API_EP_EVENTS, M_GET, "GET, HEAD", api_route_events},
    {"/api/timeseries", API_EP_TIMESERIES, M_GET, "GET, HEAD", api_route_timeseries},
};

struct api_core *api_core_create(const struct api_options *o)
{
    struct api_core *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        DD_ERROR("api: out of memory");
        return NULL;
    }
    bool lock_ok = false;
    c->cfg = o->cfg;
    c->store = o->store;
    c->trail = o->trail;
    c->hooks = o->hooks;
    c->body_limit = o->cfg->api.body_limit > 0 ? (size_t)o->cfg->api.body_limit : 65536;
    c->secret = strdup(o->secret_key ? o->secret_key : "");
    if (c->secret == NULL)
        goto fail;
    c->secret_len = strlen(c->secret);
    c->ncursors = 1 + o->cfg->bouncer_keys.n;
    c->cursors = calloc(c->ncursors, sizeof(*c->cursors));
    if (c->cursors == NULL)
        goto fail;
    if (pthread_mutex_init(&c->cursor_lock, NULL) != 0)
        goto fail;
    lock_ok = true;
    c->reports = report_log_create(&o->cfg->redis);
    if (c->reports == NULL)
        goto fail;
    return c;
fail:
    DD_ERROR("api: out of memory creating the request core");
    if (lock_ok)
        pthread_mutex_destroy(&c->cursor_lock);
    free(c->cursors);
    free(c->secret);
    free(c);
    return NULL;
}

void api_core_destroy(struct api_core *c)
{
    if (c == NULL)
        return;
    report_log_destroy(c->reports);
    pthread_mutex_destroy(&c->cursor_lock);
    free(c->cursors);
    if (c->secret) {
        explicit_bzero(c->secret, c->secret_len);
        free(c->secret);
    }
    free(c);
}

/* The route for the path part of uri (up to '?'), or NULL. */
static const struct api_route *route_find(const char *uri, const char **query)
{
    const char *qm = strchr(uri, '?');
    size_t plen = qm ? (size_t)(qm - uri) : strlen(uri);
    *query = qm ? qm + 1 : NULL;
    for (size_t i = 0; i < DD_ARRAY_LEN(routes); i++) {
        if (strlen(routes[i].path) == plen && memcmp(routes[i].path, uri, plen) == 0)
            return &routes[i];
    }
    return NULL;
}

static unsigned method_bit(const char *m)
{
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
        return M_GET;
    if (strcmp(m, "POST") == 0)
        return M_POST;
    return 0;
}

static const char *hdr(const struct api_request *in, const char *name)
{
    return in->header ? in->header(in->header_cls, name) : NULL;
}

api_key_id api_authenticate(struct api_core *c, const struct api_request *in, bool bouncers,
                            struct api_reply *out)
{
    const struct config_bouncer_keys *bk = &c->cfg->bouncer_keys;
    if (c->secret_len == 0 && (!bouncers || bk->n == 0)) {
        api_reply_error(out, 503, "not_configured",
                        "SECRET_KEY is not set: add SECRET_KEY=<a long random string> to the "
                        "daemon's environment or .env file and restart it");
        return -1;
    }
    const char *key = NULL;
    const char *auth = hdr(in, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        key = auth + 7;
        while (*key == ' ')
            key++;
    }
    if (key == NULL || *key == '\0')
        key = hdr(in, "X-Api-Key");
    if (key == NULL || *key == '\0') {
        atomic_fetch_add_explicit(&c->metrics.auth_failures, 1, memory_order_relaxed);
        api_reply_error(out, 401, "unauthorized",
                        "send the key as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'");
        return -1;
    }
    size_t klen = strlen(key);
    /* Compare against every accepted key, without stopping at the first match, so the time
     * taken does not tell which key (or how much of one) matched. */
    api_key_id found = -1;
    if (api_key_equal(key, klen, c->secret, c->secret_len))
        found = 0;
    for (size_t i = 0; bouncers && i < bk->n; i++) {
        const char *k = bk->items[i].key ? bk->items[i].key : "";
        if (api_key_equal(key, klen, k, strlen(k)) && found < 0)
            found = (api_key_id)(1 + i);
    }
    if (found < 0) {
        atomic_fetch_add_explicit(&c->metrics.auth_failures, 1, memory_order_relaxed);
        api_reply_error(out, 403, "forbidden", "the key is not valid for this endpoint");
    }
    return found;
}

/* Content-Type: application/json, optionally with parameters; absent is accepted. */
static bool content_type_is_json(const char *ct)
{
    if (ct == NULL)
        return true;
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, "application/json", 16) != 0)
        return false;
    return ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ';
}

/* The checks that need no body (see DESIGN). Returns the route when the request may go on. */
static const struct api_route *check_head(struct api_core *c, const struct api_request *in,
                                          const char **query, struct api_reply *out)
{
    const struct api_route *r = route_find(in->uri, query);
    if (r == NULL) {
        out->endpoint = API_EP_OTHER;
        api_reply_error(out, 404, "not_found", "no such endpoint (see docs/api.md)");
        return NULL;
    }
    out->endpoint = r->endpoint;
    if (!(method_bit(in->method) & r->methods)) {
        api_reply_error(out, 405, "method_not_allowed", "%s accepts %s", r->path, r->allow);
        out->allow = r->allow;
        return NULL;
    }
    if (r->methods & M_POST) {
        if (api_authenticate(c, in, r->endpoint == API_EP_USAGE_METRICS, out) < 0)
            return NULL;
        const char *cl = hdr(in, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || end == cl || *end != '\0' || cl[0] == '-') {
                api_reply_error(out, 400, "bad_request", "invalid Content-Length");
                return NULL;
            }
            if (n > c->body_limit) {
                atomic_fetch_add_explicit(&c->metrics.bodies_too_large, 1, memory_order_relaxed);
                api_reply_error(out, 413, "payload_too_large",
                                "the body is limited to %zu bytes (api.body_limit)", c->body_limit);
                return NULL;
            }
        }
        if (!content_type_is_json(hdr(in, "Content-Type"))) {
            api_reply_error(out, 415, "unsupported_media_type",
                            "send the body as Content-Type: application/json");
            return NULL;
        }
    }
    return r;
}

bool api_precheck(struct api_core *c, const struct api_request *in, struct api_reply *out)
{
    const char *query;
    memset(out, 0, sizeof(*out));
    if (check_head(c, in, &query, out) == NULL)
        return true;
    api_reply_free(out);
    memset(out, 0, sizeof(*out));
    return false;
}

void api_handle(struct api_core *c, const struct api_request *in, struct api_reply *out)
{
    const char *query;
    memset(out, 0, sizeof(*out));
    const struct api_route *r = check_head(c, in, &query, out);
    if (r == NULL)
        return;
    if (in->body_too_large || in->body_len > c->body_limit) {
        atomic_fetch_add_explicit(&c->metrics.bodies_too_large, 1, memory_order_relaxed);
        api_reply_error(out, 413, "payload_too_large",
                        "the body is limited to %zu bytes (api.body_limit)", c->body_limit);
        return;
    }
    struct api_query q;
    int rc = api_query_parse(query, &q);
    if (rc != 0) {
        api_reply_error(out, 400, "bad_request", "%s",
                        rc == -E2BIG ? "query string too long or too many parameters"
                                     : "invalid %-escape in the query string");
        return;
    }
    r->fn(c, in, &q, out);
    out->endpoint = r->endpoint;
}
