/* test_decode.c - unit tests for capture/decode.c.
 *
 * Frames are built by hand, header by header, with a tiny append-only builder (struct frame),
 * so each test reads as the packet it describes. The exhaustive truncation test decodes every
 * prefix of several valid frames from a heap copy of exactly that many bytes, so AddressSanitizer
 * reports any read past caplen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capture/decode.h"

enum { FRAME_MAX = 2048 };

struct frame {
    uint8_t b[FRAME_MAX];
    uint32_t len;
};

static const uint8_t ip4_src[4] = {192, 0, 2, 1};
static const uint8_t ip4_dst[4] = {198, 51, 100, 7};
static const uint8_t ip6_src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t ip6_dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

static uint32_t frame_put(struct frame *f, const void *p, uint32_t n)
{
    uint32_t off = f->len;
    assert_true(f->len + n <= FRAME_MAX);
    memcpy(f->b + off, p, n);
    f->len += n;
    return off;
}

static uint32_t frame_zero(struct frame *f, uint32_t n)
{
    uint32_t off = f->len;
    assert_true(f->len + n <= FRAME_MAX);
    memset(f->b + off, 0, n);
    f->len += n;
    return off;
}

static void frame_set16(struct frame *f, uint32_t off, uint16_t v)
{
    f->b[off] = (uint8_t)(v >> 8);
    f->b[off + 1] = (uint8_t)v;
}

static uint32_t frame_u16(struct frame *f, uint16_t v)
{
    uint32_t off = frame_zero(f, 2);
    frame_set16(f, off, v);
    return off;
}

/* Payload bytes with a recognisable pattern. */
static uint32_t frame_payload(struct frame *f, uint32_t n)
{
    uint32_t off = frame_zero(f, n);
    for (uint32_t i = 0; i < n; i++)
        f->b[off + i] = (uint8_t)(0xa0 + i);
    return off;
}

/* Ethernet pads short frames with zeros to 60 bytes (without FCS). */
static void frame_pad(struct frame *f, uint32_t to)
{
    if (f->len < to)
        frame_zero(f, to - f->len);
}

static uint32_t frame_eth(struct frame *f, uint16_t type)
{
    static const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};
    uint32_t off = frame_put(f, macs, sizeof(macs));
    frame_u16(f, type);
    return off;
}

/* A VLAN tag after a TPID: TCI then the next type. */
static void frame_vlan_tag(struct frame *f, uint16_t vid, uint16_t next_type)
{
    frame_u16(f, vid & 0x0fff);
    frame_u16(f, next_type);
}

/* IPv4 header with optlen bytes of options (NOPs). The total length is set by
 * frame_ipv4_finish() once the rest is appended. */
static uint32_t frame_ipv4(struct frame *f, uint8_t proto, uint32_t optlen)
{
    uint32_t off = frame_zero(f, 20 + optlen);
    f->b[off] = (uint8_t)(0x40 | ((20 + optlen) / 4));
    frame_set16(f, off + 4, 0x1234); /* id */
    f->b[off + 8] = 64;              /* ttl */
    f->b[off + 9] = proto;
    memcpy(f->b + off + 12, ip4_src, 4);
    memcpy(f->b + off + 16, ip4_dst, 4);
    memset(f->b + off + 20, 1, optlen);
    return off;
}

static void frame_ipv4_finish(struct frame *f, uint32_t ip_off)
{
    frame_set16(f, ip_off + 2, (uint16_t)(f->len - ip_off));
}

static uint32_t frame_ipv6(struct frame *f, uint8_t next)
{
    uint32_t off = frame_zero(f, 40);
    f->b[off] = 0x60;
    f->b[off + 6] = next;
    f->b[off + 7] = 64;
    memcpy(f->b + off + 8, ip6_src, 16);
    memcpy(f->b + off + 24, ip6_dst, 16);
    return off;
}

static void frame_ipv6_finish(struct frame *f, uint32_t ip_off)
{
    frame_set16(f, ip_off + 4, (uint16_t)(f->len - ip_off - 40));
}

/* Hop-by-hop, routing or destination options header of len bytes (a multiple of 8). */
static uint32_t frame_ipv6_ext(struct frame *f, uint8_t next, uint32_t len)
{
    uint32_t off = frame_zero(f, len);
    f->b[off] = next;
    f->b[off + 1] = (uint8_t)(len / 8 - 1);
    return off;
}

static uint32_t frame_ipv6_frag(struct frame *f, uint8_t next, uint16_t offset8, bool more)
{
    uint32_t off = frame_zero(f, 8);
    f->b[off] = next;
    frame_set16(f, off + 2, (uint16_t)(offset8 << 3 | (more ? 1 : 0)));
    f->b[off + 4] = 0xde;
    f->b[off + 7] = 0xad;
    return off;
}

static uint32_t frame_tcp(struct frame *f, uint16_t sport, uint16_t dport, uint8_t flags,
                          uint16_t window, uint32_t optlen)
{
    uint32_t off = frame_zero(f, 20 + optlen);
    frame_set16(f, off, sport);
    frame_set16(f, off + 2, dport);
    f->b[off + 12] = (uint8_t)(((20 + optlen) / 4) << 4);
    f->b[off + 13] = flags;
    frame_set16(f, off + 14, window);
    memset(f->b + off + 20, 1, optlen);
    return off;
}

static uint32_t frame_udp(struct frame *f, uint16_t sport, uint16_t dport)
{
    uint32_t off = frame_zero(f, 8);
    frame_set16(f, off, sport);
    frame_set16(f, off + 2, dport);
    return off;
}

static uint32_t frame_icmp(struct frame *f, uint8_t type, uint8_t code, uint16_t id)
{
    uint32_t off = frame_zero(f, 8);
    f->b[off] = type;
    f->b[off + 1] = code;
    frame_set16(f, off + 4, id);
    frame_set16(f, off + 6, 1); /* sequence */
    return off;
}

static enum decode_status decode_frame(int linktype, const struct frame *f, struct pkt_info *pi)
{
    return decode_packet(linktype, f->b, f->len, f->len, pi);
}

static void assert_ipv4_addrs(const struct pkt_info *pi)
{
    static const uint8_t zero[12];
    assert_int_equal(pi->ip_version, 4);
    assert_memory_equal(pi->src, ip4_src, 4);
    assert_memory_equal(pi->dst, ip4_dst, 4);
    assert_memory_equal(pi->src + 4, zero, 12);
    assert_memory_equal(pi->dst + 4, zero, 12);
}

static void assert_ipv6_addrs(const struct pkt_info *pi)
{
    assert_int_equal(pi->ip_version, 6);
    assert_memory_equal(pi->src, ip6_src, 16);
    assert_memory_equal(pi->dst, ip6_dst, 16);
}

/* ---- Ethernet, IPv4, TCP ---- */

