/* test_flow_csv.c - unit tests for features/flow_csv.c: number formatting, the exact legacy
 * header, row layout, the Java-ordered Flow ID, timestamps and address text.
 *
 * Flows are built directly with flow_key_from_packet/flow_start/flow_add_packet from struct
 * pkt_info values, the way the flow table builds them. */
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
#include "features/flow_csv.h"
#include "features/flow_table.h"

#include "flow_test_util.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* This file's packets (built with flow_test_util.h): TCP with a 20-byte header, UDP with the
 * payload captured as it is. Flows from them: flow_build (flow_test_util.h). */

static struct pkt_info tcp_pkt(int ipv, const char *src, uint16_t sport, const char *dst,
                               uint16_t dport, uint8_t flags, uint16_t window, uint32_t payload_len,
                               uint32_t captured)
{
    return pkt_tcp(ipv, src, sport, dst, dport, flags, window, 20, payload_len, captured);
}

static struct pkt_info udp_pkt(int ipv, const char *src, uint16_t sport, const char *dst,
                               uint16_t dport, uint32_t payload)
{
    return pkt_udp(ipv, src, sport, dst, dport, payload, payload);
}

/* Formats v with flow_csv_format_number into a NUL-terminated static buffer. */
static const char *num(double v)
{
    static char buf[64];
    char *end = flow_csv_format_number(buf, v);
    assert_true(end > buf && end - buf < 40);
    *end = '\0';
    return buf;
}

#define ASSERT_NUM(v, text) assert_string_equal(num(v), text)

/* v's text parses back to v within a relative 1e-9 and is a single token strtod accepts. */
static void assert_num_round_trips(double v)
{
    const char *s = num(v);
    char *end;
    double back = strtod(s, &end);
    if (*end != '\0' || fabs(back - v) > 1e-9 * fabs(v)) {
        print_error("%.17g formatted as \"%s\", which reads back as %.17g\n", v, s, back);
        fail();
    }
}

/* Splits a NUL-terminated CSV line in place into at most max cells; returns the count. */
static size_t csv_split(char *line, char **cells, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        assert_true(n < max);
        cells[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma)
            return n;
        *comma = '\0';
        p = comma + 1;
    }
}

/* ---- numbers ---------------------------------------------------------------------------- */

static void test_flow_csv_number_integers(void **state)
{
    ASSERT_NUM(0, "0");
    ASSERT_NUM(-0.0, "0");
    ASSERT_NUM(1, "1");
    ASSERT_NUM(-1, "-1");
    ASSERT_NUM(40, "40");
    ASSERT_NUM(4000000, "4000000"); /* §6.1 (a) Flow Bytes/s, not 4000000.0 or 4e+06 */
    ASSERT_NUM(4.4e8, "440000000");
    ASSERT_NUM(2.944e9, "2944000000");
    ASSERT_NUM(119819608, "119819608");
    ASSERT_NUM(-1062718975, "-1062718975");
    ASSERT_NUM(999999999999999.0, "999999999999999"); /* the largest below 1e15 */
    ASSERT_NUM(-999999999999999.0, "-999999999999999");
}

static void test_flow_csv_number_fractions(void **state)
{
    ASSERT_NUM(0.5, "0.5");
    ASSERT_NUM(2.25, "2.25");
    ASSERT_NUM(0.125, "0.125");
    ASSERT_NUM(1.0 / 3, "0.333333");
    ASSERT_NUM(2.0 / 3, "0.666667");
    ASSERT_NUM(2 / 3e-6, "666666.666667");          /* §6.1 (a) Flow Packets/s */
    ASSERT_NUM(1 / 109e-6, "9174.311927");          /* §6.1 (b) Fwd Packets/s */
    ASSERT_NUM(42680 / 0.028415, "1502023.579096"); /* §6.2 (c) Flow Bytes/s */
    ASSERT_NUM(98 * 440 / 97.0, "444.536082");      /* §6.2 (c) Average Packet Size */
    ASSERT_NUM(124 / 3.0, "41.333333");
    ASSERT_NUM(0.1 + 0.2, "0.3"); /* trailing zeros trimmed */
    ASSERT_NUM(2.000001, "2.000001");
    ASSERT_NUM(2.0000004, "2"); /* rounds to 6 decimals */
    ASSERT_NUM(4.9999999999, "5");
    ASSERT_NUM(0.001, "0.001");
    assert_num_round_trips(8999999999999.5); /* last digits beyond double precision */
}

