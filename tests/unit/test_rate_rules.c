/* test_rate_rules.c - unit tests of verdicts/rate_rules.c: floods, whitelists, host groups,
 * reflection, levels, alert ends, eviction, IPv6 and the tick budget. Time is packet time
 * passed in by the test, so every scenario is deterministic and runs instantly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "common/config.h"
#include "verdicts/rate_rules.h"
#include "verdicts/verdict.h"

#define SEC       1000000ull
#define T0        (1700000000ull * SEC)
#define ALERT_MAX 64

static struct ddosd_config cfg;

static int setup(void **state)
{
    (void)state;
    log_configure(stderr, LOG_LEVEL_WARN);
    return config_defaults(&cfg);
}

static int teardown(void **state)
{
    (void)state;
    config_free(&cfg);
    return 0;
}

/* Overlays rules JSON on the defaults (for whitelists and host groups). */
static void load_rules(const char *json)
{
    char err[256] = "";
    int rc = config_load_buffer(json, strlen(json), "test.json", &cfg, err, sizeof(err));
    if (rc != 0)
        fail_msg("config: %s", err);
}

static void addr_set(uint8_t out[16], uint8_t *version, const char *text)
{
    memset(out, 0, 16);
    if (inet_pton(AF_INET, text, out) == 1) {
        *version = 4;
        return;
    }
    assert_int_equal(inet_pton(AF_INET6, text, out), 1);
    *version = 6;
}

static struct pkt_info pkt(const char *src, const char *dst, uint8_t proto, uint16_t sport,
                           uint16_t dport, uint8_t tcp_flags)
{
    struct pkt_info p;
    memset(&p, 0, sizeof(p));
    addr_set(p.src, &p.ip_version, src);
    addr_set(p.dst, &p.ip_version, dst);
    p.proto = proto;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = tcp_flags;
    p.flags = PKT_F_L4;
    p.wire_len = 60;
    return p;
}