static void test_decode_eth_ipv4_tcp_options_flags(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_TCP, 0);
    frame_tcp(&f, 443, 51000, TCP_SYN | TCP_ACK | TCP_ECE | TCP_CWR, 0xfaf0, 12);
    frame_payload(&f, 10);
    frame_ipv4_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_ipv4_addrs(&pi);
    assert_int_equal(pi.proto, IPPROTO_NUM_TCP);
    assert_int_equal(pi.sport, 443);
    assert_int_equal(pi.dport, 51000);
    assert_int_equal(pi.tcp_flags, TCP_SYN | TCP_ACK | TCP_ECE | TCP_CWR);
    assert_int_equal(pi.tcp_window, 0xfaf0);
    assert_int_equal(pi.flags, PKT_F_L4);
    assert_int_equal(pi.ip_header_len, 20);
    assert_int_equal(pi.l4_header_len, 32);
    assert_int_equal(pi.payload_len, 10);
    assert_int_equal(pi.payload_captured, 10);
    assert_int_equal(pi.ip_total_len, 20 + 32 + 10);
    assert_int_equal(pi.vlan_depth, 0);
    assert_int_equal(pi.caplen, f.len);
    assert_int_equal(pi.wire_len, f.len);
    assert_int_equal(pi.icmp_type, 0);
    assert_int_equal(pi.icmp_id, 0);
}

static void test_decode_eth_padding_counts_only_in_payload_captured(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_TCP, 0);
    frame_tcp(&f, 51000, 80, TCP_ACK, 1024, 0);
    frame_ipv4_finish(&f, ip);
    assert_int_equal(f.len, 54);
    frame_pad(&f, 60);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.tcp_flags, TCP_ACK);
    assert_int_equal(pi.ip_total_len, 40);
    assert_int_equal(pi.payload_len, 0);
    assert_int_equal(pi.payload_captured, 6);
    assert_int_equal(pi.flags, PKT_F_L4);
}

static void test_decode_tcp_bad_data_offset(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_TCP, 0);
    uint32_t tcp = frame_tcp(&f, 1, 2, TCP_SYN, 0, 0);
    frame_ipv4_finish(&f, ip);
    f.b[tcp + 12] = 4 << 4;
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_BAD_TCP_HEADER);
}

static void test_decode_tcp_options_beyond_datagram_are_truncated(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_TCP, 0);
    uint32_t tcp = frame_tcp(&f, 1, 2, TCP_SYN, 0, 0);
    frame_ipv4_finish(&f, ip);
    frame_pad(&f, 60);
    /* doff 6 claims 4 option bytes that only the Ethernet padding could supply. */
    f.b[tcp + 12] = 6 << 4;
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_TRUNC_TCP);
}

static void test_decode_snapped_inside_payload_is_ok(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_TCP, 0);
    frame_tcp(&f, 1, 2, TCP_PSH | TCP_ACK, 100, 0);
    frame_payload(&f, 1400);
    frame_ipv4_finish(&f, ip);

    assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, 96, f.len, &pi), DECODE_OK);
    assert_int_equal(pi.flags, PKT_F_L4 | PKT_F_SNAPPED);
    assert_int_equal(pi.payload_len, 1400);
    assert_int_equal(pi.payload_captured, 96 - 54);
    assert_int_equal(pi.caplen, 96);
    assert_int_equal(pi.wire_len, f.len);
}

static void test_decode_wire_len_below_caplen_is_normalised(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_UDP, 0);
    frame_udp(&f, 53, 5353);
    frame_payload(&f, 20);
    frame_ipv4_finish(&f, ip);

    assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.len, 10, &pi), DECODE_OK);
    assert_int_equal(pi.wire_len, f.len);
    assert_int_equal(pi.flags & PKT_F_SNAPPED, 0);
    assert_int_equal(pi.payload_len, 20);
}

/* ---- VLAN ---- */

static void test_decode_vlan_single_tag(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x8100);
    frame_vlan_tag(&f, 100, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_UDP, 0);
    frame_udp(&f, 1234, 53);
    frame_payload(&f, 30);
    frame_ipv4_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.vlan_depth, 1);
    assert_int_equal(pi.sport, 1234);
    assert_int_equal(pi.dport, 53);
    assert_int_equal(pi.payload_len, 30);
    assert_ipv4_addrs(&pi);
}

static void test_decode_vlan_qinq(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x88a8);
    frame_vlan_tag(&f, 10, 0x8100);
    frame_vlan_tag(&f, 20, 0x86dd);
    uint32_t ip = frame_ipv6(&f, IPPROTO_NUM_TCP);
    frame_tcp(&f, 22, 60000, TCP_ACK, 500, 0);
    frame_payload(&f, 5);
    frame_ipv6_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.vlan_depth, 2);
    assert_ipv6_addrs(&pi);
    assert_int_equal(pi.sport, 22);
    assert_int_equal(pi.payload_len, 5);
}

static void test_decode_vlan_max_depth_with_9100(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x9100);
    frame_vlan_tag(&f, 1, 0x88a8);
    frame_vlan_tag(&f, 2, 0x8100);
    frame_vlan_tag(&f, 3, 0x8100);
    frame_vlan_tag(&f, 4, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_UDP, 0);
    frame_udp(&f, 1, 2);
    frame_ipv4_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.vlan_depth, DECODE_MAX_VLAN);
}

static void test_decode_vlan_too_deep(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x8100);
    for (int i = 0; i < DECODE_MAX_VLAN; i++)
        frame_vlan_tag(&f, (uint16_t)i, 0x8100);
    frame_vlan_tag(&f, 9, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_UDP, 0);
    frame_udp(&f, 1, 2);
    frame_ipv4_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_VLAN_TOO_DEEP);
}

static void test_decode_vlan_truncated_tag(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x8100);
    frame_u16(&f, 5); /* TCI without the inner type */
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_TRUNC_LINK);
}

/* ---- other link types ---- */

static void test_decode_linux_sll(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    uint32_t sll = frame_zero(&f, 16);
    frame_set16(&f, sll + 2, 1); /* ARPHRD_ETHER */
    frame_set16(&f, sll + 4, 6); /* address length */
    frame_set16(&f, sll + 14, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_TCP, 0);
    frame_tcp(&f, 8080, 40000, TCP_FIN | TCP_ACK, 10, 0);
    frame_ipv4_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_LINUX_SLL, &f, &pi), DECODE_OK);
    assert_ipv4_addrs(&pi);
    assert_int_equal(pi.sport, 8080);
    assert_int_equal(pi.tcp_flags, TCP_FIN | TCP_ACK);
    assert_int_equal(pi.payload_captured, 0);

    f.len = 15;
    assert_int_equal(decode_frame(DECODE_LINK_LINUX_SLL, &f, &pi), DECODE_TRUNC_LINK);
}

static void test_decode_linux_sll_with_vlan(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    uint32_t sll = frame_zero(&f, 16);
    frame_set16(&f, sll + 14, 0x8100); /* libpcap re-inserts the tag at the protocol field */
    frame_vlan_tag(&f, 7, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_UDP, 0);
    frame_udp(&f, 1, 2);
    frame_ipv4_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_LINUX_SLL, &f, &pi), DECODE_OK);
    assert_int_equal(pi.vlan_depth, 1);
    assert_int_equal(pi.dport, 2);
}