static void test_flow_csv_number_negatives(void **state)
{
    ASSERT_NUM(-0.5, "-0.5");
    ASSERT_NUM(-2.25, "-2.25");
    ASSERT_NUM(-2 / 3e-6, "-666666.666667");
    ASSERT_NUM(-1.0 / 3, "-0.333333");
    ASSERT_NUM(-0.0005, "-0.0005");
    assert_num_round_trips(-1.5e-7);
}

static void test_flow_csv_number_tiny(void **state)
{
    /* Below 1e-3 more significant digits are kept instead of rounding to 0. */
    ASSERT_NUM(0.0005, "0.0005");
    ASSERT_NUM(1.5e-7, "1.5e-07");
    ASSERT_NUM(-2.5e-9, "-2.5e-09");
    const double tiny[] = {0.000999999, 1.23456789e-5, 1e-300, 4.9e-324, 1.0 / 3 * 1e-4};
    for (size_t i = 0; i < sizeof(tiny) / sizeof(tiny[0]); i++) {
        assert_num_round_trips(tiny[i]);
        assert_num_round_trips(-tiny[i]);
        assert_string_not_equal(num(tiny[i]), "0");
    }
}

static void test_flow_csv_number_huge(void **state)
{
    /* From 1e15 on (and for fractions from 9e12) the text is %.10g: still one number that
     * reads back within 1e-9, never a wrapped integer. */
    const double big[] = {1e15, 1e15 + 1, 123456789012345678.0, 9.2233720368547758e18,
                          1e19, 3e300,    9e12 + 0.25,          1e308};
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        assert_num_round_trips(big[i]);
        assert_num_round_trips(-big[i]);
    }
}

static void test_flow_csv_number_special(void **state)
{
    ASSERT_NUM(INFINITY, "Infinity");
    ASSERT_NUM(-INFINITY, "-Infinity");
    ASSERT_NUM(NAN, "NaN");
    ASSERT_NUM(-NAN, "NaN");
}

/* ---- header ----------------------------------------------------------------------------- */

/* CIC-IDS2017 "TrafficLabelling" header #1..#84 (reference §2.1), spelled exactly. */
static const char *const legacy_header[84] = {
    "Flow ID",
    " Source IP",
    " Source Port",
    " Destination IP",
    " Destination Port",
    " Protocol",
    " Timestamp",
    " Flow Duration",
    " Total Fwd Packets",
    " Total Backward Packets",
    "Total Length of Fwd Packets",
    " Total Length of Bwd Packets",
    " Fwd Packet Length Max",
    " Fwd Packet Length Min",
    " Fwd Packet Length Mean",
    " Fwd Packet Length Std",
    "Bwd Packet Length Max",
    " Bwd Packet Length Min",
    " Bwd Packet Length Mean",
    " Bwd Packet Length Std",
    "Flow Bytes/s",
    " Flow Packets/s",
    " Flow IAT Mean",
    " Flow IAT Std",
    " Flow IAT Max",
    " Flow IAT Min",
    "Fwd IAT Total",
    " Fwd IAT Mean",
    " Fwd IAT Std",
    " Fwd IAT Max",
    " Fwd IAT Min",
    "Bwd IAT Total",
    " Bwd IAT Mean",
    " Bwd IAT Std",
    " Bwd IAT Max",
    " Bwd IAT Min",
    "Fwd PSH Flags",
    " Bwd PSH Flags",
    " Fwd URG Flags",
    " Bwd URG Flags",
    " Fwd Header Length",
    " Bwd Header Length",
    "Fwd Packets/s",
    " Bwd Packets/s",
    " Min Packet Length",
    " Max Packet Length",
    " Packet Length Mean",
    " Packet Length Std",
    " Packet Length Variance",
    "FIN Flag Count",
    " SYN Flag Count",
    " RST Flag Count",
    " PSH Flag Count",
    " ACK Flag Count",
    " URG Flag Count",
    " CWE Flag Count",
    " ECE Flag Count",
    " Down/Up Ratio",
    " Average Packet Size",
    " Avg Fwd Segment Size",
    " Avg Bwd Segment Size",
    " Fwd Header Length",
    "Fwd Avg Bytes/Bulk",
    " Fwd Avg Packets/Bulk",
    " Fwd Avg Bulk Rate",
    " Bwd Avg Bytes/Bulk",
    " Bwd Avg Packets/Bulk",
    "Bwd Avg Bulk Rate",
    "Subflow Fwd Packets",
    " Subflow Fwd Bytes",
    " Subflow Bwd Packets",
    " Subflow Bwd Bytes",
    "Init_Win_bytes_forward",
    " Init_Win_bytes_backward",
    " act_data_pkt_fwd",
    " min_seg_size_forward",
    "Active Mean",
    " Active Std",
    " Active Max",
    " Active Min",
    "Idle Mean",
    " Idle Std",
    " Idle Max",
    " Idle Min",
};

