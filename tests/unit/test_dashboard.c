/* test_dashboard.c - unit tests of what the dashboard reads: the event trail and incidents
 * (verdicts/trail.c), the verdict table's level-change events and live episode view, the log
 * rate limit (common/log_limit.h), and the JSON endpoints /api/incidents, /api/events,
 * /api/timeseries and the /dashboard assets through the API's request core (api_handle: the
 * same code the transport and the fuzzer call), with api.dashboard_auth on and off. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/api.h"
#include "api/api_internal.h"
#include "common/log_limit.h"
#include "verdicts/trail.h"
#include "verdicts/verdict_table.h"

#define SEC    1000000ull
#define T0     (1700000000ull * SEC)
#define SECRET "dash-secret-key-0123456789abcdef"

static struct verdict mk(const char *ip, int role, int level, const char *type, double pps)
{
    struct verdict v;
    memset(&v, 0, sizeof(v));
    assert_int_equal(verdict_ip_parse(ip, &v), 0);
    v.role = (uint8_t)role;
    v.level = (uint8_t)level;
    v.pps = pps;
    v.bps = pps * 480;
    v.first_seen_us = T0;
    snprintf(v.attack_type, sizeof(v.attack_type), "%s", type);
    return v;
}

static struct redis_sink_peer peer(const char *ip, uint64_t flows)
{
    struct verdict v;
    memset(&v, 0, sizeof(v));
    assert_int_equal(verdict_ip_parse(ip, &v), 0);
    struct redis_sink_peer p = {.ip_version = v.ip_version, .flows = flows};
    memcpy(p.ip, v.ip, 16);
    return p;
}

/* ---------------------------------------------------------------- the trail */

static void test_trail_events_since_and_filter(void **state)
{
    (void)state;
    struct trail *t = trail_create();
    assert_non_null(t);
    struct verdict a = mk("10.0.0.1", VERDICT_ROLE_VICTIM, THREAT_HIGH, "syn_flood", 5000);
    struct verdict b = mk("10.0.0.2", VERDICT_ROLE_VICTIM, THREAT_CRITICAL, "udp_flood", 90000);
    struct redis_sink_peer pa[2] = {peer("198.18.0.7", 40), peer("198.18.0.8", 12)};
    assert_int_equal(trail_event_add(t, TRAIL_EVENT_START, &a, a.level, pa, 2), 1);
    assert_int_equal(trail_event_add(t, TRAIL_EVENT_START, &b, b.level, NULL, 0), 2);
    a.level = THREAT_CRITICAL;
    assert_int_equal(trail_event_add(t, TRAIL_EVENT_LEVEL, &a, THREAT_HIGH, pa, 2), 3);

    struct trail_event ev[8];
    uint64_t oldest;
    size_t n = trail_events(t, 0, NULL, 0, ev, 8, &oldest);
    assert_int_equal(n, 3);
    assert_int_equal(oldest, 1);
    assert_int_equal(ev[2].kind, TRAIL_EVENT_LEVEL);
    assert_int_equal(ev[2].prev_level, THREAT_HIGH);
    assert_int_equal(ev[2].v.level, THREAT_CRITICAL);
    assert_int_equal(ev[2].peak_level, THREAT_CRITICAL);
    /* since: only later ids */
    n = trail_events(t, 2, NULL, 0, ev, 8, &oldest);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].id, 3);
    /* an IP filter matches the event's IP and its peers */
    struct verdict key = mk("10.0.0.2", 0, 0, "", 0);
    n = trail_events(t, 0, key.ip, key.ip_version, ev, 8, &oldest);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].id, 2);
    key = mk("198.18.0.8", 0, 0, "", 0);
    n = trail_events(t, 0, key.ip, key.ip_version, ev, 8, &oldest);
    assert_int_equal(n, 2); /* the start and the level change of 10.0.0.1 name it */
    trail_destroy(t);
}