static void test_decode_linux_sll2(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    uint32_t sll2 = frame_zero(&f, 20);
    frame_set16(&f, sll2, 0x86dd);
    f.b[sll2 + 11] = 6; /* address length, for realism */
    uint32_t ip = frame_ipv6(&f, IPPROTO_NUM_UDP);
    frame_udp(&f, 443, 50000);
    frame_payload(&f, 100);
    frame_ipv6_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_LINUX_SLL2, &f, &pi), DECODE_OK);
    assert_ipv6_addrs(&pi);
    assert_int_equal(pi.proto, IPPROTO_NUM_UDP);
    assert_int_equal(pi.ip_header_len, 40);
    assert_int_equal(pi.ip_total_len, 148);
    assert_int_equal(pi.payload_len, 100);

    frame_set16(&f, sll2, 0x0806);
    assert_int_equal(decode_frame(DECODE_LINK_LINUX_SLL2, &f, &pi), DECODE_NOT_IP);
    f.len = 19;
    assert_int_equal(decode_frame(DECODE_LINK_LINUX_SLL2, &f, &pi), DECODE_TRUNC_LINK);
}

static void test_decode_raw_ipv4_and_ipv6(void **state)
{
    (void)state;
    struct frame f4 = {0}, f6 = {0};
    struct pkt_info pi;
    uint32_t ip = frame_ipv4(&f4, IPPROTO_NUM_UDP, 0);
    frame_udp(&f4, 123, 123);
    frame_payload(&f4, 48);
    frame_ipv4_finish(&f4, ip);
    ip = frame_ipv6(&f6, IPPROTO_NUM_TCP);
    frame_tcp(&f6, 1, 2, TCP_RST, 0, 0);
    frame_ipv6_finish(&f6, ip);

    static const int raw_links[] = {DECODE_LINK_RAW, DECODE_LINK_RAW_OPENBSD};
    for (size_t i = 0; i < sizeof(raw_links) / sizeof(raw_links[0]); i++) {
        assert_int_equal(decode_frame(raw_links[i], &f4, &pi), DECODE_OK);
        assert_ipv4_addrs(&pi);
        assert_int_equal(pi.payload_len, 48);
        assert_int_equal(decode_frame(raw_links[i], &f6, &pi), DECODE_OK);
        assert_ipv6_addrs(&pi);
        assert_int_equal(pi.tcp_flags, TCP_RST);
    }
    assert_int_equal(decode_frame(DECODE_LINK_IPV4, &f4, &pi), DECODE_OK);
    assert_int_equal(decode_frame(DECODE_LINK_IPV6, &f6, &pi), DECODE_OK);
    /* LINKTYPE_IPV4/IPV6 fix the version: the other family is a bad header. */
    assert_int_equal(decode_frame(DECODE_LINK_IPV4, &f6, &pi), DECODE_BAD_IPV4_HEADER);
    assert_int_equal(decode_frame(DECODE_LINK_IPV6, &f4, &pi), DECODE_BAD_IPV6_HEADER);
    /* On DLT_RAW a nibble other than 6 is decoded as IPv4 and so rejected as such. */
    f4.b[0] = 0x55;
    assert_int_equal(decode_frame(DECODE_LINK_RAW, &f4, &pi), DECODE_BAD_IPV4_HEADER);
    assert_int_equal(decode_packet(DECODE_LINK_RAW, NULL, 0, 0, &pi), DECODE_TRUNC_IPV4);
}

/* A link header given as bytes, then an IPv4 or IPv6 UDP datagram (5000 -> 6000, 3 bytes). */
static void build_after(struct frame *f, const uint8_t *hdr, uint32_t n, bool v6)
{
    frame_put(f, hdr, n);
    uint32_t ip = v6 ? frame_ipv6(f, IPPROTO_NUM_UDP) : frame_ipv4(f, IPPROTO_NUM_UDP, 0);
    frame_udp(f, 5000, 6000);
    frame_payload(f, 3);
    if (v6)
        frame_ipv6_finish(f, ip);
    else
        frame_ipv4_finish(f, ip);
}

/* A loopback frame: the 4-byte address family, then a UDP datagram (see build_after). */
static void build_loopback(struct frame *f, const uint8_t family[4], bool v6)
{
    build_after(f, family, 4, v6);
}