static void test_flow_csv_header_cic_exact(void **state)
{
    char buf[FLOW_CSV_ROW_MAX];
    size_t len = flow_csv_format_header(buf, sizeof(buf), FEAT_MODE_CIC);
    assert_true(len > 0 && len < sizeof(buf));
    buf[len] = '\0';
    assert_null(strchr(buf, '\n'));
    char *cells[128];
    size_t n = csv_split(buf, cells, 128);
    assert_int_equal(n, 84);
    for (size_t i = 0; i < 84; i++) {
        if (strcmp(cells[i], legacy_header[i]) != 0) {
            print_error("column %zu: \"%s\", expected \"%s\"\n", i + 1, cells[i], legacy_header[i]);
            fail();
        }
    }
    /* The duplicate at #62 (1-based) and the sic spelling at #56. */
    assert_string_equal(cells[61], " Fwd Header Length");
    assert_string_equal(cells[40], " Fwd Header Length");
    assert_string_equal(cells[55], " CWE Flag Count");
}

static void test_flow_csv_header_fixed(void **state)
{
    char buf[FLOW_CSV_ROW_MAX];
    size_t len = flow_csv_format_header(buf, sizeof(buf), FEAT_MODE_FIXED);
    assert_true(len > 0);
    buf[len] = '\0';
    char *cells[128];
    size_t n = csv_split(buf, cells, 128);
    assert_int_equal(n, 7 + 76 + 4);
    static const char *const ids[] = {"Flow ID",        "Source IP",        "Source Port",
                                      "Destination IP", "Destination Port", "Protocol",
                                      "Timestamp"};
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(cells[i], ids[i]);
    int fwd_header = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(cells[i][0] != ' ' && cells[i][0] != '\0');
        fwd_header += strcmp(cells[i], "Fwd Header Length") == 0;
    }
    assert_int_equal(fwd_header, 1); /* no duplicate */
    for (int i = 0; i < 76; i++)
        assert_string_equal(cells[7 + i], feat_name((enum feat_id)i));
    assert_string_equal(cells[7], "Flow Duration");
    assert_string_equal(cells[7 + FEAT_CWR_CNT], "CWR Flag Count");
    assert_string_equal(cells[83], "ICMP Type");
    assert_string_equal(cells[84], "ICMP Code");
    assert_string_equal(cells[85], "Service Port Class");
    assert_string_equal(cells[86], "Service Port Side");

    /* A buffer below the documented minimum is refused. */
    assert_int_equal(flow_csv_format_header(buf, FLOW_CSV_ROW_MAX / 2 - 1, FEAT_MODE_CIC), 0);
}

/* ---- rows ------------------------------------------------------------------------------- */