static void test_trail_ring_wraps(void **state)
{
    (void)state;
    struct trail *t = trail_create();
    struct verdict r = mk("192.0.2.1", VERDICT_ROLE_ATTACKER, THREAT_HIGH, "", 0);
    for (int i = 0; i < TRAIL_EVENTS + 10; i++)
        (void)trail_event_add(t, TRAIL_EVENT_REPORT, &r, r.level, NULL, 0);
    struct trail_event *ev = calloc(4, sizeof(*ev));
    uint64_t oldest;
    size_t n = trail_events(t, 0, NULL, 0, ev, 4, &oldest);
    assert_int_equal(oldest, 11); /* ids 1..10 were overwritten: a reader at 0 missed them */
    assert_int_equal(n, 4);
    assert_int_equal(ev[0].id, 11);
    free(ev);
    trail_destroy(t);
}

static void test_trail_incidents_and_series(void **state)
{
    (void)state;
    struct trail *t = trail_create();
    struct verdict a = mk("10.0.0.1", VERDICT_ROLE_VICTIM, THREAT_HIGH, "syn_flood", 5000);
    struct verdict b = mk("10.0.0.2", VERDICT_ROLE_VICTIM, THREAT_CRITICAL, "udp_flood", 100);
    (void)trail_event_add(t, TRAIL_EVENT_START, &a, a.level, NULL, 0);
    (void)trail_event_add(t, TRAIL_EVENT_START, &b, b.level, NULL, 0);
    /* a report is an event, never an incident */
    struct verdict rep = mk("10.0.0.9", VERDICT_ROLE_ATTACKER, THREAT_CRITICAL, "", 0);
    (void)trail_event_add(t, TRAIL_EVENT_REPORT, &rep, rep.level, NULL, 0);

    struct trail_key keys[8];
    assert_int_equal(trail_open_keys(t, keys, 8), 2);

    struct redis_sink_peer pa[1] = {peer("198.18.0.7", 40)};
    for (int i = 0; i < 5; i++) {
        a.pps = 1000.0 * (i + 1);
        trail_sample(t, &a, T0 + (uint64_t)i * SEC, 9000, 9000 * 480, THREAT_HIGH, pa, 1);
    }
    /* a sample of an IP without an open incident changes nothing */
    trail_sample(t, &rep, T0, 1, 1, THREAT_HIGH, NULL, 0);

    struct trail_incident inc[8];
    size_t n = trail_incidents(t, 0, inc, 8);
    assert_int_equal(n, 2);
    /* open ones by level first: critical b before high a */
    assert_string_equal(inc[0].v.attack_type, "udp_flood");
    assert_int_equal(inc[1].npoints, 5);
    assert_int_equal(inc[1].npeers, 1);
    assert_true(inc[1].peak_pps >= 9000);

    struct trail_point pts[TRAIL_POINTS];
    struct trail_incident one;
    long np = trail_series(t, a.ip, a.ip_version, -1, &one, pts, TRAIL_POINTS);
    assert_int_equal(np, 5);
    assert_true(pts[0].t_us < pts[4].t_us); /* oldest first */
    assert_float_equal(pts[4].pps, 5000, 0.5);
    np = trail_series(t, a.ip, a.ip_version, -1, &one, pts, 2); /* the newest two */
    assert_int_equal(np, 2);
    assert_float_equal(pts[1].pps, 5000, 0.5);
    assert_int_equal(trail_series(t, rep.ip, rep.ip_version, -1, &one, pts, 2), -ENOENT);

    /* the end closes it: it stays listed as ended, after the open ones */
    (void)trail_event_add(t, TRAIL_EVENT_END, &b, THREAT_CRITICAL, NULL, 0);
    assert_int_equal(trail_open_keys(t, keys, 8), 1);
    n = trail_incidents(t, 0, inc, 8);
    assert_int_equal(n, 2);
    assert_int_equal(inc[0].ended_ms, 0);
    assert_true(inc[1].ended_ms > 0);
    /* ... unless it ended before the reader's horizon */
    n = trail_incidents(t, inc[1].ended_ms + 1, inc, 8);
    assert_int_equal(n, 1);
    /* a new episode of the same IP opens a new incident */
    (void)trail_event_add(t, TRAIL_EVENT_START, &b, b.level, NULL, 0);
    assert_int_equal(trail_open_keys(t, keys, 8), 2);
    trail_destroy(t);
}

