/* test_verdict_table.c - unit tests of verdicts/verdict_table.c: model levels and the evidence
 * window, flow counts, rate alerts, reports, the role and attack type of a verdict, whitelists,
 * attack episodes and their events, the episode pool, ttl expiry, eviction, coalesced
 * publication and the fields copied into every verdict; and the judge's safety rules: spoofed
 * sources and reflectors never blamed (counted in the victim's spoofed_sources), a few real
 * sources flagged, ICMP error bursts, half-open/slow connections, protocol-aware attack types,
 * medium never from one flow. Time is the stage clock passed in by the test (packet time), so
 * every scenario is deterministic and runs instantly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/log.h"
#include "verdicts/verdict_table.h"

#define SEC 1000000ull
#define T0  (1700000000ull * SEC)

/* ---- a recording sink ----------------------------------------------------------------------- */

struct ev_rec {
    enum verdict_event_kind kind;
    struct verdict v;
    struct redis_sink_peer peers[REDIS_SINK_PEERS_MAX];
    size_t npeers;
};

static struct {
    struct verdict pub[8192];
    size_t npub;
    struct ev_rec ev[64];
    size_t nev;
    struct verdict exp[256];
    size_t nexp;
} rec;

static void on_verdict(void *user, const struct verdict *v)
{
    (void)user;
    if (rec.npub < DD_ARRAY_LEN(rec.pub))
        rec.pub[rec.npub++] = *v;
}

static void on_event(void *user, enum verdict_event_kind kind, const struct verdict *v,
                     const struct redis_sink_peer *peers, size_t npeers)
{
    (void)user;
    assert_true(npeers <= REDIS_SINK_PEERS_MAX);
    if (rec.nev == DD_ARRAY_LEN(rec.ev))
        return;
    struct ev_rec *e = &rec.ev[rec.nev++];
    e->kind = kind;
    e->v = *v;
    memcpy(e->peers, peers, npeers * sizeof(*peers));
    e->npeers = npeers;
}

static void on_expired(void *user, const struct verdict *v)
{
    (void)user;
    if (rec.nexp < DD_ARRAY_LEN(rec.exp))
        rec.exp[rec.nexp++] = *v;
}

static int reset(void **state)
{
    (void)state;
    memset(&rec, 0, sizeof(rec));
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    log_configure(stderr, LOG_LEVEL_WARN);
    return 0;
}

static struct verdict_table *mk(struct verdict_table_config *cfg)
{
    /* Two attack flows for medium and three for high (the defaults are 3 and 10) keep the
     * evidence lists short. */
    struct verdict_table_config def = {
        .sensor_id = "test", .model_medium_flows = 2, .model_high_flows = 3};
    struct verdict_table_sink sink = {
        .user = NULL, .verdict = on_verdict, .event = on_event, .expired = on_expired};
    struct verdict_table *t = verdict_table_create(cfg ? cfg : &def, &sink);
    assert_non_null(t);
    return t;
}

/* The default thresholds (medium 3, high 10, critical 100 attack flows). */
static struct verdict_table *mk_default(void)
{
    struct verdict_table_config cfg = {.sensor_id = "s"};
    return mk(&cfg);
}

/* ---- evidence builders ------------------------------------------------------------------------
 */

static void addr(uint8_t out[16], uint8_t *ver, const char *text)
{
    struct verdict v;
    memset(&v, 0, sizeof(v));
    assert_int_equal(verdict_ip_parse(text, &v), 0);
    memcpy(out, v.ip, 16);
    *ver = v.ip_version;
}

/* The shape of a flow. The default (zero) is one TCP SYN to port 80 that was never answered by
 * its source: the shape of a spoofed SYN flood's flows. */
enum fl_shape {
    SH_SYN = 0,   /* TCP: one SYN (fwd 1, bwd 0) */
    SH_HS,        /* TCP: a completed handshake with data (fwd 4, bwd 3, SYN/ACK/PSH) */
    SH_UDP,       /* UDP 40000 -> 9999, one-way */
    SH_DNS_REPLY, /* UDP from port 53 to an ephemeral port, one-way (an amplified reply) */
    SH_DNS_QUERY, /* UDP from an ephemeral port to 53, answered */
    SH_ICMP_ERR,  /* ICMP type 3 code 3 */
    SH_STALLED,   /* TCP to 80: handshake, then 6 small pieces of a request (60 bytes), no data
                     back: a slowloris connection */
    SH_ANSWERED,  /* the same, but the server answered with data (an idle keep-alive) */
};

struct fl {
    bool attack;
    float p;
    bool final;
    uint64_t packets;
    const char *family;
    uint64_t new_packets;
    bool later; /* a later report of a flow already reported */
    enum fl_shape shape;
    uint16_t dport; /* 0: the shape's */
    uint64_t age;   /* first packet this long before ts; 0: half a second */
};

static void flow(struct verdict_table *t, const char *src, const char *dst, uint64_t ts,
                 struct fl f)
{
    struct flow_evidence e;
    memset(&e, 0, sizeof(e));
    addr(e.src, &e.ip_version, src);
    addr(e.dst, &e.ip_version, dst);
    e.proto = 6;
    e.sport = 40000;
    e.dport = 80;
    e.fwd_packets = 1;
    e.first_flags = e.flags_seen = 2; /* SYN */
    switch (f.shape) {
    case SH_SYN:
        break;
    case SH_HS:
        e.fwd_packets = 4;
        e.bwd_packets = 3;
        e.flags_seen = 2 | 8 | 16; /* SYN, PSH, ACK */
        break;
    case SH_UDP:
        e.proto = 17;
        e.dport = 9999;
        e.first_flags = e.flags_seen = 0;
        break;
    case SH_DNS_REPLY:
        e.proto = 17;
        e.sport = 53;
        e.dport = 40000;
        e.first_flags = e.flags_seen = 0;
        break;
    case SH_DNS_QUERY:
        e.proto = 17;
        e.dport = 53;
        e.bwd_packets = 1;
        e.first_flags = e.flags_seen = 0;
        break;
    case SH_STALLED:
    case SH_ANSWERED:
        e.fwd_packets = 8;
        e.bwd_packets = 7;
        e.flags_seen = 2 | 8 | 16;
        e.fwd_payload = 60;
        e.bwd_payload = f.shape == SH_ANSWERED ? 900 : 0;
        break;
    case SH_ICMP_ERR:
        e.proto = 1;
        e.sport = e.dport = 0;
        e.first_flags = e.flags_seen = 0;
        e.icmp_type = 3;
        e.icmp_code = 3;
        break;
    }
    if (f.dport)
        e.dport = f.dport;
    e.final = f.final;
    e.is_attack = f.attack;
    e.p_attack = f.p;
    e.packets = f.packets ? f.packets : 10;
    e.bytes = e.packets * 60;
    e.new_packets = f.new_packets;
    e.first_report = !f.later; /* a distinct flow unless the test says otherwise */
    e.new_bytes = f.new_packets * 100;
    snprintf(e.attack_type, sizeof(e.attack_type), "%s", f.family ? f.family : "");
    e.first_us = ts - (f.age ? f.age : SEC / 2);
    e.last_us = ts;
    verdict_table_flow(t, &e);
}

#define ATTACK(fam) ((struct fl){.attack = true, .p = 0.9f, .final = true, .family = (fam)})
#define BENIGN      ((struct fl){.attack = false, .p = 0.1f, .final = true})
#define ATTACK_SHAPED(fam, sh)                                                                     \
    ((struct fl){.attack = true, .p = 0.9f, .final = true, .family = (fam), .shape = (sh)})
#define BENIGN_SHAPED(sh) ((struct fl){.attack = false, .p = 0.1f, .final = true, .shape = (sh)})
/* A completed web connection of `pk` packets whose first packet was `ag` ago (0: 0.5 s). */
#define SLOW(fam, ag, pk)                                                                          \
    ((struct fl){.attack = true,                                                                   \
                 .p = 0.9f,                                                                        \
                 .final = true,                                                                    \
                 .family = (fam),                                                                  \
                 .shape = SH_HS,                                                                   \
                 .packets = (pk),                                                                  \
                 .age = (ag)})

static void attacks_to(struct verdict_table *t, const char *dst, int n, int src_base, uint64_t ts,
                       const char *fam)
{
    char src[32];
    for (int i = 0; i < n; i++) {
        snprintf(src, sizeof(src), "10.%d.%d.%d", (src_base + i) >> 16 & 0xff,
                 (src_base + i) >> 8 & 0xff, (src_base + i) & 0xff);
        flow(t, src, dst, ts, ATTACK(fam));
    }
}

static struct rate_alert alert(const char *ip, int role, enum threat_level level, uint32_t reasons,
                               uint64_t ts)
{
    struct rate_alert a;
    memset(&a, 0, sizeof(a));
    addr(a.ip, &a.version, ip);
    a.role = (uint8_t)role;
    a.level = (uint8_t)level;
    a.reasons = reasons;
    a.score = 0.7;
    a.pps = 5000;
    a.bps = 4e6;
    a.ts_us = ts;
    return a;
}

/* ---- what came out ----------------------------------------------------------------------------
 */

static bool is_ip(const struct verdict *v, const char *ip)
{
    uint8_t a[16], ver;
    addr(a, &ver, ip);
    return v->ip_version == ver && memcmp(v->ip, a, 16) == 0;
}

static const struct verdict *last_pub(const char *ip)
{
    for (size_t i = rec.npub; i-- > 0;)
        if (is_ip(&rec.pub[i], ip))
            return &rec.pub[i];
    return NULL;
}

static size_t count_pub(const char *ip)
{
    size_t n = 0;
    for (size_t i = 0; i < rec.npub; i++)
        n += is_ip(&rec.pub[i], ip);
    return n;
}

static const struct ev_rec *find_ev(const char *ip, enum verdict_event_kind kind)
{
    for (size_t i = 0; i < rec.nev; i++)
        if (rec.ev[i].kind == kind && is_ip(&rec.ev[i].v, ip))
            return &rec.ev[i];
    return NULL;
}

static size_t count_ev(enum verdict_event_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < rec.nev; i++)
        n += rec.ev[i].kind == kind;
    return n;
}

static bool expired_ip(const char *ip)
{
    for (size_t i = 0; i < rec.nexp; i++)
        if (is_ip(&rec.exp[i], ip))
            return true;
    return false;
}

static const struct verdict *must_pub(const char *ip)
{
    const struct verdict *v = last_pub(ip);
    if (!v)
        fail_msg("no verdict published for %s", ip);
    return v;
}

/* ---- model levels ------------------------------------------------------------------------------
 */

static void test_verdict_table_model_levels(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    const char *d = "192.0.2.1";
    /* One attack flow is never medium (it used to be). */
    attacks_to(t, d, 1, 1, T0, "syn_flood");
    verdict_table_tick(t, T0, 0);
    const struct verdict *v = must_pub(d);
    assert_int_equal(v->level, THREAT_LOW);
    assert_int_equal(v->reasons, 0);
    assert_string_equal(v->attack_type, "");
    /* Its source sent one unanswered SYN: nothing is known about it, it gets no entry (it used
     * to be an attacker at medium). */
    assert_null(last_pub("10.0.0.1"));

    attacks_to(t, d, 1, 2, T0, "syn_flood");
    verdict_table_tick(t, T0, 0);
    v = must_pub(d);
    assert_int_equal(v->level, THREAT_MEDIUM); /* 2 flows (mk's medium), < 3 */
    assert_int_equal(v->role, VERDICT_ROLE_VICTIM);
    assert_int_equal(v->reasons,
                     VERDICT_REASON_MODEL | VERDICT_REASON_SPOOFED | VERDICT_REASON_HALF_OPEN);
    assert_string_equal(v->attack_type, "syn_flood");
    assert_float_equal(v->score, 0.9, 1e-6);
    assert_int_equal(v->spoofed_sources, 2);
    attacks_to(t, d, 1, 3, T0, "syn_flood");
    verdict_table_tick(t, T0, 0);
    assert_int_equal(must_pub(d)->level, THREAT_HIGH);
    attacks_to(t, d, 96, 4, T0 + SEC, "syn_flood");
    verdict_table_tick(t, T0 + SEC, 0);
    assert_int_equal(must_pub(d)->level, THREAT_HIGH); /* 99 < 100 */
    attacks_to(t, d, 1, 100, T0 + SEC, "syn_flood");
    verdict_table_tick(t, T0 + SEC, 0);
    assert_int_equal(must_pub(d)->level, THREAT_CRITICAL);

    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.flows_in, 100);
    assert_int_equal(st.ips, 1); /* 100 one-SYN sources: no entries (they had 100 at medium) */
    assert_int_equal(st.unjudged_sources, 100);
    assert_int_equal(st.by_level[THREAT_CRITICAL], 1);
    assert_int_equal(st.by_level[THREAT_MEDIUM], 0);
    verdict_table_destroy(t);
    verdict_table_destroy(NULL);
}

