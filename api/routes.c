/* routes.c - the API's own endpoints: /health, /api/threat-analysis, /api/check,
 * /api/verdicts and /api/report-attack. (CrowdSec's are in decisions.c, statistics in
 * metrics.c.)
 *
 * Threads: called from api_handle on any API thread. State read: the verdict store (its own
 * locks) and the daemon's hooks (thread-safe by contract). A report writes the store
 * (verdict_store_merge), the Redis audit stream (report_log.c) and calls hooks.report.
 *
 * DESIGN: /api/check is the nginx auth_request fast path: one inet_pton and one store lookup
 * without a copy, answered with a response the transport built at start-up (no JSON, no
 * allocation). /api/threat-analysis, the gateway's lookup, writes its JSON without jansson
 * (verdict_render: a fixed template into a stack buffer, strings escaped by api_jbuf_str, one
 * malloc for the body); jansson would cost some twenty allocations and a dump per request.
 * Every other route builds its JSON with jansson. A verdict is rendered the same way
 * everywhere: verdict_render and verdict_json give the same bytes (the unit test compares
 * them), a string field that is not valid UTF-8 is null, and an address without a verdict
 * has the same fields, with "known": false and "threat_level": "low". */
#include "api/api_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

enum {
    REPORT_SOURCE_MAX = 64,
    REPORT_DETAILS_MAX = 1024,
    VERDICTS_LIMIT_MAX = 10000,
    VERDICTS_LIMIT_DEFAULT = 100,
};

static const char *hdr(const struct api_request *in, const char *name)
{
    return in->header ? in->header(in->header_cls, name) : NULL;
}

/* ---------------------------------------------------------------- /health */

