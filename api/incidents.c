/* incidents.c - the JSON the dashboard reads, usable by scripts too (docs/api.md):
 *   /api/incidents             the daemon now (rates, drops, verdicts by level, Redis, model) and
 *                              the incidents: open attack episodes first, then those ended in the
 *                              last `ended` seconds (default 300), each with its verdict, peaks,
 *                              top peers and spoofed-source count;
 *   /api/events?since=ID&ip=   the event trail after event ID (start, level, end, report), oldest
 *                              first, optionally only the events that name ip;
 *   /api/timeseries?ip=        an incident's pps/bps, one point per second of the stage clock.
 *
 * Threads: any API thread. State read: the trail (verdicts/trail.h, its own lock), the verdict
 * store (its locks) and the daemon's hooks (thread-safe by contract). Writes nothing but the
 * trail's rate meter.
 *
 * DESIGN: every answer is built with jansson from copies taken under the trail's lock, so no
 * lock is held while JSON is written. A verdict inside these documents is the API's one verdict
 * format (verdict_json_api, as /api/threat-analysis writes it), parsed back into the tree: one
 * format for the dashboard and the gateway. With api.dashboard_auth the three need SECRET_KEY
 * (the dashboard page asks for it); without, they are read-only views like /api/verdicts.
 * Without a trail (an API-only node) the incidents are the store's verdicts at high or above and
 * the event trail is empty. */
#include "api/api_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/timefmt.h"
#include "verdicts/verdict_json.h"

enum {
    INCIDENTS_MAX = 100,
    EVENTS_LIMIT_DEFAULT = 200,
    EVENTS_LIMIT_MAX = 1000,
    ENDED_DEFAULT_S = 300,
    COUNTERS_MAX = 256,
};

/* 401/403/503 and false when api.dashboard_auth wants a key this request lacks. */
static bool dash_allowed(struct api_core *c, const struct api_request *in, struct api_reply *out)
{
    if (!c->cfg->api.dashboard_auth)
        return true;
    return api_authenticate(c, in, false, out) >= 0;
}

static json_t *json_time_ms(uint64_t ms)
{
    if (ms == 0)
        return json_null();
    char buf[40];
    dd_time_iso8601_us(buf, sizeof(buf), ms * 1000u, 3);
    return json_string(buf);
}

static json_t *json_time_us(uint64_t us)
{
    if (us == 0)
        return json_null();
    char buf[40];
    dd_time_iso8601_us(buf, sizeof(buf), us, 3);
    return json_string(buf);
}

static json_t *json_ip(const uint8_t ip[16], uint8_t ver)
{
    struct verdict v = {.ip_version = ver};
    memcpy(v.ip, ip, 16);
    char text[VERDICT_IP_TEXT_MAX];
    return json_string(verdict_ip_format(&v, text));
}

/* The API's verdict object for the address (the store's entry e when known, for decision and
 * expires; else v), as a jansson tree. */
static json_t *verdict_tree(struct api_core *c, const struct verdict *v,
                            const struct verdict_store_entry *e)
{
    char ip[VERDICT_IP_TEXT_MAX];
    verdict_ip_format(v, ip);
    const struct verdict *src = e ? &e->v : v;
    char buf[VERDICT_JSON_MAX + 256];
    struct jbuf b = {.p = buf, .cap = sizeof(buf)};
    if (!verdict_json_api(&b, ip, src, verdict_store_verdict_is_decision(c->store, src),
                          e ? e->expires_ms : 0, NULL))
        return json_null();
    json_t *t = json_loadb(buf, b.len, 0, NULL);
    return t ? t : json_null();
}

static json_t *peers_tree(const struct redis_sink_peer *peers, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:o, s:I}", "ip",
                                           json_ip(peers[i].ip, peers[i].ip_version), "flows",
                                           (json_int_t)peers[i].flows));
    return a;
}

static json_t *examples_tree(const struct verdict *v)
{
    json_t *a = json_array();
    char buf[VERDICT_IP_TEXT_MAX];
    for (unsigned i = 0; i < VERDICT_SPOOFED_EXAMPLES; i++)
        if (verdict_spoofed_example_format(v, i, buf))
            json_array_append_new(a, json_string(buf));
    return a;
}

static json_t *reasons_tree(uint32_t reasons)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < 32; i++) {
        const char *n = (reasons >> i) & 1u ? verdict_reason_name(i) : NULL;
        if (n)
            json_array_append_new(a, json_string(n));
    }
    return a;
}

/* ---------------------------------------------------------------- /api/incidents */

