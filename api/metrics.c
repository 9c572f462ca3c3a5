/* metrics.c - the API's request counters and latency histograms, and the two endpoints that
 * publish statistics: /api/stats (JSON) and /metrics (Prometheus text format 0.0.4).
 *
 * Threads: api_metrics_record runs on every API thread at the end of every request; it only
 * does relaxed atomic adds on struct api_metrics (in struct api_core), so it never blocks.
 * The renderers read the same atomics relaxed and ask the daemon for its counters through
 * hooks.counters (thread-safe by contract).
 *
 * DESIGN: histogram buckets are stored per bucket (not cumulative) so a request touches one
 * counter; the renderer accumulates them into Prometheus' cumulative `le` series. Pipeline
 * counters arrive as a flat list of (name, label, value); the renderer groups samples by name so
 * every metric gets exactly one # HELP and # TYPE line even when the daemon lists a name's
 * labelled samples apart. */
#include "api/api_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { COUNTERS_MAX = 512 };

const double api_latency_bounds[API_LAT_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
};

static const char *const endpoint_names[API_EP_COUNT] = {
    [API_EP_HEALTH] = "health",
    [API_EP_THREAT] = "threat_analysis",
    [API_EP_REPORT] = "report_attack",
    [API_EP_CHECK] = "check",
    [API_EP_VERDICTS] = "verdicts",
    [API_EP_STATS] = "stats",
    [API_EP_METRICS] = "metrics",
    [API_EP_DECISIONS] = "decisions",
    [API_EP_STREAM] = "decisions_stream",
    [API_EP_USAGE_METRICS] = "usage_metrics",
    [API_EP_DASHBOARD] = "dashboard",
    [API_EP_INCIDENTS] = "incidents",
    [API_EP_EVENTS] = "events",
    [API_EP_TIMESERIES] = "timeseries",
    [API_EP_OTHER] = "other",
};

