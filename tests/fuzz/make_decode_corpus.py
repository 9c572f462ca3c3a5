#!/usr/bin/env python3
"""make_decode_corpus.py - writes the seed corpus for tests/fuzz/fuzz_decode.c.

Each seed is one byte naming the link type, as the harness reads it (an index into its
fuzz_decode_links[] list, taken modulo its length), followed by a realistic frame. Output is
deterministic: same script, same bytes, so the committed corpus only changes when this does.

Usage: python3 tests/fuzz/make_decode_corpus.py [out_dir]
       (default: tests/fuzz/corpus/decode next to this script)
"""
import os
import struct
import sys

# Index of each link type in fuzz_decode_links[] (fuzz_decode.c); keep the two in step.
LINK_INDEX = {
    "null": 0,
    "ethernet": 1,
    "raw": 2,
    "raw_openbsd": 3,
    "loop": 4,
    "sll": 5,
    "ipv4": 6,
    "ipv6": 7,
    "sll2": 8,
}

MAC_DST = bytes.fromhex("020000000001")
MAC_SRC = bytes.fromhex("020000000002")
IP4_SRC = bytes([192, 0, 2, 1])
IP4_DST = bytes([198, 51, 100, 7])
IP6_SRC = bytes.fromhex("20010db8000000000000000000000001")
IP6_DST = bytes.fromhex("20010db8000000000000000000000002")

TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(ethertype, vlans=()):
    """Ethernet header; vlans is a list of (tpid, vid), outermost first."""
    hdr = MAC_DST + MAC_SRC
    types = [tpid for tpid, _ in vlans] + [ethertype]
    hdr += struct.pack("!H", types[0])
    for i, (_, vid) in enumerate(vlans):
        hdr += struct.pack("!HH", vid & 0x0FFF, types[i + 1])
    return hdr


def pad60(frame):
    return frame + b"\0" * max(0, 60 - len(frame))


def ipv4(proto, payload, options=b"", frag=0, total=None, ident=0x1234):
    ihl = (20 + len(options)) // 4
    length = 20 + len(options) + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, length, ident, frag, 64, proto, 0,
                      IP4_SRC, IP4_DST) + options
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(next_header, payload, plen=None):
    length = len(payload) if plen is None else plen
    return struct.pack("!IHBB16s16s", 0x60000000, length, next_header, 64, IP6_SRC,
                       IP6_DST) + payload


