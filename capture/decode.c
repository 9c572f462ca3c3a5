/* decode.c - the pure packet decoder behind capture/decode.h.
 *
 * Owns nothing: no state, no allocation, no I/O, callable from any thread. It turns one captured
 * frame into a struct pkt_info for the flow table, or says by name (enum decode_status) why it
 * could not.
 *
 * DESIGN
 * The decoder walks the frame front to back with a single byte offset, one layer per function:
 * link (Ethernet + VLAN tags, Linux SLL/SLL2, raw IP, BSD loopback), then IPv4 or IPv6 (with the
 * extension header chain), then TCP/UDP/ICMP/ICMPv6. Every read is guarded by decode_fits(), the
 * one bounds check, written so that no attacker-chosen length can make the sum wrap. Multi-byte
 * fields are read with explicit big-endian loads; packet bytes are never cast to header structs,
 * so alignment and endianness of the host do not matter.
 *
 * Two lengths bound every read above the link layer:
 *  - caplen, what we actually hold: nothing is read at or past it;
 *  - ip_end, where the IP header says the datagram ends (checked against wire_len first). A
 *    transport header must end before ip_end too, so Ethernet padding after a short datagram is
 *    never decoded as a header and payload_len can never go negative.
 * A frame cut by the snap length inside a header is a TRUNC status; cut inside the payload it is
 * still DECODE_OK, because the payload length comes from the IP header, not from the capture. */
#include "capture/decode.h"

#include <string.h>

enum {
    ETHERTYPE_IPV4 = 0x0800,
    ETHERTYPE_IPV6 = 0x86dd,
    ETHERTYPE_VLAN = 0x8100,      /* 802.1Q */
    ETHERTYPE_QINQ = 0x88a8,      /* 802.1ad service tag */
    ETHERTYPE_QINQ_9100 = 0x9100, /* pre-standard QinQ, still seen on carrier links */
    ETHERTYPE_MPLS = 0x8847,      /* MPLS unicast: a label stack, then (usually) IP */
    ETHERTYPE_MPLS_MC = 0x8848,   /* MPLS multicast */
    PPP_PROTO_IPV4 = 0x0021,
    PPP_PROTO_IPV6 = 0x0057,
    CHDLC_HDR_LEN = 4, /* address (0x0f unicast, 0x8f broadcast), control 0, Ethertype */
    PPPOE_HDR_LEN = 6, /* ver/type, code, session id, length; the PPP protocol follows */
    PPI_HDR_MIN = 8,   /* version, flags, length (LE), inner DLT (LE) */
    MPLS_LABEL_LEN = 4,

    ETH_HDR_LEN = 14,
    VLAN_TAG_LEN = 4,
    SLL_HDR_LEN = 16,
    SLL_PROTO_OFF = 14,
    SLL2_HDR_LEN = 20,
    LOOPBACK_HDR_LEN = 4,

    IPV4_MIN_HDR_LEN = 20,
    IPV4_MF = 0x2000,
    IPV4_FRAG_OFFSET_MASK = 0x1fff,
    IPV6_HDR_LEN = 40,
    IPV6_FRAG_HDR_LEN = 8,
    IPV6_EXT_MIN_LEN = 8,

    IPPROTO_NUM_HOPOPTS = 0,
    IPPROTO_NUM_ROUTING = 43,
    IPPROTO_NUM_FRAGMENT = 44,
    IPPROTO_NUM_AH = 51,
    IPPROTO_NUM_NONE = 59,
    IPPROTO_NUM_DSTOPTS = 60,

    TCP_MIN_HDR_LEN = 20,
    UDP_HDR_LEN = 8,
    ICMP_MIN_HDR_LEN = 4, /* type, code, checksum: all we insist on */
    ICMP_HDR_LEN = 8,     /* plus the 4 type-specific bytes (echo identifier and sequence) */
};

/* The one bounds check: true when [off, off + n) lies inside a buffer of len bytes. Written as a
 * subtraction so that a header-supplied n or off can never wrap the sum into range. */
static inline bool decode_fits(uint32_t len, uint32_t off, uint32_t n)
{
    return off <= len && n <= len - off;
}

static inline uint16_t decode_load_be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t decode_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t decode_load_le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static inline uint32_t decode_min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* Maps an ethertype (or SLL protocol) to an IP version, 0 when the frame carries no IP. */
static unsigned decode_ethertype_ip_version(uint16_t type)
{
    if (type == ETHERTYPE_IPV4)
        return 4;
    if (type == ETHERTYPE_IPV6)
        return 6;
    return 0;
}

