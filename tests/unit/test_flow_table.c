/* test_flow_table.c - unit tests for features/flow_table.c: keys, hashing, lifecycle counters,
 * eviction, bounded expiry, flush order, configuration checks and determinism.
 *
 * Packets are struct pkt_info values (the decoder's output) with explicit microsecond times.
 * Ended flows are recorded by the on_end callback with their feature vectors, so whole emitted
 * sequences can be compared between tables. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "features/feature_set.h"
#include "features/flow.h"
#include "features/flow_table.h"

#include "flow_test_util.h"

/* ---- packets ---------------------------------------------------------------------------- */

/* This file's packets (built with flow_test_util.h): TCP with window 1024 and a 20-byte header,
 * ICMP with 56 bytes of payload, the payload captured as it is. */

static struct pkt_info tcp_pkt(int ipv, const char *src, uint16_t sport, const char *dst,
                               uint16_t dport, uint8_t flags, uint32_t payload)
{
    return pkt_tcp(ipv, src, sport, dst, dport, flags, 1024, 20, payload, payload);
}

static struct pkt_info udp_pkt(int ipv, const char *src, uint16_t sport, const char *dst,
                               uint16_t dport, uint32_t payload)
{
    return pkt_udp(ipv, src, sport, dst, dport, payload, payload);
}

static struct pkt_info icmp_pkt(int ipv, const char *src, const char *dst, uint8_t type,
                                uint16_t id)
{
    return pkt_icmp(ipv, src, dst, type, 0, id, 56);
}

/* Reverses a packet's direction. */
static struct pkt_info pkt_reverse(struct pkt_info p)
{
    struct pkt_info r = p;
    memcpy(r.src, p.dst, 16);
    memcpy(r.dst, p.src, 16);
    r.sport = p.dport;
    r.dport = p.sport;
    return r;
}

/* A UDP packet of flow number i (distinct client 10.x.y.z, same server). */
static struct pkt_info udp_flow_pkt(uint32_t i)
{
    char src[32];
    snprintf(src, sizeof(src), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    return udp_pkt(4, src, 40000, "192.0.2.1", 53, 40);
}

/* ---- ended flows ------------------------------------------------------------------------ */

struct rec {
    struct flow_key key;
    uint8_t src[16]; /* forward source address */
    uint8_t fwd_ep;
    enum flow_end why;
    uint64_t first_ts, last_ts;
    uint32_t packets;
    double v[FEAT_COUNT];
};

struct sink {
    struct rec *r;
    size_t n, cap;
};

static void sink_on_end(void *user, const struct flow *f, enum flow_end why)
{
    struct sink *s = user;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->r = realloc(s->r, s->cap * sizeof(*s->r));
        assert_non_null(s->r);
    }
    struct rec *r = &s->r[s->n++];
    memset(r, 0, sizeof(*r));
    r->key = f->key;
    memcpy(r->src, flow_src_addr(f), 16);
    r->fwd_ep = f->fwd_ep;
    r->why = why;
    r->first_ts = f->first_ts;
    r->last_ts = f->last_ts;
    r->packets = flow_packets(f);
    flow_features_compute(f, r->v);
}

static void sink_reset(struct sink *s)
{
    free(s->r);
    memset(s, 0, sizeof(*s));
}

static size_t sink_count(const struct sink *s, enum flow_end why)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->r[i].why == why;
    return n;
}

static struct flow_table *table_new(enum feat_mode mode, uint32_t capacity, uint64_t seed,
                                    struct sink *s)
{
    struct flow_table_config c;
    config_for(&c, mode, capacity, seed);
    memset(s, 0, sizeof(*s));
    struct flow_table *t = flow_table_create(&c, sink_on_end, s);
    assert_non_null(t);
    return t;
}

static bool addr_is(const uint8_t *addr, const char *text)
{
    uint8_t want[16] = {0};
    assert_int_equal(inet_pton(strchr(text, ':') ? AF_INET6 : AF_INET, text, want), 1);
    return memcmp(addr, want, 16) == 0;
}

/* ---- keys and hashing ------------------------------------------------------------------- */

/* Both directions of a conversation build the same canonical key (and hash), and from_ep tells
 * them apart; endpoint 0 is the smaller address, or the smaller port when addresses are equal. */
