/* test_rate_rules.c - unit tests of verdicts/rate_rules.c: floods, whitelists, host groups,
 * reflection, levels, alert ends, eviction, IPv6, the tick budget, and the judge's evidence:
 * 100 ms bursts, ICMP errors, fragments, answered traffic and completed handshakes. Time is packet
 * time passed in by the test, so every scenario is deterministic and runs instantly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* rate_rules on cfg for up to max_ips addresses; fails the test if it cannot be made. */
static struct rate_rules *rules_new(uint32_t max_ips)
{
    struct rate_rules *r = rate_rules_create(&cfg, max_ips);
    assert_non_null(r);
    return r;
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

/* n copies of p spread over [start, start + dur). */
static void spread(struct rate_rules *r, const struct pkt_info *p, uint64_t start, uint32_t n,
                   uint64_t dur, bool new_flow)
{
    for (uint32_t i = 0; i < n; i++)
        rate_rules_packet(r, p, start + (uint64_t)i * dur / n, new_flow);
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
    struct rate_rules *r = rules_new(1u << 15);
    struct rate_alert a[ALERT_MAX];

    /* 5000 SYN/s: the first 100 ms sub-window already holds 500 SYNs (5000/s, 5x); 500
     * sources are not over the distinct sources threshold yet. */
    char src[64];
    for (uint32_t i = 0; i < 500; i++) {
        src_of(src, sizeof(src), i, false);
        struct pkt_info p = pkt(src, "192.0.2.1", IPPROTO_NUM_TCP, 1024, 80, TCP_SYN);
        rate_rules_packet(r, &p, T0 + (uint64_t)i * SEC / 5000, true);
    }
    size_t n = tick_all(r, T0 + SEC / 10, a);
    const struct rate_alert *v = find(a, n, "192.0.2.1", VERDICT_ROLE_VICTIM);
    assert_non_null(v);
    assert_true(v->reasons & VERDICT_REASON_RATE_SYN);
    assert_int_equal(v->burst, 1);
    assert_int_equal(v->level, THREAT_HIGH);
    assert_float_equal(v->syn_rate, 5000, 20);
    assert_int_equal(v->ts_us, T0 + SEC / 10);
    assert_false(v->ended);
    assert_true(v->score > 0 && v->score <= 1);
    assert_true(v->handshake_rate == 0 && v->answered_ratio == 0);
    /* Each spoofed source sent one packet: none of them is an attacker. */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(a[i].role, VERDICT_ROLE_VICTIM);

    syn_flood(r, "192.0.2.1", T0 + SEC, 5000, 5000);
    syn_flood(r, "192.0.2.1", T0 + 2 * SEC, 5000, 10000);
    n = tick_all(r, T0 + 3 * SEC, a);
    v = find(a, n, "192.0.2.1", VERDICT_ROLE_VICTIM);
    assert_non_null(v);
    assert_true(v->reasons & VERDICT_REASON_RATE_SYN);
    assert_true(v->reasons & VERDICT_REASON_RATE_SOURCES);
    assert_true(v->level >= THREAT_HIGH); /* ~5000 sources in a second: ~10x */
    assert_true(v->distinct_sources > 500);
    /* ~1 packet per spoofed source. */
    assert_true(v->pkts_per_source > 0.5 && v->pkts_per_source < 2);
    rate_rules_destroy(r);
}

static void test_rate_rules_alert_repeats_once_per_second(void **state)
{
    (void)state;
    cfg.rules.victim.pps = 1000;
    struct rate_rules *r = rules_new(1024);
    struct rate_alert a[ALERT_MAX];
    struct pkt_info p = pkt("203.0.113.1", "192.0.2.9", IPPROTO_NUM_UDP, 5000, 80, 0);
    int emitted = 0;
    for (uint64_t t = 0; t < 30; t++) { /* 3 s at a steady 3000 pps, a tick every 100 ms */
        spread(r, &p, T0 + t * SEC / 10, 300, SEC / 10, false);
        emitted += find(a, tick_all(r, T0 + (t + 1) * SEC / 10, a), "192.0.2.9",
                        VERDICT_ROLE_VICTIM) != NULL;
    }
    /* At the first sub-window (0.1 s), then at 1, 2 and 3 s: the level never rose. */
    assert_int_equal(emitted, 4);
    rate_rules_destroy(r);
}

/* A spoofed SYN flood the victim answers with SYN-ACKs: no source ever completes the
 * handshake, so the SYN rule fires (the SYN-ACKs do not hide it). */
static void test_rate_rules_spoofed_syn_answered_by_syn_acks_fires(void **state)
{
    (void)state;
    cfg.rules.victim.syn_per_s = 1000;
    cfg.rules.victim.distinct_sources = 0; /* disabled: only the SYN rule is under test */
    cfg.rules.victim.new_flows_per_s = 0;
    cfg.rules.victim.pps = 0;
    struct rate_rules *r = rules_new(1u << 15);
    struct rate_alert a[ALERT_MAX];
    char src[64];
    const struct rate_alert *v = NULL;
    for (uint64_t s = 0; s < 2 && !v; s++) {
        for (uint32_t i = 0; i < 4000; i++) {
            src_of(src, sizeof(src), (uint32_t)s * 4000 + i, false);
            uint64_t ts = T0 + s * SEC + i * (SEC / 4000);
            struct pkt_info syn = pkt(src, "192.0.2.2", IPPROTO_NUM_TCP, 40000, 443, TCP_SYN);
            struct pkt_info sa =
                pkt("192.0.2.2", src, IPPROTO_NUM_TCP, 443, 40000, TCP_SYN | TCP_ACK);
            rate_rules_packet(r, &syn, ts, true);
            rate_rules_packet(r, &sa, ts + 1, false);
            rate_rules_packet(r, &sa, ts + 2, false); /* a retransmitted SYN-ACK */
        }
        v = find(a, tick_all(r, T0 + (s + 1) * SEC, a), "192.0.2.2", VERDICT_ROLE_VICTIM);
    }
    assert_non_null(v);
    assert_true(v->reasons & VERDICT_REASON_RATE_SYN);
    assert_true(v->syn_ack_rate > v->syn_rate); /* answered, and still a flood */
    assert_float_equal(v->handshake_rate, 0, 1e-9);
    assert_float_equal(v->syn_ack_unrequested_pps, 0, 1e-9); /* it sent them, not received */
    rate_rules_destroy(r);
}

/* The same SYN rate from clients that complete their handshakes is a busy server. */
static void test_rate_rules_completed_handshakes_are_not_a_flood(void **state)
{
    (void)state;
    cfg.rules.victim.syn_per_s = 1000;
    cfg.rules.victim.distinct_sources = 0;
    cfg.rules.victim.new_flows_per_s = 0;
    cfg.rules.victim.pps = 0;
    struct rate_rules *r = rules_new(1u << 15);
    struct rate_alert a[ALERT_MAX];
    char src[64];
    size_t alerts = 0;
    for (uint64_t s = 0; s < 3; s++) {
        for (uint32_t i = 0; i < 4000; i++) {
            src_of(src, sizeof(src), i, false);
            uint64_t ts = T0 + s * SEC + i * (SEC / 4000);
            struct pkt_info syn = pkt(src, "192.0.2.2", IPPROTO_NUM_TCP, 40000, 443, TCP_SYN);
            struct pkt_info sa =
                pkt("192.0.2.2", src, IPPROTO_NUM_TCP, 443, 40000, TCP_SYN | TCP_ACK);
            struct pkt_info ack = pkt(src, "192.0.2.2", IPPROTO_NUM_TCP, 40000, 443, TCP_ACK);
            rate_rules_packet(r, &syn, ts, true);
            rate_rules_packet(r, &sa, ts + 1, false);
            rate_rules_packet(r, &ack, ts + 2, false);
        }
        alerts +=
            find(a, tick_all(r, T0 + (s + 1) * SEC, a), "192.0.2.2", VERDICT_ROLE_VICTIM) != NULL;
    }
    assert_int_equal(alerts, 0);
    rate_rules_destroy(r);
}

static void test_rate_rules_whitelisted_victim_never_flagged(void **state)
{
    (void)state;
    load_rules("{\"rules\": {\"victim\": {\"syn_per_s\": 1000, \"distinct_sources\": 500},"
               " \"whitelist\": {\"destinations\": [\"192.0.2.0/28\"]}}}");
    struct rate_rules *r = rules_new(1u << 15);
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
    struct rate_rules *r = rules_new(1u << 16);
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
    struct rate_rules *r = rules_new(1024);
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
    struct rate_rules *r = rules_new(4096);
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
    struct rate_rules *r = rules_new(1024);
    struct rate_alert a[ALERT_MAX];
    struct pkt_info p1 = pkt("203.0.113.1", "192.0.2.11", IPPROTO_NUM_UDP, 5000, 80, 0);
    struct pkt_info p2 = pkt("203.0.113.2", "192.0.2.12", IPPROTO_NUM_UDP, 5000, 80, 0);
    struct pkt_info p3 = pkt("203.0.113.3", "192.0.2.13", IPPROTO_NUM_UDP, 5000, 80, 0);
    repeat(r, &p1, T0, 1500, false);  /* 1.5x */
    repeat(r, &p2, T0, 3000, false);  /* 3x */
    repeat(r, &p3, T0, 15000, false); /* 15x */
    /* The sub-windows give the level as soon as the first one closes. */
    size_t n = tick_all(r, T0 + SEC / 10, a);
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
    assert_int_equal(v2->burst, 1);
    assert_float_equal(v2->pps, 3000, 1);
    assert_float_equal(v2->udp_pps, 3000, 1);
    assert_true(v2->tcp_pps == 0 && v2->icmp_pps == 0);

    /* Sustained: after one window the EWMA is half the rate (alpha 0.5): 750, 1500, 7500. */
    n = tick_all(r, T0 + SEC, a);
    v1 = find(a, n, "192.0.2.11", VERDICT_ROLE_VICTIM);
    v2 = find(a, n, "192.0.2.12", VERDICT_ROLE_VICTIM);
    assert_non_null(v1);
    assert_non_null(v2);
    assert_int_equal(v2->level, THREAT_HIGH); /* the second's bursts still count */
    n = tick_all(r, T0 + 2 * SEC, a);
    assert_null(find(a, n, "192.0.2.11", VERDICT_ROLE_VICTIM)); /* 375: quiet windows */
    v3 = find(a, n, "192.0.2.13", VERDICT_ROLE_VICTIM);
    assert_non_null(v3);
    assert_int_equal(v3->burst, 0);
    assert_float_equal(v3->pps, 3750, 1);
    assert_int_equal(v3->level, THREAT_HIGH); /* 3.75x */
    rate_rules_destroy(r);
}

static void test_rate_rules_alert_ends_after_traffic_stops(void **state)
{
    (void)state;
    cfg.rules.victim.pps = 1000;
    struct rate_rules *r = rules_new(1024);
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
    struct rate_rules *r = rules_new(64);
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
    struct rate_rules *r = rules_new(1u << 15);
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
    cfg.rules.attacker.pps = 0; /* the one source sends 3500 packets at once */
    struct rate_rules *r = rules_new(1024);
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

/* BlackNurse: ICMP destination unreachable (type 3 code 3) at 87k pkt/s for 0.1 s. With the
 * default thresholds it alerts at the tick that closes its 100 ms sub-window, at high or more;
 * the 1 s EWMA alone would see 4350/s. */
static void test_rate_rules_icmp_unreachable_burst(void **state)
{
    (void)state;
    struct rate_rules *r = rules_new(4096);
    struct rate_alert a[ALERT_MAX];
    struct pkt_info p = pkt("203.0.113.66", "192.0.2.40", IPPROTO_NUM_ICMP, 0, 0, 0);
    p.icmp_type = 3;
    p.icmp_code = 3;
    p.wire_len = 70;
    uint64_t start = T0 + 3 * SEC / 10;
    assert_int_equal(tick_all(r, start, a), 0);
    spread(r, &p, start, 8700, SEC / 10, false);
    size_t n = tick_all(r, start + SEC / 10, a);
    const struct rate_alert *v = find(a, n, "192.0.2.40", VERDICT_ROLE_VICTIM);
    assert_non_null(v);
    assert_true(v->reasons & VERDICT_REASON_ICMP_ERRORS);
    assert_true(v->level >= THREAT_HIGH);
    assert_int_equal(v->burst, 1);
    assert_float_equal(v->icmp_error_pps, 87000, 10);
    assert_float_equal(v->icmp_pps, 87000, 10);
    assert_true(v->tcp_pps == 0 && v->udp_pps == 0);
    assert_int_equal(v->ts_us, start + SEC / 10);
    /* Echo requests at the same rate are ICMP, not ICMP errors. */
    struct pkt_info echo = p;
    echo.icmp_type = 8;
    echo.icmp_code = 0;
    memcpy(echo.dst, (uint8_t[4]){192, 0, 2, 41}, 4);
    spread(r, &echo, start + SEC / 10, 8700, SEC / 10, false);
    n = tick_all(r, start + 2 * SEC / 10, a);
    v = find(a, n, "192.0.2.41", VERDICT_ROLE_VICTIM);
    assert_non_null(v); /* unanswered 87k pps: the pps rule */
    assert_false(v->reasons & VERDICT_REASON_ICMP_ERRORS);
    assert_float_equal(v->icmp_error_pps, 0, 1e-9);
    rate_rules_destroy(r);
}

/* ICMP errors a host provoked itself (its packets to closed ports) are not a flood; the same
 * errors unsolicited are. ICMPv6 type 1 counts like ICMPv4 type 3. */
static void test_rate_rules_icmp_errors_solicited_do_not_fire(void **state)
{
    (void)state;
    cfg.rules.victim.icmp_errors_per_s = 1000;
    cfg.rules.victim.pps = 0;
    cfg.rules.attacker.pps = 0;
    cfg.rules.attacker.icmp_errors_per_s = 0;
    struct rate_rules *r = rules_new(4096);
    struct rate_alert a[ALERT_MAX];
    struct pkt_info probe = pkt("2001:db8::5", "2001:db8:9::1", IPPROTO_NUM_UDP, 40000, 33434, 0);
    struct pkt_info err = pkt("2001:db8:9::1", "2001:db8::5", IPPROTO_NUM_ICMPV6, 0, 0, 0);
    err.icmp_type = 1;
    struct pkt_info err2 = err;
    memcpy(err2.dst, probe.dst, 16); /* the same errors to a host that sent nothing */
    memcpy(err2.src, probe.src, 16);
    err2.dst[15] = 7;
    size_t a5 = 0, a7 = 0;
    for (uint32_t i = 0; i < 3000; i++) {
        uint64_t ts = T0 + i * (SEC / 3000);
        rate_rules_packet(r, &probe, ts, false);
        rate_rules_packet(r, &err, ts + 1, false);
        rate_rules_packet(r, &err2, ts + 1, false);
    }
    size_t n = tick_all(r, T0 + SEC, a);
    a5 = find(a, n, "2001:db8::5", VERDICT_ROLE_VICTIM) != NULL;
    const struct rate_alert *v = find(a, n, "2001:db8:9::7", VERDICT_ROLE_VICTIM);
    a7 = v != NULL;
    assert_int_equal(a5, 0);
    assert_int_equal(a7, 1);
    assert_true(v->reasons & VERDICT_REASON_ICMP_ERRORS);
    rate_rules_destroy(r);
}

/* An IPv6 fragment flood (first fragments with their UDP header, the rest without) alerts with
 * FRAGMENTS and names UDP as what the fragments carry. */
static void test_rate_rules_ipv6_fragment_flood(void **state)
{
    (void)state;
    struct rate_rules *r = rules_new(4096);
    struct rate_alert a[ALERT_MAX];
    struct pkt_info first = pkt("2001:db8:66::1", "2001:db8:1::53", IPPROTO_NUM_UDP, 4444, 53, 0);
    first.flags = PKT_F_L4 | PKT_F_FRAGMENT;
    first.wire_len = 1294;
    struct pkt_info next = first;
    next.flags = PKT_F_FRAGMENT | PKT_F_NONFIRST_FRAG;
    next.sport = next.dport = 0;
    const struct rate_alert *v = NULL;
    size_t n = 0;
    for (uint32_t i = 0; i < 10000 && !v; i++) { /* 10k fragments/s: 5x the default */
        uint64_t ts = T0 + i * (SEC / 10000);
        rate_rules_packet(r, i % 4 == 0 ? &first : &next, ts, false);
        if (i % 1000 == 999) {
            n = tick_all(r, T0 + (i + 1) * (SEC / 10000), a);
            v = find(a, n, "2001:db8:1::53", VERDICT_ROLE_VICTIM);
        }
    }
    assert_non_null(v);
    assert_true(v->reasons & VERDICT_REASON_FRAGMENTS);
    assert_int_equal(v->fragment_proto, IPPROTO_NUM_UDP);
    assert_float_equal(v->fragment_pps, 10000, 10);
    assert_float_equal(v->udp_pps, 10000, 10); /* fragments count under their protocol */
    assert_true(v->level >= THREAT_HIGH);
    assert_true(v->ts_us <= T0 + SEC / 10);
    rate_rules_destroy(r);
}

/* A client downloading at 100k pps (1500-byte segments, one ACK per two) is answered traffic:
 * neither it nor the server alerts. The same stream without the ACKs does: the test can fail. */
static void test_rate_rules_answered_download_does_not_fire(void **state)
{
    (void)state;
    struct rate_rules *r = rules_new(4096);
    struct rate_alert a[ALERT_MAX];
    struct pkt_info data =
        pkt("198.51.100.80", "192.0.2.50", IPPROTO_NUM_TCP, 443, 50000, TCP_ACK | TCP_PSH);
    data.wire_len = 1514;
    data.payload_len = 1448;
    struct pkt_info ack = pkt("192.0.2.50", "198.51.100.80", IPPROTO_NUM_TCP, 50000, 443, TCP_ACK);
    struct pkt_info oneway = data;
    oneway.dst[3] = 51; /* 192.0.2.51: the same stream, never acknowledged */
    size_t answered = 0;
    const struct rate_alert *u = NULL;
    struct rate_alert last_u = {0};
    for (uint64_t t = 0; t < 30; t++) { /* 3 s, ticks every 100 ms */
        for (uint32_t i = 0; i < 10000; i++) {
            uint64_t ts = T0 + t * SEC / 10 + i * 10;
            rate_rules_packet(r, &data, ts, false);
            rate_rules_packet(r, &oneway, ts, false);
            if (i % 2)
                rate_rules_packet(r, &ack, ts + 1, false);
        }
        size_t n = tick_all(r, T0 + (t + 1) * SEC / 10, a);
        answered += find(a, n, "192.0.2.50", VERDICT_ROLE_VICTIM) != NULL;
        answered += find(a, n, "198.51.100.80", VERDICT_ROLE_ATTACKER) != NULL;
        u = find(a, n, "192.0.2.51", VERDICT_ROLE_VICTIM);
        if (u)
            last_u = *u;
    }
    assert_int_equal(answered, 0);
    assert_true(last_u.reasons & VERDICT_REASON_RATE_PPS);
    assert_float_equal(last_u.answered_ratio, 0, 1e-9);
    assert_float_equal(last_u.tcp_pps, 100000, 100);
    rate_rules_destroy(r);
}

/* Reflector answers (DNS from port 53) the victim never asked for are reflection; the same
 * answers to a resolver that sent its queries are not. */
static void test_rate_rules_unrequested_reflector_answers(void **state)
{
    (void)state;
    cfg.rules.victim.reflector_pps = 1000;
    cfg.rules.victim.pps = 0;
    cfg.rules.victim.distinct_sources = 0;
    struct rate_rules *r = rules_new(4096);
    struct rate_alert a[ALERT_MAX];
    char src[64];
    for (uint32_t i = 0; i < 5000; i++) {
        src_of(src, sizeof(src), i % 300, false);
        uint64_t ts = T0 + i * (SEC / 5000);
        struct pkt_info amp = pkt(src, "192.0.2.60", IPPROTO_NUM_UDP, 53, 44444, 0);
        struct pkt_info query = pkt("192.0.2.61", src, IPPROTO_NUM_UDP, 33333, 53, 0);
        struct pkt_info answer = pkt(src, "192.0.2.61", IPPROTO_NUM_UDP, 53, 33333, 0);
        amp.wire_len = answer.wire_len = 1200;
        rate_rules_packet(r, &amp, ts, false);
        rate_rules_packet(r, &query, ts, false);
        rate_rules_packet(r, &answer, ts + 1, false);
    }
    size_t n = tick_all(r, T0 + SEC, a);
    const struct rate_alert *v = find(a, n, "192.0.2.60", VERDICT_ROLE_VICTIM);
    assert_non_null(v);
    assert_true(v->reasons & VERDICT_REASON_REFLECTION);
    assert_float_equal(v->reflector_requests_pps, 0, 1e-9);
    assert_float_equal(v->reflector_pps, 5000, 20);
    assert_null(find(a, n, "192.0.2.61", VERDICT_ROLE_VICTIM));
    rate_rules_destroy(r);
}

/* The judge tells spoofed floods from a few real sources by packets per distinct source. */
static void test_rate_rules_packets_per_source(void **state)
{
    (void)state;
    cfg.rules.victim.pps = 1000;
    struct rate_rules *r = rules_new(1u << 15);
    struct rate_alert a[ALERT_MAX];
    char src[64];
    for (uint32_t i = 0; i < 6000; i++) {
        uint64_t ts = T0 + i * (SEC / 6000);
        src_of(src, sizeof(src), i, false); /* spoofed: a new source per packet */
        struct pkt_info sp = pkt(src, "192.0.2.70", IPPROTO_NUM_UDP, 1234, 80, 0);
        src_of(src, sizeof(src), i % 3, false); /* three real sources */
        struct pkt_info few = pkt(src, "192.0.2.71", IPPROTO_NUM_UDP, 1234, 80, 0);
        rate_rules_packet(r, &sp, ts, false);
        rate_rules_packet(r, &few, ts, false);
    }
    size_t n = tick_all(r, T0 + 2 * SEC, a);
    const struct rate_alert *sp = find(a, n, "192.0.2.70", VERDICT_ROLE_VICTIM);
    const struct rate_alert *few = find(a, n, "192.0.2.71", VERDICT_ROLE_VICTIM);
    assert_non_null(sp);
    assert_non_null(few);
    assert_int_equal(sp->burst, 0);
    assert_true(sp->pkts_per_source > 0.5 && sp->pkts_per_source < 2);
    assert_true(few->pkts_per_source > 500);
    rate_rules_destroy(r);
}

/* SYN-ACKs from many reflectors to a victim that sent no SYNs (it answers with RSTs, which are
 * no answers): the pps rule fires and the alert says the SYN-ACKs were not asked for. */
static void test_rate_rules_tcp_reflection(void **state)
{
    (void)state;
    struct rate_rules *r = rules_new(1u << 15);
    struct rate_alert a[ALERT_MAX];
    char src[64];
    for (uint32_t i = 0; i < 3000; i++) { /* 30k SYN-ACKs/s for 100 ms */
        src_of(src, sizeof(src), i % 1000, false);
        uint64_t ts = T0 + i * (SEC / 10 / 3000);
        struct pkt_info sa = pkt(src, "192.0.2.80", IPPROTO_NUM_TCP, 443, 40000, TCP_SYN | TCP_ACK);
        struct pkt_info rst = pkt("192.0.2.80", src, IPPROTO_NUM_TCP, 40000, 443, TCP_RST);
        rate_rules_packet(r, &sa, ts, true);
        rate_rules_packet(r, &rst, ts + 1, false);
    }
    size_t n = tick_all(r, T0 + SEC / 10, a);
    const struct rate_alert *v = find(a, n, "192.0.2.80", VERDICT_ROLE_VICTIM);
    assert_non_null(v);
    assert_true(v->reasons & VERDICT_REASON_RATE_PPS);
    assert_false(v->reasons & VERDICT_REASON_RATE_SYN);
    assert_float_equal(v->syn_ack_unrequested_pps, 30000, 20);
    assert_float_equal(v->answered_ratio, 0, 1e-9);
    assert_float_equal(v->syn_rate, 0, 1e-9);
    rate_rules_destroy(r);
}

/* ---- the two tiers ------------------------------------------------------------------------ */

/* A second configuration for a reference twin whose every entry is full from its first packet:
 * the defaults plus a host group for an unrelated prefix with a 1 pps threshold, which takes the
 * floors (and so the promotion limits) to 0 while every address tested keeps the global
 * thresholds. */
static struct ddosd_config cfg_full;

static struct rate_rules *rules_all_full(uint32_t max_ips)
{
    char err[256] = "";
    const char *json = "{\"rules\": {\"hostgroups\": [{\"name\": \"tiny\", \"cidrs\": "
                       "[\"100.64.0.0/10\"], \"victim\": {\"pps\": 1}, \"attacker\": "
                       "{\"pps\": 1}}]}}";
    assert_int_equal(config_defaults(&cfg_full), 0);
    if (config_load_buffer(json, strlen(json), "full.json", &cfg_full, err, sizeof(err)) != 0)
        fail_msg("config: %s", err);
    struct rate_rules *r = rate_rules_create(&cfg_full, max_ips);
    assert_non_null(r);
    return r;
}

static void stats(const struct rate_rules *r, struct rate_rules_stats *st)
{
    rate_rules_stats_get(r, st);
}

/* With the defaults the lowest victim floor is syn_per_s 500: a light destination holds up to
 * 500 / 10 / 8 = 6 packets per 100 ms sub-window and is promoted by the 7th; the attacker
 * floor (syn_per_s 1000) gives 12, capped at the 7 a light count holds. A second's total does not
 * promote (6 per sub-window for 3 s is 60/s), bytes over 1/8 of the bps floor per sub-window do,
 * and so does a fragment. */
static void test_rate_rules_tier_promotion_at_floor_fraction(void **state)
{
    (void)state;
    struct rate_rules *r = rules_new(4096);
    struct rate_rules_stats st;
    struct pkt_info p = pkt("203.0.113.9", "192.0.2.50", IPPROTO_NUM_UDP, 5000, 53, 0);
    for (uint32_t sub = 0; sub < 30; sub++) /* 6 per sub-window for 3 s */
        spread(r, &p, T0 + sub * (SEC / 10), 6, SEC / 10, false);
    stats(r, &st);
    assert_int_equal(st.tracked_ips, 2);
    assert_int_equal(st.full_ips, 0);
    assert_int_equal(st.promotions, 0);
    /* The 7th packet of one sub-window promotes the destination, not yet the source (whose
     * 12 is capped at the 7 a light count holds: its 8th). */
    uint64_t t = T0 + 5 * SEC;
    spread(r, &p, t, 7, SEC / 20, false);
    stats(r, &st);
    assert_int_equal(st.promotions, 1);
    assert_int_equal(st.full_ips, 1);
    rate_rules_packet(r, &p, t + SEC / 10 - 1, false);
    stats(r, &st);
    assert_int_equal(st.full_ips, 2);

    /* Bytes: one 400 kB "packet" is over 2e8 / 8 / 10 / 8 = 312,500 bytes. */
    struct pkt_info big = pkt("203.0.113.10", "192.0.2.51", IPPROTO_NUM_UDP, 5000, 53, 0);
    big.wire_len = 400000;
    rate_rules_packet(r, &big, t, false);
    stats(r, &st);
    assert_int_equal(st.full_ips, 4); /* both ends: the source sent those bytes */
    /* A fragment: its protocol vote needs a full entry. */
    struct pkt_info frag = pkt("203.0.113.11", "192.0.2.52", IPPROTO_NUM_UDP, 0, 0, 0);
    frag.flags = PKT_F_FRAGMENT;
    rate_rules_packet(r, &frag, t, false);
    stats(r, &st);
    assert_int_equal(st.full_ips, 6);
    assert_int_equal(st.promotions, 6);
    assert_int_equal(st.promote_failed, 0);
    rate_rules_destroy(r);
}

/* Every alert of a[0..n) and b[0..n) the same but for what the light tier does not keep: the
 * other metrics of a promoted entry's earlier sub-windows (tcp/udp/icmp, syn, flows, ...), which
 * may only be lower in a. pps, bps, level, reasons, role and tick are exact. */
static int alert_order(const void *x, const void *y)
{
    const struct rate_alert *a = x, *b = y;
    int c = memcmp(a->ip, b->ip, 16);
    return c ? c : (int)a->role - (int)b->role;
}

/* (Each twin's table has its own random seed, so one tick lists its alerts in its own order.) */
static void alerts_match(struct rate_alert *a, size_t na, struct rate_alert *b, size_t nb,
                         bool exact)
{
    assert_int_equal(na, nb);
    qsort(a, na, sizeof(*a), alert_order);
    qsort(b, nb, sizeof(*b), alert_order);
    for (size_t i = 0; i < na; i++) {
        if (exact) {
            assert_memory_equal(&a[i], &b[i], sizeof(a[i]));
            continue;
        }
        assert_memory_equal(a[i].ip, b[i].ip, 16);
        assert_int_equal(a[i].role, b[i].role);
        assert_int_equal(a[i].level, b[i].level);
        assert_int_equal(a[i].reasons, b[i].reasons);
        assert_int_equal(a[i].ended, b[i].ended);
        assert_int_equal(a[i].burst, b[i].burst);
        assert_int_equal(a[i].ts_us, b[i].ts_us);
        assert_true(a[i].pps == b[i].pps);
        assert_true(a[i].bps == b[i].bps);
        assert_true(a[i].udp_pps <= b[i].udp_pps);
    }
}

/* A destination light for 4 s (50 packets/s from 10 sources, 5 per sub-window), then a UDP
 * flood at 60,000 pps for 3 s, then quiet: against a twin whose entries are all full, the same
 * alerts at the same ticks, with the same pps and bps (the light EWMAs carried over exactly); only
 * the protocol mix's EWMA misses the light seconds' 50/s. */
static void test_rate_rules_tier_promotion_carries_pps_bps(void **state)
{
    (void)state;
    struct rate_rules *ra = rules_new(1u << 12), *rb = rules_all_full(1u << 12);
    struct rate_alert a[ALERT_MAX], b[ALERT_MAX];
    char src[64];
    size_t total = 0, total_burst = 0;
    for (uint32_t sub = 0; sub < 80; sub++) {
        uint64_t t = T0 + sub * (SEC / 10);
        if (sub >= 70)
            ; /* quiet: the EWMAs alone (26,250 pps after the flood) alert */
        else if (sub < 40) {
            for (uint32_t k = 0; k < 5; k++) {
                src_of(src, sizeof(src), k + (sub % 2) * 5, false);
                struct pkt_info p = pkt(src, "192.0.2.60", IPPROTO_NUM_UDP, 5000, 53, 0);
                p.wire_len = 100 + k;
                rate_rules_packet(ra, &p, t + k * 1000, false);
                rate_rules_packet(rb, &p, t + k * 1000, false);
            }
        } else {
            struct pkt_info f = pkt("198.51.100.1", "192.0.2.60", IPPROTO_NUM_UDP, 7, 9, 0);
            f.wire_len = 1000;
            spread(ra, &f, t, 6000, SEC / 10, false);
            spread(rb, &f, t, 6000, SEC / 10, false);
        }
        size_t na = tick_all(ra, t + SEC / 10, a), nb = tick_all(rb, t + SEC / 10, b);
        alerts_match(a, na, b, nb, false);
        for (size_t i = 0; i < na; i++)
            total_burst += a[i].burst;
        total += na;
    }
    assert_true(total >= 2 && total_burst >= 1 && total > total_burst);
    struct rate_rules_stats st;
    stats(ra, &st);
    assert_int_equal(st.full_ips, 2); /* the destination and the flooding source */
    assert_int_equal(st.tracked_ips, 12);
    rate_rules_destroy(ra);
    rate_rules_destroy(rb);
    config_free(&cfg_full);
}

/* A SYN flood from spoofed sources onto a destination that had only light traffic: the light
 * sub-window is exact for every metric, so every alert, the first burst at the tick closing its
 * sub-window included, is byte for byte the all-full twin's. The spoofed sources stay light. */
static void test_rate_rules_tier_attack_alerts_same_tick(void **state)
{
    (void)state;
    struct rate_rules *ra = rules_new(1u << 15), *rb = rules_all_full(1u << 15);
    struct rate_alert a[ALERT_MAX], b[ALERT_MAX];
    struct pkt_info q = pkt("203.0.113.5", "192.0.2.70", IPPROTO_NUM_TCP, 40000, 80, TCP_ACK);
    spread(ra, &q, T0, 4, SEC / 10, false);
    spread(rb, &q, T0, 4, SEC / 10, false);
    size_t first = 0;
    for (uint32_t sub = 1; sub < 40; sub++) {
        uint64_t t = T0 + sub * (SEC / 10);
        for (uint32_t i = 0; sub >= 3 && sub < 13 && i < 300; i++) { /* 3000 SYN/s */
            char src[64];
            src_of(src, sizeof(src), sub * 300 + i, false);
            struct pkt_info p = pkt(src, "192.0.2.70", IPPROTO_NUM_TCP, 1024, 80, TCP_SYN);
            rate_rules_packet(ra, &p, t + i * (SEC / 10 / 300), true);
            rate_rules_packet(rb, &p, t + i * (SEC / 10 / 300), true);
        }
        size_t na = tick_all(ra, t + SEC / 10, a), nb = tick_all(rb, t + SEC / 10, b);
        alerts_match(a, na, b, nb, true);
        if (na && !first)
            first = sub;
    }
    assert_int_equal(first, 3); /* the tick closing the flood's first sub-window */
    struct rate_rules_stats st;
    stats(ra, &st);
    assert_int_equal(st.full_ips, 1);
    assert_true(st.tracked_ips > 3000);
    rate_rules_destroy(ra);
    rate_rules_destroy(rb);
    config_free(&cfg_full);
}

/* Eviction compares both tiers on one scale (recent packets per second): in a 128-slot table
 * 16 addresses are promoted by a burst, then, when they have been quiet for 10 s, 3000
 * one-packet sources churn through: the quiet full entries go first (their records return to
 * the pool), the busy alerting one never does, and the churn itself stays light. */
static void test_rate_rules_tier_eviction_across_tiers(void **state)
{
    (void)state;
    cfg.rules.victim.pps = 500;
    struct rate_rules *r = rules_new(64);
    struct rate_alert a[ALERT_MAX];
    struct rate_rules_stats st;
    char dst[64];
    for (uint32_t i = 0; i < 12; i++) { /* 10 packets in 100 ms each: promoted */
        snprintf(dst, sizeof(dst), "192.0.2.%u", 100 + i);
        struct pkt_info p = pkt("203.0.113.1", dst, IPPROTO_NUM_UDP, 5000, 53, 0);
        spread(r, &p, T0 + i * 1000, 10, 900, false);
    }
    stats(r, &st);
    assert_int_equal(st.full_ips, 13); /* and their source */
    uint64_t t = T0 + 10 * SEC;
    (void)tick_all(r, t, a); /* rolls them: 10 quiet seconds decay their rates */
    char src[64];
    for (uint32_t i = 0; i < 3000; i++) {
        src_of(src, sizeof(src), i, false);
        struct pkt_info p = pkt(src, "192.0.2.31", IPPROTO_NUM_UDP, 5000, 80, 0);
        rate_rules_packet(r, &p, t + i * (SEC / 3000), true);
    }
    stats(r, &st);
    assert_true(st.evictions > 0);
    assert_int_equal(st.evicted_alerting, 0);
    assert_true(st.full_ips < 13);           /* quiet full entries were evicted... */
    assert_int_equal(st.promotions, 13 + 1); /* ...the churn never promoted but the victim */
    assert_true(st.tracked_ips <= st.capacity);
    assert_non_null(find(a, tick_all(r, t + SEC, a), "192.0.2.31", VERDICT_ROLE_VICTIM));
    /* Their records were freed: new promotions do not fail. */
    for (uint32_t i = 0; i < 8; i++) {
        snprintf(dst, sizeof(dst), "198.51.100.%u", 1 + i);
        struct pkt_info p = pkt("203.0.113.2", dst, IPPROTO_NUM_UDP, 5000, 53, 0);
        spread(r, &p, t + SEC + i * 1000, 10, 900, false);
    }
    stats(r, &st);
    assert_int_equal(st.promote_failed, 0);
    rate_rules_destroy(r);
}

/* max_ips 64 gives 16 full records. While all of them are taken by busy addresses, a flood
 * onto a light address is refused promotion (counted) and cannot alert; when the busy ones go
 * quiet the tick demotes them (the pool is tight: fewer than 1/8 free), and the flood is
 * promoted and alerts. Everything idle for a minute expires. */
static void test_rate_rules_tier_full_pool_exhausted(void **state)
{
    (void)state;
    struct rate_rules *r = rules_new(64);
    struct rate_alert a[ALERT_MAX];
    struct rate_rules_stats st;
    stats(r, &st);
    assert_int_equal(st.full_capacity, 16);
    /* 3000 SYN/s onto 192.0.2.70 (6x the syn floor) from one more source, from 1 s on; until
     * 2 s, 15 destinations get 20 packets per sub-window (200/s: promoted, never alerting, and
     * their EWMAs stay over what a light entry holds until 4 s). */
    struct pkt_info syn = pkt("203.0.113.2", "192.0.2.70", IPPROTO_NUM_TCP, 1024, 80, TCP_SYN);
    char dst[64];
    size_t first_alert = 0;
    for (uint32_t sub = 0; sub < 60; sub++) {
        uint64_t t = T0 + sub * (SEC / 10);
        for (uint32_t i = 0; sub < 20 && i < 15; i++) {
            snprintf(dst, sizeof(dst), "192.0.2.%u", 100 + i);
            struct pkt_info p = pkt("203.0.113.1", dst, IPPROTO_NUM_UDP, 5000, 53, 0);
            spread(r, &p, t + i * 1000, 20, 900, false);
        }
        if (sub >= 10)
            spread(r, &syn, t + 20000, 300, SEC / 20, true);
        size_t n = tick_all(r, t + SEC / 10, a);
        if (sub == 19) { /* still busy: nothing could be demoted */
            assert_int_equal(n, 0);
            stats(r, &st);
            assert_int_equal(st.full_ips, 16);
            assert_int_equal(st.promotions, 16);
            assert_true(st.promote_failed > 0);
            assert_int_equal(st.demotions, 0);
            /* While the pool is tight a fragment alone does not try to promote. */
            struct pkt_info frag = pkt("203.0.113.3", "192.0.2.71", IPPROTO_NUM_UDP, 0, 0, 0);
            frag.flags = PKT_F_FRAGMENT;
            uint64_t failed = st.promote_failed;
            rate_rules_packet(r, &frag, t + SEC / 10 - 1, false);
            stats(r, &st);
            assert_int_equal(st.promote_failed, failed);
            assert_int_equal(st.tracked_ips, 20);
        }
        if (!first_alert && find(a, n, "192.0.2.70", VERDICT_ROLE_VICTIM))
            first_alert = sub;
    }
    stats(r, &st);
    assert_true(st.demotions >= 2);
    assert_true(st.full_ips <= 16);
    assert_true(first_alert > 19 && first_alert < 60);
    /* Everything idle for a minute expires. */
    (void)tick_all(r, T0 + 80 * SEC, a);
    (void)tick_all(r, T0 + 90 * SEC, a);
    stats(r, &st);
    assert_int_equal(st.full_ips, 0);
    assert_int_equal(st.tracked_ips, 0);
    rate_rules_destroy(r);
}

/* Idle entries of both tiers expire after a minute however long the gap in packet time before
 * the next tick: the entries keep their latest packet's second in 16 bits, which must not wrap
 * (40,000 s and 65,566 s gaps looked like a packet from the future and 30 s idle). */
static void test_rate_rules_tier_idle_expiry_across_gaps(void **state)
{
    (void)state;
    const uint64_t gaps[] = {30, 61, 40000, 65536 + 30, 200000};
    for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
        struct rate_rules *r = rules_new(4096);
        struct rate_alert a[ALERT_MAX];
        struct rate_rules_stats st;
        struct pkt_info p = pkt("203.0.113.9", "192.0.2.50", IPPROTO_NUM_UDP, 5000, 53, 0);
        spread(r, &p, T0, 7, SEC / 20, false); /* the destination full, the source light */
        stats(r, &st);
        assert_int_equal(st.tracked_ips, 2);
        assert_int_equal(st.full_ips, 1);
        (void)tick_all(r, T0 + SEC, a);
        (void)tick_all(r, T0 + gaps[g] * SEC, a);
        stats(r, &st);
        assert_int_equal(st.tracked_ips, gaps[g] > 60 ? 0 : 2);
        assert_int_equal(st.expired, gaps[g] > 60 ? 2 : 0);
        rate_rules_destroy(r);
    }
}

/* A threshold under 80/s anywhere (here a host group on an unrelated prefix, attacker
 * syn_per_s 50) made 1/8 of it per sub-window truncate to 0: every address was promoted at its
 * first packet, spoofed one-packet sources filled the full records and a real flood was then
 * refused promotion and never alerted. The limit is now the largest count x 10 under the floor
 * (4 SYNs per 100 ms for 50/s): a fifth promotes, a spoofed flood's sources stay light. */
static void test_rate_rules_tier_low_floor_keeps_sources_light(void **state)
{
    (void)state;
    load_rules("{\"rules\": {\"hostgroups\": [{\"name\": \"lab\", \"cidrs\": "
               "[\"203.0.113.0/24\"], \"attacker\": {\"syn_per_s\": 50}}]}}");
    struct rate_rules *r = rules_new(1024);
    struct rate_alert a[ALERT_MAX];
    struct rate_rules_stats st;
    stats(r, &st);
    assert_int_equal(st.full_capacity, 256);
    /* 4 SYNs in one sub-window keep the source light (and the destination: its floor is the
     * global 500/s), the fifth promotes the source only. */
    struct pkt_info p = pkt("198.51.100.200", "192.0.2.200", IPPROTO_NUM_TCP, 1024, 80, TCP_SYN);
    spread(r, &p, T0, 4, SEC / 20, true);
    stats(r, &st);
    assert_int_equal(st.tracked_ips, 2);
    assert_int_equal(st.full_ips, 0);
    rate_rules_packet(r, &p, T0 + SEC / 20, true);
    stats(r, &st);
    assert_int_equal(st.full_ips, 1);

    /* A spoofed SYN flood onto 192.0.2.1 (2000/s, one packet per source) for 6 s, and from 3 s
     * one onto 192.0.2.153 from 20 sources: both alert, no promotion is refused. */
    char src[64];
    uint32_t next_src = 0, alerts_a = 0, alerts_b = 0;
    for (uint32_t sec = 1; sec <= 6; sec++) {
        for (uint32_t i = 0; i < 2000; i++) {
            uint64_t t = T0 + sec * SEC + (uint64_t)i * SEC / 2000;
            src_of(src, sizeof(src), next_src++, false);
            struct pkt_info q = pkt(src, "192.0.2.1", IPPROTO_NUM_TCP, 1024, 80, TCP_SYN);
            rate_rules_packet(r, &q, t, true);
            if (sec >= 4) {
                snprintf(src, sizeof(src), "198.51.100.%u", i % 20);
                q = pkt(src, "192.0.2.153", IPPROTO_NUM_TCP, 1024, 80, TCP_SYN);
                rate_rules_packet(r, &q, t, true);
            }
        }
        for (uint32_t k = 1; k <= 10; k++) {
            size_t n = tick_all(r, T0 + sec * SEC + k * (SEC / 10), a);
            alerts_a += find(a, n, "192.0.2.1", VERDICT_ROLE_VICTIM) != NULL;
            alerts_b += find(a, n, "192.0.2.153", VERDICT_ROLE_VICTIM) != NULL;
        }
    }
    stats(r, &st);
    assert_int_equal(st.promote_failed, 0);
    assert_true(alerts_a >= 5);
    assert_true(alerts_b >= 3);
    rate_rules_destroy(r);
}

/* One flood onto 192.0.2.1 (5000 SYN/s from 20 sources for 5 s), ticked every 100 ms for
 * 100 s, after a first packet at first_us (0: none): its victim alerts and ends. */
static void stray_first_run(uint64_t first_us, uint32_t *alerts, uint32_t *ended,
                            struct rate_rules_stats *st)
{
    struct rate_rules *r = rules_new(4096);
    struct rate_alert a[ALERT_MAX];
    char src[64];
    if (first_us) {
        struct pkt_info p = pkt("1.2.3.4", "5.6.7.8", IPPROTO_NUM_TCP, 1234, 80, TCP_ACK);
        rate_rules_packet(r, &p, first_us, false);
    }
    *alerts = *ended = 0;
    for (uint32_t sec = 0; sec < 100; sec++) {
        for (uint32_t i = 0; sec < 5 && i < 5000; i++) {
            snprintf(src, sizeof(src), "10.0.0.%u", i % 20);
            struct pkt_info p = pkt(src, "192.0.2.1", IPPROTO_NUM_TCP, 1234, 80, TCP_SYN);
            rate_rules_packet(r, &p, T0 + sec * SEC + (uint64_t)i * SEC / 5000, true);
        }
        for (uint32_t k = 1; k <= 10; k++) {
            size_t n = tick_all(r, T0 + sec * SEC + k * (SEC / 10), a);
            for (size_t j = 0; j < n; j++)
                if (a[j].role == VERDICT_ROLE_VICTIM)
                    *(a[j].ended ? ended : alerts) += 1;
        }
    }
    stats(r, st);
    rate_rules_destroy(r);
}

/* A first packet whose time the entries' 32-bit clocks cannot relate to the next ones (1 s
 * after 1970, two days or 20 years later than the rest) set the epoch once, and every later time
 * was clamped into one sub-window: no window closed, the alert never repeated or ended and
 * nothing expired. Now the table re-bases at the first time outside its clocks (counted once)
 * and the flood alerts and ends exactly as without the stray packet. */
static void test_rate_rules_stray_first_timestamp_rebases(void **state)
{
    (void)state;
    struct rate_rules_stats st;
    uint32_t base_alerts, base_ended, alerts, ended;
    stray_first_run(0, &base_alerts, &base_ended, &st);
    assert_true(base_alerts >= 5);
    assert_int_equal(base_ended, 1);
    assert_int_equal(st.clock_resets, 0);
    assert_int_equal(st.tracked_ips, 0);
    const uint64_t firsts[] = {1 * SEC, T0 + 2 * 86400 * SEC, T0 + 20ull * 365 * 86400 * SEC};
    for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++) {
        stray_first_run(firsts[i], &alerts, &ended, &st);
        assert_int_equal(alerts, base_alerts);
        assert_int_equal(ended, 1);
        assert_int_equal(st.clock_resets, 1);
        assert_int_equal(st.tracked_ips, 0);
        assert_int_equal(st.alerting, 0);
    }
    /* A packet a little older than the first (within the day the epoch keeps) is no reset. */
    stray_first_run(T0 + 3600 * SEC, &alerts, &ended, &st);
    assert_int_equal(st.clock_resets, 0);
    assert_int_equal(ended, 1);
}