static const char *const class_names[API_STATUS_CLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

const char *api_endpoint_name(unsigned ep)
{
    return ep < API_EP_COUNT ? endpoint_names[ep] : "other";
}

void api_metrics_record(struct api_metrics *m, unsigned ep, int status, uint64_t duration_ns)
{
    if (ep >= API_EP_COUNT)
        ep = API_EP_OTHER;
    int cls = status / 100 - 1;
    if (cls < 0 || cls >= API_STATUS_CLASSES)
        cls = API_STATUS_CLASSES - 1;
    atomic_fetch_add_explicit(&m->requests[ep][cls], 1, memory_order_relaxed);
    double s = (double)duration_ns / 1e9;
    unsigned b = 0;
    while (b < API_LAT_BUCKETS && s > api_latency_bounds[b])
        b++;
    atomic_fetch_add_explicit(&m->latency[ep][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_ns[ep], duration_ns, memory_order_relaxed);
}

static uint64_t ld(_Atomic uint64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

static size_t counters_get(struct api_core *c, struct api_counter *out, size_t max)
{
    size_t n = c->hooks.counters ? c->hooks.counters(c->hooks.user, out, max) : 0;
    return n > max ? max : n;
}

/* ---------------------------------------------------------------- /api/stats */

void api_route_stats(struct api_core *c, const struct api_request *in, const struct api_query *q,
                     struct api_reply *out)
{
    struct api_counter *ctr = calloc(COUNTERS_MAX, sizeof(*ctr));
    json_t *root = json_object(), *pipe = json_object(), *api = json_object();
    if (ctr == NULL || root == NULL || pipe == NULL || api == NULL) {
        free(ctr);
        json_decref(root);
        json_decref(pipe);
        json_decref(api);
        api_reply_error(out, 503, "unavailable", "out of memory");
        return;
    }
    size_t n = counters_get(c, ctr, COUNTERS_MAX);
    for (size_t i = 0; i < n; i++) {
        const struct api_counter *k = &ctr[i];
        if (k->name == NULL)
            continue;
        json_t *v = json_integer((json_int_t)k->value);
        if (k->label == NULL || k->label_value == NULL) {
            json_object_set_new(pipe, k->name, v);
            continue;
        }
        /* "decode_errors_total": {"kind": {"trunc_tcp": 3}} */
        json_t *by_name = json_object_get(pipe, k->name);
        if (by_name == NULL) {
            by_name = json_object();
            json_object_set_new(pipe, k->name, by_name);
        }
        if (!json_is_object(by_name)) { /* an unlabelled sample of the same name wins */
            json_decref(v);
            continue;
        }
        json_t *by_label = json_object_get(by_name, k->label);
        if (by_label == NULL) {
            by_label = json_object();
            json_object_set_new(by_name, k->label, by_label);
        }
        json_object_set_new(by_label, k->label_value, v);
    }
    free(ctr);

    json_t *req = json_object();
    for (unsigned ep = 0; req && ep < API_EP_COUNT; ep++) {
        json_t *e = json_object();
        uint64_t total = 0;
        for (unsigned k = 0; e && k < API_STATUS_CLASSES; k++) {
            uint64_t v = ld(&c->metrics.requests[ep][k]);
            total += v;
            if (v)
                json_object_set_new(e, class_names[k], json_integer((json_int_t)v));
        }
        if (e)
            json_object_set_new(e, "total", json_integer((json_int_t)total));
        json_object_set_new(req, endpoint_names[ep], e);
    }
    struct verdict_store_stats st;
    verdict_store_stats_get(c->store, &st);
    json_object_set_new(api, "requests", req);
    json_object_set_new(api, "reports",
                        json_pack("{s:I, s:I}", "redis", (json_int_t)ld(&c->metrics.reports_redis),
                                  "memory", (json_int_t)ld(&c->metrics.reports_memory)));
    json_object_set_new(api, "auth_failures",
                        json_integer((json_int_t)ld(&c->metrics.auth_failures)));
    json_object_set_new(api, "bodies_too_large",
                        json_integer((json_int_t)ld(&c->metrics.bodies_too_large)));
    json_object_set_new(
        api, "connections",
        json_pack("{s:{s:I, s:I}, s:{s:I, s:I, s:I}, s:I, s:I, s:I}", "open", "reserved",
                  (json_int_t)ld(&c->metrics.conn_open[0]), "shared",
                  (json_int_t)ld(&c->metrics.conn_open[1]), "refused", "per_address",
                  (json_int_t)ld(&c->metrics.conn_refused[API_REFUSED_PER_ADDRESS]), "shared_full",
                  (json_int_t)ld(&c->metrics.conn_refused[API_REFUSED_SHARED_FULL]),
                  "reserved_full",
                  (json_int_t)ld(&c->metrics.conn_refused[API_REFUSED_RESERVED_FULL]),
                  "deadline_closed", (json_int_t)ld(&c->metrics.conn_deadline_closed),
                  "malformed_requests", (json_int_t)ld(&c->metrics.requests_malformed),
                  "log_lines_suppressed", (json_int_t)ld(&c->metrics.log_suppressed)));
    json_object_set_new(api, "store",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "entries",
                                  (json_int_t)st.entries, "capacity", (json_int_t)st.capacity,
                                  "decisions", (json_int_t)st.decisions, "puts",
                                  (json_int_t)st.puts, "full_drops", (json_int_t)st.full_drops,
                                  "seq", (json_int_t)st.seq));
    json_object_set_new(root, "pipeline", pipe);
    json_object_set_new(root, "api", api);
    api_reply_json(out, 200, root);
}

/* ---------------------------------------------------------------- /metrics */

struct text {
    char *p;
    size_t len, cap;
    bool oom;
};

static void text_printf(struct text *t, const char *fmt, ...) DD_PRINTF(2, 3);

static void text_printf(struct text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *p = realloc(t->p, cap);
        if (p == NULL) {
            t->oom = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}

/* Writes s escaped for a label value (\\, \", \n) or a HELP text (quote kept). */
static void text_escaped(struct text *t, const char *s, bool label)
{
    for (; *s; s++) {
        if (*s == '\\')
            text_printf(t, "\\\\");
        else if (*s == '\n')
            text_printf(t, "\\n");
        else if (*s == '"' && label)
            text_printf(t, "\\\"");
        else
            text_printf(t, "%c", *s);
    }
}

/* True for [a-zA-Z_:][a-zA-Z0-9_:]* (a metric or label name). */
static bool name_ok(const char *s)
{
    if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == ':'))
            return false;
    }
    return true;
}

