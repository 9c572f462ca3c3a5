/* test_flow.c - unit tests for features/flow.c through features/flow_table.c.
 *
 * Packets are struct pkt_info values built by small helpers (the decoder's output, so no frame
 * bytes are needed) and fed through flow_table_add with explicit microsecond timestamps; ended
 * flows are captured by the on_end callback together with their feature vector.
 *
 * Two groups of tests:
 *   cic   golden vectors: the real CIC-IDS2017 / CIC-DDoS2019 / CSE-CIC-IDS2018 rows of §6 of
 *         the CICFlowMeter reference (shared/docs/cicflowmeter-features.md), and the legacy
 *         lifecycle rules of §4 (first FIN ends a flow, RST ignored, 120 s from the first packet,
 *         IPv6 ignored, flows < 2 packets not written, permuted flag columns of §5.6).
 *   fixed hand-built sessions whose every expected value is computed by hand in the comments.
 *
 * Whole vectors are compared feature by feature (relative tolerance 1e-6); values the reference
 * quotes rounded are also checked at the document's rounding. */
#include <arpa/inet.h>
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
#include "features/port_class.h"

#include "flow_test_util.h"

/* ---- packets ---------------------------------------------------------------------------- */

/* pkt_base, pkt_tcp, pkt_udp and pkt_icmp (flow_test_util.h) build the decoded packets. */

/* A non-first IPv4 fragment: no L4 header, so no ports, flags or lengths for the flow table. */
static struct pkt_info frag_pkt(const char *src, const char *dst, uint8_t proto, uint32_t bytes)
{
    struct pkt_info p = pkt_base(4, src, 0, dst, 0, proto);
    p.flags = PKT_F_FRAGMENT | PKT_F_NONFIRST_FRAG;
    p.payload_len = bytes;
    p.ip_total_len = 20 + bytes;
    return p;
}

/* Two endpoints of a conversation; A is the side that speaks first. */
struct conv {
    int ipv;
    const char *a;
    uint16_t aport;
    const char *b;
    uint16_t bport;
};

enum { FROM_A = 1, FROM_B = 0 };

static struct pkt_info conv_tcp(const struct conv *c, int from_a, uint8_t flags, uint16_t win,
                                uint16_t hdr, uint32_t payload_len, uint32_t captured)
{
    if (from_a)
        return pkt_tcp(c->ipv, c->a, c->aport, c->b, c->bport, flags, win, hdr, payload_len,
                       captured);
    return pkt_tcp(c->ipv, c->b, c->bport, c->a, c->aport, flags, win, hdr, payload_len, captured);
}

static struct pkt_info conv_udp(const struct conv *c, int from_a, uint32_t payload_len)
{
    if (from_a)
        return pkt_udp(c->ipv, c->a, c->aport, c->b, c->bport, payload_len, payload_len);
    return pkt_udp(c->ipv, c->b, c->bport, c->a, c->aport, payload_len, payload_len);
}

/* ---- tables and ended flows ------------------------------------------------------------- */

enum { SINK_MAX = 64 };

struct ended {
    struct flow f;
    enum flow_end why;
    double v[FEAT_COUNT];
};

struct sink {
    struct ended e[SINK_MAX];
    size_t n;
};

static void sink_on_end(void *user, const struct flow *f, enum flow_end why)
{
    struct sink *s = user;
    assert_true(s->n < SINK_MAX);
    struct ended *e = &s->e[s->n++];
    e->f = *f;
    e->why = why;
    flow_features_compute(f, e->v);
}

static struct flow_table *table_new(enum feat_mode mode, struct sink *s)
{
    struct flow_table_config c;
    config_for(&c, mode, 1024, 0x1234);
    memset(s, 0, sizeof(*s));
    struct flow_table *t = flow_table_create(&c, sink_on_end, s);
    assert_non_null(t);
    return t;
}

/* ---- assertions ------------------------------------------------------------------------- */

static bool near(double actual, double expected)
{
    if (isnan(expected))
        return isnan(actual);
    if (isinf(expected))
        return actual == expected;
    double d = fabs(actual - expected);
    return d <= 1e-6 * fabs(expected) || d <= 1e-9;
}

static void check_near(double actual, double expected, const char *what, const char *file, int line)
{
    if (!near(actual, expected)) {
        print_error("%s: got %.17g, expected %.17g\n", what, actual, expected);
        _fail(file, line);
    }
}
#define ASSERT_NEAR(a, e)     check_near((a), (e), #a, __FILE__, __LINE__)
#define ASSERT_FEAT(v, id, e) check_near((v)[id], (e), feat_name(id), __FILE__, __LINE__)

/* Every feature of v against want; reports all mismatches at once. */
static void check_vector(const double *v, const double *want, const char *file, int line)
{
    int bad = 0;
    for (int i = 0; i < FEAT_COUNT; i++) {
        if (!near(v[i], want[i])) {
            print_error("  %-26s got %.17g, expected %.17g\n", feat_name((enum feat_id)i), v[i],
                        want[i]);
            bad++;
        }
    }
    if (bad) {
        print_error("%d feature(s) differ\n", bad);
        _fail(file, line);
    }
}
#define ASSERT_VECTOR(v, e) check_vector((v), (e), __FILE__, __LINE__)

/* The reference quotes some values rounded: v must round to q at `decimals` places. */
static void check_rounded(double v, double q, int decimals, const char *what, const char *file,
                          int line)
{
    double s = pow(10, decimals);
    if (fabs(round(v * s) - round(q * s)) > 0.5) {
        print_error("%s: %.10g does not round to %.*f\n", what, v, decimals, q);
        _fail(file, line);
    }
}
#define ASSERT_ROUNDS(v, id, q, d)                                                                 \
    check_rounded((v)[id], (q), (d), feat_name(id), __FILE__, __LINE__)

static bool addr_is(const uint8_t *addr, int ipv, const char *text)
{
    uint8_t want[16] = {0};
    assert_int_equal(inet_pton(ipv == 6 ? AF_INET6 : AF_INET, text, want), 1);
    return memcmp(addr, want, 16) == 0;
}

/* ---- cic golden vectors (§6) ------------------------------------------------------------ */

/* §6.1 (a): 192.168.10.5-104.16.207.165-54865-443-6, a post-FIN "appendix": two forward ACKs
 * from 104.16.207.165:443 in 54-byte frames padded to 60 bytes (payload_len 0, CICFlowMeter's
 * length 6), 3 us apart. */
static void test_flow_cic_golden_ack_appendix(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
    const struct conv c = {4, "104.16.207.165", 443, "192.168.10.5", 54865};
    assert_non_null(add(t, conv_tcp(&c, FROM_A, TCP_ACK, 33, 20, 0, 6), T0));
    assert_non_null(add(t, conv_tcp(&c, FROM_A, TCP_ACK, 33, 20, 0, 6), T0 + 3));
    flow_table_flush(t);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.e[0].why, FLOW_END_FLUSH);
    assert_true(addr_is(flow_src_addr(&s.e[0].f), 4, "104.16.207.165"));
    assert_int_equal(flow_src_port(&s.e[0].f), 443);
    assert_int_equal(flow_dst_port(&s.e[0].f), 54865);

    const double *v = s.e[0].v;
    const double e[FEAT_COUNT] = {
        [FEAT_FLOW_DURATION] = 3,
        [FEAT_TOT_FWD_PKTS] = 2,
        [FEAT_TOTLEN_FWD] = 12,
        [FEAT_FWD_LEN_MAX] = 6,
        [FEAT_FWD_LEN_MIN] = 6,
        [FEAT_FWD_LEN_MEAN] = 6,
        [FEAT_FLOW_BYTES_S] = 4000000, /* 12 / 3e-6 */
        [FEAT_FLOW_PKTS_S] = 2 / 3e-6,
        [FEAT_FLOW_IAT_MEAN] = 3,
        [FEAT_FLOW_IAT_MAX] = 3,
        [FEAT_FLOW_IAT_MIN] = 3,
        [FEAT_FWD_IAT_TOT] = 3,
        [FEAT_FWD_IAT_MEAN] = 3,
        [FEAT_FWD_IAT_MAX] = 3,
        [FEAT_FWD_IAT_MIN] = 3,
        [FEAT_FWD_HEADER_LEN] = 40, /* 2 x 20 */
        [FEAT_FWD_PKTS_S] = 2 / 3e-6,
        [FEAT_PKT_LEN_MIN] = 6, /* over {6, 6, 6}: the first packet counted twice */
        [FEAT_PKT_LEN_MAX] = 6,
        [FEAT_PKT_LEN_MEAN] = 6,
        [FEAT_ACK_CNT] = 1,      /* flag columns 0,0,0,0,1,0,0,0 */
        [FEAT_AVG_PKT_SIZE] = 9, /* (6 + 6 + 6) / 2 */
        [FEAT_AVG_FWD_SEG] = 6,
        [FEAT_SUBFLOW_FWD_PKTS] = 2,
        [FEAT_SUBFLOW_FWD_BYTES] = 12,
        [FEAT_INIT_WIN_FWD] = 33,
        [FEAT_INIT_WIN_BWD] = -1,
        [FEAT_ACT_DATA_PKT_FWD] = 1, /* the second packet only */
        [FEAT_MIN_SEG_FWD] = 20,
        [FEAT_PROTOCOL] = 6,
        [FEAT_SVC_PORT_CLASS] = PORT_CLASS_WEB, /* 443 sent first */
        [FEAT_SVC_PORT_SIDE] = PORT_SIDE_SRC,
    };
    ASSERT_VECTOR(v, e);
    ASSERT_ROUNDS(v, FEAT_FLOW_PKTS_S, 666666.67, 2);
    ASSERT_ROUNDS(v, FEAT_FWD_PKTS_S, 666666.67, 2);
    flow_table_destroy(t);
}

/* §6.1 (b): 192.168.10.5-104.16.28.216-55054-80-6: the server's FIN-ACK (window 29) and the
 * client's ACK (window 256) 109 us later. The first packet of a flow is never checked for FIN,
 * so the flow goes on and is written at the end of input. */
