/* routes.c - the API's own endpoints: /health, /api/threat-analysis, /api/check,
 * /api/verdicts and /api/report-attack. (CrowdSec's are in decisions.c, statistics in
 * metrics.c.)
 *
 * Threads: called from api_handle on any API thread. State read: the verdict store (its own
 * locks) and the daemon's hooks (thread-safe by contract). A report is queued for the pipeline
 * (hooks.report; a full queue is a 503 with Retry-After), then written to the store
 * (verdict_store_merge, which keeps its level for its TTL) and the Redis audit stream
 * (report_log.c); only then is it answered "recorded".
 *
 * DESIGN: /api/check is the nginx auth_request fast path: one inet_pton and one store lookup
 * without a copy, answered with a response the transport built at start-up (no JSON, no
 * allocation). A verdict is JSON in one format, verdicts/verdict_json.h's verdict_json_api,
 * which /api/threat-analysis (the gateway's lookup) and /api/verdicts both write without
 * jansson: into a stack buffer, then one malloc for the body (jansson would cost some twenty
 * allocations and a dump per verdict). The bytes are what jansson's json_dumps would write
 * (tests/unit/test_api.c compares them with a jansson oracle for many verdicts); a string field
 * that is not valid UTF-8 is null, and an address without a verdict has the same fields, with
 * "known": false and "threat_level": "low". /api/threat-analysis adds the sensors' views of a
 * verdict that came from Redis (verdict_store_get_views, in the same lookup). The other routes
 * build their JSON with jansson. */
#include "api/api_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timefmt.h"
#include "verdicts/verdict_json.h"

enum {
    REPORT_SOURCE_MAX = 64,
    REPORT_DETAILS_MAX = 1024,
    REPORT_RETRY_AFTER_S = 1, /* the stage empties its report queue every few ms */
    VERDICTS_LIMIT_MAX = 10000,
    VERDICTS_LIMIT_DEFAULT = 100,
};

static const char *hdr(const struct api_request *in, const char *name)
{
    return in->header ? in->header(in->header_cls, name) : NULL;
}

/* ---------------------------------------------------------------- /health */

void api_health_read(struct api_core *c, struct api_health *h)
{
    memset(h, 0, sizeof(*h));
    c->hooks.health(c->hooks.user, h);
    /* The daemon fills fixed arrays; never trust them to be terminated. */
    h->capture_detail[API_DETAIL_MAX - 1] = '\0';
    h->model_detail[API_DETAIL_MAX - 1] = '\0';
    h->redis_detail[API_DETAIL_MAX - 1] = '\0';
    h->model_version[sizeof(h->model_version) - 1] = '\0';
    h->sensor[sizeof(h->sensor) - 1] = '\0';
}

void api_route_health(struct api_core *c, const struct api_request *in, const struct api_query *q,
                      struct api_reply *out)
{
    struct api_health h;
    api_health_read(c, &h);

    const char *status = "ok";
    int code = 200;
    char reason[2 * API_DETAIL_MAX + 32] = "";
    if (!h.capture_ok || !h.model_ok) {
        status = "error";
        code = 503;
        snprintf(reason, sizeof(reason), "%s%s%s%s%s",
                 h.capture_ok ? "" : "capture: ", h.capture_ok ? "" : h.capture_detail,
                 !h.capture_ok && !h.model_ok ? "; " : "",
                 h.model_ok ? "" : "model: ", h.model_ok ? "" : h.model_detail);
    } else if (h.redis_enabled && !h.redis_connected) {
        status = "degraded";
        snprintf(reason, sizeof(reason), "redis: %s",
                 h.redis_detail[0] ? h.redis_detail : "not connected");
    }
    struct verdict_store_stats st;
    verdict_store_stats_get(c->store, &st);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:f, s:{s:b, s:s}, s:{s:b, s:s, s:s?}, s:{s:b, s:b, s:s}, "
        "s:I, s:I, s:I, s:I}",
        "status", status, "service", "backend", "version", DDOSD_VERSION, "sensor",
        h.sensor[0] ? h.sensor : c->cfg->sensor.id, "uptime_s", h.uptime_s, "capture", "ok",
        (int)h.capture_ok, "detail", h.capture_detail, "model", "ok", (int)h.model_ok, "detail",
        h.model_detail, "version", h.model_version[0] ? h.model_version : NULL, "redis", "enabled",
        (int)h.redis_enabled, "connected", (int)h.redis_connected, "detail", h.redis_detail,
        "packets", (json_int_t)h.packets, "flows", (json_int_t)h.flows, "verdicts",
        (json_int_t)h.verdicts, "decisions", (json_int_t)st.decisions);
    if (o && reason[0])
        json_object_set_new(o, "reason", json_string(reason));
    api_reply_json(out, code, o);
}