/* The counter named name (with label value lv, or the first when lv is NULL); 0 when absent. */
static uint64_t counter(const struct api_counter *ctr, size_t n, const char *name, const char *lv)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ctr[i].name, name) == 0 &&
            (lv == NULL || (ctr[i].label_value && strcmp(ctr[i].label_value, lv) == 0)))
            return ctr[i].value;
    return 0;
}

static json_t *now_tree(struct api_core *c, uint64_t now_ms)
{
    struct api_health h;
    api_health_read(c, &h);
    struct api_counter *ctr = calloc(COUNTERS_MAX, sizeof(*ctr));
    size_t n = ctr ? c->hooks.counters(c->hooks.user, ctr, COUNTERS_MAX) : 0;
    double pps = 0, fps = 0;
    if (c->trail)
        trail_rates(c->trail, dd_mono_ms(), h.packets, h.flows, &pps, &fps);
    json_t *by_level = json_object();
    static const char *const lv[4] = {"low", "medium", "high", "critical"};
    for (int l = 0; l < 4; l++)
        json_object_set_new(by_level, lv[l],
                            json_integer((json_int_t)counter(ctr, n, "verdicts", lv[l])));
    json_t *o = json_pack(
        "{s:o, s:s, s:f, s:s, s:I, s:f, s:I, s:f, s:I, s:{s:I, s:I, s:I}, s:I, s:o, s:I, "
        "s:{s:b, s:b, s:s}, s:{s:b, s:s?, s:s}}",
        "time", json_time_ms(now_ms), "sensor", h.sensor[0] ? h.sensor : c->cfg->sensor.id,
        "uptime_s", h.uptime_s, "capture", h.capture_detail, "packets", (json_int_t)h.packets,
        "packets_per_s", pps, "flows", (json_int_t)h.flows, "flows_per_s", fps, "flows_active",
        (json_int_t)counter(ctr, n, "flows_active", NULL), "drops", "kernel",
        (json_int_t)counter(ctr, n, "kernel_dropped_total", NULL), "ring",
        (json_int_t)(counter(ctr, n, "flow_records_dropped_total", NULL) +
                     counter(ctr, n, "vectors_dropped_total", NULL)),
        "reports", (json_int_t)counter(ctr, n, "reports_dropped_total", NULL), "verdicts",
        (json_int_t)h.verdicts, "verdicts_by_level", by_level, "attacks_active",
        (json_int_t)counter(ctr, n, "attacks_active", NULL), "redis", "enabled",
        (int)h.redis_enabled, "connected", (int)h.redis_connected, "detail", h.redis_detail,
        "model", "ok", (int)h.model_ok, "version", h.model_version[0] ? h.model_version : NULL,
        "detail", h.model_detail);
    free(ctr);
    return o;
}

static json_t *incident_tree(struct api_core *c, const struct trail_incident *inc, uint64_t now_ms)
{
    /* The role's verdict now: the store's when it speaks for the same role (it is published at
     * every change, the trail samples once a second), else the trail's latest. The attack type
     * stays the episode's once the level falls below the one that names it. */
    struct verdict_store_entry e;
    bool known = verdict_store_get(c->store, inc->v.ip, inc->v.ip_version, now_ms, &e);
    struct verdict now = inc->v;
    if (known && e.v.role == inc->v.role && inc->ended_ms == 0) {
        now = e.v;
        if (!now.attack_type[0])
            memcpy(now.attack_type, inc->v.attack_type, sizeof(now.attack_type));
    }
    const struct verdict *v = &now;
    double peak_pps = v->pps > inc->peak_pps ? v->pps : inc->peak_pps;
    double peak_bps = v->bps > inc->peak_bps ? v->bps : inc->peak_bps;
    uint8_t peak_level = v->level > inc->peak_level ? v->level : inc->peak_level;
    char ip[VERDICT_IP_TEXT_MAX];
    verdict_ip_format(v, ip);
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:f, s:f, s:i, s:o, s:o, s:o, s:o, s:b, "
                     "s:{s:s, s:f, s:f}, s:o, s:I, s:I, s:o}",
                     "ip", ip, "role", verdict_role_name((enum verdict_role)v->role),
                     "threat_level", threat_level_name((enum threat_level)v->level), "attack_type",
                     v->attack_type[0] ? v->attack_type : "", "reasons", reasons_tree(v->reasons),
                     "pps", v->pps, "bps", v->bps, "spoofed_sources", (int)v->spoofed_sources,
                     "spoofed_examples", examples_tree(v), "since", json_time_us(inc->start_us),
                     "opened", json_time_ms(inc->opened_ms), "ended", json_time_ms(inc->ended_ms),
                     "open", (int)(inc->ended_ms == 0), "peak", "threat_level",
                     threat_level_name((enum threat_level)peak_level), "pps", peak_pps, "bps",
                     peak_bps, "peers", peers_tree(inc->peers, inc->npeers), "points",
                     (json_int_t)inc->npoints, "start_event", (json_int_t)inc->start_event,
                     "verdict", verdict_tree(c, v, known ? &e : NULL));
}

