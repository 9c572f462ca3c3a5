/* test_api.c - unit tests of api/: the real server (api_start on 127.0.0.1, port 0) with a real
 * verdict store and stub daemon hooks, spoken to over real sockets by a tiny blocking HTTP/1.1
 * client (one request per connection, "Connection: close", read to EOF). Covers every endpoint,
 * every error status, HEAD, the three ways to authenticate, CrowdSec decisions and per-key
 * stream semantics, /api/check, /metrics lines, the access log format and reopen. Redis is
 * disabled (reports are stored "memory"). A few pure helpers are tested directly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <regex.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/api.h"
#include "api/api_internal.h"
#include "verdict_gen.h"

#define SECRET     "s3cret-key-0123456789abcdef"
#define BOUNCER    "bouncer-key-0123456789abcdef"
#define BOUNCER2   "bouncer-two-0123456789abcdef"
#define BODY_LIMIT 1024

/* ---------------------------------------------------------------- stub daemon */

static struct {
    bool capture_ok, model_ok, redis_enabled, redis_connected;
    bool refuse_reports; /* the report hook answers -EAGAIN (a full queue) */
    int reports;
    struct verdict last_report;
} daemon_state = {.capture_ok = true, .model_ok = true};

static void stub_health(void *user, struct api_health *out)
{
    out->capture_ok = daemon_state.capture_ok;
    snprintf(out->capture_detail, sizeof(out->capture_detail), "%s",
             daemon_state.capture_ok ? "eth0 live" : "capture failed: no such device");
    out->model_ok = daemon_state.model_ok;
    snprintf(out->model_detail, sizeof(out->model_detail), "%s",
             daemon_state.model_ok ? "loaded" : "load failed: bad magic");
    snprintf(out->model_version, sizeof(out->model_version), "0123456789abcdef");
    out->redis_enabled = daemon_state.redis_enabled;
    out->redis_connected = daemon_state.redis_connected;
    snprintf(out->redis_detail, sizeof(out->redis_detail), "connection refused");
    snprintf(out->sensor, sizeof(out->sensor), "test-sensor");
    out->uptime_s = 12.5;
    out->packets = 1000;
    out->flows = 50;
    out->verdicts = 3;
}

static size_t stub_counters(void *user, struct api_counter *out, size_t max)
{
    static const struct api_counter c[] = {
        {"packets_received_total", "Packets received", NULL, NULL, 1000, API_COUNTER},
        {"decode_errors_total", "Packets that failed to decode", "kind", "trunc_tcp", 3,
         API_COUNTER},
        {"flows_active", "Flows in the table", NULL, NULL, 42, API_GAUGE},
        {"decode_errors_total", "Packets that failed to decode", "kind", "bad\"ip", 1, API_COUNTER},
    };
    size_t n = DD_ARRAY_LEN(c) < max ? DD_ARRAY_LEN(c) : max;
    memcpy(out, c, n * sizeof(*c));
    return n;
}

static int stub_report(void *user, const struct verdict *v)
{
    if (daemon_state.refuse_reports)
        return -EAGAIN;
    daemon_state.reports++;
    daemon_state.last_report = *v;
    return 0;
}

/* ---------------------------------------------------------------- fixture */

struct fixture {
    struct ddosd_config cfg;
    struct verdict_store *store;
    struct api_server *srv;
    char dir[64];
    char log_path[128];
    uint16_t port;
};

static struct fixture *fx;

static int fixture_config(struct ddosd_config *cfg)
{
    assert_int_equal(config_defaults(cfg), 0);
    free(cfg->sensor.id);
    cfg->sensor.id = strdup("test-sensor");
    free(cfg->api.listen.host);
    cfg->api.listen.host = strdup("127.0.0.1");
    cfg->api.listen.port = 0;
    cfg->api.threads = 2;
    cfg->api.body_limit = BODY_LIMIT;
    cfg->redis.enabled = false;
    cfg->cache.ttl = 300;
    cfg->bouncer_keys.items = calloc(2, sizeof(*cfg->bouncer_keys.items));
    cfg->bouncer_keys.items[0].name = strdup("BOUNCER_KEY");
    cfg->bouncer_keys.items[0].key = strdup(BOUNCER);
    cfg->bouncer_keys.items[1].name = strdup("BOUNCER2_KEY");
    cfg->bouncer_keys.items[1].key = strdup(BOUNCER2);
    cfg->bouncer_keys.n = 2;
    return 0;
}

static struct api_options fixture_options(struct fixture *f, const char *secret)
{
    struct api_options o = {
        .cfg = &f->cfg,
        .secret_key = secret,
        .access_log_path = f->log_path,
        .store = f->store,
        .hooks = {.user = NULL,
                  .health = stub_health,
                  .counters = stub_counters,
                  .report = stub_report},
    };
    return o;
}

static int group_setup(void **state)
{
    log_configure(NULL, LOG_LEVEL_ERROR);
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    fixture_config(&f->cfg);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_api.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->log_path, sizeof(f->log_path), "%s/access.log", f->dir);
    struct verdict_store_decisions dec = {f->cfg.decisions.levels, f->cfg.decisions.roles};
    f->store = verdict_store_create(1000, 0, &dec);
    assert_non_null(f->store);
    struct api_options o = fixture_options(f, SECRET);
    char err[256] = "";
    f->srv = api_start(&o, err, sizeof(err));
    if (f->srv == NULL)
        fail_msg("api_start: %s", err);
    f->port = api_port(f->srv);
    assert_true(f->port > 0);
    fx = f;
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    struct fixture *f = *state;
    api_stop(f->srv);
    verdict_store_destroy(f->store);
    config_free(&f->cfg);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------- HTTP client */

struct resp {
    int status;
    char *raw;  /* whole response, NUL-terminated */
    char *head; /* inside raw: the header block ("\r\n" separated), NUL-terminated */
    char *body; /* inside raw */
    size_t body_len;
};

static void resp_free(struct resp *r)
{
    free(r->raw);
    memset(r, 0, sizeof(*r));
}

/* Sends raw bytes to port and reads the answer to EOF. */
static void http_raw(uint16_t port, const char *req, size_t len, struct resp *r)
{
    memset(r, 0, sizeof(*r));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may answer (413) and close before the whole body is sent */
        off += (size_t)w;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t got = recv(fd, buf + n, cap - n - 1, 0);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    buf[n] = '\0';
    r->raw = buf;
    char *sep = strstr(buf, "\r\n\r\n");
    if (sep == NULL)
        fail_msg("no complete response: '%s'", buf);
    *sep = '\0';
    r->head = buf;
    r->body = sep + 4;
    r->body_len = n - (size_t)(r->body - buf);
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &r->status), 1);
}

/* Sends method path with extra header lines ("Name: value\r\n"...) and an optional body. */
static void http(const char *method, const char *path, const char *headers, const char *body,
                 struct resp *r)
{
    char req[8192];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\nUser-Agent: "
                     "test-agent\r\n%s",
                     method, path, headers ? headers : "");
    if (body)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "Content-Length: %zu\r\n\r\n%s",
                      strlen(body), body);
    else
        n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    assert_true(n > 0 && (size_t)n < sizeof(req));
    http_raw(fx->port, req, (size_t)n, r);
}

/* The value of header name (case-insensitive), copied into buf; NULL when absent. */
static const char *resp_header(const struct resp *r, const char *name, char *buf, size_t len)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = strcspn(v, "\r");
            snprintf(buf, len, "%.*s", (int)vl, v);
            return buf;
        }
    }
    return NULL;
}

static json_t *resp_json(const struct resp *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &e);
    if (j == NULL)
        fail_msg("not JSON (%s): '%.*s'", e.text, (int)r->body_len, r->body);
    return j;
}

/* Asserts a JSON error answer with status and error code. */
static void expect_error(const struct resp *r, int status, const char *error)
{
    char ct[128];
    if (r->status != status)
        fail_msg("status %d, expected %d: %.*s", r->status, status, (int)r->body_len, r->body);
    assert_non_null(resp_header(r, "Content-Type", ct, sizeof(ct)));
    assert_string_equal(ct, "application/json");
    json_t *j = resp_json(r);
    assert_string_equal(json_string_value(json_object_get(j, "error")), error);
    assert_true(json_is_string(json_object_get(j, "detail")));
    assert_true(strlen(json_string_value(json_object_get(j, "detail"))) > 0);
    json_decref(j);
}

