/* fuzz_decode.c - libFuzzer harness for capture/decode.c.
 *
 * Input: one byte choosing the link type (modulo the supported list), then the frame. Each input
 * is decoded twice, unsnapped (wire_len = caplen) and as if the capture had cut the first byte's
 * value off the end (wire_len = caplen + byte), and every result is checked against the
 * invariants the flow table relies on. A violated invariant traps, which libFuzzer reports as a
 * crash with the input saved. ASan catches reads outside the input, which libFuzzer hands over in
 * a buffer of exactly the input's size. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capture/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int fuzz_decode_links[] = {
    DECODE_LINK_NULL,       DECODE_LINK_ETHERNET,  DECODE_LINK_RAW,        DECODE_LINK_RAW_OPENBSD,
    DECODE_LINK_LOOP,       DECODE_LINK_LINUX_SLL, DECODE_LINK_IPV4,       DECODE_LINK_IPV6,
    DECODE_LINK_LINUX_SLL2, DECODE_LINK_PPP,       DECODE_LINK_PPP_SERIAL, DECODE_LINK_PPP_ETHER,
    DECODE_LINK_C_HDLC,     DECODE_LINK_PPI,
};

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static void fuzz_decode_check(int link, const uint8_t *px, uint32_t caplen, uint32_t wire_len)
{
    struct pkt_info pi, again;
    enum decode_status st = decode_packet(link, px, caplen, wire_len, &pi);

    FUZZ_CHECK((unsigned)st < DECODE_STATUS_COUNT);
    FUZZ_CHECK(strcmp(decode_status_name(st), "unknown") != 0);
    /* A listed link is always understood; only PPI can name an inner link that is not. */
    FUZZ_CHECK(st != DECODE_UNSUPPORTED_LINK || link == DECODE_LINK_PPI);
    /* Pure: the same input gives the same answer, byte for byte. */
    FUZZ_CHECK(decode_packet(link, px, caplen, wire_len, &again) == st);
    FUZZ_CHECK(memcmp(&pi, &again, sizeof(pi)) == 0);
    if (st != DECODE_OK)
        return;

    FUZZ_CHECK(pi.caplen == caplen);
    FUZZ_CHECK(pi.wire_len == wire_len);
    FUZZ_CHECK(!!(pi.flags & PKT_F_SNAPPED) == (caplen < wire_len));
    FUZZ_CHECK(pi.vlan_depth <= DECODE_MAX_VLAN);
    FUZZ_CHECK(pi.ip_version == 4 || pi.ip_version == 6);

    /* Lengths stay inside what was captured and what was on the wire. */
    FUZZ_CHECK(pi.payload_len <= wire_len);
    FUZZ_CHECK(pi.payload_captured <= caplen);
    FUZZ_CHECK(pi.ip_total_len <= wire_len);
    FUZZ_CHECK((uint32_t)pi.ip_header_len + pi.l4_header_len <= caplen);
    FUZZ_CHECK((uint64_t)pi.ip_header_len + pi.l4_header_len + pi.payload_captured <= caplen);
    /* The IP length is split exactly into headers and payload: nothing negative, nothing lost. */
    FUZZ_CHECK((uint64_t)pi.ip_header_len + pi.l4_header_len + pi.payload_len == pi.ip_total_len);

    if (pi.ip_version == 4) {
        static const uint8_t zero[12];
        FUZZ_CHECK(pi.ip_header_len >= 20 && pi.ip_header_len <= 60);
        FUZZ_CHECK(pi.ip_header_len % 4 == 0);
        FUZZ_CHECK(memcmp(pi.src + 4, zero, 12) == 0 && memcmp(pi.dst + 4, zero, 12) == 0);
    } else {
        FUZZ_CHECK(pi.ip_header_len >= 40);
        FUZZ_CHECK(pi.ip_header_len % 4 == 0);
    }

    if (pi.flags & PKT_F_NONFIRST_FRAG)
        FUZZ_CHECK((pi.flags & PKT_F_FRAGMENT) && !(pi.flags & PKT_F_L4));

    if (pi.flags & PKT_F_L4) {
        uint8_t icmp = pi.ip_version == 6 ? IPPROTO_NUM_ICMPV6 : IPPROTO_NUM_ICMP;
        if (pi.proto == IPPROTO_NUM_TCP) {
            FUZZ_CHECK(pi.l4_header_len >= 20 && pi.l4_header_len <= 60);
            FUZZ_CHECK(pi.l4_header_len % 4 == 0);
        } else if (pi.proto == IPPROTO_NUM_UDP) {
            FUZZ_CHECK(pi.l4_header_len == 8 && pi.tcp_flags == 0);
        } else {
            FUZZ_CHECK(pi.proto == icmp);
            FUZZ_CHECK(pi.l4_header_len == 4 || pi.l4_header_len == 8);
            FUZZ_CHECK(pi.sport == 0 && pi.dport == 0 && pi.payload_captured == 0);
        }
        if (pi.proto != IPPROTO_NUM_TCP)
            FUZZ_CHECK(pi.tcp_flags == 0 && pi.tcp_window == 0);
        if (pi.proto != icmp)
            FUZZ_CHECK(pi.icmp_type == 0 && pi.icmp_code == 0 && pi.icmp_id == 0);
    } else {
        uint8_t icmp = pi.ip_version == 6 ? IPPROTO_NUM_ICMPV6 : IPPROTO_NUM_ICMP;
        /* Without an L4 header a known transport can only be a non-first fragment. */
        if (!(pi.flags & PKT_F_NONFIRST_FRAG))
            FUZZ_CHECK(pi.proto != IPPROTO_NUM_TCP && pi.proto != IPPROTO_NUM_UDP &&
                       pi.proto != icmp);
        FUZZ_CHECK(pi.l4_header_len == 0 && pi.sport == 0 && pi.dport == 0);
        FUZZ_CHECK(pi.tcp_flags == 0 && pi.tcp_window == 0 && pi.icmp_id == 0);
        FUZZ_CHECK(pi.payload_captured == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > UINT32_MAX - 256)
        return 0;
    uint8_t pick = data[0];
    int link = fuzz_decode_links[pick % (sizeof(fuzz_decode_links) / sizeof(fuzz_decode_links[0]))];
    const uint8_t *px = size > 1 ? data + 1 : NULL; /* an empty frame must not be touched */
    uint32_t caplen = (uint32_t)(size - 1);

    fuzz_decode_check(link, px, caplen, caplen);
    fuzz_decode_check(link, px, caplen, caplen + pick);
    return 0;
}