static void test_flow_table_key_canonical(void **state)
{
    const struct pkt_info pkts[] = {
        tcp_pkt(4, "192.168.10.5", 54865, "104.16.207.165", 443, TCP_SYN, 0),
        udp_pkt(4, "10.0.0.1", 5000, "10.0.0.1", 53, 10), /* same address: ports decide */
        tcp_pkt(6, "2001:db8::2", 80, "2001:db8::1", 40000, TCP_ACK, 0),
        icmp_pkt(4, "10.0.0.9", "10.0.0.3", 8, 77),
        icmp_pkt(6, "fe80::1", "2001:db8::1", 128, 5),
    };
    const enum feat_mode modes[] = {FEAT_MODE_FIXED, FEAT_MODE_CIC};
    for (size_t m = 0; m < 2; m++) {
        for (size_t i = 0; i < sizeof(pkts) / sizeof(pkts[0]); i++) {
            struct flow_key k1, k2;
            struct flow_pkt f1, f2;
            struct pkt_info rev = pkt_reverse(pkts[i]);
            bool ok1 = flow_key_from_packet(modes[m], &pkts[i], T0, &k1, &f1);
            bool ok2 = flow_key_from_packet(modes[m], &rev, T0 + 1, &k2, &f2);
            assert_int_equal(ok1, ok2);
            if (!ok1) {
                assert_int_equal(modes[m], FEAT_MODE_CIC); /* cic: IPv6 only */
                assert_int_equal(pkts[i].ip_version, 6);
                continue;
            }
            assert_memory_equal(&k1, &k2, sizeof(k1));
            assert_int_equal(f1.from_ep ^ f2.from_ep, 1);
            assert_int_equal(k1.pad[0] | k1.pad[1], 0);
            assert_int_equal(flow_key_hash(&k1, 99), flow_key_hash(&k2, 99));
            int c = memcmp(k1.addr[0], k1.addr[1], 16);
            assert_true(c < 0 || (c == 0 && k1.port[0] <= k1.port[1]));
            /* The sender is the endpoint it says it is. ICMP echo is keyed by its identifier
             * in fixed mode; cic's protocol-0 flows have no ports. */
            uint16_t want = pkts[i].sport;
            if (pkts[i].proto == IPPROTO_NUM_ICMP || pkts[i].proto == IPPROTO_NUM_ICMPV6)
                want = modes[m] == FEAT_MODE_CIC ? 0 : pkts[i].icmp_id;
            assert_memory_equal(k1.addr[f1.from_ep], pkts[i].src, 16);
            assert_int_equal(k1.port[f1.from_ep], want);
        }
    }

    /* Protocol is part of the key; cic folds ICMP into protocol 0 without ports. */
    struct flow_key kt, ku, ki;
    struct flow_pkt fp;
    struct pkt_info t = tcp_pkt(4, "10.0.0.1", 1000, "10.0.0.2", 2000, TCP_SYN, 0);
    struct pkt_info u = udp_pkt(4, "10.0.0.1", 1000, "10.0.0.2", 2000, 0);
    assert_true(flow_key_from_packet(FEAT_MODE_FIXED, &t, T0, &kt, &fp));
    assert_true(flow_key_from_packet(FEAT_MODE_FIXED, &u, T0, &ku, &fp));
    assert_memory_not_equal(&kt, &ku, sizeof(kt));
    struct pkt_info i = icmp_pkt(4, "10.0.0.1", "10.0.0.2", 8, 77);
    assert_true(flow_key_from_packet(FEAT_MODE_CIC, &i, T0, &ki, &fp));
    assert_int_equal(ki.proto, 0);
    assert_int_equal(ki.port[0] | ki.port[1], 0);
    assert_true(flow_key_from_packet(FEAT_MODE_FIXED, &i, T0, &ki, &fp));
    assert_int_equal(ki.proto, IPPROTO_NUM_ICMP);
    assert_int_equal(ki.port[0], 77);
    assert_int_equal(fp.icmp_type, 8);
}

/* The table finds one flow for both directions. */
static void test_flow_table_same_flow_both_directions(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, 64, 7, &s);
    struct pkt_info p = tcp_pkt(4, "10.0.0.1", 40000, "10.0.0.2", 80, TCP_SYN, 0);
    struct flow *f = add(t, p, T0);
    assert_non_null(f);
    struct pkt_info r = pkt_reverse(p);
    r.tcp_flags = TCP_SYN | TCP_ACK;
    assert_ptr_equal(add(t, r, T0 + 10), f);
    assert_int_equal(f->dir[0].pkts, 1);
    assert_int_equal(f->dir[1].pkts, 1);
    assert_true(addr_is(flow_src_addr(f), "10.0.0.1"));
    assert_int_equal(flow_src_port(f), 40000);
    assert_int_equal(flow_table_stats(t)->flows_created, 1);
    flow_table_destroy(t);
    sink_reset(&s);
}

/* The hash is keyed: the same key hashes differently under another seed, alike under the same. */
static void test_flow_table_hash_depends_on_seed(void **state)
{
    int differ = 0;
    for (uint32_t i = 0; i < 64; i++) {
        struct pkt_info p = udp_flow_pkt(i);
        struct flow_key k;
        struct flow_pkt fp;
        assert_true(flow_key_from_packet(FEAT_MODE_FIXED, &p, T0, &k, &fp));
        assert_int_equal(flow_key_hash(&k, 1), flow_key_hash(&k, 1));
        differ += flow_key_hash(&k, 1) != flow_key_hash(&k, 2);
        differ += flow_key_hash(&k, 0x123456789abcdefull) != flow_key_hash(&k, 1);
    }
    assert_int_equal(differ, 128);

    /* Different keys spread over the low bits (the bucket index). */
    uint8_t seen[64] = {0};
    int distinct = 0;
    for (uint32_t i = 0; i < 256; i++) {
        struct pkt_info p = udp_flow_pkt(i);
        struct flow_key k;
        struct flow_pkt fp;
        assert_true(flow_key_from_packet(FEAT_MODE_FIXED, &p, T0, &k, &fp));
        uint32_t b = flow_key_hash(&k, 42) & 63;
        distinct += !seen[b];
        seen[b] = 1;
    }
    assert_true(distinct >= 56); /* 256 balls in 64 bins leave ~1 empty on average */
}