static void render_pipeline(struct text *t, const struct api_counter *ctr, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!name_ok(ctr[i].name))
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = ctr[j].name && strcmp(ctr[j].name, ctr[i].name) == 0;
        if (seen)
            continue;
        text_printf(t, "# HELP ddosd_%s ", ctr[i].name);
        text_escaped(t, ctr[i].help ? ctr[i].help : ctr[i].name, false);
        text_printf(t, "\n# TYPE ddosd_%s %s\n", ctr[i].name,
                    ctr[i].kind == API_GAUGE ? "gauge" : "counter");
        for (size_t j = i; j < n; j++) {
            if (ctr[j].name == NULL || strcmp(ctr[j].name, ctr[i].name) != 0)
                continue;
            text_printf(t, "ddosd_%s", ctr[j].name);
            if (ctr[j].label && ctr[j].label_value && name_ok(ctr[j].label)) {
                text_printf(t, "{%s=\"", ctr[j].label);
                text_escaped(t, ctr[j].label_value, true);
                text_printf(t, "\"}");
            }
            text_printf(t, " %llu\n", (unsigned long long)ctr[j].value);
        }
    }
}

static void render_api(struct text *t, struct api_core *c)
{
    struct api_metrics *m = &c->metrics;
    text_printf(t, "# HELP ddosd_api_requests_total API requests by endpoint and status class\n"
                   "# TYPE ddosd_api_requests_total counter\n");
    for (unsigned ep = 0; ep < API_EP_COUNT; ep++) {
        for (unsigned k = 0; k < API_STATUS_CLASSES; k++) {
            uint64_t v = ld(&m->requests[ep][k]);
            if (v || k == 1) /* always show 2xx so every endpoint has a series */
                text_printf(t, "ddosd_api_requests_total{endpoint=\"%s\",code=\"%s\"} %llu\n",
                            endpoint_names[ep], class_names[k], (unsigned long long)v);
        }
    }
    text_printf(t, "# HELP ddosd_api_request_duration_seconds API request latency, from the "
                   "request line to the last byte queued\n"
                   "# TYPE ddosd_api_request_duration_seconds histogram\n");
    for (unsigned ep = 0; ep < API_EP_COUNT; ep++) {
        uint64_t cum = 0;
        for (unsigned b = 0; b <= API_LAT_BUCKETS; b++) {
            cum += ld(&m->latency[ep][b]);
            if (b < API_LAT_BUCKETS)
                text_printf(t,
                            "ddosd_api_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} "
                            "%llu\n",
                            endpoint_names[ep], api_latency_bounds[b], (unsigned long long)cum);
            else
                text_printf(t,
                            "ddosd_api_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"}"
                            " %llu\n",
                            endpoint_names[ep], (unsigned long long)cum);
        }
        text_printf(t, "ddosd_api_request_duration_seconds_sum{endpoint=\"%s\"} %.9f\n",
                    endpoint_names[ep], (double)ld(&m->latency_sum_ns[ep]) / 1e9);
        text_printf(t, "ddosd_api_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
                    endpoint_names[ep], (unsigned long long)cum);
    }
    text_printf(t,
                "# HELP ddosd_api_reports_total Reports accepted by /api/report-attack, by where "
                "the audit entry went\n# TYPE ddosd_api_reports_total counter\n"
                "ddosd_api_reports_total{stored=\"redis\"} %llu\n"
                "ddosd_api_reports_total{stored=\"memory\"} %llu\n",
                (unsigned long long)ld(&m->reports_redis),
                (unsigned long long)ld(&m->reports_memory));
    text_printf(t,
                "# HELP ddosd_api_auth_failures_total Requests refused for a missing or wrong "
                "key\n# TYPE ddosd_api_auth_failures_total counter\n"
                "ddosd_api_auth_failures_total %llu\n",
                (unsigned long long)ld(&m->auth_failures));
    text_printf(t,
                "# HELP ddosd_api_bodies_too_large_total Requests refused with 413\n"
                "# TYPE ddosd_api_bodies_too_large_total counter\n"
                "ddosd_api_bodies_too_large_total %llu\n",
                (unsigned long long)ld(&m->bodies_too_large));
    text_printf(t,
                "# HELP ddosd_api_connections_refused_total Connections refused at accept, by "
                "reason (per_address: api.per_address_connections; shared_full: every slot "
                "outside api.reserved_connections taken; reserved_full: a reserved peer found "
                "both pools full)\n# TYPE ddosd_api_connections_refused_total counter\n"
                "ddosd_api_connections_refused_total{reason=\"per_address\"} %llu\n"
                "ddosd_api_connections_refused_total{reason=\"shared_full\"} %llu\n"
                "ddosd_api_connections_refused_total{reason=\"reserved_full\"} %llu\n",
                (unsigned long long)ld(&m->conn_refused[API_REFUSED_PER_ADDRESS]),
                (unsigned long long)ld(&m->conn_refused[API_REFUSED_SHARED_FULL]),
                (unsigned long long)ld(&m->conn_refused[API_REFUSED_RESERVED_FULL]));
    text_printf(t,
                "# HELP ddosd_api_connections_deadline_closed_total Connections closed because a "
                "request (head, body and response) took longer than api.timeout\n"
                "# TYPE ddosd_api_connections_deadline_closed_total counter\n"
                "ddosd_api_connections_deadline_closed_total %llu\n",
                (unsigned long long)ld(&m->conn_deadline_closed));
    text_printf(t,
                "# HELP ddosd_api_connections_open API connections open now, by pool\n"
                "# TYPE ddosd_api_connections_open gauge\n"
                "ddosd_api_connections_open{pool=\"reserved\"} %llu\n"
                "ddosd_api_connections_open{pool=\"shared\"} %llu\n",
                (unsigned long long)ld(&m->conn_open[0]), (unsigned long long)ld(&m->conn_open[1]));
    text_printf(t,
                "# HELP ddosd_api_malformed_requests_total Requests refused with 400 for a NUL in "
                "the request line or conflicting Content-Length/Transfer-Encoding headers\n"
                "# TYPE ddosd_api_malformed_requests_total counter\n"
                "ddosd_api_malformed_requests_total %llu\n",
                (unsigned long long)ld(&m->requests_malformed));
    text_printf(t,
                "# HELP ddosd_api_log_lines_suppressed_total libmicrohttpd messages not written "
                "to the log (rate limit)\n# TYPE ddosd_api_log_lines_suppressed_total counter\n"
                "ddosd_api_log_lines_suppressed_total %llu\n",
                (unsigned long long)ld(&m->log_suppressed));
    struct verdict_store_stats st;
    verdict_store_stats_get(c->store, &st);
    text_printf(t,
                "# HELP ddosd_api_store_entries Verdicts the API serves now\n"
                "# TYPE ddosd_api_store_entries gauge\nddosd_api_store_entries %llu\n"
                "# HELP ddosd_api_store_decisions Verdicts that are decisions (bans) now\n"
                "# TYPE ddosd_api_store_decisions gauge\nddosd_api_store_decisions %llu\n",
                (unsigned long long)st.entries, (unsigned long long)st.decisions);
}

void api_route_metrics(struct api_core *c, const struct api_request *in, const struct api_query *q,
                       struct api_reply *out)
{
    struct text t = {.p = malloc(16384), .cap = 16384};
    struct api_counter *ctr = calloc(COUNTERS_MAX, sizeof(*ctr));
    if (t.p == NULL || ctr == NULL) {
        free(t.p);
        free(ctr);
        api_reply_error(out, 503, "unavailable", "out of memory");
        return;
    }
    t.p[0] = '\0';
    size_t n = counters_get(c, ctr, COUNTERS_MAX);
    render_pipeline(&t, ctr, n);
    free(ctr);
    render_api(&t, c);
    if (t.oom) {
        free(t.p);
        api_reply_error(out, 503, "unavailable", "out of memory");
        return;
    }
    out->status = 200;
    out->content_type = "text/plain; version=0.0.4; charset=utf-8";
    out->body = t.p;
    out->body_len = t.len;
    out->body_static = false;
}