static void test_decode_null_both_byte_orders(void **state)
{
    (void)state;
    static const struct {
        uint8_t family[4];
        bool v6;
    } cases[] = {
        {{2, 0, 0, 0}, false}, {{0, 0, 0, 2}, false}, {{10, 0, 0, 0}, true}, {{0, 0, 0, 10}, true},
        {{24, 0, 0, 0}, true}, {{0, 0, 0, 24}, true}, {{28, 0, 0, 0}, true}, {{0, 0, 0, 28}, true},
        {{30, 0, 0, 0}, true}, {{0, 0, 0, 30}, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct frame f = {0};
        struct pkt_info pi;
        build_loopback(&f, cases[i].family, cases[i].v6);
        assert_int_equal(decode_frame(DECODE_LINK_NULL, &f, &pi), DECODE_OK);
        assert_int_equal(pi.ip_version, cases[i].v6 ? 6 : 4);
        assert_int_equal(pi.sport, 5000);
        assert_int_equal(pi.payload_len, 3);
    }

    struct frame f = {0};
    struct pkt_info pi;
    static const uint8_t unknown[4] = {7, 0, 0, 0};
    build_loopback(&f, unknown, false);
    assert_int_equal(decode_frame(DECODE_LINK_NULL, &f, &pi), DECODE_NOT_IP);
    f.len = 3;
    assert_int_equal(decode_frame(DECODE_LINK_NULL, &f, &pi), DECODE_TRUNC_LINK);
}

/* Router and dial-up links: PPP with and without HDLC-like framing, a compressed protocol field,
 * Cisco HDLC (its own link type, and on a link declared PPP), PPPoE, MPLS label stacks, and PPI
 * around Ethernet; every header truncated is trunc_link, a non-IP protocol is not_ip. */
static void test_decode_ppp_hdlc_pppoe_mpls_ppi(void **state)
{
    (void)state;
    static const struct {
        int link;
        uint8_t hdr[32];
        uint32_t n;
        bool v6;
    } cases[] = {
        {DECODE_LINK_PPP, {0xff, 0x03, 0x00, 0x21}, 4, false},
        {DECODE_LINK_PPP, {0xff, 0x03, 0x00, 0x57}, 4, true},
        {DECODE_LINK_PPP, {0x00, 0x21}, 2, false},
        {DECODE_LINK_PPP, {0x21}, 1, false},
        {DECODE_LINK_PPP, {0x0f, 0x00, 0x08, 0x00}, 4, false},
        {DECODE_LINK_PPP_SERIAL, {0xff, 0x03, 0x00, 0x57}, 4, true},
        {DECODE_LINK_C_HDLC, {0x0f, 0x00, 0x86, 0xdd}, 4, true},
        {DECODE_LINK_C_HDLC, {0x8f, 0x00, 0x08, 0x00}, 4, false},
        {DECODE_LINK_C_HDLC,
         {0x0f, 0x00, 0x88, 0x47, 0x00, 0x01, 0x20, 0xfe, 0x00, 0x02, 0x01, 0xfe},
         12,
         false},
        {DECODE_LINK_PPP_ETHER, {0x11, 0x00, 0x12, 0x34, 0x00, 0x40, 0x00, 0x21}, 8, false},
        {DECODE_LINK_PPI,
         {0, 0, 8, 0, 1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 0x86, 0xdd},
         22,
         true},
        {DECODE_LINK_ETHERNET,
         {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 0x88, 0x47, 0, 0, 0x11, 0x40},
         18,
         true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct frame f = {0};
        struct pkt_info pi;
        assert_true(decode_linktype_supported(cases[i].link));
        build_after(&f, cases[i].hdr, cases[i].n, cases[i].v6);
        if (decode_frame(cases[i].link, &f, &pi) != DECODE_OK)
            fail_msg("case %zu: %s", i, decode_status_name(decode_frame(cases[i].link, &f, &pi)));
        assert_int_equal(pi.ip_version, cases[i].v6 ? 6 : 4);
        assert_int_equal(pi.sport, 5000);
        assert_int_equal(pi.dport, 6000);
        assert_int_equal(pi.payload_len, 3);
        for (uint32_t cut = 0; cut < cases[i].n; cut++) {
            enum decode_status st = decode_packet(cases[i].link, f.b, cut, f.len, &pi);
            if (st != DECODE_TRUNC_LINK)
                fail_msg("case %zu cut at %u: %s", i, cut, decode_status_name(st));
        }
    }
    /* LCP on PPP, ARP on Cisco HDLC, MPLS carrying something that is not IP: not_ip. */
    static const uint8_t lcp[] = {0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x04};
    static const uint8_t arp[] = {0x0f, 0x00, 0x08, 0x06, 0, 0, 0, 0};
    static const uint8_t mpls_eth[] = {0x0f, 0x00, 0x88, 0x47, 0x00, 0x01, 0x21, 0xfe, 0x00, 0x11};
    struct frame f = {0};
    struct pkt_info pi;
    frame_put(&f, lcp, sizeof(lcp));
    assert_int_equal(decode_frame(DECODE_LINK_PPP, &f, &pi), DECODE_NOT_IP);
    f.len = 0;
    frame_put(&f, arp, sizeof(arp));
    assert_int_equal(decode_frame(DECODE_LINK_C_HDLC, &f, &pi), DECODE_NOT_IP);
    f.len = 0;
    frame_put(&f, mpls_eth, sizeof(mpls_eth));
    assert_int_equal(decode_frame(DECODE_LINK_C_HDLC, &f, &pi), DECODE_NOT_IP);
    /* Nine labels without a bottom: too deep; PPI inside PPI or around 802.11: unsupported. */
    f.len = 0;
    static const uint8_t chdlc_mpls[] = {0x0f, 0x00, 0x88, 0x47};
    frame_put(&f, chdlc_mpls, sizeof(chdlc_mpls));
    for (int k = 0; k < 9; k++) {
        static const uint8_t label[] = {0x00, 0x01, 0x20, 0x40};
        frame_put(&f, label, sizeof(label));
    }
    frame_zero(&f, 20);
    assert_int_equal(decode_frame(DECODE_LINK_C_HDLC, &f, &pi), DECODE_VLAN_TOO_DEEP);
    static const uint8_t ppi_ppi[] = {0, 0, 8, 0, 192, 0, 0, 0, 0, 0, 8, 0, 1, 0, 0, 0};
    static const uint8_t ppi_wifi[] = {0, 0, 8, 0, 105, 0, 0, 0, 0x08, 0x01, 0, 0};
    f.len = 0;
    frame_put(&f, ppi_ppi, sizeof(ppi_ppi));
    frame_zero(&f, 40);
    assert_int_equal(decode_frame(DECODE_LINK_PPI, &f, &pi), DECODE_UNSUPPORTED_LINK);
    f.len = 0;
    frame_put(&f, ppi_wifi, sizeof(ppi_wifi));
    frame_zero(&f, 40);
    assert_int_equal(decode_frame(DECODE_LINK_PPI, &f, &pi), DECODE_UNSUPPORTED_LINK);
    /* A PPI length shorter than its own header, or past the capture: trunc_link. */
    static const uint8_t ppi_short[] = {0, 0, 4, 0, 1, 0, 0, 0};
    static const uint8_t ppi_long[] = {0, 0, 0xff, 0x7f, 1, 0, 0, 0};
    f.len = 0;
    frame_put(&f, ppi_short, sizeof(ppi_short));
    frame_zero(&f, 40);
    assert_int_equal(decode_frame(DECODE_LINK_PPI, &f, &pi), DECODE_TRUNC_LINK);
    f.len = 0;
    frame_put(&f, ppi_long, sizeof(ppi_long));
    frame_zero(&f, 40);
    assert_int_equal(decode_frame(DECODE_LINK_PPI, &f, &pi), DECODE_TRUNC_LINK);
}

static void test_decode_loop_network_order_only(void **state)
{
    (void)state;
    static const uint8_t be_inet[4] = {0, 0, 0, 2};
    static const uint8_t be_inet6[4] = {0, 0, 0, 24};
    static const uint8_t le_inet[4] = {2, 0, 0, 0};
    struct frame f4 = {0}, f6 = {0}, fle = {0};
    struct pkt_info pi;
    build_loopback(&f4, be_inet, false);
    build_loopback(&f6, be_inet6, true);
    build_loopback(&fle, le_inet, false);
    assert_int_equal(decode_frame(DECODE_LINK_LOOP, &f4, &pi), DECODE_OK);
    assert_int_equal(pi.ip_version, 4);
    assert_int_equal(decode_frame(DECODE_LINK_LOOP, &f6, &pi), DECODE_OK);
    assert_int_equal(pi.ip_version, 6);
    assert_int_equal(decode_frame(DECODE_LINK_LOOP, &fle, &pi), DECODE_NOT_IP);
}

static void test_decode_arp_is_not_ip(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0806);
    uint32_t arp = frame_zero(&f, 28);
    frame_set16(&f, arp, 1);
    frame_set16(&f, arp + 2, 0x0800);
    f.b[arp + 4] = 6;
    f.b[arp + 5] = 4;
    frame_set16(&f, arp + 6, 1);
    frame_pad(&f, 60);
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_NOT_IP);

    /* An ARP frame behind a VLAN tag is still just not IP. */
    struct frame g = {0};
    frame_eth(&g, 0x8100);
    frame_vlan_tag(&g, 3, 0x0806);
    frame_zero(&g, 28);
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &g, &pi), DECODE_NOT_IP);
    assert_int_equal(pi.vlan_depth, 1);
}