static void test_trail_incident_slots_full(void **state)
{
    (void)state;
    struct trail *t = trail_create();
    char ip[32];
    for (int i = 0; i < TRAIL_INCIDENTS + 3; i++) {
        snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 250, i % 250 + 1);
        struct verdict v = mk(ip, VERDICT_ROLE_VICTIM, THREAT_HIGH, "syn_flood", 1);
        (void)trail_event_add(t, TRAIL_EVENT_START, &v, v.level, NULL, 0);
    }
    struct trail_stats st;
    trail_stats_get(t, &st);
    assert_int_equal(st.incidents_open, TRAIL_INCIDENTS);
    assert_int_equal(st.incidents_dropped, 3);
    assert_int_equal(st.events, TRAIL_INCIDENTS + 3); /* every event is still recorded */
    trail_destroy(t);
}

/* ---------------------------------------------------------------- the log rate limit */

static void test_log_limit(void **state)
{
    (void)state;
    struct log_limit l;
    log_limit_init(&l, 2.0, 20.0);
    uint64_t now = 5000, span;
    int passed = 0;
    for (int i = 0; i < 100000; i++) /* a flood within one millisecond */
        passed += log_limit_take(&l, now);
    assert_int_equal(passed, 20);
    assert_int_equal(log_limit_flush(&l, now + 400, &span), 100000 - 20);
    assert_int_equal(span, 400);
    assert_int_equal(log_limit_flush(&l, now + 400, &span), 0); /* said once */
    /* two a second after the burst */
    passed = 0;
    for (int ms = 0; ms < 10000; ms += 10)
        passed += log_limit_take(&l, now + 1000 + (uint64_t)ms);
    assert_in_range(passed, 19, 22);
    assert_int_equal(l.total_suppressed, 100000 - 20 + (1000 - (uint64_t)passed));
}

/* ---------------------------------------------------------------- verdict table: level changes */

static struct {
    int starts, ends, levels;
    uint8_t prev[16], now[16];
    struct verdict end;
} vt_rec;

static void vt_on_event(void *user, enum verdict_event_kind kind, const struct verdict *v,
                        const struct redis_sink_peer *peers, size_t npeers)
{
    (void)user;
    (void)peers;
    (void)npeers;
    if (kind == VERDICT_EVENT_ATTACK_START) {
        vt_rec.starts++;
    } else {
        vt_rec.ends++;
        vt_rec.end = *v;
    }
}

static void vt_on_level(void *user, const struct verdict *v, uint8_t prev,
                        const struct redis_sink_peer *peers, size_t npeers)
{
    (void)user;
    (void)peers;
    (void)npeers;
    assert_true(vt_rec.starts > 0); /* never before its start */
    assert_int_equal(vt_rec.ends, 0);
    if (vt_rec.levels < 16) {
        vt_rec.prev[vt_rec.levels] = prev;
        vt_rec.now[vt_rec.levels] = v->level;
    }
    vt_rec.levels++;
}

static struct rate_alert alert(const char *ip, int level, bool ended, uint64_t ts)
{
    struct verdict v = mk(ip, 0, 0, "", 0);
    struct rate_alert a;
    memset(&a, 0, sizeof(a));
    memcpy(a.ip, v.ip, 16);
    a.version = v.ip_version;
    a.role = VERDICT_ROLE_VICTIM;
    a.level = (uint8_t)level;
    a.ended = ended;
    a.reasons = VERDICT_REASON_RATE_PPS;
    a.score = 0.9;
    a.pps = 50000;
    a.bps = 50000 * 480.0;
    a.udp_pps = 50000;
    a.ts_us = ts;
    return a;
}