static bool decode_ethertype_is_vlan(uint16_t type)
{
    return type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_9100;
}

/* Reads the type field at type_off and follows stacked VLAN tags. Shared by Ethernet and Linux
 * SLL because libpcap re-inserts a stripped VLAN tag at the SLL protocol field (offset 14) just as
 * it does at the Ethernet type field (offset 12): the layout after the type field is the same. */
static enum decode_status decode_ethertype_walk(const uint8_t *px, uint32_t caplen,
                                                uint32_t type_off, uint32_t *l3_off,
                                                unsigned *ip_version, struct pkt_info *out)
{
    uint16_t type = decode_load_be16(px + type_off);
    uint32_t off = type_off + 2;

    unsigned mpls = 0;
    if (type == ETHERTYPE_MPLS || type == ETHERTYPE_MPLS_MC) {
        /* Labels until the bottom-of-stack bit; MPLS does not say what it carries, so the IP
         * version nibble decides (a pseudowire carrying Ethernet is not decoded: not_ip). */
        for (;;) {
            if (mpls++ == DECODE_MAX_MPLS)
                return DECODE_VLAN_TOO_DEEP;
            if (!decode_fits(caplen, off, MPLS_LABEL_LEN))
                return DECODE_TRUNC_LINK;
            bool bottom = px[off + 2] & 1;
            off += MPLS_LABEL_LEN;
            if (bottom)
                break;
        }
        *l3_off = off;
        *ip_version = 0;
        if (decode_fits(caplen, off, 1))
            *ip_version = (px[off] >> 4) == 4 ? 4 : (px[off] >> 4) == 6 ? 6 : 0;
        return *ip_version ? DECODE_OK : DECODE_NOT_IP;
    }
    while (decode_ethertype_is_vlan(type)) {
        /* Checked before the length so that a flood of tags is named for what it is. */
        if (out->vlan_depth == DECODE_MAX_VLAN)
            return DECODE_VLAN_TOO_DEEP;
        if (!decode_fits(caplen, off, VLAN_TAG_LEN))
            return DECODE_TRUNC_LINK;
        type = decode_load_be16(px + off + 2); /* after the 2-byte TCI */
        off += VLAN_TAG_LEN;
        out->vlan_depth++;
    }
    *l3_off = off;
    *ip_version = decode_ethertype_ip_version(type);
    return *ip_version ? DECODE_OK : DECODE_NOT_IP;
}

/* BSD address family values for IPv6 differ by OS (Linux 10, NetBSD/OpenBSD 24, FreeBSD 28,
 * macOS 30); a capture may have been written on any of them. AF_INET is 2 everywhere. */
static unsigned decode_loopback_family_ip_version(uint32_t family)
{
    switch (family) {
    case 2:
        return 4;
    case 10:
    case 24:
    case 28:
    case 30:
        return 6;
    default:
        return 0;
    }
}

/* A PPP protocol field at off (2 bytes, or 1 when compressed: an odd first byte): IPv4 or IPv6
 * then start right after it; other protocols (LCP, IPCP, ...) carry no IP. */
static enum decode_status decode_ppp_proto(const uint8_t *px, uint32_t caplen, uint32_t off,
                                           uint32_t *l3_off, unsigned *ip_version)
{
    if (!decode_fits(caplen, off, 1))
        return DECODE_TRUNC_LINK;
    uint16_t proto;
    if (px[off] & 1) { /* protocol-field compression (RFC 1661 6.5) */
        proto = px[off];
        off += 1;
    } else {
        if (!decode_fits(caplen, off, 2))
            return DECODE_TRUNC_LINK;
        proto = decode_load_be16(px + off);
        off += 2;
    }
    *l3_off = off;
    *ip_version = proto == PPP_PROTO_IPV4 ? 4 : proto == PPP_PROTO_IPV6 ? 6 : 0;
    return *ip_version ? DECODE_OK : DECODE_NOT_IP;
}

/* PPP as libpcap's DLT_PPP and DLT_PPP_SERIAL deliver it: HDLC-like framing (ff 03) before the
 * protocol, no framing at all, or a Cisco HDLC frame (0f/8f 00 + Ethertype) on a link declared
 * PPP (routers write those). */
