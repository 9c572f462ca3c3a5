/* test_redis_follow.c - unit tests of the parts of verdicts/redis_follow.c and
 * verdicts/redis_conn.c that need no server: a verdict hash (HGETALL order) into a struct verdict
 * (the merged sensor list, unknown reason names, bad input), the "sentinel:NAME@LIST" host string,
 * and the Sentinel list parser's errors (redis_conn_resolve names what is wrong before any I/O);
 * the hash's sensor:<id> fields into per-sensor views (order, liveness, the bound of
 * VERDICT_VIEWS_MAX, hostile ids and values refused or clamped).
 * Servers, Sentinels and failovers are exercised by the integration tests api_multi_sensor and
 * daemon_redis_sentinel. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "verdicts/redis_conn.h"
#include "verdicts/redis_follow.h"
#include "verdicts/verdict.h"

static int parse(const char *const *kv, size_t n, struct verdict *v)
{
    size_t lens[64];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(kv[i]);
    return redis_follow_parse(kv, lens, n, v);
}

static void test_parse_merged_hash(void **state)
{
    (void)state;
    const char *kv[] = {"sensor:edge-fra-1",
                        "high 0.9731 1795501045263",
                        "threat_level",
                        "high",
                        "score",
                        "0.9731",
                        "sensors",
                        "edge-ams-2,edge-fra-1,edge-par-3",
                        "first_seen",
                        "1732431288000000",
                        "last_seen",
                        "1732431421904113",
                        "updated",
                        "1795501045264",
                        "ip",
                        "2001:db8::7",
                        "role",
                        "victim",
                        "attack_type",
                        "syn_flood",
                        "reasons",
                        "model,rate_syn,not_a_reason_yet",
                        "flows_total",
                        "18234",
                        "flows_attack",
                        "17990",
                        "pps",
                        "48211.7",
                        "bps",
                        "24684390",
                        "sensor",
                        "edge-fra-1",
                        "model_version",
                        "3f9a0c1d2e4b5a67",
                        "spoofed_sources",
                        "12",
                        "spoofed_examples",
                        "198.51.100.7,2001:db8::5:1",
                        "sensor:edge-ams-2",
                        "low 0.31 1795"};
    struct verdict v;
    assert_int_equal(parse(kv, sizeof(kv) / sizeof(kv[0]), &v), 0);
    assert_int_equal(v.ip_version, 6);
    char ip[VERDICT_IP_TEXT_MAX];
    assert_string_equal(verdict_ip_format(&v, ip), "2001:db8::7");
    assert_int_equal(v.level, THREAT_HIGH);
    assert_int_equal(v.role, VERDICT_ROLE_VICTIM);
    assert_true(v.score > 0.9730 && v.score < 0.9732);
    assert_string_equal(v.attack_type, "syn_flood");
    /* A reason this build does not know (a newer sensor) is skipped, the others kept. */
    assert_int_equal(v.reasons, VERDICT_REASON_MODEL | VERDICT_REASON_RATE_SYN);
    assert_int_equal(v.flows_total, 18234);
    assert_int_equal(v.flows_attack, 17990);
    assert_true(v.pps == 48211.7 && v.bps == 24684390);
    assert_int_equal(v.first_seen_us, 1732431288000000ull);
    assert_int_equal(v.last_seen_us, 1732431421904113ull);
    /* The leader first, then the other live sensors. */
    assert_string_equal(v.sensor, "edge-fra-1,edge-ams-2,edge-par-3");
    assert_string_equal(v.model_version, "3f9a0c1d2e4b5a67");
    assert_int_equal(v.spoofed_sources, 12);
    assert_int_equal(v.spoofed_example_ver[0], 4);
    assert_int_equal(v.spoofed_example_ver[1], 6);
    assert_int_equal(v.spoofed_example_ver[2], 0);
    assert_non_null(verdict_spoofed_example_format(&v, 1, ip));
    assert_string_equal(ip, "2001:db8::5:1");
    /* Not from this sensor: the stage keeps it over a lower local verdict. */
    assert_true(redis_follow_is_remote(&v, "edge-fra-1"));
}