static void test_flow_cic_golden_fin_ack_first(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
    const struct conv c = {4, "104.16.28.216", 80, "192.168.10.5", 55054};
    assert_non_null(add(t, conv_tcp(&c, FROM_A, TCP_FIN | TCP_ACK, 29, 20, 0, 6), T0));
    assert_non_null(add(t, conv_tcp(&c, FROM_B, TCP_ACK, 256, 20, 0, 6), T0 + 109));
    assert_int_equal(s.n, 0);
    flow_table_flush(t);
    assert_int_equal(s.n, 1);

    const double *v = s.e[0].v;
    const double e[FEAT_COUNT] = {
        [FEAT_FLOW_DURATION] = 109,
        [FEAT_TOT_FWD_PKTS] = 1,
        [FEAT_TOT_BWD_PKTS] = 1,
        [FEAT_TOTLEN_FWD] = 6,
        [FEAT_TOTLEN_BWD] = 6,
        [FEAT_FWD_LEN_MAX] = 6,
        [FEAT_FWD_LEN_MIN] = 6,
        [FEAT_FWD_LEN_MEAN] = 6,
        [FEAT_BWD_LEN_MAX] = 6,
        [FEAT_BWD_LEN_MIN] = 6,
        [FEAT_BWD_LEN_MEAN] = 6,
        [FEAT_FLOW_BYTES_S] = 12 / 109e-6,
        [FEAT_FLOW_PKTS_S] = 2 / 109e-6,
        [FEAT_FLOW_IAT_MEAN] = 109,
        [FEAT_FLOW_IAT_MAX] = 109,
        [FEAT_FLOW_IAT_MIN] = 109,
        [FEAT_FWD_HEADER_LEN] = 20,
        [FEAT_BWD_HEADER_LEN] = 20,
        [FEAT_FWD_PKTS_S] = 1 / 109e-6,
        [FEAT_BWD_PKTS_S] = 1 / 109e-6,
        [FEAT_PKT_LEN_MIN] = 6,
        [FEAT_PKT_LEN_MAX] = 6,
        [FEAT_PKT_LEN_MEAN] = 6,
        [FEAT_ACK_CNT] = 1, /* the first packet's ACK ... */
        [FEAT_URG_CNT] = 1, /* ... and its FIN, written under "URG Flag Count" */
        [FEAT_DOWN_UP_RATIO] = 1,
        [FEAT_AVG_PKT_SIZE] = 9,
        [FEAT_AVG_FWD_SEG] = 6,
        [FEAT_AVG_BWD_SEG] = 6,
        [FEAT_SUBFLOW_FWD_PKTS] = 1,
        [FEAT_SUBFLOW_FWD_BYTES] = 6,
        [FEAT_SUBFLOW_BWD_PKTS] = 1,
        [FEAT_SUBFLOW_BWD_BYTES] = 6,
        [FEAT_INIT_WIN_FWD] = 29,
        [FEAT_INIT_WIN_BWD] = 256,
        [FEAT_ACT_DATA_PKT_FWD] = 0,
        [FEAT_MIN_SEG_FWD] = 20,
        [FEAT_PROTOCOL] = 6,
        [FEAT_SVC_PORT_CLASS] = PORT_CLASS_WEB,
        [FEAT_SVC_PORT_SIDE] = PORT_SIDE_SRC,
    };
    ASSERT_VECTOR(v, e);
    ASSERT_ROUNDS(v, FEAT_FLOW_BYTES_S, 110091.74, 2);
    ASSERT_ROUNDS(v, FEAT_FLOW_PKTS_S, 18348.62, 2);
    ASSERT_ROUNDS(v, FEAT_FWD_PKTS_S, 9174.31, 2);
    ASSERT_ROUNDS(v, FEAT_BWD_PKTS_S, 9174.31, 2);
    flow_table_destroy(t);
}

/* §6.2 (c): 172.16.0.5-192.168.50.1-634-60495-17, 97 forward 440-byte DNS responses over
 * 28,415 us. The 96 gaps are our own, chosen to give the row's IAT statistics: 1, 13 x 1184,
 * 3596, 30 x 117, 51 x 116 (sum 28415, max 3596, min 1, mean 295.99, sample std 500.9646).
 * Our cic mode books UDP headers as 8 bytes (CIC-IDS2017), not CIC-DDoS2019's -1 anomaly. */
static void test_flow_cic_golden_udp_dns_97(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
    const struct conv c = {4, "172.16.0.5", 634, "192.168.50.1", 60495};
    uint32_t gaps[96];
    size_t k = 0;
    gaps[k++] = 1;
    for (int i = 0; i < 13; i++)
        gaps[k++] = 1184;
    gaps[k++] = 3596;
    for (int i = 0; i < 30; i++)
        gaps[k++] = 117;
    for (int i = 0; i < 51; i++)
        gaps[k++] = 116;
    assert_int_equal(k, 96);

    uint64_t ts = T0;
    assert_non_null(add(t, conv_udp(&c, FROM_A, 440), ts));
    for (size_t i = 0; i < 96; i++) {
        ts += gaps[i];
        assert_non_null(add(t, conv_udp(&c, FROM_A, 440), ts));
    }
    assert_int_equal(ts - T0, 28415);
    flow_table_flush(t);
    assert_int_equal(s.n, 1);

    const double *v = s.e[0].v;
    const double std = 500.9646167732527; /* Python statistics.stdev(gaps) */
    const double e[FEAT_COUNT] = {
        [FEAT_FLOW_DURATION] = 28415,
        [FEAT_TOT_FWD_PKTS] = 97,
        [FEAT_TOTLEN_FWD] = 42680,
        [FEAT_FWD_LEN_MAX] = 440,
        [FEAT_FWD_LEN_MIN] = 440,
        [FEAT_FWD_LEN_MEAN] = 440,
        [FEAT_FLOW_BYTES_S] = 42680 / 0.028415,
        [FEAT_FLOW_PKTS_S] = 97 / 0.028415,
        [FEAT_FLOW_IAT_MEAN] = 28415 / 96.0,
        [FEAT_FLOW_IAT_STD] = std,
        [FEAT_FLOW_IAT_MAX] = 3596,
        [FEAT_FLOW_IAT_MIN] = 1,
        [FEAT_FWD_IAT_TOT] = 28415,
        [FEAT_FWD_IAT_MEAN] = 28415 / 96.0,
        [FEAT_FWD_IAT_STD] = std,
        [FEAT_FWD_IAT_MAX] = 3596,
        [FEAT_FWD_IAT_MIN] = 1,
        [FEAT_FWD_HEADER_LEN] = 8 * 97,
        [FEAT_FWD_PKTS_S] = 97 / 0.028415,
        [FEAT_PKT_LEN_MIN] = 440,
        [FEAT_PKT_LEN_MAX] = 440,
        [FEAT_PKT_LEN_MEAN] = 440,
        [FEAT_AVG_PKT_SIZE] = 98 * 440 / 97.0,
        [FEAT_AVG_FWD_SEG] = 440,
        [FEAT_SUBFLOW_FWD_PKTS] = 97,
        [FEAT_SUBFLOW_FWD_BYTES] = 42680,
        [FEAT_INIT_WIN_FWD] = -1,
        [FEAT_INIT_WIN_BWD] = -1,
        [FEAT_ACT_DATA_PKT_FWD] = 96,
        [FEAT_MIN_SEG_FWD] = 8,
        [FEAT_PROTOCOL] = 17,
        [FEAT_SVC_PORT_CLASS] = PORT_CLASS_WELL_KNOWN, /* 634 -> 60495 */
        [FEAT_SVC_PORT_SIDE] = PORT_SIDE_SRC,
    };
    ASSERT_VECTOR(v, e);
    ASSERT_ROUNDS(v, FEAT_FLOW_BYTES_S, 1502024, 0);
    ASSERT_ROUNDS(v, FEAT_FLOW_PKTS_S, 3413.69, 2);
    ASSERT_ROUNDS(v, FEAT_FLOW_IAT_MEAN, 295.99, 2);
    ASSERT_ROUNDS(v, FEAT_FLOW_IAT_STD, 500.96, 2);
    ASSERT_ROUNDS(v, FEAT_AVG_PKT_SIZE, 444.536, 3);
    flow_table_destroy(t);
}

/* §6.2 (d): 172.16.0.5-192.168.50.1-60495-634-17 with source 192.168.50.1:634: two 440-byte
 * packets 2 us apart. */
static void test_flow_cic_golden_udp_pair(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
    const struct conv c = {4, "192.168.50.1", 634, "172.16.0.5", 60495};
    add(t, conv_udp(&c, FROM_A, 440), T0);
    add(t, conv_udp(&c, FROM_A, 440), T0 + 2);
    flow_table_flush(t);
    assert_int_equal(s.n, 1);
    assert_true(addr_is(flow_src_addr(&s.e[0].f), 4, "192.168.50.1"));

    const double e[FEAT_COUNT] = {
        [FEAT_FLOW_DURATION] = 2,
        [FEAT_TOT_FWD_PKTS] = 2,
        [FEAT_TOTLEN_FWD] = 880,
        [FEAT_FWD_LEN_MAX] = 440,
        [FEAT_FWD_LEN_MIN] = 440,
        [FEAT_FWD_LEN_MEAN] = 440,
        [FEAT_FLOW_BYTES_S] = 4.4e8,
        [FEAT_FLOW_PKTS_S] = 1e6,
        [FEAT_FLOW_IAT_MEAN] = 2,
        [FEAT_FLOW_IAT_MAX] = 2,
        [FEAT_FLOW_IAT_MIN] = 2,
        [FEAT_FWD_IAT_TOT] = 2,
        [FEAT_FWD_IAT_MEAN] = 2,
        [FEAT_FWD_IAT_MAX] = 2,
        [FEAT_FWD_IAT_MIN] = 2,
        [FEAT_FWD_HEADER_LEN] = 16,
        [FEAT_FWD_PKTS_S] = 1e6,
        [FEAT_PKT_LEN_MIN] = 440,
        [FEAT_PKT_LEN_MAX] = 440,
        [FEAT_PKT_LEN_MEAN] = 440,
        [FEAT_AVG_PKT_SIZE] = 660, /* 3 x 440 / 2 */
        [FEAT_AVG_FWD_SEG] = 440,
        [FEAT_SUBFLOW_FWD_PKTS] = 2,
        [FEAT_SUBFLOW_FWD_BYTES] = 880,
        [FEAT_INIT_WIN_FWD] = -1,
        [FEAT_INIT_WIN_BWD] = -1,
        [FEAT_ACT_DATA_PKT_FWD] = 1,
        [FEAT_MIN_SEG_FWD] = 8,
        [FEAT_PROTOCOL] = 17,
        [FEAT_SVC_PORT_CLASS] = PORT_CLASS_WELL_KNOWN,
        [FEAT_SVC_PORT_SIDE] = PORT_SIDE_SRC,
    };
    ASSERT_VECTOR(s.e[0].v, e);
    flow_table_destroy(t);
}

/* §6.2 (e): 172.16.0.5-192.168.50.1-900-1808-17: two first fragments of 1472 payload bytes,
 * 1 us apart. */
static void test_flow_cic_golden_first_fragments(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
    struct pkt_info p = pkt_udp(4, "172.16.0.5", 900, "192.168.50.1", 1808, 1472, 1472);
    p.flags |= PKT_F_FRAGMENT;
    add(t, p, T0);
    add(t, p, T0 + 1);
    flow_table_flush(t);
    assert_int_equal(s.n, 1);
    const double *v = s.e[0].v;
    ASSERT_FEAT(v, FEAT_FLOW_DURATION, 1);
    ASSERT_FEAT(v, FEAT_TOTLEN_FWD, 2944);
    ASSERT_FEAT(v, FEAT_FLOW_BYTES_S, 2.944e9);
    ASSERT_FEAT(v, FEAT_FLOW_PKTS_S, 2e6);
    ASSERT_FEAT(v, FEAT_AVG_PKT_SIZE, 2208); /* 3 x 1472 / 2 */
    ASSERT_FEAT(v, FEAT_PKT_LEN_MEAN, 1472);
    ASSERT_FEAT(v, FEAT_FWD_HEADER_LEN, 16);
    ASSERT_FEAT(v, FEAT_ACT_DATA_PKT_FWD, 1);
    ASSERT_FEAT(v, FEAT_PROTOCOL, 17);
    flow_table_destroy(t);
}

