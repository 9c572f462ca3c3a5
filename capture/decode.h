/* decode.h - the pure packet decoder: link layer, IPv4/IPv6, TCP/UDP/ICMP/ICMPv6.
 *
 * decode_packet() is a pure function of (link type, bytes, lengths): no allocation, no global
 * state, no I/O, safe from any thread. It never trusts a length field: every read is bounds
 * checked against the captured length, and a frame that ends early or lies about its lengths is
 * reported by kind (enum decode_status) instead of being decoded.
 *
 * What a caller gets in struct pkt_info is everything the flow table and the feature set need,
 * already in host byte order. Both the "correct" payload length (from the IP length fields) and
 * the legacy CICFlowMeter payload length (captured bytes after the L4 header to the end of the
 * frame, Ethernet padding included) are reported, so one decode serves both feature modes. */
#ifndef DD_CAPTURE_DECODE_H
#define DD_CAPTURE_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"

/* Link types we decode, numbered as libpcap's DLT_* values so pcap_datalink() can be passed
 * straight in. */
enum decode_linktype {
    DECODE_LINK_NULL = 0,         /* DLT_NULL: BSD loopback, 4-byte host-order family */
    DECODE_LINK_ETHERNET = 1,     /* DLT_EN10MB */
    DECODE_LINK_PPP = 9,          /* DLT_PPP: PPP, with or without HDLC-like framing (ff 03), or
                                     Cisco HDLC (0f/8f 00 + Ethertype) as some routers write it */
    DECODE_LINK_PPP_SERIAL = 50,  /* DLT_PPP_SERIAL: PPP in HDLC-like framing, or Cisco HDLC */
    DECODE_LINK_PPP_ETHER = 51,   /* DLT_PPP_ETHER: PPPoE session header, then PPP */
    DECODE_LINK_RAW = 12,         /* DLT_RAW on Linux/most BSDs: bare IPv4 or IPv6 */
    DECODE_LINK_RAW_OPENBSD = 14, /* DLT_RAW on OpenBSD */
    DECODE_LINK_C_HDLC = 104,     /* DLT_C_HDLC: Cisco HDLC, address + control + Ethertype */
    DECODE_LINK_LOOP = 108,       /* DLT_LOOP: OpenBSD loopback, 4-byte network-order family */
    DECODE_LINK_LINUX_SLL = 113,
    DECODE_LINK_IPV4 = 228, /* LINKTYPE_IPV4 */
    DECODE_LINK_IPV6 = 229, /* LINKTYPE_IPV6 */
    DECODE_LINK_PPI = 192,  /* DLT_PPI: a per-packet-information header naming the inner link */
    DECODE_LINK_LINUX_SLL2 = 276,
};

/* Outcome of a decode. DECODE_OK and DECODE_NOT_IP are normal; every other value is a problem
 * counted under its own name (decode_status_name) and the packet is not used. */
enum decode_status {
    DECODE_OK = 0,
    DECODE_NOT_IP,           /* ARP, LLDP, STP...: a valid frame that carries no IP */
    DECODE_UNSUPPORTED_LINK, /* a link type this decoder does not know */
    DECODE_TRUNC_LINK,       /* frame shorter than its link-layer header (incl. VLAN tags) */
    DECODE_VLAN_TOO_DEEP,    /* more than DECODE_MAX_VLAN stacked tags */
    DECODE_TRUNC_IPV4,       /* fewer than 20 bytes, or fewer than IHL*4 bytes */
    DECODE_BAD_IPV4_HEADER,  /* version != 4, IHL < 5, total length < IHL*4 */
    DECODE_TRUNC_IPV6,       /* fewer than 40 bytes */
    DECODE_BAD_IPV6_HEADER,  /* version != 6 */
    DECODE_BAD_IPV6_EXT,     /* extension header truncated, or chain longer than allowed */
    DECODE_TRUNC_TCP,        /* fewer than 20 bytes, or fewer than data offset * 4 */
    DECODE_BAD_TCP_HEADER,   /* data offset < 5 */
    DECODE_TRUNC_UDP,        /* fewer than 8 bytes */
    DECODE_TRUNC_ICMP,       /* fewer than 4 bytes (type, code, checksum) */
    DECODE_BAD_IP_LENGTH,    /* IP length field exceeds the frame's wire length */
    DECODE_STATUS_COUNT
};