static void test_parse_sensor_list_cut_at_whole_ids(void **state)
{
    (void)state;
    char many[600] = "";
    for (int i = 0; i < 20; i++) /* 20 ids of 10 bytes: does not fit in VERDICT_SENSOR_MAX */
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%ssensor-%03d", i ? "," : "",
                 i);
    const char *kv[] = {"ip",     "192.0.2.1",  "threat_level", "medium",
                        "sensor", "sensor-007", "sensors",      many};
    struct verdict v;
    assert_int_equal(parse(kv, 8, &v), 0);
    assert_true(strlen(v.sensor) < VERDICT_SENSOR_MAX);
    assert_memory_equal(v.sensor, "sensor-007,sensor-000,", 22);
    size_t len = strlen(v.sensor);
    assert_true(len >= 10 && v.sensor[len - 11] == ','); /* ends with a whole id */
    assert_null(strstr(v.sensor + 11, "sensor-007"));    /* the leader is not listed twice */

    /* A single sensor's own verdict: sensor is exactly its id (redis_follow_is_remote false). */
    const char *own[] = {"ip",     "192.0.2.2", "threat_level", "high",
                         "sensor", "edge-1",    "sensors",      "edge-1"};
    assert_int_equal(parse(own, 8, &v), 0);
    assert_string_equal(v.sensor, "edge-1");
    assert_false(redis_follow_is_remote(&v, "edge-1"));
}

static void test_parse_rejects_incomplete(void **state)
{
    (void)state;
    struct verdict v;
    const char *no_ip[] = {"threat_level", "high", "score", "0.9"};
    assert_int_equal(parse(no_ip, 4, &v), -EINVAL);
    const char *bad_ip[] = {"ip", "999.1.1.1", "threat_level", "high"};
    assert_int_equal(parse(bad_ip, 4, &v), -EINVAL);
    const char *bad_level[] = {"ip", "192.0.2.1", "threat_level", "severe"};
    assert_int_equal(parse(bad_level, 4, &v), -EINVAL);
    const char *score[] = {"ip", "192.0.2.1", "threat_level", "low", "score", "7"};
    assert_int_equal(parse(score, 6, &v), 0);
    assert_true(v.score == 1); /* clamped to 0..1 */
}

static int parse_views(const char *const *kv, size_t n, struct verdict_views *out)
{
    size_t lens[64];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(kv[i]);
    return redis_follow_parse_views(kv, lens, n, out);
}

/* Three live sensors (one writing the older three-token value) become three views: the leader
 * first, then by level; a field of a sensor no longer in `sensors` is left out, not refused. */
static void test_views_from_several_sensors(void **state)
{
    (void)state;
    const char *kv[] = {"ip",
                        "203.0.113.9",
                        "threat_level",
                        "high",
                        "sensor:edge-ams-2",
                        "low 0.3100 1795501045264 12.0 1732431421000000",
                        "sensor:edge-fra-1",
                        "high 0.9731 1795501045263 48211.7 1732431421904113",
                        "sensor:edge-par-3",
                        "medium 0.55 1795501045200",
                        "sensor:edge-gone-9",
                        "critical 0.99 1795400000000 99999.0 1732431000000000",
                        "sensors",
                        "edge-ams-2,edge-fra-1,edge-par-3",
                        "sensor",
                        "edge-fra-1"};
    struct verdict_views w;
    assert_int_equal(parse_views(kv, sizeof(kv) / sizeof(kv[0]), &w), 0);
    assert_int_equal(w.n, 3);
    assert_int_equal(w.omitted, 0);
    assert_string_equal(w.v[0].sensor, "edge-fra-1");
    assert_int_equal(w.v[0].level, THREAT_HIGH);
    assert_true(w.v[0].score > 0.9730 && w.v[0].score < 0.9732);
    assert_true(w.v[0].pps == 48211.7);
    assert_int_equal(w.v[0].last_seen_us, 1732431421904113ull);
    assert_string_equal(w.v[1].sensor, "edge-par-3");
    assert_int_equal(w.v[1].level, THREAT_MEDIUM);
    assert_true(w.v[1].pps == 0 && w.v[1].last_seen_us == 0); /* not written by that sensor */
    assert_string_equal(w.v[2].sensor, "edge-ams-2");
    assert_int_equal(w.v[2].level, THREAT_LOW);
    assert_true(w.v[2].pps == 12.0);
    assert_int_equal(w.v[2].last_seen_us, 1732431421000000ull);

    /* Without a `sensors` field (a hash written by hand) every valid field counts. */
    struct verdict_views all;
    assert_int_equal(parse_views(kv, 12, &all), 0);
    assert_int_equal(all.n, 4);
    assert_string_equal(all.v[0].sensor, "edge-gone-9"); /* no leader named: by level */

    /* A hash without sensor fields (a sensor older than them): no views. */
    const char *none[] = {"ip", "192.0.2.1", "threat_level", "high", "sensor", "edge-1"};
    assert_int_equal(parse_views(none, 6, &w), 0);
    assert_int_equal(w.n, 0);
}