/* §6.1 (a) as a whole cic row: two padded ACKs from 104.16.207.165:443, 3 us apart. */
static void test_flow_csv_row_cic_golden(void **state)
{
    const struct pkt_info p[2] = {
        tcp_pkt(4, "104.16.207.165", 443, "192.168.10.5", 54865, TCP_ACK, 33, 0, 6),
        tcp_pkt(4, "104.16.207.165", 443, "192.168.10.5", 54865, TCP_ACK, 33, 0, 6),
    };
    const uint64_t ts[2] = {T0 + 813448, T0 + 813451};
    struct flow f;
    double v[FEAT_COUNT];
    flow_build(&f, FEAT_MODE_CIC, p, ts, 2);
    flow_features_compute(&f, v);
    char buf[FLOW_CSV_ROW_MAX];
    size_t len = flow_csv_format_row(buf, sizeof(buf), &f, v, FEAT_MODE_CIC);
    assert_true(len > 0);
    buf[len] = '\0';
    const char *want = "192.168.10.5-104.16.207.165-54865-443-6,104.16.207.165,443,"
                       "192.168.10.5,54865,6,2017-07-07 14:00:00.813448,"
                       "3,2,0,12,0,"                      /* duration, packets, lengths */
                       "6,6,6,0,0,0,0,0,"                 /* fwd / bwd length max min mean std */
                       "4000000,666666.666667,"           /* Flow Bytes/s, Flow Packets/s */
                       "3,0,3,3,3,3,0,3,3,0,0,0,0,0,"     /* flow, fwd, bwd IAT */
                       "0,0,0,0,40,0,"                    /* PSH/URG flags, header lengths */
                       "666666.666667,0,6,6,6,0,0,"       /* pkts/s, all-packet lengths */
                       "0,0,0,0,1,0,0,0,0,9,6,0,"         /* flag columns, down/up, sizes */
                       "40,"                              /* the duplicate Fwd Header Length */
                       "0,0,0,0,0,0,2,12,0,0,33,-1,1,20," /* bulk, subflow, windows, act, min */
                       "0,0,0,0,0,0,0,0";                 /* active, idle */
    assert_string_equal(buf, want);
}

static size_t count_cells(const char *line)
{
    size_t n = 1;
    for (; *line; line++)
        n += *line == ',';
    return n;
}