static void test_decode_unknown_link_type(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    frame_zero(&f, 40);
    assert_int_equal(decode_frame(105, &f, &pi), DECODE_UNSUPPORTED_LINK); /* 802.11 */
    assert_int_equal(decode_frame(-1, &f, &pi), DECODE_UNSUPPORTED_LINK);

    static const int supported[] = {0, 1, 9, 12, 14, 50, 51, 104, 108, 113, 192, 228, 229, 276};
    for (size_t i = 0; i < sizeof(supported) / sizeof(supported[0]); i++)
        assert_true(decode_linktype_supported(supported[i]));
    assert_false(decode_linktype_supported(105));
    assert_false(decode_linktype_supported(-1));
    assert_false(decode_linktype_supported(2));
}

static void test_decode_trunc_link(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, 13, 60, &pi), DECODE_TRUNC_LINK);
    assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, NULL, 0, 60, &pi), DECODE_TRUNC_LINK);
    assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, 14, 60, &pi), DECODE_TRUNC_IPV4);
}

/* ---- IPv4 specifics ---- */

static void test_decode_ipv4_options(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_UDP, 40); /* IHL 15, the maximum */
    frame_udp(&f, 7, 9);
    frame_payload(&f, 11);
    frame_ipv4_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.ip_header_len, 60);
    assert_int_equal(pi.l4_header_len, 8);
    assert_int_equal(pi.sport, 7);
    assert_int_equal(pi.dport, 9);
    assert_int_equal(pi.payload_len, 11);
    assert_int_equal(pi.payload_captured, 11);
    assert_ipv4_addrs(&pi);

    /* Options cut by the capture are a truncated IPv4 header. */
    assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, 14 + 59, f.len, &pi),
                     DECODE_TRUNC_IPV4);
}

static void test_decode_ipv4_first_fragment_has_l4(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_UDP, 0);
    frame_set16(&f, ip + 6, 0x2000); /* MF, offset 0 */
    frame_udp(&f, 4000, 4001);
    frame_payload(&f, 1472);
    frame_ipv4_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.flags, PKT_F_FRAGMENT | PKT_F_L4);
    assert_int_equal(pi.sport, 4000);
    assert_int_equal(pi.dport, 4001);
    assert_int_equal(pi.l4_header_len, 8);
    assert_int_equal(pi.payload_len, 1472);
    assert_int_equal(pi.payload_captured, 1472);
}

static void test_decode_ipv4_nonfirst_fragment_has_no_l4(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_UDP, 0);
    frame_set16(&f, ip + 6, 185); /* offset 1480 bytes, last fragment (MF clear) */
    /* Bytes that would look like a UDP header if anyone decoded them. */
    frame_udp(&f, 1111, 2222);
    frame_payload(&f, 12);
    frame_ipv4_finish(&f, ip);
    frame_pad(&f, 60);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.flags, PKT_F_FRAGMENT | PKT_F_NONFIRST_FRAG);
    assert_int_equal(pi.proto, IPPROTO_NUM_UDP);
    assert_int_equal(pi.sport, 0);
    assert_int_equal(pi.dport, 0);
    assert_int_equal(pi.l4_header_len, 0);
    assert_int_equal(pi.ip_header_len, 20);
    assert_int_equal(pi.payload_len, 20);
    assert_int_equal(pi.payload_captured, 0);
    assert_ipv4_addrs(&pi);
}

static void test_decode_ipv4_tso_zero_length(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    frame_ipv4(&f, IPPROTO_NUM_TCP, 0); /* total length left 0 */
    frame_tcp(&f, 1, 2, TCP_ACK | TCP_PSH, 9, 12);
    frame_payload(&f, 300);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.flags, PKT_F_IP_LEN_ZERO | PKT_F_L4);
    assert_int_equal(pi.ip_total_len, f.len - 14);
    assert_int_equal(pi.payload_len, 300);
    assert_int_equal(pi.payload_captured, 300);

    /* A snapped TSO super-packet keeps its size: lengths come from the wire length. */
    assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, 100, 60000, &pi), DECODE_OK);
    assert_int_equal(pi.flags, PKT_F_IP_LEN_ZERO | PKT_F_L4 | PKT_F_SNAPPED);
    assert_int_equal(pi.ip_total_len, 60000 - 14);
    assert_int_equal(pi.payload_len, 60000 - 14 - 20 - 32);
    assert_int_equal(pi.payload_captured, 100 - 14 - 20 - 32);
}

static void test_decode_ipv4_bad_headers(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_TCP, 0);
    frame_tcp(&f, 1, 2, TCP_SYN, 0, 0);
    frame_ipv4_finish(&f, ip);
    struct frame good = f;

    f.b[ip] = 0x44; /* IHL 4 */
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_BAD_IPV4_HEADER);
    f = good;
    f.b[ip] = 0x55; /* version 5 */
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_BAD_IPV4_HEADER);
    f = good;
    f.b[ip] = 0x65; /* version 6 behind ethertype 0x0800 */
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_BAD_IPV4_HEADER);
    f = good;
    frame_set16(&f, ip + 2, 19); /* total length shorter than the header */
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_BAD_IPV4_HEADER);
    f = good;
    frame_set16(&f, ip + 2, 41); /* one byte more than the frame holds */
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_BAD_IP_LENGTH);
    frame_set16(&f, ip + 2, 0xffff);
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_BAD_IP_LENGTH);
    /* ...but a snapped frame whose wire length covers it is fine. */
    assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.len, 14 + 0xffff, &pi), DECODE_OK);
    assert_int_equal(pi.payload_len, 0xffff - 40);
    assert_int_equal(pi.payload_captured, 0);
    f = good;
    f.len = 14 + 19;
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_TRUNC_IPV4);
}

/* ---- IPv6 specifics ---- */

static void test_decode_ipv6_extension_chain(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x86dd);
    uint32_t ip = frame_ipv6(&f, 0);
    frame_ipv6_ext(&f, 44, 8);               /* hop-by-hop */
    frame_ipv6_frag(&f, 60, 0, true);        /* first fragment */
    frame_ipv6_ext(&f, IPPROTO_NUM_TCP, 16); /* destination options */
    frame_tcp(&f, 179, 33000, TCP_PSH | TCP_ACK, 16384, 0);
    frame_payload(&f, 19);
    frame_ipv6_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_ipv6_addrs(&pi);
    assert_int_equal(pi.proto, IPPROTO_NUM_TCP);
    assert_int_equal(pi.flags, PKT_F_FRAGMENT | PKT_F_L4);
    assert_int_equal(pi.ip_header_len, 40 + 8 + 8 + 16);
    assert_int_equal(pi.ip_total_len, 40 + 8 + 8 + 16 + 20 + 19);
    assert_int_equal(pi.sport, 179);
    assert_int_equal(pi.l4_header_len, 20);
    assert_int_equal(pi.payload_len, 19);
    assert_int_equal(pi.payload_captured, 19);
}