/* ---- capacity and eviction -------------------------------------------------------------- */

/* A full table ends the least recently seen of a few sampled flows (FLOW_END_EVICTED, emitted
 * and counted) and never holds more than its capacity. */
static void test_flow_table_full_evicts_and_counts(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, 16, 3, &s);
    const struct flow_table_stats *st = flow_table_stats(t);
    for (uint32_t i = 0; i < 100; i++) {
        assert_non_null(add(t, udp_flow_pkt(i), T0 + i));
        assert_true(st->active <= 16);
    }
    assert_int_equal(st->active, 16);
    assert_int_equal(st->peak_active, 16);
    assert_int_equal(st->flows_created, 100);
    assert_int_equal(st->evictions, 84);
    assert_int_equal(st->flows_ended[FLOW_END_EVICTED], 84);
    assert_int_equal(st->flows_emitted, 84);
    assert_int_equal(s.n, 84);
    assert_int_equal(sink_count(&s, FLOW_END_EVICTED), 84);
    assert_true(flow_table_memory(t) >= 16 * sizeof(struct flow));
    flow_table_flush(t);
    assert_int_equal(s.n, 100);
    assert_int_equal(sink_count(&s, FLOW_END_FLUSH), 16);
    assert_int_equal(st->active, 0);
    flow_table_destroy(t);
    sink_reset(&s);

    /* cic: an evicted 1-packet flow is ended silently (suppressed), but still counted. */
    t = table_new(FEAT_MODE_CIC, 16, 3, &s);
    st = flow_table_stats(t);
    for (uint32_t i = 0; i < 20; i++)
        add(t, udp_flow_pkt(i), T0 + i);
    assert_int_equal(st->evictions, 4);
    assert_int_equal(st->flows_suppressed, 4);
    assert_int_equal(st->flows_emitted, 0);
    assert_int_equal(s.n, 0);
    flow_table_destroy(t);
    sink_reset(&s);
}

struct live {
    struct flow *f[64];
    uint64_t last[64];
    size_t n;
};

static void collect_live(void *user, struct flow *f)
{
    struct live *l = user;
    assert_true(l->n < 64);
    l->f[l->n] = f;
    l->last[l->n] = f->last_ts;
    l->n++;
}

/* Which flow is evicted: a 16-flow table where, before each new flow, a random live flow is
 * refreshed (so last-seen order differs from slot and creation order). Over 400 evictions the
 * victim is among the least recently seen: the oldest of 8 samples has a mean rank of ~1.3 in
 * 0..15, where a random victim would average 7.5. It is never the freshest flow. */
static void test_flow_table_evicts_least_recently_seen_sample(void **state)
{
    for (uint64_t seed = 1; seed <= 4; seed++) {
        struct sink s;
        struct flow_table *t = table_new(FEAT_MODE_FIXED, 16, seed, &s);
        uint64_t ts = T0, rng = seed * 0x9e3779b97f4a7c15ull;
        uint32_t next = 0;
        for (; next < 16; next++)
            add(t, udp_flow_pkt(next), ts += 10);
        double rank_sum = 0;
        const int rounds = 400;
        for (int r = 0; r < rounds; r++) {
            struct live a = {.n = 0};
            flow_table_foreach(t, collect_live, &a);
            assert_int_equal(a.n, 16);
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            struct pkt_info p = udp_flow_pkt(0);
            memcpy(p.src, flow_src_addr(a.f[(rng >> 33) % 16]), 16);
            add(t, p, ts += 10); /* refresh: no new flow, no eviction */
            assert_int_equal(flow_table_stats(t)->flows_created, next);

            struct live b = {.n = 0};
            flow_table_foreach(t, collect_live, &b);
            size_t before = s.n;
            add(t, udp_flow_pkt(next++), ts += 10);
            assert_int_equal(s.n, before + 1);
            assert_int_equal(s.r[s.n - 1].why, FLOW_END_EVICTED);
            uint64_t victim = s.r[s.n - 1].last_ts;
            size_t rank = 0, newest = 1;
            for (size_t i = 0; i < b.n; i++) {
                rank += b.last[i] < victim;
                newest &= b.last[i] <= victim;
            }
            assert_false(newest);
            rank_sum += (double)rank;
        }
        double mean_rank = rank_sum / rounds;
        if (mean_rank > 3.0) {
            print_error("seed %llu: mean victim rank %.2f\n", (unsigned long long)seed, mean_rank);
            fail();
        }
        flow_table_destroy(t);
        sink_reset(&s);
    }
}

/* ---- counters --------------------------------------------------------------------------- */