static void test_table_level_change_events(void **state)
{
    (void)state;
    memset(&vt_rec, 0, sizeof(vt_rec));
    struct verdict_table_config cfg = {.max_ips = 64, .max_episodes = 8, .sensor_id = "t"};
    struct verdict_table_sink sink = {.event = vt_on_event, .level_change = vt_on_level};
    struct verdict_table *t = verdict_table_create(&cfg, &sink);
    assert_non_null(t);
    const char *ip = "203.0.113.5";
    uint64_t now = T0;
    struct rate_alert a = alert(ip, THREAT_HIGH, false, now);
    verdict_table_alert(t, &a);
    verdict_table_tick(t, now, 0);
    assert_int_equal(vt_rec.starts, 1);
    assert_int_equal(vt_rec.levels, 0); /* the start says the first level */

    struct verdict_episode_info ep;
    struct verdict key = mk(ip, 0, 0, "", 0);
    assert_true(verdict_table_episode_get(t, key.ip, key.ip_version, VERDICT_ROLE_VICTIM, &ep));
    assert_int_equal(ep.v.level, THREAT_HIGH);
    assert_true(ep.peak_pps >= 50000);
    assert_false(verdict_table_episode_get(t, key.ip, key.ip_version, VERDICT_ROLE_ATTACKER, &ep));

    now += SEC;
    a = alert(ip, THREAT_CRITICAL, false, now);
    verdict_table_alert(t, &a);
    verdict_table_tick(t, now, 0);
    assert_int_equal(vt_rec.levels, 1);
    assert_int_equal(vt_rec.prev[0], THREAT_HIGH);
    assert_int_equal(vt_rec.now[0], THREAT_CRITICAL);

    /* up and back down between two ticks: no event */
    now += SEC;
    a = alert(ip, THREAT_HIGH, false, now);
    verdict_table_alert(t, &a);
    a = alert(ip, THREAT_CRITICAL, false, now);
    verdict_table_alert(t, &a);
    verdict_table_tick(t, now, 0);
    assert_int_equal(vt_rec.levels, 1);

    /* the alert ends: the level falls (an event), then the episode ends */
    now += SEC;
    a = alert(ip, THREAT_CRITICAL, true, now);
    verdict_table_alert(t, &a);
    for (int i = 0; i < 40; i++) {
        now += SEC;
        verdict_table_tick(t, now, 0);
    }
    assert_int_equal(vt_rec.ends, 1);
    assert_true(vt_rec.levels >= 2);
    assert_int_equal(vt_rec.prev[1], THREAT_CRITICAL);
    assert_true(vt_rec.now[1] < THREAT_HIGH);
    assert_int_equal(vt_rec.starts, 1); /* one episode: one start, one end */
    /* The end names the episode: its peak level, and why (not the faded role's score 0 and no
     * reasons). */
    assert_int_equal(vt_rec.end.level, THREAT_CRITICAL);
    assert_true(vt_rec.end.score > 0.5);
    assert_true(vt_rec.end.reasons & VERDICT_REASON_RATE_PPS);
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.level_changes, (uint64_t)vt_rec.levels);
    verdict_table_destroy(t);
}

/* ---------------------------------------------------------------- the endpoints (api_handle) */

static void stub_health(void *user, struct api_health *out)
{
    (void)user;
    out->capture_ok = out->model_ok = true;
    snprintf(out->model_version, sizeof(out->model_version), "0123456789abcdef");
    snprintf(out->sensor, sizeof(out->sensor), "dash-sensor");
    out->redis_enabled = true;
    out->redis_connected = true;
    out->packets = 1000;
    out->flows = 10;
    out->verdicts = 3;
}