/* §6.2 (f) and §4.5: ICMP, other protocols and non-first fragments between two hosts form one
 * protocol-0 flow without ports, lengths, headers, windows or flags. */
static void test_flow_cic_golden_protocol0(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
    const char *a = "172.16.0.5", *b = "192.168.50.1";
    uint64_t ts = T0;
    assert_non_null(add(t, frag_pkt(a, b, IPPROTO_NUM_UDP, 1480), ts));
    assert_non_null(add(t, frag_pkt(a, b, IPPROTO_NUM_UDP, 1480), ts += 10));
    assert_non_null(add(t, pkt_icmp(4, a, b, 8, 0, 77, 56), ts += 10));
    assert_non_null(add(t, pkt_icmp(4, b, a, 0, 0, 77, 56), ts += 10));
    struct pkt_info gre = pkt_base(4, a, 0, b, 0, 47);
    gre.flags = 0; /* no L4 decoded */
    gre.payload_len = 100;
    assert_non_null(add(t, gre, ts += 10));
    assert_non_null(add(t, frag_pkt(a, b, IPPROTO_NUM_UDP, 1480), ts += 10));
    /* TCP between the same hosts and protocol 0 between other hosts are other flows. */
    add(t, pkt_tcp(4, a, 1000, b, 80, TCP_SYN, 1024, 20, 0, 6), ts += 10);
    add(t, pkt_tcp(4, b, 80, a, 1000, TCP_SYN | TCP_ACK, 1024, 20, 0, 6), ts += 10);
    add(t, pkt_icmp(4, "10.1.1.1", b, 8, 0, 77, 56), ts += 10);
    add(t, pkt_icmp(4, "10.1.1.1", b, 8, 0, 78, 56), ts += 10);
    flow_table_flush(t);
    assert_int_equal(flow_table_stats(t)->flows_created, 3);
    assert_int_equal(s.n, 3);

    const struct ended *p0 = &s.e[0];
    assert_int_equal(p0->f.key.proto, 0);
    assert_int_equal(flow_src_port(&p0->f), 0);
    assert_int_equal(flow_dst_port(&p0->f), 0);
    assert_true(addr_is(flow_src_addr(&p0->f), 4, a));
    const double e[FEAT_COUNT] = {
        [FEAT_FLOW_DURATION] = 50,
        [FEAT_TOT_FWD_PKTS] = 5,
        [FEAT_TOT_BWD_PKTS] = 1,
        [FEAT_FLOW_BYTES_S] = 0,
        [FEAT_FLOW_PKTS_S] = 6 / 50e-6,
        [FEAT_FLOW_IAT_MEAN] = 10,
        [FEAT_FLOW_IAT_MAX] = 10,
        [FEAT_FLOW_IAT_MIN] = 10,
        [FEAT_FWD_IAT_TOT] = 50,
        [FEAT_FWD_IAT_MEAN] = 12.5, /* forward at 0, 10, 20, 40, 50 */
        [FEAT_FWD_IAT_STD] = 5,     /* gaps 10, 10, 20, 10 */
        [FEAT_FWD_IAT_MAX] = 20,
        [FEAT_FWD_IAT_MIN] = 10,
        [FEAT_FWD_PKTS_S] = 5 / 50e-6,
        [FEAT_BWD_PKTS_S] = 1 / 50e-6,
        [FEAT_INIT_WIN_FWD] = -1,
        [FEAT_INIT_WIN_BWD] = -1,
        [FEAT_SUBFLOW_FWD_PKTS] = 5,
        [FEAT_SUBFLOW_BWD_PKTS] = 1,
        [FEAT_MIN_SEG_FWD] = 0,
        [FEAT_PROTOCOL] = 0,
    };
    ASSERT_VECTOR(p0->v, e);
    assert_int_equal(s.e[1].f.key.proto, IPPROTO_NUM_TCP);
    assert_int_equal(s.e[2].f.key.proto, 0);
    flow_table_destroy(t);
}

/* §6.3 (CSE-CIC-IDS2018 DNS row): a 32-byte query and its 60-byte answer 641 us later. The
 * all-packet statistics run over {32, 32, 60} with the sample variance. */
static void test_flow_cic_golden_dns_request_response(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
    const struct conv c = {4, "192.168.10.25", 52411, "192.168.10.3", 53};
    add(t, conv_udp(&c, FROM_A, 32), T0);
    add(t, conv_udp(&c, FROM_B, 60), T0 + 641);
    flow_table_flush(t);
    assert_int_equal(s.n, 1);
    const double *v = s.e[0].v;
    const double e[FEAT_COUNT] = {
        [FEAT_FLOW_DURATION] = 641,
        [FEAT_TOT_FWD_PKTS] = 1,
        [FEAT_TOT_BWD_PKTS] = 1,
        [FEAT_TOTLEN_FWD] = 32,
        [FEAT_TOTLEN_BWD] = 60,
        [FEAT_FWD_LEN_MAX] = 32,
        [FEAT_FWD_LEN_MIN] = 32,
        [FEAT_FWD_LEN_MEAN] = 32,
        [FEAT_BWD_LEN_MAX] = 60,
        [FEAT_BWD_LEN_MIN] = 60,
        [FEAT_BWD_LEN_MEAN] = 60,
        [FEAT_FLOW_BYTES_S] = 92 / 641e-6,
        [FEAT_FLOW_PKTS_S] = 2 / 641e-6,
        [FEAT_FLOW_IAT_MEAN] = 641,
        [FEAT_FLOW_IAT_MAX] = 641,
        [FEAT_FLOW_IAT_MIN] = 641,
        [FEAT_FWD_HEADER_LEN] = 8,
        [FEAT_BWD_HEADER_LEN] = 8,
        [FEAT_FWD_PKTS_S] = 1 / 641e-6,
        [FEAT_BWD_PKTS_S] = 1 / 641e-6,
        [FEAT_PKT_LEN_MIN] = 32,
        [FEAT_PKT_LEN_MAX] = 60,
        [FEAT_PKT_LEN_MEAN] = 124 / 3.0,
        [FEAT_PKT_LEN_STD] = 16.165807537309522, /* sqrt(784 / 3) */
        [FEAT_PKT_LEN_VAR] = 784 / 3.0,          /* (9.33^2 + 9.33^2 + 18.67^2) / 2 */
        [FEAT_DOWN_UP_RATIO] = 1,
        [FEAT_AVG_PKT_SIZE] = 62, /* (32 + 32 + 60) / 2 */
        [FEAT_AVG_FWD_SEG] = 32,
        [FEAT_AVG_BWD_SEG] = 60,
        [FEAT_SUBFLOW_FWD_PKTS] = 1,
        [FEAT_SUBFLOW_FWD_BYTES] = 32,
        [FEAT_SUBFLOW_BWD_PKTS] = 1,
        [FEAT_SUBFLOW_BWD_BYTES] = 60,
        [FEAT_INIT_WIN_FWD] = -1,
        [FEAT_INIT_WIN_BWD] = -1,
        [FEAT_ACT_DATA_PKT_FWD] = 0,
        [FEAT_MIN_SEG_FWD] = 8,
        [FEAT_PROTOCOL] = 17,
        [FEAT_SVC_PORT_CLASS] = PORT_CLASS_REFLECTOR, /* the query went to 53 */
        [FEAT_SVC_PORT_SIDE] = PORT_SIDE_DST,
    };
    ASSERT_VECTOR(v, e);
    ASSERT_ROUNDS(v, FEAT_PKT_LEN_MEAN, 41.33, 2);
    ASSERT_ROUNDS(v, FEAT_PKT_LEN_STD, 16.17, 2);
    ASSERT_ROUNDS(v, FEAT_PKT_LEN_VAR, 261.33, 2);
    flow_table_destroy(t);
}

/* ---- cic rules (§4, §5.6) --------------------------------------------------------------- */

/* §5.6: only the first packet's flags count, written in Java HashMap order under the FIN..ECE
 * headers. The second packet (backward, every flag but FIN) must change nothing. */
static void test_flow_cic_flag_columns_permuted(void **state)
{
    static const struct {
        uint8_t flag;
        enum feat_id column;
    } map[] = {
        {TCP_FIN, FEAT_URG_CNT}, {TCP_SYN, FEAT_PSH_CNT}, {TCP_RST, FEAT_FIN_CNT},
        {TCP_PSH, FEAT_SYN_CNT}, {TCP_ACK, FEAT_ACK_CNT}, {TCP_URG, FEAT_CWR_CNT},
        {TCP_ECE, FEAT_RST_CNT}, {TCP_CWR, FEAT_ECE_CNT},
    };
    const struct conv c = {4, "10.0.0.1", 40000, "10.0.0.2", 80};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        struct sink s;
        struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
        add(t, conv_tcp(&c, FROM_A, map[i].flag, 1000, 20, 0, 6), T0);
        add(t, conv_tcp(&c, FROM_B, (uint8_t)~TCP_FIN, 1000, 20, 10, 10), T0 + 5);
        flow_table_flush(t);
        assert_int_equal(s.n, 1);
        const double *v = s.e[0].v;
        for (int col = FEAT_FIN_CNT; col <= FEAT_ECE_CNT; col++) {
            double want = col == (int)map[i].column ? 1 : 0;
            if (v[col] != want) {
                print_error("first packet flag 0x%02x: column \"%s\" = %g, expected %g\n",
                            map[i].flag, feat_name_cic((enum feat_id)col), v[col], want);
                fail();
            }
        }
        assert_true(v[FEAT_FWD_PSH_FLAGS] == (map[i].flag == TCP_PSH));
        assert_true(v[FEAT_FWD_URG_FLAGS] == (map[i].flag == TCP_URG));
        assert_true(v[FEAT_BWD_PSH_FLAGS] == 0);
        assert_true(v[FEAT_BWD_URG_FLAGS] == 0);
        flow_table_destroy(t);
    }
    /* The legacy header names the columns FIN..ECE; the first packet's FIN lands in "URG". */
    assert_string_equal(feat_name_cic(FEAT_URG_CNT), " URG Flag Count");
    assert_string_equal(feat_name_cic(FEAT_CWR_CNT), " CWE Flag Count");
}

/* §4.4: flows with fewer than 2 packets are never written, but are counted. */
static void test_flow_cic_single_packet_flows_suppressed(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
    add(t, pkt_tcp(4, "203.0.113.9", 1234, "10.0.0.2", 80, TCP_SYN, 1024, 20, 0, 6), T0);
    add(t, pkt_udp(4, "203.0.113.10", 1234, "10.0.0.2", 53, 30, 30), T0 + 1);
    add(t, pkt_icmp(4, "203.0.113.11", "10.0.0.2", 8, 0, 1, 56), T0 + 2);
    flow_table_flush(t);
    const struct flow_table_stats *st = flow_table_stats(t);
    assert_int_equal(s.n, 0);
    assert_int_equal(st->flows_created, 3);
    assert_int_equal(st->flows_suppressed, 3);
    assert_int_equal(st->flows_emitted, 0);
    assert_int_equal(st->flows_ended[FLOW_END_FLUSH], 3);
    flow_table_destroy(t);
}