static enum decode_status decode_ppp(const uint8_t *px, uint32_t caplen, uint32_t *l3_off,
                                     unsigned *ip_version, struct pkt_info *out)
{
    if (!decode_fits(caplen, 0, 2))
        return DECODE_TRUNC_LINK;
    if ((px[0] == 0x0f || px[0] == 0x8f) && px[1] == 0x00) {
        if (!decode_fits(caplen, 0, CHDLC_HDR_LEN))
            return DECODE_TRUNC_LINK;
        return decode_ethertype_walk(px, caplen, CHDLC_HDR_LEN - 2, l3_off, ip_version, out);
    }
    return decode_ppp_proto(px, caplen, px[0] == 0xff && px[1] == 0x03 ? 2 : 0, l3_off, ip_version);
}

/* Decodes the link layer: on DECODE_OK *l3_off is where the IP header starts and *ip_version is 4
 * or 6. Raw links carry no header; there the version nibble (or the link type) decides. */
static enum decode_status decode_link(int linktype, const uint8_t *px, uint32_t caplen,
                                      uint32_t *l3_off, unsigned *ip_version, struct pkt_info *out)
{
    *l3_off = 0;
    switch (linktype) {
    case DECODE_LINK_ETHERNET:
        if (!decode_fits(caplen, 0, ETH_HDR_LEN))
            return DECODE_TRUNC_LINK;
        return decode_ethertype_walk(px, caplen, ETH_HDR_LEN - 2, l3_off, ip_version, out);

    case DECODE_LINK_LINUX_SLL:
        if (!decode_fits(caplen, 0, SLL_HDR_LEN))
            return DECODE_TRUNC_LINK;
        return decode_ethertype_walk(px, caplen, SLL_PROTO_OFF, l3_off, ip_version, out);

    case DECODE_LINK_LINUX_SLL2:
        if (!decode_fits(caplen, 0, SLL2_HDR_LEN))
            return DECODE_TRUNC_LINK;
        *l3_off = SLL2_HDR_LEN;
        *ip_version = decode_ethertype_ip_version(decode_load_be16(px));
        return *ip_version ? DECODE_OK : DECODE_NOT_IP;

    case DECODE_LINK_RAW:
    case DECODE_LINK_RAW_OPENBSD:
        /* Anything that does not say IPv6 is decoded as IPv4, so an empty frame is
         * trunc_ipv4 and a wrong nibble is bad_ipv4_header rather than a silent not_ip. */
        *ip_version = decode_fits(caplen, 0, 1) && (px[0] >> 4) == 6 ? 6 : 4;
        return DECODE_OK;

    case DECODE_LINK_IPV4:
        *ip_version = 4;
        return DECODE_OK;

    case DECODE_LINK_IPV6:
        *ip_version = 6;
        return DECODE_OK;

    case DECODE_LINK_NULL: {
        if (!decode_fits(caplen, 0, LOOPBACK_HDR_LEN))
            return DECODE_TRUNC_LINK;
        /* Host byte order of the machine that wrote the file, which need not be ours: the
         * values accepted are small, so trying both orders cannot confuse one for another. */
        unsigned v = decode_loopback_family_ip_version(decode_load_le32(px));
        if (!v)
            v = decode_loopback_family_ip_version(decode_load_be32(px));
        *l3_off = LOOPBACK_HDR_LEN;
        *ip_version = v;
        return v ? DECODE_OK : DECODE_NOT_IP;
    }

    case DECODE_LINK_LOOP:
        if (!decode_fits(caplen, 0, LOOPBACK_HDR_LEN))
            return DECODE_TRUNC_LINK;
        *l3_off = LOOPBACK_HDR_LEN;
        *ip_version = decode_loopback_family_ip_version(decode_load_be32(px));
        return *ip_version ? DECODE_OK : DECODE_NOT_IP;

    case DECODE_LINK_PPP:
    case DECODE_LINK_PPP_SERIAL:
        return decode_ppp(px, caplen, l3_off, ip_version, out);

    case DECODE_LINK_C_HDLC:
        if (!decode_fits(caplen, 0, CHDLC_HDR_LEN))
            return DECODE_TRUNC_LINK;
        return decode_ethertype_walk(px, caplen, CHDLC_HDR_LEN - 2, l3_off, ip_version, out);

    case DECODE_LINK_PPP_ETHER:
        if (!decode_fits(caplen, 0, PPPOE_HDR_LEN))
            return DECODE_TRUNC_LINK;
        return decode_ppp_proto(px, caplen, PPPOE_HDR_LEN, l3_off, ip_version);

    case DECODE_LINK_PPI: {
        /* The header's length and inner link type are little-endian. One level only: a PPI
         * frame inside PPI is not something a capture tool writes. */
        if (!decode_fits(caplen, 0, PPI_HDR_MIN))
            return DECODE_TRUNC_LINK;
        uint32_t len = (uint32_t)px[2] | (uint32_t)px[3] << 8;
        int inner = (int)decode_load_le32(px + 4);
        if (len < PPI_HDR_MIN || !decode_fits(caplen, 0, len))
            return DECODE_TRUNC_LINK;
        if (inner == DECODE_LINK_PPI || !decode_linktype_supported(inner))
            return DECODE_UNSUPPORTED_LINK;
        enum decode_status st = decode_link(inner, px + len, caplen - len, l3_off, ip_version, out);
        *l3_off += len;
        return st;
    }

    default:
        return DECODE_UNSUPPORTED_LINK;
    }
}