void api_route_incidents(struct api_core *c, const struct api_request *in,
                         const struct api_query *q, struct api_reply *out)
{
    if (!dash_allowed(c, in, out))
        return;
    long ended_s = ENDED_DEFAULT_S;
    const char *es = api_query_get(q, "ended");
    if (es) {
        char *end;
        errno = 0;
        ended_s = strtol(es, &end, 10);
        if (errno || end == es || *end || ended_s < 0 || ended_s > 86400) {
            api_reply_error(out, 400, "bad_request",
                            "ended is the seconds for which ended incidents are listed, 0..86400");
            return;
        }
    }
    uint64_t now_ms = in->now_ms;
    json_t *list = json_array();
    struct trail_stats ts = {0};
    if (!c->trail) {
        /* A node without a pipeline (ddosd --api-only) has no episodes of its own: its incidents
         * are the addresses at high or above in the store, without series or peers. */
        struct verdict_store_entry *e = NULL;
        long n = verdict_store_list(c->store, THREAT_HIGH, INCIDENTS_MAX, now_ms, &e);
        for (long i = 0; i < n; i++) {
            struct trail_incident inc = {.v = e[i].v,
                                         .start_us = e[i].v.first_seen_us,
                                         .peak_pps = e[i].v.pps,
                                         .peak_bps = e[i].v.bps,
                                         .peak_level = e[i].v.level};
            json_array_append_new(list, incident_tree(c, &inc, now_ms));
        }
        free(e);
    } else {
        struct trail_incident *inc = malloc(INCIDENTS_MAX * sizeof(*inc));
        if (!inc) {
            json_decref(list);
            api_reply_error(out, 500, "internal", "out of memory");
            return;
        }
        uint64_t after =
            now_ms > (uint64_t)ended_s * 1000u ? now_ms - (uint64_t)ended_s * 1000u : 1;
        size_t n = trail_incidents(c->trail, after, inc, INCIDENTS_MAX);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, incident_tree(c, &inc[i], now_ms));
        free(inc);
        trail_stats_get(c->trail, &ts);
    }
    api_reply_json(out, 200,
                   json_pack("{s:o, s:o, s:I, s:I}", "now", now_tree(c, now_ms), "incidents", list,
                             "last_event", (json_int_t)ts.events, "incidents_dropped",
                             (json_int_t)ts.incidents_dropped));
}

/* ---------------------------------------------------------------- /api/events */

static json_t *event_tree(const struct trail_event *e)
{
    const struct verdict *v = &e->v;
    char ip[VERDICT_IP_TEXT_MAX];
    verdict_ip_format(v, ip);
    json_t *o = json_pack(
        "{s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:o, s:f, s:f, s:i, s:o, s:o, s:o, "
        "s:s, s:s}",
        "id", (json_int_t)e->id, "time", json_time_ms(e->at_ms), "event",
        trail_event_kind_name((enum trail_event_kind)e->kind), "ip", ip, "role",
        verdict_role_name((enum verdict_role)v->role), "threat_level",
        threat_level_name((enum threat_level)v->level), "previous_level",
        threat_level_name((enum threat_level)e->prev_level), "peak_level",
        threat_level_name((enum threat_level)e->peak_level), "score", v->score, "reasons",
        reasons_tree(v->reasons), "pps", v->pps, "bps", v->bps, "spoofed_sources",
        (int)v->spoofed_sources, "spoofed_examples", examples_tree(v), "since",
        json_time_us(v->first_seen_us), "peers", peers_tree(e->peers, e->npeers), "attack_type",
        v->attack_type[0] ? v->attack_type : "", "sensor", v->sensor);
    return o;
}