/* A busy server with a few flows the model misjudges stays low (it was medium: one attack flow
 * was enough); the share of attack flows decides. */
static void test_verdict_table_busy_benign_server_stays_low(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    const char *d = "192.0.2.2";
    char src[32];
    for (int i = 0; i < 100; i++) {
        snprintf(src, sizeof(src), "10.1.0.%d", i);
        flow(t, src, d, T0, BENIGN);
    }
    attacks_to(t, d, 3, 500, T0, "syn_flood");
    verdict_table_tick(t, T0, 0);
    const struct verdict *v = must_pub(d);
    assert_int_equal(v->level, THREAT_LOW);
    assert_int_equal(v->flows_total, 103);
    assert_int_equal(v->flows_attack, 3);

    /* A lower fraction makes the same evidence high. */
    struct verdict_table_config cfg = {
        .sensor_id = "s", .model_high_flows = 3, .model_min_fraction = 0.02};
    struct verdict_table *t2 = mk(&cfg);
    for (int i = 0; i < 100; i++) {
        snprintf(src, sizeof(src), "10.1.0.%d", i);
        flow(t2, src, d, T0, BENIGN);
    }
    attacks_to(t2, d, 3, 500, T0, "syn_flood");
    verdict_table_tick(t2, T0, 0);
    assert_int_equal(must_pub(d)->level, THREAT_HIGH);
    verdict_table_destroy(t2);

    /* A flood among much benign traffic: 300 benign flows and 99 attack flows (25 %) stay low;
     * the 100th attack flow (at critical's count, 25 % share) makes it high. */
    struct verdict_table *t3 = mk_default();
    const char *d3 = "192.0.2.3";
    for (int i = 0; i < 300; i++) {
        snprintf(src, sizeof(src), "10.2.%d.%d", i / 200, i % 200);
        flow(t3, src, d3, T0, BENIGN);
    }
    for (int i = 0; i < 99; i++) { /* UDP: no half-open connections */
        snprintf(src, sizeof(src), "10.3.%d.%d", i / 200, i % 200);
        flow(t3, src, d3, T0, ATTACK_SHAPED("udp_flood", SH_UDP));
    }
    verdict_table_tick(t3, T0, 0);
    assert_int_equal(must_pub(d3)->level, THREAT_LOW);
    flow(t3, "10.4.0.1", d3, T0, ATTACK_SHAPED("udp_flood", SH_UDP));
    verdict_table_tick(t3, T0, 0);
    assert_int_equal(must_pub(d3)->level, THREAT_HIGH);
    verdict_table_destroy(t3);
    verdict_table_destroy(t);
}

static void test_verdict_table_heavy_flow_alone_is_high(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    flow(t, "10.2.0.1", "192.0.2.3", T0,
         (struct fl){.attack = true, .p = 0.99f, .final = false, .packets = 5000});
    /* just below either bound: medium */
    flow(t, "10.2.0.2", "192.0.2.4", T0,
         (struct fl){.attack = true, .p = 0.9f, .final = false, .packets = 5000});
    flow(t, "10.2.0.3", "192.0.2.5", T0,
         (struct fl){.attack = true, .p = 0.99f, .final = false, .packets = 999});
    /* a single flood flow scored first at 5 packets, then as snapshots: once heavy, both its
     * ends are high (the source's one flow hits a victim that is high) */
    struct fl young = {.attack = true, .p = 0.99f, .final = false, .packets = 5, .shape = SH_UDP};
    flow(t, "10.2.0.9", "192.0.2.9", T0, young);
    young.later = true;
    young.packets = 4000;
    flow(t, "10.2.0.9", "192.0.2.9", T0, young);
    /* heavy but benign (under the evidence bar too): low */
    flow(t, "10.2.0.4", "192.0.2.6", T0,
         (struct fl){.attack = false, .p = 0.3f, .final = false, .packets = 5000});
    verdict_table_tick(t, T0, 0);
    assert_int_equal(must_pub("192.0.2.3")->level, THREAT_HIGH);
    assert_int_equal(must_pub("10.2.0.1")->level, THREAT_HIGH); /* a concentrated sender */
    assert_int_equal(must_pub("192.0.2.9")->level, THREAT_HIGH);
    assert_int_equal(must_pub("10.2.0.9")->level, THREAT_HIGH);
    /* one flow that is not heavy: low (it was medium) */
    assert_int_equal(must_pub("192.0.2.4")->level, THREAT_LOW);
    assert_int_equal(must_pub("192.0.2.5")->level, THREAT_LOW);
    assert_int_equal(must_pub("192.0.2.6")->level, THREAT_LOW);
    assert_string_equal(must_pub("192.0.2.6")->attack_type, "");
    verdict_table_destroy(t);
}

/* Flows the model scores under its own (strict, per-flow) threshold but at or above the judge's
 * evidence bar count as attack evidence for aggregate levels; under the bar, or with the bar
 * raised above 1 (the model's decision only), they do not. */
static void test_verdict_table_evidence_threshold(void **state)
{
    (void)state;
    struct verdict_table_config deflt = {.sensor_id = "s"};
    struct verdict_table_config strict = {.sensor_id = "s", .evidence_p = 1.5};
    struct verdict_table_config *cfgs[2] = {&deflt, &strict};
    for (int k = 0; k < 2; k++) {
        memset(&rec, 0, sizeof(rec));
        struct verdict_table *t = mk(cfgs[k]);
        char src[32];
        for (int i = 0; i < 12; i++) { /* 12 half-open flows from 12 sources, p 0.7: "benign" */
            snprintf(src, sizeof(src), "198.51.100.%d", 10 + i);
            flow(t, src, "192.0.2.50", T0,
                 (struct fl){.attack = false, .p = 0.7f, .final = true, .packets = 2});
        }
        for (int i = 0; i < 12; i++) { /* the same under the bar: never evidence */
            snprintf(src, sizeof(src), "198.51.100.%d", 10 + i);
            flow(t, src, "192.0.2.51", T0,
                 (struct fl){.attack = false, .p = 0.45f, .final = true, .packets = 2});
        }
        verdict_table_tick(t, T0, 0);
        assert_int_equal(must_pub("192.0.2.50")->level, k == 0 ? THREAT_HIGH : THREAT_LOW);
        if (k == 0)
            assert_string_equal(must_pub("192.0.2.50")->attack_type, "syn_flood");
        assert_int_equal(must_pub("192.0.2.51")->level, THREAT_LOW);
        verdict_table_destroy(t);
    }
}

static void test_verdict_table_window_slides_back_down(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    const char *d = "192.0.2.7";
    attacks_to(t, d, 3, 1, T0, "syn_flood");
    verdict_table_tick(t, T0, 0);
    assert_int_equal(must_pub(d)->level, THREAT_HIGH);
    size_t n = count_pub(d);
    verdict_table_tick(t, T0 + 5 * SEC, 0);
    verdict_table_tick(t, T0 + 9 * SEC, 0);
    assert_int_equal(count_pub(d), n); /* nothing changed yet */
    /* new evidence two seconds later keeps part of the window alive */
    attacks_to(t, d, 2, 10, T0 + 2 * SEC, "syn_flood");
    verdict_table_tick(t, T0 + 9 * SEC, 0); /* 5 attack reports in the window */
    verdict_table_tick(t, T0 + 10 * SEC + SEC / 2, 0);
    const struct verdict *v = must_pub(d);
    assert_int_equal(v->level, THREAT_MEDIUM); /* the first 3 left, the other 2 are still in */
    verdict_table_tick(t, T0 + 20 * SEC, 0);
    v = must_pub(d);
    assert_int_equal(v->level, THREAT_LOW);
    assert_int_equal(v->reasons, 0);
    assert_string_equal(v->attack_type, "");
    assert_true(v->score == 0);
    assert_int_equal(v->flows_attack, 5); /* counts stay while the verdict lives */
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.by_level[THREAT_HIGH], 0);
    verdict_table_destroy(t);
}

static void test_verdict_table_flow_counts_at_final_reports_only(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    const char *d = "192.0.2.8";
    struct fl snap = {.attack = true, .p = 0.8f, .final = false};
    flow(t, "10.3.0.1", d, T0, snap);
    flow(t, "10.3.0.1", d, T0, snap);
    flow(t, "10.3.0.1", d, T0, ATTACK("syn_flood"));
    flow(t, "10.3.0.2", d, T0, BENIGN);
    verdict_table_tick(t, T0, 0);
    const struct verdict *v = must_pub(d);
    assert_int_equal(v->flows_total, 2);
    assert_int_equal(v->flows_attack, 1);
    /* the snapshots still count as attack evidence: 3 attack reports of 4 */
    assert_int_equal(v->level, THREAT_HIGH);
    v = must_pub("10.3.0.1");
    assert_int_equal(v->flows_total, 1);
    assert_int_equal(v->flows_attack, 1);
    verdict_table_destroy(t);
}

/* Without a rate alert, pps and bps come from the scored flows' new packets: over the time since
 * the role's first evidence (at least 1 s), at most over the 10 s window. */
static void test_verdict_table_pps_estimated_from_flows(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    const char *d = "192.0.2.9";
    struct fl f = {.attack = true, .p = 0.9f, .final = false, .new_packets = 1000};
    /* first evidence at T0 - 0.5 s (the flow's first packet); four reports over 2 s */
    for (int i = 0; i < 4; i++)
        flow(t, "10.4.0.1", d, T0 + (uint64_t)i * SEC / 2, f);
    verdict_table_tick(t, T0 + 3 * SEC / 2, 0);
    const struct verdict *v = must_pub(d);
    /* 4000 packets over 2 s (T0 - 0.5 s .. T0 + 1.5 s) */
    assert_true(v->pps > 1999.0 && v->pps < 2001.0);
    assert_true(v->bps > 4000.0 * 100 * 8 / 2 - 1 && v->bps < 4000.0 * 100 * 8 / 2 + 1);
    /* long after: the window has slid past every report */
    flow(t, "10.4.0.2", "192.0.2.99", T0 + 30 * SEC, BENIGN);
    verdict_table_tick(t, T0 + 30 * SEC, 0);
    v = last_pub(d);
    assert_non_null(v);
    assert_true(v->pps == 0.0);
    verdict_table_destroy(t);
}

/* By default high takes ten attack flows in the window: a browser's six parallel connections
 * that the model misjudges stay medium. */
static void test_verdict_table_default_high_takes_ten_flows(void **state)
{
    (void)state;
    struct verdict_table_config cfg = {.sensor_id = "s"};
    struct verdict_table *t = mk(&cfg);
    const char *d = "192.0.2.12";
    attacks_to(t, d, 6, 100, T0, "http_flood");
    verdict_table_tick(t, T0, 0);
    assert_int_equal(must_pub(d)->level, THREAT_MEDIUM);
    attacks_to(t, d, 4, 200, T0, "http_flood");
    verdict_table_tick(t, T0, 0);
    assert_int_equal(must_pub(d)->level, THREAT_HIGH);
    verdict_table_destroy(t);
}