/* Source number i as a distinct IPv4 (10.x.y.z) or IPv6 (2001:db8:ffff::x:y) address. */
static void src_of(char *buf, size_t len, uint32_t i, bool v6)
{
    if (v6)
        snprintf(buf, len, "2001:db8:ffff::%x:%x", (i >> 16) & 0xffff, i & 0xffff);
    else
        snprintf(buf, len, "10.%u.%u.%u", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
}

/* n SYNs from n distinct spoofed sources to dst, spread over second [start, start + 1). */
static void syn_flood(struct rate_rules *r, const char *dst, uint64_t start, uint32_t n,
                      uint32_t src_base)
{
    char src[64];
    bool v6 = strchr(dst, ':') != NULL;
    for (uint32_t i = 0; i < n; i++) {
        src_of(src, sizeof(src), src_base + i, v6);
        struct pkt_info p =
            pkt(src, dst, IPPROTO_NUM_TCP, (uint16_t)(1024 + i % 60000), 80, TCP_SYN);
        rate_rules_packet(r, &p, start + (uint64_t)i * SEC / n, true);
    }
}

/* n copies of p spread over second [start, start + 1). */
static void repeat(struct rate_rules *r, const struct pkt_info *p, uint64_t start, uint32_t n,
                   bool new_flow)
{
    for (uint32_t i = 0; i < n; i++)
        rate_rules_packet(r, p, start + (uint64_t)i * SEC / n, new_flow);
}

/* The first alert in a[0..n) for ip and role, or NULL. */
static const struct rate_alert *find(const struct rate_alert *a, size_t n, const char *ip, int role)
{
    uint8_t addr[16], version;
    addr_set(addr, &version, ip);
    for (size_t i = 0; i < n; i++)
        if (a[i].role == role && a[i].version == version && memcmp(a[i].ip, addr, 16) == 0)
            return &a[i];
    return NULL;
}

static size_t tick_all(struct rate_rules *r, uint64_t now, struct rate_alert *a)
{
    return rate_rules_tick(r, now, a, ALERT_MAX, 1u << 30);
}

static void test_rate_rules_syn_flood_alerts_victim(void **state)
{
    (void)state;
    cfg.rules.victim.syn_per_s = 1000;
    cfg.rules.victim.distinct_sources = 500;
    struct rate_rules *r = rate_rules_create(&cfg, 1u << 15);
    assert_non_null(r);
    struct rate_alert a[ALERT_MAX];

    syn_flood(r, "192.0.2.1", T0, 5000, 0);
    assert_int_equal(tick_all(r, T0 + SEC / 2, a), 0); /* the first window is still open */
    syn_flood(r, "192.0.2.1", T0 + SEC, 5000, 5000);
    size_t n = tick_all(r, T0 + SEC + SEC / 2, a);
    const struct rate_alert *v = find(a, n, "192.0.2.1", VERDICT_ROLE_VICTIM);
    assert_non_null(v);
    assert_true(v->reasons & VERDICT_REASON_RATE_SYN);
    assert_true(v->reasons & VERDICT_REASON_RATE_SOURCES);
    assert_false(v->ended);
    assert_true(v->ts_us - T0 <= 2 * SEC);
    assert_true(v->syn_rate > 1000);
    assert_true(v->distinct_sources > 500);
    assert_true(v->score > 0 && v->score <= 1);
    /* Each spoofed source sent one packet: none of them is an attacker. */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(a[i].role, VERDICT_ROLE_VICTIM);

    /* Re-emitted at most once per second while it lasts. */
    assert_null(find(a, tick_all(r, T0 + SEC + SEC * 3 / 4, a), "192.0.2.1", VERDICT_ROLE_VICTIM));
    syn_flood(r, "192.0.2.1", T0 + 2 * SEC, 5000, 10000);
    assert_non_null(
        find(a, tick_all(r, T0 + 2 * SEC + SEC / 2, a), "192.0.2.1", VERDICT_ROLE_VICTIM));
    rate_rules_destroy(r);
}

static void test_rate_rules_syn_answered_is_not_a_flood(void **state)
{
    (void)state;
    cfg.rules.victim.syn_per_s = 1000;
    cfg.rules.victim.distinct_sources = 0; /* disabled: only the SYN rule is under test */
    cfg.rules.victim.new_flows_per_s = 0;
    struct rate_rules *r = rate_rules_create(&cfg, 1u << 15);
    assert_non_null(r);
    struct rate_alert a[ALERT_MAX];
    char src[64];
    for (uint64_t s = 0; s < 3; s++)
        for (uint32_t i = 0; i < 4000; i++) {
            src_of(src, sizeof(src), i, false);
            uint64_t ts = T0 + s * SEC + i * (SEC / 4000);
            struct pkt_info syn = pkt(src, "192.0.2.2", IPPROTO_NUM_TCP, 40000, 443, TCP_SYN);
            struct pkt_info sa =
                pkt("192.0.2.2", src, IPPROTO_NUM_TCP, 443, 40000, TCP_SYN | TCP_ACK);
            rate_rules_packet(r, &syn, ts, true);
            rate_rules_packet(r, &sa, ts + 1, false);
        }
    assert_null(find(a, tick_all(r, T0 + 3 * SEC + 1, a), "192.0.2.2", VERDICT_ROLE_VICTIM));
    rate_rules_destroy(r);
}

static void test_rate_rules_whitelisted_victim_never_flagged(void **state)
{
    (void)state;
    load_rules("{\"rules\": {\"victim\": {\"syn_per_s\": 1000, \"distinct_sources\": 500},"
               " \"whitelist\": {\"destinations\": [\"192.0.2.0/28\"]}}}");
    struct rate_rules *r = rate_rules_create(&cfg, 1u << 15);
    assert_non_null(r);
    struct rate_alert a[ALERT_MAX];
    for (uint64_t s = 0; s < 4; s++) {
        syn_flood(r, "192.0.2.1", T0 + s * SEC, 5000, (uint32_t)s * 5000);
        assert_null(
            find(a, tick_all(r, T0 + s * SEC + SEC / 2, a), "192.0.2.1", VERDICT_ROLE_VICTIM));
    }
    struct rate_rules_stats st;
    rate_rules_stats_get(r, &st);
    assert_true(st.whitelisted_pkts > 0);
    assert_int_equal(st.alerts_emitted, 0);
    rate_rules_destroy(r);
}

static void test_rate_rules_hostgroup_override_raises_threshold(void **state)
{
    (void)state;
    load_rules("{\"rules\": {\"victim\": {\"syn_per_s\": 1000, \"distinct_sources\": 500},"
               " \"hostgroups\": [{\"name\": \"big\", \"cidrs\": [\"192.0.2.0/24\"],"
               " \"victim\": {\"syn_per_s\": 1e6, \"distinct_sources\": 1e6}}]}}");
    struct rate_rules *r = rate_rules_create(&cfg, 1u << 16);
    assert_non_null(r);
    struct rate_alert a[ALERT_MAX];
    for (uint64_t s = 0; s < 3; s++) {
        syn_flood(r, "192.0.2.7", T0 + s * SEC, 5000, (uint32_t)s * 5000);
        syn_flood(r, "198.51.100.7", T0 + s * SEC, 5000, 100000 + (uint32_t)s * 5000);
    }
    size_t n = tick_all(r, T0 + 3 * SEC, a);
    assert_null(find(a, n, "192.0.2.7", VERDICT_ROLE_VICTIM));
    assert_non_null(find(a, n, "198.51.100.7", VERDICT_ROLE_VICTIM)); /* global thresholds */
    rate_rules_destroy(r);
}

static void test_rate_rules_heavy_source_alerts_attacker(void **state)
{
    (void)state;
    cfg.rules.attacker.pps = 1000;
    struct rate_rules *r = rate_rules_create(&cfg, 1024);
    assert_non_null(r);
    struct rate_alert a[ALERT_MAX];
    struct pkt_info p = pkt("203.0.113.9", "192.0.2.3", IPPROTO_NUM_UDP, 5555, 80, 0);
    repeat(r, &p, T0, 5000, false);
    repeat(r, &p, T0 + SEC, 5000, false);
    size_t n = tick_all(r, T0 + SEC + SEC / 2, a);
    const struct rate_alert *at = find(a, n, "203.0.113.9", VERDICT_ROLE_ATTACKER);
    assert_non_null(at);
    assert_true(at->reasons & VERDICT_REASON_RATE_PPS);
    assert_false(at->reasons & VERDICT_REASON_REFLECTION);
    assert_null(find(a, n, "192.0.2.3", VERDICT_ROLE_VICTIM)); /* 5000 pps < victim 100000 */
    rate_rules_destroy(r);
}

static void test_rate_rules_udp_from_ntp_is_reflection(void **state)
{
    (void)state;
    cfg.rules.victim.reflector_pps = 1000;
    struct rate_rules *r = rate_rules_create(&cfg, 4096);
    assert_non_null(r);
    struct rate_alert a[ALERT_MAX];
    char src[64];
    for (uint64_t s = 0; s < 2; s++)
        for (uint32_t i = 0; i < 5000; i++) {
            src_of(src, sizeof(src), i % 200, false);
            struct pkt_info ntp = pkt(src, "192.0.2.4", IPPROTO_NUM_UDP, 123, 44444, 0);
            struct pkt_info web = pkt(src, "192.0.2.5", IPPROTO_NUM_UDP, 8080, 44444, 0);
            ntp.wire_len = 468;
            rate_rules_packet(r, &ntp, T0 + s * SEC + i * (SEC / 5000), false);
            rate_rules_packet(r, &web, T0 + s * SEC + i * (SEC / 5000), false);
        }
    size_t n = tick_all(r, T0 + 2 * SEC, a);
    const struct rate_alert *v = find(a, n, "192.0.2.4", VERDICT_ROLE_VICTIM);
    assert_non_null(v);
    assert_true(v->reasons & VERDICT_REASON_REFLECTION);
    assert_true(v->reflector_pps > 1000);
    assert_null(find(a, n, "192.0.2.5", VERDICT_ROLE_VICTIM)); /* port 8080 reflects nothing */
    assert_true(rate_rules_reflector_port(123));
    assert_true(rate_rules_reflector_port(11211));
    assert_false(rate_rules_reflector_port(8080));
    rate_rules_destroy(r);
}

static void test_rate_rules_levels_scale_with_excess(void **state)
{
    (void)state;
    cfg.rules.victim.pps = 1000;
    struct rate_rules *r = rate_rules_create(&cfg, 1024);
    assert_non_null(r);
    struct rate_alert a[ALERT_MAX];
    /* One window at n pps gives a smoothed rate of n * RATE_RULES_ALPHA = n / 2. */
    struct pkt_info p1 = pkt("203.0.113.1", "192.0.2.11", IPPROTO_NUM_UDP, 5000, 80, 0);
    struct pkt_info p2 = pkt("203.0.113.2", "192.0.2.12", IPPROTO_NUM_UDP, 5000, 80, 0);
    struct pkt_info p3 = pkt("203.0.113.3", "192.0.2.13", IPPROTO_NUM_UDP, 5000, 80, 0);
    repeat(r, &p1, T0, 3000, false);  /* 1500: 1.5x */
    repeat(r, &p2, T0, 6000, false);  /* 3000: 3x */
    repeat(r, &p3, T0, 30000, false); /* 15000: 15x */
    size_t n = tick_all(r, T0 + SEC, a);
    const struct rate_alert *v1 = find(a, n, "192.0.2.11", VERDICT_ROLE_VICTIM);
    const struct rate_alert *v2 = find(a, n, "192.0.2.12", VERDICT_ROLE_VICTIM);
    const struct rate_alert *v3 = find(a, n, "192.0.2.13", VERDICT_ROLE_VICTIM);
    assert_non_null(v1);
    assert_non_null(v2);
    assert_non_null(v3);
    assert_int_equal(v1->level, THREAT_MEDIUM);
    assert_int_equal(v2->level, THREAT_HIGH);
    assert_int_equal(v3->level, THREAT_CRITICAL);
    assert_true(v1->score < v2->score && v2->score < v3->score);
    assert_float_equal(v2->score, 1.0 - 1000.0 / 3000.0, 1e-3);
    rate_rules_destroy(r);
}

static void test_rate_rules_alert_ends_after_traffic_stops(void **state)
{
    (void)state;
    cfg.rules.victim.pps = 1000;
    struct rate_rules *r = rate_rules_create(&cfg, 1024);
    assert_non_null(r);
    struct rate_alert a[ALERT_MAX];
    struct pkt_info p = pkt("203.0.113.1", "192.0.2.21", IPPROTO_NUM_UDP, 5000, 80, 0);
    repeat(r, &p, T0, 6000, false);
    assert_non_null(find(a, tick_all(r, T0 + SEC, a), "192.0.2.21", VERDICT_ROLE_VICTIM));
    int ended_at = -1, alerts_after_end = 0;
    for (int s = 2; s < 12; s++) {
        size_t n = tick_all(r, T0 + (uint64_t)s * SEC, a);
        const struct rate_alert *v = find(a, n, "192.0.2.21", VERDICT_ROLE_VICTIM);
        if (ended_at >= 0 && v)
            alerts_after_end++;
        if (ended_at < 0 && v && v->ended) {
            ended_at = s;
            assert_true(v->reasons & VERDICT_REASON_RATE_PPS);
        }
    }
    /* 3000 -> 1500 (still over) -> 750, 375, 187: three quiet windows. */
    assert_int_equal(ended_at, 2 + RATE_RULES_END_WINDOWS);
    assert_int_equal(alerts_after_end, 0);
    struct rate_rules_stats st;
    rate_rules_stats_get(r, &st);
    assert_int_equal(st.alerts_ended, 1);
    assert_int_equal(st.alerting, 0);
    rate_rules_destroy(r);
}

static void test_rate_rules_full_table_evicts(void **state)
{
    (void)state;
    cfg.rules.victim.pps = 500;
    struct rate_rules *r = rate_rules_create(&cfg, 64);
    assert_non_null(r);
    struct rate_alert a[ALERT_MAX];
    char src[64];
    for (uint32_t i = 0; i < 2000; i++) {
        src_of(src, sizeof(src), i, false);
        struct pkt_info p = pkt(src, "192.0.2.31", IPPROTO_NUM_UDP, 5000, 80, 0);
        rate_rules_packet(r, &p, T0 + i * (SEC / 2000), true);
    }
    struct pkt_info p = pkt("203.0.113.1", "192.0.2.31", IPPROTO_NUM_UDP, 5000, 80, 0);
    rate_rules_packet(r, &p, T0 + SEC, false);
    struct rate_rules_stats st;
    rate_rules_stats_get(r, &st);
    assert_true(st.evictions > 0);
    assert_true(st.tracked_ips <= st.capacity);
    assert_int_equal(st.capacity, 128);
    /* The busy victim survived the churn of one-packet sources. */
    assert_non_null(find(a, tick_all(r, T0 + SEC, a), "192.0.2.31", VERDICT_ROLE_VICTIM));
    rate_rules_destroy(r);
}

static void test_rate_rules_ipv6_victim(void **state)
{
    (void)state;
    load_rules("{\"rules\": {\"victim\": {\"syn_per_s\": 1000, \"distinct_sources\": 500},"
               " \"whitelist\": {\"destinations\": [\"2001:db8:1::/48\"]}}}");
    struct rate_rules *r = rate_rules_create(&cfg, 1u << 15);
    assert_non_null(r);
    struct rate_alert a[ALERT_MAX];
    syn_flood(r, "2001:db8:2::80", T0, 5000, 0);
    syn_flood(r, "2001:db8:1::80", T0, 5000, 0); /* whitelisted */
    size_t n = tick_all(r, T0 + SEC, a);
    const struct rate_alert *v = find(a, n, "2001:db8:2::80", VERDICT_ROLE_VICTIM);
    assert_non_null(v);
    assert_int_equal(v->version, 6);
    assert_true(v->reasons & VERDICT_REASON_RATE_SYN);
    assert_true(v->reasons & VERDICT_REASON_RATE_SOURCES);
    assert_null(find(a, n, "2001:db8:1::80", VERDICT_ROLE_VICTIM));
    rate_rules_destroy(r);
}

static void test_rate_rules_tick_budget_bounds_work(void **state)
{
    (void)state;
    cfg.rules.victim.pps = 100;
    struct rate_rules *r = rate_rules_create(&cfg, 1024);
    assert_non_null(r);
    struct rate_alert a[ALERT_MAX];
    char dst[64];
    for (uint32_t i = 0; i < 500; i++) {
        src_of(dst, sizeof(dst), i, false);
        struct pkt_info p = pkt("203.0.113.1", dst, IPPROTO_NUM_UDP, 5000, 80, 0);
        rate_rules_packet(r, &p, T0, false);
    }
    /* Three victims over threshold: with max = 1, one alert per tick. */
    for (uint32_t i = 0; i < 3; i++) {
        src_of(dst, sizeof(dst), i, false);
        struct pkt_info p = pkt("203.0.113.1", dst, IPPROTO_NUM_UDP, 5000, 80, 0);
        repeat(r, &p, T0, 1000, false);
    }
    struct rate_rules_stats st, before;
    rate_rules_stats_get(r, &before);
    assert_int_equal(before.tracked_ips, 501);
    size_t total = 0;
    for (int i = 0; i < 1000; i++) { /* 1000 * (16 - 3) visits: more than one pass */
        size_t n = rate_rules_tick(r, T0 + SEC + (uint64_t)i, a, 1, 16);
        assert_true(n <= 1);
        total += n;
        rate_rules_stats_get(r, &st);
        assert_true(st.tick_visits - before.tick_visits <= 16);
        before = st;
    }
    assert_int_equal(total, 3); /* found by the scan, then emitted one per tick */
    /* Idle entries are freed, a bounded slice at a time. */
    int ticks = 0;
    do {
        assert_true(rate_rules_tick(r, T0 + 120 * SEC, a, ALERT_MAX, 64) <= ALERT_MAX);
        rate_rules_stats_get(r, &st);
    } while (st.tracked_ips > 0 && ++ticks < 1000);
    assert_int_equal(st.tracked_ips, 0);
    assert_true((uint64_t)ticks >= before.capacity / 64 - 1);
    rate_rules_destroy(r);
}

static void test_rate_rules_create_rejects_zero(void **state)
{
    (void)state;
    assert_null(rate_rules_create(&cfg, 0));
    rate_rules_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rate_rules_syn_flood_alerts_victim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_syn_answered_is_not_a_flood, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_whitelisted_victim_never_flagged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_hostgroup_override_raises_threshold, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_heavy_source_alerts_attacker, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_udp_from_ntp_is_reflection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_levels_scale_with_excess, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_alert_ends_after_traffic_stops, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_full_table_evicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_ipv6_victim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_tick_budget_bounds_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_create_rejects_zero, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
