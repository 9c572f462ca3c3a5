/* test_verdict.c - unit tests of verdicts/verdict.c (names, parsing, formatting) and of the
 * Redis sink's in-memory side (coalescing backlog, event queue, reconnect backoff) without a
 * server: the sink points at a loopback port that is bound but never listens, so every connect
 * is refused at once. The sink takes its clock as an argument, so backoff is tested with fake
 * time. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "verdicts/redis_sink.h"
#include "verdicts/verdict.h"

/* ---- verdict.c ------------------------------------------------------------------------- */

static void test_threat_level_names_round_trip(void **state)
{
    (void)state;
    const char *want[] = {"low", "medium", "high", "critical"};
    for (int i = THREAT_LOW; i <= THREAT_CRITICAL; i++) {
        enum threat_level l = THREAT_CRITICAL;
        assert_string_equal(threat_level_name((enum threat_level)i), want[i]);
        assert_int_equal(threat_level_parse(want[i], &l), 0);
        assert_int_equal(l, i);
    }
    assert_string_equal(threat_level_name((enum threat_level)7), "low");
}

static void test_threat_level_parse_rejects_unknown(void **state)
{
    (void)state;
    enum threat_level l = THREAT_HIGH;
    assert_int_equal(threat_level_parse("HIGH", &l), -EINVAL);
    assert_int_equal(threat_level_parse("", &l), -EINVAL);
    assert_int_equal(threat_level_parse("highest", &l), -EINVAL);
    assert_int_equal(threat_level_parse(NULL, &l), -EINVAL);
    assert_int_equal(l, THREAT_HIGH);
}

static void test_verdict_role_names_round_trip(void **state)
{
    (void)state;
    enum verdict_role r = VERDICT_ROLE_ATTACKER;
    assert_string_equal(verdict_role_name(VERDICT_ROLE_ATTACKER), "attacker");
    assert_string_equal(verdict_role_name(VERDICT_ROLE_VICTIM), "victim");
    assert_string_equal(verdict_role_name((enum verdict_role)9), "attacker");
    assert_int_equal(verdict_role_parse("victim", &r), 0);
    assert_int_equal(r, VERDICT_ROLE_VICTIM);
    assert_int_equal(verdict_role_parse("bystander", &r), -EINVAL);
}

static void test_verdict_reasons_format_lists_bits_in_order(void **state)
{
    (void)state;
    char buf[VERDICT_REASONS_TEXT_MAX];
    assert_string_equal(verdict_reasons_format(0, buf, sizeof(buf)), "");
    assert_string_equal(
        verdict_reasons_format(VERDICT_REASON_REPORT | VERDICT_REASON_MODEL, buf, sizeof(buf)),
        "model,report");
    assert_string_equal(verdict_reasons_format(0xffffffffu, buf, sizeof(buf)),
                        "model,rate_pps,rate_bps,rate_syn,rate_flows,rate_sources,reflection,"
                        "report,icmp_errors,fragments,spoofed,half_open");
    assert_string_equal(verdict_reasons_format(1u << 20, buf, sizeof(buf)), "");
}

static void test_verdict_reasons_format_truncates_whole_names(void **state)
{
    (void)state;
    char buf[16];
    uint32_t r = VERDICT_REASON_MODEL | VERDICT_REASON_RATE_PPS | VERDICT_REASON_RATE_SYN;
    /* "model,rate_pps" is 14 bytes + NUL = 15: fits; ",rate_syn" does not. */
    assert_string_equal(verdict_reasons_format(r, buf, sizeof(buf)), "model,rate_pps");
    assert_string_equal(verdict_reasons_format(r, buf, 6), "model");
    assert_string_equal(verdict_reasons_format(r, buf, 5), "");
    buf[0] = 'x';
    verdict_reasons_format(r, buf, 0);
    assert_int_equal(buf[0], 'x');
}

static void test_verdict_reasons_parse_round_trip(void **state)
{
    (void)state;
    char buf[VERDICT_REASONS_TEXT_MAX];
    for (uint32_t bits = 0; bits < 4096; bits++) {
        uint32_t out = 0xdead;
        assert_int_equal(
            verdict_reasons_parse(verdict_reasons_format(bits, buf, sizeof(buf)), &out), 0);
        assert_int_equal(out, bits);
    }
    uint32_t out = 7;
    assert_int_equal(verdict_reasons_parse("model,,report", &out), -EINVAL);
    assert_int_equal(verdict_reasons_parse("model,", &out), -EINVAL);
    assert_int_equal(verdict_reasons_parse("modelx", &out), -EINVAL);
    assert_int_equal(verdict_reasons_parse(NULL, &out), -EINVAL);
    assert_int_equal(out, 7);
}