/* Decodes the transport header at l4_off. ip_end is where the IP datagram ends per its header
 * (already known to be <= wire_len and >= l4_off). Sets the L4 fields and both payload lengths. */
static enum decode_status decode_l4(const uint8_t *px, uint32_t caplen, uint32_t l4_off,
                                    uint32_t ip_end, struct pkt_info *out)
{
    /* A header must be both captured and inside the datagram: padding is not a header. */
    uint32_t limit = decode_min_u32(caplen, ip_end);
    /* ICMP inside IPv6 (or ICMPv6 inside IPv4) is just an unknown protocol. */
    uint8_t icmp_proto = out->ip_version == 6 ? IPPROTO_NUM_ICMPV6 : IPPROTO_NUM_ICMP;
    const uint8_t *l4 = px + l4_off;
    uint32_t hdr_len;

    if (out->flags & PKT_F_NONFIRST_FRAG) {
        /* Only the first fragment carries the transport header; later ones are all payload. */
        out->payload_len = ip_end - l4_off;
        return DECODE_OK;
    }

    if (out->proto == IPPROTO_NUM_TCP) {
        if (!decode_fits(limit, l4_off, TCP_MIN_HDR_LEN))
            return DECODE_TRUNC_TCP;
        hdr_len = (uint32_t)(l4[12] >> 4) * 4;
        if (hdr_len < TCP_MIN_HDR_LEN)
            return DECODE_BAD_TCP_HEADER;
        if (!decode_fits(limit, l4_off, hdr_len))
            return DECODE_TRUNC_TCP;
        out->sport = decode_load_be16(l4);
        out->dport = decode_load_be16(l4 + 2);
        out->tcp_flags = l4[13];
        out->tcp_window = decode_load_be16(l4 + 14);
    } else if (out->proto == IPPROTO_NUM_UDP) {
        /* The UDP length field is not used: the IP length already bounds the datagram, and
         * trusting a second, disagreeing length would only add a way to be lied to. */
        if (!decode_fits(limit, l4_off, UDP_HDR_LEN))
            return DECODE_TRUNC_UDP;
        hdr_len = UDP_HDR_LEN;
        out->sport = decode_load_be16(l4);
        out->dport = decode_load_be16(l4 + 2);
    } else if (out->proto == icmp_proto) {
        if (!decode_fits(limit, l4_off, ICMP_MIN_HDR_LEN))
            return DECODE_TRUNC_ICMP;
        out->icmp_type = l4[0];
        out->icmp_code = l4[1];
        hdr_len = ICMP_MIN_HDR_LEN;
        if (decode_fits(limit, l4_off, ICMP_HDR_LEN)) {
            hdr_len = ICMP_HDR_LEN;
            bool echo = icmp_proto == IPPROTO_NUM_ICMPV6 ? (l4[0] == 128 || l4[0] == 129)
                                                         : (l4[0] == 8 || l4[0] == 0);
            if (echo)
                out->icmp_id = decode_load_be16(l4 + 4);
        }
    } else {
        out->payload_len = ip_end - l4_off;
        return DECODE_OK;
    }

    out->flags |= PKT_F_L4;
    out->l4_header_len = (uint16_t)hdr_len;
    out->payload_len = ip_end - (l4_off + hdr_len); /* >= 0: the header ends before ip_end */
    /* The legacy length counts to the end of the capture, padding included, on purpose. Only
     * TCP and UDP had it in CICFlowMeter, so other protocols report 0. */
    if (out->proto == IPPROTO_NUM_TCP || out->proto == IPPROTO_NUM_UDP)
        out->payload_captured = caplen - (l4_off + hdr_len);
    return DECODE_OK;
}