/* §4.3: the first FIN in either direction ends the flow with the FIN packet in it; the peer's
 * ACK then starts an "appendix" flow oriented from the peer, which its own FIN ends in turn. */
static void test_flow_cic_first_fin_ends_flow(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
    const struct conv c = {4, "10.0.0.1", 40000, "10.0.0.2", 80};
    uint64_t ts = T0;
    assert_non_null(add(t, conv_tcp(&c, FROM_A, TCP_SYN, 64240, 40, 0, 0), ts));
    assert_non_null(add(t, conv_tcp(&c, FROM_B, TCP_SYN | TCP_ACK, 65160, 40, 0, 0), ts += 10));
    assert_non_null(add(t, conv_tcp(&c, FROM_A, TCP_ACK, 502, 32, 0, 6), ts += 10));
    assert_non_null(add(t, conv_tcp(&c, FROM_A, TCP_PSH | TCP_ACK, 502, 32, 100, 100), ts += 10));
    assert_null(add(t, conv_tcp(&c, FROM_A, TCP_FIN | TCP_ACK, 502, 32, 0, 6), ts += 10));
    assert_int_equal(s.n, 1);
    assert_int_equal(s.e[0].why, FLOW_END_FIN);
    ASSERT_FEAT(s.e[0].v, FEAT_TOT_FWD_PKTS, 4); /* the FIN is in it */
    ASSERT_FEAT(s.e[0].v, FEAT_TOT_BWD_PKTS, 1);
    ASSERT_FEAT(s.e[0].v, FEAT_FLOW_DURATION, 40);
    ASSERT_FEAT(s.e[0].v, FEAT_PSH_CNT, 1); /* the SYN of the first packet */
    ASSERT_FEAT(s.e[0].v, FEAT_INIT_WIN_FWD, 64240);
    ASSERT_FEAT(s.e[0].v, FEAT_INIT_WIN_BWD, 65160);
    ASSERT_FEAT(s.e[0].v, FEAT_ACT_DATA_PKT_FWD, 3); /* padded ACK, data, padded FIN */

    struct flow *f = add(t, conv_tcp(&c, FROM_B, TCP_ACK, 509, 32, 0, 6), ts += 10);
    assert_non_null(f);
    assert_true(addr_is(flow_src_addr(f), 4, "10.0.0.2"));
    assert_int_equal(flow_src_port(f), 80);
    assert_null(add(t, conv_tcp(&c, FROM_B, TCP_FIN | TCP_ACK, 509, 32, 0, 6), ts += 10));
    assert_int_equal(s.n, 2);
    assert_int_equal(s.e[1].why, FLOW_END_FIN);
    ASSERT_FEAT(s.e[1].v, FEAT_TOT_FWD_PKTS, 2);
    ASSERT_FEAT(s.e[1].v, FEAT_URG_CNT, 0); /* its first packet is a plain ACK */
    ASSERT_FEAT(s.e[1].v, FEAT_ACK_CNT, 1);
    ASSERT_FEAT(s.e[1].v, FEAT_AVG_PKT_SIZE, 9);

    /* The last ACK is alone: a 1-packet flow, not written. */
    assert_non_null(add(t, conv_tcp(&c, FROM_A, TCP_ACK, 502, 32, 0, 6), ts += 10));
    flow_table_flush(t);
    assert_int_equal(s.n, 2);
    const struct flow_table_stats *st = flow_table_stats(t);
    assert_int_equal(st->flows_created, 3);
    assert_int_equal(st->flows_ended[FLOW_END_FIN], 2);
    assert_int_equal(st->flows_suppressed, 1);
    flow_table_destroy(t);
}

/* §4.3: RST means nothing in cic mode; a later SYN on the same 5-tuple joins the same flow. */
static void test_flow_cic_rst_does_not_end_flow(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
    const struct conv c = {4, "10.0.0.1", 40000, "10.0.0.2", 81};
    uint64_t ts = T0;
    add(t, conv_tcp(&c, FROM_A, TCP_SYN, 1024, 24, 0, 2), ts);
    assert_non_null(add(t, conv_tcp(&c, FROM_B, TCP_RST | TCP_ACK, 29, 20, 0, 6), ts += 50));
    assert_non_null(add(t, conv_tcp(&c, FROM_A, TCP_SYN, 1024, 24, 0, 2), ts += 3 * SEC));
    assert_non_null(add(t, conv_tcp(&c, FROM_B, TCP_RST | TCP_ACK, 0, 20, 0, 6), ts += 50));
    assert_int_equal(s.n, 0);
    flow_table_flush(t);
    assert_int_equal(s.n, 1);
    assert_int_equal(flow_table_stats(t)->flows_created, 1);
    assert_int_equal(flow_table_stats(t)->flows_ended[FLOW_END_RST], 0);
    ASSERT_FEAT(s.e[0].v, FEAT_TOT_FWD_PKTS, 2);
    ASSERT_FEAT(s.e[0].v, FEAT_TOT_BWD_PKTS, 2);
    ASSERT_FEAT(s.e[0].v, FEAT_TOTLEN_FWD, 4);   /* nmap-style SYN: 2 bytes of padding */
    ASSERT_FEAT(s.e[0].v, FEAT_INIT_WIN_BWD, 0); /* the last backward window, not 29 */
    flow_table_destroy(t);
}

/* §4.5: IPv6 is not read at all in cic mode. */
static void test_flow_cic_ipv6_skipped(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
    assert_null(
        add(t, pkt_tcp(6, "2001:db8::1", 40000, "2001:db8::2", 80, TCP_SYN, 1000, 40, 0, 0), T0));
    assert_null(add(t, pkt_udp(6, "2001:db8::2", 80, "2001:db8::1", 40000, 10, 10), T0 + 1));
    assert_null(add(t, pkt_icmp(6, "2001:db8::1", "2001:db8::2", 128, 0, 1, 8), T0 + 2));
    const struct flow_table_stats *st = flow_table_stats(t);
    assert_int_equal(st->packets, 3);
    assert_int_equal(st->packets_skipped, 3);
    assert_int_equal(st->flows_created, 0);
    assert_int_equal(st->active, 0);
    flow_table_flush(t);
    assert_int_equal(s.n, 0);
    flow_table_destroy(t);
}

/* §4.2: 120 s from the first packet, no idle timeout. The packet that comes after the deadline
 * starts a continuation flow that keeps the old orientation and is booked forward even when it
 * travels backward. */
static void test_flow_cic_active_timeout_continuation(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
    const struct conv c = {4, "10.0.0.1", 5000, "10.0.0.2", 6000};
    add(t, conv_udp(&c, FROM_A, 100), T0);
    add(t, conv_udp(&c, FROM_B, 200), T0 + 1 * SEC);
    add(t, conv_udp(&c, FROM_B, 200), T0 + 101 * SEC); /* idle 100 s: no idle timeout */
    assert_int_equal(s.n, 0);
    struct flow *f = add(t, conv_udp(&c, FROM_B, 300), T0 + 121 * SEC);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.e[0].why, FLOW_END_ACTIVE);
    ASSERT_FEAT(s.e[0].v, FEAT_FLOW_DURATION, 101 * 1e6);
    ASSERT_FEAT(s.e[0].v, FEAT_TOT_FWD_PKTS, 1);
    ASSERT_FEAT(s.e[0].v, FEAT_TOT_BWD_PKTS, 2);
    /* cic Idle: the 100 s gap (> 5 s) closed an active period of 1 s. */
    ASSERT_FEAT(s.e[0].v, FEAT_IDLE_MAX, 100 * 1e6);
    ASSERT_FEAT(s.e[0].v, FEAT_ACTIVE_MAX, 1 * 1e6);

    assert_non_null(f);
    assert_true(addr_is(flow_src_addr(f), 4, "10.0.0.1"));
    assert_int_equal(flow_src_port(f), 5000);
    assert_int_equal(f->dir[0].pkts, 1); /* the backward packet, booked forward */
    add(t, conv_udp(&c, FROM_A, 100), T0 + 122 * SEC);
    add(t, conv_udp(&c, FROM_B, 300), T0 + 123 * SEC);
    flow_table_flush(t);
    assert_int_equal(s.n, 2);
    assert_true(addr_is(flow_src_addr(&s.e[1].f), 4, "10.0.0.1"));
    ASSERT_FEAT(s.e[1].v, FEAT_TOT_FWD_PKTS, 2);
    ASSERT_FEAT(s.e[1].v, FEAT_TOT_BWD_PKTS, 1);
    ASSERT_FEAT(s.e[1].v, FEAT_TOTLEN_FWD, 400);
    ASSERT_FEAT(s.e[1].v, FEAT_TOTLEN_BWD, 300);
    ASSERT_FEAT(s.e[1].v, FEAT_FLOW_DURATION, 2 * 1e6);
    flow_table_destroy(t);

    /* Exactly 120 s after the first packet is still the same flow; one microsecond more is not. */
    t = table_new(FEAT_MODE_CIC, &s);
    add(t, conv_udp(&c, FROM_A, 100), T0);
    add(t, conv_udp(&c, FROM_A, 100), T0 + 120 * SEC);
    assert_int_equal(flow_table_stats(t)->flows_created, 1);
    add(t, conv_udp(&c, FROM_A, 100), T0 + 120 * SEC + 1);
    assert_int_equal(flow_table_stats(t)->flows_created, 2);
    assert_int_equal(s.n, 1);
    ASSERT_FEAT(s.e[0].v, FEAT_FLOW_DURATION, 120 * 1e6);
    flow_table_destroy(t);
}

/* §5.9: the FIN packet that ends a cic flow skips the activity update, so a 9 s pause before
 * it records no Idle (and no Active) period; the same pause before a plain packet does. */
static void test_flow_cic_fin_skips_activity_update(void **state)
{
    const struct conv c = {4, "10.0.0.1", 40000, "10.0.0.2", 80};
    for (int fin = 0; fin <= 1; fin++) {
        struct sink s;
        struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
        add(t, conv_tcp(&c, FROM_A, TCP_ACK, 500, 20, 10, 10), T0);
        add(t, conv_tcp(&c, FROM_B, TCP_ACK, 500, 20, 10, 10), T0 + 1 * SEC);
        add(t, conv_tcp(&c, FROM_A, fin ? TCP_FIN | TCP_ACK : TCP_ACK, 500, 20, 0, 6),
            T0 + 10 * SEC);
        flow_table_flush(t);
        assert_int_equal(s.n, 1);
        assert_int_equal(s.e[0].why, fin ? FLOW_END_FIN : FLOW_END_FLUSH);
        ASSERT_FEAT(s.e[0].v, FEAT_FLOW_DURATION, 10e6);
        ASSERT_FEAT(s.e[0].v, FEAT_IDLE_MAX, fin ? 0 : 9e6);
        ASSERT_FEAT(s.e[0].v, FEAT_ACTIVE_MAX, fin ? 0 : 1e6);
        flow_table_destroy(t);
    }
}