/* A capture stepping back 120 s in the middle of a conversation: the entries' clocks stay at
 * the newest time while the latest packet's second was set to the older packets', so the tick
 * measured them idle for over a minute and freed both live entries. They stay, and expire a
 * minute after the newest packet time once the conversation stops. */
static void test_rate_rules_step_back_keeps_live_entries(void **state)
{
    (void)state;
    struct rate_rules *r = rules_new(4096);
    struct rate_alert a[ALERT_MAX];
    struct rate_rules_stats st;
    struct pkt_info p = pkt("10.0.0.1", "192.0.2.1", IPPROTO_NUM_TCP, 1234, 80, TCP_ACK);
    for (uint64_t t = T0 + 200 * SEC; t < T0 + 210 * SEC; t += SEC / 10) {
        rate_rules_packet(r, &p, t, false);
        (void)tick_all(r, t, a);
    }
    for (uint64_t t = T0 + 90 * SEC; t < T0 + 100 * SEC; t += SEC / 10) {
        rate_rules_packet(r, &p, t, false);
        (void)tick_all(r, t, a);
    }
    stats(r, &st);
    assert_int_equal(st.expired, 0);
    assert_int_equal(st.tracked_ips, 2);
    (void)tick_all(r, T0 + 260 * SEC, a);
    stats(r, &st);
    assert_int_equal(st.tracked_ips, 2);
    (void)tick_all(r, T0 + 271 * SEC, a);
    stats(r, &st);
    assert_int_equal(st.expired, 2);
    assert_int_equal(st.tracked_ips, 0);
    rate_rules_destroy(r);
}