static void test_verdict_ip_round_trip(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        int version;
    } cases[] = {
        {"203.0.113.9", "203.0.113.9", 4},
        {"0.0.0.0", "0.0.0.0", 4},
        {"2001:db8::1", "2001:db8::1", 6},
        /* RFC 5952: lower case, longest zero run compressed, leading zeros dropped */
        {"2001:0DB8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1", 6},
        /* never "::" for a single zero group */
        {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1", 6},
        {"::ffff:192.0.2.1", "::ffff:192.0.2.1", 6},
        {"::", "::", 6},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct verdict v;
        char buf[VERDICT_IP_TEXT_MAX];
        memset(&v, 0xee, sizeof(v));
        assert_int_equal(verdict_ip_parse(cases[i].in, &v), 0);
        assert_int_equal(v.ip_version, cases[i].version);
        if (cases[i].version == 4) {
            static const uint8_t zero[12];
            assert_memory_equal(v.ip + 4, zero, sizeof(zero));
        }
        assert_string_equal(verdict_ip_format(&v, buf), cases[i].out);
    }
}

static void test_verdict_ip_parse_rejects_garbage(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "203.0.113",
                         "203.0.113.256",
                         "2001:db8:::1",
                         "host.example",
                         " 203.0.113.9",
                         "203.0.113.9/32"};
    struct verdict v = {.ip_version = 4, .ip = {1, 2, 3, 4}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(verdict_ip_parse(bad[i], &v), -EINVAL);
    assert_int_equal(verdict_ip_parse(NULL, &v), -EINVAL);
    assert_int_equal(v.ip_version, 4);
    assert_int_equal(v.ip[3], 4);
    char buf[VERDICT_IP_TEXT_MAX];
    v.ip_version = 5;
    assert_string_equal(verdict_ip_format(&v, buf), "?");
}

/* ---- redis_sink without a server --------------------------------------------------------- */

/* A loopback port that is bound (so nobody else takes it) but not listening: connects to it are
 * refused immediately. */
struct dead_port {
    int fd;
    uint16_t port;
};