/* §5.3: zero duration gives Java's Infinity / NaN in cic mode, 0 in fixed mode; the per-
 * direction rates are 0 in both. */
static void test_flow_cic_zero_duration_rates(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_CIC, &s);
    const struct conv c = {4, "10.0.0.1", 5000, "10.0.0.2", 6000};
    add(t, conv_udp(&c, FROM_A, 100), T0);
    add(t, conv_udp(&c, FROM_B, 100), T0);
    add(t, pkt_icmp(4, "10.0.0.3", "10.0.0.4", 8, 0, 1, 56), T0);
    add(t, pkt_icmp(4, "10.0.0.4", "10.0.0.3", 0, 0, 1, 56), T0);
    flow_table_flush(t);
    assert_int_equal(s.n, 2);
    const double *v = s.e[0].v;
    assert_true(isinf(v[FEAT_FLOW_BYTES_S]) && v[FEAT_FLOW_BYTES_S] > 0);
    assert_true(isinf(v[FEAT_FLOW_PKTS_S]) && v[FEAT_FLOW_PKTS_S] > 0);
    ASSERT_FEAT(v, FEAT_FWD_PKTS_S, 0);
    ASSERT_FEAT(v, FEAT_BWD_PKTS_S, 0);
    v = s.e[1].v; /* protocol 0: no bytes at all */
    assert_true(isnan(v[FEAT_FLOW_BYTES_S]));
    assert_true(isinf(v[FEAT_FLOW_PKTS_S]) && v[FEAT_FLOW_PKTS_S] > 0);
    flow_table_destroy(t);

    t = table_new(FEAT_MODE_FIXED, &s);
    add(t, conv_udp(&c, FROM_A, 100), T0);
    add(t, conv_udp(&c, FROM_B, 100), T0);
    flow_table_flush(t);
    assert_int_equal(s.n, 1);
    for (int i = 0; i < FEAT_COUNT; i++)
        assert_true(isfinite(s.e[0].v[i]));
    ASSERT_FEAT(s.e[0].v, FEAT_FLOW_BYTES_S, 0);
    ASSERT_FEAT(s.e[0].v, FEAT_FLOW_PKTS_S, 0);
    flow_table_destroy(t);
}

/* ---- fixed mode ------------------------------------------------------------------------- */

/* A complete TCP session, client 10.0.0.1:40000, server 10.0.0.2:80 (t in us from T0):
 *   #  t     dir  flags          win    hdr payload (captured)
 *   1  0     C>S  SYN ECE CWR    64240  40  0
 *   2  100   S>C  SYN ACK ECE    65160  40  0
 *   3  200   C>S  ACK            502    32  0   (6: Ethernet padding)
 *   4  300   C>S  PSH ACK        502    32  100
 *   5  1300  S>C  ACK            510    32  0   (6)
 *   6  1400  S>C  PSH ACK        510    32  1000
 *   7  1500  C>S  ACK            501    32  0   (6)
 *   8  2000  C>S  FIN ACK        501    32  0   (6)
 *   9  2100  S>C  FIN ACK        510    32  0   (6)
 *  10  2200  C>S  ACK            501    32  0   (6)
 * Forward: 1,3,4,7,8,10 (6 packets, 100 bytes); backward: 2,5,6,9 (4 packets, 1000 bytes). */
static const struct conv session = {4, "10.0.0.1", 40000, "10.0.0.2", 80};

static const struct {
    uint32_t t;
    int from_a;
    uint8_t flags;
    uint16_t win, hdr;
    uint32_t len, captured;
} session_pkts[] = {
    {0, FROM_A, TCP_SYN | TCP_ECE | TCP_CWR, 64240, 40, 0, 0},
    {100, FROM_B, TCP_SYN | TCP_ACK | TCP_ECE, 65160, 40, 0, 0},
    {200, FROM_A, TCP_ACK, 502, 32, 0, 6},
    {300, FROM_A, TCP_PSH | TCP_ACK, 502, 32, 100, 100},
    {1300, FROM_B, TCP_ACK, 510, 32, 0, 6},
    {1400, FROM_B, TCP_PSH | TCP_ACK, 510, 32, 1000, 1000},
    {1500, FROM_A, TCP_ACK, 501, 32, 0, 6},
    {2000, FROM_A, TCP_FIN | TCP_ACK, 501, 32, 0, 6},
    {2100, FROM_B, TCP_FIN | TCP_ACK, 510, 32, 0, 6},
    {2200, FROM_A, TCP_ACK, 501, 32, 0, 6},
};
enum { SESSION_N = sizeof(session_pkts) / sizeof(session_pkts[0]) };

static struct flow *session_add(struct flow_table *t, size_t i, uint64_t base)
{
    return add(t,
               conv_tcp(&session, session_pkts[i].from_a, session_pkts[i].flags,
                        session_pkts[i].win, session_pkts[i].hdr, session_pkts[i].len,
                        session_pkts[i].captured),
               base + session_pkts[i].t);
}

static void session_expect(double e[FEAT_COUNT])
{
    memset(e, 0, FEAT_COUNT * sizeof(double));
    e[FEAT_FLOW_DURATION] = 2200;
    e[FEAT_TOT_FWD_PKTS] = 6;
    e[FEAT_TOT_BWD_PKTS] = 4;
    e[FEAT_TOTLEN_FWD] = 100; /* payload_len: the padding is not counted */
    e[FEAT_TOTLEN_BWD] = 1000;
    /* Forward lengths {0,0,100,0,0,0}: mean 100/6, var (10000 - 6 (100/6)^2) / 5 = 5000/3. */
    e[FEAT_FWD_LEN_MAX] = 100;
    e[FEAT_FWD_LEN_MIN] = 0;
    e[FEAT_FWD_LEN_MEAN] = 100 / 6.0;
    e[FEAT_FWD_LEN_STD] = sqrt(5000 / 3.0);
    /* Backward {0,0,1000,0}: mean 250, var (1e6 - 4 x 62500) / 3 = 250000. */
    e[FEAT_BWD_LEN_MAX] = 1000;
    e[FEAT_BWD_LEN_MEAN] = 250;
    e[FEAT_BWD_LEN_STD] = 500;
    e[FEAT_FLOW_BYTES_S] = 1100 / 0.0022; /* 500000 */
    e[FEAT_FLOW_PKTS_S] = 10 / 0.0022;
    /* Flow gaps: 100 x 7, 1000, 500; sum 2200, sum of squares 1,320,000. */
    e[FEAT_FLOW_IAT_MEAN] = 2200 / 9.0;
    e[FEAT_FLOW_IAT_STD] = sqrt((1320000 - 2200.0 * 2200 / 9) / 8);
    e[FEAT_FLOW_IAT_MAX] = 1000;
    e[FEAT_FLOW_IAT_MIN] = 100;
    /* Forward times 0,200,300,1500,2000,2200: gaps 200,100,1200,500,200 (squares 1,780,000). */
    e[FEAT_FWD_IAT_TOT] = 2200;
    e[FEAT_FWD_IAT_MEAN] = 440;
    e[FEAT_FWD_IAT_STD] = sqrt((1780000 - 5 * 440.0 * 440) / 4);
    e[FEAT_FWD_IAT_MAX] = 1200;
    e[FEAT_FWD_IAT_MIN] = 100;
    /* Backward times 100,1300,1400,2100: gaps 1200,100,700 (squares 1,940,000). */
    e[FEAT_BWD_IAT_TOT] = 2000;
    e[FEAT_BWD_IAT_MEAN] = 2000 / 3.0;
    e[FEAT_BWD_IAT_STD] = sqrt((1940000 - 2000.0 * 2000 / 3) / 2);
    e[FEAT_BWD_IAT_MAX] = 1200;
    e[FEAT_BWD_IAT_MIN] = 100;
    e[FEAT_FWD_PSH_FLAGS] = 1; /* #4 */
    e[FEAT_BWD_PSH_FLAGS] = 1; /* #6 */
    e[FEAT_FWD_HEADER_LEN] = 40 + 5 * 32;
    e[FEAT_BWD_HEADER_LEN] = 40 + 3 * 32;
    e[FEAT_FWD_PKTS_S] = 6 / 0.0022;
    e[FEAT_BWD_PKTS_S] = 4 / 0.0022;
    /* All ten lengths (no double count): mean 110, var (10000 + 1e6 - 10 x 12100) / 9. */
    e[FEAT_PKT_LEN_MIN] = 0;
    e[FEAT_PKT_LEN_MAX] = 1000;
    e[FEAT_PKT_LEN_MEAN] = 110;
    e[FEAT_PKT_LEN_VAR] = 889000 / 9.0;
    e[FEAT_PKT_LEN_STD] = sqrt(889000 / 9.0);
    e[FEAT_FIN_CNT] = 2;
    e[FEAT_SYN_CNT] = 2;
    e[FEAT_PSH_CNT] = 2;
    e[FEAT_ACK_CNT] = 9; /* all but the SYN */
    e[FEAT_CWR_CNT] = 1;
    e[FEAT_ECE_CNT] = 2;
    e[FEAT_DOWN_UP_RATIO] = 4 / 6.0;
    e[FEAT_AVG_PKT_SIZE] = 110;
    e[FEAT_AVG_FWD_SEG] = 100 / 6.0;
    e[FEAT_AVG_BWD_SEG] = 250;
    e[FEAT_SUBFLOW_FWD_PKTS] = 6; /* no gap over 1 s: one subflow */
    e[FEAT_SUBFLOW_FWD_BYTES] = 100;
    e[FEAT_SUBFLOW_BWD_PKTS] = 4;
    e[FEAT_SUBFLOW_BWD_BYTES] = 1000;
    e[FEAT_INIT_WIN_FWD] = 64240; /* first forward window */
    e[FEAT_INIT_WIN_BWD] = 65160; /* first backward window, not the last (510) */
    e[FEAT_ACT_DATA_PKT_FWD] = 1;
    e[FEAT_MIN_SEG_FWD] = 32;
    /* No gap over 5 s: no idle period; fixed counts the open active period 0..2200. */
    e[FEAT_ACTIVE_MEAN] = 2200;
    e[FEAT_ACTIVE_MAX] = 2200;
    e[FEAT_ACTIVE_MIN] = 2200;
    e[FEAT_PROTOCOL] = 6;
    e[FEAT_SVC_PORT_CLASS] = PORT_CLASS_WEB; /* 40000 -> 80 */
    e[FEAT_SVC_PORT_SIDE] = PORT_SIDE_DST;
}

/* The session stays one flow through its teardown and ends close_linger (2 s) after the last
 * ACK, by the expiry sweep. */
static void test_flow_fixed_tcp_session_one_flow(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, &s);
    for (size_t i = 0; i < SESSION_N; i++) {
        assert_non_null(session_add(t, i, T0));
        (void)flow_table_expire(t, T0 + session_pkts[i].t, 1024);
    }
    assert_int_equal(flow_table_stats(t)->flows_created, 1);
    assert_int_equal(s.n, 0);
    assert_int_equal(flow_table_expire(t, T0 + 2200 + 2 * SEC - 1, 1024), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(flow_table_expire(t, T0 + 2200 + 3 * SEC, 1024), 1);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.e[0].why, FLOW_END_FIN);
    assert_true(addr_is(flow_src_addr(&s.e[0].f), 4, "10.0.0.1"));

    double e[FEAT_COUNT];
    session_expect(e);
    ASSERT_VECTOR(s.e[0].v, e);
    flow_table_destroy(t);
}