/* ---------------------------------------------------------------- /api/threat-analysis */

/* Fits every verdict with its sensor views, and a sensor.id of 64. */
enum { THREAT_BODY_MAX = VERDICT_JSON_MAX + VERDICT_JSON_VIEWS_MAX };

/* Writes the document of ip (e NULL: an address without a verdict) into b, with the sensors'
 * views when views holds any (NULL: none, as /api/verdicts lists). */
static bool verdict_render(struct api_core *c, const char *ip, const struct verdict_store_entry *e,
                           const struct verdict_views *views, struct jbuf *b)
{
    if (e == NULL)
        return verdict_json_api(b, ip, NULL, false, 0, c->cfg->sensor.id);
    return verdict_json_api_views(b, ip, &e->v, verdict_store_verdict_is_decision(c->store, &e->v),
                                  e->expires_ms, NULL, views);
}

bool api_query_ip(const struct api_query *q, struct api_reply *out, struct verdict *key,
                  char text[VERDICT_IP_TEXT_MAX])
{
    const char *ip = api_query_get(q, "ip");
    if (ip == NULL || *ip == '\0') {
        api_reply_error(out, 400, "bad_request", "missing query parameter ip (IPv4 or IPv6)");
        return false;
    }
    if (api_ip_parse(ip, key, text) != 0) {
        api_reply_error(out, 400, "bad_request", "ip is not an IPv4 or IPv6 address: '%.64s'", ip);
        return false;
    }
    return true;
}

void api_route_threat(struct api_core *c, const struct api_request *in, const struct api_query *q,
                      struct api_reply *out)
{
    struct verdict key;
    char text[VERDICT_IP_TEXT_MAX];
    if (!api_query_ip(q, out, &key, text))
        return;
    struct verdict_store_entry e;
    struct verdict_views views; /* the sensors' own levels when the verdict came from Redis */
    bool known = verdict_store_get_views(c->store, key.ip, key.ip_version, in->now_ms, &e, &views);
    if (!known && c->hooks.lookup) { /* read-through (API-only node) */
        known = c->hooks.lookup(c->hooks.user, &key, &e);
        /* The lookup put the hash in the store, views and all: read them from there. */
        if (known &&
            !verdict_store_get_views(c->store, key.ip, key.ip_version, in->now_ms, &e, &views))
            views.n = 0;
    }
    /* The gateway's hot path: the body is written into the stack and copied once into a
     * right-sized malloc'd buffer, which libmicrohttpd frees with the response. */
    char buf[THREAT_BODY_MAX];
    struct jbuf b = {.p = buf, .cap = sizeof(buf)};
    char *body;
    if (verdict_render(c, text, known ? &e : NULL, &views, &b)) {
        body = malloc(b.len + 1);
        if (body)
            memcpy(body, buf, b.len);
    } else { /* a sensor.id longer than the config allows (escaped at 6 bytes per byte) */
        b = (struct jbuf){.cap = THREAT_BODY_MAX + 6 * strlen(c->cfg->sensor.id)};
        body = b.p = malloc(b.cap + 1);
        if (body && !verdict_render(c, text, known ? &e : NULL, &views, &b)) {
            free(body);
            body = NULL;
        }
    }
    if (body == NULL) {
        api_reply_error(out, 500, "internal", "out of memory");
        return;
    }
    body[b.len] = '\0';
    out->status = 200;
    out->content_type = "application/json";
    out->body = body;
    out->body_len = b.len;
    out->body_static = false;
}

/* ---------------------------------------------------------------- /api/check */