/* Every end reason, emitted/suppressed, peak_active and ts_backwards in one fixed-mode replay:
 *   T0        U (UDP A)            created 1
 *   T0+3us    L (UDP B)            created 2
 *   +50 s     L
 *   +61 s     U again: U ends idle (61 s > 60 s); U' created 3
 *   +100 s    L; then L stamped 5 us earlier (ts_backwards 1)
 *   +125 s    R: SYN (created 4: U', L, R active = peak 3), RST back 10 us later
 *   +130 s    L: 130 s after its first packet, ends active; L' created 5
 *   sweep at +131 s: U' idle (70 s), R closed 6 s ago (linger 2 s) -> idle 2, rst 1
 *   +140 s    a full TCP session S (created 6), then a new SYN 0.5 s after its close: S ends
 *             fin, S' created 7
 *   flush: L', S' -> flush 2. */
static void test_flow_table_stats_counters(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, 64, 11, &s);
    const struct flow_table_stats *st = flow_table_stats(t);
    struct pkt_info u = udp_pkt(4, "10.0.0.1", 1111, "10.0.0.2", 53, 20);
    struct pkt_info l = udp_pkt(4, "10.0.0.3", 2222, "10.0.0.4", 5004, 200);
    struct pkt_info r = tcp_pkt(4, "10.0.0.5", 3333, "10.0.0.6", 80, TCP_SYN, 0);
    add(t, u, T0);
    add(t, l, T0 + 3);
    add(t, l, T0 + 50 * SEC);
    add(t, u, T0 + 61 * SEC);
    assert_int_equal(st->flows_ended[FLOW_END_IDLE], 1);
    add(t, l, T0 + 100 * SEC);
    add(t, l, T0 + 100 * SEC - 5);
    assert_int_equal(st->ts_backwards, 1);
    add(t, r, T0 + 125 * SEC);
    struct pkt_info rr = pkt_reverse(r);
    rr.tcp_flags = TCP_RST | TCP_ACK;
    add(t, rr, T0 + 125 * SEC + 10);
    assert_int_equal(st->active, 3);
    add(t, l, T0 + 130 * SEC);
    assert_int_equal(st->flows_ended[FLOW_END_ACTIVE], 1);
    (void)flow_table_expire(t, T0 + 130 * SEC, 1000);
    assert_int_equal(flow_table_expire(t, T0 + 131 * SEC, 1000), 2);
    assert_int_equal(st->flows_ended[FLOW_END_IDLE], 2);
    assert_int_equal(st->flows_ended[FLOW_END_RST], 1);
    assert_int_equal(st->active, 1);

    static const uint8_t session[][2] = {
        {1, TCP_SYN},           {0, TCP_SYN | TCP_ACK}, {1, TCP_ACK},
        {1, TCP_PSH | TCP_ACK}, {0, TCP_ACK},           {0, TCP_PSH | TCP_ACK},
        {1, TCP_FIN | TCP_ACK}, {0, TCP_FIN | TCP_ACK}, {1, TCP_ACK},
    };
    struct pkt_info c2s = tcp_pkt(4, "10.0.0.7", 4444, "10.0.0.8", 443, 0, 0);
    uint64_t ts = T0 + 140 * SEC;
    for (size_t i = 0; i < sizeof(session) / sizeof(session[0]); i++) {
        struct pkt_info p = session[i][0] ? c2s : pkt_reverse(c2s);
        p.tcp_flags = session[i][1];
        assert_non_null(add(t, p, ts += 100));
    }
    c2s.tcp_flags = TCP_SYN;
    add(t, c2s, ts + SEC / 2);
    assert_int_equal(st->flows_ended[FLOW_END_FIN], 1);
    flow_table_flush(t);

    assert_int_equal(st->packets, 19);
    assert_int_equal(st->packets_skipped, 0);
    assert_int_equal(st->flows_created, 7);
    assert_int_equal(st->flows_ended[FLOW_END_IDLE], 2);
    assert_int_equal(st->flows_ended[FLOW_END_ACTIVE], 1);
    assert_int_equal(st->flows_ended[FLOW_END_FIN], 1);
    assert_int_equal(st->flows_ended[FLOW_END_RST], 1);
    assert_int_equal(st->flows_ended[FLOW_END_EVICTED], 0);
    assert_int_equal(st->flows_ended[FLOW_END_FLUSH], 2);
    assert_int_equal(st->flows_emitted, 7);
    assert_int_equal(st->flows_suppressed, 0);
    assert_int_equal(st->evictions, 0);
    assert_int_equal(st->peak_active, 3);
    assert_int_equal(st->active, 0);
    assert_int_equal(st->ts_backwards, 1);
    assert_int_equal(s.n, 7);
    for (int why = 0; why < FLOW_END_COUNT; why++)
        assert_int_equal(sink_count(&s, (enum flow_end)why), st->flows_ended[why]);
    assert_int_equal(flow_table_now(t), 0); /* the flush started a new stream */
    flow_table_destroy(t);
    sink_reset(&s);

    /* cic: 1-packet flows suppressed, IPv6 skipped, first FIN ends. */
    t = table_new(FEAT_MODE_CIC, 64, 11, &s);
    st = flow_table_stats(t);
    add(t, udp_flow_pkt(1), T0);
    add(t, udp_pkt(6, "2001:db8::1", 1, "2001:db8::2", 2, 10), T0 + 1);
    add(t, c2s, T0 + 2);
    c2s.tcp_flags = TCP_FIN | TCP_ACK;
    assert_null(add(t, c2s, T0 + 3));
    flow_table_flush(t);
    assert_int_equal(st->packets, 4);
    assert_int_equal(st->packets_skipped, 1);
    assert_int_equal(st->flows_created, 2);
    assert_int_equal(st->flows_ended[FLOW_END_FIN], 1);
    assert_int_equal(st->flows_ended[FLOW_END_FLUSH], 1);
    assert_int_equal(st->flows_emitted, 1);
    assert_int_equal(st->flows_suppressed, 1);
    assert_string_equal(flow_end_name(FLOW_END_EVICTED), "evicted");
    assert_string_equal(flow_end_name(FLOW_END_COUNT), "unknown");
    flow_table_destroy(t);
    sink_reset(&s);
}