static void put_verdict_role(const char *ip, enum threat_level level, const char *attack,
                             double score, enum verdict_role role)
{
    struct verdict v;
    memset(&v, 0, sizeof(v));
    assert_int_equal(verdict_ip_parse(ip, &v), 0);
    v.level = (uint8_t)level;
    v.role = (uint8_t)role;
    v.reasons = VERDICT_REASON_MODEL | VERDICT_REASON_RATE_SYN;
    v.score = score;
    snprintf(v.attack_type, sizeof(v.attack_type), "%s", attack);
    v.flows_total = 10;
    v.flows_attack = 7;
    v.pps = 1234.5;
    v.bps = 9876543.0;
    v.first_seen_us = 1714564800000000ull; /* 2024-05-01T12:00:00Z */
    v.last_seen_us = 1714564801500000ull;
    snprintf(v.sensor, sizeof(v.sensor), "s1");
    snprintf(v.model_version, sizeof(v.model_version), "abcdef0123456789");
    assert_int_equal(verdict_store_put(fx->store, &v, verdict_store_now_ms() + 300000), 0);
}

static void put_verdict(const char *ip, enum threat_level level, const char *attack, double score)
{
    put_verdict_role(ip, level, attack, score, VERDICT_ROLE_ATTACKER);
}

static void remove_verdict(const char *ip)
{
    struct verdict v;
    memset(&v, 0, sizeof(v));
    assert_int_equal(verdict_ip_parse(ip, &v), 0);
    verdict_store_remove(fx->store, v.ip, v.ip_version);
}

/* ---------------------------------------------------------------- pure helpers */

static void test_api_go_duration_format(void **state)
{
    char b[48];
    assert_string_equal(api_go_duration(0, b, sizeof(b)), "0s");
    assert_string_equal(api_go_duration(59999, b, sizeof(b)), "59s");
    assert_string_equal(api_go_duration(299000, b, sizeof(b)), "4m59s");
    assert_string_equal(api_go_duration(3605000, b, sizeof(b)), "1h0m5s");
}

static void test_api_query_parse_decodes(void **state)
{
    struct api_query q;
    assert_int_equal(api_query_parse("ip=2001%3Adb8%3A%3A1&flag&&x=a+b&ip=second", &q), 0);
    assert_string_equal(api_query_get(&q, "ip"), "2001:db8::1");
    assert_string_equal(api_query_get(&q, "flag"), "");
    assert_string_equal(api_query_get(&q, "x"), "a b");
    assert_null(api_query_get(&q, "missing"));
    assert_int_equal(api_query_parse("a=%zz", &q), -EINVAL);
    assert_int_equal(api_query_parse("a=%00", &q), -EINVAL);
    assert_int_equal(api_query_parse("a=%4", &q), -EINVAL);
    char many[256] = "";
    for (int i = 0; i < API_QUERY_MAX + 1; i++)
        strcat(many, "k=v&");
    assert_int_equal(api_query_parse(many, &q), -E2BIG);
}

static void test_api_key_equal_exact(void **state)
{
    assert_true(api_key_equal("abc", 3, "abc", 3));
    assert_false(api_key_equal("abd", 3, "abc", 3));
    assert_false(api_key_equal("ab", 2, "abc", 3));
    assert_false(api_key_equal("abcabc", 6, "abc", 3));
    assert_false(api_key_equal("", 0, "", 0));
}

/* ---------------------------------------------------------------- /health */

static void test_api_health_states(void **state)
{
    struct resp r;
    char buf[128];
    http("GET", "/health", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Cache-Control", buf, sizeof(buf)), "no-store");
    assert_string_equal(resp_header(&r, "Content-Type", buf, sizeof(buf)), "application/json");
    json_t *j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(j, "service")), "backend");
    assert_true(json_is_true(json_object_get(json_object_get(j, "capture"), "ok")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "model"), "version")),
                        "0123456789abcdef");
    assert_true(json_is_number(json_object_get(j, "uptime_s")));
    assert_null(json_object_get(j, "reason"));
    json_decref(j);
    resp_free(&r);

    daemon_state.redis_enabled = true;
    daemon_state.redis_connected = false;
    http("GET", "/health", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "degraded");
    assert_non_null(strstr(json_string_value(json_object_get(j, "reason")), "redis"));
    json_decref(j);
    resp_free(&r);

    daemon_state.capture_ok = false;
    http("GET", "/health", NULL, NULL, &r);
    assert_int_equal(r.status, 503);
    j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "error");
    assert_non_null(strstr(json_string_value(json_object_get(j, "reason")), "no such device"));
    json_decref(j);
    resp_free(&r);

    daemon_state.capture_ok = true;
    daemon_state.model_ok = false;
    http("GET", "/health", NULL, NULL, &r);
    assert_int_equal(r.status, 503);
    j = resp_json(&r);
    assert_non_null(strstr(json_string_value(json_object_get(j, "reason")), "model"));
    json_decref(j);
    resp_free(&r);
    daemon_state.model_ok = true;
    daemon_state.redis_enabled = false;
}

static void test_api_head_has_no_body(void **state)
{
    struct resp r, g;
    char a[32], b[32];
    http("HEAD", "/health", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    http("GET", "/health", NULL, NULL, &g);
    assert_non_null(resp_header(&r, "Content-Length", a, sizeof(a)));
    assert_non_null(resp_header(&g, "Content-Length", b, sizeof(b)));
    assert_int_equal(atoi(a), (int)g.body_len); /* HEAD announces what GET sends */
    resp_free(&r);
    resp_free(&g);
    http("HEAD", "/api/threat-analysis?ip=192.0.2.1", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    resp_free(&r);
    http("HEAD", "/nope", NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.body_len, 0);
    resp_free(&r);
}

/* ---------------------------------------------------------------- generic errors */

static void test_api_unknown_path_404(void **state)
{
    struct resp r;
    http("GET", "/api/nothing", NULL, NULL, &r);
    expect_error(&r, 404, "not_found");
    resp_free(&r);
    http("GET", "/healthz?x=1", NULL, NULL, &r);
    expect_error(&r, 404, "not_found");
    resp_free(&r);
}

static void test_api_wrong_method_405_allow(void **state)
{
    struct resp r;
    char allow[64];
    http("POST", "/health", "Content-Type: application/json\r\n", "{}", &r);
    expect_error(&r, 405, "method_not_allowed");
    assert_string_equal(resp_header(&r, "Allow", allow, sizeof(allow)), "GET, HEAD");
    resp_free(&r);
    http("GET", "/api/report-attack", NULL, NULL, &r);
    expect_error(&r, 405, "method_not_allowed");
    assert_string_equal(resp_header(&r, "Allow", allow, sizeof(allow)), "POST");
    resp_free(&r);
    http("DELETE", "/v1/decisions", NULL, NULL, &r);
    expect_error(&r, 405, "method_not_allowed");
    assert_string_equal(resp_header(&r, "Allow", allow, sizeof(allow)), "GET, HEAD");
    resp_free(&r);
}

static void test_api_bad_query_400(void **state)
{
    struct resp r;
    http("GET", "/api/threat-analysis?ip=%zz", NULL, NULL, &r);
    expect_error(&r, 400, "bad_request");
    resp_free(&r);
}

/* ---------------------------------------------------------------- /api/threat-analysis */

static void test_api_threat_unknown_ip(void **state)
{
    struct resp r;
    http("GET", "/api/threat-analysis?ip=192.0.2.77", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "ip")), "192.0.2.77");
    assert_string_equal(json_string_value(json_object_get(j, "threat_level")), "low");
    assert_true(json_is_false(json_object_get(j, "known")));
    assert_int_equal(json_array_size(json_object_get(j, "reasons")), 0);
    json_decref(j);
    resp_free(&r);
}