void api_check_address(struct api_core *c, const char *addr, uint64_t now_ms, struct api_reply *out)
{
    struct verdict key;
    char text[VERDICT_IP_TEXT_MAX];
    out->endpoint = API_EP_CHECK;
    if (addr == NULL || *addr == '\0') {
        api_reply_error(out, 400, "bad_request", "send the client address in X-Real-IP or ?ip=");
        return;
    }
    if (api_ip_parse(addr, &key, text) != 0) {
        api_reply_error(out, 400, "bad_request", "not an IPv4 or IPv6 address: '%.64s'", addr);
        return;
    }
    bool deny = verdict_store_is_decision(c->store, key.ip, key.ip_version, now_ms);
    out->status = deny ? 403 : 204;
    out->static_reply = deny ? API_STATIC_CHECK_DENY : API_STATIC_CHECK_ALLOW;
    out->content_type = deny ? "text/plain" : NULL;
    out->body = NULL;
    out->body_len = 0;
    out->body_static = true;
}

void api_route_check(struct api_core *c, const struct api_request *in, const struct api_query *q,
                     struct api_reply *out)
{
    const char *addr = hdr(in, "X-Real-IP");
    if (addr == NULL || *addr == '\0')
        addr = api_query_get(q, "ip");
    api_check_address(c, addr, in->now_ms, out);
}

/* ---------------------------------------------------------------- /api/verdicts */

void api_route_verdicts(struct api_core *c, const struct api_request *in, const struct api_query *q,
                        struct api_reply *out)
{
    enum threat_level min = THREAT_LOW;
    const char *ml = api_query_get(q, "min_level");
    if (ml && threat_level_parse(ml, &min) != 0) {
        api_reply_error(out, 400, "bad_request",
                        "min_level must be low, medium, high or critical, got '%.32s'", ml);
        return;
    }
    long limit = VERDICTS_LIMIT_DEFAULT;
    const char *ls = api_query_get(q, "limit");
    if (ls) {
        char *end;
        errno = 0;
        limit = strtol(ls, &end, 10);
        if (errno || end == ls || *end || limit < 1 || limit > VERDICTS_LIMIT_MAX) {
            api_reply_error(out, 400, "bad_request", "limit must be an integer from 1 to %d",
                            VERDICTS_LIMIT_MAX);
            return;
        }
    }
    struct verdict_store_entry *list = NULL;
    long n = verdict_store_list(c->store, min, (size_t)limit, in->now_ms, &list);
    if (n < 0) {
        api_reply_error(out, 503, "unavailable", "out of memory listing verdicts");
        return;
    }
    /* {"count":n,"verdicts":[...]}: each element is written into the stack, then appended to
     * a body that grows as needed. */
    struct jbuf body = {.cap = 64 + (size_t)n * 1024u};
    body.p = malloc(body.cap + 1);
    if (body.p) {
        jbuf_raw(&body, "{\"count\":", 9);
        jbuf_int(&body, n);
        jbuf_raw(&body, ",\"verdicts\":[", 13);
    }
    for (long i = 0; body.p && !body.overflow && i < n; i++) {
        char text[VERDICT_IP_TEXT_MAX], buf[THREAT_BODY_MAX];
        struct jbuf one = {.p = buf, .cap = sizeof(buf)};
        if (i)
            jbuf_raw(&one, ",", 1);
        if (!verdict_render(c, verdict_ip_format(&list[i].v, text), &list[i], NULL, &one)) {
            body.overflow = true; /* cannot happen: VERDICT_JSON_MAX fits every verdict */
            break;
        }
        if (one.len + 2 > body.cap - body.len) {
            size_t cap = 2 * body.cap + one.len + 2;
            char *p = realloc(body.p, cap + 1);
            if (p == NULL) {
                body.overflow = true;
                break;
            }
            body.p = p;
            body.cap = cap;
        }
        jbuf_raw(&body, buf, one.len);
    }
    free(list);
    if (body.p)
        jbuf_raw(&body, "]}", 2);
    if (body.p == NULL || body.overflow) {
        free(body.p);
        api_reply_error(out, 503, "unavailable", "out of memory listing verdicts");
        return;
    }
    body.p[body.len] = '\0';
    out->status = 200;
    out->content_type = "application/json";
    out->body = body.p;
    out->body_len = body.len;
    out->body_static = false;
}

/* ---------------------------------------------------------------- /api/report-attack */

struct report {
    struct verdict v;
    char ip[VERDICT_IP_TEXT_MAX];
    char source[REPORT_SOURCE_MAX + 1];
    char *details; /* malloc'd; "" when absent */
};

/* An optional string member: absent or null leaves *out NULL. Returns false after filling
 * *reply when it is not a string, is longer than max or holds control characters. */