/* A new SYN on a closed flow ends it at once and starts the next flow. */
static void test_flow_fixed_new_syn_after_close(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, &s);
    for (size_t i = 0; i < SESSION_N; i++)
        session_add(t, i, T0);
    struct flow *f = session_add(t, 0, T0 + 500000); /* SYN again, within the linger */
    assert_non_null(f);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.e[0].why, FLOW_END_FIN);
    ASSERT_FEAT(s.e[0].v, FEAT_TOT_FWD_PKTS, 6);
    ASSERT_FEAT(s.e[0].v, FEAT_TOT_BWD_PKTS, 4);
    assert_int_equal(flow_packets(f), 1);
    assert_int_equal(flow_table_stats(t)->flows_created, 2);
    session_add(t, 1, T0 + 500000);
    flow_table_flush(t);
    assert_int_equal(s.n, 2);
    ASSERT_FEAT(s.e[1].v, FEAT_SYN_CNT, 2);
    ASSERT_FEAT(s.e[1].v, FEAT_TOT_FWD_PKTS, 1);
    ASSERT_FEAT(s.e[1].v, FEAT_TOT_BWD_PKTS, 1);

    /* A retransmitted SYN on an open flow is not a new flow. */
    flow_table_destroy(t);
    t = table_new(FEAT_MODE_FIXED, &s);
    session_add(t, 0, T0);
    session_add(t, 0, T0 + SEC);
    assert_int_equal(flow_table_stats(t)->flows_created, 1);
    flow_table_destroy(t);
}

/* RST closes the flow; stragglers within close_linger stay in it; the sweep ends it after. */
static void test_flow_fixed_rst_linger(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, &s);
    const struct conv c = {4, "10.0.0.1", 40001, "10.0.0.2", 443};
    add(t, conv_tcp(&c, FROM_A, TCP_SYN, 64240, 40, 0, 0), T0);
    (void)flow_table_expire(t, T0, 1024);
    add(t, conv_tcp(&c, FROM_B, TCP_SYN | TCP_ACK, 65160, 40, 0, 0), T0 + 100);
    add(t, conv_tcp(&c, FROM_A, TCP_RST, 0, 20, 0, 6), T0 + 200);
    (void)flow_table_expire(t, T0 + 200, 1024);
    add(t, conv_tcp(&c, FROM_B, TCP_ACK, 510, 32, 0, 6), T0 + 200 + SEC); /* straggler */
    assert_int_equal(flow_table_expire(t, T0 + 200 + 2 * SEC - 1, 1024), 0);
    assert_int_equal(flow_table_stats(t)->flows_created, 1);
    assert_int_equal(s.n, 0);
    assert_int_equal(flow_table_expire(t, T0 + 200 + 3 * SEC, 1024), 1);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.e[0].why, FLOW_END_RST);
    ASSERT_FEAT(s.e[0].v, FEAT_TOT_FWD_PKTS, 2);
    ASSERT_FEAT(s.e[0].v, FEAT_TOT_BWD_PKTS, 2);
    ASSERT_FEAT(s.e[0].v, FEAT_RST_CNT, 1);
    ASSERT_FEAT(s.e[0].v, FEAT_SYN_CNT, 2);
    ASSERT_FEAT(s.e[0].v, FEAT_FLOW_DURATION, 200 + 1e6);
    assert_int_equal(flow_table_stats(t)->flows_ended[FLOW_END_RST], 1);

    /* A packet after the linger starts a new flow (deadline checked on arrival). */
    add(t, conv_tcp(&c, FROM_A, TCP_SYN, 64240, 40, 0, 0), T0 + 10 * SEC);
    add(t, conv_tcp(&c, FROM_B, TCP_RST | TCP_ACK, 0, 20, 0, 0), T0 + 10 * SEC + 50);
    add(t, conv_tcp(&c, FROM_B, TCP_ACK, 0, 20, 0, 0), T0 + 12 * SEC + 50);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.e[1].why, FLOW_END_RST);
    ASSERT_FEAT(s.e[1].v, FEAT_TOT_FWD_PKTS, 1);
    ASSERT_FEAT(s.e[1].v, FEAT_TOT_BWD_PKTS, 1);
    assert_int_equal(flow_table_stats(t)->flows_created, 3);
    flow_table_destroy(t);
}

/* Single spoofed SYNs (random sources) are flows of one packet, and fixed mode emits them. */
static void test_flow_fixed_single_syn_emitted(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, &s);
    const char *src[] = {"198.51.100.7", "203.0.113.99", "192.0.2.200"};
    for (int i = 0; i < 3; i++)
        add(t, pkt_tcp(4, src[i], (uint16_t)(1024 + i), "10.0.0.2", 80, TCP_SYN, 512, 20, 0, 6),
            T0 + (uint64_t)i);
    (void)flow_table_expire(t, T0 + 2, 1024);
    assert_int_equal(flow_table_expire(t, T0 + 61 * SEC, 1024), 3);
    assert_int_equal(s.n, 3);
    for (int i = 0; i < 3; i++) {
        const double *v = s.e[i].v;
        assert_int_equal(s.e[i].why, FLOW_END_IDLE);
        assert_true(addr_is(flow_src_addr(&s.e[i].f), 4, src[i]));
        const double e[FEAT_COUNT] = {
            [FEAT_TOT_FWD_PKTS] = 1,
            [FEAT_FWD_HEADER_LEN] = 20,
            [FEAT_SYN_CNT] = 1,
            [FEAT_SUBFLOW_FWD_PKTS] = 1,
            [FEAT_INIT_WIN_FWD] = 512,
            [FEAT_INIT_WIN_BWD] = -1,
            [FEAT_MIN_SEG_FWD] = 20,
            [FEAT_PROTOCOL] = 6,
            [FEAT_SVC_PORT_CLASS] = PORT_CLASS_WEB,
            [FEAT_SVC_PORT_SIDE] = PORT_SIDE_DST,
        };
        ASSERT_VECTOR(v, e);
    }
    assert_int_equal(flow_table_stats(t)->flows_suppressed, 0);
    flow_table_destroy(t);
}

/* fixed counts the first packet in act_data_pkt_fwd (cic does not). */
static void test_flow_fixed_act_data_counts_first_packet(void **state)
{
    const struct conv c = {4, "10.0.0.1", 5353, "10.0.0.2", 53};
    enum feat_mode modes[] = {FEAT_MODE_FIXED, FEAT_MODE_CIC};
    double want[] = {2, 1};
    for (int m = 0; m < 2; m++) {
        struct sink s;
        struct flow_table *t = table_new(modes[m], &s);
        add(t, conv_udp(&c, FROM_A, 40), T0);
        add(t, conv_udp(&c, FROM_B, 0), T0 + 10);
        add(t, conv_udp(&c, FROM_A, 40), T0 + 20);
        flow_table_flush(t);
        assert_int_equal(s.n, 1);
        ASSERT_FEAT(s.e[0].v, FEAT_ACT_DATA_PKT_FWD, want[m]);
        flow_table_destroy(t);
    }
}

/* IPv6 flows are flows in fixed mode. */
static void test_flow_fixed_ipv6(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, &s);
    const struct conv c = {6, "2001:db8::10", 40000, "2001:db8::1", 443};
    struct flow *f = add(t, conv_tcp(&c, FROM_A, TCP_SYN, 64800, 40, 0, 0), T0);
    assert_non_null(f);
    assert_ptr_equal(add(t, conv_tcp(&c, FROM_B, TCP_SYN | TCP_ACK, 64260, 40, 0, 0), T0 + 40), f);
    add(t, conv_tcp(&c, FROM_A, TCP_ACK | TCP_PSH, 500, 32, 517, 517), T0 + 80);
    flow_table_flush(t);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.e[0].f.key.ip_version, 6);
    assert_true(addr_is(flow_src_addr(&s.e[0].f), 6, "2001:db8::10"));
    assert_true(addr_is(flow_dst_addr(&s.e[0].f), 6, "2001:db8::1"));
    ASSERT_FEAT(s.e[0].v, FEAT_TOT_FWD_PKTS, 2);
    ASSERT_FEAT(s.e[0].v, FEAT_TOT_BWD_PKTS, 1);
    ASSERT_FEAT(s.e[0].v, FEAT_TOTLEN_FWD, 517);
    ASSERT_FEAT(s.e[0].v, FEAT_INIT_WIN_FWD, 64800);
    ASSERT_FEAT(s.e[0].v, FEAT_INIT_WIN_BWD, 64260);
    assert_int_equal(flow_table_stats(t)->packets_skipped, 0);
    flow_table_destroy(t);
}

/* Echo request and reply are one flow (keyed by the identifier) with the first packet's ICMP
 * type and code; another identifier is another flow. Same for ICMPv6. */