/* At most VERDICT_VIEWS_MAX views: the leader and the highest levels stay, the rest are
 * counted. */
static void test_views_bounded(void **state)
{
    (void)state;
    static char names[12][32], vals[12][64];
    const char *kv[2 * 12 + 2];
    size_t n = 0;
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof(names[i]), "sensor:s%02d", i);
        /* s00 low (the leader), s01..s04 critical, the others medium */
        snprintf(vals[i], sizeof(vals[i]), "%s 0.%02d 1795501045263 %d.5 1732431421%06d",
                 i == 0   ? "low"
                 : i <= 4 ? "critical"
                          : "medium",
                 10 + i, i, i);
        kv[n++] = names[i];
        kv[n++] = vals[i];
    }
    kv[n++] = "sensor";
    kv[n++] = "s00";
    struct verdict_views w;
    assert_int_equal(parse_views(kv, n, &w), 0);
    assert_int_equal(w.n, VERDICT_VIEWS_MAX);
    assert_int_equal(w.omitted, 12 - VERDICT_VIEWS_MAX);
    assert_string_equal(w.v[0].sensor, "s00");
    static const char *const crit[] = {"s04", "s03", "s02", "s01"}; /* by score descending */
    for (int i = 0; i < 4; i++)
        assert_string_equal(w.v[1 + i].sensor, crit[i]);
    for (int i = 5; i < VERDICT_VIEWS_MAX; i++) /* then the best-scored mediums */
        assert_int_equal(w.v[i].level, THREAT_MEDIUM);
    assert_string_equal(w.v[5].sensor, "s11");
    assert_string_equal(w.v[7].sensor, "s09");
}

/* Whoever can write to Redis controls these bytes: bad ids and malformed values are refused
 * (counted), out-of-range scores and negative rates clamped, and nothing reaches a view that a
 * sensor could not have written. */
static void test_views_hostile_fields(void **state)
{
    (void)state;
    char long_id[80];
    memset(long_id, 'a', sizeof(long_id));
    memcpy(long_id, "sensor:", 7);
    long_id[7 + VERDICT_SENSOR_MAX] = '\0'; /* a 64-byte id: one too many */
    const char *refused[] = {
        "sensor:",
        "high 0.5 1 2 3", /* no id */
        "sensor:bad id",
        "high 0.5 1 2 3", /* a space */
        "sensor:q\"uote",
        "high 0.5 1 2 3", /* a quote */
        "sensor:ctl\n",
        "high 0.5 1 2 3", /* a control character */
        "sensor:\xc3\xa9t\xc3\xa9",
        "high 0.5 1 2 3", /* not ASCII */
        long_id,
        "high 0.5 1 2 3",
        "sensor:a1",
        "", /* empty */
        "sensor:a2",
        "high", /* one token */
        "sensor:a3",
        "high 0.5", /* two */
        "sensor:a4",
        "high 0.5 1 2", /* four */
        "sensor:a5",
        "high 0.5 1 2 3 4", /* six */
        "sensor:a6",
        "extreme 0.5 1 2 3", /* unknown level */
        "sensor:a7",
        "high nan 1 2 3", /* not finite */
        "sensor:a8",
        "high 0.5 1 inf 3",
        "sensor:a9",
        "high 0.5 1 1e999 3", /* overflows to infinity */
        "sensor:b1",
        "high 0.5x 1 2 3", /* trailing garbage */
        "sensor:b2",
        "high 0.5 -1 2 3", /* a negative time */
        "sensor:b3",
        "high 0.5 1 2 99999999999999999999999", /* past 20 digits */
        "sensor:b4",
        "high 0.5 1 2 253402300800000000", /* after the year 9999 */
        "sensor:b5",
        "high  0.5 1 2 3", /* an empty token */
        "sensor:b6",
        "high 0.5 1 2 3 ", /* a trailing space */
        "sensor:b7",
        " high 0.5 1 2 3",
        "sensor:b8",
        "high 0.5 1 0x10 3", /* hex: strtod's, not a sensor's */
        "sensor:b9",
        "high infinity 1 2 3",
    };
    const size_t nref = sizeof(refused) / sizeof(refused[0]);
    const char *kv[64];
    size_t n = 0;
    for (size_t i = 0; i < nref; i += 2) {
        kv[n++] = refused[i];
        kv[n++] = refused[i + 1];
    }
    kv[n++] = "sensor:clamp-1";
    kv[n++] = "critical 7 1795501045263 -5 1000";
    kv[n++] = "sensor:clamp-2";
    kv[n++] = "medium -0.5 1795501045263 1e300 253402300799999999";
    kv[n++] = "sensor:Edge_A.b:c-9";
    kv[n++] = "low 0.1 1 0.0 0";
    struct verdict_views w;
    assert_int_equal(parse_views(kv, n, &w), (int)(nref / 2));
    assert_int_equal(w.n, 3);
    assert_string_equal(w.v[0].sensor, "clamp-1");
    assert_true(w.v[0].score == 1 && w.v[0].pps == 0 && w.v[0].last_seen_us == 1000);
    assert_string_equal(w.v[1].sensor, "clamp-2");
    assert_true(w.v[1].score == 0 && w.v[1].pps == 1e300);
    assert_int_equal(w.v[1].last_seen_us, 253402300799999999ull);
    assert_string_equal(w.v[2].sensor, "Edge_A.b:c-9"); /* every character sensor.id allows */
    /* Every byte of a view past its id is zero: views are compared with memcmp. */
    for (size_t i = 0; i < w.n; i++)
        for (size_t k = strlen(w.v[i].sensor); k < sizeof(w.v[i].sensor); k++)
            assert_int_equal(w.v[i].sensor[k], 0);

    /* The same id twice (not possible in a hash, possible in a list of pairs): the first holds. */
    const char *dup[] = {"sensor:x", "high 0.9 1 5.0 7", "sensor:x", "critical 1 1 6.0 8"};
    assert_int_equal(parse_views(dup, 4, &w), 1);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.v[0].level, THREAT_HIGH);
}