static bool member_text(json_t *obj, const char *name, size_t max, const char **out,
                        struct api_reply *reply)
{
    json_t *m = json_object_get(obj, name);
    *out = NULL;
    if (m == NULL || json_is_null(m))
        return true;
    if (!json_is_string(m)) {
        api_reply_error(reply, 400, "bad_request", "%s must be a string", name);
        return false;
    }
    const char *s = json_string_value(m);
    if (json_string_length(m) != strlen(s) || !api_text_ok(s, max)) {
        api_reply_error(reply, 400, "bad_request",
                        "%s must be at most %zu characters without control characters", name, max);
        return false;
    }
    *out = s;
    return true;
}

static bool attack_type_ok(const char *s)
{
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.' || ch == ':'))
            return false;
    }
    return true;
}

/* Score of a report by level: reports carry no evidence strength, so their level stands in. */
static double report_score(enum threat_level l)
{
    static const double score[] = {0.25, 0.5, 0.75, 1.0};
    return score[(unsigned)l < 4 ? l : 0];
}

static bool report_parse(struct api_core *c, const struct api_request *in, struct report *r,
                         struct api_reply *out)
{
    json_error_t jerr;
    json_t *root = NULL;
    bool ok = false;
    if (in->body == NULL || in->body_len == 0) {
        api_reply_error(out, 400, "bad_request", "the body must be a JSON object with \"ip\"");
        return false;
    }
    root = json_loadb(in->body, in->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        api_reply_error(out, 400, "bad_json", "line %d column %d: %s", jerr.line, jerr.column,
                        jerr.text);
        return false;
    }
    if (!json_is_object(root)) {
        api_reply_error(out, 400, "bad_request", "the body must be a JSON object");
        goto done;
    }
    const char *ip, *level, *role, *type, *source;
    if (!member_text(root, "ip", VERDICT_IP_TEXT_MAX, &ip, out) ||
        !member_text(root, "threat_level", 16, &level, out) ||
        !member_text(root, "role", 16, &role, out) ||
        !member_text(root, "attack_type", VERDICT_ATTACK_TYPE_MAX - 1, &type, out) ||
        !member_text(root, "source", REPORT_SOURCE_MAX, &source, out))
        goto done;
    if (ip == NULL) {
        api_reply_error(out, 400, "bad_request", "\"ip\" is required");
        goto done;
    }
    memset(&r->v, 0, sizeof(r->v));
    if (api_ip_parse(ip, &r->v, r->ip) != 0) {
        api_reply_error(out, 400, "bad_request", "ip is not an IPv4 or IPv6 address: '%.64s'", ip);
        goto done;
    }
    enum threat_level lv = THREAT_HIGH;
    if (level && threat_level_parse(level, &lv) != 0) {
        api_reply_error(out, 400, "bad_request",
                        "threat_level must be low, medium, high or critical");
        goto done;
    }
    enum verdict_role ro = VERDICT_ROLE_ATTACKER;
    if (role && verdict_role_parse(role, &ro) != 0) {
        api_reply_error(out, 400, "bad_request", "role must be attacker or victim");
        goto done;
    }
    if (type && !attack_type_ok(type)) {
        api_reply_error(out, 400, "bad_request",
                        "attack_type may hold letters, digits and _ - . : only");
        goto done;
    }
    json_t *d = json_object_get(root, "details");
    if (d == NULL || json_is_null(d)) {
        r->details = strdup("");
    } else if (json_is_string(d)) {
        r->details = strdup(json_string_value(d));
    } else if (json_is_object(d) || json_is_array(d)) {
        r->details = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    } else {
        api_reply_error(out, 400, "bad_request", "details must be a string or an object");
        goto done;
    }
    if (r->details == NULL) {
        api_reply_error(out, 503, "unavailable", "out of memory");
        goto done;
    }
    if (strlen(r->details) > REPORT_DETAILS_MAX ||
        (json_is_string(d) && !api_text_ok(r->details, REPORT_DETAILS_MAX))) {
        api_reply_error(out, 400, "bad_request",
                        "details must be at most %d characters without control characters",
                        REPORT_DETAILS_MAX);
        goto done;
    }
    r->v.level = (uint8_t)lv;
    r->v.role = (uint8_t)ro;
    r->v.reasons = VERDICT_REASON_REPORT;
    r->v.score = report_score(lv);
    snprintf(r->v.attack_type, sizeof(r->v.attack_type), "%s", type ? type : "");
    r->v.first_seen_us = r->v.last_seen_us = in->now_ms * 1000u;
    snprintf(r->v.sensor, sizeof(r->v.sensor), "%s", c->cfg->sensor.id);
    snprintf(r->source, sizeof(r->source), "%s", source ? source : "api");
    ok = true;
done:
    json_decref(root);
    return ok;
}