static void test_rate_rules_create_rejects_zero(void **state)
{
    (void)state;
    assert_null(rate_rules_create(&cfg, 0));
    rate_rules_destroy(NULL);
}

/* Orders alerts by address, role and end flag: two tables with different random seeds emit the
 * same alerts in different slot orders. */
static int alert_cmp(const void *pa, const void *pb)
{
    const struct rate_alert *a = pa, *b = pb;
    int c = memcmp(a->ip, b->ip, 16);
    if (c)
        return c;
    if (a->role != b->role)
        return a->role < b->role ? -1 : 1;
    return (int)a->ended - (int)b->ended;
}

/* rate_rules_packet_burst accounts a mixed stream exactly as rate_rules_packet does packet by
 * packet: same alerts (levels, reasons, every rate) at every tick, same counters. The stream
 * mixes a spoofed SYN flood, a UDP flood from one source, IPv6, fragments, answered traffic and
 * packets of no IP version (skipped), cut into bursts of awkward sizes. */
static void test_rate_rules_burst_equals_per_packet(void **state)
{
    (void)state;
    /* Room for every address: which entry a full probe window evicts depends on the random seed. */
    struct rate_rules *one = rules_new(65536), *burst = rules_new(65536);
    enum { N = 3000 };
    size_t alerts = 0;
    static struct pkt_info ps[N];
    static uint64_t ts[N];
    static uint8_t created[N];
    char src[64];
    for (uint64_t sec = 0; sec < 4; sec++) {
        for (uint32_t i = 0; i < N; i++) {
            struct pkt_info p;
            switch (i % 5) {
            case 0:
            case 1:
                src_of(src, sizeof(src), (uint32_t)(sec * N + i), false);
                p = pkt(src, "192.0.2.10", IPPROTO_NUM_TCP, (uint16_t)(1024 + i), 80, TCP_SYN);
                break;
            case 2:
                p = pkt("198.51.100.7", "192.0.2.20", IPPROTO_NUM_UDP, 4444, 53, 0);
                p.flags |= (i & 8) ? PKT_F_FRAGMENT : 0;
                break;
            case 3:
                src_of(src, sizeof(src), i % 97, true);
                p = pkt(src, "2001:db8::1", IPPROTO_NUM_UDP, 123, 5000, 0);
                break;
            default:
                p = pkt("192.0.2.20", "198.51.100.7", IPPROTO_NUM_TCP, 53, 4444, TCP_ACK);
                if (i % 50 == 4)
                    p.ip_version = 0; /* not IP: both must skip it */
                break;
            }
            ps[i] = p;
            ts[i] = T0 + sec * SEC + (uint64_t)i * SEC / N;
            created[i] = i % 3 != 0;
        }
        for (uint32_t i = 0; i < N; i++)
            rate_rules_packet(one, &ps[i], ts[i], created[i]);
        for (uint32_t i = 0; i < N;) {
            uint32_t m = 1 + (i * 7) % 150; /* 1..150: below, at and above RATE_RULES_BURST */
            if (m > N - i)
                m = N - i;
            rate_rules_packet_burst(burst, &ps[i], &ts[i], &created[i], m);
            i += m;
        }
        struct rate_alert a1[ALERT_MAX], a2[ALERT_MAX];
        size_t n1 = rate_rules_tick(one, T0 + (sec + 1) * SEC, a1, ALERT_MAX, 1u << 20);
        size_t n2 = rate_rules_tick(burst, T0 + (sec + 1) * SEC, a2, ALERT_MAX, 1u << 20);
        assert_int_equal(n1, n2);
        qsort(a1, n1, sizeof(a1[0]), alert_cmp);
        qsort(a2, n2, sizeof(a2[0]), alert_cmp);
        assert_memory_equal(a1, a2, n1 * sizeof(a1[0]));
        alerts += n1;
    }
    assert_int_equal(alerts, 4); /* the SYN flood, once a second: the comparison is not empty */
    struct rate_rules_stats s1, s2;
    rate_rules_stats_get(one, &s1);
    rate_rules_stats_get(burst, &s2);
    assert_memory_equal(&s1, &s2, sizeof(s1));
    rate_rules_destroy(one);
    rate_rules_destroy(burst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rate_rules_syn_flood_alerts_victim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_alert_repeats_once_per_second, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_spoofed_syn_answered_by_syn_acks_fires,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_completed_handshakes_are_not_a_flood, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_icmp_unreachable_burst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_icmp_errors_solicited_do_not_fire, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_ipv6_fragment_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_answered_download_does_not_fire, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_unrequested_reflector_answers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_packets_per_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_tcp_reflection, setup, teardown),
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
        cmocka_unit_test_setup_teardown(test_rate_rules_burst_equals_per_packet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_tier_promotion_at_floor_fraction, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_tier_promotion_carries_pps_bps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_tier_attack_alerts_same_tick, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_tier_eviction_across_tiers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_tier_full_pool_exhausted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_tier_idle_expiry_across_gaps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_tier_low_floor_keeps_sources_light, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_stray_first_timestamp_rebases, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_rules_step_back_keeps_live_entries, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