/* ---- expiry ----------------------------------------------------------------------------- */

/* flow_table_expire examines at most `budget` slots per call: with budget 1 at most one flow
 * ends per call, and a slot that is not due uses up the call. */
static void test_flow_table_expire_budget(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, 64, 5, &s);
    for (uint32_t i = 0; i < 10; i++)
        add(t, udp_flow_pkt(i), T0 + i);    /* slots 0..9 */
    add(t, udp_flow_pkt(0), T0 + 50 * SEC); /* slot 0 stays fresh */
    assert_int_equal(flow_table_expire(t, T0 + 50 * SEC, 100), 0);
    assert_int_equal(flow_table_expire(t, T0 + 62 * SEC, 0), 0);
    /* Slot 0 is examined first and is not due: nothing ends though 9 flows are due. */
    assert_int_equal(flow_table_expire(t, T0 + 62 * SEC, 1), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(flow_table_expire(t, T0 + 62 * SEC, 1), 1);
    assert_int_equal(s.n, 3);
    assert_int_equal(flow_table_expire(t, T0 + 62 * SEC, 100), 6);
    assert_int_equal(s.n, 9);
    assert_int_equal(flow_table_stats(t)->active, 1);
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(s.r[i].why, FLOW_END_IDLE);
    flow_table_destroy(t);
    sink_reset(&s);
}

/* The sweep owes the table a share of its slots proportional to the packet time that passed:
 * half a sweep period examines half the slots. */
static void test_flow_table_expire_paced_by_sweep_period(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, 128, 5, &s);
    for (uint32_t i = 0; i < 100; i++)
        add(t, udp_flow_pkt(i), T0);
    assert_int_equal(flow_table_expire(t, T0 + 61 * SEC, 1000), 0); /* first call: starts */
    assert_int_equal(flow_table_expire(t, T0 + 61 * SEC + SEC / 2, 1000), 50);
    assert_int_equal(flow_table_expire(t, T0 + 62 * SEC, 1000), 50);
    assert_int_equal(flow_table_stats(t)->active, 0);
    /* After a long quiet period one call may sweep the whole table, but not more. */
    for (uint32_t i = 0; i < 100; i++)
        add(t, udp_flow_pkt(i), T0 + 100 * SEC);
    assert_int_equal(flow_table_expire(t, T0 + 1000 * SEC, 1000000), 100);
    flow_table_destroy(t);
    sink_reset(&s);
}

/* ---- flush order ------------------------------------------------------------------------ */

/* Flush emits in slot order: a flow created in a freed slot comes out in that slot's place. */
static void test_flow_table_flush_slot_order(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, 64, 9, &s);
    add(t, udp_pkt(4, "10.0.0.1", 1, "10.9.9.9", 53, 10), T0 + 10 * SEC); /* A: slot 0 */
    add(t, udp_pkt(4, "10.0.0.2", 1, "10.9.9.9", 53, 10), T0);            /* B: slot 1 */
    add(t, udp_pkt(4, "10.0.0.3", 1, "10.9.9.9", 53, 10), T0 + 10 * SEC); /* C: slot 2 */
    (void)flow_table_expire(t, T0 + 10 * SEC, 100);
    assert_int_equal(flow_table_expire(t, T0 + 61 * SEC, 100), 1); /* B idle */
    assert_true(addr_is(s.r[0].src, "10.0.0.2"));
    add(t, udp_pkt(4, "10.0.0.4", 1, "10.9.9.9", 53, 10), T0 + 62 * SEC); /* D: slot 1 */
    flow_table_flush(t);
    const char *order[] = {"10.0.0.1", "10.0.0.4", "10.0.0.3"};
    assert_int_equal(s.n, 4);
    for (int i = 0; i < 3; i++) {
        assert_true(addr_is(s.r[1 + i].src, order[i]));
        assert_int_equal(s.r[1 + i].why, FLOW_END_FLUSH);
    }
    flow_table_destroy(t);
    sink_reset(&s);
}

/* ---- configuration ---------------------------------------------------------------------- */

static void expect_config_rejected(const struct flow_table_config *c, const char *needle)
{
    char why[200] = "";
    assert_int_equal(flow_table_config_check(c, why, sizeof(why)), -EINVAL);
    if (strstr(why, needle) == NULL) {
        print_error("reason \"%s\" does not mention \"%s\"\n", why, needle);
        fail();
    }
    assert_null(flow_table_create(c, NULL, NULL));
}

