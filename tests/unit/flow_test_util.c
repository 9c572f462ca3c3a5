/* flow_test_util.c - see flow_test_util.h. */
#include "flow_test_util.h"

#include <arpa/inet.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

/* ---- packets ---------------------------------------------------------------------------- */

struct pkt_info pkt_base(int ipv, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                         uint8_t proto)
{
    struct pkt_info p;
    memset(&p, 0, sizeof(p));
    int af = ipv == 6 ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(af, src, p.src), 1);
    assert_int_equal(inet_pton(af, dst, p.dst), 1);
    p.ip_version = (uint8_t)ipv;
    p.proto = proto;
    p.sport = sport;
    p.dport = dport;
    p.flags = PKT_F_L4;
    p.ip_header_len = ipv == 6 ? 40 : 20;
    return p;
}

void pkt_set_payload(struct pkt_info *p, uint32_t payload_len, uint32_t captured)
{
    p->payload_len = payload_len;
    p->payload_captured = captured;
    p->ip_total_len = p->ip_header_len + p->l4_header_len + payload_len;
    p->wire_len = p->caplen = 14 + p->ip_total_len + (captured - payload_len);
}

struct pkt_info pkt_tcp(int ipv, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                        uint8_t flags, uint16_t window, uint16_t hdr, uint32_t payload_len,
                        uint32_t captured)
{
    struct pkt_info p = pkt_base(ipv, src, sport, dst, dport, IPPROTO_NUM_TCP);
    p.tcp_flags = flags;
    p.tcp_window = window;
    p.l4_header_len = hdr;
    pkt_set_payload(&p, payload_len, captured);
    return p;
}

struct pkt_info pkt_udp(int ipv, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                        uint32_t payload_len, uint32_t captured)
{
    struct pkt_info p = pkt_base(ipv, src, sport, dst, dport, IPPROTO_NUM_UDP);
    p.l4_header_len = 8;
    pkt_set_payload(&p, payload_len, captured);
    return p;
}

struct pkt_info pkt_icmp(int ipv, const char *src, const char *dst, uint8_t type, uint8_t code,
                         uint16_t id, uint32_t payload_len)
{
    struct pkt_info p =
        pkt_base(ipv, src, 0, dst, 0, ipv == 6 ? IPPROTO_NUM_ICMPV6 : IPPROTO_NUM_ICMP);
    p.icmp_type = type;
    p.icmp_code = code;
    p.icmp_id = id;
    p.l4_header_len = 8;
    pkt_set_payload(&p, payload_len, payload_len);
    return p;
}

/* ---- flows and tables ------------------------------------------------------------------- */

void flow_build(struct flow *f, enum feat_mode mode, const struct pkt_info *pkts,
                const uint64_t *ts, size_t n)
{
    struct flow_key k, k2;
    struct flow_pkt fp;
    memset(f, 0, sizeof(*f));
    assert_true(flow_key_from_packet(mode, &pkts[0], ts[0], &k, &fp));
    flow_start(f, &k, mode, &fp);
    for (size_t i = 1; i < n; i++) {
        assert_true(flow_key_from_packet(mode, &pkts[i], ts[i], &k2, &fp));
        assert_memory_equal(&k, &k2, sizeof(k));
        (void)flow_add_packet(f, &fp, 5 * SEC);
    }
}

void config_for(struct flow_table_config *c, enum feat_mode mode, uint32_t capacity, uint64_t seed)
{
    flow_table_config_defaults(c, mode);
    c->capacity = capacity;
    c->seed = seed;
    c->sweep_period_us = SEC;
}

struct flow *add(struct flow_table *t, struct pkt_info p, uint64_t ts)
{
    return flow_table_add(t, &p, ts);
}

/* ---- feature vectors -------------------------------------------------------------------- */

int feat_first_difference(const double *a, const double *b)
{
    for (int i = 0; i < FEAT_COUNT; i++) {
        bool same = (isnan(a[i]) && isnan(b[i])) || a[i] == b[i];
        if (!same)
            return i;
    }
    return FEAT_COUNT;
}