void api_route_health(struct api_core *c, const struct api_request *in, const struct api_query *q,
                      struct api_reply *out)
{
    struct api_health h;
    memset(&h, 0, sizeof(h));
    c->hooks.health(c->hooks.user, &h);
    /* The daemon fills fixed arrays; never trust them to be terminated. */
    h.capture_detail[API_DETAIL_MAX - 1] = '\0';
    h.model_detail[API_DETAIL_MAX - 1] = '\0';
    h.redis_detail[API_DETAIL_MAX - 1] = '\0';
    h.model_version[sizeof(h.model_version) - 1] = '\0';
    h.sensor[sizeof(h.sensor) - 1] = '\0';

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

/* ---------------------------------------------------------------- verdict rendering */

/* The JSON of an address's verdict; e NULL for an address without one. */
static json_t *verdict_json(struct api_core *c, const char *ip, const struct verdict_store_entry *e,
                            uint64_t now_ms)
{
    if (e == NULL) {
        return json_pack("{s:s, s:s, s:b, s:f, s:n, s:n, s:[], s:n, s:n, s:i, s:i, s:f, s:f, "
                         "s:i, s:[], s:s, s:n, s:b, s:n}",
                         "ip", ip, "threat_level", "low", "known", 0, "score", 0.0, "role",
                         "attack_type", "reasons", "first_seen", "last_seen", "flows_total", 0,
                         "flows_attack", 0, "pps", 0.0, "bps", 0.0, "spoofed_sources", 0,
                         "spoofed_examples", "sensor", c->cfg->sensor.id, "model_version",
                         "decision", 0, "expires");
    }
    const struct verdict *v = &e->v;
    char first[40], last[40], expires[40];
    char attack[VERDICT_ATTACK_TYPE_MAX], sensor[VERDICT_SENSOR_MAX],
        model[VERDICT_MODEL_VERSION_MAX];
    snprintf(attack, sizeof(attack), "%s", v->attack_type);
    snprintf(sensor, sizeof(sensor), "%s", v->sensor);
    snprintf(model, sizeof(model), "%s", v->model_version);
    json_t *reasons = json_array();
    char names[VERDICT_REASONS_TEXT_MAX];
    verdict_reasons_format(v->reasons, names, sizeof(names));
    for (char *save = NULL, *tok = strtok_r(names, ",", &save); tok && reasons;
         tok = strtok_r(NULL, ",", &save))
        json_array_append_new(reasons, json_string(tok));
    json_t *examples = json_array();
    for (unsigned i = 0; i < VERDICT_SPOOFED_EXAMPLES && examples; i++) {
        char addr[VERDICT_IP_TEXT_MAX];
        if (verdict_spoofed_example_format(v, i, addr))
            json_array_append_new(examples, json_string(addr));
    }
    /* json_string of a string that is not UTF-8 is NULL: such a field becomes null (o?), as in
     * verdict_render. */
    json_t *o = json_pack(
        "{s:s, s:s, s:b, s:f, s:s, s:o?, s:o, s:s, s:s, s:I, s:I, s:f, s:f, s:I, s:o, s:o?, s:o?, "
        "s:b, s:s}",
        "ip", ip, "threat_level", threat_level_name((enum threat_level)v->level), "known", 1,
        "score", v->score, "role", verdict_role_name((enum verdict_role)v->role), "attack_type",
        attack[0] ? json_string(attack) : NULL, "reasons", reasons ? reasons : json_array(),
        "first_seen", api_time_iso_us(v->first_seen_us, first, sizeof(first)), "last_seen",
        api_time_iso_us(v->last_seen_us, last, sizeof(last)), "flows_total",
        (json_int_t)v->flows_total, "flows_attack", (json_int_t)v->flows_attack, "pps", v->pps,
        "bps", v->bps, "spoofed_sources", (json_int_t)v->spoofed_sources, "spoofed_examples",
        examples ? examples : json_array(), "sensor", sensor[0] ? json_string(sensor) : NULL,
        "model_version", model[0] ? json_string(model) : NULL, "decision",
        (int)verdict_store_verdict_is_decision(c->store, v), "expires",
        api_time_rfc3339_ms(e->expires_ms, expires, sizeof(expires)));
    (void)now_ms;
    if (o == NULL) /* a non-finite number (jansson holds none): render what can be */
        o = json_pack("{s:s, s:s, s:b, s:f, s:s}", "ip", ip, "threat_level",
                      threat_level_name((enum threat_level)v->level), "known", 1, "score", v->score,
                      "role", verdict_role_name((enum verdict_role)v->role));
    return o;
}

/* ---------------------------------------------------------------- /api/threat-analysis */

enum { THREAT_BODY_MAX = 2304 }; /* fits every verdict: strings escaped 6 bytes per byte */

/* The text of a fixed-size field: at most size - 1 bytes, as snprintf("%s") would copy. */
#define FIELD(f)  (f), strnlen((f), sizeof(f) - 1)
#define LIT(b, s) api_jbuf_raw((b), s, sizeof(s) - 1)

/* Writes verdict_json's document without jansson, byte for byte what json_dumps(verdict_json(),
 * JSON_COMPACT | JSON_REAL_PRECISION(10)) gives for the same entry. (The one difference: a
 * non-finite number, which jansson cannot hold, is null here.) Returns false on overflow. */
static bool verdict_render(struct api_core *c, const char *ip, const struct verdict_store_entry *e,
                           struct api_jbuf *b)
{
    LIT(b, "{\"ip\":");
    api_jbuf_str_or_null(b, ip, strlen(ip));
    if (e == NULL) {
        LIT(b, ",\"threat_level\":\"low\",\"known\":false,\"score\":0.0,\"role\":null,"
               "\"attack_type\":null,\"reasons\":[],\"first_seen\":null,\"last_seen\":null,"
               "\"flows_total\":0,\"flows_attack\":0,\"pps\":0.0,\"bps\":0.0,"
               "\"spoofed_sources\":0,\"spoofed_examples\":[],\"sensor\":");
        api_jbuf_str_or_null(b, c->cfg->sensor.id, strlen(c->cfg->sensor.id));
        LIT(b, ",\"model_version\":null,\"decision\":false,\"expires\":null}");
        return !b->overflow;
    }
    const struct verdict *v = &e->v;
    char t[40];
    LIT(b, ",\"threat_level\":");
    api_jbuf_str(b, threat_level_name((enum threat_level)v->level),
                 strlen(threat_level_name((enum threat_level)v->level)));
    LIT(b, ",\"known\":true,\"score\":");
    api_jbuf_real(b, v->score);
    LIT(b, ",\"role\":");
    const char *role = verdict_role_name((enum verdict_role)v->role);
    api_jbuf_str(b, role, strlen(role));
    LIT(b, ",\"attack_type\":");
    if (v->attack_type[0])
        api_jbuf_str_or_null(b, FIELD(v->attack_type));
    else
        LIT(b, "null");
    LIT(b, ",\"reasons\":[");
    char names[VERDICT_REASONS_TEXT_MAX];
    verdict_reasons_format(v->reasons, names, sizeof(names));
    bool first = true;
    for (const char *p = names; *p;) { /* "model,rate_syn": strtok_r's tokens, no empties */
        size_t n = strcspn(p, ",");
        if (n) {
            if (!first)
                LIT(b, ",");
            api_jbuf_str_or_null(b, p, n);
            first = false;
        }
        p += n + (p[n] == ',');
    }
    LIT(b, "],\"first_seen\":");
    api_time_iso_us(v->first_seen_us, t, sizeof(t));
    api_jbuf_str(b, t, strlen(t));
    LIT(b, ",\"last_seen\":");
    api_time_iso_us(v->last_seen_us, t, sizeof(t));
    api_jbuf_str(b, t, strlen(t));
    LIT(b, ",\"flows_total\":");
    api_jbuf_int(b, (long long)v->flows_total);
    LIT(b, ",\"flows_attack\":");
    api_jbuf_int(b, (long long)v->flows_attack);
    LIT(b, ",\"pps\":");
    api_jbuf_real(b, v->pps);
    LIT(b, ",\"bps\":");
    api_jbuf_real(b, v->bps);
    LIT(b, ",\"spoofed_sources\":");
    api_jbuf_int(b, (long long)v->spoofed_sources);
    LIT(b, ",\"spoofed_examples\":[");
    first = true;
    for (unsigned i = 0; i < VERDICT_SPOOFED_EXAMPLES; i++) {
        char addr[VERDICT_IP_TEXT_MAX];
        if (!verdict_spoofed_example_format(v, i, addr))
            continue;
        if (!first)
            LIT(b, ",");
        api_jbuf_str(b, addr, strlen(addr));
        first = false;
    }
    LIT(b, "],\"sensor\":");
    if (v->sensor[0])
        api_jbuf_str_or_null(b, FIELD(v->sensor));
    else
        LIT(b, "null");
    LIT(b, ",\"model_version\":");
    if (v->model_version[0])
        api_jbuf_str_or_null(b, FIELD(v->model_version));
    else
        LIT(b, "null");
    if (verdict_store_verdict_is_decision(c->store, v))
        LIT(b, ",\"decision\":true,\"expires\":");
    else
        LIT(b, ",\"decision\":false,\"expires\":");
    api_time_rfc3339_ms(e->expires_ms, t, sizeof(t));
    api_jbuf_str(b, t, strlen(t));
    LIT(b, "}");
    return !b->overflow;
}

void api_route_threat(struct api_core *c, const struct api_request *in, const struct api_query *q,
                      struct api_reply *out)
{
    const char *ip = api_query_get(q, "ip");
    struct verdict key;
    char text[VERDICT_IP_TEXT_MAX];
    if (ip == NULL || *ip == '\0') {
        api_reply_error(out, 400, "bad_request", "missing query parameter ip (IPv4 or IPv6)");
        return;
    }
    if (api_ip_parse(ip, &key, text) != 0) {
        api_reply_error(out, 400, "bad_request", "ip is not an IPv4 or IPv6 address: '%.64s'", ip);
        return;
    }
    struct verdict_store_entry e;
    bool known = verdict_store_get(c->store, key.ip, key.ip_version, in->now_ms, &e);
    /* The gateway's hot path: the body is written into the stack and copied once into a
     * right-sized malloc'd buffer, which libmicrohttpd frees with the response. */
    char buf[THREAT_BODY_MAX];
    struct api_jbuf b = {.p = buf, .cap = sizeof(buf)};
    char *body;
    if (!verdict_render(c, text, known ? &e : NULL, &b)) { /* a very long sensor.id */
        api_reply_json(out, 200, verdict_json(c, text, known ? &e : NULL, in->now_ms));
        return;
    }
    body = malloc(b.len + 1);
    if (body == NULL) {
        api_reply_error(out, 500, "internal", "out of memory");
        return;
    }
    memcpy(body, buf, b.len);
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
    json_t *arr = json_array();
    for (long i = 0; arr && i < n; i++) {
        char text[VERDICT_IP_TEXT_MAX];
        verdict_ip_format(&list[i].v, text);
        json_array_append_new(arr, verdict_json(c, text, &list[i], in->now_ms));
    }
    free(list);
    api_reply_json(out, 200, json_pack("{s:I, s:o*}", "count", (json_int_t)n, "verdicts", arr));
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

    uint64_t ttl_ms = (uint64_t)(c->cfg->cache.ttl > 0 ? c->cfg->cache.ttl : 300) * 1000u;
    struct verdict_store_entry merged;
    int rc = verdict_store_merge(c->store, &r.v, in->now_ms + ttl_ms, &merged);
    if (rc != 0) {
        api_reply_error(out, 503, "unavailable", "%s",
                        rc == -ENOSPC ? "the verdict store is full" : "cannot store the report");
        goto done;
    }

    char client[VERDICT_IP_TEXT_MAX], ts[40], id[64];
    report_client(in, client);
    api_time_iso_us(r.v.last_seen_us, ts, sizeof(ts));
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
    if (c->hooks.report)
        c->hooks.report(c->hooks.user, &r.v);
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