static void test_flow_table_config_check(void **state)
{
    struct flow_table_config c;
    char why[200];
    for (int m = 0; m < 2; m++) {
        flow_table_config_defaults(&c, (enum feat_mode)m);
        assert_int_equal(flow_table_config_check(&c, why, sizeof(why)), 0);
    }
    flow_table_config_defaults(&c, FEAT_MODE_FIXED);
    assert_int_equal(c.idle_timeout_us, 60 * SEC);
    assert_int_equal(c.active_timeout_us, 120 * SEC);
    assert_int_equal(c.close_linger_us, 2 * SEC);
    assert_int_equal(c.activity_timeout_us, 5 * SEC);
    assert_int_equal(c.emit_min_packets, 1);
    flow_table_config_defaults(&c, FEAT_MODE_CIC);
    assert_int_equal(c.idle_timeout_us, 0);
    assert_int_equal(c.active_timeout_us, 120 * SEC);
    assert_int_equal(c.emit_min_packets, 2);

    config_for(&c, FEAT_MODE_FIXED, 15, 1);
    expect_config_rejected(&c, "capacity");
    config_for(&c, FEAT_MODE_FIXED, (1u << 30) + 1, 1);
    expect_config_rejected(&c, "capacity");
    config_for(&c, FEAT_MODE_FIXED, 16, 1);
    c.active_timeout_us = 0;
    expect_config_rejected(&c, "active timeout");
    c.active_timeout_us = FLOW_MAX_ACTIVE_TIMEOUT_US + 1;
    expect_config_rejected(&c, "active timeout");
    config_for(&c, FEAT_MODE_FIXED, 16, 1);
    c.idle_timeout_us = c.active_timeout_us + 1;
    expect_config_rejected(&c, "idle timeout");
    config_for(&c, FEAT_MODE_FIXED, 16, 1);
    c.activity_timeout_us = 0;
    expect_config_rejected(&c, "activity");
    config_for(&c, FEAT_MODE_FIXED, 16, 1);
    c.sweep_period_us = 0;
    expect_config_rejected(&c, "sweep");
    config_for(&c, FEAT_MODE_FIXED, 16, 1);
    c.close_linger_us = c.active_timeout_us + 1;
    expect_config_rejected(&c, "linger");

    /* The limits themselves are accepted. */
    config_for(&c, FEAT_MODE_FIXED, 16, 1);
    c.active_timeout_us = FLOW_MAX_ACTIVE_TIMEOUT_US;
    assert_int_equal(flow_table_config_check(&c, why, sizeof(why)), 0);
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_CIC, 16, 0, &s); /* seed 0: a random one */
    assert_int_not_equal(flow_table_config(t)->seed, 0);
    assert_int_equal(flow_table_config(t)->capacity, 16);
    flow_table_destroy(t);
    flow_table_destroy(NULL);
}

/* ---- determinism ------------------------------------------------------------------------ */

/* A pseudo-random replay: 60 client hosts talking TCP (with FIN/RST teardowns), UDP and ICMP
 * to 4 servers over ~10 minutes of packet time, some timestamps slightly out of order, IPv6 mixed
 * in, expiry every 50 packets. */
enum { REPLAY_N = 6000 };

struct replay {
    struct pkt_info p[REPLAY_N];
    uint64_t ts[REPLAY_N];
};

static void replay_build(struct replay *r)
{
    uint64_t x = 0x243f6a8885a308d3ull, ts = T0;
    for (size_t i = 0; i < REPLAY_N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        char cli[48], srv[48];
        unsigned host = (unsigned)(x % 60), server = (unsigned)((x >> 8) % 4);
        int v6 = ((x >> 12) & 15) == 0;
        if (v6) {
            snprintf(cli, sizeof(cli), "2001:db8::%x", host + 1);
            snprintf(srv, sizeof(srv), "2001:db8:1::%x", server + 1);
        } else {
            snprintf(cli, sizeof(cli), "10.1.0.%u", host + 1);
            snprintf(srv, sizeof(srv), "192.0.2.%u", server + 1);
        }
        uint16_t port = (uint16_t)(40000 + (x >> 16) % 3);
        unsigned kind = (unsigned)((x >> 20) % 10);
        struct pkt_info p;
        if (kind < 6) {
            static const uint8_t flags[] = {
                TCP_SYN,           TCP_SYN | TCP_ACK, TCP_ACK, TCP_PSH | TCP_ACK, TCP_ACK,
                TCP_PSH | TCP_ACK, TCP_FIN | TCP_ACK, TCP_RST, TCP_ACK,           TCP_ACK};
            p = tcp_pkt(v6 ? 6 : 4, cli, port, srv, 80, flags[(x >> 24) % 10],
                        (uint32_t)((x >> 28) % 1400));
        } else if (kind < 9) {
            p = udp_pkt(v6 ? 6 : 4, cli, port, srv, 53, (uint32_t)((x >> 28) % 512));
        } else {
            p = icmp_pkt(v6 ? 6 : 4, cli, srv, v6 ? 128 : 8, (uint16_t)((x >> 28) % 2));
        }
        if ((x >> 40) & 1)
            p = pkt_reverse(p);
        r->p[i] = p;
        ts += (x >> 44) % 200000; /* mean 0.1 s */
        r->ts[i] = ((x >> 60) == 0 && ts > T0 + 1000) ? ts - 1000 : ts;
    }
}