static enum decode_status decode_ipv4(const uint8_t *px, uint32_t caplen, uint32_t wire_len,
                                      uint32_t l3_off, struct pkt_info *out)
{
    if (!decode_fits(caplen, l3_off, IPV4_MIN_HDR_LEN))
        return DECODE_TRUNC_IPV4;
    const uint8_t *ip = px + l3_off;
    uint32_t hdr_len = (uint32_t)(ip[0] & 0x0f) * 4;
    if ((ip[0] >> 4) != 4 || hdr_len < IPV4_MIN_HDR_LEN)
        return DECODE_BAD_IPV4_HEADER;
    if (!decode_fits(caplen, l3_off, hdr_len))
        return DECODE_TRUNC_IPV4;

    uint32_t total = decode_load_be16(ip + 2);
    if (total == 0) {
        /* TSO/GSO super-packets captured on the sender carry no length; the frame is the
         * datagram. wire_len rather than caplen so that a snapped capture keeps its size. */
        out->flags |= PKT_F_IP_LEN_ZERO;
        total = wire_len - l3_off;
    } else if (total < hdr_len) {
        return DECODE_BAD_IPV4_HEADER;
    } else if (!decode_fits(wire_len, l3_off, total)) {
        return DECODE_BAD_IP_LENGTH;
    }

    uint16_t frag = decode_load_be16(ip + 6);
    if (frag & (IPV4_MF | IPV4_FRAG_OFFSET_MASK))
        out->flags |= PKT_F_FRAGMENT;
    if (frag & IPV4_FRAG_OFFSET_MASK)
        out->flags |= PKT_F_NONFIRST_FRAG;

    out->ip_version = 4;
    out->proto = ip[9];
    out->ip_header_len = (uint16_t)hdr_len;
    out->ip_total_len = total;
    memcpy(out->src, ip + 12, 4);
    memcpy(out->dst, ip + 16, 4);
    return decode_l4(px, caplen, l3_off + hdr_len, l3_off + total, out);
}

static enum decode_status decode_ipv6(const uint8_t *px, uint32_t caplen, uint32_t wire_len,
                                      uint32_t l3_off, struct pkt_info *out)
{
    if (!decode_fits(caplen, l3_off, IPV6_HDR_LEN))
        return DECODE_TRUNC_IPV6;
    const uint8_t *ip = px + l3_off;
    if ((ip[0] >> 4) != 6)
        return DECODE_BAD_IPV6_HEADER;

    uint32_t plen = decode_load_be16(ip + 4);
    uint8_t next = ip[6];
    uint32_t total;
    if (plen == 0 && next != IPPROTO_NUM_NONE) {
        /* Jumbograms and Linux BIG TCP leave the payload length 0, like IPv4 TSO does. */
        out->flags |= PKT_F_IP_LEN_ZERO;
        total = wire_len - l3_off; /* >= 40: the header was captured and caplen <= wire_len */
    } else {
        total = IPV6_HDR_LEN + plen;
        if (!decode_fits(wire_len, l3_off, total))
            return DECODE_BAD_IP_LENGTH;
    }
    uint32_t ip_end = l3_off + total;
    uint32_t limit = decode_min_u32(caplen, ip_end);

    out->ip_version = 6;
    out->ip_total_len = total;
    memcpy(out->src, ip + 8, 16);
    memcpy(out->dst, ip + 24, 16);

    uint32_t off = l3_off + IPV6_HDR_LEN;
    for (unsigned n = 0;; n++) {
        uint32_t ext_len;
        if (next != IPPROTO_NUM_HOPOPTS && next != IPPROTO_NUM_ROUTING &&
            next != IPPROTO_NUM_FRAGMENT && next != IPPROTO_NUM_DSTOPTS && next != IPPROTO_NUM_AH)
            break; /* upper-layer, no-next-header (59) or unknown: the chain ends here */
        if (n == DECODE_MAX_IPV6_EXT)
            return DECODE_BAD_IPV6_EXT;
        if (!decode_fits(limit, off, IPV6_EXT_MIN_LEN))
            return DECODE_BAD_IPV6_EXT;
        const uint8_t *ext = px + off;
        if (next == IPPROTO_NUM_FRAGMENT) {
            uint16_t frag = decode_load_be16(ext + 2);
            out->flags |= PKT_F_FRAGMENT;
            if (frag & 0xfff8) /* 13-bit offset in the top bits, M flag in bit 0 */
                out->flags |= PKT_F_NONFIRST_FRAG;
            ext_len = IPV6_FRAG_HDR_LEN;
        } else if (next == IPPROTO_NUM_AH) {
            ext_len = ((uint32_t)ext[1] + 2) * 4; /* AH counts 32-bit words, minus 2 */
        } else {
            ext_len = ((uint32_t)ext[1] + 1) * 8; /* the rest count 8-octet units, minus 1 */
        }
        if (!decode_fits(limit, off, ext_len))
            return DECODE_BAD_IPV6_EXT;
        next = ext[0];
        off += ext_len;
        /* What follows a non-first fragment header is the middle of some other datagram's
         * payload, not another header. */
        if (out->flags & PKT_F_NONFIRST_FRAG)
            break;
    }

    out->proto = next;
    out->ip_header_len = (uint16_t)(off - l3_off); /* <= 40 + 8 * 2048: fits */
    return decode_l4(px, caplen, off, ip_end, out);
}