static void test_api_threat_known_ipv6_normalised(void **state)
{
    put_verdict("2001:db8::1", THREAT_HIGH, "syn_flood", 0.93);
    struct resp r;
    http("GET", "/api/threat-analysis?ip=2001:DB8:0:0:0:0:0:1", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "ip")), "2001:db8::1");
    assert_string_equal(json_string_value(json_object_get(j, "threat_level")), "high");
    assert_true(json_is_true(json_object_get(j, "known")));
    assert_string_equal(json_string_value(json_object_get(j, "role")), "attacker");
    assert_string_equal(json_string_value(json_object_get(j, "attack_type")), "syn_flood");
    json_t *reasons = json_object_get(j, "reasons");
    assert_int_equal(json_array_size(reasons), 2);
    assert_string_equal(json_string_value(json_array_get(reasons, 0)), "model");
    assert_string_equal(json_string_value(json_array_get(reasons, 1)), "rate_syn");
    assert_string_equal(json_string_value(json_object_get(j, "first_seen")),
                        "2024-05-01T12:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(j, "last_seen")),
                        "2024-05-01T12:00:01.500Z");
    assert_int_equal(json_integer_value(json_object_get(j, "flows_total")), 10);
    assert_int_equal(json_integer_value(json_object_get(j, "flows_attack")), 7);
    assert_true(json_real_value(json_object_get(j, "score")) > 0.92);
    assert_true(json_real_value(json_object_get(j, "pps")) == 1234.5);
    assert_true(json_real_value(json_object_get(j, "bps")) == 9876543.0);
    assert_string_equal(json_string_value(json_object_get(j, "sensor")), "s1");
    assert_string_equal(json_string_value(json_object_get(j, "model_version")), "abcdef0123456789");
    assert_true(json_is_integer(json_object_get(j, "spoofed_sources")));
    assert_int_equal(json_integer_value(json_object_get(j, "spoofed_sources")), 0);
    assert_true(json_is_array(json_object_get(j, "spoofed_examples")));
    assert_int_equal(json_array_size(json_object_get(j, "spoofed_examples")), 0);
    assert_true(json_is_true(json_object_get(j, "decision")));
    json_decref(j);
    resp_free(&r);
    /* An IPv4-mapped IPv6 address is the IPv4 address. */
    put_verdict("198.51.100.9", THREAT_MEDIUM, "volumetric", 0.5);
    http("GET", "/api/threat-analysis?ip=::ffff:198.51.100.9", NULL, NULL, &r);
    j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "ip")), "198.51.100.9");
    assert_true(json_is_true(json_object_get(j, "known")));
    json_decref(j);
    resp_free(&r);
    remove_verdict("2001:db8::1");
    remove_verdict("198.51.100.9");
}

static void test_api_threat_bad_ip_400(void **state)
{
    struct resp r;
    http("GET", "/api/threat-analysis?ip=999.1.1.1", NULL, NULL, &r);
    expect_error(&r, 400, "bad_request");
    resp_free(&r);
    http("GET", "/api/threat-analysis", NULL, NULL, &r);
    expect_error(&r, 400, "bad_request");
    resp_free(&r);
    http("GET", "/api/threat-analysis?ip=", NULL, NULL, &r);
    expect_error(&r, 400, "bad_request");
    resp_free(&r);
}

/* jansson's text for a value, as api_reply_json dumps replies (the oracle for the fast path). */
static char *jansson_text(json_t *v)
{
    assert_non_null(v);
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    json_decref(v);
    assert_non_null(t);
    return t;
}

/* gmtime_r + strftime, the oracle for the times: "...T12:00:00.123Z" (ms) or "...T12:00:00Z". */
static char *oracle_time(uint64_t secs, int ms, char *buf, size_t len)
{
    char day[40];
    time_t t = (time_t)secs;
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    int n = ms >= 0 ? snprintf(buf, len, "%s.%03dZ", day, ms) : snprintf(buf, len, "%sZ", day);
    assert_true(n > 0 && (size_t)n < len);
    return buf;
}

/* The verdict's JSON exactly as jansson writes it (the API's fields and order, docs/api.md),
 * with the three strings given as values (NULL: null) and the reals as values (NULL: null, for
 * NaN and infinities). */
static char *expected_verdict_text_n(const char *ip, const struct verdict *v, json_t *attack,
                                     json_t *sensor, json_t *model, json_t *score, json_t *pps,
                                     json_t *bps, uint64_t expires_ms)
{
    char first[40], last[40], expires[40], names[VERDICT_REASONS_TEXT_MAX];
    json_t *reasons = json_array();
    verdict_reasons_format(v->reasons, names, sizeof(names));
    for (char *save = NULL, *tok = strtok_r(names, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
        json_array_append_new(reasons, json_string(tok));
    /* Used example slots only, formatted here with inet_ntop on their own. */
    json_t *examples = json_array();
    for (unsigned i = 0; i < VERDICT_SPOOFED_EXAMPLES; i++) {
        char addr[INET6_ADDRSTRLEN];
        int af = v->spoofed_example_ver[i] == 4 ? AF_INET : AF_INET6;
        if (v->spoofed_example_ver[i] != 4 && v->spoofed_example_ver[i] != 6)
            continue;
        assert_non_null(inet_ntop(af, v->spoofed_example[i], addr, sizeof(addr)));
        json_array_append_new(examples, json_string(addr));
    }
    return jansson_text(json_pack(
        "{s:s, s:s, s:b, s:o?, s:s, s:o?, s:o, s:s, s:s, s:I, s:I, s:o?, s:o?, s:I, s:o, s:o?, "
        "s:o?, s:b, s:s}",
        "ip", ip, "threat_level", threat_level_name((enum threat_level)v->level), "known", 1,
        "score", score, "role", verdict_role_name((enum verdict_role)v->role), "attack_type",
        attack, "reasons", reasons, "first_seen",
        oracle_time(v->first_seen_us / 1000000u, (int)(v->first_seen_us / 1000u % 1000u), first,
                    sizeof(first)),
        "last_seen",
        oracle_time(v->last_seen_us / 1000000u, (int)(v->last_seen_us / 1000u % 1000u), last,
                    sizeof(last)),
        "flows_total", (json_int_t)v->flows_total, "flows_attack", (json_int_t)v->flows_attack,
        "pps", pps, "bps", bps, "spoofed_sources", (json_int_t)v->spoofed_sources,
        "spoofed_examples", examples, "sensor", sensor, "model_version", model, "decision",
        (int)verdict_store_verdict_is_decision(fx->store, v), "expires",
        oracle_time(expires_ms / 1000u, -1, expires, sizeof(expires))));
}

static char *expected_verdict_text(const char *ip, const struct verdict *v, json_t *attack,
                                   json_t *sensor, json_t *model, uint64_t expires_ms)
{
    return expected_verdict_text_n(ip, v, attack, sensor, model, json_real(v->score),
                                   json_real(v->pps), json_real(v->bps), expires_ms);
}

/* The /api/verdicts element for ip, parsed; NULL when absent. */
static json_t *listed_verdict(const char *ip)
{
    struct resp r;
    http("GET", "/api/verdicts?limit=10000", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    json_t *found = NULL, *e;
    size_t i;
    json_array_foreach(json_object_get(j, "verdicts"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "ip")), ip) == 0)
            found = json_incref(e);
    }
    json_decref(j);
    resp_free(&r);
    return found;
}