static size_t stub_counters(void *user, struct api_counter *out, size_t max)
{
    (void)user;
    static const struct api_counter c[] = {
        {"kernel_dropped_total", "k", NULL, NULL, 7, API_COUNTER},
        {"flow_records_dropped_total", "r", NULL, NULL, 2, API_COUNTER},
        {"vectors_dropped_total", "v", NULL, NULL, 1, API_COUNTER},
        {"verdicts", "by level", "level", "low", 5, API_GAUGE},
        {"verdicts", "by level", "level", "critical", 2, API_GAUGE},
        {"attacks_active", "a", NULL, NULL, 2, API_GAUGE},
    };
    size_t n = DD_ARRAY_LEN(c) < max ? DD_ARRAY_LEN(c) : max;
    memcpy(out, c, n * sizeof(*c));
    return n;
}

struct fixture {
    struct ddosd_config cfg;
    struct verdict_store *store;
    struct trail *trail;
    struct api_core *core;
    const char *auth; /* Authorization header value, or NULL */
};

static const char *fx_header(void *cls, const char *name)
{
    struct fixture *f = cls;
    return strcasecmp(name, "Authorization") == 0 ? f->auth : NULL;
}

static struct fixture *fx_new(bool dashboard_auth)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(config_defaults(&f->cfg), 0);
    f->cfg.redis.enabled = false;
    f->cfg.api.dashboard_auth = dashboard_auth;
    f->store = verdict_store_create(1024, 0, NULL);
    f->trail = trail_create();
    struct api_options o = {.cfg = &f->cfg,
                            .secret_key = SECRET,
                            .store = f->store,
                            .trail = f->trail,
                            .hooks = {.health = stub_health, .counters = stub_counters}};
    f->core = api_core_create(&o);
    assert_non_null(f->core);
    return f;
}

static void fx_free(struct fixture *f)
{
    api_core_destroy(f->core);
    trail_destroy(f->trail);
    verdict_store_destroy(f->store);
    config_free(&f->cfg);
    free(f);
}

static json_t *get(struct fixture *f, const char *uri, int want_status, struct api_reply *keep)
{
    struct api_request in = {.method = "GET",
                             .uri = uri,
                             .header = fx_header,
                             .header_cls = f,
                             .peer = "127.0.0.1",
                             .peer_loopback = true,
                             .now_ms = verdict_store_now_ms()};
    struct api_reply r;
    api_handle(f->core, &in, &r);
    if (r.status != want_status)
        fail_msg("%s: status %d, wanted %d: %.*s", uri, r.status, want_status, (int)r.body_len,
                 r.body ? r.body : "");
    json_t *j = NULL;
    if (r.content_type && strncmp(r.content_type, "application/json", 16) == 0)
        j = json_loadb(r.body, r.body_len, 0, NULL);
    if (keep)
        *keep = r;
    else
        api_reply_free(&r);
    return j;
}

static void seed(struct fixture *f)
{
    struct verdict a = mk("10.0.0.1", VERDICT_ROLE_VICTIM, THREAT_HIGH, "syn_flood", 5000);
    struct verdict b = mk("10.0.0.2", VERDICT_ROLE_VICTIM, THREAT_CRITICAL, "syn_flood", 90000);
    b.spoofed_sources = 100000;
    b.reasons = VERDICT_REASON_SPOOFED | VERDICT_REASON_RATE_SYN;
    struct redis_sink_peer pa[2] = {peer("198.18.0.7", 40), peer("198.18.0.8", 12)};
    (void)trail_event_add(f->trail, TRAIL_EVENT_START, &a, a.level, pa, 2);
    (void)trail_event_add(f->trail, TRAIL_EVENT_START, &b, b.level, NULL, 0);
    assert_int_equal(verdict_store_put(f->store, &b, verdict_store_now_ms() + 60000), 0);
    for (int i = 0; i < 3; i++)
        trail_sample(f->trail, &b, T0 + (uint64_t)i * SEC, b.pps, b.bps, b.level, NULL, 0);
}