/* The requester: X-Real-IP when a local proxy forwarded the request, else the socket peer. */
static void report_client(const struct api_request *in, char text[VERDICT_IP_TEXT_MAX])
{
    struct verdict tmp;
    const char *xr = in->peer_loopback ? hdr(in, "X-Real-IP") : NULL;
    if (xr && api_ip_parse(xr, &tmp, text) == 0)
        return;
    snprintf(text, VERDICT_IP_TEXT_MAX, "%s", in->peer ? in->peer : "");
}

void api_route_report(struct api_core *c, const struct api_request *in, const struct api_query *q,
                      struct api_reply *out)
{
    struct report r;
    memset(&r, 0, sizeof(r));
    if (!report_parse(c, in, &r, out))
        goto done;

    /* Durable before "recorded": the pipeline's queue takes the report first (or it is refused
     * with 503 and Retry-After, and nothing is stored), then the store holds it; the store keeps
     * a report's level for its TTL against every later verdict (verdict_store_put). */
    if (c->hooks.report && c->hooks.report(c->hooks.user, &r.v) != 0) {
        api_reply_error(out, 503, "unavailable",
                        "the report queue is full; nothing was recorded: send it again in %d s",
                        REPORT_RETRY_AFTER_S);
        out->retry_after_s = REPORT_RETRY_AFTER_S;
        goto done;
    }
    uint64_t ttl_ms = (uint64_t)(c->cfg->cache.ttl > 0 ? c->cfg->cache.ttl : 300) * 1000u;
    struct verdict_store_entry merged;
    int rc = verdict_store_merge(c->store, &r.v, in->now_ms + ttl_ms, &merged);
    if (rc != 0) {
        api_reply_error(out, 503, "unavailable", "%s; send it again in %d s",
                        rc == -ENOSPC ? "the verdict store is full" : "cannot store the report",
                        REPORT_RETRY_AFTER_S);
        out->retry_after_s = REPORT_RETRY_AFTER_S;
        goto done;
    }

    char client[VERDICT_IP_TEXT_MAX], ts[40], id[64];
    report_client(in, client);
    dd_time_iso8601_us(ts, sizeof(ts), r.v.last_seen_us, 3);
    const char *names[] = {"ip",      "threat_level", "attack_type", "role", "source",
                           "details", "client",       "sensor",      "ts"};
    const char *values[] = {r.ip,
                            threat_level_name((enum threat_level)r.v.level),
                            r.v.attack_type,
                            verdict_role_name((enum verdict_role)r.v.role),
                            r.source,
                            r.details,
                            client,
                            c->cfg->sensor.id,
                            ts};
    bool redis = report_log_append(c->reports, names, values, DD_ARRAY_LEN(names), id, sizeof(id));
    if (!redis) {
        uint64_t n = atomic_fetch_add_explicit(&c->local_reports, 1, memory_order_relaxed) + 1;
        snprintf(id, sizeof(id), "local-%llu", (unsigned long long)n);
    }
    atomic_fetch_add_explicit(redis ? &c->metrics.reports_redis : &c->metrics.reports_memory, 1,
                              memory_order_relaxed);
    DD_INFO("api: report %s from %s (source %s): %s %s level %s type %s -> now %s, stored in %s",
            id, client, r.source, verdict_role_name((enum verdict_role)r.v.role), r.ip,
            threat_level_name((enum threat_level)r.v.level),
            r.v.attack_type[0] ? r.v.attack_type : "-",
            threat_level_name((enum threat_level)merged.v.level), redis ? "redis" : "memory");
    api_reply_json(out, 200,
                   json_pack("{s:s, s:s, s:s, s:s, s:s}", "status", "recorded", "id", id, "stored",
                             redis ? "redis" : "memory", "ip", r.ip, "threat_level",
                             threat_level_name((enum threat_level)merged.v.level)));
done:
    free(r.details);
}