static void test_api_threat_fast_render_awkward_strings(void **state)
{
    struct verdict v;
    memset(&v, 0, sizeof(v));
    assert_int_equal(verdict_ip_parse("192.0.2.201", &v), 0);
    v.level = THREAT_CRITICAL;
    v.role = VERDICT_ROLE_VICTIM;
    v.reasons = VERDICT_REASON_MODEL | VERDICT_REASON_RATE_PPS | VERDICT_REASON_REPORT;
    v.score = 2.0 / 3.0;
    /* Quotes, backslashes, every kind of control character, DEL, and multi-byte UTF-8. */
    snprintf(v.attack_type, sizeof(v.attack_type), "q\"b\\c/\x01\x1f\n\t\b\f\r\x7f");
    snprintf(v.sensor, sizeof(v.sensor), "s\xc3\xa9nsor \xe2\x82\xac \xf0\x9f\x98\x80 \"x\"");
    snprintf(v.model_version, sizeof(v.model_version), "m\x1b[0m\\u0041");
    v.flows_total = 12345678901234ull;
    v.flows_attack = 3;
    v.pps = 1e20;
    v.bps = 1e-05;
    v.first_seen_us = 1709164800000001ull; /* 2024-02-29 */
    v.last_seen_us = 1709251199999999ull;
    /* A victim's spoofed sources: slots 0 and 3 used (IPv4, IPv6), 1 empty, 2 garbage. */
    v.spoofed_sources = 4294967295u;
    v.spoofed_example_ver[0] = 4;
    memcpy(v.spoofed_example[0], (const uint8_t[]){198, 51, 100, 7}, 4);
    v.spoofed_example_ver[2] = 5;
    memset(v.spoofed_example[2], 0xab, 16);
    v.spoofed_example_ver[3] = 6;
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:0:0:1::ff", v.spoofed_example[3]), 1);
    uint64_t expires = verdict_store_now_ms() + 300000;
    assert_int_equal(verdict_store_put(fx->store, &v, expires), 0);

    struct resp r;
    http("GET", "/api/threat-analysis?ip=192.0.2.201", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    char ct[64];
    assert_string_equal(resp_header(&r, "Content-Type", ct, sizeof(ct)), "application/json");
    /* Valid JSON (jansson's loader also rejects invalid UTF-8), with the strings intact. */
    json_error_t err;
    json_t *j = json_loadb(r.body, r.body_len, JSON_REJECT_DUPLICATES, &err);
    if (j == NULL)
        fail_msg("not JSON (%s): '%.*s'", err.text, (int)r.body_len, r.body);
    assert_int_equal(json_object_size(j), 19);
    assert_string_equal(json_string_value(json_object_get(j, "attack_type")), v.attack_type);
    assert_string_equal(json_string_value(json_object_get(j, "sensor")), v.sensor);
    assert_string_equal(json_string_value(json_object_get(j, "model_version")), v.model_version);
    assert_string_equal(json_string_value(json_object_get(j, "threat_level")), "critical");
    assert_string_equal(json_string_value(json_object_get(j, "role")), "victim");
    assert_true(json_is_true(json_object_get(j, "known")));
    assert_int_equal(json_array_size(json_object_get(j, "reasons")), 3);
    assert_true(json_integer_value(json_object_get(j, "flows_total")) == 12345678901234ll);
    assert_true(json_real_value(json_object_get(j, "pps")) == 1e20);
    assert_string_equal(json_string_value(json_object_get(j, "first_seen")),
                        "2024-02-29T00:00:00.000Z");
    assert_true(json_integer_value(json_object_get(j, "spoofed_sources")) == 4294967295ll);
    json_t *ex = json_object_get(j, "spoofed_examples");
    assert_int_equal(json_array_size(ex), 2);
    assert_string_equal(json_string_value(json_array_get(ex, 0)), "198.51.100.7");
    assert_string_equal(json_string_value(json_array_get(ex, 1)), "2001:db8::1:0:0:ff");
    /* A critical victim is reported, not a decision (decisions.roles defaults to attacker). */
    assert_true(json_is_false(json_object_get(j, "decision")));
    /* Byte for byte what jansson writes for the same verdict ... */
    char *want =
        expected_verdict_text("192.0.2.201", &v, json_string(v.attack_type), json_string(v.sensor),
                              json_string(v.model_version), expires);
    if (r.body_len != strlen(want) || memcmp(r.body, want, r.body_len) != 0)
        fail_msg("fast render:\n%.*s\njansson:\n%s", (int)r.body_len, r.body, want);
    free(want);
    /* ... and what /api/verdicts lists for it. */
    json_t *listed = listed_verdict("192.0.2.201");
    assert_non_null(listed);
    assert_true(json_equal(listed, j));
    json_decref(listed);
    json_decref(j);
    resp_free(&r);

    /* Strings that are not UTF-8 (a peer's bytes) become null, and the body stays valid JSON. */
    snprintf(v.attack_type, sizeof(v.attack_type), "syn\xc3\x28");
    snprintf(v.sensor, sizeof(v.sensor), "\xed\xa0\x80surrogate");
    snprintf(v.model_version, sizeof(v.model_version), "ok-model");
    assert_int_equal(verdict_store_put(fx->store, &v, expires), 0);
    http("GET", "/api/threat-analysis?ip=192.0.2.201", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    assert_true(json_is_null(json_object_get(j, "attack_type")));
    assert_true(json_is_null(json_object_get(j, "sensor")));
    assert_string_equal(json_string_value(json_object_get(j, "model_version")), "ok-model");
    want = expected_verdict_text("192.0.2.201", &v, NULL, NULL, json_string("ok-model"), expires);
    if (r.body_len != strlen(want) || memcmp(r.body, want, r.body_len) != 0)
        fail_msg("fast render:\n%.*s\njansson:\n%s", (int)r.body_len, r.body, want);
    free(want);
    listed = listed_verdict("192.0.2.201");
    assert_non_null(listed);
    assert_true(json_equal(listed, j));
    json_decref(listed);
    json_decref(j);
    resp_free(&r);
    remove_verdict("192.0.2.201");
}

static uint64_t gen_state = 0x2545f4914f6cdd1dull;

/* The unified rules' value of a field (tests/unit/test_verdict_json.c tests them in depth). */
static json_t *field_value(const char *f, size_t size)
{
    size_t n = strnlen(f, size - 1);
    return n ? json_stringn(f, n) : NULL; /* NULL (null) when empty or not UTF-8 */
}

/* Many verdicts through /api/threat-analysis (and /api/verdicts): byte for byte what jansson
 * writes for the same values. */
static void test_api_threat_many_verdicts_match_jansson(void **state)
{
    enum { N = 400, KEEP = 40 };
    static char ips[KEEP][VERDICT_IP_TEXT_MAX];
    static char *wants[KEEP];
    uint64_t expires = verdict_store_now_ms() + 300000;
    for (int i = 0; i < N; i++) {
        struct verdict v;
        verdict_gen(&v, &gen_state, true);
        if (i < 32)
            v.reasons = 1u << i; /* every reason bit alone */
        assert_int_equal(verdict_store_put(fx->store, &v, expires), 0);

        char ip[VERDICT_IP_TEXT_MAX], path[128];
        verdict_ip_format(&v, ip);
        json_t *score = json_real(v.score), *pps = json_real(v.pps), *bps = json_real(v.bps);
        char *want = expected_verdict_text_n(
            ip, &v, field_value(v.attack_type, sizeof(v.attack_type)),
            field_value(v.sensor, sizeof(v.sensor)),
            field_value(v.model_version, sizeof(v.model_version)), score, pps, bps, expires);
        snprintf(path, sizeof(path), "/api/threat-analysis?ip=%s", ip);
        struct resp r;
        http("GET", path, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        if (r.body_len != strlen(want) || memcmp(r.body, want, r.body_len) != 0)
            fail_msg("verdict %d:\n%.*s\njansson:\n%s", i, (int)r.body_len, r.body, want);
        resp_free(&r);
        if (i < N - KEEP) {
            free(want);
            remove_verdict(ip);
        } else {
            snprintf(ips[i - (N - KEEP)], sizeof(ips[0]), "%s", ip);
            wants[i - (N - KEEP)] = want;
        }
    }
    /* /api/verdicts lists the same documents (re-dumped by jansson: the same bytes again). */
    for (int k = 0; k < KEEP; k++) {
        json_t *listed = listed_verdict(ips[k]);
        assert_non_null(listed);
        char *got = jansson_text(listed);
        if (strcmp(got, wants[k]) != 0)
            fail_msg("listed %s:\n%s\njansson:\n%s", ips[k], got, wants[k]);
        free(got);
        free(wants[k]);
        remove_verdict(ips[k]);
    }
}

static void test_api_threat_fast_render_unknown(void **state)
{
    struct resp r;
    http("GET", "/api/threat-analysis?ip=2001:db8::dead:beef", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "ip")), "2001:db8::dead:beef");
    json_decref(j);
    char *want = jansson_text(json_pack(
        "{s:s, s:s, s:b, s:f, s:n, s:n, s:[], s:n, s:n, s:i, s:i, s:f, s:f, s:i, s:[], s:s, s:n, "
        "s:b, s:n}",
        "ip", "2001:db8::dead:beef", "threat_level", "low", "known", 0, "score", 0.0, "role",
        "attack_type", "reasons", "first_seen", "last_seen", "flows_total", 0, "flows_attack", 0,
        "pps", 0.0, "bps", 0.0, "spoofed_sources", 0, "spoofed_examples", "sensor", "test-sensor",
        "model_version", "decision", 0, "expires"));
    if (r.body_len != strlen(want) || memcmp(r.body, want, r.body_len) != 0)
        fail_msg("fast render:\n%.*s\njansson:\n%s", (int)r.body_len, r.body, want);
    free(want);
    resp_free(&r);
    /* IPv4 text is written without inet_ntop: check the canonical forms. */
    const char *ips[][2] = {{"0.0.0.0", "0.0.0.0"},
                            {"255.255.255.255", "255.255.255.255"},
                            {"10.0.100.9", "10.0.100.9"},
                            {"::ffff:1.20.255.0", "1.20.255.0"}};
    for (size_t i = 0; i < DD_ARRAY_LEN(ips); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/threat-analysis?ip=%s", ips[i][0]);
        http("GET", path, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        j = resp_json(&r);
        assert_string_equal(json_string_value(json_object_get(j, "ip")), ips[i][1]);
        json_decref(j);
        resp_free(&r);
    }
}

/* ---------------------------------------------------------------- /api/check */

static void test_api_check_allow_deny(void **state)
{
    put_verdict("203.0.113.5", THREAT_CRITICAL, "udp_amplification", 1.0);
    put_verdict("203.0.113.6", THREAT_MEDIUM, "volumetric", 0.4);
    struct resp r;
    char buf[64];
    http("GET", "/api/check", "X-Real-IP: 203.0.113.5\r\n", NULL, &r);
    assert_int_equal(r.status, 403);
    assert_int_equal(r.body_len, 0);
    assert_string_equal(resp_header(&r, "Cache-Control", buf, sizeof(buf)), "no-store");
    resp_free(&r);
    http("GET", "/api/check", "X-Real-IP: 203.0.113.6\r\n", NULL, &r);
    assert_int_equal(r.status, 204); /* medium is not a decision level */
    resp_free(&r);
    http("GET", "/api/check?ip=203.0.113.5", NULL, NULL, &r);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    http("GET", "/api/check?ip=203.0.113.99", NULL, NULL, &r);
    assert_int_equal(r.status, 204);
    resp_free(&r);
    http("GET", "/api/check", NULL, NULL, &r);
    expect_error(&r, 400, "bad_request");
    resp_free(&r);
    http("GET", "/api/check", "X-Real-IP: not-an-ip\r\n", NULL, &r);
    expect_error(&r, 400, "bad_request");
    resp_free(&r);
    remove_verdict("203.0.113.5");
    remove_verdict("203.0.113.6");
    http("GET", "/api/check", "X-Real-IP: 203.0.113.5\r\n", NULL, &r);
    assert_int_equal(r.status, 204);
    resp_free(&r);
}

/* ---------------------------------------------------------------- /api/verdicts */

static void test_api_verdicts_listing(void **state)
{
    put_verdict("10.0.0.1", THREAT_MEDIUM, "volumetric", 0.5);
    put_verdict("10.0.0.2", THREAT_CRITICAL, "syn_flood", 0.9);
    put_verdict("10.0.0.3", THREAT_HIGH, "syn_flood", 0.8);
    struct resp r;
    http("GET", "/api/verdicts?min_level=high&limit=100", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 2);
    json_t *v = json_object_get(j, "verdicts");
    assert_int_equal(json_array_size(v), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "ip")), "10.0.0.2");
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 1), "ip")), "10.0.0.3");
    json_decref(j);
    resp_free(&r);
    http("GET", "/api/verdicts?limit=1", NULL, NULL, &r);
    j = resp_json(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 1);
    json_decref(j);
    resp_free(&r);
    http("GET", "/api/verdicts", NULL, NULL, &r);
    j = resp_json(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 3);
    json_decref(j);
    resp_free(&r);
    const char *bad[] = {"/api/verdicts?min_level=severe", "/api/verdicts?limit=0",
                         "/api/verdicts?limit=10001", "/api/verdicts?limit=abc",
                         "/api/verdicts?limit=5x"};
    for (size_t i = 0; i < DD_ARRAY_LEN(bad); i++) {
        http("GET", bad[i], NULL, NULL, &r);
        expect_error(&r, 400, "bad_request");
        resp_free(&r);
    }
    remove_verdict("10.0.0.1");
    remove_verdict("10.0.0.2");
    remove_verdict("10.0.0.3");
}