static void test_endpoint_incidents(void **state)
{
    (void)state;
    struct fixture *f = fx_new(false);
    seed(f);
    json_t *j = get(f, "/api/incidents", 200, NULL);
    assert_non_null(j);
    json_t *now = json_object_get(j, "now");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(now, "drops"), "kernel")),
                     7);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(now, "drops"), "ring")), 3);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(now, "verdicts_by_level"), "critical")),
        2);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(now, "model"), "version")),
        "0123456789abcdef");
    json_t *list = json_object_get(j, "incidents");
    assert_int_equal(json_array_size(list), 2);
    json_t *first = json_array_get(list, 0); /* critical first */
    assert_string_equal(json_string_value(json_object_get(first, "ip")), "10.0.0.2");
    assert_string_equal(json_string_value(json_object_get(first, "threat_level")), "critical");
    assert_int_equal(json_integer_value(json_object_get(first, "spoofed_sources")), 100000);
    assert_int_equal(json_integer_value(json_object_get(first, "points")), 3);
    json_t *verdict = json_object_get(first, "verdict");
    assert_string_equal(json_string_value(json_object_get(verdict, "threat_level")), "critical");
    assert_true(json_is_true(json_object_get(verdict, "known")));
    json_t *second = json_array_get(list, 1);
    json_t *peers = json_object_get(second, "peers");
    assert_int_equal(json_array_size(peers), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(peers, 0), "ip")),
                        "198.18.0.7");
    json_decref(j);
    json_decref(get(f, "/api/incidents?ended=x", 400, NULL));
    fx_free(f);
}

static void test_endpoint_events(void **state)
{
    (void)state;
    struct fixture *f = fx_new(false);
    seed(f);
    json_t *j = get(f, "/api/events", 200, NULL);
    json_t *ev = json_object_get(j, "events");
    assert_int_equal(json_array_size(ev), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "event")),
                        "start");
    assert_int_equal(json_integer_value(json_object_get(j, "next")), 2);
    json_decref(j);
    j = get(f, "/api/events?since=2", 200, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "events")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "next")), 2);
    json_decref(j);
    j = get(f, "/api/events?since=0&ip=198.18.0.8", 200, NULL); /* a peer of 10.0.0.1 */
    ev = json_object_get(j, "events");
    assert_int_equal(json_array_size(ev), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "ip")),
                        "10.0.0.1");
    json_decref(j);
    j = get(f, "/api/events?limit=1", 200, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "events")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "next")), 1);
    json_decref(j);
    json_decref(get(f, "/api/events?since=-1", 400, NULL));
    json_decref(get(f, "/api/events?ip=nope", 400, NULL));
    json_decref(get(f, "/api/events?limit=0", 400, NULL));
    fx_free(f);
}

static void test_endpoint_timeseries(void **state)
{
    (void)state;
    struct fixture *f = fx_new(false);
    seed(f);
    json_t *j = get(f, "/api/timeseries?ip=10.0.0.2", 200, NULL);
    json_t *pts = json_object_get(j, "points");
    assert_int_equal(json_array_size(pts), 3);
    assert_float_equal(json_real_value(json_object_get(json_array_get(pts, 2), "pps")), 90000, 1);
    assert_string_equal(json_string_value(json_object_get(j, "role")), "victim");
    json_decref(j);
    json_decref(get(f, "/api/timeseries?ip=10.0.0.2&role=victim", 200, NULL));
    json_decref(get(f, "/api/timeseries?ip=10.0.0.2&role=attacker", 404, NULL));
    json_decref(get(f, "/api/timeseries?ip=192.0.2.1", 404, NULL));
    json_decref(get(f, "/api/timeseries", 400, NULL));
    json_decref(get(f, "/api/timeseries?ip=10.0.0.2&role=boss", 400, NULL));
    fx_free(f);
}