/* One flow's snapshots and end are one attack flow, not three: medium, not high. */
static void test_verdict_table_one_flow_reports_count_once(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    const char *d = "192.0.2.11";
    struct fl first = {.attack = true, .p = 0.87f, .final = false, .family = "tcp_reflection"};
    struct fl again = first;
    again.later = true;
    struct fl end = again;
    end.final = true;
    flow(t, "192.168.1.6", d, T0, first);
    flow(t, "192.168.1.6", d, T0 + SEC, again);
    flow(t, "192.168.1.6", d, T0 + 2 * SEC, end);
    verdict_table_tick(t, T0 + 2 * SEC, 0);
    assert_int_equal(must_pub(d)->level, THREAT_LOW); /* one flow: low (it was medium) */
    assert_int_equal(must_pub(d)->flows_total, 1);
    /* two more attack flows make three: high */
    flow(t, "192.168.1.7", d, T0 + 2 * SEC, ATTACK("tcp_reflection"));
    flow(t, "192.168.1.8", d, T0 + 2 * SEC, ATTACK("tcp_reflection"));
    verdict_table_tick(t, T0 + 2 * SEC, 0);
    assert_int_equal(must_pub(d)->level, THREAT_HIGH);
    verdict_table_destroy(t);
}

/* A flow report that arrives long after its last packet (an idle timeout, a flush at shutdown)
 * is counted, but its old packets no longer raise the level. */
static void test_verdict_table_stale_evidence_counts_without_weight(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    const char *d = "192.0.2.10";
    for (int i = 0; i < 5; i++) {
        struct flow_evidence e;
        memset(&e, 0, sizeof(e));
        addr(e.src, &e.ip_version, "10.5.0.1");
        addr(e.dst, &e.ip_version, d);
        e.proto = 17;
        e.final = 1;
        e.is_attack = 1;
        e.p_attack = 0.99f;
        e.packets = e.new_packets = 5000; /* heavy: would be high at once if fresh */
        snprintf(e.attack_type, sizeof(e.attack_type), "udp_flood");
        e.first_us = T0;
        e.last_us = T0 + SEC;      /* its packets ... */
        e.emit_us = T0 + 61 * SEC; /* ... ended by the idle timeout a minute later */
        verdict_table_flow(t, &e);
    }
    verdict_table_tick(t, T0 + 61 * SEC, 0);
    const struct verdict *v = must_pub(d);
    assert_int_equal(v->flows_total, 5);
    assert_int_equal(v->flows_attack, 5);
    assert_int_equal(v->level, THREAT_LOW);
    assert_null(find_ev(d, VERDICT_EVENT_ATTACK_START));
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.stale, 10); /* both roles of five reports */
    verdict_table_destroy(t);
}

/* ---- rate alerts and reports --------------------------------------------------------------------
 */

static void test_verdict_table_rate_alerts_raise_and_release(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    verdict_table_set_model_version(t, "feedfacecafebeef");
    const char *d = "192.0.2.9";
    struct rate_alert a = alert(d, VERDICT_ROLE_VICTIM, THREAT_HIGH,
                                VERDICT_REASON_RATE_SYN | VERDICT_REASON_RATE_PPS, T0);
    verdict_table_alert(t, &a);
    verdict_table_tick(t, T0, 0);
    const struct verdict *v = must_pub(d);
    assert_int_equal(v->level, THREAT_HIGH);
    assert_int_equal(v->role, VERDICT_ROLE_VICTIM);
    assert_int_equal(v->reasons, VERDICT_REASON_RATE_SYN | VERDICT_REASON_RATE_PPS);
    assert_string_equal(v->attack_type, "syn_flood");
    assert_true(v->pps == 5000);
    assert_true(v->bps == 4e6);
    assert_float_equal(v->score, 0.7, 1e-9);
    assert_string_equal(v->model_version, ""); /* no model evidence */

    /* re-emitted with new rates */
    a.pps = 8000;
    a.ts_us = T0 + SEC;
    verdict_table_alert(t, &a);
    verdict_table_tick(t, T0 + SEC, 0);
    assert_true(must_pub(d)->pps == 8000);

    a.ended = true;
    a.pps = 10;
    a.ts_us = T0 + 2 * SEC;
    verdict_table_alert(t, &a);
    verdict_table_tick(t, T0 + 2 * SEC, 0);
    v = must_pub(d);
    assert_int_equal(v->level, THREAT_LOW);
    assert_int_equal(v->reasons, 0);
    assert_string_equal(v->attack_type, "");

    /* an ended alert for an unknown IP creates nothing */
    struct rate_alert e = alert("192.0.2.99", VERDICT_ROLE_VICTIM, THREAT_HIGH, 0, T0 + 2 * SEC);
    e.ended = true;
    verdict_table_alert(t, &e);
    verdict_table_tick(t, T0 + 2 * SEC, 0);
    assert_null(last_pub("192.0.2.99"));

    /* without a re-emission, an alert holds VERDICT_ALERT_HOLD_US */
    struct rate_alert c =
        alert(d, VERDICT_ROLE_VICTIM, THREAT_CRITICAL, VERDICT_REASON_REFLECTION, T0 + 3 * SEC);
    verdict_table_alert(t, &c);
    verdict_table_tick(t, T0 + 3 * SEC, 0);
    assert_int_equal(must_pub(d)->level, THREAT_CRITICAL);
    verdict_table_tick(t, T0 + 3 * SEC + VERDICT_ALERT_HOLD_US - SEC, 0);
    assert_int_equal(must_pub(d)->level, THREAT_CRITICAL);
    verdict_table_tick(t, T0 + 3 * SEC + VERDICT_ALERT_HOLD_US + SEC, 0);
    v = must_pub(d);
    assert_int_equal(v->level, THREAT_LOW);
    assert_true(v->pps == 0);
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.alerts_in, 5);
    verdict_table_destroy(t);
}

static void test_verdict_table_report_raises_for_its_ttl(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    struct verdict r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(verdict_ip_parse("198.51.100.5", &r), 0);
    r.role = VERDICT_ROLE_ATTACKER;
    r.level = THREAT_HIGH;
    snprintf(r.attack_type, sizeof(r.attack_type), "botnet");
    verdict_table_report(t, &r, T0, 30 * SEC);
    verdict_table_tick(t, T0, 0);
    const struct verdict *v = must_pub("198.51.100.5");
    assert_int_equal(v->level, THREAT_HIGH);
    assert_int_equal(v->role, VERDICT_ROLE_ATTACKER);
    assert_int_equal(v->reasons, VERDICT_REASON_REPORT);
    assert_string_equal(v->attack_type, "botnet");
    assert_int_equal(v->last_seen_us, T0);
    size_t n = count_pub("198.51.100.5");
    verdict_table_tick(t, T0 + 29 * SEC, 0);
    assert_int_equal(count_pub("198.51.100.5"), n);
    verdict_table_tick(t, T0 + 31 * SEC, 0);
    v = must_pub("198.51.100.5");
    assert_int_equal(v->level, THREAT_LOW);
    assert_int_equal(v->reasons, 0);

    /* the model's family wins over the report's attack type (two UDP flows: medium) */
    flow(t, "10.0.0.1", "198.51.100.6", T0 + 32 * SEC, ATTACK_SHAPED("udp_flood", SH_UDP));
    flow(t, "10.0.0.2", "198.51.100.6", T0 + 32 * SEC, ATTACK_SHAPED("udp_flood", SH_UDP));
    r.role = VERDICT_ROLE_VICTIM;
    r.level = THREAT_CRITICAL;
    assert_int_equal(verdict_ip_parse("198.51.100.6", &r), 0);
    verdict_table_report(t, &r, T0 + 32 * SEC, 30 * SEC);
    verdict_table_tick(t, T0 + 32 * SEC, 0);
    v = must_pub("198.51.100.6");
    assert_int_equal(v->level, THREAT_CRITICAL);
    assert_int_equal(v->reasons,
                     VERDICT_REASON_MODEL | VERDICT_REASON_REPORT | VERDICT_REASON_SPOOFED);
    assert_string_equal(v->attack_type, "udp_flood");
    verdict_table_destroy(t);
}

/* ---- roles and attack types ---------------------------------------------------------------------
 */

static void test_verdict_table_role_choice_ties_to_victim(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    const char *x = "10.9.9.9";
    flow(t, x, "192.0.2.21", T0, ATTACK("scan"));
    flow(t, x, "192.0.2.22", T0, ATTACK("scan"));
    flow(t, x, "192.0.2.23", T0, ATTACK("scan"));
    attacks_to(t, x, 3, 1, T0, "syn_flood");
    verdict_table_tick(t, T0, 0);
    const struct verdict *v = must_pub(x);
    assert_int_equal(v->level, THREAT_HIGH);
    assert_int_equal(v->role, VERDICT_ROLE_VICTIM);
    assert_string_equal(v->attack_type, "syn_flood"); /* the victim role's fields */

    /* Spraying one flow each at 100 addresses concentrates on no victim: a scanner or a
     * misjudged client, not blamed (it used to be critical as an attacker), so the victim role
     * of the same IP still speaks for it. */
    char dst[32];
    for (int i = 0; i < 100; i++) {
        snprintf(dst, sizeof(dst), "192.0.3.%d", i);
        flow(t, x, dst, T0 + SEC, ATTACK("scan"));
    }
    verdict_table_tick(t, T0 + SEC, 0);
    v = must_pub(x);
    assert_int_equal(v->role, VERDICT_ROLE_VICTIM);
    assert_int_equal(v->level, THREAT_HIGH);
    /* 110 flows at one victim: that victim is high, the flows count against x (from its
     * second flow to that victim on) and hit it: critical */
    for (int i = 0; i < 110; i++)
        flow(t, x, "192.0.3.200", T0 + 2 * SEC, ATTACK("scan"));
    verdict_table_tick(t, T0 + 2 * SEC, 0);
    v = must_pub(x);
    assert_int_equal(v->level, THREAT_CRITICAL);
    assert_int_equal(v->role, VERDICT_ROLE_ATTACKER);
    /* unanswered SYNs are a SYN flood whatever the model calls them (it was "scan") */
    assert_string_equal(v->attack_type, "syn_flood");
    /* x's first flow came before it had an entry (one SYN proves nothing): 212, not 213 */
    assert_int_equal(v->flows_attack, 212);

    /* an IP only ever seen as a source is an attacker, even at low */
    flow(t, "10.8.8.8", "192.0.2.30", T0 + SEC, BENIGN);
    verdict_table_tick(t, T0 + SEC, 0);
    assert_int_equal(must_pub("10.8.8.8")->role, VERDICT_ROLE_ATTACKER);
    assert_int_equal(must_pub("192.0.2.30")->role, VERDICT_ROLE_VICTIM);
    verdict_table_destroy(t);
}