static void replay_run(const struct replay *r, enum feat_mode mode, uint32_t capacity,
                       uint64_t seed, bool burst, struct sink *s, struct flow_table_stats *stats)
{
    struct flow_table *t = table_new(mode, capacity, seed, s);
    uint64_t created_flags = 0;
    for (size_t i = 0; i < REPLAY_N; i += 50) {
        if (burst) {
            uint8_t created[50];
            flow_table_add_burst(t, &r->p[i], &r->ts[i], 50, created);
            for (size_t k = 0; k < 50; k++)
                created_flags += created[k];
        } else {
            for (size_t k = i; k < i + 50; k++)
                (void)flow_table_add(t, &r->p[k], r->ts[k]);
        }
        (void)flow_table_expire(t, flow_table_now(t), 16);
    }
    flow_table_flush(t);
    assert_int_equal(flow_table_stats(t)->flows_emitted, s->n);
    if (burst) /* the created flags mark exactly the packets that started a flow */
        assert_int_equal(created_flags, flow_table_stats(t)->flows_created);
    *stats = *flow_table_stats(t);
    flow_table_destroy(t);
}

static void assert_same_sequence(const struct sink *a, const struct sink *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct rec *x = &a->r[i], *y = &b->r[i];
        bool same = memcmp(&x->key, &y->key, sizeof(x->key)) == 0 && x->fwd_ep == y->fwd_ep &&
                    x->why == y->why && x->first_ts == y->first_ts && x->last_ts == y->last_ts &&
                    x->packets == y->packets && feat_first_difference(x->v, y->v) == FEAT_COUNT;
        if (!same) {
            print_error("emitted flow #%zu differs\n", i);
            fail();
        }
    }
}

/* Two tables with different hash seeds emit identical sequences for the same packets (emission
 * follows slot order, not hash order), in both modes; flow_table_add_burst is the same as
 * flow_table_add packet by packet. */
static void test_flow_table_deterministic_across_seeds(void **state)
{
    struct replay *r = malloc(sizeof(*r));
    assert_non_null(r);
    replay_build(r);
    for (int m = 0; m < 2; m++) {
        struct sink a, b, c;
        struct flow_table_stats sa, sb, sc;
        replay_run(r, (enum feat_mode)m, 4096, 1, false, &a, &sa);
        replay_run(r, (enum feat_mode)m, 4096, 0xfeedfacecafebeefull, false, &b, &sb);
        replay_run(r, (enum feat_mode)m, 4096, 77, true, &c, &sc);
        assert_true(a.n > 100);
        assert_int_equal(sa.evictions, 0);
        assert_same_sequence(&a, &b);
        assert_same_sequence(&a, &c);
        assert_memory_equal(&sa, &sb, sizeof(sa));
        assert_memory_equal(&sa, &sc, sizeof(sa));
        size_t reasons = 0;
        for (int why = 0; why < FLOW_END_COUNT; why++)
            reasons += sink_count(&a, (enum flow_end)why) > 0;
        assert_true(reasons >= 3); /* the replay exercises several end reasons */
        sink_reset(&a);
        sink_reset(&b);
        sink_reset(&c);

        /* With eviction, the same seed still replays identically. */
        replay_run(r, (enum feat_mode)m, 32, 5, false, &a, &sa);
        replay_run(r, (enum feat_mode)m, 32, 5, true, &b, &sb);
        assert_true(sink_count(&a, FLOW_END_EVICTED) > 0);
        assert_same_sequence(&a, &b);
        sink_reset(&a);
        sink_reset(&b);
    }
    free(r);
}

/* flow_table_foreach visits every active flow; flow_table_now follows the newest packet. */
/* Reports: at report_first_packets, and once for a flow still unreported at report_young_us
 * (a 1-packet SYN is scored while the flood lasts). */
struct report_log {
    uint32_t packets[16];
    uint32_t prev[16]; /* pkts_at_report seen during the callback */
    uint16_t sport[16];
    size_t n;
};

static void log_report(void *user, const struct flow *f)
{
    struct report_log *l = user;
    assert_true(l->n < 16);
    l->packets[l->n] = flow_packets(f);
    l->prev[l->n] = f->pkts_at_report;
    l->sport[l->n++] = flow_src_port(f);
}