static void test_dashboard_auth(void **state)
{
    (void)state;
    struct fixture *f = fx_new(true);
    seed(f);
    /* the page and its assets hold no data: served; the data needs the key */
    struct api_reply r;
    json_decref(get(f, "/dashboard", 200, &r));
    assert_non_null(strstr(r.content_type, "text/html"));
    assert_non_null(r.csp);
    assert_non_null(strstr(r.csp, "script-src 'self'"));
    assert_null(strstr(r.csp, "unsafe-inline"));
    assert_non_null(memmem(r.body, r.body_len, "/dashboard/dashboard.js", 23));
    assert_null(memmem(r.body, r.body_len, "<script>", 8)); /* no inline script */
    assert_null(memmem(r.body, r.body_len, "http", 4));     /* nothing from elsewhere */
    api_reply_free(&r);
    json_decref(get(f, "/dashboard/dashboard.js", 200, &r));
    assert_non_null(strstr(r.content_type, "javascript"));
    api_reply_free(&r);
    json_decref(get(f, "/dashboard/chart.min.js", 200, &r));
    assert_non_null(memmem(r.body, r.body_len, "Chart.js v", 10));
    api_reply_free(&r);
    json_decref(get(f, "/api/incidents", 401, NULL));
    json_decref(get(f, "/api/events", 401, NULL));
    json_decref(get(f, "/api/timeseries?ip=10.0.0.2", 401, NULL));
    f->auth = "Bearer wrong-key-0123456789abcdef";
    json_decref(get(f, "/api/incidents", 403, NULL));
    f->auth = "Bearer " SECRET;
    json_decref(get(f, "/api/incidents", 200, NULL));
    json_decref(get(f, "/api/events", 200, NULL));
    fx_free(f);

    /* without dashboard_auth: read-only for anyone */
    f = fx_new(false);
    json_decref(get(f, "/api/incidents", 200, NULL));
    json_decref(get(f, "/dashboard/none.js", 404, NULL));
    fx_free(f);
}

/* An API-only node (no pipeline, no trail): the store's verdicts at high or above are its
 * incidents; the trail is empty. */
static void test_no_trail(void **state)
{
    (void)state;
    struct fixture *f = fx_new(false);
    api_core_destroy(f->core);
    trail_destroy(f->trail);
    f->trail = NULL;
    struct api_options o = {.cfg = &f->cfg,
                            .secret_key = SECRET,
                            .store = f->store,
                            .hooks = {.health = stub_health, .counters = stub_counters}};
    f->core = api_core_create(&o);
    struct verdict hi = mk("10.0.0.5", VERDICT_ROLE_VICTIM, THREAT_CRITICAL, "udp_flood", 7000);
    struct verdict med = mk("10.0.0.6", VERDICT_ROLE_ATTACKER, THREAT_MEDIUM, "", 10);
    assert_int_equal(verdict_store_put(f->store, &hi, verdict_store_now_ms() + 60000), 0);
    assert_int_equal(verdict_store_put(f->store, &med, verdict_store_now_ms() + 60000), 0);
    json_t *j = get(f, "/api/incidents", 200, NULL);
    json_t *list = json_object_get(j, "incidents");
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "ip")),
                        "10.0.0.5");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "points")), 0);
    json_decref(j);
    j = get(f, "/api/events", 200, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "events")), 0);
    json_decref(j);
    json_decref(get(f, "/api/timeseries?ip=10.0.0.5", 404, NULL));
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trail_events_since_and_filter),
        cmocka_unit_test(test_trail_ring_wraps),
        cmocka_unit_test(test_trail_incidents_and_series),
        cmocka_unit_test(test_trail_incident_slots_full),
        cmocka_unit_test(test_log_limit),
        cmocka_unit_test(test_table_level_change_events),
        cmocka_unit_test(test_endpoint_incidents),
        cmocka_unit_test(test_endpoint_events),
        cmocka_unit_test(test_endpoint_timeseries),
        cmocka_unit_test(test_dashboard_auth),
        cmocka_unit_test(test_no_trail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