static void test_verdict_table_attack_type_names(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    /* the most frequent protocol-consistent family */
    attacks_to(t, "192.0.2.40", 2, 1, T0, "syn_flood");
    for (int i = 0; i < 3; i++) {
        char src[32];
        snprintf(src, sizeof(src), "10.0.1.%d", i);
        flow(t, src, "192.0.2.40", T0, ATTACK_SHAPED("udp_flood", SH_UDP));
    }
    verdict_table_tick(t, T0, 0);
    assert_string_equal(must_pub("192.0.2.40")->attack_type, "udp_flood");

    /* Rate evidence names the attack from its reasons and protocol mix (it used to say "ddos",
     * "flow_flood" or "volumetric": outside the vocabulary). */
    struct {
        uint32_t reasons;
        double tcp, udp, icmp, syn, reflector;
        uint8_t fragment_proto;
        const char *name;
    } cases[] = {
        {VERDICT_REASON_RATE_SYN | VERDICT_REASON_RATE_PPS | VERDICT_REASON_REFLECTION, 0, 0, 0, 0,
         0, 0, "syn_flood"},
        {VERDICT_REASON_REFLECTION | VERDICT_REASON_RATE_BPS, 0, 0, 0, 0, 0, 0,
         "udp_amplification"},
        {VERDICT_REASON_ICMP_ERRORS | VERDICT_REASON_RATE_PPS, 0, 0, 9e4, 0, 0, 0, "icmp_flood"},
        {VERDICT_REASON_FRAGMENTS, 0, 5e4, 0, 0, 0, 17, "udp_flood"},
        {VERDICT_REASON_FRAGMENTS, 0, 0, 5e4, 0, 0, 58, "icmp_flood"},
        {VERDICT_REASON_RATE_SOURCES | VERDICT_REASON_RATE_FLOWS, 10, 9e3, 5, 0, 0, 0, "udp_flood"},
        {VERDICT_REASON_RATE_FLOWS | VERDICT_REASON_RATE_PPS, 9e3, 10, 0, 100, 0, 0, "tcp_flood"},
        {VERDICT_REASON_RATE_PPS, 9e3, 10, 0, 8e3, 0, 0, "syn_flood"},
        {VERDICT_REASON_RATE_BPS, 0, 9e3, 0, 0, 8e3, 0, "udp_amplification"},
        {VERDICT_REASON_RATE_PPS, 10, 0, 9e3, 0, 0, 0, "icmp_flood"},
        {VERDICT_REASON_RATE_PPS, 9e3, 0, 0, 0, -1, 0, "tcp_reflection"}, /* -1: SYN-ACKs */
        {VERDICT_REASON_RATE_PPS, 0, 0, 0, 0, 0, 0, ""}, /* nothing to name it by */
    };
    char ip[32];
    for (size_t i = 0; i < DD_ARRAY_LEN(cases); i++) {
        snprintf(ip, sizeof(ip), "192.0.2.%zu", 50 + i);
        struct rate_alert a = alert(ip, VERDICT_ROLE_VICTIM, THREAT_MEDIUM, cases[i].reasons, T0);
        a.tcp_pps = cases[i].tcp;
        a.udp_pps = cases[i].udp;
        a.icmp_pps = cases[i].icmp;
        a.syn_rate = cases[i].syn;
        a.reflector_pps = cases[i].reflector > 0 ? cases[i].reflector : 0;
        if (cases[i].reflector < 0)
            a.syn_ack_unrequested_pps = cases[i].tcp;
        a.fragment_proto = cases[i].fragment_proto;
        verdict_table_alert(t, &a);
    }
    /* Model and rate evidence together: the most frequent family, an alert weighing as much as
     * high takes (3 here). Twelve UDP flood flows beat a SYN-rate alert... */
    for (int i = 0; i < 12; i++) {
        char src[32];
        snprintf(src, sizeof(src), "10.0.2.%d", i);
        flow(t, src, "192.0.2.70", T0, ATTACK_SHAPED("udp_flood", SH_UDP));
    }
    struct rate_alert a =
        alert("192.0.2.70", VERDICT_ROLE_VICTIM, THREAT_HIGH, VERDICT_REASON_RATE_SYN, T0);
    verdict_table_alert(t, &a);
    /* ... two do not */
    for (int i = 0; i < 2; i++) {
        char src[32];
        snprintf(src, sizeof(src), "10.0.3.%d", i);
        flow(t, src, "192.0.2.71", T0, ATTACK_SHAPED("udp_flood", SH_UDP));
    }
    a = alert("192.0.2.71", VERDICT_ROLE_VICTIM, THREAT_HIGH, VERDICT_REASON_RATE_SYN, T0);
    verdict_table_alert(t, &a);
    verdict_table_tick(t, T0, 0);
    for (size_t i = 0; i < DD_ARRAY_LEN(cases); i++) {
        snprintf(ip, sizeof(ip), "192.0.2.%zu", 50 + i);
        assert_string_equal(must_pub(ip)->attack_type, cases[i].name);
    }
    const struct verdict *v = must_pub("192.0.2.70");
    assert_string_equal(v->attack_type, "udp_flood");
    assert_int_equal(v->reasons,
                     VERDICT_REASON_MODEL | VERDICT_REASON_RATE_SYN | VERDICT_REASON_SPOOFED);
    assert_int_equal(v->level, THREAT_HIGH);
    assert_string_equal(must_pub("192.0.2.71")->attack_type, "syn_flood");
    verdict_table_destroy(t);
}

/* Per flow, the family must agree with the protocol evidence: the model's label is replaced
 * when it contradicts it. */
static void test_verdict_table_attack_type_follows_protocol(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    struct {
        struct fl f;
        const char *want;
    } cases[] = {
        {ATTACK_SHAPED("udp_flood", SH_SYN), "syn_flood"},
        {ATTACK_SHAPED("tcp_reflection", SH_SYN), "syn_flood"},
        {ATTACK_SHAPED("http_flood", SH_HS), "http_flood"},
        {SLOW("slow_http", 0, 3), "slow_http"}, /* young: the model's label stands */
        {SLOW("http_flood", 0, 3), "http_flood"},
        {SLOW("slow_http", 5 * SEC, 10), "slow_http"},   /* 2 packets/s over 5 s: slow */
        {SLOW("http_flood", 5 * SEC, 10), "slow_http"},  /* too slow to be a flood */
        {SLOW("slow_http", 5 * SEC, 200), "http_flood"}, /* 40 packets/s: too fast to be slow */
    };
    char dst[32], src[32];
    for (size_t i = 0; i < DD_ARRAY_LEN(cases); i++) {
        snprintf(dst, sizeof(dst), "192.0.2.%zu", 10 + i);
        for (int k = 0; k < 3; k++) {
            snprintf(src, sizeof(src), "10.1.%zu.%d", i, k);
            flow(t, src, dst, T0, cases[i].f);
        }
    }
    /* http_flood on a port that is not a web port is a TCP flood */
    struct fl http = ATTACK_SHAPED("http_flood", SH_HS);
    http.dport = 5432;
    for (int k = 0; k < 3; k++) {
        snprintf(src, sizeof(src), "10.2.0.%d", k);
        flow(t, src, "192.0.2.40", T0, http);
    }
    /* Slow connections look like any request when young (the model said http_flood); each
     * later report that shows their slowness votes slow_http. */
    for (int k = 0; k < 3; k++) {
        snprintf(src, sizeof(src), "10.3.0.%d", k);
        flow(t, src, "192.0.2.41", T0, SLOW("http_flood", 0, 5));
        struct fl late = SLOW("http_flood", 12 * SEC, 7);
        late.later = true;
        late.final = false;
        flow(t, src, "192.0.2.41", T0, late);
        flow(t, src, "192.0.2.41", T0, late);
    }
    verdict_table_tick(t, T0, 0);
    assert_string_equal(must_pub("192.0.2.41")->attack_type, "slow_http");
    for (size_t i = 0; i < DD_ARRAY_LEN(cases); i++) {
        snprintf(dst, sizeof(dst), "192.0.2.%zu", 10 + i);
        const struct verdict *v = must_pub(dst);
        assert_int_equal(v->level, THREAT_HIGH);
        assert_string_equal(v->attack_type, cases[i].want);
    }
    assert_string_equal(must_pub("192.0.2.40")->attack_type, "tcp_flood");
    verdict_table_destroy(t);
}

/* ---- whitelists
 * ---------------------------------------------------------------------------------- */

static void test_verdict_table_whitelist_suppresses_both_roles(void **state)
{
    (void)state;
    struct cidr src, dst;
    char err[128];
    assert_int_equal(cidr_parse("10.0.0.0/8", CIDR_STRICT, &src, err, sizeof(err)), 0);
    assert_int_equal(cidr_parse("192.0.2.0/24", CIDR_STRICT, &dst, err, sizeof(err)), 0);
    struct config_whitelist wl = {.sources = {&src, 1}, .destinations = {&dst, 1}};
    struct verdict_table_config cfg = {
        .sensor_id = "s", .model_medium_flows = 2, .model_high_flows = 3, .whitelist = &wl};
    struct verdict_table *t = mk(&cfg);

    for (int i = 0; i < 3; i++)
        flow(t, "10.1.1.1", "198.51.100.1", T0, ATTACK("syn_flood"));
    for (int i = 0; i < 3; i++)
        flow(t, "203.0.113.1", "192.0.2.5", T0, ATTACK("syn_flood"));
    /* a whitelisted source is still judged as a victim */
    flow(t, "203.0.113.2", "10.1.1.1", T0, ATTACK("syn_flood"));
    flow(t, "203.0.113.3", "10.1.1.1", T0, ATTACK("syn_flood"));
    struct rate_alert a =
        alert("192.0.2.5", VERDICT_ROLE_VICTIM, THREAT_CRITICAL, VERDICT_REASON_RATE_PPS, T0);
    verdict_table_alert(t, &a);
    struct verdict r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(verdict_ip_parse("10.2.2.2", &r), 0);
    r.role = VERDICT_ROLE_ATTACKER;
    r.level = THREAT_HIGH;
    verdict_table_report(t, &r, T0, 0);
    verdict_table_tick(t, T0, 0);

    assert_int_equal(must_pub("198.51.100.1")->level, THREAT_HIGH);
    /* a whitelisted source is not a spoofed one either */
    assert_int_equal(must_pub("198.51.100.1")->spoofed_sources, 0);
    assert_int_equal(must_pub("203.0.113.1")->level, THREAT_HIGH);
    assert_int_equal(must_pub("203.0.113.1")->role, VERDICT_ROLE_ATTACKER);
    assert_null(last_pub("192.0.2.5"));
    assert_null(last_pub("10.2.2.2"));
    const struct verdict *v = must_pub("10.1.1.1");
    assert_int_equal(v->role, VERDICT_ROLE_VICTIM);
    assert_int_equal(v->level, THREAT_MEDIUM);
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.whitelisted, 3 + 3 + 1 + 1);

    /* a reload without whitelists judges them */
    verdict_table_set_whitelist(t, NULL);
    for (int i = 0; i < 3; i++)
        flow(t, "10.1.1.1", "198.51.100.1", T0 + SEC, ATTACK("syn_flood"));
    verdict_table_tick(t, T0 + SEC, 0);
    v = must_pub("10.1.1.1");
    assert_int_equal(v->level, THREAT_HIGH);
    verdict_table_destroy(t);
}

/* ---- episodes
 * -------------------------------------------------------------------------------------- */