enum decode_status decode_packet(int linktype, const uint8_t *px, uint32_t caplen,
                                 uint32_t wire_len, struct pkt_info *out)
{
    memset(out, 0, sizeof(*out));
    /* A caller breaking wire_len >= caplen must not let us report lengths beyond the bytes we
     * were given; treat the capture as unsnapped instead. */
    if (wire_len < caplen)
        wire_len = caplen;
    out->caplen = caplen;
    out->wire_len = wire_len;
    if (caplen < wire_len)
        out->flags |= PKT_F_SNAPPED;

    uint32_t l3_off;
    unsigned ip_version = 0;
    enum decode_status st = decode_link(linktype, px, caplen, &l3_off, &ip_version, out);
    if (st != DECODE_OK)
        return st;
    if (ip_version == 4)
        return decode_ipv4(px, caplen, wire_len, l3_off, out);
    return decode_ipv6(px, caplen, wire_len, l3_off, out);
}

bool decode_linktype_supported(int linktype)
{
    switch (linktype) {
    case DECODE_LINK_NULL:
    case DECODE_LINK_ETHERNET:
    case DECODE_LINK_RAW:
    case DECODE_LINK_RAW_OPENBSD:
    case DECODE_LINK_LOOP:
    case DECODE_LINK_LINUX_SLL:
    case DECODE_LINK_IPV4:
    case DECODE_LINK_IPV6:
    case DECODE_LINK_LINUX_SLL2:
    case DECODE_LINK_PPP:
    case DECODE_LINK_PPP_SERIAL:
    case DECODE_LINK_PPP_ETHER:
    case DECODE_LINK_C_HDLC:
    case DECODE_LINK_PPI:
        return true;
    default:
        return false;
    }
}

static const char *const decode_status_names[] = {
    [DECODE_OK] = "ok",
    [DECODE_NOT_IP] = "not_ip",
    [DECODE_UNSUPPORTED_LINK] = "unsupported_link",
    [DECODE_TRUNC_LINK] = "trunc_link",
    [DECODE_VLAN_TOO_DEEP] = "vlan_too_deep",
    [DECODE_TRUNC_IPV4] = "trunc_ipv4",
    [DECODE_BAD_IPV4_HEADER] = "bad_ipv4_header",
    [DECODE_TRUNC_IPV6] = "trunc_ipv6",
    [DECODE_BAD_IPV6_HEADER] = "bad_ipv6_header",
    [DECODE_BAD_IPV6_EXT] = "bad_ipv6_ext",
    [DECODE_TRUNC_TCP] = "trunc_tcp",
    [DECODE_BAD_TCP_HEADER] = "bad_tcp_header",
    [DECODE_TRUNC_UDP] = "trunc_udp",
    [DECODE_TRUNC_ICMP] = "trunc_icmp",
    [DECODE_BAD_IP_LENGTH] = "bad_ip_length",
};

/* Adding a status without a name breaks the build here rather than printing NULL later. */
_Static_assert(DD_ARRAY_LEN(decode_status_names) == DECODE_STATUS_COUNT,
               "decode_status_names must name every enum decode_status value");

const char *decode_status_name(enum decode_status status)
{
    /* Unsigned compare: an out-of-range value, negative included, is one test. */
    if ((unsigned)status >= DD_ARRAY_LEN(decode_status_names) || !decode_status_names[status])
        return "unknown";
    return decode_status_names[status];
}