enum {
    DECODE_MAX_VLAN = 4,     /* stacked 802.1Q/802.1ad tags accepted (QinQ and then some) */
    DECODE_MAX_MPLS = 8,     /* MPLS labels followed to the bottom of the stack (counted with
                                the VLAN tags in vlan_depth's limit: both are "too deep") */
    DECODE_MAX_IPV6_EXT = 8, /* extension headers followed before giving up */
};

/* pkt_info.flags */
enum {
    PKT_F_FRAGMENT = 1u << 0,      /* part of a fragmented datagram (any fragment) */
    PKT_F_NONFIRST_FRAG = 1u << 1, /* offset != 0: there is no L4 header in this packet */
    PKT_F_L4 = 1u << 2,            /* an L4 header was decoded: ports/flags/lengths are valid */
    PKT_F_IP_LEN_ZERO = 1u << 3,   /* IPv4 total length 0 (TSO): payload taken from capture */
    PKT_F_SNAPPED = 1u << 4,       /* caplen < wire length: the capture cut the frame */
};

/* TCP flag bits, as in the TCP header's 13th byte. */
enum {
    TCP_FIN = 0x01,
    TCP_SYN = 0x02,
    TCP_RST = 0x04,
    TCP_PSH = 0x08,
    TCP_ACK = 0x10,
    TCP_URG = 0x20,
    TCP_ECE = 0x40,
    TCP_CWR = 0x80,
};

enum {
    IPPROTO_NUM_ICMP = 1,
    IPPROTO_NUM_TCP = 6,
    IPPROTO_NUM_UDP = 17,
    IPPROTO_NUM_ICMPV6 = 58,
};

/* One decoded packet. A value type: it crosses rings and is copied freely.
 * Addresses are 16 bytes for both families; IPv4 uses the first 4 and zeroes the rest. */
struct pkt_info {
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport;     /* TCP/UDP source port; 0 otherwise */
    uint16_t dport;     /* TCP/UDP destination port; 0 otherwise */
    uint8_t ip_version; /* 4 or 6 */
    uint8_t proto;      /* final IP protocol number (after IPv6 extension headers) */
    uint8_t tcp_flags;  /* TCP_* bits; 0 for non-TCP */
    uint8_t flags;      /* PKT_F_* */
    uint8_t icmp_type;  /* ICMP/ICMPv6 only */
    uint8_t icmp_code;
    uint16_t icmp_id;       /* echo request/reply identifier; 0 for other ICMP types */
    uint16_t tcp_window;    /* raw window field, unscaled */
    uint16_t l4_header_len; /* TCP data offset * 4 (options included), UDP 8, ICMP 8, else 0 */
    uint16_t ip_header_len; /* IPv4 IHL*4, or 40 + extension headers for IPv6 */
    uint16_t vlan_depth;
    uint32_t payload_len;      /* L4 payload from the IP length fields (padding excluded) */
    uint32_t payload_captured; /* legacy CICFlowMeter length: captured bytes after the L4
                                  header to the end of the frame, Ethernet padding included */
    uint32_t ip_total_len;     /* bytes of IP datagram per its header (IPv6: 40 + payload length) */
    uint32_t wire_len;         /* pcap len: bytes on the wire */
    uint32_t caplen;           /* pcap caplen: bytes captured */
};

/* Decodes one frame.
 * linktype: a DLT_* value (see enum decode_linktype).
 * px/caplen: the captured bytes; wire_len: the original length (pcap_pkthdr.len), >= caplen.
 * out: filled on DECODE_OK; partially filled (not to be used) otherwise.
 * Never reads outside px[0, caplen). */
DD_NODISCARD enum decode_status decode_packet(int linktype, const uint8_t *px, uint32_t caplen,
                                              uint32_t wire_len, struct pkt_info *out);

/* True when linktype is one decode_packet() understands. */
bool decode_linktype_supported(int linktype);

/* A short stable name for a status ("ok", "not_ip", "trunc_ipv4", ...), used in summaries,
 * counters and metrics. Never NULL. */
const char *decode_status_name(enum decode_status status);

#endif