/* ---------------------------------------------------------------- /api/report-attack */

#define JSON_CT "Content-Type: application/json\r\n"

static void test_api_report_auth(void **state)
{
    struct resp r;
    const char *body = "{\"ip\":\"192.0.2.10\"}";
    http("POST", "/api/report-attack", JSON_CT, body, &r);
    expect_error(&r, 401, "unauthorized");
    char www[128];
    assert_non_null(resp_header(&r, "WWW-Authenticate", www, sizeof(www)));
    assert_true(strncmp(www, "Bearer", 6) == 0);
    resp_free(&r);
    http("POST", "/api/report-attack", JSON_CT "X-Api-Key: wrong-key\r\n", body, &r);
    expect_error(&r, 403, "forbidden");
    resp_free(&r);
    http("POST", "/api/report-attack", JSON_CT "Authorization: Bearer wrong\r\n", body, &r);
    expect_error(&r, 403, "forbidden");
    resp_free(&r);
    /* A bouncer key reads decisions; it does not report. */
    http("POST", "/api/report-attack", JSON_CT "X-Api-Key: " BOUNCER "\r\n", body, &r);
    expect_error(&r, 403, "forbidden");
    resp_free(&r);
    assert_int_equal(daemon_state.reports, 0);
}

static void test_api_report_records(void **state)
{
    struct resp r;
    int before = daemon_state.reports;
    http("POST", "/api/report-attack", JSON_CT "Authorization: Bearer " SECRET "\r\n",
         "{\"ip\":\"2001:DB8::0:42\",\"attack_type\":\"http_flood\",\"source\":\"waf-1\","
         "\"details\":{\"rps\":5000}}",
         &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "recorded");
    assert_string_equal(json_string_value(json_object_get(j, "stored")), "memory");
    assert_int_equal(strncmp(json_string_value(json_object_get(j, "id")), "local-", 6), 0);
    json_decref(j);
    resp_free(&r);
    assert_int_equal(daemon_state.reports, before + 1);
    assert_int_equal(daemon_state.last_report.level, THREAT_HIGH); /* the default */
    assert_int_equal(daemon_state.last_report.role, VERDICT_ROLE_ATTACKER);
    assert_int_equal(daemon_state.last_report.reasons, VERDICT_REASON_REPORT);
    assert_string_equal(daemon_state.last_report.attack_type, "http_flood");

    http("GET", "/api/threat-analysis?ip=2001:db8::42", NULL, NULL, &r);
    j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "ip")), "2001:db8::42");
    assert_string_equal(json_string_value(json_object_get(j, "threat_level")), "high");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "reasons"), 0)),
                        "report");
    json_decref(j);
    resp_free(&r);
    http("GET", "/api/check", "X-Real-IP: 2001:db8::42\r\n", NULL, &r);
    assert_int_equal(r.status, 403);
    resp_free(&r);

    /* X-Api-Key works too; a victim report keeps its role. */
    http("POST", "/api/report-attack", JSON_CT "X-Api-Key: " SECRET "\r\n",
         "{\"ip\":\"192.0.2.20\",\"threat_level\":\"critical\",\"role\":\"victim\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_int_equal(daemon_state.last_report.level, THREAT_CRITICAL);
    assert_int_equal(daemon_state.last_report.role, VERDICT_ROLE_VICTIM);
    remove_verdict("2001:db8::42");
    remove_verdict("192.0.2.20");
}

/* A report the pipeline's queue cannot take is refused with 503 and Retry-After, and nothing of
 * it is stored: "recorded" is never said of a report that may vanish. */
static void test_api_report_queue_full_503(void **state)
{
    struct resp r;
    char buf[64];
    int before = daemon_state.reports;
    daemon_state.refuse_reports = true;
    http("POST", "/api/report-attack", JSON_CT "X-Api-Key: " SECRET "\r\n",
         "{\"ip\":\"192.0.2.77\",\"threat_level\":\"critical\"}", &r);
    daemon_state.refuse_reports = false;
    expect_error(&r, 503, "unavailable");
    assert_non_null(resp_header(&r, "Retry-After", buf, sizeof(buf)));
    assert_string_equal(buf, "1");
    resp_free(&r);
    assert_int_equal(daemon_state.reports, before);
    http("GET", "/api/check", "X-Real-IP: 192.0.2.77\r\n", NULL, &r);
    assert_int_equal(r.status, 204);
    resp_free(&r);
    http("GET", "/api/threat-analysis?ip=192.0.2.77", NULL, NULL, &r);
    json_t *j = resp_json(&r);
    assert_false(json_is_true(json_object_get(j, "known")));
    json_decref(j);
    resp_free(&r);
    /* Once the queue has room the same report is recorded. */
    http("POST", "/api/report-attack", JSON_CT "X-Api-Key: " SECRET "\r\n",
         "{\"ip\":\"192.0.2.77\",\"threat_level\":\"critical\"}", &r);
    assert_int_equal(r.status, 200);
    assert_null(resp_header(&r, "Retry-After", buf, sizeof(buf)));
    resp_free(&r);
    assert_int_equal(daemon_state.reports, before + 1);
    remove_verdict("192.0.2.77");
}