void api_route_events(struct api_core *c, const struct api_request *in, const struct api_query *q,
                      struct api_reply *out)
{
    if (!dash_allowed(c, in, out))
        return;
    uint64_t since = 0;
    long limit = EVENTS_LIMIT_DEFAULT;
    const char *s = api_query_get(q, "since");
    if (s && *s) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-') {
            api_reply_error(out, 400, "bad_request",
                            "since is an event id (0 or the last id you read)");
            return;
        }
        since = v;
    }
    const char *ls = api_query_get(q, "limit");
    if (ls) {
        char *end;
        errno = 0;
        limit = strtol(ls, &end, 10);
        if (errno || end == ls || *end || limit < 1 || limit > EVENTS_LIMIT_MAX) {
            api_reply_error(out, 400, "bad_request", "limit must be 1..%d", EVENTS_LIMIT_MAX);
            return;
        }
    }
    struct verdict key = {0};
    const char *ip = api_query_get(q, "ip");
    if (ip && *ip) {
        char text[VERDICT_IP_TEXT_MAX];
        if (api_ip_parse(ip, &key, text) != 0) {
            api_reply_error(out, 400, "bad_request", "ip is not an IPv4 or IPv6 address: '%.64s'",
                            ip);
            return;
        }
    }
    json_t *list = json_array();
    uint64_t oldest = 0, last = 0;
    if (c->trail) {
        struct trail_event *ev = malloc((size_t)limit * sizeof(*ev));
        if (!ev) {
            json_decref(list);
            api_reply_error(out, 500, "internal", "out of memory");
            return;
        }
        size_t n =
            trail_events(c->trail, since, key.ip, key.ip_version, ev, (size_t)limit, &oldest);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, event_tree(&ev[i]));
        free(ev);
        struct trail_stats ts;
        trail_stats_get(c->trail, &ts);
        last = ts.events;
    }
    /* "next": the since of the following call. With a filter or a limit the scan may stop
     * before the newest event; the last id returned (or, when none matched, the newest id when
     * the whole range was scanned) is where to go on. */
    size_t got = json_array_size(list);
    uint64_t next = since;
    if (got)
        next = (uint64_t)json_integer_value(json_object_get(json_array_get(list, got - 1), "id"));
    if (got < (size_t)limit && last > next)
        next = last;
    api_reply_json(out, 200,
                   json_pack("{s:o, s:I, s:I, s:b}", "events", list, "next", (json_int_t)next,
                             "oldest", (json_int_t)oldest, "missed",
                             (int)(oldest && since + 1 < oldest && last)));
}

/* ---------------------------------------------------------------- /api/timeseries */

void api_route_timeseries(struct api_core *c, const struct api_request *in,
                          const struct api_query *q, struct api_reply *out)
{
    if (!dash_allowed(c, in, out))
        return;
    struct verdict key;
    char text[VERDICT_IP_TEXT_MAX];
    if (!api_query_ip(q, out, &key, text))
        return;
    int role = -1;
    const char *rs = api_query_get(q, "role");
    if (rs && *rs) {
        enum verdict_role r;
        if (verdict_role_parse(rs, &r) != 0) {
            api_reply_error(out, 400, "bad_request", "role is attacker or victim");
            return;
        }
        role = (int)r;
    }
    struct trail_point *pts = malloc(TRAIL_POINTS * sizeof(*pts));
    if (!pts) {
        api_reply_error(out, 500, "internal", "out of memory");
        return;
    }
    struct trail_incident inc;
    long n = c->trail
                 ? trail_series(c->trail, key.ip, key.ip_version, role, &inc, pts, TRAIL_POINTS)
                 : -ENOENT;
    if (n < 0) {
        free(pts);
        api_reply_error(out, 404, "not_found",
                        "%s has no incident: series are kept for the IPs of attack episodes "
                        "(see /api/incidents)",
                        text);
        return;
    }
    json_t *list = json_array();
    for (long i = 0; i < n; i++) {
        char t[40];
        dd_time_iso8601_us(t, sizeof(t), pts[i].t_us, 3);
        json_array_append_new(list, json_pack("{s:s, s:I, s:f, s:f, s:s}", "time", t, "t_us",
                                              (json_int_t)pts[i].t_us, "pps", (double)pts[i].pps,
                                              "bps", (double)pts[i].bps, "threat_level",
                                              threat_level_name((enum threat_level)pts[i].level)));
    }
    free(pts);
    api_reply_json(out, 200,
                   json_pack("{s:s, s:s, s:o, s:o, s:b, s:o}", "ip", text, "role",
                             verdict_role_name((enum verdict_role)inc.v.role), "since",
                             json_time_us(inc.start_us), "ended", json_time_ms(inc.ended_ms),
                             "open", (int)(inc.ended_ms == 0), "points", list));
}