static void test_flow_table_reports_young_and_first_packets(void **state)
{
    (void)state;
    struct flow_table_config c;
    config_for(&c, FEAT_MODE_FIXED, 1024, 1);
    c.report_first_packets = 5;
    c.report_interval_us = 1000000;
    c.report_young_us = 1000000;
    struct sink s = {0};
    struct flow_table *t = flow_table_create(&c, sink_on_end, &s);
    assert_non_null(t);
    struct report_log log = {0};
    flow_table_set_report(t, log_report, &log);
    const uint64_t t0 = 1700000000000000ull;
    /* a lone SYN (port 1000); a 5-packet flow (port 2000), reported at its 5th packet */
    struct pkt_info syn = tcp_pkt(4, "10.0.0.1", 1000, "10.0.0.2", 80, TCP_SYN, 0);
    (void)flow_table_add(t, &syn, t0);
    for (int i = 0; i < 5; i++) {
        struct pkt_info p = tcp_pkt(4, "10.0.0.3", 2000, "10.0.0.2", 80, TCP_ACK, 10);
        (void)flow_table_add(t, &p, t0 + 1000 + (uint64_t)i);
    }
    assert_int_equal(log.n, 1);
    assert_int_equal(log.sport[0], 2000);
    assert_int_equal(log.packets[0], 5);
    assert_int_equal(log.prev[0], 0); /* the callback sees the previous report's count */
    (void)flow_table_expire(t, t0 + 999999, 1024);
    assert_int_equal(log.n, 1); /* not old enough yet */
    (void)flow_table_expire(t, t0 + 1000000, 1024);
    assert_int_equal(log.n, 2); /* the SYN, once; the other flow was reported already */
    assert_int_equal(log.sport[1], 1000);
    assert_int_equal(log.packets[1], 1);
    (void)flow_table_expire(t, t0 + 5000000, 1024);
    assert_int_equal(log.n, 2);
    assert_int_equal(flow_table_stats(t)->young_reports, 1);
    /* a later packet 1 s after the young report: an interval report that knows the last one */
    struct pkt_info again = tcp_pkt(4, "10.0.0.1", 1000, "10.0.0.2", 80, TCP_SYN, 0);
    (void)flow_table_add(t, &again, t0 + 2000000);
    assert_int_equal(log.n, 3);
    assert_int_equal(log.prev[2], 1);
    flow_table_flush(t);
    flow_table_destroy(t);
    sink_reset(&s);
}

static void test_flow_table_foreach_and_now(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, 64, 13, &s);
    assert_int_equal(flow_table_now(t), 0);
    for (uint32_t i = 0; i < 5; i++)
        add(t, udp_flow_pkt(i), T0 + 100 - i);
    assert_int_equal(flow_table_now(t), T0 + 100);
    assert_int_equal(flow_table_stats(t)->ts_backwards, 4);
    struct live a = {.n = 0};
    flow_table_foreach(t, collect_live, &a);
    assert_int_equal(a.n, 5);
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(a.last[i], T0 + 100 - i);
    flow_table_destroy(t);
    sink_reset(&s);
}

/* Inputs from different eras (merged captures, files read one after another): a jump back by
 * more than the active timeout moves the table's clock with it, so the sweep does not end the
 * new era's flows at once by the old era's clock; a flush starts the next input afresh. */
static void test_flow_table_clock_follows_jump_to_earlier_era(void **state)
{
    (void)state;
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, 64, 3, &s);
    add(t, udp_flow_pkt(0), T0 + 1000 * SEC);
    add(t, udp_flow_pkt(1), T0); /* 1000 s earlier */
    add(t, udp_flow_pkt(1), T0 + 1 * SEC);
    assert_int_equal(flow_table_stats(t)->ts_backwards, 1);
    assert_int_equal(flow_table_stats(t)->clock_jumps, 1);
    assert_int_equal(flow_table_now(t), T0 + 1 * SEC);
    for (int i = 0; i < 100; i++)
        (void)flow_table_expire(t, flow_table_now(t) + (uint64_t)i * 10000, 4096);
    assert_int_equal(sink_count(&s, FLOW_END_ACTIVE), 0); /* the new era's flow is intact */
    flow_table_flush(t);
    assert_int_equal(flow_table_now(t), 0);
    add(t, udp_flow_pkt(2), T0 - 5000 * SEC); /* the next input, earlier still: no jump */
    assert_int_equal(flow_table_stats(t)->ts_backwards, 1);
    flow_table_flush(t);
    assert_int_equal(s.n, 3);
    flow_table_destroy(t);
    sink_reset(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_table_key_canonical),
        cmocka_unit_test(test_flow_table_same_flow_both_directions),
        cmocka_unit_test(test_flow_table_hash_depends_on_seed),
        cmocka_unit_test(test_flow_table_full_evicts_and_counts),
        cmocka_unit_test(test_flow_table_evicts_least_recently_seen_sample),
        cmocka_unit_test(test_flow_table_stats_counters),
        cmocka_unit_test(test_flow_table_expire_budget),
        cmocka_unit_test(test_flow_table_expire_paced_by_sweep_period),
        cmocka_unit_test(test_flow_table_flush_slot_order),
        cmocka_unit_test(test_flow_table_config_check),
        cmocka_unit_test(test_flow_table_deterministic_across_seeds),
        cmocka_unit_test(test_flow_table_foreach_and_now),
        cmocka_unit_test(test_flow_table_reports_young_and_first_packets),
        cmocka_unit_test(test_flow_table_clock_follows_jump_to_earlier_era),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