static void test_verdict_table_episode_start_end_peaks_peers(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    const char *d = "192.0.2.70";
    const char *pa = "10.4.0.1", *pb = "10.4.0.2", *pc = "10.4.0.3";
    flow(t, pa, d, T0, ATTACK("syn_flood"));
    flow(t, pa, d, T0, ATTACK("syn_flood"));
    flow(t, pa, d, T0, ATTACK("syn_flood")); /* high: the episode starts with this flow */
    verdict_table_tick(t, T0, 0);
    const struct ev_rec *s = find_ev(d, VERDICT_EVENT_ATTACK_START);
    assert_non_null(s);
    assert_int_equal(s->v.role, VERDICT_ROLE_VICTIM);
    assert_int_equal(s->v.level, THREAT_HIGH);
    assert_int_equal(s->v.first_seen_us, T0 - SEC / 2); /* the first attack evidence */
    assert_int_equal(s->npeers, 1);
    assert_int_equal(s->peers[0].flows, 1);
    assert_null(find_ev(d, VERDICT_EVENT_ATTACK_END));
    /* the verdict came before the event */
    assert_non_null(last_pub(d));

    /* Peers are sources the table blames: pb and pc completed handshakes (real addresses); a
     * one-SYN source would be counted among the spoofed sources instead. */
    struct fl snap = {.attack = true, .p = 0.9f, .final = false, .shape = SH_HS};
    flow(t, pc, d, T0 + SEC, snap); /* a running flow lists its peer once ... */
    flow(t, pc, d, T0 + SEC, snap); /* ... and counts nothing more until it ends */
    flow(t, pb, d, T0 + SEC, ATTACK_SHAPED("syn_flood", SH_HS));
    flow(t, pa, d, T0 + SEC, ATTACK("syn_flood"));
    flow(t, pb, d, T0 + SEC, ATTACK_SHAPED("syn_flood", SH_HS));
    flow(t, pa, d, T0 + SEC, ATTACK("syn_flood"));
    struct rate_alert a =
        alert(d, VERDICT_ROLE_VICTIM, THREAT_HIGH, VERDICT_REASON_RATE_SYN, T0 + SEC);
    a.pps = 9000;
    a.bps = 1e7;
    verdict_table_alert(t, &a);
    verdict_table_tick(t, T0 + SEC, 0);
    a.pps = 3000;
    a.bps = 2e6;
    a.ts_us = T0 + 2 * SEC;
    verdict_table_alert(t, &a);
    a.ended = true;
    a.ts_us = T0 + 3 * SEC;
    verdict_table_alert(t, &a);
    verdict_table_tick(t, T0 + 3 * SEC, 0);
    assert_int_equal(count_ev(VERDICT_EVENT_ATTACK_START), 2); /* pa reached high as well */

    /* the window empties after T0 + 11 s; then attack_end (10 s) below high */
    verdict_table_tick(t, T0 + 12 * SEC, 0);
    assert_int_equal(must_pub(d)->level, THREAT_LOW);
    assert_null(find_ev(d, VERDICT_EVENT_ATTACK_END));
    verdict_table_tick(t, T0 + 20 * SEC, 0);
    assert_null(find_ev(d, VERDICT_EVENT_ATTACK_END));
    verdict_table_tick(t, T0 + 23 * SEC, 0);
    const struct ev_rec *e = find_ev(d, VERDICT_EVENT_ATTACK_END);
    assert_non_null(e);
    assert_true(e->v.pps == 9000);
    assert_true(e->v.bps == 1e7);
    assert_int_equal(e->v.first_seen_us, T0 - SEC / 2);
    assert_int_equal(e->v.role, VERDICT_ROLE_VICTIM);
    /* the end names what ended: the episode's peak level and type, not the fallen role's */
    assert_int_equal(e->v.level, THREAT_HIGH);
    assert_string_equal(e->v.attack_type, "syn_flood");
    assert_string_equal(s->v.attack_type, "syn_flood");
    assert_int_equal(e->npeers, 3);
    struct verdict pv;
    memset(&pv, 0, sizeof(pv));
    const char *want[] = {pa, pb, pc};
    uint64_t flows[] = {3, 2, 1};
    for (int i = 0; i < 3; i++) {
        memcpy(pv.ip, e->peers[i].ip, 16);
        pv.ip_version = e->peers[i].ip_version;
        assert_true(is_ip(&pv, want[i]));
        assert_int_equal(e->peers[i].flows, flows[i]);
    }
    /* the attacker's own episode names the victim */
    const struct ev_rec *ae = find_ev(pa, VERDICT_EVENT_ATTACK_END);
    assert_non_null(ae);
    assert_int_equal(ae->v.role, VERDICT_ROLE_ATTACKER);
    assert_int_equal(ae->npeers, 1);
    memcpy(pv.ip, ae->peers[0].ip, 16);
    pv.ip_version = ae->peers[0].ip_version;
    assert_true(is_ip(&pv, d));

    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.episodes_started, 2);
    assert_int_equal(st.episodes_ended, 2);
    assert_int_equal(st.episodes_active, 0);
    verdict_table_destroy(t);
}

static void test_verdict_table_episode_pool_exhaustion_counted(void **state)
{
    (void)state;
    struct verdict_table_config cfg = {.sensor_id = "s", .model_high_flows = 3, .max_episodes = 1};
    struct verdict_table *t = mk(&cfg);
    attacks_to(t, "192.0.2.80", 3, 1, T0, "syn_flood");
    attacks_to(t, "192.0.2.81", 3, 10, T0, "syn_flood");
    verdict_table_tick(t, T0, 0);
    assert_int_equal(must_pub("192.0.2.80")->level, THREAT_HIGH);
    assert_int_equal(must_pub("192.0.2.81")->level, THREAT_HIGH);
    assert_int_equal(count_ev(VERDICT_EVENT_ATTACK_START), 1);
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.episodes_untracked, 1);
    assert_int_equal(st.episodes_active, 2);
    verdict_table_tick(t, T0 + 30 * SEC, 0);
    verdict_table_tick(t, T0 + 60 * SEC, 0);
    assert_int_equal(count_ev(VERDICT_EVENT_ATTACK_END), 1);
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.episodes_active, 0);
    /* the record is free again */
    attacks_to(t, "192.0.2.81", 3, 20, T0 + 61 * SEC, "syn_flood");
    verdict_table_tick(t, T0 + 61 * SEC, 0);
    assert_non_null(find_ev("192.0.2.81", VERDICT_EVENT_ATTACK_START));
    verdict_table_destroy(t);
}

/* ---- expiry, eviction, publication
 * ---------------------------------------------------------------- */

static void test_verdict_table_expiry_after_ttl(void **state)
{
    (void)state;
    struct verdict_table_config cfg = {.sensor_id = "s", .model_high_flows = 3, .ttl_us = 30 * SEC};
    struct verdict_table *t = mk(&cfg);
    flow(t, "10.5.0.1", "192.0.2.90", T0, BENIGN);
    flow(t, "10.5.0.2", "192.0.2.91", T0 + 10 * SEC, BENIGN);
    verdict_table_tick(t, T0 + 10 * SEC, 0);
    assert_int_equal(rec.npub, 4);
    verdict_table_tick(t, T0 + 29 * SEC, 0);
    assert_int_equal(rec.nexp, 0);
    verdict_table_tick(t, T0 + 31 * SEC, 1); /* a budget of one visit */
    verdict_table_tick(t, T0 + 31 * SEC, 1);
    assert_true(rec.nexp >= 1 && rec.nexp <= 2);
    verdict_table_tick(t, T0 + 31 * SEC, 0);
    assert_int_equal(rec.nexp, 2);
    assert_true(expired_ip("10.5.0.1"));
    assert_true(expired_ip("192.0.2.90"));
    assert_false(expired_ip("192.0.2.91"));
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.ips, 2);
    assert_int_equal(st.expired, 2);
    assert_int_equal(st.by_level[THREAT_LOW], 2);
    verdict_table_tick(t, T0 + 41 * SEC, 0);
    assert_int_equal(rec.nexp, 4);
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.ips, 0);

    /* a report holds its IP past the ttl */
    struct verdict r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(verdict_ip_parse("198.51.100.50", &r), 0);
    r.level = THREAT_MEDIUM; /* no episode: the report alone holds it */
    r.role = VERDICT_ROLE_ATTACKER;
    verdict_table_report(t, &r, T0 + 50 * SEC, 100 * SEC);
    verdict_table_tick(t, T0 + 90 * SEC, 0);
    assert_false(expired_ip("198.51.100.50"));
    verdict_table_tick(t, T0 + 151 * SEC, 0);
    verdict_table_tick(t, T0 + 171 * SEC, 0);
    assert_true(expired_ip("198.51.100.50"));
    verdict_table_destroy(t);
}

static void test_verdict_table_eviction_when_full(void **state)
{
    (void)state;
    struct verdict_table_config cfg = {.sensor_id = "s", .model_high_flows = 3, .max_ips = 4};
    struct verdict_table *t = mk(&cfg);
    for (int i = 0; i < 3; i++)
        flow(t, "10.6.0.1", "192.0.2.100", T0, ATTACK("syn_flood"));
    flow(t, "10.6.0.2", "192.0.2.101", T0 + SEC, BENIGN);
    verdict_table_tick(t, T0 + SEC, 0);
    assert_int_equal(rec.npub, 4);
    flow(t, "10.6.0.3", "192.0.2.102", T0 + 2 * SEC, BENIGN);
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.evictions, 2);
    assert_int_equal(st.ips, 4);
    assert_int_equal(rec.nexp, 0); /* announced at the next tick */
    verdict_table_tick(t, T0 + 2 * SEC, 0);
    assert_int_equal(rec.nexp, 2);
    assert_true(expired_ip("10.6.0.2"));
    assert_true(expired_ip("192.0.2.101"));
    assert_int_equal(must_pub("192.0.2.102")->level, THREAT_LOW);
    /* the high ones survived and keep their state */
    for (int i = 0; i < 1; i++)
        flow(t, "10.6.0.1", "192.0.2.100", T0 + 3 * SEC, ATTACK("syn_flood"));
    verdict_table_tick(t, T0 + 3 * SEC, 0);
    assert_int_equal(must_pub("192.0.2.100")->flows_attack, 4);
    /* the source's first SYN came before it had an entry: 3 */
    assert_int_equal(must_pub("10.6.0.1")->flows_attack, 3);
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.by_level[THREAT_HIGH], 2);
    assert_int_equal(st.by_level[THREAT_LOW], 2);
    verdict_table_destroy(t);
}

/* Evicting an IP in an episode ends it (announced) or cancels it (never announced). */
static void test_verdict_table_eviction_ends_episodes(void **state)
{
    (void)state;
    struct verdict_table_config cfg = {.sensor_id = "s", .model_high_flows = 3, .max_ips = 2};
    struct verdict_table *t = mk(&cfg);
    /* four flows: the victim is high at the third, the source at its second flow that hit it */
    for (int i = 0; i < 4; i++)
        flow(t, "10.6.1.1", "192.0.2.104", T0, ATTACK("syn_flood"));
    verdict_table_tick(t, T0, 0);
    assert_int_equal(count_ev(VERDICT_EVENT_ATTACK_START), 2);
    flow(t, "10.6.1.2", "192.0.2.105", T0 + SEC, BENIGN);
    verdict_table_tick(t, T0 + SEC, 0);
    assert_int_equal(count_ev(VERDICT_EVENT_ATTACK_END), 2);
    const struct ev_rec *e = find_ev("192.0.2.104", VERDICT_EVENT_ATTACK_END);
    assert_non_null(e);
    assert_int_equal(e->npeers, 1);
    assert_true(expired_ip("192.0.2.104"));
    assert_true(expired_ip("10.6.1.1"));
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.episodes_active, 0);
    assert_int_equal(st.evictions, 2);

    /* started and evicted before any tick: no events at all */
    for (int i = 0; i < 3; i++)
        flow(t, "10.6.1.3", "192.0.2.106", T0 + 2 * SEC, ATTACK("syn_flood"));
    flow(t, "10.6.1.4", "192.0.2.107", T0 + 2 * SEC, BENIGN);
    verdict_table_tick(t, T0 + 2 * SEC, 0);
    assert_int_equal(count_ev(VERDICT_EVENT_ATTACK_START), 2);
    assert_int_equal(count_ev(VERDICT_EVENT_ATTACK_END), 2);
    assert_false(expired_ip("192.0.2.106")); /* never published: nothing to take back */
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.episodes_active, 0);
    assert_int_equal(st.ips, 2);
    verdict_table_destroy(t);
}

static void test_verdict_table_coalesces_publications(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    const char *d = "192.0.2.110";
    for (int i = 0; i < 50; i++)
        flow(t, "10.7.0.1", d, T0 + (uint64_t)i * 1000,
             (struct fl){.attack = true, .p = 0.5f + i * 0.01f, .final = false});
    assert_int_equal(rec.npub, 0); /* evidence never publishes */
    verdict_table_tick(t, T0 + SEC / 2, 0);
    assert_int_equal(count_pub(d), 1);
    assert_int_equal(count_pub("10.7.0.1"), 1);
    assert_float_equal(must_pub(d)->score, 0.99, 1e-6);
    verdict_table_tick(t, T0 + SEC / 2, 0);
    verdict_table_tick(t, T0 + SEC / 2 + 1000, 0);
    assert_int_equal(rec.npub, 2);
    /* the same evidence again changes nothing worth publishing */
    flow(t, "10.7.0.1", d, T0 + SEC / 2, (struct fl){.attack = true, .p = 0.5f, .final = false});
    verdict_table_tick(t, T0 + SEC / 2, 0);
    assert_int_equal(rec.npub, 2);
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.published, 2);
    assert_int_equal(st.flows_in, 51);
    verdict_table_destroy(t);
}