/* Rows have as many cells as the header, in both modes, for TCP, UDP, ICMP and IPv6 flows. */
static void test_flow_csv_row_matches_header(void **state)
{
    struct {
        int mode;
        struct pkt_info p[2];
    } cases[] = {
        {FEAT_MODE_CIC,
         {tcp_pkt(4, "10.0.0.1", 1, "10.0.0.2", 2, TCP_SYN, 10, 0, 0),
          tcp_pkt(4, "10.0.0.2", 2, "10.0.0.1", 1, TCP_SYN | TCP_ACK, 10, 0, 0)}},
        {FEAT_MODE_CIC,
         {udp_pkt(4, "10.0.0.1", 1, "10.0.0.2", 2, 10),
          udp_pkt(4, "10.0.0.1", 1, "10.0.0.2", 2, 0)}},
        {FEAT_MODE_FIXED,
         {udp_pkt(4, "10.0.0.1", 1, "10.0.0.2", 2, 10),
          udp_pkt(4, "10.0.0.2", 2, "10.0.0.1", 1, 0)}},
        {FEAT_MODE_FIXED,
         {tcp_pkt(6, "2001:db8::10", 40000, "2001:db8::1", 443, TCP_SYN, 10, 0, 0),
          tcp_pkt(6, "2001:db8::1", 443, "2001:db8::10", 40000, TCP_RST, 0, 0, 0)}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        enum feat_mode mode = (enum feat_mode)cases[c].mode;
        char head[FLOW_CSV_ROW_MAX], row[FLOW_CSV_ROW_MAX];
        size_t hl = flow_csv_format_header(head, sizeof(head), mode);
        head[hl] = '\0';
        const uint64_t ts[2] = {T0, T0}; /* zero duration: Infinity / NaN cells in cic */
        struct flow f;
        double v[FEAT_COUNT];
        flow_build(&f, mode, cases[c].p, ts, 2);
        flow_features_compute(&f, v);
        size_t rl = flow_csv_format_row(row, sizeof(row), &f, v, mode);
        assert_true(rl > 0 && rl < FLOW_CSV_ROW_MAX / 2);
        row[rl] = '\0';
        assert_int_equal(count_cells(row), count_cells(head));
        assert_int_equal(count_cells(row), mode == FEAT_MODE_CIC ? 84 : 87);
        assert_null(strchr(row, '\n'));
    }

    /* cic: cell #62 repeats cell #41. */
    const struct pkt_info p[2] = {udp_pkt(4, "10.0.0.1", 1, "10.0.0.2", 2, 10),
                                  udp_pkt(4, "10.0.0.1", 1, "10.0.0.2", 2, 10)};
    const uint64_t ts[2] = {T0, T0 + 5};
    struct flow f;
    double v[FEAT_COUNT];
    char row[FLOW_CSV_ROW_MAX], *cells[128];
    flow_build(&f, FEAT_MODE_CIC, p, ts, 2);
    flow_features_compute(&f, v);
    row[flow_csv_format_row(row, sizeof(row), &f, v, FEAT_MODE_CIC)] = '\0';
    assert_int_equal(csv_split(row, cells, 128), 84);
    assert_string_equal(cells[40], "16");
    assert_string_equal(cells[61], "16");

    assert_int_equal(flow_csv_format_row(row, FLOW_CSV_ROW_MAX / 2 - 1, &f, v, FEAT_MODE_CIC), 0);
}

/* The identifier cells of a fixed IPv6 row. */
static void test_flow_csv_row_ipv6_cells(void **state)
{
    const struct pkt_info p[2] = {
        tcp_pkt(6, "2001:db8::10", 40000, "2001:db8::1", 443, TCP_SYN, 10, 0, 0),
        tcp_pkt(6, "2001:db8::1", 443, "2001:db8::10", 40000, TCP_SYN | TCP_ACK, 10, 0, 0),
    };
    const uint64_t ts[2] = {T0, T0 + 7};
    struct flow f;
    double v[FEAT_COUNT];
    char row[FLOW_CSV_ROW_MAX], *cells[128];
    flow_build(&f, FEAT_MODE_FIXED, p, ts, 2);
    flow_features_compute(&f, v);
    row[flow_csv_format_row(row, sizeof(row), &f, v, FEAT_MODE_FIXED)] = '\0';
    assert_int_equal(csv_split(row, cells, 128), 87);
    assert_string_equal(cells[0], "2001:db8::1-2001:db8::10-443-40000-6");
    assert_string_equal(cells[1], "2001:db8::10");
    assert_string_equal(cells[2], "40000");
    assert_string_equal(cells[3], "2001:db8::1");
    assert_string_equal(cells[4], "443");
    assert_string_equal(cells[5], "6");
    assert_string_equal(cells[6], "2017-07-07 14:00:00.000000");
    assert_string_equal(cells[7], "7");
    assert_string_equal(cells[85], "3"); /* Service Port Class: web (443) */
    assert_string_equal(cells[86], "1"); /* Service Port Side: the forward destination */
}

/* ---- Flow ID, timestamps, addresses ----------------------------------------------------- */

static void assert_flow_id(enum feat_mode mode, struct pkt_info p, const char *want)
{
    const uint64_t ts[1] = {T0};
    struct flow f;
    char buf[160];
    flow_build(&f, mode, &p, ts, 1);
    char *end = flow_csv_format_flow_id(buf, &f);
    assert_true(end - buf < 128);
    *end = '\0';
    assert_string_equal(buf, want);
}

/* §4.1: the smaller IP comes first, bytes compared as signed Java bytes (octets >= 128 are
 * negative), with its own port; equal IPs keep the packet's order. */
static void test_flow_csv_flow_id_java_order(void **state)
{
    assert_flow_id(FEAT_MODE_CIC,
                   tcp_pkt(4, "104.16.207.165", 443, "192.168.10.5", 54865, TCP_ACK, 33, 0, 6),
                   "192.168.10.5-104.16.207.165-54865-443-6");
    assert_flow_id(FEAT_MODE_CIC,
                   tcp_pkt(4, "104.16.28.216", 80, "192.168.10.5", 55054, TCP_ACK, 29, 0, 6),
                   "192.168.10.5-104.16.28.216-55054-80-6");
    /* §6.2 (d): source is the second IP. */
    assert_flow_id(FEAT_MODE_CIC, udp_pkt(4, "192.168.50.1", 634, "172.16.0.5", 60495, 440),
                   "172.16.0.5-192.168.50.1-60495-634-17");
    assert_flow_id(FEAT_MODE_CIC, udp_pkt(4, "172.16.0.5", 634, "192.168.50.1", 60495, 440),
                   "172.16.0.5-192.168.50.1-634-60495-17");
    /* 192.x (-64) sorts before 10.x (10); 10.x before 127.x. */
    assert_flow_id(FEAT_MODE_FIXED, udp_pkt(4, "10.0.0.1", 1234, "192.168.1.1", 53, 1),
                   "192.168.1.1-10.0.0.1-53-1234-17");
    assert_flow_id(FEAT_MODE_FIXED, udp_pkt(4, "127.0.0.1", 1234, "10.0.0.1", 53, 1),
                   "10.0.0.1-127.0.0.1-53-1234-17");
    /* Equal addresses: the packet's own order. */
    assert_flow_id(FEAT_MODE_CIC, udp_pkt(4, "10.0.0.1", 5000, "10.0.0.1", 53, 1),
                   "10.0.0.1-10.0.0.1-5000-53-17");
    /* Protocol 0 (cic ICMP): no ports. */
    struct pkt_info icmp = pkt_base(4, "192.168.50.1", 0, "172.16.0.5", 0, IPPROTO_NUM_ICMP);
    icmp.icmp_type = 8;
    icmp.icmp_id = 9;
    assert_flow_id(FEAT_MODE_CIC, icmp, "172.16.0.5-192.168.50.1-0-0-0");
}

static void assert_timestamp(uint64_t ts, const char *want)
{
    char buf[64];
    char *end = flow_csv_format_timestamp(buf, ts);
    assert_true(end - buf < 32);
    *end = '\0';
    assert_string_equal(buf, want);
}

static void test_flow_csv_timestamp_utc(void **state)
{
    assert_timestamp(0, "1970-01-01 00:00:00.000000");
    assert_timestamp(1543661499813448ull, "2018-12-01 10:51:39.813448"); /* §2.3 example */
    assert_timestamp(T0 + 7, "2017-07-07 14:00:00.000007");
    assert_timestamp(1583020799999999ull, "2020-02-29 23:59:59.999999"); /* leap day */
    assert_timestamp(1583020800000000ull, "2020-03-01 00:00:00.000000");
    assert_timestamp(4102444800000000ull, "2100-01-01 00:00:00.000000"); /* past 2038 */
}

static void assert_addr(int ipv, const char *text, const char *want)
{
    uint8_t a[16] = {0};
    char buf[64];
    assert_int_equal(inet_pton(ipv == 6 ? AF_INET6 : AF_INET, text, a), 1);
    char *end = flow_csv_format_addr(buf, a, ipv);
    assert_true(end - buf < 48);
    *end = '\0';
    assert_string_equal(buf, want);
}

static void test_flow_csv_addr_text(void **state)
{
    assert_addr(4, "192.168.10.5", "192.168.10.5");
    assert_addr(4, "0.0.0.0", "0.0.0.0");
    assert_addr(4, "255.255.255.255", "255.255.255.255");
    /* RFC 5952: lower case, longest zero run compressed, a single zero group not. */
    assert_addr(6, "2001:DB8:0:0:0:0:0:1", "2001:db8::1");
    assert_addr(6, "::1", "::1");
    assert_addr(6, "::", "::");
    assert_addr(6, "fe80::1:2:3:4", "fe80::1:2:3:4");
    assert_addr(6, "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
    assert_addr(6, "2001:0:0:1:0:0:0:1", "2001:0:0:1::1");
    assert_addr(6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_csv_number_integers),
        cmocka_unit_test(test_flow_csv_number_fractions),
        cmocka_unit_test(test_flow_csv_number_negatives),
        cmocka_unit_test(test_flow_csv_number_tiny),
        cmocka_unit_test(test_flow_csv_number_huge),
        cmocka_unit_test(test_flow_csv_number_special),
        cmocka_unit_test(test_flow_csv_header_cic_exact),
        cmocka_unit_test(test_flow_csv_header_fixed),
        cmocka_unit_test(test_flow_csv_row_cic_golden),
        cmocka_unit_test(test_flow_csv_row_matches_header),
        cmocka_unit_test(test_flow_csv_row_ipv6_cells),
        cmocka_unit_test(test_flow_csv_flow_id_java_order),
        cmocka_unit_test(test_flow_csv_timestamp_utc),
        cmocka_unit_test(test_flow_csv_addr_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