static void test_decode_ipv6_nonfirst_fragment(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x86dd);
    uint32_t ip = frame_ipv6(&f, 44);
    frame_ipv6_frag(&f, IPPROTO_NUM_UDP, 181, false);
    frame_udp(&f, 1, 2);
    frame_payload(&f, 92);
    frame_ipv6_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.flags, PKT_F_FRAGMENT | PKT_F_NONFIRST_FRAG);
    assert_int_equal(pi.proto, IPPROTO_NUM_UDP);
    assert_int_equal(pi.ip_header_len, 48);
    assert_int_equal(pi.l4_header_len, 0);
    assert_int_equal(pi.sport, 0);
    assert_int_equal(pi.payload_len, 100);
    assert_int_equal(pi.payload_captured, 0);
}

static void test_decode_ipv6_routing_and_ah(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x86dd);
    uint32_t ip = frame_ipv6(&f, 43);
    frame_ipv6_ext(&f, 51, 24); /* routing, 24 bytes */
    uint32_t ah = frame_zero(&f, 24);
    f.b[ah] = IPPROTO_NUM_UDP;
    f.b[ah + 1] = 4; /* (4 + 2) * 4 = 24 bytes */
    frame_udp(&f, 500, 500);
    frame_payload(&f, 4);
    frame_ipv6_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.ip_header_len, 40 + 24 + 24);
    assert_int_equal(pi.sport, 500);
    assert_int_equal(pi.payload_len, 4);
}

static void test_decode_ipv6_no_next_header_and_unknown(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x86dd);
    uint32_t ip = frame_ipv6(&f, 60);
    frame_ipv6_ext(&f, 59, 8);
    frame_ipv6_finish(&f, ip);
    frame_pad(&f, 60);
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.proto, 59);
    assert_int_equal(pi.ip_header_len, 48);
    assert_int_equal(pi.flags, 0);
    assert_int_equal(pi.payload_len, 0);

    struct frame g = {0};
    frame_eth(&g, 0x86dd);
    ip = frame_ipv6(&g, 132); /* SCTP: not decoded */
    frame_payload(&g, 28);
    frame_ipv6_finish(&g, ip);
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &g, &pi), DECODE_OK);
    assert_int_equal(pi.proto, 132);
    assert_int_equal(pi.l4_header_len, 0);
    assert_int_equal(pi.payload_len, 28);
    assert_int_equal(pi.payload_captured, 0);
    assert_int_equal(pi.flags, 0);
}

static void build_ipv6_chain(struct frame *f, int headers)
{
    frame_eth(f, 0x86dd);
    uint32_t ip = frame_ipv6(f, headers ? 60 : IPPROTO_NUM_UDP);
    for (int i = 0; i < headers; i++)
        frame_ipv6_ext(f, i == headers - 1 ? IPPROTO_NUM_UDP : 60, 8);
    frame_udp(f, 1, 2);
    frame_ipv6_finish(f, ip);
}

static void test_decode_ipv6_chain_limit(void **state)
{
    (void)state;
    struct frame f = {0}, g = {0};
    struct pkt_info pi;
    build_ipv6_chain(&f, DECODE_MAX_IPV6_EXT);
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.ip_header_len, 40 + 8 * DECODE_MAX_IPV6_EXT);
    assert_int_equal(pi.dport, 2);

    build_ipv6_chain(&g, DECODE_MAX_IPV6_EXT + 1);
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &g, &pi), DECODE_BAD_IPV6_EXT);
}

static void test_decode_ipv6_truncated_extension(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x86dd);
    uint32_t ip = frame_ipv6(&f, 0);
    uint32_t hbh = frame_ipv6_ext(&f, IPPROTO_NUM_UDP, 8);
    frame_udp(&f, 1, 2);
    frame_ipv6_finish(&f, ip);

    f.b[hbh + 1] = 2; /* claims 24 bytes, 16 are in the datagram */
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_BAD_IPV6_EXT);
    /* Padding after the datagram does not make it fit. */
    frame_pad(&f, 120);
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_BAD_IPV6_EXT);
}

static void test_decode_ipv6_bad_header_and_length(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x86dd);
    uint32_t ip = frame_ipv6(&f, IPPROTO_NUM_UDP);
    frame_udp(&f, 1, 2);
    frame_ipv6_finish(&f, ip);
    struct frame good = f;

    f.b[ip] = 0x40;
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_BAD_IPV6_HEADER);
    f = good;
    frame_set16(&f, ip + 4, 9);
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_BAD_IP_LENGTH);
    f = good;
    f.len = 14 + 39;
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_TRUNC_IPV6);
    f = good;
    frame_set16(&f, ip + 4, 0); /* BIG TCP / jumbogram: length from the frame */
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.flags, PKT_F_IP_LEN_ZERO | PKT_F_L4);
    assert_int_equal(pi.ip_total_len, 48);
    assert_int_equal(pi.payload_len, 0);
}

/* ---- UDP and ICMP ---- */

static void test_decode_udp(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_UDP, 0);
    frame_udp(&f, 53, 33333);
    frame_payload(&f, 2);
    frame_ipv4_finish(&f, ip);
    frame_pad(&f, 60);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.proto, IPPROTO_NUM_UDP);
    assert_int_equal(pi.sport, 53);
    assert_int_equal(pi.dport, 33333);
    assert_int_equal(pi.l4_header_len, 8);
    assert_int_equal(pi.tcp_flags, 0);
    assert_int_equal(pi.payload_len, 2);
    assert_int_equal(pi.payload_captured, 60 - 42);

    /* A UDP header that only exists in the padding is truncated. */
    frame_set16(&f, ip + 2, 24);
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_TRUNC_UDP);
}

static void test_decode_icmp_echo(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x0800);
    uint32_t ip = frame_ipv4(&f, IPPROTO_NUM_ICMP, 0);
    uint32_t icmp = frame_icmp(&f, 8, 0, 0xbeef);
    frame_payload(&f, 56);
    frame_ipv4_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.flags, PKT_F_L4);
    assert_int_equal(pi.icmp_type, 8);
    assert_int_equal(pi.icmp_code, 0);
    assert_int_equal(pi.icmp_id, 0xbeef);
    assert_int_equal(pi.sport, 0);
    assert_int_equal(pi.dport, 0);
    assert_int_equal(pi.l4_header_len, 8);
    assert_int_equal(pi.payload_len, 56);
    assert_int_equal(pi.payload_captured, 0);

    f.b[icmp] = 0; /* echo reply */
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.icmp_id, 0xbeef);

    f.b[icmp] = 3; /* destination unreachable: no identifier */
    f.b[icmp + 1] = 3;
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.icmp_type, 3);
    assert_int_equal(pi.icmp_code, 3);
    assert_int_equal(pi.icmp_id, 0);

    /* Four captured bytes are enough; the header then counts as 4. */
    f.b[icmp] = 8;
    f.b[icmp + 1] = 0;
    assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, icmp + 6, f.len, &pi), DECODE_OK);
    assert_int_equal(pi.l4_header_len, 4);
    assert_int_equal(pi.icmp_id, 0);
    assert_int_equal(pi.payload_len, 60);
    assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, icmp + 3, f.len, &pi),
                     DECODE_TRUNC_ICMP);
}