def ext(next_header, body_len=6):
    """Hop-by-hop / routing / destination options header: 2 + body_len bytes (multiple of 8)."""
    return bytes([next_header, (2 + body_len) // 8 - 1]) + b"\x01\x04" + b"\0" * (body_len - 2)


def frag6(next_header, offset8, more, ident=0xCAFE):
    return struct.pack("!BBHI", next_header, 0, (offset8 << 3) | (1 if more else 0), ident)


def tcp(sport, dport, flags, payload=b"", options=b"", window=64240, seq=1000, ack=0):
    doff = (20 + len(options)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, window, 0,
                       0) + options + payload


def udp(sport, dport, payload=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(type_, code, ident=0, seq=1, payload=b""):
    return struct.pack("!BBHHH", type_, code, 0, ident, seq) + payload


def sll(protocol):
    return struct.pack("!HHH8sH", 0, 1, 6, MAC_SRC + b"\0\0", protocol)


def sll2(protocol):
    return struct.pack("!HHIHBB8s", protocol, 0, 2, 1, 0, 6, MAC_SRC + b"\0\0")


SYN, ACK, FIN, RST, PSH, ECE, CWR = 0x02, 0x10, 0x01, 0x04, 0x08, 0x40, 0x80
MSS_SACK_TS_WS = (bytes.fromhex("020405b4") + bytes.fromhex("0402") +
                  bytes.fromhex("080a0001e24000000000") + bytes.fromhex("01030307"))
HTTP_GET = b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"
DNS_QUERY = bytes.fromhex("abcd01000001000000000000076578616d706c6504746573740000010001")


def seeds():
    s = {}
    s["eth-ipv4-tcp-syn-options"] = ("ethernet", eth(0x0800) + ipv4(
        TCP, tcp(51000, 443, SYN | ECE | CWR, options=MSS_SACK_TS_WS)))
    s["eth-ipv4-tcp-ack-padded"] = ("ethernet", pad60(eth(0x0800) + ipv4(
        TCP, tcp(51000, 80, ACK, ack=1))))
    s["eth-ipv4-tcp-http-get"] = ("ethernet", eth(0x0800) + ipv4(
        TCP, tcp(51000, 80, PSH | ACK, HTTP_GET, ack=1)))
    s["eth-ipv4-tcp-rst"] = ("ethernet", pad60(eth(0x0800) + ipv4(TCP, tcp(80, 51000, RST))))
    s["eth-ipv4-udp-dns"] = ("ethernet", eth(0x0800) + ipv4(UDP, udp(40000, 53, DNS_QUERY)))
    s["eth-ipv4-icmp-echo"] = ("ethernet", eth(0x0800) + ipv4(
        ICMP, icmp(8, 0, 0x1d2f, 1, bytes(range(56)))))
    s["eth-ipv4-icmp-unreach"] = ("ethernet", eth(0x0800) + ipv4(
        ICMP, icmp(3, 3, 0, 0, ipv4(UDP, udp(40000, 9))[:28])))
    s["eth-ipv4-options-udp"] = ("ethernet", eth(0x0800) + ipv4(
        UDP, udp(1234, 5678, b"hello"), options=bytes.fromhex("94040000") + b"\x01" * 4))
    frag_payload = udp(4000, 4001, bytes(64))
    s["eth-ipv4-frag-first"] = ("ethernet", eth(0x0800) + ipv4(UDP, frag_payload[:40],
                                                              frag=0x2000, total=60))
    s["eth-ipv4-frag-nonfirst"] = ("ethernet", pad60(eth(0x0800) + ipv4(
        UDP, frag_payload[40:], frag=5)))
    s["eth-ipv4-tso-len0"] = ("ethernet", eth(0x0800) + ipv4(
        TCP, tcp(51000, 443, PSH | ACK, bytes(200), ack=1), total=0))
    s["eth-vlan-ipv4-udp"] = ("ethernet", eth(0x0800, [(0x8100, 100)]) + ipv4(
        UDP, udp(5060, 5060, b"OPTIONS sip:x SIP/2.0\r\n")))
    s["eth-qinq-ipv4-tcp"] = ("ethernet", eth(0x0800, [(0x88A8, 10), (0x8100, 20)]) + ipv4(
        TCP, tcp(22, 60000, ACK, b"ssh", ack=5)))
    s["eth-qinq9100-ipv6-udp"] = ("ethernet", eth(0x86DD, [(0x9100, 1), (0x8100, 2)]) + ipv6(
        UDP, udp(546, 547, b"\x01\x00\x00\x01")))
    s["eth-arp"] = ("ethernet", pad60(eth(0x0806) + bytes.fromhex(
        "0001080006040001") + MAC_SRC + IP4_SRC + b"\0" * 6 + IP4_DST))
    s["eth-ipv6-tcp-syn"] = ("ethernet", eth(0x86DD) + ipv6(
        TCP, tcp(51000, 443, SYN, options=MSS_SACK_TS_WS)))
    s["eth-ipv6-hbh-frag-dst-tcp"] = ("ethernet", eth(0x86DD) + ipv6(
        0, ext(44) + frag6(60, 0, True) + ext(TCP, 14) + tcp(179, 33000, PSH | ACK, b"bgp")))
    s["eth-ipv6-frag-nonfirst"] = ("ethernet", eth(0x86DD) + ipv6(
        44, frag6(UDP, 181, False) + bytes(range(32))))
    s["eth-ipv6-routing-ah-udp"] = ("ethernet", eth(0x86DD) + ipv6(
        43, ext(51, 22) + bytes([UDP, 4]) + bytes(22) + udp(500, 500, b"ike")))
    s["eth-ipv6-icmpv6-echo"] = ("ethernet", eth(0x86DD) + ipv6(
        ICMPV6, icmp(128, 0, 0x4242, 7, bytes(range(16)))))
    s["eth-ipv6-no-next"] = ("ethernet", pad60(eth(0x86DD) + ipv6(60, ext(59))))
    s["sll-ipv4-tcp"] = ("sll", sll(0x0800) + ipv4(TCP, tcp(8080, 40000, FIN | ACK, ack=9)))
    s["sll2-ipv6-udp"] = ("sll2", sll2(0x86DD) + ipv6(UDP, udp(443, 50000, bytes(100))))
    s["sll2-ipv4-icmp"] = ("sll2", sll2(0x0800) + ipv4(ICMP, icmp(0, 0, 77, 2, bytes(8))))
    s["raw-ipv4-udp"] = ("raw", ipv4(UDP, udp(123, 123, bytes(48))))
    s["raw-ipv6-tcp"] = ("raw", ipv6(TCP, tcp(1, 2, RST)))
    s["null-le-ipv4-tcp"] = ("null", struct.pack("<I", 2) + ipv4(TCP, tcp(5000, 6000, SYN)))
    s["null-be-ipv6-udp"] = ("null", struct.pack(">I", 30) + ipv6(UDP, udp(5000, 6000, b"x")))
    s["loop-ipv6-icmpv6"] = ("loop", struct.pack(">I", 24) + ipv6(ICMPV6, icmp(129, 0, 9)))
    s["linktype-ipv4-udp"] = ("ipv4", ipv4(UDP, udp(9, 9, b"discard")))
    return s


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "decode")
    os.makedirs(out, exist_ok=True)
    for name, (link, frame) in sorted(seeds().items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([LINK_INDEX[link]]) + frame)
    print("wrote %d seeds to %s" % (len(seeds()), out))


if __name__ == "__main__":
    main()