static void test_api_report_validation(void **state)
{
    struct resp r;
    const char *auth = "X-Api-Key: " SECRET "\r\n";
    char hdrs[256];
    snprintf(hdrs, sizeof(hdrs), "Content-Type: text/plain\r\n%s", auth);
    http("POST", "/api/report-attack", hdrs, "{\"ip\":\"192.0.2.1\"}", &r);
    expect_error(&r, 415, "unsupported_media_type");
    resp_free(&r);

    snprintf(hdrs, sizeof(hdrs), JSON_CT "%s", auth);
    struct {
        const char *body;
        const char *error;
    } bad[] = {
        {"{\"ip\":", "bad_json"},
        {"[1,2]", "bad_request"},
        {"{}", "bad_request"},
        {"{\"ip\":42}", "bad_request"},
        {"{\"ip\":\"300.1.1.1\"}", "bad_request"},
        {"{\"ip\":\"192.0.2.1\",\"threat_level\":\"severe\"}", "bad_request"},
        {"{\"ip\":\"192.0.2.1\",\"role\":\"bystander\"}", "bad_request"},
        {"{\"ip\":\"192.0.2.1\",\"attack_type\":\"has space\"}", "bad_request"},
        {"{\"ip\":\"192.0.2.1\",\"attack_type\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
         "bad_request"},
        {"{\"ip\":\"192.0.2.1\",\"source\":\"line\\nbreak\"}", "bad_request"},
        {"{\"ip\":\"192.0.2.1\",\"details\":5}", "bad_request"},
        {"{\"ip\":\"192.0.2.1\",\"ip\":\"192.0.2.2\"}", "bad_json"},
    };
    for (size_t i = 0; i < DD_ARRAY_LEN(bad); i++) {
        http("POST", "/api/report-attack", hdrs, bad[i].body, &r);
        expect_error(&r, 400, bad[i].error);
        resp_free(&r);
    }
}

static void test_api_report_body_limit_413(void **state)
{
    struct resp r;
    /* Announced too large: refused before the body is read. */
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "POST /api/report-attack HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" JSON_CT
                     "X-Api-Key: " SECRET "\r\nContent-Length: %d\r\n\r\n",
                     BODY_LIMIT + 1);
    http_raw(fx->port, req, (size_t)n, &r);
    expect_error(&r, 413, "payload_too_large");
    resp_free(&r);
    /* Chunked, growing past the limit while it streams. */
    size_t big = 4 * BODY_LIMIT;
    char *chunked = malloc(big + 1024);
    n = snprintf(chunked, big + 1024,
                 "POST /api/report-attack HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" JSON_CT
                 "X-Api-Key: " SECRET "\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n",
                 big);
    memset(chunked + n, ' ', big);
    n += (int)big;
    n += snprintf(chunked + n, 64, "\r\n0\r\n\r\n");
    http_raw(fx->port, chunked, (size_t)n, &r);
    expect_error(&r, 413, "payload_too_large");
    resp_free(&r);
    free(chunked);
    /* At the limit is fine (whitespace-padded JSON). */
    char *ok = malloc(BODY_LIMIT + 1);
    const char *obj = "{\"ip\":\"192.0.2.30\"}";
    memset(ok, ' ', BODY_LIMIT);
    memcpy(ok, obj, strlen(obj));
    ok[BODY_LIMIT] = '\0';
    http("POST", "/api/report-attack", JSON_CT "X-Api-Key: " SECRET "\r\n", ok, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    free(ok);
    remove_verdict("192.0.2.30");
}

static void test_api_no_secret_503(void **state)
{
    struct fixture f2;
    memset(&f2, 0, sizeof(f2));
    fixture_config(&f2.cfg);
    f2.store = fx->store;
    snprintf(f2.log_path, sizeof(f2.log_path), "%s/access2.log", fx->dir);
    struct api_options o = fixture_options(&f2, NULL);
    char err[256];
    struct api_server *s2 = api_start(&o, err, sizeof(err));
    assert_non_null(s2);
    uint16_t keep = fx->port;
    fx->port = api_port(s2);
    struct resp r;
    http("POST", "/api/report-attack", JSON_CT "X-Api-Key: anything\r\n", "{\"ip\":\"192.0.2.1\"}",
         &r);
    expect_error(&r, 503, "not_configured");
    assert_non_null(strstr(r.body, "SECRET_KEY"));
    resp_free(&r);
    /* Bouncer keys still work without SECRET_KEY. */
    http("GET", "/v1/decisions?ip=192.0.2.1", "X-Api-Key: " BOUNCER "\r\n", NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    fx->port = keep;
    api_stop(s2);
    config_free(&f2.cfg);
}

/* ---------------------------------------------------------------- CrowdSec */

static void check_decision(json_t *d, const char *ip, const char *scenario, bool deleted)
{
    assert_true(json_is_integer(json_object_get(d, "id")));
    assert_true(json_integer_value(json_object_get(d, "id")) > 0);
    assert_string_equal(json_string_value(json_object_get(d, "origin")), "ddosd");
    assert_string_equal(json_string_value(json_object_get(d, "type")), "ban");
    assert_string_equal(json_string_value(json_object_get(d, "scope")), "Ip");
    assert_string_equal(json_string_value(json_object_get(d, "value")), ip);
    assert_string_equal(json_string_value(json_object_get(d, "scenario")), scenario);
    assert_true(json_is_false(json_object_get(d, "simulated")));
    const char *dur = json_string_value(json_object_get(d, "duration"));
    assert_non_null(dur);
    regex_t re;
    assert_int_equal(regcomp(&re, "^([0-9]+h)?([0-9]+m)?[0-9]+s$", REG_EXTENDED), 0);
    assert_int_equal(regexec(&re, dur, 0, NULL, 0), 0);
    regfree(&re);
    if (deleted)
        assert_string_equal(dur, "0s");
    else
        assert_true(strcmp(dur, "4m59s") == 0 || strcmp(dur, "5m0s") == 0 ||
                    strcmp(dur, "4m58s") == 0);
    const char *until = json_string_value(json_object_get(d, "until"));
    assert_non_null(until);
    assert_int_equal(strlen(until), 20); /* 2024-05-01T12:00:00Z */
    assert_int_equal(until[19], 'Z');
}

static void test_api_decisions_live(void **state)
{
    put_verdict("198.51.100.1", THREAT_HIGH, "syn_flood", 0.8);
    put_verdict("198.51.100.2", THREAT_MEDIUM, "syn_flood", 0.4);
    struct resp r;
    http("GET", "/v1/decisions?ip=198.51.100.1", "X-Api-Key: " BOUNCER "\r\n", NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_int_equal(json_array_size(j), 1);
    check_decision(json_array_get(j, 0), "198.51.100.1", "ddosd/syn_flood", false);
    json_decref(j);
    resp_free(&r);
    /* Not a decision level, or no verdict: the literal null. */
    http("GET", "/v1/decisions?ip=198.51.100.2", "X-Api-Key: " BOUNCER2 "\r\n", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 4);
    assert_memory_equal(r.body, "null", 4);
    resp_free(&r);
    http("GET", "/v1/decisions?ip=198.51.100.3", "Authorization: Bearer " SECRET "\r\n", NULL, &r);
    assert_memory_equal(r.body, "null", 4);
    resp_free(&r);
    /* Filters a bouncer sends. */
    http("GET", "/v1/decisions?ip=198.51.100.1&scopes=range", "X-Api-Key: " BOUNCER "\r\n", NULL,
         &r);
    assert_memory_equal(r.body, "null", 4);
    resp_free(&r);
    http("GET", "/v1/decisions?ip=198.51.100.1&scopes=Ip,Range&origins=ddosd",
         "X-Api-Key: " BOUNCER "\r\n", NULL, &r);
    assert_int_equal(r.body[0], '[');
    resp_free(&r);
    http("GET", "/v1/decisions?ip=198.51.100.1&scenarios_containing=http",
         "X-Api-Key: " BOUNCER "\r\n", NULL, &r);
    assert_memory_equal(r.body, "null", 4);
    resp_free(&r);
    /* No ip: every decision. */
    http("GET", "/v1/decisions", "X-Api-Key: " BOUNCER "\r\n", NULL, &r);
    j = resp_json(&r);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
    resp_free(&r);
    /* Auth and bad input. */
    http("GET", "/v1/decisions?ip=198.51.100.1", NULL, NULL, &r);
    expect_error(&r, 401, "unauthorized");
    resp_free(&r);
    http("GET", "/v1/decisions?ip=198.51.100.1", "X-Api-Key: nope\r\n", NULL, &r);
    expect_error(&r, 403, "forbidden");
    resp_free(&r);
    http("GET", "/v1/decisions?ip=bogus", "X-Api-Key: " BOUNCER "\r\n", NULL, &r);
    expect_error(&r, 400, "bad_request");
    resp_free(&r);
    remove_verdict("198.51.100.1");
    remove_verdict("198.51.100.2");
}

/* Whether a list of decisions (an array, or NULL) has one for ip. */
static bool lists_ip(json_t *decisions, const char *ip)
{
    json_t *e;
    size_t i;
    json_array_foreach(decisions, i, e)
    {
        const char *v = json_string_value(json_object_get(e, "value"));
        if (v != NULL && strcmp(v, ip) == 0)
            return true;
    }
    return false;
}

/* GETs the stream for key; fills *new_out / *del_out with the arrays (NULL for null). */
static json_t *stream(const char *key, const char *startup, json_t **new_out, json_t **del_out)
{
    char path[128], hdr[128];
    snprintf(path, sizeof(path), "/v1/decisions/stream?startup=%s&scopes=ip,range", startup);
    snprintf(hdr, sizeof(hdr), "X-Api-Key: %s\r\n", key);
    struct resp r;
    http("GET", path, hdr, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    resp_free(&r);
    json_t *n = json_object_get(j, "new"), *d = json_object_get(j, "deleted");
    assert_true(json_is_null(n) || (json_is_array(n) && json_array_size(n) > 0));
    assert_true(json_is_null(d) || (json_is_array(d) && json_array_size(d) > 0));
    *new_out = json_is_null(n) ? NULL : n;
    *del_out = json_is_null(d) ? NULL : d;
    return j;
}

static void test_api_stream_per_key(void **state)
{
    json_t *n, *d, *j;
    put_verdict("192.0.2.101", THREAT_HIGH, "syn_flood", 0.8);
    put_verdict("192.0.2.102", THREAT_CRITICAL, "", 0.9);
    put_verdict("192.0.2.103", THREAT_LOW, "", 0.1);

    j = stream(BOUNCER, "true", &n, &d);
    assert_non_null(n);
    assert_int_equal(json_array_size(n), 2);
    assert_null(d);
    for (size_t i = 0; i < 2; i++) {
        json_t *e = json_array_get(n, i);
        const char *ip = json_string_value(json_object_get(e, "value"));
        check_decision(e, ip, strcmp(ip, "192.0.2.101") == 0 ? "ddosd/syn_flood" : "ddosd/unknown",
                       false);
    }
    json_decref(j);

    j = stream(BOUNCER, "false", &n, &d); /* nothing changed since */
    assert_null(n);
    assert_null(d);
    json_decref(j);

    put_verdict("192.0.2.104", THREAT_HIGH, "udp_amplification", 0.7);
    remove_verdict("192.0.2.101");
    j = stream(BOUNCER, "false", &n, &d);
    assert_int_equal(json_array_size(n), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(n, 0), "value")),
                        "192.0.2.104");
    assert_int_equal(json_array_size(d), 1);
    check_decision(json_array_get(d, 0), "192.0.2.101", "ddosd/deleted", true);
    json_decref(j);

    /* The other bouncer has its own cursor: its startup sees the current set only. */
    j = stream(BOUNCER2, "true", &n, &d);
    assert_int_equal(json_array_size(n), 2); /* .102 and .104 */
    assert_null(d);
    json_decref(j);
    j = stream(BOUNCER, "false", &n, &d); /* BOUNCER2's call consumed nothing of BOUNCER's */
    assert_null(n);
    assert_null(d);
    json_decref(j);

    /* A decision lowered below the decision levels is deleted. */
    put_verdict("192.0.2.102", THREAT_MEDIUM, "", 0.3);
    j = stream(BOUNCER2, "false", &n, &d);
    assert_null(n);
    assert_int_equal(json_array_size(d), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "value")),
                        "192.0.2.102");
    json_decref(j);

    /* startup=true starts over. */
    j = stream(BOUNCER, "true", &n, &d);
    assert_int_equal(json_array_size(n), 1);
    assert_null(d);
    json_decref(j);

    struct resp r;
    http("GET", "/v1/decisions/stream?startup=maybe", "X-Api-Key: " BOUNCER "\r\n", NULL, &r);
    expect_error(&r, 400, "bad_request");
    resp_free(&r);
    http("GET", "/v1/decisions/stream", NULL, NULL, &r);
    expect_error(&r, 401, "unauthorized");
    resp_free(&r);
    remove_verdict("192.0.2.102");
    remove_verdict("192.0.2.103");
    remove_verdict("192.0.2.104");
}