static void test_flow_fixed_icmp_echo(void **state)
{
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, &s);
    struct flow *f = add(t, pkt_icmp(4, "10.0.0.1", "10.0.0.2", 8, 0, 0x1234, 56), T0);
    assert_ptr_equal(add(t, pkt_icmp(4, "10.0.0.2", "10.0.0.1", 0, 0, 0x1234, 56), T0 + 300), f);
    assert_ptr_not_equal(add(t, pkt_icmp(4, "10.0.0.1", "10.0.0.2", 8, 0, 0x1235, 56), T0 + 400),
                         f);
    struct flow *f6 = add(t, pkt_icmp(6, "2001:db8::1", "2001:db8::2", 128, 0, 7, 16), T0 + 500);
    assert_ptr_equal(add(t, pkt_icmp(6, "2001:db8::2", "2001:db8::1", 129, 0, 7, 16), T0 + 600),
                     f6);
    flow_table_flush(t);
    assert_int_equal(s.n, 3);
    const double e[FEAT_COUNT] = {
        [FEAT_FLOW_DURATION] = 300,
        [FEAT_TOT_FWD_PKTS] = 1,
        [FEAT_TOT_BWD_PKTS] = 1,
        [FEAT_TOTLEN_FWD] = 56,
        [FEAT_TOTLEN_BWD] = 56,
        [FEAT_FWD_LEN_MAX] = 56,
        [FEAT_FWD_LEN_MIN] = 56,
        [FEAT_FWD_LEN_MEAN] = 56,
        [FEAT_BWD_LEN_MAX] = 56,
        [FEAT_BWD_LEN_MIN] = 56,
        [FEAT_BWD_LEN_MEAN] = 56,
        [FEAT_FLOW_BYTES_S] = 112 / 300e-6,
        [FEAT_FLOW_PKTS_S] = 2 / 300e-6,
        [FEAT_FLOW_IAT_MEAN] = 300,
        [FEAT_FLOW_IAT_MAX] = 300,
        [FEAT_FLOW_IAT_MIN] = 300,
        [FEAT_FWD_HEADER_LEN] = 8,
        [FEAT_BWD_HEADER_LEN] = 8,
        [FEAT_FWD_PKTS_S] = 1 / 300e-6,
        [FEAT_BWD_PKTS_S] = 1 / 300e-6,
        [FEAT_PKT_LEN_MIN] = 56,
        [FEAT_PKT_LEN_MAX] = 56,
        [FEAT_PKT_LEN_MEAN] = 56,
        [FEAT_DOWN_UP_RATIO] = 1,
        [FEAT_AVG_PKT_SIZE] = 56,
        [FEAT_AVG_FWD_SEG] = 56,
        [FEAT_AVG_BWD_SEG] = 56,
        [FEAT_SUBFLOW_FWD_PKTS] = 1,
        [FEAT_SUBFLOW_FWD_BYTES] = 56,
        [FEAT_SUBFLOW_BWD_PKTS] = 1,
        [FEAT_SUBFLOW_BWD_BYTES] = 56,
        [FEAT_INIT_WIN_FWD] = -1,
        [FEAT_INIT_WIN_BWD] = -1,
        [FEAT_ACT_DATA_PKT_FWD] = 1,
        [FEAT_MIN_SEG_FWD] = 8,
        [FEAT_ACTIVE_MEAN] = 300,
        [FEAT_ACTIVE_MAX] = 300,
        [FEAT_ACTIVE_MIN] = 300,
        [FEAT_PROTOCOL] = 1,
        [FEAT_ICMP_TYPE] = 8,
        [FEAT_ICMP_CODE] = 0,
    };
    ASSERT_VECTOR(s.e[0].v, e);
    ASSERT_FEAT(s.e[1].v, FEAT_TOT_FWD_PKTS, 1);
    ASSERT_FEAT(s.e[2].v, FEAT_PROTOCOL, 58);
    ASSERT_FEAT(s.e[2].v, FEAT_ICMP_TYPE, 128);
    ASSERT_FEAT(s.e[2].v, FEAT_TOT_BWD_PKTS, 1);

    /* An unreachable (type 3, code 3) keeps its own type and code. */
    flow_table_destroy(t);
    t = table_new(FEAT_MODE_FIXED, &s);
    add(t, pkt_icmp(4, "10.0.0.2", "10.0.0.1", 3, 3, 0, 36), T0);
    flow_table_flush(t);
    ASSERT_FEAT(s.e[0].v, FEAT_ICMP_TYPE, 3);
    ASSERT_FEAT(s.e[0].v, FEAT_ICMP_CODE, 3);
    flow_table_destroy(t);
}

/* Idle timeout (60 s) and active timeout (120 s from the first packet), each through the
 * expiry sweep and through the flow's next packet. */
static void test_flow_fixed_timeouts(void **state)
{
    struct sink s;
    const struct conv c = {4, "10.0.0.1", 5000, "10.0.0.2", 6000};

    /* Idle, by the sweep: not at 60 s exactly, at 61 s. */
    struct flow_table *t = table_new(FEAT_MODE_FIXED, &s);
    add(t, conv_udp(&c, FROM_A, 10), T0);
    (void)flow_table_expire(t, T0, 1024);
    assert_int_equal(flow_table_expire(t, T0 + 60 * SEC, 1024), 0);
    assert_int_equal(flow_table_expire(t, T0 + 61 * SEC, 1024), 1);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.e[0].why, FLOW_END_IDLE);
    flow_table_destroy(t);

    /* Idle, by the next packet, which starts the next flow. */
    t = table_new(FEAT_MODE_FIXED, &s);
    add(t, conv_udp(&c, FROM_A, 10), T0);
    add(t, conv_udp(&c, FROM_B, 10), T0 + 30 * SEC);
    assert_int_equal(s.n, 0);
    struct flow *f = add(t, conv_udp(&c, FROM_B, 10), T0 + 90 * SEC + 1);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.e[0].why, FLOW_END_IDLE);
    ASSERT_FEAT(s.e[0].v, FEAT_TOT_BWD_PKTS, 1);
    assert_true(addr_is(flow_src_addr(f), 4, "10.0.0.2")); /* no inherited orientation */
    flow_table_destroy(t);

    /* Active, by the next packet: every 30 s, never idle; 120 s still in, 150 s out. */
    t = table_new(FEAT_MODE_FIXED, &s);
    for (int i = 0; i <= 4; i++)
        add(t, conv_udp(&c, FROM_A, 10), T0 + (uint64_t)i * 30 * SEC);
    assert_int_equal(s.n, 0);
    add(t, conv_udp(&c, FROM_A, 10), T0 + 150 * SEC);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.e[0].why, FLOW_END_ACTIVE);
    ASSERT_FEAT(s.e[0].v, FEAT_TOT_FWD_PKTS, 5);
    ASSERT_FEAT(s.e[0].v, FEAT_FLOW_DURATION, 120 * 1e6);
    flow_table_destroy(t);

    /* Active, by the sweep. */
    t = table_new(FEAT_MODE_FIXED, &s);
    for (int i = 0; i <= 4; i++) {
        add(t, conv_udp(&c, FROM_A, 10), T0 + (uint64_t)i * 30 * SEC);
        (void)flow_table_expire(t, T0 + (uint64_t)i * 30 * SEC, 1024);
    }
    assert_int_equal(s.n, 0);
    assert_int_equal(flow_table_expire(t, T0 + 122 * SEC, 1024), 1);
    assert_int_equal(s.e[0].why, FLOW_END_ACTIVE);
    flow_table_destroy(t);
}

/* Active/Idle with a gap over the 5 s activity threshold, and subflows split by gaps over 1 s.
 * UDP, 100 bytes each way A>B at 0 s, 1 s, 2 s, 12 s, 13 s:
 *   activity: 0..2 s active; the 10 s gap closes it (Active 2 s) and is Idle 10 s; 12..13 s is
 *   the open period, which fixed counts (Active {2 s, 1 s}: mean 1.5 s, std 0.7071 s) and cic
 *   drops (Active {2 s}).
 *   subflows: gaps 1 s, 1 s (not over 1 s), 10 s, 1 s -> 1 gap -> 2 subflows: 5/2 packets,
 *   500/2 bytes. */
static void test_flow_fixed_active_idle_subflow(void **state)
{
    const struct conv c = {4, "10.0.0.1", 5000, "10.0.0.2", 6000};
    const uint64_t at[] = {0, 1 * SEC, 2 * SEC, 12 * SEC, 13 * SEC};
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, &s);
    for (int i = 0; i < 5; i++)
        add(t, conv_udp(&c, FROM_A, 100), T0 + at[i]);
    flow_table_flush(t);
    const double *v = s.e[0].v;
    ASSERT_FEAT(v, FEAT_ACTIVE_MEAN, 1.5e6);
    ASSERT_FEAT(v, FEAT_ACTIVE_STD, sqrt(0.5) * 1e6);
    ASSERT_FEAT(v, FEAT_ACTIVE_MAX, 2e6);
    ASSERT_FEAT(v, FEAT_ACTIVE_MIN, 1e6);
    ASSERT_FEAT(v, FEAT_IDLE_MEAN, 10e6);
    ASSERT_FEAT(v, FEAT_IDLE_STD, 0);
    ASSERT_FEAT(v, FEAT_IDLE_MAX, 10e6);
    ASSERT_FEAT(v, FEAT_IDLE_MIN, 10e6);
    ASSERT_FEAT(v, FEAT_SUBFLOW_FWD_PKTS, 2.5);
    ASSERT_FEAT(v, FEAT_SUBFLOW_FWD_BYTES, 250);
    ASSERT_FEAT(v, FEAT_SUBFLOW_BWD_PKTS, 0);
    ASSERT_FEAT(v, FEAT_SUBFLOW_BWD_BYTES, 0);
    flow_table_destroy(t);

    t = table_new(FEAT_MODE_CIC, &s);
    for (int i = 0; i < 5; i++)
        add(t, conv_udp(&c, FROM_A, 100), T0 + at[i]);
    flow_table_flush(t);
    v = s.e[0].v;
    ASSERT_FEAT(v, FEAT_ACTIVE_MEAN, 2e6);
    ASSERT_FEAT(v, FEAT_ACTIVE_STD, 0);
    ASSERT_FEAT(v, FEAT_ACTIVE_MAX, 2e6);
    ASSERT_FEAT(v, FEAT_ACTIVE_MIN, 2e6);
    ASSERT_FEAT(v, FEAT_IDLE_MEAN, 10e6);
    ASSERT_FEAT(v, FEAT_SUBFLOW_FWD_PKTS, 5); /* cic: the totals */
    ASSERT_FEAT(v, FEAT_SUBFLOW_FWD_BYTES, 500);
    flow_table_destroy(t);
}

/* Bulk: 5 forward data packets 1 ms apart (100..500 bytes). The 4th confirms a bulk (4
 * packets, 1000 bytes, 3 ms), the 5th extends it: 1 bulk, 5 packets, 1500 bytes, 4 ms ->
 * Fwd Avg Bytes/Bulk 1500, Packets/Bulk 5, Bulk Rate 1500 / 0.004 = 375000. */
