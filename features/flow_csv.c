/* flow_csv.c - CSV header and rows for flows (see flow_csv.h for the layout and number rules).
 *
 * Owns nothing but static name tables. Every formatter writes forward into a caller buffer and
 * returns the new end, so a row is built with no allocation and written with one fwrite. */
#include "features/flow_csv.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const id_names_cic[] = {"Flow ID",         " Source IP",        " Source Port",
                                           " Destination IP", " Destination Port", " Protocol",
                                           " Timestamp"};
static const char *const id_names_fixed[] = {"Flow ID",        "Source IP",        "Source Port",
                                             "Destination IP", "Destination Port", "Protocol",
                                             "Timestamp"};

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

char *flow_csv_format_number(char *p, double v)
{
    if (isnan(v))
        return put_str(p, "NaN");
    if (isinf(v))
        return put_str(p, v > 0 ? "Infinity" : "-Infinity");
    double a = fabs(v);
    if (a < 1e15 && v == (double)(int64_t)v)
        return put_i64(p, (int64_t)v);
    if (a >= 1e-3 && a < 9e12) {
        /* Fixed point with 6 decimals, trailing zeros trimmed. */
        int64_t scaled = llround(a * 1e6);
        if (v < 0)
            *p++ = '-';
        p = put_u64(p, (uint64_t)(scaled / 1000000));
        int64_t frac = scaled % 1000000;
        if (frac) {
            char digits[6];
            for (int i = 5; i >= 0; i--, frac /= 10)
                digits[i] = (char)('0' + frac % 10);
            int len = 6;
            while (digits[len - 1] == '0')
                len--;
            *p++ = '.';
            memcpy(p, digits, (size_t)len);
            p += len;
        }
        return p;
    }
    /* Rare (tiny or huge values): the shortest text that reads back as the same double. */
    int n = snprintf(p, 40, "%.15g", v);
    if (strtod(p, NULL) != v)
        n = snprintf(p, 40, "%.17g", v);
    return p + n;
}

char *flow_csv_format_addr(char *p, const uint8_t addr[16], int ip_version)
{
    char buf[INET6_ADDRSTRLEN];
    if (ip_version == 4) {
        for (int i = 0; i < 4; i++) {
            if (i)
                *p++ = '.';
            p = put_u64(p, addr[i]);
        }
        return p;
    }
    if (!inet_ntop(AF_INET6, addr, buf, sizeof(buf)))
        return put_str(p, "::");
    return put_str(p, buf);
}

/* Java compares IP bytes as signed values when it builds the canonical Flow ID. */
static int java_signed_compare(const uint8_t *a, const uint8_t *b, int len)
{
    for (int i = 0; i < len; i++) {
        int8_t x = (int8_t)a[i], y = (int8_t)b[i];
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

char *flow_csv_format_flow_id(char *p, const struct flow *f)
{
    const uint8_t *src = flow_src_addr(f), *dst = flow_dst_addr(f);
    uint16_t sport = flow_src_port(f), dport = flow_dst_port(f);
    int len = f->key.ip_version == 4 ? 4 : 16;
    if (java_signed_compare(src, dst, len) > 0) {
        const uint8_t *ta = src;
        src = dst;
        dst = ta;
        uint16_t tp = sport;
        sport = dport;
        dport = tp;
    }
    p = flow_csv_format_addr(p, src, f->key.ip_version);
    *p++ = '-';
    p = flow_csv_format_addr(p, dst, f->key.ip_version);
    *p++ = '-';
    p = put_u64(p, sport);
    *p++ = '-';
    p = put_u64(p, dport);
    *p++ = '-';
    return put_u64(p, f->key.proto);
}

static char *put_2d(char *p, int v)
{
    *p++ = (char)('0' + v / 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

char *flow_csv_format_timestamp(char *p, uint64_t ts_us)
{
    time_t secs = (time_t)(ts_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    p = put_u64(p, (uint64_t)(tm.tm_year + 1900));
    *p++ = '-';
    p = put_2d(p, tm.tm_mon + 1);
    *p++ = '-';
    p = put_2d(p, tm.tm_mday);
    *p++ = ' ';
    p = put_2d(p, tm.tm_hour);
    *p++ = ':';
    p = put_2d(p, tm.tm_min);
    *p++ = ':';
    p = put_2d(p, tm.tm_sec);
    *p++ = '.';
    uint32_t us = (uint32_t)(ts_us % 1000000);
    for (int div = 100000; div; div /= 10)
        *p++ = (char)('0' + (us / (uint32_t)div) % 10);
    return p;
}

size_t flow_csv_format_header(char *buf, size_t cap, enum feat_mode mode)
{
    if (cap < FLOW_CSV_ROW_MAX / 2)
        return 0;
    const bool cic = mode == FEAT_MODE_CIC;
    const char *const *ids = cic ? id_names_cic : id_names_fixed;
    char *p = buf;
    for (size_t i = 0; i < 7; i++) {
        if (i)
            *p++ = ',';
        p = put_str(p, ids[i]);
    }
    for (int i = 0; i < FEAT_CIC_COUNT; i++) {
        *p++ = ',';
        p = put_str(p, cic ? feat_name_cic((enum feat_id)i) : feat_name((enum feat_id)i));
        if (cic && i == FEAT_AVG_BWD_SEG)
            p = put_str(p, ", Fwd Header Length"); /* the legacy duplicate column #62 */
    }
    /* fixed: the ddosd extras after the CIC columns (Protocol is already an identifier). */
    for (int i = FEAT_CIC_COUNT + 1; !cic && i < FEAT_COUNT; i++) {
        *p++ = ',';
        p = put_str(p, feat_name((enum feat_id)i));
    }
    return (size_t)(p - buf);
}

size_t flow_csv_format_row(char *buf, size_t cap, const struct flow *f, const double v[FEAT_COUNT],
                           enum feat_mode mode)
{
    if (cap < FLOW_CSV_ROW_MAX / 2)
        return 0;
    const bool cic = mode == FEAT_MODE_CIC;
    char *p = flow_csv_format_flow_id(buf, f);
    *p++ = ',';
    p = flow_csv_format_addr(p, flow_src_addr(f), f->key.ip_version);
    *p++ = ',';
    p = put_u64(p, flow_src_port(f));
    *p++ = ',';
    p = flow_csv_format_addr(p, flow_dst_addr(f), f->key.ip_version);
    *p++ = ',';
    p = put_u64(p, flow_dst_port(f));
    *p++ = ',';
    p = put_u64(p, f->key.proto);
    *p++ = ',';
    p = flow_csv_format_timestamp(p, f->first_ts);
    for (int i = 0; i < FEAT_CIC_COUNT; i++) {
        *p++ = ',';
        p = flow_csv_format_number(p, v[i]);
        if (cic && i == FEAT_AVG_BWD_SEG) {
            *p++ = ',';
            p = flow_csv_format_number(p, v[FEAT_FWD_HEADER_LEN]);
        }
    }
    for (int i = FEAT_CIC_COUNT + 1; !cic && i < FEAT_COUNT; i++) {
        *p++ = ',';
        p = flow_csv_format_number(p, v[i]);
    }
    return (size_t)(p - buf);
}