/* decisions.roles: by default only attackers become decisions. A high victim is reported by
 * /api/threat-analysis but passes /api/check and is no CrowdSec decision; with roles
 * ["attacker", "victim"] it is both. */
static void test_api_decision_roles(void **state)
{
    struct verdict_store_stats before, after;
    verdict_store_stats_get(fx->store, &before);
    put_verdict_role("203.0.113.40", THREAT_CRITICAL, "syn_flood", 0.9, VERDICT_ROLE_VICTIM);
    put_verdict_role("203.0.113.41", THREAT_HIGH, "syn_flood", 0.8, VERDICT_ROLE_ATTACKER);
    verdict_store_stats_get(fx->store, &after);
    assert_int_equal(after.decisions, before.decisions + 1); /* the attacker only */
    struct resp r;
    http("GET", "/api/check", "X-Real-IP: 203.0.113.40\r\n", NULL, &r);
    assert_int_equal(r.status, 204);
    resp_free(&r);
    http("GET", "/api/check", "X-Real-IP: 203.0.113.41\r\n", NULL, &r);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    http("GET", "/api/threat-analysis?ip=203.0.113.40", NULL, NULL, &r);
    json_t *j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "role")), "victim");
    assert_string_equal(json_string_value(json_object_get(j, "threat_level")), "critical");
    assert_true(json_is_false(json_object_get(j, "decision")));
    json_decref(j);
    resp_free(&r);
    http("GET", "/v1/decisions?ip=203.0.113.40", "X-Api-Key: " BOUNCER "\r\n", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 4);
    assert_memory_equal(r.body, "null", 4);
    resp_free(&r);
    http("GET", "/v1/decisions", "X-Api-Key: " BOUNCER "\r\n", NULL, &r);
    j = resp_json(&r);
    assert_false(lists_ip(j, "203.0.113.40"));
    assert_true(lists_ip(j, "203.0.113.41"));
    json_decref(j);
    resp_free(&r);
    /* The stream (a cursor of its own: BOUNCER2) never lists the victim either. */
    json_t *n, *d;
    j = stream(BOUNCER2, "true", &n, &d);
    assert_false(lists_ip(n, "203.0.113.40"));
    assert_true(lists_ip(n, "203.0.113.41"));
    json_decref(j);
    /* The attacker turning out to be a victim ends its decision: deleted in the stream. */
    put_verdict_role("203.0.113.41", THREAT_HIGH, "syn_flood", 0.8, VERDICT_ROLE_VICTIM);
    http("GET", "/api/check", "X-Real-IP: 203.0.113.41\r\n", NULL, &r);
    assert_int_equal(r.status, 204);
    resp_free(&r);
    j = stream(BOUNCER2, "false", &n, &d);
    assert_null(n);
    assert_int_equal(json_array_size(d), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "value")),
                        "203.0.113.41");
    json_decref(j);

    /* A server whose store has decisions.roles = ["attacker", "victim"]. */
    struct fixture f2;
    memset(&f2, 0, sizeof(f2));
    fixture_config(&f2.cfg);
    const char *both[] = {"attacker", "victim"};
    char err[256];
    assert_int_equal(
        config_set_list(&f2.cfg, "--set", "decisions.roles", both, 2, err, sizeof(err)), 0);
    struct verdict_store_decisions dec = {f2.cfg.decisions.levels, f2.cfg.decisions.roles};
    f2.store = verdict_store_create(100, 0, &dec);
    assert_non_null(f2.store);
    snprintf(f2.log_path, sizeof(f2.log_path), "%s/access-roles.log", fx->dir);
    struct api_options o = fixture_options(&f2, SECRET);
    struct api_server *s2 = api_start(&o, err, sizeof(err));
    assert_non_null(s2);
    struct verdict_store *keep_store = fx->store;
    uint16_t keep_port = fx->port;
    fx->store = f2.store;
    fx->port = api_port(s2);
    put_verdict_role("203.0.113.40", THREAT_HIGH, "syn_flood", 0.9, VERDICT_ROLE_VICTIM);
    put_verdict_role("203.0.113.42", THREAT_MEDIUM, "syn_flood", 0.5, VERDICT_ROLE_VICTIM);
    http("GET", "/api/check", "X-Real-IP: 203.0.113.40\r\n", NULL, &r);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    http("GET", "/api/check", "X-Real-IP: 203.0.113.42\r\n", NULL, &r);
    assert_int_equal(r.status, 204); /* still only the decision levels */
    resp_free(&r);
    http("GET", "/v1/decisions?ip=203.0.113.40", "X-Api-Key: " BOUNCER "\r\n", NULL, &r);
    j = resp_json(&r);
    assert_int_equal(json_array_size(j), 1);
    check_decision(json_array_get(j, 0), "203.0.113.40", "ddosd/syn_flood", false);
    json_decref(j);
    resp_free(&r);
    http("GET", "/api/threat-analysis?ip=203.0.113.40", NULL, NULL, &r);
    j = resp_json(&r);
    assert_true(json_is_true(json_object_get(j, "decision")));
    json_decref(j);
    resp_free(&r);
    fx->store = keep_store;
    fx->port = keep_port;
    api_stop(s2);
    verdict_store_destroy(f2.store);
    config_free(&f2.cfg);
    remove_verdict("203.0.113.40");
    remove_verdict("203.0.113.41");
}