static void test_decode_icmpv6_echo(void **state)
{
    (void)state;
    struct frame f = {0};
    struct pkt_info pi;
    frame_eth(&f, 0x86dd);
    uint32_t ip = frame_ipv6(&f, IPPROTO_NUM_ICMPV6);
    uint32_t icmp = frame_icmp(&f, 128, 0, 0x0102);
    frame_payload(&f, 8);
    frame_ipv6_finish(&f, ip);

    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.proto, IPPROTO_NUM_ICMPV6);
    assert_int_equal(pi.icmp_type, 128);
    assert_int_equal(pi.icmp_id, 0x0102);
    assert_int_equal(pi.l4_header_len, 8);
    assert_int_equal(pi.payload_len, 8);

    f.b[icmp] = 129;
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.icmp_id, 0x0102);

    f.b[icmp] = 8; /* the IPv4 echo type means nothing in ICMPv6 */
    assert_int_equal(decode_frame(DECODE_LINK_ETHERNET, &f, &pi), DECODE_OK);
    assert_int_equal(pi.icmp_type, 8);
    assert_int_equal(pi.icmp_id, 0);
}

/* ---- exhaustive truncation ---- */

struct trunc_case {
    const char *name;
    int linktype;
    struct frame f;
    uint32_t l3_off;
    uint32_t need; /* smallest caplen that decodes OK */
    uint32_t full; /* smallest caplen at which every header field is final */
};

static void trunc_case_add(struct trunc_case *c, size_t *n, const char *name, int linktype,
                           const struct frame *f, uint32_t l3_off, uint32_t need, uint32_t full)
{
    c[*n] = (struct trunc_case){name, linktype, *f, l3_off, need, full};
    (*n)++;
}

static size_t trunc_cases_build(struct trunc_case *c)
{
    size_t n = 0;
    struct frame f;
    uint32_t ip, l4;

    memset(&f, 0, sizeof(f));
    frame_eth(&f, 0x0800);
    ip = frame_ipv4(&f, IPPROTO_NUM_TCP, 8);
    frame_tcp(&f, 1, 2, TCP_SYN, 3, 20);
    frame_payload(&f, 25);
    frame_ipv4_finish(&f, ip);
    trunc_case_add(c, &n, "eth ipv4+opts tcp+opts", DECODE_LINK_ETHERNET, &f, 14, 14 + 28 + 40,
                   14 + 28 + 40);

    memset(&f, 0, sizeof(f));
    frame_eth(&f, 0x0800);
    ip = frame_ipv4(&f, IPPROTO_NUM_TCP, 0);
    frame_tcp(&f, 1, 2, TCP_ACK, 3, 0);
    frame_ipv4_finish(&f, ip);
    frame_pad(&f, 60);
    trunc_case_add(c, &n, "eth ipv4 tcp padded", DECODE_LINK_ETHERNET, &f, 14, 54, 54);

    memset(&f, 0, sizeof(f));
    frame_eth(&f, 0x88a8);
    frame_vlan_tag(&f, 1, 0x8100);
    frame_vlan_tag(&f, 2, 0x0800);
    ip = frame_ipv4(&f, IPPROTO_NUM_UDP, 0);
    frame_udp(&f, 3, 4);
    frame_payload(&f, 9);
    frame_ipv4_finish(&f, ip);
    trunc_case_add(c, &n, "eth qinq ipv4 udp", DECODE_LINK_ETHERNET, &f, 22, 22 + 28, 22 + 28);

    memset(&f, 0, sizeof(f));
    frame_eth(&f, 0x86dd);
    ip = frame_ipv6(&f, 0);
    frame_ipv6_ext(&f, 44, 8);
    frame_ipv6_frag(&f, 60, 0, true);
    frame_ipv6_ext(&f, IPPROTO_NUM_TCP, 16);
    frame_tcp(&f, 5, 6, TCP_FIN, 7, 4);
    frame_payload(&f, 13);
    frame_ipv6_finish(&f, ip);
    trunc_case_add(c, &n, "eth ipv6 hbh+frag+dst tcp", DECODE_LINK_ETHERNET, &f, 14, 14 + 72 + 24,
                   14 + 72 + 24);

    memset(&f, 0, sizeof(f));
    frame_eth(&f, 0x86dd);
    ip = frame_ipv6(&f, 44);
    frame_ipv6_frag(&f, IPPROTO_NUM_TCP, 100, true);
    frame_payload(&f, 30);
    frame_ipv6_finish(&f, ip);
    trunc_case_add(c, &n, "eth ipv6 nonfirst frag", DECODE_LINK_ETHERNET, &f, 14, 14 + 48, 14 + 48);

    memset(&f, 0, sizeof(f));
    l4 = frame_zero(&f, 20);
    frame_set16(&f, l4, 0x86dd);
    ip = frame_ipv6(&f, IPPROTO_NUM_ICMPV6);
    frame_icmp(&f, 129, 0, 77);
    frame_payload(&f, 16);
    frame_ipv6_finish(&f, ip);
    trunc_case_add(c, &n, "sll2 ipv6 icmpv6", DECODE_LINK_LINUX_SLL2, &f, 20, 20 + 44, 20 + 48);

    memset(&f, 0, sizeof(f));
    l4 = frame_zero(&f, 16);
    frame_set16(&f, l4 + 14, 0x0800);
    ip = frame_ipv4(&f, IPPROTO_NUM_UDP, 4);
    frame_udp(&f, 8, 9);
    frame_payload(&f, 7);
    frame_ipv4_finish(&f, ip);
    trunc_case_add(c, &n, "sll ipv4+opts udp", DECODE_LINK_LINUX_SLL, &f, 16, 16 + 32, 16 + 32);

    memset(&f, 0, sizeof(f));
    static const uint8_t af_inet_le[4] = {2, 0, 0, 0};
    frame_put(&f, af_inet_le, 4);
    ip = frame_ipv4(&f, IPPROTO_NUM_ICMP, 0);
    frame_icmp(&f, 0, 0, 99);
    frame_payload(&f, 10);
    frame_ipv4_finish(&f, ip);
    trunc_case_add(c, &n, "null ipv4 icmp", DECODE_LINK_NULL, &f, 4, 4 + 24, 4 + 28);

    memset(&f, 0, sizeof(f));
    ip = frame_ipv4(&f, IPPROTO_NUM_UDP, 0);
    frame_set16(&f, ip + 6, 0x00ff); /* non-first fragment */
    frame_payload(&f, 40);
    frame_ipv4_finish(&f, ip);
    trunc_case_add(c, &n, "raw ipv4 nonfirst frag", DECODE_LINK_RAW, &f, 0, 20, 20);

    memset(&f, 0, sizeof(f));
    ip = frame_ipv6(&f, IPPROTO_NUM_UDP);
    frame_udp(&f, 10, 11);
    frame_payload(&f, 3);
    frame_ipv6_finish(&f, ip);
    trunc_case_add(c, &n, "raw ipv6 udp", DECODE_LINK_RAW, &f, 0, 48, 48);

    return n;
}