static void test_flow_fixed_bulk(void **state)
{
    const struct conv c = {4, "10.0.0.1", 40000, "10.0.0.2", 80};
    struct sink s;
    struct flow_table *t = table_new(FEAT_MODE_FIXED, &s);
    for (uint32_t i = 0; i < 5; i++)
        add(t, conv_tcp(&c, FROM_A, TCP_ACK, 500, 20, 100 * (i + 1), 100 * (i + 1)), T0 + i * 1000);
    flow_table_flush(t);
    const double *v = s.e[0].v;
    ASSERT_FEAT(v, FEAT_FWD_BYTES_BULK, 1500);
    ASSERT_FEAT(v, FEAT_FWD_PKTS_BULK, 5);
    ASSERT_FEAT(v, FEAT_FWD_BULK_RATE, 1500 / 0.004);
    ASSERT_FEAT(v, FEAT_BWD_BYTES_BULK, 0);
    ASSERT_FEAT(v, FEAT_BWD_PKTS_BULK, 0);
    ASSERT_FEAT(v, FEAT_BWD_BULK_RATE, 0);
    flow_table_destroy(t);

    /* Exactly 4 data packets (the minimum) make a bulk; 3 do not. */
    for (uint32_t n = 3; n <= 4; n++) {
        t = table_new(FEAT_MODE_FIXED, &s);
        for (uint32_t i = 0; i < n; i++)
            add(t, conv_tcp(&c, FROM_A, TCP_ACK, 500, 20, 100, 100), T0 + i * 1000);
        flow_table_flush(t);
        ASSERT_FEAT(s.e[0].v, FEAT_FWD_PKTS_BULK, n == 4 ? 4 : 0);
        ASSERT_FEAT(s.e[0].v, FEAT_FWD_BYTES_BULK, n == 4 ? 400 : 0);
        ASSERT_FEAT(s.e[0].v, FEAT_FWD_BULK_RATE, n == 4 ? 400 / 0.003 : 0);
        flow_table_destroy(t);
    }

    /* Three forward data packets, backward data, three more forward: the backward data resets
     * the forward candidate, so no direction reaches 4 packets. */
    t = table_new(FEAT_MODE_FIXED, &s);
    uint64_t ts = T0;
    for (int i = 0; i < 3; i++)
        add(t, conv_tcp(&c, FROM_A, TCP_ACK, 500, 20, 100, 100), ts += 1000);
    add(t, conv_tcp(&c, FROM_B, TCP_ACK, 500, 20, 100, 100), ts += 1000);
    for (int i = 0; i < 3; i++)
        add(t, conv_tcp(&c, FROM_A, TCP_ACK, 500, 20, 100, 100), ts += 1000);
    flow_table_flush(t);
    for (int i = FEAT_FWD_BYTES_BULK; i <= FEAT_BWD_BULK_RATE; i++)
        ASSERT_FEAT(s.e[0].v, i, 0);
    flow_table_destroy(t);

    /* A backward pure ACK carries no data and does not reset it: 6 packets, one bulk. */
    t = table_new(FEAT_MODE_FIXED, &s);
    ts = T0;
    for (int i = 0; i < 3; i++)
        add(t, conv_tcp(&c, FROM_A, TCP_ACK, 500, 20, 100, 100), ts += 1000);
    add(t, conv_tcp(&c, FROM_B, TCP_ACK, 500, 20, 0, 6), ts += 1000);
    for (int i = 0; i < 3; i++)
        add(t, conv_tcp(&c, FROM_A, TCP_ACK, 500, 20, 100, 100), ts += 1000);
    flow_table_flush(t);
    ASSERT_FEAT(s.e[0].v, FEAT_FWD_PKTS_BULK, 6);
    ASSERT_FEAT(s.e[0].v, FEAT_FWD_BYTES_BULK, 600);
    ASSERT_FEAT(s.e[0].v, FEAT_FWD_BULK_RATE, 600 / 0.006);
    flow_table_destroy(t);

    /* cic: bulk columns are always 0 (§5.10). */
    t = table_new(FEAT_MODE_CIC, &s);
    for (uint32_t i = 0; i < 5; i++)
        add(t, conv_tcp(&c, FROM_A, TCP_ACK, 500, 20, 100, 100), T0 + i * 1000);
    flow_table_flush(t);
    for (int i = FEAT_FWD_BYTES_BULK; i <= FEAT_BWD_BULK_RATE; i++)
        ASSERT_FEAT(s.e[0].v, i, 0);
    flow_table_destroy(t);
}

/* Timestamps that run backwards are taken at the flow's last time: no negative IAT or
 * duration, and the table counts them. Packets at +1000, +500 (late), +2000. */
static void test_flow_fixed_backwards_timestamps(void **state)
{
    enum feat_mode modes[] = {FEAT_MODE_FIXED, FEAT_MODE_CIC};
    const struct conv c = {4, "10.0.0.1", 5000, "10.0.0.2", 6000};
    for (int m = 0; m < 2; m++) {
        struct sink s;
        struct flow_table *t = table_new(modes[m], &s);
        add(t, conv_udp(&c, FROM_A, 10), T0 + 1000);
        add(t, conv_udp(&c, FROM_B, 10), T0 + 500);
        add(t, conv_udp(&c, FROM_A, 10), T0 + 2000);
        add(t, conv_udp(&c, FROM_A, 10), T0); /* before the flow's first packet */
        assert_int_equal(flow_table_stats(t)->ts_backwards, 2);
        flow_table_flush(t);
        const double *v = s.e[0].v;
        for (int i = 0; i < FEAT_COUNT; i++) {
            if (i != FEAT_INIT_WIN_FWD && i != FEAT_INIT_WIN_BWD && v[i] < 0) {
                print_error("%s is negative: %g\n", feat_name((enum feat_id)i), v[i]);
                fail();
            }
        }
        ASSERT_FEAT(v, FEAT_FLOW_DURATION, 1000);
        ASSERT_FEAT(v, FEAT_FLOW_IAT_MIN, 0);
        ASSERT_FEAT(v, FEAT_FLOW_IAT_MAX, 1000);
        ASSERT_FEAT(v, FEAT_FLOW_IAT_MEAN, 1000 / 3.0);
        ASSERT_FEAT(v, FEAT_FWD_IAT_TOT, 1000);
        ASSERT_FEAT(v, FEAT_FWD_IAT_MIN, 0);
        flow_table_destroy(t);
    }
}

static void assert_vectors_identical(const double *a, const double *b)
{
    int i = feat_first_difference(a, b);
    if (i < FEAT_COUNT) {
        print_error("%s: snapshot %.17g, ended %.17g\n", feat_name((enum feat_id)i), a[i], b[i]);
        fail();
    }
}

/* A snapshot of a running flow (computed on the pointer flow_table_add returns) equals the
 * vector of a flow of the same packets that has ended, after every packet of the session. */
static void test_flow_snapshot_equals_ended(void **state)
{
    enum feat_mode modes[] = {FEAT_MODE_FIXED, FEAT_MODE_CIC};
    for (int m = 0; m < 2; m++) {
        /* cic ends the session at its first FIN (#8); stop before it. */
        size_t n = modes[m] == FEAT_MODE_CIC ? 7 : SESSION_N;
        struct sink s;
        struct flow_table *t = table_new(modes[m], &s);
        for (size_t k = 0; k < n; k++) {
            struct flow *f = session_add(t, k, T0);
            assert_non_null(f);
            double snap[FEAT_COUNT];
            flow_features_compute(f, snap);

            struct sink s2;
            struct flow_table *t2 = table_new(modes[m], &s2);
            for (size_t i = 0; i <= k; i++)
                session_add(t2, i, T0);
            flow_table_flush(t2);
            if (modes[m] == FEAT_MODE_CIC && k == 0) {
                assert_int_equal(s2.n, 0); /* one packet: not written */
            } else {
                assert_int_equal(s2.n, 1);
                assert_vectors_identical(snap, s2.e[0].v);
            }
            flow_table_destroy(t2);
        }
        if (modes[m] == FEAT_MODE_FIXED) {
            double snap[FEAT_COUNT], e[FEAT_COUNT];
            flow_table_flush(t);
            session_expect(e);
            assert_int_equal(s.n, 1);
            flow_features_compute(&s.e[0].f, snap);
            ASSERT_VECTOR(snap, e);
        }
        flow_table_destroy(t);
    }
}

/* Port classes: every reflector port of the list is a reflector whatever its numeric range,
 * web ports are web, and the ranges split at 1024 and 49152. */
static void test_port_class_ranges(void **state)
{
    (void)state;
    static const uint16_t reflectors[] = {17,   19,   53,    69,    111,   123,  137,  161,
                                          389,  500,  520,   1434,  1900,  3283, 3702, 4500,
                                          5351, 5683, 10001, 11211, 27015, 37810};
    for (size_t i = 0; i < sizeof(reflectors) / sizeof(reflectors[0]); i++) {
        assert_true(port_is_reflector(reflectors[i]));
        assert_int_equal(port_class(reflectors[i]), PORT_CLASS_REFLECTOR);
    }
    assert_false(port_is_reflector(0));
    assert_false(port_is_reflector(80));
    assert_false(port_is_reflector(54));
    assert_false(port_is_reflector(65535));
    assert_int_equal(port_class(0), PORT_CLASS_ZERO);
    assert_int_equal(port_class(80), PORT_CLASS_WEB);
    assert_int_equal(port_class(443), PORT_CLASS_WEB);
    assert_int_equal(port_class(8080), PORT_CLASS_WEB);
    assert_int_equal(port_class(8443), PORT_CLASS_WEB);
    assert_int_equal(port_class(8888), PORT_CLASS_WEB);
    assert_int_equal(port_class(22), PORT_CLASS_WELL_KNOWN);
    assert_int_equal(port_class(1023), PORT_CLASS_WELL_KNOWN);
    assert_int_equal(port_class(1024), PORT_CLASS_REGISTERED);
    assert_int_equal(port_class(49151), PORT_CLASS_REGISTERED);
    assert_int_equal(port_class(49152), PORT_CLASS_EPHEMERAL);
    assert_int_equal(port_class(65535), PORT_CLASS_EPHEMERAL);
    enum port_class c;
    assert_int_equal(port_service(53, 40000, &c), PORT_SIDE_SRC); /* a DNS reply sent first */
    assert_int_equal(c, PORT_CLASS_REFLECTOR);
    assert_int_equal(port_service(51000, 443, &c), PORT_SIDE_DST);
    assert_int_equal(c, PORT_CLASS_WEB);
    assert_int_equal(port_service(123, 80, &c), PORT_SIDE_SRC); /* reflection aimed at 80 */
    assert_int_equal(c, PORT_CLASS_REFLECTOR);
    assert_int_equal(port_service(5000, 0, &c), PORT_SIDE_DST);
    assert_int_equal(c, PORT_CLASS_ZERO);
    assert_int_equal(port_service(50000, 60000, &c), PORT_SIDE_NONE);
    assert_int_equal(c, PORT_CLASS_EPHEMERAL);
    assert_string_equal(port_class_name(PORT_CLASS_REFLECTOR), "reflector");
    assert_string_equal(port_class_name(PORT_CLASS_COUNT), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_cic_golden_ack_appendix),
        cmocka_unit_test(test_flow_cic_golden_fin_ack_first),
        cmocka_unit_test(test_flow_cic_golden_udp_dns_97),
        cmocka_unit_test(test_flow_cic_golden_udp_pair),
        cmocka_unit_test(test_flow_cic_golden_first_fragments),
        cmocka_unit_test(test_flow_cic_golden_protocol0),
        cmocka_unit_test(test_flow_cic_golden_dns_request_response),
        cmocka_unit_test(test_flow_cic_flag_columns_permuted),
        cmocka_unit_test(test_flow_cic_single_packet_flows_suppressed),
        cmocka_unit_test(test_flow_cic_first_fin_ends_flow),
        cmocka_unit_test(test_flow_cic_rst_does_not_end_flow),
        cmocka_unit_test(test_flow_cic_ipv6_skipped),
        cmocka_unit_test(test_flow_cic_active_timeout_continuation),
        cmocka_unit_test(test_flow_cic_fin_skips_activity_update),
        cmocka_unit_test(test_flow_cic_zero_duration_rates),
        cmocka_unit_test(test_flow_fixed_tcp_session_one_flow),
        cmocka_unit_test(test_flow_fixed_new_syn_after_close),
        cmocka_unit_test(test_flow_fixed_rst_linger),
        cmocka_unit_test(test_flow_fixed_single_syn_emitted),
        cmocka_unit_test(test_flow_fixed_act_data_counts_first_packet),
        cmocka_unit_test(test_flow_fixed_ipv6),
        cmocka_unit_test(test_flow_fixed_icmp_echo),
        cmocka_unit_test(test_flow_fixed_timeouts),
        cmocka_unit_test(test_flow_fixed_active_idle_subflow),
        cmocka_unit_test(test_flow_fixed_bulk),
        cmocka_unit_test(test_flow_fixed_backwards_timestamps),
        cmocka_unit_test(test_flow_snapshot_equals_ended),
        cmocka_unit_test(test_port_class_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