static struct dead_port dead_port_open(void)
{
    struct dead_port d = {.fd = socket(AF_INET, SOCK_STREAM, 0)};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_true(d.fd >= 0);
    assert_int_equal(bind(d.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(d.fd, (struct sockaddr *)&a, &len), 0);
    d.port = ntohs(a.sin_port);
    return d;
}

static struct redis_sink *sink_at(uint16_t port, uint32_t backlog, uint32_t events)
{
    struct redis_sink_config cfg = {
        .port = port,
        .sensor_id = "unit",
        .backlog_capacity = backlog,
        .events_capacity = events,
    };
    struct redis_sink *s = redis_sink_create(&cfg);
    assert_non_null(s);
    return s;
}

static struct verdict verdict_v4(uint32_t addr, enum threat_level level)
{
    struct verdict v;
    memset(&v, 0, sizeof(v));
    v.ip_version = 4;
    v.ip[0] = (uint8_t)(addr >> 24);
    v.ip[1] = (uint8_t)(addr >> 16);
    v.ip[2] = (uint8_t)(addr >> 8);
    v.ip[3] = (uint8_t)addr;
    v.level = (uint8_t)level;
    v.score = 0.5;
    return v;
}

static struct redis_sink_stats stats_of(const struct redis_sink *s)
{
    struct redis_sink_stats st;
    redis_sink_stats_get(s, &st);
    return st;
}

static void test_redis_sink_create_validates_config(void **state)
{
    (void)state;
    const char *bad_ids[] = {
        NULL,  "",          "two words",
        "a,b", "tab\there", "0123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        struct redis_sink_config cfg = {.sensor_id = bad_ids[i]};
        assert_null(redis_sink_create(&cfg));
    }
    char prefix[REDIS_SINK_PREFIX_MAX + 2];
    memset(prefix, 'p', sizeof(prefix) - 1);
    prefix[sizeof(prefix) - 1] = '\0';
    struct redis_sink_config cfg = {.sensor_id = "ok", .key_prefix = prefix};
    assert_null(redis_sink_create(&cfg));
    cfg.key_prefix = "site1:ddos:";
    cfg.sensor_id = "edge-1.fra:eth0";
    struct redis_sink *s = redis_sink_create(&cfg);
    assert_non_null(s);
    redis_sink_destroy(s, 0);
    redis_sink_destroy(NULL, 0);
    redis_sink_destroy(NULL, 1000);
}

static void test_redis_sink_put_coalesces_per_ip(void **state)
{
    (void)state;
    struct redis_sink *s = sink_at(1, 100, 10);
    for (int round = 0; round < 5; round++) {
        for (uint32_t ip = 0; ip < 10; ip++) {
            struct verdict v = verdict_v4(0xc6336400u + ip, THREAT_MEDIUM);
            v.flows_total = (uint64_t)round;
            assert_true(redis_sink_put(s, &v));
        }
    }
    struct verdict v6;
    memset(&v6, 0, sizeof(v6));
    assert_int_equal(verdict_ip_parse("2001:db8::9", &v6), 0);
    assert_true(redis_sink_put(s, &v6));
    /* The same four bytes as 198.51.100.0 with junk after them: the same IPv4 key. */
    struct verdict junk = verdict_v4(0xc6336400u, THREAT_LOW);
    memset(junk.ip + 4, 0xab, 12);
    assert_true(redis_sink_put(s, &junk));

    struct redis_sink_stats st = stats_of(s);
    assert_int_equal(st.verdicts_put, 52);
    assert_int_equal(st.pending, 11);
    assert_int_equal(st.verdicts_coalesced, 41);
    assert_int_equal(st.backlog_dropped, 0);
    assert_int_equal(st.verdicts_written, 0);
    assert_false(st.connected);

    struct verdict bad = verdict_v4(1, THREAT_HIGH);
    bad.ip_version = 5;
    assert_false(redis_sink_put(s, &bad));
    st = stats_of(s);
    assert_int_equal(st.verdicts_invalid, 1);
    assert_int_equal(st.pending, 11);
    redis_sink_destroy(s, 0);
}

static void test_redis_sink_backlog_full_evicts_only_lower_levels(void **state)
{
    (void)state;
    struct redis_sink *s = sink_at(1, 64, 10);
    for (uint32_t ip = 0; ip < 64; ip++) {
        struct verdict v = verdict_v4(0x0a000000u + ip, THREAT_LOW);
        assert_true(redis_sink_put(s, &v));
    }
    /* Updates of waiting IPs always fit. */
    struct verdict again = verdict_v4(0x0a000005u, THREAT_LOW);
    assert_true(redis_sink_put(s, &again));
    /* A new IP of the same level does not fit and is dropped. */
    struct verdict low = verdict_v4(0x0b000000u, THREAT_LOW);
    assert_false(redis_sink_put(s, &low));
    struct redis_sink_stats st = stats_of(s);
    assert_int_equal(st.pending, 64);
    assert_int_equal(st.backlog_dropped, 1);

    /* New high verdicts evict low ones (each eviction is a counted loss). Eviction samples 8
     * entries; with at most 7 of 64 already high, a sample without a low one is ~1e-8 likely. */
    for (uint32_t ip = 0; ip < 8; ip++) {
        struct verdict v = verdict_v4(0x0c000000u + ip, THREAT_HIGH);
        assert_true(redis_sink_put(s, &v));
    }
    st = stats_of(s);
    assert_int_equal(st.pending, 64);
    assert_int_equal(st.backlog_dropped, 9);

    /* Every high verdict is still found by its IP (the index survived the removals): putting
     * them again coalesces instead of growing. */
    for (uint32_t ip = 0; ip < 8; ip++) {
        struct verdict v = verdict_v4(0x0c000000u + ip, THREAT_CRITICAL);
        assert_true(redis_sink_put(s, &v));
    }
    st = stats_of(s);
    assert_int_equal(st.pending, 64);
    assert_int_equal(st.backlog_dropped, 9);
    assert_int_equal(st.verdicts_coalesced, 1 + 8);
    /* And so is every low one that survived. */
    uint32_t found = 0;
    for (uint32_t ip = 0; ip < 64; ip++) {
        struct verdict v = verdict_v4(0x0a000000u + ip, THREAT_LOW);
        found += redis_sink_put(s, &v);
    }
    st = stats_of(s);
    assert_int_equal(found, 56);
    assert_int_equal(st.pending, 64);
    assert_int_equal(st.verdicts_coalesced, 1 + 8 + 56);
    redis_sink_destroy(s, 0);
}

static void test_redis_sink_events_are_bounded(void **state)
{
    (void)state;
    struct redis_sink *s = sink_at(1, 10, 4);
    struct verdict v = verdict_v4(0xcb007109u, THREAT_HIGH);
    struct redis_sink_peer peers[12];
    memset(peers, 0, sizeof(peers));
    for (int i = 0; i < 12; i++) {
        peers[i].ip_version = 4;
        peers[i].ip[3] = (uint8_t)i;
    }
    for (int i = 0; i < 4; i++)
        assert_true(redis_sink_event(s, REDIS_SINK_EVENT_ATTACK_START, &v, peers, 12));
    assert_false(redis_sink_event(s, REDIS_SINK_EVENT_ATTACK_END, &v, NULL, 0));
    struct redis_sink_stats st = stats_of(s);
    assert_int_equal(st.events_put, 5);
    assert_int_equal(st.events_pending, 4);
    assert_int_equal(st.events_dropped, 1);
    redis_sink_destroy(s, 0);
}

static void test_redis_sink_flush_disconnected_keeps_pending_and_backs_off(void **state)
{
    (void)state;
    struct dead_port d = dead_port_open();
    struct redis_sink *s = sink_at(d.port, 100, 10);
    struct verdict v = verdict_v4(0xcb007109u, THREAT_HIGH);
    assert_true(redis_sink_put(s, &v));
    assert_true(redis_sink_event(s, REDIS_SINK_EVENT_ATTACK_START, &v, NULL, 0));
    assert_false(redis_sink_resync_take(s));

    uint64_t now = 1000000;
    assert_int_equal(redis_sink_flush(s, now), -ENOTCONN);
    struct redis_sink_stats st = stats_of(s);
    assert_false(st.connected);
    assert_int_equal(st.redis_errors, 1);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.events_pending, 1);
    assert_int_equal(st.reconnects, 0);
    assert_true(strstr(st.last_error, "connect") != NULL);
    /* Equal jitter: the first delay is drawn from [min/2, min] = [50, 100] ms. */
    assert_in_range(st.backoff_ms, 50, 100);