static void count_one(void *user, const struct verdict *v)
{
    size_t *n = user;
    assert_string_equal(v->sensor, "edge-1");
    (*n)++;
}

static void test_verdict_table_copies_model_version_and_sensor(void **state)
{
    (void)state;
    struct verdict_table_config cfg = {.sensor_id = "edge-1", .model_high_flows = 3};
    struct verdict_table *t = mk(&cfg);
    verdict_table_set_model_version(t, "0123456789abcdef");
    flow(t, "10.8.0.1", "192.0.2.122", T0, BENIGN);
    struct rate_alert a =
        alert("192.0.2.120", VERDICT_ROLE_VICTIM, THREAT_MEDIUM, VERDICT_REASON_RATE_PPS, T0);
    verdict_table_alert(t, &a);
    verdict_table_tick(t, T0, 0);
    const struct verdict *v = must_pub("10.8.0.1");
    assert_string_equal(v->model_version, "0123456789abcdef");
    assert_string_equal(v->sensor, "edge-1");
    v = must_pub("192.0.2.120");
    assert_string_equal(v->model_version, "");
    assert_string_equal(v->sensor, "edge-1");
    verdict_table_set_model_version(t, "");
    flow(t, "10.8.0.1", "192.0.2.121", T0, ATTACK("syn_flood"));
    verdict_table_tick(t, T0, 0);
    assert_string_equal(must_pub("192.0.2.121")->model_version, "");
    size_t n = 0;
    verdict_table_foreach(t, count_one, &n);
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(n, st.ips);
    assert_int_equal(verdict_table_now(t), T0);
    verdict_table_tick(t, T0 - SEC, 0); /* never backwards */
    assert_int_equal(verdict_table_now(t), T0);
    verdict_table_destroy(t);
}

static void test_verdict_table_ipv6_entries(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    for (int i = 0; i < 3; i++)
        flow(t, "2001:db8:1::1", "2001:db8:2::1", T0, ATTACK("syn_flood"));
    flow(t, "1.2.3.4", "10.0.0.1", T0, BENIGN);
    verdict_table_tick(t, T0, 0);
    const struct verdict *v = must_pub("2001:db8:2::1");
    assert_int_equal(v->ip_version, 6);
    assert_int_equal(v->level, THREAT_HIGH);
    assert_int_equal(must_pub("1.2.3.4")->level, THREAT_LOW);
    assert_null(last_pub("102:304::")); /* same bytes, other family: a different IP */
    verdict_table_destroy(t);
}

/* ---- the judge's safety rules (default thresholds) ---------------------------------------------
 */

/* True when no published verdict of any IP but `except` is above low. */
static bool none_above_low_but(const char *except)
{
    for (size_t i = 0; i < rec.npub; i++)
        if (rec.pub[i].level > THREAT_LOW && !is_ip(&rec.pub[i], except))
            return false;
    return true;
}

/* A SYN flood from 2000 spoofed sources, one SYN each, that the model calls udp_flood: the
 * victim is critical and typed syn_flood, its verdict counts and samples the spoofed sources,
 * and no source is blamed (none even gets an entry). */
static void test_verdict_table_spoofed_syn_flood(void **state)
{
    (void)state;
    struct verdict_table *t = mk_default();
    const char *d = "198.51.100.80";
    char src[32];
    for (int i = 0; i < 2000; i++) {
        /* scattered addresses, as a flood tool draws them */
        uint32_t x = (uint32_t)i * 2654435761u;
        snprintf(src, sizeof(src), "%u.%u.%u.%u", 11 + (x >> 24) % 200, (x >> 16) & 0xff,
                 (x >> 8) & 0xff, 1 + (x & 0x7f));
        flow(t, src, d, T0 + (uint64_t)i * 1000, ATTACK_SHAPED("udp_flood", SH_SYN));
    }
    verdict_table_tick(t, T0 + 2 * SEC, 0);
    const struct verdict *v = must_pub(d);
    assert_int_equal(v->level, THREAT_CRITICAL);
    assert_int_equal(v->role, VERDICT_ROLE_VICTIM);
    assert_string_equal(v->attack_type, "syn_flood");
    assert_true(v->reasons & VERDICT_REASON_SPOOFED);
    assert_true(v->reasons & VERDICT_REASON_HALF_OPEN);
    /* ~6.5 % standard error with 256 registers: allow 4 sigma */
    assert_true(v->spoofed_sources >= 1500 && v->spoofed_sources <= 2500);
    unsigned used = 0;
    for (unsigned k = 0; k < VERDICT_SPOOFED_EXAMPLES; k++) {
        if (!v->spoofed_example_ver[k])
            continue;
        used++;
        assert_int_equal(v->spoofed_example_ver[k], 4);
        /* each example is one of the flood's sources: first octet 11..210 */
        assert_true(v->spoofed_example[k][0] >= 11 && v->spoofed_example[k][0] <= 210);
        if (k > 0) /* distinct, in address order */
            assert_true(memcmp(v->spoofed_example[k - 1], v->spoofed_example[k], 16) < 0);
    }
    assert_int_equal(used, VERDICT_SPOOFED_EXAMPLES);
    assert_true(none_above_low_but(d));
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.ips, 1);
    assert_int_equal(st.unjudged_sources, 2000);
    /* the episode names no attacker */
    const struct ev_rec *e = find_ev(d, VERDICT_EVENT_ATTACK_START);
    assert_non_null(e);
    assert_int_equal(e->npeers, 0);
    assert_string_equal(e->v.attack_type, "syn_flood");
    /* the tally goes with the attack: once the window is empty and the episode over */
    verdict_table_tick(t, T0 + 40 * SEC, 0);
    v = must_pub(d);
    assert_int_equal(v->level, THREAT_LOW);
    assert_true(v->spoofed_sources > 0); /* the episode is still open: its end reports them */
    verdict_table_tick(t, T0 + 55 * SEC, 0);
    e = find_ev(d, VERDICT_EVENT_ATTACK_END);
    assert_non_null(e);
    assert_true(e->v.spoofed_sources >= 1200);
    verdict_table_tick(t, T0 + 56 * SEC, 0);
    assert_int_equal(must_pub(d)->spoofed_sources, 0);
    verdict_table_destroy(t);
}

/* A SYN flood from three real sources, each sending its own stream: each is flagged (high), and
 * the victim's spoofed tally does not name them. */
static void test_verdict_table_three_real_sources_flagged(void **state)
{
    (void)state;
    struct verdict_table *t = mk_default();
    const char *d = "198.51.100.81";
    const char *srcs[] = {"203.0.113.1", "203.0.113.2", "203.0.113.3"};
    for (int i = 0; i < 40; i++)
        for (int k = 0; k < 3; k++)
            flow(t, srcs[k], d, T0 + (uint64_t)i * 10000, ATTACK("syn_flood"));
    verdict_table_tick(t, T0 + SEC, 0);
    for (int k = 0; k < 3; k++) {
        const struct verdict *v = must_pub(srcs[k]);
        assert_int_equal(v->role, VERDICT_ROLE_ATTACKER);
        assert_int_equal(v->level, THREAT_HIGH);
        assert_string_equal(v->attack_type, "syn_flood");
    }
    const struct verdict *v = must_pub(d);
    assert_int_equal(v->level, THREAT_CRITICAL); /* 120 attack flows */
    assert_int_equal(v->spoofed_sources, 0);
    for (unsigned k = 0; k < VERDICT_SPOOFED_EXAMPLES; k++)
        assert_int_equal(v->spoofed_example_ver[k], 0);
    assert_false(v->reasons & VERDICT_REASON_SPOOFED);
    /* the victim's episode names its attackers */
    const struct ev_rec *e = find_ev(d, VERDICT_EVENT_ATTACK_START);
    assert_non_null(e);
    assert_true(e->npeers >= 1);
    verdict_table_destroy(t);
}

/* BlackNurse: a 100 ms burst of ICMP destination-unreachable at ~87k packets/s. The rate rules'
 * burst alert makes the victim high at once; the error flows (replies, even when the model
 * calls them attacks) blame nobody; nothing but icmp_flood is ever named. */
static void test_verdict_table_icmp_unreachable_burst(void **state)
{
    (void)state;
    struct verdict_table *t = mk_default();
    const char *d = "198.51.100.82", *s = "203.0.113.20";
    for (int i = 0; i < 20; i++)
        flow(t, s, d, T0 + (uint64_t)i * 5000, ATTACK_SHAPED("udp_flood", SH_ICMP_ERR));
    verdict_table_tick(t, T0 + SEC / 10, 0);
    assert_int_equal(must_pub(d)->level, THREAT_LOW); /* error flows alone: no evidence */
    struct rate_alert a =
        alert(d, VERDICT_ROLE_VICTIM, THREAT_HIGH,
              VERDICT_REASON_ICMP_ERRORS | VERDICT_REASON_RATE_PPS, T0 + SEC / 10);
    a.burst = 1;
    a.pps = a.icmp_pps = a.icmp_error_pps = 87000;
    verdict_table_alert(t, &a);
    verdict_table_tick(t, T0 + SEC / 10, 0);
    const struct verdict *v = must_pub(d);
    assert_int_equal(v->level, THREAT_HIGH);
    assert_true(v->reasons & VERDICT_REASON_ICMP_ERRORS);
    assert_string_equal(v->attack_type, "icmp_flood");
    assert_null(last_pub(s)); /* the errors' source: never even an entry */
    for (size_t i = 0; i < rec.npub; i++)
        assert_true(rec.pub[i].attack_type[0] == '\0' ||
                    strcmp(rec.pub[i].attack_type, "icmp_flood") == 0);
    const struct ev_rec *e = find_ev(d, VERDICT_EVENT_ATTACK_START);
    assert_non_null(e);
    assert_string_equal(e->v.attack_type, "icmp_flood");
    assert_true(e->v.pps == 87000);
    verdict_table_destroy(t);
}

/* A benign host resolving names: 300 short UDP flows to three resolvers (answered), of which
 * the model misjudges 8. Nobody leaves low. */
static void test_verdict_table_benign_udp_host_stays_low(void **state)
{
    (void)state;
    struct verdict_table *t = mk_default();
    const char *h = "192.168.1.10";
    const char *resolvers[] = {"192.168.1.1", "9.9.9.9", "1.1.1.1"};
    for (int i = 0; i < 300; i++) {
        struct fl f = BENIGN_SHAPED(SH_DNS_QUERY);
        if (i % 37 == 5)
            f = ATTACK_SHAPED("udp_flood", SH_DNS_QUERY);
        flow(t, h, resolvers[i % 3], T0 + (uint64_t)i * 25000, f);
    }
    verdict_table_tick(t, T0 + 8 * SEC, 0);
    assert_true(none_above_low_but(NULL));
    assert_int_equal(must_pub(h)->flows_attack, 8); /* misjudged, and still low */
    verdict_table_destroy(t);
}

/* Slowloris: one client holds 30 slow connections to a web server that is busy with 300 benign
 * clients (the attack is a small share of its flows). The victim is high (half-open/slow
 * connections), typed slow_http; the client completed its handshakes, is concentrated, and is
 * flagged too. */
/* Slowloris the model calls benign (p 0.03): 30 connections that trickled a request for 20 s and
 * never got a byte back make the victim high as slow_http from the connections' shape alone;
 * the same connections answered by the server (idle keep-alives), or younger than 5 s, do not. */