/* ---------------------------------------------------------------- stats and metrics */

static void test_api_stats_json(void **state)
{
    struct resp r;
    http("GET", "/api/stats", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    json_t *p = json_object_get(j, "pipeline");
    assert_int_equal(json_integer_value(json_object_get(p, "packets_received_total")), 1000);
    json_t *kind = json_object_get(json_object_get(p, "decode_errors_total"), "kind");
    assert_int_equal(json_integer_value(json_object_get(kind, "trunc_tcp")), 3);
    assert_int_equal(json_integer_value(json_object_get(kind, "bad\"ip")), 1);
    json_t *health =
        json_object_get(json_object_get(json_object_get(j, "api"), "requests"), "health");
    assert_true(json_integer_value(json_object_get(health, "total")) >= 1);
    json_decref(j);
    resp_free(&r);
}

static void test_api_metrics_prometheus(void **state)
{
    struct resp r;
    char ct[128];
    http("GET", "/health", NULL, NULL, &r);
    resp_free(&r);
    usleep(50000); /* the completion callback counts the request after the client has it */
    http("GET", "/metrics", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Content-Type", ct, sizeof(ct)),
                        "text/plain; version=0.0.4; charset=utf-8");
    const char *want[] = {
        "# HELP ddosd_packets_received_total Packets received\n",
        "# TYPE ddosd_packets_received_total counter\nddosd_packets_received_total 1000\n",
        "# TYPE ddosd_flows_active gauge\nddosd_flows_active 42\n",
        "ddosd_decode_errors_total{kind=\"trunc_tcp\"} 3\n",
        "ddosd_decode_errors_total{kind=\"bad\\\"ip\"} 1\n",
        "# TYPE ddosd_api_requests_total counter\n",
        "# TYPE ddosd_api_request_duration_seconds histogram\n",
        "ddosd_api_request_duration_seconds_bucket{endpoint=\"health\",le=\"0.0001\"} ",
        "ddosd_api_request_duration_seconds_bucket{endpoint=\"health\",le=\"1\"} ",
        "ddosd_api_request_duration_seconds_bucket{endpoint=\"health\",le=\"+Inf\"} ",
        "ddosd_api_request_duration_seconds_count{endpoint=\"health\"} ",
        "ddosd_api_requests_total{endpoint=\"other\",code=\"4xx\"} ",
    };
    for (size_t i = 0; i < DD_ARRAY_LEN(want); i++) {
        if (strstr(r.body, want[i]) == NULL)
            fail_msg("missing in /metrics: '%s'", want[i]);
    }
    /* One HELP per metric even though the daemon listed decode_errors_total twice. */
    const char *first = strstr(r.body, "# HELP ddosd_decode_errors_total");
    assert_non_null(first);
    assert_null(strstr(first + 1, "# HELP ddosd_decode_errors_total"));
    /* Every non-comment line is "name[{labels}] value". */
    regex_t re;
    assert_int_equal(
        regcomp(&re,
                "^ddosd_[a-z_]+(\\{[a-z_]+=\"([^\"\\\\]|\\\\.)*\"(,[a-z_]+=\"[^\"]*\")*"
                "\\})? [0-9.e+-]+$",
                REG_EXTENDED),
        0);
    char *save = NULL;
    for (char *line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        if (regexec(&re, line, 0, NULL, 0) != 0)
            fail_msg("bad exposition line: '%s'", line);
    }
    regfree(&re);
    resp_free(&r);
    /* Health counted in 2xx. */
    http("GET", "/metrics", NULL, NULL, &r);
    unsigned long long n = 0;
    const char *h = strstr(r.body, "ddosd_api_requests_total{endpoint=\"health\",code=\"2xx\"} ");
    assert_non_null(h);
    assert_int_equal(sscanf(strchr(h, '}') + 2, "%llu", &n), 1);
    assert_true(n >= 1);
    resp_free(&r);
}

/* ---------------------------------------------------------------- access log */

/* The last line of path with text in it, waited for up to 2 s (lines are written when the
 * request completes, possibly after the client read the answer). */
static bool log_find(const char *path, const char *text, char *line, size_t len)
{
    for (int tries = 0; tries < 200; tries++) {
        FILE *f = fopen(path, "r");
        bool found = false;
        if (f) {
            char buf[4096];
            while (fgets(buf, sizeof(buf), f)) {
                if (strstr(buf, text)) {
                    snprintf(line, len, "%s", buf);
                    found = true;
                }
            }
            fclose(f);
        }
        if (found)
            return true;
        usleep(10000);
    }
    return false;
}

static void test_api_access_log_format_and_reopen(void **state)
{
    struct resp r;
    http("GET", "/health?probe=1", "Referer: http://ref/\"x\r\n", NULL, &r);
    resp_free(&r);
    char line[4096];
    assert_true(log_find(fx->log_path, "probe=1", line, sizeof(line)));
    regex_t re;
    assert_int_equal(
        regcomp(
            &re,
            "^127\\.0\\.0\\.1 - - \\[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} "
            "[+-][0-9]{4}\\] \"GET /health\\?probe=1 HTTP/1\\.1\" 200 [0-9]+ "
            "\"http://ref/\\\\x22x\" \"test-agent\" [0-9]+\\.[0-9]{6}\n$",
            REG_EXTENDED),
        0);
    if (regexec(&re, line, 0, NULL, 0) != 0)
        fail_msg("access log line: '%s'", line);
    regfree(&re);

    /* Rotation: move the file away, reopen, the next line lands in a new file. */
    char moved[160];
    snprintf(moved, sizeof(moved), "%s.1", fx->log_path);
    assert_int_equal(rename(fx->log_path, moved), 0);
    assert_int_equal(api_reopen_log(fx->srv), 0);
    http("GET", "/health?after=rotate", NULL, NULL, &r);
    resp_free(&r);
    assert_true(log_find(fx->log_path, "after=rotate", line, sizeof(line)));
    assert_false(log_find(moved, "after=rotate", line, sizeof(line)) &&
                 strstr(line, "after=rotate"));
}

static void test_api_start_port_in_use(void **state)
{
    struct fixture f2;
    memset(&f2, 0, sizeof(f2));
    fixture_config(&f2.cfg);
    f2.cfg.api.listen.port = fx->port; /* taken by the fixture's server */
    f2.store = fx->store;
    struct api_options o = fixture_options(&f2, SECRET);
    o.access_log_path = NULL;
    char err[256] = "";
    assert_null(api_start(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
    assert_non_null(strstr(err, "in use"));
    config_free(&f2.cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_go_duration_format),
        cmocka_unit_test(test_api_query_parse_decodes),
        cmocka_unit_test(test_api_key_equal_exact),
        cmocka_unit_test(test_api_health_states),
        cmocka_unit_test(test_api_head_has_no_body),
        cmocka_unit_test(test_api_unknown_path_404),
        cmocka_unit_test(test_api_wrong_method_405_allow),
        cmocka_unit_test(test_api_bad_query_400),
        cmocka_unit_test(test_api_threat_unknown_ip),
        cmocka_unit_test(test_api_threat_known_ipv6_normalised),
        cmocka_unit_test(test_api_threat_bad_ip_400),
        cmocka_unit_test(test_api_threat_fast_render_awkward_strings),
        cmocka_unit_test(test_api_threat_fast_render_unknown),
        cmocka_unit_test(test_api_threat_many_verdicts_match_jansson),
        cmocka_unit_test(test_api_check_allow_deny),
        cmocka_unit_test(test_api_verdicts_listing),
        cmocka_unit_test(test_api_report_auth),
        cmocka_unit_test(test_api_report_records),
        cmocka_unit_test(test_api_report_queue_full_503),
        cmocka_unit_test(test_api_report_validation),
        cmocka_unit_test(test_api_report_body_limit_413),
        cmocka_unit_test(test_api_no_secret_503),
        cmocka_unit_test(test_api_decisions_live),
        cmocka_unit_test(test_api_stream_per_key),
        cmocka_unit_test(test_api_decision_roles),
        cmocka_unit_test(test_api_stats_json),
        cmocka_unit_test(test_api_metrics_prometheus),
        cmocka_unit_test(test_api_access_log_format_and_reopen),
        cmocka_unit_test(test_api_start_port_in_use),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