    /* Within the delay: no attempt, nothing counted. */
    assert_int_equal(redis_sink_flush(s, now + st.backoff_ms - 1), -ENOTCONN);
    assert_int_equal(stats_of(s).redis_errors, 1);

    /* Each failure doubles the ceiling up to backoff_max (5 s). */
    uint32_t ceiling = 100;
    for (int i = 2; i <= 12; i++) {
        now += st.backoff_ms;
        ceiling = ceiling * 2 > 5000 ? 5000 : ceiling * 2;
        assert_int_equal(redis_sink_flush(s, now), -ENOTCONN);
        st = stats_of(s);
        assert_int_equal(st.redis_errors, (uint64_t)i);
        assert_in_range(st.backoff_ms, ceiling / 2, ceiling);
    }
    assert_in_range(st.backoff_ms, 2500, 5000);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.events_pending, 1);
    assert_int_equal(st.verdicts_written, 0);
    assert_int_equal(st.backlog_dropped, 0);
    assert_int_equal(st.pipelines, 0);
    redis_sink_destroy(s, 0);
    close(d.fd);
}

static void test_redis_sink_destroy_gives_up_after_its_timeout(void **state)
{
    (void)state;
    struct dead_port d = dead_port_open();
    struct redis_sink *s = sink_at(d.port, 100, 10);
    struct verdict v = verdict_v4(0xcb007109u, THREAT_HIGH);
    assert_true(redis_sink_put(s, &v));
    uint64_t t0 = redis_sink_now_ms();
    redis_sink_destroy(s, 300);
    uint64_t took = redis_sink_now_ms() - t0;
    assert_in_range(took, 250, 1000);
    close(d.fd);
}

int main(void)
{
    log_configure(NULL, LOG_LEVEL_ERROR); /* the sink warns about every outage it sees */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threat_level_names_round_trip),
        cmocka_unit_test(test_threat_level_parse_rejects_unknown),
        cmocka_unit_test(test_verdict_role_names_round_trip),
        cmocka_unit_test(test_verdict_reasons_format_lists_bits_in_order),
        cmocka_unit_test(test_verdict_reasons_format_truncates_whole_names),
        cmocka_unit_test(test_verdict_reasons_parse_round_trip),
        cmocka_unit_test(test_verdict_ip_round_trip),
        cmocka_unit_test(test_verdict_ip_parse_rejects_garbage),
        cmocka_unit_test(test_redis_sink_create_validates_config),
        cmocka_unit_test(test_redis_sink_put_coalesces_per_ip),
        cmocka_unit_test(test_redis_sink_backlog_full_evicts_only_lower_levels),
        cmocka_unit_test(test_redis_sink_events_are_bounded),
        cmocka_unit_test(test_redis_sink_flush_disconnected_keeps_pending_and_backs_off),
        cmocka_unit_test(test_redis_sink_destroy_gives_up_after_its_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