static void test_verdict_table_stalled_requests(void **state)
{
    (void)state;
    struct verdict_table *t = mk_default();
    char src[32];
    for (int i = 0; i < 30; i++) {
        snprintf(src, sizeof(src), "203.0.113.%d", 1 + i);
        struct fl f = {.p = 0.03f, .final = false, .packets = 15, .age = 20 * SEC};
        f.shape = SH_STALLED;
        flow(t, src, "192.0.2.80", T0, f);
        f.shape = SH_ANSWERED;
        flow(t, src, "192.0.2.81", T0, f);
        f.shape = SH_STALLED;
        f.age = 3 * SEC;
        flow(t, src, "192.0.2.82", T0, f);
    }
    verdict_table_tick(t, T0, 0);
    const struct verdict *v = must_pub("192.0.2.80");
    assert_int_equal(v->level, THREAT_HIGH);
    assert_string_equal(v->attack_type, "slow_http");
    assert_true(v->reasons & VERDICT_REASON_HALF_OPEN);
    assert_int_equal(must_pub("192.0.2.81")->level, THREAT_LOW);
    assert_int_equal(must_pub("192.0.2.82")->level, THREAT_LOW);
    verdict_table_destroy(t);
}

static void test_verdict_table_slowloris_victim_high(void **state)
{
    (void)state;
    struct verdict_table *t = mk_default();
    const char *d = "198.51.100.83", *a = "203.0.113.30";
    char src[32];
    for (int i = 0; i < 300; i++) {
        snprintf(src, sizeof(src), "10.20.%d.%d", i / 250, 1 + i % 250);
        flow(t, src, d, T0 + (uint64_t)i * 10000, BENIGN_SHAPED(SH_HS));
    }
    struct fl slow = {.attack = true,
                      .p = 0.8f,
                      .final = false,
                      .family = "slow_http",
                      .shape = SH_HS,
                      .packets = 4}; /* 8 packets/s: slow */
    for (int i = 0; i < 30; i++)
        flow(t, a, d, T0 + (uint64_t)i * 20000, slow);
    verdict_table_tick(t, T0 + SEC, 0);
    const struct verdict *v = must_pub(d);
    assert_int_equal(v->level, THREAT_HIGH);
    assert_string_equal(v->attack_type, "slow_http");
    assert_true(v->reasons & VERDICT_REASON_HALF_OPEN);
    v = must_pub(a);
    assert_int_equal(v->level, THREAT_HIGH);
    assert_string_equal(v->attack_type, "slow_http");
    /* below the half-open bound (20) and the share, the same server stays low */
    const char *d2 = "198.51.100.84";
    for (int i = 0; i < 300; i++) {
        snprintf(src, sizeof(src), "10.21.%d.%d", i / 250, 1 + i % 250);
        flow(t, src, d2, T0 + SEC + (uint64_t)i * 1000, BENIGN_SHAPED(SH_HS));
    }
    for (int i = 0; i < 19; i++) {
        snprintf(src, sizeof(src), "203.0.114.%d", i);
        flow(t, src, d2, T0 + SEC, slow);
    }
    verdict_table_tick(t, T0 + SEC, 0);
    assert_int_equal(must_pub(d2)->level, THREAT_LOW);
    verdict_table_destroy(t);
}

/* DNS amplification from 50 reflectors (replies from port 53 nobody asked for, some heavy): the
 * victim is high, typed udp_amplification, and counts the reflectors; no reflector leaves low,
 * not even one the table already knew. */
static void test_verdict_table_dns_amplification_reflectors_low(void **state)
{
    (void)state;
    struct verdict_table *t = mk_default();
    const char *d = "198.51.100.85";
    char src[32];
    flow(t, "192.0.2.200", "10.30.0.1", T0, BENIGN); /* a known reflector */
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 50; i++) {
            snprintf(src, sizeof(src), "192.0.2.%d", 200 + i % 50);
            struct fl f = ATTACK_SHAPED("udp_flood", SH_DNS_REPLY);
            f.p = 0.99f;
            f.packets = i % 10 == 0 ? 5000 : 20; /* some reflectors send a lot */
            flow(t, src, d, T0 + (uint64_t)(r * 50 + i) * 5000, f);
        }
    verdict_table_tick(t, T0 + SEC, 0);
    const struct verdict *v = must_pub(d);
    assert_true(v->level >= THREAT_HIGH);
    assert_string_equal(v->attack_type, "udp_amplification");
    assert_true(v->reasons & VERDICT_REASON_REFLECTION);
    assert_true(v->spoofed_sources >= 30 && v->spoofed_sources <= 75);
    assert_true(none_above_low_but(d));
    assert_int_equal(must_pub("192.0.2.200")->level, THREAT_LOW);
    verdict_table_destroy(t);
}

/* One attack flow is never medium, whoever sends it: a proven source (a completed handshake),
 * two flows of it neither; three are. */
static void test_verdict_table_one_attack_flow_never_medium(void **state)
{
    (void)state;
    struct verdict_table *t = mk_default();
    const char *a = "203.0.113.40", *d = "198.51.100.86";
    flow(t, a, d, T0, ATTACK_SHAPED("http_flood", SH_HS));
    verdict_table_tick(t, T0, 0);
    assert_int_equal(must_pub(a)->level, THREAT_LOW);
    assert_int_equal(must_pub(d)->level, THREAT_LOW);
    assert_int_equal(must_pub(d)->reasons, 0);
    flow(t, a, d, T0, ATTACK_SHAPED("http_flood", SH_HS));
    verdict_table_tick(t, T0, 0);
    assert_int_equal(must_pub(a)->level, THREAT_LOW);
    flow(t, a, d, T0, ATTACK_SHAPED("http_flood", SH_HS));
    verdict_table_tick(t, T0, 0);
    assert_int_equal(must_pub(a)->level, THREAT_MEDIUM);
    assert_int_equal(must_pub(d)->level, THREAT_MEDIUM);
    assert_string_equal(must_pub(d)->attack_type, "http_flood");
    verdict_table_destroy(t);
}

/* Multicast and broadcast destinations are groups, not victims: a heavy multicast stream the
 * model misjudges blames neither its sender nor the group, and a rate alert for a group is
 * ignored (counted with the whitelisted). */
static void test_verdict_table_group_destinations_blame_nobody(void **state)
{
    (void)state;
    struct verdict_table *t = mk_default();
    struct fl f = {.attack = true, .p = 0.99f, .final = true, .packets = 5000, .shape = SH_UDP};
    for (int i = 0; i < 20; i++)
        flow(t, "10.40.0.1", "239.1.2.3", T0, f);
    flow(t, "fe80::1", "ff02::1", T0, f);
    struct rate_alert a =
        alert("255.255.255.255", VERDICT_ROLE_VICTIM, THREAT_HIGH, VERDICT_REASON_RATE_PPS, T0);
    verdict_table_alert(t, &a);
    verdict_table_tick(t, T0, 0);
    assert_true(none_above_low_but(NULL));
    assert_null(last_pub("255.255.255.255"));
    /* the same stream to a unicast host is a heavy flood */
    flow(t, "10.40.0.1", "10.40.0.2", T0, f);
    verdict_table_tick(t, T0, 0);
    assert_int_equal(must_pub("10.40.0.2")->level, THREAT_HIGH);
    verdict_table_destroy(t);
}

/* A flood spoofed from a small pool (300 addresses, 10 SYNs each): each address repeats, yet
 * none is more than a sliver of its victim's attack. The victim is critical; no address leaves
 * low (by count alone each would have been high). */
static void test_verdict_table_pool_spoofed_flood(void **state)
{
    (void)state;
    struct verdict_table *t = mk_default();
    const char *d = "198.51.100.87";
    char src[32];
    for (int r = 0; r < 10; r++)
        for (int i = 0; i < 300; i++) {
            snprintf(src, sizeof(src), "198.18.%d.%d", i / 200, 1 + i % 200);
            flow(t, src, d, T0 + (uint64_t)(r * 300 + i) * 200, ATTACK("syn_flood"));
        }
    verdict_table_tick(t, T0 + SEC, 0);
    const struct verdict *v = must_pub(d);
    assert_int_equal(v->level, THREAT_CRITICAL);
    assert_true(v->spoofed_sources >= 240 && v->spoofed_sources <= 360);
    assert_true(none_above_low_but(d));
    verdict_table_destroy(t);
}

/* Carpet bombing: 200 pool addresses spray UDP at 50 hosts of one network, three rounds. Each
 * host is critical; each address sent 150 flows, but only 3 to any host, a sliver of that host's
 * 600: nobody is blamed. */
static void test_verdict_table_carpet_bombing_blames_nobody(void **state)
{
    (void)state;
    struct verdict_table *t = mk_default();
    char src[32], dst[32];
    uint64_t ts = T0;
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 200; i++)
            for (int h = 0; h < 50; h++) {
                snprintf(src, sizeof(src), "198.18.16.%d", 1 + i);
                snprintf(dst, sizeof(dst), "10.20.5.%d", 1 + h);
                flow(t, src, dst, ts, ATTACK_SHAPED("udp_flood", SH_UDP));
                ts += 50;
            }
    verdict_table_tick(t, ts, 0);
    for (int h = 0; h < 50; h++) {
        snprintf(dst, sizeof(dst), "10.20.5.%d", 1 + h);
        const struct verdict *v = must_pub(dst);
        assert_int_equal(v->level, THREAT_CRITICAL);
        assert_string_equal(v->attack_type, "udp_flood");
    }
    for (int i = 0; i < 200; i++) {
        snprintf(src, sizeof(src), "198.18.16.%d", 1 + i);
        const struct verdict *v = last_pub(src);
        assert_true(v == NULL || v->level == THREAT_LOW);
    }
    verdict_table_destroy(t);
}

/* HTTP flood requests look like any other while young: the model calls the connections benign
 * at their first report and attacks at their end. The victim counts them at their ends. */
static void test_verdict_table_flows_judged_at_their_end(void **state)
{
    (void)state;
    struct verdict_table *t = mk_default();
    const char *d = "198.51.100.88";
    char src[32];
    for (int i = 0; i < 12; i++) {
        snprintf(src, sizeof(src), "203.0.113.%d", 100 + i);
        struct fl young = BENIGN_SHAPED(SH_HS);
        young.final = false;
        flow(t, src, d, T0, young);
    }
    verdict_table_tick(t, T0, 0);
    assert_int_equal(must_pub(d)->level, THREAT_LOW);
    for (int i = 0; i < 12; i++) {
        snprintf(src, sizeof(src), "203.0.113.%d", 100 + i);
        struct fl end = ATTACK_SHAPED("http_flood", SH_HS);
        end.later = true;
        flow(t, src, d, T0 + SEC / 2, end);
    }
    verdict_table_tick(t, T0 + SEC / 2, 0);
    const struct verdict *v = must_pub(d);
    assert_int_equal(v->level, THREAT_HIGH);
    assert_string_equal(v->attack_type, "http_flood"); /* the ends vote for their family */
    verdict_table_destroy(t);
}

/* ---- compact records (memory): the verdicts are those of whole roles --------------------------
 */

/* A benign-only role is kept in a light record with narrow per-second counters; a role whose
 * counts outgrow them is made whole with the exact counts (light_promoted). A victim with 300
 * benign flows in one second (over a light bucket's 255) stays low when 60 attack flows come:
 * their share of 360 flows is under half; a light record that had kept only 300 mod 256 = 44 of
 * them would make it high (60 of 104). */