static bool decode_status_is_trunc(enum decode_status st)
{
    switch (st) {
    case DECODE_TRUNC_LINK:
    case DECODE_TRUNC_IPV4:
    case DECODE_TRUNC_IPV6:
    case DECODE_BAD_IPV6_EXT: /* documented as covering truncated extension headers */
    case DECODE_TRUNC_TCP:
    case DECODE_TRUNC_UDP:
    case DECODE_TRUNC_ICMP:
        return true;
    default:
        return false;
    }
}

static void test_decode_every_prefix_is_safe(void **state)
{
    (void)state;
    static struct trunc_case cases[16];
    size_t n = trunc_cases_build(cases);

    for (size_t i = 0; i < n; i++) {
        const struct trunc_case *c = &cases[i];
        struct pkt_info whole;
        assert_int_equal(decode_frame(c->linktype, &c->f, &whole), DECODE_OK);
        assert_true(c->need <= c->full && c->full <= c->f.len);

        for (uint32_t caplen = 0; caplen < c->f.len; caplen++) {
            /* An exact-size heap copy, so ASan sees any read at or past caplen. */
            uint8_t *px = caplen ? malloc(caplen) : NULL;
            if (caplen)
                memcpy(px, c->f.b, caplen);
            struct pkt_info pi;
            enum decode_status st = decode_packet(c->linktype, px, caplen, c->f.len, &pi);
            free(px);

            if (caplen < c->need) {
                if (!decode_status_is_trunc(st))
                    fail_msg("%s: caplen %u gave %s, want a trunc status", c->name, caplen,
                             decode_status_name(st));
                continue;
            }
            if (st != DECODE_OK)
                fail_msg("%s: caplen %u gave %s, want ok", c->name, caplen, decode_status_name(st));
            assert_true(pi.flags & PKT_F_SNAPPED);
            assert_int_equal(pi.caplen, caplen);
            assert_int_equal(pi.wire_len, c->f.len);
            uint32_t hdr_end = c->l3_off + pi.ip_header_len + pi.l4_header_len;
            assert_true(hdr_end <= caplen);
            assert_int_equal(pi.ip_total_len, whole.ip_total_len);
            assert_int_equal(pi.ip_header_len + pi.l4_header_len + pi.payload_len, pi.ip_total_len);
            if (pi.proto == IPPROTO_NUM_TCP || pi.proto == IPPROTO_NUM_UDP)
                assert_int_equal(pi.payload_captured, (pi.flags & PKT_F_L4) ? caplen - hdr_end : 0);
            else
                assert_int_equal(pi.payload_captured, 0);
            if (caplen >= c->full) {
                /* Everything but the capture-dependent fields matches the whole frame. */
                struct pkt_info a = pi, b = whole;
                a.flags &= (uint8_t)~PKT_F_SNAPPED;
                a.caplen = b.caplen = 0;
                a.payload_captured = b.payload_captured = 0;
                assert_memory_equal(&a, &b, sizeof(a));
            }
        }
    }
}

/* ---- names ---- */

static void test_decode_status_names(void **state)
{
    (void)state;
    static const char *const want[DECODE_STATUS_COUNT] = {
        "ok",         "not_ip",          "unsupported_link", "trunc_link",      "vlan_too_deep",
        "trunc_ipv4", "bad_ipv4_header", "trunc_ipv6",       "bad_ipv6_header", "bad_ipv6_ext",
        "trunc_tcp",  "bad_tcp_header",  "trunc_udp",        "trunc_icmp",      "bad_ip_length",
    };
    for (int s = 0; s < DECODE_STATUS_COUNT; s++) {
        assert_non_null(want[s]);
        assert_string_equal(decode_status_name((enum decode_status)s), want[s]);
    }
    assert_string_equal(decode_status_name(DECODE_STATUS_COUNT), "unknown");
    assert_string_equal(decode_status_name((enum decode_status)1000), "unknown");
    assert_string_equal(decode_status_name((enum decode_status) - 1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_eth_ipv4_tcp_options_flags),
        cmocka_unit_test(test_decode_eth_padding_counts_only_in_payload_captured),
        cmocka_unit_test(test_decode_tcp_bad_data_offset),
        cmocka_unit_test(test_decode_tcp_options_beyond_datagram_are_truncated),
        cmocka_unit_test(test_decode_snapped_inside_payload_is_ok),
        cmocka_unit_test(test_decode_wire_len_below_caplen_is_normalised),
        cmocka_unit_test(test_decode_vlan_single_tag),
        cmocka_unit_test(test_decode_vlan_qinq),
        cmocka_unit_test(test_decode_vlan_max_depth_with_9100),
        cmocka_unit_test(test_decode_vlan_too_deep),
        cmocka_unit_test(test_decode_vlan_truncated_tag),
        cmocka_unit_test(test_decode_linux_sll),
        cmocka_unit_test(test_decode_linux_sll_with_vlan),
        cmocka_unit_test(test_decode_linux_sll2),
        cmocka_unit_test(test_decode_raw_ipv4_and_ipv6),
        cmocka_unit_test(test_decode_null_both_byte_orders),
        cmocka_unit_test(test_decode_loop_network_order_only),
        cmocka_unit_test(test_decode_ppp_hdlc_pppoe_mpls_ppi),
        cmocka_unit_test(test_decode_arp_is_not_ip),
        cmocka_unit_test(test_decode_unknown_link_type),
        cmocka_unit_test(test_decode_trunc_link),
        cmocka_unit_test(test_decode_ipv4_options),
        cmocka_unit_test(test_decode_ipv4_first_fragment_has_l4),
        cmocka_unit_test(test_decode_ipv4_nonfirst_fragment_has_no_l4),
        cmocka_unit_test(test_decode_ipv4_tso_zero_length),
        cmocka_unit_test(test_decode_ipv4_bad_headers),
        cmocka_unit_test(test_decode_ipv6_extension_chain),
        cmocka_unit_test(test_decode_ipv6_nonfirst_fragment),
        cmocka_unit_test(test_decode_ipv6_routing_and_ah),
        cmocka_unit_test(test_decode_ipv6_no_next_header_and_unknown),
        cmocka_unit_test(test_decode_ipv6_chain_limit),
        cmocka_unit_test(test_decode_ipv6_truncated_extension),
        cmocka_unit_test(test_decode_ipv6_bad_header_and_length),
        cmocka_unit_test(test_decode_udp),
        cmocka_unit_test(test_decode_icmp_echo),
        cmocka_unit_test(test_decode_icmpv6_echo),
        cmocka_unit_test(test_decode_every_prefix_is_safe),
        cmocka_unit_test(test_decode_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