static void test_sentinel_host_string(void **state)
{
    (void)state;
    const char *list[] = {"10.0.0.5:26379", "[::1]:26380"};
    char buf[64];
    assert_int_equal(redis_conn_sentinel_host(buf, sizeof(buf), "verdicts", list, 2), 0);
    assert_string_equal(buf, "sentinel:verdicts@10.0.0.5:26379,[::1]:26380");
    assert_int_equal(redis_conn_sentinel_host(buf, 20, "verdicts", list, 2), -ENAMETOOLONG);
}

/* Malformed Sentinel lists are refused before any connection is attempted, with the reason. */
static void test_sentinel_list_errors(void **state)
{
    (void)state;
    static const struct {
        const char *host, *why;
    } bad[] = {
        {"sentinel:itest", "sentinel: the host must read sentinel:NAME@h1:p1,h2:p2"},
        {"sentinel:@127.0.0.1:1", "sentinel: set redis.master_name"},
        {"sentinel:itest@127.0.0.1", "sentinel: '127.0.0.1' is not host:port"},
        {"sentinel:itest@127.0.0.1:0", "sentinel: '127.0.0.1:0' is not host:port"},
        {"sentinel:itest@127.0.0.1:70000", "sentinel: '127.0.0.1:70000' is not host:port"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct redis_conn_params p = {
            .host = bad[i].host, .connect_timeout_ms = 50, .command_timeout_ms = 50};
        char host[REDIS_CONN_HOST_MAX], err[256] = "";
        unsigned port;
        assert_int_equal(redis_conn_resolve(&p, host, &port, err, sizeof(err)), -1);
        if (strncmp(err, bad[i].why, strlen(bad[i].why)) != 0)
            fail_msg("%s: got '%s', want '%s...'", bad[i].host, err, bad[i].why);
    }
    /* No Sentinel: the host and port as given. */
    struct redis_conn_params p = {.host = "10.0.0.9", .port = 6380};
    char host[REDIS_CONN_HOST_MAX], err[256];
    unsigned port = 0;
    assert_int_equal(redis_conn_resolve(&p, host, &port, err, sizeof(err)), 0);
    assert_string_equal(host, "10.0.0.9");
    assert_int_equal(port, 6380);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_merged_hash),
        cmocka_unit_test(test_parse_sensor_list_cut_at_whole_ids),
        cmocka_unit_test(test_parse_rejects_incomplete),
        cmocka_unit_test(test_views_from_several_sensors),
        cmocka_unit_test(test_views_bounded),
        cmocka_unit_test(test_views_hostile_fields),
        cmocka_unit_test(test_sentinel_host_string),
        cmocka_unit_test(test_sentinel_list_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