static void test_verdict_table_light_overflow_keeps_exact_counts(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    const char *d = "192.0.2.150";
    char src[32];
    for (int i = 0; i < 300; i++) {
        snprintf(src, sizeof(src), "10.15.%d.%d", i >> 8, i & 0xff);
        flow(t, src, d, T0 + (uint64_t)i * 1000, BENIGN_SHAPED(SH_HS));
    }
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.light_promoted, 1); /* the victim; each source sent one flow */
    verdict_table_tick(t, T0 + SEC / 2, 0);
    assert_int_equal(must_pub(d)->flows_total, 300);
    /* Attack flows known only at their end (not first reports): counted among the victim's
     * ends (300 benign + 60 attack), whose share decides when it exceeds the first reports'. */
    for (int i = 0; i < 60; i++) {
        snprintf(src, sizeof(src), "10.16.0.%d", i);
        flow(t, src, d, T0 + SEC / 2 + (uint64_t)i * 1000,
             (struct fl){.attack = true, .p = 0.9f, .final = true, .later = true, .shape = SH_UDP});
    }
    verdict_table_tick(t, T0 + SEC / 2 + SEC / 10, 0);
    const struct verdict *v = must_pub(d);
    assert_int_equal(v->level, THREAT_LOW);
    assert_int_equal(v->flows_total, 360);
    assert_int_equal(v->flows_attack, 60);
    verdict_table_destroy(t);
}

/* Packets and bytes of one second over a light bucket's 16 bits, and seen times hours apart:
 * the published rates and times are exact. */
static void test_verdict_table_light_overflow_keeps_exact_rates_and_times(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    /* one snapshot of 70,000 new packets (7,000,000 bytes) half a second old: over 1 s */
    flow(t, "10.17.0.1", "192.0.2.151", T0,
         (struct fl){
             .attack = false, .p = 0.1f, .final = false, .new_packets = 70000, .shape = SH_HS});
    /* a flow that began two hours ago (2^32 us is 71 minutes) */
    flow(t, "10.17.0.2", "192.0.2.152", T0,
         (struct fl){.attack = false, .p = 0.1f, .final = true, .shape = SH_HS, .age = 7200 * SEC});
    /* and one that fits: stays light */
    flow(t, "10.17.0.3", "192.0.2.153", T0, BENIGN_SHAPED(SH_HS));
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.light_promoted, 4); /* both roles of each of the first two flows */
    verdict_table_tick(t, T0, 0);
    const struct verdict *v = must_pub("192.0.2.151");
    assert_true(v->pps == 70000.0);
    assert_true(v->bps == 7000000.0 * 8);
    assert_true(must_pub("10.17.0.1")->pps == 70000.0);
    v = must_pub("192.0.2.152");
    assert_int_equal(v->first_seen_us, T0 - 7200 * SEC);
    assert_int_equal(v->last_seen_us, T0);
    assert_int_equal(must_pub("10.17.0.2")->first_seen_us, T0 - 7200 * SEC);
    v = must_pub("10.17.0.3");
    assert_int_equal(v->first_seen_us, T0 - SEC / 2);
    assert_int_equal(v->last_seen_us, T0);
    assert_int_equal(v->flows_total, 1);
    /* the promoted roles go on counting */
    flow(t, "10.17.0.1", "192.0.2.151", T0 + SEC / 2,
         (struct fl){.attack = false,
                     .p = 0.1f,
                     .final = true,
                     .later = true,
                     .new_packets = 10000,
                     .shape = SH_HS});
    verdict_table_tick(t, T0 + SEC / 2, 0);
    v = must_pub("192.0.2.151");
    assert_true(v->pps == 80000.0);
    assert_int_equal(v->flows_total, 1);
    verdict_table_destroy(t);
}

/* What an IP published last is kept in the entry while it fits (a low verdict) and moves into
 * the entry's extension record when the entry needs one (a timer): the move loses nothing, so
 * an unchanged verdict is not published again (only its last_seen moved, and the ttl/4
 * refresh is far). */
static void test_verdict_table_published_state_moves_exactly(void **state)
{
    (void)state;
    struct verdict_table_config cfg = {
        .sensor_id = "s", .model_medium_flows = 2, .model_high_flows = 3, .ttl_us = 400 * SEC};
    struct verdict_table *t = mk(&cfg);
    const char *d = "192.0.2.160";
    struct fl snap = {.attack = false, .p = 0.1f, .final = false, .shape = SH_HS};
    flow(t, "10.18.0.1", d, T0, snap);
    verdict_table_tick(t, T0, 0);
    assert_int_equal(count_pub(d), 1);
    /* one attack snapshot: still low, nothing published changes, but the victim now has a
     * timer (the attack report leaves its window at T0 + 11 s) */
    snap.attack = true;
    snap.p = 0.9f;
    snap.later = true;
    flow(t, "10.18.0.1", d, T0 + SEC, snap);
    verdict_table_tick(t, T0 + SEC, 0);
    verdict_table_tick(t, T0 + 12 * SEC, 0);
    assert_int_equal(count_pub(d), 1);
    /* a changed verdict is still published, with its new fields */
    for (int i = 0; i < 3; i++)
        flow(t, "10.18.0.2", d, T0 + 13 * SEC, ATTACK_SHAPED("tcp_flood", SH_HS));
    verdict_table_tick(t, T0 + 13 * SEC, 0);
    assert_int_equal(count_pub(d), 2);
    const struct verdict *v = must_pub(d);
    assert_int_equal(v->level, THREAT_HIGH);
    assert_int_equal(v->flows_attack, 3);
    assert_string_equal(v->attack_type, "tcp_flood");
    verdict_table_destroy(t);
}

struct pps_of {
    const char *ip;
    double pps;
    int found;
};

static void find_pps(void *user, const struct verdict *v)
{
    struct pps_of *q = user;
    if (is_ip(v, q->ip)) {
        q->pps = v->pps;
        q->found++;
    }
}

/* The verdict's pps of `ip` as the table judges it now. */
static double pps_now(struct verdict_table *t, const char *ip)
{
    struct pps_of q = {.ip = ip};
    verdict_table_foreach(t, find_pps, &q);
    assert_int_equal(q.found, 1);
    return q.pps;
}

/* A light role's window slides as a whole role's does: its rates count the seconds still in
 * the window (read from the light record, which is never rolled by a judgement). */
static void test_verdict_table_light_window_slides(void **state)
{
    (void)state;
    struct verdict_table *t = mk(NULL);
    const char *s = "10.20.0.1";
    struct fl f = {.attack = false, .p = 0.1f, .final = false, .shape = SH_HS};
    /* 100, 200 and 400 new packets in three consecutive seconds; first packet at T0 - 0.5 s */
    f.new_packets = 100;
    flow(t, s, "192.0.2.170", T0, f);
    f.later = true;
    f.new_packets = 200;
    flow(t, s, "192.0.2.170", T0 + SEC, f);
    f.new_packets = 400;
    flow(t, s, "192.0.2.170", T0 + 2 * SEC, f);
    verdict_table_tick(t, T0 + 2 * SEC, 0);
    assert_true(must_pub(s)->pps == 700.0 / 2.5);
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.light_promoted, 0);
    verdict_table_tick(t, T0 + 9 * SEC + SEC / 2, 0);
    assert_true(pps_now(t, s) == 700.0 / 10);
    verdict_table_tick(t, T0 + 10 * SEC + SEC / 2, 0); /* T0's second has left */
    assert_true(pps_now(t, s) == 600.0 / 10);
    verdict_table_tick(t, T0 + 11 * SEC, 0);
    assert_true(pps_now(t, s) == 400.0 / 10);
    verdict_table_tick(t, T0 + 12 * SEC, 0);
    assert_true(pps_now(t, s) == 0.0);
    /* new evidence in a later second starts from an empty window */
    f.new_packets = 50;
    flow(t, s, "192.0.2.170", T0 + 13 * SEC, f);
    verdict_table_tick(t, T0 + 13 * SEC, 0);
    assert_true(must_pub(s)->pps == 50.0 / 10);
    verdict_table_destroy(t);
}

/* Every entry can hold an extension record at once (the pool has one per entry), and records
 * go back to the pool with their entries: a full table of IPs with timers, evicted by new
 * ones with timers, keeps judging. */
static void test_verdict_table_extension_records_follow_entries(void **state)
{
    (void)state;
    struct verdict_table_config cfg = {.sensor_id = "s", .model_high_flows = 3, .max_ips = 4};
    struct verdict_table *t = mk(&cfg);
    char src[32], dst[32];
    for (int round = 0; round < 5; round++) {
        uint64_t ts = T0 + (uint64_t)round * SEC;
        for (int i = 0; i < 2; i++) {
            /* a source with a handshake (an entry) attacking its own victim: both with timers */
            snprintf(src, sizeof(src), "10.19.%d.%d", round, i);
            snprintf(dst, sizeof(dst), "192.0.%d.%d", 3 + round, i);
            flow(t, src, dst, ts, ATTACK_SHAPED("tcp_flood", SH_HS));
        }
        verdict_table_tick(t, ts, 0);
    }
    struct verdict_table_stats st;
    verdict_table_stats_get(t, &st);
    assert_int_equal(st.ips, 4);
    assert_int_equal(st.evictions, 16);
    assert_int_equal(st.published, 20);
    /* the last round's IPs are judged in full */
    for (int i = 0; i < 3; i++)
        flow(t, "10.19.4.0", "192.0.7.0", T0 + 5 * SEC, ATTACK_SHAPED("tcp_flood", SH_HS));
    verdict_table_tick(t, T0 + 5 * SEC, 0);
    assert_int_equal(must_pub("192.0.7.0")->level, THREAT_HIGH);
    assert_int_equal(must_pub("192.0.7.0")->flows_attack, 4);
    /* their timers still fire: the window slides back to low */
    verdict_table_tick(t, T0 + 30 * SEC, 0);
    assert_int_equal(must_pub("192.0.7.0")->level, THREAT_LOW);
    verdict_table_destroy(t);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, reset)
    const struct CMUnitTest tests[] = {
        T(test_verdict_table_model_levels),
        T(test_verdict_table_busy_benign_server_stays_low),
        T(test_verdict_table_heavy_flow_alone_is_high),
        T(test_verdict_table_evidence_threshold),
        T(test_verdict_table_window_slides_back_down),
        T(test_verdict_table_flow_counts_at_final_reports_only),
        T(test_verdict_table_pps_estimated_from_flows),
        T(test_verdict_table_stale_evidence_counts_without_weight),
        T(test_verdict_table_one_flow_reports_count_once),
        T(test_verdict_table_default_high_takes_ten_flows),
        T(test_verdict_table_rate_alerts_raise_and_release),
        T(test_verdict_table_report_raises_for_its_ttl),
        T(test_verdict_table_role_choice_ties_to_victim),
        T(test_verdict_table_attack_type_names),
        T(test_verdict_table_attack_type_follows_protocol),
        T(test_verdict_table_whitelist_suppresses_both_roles),
        T(test_verdict_table_episode_start_end_peaks_peers),
        T(test_verdict_table_episode_pool_exhaustion_counted),
        T(test_verdict_table_expiry_after_ttl),
        T(test_verdict_table_eviction_when_full),
        T(test_verdict_table_eviction_ends_episodes),
        T(test_verdict_table_coalesces_publications),
        T(test_verdict_table_copies_model_version_and_sensor),
        T(test_verdict_table_ipv6_entries),
        T(test_verdict_table_spoofed_syn_flood),
        T(test_verdict_table_three_real_sources_flagged),
        T(test_verdict_table_icmp_unreachable_burst),
        T(test_verdict_table_benign_udp_host_stays_low),
        T(test_verdict_table_slowloris_victim_high),
        T(test_verdict_table_stalled_requests),
        T(test_verdict_table_dns_amplification_reflectors_low),
        T(test_verdict_table_one_attack_flow_never_medium),
        T(test_verdict_table_group_destinations_blame_nobody),
        T(test_verdict_table_pool_spoofed_flood),
        T(test_verdict_table_carpet_bombing_blames_nobody),
        T(test_verdict_table_flows_judged_at_their_end),
        T(test_verdict_table_light_overflow_keeps_exact_counts),
        T(test_verdict_table_light_overflow_keeps_exact_rates_and_times),
        T(test_verdict_table_published_state_moves_exactly),
        T(test_verdict_table_extension_records_follow_entries),
        T(test_verdict_table_light_window_slides),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
